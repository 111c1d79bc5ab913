"""Shared plumbing of the real-data loaders: errors, image reading, annotation-file reading, pair sampling.

Every loader of a real dataset (:mod:`facekit.data.celeba`, :mod:`~facekit.data.lfw`, :mod:`~facekit.data.ffhq`,
:mod:`~facekit.data.multipie`, :mod:`~facekit.data.caspeal`) reads its files through this module, so that every
failure reads the same way and says what to do:

* a missing file or folder raises :class:`DatasetNotFoundError` (a ``FileNotFoundError``) that names the path,
  shows the expected folder layout and says where to get the data;
* a malformed annotation line raises :class:`AnnotationFormatError` (a ``ValueError``) that names the file, the
  line number, what was expected and what was found;
* an image that is missing, corrupt or truncated raises :class:`ImageReadError` (an ``OSError``); one of the wrong
  size raises :class:`ImageSizeError` (a ``ValueError``). Both name the file.

All of them derive from :class:`FacekitDataError`, so ``except FacekitDataError`` catches any data problem.

Example:
    >>> import numpy as np, tempfile, pathlib
    >>> from PIL import Image
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "face.png"
    >>> Image.fromarray(np.zeros((218, 178, 3), np.uint8)).save(path)
    >>> read_image(path, expected_size=(178, 218)).shape   # (H, W, 3) uint8
    (218, 178, 3)
    >>> image_to_tensor(read_image(path)).shape             # (3, H, W) float in [0, 1]
    torch.Size([3, 218, 178])
"""

from __future__ import annotations

import numbers
import os
import random
import re
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Hashable, Mapping, Optional, Sequence, Union

import cv2
import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

__all__ = [
    "attribute_value",
    "FacekitDataError",
    "DatasetNotFoundError",
    "AnnotationFormatError",
    "ImageReadError",
    "ImageSizeError",
    "DownloadError",
    "PathLike",
    "read_image",
    "image_to_tensor",
    "crop_and_resize",
    "center_box",
    "parse_size",
    "read_lines",
    "require_file",
    "require_dir",
    "identity_pairs",
    "split_by_identity",
]

PathLike = Union[str, Path]

_LINE_PREVIEW = 160  # characters of an offending line shown in an error message


# --------------------------------------------------------------------------------------------------- errors


class FacekitDataError(Exception):
    """Base class of every error raised by facekit's dataset loaders."""


class DatasetNotFoundError(FacekitDataError, FileNotFoundError):
    """A dataset file or folder is missing. The message names it, shows the expected layout and what to do."""


class AnnotationFormatError(FacekitDataError, ValueError):
    """An annotation file does not have the expected format.

    Attributes:
        path: the file.
        line_no: 1-based line number of the offending line (``None`` for a whole-file problem).
    """

    def __init__(self, path: PathLike, line_no: Optional[int], problem: str, expected: str = "",
                 got: Optional[str] = None) -> None:
        self.path = Path(path)
        self.line_no = line_no
        where = f"{self.path}" + (f", line {line_no}" if line_no is not None else "")
        msg = f"{where}: {problem}"
        if expected:
            msg += f"\n  expected: {expected}"
        if got is not None:
            shown = got if len(got) <= _LINE_PREVIEW else got[:_LINE_PREVIEW] + " ..."
            msg += f"\n  got:      {shown!r}"
        super().__init__(msg)


class ImageReadError(FacekitDataError, OSError):
    """An image file is missing, unreadable, corrupt or truncated. The message names the file."""


class ImageSizeError(FacekitDataError, ValueError):
    """An image does not have the size its dataset guarantees. The message names the file and both sizes."""


class DownloadError(FacekitDataError, RuntimeError):
    """An automatic download failed. The message explains the manual download and the folder layout."""


# --------------------------------------------------------------------------------------------------- files



def attribute_value(name: str, value: Any) -> int:
    """The one reading of an attribute value in facekit: ``1`` (present) or ``0`` (absent).

    Accepts ``1`` / ``True`` (present) and ``0`` / ``False`` / CelebA's ``-1`` (absent), as Python or NumPy
    numbers; anything else (``2``, ``0.5``, ``nan``, a string) is a ``ValueError`` that names the attribute. Used by
    :func:`~facekit.data.synthfaces.render`, CNIA's pool selection and :func:`facekit.eval.target_matrix`, so
    ``{"Eyeglasses": -1}`` means "without glasses" everywhere.

    Example:
        >>> attribute_value("Eyeglasses", -1), attribute_value("Smiling", True)
        (0, 1)
    """
    if type(value) is int and value in (0, 1, -1):  # the common case, without the slower checks below
        return int(value == 1)
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, numbers.Real) and float(value) in (0.0, 1.0, -1.0):
        return int(float(value) == 1.0)
    raise ValueError(f"attribute {name!r} must be 0 or 1 (absent / present; True/False; CelebA's -1 also means "
                     f"absent), got {value!r}")

