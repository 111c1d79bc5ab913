"""The renderer's vocabulary: attribute names (CelebA's), accessory and hair styles, hair colours, and the valid
ranges of pose and image size.

Everything else in :mod:`facekit.data.synthfaces` is spelled with these names; they are re-exported by the
package (``from facekit.data.synthfaces import ATTRIBUTES``).
"""

from __future__ import annotations


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
