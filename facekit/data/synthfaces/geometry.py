"""Stage 3 of a render, the geometry: the head's shape and the 3-D template of the 68 iBUG-300W landmarks.

Head units: the eye line is ``y = 0``, one unit is half the face width (cheekbone to cheekbone), ``x`` points to
the image's right, ``y`` down and ``z`` towards the camera. The skull is an ellipsoid (:func:`_cranium`), the jaw a
superellipse (:func:`_jaw_points_of`); the brows, nose, eyes and mouth are placed by the identity's parameters and
moved by the few attributes of :data:`_SHAPE_ATTRIBUTES` (accessories never move a landmark). Each part is cached
on its own, keyed by the attributes it depends on. The pose and the projection to pixels are in
:mod:`facekit.data.synthfaces.camera`.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Mapping, Union

import numpy as np

from facekit.data.synthfaces._arrays import _norm3, _readonly
from facekit.data.synthfaces.identity import FaceParams, identity_params
from facekit.landmarks import IBUG68_GROUPS


# Landmark index groups (iBUG-300W), as slices.
_EYES = tuple(slice(IBUG68_GROUPS[name][0], IBUG68_GROUPS[name][-1] + 1) for name in ("right_eye", "left_eye"))
_BROWS = tuple(slice(IBUG68_GROUPS[name][0], IBUG68_GROUPS[name][-1] + 1) for name in ("right_brow", "left_brow"))


@dataclass(frozen=True)
class _Shape:
    """Derived shape numbers of one (identity, attributes), in head units (shared by renders: read-only)."""

    jaw_w: float
    jaw_top: float
    chin_y: float
    jaw_p: float
    cranium_c: np.ndarray
    cranium_r: np.ndarray


@functools.lru_cache(maxsize=8192)
def _cranium(identity: int) -> tuple[np.ndarray, np.ndarray]:
    """Centre and radii of the identity's skull ellipsoid, head units (cached, read-only)."""
    head_width = identity_params(identity).head_width
    return _readonly(np.array([0.0, -0.55, -0.55], np.float32), np.array([1.04 * head_width, 1.32, 1.38], np.float32))


def _shape(p: FaceParams, a: Mapping[str, Any]) -> _Shape:
    return _shape_of(p.identity, a["Chubby"], a["Male"], a["Mouth_Slightly_Open"])


@functools.lru_cache(maxsize=8192)
def _shape_of(identity: int, chubby: int, male: int, mouth_open: int) -> _Shape:
    p = identity_params(identity)
    jaw_w = 0.98 * p.jaw_width * (1.17 if chubby else 1.0) * (1.03 if male else 1.0) * p.head_width
    chin_y = 1.66 * p.face_length + (0.05 if mouth_open else 0.0)
    jaw_p = p.jaw_square + (0.35 if male else 0.0) + (0.3 if chubby else 0.0)
    cranium_c, cranium_r = _cranium(identity)
    return _Shape(jaw_w=jaw_w, jaw_top=0.05, chin_y=chin_y, jaw_p=jaw_p, cranium_c=cranium_c, cranium_r=cranium_r)


def _jaw_depth(sh: _Shape, t: Union[float, np.ndarray]) -> Union[float, np.ndarray]:
    """Depth (z) of the face's outline at relative height ``t`` in [0, 1] (0 = ear level, 1 = chin).

    The outline runs along the side of the head (z ~ -0.45, by the ears) and comes forwards only at the chin
    (z = 0.6): ``z = -0.45 + 1.05 t^(3p)`` with ``p`` the jaw's superellipse exponent, i.e. ``sin(phi)^6`` along it.
    """
    return -0.45 + 1.05 * t ** (3.0 * sh.jaw_p)


def _jaw_halfwidth(sh: _Shape, y: np.ndarray) -> np.ndarray:
    t = np.clip((y - sh.jaw_top) / (sh.chin_y - sh.jaw_top), 0.0, 1.0)
    return sh.jaw_w * np.power(np.clip(1.0 - np.power(t, sh.jaw_p), 0.0, 1.0), 1.0 / sh.jaw_p)


_SHAPE_ATTRIBUTES = ("Arched_Eyebrows", "Big_Lips", "Big_Nose", "Chubby", "Male", "Mouth_Slightly_Open",
                     "Narrow_Eyes", "Pointy_Nose", "Smiling")
"""The attributes that move landmarks (accessories never do)."""