def require_file(path: Path, what: str, layout: str, help_text: str = "") -> Path:
    """Return ``path`` if it is a file, else raise :class:`DatasetNotFoundError` with the layout and advice.

    Args:
        path: the file that must exist.
        what: a short description (``"CelebA attribute file"``).
        layout: the expected folder tree, shown in the message.
        help_text: what to do (where to download, which argument to pass).
    """
    if path.is_file():
        return path
    problem = "is a folder, not a file" if path.exists() else "not found"
    raise DatasetNotFoundError(_missing_message(f"{what} {problem}: {path}", layout, help_text))


def require_dir(path: Path, what: str, layout: str, help_text: str = "") -> Path:
    """Return ``path`` if it is a folder, else raise :class:`DatasetNotFoundError` (see :func:`require_file`)."""
    if path.is_dir():
        return path
    problem = "is a file, not a folder" if path.exists() else "not found"
    raise DatasetNotFoundError(_missing_message(f"{what} {problem}: {path}", layout, help_text))


def _missing_message(headline: str, layout: str, help_text: str) -> str:
    msg = headline
    if layout:
        msg += "\nExpected layout:\n" + "\n".join("    " + line for line in layout.strip("\n").splitlines())
    if help_text:
        msg += "\n" + help_text.strip()
    return msg


def read_lines(path: Path, what: str, layout: str = "", help_text: str = "") -> list[str]:
    """Read a text annotation file into a list of lines without line endings (CRLF, LF or CR all work).

    A UTF-8 byte-order mark is dropped; files that are not UTF-8 are read as Latin-1. An HTML page saved under
    the annotation file's name (what a failed Google-Drive download leaves behind) is reported as such.

    Args:
        path: the file.
        what: a short description for error messages.
        layout: the expected folder tree, shown when the file is missing.
        help_text: what to do when the file is missing.

    Returns:
        The lines; ``lines[i]`` is line ``i + 1`` of the file.

    Raises:
        DatasetNotFoundError: the file does not exist.
        AnnotationFormatError: the file is empty or is an HTML page.
    """
    require_file(path, what, layout, help_text)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise AnnotationFormatError(path, None, f"the {what} is empty", "the annotation rows of the dataset")
    head = text.lstrip()[:200].lower()
    if head.startswith("<!doctype html") or head.startswith("<html"):
        raise AnnotationFormatError(
            path, 1, f"the {what} is an HTML page, not an annotation file (a failed download, e.g. Google "
            "Drive's 'Quota exceeded' page, saved under the file's name); delete it and download it again",
            "plain-text annotation rows", lines[0])
    return lines


# --------------------------------------------------------------------------------------------------- images


def read_image(path: PathLike, expected_size: Optional[tuple[int, int]] = None, *, grayscale: bool = False,
               size_hint: str = "") -> np.ndarray:
    """Read an image file into a ``uint8`` array, with errors that name the file.

    Args:
        path: the image file (any format Pillow reads: JPEG, PNG, TIFF, ...).
        expected_size: ``(width, height)`` the image must have, or ``None`` to accept any size.
        grayscale: return one channel (``(H, W)``) instead of RGB (``(H, W, 3)``).
        size_hint: a sentence appended to the wrong-size message (what the user probably has instead).

    Returns:
        ``(H, W, 3)`` RGB (or ``(H, W)`` grey) ``uint8`` array.

    Raises:
        ImageReadError: the file is missing, is not an image, or is corrupt / truncated.
        ImageSizeError: ``expected_size`` is given and the image has another size.

    Example:
        >>> read_image("no/such/file.jpg")  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        ...
        facekit.data._common.ImageReadError: image file not found: no/such/file.jpg
    """
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"image file not found: {path}" + (" (it is a folder)" if path.exists() else ""))
    try:
        with Image.open(path) as img:
            img.load()  # decode now: a truncated or corrupt file fails here, not later in a DataLoader worker
            width, height = img.size
            if expected_size is not None and (width, height) != tuple(expected_size):
                exp_w, exp_h = expected_size
                raise ImageSizeError(
                    f"image {path} is {width}x{height} (width x height) but {exp_w}x{exp_h} was expected."
                    + (f" {size_hint}" if size_hint else ""))
            array = np.array(img.convert("L" if grayscale else "RGB"), dtype=np.uint8)  # a writable copy
    except UnidentifiedImageError as err:
        raise ImageReadError(
            f"cannot read image {path}: not a valid image file (corrupt, empty, or an HTML page saved by a "
            "failed download?); delete it and copy it again") from err
    except (OSError, SyntaxError, ValueError) as err:
        if isinstance(err, FacekitDataError):
            raise
        raise ImageReadError(f"cannot decode image {path}: {err} (the file is corrupt or truncated; copy it again)"
                             ) from err
    return array


