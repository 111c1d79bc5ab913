"""Pair builders: the four papers' data protocols, built on SynthFaces.

* :func:`pose_pairs`: same person and light, two different poses (MultiPIE's 7 yaws); *Learning to see another
  you*, sec. 4.1.
* :func:`accessory_pairs`: same person without / with glasses or a hat, 7 states (CAS-PEAL); see-another-you,
  sec. 4.2.
* :func:`occluded_eyes_pairs`: a black bar over the eyes -> the full face; see-another-you, sec. 4.3.
* :func:`eye_face_pairs`: Haar face, then Haar eyes inside it; exactly 1 face and 2 eyes; eye crop 32x32 -> face
  128x128, two pairs per image; *From an Eye to a Face*.
* :func:`attribute_sets`: guided set (with the attribute) and input set (without), different identities; DIAT,
  sec. 3 and 4.
* :func:`guided_pool`: images with given attributes, with labels and 68 landmarks; CNIA, sec. 3.2.

The paired builders return a :class:`PairDataset` whose items are ``{"source", "target", "source_code",
"target_code", ...}``: the two images and the one-hot attribute codes (the papers' :math:`C_X`, :math:`C_Y`).
Images are rendered when first asked for and cached, since one image takes part in many pairs.

Example:
    >>> from facekit.data.pairs import pose_pairs
    >>> pairs = pose_pairs("train", n_identities=20, lights=[0, 5])
    >>> len(pairs)                     # 16 identities x 2 lights x 7 x 6 ordered pose pairs
    1344
    >>> item = pairs[0]
    >>> item["source"].shape, item["target_code"].shape, pairs.code_names[int(item["target_code"].argmax())]
    (torch.Size([1, 32, 32]), torch.Size([7]), 'yaw-30')
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence, Union

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from facekit.data.haar import eye_face_crops
from facekit.data._common import image_to_tensor
from facekit.data.synth_dataset import SynthFaces, split_identities
from facekit.data.synthfaces import (
    ATTRIBUTES,
    GLASSES_STYLES,
    HAT_STYLES,
    MULTIPIE_YAWS,
    N_LIGHTS,
    STYLE_KEYS,
    render,
)
from facekit.landmarks import IBUG68_GROUPS

__all__ = [
    "RenderSpec",
    "PairDataset",
    "ACCESSORY_STATES",
    "pose_pairs",
    "accessory_pairs",
    "occlude_eyes",
    "occluded_eyes_pairs",
    "EyeFacePairs",
    "eye_face_pairs",
    "attribute_sets",
    "guided_pool",
]


@dataclass(frozen=True)
class RenderSpec:
    """One SynthFaces image: the arguments of :func:`~facekit.data.synthfaces.render` (hashable, for caching).

    ``attributes`` is a sorted tuple of ``(name, value)`` items (:attr:`overrides` gives them as a dict);
    ``background`` is the backdrop seed (``None``: the identity's own).
    """

    identity: int
    attributes: tuple[tuple[str, Any], ...] = ()
    yaw: float = 0.0
    pitch: float = 0.0
    light: int = 0
    background: Optional[int] = None

    @classmethod
    def make(cls, identity: int, attributes: Optional[Mapping[str, Any]] = None, yaw: float = 0.0,
             pitch: float = 0.0, light: int = 0, background: Optional[int] = None) -> "RenderSpec":
        return cls(int(identity), tuple(sorted((attributes or {}).items())), float(yaw), float(pitch), int(light),
                   None if background is None else int(background))

    @property
    def overrides(self) -> dict[str, Any]:
        """The attribute overrides as a dict."""
        return dict(self.attributes)

    def render(self, size: int) -> dict[str, Any]:
        """Render this spec at ``size`` (see :func:`~facekit.data.synthfaces.render`)."""
        return render(self.identity, self.overrides, yaw=self.yaw, pitch=self.pitch, light=self.light, size=size,
                      background=self.background)


class PairDataset(Dataset):
    """Pairs of SynthFaces images with one-hot codes, rendered lazily and cached.

    Args:
        pairs: ``(source, target, source_code, target_code)``: two :class:`RenderSpec` and two indices into
            ``code_names``.
        code_names: the names of the one-hot code's entries (e.g. the 7 yaws).
        size: image side in pixels.
        grayscale: ``(1, H, W)`` grey images (the see-another-you paper works on 32x32 grey images).
        cache: keep rendered images (uint8) in memory.
        source_fn: applied to the source's rendered dict before it becomes a tensor (e.g. an occluder): takes and
            returns ``(H, W, 3)`` uint8 given the render dict.

    Items: ``source``, ``target`` (``(C, H, W)`` float in [0, 1]), ``source_code``, ``target_code``
    (``(len(code_names),)`` float32 one-hot), ``identity``, ``light`` (int64), ``source_yaw``, ``target_yaw``
    (float32).
    """

    def __init__(self, pairs: Sequence[tuple[RenderSpec, RenderSpec, int, int]], code_names: Sequence[str],
                 size: int = 32, grayscale: bool = True, cache: bool = True,
                 source_fn: Optional[Callable[[dict[str, Any]], np.ndarray]] = None) -> None:
        self.pairs = list(pairs)
        self.code_names = tuple(code_names)
        self.size = int(size)
        self.grayscale = bool(grayscale)
        self.source_fn = source_fn
        self._cache: Optional[dict[tuple[RenderSpec, bool], np.ndarray]] = {} if cache else None

    def __len__(self) -> int:
        return len(self.pairs)

    def _image(self, spec: RenderSpec, is_source: bool) -> np.ndarray:
        key = (spec, is_source and self.source_fn is not None)
        if self._cache is not None and key in self._cache:
            return self._cache[key]
        out = spec.render(self.size)
        image = self.source_fn(out) if key[1] else out["image"]
        if self._cache is not None:
            self._cache[key] = image
        return image

    def image(self, spec: RenderSpec, source: bool = False) -> np.ndarray:
        """The ``(H, W, 3)`` uint8 image of ``spec`` as a pair shows it (``source=True``: with ``source_fn``)."""
        return self._image(spec, source)

    def _onehot(self, k: int) -> torch.Tensor:
        code = torch.zeros(len(self.code_names), dtype=torch.float32)
        code[k] = 1.0
        return code

    def __getitem__(self, index: int) -> dict[str, Any]:
        source, target, cs, ct = self.pairs[index]
        return {
            "source": image_to_tensor(self._image(source, True), self.grayscale),
            "target": image_to_tensor(self._image(target, False), self.grayscale),
            "source_code": self._onehot(cs),
            "target_code": self._onehot(ct),
            "identity": torch.tensor(source.identity, dtype=torch.int64),
            "light": torch.tensor(source.light, dtype=torch.int64),
            "source_yaw": torch.tensor(source.yaw, dtype=torch.float32),
            "target_yaw": torch.tensor(target.yaw, dtype=torch.float32),
        }

    def __repr__(self) -> str:
        return (f"PairDataset(pairs={len(self)}, codes={list(self.code_names)}, size={self.size}, "
                f"grayscale={self.grayscale})")


def _identities(split: str, n_identities: int, identities: Optional[Sequence[int]], seed: int) -> list[int]:
    if identities is not None:
        ids = [int(i) for i in identities]
        if not ids or min(ids) < 0:
            raise ValueError(f"identities must be a non-empty list of non-negative ints, got {identities!r}")
        return ids
    return [int(i) for i in split_identities(n_identities, split, seed)]


def pose_pairs(split: str = "train", *, n_identities: int = 250, identities: Optional[Sequence[int]] = None,
               yaws: Sequence[float] = MULTIPIE_YAWS, lights: Iterable[int] = range(N_LIGHTS),
               attributes: Optional[Mapping[str, Any]] = None, size: int = 32, grayscale: bool = True,
               seed: int = 0, cache: bool = True) -> PairDataset:
    """MultiPIE rotation pairs: the same person under the same light, at two different poses.

    *Learning to see another you*, section 4.1: 7 poses (-45 to 45 degrees), 20 illuminations, every ordered pair
    of different poses (``P(7, 2) = 42`` per person and light: 100 x 20 x 42 = 84,000 training pairs), 32x32 grey.

    Args:
        split: identities of this split of SynthFaces (``n_identities`` in all; see
            :func:`~facekit.data.synth_dataset.split_identities`), unless ``identities`` is given.
        yaws: the poses (degrees); the codes are one-hot over them.
        lights: the illuminations.
        attributes: fixed attribute overrides for every image (default: each identity's own).
        size, grayscale: image format (the paper: 32, grey).
        seed: seed of the identity split.
        cache: keep rendered images in memory.

    Returns:
        A :class:`PairDataset`; ``code_names`` are ``"yaw-45" ... "yaw+45"``.
    """
    ids = _identities(split, n_identities, identities, seed)
    yaws = [float(y) for y in yaws]
    if len(yaws) < 2:
        raise ValueError(f"pose pairs need at least two yaws, got {yaws}")
    pairs = []
    for identity, light in itertools.product(ids, lights):
        specs = [RenderSpec.make(identity, attributes, yaw=y, light=light) for y in yaws]
        for i, j in itertools.permutations(range(len(yaws)), 2):
            pairs.append((specs[i], specs[j], i, j))
    return PairDataset(pairs, [f"yaw{y:+.0f}" if y else "yaw0" for y in yaws], size, grayscale, cache)


ACCESSORY_STATES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("none", {"Eyeglasses": 0, "Wearing_Hat": 0}),
    *((f"glasses:{s}", {"Eyeglasses": 1, "glasses_style": s, "Wearing_Hat": 0}) for s in GLASSES_STYLES),
    *((f"hat:{s}", {"Wearing_Hat": 1, "hat_style": s, "Eyeglasses": 0}) for s in HAT_STYLES),
)
"""CAS-PEAL's 7 accessory states: none, 3 glasses (round, square, sunglasses), 3 hats (cap, beanie, fedora)."""


def accessory_pairs(split: str = "train", *, n_identities: int = 540, identities: Optional[Sequence[int]] = None,
                    states: Optional[Sequence[str]] = None, yaw: float = 0.0, light: int = 0, size: int = 32,
                    grayscale: bool = True, seed: int = 0, cache: bool = True) -> PairDataset:
    """CAS-PEAL accessory pairs: the same person (same pose, light, backdrop) in two different accessory states.

    *Learning to see another you*, section 4.2: 7 states (no accessory, 3 glasses, 3 hats), every ordered pair of
    different states of a person (42 per person), 32x32 grey. CAS-PEAL-R1 has 438 people; the paper trains on 350.

    Args:
        split, n_identities, identities, seed: which people (see :func:`pose_pairs`).
        states: a subset of the names in :data:`ACCESSORY_STATES` (default all 7).
        yaw, light: the pose and light of every image (CAS-PEAL's accessory subset is frontal, normal light).
        size, grayscale, cache: as in :func:`pose_pairs`.

    Returns:
        A :class:`PairDataset`; ``code_names`` are the state names.
    """
    table = dict(ACCESSORY_STATES)
    names = list(states) if states is not None else list(table)
    unknown = [n for n in names if n not in table]
    if unknown or len(names) < 2:
        raise ValueError(f"states must be at least two of {', '.join(table)}, got {states!r}")
    pairs = []
    for identity in _identities(split, n_identities, identities, seed):
        specs = [RenderSpec.make(identity, table[n], yaw=yaw, light=light) for n in names]
        for i, j in itertools.permutations(range(len(names)), 2):
            pairs.append((specs[i], specs[j], i, j))
    return PairDataset(pairs, names, size, grayscale, cache)


def occlude_eyes(image: np.ndarray, landmarks: np.ndarray, margin: float = 0.3, value: int = 0) -> np.ndarray:
    """Cover the eyes with a bar (the occluder of see-another-you's completion task).

    The bar spans both eyes (iBUG points 36-47), widened on each side by ``margin`` times one eye's width; it is
    as high as one eye is wide, centred on the eyes.

    Args:
        image: ``(H, W, 3)`` or ``(H, W)`` uint8.
        landmarks: ``(68, 2)`` pixel coordinates.
        margin: extra width on each side, as a fraction of one eye's width.
        value: the bar's grey level (0 = black, as in the paper).

    Returns:
        A copy of ``image`` with the bar drawn.

    Example:
        >>> from facekit.data.synthfaces import render
        >>> face = render(1, size=64)
        >>> occluded = occlude_eyes(face["image"], face["landmarks"])
        >>> int(occluded[int(face["landmarks"][37, 1]), int(face["landmarks"][37, 0])].max())
        0
    """
    pts = np.asarray(landmarks, np.float32).reshape(68, 2)
    eyes = pts[list(IBUG68_GROUPS["right_eye"]) + list(IBUG68_GROUPS["left_eye"])]
    eye_w = float(np.linalg.norm(pts[39] - pts[36]) + np.linalg.norm(pts[45] - pts[42])) / 2
    x0, x1 = eyes[:, 0].min() - margin * eye_w, eyes[:, 0].max() + margin * eye_w
    cy = float(eyes[:, 1].mean())
    y0, y1 = cy - 0.5 * eye_w, cy + 0.5 * eye_w
    out = np.array(image, copy=True)
    h, w = out.shape[:2]
    r0, r1 = int(np.clip(np.floor(y0), 0, h)), int(np.clip(np.ceil(y1), 0, h))
    c0, c1 = int(np.clip(np.floor(x0), 0, w)), int(np.clip(np.ceil(x1), 0, w))
    out[r0:r1, c0:c1] = value
    return out


def occluded_eyes_pairs(split: str = "train", *, n_identities: int = 250, identities: Optional[Sequence[int]] = None,
                        yaws: Sequence[float] = MULTIPIE_YAWS, lights: Iterable[int] = range(N_LIGHTS),
                        margin: float = 0.3, size: int = 32, grayscale: bool = True, seed: int = 0,
                        cache: bool = True) -> PairDataset:
    """Image-completion pairs: a face with a black bar over the eyes -> the same face without it.

    *Learning to see another you*, section 4.3 (on MultiPIE: every pose and illumination of a person; the paper
    trains this task with an L1 loss). Source and target have the same pose and light.

    Args:
        split, n_identities, identities, seed: which people (see :func:`pose_pairs`).
        yaws, lights: the poses and lights to include (every combination, one image pair each).
        margin: the bar's extra width (see :func:`occlude_eyes`).
        size, grayscale, cache: as in :func:`pose_pairs`.

    Returns:
        A :class:`PairDataset` with ``code_names = ("occluded", "complete")``.
    """
    pairs = []
    for identity, light, yaw in itertools.product(_identities(split, n_identities, identities, seed), lights, yaws):
        spec = RenderSpec.make(identity, None, yaw=yaw, light=light)
        pairs.append((spec, spec, 0, 1))

    occlude = functools.partial(_occlude_render, margin=margin)  # picklable, for DataLoader workers
    return PairDataset(pairs, ("occluded", "complete"), size, grayscale, cache, source_fn=occlude)


def _occlude_render(out: dict[str, Any], margin: float) -> np.ndarray:
    return occlude_eyes(out["image"], out["landmarks"], margin=margin)


class EyeFacePairs(Dataset):
    """Eye crop -> face pairs (two per kept image), as tensors.

    Attributes:
        eyes: ``(N, 3, eye_size, eye_size)`` float32 in [0, 1].
        faces: ``(N, 3, face_size, face_size)`` float32 in [0, 1].
        image_index: ``(N,)`` int64, which input image each pair comes from.
        eye_index: ``(N,)`` int64, 0 = the image-left eye, 1 = the image-right eye.
        n_images: how many images were scanned; ``n_kept``: how many had exactly one face and two eyes.

    Items: ``{"eye", "face", "image_index", "eye_index"}``.
    """

    def __init__(self, eyes: torch.Tensor, faces: torch.Tensor, image_index: torch.Tensor, eye_index: torch.Tensor,
                 n_images: int) -> None:
        self.eyes, self.faces = eyes, faces
        self.image_index, self.eye_index = image_index, eye_index
        self.n_images = int(n_images)
        self.n_kept = len(image_index) // 2

    def __len__(self) -> int:
        return len(self.image_index)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"eye": self.eyes[index], "face": self.faces[index], "image_index": self.image_index[index],
                "eye_index": self.eye_index[index]}

    def __repr__(self) -> str:
        return (f"EyeFacePairs(pairs={len(self)}, kept {self.n_kept} of {self.n_images} images, "
                f"eye {tuple(self.eyes.shape[1:])}, face {tuple(self.faces.shape[1:])})")


def eye_face_pairs(images: Union[SynthFaces, Iterable[np.ndarray]], *, face_size: int = 128, eye_size: int = 32,
                   min_side: int = 128, progress: bool = False) -> EyeFacePairs:
    """The eye-to-face paper's training pairs: Haar face, Haar eyes inside it, keep images with 1 face and 2 eyes.

    *From an Eye to a Face*, "Data": two eye -> face pairs per kept image; faces resized to 128x128 and eyes to
    32x32 (bilinear); pixels in [0, 1] (see :func:`facekit.data.haar.eye_face_crops`).

    Args:
        images: a :class:`~facekit.data.SynthFaces` (its images are rendered) or an iterable of ``(H, W, 3)``
            uint8 RGB images.
        face_size, eye_size: the crops' sides (the paper: 128 and 32).
        min_side: images smaller than this are first upscaled (bilinear) to it: the cascades' windows are 24 px
            (faces) and 20 px (eyes), so they miss the eyes of a 64 px face. Render at 128 px when you can.
        progress: show a ``tqdm`` progress bar.

    Returns:
        :class:`EyeFacePairs` (possibly empty).
    """
    source: Iterable[np.ndarray]
    if isinstance(images, SynthFaces):
        ds = images
        source = (render(size=ds.size, **ds.spec(i))["image"] for i in range(len(ds)))
        total: Optional[int] = len(ds)
    else:
        source = images
        total = len(images) if hasattr(images, "__len__") else None  # type: ignore[arg-type]
    if progress:
        from tqdm.auto import tqdm

        source = tqdm(source, total=total, desc="Haar eye/face crops")
    eyes, faces, image_index, eye_index = [], [], [], []
    n = 0
    for n, image in enumerate(source, start=1):
        image = np.asarray(image)
        side = min(image.shape[:2])
        if side < min_side:
            scale = min_side / side
            image = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)),
                               interpolation=cv2.INTER_LINEAR)
        crops = eye_face_crops(image, face_size, eye_size)
        if crops is None:
            continue
        face = torch.from_numpy(crops.face.transpose(2, 0, 1).copy())  # (3, face_size, face_size)
        for k in range(2):
            eyes.append(torch.from_numpy(crops.eyes[k].transpose(2, 0, 1).copy()))  # (3, eye_size, eye_size)
            faces.append(face)
            image_index.append(n - 1)
            eye_index.append(k)
    if eyes:
        return EyeFacePairs(torch.stack(eyes), torch.stack(faces), torch.tensor(image_index),
                            torch.tensor(eye_index), n)
    return EyeFacePairs(torch.zeros(0, 3, eye_size, eye_size), torch.zeros(0, 3, face_size, face_size),
                        torch.zeros(0, dtype=torch.int64), torch.zeros(0, dtype=torch.int64), n)


