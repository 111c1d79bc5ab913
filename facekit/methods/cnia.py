"""CNIA: attribute-driven, identity-preserving face generation by optimisation on a face network's features.

*Convolutional Network for Attribute-driven and Identity-preserving Human Face Generation* (Li, Zuo, Zhang,
arXiv 1608.06434). The method, section by section:

* **guided set** (sec. 3.2, eq. (3)-(4); in ``facekit.methods.guided_set``, whose names this module re-exports):
  from a labelled pool, keep the images that have the wanted attributes (:meth:`LabelledPool.select`), rank them by
  a mix of pose distance on 68 landmarks (:func:`pose_distance`, eq. (3)) and content distance (CNIA eq. (1)) to
  the reference, normalised over the pool (:func:`similarity_distance`, eq. (4)), and keep the ``k`` nearest
  (:func:`find_guided_sets`; the paper: k = 5) with weights :math:`w_i` summing to 1. The pool is augmented by
  horizontal flips (sec. 4, :meth:`LabelledPool.with_flips`, :func:`flip_landmarks` with the iBUG-68 left/right
  permutation :data:`~facekit.methods.guided_set.IBUG68_FLIP`);
* **the objective** (eq. (7)): :math:`\\ell_{attr}` (eq. (5), :func:`attribute_loss`) :math:`+ \\lambda\\,
  \\ell_{id}` (eq. (6), :func:`identity_loss`) :math:`+ \\gamma\\, \\ell_{TV}` on one layer (the paper: conv3_1,
  the 5th convolution, post-ReLU: facekit's ``"relu3_1"``), :class:`CNIAObjective`;
* **Algorithm 1**: gradient descent on the pixels from a blank image, with the loss history of Fig. 2
  (identity, attribute and pixel error to the reference per iteration), :meth:`CNIA.generate`;
* **improvements** (sec. 3.3): attribute masks (eq. (8)-(9), from :func:`facekit.masks.attribute_masks`;
  the gradient gate is :func:`facekit.losses.mask_gradient` / :func:`facekit.losses.apply_mask`) and the
  least-squares 3x3 YCbCr colour transfer (eq. (10), :func:`facekit.color.fit_color_matrix`) on 1,000 pixels
  sampled from the centre;
* **guided-image mode** (sec. 4.2): the guided faces are given, not searched, :meth:`CNIA.edit_with_guides`.

Everything is batched: several references are edited in one optimisation (each image's loss is its own problem:
the batch loss is the sum of the per-image losses, so with ``"gd"`` and ``"adam"`` a batch gives the same result
as one image at a time).

What the paper does not give, and our choices (all keyword arguments of :class:`CNIA`):

* :math:`\\alpha` of eq. (4): 0.5 (pose and content count the same);
* the weights :math:`w_i`: uniform, :math:`1/k` (``weighting="inverse"``: proportional to :math:`1/D_a`);
* :math:`\\lambda`, :math:`\\gamma`, the learning rate and the number of iterations: see :class:`CNIA`;
  :math:`\\ell_{TV}` is :func:`facekit.losses.total_variation` with :math:`\\beta = 2`, averaged over pixels
  (:math:`\\gamma = 16` by default, chapter 2's inversion weight);
* the blank image is mid-grey (0.5), as in :func:`facekit.methods.invert_features`; pixels are clamped to
  [0, 1] after every step (projected gradient descent);
* the margin of the attribute masks: :func:`facekit.masks.attribute_mask`'s default (0.3 inter-ocular distances).

What limits the blank start is measured, not written here (numbers in a docstring go stale): chapter 3's section
"Why the blank start loses the identity" rebuilds the reference from its own conv3_1 features and lets the identity
judge compare, and ``bench/cnia.py`` re-measures it (its ``reconstruction`` entry) beside the scores of the paper's
setting and of ``start="reference"``, which does not rebuild the face.

Example:
    >>> import torch
    >>> from facekit.nn import SynthFaceNet
    >>> net = SynthFaceNet(input_size=32).eval()
    >>> refs, guides = torch.rand(2, 3, 32, 32), torch.rand(2, 5, 3, 32, 32)
    >>> out = CNIA(net, steps=3, progress=False, color=False).edit_with_guides(refs, guides)
    >>> out.images.shape, sorted(out.history)
    (torch.Size([2, 3, 32, 32]), ['attribute', 'identity', 'pixel_error', 'total', 'tv'])
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

import torch
from torch import Tensor, nn

from facekit.color import fit_color_matrix, apply_color_matrix
from facekit.landmarks import NoFaceFoundError
from facekit.losses import apply_mask, content_loss, mask_gradient, total_variation
from facekit.masks import attribute_masks
from facekit.methods.inversion import squared_error_255
from facekit.methods.guided_set import (  # the guided set (sec. 3.2), re-exported: facekit.methods.cnia.X works
    IBUG68_FLIP,
    GuidedSet,
    LabelledPool,
    _check_landmarks,
    _guide_weights,
    find_guided_sets,
    flip_images,
    flip_landmarks,
    pose_distance,
    similarity_distance,
)
from facekit.nn import FeatureExtractor, FeatureNet, LayerSpec
from facekit.nn.features import check_image

__all__ = [
    "IBUG68_FLIP",
    "flip_landmarks",
    "flip_images",
    "LabelledPool",
    "GuidedSet",
    "pose_distance",
    "similarity_distance",
    "find_guided_sets",
    "attribute_loss",
    "identity_loss",
    "CNIAObjective",
    "CNIAResult",
    "CNIA",
    "cnia_edit",
    "OPTIMIZERS",
    "STARTS",
    "GD_STEPS",
    "default_gd_step",
    "MASK_MODES",
    "PAPER_ATTRIBUTES",
    "synth_edit_pairs",
]

# ----------------------------------------------------------------------------------------------------------------
# The objective, CNIA eq. (5)-(9)
# ----------------------------------------------------------------------------------------------------------------


def attribute_loss(features: Tensor, guide_features: Tensor, weights: Tensor) -> Tensor:
    """CNIA eq. (5): :math:`\\ell_{attr}(\\hat I) = \\sum_{i=1}^k w_i\\, \\ell_{content}^{\\phi,l}(\\hat I, s_i)`.

    Args:
        features: ``(B, C, H, W)`` :math:`\\phi_l(\\hat I)` (of :math:`\\hat I \\otimes M` for eq. (8)).
        guide_features: ``(B, k, C, H, W)`` :math:`\\phi_l(s_i)` of each image's guides.
        weights: ``(B, k)`` :math:`w_i` (each row sums to 1).

    Returns:
        ``(B,)`` one loss per image.
    """
    if guide_features.ndim != features.ndim + 1 or guide_features.shape[0] != features.shape[0] \
            or guide_features.shape[2:] != features.shape[1:]:
        raise ValueError(f"guide_features must be (B, k, *features.shape[1:]) = ({features.shape[0]}, k, "
                         f"{', '.join(map(str, features.shape[1:]))}); got {tuple(guide_features.shape)}")
    b, k = guide_features.shape[:2]
    if tuple(weights.shape) != (b, k):
        raise ValueError(f"weights must be (B, k) = ({b}, {k}); got {tuple(weights.shape)}")
    f = features[:, None].expand_as(guide_features).flatten(0, 1)  # (B k, C, H, W)
    per = content_loss(f, guide_features.flatten(0, 1), reduction="none").view(b, k)  # eq. (1) per guide
    return (weights * per).sum(1)  # eq. (5), (B,)


def identity_loss(features: Tensor, reference_features: Tensor) -> Tensor:
    """CNIA eq. (6): :math:`\\ell_{id}(\\hat I) = \\ell_{content}^{\\phi,l}(\\hat I, I_r)`; ``(B,)`` per image."""
    return content_loss(features, reference_features, reduction="none")


MASK_MODES: tuple[str, ...] = ("gradient", "product")
"""How the attribute mask acts (CNIA sec. 3.3): ``"gradient"``, eq. (9) read literally: the attribute loss sees
the whole image, its gradient is kept only where :math:`M > 0` (:func:`facekit.losses.mask_gradient`);
``"product"``: eq. (8), the attribute loss is computed on :math:`\\hat I \\otimes M` (the guides unmasked, as the
paper writes it) with eq. (9)'s gradient gate (:func:`facekit.losses.apply_mask`)."""