def image_to_tensor(image: np.ndarray, grayscale: bool = False) -> torch.Tensor:
    """Convert an ``(H, W, 3)`` or ``(H, W)`` ``uint8`` array to a ``(C, H, W)`` float tensor in ``[0, 1]``.

    With ``grayscale=True`` an RGB image becomes ``(1, H, W)`` (ITU-R BT.601 luma, as OpenCV computes it).
    """
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, C) or (H, W) uint8 array, got shape {image.shape} {image.dtype}")
    if grayscale and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[:, :, None]
    chw = np.ascontiguousarray(image.transpose(2, 0, 1))  # (C, H, W)
    if not chw.flags.writeable:  # torch.from_numpy warns about read-only arrays
        chw = chw.copy()
    return torch.from_numpy(chw).float().div_(255.0)


def parse_size(size: Union[int, Sequence[int], None], name: str = "size") -> Optional[tuple[int, int]]:
    """Normalise an output size: ``None``, an int (a square) or ``(height, width)`` -> ``(height, width)``."""
    if size is None:
        return None
    if isinstance(size, int):
        size = (size, size)
    size = tuple(int(s) for s in size)
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"{name} must be a positive int or a (height, width) pair, got {size!r}")
    return size  # type: ignore[return-value]


def crop_and_resize(image: np.ndarray, crop: Optional[tuple[int, int, int, int]] = None,
                    size: Optional[tuple[int, int]] = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Crop a box out of an image, then resize it, and return how point coordinates move.

    Args:
        image: ``(H, W, C)`` or ``(H, W)`` ``uint8`` array.
        crop: ``(left, top, right, bottom)`` box in pixels (right/bottom exclusive), or ``None`` for no crop.
        size: output ``(height, width)``, or ``None`` to keep the cropped size.

    Returns:
        ``(image, scale, offset)``: the new image, and the ``(2,)`` arrays with which a point ``(x, y)`` of the
        input (pixel-centre convention) maps to ``(x, y) * scale + offset`` in the output.
    """
    height, width = image.shape[:2]
    left, top, right, bottom = crop if crop is not None else (0, 0, width, height)
    if not (0 <= left < right <= width and 0 <= top < bottom <= height):
        raise ValueError(f"crop box {(left, top, right, bottom)} does not fit in a {width}x{height} image")
    image = image[top:bottom, left:right]
    out_h, out_w = size if size is not None else (bottom - top, right - left)
    scale = np.array([out_w / (right - left), out_h / (bottom - top)], dtype=np.float32)
    if (out_h, out_w) != image.shape[:2]:
        resample = getattr(Image, "Resampling", Image).BILINEAR  # Pillow >= 9.1 and older
        image = np.array(Image.fromarray(image).resize((out_w, out_h), resample), dtype=np.uint8)
    # pixel centres: x_out + 0.5 = (x_in + 0.5 - left) * scale
    offset = (0.5 - np.array([left, top], dtype=np.float32)) * scale - 0.5
    return image, scale, offset.astype(np.float32)


def center_box(width: int, height: int, side: int) -> tuple[int, int, int, int]:
    """The ``(left, top, right, bottom)`` box of a ``side`` x ``side`` square at the centre of an image."""
    if side > min(width, height) or side < 1:
        raise ValueError(f"center_crop={side} does not fit in a {width}x{height} image")
    left, top = (width - side) // 2, (height - side) // 2
    return left, top, left + side, top + side


# --------------------------------------------------------------------------------------------------- pairs


def identity_pairs(identities: Sequence[Hashable], num_same: int, num_different: int,
                   seed: int = 0) -> list[tuple[int, int, bool]]:
    """Sample image pairs of the same and of different people (a face-verification protocol).

    Same-identity pairs pick a person with at least two images, then two distinct images of that person;
    different-identity pairs pick two distinct people, then one image of each. Pairs are unordered and not
    repeated. The sampling is deterministic for a given ``seed``.

    Args:
        identities: the identity of each image (index ``i`` is image ``i``).
        num_same: number of same-identity pairs.
        num_different: number of different-identity pairs.
        seed: random seed.

    Returns:
        ``[(i, j, same), ...]``: the same-identity pairs first, then the different ones.

    Raises:
        ValueError: the data cannot provide that many distinct pairs.

    Example:
        >>> pairs = identity_pairs([0, 0, 1, 1, 2], num_same=2, num_different=1, seed=0)
        >>> sorted(pair for pair in pairs if pair[2])
        [(0, 1, True), (2, 3, True)]
    """
    rng = random.Random(seed)
    groups: dict[Hashable, list[int]] = defaultdict(list)
    for index, identity in enumerate(identities):
        groups[identity].append(index)
    people = sorted(groups, key=repr)
    multi = [p for p in people if len(groups[p]) >= 2]
    max_same = sum(len(groups[p]) * (len(groups[p]) - 1) // 2 for p in multi)
    n = len(identities)
    max_diff = n * (n - 1) // 2 - sum(len(g) * (len(g) - 1) // 2 for g in groups.values())  # cross-identity pairs
    if num_same > max_same:
        raise ValueError(f"asked for {num_same} same-identity pairs, but the data has only {max_same} "
                         f"({len(multi)} identities with two or more images)")
    if num_different > max_diff:
        raise ValueError(f"asked for {num_different} different-identity pairs, but the data has only {max_diff} "
                         f"({len(people)} identities)")

    def draw(count: int, pick) -> list[tuple[int, int]]:
        chosen: set[tuple[int, int]] = set()
        out: list[tuple[int, int]] = []
        while len(out) < count:
            i, j = pick()
            key = (min(i, j), max(i, j))
            if key not in chosen:
                chosen.add(key)
                out.append(key)
        return out

    same = draw(num_same, lambda: tuple(rng.sample(groups[rng.choice(multi)], 2)))

    def pick_different() -> tuple[int, int]:
        a, b = rng.sample(people, 2)
        return rng.choice(groups[a]), rng.choice(groups[b])

    different = draw(num_different, pick_different)
    return [(i, j, True) for i, j in same] + [(i, j, False) for i, j in different]


def split_by_identity(identities: Sequence[Hashable], seed: int = 0,
                      fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)) -> list[int]:
    """Make a train / valid / test split by person, so that nobody is in two parts.

    The sorted distinct identities are permuted with ``numpy.random.default_rng(seed)``; the first
    ``round(fractions[2] * P)`` people go to test (2), the next ``round(fractions[1] * P)`` to valid (1), the rest to
    train (0); every part gets at least one person when there are three or more. Each image follows its person. To
    split by image instead (no identities), pass ``range(len(images))``.

    Args:
        identities: the identity of each image.
        seed: random seed (the split is deterministic for a seed).
        fractions: the train, valid and test shares of the people.

    Returns:
        The part of each image: 0 (train), 1 (valid) or 2 (test), in the order of ``identities``.

    Example:
        >>> split_by_identity([7, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16], seed=0).count(2)
        1
    """
    people = sorted(set(identities), key=repr)
    order = [people[i] for i in np.random.default_rng(seed).permutation(len(people))]
    n = len(people)
    n_test = round(fractions[2] * n)
    n_valid = round(fractions[1] * n)
    if n >= 3:
        n_test, n_valid = max(1, n_test), max(1, n_valid)
    part = {p: 2 for p in order[:n_test]}
    part.update({p: 1 for p in order[n_test:n_test + n_valid]})
    part.update({p: 0 for p in order[n_test + n_valid:]})
    return [part[i] for i in identities]


def scan_named_files(
    root: Path,
    pattern: "re.Pattern[str]",
    parse: Callable[[str], Any],
    filters: Mapping[str, Any],
    dataset: str,
    convention: str,
    layout: str,
    howto: str,
) -> tuple[list[Any], list[Path]]:
    """Walk ``root`` for files whose names match ``pattern``, parse each, keep those that pass ``filters``.

    The licensed datasets (Multi-PIE, CAS-PEAL-R1) encode everything in their file names; this is their shared scan.

    Args:
        root: the dataset folder (it must exist).
        pattern: a compiled regex the file name must match.
        parse: file path -> a record with attributes named as the keys of ``filters``.
        filters: ``{field: allowed values}``; ``None`` values are ignored (no filter on that field).
        dataset, convention, layout, howto: for the error message when nothing is found.

    Returns:
        ``(records, paths)``, sorted by file name then path.

    Raises:
        DatasetNotFoundError: no file matches (the message shows the naming convention, layout and how to get it).
    """
    active = {field: set(values) for field, values in filters.items() if values is not None}
    found: list[tuple[Any, Path]] = []
    for folder, _, files in os.walk(root):
        for file in files:
            if not pattern.match(file):
                continue
            record = parse(os.path.join(folder, file))
            if all(getattr(record, field) in allowed for field, allowed in active.items()):
                found.append((record, Path(folder) / file))
    if not found:
        headline = f"no {dataset} image (named like {convention}) under {root}"
        raise DatasetNotFoundError(_missing_message(headline + (f" matching the filters {active}" if active else ""),
                                                    layout, howto))
    found.sort(key=lambda item: (item[1].name, str(item[1])))
    return [r for r, _ in found], [p for _, p in found]
