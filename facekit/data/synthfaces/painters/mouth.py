"""The mouth: lips (lipstick when ``Wearing_Lipstick``), and the inside of the mouth and the upper teeth when
``Mouth_Slightly_Open`` or ``Smiling``."""

from __future__ import annotations

import numpy as np

from facekit.data.synthfaces.canvas import _Painter, _shade
from facekit.data.synthfaces.scene import _Scene


def _draw_mouth(pa: _Painter, sc: _Scene) -> None:
    lm, lm_px, cam, a = sc.lm, sc.lm_px, sc.cam, sc.a
    lip = sc.p.lipstick if a["Wearing_Lipstick"] else sc.p.lip
    open_ = a["Mouth_Slightly_Open"] or a["Smiling"]
    if open_:
        pa.poly(lm_px[60:68], (46, 18, 20))
        # upper teeth: a band under the upper inner lip
        top = lm[[60, 61, 62, 63, 64]]
        depth = 0.06 * cam.scale if a["Smiling"] else 0.035 * cam.scale
        teeth = np.concatenate([top, top[::-1] + np.array([0, depth], np.float32)])
        pa.poly(teeth, (228, 222, 206))
    pa.poly(lm_px[[48, 49, 50, 51, 52, 53, 54, 64, 63, 62, 61, 60]], _shade(lip, 0.86))  # upper lip
    pa.poly(lm_px[[54, 55, 56, 57, 58, 59, 48, 60, 67, 66, 65, 64]], lip)  # lower lip
    pa.line(lm_px[[48, 60, 61, 62, 63, 64, 54]], _shade(lip, 0.45), 0.016 * cam.scale)
    if not open_:
        pa.line(lm_px[[60, 67, 66, 65, 64]], _shade(lip, 0.5), 0.01 * cam.scale)
