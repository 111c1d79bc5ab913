r"""Colour: RGB <-> YCbCr (ITU-R BT.601) and the least-squares 3x3 colour transfer of CNIA eq. (10).

CNIA sec. 3.3, "Transforming the Color of Generated Face": images generated through VGG-Face features lose their
colour, so the generated face :math:`t` is mapped into the colour space of the reference face :math:`y` by a linear
map of YCbCr pixels,

.. math::  f(\mathbf{x}) = \mathbf{A}\mathbf{x}, \qquad \mathbf{x} = (x_y; x_{cb}; x_{cr}),
           \quad \mathbf{A} \in \mathbb{R}^{3 \times 3}                                    \qquad \text{(10)}

fitted by least squares, :math:`\min_A \|Y' - A X'\|_F^2`, on 1,000 pixels sampled from "the central part" of
:math:`t` (:math:`X'`, 3x1000) and the pixels at the same places in :math:`y` (:math:`Y'`). What we implement, and
where the paper is loose:

* **No offset term**: eq. (10) is linear, ``A x`` (no ``+ b``). In YCbCr with chroma centred on 0.5 the map can
  still shift colours a little, because Cb and Cr are never near 0.
* **The solution**: the paper prints :math:`A = (X'^T X')^{-1} X' Y'`, which does not type-check for 3x1000
  matrices; it is the normal equations written for pixels in *rows*. With pixels as columns the least-squares
  solution is :math:`A = Y' X'^T (X' X'^T)^{-1}`, which is what :func:`fit_color_matrix` computes (in float64).
* **"Central part"**: not defined in the paper. We sample from the central ``center_fraction`` (default 0.5) of
  the height and of the width, i.e. the middle quarter of the area, where an aligned face has skin, eyes and mouth
  and little background. Sampling is without replacement; all central pixels are used when there are fewer than
  ``num_samples``.
* **YCbCr**: "full-range" BT.601 as in JPEG/JFIF (:math:`Y \in [0, 1]`, chroma centred on 0.5), not the 16-235
  "studio" range of MATLAB's ``rgb2ycbcr``.

Images are RGB in [0, 1]: tensors ``(B, 3, H, W)`` (channel-first), numpy arrays ``(H, W, 3)`` (channel-last).

Example:
    >>> import torch
    >>> from facekit.color import color_transfer
    >>> gen, ref = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64)
    >>> color_transfer(gen, ref).shape
    torch.Size([1, 3, 64, 64])
"""

from __future__ import annotations

from typing import Optional, Union

import numpy as np
import torch
from torch import nn

from facekit.checks import as_float_image, check_pixel_range

__all__ = [
    "RGB_TO_YCBCR",
    "YCBCR_TO_RGB",
    "YCBCR_OFFSET",
    "rgb_to_ycbcr",
    "ycbcr_to_rgb",
    "RgbToYcbcr",
    "YcbcrToRgb",
    "center_pixel_indices",
    "fit_color_matrix",
    "apply_color_matrix",
    "color_transfer",
    "ColorTransfer",
]

_KR, _KB = 0.299, 0.114  # ITU-R BT.601 luma weights of R and B
_KG = 1.0 - _KR - _KB

RGB_TO_YCBCR: np.ndarray = np.array(
    [
        [_KR, _KG, _KB],  # Y  = 0.299 R + 0.587 G + 0.114 B
        [-0.5 * _KR / (1 - _KB), -0.5 * _KG / (1 - _KB), 0.5],  # Cb = 0.5 (B - Y) / (1 - Kb)  (+ 0.5)
        [0.5, -0.5 * _KG / (1 - _KR), -0.5 * _KB / (1 - _KR)],  # Cr = 0.5 (R - Y) / (1 - Kr)  (+ 0.5)
    ],
    dtype=np.float64,
)
"""BT.601 full-range RGB -> YCbCr matrix (before :data:`YCBCR_OFFSET` is added)."""

