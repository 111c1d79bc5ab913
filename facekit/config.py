"""Run-time configuration of facekit: profile, dataset, device, seeding and cache directory.

One code path runs at three scales (DESIGN.md section 3). The scale is picked by the environment variable
``FACEKIT_PROFILE``:

======== ============================== ===============================================
profile  used by                        scale
======== ============================== ===============================================
smoke    nbval in CI                    tiny images, a handful of steps (< 60 s a chapter)
cpu      the offline book build         64 px (128 where a paper needs it), < 4 min a chapter
gpu      Colab and GPU CI               the papers' sizes and steps
======== ============================== ===============================================

The default is ``gpu`` when CUDA is available and ``cpu`` otherwise. The dataset is picked separately with
``FACEKIT_DATA`` (default ``synth``, the procedural SynthFaces that ships with the package). Downloaded data and
weights live under ``FACEKIT_HOME`` (default ``~/.cache/facekit``, or ``$XDG_CACHE_HOME/facekit``); what facekit
writes (weights, results, checkpoints, caches) goes to ``FACEKIT_CACHE`` when it is set (:func:`cache_dir`), so
that a dataset folder can stay read-only.

Example:
    >>> import facekit.config as cfg
    >>> cfg.by_profile(smoke=2, cpu=50, gpu=1000, profile="smoke")
    2
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Optional, Sequence, TypeVar

import numpy as np
import torch

__all__ = [
    "PROFILES",
    "DATASETS",
    "ConfigError",
    "get_profile",
    "get_data",
    "get_device",
    "by_profile",
    "seed_everything",
    "cache_dir",
    "home_dir",
    "is_writable",
    "about",
    "portable_path",
    "portable_command",
]

PROFILES: tuple[str, ...] = ("smoke", "cpu", "gpu")
"""Valid values of ``FACEKIT_PROFILE``."""

DATASETS: tuple[str, ...] = ("synth", "celeba", "lfw", "ffhq", "multipie", "caspeal")
"""Valid values of ``FACEKIT_DATA``."""

T = TypeVar("T")


class ConfigError(ValueError):
    """A facekit environment variable holds a value that is not one of the valid ones."""


def _choice(var: str, valid: tuple[str, ...], default: str) -> str:
    raw = os.environ.get(var, "").strip()
    if not raw:
        return default
    value = raw.lower()
    if value not in valid:
        raise ConfigError(f"{var}={raw!r} is not valid; use one of: {', '.join(valid)}")
    return value


def get_profile() -> str:
    """Return the active profile: ``FACEKIT_PROFILE`` if set, else ``gpu`` with CUDA and ``cpu`` without.

    Raises:
        ConfigError: ``FACEKIT_PROFILE`` is set to something other than smoke, cpu or gpu.
    """
    return _choice("FACEKIT_PROFILE", PROFILES, "gpu" if torch.cuda.is_available() else "cpu")


def get_data() -> str:
    """Return the dataset in use: ``FACEKIT_DATA`` if set, else ``synth``.

    Raises:
        ConfigError: ``FACEKIT_DATA`` is set to a name not in :data:`DATASETS`.
    """
    return _choice("FACEKIT_DATA", DATASETS, "synth")


def get_device() -> torch.device:
    """Return ``cuda`` when a GPU is visible (and ``FACEKIT_DEVICE`` does not say otherwise), else ``cpu``.

    Raises:
        ConfigError: ``FACEKIT_DEVICE`` is not a torch device, or names one this machine does not have (``cuda``
            without a visible GPU, ``cuda:3`` with one GPU, ``mps`` off Apple silicon).
    """
    forced = os.environ.get("FACEKIT_DEVICE", "").strip()
    if forced:
        try:
            dev = torch.device(forced)
        except RuntimeError as err:
            raise ConfigError(f"FACEKIT_DEVICE={forced!r} is not a torch device (e.g. cpu, cuda, cuda:1)") from err
        _check_available(dev, forced)
        return dev
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _check_available(dev: torch.device, raw: str) -> None:
    """Raise ConfigError when ``dev`` (from ``FACEKIT_DEVICE=raw``) does not exist on this machine."""
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            build = f"a CUDA {torch.version.cuda} build" if torch.version.cuda else "a CPU-only build"
            raise ConfigError(
                f"FACEKIT_DEVICE={raw!r} but torch sees no CUDA GPU here (torch {torch.__version__}, {build}); "
                "unset FACEKIT_DEVICE (facekit then picks cpu) or set it to cpu"
            )
        if dev.index is not None and dev.index >= count:
            raise ConfigError(f"FACEKIT_DEVICE={raw!r} but this machine has {count} CUDA device(s): cuda:0..cuda:{count - 1}")
    elif dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ConfigError(f"FACEKIT_DEVICE={raw!r} but the MPS backend (Apple silicon) is not available here")


def by_profile(*, smoke: T, cpu: T, gpu: T, profile: Optional[str] = None) -> T:
    """Pick the value for the active profile (or for ``profile`` when given).

    Chapters use it for every scale-dependent setting, so the code path stays the same::

        steps = by_profile(smoke=5, cpu=200, gpu=2000)
    """
    name = get_profile() if profile is None else profile
    if name not in PROFILES:
        raise ConfigError(f"profile {name!r} is not valid; use one of: {', '.join(PROFILES)}")
    return {"smoke": smoke, "cpu": cpu, "gpu": gpu}[name]


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python, NumPy and torch (CPU and CUDA) and return a ``torch.Generator`` seeded the same way.

    This is the one seeding function of facekit; call it at the top of a chapter or script.
    """
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    return torch.Generator().manual_seed(seed)


