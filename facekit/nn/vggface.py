"""VGG-Face: the 16-layer face recognition network of Parkhi, Vedaldi and Zisserman, *Deep Face Recognition*
(BMVC 2015), the feature network of CNIA and DIAT.

The architecture and parameter names match the widely used PyTorch port from MatConvNet (Albanie's
``vgg_face_dag.pth``): modules ``conv1_1 .. conv5_3`` (3x3, padding 1), ``fc6`` (25088 -> 4096), ``fc7``
(4096 -> 4096), ``fc8`` (4096 -> 2622 identities), so that file's state dict (``conv1_1.weight``, ...,
``fc8.bias``) loads as it is. Its expected input: 224x224 RGB in 0-255 with the training-set mean
``[129.186, 104.762, 93.594]`` subtracted (and no division by a standard deviation). :meth:`VGGFace.preprocess`
does that, so callers pass RGB in ``[0, 1]``.

The weights are not shipped (about 580 MB, non-commercial licence); :func:`facekit.hub.pretrained` loads them
from the cache and explains where to put them. :func:`facekit.nn.face_network` falls back to
:class:`~facekit.nn.SynthFaceNet` when they are absent.
"""

from __future__ import annotations

from typing import List, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from facekit.nn.features import FeatureNet, init_vgg_weights, vgg_stage_names

__all__ = ["VGGFace"]

VGG16_BLOCKS: Tuple[int, ...] = (2, 2, 3, 3, 3)  # convolutions per block
VGG16_WIDTHS: Tuple[int, ...] = (64, 128, 256, 512, 512)  # channels per block


class VGGFace(FeatureNet):
    """VGG-Face (VGG-16 trained on 2,622 identities) with named layers.

    Args:
        include_top: build ``fc6``, ``fc7``, ``fc8`` (needed for classification and :meth:`embedding`, and for
            224x224 input only). The perceptual losses use only convolutional layers; without the head the
            network is 14.7 M parameters instead of 138 M.
        num_classes: outputs of ``fc8`` (2622 in the released weights).

    Input: RGB in ``[0, 1]``, ``(B, 3, H, W)``; any ``H, W >= 32`` for the convolutional layers, exactly 224x224
    for the head. ``MEAN_RGB`` is subtracted from ``255 * x`` inside.

    Layers (see :mod:`facekit.nn.features`): ``conv1_1, relu1_1, conv1_2, relu1_2, pool1, ..., conv5_3, relu5_3,
    pool5`` and, with the head, ``flatten, fc6, relu6, dropout6, fc7, relu7, dropout7, fc8``.

    Example:
        >>> net = VGGFace(include_top=False)
        >>> feats = net.extract(torch.rand(1, 3, 64, 64), ["conv3_1"])
        >>> tuple(feats["conv3_1"].shape)
        (1, 256, 16, 16)
    """

    MEAN_RGB: Tuple[float, float, float] = (129.186279296875, 104.76238250732422, 93.59396362304688)
    """The mean face (0-255, RGB) from the weights' ``meta``; std is 1."""

    input_size = 224
    head_input_size = 224

    def __init__(self, include_top: bool = True, num_classes: int = 2622) -> None:
        super().__init__()
        self.include_top = include_top
        self.num_classes = num_classes
        stages: List[Tuple[str, str]] = []
        cin = 3
        for b, (n, cout) in enumerate(zip(VGG16_BLOCKS, VGG16_WIDTHS), start=1):
            for k in range(1, n + 1):
                setattr(self, f"conv{b}_{k}", nn.Conv2d(cin, cout, kernel_size=3, stride=1, padding=1))
                # not in place: the pre-ReLU map conv{b}_{k} must survive when it is returned as a feature
                setattr(self, f"relu{b}_{k}", nn.ReLU(inplace=False))
                cin = cout
            setattr(self, f"pool{b}", nn.MaxPool2d(kernel_size=2, stride=2, padding=0, ceil_mode=False))
        stages += [(name, name) for name in vgg_stage_names(VGG16_BLOCKS)]
        if include_top:
            self.flatten = nn.Flatten(1)  # (B, 512, 7, 7) -> (B, 25088), channel-major as in the port
            self.fc6 = nn.Linear(512 * 7 * 7, 4096)
            self.relu6 = nn.ReLU(inplace=False)
            self.dropout6 = nn.Dropout(0.5)
            self.fc7 = nn.Linear(4096, 4096)
            self.relu7 = nn.ReLU(inplace=False)
            self.dropout7 = nn.Dropout(0.5)
            self.fc8 = nn.Linear(4096, num_classes)
            head = ["flatten", "fc6", "relu6", "dropout6", "fc7", "relu7", "dropout7", "fc8"]
            stages += [(name, name) for name in head]
        self.register_buffer("mean", torch.tensor(self.MEAN_RGB).view(1, 3, 1, 1), persistent=False)
        self._set_stages(stages)
        init_vgg_weights(self)
        self.description = "VGG-Face (Parkhi et al. 2015), random weights"

    def preprocess(self, x: Tensor) -> Tensor:
        """RGB in [0, 1] -> RGB in 0-255 minus the mean face. Shape: ``(B, 3, H, W) -> (B, 3, H, W)``."""
        return x * 255.0 - self.mean.to(x.dtype)

    def embedding(self, x: Tensor) -> Tensor:
        """The face descriptor: the L2-normalised ``relu7`` activation (4096-D), as used for verification.

        Shape:
            - x: :math:`(B, 3, 224, 224)`, RGB in ``[0, 1]``.
            - output: :math:`(B, 4096)`, unit length.
        """
        if not self.include_top:
            raise RuntimeError("VGGFace(include_top=False) has no fc7: build it with include_top=True for embeddings")
        return F.normalize(self.extract(x, ["relu7"])["relu7"], dim=1)
