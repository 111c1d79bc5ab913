"""Stage 2 of a render, the attributes: an identity's defaults + the caller's overrides -> one consistent dict.

:func:`resolve_attributes` checks the overrides (names of :data:`~facekit.data.synthfaces.names.ATTRIBUTES`, 0/1 values,
the style keys) and applies the rules that keep a face consistent (one hair colour, Bald or Bangs, No_Beard
follows Mustache and Goatee, a style turns its accessory on). :func:`attributes_to_vector` and
:func:`attributes_from_vector` convert to and from a 0/1 vector in :data:`~facekit.data.synthfaces.names.ATTRIBUTES`
order (the label a network is trained on).
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np

from facekit.data._common import attribute_value
from facekit.data.synthfaces.identity import identity_params
from facekit.data.synthfaces.names import (
    _HAIR_COLOUR_ATTRIBUTE,
    _HAIR_COLOUR_ATTRIBUTES,
    ATTRIBUTES,
    GLASSES_STYLES,
    HAT_STYLES,
    STATE_ATTRIBUTES,
    STYLE_KEYS,
)


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
        attributes: ``{name: 0 or 1}`` for names in :data:`~names.ATTRIBUTES` (CelebA's -1 is read as 0), plus optional
            ``glasses_style`` and ``hat_style``. ``None`` = the identity's defaults.

    Returns:
        A dict with every name of :data:`~names.ATTRIBUTES` (int 0/1) and the keys ``glasses_style``, ``hat_style``
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
            explicit[name] = attribute_value(name, value)
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
    """The 0/1 values of a (resolved) attributes dict as a float32 vector in :data:`~names.ATTRIBUTES` order.

    Args:
        attributes: a dict with every name of :data:`~names.ATTRIBUTES` (e.g. ``render(...)["attributes"]``).

    Returns:
        ``(len(ATTRIBUTES),)`` float32 of 0.0 / 1.0.
    """
    missing = [name for name in ATTRIBUTES if name not in attributes]
    if missing:
        raise ValueError(f"attributes dict lacks {', '.join(missing)}; pass a resolved dict "
                         f"(render(...)['attributes'] or resolve_attributes(identity, ...))")
    return np.array([float(attributes[name]) for name in ATTRIBUTES], np.float32)


def attributes_from_vector(vector: Union[Sequence[float], np.ndarray]) -> dict[str, int]:
    """Read a vector in :data:`~names.ATTRIBUTES` order (0/1, or CelebA's -1/1, or probabilities) as an overrides dict.

    Values above 0.5 mean present. The result can be passed to :func:`render` as ``attributes``.

    Args:
        vector: ``(len(ATTRIBUTES),)`` numbers (a list, numpy array or torch tensor).

    Returns:
        ``{name: 0 or 1}`` for every name of :data:`~names.ATTRIBUTES`.
    """
    values = np.asarray(vector, dtype=np.float32).reshape(-1)
    if values.shape[0] != len(ATTRIBUTES):
        raise ValueError(f"expected a vector of {len(ATTRIBUTES)} attribute values (ATTRIBUTES order), "
                         f"got shape {tuple(np.shape(vector))}")
    return {name: int(v > 0.5) for name, v in zip(ATTRIBUTES, values)}
