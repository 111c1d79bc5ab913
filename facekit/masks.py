"""Attribute masks from landmarks: attribute -> landmark groups -> convex hull -> margin.

Both papers of Li, Zuo and Zhang restrict an edit to the part of the face it concerns:

* CNIA sec. 3.3: "For each attribute, we associate it with certain landmarks and generate a convex hull for these
  landmarks. After that, we expand the convex hull with a large margin to get the attribute masks. [...] If more
  than one attribute is given, a union of all the attribute masks is calculated." The mask multiplies the
  generated image inside the attribute loss, CNIA eq. (8), and zeroes its gradient outside the mask, CNIA
  eq. (9): both live with the loss, :func:`facekit.losses.apply_mask` and :func:`facekit.losses.mask_gradient`.
* DIAT sec. 3.2: the same construction ("by expanding the convex hull with a certain margin, we define the
  attribute mask m by setting the value of 1 to the pixels in the convex hull and 0 to the others"), used by the
  local enhancement loss, DIAT eq. (10), with ``m`` and ``1 - m`` (:func:`blend` combines two images that way).

Neither paper gives the landmarks of each attribute nor the margin. Our choices, in :data:`ATTRIBUTE_REGIONS`:
an attribute is one or more *regions*; a region is a set of landmark groups (:data:`facekit.landmarks.IBUG68_GROUPS`
plus the derived parts in :data:`EXTRA_PARTS` and the forehead extrapolated above the brows); each region gets
its own convex hull and the attribute mask is the union of the expanded hulls. The margin is measured in
inter-ocular distances (eye centre to eye centre), so one default fits every image size: ``margin=0.3`` is about
the distance from the eye centre to the lower rim of a pair of glasses, our reading of the papers' "large margin".

Global attributes (Male, Young, hair colour, ...) have no region: DIAT sec. 3.2 notes that "for global attribute,
it is difficult to define the unchanged region". Their mask is the whole image (a mask of ones).

Example:
    >>> import numpy as np
    >>> from facekit.masks import attribute_mask
    >>> lm = np.random.default_rng(0).uniform(40, 90, size=(68, 2))
    >>> attribute_mask(lm, "Eyeglasses", 128).shape
    (128, 128)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Optional, Tuple, Union

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from facekit.landmarks import IBUG68_GROUPS, check_landmarks

__all__ = [
    "attribute_box",
    "crop_box",
    "EXTRA_PARTS",
    "ATTRIBUTE_REGIONS",
    "GLOBAL_ATTRIBUTES",
    "ATTRIBUTE_ALIASES",
    "known_attributes",
    "canonical_attribute",
    "is_global_attribute",
    "part_points",
    "convex_hull_mask",
    "attribute_mask",
    "attribute_masks",
    "blend",
]

# ----------------------------------------------------------------------------------------------------------------
# The table: attribute -> regions -> landmark parts
# ----------------------------------------------------------------------------------------------------------------

EXTRA_PARTS: dict[str, tuple[int, ...]] = {
    "mouth": tuple(range(48, 68)),
    "nose": tuple(range(27, 36)),
    "nose_top": (27, 28, 29),  # the bridge down to where glasses rest (without the tip, 30)
    "temples": (0, 16),  # the jaw line's top ends, level with the eyes: where glasses' arms go
    "chin": tuple(range(5, 12)),
    "lower_jaw": tuple(range(2, 15)),
    "right_cheek": (1, 2, 3, 4, 5, 48, 31, 29),  # subject's right: jaw, mouth corner, nose wing, mid-nose
    "left_cheek": (11, 12, 13, 14, 15, 54, 35, 29),
    "right_ear": (0, 1, 2, 3),  # the jaw line's end below the ear (earrings, sideburns)
    "left_ear": (13, 14, 15, 16),
}
"""Index sets beyond :data:`facekit.landmarks.IBUG68_GROUPS` (0-based iBUG-68 indices)."""

_DERIVED_PARTS: dict[str, float] = {"forehead": 1.0, "crown": 1.8}
# Parts that are not landmarks: the 10 brow points moved up by this many "facial thirds". The thirds rule of
# thumb (hairline-brows, brows-nose base, nose base-chin are about equal) puts the hairline one third above the
# brows ("forehead": Bangs, Receding_Hairline); a hat reaches higher ("crown").

ATTRIBUTE_REGIONS: dict[str, tuple[tuple[str, ...], ...]] = {
    # eyes and brows
    "Eyeglasses": (("right_eye", "left_eye", "right_brow", "left_brow", "nose_top", "temples"),),
    "Sunglasses": (("right_eye", "left_eye", "right_brow", "left_brow", "nose_top", "temples"),),  # LFW
    "No_Eyewear": (("right_eye", "left_eye", "right_brow", "left_brow", "nose_top", "temples"),),  # LFW
    "Narrow_Eyes": (("right_eye",), ("left_eye",)),
    "Eyes_Open": (("right_eye",), ("left_eye",)),  # LFW
    "Bags_Under_Eyes": (("right_eye",), ("left_eye",)),
    "Arched_Eyebrows": (("right_brow",), ("left_brow",)),
    "Bushy_Eyebrows": (("right_brow",), ("left_brow",)),
    # nose
    "Big_Nose": (("nose",),),
    "Pointy_Nose": (("nose",),),
    # mouth and lower face
    "Smiling": (("mouth", "nose_lower", "right_cheek", "left_cheek"),),
    "Mouth_Slightly_Open": (("mouth", "chin"),),
    "Mouth_Closed": (("mouth", "chin"),),  # LFW; CNIA's "mouth closed"
    "Mouth_Wide_Open": (("mouth", "chin"),),  # LFW
    "Teeth_Not_Visible": (("mouth",),),  # LFW
    "Big_Lips": (("mouth",),),
    "Wearing_Lipstick": (("mouth",),),
    "Mustache": (("nose_lower", "outer_lip"),),
    "Goatee": (("mouth", "chin"),),
    "No_Beard": (("lower_jaw", "nose_lower", "mouth"),),
    "5_o_Clock_Shadow": (("lower_jaw", "nose_lower", "mouth"),),
    "Double_Chin": (("lower_jaw", "mouth"),),
    "Sideburns": (("right_ear",), ("left_ear",)),
    "Wearing_Earrings": (("right_ear",), ("left_ear",)),
    "Rosy_Cheeks": (("right_cheek",), ("left_cheek",)),
    "High_Cheekbones": (("right_cheek",), ("left_cheek",)),
    # forehead and above
    "Bangs": (("right_brow", "left_brow", "forehead"),),
    "Receding_Hairline": (("right_brow", "left_brow", "forehead"),),
    "Visible_Forehead": (("right_brow", "left_brow", "forehead"),),  # LFW
    "Obstructed_Forehead": (("right_brow", "left_brow", "forehead"),),  # LFW
    "Wearing_Hat": (("right_brow", "left_brow", "temples", "crown"),),
    "Bald": (("right_brow", "left_brow", "temples", "crown"),),
}
"""Local attributes (CelebA names, plus a few LFW ones): each a tuple of regions, each region a tuple of parts
whose points are hulled together. Parts are keys of :data:`facekit.landmarks.IBUG68_GROUPS`, :data:`EXTRA_PARTS`,
or ``"forehead"`` / ``"crown"`` (brows extrapolated upward)."""

GLOBAL_ATTRIBUTES: tuple[str, ...] = (
    "Attractive",
    "Black_Hair",
    "Blond_Hair",
    "Blurry",
    "Brown_Hair",
    "Chubby",
    "Gray_Hair",
    "Heavy_Makeup",
    "Male",
    "Oval_Face",
    "Pale_Skin",
    "Straight_Hair",
    "Wavy_Hair",
    "Wearing_Necklace",
    "Wearing_Necktie",
    "Young",
)
"""CelebA attributes without a local region: their mask is the whole image (DIAT sec. 3.2)."""

ATTRIBUTE_ALIASES: dict[str, str] = {
    # the names CNIA's figures use
    "glasses": "Eyeglasses",
    "with_glasses": "Eyeglasses",
    "smile": "Smiling",
    "mouth_open": "Mouth_Slightly_Open",
    "mouth_closed": "Mouth_Closed",
    "gender": "Male",
}
"""Extra spellings (matched after lower-casing and turning spaces / dashes into underscores)."""


def known_attributes() -> list[str]:
    """All attribute names :func:`attribute_mask` accepts (local, then global), in canonical spelling."""
    return [*ATTRIBUTE_REGIONS, *GLOBAL_ATTRIBUTES]


def _normalise(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("-", "_")


_LOOKUP: dict[str, str] = {
    **{_normalise(n): n for n in [*ATTRIBUTE_REGIONS, *GLOBAL_ATTRIBUTES]},
    **{_normalise(k): v for k, v in ATTRIBUTE_ALIASES.items()},
}


def canonical_attribute(name: str) -> str:
    """Canonical spelling of an attribute name: case, spaces and dashes are ignored (``"big nose"`` ->
    ``"Big_Nose"``, LFW's ``"Mouth Closed"`` -> ``"Mouth_Closed"``), and CNIA's ``"with glasses"`` etc. work.

    Raises:
        KeyError: unknown attribute; the message lists the known ones.
    """
    if not isinstance(name, str):
        raise TypeError(f"an attribute name must be a str, got {type(name).__name__}")
    try:
        return _LOOKUP[_normalise(name)]
    except KeyError:
        raise KeyError(
            f"unknown attribute {name!r}; known local attributes: {', '.join(ATTRIBUTE_REGIONS)}; "
            f"global (whole-image mask): {', '.join(GLOBAL_ATTRIBUTES)}"
        ) from None


def is_global_attribute(name: str) -> bool:
    """True when the attribute has no local region (its mask is the whole image)."""
    return canonical_attribute(name) in GLOBAL_ATTRIBUTES


# ----------------------------------------------------------------------------------------------------------------
# Geometry
# ----------------------------------------------------------------------------------------------------------------


def _inter_ocular(landmarks: np.ndarray) -> float:
    right = landmarks[list(IBUG68_GROUPS["right_eye"])].mean(0)
    left = landmarks[list(IBUG68_GROUPS["left_eye"])].mean(0)
    return float(np.linalg.norm(left - right))


def part_points(landmarks: Any, part: str) -> np.ndarray:
    """Points of one named part: an iBUG group, an :data:`EXTRA_PARTS` entry, or ``"forehead"`` / ``"crown"``.

    The forehead is extrapolated: the brow points (17-26) moved "up the face" (from the nose base, point 33,
    towards the brows' centre, so it follows a tilted head) by one facial third, the nose-base-to-brows distance
    (``"crown"``: 1.8 thirds).

    Args:
        landmarks: ``(68, 2)`` ``(x, y)`` pixels.
        part: the part's name.

    Returns:
        ``(K, 2)`` float64 points.
    """
    lm = check_landmarks(landmarks)
    if part in IBUG68_GROUPS:
        return lm[list(IBUG68_GROUPS[part])]
    if part in EXTRA_PARTS:
        return lm[list(EXTRA_PARTS[part])]
    if part in _DERIVED_PARTS:
        brows = lm[17:27]  # (10, 2)
        up = brows.mean(0) - lm[33]  # nose base -> brows: one facial third, pointing up the face
        return brows + _DERIVED_PARTS[part] * up
    known = [*IBUG68_GROUPS, *EXTRA_PARTS, *_DERIVED_PARTS]
    raise KeyError(f"unknown landmark part {part!r}; known: {', '.join(known)}")


def _shape_hw(size: Union[int, Sequence[int]]) -> tuple[int, int]:
    if isinstance(size, (int, np.integer)):
        h = w = int(size)
    else:
        if len(size) < 2:
            raise ValueError(f"size must be an int or (H, W[, C]), got {size!r}")
        h, w = int(size[0]), int(size[1])
    if h < 1 or w < 1:
        raise ValueError(f"size must be positive, got {size!r}")
    return h, w


def convex_hull_mask(
    points: Any,
    size: Union[int, Sequence[int]],
    margin_px: float = 0.0,
    feather_px: float = 0.0,
) -> np.ndarray:
    """Rasterise the convex hull of ``points``, expanded by ``margin_px`` pixels (a Minkowski sum with a disc).

    Pixels whose centre lies within ``margin_px`` of the hull get 1. With ``feather_px > 0`` the value then falls
    linearly to 0 over the next ``feather_px`` pixels (a soft edge); with 0 the mask is hard (binary), as in the
    papers. Hull points outside the image are handled exactly (the hull is drawn on a padded canvas).

    Args:
        points: ``(K, 2)`` ``(x, y)`` pixel coordinates, ``K >= 1``.
        size: ``S`` or ``(H, W)`` (or an image shape ``(H, W, C)``).
        margin_px: expansion in pixels, ``>= 0``.
        feather_px: width of the soft edge in pixels, ``>= 0``.

    Returns:
        ``(H, W)`` float32 mask in [0, 1].
    """
    pts = np.asarray(points.detach().cpu().numpy() if isinstance(points, torch.Tensor) else points, np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 1:
        raise ValueError(f"expected points of shape (K, 2) with K >= 1, got {pts.shape}")
    if not np.isfinite(pts).all():
        raise ValueError("points contain NaN or inf (a landmark that was not found?)")
    if margin_px < 0 or feather_px < 0:
        raise ValueError(f"margin and feather must be >= 0, got {margin_px} and {feather_px}")
    h, w = _shape_hw(size)
    pad = int(math.ceil(margin_px + feather_px)) + 2
    # The canvas is the image plus `pad` pixels on each side, so hull parts just outside the image still grow
    # into it; OpenCV clips the polygon to the canvas.
    if np.abs(pts).max() > 1e6:
        raise ValueError("points are more than 1e6 pixels away from the image")
    canvas = np.zeros((h + 2 * pad, w + 2 * pad), np.uint8)
    shift = 4  # sub-pixel precision of the polygon: 1/16 pixel
    hull = cv2.convexHull(((pts + pad) * (1 << shift)).round().astype(np.int32))  # (V, 1, 2)
    cv2.fillConvexPoly(canvas, hull, 1, lineType=cv2.LINE_8, shift=shift)
    if margin_px == 0 and feather_px == 0:
        mask = canvas.astype(np.float32)
    else:
        # Euclidean distance of every pixel to the nearest hull pixel (0 inside the hull).
        dist = cv2.distanceTransform(1 - canvas, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)  # (H + 2p, W + 2p)
        if feather_px == 0:
            mask = (dist <= margin_px).astype(np.float32)
        else:
            mask = np.clip((margin_px + feather_px - dist) / feather_px, 0.0, 1.0).astype(np.float32)
    return np.ascontiguousarray(mask[pad : pad + h, pad : pad + w])  # (H, W)


def attribute_mask(
    landmarks: Any,
    attributes: Union[str, Sequence[str]],
    size: Union[int, Sequence[int]],
    margin: float = 0.3,
    feather: float = 0.0,
    relative: bool = True,
) -> np.ndarray:
    """The attribute mask of CNIA sec. 3.3 / DIAT sec. 3.2: union of expanded convex hulls of landmark groups.

    Args:
        landmarks: ``(68, 2)`` iBUG landmarks, ``(x, y)`` pixels of an image of ``size``.
        attributes: one name or a list (see :func:`known_attributes`; case, spaces and CNIA's names are accepted).
            Several attributes give the union of their masks (CNIA sec. 3.3); a global attribute gives ones.
        size: ``S``, ``(H, W)`` or an image shape ``(H, W, C)``.
        margin: how far the hulls are expanded; in inter-ocular distances when ``relative`` (default 0.3, our
            choice: the papers say "a large margin" / "a certain margin"), else in pixels.
        feather: width of an optional soft edge (same unit as ``margin``); 0 gives the papers' hard 0/1 mask.
        relative: measure ``margin`` and ``feather`` in inter-ocular distances (True) or pixels (False).

    Returns:
        ``(H, W)`` float32 mask in [0, 1] (exactly 0 or 1 when ``feather == 0``).

    Raises:
        KeyError: an unknown attribute (the message lists the known ones).
        ValueError: landmarks not of shape (68, 2), collapsed landmarks (eyes less than a pixel apart), bad size,
            or negative margin.

    Shape:
        - landmarks: :math:`(68, 2)`
        - output: :math:`(H, W)`

    Example:
        >>> import numpy as np
        >>> lm = np.random.default_rng(0).uniform(40, 90, size=(68, 2))
        >>> m = attribute_mask(lm, ["Eyeglasses", "Smiling"], (128, 96))
        >>> m.shape, m.dtype, set(np.unique(m)) <= {0.0, 1.0}
        ((128, 96), dtype('float32'), True)
    """
    lm = check_landmarks(landmarks)
    names = [attributes] if isinstance(attributes, str) else list(attributes)
    if not names:
        raise ValueError("give at least one attribute")
    canon = [canonical_attribute(n) for n in names]
    h, w = _shape_hw(size)
    if margin < 0 or feather < 0:
        raise ValueError(f"margin and feather must be >= 0, got {margin} and {feather}")
    if any(c in GLOBAL_ATTRIBUTES for c in canon):
        return np.ones((h, w), np.float32)  # a global attribute: no unchanged region (DIAT sec. 3.2)
    unit = _inter_ocular(lm) if relative else 1.0
    if relative and unit < 1.0:  # collapsed landmarks would give a mask of a pixel or two, not a region
        raise ValueError(f"the landmarks' eyes are {unit:.3g} px apart: they are collapsed (all at one point?), so "
                         "no region can be drawn; check the detector's output (or pass relative=False)")
    mask = np.zeros((h, w), np.float32)
    for name in canon:  # union over attributes (CNIA sec. 3.3) ...
        for region in ATTRIBUTE_REGIONS[name]:  # ... and over an attribute's regions
            pts = np.concatenate([part_points(lm, part) for part in region])  # (K, 2)
            mask = np.maximum(mask, convex_hull_mask(pts, (h, w), margin * unit, feather * unit))
    return mask


def attribute_masks(
    landmarks: Any,
    attributes: Union[str, Sequence[str], Sequence[Sequence[str]]],
    size: Union[int, Sequence[int]],
    margin: float = 0.3,
    feather: float = 0.0,
    relative: bool = True,
    device: Optional[Union[str, torch.device]] = None,
) -> torch.Tensor:
    """Batched :func:`attribute_mask` as a tensor ready to multiply a ``(B, 3, H, W)`` image batch.

    Args:
        landmarks: ``(B, 68, 2)`` array or tensor.
        attributes: one name or list for the whole batch, or a list of ``B`` lists (one per sample).
        size, margin, feather, relative: as in :func:`attribute_mask`.
        device: device of the returned tensor (default: that of ``landmarks`` if a tensor, else CPU).

    Returns:
        ``(B, 1, H, W)`` float32 tensor in [0, 1].

    Example:
        >>> import numpy as np
        >>> lm = np.random.default_rng(0).uniform(20, 40, size=(2, 68, 2))
        >>> attribute_masks(lm, "Bangs", 64).shape
        torch.Size([2, 1, 64, 64])
    """
    if isinstance(landmarks, torch.Tensor):
        device = landmarks.device if device is None else device
        landmarks = landmarks.detach().cpu().numpy()
    arr = np.asarray(landmarks, dtype=np.float64)
    if arr.ndim != 3 or arr.shape[1:] != (68, 2):
        raise ValueError(f"expected landmarks of shape (B, 68, 2), got {arr.shape}")
    if isinstance(attributes, str) or (len(attributes) > 0 and isinstance(attributes[0], str)):
        per_sample = [attributes] * len(arr)
    else:
        per_sample = list(attributes)
        if len(per_sample) != len(arr):
            raise ValueError(f"got {len(per_sample)} attribute lists for a batch of {len(arr)} landmark sets")
    masks = [attribute_mask(lm, a, size, margin, feather, relative) for lm, a in zip(arr, per_sample)]
    return torch.from_numpy(np.stack(masks)[:, None]).to(device or "cpu")  # (B, 1, H, W)


# ----------------------------------------------------------------------------------------------------------------
# Using a mask
# ----------------------------------------------------------------------------------------------------------------


def _mask_like(image: torch.Tensor, mask: Any) -> torch.Tensor:
    m = torch.as_tensor(mask, dtype=image.dtype, device=image.device)
    if m.ndim == 2:  # (H, W)
        m = m[None, None]
    elif m.ndim == 3:  # (B, H, W)
        m = m[:, None]
    if m.ndim != 4 or m.shape[-2:] != image.shape[-2:] or m.shape[1] not in (1, image.shape[1]):
        raise ValueError(
            f"expected a mask of shape (H, W), (B, H, W), (B, 1, H, W) or (B, C, H, W) matching an image of shape "
            f"{tuple(image.shape)}, got {tuple(torch.as_tensor(mask).shape)}"
        )
    return m


def blend(inside: torch.Tensor, outside: torch.Tensor, mask: Any) -> torch.Tensor:
    """``mask * inside + (1 - mask) * outside``: paste the attribute region of one image onto another.

    DIAT eq. (10) splits its loss this way: the region ``m`` follows the transformed image, ``1 - m`` the input.

    Args:
        inside: ``(B, C, H, W)`` image used where the mask is 1.
        outside: ``(B, C, H, W)`` image used where the mask is 0.
        mask: ``(H, W)``, ``(B, H, W)``, ``(B, 1, H, W)`` or ``(B, C, H, W)`` (soft masks blend).

    Returns:
        ``(B, C, H, W)`` tensor.
    """
    if (not isinstance(inside, torch.Tensor) or not isinstance(outside, torch.Tensor) or inside.ndim != 4
            or inside.shape != outside.shape):
        raise ValueError(
            f"expected two (B, C, H, W) tensors of the same shape, got {tuple(getattr(inside, 'shape', ()))} and "
            f"{tuple(getattr(outside, 'shape', ()))}"
        )
    m = _mask_like(inside, mask)
    return m * inside + (1 - m) * outside


def attribute_box(masks: Tensor, *, margin: int = 2, threshold: float = 0.02) -> Tuple[int, int, int]:
    """The square ``(top, left, side)`` around the union of ``masks`` (``(N, 1, H, W)``): where a local task's
    attribute lies in the aligned faces of its input set (``d_crop`` of :class:`facekit.methods.diat.DIATConfig`).

    The union is the pixels where the mean mask exceeds ``threshold``; the square has the box's longer side plus
    ``2 * margin``, centred on the box and moved inside the image.
    """
    if masks.dim() != 4 or masks.shape[1] != 1 or len(masks) == 0:
        raise ValueError(f"masks must be (N, 1, H, W) with N >= 1; got {tuple(masks.shape)}")
    h, w = masks.shape[-2:]
    on = (masks.float().mean(0)[0] > threshold).nonzero()
    if len(on) == 0:
        raise ValueError("the masks are empty: no attribute region to crop")
    (y0, x0), (y1, x1) = on.min(0).values.tolist(), on.max(0).values.tolist()
    side = min(max(y1 - y0, x1 - x0) + 1 + 2 * margin, h, w)
    top = min(max((y0 + y1 + 1) // 2 - side // 2, 0), h - side)
    left = min(max((x0 + x1 + 1) // 2 - side // 2, 0), w - side)
    return int(top), int(left), int(side)


def crop_box(images: Tensor, box: Tuple[int, int, int], size: int) -> Tensor:
    """``images[..., top:top+side, left:left+side]`` resized to ``size`` px (bilinear): what a cropping D sees."""
    top, left, side = box
    crop = images[..., top:top + side, left:left + side]
    return crop if side == size else F.interpolate(crop, size=(size, size), mode="bilinear", align_corners=False)
