"""The head and body: shoulders (the shirt) and neck, the head's skin silhouette (the convex hull of the face's
outline rings and the skull), and the ears; and what lies behind a turned head or on its sides (the hair and ears
that face away or towards the camera, in the right order).
"""

from __future__ import annotations

import functools
import math
from typing import Sequence

import numpy as np

from facekit.data.synthfaces._arrays import _circle, _readonly
from facekit.data.synthfaces.camera import _ellipse_outline, _facing, _projected_ellipsoid
from facekit.data.synthfaces.canvas import _Painter, _shade
from facekit.data.synthfaces.geometry import _cranium, _jaw_depth, _jaw_halfwidth, _jaw_points_of, _shape_of
from facekit.data.synthfaces.identity import identity_params
from facekit.data.synthfaces.painters.hair import _draw_hair_cap_back, _draw_side_hair
from facekit.data.synthfaces.scene import _Scene


def _rings(levels: Sequence[tuple[float, float, float]], z: float, n: int) -> np.ndarray:
    """Horizontal ellipses ``(y, half-width, half-depth)`` centred on ``(0, y, z)``, ``n`` points each: ``(L*n, 3)``."""
    cs = _circle(n)
    return np.concatenate([np.stack([w * cs[:, 0], np.full(n, y), z + d * cs[:, 1]], 1) for y, w, d in levels]
                          ).astype(np.float32)


_TORSO = _rings(((2.45, 1.3, 0.7), (2.75, 2.1, 0.95), (3.3, 2.45, 1.0), (4.5, 2.5, 1.0)), -0.65, 16)
_NECK = _rings(((0.6, 0.6, 0.55), (1.4, 0.6, 0.55), (2.2, 0.6, 0.55), (2.8, 0.6, 0.55)), -0.45, 12)
_NECKLINE = np.array([[-0.58, 2.45, 0.05], [0.0, 3.05, 0.45], [0.58, 2.45, 0.05]], np.float32)


def _draw_body(pa: _Painter, sc: _Scene) -> None:
    """Shoulders (shirt), neck and the skin of the neckline (the same body for everyone)."""
    cam, skin = sc.cam, sc.skin
    pa.hull(cam.project(_TORSO), sc.p.shirt, mask=True)
    pa.hull(cam.project(_NECK), _shade(skin, 0.93), mask=True)
    # neckline of the shirt (a V of skin), then a collar line
    v = cam.project(_NECKLINE)
    pa.poly(v, _shade(skin, 0.93))
    pa.line(v, _shade(sc.p.shirt, 0.7), 0.012 * cam.scale)


def _ears(sc: _Scene) -> list[tuple[np.ndarray, bool]]:
    """Each ear's projected outline ``(16, 2)`` and whether it faces the camera (image-left ear first)."""
    if sc._ears is not None:
        return sc._ears
    sc._ears = [(sc.cam.project(outline), _facing(sc.cam, side))
                for side, outline in zip((-1, 1), _ear_outlines_of(sc.p.identity))]
    return sc._ears


@functools.lru_cache(maxsize=8192)
def _ear_outlines_of(identity: int) -> tuple[np.ndarray, np.ndarray]:
    """The outline of each ear, image-left ear first: ``(16, 3)`` head units each (read-only)."""
    p, (_, cranium_r) = identity_params(identity), _cranium(identity)
    out = []
    for side in (-1, 1):
        c = np.array([side * 1.0 * cranium_r[0] / 1.04, 0.12, -0.38], np.float32)
        h, d = 0.3 * p.ear_size, 0.17 * p.ear_size
        axes = np.array([[0, h, 0], [side * 0.09, 0, -d]], np.float32)  # the back edge stands out
        out.append(_ellipse_outline(c, axes, n=16))
    return _readonly(*out)


def _draw_ears(pa: _Painter, sc: _Scene, facing: bool) -> None:
    """The ears that face the camera (``facing=True``, drawn over the head) or that do not (drawn behind it)."""
    for outline, is_facing in _ears(sc):
        if is_facing != facing:
            continue
        pa.poly(outline, _shade(sc.skin, 0.9), mask=True)
        centre = outline.sum(0) / len(outline)  # the mean (16 points: exact)
        pa.poly(centre + (outline - centre) * 0.55, _shade(sc.skin, 0.76))


def _draw_head_back(pa: _Painter, sc: _Scene) -> None:
    """What lies behind the head: the hair and ears that face away."""
    _draw_hair_cap_back(pa, sc)
    _draw_side_hair(pa, sc, facing=False)
    _draw_ears(pa, sc, facing=False)


def _draw_head_sides(pa: _Painter, sc: _Scene) -> None:
    """What lies on the sides of a turned head, over its skin: side hair and ears that face the camera."""
    _draw_side_hair(pa, sc, facing=True)
    _draw_ears(pa, sc, facing=True)


_RING_LEVELS = np.array([0.08, 0.25, 0.45, 0.62, 0.78, 0.9, 0.97], np.float32)


def _face_outline_points(sc: _Scene) -> np.ndarray:
    """3-D points whose projected convex hull is the face's silhouette at any pose. ``(134, 3)`` (read-only).

    The lower face is a stack of horizontal half-ellipses ("rings") from ear level to the chin: at each level the
    half-width follows the jaw superellipse and the depth reaches the front of the face. Frontal, the rings'
    extreme points are the jaw landmarks; turned, the rings give the cheek's silhouette.
    """
    return _face_outline_of(sc.p.identity, sc.a["Chubby"], sc.a["Male"], sc.a["Mouth_Slightly_Open"])


@functools.lru_cache(maxsize=4096)
def _face_outline_of(identity: int, chubby: int, male: int, mouth_open: int) -> np.ndarray:
    sh = _shape_of(identity, chubby, male, mouth_open)
    t = _RING_LEVELS  # (L,) relative height, 0 = ear level, 1 = chin
    y = sh.jaw_top + (sh.chin_y - sh.jaw_top) * t
    w = _jaw_halfwidth(sh, y)  # (L,)
    zc = _jaw_depth(sh, t)
    cs = _circle(13, 0.0, math.pi)  # (13, 2): cos, sin over the front half
    rings = np.empty((len(t), 13, 3), np.float32)
    rings[..., 0] = w[:, None] * cs[None, :, 0]
    rings[..., 1] = y[:, None]
    rings[..., 2] = zc[:, None] + (0.7 - zc)[:, None] * cs[None, :, 1]
    # two more rings at brow and eye level: the brow ridge and cheekbones, in front of the eyes' outer corners
    upper = np.empty((2, 13, 3), np.float32)
    for k, y in enumerate((-0.4, -0.1)):
        w = 0.97 * sh.cranium_r[0] * math.sqrt(1.0 - ((y - sh.cranium_c[1]) / sh.cranium_r[1]) ** 2)
        upper[k, :, 0] = w * cs[:, 0]
        upper[k, :, 1] = y
        upper[k, :, 2] = -0.45 + 1.1 * cs[:, 1]
    jaw = _jaw_points_of(identity, chubby, male, mouth_open).astype(np.float32)  # the landmarks 0..16
    return _readonly(np.concatenate([rings.reshape(-1, 3), upper.reshape(-1, 3), jaw]))


def _draw_head(pa: _Painter, sc: _Scene) -> None:
    outline2d = np.concatenate([sc.cam.project(_face_outline_points(sc)),
                                _projected_ellipsoid(sc.cam, sc.sh.cranium_c, sc.sh.cranium_r)])
    pa.hull(outline2d, sc.skin, mask=True)
