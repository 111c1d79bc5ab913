"""The canvas the painters draw on: anti-aliased OpenCV polygons, lines and ellipses on a supersampled canvas
(twice the output size, fixed-point coordinates in 1/16 of a canvas pixel), a foreground mask drawn alongside,
clipping to a polygon, and the final shrink with ``cv2.INTER_AREA``, which anti-aliases every edge.

:func:`_shade` and :func:`_blend` are the two colour operations the painters use (darken, mix).
"""

from __future__ import annotations

import contextlib
from typing import Iterator, Sequence, Union

import cv2
import numpy as np


_SUPERSAMPLE = 2  # the canvas is this many times the output size
_SHIFT = 4  # cv2 fixed-point bits: coordinates are given in 1/16 of a canvas pixel


class _Painter:
    """Draws on a canvas ``_SUPERSAMPLE`` times the output size; all coordinates are given in output pixels."""

    def __init__(self, size: int) -> None:
        self.ss = _SUPERSAMPLE
        side = size * self.ss
        self.img = np.zeros((side, side, 3), np.uint8)
        self.mask = np.zeros((side, side), np.uint8)
        self._k = float(self.ss * (1 << _SHIFT))
        self._b = (0.5 - 0.5 / self.ss) * self._k  # pixel centres: canvas x = (x + 0.5) * ss - 0.5

    def _fix(self, xy: np.ndarray) -> np.ndarray:
        """Output pixel coordinates -> canvas fixed-point coordinates (int32). int32 input is already fixed."""
        if xy.dtype == np.int32:
            return xy
        return np.rint(xy * self._k + self._b).astype(np.int32)

    def _len(self, value: float) -> int:
        return max(1, int(round(value * self.ss)))

    def poly(self, xy: np.ndarray, colour: Sequence[float], mask: bool = False) -> None:
        pts = self._fix(xy).reshape(-1, 1, 2)
        cv2.fillPoly(self.img, [pts], colour, cv2.LINE_AA, _SHIFT)
        if mask:
            cv2.fillPoly(self.mask, [pts], 255, cv2.LINE_AA, _SHIFT)

    def polys(self, xys: Sequence[np.ndarray], colour: Sequence[float], mask: bool = False) -> None:
        """Fill several polygons at once (even-odd: a polygon inside another makes a hole)."""
        pts = [self._fix(xy).reshape(-1, 1, 2) for xy in xys]
        cv2.fillPoly(self.img, pts, colour, cv2.LINE_AA, _SHIFT)
        if mask:
            cv2.fillPoly(self.mask, pts, 255, cv2.LINE_AA, _SHIFT)

    def hull(self, xy: np.ndarray, colour: Sequence[float], mask: bool = False) -> None:
        pts = cv2.convexHull(self._fix(xy).reshape(-1, 1, 2))
        cv2.fillConvexPoly(self.img, pts, colour, cv2.LINE_AA, _SHIFT)
        if mask:
            cv2.fillConvexPoly(self.mask, pts, 255, cv2.LINE_AA, _SHIFT)

    def line(self, xy: np.ndarray, colour: Sequence[float], width: float, closed: bool = False,
             mask: bool = False) -> None:
        pts = self._fix(xy).reshape(-1, 1, 2)
        w = self._len(width)
        cv2.polylines(self.img, [pts], closed, colour, w, cv2.LINE_AA, _SHIFT)
        if mask:
            cv2.polylines(self.mask, [pts], closed, 255, w, cv2.LINE_AA, _SHIFT)

    def lines(self, xys: Union[Sequence[np.ndarray], np.ndarray], colour: Sequence[float], width: float) -> None:
        """Several open polylines of one colour and width in one call (a list, or an ``(n, m, 2)`` array)."""
        if isinstance(xys, np.ndarray):
            xys = self._fix(xys)  # all at once (the same numbers as one polyline at a time)
        pts = [self._fix(xy).reshape(-1, 1, 2) for xy in xys]
        cv2.polylines(self.img, pts, False, colour, self._len(width), cv2.LINE_AA, _SHIFT)

    def ellipse(self, center: np.ndarray, axes: tuple[float, float], angle: float, colour: Sequence[float],
                mask: bool = False) -> None:
        c = tuple(self._fix(center).tolist())
        ax = tuple(max(1, int(round(v * self._k))) for v in axes)
        cv2.ellipse(self.img, c, ax, angle, 0, 360, colour, -1, cv2.LINE_AA, _SHIFT)
        if mask:
            cv2.ellipse(self.mask, c, ax, angle, 0, 360, 255, -1, cv2.LINE_AA, _SHIFT)

    @contextlib.contextmanager
    def clipped(self, polygon: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> Iterator[None]:
        """Keep what is drawn inside the ``with`` block only inside ``polygon`` (anti-aliased).

        Everything drawn in the block must stay within the box ``lo``-``hi`` (output pixels).
        """
        k = self.ss
        x0, y0 = (max(0, int(v * k) - 1) for v in lo)
        x1, y1 = (min(self.img.shape[1 - i], int(v * k) + 2) for i, v in enumerate(hi))
        if x1 <= x0 or y1 <= y0:
            yield
            return
        before = self.img[y0:y1, x0:x1].copy()
        yield
        inside = np.zeros((y1 - y0, x1 - x0), np.uint8)
        shifted = self._fix(polygon) - np.array([x0, y0], np.int32) * (1 << _SHIFT)
        cv2.fillPoly(inside, [shifted.reshape(-1, 1, 2)], 255, cv2.LINE_AA, _SHIFT)
        roi = self.img[y0:y1, x0:x1]
        t = inside[..., None].astype(np.float32) * (1.0 / 255.0)
        roi[:] = (before + (roi.astype(np.float32) - before) * t + 0.5).astype(np.uint8)

    def finish(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Shrink to the output size (INTER_AREA anti-aliases). Returns ``(albedo (H, W, 3), alpha (H, W))``."""
        img = cv2.resize(self.img, (size, size), interpolation=cv2.INTER_AREA)
        alpha = cv2.resize(self.mask, (size, size), interpolation=cv2.INTER_AREA)
        return img, alpha


def _shade(colour: Sequence[float], factor: float) -> tuple[float, float, float]:
    return (colour[0] * factor, colour[1] * factor, colour[2] * factor)


def _blend(c1: Sequence[float], c2: Sequence[float], t: float) -> tuple[float, float, float]:
    return (c1[0] + (c2[0] - c1[0]) * t, c1[1] + (c2[1] - c1[1]) * t, c1[2] + (c2[2] - c1[2]) * t)