class CNIAObjective(nn.Module):
    """The model of CNIA eq. (7): :math:`\\ell_{attr}(\\hat I[, M]) + \\lambda\\, \\ell_{id}(\\hat I) + \\gamma\\,
    \\ell_{TV}(\\hat I)`, per image, with the targets' features computed once.

    Args:
        net: the face network (frozen here by a :class:`~facekit.nn.FeatureExtractor`).
        references: ``(B, 3, H, W)`` the references :math:`I_r`.
        guides: ``(B, k, 3, H, W)`` each reference's guides :math:`s_i`.
        weights: ``(B, k)`` :math:`w_i` (default ``1/k``); each row must sum to 1.
        masks: optional ``(B, 1, H, W)`` attribute masks :math:`M` (eq. (8)-(9)).
        layer: the layer :math:`l` (CNIA: conv3_1, post-ReLU, ``"relu3_1"``).
        lam: :math:`\\lambda`, the weight of the identity loss.
        gamma: :math:`\\gamma`, the weight of :math:`\\ell_{TV}` (``total_variation(normalized=True)``).
        mask_mode: see :data:`MASK_MODES`.

    Calling it on ``(B, 3, H, W)`` images returns ``(total, terms)``: the scalar sum over the batch (each image its
    own problem) and ``{"attribute", "identity", "tv", "total"}`` as ``(B,)`` tensors.
    """

    def __init__(
        self,
        net: FeatureNet,
        references: Tensor,
        guides: Tensor,
        weights: Optional[Tensor] = None,
        masks: Optional[Tensor] = None,
        *,
        layer: LayerSpec = "relu3_1",
        lam: float = 1.0,
        gamma: float = 16.0,
        mask_mode: str = "gradient",
    ) -> None:
        super().__init__()
        check_image(references, name="references")
        b = references.shape[0]
        if guides.ndim != 5 or guides.shape[0] != b or guides.shape[2:] != references.shape[1:]:
            raise ValueError(f"guides must be (B, k, 3, H, W) = ({b}, k, {', '.join(map(str, references.shape[1:]))})"
                             f"; got {tuple(guides.shape)}")
        k = guides.shape[1]
        if weights is None:
            weights = torch.full((b, k), 1.0 / k)
        weights = torch.as_tensor(weights, dtype=references.dtype, device=references.device)
        if tuple(weights.shape) != (b, k):
            raise ValueError(f"weights must be (B, k) = ({b}, {k}); got {tuple(weights.shape)}")
        if (weights < 0).any() or not torch.allclose(weights.sum(1), torch.ones(b, dtype=weights.dtype,
                                                                                device=weights.device), atol=1e-4):
            raise ValueError(f"the weights w_i must be >= 0 and sum to 1 per image (CNIA eq. (5)); row sums "
                             f"{weights.sum(1).tolist()}")
        if mask_mode not in MASK_MODES:
            raise ValueError(f"mask_mode must be one of {MASK_MODES}; got {mask_mode!r}")
        if masks is not None:
            masks = torch.as_tensor(masks, dtype=references.dtype, device=references.device)
            if masks.ndim == 3:
                masks = masks[:, None]
            if masks.ndim != 4 or masks.shape[0] != b or masks.shape[1] != 1 or masks.shape[2:] != references.shape[2:]:
                raise ValueError(f"masks must be (B, 1, H, W) = ({b}, 1, {references.shape[2]}, {references.shape[3]})"
                                 f"; got {tuple(masks.shape)}")
        self.extractor = FeatureExtractor(net, [layer])
        self.layer = self.extractor.layers[0]
        self.lam, self.gamma, self.mask_mode = float(lam), float(gamma), mask_mode
        self.masks = masks
        self.weights = weights
        with torch.no_grad():
            self.reference_features = self.extractor(references)[self.layer]  # (B, C, h, w), phi_l(I_r)
            gf = self.extractor(guides.flatten(0, 1))[self.layer]  # (B k, C, h, w)
            self.guide_features = gf.view(b, k, *gf.shape[1:])  # (B, k, C, h, w), phi_l(s_i)

    def forward(self, x: Tensor) -> tuple[Tensor, Dict[str, Tensor]]:
        b = x.shape[0]
        if self.masks is None:
            f = self.extractor(x)[self.layer]  # one forward serves both terms
            f_attr, f_id = f, f
        else:
            gate = mask_gradient(x, self.masks) if self.mask_mode == "gradient" else apply_mask(x, self.masks)
            f = self.extractor(torch.cat([gate, x]))[self.layer]  # (2B, C, h, w): eq. (8)/(9) input, then I-hat
            f_attr, f_id = f[:b], f[b:]
        attr = attribute_loss(f_attr, self.guide_features, self.weights)  # eq. (5) / (8), (B,)
        ident = identity_loss(f_id, self.reference_features)  # eq. (6), (B,)
        tv = total_variation(x, normalized=True, reduction="none")  # l_TV, (B,)
        total = attr + self.lam * ident + self.gamma * tv  # CNIA eq. (7), (B,)
        return total.sum(), {"attribute": attr, "identity": ident, "tv": tv, "total": total}


