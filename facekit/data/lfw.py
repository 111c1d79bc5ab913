"""LFW (Labeled Faces in the Wild) with the 73 attribute scores of Kumar et al.: a reader and a ``Dataset``.

LFW (Huang et al., 2007; http://vis-www.cs.umass.edu/lfw/) has 13,233 images of 5,749 people, 250x250 JPEG, in
``lfw/Name/Name_0001.jpg``. Kumar, Berg, Belhumeur, Nayar (*Attribute and Simile Classifiers for Face
Verification*, ICCV 2009) published ``lfw_attributes.txt``: 73 attribute classifier scores for 13,143 of them
(https://www.cs.columbia.edu/CAVE/databases/pubfig/download/lfw_attributes.txt). Its format:

* tab separated; line 1 a comment (``# lfw attributes file ...``);
* line 2 the header, which *begins with a* ``#`` *column*: ``#<TAB>person<TAB>imagenum<TAB>Male<TAB>Asian ...``
  (so the header has one more column than the data rows);
* then ``Aaron Eckhart<TAB>1<TAB>1.568<TAB>-1.889 ...``: the person (with spaces), the image number, 73 real
  scores; a positive score means the attribute is present.

The image of row ``(person, imagenum)`` is ``lfw/<person with spaces -> underscores>/<same>_<imagenum:04d>.jpg``.

Example:
    >>> lfw_image_relpath("Aaron Eckhart", 1)
    'Aaron_Eckhart/Aaron_Eckhart_0001.jpg'
    >>> from facekit.data.lfw import LFW
    >>> ds = LFW(attributes=["Eyeglasses", "Smiling"], center_crop=150, size=64)   # doctest: +SKIP
    >>> ds[0]["attributes"], ds[0]["attribute_scores"]                           # doctest: +SKIP
    (tensor([0., 1.]), tensor([-1.2, 0.7]))
"""

from __future__ import annotations

import math
import os
import re
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
    PathLike,
    center_box,
    crop_and_resize,
    identity_pairs,
    image_to_tensor,
    parse_size,
    read_image,
    read_lines,
    require_dir,
)

__all__ = [
    "LFW_ATTRIBUTES",
    "LFW_TARGETS",
    "LFW_IMAGE_SIZE",
    "LFW",
    "read_lfw_attributes",
    "read_lfw_pairs",
    "lfw_image_relpath",
]

LFW_ATTRIBUTES: tuple[str, ...] = (
    "Male", "Asian", "White", "Black", "Baby", "Child", "Youth", "Middle Aged", "Senior", "Black Hair",
    "Blond Hair", "Brown Hair", "Bald", "No Eyewear", "Eyeglasses", "Sunglasses", "Mustache", "Smiling",
    "Frowning", "Chubby", "Blurry", "Harsh Lighting", "Flash", "Soft Lighting", "Outdoor", "Curly Hair",
    "Wavy Hair", "Straight Hair", "Receding Hairline", "Bangs", "Sideburns", "Fully Visible Forehead",
    "Partially Visible Forehead", "Obstructed Forehead", "Bushy Eyebrows", "Arched Eyebrows", "Narrow Eyes",
    "Eyes Open", "Big Nose", "Pointy Nose", "Big Lips", "Mouth Closed", "Mouth Slightly Open", "Mouth Wide Open",
    "Teeth Not Visible", "No Beard", "Goatee", "Round Jaw", "Double Chin", "Wearing Hat", "Oval Face",
    "Square Face", "Round Face", "Color Photo", "Posed Photo", "Attractive Man", "Attractive Woman", "Indian",
    "Gray Hair", "Bags Under Eyes", "Heavy Makeup", "Rosy Cheeks", "Shiny Skin", "Pale Skin", "5 o' Clock Shadow",
    "Strong Nose-Mouth Lines", "Wearing Lipstick", "Flushed Face", "High Cheekbones", "Brown Eyes",
    "Wearing Earrings", "Wearing Necktie", "Wearing Necklace",
)
"""The 73 attribute names of ``lfw_attributes.txt``, in file order (the loader reads them from the header)."""

