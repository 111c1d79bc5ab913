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

Layout (one concept a module; import every name from ``facekit.hub``):

* :mod:`facekit.hub.registry`: :class:`WeightsEntry`, :data:`REGISTRY`, :func:`register`;
* :mod:`facekit.hub.errors`: :class:`WeightsError` and its subclasses;
* :mod:`facekit.hub.files`: finding (:func:`find`, :func:`search_paths`, :func:`available`), hashing
  (:func:`sha256sum`, :func:`verify`) and reading (:func:`read_weights`);
* :mod:`facekit.hub.loading`: :func:`check_state_dict`, :func:`load`, :func:`pretrained`;
* :mod:`facekit.hub.quantize`: int8 storage (:func:`quantize_state_dict`, :func:`dequantize_state_dict`);
* :mod:`facekit.hub.saving`: :func:`save`, :func:`atomic_save` (every weights file facekit writes).
"""

from __future__ import annotations

from facekit.hub.errors import (
    PackageNotInstalledError,
    WeightsError,
    WeightsFormatError,
    WeightsHashError,
    WeightsKeysError,
    WeightsNotFoundError,
)
from facekit.hub.files import (
    available,
    find,
    non_finite_tensors,
    package_dir,
    read_weights,
    search_paths,
    sha256sum,
    verify,
)
from facekit.hub.loading import _loader_class, check_state_dict, load, pretrained
from facekit.hub.quantize import QUANTIZE_SCHEMES, dequantize_state_dict, quantize_state_dict, unpack_checkpoint
from facekit.hub.registry import PACKAGE_WEIGHTS_DIR, REGISTRY, PathLike, WeightsEntry, register
from facekit.hub.saving import atomic_save, atomic_write_text, save

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
    "atomic_save",
    "atomic_write_text",
    "non_finite_tensors",
]

