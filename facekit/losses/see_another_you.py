r"""The pixel losses of *Learning to See another You* (Ghodrati et al., BMVC 2016), section 3.4 and 4.3.

* :func:`generation_loss`: the squared error of each stage, eq. (1)
  :math:`L_1(W_1) = \|F_1(X, C_X, W_1) - Y\|_2^2` and eq. (2) :math:`L_2(W_2) = \|F_2(X, \hat Y_1, W_2) - Y\|_2^2`;
* :func:`completion_loss`: the mean absolute error of the completion task (section 4.3: "to make it more robust to
  the influence of uncertainty behind the black bar, we use Mean Absolute Error instead of Mean Squared Error").

The per-image value is the paper's: a **sum** over the pixels of the image (the norm in eq. (1)), to which the
paper's learning rate (1e-5) belongs. ``normalized=True`` divides it by :math:`C H W`, the per-pixel mean that
does not grow with the image size (``facekit.methods.see_another_you`` logs that, and scales its learning rate by
:math:`C H W` to take the same steps). ``reduction`` is over the batch, as everywhere in :mod:`facekit.losses`.
"""

from __future__ import annotations

from torch import Tensor, nn

from facekit.losses._common import _check_reduction, _reduce
from facekit.losses.pixel import squared_error


def _per_image(input: Tensor, target: Tensor, power: int, normalized: bool) -> Tensor:
    for name, t in (("input", input), ("target", target)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor of images (B, C, H, W); got {type(t).__name__}")
    if input.ndim != 4 or input.shape != target.shape:
        raise ValueError(f"input and target must be images (B, C, H, W) of the same shape; got {tuple(input.shape)} "
                         f"and {tuple(target.shape)}")
    if power == 2:  # the squared error per image: the one of facekit.losses.pixel (DIAT eq. (8), (11) use it too)
        per_image = squared_error(input, target, reduction="none")  # (B,)
    else:
        per_image = (input - target).abs().flatten(1).sum(1)  # (B,)
    return per_image / input[0].numel() if normalized else per_image


def generation_loss(input: Tensor, target: Tensor, normalized: bool = False, reduction: str = "mean") -> Tensor:
    r"""The squared error of a stage's output, see-another-you eq. (1) and (2): :math:`\|\hat Y - Y\|_2^2`.

    Args:
        input: the generated images :math:`F_1(X, C_Y)` (eq. 1) or :math:`F_2(X, \hat Y_1)` (eq. 2).
        target: the target images :math:`Y`, in the same (standardised) units.
        normalized: divide each image's sum by :math:`C H W` (the per-pixel mean squared error).
        reduction: ``"mean"`` over the batch, ``"sum"`` or ``"none"`` (one value per image).

    Shape:
        - input, target: :math:`(B, C, H, W)`.

    Example:
        >>> import torch
        >>> generation_loss(torch.zeros(1, 1, 2, 2), torch.ones(1, 1, 2, 2))
        tensor(4.)
        >>> generation_loss(torch.zeros(1, 1, 2, 2), torch.ones(1, 1, 2, 2), normalized=True)
        tensor(1.)
    """
    _check_reduction(reduction)
    return _reduce(_per_image(input, target, 2, normalized), reduction)  # see-another-you eq. (1), (2)


def completion_loss(input: Tensor, target: Tensor, normalized: bool = False, reduction: str = "mean") -> Tensor:
    r"""The absolute error of the completion task, see-another-you section 4.3: :math:`\|\hat Y - Y\|_1`.

    Arguments as :func:`generation_loss` (``normalized=True``: the per-pixel mean absolute error).

    Example:
        >>> import torch
        >>> completion_loss(torch.zeros(1, 1, 2, 2), torch.full((1, 1, 2, 2), -2.0), normalized=True)
        tensor(2.)
    """
    _check_reduction(reduction)
    return _reduce(_per_image(input, target, 1, normalized), reduction)  # see-another-you section 4.3


class GenerationLoss(nn.Module):
    """:func:`generation_loss` as a module (see-another-you eq. (1), (2))."""

    def __init__(self, normalized: bool = False, reduction: str = "mean") -> None:
        super().__init__()
        _check_reduction(reduction)
        self.normalized, self.reduction = bool(normalized), reduction

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return generation_loss(input, target, self.normalized, self.reduction)


class CompletionLoss(nn.Module):
    """:func:`completion_loss` as a module (see-another-you section 4.3)."""

    def __init__(self, normalized: bool = False, reduction: str = "mean") -> None:
        super().__init__()
        _check_reduction(reduction)
        self.normalized, self.reduction = bool(normalized), reduction

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return completion_loss(input, target, self.normalized, self.reduction)
