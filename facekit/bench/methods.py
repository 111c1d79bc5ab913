"""The methods of the benchmark: one adapter per method, each doing the edits it can on the protocol's cases.

Each :class:`Method` turns :class:`~facekit.bench.protocol.Cases` into ``(N, 3, 64, 64)`` edits in [0, 1]. The
library's methods are called as their chapters call them; where a method works in another format, the adapter
converts at the border and says so (nothing in :mod:`facekit.methods` is changed):

* ``copy``: the copy-the-input baseline (the occluded face for ``completion``, the eye crop upscaled for
  ``eye_to_face``);
* ``inpaint``: OpenCV's inpainting (``cv2.inpaint``, Telea, radius 3) inside the mask: glasses removal (the
  glasses' attribute mask) and completion (the bar);
* ``cnia``: CNIA (:class:`facekit.methods.cnia.CNIA`, the paper's settings: blank start, conv3_1, k = 5, masks,
  colour transfer) on a labelled pool of SynthFaces *train* faces with flips, for every attribute edit (each has
  a guided set there); steps and pool by profile (chapter 3's ``cpu`` budget: 150 steps, 300 faces);
* ``diat`` / ``diat_a``: the shipped networks of ``scripts/train_diat.py``
  (:func:`facekit.methods.diat.load_pretrained`) with their enhancers, as chapter 6 applies them; DIAT ships two
  tasks, DIAT-A all five;
* ``see_another_you``: the shipped accessory and completion networks
  (:func:`facekit.methods.see_another_you.load_pretrained`). They work on 32 x 32 grey faces (the paper's): the
  adapter turns the 64 px colour input grey and 32 px, and the output back to 64 px (bilinear, grey in all
  three channels). Its errors against the colour truth include the missing colour;
* ``eye2face``: the shipped generator (:func:`facekit.methods.eye2face.load_pretrained`), 128 px faces resized
  to 64;
* ``counterfactual``: the exact counterfactual, the ceiling (SynthFaces only).

Training cost (:meth:`Method.training_cost`): CPU-hours read from the shipped training records,
``threads x seconds / 3600``, with the field named: DIAT's ``facekit/weights/diat_train.json`` ``stage_s`` (the
job of the variant and task, plus the shared stages it uses), see-another-you's ``stage1_seconds +
stage2_seconds``, eye-to-face's ``train_seconds``. CNIA trains nothing (its face network, SynthFaceNet, is shared
with every chapter and has no record); the baselines train nothing.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from facekit.bench.protocol import EDITS, SIZE, Cases

__all__ = ["Method", "METHODS", "check_methods", "file_sha256", "cnia_budget"]

_DIAT_TASKS = ("mouth_open", "mouth_close", "eyeglasses_remove", "male_to_female", "older_to_younger")
_ATTRIBUTE_EDITS = tuple(k for k, e in EDITS.items() if e.kind == "attribute")
_WEIGHTS = Path(__file__).resolve().parents[1] / "weights"


def file_sha256(path: Path) -> str:
    """SHA-256 of a file (the cache key of the weights a result was computed with)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _hub_file(name: str) -> Path:
    from facekit import hub

    return Path(hub.find(name))


def cnia_budget() -> Dict[str, int]:
    """CNIA's steps and pool size by profile (chapter 3's: smoke 12 / cpu 150 / gpu 1000 steps)."""
    from facekit.config import by_profile

    return {"steps": by_profile(smoke=12, cpu=150, gpu=1000), "pool": by_profile(smoke=40, cpu=300, gpu=2000)}


def _record(name: str) -> Dict[str, Any]:
    path = _WEIGHTS / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else {}


@dataclass(frozen=True)
class Method:
    """One method of the benchmark.

    Attributes:
        name: its ``--methods`` name.
        label: its name in the table.
        edits: the edits it can do on SynthFaces.
        real_edits: the edits it can do on real photos.
        run: ``run(cases) -> (N, 3, 64, 64)`` edits.
        weights: ``weights(edit) -> [hub names]`` of the shipped networks it uses (their hashes key the cache).
        settings: ``settings() -> dict``: what else keys the cache (steps, pool size).
        cost: ``cost(edit) -> (cpu_hours, field)`` from the training records.
        loss_network: ``loss_network(data) -> hub name`` of the network it optimises through at edit time, if
            any (the dlib flag on real photos).
        colour: ``"rgb"`` or ``"grey"`` (its output).
        optimises: it optimises each image (runs with gradients on).
    """

    name: str
    label: str
    edits: Tuple[str, ...]
    real_edits: Tuple[str, ...]
    run: Callable[[Cases], Tensor]
    weights: Callable[[str], List[str]] = lambda edit: []
    settings: Callable[[], Dict[str, Any]] = lambda: {}
    cost: Callable[[str], Tuple[float, str]] = lambda edit: (0.0, "trains nothing")
    loss_network: Callable[[str], Optional[str]] = lambda data: None
    colour: str = "rgb"
    optimises: bool = False

    def can(self, edit: str, data: str = "synth") -> bool:
        """Whether this method does ``edit`` on ``data``."""
        return edit in (self.edits if data == "synth" else self.real_edits)

    def weight_hashes(self, edit: str) -> Dict[str, str]:
        """``{file name: sha256}`` of the shipped networks used for ``edit``."""
        return {_hub_file(n).name: file_sha256(_hub_file(n)) for n in self.weights(edit)}


