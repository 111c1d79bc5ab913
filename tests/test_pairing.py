"""Every chapter pair (.py source, .ipynb twin) is in sync, and the check itself catches a broken pair."""

from __future__ import annotations

import shutil
from pathlib import Path

import jupytext
import pytest

from pairing import check_pairs

CHAPTERS = Path(__file__).resolve().parents[1] / "chapters"

SOURCE = """\
# %% [markdown]
# # A chapter

# %%
x = 1
print(x)
"""


def _write_pair(folder: Path, text: str = SOURCE) -> Path:
    py = folder / "01_demo.py"
    py.write_text(text)
    jupytext.write(jupytext.read(py), py.with_suffix(".ipynb"))
    return py


def test_repository_chapters_are_in_sync() -> None:
    assert sorted(CHAPTERS.glob("[0-9]*.py")), "no chapters found"
    assert check_pairs(CHAPTERS) == []


def test_in_sync_pair_passes(tmp_path: Path) -> None:
    _write_pair(tmp_path)
    assert check_pairs(tmp_path) == []


def test_edited_source_is_out_of_sync(tmp_path: Path) -> None:
    py = _write_pair(tmp_path)
    py.write_text(SOURCE.replace("x = 1", "x = 2"))
    problems = check_pairs(tmp_path)
    assert len(problems) == 1 and "differ in cell 1" in problems[0] and "jupytext --sync" in problems[0]


def test_added_cell_is_out_of_sync(tmp_path: Path) -> None:
    py = _write_pair(tmp_path)
    py.write_text(SOURCE + "\n# %%\ny = 3\n")
    assert "has 3 cells" in check_pairs(tmp_path)[0]


def test_missing_twin_is_reported(tmp_path: Path) -> None:
    py = _write_pair(tmp_path)
    py.with_suffix(".ipynb").unlink()
    assert "missing its twin" in check_pairs(tmp_path)[0]


def test_orphan_notebook_is_reported(tmp_path: Path) -> None:
    py = _write_pair(tmp_path)
    py.unlink()
    assert "no 01_demo.py source" in check_pairs(tmp_path)[0]


def test_outputs_must_be_stripped(tmp_path: Path) -> None:
    import nbformat

    py = _write_pair(tmp_path)
    nb_path = py.with_suffix(".ipynb")
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    nbformat.write(nb, nb_path)
    assert "carries outputs" in check_pairs(tmp_path)[0]


@pytest.mark.parametrize("chapter", sorted(p.name for p in CHAPTERS.glob("[0-9]*.py")))
def test_repository_chapter_copy_detects_drift(tmp_path: Path, chapter: str) -> None:
    """The real chapters, copied and edited, fail the check (the check is not vacuous on them)."""
    shutil.copy(CHAPTERS / chapter, tmp_path / chapter)
    shutil.copy((CHAPTERS / chapter).with_suffix(".ipynb"), tmp_path)
    assert check_pairs(tmp_path) == []
    (tmp_path / chapter).write_text((tmp_path / chapter).read_text() + "\n# %%\nprint('drift')\n")
    assert check_pairs(tmp_path)