LFW_IMAGE_SIZE: tuple[int, int] = (250, 250)
"""``(width, height)`` of every LFW image (original, funneled and deep-funneled versions alike)."""

LFW_LAYOUT = """\
<root>/
    lfw_attributes.txt                   Kumar et al.'s 73 attribute scores (only for the 'attributes' target)
    lfw/                                 the images (or lfw-deepfunneled/, lfw_funneled/: pass image_dir=...)
        Aaron_Eckhart/Aaron_Eckhart_0001.jpg
        ...
    pairs.txt                            optional: the official verification pairs (View 2)"""

LFW_HOWTO = """\
How to get LFW:
  * images: http://vis-www.cs.umass.edu/lfw/ (lfw.tgz, or lfw-deepfunneled.tgz; pairs.txt), or scikit-learn's
    sklearn.datasets.fetch_lfw_people(), which leaves lfw_funneled/ in ~/scikit_learn_data/lfw_home/
    (use image_dir="lfw_funneled"); a Kaggle mirror: https://www.kaggle.com/datasets/jessicali9530/lfw-dataset;
  * attributes: https://www.cs.columbia.edu/CAVE/databases/pubfig/download/lfw_attributes.txt
Put them in <root> (default: FACEKIT_HOME/data/lfw, see facekit.config.cache_dir), then LFW(root)."""


LFW_TARGETS: tuple[str, ...] = ("image", "attributes", "identity")
"""What an :class:`LFW` item can hold (its ``targets`` argument); ``attributes`` brings ``attribute_scores`` too."""

_LFW_NAME = re.compile(r"^(.+)_(\d{4})\.jpg$")


def _scan_lfw_images(image_dir: Path) -> list[tuple[str, int]]:
    """``(person with spaces, imagenum)`` of every ``Name/Name_NNNN.jpg`` under ``image_dir``, sorted."""
    keys = []
    for folder in sorted(p for p in image_dir.iterdir() if p.is_dir()):
        for file in sorted(os.listdir(folder)):
            match = _LFW_NAME.match(file)
            if match and match.group(1) == folder.name:
                keys.append((folder.name.replace("_", " "), int(match.group(2))))
    return keys


def lfw_image_relpath(person: str, imagenum: int) -> str:
    """Relative path of an LFW image: ``"Aaron Eckhart", 1`` -> ``"Aaron_Eckhart/Aaron_Eckhart_0001.jpg"``."""
    name = person.strip().replace(" ", "_")
    return f"{name}/{name}_{imagenum:04d}.jpg"


def _is_header(fields: list[str]) -> bool:
    return len(fields) >= 2 and fields[0].lower() == "person" and fields[1].lower() == "imagenum"


