"""SynthFaceNet: the offline stand-in for VGG-Face, a narrow VGG-16 trained to recognise SynthFaces identities.

Same shape as VGG-Face (five blocks of 2, 2, 3, 3, 3 convolutions, the same layer names ``conv1_1 .. conv5_3``,
so a chapter that asks VGG-Face for ``conv3_1`` can ask this network too), but:

* a fraction of the channels (``width=0.25``: 16, 32, 64, 128, 128 instead of 64, 128, 256, 512, 512), so its
  weights fit in the package (a few MB) and it runs on a laptop CPU;
* batch normalisation after each convolution (``bnB_K``; frozen in eval mode), so it trains from scratch quickly;
* global average pooling before the head, so it takes any input of at least 32x32 pixels (64 and 128 px in the
  book's ``cpu`` profile), then ``embed`` (the identity embedding) and ``classifier`` (identity logits).

Its weights come from ``scripts/train_synthface_net.py`` (SynthFaces identity classification) and ship in
``facekit/weights/``; load them with ``facekit.hub.pretrained("synthface_net")`` or
:func:`facekit.nn.face_network`.
"""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

import torch.nn.functional as F
from torch import Tensor, nn

from facekit.nn.features import FeatureNet, init_vgg_weights, vgg_stage_names

__all__ = ["SynthFaceNet"]

VGG16_BLOCKS: Tuple[int, ...] = (2, 2, 3, 3, 3)
VGG16_WIDTHS: Tuple[int, ...] = (64, 128, 256, 512, 512)


class SynthFaceNet(FeatureNet):
    """A VGG-16-shaped identity network at reduced width, with an embedding head.

    Args:
        num_classes: number of training identities (the classifier's outputs); 0 builds no classifier.
        width: fraction of VGG-16's channels (0.25 -> 16, 32, 64, 128, 128).
        embedding_dim: size of the identity embedding ``embed``.
        batch_norm: add ``bnB_K`` after every convolution.
        input_size: the size it was trained at (informative; any size >= 32 works).

    Input: RGB in ``[0, 1]``, ``(B, 3, H, W)``, ``H, W >= 32``; mapped to ``[-1, 1]`` inside.

    Layers: ``conv1_1, bn1_1, relu1_1, ..., pool5, gap, flatten, embed, classifier``.

    Example:
        >>> import torch
        >>> net = SynthFaceNet(num_classes=100)
        >>> logits = net(torch.rand(2, 3, 128, 128))          # (B, num_classes)
        >>> emb = net.embedding(torch.rand(2, 3, 64, 64))     # (B, embedding_dim), unit length
        >>> tuple(logits.shape), tuple(emb.shape)
        ((2, 100), (2, 128))
    """

    def __init__(
        self,
        num_classes: int = 1000,
        width: float = 0.25,
        embedding_dim: int = 128,
        batch_norm: bool = True,
        input_size: int = 64,
    ) -> None:
        super().__init__()
        if not 0 < width <= 1:
            raise ValueError(f"width must be in (0, 1]; got {width}")
        if num_classes < 0 or embedding_dim < 1:
            raise ValueError(f"need num_classes >= 0 and embedding_dim >= 1; got {num_classes}, {embedding_dim}")
        self.num_classes = int(num_classes)
        self.width = float(width)
        self.embedding_dim = int(embedding_dim)
        self.batch_norm = bool(batch_norm)
        self.input_size = int(input_size)
        widths = [max(4, round(c * width)) for c in VGG16_WIDTHS]
        self.widths = widths
        cin = 3
        for b, (n, cout) in enumerate(zip(VGG16_BLOCKS, widths), start=1):
            for k in range(1, n + 1):
                setattr(self, f"conv{b}_{k}", nn.Conv2d(cin, cout, kernel_size=3, padding=1, bias=not batch_norm))
                if batch_norm:
                    setattr(self, f"bn{b}_{k}", nn.BatchNorm2d(cout))
                setattr(self, f"relu{b}_{k}", nn.ReLU(inplace=False))
                cin = cout
            setattr(self, f"pool{b}", nn.MaxPool2d(kernel_size=2, stride=2))
        stages: List[Tuple[str, str]] = [(n, n) for n in vgg_stage_names(VGG16_BLOCKS, batch_norm=batch_norm)]
        self.gap = nn.AdaptiveAvgPool2d(1)  # (B, C5, h, w) -> (B, C5, 1, 1): any input size works
        self.flatten = nn.Flatten(1)
        self.embed = nn.Linear(cin, embedding_dim)
        stages += [("gap", "gap"), ("flatten", "flatten"), ("embed", "embed")]
        if num_classes > 0:
            self.classifier = nn.Linear(embedding_dim, num_classes)
            stages.append(("classifier", "classifier"))
        self._set_stages(stages)
        init_vgg_weights(self)
        self.description = f"SynthFaceNet (VGG-16 shape at width {width:g}), random weights"

    @property
    def config(self) -> Dict[str, Any]:
        """The constructor arguments; stored next to the weights so the hub can rebuild the network."""
        return {
            "num_classes": self.num_classes,
            "width": self.width,
            "embedding_dim": self.embedding_dim,
            "batch_norm": self.batch_norm,
            "input_size": self.input_size,
        }

    def preprocess(self, x: Tensor) -> Tensor:
        """RGB in [0, 1] -> [-1, 1]. Shape: ``(B, 3, H, W) -> (B, 3, H, W)``."""
        return x * 2.0 - 1.0

    def embedding(self, x: Tensor) -> Tensor:
        """The identity embedding, L2-normalised (compare two faces by cosine similarity).

        Shape:
            - x: :math:`(B, 3, H, W)`, RGB in ``[0, 1]``.
            - output: :math:`(B, D)` with ``D = embedding_dim``, unit length.
        """
        return F.normalize(self.extract(x, ["embed"])["embed"], dim=1)
