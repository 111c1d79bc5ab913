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

__all__ = ["check_finite", "check_pixel_range", "as_float_image"]


def check_finite(x: Any, name: str = "image") -> None:
    """Raise a ``ValueError`` that says how many values are NaN or infinite, and where the first one is.

    NaN pixels are never turned into black (or anything else) silently: dlib, OpenCV's Haar cascades and the
    ``uint8`` conversions would all do that. Integer arrays and tensors always pass.

    Args:
        x: a numpy array or tensor of any shape (an image: ``(H, W, 3)``, ``(3, H, W)``, ``(B, 3, H, W)``).
        name: how to call it in the error message.

    Raises:
        ValueError: ``x`` holds NaN or infinite values.

    Example:
        >>> import numpy as np
        >>> img = np.zeros((4, 4, 3)); img[2, 1] = np.nan
        >>> check_finite(img)
        Traceback (most recent call last):
        ...
        ValueError: image has 3 NaN values (1 of the 16 pixels, the first at index (2, 1, 0) of shape (4, 4, 3)). Such pixels would silently turn black (NaN) or saturate (inf): find where they come from (a division by zero, a diverged optimisation), or replace them on purpose with np.nan_to_num / torch.nan_to_num.
    """
    if isinstance(x, torch.Tensor):
        if not x.is_floating_point() or bool(torch.isfinite(x).all()):
            return
        bad = ~torch.isfinite(x.detach().cpu())
        nan = int(torch.isnan(x.detach().cpu()).sum())
        a_bad = bad.numpy()
    else:
        a = np.asarray(x)
        if not np.issubdtype(a.dtype, np.floating) or bool(np.isfinite(a).all()):
            return
        a_bad = ~np.isfinite(a)
        nan = int(np.isnan(a).sum())
    shape = tuple(a_bad.shape)
    inf = int(a_bad.sum()) - nan
    what = " and ".join(part for part in (f"{nan} NaN" if nan else "", f"{inf} infinite" if inf else "") if part)
    first = tuple(int(i) for i in np.argwhere(a_bad)[0])
    # pixels: the channel axis is the last one of (H, W, C) or the one before H, W of (C, H, W) / (B, C, H, W)
    if len(shape) == 3 and shape[-1] in (1, 3, 4):
        per_pixel, n_pix = a_bad.any(axis=-1), shape[0] * shape[1]
    elif len(shape) >= 3 and shape[-3] in (1, 3, 4):
        per_pixel, n_pix = a_bad.any(axis=-3), int(np.prod(shape)) // shape[-3]
    else:
        per_pixel, n_pix = a_bad, int(np.prod(shape))
    pixels = f"{int(per_pixel.sum())} of the {n_pix} pixels"
    raise ValueError(
        f"{name} has {what} value{'s' if nan + inf != 1 else ''} ({pixels}, the first at index {first} of shape {shape}). Such pixels would silently "
        "turn black (NaN) or saturate (inf): find where they come from (a division by zero, a diverged optimisation), or replace them on "
        "purpose with np.nan_to_num / torch.nan_to_num."
    )


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
        check_finite(x, name)  # says how many and where
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
