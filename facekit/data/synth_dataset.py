"""``SynthFaces``: the procedural faces of :mod:`facekit.data.synthfaces` as a PyTorch ``Dataset``.

Images are rendered on the fly (a few milliseconds each) and are a pure function of the dataset's arguments and the
item index, so two datasets built with the same arguments are identical, on any machine and in any worker process.

Splits are by **identity**: the integers ``0 .. n_identities - 1`` are shuffled once (by ``seed``) and cut into
train / val / test (80 / 10 / 10 % by default), so a person never appears in two splits
(:func:`split_identities`).

What varies from item to item is drawn from a generator seeded by ``(seed, split, index)``:

* the identity: item ``i`` shows identity ``identities[i % len(identities)]``;
* the attributes: each name in ``attributes`` is turned on with its probability (``1.0`` / ``0.0`` fix it),
  the others keep the identity's default; ``"random"`` uses :data:`RANDOM_ATTRIBUTES`;
* the yaw (one of ``poses``), pitch (uniform in ``pitch``), light (one of ``lights``) and backdrop.

Example:
    >>> from facekit.data import SynthFaces
    >>> ds = SynthFaces("train", size=64, n_identities=100, attributes="random", poses="multipie", lights="all")
    >>> item = ds[0]
    >>> item["image"].shape, item["attributes"].shape, item["landmarks"].shape
    (torch.Size([3, 64, 64]), torch.Size([28]), torch.Size([68, 2]))
    >>> ds.counterfactual(0, {"Eyeglasses": 1})["image"].shape   # the same face, with glasses
    torch.Size([3, 64, 64])
"""

from __future__ import annotations

import numbers
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import numpy as np
import torch
from torch.utils.data import Dataset

from facekit.data._common import image_to_tensor
from facekit.data.synthfaces import (
    ATTRIBUTES,
    GLASSES_STYLES,
    HAT_STYLES,
    MULTIPIE_YAWS,
    N_LIGHTS,
    PITCH_RANGE,
    STYLE_KEYS,
    YAW_RANGE,
    attributes_to_vector,
    render,
)

__all__ = [
    "SPLITS",
    "RANDOM_ATTRIBUTES",
    "split_identities",
    "SynthFaces",
]

SPLITS: tuple[str, ...] = ("train", "val", "test", "all")
"""Valid ``split`` names."""

RANDOM_ATTRIBUTES: dict[str, Any] = {
    "Eyeglasses": 0.2,
    "glasses_style": GLASSES_STYLES,
    "Wearing_Hat": 0.12,
    "hat_style": HAT_STYLES,
    "Smiling": 0.45,
    "Mouth_Slightly_Open": 0.35,
    "Wearing_Earrings": 0.15,
}
"""What ``attributes="random"`` samples: the state attributes with CelebA-like rates, any accessory style."""

_SPLIT_CODE = {"train": 1, "val": 2, "test": 3, "all": 4}
_SALT_SPLIT, _SALT_ITEM = 0x51D5, 0x17E4


