"""*From an Eye to a Face* (Tse, Jok, Ng, Lee): a face from one eye, with an autoencoder and a balanced feature loss.

The method, section by section:

* section III, data: :func:`synth_eye_face_pairs` runs the Haar pipeline of :func:`facekit.data.pairs.eye_face_pairs`
  (exactly one face and two eyes, two eye -> face pairs per image, faces 128x128 and eyes 32x32, pixels in [0, 1])
  on SynthFaces renders and keeps what each pair shows (identity, yaw, light, skin tone, face shape); CelebA
  images go through :func:`facekit.data.pairs.eye_face_pairs` unchanged. :func:`pipeline_yield` is the share of
  images kept.
* section IV, model: :class:`facekit.nn.EyeToFace` (the autoencoder), and three losses (:func:`make_loss`): the
  pixel L1 the paper rejects, the feature loss normalised by :math:`C_i H_i W_i`, and the paper's balanced feature
  loss with triangular layer weights (:class:`facekit.losses.BalancedFeatureLoss`). The loss network is VGG19 with
  the preprocessing of torchvision's ImageNet weights when they are on this machine, else the shipped SynthFaceNet
  (:func:`loss_network` says which).
* section V, training and the GAN baseline: :func:`train_generator` (Adam 1e-3, batch 64 by default) and
  :func:`train_wgan_gp` (a conditional WGAN-GP with the same generator and :class:`facekit.nn.EyeFaceCritic`),
  both through :class:`facekit.train.Trainer`.
* evaluation: :func:`generate`, :func:`score_faces` (identity kept between the generated and the true face,
  attributes kept, L1 / PSNR / SSIM against the true face, by :func:`facekit.eval.score_edits`),
  :func:`identity_check` (the judge's false-match rates and recall@1, which say what "identity kept" is worth), and
  :func:`load_pretrained`: the generator trained by ``scripts/train_eye2face.py`` on SynthFaces and shipped in
  ``facekit/weights/eye2face.pt``.

Example:
    >>> import torch
    >>> from facekit.nn import EyeToFace
    >>> g = EyeToFace()
    >>> generate(g, torch.rand(3, 3, 32, 32)).shape
    torch.Size([3, 3, 128, 128])
"""

from __future__ import annotations

import copy
import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import Tensor, nn

from facekit.data.pairs import EyeFacePairs, eye_face_pairs
from facekit.data.synth_dataset import SynthFaces
from facekit.data.synthfaces import attributes_to_vector, identity_params, resolve_attributes
from facekit.losses import BalancedFeatureLoss, std_loss
from facekit.nn.eye2face import EyeFaceCritic, EyeToFace
from facekit.nn.features import FeatureNet

__all__ = [
    "PAPER",
    "LOSSES",
    "COMPARED_LOSSES",
    "WEIGHTS_FILE",
    "loss_weights_name",
    "PairInfo",
    "synth_eye_face_pairs",
    "ffhq_eye_face_pairs",
    "pipeline_yield",
    "loss_network",
    "make_loss",
    "pairs_data",
    "train_generator",
    "train_wgan_gp",
    "generate",
    "score_faces",
    "identity_check",
    "save_pretrained",
    "load_pretrained",
]

PAPER: Dict[str, Any] = {
    "face_size": 128,
    "eye_size": 32,
    "lr": 1e-3,
    "batch_size": 64,
    "epochs": 150,
    "train_pairs": 15000,
    "train_images": 7500,
    "focus": 10,
    "n_layers": 22,
}
"""The paper's settings (sections III-V): crop sizes, Adam's learning rate, batch, epochs, data, f and n."""

LOSSES: Tuple[str, ...] = ("l1", "normalized", "balanced")
"""The three generator losses of section IV, in the paper's order."""

COMPARED_LOSSES: Tuple[str, ...] = (*LOSSES, "wgan_gp")
"""The three losses and the paper's GAN baseline (``"wgan_gp"``, :func:`train_wgan_gp`): one shipped generator
each, trained with equal budgets by ``scripts/train_eye2face.py --losses`` (:func:`load_pretrained` ``loss=``)."""

WEIGHTS_FILE: Path = Path(__file__).resolve().parent.parent / "weights" / "eye2face.pt"
"""The shipped generator (``scripts/train_eye2face.py``); its figures are in ``eye2face.json`` beside it."""


def loss_weights_name(loss: str) -> str:
    """The :mod:`facekit.hub` name of the shipped generator trained with ``loss`` (one of :data:`COMPARED_LOSSES`).

    Example:
        >>> loss_weights_name("wgan_gp")
        'eye2face_wgan_gp'
    """
    if loss not in COMPARED_LOSSES:
        raise ValueError(f"loss must be one of {', '.join(COMPARED_LOSSES)}; got {loss!r}")
    return f"eye2face_{loss}"


