"""The eyebrows: a tapered band along landmarks 17-21 and 22-26 (thicker and darker when ``Bushy_Eyebrows``)."""

from __future__ import annotations

import numpy as np

from facekit.data.synthfaces.canvas import _blend, _Painter, _shade
from facekit.data.synthfaces.geometry import _BROWS
from facekit.data.synthfaces.scene import _Scene


def _draw_brows(pa: _Painter, sc: _Scene) -> None:
    lm, cam, p = sc.lm, sc.cam, sc.p
    colour = _shade(_blend(sc.hair, (40, 30, 24), 0.35 if sc.a["hair_colour"] in ("blond", "gray") else 0.1), 0.85)
    thick = 0.06 * p.brow_thickness * (1.9 if sc.a["Bushy_Eyebrows"] else 1.0) * cam.scale
    if sc.a["Bushy_Eyebrows"]:  # dense brows: thicker and darker
        colour = _shade(colour, 0.7)
    taper = np.array([0.45, 0.8, 1.0, 1.0, 0.9])
    for group in _BROWS:
        brow = lm[group]  # (5, 2), image left to right
        t = taper if group.start == 17 else taper[::-1]
        up = brow - np.stack([np.zeros(5), t * thick * 0.55], 1)
        down = brow + np.stack([np.zeros(5), t * thick * 0.45], 1)
        pa.poly(np.concatenate([up, down[::-1]]).astype(np.float32), colour)
