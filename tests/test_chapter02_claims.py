"""Chapter 02's prose claims only what its code computes and prints (issue 18, item 5)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

CHAPTERS = Path(__file__).resolve().parent.parent / "chapters"


def _prose(text: str) -> str:
    """The chapter's markdown text as one line (comment markers and line breaks removed)."""
    lines = [ln[2:] if ln.startswith("# ") else ln.lstrip("#") for ln in text.splitlines() if ln.startswith("#")]
    return " ".join(" ".join(lines).split())


@pytest.fixture(scope="module")
def chapter() -> str:
    return (CHAPTERS / "02_features.py").read_text()


def test_the_colour_claim_is_measured_and_printed(chapter: str) -> None:
    code = "\n".join(ln for ln in chapter.splitlines() if not ln.startswith("#"))
    assert "saturation_kept[n] = " in code and "colour_error[n] = " in code  # measured per layer
    assert 'print("colour error per layer' in code and 'print("saturation kept per layer' in code
    assert "loses more colour than the shallowest" in code and "{colour_lost}" in code  # the printed conclusion
    prose = _prose(chapter)
    assert "in our run the deeper reconstructions also lose the colours" not in prose  # the unbacked claim is gone
    assert "Where it prints `True`" in prose and "Where it prints `False`, this run does not show the effect" in prose


def test_the_summary_does_not_claim_an_unchecked_trend(chapter: str) -> None:
    prose = _prose(chapter)
    summary = prose[prose.index("## Summary"):]
    assert "the deeper the layer, the further" in summary
    assert "In CNIA's Table 1 the deeper the layer, the further" in summary  # attributed to the paper
    assert "what the `grows` and colour lines printed under the table say" in summary


def test_the_notebook_twin_holds_the_same_text(chapter: str) -> None:
    nb = json.loads((CHAPTERS / "02_features.ipynb").read_text())
    text = "\n".join("".join(cell["source"]) for cell in nb["cells"])
    for needle in ("In CNIA's Table 1 the deeper the layer", "saturation_kept[n] = ", "Where it prints `False`"):
        assert needle in text