# ----------------------------------------------------------------------------------------------------------------
# Section III: data
# ----------------------------------------------------------------------------------------------------------------
@dataclass
class PairInfo:
    """What each eye -> face pair shows (SynthFaces knows it exactly), for grouping results as in section V.

    Attributes:
        identity: ``(N,)`` int64, the person.
        yaw: ``(N,)`` float32 degrees (section V "angle").
        light: ``(N,)`` int64 light index (section V "lighting").
        skin: ``(N,)`` float32 luminance of the identity's skin tone in [0, 1] (section V "skin colour").
        face_shape: ``(N,)`` float32 width / length of the head (section V "face shape"; larger = rounder).
        attributes: ``(N, 28)`` float32 0/1, the rendered CelebA attributes.
    """

    identity: Tensor
    yaw: Tensor
    light: Tensor
    skin: Tensor
    face_shape: Tensor
    attributes: Tensor


def ffhq_eye_face_pairs(n_images: int = 1000, root: Optional[Union[str, Path]] = None, *,
                        progress: bool = False) -> EyeFacePairs:
    """Section III's pipeline on the first ``n_images`` FFHQ thumbnails: the paper's *evaluation* set.

    The paper trains on CelebA and evaluates on FFHQ (real faces of other people, from another source).
    :class:`facekit.data.FFHQ` reads ``thumbnails128x128/`` (no labels), and :func:`facekit.data.pairs.eye_face_pairs`
    keeps the images with one face and two eyes, two pairs each.

    Args:
        n_images: thumbnails to scan (the pairs kept are fewer: see :func:`pipeline_yield`).
        root: the FFHQ folder (default ``FACEKIT_HOME/data/ffhq``).
        progress: show a progress bar.

    Returns:
        the :class:`~facekit.data.pairs.EyeFacePairs` (``eyes (N, 3, 32, 32)``, ``faces (N, 3, 128, 128)``).

    Raises:
        facekit.data.DatasetNotFoundError: FFHQ is not there (the message gives the layout and where to get it).
    """
    from facekit.data.ffhq import FFHQ

    if n_images < 1:
        raise ValueError(f"n_images must be >= 1; got {n_images}")
    ds = FFHQ(root, max_images=n_images)
    images = ((ds[i]["image"].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8) for i in range(len(ds)))
    return eye_face_pairs(images, face_size=PAPER["face_size"], eye_size=PAPER["eye_size"], progress=progress)


def synth_eye_face_pairs(split: str = "train", n_images: int = 1000, *, size: int = 128, seed: int = 0,
                         n_identities: int = 1000, poses: Union[str, Sequence[float]] = "multipie",
                         lights: Union[str, Sequence[int]] = "all", attributes: Any = "random",
                         progress: bool = False) -> Tuple[EyeFacePairs, PairInfo]:
    """Run the section III pipeline on ``n_images`` SynthFaces renders of one identity split.

    Args:
        split: ``"train"``, ``"val"`` or ``"test"``: disjoint identities (test identities are never trained on).
        n_images: images to render and scan (the pairs kept are fewer: see :func:`pipeline_yield`).
        size: render size (128: the cascades need about 100 px faces to find the eyes).
        seed, n_identities, poses, lights, attributes: as in :class:`facekit.data.SynthFaces`; by default every
            MultiPIE yaw, all 20 lights and random accessories, so the pairs vary as section V's groups do.
        progress: show a progress bar.

    Returns:
        ``(pairs, info)``: the :class:`~facekit.data.pairs.EyeFacePairs` (``eyes (N, 3, 32, 32)``,
        ``faces (N, 3, 128, 128)``) and a :class:`PairInfo` with one entry per pair.
    """
    ds = SynthFaces(split, size=size, n_identities=n_identities, length=n_images, poses=poses, lights=lights,
                    attributes=attributes, seed=seed)
    pairs = eye_face_pairs(ds, face_size=PAPER["face_size"], eye_size=PAPER["eye_size"], progress=progress)
    specs = [ds.spec(int(i)) for i in pairs.image_index]
    ids = [s["identity"] for s in specs]
    params = {i: identity_params(i) for i in set(ids)}
    skin = [float(np.dot(np.asarray(params[i].skin, np.float64) / 255.0, [0.299, 0.587, 0.114])) for i in ids]
    shape = [params[i].head_width * params[i].jaw_width / params[i].face_length for i in ids]
    attrs = [attributes_to_vector(resolve_attributes(s["identity"], s["attributes"])) for s in specs]
    info = PairInfo(
        identity=torch.tensor(ids, dtype=torch.int64),
        yaw=torch.tensor([s["yaw"] for s in specs], dtype=torch.float32),
        light=torch.tensor([s["light"] for s in specs], dtype=torch.int64),
        skin=torch.tensor(skin, dtype=torch.float32),
        face_shape=torch.tensor(shape, dtype=torch.float32),
        attributes=torch.as_tensor(np.asarray(attrs, np.float32)).reshape(len(specs), -1),
    )
    return pairs, info


