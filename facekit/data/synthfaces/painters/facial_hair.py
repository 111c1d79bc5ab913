"""Facial hair in the hair's colour: ``Sideburns``, ``Goatee`` and ``Mustache``."""

from __future__ import annotations

import numpy as np

from facekit.data.synthfaces.camera import _facing
from facekit.data.synthfaces.canvas import _Painter, _shade
from facekit.data.synthfaces.painters.hair import _hair_colour
from facekit.data.synthfaces.scene import _Scene


def _draw_facial_hair(pa: _Painter, sc: _Scene) -> None:
    """Sideburns, goatee and mustache, in the hair's colour."""
    a, cam, p3 = sc.a, sc.cam, sc.pts3
    colour = _shade(sc.hair, 0.9) if a["hair_colour"] != "blond" else _shade(sc.hair, 0.75)
    strand = _shade(colour, 0.7)
    w = 0.012 * cam.scale
    if a["Sideburns"]:  # a strip down the side of the face, in front of the ear, out to the silhouette
        for side in (-1, 1):
            x = side * sc.sh.jaw_w
            band = np.array([[x * 1.06, -0.5, -0.2], [x * 0.86, -0.45, 0.2], [x * 0.88, 0.3, 0.12],
                             [x * 0.95, 0.52, 0.0], [x * 1.04, 0.45, -0.25]], np.float32)
            if _facing(cam, side) or abs(float(cam.R[0, 2])) < 0.2:
                pa.poly(cam.project(band), _shade(_hair_colour(sc), 0.95), mask=True)
    if a["Goatee"]:
        lower = p3[[59, 58, 57, 56, 55]] + np.array([0, 0.035, 0], np.float32)
        chin = p3[[10, 9, 8, 7, 6]] * np.array([0.75, 1.0, 1.0], np.float32) + np.array([0, 0.02, 0.02], np.float32)
        pa.poly(cam.project(np.concatenate([lower, chin])), colour)
        if sc.detail:
            pa.lines(cam.project(np.stack([lower, chin[::-1]], 1)), strand, w)
    if a["Mustache"]:
        lip_top = p3[[54, 53, 52, 51, 50, 49, 48]] + np.array([0, -0.01, 0.02], np.float32)
        lip_top[0] += (0.05, 0.06, 0)
        lip_top[-1] += (-0.05, 0.06, 0)
        under_nose = lip_top[[1, 2, 3, 4, 5]] + np.array([0, -0.1, 0], np.float32)
        under_nose[:, 1] = np.minimum(under_nose[:, 1], p3[33, 1] + 0.06) - np.array([0, 0.02, 0.03, 0.02, 0])
        under_nose[:, 0] *= 1.1
        pa.poly(cam.project(np.concatenate([under_nose, lip_top[::-1]])), colour)
        if sc.detail:
            pa.lines(cam.project(np.stack([under_nose, lip_top[1:6]], 1)), strand, w)
