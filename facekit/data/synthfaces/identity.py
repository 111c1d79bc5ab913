"""Stage 1 of a render, the identity: an integer -> the parameters of one person (:class:`FaceParams`).

The integer seeds numpy's PCG64 generator, which draws 80 uniform numbers; they give the head and jaw shape, the
skin tone (from a natural palette), the eye, brow, nose and mouth shape and placement, the hair style and colour,
the favourite accessory styles and colours, and the identity's default attributes (``Male``, ``Young``,
``Big_Nose``, beard, ...). The same integer always gives the same person (:func:`identity_params` is cached).
"""

from __future__ import annotations

import functools
import numbers
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from facekit.data.synthfaces._arrays import _readonly
from facekit.data.synthfaces.names import (
    _HAIR_COLOUR_ATTRIBUTE,
    ATTRIBUTES,
    GLASSES_STYLES,
    HAIR_COLOURS,
    HAIR_STYLES,
    HAT_STYLES,
)

_SALT_ID = 0x5F3759DF  # mixed into the generator's seed with the identity (other salts: backdrop.py)


_SKIN_PALETTE = np.array([  # a natural range of skin tones, light to dark (RGB)
    [247, 216, 196], [238, 196, 170], [226, 180, 148], [212, 160, 124], [192, 138, 102],
    [166, 112, 80], [134, 88, 62], [104, 68, 48], [82, 54, 40]], np.float32)

_IRIS_COLOURS = np.array([[62, 40, 28], [92, 60, 36], [108, 84, 48], [72, 96, 70], [70, 104, 140], [98, 112, 124]],
                         np.float32)

_GLASSES_COLOURS = _readonly(np.array([[25, 22, 20], [60, 40, 30], [120, 110, 100], [30, 30, 60]]))
_EARRING_COLOURS = _readonly(np.array([[220, 190, 90], [215, 215, 220], [190, 40, 60]]))

_SHIRT_PALETTE = np.array([[40, 48, 70], [180, 40, 40], [230, 230, 226], [30, 30, 32], [70, 110, 70],
                           [200, 170, 90], [90, 70, 120], [60, 120, 170], [140, 140, 140], [170, 90, 60]],
                          np.float32)


@dataclass(frozen=True)
class FaceParams:
    """The parameters of one identity (drawn by :func:`identity_params`; read them, do not build them).

    Continuous shape parameters are multipliers near 1 (or offsets near 0) of the template; colours are RGB
    floats in [0, 255]. ``traits`` holds the identity's default attributes (every name of :data:`~names.ATTRIBUTES`),
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