def pipeline_yield(pairs: EyeFacePairs) -> float:
    """Share of scanned images that gave pairs (exactly one face and two eyes); pairs per image is twice this."""
    return pairs.n_kept / max(pairs.n_images, 1)


# ----------------------------------------------------------------------------------------------------------------
# Section IV: losses
# ----------------------------------------------------------------------------------------------------------------
def loss_network(prefer: str = "vgg19", *, device: Any = None, verbose: bool = True) -> FeatureNet:
    """The loss network :math:`\\phi` of the feature losses: VGG19 (the paper) when present, else SynthFaceNet.

    Args:
        prefer: ``"vgg19"``: torchvision's ImageNet VGG19 with the preprocessing its weights were trained with
            (ImageNet mean / std on RGB; the paper fed Keras' Caffe-converted VGG19 its own BGR convention, and
            prints a formula with the channels mixed up: :mod:`facekit.nn.vgg19`) when the weights are found by
            :mod:`facekit.hub`, otherwise the shipped
            SynthFaceNet; ``"synthface_net"``: always SynthFaceNet (what the offline book and the shipped
            checkpoint use).
        device: where to put it.
        verbose: print which network is in use.

    Returns:
        a frozen :class:`~facekit.nn.FeatureNet` in eval mode.
    """
    from facekit import hub

    if prefer not in ("vgg19", "synthface_net"):
        raise ValueError(f"prefer must be 'vgg19' or 'synthface_net'; got {prefer!r}")
    if prefer == "vgg19" and hub.available("vgg19"):
        net = hub.pretrained("vgg19", include_top=False, preprocess="torchvision")  # the file's own convention
        net.description += " (torchvision preprocessing: the convention of these weights)"
    else:
        from facekit.nn import face_network

        net = face_network("synthface_net", verbose=False)  # the one SynthFaceNet fallback (warns if weights are gone)
        if prefer == "vgg19":
            net.description += " -- VGG19 ImageNet weights not found (facekit.hub.find('vgg19')), using the stand-in"
    if device is not None:
        net.to(device)
    if verbose:
        print(f"loss network: {net.description}")
    return net


def make_loss(kind: str, net: Optional[FeatureNet] = None, *, focus: Optional[int] = None) -> nn.Module:
    """One of the three losses of section IV, as a module ``loss(pred, target) -> scalar``.

    Args:
        kind: ``"l1"`` (mean absolute pixel error), ``"normalized"`` (:math:`\\sum_i \\|\\cdot\\|_1 / C_i H_i W_i`)
            or ``"balanced"`` (the paper's; call ``.calibrate(G(eyes), faces)`` with a fresh generator first;
            :func:`train_generator` does).
        net: the loss network (needed by the feature losses; default :func:`loss_network`).
        focus: the focus layer of the balanced loss (default: the paper's 10 of 22, scaled to the network).

    Returns:
        an ``nn.Module``.
    """
    if kind not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}; got {kind!r}")
    if kind == "l1":
        return nn.L1Loss()  # section IV, "Mean Absolute Error (L1 Loss)"
    return BalancedFeatureLoss(net if net is not None else loss_network(), kind=kind, focus=focus)


# ----------------------------------------------------------------------------------------------------------------
# Training (through facekit.train.Trainer)
# ----------------------------------------------------------------------------------------------------------------
def _to_uint8(x: Tensor) -> Tensor:
    return x.mul(255.0).round_().clamp_(0, 255).to(torch.uint8) if x.is_floating_point() else x


def _to_float(x: Tensor) -> Tensor:
    return x.float().div_(255.0) if x.dtype == torch.uint8 else x


def pairs_data(pairs: EyeFacePairs) -> torch.utils.data.Dataset:
    """A map-style dataset of ``(eye, face)`` uint8 tensors (what :class:`facekit.train.Trainer` batches).

    The crops are 8-bit pixels divided by 255 (section III), so storing them as uint8 is exact and takes a quarter
    of the memory; the training steps divide by 255 again.
    """
    if len(pairs) == 0:
        raise ValueError("no eye -> face pairs: the Haar pipeline kept no image (see pipeline_yield); scan more "
                         "images or render them larger")
    return torch.utils.data.TensorDataset(_to_uint8(pairs.eyes), _to_uint8(pairs.faces))


