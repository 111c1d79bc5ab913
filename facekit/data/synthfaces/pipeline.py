"""The whole render, top to bottom: :func:`render` (re-exported as :func:`facekit.data.synthfaces.render`).

It checks its arguments, resolves the attributes, places the camera and the landmarks, paints the albedo back to
front (:mod:`facekit.data.synthfaces.painters`), shades it at low resolution (:mod:`facekit.data.synthfaces.lighting`),
composites it over the backdrop and adds sensor noise (:mod:`facekit.data.synthfaces.backdrop`).
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Mapping, Optional

import cv2
import numpy as np

from facekit.data.synthfaces.attributes import resolve_attributes
from facekit.data.synthfaces.backdrop import _background, _noise
from facekit.data.synthfaces.camera import _Camera
from facekit.data.synthfaces.canvas import _blend, _Painter
from facekit.data.synthfaces.geometry import _SHAPE_ATTRIBUTES, _landmarks_3d, _shape
from facekit.data.synthfaces.identity import _check_identity, identity_params
from facekit.data.synthfaces.lighting import LIGHTS, N_LIGHTS, _shading, _tint
from facekit.data.synthfaces.names import HAIR_COLOURS, MAX_SIZE, MIN_SIZE, MULTIPIE_YAWS, PITCH_RANGE, YAW_RANGE
from facekit.data.synthfaces.painters.brows import _draw_brows
from facekit.data.synthfaces.painters.earrings import _draw_earrings
from facekit.data.synthfaces.painters.eyes import _draw_eyes
from facekit.data.synthfaces.painters.facial_hair import _draw_facial_hair
from facekit.data.synthfaces.painters.glasses import _draw_glasses
from facekit.data.synthfaces.painters.hair import _draw_bangs, _draw_hair_back, _draw_hair_cap, _draw_hair_front
from facekit.data.synthfaces.painters.hats import _draw_hat
from facekit.data.synthfaces.painters.head import _draw_body, _draw_head, _draw_head_back, _draw_head_sides
from facekit.data.synthfaces.painters.mouth import _draw_mouth
from facekit.data.synthfaces.painters.nose import _draw_nose
from facekit.data.synthfaces.painters.wrinkles import _draw_wrinkles
from facekit.data.synthfaces.scene import _Scene


def _gray3(gray: np.ndarray) -> np.ndarray:
    """A ``(H, W)`` float32 map repeated on 3 channels, ``(H, W, 3)``: an exact copy.

    The image-sized products below multiply ``(H, W, 3)`` arrays by such copies rather than by ``(H, W, 1)``
    arrays: numpy broadcasts over a last axis of 3 slowly, and the products are the same numbers.
    """
    return cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)


def _check_args(yaw: Any, pitch: Any, light: Any, size: Any) -> tuple[float, float, int, int]:
    if (type(yaw) is float and type(pitch) is float and type(light) is int and type(size) is int  # the common case
            and YAW_RANGE[0] <= yaw <= YAW_RANGE[1] and PITCH_RANGE[0] <= pitch <= PITCH_RANGE[1]
            and 0 <= light < N_LIGHTS and MIN_SIZE <= size <= MAX_SIZE):
        return yaw, pitch, light, size
    for name, value, (lo, hi) in (("yaw", yaw, YAW_RANGE), ("pitch", pitch, PITCH_RANGE)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
            raise ValueError(f"{name} must be a number of degrees in [{lo:g}, {hi:g}], got {value!r}")
        if not lo - 1e-6 <= float(value) <= hi + 1e-6:
            raise ValueError(f"{name} must be in [{lo:g}, {hi:g}] degrees, got {value!r}"
                             + (f" (MultiPIE's poses are {', '.join(f'{v:g}' for v in MULTIPIE_YAWS)})"
                                if name == "yaw" else ""))
    if isinstance(light, (bool, np.bool_)) or not isinstance(light, numbers.Integral) or not 0 <= light < N_LIGHTS:
        raise ValueError(f"light must be an int index in [0, {N_LIGHTS - 1}] (0 = frontal soft light), got {light!r}")
    if isinstance(size, (bool, np.bool_)) or not isinstance(size, numbers.Integral) or not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"size must be an int in [{MIN_SIZE}, {MAX_SIZE}] (pixels per side), got {size!r}")
    return float(yaw), float(pitch), int(light), int(size)


def render(identity: int, attributes: Optional[Mapping[str, Any]] = None, yaw: float = 0.0, pitch: float = 0.0,
           light: int = 0, size: int = 128, background: Optional[int] = None) -> dict[str, Any]:
    """Render one SynthFaces image.

    Args:
        identity: a non-negative int; it fixes the person (shape, colours, hair, default attributes).
        attributes: overrides ``{name: 0 or 1}`` for names of :data:`~names.ATTRIBUTES`, plus ``glasses_style``
            (:data:`~names.GLASSES_STYLES`) and ``hat_style`` (:data:`~names.HAT_STYLES`); see
            :func:`resolve_attributes`.
        yaw: degrees in [-45, 45]; positive turns the face towards the image's right.
        pitch: degrees in [-20, 20]; positive tilts the face up.
        light: index into :data:`~lighting.LIGHTS` (0 = frontal soft light; 20 lights).
        size: output side in pixels, in [32, 1024].
        background: seed of the backdrop; ``None`` uses the identity (so a person keeps one backdrop).

    Returns:
        A dict with

        * ``image``: ``(size, size, 3)`` uint8 RGB;
        * ``landmarks``: ``(68, 2)`` float32 pixel coordinates ``(x, y)``, iBUG-300W order;
        * ``visible``: ``(68,)`` bool, False for points on the far side of a turned head;
        * ``mask``: ``(size, size)`` uint8 foreground (person and accessories) coverage, 0-255;
        * ``attributes``: the resolved attributes (every name of :data:`~names.ATTRIBUTES` as 0/1, and
          ``glasses_style``, ``hat_style``, ``hair_colour``, ``hair_style``).

    Raises:
        ValueError: a bad identity, attribute name or value, yaw, pitch, light or size (the message says what is
            valid).

    Example:
        >>> a = render(3, size=64)["image"]
        >>> b = render(3, {"Eyeglasses": 1}, size=64)["image"]
        >>> bool((a != b).any()), a.shape
        (True, (64, 64, 3))
    """
    identity = _check_identity(identity)
    yaw, pitch, light_index, size = _check_args(yaw, pitch, light, size)
    backdrop = identity if background is None else _check_identity(background, "background")
    attrs = resolve_attributes(identity, attributes)
    p = identity_params(identity)
    lit = LIGHTS[light_index]

    # 1. geometry
    cam = _Camera(size, p.head_scale, yaw, pitch)
    key = tuple(int(attrs[name]) for name in _SHAPE_ATTRIBUTES)
    pts3, normals = _landmarks_3d(identity, key)
    lm = cam.project(pts3).astype(np.float32)  # (68, 2)
    visible = cam.rotate(normals)[:, 2] > -0.02  # (68,)

    skin = p.skin
    if attrs["Pale_Skin"]:
        skin = _blend(skin, (250, 232, 224), 0.45)
    hair = HAIR_COLOURS[attrs["hair_colour"]] if attrs["hair_colour"] != p.hair_colour_name else p.hair_colour
    pa = _Painter(size)
    sc = _Scene(p=p, a=attrs, key=key, sh=_shape(p, attrs), cam=cam, pts3=pts3, lm=lm, lm_px=pa._fix(lm), skin=skin,
                hair=tuple(map(float, hair)), detail=size >= 96)

    # 2. albedo, back to front, on the supersampled canvas
    _draw_hair_back(pa, sc)
    _draw_body(pa, sc)
    _draw_head_back(pa, sc)
    _draw_head(pa, sc)
    _draw_head_sides(pa, sc)
    _draw_hair_cap(pa, sc)
    _draw_eyes(pa, sc)
    _draw_brows(pa, sc)
    _draw_nose(pa, sc)
    _draw_mouth(pa, sc)
    _draw_wrinkles(pa, sc)
    _draw_facial_hair(pa, sc)
    _draw_bangs(pa, sc)
    _draw_hair_front(pa, sc)
    _draw_earrings(pa, sc)
    _draw_hat(pa, sc)
    _draw_glasses(pa, sc)
    albedo, alpha = pa.finish(size)  # (H, W, 3) uint8, (H, W) uint8

    # 3. shading at low resolution, upsampled (it is smooth): per-channel light (shade x tint) and highlights
    grid = max(16, size // 2)
    shade, spec = _shading(sc, lit, grid, size)  # (G, G), (G, G)
    tint = _tint(sc, grid, size)  # (G, G, 3) or None
    light_map = _gray3(shade) * tint if tint is not None else _gray3(shade)  # shade x tint
    maps = cv2.resize(cv2.merge([light_map, spec]), (size, size), interpolation=cv2.INTER_LINEAR)  # (H, W, 4)
    a = alpha.astype(np.float32) * (1.0 / 255.0)  # (H, W) foreground coverage
    # fg = albedo * light + spec * 255 * a, computed in place (the same operations in the same order)
    fg = albedo.astype(np.float32)
    fg *= cv2.cvtColor(maps, cv2.COLOR_RGBA2RGB)  # the light, channels 0-2 of maps
    highlight = 255.0 * a
    highlight *= maps[..., 3]
    fg += _gray3(highlight)

    # 4. composite over the backdrop (out = fg + bg * (1 - a)), add a little sensor noise
    bg = _background(backdrop, size, lit)
    bg *= _gray3(1.0 - a)
    out = fg
    out += bg
    oy, ox = (identity * 7919) % size, (identity * 104729) % size
    out += _gray3(_noise(size)[oy:oy + size, ox:ox + size])
    image = np.clip(out, 0, 255, out=out).astype(np.uint8)
    return {"image": image, "landmarks": lm, "visible": visible, "mask": alpha, "attributes": attrs}
