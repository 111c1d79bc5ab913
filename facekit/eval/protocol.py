"""The SynthFaces protocol of the oracle: which renders it is trained and judged on.

The oracle must judge *edits*: any attribute of any person may have been switched on or off, at any pose and light.
So it is trained and tested on renders whose attributes are not only the identity's defaults: each sample starts
from the identity's own attributes and then

* switches each *trait* (Male, Young, Big_Nose, beard, hair colour, ...) to the other value with probability
  ``p_trait`` (0.15);
* puts on each *state* (glasses of a random style, a hat of a random style, earrings, a smile, an open mouth) with
  its own probability (:data:`STATE_PROBABILITIES`);
* draws the yaw uniformly in [-45, 45] degrees, the pitch in [-15, 15], one of the 20 lights and a random backdrop
  (so the oracle cannot learn a person from the backdrop, which SynthFaces otherwise ties to the identity).

Everything is drawn from ``numpy.random.default_rng([seed, identity, k])``: the ``k``-th sample of an identity is
the same on every machine with the same numpy. The identities come from the SynthFaces splits (train / val / test
are disjoint), so the oracle's figures are on people it never saw.

Example:
    >>> specs = random_specs([3, 4], per_identity=2, seed=0)
    >>> len(specs), specs[0].identity
    (4, 3)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from facekit.data.pairs import RenderSpec

__all__ = [
    "RenderSpec",
    "STATE_PROBABILITIES",
    "GLASSES_CLASSES",
    "HAT_CLASSES",
    "random_overrides",
    "random_specs",
    "render_specs",
    "split_identities",
    "ORACLE_SPLIT",
    "evaluate_oracle",
    "identity_vector",
    "IDENTITY_VECTOR_INDEX",
    "EditPair",
    "edit_pairs",
    "edit_pair_scores",
    "render_edit_pairs",
    "edit_pair_report",
]

STATE_PROBABILITIES: Dict[str, float] = {
    "Eyeglasses": 0.35,
    "Wearing_Hat": 0.25,
    "Wearing_Earrings": 0.3,
    "Smiling": 0.4,
    "Mouth_Slightly_Open": 0.35,
}
"""Probability that each state attribute is switched on in a protocol sample."""

GLASSES_CLASSES: tuple[str, ...] = ("none", "round", "square", "sunglasses")
"""Classes of the oracle's glasses-type head (CAS-PEAL's accessory types; 0 = no glasses)."""

HAT_CLASSES: tuple[str, ...] = ("none", "cap", "beanie", "fedora")
"""Classes of the oracle's hat-type head (0 = no hat)."""

_HAIR = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair")


def random_overrides(rng: np.random.Generator, identity: int, p_trait: float = 0.15) -> Dict[str, Any]:
    """Attribute overrides for one protocol sample (see the module docstring); valid for ``render``.

    Args:
        rng: the random generator.
        identity: the person (its default attributes are the starting point).
        p_trait: probability of switching each trait.

    Returns:
        an overrides dict for :func:`facekit.data.synthfaces.render`.
    """
    from facekit.data.synthfaces import (
        ATTRIBUTES,
        GLASSES_STYLES,
        HAT_STYLES,
        STATE_ATTRIBUTES,
        resolve_attributes,
    )

    base = resolve_attributes(identity)
    out: Dict[str, Any] = {}
    for name in ATTRIBUTES:
        if name in STATE_ATTRIBUTES or name in _HAIR or name == "No_Beard":
            continue  # states below; hair colour as one choice; No_Beard follows Mustache and Goatee
        if rng.random() < p_trait:
            out[name] = 1 - int(base[name])
    if rng.random() < p_trait:  # a new hair colour (one of the four named ones)
        out[_HAIR[int(rng.integers(len(_HAIR)))]] = 1
    if out.get("Bald") == 1 and out.get("Bangs") == 1:
        del out["Bangs"]
    for name, p in STATE_PROBABILITIES.items():
        out[name] = int(rng.random() < p)
    if out["Eyeglasses"]:
        out["glasses_style"] = str(GLASSES_STYLES[int(rng.integers(len(GLASSES_STYLES)))])
    if out["Wearing_Hat"]:
        out["hat_style"] = str(HAT_STYLES[int(rng.integers(len(HAT_STYLES)))])
    return out


