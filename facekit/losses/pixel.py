r"""Pixel losses: squared errors between images, the Frobenius norms of DIAT and *Learning to see another you*.

* :func:`squared_error`: :math:`\|\hat{\mathbf{x}} - \mathbf{x}\|_F^2` per image, the building block of DIAT's
  pre-training of the transform network (eq. (8), :math:`\ell_{rec}`), the global enhancement (deblurring) loss
  (eq. (11), :math:`\ell_{E_{global}}`) and the first term of the local enhancement loss (eq. (10), with a mask);
* :func:`gaussian_blur`: :math:`B(\mathbf{x})` of DIAT eq. (11), a Gaussian blur (the paper: :math:`\sigma = 1.8`).

The paper writes sums over pixels (not means), so the per-image values are those sums; ``reduction="mean"``
averages them over the batch (eq. (8)'s sum over the data set is this mean times its size).
"""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from facekit.losses._common import _check_reduction, _reduce

__all__ = ["squared_error", "gaussian_blur"]


def squared_error(input: Tensor, target: Tensor, mask: Optional[Tensor] = None, reduction: str = "mean") -> Tensor:
    r"""Per image :math:`\| m \circ (\hat{\mathbf{x}} - \mathbf{x}) \|_F^2` (DIAT eq. (8), (10) first term, (11)).

    Args:
        input, target: ``(B, C, H, W)`` images (or any ``(B, ...)`` tensors of one shape).
        mask: optional weights broadcastable to ``input`` (``(B, 1, H, W)``), e.g. :math:`1 - \mathbf{m}` of eq. (10).
        reduction: ``"mean"`` over the batch, ``"sum"`` or ``"none"``.

    Example:
        >>> squared_error(torch.ones(2, 3, 4, 4), torch.zeros(2, 3, 4, 4), reduction="none")   # 48 pixels of 1
        tensor([48., 48.])
    """
    _check_reduction(reduction)
    if not isinstance(input, Tensor) or not isinstance(target, Tensor) or input.shape != target.shape:
        raise ValueError(f"input and target must be tensors of the same shape (B, C, H, W); got "
                         f"{tuple(getattr(input, 'shape', ()))} and {tuple(getattr(target, 'shape', ()))}")
    if input.ndim < 2:
        raise ValueError(f"input must be a batch (B, ...); got shape {tuple(input.shape)}")
    diff = input - target
    if mask is not None:
        diff = diff * mask.to(dtype=diff.dtype, device=diff.device)  # (1 - m) o (E(T(x)) - x), DIAT eq. (10)
    per_image = diff.pow(2).flatten(1).sum(1)  # ||.||_F^2, (B,)
    return _reduce(per_image, reduction)


def gaussian_blur(images: Tensor, sigma: float = 1.8, radius: Optional[int] = None) -> Tensor:
    r""":math:`B(\mathbf{x})` of DIAT eq. (11): a separable Gaussian blur with reflect padding.

    Args:
        images: ``(B, C, H, W)``.
        sigma: the standard deviation in pixels (DIAT section 5.1: 1.8).
        radius: half the kernel width; default :math:`\lceil 3\sigma \rceil` (6 for 1.8: a 13-tap kernel).

    Example:
        >>> x = torch.zeros(1, 1, 9, 9); x[..., 4, 4] = 1
        >>> y = gaussian_blur(x, sigma=1.0)
        >>> round(float(y.sum()), 4), bool(y[..., 4, 4] < 1)       # mass kept, peak spread
        (1.0, True)
    """
    if not isinstance(images, Tensor) or images.ndim != 4:
        raise ValueError(f"images must be (B, C, H, W); got {tuple(getattr(images, 'shape', ()))}")
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0; got {sigma}")
    r = int(math.ceil(3 * sigma)) if radius is None else int(radius)
    r = min(r, min(images.shape[-2:]) - 1)
    t = torch.arange(-r, r + 1, dtype=images.dtype, device=images.device)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    c = images.shape[1]
    x = F.pad(images, (r, r, r, r), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)  # along W
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)  # along H
