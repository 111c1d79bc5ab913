"""The registry of weights files facekit knows: :class:`WeightsEntry`, :data:`REGISTRY` and :func:`register`.

Every weights file facekit knows has an entry here (file name, URL, SHA-256 where known, licence, and the class
that loads it). Part of :mod:`facekit.hub`; import the names from there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Union

__all__ = ["WeightsEntry", "REGISTRY", "register", "PACKAGE_WEIGHTS_DIR", "PathLike"]

PathLike = Union[str, "os.PathLike[str]"]

PACKAGE_WEIGHTS_DIR: Path = Path(__file__).resolve().parent.parent / "weights"
"""``facekit/weights/``: checkpoints shipped inside the package."""


@dataclass(frozen=True)
class WeightsEntry:
    """One weights file facekit knows about.

    Attributes:
        name: the key in :data:`REGISTRY` (``"vgg_face"``).
        filename: the file's name on disk (``"vgg_face_dag.pth"``).
        url: where to download it (``None`` for files that ship in the package).
        sha256: the file's SHA-256 in hex, or a prefix of it (torchvision puts the first 8 digits in its file
            names); ``None`` when not known, in which case the hash is not checked.
        licence: the terms under which the weights are published.
        loader: the class that loads them, as ``"module:Class"``; empty for files that are not PyTorch networks
            (dlib's shape predictors: :func:`find` locates them, dlib reads them).
        description: one line for messages and for ``net.description``.
        size: approximate download size, for messages.
        torch_hub: also look in torch hub's checkpoints folder (torchvision's files).
        kwargs: default constructor arguments for ``loader``.
        package: the pip-installable Python package that ships the file (``"face_recognition_models"``), or
            ``None``; its folder is searched (see :func:`package_dir`).
        package_subdir: where in that package the file lies (``"models"``).
        reader: a ``"module:function"`` that reads the file into ``(state_dict, constructor kwargs)`` when it is
            not a PyTorch file (dlib's ``.dat``: :func:`facekit.nn.dlib_resnet.read_dlib_face_resnet`).
    """

    name: str
    filename: str
    url: Optional[str]
    sha256: Optional[str]
    licence: str
    loader: str
    description: str
    size: str = ""
    torch_hub: bool = False
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    package: Optional[str] = None
    package_subdir: str = ""
    reader: Optional[str] = None


REGISTRY: Dict[str, WeightsEntry] = {}
"""Name -> :class:`WeightsEntry` of every weights file facekit knows."""


def register(entry: WeightsEntry, *, overwrite: bool = False) -> WeightsEntry:
    """Add ``entry`` to :data:`REGISTRY` (for your own checkpoints, e.g. in coursework) and return it."""
    if entry.name in REGISTRY and not overwrite:
        raise ValueError(f"weights {entry.name!r} are already registered; pass overwrite=True to replace them")
    REGISTRY[entry.name] = entry
    return entry


register(
    WeightsEntry(
        name="vgg_face",
        filename="vgg_face_dag.pth",
        url="https://www.robots.ox.ac.uk/~albanie/models/pytorch-mcn/vgg_face_dag.pth",
        sha256=None,  # not published by the authors; the keys and shapes are still checked
        licence=(
            "VGG-Face (Parkhi, Vedaldi, Zisserman, BMVC 2015), Visual Geometry Group, University of Oxford: "
            "released for non-commercial research use; check the terms at "
            "https://www.robots.ox.ac.uk/~vgg/software/vgg_face/ before using it. PyTorch port by S. Albanie."
        ),
        loader="facekit.nn:VGGFace",
        description="VGG-Face (Parkhi et al. 2015, MatConvNet port vgg_face_dag.pth)",
        size="about 580 MB",
    )
)
register(
    WeightsEntry(
        name="vgg19",
        filename="vgg19-dcbb9e9d.pth",
        url="https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
        sha256="dcbb9e9d",  # torchvision's convention: the file name holds the first 8 hex digits of its SHA-256
        licence=(
            "torchvision ImageNet weights (BSD-3-Clause code); trained on ImageNet, whose terms allow "
            "non-commercial research and educational use"
        ),
        loader="facekit.nn:VGG19",
        description="VGG19 (torchvision ImageNet weights, IMAGENET1K_V1)",
        size="about 550 MB",
        torch_hub=True,
    )
)
register(
    WeightsEntry(
        name="synthface_net",
        filename="synthface_net.pt",
        url=None,  # ships in facekit/weights/, made by scripts/train_synthface_net.py
        sha256="810f503c37ec54c0f57f3f1ed4493fd8ff1cf3664e4b0082f4fc2dbc964b4862",
        licence="MIT (facekit); trained only on procedurally generated SynthFaces",
        loader="facekit.nn:SynthFaceNet",
        description="SynthFaceNet (trained on SynthFaces identities, shipped with facekit)",
        size="a few MB",
    )
)

register(
    WeightsEntry(
        name="oracle",
        filename="oracle.pt",
        url=None,  # ships in facekit/weights/ with oracle.json beside it, made by scripts/train_oracle.py
        sha256="0a8c5e8ed9b1d26a0122dd49ae364206feb004d572fe184846c5e9d4abf10827",
        licence="MIT (facekit); trained only on procedurally generated SynthFaces",
        loader="facekit.eval.oracle:OracleNet",
        description="the SynthFaces oracle, the judge of facekit.eval (load it with facekit.eval.load_oracle)",
        size="a few MB",
    )
)

register(
    WeightsEntry(
        name="eye2face",
        filename="eye2face.pt",
        url=None,  # ships in facekit/weights/ (with eye2face.json, its training record), made by scripts/train_eye2face.py
        sha256="8b18c1389053be2b1fccd5602b3f6220bbc0da4178882f26578e931d2930826a",
        licence="MIT (facekit); trained only on procedurally generated SynthFaces",
        loader="facekit.nn:EyeToFace",
        description="eye-to-face autoencoder (balanced feature loss, trained on SynthFaces, shipped with facekit)",
        size="2.7 MB",
    )
)

# The equal-budget loss comparison of chapter 4: one generator per loss (scripts/train_eye2face.py --losses),
# stored in 8 bits (save(quantize="int8")) with eye2face_<loss>.json, its training record, and eye2face_losses.json
_EYE2FACE_LOSS_SHA256 = {
    "l1": "0dae410940cb665eb5f95f255bf8300d7fc87abd4b314b4385144d3a9f366489",
    "normalized": "ad058e7ef721f933c3e4b484832e4e755edd488970e7b74c09ee57c6eee709d2",
    "balanced": "c5709ad06dc1eabbceb85ef58ed35c51b251927fc3465380f715fdc25fccc0e4",
    "wgan_gp": "f417e3f5545c91da57e8cfc922702c408b1a161986955b7b8886d96cbd269ece",
}
for _loss, _digest in _EYE2FACE_LOSS_SHA256.items():
    register(
        WeightsEntry(
            name=f"eye2face_{_loss}",
            filename=f"eye2face_{_loss}.pt",
            url=None,  # ships in facekit/weights/
            sha256=_digest,
            licence="MIT (facekit); trained only on procedurally generated SynthFaces",
            loader="facekit.nn:EyeToFace",
            description=f"eye-to-face autoencoder trained with the {_loss} loss (equal-budget comparison, "
            "SynthFaces, int8 weights, shipped with facekit)",
            size="1.4 MB",
        )
    )

# dlib's models, shipped by the face_recognition_models wheel (https://github.com/ageitgey/face_recognition_models,
# MIT) in its models/ folder. dlib-models' README: Davis King released his model files into the public domain; the
# 68-point predictor is trained on iBUG 300-W, whose licence excludes commercial use.
_DLIB_PACKAGE = dict(package="face_recognition_models", package_subdir="models")
register(
    WeightsEntry(
        name="dlib_face_resnet",
        filename="dlib_face_recognition_resnet_model_v1.dat",
        url="http://dlib.net/files/dlib_face_recognition_resnet_model_v1.dat.bz2",  # bzip2: decompress it
        sha256="55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",  # face_recognition_models 0.3.0
        licence=(
            "public domain (Davis King, dlib-models); shipped by the face_recognition_models package (MIT). "
            "Trained on about 3 million faces (FaceScrub, VGG dataset, web images); 99.38 % on LFW"
        ),
        loader="facekit.nn:DlibFaceNet",
        description="DlibFaceNet (dlib's face-recognition ResNet, dlib_face_recognition_resnet_model_v1)",
        size="22 MB",
        reader="facekit.nn.dlib_resnet:read_dlib_face_resnet",
        **_DLIB_PACKAGE,
    )
)
register(
    WeightsEntry(
        name="dlib_shape_5",
        filename="shape_predictor_5_face_landmarks.dat",
        url="http://dlib.net/files/shape_predictor_5_face_landmarks.dat.bz2",
        sha256="c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
        licence="public domain (Davis King, dlib-models); shipped by the face_recognition_models package (MIT)",
        loader="",  # a dlib shape predictor: dlib.shape_predictor(str(hub.find("dlib_shape_5")))
        description="dlib's 5-point landmark predictor (eye corners and the bottom of the nose)",
        size="9 MB",
        **_DLIB_PACKAGE,
    )
)
register(
    WeightsEntry(
        name="dlib_shape_68",
        filename="shape_predictor_68_face_landmarks.dat",
        url="http://dlib.net/files/shape_predictor_68_face_landmarks.dat.bz2",
        sha256="fbdc2cb80eb9aa7a758672cbfdda32ba6300efe9b6e6c7a299ff7e736b11b92f",
        licence=(
            "Davis King (dlib-models); trained on iBUG 300-W, whose licence excludes commercial use; shipped by "
            "the face_recognition_models package (MIT)"
        ),
        loader="",  # a dlib shape predictor: dlib.shape_predictor(str(hub.find("dlib_shape_68")))
        description="dlib's 68-point landmark predictor (iBUG 300-W layout)",
        size="100 MB",
        **_DLIB_PACKAGE,
    )
)


_SEE_ANOTHER_YOU_SHA256 = {  # both stages of each task, float16; made by scripts/train_see_another_you.py
    "pose": "3ecd52a819a98b775c89ecb2d0a0470353acd848a478b5b8e1f3431a3b7bb888",
    "accessory": "28aa0e163fdbe98e91617bfbcdebc57476092c02ebc81800d6a8414132f73293",
    "completion": "6bd02069364b8c0b22323b462de7a90aa365f0c26a806efb47deb246086d2dd6",
}
for _task, _digest in _SEE_ANOTHER_YOU_SHA256.items():
    register(
        WeightsEntry(
            name=f"see_another_you_{_task}",
            filename=f"see_another_you_{_task}.pt",
            url=None,  # ships in facekit/weights/ with see_another_you_<task>.json, its training record
            sha256=_digest,
            licence="MIT (facekit); trained only on procedurally generated SynthFaces",
            loader="facekit.nn:SeeAnotherYou",
            description=f"Learning to See another You, {_task} task: generation + refinement networks (SynthFaces, "
            "32 px grey, shipped with facekit)",
            size="4 MB",
        )
    )
# DIAT / DIAT-A (chapter 06): made by scripts/train_diat.py (its record: facekit/weights/diat_train.json)
for _name, _cls, _sha in (
    ("diat1_male_to_female", "TransformNet", "cea6b22d90e9bcd7733a7462bf1f87e39c4a7cd8dce1a5aace7837ce4ab103e1"),
    ("diat1_mouth_open", "TransformNet", "2433c605fc4c22f1e03007eb1bc6cfe731e124f10510342b5af03d993402f3f8"),
    ("diat2_male_to_female", "TransformNet", "a5f651cd056182c38e4ea686abe646615298abdc5277a7b1c338b7420b8db790"),
    ("diat2_mouth_open", "TransformNet", "e184d309475876121cb765c3a1aac5e511f769e593597a0600640ac8d7b471a0"),
    ("diat_a_eyeglasses_remove", "TransformNet", "28a5af529888644f60e867508701418e32cc196eaf911f4b4411f175ffaf0e8e"),
    ("diat_a_male_to_female", "TransformNet", "ee49ccea557486b55664c0d825b809fd017105da93857f02efddb17a793e1498"),
    ("diat_a_mouth_close", "TransformNet", "c6fd510a1309a69be21c032750eaad111aa66bb844fd89af8c70fffbede60c71"),
    ("diat_a_mouth_open", "TransformNet", "47f409f5983ccccfb3f17baaf760716812b1bac933a87b373b8d923879623c3e"),
    ("diat_a_older_to_younger", "TransformNet", "fd669fb5b4c74f20b68e0196d6cda2ca3da5d86f4bbf17f07eba06c8bd5520e4"),
    ("diat_enhance_eyeglasses_remove", "LocalEnhancer", "47dacd47a44ca74e760ac04364fea5a5fd0669738268158415c5bd39491d3738"),
    ("diat_enhance_global", "TransformNet", "4badf6e4d065ab11a7747e9aa73dd18fa8a204f28fb53e12f62d3977c0550a66"),
    ("diat_enhance_mouth_close", "LocalEnhancer", "30a1ddf626c67b86e717c37244c19cfb19c3832549176c7027dca964df2604ec"),
    ("diat_enhance_mouth_open", "LocalEnhancer", "3de2247ebd9989519731cc3e696234442b35d748829d6e3d18bfa3dcfe6c667a"),
    ("diat_male_to_female", "TransformNet", "d9b903e432fd340413049828a2ddea5118ff2e785f5c379e1eb3ee5bbfa8ae67"),
    ("diat_mouth_open", "TransformNet", "e184d309475876121cb765c3a1aac5e511f769e593597a0600640ac8d7b471a0"),
):
    register(WeightsEntry(name=_name, filename=f"{_name}.pt", url=None, sha256=_sha, loader=f"facekit.nn.diat:{_cls}",
                          licence="MIT (facekit); trained only on procedurally generated SynthFaces",
                          description=f"DIAT network {_name} (SynthFaces, 64 px, scripts/train_diat.py, 8-bit)", size="< 2 MB"))


def _entry(name: str) -> WeightsEntry:
    if name not in REGISTRY:
        raise KeyError(f"no weights named {name!r}; known: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]

