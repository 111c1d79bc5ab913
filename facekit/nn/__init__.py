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

The papers' networks: :class:`EyeToFace` and :class:`EyeFaceCritic` (*From an Eye to a Face*),
:class:`GenerationNet`, :class:`RefinementNet` and :class:`SeeAnotherYou` (*Learning to See another You*),
:class:`TransformNet`, :class:`AttributeDiscriminator`, :class:`Denoiser` and :class:`LocalEnhancer` (DIAT).

:func:`face_network` returns VGG-Face when its weights are present and otherwise the offline network that measured
best for the data at hand (DlibFaceNet on real photos, SynthFaceNet on SynthFaces within a CPU budget), and says
which and why.

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
from typing import Any, Dict, Optional

from facekit.nn._utils import count_parameters
from facekit.nn.features import (
    FeatureExtractor,
    FeatureNet,
    LayerSpec,
    check_dtype,
    check_image,
    freeze,
    init_vgg_weights,
    vgg_stage_names,
    weights_dtype,
)
from facekit.nn.synthfacenet import SynthFaceNet
from facekit.nn.invertible import InvertibleFaceNet
from facekit.nn.dlib_resnet import DlibFaceNet
from facekit.nn.eye2face import EyeFaceCritic, EyeToFace
from facekit.nn.see_another_you import GenerationNet, RefinementNet, SeeAnotherYou
from facekit.nn.diat import AttributeDiscriminator, Denoiser, LocalEnhancer, TransformNet  # DIAT (chapter 06)
from facekit.nn.vgg19 import VGG19, VGG19_LAYER_INDEX
from facekit.nn.vggface import VGGFace

__all__ = [
    "FeatureNet",
    "FeatureExtractor",
    "LayerSpec",
    "check_image",
    "check_dtype",
    "count_parameters",
    "weights_dtype",
    "freeze",
    "init_vgg_weights",
    "vgg_stage_names",
    "VGGFace",
    "VGG19",
    "VGG19_LAYER_INDEX",
    "SynthFaceNet",
    "InvertibleFaceNet",
    "DlibFaceNet",
    "face_network",
    "NETWORKS",
    "FACE_NETWORK_EVIDENCE",
    "EyeToFace",
    "EyeFaceCritic",
    "GenerationNet",
    "RefinementNet",
    "SeeAnotherYou",
    "TransformNet", "AttributeDiscriminator", "Denoiser", "LocalEnhancer",
]


NETWORKS: tuple = ("auto", "vgg_face", "synthface_net", "dlib_face_resnet")
"""What :func:`face_network` accepts as ``prefer`` (and the ``FACEKIT_NETWORK`` environment variable)."""

FACE_NETWORK_EVIDENCE: Dict[str, str] = {
    "cnia_synth": (
        "CNIA on SynthFaces (`OMP_NUM_THREADS=1 python bench/cnia.py --no-speed --threads 1 --network NAME`: 150 "
        "steps, 4 references x CNIA's 6 edits, judged by the SynthFaces oracle), attribute success / identity kept. "
        "Through DlibFaceNet (stage2): the paper's setting 0.667 / 0.125, blank start with Adam 0.792 / 0.417, "
        "reference start 0.833 / 0.583; 845 s. Through SynthFaceNet (relu3_1): 0.458 / 0.000, 0.542 / 0.000, "
        "0.542 / 0.958; 215 s (1 thread on a shared 2-core CPU). So DlibFaceNet edits more often and keeps identity "
        "from a blank start (SynthFaceNet never does), keeps it less from the reference start, and takes 3.9x the "
        "time. Those DlibFaceNet rows used plain gradient descent's step 20, past its stable step; with its default "
        "step 2 (facekit.methods.cnia.default_gd_step, issue 18; the same command with --n 2 --settings "
        "paper,reference_start, 151 s): paper 0.750 / 0.083, reference start 0.917 / 1.000 (SynthFaceNet at "
        "--n 2: 0.333 / 0.000, 0.583 / 0.917)"
    ),
    "inversion_real": (
        "feature inversion of real faces at the chapters' 64 px from CNIA's conv3_1 (DlibFaceNet stage2 vs "
        "SynthFaceNet relu3_1; `OMP_NUM_THREADS=1 python bench/features.py --only dlib --threads 1 --faces 1 "
        "--real-size 64`, plus `--real-dir <8 CelebA images> --real-limit 8`, 150 steps): dlib's HOG detector (a "
        "separate model) finds a face in 2/2 and 8/8 reconstructions through DlibFaceNet, 1/2 and 7/8 through "
        "SynthFaceNet; dlib's descriptor, an independent judge of the SynthFaceNet rows only, calls 1/2 and 0/8 of "
        "SynthFaceNet's reconstructions the same person (no independent real-face judge of DlibFaceNet's exists "
        "offline: those rows are flagged, not counted)"
    ),
}
"""The measurements behind :func:`face_network`'s choice, with the commands that produced them."""


