"""Checks of pixel values shared by every part of facekit that takes an image from a user.

facekit's images are floats in ``[0, 1]`` (or ``uint8`` in ``[0, 255]`` where a numpy array is accepted). The usual
mistakes are silent elsewhere: a float image in 0-255 clipped to a white square, a ``uint8`` tensor taken for
floats, a NaN pixel turned into black. :func:`check_pixel_range` catches them with a message that says what to do;
:func:`as_float_image` turns an accepted numpy image into float ``[0, 1]``. (:func:`facekit.nn.features.check_image`
adds the ``(B, 3, H, W)`` shape check for tensors.)

Example:
    >>> import numpy as np
    >>> float(as_float_image(np.full((2, 2, 3), 255, np.uint8)).max())
    1.0
    >>> check_pixel_range(np.full((2, 2, 3), 200.0))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: image has values up to 200 but must lie in [0, 1]: a 0-255 image? Divide it by 255...
"""

from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np
import torch

__all__ = ["check_pixel_range", "as_float_image"]


def check_pixel_range(x: Any, name: str = "image", tolerance: Optional[float] = 1e-3) -> None:
    """Check that a float numpy array or tensor holds pixels in ``[0, 1]``: not empty, finite, not 0-255.

    Args:
        x: a floating-point ``numpy.ndarray`` or ``torch.Tensor`` of any shape.
        name: how to call it in the error message.
        tolerance: how far outside ``[0, 1]`` a value may lie (an optimised image may overshoot a little);
            ``None`` checks only emptiness and finiteness.

    Raises:
        TypeError: ``x`` is not floating point (a ``uint8`` tensor, say: convert it with ``x.float() / 255``).
        ValueError: ``x`` is empty, holds NaN or inf, or lies outside the range.
    """
    if isinstance(x, torch.Tensor):
        if not x.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor with values in [0, 1]; got dtype {x.dtype}. "
                            "Convert uint8 images with x.float() / 255.")
        if x.numel() == 0:
            raise ValueError(f"{name} is empty (shape {tuple(x.shape)})")
        lo, hi = (float(v) for v in torch.aminmax(x.detach().float()))
    else:
        a = np.asarray(x)
        if not np.issubdtype(a.dtype, np.floating):
            raise TypeError(f"{name} must be floating point with values in [0, 1]; got dtype {a.dtype}")
        if a.size == 0:
            raise ValueError(f"{name} is empty (shape {a.shape})")
        lo, hi = float(np.min(a)), float(np.max(a))
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"{name} contains NaN or inf values")
    if tolerance is not None and (lo < -tolerance or hi > 1 + tolerance):
        hint = " a 0-255 image? Divide it by 255." if hi > 2 else " Clamp it with .clamp(0, 1) / np.clip(x, 0, 1)."
        raise ValueError(f"{name} has values up to {hi:.4g} but must lie in [0, 1]:{hint}"
                         if hi > 1 + tolerance else
                         f"{name} has values down to {lo:.4g} but must lie in [0, 1]:{hint}")


def as_float_image(array: Any, name: str = "image", tolerance: Optional[float] = 1e-3) -> np.ndarray:
    """A numpy image as ``float`` in ``[0, 1]``: ``uint8`` is divided by 255, floats are checked (not rescaled).

    Args:
        array: a numpy array (or anything ``np.asarray`` takes) of ``uint8`` or float pixels.
        name: how to call it in the error message.
        tolerance: see :func:`check_pixel_range`.

    Returns:
        a float64 array of the same shape (values outside ``[0, 1]`` by less than ``tolerance`` are kept).

    Raises:
        ValueError: another integer or non-numeric dtype; and see :func:`check_pixel_range`.
    """
    a = np.asarray(array)
    if a.dtype == np.uint8:
        if a.size == 0:
            raise ValueError(f"{name} is empty (shape {a.shape})")
        return a.astype(np.float64) / 255.0
    if not np.issubdtype(a.dtype, np.floating):
        raise ValueError(f"{name} must be uint8 in [0, 255] or float in [0, 1]; got dtype {a.dtype}")
    check_pixel_range(a, name, tolerance)
    return a.astype(np.float64)
