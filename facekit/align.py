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

Example:
    >>> import numpy as np
    >>> tpl = five_point_template(112)
    >>> bool(np.allclose(tpl, ARCFACE_TEMPLATE_112))
    True
"""

from __future__ import annotations

from typing import Any, Union

import cv2
import numpy as np
import torch

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
    pts = landmarks.detach().cpu().numpy() if isinstance(landmarks, torch.Tensor) else np.asarray(landmarks)
    if pts.shape == (68, 2):
        five = landmarks_68_to_5(check_landmarks(pts))
    elif pts.shape == (5, 2):
        five = check_landmarks(pts, num_points=5)
    else:
        raise ValueError(f"expected landmarks of shape (68, 2) or (5, 2), got {pts.shape}")
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
