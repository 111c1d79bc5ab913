"""What every loss of :mod:`facekit.losses` shares: the types of feature dicts and layer weights, the
``reduction`` argument (``"mean"`` over the batch, ``"sum"``, ``"none"``) and the shape checks of a pair of
feature maps."""

from __future__ import annotations

from typing import Mapping, Sequence, Union

from torch import Tensor

from facekit.nn.features import LayerSpec


Features = Mapping[str, Tensor]
LayerWeights = Union[Sequence[LayerSpec], Mapping[LayerSpec, float]]

_REDUCTIONS = ("mean", "sum", "none")


def _reduce(per_image: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return per_image.mean()
    if reduction == "sum":
        return per_image.sum()
    return per_image  # "none": (B,)


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {', '.join(map(repr, _REDUCTIONS))}; got {reduction!r}")


def _check_feature_pair(input: Tensor, target: Tensor, *, broadcast: bool = True) -> None:
    for name, t in (("input", input), ("target", target)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor (a feature map); got {type(t).__name__}")
        if t.ndim < 2:
            raise ValueError(
                f"{name} must be a batch of feature maps (B, C, H, W) (or (B, D)); got shape {tuple(t.shape)}"
            )
    if input.shape[1:] != target.shape[1:]:
        raise ValueError(
            f"input and target must be feature maps of the same layer: (B, C, H, W) with equal C, H, W; got "
            f"{tuple(input.shape)} and {tuple(target.shape)} (same layer, same image size?)"
        )
    b_in, b_tg = input.shape[0], target.shape[0]
    if b_in != b_tg and not (broadcast and 1 in (b_in, b_tg)):
        raise ValueError(
            f"input and target must have the same batch size, or one of them 1 (broadcast); got {b_in} and {b_tg}"
        )