# -- baselines ------------------------------------------------------------------------------------------------------
def _copy(c: Cases) -> Tensor:
    if c.edit.kind == "eye_to_face":
        return F.interpolate(c.inputs, size=SIZE, mode="bilinear", align_corners=False).clamp(0, 1)
    return c.inputs.clone()


def _counterfactual(c: Cases) -> Tensor:
    if c.counterfactuals is None:
        raise ValueError("the counterfactual exists only on SynthFaces")
    return c.counterfactuals.clone()


def _inpaint(c: Cases) -> Tensor:
    import cv2

    if c.masks is None:
        raise ValueError("inpainting needs the region to fill (a mask): SynthFaces cases only")
    out = []
    for img, m in zip(c.inputs, c.masks):
        rgb = (img.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
        mask = (m[0].numpy() > 0.5).astype(np.uint8) * 255
        filled = cv2.inpaint(np.ascontiguousarray(rgb), mask, 3, cv2.INPAINT_TELEA)
        out.append(torch.from_numpy(filled).permute(2, 0, 1).float() / 255)
    return torch.stack(out)


# -- CNIA -----------------------------------------------------------------------------------------------------------
_CNIA_POOL: Dict[int, Any] = {}


def _cnia_pool(n: int) -> Any:
    """``n`` SynthFaces train faces, random attributes, poses -15 / 0 / 15, plus mirror images (CNIA sec. 4), as
    ``bench/cnia.py`` builds it."""
    if n not in _CNIA_POOL:
        from facekit.data import SynthFaces
        from facekit.methods.cnia import LabelledPool

        ds = SynthFaces("train", size=SIZE, attributes="random", length=n, poses=[-15.0, 0.0, 15.0])
        _CNIA_POOL[n] = LabelledPool.from_dataset(ds).with_flips()
    return _CNIA_POOL[n]


def _cnia(c: Cases) -> Tensor:
    from facekit.methods.cnia import CNIA
    from facekit.nn import face_network

    budget = cnia_budget()
    cnia = CNIA(face_network(verbose=False), steps=budget["steps"], progress=False)
    out = cnia.edit(c.inputs, c.targets, _cnia_pool(budget["pool"]), c.landmarks)
    return out.images.clamp(0, 1)


def _cnia_weights(edit: str) -> List[str]:
    from facekit.nn import face_network

    return [face_network(verbose=False).pretrained_name]


# -- DIAT / DIAT-A --------------------------------------------------------------------------------------------------
def _diat_names(variant: str, edit: str) -> List[str]:
    prefix = "diat_a" if variant == "DIAT-A" else "diat"
    enhancer = f"diat_enhance_{edit}" if EDITS[edit].local else "diat_enhance_global"
    return [f"{prefix}_{edit}", enhancer]


def _diat_runner(variant: str) -> Callable[[Cases], Tensor]:
    def run(c: Cases) -> Tensor:
        from facekit.methods import diat as M

        t_name, e_name = _diat_names(variant, c.edit.name)
        T, E = M.load_pretrained(t_name), M.load_pretrained(e_name)
        if M.TASKS[c.edit.name].local and c.masks is None:
            raise ValueError(f"{variant}'s {c.edit.name} network edits inside the attribute mask, which needs "
                             "68 landmarks: not on real photos here")
        return M.edit(c.inputs, T, c.edit.name, E, masks=c.masks).clamp(0, 1)

    return run


def _diat_cost(variant: str) -> Callable[[str], Tuple[float, str]]:
    def cost(edit: str) -> Tuple[float, str]:
        rec = _record("diat_train")
        stages = rec.get("stage_s", {})
        job = f"{'DIAT-A' if variant == 'DIAT-A' else 'DIAT3'}_{edit}"
        parts = [job] + ([] if EDITS[edit].local else ["global_enhancer"]) + (["g", "f"] if variant == "DIAT" else [])
        if any(p not in stages for p in parts):
            return math.nan, f"diat_train.json stage_s lacks {', '.join(p for p in parts if p not in stages)}"
        threads = int(rec.get("torch_threads", 1))
        return threads * sum(float(stages[p]) for p in parts) / 3600, "diat_train.json stage_s[" + "+".join(parts) + "]"

    return cost


# -- see another you ------------------------------------------------------------------------------------------------
def _grey32(x: Tensor) -> Tensor:
    grey = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2])[:, None]  # (N, 1, H, W), ITU-R 601 luma
    return F.interpolate(grey, size=32, mode="area")