def attribute_sets(attribute: str, *, split: str = "train", n_identities: int = 1000, n_guided: Optional[int] = None,
                   n_input: Optional[int] = None, size: int = 128, others: Union[None, str, Mapping[str, Any]] = None,
                   poses: Union[float, Sequence[float]] = 0.0, lights: Union[int, Sequence[int]] = 0,
                   seed: int = 0, cache: bool = False) -> tuple[SynthFaces, SynthFaces]:
    """DIAT's training sets for one attribute: a guided set (with it) and an input set (without), disjoint people.

    *Deep Identity-aware Transfer of Facial Attributes*, Algorithm 1 and section 4: "all the images with the
    reference attribute as the guided attribute set, and ... 2,000 images that are not with the reference
    attribute as the input set". The guided set's people are not the input set's: the split's identities are cut
    in two halves.

    Args:
        attribute: a name of :data:`~facekit.data.synthfaces.names.ATTRIBUTES` (e.g. ``"Mouth_Slightly_Open"``,
            ``"Male"``, ``"Eyeglasses"``).
        split, n_identities, seed: the identities to draw from (halved between the two sets).
        n_guided, n_input: the sets' lengths (default: one image per identity of each half).
        size: image side (the paper: 128).
        others: how the other attributes vary (see :class:`~facekit.data.SynthFaces`'s ``attributes``; default
            each identity's own).
        poses, lights: poses and lights to draw from.
        cache: keep rendered images in memory.

    Returns:
        ``(guided, inputs)``: two :class:`~facekit.data.SynthFaces` whose items have ``attribute`` = 1 and 0.
    """
    if attribute not in ATTRIBUTES:
        raise ValueError(f"unknown attribute {attribute!r}; valid names are: {', '.join(ATTRIBUTES)}")
    ids = split_identities(n_identities, split, seed)
    ids = np.random.default_rng([seed, 0xD1A7]).permutation(ids)
    half = len(ids) // 2
    if half < 1:
        raise ValueError(f"need at least 2 identities in split {split!r}; raise n_identities")
    base = SynthFaces._attribute_probs(others)
    kwargs = dict(size=size, poses=poses, lights=lights, seed=seed, cache=cache)
    guided = SynthFaces(identities=ids[:half], length=n_guided, attributes={**base, attribute: 1.0}, **kwargs)
    inputs = SynthFaces(identities=ids[half:], length=n_input, attributes={**base, attribute: 0.0}, **kwargs)
    return guided, inputs