# ----------------------------------------------------------------------------------------------------------------
# Algorithm 1 and the method
# ----------------------------------------------------------------------------------------------------------------

OPTIMIZERS: tuple[str, ...] = ("gd", "adam", "lbfgs")
"""``"gd"``: plain gradient descent, :math:`\\hat I \\leftarrow \\hat I - a\\, G(\\hat I)` (CNIA Algorithm 1, the
default); ``"adam"``: Adam with a cosine-decaying step (as :func:`facekit.methods.invert_features`);
``"lbfgs"``: L-BFGS with a strong-Wolfe line search (it couples the images of a batch: its line search is shared)."""

STARTS: tuple[str, ...] = ("blank", "reference", "noise")
"""The initial :math:`\\hat I`: ``"blank"`` (mid-grey, CNIA Algorithm 1), the reference itself, or uniform noise."""


@dataclass
class CNIAResult:
    """What :class:`CNIA` returns.

    Attributes:
        images: ``(B, 3, H, W)`` the generated faces (after the colour transfer, when it is on).
        raw: ``(B, 3, H, W)`` the optimised faces before the colour transfer.
        references: ``(B, 3, H, W)`` the inputs.
        history: per iteration, ``(steps, B)`` tensors: ``"identity"`` (eq. (6)), ``"attribute"`` (eq. (5)/(8)),
            ``"tv"``, ``"total"`` (eq. (7)) and ``"pixel_error"`` (squared error to the reference, 0-255 grey
            levels, summed over the image: CNIA Fig. 2(a) and Table 1's measure).
        guided: the guided set of each reference.
        masks: ``(B, 1, H, W)`` the attribute masks used, or ``None``.
        color_matrices: ``(B, 3, 3)`` the eq. (10) matrices, or ``None``.
        seconds: wall time of the optimisation and the colour transfer (not the guided-set search).
        steps_per_second: optimisation steps per second for the whole batch.
        settings: the hyper-parameters used.
    """

    images: Tensor
    raw: Tensor
    references: Tensor
    history: Dict[str, Tensor]
    guided: List[GuidedSet]
    masks: Optional[Tensor] = None
    color_matrices: Optional[Tensor] = None
    seconds: float = 0.0
    steps_per_second: float = 0.0
    settings: Dict[str, Any] = field(default_factory=dict)

    def curves(self, index: Optional[int] = None, keys: Sequence[str] = ("identity", "attribute", "pixel_error")
               ) -> Dict[str, List[float]]:
        """Loss curves for :func:`facekit.viz.loss_curves`: image ``index``, or the batch mean (``None``)."""
        out = {}
        for key in keys:
            h = self.history[key]
            out[key] = (h.mean(1) if index is None else h[:, index]).tolist()
        return out


