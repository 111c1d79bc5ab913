"""Saving a network in the format :func:`facekit.hub.load` reads: :func:`save`.

Part of :mod:`facekit.hub`; import the names from there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Mapping, Optional

import torch
from torch import nn

from facekit.hub.quantize import quantize_state_dict
from facekit.hub.registry import PathLike

__all__ = ["save"]


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