YCBCR_TO_RGB: np.ndarray = np.linalg.inv(RGB_TO_YCBCR)
"""Its exact inverse: R = Y + 1.402 (Cr - 0.5), G = Y - 0.344 (Cb - 0.5) - 0.714 (Cr - 0.5),
B = Y + 1.772 (Cb - 0.5)."""

YCBCR_OFFSET: np.ndarray = np.array([0.0, 0.5, 0.5], dtype=np.float64)
"""Offsets added to (Y, Cb, Cr) for images in [0, 1] (128/255 in 8-bit JPEG is 0.5 here)."""

Image = Union[torch.Tensor, np.ndarray]


# ----------------------------------------------------------------------------------------------------------------
# RGB <-> YCbCr
# ----------------------------------------------------------------------------------------------------------------


def _convert(image: Image, matrix: np.ndarray, before: np.ndarray, after: np.ndarray) -> Image:
    """``matrix @ (pixel - before) + after`` for every pixel, channel-first tensors or channel-last arrays."""
    if isinstance(image, torch.Tensor):
        if image.ndim < 3 or image.shape[-3] != 3:
            raise ValueError(f"expected a tensor of shape (*, 3, H, W), got {tuple(image.shape)}")
        if not image.is_floating_point():
            raise TypeError(f"expected a float tensor in [0, 1], got dtype {image.dtype}")
        m = torch.as_tensor(matrix, dtype=image.dtype, device=image.device)  # (3, 3)
        b = torch.as_tensor(before, dtype=image.dtype, device=image.device).view(3, 1, 1)
        a = torch.as_tensor(after, dtype=image.dtype, device=image.device).view(3, 1, 1)
        return torch.einsum("ij,...jhw->...ihw", m, image - b) + a  # (*, 3, H, W)
    if isinstance(image, np.ndarray):
        if image.ndim < 1 or image.shape[-1] != 3:
            raise ValueError(f"expected a numpy array of shape (..., 3) (e.g. (H, W, 3)), got {image.shape}")
        arr = image.astype(np.float64) / 255.0 if image.dtype == np.uint8 else np.asarray(image, dtype=np.float64)
        out = (arr - before) @ matrix.T + after  # (..., 3)
        return out.astype(image.dtype if np.issubdtype(image.dtype, np.floating) else np.float64, copy=False)
    raise TypeError(f"expected a torch.Tensor (*, 3, H, W) or a numpy array (H, W, 3), got {type(image).__name__}")


def rgb_to_ycbcr(image: Image) -> Image:
    r"""RGB -> YCbCr, ITU-R BT.601 full range (JPEG): :math:`Y \in [0, 1]`, :math:`Cb, Cr \in [0, 1]` centred on 0.5.

    Args:
        image: RGB in [0, 1]: a float tensor ``(*, 3, H, W)``, or a numpy array ``(..., 3)`` (``uint8`` is divided
            by 255 first).

    Returns:
        YCbCr of the same layout (numpy: float, float64 for ``uint8`` input).

    Shape:
        - tensor: :math:`(*, 3, H, W)` -> :math:`(*, 3, H, W)`; numpy: :math:`(..., 3)` -> :math:`(..., 3)`

    Example:
        >>> rgb_to_ycbcr(torch.ones(1, 3, 2, 2))[0, :, 0, 0]
        tensor([1.0000, 0.5000, 0.5000])
    """
    return _convert(image, RGB_TO_YCBCR, np.zeros(3), YCBCR_OFFSET)


def ycbcr_to_rgb(image: Image) -> Image:
    """YCbCr (BT.601 full range, chroma centred on 0.5) -> RGB; the exact inverse of :func:`rgb_to_ycbcr`.

    Values are not clamped: a YCbCr triple outside the RGB cube maps outside [0, 1].

    Args:
        image: a float tensor ``(*, 3, H, W)`` or a numpy array ``(..., 3)``.

    Returns:
        RGB of the same layout.

    Example:
        >>> x = torch.rand(2, 3, 4, 4)
        >>> torch.allclose(ycbcr_to_rgb(rgb_to_ycbcr(x)), x, atol=1e-6)
        True
    """
    if isinstance(image, np.ndarray) and image.dtype == np.uint8:
        raise TypeError("ycbcr_to_rgb expects float YCbCr values in [0, 1], got uint8")
    return _convert(image, YCBCR_TO_RGB, YCBCR_OFFSET, np.zeros(3))