GD_STEPS: Dict[str, float] = {"DlibFaceNet": 2.0}
"""The default step :math:`a` of plain gradient descent (Algorithm 1) per network class, where it is not 20; the
paper gives no step. DlibFaceNet's stage ``res2_4`` is far more sensitive to some pixel patterns than SynthFaceNet's
conv3_1, and at 20 gradient descent oscillates in them: the measurements are in ``bench/cnia_identity.py``."""


def default_gd_step(net: FeatureNet) -> float:
    """The step of plain gradient descent :class:`CNIA` uses for ``net`` when none is given (:data:`GD_STEPS`, else
    20, chosen for SynthFaceNet at 64 px).

    Example:
        >>> from facekit.nn import SynthFaceNet
        >>> default_gd_step(SynthFaceNet(input_size=32))
        20.0
    """
    for cls in type(net).__mro__:
        if cls.__name__ in GD_STEPS:
            return GD_STEPS[cls.__name__]
    return 20.0


class CNIA:
    """CNIA (Li, Zuo, Zhang 2016): edit the attributes of faces while keeping who they are.

    Args:
        net: the face network (:func:`facekit.nn.face_network`: VGG-Face when its weights are present, else the
            shipped SynthFaceNet); default ``face_network(verbose=False)``.
        layer: the layer :math:`l` of every loss (CNIA sec. 4.3.1: conv3_1, the 5th convolution; facekit's
            ``"relu3_1"``, since the paper's features are rectified).
        k: guided-set size (CNIA sec. 4.1: 5).
        alpha: :math:`\\alpha` of eq. (4) (not given in the paper).
        weighting: the :math:`w_i`: ``"uniform"`` or ``"inverse"`` (see :func:`find_guided_sets`).
        lam: :math:`\\lambda` of eq. (7) (not given in the paper); ``bench/cnia.py`` uses 0.3 from the reference.
        gamma: :math:`\\gamma` of eq. (7) (not given; the paper shows 0 is noisy and 1 over-smooth for its
            unnormalised TV; ours is averaged over pixels, hence larger). 16 is chapter 2's inversion weight: a
            small weight lets plain gradient descent from a blank image match the features with colour noise
            (chapter 3's Fig. 7 cell shows the range). A start from the reference needs little TV (0.5 in
            ``bench/cnia.py``).
        steps: iterations of Algorithm 1 (not given).
        lr: the step :math:`a` of Algorithm 1 (for ``"gd"``; Adam's initial step for ``"adam"``, try 0.05;
            L-BFGS's ``lr`` for ``"lbfgs"``, try 1). The paper gives none. ``None`` (the default): for ``"gd"``,
            :func:`default_gd_step` of the network (2 for DlibFaceNet; 20, chosen for SynthFaceNet at 64 px, for
            the others, VGG-Face's unmeasured), and 20 for the other optimisers. The step is large because eq. (1) divides by :math:`2 C_l H_l W_l`: the
            gradient on a pixel is small. It depends on the network, since a step past the largest stable one makes
            plain gradient descent oscillate in the directions the layer is most sensitive to (colour noise instead
            of a face; ``bench/cnia_identity.py`` measures it), and on the image size: the gradient on a pixel grows
            as the image shrinks, so at 32 px use a smaller step (about 5 for SynthFaceNet).
        optimizer: one of :data:`OPTIMIZERS` (default ``"gd"``, the paper's).
        start: one of :data:`STARTS` (default ``"blank"``, the paper's).
        mask: use the attribute masks of sec. 3.3 (needs landmarks).
        mask_margin: their margin in inter-ocular distances (:func:`facekit.masks.attribute_mask`).
        mask_mode: one of :data:`MASK_MODES`.
        color: apply the colour transfer of eq. (10) to the result.
        color_samples: pixels of the colour fit (CNIA: 1,000, from the centre).
        color_fraction: side of the box the colour-fit pixels are drawn from, as a fraction of the image side:
            0.5, the "central part" of eq. (10) as printed (the fit then applies to every pixel, so hair and
            background take the face's correction); 1.0 fits on the whole image.
        seed: seeds the noise start and the colour transfer's pixel draw (results are deterministic).
        device: where to optimise (default: the network's device).
        progress: show a ``tqdm.auto`` progress bar over the iterations.

    Example:
        >>> from facekit.nn import SynthFaceNet
        >>> cnia = CNIA(SynthFaceNet(input_size=32).eval(), steps=2, progress=False)
        >>> cnia.k, cnia.layer, cnia.optimizer, cnia.start
        (5, 'relu3_1', 'gd', 'blank')
    """

    def __init__(
        self,
        net: Optional[FeatureNet] = None,
        *,
        layer: LayerSpec = "relu3_1",
        k: int = 5,
        alpha: float = 0.5,
        weighting: str = "uniform",
        lam: float = 1.0,
        gamma: float = 16.0,
        steps: int = 300,
        lr: Optional[float] = None,
        optimizer: str = "gd",
        start: str = "blank",
        mask: bool = True,
        mask_margin: float = 0.3,
        mask_mode: str = "gradient",
        color: bool = True,
        color_samples: int = 1000,
        color_fraction: float = 0.5,
        seed: int = 0,
        device: Union[str, torch.device, None] = None,
        progress: bool = True,
    ) -> None:
        if net is None:
            from facekit.nn import face_network

            net = face_network(verbose=False)
        if not isinstance(net, FeatureNet):
            raise TypeError(f"net must be a facekit.nn.FeatureNet; got {type(net).__name__}")
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}; got {optimizer!r}")
        if start not in STARTS:
            raise ValueError(f"start must be one of {STARTS}; got {start!r}")
        if mask_mode not in MASK_MODES:
            raise ValueError(f"mask_mode must be one of {MASK_MODES}; got {mask_mode!r}")
        if not isinstance(steps, int) or steps < 1:
            raise ValueError(f"steps must be a positive int; got {steps!r}")
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive int; got {k!r}")
        if lr is None:
            lr = default_gd_step(net) if optimizer == "gd" else 20.0
        if lr <= 0 or lam < 0 or gamma < 0:
            raise ValueError(f"need lr > 0, lam >= 0, gamma >= 0; got lr={lr}, lam={lam}, gamma={gamma}")
        _guide_weights(torch.ones(1), weighting)  # validates the name
        self.net = net
        self.layer = net.resolve_layer(layer)
        self.k, self.alpha, self.weighting = k, float(alpha), weighting
        self.lam, self.gamma, self.steps, self.lr = float(lam), float(gamma), int(steps), float(lr)
        self.optimizer, self.start = optimizer, start
        self.mask, self.mask_margin, self.mask_mode = bool(mask), float(mask_margin), mask_mode
        if not 0.0 < color_fraction <= 1.0:
            raise ValueError(f"color_fraction must be in (0, 1]; got {color_fraction}")
        self.color, self.color_samples, self.seed = bool(color), int(color_samples), int(seed)
        self.color_fraction = float(color_fraction)
        self.device = torch.device(device) if device is not None else next(net.parameters()).device
        self.progress = bool(progress)
        self.net.to(self.device)

    def settings(self) -> Dict[str, Any]:
        """The hyper-parameters, as a plain dict (for the results table)."""
        return {"layer": self.layer, "k": self.k, "alpha": self.alpha, "weighting": self.weighting, "lam": self.lam,
                "gamma": self.gamma, "steps": self.steps, "lr": self.lr, "optimizer": self.optimizer,
                "start": self.start, "mask": self.mask, "mask_margin": self.mask_margin, "mask_mode": self.mask_mode,
                "color": self.color, "color_samples": self.color_samples, "color_fraction": self.color_fraction,
                "seed": self.seed}

    def replace(self, **changes: Any) -> "CNIA":
        """A copy with some settings changed (``cnia.replace(layer="relu2_1")``); the network is shared."""
        kw = {**self.settings(), "device": self.device, "progress": self.progress, **changes}
        return CNIA(self.net, **kw)

    # -- the pieces ---------------------------------------------------------------------------------------------
    def landmarks_of(self, references: Tensor, landmarks: Any = None, detector: Any = None) -> Tensor:
        """``(B, 68, 2)`` landmarks: the given ones, or detected with ``detector``.

        Raises:
            ValueError: neither is given, or the landmarks are malformed / not finite.
            NoFaceFoundError: the detector finds no face in a reference (the message says which).
        """
        b = references.shape[0]
        if landmarks is None and detector is not None:
            found = []
            for i in range(b):
                try:
                    found.append(torch.as_tensor(detector.detect(references[i].cpu()), dtype=torch.float32))
                except NoFaceFoundError as err:
                    raise NoFaceFoundError(f"reference {i}: {err}; CNIA needs its 68 landmarks") from err
            landmarks = torch.stack(found)
        return _check_landmarks(landmarks, b)

    def guided_sets(self, references: Tensor, landmarks: Any, pool: LabelledPool, attributes: Mapping[str, int],
                    exclude_identities: Optional[Sequence[int]] = None) -> List[GuidedSet]:
        """Algorithm 1, steps 1-3 (:func:`find_guided_sets` with this method's ``k``, ``alpha``, ``layer``)."""
        return find_guided_sets(self.net, references.to(self.device), landmarks, pool, attributes, k=self.k,
                                alpha=self.alpha, layer=self.layer, weighting=self.weighting,
                                exclude_identities=exclude_identities)

    def masks(self, landmarks: Tensor, attributes: Union[Mapping[str, int], Sequence[str]], size: Sequence[int]
              ) -> Tensor:
        """``(B, 1, H, W)`` attribute masks (CNIA sec. 3.3: the union of the attributes' expanded hulls)."""
        names = list(attributes)
        return attribute_masks(landmarks, names, size, margin=self.mask_margin, device=self.device)

    def _start(self, references: Tensor) -> Tensor:
        if self.start == "blank":
            return torch.full_like(references, 0.5)
        if self.start == "reference":
            return references.clone()
        gen = torch.Generator().manual_seed(self.seed)
        return torch.rand(references.shape, generator=gen).to(references)

    def generate(self, references: Tensor, guides: Tensor, weights: Optional[Tensor] = None,
                 masks: Optional[Tensor] = None, guided: Optional[List[GuidedSet]] = None) -> CNIAResult:
        """Algorithm 1, steps 4-8 (and the colour transfer of eq. (10)): optimise eq. (7) for a batch.

        Args:
            references: ``(B, 3, H, W)`` in [0, 1].
            guides: ``(B, k, 3, H, W)`` each reference's guides.
            weights: ``(B, k)`` :math:`w_i` (default uniform).
            masks: ``(B, 1, H, W)`` attribute masks, or ``None`` for none.
            guided: the :class:`GuidedSet` list to keep in the result (built from ``guides`` when ``None``).

        Returns:
            a :class:`CNIAResult`.
        """
        check_image(references, name="references")
        dtype = next(self.net.parameters()).dtype  # float32, or float64 for exact checks
        refs = references.to(self.device, dtype)
        guides = torch.as_tensor(guides).to(self.device, dtype)
        objective = CNIAObjective(self.net, refs, guides, weights, masks, layer=self.layer, lam=self.lam,
                                  gamma=self.gamma, mask_mode=self.mask_mode)
        x = self._start(refs).requires_grad_(True)  # Algorithm 1: start from a blank image
        opt: Optional[torch.optim.Optimizer] = None
        sched = None
        if self.optimizer == "adam":
            opt = torch.optim.Adam([x], lr=self.lr)
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=self.steps)
        elif self.optimizer == "lbfgs":
            opt = torch.optim.LBFGS([x], lr=self.lr, max_iter=1, history_size=20, line_search_fn="strong_wolfe")
        keys = ("attribute", "identity", "tv", "total", "pixel_error")
        hist: Dict[str, List[Tensor]] = {key: [] for key in keys}
        bar = None
        if self.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=self.steps, desc=f"CNIA ({len(refs)} image{'s' * (len(refs) > 1)}, {self.layer})",
                       leave=False)
        t0 = time.perf_counter()
        for _ in range(self.steps):
            terms: Dict[str, Tensor] = {}
            if self.optimizer == "lbfgs":
                assert opt is not None

                def closure() -> Tensor:
                    opt.zero_grad()
                    loss, t = objective(x)
                    loss.backward()
                    terms.update(t)
                    return loss

                opt.step(closure)
            else:
                loss, terms = objective(x)
                grad, = torch.autograd.grad(loss, x)  # G(I-hat), Algorithm 1 step 5
                if opt is None:  # plain gradient descent, Algorithm 1 step 6
                    with torch.no_grad():
                        x -= self.lr * grad
                else:
                    x.grad = grad
                    opt.step()
                    assert sched is not None
                    sched.step()
            with torch.no_grad():
                if self.optimizer != "lbfgs":  # L-BFGS's curvature memory breaks if x is moved behind its back
                    x.clamp_(0.0, 1.0)  # stay a valid image (projected gradient descent)
                for key in ("attribute", "identity", "tv", "total"):
                    hist[key].append(terms[key].detach().cpu())
                hist["pixel_error"].append(squared_error_255(x.detach(), refs).cpu())  # Fig. 2(a)
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        raw = x.detach().clamp(0.0, 1.0)
        images, matrices = raw, None
        if self.color:
            gen = torch.Generator().manual_seed(self.seed)
            try:
                matrices = fit_color_matrix(raw, refs, num_samples=self.color_samples,  # eq. (10)
                                            center_fraction=self.color_fraction, generator=gen)
            except RuntimeError:  # a (nearly) flat result, e.g. after very few steps: regularise the fit
                gen = torch.Generator().manual_seed(self.seed)
                matrices = fit_color_matrix(raw, refs, num_samples=self.color_samples,
                                            center_fraction=self.color_fraction, generator=gen, ridge=1e-4)
            images = apply_color_matrix(raw, matrices)
        seconds = time.perf_counter() - t0
        if guided is None:
            guided = [GuidedSet(images=guides[i].cpu(), weights=objective.weights[i].cpu()) for i in range(len(refs))]
        return CNIAResult(
            images=images.cpu(), raw=raw.cpu(), references=refs.cpu(),
            history={key: torch.stack(v) for key, v in hist.items()}, guided=guided,
            masks=None if masks is None else objective.masks.cpu(), color_matrices=matrices,
            seconds=seconds, steps_per_second=self.steps / max(seconds, 1e-9), settings=self.settings(),
        )

    # -- the two modes ------------------------------------------------------------------------------------------
    def edit(self, references: Tensor, attributes: Mapping[str, int], pool: LabelledPool, landmarks: Any = None,
             *, detector: Any = None, exclude_identities: Optional[Sequence[int]] = None) -> CNIAResult:
        """CNIA Algorithm 1 end to end: guided sets from the pool, masks, optimisation, colour transfer.

        Args:
            references: ``(B, 3, H, W)`` faces in [0, 1], the size of the pool's images.
            attributes: ``{name: 1 or 0}`` wanted, e.g. ``{"Eyeglasses": 1}`` (the same for the whole batch).
            pool: the labelled pool (:meth:`LabelledPool.with_flips` applied, as in the paper).
            landmarks: ``(B, 68, 2)``; or give ``detector``.
            detector: a :class:`~facekit.landmarks.LandmarkDetector` used when ``landmarks`` is ``None``.
            exclude_identities: per reference, a person id to leave out of its guided set.

        Returns:
            a :class:`CNIAResult` (``guided`` holds each reference's guided set).

        Raises:
            ValueError: bad shapes, a reference without landmarks, the pool lacks an attribute, or has fewer than
                ``k`` images with it.
            NoFaceFoundError: the detector finds no face in a reference.
        """
        check_image(references, name="references")
        lm = self.landmarks_of(references, landmarks, detector)
        guided = self.guided_sets(references, lm, pool, attributes, exclude_identities)
        guides = torch.stack([g.images for g in guided])  # (B, k, 3, H, W)
        weights = torch.stack([g.weights for g in guided])  # (B, k)
        masks = self.masks(lm, attributes, references.shape[-2:]) if self.mask else None
        return self.generate(references, guides, weights, masks, guided)

    def edit_with_guides(self, references: Tensor, guides: Tensor, landmarks: Any = None,
                         attributes: Optional[Union[Mapping[str, int], Sequence[str]]] = None,
                         weights: Optional[Tensor] = None, *, detector: Any = None) -> CNIAResult:
        """CNIA sec. 4.2: borrow attributes from given guided faces (no search).

        Args:
            references: ``(B, 3, H, W)``.
            guides: ``(B, k, 3, H, W)``, ``(k, 3, H, W)`` (the same guides for every reference) or ``(B, 3, H, W)``
                (one guide per reference).
            landmarks: ``(B, 68, 2)`` of the references; needed only for the masks.
            attributes: the attribute names whose masks restrict the edit (e.g. ``["Mouth_Slightly_Open"]``, the
                paper's Fig. 5 borrows the mouth); ``None``: no mask.
            weights: ``(B, k)`` :math:`w_i` (default uniform).
            detector: detects the landmarks when they are needed and not given.

        Returns:
            a :class:`CNIAResult`.
        """
        check_image(references, name="references")
        b = references.shape[0]
        g = torch.as_tensor(guides)
        if g.ndim == 4 and g.shape[0] == b and g.shape[1] == 3:
            g = g[:, None]  # one guide per reference
        elif g.ndim == 4:
            g = g[None].expand(b, *g.shape)  # the same guides for every reference
        if g.ndim != 5 or g.shape[2:] != references.shape[1:]:
            raise ValueError(f"guides must be (B, k, 3, H, W), (k, 3, H, W) or (B, 3, H, W) matching references "
                             f"{tuple(references.shape)}; got {tuple(torch.as_tensor(guides).shape)}")
        masks = None
        if self.mask and attributes:
            lm = self.landmarks_of(references, landmarks, detector)
            masks = self.masks(lm, attributes, references.shape[-2:])
        return self.generate(references, g, weights, masks)


