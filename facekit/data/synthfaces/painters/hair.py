"""The hair: what hangs behind the head (long hair, buns), the side hair over the ears, the cap on top of the
head (with the forehead's skin drawn again below the hairline, and strands), bangs, and long hair in front of the
shoulders. Bald heads keep a fringe behind the ears; a receding hairline is drawn for older men.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Mapping

import numpy as np

from facekit.data.synthfaces._arrays import _lin, _readonly
from facekit.data.synthfaces.camera import _Camera, _ellipse_outline, _facing, _projected_ellipsoid
from facekit.data.synthfaces.canvas import _blend, _Painter, _shade
from facekit.data.synthfaces.geometry import _cranium, _forehead_point, _jaw_depth, _jaw_halfwidth, _shape_of
from facekit.data.synthfaces.identity import identity_params
from facekit.data.synthfaces.scene import _Scene


@functools.lru_cache(maxsize=1)
def _sphere_samples() -> np.ndarray:
    """``(640, 3)`` unit vectors on a latitude-longitude grid (the hair cap is sampled on them)."""
    th, ph = np.meshgrid(np.linspace(0.05, math.pi - 0.05, 20), np.linspace(0, 2 * math.pi, 32, endpoint=False))
    d = np.stack([np.sin(th) * np.cos(ph), -np.cos(th), np.sin(th) * np.sin(ph)], -1).reshape(-1, 3)
    return _readonly(d.astype(np.float32))


# The hair's geometry in head units does not depend on the pose, the light or the size: it is computed once per
# (identity, hair style, ...) by the cached functions below (named *_of), and only projected for each render.


def _receding(a: Mapping[str, Any]) -> bool:
    """Whether the hairline recedes (older men)."""
    return bool(not a["Young"] and a["Male"])


def _hairline(sc: _Scene, n: int = 13, lift: float = 0.0) -> np.ndarray:
    """The front hairline, temple (image left) over the forehead to temple: ``(n, 3)`` head units (read-only)."""
    return _hairline_of(sc.p.identity, _receding(sc.a), n, lift)


@functools.lru_cache(maxsize=8192)
def _hairline_of(identity: int, receding: bool, n: int, lift: float) -> np.ndarray:
    c, r = _cranium(identity)
    top = -1.02 - identity_params(identity).hairline - (0.15 if receding else 0.0)
    temple = -0.42
    x = _lin(-0.8, 0.8, n) * r[0]
    f = np.abs(x) / (0.8 * r[0])
    y = top + (temple - top) * f ** 2.4
    if receding:  # receding temples (an M-shaped hairline)
        y = y - 0.18 * np.exp(-((np.abs(x) - 0.55) / 0.18) ** 2)
    return _readonly(_forehead_point(c, r, x, y, lift))


def _draw_hair_back(pa: _Painter, sc: _Scene) -> None:
    """Long hair and buns: the part of the hair that hangs behind the head and the shoulders."""
    style, cam = sc.a["hair_style"], sc.cam
    if sc.a["Bald"] or style not in ("long", "bob", "bun", "curly"):
        return
    if style == "bun":
        pa.hull(cam.project(_ellipse_outline(np.array([0, -1.55, -1.2], np.float32),
                                             np.array([[0.5, 0, 0], [0, 0.45, 0.3]], np.float32))), sc.hair,
                mask=True)
        return
    pa.hull(np.concatenate([cam.project(_hanging_hair_of(style)), _projected_back(cam, sc)]), _shade(sc.hair, 0.82),
            mask=True)


@functools.lru_cache(maxsize=8)
def _hanging_hair_of(style: str) -> np.ndarray:
    """Half rings behind the head, from the ears down to the hair's ends: ``(72, 3)`` head units (read-only)."""
    bottom = {"long": 2.7, "bob": 1.45, "curly": 2.2}[style]
    width = {"long": 1.32, "bob": 1.28, "curly": 1.5}[style]
    ys = _lin(-0.5, bottom, 6)
    pts = []
    for k, y in enumerate(ys):
        w = width * (1.0 if y < 1.2 else 1.0 + 0.1 * (y - 1.2))
        ring = _ellipse_outline(np.array([0, y, -0.6], np.float32), np.array([[w, 0, 0], [0, 0, 0.9]], np.float32),
                                n=12, start=math.pi, stop=2 * math.pi)
        pts.append(ring)
    return _readonly(np.concatenate(pts))


