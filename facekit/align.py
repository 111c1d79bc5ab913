"""Face alignment: 68 landmarks -> 5 points -> similarity transform onto a canonical template.

CNIA (sec. 4) aligns every LFW face "with 68 landmarks" before rescaling it to 224x224; DIAT (sec. 5) aligns test
photos "with the 5 facial landmarks" so they look like aligned CelebA. Both amount to the same recipe:

1. reduce the 68 iBUG points to 5 (:func:`landmarks_68_to_5`): the two eye centres, the nose tip and the two
   mouth corners, in image order (image-left first);
2. estimate the similarity transform (rotation, uniform scale, translation; 4 degrees of freedom) that maps them
   onto a template by least squares (Umeyama 1991; :func:`estimate_similarity`);
3. warp the image with it (:func:`align_face`) and map any landmarks the same way (:func:`transform_landmarks`).

The template is the **ArcFace / insightface 112x112 five-point template** (:data:`ARCFACE_TEMPLATE_112`), the
de-facto standard of face recognition, scaled to the output size. It crops tightly (brows to chin); ``padding``
zooms out to keep the forehead and hair, which attribute editing (bangs, hats) needs: ``padding=0.25`` leaves a
quarter of the tight crop's width free on every side.

Coordinates are ``(x, y)`` pixels with the centre of the top-left pixel at ``(0, 0)`` (OpenCV convention). The
3x3 ``matrix`` returned everywhere maps *input* pixel coordinates to *aligned* pixel coordinates.

**dlib's face chip** (:func:`dlib_face_chip`) is the other alignment in this module: the 150 x 150 chip that
dlib's face-recognition network (:class:`facekit.nn.DlibFaceNet`) was trained on. It is placed by dlib's own
5-point template (eye corners and the bottom of the nose, :data:`DLIB_FIVE_POINT_TEMPLATE`), and written in
PyTorch so that gradients flow from the chip back to the full image: an identity loss on the chip can edit the
photo itself.

Example:
    >>> import numpy as np
    >>> tpl = five_point_template(112)
    >>> bool(np.allclose(tpl, ARCFACE_TEMPLATE_112))
    True
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple, Union

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from facekit.landmarks import IBUG68_GROUPS, check_landmarks

__all__ = [
    "ARCFACE_TEMPLATE_112",
    "FIVE_POINT_NAMES",
    "landmarks_68_to_5",
    "five_point_template",
    "estimate_similarity",
    "transform_landmarks",
    "invert_transform",
    "align_face",
    "unalign_face",
    "CELEBA_ALIGNED_SIZE",
    "CELEBA_FIVE_POINT_TEMPLATE",
    "align_to_celeba",
    "DLIB_FIVE_POINT_TEMPLATE",
    "DLIB_68_TO_5",
    "landmarks_68_to_dlib5",
    "dlib_chip_geometry",
    "pyramid_down",
    "dlib_face_chip",
]

ARCFACE_TEMPLATE_112: np.ndarray = np.array(
    [
        [38.2946, 51.6963],  # eye on the image's left (the subject's right eye)
        [73.5318, 51.5014],  # eye on the image's right
        [56.0252, 71.7366],  # nose tip
        [41.5493, 92.3655],  # mouth corner on the image's left
        [70.7299, 92.2041],  # mouth corner on the image's right
    ],
    dtype=np.float64,
)
"""The insightface (ArcFace) 5-point template for a 112x112 crop, ``(x, y)`` pixels, in :data:`FIVE_POINT_NAMES`
order."""

FIVE_POINT_NAMES: tuple[str, ...] = (
    "eye_image_left",
    "eye_image_right",
    "nose_tip",
    "mouth_image_left",
    "mouth_image_right",
)
"""Order of the 5 points (image-left first, as in the ArcFace template and CelebA's landmark file)."""

_BORDERS = {
    "constant": cv2.BORDER_CONSTANT,
    "reflect": cv2.BORDER_REFLECT_101,
    "replicate": cv2.BORDER_REPLICATE,
}


def landmarks_68_to_5(landmarks: Union[np.ndarray, torch.Tensor]) -> Union[np.ndarray, torch.Tensor]:
    """Reduce iBUG-68 landmarks to 5 points: eye centres, nose tip, mouth corners.

    Eye centres are the mean of the 6 points of each eye (36-41, 42-47); the nose tip is point 30; the mouth
    corners are points 48 and 54. In a frontal face, the subject's right eye (36-41) is on the image's left, so
    the output follows :data:`FIVE_POINT_NAMES`.

    Args:
        landmarks: ``(68, 2)`` or batched ``(B, 68, 2)``; numpy array or tensor (kept as given, differentiable).

    Returns:
        ``(5, 2)`` or ``(B, 5, 2)``, same type as the input.

    Example:
        >>> landmarks_68_to_5(np.zeros((68, 2))).shape
        (5, 2)
    """
    if landmarks.ndim not in (2, 3) or tuple(landmarks.shape[-2:]) != (68, 2):
        raise ValueError(f"expected landmarks of shape (68, 2) or (B, 68, 2), got {tuple(landmarks.shape)}")
    right_eye = list(IBUG68_GROUPS["right_eye"])
    left_eye = list(IBUG68_GROUPS["left_eye"])
    parts = [
        landmarks[..., right_eye, :].mean(-2),  # (..., 2) image-left eye centre
        landmarks[..., left_eye, :].mean(-2),  # image-right eye centre
        landmarks[..., 30, :],  # nose tip
        landmarks[..., 48, :],  # mouth corner, image-left
        landmarks[..., 54, :],  # mouth corner, image-right
    ]
    if isinstance(landmarks, torch.Tensor):
        return torch.stack(parts, dim=-2)  # (..., 5, 2)
    return np.stack(parts, axis=-2)  # (..., 5, 2)


def five_point_template(size: Union[int, tuple[int, int]] = 128, padding: float = 0.0) -> np.ndarray:
    """The ArcFace 5-point template scaled to a ``size`` crop, optionally zoomed out by ``padding``.

    The template is scaled by ``size / 112`` (as insightface does for 224) and, with ``padding`` p, shrunk about
    the crop centre by ``1 / (1 + 2p)``: the tight ArcFace crop then fills the middle ``1 / (1 + 2p)`` of the
    output.

    Args:
        size: output side ``S``, or ``(H, W)``; a non-square size stretches the template (keep it square for
            a similarity alignment).
        padding: extra margin as a fraction of the tight crop, on each side (0 = the ArcFace crop).

    Returns:
        ``(5, 2)`` float64 ``(x, y)`` pixel coordinates.

    Example:
        >>> five_point_template(224)[0]
        array([ 76.5892, 103.3926])
    """
    h, w = (size, size) if isinstance(size, int) else size
    if h < 1 or w < 1:
        raise ValueError(f"size must be positive, got {size!r}")
    if padding <= -0.5:
        raise ValueError(f"padding must be > -0.5, got {padding}")
    scale = np.array([w, h], dtype=np.float64) / 112.0  # insightface's convention: 224 px = template * 2
    centre = np.array([w, h], dtype=np.float64) / 2.0
    return (ARCFACE_TEMPLATE_112 * scale - centre) / (1.0 + 2.0 * padding) + centre  # (5, 2)


def estimate_similarity(src: Any, dst: Any) -> np.ndarray:
    """Least-squares similarity transform (Umeyama 1991) mapping ``src`` points onto ``dst`` points.

    It minimises ``sum_i || s R src_i + t - dst_i ||^2`` over a rotation ``R``, a scale ``s`` and a translation
    ``t`` (scikit-image's ``SimilarityTransform``, without reflection).

    Args:
        src: ``(N, 2)`` points, ``N >= 2``.
        dst: ``(N, 2)`` points.

    Returns:
        ``(3, 3)`` homogeneous matrix ``M`` with ``dst ~ M @ [x, y, 1]``.

    Example:
        >>> pts = np.array([[0., 0.], [1., 0.], [0., 1.]])
        >>> m = estimate_similarity(pts, 2 * pts + 1)
        >>> bool(np.allclose(m, [[2, 0, 1], [0, 2, 1], [0, 0, 1]]))
        True
    """
    from skimage.transform import SimilarityTransform

    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    if src.ndim != 2 or src.shape[1] != 2 or src.shape != dst.shape or src.shape[0] < 2:
        raise ValueError(f"expected src and dst of the same shape (N, 2) with N >= 2, got {src.shape} and {dst.shape}")
    if hasattr(SimilarityTransform, "from_estimate"):  # scikit-image >= 0.26
        tform = SimilarityTransform.from_estimate(src, dst)
        ok = bool(tform)
    else:  # pragma: no cover - older scikit-image
        tform = SimilarityTransform()
        ok = tform.estimate(src, dst)
    if not ok or not np.all(np.isfinite(tform.params)):
        raise ValueError("could not estimate a similarity transform: the source points are degenerate (all equal?)")
    return np.asarray(tform.params, dtype=np.float64)  # (3, 3)


def _as_matrix3(matrix: Any) -> np.ndarray:
    m = np.asarray(matrix, dtype=np.float64)
    if m.shape == (2, 3):
        m = np.vstack([m, [0.0, 0.0, 1.0]])
    if m.shape != (3, 3):
        raise ValueError(f"expected a (2, 3) or (3, 3) affine matrix, got shape {m.shape}")
    return m


def transform_landmarks(landmarks: Any, matrix: Any) -> np.ndarray:
    """Apply an affine matrix to ``(N, 2)`` points (e.g. the 68 landmarks after :func:`align_face`).

    Args:
        landmarks: ``(N, 2)`` or ``(B, N, 2)`` ``(x, y)`` points.
        matrix: ``(3, 3)`` or ``(2, 3)`` affine matrix.

    Returns:
        Transformed points, same shape, float64.

    Example:
        >>> transform_landmarks(np.array([[1.0, 2.0]]), np.eye(3))
        array([[1., 2.]])
    """
    m = _as_matrix3(matrix)
    pts = landmarks.detach().cpu().numpy() if isinstance(landmarks, torch.Tensor) else landmarks
    pts = np.asarray(pts, dtype=np.float64)
    if pts.ndim not in (2, 3) or pts.shape[-1] != 2:
        raise ValueError(f"expected points of shape (N, 2) or (B, N, 2), got {pts.shape}")
    return pts @ m[:2, :2].T + m[:2, 2]  # (..., N, 2)


def invert_transform(matrix: Any) -> np.ndarray:
    """Inverse of an affine matrix, as ``(3, 3)``: maps aligned coordinates back to the input image."""
    return np.linalg.inv(_as_matrix3(matrix))


def _warp(image: np.ndarray, matrix: np.ndarray, out_hw: tuple[int, int], border: str) -> np.ndarray:
    if border not in _BORDERS:
        raise ValueError(f"unknown border {border!r}; choose one of: {', '.join(_BORDERS)}")
    arr = np.asarray(image)
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3, 4)):
        raise ValueError(f"expected an (H, W, 3) (or (H, W), (H, W, 1)) image, got shape {arr.shape}")
    if not (arr.dtype == np.uint8 or np.issubdtype(arr.dtype, np.floating)):
        raise TypeError(f"expected a uint8 or float image, got dtype {arr.dtype}")
    work = arr.astype(np.float32) if arr.dtype not in (np.uint8, np.float32) else arr
    out = cv2.warpAffine(
        work,
        matrix[:2].astype(np.float64),
        (out_hw[1], out_hw[0]),  # OpenCV wants (width, height)
        flags=cv2.INTER_LINEAR,
        borderMode=_BORDERS[border],
        borderValue=0,
    )
    if arr.ndim == 3 and out.ndim == 2:  # OpenCV drops a singleton channel
        out = out[:, :, None]
    return out.astype(arr.dtype, copy=False)


