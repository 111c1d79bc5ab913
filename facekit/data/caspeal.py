"""CAS-PEAL-R1: a file-name parser (pose, lighting, expression, accessory, ...), a ``Dataset`` and the
accessory-pair builder of *Learning to See another You* (Ghodrati et al., BMVC 2016, Sec. 4.2).

CAS-PEAL (Gao, Cao, Shan, Chen, Zhou, Zhang, Zhao. *The CAS-PEAL Large-Scale Chinese Face Database and Baseline
Evaluations*, IEEE Trans. SMC-A 38(1):149-161, 2008) was recorded by the Joint Research & Development
Laboratory (JDL) of the Chinese Academy of Sciences; its public release CAS-PEAL-R1 has 30,900 grey 360x480
images of 1,040 people. It is **licensed**: request it from the JDL CAS-PEAL page (http://www.jdl.ac.cn/peal/)
by signing its licence agreement; facekit only reads a copy you have on disk.

A file name has 12 fields separated by ``_`` (the convention as parsed by Idiap's ``bob.db.caspeal``,
``models.py``; example ``MY_000064_IEU+00_PM+00_EN_A0_D0_T0_BB_M0_R1_S0.tif``):

=====  ============  =============================================================================================
 #     example       meaning
=====  ============  =============================================================================================
 1     ``MY``        gender (``F``/``M``) and age group (``Y`` young, ``M`` middle-aged, ``O`` old)
 2     ``000064``    subject id
 3     ``IEU+00``    lighting ``I`` + source (``E`` ambient, ``F`` fluorescent, ``L`` incandescent) + elevation
                     (``U`` +45, ``M`` 0, ``D`` -45 degrees) + azimuth (``-90`` .. ``+90``)
 4     ``PM+00``     pose ``P`` + the subject looks ``U`` up, ``M`` into the camera, ``D`` down + camera azimuth
                     (``+00``, ``±22``, ``±45``, ``±67``; ``±15``, ``±30`` also occur)
 5     ``EN``        expression: ``N`` neutral, ``L`` laughing, ``F`` frowning, ``S`` surprise, ``C`` eyes closed,
                     ``O`` mouth open
 6     ``A0``        accessory: ``0`` none, ``1``-``3`` three hats, ``4``-``6`` three pairs of glasses
 7     ``D0``        camera distance (``0``-``2``)
 8     ``T0``        session / time (``0``-``2``; the Aging subset)
 9     ``BB``        background: ``B`` blue, ``R`` red, ``D`` dark, ``Y`` yellow, ``W`` white
10-12  ``M0_R1_S0``  further codes kept as raw strings (bob reads ``R1`` as "may be published" for subjects < 100)
=====  ============  =============================================================================================

The see-another-you accessory experiment uses 7 accessory states (none, 3 hats, 3 glasses), the first 350
subjects for training and the next 88 for testing, and all ordered pairs of the same person with a different
accessory (:func:`caspeal_accessory_pairs`).

Example:
    >>> r = parse_caspeal_name("MY_000064_IEU+00_PM+00_EN_A4_D0_T0_BB_M0_R1_S0.tif")
    >>> r.subject, r.gender, r.pose, r.lighting, r.expression_name, r.accessory, r.accessory_name
    (64, 'M', 'M+00', 'EU+00', 'neutral', 4, 'glasses_1')
"""

from __future__ import annotations

import itertools
import os
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Collection, Literal, Optional, Sequence, Union

from torch.utils.data import Dataset

from facekit.config import cache_dir
from facekit.data._common import (
    PathLike,
    center_box,
    crop_and_resize,
    image_to_tensor,
    parse_size,
    read_image,
    scan_named_files,
    require_dir,
)

__all__ = [
    "CASPEAL_ACCESSORIES",
    "CASPEAL_EXPRESSIONS",
    "CASPEAL_LIGHTING_SOURCES",
    "CASPEAL_BACKGROUNDS",
    "CASPEALName",
    "parse_caspeal_name",
    "caspeal_accessory_pairs",
    "CASPEAL",
]

CASPEAL_ACCESSORIES: tuple[str, ...] = ("none", "hat_1", "hat_2", "hat_3", "glasses_1", "glasses_2", "glasses_3")
"""Accessory code ``A<k>`` -> name (index ``k``), as in ``bob.db.caspeal``."""

CASPEAL_EXPRESSIONS: dict[str, str] = {"N": "neutral", "L": "laughing", "F": "frowning", "S": "surprise",
                                        "C": "eyes_closed", "O": "mouth_open"}
"""Expression letter (``E<x>``) -> name."""

CASPEAL_LIGHTING_SOURCES: dict[str, str] = {"E": "ambient", "F": "fluorescent", "L": "incandescent"}
"""Lighting source letter (first letter after ``I``) -> name."""