def face_network(
    prefer: Optional[str] = None,
    *,
    data: Optional[str] = None,
    profile: Optional[str] = None,
    path: Optional[str] = None,
    include_top: bool = False,
    device: Any = None,
    verbose: bool = True,
) -> FeatureNet:
    """The face network a chapter should use; it prints which one and why.

    The rule, in order (the figures are in :data:`FACE_NETWORK_EVIDENCE`):

    1. **VGG-Face** (the papers' network) when its weights are here.
    2. Otherwise, on **real photos** (``FACEKIT_DATA`` other than ``synth``): :class:`DlibFaceNet`, the only
       offline network trained on real faces. Measured (``inversion_real``): rebuilt through CNIA's conv3_1,
       real faces stay faces for a separate detector more often through DlibFaceNet, and through SynthFaceNet
       they almost never stay the same person for dlib.
    3. On **SynthFaces**, in the ``smoke`` and ``cpu`` profiles: :class:`SynthFaceNet`. Measured
       (``cnia_synth``): through DlibFaceNet, CNIA succeeds at more edits in every setting and, in the paper's
       blank-start settings, keeps identity where SynthFaceNet never does (from the reference start, less at the
       old step 20 and more at its default step 2), and costs 3.9x the time (every render is resized to 150 px),
       which takes the chapters past their CPU budgets. In the ``gpu`` profile, where no budget binds: DlibFaceNet.
    4. A network that is chosen but cannot load (``face_recognition_models`` not installed) falls back to the next
       (SynthFaceNet; random weights only when even its shipped checkpoint is gone, with a warning).

    Args:
        prefer: ``"auto"`` (the rule above), ``"vgg_face"`` (the same: VGG-Face when present), or a network to use
            whatever the data: ``"synthface_net"``, ``"dlib_face_resnet"``. Default: ``FACEKIT_NETWORK`` if set,
            else ``"auto"``.
        data: the data the network will see (default :func:`facekit.config.get_data`).
        profile: the profile (default :func:`facekit.config.get_profile`).
        path: an explicit file or folder for the VGG-Face weights (see :func:`facekit.hub.find`).
        include_top: for VGG-Face, also load ``fc6``-``fc8`` (only needed for classification or embeddings;
            the perceptual losses use convolutional layers).
        device: where to put the network.
        verbose: print which network is in use and why (chapters should show it).

    Returns:
        a frozen network in eval mode; ``net.description`` says which network and which weights, and ends with
        the reason; ``net.pretrained_name`` is ``"vgg_face"``, ``"dlib_face_resnet"``, ``"synthface_net"`` or
        ``None`` (random weights).

    Example:
        >>> net = face_network("synthface_net", verbose=False)
        >>> type(net).__name__
        'SynthFaceNet'
    """
    import os

    from facekit import hub
    from facekit.config import get_data, get_profile

    if prefer is None:
        prefer = os.environ.get("FACEKIT_NETWORK", "").strip().lower() or "auto"
    if prefer not in NETWORKS:
        raise ValueError(f"prefer (or FACEKIT_NETWORK) must be one of {', '.join(NETWORKS)}; got {prefer!r}")
    data = get_data() if data is None else data
    profile = get_profile() if profile is None else profile
    if prefer in ("auto", "vgg_face") and hub.available("vgg_face", path):
        choice, why = "vgg_face", "its weights are here (the papers' network)"
    else:
        if prefer in ("auto", "vgg_face") and path is not None:
            hub.find("vgg_face", path)  # an explicit path that does not hold the file is an error, not a fallback
        absent = "VGG-Face weights not found (see facekit.hub.find('vgg_face')); " if prefer in ("auto", "vgg_face") else ""
        if prefer in ("synthface_net", "dlib_face_resnet"):
            choice, why = prefer, f"asked for ({prefer!r})"
        elif data != "synth":
            choice, why = "dlib_face_resnet", (
                f"{absent}data {data!r} are real photos: DlibFaceNet is the offline network trained on real faces")
        elif profile == "gpu":
            choice, why = "dlib_face_resnet", (
                f"{absent}on SynthFaces CNIA edits better through it than through SynthFaceNet in the paper's "
                "setting (facekit.nn.FACE_NETWORK_EVIDENCE), and the gpu profile has time for it")
        else:
            choice, why = "synthface_net", (
                f"{absent}on SynthFaces in the {profile!r} profile: CNIA through DlibFaceNet edits more often but "
                "costs 4x the time, beyond this profile's budget (facekit.nn.FACE_NETWORK_EVIDENCE; "
                "FACEKIT_NETWORK=dlib_face_resnet to use it anyway)")
        if choice == "dlib_face_resnet" and not hub.available(choice):
            choice, why = "synthface_net", why + "; but dlib's model file is not installed (pip install " \
                                                 "face_recognition_models), so the stand-in"
    net: FeatureNet
    if choice == "vgg_face":
        net = hub.pretrained("vgg_face", path, include_top=include_top)
    elif choice == "dlib_face_resnet":
        net = hub.pretrained("dlib_face_resnet")
    elif hub.available("synthface_net"):
        net = hub.pretrained("synthface_net")
    else:
        warnings.warn(
            "the shipped SynthFaceNet checkpoint was not found: using a SynthFaceNet with RANDOM weights (features "
            "are generic, identity scores meaningless). Run scripts/train_synthface_net.py or reinstall facekit.",
            RuntimeWarning,
            stacklevel=2,
        )
        net = freeze(SynthFaceNet())
    net.description += f" -- chosen because {why}"
    if device is not None:
        net.to(device)
    if verbose:
        print(f"face network: {net.description}")
    return net