def _five_points(landmarks: Any) -> np.ndarray:
    """``(68, 2)`` iBUG landmarks or ``(5, 2)`` points -> checked ``(5, 2)`` points in :data:`FIVE_POINT_NAMES` order."""
    pts = landmarks.detach().cpu().numpy() if isinstance(landmarks, torch.Tensor) else np.asarray(landmarks)
    if pts.shape == (68, 2):
        return landmarks_68_to_5(check_landmarks(pts))
    if pts.shape == (5, 2):
        return check_landmarks(pts, num_points=5)
    raise ValueError(f"expected landmarks of shape (68, 2) or (5, 2), got {pts.shape}")


def align_face(
    image: np.ndarray,
    landmarks: Any,
    size: int = 128,
    padding: float = 0.0,
    border: str = "constant",
) -> tuple[np.ndarray, np.ndarray]:
    """Align a face onto the ArcFace 5-point template with a similarity transform.

    Args:
        image: ``(H, W, 3)`` image (``uint8`` or float; the dtype is kept).
        landmarks: ``(68, 2)`` iBUG landmarks or ``(5, 2)`` points in :data:`FIVE_POINT_NAMES` order.
        size: side of the square output.
        padding: zoom out around the tight ArcFace crop (see :func:`five_point_template`).
        border: how pixels outside the input are filled: ``"constant"`` (black), ``"reflect"``, ``"replicate"``.

    Returns:
        ``(aligned, matrix)``: the ``(size, size, 3)`` aligned image and the ``(3, 3)`` matrix mapping input
        pixel coordinates to aligned ones (use :func:`transform_landmarks` to move landmarks, :func:`unalign_face`
        to paste an edited crop back).

    Shape:
        - image: :math:`(H, W, 3)`; landmarks: :math:`(68, 2)` or :math:`(5, 2)`
        - aligned: :math:`(S, S, 3)`; matrix: :math:`(3, 3)`

    Example:
        >>> img = np.zeros((200, 200, 3), np.uint8)
        >>> pts = five_point_template(200)
        >>> aligned, m = align_face(img, pts, size=64)
        >>> aligned.shape, m.shape
        ((64, 64, 3), (3, 3))
    """
    if not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")
    if isinstance(image, np.ndarray) and image.dtype.kind == "f" and not np.isfinite(image).all():
        raise ValueError(f"image holds {int((~np.isfinite(image)).sum())} NaN or inf value(s); the warp would spread "
                         "them into the aligned face: fix or drop the image (uint8 images cannot hold NaN)")
    five = _five_points(landmarks)
    matrix = estimate_similarity(five, five_point_template(int(size), padding))  # (3, 3) input -> aligned
    aligned = _warp(image, matrix, (int(size), int(size)), border)
    return aligned, matrix


