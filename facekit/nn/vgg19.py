"""VGG19 (Simonyan and Zisserman, ICLR 2015), the loss network of the eye-to-face paper (Tse et al.).

The module layout is torchvision's ``torchvision.models.vgg19``: ``features`` (an ``nn.Sequential`` of 37 modules),
``avgpool`` and ``classifier``, so torchvision's ImageNet file ``vgg19-dcbb9e9d.pth`` (keys ``features.0.weight``,
..., ``classifier.6.bias``) loads as it is. This module builds the same layout itself (torchvision is not imported)
and gives each index a name:

=========  =====  =========  =====  =========  =====  =========  =====  =========  =====
conv1_1    0      conv2_1    5      conv3_1    10     conv4_1    19     conv5_1    28
conv1_2    2      conv2_2    7      conv3_2    12     conv4_2    21     conv5_2    30
pool1      4      pool2      9      conv3_3    14     conv4_3    23     conv5_3    32
                                    conv3_4    16     conv4_4    25     conv5_4    34
                                    pool3      18     pool4      27     pool5      36
=========  =====  =========  =====  =========  =====  =========  =====  =========  =====

(``reluB_K`` is the index after ``convB_K``.) The head is named like VGG-Face's: ``avgpool, flatten, fc6, relu6,
dropout6, fc7, relu7, dropout7, fc8`` = ``classifier.0 .. classifier.6``.

Each weight file has its own input convention, and a network must be fed the one its weights were trained with
(``preprocess=``):

* ``"torchvision"`` (default): ``(x - mean) / std`` with ImageNet's mean ``(0.485, 0.456, 0.406)`` and std
  ``(0.229, 0.224, 0.225)`` on RGB: what torchvision's file ``vgg19-dcbb9e9d.pth`` was trained with, so what
  facekit uses with it;
* ``"caffe"``: RGB -> BGR, 0-255, minus ``(103.939, 116.779, 123.68)`` (BGR): Keras' ``preprocess_input`` for its
  Caffe-converted VGG19 (the network the eye-to-face authors used), for a Caffe-converted weight file;
* ``"paper"``: the formula the eye-to-face paper prints (section IV, "One final thing to note"):
  ``255 x (r - 103.939, g - 116.779, b - 123.68)`` read as 0-255 RGB minus the BGR means *in RGB order*: the
  channel order is mixed up (Keras reverses the channels before subtracting these means). Only to show what the
  printed formula does; no weight file was trained on it.

Fed to torchvision's weights, the Caffe (or paper) input is about 58 times larger than the one they were trained
on (1 / (255 std)) and in the wrong channel order: that is not the paper's setup, it is a mistake.
"""

from __future__ import annotations

from typing import List, Tuple

import torch
from torch import Tensor, nn

from facekit.nn.features import FeatureNet, init_vgg_weights, vgg_stage_names

__all__ = ["VGG19", "VGG19_LAYER_INDEX"]

VGG19_BLOCKS: Tuple[int, ...] = (2, 2, 4, 4, 4)
VGG19_WIDTHS: Tuple[int, ...] = (64, 128, 256, 512, 512)

VGG19_LAYER_INDEX = {name: i for i, name in enumerate(vgg_stage_names(VGG19_BLOCKS))}
"""Stage name -> index in torchvision's ``vgg19().features`` (``"conv3_1" -> 10``, ``"pool5" -> 36``)."""


