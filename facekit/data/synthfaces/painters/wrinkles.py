"""Lines on the skin: nasolabial folds (age or a smile), a double chin (``Chubby``), forehead lines and crow's
feet (age)."""

from __future__ import annotations

import functools

import numpy as np

from facekit.data.synthfaces._arrays import _lin, _readonly
from facekit.data.synthfaces.canvas import _Painter, _shade
from facekit.data.synthfaces.geometry import _cranium, _eye_points_of, _forehead_point
from facekit.data.synthfaces.scene import _Scene


def _draw_wrinkles(pa: _Painter, sc: _Scene) -> None:
    """Nasolabial folds (age or a smile), forehead lines and crow's feet (age)."""
    cam, a = sc.cam, sc.a
    colour = _shade(sc.skin, 0.84)
    w = 0.011 * cam.scale
    if not a["Young"] or a["Smiling"]:  # nasolabial folds, from the nose's wings to beside the mouth's corners
        folds = []
        for wing, corner, side in ((31, 48, -1), (35, 54, 1)):
            p0 = sc.pts3[wing] + np.array([side * 0.06, 0.0, -0.05], np.float32)
            p2 = sc.pts3[corner] + np.array([side * 0.07, 0.05, -0.02], np.float32)
            p1 = (p0 + p2) / 2 + np.array([side * 0.08, 0, 0], np.float32)
            folds.append(cam.project(np.stack([p0, p1, p2])))
        # age deepens the folds: darker and, below 96 px, wide enough to survive the downsampling
        aged = not a["Young"]
        pa.lines(folds, _shade(sc.skin, 0.74) if aged else colour, w if sc.detail or not aged else 2.2 * w)
    if a["Chubby"]:  # a double chin: a soft crease under the jaw, at every size
        chin = sc.pts3[[6, 7, 8, 9, 10]] + np.array([0.0, 0.11, -0.06], np.float32)
        pa.line(cam.project(chin), _shade(sc.skin, 0.78), 0.024 * cam.scale)
    if not a["Young"]:  # forehead lines (at every size) and crow's feet (where fine lines show)
        lines = list(_forehead_lines_of(sc.p.identity))
        if sc.detail:
            lines += _crows_feet_of(sc.p.identity, a["Narrow_Eyes"], a["Smiling"])
        pa.lines([cam.project(line) for line in lines], colour, w if sc.detail else 1.8 * w)


@functools.lru_cache(maxsize=2048)
def _forehead_lines_of(identity: int) -> tuple[np.ndarray, ...]:
    """Two wavy lines across the forehead: ``(5, 3)`` head units each (read-only)."""
    c, r = _cranium(identity)
    x = _lin(-0.45, 0.45, 5)
    return tuple(_readonly(_forehead_point(c, r, x, y - 0.03 * np.cos(x * 3), 0.0)) for y in (-0.68, -0.82))


@functools.lru_cache(maxsize=2048)
def _crows_feet_of(identity: int, narrow: int, smile: int) -> tuple[np.ndarray, ...]:
    """Three short lines out of each eye's outer corner: ``(2, 3)`` head units each (read-only)."""
    eyes = _eye_points_of(identity, narrow, smile).astype(np.float32)  # the landmarks 36..47
    lines = []
    for o, side in ((eyes[0], -1), (eyes[9], 1)):  # the outer corners, landmarks 36 and 45
        for dy in (-0.05, 0.0, 0.05):
            lines.append(_readonly(np.array([o + np.array([side * 0.06, dy * 0.5, -0.04]),
                                             o + np.array([side * 0.15, dy, -0.1])], np.float32)))
    return tuple(lines)
