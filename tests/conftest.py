"""Shared pytest set-up: unit tests never write into the user's real cache."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # for tests/pairing.py

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _isolated_facekit_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEKIT_HOME", str(tmp_path_factory.getbasetemp() / "facekit-home"))


@pytest.fixture
def repo_root() -> Path:
    return ROOT
