"""The eyes: sclera, then iris, pupil and catch-light clipped to the eye opening, then lids, lashes and crease
(a heavy lower lid for ``Narrow_Eyes``, at every size)."""

from __future__ import annotations

import functools

import numpy as np

from facekit.data.synthfaces._arrays import _readonly
from facekit.data.synthfaces.canvas import _blend, _Painter, _shade
from facekit.data.synthfaces.geometry import _eye_points_of, _EYES
from facekit.data.synthfaces.scene import _Scene


def _draw_eyes(pa: _Painter, sc: _Scene) -> None:
    lm, cam, p = sc.lm, sc.cam, sc.p
    sclera = (232.0, 226.0, 220.0)
    lash = _shade(_blend(sc.hair, (20, 16, 14), 0.6), 0.8)
    gazes = _iris_centres_of(p.identity, sc.a["Narrow_Eyes"], sc.a["Smiling"])
    for group, gaze in zip(_EYES, gazes):  # the subject's right eye (image left), then the left eye
        eye = lm[group]  # (6, 2): corner, upper lid, other corner, lower lid
        eye_px = sc.lm_px[group]  # the same, in canvas coordinates
        first = group.start
        iris_c = cam.project(gaze)
        r_iris = 0.082 * p.eye_size * cam.scale
        pa.poly(eye_px, sclera)
        # the iris, pupil and catch-light, kept only inside the eye opening (the lids cover the rest)
        lo = np.minimum(eye.min(0), iris_c - r_iris) - 1.0
        hi = np.maximum(eye.max(0), iris_c + r_iris) + 1.0
        with pa.clipped(eye_px, lo, hi):
            pa.ellipse(iris_c, (r_iris * abs(cam.R[2, 2]) ** 0.5, r_iris), 0, p.iris)
            pa.ellipse(iris_c, (r_iris * 0.45, r_iris * 0.45), 0, (16, 12, 12))
            if sc.detail:
                pa.ellipse(iris_c + np.array([-0.3, -0.35]) * r_iris, (r_iris * 0.18, r_iris * 0.18), 0,
                           (250, 250, 250))
        # upper lid and lashes, lower lid, crease
        upper = [0, 1, 2, 3] if first == 36 else [3, 2, 1, 0]
        pa.line(eye_px[upper], lash, 0.028 * cam.scale)
        lower = [3, 4, 5, 0] if first == 36 else [0, 5, 4, 3]
        if sc.a["Narrow_Eyes"]:  # a squint: a heavy lower lid, drawn at every size
            pa.line(eye_px[lower], _shade(sc.skin, 0.6), 0.026 * cam.scale)
        elif sc.detail:
            pa.line(eye_px[lower], _shade(sc.skin, 0.72), 0.01 * cam.scale)
        if sc.detail:
            crease = eye[upper[1:3]] + np.array([0, -0.055 * cam.scale], np.float32)
            pa.line(crease, _shade(sc.skin, 0.8), 0.012 * cam.scale)


@functools.lru_cache(maxsize=4096)
def _iris_centres_of(identity: int, narrow: int, smile: int) -> tuple[np.ndarray, np.ndarray]:
    """The centre of each iris, image-left eye first: ``(3,)`` head units each (read-only)."""
    eyes = _eye_points_of(identity, narrow, smile).astype(np.float32)  # the landmarks 36..47
    # the iris sits in front of the eye's centre, looking ahead
    return _readonly(*(eyes[group].sum(0) / 6 + np.array([0, -0.005, 0.12], np.float32)
                       for group in (slice(0, 6), slice(6, 12))))