def read_lfw_attributes(path: PathLike) -> tuple[list[str], list[tuple[str, int]], np.ndarray]:
    """Read ``lfw_attributes.txt`` (tab separated; CRLF or LF).

    Comment lines start with ``#``; the header is the line whose fields, after an optional leading ``#``
    column, begin with ``person``, ``imagenum``. The attribute names are the header's remaining fields.

    Args:
        path: the attribute file.

    Returns:
        ``(names, keys, scores)``: the attribute names, the ``(person, imagenum)`` of each row, and an
        ``(N, len(names))`` float32 array of the raw scores (positive = present).

    Raises:
        DatasetNotFoundError: the file is missing.
        AnnotationFormatError: no header, a data row before the header, a wrong column count, an image number
            that is not a positive integer, a score that is not a finite number, a duplicate row (file, line and
            what was expected are in the message).

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "lfw_attributes.txt"
        >>> _ = p.write_text("# lfw attributes\\n#\\tperson\\timagenum\\tMale\\tSmiling\\n"
        ...                  "Aaron Eckhart\\t1\\t1.5\\t-0.25\\n")
        >>> names, keys, scores = read_lfw_attributes(p)
        >>> names, keys, scores.tolist()
        (['Male', 'Smiling'], [('Aaron Eckhart', 1)], [[1.5, -0.25]])
    """
    path = Path(path)
    lines = read_lines(path, "LFW attribute file", LFW_LAYOUT, LFW_HOWTO)
    names: Optional[list[str]] = None
    keys: list[tuple[str, int]] = []
    rows: list[list[float]] = []
    seen: dict[tuple[str, int], int] = {}
    header_text = "#\\tperson\\timagenum\\tMale\\tAsian\\t... (tab separated)"
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split("\t")]
        while fields and fields[-1] == "":
            fields.pop()  # a trailing tab
        if fields[0].startswith("#"):
            rest = ([fields[0].lstrip("#").strip()] if fields[0].lstrip("#").strip() else []) + fields[1:]
            if names is None and _is_header(rest):
                names = rest[2:]
                if not names:
                    raise AnnotationFormatError(path, line_no, "the header names no attribute", header_text, line)
            continue  # a comment
        if names is None:
            if _is_header(fields):  # a re-saved copy without the leading '#' column
                names = fields[2:]
                continue
            raise AnnotationFormatError(path, line_no, "data row before the header line", header_text, line)
        expected = f"person<TAB>imagenum<TAB>{len(names)} scores ({len(names) + 2} tab-separated fields)"
        if len(fields) != len(names) + 2:
            raise AnnotationFormatError(path, line_no, f"wrong number of columns: {len(fields)} fields, "
                                        f"{len(names) + 2} expected", expected, line)
        person, num = fields[0], fields[1]
        if not person:
            raise AnnotationFormatError(path, line_no, "empty person name", expected, line)
        if not num.isdigit() or int(num) < 1:
            raise AnnotationFormatError(path, line_no, f"image number {num!r} is not a positive integer",
                                        expected, line)
        scores = []
        for k, value in enumerate(fields[2:]):
            try:
                score = float(value)
            except ValueError:
                score = math.nan
            if not math.isfinite(score):
                raise AnnotationFormatError(path, line_no, f"score {value!r} of attribute {names[k]!r} (column "
                                            f"{k + 3}) is not a finite number", "a real number such as -1.25",
                                            line)
            scores.append(score)
        key = (person, int(num))
        if key in seen:
            raise AnnotationFormatError(path, line_no, f"duplicate row for {person!r} image {num} (first on line "
                                        f"{seen[key]})", "one row per image", line)
        seen[key] = line_no
        keys.append(key)
        rows.append(scores)
    if names is None:
        raise AnnotationFormatError(path, None, "no header line found", header_text)
    if not rows:
        raise AnnotationFormatError(path, None, "the LFW attribute file has no data rows", "one row per image")
    return names, keys, np.asarray(rows, dtype=np.float32)


def read_lfw_pairs(path: PathLike) -> list[tuple[str, int, str, int, bool]]:
    """Read LFW's ``pairs.txt`` / ``pairsDevTrain.txt`` (the official verification pairs).

    Line 1 is ``<folds><TAB><pairs per class>`` (View 2: ``10 300``) or a single count (View 1); then a
    same-person pair is ``name<TAB>n1<TAB>n2`` and a different-person pair ``name1<TAB>n1<TAB>name2<TAB>n2``.
    Names use underscores, as in the folder names.

    Returns:
        ``[(person1, imagenum1, person2, imagenum2, same), ...]`` with the names as in the file.

    Raises:
        DatasetNotFoundError: the file is missing.
        AnnotationFormatError: a line that has neither 3 nor 4 fields, or a bad image number.
    """
    path = Path(path)
    lines = read_lines(path, "LFW pairs file", LFW_LAYOUT, LFW_HOWTO)
    first = lines[0].split()
    if not first or not all(t.isdigit() for t in first):
        raise AnnotationFormatError(path, 1, "line 1 must give the number of folds and pairs",
                                    "'10<TAB>300' or a single count", lines[0])
    pairs: list[tuple[str, int, str, int, bool]] = []
    for line_no, line in enumerate(lines[1:], start=2):
        fields = line.split()
        if not fields:
            continue
        expected = "name<TAB>n1<TAB>n2 (same person) or name1<TAB>n1<TAB>name2<TAB>n2 (different people)"
        numbers = [fields[1], fields[2]] if len(fields) == 3 else [fields[1], fields[3]] if len(fields) == 4 else []
        if not numbers:
            raise AnnotationFormatError(path, line_no, f"malformed line: {len(fields)} fields, 3 or 4 expected",
                                        expected, line)
        if not all(n.isdigit() and int(n) >= 1 for n in numbers):
            raise AnnotationFormatError(path, line_no, "image numbers must be positive integers", expected, line)
        if len(fields) == 3:
            pairs.append((fields[0], int(fields[1]), fields[0], int(fields[2]), True))
        else:
            pairs.append((fields[0], int(fields[1]), fields[2], int(fields[3]), False))
    return pairs