def _projected_back(cam: _Camera, sc: _Scene) -> np.ndarray:
    r = sc.sh.cranium_r * (1.06 + 0.05 * sc.p.hair_volume)
    return _projected_ellipsoid(cam, sc.sh.cranium_c, r, n=24)


def _hair_ellipsoid(sc: _Scene) -> tuple[np.ndarray, np.ndarray]:
    """Centre and radii of the hair's outer surface (the skull grown by the style's volume; read-only)."""
    return _hair_ellipsoid_of(sc.p.identity, sc.a["hair_style"])


@functools.lru_cache(maxsize=8192)
def _hair_ellipsoid_of(identity: int, style: str) -> tuple[np.ndarray, np.ndarray]:
    volume = {"buzz": 1.015, "short": 1.05, "side_part": 1.07, "quiff": 1.06, "long": 1.08, "bob": 1.1,
              "bun": 1.05, "curly": 1.16}[style]
    volume = 1.0 + (volume - 1.0) * identity_params(identity).hair_volume
    cranium_c, cranium_r = _cranium(identity)
    c = cranium_c + np.array([0, -0.2 * (volume - 1), 0], np.float32)
    return _readonly(c, cranium_r * volume)


def _hair_colour(sc: _Scene) -> tuple[float, float, float]:
    return _blend(sc.hair, sc.skin, 0.45) if sc.a["hair_style"] == "buzz" else sc.hair


def _draw_side_hair(pa: _Painter, sc: _Scene, facing: bool) -> None:
    """Hair over the ears and down to the nape, one blob a side (also the fringe that a bald head keeps)."""
    sides = [side for side in (-1, 1) if _facing(sc.cam, side) == facing]
    if not sides:
        return
    blobs = _side_hair_of(sc.p.identity, sc.a["hair_style"], sc.a["Bald"])
    colour = _shade(_hair_colour(sc), 0.92)
    for side in sides:
        pa.hull(sc.cam.project(blobs[side > 0]), colour, mask=True)


@functools.lru_cache(maxsize=1024)
def _hair_samples_of(identity: int, style: str) -> np.ndarray:
    """Points on the hair ellipsoid, one per :func:`_sphere_samples` direction: ``(640, 3)`` (read-only)."""
    c, r = _hair_ellipsoid_of(identity, style)
    return _readonly(c + _sphere_samples() * r)


@functools.lru_cache(maxsize=4096)
def _side_hair_of(identity: int, style: str, bald: int) -> tuple[np.ndarray, np.ndarray]:
    """The samples of the hair ellipsoid in each side's blob, image-left side first (read-only)."""
    q = _hair_samples_of(identity, style)  # (n, 3)
    nape = 0.35 if style not in ("buzz", "short") else 0.15
    if bald:  # only a fringe behind the ears
        band = (q[:, 2] < -0.3) & (q[:, 1] > -0.45) & (q[:, 1] < nape)
        reach = 0.3
    else:
        band = (q[:, 2] < 0.2) & (q[:, 1] > -0.75) & (q[:, 1] < nape)
        reach = 0.5
    return _readonly(*(q[band & (q[:, 0] * side > reach)] for side in (-1, 1)))


def _hair_cap_points(sc: _Scene) -> tuple[np.ndarray, np.ndarray]:
    """Samples of the hair ellipsoid above the hairline (front) and above the temples (sides, back), split into
    those whose surface faces the camera and those that face away: ``(front (n, 3), back (m, 3))``."""
    if sc._cap is not None:
        return sc._cap
    _, r = _hair_ellipsoid(sc)
    q, keep = _hair_cap_of(sc.p.identity, sc.a["hair_style"], _receding(sc.a))
    facing = (_sphere_samples() / r) @ np.asarray(sc.cam._rz, np.float32) > 0.0  # the normal's camera-frame z
    sc._cap = q[keep & facing], q[keep & ~facing]
    return sc._cap


