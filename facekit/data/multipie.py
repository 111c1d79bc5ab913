"""CMU Multi-PIE: a file-name parser (subject, session, recording, camera/pose, illumination), a ``Dataset`` and
the pose-pair builder of *Learning to See another You* (Ghodrati et al., BMVC 2016, Sec. 4.1).

Multi-PIE (Gross, Matthews, Cohn, Kanade, Baker. *Multi-PIE*, Image and Vision Computing 28(5), 2010) has 337
people in up to 4 sessions, 15 cameras and 20 illumination conditions. It is **licensed**: request it from
Carnegie Mellon University (http://www.cs.cmu.edu/afs/cs/project/PIE/MultiPie/Multi-Pie/Home.html); facekit
only reads a copy you have on disk.

File names (the layout is ``data/session01/multiview/001/01/05_1/001_01_01_051_07.png``):

    ``<subject:3>_<session:2>_<recording:2>_<camera:3>_<illumination:2>.png``

* subject ``001`` .. ``346``; session ``01`` .. ``04``;
* recording: the expression, by session (as in Idiap's ``bob.db.multipie``, ``create.py``): neutral =
  (1, 1), (2, 1), (3, 1), (4, 1), (4, 2); smile = (1, 2), (3, 2); surprise = (2, 2); squint = (2, 3);
  disgust = (3, 3); scream = (4, 3) as (session, recording);
* camera: the folder name without its underscore (``05_1`` -> ``051``). The 13 cameras of the horizontal ring
  and their yaw in degrees (the mapping used by common Multi-PIE pre-processing code, e.g. the ``camera2ang``
  table of public face-frontalisation pre-processing scripts, and by the 7-pose protocol of the papers): 110 -90,
  120 -75, 090 -60, 080 -45, 130 -30, 140 -15, **051 0 (frontal)**, 050 +15, 041 +30, 190 +45, 200 +60, 010 +75,
  240 +90. Cameras 081 and 191 look down from above the head (no yaw in the ring). Some papers flip the sign;
  bob.db.multipie calls 24_0 / 20_0 / 04_1 the "right" and 11_0 / 09_0 / 13_0 the "left" profile / half-profile /
  quarter-profile;
* illumination ``00`` .. ``19``: the 20 flash conditions (18 flashes, plus frames without flash; index 00 is
  the no-flash frame used by bob's frontal protocols).

The see-another-you protocol: session 1, the 7 poses -45..+45 degrees (cameras 080 130 140 051 050 041 190),
20 illuminations; pairs of the same person and illumination with a different pose
(:func:`multipie_pose_pairs`; with 100 training subjects, 100 x 20 x 7 x 6 = 84,000 ordered pairs).

Example:
    >>> r = parse_multipie_name("001_01_01_051_07.png")
    >>> r.subject, r.session, r.recording, r.camera, r.yaw, r.illumination, r.expression
    (1, 1, 1, '051', 0, 7, 'neutral')
"""

from __future__ import annotations

import itertools
import math
import os
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Collection, Iterable, Optional, Sequence, Union

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
    "MULTIPIE_CAMERA_YAW",
    "MULTIPIE_POSES_7",
    "MULTIPIE_EXPRESSIONS",
    "MultiPIEName",
    "parse_multipie_name",
    "multipie_pose_pairs",
    "MultiPIE",
]

MULTIPIE_CAMERA_YAW: dict[str, Optional[int]] = {
    "110": -90, "120": -75, "090": -60, "080": -45, "130": -30, "140": -15, "051": 0,
    "050": 15, "041": 30, "190": 45, "200": 60, "010": 75, "240": 90,
    "081": None, "191": None,  # above the head: no yaw in the horizontal ring
}
"""Camera code (as in file names) -> yaw in degrees (``None`` for the two elevated cameras)."""

MULTIPIE_POSES_7: tuple[str, ...] = ("080", "130", "140", "051", "050", "041", "190")
"""The 7 cameras of the -45..+45 degree protocol (see-another-you Sec. 4.1), from -45 to +45 in 15 degree steps."""

MULTIPIE_EXPRESSIONS: dict[tuple[int, int], str] = {
    (1, 1): "neutral", (1, 2): "smile",
    (2, 1): "neutral", (2, 2): "surprise", (2, 3): "squint",
    (3, 1): "neutral", (3, 2): "smile", (3, 3): "disgust",
    (4, 1): "neutral", (4, 2): "neutral", (4, 3): "scream",
}
"""``(session, recording)`` -> expression."""

MULTIPIE_NUM_ILLUMINATIONS = 20

_NAME = re.compile(r"^(\d{3})_(\d{2})_(\d{2})_(\d{3})_(\d{2})\.(png|jpg|jpeg|bmp|tif|tiff)$", re.IGNORECASE)
_CONVENTION = ("<subject:3>_<session:2>_<recording:2>_<camera:3>_<illumination:2>.png, e.g. 001_01_01_051_07.png "
               "(session 01-04, camera one of " + " ".join(MULTIPIE_CAMERA_YAW) + ", illumination 00-19)")