def unalign_face(aligned: np.ndarray, matrix: Any, shape: tuple[int, ...], border: str = "constant") -> np.ndarray:
    """Warp an aligned crop back into the frame of the original image (the inverse of :func:`align_face`).

    Args:
        aligned: ``(S, S, 3)`` aligned (perhaps edited) image.
        matrix: the ``(3, 3)`` matrix returned by :func:`align_face`.
        shape: ``(H, W)`` or ``(H, W, C)`` of the original image.
        border: fill outside the crop (``"constant"`` = black; blend with a mask to paste onto the original).

    Returns:
        ``(H, W, 3)`` image, same dtype as ``aligned``.
    """
    inverse = invert_transform(matrix)  # aligned -> input coordinates
    return _warp(aligned, inverse, (int(shape[0]), int(shape[1])), border)


# ----------------------------------------------------------------------------------------------------------------
# CelebA's aligned geometry: one alignment for every real image
# ----------------------------------------------------------------------------------------------------------------

CELEBA_ALIGNED_SIZE: tuple[int, int] = (178, 218)
"""``(width, height)`` of CelebA's aligned-and-cropped images (``img_align_celeba``)."""

# Approximate mean positions of the 5 landmarks in CelebA's aligned crops (the column means of
# list_landmarks_align_celeba.txt over the 202,599 images are about these values, rounded to the pixel). They are
# approximate: CelebA's own alignment placed each face only roughly, so individual crops scatter by a few pixels.
CELEBA_FIVE_POINT_TEMPLATE: np.ndarray = np.array(
    [
        [69.0, 111.0],  # lefteye (image left)
        [107.0, 111.0],  # righteye (image right)
        [88.0, 135.0],  # nose
        [72.0, 152.0],  # leftmouth
        [106.0, 152.0],  # rightmouth
    ],
    dtype=np.float64,
)
"""Where CelebA's aligned 178x218 crops have their 5 points (approximate means), ``(x, y)`` pixels, in
:data:`FIVE_POINT_NAMES` order (the order of CelebA's landmark file)."""


