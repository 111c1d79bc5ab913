"""Tests of facekit.color: BT.601 YCbCr and the least-squares colour transfer of CNIA eq. (10)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facekit.color import (
    RGB_TO_YCBCR,
    ColorTransfer,
    RgbToYcbcr,
    YcbcrToRgb,
    apply_color_matrix,
    center_pixel_indices,
    color_transfer,
    fit_color_matrix,
    rgb_to_ycbcr,
    ycbcr_to_rgb,
)

# A colour map close to what CNIA eq. (10) has to learn: mostly identity, some cross-talk.
A_TRUE = torch.tensor(
    [[0.9, 0.05, -0.02], [0.03, 1.1, 0.04], [-0.05, 0.02, 0.95]],
    dtype=torch.float64,
)


def _pair(dtype: torch.dtype = torch.float64, b: int = 2, h: int = 40, w: int = 36) -> tuple[torch.Tensor, ...]:
    """A generated image and a reference that is exactly A_TRUE applied to it in YCbCr."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(b, 3, h, w, generator=g, dtype=torch.float64) * 0.6 + 0.2  # YCbCr, away from the cube's edges
    y = torch.einsum("ij,bjhw->bihw", A_TRUE, x)
    return ycbcr_to_rgb(x).to(dtype), ycbcr_to_rgb(y).to(dtype)


# --------------------------------------------------------------------------------------------------------------
# RGB <-> YCbCr
# --------------------------------------------------------------------------------------------------------------


def test_ycbcr_known_values() -> None:
    rgb = torch.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]).T[None, :, :, None]
    ycc = rgb_to_ycbcr(rgb)[0, :, :, 0].T  # (4, 3)
    expected = torch.tensor(
        [[1.0, 0.5, 0.5], [0.0, 0.5, 0.5], [0.299, 0.5 - 0.168736, 1.0], [0.114, 1.0, 0.5 - 0.081312]]
    )
    assert torch.allclose(ycc, expected, atol=1e-6)
    assert np.allclose(RGB_TO_YCBCR.sum(axis=1), [1.0, 0.0, 0.0])  # grey has no chroma


def test_ycbcr_matches_pillow() -> None:
    Image = pytest.importorskip("PIL.Image")  # Pillow's "YCbCr" mode is JPEG's full-range BT.601
    rgb = np.random.default_rng(1).integers(0, 256, size=(16, 16, 3), dtype=np.uint8)
    ref = np.asarray(Image.fromarray(rgb).convert("YCbCr"), dtype=np.float64)
    ours = rgb_to_ycbcr(rgb) * 255.0
    assert np.abs(ours - ref).max() <= 1.0  # Pillow rounds to integers


@pytest.mark.parametrize("dtype,atol", [(torch.float32, 1e-6), (torch.float64, 1e-12)])
def test_ycbcr_round_trip_torch(dtype: torch.dtype, atol: float) -> None:
    x = torch.rand(2, 5, 3, 7, 9, dtype=dtype)  # any leading dims
    ycc = rgb_to_ycbcr(x)
    assert ycc.shape == x.shape and ycc.dtype == dtype
    assert torch.allclose(ycbcr_to_rgb(ycc), x, atol=atol)
    assert torch.allclose(YcbcrToRgb()(RgbToYcbcr()(x)), x, atol=atol)


def test_ycbcr_numpy_channel_last_matches_torch() -> None:
    img = np.random.default_rng(0).random((6, 8, 3))
    ycc = rgb_to_ycbcr(img)
    assert ycc.shape == (6, 8, 3) and ycc.dtype == np.float64
    ycc_t = rgb_to_ycbcr(torch.from_numpy(img).permute(2, 0, 1)).permute(1, 2, 0).numpy()
    assert np.allclose(ycc, ycc_t)
    assert np.allclose(ycbcr_to_rgb(ycc), img, atol=1e-12)
    assert np.allclose(rgb_to_ycbcr((img * 255).round().astype(np.uint8)), rgb_to_ycbcr((img * 255).round() / 255))