def cnia_edit(references: Tensor, attributes: Mapping[str, int], pool: LabelledPool, landmarks: Any = None,
              net: Optional[FeatureNet] = None, **settings: Any) -> CNIAResult:
    """One call: ``CNIA(net, **settings).edit(references, attributes, pool, landmarks)``.

    Example:
        >>> from facekit.nn import SynthFaceNet
        >>> pool = LabelledPool(torch.rand(6, 3, 32, 32), torch.rand(6, 68, 2) * 32, torch.ones(6, 1), ("Smiling",))
        >>> out = cnia_edit(torch.rand(1, 3, 32, 32), {"Smiling": 1}, pool, torch.rand(1, 68, 2) * 32,
        ...                 net=SynthFaceNet(input_size=32).eval(), steps=2, progress=False, mask=False,
        ...                 color=False)
        >>> len(out.guided[0]), float(out.guided[0].weights.sum())
        (5, 1.0)
    """
    return CNIA(net, **settings).edit(references, attributes, pool, landmarks)


# ----------------------------------------------------------------------------------------------------------------
# The paper's attributes, and exact before / after pairs on SynthFaces
# ----------------------------------------------------------------------------------------------------------------

PAPER_ATTRIBUTES: Dict[str, Dict[str, int]] = {
    "with glasses": {"Eyeglasses": 1},
    "mouth closed": {"Mouth_Slightly_Open": 0},
    "mouth open": {"Mouth_Slightly_Open": 1},
    "pointy nose": {"Pointy_Nose": 1},
    "big nose": {"Big_Nose": 1},
    "smile": {"Smiling": 1},
}
"""The six edits of CNIA Fig. 4, as SynthFaces / CelebA labels (SynthFaces has no ``Mouth_Closed``: a closed mouth
is ``Mouth_Slightly_Open = 0``; on LFW use its own ``"Mouth Closed"`` label)."""


