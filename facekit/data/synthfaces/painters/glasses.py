"""``Eyeglasses``: CAS-PEAL's three kinds of glasses (:data:`~facekit.data.synthfaces.names.GLASSES_STYLES`): round,
square (a rounded rectangle) and sunglasses (dark lenses), with a bridge over the nose and temples to the visible
ears."""

from __future__ import annotations

import functools
import math

import numpy as np

from facekit.data.synthfaces._arrays import _lin, _readonly
from facekit.data.synthfaces.canvas import _Painter
from facekit.data.synthfaces.geometry import _eye_points_of
from facekit.data.synthfaces.painters.head import _ears
from facekit.data.synthfaces.scene import _Scene


def _draw_glasses(pa: _Painter, sc: _Scene) -> None:
    a, p, cam = sc.a, sc.p, sc.cam
    if not a["Eyeglasses"]:
        return
    style = a["glasses_style"]
    frame = p.glasses_colour if style != "sunglasses" else (22, 20, 20)
    width = {"round": 0.022, "square": 0.035, "sunglasses": 0.02}[style] * cam.scale
    z = 0.8
    rims = []
    for rim3 in _glasses_rims_of(p.identity, a["Narrow_Eyes"], a["Smiling"], style):
        rims.append(cam.project(rim3))
        if style == "sunglasses":
            pa.poly(rims[-1], (28, 30, 34), mask=True)
            hl = rims[-1][[4, 5, 6]] * 0.7 + rims[-1].mean(0) * 0.3
            pa.line(hl, (90, 96, 104), 0.02 * cam.scale)
        else:
            hl = rims[-1][[3, 4, 5]] * 0.75 + rims[-1].mean(0) * 0.25  # a faint reflection on the lens
            pa.line(hl, (236, 240, 244), 0.012 * cam.scale)
        pa.line(rims[-1], frame, width, closed=True, mask=True)
    # bridge over the nose
    b0, b1 = rims[0][np.argmax(rims[0][:, 0])], rims[1][np.argmin(rims[1][:, 0])]
    top = cam.project(np.array([0, -0.06, z + 0.05], np.float32))
    pa.line(np.stack([b0, top, b1]), frame, width * 0.8, mask=True)
    # temples (arms) to the ears, only on a side that faces the camera
    for rim, side, (outline, facing) in zip(rims, (-1, 1), _ears(sc)):
        if not facing:
            continue
        start = rim[np.argmin(rim[:, 0])] if side == -1 else rim[np.argmax(rim[:, 0])]
        ear_top = cam.project(np.array([side * 0.99 * sc.sh.cranium_r[0] / 1.04, -0.05, -0.3], np.float32))
        pa.line(np.stack([start, ear_top]), frame, width * 0.8, mask=True)


@functools.lru_cache(maxsize=4096)
def _glasses_rims_of(identity: int, narrow: int, smile: int, style: str) -> tuple[np.ndarray, np.ndarray]:
    """The outline of each lens, image-left first: ``(32, 3)`` head units each (read-only)."""
    eyes = _eye_points_of(identity, narrow, smile).astype(np.float32)  # the landmarks 36..47
    z = 0.8
    rims = []
    for group in (slice(0, 6), slice(6, 12)):
        c = eyes[group, :2].sum(0) / 6
        c = np.array([c[0], c[1] + 0.02, z], np.float32)
        t = _lin(0, 2 * math.pi, 32, False)
        if style == "round":
            rx, ry = 0.27, 0.24
            ring = np.stack([rx * np.cos(t), ry * np.sin(t), 0 * t], 1)
        elif style == "square":
            rx, ry = 0.3, 0.2
            e = 0.25  # superellipse exponent -> rounded rectangle
            ring = np.stack([rx * np.sign(np.cos(t)) * np.abs(np.cos(t)) ** e,
                             ry * np.sign(np.sin(t)) * np.abs(np.sin(t)) ** e, 0 * t], 1)
        else:  # aviator: wider at the top, a drop at the bottom outer side
            side = -1 if group.start == 0 else 1
            rx, ry = 0.3, 0.24
            ring = np.stack([rx * np.cos(t), ry * np.sin(t) * (1 + 0.25 * (np.sin(t) > 0)), 0 * t], 1)
            ring[:, 0] += side * 0.04 * (np.sin(t) > 0) * np.cos(t) ** 2
        ring[:, 2] = -0.5 * np.maximum(ring[:, 0] * np.sign(c[0]), 0.0) ** 2  # the outer side wraps back
        rims.append(c + ring.astype(np.float32))
    return _readonly(*rims)