def random_specs(
    identities: Sequence[int],
    per_identity: int,
    seed: int = 0,
    p_trait: float = 0.15,
    clean: bool = False,
    p_frontal: float = 0.0,
) -> List[RenderSpec]:
    """``per_identity`` protocol samples of each identity.

    Args:
        identities: the people (e.g. a SynthFaces split).
        per_identity: samples per person.
        seed: the protocol seed (training and evaluation use different seeds).
        p_trait: probability of switching each trait.
        clean: frontal (yaw, pitch 0), light 0, the identity's own backdrop, no overrides at all.
        p_frontal: probability that a sample is near-frontal (yaw in [-10, 10], pitch in [-5, 5], half of them
            under light 0) instead of drawn from the whole pose range. 0 (the evaluation protocol) draws exactly
            the samples it always did; the oracle trains with 0.4, so that it also learns the attributes whose cue
            is a few pixels seen from the front (a pointed nose's tip), which a model trained only on the whole
            range picks up far more slowly.

    Returns:
        a list of :class:`RenderSpec`, identity-major.

    Raises:
        ValueError: ``p_trait`` or ``p_frontal`` is not a probability.
    """
    for name, p in (("p_trait", p_trait), ("p_frontal", p_frontal)):
        if not 0.0 <= float(p) <= 1.0:
            raise ValueError(f"{name} must be a probability in [0, 1]; got {p}")
    specs = []
    for ident in identities:
        for k in range(per_identity):
            if clean:
                specs.append(RenderSpec.make(int(ident)))
                continue
            rng = np.random.default_rng([int(seed), int(ident), k])
            overrides = random_overrides(rng, int(ident), p_trait)
            if p_frontal > 0 and rng.random() < p_frontal:
                yaw, pitch = float(rng.uniform(-10, 10)), float(rng.uniform(-5, 5))
                light = 0 if rng.random() < 0.5 else int(rng.integers(20))
            else:
                yaw, pitch, light = float(rng.uniform(-45, 45)), float(rng.uniform(-15, 15)), int(rng.integers(20))
            specs.append(RenderSpec.make(int(ident), overrides, yaw, pitch, light, background=int(rng.integers(2**31))))
    return specs


IDENTITY_VECTOR_INDEX: tuple[int, ...] = tuple(range(22)) + tuple(range(23, 29))
"""Entries of :meth:`FaceParams.as_vector` that describe the person and no attribute: the 22 face-shape
parameters, skin and iris colour (not ``Male``, not the hair colour, which edits change)."""


def identity_vector(identity: int) -> np.ndarray:
    """The renderer's parameters of a person that no attribute edit changes, ``(28,)`` float32.

    The oracle learns to regress them (standardised) as an auxiliary task while it trains.
    """
    from facekit.data.synthfaces import identity_params

    return identity_params(int(identity)).as_vector()[list(IDENTITY_VECTOR_INDEX)]


@dataclass(frozen=True)
class EditPair:
    """Three renders for calibrating "same person after an edit": a source, the same person with one attribute
    switched (sometimes at another yaw), and another person with that attribute value, the same states, pose,
    light and backdrop (the hardest impostor an edit could produce)."""

    source: RenderSpec
    same: RenderSpec
    other: RenderSpec
    attribute: str


def _valid(identity: int, overrides: Dict[str, Any]) -> bool:
    from facekit.data.synthfaces import resolve_attributes

    try:
        resolve_attributes(identity, overrides)
        return True
    except ValueError:
        return False