class RgbToYcbcr(nn.Module):
    """Module form of :func:`rgb_to_ycbcr`. Input ``(*, 3, H, W)`` RGB in [0, 1]."""

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return rgb_to_ycbcr(image)


class YcbcrToRgb(nn.Module):
    """Module form of :func:`ycbcr_to_rgb`. Input ``(*, 3, H, W)`` YCbCr."""

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return ycbcr_to_rgb(image)


# ----------------------------------------------------------------------------------------------------------------
# CNIA eq. (10): least-squares 3x3 colour transfer
# ----------------------------------------------------------------------------------------------------------------


def center_pixel_indices(
    height: int,
    width: int,
    num_samples: int = 1000,
    center_fraction: float = 0.5,
    generator: Optional[torch.Generator] = None,
) -> torch.Tensor:
    """Flat indices (``row * width + col``) of ``num_samples`` distinct pixels drawn from the image centre.

    The centre is the middle ``center_fraction`` of the rows times the middle ``center_fraction`` of the columns
    (at least one pixel each way). When it has fewer than ``num_samples`` pixels, all of them are returned.

    Args:
        height, width: image size.
        num_samples: pixels to draw (CNIA: 1,000).
        center_fraction: side of the central box as a fraction of the image side, in (0, 1].
        generator: optional ``torch.Generator`` for reproducible draws (default: the global RNG).

    Returns:
        ``(N,)`` int64 tensor, ``N = min(num_samples, pixels in the centre)``.

    Example:
        >>> idx = center_pixel_indices(8, 8, num_samples=4, center_fraction=0.5)
        >>> {int(i) // 8 for i in idx} <= {2, 3, 4, 5}  # rows of the central 4x4 box
        True
    """
    if height < 1 or width < 1:
        raise ValueError(f"image size must be positive, got {height}x{width}")
    if not 0.0 < center_fraction <= 1.0:
        raise ValueError(f"center_fraction must be in (0, 1], got {center_fraction}")
    if num_samples < 1:
        raise ValueError(f"num_samples must be >= 1, got {num_samples}")
    ch = max(1, int(round(height * center_fraction)))
    cw = max(1, int(round(width * center_fraction)))
    top, left = (height - ch) // 2, (width - cw) // 2
    pick = torch.randperm(ch * cw, generator=generator)[:num_samples]  # (N,) positions inside the central box
    rows, cols = top + pick // cw, left + pick % cw
    return rows * width + cols  # (N,)


def _check_pair(generated: torch.Tensor, reference: torch.Tensor) -> None:
    for name, x in (("generated", generated), ("reference", reference)):
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected {name} as a (B, 3, H, W) RGB tensor, got {tuple(getattr(x, 'shape', ()))}")
        check_pixel_range(x, name, tolerance=0.5)  # an optimised image may overshoot; 0-255 and NaN may not
    if generated.shape != reference.shape:
        raise ValueError(
            f"generated and reference must have the same shape (pixels correspond one to one), got "
            f"{tuple(generated.shape)} and {tuple(reference.shape)}"
        )


