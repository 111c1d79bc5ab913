r"""Regularisers: terms that keep a generated image plausible rather than close to a target.

* :func:`total_variation`: the TV regulariser :math:`\ell_{TV}` of CNIA eq. (7), in the form of Mahendran and
  Vedaldi (CVPR 2015, CNIA's reference [24]).

* DIAT's perceptual regulariser (eq. (4)-(6)): a reconstruction network :math:`g` trained with the perceptual
  identity loss (eq. (4), :class:`~facekit.losses.PerceptualLoss`) shows what the transform network's artifacts
  look like; a two-layer denoiser :math:`f` learns to remove them (eq. (5), :func:`denoiser_loss`);
  :math:`\ell_{smooth}` penalises what :math:`f` would remove from :math:`T(x)` (eq. (6), :func:`smooth_loss`).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from facekit.losses._common import _check_reduction, _reduce


# -- total variation ----------------------------------------------------------------------------------------
def total_variation(
    image: Tensor,
    beta: float = 2.0,
    normalized: bool = False,
    reduction: str = "mean",
    eps: float = 1e-8,
) -> Tensor:
    r"""The total-variation regulariser :math:`\ell_{TV}` of CNIA eq. (7), in Mahendran and Vedaldi's form.

    CNIA does not write :math:`\ell_{TV}` out; it cites Mahendran and Vedaldi (*Understanding deep image
    representations by inverting them*, CVPR 2015), whose regulariser is

    .. math::

        \ell_{TV}(x) = \sum_{c,i,j} \left( (x_{c,i,j+1} - x_{c,i,j})^2 + (x_{c,i+1,j} - x_{c,i,j})^2 \right)^{\beta/2}

    over the pixels that have both a right and a lower neighbour. ``beta=2`` (the default, the value they use
    for CNN inversion) is smooth and penalises large jumps strongly; ``beta=1`` is the classic isotropic TV,
    which keeps edges sharper. The weight :math:`\gamma` of eq. (7) is applied by the caller.

    Args:
        image: the images (any number of channels).
        beta: the exponent :math:`\beta > 0`.
        normalized: divide each image's sum by the number of terms :math:`C (H-1) (W-1)`, so the value does
            not grow with the image size (handy when one :math:`\gamma` must work at 64 and 224 pixels).
        reduction: ``"mean"`` over the batch, ``"sum"`` or ``"none"``.
        eps: added under the power when ``beta != 2``, so the gradient stays finite where the image is flat.

    Shape:
        - image: :math:`(B, C, H, W)` with :math:`H, W \ge 2`.

    Example:
        >>> import torch
        >>> x = torch.zeros(1, 1, 3, 3); x[..., 1, 1] = 1.0
        >>> total_variation(x)      # 4 pairs touch the bright pixel: 1 + 1 + 2 (the centre has both) = 4
        tensor(4.)
    """
    _check_reduction(reduction)
    if not isinstance(image, Tensor) or image.ndim != 4:
        shape = tuple(image.shape) if isinstance(image, Tensor) else type(image).__name__
        raise ValueError(f"image must be a batch of images (B, C, H, W); got {shape}")
    if not image.is_floating_point():
        raise TypeError(f"image must be a floating-point tensor (TV is a differentiable loss); got dtype {image.dtype}. "
                        "Convert uint8 images with x.float() / 255.")
    if image.shape[-2] < 2 or image.shape[-1] < 2:
        raise ValueError(f"image must be at least 2x2 pixels for total variation; got {tuple(image.shape[-2:])}")
    if beta <= 0:
        raise ValueError(f"beta must be > 0; got {beta}")
    dx = image[..., :-1, 1:] - image[..., :-1, :-1]  # (B, C, H-1, W-1) horizontal differences
    dy = image[..., 1:, :-1] - image[..., :-1, :-1]  # (B, C, H-1, W-1) vertical differences
    sq = dx.pow(2) + dy.pow(2)
    terms = sq if beta == 2 else (sq + eps).pow(beta / 2)  # Mahendran & Vedaldi's V^beta
    per_image = terms.flatten(1).sum(1)  # (B,)
    if normalized:
        per_image = per_image / terms[0].numel()
    return _reduce(per_image, reduction)


class TotalVariation(nn.Module):
    """The TV regulariser of CNIA eq. (7) as a module; see :func:`total_variation`.

    Example:
        >>> import torch
        >>> TotalVariation(normalized=True)(torch.ones(2, 3, 8, 8))
        tensor(0.)
    """

    def __init__(self, beta: float = 2.0, normalized: bool = False, reduction: str = "mean", eps: float = 1e-8) -> None:
        super().__init__()
        _check_reduction(reduction)
        if beta <= 0:
            raise ValueError(f"beta must be > 0; got {beta}")
        self.beta, self.normalized, self.reduction, self.eps = beta, normalized, reduction, eps

    def forward(self, image: Tensor) -> Tensor:
        return total_variation(image, self.beta, self.normalized, self.reduction, self.eps)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, normalized={self.normalized}, reduction={self.reduction!r}"


# -- DIAT eq. (5)-(6): the perceptual regulariser --------------------------------------------------------------
def denoiser_loss(denoiser: nn.Module, reconstructed: Tensor, clean: Tensor, reduction: str = "mean") -> Tensor:
    r"""DIAT eq. (5): train the denoiser :math:`f` to undo the reconstruction network's artifacts.

    .. math::

        \| f(g(\mathbf{x})) - \mathbf{x} \|_F^2 + \| f(\mathbf{x}) - \mathbf{x} \|_F^2

    The second term keeps :math:`f` from over-smoothing a clean image.

    Args:
        denoiser: :math:`f` (a :class:`~facekit.nn.Denoiser`).
        reconstructed: :math:`g(\mathbf{x})` (detached: :math:`g` is trained before, by eq. (4)).
        clean: :math:`\mathbf{x}`.
        reduction: ``"mean"`` over the batch, ``"sum"`` or ``"none"``.

    Example:
        >>> x = torch.rand(2, 3, 8, 8)
        >>> float(denoiser_loss(torch.nn.Identity(), x, x))
        0.0
    """
    from facekit.losses.pixel import squared_error

    _check_reduction(reduction)
    if reconstructed.shape != clean.shape:
        raise ValueError(f"reconstructed and clean must have the same shape; got {tuple(reconstructed.shape)} and "
                         f"{tuple(clean.shape)}")
    both = denoiser(torch.cat([reconstructed.detach(), clean]))  # f(g(x)), f(x) in one pass
    b = clean.shape[0]
    per_image = squared_error(both[:b], clean, reduction="none") + squared_error(both[b:], clean, reduction="none")
    return _reduce(per_image, reduction)  # DIAT eq. (5)


def smooth_loss(denoiser: nn.Module, transformed: Tensor, reduction: str = "mean") -> Tensor:
    r"""DIAT eq. (6): :math:`\ell_{smooth}(T(\mathbf{x})) = \| f(T(\mathbf{x})) - T(\mathbf{x}) \|_F^2`.

    The transformed image should already look like what the denoiser would make of it. Keep :math:`f` frozen; the
    gradient reaches :math:`T` through both :math:`T(\mathbf{x})` terms.

    Example:
        >>> float(smooth_loss(torch.nn.Identity(), torch.rand(2, 3, 8, 8)))
        0.0
    """
    from facekit.losses.pixel import squared_error

    _check_reduction(reduction)
    return squared_error(denoiser(transformed), transformed, reduction=reduction)  # DIAT eq. (6)
