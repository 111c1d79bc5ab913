"""facekit.viz draws what it is given and refuses what is not an image."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from facekit import viz


def test_to_numpy_image_accepts_common_layouts() -> None:
    u8 = np.full((4, 5, 3), 255, np.uint8)
    assert viz.to_numpy_image(u8).max() == 1.0
    t = torch.rand(3, 4, 5, requires_grad=True)
    out = viz.to_numpy_image(t)
    assert out.shape == (4, 5, 3) and np.allclose(out, t.detach().permute(1, 2, 0).numpy())
    assert viz.to_numpy_image(torch.rand(1, 3, 4, 5)).shape == (4, 5, 3)
    assert viz.to_numpy_image(np.zeros((4, 5))).shape == (4, 5, 3)


@pytest.mark.parametrize("bad", [np.zeros((4, 5, 4)), torch.rand(2, 3, 4, 5), [1, 2, 3]])
def test_to_numpy_image_rejects_non_images(bad: object) -> None:
    with pytest.raises(ValueError, match="expected"):
        viz.to_numpy_image(bad)  # type: ignore[arg-type]


def test_grid_and_before_after_shapes() -> None:
    fig = viz.image_grid(torch.rand(6, 3, 8, 8), ncols=4, titles=list("abcdef"), row_labels=["r0", "r1"])
    assert len(fig.axes) == 8
    plt.close(fig)
    fig = viz.before_after(torch.rand(3, 3, 8, 8), torch.rand(3, 3, 8, 8), target=torch.rand(3, 3, 8, 8))
    assert len(fig.axes) == 9
    plt.close(fig)
    with pytest.raises(ValueError, match="same number"):
        viz.before_after(torch.rand(3, 3, 8, 8), torch.rand(2, 3, 8, 8))
    with pytest.raises(ValueError, match="at least one"):
        viz.image_grid([])


def test_loss_curves_and_landmarks() -> None:
    fig = viz.loss_curves({"identity": [3, 2, 1], "attribute": [1, 0.5, 0.2]})
    assert len(fig.axes[0].lines) == 2
    plt.close(fig)
    ax = viz.show_landmarks(np.zeros((16, 16, 3), np.uint8), np.random.rand(68, 2) * 16)
    assert ax.collections
    plt.close("all")
    with pytest.raises(ValueError, match=r"\(68, 2\)"):
        viz.show_landmarks(np.zeros((16, 16, 3), np.uint8), np.zeros((5, 2)))


def test_markdown_table_rows_and_errors() -> None:
    from facekit.viz import markdown_table

    out = markdown_table(["a", "b"], [[1, "x"], [2.5, "y"]])
    text = getattr(out, "data", out)
    assert text.splitlines() == ["| a | b |", "|---|---|", "| 1 | x |", "| 2.5 | y |"]
    with pytest.raises(ValueError, match="row 1 has 1 cells; the header has 2"):
        markdown_table(["a", "b"], [[1, 2], [3]])
