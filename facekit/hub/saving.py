"""Saving a network in the format :func:`facekit.hub.load` reads: :func:`save`, always atomically.

:func:`atomic_save` is the one way facekit writes a weights or checkpoint file (a temporary file in the same
folder, flushed to disk, then ``os.replace``): an interrupted or failed save (KeyboardInterrupt, SIGKILL, a full
disk) leaves the old file as it was and no half-written one. :func:`save` also refuses weights that are NaN or inf,
or that become so in float16. Part of :mod:`facekit.hub`; import the names from there.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional

import torch
from torch import nn

from facekit.hub.errors import WeightsError
from facekit.hub.files import non_finite_tensors
from facekit.hub.quantize import quantize_state_dict
from facekit.hub.registry import PathLike

__all__ = ["save", "atomic_save", "atomic_write_text"]


def _atomic_write(path: Path, write: Callable[[Any], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_save(obj: Any, path: PathLike) -> Path:
    """``torch.save(obj, path)`` atomically: a temporary file beside ``path``, flushed, then ``os.replace``.

    If anything interrupts it (an exception, KeyboardInterrupt, a full disk), ``path`` keeps its old content and the
    temporary file is removed; after a SIGKILL only a hidden ``.<name>.tmp<pid>`` file may remain, never half a
    ``path``.

    Returns:
        the path written.
    """
    path = Path(path)
    _atomic_write(path, lambda f: torch.save(obj, f))
    return path


def atomic_write_text(path: PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically, as :func:`atomic_save` (training records beside weights)."""
    path = Path(path)
    _atomic_write(path, lambda f: f.write(text.encode("utf-8")))
    return path


def _few(names: List[str]) -> str:
    return ", ".join(names[:5]) + (f", ... ({len(names)} in all)" if len(names) > 5 else "")


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
        the path written (atomically, :func:`atomic_save`; ``<path>.json`` too).

    Raises:
        WeightsError: a weight or buffer is NaN or inf, or would become inf in float16 (a running variance of 1e5:
            pass ``half=False``). Nothing is written.
    """
    import json

    path = Path(path)
    state0 = model.state_dict()
    bad = non_finite_tensors(state0)
    if bad:
        raise WeightsError(f"not saving {path}: the network has NaN or inf values in {_few(bad)}; the file (if any) "
                           "is left as it was. Save the weights of a step before the training diverged.")
    obj: Dict[str, Any]
    if quantize is not None:
        packed = quantize_state_dict(model.state_dict(), quantize)
        obj = {"state_dict": packed["state_dict"], "config": dict(model.config),
               "quantization": {"scheme": packed["scheme"], "scales": packed["scales"]}}
    else:
        state = {k: (v.detach().cpu().half() if half and v.is_floating_point() else v.detach().cpu().clone())
                 for k, v in model.state_dict().items()}
        obj = {"state_dict": state, "config": dict(model.config)}
    overflow = non_finite_tensors(obj)  # finite in float32, inf in float16 (|x| > 65504)
    if overflow:
        big = {k: float(v.detach().abs().max()) for k, v in state0.items() if k in {n.split(".", 1)[1] for n in overflow}}
        raise WeightsError(
            f"not saving {path}: {_few(overflow)} would overflow float16 (largest |value| "
            + ", ".join(f"{k} {v:.4g}" for k, v in list(big.items())[:3]) + "; float16 stops at 65504); "
            "pass half=False (and quantize=None) to keep them in float32. The file (if any) is left as it was."
        )
    if meta is not None:
        text = json.dumps(dict(meta), indent=1) + "\n"  # fails (nothing written) if meta is not plain values
    atomic_save(obj, path)
    if meta is not None:
        atomic_write_text(path.with_suffix(".json"), text)
    return path
