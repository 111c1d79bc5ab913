"""Figures for the chapters: image grids, before/after rows, loss curves and landmark overlays.

Every function takes images as numpy ``(H, W, 3)`` uint8 / float arrays or torch ``(3, H, W)`` / ``(B, 3, H, W)``
tensors in [0, 1], draws with matplotlib, and returns the ``Figure`` so a chapter can save or restyle it.

Example:
    >>> import numpy as np
    >>> from facekit.viz import image_grid
    >>> fig = image_grid([np.zeros((8, 8, 3), np.uint8)] * 4, ncols=2)
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence, Union

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from facekit.checks import as_float_image, check_pixel_range
from facekit.landmarks import IBUG68_GROUPS

ImageLike = Union[np.ndarray, torch.Tensor]

__all__ = ["to_numpy_image", "image_grid", "before_after", "loss_curves", "show_landmarks", "markdown_table"]


def to_numpy_image(image: ImageLike) -> np.ndarray:
    """Convert one image to an ``(H, W, 3)`` float array in [0, 1] for plotting.

    Accepts numpy ``(H, W, 3)`` / ``(H, W)`` (uint8 0-255 or float 0-1) and torch ``(3, H, W)`` / ``(1, 3, H, W)``
    tensors (float in [0, 1], or uint8 in 0-255); gradients and devices are handled. Floats a little outside
    [0, 1] (an optimised image) are clipped; far outside (a 0-255 float image, which would plot as a white square)
    or NaN is an error.

    Raises:
        ValueError: the array is not a single image of one of those shapes, or its values are not pixels.
    """
    if isinstance(image, torch.Tensor):
        t = image.detach().cpu()
        if t.dim() == 4 and t.shape[0] == 1:
            t = t[0]
        if t.dim() != 3 or t.shape[0] not in (1, 3):
            raise ValueError(f"expected a (3, H, W) or (1, 3, H, W) tensor, got shape {tuple(image.shape)}")
        t = t.float() / 255.0 if t.dtype == torch.uint8 else t
        check_pixel_range(t, "image", tolerance=0.5)
        arr = t.permute(1, 2, 0).float().numpy()
    elif isinstance(image, np.ndarray):
        arr = image
        if arr.ndim == 2:
            arr = arr[..., None]
        if arr.ndim != 3 or arr.shape[2] not in (1, 3):
            raise ValueError(f"expected an (H, W, 3) or (H, W) array, got shape {image.shape}")
        arr = as_float_image(arr, "image", tolerance=0.5).astype(np.float32)
    else:
        raise ValueError(f"expected a numpy array or torch tensor, got {type(image).__name__}")
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    return np.clip(arr, 0.0, 1.0)


def _as_list(images: Union[Sequence[ImageLike], torch.Tensor]) -> list[ImageLike]:
    if isinstance(images, torch.Tensor) and images.dim() == 4:
        return list(images)
    return list(images)


def image_grid(
    images: Union[Sequence[ImageLike], torch.Tensor],
    ncols: int = 8,
    titles: Optional[Sequence[str]] = None,
    row_labels: Optional[Sequence[str]] = None,
    cell_size: float = 1.4,
    suptitle: Optional[str] = None,
) -> Figure:
    """Draw images in a grid, row by row.

    Args:
        images: a sequence of images, or a ``(B, 3, H, W)`` tensor.
        ncols: images per row.
        titles: one title per image (optional).
        row_labels: one label per row, written left of the row (optional).
        cell_size: inches per image.
        suptitle: a title over the whole figure.
    """
    items = _as_list(images)
    if not items:
        raise ValueError("image_grid needs at least one image")
    if ncols < 1:
        raise ValueError(f"ncols must be >= 1, got {ncols}")
    ncols = min(ncols, len(items))
    nrows = -(-len(items) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(cell_size * ncols, cell_size * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
        if i < len(items):
            ax.imshow(to_numpy_image(items[i]))
            if titles is not None and i < len(titles):
                ax.set_title(titles[i], fontsize=8)
    if row_labels is not None:
        for r, label in enumerate(row_labels[:nrows]):
            axes[r, 0].set_ylabel(label, fontsize=8)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def before_after(
    before: Union[Sequence[ImageLike], torch.Tensor],
    after: Union[Sequence[ImageLike], torch.Tensor],
    labels: tuple[str, str] = ("input", "edited"),
    target: Optional[Union[Sequence[ImageLike], torch.Tensor]] = None,
    target_label: str = "counterfactual",
) -> Figure:
    """Rows of input / result (/ target) pairs, one column per example."""
    rows = [_as_list(before), _as_list(after)]
    names = list(labels)
    if target is not None:
        rows.append(_as_list(target))
        names.append(target_label)
    n = len(rows[0])
    if any(len(r) != n for r in rows):
        raise ValueError(f"before/after/target must hold the same number of images, got {[len(r) for r in rows]}")
    return image_grid([img for row in rows for img in row], ncols=n, row_labels=names)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> Any:
    """A Markdown table from a header and rows, for a notebook to ``display`` (cells are formatted by the caller).

    Args:
        header: the column titles.
        rows: one sequence of cells per row, each as long as ``header``.

    Returns:
        an ``IPython.display.Markdown`` (rendered in notebooks and in the book), or the Markdown string when IPython
        is not installed.

    Raises:
        ValueError: a row whose length differs from the header's.

    Example:
        >>> print(markdown_table(["layer", "error"], [["conv3_1", "1.2e3"]]).data)
        | layer | error |
        |---|---|
        | conv3_1 | 1.2e3 |
    """
    header = [str(h) for h in header]
    for i, row in enumerate(rows):
        if len(row) != len(header):
            raise ValueError(f"row {i} has {len(row)} cells; the header has {len(header)}")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    text = "\n".join(lines)
    try:
        from IPython.display import Markdown
    except ImportError:  # pragma: no cover - IPython ships with every notebook environment
        return text
    return Markdown(text)


def loss_curves(
    history: Mapping[str, Sequence[float]],
    logy: bool = True,
    xlabel: str = "step",
    title: Optional[str] = None,
) -> Figure:
    """Plot one curve per named loss term (a dict name -> values per step)."""
    if not history:
        raise ValueError("loss_curves needs at least one named series")
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for name, values in history.items():
        ax.plot(np.arange(len(values)), np.asarray(values, dtype=float), label=name)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def show_landmarks(
    image: ImageLike,
    landmarks: np.ndarray,
    visible: Optional[np.ndarray] = None,
    ax: Optional[plt.Axes] = None,
    connect: bool = True,
    size: float = 6.0,
) -> plt.Axes:
    """Overlay 68 iBUG landmarks (pixel coordinates) on an image, one colour per facial part.

    Hidden points (``visible`` False) are drawn hollow.
    """
    pts = np.asarray(landmarks, dtype=float)
    if pts.shape != (68, 2):
        raise ValueError(f"expected landmarks of shape (68, 2), got {pts.shape}")
    vis = np.ones(68, bool) if visible is None else np.asarray(visible, bool)
    if ax is None:
        _, ax = plt.subplots(figsize=(3, 3))
    ax.imshow(to_numpy_image(image))
    colours = plt.get_cmap("tab10")
    for k, (name, idx) in enumerate(IBUG68_GROUPS.items()):
        group = np.asarray(idx)
        c = colours(k % 10)
        if connect:
            closed = name in ("right_eye", "left_eye", "outer_lip", "inner_lip")
            line = np.concatenate([group, group[:1]]) if closed else group
            ax.plot(pts[line, 0], pts[line, 1], "-", color=c, lw=0.8, alpha=0.8)
        v = group[vis[group]]
        h = group[~vis[group]]
        ax.scatter(pts[v, 0], pts[v, 1], s=size, color=c, label=name)
        ax.scatter(pts[h, 0], pts[h, 1], s=size, facecolors="none", edgecolors=[c])
    ax.set_xticks([])
    ax.set_yticks([])
    return ax