def _calibration_batch(pairs: EyeFacePairs, n: int = 64) -> Tuple[Tensor, Tensor]:
    gen = torch.Generator().manual_seed(12345)
    idx = torch.randperm(len(pairs), generator=gen)[:n]
    return pairs.eyes[idx], pairs.faces[idx]


def train_generator(pairs: EyeFacePairs, loss: Union[str, nn.Module] = "balanced", *, steps: int,
                    batch_size: int = PAPER["batch_size"], lr: float = PAPER["lr"], seed: int = 0,
                    generator: Optional[EyeToFace] = None, net: Optional[FeatureNet] = None,
                    device: Any = None, checkpoint_dir: Optional[Union[str, Path]] = None,
                    checkpoint_every: int = 100, eval_fn: Optional[Callable[..., Mapping[str, float]]] = None,
                    eval_every: Optional[int] = None, progress: bool = True, std_weight: float = 0.0,
                    std_over: str = "image") -> Tuple[EyeToFace, Any, Any]:
    """Train the eye-to-face autoencoder with one of the section IV losses (Adam, the paper's 1e-3 and batch 64).

    The balanced loss is calibrated first: the per-layer L1 of the freshly initialised generator on 64 training
    pairs (a fixed draw) becomes :math:`l^{initial}_i`, so the loss starts at :math:`\\sum_i \\lambda_i = 1`.

    Args:
        pairs: training pairs (:func:`synth_eye_face_pairs` or :func:`facekit.data.pairs.eye_face_pairs`).
        loss: ``"l1"``, ``"normalized"``, ``"balanced"``, or a module ``loss(pred, target)``.
        steps: optimiser steps (one batch each). The paper: 150 epochs of 15000 pairs, about 35,000 steps.
        batch_size, lr: Adam's batch and learning rate (the paper: 64 and 1e-3).
        seed: seeds the initial weights (when ``generator`` is None), the data order and the run.
        generator: a generator to train (default: a fresh :class:`~facekit.nn.EyeToFace` seeded by ``seed``).
        net: the loss network of the feature losses (default :func:`loss_network`).
        device: where to train (default :func:`facekit.config.get_device`).
        checkpoint_dir, checkpoint_every: resumable checkpoints (see :class:`facekit.train.Trainer`).
        eval_fn, eval_every: an evaluation hook ``eval_fn(trainer)`` (see the Trainer).
        progress: show a progress bar.
        std_weight: weight of the "standard deviation loss" that section IV trains with beside the feature loss
            (:func:`facekit.losses.std_loss`; the paper gives neither its formula nor its weight, so the default 0
            leaves it out, as the shipped checkpoint was trained).
        std_over: ``"image"`` (against blur) or ``"batch"`` (against mode collapse); see :func:`~facekit.losses.std_loss`.

    Returns:
        ``(generator, history, trainer)``; ``history.terms["loss"]`` holds the loss of every step (and
        ``history.terms["std"]`` the standard deviation loss, unweighted, when ``std_weight > 0``).

    Raises:
        facekit.train.TrainingDiverged: the loss became NaN or inf.
    """
    from facekit.config import get_device
    from facekit.train import Trainer

    if std_weight < 0 or not math.isfinite(std_weight):
        raise ValueError(f"std_weight must be a finite number >= 0; got {std_weight}")
    device = torch.device(device) if device is not None else get_device()
    if generator is None:
        torch.manual_seed(seed)
        generator = EyeToFace(eye_size=pairs.eyes.shape[-1], face_size=pairs.faces.shape[-1])
    loss_fn = make_loss(loss, net) if isinstance(loss, str) else loss
    loss_fn = loss_fn.to(device)
    if isinstance(loss_fn, BalancedFeatureLoss) and loss_fn.kind == "balanced" and not loss_fn.calibrated:
        eyes, faces = _calibration_batch(pairs)
        probe = copy.deepcopy(generator).to(device).train()  # the fresh generator, as it will be trained
        with torch.no_grad():
            loss_fn.calibrate(probe(eyes.to(device)), faces.to(device))  # l_initial_i, section IV
    name = loss if isinstance(loss, str) else type(loss).__name__
    opt = torch.optim.Adam(generator.parameters(), lr=lr)

    def step(trainer: Any, batch: Any) -> Dict[str, float]:
        eye, face = (_to_float(t) for t in batch)
        pred = trainer.models["generator"](eye)  # M(I_eye) = I_face
        terms = {"loss": loss_fn(pred, face)}
        if std_weight > 0:  # "feature loss and standard deviation loss" (section IV)
            terms["std"] = std_loss(pred, face, over=std_over)
        return trainer.update("generator", terms, weights={"std": std_weight} if std_weight > 0 else None)

    trainer = Trainer({"generator": generator}, {"generator": opt}, step, data=pairs_data(pairs),
                      batch_size=batch_size, seed=seed, device=device, checkpoint_dir=checkpoint_dir,
                      checkpoint_every=checkpoint_every, eval_fn=eval_fn, eval_every=eval_every,
                      progress=progress, desc=f"eye2face {name}")
    history = trainer.fit(steps)
    generator.eval()
    return generator, history, trainer


