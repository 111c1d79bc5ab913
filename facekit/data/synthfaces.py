"""SynthFaces: a procedural face renderer, the embedded default dataset of facekit (DESIGN.md section 4).

Every chapter of the course can run offline because of this module: it draws a face from an integer identity, a
set of CelebA-named attributes, a pose and a light, in a few milliseconds, with numpy and OpenCV only. What no real
dataset gives, it gives for free: **exact counterfactuals**. ``render(7)`` and ``render(7, {"Eyeglasses": 1})`` are
the same person, background, pose and light, pixel for pixel, except where the glasses are.

How a face is made (read :func:`render` top to bottom; each step is one small function):

1. **Identity** (:func:`identity_params`): the integer seeds a random generator that draws a parameter vector
   (head and jaw shape, skin tone from a natural palette, eye, brow, nose and mouth shape and placement, hair style
   and colour, ...) and the identity's default attributes (``Male``, ``Young``, ``Big_Nose``, beard, ...).
2. **Attributes** (:func:`resolve_attributes`): the caller's overrides are checked and merged with the defaults.
3. **Geometry** (:func:`landmarks_3d`): a 3-D template of the 68 iBUG-300W landmarks, deformed by the identity and
   the attributes, is rotated (yaw, then pitch) and projected orthographically.
4. **Albedo**: the face is painted with anti-aliased OpenCV polygons on a canvas twice the output size (the
   *supersampled* canvas), back to front: hair behind, body, ears, head, eyes, nose, mouth, hair in front, beard,
   hat, glasses. The canvas is shrunk with ``cv2.INTER_AREA``, which anti-aliases every edge.
5. **Shading**: the head, nose, cheeks, lips, neck and hair are unions of ellipsoids; their normals are found on a
   coarse grid and lit by one of :data:`N_LIGHTS` directional lights (Lambert + Blinn-Phong), with soft ambient
   occlusion in the eye sockets, under the nose and under the chin. Smooth maps, so they are computed at low
   resolution and upsampled.

Below 96 px, details thinner than half a pixel (hair strands, fine wrinkles, eyelid creases) are not drawn.

Speed: everything that depends only on the identity and a few attributes (the parameters, the 3-D landmarks and
face outline, the hair's sample points, the shading solids, the backdrop) is computed once and kept in bounded
caches (``functools.lru_cache``, whose functions are named ``*_of``), as read-only arrays that every later render
shares; a render then only projects, paints and shades. Such optimisations never change a pixel: the same
floating-point operations run in the same order, only fewer times.

Conventions:

* image coordinates: ``x`` to the right, ``y`` down, the centre of pixel ``(i, j)`` at ``x = j, y = i``;
* landmarks: the iBUG-300W 68-point order (:data:`facekit.landmarks.IBUG68_GROUPS`); "left" and "right" are the
  subject's own sides, so the subject's right eye (points 36-41) is on the image's left in a frontal face;
* yaw: degrees in [-45, 45]; positive yaw turns the face towards the image's right (the nose moves right and the
  face's image-right side turns away); MultiPIE's seven cameras are :data:`MULTIPIE_YAWS`;
* pitch: degrees in [-20, 20]; positive pitch tilts the face up;
* light: an index into :data:`LIGHTS`; 0 is frontal and soft, 1-19 are directional lights from the left (low
  indices) round to the right, most at head height, some above or below, as MultiPIE's 20 flash conditions.

Attributes (:data:`ATTRIBUTES`, CelebA's names, in CelebA's order) are of two kinds: *traits* of the person (Male,
Young, hair colour, Big_Nose, ...) whose default comes from the identity, and *states* (:data:`STATE_ATTRIBUTES`:
Eyeglasses, Wearing_Hat, Wearing_Earrings, Smiling, Mouth_Slightly_Open) that are off by default. Accessory
*types* as in CAS-PEAL are chosen with two extra keys: ``glasses_style`` in :data:`GLASSES_STYLES` (round, square,
sunglasses) and ``hat_style`` in :data:`HAT_STYLES` (cap, beanie, fedora); without them the identity's own
favourite style is used. Accessories never move a landmark (the ``visible`` flags only describe self-occlusion by
the head under yaw).

Determinism: the same arguments give the same pixels in a given installation. The generator is numpy's
``default_rng`` (PCG64); a future numpy may change its samplers, and so the faces.

Example:
    >>> from facekit.data.synthfaces import render, ATTRIBUTES
    >>> face = render(7, {"Eyeglasses": 1, "glasses_style": "round"}, yaw=15, light=3, size=128)
    >>> face["image"].shape, face["image"].dtype, face["landmarks"].shape
    ((128, 128, 3), dtype('uint8'), (68, 2))
    >>> face["attributes"]["Eyeglasses"], face["attributes"]["glasses_style"]
    (1, 'round')
"""

from __future__ import annotations

import collections
import contextlib
import functools
import math
import numbers
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Optional, Sequence, Union

import cv2
import numpy as np

from facekit.landmarks import IBUG68_GROUPS

__all__ = [
    "ATTRIBUTES",
    "STATE_ATTRIBUTES",
    "GLASSES_STYLES",
    "HAT_STYLES",
    "HAIR_STYLES",
    "HAIR_COLOURS",
    "STYLE_KEYS",
    "MULTIPIE_YAWS",
    "YAW_RANGE",
    "PITCH_RANGE",
    "LIGHTS",
    "N_LIGHTS",
    "MIN_SIZE",
    "MAX_SIZE",
    "Light",
    "FaceParams",
    "identity_params",
    "resolve_attributes",
    "attributes_to_vector",
    "attributes_from_vector",
    "landmarks_3d",
    "render",
]

# --------------------------------------------------------------------------------------------------------------
# Names and ranges
# --------------------------------------------------------------------------------------------------------------

ATTRIBUTES: tuple[str, ...] = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Bald", "Bangs", "Big_Lips", "Big_Nose", "Black_Hair", "Blond_Hair",
    "Brown_Hair", "Bushy_Eyebrows", "Chubby", "Eyeglasses", "Goatee", "Gray_Hair", "Male", "Mouth_Slightly_Open",
    "Mustache", "Narrow_Eyes", "No_Beard", "Pale_Skin", "Pointy_Nose", "Rosy_Cheeks", "Sideburns", "Smiling",
    "Wearing_Earrings", "Wearing_Hat", "Wearing_Lipstick", "Young",
)
"""The attributes SynthFaces renders: 28 of CelebA's 40, with CelebA's names and in CelebA's relative order."""

STATE_ATTRIBUTES: tuple[str, ...] = ("Eyeglasses", "Mouth_Slightly_Open", "Smiling", "Wearing_Earrings",
                                     "Wearing_Hat")
"""Attributes that are off by default for every identity (the others are traits drawn with the identity)."""

GLASSES_STYLES: tuple[str, ...] = ("round", "square", "sunglasses")
"""Values of the ``glasses_style`` key: CAS-PEAL's three kinds of glasses (sunglasses count as Eyeglasses)."""

HAT_STYLES: tuple[str, ...] = ("cap", "beanie", "fedora")
"""Values of the ``hat_style`` key: CAS-PEAL's three kinds of hats."""

HAIR_STYLES: tuple[str, ...] = ("short", "side_part", "quiff", "buzz", "long", "bob", "bun", "curly")
"""Hair styles (a trait of the identity; the first four are drawn for male identities, the last four for female)."""

HAIR_COLOURS: dict[str, tuple[int, int, int]] = {
    "black": (30, 25, 23),
    "brown": (95, 64, 42),
    "blond": (196, 160, 102),
    "gray": (168, 166, 162),
    "red": (148, 70, 38),
}
"""Base RGB of each hair colour; ``red`` has no CelebA attribute (all four hair-colour attributes are 0)."""

_HAIR_COLOUR_ATTRIBUTE = {"black": "Black_Hair", "brown": "Brown_Hair", "blond": "Blond_Hair", "gray": "Gray_Hair"}
_HAIR_COLOUR_ATTRIBUTES = tuple(_HAIR_COLOUR_ATTRIBUTE.values())

STYLE_KEYS: tuple[str, ...] = ("glasses_style", "hat_style")
"""Extra keys of the attributes dict that choose an accessory type."""

MULTIPIE_YAWS: tuple[float, ...] = (-45.0, -30.0, -15.0, 0.0, 15.0, 30.0, 45.0)
"""The seven yaws of MultiPIE's cameras used by *Learning to see another you* (degrees)."""

YAW_RANGE: tuple[float, float] = (-45.0, 45.0)
"""Valid yaw, degrees."""

PITCH_RANGE: tuple[float, float] = (-20.0, 20.0)
"""Valid pitch, degrees."""

MIN_SIZE: int = 32
"""Smallest image side ``render`` accepts (below it the eyes are a pixel or two)."""

MAX_SIZE: int = 1024
"""Largest image side ``render`` accepts."""


@dataclass(frozen=True)
class Light:
    """A directional light: where it comes from and how strong the ambient and diffuse terms are.

    Args:
        azimuth: degrees; 0 is the camera direction, positive lights the image's right side of the face.
        elevation: degrees; positive is above the head.
        ambient: the share of light that reaches every surface.
        diffuse: the strength of the Lambertian term.
    """

    azimuth: float
    elevation: float
    ambient: float
    diffuse: float

    @property
    def direction(self) -> np.ndarray:
        """Unit vector towards the light, camera frame (x right, y down, z towards the camera). Shape ``(3,)``."""
        a, e = math.radians(self.azimuth), math.radians(self.elevation)
        return np.array([math.sin(a) * math.cos(e), -math.sin(e), math.cos(a) * math.cos(e)], np.float32)


def _make_lights() -> tuple[Light, ...]:
    lights = [Light(0.0, 10.0, 0.62, 0.45)]  # 0: frontal and soft, as MultiPIE's no-flash / frontal-flash
    for az in (-75, -60, -45, -30, -15, 0, 15, 30, 45, 60, 75):  # 1-11: a ring at head height
        lights.append(Light(float(az), 0.0, 0.40, 0.72))
    for az in (-55, -20, 20, 55):  # 12-15: above
        lights.append(Light(float(az), 35.0, 0.42, 0.70))
    for az in (-35, 35):  # 16-17: below
        lights.append(Light(float(az), -20.0, 0.45, 0.62))
    lights.append(Light(0.0, 55.0, 0.45, 0.68))  # 18: from the top
    lights.append(Light(0.0, 20.0, 0.50, 0.60))  # 19: frontal, a little above
    return tuple(lights)


LIGHTS: tuple[Light, ...] = _make_lights()
"""The 20 lights (index 0 = frontal and soft; 1-11 a ring from the left to the right at head height; 12-15 above;
16-17 below; 18 from the top; 19 frontal and a little above)."""

N_LIGHTS: int = len(LIGHTS)
"""Number of lights (20, as MultiPIE's illumination conditions)."""

# Landmark index groups (iBUG-300W), as slices.
_EYES = tuple(slice(IBUG68_GROUPS[name][0], IBUG68_GROUPS[name][-1] + 1) for name in ("right_eye", "left_eye"))
_BROWS = tuple(slice(IBUG68_GROUPS[name][0], IBUG68_GROUPS[name][-1] + 1) for name in ("right_brow", "left_brow"))

# Framing: head units -> pixels. One head unit is half the face width (cheekbone to cheekbone).
_FACE_SCALE = 0.255  # pixels per head unit, as a fraction of the image side
_EYE_LINE = 0.43  # height of the eye line, as a fraction of the image side
_PIVOT = np.array([0.0, 0.2, -0.5], np.float32)  # the head turns about this point (head units)
_SUPERSAMPLE = 2  # the canvas is this many times the output size
_SHIFT = 4  # cv2 fixed-point bits: coordinates are given in 1/16 of a canvas pixel
_NOISE_SIGMA = 1.6  # sensor noise, in grey levels
_SALT_ID, _SALT_BG, _SALT_NOISE = 0x5F3759DF, 0x2545F491, 0x9E3779B9


def _readonly(*arrays: np.ndarray) -> Any:
    """Mark arrays read-only (cached arrays are shared by every later render: nobody may change them). Returns
    the array, or the tuple of arrays."""
    for array in arrays:
        array.flags.writeable = False
    return arrays[0] if len(arrays) == 1 else arrays


# --------------------------------------------------------------------------------------------------------------
# Identity: an integer -> a parameter vector and default attributes
# --------------------------------------------------------------------------------------------------------------

_SKIN_PALETTE = np.array([  # a natural range of skin tones, light to dark (RGB)
    [247, 216, 196], [238, 196, 170], [226, 180, 148], [212, 160, 124], [192, 138, 102],
    [166, 112, 80], [134, 88, 62], [104, 68, 48], [82, 54, 40]], np.float32)

_IRIS_COLOURS = np.array([[62, 40, 28], [92, 60, 36], [108, 84, 48], [72, 96, 70], [70, 104, 140], [98, 112, 124]],
                         np.float32)

_BACKGROUND_PALETTE = np.array([  # studio greys, walls, foliage, sky, dark rooms (RGB)
    [128, 128, 128], [190, 190, 186], [72, 76, 84], [176, 160, 136], [206, 196, 176], [90, 120, 150],
    [140, 170, 200], [96, 122, 86], [150, 120, 100], [52, 48, 46], [200, 180, 150], [120, 96, 120]], np.float32)

_GLASSES_COLOURS = _readonly(np.array([[25, 22, 20], [60, 40, 30], [120, 110, 100], [30, 30, 60]]))
_EARRING_COLOURS = _readonly(np.array([[220, 190, 90], [215, 215, 220], [190, 40, 60]]))

_SHIRT_PALETTE = np.array([[40, 48, 70], [180, 40, 40], [230, 230, 226], [30, 30, 32], [70, 110, 70],
                           [200, 170, 90], [90, 70, 120], [60, 120, 170], [140, 140, 140], [170, 90, 60]],
                          np.float32)


@dataclass(frozen=True)
class FaceParams:
    """The parameters of one identity (drawn by :func:`identity_params`; read them, do not build them).

    Continuous shape parameters are multipliers near 1 (or offsets near 0) of the template; colours are RGB
    floats in [0, 255]. ``traits`` holds the identity's default attributes (every name of :data:`ATTRIBUTES`),
    ``other_gender`` the gender-linked traits it takes when ``Male`` is overridden (beard, lipstick, baldness,
    hair style).
    """

    identity: int
    head_scale: float
    head_width: float
    face_length: float
    jaw_width: float
    jaw_square: float
    eye_spacing: float
    eye_size: float
    eye_open: float
    eye_tilt: float
    brow_height: float
    brow_thickness: float
    brow_arch: float
    nose_length: float
    nose_width: float
    nose_tip: float
    mouth_width: float
    mouth_height: float
    lip_upper: float
    lip_lower: float
    ear_size: float
    hairline: float
    hair_volume: float
    skin: tuple[float, float, float]
    lip: tuple[float, float, float]
    lipstick: tuple[float, float, float]
    iris: tuple[float, float, float]
    hair_colour_name: str
    hair_colour: tuple[float, float, float]
    hair_style: str
    shirt: tuple[float, float, float]
    glasses_style: str
    glasses_colour: tuple[float, float, float]
    hat_style: str
    hat_colour: tuple[float, float, float]
    earring_colour: tuple[float, float, float]
    traits: Mapping[str, int] = field(default_factory=dict)
    other_gender: Mapping[str, Any] = field(default_factory=dict)

    def as_vector(self) -> np.ndarray:
        """The continuous parameters and colours as one float vector (for plots and nearest-identity searches).

        Returns:
            ``(32,)`` float32: the 23 shape parameters, then skin, iris and hair colour (RGB / 255).
        """
        shape = [self.head_scale, self.head_width, self.face_length, self.jaw_width, self.jaw_square,
                 self.eye_spacing, self.eye_size, self.eye_open, self.eye_tilt, self.brow_height,
                 self.brow_thickness, self.brow_arch, self.nose_length, self.nose_width, self.nose_tip,
                 self.mouth_width, self.mouth_height, self.lip_upper, self.lip_lower, self.ear_size,
                 self.hairline, self.hair_volume, float(self.traits["Male"])]
        colours = np.concatenate([self.skin, self.iris, self.hair_colour]) / 255.0
        return np.concatenate([np.asarray(shape, np.float32), colours.astype(np.float32)])


