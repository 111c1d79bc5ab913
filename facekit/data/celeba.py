"""CelebA (aligned and cropped): our own reader of its annotation files, and a PyTorch ``Dataset``.

CelebA (Liu, Luo, Wang, Tang. *Deep Learning Face Attributes in the Wild*, ICCV 2015;
https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html) has 202,599 aligned face images of 10,177 people, each with 40
binary attributes and 5 landmarks. CNIA and DIAT train and evaluate on it.

Why not ``torchvision.datasets.CelebA``? It checks the MD5 of every annotation file, so it refuses a subset (a
few thousand images for a laptop), and its Google-Drive download often fails. This module reads the files itself:

===================================  ==========================================================================
file                                 format (whitespace-separated, right-aligned columns, CRLF or LF)
===================================  ==========================================================================
``list_attr_celeba.txt``             line 1: image count; line 2: the 40 attribute names; then
                                     ``000001.jpg -1  1  1 -1 ...`` (40 values in {-1, 1}; -1 = absent)
``list_landmarks_align_celeba.txt``  line 1: count; line 2: ``lefteye_x lefteye_y ... rightmouth_y``; then
                                     ``000001.jpg   69  109  106  113   77  142   73  152  108  154``
``list_eval_partition.txt``          no header: ``000001.jpg 0`` (0 = train, 1 = valid, 2 = test)
``identity_CelebA.txt``              no header: ``000001.jpg 2880`` (identity 1..10177); optional
``img_align_celeba/``                ``000001.jpg`` .. ``202599.jpg``, 178x218 JPEG
===================================  ==========================================================================

Subsets are fine: the rows of ``list_attr_celeba.txt`` whose image exists define the dataset (the count on line 1
is not enforced), and the other files need a row for each of those images. The Kaggle mirror's CSV versions
(``list_attr_celeba.csv`` ...: a header line ``image_id,...``, comma-separated) are read too.

Example:
    >>> from facekit.data.celeba import CelebA
    >>> ds = CelebA(split="train", center_crop=178, size=128)   # doctest: +SKIP
    >>> sample = ds[0]                                          # doctest: +SKIP
    >>> sample["image"].shape, sample["attributes"].shape       # doctest: +SKIP
    (torch.Size([3, 128, 128]), torch.Size([40]))
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np
import torch
from torch.utils.data import Dataset

from facekit.config import cache_dir
from facekit.data._common import (
    AnnotationFormatError,
    DatasetNotFoundError,
    DownloadError,
    ImageSizeError,
    PathLike,
    center_box,
    crop_and_resize,
    identity_pairs,
    image_to_tensor,
    parse_size,
    read_image,
    split_by_identity,
)

__all__ = [
    "CELEBA_ATTRIBUTES",
    "CELEBA_LANDMARK_NAMES",
    "CELEBA_IMAGE_SIZE",
    "CELEBA_SPLITS",
    "CELEBA_TARGETS",
    "CelebA",
    "download_celeba",
    "find_celeba_root",
    "read_celeba_attributes",
    "read_celeba_landmarks",
    "read_celeba_partition",
    "read_celeba_identities",
]

CELEBA_ATTRIBUTES: tuple[str, ...] = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs", "Big_Lips", "Big_Nose",
    "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair", "Bushy_Eyebrows", "Chubby", "Double_Chin", "Eyeglasses",
    "Goatee", "Gray_Hair", "Heavy_Makeup", "High_Cheekbones", "Male", "Mouth_Slightly_Open", "Mustache",
    "Narrow_Eyes", "No_Beard", "Oval_Face", "Pale_Skin", "Pointy_Nose", "Receding_Hairline", "Rosy_Cheeks",
    "Sideburns", "Smiling", "Straight_Hair", "Wavy_Hair", "Wearing_Earrings", "Wearing_Hat", "Wearing_Lipstick",
    "Wearing_Necklace", "Wearing_Necktie", "Young",
)
"""The 40 attribute names, in the order of ``list_attr_celeba.txt``."""

CELEBA_LANDMARK_NAMES: tuple[str, ...] = ("lefteye", "righteye", "nose", "leftmouth", "rightmouth")
"""The 5 landmarks of ``list_landmarks_align_celeba.txt`` (each an ``x``, ``y`` pair, in pixels)."""

CELEBA_IMAGE_SIZE: tuple[int, int] = (178, 218)
"""``(width, height)`` of every aligned-and-cropped CelebA image."""

CELEBA_SPLITS: dict[str, Optional[int]] = {"train": 0, "valid": 1, "test": 2, "all": None}
"""Split name -> value in ``list_eval_partition.txt`` (``all`` ignores the partition)."""

CELEBA_TARGETS: tuple[str, ...] = ("image", "attributes", "identity", "landmarks5")
"""What a :class:`CelebA` item can hold (its ``targets`` argument)."""

_WILD_HOWTO = ("CelebA's in-the-wild photos are Img/img_celeba.7z ('In-The-Wild Images') in CelebA's Google Drive "
               "folder (https://drive.google.com/drive/folders/0B7EVK8r0v71pWEZsZE9oNnFzTm8); extract them into "
               "<root>/img_celeba/")
_DETECTOR_HOWTO = ("facekit detects faces and landmarks with dlib: pip install dlib-bin face_recognition_models "
                   "(or pass detector=<a facekit.landmarks.LandmarkDetector>)")



from facekit.data.celeba_files import (  # noqa: E402  (split out for size; names stay importable here)
    CELEBA_HOWTO,
    CELEBA_LAYOUT,
    read_celeba_attributes,
    read_celeba_identities,
    read_celeba_landmarks,
    read_celeba_partition,
)


# ------------------------------------------------------------------------------------------- locating files


def _has_celeba(folder: Path) -> bool:
    return any((d / f"list_attr_celeba{ext}").is_file() for d in (folder, folder / "Anno") for ext in (".txt", ".csv"))


def find_celeba_root(root: Optional[PathLike] = None) -> Path:
    """Find the CelebA folder: ``root`` or ``root/celeba`` (torchvision's layout).

    Args:
        root: the folder you put CelebA in; ``None`` means ``facekit.config.cache_dir("data") / "celeba"``.

    Returns:
        The folder that holds ``list_attr_celeba.txt`` (directly or in ``Anno/``).

    Raises:
        DatasetNotFoundError: neither folder holds CelebA; the message shows the layout and how to get the data.
    """
    base = Path(root).expanduser() if root is not None else cache_dir("data", create=False) / "celeba"
    for candidate in (base, base / "celeba"):
        if _has_celeba(candidate):
            return candidate
    raise DatasetNotFoundError(
        f"CelebA not found: no list_attr_celeba.txt in {base} nor in {base / 'celeba'}"
        + ("" if base.exists() else f" ({base} does not exist)")
        + "\nExpected layout:\n" + "\n".join("    " + line for line in CELEBA_LAYOUT.splitlines())
        + "\n" + CELEBA_HOWTO)


def _find_list(root: Path, stem: str, subfolder: str) -> Path:
    """Locate a list file: ``root/stem.txt``, ``root/<subfolder>/stem.txt``, then the ``.csv`` variants."""
    for ext in (".txt", ".csv"):
        for folder in (root, root / subfolder):
            if (folder / (stem + ext)).is_file():
                return folder / (stem + ext)
    return root / (stem + ".txt")  # does not exist: the reader raises the explanatory error


def _find_images(root: Path, name: str = "img_align_celeba", required: bool = True) -> Optional[Path]:
    for candidate in (root / name / name,  # the Kaggle zip nests the folder
                      root / name, root / "Img" / name):
        if candidate.is_dir():
            return candidate
    if not required:
        return None
    raise DatasetNotFoundError(
        f"CelebA image folder not found: {root / 'img_align_celeba'} (unzip img_align_celeba.zip inside {root})"
        "\nExpected layout:\n" + "\n".join("    " + line for line in CELEBA_LAYOUT.splitlines()) + "\n" + CELEBA_HOWTO)


# ------------------------------------------------------------------------------------------- the Dataset


class CelebA(Dataset):
    """CelebA faces with 40 attributes, identity and 5 landmarks; aligned crops or in-the-wild photos aligned by facekit.

    The dataset asks only for the files its ``targets`` need: ``list_attr_celeba.txt`` (it lists the images) and the
    images always; ``list_eval_partition.txt`` for a split other than ``"all"``; ``identity_CelebA.txt`` for
    ``identity`` (optional by default: -1 without it); ``list_landmarks_align_celeba.txt`` for ``landmarks5`` of the
    aligned crops, which facekit detects instead when the file is absent and a detector is installed.

    **In-the-wild photos** (``img_celeba/``, any size) are detected (dlib, on a copy whose long side is at most 640
    px; the largest face) and aligned by :func:`facekit.align.align_to_celeba` onto CelebA's aligned geometry (178 x
    218, the 5 points where CelebA's crops have them): the same alignment a user's own photo gets. Detection runs
    lazily, on the first ``len()``, item or table access, about 100 ms per photo here; results are cached in memory
    and on disk outside ``FACEKIT_HOME/data`` (see :mod:`facekit.data.wild`). Photos without a face are left out;
    :attr:`num_no_face` counts them (shown in ``repr`` and in one printed line). Use ``limit`` for a quick subset.

    **Split.** The official ``list_eval_partition.txt`` split is used when its three parts are all among the images
    present. Otherwise (a subset whose images are all ``train``, say) a split is made by identity, 80/10/10 of the
    people (:func:`facekit.data._common.split_by_identity`, seeded by ``split_seed``), so that no person is in two
    parts, and one printed line says so; without ``identity_CelebA.txt`` the split is by image (with a warning).
    :attr:`split_source` says which: ``"official"``, ``"made by identity"``, ``"made by image"`` or ``"all"``.

    Args:
        root: the CelebA folder (``root/`` or ``root/celeba/``, see :func:`find_celeba_root`); ``None`` means
            ``facekit.config.cache_dir("data") / "celeba"``.
        split: ``"train"``, ``"valid"``, ``"test"`` or ``"all"``.
        targets: what each item holds, among :data:`CELEBA_TARGETS`; default: every target whose source is here
            (``landmarks5`` only with the landmark file or a detector). Asking for one whose file is missing and
            cannot be made raises :class:`~facekit.data._common.DatasetNotFoundError`.
        images: ``"aligned"`` (``img_align_celeba/``), ``"wild"`` (``img_celeba/``, detected and aligned) or
            ``"auto"``: the aligned crop where it exists, otherwise the in-the-wild photo.
        attributes: the attribute names to return, in that order (default: every name of the attribute file).
        center_crop: side of a square to cut at the centre of the 178x218 image first (``None``: no crop).
        size: output ``(height, width)``, or an int for a square; ``None`` keeps the (cropped) size.
        transform: a callable applied to the ``(3, H, W)`` image tensor last (landmarks are not transformed by it).
        check_size: raise :class:`~facekit.data._common.ImageSizeError` for an aligned image that is not 178x218.
            With ``False``, a uniformly resized copy (aspect ratio 178:218 within 1 %) is accepted and its landmarks
            are scaled; any other shape is refused when landmarks from the file would have to follow it.
        skip_missing_images: drop rows whose image file is absent; with ``False`` a missing image is an error.
        limit: keep only the first ``limit`` images of the split (before detection): a quick subset.
        detector: ``"auto"`` (facekit's dlib detector when installed), a
            :class:`facekit.landmarks.LandmarkDetector`, or ``None`` (no detection: no in-the-wild photos, no
            detected landmarks).
        split_seed: seed of a made split.

    Each item is a dict with the requested targets and ``filename`` and ``index``:

    ============== ==================================================================================
    key            value
    ============== ==================================================================================
    ``image``      ``(3, H, W)`` float tensor in ``[0, 1]``, RGB
    ``attributes`` ``(A,)`` float tensor of 0/1 (order: :attr:`attribute_names`)
    ``landmarks5`` ``(5, 2)`` float tensor of ``(x, y)`` pixels in the returned image
    ``identity``   int64 tensor (-1 when ``identity_CelebA.txt`` is absent)
    ``filename``   ``"000001.jpg"``
    ``index``      position in this dataset
    ============== ==================================================================================

    :attr:`attributes`, :attr:`identities` and :attr:`landmarks` (``None`` without the ``landmarks5`` target) hold
    the whole tables; :attr:`sources` says ``"aligned"`` or ``"wild"`` per image.

    Raises:
        DatasetNotFoundError: a required file or image folder is missing (the message names it and where to get it).
        AnnotationFormatError: an annotation file is malformed (file and line in the message).
        ImportError: in-the-wild photos were asked for (``images="wild"``) and no detector is installed.
        ValueError: an unknown split, target, ``images`` value or attribute name.

    Example:
        >>> ds = CelebA("~/data/celeba", split="valid", attributes=["Eyeglasses", "Smiling"],
        ...             center_crop=178, size=64)                    # doctest: +SKIP
        >>> ds[0]["attributes"]                                        # doctest: +SKIP
        tensor([0., 1.])
        >>> wild = CelebA(split="test", images="wild", limit=24)        # doctest: +SKIP
    """

    def __init__(self, root: Optional[PathLike] = None, split: str = "train", *,
                 targets: Optional[Sequence[str]] = None, images: str = "auto",
                 attributes: Optional[Sequence[str]] = None, center_crop: Optional[int] = None,
                 size: Union[int, tuple[int, int], None] = None, transform: Optional[Callable] = None,
                 check_size: bool = True, skip_missing_images: bool = True, limit: Optional[int] = None,
                 detector: Any = "auto", split_seed: int = 0) -> None:
        if split not in CELEBA_SPLITS:
            raise ValueError(f"split={split!r} is not valid; use one of: {', '.join(CELEBA_SPLITS)}")
        if images not in ("aligned", "wild", "auto"):
            raise ValueError(f"images={images!r} is not valid; use 'aligned', 'wild' or 'auto'")
        if targets is not None:
            unknown = [t for t in targets if t not in CELEBA_TARGETS]
            if unknown or not targets:
                raise ValueError(f"unknown target(s) {unknown}; choose among: {', '.join(CELEBA_TARGETS)}")
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be a positive int or None, got {limit!r}")
        if center_crop is not None and (isinstance(center_crop, bool) or not isinstance(center_crop, (int, np.integer))
                                        or center_crop < 1):
            raise ValueError(f"center_crop must be a positive number of pixels (178 for the usual square) or None "
                             f"(no crop); got {center_crop!r}")
        self.root = find_celeba_root(root)
        self.split = split
        self.images = images
        self.size = parse_size(size)
        self.center_crop = center_crop
        self.transform = transform
        self.check_size = check_size
        self.split_seed = split_seed

        from facekit.data import wild as wild_module

        if detector == "auto":
            detector = "default" if wild_module.detector_available() else None
        self._has_detector = detector is not None

        attr_path = _find_list(self.root, "list_attr_celeba", "Anno")
        all_names, attr_table = read_celeba_attributes(attr_path)
        aligned_dir = _find_images(self.root, "img_align_celeba", required=images == "aligned")
        wild_dir = _find_images(self.root, "img_celeba", required=False)
        if images == "wild" and wild_dir is None:
            raise DatasetNotFoundError(_missing_wild(self.root))
        if images == "auto" and aligned_dir is None and wild_dir is None:
            _find_images(self.root)  # the usual "image folder not found" error, with the layout
        if images != "aligned" and wild_dir is not None and not self._has_detector:
            if images == "wild":
                raise ImportError("CelebA(images='wild') detects and aligns each in-the-wild photo, but no face "
                                  "detector is installed: " + _DETECTOR_HOWTO)
            if aligned_dir is None:
                raise ImportError(f"{wild_dir} holds in-the-wild photos, which facekit must detect and align, but "
                                  "no face detector is installed: " + _DETECTOR_HOWTO)
            wild_dir = None  # auto without a detector: the aligned crops only
        self.image_dir: Optional[Path] = aligned_dir if images != "wild" else None
        self.wild_dir: Optional[Path] = wild_dir if images != "aligned" else None

        aligned_set = set(os.listdir(self.image_dir)) if self.image_dir is not None else set()
        wild_set = set(os.listdir(self.wild_dir)) if self.wild_dir is not None else set()
        filenames = list(attr_table)
        sources = {f: "aligned" if f in aligned_set else "wild" for f in filenames if f in aligned_set | wild_set}
        present = [f for f in filenames if f in sources]
        self.num_missing_images = len(filenames) - len(present)
        folders = " and ".join(str(d) for d in (self.image_dir, self.wild_dir) if d is not None)
        if not present:
            raise DatasetNotFoundError(
                f"none of the {len(filenames)} images listed in {attr_path} is in {folders} "
                f"(e.g. {filenames[0]}); is the image folder empty or from another dataset?\n" + CELEBA_HOWTO)
        if self.num_missing_images and not skip_missing_images:
            missing = [f for f in filenames if f not in sources]
            raise DatasetNotFoundError(
                f"{len(missing)} images listed in {attr_path} are missing from {folders}, e.g. "
                f"{', '.join(missing[:5])}; copy them, or pass skip_missing_images=True to use the ones present")

        id_path = _find_list(self.root, "identity_CelebA", "Anno")
        self.has_identity = id_path.is_file()
        identities = read_celeba_identities(id_path) if self.has_identity else {}
        if self.has_identity:
            _require_rows(present, identities, id_path, attr_path)

        self.split_source = "all"
        if CELEBA_SPLITS[split] is not None:
            part_path = _find_list(self.root, "list_eval_partition", "Eval")
            partition = read_celeba_partition(part_path)
            _require_rows(present, partition, part_path, attr_path)
            parts = {partition[f] for f in present}
            if parts >= {0, 1, 2}:
                self.split_source = "official"
            else:  # made over every listed image, so that images='wild' / 'aligned' / 'auto' agree
                partition = self._make_split([f for f in filenames if f in partition], identities, part_path,
                                             parts, set(present))
            present = [f for f in present if partition[f] == CELEBA_SPLITS[split]]
            if not present:
                if self.split_source == "official":
                    raise ValueError(f"no image of split {split!r} (partition value {CELEBA_SPLITS[split]} in "
                                     f"{part_path}) among the images found in {folders}")
                raise ValueError(
                    f"no image of split {split!r} here: {part_path.name} has no {split!r} image, so facekit made a "
                    f"split ({self.split_source}, seed {split_seed}), and none of the images found in {folders} "
                    f"belongs to the people it put in {split!r}. Use more images (images='auto' also reads the "
                    "in-the-wild photos), another split_seed, or split='all'")
        if limit is not None:
            present = present[:limit]

        lm_path = _find_list(self.root, "list_landmarks_align_celeba", "Anno")
        self.landmark_source = ("file" if lm_path.is_file() else "detected" if self._has_detector
                                else "unavailable")
        self.targets = self._resolve_targets(targets, lm_path, id_path)
        landmarks: dict[str, np.ndarray] = {}
        if "landmarks5" in self.targets and lm_path.is_file():
            landmarks = read_celeba_landmarks(lm_path)
            _require_rows([f for f in present if sources[f] == "aligned"], landmarks, lm_path, attr_path)
        if "identity" in self.targets and not self.has_identity:
            warnings.warn(f"{id_path} not found: identity is -1 for every image (same-person pairs are "
                          "unavailable). It is Anno/identity_CelebA.txt in CelebA's Google Drive folder.",
                          stacklevel=2)

        names = list(attributes) if attributes is not None else all_names
        if not names:
            raise ValueError("attributes=[] names no attribute: name at least one (e.g. ['Smiling']) or pass None for "
                             "all 40 (or leave 'attributes' out of targets)")
        unknown = [n for n in names if n not in all_names]
        if unknown:
            raise ValueError(f"unknown CelebA attribute(s) {unknown}; {attr_path} has: {', '.join(all_names)}")
        columns = [all_names.index(n) for n in names]

        self.attribute_names: list[str] = names
        self._filenames: list[str] = present
        self._sources: list[str] = [sources[f] for f in present]
        self._attributes = torch.from_numpy(np.stack([attr_table[f][columns] for f in present])).float()  # (N, A)
        self._identities = torch.tensor([identities.get(f, -1) for f in present], dtype=torch.int64)  # (N,)
        nan = np.full((5, 2), np.nan, np.float32)
        self._landmarks: Optional[torch.Tensor] = (
            torch.from_numpy(np.stack([landmarks.get(f, nan) for f in present]))
            if "landmarks5" in self.targets else None)  # (N, 5, 2); NaN until detected
        self._points: dict[int, np.ndarray] = {}  # index -> detected 5 points in the photo as stored
        needs = "image" in self.targets or "landmarks5" in self.targets
        self._to_detect = [i for i, f in enumerate(present) if (sources[f] == "wild" and needs) or (
            sources[f] == "aligned" and "landmarks5" in self.targets and f not in landmarks)]
        self._cache = (wild_module.FivePointCache(None if detector == "default" else detector)
                       if self._to_detect else None)
        self.num_no_face = 0
        self.num_template_landmarks = 0
        self._detected = not self._to_detect

    # -- construction helpers

    def _make_split(self, listed: list[str], identities: dict[str, int], part_path: Path,
                    parts: set[int], present: set[str]) -> dict[str, int]:
        absent = [name for name, value in CELEBA_SPLITS.items() if value is not None and value not in parts]
        said = " or ".join(repr(a) for a in absent)
        if self.has_identity:
            listed = [f for f in listed if f in identities]
            made = split_by_identity([identities[f] for f in listed], seed=self.split_seed)
            self.split_source = "made by identity"
            wanted = CELEBA_SPLITS[self.split]
            here = [(f, p) for f, p in zip(listed, made) if f in present]
            people = {identities[f] for f, p in here if p == wanted}
            count = sum(p == wanted for _, p in here)
            print(f"CelebA: {part_path.name} has no {said} image here; made a split by identity: "
                  f"{len(people)} of {len({identities[f] for f, _ in here})} people, {count} images for "
                  f"{self.split} (seed {self.split_seed})")
        else:
            made = split_by_identity(list(range(len(listed))), seed=self.split_seed)
            self.split_source = "made by image"
            warnings.warn(f"{part_path.name} has no {said} image here and identity_CelebA.txt is absent: made an "
                          f"80/10/10 split by image (seed {self.split_seed}); the same person may be in two "
                          "parts. Add identity_CelebA.txt for a split by identity.", stacklevel=3)
        return dict(zip(listed, made))

    def _resolve_targets(self, targets: Optional[Sequence[str]], lm_path: Path, id_path: Path) -> list[str]:
        if targets is None:
            return [t for t in CELEBA_TARGETS if t != "landmarks5" or self.landmark_source != "unavailable"]
        if "landmarks5" in targets and self.landmark_source == "unavailable":
            raise DatasetNotFoundError(
                f"target 'landmarks5' needs {lm_path.name}, which is not in {self.root} (nor in Anno/), and facekit "
                f"cannot detect landmarks here: no face detector. Either download Anno/{lm_path.name} from CelebA's "
                "Google Drive folder (https://drive.google.com/drive/folders/0B7EVK8r0v71pWEZsZE9oNnFzTm8), or let "
                f"facekit detect them: {_DETECTOR_HOWTO}; or leave 'landmarks5' out of targets.")
        if "identity" in targets and not self.has_identity:
            raise DatasetNotFoundError(
                f"target 'identity' needs {id_path.name}, which is not in {self.root} (nor in Anno/): download "
                "Anno/identity_CelebA.txt from CelebA's Google Drive folder (https://drive.google.com/drive/folders/"
                "0B7EVK8r0v71pWEZsZE9oNnFzTm8; the Kaggle mirror has no identity file), or leave 'identity' out of "
                "targets.")
        return list(dict.fromkeys(targets))

    # -- lazy detection

    def _photo_path(self, index: int) -> Path:
        folder = self.wild_dir if self._sources[index] == "wild" else self.image_dir
        return folder / self._filenames[index]  # type: ignore[operator]

    def detect(self) -> "CelebA":
        """Detect the faces that need it now (otherwise done on the first access); return ``self``.

        Photos without a face are left out, counted in :attr:`num_no_face` and reported in one printed line.

        Raises:
            DatasetNotFoundError: no face was found in any photo that needed detection.
        """
        if self._detected:
            return self
        assert self._cache is not None
        from facekit.align import CELEBA_FIVE_POINT_TEMPLATE, estimate_similarity, transform_landmarks

        lost: list[int] = []
        templated: list[int] = []
        for i in self._to_detect:
            points = self._cache.get(self._photo_path(i))
            if points is None and self._sources[i] == "aligned":
                # CelebA aligned this crop on its landmarks: its mean positions are a fair stand-in
                templated.append(i)
                if self._landmarks is not None:
                    self._landmarks[i] = torch.from_numpy(CELEBA_FIVE_POINT_TEMPLATE.astype(np.float32))
                continue
            if points is None:
                lost.append(i)
                continue
            self._points[i] = points
            if self._landmarks is not None:
                if self._sources[i] == "wild":  # in the aligned crop: the points moved by the alignment matrix
                    points = transform_landmarks(points, estimate_similarity(points, CELEBA_FIVE_POINT_TEMPLATE))
                self._landmarks[i] = torch.from_numpy(points.astype(np.float32))
        self._detected = True
        self.num_template_landmarks = len(templated)
        if templated:
            print(f"CelebA: no face detected in {len(templated)} aligned crops (e.g. {self._filenames[templated[0]]}); "
                  "their landmarks5 are CelebA's mean positions (approximate)")
        num_wild = sum(self._sources[i] == "wild" for i in self._to_detect)
        if lost and len(lost) == num_wild:
            raise DatasetNotFoundError(
                f"CelebA: facekit's detector found no face in any of the {len(lost)} in-the-wild photos "
                f"(e.g. {self._photo_path(lost[0])}); are they face photos? Pass images='aligned' to use the aligned "
                "crops only, or a detector=... that finds them.")
        if lost:
            self.num_no_face = len(lost)
            print(f"CelebA: no face found in {len(lost)} of {num_wild} in-the-wild photos (e.g. "
                  f"{self._filenames[lost[0]]}); left out")
            keep = [i for i in range(len(self._filenames)) if i not in set(lost)]
            self._filenames = [self._filenames[i] for i in keep]
            self._sources = [self._sources[i] for i in keep]
            self._attributes = self._attributes[keep]
            self._identities = self._identities[keep]
            if self._landmarks is not None:
                self._landmarks = self._landmarks[keep]
            self._points = {new: self._points[old] for new, old in enumerate(keep) if old in self._points}
        if self._cache.detected:
            self.detection_ms_per_photo = 1000 * self._cache.seconds / self._cache.detected
        return self

    @property
    def filenames(self) -> list[str]:
        """The image file names, in dataset order (after detection)."""
        return self.detect()._filenames

    @property
    def sources(self) -> list[str]:
        """``"aligned"`` or ``"wild"`` for each image."""
        return self.detect()._sources

    @property
    def attributes(self) -> torch.Tensor:
        """``(N, A)`` float 0/1: the attribute table."""
        return self.detect()._attributes

    @property
    def identities(self) -> torch.Tensor:
        """``(N,)`` int64 identities (-1 without the identity file)."""
        return self.detect()._identities

    @property
    def landmarks(self) -> Optional[torch.Tensor]:
        """``(N, 5, 2)`` landmarks in the 178x218 aligned frame (``None`` without the ``landmarks5`` target)."""
        return self.detect()._landmarks

    def __len__(self) -> int:
        return len(self.detect()._filenames)

    def attribute_index(self, name: str) -> int:
        """Position of attribute ``name`` in :attr:`attribute_names` (and in each item's ``attributes``)."""
        if name not in self.attribute_names:
            raise ValueError(f"unknown attribute {name!r}; this dataset has: {', '.join(self.attribute_names)}")
        return self.attribute_names.index(name)

    def _read(self, index: int) -> tuple[np.ndarray, Optional[np.ndarray]]:
        """The ``(218, 178, 3)`` image (aligned crop, or in-the-wild photo aligned here) and its 5 points."""
        from facekit.align import align_to_celeba

        path = self._photo_path(index)
        points = self._landmarks[index].numpy() if self._landmarks is not None else None
        if self._sources[index] == "wild":
            image, _ = align_to_celeba(read_image(path), self._points[index], border="replicate")
            return image, points
        image = read_image(path, CELEBA_IMAGE_SIZE if self.check_size else None, size_hint=(
            "CelebA's aligned crops (img_align_celeba/) are all 178x218. If this is an in-the-wild photo, put it "
            "in img_celeba/ and pass images='wild' (or 'auto'): facekit detects and aligns it. If it is a uniformly "
            "resized copy of an aligned crop, pass check_size=False."))
        height, width = image.shape[:2]
        if (width, height) != CELEBA_IMAGE_SIZE and points is not None and index not in self._points:
            ratio, expected = width / height, CELEBA_IMAGE_SIZE[0] / CELEBA_IMAGE_SIZE[1]
            if abs(ratio / expected - 1) > 0.01:
                raise ImageSizeError(
                    f"image {path} is {width}x{height}: not a resized copy of a 178x218 aligned crop (aspect ratio "
                    f"{ratio:.3f}, not {expected:.3f}), so the landmarks of {_LANDMARK_FILE} cannot be moved onto "
                    "it. If it is an in-the-wild photo, put it in img_celeba/ and pass images='wild'; or leave "
                    "'landmarks5' out of targets.")
            points = points * np.array([width / CELEBA_IMAGE_SIZE[0], height / CELEBA_IMAGE_SIZE[1]], np.float32)
        return image, points

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} is out of range for this CelebA of {len(self)} images")
        self.detect()
        item: dict[str, Any] = {}
        if "image" in self.targets:
            image, points = self._read(index)
            height, width = image.shape[:2]
            crop = center_box(width, height, self.center_crop) if self.center_crop else None
            image, scale, offset = crop_and_resize(image, crop, self.size)
            tensor = image_to_tensor(image)  # (3, H, W)
            item["image"] = self.transform(tensor) if self.transform is not None else tensor
        else:  # landmarks in the frame the image would have had
            points = self._landmarks[index].numpy() if self._landmarks is not None else None
            width, height = CELEBA_IMAGE_SIZE
            left, top, right, bottom = (center_box(width, height, self.center_crop) if self.center_crop
                                        else (0, 0, width, height))
            out_h, out_w = self.size if self.size is not None else (bottom - top, right - left)
            scale = np.array([out_w / (right - left), out_h / (bottom - top)], np.float32)
            offset = (0.5 - np.array([left, top], np.float32)) * scale - 0.5
        if "attributes" in self.targets:
            item["attributes"] = self._attributes[index].clone()
        if "landmarks5" in self.targets:
            item["landmarks5"] = torch.from_numpy((points * scale + offset).astype(np.float32))
        if "identity" in self.targets:
            item["identity"] = self._identities[index].clone()
        item["filename"] = self._filenames[index]
        item["index"] = index
        return item

    def pairs(self, num_same: int, num_different: int, seed: int = 0) -> list[tuple[int, int, bool]]:
        """Sample ``(i, j, same_person)`` index pairs by identity (see :func:`facekit.data._common.identity_pairs`)."""
        if not self.has_identity:
            raise ValueError("identity pairs need identity_CelebA.txt, which was not found in " + str(self.root))
        return identity_pairs(self.identities.tolist(), num_same, num_different, seed)

    def __repr__(self) -> str:
        wild = self._sources.count("wild")
        out = (f"CelebA(root={str(self.root)!r}, split={self.split!r}, images={len(self._filenames)}"
               + (f" ({wild} in-the-wild)" if wild else "")
               + f", targets={self.targets}, attributes={len(self.attribute_names)}, size={self.size}, "
               f"center_crop={self.center_crop}, split_source={self.split_source!r})")
        notes = []
        if self.num_missing_images:
            notes.append(f"{self.num_missing_images} listed images are not on disk")
        if not self._detected:
            notes.append(f"{len(self._to_detect)} photos not yet detected")
        if self.num_no_face:
            notes.append(f"{self.num_no_face} photos without a detected face left out")
        return out + ("  # " + "; ".join(notes) if notes else "")


def _missing_wild(root: Path) -> str:
    return (f"CelebA in-the-wild image folder not found: {root / 'img_celeba'} (images='wild' reads the "
            "in-the-wild photos; use images='aligned' or 'auto' for img_align_celeba/)\nExpected layout:\n"
            + "\n".join("    " + line for line in CELEBA_LAYOUT.splitlines()) + "\n" + _WILD_HOWTO)


_LANDMARK_FILE = "list_landmarks_align_celeba.txt"


def _require_rows(filenames: Sequence[str], table: dict, path: Path, attr_path: Path) -> None:
    missing = [f for f in filenames if f not in table]
    if missing:
        raise AnnotationFormatError(
            path, None, f"no row for {len(missing)} image(s) listed in {attr_path.name} and present on disk, e.g. "
            f"{', '.join(missing[:5])}", "a row for every image used (a superset of the attribute file is fine)")


# ------------------------------------------------------------------------------------------- download


def _torchvision_download(base: Path) -> None:
    """Let torchvision fetch CelebA from Google Drive into ``base / "celeba"`` (needs ``gdown``)."""
    from torchvision.datasets import CelebA as TorchvisionCelebA

    TorchvisionCelebA(str(base), split="all", target_type="attr", download=True)


def _html_files(folder: Path) -> list[Path]:
    found = []
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            if path.is_file() and (path.suffix in (".zip", ".txt")):
                with open(path, "rb") as fh:
                    head = fh.read(512).lstrip().lower()
                if head.startswith(b"<!doctype html") or head.startswith(b"<html"):
                    found.append(path)
    return found


def _diagnose(err: BaseException, folder: Path) -> str:
    text = f"{type(err).__name__}: {err}"
    low = text.lower()
    html = _html_files(folder)
    if html:
        return (f"Google Drive returned an HTML page instead of the data (usually its 'Quota exceeded' / 'too many "
                f"users have viewed or downloaded this file' page); it was saved as "
                f"{', '.join(str(p) for p in html)}; delete those files")
    if "gdown" in low:
        return "torchvision needs the 'gdown' package for Google Drive downloads (pip install gdown, then retry)"
    if isinstance(err, ImportError) or "nms does not exist" in low:
        return "torchvision is not installed or cannot be imported here"
    if "quota" in low or "too many users" in low or "retrieve file url" in low:
        return "Google Drive refused the download ('Quota exceeded': too many downloads of this file today)"
    if "403" in low or "forbidden" in low:
        return "Google Drive answered 403 Forbidden"
    if any(s in low for s in ("urlopen", "name or service not known", "temporary failure in name resolution",
                              "network is unreachable", "connection", "timed out", "no route to host")):
        return "no network connection to Google Drive"
    if "badzipfile" in low or "not a zip file" in low:
        return "the downloaded img_align_celeba.zip is not a valid zip file (an interrupted or refused download)"
    if "corrupted" in low:
        return "a downloaded file failed its MD5 check (an interrupted or refused download)"
    return "the torchvision download raised an error"


def download_celeba(root: Optional[PathLike] = None) -> Path:
    """Download CelebA with torchvision into ``root/celeba``, or explain the manual download when that fails.

    torchvision (with the ``gdown`` package) fetches the aligned images and the lists from CelebA's Google Drive.
    That often fails: Google Drive's daily quota ("Quota exceeded", an HTML page saved in place of the zip), 403,
    or no network. Then this function raises :class:`~facekit.data._common.DownloadError` whose message gives the
    reason, the manual routes (official page, Google Drive folder, Kaggle mirror) and the folder layout.

    Args:
        root: where to download (files go to ``root/celeba/``); ``None`` means ``facekit.config.cache_dir("data")``,
            so the files land where ``CelebA()`` looks by default.

    Returns:
        The folder with the files (pass it, or ``root``, to :class:`CelebA`).

    Raises:
        DownloadError: the download failed; the message explains what to do.

    Example:
        >>> folder = download_celeba()          # doctest: +SKIP
        >>> ds = CelebA(folder, split="test")   # doctest: +SKIP
    """
    base = Path(root).expanduser() if root is not None else cache_dir("data")
    target = base / "celeba"
    try:
        _torchvision_download(base)
    except Exception as err:  # any failure becomes one explanatory error
        reason = _diagnose(err, target)
        detail = f"{type(err).__name__}: {err}"
        detail = detail if len(detail) <= 300 else detail[:300] + " ..."
        raise DownloadError(
            f"Automatic CelebA download into {target} failed: {reason}.\n(original error: {detail})\n"
            + CELEBA_HOWTO.replace("<root>", str(target))
            + "\nExpected layout:\n" + "\n".join("    " + line for line in CELEBA_LAYOUT.splitlines())
        ) from err
    return target
