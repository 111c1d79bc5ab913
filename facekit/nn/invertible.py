"""InvertibleFaceNet: a face network whose conv3_1 can be inverted, so CNIA's blank start rebuilds the person.

CNIA (sec. 3.2, Algorithm 1) generates a face by plain gradient descent on the pixels from a blank image, through
the conv3_1 features of VGG-Face at 224 px: a 56 x 56 x 256 map for 224 x 224 x 3 pixels (5.3 values per pixel).
That premise, a mid-level map that still holds the whole face, fails for :class:`~facekit.nn.SynthFaceNet` (a
quarter-width VGG-16 with max pooling, trained only to tell people apart: 16 x 16 x 64 values at 64 px, 1.3 per
pixel): rebuilt from its own conv3_1 features, a reference keeps its identity for the oracle in none of four cases
(``bench/cnia_identity.py``). This network is built and trained for the premise:

* VGG-16's first three blocks (``conv1_1 .. conv3_3``, the layers CNIA's Table 1 uses, conv2_1 to conv3_2) at
  ``width`` of VGG-16's channels (0.5: 32, 64, 128; conv3_1 is then 16 x 16 x 128 at 64 px, 2.7 values per pixel);
* ``pool="avg"``: 2x2 average pooling instead of max pooling (Gatys et al. 2016 found it gives better images when
  optimising through the network);
* trained (``scripts/train_invertible_face_net.py``) to recognise SynthFaces identities and their CelebA-named
  attributes from heads on top of block 3, *and* to let an auxiliary decoder rebuild the image from ``relu3_1``,
  so that the layer must keep the image; the heads and the decoder are training-only and do not ship;
* batch normalisation during training, folded into the convolutions for inference (:meth:`fold_batch_norm`), so
  the shipped trunk is plain ``conv -> ReLU`` as in VGG-Face.

Layers: ``conv1_1, relu1_1, conv1_2, relu1_2, pool1, conv2_1, ..., conv3_3, relu3_3, pool3`` (with
``batch_norm=True`` also ``bnB_K``). The papers' integer layer indices work as for the other networks
(``5 -> "relu3_1"``). Input: RGB in ``[0, 1]``, mapped to ``[-1, 1]`` inside; any size of at least 8 px.

Load the shipped trunk with ``facekit.hub.pretrained("invertible_face_net")`` or
``facekit.nn.face_network(task="cnia")`` (which picks it for CNIA on SynthFaces in the ``smoke`` and ``cpu``
profiles, see :data:`facekit.nn.FACE_NETWORK_EVIDENCE`).

Example:
    >>> import torch
    >>> net = InvertibleFaceNet()
    >>> f = net.extract(torch.rand(2, 3, 64, 64), [5])     # the 5th conv layer: relu3_1
    >>> tuple(f["relu3_1"].shape)
    (2, 128, 16, 16)
    >>> folded = InvertibleFaceNet(batch_norm=True).eval().fold_batch_norm()
    >>> folded.batch_norm, "bn1_1" in folded.layer_names
    (False, False)
"""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

import torch
from torch import Tensor, nn

from facekit.nn.features import FeatureNet, init_vgg_weights, vgg_stage_names

__all__ = ["InvertibleFaceNet", "POOLS"]

BLOCKS: Tuple[int, ...] = (2, 2, 3)
"""Convolutions per block: VGG-16's first three blocks (up to conv3_3)."""
VGG16_WIDTHS: Tuple[int, ...] = (64, 128, 256)
POOLS: Tuple[str, ...] = ("avg", "max")
"""``pool=`` choices: 2x2 average pooling (the default) or VGG's max pooling."""


