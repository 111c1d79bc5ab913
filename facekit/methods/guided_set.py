"""CNIA's guided set (sec. 3.2, eq. (3)-(4); Algorithm 1, steps 1-3): which faces show the wanted attributes and
look most like the reference.

*Convolutional Network for Attribute-driven and Identity-preserving Human Face Generation* (Li, Zuo, Zhang,
arXiv 1608.06434):

* a labelled pool of faces with 68 landmarks (:class:`LabelledPool`; :meth:`LabelledPool.select` keeps the images
  with the wanted attributes), augmented by horizontal flips (sec. 4: :meth:`LabelledPool.with_flips`,
  :func:`flip_landmarks` with the iBUG-68 left/right permutation :data:`IBUG68_FLIP`);
* the pose distance on 68 landmarks (:func:`pose_distance`, eq. (3)) and the content distance (CNIA eq. (1)), each
  normalised over the candidates and mixed (:func:`similarity_distance`, eq. (4));
* the ``k`` nearest candidates with weights :math:`w_i` summing to 1 (:func:`find_guided_sets`, :class:`GuidedSet`).

The rest of the method (the objective, eq. (5)-(9), and Algorithm 1's optimisation) is in
:mod:`facekit.methods.cnia`, which re-exports every name of this module. DIAT's "attribute guided set" (all the
images with the attribute, its sec. 3.1) is :meth:`LabelledPool.select` alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Mapping, Optional, Sequence, Union

import numpy as np
import torch
from torch import Tensor

from facekit.data._common import attribute_value
from facekit.landmarks import NoFaceFoundError
from facekit.losses import content_loss
from facekit.nn import FeatureExtractor, FeatureNet, LayerSpec
from facekit.nn.features import check_image


# ----------------------------------------------------------------------------------------------------------------
# Horizontal flips (CNIA sec. 4: "we augment the dataset by flipping the images horizontally")
# ----------------------------------------------------------------------------------------------------------------

IBUG68_FLIP: tuple[int, ...] = (
    *range(16, -1, -1),  # jaw 0..16 reversed
    *range(26, 21, -1),  # right brow 17..21 <- left brow 26..22
    *range(21, 16, -1),  # left brow 22..26 <- right brow 21..17
    27, 28, 29, 30,  # nose bridge: on the axis
    35, 34, 33, 32, 31,  # lower nose, mirrored (33, the tip, stays)
    45, 44, 43, 42, 47, 46,  # right eye 36..41 <- left eye (outer corner 45 <-> 36, inner 42 <-> 39)
    39, 38, 37, 36, 41, 40,  # left eye 42..47 <- right eye
    54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55,  # outer lip 48..59 (51 and 57 stay)
    64, 63, 62, 61, 60, 67, 66, 65,  # inner lip 60..67 (62 and 66 stay)
)
"""For each iBUG-68 index, the index of its mirror image: after a horizontal flip, point ``i`` of the flipped face
is point ``IBUG68_FLIP[i]`` of the original, mirrored (the subject's right eye becomes the left eye)."""


def flip_landmarks(landmarks: Union[Tensor, np.ndarray], width: int) -> Union[Tensor, np.ndarray]:
    """Mirror 68 landmarks for a horizontally flipped image of ``width`` pixels (pixel-centre coordinates).

    ``x -> width - 1 - x`` (pixel ``j`` goes to ``width - 1 - j``, as :func:`torch.flip` does), and the points are
    re-ordered by :data:`~facekit.methods.guided_set.IBUG68_FLIP` so that index 36 is still the outer corner of the
    subject's right eye.

    Args:
        landmarks: ``(..., 68, 2)`` ``(x, y)`` pixel coordinates (tensor or array).
        width: the image width in pixels.

    Returns:
        the mirrored landmarks, same type and shape.

    Raises:
        ValueError: landmarks not of shape ``(..., 68, 2)``.

    Example:
        >>> lm = np.zeros((68, 2)); lm[36] = (10.0, 5.0)        # outer corner of the right eye
        >>> flip_landmarks(lm, 64)[45].tolist()                  # becomes the outer corner of the left eye
        [53.0, 5.0]
    """
    if tuple(landmarks.shape[-2:]) != (68, 2):
        raise ValueError(f"landmarks must be (..., 68, 2) iBUG points; got shape {tuple(landmarks.shape)}")
    perm = list(IBUG68_FLIP)
    out = landmarks[..., perm, :]
    out = out.clone() if isinstance(out, Tensor) else np.array(out, copy=True)
    out[..., 0] = (width - 1) - out[..., 0]
    return out


def flip_images(images: Tensor) -> Tensor:
    """Mirror ``(..., H, W)`` images left-right (the last dimension)."""
    return torch.flip(images, dims=[-1])


def _norm_name(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("-", "_").replace("'", "")


# ----------------------------------------------------------------------------------------------------------------
# The labelled pool and the guided set (CNIA sec. 3.2, eq. (3)-(4))
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class LabelledPool:
    """Labelled face images with 68 landmarks: the dataset :math:`\\mathcal T` of CNIA's Algorithm 1.

    Attributes:
        images: ``(N, 3, H, W)`` RGB in [0, 1].
        landmarks: ``(N, 68, 2)`` ``(x, y)`` pixels (iBUG-68 order).
        attributes: ``(N, A)`` labels, 1 = present (0/1, or real-valued scores where > 0.5 counts as present).
        attribute_names: the ``A`` label names (CelebA / LFW spelling; matching ignores case, spaces and dashes).
        identities: ``(N,)`` int64 person ids (-1 unknown).
        flipped: ``(N,)`` bool, True for the mirrored copies added by :meth:`with_flips`.
    """

    images: Tensor
    landmarks: Tensor
    attributes: Tensor
    attribute_names: tuple[str, ...]
    identities: Optional[Tensor] = None
    flipped: Optional[Tensor] = None

    def __post_init__(self) -> None:
        n = self.images.shape[0] if isinstance(self.images, Tensor) and self.images.ndim == 4 else None
        if n is None or self.images.shape[1] != 3:
            raise ValueError(f"pool images must be (N, 3, H, W); got {tuple(getattr(self.images, 'shape', ()))}")
        self.landmarks = torch.as_tensor(self.landmarks, dtype=torch.float32)
        if tuple(self.landmarks.shape) != (n, 68, 2):
            raise ValueError(f"pool landmarks must be ({n}, 68, 2); got {tuple(self.landmarks.shape)}")
        if not torch.isfinite(self.landmarks).all():
            bad = (~torch.isfinite(self.landmarks)).flatten(1).any(1).nonzero().flatten().tolist()
            raise ValueError(f"pool images {bad[:10]} have no (finite) landmarks; drop them first")
        self.attributes = torch.as_tensor(self.attributes, dtype=torch.float32)
        self.attribute_names = tuple(self.attribute_names)
        if tuple(self.attributes.shape) != (n, len(self.attribute_names)):
            raise ValueError(
                f"pool attributes must be (N, A) = ({n}, {len(self.attribute_names)}); got {tuple(self.attributes.shape)}"
            )
        self.identities = (torch.full((n,), -1, dtype=torch.int64) if self.identities is None
                           else torch.as_tensor(self.identities, dtype=torch.int64).reshape(n))
        self.flipped = (torch.zeros(n, dtype=torch.bool) if self.flipped is None
                        else torch.as_tensor(self.flipped, dtype=torch.bool).reshape(n))

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __repr__(self) -> str:
        return (f"LabelledPool(images={len(self)} ({int(self.flipped.sum())} flipped), size={tuple(self.images.shape[-2:])}, "
                f"attributes={len(self.attribute_names)})")

    @classmethod
    def from_dataset(
        cls,
        dataset: Any,
        indices: Optional[Sequence[int]] = None,
        *,
        detector: Any = None,
        attribute_names: Optional[Sequence[str]] = None,
        progress: bool = False,
    ) -> "LabelledPool":
        """Collect a pool from a dataset whose items are dicts with ``image``, ``attributes`` (and ``landmarks``).

        Works with :class:`~facekit.data.SynthFaces` (exact landmarks), :func:`facekit.data.pairs.guided_pool`, and
        the real-data loaders (:class:`~facekit.data.LFW`, :class:`~facekit.data.CelebA`), whose items have no
        68-point landmarks: pass a ``detector`` (:func:`facekit.landmarks.get_detector`); images where it finds no
        face are skipped (their count is in the printed summary when ``progress``).

        Args:
            dataset: the dataset (``len`` and ``[i]``); its ``attribute_names`` name the labels.
            indices: which items (default: all).
            detector: a :class:`~facekit.landmarks.LandmarkDetector` for items without ``landmarks``.
            attribute_names: the label names, when the dataset has no ``attribute_names``.
            progress: show a progress bar.

        Returns:
            a :class:`LabelledPool`.

        Raises:
            ValueError: an item has no landmarks and no detector was given; no item is left.
        """
        names = attribute_names if attribute_names is not None else getattr(dataset, "attribute_names", None)
        if names is None:
            raise ValueError("the dataset has no attribute_names: pass attribute_names=")
        idx = list(range(len(dataset))) if indices is None else [int(i) for i in indices]
        it: Any = idx
        if progress:
            from tqdm.auto import tqdm

            it = tqdm(idx, desc="labelled pool")
        images, lms, attrs, ids = [], [], [], []
        skipped = 0
        for i in it:
            item = dataset[i]
            image = item["image"]
            if "landmarks" in item and item["landmarks"] is not None and tuple(item["landmarks"].shape) == (68, 2):
                lm = torch.as_tensor(item["landmarks"], dtype=torch.float32)
            elif detector is not None:
                try:
                    lm = torch.as_tensor(detector.detect(image), dtype=torch.float32)
                except NoFaceFoundError:
                    skipped += 1
                    continue
            else:
                raise ValueError(
                    f"item {i} has no 68-point landmarks; pass detector=facekit.landmarks.get_detector('auto')"
                )
            images.append(image)
            lms.append(lm)
            attrs.append(torch.as_tensor(item["attributes"], dtype=torch.float32))
            ids.append(int(item["identity"]) if "identity" in item else -1)
        if not images:
            raise ValueError(f"no usable image: the detector found no face in any of the {len(idx)} items")
        if progress and skipped:
            print(f"labelled pool: {skipped} of {len(idx)} images skipped (no face found)")
        return cls(torch.stack(images), torch.stack(lms), torch.stack(attrs), tuple(names), torch.tensor(ids))

    def with_flips(self) -> "LabelledPool":
        """The pool plus its horizontal mirror images (CNIA sec. 4), landmarks mirrored with
        :data:`~facekit.methods.guided_set.IBUG68_FLIP`.

        Labels and identities are kept (a flip does not change the visible attributes).

        Returns:
            a pool twice as long: the originals, then their mirrors in the same order.
        """
        w = self.images.shape[-1]
        return LabelledPool(
            torch.cat([self.images, flip_images(self.images)]),
            torch.cat([self.landmarks, flip_landmarks(self.landmarks, w)]),
            torch.cat([self.attributes, self.attributes]),
            self.attribute_names,
            torch.cat([self.identities, self.identities]),
            torch.cat([self.flipped, ~self.flipped]),
        )

    def subset(self, indices: Union[Tensor, Sequence[int]]) -> "LabelledPool":
        """The pool restricted to ``indices``."""
        idx = torch.as_tensor(indices, dtype=torch.int64)
        return LabelledPool(self.images[idx], self.landmarks[idx], self.attributes[idx], self.attribute_names,
                            self.identities[idx], self.flipped[idx])

    def attribute_index(self, name: str) -> int:
        """Column of label ``name`` (case, spaces and dashes ignored).

        Raises:
            ValueError: the pool has no such label (the message lists the ones it has).
        """
        want = _norm_name(name)
        for j, have in enumerate(self.attribute_names):
            if _norm_name(have) == want:
                return j
        raise ValueError(
            f"the pool has no attribute {name!r}; its labels are: {', '.join(self.attribute_names)}"
        )

    def select(self, attributes: Mapping[str, int]) -> Tensor:
        """CNIA Algorithm 1, step 1: the indices of the images whose labels satisfy ``attributes``.

        Args:
            attributes: ``{name: 1 or 0}`` (present / absent; CelebA's ``-1`` also means absent, as everywhere in
                facekit: :func:`facekit.data._common.attribute_value`), e.g. ``{"Eyeglasses": 1}`` or, for "mouth
                closed" on SynthFaces, ``{"Mouth_Slightly_Open": 0}``.

        Returns:
            ``(m,)`` int64 indices into the pool (possibly empty).

        Raises:
            ValueError: ``attributes`` is empty, names a label the pool does not have, or gives a value that is
                not 1, 0 or -1.
        """
        if not attributes:
            raise ValueError("give at least one attribute, e.g. {'Eyeglasses': 1}")
        keep = torch.ones(len(self), dtype=torch.bool)
        for name, value in attributes.items():
            col = self.attributes[:, self.attribute_index(name)] > 0.5  # (N,) present
            keep &= col if attribute_value(name, value) else ~col
        return keep.nonzero().flatten()


@dataclass
class GuidedSet:
    """The guided set :math:`\\mathcal G(\\text{attributes}) = \\{s_1, ..., s_k\\}` of one reference (CNIA sec. 3.2).

    Attributes:
        images: ``(k, 3, H, W)`` the guide faces :math:`s_i`.
        weights: ``(k,)`` :math:`w_i` of eq. (5), summing to 1.
        landmarks: ``(k, 68, 2)`` their landmarks (``None`` in guided-image mode when not given).
        indices: ``(k,)`` their indices in the pool (``None`` in guided-image mode).
        distance: ``(k,)`` :math:`D_a` of eq. (4), ascending (``None`` in guided-image mode).
        pose_distance: ``(k,)`` :math:`D_p` of eq. (3).
        content_distance: ``(k,)`` CNIA eq. (1) between each guide and the reference.
        candidates: :math:`m`, the size of :math:`\\mathcal D(\\text{attributes})` the guides were chosen from.
    """

    images: Tensor
    weights: Tensor
    landmarks: Optional[Tensor] = None
    indices: Optional[Tensor] = None
    distance: Optional[Tensor] = None
    pose_distance: Optional[Tensor] = None
    content_distance: Optional[Tensor] = None
    candidates: Optional[int] = None

    def __len__(self) -> int:
        return int(self.images.shape[0])


def pose_distance(landmarks: Tensor, reference_landmarks: Tensor) -> Tensor:
    """CNIA eq. (3): :math:`D_p(I_i, I_r) = \\sum_{k=1}^{68} (px_i^k - px_r^k)^2 + (py_i^k - py_r^k)^2`.

    Args:
        landmarks: ``(N, 68, 2)`` landmarks of the pool images :math:`I_i`.
        reference_landmarks: ``(68, 2)`` of the reference :math:`I_r` (or ``(N, 68, 2)``, pairwise).

    Returns:
        ``(N,)`` squared pixel distances.

    Example:
        >>> pose_distance(torch.ones(2, 68, 2), torch.zeros(68, 2))
        tensor([136., 136.])
    """
    lm = torch.as_tensor(landmarks, dtype=torch.float32)
    ref = torch.as_tensor(reference_landmarks, dtype=torch.float32, device=lm.device)
    if lm.ndim != 3 or tuple(lm.shape[1:]) != (68, 2):
        raise ValueError(f"landmarks must be (N, 68, 2); got {tuple(lm.shape)}")
    if tuple(ref.shape[-2:]) != (68, 2) or ref.ndim not in (2, 3):
        raise ValueError(f"reference_landmarks must be (68, 2) or (N, 68, 2); got {tuple(ref.shape)}")
    return (lm - ref).pow(2).sum((1, 2))  # CNIA eq. (3), (N,)


def similarity_distance(pose: Tensor, content: Tensor, alpha: float = 0.5, eps: float = 1e-12) -> Tensor:
    """CNIA eq. (4): :math:`D_a = (1 - \\alpha) D_p / \\sum_k D_p + \\alpha\\, \\ell_{content} / \\sum_k \\ell_{content}`.

    Each distance is divided by its sum over the candidate set :math:`\\mathcal D(\\text{attributes})`, so the two
    scales become comparable; :math:`\\alpha \\in [0, 1]` trades pose for content.

    Args:
        pose: ``(m,)`` :math:`D_p(I_i, I_r)` (eq. (3)).
        content: ``(m,)`` :math:`\\ell_{content}^{\\phi,l}(I_i, I_r)` (eq. (1)).
        alpha: the trade-off :math:`\\alpha` (not given in the paper; 0.5 is our default).
        eps: guards a zero sum (all candidates identical to the reference).

    Returns:
        ``(m,)`` distances :math:`D_a`, summing to 1 over the candidates.

    Example:
        >>> similarity_distance(torch.tensor([1.0, 3.0]), torch.tensor([2.0, 2.0]), alpha=0.5)
        tensor([0.3750, 0.6250])
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1]; got {alpha}")
    if pose.shape != content.shape or pose.ndim != 1:
        raise ValueError(f"pose and content must both be (m,); got {tuple(pose.shape)} and {tuple(content.shape)}")
    return (1 - alpha) * pose / pose.sum().clamp_min(eps) + alpha * content / content.sum().clamp_min(eps)  # eq. (4)


def _guide_weights(distance: Tensor, weighting: str) -> Tensor:
    """:math:`w_i` with :math:`\\sum_i w_i = 1` (CNIA eq. (5)): uniform, or proportional to :math:`1/D_a`."""
    k = distance.shape[0]
    if weighting == "uniform":
        return torch.full((k,), 1.0 / k, dtype=torch.float32, device=distance.device)
    if weighting == "inverse":
        inv = 1.0 / distance.float().clamp_min(1e-12)
        return inv / inv.sum()
    raise ValueError(f"weighting must be 'uniform' or 'inverse'; got {weighting!r}")


def _check_landmarks(landmarks: Any, b: int, what: str = "references") -> Tensor:
    """``(B, 68, 2)`` float tensor, or a clear error for missing / malformed / non-finite landmarks."""
    if landmarks is None:
        raise ValueError(
            f"the {what} have no landmarks: pass landmarks= of shape ({b}, 68, 2) (SynthFaces items carry them), "
            "or detector=facekit.landmarks.get_detector('auto') to detect them"
        )
    if isinstance(landmarks, (list, tuple)):
        missing = [i for i, lm in enumerate(landmarks) if lm is None]
        if missing:
            raise ValueError(f"reference(s) {missing} have no landmarks (None); detect them or drop those images")
        landmarks = torch.stack([torch.as_tensor(lm, dtype=torch.float32) for lm in landmarks])
    lm = torch.as_tensor(landmarks, dtype=torch.float32)
    if lm.ndim == 2:
        lm = lm[None]
    if tuple(lm.shape) != (b, 68, 2):
        raise ValueError(f"landmarks must be ({b}, 68, 2) for {b} {what}; got {tuple(lm.shape)}")
    bad = (~torch.isfinite(lm)).flatten(1).any(1)
    if bad.any():
        raise ValueError(
            f"reference(s) {bad.nonzero().flatten().tolist()} have no landmarks (NaN / inf): detect them (the face "
            "detector found none?) or drop those images"
        )
    return lm


@torch.no_grad()
def find_guided_sets(
    net: Union[FeatureNet, FeatureExtractor],
    references: Tensor,
    landmarks: Any,
    pool: LabelledPool,
    attributes: Mapping[str, int],
    *,
    k: int = 5,
    alpha: float = 0.5,
    layer: LayerSpec = "relu3_1",
    weighting: str = "uniform",
    exclude_identities: Optional[Sequence[int]] = None,
    chunk: int = 256,
) -> List[GuidedSet]:
    """CNIA Algorithm 1, steps 1-3: the guided set of each reference.

    Step 1 keeps the pool images with the wanted ``attributes`` (:meth:`LabelledPool.select`); step 2 computes
    :math:`D_a` (eq. (4)) from the pose distance (eq. (3)) and the content distance (eq. (1) on ``layer``)
    to the reference; step 3 keeps the ``k`` smallest.

    Args:
        net: the face network (or a :class:`~facekit.nn.FeatureExtractor`).
        references: ``(B, 3, H, W)`` reference faces :math:`I_r`, the size of the pool's images.
        landmarks: ``(B, 68, 2)`` their landmarks.
        pool: the labelled pool (augment it with :meth:`LabelledPool.with_flips` first, as the paper does).
        attributes: ``{name: 1 or 0}`` wanted in every guide.
        k: guided-set size (CNIA sec. 4.1: 5).
        alpha: :math:`\\alpha` of eq. (4).
        layer: the layer of the content distance (CNIA: conv3_1 = ``"relu3_1"``).
        weighting: ``"uniform"`` (:math:`w_i = 1/k`) or ``"inverse"`` (:math:`w_i \\propto 1/D_a`).
        exclude_identities: per reference, a person id to leave out of its candidates (its own other photos);
            ``None`` keeps everyone.
        chunk: pool images per forward pass.

    Returns:
        one :class:`GuidedSet` per reference.

    Raises:
        ValueError: bad shapes; a reference without landmarks; the pool lacks an attribute, or has fewer than
            ``k`` images with the wanted attributes; image sizes differ.
    """
    check_image(references, name="references")
    b = references.shape[0]
    lm = _check_landmarks(landmarks, b)
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int; got {k!r}")
    if tuple(pool.images.shape[-2:]) != tuple(references.shape[-2:]):
        raise ValueError(
            f"pool images are {tuple(pool.images.shape[-2:])} pixels but the references "
            f"{tuple(references.shape[-2:])}: render / resize them to one size (landmarks are in pixels)"
        )
    cand = pool.select(attributes)  # Algorithm 1 step 1: D(attributes), (m,)
    wanted = ", ".join(f"{n}={int(v)}" for n, v in attributes.items())
    if len(cand) < k:
        raise ValueError(
            f"the pool has {len(cand)} image(s) with {wanted}, fewer than k={k}: enlarge the pool "
            f"(pool.with_flips() doubles it) or lower k"
        )
    ext = net if isinstance(net, FeatureExtractor) else FeatureExtractor(net, [layer])
    name = ext.layers[0] if isinstance(net, FeatureExtractor) else ext.layers[0]
    device = next(ext.net.parameters()).device
    ref_f = ext(references.to(device))[name]  # (B, C, h, w)
    cand_f = torch.cat([ext(pool.images[cand[i:i + chunk]].to(device))[name]
                        for i in range(0, len(cand), chunk)])  # (m, C, h, w)
    cand_lm = pool.landmarks[cand].to(device)  # (m, 68, 2)
    out: List[GuidedSet] = []
    for r in range(b):
        keep = torch.ones(len(cand), dtype=torch.bool, device=device)
        if exclude_identities is not None and exclude_identities[r] is not None:
            keep = (pool.identities[cand] != int(exclude_identities[r])).to(device)
            if int(keep.sum()) < k:
                raise ValueError(f"after leaving out person {exclude_identities[r]}, fewer than k={k} candidates")
        sub = keep.nonzero().flatten()
        d_p = pose_distance(cand_lm[sub], lm[r].to(device))  # eq. (3), (m,)
        d_c = content_loss(cand_f[sub], ref_f[r : r + 1], reduction="none")  # eq. (1), (m,)
        d_a = similarity_distance(d_p, d_c, alpha)  # eq. (4), (m,)
        order = torch.argsort(d_a, stable=True)[:k]  # step 3: the k smallest
        pick = cand[sub[order].cpu()]
        out.append(GuidedSet(
            images=pool.images[pick].to(references.device),
            weights=_guide_weights(d_a[order], weighting).to(references.device),
            landmarks=pool.landmarks[pick],
            indices=pick,
            distance=d_a[order].cpu(),
            pose_distance=d_p[order].cpu(),
            content_distance=d_c[order].cpu(),
            candidates=int(len(sub)),
        ))
    return out
