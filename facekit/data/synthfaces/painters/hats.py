"""``Wearing_Hat``: CAS-PEAL's three kinds of hats (:data:`~facekit.data.synthfaces.names.HAT_STYLES`): a cap with a
visor, a beanie with a cuff, ribbing and a pompom, and a fedora with a pinched crown, a ribbon and a wide brim."""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np

from facekit.data.synthfaces._arrays import _lin, _readonly
from facekit.data.synthfaces.camera import _Camera, _ellipse_outline, _projected_ellipsoid
from facekit.data.synthfaces.canvas import _Painter, _shade
from facekit.data.synthfaces.geometry import _cranium, _forehead_point, _Shape
from facekit.data.synthfaces.scene import _Scene


def _draw_hat(pa: _Painter, sc: _Scene) -> None:
    a, p, cam, sh = sc.a, sc.p, sc.cam, sc.sh
    if not a["Wearing_Hat"]:
        return
    style, colour = a["hat_style"], p.hat_colour
    cc, r = sh.cranium_c, sh.cranium_r
    hv = 1.0 + 0.06 * (0 if a["Bald"] or a["hair_style"] == "buzz" else 1)  # room for the hair
    dark, light = _shade(colour, 0.7), _shade(colour, 1.15)
    if style == "beanie":
        crown = cc + np.array([0, -0.12, 0], np.float32)
        shell = _hat_shell(cam, crown, r * np.array([1.08 * hv, 1.0 * hv, 1.08 * hv], np.float32), rim_y=-0.45)
        pa.poly(shell, colour, mask=True)
        cuff = _hat_band(sh, cam, -0.45, -0.72, 1.1 * hv)
        pa.poly(cuff, dark, mask=True)
        if sc.detail:  # ribbing
            pa.lines(cam.project(_beanie_ribs_of(p.identity)), _shade(colour, 0.6), 0.01 * cam.scale)
        pa.ellipse(cam.project(crown + np.array([0, -r[1] * hv - 0.12, 0.1], np.float32)),
                   (0.22 * cam.scale, 0.16 * cam.scale), 0, light, mask=True)  # pompom
    elif style == "cap":
        shell = _hat_shell(cam, cc, r * np.array([1.06 * hv, 1.02 * hv, 1.06 * hv], np.float32), rim_y=-0.72)
        pa.poly(shell, colour, mask=True)
        band = _hat_band(sh, cam, -0.7, -0.8, 1.08 * hv)
        pa.poly(band, dark, mask=True)
        # visor: a half disc in front of the forehead, tilted down
        t = _lin(-math.pi / 2, math.pi / 2, 15)
        vx = 0.95 * np.sin(t)
        vz = 0.62 + 0.75 * np.cos(t)
        vy = -0.7 + 0.32 * (vz - 0.62)
        visor = np.stack([vx, vy, vz], 1).astype(np.float32)
        back = np.stack([vx[::-1] * 0.98, np.full(15, -0.72), 0.5 + 0.3 * np.cos(t[::-1])], 1).astype(np.float32)
        pa.poly(cam.project(np.concatenate([visor, back])), _shade(colour, 0.85), mask=True)
        pa.line(cam.project(visor), dark, 0.02 * cam.scale)
        pa.ellipse(cam.project(cc + np.array([0, -r[1] * hv - 0.02, 0.1], np.float32)),
                   (0.07 * cam.scale, 0.05 * cam.scale), 0, dark, mask=True)  # button
    else:  # fedora: a crown with a pinch, a ribbon, and a wide brim
        brim_y = -0.95
        brim = _ellipse_outline(np.array([0, brim_y, -0.5], np.float32),
                                np.array([[1.85, 0, 0], [0, 0.16, 1.75]], np.float32), n=32)  # front dips
        brim_pts = cam.project(brim)
        pa.hull(brim_pts, dark, mask=True)
        pa.hull(brim_pts - np.array([0, 0.035 * cam.scale], np.float32), colour, mask=True)
        crown = []
        for y, s in ((brim_y, 1.0), (-1.6, 0.98), (-2.05, 0.9), (-2.2, 0.6)):
            crown.append(_ellipse_outline(np.array([0, y, -0.55], np.float32),
                                          np.array([[1.12 * s, 0, 0], [0, 0, 1.1 * s]], np.float32), n=16))
        pa.hull(cam.project(np.concatenate(crown)), colour, mask=True)
        ribbon = []
        for y in (brim_y - 0.02, brim_y - 0.22):
            ribbon.append(_ellipse_outline(np.array([0, y, -0.55], np.float32),
                                           np.array([[1.12, 0, 0], [0, 0, 1.1]], np.float32), n=16, start=0,
                                           stop=math.pi))
        rib = cam.project(np.concatenate([ribbon[0], ribbon[1][::-1]]))
        pa.poly(rib, _shade(colour, 0.45), mask=True)
        pa.line(cam.project(_ellipse_outline(np.array([0, -2.18, -0.45], np.float32),
                                             np.array([[0.5, 0, 0], [0, 0, 0.3]], np.float32), n=9, start=0,
                                             stop=math.pi)), dark, 0.02 * cam.scale)


@functools.lru_cache(maxsize=1024)
def _beanie_ribs_of(identity: int) -> np.ndarray:
    """The ribbing of the beanie's cuff: ``(9, 2, 3)`` head units (read-only)."""
    c, r = _cranium(identity)
    x = np.repeat(_lin(-0.8, 0.8, 9), 2)
    return _readonly(_forehead_point(c, r, x, np.tile(np.array([-0.48, -0.7], np.float32), 9), 0.12).reshape(9, 2, 3))


def _hat_shell(cam: _Camera, center: np.ndarray, radii: np.ndarray, rim_y: float) -> np.ndarray:
    """The outline of the part of an ellipsoid above head height ``rim_y`` (its rim a horizontal ellipse)."""
    top = _projected_ellipsoid(cam, center, radii, n=36)
    dy = rim_y - center[1]
    s = math.sqrt(max(1e-6, 1.0 - (dy / radii[1]) ** 2))
    rim = _ellipse_outline(np.array([center[0], rim_y, center[2]], np.float32),
                           np.array([[radii[0] * s, 0, 0], [0, 0, radii[2] * s]], np.float32), n=24)
    rim2 = cam.project(rim)
    # keep the outline points above the rim's lowest projected point, then close with the front half of the rim
    front = rim2[np.argsort(np.arctan2(rim2[:, 1] - rim2[:, 1].mean(), rim2[:, 0] - rim2[:, 0].mean()))]
    pts = np.concatenate([top[top[:, 1] <= rim2[:, 1].max()], front])
    return cv2.convexHull(pts.astype(np.float32)).reshape(-1, 2)


def _hat_band(sh: _Shape, cam: _Camera, y0: float, y1: float, scale: float) -> np.ndarray:
    c, r = sh.cranium_c, sh.cranium_r * scale
    rings = []
    for y in (y0, y1):
        s = math.sqrt(max(1e-6, 1.0 - ((y - c[1]) / r[1]) ** 2))
        rings.append(cam.project(_ellipse_outline(np.array([c[0], y, c[2]], np.float32),
                                                  np.array([[r[0] * s, 0, 0], [0, 0, r[2] * s]], np.float32),
                                                  n=25, start=0, stop=math.pi)))
    facing = cam.depth_of(0.0, 0.0, 1.0) > 0
    return np.concatenate([rings[0], rings[1][::-1]]) if facing else rings[0]
