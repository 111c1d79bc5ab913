"""The benchmark's figures: the Pareto view and the per-edit galleries (chapter 7 shows both).

* :func:`pareto_figure`: attribute success against identity kept, one point per (method, edit), one colour per
  method, marker area growing with the seconds per image (log scale); the ideal corner is top right.
* :func:`gallery_figure`: one edit, every method side by side on the same input faces (the first images kept in
  each cell), with the exact counterfactual where there is one.

Example:
    >>> from facekit.bench import run_benchmark                      # doctest: +SKIP
    >>> res = run_benchmark(["copy", "diat_a"], ["mouth_open"], n=2)  # doctest: +SKIP
    >>> fig = pareto_figure(res)                                      # doctest: +SKIP
"""

from __future__ import annotations

import math
from typing import Any, List, Optional

import numpy as np

from facekit.bench.methods import METHODS
from facekit.bench.runner import BenchResult

__all__ = ["marker_area", "pareto_figure", "gallery_figure"]


def marker_area(seconds_per_image: float) -> float:
    """Marker area (points^2) for a time per image: 20 at 1e-5 s or less, +30 per decade (log scale)."""
    s = max(float(seconds_per_image), 1e-5) if math.isfinite(seconds_per_image) else 1e-5
    return 20.0 + 30.0 * (math.log10(s) + 5.0)


def pareto_figure(result: BenchResult, ax: Any = None, annotate: bool = True) -> Any:
    """Attribute success (y) against identity kept (x) for every attribute edit scored.

    Args:
        result: a :class:`~facekit.bench.runner.BenchResult`.
        ax: a matplotlib axis (default: a new figure).
        annotate: write the edit's name beside each point (not for the copy baseline and the ceiling).

    Returns:
        the matplotlib figure.

    Raises:
        ValueError: no cell has both figures (e.g. real photos without an attribute judge).
    """
    import matplotlib.pyplot as plt

    points = [(m, e, c.row) for (m, e), c in result.cells.items()
              if all(isinstance(c.row.get(k), float) and math.isfinite(c.row[k])
                     for k in ("attribute_success", "identity_kept"))]
    if not points:
        raise ValueError("no cell has both attribute success and identity kept (attributes not judged here?)")
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 5))
    fig = ax.figure
    colours = plt.get_cmap("tab10")
    for i, m in enumerate(result.methods):
        mine = [(e, r) for mm, e, r in points if mm == m]
        if not mine:
            continue
        x = [r["identity_kept"] for _, r in mine]
        y = [r["attribute_success"] for _, r in mine]
        s = [marker_area(r["seconds_per_image"]) for _, r in mine]
        ax.scatter(x, y, s=s, color=colours(i % 10), alpha=0.7, edgecolors="k", linewidths=0.5,
                   label=METHODS[m].label)
        if annotate and m not in ("copy", "counterfactual"):  # the baselines sit in the corners
            for (e, _), xi, yi in zip(mine, x, y):
                ax.annotate(e, (xi, yi), fontsize=6, xytext=(3, 3), textcoords="offset points")
    for sec in (1e-4, 1e-2, 1.0):  # a key for the marker size
        ax.scatter([], [], s=marker_area(sec), color="grey", alpha=0.4, label=f"{sec:g} s / image")
    ax.set_xlim(-0.05, 1.05)
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel("identity kept (judge)")
    ax.set_ylabel("attribute success (judge)")
    ax.set_title(f"{result.data}: {result.n} faces per edit; marker area = seconds per image (log)")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    return fig


def gallery_figure(result: BenchResult, edit: str, k: int = 3, cell_size: float = 1.1) -> Any:
    """Every method that did ``edit`` on the same ``k`` inputs: input, outputs, counterfactual (if any).

    Args:
        result: a :class:`~facekit.bench.runner.BenchResult`.
        edit: one of its edits.
        k: faces (rows), at most :data:`~facekit.bench.runner.GALLERY`.
        cell_size: inches per image.

    Returns:
        the matplotlib figure.

    Raises:
        ValueError: ``edit`` was not run, or no method did it.
    """
    import torch

    from facekit.viz import image_grid

    if edit not in result.edits:
        raise ValueError(f"edit {edit!r} is not in this result; it has: {', '.join(result.edits)}")
    cells = [(m, result.cell(m, edit)) for m in result.methods if m != "counterfactual"]
    cells = [(m, c) for m, c in cells if c is not None and "output" in c.images]
    if not cells:
        raise ValueError(f"no method of this result did {edit!r}")
    first = cells[0][1].images
    truth = None
    cf = result.cell("counterfactual", edit)
    if cf is not None and "output" in cf.images:
        truth = cf.images["output"]
    elif "counterfactual" in first:
        truth = first["counterfactual"]
    k = min(k, len(first["input"]))
    as_t = lambda a: torch.from_numpy(np.ascontiguousarray(a)).float() / 255  # noqa: E731 - (C, H, W) uint8
    titles: List[str] = ["input"] + [METHODS[m].label for m, _ in cells] + (["truth"] if truth is not None else [])
    images = []
    for i in range(k):
        images.append(as_t(first["input"][i]))
        images += [as_t(c.images["output"][i]) for _, c in cells]
        if truth is not None:
            images.append(as_t(truth[i]))
    return image_grid(images, ncols=len(titles), titles=titles * k, cell_size=cell_size,
                      suptitle=f"{edit}: every method on the same faces")