CASPEAL_ELEVATIONS: dict[str, str] = {"U": "up", "M": "middle", "D": "down"}
"""Elevation letter of the lighting (+45, 0, -45 degrees) and of the pose (looking up, ahead, down)."""

CASPEAL_BACKGROUNDS: dict[str, str] = {"B": "blue", "R": "red", "D": "dark", "Y": "yellow", "W": "white"}
"""Background letter (``B<x>``) -> colour."""

_SHAPE = re.compile(r"^[A-Z]{2}_\d{6}_.*\.(tif|tiff|bmp|png|jpg|jpeg)$", re.IGNORECASE)
_FIELDS = {
    "gender/age": re.compile(r"^([FM])([YMO])$"),
    "subject": re.compile(r"^(\d{6})$"),
    "lighting": re.compile(r"^I([EFL])([UMD])([+-]\d{2})$"),
    "pose": re.compile(r"^P([UMD])([+-]\d{2})$"),
    "expression": re.compile(r"^E([NLFSCO])$"),
    "accessory": re.compile(r"^A([0-6])$"),
    "distance": re.compile(r"^D(\d)$"),
    "session": re.compile(r"^T(\d)$"),
    "background": re.compile(r"^B([BRDYW])$"),
}
_EXPECTED = {
    "gender/age": "F or M then Y, M or O (e.g. MY)", "subject": "6 digits (e.g. 000064)",
    "lighting": "I + E/F/L + U/M/D + signed azimuth (e.g. IEU+00, IFD-45)",
    "pose": "P + U/M/D + signed azimuth (e.g. PM+00, PU-22)",
    "expression": "E + N/L/F/S/C/O (e.g. EN)", "accessory": "A0 .. A6", "distance": "D + a digit (e.g. D0)",
    "session": "T + a digit (e.g. T0)", "background": "B + B/R/D/Y/W (e.g. BB)",
}
_CONVENTION = "MY_000064_IEU+00_PM+00_EN_A0_D0_T0_BB_M0_R1_S0.tif (12 fields separated by '_')"

CASPEAL_LAYOUT = """\
<root>/                                  (your CAS-PEAL-R1 copy, e.g. with FRONTAL/ and POSE/ inside)
    FRONTAL/Accessory/MY_000064_IEU+00_PM+00_EN_A1_D0_T0_BB_M0_R1_S0.tif
    FRONTAL/Normal/MY_000064_IEU+00_PM+00_EN_A0_D0_T0_BB_M0_R1_S0.tif
    ...                                  (files are found by name, in any sub-folder)"""

CASPEAL_HOWTO = """\
CAS-PEAL-R1 is licensed and cannot be downloaded automatically: request it from the Joint R&D Laboratory (JDL),
Chinese Academy of Sciences, via the CAS-PEAL page http://www.jdl.ac.cn/peal/ (sign its licence agreement),
then pass root= the folder of your copy (default: FACEKIT_HOME/data/caspeal). Without it, facekit's SynthFaces
gives the same accessory types (three glasses, three hats)."""


@dataclass(frozen=True)
class CASPEALName:
    """The fields of one CAS-PEAL-R1 file name (see the module docstring for the convention)."""

    gender: str  # "F" or "M"
    age_group: str  # "Y", "M" or "O"
    subject: int
    lighting_source: str  # "E", "F" or "L"
    lighting_elevation: str  # "U", "M" or "D"
    lighting_azimuth: int  # degrees
    pose_elevation: str  # "U", "M" or "D"
    pose_azimuth: int  # degrees (camera yaw)
    expression: str  # "N", "L", "F", "S", "C" or "O"
    accessory: int  # 0..6
    distance: int
    session: int
    background: str  # "B", "R", "D", "Y" or "W"
    extra: tuple[str, str, str]  # the raw last three fields, e.g. ("M0", "R1", "S0")

    @property
    def lighting(self) -> str:
        """Lighting code without the ``I``: ``"EU+00"``."""
        return f"{self.lighting_source}{self.lighting_elevation}{self.lighting_azimuth:+03d}"

    @property
    def pose(self) -> str:
        """Pose code without the ``P``: ``"M+00"``."""
        return f"{self.pose_elevation}{self.pose_azimuth:+03d}"

    @property
    def expression_name(self) -> str:
        """``"neutral"``, ``"laughing"``, ``"frowning"``, ``"surprise"``, ``"eyes_closed"`` or ``"mouth_open"``."""
        return CASPEAL_EXPRESSIONS[self.expression]

    @property
    def accessory_name(self) -> str:
        """``"none"``, ``"hat_1"`` .. ``"hat_3"`` or ``"glasses_1"`` .. ``"glasses_3"``."""
        return CASPEAL_ACCESSORIES[self.accessory]

    @property
    def accessory_kind(self) -> str:
        """``"none"``, ``"hat"`` or ``"glasses"``."""
        return self.accessory_name.split("_")[0]

    @property
    def background_name(self) -> str:
        """Background colour name."""
        return CASPEAL_BACKGROUNDS[self.background]


