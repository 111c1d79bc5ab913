"""Pixel metrics: MSE, L1, PSNR and SSIM, optionally inside a mask.

Every editing chapter compares an edited image with a reference (on SynthFaces, the exact counterfactual: the
same person rendered with the attribute). These are the comparisons, written once:

* :func:`mse` and :func:`l1`: the mean squared / absolute error per image, over the pixels of a mask if given;
* :func:`psnr`: peak signal-to-noise ratio, :math:`10 \\log_{10}(L^2 / \\mathrm{MSE})` with :math:`L` the data
  range (1 for images in ``[0, 1]``); the same figure as ``skimage.metrics.peak_signal_noise_ratio``;
* :func:`ssim`: the structural similarity of Wang et al. (IEEE TIP 2004) with their settings: an 11x11 Gaussian
  window of standard deviation 1.5, :math:`K_1 = 0.01, K_2 = 0.03`, averaged over the pixels whose window lies
  inside the image and over the three channels. SSIM is not what the course teaches, so it is scikit-image's
  ``structural_similarity(a, b, data_range=1, channel_axis=-1, gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False)`` run per image on the CPU (a score, not a loss: no gradient). Note that
  scikit-image's *default* (a 7x7 uniform window, sample covariance) gives a slightly different number: say which
  one you report.

Images are ``(B, 3, H, W)`` tensors in ``[0, 1]``. Masks are ``(B, 1, H, W)``, ``(B, H, W)``, ``(1, 1, H, W)`` or
``(H, W)``, bool or float; a pixel is *inside* where the mask is greater than 0.5. ``reduction`` is ``"mean"``
(over the batch, the default), ``"sum"`` or ``"none"`` (one value per image, shape ``(B,)``); an image whose mask is
empty has no masked error, and gets ``nan`` (``"mean"`` then averages over the other images).

Example:
    >>> import torch
    >>> a = torch.zeros(1, 3, 16, 16); b = a + 0.1
    >>> round(float(psnr(a, b)), 3)
    20.0
    >>> round(float(ssim(a, a)), 3)
    1.0
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from facekit.nn.features import check_image

__all__ = ["check_pair", "as_mask", "mse", "l1", "psnr", "ssim"]

_REDUCTIONS = ("mean", "sum", "none")

RANGE_TOLERANCE = 1e-3
"""How far outside ``[0, 1]`` an image given to :mod:`facekit.eval` may lie (clamp edits with ``x.clamp(0, 1)``)."""


def check_pair(a: Tensor, b: Tensor, names: tuple[str, str] = ("input", "target")) -> None:
    """Check that ``a`` and ``b`` are batches of RGB images in ``[0, 1]`` of the same shape.

    Raises:
        TypeError: one of them is not a floating-point tensor.
        ValueError: a shape is not ``(B, 3, H, W)``, the shapes differ, the batch is empty (a metric of no image
            would be nan), or values lie outside ``[0, 1]``.
    """
    check_image(a, name=names[0], tolerance=RANGE_TOLERANCE)
    check_image(b, name=names[1], tolerance=RANGE_TOLERANCE)
    if a.shape != b.shape:
        raise ValueError(f"{names[0]} and {names[1]} must have the same shape; got {tuple(a.shape)} and {tuple(b.shape)}")
    if a.shape[0] == 0 or a.shape[2] == 0 or a.shape[3] == 0:
        raise ValueError(f"{names[0]} and {names[1]} hold no pixels (shape {tuple(a.shape)}): nothing to measure")


def as_mask(mask: Tensor, images: Tensor, name: str = "mask") -> Tensor:
    """Bring a mask to ``(B, 1, H, W)`` booleans (``True`` = inside, i.e. value > 0.5) for ``images``.

    Args:
        mask: ``(H, W)``, ``(B, H, W)``, ``(1 or B, 1, H, W)``; bool, or float in ``[0, 1]``.
        images: ``(B, C, H, W)``, the images the mask belongs to.

    Returns:
        ``(B, 1, H, W)`` bool tensor on the images' device.

    Raises:
        TypeError: ``mask`` is not a tensor.
        ValueError: its shape does not fit the images.
    """
    if not isinstance(mask, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (B, 1, H, W) or (H, W); got {type(mask).__name__}")
    b, _, h, w = images.shape
    m = mask
    if m.ndim == 2:
        m = m[None, None]
    elif m.ndim == 3:
        m = m[:, None]
    ok = m.ndim == 4 and m.shape[1] == 1 and m.shape[0] in (1, b) and tuple(m.shape[-2:]) == (h, w)
    if not ok:
        raise ValueError(
            f"{name} must have shape (H, W), (B, H, W) or (B, 1, H, W) with B={b}, H={h}, W={w} to match the "
            f"images; got {tuple(mask.shape)}"
        )
    m = m.to(images.device)
    m = m if m.dtype == torch.bool else m > 0.5
    return m.expand(b, 1, h, w)


def _reduce(per_image: Tensor, reduction: str) -> Tensor:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {', '.join(map(repr, _REDUCTIONS))}; got {reduction!r}")
    if reduction == "none":
        return per_image  # (B,)
    finite = per_image[~torch.isnan(per_image)]
    if finite.numel() == 0:
        return per_image.new_tensor(float("nan"))
    return finite.mean() if reduction == "mean" else finite.sum()


def _masked_mean(err: Tensor, mask: Optional[Tensor]) -> Tensor:
    """Mean of ``err`` (B, C, H, W) per image, over the pixels of ``mask`` (and all channels); nan if empty."""
    if mask is None:
        return err.flatten(1).mean(1)  # (B,)
    m = as_mask(mask, err).to(err.dtype)  # (B, 1, H, W)
    total = (err * m).flatten(1).sum(1)  # (B,)
    count = m.flatten(1).sum(1) * err.shape[1]  # (B,) pixels x channels
    return torch.where(count > 0, total / count.clamp_min(1), torch.full_like(total, float("nan")))


def mse(input: Tensor, target: Tensor, mask: Optional[Tensor] = None, reduction: str = "mean") -> Tensor:
    """Mean squared error per image, over all pixels and channels (or over those inside ``mask``).

    Args:
        input: ``(B, 3, H, W)`` in ``[0, 1]``.
        target: ``(B, 3, H, W)`` in ``[0, 1]``.
        mask: optional; see the module docstring.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        a scalar, or ``(B,)`` for ``reduction="none"``.

    Example:
        >>> float(mse(torch.zeros(1, 3, 2, 2), torch.full((1, 3, 2, 2), 0.5)))
        0.25
    """
    check_pair(input, target)
    return _reduce(_masked_mean((input - target).pow(2), mask), reduction)


def l1(input: Tensor, target: Tensor, mask: Optional[Tensor] = None, reduction: str = "mean") -> Tensor:
    """Mean absolute error per image (the "L1" of the results table), over all pixels or those inside ``mask``.

    Same arguments as :func:`mse`.

    Example:
        >>> m = torch.tensor([[1.0, 0.0]])                         # (H, W): left pixel inside
        >>> a, b = torch.zeros(1, 3, 1, 2), torch.tensor([0.2, 0.8]).expand(1, 3, 1, 2)
        >>> round(float(l1(a, b, mask=m)), 3), round(float(l1(a, b, mask=~m.bool())), 3)
        (0.2, 0.8)
    """
    check_pair(input, target)
    return _reduce(_masked_mean((input - target).abs(), mask), reduction)


def psnr(
    input: Tensor, target: Tensor, mask: Optional[Tensor] = None, reduction: str = "mean", data_range: float = 1.0
) -> Tensor:
    """Peak signal-to-noise ratio in dB, :math:`10 \\log_{10}(L^2 / \\mathrm{MSE})`, per image then reduced.

    Identical images give ``inf``. With a mask the MSE is taken over the masked pixels only.

    Args:
        input, target, mask, reduction: as in :func:`mse`.
        data_range: :math:`L`, the span of possible values (1 for ``[0, 1]`` images).

    Returns:
        a scalar in dB, or ``(B,)`` for ``reduction="none"``.

    Example:
        >>> round(float(psnr(torch.zeros(1, 3, 4, 4), torch.full((1, 3, 4, 4), 0.01))), 2)
        40.0
    """
    check_pair(input, target)
    err = _masked_mean((input.double() - target.double()).pow(2), mask)  # (B,) in float64, as skimage
    per_image = 10.0 * torch.log10(data_range**2 / err)  # inf where err == 0, nan where the mask is empty
    return _reduce(per_image.to(input.dtype), reduction)


def ssim(
    input: Tensor,
    target: Tensor,
    reduction: str = "mean",
    data_range: float = 1.0,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
) -> Tensor:
    """Structural similarity (Wang et al. 2004) with a Gaussian window, per image then reduced.

    .. math::
        \\mathrm{SSIM}(x, y) = \\frac{(2\\mu_x\\mu_y + C_1)(2\\sigma_{xy} + C_2)}
                               {(\\mu_x^2 + \\mu_y^2 + C_1)(\\sigma_x^2 + \\sigma_y^2 + C_2)},
        \\quad C_1 = (k_1 L)^2,\\ C_2 = (k_2 L)^2,

    with local means, variances and covariance under a Gaussian window (``sigma`` 1.5, 11x11), averaged over the
    positions where the window fits inside the image and over the channels (as scikit-image does).

    Args:
        input: ``(B, 3, H, W)`` in ``[0, 1]``, ``H, W >= 11``.
        target: same shape.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
        data_range: :math:`L`.
        sigma: the window's standard deviation.
        k1, k2: the stabilising constants.

    Returns:
        a scalar in ``[-1, 1]`` (1: identical), or ``(B,)`` for ``reduction="none"``.

    Example:
        >>> x = torch.rand(2, 3, 32, 32)
        >>> ssim(x, x, reduction="none")
        tensor([1., 1.])
    """
    check_pair(input, target)
    from skimage.metrics import structural_similarity  # the well-kept implementation (issue 18)

    win = 2 * int(3.5 * sigma + 0.5) + 1  # scipy's Gaussian with scikit-image's truncate=3.5: 11 taps at 1.5
    b, _, h, w = input.shape
    if h < win or w < win:
        raise ValueError(f"ssim needs images of at least {win}x{win} pixels for sigma={sigma}; got {h}x{w}")
    x = input.detach().double().permute(0, 2, 3, 1).cpu().numpy()  # (B, H, W, 3), float64 as scikit-image
    y = target.detach().double().permute(0, 2, 3, 1).cpu().numpy()
    per_image = torch.tensor([
        structural_similarity(x[i], y[i], data_range=data_range, channel_axis=-1, gaussian_weights=True,
                              sigma=sigma, use_sample_covariance=False, K1=k1, K2=k2)
        for i in range(b)
    ], dtype=torch.float64)  # (B,)
    return _reduce(per_image.to(device=input.device, dtype=input.dtype), reduction)