def train_wgan_gp(pairs: EyeFacePairs, *, steps: int, batch_size: int = PAPER["batch_size"],
                  lr: float = PAPER["lr"], betas: Tuple[float, float] = (0.0, 0.9), n_critic: int = 5,
                  lambda_gp: float = 10.0, seed: int = 0, generator: Optional[EyeToFace] = None,
                  critic: Optional[EyeFaceCritic] = None, device: Any = None,
                  checkpoint_dir: Optional[Union[str, Path]] = None, checkpoint_every: int = 100,
                  progress: bool = True) -> Tuple[EyeToFace, EyeFaceCritic, Any]:
    """The paper's GAN baseline: a conditional WGAN-GP with the same generator (section V, "Comparison with GANs").

    Each step: ``n_critic`` critic updates on the step's batch (a new interpolation each time) minimising
    :math:`D(G(e), e) - D(f, e) + \\lambda\\, GP` (Gulrajani et al. 2017, Algorithm 1), then one generator update
    minimising :math:`-D(G(e), e)`. The paper trained it "with the same training settings" as the autoencoder,
    hence the default Adam learning rate 1e-3; the betas, ``n_critic`` and :math:`\\lambda` are Gulrajani et al.'s.

    Args:
        pairs: training pairs.
        steps: generator steps.
        batch_size, lr, betas: Adam's settings for both networks.
        n_critic: critic updates per generator update.
        lambda_gp: weight of the gradient penalty.
        seed: seeds the networks, the data order and the run.
        generator, critic: networks to train (default: fresh ones).
        device, checkpoint_dir, checkpoint_every, progress: as in :func:`train_generator`.

    Returns:
        ``(generator, critic, history)``; the history has ``critic``, ``gp``, ``wasserstein`` and ``generator``.
    """
    from facekit.config import get_device
    from facekit.losses import gradient_penalty, wgan_critic_loss, wgan_generator_loss
    from facekit.train import Trainer

    if n_critic < 1:
        raise ValueError(f"n_critic must be >= 1; got {n_critic}")
    device = torch.device(device) if device is not None else get_device()
    torch.manual_seed(seed)
    g = generator if generator is not None else EyeToFace(eye_size=pairs.eyes.shape[-1],
                                                         face_size=pairs.faces.shape[-1])
    d = critic if critic is not None else EyeFaceCritic(face_size=pairs.faces.shape[-1])
    opt_g = torch.optim.Adam(g.parameters(), lr=lr, betas=betas)
    opt_d = torch.optim.Adam(d.parameters(), lr=lr, betas=betas)

    def step(trainer: Any, batch: Any) -> Dict[str, float]:
        eye, face = (_to_float(t) for t in batch)
        G, D = trainer.models["generator"], trainer.models["critic"]
        with torch.no_grad():
            fake = G(eye)
        logs: Dict[str, float] = {}
        for _ in range(n_critic):  # Gulrajani et al., Algorithm 1
            w = wgan_critic_loss(D(face, eye), D(fake, eye))
            gp = gradient_penalty(D, face, fake, eye)
            logs = trainer.update("critic", {"wasserstein": w, "gp": gp}, weights={"gp": lambda_gp})
        g_loss = wgan_generator_loss(D(G(eye), eye))
        logs.update(trainer.update("generator", {"generator": g_loss}))
        logs["critic"] = logs["wasserstein"] + lambda_gp * logs["gp"]
        return logs

    trainer = Trainer({"generator": g, "critic": d}, {"generator": opt_g, "critic": opt_d}, step,
                      data=pairs_data(pairs), batch_size=batch_size, seed=seed, device=device,
                      checkpoint_dir=checkpoint_dir, checkpoint_every=checkpoint_every, progress=progress,
                      desc="eye2face WGAN-GP")
    history = trainer.fit(steps)
    g.eval()
    d.eval()
    return g, d, history


# ----------------------------------------------------------------------------------------------------------------
# Evaluation
# ----------------------------------------------------------------------------------------------------------------
@torch.no_grad()
def generate(generator: nn.Module, eyes: Tensor, batch_size: int = 64) -> Tensor:
    """Faces from eye crops, in eval mode, without gradients, in chunks.

    Args:
        generator: an :class:`~facekit.nn.EyeToFace`.
        eyes: ``(B, 3, 32, 32)`` RGB in [0, 1].
        batch_size: eyes per forward pass.

    Returns:
        ``(B, 3, 128, 128)`` in [0, 1], on the CPU.
    """
    if not isinstance(eyes, Tensor) or eyes.ndim != 4:
        raise ValueError(f"eyes must be a (B, 3, H, W) tensor; got {getattr(eyes, 'shape', type(eyes).__name__)}")
    was_training = generator.training
    generator.eval()
    device = next(generator.parameters()).device
    out = [generator(chunk.to(device)).cpu() for chunk in eyes.split(batch_size)]
    generator.train(was_training)
    return torch.cat(out)


