r"""Content (perceptual) losses: squared errors between feature maps of a face network.

From *Convolutional Network for Attribute-driven and Identity-preserving Human Face Generation* (CNIA; Li, Zuo,
Zhang, arXiv 1608.06434), section 3:

* :func:`content_loss`: CNIA eq. (1), the squared error between two feature maps of one layer, divided by
  :math:`2 C_l H_l W_l`; DIAT (arXiv 1610.05586) uses the same definition (its eq. (1));
* :func:`content_loss_grad`: CNIA eq. (2), its gradient with respect to the feature map, written by hand for
  teaching (autograd computes the same, see ``tests/test_losses.py``);
* :func:`perceptual_loss`: a weighted sum of eq. (1) over layers (CNIA eq. (5)-(6) use one layer, DIAT eq. (2)
  the 4th and 5th);
* :func:`masked_perceptual_loss`: CNIA eq. (8)-(9), the attribute loss restricted to a mask (:func:`apply_mask`,
  :func:`mask_gradient`).


From *Deep Identity-aware Transfer of Facial Attributes* (DIAT; Li, Zuo, Zhang, arXiv 1610.05586 v1):

* the perceptual identity loss, DIAT eq. (2), is :class:`PerceptualLoss` with ``layers=DIAT_IDENTITY_LAYERS``
  (the 4th and 5th convolutional layers of the face network; also the reconstruction loss of eq. (4));
* :func:`adaptive_identity_loss`: DIAT-A's eq. (12)-(13), the same squared error on the attribute
  discriminator's 4th and 5th convolutional layers;
* :func:`local_enhancement_loss`: DIAT eq. (10), pixels outside the attribute mask plus a content loss on the
  face network's first three convolutional layers inside it (``DIAT_ENHANCE_LAYERS``).
"""

from __future__ import annotations

from typing import Dict, Mapping, Optional, Sequence, Union

import torch
from torch import Tensor, nn

from facekit.losses._common import Features, LayerWeights, _check_feature_pair, _check_reduction, _reduce
from facekit.nn.features import FeatureExtractor, FeatureNet, check_image

DIAT_IDENTITY_LAYERS: Dict[int, float] = {4: 1.0, 5: 1.0}
"""DIAT eq. (2) and (4): the 4th and 5th convolutional layers with weights :math:`w_4 = w_5 = 1` (the paper gives no
values). On VGG-Face (and SynthFaceNet, the same layer names) these are ``relu2_2`` and ``relu3_1``: the
convolutions are counted in order, conv1_1, conv1_2, conv2_1, conv2_2 (4th), conv3_1 (5th), and each is read after
its in-place ReLU (:mod:`facekit.nn.features`). The paper keeps to "the first 5 convolutional layers due to their
better performance on image reconstruction" (Mahendran and Vedaldi [29]): deep enough to ignore pixel noise,
shallow enough that an image is recoverable from them."""

DIAT_ENHANCE_LAYERS: Dict[int, float] = {1: 0.1, 2: 0.5, 3: 1.0}
"""DIAT eq. (10): :math:`\\beta_0 = 0.1, \\beta_1 = 0.5, \\beta_2 = 1` on the face network's first three
convolutional layers (``relu1_1``, ``relu1_2``, ``relu2_1``; the paper's index ``i = 0..2`` is 0-based)."""


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


