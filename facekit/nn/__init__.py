"""Networks of facekit: feature extractors with named layers (this file's exports), and the papers' networks.

Feature networks (input: RGB in ``[0, 1]``, ``(B, 3, H, W)``; each normalises inside):

* :class:`VGGFace`: VGG-Face (Parkhi et al. 2015), the feature network of CNIA and DIAT; weights
  ``vgg_face_dag.pth`` (not shipped, see :mod:`facekit.hub`);
* :class:`VGG19`: torchvision's VGG19 layout and ImageNet weights, the loss network of eye-to-face, with an
  optional Caffe-style preprocessing;
* :class:`SynthFaceNet`: a narrow VGG-16 trained on SynthFaces identities, shipped with facekit; the offline
  stand-in for VGG-Face on SynthFaces;
* :class:`DlibFaceNet`: dlib's face-recognition ResNet, read from the ``.dat`` file that the
  ``face_recognition_models`` package ships: a real, pretrained face network that needs no download.

:func:`face_network` returns VGG-Face when its weights are present and SynthFaceNet otherwise, and says which.

Layer names (:mod:`facekit.nn.features`): ``convB_K`` (before the ReLU), ``reluB_K``, ``poolB``; an integer ``l``
is the papers' "*l*-th convolutional layer", 1-based, and means its ReLU output (``5 -> "relu3_1"``).

Example:
    >>> import torch
    >>> from facekit.nn import FeatureExtractor, SynthFaceNet
    >>> ext = FeatureExtractor(SynthFaceNet(num_classes=10), [4, 5])    # DIAT: the 4th and 5th conv layers
    >>> sorted(ext(torch.rand(1, 3, 64, 64)))
    ['relu2_2', 'relu3_1']
"""

from __future__ import annotations

import warnings
from typing import Any, Optional

from facekit.nn.features import (
    FeatureExtractor,
    FeatureNet,
    LayerSpec,
    check_image,
    freeze,
    init_vgg_weights,
    vgg_stage_names,
)
from facekit.nn.synthfacenet import SynthFaceNet
from facekit.nn.dlib_resnet import DlibFaceNet
from facekit.nn.eye2face import EyeFaceCritic, EyeToFace
from facekit.nn.vgg19 import VGG19, VGG19_LAYER_INDEX
from facekit.nn.vggface import VGGFace

__all__ = [
    "FeatureNet",
    "FeatureExtractor",
    "LayerSpec",
    "check_image",
    "freeze",
    "init_vgg_weights",
    "vgg_stage_names",
    "VGGFace",
    "VGG19",
    "VGG19_LAYER_INDEX",
    "SynthFaceNet",
    "DlibFaceNet",
    "face_network",
    "EyeToFace",
    "EyeFaceCritic",
]


def face_network(
    prefer: str = "vgg_face",
    *,
    path: Optional[str] = None,
    include_top: bool = False,
    device: Any = None,
    verbose: bool = True,
) -> FeatureNet:
    """The face network a chapter should use: VGG-Face when its weights are here, else SynthFaceNet.

    Args:
        prefer: ``"vgg_face"`` (use VGG-Face if its weights are found) or ``"synthface_net"`` (always use the
            SynthFaces-trained network).
        path: an explicit file or folder for the VGG-Face weights (see :func:`facekit.hub.find`).
        include_top: for VGG-Face, also load ``fc6``-``fc8`` (only needed for classification or embeddings;
            the perceptual losses use convolutional layers).
        device: where to put the network.
        verbose: print which network is in use (chapters should show it).

    Returns:
        a frozen network in eval mode; ``net.description`` says which network and which weights, and
        ``net.pretrained_name`` is ``"vgg_face"``, ``"synthface_net"`` or ``None`` (random weights: only when
        even the shipped SynthFaceNet checkpoint is missing, with a warning).

    Example:
        >>> net = face_network("synthface_net", verbose=False)
        >>> type(net).__name__
        'SynthFaceNet'
    """
    from facekit import hub

    if prefer not in ("vgg_face", "synthface_net"):
        raise ValueError(f"prefer must be 'vgg_face' or 'synthface_net'; got {prefer!r}")
    net: FeatureNet
    if prefer == "vgg_face" and hub.available("vgg_face", path):
        net = hub.pretrained("vgg_face", path, include_top=include_top)
    else:
        if prefer == "vgg_face" and path is not None:
            hub.find("vgg_face", path)  # an explicit path that does not hold the file is an error, not a fallback
        if hub.available("synthface_net"):
            net = hub.pretrained("synthface_net")
        else:
            warnings.warn(
                "neither the VGG-Face weights nor the shipped SynthFaceNet checkpoint were found: using a "
                "SynthFaceNet with RANDOM weights (features are generic, identity scores meaningless). "
                "Run scripts/train_synthface_net.py or reinstall facekit.",
                RuntimeWarning,
                stacklevel=2,
            )
            net = freeze(SynthFaceNet())
        if prefer == "vgg_face":
            net.description += " -- VGG-Face weights not found (see facekit.hub.find('vgg_face')), using the stand-in"
    if device is not None:
        net.to(device)
    if verbose:
        print(f"face network: {net.description}")
    return net