def synth_edit_pairs(dataset: Any, attributes: Mapping[str, int], n: int, start: int = 0) -> Dict[str, Tensor]:
    """Sources without the wanted attributes and their exact counterfactuals with them, from SynthFaces.

    Item ``i`` of ``dataset`` is rendered twice, everything else equal (person, pose, light, backdrop): with each
    attribute of ``attributes`` set to the opposite of the wanted value (the source, the reference of CNIA) and to
    the wanted value (the ground truth no real dataset has).

    Args:
        dataset: a :class:`~facekit.data.SynthFaces`.
        attributes: ``{name: wanted 0 or 1}``.
        n: how many pairs; ``start``: the first item.

    Returns:
        ``{"sources", "counterfactuals"}`` ``(n, 3, H, W)``, ``"landmarks"`` ``(n, 68, 2)`` (of the sources) and
        ``"identities"`` ``(n,)``.
    """
    srcs, cfs, lms, ids = [], [], [], []
    for i in range(start, start + n):
        spec = dataset.spec(i)
        before = {**spec["attributes"], **{k: 1 - int(v) for k, v in attributes.items()}}
        after = {**spec["attributes"], **{k: int(v) for k, v in attributes.items()}}
        src = dataset.render({**spec, "attributes": before})
        srcs.append(src["image"])
        lms.append(src["landmarks"])
        ids.append(int(spec["identity"]))
        cfs.append(dataset.render({**spec, "attributes": after})["image"])
    return {"sources": torch.stack(srcs), "counterfactuals": torch.stack(cfs), "landmarks": torch.stack(lms),
            "identities": torch.tensor(ids)}