class VGG19(FeatureNet):
    """VGG19 with torchvision's layout and parameter names, and named layers.

    Args:
        include_top: build ``avgpool`` and ``classifier`` (ImageNet's 1000 classes). Perceptual losses need only
            ``features`` (20 M parameters instead of 144 M).
        preprocess: ``"torchvision"`` (ImageNet mean/std on RGB in [0, 1]; torchvision's weights), ``"caffe"``
            (BGR, 0-255, mean subtracted; Caffe-converted weights) or ``"paper"`` (the eye-to-face paper's printed
            formula, channel order mixed up). See the module docstring.
        num_classes: outputs of the last linear layer (1000 for ImageNet).

    Input: RGB in ``[0, 1]``, ``(B, 3, H, W)`` with ``H, W >= 32``; the head's adaptive pooling accepts any size.

    Example:
        >>> net = VGG19(include_top=False)
        >>> feats = net.extract(torch.rand(1, 3, 32, 32), ["relu1_2", "conv5_4"])
        >>> [tuple(v.shape) for v in feats.values()]
        [(1, 64, 32, 32), (1, 512, 2, 2)]
    """

    IMAGENET_MEAN: Tuple[float, float, float] = (0.485, 0.456, 0.406)
    IMAGENET_STD: Tuple[float, float, float] = (0.229, 0.224, 0.225)
    CAFFE_MEAN_BGR: Tuple[float, float, float] = (103.939, 116.779, 123.68)

    input_size = 224

    def __init__(self, include_top: bool = True, preprocess: str = "torchvision", num_classes: int = 1000) -> None:
        super().__init__()
        if preprocess not in ("torchvision", "caffe", "paper"):
            raise ValueError(f"preprocess must be 'torchvision', 'caffe' or 'paper'; got {preprocess!r}")
        self.include_top = include_top
        self.preprocessing = preprocess
        self.num_classes = num_classes
        layers: List[nn.Module] = []
        cin = 3
        for n, cout in zip(VGG19_BLOCKS, VGG19_WIDTHS):
            for _ in range(n):
                # not in place (torchvision's are): the pre-ReLU conv map must survive when it is a feature
                layers += [nn.Conv2d(cin, cout, kernel_size=3, padding=1), nn.ReLU(inplace=False)]
                cin = cout
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        self.features = nn.Sequential(*layers)
        stages = [(name, f"features.{i}") for name, i in VGG19_LAYER_INDEX.items()]
        if include_top:
            self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
            self.flatten = nn.Flatten(1)
            self.classifier = nn.Sequential(
                nn.Linear(512 * 7 * 7, 4096),
                nn.ReLU(inplace=False),
                nn.Dropout(0.5),
                nn.Linear(4096, 4096),
                nn.ReLU(inplace=False),
                nn.Dropout(0.5),
                nn.Linear(4096, num_classes),
            )
            stages += [("avgpool", "avgpool"), ("flatten", "flatten")]
            head = ["fc6", "relu6", "dropout6", "fc7", "relu7", "dropout7", "fc8"]
            stages += [(name, f"classifier.{i}") for i, name in enumerate(head)]
        if preprocess == "torchvision":
            mean, scale = torch.tensor(self.IMAGENET_MEAN), 1.0 / torch.tensor(self.IMAGENET_STD)
        else:
            mean, scale = torch.tensor(self.CAFFE_MEAN_BGR), torch.full((3,), 255.0)
        self.register_buffer("mean", mean.view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", scale.view(1, 3, 1, 1), persistent=False)
        self._set_stages(stages)
        init_vgg_weights(self)
        self.description = f"VGG19 (ImageNet layout, {preprocess} preprocessing), random weights"

    def preprocess(self, x: Tensor) -> Tensor:
        """RGB in [0, 1] -> the network's input (see ``preprocess=``). Shape: ``(B, 3, H, W) -> (B, 3, H, W)``."""
        if self.preprocessing == "caffe":
            x = x.flip(1)  # RGB -> BGR
            return x * self.scale.to(x.dtype) - self.mean.to(x.dtype)  # 0-255 minus the BGR mean
        if self.preprocessing == "paper":  # eye-to-face sec. IV as printed: the BGR means subtracted from R, G, B
            return x * self.scale.to(x.dtype) - self.mean.to(x.dtype)
        return (x - self.mean.to(x.dtype)) * self.scale.to(x.dtype)  # ImageNet (x - mean) / std
