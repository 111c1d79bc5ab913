"""Quantised storage: weights of convolutions and linear layers in 8 bits (``hub.save(quantize="int8")``).

Part of :mod:`facekit.hub`; import the names from there.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Tuple

import torch
from torch import Tensor

from facekit.hub.errors import WeightsFormatError

__all__ = ["QUANTIZE_SCHEMES", "quantize_state_dict", "dequantize_state_dict", "unpack_checkpoint"]


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
