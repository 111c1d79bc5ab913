"""The whole book builds in the ``smoke`` profile: every chapter executed, zero Sphinx warnings, and a hang fails
within minutes (issue 12: a kernel that stopped answering once left ``make book`` waiting on its 900 s per-cell
timeout).

This is the same ``jupyter-book build`` as ``make book``, with two changes: ``FACEKIT_PROFILE=smoke``, and a
per-cell execution timeout of :data:`CELL_TIMEOUT_S` instead of the cpu profile's 900 s (a copy of ``_config.yml``
with that one key changed, so the configuration still lives in one place). The whole build also has a deadline,
:data:`BUILD_DEADLINE_S`, after which its process group (Sphinx and its kernels) is killed and the test fails with
the build's last lines.

Run it alone with ``pytest tests/test_book_build.py -s`` (about 2 minutes on a 2-core CPU); ``-m "not book"``
leaves it out of a quick run.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]

CELL_TIMEOUT_S = 120
"""Per-cell limit of the smoke build: a whole smoke chapter must run in under 60 s (DESIGN.md section 3)."""

BUILD_DEADLINE_S = 600
"""The whole smoke build (every chapter plus Sphinx) must finish in this time; it takes about 2 minutes here."""

pytestmark = pytest.mark.book


def _chapters_in_toc() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    return [f for f in files if f.startswith("chapters/")]


def smoke_config(path: Path) -> Path:
    """Write ``_config.yml`` with the smoke per-cell timeout to ``path`` and return it."""
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    cfg["execute"]["timeout"] = CELL_TIMEOUT_S
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def test_smoke_config_changes_only_the_cell_timeout(tmp_path: Path) -> None:
    original = yaml.safe_load((ROOT / "_config.yml").read_text())
    smoke = yaml.safe_load(smoke_config(tmp_path / "_config.yml").read_text())
    assert smoke["execute"].pop("timeout") == CELL_TIMEOUT_S
    original["execute"].pop("timeout")
    assert smoke == original


def test_whole_book_builds_in_the_smoke_profile(tmp_path: Path, judge_files: None) -> None:  # ch. 07 judges photos
    jb = shutil.which("jupyter-book", path=str(Path(sys.executable).parent)) or shutil.which("jupyter-book")
    if jb is None:
        pytest.skip("jupyter-book is not installed (pip install 'facekit[book]'); make test installs it")
    out = tmp_path / "book"
    env = dict(os.environ, FACEKIT_PROFILE="smoke")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # the kernel runs this Python
    env.pop("FACEKIT_HOME", None)  # the conftest's temporary home would hide the user's data from the chapters
    cmd = [jb, "build", str(ROOT), "--config", str(smoke_config(tmp_path / "_config.yml")),
           "--path-output", str(out), "--all", "--warningiserror", "--keep-going"]
    t0 = time.perf_counter()
    # Own process group: on a hang the kernels that Sphinx started are killed with it.
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        log, _ = proc.communicate(timeout=BUILD_DEADLINE_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        log, _ = proc.communicate()
        pytest.fail(f"the smoke book build did not finish in {BUILD_DEADLINE_S} s (a hang?); its last lines:\n"
                    + "\n".join(log.splitlines()[-30:]))
    seconds = time.perf_counter() - t0
    tail = "\n".join(log.splitlines()[-40:])
    # --warningiserror --keep-going: any Sphinx warning (or a cell error) makes the exit status non-zero
    problems = [line for line in log.splitlines()
                if ("WARNING" in line or "ERROR" in line or "Error" in line) and "IPKernelApp" not in line]
    assert proc.returncode == 0, (f"jupyter-book build failed (exit {proc.returncode}); its warnings and errors:\n"
                                  + "\n".join(problems[:30]) + f"\n... last lines:\n{tail}")
    executed = dict(re.findall(r"chapters/(\w+)\.ipynb: Executed notebook in ([\d.]+) seconds", log))
    expected = [Path(f).name for f in _chapters_in_toc()]
    missing = [c for c in expected if c not in executed]
    assert not missing, f"chapters not executed by the build: {missing}\n{tail}"
    print(f"\nsmoke book built in {seconds:.0f} s; chapters executed in (s): "
          + ", ".join(f"{k} {float(v):.1f}" for k, v in executed.items()))
    assert (out / "_build" / "html" / "index.html").is_file()