def align_to_celeba(image: np.ndarray, landmarks: Any, border: str = "constant") -> tuple[np.ndarray, np.ndarray]:
    """Align any face photo onto CelebA's aligned geometry: a 178x218 crop with the 5 points where CelebA has them.

    The one alignment facekit uses for every real image: CelebA's in-the-wild photos (``img_celeba``) become crops
    that look like ``img_align_celeba``, and a user's own photo goes through the same function, so that a model
    trained on aligned CelebA sees the face where it expects it. A similarity transform (least squares, no shear)
    maps the 5 points onto :data:`CELEBA_FIVE_POINT_TEMPLATE`.

    Args:
        image: ``(H, W, 3)`` image (``uint8`` or float; the dtype is kept), any size.
        landmarks: ``(68, 2)`` iBUG landmarks or ``(5, 2)`` points in :data:`FIVE_POINT_NAMES` order, in pixels of
            ``image`` (e.g. from :func:`facekit.landmarks.get_detector`).
        border: how pixels outside the photo are filled: ``"constant"`` (black), ``"reflect"``, ``"replicate"``.

    Returns:
        ``(aligned, matrix)``: the ``(218, 178, 3)`` crop and the ``(3, 3)`` matrix mapping ``image`` pixels to
        crop pixels (move the landmarks with :func:`transform_landmarks`; paste back with :func:`unalign_face`).

    Raises:
        ValueError: landmarks of another shape, or degenerate points.

    Example:
        >>> img = np.zeros((300, 300, 3), np.uint8)
        >>> aligned, m = align_to_celeba(img, CELEBA_FIVE_POINT_TEMPLATE * 1.5)
        >>> aligned.shape
        (218, 178, 3)
    """
    five = _five_points(landmarks)
    matrix = estimate_similarity(five, CELEBA_FIVE_POINT_TEMPLATE)  # (3, 3) input -> CelebA crop
    width, height = CELEBA_ALIGNED_SIZE
    return _warp(image, matrix, (height, width), border), matrix