def parse_caspeal_name(filename: str) -> CASPEALName:
    """Parse a CAS-PEAL-R1 image file name (a path is fine: only its last part is read).

    Args:
        filename: e.g. ``"MY_000064_IEU+00_PM+00_EN_A0_D0_T0_BB_M0_R1_S0.tif"``.

    Returns:
        The parsed :class:`CASPEALName`.

    Raises:
        ValueError: wrong number of fields or a field that does not follow the convention; the message names the
            file, the field, what was expected and what was found.

    Example:
        >>> parse_caspeal_name("FO_000301_IFD-45_PD+22_EL_A0_D1_T0_BB_M0_R0_S0.tif").pose_azimuth
        22
    """
    name = os.path.basename(str(filename))
    stem = name.rsplit(".", 1)[0]
    fields = stem.split("_")
    if len(fields) != 12:
        raise ValueError(f"{filename!r} is not a CAS-PEAL-R1 file name: {len(fields)} fields separated by '_', "
                          f"12 expected, as in {_CONVENTION}")
    parsed = []
    for (label, pattern), value in zip(_FIELDS.items(), fields[:9]):
        match = pattern.match(value)
        if not match:
            raise ValueError(f"{filename!r}: the {label} field is {value!r}; expected {_EXPECTED[label]} "
                              f"(convention: {_CONVENTION})")
        parsed.append(match.groups())
    (gender, age), (subject,), (l_src, l_elev, l_az), (p_elev, p_az), (expr,), (acc,), (dist,), (sess,), (bg,) = parsed
    return CASPEALName(gender, age, int(subject), l_src, l_elev, int(l_az), p_elev, int(p_az), expr, int(acc),
                        int(dist), int(sess), bg, (fields[9], fields[10], fields[11]))


_MATCHABLE = ("subject", "pose", "lighting", "expression", "distance", "session", "background")


def caspeal_accessory_pairs(records: Sequence[CASPEALName],
                             mode: Literal["permutations", "from_none"] = "permutations",
                             match: Sequence[str] = ("subject", "pose", "lighting", "expression")
                             ) -> list[tuple[int, int]]:
    """Accessory pairs: the same person (and conditions) with a different accessory.

    Args:
        records: the parsed names (index ``i`` is image ``i``), e.g. :attr:`CASPEAL.records`.
        mode: ``"permutations"``: every ordered pair of different accessory states (see-another-you Sec. 4.2:
            "all possible permutations of attribute changes", adding, removing and swapping accessories);
            ``"from_none"``: only ``A0`` (no accessory) as input and an accessory as target.
        match: the fields that must be equal within a pair (``subject`` always should be); any of
            ``subject, pose, lighting, expression, distance, session, background``.

    Returns:
        ``[(i, j), ...]``: image ``i`` is the input, image ``j`` the same face with accessory ``records[j].accessory``.

    Example:
        >>> rs = [parse_caspeal_name(f"MY_000001_IEU+00_PM+00_EN_A{a}_D0_T0_BB_M0_R1_S0.tif") for a in (0, 1, 4)]
        >>> caspeal_accessory_pairs(rs, mode="from_none")
        [(0, 1), (0, 2)]
    """
    unknown = [m for m in match if m not in _MATCHABLE]
    if unknown:
        raise ValueError(f"cannot match on {unknown}; use fields among {', '.join(_MATCHABLE)}")
    if mode not in ("permutations", "from_none"):
        raise ValueError(f"mode={mode!r} is not valid; use 'permutations' or 'from_none'")
    groups: dict[tuple, list[int]] = defaultdict(list)
    for index, r in enumerate(records):
        groups[tuple(getattr(r, m) for m in match)].append(index)
    pairs: list[tuple[int, int]] = []
    for members in groups.values():
        for i, j in itertools.permutations(members, 2):
            a, b = records[i].accessory, records[j].accessory
            if a != b and (mode == "permutations" or a == 0):
                pairs.append((i, j))
    return sorted(pairs)