# -- DIAT-A eq. (12)-(13): the adaptive perceptual identity loss ------------------------------------------------
def adaptive_identity_loss(
    discriminator: nn.Module,
    transformed: Tensor,
    source: Tensor,
    layers: Union[Mapping[int, float], Sequence[int]] = (4, 5),
    reduction: str = "mean",
) -> Tensor:
    r"""DIAT-A's adaptive perceptual identity loss, eq. (12)-(13), on the attribute discriminator's features.

    .. math::

        \ell_{id}^{dynamic}(\mathbf{x}) = \sum_{l=4}^{5} w_l \frac{1}{2 C_l H_l W_l}
        \| D_l(T(\mathbf{x})) - D_l(\mathbf{x}) \|_F^2

    The network "for identity loss will be changed along with the updating of discriminator" (section 4.1): the
    features come from the current :math:`D`. Freeze :math:`D`'s parameters (``requires_grad_(False)``) during the
    transform network's step so that only :math:`T` receives the gradient.

    Args:
        discriminator: an :class:`~facekit.nn.AttributeDiscriminator` (anything with ``features(x, layers)``
            returning ``{l: (B, C, H, W)}``).
        transformed: :math:`T(\mathbf{x})`, ``(B, 3, H, W)``.
        source: :math:`\mathbf{x}`, ``(B, 3, H, W)``.
        layers: 1-based conv indices, or ``{l: w_l}`` (default 4 and 5, weight 1 each).
        reduction: ``"mean"`` over the batch, ``"sum"`` or ``"none"``.

    Example:
        >>> from facekit.nn import AttributeDiscriminator
        >>> D = AttributeDiscriminator(image_size=64)
        >>> x = torch.rand(2, 3, 64, 64)
        >>> float(adaptive_identity_loss(D, x, x).detach())
        0.0
    """
    _check_reduction(reduction)
    if not hasattr(discriminator, "features"):
        raise TypeError("discriminator must have features(x, layers) -> {layer: map} (an AttributeDiscriminator)")
    if not isinstance(transformed, Tensor) or not isinstance(source, Tensor) or transformed.shape != source.shape:
        raise ValueError(f"transformed and source must be image batches of the same shape; got "
                         f"{tuple(getattr(transformed, 'shape', ()))} and {tuple(getattr(source, 'shape', ()))}")
    weights = dict(layers) if isinstance(layers, Mapping) else {int(l): 1.0 for l in layers}
    if not weights:
        raise ValueError("layers is empty: DIAT-A uses the discriminator's 4th and 5th conv layers, (4, 5)")
    both = discriminator.features(torch.cat([transformed, source]), list(weights))  # one pass for T(x) and x
    b = transformed.shape[0]
    total: Optional[Tensor] = None
    for l, w in weights.items():
        f_t, f_x = both[l][:b], both[l][b:]
        term = w * content_loss(f_t, f_x, reduction)  # w_l * DIAT eq. (12)
        total = term if total is None else total + term  # DIAT eq. (13)
    assert total is not None
    return total


# -- DIAT eq. (10): the local enhancement loss -----------------------------------------------------------------
def local_enhancement_loss(
    enhanced: Tensor,
    source: Tensor,
    transformed: Tensor,
    mask: Tensor,
    extractor: FeatureExtractor,
    betas: Optional[Mapping[str, float]] = None,
    reduction: str = "mean",
) -> Tensor:
    r"""DIAT eq. (10): train the local enhancement network :math:`E`.

    .. math::

        \ell_{E_{local}} = \| (1 - \mathbf{m}) \circ (E(T(\mathbf{x})) - \mathbf{x}) \|_F^2
        + \sum_{i=0}^{2} \beta_i\, \ell_{content}^{\phi,i}(\mathbf{m} \circ T(\mathbf{x}),
        \mathbf{m} \circ E(T(\mathbf{x})))

    Outside the attribute mask the enhanced image must equal the (sharp) input in pixels; inside it, it must keep
    the transformed image's content on the face network's first three conv layers. The transformed image is a
    fixed target here (detached).

    Args:
        enhanced: :math:`E(T(\mathbf{x}))`, ``(B, 3, H, W)``.
        source: :math:`\mathbf{x}`.
        transformed: :math:`T(\mathbf{x})`.
        mask: :math:`\mathbf{m}`, ``(B, 1, H, W)`` (1 in the attribute region), e.g. from
            :func:`facekit.masks.attribute_masks`.
        extractor: a :class:`~facekit.nn.FeatureExtractor` over (at least) the layers of ``betas``.
        betas: ``{layer name: beta}``; default the extractor's first three layers with 0.1, 0.5, 1.
        reduction: ``"mean"`` over the batch, ``"sum"`` or ``"none"``.
    """
    from facekit.losses.pixel import squared_error

    _check_reduction(reduction)
    for name, t in (("source", source), ("transformed", transformed)):
        if not isinstance(t, Tensor) or t.shape != enhanced.shape:
            raise ValueError(f"{name} must have the shape of enhanced {tuple(enhanced.shape)}; got "
                             f"{tuple(getattr(t, 'shape', ()))}")
    m = _expand_mask(mask, enhanced)  # (B or 1, 1 or 3, H, W)
    if betas is None:
        if len(extractor.layers) < 3:
            raise ValueError("the extractor needs three layers for eq. (10)'s beta_0..beta_2, e.g. "
                             "FeatureExtractor(net, [1, 2, 3])")
        betas = dict(zip(extractor.layers[:3], DIAT_ENHANCE_LAYERS.values()))
    outside = squared_error(enhanced, source, mask=1 - m, reduction="none")  # (1 - m) o ||E(T(x)) - x||^2
    with torch.no_grad():
        target = extractor(m * transformed.detach())  # phi_i(m o T(x))
    feats = extractor(m * enhanced)  # phi_i(m o E(T(x)))
    inside = perceptual_loss(feats, target, betas, reduction="none")  # sum_i beta_i l_content^{phi,i}
    return _reduce(outside + inside, reduction)  # DIAT eq. (10)
