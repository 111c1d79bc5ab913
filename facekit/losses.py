"""Losses of facekit: the content (perceptual) loss, total variation and the masked perceptual loss.

From *Convolutional Network for Attribute-driven and Identity-preserving Human Face Generation* (CNIA; Li, Zuo,
Zhang, arXiv 1608.06434), section 3:

* :func:`content_loss`: CNIA eq. (1), the squared error between two feature maps of one layer, divided by
  :math:`2 C_l H_l W_l`; DIAT (arXiv 1610.05586) uses the same definition (its eq. (1));
* :func:`content_loss_grad`: CNIA eq. (2), its gradient with respect to the feature map, written by hand for
  teaching (autograd computes the same, see ``tests/test_losses.py``);
* :func:`perceptual_loss`: a weighted sum of eq. (1) over layers (CNIA eq. (5)-(6) use one layer, DIAT eq. (2)
  the 4th and 5th);
* :func:`total_variation`: the TV regulariser :math:`\\ell_{TV}` of CNIA eq. (7), in the form of Mahendran and
  Vedaldi (CVPR 2015, CNIA's reference [24]);
* :func:`masked_perceptual_loss`: CNIA eq. (8)-(9), the attribute loss restricted to a mask.

Each loss is a function plus an ``nn.Module`` (kornia's style). Feature maps are ``(B, C, H, W)``;
``reduction`` is ``"mean"`` (over the batch; the default), ``"sum"`` or ``"none"`` (one value per image).
The per-image value is always the paper's.
"""

from __future__ import annotations

from typing import Dict, Mapping, Optional, Sequence, Union

import torch
from torch import Tensor, nn

from facekit.nn.features import FeatureExtractor, FeatureNet, LayerSpec, check_image

__all__ = [
    "content_loss",
    "content_loss_grad",
    "ContentLoss",
    "perceptual_loss",
    "PerceptualLoss",
    "total_variation",
    "TotalVariation",
    "apply_mask",
    "mask_gradient",
    "masked_perceptual_loss",
    "MaskedPerceptualLoss",
]

Features = Mapping[str, Tensor]
LayerWeights = Union[Sequence[LayerSpec], Mapping[LayerSpec, float]]

_REDUCTIONS = ("mean", "sum", "none")


