"""``Wearing_Earrings``: a stud on each lobe and a drop under it, hidden only behind a turned head."""

from __future__ import annotations

import numpy as np

from facekit.data.synthfaces.canvas import _Painter
from facekit.data.synthfaces.scene import _Scene


def _draw_earrings(pa: _Painter, sc: _Scene) -> None:
    if not sc.a["Wearing_Earrings"]:
        return
    for side in (-1, 1):
        # A stud on the lobe and a drop hanging under it, drawn over hair; hidden only behind a turned head (the
        # lobe sits at the head's edge, so frontal faces show both).
        if sc.cam.depth_of(side, 0.0, -0.3) < -0.35:
            continue
        lobe = sc.cam.project(np.array([side * 1.02 * sc.sh.cranium_r[0] / 1.04, 0.46, -0.25], np.float32))
        r = 0.09 * sc.cam.scale
        pa.ellipse(lobe, (r * 0.8, r * 0.8), 0, sc.p.earring_colour, mask=True)
        drop = lobe + np.array([0, 2.2 * r], np.float32)
        pa.ellipse(drop, (r * 0.9, r * 1.4), 0, sc.p.earring_colour, mask=True)
        pa.ellipse(drop - r * 0.35, (r * 0.35, r * 0.35), 0, (250, 248, 240))
