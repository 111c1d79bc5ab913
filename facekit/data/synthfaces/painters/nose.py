"""The nose: nostrils, the tip of a ``Pointy_Nose`` (a V outline and a highlight), and the alar creases round the
nostril wings that mark the nose's width."""

from __future__ import annotations

import math

import numpy as np

from facekit.data.synthfaces.canvas import _blend, _Painter, _shade
from facekit.data.synthfaces.scene import _Scene


_ALAR_ARC = np.array([[0.02, -0.12, -0.02], [0.06, -0.05, -0.03], [0.04, 0.03, -0.02], [-0.02, 0.05, 0.0]],
                     np.float32)  # offsets from a nostril wing (image-right side; x is mirrored for the left)


def _draw_nose(pa: _Painter, sc: _Scene) -> None:
    lm, cam = sc.lm, sc.cam
    dark = _shade(sc.skin, 0.55)
    crease = _shade(sc.skin, 0.8)
    for a, b in ((31, 32), (35, 34)):  # nostrils
        dx, dy = float(lm[b, 0] - lm[a, 0]), float(lm[b, 1] - lm[a, 1])
        c = lm[a] * 0.45 + lm[b] * 0.55 + np.array([0, 0.008 * cam.scale], np.float32)
        rh = (0.045 if sc.a["Big_Nose"] else 0.03) * cam.scale * (1.0 if sc.detail else 1.3)
        pa.ellipse(c, (max(0.5, math.hypot(dx, dy) * 0.55), rh), math.degrees(math.atan2(dy, dx)), dark)
    if sc.a["Pointy_Nose"]:  # a pointed tip: its lower outline is a V and its tip catches the light, at every size
        tip = lm[30] * 0.35 + lm[33] * 0.65  # above the lowest point of the tip
        glint = (0.04 * cam.scale, 0.03 * cam.scale)
        pa.ellipse(tip, glint, 0.0, _blend(sc.skin, (255, 246, 236), 0.3 if sc.detail else 0.35))
        pa.line(sc.lm_px[[31, 33, 35]], _shade(sc.skin, 0.6 if sc.detail else 0.5),
                (0.026 if sc.detail else 0.045) * cam.scale)
    # alar creases: small arcs round the nostril wings (they mark the nose's width); below 96 px wider and darker,
    # so that the width still shows
    arcs = sc.pts3[[31, 35]][:, None, :] + _ALAR_ARC[None] * np.array([[[-1, 1, 1]], [[1, 1, 1]]], np.float32)
    if not sc.detail:
        pa.lines(cam.project(arcs), _shade(sc.skin, 0.7), 0.024 * cam.scale)
        return
    pa.lines(cam.project(arcs), crease, 0.014 * cam.scale)
    pa.line(sc.lm_px[[32, 33, 34]], _shade(sc.skin, 0.85), 0.01 * cam.scale)
