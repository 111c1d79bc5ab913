"""Editing a real photo: read it, find the face, align it, edit it at the method's size, paste it back.

The one place facekit edits a user's own photo (chapter 07; the command is ``python -m facekit.edit``). The steps:

1. **read** (:func:`read_photo`): any file Pillow decodes, EXIF orientation applied; what had to be converted is
   said in :attr:`Photo.notes` (16-bit -> 8-bit, grey -> RGB and back to grey on saving, RGBA / LA / transparent
   palette -> **composited on white** (the alpha channel is dropped from the result), palette -> RGB, CMYK -> RGB
   by Pillow's formula without colour management). A non-image, an empty or a truncated file is refused
   (:class:`PhotoError`).
2. **detect** (:func:`find_faces`): facekit's real-photo detector (:func:`facekit.data.wild.default_detector`:
   dlib's HOG detector + 68 points) on a copy whose long side is at most
   :data:`facekit.data.wild.WILD_MAX_SIDE` (640) px, the landmarks mapped back to the full-size photo, as
   :func:`facekit.data.wild.detect_five_points` does for CelebA's in-the-wild photos. Several faces: the largest
   by default, and the choice is announced; ``face=N`` picks the N-th (1-based) by size or from left to right.
3. **align** (:func:`align_photo_face`): the datasets' alignment, :func:`facekit.align.align_to_celeba` (CelebA's
   178 x 218 geometry, ``border="replicate"`` as :class:`facekit.data.CelebA` reads wild photos), then the
   178 px central square the chapters cut (``center_crop=178``), resized to the method's size. The three steps
   are one similarity transform, kept as a 3 x 3 matrix; a large face is first shrunk with area interpolation so
   that the warp does not alias (the same transform, antialiased).
4. **edit** at the method's size (:data:`METHODS`, :func:`valid_pairs`): CNIA's guided-image mode (sec. 4.2,
   Fig. 5: the attribute comes from a guide photo, aligned the same way) through :func:`facekit.nn.face_network`'s
   choice for real photos; DIAT-A's shipped transform networks and enhancers; eye-to-face's shipped generator
   (a whole face from the photo's image-left eye); see-another-you's shipped accessory and completion networks
   (32 px grey: the output replaces the luma only, the photo's colour is kept). The shipped networks were all
   trained on SynthFaces renders, and every result says so (:attr:`PhotoEdit.label`).
5. **paste back** (:func:`paste_back`): the edited crop and a feathered mask of the edited region
   (:func:`edit_mask`: the attribute's landmark hull, or the whole face for global edits) are warped back with the
   inverse transform onto the full-resolution original; outside the mask the photo is untouched, bit for bit.
6. **score** (:func:`score_photo_edit`): :func:`facekit.eval.judges_for` for real photos and
   :func:`facekit.eval.score_edits` on the original and the result, both re-aligned by the same transform at
   :data:`SCORE_SIZE` px: attribute success by the real-photo judges (:mod:`facekit.eval.real_judges`; "not
   judged" for an attribute none of them covers), identity by dlib (flagged where the method optimised through
   DlibFaceNet).
7. **save** (:func:`facekit.edit.save_photo`, with the command): atomically, never over the input, labelled as
   edited, the original beside the result on request.

What each method took here and what its results look like: :mod:`facekit.edit`'s docstring (measured).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch

from facekit.data._common import ImageReadError
from facekit.landmarks import NoFaceFoundError

__all__ = [
    "PhotoError", "FaceTooSmallError", "UnsupportedEditError", "Photo", "read_photo", "as_photo", "Face",
    "find_faces", "choose_face", "AlignedFace", "align_photo_face", "min_inter_ocular", "edit_mask", "paste_back",
    "EDITS", "METHODS", "valid_pairs", "check_edit", "PhotoEdit", "edit_photo", "score_photo_edit",
    "CNIA_PHOTO_SETTINGS", "FACE_ORDERS", "SCORE_SIZE", "CROP_SIDE",
]

CROP_SIDE: int = 178
"""Side of the central square cut from CelebA's 178 x 218 aligned geometry (the chapters' ``center_crop=178``)."""

SCORE_SIZE: int = 178
"""Side of the re-aligned crops the judges score (CelebA's central square at its own resolution)."""

_CELEBA_IOD: float = 38.0  # eye centre to eye centre in facekit.align.CELEBA_FIVE_POINT_TEMPLATE (107 - 69)


class PhotoError(ValueError):
    """A photo that cannot be edited as given; the message says what was expected and what to do."""


class FaceTooSmallError(PhotoError):
    """The face has fewer pixels than the method's input would need (the edit would be made on an upsampled blur)."""


class UnsupportedEditError(PhotoError):
    """An edit the chosen method cannot make; the message lists every valid (method, edit) pair."""


# 1. Reading -----------------------------------------------------------------------------------------------------
@dataclass
class Photo:
    """A photo ready for editing.

    Attributes:
        rgb: ``(H, W, 3)`` uint8 RGB, upright (EXIF orientation applied).
        path: the file it came from (``None`` for an array).
        mode: Pillow's mode of the file (``"RGB"``, ``"L"``, ``"I;16"``, ``"RGBA"``, ``"CMYK"``, ``"P"``, ...).
        grey: the photo was grey: the result is saved grey too.
        notes: one sentence per conversion made (printed by the command).
    """

    rgb: np.ndarray
    path: Optional[Path] = None
    mode: str = "RGB"
    grey: bool = False
    notes: List[str] = field(default_factory=list)


def _flatten_alpha(img: Any, notes: List[str]) -> Any:
    from PIL import Image

    rgba = img.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    notes.append(f"{img.mode} photo with transparency: composited on white; the result has no alpha channel")
    return Image.alpha_composite(white, rgba).convert("RGB")


def _to_rgb(img: Any, notes: List[str]) -> Tuple[np.ndarray, bool]:
    """Pillow image (any mode) -> ``(H, W, 3)`` uint8 RGB and whether it was grey; conversions go to ``notes``."""
    mode = img.mode
    if mode == "RGB":
        return np.array(img, dtype=np.uint8), False
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in img.info):
        grey = mode in ("LA", "La")
        return np.array(_flatten_alpha(img, notes), dtype=np.uint8), grey
    if mode == "P":
        notes.append("palette photo: converted to RGB")
    if mode == "CMYK":
        notes.append("CMYK photo: converted to RGB by Pillow's formula (no colour management; colours may shift); "
                     "the result is saved as RGB")
    if mode in ("P", "CMYK"):
        return np.array(img.convert("RGB"), dtype=np.uint8), False
    if mode in ("L", "1"):
        notes.append("grey photo: edited as RGB with three equal channels, saved grey again")
        return np.repeat(np.array(img.convert("L"), dtype=np.uint8)[..., None], 3, axis=2), True
    if mode.startswith("I;16") or mode == "I":
        arr = np.array(img).astype(np.float64)
        top = 65535.0 if mode.startswith("I;16") or arr.max() > 255 else 255.0
        if arr.min() < 0 or arr.max() > 65535:
            raise PhotoError(f"a {mode} photo with values in [{arr.min():g}, {arr.max():g}] is not a 16-bit image; "
                             "save it as 8- or 16-bit RGB or grey")
        notes.append(f"{'16' if top > 255 else '32'}-bit grey photo ({mode}): scaled to 8 bits (/{top / 255:g}), "
                     "edited as RGB, saved as 8-bit grey")
        grey8 = np.round(arr * (255.0 / top)).clip(0, 255).astype(np.uint8)
        return np.repeat(grey8[..., None], 3, axis=2), True
    if mode == "F":  # 32-bit float (TIFF): only [0, 1] has an honest 8-bit reading
        arr = np.array(img, dtype=np.float64)
        if not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > 1:
            raise PhotoError("a floating-point (mode F) photo must hold finite values in [0, 1]: save it as an 8- or "
                             "16-bit image")
        notes.append("floating-point grey photo: scaled to 8 bits, saved as 8-bit grey")
        return np.repeat(np.round(arr * 255).astype(np.uint8)[..., None], 3, axis=2), True
    notes.append(f"{mode} photo: converted to RGB by Pillow")  # YCbCr, LAB, HSV, RGBX, ...
    return np.array(img.convert("RGB"), dtype=np.uint8), False