_CLASHES: Dict[str, tuple] = {
    "No_Beard": ("Mustache", "Goatee"),
    "Mustache": ("No_Beard",),
    "Goatee": ("No_Beard",),
    "Bald": ("Bangs",),
    "Bangs": ("Bald",),
    "Eyeglasses": ("glasses_style",),
    "Wearing_Hat": ("hat_style",),
    **{h: _HAIR for h in _HAIR},
}


def edit_pairs(
    identities: Sequence[int], per_identity: int, seed: int = 0, p_pose: float = 0.3, p_frontal: float = 0.0
) -> List[EditPair]:
    """Source / same person edited / other person edited triples (see :class:`EditPair`).

    Each source is a protocol sample (:func:`random_specs`); one attribute of :data:`ATTRIBUTES`, drawn uniformly,
    is switched to the other value; with probability ``p_pose`` the edited render is also at another yaw (as in
    *See another You*). The other person is drawn from ``identities``.

    Args:
        identities: the people (at least two).
        per_identity: triples per person.
        seed: the protocol seed.
        p_pose: probability of a yaw change.
        p_frontal: probability of a near-frontal source (see :func:`random_specs`).

    Returns:
        a list of :class:`EditPair`.
    """
    from facekit.data.synthfaces import ATTRIBUTES, STATE_ATTRIBUTES, STYLE_KEYS, resolve_attributes

    ids = [int(i) for i in identities]
    if len(ids) < 2:
        raise ValueError("edit_pairs needs at least two identities")
    out = []
    for ident in ids:
        sources = random_specs([ident], per_identity, seed=seed, p_frontal=p_frontal)
        for k, src in enumerate(sources):
            rng = np.random.default_rng([int(seed), ident, k, 7])
            base = resolve_attributes(ident, src.overrides)
            while True:
                name = str(ATTRIBUTES[int(rng.integers(len(ATTRIBUTES)))])
                value = 1 - int(base[name])
                edited = {key: v for key, v in src.overrides.items() if key not in _CLASHES.get(name, ()) and key != name}
                edited[name] = value
                if _valid(ident, edited):
                    break
            yaw = float(rng.uniform(-45, 45)) if rng.random() < p_pose else src.yaw
            same = RenderSpec.make(ident, edited, yaw, src.pitch, src.light, src.background)
            while True:
                other_id = ids[int(rng.integers(len(ids)))]
                if other_id == ident:
                    continue
                states = {key: v for key, v in src.overrides.items() if key in STATE_ATTRIBUTES or key in STYLE_KEYS}
                states = {key: v for key, v in states.items() if key not in _CLASHES.get(name, ()) and key != name}
                states[name] = value
                if _valid(other_id, states):
                    break
            other = RenderSpec.make(other_id, states, yaw, src.pitch, src.light, src.background)
            out.append(EditPair(src, same, other, name))
    return out


def _render_one(args: tuple) -> tuple:
    from facekit.data.synthfaces import ATTRIBUTES

    spec, size = args
    out = spec.render(size)
    a = out["attributes"]
    vec = np.array([float(a[n]) for n in ATTRIBUTES], np.float32)
    glasses = GLASSES_CLASSES.index(a["glasses_style"]) if a["Eyeglasses"] else 0
    hat = HAT_CLASSES.index(a["hat_style"]) if a["Wearing_Hat"] else 0
    return out["image"], vec, glasses, hat, out["landmarks"]


