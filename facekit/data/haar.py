"""Haar-cascade face and eye detection (Viola & Jones, CVPR 2001) with OpenCV, and the eye-to-face crops.

This is the data pipeline of *From an Eye to a Face* (Tse, Jok, Ng, Lee), section "Data":

1. find faces with OpenCV's frontal-face Haar cascade (``haarcascade_frontalface_default.xml``);
2. inside the face, find eyes with the eye cascade (``haarcascade_eye.xml``);
3. keep an image only when it has **exactly one face and exactly two eyes** ("more than 1 face or less than 2
   eyes ... is probably a partial face; more than 2 eyes ... a non-eye object taken for an eye");
4. resize the face to 128x128 and each eye to 32x32 (bilinear), scale pixels from [0, 255] to [0, 1];
5. each kept image gives **two eye -> face pairs**, one per eye.

The cascades are loaded once per process and cached. They need ``opencv-python`` 4.x: OpenCV 5 removed
``cv2.CascadeClassifier`` and no longer ships the cascade files (the fix: ``pip install "opencv-python>=4.10,<5"``).

Example:
    >>> import skimage.data
    >>> photo = skimage.data.astronaut()            # (512, 512, 3) uint8 RGB
    >>> detect_faces(photo).shape                   # one face: (x, y, w, h)
    (1, 4)
    >>> crops = eye_face_crops(photo)
    >>> crops.face.shape, crops.eyes.shape          # (128, 128, 3) and two (32, 32, 3), floats in [0, 1]
    ((128, 128, 3), (2, 32, 32, 3))
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union

import cv2
import numpy as np

from facekit.checks import as_float_image, check_pixel_range

__all__ = [
    "FACE_CASCADE",
    "EYE_CASCADE",
    "OPENCV_FIX",
    "HaarUnavailableError",
    "EyeFaceCrops",
    "load_cascade",
    "to_gray",
    "detect_faces",
    "detect_eyes",
    "eye_face_crops",
]

FACE_CASCADE: str = "haarcascade_frontalface_default.xml"
"""OpenCV's frontal-face cascade (the one the eye-to-face paper uses)."""

EYE_CASCADE: str = "haarcascade_eye.xml"
"""OpenCV's eye cascade."""

OPENCV_FIX: str = 'pip install "opencv-python>=4.10,<5"'
"""The command that installs an OpenCV with Haar cascades."""


class HaarUnavailableError(ImportError):
    """This OpenCV cannot run Haar cascades (OpenCV 5.x, or a build without the cascade files)."""


@functools.lru_cache(maxsize=None)
def load_cascade(name: str = FACE_CASCADE) -> "cv2.CascadeClassifier":
    """Load (once per process) an OpenCV Haar cascade by file name or path.

    Args:
        name: a file of ``cv2.data.haarcascades`` (e.g. :data:`FACE_CASCADE`, :data:`EYE_CASCADE`) or a path.

    Returns:
        A ``cv2.CascadeClassifier``.

    Raises:
        HaarUnavailableError: OpenCV has no ``CascadeClassifier`` (5.x) or the file cannot be found or read; the
            message names the fix, ``pip install "opencv-python>=4.10,<5"``.
    """
    version = getattr(cv2, "__version__", "?")
    if not hasattr(cv2, "CascadeClassifier"):
        raise HaarUnavailableError(
            f"OpenCV {version} has no cv2.CascadeClassifier (OpenCV 5 removed the Haar cascades, which the "
            f"eye-to-face pipeline needs). Install OpenCV 4: {OPENCV_FIX}")
    path = Path(name)
    if not path.is_file():
        folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
        if folder is None:
            raise HaarUnavailableError(
                f"OpenCV {version} ships no Haar cascade files (cv2.data.haarcascades is missing), so {name!r} "
                f"cannot be found. Install OpenCV 4 with its data files: {OPENCV_FIX}")
        path = Path(folder) / name
    if not path.is_file():
        raise HaarUnavailableError(f"Haar cascade {name!r} not found (looked for {path}). Pass an existing file, "
                                   f"or reinstall OpenCV 4 with its data files: {OPENCV_FIX}")
    cascade = cv2.CascadeClassifier(str(path))
    if cascade.empty():
        raise HaarUnavailableError(f"OpenCV {version} could not read the Haar cascade {path}. {OPENCV_FIX}")
    return cascade