def _check_identity(identity: Any, name: str = "identity") -> int:
    if type(identity) is int and identity >= 0:  # the common case, without the slower checks below
        return identity
    if isinstance(identity, (bool, np.bool_)) or not isinstance(identity, numbers.Integral) or identity < 0:
        raise ValueError(f"{name} must be a non-negative int (e.g. 0, 1, 2, ...), got {identity!r}")
    return int(identity)


def _mix(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    return (1.0 - t) * np.asarray(a, np.float32) + t * np.asarray(b, np.float32)


def _rgb(values: np.ndarray) -> tuple[float, float, float]:
    r, g, b = values.tolist()  # Python numbers (much faster than iterating over numpy scalars)
    return min(255.0, max(0.0, float(r))), min(255.0, max(0.0, float(g))), min(255.0, max(0.0, float(b)))


@functools.lru_cache(maxsize=8192)
def identity_params(identity: int) -> FaceParams:
    """Draw the parameters of identity ``identity`` (cached; the same integer always gives the same person).

    Args:
        identity: a non-negative integer.

    Returns:
        A frozen :class:`FaceParams`.

    Raises:
        ValueError: ``identity`` is not a non-negative int.

    Example:
        >>> p = identity_params(3)
        >>> p.traits["Male"] in (0, 1), len(p.as_vector())
        (True, 32)
    """
    identity = _check_identity(identity)
    draw = _Draws(np.random.default_rng([identity, _SALT_ID]).random(80).tolist())
    u, coin, pick = draw.uniform, draw.coin, draw.pick
    male = bool(coin(0.45))
    young = bool(coin(0.75))

    # Skin: a position along the natural palette (lighter tones a little more likely), a little undertone.
    t = ((draw.next() + draw.next()) / 2) ** 1.15 * (len(_SKIN_PALETTE) - 1.001)
    i = int(t)
    skin = _mix(_SKIN_PALETTE[i], _SKIN_PALETTE[i + 1], t - i) * np.array([u(0.97, 1.03), u(0.97, 1.02),
                                                                             u(0.95, 1.03)])
    darkness = t / (len(_SKIN_PALETTE) - 1)
    lip = skin * np.array([0.82, 0.56, 0.57]) + np.array([22, 0, 6])
    lipstick = np.array([u(150, 200), u(20, 60), u(40, 80)])
    iris = _IRIS_COLOURS[pick(6, (0.3, 0.2, 0.12, 0.1, 0.16, 0.12) if darkness < 0.4
                              else (0.55, 0.35, 0.1, 0.0, 0.0, 0.0))] * u(0.9, 1.1)

    # Hair colour (gray mostly for older identities; dark skin -> mostly black hair).
    names = list(HAIR_COLOURS)  # black, brown, blond, gray, red
    gray = not young and coin(0.55)
    k = pick(5, (0.34, 0.34, 0.22, 0.02, 0.08) if darkness < 0.45 else (0.8, 0.17, 0.02, 0.01, 0.0))
    hair_name = "gray" if gray else names[k]
    hair_colour = np.asarray(HAIR_COLOURS[hair_name], np.float32) * u(0.85, 1.15)
    style_m = HAIR_STYLES[pick(4, (0.35, 0.3, 0.2, 0.15))]
    style_f = HAIR_STYLES[4 + pick(4, (0.4, 0.25, 0.15, 0.2))]

    # Gender-linked traits, drawn for both versions of the person so that overriding Male is deterministic.
    male_version = {"Mustache": coin(0.12), "Goatee": coin(0.14), "Sideburns": coin(0.15),
                    "5_o_Clock_Shadow": coin(0.3), "Wearing_Lipstick": 0, "Bald": coin(0.04 if young else 0.3),
                    "hair_style": style_m}
    female_version = {"Mustache": 0, "Goatee": 0, "Sideburns": 0, "5_o_Clock_Shadow": 0,
                      "Wearing_Lipstick": coin(0.75), "Bald": 0, "hair_style": style_f}
    own, other = (male_version, female_version) if male else (female_version, male_version)

    traits = {name: 0 for name in ATTRIBUTES}
    traits.update({
        "Male": int(male), "Young": int(young),
        "Arched_Eyebrows": coin(0.12 if male else 0.45), "Bushy_Eyebrows": coin(0.25 if male else 0.06),
        "Bangs": coin(0.06 if male else 0.25), "Big_Lips": coin(0.22), "Big_Nose": coin(0.3 if male else 0.15),
        "Pointy_Nose": coin(0.25), "Narrow_Eyes": coin(0.1), "Chubby": coin(0.07),
        "Rosy_Cheeks": coin(0.02 if male else 0.12), "Pale_Skin": coin(0.06 if darkness < 0.3 else 0.0),
    })
    traits.update({k: v for k, v in own.items() if k in ATTRIBUTES})
    if traits["Bald"]:
        traits["Bangs"] = 0
    if hair_name in _HAIR_COLOUR_ATTRIBUTE:
        traits[_HAIR_COLOUR_ATTRIBUTE[hair_name]] = 1
    traits["No_Beard"] = int(not (traits["Mustache"] or traits["Goatee"]))

    return FaceParams(
        identity=identity,
        head_scale=u(0.95, 1.05),
        head_width=u(0.94, 1.06),
        face_length=u(0.94, 1.06) * (1.02 if male else 0.98),
        jaw_width=u(0.93, 1.03) * (1.04 if male else 0.97),
        jaw_square=u(2.3, 3.1) if male else u(1.8, 2.5),
        eye_spacing=u(0.94, 1.06),
        eye_size=u(0.92, 1.08),
        eye_open=u(0.92, 1.08),
        eye_tilt=u(-0.02, 0.05),
        brow_height=u(-0.03, 0.04),
        brow_thickness=u(0.9, 1.1) * (1.15 if male else 0.9),
        brow_arch=u(0.7, 1.0),
        nose_length=u(0.92, 1.08),
        nose_width=u(0.94, 1.06) * (1.03 if male else 0.97),
        nose_tip=u(0.95, 1.05),
        mouth_width=u(0.9, 1.1),
        mouth_height=u(0.97, 1.03),
        lip_upper=u(0.9, 1.1) * (0.93 if male else 1.03),
        lip_lower=u(0.9, 1.1) * (0.93 if male else 1.03),
        ear_size=u(0.9, 1.1),
        hairline=u(-0.05, 0.12) if young else u(0.0, 0.25),
        hair_volume=u(0.8, 1.2),
        skin=_rgb(skin),
        lip=_rgb(lip),
        lipstick=_rgb(lipstick),
        iris=_rgb(iris),
        hair_colour_name=hair_name,
        hair_colour=_rgb(hair_colour),
        hair_style=str(own["hair_style"]),
        shirt=_rgb(_SHIRT_PALETTE[pick(len(_SHIRT_PALETTE))] * u(0.85, 1.1)),
        glasses_style=GLASSES_STYLES[pick(2)],
        glasses_colour=_rgb(_GLASSES_COLOURS[pick(4)]),
        hat_style=HAT_STYLES[pick(3)],
        hat_colour=_rgb(_SHIRT_PALETTE[pick(len(_SHIRT_PALETTE))] * u(0.8, 1.1)),
        earring_colour=_rgb(_EARRING_COLOURS[pick(3)]),
        traits=traits,
        other_gender=other,
    )


class _Draws:
    """Hands out pre-drawn uniform numbers in [0, 1) one at a time (much faster than one generator call each)."""

    def __init__(self, values: list[float]) -> None:
        self._values = values
        self._i = 0

    def next(self) -> float:
        value = self._values[self._i]
        self._i += 1
        return value

    def uniform(self, low: float, high: float) -> float:
        return low + (high - low) * self.next()

    def coin(self, p: float) -> int:
        return int(self.next() < p)

    def pick(self, n: int, probs: Optional[Sequence[float]] = None) -> int:
        """An index in ``range(n)``, uniform or with the given probabilities."""
        x = self.next()
        if probs is None:
            return min(int(x * n), n - 1)
        total, acc = sum(probs), 0.0
        for k, q in enumerate(probs):
            acc += q / total
            if x < acc:
                return k
        return n - 1


# --------------------------------------------------------------------------------------------------------------
# Attributes: defaults + overrides -> one consistent dict
# --------------------------------------------------------------------------------------------------------------


def _check_attribute_value(name: str, value: Any) -> int:
    if type(value) is int and value in (0, 1, -1):  # the common case, without the slower checks below
        return int(value == 1)
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, numbers.Real) and float(value) in (0.0, 1.0, -1.0):
        return int(float(value) == 1.0)
    raise ValueError(f"attribute {name!r} must be 0 or 1 (True/False; CelebA's -1 also means absent), "
                     f"got {value!r}")


def resolve_attributes(identity: int, attributes: Optional[Mapping[str, Any]] = None) -> dict[str, Any]:
    """Merge an identity's default attributes with overrides, and make the result consistent.

    Rules (an attribute that you set explicitly always keeps your value; a contradiction between two explicit
    values raises):

    * ``Male`` overridden: the gender-linked traits (beard, lipstick, baldness, hair style) switch to the
      identity's other-gender version;
    * hair colour: at most one of Black/Blond/Brown/Gray_Hair is 1 (none = red hair); setting one to 1 switches
      the colour; setting the current one to 0 switches to brown (or black if it was brown);
    * ``Bald`` and ``Bangs`` exclude each other;
    * ``No_Beard`` is 1 exactly when neither ``Mustache`` nor ``Goatee`` is; ``No_Beard=1`` shaves both,
      ``No_Beard=0`` on a beardless face grows a goatee;
    * ``glasses_style`` / ``hat_style`` given alone turn on ``Eyeglasses`` / ``Wearing_Hat``; the returned style is
      ``None`` when the accessory is off.

    Args:
        identity: a non-negative int.
        attributes: ``{name: 0 or 1}`` for names in :data:`ATTRIBUTES` (CelebA's -1 is read as 0), plus optional
            ``glasses_style`` and ``hat_style``. ``None`` = the identity's defaults.

    Returns:
        A dict with every name of :data:`ATTRIBUTES` (int 0/1) and the keys ``glasses_style``, ``hat_style``
        (str or None) and ``hair_colour``, ``hair_style`` (str, informative).

    Raises:
        ValueError: unknown name (the message lists the valid ones), a value that is not 0/1, an unknown style,
            or contradictory explicit values.

    Example:
        >>> a = resolve_attributes(5, {"Wearing_Hat": 1, "hat_style": "beanie", "Smiling": True})
        >>> a["Wearing_Hat"], a["hat_style"], a["Smiling"]
        (1, 'beanie', 1)
    """
    params = identity_params(identity)
    if not isinstance(attributes, (Mapping, type(None))):
        raise ValueError(f"attributes must be a dict like {{'Eyeglasses': 1}}, got {type(attributes).__name__}")
    overrides = dict(attributes or {})
    explicit: dict[str, Any] = {}
    for name, value in overrides.items():
        if name in STYLE_KEYS:
            valid = GLASSES_STYLES if name == "glasses_style" else HAT_STYLES
            if value is not None and value not in valid:
                raise ValueError(f"{name} must be one of {', '.join(valid)} (or None), got {value!r}")
            explicit[name] = value
        elif name in ATTRIBUTES:
            explicit[name] = _check_attribute_value(name, value)
        else:
            raise ValueError(f"unknown attribute {name!r}; valid names are: {', '.join(ATTRIBUTES)}, "
                             f"and the style keys {', '.join(STYLE_KEYS)}")

    out: dict[str, Any] = dict(params.traits)
    out.update({name: 0 for name in STATE_ATTRIBUTES})
    hair_style = params.hair_style
    if "Male" in explicit and explicit["Male"] != out["Male"]:
        for key, value in params.other_gender.items():
            if key == "hair_style":
                hair_style = value
            else:
                out[key] = value
    out.update({k: v for k, v in explicit.items() if k in ATTRIBUTES})

    # Hair colour: at most one of the four.
    on = [a for a in _HAIR_COLOUR_ATTRIBUTES if explicit.get(a) == 1]
    if len(on) > 1:
        raise ValueError(f"at most one hair colour can be 1, got {', '.join(on)}")
    colour = params.hair_colour_name
    if on:
        colour = next(k for k, v in _HAIR_COLOUR_ATTRIBUTE.items() if v == on[0])
    elif colour in _HAIR_COLOUR_ATTRIBUTE and explicit.get(_HAIR_COLOUR_ATTRIBUTE[colour]) == 0:
        colour = "black" if colour == "brown" else "brown"
    for name in _HAIR_COLOUR_ATTRIBUTES:
        out[name] = int(_HAIR_COLOUR_ATTRIBUTE.get(colour) == name)

    # Bald vs Bangs.
    if explicit.get("Bald") == 1 and explicit.get("Bangs") == 1:
        raise ValueError("Bald=1 and Bangs=1 contradict each other")
    if explicit.get("Bangs") == 1:
        out["Bald"] = 0
    if out["Bald"]:
        out["Bangs"] = 0

    # Beard.
    if "No_Beard" in explicit:
        if explicit["No_Beard"] == 1:
            clash = [a for a in ("Mustache", "Goatee") if explicit.get(a) == 1]
            if clash:
                raise ValueError(f"No_Beard=1 contradicts {'='.join(clash)}=1")
            out["Mustache"] = out["Goatee"] = 0
        elif not (out["Mustache"] or out["Goatee"]):
            if explicit.get("Mustache") == 0 and explicit.get("Goatee") == 0:
                raise ValueError("No_Beard=0 contradicts Mustache=0 and Goatee=0")
            out["Goatee"] = 1 if explicit.get("Goatee") != 0 else 0
            out["Mustache"] = out["Mustache"] or int(explicit.get("Goatee") == 0)
    out["No_Beard"] = int(not (out["Mustache"] or out["Goatee"]))

    # Accessory styles.
    for flag, key, default in (("Eyeglasses", "glasses_style", params.glasses_style),
                               ("Wearing_Hat", "hat_style", params.hat_style)):
        style = explicit.get(key)
        if style is not None and flag not in explicit:
            out[flag] = 1
        if style is not None and explicit.get(flag) == 0:
            raise ValueError(f"{key}={style!r} contradicts {flag}=0")
        out[key] = (style or default) if out[flag] else None
    out["hair_colour"] = colour
    out["hair_style"] = hair_style
    return out


def attributes_to_vector(attributes: Mapping[str, Any]) -> np.ndarray:
    """The 0/1 values of a (resolved) attributes dict as a float32 vector in :data:`ATTRIBUTES` order.

    Args:
        attributes: a dict with every name of :data:`ATTRIBUTES` (e.g. ``render(...)["attributes"]``).

    Returns:
        ``(len(ATTRIBUTES),)`` float32 of 0.0 / 1.0.
    """
    missing = [name for name in ATTRIBUTES if name not in attributes]
    if missing:
        raise ValueError(f"attributes dict lacks {', '.join(missing)}; pass a resolved dict "
                         f"(render(...)['attributes'] or resolve_attributes(identity, ...))")
    return np.array([float(attributes[name]) for name in ATTRIBUTES], np.float32)