def _say(c: Cases) -> Tensor:
    from facekit.data.pairs import ACCESSORY_STATES
    from facekit.methods import see_another_you as say

    if c.edit.kind == "completion":
        task, code = "completion", 1  # code_names ("occluded", "complete")
    else:
        task = "accessory"
        names = [n for n, _ in ACCESSORY_STATES]
        style = dict(c.edit.overrides).get("glasses_style", "square")
        code = names.index(f"glasses:{style}") if c.edit.target else names.index("none")
    model = say.load_pretrained(task)
    out = say.edit(model, _grey32(c.inputs), torch.full((len(c),), code, dtype=torch.int64))["stage2"]
    return F.interpolate(out, size=SIZE, mode="bilinear", align_corners=False).clamp(0, 1).expand(-1, 3, -1, -1)


def _say_cost(edit: str) -> Tuple[float, str]:
    task = "completion" if edit == "completion" else "accessory"
    rec = _record(f"see_another_you_{task}")
    if "stage1_seconds" not in rec:
        return math.nan, f"see_another_you_{task}.json has no stage1_seconds"
    s = float(rec["stage1_seconds"]) + float(rec.get("stage2_seconds", 0.0))
    return int(rec.get("threads", 1)) * s / 3600, f"see_another_you_{task}.json stage1_seconds+stage2_seconds"


# -- eye to face ----------------------------------------------------------------------------------------------------
def _eye2face(c: Cases) -> Tensor:
    from facekit.methods.eye2face import generate, load_pretrained

    faces = generate(load_pretrained(), c.inputs)  # (N, 3, 128, 128)
    return F.interpolate(faces, size=SIZE, mode="area").clamp(0, 1)


def _eye2face_cost(edit: str) -> Tuple[float, str]:
    rec = _record("eye2face")
    if "train_seconds" not in rec:
        return math.nan, "eye2face.json has no train_seconds"
    return int(rec.get("threads", 1)) * float(rec["train_seconds"]) / 3600, "eye2face.json train_seconds"


METHODS: Dict[str, Method] = {
    "copy": Method("copy", "copy the input", tuple(EDITS), _ATTRIBUTE_EDITS, _copy),
    "inpaint": Method("inpaint", "OpenCV inpainting", ("eyeglasses_remove", "completion"), (), _inpaint,
                      settings=lambda: {"cv2": "INPAINT_TELEA", "radius": 3}),
    "cnia": Method("cnia", "CNIA", _ATTRIBUTE_EDITS, (), _cnia, weights=_cnia_weights, settings=cnia_budget,
                   cost=lambda edit: (0.0, "trains nothing (optimises per image)"),
                   loss_network=lambda data: "synthface_net", optimises=True),
    "diat": Method("diat", "DIAT", ("mouth_open", "male_to_female"), ("male_to_female",), _diat_runner("DIAT"),
                   weights=lambda edit: _diat_names("DIAT", edit), cost=_diat_cost("DIAT")),
    "diat_a": Method("diat_a", "DIAT-A", _DIAT_TASKS, ("male_to_female", "older_to_younger"),
                     _diat_runner("DIAT-A"), weights=lambda edit: _diat_names("DIAT-A", edit),
                     cost=_diat_cost("DIAT-A")),
    "see_another_you": Method("see_another_you", "see another you", ("eyeglasses_add", "eyeglasses_remove",
                                                                      "completion"), (), _say,
                              weights=lambda edit: ["see_another_you_" + ("completion" if edit == "completion"
                                                                          else "accessory")],
                              cost=_say_cost, colour="grey"),
    "eye2face": Method("eye2face", "eye to face", ("eye_to_face",), (), _eye2face, weights=lambda edit: ["eye2face"],
                       cost=_eye2face_cost),
    "counterfactual": Method("counterfactual", "exact counterfactual (ceiling)", tuple(EDITS), (), _counterfactual,
                             cost=lambda edit: (math.nan, "not a method")),
}
"""The methods, in the table's order."""


def check_methods(names: Any) -> List[str]:
    """The method names, checked.

    Raises:
        ValueError: an unknown name (the message lists the valid ones).
    """
    names = [names] if isinstance(names, str) else list(names)
    unknown = [n for n in names if n not in METHODS]
    if unknown or not names:
        raise ValueError(f"unknown method(s) {unknown or names!r}; the methods are: {', '.join(METHODS)}")
    return names