@functools.lru_cache(maxsize=2048)
def _hair_cap_of(identity: int, style: str, receding: bool) -> tuple[np.ndarray, np.ndarray]:
    """Samples of the hair ellipsoid ``(N, 3)`` and whether each lies above the hairline ``(N,)`` (read-only)."""
    q = _hair_samples_of(identity, style)  # (N, 3)
    line = _hairline_of(identity, receding, 13, 0.0)  # (13, 3)
    limit = np.interp(q[:, 0], line[:, 0], line[:, 1])  # the hairline's height above each sample
    keep = q[:, 1] < np.where(q[:, 2] > 0.0, limit, line[0, 1])
    return _readonly(q, keep)


def _draw_hair_cap_back(pa: _Painter, sc: _Scene) -> None:
    """The part of the hair cap that faces away (drawn behind the head: only its rim round the head shows)."""
    if sc.a["Bald"]:
        return
    _, back = _hair_cap_points(sc)
    if len(back) >= 3:
        pa.hull(sc.cam.project(back), _hair_colour(sc), mask=True)


def _draw_hair_cap(pa: _Painter, sc: _Scene) -> None:
    """Hair on top of the head: the hull of the visible points of the hair ellipsoid above the hairline, then the
    forehead's skin again (the hull also covers the forehead, up to the hairline), then strands."""
    a, p, cam = sc.a, sc.p, sc.cam
    if a["Bald"]:
        return
    style = a["hair_style"]
    colour = _hair_colour(sc)
    line = _hairline(sc)  # (13, 3)
    front, _ = _hair_cap_points(sc)
    pa.hull(np.concatenate([cam.project(front), cam.project(line)]), colour, mask=True)
    if style == "quiff":
        pa.hull(cam.project(_quiff_outline()), colour, mask=True)
    if style == "curly":
        for q3 in _curls_of(p.identity):
            pa.ellipse(cam.project(q3), (0.17 * cam.scale, 0.15 * cam.scale), 0, colour, mask=True)
    # the face's skin again, from the hairline down to below the eyes, on the face's surface (the hull can reach
    # that far when the head tilts up); the eyes, brows and nose are drawn after this
    skin = _forehead_skin_of(p.identity, _receding(a), a["Chubby"], a["Male"], a["Mouth_Slightly_Open"])
    pa.poly(cam.project(skin), sc.skin)
    if not sc.detail:
        return
    # strands: darker and lighter curves over the skull, from the crown to the hairline
    strands = cam.project(_hair_strands_of(p.identity, style, _receding(a)))  # (9, 6, 2)
    pa.lines(strands[0::2], _shade(colour, 1.25), 0.012 * cam.scale)
    pa.lines(strands[1::2], _shade(colour, 0.7), 0.012 * cam.scale)
    if style == "side_part":
        pa.line(cam.project(_side_parting_of(p.identity)), _blend(colour, sc.skin, 0.5), 0.02 * cam.scale)


@functools.lru_cache(maxsize=1)
def _quiff_outline() -> np.ndarray:
    return _readonly(_ellipse_outline(np.array([0.1, -1.72, 0.2], np.float32),
                                      np.array([[0.75, 0, 0], [0, 0.3, 0.25]], np.float32), n=16))


@functools.lru_cache(maxsize=1024)
def _curls_of(identity: int) -> tuple[np.ndarray, ...]:
    """The centres of the curly style's curls round the top of the head: 11 ``(3,)`` arrays (read-only)."""
    c, r = _hair_ellipsoid_of(identity, "curly")
    return tuple(_readonly(c + np.array([math.cos(ang) * r[0], -math.sin(ang) * r[1] * 0.98, 0.2], np.float32))
                 for ang in _lin(0.1, math.pi - 0.1, 11))


_FOREHEAD_COS = _readonly(np.array([0.75, 0.35, -0.35, -0.75], np.float32))  # across the face below the eyes
_FOREHEAD_SIN = _readonly(np.sqrt(1 - _FOREHEAD_COS * _FOREHEAD_COS))