def render_specs(specs: Sequence[RenderSpec], size: int = 64, workers: int = 1, progress: bool = False) -> Dict[str, np.ndarray]:
    """Render protocol samples into arrays.

    Args:
        specs: what to render.
        size: image side.
        workers: processes (1 renders in this process).
        progress: show a progress bar.

    Returns:
        ``images`` ``(N, size, size, 3)`` uint8, ``attributes`` ``(N, A)`` float32 (``ATTRIBUTES`` order),
        ``glasses`` and ``hat`` ``(N,)`` int64 class indices (:data:`GLASSES_CLASSES`, :data:`HAT_CLASSES`),
        ``identity`` ``(N,)`` int64, ``landmarks`` ``(N, 68, 2)`` float32.
    """
    from tqdm.auto import tqdm

    jobs = [(s, size) for s in specs]
    if workers > 1:
        import multiprocessing as mp

        with mp.get_context("spawn" if mp.get_start_method(allow_none=True) == "spawn" else "fork").Pool(workers) as pool:
            results = list(tqdm(pool.imap(_render_one, jobs, chunksize=64), total=len(jobs), disable=not progress))
    else:
        results = [_render_one(j) for j in tqdm(jobs, disable=not progress)]
    return {
        "images": np.stack([r[0] for r in results]),
        "attributes": np.stack([r[1] for r in results]),
        "glasses": np.array([r[2] for r in results], np.int64),
        "hat": np.array([r[3] for r in results], np.int64),
        "identity": np.array([s.identity for s in specs], np.int64),
        "landmarks": np.stack([r[4] for r in results]),
    }


ORACLE_SPLIT: Dict[str, int] = {"n_identities": 1000, "seed": 0}
"""The SynthFaces split the oracle uses: the default one of :class:`facekit.data.SynthFaces` (1000 identities, seed 0,
80 / 10 / 10 %). The oracle trains on its 800 train identities, calibrates on the 100 val identities and is
reported on the 100 test identities; with another ``n_identities`` or ``seed`` the splits are cut differently, and
some test identities may have been seen by the oracle."""


def split_identities(split: str) -> List[int]:
    """The identities of ``split`` (``"train"``, ``"val"``, ``"test"``) in the oracle's split (:data:`ORACLE_SPLIT`).

    Example:
        >>> len(split_identities("train")), len(split_identities("test"))
        (800, 100)
    """
    from facekit.data.synth_dataset import split_identities as dataset_split

    return [int(i) for i in dataset_split(ORACLE_SPLIT["n_identities"], split, ORACLE_SPLIT["seed"])]


def evaluate_oracle(net: Any, data: Dict[str, np.ndarray], threshold: Optional[float] = None, batch: int = 256) -> Dict[str, Any]:
    """The oracle's figures on rendered samples: per-attribute accuracy, accessory types, verification.

    Args:
        net: an :class:`~facekit.eval.oracle.OracleNet` (or an :class:`~facekit.eval.oracle.Oracle`, whose net is used).
        data: the dict of :func:`render_specs` (``images``, ``attributes``, ``glasses``, ``hat``, ``identity``).
        threshold: the same-person cosine threshold; ``None`` sets it at the equal error rate of these pairs
            (how it is calibrated on the val identities) and reports it.
        batch: images per forward pass.

    Returns:
        a dict: ``attribute_accuracy`` (per name), ``attribute_accuracy_min`` / ``_mean``,
        ``glasses_type_accuracy``, ``hat_type_accuracy``, ``verification_auc``, ``true_accept_rate`` and
        ``false_accept_rate`` at the threshold, pair counts (and ``threshold``, ``eer`` when calibrated here).
    """
    import torch

    from facekit.data.synthfaces import ATTRIBUTES
    from facekit.eval.verification import eer_threshold, roc_auc, verification_pairs

    model = getattr(net, "net", net)
    model.eval()
    device = next(model.parameters()).device
    images = torch.from_numpy(data["images"]).permute(0, 3, 1, 2)  # (N, 3, H, W) uint8
    outs = []
    with torch.no_grad():
        for i in range(0, len(images), batch):
            o = model(images[i : i + batch].to(device).float() / 255.0)
            outs.append({"a": o["attributes"].cpu(), "e": o["embedding"].cpu(),
                         "g": o["accessories"]["glasses"].cpu(), "h": o["accessories"]["hat"].cpu()})
    logits = torch.cat([o["a"] for o in outs])
    emb = torch.cat([o["e"] for o in outs])
    truth = torch.from_numpy(data["attributes"]) > 0.5
    acc = ((logits > 0) == truth).double().mean(0)  # (A,)
    ids = torch.from_numpy(data["identity"])
    i, j, same = verification_pairs(ids, max_negatives=200_000, generator=torch.Generator().manual_seed(0))
    scores = (emb[i] * emb[j]).sum(1)
    res: Dict[str, Any] = {
        "images": int(len(ids)),
        "identities": int(ids.unique().numel()),
        "attribute_accuracy": {n: round(float(a), 4) for n, a in zip(ATTRIBUTES, acc)},
        "attribute_accuracy_min": round(float(acc.min()), 4),
        "attribute_accuracy_mean": round(float(acc.mean()), 4),
        "glasses_type_accuracy": round(float((torch.cat([o["g"] for o in outs]).argmax(1) == torch.from_numpy(data["glasses"])).double().mean()), 4),
        "hat_type_accuracy": round(float((torch.cat([o["h"] for o in outs]).argmax(1) == torch.from_numpy(data["hat"])).double().mean()), 4),
        "verification_auc": round(roc_auc(scores, same), 4),
        "pairs_same": int(same.sum()),
        "pairs_different": int((~same).sum()),
    }
    if threshold is None:
        threshold, eer = eer_threshold(scores, same)
        res["threshold"], res["eer"] = round(threshold, 6), round(eer, 4)
    res["true_accept_rate"] = round(float((scores[same] >= threshold).double().mean()), 4)
    res["false_accept_rate"] = round(float((scores[~same] >= threshold).double().mean()), 4)
    return res