# ----------------------------------------------------------------------------------------------------------------
# dlib's face chip, differentiable
# ----------------------------------------------------------------------------------------------------------------

DLIB_FIVE_POINT_TEMPLATE: np.ndarray = np.array(
    [
        [0.8595674595992, 0.2134981538014],  # outer corner of the eye on the image's right
        [0.6460604764104, 0.2289674387677],  # its inner corner
        [0.1205750620789, 0.2137274526848],  # outer corner of the eye on the image's left
        [0.3340850613712, 0.2290642403242],  # its inner corner
        [0.4901123135679, 0.6277975316475],  # bottom of the nose
    ],
    dtype=np.float64,
)
"""Where dlib puts its 5 landmarks in a face chip, as fractions of the unpadded chip
(``dlib/image_transforms/interpolation.h``, ``get_face_chip_details``), in the order of
``shape_predictor_5_face_landmarks``."""

DLIB_68_TO_5: tuple[int, ...] = (45, 42, 36, 39, 33)
"""The iBUG-68 points that dlib's 5 landmarks stand for (checked on the astronaut photo: within 3 px)."""


def landmarks_68_to_dlib5(landmarks: Union[np.ndarray, torch.Tensor]) -> Union[np.ndarray, torch.Tensor]:
    """Pick dlib's 5 landmarks (eye corners, bottom of the nose) from iBUG-68 landmarks.

    Args:
        landmarks: ``(68, 2)`` or ``(B, 68, 2)``, numpy or torch.

    Returns:
        ``(5, 2)`` or ``(B, 5, 2)`` in :data:`DLIB_FIVE_POINT_TEMPLATE` order, same type.

    Example:
        >>> landmarks_68_to_dlib5(np.arange(136.0).reshape(68, 2))[4]
        array([66., 67.])
    """
    if landmarks.ndim not in (2, 3) or tuple(landmarks.shape[-2:]) != (68, 2):
        raise ValueError(f"expected landmarks of shape (68, 2) or (B, 68, 2), got {tuple(landmarks.shape)}")
    return landmarks[..., list(DLIB_68_TO_5), :]


