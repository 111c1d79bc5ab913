"""Small numpy helpers that every stage of the renderer shares.

Cached arrays are shared by every later render, so they are marked read-only (:func:`_readonly`); the tables
that the painters and the geometry ask for again and again (``linspace``, points on a circle) are cached here;
:func:`_norm3` is the length of 3-vectors kept as three planes (faster than ``np.linalg.norm``, same numbers).
"""

from __future__ import annotations

import functools
import math
from typing import Any, Sequence

import numpy as np


def _readonly(*arrays: np.ndarray) -> Any:
    """Mark arrays read-only (cached arrays are shared by every later render: nobody may change them). Returns
    the array, or the tuple of arrays."""
    for array in arrays:
        array.flags.writeable = False
    return arrays[0] if len(arrays) == 1 else arrays


@functools.lru_cache(maxsize=256)
def _lin(start: float, stop: float, n: int, endpoint: bool = True) -> np.ndarray:
    """``np.linspace`` as float32, cached (read-only): the renderer asks for the same few tables again and again."""
    out = np.linspace(start, stop, n, endpoint=endpoint, dtype=np.float32)
    out.flags.writeable = False
    return out


@functools.lru_cache(maxsize=64)
def _circle(n: int, start: float = 0.0, stop: float = 2 * math.pi) -> np.ndarray:
    """``(n, 2)`` float32 ``(cos t, sin t)`` for ``n`` angles from start to stop (a full turn omits the end)."""
    t = np.linspace(start, stop, n, endpoint=stop - start < 2 * math.pi - 1e-6)
    out = np.stack([np.cos(t), np.sin(t)], 1).astype(np.float32)
    out.flags.writeable = False
    return out


def _norm3(planes: Sequence[np.ndarray]) -> np.ndarray:
    """The length of 3-vectors given as their x, y, z planes: ``sqrt((x x + y y) + z z)``.

    The same numbers as ``np.linalg.norm(v, axis=-1)`` of the stacked ``(..., 3)`` array (numpy sums the three
    squares in this order), and many times faster.
    """
    x, y, z = planes
    return np.sqrt(x * x + y * y + z * z)