class LFW(Dataset):
    """LFW images with Kumar et al.'s 73 attribute scores (raw and binarised), identity and pairs.

    The dataset asks only for the files its ``targets`` need: with ``attributes`` (the default when
    ``lfw_attributes.txt`` is present) the rows of that file whose image exists define the dataset; without it
    (identity, identity pairs) every ``Name/Name_NNNN.jpg`` of the image folder does.

    Args:
        root: the folder with ``lfw_attributes.txt`` and the image folder; ``None`` means
            ``facekit.config.cache_dir("data") / "lfw"``.
        image_dir: the image folder inside ``root``: ``"lfw"`` (original), ``"lfw-deepfunneled"``,
            ``"lfw_funneled"``...
        attributes: the attribute names to return, in that order (default: all 73, see :data:`LFW_ATTRIBUTES`).
        threshold: a score above it counts as present in the binary ``attributes`` (default 0, the paper's rule).
        center_crop: side of a square cut at the centre of the 250x250 image first (the face fills roughly the
            central 110-150 pixels); ``None``: no crop.
        size: output ``(height, width)``, or an int for a square; ``None`` keeps the (cropped) size.
        transform: a callable applied to the ``(3, H, W)`` image tensor last.
        check_size: raise :class:`~facekit.data._common.ImageSizeError` for an image that is not 250x250.
        skip_missing_images: drop rows whose image is absent; with ``False`` a missing image is an error.
        targets: what each item holds, among :data:`LFW_TARGETS`; default: ``image`` and ``identity``, plus
            ``attributes`` (and ``attribute_scores``) when ``lfw_attributes.txt`` is present.

    Each item is a dict with the requested targets: ``image`` ``(3, H, W)`` float in ``[0, 1]``; ``attributes``
    ``(A,)`` float 0/1;
    ``attribute_scores`` ``(A,)`` float raw scores; ``identity`` int64 (index into :attr:`people`); ``person``
    (name with spaces); ``imagenum``; ``filename`` (relative path); ``index``.

    Raises:
        DatasetNotFoundError: the image folder is missing, no listed image exists, or the attribute file is
            missing while the ``attributes`` target is asked for.
        AnnotationFormatError: the attribute file is malformed.
        ValueError: an unknown attribute name.

    Example:
        >>> ds = LFW("~/data/lfw", image_dir="lfw-deepfunneled")   # doctest: +SKIP
        >>> same_and_different = ds.pairs(num_same=300, num_different=300, seed=0)  # doctest: +SKIP
    """

    def __init__(self, root: Optional[PathLike] = None, *, image_dir: str = "lfw",
                 attributes: Optional[Sequence[str]] = None, threshold: float = 0.0,
                 center_crop: Optional[int] = None, size: Union[int, tuple[int, int], None] = None,
                 transform: Optional[Callable] = None, check_size: bool = True,
                 skip_missing_images: bool = True, targets: Optional[Sequence[str]] = None) -> None:
        self.root = Path(root).expanduser() if root is not None else cache_dir("data", create=False) / "lfw"
        if not self.root.is_dir():
            raise DatasetNotFoundError(
                f"LFW root folder not found: {self.root}\nExpected layout:\n"
                + "\n".join("    " + line for line in LFW_LAYOUT.splitlines()) + "\n" + LFW_HOWTO)
        if targets is not None:
            unknown = [t for t in targets if t not in LFW_TARGETS]
            if unknown or not targets:
                raise ValueError(f"unknown target(s) {unknown}; choose among: {', '.join(LFW_TARGETS)}")
        self.attributes_file = self.root / "lfw_attributes.txt"
        self.has_attributes = self.attributes_file.exists()
        if targets is None:
            targets = [t for t in LFW_TARGETS if t != "attributes" or self.has_attributes]
        elif "attributes" in targets and not self.has_attributes:
            raise DatasetNotFoundError(
                f"target 'attributes' needs the LFW attribute file, which is not found: {self.attributes_file}. "
                "Download it from https://www.cs.columbia.edu/CAVE/databases/pubfig/download/lfw_attributes.txt "
                "into that folder, or leave 'attributes' out of targets (identity and pairs need only the images).")
        if attributes is not None and "attributes" not in targets:
            raise ValueError("attributes=... selects attribute columns, but 'attributes' is not in targets"
                             + ("" if self.has_attributes else f" (and {self.attributes_file} is not found)"))
        self.targets: list[str] = list(dict.fromkeys(targets))
        self.image_dir = require_dir(self.root / image_dir, "LFW image folder", LFW_LAYOUT,
                                     LFW_HOWTO + f"\n(Or pass image_dir=... if your images are in another folder "
                                     f"of {self.root}.)")
        if "attributes" in self.targets:
            all_names, keys, scores = read_lfw_attributes(self.attributes_file)
        else:  # identity only: the images define the dataset
            all_names, keys = [], _scan_lfw_images(self.image_dir)
            scores = np.zeros((len(keys), 0), np.float32)
            if not keys:
                raise DatasetNotFoundError(
                    f"no LFW image (named like Aaron_Eckhart/Aaron_Eckhart_0001.jpg) in {self.image_dir}\n"
                    "Expected layout:\n" + "\n".join("    " + line for line in LFW_LAYOUT.splitlines())
                    + "\n" + LFW_HOWTO)
        self.size = parse_size(size)
        self.center_crop = center_crop
        self.transform = transform
        self.check_size = check_size
        self.threshold = threshold

        relpaths = [lfw_image_relpath(p, n) for p, n in keys]
        exists = [(self.image_dir / r).is_file() for r in relpaths]
        self.num_missing_images = exists.count(False)
        if not any(exists):
            raise DatasetNotFoundError(
                f"none of the {len(keys)} images listed in {self.attributes_file} is in {self.image_dir} (e.g. "
                f"{relpaths[0]}); is image_dir right?\nExpected layout:\n"
                + "\n".join("    " + line for line in LFW_LAYOUT.splitlines()))
        if self.num_missing_images and not skip_missing_images:
            missing = [r for r, e in zip(relpaths, exists) if not e]
            raise DatasetNotFoundError(
                f"{len(missing)} images listed in {self.attributes_file} are missing from {self.image_dir}, e.g. "
                f"{', '.join(missing[:5])}; pass skip_missing_images=True to use the ones present")

        names = list(attributes) if attributes is not None else all_names
        unknown = [n for n in names if n not in all_names]
        if unknown:
            raise ValueError(f"unknown LFW attribute(s) {unknown}; {self.attributes_file} has: {', '.join(all_names)}")
        columns = [all_names.index(n) for n in names]
        keep = [i for i, e in enumerate(exists) if e]

        self.attribute_names: list[str] = names
        self.keys: list[tuple[str, int]] = [keys[i] for i in keep]
        self.filenames: list[str] = [relpaths[i] for i in keep]
        self.scores = torch.from_numpy(scores[keep][:, columns])  # (N, A) raw classifier scores
        self.attributes = (self.scores > threshold).float()  # (N, A) 0/1
        self.people: list[str] = sorted({person for person, _ in self.keys})
        person_index = {p: i for i, p in enumerate(self.people)}
        self.identities = torch.tensor([person_index[p] for p, _ in self.keys], dtype=torch.int64)  # (N,)
        self._index_of = {key: i for i, key in enumerate(self.keys)}

    def __len__(self) -> int:
        return len(self.keys)

    def attribute_index(self, name: str) -> int:
        """Position of attribute ``name`` in :attr:`attribute_names` (and in each item's ``attributes``)."""
        if name not in self.attribute_names:
            raise ValueError(f"unknown attribute {name!r}; this dataset has: {', '.join(self.attribute_names)}")
        return self.attribute_names.index(name)

    def index_of(self, person: str, imagenum: int) -> int:
        """Dataset index of an image (``person`` with spaces or underscores); ``KeyError`` if it is not here."""
        key = (person.replace("_", " "), imagenum)
        if key not in self._index_of:
            raise KeyError(f"{person!r} image {imagenum} is not in this LFW dataset")
        return self._index_of[key]

    def _image(self, index: int) -> torch.Tensor:
        image = read_image(self.image_dir / self.filenames[index], LFW_IMAGE_SIZE if self.check_size else None,
                           size_hint="LFW images are all 250x250; pass check_size=False to accept others.")
        height, width = image.shape[:2]
        crop = center_box(width, height, self.center_crop) if self.center_crop else None
        image, _, _ = crop_and_resize(image, crop, self.size)
        tensor = image_to_tensor(image)  # (3, H, W)
        if self.transform is not None:
            tensor = self.transform(tensor)
        return tensor

    def __getitem__(self, index: int) -> dict[str, Any]:
        person, imagenum = self.keys[index]
        tensor = self._image(index) if "image" in self.targets else None
        item: dict[str, Any] = {"image": tensor} if "image" in self.targets else {}
        if "attributes" in self.targets:
            item["attributes"] = self.attributes[index].clone()
            item["attribute_scores"] = self.scores[index].clone()
        if "identity" in self.targets:
            item["identity"] = self.identities[index].clone()
        item.update(person=person, imagenum=imagenum, filename=self.filenames[index], index=index)
        return item

    def pairs(self, num_same: int, num_different: int, seed: int = 0) -> list[tuple[int, int, bool]]:
        """Sample ``(i, j, same_person)`` index pairs by identity (see :func:`facekit.data._common.identity_pairs`).

        Example:
            >>> ds.pairs(num_same=3, num_different=3, seed=1)   # doctest: +SKIP
            [(10, 12, True), ..., (4, 87, False)]
        """
        return identity_pairs(self.identities.tolist(), num_same, num_different, seed)

    def official_pairs(self, path: Optional[PathLike] = None) -> list[tuple[int, int, bool]]:
        """The official verification pairs (``root/pairs.txt`` by default) as ``(i, j, same)`` dataset indices.

        Pairs with an image that is not in this dataset (no attribute row, or not on disk) are left out, with a
        warning that says how many.
        """
        file = Path(path) if path is not None else self.root / "pairs.txt"
        out, dropped = [], 0
        for person1, n1, person2, n2, same in read_lfw_pairs(file):
            try:
                out.append((self.index_of(person1, n1), self.index_of(person2, n2), same))
            except KeyError:
                dropped += 1
        if dropped:
            warnings.warn(f"{dropped} of the pairs in {file} use images that are not in this dataset; left out",
                          stacklevel=2)
        return out

    def __repr__(self) -> str:
        return (f"LFW(root={str(self.root)!r}, image_dir={self.image_dir.name!r}, images={len(self)}, "
                f"people={len(self.people)}, attributes={len(self.attribute_names)})")
