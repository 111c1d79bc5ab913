"""Stage 3 of a render, the camera: the head's pose (yaw, then pitch, about a pivot in the neck) and the
orthographic projection from head units to output pixels.

Yaw is in [-45, 45] degrees (positive turns the face towards the image's right), pitch in [-20, 20] (positive
tilts the face up). :class:`_Camera` projects points; :func:`_projected_ellipsoid` gives the outline of an
ellipsoid (the skull, the hair, a hat) seen by the camera; :func:`_facing` tells whether a side of the head turns
towards the camera.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from facekit.data.synthfaces._arrays import _circle, _readonly


# Framing: head units -> pixels. One head unit is half the face width (cheekbone to cheekbone).
_FACE_SCALE = 0.255  # pixels per head unit, as a fraction of the image side
_EYE_LINE = 0.43  # height of the eye line, as a fraction of the image side
_PIVOT = np.array([0.0, 0.2, -0.5], np.float32)  # the head turns about this point (head units)


def _rotation(yaw: float, pitch: float) -> np.ndarray:
    """Rotation matrix (camera frame) of a head turned by ``yaw`` then tilted by ``pitch`` (degrees). ``(3, 3)``."""
    y, p = math.radians(yaw), math.radians(pitch)
    r_yaw = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]], np.float32)
    r_pitch = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]], np.float32)
    return r_yaw @ r_pitch


@functools.lru_cache(maxsize=1024)
def _pose(yaw: float, pitch: float) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float]]:
    """``(R, shift, R's last row)`` of a pose (cached, read-only): a point ``x`` turns about the pivot to
    ``R x + shift``."""
    R = _rotation(yaw, pitch)
    shift = (_PIVOT - _PIVOT @ R.T).astype(np.float32)
    rz = tuple(float(v) for v in R[2])
    return (*_readonly(R, shift), rz)


class _Camera:
    """Head units -> output pixel coordinates (orthographic), for one image size, identity scale and pose."""

    def __init__(self, size: int, head_scale: float, yaw: float, pitch: float) -> None:
        self.size = size
        self.scale = _FACE_SCALE * size * head_scale  # pixels per head unit
        # the eye line's centre, in pixel-centre coordinates (a continuous position u is at pixel u - 0.5)
        self.origin = np.array([size / 2.0 - 0.5, _EYE_LINE * size - 0.5], np.float32)
        self.R, self._shift, self._rz = _pose(yaw, pitch)  # rotation about the pivot = R x + shift
        self._m = (self.R.T[:, :2] * self.scale).astype(np.float32)  # (3, 2): rotate, keep x y, scale
        self._o = (self._shift[:2] * self.scale + self.origin).astype(np.float32)

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """Rotate head-unit points about the pivot. ``(..., 3) -> (..., 3)``."""
        return points @ self.R.T + self._shift

    def project(self, points: np.ndarray) -> np.ndarray:
        """Head-unit points -> pixel coordinates. ``(..., 3) -> (..., 2)``."""
        return points @ self._m + self._o

    def depth_of(self, x: float, y: float, z: float) -> float:
        """The camera-frame z (towards the camera) of the direction ``(x, y, z)`` after rotation."""
        r = self._rz
        return r[0] * x + r[1] * y + r[2] * z

    def rotate(self, vectors: np.ndarray) -> np.ndarray:
        """Rotate direction vectors (no pivot). ``(..., 3) -> (..., 3)``."""
        return vectors @ self.R.T


def _ellipse_outline(center: np.ndarray, axes: np.ndarray, n: int = 28, start: float = 0.0,
                     stop: float = 2 * math.pi) -> np.ndarray:
    """Points on a 3-D ellipse ``center + cos(t) * axes[0] + sin(t) * axes[1]``. Returns ``(n, 3)``."""
    return center + _circle(n, start, stop) @ axes


def _projected_ellipsoid(cam: _Camera, center: np.ndarray, radii: np.ndarray, n: int = 40) -> np.ndarray:
    """Outline of an axis-aligned (head frame) ellipsoid seen by ``cam``: ``(n, 2)`` pixel points.

    The orthographic image of an ellipsoid ``x = c + R diag(r) u, |u| <= 1`` is the ellipse whose 2x2 matrix is
    the top-left block of ``R diag(r^2) R^T``.
    """
    m = (cam.R[:2] * radii ** 2) @ cam.R[:2].T  # (2, 2) = L L^T (Cholesky, by hand)
    l11 = math.sqrt(m[0, 0])
    l21 = m[1, 0] / l11
    l22 = math.sqrt(max(m[1, 1] - l21 * l21, 1e-12))
    lt = np.array([[l11, l21], [0.0, l22]], np.float32) * cam.scale  # L^T, in pixels
    return _circle(n) @ lt + cam.project(center)


def _facing(cam: _Camera, side: int) -> bool:
    """Whether the side of the head (-1 = image left, 1 = image right) turns towards the camera."""
    return cam.depth_of(side, 0.0, -0.3) > 0.05
