"""Feature inversion: reconstruct an image from one layer's features by gradient descent on the pixels.

The experiment of CNIA (Li, Zuo, Zhang, arXiv 1608.06434) section 4.1, Table 1 and Fig. 6-7, after Mahendran and
Vedaldi (CVPR 2015): start from a blank image :math:`\\hat I` and minimise

.. math::
    \\ell_{content}^{\\phi, l}(\\hat I, I_r) + \\gamma \\, \\ell_{TV}(\\hat I)

(CNIA eq. (1) on layer :math:`l` plus the TV term of eq. (7), without the attribute term). How close
:math:`\\hat I` gets to :math:`I_r` says how much of the face layer :math:`l` keeps.

Example:
    >>> import torch
    >>> from facekit.nn import SynthFaceNet
    >>> net = SynthFaceNet(input_size=32).eval()
    >>> x, history = invert_features(net, "relu2_1", torch.rand(1, 3, 32, 32), steps=3)
    >>> x.shape, len(history)
    (torch.Size([1, 3, 32, 32]), 3)
"""

from __future__ import annotations

from typing import Any, Optional, Union

import torch

from facekit.losses import content_loss, total_variation
from facekit.nn import FeatureExtractor, FeatureNet

__all__ = ["invert_features", "squared_error_255"]


def invert_features(
    net: FeatureNet,
    layer: Union[str, int],
    reference: torch.Tensor,
    steps: int,
    lr: float = 0.1,
    tv_weight: float = 16.0,
    progress: Optional[Any] = None,
) -> tuple[torch.Tensor, list[float]]:
    """Reconstruct ``reference`` from the features of one layer, starting from a mid-grey image.

    Minimises CNIA eq. (1) of ``layer`` (summed over the batch, so each image is its own problem) plus
    ``tv_weight`` times the normalised TV of each image, by Adam on the pixels with a cosine-decaying step
    (the paper uses plain gradient descent; Adam converges in far fewer steps), clamping to [0, 1] after each step.

    Args:
        net: a feature network (VGG-Face, VGG19 or SynthFaceNet), frozen by :class:`FeatureExtractor`.
        layer: a layer name (``"relu3_1"``) or the papers' 1-based conv index (5 -> ``relu3_1``).
        reference: ``(B, 3, H, W)`` images in [0, 1].
        steps: optimisation steps (>= 1).
        lr: Adam's initial step.
        tv_weight: :math:`\\gamma`, the weight of :func:`facekit.losses.total_variation` (``normalized=True``).
        progress: an object with ``update(1)`` (a ``tqdm`` bar), called once per step.

    Returns:
        ``(images, history)``: the ``(B, 3, H, W)`` reconstructions and the loss at every step.

    Raises:
        ValueError: ``steps`` < 1 or ``reference`` is not ``(B, 3, H, W)``.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if reference.ndim != 4 or reference.shape[1] != 3:
        raise ValueError(f"reference must be (B, 3, H, W), got {tuple(reference.shape)}")
    ext = FeatureExtractor(net, [layer])
    name = ext.layers[0]
    with torch.no_grad():
        target = ext(reference)[name]  # phi_l(I_r), (B, C_l, H_l, W_l)
    x = torch.full_like(reference, 0.5).requires_grad_(True)  # the blank image
    opt = torch.optim.Adam([x], lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)  # a decaying step cleans the noise
    history: list[float] = []
    for _ in range(steps):
        loss = content_loss(ext(x)[name], target, reduction="sum")  # CNIA eq. (1)
        loss = loss + tv_weight * total_variation(x, normalized=True, reduction="sum")  # + gamma * l_TV, eq. (7)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        with torch.no_grad():
            x.clamp_(0.0, 1.0)
        if progress is not None:
            progress.update(1)
        history.append(float(loss.detach()))
    return x.detach(), history


def squared_error_255(x: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Per image, the sum of squared differences in 0-255 grey levels: the "square error" of CNIA Table 1.

    Shape: ``(B, C, H, W)`` twice -> ``(B,)``.
    """
    if x.shape != reference.shape:
        raise ValueError(f"x and reference must have the same shape, got {tuple(x.shape)} and {tuple(reference.shape)}")
    return ((x - reference) * 255.0).pow(2).flatten(1).sum(1)