def attributes_from_vector(vector: Union[Sequence[float], np.ndarray]) -> dict[str, int]:
    """Read a vector in :data:`ATTRIBUTES` order (0/1, or CelebA's -1/1, or probabilities) as an overrides dict.

    Values above 0.5 mean present. The result can be passed to :func:`render` as ``attributes``.

    Args:
        vector: ``(len(ATTRIBUTES),)`` numbers (a list, numpy array or torch tensor).

    Returns:
        ``{name: 0 or 1}`` for every name of :data:`ATTRIBUTES`.
    """
    values = np.asarray(vector, dtype=np.float32).reshape(-1)
    if values.shape[0] != len(ATTRIBUTES):
        raise ValueError(f"expected a vector of {len(ATTRIBUTES)} attribute values (ATTRIBUTES order), "
                         f"got shape {tuple(np.shape(vector))}")
    return {name: int(v > 0.5) for name, v in zip(ATTRIBUTES, values)}


# --------------------------------------------------------------------------------------------------------------
# Geometry: the 3-D landmark template
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Shape:
    """Derived shape numbers of one (identity, attributes), in head units (shared by renders: read-only)."""

    jaw_w: float
    jaw_top: float
    chin_y: float
    jaw_p: float
    cranium_c: np.ndarray
    cranium_r: np.ndarray


@functools.lru_cache(maxsize=8192)
def _cranium(identity: int) -> tuple[np.ndarray, np.ndarray]:
    """Centre and radii of the identity's skull ellipsoid, head units (cached, read-only)."""
    head_width = identity_params(identity).head_width
    return _readonly(np.array([0.0, -0.55, -0.55], np.float32), np.array([1.04 * head_width, 1.32, 1.38], np.float32))


def _shape(p: FaceParams, a: Mapping[str, Any]) -> _Shape:
    return _shape_of(p.identity, a["Chubby"], a["Male"], a["Mouth_Slightly_Open"])


@functools.lru_cache(maxsize=8192)
def _shape_of(identity: int, chubby: int, male: int, mouth_open: int) -> _Shape:
    p = identity_params(identity)
    jaw_w = 0.98 * p.jaw_width * (1.17 if chubby else 1.0) * (1.03 if male else 1.0) * p.head_width
    chin_y = 1.66 * p.face_length + (0.05 if mouth_open else 0.0)
    jaw_p = p.jaw_square + (0.35 if male else 0.0) + (0.3 if chubby else 0.0)
    cranium_c, cranium_r = _cranium(identity)
    return _Shape(jaw_w=jaw_w, jaw_top=0.05, chin_y=chin_y, jaw_p=jaw_p, cranium_c=cranium_c, cranium_r=cranium_r)


def _jaw_depth(sh: _Shape, t: Union[float, np.ndarray]) -> Union[float, np.ndarray]:
    """Depth (z) of the face's outline at relative height ``t`` in [0, 1] (0 = ear level, 1 = chin).

    The outline runs along the side of the head (z ~ -0.45, by the ears) and comes forwards only at the chin
    (z = 0.6): ``z = -0.45 + 1.05 t^(3p)`` with ``p`` the jaw's superellipse exponent, i.e. ``sin(phi)^6`` along it.
    """
    return -0.45 + 1.05 * t ** (3.0 * sh.jaw_p)


def _jaw_halfwidth(sh: _Shape, y: np.ndarray) -> np.ndarray:
    t = np.clip((y - sh.jaw_top) / (sh.chin_y - sh.jaw_top), 0.0, 1.0)
    return sh.jaw_w * np.power(np.clip(1.0 - np.power(t, sh.jaw_p), 0.0, 1.0), 1.0 / sh.jaw_p)


_SHAPE_ATTRIBUTES = ("Arched_Eyebrows", "Big_Lips", "Big_Nose", "Chubby", "Male", "Mouth_Slightly_Open",
                     "Narrow_Eyes", "Pointy_Nose", "Smiling")
"""The attributes that move landmarks (accessories never do)."""


@functools.lru_cache(maxsize=8192)
def _jaw_points_of(identity: int, chubby: int, male: int, mouth_open: int) -> np.ndarray:
    """Jaw landmarks 0..16: a superellipse from ear level (image left) round the chin to ear level (image right)."""
    sh = _shape_of(identity, chubby, male, mouth_open)
    pts = []
    e = 2.0 / sh.jaw_p
    for k in range(17):
        c, s = math.cos(math.pi * k / 16), math.sin(math.pi * k / 16)
        t = abs(s) ** e
        pts.append((-sh.jaw_w * math.copysign(abs(c) ** e, c), sh.jaw_top + (sh.chin_y - sh.jaw_top) * t,
                    float(_jaw_depth(sh, t))))
    return _readonly(np.array(pts))  # (17, 3) float64