class CASPEAL(Dataset):
    """The CAS-PEAL-R1 images found under a root folder, filtered by subject, accessory, pose, expression...

    Files are found by name anywhere under ``root``; files that are not CAS-PEAL images (the eye-coordinate
    lists, ...) are ignored. A name that starts like a CAS-PEAL name (``MY_000064_...``) but breaks the
    convention is an error that names the file and the field.

    Args:
        root: the folder of your copy (licensed; see the module docstring); ``None`` means
            ``facekit.config.cache_dir("data") / "caspeal"``.
        subjects, accessories, poses, lightings, expressions: keep only these values (``None``: all); poses and
            lightings as codes without their letter prefix (``"M+00"``, ``"EU+00"``), expressions as letters.
        center_crop: side of a square cut at the image centre first (``None``: no crop).
        size: output ``(height, width)``, or an int for a square; ``None`` keeps the stored size (360x480).
        grayscale: return ``(1, H, W)`` images (CAS-PEAL-R1 is grey; the default repeats it over 3 channels).
        transform: a callable applied to the image tensor last.

    Each item is a dict: ``image``; ``subject``, ``accessory`` (0..6), ``pose_azimuth``, ``distance``,
    ``session`` (ints); ``accessory_name``, ``pose``, ``lighting``, ``expression`` (letter), ``gender``,
    ``age_group``, ``background`` (strings); ``filename`` (relative to ``root``); ``index``.

    Raises:
        DatasetNotFoundError: ``root`` is missing or holds no matching image; the message says how to request
            the data.
        ValueError: a CAS-PEAL-like file name that breaks the convention.

    Example:
        >>> ds = CASPEAL("/data/CAS-PEAL-R1", poses=["M+00"], size=32, grayscale=True)   # doctest: +SKIP
        >>> pairs = ds.accessory_pairs()                                                  # doctest: +SKIP
    """

    def __init__(self, root: Optional[PathLike] = None, *, subjects: Optional[Collection[int]] = None,
                 accessories: Optional[Collection[int]] = None, poses: Optional[Collection[str]] = None,
                 lightings: Optional[Collection[str]] = None, expressions: Optional[Collection[str]] = None,
                 center_crop: Optional[int] = None, size: Union[int, tuple[int, int], None] = None,
                 grayscale: bool = False, transform: Optional[Callable] = None) -> None:
        self.root = Path(root).expanduser() if root is not None else cache_dir("data", create=False) / "caspeal"
        require_dir(self.root, "CAS-PEAL-R1 root folder", CASPEAL_LAYOUT, CASPEAL_HOWTO)
        filters = {"subject": subjects, "accessory": accessories, "pose": poses, "lighting": lightings,
                   "expression": expressions}
        self.records: list[CASPEALName]
        self.paths: list[Path]
        self.records, self.paths = scan_named_files(self.root, _SHAPE, parse_caspeal_name, filters, "CAS-PEAL-R1",
                                                    _CONVENTION, CASPEAL_LAYOUT, CASPEAL_HOWTO)
        order = sorted(range(len(self.records)), key=lambda i: self.records[i].subject)  # stable: by subject first
        self.records = [self.records[i] for i in order]
        self.paths = [self.paths[i] for i in order]
        self.center_crop = center_crop
        self.size = parse_size(size)
        self.grayscale = grayscale
        self.transform = transform

    def __len__(self) -> int:
        return len(self.records)

    @property
    def subjects(self) -> list[int]:
        """The subject ids present, sorted (slice it for a subject split: the paper trains on the first 350)."""
        return sorted({r.subject for r in self.records})

    def accessory_pairs(self, mode: Literal["permutations", "from_none"] = "permutations",
                         match: Sequence[str] = ("subject", "pose", "lighting", "expression")) -> list[tuple[int, int]]:
        """Accessory pairs over this dataset's images (see :func:`caspeal_accessory_pairs`)."""
        return caspeal_accessory_pairs(self.records, mode, match)

    def __getitem__(self, index: int) -> dict[str, Any]:
        record, path = self.records[index], self.paths[index]
        image = read_image(path, grayscale=self.grayscale)
        height, width = image.shape[:2]
        crop = center_box(width, height, self.center_crop) if self.center_crop else None
        image, _, _ = crop_and_resize(image, crop, self.size)
        tensor = image_to_tensor(image)  # (C, H, W)
        if self.transform is not None:
            tensor = self.transform(tensor)
        return {
            "image": tensor,
            "subject": record.subject,
            "accessory": record.accessory,
            "accessory_name": record.accessory_name,
            "pose": record.pose,
            "pose_azimuth": record.pose_azimuth,
            "lighting": record.lighting,
            "expression": record.expression,
            "gender": record.gender,
            "age_group": record.age_group,
            "distance": record.distance,
            "session": record.session,
            "background": record.background,
            "filename": path.relative_to(self.root).as_posix(),
            "index": index,
        }

    def __repr__(self) -> str:
        return (f"CASPEAL(root={str(self.root)!r}, images={len(self)}, subjects={len(self.subjects)}, "
                f"accessories={sorted({r.accessory for r in self.records})})")