# -- helpers ------------------------------------------------------------------------------------------------
def _reduce(per_image: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return per_image.mean()
    if reduction == "sum":
        return per_image.sum()
    return per_image  # "none": (B,)


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {', '.join(map(repr, _REDUCTIONS))}; got {reduction!r}")


def _check_feature_pair(input: Tensor, target: Tensor, *, broadcast: bool = True) -> None:
    for name, t in (("input", input), ("target", target)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor (a feature map); got {type(t).__name__}")
        if t.ndim < 2:
            raise ValueError(
                f"{name} must be a batch of feature maps (B, C, H, W) (or (B, D)); got shape {tuple(t.shape)}"
            )
    if input.shape[1:] != target.shape[1:]:
        raise ValueError(
            f"input and target must be feature maps of the same layer: (B, C, H, W) with equal C, H, W; got "
            f"{tuple(input.shape)} and {tuple(target.shape)} (same layer, same image size?)"
        )
    b_in, b_tg = input.shape[0], target.shape[0]
    if b_in != b_tg and not (broadcast and 1 in (b_in, b_tg)):
        raise ValueError(
            f"input and target must have the same batch size, or one of them 1 (broadcast); got {b_in} and {b_tg}"
        )


# -- CNIA eq. (1) and (2) -----------------------------------------------------------------------------------
def content_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    r"""The content (perceptual) loss of one layer, CNIA eq. (1).

    .. math::

        \ell_{content}^{\phi,l}(\hat I, I) = \frac{1}{2 C_l H_l W_l} \| \phi_l(\hat I) - \phi_l(I) \|_F^2

    The :math:`\frac12` makes the gradient exactly eq. (2): :math:`(F - F')/(C_l H_l W_l)`.

    Args:
        input: :math:`\phi_l(\hat I)`, the features of the image being generated.
        target: :math:`\phi_l(I)`, the features of the reference (usually computed once, without gradient).
        reduction: ``"mean"`` over the batch, ``"sum"``, or ``"none"`` for one loss per image.

    Returns:
        a scalar, or ``(B,)`` with ``reduction="none"``.

    Shape:
        - input: :math:`(B, C, H, W)`; ``(B, D)`` also works (an fc layer: divided by :math:`2D`).
        - target: the same, or with batch 1 (one reference for all; CNIA: several guides for one image also
          works the other way round, input batch 1).

    Example:
        >>> content_loss(torch.ones(1, 2, 2, 2), torch.zeros(1, 2, 2, 2))   # 8 / (2 * 8)
        tensor(0.5000)
    """
    _check_reduction(reduction)
    _check_feature_pair(input, target)
    n = input[0].numel()  # C_l * H_l * W_l
    diff = input - target  # (B, C, H, W), batch-broadcast
    per_image = diff.pow(2).flatten(1).sum(1) / (2 * n)  # CNIA eq. (1), (B,)
    return _reduce(per_image, reduction)


def content_loss_grad(input: Tensor, target: Tensor) -> Tensor:
    r"""CNIA eq. (2): the gradient of eq. (1) with respect to the feature map, written out by hand.

    .. math::

        \frac{\partial \ell_{content}^{\phi,l}}{\partial F^l_{i,j,k}(\hat I)} =
        \begin{cases} \frac{1}{C_l H_l W_l}\,(F^l_{i,j,k}(\hat I) - F^l_{i,j,k}(I)) & F^l_{i,j,k}(\hat I) \ge 0 \\
        0 & F^l_{i,j,k}(\hat I) < 0 \end{cases}

    The case :math:`F < 0` is the ReLU: read :math:`F(\hat I)` as the convolution's output before its ReLU
    (``convB_K``) and :math:`F(I)` as the ReLU output of the reference (``reluB_K``); then this is the gradient
    of eq. (1) on the ReLU outputs with respect to the pre-activation. For post-ReLU features (all
    :math:`\ge 0`) the gate is always open and this is the plain gradient of eq. (1).

    It is the gradient of **one image's** loss, i.e. of ``content_loss(..., reduction="sum")``; with
    ``reduction="mean"`` autograd gives this divided by ``B``.

    Shape:
        - input, target: :math:`(B, C, H, W)` (equal shapes).
        - output: :math:`(B, C, H, W)`.

    Example:
        >>> f_hat = torch.tensor([[[[2.0, -1.0]]]])          # (1, 1, 1, 2): one positive, one negative
        >>> content_loss_grad(f_hat, torch.zeros(1, 1, 1, 2))  # (2 - 0) / 2 and gated 0
        tensor([[[[1., 0.]]]])
    """
    _check_feature_pair(input, target, broadcast=False)
    n = input[0].numel()  # C_l * H_l * W_l
    grad = (input - target) / n  # first case of eq. (2)
    return torch.where(input >= 0, grad, torch.zeros_like(grad))  # second case: zero where F < 0 (the ReLU)


class ContentLoss(nn.Module):
    """CNIA eq. (1) as a module; see :func:`content_loss`.

    Example:
        >>> ContentLoss()(torch.ones(2, 3, 4, 4), torch.ones(1, 3, 4, 4))
        tensor(0.)
    """

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        _check_reduction(reduction)
        self.reduction = reduction

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return content_loss(input, target, self.reduction)


# -- several layers -----------------------------------------------------------------------------------------
def _resolve_layer_weights(net: FeatureNet, layers: LayerWeights) -> Dict[str, float]:
    """``"relu3_1"``, ``5``, ``["relu2_2", 5]`` or ``{4: 0.5, 5: 0.5}`` -> ``{stage name: weight}``."""
    if isinstance(layers, (str, int)):
        layers = [layers]
    pairs = list(layers.items()) if isinstance(layers, Mapping) else [(k, 1.0) for k in layers]
    if not pairs:
        raise ValueError("layers is empty: give at least one layer, e.g. ('relu3_1',)")
    return {net.resolve_layer(k): float(w) for k, w in pairs}


def perceptual_loss(
    input: Features,
    target: Features,
    weights: Optional[Mapping[str, float]] = None,
    reduction: str = "mean",
) -> Tensor:
    r"""A weighted sum of CNIA eq. (1) over layers: :math:`\sum_l w_l\, \ell_{content}^{\phi,l}` (DIAT eq. (2)).

    Args:
        input: ``{layer: features}`` of the generated image (from :meth:`FeatureNet.extract` or a
            :class:`~facekit.nn.FeatureExtractor`).
        target: ``{layer: features}`` of the reference; must hold every layer that is used.
        weights: ``{layer: w_l}``; default 1 for every layer of ``input``. Only these layers are used.
        reduction: ``"mean"`` over the batch, ``"sum"`` or ``"none"``.

    Shape:
        - input[l], target[l]: :math:`(B, C_l, H_l, W_l)`; either batch may be 1 (broadcast).

    Example:
        >>> a = {"relu2_2": torch.ones(1, 4, 8, 8), "relu3_1": torch.ones(1, 8, 4, 4)}
        >>> b = {"relu2_2": torch.zeros(1, 4, 8, 8), "relu3_1": torch.ones(1, 8, 4, 4)}
        >>> perceptual_loss(a, b, weights={"relu2_2": 0.5, "relu3_1": 0.5})   # 0.5 * 0.5 + 0.5 * 0
        tensor(0.2500)
    """
    _check_reduction(reduction)
    if isinstance(input, Tensor) or isinstance(target, Tensor):
        raise TypeError(
            "perceptual_loss takes dicts {layer: features}; for a single feature map use content_loss(input, target)"
        )
    layer_w = dict(weights) if weights is not None else {k: 1.0 for k in input}
    if not layer_w:
        raise ValueError("no layers: input is empty and no weights were given")
    total: Optional[Tensor] = None
    for name, w in layer_w.items():
        for which, feats in (("input", input), ("target", target)):
            if name not in feats:
                raise KeyError(f"layer {name!r} is not in {which} (it has {', '.join(feats) or 'nothing'})")
        term = w * content_loss(input[name], target[name], reduction)  # w_l * CNIA eq. (1)
        total = term if total is None else total + term
    assert total is not None
    return total


class PerceptualLoss(nn.Module):
    """The perceptual loss on a frozen feature network: features of both images, then :func:`perceptual_loss`.

    Args:
        net: the feature network (:func:`facekit.nn.face_network`, :class:`~facekit.nn.VGGFace`, ...); it is
            frozen and kept in eval mode.
        layers: layer names or 1-based conv indices, or ``{layer: weight}``. The default ``("relu3_1",)`` is
            CNIA's choice ("conv3_1", the 5th convolutional layer, section 4.3.1); DIAT uses ``{4: w, 5: w}``.
        reduction: ``"mean"`` over the batch, ``"sum"`` or ``"none"``.

    Shape:
        - input: :math:`(B, 3, H, W)`, RGB in [0, 1].
        - target: :math:`(B, 3, H, W)` or :math:`(1, 3, H, W)` images, or their features from
          :meth:`target_features` (compute them once when the target does not change, as in CNIA).

    Example:
        >>> from facekit.nn import SynthFaceNet
        >>> loss_fn = PerceptualLoss(SynthFaceNet(num_classes=10), layers={4: 0.5, 5: 0.5})
        >>> ref = loss_fn.target_features(torch.rand(1, 3, 64, 64))
        >>> x = torch.rand(1, 3, 64, 64, requires_grad=True)
        >>> loss = loss_fn(x, ref)
        >>> loss.backward(); x.grad.shape
        torch.Size([1, 3, 64, 64])
    """

    def __init__(self, net: FeatureNet, layers: LayerWeights = ("relu3_1",), reduction: str = "mean") -> None:
        super().__init__()
        _check_reduction(reduction)
        self.weights: Dict[str, float] = _resolve_layer_weights(net, layers)
        self.extractor = FeatureExtractor(net, list(self.weights))
        self.reduction = reduction

    @torch.no_grad()
    def target_features(self, target: Tensor) -> Dict[str, Tensor]:
        """Features of the target images, computed without gradient (reuse them across steps)."""
        return {k: v.detach() for k, v in self.extractor(target).items()}

    def forward(self, input: Tensor, target: Union[Tensor, Features]) -> Tensor:
        tgt = self.target_features(target) if isinstance(target, Tensor) else target
        return perceptual_loss(self.extractor(input), tgt, self.weights, self.reduction)

    def extra_repr(self) -> str:
        return f"weights={self.weights}, reduction={self.reduction!r}"


# -- total variation ----------------------------------------------------------------------------------------
def total_variation(
    image: Tensor,
    beta: float = 2.0,
    normalized: bool = False,
    reduction: str = "mean",
    eps: float = 1e-8,
) -> Tensor:
    r"""The total-variation regulariser :math:`\ell_{TV}` of CNIA eq. (7), in Mahendran and Vedaldi's form.

    CNIA does not write :math:`\ell_{TV}` out; it cites Mahendran and Vedaldi (*Understanding deep image
    representations by inverting them*, CVPR 2015), whose regulariser is

    .. math::

        \ell_{TV}(x) = \sum_{c,i,j} \left( (x_{c,i,j+1} - x_{c,i,j})^2 + (x_{c,i+1,j} - x_{c,i,j})^2 \right)^{\beta/2}

    over the pixels that have both a right and a lower neighbour. ``beta=2`` (the default, the value they use
    for CNN inversion) is smooth and penalises large jumps strongly; ``beta=1`` is the classic isotropic TV,
    which keeps edges sharper. The weight :math:`\gamma` of eq. (7) is applied by the caller.

    Args:
        image: the images (any number of channels).
        beta: the exponent :math:`\beta > 0`.
        normalized: divide each image's sum by the number of terms :math:`C (H-1) (W-1)`, so the value does
            not grow with the image size (handy when one :math:`\gamma` must work at 64 and 224 pixels).
        reduction: ``"mean"`` over the batch, ``"sum"`` or ``"none"``.
        eps: added under the power when ``beta != 2``, so the gradient stays finite where the image is flat.

    Shape:
        - image: :math:`(B, C, H, W)` with :math:`H, W \ge 2`.

    Example:
        >>> x = torch.zeros(1, 1, 3, 3); x[..., 1, 1] = 1.0
        >>> total_variation(x)      # 4 pairs touch the bright pixel: 1 + 1 + 2 (the centre has both) = 4
        tensor(4.)
    """
    _check_reduction(reduction)
    if not isinstance(image, Tensor) or image.ndim != 4:
        shape = tuple(image.shape) if isinstance(image, Tensor) else type(image).__name__
        raise ValueError(f"image must be a batch of images (B, C, H, W); got {shape}")
    if image.shape[-2] < 2 or image.shape[-1] < 2:
        raise ValueError(f"image must be at least 2x2 pixels for total variation; got {tuple(image.shape[-2:])}")
    if beta <= 0:
        raise ValueError(f"beta must be > 0; got {beta}")
    dx = image[..., :-1, 1:] - image[..., :-1, :-1]  # (B, C, H-1, W-1) horizontal differences
    dy = image[..., 1:, :-1] - image[..., :-1, :-1]  # (B, C, H-1, W-1) vertical differences
    sq = dx.pow(2) + dy.pow(2)
    terms = sq if beta == 2 else (sq + eps).pow(beta / 2)  # Mahendran & Vedaldi's V^beta
    per_image = terms.flatten(1).sum(1)  # (B,)
    if normalized:
        per_image = per_image / terms[0].numel()
    return _reduce(per_image, reduction)


class TotalVariation(nn.Module):
    """The TV regulariser of CNIA eq. (7) as a module; see :func:`total_variation`.

    Example:
        >>> TotalVariation(normalized=True)(torch.ones(2, 3, 8, 8))
        tensor(0.)
    """

    def __init__(self, beta: float = 2.0, normalized: bool = False, reduction: str = "mean", eps: float = 1e-8) -> None:
        super().__init__()
        _check_reduction(reduction)
        if beta <= 0:
            raise ValueError(f"beta must be > 0; got {beta}")
        self.beta, self.normalized, self.reduction, self.eps = beta, normalized, reduction, eps

    def forward(self, image: Tensor) -> Tensor:
        return total_variation(image, self.beta, self.normalized, self.reduction, self.eps)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, normalized={self.normalized}, reduction={self.reduction!r}"


# -- CNIA eq. (8)-(9): the masked attribute loss -------------------------------------------------------------
def _expand_mask(mask: Tensor, image: Tensor) -> Tensor:
    if not isinstance(mask, Tensor):
        raise TypeError(f"mask must be a torch.Tensor; got {type(mask).__name__}")
    if mask.ndim == 2:
        mask = mask[None, None]  # (H, W) -> (1, 1, H, W)
    if mask.ndim != 4 or mask.shape[0] not in (1, image.shape[0]) or mask.shape[1] not in (1, image.shape[1]):
        raise ValueError(
            f"mask must be (H, W) or (1 or B, 1 or C, H, W) for images {tuple(image.shape)}; got {tuple(mask.shape)}"
        )
    if mask.shape[-2:] != image.shape[-2:]:
        raise ValueError(
            f"mask and image must have the same height and width; got mask {tuple(mask.shape[-2:])}, "
            f"image {tuple(image.shape[-2:])} (resize the mask with nearest-neighbour interpolation)"
        )
    return mask.to(device=image.device, dtype=image.dtype)


def apply_mask(image: Tensor, mask: Tensor, hard_gradient: bool = True) -> Tensor:
    r""":math:`\hat I \otimes M` (CNIA eq. (8)) with the gradient of CNIA eq. (9).

    The forward value is ``image * mask``. Eq. (9) lets the gradient through **unchanged** where
    :math:`M > 0` and blocks it where :math:`M \le 0`; with ``hard_gradient=True`` this is what the backward
    pass does (for a soft mask autograd of the product would scale the gradient by :math:`M` instead; for a
    0/1 mask both are the same). ``hard_gradient=False`` gives the plain product.

    Shape:
        - image: :math:`(B, C, H, W)`.
        - mask: :math:`(H, W)` or :math:`(1 \text{ or } B, 1 \text{ or } C, H, W)`; bool or float.
        - output: :math:`(B, C, H, W)`.

    Example:
        >>> x = torch.ones(1, 1, 1, 3, requires_grad=True)
        >>> m = torch.tensor([[0.0, 0.5, 1.0]])
        >>> y = apply_mask(x, m); y.sum().backward()
        >>> y.detach(), x.grad
        (tensor([[[[0.0000, 0.5000, 1.0000]]]]), tensor([[[[0., 1., 1.]]]]))
    """
    m = _expand_mask(mask, image)
    masked = image * m  # I ⊗ M, the forward value of CNIA eq. (8)
    if not hard_gradient:
        return masked
    gate = (m > 0).to(image.dtype)  # CNIA eq. (9): gradient passes where M > 0, is zero where M <= 0
    return image * gate + (masked - image * gate).detach()  # value: masked; gradient: gate


def mask_gradient(image: Tensor, mask: Tensor) -> Tensor:
    r"""The literal reading of CNIA eq. (9): identity forward, gradient kept only where :math:`M > 0`.

    Eq. (9) says the gradient of the masked attribute loss is :math:`\partial \ell_{attr}(\hat I) / \partial
    \hat I_{ijk}` (the *unmasked* loss) where :math:`M_{ijk} > 0` and 0 elsewhere, while eq. (8) evaluates the
    loss at :math:`\hat I \otimes M`. :func:`apply_mask` follows eq. (8) forward and eq. (9)'s gate backward;
    this function follows eq. (9) alone: the loss sees the whole image, only pixels inside the mask move. For a
    hard 0/1 mask both update the same pixels.

    Shape:
        - image: :math:`(B, C, H, W)`; mask: as in :func:`apply_mask`; output: :math:`(B, C, H, W)`, equal to image.

    Example:
        >>> x = torch.ones(1, 1, 2, 2, requires_grad=True)
        >>> mask_gradient(x, torch.tensor([[1., 0.], [0., 0.]])).sum().backward()
        >>> x.grad.flatten().tolist()
        [1.0, 0.0, 0.0, 0.0]
    """
    gate = (_expand_mask(mask, image) > 0).to(image.dtype)  # CNIA eq. (9): 1 where M > 0, else 0
    return image * gate + (image * (1 - gate)).detach()


def masked_perceptual_loss(
    net: Union[FeatureNet, FeatureExtractor],
    input: Tensor,
    mask: Tensor,
    target: Union[Tensor, Features],
    layers: Optional[LayerWeights] = None,
    weights: Optional[Tensor] = None,
    hard_gradient: bool = True,
) -> Tensor:
    r"""The masked attribute loss of CNIA eq. (8)-(9).

    .. math::

        \ell_{attr}(\hat I, M) = \sum_{i=1}^{k} w_i\, \ell_{content}^{\phi,l}(\hat I \otimes M, s_i)

    Features of the masked image :math:`\hat I \otimes M` are compared with those of the guide images
    :math:`s_i`; the gradient reaches :math:`\hat I` only where :math:`M > 0` (eq. (9)), so the image outside
    the mask is left alone. Pass a frozen network (:func:`facekit.hub.pretrained`, :func:`facekit.nn.face_network`
    and :class:`~facekit.nn.FeatureExtractor` freeze theirs) unless you mean to train it.

    Args:
        net: the feature network, or a :class:`~facekit.nn.FeatureExtractor` (then its layers are used).
        input: :math:`\hat I`, the image being generated, RGB in [0, 1].
        mask: :math:`M`, the attribute mask (1 inside, 0 outside; soft values allowed).
        target: the guide images :math:`s_1..s_k` ``(k, 3, H, W)``, or their features ``{layer: (k, C, H, W)}``.
        layers: layers (or ``{layer: weight}``) of the content loss; default the extractor's layers, or
            ``("relu3_1",)`` (CNIA's conv3_1).
        weights: :math:`w_i`, shape ``(k,)``; default :math:`1/k` each (eq. (5) asks :math:`\sum_i w_i = 1`).
        hard_gradient: use eq. (9)'s gate (see :func:`apply_mask`).

    Returns:
        a scalar.

    Shape:
        - input: :math:`(1, 3, H, W)` against :math:`k` guides (CNIA), or :math:`(B, 3, H, W)` against
          :math:`B` targets (one each).
        - mask: :math:`(H, W)` or :math:`(1 \text{ or } B, 1 \text{ or } 3, H, W)`.

    Example:
        >>> from facekit.nn import SynthFaceNet
        >>> net = SynthFaceNet(num_classes=10)
        >>> x = torch.rand(1, 3, 64, 64, requires_grad=True)
        >>> mask = torch.zeros(64, 64); mask[20:40, 10:54] = 1        # e.g. the eyes region
        >>> loss = masked_perceptual_loss(net, x, mask, torch.rand(5, 3, 64, 64))   # k = 5 guides
        >>> loss.backward()
        >>> bool(x.grad[..., :20, :].abs().sum() == 0)                  # nothing changes outside the mask
        True
    """
    check_image(input)
    if isinstance(net, FeatureExtractor):
        extractor = net
        if layers is None:
            layers = list(extractor.layers)
        fnet: FeatureNet = extractor.net
    elif isinstance(net, FeatureNet):
        fnet = net
        if layers is None:
            layers = ("relu3_1",)
    else:
        raise TypeError(f"net must be a FeatureNet or a FeatureExtractor; got {type(net).__name__}")
    layer_w = _resolve_layer_weights(fnet, layers)
    masked = apply_mask(input, mask, hard_gradient)  # Î ⊗ M, gradient by eq. (9)
    feats = fnet.extract(masked, list(layer_w))
    if isinstance(target, Tensor):
        check_image(target, name="target")
        with torch.no_grad():
            tgt = {k: v.detach() for k, v in fnet.extract(target, list(layer_w)).items()}
    else:
        tgt = dict(target)
    per_pair = perceptual_loss(feats, tgt, layer_w, reduction="none")  # (max(B, k),): l_content(Î⊗M, s_i)
    n = per_pair.shape[0]
    if weights is None:
        w = torch.full((n,), 1.0 / n, dtype=per_pair.dtype, device=per_pair.device)  # w_i = 1/k
    else:
        w = torch.as_tensor(weights, dtype=per_pair.dtype, device=per_pair.device)
        if w.shape != (n,):
            raise ValueError(f"weights must have shape ({n},), one w_i per guide; got {tuple(w.shape)}")
    return (w * per_pair).sum()  # CNIA eq. (8)


class MaskedPerceptualLoss(nn.Module):
    """CNIA eq. (8)-(9) as a module; see :func:`masked_perceptual_loss`.

    Args:
        net: the feature network (frozen and kept in eval mode here).
        layers: layers or ``{layer: weight}``; default ``("relu3_1",)``, CNIA's conv3_1.
        hard_gradient: use eq. (9)'s gate.

    Example:
        >>> from facekit.nn import SynthFaceNet
        >>> loss_fn = MaskedPerceptualLoss(SynthFaceNet(num_classes=10))
        >>> guides = loss_fn.target_features(torch.rand(3, 3, 64, 64))
        >>> loss_fn(torch.rand(1, 3, 64, 64), torch.ones(64, 64), guides).ndim
        0
    """

    def __init__(self, net: FeatureNet, layers: LayerWeights = ("relu3_1",), hard_gradient: bool = True) -> None:
        super().__init__()
        self.layer_weights: Dict[str, float] = _resolve_layer_weights(net, layers)
        self.extractor = FeatureExtractor(net, list(self.layer_weights))
        self.hard_gradient = hard_gradient

    @torch.no_grad()
    def target_features(self, guides: Tensor) -> Dict[str, Tensor]:
        """Features of the guide images, computed once without gradient."""
        return {k: v.detach() for k, v in self.extractor(guides).items()}

    def forward(
        self, input: Tensor, mask: Tensor, target: Union[Tensor, Features], weights: Optional[Tensor] = None
    ) -> Tensor:
        return masked_perceptual_loss(
            self.extractor, input, mask, target, self.layer_weights, weights, self.hard_gradient
        )


# -- From an Eye to a Face (Tse, Jok, Ng, Lee), section IV: feature losses and the WGAN-GP baseline -----------
#
# The eye-to-face paper compares its generator's output y_pred with the true face y through a loss network
# (VGG19) and sums an L1 distance over the network's layers. Three versions, in the order the paper gives them:
#
# * plain per-layer L1 (its scales differ ~1000x between layers, which the paper rejects);
# * the "normalised" feature loss: each layer's L1 divided by C_i H_i W_i   (:func:`normalized_feature_loss`);
# * the paper's "balanced" feature loss: each layer's L1 divided by the L1 of a freshly initialised generator,
#   weighted by the triangular weights lambda_i           (:func:`balanced_feature_loss`, :func:`triangular_layer_weights`).
#
# The layers are those of Keras' ``VGG19(include_top=False).layers``, which is what the paper used: the input
# layer, 16 convolutions (with their ReLU) and 5 poolings, n = 22 (:func:`feature_loss_layers`).

import math  # noqa: E402  (this section is appended to the module; its imports stay with it)
import re  # noqa: E402

from facekit.nn.features import freeze  # noqa: E402

__all__ += [
    "INPUT_LAYER",
    "feature_loss_layers",
    "extract_feature_loss_layers",
    "triangular_layer_weights",
    "layer_l1",
    "normalized_feature_loss",
    "balanced_feature_loss",
    "BalancedFeatureLoss",
    "gradient_penalty",
    "wgan_critic_loss",
    "wgan_generator_loss",
]

INPUT_LAYER = "input"
"""Name of the loss network's input layer (the preprocessed image), layer 0 of the eye-to-face feature loss."""


def feature_loss_layers(net: FeatureNet) -> list:
    """The layers of the eye-to-face feature loss: the input, then every ReLU and pooling output, in order.

    This is the list of Keras' ``VGG19(include_top=False).layers`` that the paper sums over: the input layer, the
    16 convolutions (a Keras convolution includes its ReLU, hence ``reluB_K`` here) and the 5 max-poolings, so
    :math:`n = 22` for VGG19; for :class:`~facekit.nn.SynthFaceNet` (a VGG-16 shape) it is 1 + 13 + 5 = 19.
    Layer 0 (:data:`INPUT_LAYER`) is the network's preprocessed input.

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


# -- the conditional WGAN-GP baseline (Gulrajani et al. 2017) --------------------------------------------------
def gradient_penalty(critic: nn.Module, real: Tensor, fake: Tensor, *conditions: Tensor,
                     generator: Optional[torch.Generator] = None) -> Tensor:
    r"""The WGAN-GP gradient penalty (Gulrajani et al. 2017, eq. (3)), without its weight :math:`\lambda`:

    .. math::

        \mathbb{E}_{\hat x}\left[ (\|\nabla_{\hat x} D(\hat x)\|_2 - 1)^2 \right], \qquad
        \hat x = \epsilon\, x_{real} + (1 - \epsilon)\, x_{fake}, \quad \epsilon \sim U[0, 1]

    one :math:`\epsilon` per sample. Extra ``conditions`` (the eye of a conditional critic) are passed to the
    critic unchanged. The graph is kept (``create_graph=True``) so the penalty trains the critic.

    Args:
        critic: ``critic(x, *conditions) -> (B,)`` or ``(B, 1)`` scores.
        real, fake: ``(B, ...)`` samples of the same shape (``fake`` is usually detached).
        conditions: tensors passed after ``x`` to the critic.
        generator: draws :math:`\epsilon` (default: the global generator).

    Returns:
        a scalar: the mean over the batch.

    Example:
        >>> critic = lambda x: 3.0 * x.flatten(1).sum(1)          # |grad| = 3 * sqrt(D) everywhere
        >>> gp = gradient_penalty(critic, torch.zeros(2, 4), torch.ones(2, 4))
        >>> round(float(gp), 4)                                    # (3 * 2 - 1)^2
        25.0
    """
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have the same shape; got {tuple(real.shape)} and {tuple(fake.shape)}")
    b = real.shape[0]
    eps = torch.rand((b,) + (1,) * (real.ndim - 1), generator=generator, dtype=real.dtype,
                     device=real.device if generator is None else generator.device).to(real.device)
    mixed = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)  # x_hat
    scores = critic(mixed, *conditions).reshape(b)
    (grad,) = torch.autograd.grad(scores.sum(), mixed, create_graph=True)
    norm = grad.flatten(1).norm(2, dim=1)  # ||grad D(x_hat)||_2, (B,)
    return (norm - 1).pow(2).mean()


def wgan_critic_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    r"""The Wasserstein critic loss :math:`\mathbb{E}[D(x_{fake})] - \mathbb{E}[D(x_{real})]` (minimised).

    Add ``lambda_gp * gradient_penalty(...)`` (Gulrajani et al.: :math:`\lambda = 10`) for WGAN-GP.

    Example:
        >>> wgan_critic_loss(torch.tensor([2.0, 4.0]), torch.tensor([1.0, 1.0]))
        tensor(-2.)
    """
    return fake_scores.mean() - real_scores.mean()


def wgan_generator_loss(fake_scores: Tensor) -> Tensor:
    r"""The Wasserstein generator loss :math:`-\mathbb{E}[D(G(z))]` (minimised).

    Example:
        >>> wgan_generator_loss(torch.tensor([1.0, 3.0]))
        tensor(-2.)
    """
    return -fake_scores.mean()