@functools.lru_cache(maxsize=4096)
def _forehead_skin_of(identity: int, receding: bool, chubby: int, male: int, mouth_open: int) -> np.ndarray:
    """The skin from the hairline down to below the eyes, on the face's surface: ``(17, 3)`` (read-only)."""
    sh = _shape_of(identity, chubby, male, mouth_open)
    y = 0.45
    t = (y - sh.jaw_top) / (sh.chin_y - sh.jaw_top)
    w, zc = float(_jaw_halfwidth(sh, np.float32(y))), float(_jaw_depth(sh, t))
    lower = np.stack([w * _FOREHEAD_COS, np.full(4, y, np.float32), zc + (0.7 - zc) * _FOREHEAD_SIN], 1)
    return _readonly(np.concatenate([_hairline_of(identity, receding, 13, 0.0), lower]))


@functools.lru_cache(maxsize=2048)
def _hair_strands_of(identity: int, style: str, receding: bool) -> np.ndarray:
    """Curves over the hair ellipsoid from the crown to the hairline: ``(9, 6, 3)`` head units (read-only)."""
    c, r = _hair_ellipsoid_of(identity, style)
    crown = np.array([0.0, -0.95, 0.3], np.float32)  # a direction from the hair ellipsoid's centre
    ends = (_hairline_of(identity, receding, 11, 0.0) - c) / r  # (11, 3) directions of the hairline points
    t = _lin(0.0, 1.0, 6)[None, :, None]
    d = crown * (1 - t) + ends[1:-1, None, :] * t  # (9, 6, 3): walk from the crown to each end ...
    d /= np.linalg.norm(d, axis=-1, keepdims=True)  # ... on the surface
    return _readonly(c + d * (r * 1.01))


@functools.lru_cache(maxsize=1024)
def _side_parting_of(identity: int) -> np.ndarray:
    """The parting of the side-part style: ``(2, 3)`` head units (read-only)."""
    c, r = _cranium(identity)
    start = _forehead_point(c, r, np.array([0.38]), np.array([-1.02 - identity_params(identity).hairline]), 0.05)[0]
    return _readonly(np.stack([start, start + np.array([0.05, -0.5, -0.5], np.float32)]))


def _draw_bangs(pa: _Painter, sc: _Scene) -> None:
    if not sc.a["Bangs"]:
        return
    cam = sc.cam
    outline, strands = _bangs_of(sc.p.identity, _receding(sc.a))
    pa.poly(cam.project(outline), sc.hair)
    if not sc.detail:
        return
    pa.lines(cam.project(strands), _shade(sc.hair, 0.75), 0.01 * cam.scale)


@functools.lru_cache(maxsize=2048)
def _bangs_of(identity: int, receding: bool) -> tuple[np.ndarray, np.ndarray]:
    """The fringe's outline ``(20, 3)`` and its strands, from the hairline down ``(9, 2, 3)`` (read-only)."""
    c, r = _cranium(identity)
    top = _hairline_of(identity, receding, 11, 0.04)
    x = _lin(0.8, -0.8, 9) * r[0]
    y = -0.5 + 0.05 * np.cos(_lin(0, 6 * math.pi, 9)) - 0.12 * (np.abs(x) > 0.6)
    bottom = _forehead_point(c, r, x, y, 0.04)
    return _readonly(np.concatenate([top, bottom]), np.stack([top[1:10], bottom[::-1]], 1))


def _draw_hair_front(pa: _Painter, sc: _Scene) -> None:
    """Long hair that falls in front of the shoulders, beside the face."""
    style, cam = sc.a["hair_style"], sc.cam
    if sc.a["Bald"] or style not in ("long", "bob", "curly"):
        return
    bottom = {"long": 2.6, "bob": 1.35, "curly": 2.1}[style]
    for side in (-1, 1):
        w = 1.0 if style != "curly" else 1.15
        strip = np.array([[side * 0.9, -0.75, 0.3], [side * 1.02 * w, 0.2, 0.1], [side * 1.08 * w, 1.2, 0.0],
                          [side * 1.25 * w, bottom, 0.15], [side * 1.55 * w, bottom - 0.1, -0.2],
                          [side * 1.3 * w, 0.4, -0.3], [side * 1.12 * w, -0.6, -0.1]], np.float32)
        if cam.depth_of(side, 0.0, 0.3) < -0.25:
            continue  # turned away: hidden behind the head
        pa.poly(cam.project(strip), sc.hair, mask=True)
        pa.line(cam.project(strip[:4]), _shade(sc.hair, 0.75), 0.012 * cam.scale)