class DlibChipGeometry(NamedTuple):
    """Where one chip comes from (see :func:`dlib_chip_geometry`)."""

    crop: tuple[int, int, int, int]  # (left, top, right, bottom), inclusive, of the region the pyramid is built on
    levels: int  # how many times that region is halved (dlib's pyramid_down<2>) before sampling
    matrix: np.ndarray  # (3, 3): chip pixel (x, y, 1) -> pixel of the halved region


def _drect_area(r: tuple[float, float, float, float]) -> float:  # dlib's drectangle: inclusive, width = r - l + 1
    left, top, right, bottom = r
    return 0.0 if left > right or top > bottom else (right - left + 1) * (bottom - top + 1)


def _rect_down(r: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    # pyramid_down<2>::point_down(p) = p / 2 - (1.25, 0.75)  (dlib/image_transforms/image_pyramid.h)
    return r[0] / 2 - 1.25, r[1] / 2 - 0.75, r[2] / 2 - 1.25, r[3] / 2 - 0.75


def dlib_chip_geometry(
    points: Any, image_hw: tuple[int, int], size: int = 150, padding: float = 0.25
) -> DlibChipGeometry:
    """dlib's placement of a face chip: ``get_face_chip_details`` then ``extract_image_chips``.

    The facts, from ``dlib/image_transforms/interpolation.h`` and ``dlib/geometry``: a similarity transform is fitted
    (least squares) from the template points (:data:`DLIB_FIVE_POINT_TEMPLATE`, shrunk by ``padding``, times
    ``size``) to the landmarks; its rotation gives the chip's angle, its scale and the image of the chip centre
    give a square of side ``size * scale`` (dlib's rectangles are inclusive: corners ``(side - 1) / 2`` from the
    centre). When that square is more than twice as large as the chip, dlib first halves the image (a 5-tap
    Gaussian, :func:`pyramid_down`) as many times as keeps the square above ``size * size`` pixels, on a crop
    around the face; then it maps the chip's corners onto the square's rotated corners and samples bilinearly.

    Args:
        points: ``(5, 2)`` dlib landmarks (:meth:`facekit.landmarks.DlibDetector.five_points`, or
            :func:`landmarks_68_to_dlib5`).
        image_hw: ``(H, W)`` of the image.
        size: chip side (150 for the face-recognition network).
        padding: margin around the face, as dlib's ``padding`` (0.25 for the face-recognition network).

    Returns:
        a :class:`DlibChipGeometry`; ``crop`` is ``None``-free: when the face lies outside the image the crop is
        empty (``right < left``) and the chip is black.

    Example:
        >>> g = dlib_chip_geometry(DLIB_FIVE_POINT_TEMPLATE * 100 + 50, (300, 300), size=100, padding=0.0)
        >>> g.levels, np.round(g.matrix[:2, :2], 3).tolist()
        (0, [[1.0, 0.0], [0.0, 1.0]])
    """
    pts = check_landmarks(points, num_points=5, name="points")
    if padding < 0 or size < 2:
        raise ValueError(f"need padding >= 0 and size >= 2; got padding={padding}, size={size}")
    chip_pts = (padding + DLIB_FIVE_POINT_TEMPLATE) / (2 * padding + 1) * size  # (5, 2) in the chip
    m = estimate_similarity(chip_pts, pts)  # chip -> image: [[a, -b, tx], [b, a, ty]]
    angle = math.atan2(m[1, 0], m[0, 0])
    scale = math.hypot(m[0, 0], m[1, 0])
    cx, cy = m[:2, :2] @ np.array([size / 2.0, size / 2.0]) + m[:2, 2]
    half = (size * scale - 1) / 2  # centered_drect(c, w, h): corners (w - 1) / 2 from the centre
    rect = (cx - half, cy - half, cx + half, cy + half)
    cos, sin = math.cos(angle), math.sin(angle)

    def rotated(r: tuple[float, float, float, float]) -> np.ndarray:  # tl, tr, bl corners rotated about the centre
        c = np.array([(r[0] + r[2]) / 2, (r[1] + r[3]) / 2])
        corners = np.array([[r[0], r[1]], [r[2], r[1]], [r[0], r[3]], [r[2], r[3]]]) - c
        return corners @ np.array([[cos, sin], [-sin, cos]]) + c  # (4, 2): rot(p - c) + c

    # pyramid depth and the crop it is built on
    depth, grow, down = 0, 2.0, _rect_down(rect)
    while _drect_area(down) > size * size:
        down, depth, grow = _rect_down(down), depth + 1, grow * 2 + 2
    corners = rotated(rect)
    h, w = image_hw
    box = (max(corners[:, 0].min() - grow, 0), max(corners[:, 1].min() - grow, 0),
           min(corners[:, 0].max() + grow, w - 1), min(corners[:, 1].max() + grow, h - 1))
    crop = tuple(int(math.floor(v + 0.5)) for v in box)  # dlib's lround (the values are >= 0 here)
    local = (rect[0] - crop[0], rect[1] - crop[1], rect[2] - crop[0], rect[3] - crop[1])
    for _ in range(depth):
        local = _rect_down(local)
    tl, tr, bl, _ = rotated(local)
    matrix = np.eye(3)
    matrix[:2, 0] = (tr - tl) / (size - 1)  # chip (size - 1, 0) -> the top-right corner
    matrix[:2, 1] = (bl - tl) / (size - 1)  # chip (0, size - 1) -> the bottom-left corner
    matrix[:2, 2] = tl  # chip (0, 0) -> the top-left corner
    return DlibChipGeometry(crop=crop, levels=depth, matrix=matrix)  # type: ignore[arg-type]


def pyramid_down(image: torch.Tensor) -> torch.Tensor:
    """Halve an image as dlib's ``pyramid_down<2>`` does: a separable 5-tap Gaussian ``[1, 4, 6, 4, 1] / 16``,
    keeping every second pixel, with no padding (output ``(n - 3) // 2`` per side; output pixel ``i`` is centred on
    input pixel ``2 i + 2``). Differentiable.

    Shape:
        - image: :math:`(B, C, H, W)` with ``H, W > 8``; output :math:`(B, C, (H - 3) // 2, (W - 3) // 2)`.

    Example:
        >>> pyramid_down(torch.ones(1, 3, 20, 11)).shape
        torch.Size([1, 3, 8, 4])
    """
    if image.ndim != 4 or min(image.shape[-2:]) <= 8:
        raise ValueError(f"pyramid_down needs a (B, C, H, W) image larger than 8x8; got {tuple(image.shape)}")
    c = image.shape[1]
    taps = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], dtype=image.dtype, device=image.device) / 16.0
    x = F.conv2d(image, taps.view(1, 1, 1, 5).expand(c, 1, 1, 5), stride=(1, 2), groups=c)  # rows
    x = F.conv2d(x, taps.view(1, 1, 5, 1).expand(c, 1, 5, 1), stride=(2, 1), groups=c)  # columns
    return x[..., : (image.shape[-2] - 3) // 2, : (image.shape[-1] - 3) // 2]


def dlib_face_chip(
    images: torch.Tensor, points: Any, size: int = 150, padding: float = 0.25
) -> torch.Tensor:
    """Cut dlib's aligned face chip out of each image, differentiably (gradients reach every image pixel).

    The same geometry as dlib's ``get_face_chip`` / ``compute_face_descriptor`` (:func:`dlib_chip_geometry`):
    when the face is large, the image is first halved with dlib's Gaussian pyramid (:func:`pyramid_down`), which
    is the antialiasing; then the chip is sampled bilinearly (``grid_sample``), black where dlib's sampler leaves
    the image. dlib rounds to 8-bit pixels at each step and this function does not, so its chips differ from
    dlib's by about one grey level; a descriptor of this chip is within about 0.01 of dlib's (0.6 separates
    people; ``tests/test_dlib_net.py`` measures both). The landmarks are treated as constants.

    Args:
        images: ``(B, 3, H, W)`` RGB in ``[0, 1]`` (any float dtype; float64 for gradient checks).
        points: ``(B, 5, 2)`` (or ``(5, 2)`` for one image) dlib landmarks in pixel coordinates
            (:meth:`facekit.landmarks.DlibDetector.five_points`, or :func:`landmarks_68_to_dlib5`).
        size: chip side (150 for :class:`facekit.nn.DlibFaceNet`).
        padding: dlib's padding (0.25 for the face-recognition network).

    Returns:
        ``(B, 3, size, size)`` chips, same dtype and device as ``images``.

    Shape:
        - images: :math:`(B, 3, H, W)`; points: :math:`(B, 5, 2)`
        - output: :math:`(B, 3, S, S)`

    Example:
        >>> img = torch.rand(1, 3, 300, 300)
        >>> pts = torch.from_numpy(DLIB_FIVE_POINT_TEMPLATE * 120 + 90)[None]
        >>> dlib_face_chip(img, pts).shape
        torch.Size([1, 3, 150, 150])
    """
    from facekit.nn.features import check_image

    check_image(images, name="images")  # (B, 3, H, W) float in [0, 1], with a hint for the usual mistakes
    pts = points.detach().cpu().double().numpy() if isinstance(points, torch.Tensor) else np.asarray(points, float)
    if pts.shape == (5, 2):
        pts = pts[None]
    if pts.ndim != 3 or pts.shape[1:] != (5, 2) or pts.shape[0] != images.shape[0]:
        raise ValueError(
            f"points must be (B, 5, 2) dlib landmarks, one set per image ({images.shape[0]}); got {pts.shape}. "
            "From iBUG-68 landmarks use landmarks_68_to_dlib5"
        )
    h, w = images.shape[-2:]
    chips = []
    ys, xs = torch.meshgrid(torch.arange(size, dtype=torch.float64), torch.arange(size, dtype=torch.float64),
                            indexing="ij")
    grid_px = torch.stack([xs, ys, torch.ones_like(xs)], dim=-1)  # (S, S, 3): chip pixel (x, y, 1)
    for b in range(images.shape[0]):
        geo = dlib_chip_geometry(pts[b], (h, w), size=size, padding=padding)
        left, top, right, bottom = geo.crop
        if right < left or bottom < top:  # the face is outside the image
            chips.append(images.new_zeros(3, size, size))
            continue
        region = images[b : b + 1, :, top : bottom + 1, left : right + 1]  # (1, 3, h', w')
        for _ in range(geo.levels):
            region = pyramid_down(region)
        rh, rw = region.shape[-2:]
        src = grid_px @ torch.from_numpy(geo.matrix[:2].T)  # (S, S, 2): where each chip pixel samples
        inside = ((src[..., 0] >= 0) & (src[..., 0].floor() + 1 < rw) & (src[..., 1] >= 0)
                  & (src[..., 1].floor() + 1 < rh))  # dlib's bilinear sampler needs all four neighbours
        norm = torch.stack([2 * src[..., 0] / max(rw - 1, 1) - 1, 2 * src[..., 1] / max(rh - 1, 1) - 1], dim=-1)
        chip = F.grid_sample(region, norm[None].to(region.dtype).to(region.device), mode="bilinear",
                             padding_mode="zeros", align_corners=True)[0]  # (3, S, S)
        chips.append(chip * inside.to(chip.dtype).to(chip.device))
    return torch.stack(chips)  # (B, 3, S, S)