def landmarks_3d(params: FaceParams, attributes: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The 68 iBUG landmarks of a face in 3-D head units, before pose, and an outward normal at each.

    Head units: the eye line is ``y = 0``, the face is about 2 units wide at the cheekbones, ``x`` points to the
    image's right, ``y`` down and ``z`` towards the camera.

    Args:
        params: the identity's parameters (:func:`identity_params`).
        attributes: a resolved attributes dict (:func:`resolve_attributes`).

    Returns:
        ``(points, normals)``: two ``(68, 3)`` float32 arrays.
    """
    key = tuple(int(attributes[name]) for name in _SHAPE_ATTRIBUTES)
    pts, normals = _landmarks_3d(params.identity, key)
    return pts.copy(), normals.copy()


_NORMAL_DEPTH_GAIN = _readonly(np.where(np.arange(68) < 17, 1.0, 1.6))  # the jaw's normals point more sideways


# The landmarks in head units, one part at a time, as float64 arrays (each part is cached, keyed by the few
# attributes it depends on); _landmarks_3d puts them together.


@functools.lru_cache(maxsize=8192)
def _brow_points_of(identity: int, arched: int, male: int) -> np.ndarray:
    p, pts = identity_params(identity), []
    # Brows 17..21 (image left, outer -> inner) and 22..26 (inner -> outer).
    arch = 0.075 * p.brow_arch * (2.8 if arched else 1.0) * (0.9 if male else 1.0)
    base = -0.31 - p.brow_height + (0.03 if male else 0.0)
    brow = [(-x * (0.98 + 0.04 * p.eye_spacing), base + arch * h)
            for x, h in ((0.80, 0.55), (0.66, -0.35), (0.50, -1.0), (0.34, -0.8), (0.18, -0.35))]
    brow += [(-x, y) for x, y in reversed(brow)]
    pts += [(x, y, 0.64 - 0.5 * x * x) for x, y in brow]
    return _readonly(np.array(pts))  # float64


@functools.lru_cache(maxsize=8192)
def _nose_points_of(identity: int, big: int, pointy: int) -> np.ndarray:
    p, pts = identity_params(identity), []
    # Nose: bridge 27..30 (top to tip), lower 31..35 (image left to right).
    # Big_Nose and Pointy_Nose change different things (so that each shows whatever the other is): a big nose is
    # wider and a little longer, a pointed one keeps its width and length but juts out and hangs its tip below
    # the nostrils.
    tip_y = 0.58 * p.nose_length * (1.12 if big else 1.0)
    tip_z = 0.98 * p.nose_tip + (0.08 if pointy else 0.0) + (0.05 if big else 0.0)
    tip_drop = 0.16 if pointy else 0.035
    pts += [(0.0, -0.06 + (tip_y + 0.06) * f, 0.66 + (tip_z - 0.66) * f ** 1.2) for f in (0.0, 1 / 3, 2 / 3, 1.0)]
    nw = 0.19 * p.nose_width * (1.55 if big else 1.0)
    nb = tip_y + 0.08
    pts += [(fx * nw, nb + dy, z * tip_z / 0.98) for fx, dy, z in
            ((-1.0, -0.02, 0.62), (-0.5, 0.02, 0.74), (0.0, tip_drop, 0.8), (0.5, 0.02, 0.74), (1.0, -0.02, 0.62))]
    return _readonly(np.array(pts))  # float64


@functools.lru_cache(maxsize=8192)
def _eye_points_of(identity: int, narrow: int, smile: int) -> np.ndarray:
    p, pts = identity_params(identity), []
    # Eyes 36..41 (subject's right, image left: outer corner, upper-outer, upper-inner, inner corner,
    # lower-inner, lower-outer) and 42..47 (the mirror image: inner corner first).
    ew = 0.40 * p.eye_size
    eh = 0.15 * p.eye_open * (0.42 if narrow else 1.0) * (0.85 if smile else 1.0)
    ec, tilt = 0.45 * p.eye_spacing, p.eye_tilt
    up, low = -eh * 0.58, eh * 0.42
    for side in (-1, 1):
        cx = side * ec
        ring = [(cx + side * ew / 2, -tilt), (cx + side * ew / 6, up - tilt * 0.4), (cx - side * ew / 6, up),
                (cx - side * ew / 2, 0.01), (cx - side * ew / 6, low), (cx + side * ew / 6, low - tilt * 0.3)]
        if side == 1:
            ring = [ring[3], ring[2], ring[1], ring[0], ring[5], ring[4]]
        pts += [(x, y, 0.58 - 0.35 * x * x) for x, y in ring]
    return _readonly(np.array(pts))  # float64


@functools.lru_cache(maxsize=8192)
def _mouth_points_of(identity: int, smile: int, mouth_open: int, big_lips: int) -> np.ndarray:
    p, pts = identity_params(identity), []
    # Mouth: outer lip 48..59 (from the image-left corner, over the upper lip, back under the lower lip),
    # inner lip 60..67.
    my = 1.02 * p.mouth_height * p.face_length
    mw = 0.37 * p.mouth_width * (1.2 if smile else 1.0)
    lip_scale = 1.7 if big_lips else 1.0
    lu, ll = 0.085 * p.lip_upper * lip_scale, 0.105 * p.lip_lower * lip_scale
    gap = (0.15 if mouth_open else 0.0) + (0.06 if smile else 0.0)
    lift = 0.14 if smile else 0.0
    mouth = [(-mw, -lift), (-0.55 * mw, -lu * 0.85 - 0.5 * lift), (-0.2 * mw, -lu - 0.1 * lift), (0.0, -lu * 0.8),
             (0.2 * mw, -lu - 0.1 * lift), (0.55 * mw, -lu * 0.85 - 0.5 * lift), (mw, -lift),
             (0.55 * mw, gap + ll * 0.8 - 0.3 * lift), (0.2 * mw, gap + ll), (0.0, gap + ll),
             (-0.2 * mw, gap + ll), (-0.55 * mw, gap + ll * 0.8 - 0.3 * lift),
             (-0.86 * mw, -0.9 * lift), (-0.3 * mw, -0.012 - 0.3 * lift), (0.0, -0.012 - 0.25 * lift),
             (0.3 * mw, -0.012 - 0.3 * lift), (0.86 * mw, -0.9 * lift), (0.3 * mw, gap - 0.2 * lift),
             (0.0, gap - 0.1 * lift), (-0.3 * mw, gap - 0.2 * lift)]
    pts += [(x, my + y, 0.74 - 1.5 * x * x - (0.03 if y > 0.01 else 0.0)) for x, y in mouth]
    return _readonly(np.array(pts))  # float64


@functools.lru_cache(maxsize=4096)
def _landmarks_3d(identity: int, key: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    a = dict(zip(_SHAPE_ATTRIBUTES, key))
    # each part depends on a few attributes only, and is cached on its own
    points = np.concatenate([
        _jaw_points_of(identity, a["Chubby"], a["Male"], a["Mouth_Slightly_Open"]),  # 0..16
        _brow_points_of(identity, a["Arched_Eyebrows"], a["Male"]),  # 17..26
        _nose_points_of(identity, a["Big_Nose"], a["Pointy_Nose"]),  # 27..35
        _eye_points_of(identity, a["Narrow_Eyes"], a["Smiling"]),  # 36..47
        _mouth_points_of(identity, a["Smiling"], a["Mouth_Slightly_Open"], a["Big_Lips"]),  # 48..67
    ]).astype(np.float32)  # (68, 3)
    # Outward normals: from an axis inside the head (jaw: mostly sideways; face: mostly forwards).
    normals = points - np.array([0.0, 0.0, -0.6], np.float32)
    normals[:, 1] = 0.3 * (points[:, 1] - 0.45)
    normals[:, 2] = np.maximum(normals[:, 2], 0.0) * _NORMAL_DEPTH_GAIN
    normals /= _norm3(normals.T)[:, None]
    return _readonly(points, normals)


def _rotation(yaw: float, pitch: float) -> np.ndarray:
    """Rotation matrix (camera frame) of a head turned by ``yaw`` then tilted by ``pitch`` (degrees). ``(3, 3)``."""
    y, p = math.radians(yaw), math.radians(pitch)
    r_yaw = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]], np.float32)
    r_pitch = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]], np.float32)
    return r_yaw @ r_pitch


@functools.lru_cache(maxsize=1024)
def _pose(yaw: float, pitch: float) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float]]:
    """``(R, shift, R's last row)`` of a pose (cached, read-only): a point ``x`` turns about the pivot to
    ``R x + shift``."""
    R = _rotation(yaw, pitch)
    shift = (_PIVOT - _PIVOT @ R.T).astype(np.float32)
    rz = tuple(float(v) for v in R[2])
    return (*_readonly(R, shift), rz)


class _Camera:
    """Head units -> output pixel coordinates (orthographic), for one image size, identity scale and pose."""

    def __init__(self, size: int, head_scale: float, yaw: float, pitch: float) -> None:
        self.size = size
        self.scale = _FACE_SCALE * size * head_scale  # pixels per head unit
        # the eye line's centre, in pixel-centre coordinates (a continuous position u is at pixel u - 0.5)
        self.origin = np.array([size / 2.0 - 0.5, _EYE_LINE * size - 0.5], np.float32)
        self.R, self._shift, self._rz = _pose(yaw, pitch)  # rotation about the pivot = R x + shift
        self._m = (self.R.T[:, :2] * self.scale).astype(np.float32)  # (3, 2): rotate, keep x y, scale
        self._o = (self._shift[:2] * self.scale + self.origin).astype(np.float32)

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """Rotate head-unit points about the pivot. ``(..., 3) -> (..., 3)``."""
        return points @ self.R.T + self._shift

    def project(self, points: np.ndarray) -> np.ndarray:
        """Head-unit points -> pixel coordinates. ``(..., 3) -> (..., 2)``."""
        return points @ self._m + self._o

    def depth_of(self, x: float, y: float, z: float) -> float:
        """The camera-frame z (towards the camera) of the direction ``(x, y, z)`` after rotation."""
        r = self._rz
        return r[0] * x + r[1] * y + r[2] * z

    def rotate(self, vectors: np.ndarray) -> np.ndarray:
        """Rotate direction vectors (no pivot). ``(..., 3) -> (..., 3)``."""
        return vectors @ self.R.T


# --------------------------------------------------------------------------------------------------------------
# Painting: anti-aliased polygons on a supersampled canvas, and a foreground mask
# --------------------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _lin(start: float, stop: float, n: int, endpoint: bool = True) -> np.ndarray:
    """``np.linspace`` as float32, cached (read-only): the renderer asks for the same few tables again and again."""
    out = np.linspace(start, stop, n, endpoint=endpoint, dtype=np.float32)
    out.flags.writeable = False
    return out


@functools.lru_cache(maxsize=64)
def _circle(n: int, start: float = 0.0, stop: float = 2 * math.pi) -> np.ndarray:
    """``(n, 2)`` float32 ``(cos t, sin t)`` for ``n`` angles from start to stop (a full turn omits the end)."""
    t = np.linspace(start, stop, n, endpoint=stop - start < 2 * math.pi - 1e-6)
    out = np.stack([np.cos(t), np.sin(t)], 1).astype(np.float32)
    out.flags.writeable = False
    return out


def _ellipse_outline(center: np.ndarray, axes: np.ndarray, n: int = 28, start: float = 0.0,
                     stop: float = 2 * math.pi) -> np.ndarray:
    """Points on a 3-D ellipse ``center + cos(t) * axes[0] + sin(t) * axes[1]``. Returns ``(n, 3)``."""
    return center + _circle(n, start, stop) @ axes


def _projected_ellipsoid(cam: _Camera, center: np.ndarray, radii: np.ndarray, n: int = 40) -> np.ndarray:
    """Outline of an axis-aligned (head frame) ellipsoid seen by ``cam``: ``(n, 2)`` pixel points.

    The orthographic image of an ellipsoid ``x = c + R diag(r) u, |u| <= 1`` is the ellipse whose 2x2 matrix is
    the top-left block of ``R diag(r^2) R^T``.
    """
    m = (cam.R[:2] * radii ** 2) @ cam.R[:2].T  # (2, 2) = L L^T (Cholesky, by hand)
    l11 = math.sqrt(m[0, 0])
    l21 = m[1, 0] / l11
    l22 = math.sqrt(max(m[1, 1] - l21 * l21, 1e-12))
    lt = np.array([[l11, l21], [0.0, l22]], np.float32) * cam.scale  # L^T, in pixels
    return _circle(n) @ lt + cam.project(center)


class _Painter:
    """Draws on a canvas ``_SUPERSAMPLE`` times the output size; all coordinates are given in output pixels."""

    def __init__(self, size: int) -> None:
        self.ss = _SUPERSAMPLE
        side = size * self.ss
        self.img = np.zeros((side, side, 3), np.uint8)
        self.mask = np.zeros((side, side), np.uint8)
        self._k = float(self.ss * (1 << _SHIFT))
        self._b = (0.5 - 0.5 / self.ss) * self._k  # pixel centres: canvas x = (x + 0.5) * ss - 0.5

    def _fix(self, xy: np.ndarray) -> np.ndarray:
        """Output pixel coordinates -> canvas fixed-point coordinates (int32). int32 input is already fixed."""
        if xy.dtype == np.int32:
            return xy
        return np.rint(xy * self._k + self._b).astype(np.int32)

    def _len(self, value: float) -> int:
        return max(1, int(round(value * self.ss)))

    def poly(self, xy: np.ndarray, colour: Sequence[float], mask: bool = False) -> None:
        pts = self._fix(xy).reshape(-1, 1, 2)
        cv2.fillPoly(self.img, [pts], colour, cv2.LINE_AA, _SHIFT)
        if mask:
            cv2.fillPoly(self.mask, [pts], 255, cv2.LINE_AA, _SHIFT)

    def polys(self, xys: Sequence[np.ndarray], colour: Sequence[float], mask: bool = False) -> None:
        """Fill several polygons at once (even-odd: a polygon inside another makes a hole)."""
        pts = [self._fix(xy).reshape(-1, 1, 2) for xy in xys]
        cv2.fillPoly(self.img, pts, colour, cv2.LINE_AA, _SHIFT)
        if mask:
            cv2.fillPoly(self.mask, pts, 255, cv2.LINE_AA, _SHIFT)

    def hull(self, xy: np.ndarray, colour: Sequence[float], mask: bool = False) -> None:
        pts = cv2.convexHull(self._fix(xy).reshape(-1, 1, 2))
        cv2.fillConvexPoly(self.img, pts, colour, cv2.LINE_AA, _SHIFT)
        if mask:
            cv2.fillConvexPoly(self.mask, pts, 255, cv2.LINE_AA, _SHIFT)

    def line(self, xy: np.ndarray, colour: Sequence[float], width: float, closed: bool = False,
             mask: bool = False) -> None:
        pts = self._fix(xy).reshape(-1, 1, 2)
        w = self._len(width)
        cv2.polylines(self.img, [pts], closed, colour, w, cv2.LINE_AA, _SHIFT)
        if mask:
            cv2.polylines(self.mask, [pts], closed, 255, w, cv2.LINE_AA, _SHIFT)

    def lines(self, xys: Union[Sequence[np.ndarray], np.ndarray], colour: Sequence[float], width: float) -> None:
        """Several open polylines of one colour and width in one call (a list, or an ``(n, m, 2)`` array)."""
        if isinstance(xys, np.ndarray):
            xys = self._fix(xys)  # all at once (the same numbers as one polyline at a time)
        pts = [self._fix(xy).reshape(-1, 1, 2) for xy in xys]
        cv2.polylines(self.img, pts, False, colour, self._len(width), cv2.LINE_AA, _SHIFT)

    def ellipse(self, center: np.ndarray, axes: tuple[float, float], angle: float, colour: Sequence[float],
                mask: bool = False) -> None:
        c = tuple(self._fix(center).tolist())
        ax = tuple(max(1, int(round(v * self._k))) for v in axes)
        cv2.ellipse(self.img, c, ax, angle, 0, 360, colour, -1, cv2.LINE_AA, _SHIFT)
        if mask:
            cv2.ellipse(self.mask, c, ax, angle, 0, 360, 255, -1, cv2.LINE_AA, _SHIFT)

    @contextlib.contextmanager
    def clipped(self, polygon: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> Iterator[None]:
        """Keep what is drawn inside the ``with`` block only inside ``polygon`` (anti-aliased).

        Everything drawn in the block must stay within the box ``lo``-``hi`` (output pixels).
        """
        k = self.ss
        x0, y0 = (max(0, int(v * k) - 1) for v in lo)
        x1, y1 = (min(self.img.shape[1 - i], int(v * k) + 2) for i, v in enumerate(hi))
        if x1 <= x0 or y1 <= y0:
            yield
            return
        before = self.img[y0:y1, x0:x1].copy()
        yield
        inside = np.zeros((y1 - y0, x1 - x0), np.uint8)
        shifted = self._fix(polygon) - np.array([x0, y0], np.int32) * (1 << _SHIFT)
        cv2.fillPoly(inside, [shifted.reshape(-1, 1, 2)], 255, cv2.LINE_AA, _SHIFT)
        roi = self.img[y0:y1, x0:x1]
        t = inside[..., None].astype(np.float32) * (1.0 / 255.0)
        roi[:] = (before + (roi.astype(np.float32) - before) * t + 0.5).astype(np.uint8)

    def finish(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Shrink to the output size (INTER_AREA anti-aliases). Returns ``(albedo (H, W, 3), alpha (H, W))``."""
        img = cv2.resize(self.img, (size, size), interpolation=cv2.INTER_AREA)
        alpha = cv2.resize(self.mask, (size, size), interpolation=cv2.INTER_AREA)
        return img, alpha


def _shade(colour: Sequence[float], factor: float) -> tuple[float, float, float]:
    return (colour[0] * factor, colour[1] * factor, colour[2] * factor)


def _blend(c1: Sequence[float], c2: Sequence[float], t: float) -> tuple[float, float, float]:
    return (c1[0] + (c2[0] - c1[0]) * t, c1[1] + (c2[1] - c1[1]) * t, c1[2] + (c2[2] - c1[2]) * t)


# --------------------------------------------------------------------------------------------------------------
# The parts of a face, back to front
# --------------------------------------------------------------------------------------------------------------


@dataclass
class _Scene:
    """Everything the painting functions share for one render."""

    p: FaceParams
    a: Mapping[str, Any]
    key: tuple[int, ...]  # the values of _SHAPE_ATTRIBUTES (with the identity, it fixes the landmarks)
    sh: _Shape
    cam: _Camera
    pts3: np.ndarray  # (68, 3) head units
    lm: np.ndarray  # (68, 2) pixels
    lm_px: np.ndarray  # (68, 2) int32: lm in the painter's fixed-point canvas coordinates (see _Painter._fix)
    skin: tuple[float, float, float]
    hair: tuple[float, float, float]
    detail: bool = True  # draw hairline-thin details (strands, fine wrinkles); off below 96 px, where they vanish
    _ears: Optional[list[tuple[np.ndarray, bool]]] = None  # computed once, by _ears()
    _cap: Optional[tuple[np.ndarray, np.ndarray]] = None  # computed once, by _hair_cap_points()
    _eye_centres: Optional[list[np.ndarray]] = None  # computed once, by _eye_centres()


def _forehead_point(c: np.ndarray, r: np.ndarray, x: np.ndarray, y: np.ndarray, lift: float = 0.0) -> np.ndarray:
    """3-D points on the cranium (centre ``c``, radii ``r``) at head coordinates (x, y), pushed out by ``lift``.
    ``(n, 3)``."""
    q = 1.0 - ((x - c[0]) / r[0]) ** 2 - ((y - c[1]) / r[1]) ** 2
    z = c[2] + r[2] * np.sqrt(np.maximum(q, 0.0)) + lift
    return np.stack([x, y, z], -1).astype(np.float32, copy=False)


@functools.lru_cache(maxsize=1)
def _sphere_samples() -> np.ndarray:
    """``(640, 3)`` unit vectors on a latitude-longitude grid (the hair cap is sampled on them)."""
    th, ph = np.meshgrid(np.linspace(0.05, math.pi - 0.05, 20), np.linspace(0, 2 * math.pi, 32, endpoint=False))
    d = np.stack([np.sin(th) * np.cos(ph), -np.cos(th), np.sin(th) * np.sin(ph)], -1).reshape(-1, 3)
    return _readonly(d.astype(np.float32))


# The hair's geometry in head units does not depend on the pose, the light or the size: it is computed once per
# (identity, hair style, ...) by the cached functions below (named *_of), and only projected for each render.


def _receding(a: Mapping[str, Any]) -> bool:
    """Whether the hairline recedes (older men)."""
    return bool(not a["Young"] and a["Male"])


def _hairline(sc: _Scene, n: int = 13, lift: float = 0.0) -> np.ndarray:
    """The front hairline, temple (image left) over the forehead to temple: ``(n, 3)`` head units (read-only)."""
    return _hairline_of(sc.p.identity, _receding(sc.a), n, lift)


@functools.lru_cache(maxsize=8192)
def _hairline_of(identity: int, receding: bool, n: int, lift: float) -> np.ndarray:
    c, r = _cranium(identity)
    top = -1.02 - identity_params(identity).hairline - (0.15 if receding else 0.0)
    temple = -0.42
    x = _lin(-0.8, 0.8, n) * r[0]
    f = np.abs(x) / (0.8 * r[0])
    y = top + (temple - top) * f ** 2.4
    if receding:  # receding temples (an M-shaped hairline)
        y = y - 0.18 * np.exp(-((np.abs(x) - 0.55) / 0.18) ** 2)
    return _readonly(_forehead_point(c, r, x, y, lift))


def _draw_hair_back(pa: _Painter, sc: _Scene) -> None:
    """Long hair and buns: the part of the hair that hangs behind the head and the shoulders."""
    style, cam = sc.a["hair_style"], sc.cam
    if sc.a["Bald"] or style not in ("long", "bob", "bun", "curly"):
        return
    if style == "bun":
        pa.hull(cam.project(_ellipse_outline(np.array([0, -1.55, -1.2], np.float32),
                                             np.array([[0.5, 0, 0], [0, 0.45, 0.3]], np.float32))), sc.hair,
                mask=True)
        return
    pa.hull(np.concatenate([cam.project(_hanging_hair_of(style)), _projected_back(cam, sc)]), _shade(sc.hair, 0.82),
            mask=True)


@functools.lru_cache(maxsize=8)
def _hanging_hair_of(style: str) -> np.ndarray:
    """Half rings behind the head, from the ears down to the hair's ends: ``(72, 3)`` head units (read-only)."""
    bottom = {"long": 2.7, "bob": 1.45, "curly": 2.2}[style]
    width = {"long": 1.32, "bob": 1.28, "curly": 1.5}[style]
    ys = _lin(-0.5, bottom, 6)
    pts = []
    for k, y in enumerate(ys):
        w = width * (1.0 if y < 1.2 else 1.0 + 0.1 * (y - 1.2))
        ring = _ellipse_outline(np.array([0, y, -0.6], np.float32), np.array([[w, 0, 0], [0, 0, 0.9]], np.float32),
                                n=12, start=math.pi, stop=2 * math.pi)
        pts.append(ring)
    return _readonly(np.concatenate(pts))


def _projected_back(cam: _Camera, sc: _Scene) -> np.ndarray:
    r = sc.sh.cranium_r * (1.06 + 0.05 * sc.p.hair_volume)
    return _projected_ellipsoid(cam, sc.sh.cranium_c, r, n=24)


def _rings(levels: Sequence[tuple[float, float, float]], z: float, n: int) -> np.ndarray:
    """Horizontal ellipses ``(y, half-width, half-depth)`` centred on ``(0, y, z)``, ``n`` points each: ``(L*n, 3)``."""
    cs = _circle(n)
    return np.concatenate([np.stack([w * cs[:, 0], np.full(n, y), z + d * cs[:, 1]], 1) for y, w, d in levels]
                          ).astype(np.float32)


_TORSO = _rings(((2.45, 1.3, 0.7), (2.75, 2.1, 0.95), (3.3, 2.45, 1.0), (4.5, 2.5, 1.0)), -0.65, 16)
_NECK = _rings(((0.6, 0.6, 0.55), (1.4, 0.6, 0.55), (2.2, 0.6, 0.55), (2.8, 0.6, 0.55)), -0.45, 12)
_NECKLINE = np.array([[-0.58, 2.45, 0.05], [0.0, 3.05, 0.45], [0.58, 2.45, 0.05]], np.float32)


def _draw_body(pa: _Painter, sc: _Scene) -> None:
    """Shoulders (shirt), neck and the skin of the neckline (the same body for everyone)."""
    cam, skin = sc.cam, sc.skin
    pa.hull(cam.project(_TORSO), sc.p.shirt, mask=True)
    pa.hull(cam.project(_NECK), _shade(skin, 0.93), mask=True)
    # neckline of the shirt (a V of skin), then a collar line
    v = cam.project(_NECKLINE)
    pa.poly(v, _shade(skin, 0.93))
    pa.line(v, _shade(sc.p.shirt, 0.7), 0.012 * cam.scale)


def _ears(sc: _Scene) -> list[tuple[np.ndarray, bool]]:
    """Each ear's projected outline ``(16, 2)`` and whether it faces the camera (image-left ear first)."""
    if sc._ears is not None:
        return sc._ears
    sc._ears = [(sc.cam.project(outline), _facing(sc.cam, side))
                for side, outline in zip((-1, 1), _ear_outlines_of(sc.p.identity))]
    return sc._ears


@functools.lru_cache(maxsize=8192)
def _ear_outlines_of(identity: int) -> tuple[np.ndarray, np.ndarray]:
    """The outline of each ear, image-left ear first: ``(16, 3)`` head units each (read-only)."""
    p, (_, cranium_r) = identity_params(identity), _cranium(identity)
    out = []
    for side in (-1, 1):
        c = np.array([side * 1.0 * cranium_r[0] / 1.04, 0.12, -0.38], np.float32)
        h, d = 0.3 * p.ear_size, 0.17 * p.ear_size
        axes = np.array([[0, h, 0], [side * 0.09, 0, -d]], np.float32)  # the back edge stands out
        out.append(_ellipse_outline(c, axes, n=16))
    return _readonly(*out)


def _facing(cam: _Camera, side: int) -> bool:
    """Whether the side of the head (-1 = image left, 1 = image right) turns towards the camera."""
    return cam.depth_of(side, 0.0, -0.3) > 0.05


def _draw_ears(pa: _Painter, sc: _Scene, facing: bool) -> None:
    """The ears that face the camera (``facing=True``, drawn over the head) or that do not (drawn behind it)."""
    for outline, is_facing in _ears(sc):
        if is_facing != facing:
            continue
        pa.poly(outline, _shade(sc.skin, 0.9), mask=True)
        centre = outline.sum(0) / len(outline)  # the mean (16 points: exact)
        pa.poly(centre + (outline - centre) * 0.55, _shade(sc.skin, 0.76))


def _hair_ellipsoid(sc: _Scene) -> tuple[np.ndarray, np.ndarray]:
    """Centre and radii of the hair's outer surface (the skull grown by the style's volume; read-only)."""
    return _hair_ellipsoid_of(sc.p.identity, sc.a["hair_style"])


@functools.lru_cache(maxsize=8192)
def _hair_ellipsoid_of(identity: int, style: str) -> tuple[np.ndarray, np.ndarray]:
    volume = {"buzz": 1.015, "short": 1.05, "side_part": 1.07, "quiff": 1.06, "long": 1.08, "bob": 1.1,
              "bun": 1.05, "curly": 1.16}[style]
    volume = 1.0 + (volume - 1.0) * identity_params(identity).hair_volume
    cranium_c, cranium_r = _cranium(identity)
    c = cranium_c + np.array([0, -0.2 * (volume - 1), 0], np.float32)
    return _readonly(c, cranium_r * volume)


def _hair_colour(sc: _Scene) -> tuple[float, float, float]:
    return _blend(sc.hair, sc.skin, 0.45) if sc.a["hair_style"] == "buzz" else sc.hair


def _draw_side_hair(pa: _Painter, sc: _Scene, facing: bool) -> None:
    """Hair over the ears and down to the nape, one blob a side (also the fringe that a bald head keeps)."""
    sides = [side for side in (-1, 1) if _facing(sc.cam, side) == facing]
    if not sides:
        return
    blobs = _side_hair_of(sc.p.identity, sc.a["hair_style"], sc.a["Bald"])
    colour = _shade(_hair_colour(sc), 0.92)
    for side in sides:
        pa.hull(sc.cam.project(blobs[side > 0]), colour, mask=True)


@functools.lru_cache(maxsize=1024)
def _hair_samples_of(identity: int, style: str) -> np.ndarray:
    """Points on the hair ellipsoid, one per :func:`_sphere_samples` direction: ``(640, 3)`` (read-only)."""
    c, r = _hair_ellipsoid_of(identity, style)
    return _readonly(c + _sphere_samples() * r)


@functools.lru_cache(maxsize=4096)
def _side_hair_of(identity: int, style: str, bald: int) -> tuple[np.ndarray, np.ndarray]:
    """The samples of the hair ellipsoid in each side's blob, image-left side first (read-only)."""
    q = _hair_samples_of(identity, style)  # (n, 3)
    nape = 0.35 if style not in ("buzz", "short") else 0.15
    if bald:  # only a fringe behind the ears
        band = (q[:, 2] < -0.3) & (q[:, 1] > -0.45) & (q[:, 1] < nape)
        reach = 0.3
    else:
        band = (q[:, 2] < 0.2) & (q[:, 1] > -0.75) & (q[:, 1] < nape)
        reach = 0.5
    return _readonly(*(q[band & (q[:, 0] * side > reach)] for side in (-1, 1)))


def _draw_head_back(pa: _Painter, sc: _Scene) -> None:
    """What lies behind the head: the hair and ears that face away."""
    _draw_hair_cap_back(pa, sc)
    _draw_side_hair(pa, sc, facing=False)
    _draw_ears(pa, sc, facing=False)


def _draw_head_sides(pa: _Painter, sc: _Scene) -> None:
    """What lies on the sides of a turned head, over its skin: side hair and ears that face the camera."""
    _draw_side_hair(pa, sc, facing=True)
    _draw_ears(pa, sc, facing=True)


_RING_LEVELS = np.array([0.08, 0.25, 0.45, 0.62, 0.78, 0.9, 0.97], np.float32)


def _face_outline_points(sc: _Scene) -> np.ndarray:
    """3-D points whose projected convex hull is the face's silhouette at any pose. ``(134, 3)`` (read-only).

    The lower face is a stack of horizontal half-ellipses ("rings") from ear level to the chin: at each level the
    half-width follows the jaw superellipse and the depth reaches the front of the face. Frontal, the rings'
    extreme points are the jaw landmarks; turned, the rings give the cheek's silhouette.
    """
    return _face_outline_of(sc.p.identity, sc.a["Chubby"], sc.a["Male"], sc.a["Mouth_Slightly_Open"])


@functools.lru_cache(maxsize=4096)
def _face_outline_of(identity: int, chubby: int, male: int, mouth_open: int) -> np.ndarray:
    sh = _shape_of(identity, chubby, male, mouth_open)
    t = _RING_LEVELS  # (L,) relative height, 0 = ear level, 1 = chin
    y = sh.jaw_top + (sh.chin_y - sh.jaw_top) * t
    w = _jaw_halfwidth(sh, y)  # (L,)
    zc = _jaw_depth(sh, t)
    cs = _circle(13, 0.0, math.pi)  # (13, 2): cos, sin over the front half
    rings = np.empty((len(t), 13, 3), np.float32)
    rings[..., 0] = w[:, None] * cs[None, :, 0]
    rings[..., 1] = y[:, None]
    rings[..., 2] = zc[:, None] + (0.7 - zc)[:, None] * cs[None, :, 1]
    # two more rings at brow and eye level: the brow ridge and cheekbones, in front of the eyes' outer corners
    upper = np.empty((2, 13, 3), np.float32)
    for k, y in enumerate((-0.4, -0.1)):
        w = 0.97 * sh.cranium_r[0] * math.sqrt(1.0 - ((y - sh.cranium_c[1]) / sh.cranium_r[1]) ** 2)
        upper[k, :, 0] = w * cs[:, 0]
        upper[k, :, 1] = y
        upper[k, :, 2] = -0.45 + 1.1 * cs[:, 1]
    jaw = _jaw_points_of(identity, chubby, male, mouth_open).astype(np.float32)  # the landmarks 0..16
    return _readonly(np.concatenate([rings.reshape(-1, 3), upper.reshape(-1, 3), jaw]))


def _draw_head(pa: _Painter, sc: _Scene) -> None:
    outline2d = np.concatenate([sc.cam.project(_face_outline_points(sc)),
                                _projected_ellipsoid(sc.cam, sc.sh.cranium_c, sc.sh.cranium_r)])
    pa.hull(outline2d, sc.skin, mask=True)


def _hair_cap_points(sc: _Scene) -> tuple[np.ndarray, np.ndarray]:
    """Samples of the hair ellipsoid above the hairline (front) and above the temples (sides, back), split into
    those whose surface faces the camera and those that face away: ``(front (n, 3), back (m, 3))``."""
    if sc._cap is not None:
        return sc._cap
    _, r = _hair_ellipsoid(sc)
    q, keep = _hair_cap_of(sc.p.identity, sc.a["hair_style"], _receding(sc.a))
    facing = (_sphere_samples() / r) @ np.asarray(sc.cam._rz, np.float32) > 0.0  # the normal's camera-frame z
    sc._cap = q[keep & facing], q[keep & ~facing]
    return sc._cap


@functools.lru_cache(maxsize=2048)
def _hair_cap_of(identity: int, style: str, receding: bool) -> tuple[np.ndarray, np.ndarray]:
    """Samples of the hair ellipsoid ``(N, 3)`` and whether each lies above the hairline ``(N,)`` (read-only)."""
    q = _hair_samples_of(identity, style)  # (N, 3)
    line = _hairline_of(identity, receding, 13, 0.0)  # (13, 3)
    limit = np.interp(q[:, 0], line[:, 0], line[:, 1])  # the hairline's height above each sample
    keep = q[:, 1] < np.where(q[:, 2] > 0.0, limit, line[0, 1])
    return _readonly(q, keep)


def _draw_hair_cap_back(pa: _Painter, sc: _Scene) -> None:
    """The part of the hair cap that faces away (drawn behind the head: only its rim round the head shows)."""
    if sc.a["Bald"]:
        return
    _, back = _hair_cap_points(sc)
    if len(back) >= 3:
        pa.hull(sc.cam.project(back), _hair_colour(sc), mask=True)


def _draw_hair_cap(pa: _Painter, sc: _Scene) -> None:
    """Hair on top of the head: the hull of the visible points of the hair ellipsoid above the hairline, then the
    forehead's skin again (the hull also covers the forehead, up to the hairline), then strands."""
    a, p, cam = sc.a, sc.p, sc.cam
    if a["Bald"]:
        return
    style = a["hair_style"]
    colour = _hair_colour(sc)
    line = _hairline(sc)  # (13, 3)
    front, _ = _hair_cap_points(sc)
    pa.hull(np.concatenate([cam.project(front), cam.project(line)]), colour, mask=True)
    if style == "quiff":
        pa.hull(cam.project(_quiff_outline()), colour, mask=True)
    if style == "curly":
        for q3 in _curls_of(p.identity):
            pa.ellipse(cam.project(q3), (0.17 * cam.scale, 0.15 * cam.scale), 0, colour, mask=True)
    # the face's skin again, from the hairline down to below the eyes, on the face's surface (the hull can reach
    # that far when the head tilts up); the eyes, brows and nose are drawn after this
    skin = _forehead_skin_of(p.identity, _receding(a), a["Chubby"], a["Male"], a["Mouth_Slightly_Open"])
    pa.poly(cam.project(skin), sc.skin)
    if not sc.detail:
        return
    # strands: darker and lighter curves over the skull, from the crown to the hairline
    strands = cam.project(_hair_strands_of(p.identity, style, _receding(a)))  # (9, 6, 2)
    pa.lines(strands[0::2], _shade(colour, 1.25), 0.012 * cam.scale)
    pa.lines(strands[1::2], _shade(colour, 0.7), 0.012 * cam.scale)
    if style == "side_part":
        pa.line(cam.project(_side_parting_of(p.identity)), _blend(colour, sc.skin, 0.5), 0.02 * cam.scale)


@functools.lru_cache(maxsize=1)
def _quiff_outline() -> np.ndarray:
    return _readonly(_ellipse_outline(np.array([0.1, -1.72, 0.2], np.float32),
                                      np.array([[0.75, 0, 0], [0, 0.3, 0.25]], np.float32), n=16))


@functools.lru_cache(maxsize=1024)
def _curls_of(identity: int) -> tuple[np.ndarray, ...]:
    """The centres of the curly style's curls round the top of the head: 11 ``(3,)`` arrays (read-only)."""
    c, r = _hair_ellipsoid_of(identity, "curly")
    return tuple(_readonly(c + np.array([math.cos(ang) * r[0], -math.sin(ang) * r[1] * 0.98, 0.2], np.float32))
                 for ang in _lin(0.1, math.pi - 0.1, 11))


_FOREHEAD_COS = _readonly(np.array([0.75, 0.35, -0.35, -0.75], np.float32))  # across the face below the eyes
_FOREHEAD_SIN = _readonly(np.sqrt(1 - _FOREHEAD_COS * _FOREHEAD_COS))


@functools.lru_cache(maxsize=4096)
def _forehead_skin_of(identity: int, receding: bool, chubby: int, male: int, mouth_open: int) -> np.ndarray:
    """The skin from the hairline down to below the eyes, on the face's surface: ``(17, 3)`` (read-only)."""
    sh = _shape_of(identity, chubby, male, mouth_open)
    y = 0.45
    t = (y - sh.jaw_top) / (sh.chin_y - sh.jaw_top)
    w, zc = float(_jaw_halfwidth(sh, np.float32(y))), float(_jaw_depth(sh, t))
    lower = np.stack([w * _FOREHEAD_COS, np.full(4, y, np.float32), zc + (0.7 - zc) * _FOREHEAD_SIN], 1)
    return _readonly(np.concatenate([_hairline_of(identity, receding, 13, 0.0), lower]))


@functools.lru_cache(maxsize=2048)
def _hair_strands_of(identity: int, style: str, receding: bool) -> np.ndarray:
    """Curves over the hair ellipsoid from the crown to the hairline: ``(9, 6, 3)`` head units (read-only)."""
    c, r = _hair_ellipsoid_of(identity, style)
    crown = np.array([0.0, -0.95, 0.3], np.float32)  # a direction from the hair ellipsoid's centre
    ends = (_hairline_of(identity, receding, 11, 0.0) - c) / r  # (11, 3) directions of the hairline points
    t = _lin(0.0, 1.0, 6)[None, :, None]
    d = crown * (1 - t) + ends[1:-1, None, :] * t  # (9, 6, 3): walk from the crown to each end ...
    d /= np.linalg.norm(d, axis=-1, keepdims=True)  # ... on the surface
    return _readonly(c + d * (r * 1.01))


@functools.lru_cache(maxsize=1024)
def _side_parting_of(identity: int) -> np.ndarray:
    """The parting of the side-part style: ``(2, 3)`` head units (read-only)."""
    c, r = _cranium(identity)
    start = _forehead_point(c, r, np.array([0.38]), np.array([-1.02 - identity_params(identity).hairline]), 0.05)[0]
    return _readonly(np.stack([start, start + np.array([0.05, -0.5, -0.5], np.float32)]))


def _draw_bangs(pa: _Painter, sc: _Scene) -> None:
    if not sc.a["Bangs"]:
        return
    cam = sc.cam
    outline, strands = _bangs_of(sc.p.identity, _receding(sc.a))
    pa.poly(cam.project(outline), sc.hair)
    if not sc.detail:
        return
    pa.lines(cam.project(strands), _shade(sc.hair, 0.75), 0.01 * cam.scale)


@functools.lru_cache(maxsize=2048)
def _bangs_of(identity: int, receding: bool) -> tuple[np.ndarray, np.ndarray]:
    """The fringe's outline ``(20, 3)`` and its strands, from the hairline down ``(9, 2, 3)`` (read-only)."""
    c, r = _cranium(identity)
    top = _hairline_of(identity, receding, 11, 0.04)
    x = _lin(0.8, -0.8, 9) * r[0]
    y = -0.5 + 0.05 * np.cos(_lin(0, 6 * math.pi, 9)) - 0.12 * (np.abs(x) > 0.6)
    bottom = _forehead_point(c, r, x, y, 0.04)
    return _readonly(np.concatenate([top, bottom]), np.stack([top[1:10], bottom[::-1]], 1))


def _draw_hair_front(pa: _Painter, sc: _Scene) -> None:
    """Long hair that falls in front of the shoulders, beside the face."""
    style, cam = sc.a["hair_style"], sc.cam
    if sc.a["Bald"] or style not in ("long", "bob", "curly"):
        return
    bottom = {"long": 2.6, "bob": 1.35, "curly": 2.1}[style]
    for side in (-1, 1):
        w = 1.0 if style != "curly" else 1.15
        strip = np.array([[side * 0.9, -0.75, 0.3], [side * 1.02 * w, 0.2, 0.1], [side * 1.08 * w, 1.2, 0.0],
                          [side * 1.25 * w, bottom, 0.15], [side * 1.55 * w, bottom - 0.1, -0.2],
                          [side * 1.3 * w, 0.4, -0.3], [side * 1.12 * w, -0.6, -0.1]], np.float32)
        if cam.depth_of(side, 0.0, 0.3) < -0.25:
            continue  # turned away: hidden behind the head
        pa.poly(cam.project(strip), sc.hair, mask=True)
        pa.line(cam.project(strip[:4]), _shade(sc.hair, 0.75), 0.012 * cam.scale)


def _draw_eyes(pa: _Painter, sc: _Scene) -> None:
    lm, cam, p = sc.lm, sc.cam, sc.p
    sclera = (232.0, 226.0, 220.0)
    lash = _shade(_blend(sc.hair, (20, 16, 14), 0.6), 0.8)
    gazes = _iris_centres_of(p.identity, sc.a["Narrow_Eyes"], sc.a["Smiling"])
    for group, gaze in zip(_EYES, gazes):  # the subject's right eye (image left), then the left eye
        eye = lm[group]  # (6, 2): corner, upper lid, other corner, lower lid
        eye_px = sc.lm_px[group]  # the same, in canvas coordinates
        first = group.start
        iris_c = cam.project(gaze)
        r_iris = 0.082 * p.eye_size * cam.scale
        pa.poly(eye_px, sclera)
        # the iris, pupil and catch-light, kept only inside the eye opening (the lids cover the rest)
        lo = np.minimum(eye.min(0), iris_c - r_iris) - 1.0
        hi = np.maximum(eye.max(0), iris_c + r_iris) + 1.0
        with pa.clipped(eye_px, lo, hi):
            pa.ellipse(iris_c, (r_iris * abs(cam.R[2, 2]) ** 0.5, r_iris), 0, p.iris)
            pa.ellipse(iris_c, (r_iris * 0.45, r_iris * 0.45), 0, (16, 12, 12))
            if sc.detail:
                pa.ellipse(iris_c + np.array([-0.3, -0.35]) * r_iris, (r_iris * 0.18, r_iris * 0.18), 0,
                           (250, 250, 250))
        # upper lid and lashes, lower lid, crease
        upper = [0, 1, 2, 3] if first == 36 else [3, 2, 1, 0]
        pa.line(eye_px[upper], lash, 0.028 * cam.scale)
        lower = [3, 4, 5, 0] if first == 36 else [0, 5, 4, 3]
        if sc.a["Narrow_Eyes"]:  # a squint: a heavy lower lid, drawn at every size
            pa.line(eye_px[lower], _shade(sc.skin, 0.6), 0.026 * cam.scale)
        elif sc.detail:
            pa.line(eye_px[lower], _shade(sc.skin, 0.72), 0.01 * cam.scale)
        if sc.detail:
            crease = eye[upper[1:3]] + np.array([0, -0.055 * cam.scale], np.float32)
            pa.line(crease, _shade(sc.skin, 0.8), 0.012 * cam.scale)


@functools.lru_cache(maxsize=4096)
def _iris_centres_of(identity: int, narrow: int, smile: int) -> tuple[np.ndarray, np.ndarray]:
    """The centre of each iris, image-left eye first: ``(3,)`` head units each (read-only)."""
    eyes = _eye_points_of(identity, narrow, smile).astype(np.float32)  # the landmarks 36..47
    # the iris sits in front of the eye's centre, looking ahead
    return _readonly(*(eyes[group].sum(0) / 6 + np.array([0, -0.005, 0.12], np.float32)
                       for group in (slice(0, 6), slice(6, 12))))


def _draw_brows(pa: _Painter, sc: _Scene) -> None:
    lm, cam, p = sc.lm, sc.cam, sc.p
    colour = _shade(_blend(sc.hair, (40, 30, 24), 0.35 if sc.a["hair_colour"] in ("blond", "gray") else 0.1), 0.85)
    thick = 0.06 * p.brow_thickness * (1.9 if sc.a["Bushy_Eyebrows"] else 1.0) * cam.scale
    if sc.a["Bushy_Eyebrows"]:  # dense brows: thicker and darker
        colour = _shade(colour, 0.7)
    taper = np.array([0.45, 0.8, 1.0, 1.0, 0.9])
    for group in _BROWS:
        brow = lm[group]  # (5, 2), image left to right
        t = taper if group.start == 17 else taper[::-1]
        up = brow - np.stack([np.zeros(5), t * thick * 0.55], 1)
        down = brow + np.stack([np.zeros(5), t * thick * 0.45], 1)
        pa.poly(np.concatenate([up, down[::-1]]).astype(np.float32), colour)


_ALAR_ARC = np.array([[0.02, -0.12, -0.02], [0.06, -0.05, -0.03], [0.04, 0.03, -0.02], [-0.02, 0.05, 0.0]],
                     np.float32)  # offsets from a nostril wing (image-right side; x is mirrored for the left)


def _draw_nose(pa: _Painter, sc: _Scene) -> None:
    lm, cam = sc.lm, sc.cam
    dark = _shade(sc.skin, 0.55)
    crease = _shade(sc.skin, 0.8)
    for a, b in ((31, 32), (35, 34)):  # nostrils
        dx, dy = float(lm[b, 0] - lm[a, 0]), float(lm[b, 1] - lm[a, 1])
        c = lm[a] * 0.45 + lm[b] * 0.55 + np.array([0, 0.008 * cam.scale], np.float32)
        rh = (0.045 if sc.a["Big_Nose"] else 0.03) * cam.scale * (1.0 if sc.detail else 1.3)
        pa.ellipse(c, (max(0.5, math.hypot(dx, dy) * 0.55), rh), math.degrees(math.atan2(dy, dx)), dark)
    if sc.a["Pointy_Nose"]:  # a pointed tip: its lower outline is a V and its tip catches the light, at every size
        tip = lm[30] * 0.35 + lm[33] * 0.65  # above the lowest point of the tip
        glint = (0.04 * cam.scale, 0.03 * cam.scale)
        pa.ellipse(tip, glint, 0.0, _blend(sc.skin, (255, 246, 236), 0.3 if sc.detail else 0.35))
        pa.line(sc.lm_px[[31, 33, 35]], _shade(sc.skin, 0.6 if sc.detail else 0.5),
                (0.026 if sc.detail else 0.045) * cam.scale)
    # alar creases: small arcs round the nostril wings (they mark the nose's width); below 96 px wider and darker,
    # so that the width still shows
    arcs = sc.pts3[[31, 35]][:, None, :] + _ALAR_ARC[None] * np.array([[[-1, 1, 1]], [[1, 1, 1]]], np.float32)
    if not sc.detail:
        pa.lines(cam.project(arcs), _shade(sc.skin, 0.7), 0.024 * cam.scale)
        return
    pa.lines(cam.project(arcs), crease, 0.014 * cam.scale)
    pa.line(sc.lm_px[[32, 33, 34]], _shade(sc.skin, 0.85), 0.01 * cam.scale)


def _draw_mouth(pa: _Painter, sc: _Scene) -> None:
    lm, lm_px, cam, a = sc.lm, sc.lm_px, sc.cam, sc.a
    lip = sc.p.lipstick if a["Wearing_Lipstick"] else sc.p.lip
    open_ = a["Mouth_Slightly_Open"] or a["Smiling"]
    if open_:
        pa.poly(lm_px[60:68], (46, 18, 20))
        # upper teeth: a band under the upper inner lip
        top = lm[[60, 61, 62, 63, 64]]
        depth = 0.06 * cam.scale if a["Smiling"] else 0.035 * cam.scale
        teeth = np.concatenate([top, top[::-1] + np.array([0, depth], np.float32)])
        pa.poly(teeth, (228, 222, 206))
    pa.poly(lm_px[[48, 49, 50, 51, 52, 53, 54, 64, 63, 62, 61, 60]], _shade(lip, 0.86))  # upper lip
    pa.poly(lm_px[[54, 55, 56, 57, 58, 59, 48, 60, 67, 66, 65, 64]], lip)  # lower lip
    pa.line(lm_px[[48, 60, 61, 62, 63, 64, 54]], _shade(lip, 0.45), 0.016 * cam.scale)
    if not open_:
        pa.line(lm_px[[60, 67, 66, 65, 64]], _shade(lip, 0.5), 0.01 * cam.scale)


def _draw_wrinkles(pa: _Painter, sc: _Scene) -> None:
    """Nasolabial folds (age or a smile), forehead lines and crow's feet (age)."""
    cam, a = sc.cam, sc.a
    colour = _shade(sc.skin, 0.84)
    w = 0.011 * cam.scale
    if not a["Young"] or a["Smiling"]:  # nasolabial folds, from the nose's wings to beside the mouth's corners
        folds = []
        for wing, corner, side in ((31, 48, -1), (35, 54, 1)):
            p0 = sc.pts3[wing] + np.array([side * 0.06, 0.0, -0.05], np.float32)
            p2 = sc.pts3[corner] + np.array([side * 0.07, 0.05, -0.02], np.float32)
            p1 = (p0 + p2) / 2 + np.array([side * 0.08, 0, 0], np.float32)
            folds.append(cam.project(np.stack([p0, p1, p2])))
        # age deepens the folds: darker and, below 96 px, wide enough to survive the downsampling
        aged = not a["Young"]
        pa.lines(folds, _shade(sc.skin, 0.74) if aged else colour, w if sc.detail or not aged else 2.2 * w)
    if a["Chubby"]:  # a double chin: a soft crease under the jaw, at every size
        chin = sc.pts3[[6, 7, 8, 9, 10]] + np.array([0.0, 0.11, -0.06], np.float32)
        pa.line(cam.project(chin), _shade(sc.skin, 0.78), 0.024 * cam.scale)
    if not a["Young"]:  # forehead lines (at every size) and crow's feet (where fine lines show)
        lines = list(_forehead_lines_of(sc.p.identity))
        if sc.detail:
            lines += _crows_feet_of(sc.p.identity, a["Narrow_Eyes"], a["Smiling"])
        pa.lines([cam.project(line) for line in lines], colour, w if sc.detail else 1.8 * w)


@functools.lru_cache(maxsize=2048)
def _forehead_lines_of(identity: int) -> tuple[np.ndarray, ...]:
    """Two wavy lines across the forehead: ``(5, 3)`` head units each (read-only)."""
    c, r = _cranium(identity)
    x = _lin(-0.45, 0.45, 5)
    return tuple(_readonly(_forehead_point(c, r, x, y - 0.03 * np.cos(x * 3), 0.0)) for y in (-0.68, -0.82))


@functools.lru_cache(maxsize=2048)
def _crows_feet_of(identity: int, narrow: int, smile: int) -> tuple[np.ndarray, ...]:
    """Three short lines out of each eye's outer corner: ``(2, 3)`` head units each (read-only)."""
    eyes = _eye_points_of(identity, narrow, smile).astype(np.float32)  # the landmarks 36..47
    lines = []
    for o, side in ((eyes[0], -1), (eyes[9], 1)):  # the outer corners, landmarks 36 and 45
        for dy in (-0.05, 0.0, 0.05):
            lines.append(_readonly(np.array([o + np.array([side * 0.06, dy * 0.5, -0.04]),
                                             o + np.array([side * 0.15, dy, -0.1])], np.float32)))
    return tuple(lines)


def _draw_facial_hair(pa: _Painter, sc: _Scene) -> None:
    """Sideburns, goatee and mustache, in the hair's colour."""
    a, cam, p3 = sc.a, sc.cam, sc.pts3
    colour = _shade(sc.hair, 0.9) if a["hair_colour"] != "blond" else _shade(sc.hair, 0.75)
    strand = _shade(colour, 0.7)
    w = 0.012 * cam.scale
    if a["Sideburns"]:  # a strip down the side of the face, in front of the ear, out to the silhouette
        for side in (-1, 1):
            x = side * sc.sh.jaw_w
            band = np.array([[x * 1.06, -0.5, -0.2], [x * 0.86, -0.45, 0.2], [x * 0.88, 0.3, 0.12],
                             [x * 0.95, 0.52, 0.0], [x * 1.04, 0.45, -0.25]], np.float32)
            if _facing(cam, side) or abs(float(cam.R[0, 2])) < 0.2:
                pa.poly(cam.project(band), _shade(_hair_colour(sc), 0.95), mask=True)
    if a["Goatee"]:
        lower = p3[[59, 58, 57, 56, 55]] + np.array([0, 0.035, 0], np.float32)
        chin = p3[[10, 9, 8, 7, 6]] * np.array([0.75, 1.0, 1.0], np.float32) + np.array([0, 0.02, 0.02], np.float32)
        pa.poly(cam.project(np.concatenate([lower, chin])), colour)
        if sc.detail:
            pa.lines(cam.project(np.stack([lower, chin[::-1]], 1)), strand, w)
    if a["Mustache"]:
        lip_top = p3[[54, 53, 52, 51, 50, 49, 48]] + np.array([0, -0.01, 0.02], np.float32)
        lip_top[0] += (0.05, 0.06, 0)
        lip_top[-1] += (-0.05, 0.06, 0)
        under_nose = lip_top[[1, 2, 3, 4, 5]] + np.array([0, -0.1, 0], np.float32)
        under_nose[:, 1] = np.minimum(under_nose[:, 1], p3[33, 1] + 0.06) - np.array([0, 0.02, 0.03, 0.02, 0])
        under_nose[:, 0] *= 1.1
        pa.poly(cam.project(np.concatenate([under_nose, lip_top[::-1]])), colour)
        if sc.detail:
            pa.lines(cam.project(np.stack([under_nose, lip_top[1:6]], 1)), strand, w)


def _draw_hat(pa: _Painter, sc: _Scene) -> None:
    a, p, cam, sh = sc.a, sc.p, sc.cam, sc.sh
    if not a["Wearing_Hat"]:
        return
    style, colour = a["hat_style"], p.hat_colour
    cc, r = sh.cranium_c, sh.cranium_r
    hv = 1.0 + 0.06 * (0 if a["Bald"] or a["hair_style"] == "buzz" else 1)  # room for the hair
    dark, light = _shade(colour, 0.7), _shade(colour, 1.15)
    if style == "beanie":
        crown = cc + np.array([0, -0.12, 0], np.float32)
        shell = _hat_shell(cam, crown, r * np.array([1.08 * hv, 1.0 * hv, 1.08 * hv], np.float32), rim_y=-0.45)
        pa.poly(shell, colour, mask=True)
        cuff = _hat_band(sh, cam, -0.45, -0.72, 1.1 * hv)
        pa.poly(cuff, dark, mask=True)
        if sc.detail:  # ribbing
            pa.lines(cam.project(_beanie_ribs_of(p.identity)), _shade(colour, 0.6), 0.01 * cam.scale)
        pa.ellipse(cam.project(crown + np.array([0, -r[1] * hv - 0.12, 0.1], np.float32)),
                   (0.22 * cam.scale, 0.16 * cam.scale), 0, light, mask=True)  # pompom
    elif style == "cap":
        shell = _hat_shell(cam, cc, r * np.array([1.06 * hv, 1.02 * hv, 1.06 * hv], np.float32), rim_y=-0.72)
        pa.poly(shell, colour, mask=True)
        band = _hat_band(sh, cam, -0.7, -0.8, 1.08 * hv)
        pa.poly(band, dark, mask=True)
        # visor: a half disc in front of the forehead, tilted down
        t = _lin(-math.pi / 2, math.pi / 2, 15)
        vx = 0.95 * np.sin(t)
        vz = 0.62 + 0.75 * np.cos(t)
        vy = -0.7 + 0.32 * (vz - 0.62)
        visor = np.stack([vx, vy, vz], 1).astype(np.float32)
        back = np.stack([vx[::-1] * 0.98, np.full(15, -0.72), 0.5 + 0.3 * np.cos(t[::-1])], 1).astype(np.float32)
        pa.poly(cam.project(np.concatenate([visor, back])), _shade(colour, 0.85), mask=True)
        pa.line(cam.project(visor), dark, 0.02 * cam.scale)
        pa.ellipse(cam.project(cc + np.array([0, -r[1] * hv - 0.02, 0.1], np.float32)),
                   (0.07 * cam.scale, 0.05 * cam.scale), 0, dark, mask=True)  # button
    else:  # fedora: a crown with a pinch, a ribbon, and a wide brim
        brim_y = -0.95
        brim = _ellipse_outline(np.array([0, brim_y, -0.5], np.float32),
                                np.array([[1.85, 0, 0], [0, 0.16, 1.75]], np.float32), n=32)  # front dips
        brim_pts = cam.project(brim)
        pa.hull(brim_pts, dark, mask=True)
        pa.hull(brim_pts - np.array([0, 0.035 * cam.scale], np.float32), colour, mask=True)
        crown = []
        for y, s in ((brim_y, 1.0), (-1.6, 0.98), (-2.05, 0.9), (-2.2, 0.6)):
            crown.append(_ellipse_outline(np.array([0, y, -0.55], np.float32),
                                          np.array([[1.12 * s, 0, 0], [0, 0, 1.1 * s]], np.float32), n=16))
        pa.hull(cam.project(np.concatenate(crown)), colour, mask=True)
        ribbon = []
        for y in (brim_y - 0.02, brim_y - 0.22):
            ribbon.append(_ellipse_outline(np.array([0, y, -0.55], np.float32),
                                           np.array([[1.12, 0, 0], [0, 0, 1.1]], np.float32), n=16, start=0,
                                           stop=math.pi))
        rib = cam.project(np.concatenate([ribbon[0], ribbon[1][::-1]]))
        pa.poly(rib, _shade(colour, 0.45), mask=True)
        pa.line(cam.project(_ellipse_outline(np.array([0, -2.18, -0.45], np.float32),
                                             np.array([[0.5, 0, 0], [0, 0, 0.3]], np.float32), n=9, start=0,
                                             stop=math.pi)), dark, 0.02 * cam.scale)


@functools.lru_cache(maxsize=1024)
def _beanie_ribs_of(identity: int) -> np.ndarray:
    """The ribbing of the beanie's cuff: ``(9, 2, 3)`` head units (read-only)."""
    c, r = _cranium(identity)
    x = np.repeat(_lin(-0.8, 0.8, 9), 2)
    return _readonly(_forehead_point(c, r, x, np.tile(np.array([-0.48, -0.7], np.float32), 9), 0.12).reshape(9, 2, 3))


def _hat_shell(cam: _Camera, center: np.ndarray, radii: np.ndarray, rim_y: float) -> np.ndarray:
    """The outline of the part of an ellipsoid above head height ``rim_y`` (its rim a horizontal ellipse)."""
    top = _projected_ellipsoid(cam, center, radii, n=36)
    dy = rim_y - center[1]
    s = math.sqrt(max(1e-6, 1.0 - (dy / radii[1]) ** 2))
    rim = _ellipse_outline(np.array([center[0], rim_y, center[2]], np.float32),
                           np.array([[radii[0] * s, 0, 0], [0, 0, radii[2] * s]], np.float32), n=24)
    rim2 = cam.project(rim)
    # keep the outline points above the rim's lowest projected point, then close with the front half of the rim
    front = rim2[np.argsort(np.arctan2(rim2[:, 1] - rim2[:, 1].mean(), rim2[:, 0] - rim2[:, 0].mean()))]
    pts = np.concatenate([top[top[:, 1] <= rim2[:, 1].max()], front])
    return cv2.convexHull(pts.astype(np.float32)).reshape(-1, 2)


def _hat_band(sh: _Shape, cam: _Camera, y0: float, y1: float, scale: float) -> np.ndarray:
    c, r = sh.cranium_c, sh.cranium_r * scale
    rings = []
    for y in (y0, y1):
        s = math.sqrt(max(1e-6, 1.0 - ((y - c[1]) / r[1]) ** 2))
        rings.append(cam.project(_ellipse_outline(np.array([c[0], y, c[2]], np.float32),
                                                  np.array([[r[0] * s, 0, 0], [0, 0, r[2] * s]], np.float32),
                                                  n=25, start=0, stop=math.pi)))
    facing = cam.depth_of(0.0, 0.0, 1.0) > 0
    return np.concatenate([rings[0], rings[1][::-1]]) if facing else rings[0]


def _draw_glasses(pa: _Painter, sc: _Scene) -> None:
    a, p, cam = sc.a, sc.p, sc.cam
    if not a["Eyeglasses"]:
        return
    style = a["glasses_style"]
    frame = p.glasses_colour if style != "sunglasses" else (22, 20, 20)
    width = {"round": 0.022, "square": 0.035, "sunglasses": 0.02}[style] * cam.scale
    z = 0.8
    rims = []
    for rim3 in _glasses_rims_of(p.identity, a["Narrow_Eyes"], a["Smiling"], style):
        rims.append(cam.project(rim3))
        if style == "sunglasses":
            pa.poly(rims[-1], (28, 30, 34), mask=True)
            hl = rims[-1][[4, 5, 6]] * 0.7 + rims[-1].mean(0) * 0.3
            pa.line(hl, (90, 96, 104), 0.02 * cam.scale)
        else:
            hl = rims[-1][[3, 4, 5]] * 0.75 + rims[-1].mean(0) * 0.25  # a faint reflection on the lens
            pa.line(hl, (236, 240, 244), 0.012 * cam.scale)
        pa.line(rims[-1], frame, width, closed=True, mask=True)
    # bridge over the nose
    b0, b1 = rims[0][np.argmax(rims[0][:, 0])], rims[1][np.argmin(rims[1][:, 0])]
    top = cam.project(np.array([0, -0.06, z + 0.05], np.float32))
    pa.line(np.stack([b0, top, b1]), frame, width * 0.8, mask=True)
    # temples (arms) to the ears, only on a side that faces the camera
    for rim, side, (outline, facing) in zip(rims, (-1, 1), _ears(sc)):
        if not facing:
            continue
        start = rim[np.argmin(rim[:, 0])] if side == -1 else rim[np.argmax(rim[:, 0])]
        ear_top = cam.project(np.array([side * 0.99 * sc.sh.cranium_r[0] / 1.04, -0.05, -0.3], np.float32))
        pa.line(np.stack([start, ear_top]), frame, width * 0.8, mask=True)


@functools.lru_cache(maxsize=4096)
def _glasses_rims_of(identity: int, narrow: int, smile: int, style: str) -> tuple[np.ndarray, np.ndarray]:
    """The outline of each lens, image-left first: ``(32, 3)`` head units each (read-only)."""
    eyes = _eye_points_of(identity, narrow, smile).astype(np.float32)  # the landmarks 36..47
    z = 0.8
    rims = []
    for group in (slice(0, 6), slice(6, 12)):
        c = eyes[group, :2].sum(0) / 6
        c = np.array([c[0], c[1] + 0.02, z], np.float32)
        t = _lin(0, 2 * math.pi, 32, False)
        if style == "round":
            rx, ry = 0.27, 0.24
            ring = np.stack([rx * np.cos(t), ry * np.sin(t), 0 * t], 1)
        elif style == "square":
            rx, ry = 0.3, 0.2
            e = 0.25  # superellipse exponent -> rounded rectangle
            ring = np.stack([rx * np.sign(np.cos(t)) * np.abs(np.cos(t)) ** e,
                             ry * np.sign(np.sin(t)) * np.abs(np.sin(t)) ** e, 0 * t], 1)
        else:  # aviator: wider at the top, a drop at the bottom outer side
            side = -1 if group.start == 0 else 1
            rx, ry = 0.3, 0.24
            ring = np.stack([rx * np.cos(t), ry * np.sin(t) * (1 + 0.25 * (np.sin(t) > 0)), 0 * t], 1)
            ring[:, 0] += side * 0.04 * (np.sin(t) > 0) * np.cos(t) ** 2
        ring[:, 2] = -0.5 * np.maximum(ring[:, 0] * np.sign(c[0]), 0.0) ** 2  # the outer side wraps back
        rims.append(c + ring.astype(np.float32))
    return _readonly(*rims)


def _draw_earrings(pa: _Painter, sc: _Scene) -> None:
    if not sc.a["Wearing_Earrings"]:
        return
    for side in (-1, 1):
        # A stud on the lobe and a drop hanging under it, drawn over hair; hidden only behind a turned head (the
        # lobe sits at the head's edge, so frontal faces show both).
        if sc.cam.depth_of(side, 0.0, -0.3) < -0.35:
            continue
        lobe = sc.cam.project(np.array([side * 1.02 * sc.sh.cranium_r[0] / 1.04, 0.46, -0.25], np.float32))
        r = 0.09 * sc.cam.scale
        pa.ellipse(lobe, (r * 0.8, r * 0.8), 0, sc.p.earring_colour, mask=True)
        drop = lobe + np.array([0, 2.2 * r], np.float32)
        pa.ellipse(drop, (r * 0.9, r * 1.4), 0, sc.p.earring_colour, mask=True)
        pa.ellipse(drop - r * 0.35, (r * 0.35, r * 0.35), 0, (250, 248, 240))


# --------------------------------------------------------------------------------------------------------------
# Shading: normals of a union of ellipsoids, on a coarse grid
# --------------------------------------------------------------------------------------------------------------


def _solids(sc: _Scene) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The shading solids, ellipsoids in the head frame: the skull, the face, the nose (a tilted ridge and its
    tip), the lips, the chin, the brow ridge, the neck, the shoulders, the cheeks and the hair.

    Returns:
        ``(centers (K, 3), axes (K, 3, 3), radii (K, 3))``; the rows of ``axes[k]`` are the solid's unit axes. The
        skull comes first (it also shades the cells that no solid covers). Cached per identity and attributes
        (read-only).
    """
    return _solids_of(sc.p.identity, sc.key, not sc.a["Bald"] and sc.a["hair_style"] != "buzz")


@functools.lru_cache(maxsize=4096)
def _solids_of(identity: int, key: tuple[int, ...], hair: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a = dict(zip(_SHAPE_ATTRIBUTES, key))
    sh = _shape(identity_params(identity), a)
    pts, _ = _landmarks_3d(identity, key)
    tip = pts[30]
    nose_len = float(tip[1] - pts[27][1])
    nose_w = float(pts[35][0] - pts[31][0])
    mouth_w = float(pts[54][0] - pts[48][0])
    cheek = 0.42 * (1.35 if a["Chubby"] else 1.0)
    rows = [  # (cx, cy, cz, rx, ry, rz, tilt about x in degrees)
        (*sh.cranium_c, *sh.cranium_r, 0.0),
        (0.0, 0.5, -0.2, 1.04 * sh.jaw_w, 1.2 * sh.chin_y / 1.66, 0.88, 0.0),
        (0.0, (pts[27][1] + tip[1]) / 2 + 0.04, tip[2] - 0.3, 0.1 + nose_w * 0.18, nose_len * 0.62, 0.31, 24.0),
        (0.0, tip[1] + 0.02, tip[2] - 0.12, nose_w * 0.42, 0.1, 0.12, 0.0),
        (0.0, (pts[51][1] + pts[57][1]) / 2, 0.47, mouth_w * 0.6, 0.2, 0.2, 0.0),
        (0.0, sh.chin_y - 0.25, 0.16, 0.4, 0.3, 0.32, 0.0),
        (0.0, -0.32, 0.42, 0.82, 0.16, 0.3, 0.0),
        (0.0, 1.9, -0.45, 0.62, 1.3, 0.56, 0.0),
        (0.0, 3.4, -0.65, 2.4, 1.0, 1.0, 0.0),
        (-0.5, 0.32, 0.12, 0.42, 0.3, cheek, 0.0),
        (0.5, 0.32, 0.12, 0.42, 0.3, cheek, 0.0),
    ]
    if hair:
        rows.append((*(sh.cranium_c + np.array([0, -0.05, 0], np.float32)), *(sh.cranium_r * 1.08), 0.0))
    table = _readonly(np.asarray(rows, np.float32))  # (K, 7)
    return table[:, :3], _solid_axes(tuple(table[:, 6].tolist())), table[:, 3:6]


@functools.lru_cache(maxsize=16)
def _solid_axes(tilts: tuple[float, ...]) -> np.ndarray:
    """``(K, 3, 3)`` float32: the rows of ``axes[k]`` are solid ``k``'s axes, tilted about x by ``tilts[k]`` degrees
    (cached, read-only: the tilts are the same for every face)."""
    t = np.radians(np.array(tilts, np.float32))
    axes = np.zeros((len(tilts), 3, 3), np.float32)
    axes[:, 0, 0] = 1.0
    axes[:, 1, 1], axes[:, 1, 2] = np.cos(t), np.sin(t)  # the local y axis leans forwards by `tilt`
    axes[:, 2, 1], axes[:, 2, 2] = -np.sin(t), np.cos(t)
    return _readonly(axes)


_SMALL_SOLIDS = slice(2, 7)  # the nose, its tip, the lips, the chin, the brow ridge (see _solids)
_CHEEKS = slice(9, 11)


@functools.lru_cache(maxsize=4)
def _small_solids(k: int) -> np.ndarray:
    """``(k,)`` bool: which of the ``k`` solids are small (cached, read-only)."""
    small = np.zeros(k, bool)
    small[_SMALL_SOLIDS] = small[_CHEEKS] = True
    return _readonly(small)


@functools.lru_cache(maxsize=64)
def _cell_centres(n: int) -> np.ndarray:
    """``0.5, 1.5, ..., n - 0.5`` as float32 (cached, read-only)."""
    return _readonly(np.arange(n, dtype=np.float32) + 0.5)


def _soft_union(A: np.ndarray, c: np.ndarray, u: np.ndarray, v: np.ndarray,
                floor: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted sum of the outward normals of ellipsoids ``(x - c)^T A (x - c) = 1`` seen along the view ray.

    Args:
        A: ``(K, 3, 3)`` shape matrices, camera frame; c: ``(K, 3)`` centres.
        u, v: the grid's x ``(W,)`` and y ``(H,)`` coordinates, head units, camera frame.
        floor: give the first solid a tiny weight everywhere (its rim-clipped normal then shades uncovered cells).

    Returns:
        The three ``(H, W)`` planes (x, y, z) of ``sum_k w_k n_k`` with ``n_k`` the unit normal of solid ``k`` at
        its front surface and ``w_k = exp(10 z_k)`` faded to 0 at its rim (a soft z-buffer: the front-most solid
        wins, meeting solids blend their normals over ~0.1 head units instead of making a crease).
    """
    # The (K, H, W) arrays are updated in place where possible (fewer big temporaries); each in-place step does
    # the same floating-point operation as the formula in its comment, so the result is bit for bit the same.
    a = A[:, :, :, None, None]  # (K, 3, 3, 1, 1) for broadcasting over the grid
    dx = u[None, None, :] - c[:, 0, None, None]  # (K, 1, W)
    dy = v[None, :, None] - c[:, 1, None, None]  # (K, H, 1)
    # the ray's quadratic in z is a2 z^2 + b z + cc = 0
    b = a[:, 0, 2] * dx + a[:, 1, 2] * dy
    b *= 2  # b = 2 (a02 dx + a12 dy), (K, H, W)
    cc = 2 * a[:, 0, 1] * dx * dy
    np.add(a[:, 0, 0] * dx * dx, cc, out=cc)
    cc += a[:, 1, 1] * dy * dy
    cc -= 1  # cc = a00 dx dx + 2 a01 dx dy + a11 dy dy - 1
    disc = b * b
    cc *= 4 * a[:, 2, 2]
    disc -= cc  # disc = b b - 4 a22 cc
    root = np.sqrt(np.maximum(disc, 0.0, out=disc), out=disc)
    twice_a22 = 2 * a[:, 2, 2]
    dz = np.subtract(root, b, out=b)
    dz /= twice_a22  # dz = (root - b) / (2 a22): the front surface, relative to the centre
    nx = a[:, 0, 0] * dx + a[:, 0, 1] * dy  # n = A (x - c): the gradient, i.e. the outward normal
    nx += a[:, 0, 2] * dz
    ny = a[:, 1, 0] * dx + a[:, 1, 1] * dy
    ny += a[:, 1, 2] * dz
    nz = a[:, 2, 0] * dx + a[:, 2, 1] * dy
    nz += a[:, 2, 2] * dz
    chord = np.divide(root, twice_a22, out=root)  # half the solid's thickness along the ray
    z = c[:, 2, None, None] + dz
    z *= 10.0
    w = np.exp(np.minimum(z, 30.0, out=z))
    chord *= 12.0
    w *= np.minimum(chord, 1.0, out=chord)  # w = exp(min(10 z, 30)) min(12 chord, 1)
    if floor:
        w[0] = np.maximum(w[0], 1e-12)
    norm = nx * nx
    norm += ny * ny
    norm += nz * nz
    norm = np.sqrt(norm, out=norm)
    norm += 1e-9
    w /= norm  # w /= |n| + 1e-9
    nx *= w
    ny *= w
    nz *= w
    return nx.sum(0), ny.sum(0), nz.sum(0)


def _shading(sc: _Scene, light: Light, grid: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Diffuse shading and specular highlights of the foreground on a ``(grid, grid)`` map.

    Each grid cell casts a ray along the view direction; the solids of :func:`_solids` it meets give a soft
    z-buffered normal (:func:`_soft_union`), lit by Lambert's law plus a Blinn-Phong highlight. The big, smooth
    solids (skull, face, neck, shoulders, hair) are evaluated on a grid half as fine and upsampled; the small ones
    (nose, lips, chin, brows, cheeks) at full resolution around the face only.

    Returns:
        ``(shade, spec)``: two ``(grid, grid)`` float32 maps (shade ~ 0.3..1.2, spec >= 0).
    """
    cam = sc.cam
    step = size / grid
    centers, axes, radii = _solids(sc)
    c = cam.to_camera(centers)  # (K, 3)
    q = axes @ cam.R.T  # (K, 3, 3): rows = the solids' axes in the camera frame
    A = np.einsum("kji,kj,kjl->kil", q, 1.0 / radii ** 2, q)  # (K, 3, 3)
    small = _small_solids(len(A))

    def axis(n: int, stride: float, origin: float) -> np.ndarray:  # grid cell centres -> head units
        return (_cell_centres(n) * stride - 0.5 - origin) / cam.scale

    # The normal maps are kept as three (x, y, z) planes: numpy is slow on a last axis of 3 (see _norm3)
    if grid <= 32:  # small images: one pass over every solid is cheaper than two
        normal = _soft_union(A, c, axis(grid, step, cam.origin[0]), axis(grid, step, cam.origin[1]), floor=True)
        return _light(sc, _unit(normal, 1e-9), light, step)
    coarse = grid // 2
    cstep = size / coarse
    normal = _soft_union(A[~small], c[~small], axis(coarse, cstep, cam.origin[0]),
                         axis(coarse, cstep, cam.origin[1]), floor=True)  # 3 x (g, g)
    # upsample direction and log-weight separately: the weights span many orders of magnitude, and a plain
    # linear interpolation of the weighted sums would snap to the heavier cell (blocky edges)
    weight = _norm3(normal) + 1e-30  # (g, g)
    direction = cv2.resize(cv2.merge([n / weight for n in normal]), (grid, grid),
                           interpolation=cv2.INTER_LINEAR)  # (G, G, 3)
    log_weight = cv2.resize(np.log(weight), (grid, grid), interpolation=cv2.INTER_LINEAR)  # (G, G)
    weight = np.exp(log_weight)
    normal = [direction[..., k] * weight for k in range(3)]  # 3 x (G, G)
    margin = 0.3 * cam.scale
    lo = np.clip(((sc.lm.min(0) - margin + 0.5) / step - 0.5).astype(int), 0, grid)  # face box, in cells
    hi = np.clip(((sc.lm.max(0) + margin + 0.5) / step + 0.5).astype(int), 0, grid)
    if (hi > lo).all():
        xs = axis(grid, step, cam.origin[0])[lo[0]:hi[0]]
        ys = axis(grid, step, cam.origin[1])[lo[1]:hi[1]]
        for plane, small_plane in zip(normal, _soft_union(A[small], c[small], xs, ys, floor=False)):
            plane[lo[1]:hi[1], lo[0]:hi[0]] += small_plane
    return _light(sc, _unit(normal, 1e-9), light, step)


def _norm3(planes: Sequence[np.ndarray]) -> np.ndarray:
    """The length of 3-vectors given as their x, y, z planes: ``sqrt((x x + y y) + z z)``.

    The same numbers as ``np.linalg.norm(v, axis=-1)`` of the stacked ``(..., 3)`` array (numpy sums the three
    squares in this order), and many times faster.
    """
    x, y, z = planes
    return np.sqrt(x * x + y * y + z * z)


def _unit(planes: Sequence[np.ndarray], eps: float) -> np.ndarray:
    """Normalise 3-vectors given as x, y, z planes: ``v / (|v| + eps)`` as one ``(..., 3)`` array."""
    length = _norm3(planes) + eps
    return cv2.merge([plane / length for plane in planes])


@functools.lru_cache(maxsize=64)
def _light_vectors(light: Light) -> tuple[np.ndarray, np.ndarray]:
    """The light's direction and its Blinn-Phong half vector, ``(3,)`` float32 each (cached, read-only)."""
    ldir = light.direction
    half_vec = ldir + np.array([0, 0, 1], np.float32)
    half_vec /= np.linalg.norm(half_vec)
    return _readonly(ldir, half_vec)


def _light(sc: _Scene, normal: np.ndarray, light: Light, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Lambert + Blinn-Phong shading of a ``(G, G, 3)`` unit-normal map, then ambient occlusion."""
    ldir, half_vec = _light_vectors(light)
    shade = light.ambient + light.diffuse * np.maximum(normal @ ldir, 0.0)
    spec = (light.diffuse * 0.22) * np.maximum(normal @ half_vec, 0.0) ** 24
    _ambient_occlusion(sc, shade, step, light)
    return shade, spec  # both float32


def _blob_map(blobs: list[tuple[float, float, float, float, Sequence[float]]], grid: int, step: float) -> np.ndarray:
    """Sum of axis-aligned Gaussian blobs on a grid map.

    Args:
        blobs: ``(cx, cy, sx, sy, strengths)`` each: centre and standard deviations in output pixels, and one
            strength per channel.
        grid: map side in cells; ``step``: output pixels per cell.

    Returns:
        ``(grid, grid, C)`` float32: ``sum_b strength_b * exp(-((x - cx)^2 / 2 sx^2 + (y - cy)^2 / 2 sy^2))``.
    """
    geo = np.asarray([b[:4] for b in blobs], np.float32)  # (B, 4)
    strength = np.asarray([b[4] for b in blobs], np.float32)  # (B, C)
    cells = np.arange(grid, dtype=np.float32)
    centre = (geo[:, :2] + 0.5) / step - 0.5  # in cells
    sigma = np.maximum(geo[:, 2:] / step, 0.5)
    gx = np.exp(-0.5 * ((cells[None, :] - centre[:, 0:1]) / sigma[:, 0:1]) ** 2)  # (B, G)
    gy = np.exp(-0.5 * ((cells[None, :] - centre[:, 1:2]) / sigma[:, 1:2]) ** 2)  # (B, G)
    return np.einsum("bi,bj,bc->ijc", gy, gx, strength)


def _eye_centres(sc: _Scene) -> list[np.ndarray]:
    """The centre of each eye's landmarks, ``(2,)`` pixels (image-left eye first; computed once per render)."""
    if sc._eye_centres is None:
        sc._eye_centres = [sc.lm[group].sum(0) / 6 for group in _EYES]
    return sc._eye_centres


def _ambient_occlusion(sc: _Scene, shade: np.ndarray, step: float, light: Light) -> None:
    """Darken the eye sockets, under the nose, lips and chin, and the nose's cast shadow (in place)."""
    lm, s = sc.lm, sc.cam.scale
    squash = max(0.35, abs(float(sc.cam.R[2, 2])))  # frontal features narrow as the head turns
    blobs = []
    for cx, cy in _eye_centres(sc):  # eye sockets
        blobs.append((cx, cy - 0.06 * s, 0.24 * s * squash, 0.16 * s, (0.32,)))
        blobs.append((cx, cy, 0.16 * s * squash, 0.07 * s, (0.18,)))
    blobs.append((lm[33, 0], lm[33, 1] + 0.05 * s, 0.18 * s * squash, 0.05 * s, (0.3,)))  # under the nose
    blobs.append((lm[57, 0], lm[57, 1] + 0.1 * s, 0.2 * s * squash, 0.06 * s, (0.18,)))  # under the lower lip
    blobs.append((lm[8, 0], lm[8, 1] + 0.3 * s, 0.55 * s, 0.18 * s, (0.45,)))  # the neck under the chin
    ld = _light_vectors(light)[0]
    if abs(ld[0]) > 0.2:  # the nose's cast shadow on the cheek away from the light
        c = lm[29] * 0.5 + lm[31 if ld[0] > 0 else 35] * 0.5
        blobs.append((c[0] - ld[0] * 0.12 * s, c[1], 0.07 * s, 0.16 * s,
                      (0.3 * light.diffuse * min(1.0, abs(float(ld[0])) * 1.5),)))
    shade *= np.maximum(1.0 - _blob_map(blobs, shade.shape[0], step)[..., 0], 0.2)


def _tint(sc: _Scene, grid: int, size: int) -> Optional[np.ndarray]:
    """Soft colour changes (blush, eye shadow, stubble, under-eye shadows): a ``(grid, grid, 3)`` multiplier."""
    a, lm, s = sc.a, sc.lm, sc.cam.scale
    squash = max(0.35, abs(float(sc.cam.R[2, 2])))
    blobs = []
    if a["Rosy_Cheeks"]:
        for k in (3, 13):
            c = lm[k] * 0.45 + lm[30] * 0.55
            blobs.append((c[0], c[1] - 0.05 * s, 0.16 * s * squash, 0.12 * s, (0.0, 0.22, 0.16)))
    if a["Wearing_Lipstick"]:  # eye shadow
        for cx, cy in _eye_centres(sc):
            blobs.append((cx, cy - 0.08 * s, 0.15 * s * squash, 0.06 * s, (0.12, 0.18, 0.08)))
    if a["5_o_Clock_Shadow"]:
        for k in (4, 6, 8, 10, 12):
            c = lm[k] * 0.8 + lm[57] * 0.2
            blobs.append((c[0], c[1], 0.22 * s, 0.2 * s, (0.2, 0.17, 0.12)))
        c = (lm[33] + lm[51]) / 2
        blobs.append((c[0], c[1], 0.25 * s * squash, 0.06 * s, (0.2, 0.17, 0.12)))
    if not a["Young"]:  # under-eye bags
        for cx, cy in _eye_centres(sc):
            blobs.append((cx, cy + 0.13 * s, 0.16 * s * squash, 0.06 * s, (0.2, 0.24, 0.16)))
    if not blobs:
        return None
    return np.maximum(1.0 - _blob_map(blobs, grid, size / grid), 0.3)


# --------------------------------------------------------------------------------------------------------------
# Background and noise
# --------------------------------------------------------------------------------------------------------------


def _background(seed: int, size: int, light: Light) -> np.ndarray:
    """A smooth, plausible backdrop (studio, blurred room, wall), lit from the light's side. ``(H, W, 3)`` float32."""
    return _backdrop(seed, size) * _backdrop_light(light, size)


@functools.lru_cache(maxsize=256)
def _backdrop_light(light: Light, size: int) -> np.ndarray:
    """The backdrop's brightness across the image, brighter on the light's side: ``(1, W, 3)`` float32 (cached)."""
    ramp = _lin(-1.0, 1.0, size)
    lit = 0.82 + 0.18 * light.ambient + 0.2 * float(_light_vectors(light)[0][0]) * ramp
    return _readonly(np.repeat(lit[None, :, None], 3, axis=2))  # (1, W, 3): see _gray3


class _ArrayCache:
    """A least-recently-used cache of read-only arrays, bounded by their total size in bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: collections.OrderedDict[Any, np.ndarray] = collections.OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Any, make: Callable[[], np.ndarray]) -> np.ndarray:
        """The array cached under ``key``, or ``make()`` (then cached, read-only)."""
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
                return value
        value = _readonly(make())
        with self._lock:
            if key not in self._items:
                self._items[key] = value
                self._bytes += value.nbytes
            while self._bytes > self.max_bytes and len(self._items) > 1:
                self._bytes -= self._items.popitem(last=False)[1].nbytes
        return value


# Backdrops are slow to make (an upsampling of a few random colour patches, bicubic for most) and big; they are
# cached by (seed, size) within 64 MB: about 1300 backdrops of 64 px, 340 of 128 px.
_BACKDROPS = _ArrayCache(64 << 20)


def _backdrop(seed: int, size: int) -> np.ndarray:
    """The unlit backdrop, ``(H, W, 3)`` float32 (cached, read-only)."""
    return _BACKDROPS.get((seed, size), lambda: _make_backdrop(seed, size))


def _make_backdrop(seed: int, size: int) -> np.ndarray:
    field, kind = _backdrop_field(seed)
    bg = cv2.resize(field, (size, size), interpolation=cv2.INTER_CUBIC if kind else cv2.INTER_LINEAR)
    return np.clip(bg, 0, 235)


@functools.lru_cache(maxsize=16384)
def _backdrop_field(seed: int) -> tuple[np.ndarray, int]:
    """The backdrop's few random colour patches, ``(h, w, 3)`` float32, and its kind (cached: tiny, and drawing
    them is the slow part)."""
    rng = np.random.default_rng([seed, _SALT_BG])
    base = _BACKGROUND_PALETTE[rng.integers(len(_BACKGROUND_PALETTE))] * rng.uniform(0.8, 1.15)
    kind = rng.integers(3)
    if kind == 0:  # studio: a smooth gradient
        field = base * np.array([[1.1], [0.85]])[:, :, None] * np.ones((2, 2, 1))
    elif kind == 1:  # blurred room: a few soft colour blobs
        field = base * rng.uniform(0.7, 1.3, (4, 4, 1)) * rng.uniform(0.9, 1.1, (4, 4, 3))
    else:  # wall with a door / window edge
        field = np.tile(base, (3, 4, 1)) * rng.uniform(0.95, 1.05, (3, 4, 1))
        col = rng.integers(4)
        field[:, col] *= rng.uniform(0.6, 1.4)
    field = field.astype(np.float32)
    field.flags.writeable = False
    return field, int(kind)


@functools.lru_cache(maxsize=16)
def _noise(size: int) -> np.ndarray:
    """Sensor noise, ``(2 size, 2 size)`` float32 (cached, read-only); an image uses a ``size`` square of it."""
    rng = np.random.default_rng(_SALT_NOISE)
    return _readonly((rng.standard_normal((size * 2, size * 2, 1)) * _NOISE_SIGMA).astype(np.float32)[..., 0])


def _gray3(gray: np.ndarray) -> np.ndarray:
    """A ``(H, W)`` float32 map repeated on 3 channels, ``(H, W, 3)``: an exact copy.

    The image-sized products below multiply ``(H, W, 3)`` arrays by such copies rather than by ``(H, W, 1)``
    arrays: numpy broadcasts over a last axis of 3 slowly, and the products are the same numbers.
    """
    return cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)


# --------------------------------------------------------------------------------------------------------------
# render
# --------------------------------------------------------------------------------------------------------------


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
        attributes: overrides ``{name: 0 or 1}`` for names of :data:`ATTRIBUTES`, plus ``glasses_style``
            (:data:`GLASSES_STYLES`) and ``hat_style`` (:data:`HAT_STYLES`); see :func:`resolve_attributes`.
        yaw: degrees in [-45, 45]; positive turns the face towards the image's right.
        pitch: degrees in [-20, 20]; positive tilts the face up.
        light: index into :data:`LIGHTS` (0 = frontal soft light; 20 lights).
        size: output side in pixels, in [32, 1024].
        background: seed of the backdrop; ``None`` uses the identity (so a person keeps one backdrop).

    Returns:
        A dict with

        * ``image``: ``(size, size, 3)`` uint8 RGB;
        * ``landmarks``: ``(68, 2)`` float32 pixel coordinates ``(x, y)``, iBUG-300W order;
        * ``visible``: ``(68,)`` bool, False for points on the far side of a turned head;
        * ``mask``: ``(size, size)`` uint8 foreground (person and accessories) coverage, 0-255;
        * ``attributes``: the resolved attributes (every name of :data:`ATTRIBUTES` as 0/1, and
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