def to_gray(image: Any) -> np.ndarray:
    """Convert an image to the 8-bit grey image that Haar cascades read.

    Args:
        image: ``(H, W, 3)`` RGB or ``(H, W)`` grey numpy array, uint8 in [0, 255] or float in [0, 1]; or a torch
            tensor ``(3, H, W)`` / ``(1, H, W)`` / ``(H, W)`` float in [0, 1].

    Returns:
        ``(H, W)`` uint8.

    Raises:
        TypeError: a tensor that is not floating point, or an array of another dtype than uint8 / float.
        ValueError: an empty image, NaN pixels, a float image outside [0, 1] (0-255 floats would all turn white
            and every face would be lost), or another shape.
    """
    if hasattr(image, "detach"):  # a torch tensor: (C, H, W) float in [0, 1]
        check_pixel_range(image, "image (a tensor)")
        array = image.detach().cpu().numpy()
        if array.ndim == 3:
            array = np.moveaxis(array, 0, -1)
        image = array
    array = np.asarray(image)
    if array.size == 0:
        raise ValueError(f"image is empty (shape {array.shape})")
    if array.dtype != np.uint8:
        array = (np.clip(as_float_image(array), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 3 and array.shape[2] == 3:
        return cv2.cvtColor(array, cv2.COLOR_RGB2GRAY)
    if array.ndim == 2:
        return np.ascontiguousarray(array)
    raise ValueError(f"expected an image of shape (H, W, 3), (H, W, 1) or (H, W), got {array.shape}")


def _boxes(found: Any) -> np.ndarray:
    return np.asarray(found, dtype=np.int64).reshape(-1, 4)


def detect_faces(image: Any, scale_factor: float = 1.1, min_neighbors: int = 5,
                 min_size: tuple[int, int] = (30, 30)) -> np.ndarray:
    """Find faces with OpenCV's frontal-face Haar cascade.

    Args:
        image: an image (see :func:`to_gray`).
        scale_factor: step between the scales the cascade tries (OpenCV's ``scaleFactor``).
        min_neighbors: overlapping detections needed to accept a face (higher = fewer false positives).
        min_size: smallest face, ``(w, h)`` pixels.

    Returns:
        ``(N, 4)`` int64 boxes ``(x, y, w, h)``, largest first; ``(0, 4)`` when none.
    """
    gray = to_gray(image)
    found = load_cascade(FACE_CASCADE).detectMultiScale(gray, scaleFactor=scale_factor, minNeighbors=min_neighbors,
                                                         minSize=tuple(int(v) for v in min_size))
    boxes = _boxes(found)
    return boxes[np.argsort(-(boxes[:, 2] * boxes[:, 3]), kind="stable")]


def detect_eyes(image: Any, face: Optional[Union[np.ndarray, tuple[int, int, int, int]]] = None,
                scale_factor: float = 1.1, min_neighbors: int = 3,
                min_size: Optional[tuple[int, int]] = None) -> np.ndarray:
    """Find eyes with OpenCV's eye cascade, inside a face box when one is given.

    Args:
        image: an image (see :func:`to_gray`).
        face: ``(x, y, w, h)`` of a face (from :func:`detect_faces`); ``None`` searches the whole image.
        scale_factor, min_neighbors: as in :func:`detect_faces` (OpenCV's defaults for the eye cascade).
        min_size: smallest eye ``(w, h)``; ``None`` = OpenCV's default (the cascade's 20x20 window).

    Returns:
        ``(M, 4)`` int64 boxes ``(x, y, w, h)`` in **image** coordinates, sorted left to right.
    """
    gray = to_gray(image)
    x0 = y0 = 0
    if face is not None:
        x0, y0, w, h = (int(v) for v in np.asarray(face).reshape(4))
        gray = gray[max(y0, 0):y0 + h, max(x0, 0):x0 + w]
        x0, y0 = max(x0, 0), max(y0, 0)
    kwargs: dict[str, Any] = {"scaleFactor": scale_factor, "minNeighbors": min_neighbors}
    if min_size is not None:
        kwargs["minSize"] = tuple(int(v) for v in min_size)
    boxes = _boxes(load_cascade(EYE_CASCADE).detectMultiScale(gray, **kwargs))
    boxes[:, 0] += x0
    boxes[:, 1] += y0
    return boxes[np.argsort(boxes[:, 0], kind="stable")]


@dataclass
class EyeFaceCrops:
    """The crops that one image gives to the eye-to-face pipeline.

    Attributes:
        face: ``(face_size, face_size, 3)`` float32 in [0, 1], the face box resized (bilinear).
        eyes: ``(2, eye_size, eye_size, 3)`` float32 in [0, 1], the two eye boxes resized (bilinear), image-left
            eye first.
        face_box: ``(4,)`` int64 ``(x, y, w, h)`` in the image.
        eye_boxes: ``(2, 4)`` int64 ``(x, y, w, h)`` in the image.
    """

    face: np.ndarray
    eyes: np.ndarray
    face_box: np.ndarray
    eye_boxes: np.ndarray

    def pairs(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The two ``(eye, face)`` training pairs of this image (one per eye)."""
        return [(self.eyes[0], self.face), (self.eyes[1], self.face)]


def _crop(rgb: np.ndarray, box: np.ndarray, size: int) -> np.ndarray:
    x, y, w, h = (int(v) for v in box)
    patch = rgb[max(y, 0):y + h, max(x, 0):x + w]
    return cv2.resize(patch, (size, size), interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255.0


def eye_face_crops(image: Any, face_size: int = 128, eye_size: int = 32, *, scale_factor: float = 1.1,
                   face_neighbors: int = 5, eye_neighbors: int = 3) -> Optional[EyeFaceCrops]:
    """The eye-to-face paper's crops of one image, or ``None`` unless it has exactly one face and two eyes.

    Args:
        image: an RGB image (see :func:`to_gray`; a grey image gives grey crops repeated on 3 channels).
        face_size: side of the face crop (the paper: 128).
        eye_size: side of each eye crop (the paper: 32).
        scale_factor, face_neighbors, eye_neighbors: the cascades' settings (see :func:`detect_faces`,
            :func:`detect_eyes`).

    Returns:
        :class:`EyeFaceCrops`, or ``None`` when the face cascade finds not exactly one face or the eye cascade
        finds not exactly two eyes inside it.

    Example:
        >>> from facekit.data.synthfaces import render
        >>> crops = eye_face_crops(render(0, size=128)["image"])
        >>> crops is None or crops.eyes.shape == (2, 32, 32, 3)
        True
    """
    gray = to_gray(image)
    faces = detect_faces(gray, scale_factor=scale_factor, min_neighbors=face_neighbors)
    if len(faces) != 1:
        return None
    eyes = detect_eyes(gray, faces[0], scale_factor=scale_factor, min_neighbors=eye_neighbors)
    if len(eyes) != 2:
        return None
    if hasattr(image, "detach"):
        array = image.detach().cpu().numpy()
        image = np.moveaxis(array, 0, -1) if array.ndim == 3 else array
    rgb = np.asarray(image)
    if rgb.dtype != np.uint8:
        rgb = (np.clip(rgb, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    if rgb.ndim == 2 or rgb.shape[2] == 1:
        rgb = np.repeat(rgb.reshape(rgb.shape[0], rgb.shape[1], 1), 3, axis=2)
    return EyeFaceCrops(face=_crop(rgb, faces[0], face_size),
                        eyes=np.stack([_crop(rgb, box, eye_size) for box in eyes]),
                        face_box=faces[0].copy(), eye_boxes=eyes)