def _default_home() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "facekit"


_warned_fallback: set[str] = set()


def is_writable(path: Path) -> bool:
    """Whether ``path`` (or, if absent, its nearest existing parent) is meant to be written.

    Its permission bits must allow writing, not only :func:`os.access`: root may write anywhere, but a folder marked
    read-only (``chmod a-w``, like a shared data kit) must stay untouched.
    """
    import stat

    path = Path(path)
    while not path.exists():
        if path.parent == path:
            return False
        path = path.parent
    return bool(stat.S_IMODE(path.stat().st_mode) & 0o222) and os.access(path, os.W_OK)


def home_dir(*parts: str) -> Path:
    """``FACEKIT_HOME/parts`` (never created): where you put datasets (``data/``) and weight files (``weights/``)
    by hand. facekit only reads there; see :func:`cache_dir` for where it writes."""
    home = os.environ.get("FACEKIT_HOME", "").strip()
    return (Path(home).expanduser() if home else _default_home()).joinpath(*parts)


def cache_dir(*parts: str, create: bool = True) -> Path:
    """Return the folder where facekit keeps ``parts`` (e.g. ``"data"``, ``"weights"``), creating it unless
    ``create=False``.

    Two roots, so that your data may live in a read-only folder:

    * ``FACEKIT_HOME`` (default ``$XDG_CACHE_HOME/facekit`` or ``~/.cache/facekit``): datasets, under
      ``FACEKIT_HOME/data/<name>``. facekit only reads there (a download you ask for, such as
      :func:`facekit.data.celeba.download_celeba`, is the one exception);
    * ``FACEKIT_CACHE`` (default: ``FACEKIT_HOME``): everything facekit writes: ``weights/`` (downloaded
      weights), ``results/`` (the results table), ``runs/`` (training checkpoints), ``cache/`` (aligned faces).

    When ``FACEKIT_CACHE`` is not set and ``FACEKIT_HOME`` cannot be written (a read-only data folder), writes go
    to the default folder instead, said once in a warning.

    Raises:
        ConfigError: the folder must be created and cannot be (read-only, a file in its place, no permission).
    """
    import warnings

    home = os.environ.get("FACEKIT_HOME", "").strip()
    cache = os.environ.get("FACEKIT_CACHE", "").strip()
    home_root = Path(home).expanduser() if home else _default_home()
    is_data = not parts or parts[0] == "data"
    root = home_root if is_data or not cache else Path(cache).expanduser()
    path = root.joinpath(*parts)
    if not create:
        return path
    try:
        if not is_data and not cache and home and root.is_dir() and not is_writable(path):
            raise PermissionError(13, "marked read-only", str(path))  # root could write, but must not
        path.mkdir(parents=True, exist_ok=True)
        return path
    except OSError as err:  # read-only folder, a file in the way, no permission
        fallback = _default_home()
        can_fall_back = (not is_data and not cache and home and root.is_dir() and fallback != root)
        if not can_fall_back:
            where = (f"FACEKIT_CACHE={cache!r}" if root != home_root else f"FACEKIT_HOME={home!r}" if home
                     else f"the default cache folder {root}")
            raise ConfigError(
                f"cannot create the folder {path} under {where}: {err.strerror or err}. Set FACEKIT_CACHE (or "
                "FACEKIT_HOME) to a folder you can write (datasets may stay read-only: facekit only reads under "
                "FACEKIT_HOME/data)"
            ) from err
    if home not in _warned_fallback:
        _warned_fallback.add(home)
        warnings.warn(f"FACEKIT_HOME={home!r} cannot be written: facekit reads data from it and writes its "
                      f"caches and results to {fallback} (set FACEKIT_CACHE to choose)", stacklevel=2)
    return cache_dir_at(fallback, *parts)


