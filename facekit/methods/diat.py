r"""DIAT and DIAT-A (Li, Zuo, Zhang, *Deep Identity-aware Transfer of Facial Attributes*, arXiv 1610.05586 **v1**).

A feed-forward transform network :math:`T` (Table 1) learns one attribute edit from a *guided set* (faces with
the attribute) and an *input set* (faces without it), with no ground truth: a GAN attribute loss against an
attribute discriminator :math:`D` (Table 2, eq. (3)), a perceptual identity loss (eq. (1)-(2), or DIAT-A's
adaptive one on :math:`D`'s features, eq. (12)-(13)) and, for DIAT, a perceptual regulariser (eq. (4)-(6)). A
second stage enhances the result (eq. (10) local, eq. (11) global).

The method, section by section:

* section 5.1, data: :data:`TASKS` (the five tasks), :func:`synth_task_data` (guided set and an input set of
  2,000 faces from SynthFaces *train* identities, or CelebA's 128 px central crop with :func:`celeba_task_data`),
  :func:`synth_test_data` (*test* identities with their exact counterfactuals and attribute masks);
* section 3.1.2, Algorithm 1: :func:`pretrain_transform` (eq. (8), on all faces), :func:`pretrain_discriminator`
  (eq. (9)), :func:`train_transform` (dstep / tstep alternation of eq. (7) or (14) with Adam);
* section 3.1.1, the regulariser: :func:`train_reconstruction` (:math:`g`, eq. (4)), :func:`train_denoiser`
  (:math:`f`, eq. (5));
* section 3.2: :func:`train_local_enhancer` (eq. (10)), :func:`train_global_enhancer` (eq. (11));
* section 5.1, the variants: :class:`DIATConfig` and :data:`VARIANTS` (DIAT-A, DIAT-A0, DIAT1, DIAT2, DIAT3,
  and DIAT itself) as settings of one method; :func:`edit` applies a transform network and, where the variant has
  one, its enhancer;
* scoring: :func:`score_task` (:func:`facekit.eval.score_edits` against the exact counterfactuals, plus the L1
  inside the mask of the copy-the-input baseline: a removal counts only if it beats that);
* the shipped networks (``scripts/train_diat.py``): :func:`load_pretrained`.

Every trainer goes through :class:`facekit.train.Trainer` (checkpoints, exact resume, NaN stop, progress bar,
evaluation hook); the batches are a pure function of ``(seed, step)`` (:func:`batch_sampler`).

Example:
    >>> cfg = DIATConfig.variant("DIAT-A")
    >>> cfg.identity, cfg.lambda_id, cfg.gamma_smooth, cfg.lr, cfg.enhance
    ('discriminator', 0.1, 0.0, 1e-05, True)
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import Tensor, nn

from facekit.losses import (
    DIAT_IDENTITY_LAYERS,
    PerceptualLoss,
    adaptive_identity_loss,
    attribute_classifier_loss,
    denoiser_loss,
    diat_discriminator_loss,
    diat_transform_loss,
    gaussian_blur,
    local_enhancement_loss,
    smooth_loss,
    squared_error,
)
from facekit.nn.diat import AttributeDiscriminator, Denoiser, LocalEnhancer, TransformNet, transform_images
from facekit.nn.features import FeatureExtractor, FeatureNet

__all__ = [
    "PAPER",
    "Task",
    "TASKS",
    "DIATConfig",
    "VARIANTS",
    "TaskData",
    "TestData",
    "synth_task_data",
    "synth_pretrain_images",
    "synth_test_data",
    "celeba_task_data",
    "batch_sampler",
    "pretrain_transform",
    "pretrain_discriminator",
    "train_transform",
    "train_reconstruction",
    "train_denoiser",
    "train_local_enhancer",
    "train_global_enhancer",
    "edit",
    "score_task",
    "progress_eval",
    "save_network",
    "load_pretrained",
    "SHIPPED",
]

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


@dataclass
class DIATConfig:
    """The settings of one DIAT variant (section 5.1): which losses train :math:`T`, and whether it is enhanced.

    Attributes:
        name: the variant's name.
        identity: ``"discriminator"`` (DIAT-A's adaptive loss, eq. (12)-(14)), ``"face"`` (the face network,
            eq. (1)-(2)) or ``"none"`` (DIAT1: attribute loss only).
        lambda_id: :math:`\\lambda` of eq. (7) / (14).
        gamma_smooth: :math:`\\gamma` of eq. (7) (0: no perceptual regulariser).
        enhance: stack the enhancement network (section 3.2) on :math:`T` at test time.
        lr: Adam's learning rate for :math:`T` and :math:`D` (DIAT 1e-4, DIAT-A 1e-5, section 4.2).
        gan_form: the transform network's GAN loss: ``"minimax"`` (eq. (3) corrected), ``"non_saturating"`` or
            ``"as_printed"`` (see :func:`facekit.losses.diat_transform_loss`).
        dstep, tstep: discriminator and transform updates per iteration of Algorithm 1.
        batch_size: input images (and guided images) per update.
    """

    name: str = "DIAT-A"
    identity: str = "discriminator"
    lambda_id: float = PAPER["lambda_id"]
    gamma_smooth: float = 0.0
    enhance: bool = True
    lr: float = PAPER["lr_diat_a"]
    gan_form: str = "minimax"
    dstep: int = 1
    tstep: int = 1
    batch_size: int = 16

    def __post_init__(self) -> None:
        if self.identity not in ("discriminator", "face", "none"):
            raise ValueError(f"identity must be 'discriminator', 'face' or 'none'; got {self.identity!r}")
        if self.gan_form not in ("minimax", "non_saturating", "as_printed"):
            raise ValueError(f"gan_form must be 'minimax', 'non_saturating' or 'as_printed'; got {self.gan_form!r}")
        if self.lambda_id < 0 or self.gamma_smooth < 0 or self.lr <= 0:
            raise ValueError("lambda_id and gamma_smooth must be >= 0 and lr > 0")
        if self.dstep < 1 or self.tstep < 1 or self.batch_size < 1:
            raise ValueError("dstep, tstep and batch_size must be >= 1")

    @classmethod
    def variant(cls, name: str, **overrides: Any) -> "DIATConfig":
        """The settings of a named variant (:data:`VARIANTS`), with optional overrides."""
        if name not in VARIANTS:
            raise KeyError(f"unknown DIAT variant {name!r}; the variants are: {', '.join(VARIANTS)}")
        return dataclasses.replace(VARIANTS[name], **overrides)

    @property
    def transform_key(self) -> str:
        """Variants that differ only by the enhancer share one transform network (DIAT-A/DIAT-A0, DIAT/DIAT3)."""
        return {"DIAT-A0": "DIAT-A", "DIAT": "DIAT3"}.get(self.name, self.name)


VARIANTS: Dict[str, DIATConfig] = {
    # DIAT-A: adaptive identity loss, no l_smooth, lr 1e-5, with the enhancement network (eq. (14), section 4.2)
    "DIAT-A": DIATConfig("DIAT-A", "discriminator", PAPER["lambda_id"], 0.0, True, PAPER["lr_diat_a"]),
    # DIAT-A0: DIAT-A without the enhancement network
    "DIAT-A0": DIATConfig("DIAT-A0", "discriminator", PAPER["lambda_id"], 0.0, False, PAPER["lr_diat_a"]),
    # DIAT1: DIAT with only the attribute loss
    "DIAT1": DIATConfig("DIAT1", "none", 0.0, 0.0, False, PAPER["lr"]),
    # DIAT2: DIAT without the perceptual regulariser and the enhancement network
    "DIAT2": DIATConfig("DIAT2", "face", PAPER["lambda_id"], 0.0, False, PAPER["lr"]),
    # DIAT3: DIAT without the enhancement network (eq. (7) with lambda = 0.1, gamma = 0.001)
    "DIAT3": DIATConfig("DIAT3", "face", PAPER["lambda_id"], PAPER["gamma_smooth"], False, PAPER["lr"]),
    # DIAT: the full first model, eq. (7) and the enhancement network
    "DIAT": DIATConfig("DIAT", "face", PAPER["lambda_id"], PAPER["gamma_smooth"], True, PAPER["lr"]),
}
"""The five variants of section 5.1 and DIAT itself, as settings of one method."""


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


def synth_test_data(task: Union[str, Task], n: int = 64, *, size: int = 64, seed: int = 0) -> TestData:
    """Test identities without the attribute, with their exact counterfactuals (same face, attribute flipped)."""
    from facekit.masks import attribute_masks

    t = _task(task)
    ds = _synth("test", size, n, {t.attribute: float(t.source_value)}, seed + 100)
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


def batch_sampler(*sets: Tensor, batch_size: int, seed: int = 0) -> Callable[[int], Tuple[Tensor, ...]]:
    """``data(step)`` for :class:`facekit.train.Trainer`: one random batch from each set, a pure function of
    ``(seed, step)`` (so a resumed run sees the same batches). uint8 sets come back as floats in [0, 1]."""
    if not sets or any(len(s) == 0 for s in sets):
        raise ValueError("batch_sampler needs at least one non-empty set")

    def data(step: int) -> Tuple[Tensor, ...]:
        gen = torch.Generator().manual_seed(seed * 1_000_003 + int(step))
        return tuple(_f32(s[torch.randint(len(s), (batch_size,), generator=gen)]) for s in sets)

    return data


# ----------------------------------------------------------------------------------------------------------------
# Training: every loop through facekit.train.Trainer
# ----------------------------------------------------------------------------------------------------------------
def _trainer(models: Mapping[str, nn.Module], optimizers: Mapping[str, torch.optim.Optimizer], step: Any,
             data: Callable[[int], Any], *, seed: int, device: Any, checkpoint_dir: Any, checkpoint_every: int,
             eval_fn: Any = None, eval_every: Optional[int] = None, progress: bool = True, desc: str = "DIAT") -> Any:
    from facekit.train import Trainer

    return Trainer(models, optimizers, step, data=data, seed=seed, device=device, checkpoint_dir=checkpoint_dir,
                   checkpoint_every=checkpoint_every, eval_fn=eval_fn, eval_every=eval_every, progress=progress,
                   desc=desc)


def pretrain_transform(images: Tensor, *, steps: int, batch_size: int = 16, lr: float = PAPER["lr"], seed: int = 0,
                       net: Optional[TransformNet] = None, device: Any = None, checkpoint_dir: Any = None,
                       checkpoint_every: int = 50, progress: bool = True) -> Tuple[TransformNet, Any]:
    """Algorithm 1, step 2: pre-train :math:`T` as an auto-encoder on all faces, DIAT eq. (8).

    Returns ``(net, history)``; ``history.terms["rec"]`` is :math:`\\|x - T(x)\\|_F^2` per image.
    """
    torch.manual_seed(seed)
    T = net if net is not None else TransformNet()
    opt = torch.optim.Adam(T.parameters(), lr=lr)

    def step(trainer: Any, batch: Any) -> Dict[str, float]:
        (x,) = batch
        return trainer.update("T", {"rec": squared_error(trainer.models["T"](x), x)})  # DIAT eq. (8)

    tr = _trainer({"T": T}, {"T": opt}, step, batch_sampler(images, batch_size=batch_size, seed=seed), seed=seed,
                  device=device, checkpoint_dir=checkpoint_dir, checkpoint_every=checkpoint_every, progress=progress,
                  desc="pre-train T (eq. 8)")
    history = tr.fit(steps)
    return T.eval(), history


def pretrain_discriminator(data: TaskData, *, steps: int, batch_size: int = 16, lr: float = PAPER["lr"],
                           seed: int = 0, image_size: Optional[int] = None, net: Optional[AttributeDiscriminator] = None,
                           device: Any = None, checkpoint_dir: Any = None, checkpoint_every: int = 50,
                           progress: bool = True) -> Tuple[AttributeDiscriminator, Any]:
    """Algorithm 1, step 3: pre-train :math:`D` as a least-squares attribute classifier, DIAT eq. (9).

    Positives: the guided set (label 1); negatives: the input set (label 0). Each step sees ``batch_size`` of each.
    Returns ``(D, history)`` with ``history.terms["dis"]`` (eq. (9), mean per image) and ``"acc"``.
    """
    size = image_size or int(data.inputs.shape[-1])
    torch.manual_seed(seed)
    D = net if net is not None else AttributeDiscriminator(image_size=size)
    opt = torch.optim.Adam(D.parameters(), lr=lr)
    labels = torch.cat([torch.ones(batch_size), torch.zeros(batch_size)])

    def step(trainer: Any, batch: Any) -> Dict[str, float]:
        x, a = batch
        logits = trainer.models["D"](torch.cat([a, x]))
        y = labels.to(logits.device)
        out = trainer.update("D", {"dis": attribute_classifier_loss(logits, y)})  # DIAT eq. (9)
        out["acc"] = float(((logits.detach() > 0).float() == y).float().mean())
        return out

    tr = _trainer({"D": D}, {"D": opt}, step, batch_sampler(data.inputs, data.guided, batch_size=batch_size,
                                                             seed=seed), seed=seed, device=device,
                  checkpoint_dir=checkpoint_dir, checkpoint_every=checkpoint_every, progress=progress,
                  desc=f"pre-train D (eq. 9) {data.task.name}")
    history = tr.fit(steps)
    return D.eval(), history


def train_transform(data: TaskData, config: DIATConfig, *, steps: int, T: TransformNet, D: AttributeDiscriminator,
                    face_net: Optional[FeatureNet] = None, denoiser: Optional[nn.Module] = None, seed: int = 0,
                    device: Any = None, checkpoint_dir: Any = None, checkpoint_every: int = 50,
                    eval_fn: Any = None, eval_every: Optional[int] = None,
                    progress: bool = True) -> Tuple[TransformNet, AttributeDiscriminator, Any]:
    """Algorithm 1, steps 4-12: alternate ``dstep`` updates of :math:`D` and ``tstep`` updates of :math:`T`.

    :math:`D` maximises eq. (3) (:func:`facekit.losses.diat_discriminator_loss`) on guided images against
    :math:`T(x)`; :math:`T` minimises

    * DIAT (eq. (7)): ``gan + lambda * l_id (face network, layers 4 and 5) + gamma * l_smooth``;
    * DIAT-A (eq. (14)): ``gan + lambda * l_id^dynamic`` (:math:`D`'s conv layers 4 and 5, :math:`D` frozen during
      the step);
    * DIAT1: ``gan`` alone.

    Adam with ``config.lr`` for both. ``T`` and ``D`` should be the pre-trained networks (they are trained in
    place and returned). ``history`` has ``d_loss``, ``gan``, ``id``, ``smooth`` (as used), ``d_real`` and
    ``d_fake`` (:math:`D`'s mean probability on guided and transformed images).
    """
    if config.identity == "face" and face_net is None:
        raise ValueError(f"variant {config.name} uses the face network's identity loss: pass face_net= "
                         "(facekit.nn.face_network())")
    if config.gamma_smooth > 0 and denoiser is None:
        raise ValueError(f"variant {config.name} uses l_smooth (gamma={config.gamma_smooth}): pass denoiser= "
                         "(train_denoiser)")
    id_loss = PerceptualLoss(face_net, layers=DIAT_IDENTITY_LAYERS) if config.identity == "face" else None
    f = denoiser.eval().requires_grad_(False) if denoiser is not None else None
    opt_t = torch.optim.Adam(T.parameters(), lr=config.lr)
    opt_d = torch.optim.Adam(D.parameters(), lr=config.lr)
    bs = config.batch_size
    models: Dict[str, nn.Module] = {"T": T, "D": D}
    if id_loss is not None:
        id_loss = id_loss.to(device or "cpu")

    def step(trainer: Any, batch: Any) -> Dict[str, float]:
        x, a = batch
        Tn, Dn = trainer.models["T"], trainer.models["D"]
        logs: Dict[str, float] = {}
        with torch.no_grad():
            fake = Tn(x)  # Algorithm 1, step 5: transformed images for the discriminator
        Dn.requires_grad_(True)
        for _ in range(config.dstep):  # steps 6-8
            logits = Dn(torch.cat([a, fake]))
            real_l, fake_l = logits[:bs], logits[bs:]
            form = "as_printed" if config.gan_form == "as_printed" else "minimax"
            logs.update(trainer.update("D", {"d_loss": diat_discriminator_loss(real_l, fake_l, form)}))  # eq. (3)
            logs["d_real"] = float(torch.sigmoid(real_l.detach()).mean())
        Dn.requires_grad_(False)  # steps 9-11: only T moves
        for _ in range(config.tstep):
            y = Tn(x)
            fake_logits = Dn(y)
            terms = {"gan": diat_transform_loss(fake_logits, config.gan_form)}  # eq. (3) / first term of (7), (14)
            weights = {}
            if config.identity == "face" and config.lambda_id > 0:
                terms["id"] = id_loss(y, x)  # eq. (2)
                weights["id"] = config.lambda_id
            elif config.identity == "discriminator" and config.lambda_id > 0:
                terms["id"] = adaptive_identity_loss(Dn, y, x)  # eq. (13)
                weights["id"] = config.lambda_id
            if config.gamma_smooth > 0:
                terms["smooth"] = smooth_loss(f, y)  # eq. (6)
                weights["smooth"] = config.gamma_smooth
            logs.update(trainer.update("T", terms, weights=weights))  # eq. (7) / (14)
            logs["d_fake"] = float(torch.sigmoid(fake_logits.detach()).mean())
        Dn.requires_grad_(True)
        return logs

    if f is not None:
        f.to(device or "cpu")
    tr = _trainer(models, {"T": opt_t, "D": opt_d}, step,
                  batch_sampler(data.inputs, data.guided, batch_size=bs, seed=seed), seed=seed, device=device,
                  checkpoint_dir=checkpoint_dir, checkpoint_every=checkpoint_every, eval_fn=eval_fn,
                  eval_every=eval_every, progress=progress, desc=f"{config.name} {data.task.name}")
    history = tr.fit(steps)
    return T.eval(), D.eval(), history


def train_reconstruction(images: Tensor, face_net: FeatureNet, *, steps: int, batch_size: int = 16,
                         lr: float = PAPER["lr"], seed: int = 0, init: Optional[TransformNet] = None,
                         device: Any = None, checkpoint_dir: Any = None, checkpoint_every: int = 50,
                         progress: bool = True) -> Tuple[TransformNet, Any]:
    """DIAT eq. (4): the reconstruction network :math:`g` (Table 1's architecture), trained with the perceptual
    identity loss alone, so that :math:`g(x) - x` shows the artifacts that loss lets through."""
    import copy

    torch.manual_seed(seed)
    g = copy.deepcopy(init) if init is not None else TransformNet()
    loss = PerceptualLoss(face_net, layers=DIAT_IDENTITY_LAYERS)
    opt = torch.optim.Adam(g.parameters(), lr=lr)

    def step(trainer: Any, batch: Any) -> Dict[str, float]:
        (x,) = batch
        return trainer.update("g", {"rec_perceptual": loss(trainer.models["g"](x), x)})  # DIAT eq. (4)

    tr = _trainer({"g": g, "loss": loss}, {"g": opt}, step, batch_sampler(images, batch_size=batch_size, seed=seed),
                  seed=seed, device=device, checkpoint_dir=checkpoint_dir, checkpoint_every=checkpoint_every,
                  progress=progress, desc="g (eq. 4)")
    history = tr.fit(steps)
    return g.eval(), history


def train_denoiser(images: Tensor, g: nn.Module, *, steps: int, batch_size: int = 16, lr: float = 1e-3,
                   seed: int = 0, device: Any = None, checkpoint_dir: Any = None, checkpoint_every: int = 50,
                   progress: bool = True) -> Tuple[Denoiser, Any]:
    """DIAT eq. (5): the two-layer denoiser :math:`f`, trained on :math:`g(x) \\to x` and :math:`x \\to x`.

    (The paper gives no learning rate for :math:`f`; a two-layer network trains well at 1e-3.)
    """
    torch.manual_seed(seed)
    f = Denoiser()
    g = g.eval().requires_grad_(False)
    opt = torch.optim.Adam(f.parameters(), lr=lr)

    def step(trainer: Any, batch: Any) -> Dict[str, float]:
        (x,) = batch
        with torch.no_grad():
            gx = g(x)
        return trainer.update("f", {"denoise": denoiser_loss(trainer.models["f"], gx, x)})  # DIAT eq. (5)

    g.to(device or "cpu")
    tr = _trainer({"f": f}, {"f": opt}, step, batch_sampler(images, batch_size=batch_size, seed=seed), seed=seed,
                  device=device, checkpoint_dir=checkpoint_dir, checkpoint_every=checkpoint_every,
                  progress=progress, desc="f (eq. 5)")
    history = tr.fit(steps)
    return f.eval(), history


def _masks_for(task: Task, landmarks: Tensor, size: int) -> Tensor:
    from facekit.masks import attribute_masks

    return attribute_masks(landmarks, task.attribute, size)  # (N, 1, S, S)


def train_local_enhancer(data: TaskData, T: nn.Module, face_net: FeatureNet, *, steps: int, batch_size: int = 16,
                         lr: float = PAPER["enhance_lr"], seed: int = 0, device: Any = None,
                         checkpoint_dir: Any = None, checkpoint_every: int = 50,
                         progress: bool = True) -> Tuple[LocalEnhancer, Any]:
    """DIAT eq. (10): the local enhancement FCN on the task's input set, with :math:`T` fixed.

    The attribute masks come from the inputs' landmarks (:func:`facekit.masks.attribute_masks`); the content
    term uses the face network's first three conv layers with :math:`\\beta = 0.1, 0.5, 1`.
    """
    if data.input_landmarks is None:
        raise ValueError("the local enhancer needs the inputs' landmarks for the attribute masks (TaskData.input_landmarks)")
    size = int(data.inputs.shape[-1])
    masks = _masks_for(data.task, data.input_landmarks, size)
    transformed = _u8(transform_images(T, _f32(data.inputs)))  # T(x), fixed
    extractor = FeatureExtractor(face_net, [1, 2, 3])
    torch.manual_seed(seed)
    E = LocalEnhancer()
    opt = torch.optim.Adam(E.parameters(), lr=lr)

    def step(trainer: Any, batch: Any) -> Dict[str, float]:
        x, tx, m = batch
        e = trainer.models["E"](x, tx)
        return trainer.update("E", {"enhance": local_enhancement_loss(e, x, tx, m, trainer.models["phi"])})

    tr = _trainer({"E": E, "phi": extractor}, {"E": opt}, step,
                  batch_sampler(data.inputs, transformed, masks, batch_size=batch_size, seed=seed), seed=seed,
                  device=device, checkpoint_dir=checkpoint_dir, checkpoint_every=checkpoint_every,
                  progress=progress, desc=f"local E (eq. 10) {data.task.name}")
    history = tr.fit(steps)
    return E.eval(), history


def train_global_enhancer(images: Tensor, *, steps: int, batch_size: int = 16, lr: float = PAPER["enhance_lr"],
                          sigma: float = PAPER["blur_sigma"], seed: int = 0, init: Optional[TransformNet] = None,
                          device: Any = None, checkpoint_dir: Any = None, checkpoint_every: int = 50,
                          progress: bool = True) -> Tuple[TransformNet, Any]:
    """DIAT eq. (11): the global enhancement network, a deblurring network of Table 1's architecture trained on
    :math:`\\|E(B(x)) - x\\|_F^2` with a Gaussian blur of :math:`\\sigma = 1.8`. ``init`` (e.g. the pre-trained
    auto-encoder) is copied as the starting point; the paper does not say how it initialises :math:`E`."""
    import copy

    torch.manual_seed(seed)
    E = copy.deepcopy(init) if init is not None else TransformNet()
    opt = torch.optim.Adam(E.parameters(), lr=lr)

    def step(trainer: Any, batch: Any) -> Dict[str, float]:
        (x,) = batch
        return trainer.update("E", {"deblur": squared_error(trainer.models["E"](gaussian_blur(x, sigma)), x)})

    tr = _trainer({"E": E}, {"E": opt}, step, batch_sampler(images, batch_size=batch_size, seed=seed), seed=seed,
                  device=device, checkpoint_dir=checkpoint_dir, checkpoint_every=checkpoint_every,
                  progress=progress, desc="global E (eq. 11)")
    history = tr.fit(steps)
    return E.eval(), history


# ----------------------------------------------------------------------------------------------------------------
# Test time and scoring
# ----------------------------------------------------------------------------------------------------------------
@torch.no_grad()
def edit(images: Tensor, T: nn.Module, task: Union[str, Task], enhancer: Optional[nn.Module] = None, *,
         sigma: float = PAPER["blur_sigma"], precision: str = "fp32", channels_last: bool = False) -> Tensor:
    """Apply a DIAT model: :math:`T(x)`, then :math:`E(x, T(x))` (local task) or :math:`E(B(T(x)))` (global task).

    Args:
        images: ``(B, 3, S, S)`` in [0, 1].
        T: the transform network.
        task: the task (decides which enhancer form applies).
        enhancer: a :class:`~facekit.nn.LocalEnhancer` or a global (deblurring) :class:`~facekit.nn.TransformNet`;
            ``None`` for the variants without enhancement (DIAT-A0, DIAT1-3).
        precision, channels_last: see :func:`facekit.nn.diat.transform_images`.
    """
    t = _task(task)
    y = transform_images(T, images, precision=precision, channels_last=channels_last)
    if enhancer is None:
        return y
    enhancer.eval()
    if t.local:
        if not isinstance(enhancer, LocalEnhancer):
            raise TypeError(f"task {t.name} is local: its enhancer is a LocalEnhancer (eq. (10)); got "
                            f"{type(enhancer).__name__}")
        return torch.cat([enhancer(a, b) for a, b in zip(images.split(32), y.split(32))])
    return transform_images(enhancer, gaussian_blur(y, sigma).clamp(0, 1), precision=precision,
                            channels_last=channels_last)  # E(B(T(x)))


def score_task(edits: Tensor, test: TestData, *, oracle: Any = None) -> Dict[str, Any]:
    """Score edits of :func:`synth_test_data`'s sources against their exact counterfactuals.

    :func:`facekit.eval.score_edits` (attribute success, identity kept, others preserved, L1 in and out of the
    mask), renamed to the issue's keys (``l1_counterfactual``, ``l1_inside_mask``, ``l1_outside_mask``), plus
    ``copy_l1_inside_mask``: the L1 inside the mask of the *copy-the-input* baseline (the source itself), and
    ``beats_copy``: whether the edit's ``l1_inside_mask`` is below it. For a global task the mask is the whole
    image, so ``l1_inside_mask`` is the whole-image L1 and ``l1_outside_mask`` is nan. The oracle alone can be fooled by blur or a
    dither over the region; an edit that does not beat the copy baseline inside the mask has not made the change.
    """
    from facekit.eval import l1, score_edits

    t = test.task
    row = score_edits(test.sources, edits.clamp(0, 1), {t.attribute: t.target}, test.counterfactuals, test.masks,
                      oracle=oracle, data="synth")  # SynthFaces test identities with exact counterfactuals
    inside = test.masks > 0.5
    copy_in = float(l1(test.sources, test.counterfactuals, mask=inside))
    out = {
        "n": row["n"],
        "attribute_success": row["attribute_success"],
        "identity_kept": row["identity_kept"],
        "others_preserved": row["others_preserved"],
        "attribute_shift": row["attribute_shift"],
        "l1_counterfactual": row["l1"],
        "l1_inside_mask": row["l1_in"],
        "l1_outside_mask": row.get("l1_out", float("nan")),
        "copy_l1_inside_mask": copy_in,
    }
    out["beats_copy"] = bool(out["l1_inside_mask"] < copy_in - 1e-6)  # strictly better than copying the input
    return out


def progress_eval(test: TestData, *, n: int = 16, sample_dir: Optional[Union[str, Path]] = None,
                  oracle: Any = None) -> Callable[[Any], Dict[str, float]]:
    """An ``eval_fn`` for :func:`train_transform`: periodic scores (and, with ``sample_dir``, sample images).

    Every call scores :math:`T` on the first ``n`` faces of ``test`` (:func:`score_task`: attribute success,
    identity kept, L1 inside the mask and the copy baseline's) and writes ``sample_<step>.png`` (inputs over
    outputs) to ``sample_dir``. The trainer runs it on a copy of the random states, so it does not change training.
    """
    sub = TestData(test.task, test.sources[:n], test.counterfactuals[:n], test.masks[:n], test.identities[:n])

    def eval_fn(trainer: Any) -> Dict[str, float]:
        out = edit(sub.sources.to(trainer.device), trainer.models["T"], sub.task).cpu()
        row = score_task(out, sub, oracle=oracle)
        if sample_dir is not None:
            from PIL import Image

            folder = Path(sample_dir)
            folder.mkdir(parents=True, exist_ok=True)
            k = min(8, n)
            grid = torch.cat([torch.cat(list(sub.sources[:k]), 2), torch.cat(list(out[:k]), 2)], 1)  # (3, 2S, kS)
            Image.fromarray(_u8(grid).permute(1, 2, 0).numpy()).save(folder / f"sample_{trainer.step:06d}.png")
        return {k: float(v) for k, v in row.items() if k in ("attribute_success", "identity_kept", "l1_inside_mask",
                                                              "copy_l1_inside_mask")}

    return eval_fn


# ----------------------------------------------------------------------------------------------------------------
# The shipped networks
# ----------------------------------------------------------------------------------------------------------------
SHIPPED: Dict[str, str] = {
    **{f"diat_a_{t}": "TransformNet" for t in TASKS},  # DIAT-A transform networks, all five tasks
    "diat_mouth_open": "TransformNet",  # DIAT (eq. (7), with l_smooth): one local task ...
    "diat_male_to_female": "TransformNet",  # ... and one global task
    "diat_enhance_global": "TransformNet",  # the global enhancement (deblurring) network, eq. (11)
    **{f"diat_enhance_{t}": "LocalEnhancer" for t, task in TASKS.items() if task.local},  # eq. (10), per local task
}
"""The :mod:`facekit.hub` names of the networks ``scripts/train_diat.py`` ships, and their classes."""


def save_network(net: nn.Module, name: str, folder: Union[str, Path], *, meta: Optional[Mapping[str, Any]] = None) -> Path:
    """Write ``<folder>/<name>.pt`` in the hub format (``state_dict`` in float16 and ``config``), and meta JSON."""
    from facekit.methods.eye2face import save_pretrained

    return save_pretrained(net, Path(folder) / f"{name}.pt", meta=meta, half=True)  # type: ignore[arg-type]


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
