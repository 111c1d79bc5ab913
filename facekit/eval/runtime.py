"""Runtime: median seconds per image of a method, after warm-up, on the current device.

The papers compare speed as well as quality (DIAT's feed-forward network against CNIA's per-image
optimisation). :func:`seconds_per_image` measures it the same way for every chapter: run the method a few times
to warm up (first-call allocations, cuDNN autotuning), then time several repeats, synchronising CUDA around each,
and return the **median** time divided by the batch size. The number depends on the machine: report it with the
device it was measured on (:func:`facekit.get_device`).

Example:
    >>> import torch
    >>> t = seconds_per_image(lambda x: x.flip(-1), torch.rand(4, 3, 32, 32), device="cpu")
    >>> t > 0
    True
"""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable, Optional, Union

import torch
from torch import Tensor

__all__ = ["seconds_per_image"]


def _to(x: Any, device: torch.device) -> Any:
    if isinstance(x, Tensor):
        return x.to(device)
    if isinstance(x, (list, tuple)):
        return type(x)(_to(v, device) for v in x)
    if isinstance(x, dict):
        return {k: _to(v, device) for k, v in x.items()}
    return x


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def seconds_per_image(
    fn: Callable[[Any], Any],
    inputs: Any,
    *,
    batch_size: Optional[int] = None,
    warmup: int = 2,
    repeats: int = 5,
    device: Union[str, torch.device, None] = None,
) -> float:
    """Median wall time of ``fn(inputs)`` divided by the number of images, after ``warmup`` untimed calls.

    ``fn`` is called as it is: it decides about ``torch.no_grad()`` (an optimisation method such as CNIA needs
    gradients; a feed-forward network is fairest timed under ``no_grad``).

    Args:
        fn: the method, called as ``fn(inputs)``.
        inputs: a ``(B, ...)`` tensor, or a list / tuple / dict of tensors (moved to ``device``).
        batch_size: images per call; default: the first dimension of ``inputs`` (or of its first tensor).
        warmup: untimed calls first (>= 0).
        repeats: timed calls (>= 1); the median is returned.
        device: where to run; default :func:`facekit.get_device`.

    Returns:
        seconds per image (> 0).

    Raises:
        ValueError: ``repeats < 1``, ``warmup < 0``, or the batch size cannot be told from ``inputs``.
    """
    from facekit.config import get_device

    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0; got repeats={repeats}, warmup={warmup}")
    dev = torch.device(device) if device is not None else get_device()
    inputs = _to(inputs, dev)
    if batch_size is None:
        first = inputs
        if isinstance(first, (list, tuple)) and first:
            first = first[0]
        elif isinstance(first, dict) and first:
            first = next(iter(first.values()))
        if not isinstance(first, Tensor) or first.ndim == 0:
            raise ValueError("cannot tell the batch size from inputs: pass batch_size=")
        batch_size = int(first.shape[0])
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}")
    for _ in range(warmup):
        fn(inputs)
    times = []
    for _ in range(repeats):
        _sync(dev)
        start = time.perf_counter()
        fn(inputs)
        _sync(dev)
        times.append(time.perf_counter() - start)
    return max(statistics.median(times), 1e-9) / batch_size