def fit_color_matrix(
    generated: torch.Tensor,
    reference: torch.Tensor,
    num_samples: int = 1000,
    center_fraction: float = 0.5,
    generator: Optional[torch.Generator] = None,
    ridge: float = 0.0,
) -> torch.Tensor:
    r"""Fit the 3x3 YCbCr matrix :math:`A` of CNIA eq. (10) mapping ``generated`` onto ``reference``.

    Solves :math:`\min_A \|Y' - A X'\|_F^2` on ``num_samples`` pixels from the centre (the same positions in both
    images): :math:`A = Y' X'^T (X' X'^T + \text{ridge} \cdot N \cdot I)^{-1}`, in float64. Differentiable.

    Args:
        generated: ``(B, 3, H, W)`` RGB in [0, 1], the image to recolour (CNIA's target face :math:`t`).
        reference: ``(B, 3, H, W)`` RGB in [0, 1], whose colours to match (CNIA's reference face :math:`y`).
        num_samples: pixels used for the fit (CNIA: 1000).
        center_fraction: size of the central box they are drawn from (see :func:`center_pixel_indices`).
        generator: ``torch.Generator`` for a reproducible draw.
        ridge: Tikhonov regularisation (0 = the paper's plain least squares). Use a small value (1e-4) when the
            generated image is nearly flat, e.g. a blank start, where :math:`X'X'^T` is singular.

    Returns:
        ``(B, 3, 3)`` matrices (dtype of ``generated``); apply with :func:`apply_color_matrix`.

    Raises:
        ValueError: shapes differ or are not ``(B, 3, H, W)``.
        RuntimeError: the sampled generated pixels are colinear (a flat image) and ``ridge == 0``.

    Example:
        >>> x = torch.rand(1, 3, 32, 32)
        >>> A = fit_color_matrix(x, x)
        >>> torch.allclose(A, torch.eye(3).expand(1, 3, 3), atol=1e-5)
        True
    """
    _check_pair(generated, reference)
    if ridge < 0:
        raise ValueError(f"ridge must be >= 0, got {ridge}")
    b, _, h, w = generated.shape
    idx = center_pixel_indices(h, w, num_samples, center_fraction, generator).to(generated.device)  # (N,)
    x = rgb_to_ycbcr(generated).flatten(2)[:, :, idx].double()  # (B, 3, N): X', one pixel per column
    y = rgb_to_ycbcr(reference).flatten(2)[:, :, idx].double()  # (B, 3, N): Y'
    n = x.shape[-1]
    gram = x @ x.transpose(1, 2)  # (B, 3, 3)  X' X'^T
    cross = y @ x.transpose(1, 2)  # (B, 3, 3)  Y' X'^T
    if ridge > 0:
        gram = gram + ridge * n * torch.eye(3, dtype=gram.dtype, device=gram.device)
    # A X'X'^T = Y'X'^T  <=>  (X'X'^T) A^T = (Y'X'^T)^T  (X'X'^T is symmetric)
    try:
        a_t = torch.linalg.solve(gram, cross.transpose(1, 2))  # (B, 3, 3) = A^T
    except RuntimeError as err:  # torch.linalg.LinAlgError subclasses RuntimeError
        raise RuntimeError(
            "the colour transfer's least squares is singular: the sampled pixels of the generated image span "
            "fewer than 3 colour directions (a flat image?); pass ridge=1e-4"
        ) from err
    return a_t.transpose(1, 2).to(generated.dtype)  # (B, 3, 3) = A


def apply_color_matrix(image: torch.Tensor, matrix: torch.Tensor, clamp: bool = True) -> torch.Tensor:
    """Apply CNIA eq. (10), ``f(x) = A x``, to every YCbCr pixel of an RGB image and return RGB.

    Args:
        image: ``(B, 3, H, W)`` RGB in [0, 1].
        matrix: ``(B, 3, 3)`` or ``(3, 3)`` from :func:`fit_color_matrix`.
        clamp: clamp the result to [0, 1].

    Returns:
        ``(B, 3, H, W)`` RGB.

    Example:
        >>> x = torch.rand(2, 3, 8, 8)
        >>> torch.allclose(apply_color_matrix(x, torch.eye(3)), x, atol=1e-6)
        True
    """
    if not isinstance(image, torch.Tensor) or image.ndim != 4 or image.shape[1] != 3:
        raise ValueError(f"expected image as a (B, 3, H, W) RGB tensor, got {tuple(getattr(image, 'shape', ()))}")
    a = torch.as_tensor(matrix, dtype=image.dtype, device=image.device)
    if a.shape == (3, 3):
        a = a.expand(image.shape[0], 3, 3)
    if a.shape != (image.shape[0], 3, 3):
        raise ValueError(f"expected a (3, 3) or ({image.shape[0]}, 3, 3) matrix, got {tuple(a.shape)}")
    ycc = rgb_to_ycbcr(image)  # (B, 3, H, W)
    out = ycbcr_to_rgb(torch.einsum("bij,bjhw->bihw", a, ycc))  # CNIA eq. (10): f(x) = A x, per pixel
    return out.clamp(0.0, 1.0) if clamp else out