MULTIPIE_LAYOUT = """\
<root>/                                  (Multi-PIE's data/ folder, or any folder of its images or crops)
    session01/multiview/001/01/05_1/001_01_01_051_00.png ... 001_01_01_051_19.png
    session01/multiview/001/01/08_0/...
    ...                                  (files are found by name, in any sub-folder)"""

MULTIPIE_HOWTO = """\
Multi-PIE is licensed by Carnegie Mellon University and cannot be downloaded automatically: request it at
http://www.cs.cmu.edu/afs/cs/project/PIE/MultiPie/Multi-Pie/Home.html, then pass root= the folder of your copy
(default: FACEKIT_HOME/data/multipie). Without it, facekit's SynthFaces gives the same poses and 20 lights."""


@dataclass(frozen=True)
class MultiPIEName:
    """The fields of one Multi-PIE file name (see the module docstring for the convention)."""

    subject: int
    session: int
    recording: int
    camera: str  # "051"; the folder name is camera_folder
    illumination: int  # 0..19

    @property
    def yaw(self) -> Optional[int]:
        """Yaw of the camera in degrees (``None`` for the elevated cameras 081 and 191)."""
        return MULTIPIE_CAMERA_YAW[self.camera]

    @property
    def expression(self) -> str:
        """The expression of this (session, recording)."""
        return MULTIPIE_EXPRESSIONS[(self.session, self.recording)]

    @property
    def camera_folder(self) -> str:
        """The camera as Multi-PIE's folders name it: ``"051"`` -> ``"05_1"``."""
        return f"{self.camera[:2]}_{self.camera[2]}"

    @property
    def name(self) -> str:
        """The file name without extension: ``001_01_01_051_07``."""
        return (f"{self.subject:03d}_{self.session:02d}_{self.recording:02d}_{self.camera}_"
                f"{self.illumination:02d}")


def parse_multipie_name(filename: str) -> MultiPIEName:
    """Parse a Multi-PIE image file name (a path is fine: only its last part is read).

    Args:
        filename: e.g. ``"001_01_01_051_07.png"``.

    Returns:
        The parsed :class:`MultiPIEName`.

    Raises:
        ValueError: the name does not follow the convention, or a field is out of range (the message names the
            file, the field and the convention).

    Example:
        >>> parse_multipie_name("session01/multiview/002/01/08_0/002_01_01_080_12.png").yaw
        -45
    """
    name = os.path.basename(str(filename))
    match = _NAME.match(name)
    if not match:
        raise ValueError(f"{filename!r} is not a Multi-PIE file name; expected {_CONVENTION}")
    subject, session, recording, camera, illumination = match.groups()[:5]
    record = MultiPIEName(int(subject), int(session), int(recording), camera, int(illumination))
    if record.camera not in MULTIPIE_CAMERA_YAW:
        raise ValueError(f"{filename!r}: unknown camera {camera!r}; expected one of {' '.join(MULTIPIE_CAMERA_YAW)}")
    if not 1 <= record.session <= 4:
        raise ValueError(f"{filename!r}: session {session} is not 01-04")
    if (record.session, record.recording) not in MULTIPIE_EXPRESSIONS:
        raise ValueError(f"{filename!r}: session {session} has no recording {recording} (recordings per session: "
                         "01-02 in session 1, 01-03 in sessions 2-4)")
    if not 0 <= record.illumination < MULTIPIE_NUM_ILLUMINATIONS:
        raise ValueError(f"{filename!r}: illumination {illumination} is not 00-19")
    return record


def multipie_pose_pairs(records: Sequence[MultiPIEName], cameras: Collection[str] = MULTIPIE_POSES_7,
                        ordered: bool = True) -> list[tuple[int, int]]:
    """Pose pairs of see-another-you (Sec. 4.1): same subject, session, recording and illumination; another camera.

    Args:
        records: the parsed names (index ``i`` is image ``i``), e.g. :attr:`MultiPIE.records`.
        cameras: the cameras (poses) that may appear in a pair (default: the 7 poses -45..+45).
        ordered: ``True`` gives both ``(i, j)`` and ``(j, i)`` (input, target), as the paper counts them
            (100 subjects x 20 illuminations x 7 x 6 = 84,000); ``False`` gives each pair once (``i < j``).

    Returns:
        ``[(i, j), ...]``: image ``i`` is the input, image ``j`` the same face at another pose.

    Example:
        >>> rs = [parse_multipie_name(f"001_01_01_{c}_00.png") for c in ("051", "080", "190")]
        >>> multipie_pose_pairs(rs, ordered=False)
        [(0, 1), (0, 2), (1, 2)]
    """
    allowed = set(cameras)
    groups: dict[tuple[int, int, int, int], list[int]] = defaultdict(list)
    for index, r in enumerate(records):
        if r.camera in allowed:
            groups[(r.subject, r.session, r.recording, r.illumination)].append(index)
    pairs: list[tuple[int, int]] = []
    for members in groups.values():
        combos: Iterable[tuple[int, int]] = (itertools.permutations(members, 2) if ordered
                                             else itertools.combinations(members, 2))
        pairs.extend((i, j) for i, j in combos if records[i].camera != records[j].camera)
    return sorted(pairs)