@functools.lru_cache(maxsize=1)
def _default_oracle() -> Any:
    from facekit.eval import load_oracle

    return load_oracle()


@functools.lru_cache(maxsize=1)
def _default_real_judge() -> Any:
    from facekit.eval import DlibIdentity

    return DlibIdentity()


def _identity_judge(oracle: Any, data: Optional[str]) -> Any:
    """The identity judge for ``data``: the oracle (given or shipped) on SynthFaces, dlib's ResNet on real photos."""
    from facekit.eval.judges import check_judge_fits_data, is_real_data

    if is_real_data(data):
        check_judge_fits_data(oracle, data, "identity")
        return oracle if oracle is not None else _default_real_judge()
    return oracle if oracle is not None else _default_oracle()


class _EmbedOnce:
    """A distance judge (:class:`facekit.eval.DlibIdentity`) that describes each image set once per evaluation.

    :func:`facekit.eval.score_edits` asks for ``identity_score`` and then ``same_identity`` of the same two batches,
    and :func:`identity_check` compares the same batches several ways; dlib's detector and network then ran on each
    image up to four times. The verdicts are the judge's own: distance of the descriptors below its threshold,
    ``nan`` (never the same person) where no face is found.
    """

    score_name = "dlib_distance"

    def __init__(self, judge: Any) -> None:
        self.judge, self.threshold = judge, float(judge.threshold)
        self.domain = getattr(judge, "domain", None)
        self._memo: Dict[int, Tuple[Tensor, Tensor]] = {}

    @staticmethod
    def applies(judge: Any) -> bool:
        return getattr(judge, "score_name", None) == "dlib_distance" and hasattr(judge, "embed")

    def embed(self, images: Tensor) -> Tensor:
        if id(images) not in self._memo:  # the batch is kept with its descriptors, so its id stays its own
            self._memo[id(images)] = (images, self.judge.embed(images).double().cpu())
        return self._memo[id(images)][1]

    def identity_score(self, a: Tensor, b: Tensor) -> Tensor:
        return (self.embed(a) - self.embed(b)).norm(dim=1)

    def same_identity(self, a: Tensor, b: Tensor) -> Tensor:
        return self.identity_score(a, b) < self.threshold  # nan < t is False


def score_faces(generated: Tensor, true: Tensor, *, oracle: Any = None, with_ssim: bool = False,
                data: Optional[str] = None) -> Dict[str, Any]:
    """Score generated faces against the true faces with :func:`facekit.eval.score_edits`.

    The true face plays the "source" of an edit, and its own attributes (as the oracle sees them) are the target,
    so the row reads:

    * ``identity_kept``: share of generated faces the oracle judges to be the same person as the true face
      (``identity_cosine``: their mean cosine similarity);
    * ``attributes_kept``: share of the oracle's 28 attributes on which the generated face agrees with the true
      one (stored as ``others_preserved`` too, the results table's "others kept" column);
    * ``l1``, ``psnr`` (and ``ssim`` with ``with_ssim=True``; about 13 ms per 128 px image on one CPU thread):
      pixel errors against the true face (:func:`facekit.eval.l1`, :func:`facekit.eval.psnr`).

    On real photos (``data`` a real dataset) the SynthFaces oracle is not used (:mod:`facekit.eval.judges`):
    identity is judged by dlib's ResNet (:class:`facekit.eval.DlibIdentity`: ``identity_dlib_distance``), and
    ``attributes_kept`` / ``others_preserved`` are ``nan`` (not judged). A generated face in which dlib finds no
    face counts as not kept; ``face_found`` (and ``true_face_found``, for the true faces) is the share of faces in
    which dlib finds one (its detector and 5 landmarks, what its descriptor needs).

    Args:
        generated, true: ``(B, 3, H, W)`` in [0, 1].
        oracle: the judge (default: the shipped SynthFaces oracle, :func:`facekit.eval.load_oracle`, loaded once;
            on real photos an identity judge such as :class:`facekit.eval.DlibIdentity`).
        with_ssim: also compute SSIM.
        data: where the faces come from (``None``: ``FACEKIT_DATA``); ``"synth"`` or a real dataset.

    Returns:
        a dict ready for :func:`facekit.eval.record`.

    Raises:
        facekit.eval.RealPhotoError: the SynthFaces oracle passed as the judge of real photos.
    """
    from facekit.eval import l1, psnr, score_edits, ssim
    from facekit.eval.judges import is_real_data

    judge = _identity_judge(oracle, data)
    generated = generated.detach().float().cpu().clamp(0, 1)
    true = true.detach().float().cpu()
    if is_real_data(data):
        if _EmbedOnce.applies(judge):  # dlib: each face detected and described once
            judge = _EmbedOnce(judge)
        row = score_edits(true, generated, {}, identity=judge, judge_attributes=False, data=data)
        if isinstance(judge, _EmbedOnce):  # a blurry generated face may hold no face dlib can find
            row["face_found"] = float(torch.isfinite(judge.embed(generated)).all(1).double().mean())
            row["true_face_found"] = float(torch.isfinite(judge.embed(true)).all(1).double().mean())
    else:
        target = judge.predict_attributes(true).float().cpu()  # (B, A): the true face's attributes
        row = score_edits(true, generated, target, oracle=judge, data="synth")
    row["attributes_kept"] = row.pop("attribute_success")
    row["others_preserved"] = row["attributes_kept"]
    for key in ("target_in_source", "attribute_shift"):  # meaningless here: the source is the true face
        row.pop(key, None)
    row["l1"] = float(l1(generated, true))  # against the true face (the "counterfactual")
    row["psnr"] = float(psnr(generated, true))
    if with_ssim:
        row["ssim"] = float(ssim(generated, true))
    return row


