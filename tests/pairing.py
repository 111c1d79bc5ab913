"""The pairing check: each chapters/NN_name.py (py:percent, the source) has an .ipynb twin with the same cells.

nbval runs the .ipynb while authors edit the .py, so a pair that drifts apart would test code nobody reads.
``check_pairs(folder)`` returns a list of problems (empty when every pair is in sync); the test suite runs it on
``chapters/`` and on deliberately broken pairs.
"""

from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat


def _cells(nb: nbformat.NotebookNode) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source.strip()) for c in nb.cells if c.source.strip() or c.cell_type != "raw"]


def check_pairs(folder: Path) -> list[str]:
    """Return the problems with the .py/.ipynb chapter pairs in ``folder`` (empty list: all in sync).

    A problem is a .py without its .ipynb (or the reverse), a differing number of cells, a cell whose type or
    source differs, or an .ipynb that carries outputs (they must be stripped; the book executes the chapters).
    """
    problems: list[str] = []
    sources = sorted(p for p in folder.glob("[0-9]*.py"))
    notebooks = sorted(p for p in folder.glob("[0-9]*.ipynb"))
    for nb_path in notebooks:
        if not nb_path.with_suffix(".py").exists():
            problems.append(f"{nb_path.name}: no {nb_path.with_suffix('.py').name} source beside it")
    for py in sources:
        twin = py.with_suffix(".ipynb")
        if not twin.exists():
            problems.append(f"{py.name}: missing its twin {twin.name} (run `jupytext --sync {py}`)")
            continue
        expected = _cells(jupytext.read(py))
        nb = nbformat.read(twin, as_version=4)
        actual = _cells(nb)
        hint = f"run `jupytext --sync {py}` and commit both files"
        if len(expected) != len(actual):
            problems.append(f"{py.name} has {len(expected)} cells, {twin.name} has {len(actual)}: {hint}")
            continue
        for i, (want, got) in enumerate(zip(expected, actual)):
            if want != got:
                problems.append(f"{py.name} and {twin.name} differ in cell {i} ({want[0]} vs {got[0]}): {hint}")
                break
        if any(c.get("outputs") for c in nb.cells if c.cell_type == "code"):
            problems.append(f"{twin.name} carries outputs; strip them (`jupytext --sync` writes none)")
    return problems
