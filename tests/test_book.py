"""The book's wiring: every chapter is in the toc, starts with the Colab install cell, and names the repository
that _config.yml names (the one place the URL lives)."""

from __future__ import annotations

from pathlib import Path

import jupytext
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9]*.py"))


def _config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text())


def test_toc_lists_every_chapter_and_existing_pages() -> None:
    toc = (ROOT / "_toc.yml").read_text()
    for chapter in CHAPTERS:
        assert f"chapters/{chapter.stem}" in toc, f"{chapter.name} is not in _toc.yml"
    files = [line.split("file:")[1].strip() for line in toc.splitlines() if "file:" in line]
    files.append(yaml.safe_load(toc)["root"])
    for f in files:
        assert any((ROOT / (f + ext)).exists() for ext in (".md", ".ipynb")), f"_toc.yml names missing page {f}"


def test_sphinx_renders_the_notebook_not_the_source() -> None:
    excluded = _config()["sphinx"]["config"]["exclude_patterns"]
    assert "chapters/*.py" in excluded and ".venv" in excluded and "_build" in excluded


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.name)
def test_first_cell_installs_on_colab_and_prints_about(chapter: Path) -> None:
    nb = jupytext.read(chapter)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    assert code, f"{chapter.name} has no code cell"
    first = code[0]
    repo = _config()["repository"]["url"]
    branch = _config()["repository"]["branch"]
    assert '"google.colab" in sys.modules' in first
    assert f"git+{repo}@{branch}" in first, f"{chapter.name} installs from another repository than _config.yml"
    assert "facekit.about()" in first


def test_colab_launch_is_configured() -> None:
    cfg = _config()
    assert cfg["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert cfg["repository"]["branch"] == "main"
    assert cfg["execute"]["execute_notebooks"] == "force"