def render_edit_pairs(pairs: Sequence[EditPair], size: int = 64, workers: int = 1) -> np.ndarray:
    """Render :func:`edit_pairs`: ``(3P, H, W, 3)`` uint8, all sources, then all "same", then all "other"."""
    specs = [p.source for p in pairs] + [p.same for p in pairs] + [p.other for p in pairs]
    return render_specs(specs, size=size, workers=workers)["images"]


def edit_pair_scores(net: Any, images: np.ndarray, batch: int = 256) -> Dict[str, np.ndarray]:
    """Cosine similarities of the oracle's embeddings for (source, same edited) and (source, other edited) pairs.

    Args:
        net: an :class:`~facekit.eval.oracle.OracleNet` or :class:`~facekit.eval.oracle.Oracle`.
        images: from :func:`render_edit_pairs`.
        batch: images per forward pass.

    Returns:
        ``scores`` ``(2P,)`` float (the P same-person pairs first) and ``same`` ``(2P,)`` bool.
    """
    import torch

    x = torch.from_numpy(images).permute(0, 3, 1, 2)  # (3P, 3, H, W) uint8
    model = getattr(net, "net", net)
    model.eval()
    device = next(model.parameters()).device
    with torch.no_grad():
        emb = torch.cat([model(x[i : i + batch].to(device).float() / 255.0)["embedding"].cpu()
                         for i in range(0, len(x), batch)])
    n = len(x) // 3
    src, same, other = emb[:n], emb[n : 2 * n], emb[2 * n :]
    scores = torch.cat([(src * same).sum(1), (src * other).sum(1)]).numpy()
    return {"scores": scores, "same": np.concatenate([np.ones(n, bool), np.zeros(n, bool)])}


def edit_pair_report(net: Any, images: np.ndarray, threshold: Optional[float] = None) -> Dict[str, Any]:
    """Verification on edit pairs: AUC, and true / false accept rates at ``threshold`` (EER-calibrated if None)."""
    import torch

    from facekit.eval.verification import eer_threshold, roc_auc

    r = edit_pair_scores(net, images)
    scores, same = torch.from_numpy(r["scores"]), torch.from_numpy(r["same"])
    res: Dict[str, Any] = {"pairs": int(len(scores) // 2), "verification_auc": round(roc_auc(scores, same), 4)}
    if threshold is None:
        threshold, eer = eer_threshold(scores, same)
        res["threshold"], res["eer"] = round(threshold, 6), round(eer, 4)
    res["true_accept_rate"] = round(float((scores[same] >= threshold).double().mean()), 4)
    res["false_accept_rate"] = round(float((scores[~same] >= threshold).double().mean()), 4)
    return res