def guided_pool(attributes: Mapping[str, int], *, n: int = 500, split: str = "train", n_identities: int = 1000,
                exclude: Sequence[int] = (), size: int = 64, poses: Union[float, Sequence[float]] = 0.0,
                lights: Union[int, Sequence[int]] = 0, seed: int = 0, cache: bool = True) -> SynthFaces:
    """CNIA's attribute subset: labelled images that have the given attributes, with their 68 landmarks.

    *Convolutional Network for Attribute-driven and Identity-preserving Human Face Generation*, section 3.2: the
    images of the dataset that have the wanted attributes; the guided set is then the ``k`` nearest to the
    reference face by landmark (pose) and content distance (eq. 4), chosen by the method itself.

    Args:
        attributes: ``{name: 0 or 1}`` that every image of the pool has (others keep each identity's default).
        n: pool size.
        split, n_identities, seed: the identities to draw from.
        exclude: identities to leave out (e.g. the reference person).
        size, poses, lights, cache: as in :class:`~facekit.data.SynthFaces`.

    Returns:
        A :class:`~facekit.data.SynthFaces`; items carry ``attributes`` (labels) and ``landmarks``.
    """
    ids = [int(i) for i in split_identities(n_identities, split, seed) if int(i) not in set(exclude)]
    if not ids:
        raise ValueError("no identity left after `exclude`; raise n_identities")
    fixed = {name: value if name in STYLE_KEYS else float(value) for name, value in attributes.items()}
    return SynthFaces(identities=ids, length=n, attributes=fixed, size=size, poses=poses, lights=lights, seed=seed,
                      cache=cache)