def cache_dir_at(root: Path, *parts: str) -> Path:
    """``root/parts``, created; a :class:`ConfigError` that names the folder when it cannot be."""
    path = Path(root).joinpath(*parts)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"cannot create the folder {path}: {err.strerror or err}. Set FACEKIT_CACHE to a folder "
                          "you can write") from err
    return path


def about() -> dict[str, str]:
    """Print (and return) the versions, profile, device, dataset and cache directory in use."""
    import platform

    from facekit._version import __version__

    info: dict[str, str] = {
        "facekit": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
    }
    for mod in ("torchvision", "cv2", "numpy"):
        try:
            info[mod] = __import__(mod).__version__
        except Exception:  # an optional module that is absent or broken must not stop about()
            info[mod] = "not installed"
    # about() is what a user runs to see what is wrong: a bad setting is printed, not raised
    try:
        info["profile"] = get_profile()
    except ConfigError as err:
        info["profile"] = f"INVALID: {err}"
    try:
        dev = get_device()
        info["device"] = str(dev) + (f" ({torch.cuda.get_device_name(dev)})" if dev.type == "cuda" else "")
    except ConfigError as err:
        info["device"] = f"INVALID: {err}"
    try:
        info["data"] = get_data()
    except ConfigError as err:
        info["data"] = f"INVALID: {err}"
    info["home"] = str(cache_dir("data", create=False).parent)
    info["cache"] = str(cache_dir("results", create=False).parent)
    width = max(len(k) for k in info)
    for key, value in info.items():
        print(f"{key:<{width}} : {value}")
    return info


def portable_path(value: str, cwd: Optional[Path] = None) -> str:
    """``value`` without this machine's absolute paths, for training records that ship (DESIGN: no absolute paths).

    An absolute path inside ``cwd`` (default: the working directory) becomes relative to it; one inside the
    temporary folder becomes ``$TMPDIR/...``, one inside the home folder ``$HOME/...`` (so the command still runs
    in a shell); any other absolute path becomes relative to ``cwd``. ``--option=/abs/path`` keeps its option.
    Anything that is not an absolute path is returned unchanged.

    Args:
        value: one command-line argument.
        cwd: the folder relative paths are taken from (default: :func:`os.getcwd`).

    Returns:
        the argument, with its path (if any) relative.

    Example:
        >>> import tempfile
        >>> portable_path(tempfile.gettempdir() + "/runs/e2f")
        '$TMPDIR/runs/e2f'
        >>> portable_path("--out=" + os.getcwd() + "/weights/x.pt"), portable_path("--steps"), portable_path("12")
        ('--out=weights/x.pt', '--steps', '12')
    """
    import tempfile

    prefix, eq, rest = value.partition("=") if value.startswith("--") else ("", "", value)
    if not eq:
        prefix, rest = "", value
    if not os.path.isabs(rest):
        return value
    here = Path(cwd or os.getcwd()).resolve()
    path = Path(os.path.abspath(rest))
    out = None
    for root, name in ((here, None), (Path(tempfile.gettempdir()).resolve(), "$TMPDIR"), (Path.home().resolve(), "$HOME")):
        try:
            rel = path.resolve().relative_to(root)
        except ValueError:
            continue
        out = str(rel) if name is None else (name if str(rel) == "." else f"{name}/{rel}")
        break
    if out is None:
        out = os.path.relpath(path, here)
    return prefix + eq + out


def portable_command(script: str, argv: Optional[Sequence[str]] = None, *, threads_env: bool = True) -> str:
    """The command that ran ``script``, as training records store it: ``[OMP_NUM_THREADS=n] python script args``.

    Every absolute path among the arguments is made relative with :func:`portable_path`.

    Args:
        script: the script, relative to the repository root (``"scripts/train_eye2face.py"``).
        argv: its arguments (default: ``sys.argv[1:]``).
        threads_env: prefix ``OMP_NUM_THREADS=n`` when that variable is set.

    Returns:
        one line, e.g. ``"OMP_NUM_THREADS=1 python scripts/train_oracle.py --out $TMPDIR/or2/oracle.pt"``.
    """
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    env = f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']} " if threads_env and "OMP_NUM_THREADS" in os.environ else ""
    return env + " ".join(["python", script, *(portable_path(str(a)) for a in args)])