class InvertibleFaceNet(FeatureNet):
    """VGG-16's first three blocks at reduced width, with average pooling: the trunk CNIA optimises through.

    Args:
        width: fraction of VGG-16's channels (0.5 -> 32, 64, 128).
        pool: ``"avg"`` or ``"max"`` (:data:`POOLS`).
        batch_norm: add ``bnB_K`` after every convolution (training); :meth:`fold_batch_norm` removes them.
        input_size: the size it was trained at (informative; any size >= 8 works).

    Input: RGB in ``[0, 1]``, ``(B, 3, H, W)``; mapped to ``[-1, 1]`` inside.
    """

    def __init__(self, width: float = 0.5, pool: str = "avg", batch_norm: bool = False, input_size: int = 64) -> None:
        super().__init__()
        if not 0 < width <= 1:
            raise ValueError(f"width must be in (0, 1]; got {width}")
        if pool not in POOLS:
            raise ValueError(f"pool must be one of {', '.join(POOLS)}; got {pool!r}")
        self.width, self.pool, self.batch_norm = float(width), pool, bool(batch_norm)
        self.input_size = int(input_size)
        self.widths: List[int] = [max(4, round(c * width)) for c in VGG16_WIDTHS]
        cin = 3
        for b, (n, cout) in enumerate(zip(BLOCKS, self.widths), start=1):
            for k in range(1, n + 1):
                setattr(self, f"conv{b}_{k}", nn.Conv2d(cin, cout, kernel_size=3, padding=1, bias=not batch_norm))
                if batch_norm:
                    setattr(self, f"bn{b}_{k}", nn.BatchNorm2d(cout))
                setattr(self, f"relu{b}_{k}", nn.ReLU(inplace=False))
                cin = cout
            setattr(self, f"pool{b}", nn.AvgPool2d(2, 2) if pool == "avg" else nn.MaxPool2d(2, 2))
        self._set_stages([(n, n) for n in vgg_stage_names(BLOCKS, batch_norm=batch_norm)])
        init_vgg_weights(self)
        self.description = f"InvertibleFaceNet (VGG-16 blocks 1-3 at width {width:g}, {pool} pooling), random weights"

    @property
    def config(self) -> Dict[str, Any]:
        """The constructor arguments; stored next to the weights so the hub can rebuild the network."""
        return {"width": self.width, "pool": self.pool, "batch_norm": self.batch_norm, "input_size": self.input_size}

    @property
    def channels(self) -> int:
        """Channels of the last block (``relu3_1`` .. ``relu3_3``)."""
        return self.widths[-1]

    def preprocess(self, x: Tensor) -> Tensor:
        """RGB in [0, 1] -> [-1, 1]. Shape: ``(B, 3, H, W) -> (B, 3, H, W)``."""
        return x * 2.0 - 1.0

    @torch.no_grad()
    def fold_batch_norm(self) -> "InvertibleFaceNet":
        """A copy without batch norm: each ``bnB_K`` (its running statistics, eval mode) folded into ``convB_K``.

        :math:`\\mathrm{BN}(W * x) = \\frac{\\gamma}{\\sqrt{\\sigma^2 + \\epsilon}} (W * x - \\mu) + \\beta`, so the
        folded convolution has weight :math:`W \\gamma / \\sqrt{\\sigma^2 + \\epsilon}` and bias
        :math:`\\beta - \\mu \\gamma / \\sqrt{\\sigma^2 + \\epsilon}`: the same function in eval mode, in one op.

        Returns:
            a new :class:`InvertibleFaceNet` with ``batch_norm=False`` (this network unchanged); without batch norm,
            a plain copy.
        """
        out = InvertibleFaceNet(width=self.width, pool=self.pool, batch_norm=False, input_size=self.input_size)
        out.to(next(self.parameters()).device, next(self.parameters()).dtype)
        for b, n in enumerate(BLOCKS, start=1):
            for k in range(1, n + 1):
                conv, target = getattr(self, f"conv{b}_{k}"), getattr(out, f"conv{b}_{k}")
                w = conv.weight
                bias = conv.bias if conv.bias is not None else torch.zeros_like(w[:, 0, 0, 0])
                if self.batch_norm:
                    bn = getattr(self, f"bn{b}_{k}")
                    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)  # (C,)
                    w = w * scale[:, None, None, None]
                    bias = bn.bias + (bias - bn.running_mean) * scale
                target.weight.copy_(w)
                target.bias.copy_(bias)
        out.description = self.description
        out.train(self.training)
        return out
