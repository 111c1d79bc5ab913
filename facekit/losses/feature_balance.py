"""Feature losses balanced across layers, from *From an Eye to a Face* (Tse, Jok, Ng, Lee), section IV.

The eye-to-face paper compares its generator's output y_pred with the true face y through a loss network
(VGG19) and sums an L1 distance over the network's layers. Three versions, in the order the paper gives them:

* plain per-layer L1 (its scales differ ~1000x between layers, which the paper rejects; :func:`layer_l1`);
* the "normalised" feature loss: each layer's L1 divided by C_i H_i W_i   (:func:`normalized_feature_loss`);
* the paper's "balanced" feature loss: each layer's L1 divided by the L1 of a freshly initialised generator,
  weighted by the triangular weights lambda_i   (:func:`balanced_feature_loss`, :func:`triangular_layer_weights`,
  and :class:`BalancedFeatureLoss`, which holds the network, the layers, the weights and the initial losses).

The paper also names a "standard deviation loss" without a formula; :func:`std_loss` is its most faithful reading
(the spread of the generated face's pixels matched to the true face's, against blur; or across the batch, against
mode collapse).

The layers are those of Keras' ``VGG19(include_top=False).layers``, which is what the paper used: the input
layer, 16 convolutions (with their ReLU) and 5 poolings, n = 22 (:func:`feature_loss_layers`). The paper's WGAN-GP
baseline is in :mod:`facekit.losses.adversarial`.
"""

from __future__ import annotations

import math
import re
from typing import Dict, Mapping, Optional, Sequence, Union

import torch
from torch import Tensor, nn

from facekit.losses._common import Features, _check_feature_pair, _check_reduction, _reduce
from facekit.nn.features import FeatureNet, check_image, freeze


INPUT_LAYER = "input"
"""Name of the loss network's input layer (the preprocessed image), layer 0 of the eye-to-face feature loss."""


def feature_loss_layers(net: FeatureNet) -> list:
    """The layers of the eye-to-face feature loss: the input, then every ReLU and pooling output, in order.

    This is the list of Keras' ``VGG19(include_top=False).layers`` that the paper sums over: the input layer, the
    16 convolutions (a Keras convolution includes its ReLU, hence ``reluB_K`` here) and the 5 max-poolings, so
    :math:`n = 22` for VGG19; for :class:`~facekit.nn.SynthFaceNet` (a VGG-16 shape) it is 1 + 13 + 5 = 19.
    Layer 0 (:data:`~feature_balance.INPUT_LAYER`) is the network's preprocessed input.

    Args:
        net: the loss network.

    Returns:
        layer names, index ``i`` = the paper's layer ``i`` (0 = the first).

    Example:
        >>> from facekit.nn import VGG19
        >>> layers = feature_loss_layers(VGG19(include_top=False))
        >>> len(layers), layers[:4], layers[10]
        (22, ['input', 'relu1_1', 'relu1_2', 'pool1'], 'relu3_4')
    """
    if not isinstance(net, FeatureNet):
        raise TypeError(f"net must be a facekit.nn.FeatureNet; got {type(net).__name__}")
    return [INPUT_LAYER] + [n for n in net.layer_names if re.fullmatch(r"relu\d+_\d+|pool\d+", n)]


def extract_feature_loss_layers(net: FeatureNet, x: Tensor, layers: Sequence[str]) -> Dict[str, Tensor]:
    """Activations of ``layers`` (see :func:`feature_loss_layers`); ``"input"`` is ``net.preprocess(x)``.

    Shape:
        - x: :math:`(B, 3, H, W)`, RGB in [0, 1].
        - output: ``{layer: (B, C_i, H_i, W_i)}`` in the order of ``layers``.
    """
    inner = [n for n in layers if n != INPUT_LAYER]
    feats = net.extract(x, inner) if inner else {}
    if INPUT_LAYER in layers:
        if not inner and net.check_input:
            check_image(x)
        feats[INPUT_LAYER] = net.preprocess(x)  # (B, 3, H, W): what Keras' input layer holds
    return {n: feats[n] for n in layers}