def split_identities(n_identities: int, split: str = "train", seed: int = 0,
                     fractions: Sequence[float] = (0.8, 0.1, 0.1)) -> np.ndarray:
    """The identities of a split: ``0 .. n_identities - 1`` shuffled by ``seed`` and cut by ``fractions``.

    Different splits of the same ``(n_identities, seed, fractions)`` never share an identity.

    Args:
        n_identities: how many identities the whole dataset has (at least 3).
        split: ``"train"``, ``"val"``, ``"test"`` or ``"all"``.
        seed: the shuffle's seed.
        fractions: shares of train, val and test (normalised to sum to 1).

    Returns:
        ``(n,)`` int64, sorted.

    Example:
        >>> train, test = split_identities(10, "train"), split_identities(10, "test")
        >>> len(train), len(test), set(train) & set(test)
        (8, 1, set())
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    if isinstance(n_identities, bool) or not isinstance(n_identities, numbers.Integral) or n_identities < 3:
        raise ValueError(f"n_identities must be an int >= 3 (one identity per split at least), got {n_identities!r}")
    f = np.asarray(fractions, np.float64)
    if f.shape != (3,) or (f < 0).any() or f.sum() <= 0:
        raise ValueError(f"fractions must be three non-negative shares (train, val, test), got {fractions!r}")
    order = np.random.default_rng([int(seed), _SALT_SPLIT]).permutation(int(n_identities))
    if split == "all":
        return np.sort(order)
    cuts = np.round(np.cumsum(f / f.sum()) * n_identities).astype(int)
    parts = {"train": order[:cuts[0]], "val": order[cuts[0]:cuts[1]], "test": order[cuts[1]:]}
    return np.sort(parts[split]).astype(np.int64)


def _choices(value: Any, name: str, default: Sequence[Any], valid: Callable[[Any], bool], hint: str) -> tuple:
    if isinstance(value, (str, numbers.Number)):
        value = (value,)
    out = tuple(value) if value is not None else tuple(default)
    bad = [v for v in out if not valid(v)]
    if not out or bad:
        raise ValueError(f"{name}: expected {hint}, got {value!r}")
    return out


class SynthFaces(Dataset):
    """Procedural faces with identities, 28 CelebA attributes, pose, light and 68 landmarks (rendered on the fly).

    Args:
        split: ``"train"``, ``"val"``, ``"test"`` (disjoint identities) or ``"all"``.
        size: image side in pixels (>= 32).
        n_identities: identities of the whole dataset (split by :func:`split_identities`).
        length: number of items; default one per identity of the split.
        identities: explicit identities to use instead of ``split`` / ``n_identities``.
        attributes: ``None`` (every identity's defaults), ``"random"`` (:data:`RANDOM_ATTRIBUTES`), or a dict
            ``{name: probability}`` for names of :data:`~facekit.data.synthfaces.names.ATTRIBUTES` (``1.0`` forces an
            attribute on, ``0.0`` off) plus ``glasses_style`` / ``hat_style`` (one style, or a list to draw from).
        poses: yaws to draw from, in degrees (a number, a list, or ``"multipie"`` for -45..45 step 15).
        pitch: a pitch in degrees, or a ``(low, high)`` range to draw from uniformly.
        lights: light indices to draw from (an int, a list, or ``"all"`` for the 20 lights).
        background: ``"identity"`` (a person keeps one backdrop) or ``"random"`` (a new backdrop per item).
        grayscale: return ``(1, H, W)`` grey images.
        seed: seeds the split and everything drawn per item.
        cache: keep rendered images in memory (worth it when you iterate several epochs).
        transform: applied to the image tensor.
        fractions: train / val / test shares.

    Each item is a dict:

    * ``image``: ``(3, H, W)`` float in [0, 1] (``(1, H, W)`` when ``grayscale``);
    * ``landmarks``: ``(68, 2)`` float32 pixel coordinates, iBUG-300W order; ``visible``: ``(68,)`` bool;
    * ``attributes``: ``(28,)`` float32 0/1 in :data:`~facekit.data.synthfaces.names.ATTRIBUTES` order;
    * ``identity``, ``light``, ``index``: int64 scalars; ``yaw``, ``pitch``: float32 scalars (degrees).

    Example:
        >>> ds = SynthFaces("val", size=64, n_identities=50, attributes={"Eyeglasses": 1.0})
        >>> len(ds), int(ds[0]["attributes"][ds.attribute_index("Eyeglasses")])
        (5, 1)
    """

    attribute_names: tuple[str, ...] = ATTRIBUTES

    def __init__(self, split: str = "train", size: int = 64, *, n_identities: int = 1000,
                 length: Optional[int] = None, identities: Optional[Sequence[int]] = None,
                 attributes: Union[None, str, Mapping[str, Any]] = None,
                 poses: Union[float, str, Sequence[float]] = 0.0,
                 pitch: Union[float, tuple[float, float]] = 0.0,
                 lights: Union[int, str, Sequence[int]] = 0, background: str = "identity",
                 grayscale: bool = False, seed: int = 0, cache: bool = False,
                 transform: Optional[Callable[[torch.Tensor], torch.Tensor]] = None,
                 fractions: Sequence[float] = (0.8, 0.1, 0.1)) -> None:
        if identities is not None:
            ids = np.asarray(list(identities), dtype=np.int64).reshape(-1)
            if ids.size == 0 or (ids < 0).any():
                raise ValueError(f"identities must be a non-empty list of non-negative ints, got {identities!r}")
            self.split = "custom"
        else:
            ids = split_identities(n_identities, split, seed, fractions)
            self.split = split
        self.identities = ids
        if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 32:
            raise ValueError(f"size must be an int >= 32, got {size!r}")
        self.size = int(size)
        if length is None:
            length = len(ids)
        if isinstance(length, bool) or not isinstance(length, numbers.Integral) or length < 1:
            raise ValueError(f"length must be a positive int, got {length!r}")
        self.length = int(length)
        self.attributes = self._attribute_probs(attributes)
        self.poses = _choices(MULTIPIE_YAWS if isinstance(poses, str) and poses == "multipie" else poses, "poses", (0.0,),
                              lambda v: isinstance(v, numbers.Real) and YAW_RANGE[0] <= v <= YAW_RANGE[1],
                              f"yaws in [{YAW_RANGE[0]:g}, {YAW_RANGE[1]:g}] or 'multipie'")
        self.lights = _choices(range(N_LIGHTS) if isinstance(lights, str) and lights == "all" else lights, "lights", (0,),
                               lambda v: isinstance(v, numbers.Integral) and 0 <= v < N_LIGHTS,
                               f"light indices in [0, {N_LIGHTS - 1}] or 'all'")
        lo, hi = (pitch, pitch) if isinstance(pitch, numbers.Real) else tuple(pitch)
        if not PITCH_RANGE[0] <= lo <= hi <= PITCH_RANGE[1]:
            raise ValueError(f"pitch must be a number or a (low, high) range within "
                             f"[{PITCH_RANGE[0]:g}, {PITCH_RANGE[1]:g}], got {pitch!r}")
        self.pitch = (float(lo), float(hi))
        if background not in ("identity", "random"):
            raise ValueError(f"background must be 'identity' or 'random', got {background!r}")
        self.background = background
        self.grayscale = bool(grayscale)
        self.seed = int(seed)
        self.transform = transform
        self._cache: Optional[dict[int, dict[str, Any]]] = {} if cache else None
        self._split_code = _SPLIT_CODE.get(self.split, 0)

    @staticmethod
    def _attribute_probs(attributes: Union[None, str, Mapping[str, Any]]) -> dict[str, Any]:
        if attributes is None:
            return {}
        if attributes == "random":
            return dict(RANDOM_ATTRIBUTES)
        if not isinstance(attributes, Mapping):
            raise ValueError(f"attributes must be None, 'random' or a dict {{name: probability}}, got {attributes!r}")
        out: dict[str, Any] = {}
        for name, value in attributes.items():
            if name in STYLE_KEYS:
                valid = GLASSES_STYLES if name == "glasses_style" else HAT_STYLES
                styles = (value,) if isinstance(value, str) else tuple(value)
                if not styles or any(s not in valid for s in styles):
                    raise ValueError(f"{name} must be one of {', '.join(valid)} (or a list of them), got {value!r}")
                out[name] = styles
            elif name in ATTRIBUTES:
                if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= value <= 1.0:
                    raise ValueError(f"attributes[{name!r}] must be a probability in [0, 1], got {value!r}")
                out[name] = float(value)
            else:
                raise ValueError(f"unknown attribute {name!r}; valid names are: {', '.join(ATTRIBUTES)}, "
                                 f"and the style keys {', '.join(STYLE_KEYS)}")
        return out

    def __len__(self) -> int:
        return self.length

    def attribute_index(self, name: str) -> int:
        """Position of attribute ``name`` in each item's ``attributes`` vector."""
        if name not in ATTRIBUTES:
            raise ValueError(f"unknown attribute {name!r}; valid names are: {', '.join(ATTRIBUTES)}")
        return ATTRIBUTES.index(name)

    def spec(self, index: int) -> dict[str, Any]:
        """The :func:`~facekit.data.synthfaces.render` arguments of item ``index`` (without ``size``).

        Example:
            >>> SynthFaces("train", n_identities=10).spec(0)["identity"] in range(10)
            True
        """
        if isinstance(index, bool) or not isinstance(index, numbers.Integral):
            raise TypeError(f"index must be an int, got {index!r}")
        if not -self.length <= index < self.length:
            raise IndexError(f"index {index} out of range for a dataset of {self.length} items")
        index = int(index) % self.length
        rng = np.random.default_rng([self.seed, _SALT_ITEM, self._split_code, index])
        overrides: dict[str, Any] = {}
        for name, value in self.attributes.items():
            if name in STYLE_KEYS:
                continue
            overrides[name] = int(rng.random() < value)
        for flag, key in (("Eyeglasses", "glasses_style"), ("Wearing_Hat", "hat_style")):
            if key in self.attributes:
                style = self.attributes[key][int(rng.integers(len(self.attributes[key])))]
                if overrides.get(flag, 1):
                    overrides[key] = style
        if overrides.get("Eyeglasses") == 0:
            overrides.pop("glasses_style", None)
        if overrides.get("Wearing_Hat") == 0:
            overrides.pop("hat_style", None)
        yaw = float(self.poses[int(rng.integers(len(self.poses)))])
        light = int(self.lights[int(rng.integers(len(self.lights)))])
        lo, hi = self.pitch
        pitch = float(lo + (hi - lo) * rng.random()) if hi > lo else lo
        identity = int(self.identities[index % len(self.identities)])
        background = int(rng.integers(2 ** 31)) if self.background == "random" else None
        return {"identity": identity, "attributes": overrides, "yaw": yaw, "pitch": pitch, "light": light,
                "background": background}

    def render(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """Render a spec (see :meth:`spec`) at this dataset's size and return an item dict (without ``index``)."""
        out = render(size=self.size, **spec)
        image = image_to_tensor(out["image"], self.grayscale)
        if self.transform is not None:
            image = self.transform(image)
        return {
            "image": image,
            "landmarks": torch.from_numpy(out["landmarks"].copy()),
            "visible": torch.from_numpy(out["visible"].copy()),
            "attributes": torch.from_numpy(attributes_to_vector(out["attributes"])),
            "identity": torch.tensor(spec["identity"], dtype=torch.int64),
            "yaw": torch.tensor(spec.get("yaw", 0.0), dtype=torch.float32),
            "pitch": torch.tensor(spec.get("pitch", 0.0), dtype=torch.float32),
            "light": torch.tensor(spec.get("light", 0), dtype=torch.int64),
        }

    def __getitem__(self, index: int) -> dict[str, Any]:
        if isinstance(index, (int, np.integer)) and -self.length <= index < 0:
            index = int(index) + self.length
        if self._cache is not None and index in self._cache:
            return dict(self._cache[index])
        item = self.render(self.spec(index))
        item["index"] = torch.tensor(int(index) % self.length, dtype=torch.int64)
        if self._cache is not None:
            self._cache[index] = item
            return dict(item)
        return item

    def counterfactual(self, index: int, attributes: Optional[Mapping[str, Any]] = None, *,
                       yaw: Optional[float] = None, pitch: Optional[float] = None,
                       light: Optional[int] = None) -> dict[str, Any]:
        """Item ``index`` re-rendered with some attributes, the pose or the light changed, all else equal.

        This is the exact ground truth that no real dataset has: the same person, backdrop and (unless changed)
        pose and light, with only what you ask for changed.

        Args:
            index: an item of this dataset.
            attributes: overrides merged over the item's own (e.g. ``{"Eyeglasses": 1}``).
            yaw, pitch, light: replace the item's pose or light.

        Returns:
            An item dict, like ``self[index]``.
        """
        spec = self.spec(index)
        spec["attributes"] = {**spec["attributes"], **dict(attributes or {})}
        for key in STYLE_KEYS:  # a style only makes sense with its accessory on
            flag = "Eyeglasses" if key == "glasses_style" else "Wearing_Hat"
            if spec["attributes"].get(flag) == 0 and key not in (attributes or {}):
                spec["attributes"].pop(key, None)
        for key, value in (("yaw", yaw), ("pitch", pitch), ("light", light)):
            if value is not None:
                spec[key] = value
        item = self.render(spec)
        item["index"] = torch.tensor(int(index) % self.length, dtype=torch.int64)
        return item

    def images(self, count: Optional[int] = None, start: int = 0) -> np.ndarray:
        """Render items ``start .. start + count`` as a ``(N, H, W, 3)`` uint8 RGB array (for Haar and plots)."""
        stop = self.length if count is None else min(self.length, start + count)
        return np.stack([render(size=self.size, **self.spec(i))["image"] for i in range(start, stop)])

    def __repr__(self) -> str:
        return (f"SynthFaces(split={self.split!r}, size={self.size}, identities={len(self.identities)}, "
                f"length={self.length}, attributes={list(self.attributes) or 'identity defaults'}, "
                f"poses={list(self.poses)}, lights={list(self.lights)}, seed={self.seed})")