def color_transfer(
    generated: Image,
    reference: Image,
    num_samples: int = 1000,
    center_fraction: float = 0.5,
    generator: Optional[torch.Generator] = None,
    ridge: float = 0.0,
    clamp: bool = True,
) -> Image:
    """Recolour ``generated`` like ``reference``: fit CNIA eq. (10) on central pixels, apply it to all pixels.

    Args:
        generated: ``(B, 3, H, W)`` tensor, or an ``(H, W, 3)`` numpy array (``uint8`` or float in [0, 1]).
        reference: same type and shape as ``generated``.
        num_samples, center_fraction, generator, ridge: see :func:`fit_color_matrix`.
        clamp: clamp the result to [0, 1].

    Returns:
        The recoloured image, same type and shape as ``generated`` (numpy ``uint8`` stays ``uint8``).

    Example:
        >>> import numpy as np
        >>> g = np.random.default_rng(0).random((32, 32, 3))
        >>> color_transfer(g, g).shape
        (32, 32, 3)
    """
    if isinstance(generated, np.ndarray):
        if not isinstance(reference, np.ndarray) or generated.shape != reference.shape:
            raise ValueError("generated and reference must be numpy arrays of the same (H, W, 3) shape")
        if generated.ndim != 3 or generated.shape[2] != 3:
            raise ValueError(f"expected (H, W, 3) numpy images, got {generated.shape}")

        def to_t(a: np.ndarray, name: str) -> torch.Tensor:
            return torch.from_numpy(as_float_image(a, name, tolerance=0.5)).permute(2, 0, 1)[None]  # (1, 3, H, W)

        out = (
            color_transfer(to_t(generated, "generated"), to_t(reference, "reference"), num_samples, center_fraction, generator, ridge, clamp)[0]
            .permute(1, 2, 0)
            .numpy()
        )  # (H, W, 3)
        if generated.dtype == np.uint8:
            return np.round(np.clip(out, 0, 1) * 255).astype(np.uint8)
        return out.astype(generated.dtype)
    matrix = fit_color_matrix(generated, reference, num_samples, center_fraction, generator, ridge)
    return apply_color_matrix(generated, matrix, clamp)


class ColorTransfer(nn.Module):
    """Module form of :func:`color_transfer` (CNIA eq. (10)); it has no learnable parameters.

    Args:
        num_samples: pixels used for the fit (CNIA: 1000).
        center_fraction: side of the central sampling box as a fraction of the image side.
        ridge: Tikhonov regularisation of the fit (0 = plain least squares).
        clamp: clamp the output to [0, 1].
        seed: seed of the pixel draw, so every call samples the same pixels (``None``: the global RNG).

    Shape:
        - generated, reference: :math:`(B, 3, H, W)` RGB in [0, 1]
        - output: :math:`(B, 3, H, W)`

    Example:
        >>> ct = ColorTransfer(seed=0)
        >>> ct(torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)).shape
        torch.Size([2, 3, 16, 16])
    """

    def __init__(
        self,
        num_samples: int = 1000,
        center_fraction: float = 0.5,
        ridge: float = 0.0,
        clamp: bool = True,
        seed: Optional[int] = 0,
    ) -> None:
        super().__init__()
        self.num_samples = num_samples
        self.center_fraction = center_fraction
        self.ridge = ridge
        self.clamp = clamp
        self.seed = seed

    def forward(self, generated: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        gen = None if self.seed is None else torch.Generator().manual_seed(self.seed)
        return color_transfer(generated, reference, self.num_samples, self.center_fraction, gen, self.ridge, self.clamp)

    def extra_repr(self) -> str:
        return (
            f"num_samples={self.num_samples}, center_fraction={self.center_fraction}, ridge={self.ridge}, "
            f"clamp={self.clamp}, seed={self.seed}"
        )