class MultiPIE(Dataset):
    """The Multi-PIE images found under a root folder, filtered by subject, session, camera, illumination.

    Files are found by name anywhere under ``root`` (so Multi-PIE's own tree, or a folder of pre-cropped
    images named the same way, both work); other files are ignored. A name that has the Multi-PIE shape but an
    impossible field (camera 999, illumination 25) is an error that names the file.

    Args:
        root: the folder of your copy (licensed; see the module docstring); ``None`` means
            ``facekit.config.cache_dir("data") / "multipie"``.
        sessions, recordings, cameras, illuminations, subjects: keep only these values (``None``: all). E.g.
            ``sessions=[1], cameras=MULTIPIE_POSES_7, recordings=[1]`` is the see-another-you setting.
        center_crop: side of a square cut at the image centre first (``None``: no crop).
        size: output ``(height, width)``, or an int for a square; ``None`` keeps the stored size.
        grayscale: return ``(1, H, W)`` grey images (the paper uses 32x32 grey) instead of RGB.
        transform: a callable applied to the image tensor last.

    Each item is a dict: ``image``; ``subject``, ``session``, ``recording``, ``illumination`` (ints);
    ``camera`` (``"051"``); ``yaw`` (float degrees, NaN for the elevated cameras); ``expression``;
    ``filename`` (relative to ``root``); ``index``.

    Raises:
        DatasetNotFoundError: ``root`` is missing or holds no matching image; the message says how to request
            the data.
        ValueError: a Multi-PIE-like file name with an impossible field.

    Example:
        >>> ds = MultiPIE("/data/multipie", sessions=[1], recordings=[1], cameras=MULTIPIE_POSES_7,
        ...               size=32, grayscale=True)   # doctest: +SKIP
        >>> pairs = ds.pose_pairs()                   # doctest: +SKIP
    """

    def __init__(self, root: Optional[PathLike] = None, *, sessions: Optional[Collection[int]] = None,
                 recordings: Optional[Collection[int]] = None, cameras: Optional[Collection[str]] = None,
                 illuminations: Optional[Collection[int]] = None, subjects: Optional[Collection[int]] = None,
                 center_crop: Optional[int] = None, size: Union[int, tuple[int, int], None] = None,
                 grayscale: bool = False, transform: Optional[Callable] = None) -> None:
        self.root = Path(root).expanduser() if root is not None else cache_dir("data", create=False) / "multipie"
        require_dir(self.root, "Multi-PIE root folder", MULTIPIE_LAYOUT, MULTIPIE_HOWTO)
        if cameras is not None:
            unknown = [c for c in cameras if c not in MULTIPIE_CAMERA_YAW]
            if unknown:
                raise ValueError(f"unknown camera code(s) {unknown}; use {' '.join(MULTIPIE_CAMERA_YAW)}")
        filters = {"session": sessions, "recording": recordings, "camera": cameras,
                   "illumination": illuminations, "subject": subjects}
        self.records: list[MultiPIEName]
        self.paths: list[Path]
        self.records, self.paths = scan_named_files(self.root, _NAME, parse_multipie_name, filters, "Multi-PIE", _CONVENTION,
                                                    MULTIPIE_LAYOUT, MULTIPIE_HOWTO)
        self.center_crop = center_crop
        self.size = parse_size(size)
        self.grayscale = grayscale
        self.transform = transform

    def __len__(self) -> int:
        return len(self.records)

    @property
    def subjects(self) -> list[int]:
        """The subject ids present, sorted (slice it for a subject split, e.g. the first 100 for training)."""
        return sorted({r.subject for r in self.records})

    def pose_pairs(self, cameras: Collection[str] = MULTIPIE_POSES_7, ordered: bool = True) -> list[tuple[int, int]]:
        """Pose pairs over this dataset's images (see :func:`multipie_pose_pairs`)."""
        return multipie_pose_pairs(self.records, cameras, ordered)

    def __getitem__(self, index: int) -> dict[str, Any]:
        record, path = self.records[index], self.paths[index]
        image = read_image(path, grayscale=self.grayscale)
        height, width = image.shape[:2]
        crop = center_box(width, height, self.center_crop) if self.center_crop else None
        image, _, _ = crop_and_resize(image, crop, self.size)
        tensor = image_to_tensor(image)  # (C, H, W)
        if self.transform is not None:
            tensor = self.transform(tensor)
        yaw = record.yaw
        return {
            "image": tensor,
            "subject": record.subject,
            "session": record.session,
            "recording": record.recording,
            "camera": record.camera,
            "yaw": float(yaw) if yaw is not None else math.nan,
            "illumination": record.illumination,
            "expression": record.expression,
            "filename": path.relative_to(self.root).as_posix(),
            "index": index,
        }

    def __repr__(self) -> str:
        return (f"MultiPIE(root={str(self.root)!r}, images={len(self)}, subjects={len(self.subjects)}, "
                f"cameras={sorted({r.camera for r in self.records})})")