def test_ycbcr_errors() -> None:
    with pytest.raises(ValueError, match=r"\(\*, 3, H, W\)"):
        rgb_to_ycbcr(torch.rand(1, 4, 8, 8))
    with pytest.raises(TypeError, match="float"):
        rgb_to_ycbcr(torch.zeros(1, 3, 2, 2, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        rgb_to_ycbcr(np.zeros((3, 8, 8)))
    with pytest.raises(TypeError):
        rgb_to_ycbcr([0.1, 0.2, 0.3])


def test_ycbcr_gradient() -> None:
    x = torch.rand(1, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(rgb_to_ycbcr, (x,))


# --------------------------------------------------------------------------------------------------------------
# CNIA eq. (10)
# --------------------------------------------------------------------------------------------------------------


def test_fit_recovers_known_matrix_exactly() -> None:
    gen, ref = _pair(torch.float64)
    a = fit_color_matrix(gen, ref, generator=torch.Generator().manual_seed(0))
    assert a.shape == (2, 3, 3) and a.dtype == torch.float64
    assert torch.allclose(a, A_TRUE.expand(2, 3, 3), atol=1e-10)


def test_fit_recovers_known_matrix_float32() -> None:
    gen, ref = _pair(torch.float32)
    a = fit_color_matrix(gen, ref)
    assert a.dtype == torch.float32
    assert torch.allclose(a, A_TRUE.float().expand(2, 3, 3), atol=1e-4)


def test_transfer_reproduces_reference() -> None:
    gen, ref = _pair(torch.float64)
    out = color_transfer(gen, ref, clamp=False)
    assert out.shape == gen.shape
    assert torch.allclose(out, ref, atol=1e-9)
    assert torch.allclose(apply_color_matrix(gen, A_TRUE, clamp=False), ref, atol=1e-12)


def test_fit_uses_only_the_centre() -> None:
    gen, ref = _pair(torch.float64, b=1, h=40, w=40)
    spoiled = ref.clone()
    border = torch.ones(40, 40, dtype=torch.bool)
    border[10:30, 10:30] = False  # the central half of each side is kept
    spoiled[:, :, border] = torch.rand(int(border.sum()), dtype=torch.float64)
    a = fit_color_matrix(gen, spoiled, center_fraction=0.5)
    assert torch.allclose(a[0], A_TRUE, atol=1e-10)
    assert not torch.allclose(fit_color_matrix(gen, spoiled, center_fraction=1.0)[0], A_TRUE, atol=1e-3)


def test_center_pixel_indices() -> None:
    g = torch.Generator().manual_seed(3)
    idx = center_pixel_indices(100, 80, num_samples=1000, center_fraction=0.5, generator=g)
    assert idx.shape == (1000,) and idx.dtype == torch.int64
    assert len(set(idx.tolist())) == 1000  # without replacement
    rows, cols = idx // 80, idx % 80
    assert rows.min() >= 25 and rows.max() < 75 and cols.min() >= 20 and cols.max() < 60
    assert center_pixel_indices(10, 10, num_samples=1000).shape == (25,)  # fewer central pixels: all of them
    a = center_pixel_indices(50, 50, generator=torch.Generator().manual_seed(1))
    b = center_pixel_indices(50, 50, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="center_fraction"):
        center_pixel_indices(10, 10, center_fraction=0.0)


def test_transfer_gradients() -> None:
    gen, ref = _pair(torch.float64, b=1, h=6, w=6)
    gen.requires_grad_(True)

    def f(g: torch.Tensor) -> torch.Tensor:
        return color_transfer(g, ref, num_samples=9, generator=torch.Generator().manual_seed(0), clamp=False)

    assert torch.autograd.gradcheck(f, (gen,))
    out = color_transfer(gen, ref)
    out.mean().backward()
    assert gen.grad is not None and gen.grad.shape == gen.shape and torch.isfinite(gen.grad).all()


def test_flat_image_needs_ridge() -> None:
    flat = torch.full((1, 3, 16, 16), 0.5)
    ref = torch.rand(1, 3, 16, 16)
    with pytest.raises(RuntimeError, match="ridge"):
        fit_color_matrix(flat, ref)
    out = color_transfer(flat, ref, ridge=1e-4)
    assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


def test_transfer_shape_errors() -> None:
    with pytest.raises(ValueError, match="same shape"):
        fit_color_matrix(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 9))
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        fit_color_matrix(torch.rand(3, 8, 8), torch.rand(3, 8, 8))
    with pytest.raises(ValueError, match="matrix"):
        apply_color_matrix(torch.rand(2, 3, 8, 8), torch.eye(4))


def test_numpy_and_module() -> None:
    gen, ref = _pair(torch.float64, b=1)
    g_np = (gen[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255).round().astype(np.uint8)
    r_np = (ref[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255).round().astype(np.uint8)
    out = color_transfer(g_np, r_np)
    assert out.shape == g_np.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - r_np.astype(int)).mean() < np.abs(g_np.astype(int) - r_np.astype(int)).mean()
    ct = ColorTransfer(seed=0)
    assert "num_samples=1000" in repr(ct)
    assert torch.equal(ct(gen, ref), ct(gen, ref))  # same seed, same pixels
