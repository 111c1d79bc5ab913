"""Stage 6 of a render, what lies behind and over the face: a smooth backdrop (studio, blurred room, wall) lit
from the light's side, and a little sensor noise.

Backdrops are drawn from their own seed (the identity by default, so a person keeps one backdrop) and kept in a
cache bounded by its size in bytes (:class:`_ArrayCache`); the noise is one cached field per image size.
"""

from __future__ import annotations

import collections
import functools
import threading
from typing import Any, Callable

import cv2
import numpy as np

from facekit.data.synthfaces._arrays import _lin, _readonly
from facekit.data.synthfaces.lighting import Light, _light_vectors

_NOISE_SIGMA = 1.6  # sensor noise, in grey levels
_SALT_BG, _SALT_NOISE = 0x2545F491, 0x9E3779B9  # mixed into the generators' seeds (the identity's: identity.py)


_BACKGROUND_PALETTE = np.array([  # studio greys, walls, foliage, sky, dark rooms (RGB)
    [128, 128, 128], [190, 190, 186], [72, 76, 84], [176, 160, 136], [206, 196, 176], [90, 120, 150],
    [140, 170, 200], [96, 122, 86], [150, 120, 100], [52, 48, 46], [200, 180, 150], [120, 96, 120]], np.float32)


def _background(seed: int, size: int, light: Light) -> np.ndarray:
    """A smooth, plausible backdrop (studio, blurred room, wall), lit from the light's side. ``(H, W, 3)`` float32."""
    return _backdrop(seed, size) * _backdrop_light(light, size)


@functools.lru_cache(maxsize=256)
def _backdrop_light(light: Light, size: int) -> np.ndarray:
    """The backdrop's brightness across the image, brighter on the light's side: ``(1, W, 3)`` float32 (cached)."""
    ramp = _lin(-1.0, 1.0, size)
    lit = 0.82 + 0.18 * light.ambient + 0.2 * float(_light_vectors(light)[0][0]) * ramp
    return _readonly(np.repeat(lit[None, :, None], 3, axis=2))  # (1, W, 3): see _gray3


class _ArrayCache:
    """A least-recently-used cache of read-only arrays, bounded by their total size in bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: collections.OrderedDict[Any, np.ndarray] = collections.OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Any, make: Callable[[], np.ndarray]) -> np.ndarray:
        """The array cached under ``key``, or ``make()`` (then cached, read-only)."""
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
                return value
        value = _readonly(make())
        with self._lock:
            if key not in self._items:
                self._items[key] = value
                self._bytes += value.nbytes
            while self._bytes > self.max_bytes and len(self._items) > 1:
                self._bytes -= self._items.popitem(last=False)[1].nbytes
        return value


# Backdrops are slow to make (an upsampling of a few random colour patches, bicubic for most) and big; they are
# cached by (seed, size) within 64 MB: about 1300 backdrops of 64 px, 340 of 128 px.
_BACKDROPS = _ArrayCache(64 << 20)


def _backdrop(seed: int, size: int) -> np.ndarray:
    """The unlit backdrop, ``(H, W, 3)`` float32 (cached, read-only)."""
    return _BACKDROPS.get((seed, size), lambda: _make_backdrop(seed, size))


def _make_backdrop(seed: int, size: int) -> np.ndarray:
    field, kind = _backdrop_field(seed)
    bg = cv2.resize(field, (size, size), interpolation=cv2.INTER_CUBIC if kind else cv2.INTER_LINEAR)
    return np.clip(bg, 0, 235)


@functools.lru_cache(maxsize=16384)
def _backdrop_field(seed: int) -> tuple[np.ndarray, int]:
    """The backdrop's few random colour patches, ``(h, w, 3)`` float32, and its kind (cached: tiny, and drawing
    them is the slow part)."""
    rng = np.random.default_rng([seed, _SALT_BG])
    base = _BACKGROUND_PALETTE[rng.integers(len(_BACKGROUND_PALETTE))] * rng.uniform(0.8, 1.15)
    kind = rng.integers(3)
    if kind == 0:  # studio: a smooth gradient
        field = base * np.array([[1.1], [0.85]])[:, :, None] * np.ones((2, 2, 1))
    elif kind == 1:  # blurred room: a few soft colour blobs
        field = base * rng.uniform(0.7, 1.3, (4, 4, 1)) * rng.uniform(0.9, 1.1, (4, 4, 3))
    else:  # wall with a door / window edge
        field = np.tile(base, (3, 4, 1)) * rng.uniform(0.95, 1.05, (3, 4, 1))
        col = rng.integers(4)
        field[:, col] *= rng.uniform(0.6, 1.4)
    field = field.astype(np.float32)
    field.flags.writeable = False
    return field, int(kind)


@functools.lru_cache(maxsize=16)
def _noise(size: int) -> np.ndarray:
    """Sensor noise, ``(2 size, 2 size)`` float32 (cached, read-only); an image uses a ``size`` square of it."""
    rng = np.random.default_rng(_SALT_NOISE)
    return _readonly((rng.standard_normal((size * 2, size * 2, 1)) * _NOISE_SIGMA).astype(np.float32)[..., 0])