def read_photo(path: Union[str, Path], *, what: str = "photo") -> Photo:
    """Read a photo file for editing: decoded now, EXIF orientation applied, converted to 8-bit RGB (notes say how).

    Args:
        path: any image file Pillow reads (JPEG, PNG, TIFF, WebP, BMP, ...).
        what: how to call it in messages (``"photo"``, ``"guide photo"``).

    Returns:
        a :class:`Photo`.

    Raises:
        facekit.data._common.ImageReadError: no such file, not an image, empty, truncated or corrupt.
        PhotoError: a pixel format that cannot be converted honestly (e.g. 32-bit float outside [0, 1]).
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    p = Path(path)
    if not p.is_file():
        raise ImageReadError(f"{what} not found: {p}" + (" (it is a folder)" if p.exists() else ""))
    notes: List[str] = []
    try:
        with Image.open(p) as img:
            deep = img.mode == "RGB" and any(";16" in str(t.args) for t in (img.tile or []))  # 48-bit RGB
            img.load()  # decode now: a truncated file fails here with a message naming it
            if deep:
                notes.append("16-bit RGB photo: read at 8 bits per channel by Pillow; the result is saved at 8 bits")
            orientation = img.getexif().get(0x0112, 1)
            upright = ImageOps.exif_transpose(img)
            if orientation not in (1, None):
                notes.append(f"EXIF orientation {orientation}: the photo was turned upright (the result is saved "
                             "upright, without the tag)")
            mode = img.mode
            rgb, grey = _to_rgb(upright, notes)
    except UnidentifiedImageError as err:
        raise ImageReadError(f"cannot read {what} {p}: not an image file Pillow knows (expected a JPEG, PNG, TIFF, "
                             "WebP, ... photo)") from err
    except Image.DecompressionBombError as err:
        raise PhotoError(f"{what} {p} is too large for Pillow's safety limit ({err}); downscale it first") from err
    except (OSError, SyntaxError) as err:
        raise ImageReadError(f"cannot decode {what} {p}: {err} (the file is truncated or corrupt: copy it again)"
                             ) from err
    if rgb.ndim != 3 or min(rgb.shape[:2]) < 8:
        raise PhotoError(f"{what} {p} is {rgb.shape[1]}x{rgb.shape[0]} px: too small to hold a face")
    return Photo(np.ascontiguousarray(rgb), p, mode, grey, notes)


def as_photo(image: Any) -> Photo:
    """A :class:`Photo` from an array (``(H, W, 3)`` uint8, or float in [0, 1]; grey ``(H, W)`` is stacked; RGBA
    arrays are refused: composite them first, or give the file to :func:`read_photo`, which composites on white)."""
    from facekit.landmarks import as_uint8_rgb

    if isinstance(image, Photo):
        return image
    arr = np.asarray(image)
    grey = arr.ndim == 2
    if grey:
        arr = np.repeat(arr[..., None], 3, axis=2)
    return Photo(as_uint8_rgb(arr), None, "L" if grey else "RGB", grey, [])


# 2. Detection ---------------------------------------------------------------------------------------------------
@dataclass
class Face:
    """One detected face: its 68 iBUG landmarks in pixels of the full-size photo."""

    landmarks: np.ndarray  # (68, 2)

    @property
    def inter_ocular(self) -> float:
        """Eye centre to eye centre, in photo pixels."""
        return float(np.linalg.norm(self.landmarks[36:42].mean(0) - self.landmarks[42:48].mean(0)))

    @property
    def box(self) -> Tuple[int, int, int, int]:  # (left, top, right, bottom) of the landmarks
        lo, hi = self.landmarks.min(0), self.landmarks.max(0)
        return int(lo[0]), int(lo[1]), int(math.ceil(hi[0])), int(math.ceil(hi[1]))

    @property
    def area(self) -> float:
        return float(np.prod(self.landmarks.max(0) - self.landmarks.min(0)))


def find_faces(rgb: np.ndarray, *, detector: Any = None, max_side: Optional[int] = None) -> List[Face]:
    """Every face in a photo, largest first, with landmarks in full-size pixels.

    The photo is downscaled (area interpolation) so that its long side is at most ``max_side`` before detection,
    as :func:`facekit.data.wild.detect_five_points` does for CelebA's in-the-wild photos, and the points are mapped
    back (pixel centres).

    Args:
        rgb: ``(H, W, 3)`` uint8.
        detector: a :class:`facekit.landmarks.LandmarkDetector` (default: :func:`facekit.data.wild.default_detector`).
        max_side: default :data:`facekit.data.wild.WILD_MAX_SIDE`.
    """
    from facekit.data.wild import WILD_MAX_SIDE, default_detector

    max_side = WILD_MAX_SIDE if max_side is None else int(max_side)
    det = default_detector() if detector is None else detector
    height, width = rgb.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    small, scale_xy = rgb, np.ones(2)
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        scale_xy = np.array([size[0] / width, size[1] / height])
    faces = [Face((np.asarray(f, np.float64) + 0.5) / scale_xy - 0.5) for f in det.detect_all(small)]
    return sorted(faces, key=lambda f: f.area, reverse=True)


FACE_ORDERS: Tuple[str, ...] = ("size", "left-to-right")


def choose_face(faces: Sequence[Face], index: Optional[int] = None, order: str = "size", *, what: str = "photo",
                max_side: Optional[int] = None) -> Tuple[Face, str]:
    """Pick one face: the largest by default, or the ``index``-th (1-based) by ``order``; and say which.

    Returns:
        ``(face, message)``; ``message`` is empty when there was a single face and no choice to announce.

    Raises:
        NoFaceFoundError: no face (the message says how small a face the detector finds).
        PhotoError: ``index`` out of range, or an unknown ``order``.
    """
    from facekit.data.wild import WILD_MAX_SIDE

    if order not in FACE_ORDERS:
        raise PhotoError(f"face order must be one of {', '.join(FACE_ORDERS)}; got {order!r}")
    if not faces:
        side = WILD_MAX_SIDE if max_side is None else max_side
        raise NoFaceFoundError(
            f"no face found in the {what}: dlib's HOG detector looks for upright, roughly frontal faces at least "
            f"about 40 px wide in a copy whose long side is at most {side} px (--detect-side raises it for a small "
            "face in a large photo); try a clearer, frontal, larger face")
    ranked = list(faces) if order == "size" else sorted(faces, key=lambda f: f.landmarks[:, 0].mean())
    if index is None:
        if len(faces) == 1:
            return faces[0], ""
        boxes = "; ".join(f"{i + 1}: box {f.box}" for i, f in enumerate(faces))
        return faces[0], (f"{len(faces)} faces found in the {what}; editing the largest (numbered by size: {boxes}). "
                          "Pick another with --face N (by size) or --face N --face-order left-to-right")
    if not 1 <= index <= len(faces):
        raise PhotoError(f"--face {index}: the {what} has {len(faces)} face(s); give 1 to {len(faces)} "
                         f"(numbered {'by size, largest first' if order == 'size' else 'from left to right'})")
    face = ranked[index - 1]
    return face, f"editing face {index} of {len(faces)} ({order}), box {face.box}"


# 3. Alignment and 5. paste-back ---------------------------------------------------------------------------------
@dataclass
class AlignedFace:
    """A face cut out by the datasets' alignment.

    Attributes:
        image: ``(S, S, 3)`` uint8.
        matrix: ``(3, 3)`` photo pixels -> crop pixels (a similarity transform).
        landmarks: ``(68, 2)`` in crop pixels.
    """

    image: np.ndarray
    matrix: np.ndarray
    landmarks: np.ndarray

    @property
    def size(self) -> int:
        return int(self.image.shape[0])


def _crop_matrix(size: int) -> np.ndarray:
    """CelebA's 178 x 218 frame -> the central 178 px square resized to ``size``, as
    :func:`facekit.data._common.crop_and_resize` maps points (pixel centres)."""
    from facekit.align import CELEBA_ALIGNED_SIZE
    from facekit.data._common import center_box

    left, top, right, _ = center_box(*CELEBA_ALIGNED_SIZE, CROP_SIDE)
    s = size / (right - left)
    return np.array([[s, 0, (0.5 - left) * s - 0.5], [0, s, (0.5 - top) * s - 0.5], [0, 0, 1]], np.float64)


def min_inter_ocular(size: int) -> float:
    """The smallest eye distance (photo px) a face needs for a method working at ``size`` px: the eye distance in
    that crop (38 px of CelebA's 178 px square, scaled), so that the crop is not an upsampled copy."""
    return _CELEBA_IOD * size / CROP_SIDE


def align_photo_face(rgb: np.ndarray, face: Union[Face, np.ndarray], size: int) -> AlignedFace:
    """Cut a face out of a photo as the datasets do: :func:`facekit.align.align_to_celeba` (replicate border), the
    central 178 px square, resized to ``size`` (one similarity transform, antialiased for large faces).

    Args:
        rgb: ``(H, W, 3)`` uint8 photo, full size.
        face: a :class:`Face` or its ``(68, 2)`` landmarks.
        size: the method's input side.
    """
    from facekit.align import align_to_celeba, transform_landmarks

    lm = face.landmarks if isinstance(face, Face) else np.asarray(face, np.float64)
    _, m_celeba = align_to_celeba(np.zeros((2, 2, 3), np.uint8), lm)  # the transform only
    total = _crop_matrix(size) @ m_celeba  # photo -> (size, size) crop
    scale = math.hypot(total[0, 0], total[1, 0])  # crop px per photo px
    src, pre = rgb, np.eye(3)
    if scale < 0.5:  # shrink first with area interpolation (antialiasing), then warp at about 1:1
        f = min(1.0, 1.5 * scale)
        w, h = max(1, round(rgb.shape[1] * f)), max(1, round(rgb.shape[0] * f))
        src = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
        fx, fy = w / rgb.shape[1], h / rgb.shape[0]
        pre = np.array([[fx, 0, 0.5 * fx - 0.5], [0, fy, 0.5 * fy - 0.5], [0, 0, 1]])  # photo -> shrunk photo
    local = total @ np.linalg.inv(pre)  # shrunk photo -> crop
    crop = cv2.warpAffine(src, local[:2], (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return AlignedFace(crop, total, transform_landmarks(lm, total))


def edit_mask(landmarks: np.ndarray, attributes: Optional[Sequence[str]], size: int, *, margin: float = 0.3,
              feather: float = 0.3) -> np.ndarray:
    """The feathered region an edit is pasted back through, in crop pixels.

    Local attributes: :func:`facekit.masks.attribute_mask` (the papers' expanded landmark hulls) with a soft edge;
    global ones (or ``None``): the whole face (the 68 points and the forehead above the brows), expanded the same way.

    Args:
        landmarks: ``(68, 2)`` in crop pixels.
        attributes: attribute names (e.g. ``["Smiling"]``), or ``None`` for the whole face.
        size: crop side.
        margin, feather: in inter-ocular distances (:func:`facekit.masks.attribute_mask`).

    Returns:
        ``(size, size)`` float32 in [0, 1].
    """
    from facekit.masks import attribute_mask, convex_hull_mask, is_global_attribute, part_points

    iod = float(np.linalg.norm(landmarks[36:42].mean(0) - landmarks[42:48].mean(0)))
    if attributes and not any(is_global_attribute(a) for a in attributes):
        return attribute_mask(landmarks, list(attributes), size, margin=margin, feather=feather)
    face = np.concatenate([landmarks, part_points(landmarks, "forehead")])  # the 68 points and the forehead
    return convex_hull_mask(face, size, margin * iod, feather * iod)


def paste_back(rgb: np.ndarray, edited: np.ndarray, aligned: AlignedFace, mask: np.ndarray, *,
               mode: str = "replace") -> Tuple[np.ndarray, np.ndarray]:
    """Warp an edited crop back into the full-size photo through a soft mask (the inverse of the alignment).

    Args:
        rgb: ``(H, W, 3)`` uint8, the original photo.
        edited: ``(S, S, 3)`` uint8 or float in [0, 1], the method's output for ``aligned``.
        aligned: the :class:`AlignedFace` the edit started from.
        mask: ``(S, S)`` in [0, 1] (:func:`edit_mask`); it is tapered to 0 over the crop's outer 6 %, so that no
            crop edge shows.
        mode: ``"replace"`` (the edited pixels, blended by the mask) or ``"delta"`` (only the edit's change,
            ``edited - aligned.image``, is added: the photo keeps its full-resolution detail, and what the edit
            removed may leave faint high-frequency traces).

    Returns:
        ``(result, full_mask)``: the ``(H, W, 3)`` uint8 result (equal to ``rgb`` wherever ``full_mask`` is 0) and
        the ``(H, W)`` float32 mask in photo pixels.
    """
    from facekit.align import unalign_face

    if mode not in ("replace", "delta"):
        raise ValueError(f"mode must be 'replace' or 'delta'; got {mode!r}")
    ed = np.asarray(edited, np.float32) / (255.0 if np.asarray(edited).dtype == np.uint8 else 1.0)
    h, w = rgb.shape[:2]
    s = aligned.size
    # Only the photo's pixels the crop covers are touched: warp into that box (cheap for a huge photo).
    corners = np.array([[-1, -1], [s, -1], [-1, s], [s, s]], np.float64) @ np.linalg.inv(aligned.matrix)[:2, :2].T \
        + np.linalg.inv(aligned.matrix)[:2, 2]
    x0, y0 = np.clip(np.floor(corners.min(0)).astype(int), 0, [w, h])
    x1, y1 = np.clip(np.ceil(corners.max(0)).astype(int) + 1, 0, [w, h])
    full = np.zeros((h, w), np.float32)
    result = rgb.copy()
    if x1 <= x0 or y1 <= y0:  # the crop lies outside the photo
        return result, full
    box = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], np.float64) @ np.linalg.inv(aligned.matrix)  # crop -> box
    matrix = np.linalg.inv(box)  # box pixels -> crop pixels, what unalign_face inverts
    shape = (y1 - y0, x1 - x0)
    edge = np.minimum(np.arange(s), np.arange(s)[::-1]).astype(np.float32) / max(0.06 * s, 1.0)  # soft crop edge
    taper = np.clip(np.minimum(edge[:, None], edge[None, :]), 0.0, 1.0)  # (S, S): 0 on the border, 1 inside
    m = np.asarray(mask, np.float32) * taper
    m = np.clip(unalign_face(m[..., None], matrix, shape)[..., 0], 0.0, 1.0)  # (h', w'), 0 outside the crop
    region = rgb[y0:y1, x0:x1]
    photo = region.astype(np.float32) / 255.0
    if mode == "replace":
        back = unalign_face(ed, matrix, shape, border="replicate")  # (h', w', 3)
        out = photo * (1 - m[..., None]) + back * m[..., None]
    else:
        delta = ed - aligned.image.astype(np.float32) / 255.0
        out = photo + unalign_face(delta, matrix, shape) * m[..., None]
    result[y0:y1, x0:x1] = np.where(m[..., None] > 0, np.round(np.clip(out, 0, 1) * 255), region).astype(np.uint8)
    full[y0:y1, x0:x1] = m
    return result, full


# 4. Methods and edits -------------------------------------------------------------------------------------------
EDITS: Dict[str, Tuple[Dict[str, int], Optional[Tuple[str, ...]], str]] = {
    "smile": ({"Smiling": 1}, ("Smiling",), "make the face smile"),
    "mouth_open": ({"Mouth_Slightly_Open": 1}, ("Mouth_Slightly_Open",), "open the mouth slightly"),
    "mouth_close": ({"Mouth_Slightly_Open": 0}, ("Mouth_Closed",), "close the mouth"),
    "glasses": ({"Eyeglasses": 1}, ("Eyeglasses",), "add glasses"),
    "sunglasses": ({"Eyeglasses": 1}, ("Eyeglasses",), "add sunglasses"),
    "remove_glasses": ({"Eyeglasses": 0}, ("Eyeglasses",), "remove glasses"),
    "big_nose": ({"Big_Nose": 1}, ("Big_Nose",), "a bigger nose"),
    "pointy_nose": ({"Pointy_Nose": 1}, ("Pointy_Nose",), "a pointy nose"),
    "female": ({"Male": 0}, None, "male to female (global: the whole face)"),
    "younger": ({"Young": 1}, None, "older to younger (global: the whole face)"),
    "face_from_eye": ({}, None, "a whole face generated from one eye (eye-to-face)"),
    "complete_eyes": ({}, ("Eyes_Open",), "the eyes covered by a bar, then completed (see-another-you)"),
}
"""``--edit`` names: ``(target attributes for the judges, attribute masks of the pasted region (None: the whole
face), what it does)``."""


@dataclass(frozen=True)
class MethodInfo:
    """One method on real photos: what it can do and at which size (``size`` 0: the network decides)."""

    name: str
    edits: Mapping[str, str]  # --edit name -> the method's own name for it
    size: int
    trained_on: str
    needs_guide: bool = False


METHODS: Dict[str, MethodInfo] = {
    "cnia": MethodInfo("cnia", {e: e for e in ("smile", "mouth_open", "mouth_close", "glasses", "remove_glasses",
                                              "big_nose", "pointy_nose", "female", "younger")}, 0,
                       "no training: optimised on this photo through a pretrained face network", needs_guide=True),
    "diat": MethodInfo("diat", {"mouth_open": "mouth_open", "mouth_close": "mouth_close",
                                "remove_glasses": "eyeglasses_remove", "female": "male_to_female",
                                "younger": "older_to_younger"}, 64, "SynthFaces"),
    "eye2face": MethodInfo("eye2face", {"face_from_eye": "face_from_eye"}, 128, "SynthFaces"),
    "see_another_you": MethodInfo("see_another_you", {"remove_glasses": "none", "glasses": "glasses:round",
                                                      "sunglasses": "glasses:sunglasses",
                                                      "complete_eyes": "completion"}, 32, "SynthFaces"),
}
"""What each method does on a real photo (``--method``); see :func:`valid_pairs`."""


def valid_pairs() -> List[Tuple[str, str]]:
    """Every ``(method, edit)`` pair :func:`edit_photo` accepts."""
    return [(m, e) for m, info in METHODS.items() for e in info.edits]


def check_edit(method: str, edit: str) -> MethodInfo:
    """The method's :class:`MethodInfo`, or :class:`UnsupportedEditError` listing the valid pairs."""
    pairs = "\n".join(f"  --method {m} --edit {e}" + ("  --guide GUIDE.jpg" if METHODS[m].needs_guide else "")
                      for m, e in valid_pairs())
    if method not in METHODS:
        raise UnsupportedEditError(f"unknown method {method!r}; the methods are {', '.join(METHODS)}. Valid:\n{pairs}")
    if edit not in METHODS[method].edits:
        can = [m for m, e in valid_pairs() if e == edit]
        hint = f" ({edit!r} is made by: {', '.join(can)})" if can else ("" if edit in EDITS else
                                                                        f" ({edit!r} is no edit facekit knows)")
        raise UnsupportedEditError(f"method {method!r} cannot make the edit {edit!r}{hint}. Valid pairs:\n{pairs}")
    return METHODS[method]


CNIA_PHOTO_SETTINGS: Dict[str, Dict[str, Any]] = {
    "reference": {"start": "reference", "color": False, "lam": 0.3, "gamma": 0.5},
    "blank": {},
}
"""CNIA on a photo: ``"reference"`` (default; ``bench/cnia.py``'s ``reference_start`` row: start from the photo,
lambda 0.3, gamma 0.5, no colour transfer; it kept identity where the paper's blank start did not, see
:data:`facekit.nn.FACE_NETWORK_EVIDENCE`) or ``"blank"`` (the paper's Algorithm 1 as :class:`~facekit.methods.cnia.CNIA`
defaults it)."""


_NEEDS_GUIDE = ("CNIA's guided-image mode (sec. 4.2) takes the attribute from a guide photo: pass --guide GUIDE.jpg, "
                "a photo of a face that has the attribute (e.g. one that smiles)")


def _to_tensor(images: Sequence[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float().div(255.0)  # (B, 3, S, S)


def _to_u8(x: torch.Tensor) -> np.ndarray:
    return (x.detach().clamp(0, 1)[0].permute(1, 2, 0).cpu().numpy() * 255 + 0.5).astype(np.uint8)  # (S, S, 3)


@dataclass
class _Run:
    """What a method adapter returns: the edited crop, the crop it belongs to, its paste mask, notes."""

    edited: np.ndarray  # (S, S, 3) uint8
    aligned: AlignedFace
    mask: np.ndarray  # (S, S) float
    label: str
    notes: List[str] = field(default_factory=list)
    loss_network: Any = None


def _check_size(face: Face, size: int, method: str, what: str = "photo") -> None:
    need = min_inter_ocular(size)
    if face.inter_ocular < need:
        raise FaceTooSmallError(
            f"the face in the {what} is too small for {method}: its eyes are {face.inter_ocular:.1f} px apart, and "
            f"{method} works on {size} px crops, which need at least {need:.1f} px (a smaller face would be edited "
            "as an upsampled blur). Use a larger photo of the face, or a method with smaller crops "
            f"({', '.join(f'{m}: {min_inter_ocular(i.size):.0f} px' for m, i in METHODS.items() if i.size)})")


def _run_cnia(rgb: np.ndarray, face: Face, edit: str, *, guide: Any, guide_face: Optional[int], steps: Optional[int],
              cnia_start: str, progress: bool, detector: Any, max_side: Optional[int]) -> _Run:
    from facekit.config import by_profile, get_device
    from facekit.methods.cnia import CNIA
    from facekit.nn import face_network

    if cnia_start not in CNIA_PHOTO_SETTINGS:
        raise PhotoError(f"cnia start must be one of {', '.join(CNIA_PHOTO_SETTINGS)}; got {cnia_start!r}")
    net = face_network(data="celeba", verbose=False, device=get_device())  # real photos' choice (DlibFaceNet offline)
    size = int(getattr(net, "input_size", 150))
    _check_size(face, size, "cnia")
    gphoto = guide if isinstance(guide, Photo) else (read_photo(guide, what="guide photo")
                                                    if isinstance(guide, (str, Path)) else as_photo(guide))
    gface, _ = choose_face(find_faces(gphoto.rgb, detector=detector, max_side=max_side), guide_face,
                           what="guide photo", max_side=max_side)
    _check_size(gface, size, "cnia", "guide photo")
    ref = align_photo_face(rgb, face, size)
    gal = align_photo_face(gphoto.rgb, gface, size)
    n = steps if steps is not None else by_profile(smoke=3, cpu=150, gpu=300)
    targets, mask_attrs, _ = EDITS[edit]
    local = mask_attrs is not None
    cnia = CNIA(net, steps=int(n), progress=progress, **CNIA_PHOTO_SETTINGS[cnia_start])
    out = cnia.edit_with_guides(_to_tensor([ref.image]), _to_tensor([gal.image]),
                                landmarks=torch.from_numpy(ref.landmarks).float()[None],
                                attributes=list(mask_attrs) if local else None)
    label = (f"CNIA guided-image mode (sec. 4.2), {n} steps from the {cnia_start} start, through "
             f"{type(net).__name__} at {size} px (no training on SynthFaces; the attribute is the guide's)")
    return _Run(_to_u8(out.images), ref, edit_mask(ref.landmarks, mask_attrs, size), label,
                [f"guide: {gphoto.path or 'array'}, face box {gface.box}"], loss_network=net)


def _run_diat(rgb: np.ndarray, face: Face, edit: str) -> _Run:
    from facekit.config import get_device
    from facekit.masks import attribute_masks
    from facekit.methods import diat as D

    task = D.TASKS[METHODS["diat"].edits[edit]]
    dev = get_device()
    T = D.load_pretrained(f"diat_a_{task.name}", device=dev)
    size = int(T.meta.get("size", 64))
    _check_size(face, size, "diat")
    enh = D.load_pretrained(f"diat_enhance_{task.name}" if task.local else "diat_enhance_global", device=dev)
    al = align_photo_face(rgb, face, size)
    x = _to_tensor([al.image]).to(dev)
    lm = torch.from_numpy(al.landmarks).float()[None]
    masks = attribute_masks(lm, task.attribute, size, device=dev) if task.local else None
    y = D.edit(x, T, task, enh, masks=masks)
    mask_attrs = EDITS[edit][1]
    label = f"DIAT-A {task.name} with its enhancer, shipped networks trained on SynthFaces at {size} px"
    return _Run(_to_u8(y), al, edit_mask(al.landmarks, mask_attrs, size), label)


def _run_eye2face(rgb: np.ndarray, face: Face) -> _Run:
    from facekit.align import transform_landmarks
    from facekit.data.haar import eye_face_crops
    from facekit.methods.eye2face import generate, load_pretrained

    size = METHODS["eye2face"].size
    _check_size(face, size, "eye2face")
    al = align_photo_face(rgb, face, size)
    crops = eye_face_crops(al.image, size, 32)  # the paper's Haar pipeline, as its training data was made
    if crops is None:
        raise PhotoError("eye-to-face's Haar pipeline needs exactly one face and two eyes in the aligned face "
                         "(as in its training data) and did not find them here: try a frontal, evenly lit photo "
                         "with both eyes open and no glasses")
    x, y, w, h = (int(v) for v in crops.face_box)
    gen = load_pretrained()
    out = generate(gen, torch.from_numpy(crops.eyes[:1].transpose(0, 3, 1, 2).copy()))  # (1, 3, 128, 128)
    # the generated face fills the Haar face box, as _crop resized it: crop px -> generated px
    sx, sy = size / w, size / h
    g = np.array([[sx, 0, (0.5 - x) * sx - 0.5], [0, sy, (0.5 - y) * sy - 0.5], [0, 0, 1]])
    frame = AlignedFace(cv2.resize(al.image[max(y, 0):y + h, max(x, 0):x + w], (size, size)), g @ al.matrix,
                        transform_landmarks(al.landmarks, g))
    label = f"eye-to-face, the shipped generator trained on SynthFaces: a {size} px face from the image-left eye"
    return _Run(_to_u8(out), frame, edit_mask(frame.landmarks, None, size), label,
                [f"Haar face box {crops.face_box.tolist()} and eye box {crops.eye_boxes[0].tolist()} in the "
                 f"{size} px aligned face"])


def _run_see_another_you(rgb: np.ndarray, face: Face, edit: str) -> _Run:
    from facekit.color import rgb_to_ycbcr, ycbcr_to_rgb
    from facekit.data.pairs import ACCESSORY_STATES, occlude_eyes
    from facekit.methods import see_another_you as S

    size = METHODS["see_another_you"].size
    _check_size(face, size, "see_another_you")
    state = METHODS["see_another_you"].edits[edit]
    al = align_photo_face(rgb, face, size)
    grey = cv2.cvtColor(al.image, cv2.COLOR_RGB2GRAY)  # BT.601 luma, as the training data's grey images
    if state == "completion":
        task, code = "completion", 1  # ("occluded", "complete")
        source = occlude_eyes(grey, al.landmarks)
        bar = occlude_eyes(np.zeros_like(grey), al.landmarks, value=255).astype(np.float32) / 255
        mask = np.maximum(cv2.GaussianBlur(bar, (0, 0), max(size / 64, 0.5)), bar)  # the bar, a soft rim outside
    else:
        task, code, source = "accessory", [n for n, _ in ACCESSORY_STATES].index(state), grey
        mask = edit_mask(al.landmarks, EDITS[edit][1], size)
    model = S.load_pretrained(task)
    out = S.edit(model, torch.from_numpy(source)[None, None], torch.tensor([code]))["stage2"]  # (1, 1, S, S)
    ycc = rgb_to_ycbcr(al.image)  # (S, S, 3) float: keep the photo's chroma, replace the luma
    ycc[..., 0] = out[0, 0].numpy()
    edited = (np.clip(ycbcr_to_rgb(ycc), 0, 1) * 255 + 0.5).astype(np.uint8)
    label = (f"see-another-you {task} ({state}), the shipped two-stage network trained on SynthFaces at {size} px "
             "grey: it replaces the luma, the photo's colour is kept")
    return _Run(edited, al, mask, label)


# The whole edit -------------------------------------------------------------------------------------------------
@dataclass
class PhotoEdit:
    """An edited photo and everything needed to show and judge it.

    Attributes:
        original, result: ``(H, W, 3)`` uint8, full size (the result equals the original where ``mask`` is 0).
        mask: ``(H, W)`` float32, the pasted region in photo pixels.
        crop_before, crop_after: the method's input and output, ``(S, S, 3)`` uint8.
        aligned: the alignment of the edited face (its matrix maps photo to crop pixels).
        face: the edited :class:`Face`.
        method, edit, label: what ran; ``label`` says which networks and what they were trained on.
        notes: conversions and choices, one sentence each.
        seconds: wall time of detection, alignment, edit and paste-back (not of reading or saving).
        photo: the :class:`Photo` it came from.
    """

    original: np.ndarray
    result: np.ndarray
    mask: np.ndarray
    crop_before: np.ndarray
    crop_after: np.ndarray
    aligned: AlignedFace
    face: Face
    method: str
    edit: str
    label: str
    notes: List[str]
    seconds: float
    photo: Photo
    loss_network: Any = None

    def side_by_side(self) -> np.ndarray:
        """``(H, 2W, 3)``: the original left, the result right."""
        return np.concatenate([self.original, self.result], axis=1)

    def outside_mask_max_change(self) -> int:
        """Largest change of any pixel channel outside the pasted region (0: untouched there)."""
        outside = self.mask <= 0
        if not outside.any():
            return 0
        return int(np.abs(self.result.astype(int) - self.original.astype(int))[outside].max())


def edit_photo(photo: Any, edit: str, method: str = "diat", *, guide: Any = None, face: Optional[int] = None,
               face_order: str = "size", guide_face: Optional[int] = None, steps: Optional[int] = None,
               cnia_start: str = "reference", paste: str = "replace", detector: Any = None,
               max_side: Optional[int] = None, progress: bool = False,
               announce: Optional[Callable[[str], None]] = None) -> PhotoEdit:
    """Edit the face in a photo with one method and paste it back at full size.

    Args:
        photo: a file path, a :class:`Photo` or an ``(H, W, 3)`` array.
        edit: an ``--edit`` name of :data:`EDITS` the method can make (:func:`valid_pairs`).
        method: ``"cnia"``, ``"diat"``, ``"eye2face"`` or ``"see_another_you"`` (:data:`METHODS`).
        guide: CNIA only: the guide photo (path, :class:`Photo` or array) whose face has the attribute.
        face: the 1-based face to edit, numbered by ``face_order`` (default: the largest, announced).
        face_order: ``"size"`` (largest first) or ``"left-to-right"``.
        guide_face: the same for the guide photo.
        steps: CNIA's iterations (default by profile: smoke 3, cpu 150, gpu 300).
        cnia_start: :data:`CNIA_PHOTO_SETTINGS` key.
        paste: :func:`paste_back`'s ``mode``.
        detector: a landmark detector (default: dlib's, :func:`facekit.data.wild.default_detector`).
        max_side: long side of the copy detection runs on (default 640).
        progress: CNIA's progress bar.
        announce: called with each note as it is made (the command prints them on stderr).

    Returns:
        a :class:`PhotoEdit`.

    Raises:
        UnsupportedEditError: a (method, edit) pair that does not exist (the message lists the valid ones).
        NoFaceFoundError: no face in the photo (or the guide).
        FaceTooSmallError: the face is smaller than the method needs (the message gives the minimum).
        PhotoError, facekit.data._common.ImageReadError: an unreadable photo, a bad ``--face``, a missing guide.
    """
    info = check_edit(method, edit)
    if info.needs_guide != (guide is not None):
        raise PhotoError(f"--guide is for CNIA's guided-image mode only; {method} does not take a guide photo"
                         if guide is not None else _NEEDS_GUIDE)
    p = photo if isinstance(photo, Photo) else (read_photo(photo) if isinstance(photo, (str, Path))
                                                else as_photo(photo))
    notes = list(p.notes)
    say = announce or (lambda message: None)
    for n in notes:
        say(n)
    t0 = time.perf_counter()
    faces = find_faces(p.rgb, detector=detector, max_side=max_side)
    chosen, message = choose_face(faces, face, face_order, max_side=max_side)
    if message:
        notes.append(message)
        say(message)
    if method == "cnia":
        run = _run_cnia(p.rgb, chosen, edit, guide=guide, guide_face=guide_face, steps=steps, cnia_start=cnia_start,
                        progress=progress, detector=detector, max_side=max_side)
    elif method == "diat":
        run = _run_diat(p.rgb, chosen, edit)
    elif method == "eye2face":
        run = _run_eye2face(p.rgb, chosen)
    else:
        run = _run_see_another_you(p.rgb, chosen, edit)
    for n in run.notes:
        say(n)
    result, mask = paste_back(p.rgb, run.edited, run.aligned, run.mask, mode=paste)
    seconds = time.perf_counter() - t0
    return PhotoEdit(p.rgb, result, mask, run.aligned.image, run.edited, run.aligned, chosen, method, edit,
                     run.label, notes + run.notes, seconds, p, run.loss_network)


# 6. Scoring -----------------------------------------------------------------------------------------------------
def score_photo_edit(edited: PhotoEdit, judges: Any = None) -> Dict[str, Any]:
    """Score an edited photo with the real-photo judges: :func:`facekit.eval.score_edits` on the original and the
    result, both re-aligned by the edited face's transform at :data:`SCORE_SIZE` px.

    Args:
        edited: a :class:`PhotoEdit`.
        judges: a :class:`facekit.eval.Judges` (default ``judges_for("celeba")``: the judges of real photos; they
            are the same for every real dataset).

    Returns:
        :func:`facekit.eval.score_edits`'s row, plus ``"judges"`` (their one-line description) and
        ``"attribute_note"`` (why attribute success is ``nan`` when it is).
    """
    from facekit.eval import judges_for, score_edits

    j = judges_for("celeba") if judges is None else judges
    before = align_photo_face(edited.original, edited.face, SCORE_SIZE).image
    after = align_photo_face(edited.result, edited.face, SCORE_SIZE).image
    target = EDITS[edited.edit][0]
    kwargs = dict(j.score_kwargs())
    note = ""
    names = list(getattr(j.attributes, "attribute_names", []) or [])
    if not target:
        kwargs["judge_attributes"], note = False, "this edit asks for no attribute: identity only"
    elif j.attributes is None:
        note = "not judged: no real-photo attribute judge ships yet"
    elif not set(target) <= set(names):
        kwargs["judge_attributes"] = False
        note = f"not judged: the real judges know {', '.join(names)}, not {', '.join(target)}"
    # with no target attribute, attributes are not judged and score_edits never reads the placeholder target
    row = score_edits(_to_tensor([before]), _to_tensor([after]), target or {"none": 1},
                      loss_network=edited.loss_network, **kwargs)
    row["judges"], row["attribute_note"] = j.describe(), note
    return row