def identity_check(generated: Tensor, true: Tensor, identity: Tensor, *, oracle: Any = None,
                   shift: int = 7, data: Optional[str] = None) -> Dict[str, float]:
    """How much "identity kept" means: the same judge on pairs that are *not* the same person, and retrieval.

    ``identity_kept`` of :func:`score_faces` is a verification at the oracle's threshold. Read it against the
    rate at which the same judge says "same person" for two *different* people:

    * ``same_person``: generated face vs its own true face judged the same person (= ``identity_kept``);
    * ``other_person``: generated face vs the true face of *another* identity judged the same person (a false
      match; pairs are formed by shifting the list by ``shift`` and keeping pairs of different identities);
    * ``true_vs_other``: two true faces of different identities judged the same person (the judge's own false
      match rate on these crops);
    * ``recall_at_1``: the nearest true face (cosine of the oracle's embeddings, over all test pairs) to a
      generated face shows the right identity (:func:`facekit.eval.recall_at_k`).

    Args:
        generated, true: ``(B, 3, H, W)`` in [0, 1].
        identity: ``(B,)`` identity labels of the true faces.
        oracle: the judge (default: the shipped oracle on SynthFaces, :class:`facekit.eval.DlibIdentity` on real
            photos); any object with ``same_identity`` and ``embed``.
        shift: offset that pairs each face with another person's.
        data: where the faces come from (``None``: ``FACEKIT_DATA``).

    Returns:
        the four rates, floats in [0, 1] (``nan`` where no pair of different identities exists). Faces in which
        the judge finds no face (dlib, ``nan`` embeddings) are left out of the recall.
    """
    from facekit.eval import recall_at_k

    oracle = _identity_judge(oracle, data)
    generated, true = generated.detach().float().cpu().clamp(0, 1), true.detach().float().cpu()
    identity = torch.as_tensor(identity).cpu()
    other = torch.roll(torch.arange(len(identity)), shift)
    diff = identity[other] != identity  # (B,) pairs of different people
    out: Dict[str, float] = {}
    if not _EmbedOnce.applies(oracle):
        out["same_person"] = float(oracle.same_identity(generated, true).float().mean())
    if _EmbedOnce.applies(oracle):  # dlib: describe each face once, compare the descriptors
        q, gal = oracle.embed(generated).double().cpu(), oracle.embed(true).double().cpu()
        thr = float(oracle.threshold)
        out["same_person"] = float(((q - gal).norm(dim=1) < thr).float().mean())
        if bool(diff.any()):
            out["other_person"] = float(((q[diff] - gal[other][diff]).norm(dim=1) < thr).float().mean())
            out["true_vs_other"] = float(((gal[diff] - gal[other][diff]).norm(dim=1) < thr).float().mean())
        else:
            out["other_person"] = out["true_vs_other"] = float("nan")
    elif bool(diff.any()):
        out["other_person"] = float(oracle.same_identity(generated[diff], true[other][diff]).float().mean())
        out["true_vs_other"] = float(oracle.same_identity(true[diff], true[other][diff]).float().mean())
    else:
        out["other_person"] = out["true_vs_other"] = float("nan")
    if not _EmbedOnce.applies(oracle):
        q, gal = oracle.embed(generated), oracle.embed(true)
    q, gal = q.float(), gal.float()
    qok, gok = torch.isfinite(q).all(1), torch.isfinite(gal).all(1)  # (B,): a face was found
    if bool(qok.any()) and bool(gok.any()):
        out["recall_at_1"] = float(recall_at_k(q[qok], gal[gok], identity[qok], identity[gok], ks=(1,))[1])
    else:
        out["recall_at_1"] = float("nan")
    return out


