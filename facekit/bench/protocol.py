"""The frozen benchmark protocol: which faces, which edits, and what counts as the truth.

Every method of the course is scored on the *same* cases (:func:`cases`): SynthFaces **test** identities (the
oracle's split, :func:`facekit.eval.protocol.split_identities`: people no network and no judge trained on), drawn
exactly as DIAT's test data (:func:`facekit.methods.diat_data.synth_test_data`: frontal, any of the 20 lights, the
usual random accessories and expressions, the edited attribute forced to its source value), each with its exact
counterfactual (the same render with only the asked-for change) and its attribute mask
(:func:`facekit.masks.attribute_masks`; ones for a global attribute).

The edits (:data:`EDITS`):

* DIAT's five tasks (section 5.2-5.3): ``mouth_open``, ``mouth_close``, ``eyeglasses_remove``,
  ``male_to_female``, ``older_to_younger`` (the very faces of ``synth_test_data``; ``tests/test_bench.py`` checks
  they are identical);
* see-another-you's accessory task (section 4.2): ``eyeglasses_add`` (square glasses, one of CAS-PEAL's three
  styles, so that the accessory network's target state is named), and ``eyeglasses_remove`` above;
* see-another-you's completion task (section 4.3): ``completion``, a black bar over the eyes
  (:func:`facekit.data.pairs.occlude_eyes`) -> the whole face; the mask is the bar;
* *From an Eye to a Face*: ``eye_to_face``, the 32 x 32 Haar eye crop of a 128 px test render -> its Haar face
  crop (:func:`facekit.methods.eye2face.synth_eye_face_pairs` on the test identities), scored at 64 px.

For ``completion`` and ``eye_to_face`` there is no attribute to change: attribute success is not applicable, the
identity is judged against the true face (the counterfactual) and "others preserved" is the share of the judge's
attributes of the true face that the output keeps.

On real photos (``data`` = ``celeba``, ...) the cases are CelebA test faces without the attribute, 64 px central
crops (:func:`facekit.methods.diat_data.celeba_task_data`), with no counterfactual and no mask.

Anything that changes which cases are drawn or how they are scored must raise :data:`PROTOCOL_VERSION`: the cached
results are keyed on it (:mod:`facekit.bench.runner`).

Example:
    >>> c = cases("mouth_open", 2)
    >>> tuple(c.sources.shape), tuple(c.counterfactuals.shape), c.targets
    ((2, 3, 64, 64), (2, 3, 64, 64), {'Mouth_Slightly_Open': 1})
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch
from torch import Tensor

__all__ = ["PROTOCOL_VERSION", "SIZE", "SEED", "Edit", "EDITS", "Cases", "cases", "check_edits", "cases_digest"]

PROTOCOL_VERSION: str = "1"
"""The version of the protocol; raise it when the cases or the scoring change (the cache is keyed on it)."""

SIZE: int = 64
"""Image side of every case and every scored output (the oracle's and the shipped networks' size)."""

SEED: int = 0
"""The protocol's seed (DIAT's test data adds 100 to it, as ``synth_test_data`` does)."""


@dataclass(frozen=True)
class Edit:
    """One edit of the protocol.

    Attributes:
        name: the edit's name (``--edits``).
        kind: ``"attribute"`` (switch one attribute), ``"completion"`` (fill the eye bar) or ``"eye_to_face"``.
        attribute: the attribute switched (``None`` for the other kinds).
        target: its value after the edit.
        local: the change is bounded by an attribute mask (DIAT sec. 3.2).
        overrides: extra render overrides of the counterfactual (the glasses' style).
        paper: where the edit comes from.
    """

    name: str
    kind: str
    attribute: Optional[str] = None
    target: int = 1
    local: bool = True
    overrides: Tuple[Tuple[str, Any], ...] = ()
    paper: str = ""

    @property
    def targets(self) -> Dict[str, int]:
        """``{attribute: target}`` for :func:`facekit.eval.score_edits` (empty: no attribute is asked for)."""
        return {self.attribute: int(self.target)} if self.attribute else {}


EDITS: Dict[str, Edit] = {
    "mouth_open": Edit("mouth_open", "attribute", "Mouth_Slightly_Open", 1, True, paper="DIAT sec. 5.2"),
    "mouth_close": Edit("mouth_close", "attribute", "Mouth_Slightly_Open", 0, True, paper="DIAT sec. 5.2"),
    "eyeglasses_remove": Edit("eyeglasses_remove", "attribute", "Eyeglasses", 0, True,
                              paper="DIAT sec. 5.2; see-another-you sec. 4.2"),
    "male_to_female": Edit("male_to_female", "attribute", "Male", 0, False, paper="DIAT sec. 5.3"),
    "older_to_younger": Edit("older_to_younger", "attribute", "Young", 1, False, paper="DIAT sec. 5.3"),
    "eyeglasses_add": Edit("eyeglasses_add", "attribute", "Eyeglasses", 1, True, (("glasses_style", "square"),),
                           paper="see-another-you sec. 4.2; CNIA Fig. 4"),
    "completion": Edit("completion", "completion", paper="see-another-you sec. 4.3"),
    "eye_to_face": Edit("eye_to_face", "eye_to_face", local=False, paper="From an Eye to a Face"),
}
"""The edits of the protocol, in the table's order."""


def check_edits(names: Any) -> List[str]:
    """The edit names, checked: a list of names of :data:`EDITS`.

    Raises:
        ValueError: an unknown name (the message lists the valid ones).
    """
    names = [names] if isinstance(names, str) else list(names)
    unknown = [n for n in names if n not in EDITS]
    if unknown or not names:
        raise ValueError(f"unknown edit(s) {unknown or names!r}; the edits are: {', '.join(EDITS)}")
    return names


@dataclass
class Cases:
    """The cases of one edit: sources, exact counterfactuals and masks, all ``(N, C, 64, 64)`` float in [0, 1].

    ``inputs`` is what a method receives (the source, the occluded face or the eye crop ``(N, 3, 32, 32)``);
    ``references`` is what identity is judged against (the source, or the true face where there is no source
    face). ``counterfactuals`` and ``masks`` are ``None`` on real photos.
    """

    edit: Edit
    data: str
    inputs: Tensor
    sources: Tensor
    references: Tensor
    counterfactuals: Optional[Tensor]
    masks: Optional[Tensor]
    landmarks: Optional[Tensor]
    identities: Tensor
    extra: Dict[str, Any] = field(default_factory=dict)

    @property
    def targets(self) -> Dict[str, int]:
        return self.edit.targets

    def __len__(self) -> int:
        return int(self.inputs.shape[0])


def _synth_attribute(edit: Edit, n: int, split: str = "test") -> Cases:
    """DIAT's test data (``synth_test_data``), with the landmarks CNIA needs and the counterfactual's overrides."""
    from facekit.masks import attribute_masks
    from facekit.methods.diat_data import _synth

    ds = _synth(split, SIZE, n, {edit.attribute: float(1 - edit.target)}, SEED + 100)  # synth_test_data's dataset
    src, cf, lms, ids = [], [], [], []
    for i in range(n):
        item = ds[i]
        src.append(item["image"])
        lms.append(item["landmarks"])
        ids.append(item["identity"])
        cf.append(ds.counterfactual(i, {edit.attribute: edit.target, **dict(edit.overrides)})["image"])
    landmarks = torch.stack(lms)
    masks = attribute_masks(landmarks, edit.attribute, SIZE)
    sources = torch.stack(src)
    return Cases(edit, "synth", sources, sources, sources, torch.stack(cf), masks, landmarks, torch.stack(ids))


def _synth_completion(edit: Edit, n: int) -> Cases:
    from facekit.data.pairs import occlude_eyes
    from facekit.methods.diat_data import _synth

    ds = _synth("test", SIZE, n, {}, SEED + 200)
    faces, covered, masks, lms, ids = [], [], [], [], []
    for i in range(n):
        item = ds[i]
        img = (item["image"].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)  # (H, W, 3)
        bar = occlude_eyes(img, item["landmarks"].numpy())
        faces.append(item["image"])
        covered.append(torch.from_numpy(bar).permute(2, 0, 1).float() / 255)
        masks.append(torch.from_numpy((bar != img).any(-1))[None].float())  # (1, H, W): the bar
        lms.append(item["landmarks"])
        ids.append(item["identity"])
    true = torch.stack(faces)
    inputs = torch.stack(covered)
    return Cases(edit, "synth", inputs, inputs, true, true, torch.stack(masks), torch.stack(lms), torch.stack(ids))


def _synth_eye_to_face(edit: Edit, n: int) -> Cases:
    import torch.nn.functional as F

    from facekit.methods.eye2face import synth_eye_face_pairs

    n_images = max(4, 2 * n)
    while True:  # the Haar pipeline keeps about 0.38 of the images, two pairs each
        pairs, info = synth_eye_face_pairs("test", n_images, seed=SEED + 300)
        if len(pairs.eyes) >= n or n_images > 64 * n:
            break
        n_images *= 2
    if len(pairs.eyes) < n:
        raise RuntimeError(f"the eye-to-face pipeline kept {len(pairs.eyes)} pairs of {n_images} test renders; "
                           f"{n} are needed: ask for fewer (--n)")
    faces = F.interpolate(pairs.faces[:n].float(), size=SIZE, mode="area").clamp(0, 1)
    eyes = pairs.eyes[:n].float()
    return Cases(edit, "synth", eyes, faces, faces, faces, torch.ones(n, 1, SIZE, SIZE), None,
                 info.identity[:n].clone())


def _real_attribute(edit: Edit, n: int, data: str) -> Cases:
    from facekit.methods.diat_data import Task, celeba_task_data

    if data != "celeba":
        raise ValueError(f"the benchmark reads real attribute-labelled faces from CelebA only (data='celeba'); "
                         f"{data!r} has no loader here yet: use --data celeba, or synth")
    limit = None
    from facekit.config import by_profile

    limit = by_profile(smoke=160, cpu=400, gpu=None)  # images read per split (wild photos: a detection each)
    task = Task(edit.name, edit.attribute, edit.target, edit.local)
    td = celeba_task_data(task, size=SIZE, n_inputs=n, n_guided=1, split="test", limit=limit, seed=SEED)
    src = td.inputs.float() / 255
    return Cases(edit, data, src, src, src, None, None, None, torch.full((len(src),), -1, dtype=torch.int64))


def cases(edit: str, n: int, data: str = "synth") -> Cases:
    """The ``n`` cases of ``edit`` on ``data`` (a pure function of its arguments and :data:`PROTOCOL_VERSION`).

    Args:
        edit: a name of :data:`EDITS`.
        n: how many faces (>= 1).
        data: ``"synth"`` (exact counterfactuals) or a real dataset (``"celeba"``).

    Returns:
        :class:`Cases`.

    Raises:
        ValueError: an unknown edit, ``n < 1``, or an edit that has no real-photo form.
    """
    e = EDITS[check_edits([edit])[0]]
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int (faces per edit); got {n!r}")
    if data != "synth":
        if e.kind != "attribute":
            raise ValueError(f"the edit {edit!r} needs the true face (a counterfactual), which real photos lack; "
                             f"on {data!r} use the attribute edits: "
                             f"{', '.join(k for k, v in EDITS.items() if v.kind == 'attribute')}")
        return _real_attribute(e, n, data)
    if e.kind == "attribute":
        return _synth_attribute(e, n)
    if e.kind == "completion":
        return _synth_completion(e, n)
    return _synth_eye_to_face(e, n)


def cases_digest(c: Cases) -> str:
    """A short SHA-256 of the cases' inputs and truths (two runs of the protocol give the same digest)."""
    h = hashlib.sha256()
    for t in (c.inputs, c.references, c.counterfactuals, c.masks):
        if t is not None:
            h.update((t * 255).round().to(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]
