"""The SynthFaces renderer as a package (facekit/data/synthfaces/): its public API, its caches, its examples.

The split of the renderer into one module per stage was checked bit for bit against the single-module renderer
(351 renders, sizes 32 to 160). These tests keep what that check needs without the old code: the public names
are the ones the single module had, the caches never change a pixel, and the caches stay bounded.
"""

from __future__ import annotations

import doctest
import functools
import importlib
import pkgutil

import numpy as np
import pytest

import facekit.data
import facekit.data.synthfaces as sf
from facekit.data.synthfaces import backdrop

# The public names of facekit.data.synthfaces when it was one module (its __all__ then).
PUBLIC_API = (
    "ATTRIBUTES", "STATE_ATTRIBUTES", "GLASSES_STYLES", "HAT_STYLES", "HAIR_STYLES", "HAIR_COLOURS", "STYLE_KEYS",
    "MULTIPIE_YAWS", "YAW_RANGE", "PITCH_RANGE", "LIGHTS", "N_LIGHTS", "MIN_SIZE", "MAX_SIZE", "Light",
    "FaceParams", "identity_params", "resolve_attributes", "attributes_to_vector", "attributes_from_vector",
    "landmarks_3d", "render",
)


def _modules() -> list:
    """Every module of the package (the package itself first)."""
    names = [info.name for info in pkgutil.walk_packages(sf.__path__, prefix=sf.__name__ + ".")]
    return [sf] + [importlib.import_module(name) for name in sorted(names)]


def test_public_api_unchanged() -> None:
    assert sorted(sf.__all__) == sorted(PUBLIC_API)
    for name in PUBLIC_API:
        obj = getattr(sf, name)
        if callable(obj):  # functions and classes: defined in a module of the package, re-exported as they are
            home = obj.__module__
            assert home.startswith(sf.__name__ + "."), (name, home)
            assert getattr(importlib.import_module(home), name) is obj, name
    for name in set(facekit.data.__all__) & set(PUBLIC_API):  # facekit.data re-exports the same objects
        assert getattr(facekit.data, name) is getattr(sf, name), name


def _lru_caches() -> list:
    caches = []
    for module in _modules():
        for value in vars(module).values():
            if isinstance(value, functools._lru_cache_wrapper) and value.__module__ == module.__name__:
                caches.append(value)
    return caches


def test_caches_are_bounded() -> None:
    caches = _lru_caches()
    assert len(caches) > 20  # identity, geometry, hair, lighting, backdrop, ...
    unbounded = [f"{c.__module__}.{c.__qualname__}" for c in caches if c.cache_parameters()["maxsize"] is None]
    assert not unbounded
    assert 0 < backdrop._BACKDROPS.max_bytes <= 256 << 20


_SPECS = [
    dict(identity=3, size=32),
    dict(identity=5, attributes={"Smiling": 1, "Eyeglasses": 1, "glasses_style": "sunglasses"}, yaw=-45.0, size=64),
    dict(identity=8, attributes={"Wearing_Hat": 1, "hat_style": "fedora", "Wearing_Earrings": 1}, yaw=30.0,
         pitch=-10.0, light=12, size=128),
    dict(identity=13, attributes={"Male": 1, "Young": 0, "Mustache": 1, "Bald": 1}, yaw=15.0, light=5, size=96),
    dict(identity=21, attributes={"Male": 0, "Bangs": 1, "Wearing_Lipstick": 1, "Rosy_Cheeks": 1,
                                  "Wearing_Hat": 1, "hat_style": "beanie"}, pitch=20.0, light=19, size=128),
    dict(identity=34, attributes={"glasses_style": "round", "hat_style": "cap", "Chubby": 1, "Narrow_Eyes": 1},
         yaw=-15.0, light=17, size=64, background=99),
]


def test_cold_and_warm_caches_give_the_same_pixels(monkeypatch: pytest.MonkeyPatch) -> None:
    warm = [sf.render(**spec) for spec in _SPECS]  # the caches hold whatever earlier tests left, and these faces
    for cache in _lru_caches():
        cache.cache_clear()
    monkeypatch.setattr(backdrop, "_BACKDROPS", backdrop._ArrayCache(backdrop._BACKDROPS.max_bytes))
    cold = [sf.render(**spec) for spec in reversed(_SPECS)][::-1]  # empty caches, filled in another order
    for spec, a, b in zip(_SPECS, warm, cold):
        for key in ("image", "landmarks", "visible", "mask"):
            assert a[key].dtype == b[key].dtype and np.array_equal(a[key], b[key]), (spec, key)
        assert a["attributes"] == b["attributes"]


@pytest.mark.parametrize("module", _modules(), ids=lambda m: m.__name__)
def test_docstring_examples_run(module) -> None:
    assert doctest.testmod(module).failed == 0
