"""The errors of :mod:`facekit.hub`: every one says what went wrong with which file, and what to do.

They are all :class:`WeightsError` (a ``RuntimeError``); a missing file is also a ``FileNotFoundError``. Their
``__module__`` is ``facekit.hub``, where they are imported from.
"""

from __future__ import annotations

__all__ = [
    "WeightsError",
    "WeightsNotFoundError",
    "PackageNotInstalledError",
    "WeightsHashError",
    "WeightsFormatError",
    "WeightsKeysError",
]


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


for _cls in (WeightsError, WeightsNotFoundError, PackageNotInstalledError, WeightsHashError, WeightsFormatError,
             WeightsKeysError):
    _cls.__module__ = "facekit.hub"  # tracebacks and messages name them where users import them from
