r"""DIAT section 5.1 (Li, Zuo, Zhang, arXiv 1610.05586 v1): the paper's settings, the five tasks and their data.

The data of one attribute task: a *guided set* (faces with the attribute) and an *input set* (faces without it,
2,000 in the paper), from SynthFaces *train* identities (:func:`synth_task_data`) or CelebA's 128 px central crops
(:func:`celeba_task_data`); the faces to choose on (*validation* identities) and to report on (*test* identities),
each with its exact counterfactual and attribute mask (:func:`synth_test_data`); the batches of a training step as a
pure function of ``(seed, step)`` (:func:`batch_sampler`); the shipped networks' names and files (:data:`SHIPPED`,
:func:`save_network`, :func:`load_pretrained`). :mod:`facekit.methods.diat` re-exports every name.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

import numpy as np
import torch
from torch import Tensor, nn

__all__ = ["val_rank", "PAPER", "Task", "TASKS", "TaskData", "TestData", "synth_task_data", "synth_pretrain_images",
           "synth_test_data", "celeba_task_data", "batch_sampler", "SHIPPED", "save_network", "load_pretrained"]

PAPER: Dict[str, Any] = {
    "image_size": 128,
    "lambda_id": 0.1,
    "gamma_smooth": 0.001,
    "lr": 1e-4,
    "lr_diat_a": 1e-5,
    "betas_enhance": (0.1, 0.5, 1.0),
    "blur_sigma": 1.8,
    "input_set": 2000,
    "enhance_lr": 1e-4,
}
"""The paper's settings: 128 px central crops, eq. (7)'s :math:`\\lambda = 0.1, \\gamma = 0.001`, Adam 1e-4 (DIAT-A
1e-5), eq. (10)'s betas, eq. (11)'s blur, an input set of 2,000 faces (section 5.1)."""


# ----------------------------------------------------------------------------------------------------------------
# Section 5.1: tasks and variants
# ----------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Task:
    """One attribute transfer task: inputs have ``attribute`` = ``1 - target``; the edit makes it ``target``."""

    name: str
    attribute: str
    target: int
    local: bool

    @property
    def source_value(self) -> int:
        return 1 - self.target


TASKS: Dict[str, Task] = {
    "mouth_open": Task("mouth_open", "Mouth_Slightly_Open", 1, True),
    "mouth_close": Task("mouth_close", "Mouth_Slightly_Open", 0, True),
    "eyeglasses_remove": Task("eyeglasses_remove", "Eyeglasses", 0, True),
    "male_to_female": Task("male_to_female", "Male", 0, False),
    "older_to_younger": Task("older_to_younger", "Young", 1, False),
}
"""The five tasks of section 5.2-5.3: three local (an attribute mask bounds the change), two global."""


def _task(task: Union[str, Task]) -> Task:
    if isinstance(task, Task):
        return task
    if task not in TASKS:
        raise KeyError(f"unknown DIAT task {task!r}; the tasks are: {', '.join(TASKS)}")
    return TASKS[task]


# ----------------------------------------------------------------------------------------------------------------
# Section 5.1: data
# ----------------------------------------------------------------------------------------------------------------
@dataclass
class TaskData:
    """The training sets of one task: ``inputs`` (without the attribute) and ``guided`` (with it), uint8."""

    task: Task
    inputs: Tensor  # (N, 3, S, S) uint8
    guided: Tensor  # (M, 3, S, S) uint8
    input_landmarks: Optional[Tensor] = None  # (N, 68, 2) float32, for the local enhancer's masks


@dataclass
class TestData:
    """Test faces of a task with their exact counterfactuals and attribute masks (SynthFaces test identities)."""

    task: Task
    sources: Tensor  # (N, 3, S, S) float in [0, 1]
    counterfactuals: Tensor  # (N, 3, S, S) float in [0, 1]
    masks: Tensor  # (N, 1, S, S) float 0/1 (ones for a global task)
    identities: Tensor  # (N,) int64


def _u8(x: Tensor) -> Tensor:
    return (x * 255.0).round().clamp(0, 255).to(torch.uint8)


def _f32(x: Tensor) -> Tensor:
    return x.float() / 255.0 if x.dtype == torch.uint8 else x


def _synth(split: str, size: int, length: int, attributes: Mapping[str, Any], seed: int) -> Any:
    from facekit.data.synth_dataset import RANDOM_ATTRIBUTES, SynthFaces
    from facekit.eval.protocol import split_identities

    # the oracle's identity split, so the test identities are people the judge and the networks never trained on
    return SynthFaces(identities=split_identities(split), size=size, length=length,
                      attributes={**RANDOM_ATTRIBUTES, **dict(attributes)}, poses=0.0, lights="all", seed=seed)


def _render(ds: Any, progress: bool = False, desc: str = "render") -> Tuple[Tensor, Tensor]:
    from tqdm.auto import tqdm

    imgs, lms = [], []
    for i in tqdm(range(len(ds)), desc=desc, disable=not progress):
        item = ds[i]
        imgs.append(_u8(item["image"]))
        lms.append(item["landmarks"])
    return torch.stack(imgs), torch.stack(lms)


def synth_task_data(task: Union[str, Task], *, n_inputs: int = PAPER["input_set"], n_guided: int = 2000,
                    size: int = 64, seed: int = 0, progress: bool = False) -> TaskData:
    """Section 5.1 on SynthFaces: a guided set (faces with the attribute) and an input set (faces without it).

    Both come from the *train* identities (:func:`facekit.eval.protocol.split_identities`), frontal, any of the 20
    lights, with the usual random accessories and expressions (:data:`facekit.data.RANDOM_ATTRIBUTES`) and the
    task's attribute forced on (guided set) or off (input set). CelebA has about 100,000 guided faces for some
    attributes; ``n_guided`` is what a CPU can render and hold.
    """
    t = _task(task)
    if n_inputs < 1 or n_guided < 1:
        raise ValueError(f"n_inputs and n_guided must be >= 1; got {n_inputs}, {n_guided}")
    inputs = _synth("train", size, n_inputs, {t.attribute: float(t.source_value)}, seed)
    guided = _synth("train", size, n_guided, {t.attribute: float(t.target)}, seed + 1)
    x, lm = _render(inputs, progress, f"{t.name} inputs")
    a, _ = _render(guided, progress, f"{t.name} guided")
    return TaskData(t, x, a, lm)


def synth_pretrain_images(n: int = 4000, *, size: int = 64, seed: int = 0, progress: bool = False) -> Tensor:
    """All faces (Algorithm 1, step 2: "the whole set"): train identities with random states, uint8."""
    ds = _synth("train", size, n, {}, seed + 7)
    return _render(ds, progress, "pretrain faces")[0]


def synth_test_data(task: Union[str, Task], n: int = 64, *, size: int = 64, seed: int = 0,
                    split: str = "test") -> TestData:
    """Test identities without the attribute, with their exact counterfactuals (same face, attribute flipped).

    ``split="val"`` gives the validation identities instead: what a recipe or a budget is chosen on, so that the
    test identities score only the final networks.
    """
    from facekit.masks import attribute_masks

    t = _task(task)
    if split not in ("val", "test"):
        raise ValueError(f"split must be 'val' (to choose on) or 'test' (to report); got {split!r}")
    if n < 1:
        raise ValueError(f"n must be >= 1 faces; got {n}")
    ds = _synth(split, size, n, {t.attribute: float(t.source_value)}, seed + 100)
    src, cf, lms, ids = [], [], [], []
    for i in range(n):
        item = ds[i]
        src.append(item["image"])
        lms.append(item["landmarks"])
        ids.append(item["identity"])
        cf.append(ds.counterfactual(i, {t.attribute: t.target})["image"])
    landmarks = torch.stack(lms)
    masks = attribute_masks(landmarks, t.attribute, size)  # ones for a global attribute (DIAT sec. 3.2)
    return TestData(t, torch.stack(src), torch.stack(cf), masks, torch.stack(ids))


def celeba_task_data(task: Union[str, Task], root: Optional[str] = None, *, size: int = 128,
                     n_inputs: int = PAPER["input_set"], n_guided: Optional[int] = None, seed: int = 0,
                     split: str = "train", limit: Optional[int] = None) -> TaskData:
    """Section 5.1 on CelebA: the central 178 x 178 crop of the aligned face, resized to ``size`` (the paper: 128 px).

    The guided set is every image of ``split`` with the task's target value (or ``n_guided`` random ones), the input
    set ``n_inputs`` random ones without it (:class:`facekit.data.CelebA` reads the files; in-the-wild photos are
    aligned by facekit, and a subset without a test split gets one made by identity). The k-means
    landmark-cluster filter of section 5.1 is not applied (the 14 excluded clusters were chosen by eye). There are
    no 68-point landmarks, so the local enhancer needs a detector's landmarks (``TaskData.input_landmarks``) on this
    path.

    Args:
        task: a task name of :data:`TASKS`.
        root: the CelebA folder (default ``FACEKIT_HOME/data/celeba``).
        size: output side in pixels.
        n_inputs, n_guided: sizes of the input and guided sets (``None``: every guided image).
        seed: the random choice of images.
        split: the CelebA split to draw from (``"test"`` gives faces of people never trained on).
        limit: read only the first ``limit`` images of the split (in-the-wild photos cost a face detection each).

    Raises:
        ValueError: the split has no image with, or none without, the attribute.
    """
    from facekit.data.celeba import CelebA

    t = _task(task)
    ds = CelebA(root, split=split, attributes=[t.attribute], center_crop=178, size=size, limit=limit,
                targets=("image", "attributes", "identity"))
    has = np.asarray(ds.attributes).reshape(len(ds), -1)[:, 0] > 0  # (N,) bool
    rng = np.random.default_rng(seed)
    pos = np.flatnonzero(has == bool(t.target))
    neg = np.flatnonzero(has != bool(t.target))
    if len(pos) == 0 or len(neg) == 0:
        raise ValueError(f"CelebA {split} split ({len(ds)} images{'' if limit is None else f', limit={limit}'}) "
                         f"has {len(pos)} images with {t.attribute}={t.target} and {len(neg)} without: both sets "
                         "must be non-empty (raise limit, or use another task)")
    if n_guided is not None:
        pos = rng.choice(pos, min(n_guided, len(pos)), replace=False)
    neg = rng.choice(neg, min(n_inputs, len(neg)), replace=False)
    load = lambda idx: torch.stack([_u8(ds[int(i)]["image"]) for i in idx])  # noqa: E731
    return TaskData(t, load(neg), load(pos), None)


def batch_sampler(*sets: Union[Tensor, Tuple[Tensor, ...]], batch_size: int,
                  seed: int = 0) -> Callable[[int], Tuple[Tensor, ...]]:
    """``data(step)`` for :class:`facekit.train.Trainer`: one random batch from each set, a pure function of
    ``(seed, step)`` (so a resumed run sees the same batches). uint8 sets come back as floats in [0, 1].

    A set given as a tuple of tensors of the same length (e.g. ``(inputs, masks)``) is drawn with *one* index per
    sample, so its members stay aligned; separate sets are drawn independently. The batch is flat: one tensor per
    member, in the order given.

    Example:
        >>> x, m = torch.arange(10.0).view(10, 1), torch.arange(10.0).view(10, 1) * 2
        >>> bx, bm, bg = batch_sampler((x, m), torch.zeros(3, 1), batch_size=4)(0)
        >>> bool((bm == 2 * bx).all()), tuple(bg.shape)
        (True, (4, 1))
    """
    groups = [s if isinstance(s, tuple) else (s,) for s in sets]
    if not groups or any(len(g) == 0 or any(len(t) == 0 for t in g) for g in groups):
        raise ValueError("batch_sampler needs at least one non-empty set")
    for g in groups:
        if len({len(t) for t in g}) != 1:
            raise ValueError(f"the members of a paired set must have the same length; got {[len(t) for t in g]}")

    def data(step: int) -> Tuple[Tensor, ...]:
        gen = torch.Generator().manual_seed(seed * 1_000_003 + int(step))
        out: List[Tensor] = []
        for g in groups:
            idx = torch.randint(len(g[0]), (batch_size,), generator=gen)
            out.extend(_f32(t[idx]) for t in g)
        return tuple(out)

    return data


# ----------------------------------------------------------------------------------------------------------------
# The shipped networks
# ----------------------------------------------------------------------------------------------------------------
SHIPPED: Dict[str, str] = {
    **{f"diat_a_{t}": "TransformNet" for t in TASKS},  # DIAT-A transform networks, all five tasks
    "diat_mouth_open": "TransformNet",  # DIAT3 / DIAT (eq. (7), with l_smooth): one local task ...
    "diat_male_to_female": "TransformNet",  # ... and one global task
    **{f"diat{k}_{t}": "TransformNet" for k in (1, 2) for t in ("mouth_open", "male_to_female")},  # DIAT1, DIAT2
    "diat_enhance_global": "TransformNet",  # the global enhancement (deblurring) network, eq. (11)
    **{f"diat_enhance_{t}": "LocalEnhancer" for t, task in TASKS.items() if task.local},  # eq. (10), per local task
}
"""The :mod:`facekit.hub` names of the networks ``scripts/train_diat.py`` ships, and their classes."""


def save_network(net: nn.Module, name: str, folder: Union[str, Path], *, meta: Optional[Mapping[str, Any]] = None,
                 quantize: Optional[str] = None) -> Path:
    """Write ``<folder>/<name>.pt`` in the hub format (``state_dict`` in float16, or 8-bit with
    ``quantize="int8"``, and ``config``) and ``meta`` as JSON beside it (:func:`facekit.hub.save`)."""
    from facekit import hub

    return hub.save(net, Path(folder) / f"{name}.pt", meta=meta, half=True, quantize=quantize)


def load_pretrained(name: str, *, device: Any = None) -> nn.Module:
    """A shipped DIAT network by hub name (:data:`SHIPPED`), hash-checked, frozen, in eval mode.

    Example:
        >>> sorted(SHIPPED)[:2]
        ['diat_a_eyeglasses_remove', 'diat_a_male_to_female']
    """
    from facekit import hub

    if name not in SHIPPED:
        raise KeyError(f"no shipped DIAT network {name!r}; they are: {', '.join(sorted(SHIPPED))}")
    net = hub.pretrained(name, device=device)
    meta = Path(hub.find(name)).with_suffix(".json")
    net.meta = json.loads(meta.read_text()) if meta.is_file() else {}  # type: ignore[assignment]
    return net


def val_rank(scores: Mapping[str, float], *, success: float = 0.8, identity: float = 0.9) -> Tuple[float, ...]:
    """How :attr:`DIATConfig.select_on_val` ranks one validation evaluation (larger is better).

    An evaluation that meets the attribute-success and identity targets (issue 23's local targets, ``success`` and
    ``identity``) ranks above every one that does not; among those that meet them the smaller L1 distance to the
    counterfactuals inside the mask ranks higher, among the others the larger attribute success (then the smaller
    L1). ``scores`` holds ``attribute_success``, ``identity_kept`` and ``l1_inside_mask`` (:func:`progress_eval`).

    Example:
        >>> val_rank({"attribute_success": 0.9, "identity_kept": 1.0, "l1_inside_mask": 0.03}) > \\
        ...     val_rank({"attribute_success": 1.0, "identity_kept": 0.5, "l1_inside_mask": 0.01})
        True
    """
    for k in ("attribute_success", "identity_kept", "l1_inside_mask"):
        if k not in scores:
            raise KeyError(f"val_rank needs {k!r} in the scores (facekit.methods.diat.progress_eval); got "
                           f"{sorted(scores)}")
    s, i, l1 = (float(scores[k]) for k in ("attribute_success", "identity_kept", "l1_inside_mask"))
    if not all(math.isfinite(v) for v in (s, i, l1)):
        return (-math.inf,)
    meets = s >= success and i >= identity
    return (1.0, -l1) if meets else (0.0, s, -l1)