@functools.lru_cache(maxsize=8192)
def _jaw_points_of(identity: int, chubby: int, male: int, mouth_open: int) -> np.ndarray:
    """Jaw landmarks 0..16: a superellipse from ear level (image left) round the chin to ear level (image right)."""
    sh = _shape_of(identity, chubby, male, mouth_open)
    pts = []
    e = 2.0 / sh.jaw_p
    for k in range(17):
        c, s = math.cos(math.pi * k / 16), math.sin(math.pi * k / 16)
        t = abs(s) ** e
        pts.append((-sh.jaw_w * math.copysign(abs(c) ** e, c), sh.jaw_top + (sh.chin_y - sh.jaw_top) * t,
                    float(_jaw_depth(sh, t))))
    return _readonly(np.array(pts))  # (17, 3) float64


def landmarks_3d(params: FaceParams, attributes: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The 68 iBUG landmarks of a face in 3-D head units, before pose, and an outward normal at each.

    Head units: the eye line is ``y = 0``, the face is about 2 units wide at the cheekbones, ``x`` points to the
    image's right, ``y`` down and ``z`` towards the camera.

    Args:
        params: the identity's parameters (:func:`identity_params`).
        attributes: a resolved attributes dict (:func:`resolve_attributes`).

    Returns:
        ``(points, normals)``: two ``(68, 3)`` float32 arrays.
    """
    key = tuple(int(attributes[name]) for name in _SHAPE_ATTRIBUTES)
    pts, normals = _landmarks_3d(params.identity, key)
    return pts.copy(), normals.copy()


_NORMAL_DEPTH_GAIN = _readonly(np.where(np.arange(68) < 17, 1.0, 1.6))  # the jaw's normals point more sideways


# The landmarks in head units, one part at a time, as float64 arrays (each part is cached, keyed by the few
# attributes it depends on); _landmarks_3d puts them together.


@functools.lru_cache(maxsize=8192)
def _brow_points_of(identity: int, arched: int, male: int) -> np.ndarray:
    p, pts = identity_params(identity), []
    # Brows 17..21 (image left, outer -> inner) and 22..26 (inner -> outer).
    arch = 0.075 * p.brow_arch * (2.8 if arched else 1.0) * (0.9 if male else 1.0)
    base = -0.31 - p.brow_height + (0.03 if male else 0.0)
    brow = [(-x * (0.98 + 0.04 * p.eye_spacing), base + arch * h)
            for x, h in ((0.80, 0.55), (0.66, -0.35), (0.50, -1.0), (0.34, -0.8), (0.18, -0.35))]
    brow += [(-x, y) for x, y in reversed(brow)]
    pts += [(x, y, 0.64 - 0.5 * x * x) for x, y in brow]
    return _readonly(np.array(pts))  # float64


@functools.lru_cache(maxsize=8192)
def _nose_points_of(identity: int, big: int, pointy: int) -> np.ndarray:
    p, pts = identity_params(identity), []
    # Nose: bridge 27..30 (top to tip), lower 31..35 (image left to right).
    # Big_Nose and Pointy_Nose change different things (so that each shows whatever the other is): a big nose is
    # wider and a little longer, a pointed one keeps its width and length but juts out and hangs its tip below
    # the nostrils.
    tip_y = 0.58 * p.nose_length * (1.12 if big else 1.0)
    tip_z = 0.98 * p.nose_tip + (0.08 if pointy else 0.0) + (0.05 if big else 0.0)
    tip_drop = 0.16 if pointy else 0.035
    pts += [(0.0, -0.06 + (tip_y + 0.06) * f, 0.66 + (tip_z - 0.66) * f ** 1.2) for f in (0.0, 1 / 3, 2 / 3, 1.0)]
    nw = 0.19 * p.nose_width * (1.55 if big else 1.0)
    nb = tip_y + 0.08
    pts += [(fx * nw, nb + dy, z * tip_z / 0.98) for fx, dy, z in
            ((-1.0, -0.02, 0.62), (-0.5, 0.02, 0.74), (0.0, tip_drop, 0.8), (0.5, 0.02, 0.74), (1.0, -0.02, 0.62))]
    return _readonly(np.array(pts))  # float64


@functools.lru_cache(maxsize=8192)
def _eye_points_of(identity: int, narrow: int, smile: int) -> np.ndarray:
    p, pts = identity_params(identity), []
    # Eyes 36..41 (subject's right, image left: outer corner, upper-outer, upper-inner, inner corner,
    # lower-inner, lower-outer) and 42..47 (the mirror image: inner corner first).
    ew = 0.40 * p.eye_size
    eh = 0.15 * p.eye_open * (0.42 if narrow else 1.0) * (0.85 if smile else 1.0)
    ec, tilt = 0.45 * p.eye_spacing, p.eye_tilt
    up, low = -eh * 0.58, eh * 0.42
    for side in (-1, 1):
        cx = side * ec
        ring = [(cx + side * ew / 2, -tilt), (cx + side * ew / 6, up - tilt * 0.4), (cx - side * ew / 6, up),
                (cx - side * ew / 2, 0.01), (cx - side * ew / 6, low), (cx + side * ew / 6, low - tilt * 0.3)]
        if side == 1:
            ring = [ring[3], ring[2], ring[1], ring[0], ring[5], ring[4]]
        pts += [(x, y, 0.58 - 0.35 * x * x) for x, y in ring]
    return _readonly(np.array(pts))  # float64


@functools.lru_cache(maxsize=8192)
def _mouth_points_of(identity: int, smile: int, mouth_open: int, big_lips: int) -> np.ndarray:
    p, pts = identity_params(identity), []
    # Mouth: outer lip 48..59 (from the image-left corner, over the upper lip, back under the lower lip),
    # inner lip 60..67.
    my = 1.02 * p.mouth_height * p.face_length
    mw = 0.37 * p.mouth_width * (1.2 if smile else 1.0)
    lip_scale = 1.7 if big_lips else 1.0
    lu, ll = 0.085 * p.lip_upper * lip_scale, 0.105 * p.lip_lower * lip_scale
    gap = (0.15 if mouth_open else 0.0) + (0.06 if smile else 0.0)
    lift = 0.14 if smile else 0.0
    mouth = [(-mw, -lift), (-0.55 * mw, -lu * 0.85 - 0.5 * lift), (-0.2 * mw, -lu - 0.1 * lift), (0.0, -lu * 0.8),
             (0.2 * mw, -lu - 0.1 * lift), (0.55 * mw, -lu * 0.85 - 0.5 * lift), (mw, -lift),
             (0.55 * mw, gap + ll * 0.8 - 0.3 * lift), (0.2 * mw, gap + ll), (0.0, gap + ll),
             (-0.2 * mw, gap + ll), (-0.55 * mw, gap + ll * 0.8 - 0.3 * lift),
             (-0.86 * mw, -0.9 * lift), (-0.3 * mw, -0.012 - 0.3 * lift), (0.0, -0.012 - 0.25 * lift),
             (0.3 * mw, -0.012 - 0.3 * lift), (0.86 * mw, -0.9 * lift), (0.3 * mw, gap - 0.2 * lift),
             (0.0, gap - 0.1 * lift), (-0.3 * mw, gap - 0.2 * lift)]
    pts += [(x, my + y, 0.74 - 1.5 * x * x - (0.03 if y > 0.01 else 0.0)) for x, y in mouth]
    return _readonly(np.array(pts))  # float64


@functools.lru_cache(maxsize=4096)
def _landmarks_3d(identity: int, key: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    a = dict(zip(_SHAPE_ATTRIBUTES, key))
    # each part depends on a few attributes only, and is cached on its own
    points = np.concatenate([
        _jaw_points_of(identity, a["Chubby"], a["Male"], a["Mouth_Slightly_Open"]),  # 0..16
        _brow_points_of(identity, a["Arched_Eyebrows"], a["Male"]),  # 17..26
        _nose_points_of(identity, a["Big_Nose"], a["Pointy_Nose"]),  # 27..35
        _eye_points_of(identity, a["Narrow_Eyes"], a["Smiling"]),  # 36..47
        _mouth_points_of(identity, a["Smiling"], a["Mouth_Slightly_Open"], a["Big_Lips"]),  # 48..67
    ]).astype(np.float32)  # (68, 3)
    # Outward normals: from an axis inside the head (jaw: mostly sideways; face: mostly forwards).
    normals = points - np.array([0.0, 0.0, -0.6], np.float32)
    normals[:, 1] = 0.3 * (points[:, 1] - 0.45)
    normals[:, 2] = np.maximum(normals[:, 2], 0.0) * _NORMAL_DEPTH_GAIN
    normals /= _norm3(normals.T)[:, None]
    return _readonly(points, normals)


def _forehead_point(c: np.ndarray, r: np.ndarray, x: np.ndarray, y: np.ndarray, lift: float = 0.0) -> np.ndarray:
    """3-D points on the cranium (centre ``c``, radii ``r``) at head coordinates (x, y), pushed out by ``lift``.
    ``(n, 3)``."""
    q = 1.0 - ((x - c[0]) / r[0]) ** 2 - ((y - c[1]) / r[1]) ** 2
    z = c[2] + r[2] * np.sqrt(np.maximum(q, 0.0)) + lift
    return np.stack([x, y, z], -1).astype(np.float32, copy=False)