# ----------------------------------------------------------------------------------------------------------------
# The shipped checkpoint
# ----------------------------------------------------------------------------------------------------------------
def save_pretrained(generator: EyeToFace, path: Union[str, Path] = WEIGHTS_FILE, *,
                    meta: Optional[Mapping[str, Any]] = None, half: bool = True,
                    quantize: Optional[str] = None) -> Path:
    """Write ``{"state_dict", "config", "meta"}`` (the :mod:`facekit.hub` format) and ``meta`` as JSON beside it.

    Args:
        generator: the trained generator.
        path: the ``.pt`` file (default: the shipped ``facekit/weights/eye2face.pt``).
        meta: figures and the training command (plain values), also written to ``<path>.json``.
        half: store floating-point tensors in float16 (half the size; loading casts them back).
        quantize: ``None`` or ``"int8"`` (8-bit weights with per-channel scales, :func:`facekit.hub.save`;
            the per-loss comparison generators ship that way).

    Returns:
        the path written.
    """
    from facekit import hub

    return hub.save(generator, path, meta=meta, half=half, quantize=quantize)


def load_pretrained(path: Optional[Union[str, Path]] = None, *, loss: Optional[str] = None,
                    device: Any = None) -> EyeToFace:
    """A shipped eye-to-face generator (trained on SynthFaces by ``scripts/train_eye2face.py``), in eval mode.

    Args:
        path: a file written by :func:`save_pretrained` (default :data:`WEIGHTS_FILE`, or the file of ``loss``).
        loss: one of :data:`COMPARED_LOSSES`: the generator of the equal-budget loss comparison trained with that
            loss (``scripts/train_eye2face.py --losses``; hub name :func:`loss_weights_name`, stored in 8 bits,
            :func:`facekit.hub.save` ``quantize="int8"``). ``None``: the shipped float16 generator
            ``eye2face.pt`` (balanced loss), which the rest of chapter 4 uses.
        device: where to put it.

    Returns:
        the :class:`~facekit.nn.EyeToFace`; ``generator.meta`` holds the JSON figures when present.

    Raises:
        facekit.hub.WeightsNotFoundError: no such file (a ``FileNotFoundError``; the message says how to make it).
        facekit.hub.WeightsFormatError: the file is empty, truncated, not a PyTorch file or holds arbitrary Python
            objects (read by :func:`facekit.hub.read_weights`, as every weights file).
        ValueError: the file is not an eye-to-face checkpoint (no ``state_dict`` and ``config``), or ``loss`` is
            unknown.
        facekit.hub.WeightsKeysError: its keys or shapes do not fit the network its ``config`` describes.
        facekit.hub.WeightsHashError: a shipped file (no ``path``) is not the registered one.
    """
    from facekit import hub

    name = "eye2face" if loss is None else loss_weights_name(loss)
    default = WEIGHTS_FILE.parent / hub.REGISTRY[name].filename
    file = Path(path) if path is not None else default
    script = "python scripts/train_eye2face.py" + ("" if loss is None else " --losses ...")
    if not file.is_file():
        raise hub.WeightsNotFoundError(
            f"no eye-to-face checkpoint at {file}. It ships with facekit (facekit/weights/{default.name}); recreate "
            f"it with `{script}` (see its docstring), or pass path= to your own.")
    if path is None:  # a shipped file: check it is the registered one (facekit.hub)
        hub.verify(name, file)
    obj = hub.read_weights(file, name=name if path is None else None,
                           remedy=f"recreate it with `{script}`, or pass path= to a good copy")
    obj = hub.unpack_checkpoint(obj)  # 8-bit files to float32
    if not isinstance(obj, dict) or "state_dict" not in obj or "config" not in obj:
        raise ValueError(f"{file} is not an eye-to-face checkpoint (expected the keys 'state_dict' and 'config')")
    generator = EyeToFace(**obj["config"])
    state = hub.check_state_dict(obj["state_dict"], generator.state_dict(), file=file,
                                 what=f"EyeToFace(**{obj['config']})")
    generator.load_state_dict(state)  # float16 tensors are cast to the parameters' float32
    meta_file = file.with_suffix(".json")
    generator.meta = json.loads(meta_file.read_text()) if meta_file.is_file() else {}  # type: ignore[assignment]
    if device is not None:
        generator.to(device)
    return generator.eval()