def triangular_layer_weights(n: int = 22, focus: int = 10, *, as_printed: bool = False) -> Tensor:
    r"""The loss weights :math:`\lambda_i` of the balanced feature loss (eye-to-face section IV, chart 5).

    With :math:`x = 2/n` and layers numbered :math:`i = 0 .. n-1`, the text asks for weights that rise linearly
    to the focus layer :math:`f`, fall linearly after it, and sum to 1 (chart 5 draws exactly that):

    .. math::

        \lambda_i = \frac{x\, i}{f} \quad (i \le f), \qquad
        \lambda_i = \frac{x\,(n - i)}{n - f} \quad (i > f)

    The rising half is the paper's formula. The paper prints :math:`\lambda_i = x (n - f - 1) / (n - 2)` for
    :math:`i > f`, which does not depend on :math:`i` (no fall) and does not make the weights sum to 1 (1.05
    for :math:`n = 22, f = 10`). The falling line above is the only straight line through the peak
    :math:`(f, x)` that makes the sum exactly 1: :math:`\sum_{i \le f} x i / f = x (f + 1) / 2` and
    :math:`\sum_{i > f} x (n - i) / (n - f) = x (n - f - 1) / 2`, total :math:`x n / 2 = 1`. At the edges:
    :math:`f = 0` gives :math:`\lambda_i = x (n - 1 - i) / (n - 1)` (the mirror image of :math:`f = n - 1`,
    :math:`\lambda_i = x i / (n - 1)`, which is the rising formula alone), and :math:`n = 1` gives ``[1.0]``.

    Args:
        n: number of layers (the paper: 22, see :func:`feature_loss_layers`).
        focus: :math:`f`, the 0-based focus layer (the paper: 10, VGG19's ``block3_conv4`` = ``relu3_4``).
        as_printed: return the formula as printed instead (for comparison; it does not sum to 1).

    Returns:
        ``(n,)`` float64 weights; they sum to 1 and peak at ``focus`` (unless ``as_printed``).

    Raises:
        ValueError: ``n < 1`` or ``focus`` outside ``0 .. n-1``.

    Example:
        >>> w = triangular_layer_weights(22, 10)
        >>> round(float(w.sum()), 6), int(w.argmax()), round(float(w[10]), 4)   # peak x = 2 / 22
        (1.0, 10, 0.0909)
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n (the number of layers) must be a positive int; got {n!r}")
    if isinstance(focus, bool) or not isinstance(focus, int) or not 0 <= focus < n:
        raise ValueError(f"focus must be a layer index in 0..{n - 1} (0 = the first layer); got {focus!r}")
    if n == 1:
        return torch.ones(1, dtype=torch.float64)
    i = torch.arange(n, dtype=torch.float64)
    x = 2.0 / n  # eye-to-face section IV: x = 2 / n, the peak weight
    if as_printed:  # the formula as printed: x i / f, then the constant x (n - f - 1) / (n - 2)
        rise = x * i / focus if focus > 0 else torch.full_like(i, x)
        return torch.where(i <= focus, rise, torch.full_like(i, x * (n - focus - 1) / (n - 2) if n > 2 else 0.0))
    if focus == 0:
        return x * (n - 1 - i) / (n - 1)  # mirror image of focus = n - 1
    rise = x * i / focus  # i <= f: the paper's formula
    fall = x * (n - i) / (n - focus)  # i > f: linear fall that keeps the sum at 1 (see above)
    return torch.where(i <= focus, rise, fall)


def layer_l1(input: Features, target: Features, layers: Optional[Sequence[str]] = None,
             reduction: str = "mean") -> Dict[str, Tensor]:
    r"""The L1 distance of each layer, per element: :math:`\|\phi_i(y) - \phi_i(y_{pred})\|_1 / (C_i H_i W_i)`.

    This is the term of the paper's normalised feature loss (section IV), and the per-layer "L1 loss" (Keras'
    mean absolute error) that the balanced feature loss divides by its initial value.

    Args:
        input: ``{layer: features}`` of the generated faces :math:`y_{pred}`.
        target: ``{layer: features}`` of the true faces :math:`y`.
        layers: which layers (default: all of ``input``).
        reduction: ``"mean"`` over the batch, ``"sum"``, or ``"none"`` (one value per image).

    Returns:
        ``{layer: value}`` (scalars, or ``(B,)`` with ``reduction="none"``).

    Example:
        >>> layer_l1({"a": torch.ones(1, 2, 2, 2)}, {"a": torch.zeros(1, 2, 2, 2)})
        {'a': tensor(1.)}
    """
    _check_reduction(reduction)
    out: Dict[str, Tensor] = {}
    for name in (list(input) if layers is None else list(layers)):
        for which, feats in (("input", input), ("target", target)):
            if name not in feats:
                raise KeyError(f"layer {name!r} is not in {which} (it has {', '.join(feats) or 'nothing'})")
        a, b = input[name], target[name]
        _check_feature_pair(a, b)
        per_image = (a - b).abs().flatten(1).sum(1) / a[0].numel()  # ||phi_i(y) - phi_i(y_pred)||_1 / (C H W)
        out[name] = _reduce(per_image, reduction)
    return out


def normalized_feature_loss(input: Features, target: Features, layers: Optional[Sequence[str]] = None,
                            reduction: str = "mean") -> Tensor:
    r"""The feature loss normalised by each layer's size, eye-to-face section IV:

    .. math::

        \text{Feature loss} = \sum_i \frac{\|\phi_i(y) - \phi_i(y_{pred})\|_1}{C_i H_i W_i}

    Args:
        input, target, layers, reduction: as in :func:`layer_l1`.

    Returns:
        a scalar (or ``(B,)`` with ``reduction="none"``).

    Example:
        >>> a = {"x": torch.ones(1, 1, 2, 2), "y": torch.zeros(1, 4, 1, 1)}
        >>> b = {"x": torch.zeros(1, 1, 2, 2), "y": torch.full((1, 4, 1, 1), 0.5)}
        >>> normalized_feature_loss(a, b)       # 4 / 4 + 2 / 4
        tensor(1.5000)
    """
    terms = layer_l1(input, target, layers, reduction)
    if not terms:
        raise ValueError("no layers: input is empty and no layers were given")
    return torch.stack(list(terms.values())).sum(0)


def balanced_feature_loss(input: Features, target: Features, initial: Mapping[str, float],
                          weights: Optional[Mapping[str, float]] = None, reduction: str = "mean") -> Tensor:
    r"""The paper's balanced feature loss, eye-to-face section IV:

    .. math::

        \text{Feature loss} = \sum_i \frac{\lambda_i\, \|\phi_i(y) - \phi_i(y_{pred})\|_1}{l^{initial}_i}

    where :math:`l^{initial}_i` is layer :math:`i`'s L1 loss for a freshly initialised generator, so every layer
    starts at 1 and the weighted sum starts at :math:`\sum_i \lambda_i = 1`. The L1 of a layer is taken per
    element (:func:`layer_l1`); the normalisation cancels in the ratio, so this is also the paper's un-normalised
    L1 over its initial value.

    Args:
        input, target: ``{layer: features}`` of the generated and the true faces.
        initial: ``{layer: l_initial}`` (from :func:`layer_l1` on an untrained generator's output; positive).
        weights: ``{layer: lambda_i}`` (default :func:`triangular_layer_weights` over the layers of ``initial``
            in order, with the paper's focus 10 clipped to the last layer).
        reduction: ``"mean"`` over the batch, ``"sum"`` or ``"none"``.

    Returns:
        a scalar (or ``(B,)``).

    Raises:
        ValueError: an initial loss that is not positive and finite.

    Example:
        >>> a, b = {"x": torch.ones(1, 2, 2, 2)}, {"x": torch.zeros(1, 2, 2, 2)}
        >>> balanced_feature_loss(a, b, initial={"x": 2.0}, weights={"x": 1.0})
        tensor(0.5000)
    """
    names = list(initial)
    if not names:
        raise ValueError("initial is empty: calibrate it on a freshly initialised generator first")
    for name in names:
        v = float(initial[name])
        if not (v > 0 and math.isfinite(v)):
            raise ValueError(f"initial loss of layer {name!r} must be positive and finite; got {v}")
    if weights is None:
        w = triangular_layer_weights(len(names), min(10, len(names) - 1))
        weights = {name: float(w[i]) for i, name in enumerate(names)}
    terms = layer_l1(input, target, names, reduction)
    total: Optional[Tensor] = None
    for name in names:
        term = float(weights.get(name, 0.0)) * terms[name] / float(initial[name])  # lambda_i l_i / l_initial_i
        total = term if total is None else total + term
    assert total is not None
    return total


class BalancedFeatureLoss(nn.Module):
    """The eye-to-face feature losses on a frozen loss network: ``"balanced"`` (the paper's) or ``"normalized"``.

    Holds the loss network, the layers (:func:`feature_loss_layers`), the triangular weights and the initial
    per-layer losses; call :meth:`calibrate` once with a freshly initialised generator's output before training
    with ``kind="balanced"``.

    Args:
        net: the loss network: VGG19 with ``preprocess="caffe"`` (the paper) or the offline
            :class:`~facekit.nn.SynthFaceNet`. It is frozen and kept in eval mode.
        kind: ``"balanced"`` (section IV, the paper's proposal) or ``"normalized"`` (divided by :math:`C H W`).
        focus: the focus layer :math:`f` (0-based; the paper: 10 of :math:`n = 22`). ``None`` scales the paper's
            10/21 of the depth to this network's layers.
        layers: override the layer list (default :func:`feature_loss_layers`).

    Shape:
        - input, target: :math:`(B, 3, H, W)`, RGB in [0, 1].

    Example:
        >>> from facekit.nn import SynthFaceNet
        >>> loss_fn = BalancedFeatureLoss(SynthFaceNet(num_classes=0))
        >>> y, y_pred = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64)
        >>> _ = loss_fn.calibrate(y_pred, y)
        >>> round(float(loss_fn(y_pred, y)), 4)          # = sum of the weights at calibration
        1.0
    """

    def __init__(self, net: FeatureNet, kind: str = "balanced", focus: Optional[int] = None,
                 layers: Optional[Sequence[str]] = None) -> None:
        super().__init__()
        if kind not in ("balanced", "normalized"):
            raise ValueError(f"kind must be 'balanced' or 'normalized'; got {kind!r}")
        self.net = freeze(net)
        self.kind = kind
        self.layers: list = list(layers) if layers is not None else feature_loss_layers(net)
        for name in self.layers:
            if name != INPUT_LAYER:
                net.resolve_layer(name)
        n = len(self.layers)
        self.focus = int(round(10 / 21 * (n - 1))) if focus is None else int(focus)  # paper: f = 10 of n = 22
        w = triangular_layer_weights(n, self.focus)
        self.weights: Dict[str, float] = {name: float(w[i]) for i, name in enumerate(self.layers)}
        self.register_buffer("initial", torch.zeros(n, dtype=torch.float64))

    def train(self, mode: bool = True) -> "BalancedFeatureLoss":
        super().train(mode)
        self.net.eval()  # the loss network never leaves eval mode
        return self

    @property
    def calibrated(self) -> bool:
        """Whether :meth:`calibrate` has set the initial losses."""
        return bool((self.initial > 0).all())

    def features(self, images: Tensor) -> Dict[str, Tensor]:
        """``{layer: activations}`` of the loss layers (with gradient)."""
        return extract_feature_loss_layers(self.net, images, self.layers)

    @torch.no_grad()
    def target_features(self, target: Tensor) -> Dict[str, Tensor]:
        """Features of the true faces, without gradient."""
        return {k: v.detach() for k, v in self.features(target).items()}

    @torch.no_grad()
    def per_layer(self, input: Tensor, target: Union[Tensor, Features]) -> Dict[str, float]:
        """Each layer's L1 (:func:`layer_l1`, batch mean) as floats: the curve the paper describes (1e-5 .. 1e-2)."""
        tgt = self.target_features(target) if isinstance(target, Tensor) else target
        return {k: float(v) for k, v in layer_l1(self.features(input), tgt, self.layers).items()}

    @torch.no_grad()
    def calibrate(self, input: Tensor, target: Union[Tensor, Features]) -> Dict[str, float]:
        """Record :math:`l^{initial}_i`: each layer's L1 between a fresh generator's output and the true faces.

        Returns:
            ``{layer: l_initial}``.

        Raises:
            ValueError: a layer whose initial loss is 0 (the output equals the target there).
        """
        values = self.per_layer(input, target)
        bad = [k for k, v in values.items() if not (v > 0 and math.isfinite(v))]
        if bad:
            raise ValueError(f"initial losses must be positive and finite; got {[(k, values[k]) for k in bad]}")
        self.initial.copy_(torch.tensor([values[k] for k in self.layers], dtype=torch.float64))
        return values

    def forward(self, input: Tensor, target: Union[Tensor, Features]) -> Tensor:
        tgt = self.target_features(target) if isinstance(target, Tensor) else target
        feats = self.features(input)
        if self.kind == "normalized":
            return normalized_feature_loss(feats, tgt, self.layers)
        if not self.calibrated:
            raise RuntimeError("the balanced feature loss needs the initial losses: call calibrate(G(eyes), faces) "
                               "with a freshly initialised generator first (eye-to-face section IV)")
        initial = {k: float(v) for k, v in zip(self.layers, self.initial.tolist())}
        return balanced_feature_loss(feats, tgt, initial, self.weights)

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, n={len(self.layers)}, focus={self.focus} ({self.layers[self.focus]!r})"


STD_OVER = ("image", "batch")
"""Readings of the eye-to-face "standard deviation loss" that :func:`std_loss` offers (see its docstring)."""


def std_loss(input: Tensor, target: Tensor, over: str = "image", reduction: str = "mean") -> Tensor:
    r"""The "standard deviation loss" of eye-to-face section IV, in its most faithful reading.

    The paper names it once ("an autoencoder network ... combined with feature loss and standard deviation loss
    during training") and gives no formula. Its stated aims fix what it must do: the generated faces must not be
    blurry and must not collapse to one face for every eye. Both show in standard deviations: a blurred face has
    less contrast (a smaller spread of its pixel values) than the true face, and a collapsed generator gives a
    batch whose faces barely differ. So the loss matches the generated spread to the true one:

    .. math::

        L_{std} = \frac{1}{3}\sum_{c} \bigl|\, \sigma_c(y_{pred}) - \sigma_c(y) \,\bigr|

    With ``over="image"`` (the default, against blur) :math:`\sigma_c` is the standard deviation of channel
    :math:`c` over an image's pixels, one value per image. With ``over="batch"`` (against mode collapse)
    :math:`\sigma` is taken across the batch at each pixel and channel, and the loss is the mean absolute
    difference over pixels: one value for the whole batch (so ``reduction="none"`` is not available).

    Args:
        input: ``(B, C, H, W)`` generated faces :math:`y_{pred}`.
        target: the true faces :math:`y`, same shape.
        over: ``"image"`` or ``"batch"``.
        reduction: ``"mean"`` over the batch, ``"sum"`` or ``"none"`` (``over="image"`` only).

    Returns:
        a scalar (or ``(B,)``).

    Example:
        >>> y = torch.tensor([[[[0.0, 1.0], [0.0, 1.0]]]])     # std 0.5 (population)
        >>> std_loss(torch.full_like(y, 0.5), y)                # a flat grey face: no spread at all
        tensor(0.5000)
    """
    _check_reduction(reduction)
    if over not in STD_OVER:
        raise ValueError(f"over must be one of {STD_OVER}; got {over!r}")
    for name, t in (("input", input), ("target", target)):
        if not isinstance(t, Tensor) or t.ndim != 4 or not t.is_floating_point():
            raise ValueError(f"{name} must be a float (B, C, H, W) tensor; got "
                             f"{tuple(t.shape) if isinstance(t, Tensor) else type(t).__name__}")
    if input.shape != target.shape:
        raise ValueError(f"input and target must have the same shape; got {tuple(input.shape)} and {tuple(target.shape)}")
    if over == "image":
        # eye-to-face sec. IV, "standard deviation loss": per image and channel, over the pixels
        per_image = (input.flatten(2).std(2, unbiased=False) - target.flatten(2).std(2, unbiased=False)).abs().mean(1)
        return _reduce(per_image, reduction)
    if reduction == "none":
        raise ValueError("over='batch' gives one value for the whole batch; use reduction='mean'")
    if input.shape[0] < 2:
        raise ValueError("over='batch' needs at least 2 images in the batch")
    return (input.std(0, unbiased=False) - target.std(0, unbiased=False)).abs().mean()  # across the batch


class StdLoss(nn.Module):
    """Module form of :func:`std_loss`. Args: ``over``, ``reduction`` as there."""

    def __init__(self, over: str = "image", reduction: str = "mean") -> None:
        super().__init__()
        if over not in STD_OVER:
            raise ValueError(f"over must be one of {STD_OVER}; got {over!r}")
        _check_reduction(reduction)
        self.over, self.reduction = over, reduction

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return std_loss(input, target, self.over, self.reduction)

    def extra_repr(self) -> str:
        return f"over={self.over!r}, reduction={self.reduction!r}"
