"""Loading a registered network: :func:`load` (its checked state dict) and :func:`pretrained` (the network).

:func:`check_state_dict` compares a file's names and shapes with a network's. Part of :mod:`facekit.hub`; import
the names from there.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import torch
from torch import Tensor, nn

from facekit.config import cache_dir, portable_path
from facekit.hub.errors import WeightsError, WeightsFormatError, WeightsKeysError, WeightsNotFoundError
from facekit.hub.files import _check_hash, _not_found, find, read_weights
from facekit.hub.quantize import unpack_checkpoint
from facekit.hub.registry import PACKAGE_WEIGHTS_DIR, PathLike, WeightsEntry, _entry

__all__ = ["check_state_dict", "load", "pretrained"]


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


def _shown(file: Path) -> str:
    """How a weights file is named in ``net.description`` (printed in the book and in training records): a file
    shipped in the package as ``facekit/weights/<name>``, any other without this machine's absolute path."""
    try:
        return "facekit/weights/" + str(Path(file).resolve().relative_to(PACKAGE_WEIGHTS_DIR))
    except ValueError:
        return portable_path(str(file))


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
    net.description = f"{entry.description}, weights {_shown(file)}"
    net.pretrained_name = name
    net.eval()
    net.requires_grad_(False)
    if device is not None:
        net.to(device)
    return net
