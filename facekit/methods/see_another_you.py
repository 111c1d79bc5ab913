"""*Towards Automatic Image Editing: Learning to See another You* (Ghodrati, Jia, Pedersoli, Tuytelaars, BMVC 2016).

The method, section by section:

* section 4 data, three tasks (:data:`TASKS`), each a :class:`TaskData` of image pairs with one-hot target
  attributes (:func:`task_data` on SynthFaces, exact ground truth; :func:`multipie_task_data` and
  :func:`caspeal_task_data` on the licensed datasets when a user has them):

  - ``"pose"`` (4.1, Multi-PIE): 7 yaws from -45 to 45 degrees, 20 lights, the same person and light at two
    different poses, every ordered pair of poses; train and test identities disjoint;
  - ``"accessory"`` (4.2, CAS-PEAL-R1): 7 states (none, 3 glasses incl. sunglasses, 3 hats), every ordered pair of
    different states of a person (remove one accessory and add another at once);
  - ``"completion"`` (4.3): a black bar over the eyes -> the full face (same pose and light).

* section 3.4 preprocessing: every image is standardised by its own mean and standard deviation
  (:func:`standardize`). The target is expressed in the **source's** units (``target_stats="source"``, the
  default) and every output is de-normalised with the source's statistics (:func:`destandardize`): at test time
  the source is all we have. De-normalising with the target's statistics, as the authors' demo does, would leak
  the answer (the target's brightness and contrast) into the figures and the errors. ``target_stats="own"``
  trains on targets standardised by their own statistics, as the authors' release does; its outputs are still
  de-normalised with the source's.
* section 3.4 losses: eq. (1) and (2), the squared error of each stage
  (:func:`facekit.losses.generation_loss`), and the mean absolute error of the completion task
  (:func:`facekit.losses.completion_loss`, section 4.3).
* section 3.4 training (:func:`train_stage1`, :func:`train_stage2`, :func:`train`): the two networks
  successively through :class:`facekit.train.Trainer` (checkpoints, exact resume, NaN stop); stage 2 learns on the
  outputs of the frozen stage 1, recomputed for every batch. SGD, momentum 0.95, batch 32, He initialisation.
  **Learning-rate scale:** the paper's :math:`\\|\\cdot\\|_2^2` is a sum over the pixels of an image, and its
  learning rate 1e-5 belongs to that scale (the authors' release, too, sums the squared error of each image).
  We log the per-pixel mean (comparable across image sizes) and step with ``lr * C * H * W`` (1e-5 x 1024 =
  0.01 at 32 x 32 grey), which is the same update as the paper's ``lr`` on the per-image sum.
* section 4.1.1: :func:`edit` (both stages, de-normalised), :func:`stage_errors` (Table 1: per-pixel MSE in 0-255
  grey units).
* section 4.1.2 retrieval (:func:`facekit.methods.see_another_you_retrieval.retrieval_experiment`, in its
  own module, which imports this one): the gallery is every test image, each replaced by the
  closest to it of its 7 generated poses ("generate the 7 possible poses for each original face and keep the one
  that is closest to the original"); features are pixels and the middle layer of the second network
  (:data:`facekit.nn.see_another_you.MIDDLE_LAYER`); the two-step baselines first keep the gallery images a pose
  classifier assigns to the target pose, then rank them by pixels, by our second network's features or by a face
  network's embedding (SynthFaceNet offline, VGG-Face where present: :func:`facekit.nn.face_network`); both
  criteria (identity + pose; identity + pose + illumination); recall@1/5/20 by :func:`facekit.eval.recall_at_k`.
* :func:`load_pretrained`: the three tasks' networks trained by ``scripts/train_see_another_you.py`` and shipped in
  ``facekit/weights/`` (registered in :mod:`facekit.hub`).

Example:
    >>> from facekit.nn import SeeAnotherYou
    >>> data = task_data("pose", "test", n_identities=30, lights=[0])
    >>> len(data), data.code_names[0]
    (126, 'yaw-45')
    >>> src, tgt, code = data[0]
    >>> out = edit(SeeAnotherYou(), src[None].float() / 255, code[None])
    >>> tuple(out["stage2"].shape), bool(out["stage2"].min() >= 0)
    ((1, 1, 32, 32), True)
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import Dataset

from facekit.data.pairs import PairDataset, accessory_pairs, occluded_eyes_pairs, pose_pairs
from facekit.data.synthfaces import MULTIPIE_YAWS, N_LIGHTS
from facekit.losses import completion_loss, generation_loss
from facekit.nn.see_another_you import MIDDLE_LAYER, SeeAnotherYou, check_codes

__all__ = [
    "PAPER",
    "TASKS",
    "PAPER_TABLE1",
    "PAPER_TABLE2",
    "PAPER_TABLE3",
    "standardize",
    "destandardize",
    "pose_code",
    "TaskData",
    "task_data",
    "multipie_task_data",
    "caspeal_task_data",
    "train_stage1",
    "train_stage2",
    "train",
    "edit",
    "mse_255",
    "stage_errors",
    "save_pretrained",
    "load_pretrained",
    "weights_name",
]

PAPER: Dict[str, Any] = {
    "size": 32,
    "channels": 1,
    "kernel_size": 3,
    "lr": 1e-5,  # on the per-image sum of squared errors (eq. 1), see the module docstring
    "momentum": 0.95,
    "batch_size": 32,
    "train_subjects_multipie": 100,
    "train_subjects_caspeal": 350,
    "test_subjects_caspeal": 88,
    "queries": 10000,
    "ks": (1, 5, 20),
}
"""The paper's settings (sections 3.4, 4.1, 4.2): image size, grey, filters, SGD, subjects, queries, K."""

TASKS: Tuple[str, ...] = ("pose", "accessory", "completion")
"""The three tasks of section 4, in the paper's order."""

PAPER_TABLE1: Dict[str, float] = {"stage1": 380.89, "stage2": 369.16}
"""Table 1: mean per-pixel MSE (0-255 grey) of each stage on 10,000 random Multi-PIE test pairs."""

PAPER_TABLE2: Dict[str, Dict[int, float]] = {
    "two_step_image": {1: 0.115, 5: 0.259, 20: 0.432},
    "two_step_net2": {1: 0.164, 5: 0.330, 20: 0.507},
    "two_step_vgg16": {1: 0.217, 5: 0.381, 20: 0.535},
    "two_step_deep": {1: 0.569, 5: 0.780, 20: 0.902},
    "yim_cpi": {1: 0.610, 5: 0.795, 20: 0.908},
    "ours_image": {1: 0.390, 5: 0.615, 20: 0.754},
    "ours_net2": {1: 0.535, 5: 0.805, 20: 0.907},
}
"""Table 2 (criterion 1: identity and pose), recall@1/5/20 as fractions."""

PAPER_TABLE3: Dict[str, Dict[int, float]] = {
    "two_step_image": {1: 0.063, 5: 0.156, 20: 0.253},
    "two_step_net2": {1: 0.095, 5: 0.215, 20: 0.327},
    "yim_cpi": {1: 0.148, 5: 0.397, 20: 0.637},
    "ours_image": {1: 0.295, 5: 0.528, 20: 0.663},
    "ours_net2": {1: 0.432, 5: 0.741, 20: 0.860},
}
"""Table 3 (criterion 2: identity, pose and illumination), recall@1/5/20 as fractions."""

WEIGHTS_DIR: Path = Path(__file__).resolve().parent.parent / "weights"


def weights_name(task: str) -> str:
    """The :mod:`facekit.hub` name of a task's shipped networks: ``"see_another_you_<task>"``."""
    _check_task(task)
    return f"see_another_you_{task}"


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; the paper's tasks are {', '.join(TASKS)}")


# The losses: eq. (1)-(2) and section 4.3 live in facekit.losses.see_another_you; we train on their per-pixel mean.
_LOSS_OF_TASK: Dict[str, Callable[..., Tensor]] = {"pose": generation_loss, "accessory": generation_loss,
                                                  "completion": completion_loss}


# ================================================================================================================
# Section 3.4: preprocessing
# ================================================================================================================
def standardize(x: Tensor, eps: float = 1e-4) -> Tuple[Tensor, Tensor, Tensor]:
    """Per-image (per-channel) standardisation of section 3.4: subtract the mean, divide by the std.

    Args:
        x: ``(B, C, H, W)`` float images (any range).
        eps: added to the std (a flat image would divide by zero).

    Returns:
        ``(z, mean, std)`` with ``mean`` and ``std`` of shape ``(B, C, 1, 1)``.
    """
    if not isinstance(x, Tensor) or x.ndim != 4 or not x.is_floating_point():
        raise ValueError(f"standardize expects a float (B, C, H, W) tensor; got "
                         f"{getattr(x, 'dtype', type(x).__name__)} {tuple(getattr(x, 'shape', ()))}")
    mean = x.mean(dim=(2, 3), keepdim=True)
    std = x.std(dim=(2, 3), keepdim=True, unbiased=False) + eps
    return (x - mean) / std, mean, std


def destandardize(z: Tensor, mean: Tensor, std: Tensor) -> Tensor:
    """Inverse of :func:`standardize`: ``z * std + mean`` (pass the **source's** statistics, see the module doc)."""
    return z * std + mean


def _as_unit(images: Tensor, name: str = "images") -> Tensor:
    """uint8 -> float / 255; float must lie in [0, 1]."""
    if not isinstance(images, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor (B, C, H, W); got {type(images).__name__}")
    if images.dtype == torch.uint8:
        return images.float() / 255.0
    if not images.is_floating_point():
        raise TypeError(f"{name} must be uint8 (0-255) or float in [0, 1]; got {images.dtype}")
    if images.numel() == 0:
        raise ValueError(f"{name} is empty ({tuple(images.shape)}); pass at least one image (B, C, H, W)")
    bad = int((~images.isfinite()).sum())
    if bad:
        raise ValueError(f"{name} hold {bad} NaN or inf pixel value(s): a single one makes the whole output image "
                         "NaN (the standardisation of eq. (1) uses every pixel); fix or drop those images")
    lo, hi = float(images.min()), float(images.max())
    if lo < -1e-4 or hi > 1 + 1e-4:
        raise ValueError(f"{name} must lie in [0, 1] (float) or be uint8; got values in [{lo:.3g}, {hi:.3g}]")
    return images.float()


def _prepare(source: Tensor, target: Tensor, target_stats: str) -> Tuple[Tensor, Tensor]:
    x, mean, std = standardize(_as_unit(source, "source"))
    t = _as_unit(target, "target")
    if target_stats == "source":
        y = (t - mean) / std  # the target in the source's units: de-normalising by the source inverts it exactly
    elif target_stats == "own":
        y = standardize(t)[0]  # the authors' release
    else:
        raise ValueError(f"target_stats must be 'source' or 'own'; got {target_stats!r}")
    return x, y


def pose_code(yaw: float, yaws: Sequence[float] = MULTIPIE_YAWS) -> int:
    """The one-hot index of a yaw (degrees) among the 7 poses; an unknown pose is an error.

    Example:
        >>> pose_code(-45), pose_code(15)
        (0, 4)
    """
    for i, y in enumerate(yaws):
        if abs(float(yaw) - float(y)) < 1e-6:
            return i
    raise ValueError(f"unknown pose {yaw!r}: the poses are {', '.join(f'{y:g}' for y in yaws)} degrees")


def _one_hot(codes: Tensor, n: int) -> Tensor:
    """``(B,)`` integer indices or ``(B, n)`` one-hot rows -> ``(B, n)`` float one-hot rows (checked)."""
    codes = torch.as_tensor(codes)
    if codes.is_floating_point() and codes.ndim == 2:
        if codes.shape[1] != n:
            raise ValueError(f"one-hot codes must have {n} columns; got {tuple(codes.shape)}")
        check_codes(codes.float(), n, codes.shape[0])  # finite, >= 0, each row summing to 1
        return codes.float()
    if codes.is_floating_point():
        if not bool(codes.isfinite().all()) or not bool((codes == codes.round()).all()):
            odd = codes[~codes.isfinite() | (codes != codes.round())].reshape(-1)[:4].tolist()
            raise ValueError(f"codes must be whole attribute indices (0..{n - 1}); got {odd}: pass integers "
                             f"(a LongTensor) or one-hot rows (B, {n}), not fractions (they are not rounded)")
    codes = codes.long().reshape(-1)
    if len(codes) and (int(codes.min()) < 0 or int(codes.max()) >= n):
        raise ValueError(f"codes must lie in 0..{n - 1}; got {codes.tolist()[:8]}")
    return F.one_hot(codes, n).float()


# ================================================================================================================
# Section 4: the three tasks' data
# ================================================================================================================
@dataclass
class TaskData(Dataset):
    """Image pairs of one task, every distinct image stored once (uint8), what :class:`facekit.train.Trainer` batches.

    Attributes:
        task: ``"pose"``, ``"accessory"`` or ``"completion"``.
        images: ``(N, C, S, S)`` uint8, every image once (an occluded source is its own image).
        source, target: ``(P,)`` int64 indices into ``images``.
        target_code: ``(P,)`` int64, index of the target attribute in ``code_names``.
        code_names: the names of the one-hot entries (``"yaw-45"`` ..., the accessory states, ...).
        labels: per image, ``(N,)`` int64: ``identity``, ``code`` (its own attribute: pose or state), ``light``.

    Items: ``(source uint8 (C, S, S), target uint8 (C, S, S), target code float one-hot (K,))``.
    """

    task: str
    images: Tensor
    source: Tensor
    target: Tensor
    target_code: Tensor
    code_names: Tuple[str, ...]
    labels: Dict[str, Tensor] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, i: int) -> Tuple[Tensor, Tensor, Tensor]:
        code = torch.zeros(len(self.code_names))
        code[int(self.target_code[i])] = 1.0
        return self.images[self.source[i]], self.images[self.target[i]], code

    @property
    def n_codes(self) -> int:
        return len(self.code_names)

    @property
    def source_code(self) -> Tensor:
        """``(P,)`` the source images' own attribute."""
        return self.labels["code"][self.source]

    def subset(self, pairs: Sequence[int]) -> "TaskData":
        """The same images with only the given pairs."""
        idx = torch.as_tensor(list(pairs), dtype=torch.long)
        return TaskData(self.task, self.images, self.source[idx], self.target[idx], self.target_code[idx],
                        self.code_names, self.labels)

    def __repr__(self) -> str:
        ids = len(set(self.labels["identity"].tolist())) if "identity" in self.labels else "?"
        return (f"TaskData({self.task!r}, pairs={len(self)}, images={len(self.images)}, identities={ids}, "
                f"size={tuple(self.images.shape[1:])}, codes={list(self.code_names)})")


def _from_pairs(task: str, pairs: PairDataset, progress: bool = False) -> TaskData:
    keys: "OrderedDict[Tuple[Any, bool], int]" = OrderedDict()
    own_code: Dict[Tuple[Any, bool], int] = {}
    src, tgt, codes = [], [], []
    occluded = pairs.source_fn is not None
    for s, t, cs, ct in pairs.pairs:
        ks, kt = (s, occluded), (t, False)
        for key, c in ((ks, cs), (kt, ct)):
            if key not in keys:
                keys[key] = len(keys)
                own_code[key] = c
        src.append(keys[ks])
        tgt.append(keys[kt])
        codes.append(ct)
    from facekit.data._common import image_to_tensor

    items: Iterable = keys
    if progress:
        from tqdm.auto import tqdm

        items = tqdm(keys, desc=f"render {task} images")
    images = torch.stack([image_to_tensor(pairs.image(spec, is_src), pairs.grayscale).mul(255).round_()
                          .to(torch.uint8) for spec, is_src in items])
    labels = {
        "identity": torch.tensor([k[0].identity for k in keys], dtype=torch.long),
        "code": torch.tensor([own_code[k] for k in keys], dtype=torch.long),
        "light": torch.tensor([k[0].light for k in keys], dtype=torch.long),
    }
    return TaskData(task, images, torch.tensor(src), torch.tensor(tgt), torch.tensor(codes),
                    tuple(pairs.code_names), labels)


def task_data(task: str, split: str = "train", *, n_identities: int = 250, identities: Optional[Sequence[int]] = None,
              lights: Optional[Sequence[int]] = None, size: int = PAPER["size"], grayscale: bool = True,
              seed: int = 0, progress: bool = False) -> TaskData:
    """A task's pairs on SynthFaces (exact ground truth), built by :mod:`facekit.data.pairs` and rendered once.

    Args:
        task: ``"pose"`` (:func:`~facekit.data.pairs.pose_pairs`: 7 yaws, every ordered pair, same person and
            light), ``"accessory"`` (:func:`~facekit.data.pairs.accessory_pairs`: 7 states, every ordered pair) or
            ``"completion"`` (:func:`~facekit.data.pairs.occluded_eyes_pairs`: a black bar over the eyes).
        split: ``"train"``, ``"val"`` or ``"test"`` identities of SynthFaces (disjoint; see
            :func:`~facekit.data.synth_dataset.split_identities`), unless ``identities`` is given.
        n_identities: identities of the whole SynthFaces split (80 % train, 10 % val, 10 % test).
        lights: the illuminations (pose and completion; default all 20). The accessory task uses light 0
            (CAS-PEAL's accessory subset has the normal light).
        size, grayscale: image format (the paper: 32, grey).
        seed: seed of the identity split.
        progress: a progress bar while rendering.

    Returns:
        a :class:`TaskData`.
    """
    _check_task(task)
    if split not in ("train", "val", "test"):
        raise ValueError(f"split must be 'train', 'val' or 'test' (SynthFaces' disjoint identities); got {split!r}")
    lights = list(range(N_LIGHTS)) if lights is None else [int(v) for v in lights]
    if not lights:
        raise ValueError(f"lights must name at least one illumination (0..{N_LIGHTS - 1}) or be None (all); got []")
    common = dict(n_identities=n_identities, identities=identities, size=size, grayscale=grayscale, seed=seed,
                  cache=True)
    if task == "pose":
        pairs = pose_pairs(split, lights=lights, **common)
    elif task == "accessory":
        pairs = accessory_pairs(split, **common)
    else:
        pairs = occluded_eyes_pairs(split, lights=lights, **common)
    return _from_pairs(task, pairs, progress)


def _real_task_data(task: str, ds: Any, pairs: Sequence[Tuple[int, int]], code_of: Callable[[Any], int],
                    light_of: Callable[[Any], int], code_names: Sequence[str]) -> TaskData:
    used = sorted({i for p in pairs for i in p})
    where = {j: k for k, j in enumerate(used)}
    images = torch.stack([ds[j]["image"].mul(255).round_().to(torch.uint8) for j in used])
    records = [ds.records[j] for j in used]
    labels = {"identity": torch.tensor([r.subject for r in records], dtype=torch.long),
              "code": torch.tensor([code_of(r) for r in records], dtype=torch.long),
              "light": torch.tensor([light_of(r) for r in records], dtype=torch.long)}
    src = torch.tensor([where[i] for i, _ in pairs], dtype=torch.long)
    tgt = torch.tensor([where[j] for _, j in pairs], dtype=torch.long)
    return TaskData(task, images, src, tgt, labels["code"][tgt], tuple(code_names), labels)


def _split_subjects(subjects: List[int], split: str, n_train: int, n_test: Optional[int], what: str) -> List[int]:
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test'; got {split!r}")
    chosen = subjects[:n_train] if split == "train" else subjects[n_train:]
    if split == "test" and n_test is not None:
        chosen = chosen[:n_test]
    if not chosen:
        raise ValueError(f"no {split} subject in this {what} copy: it has {len(subjects)} subjects and the first "
                         f"{n_train} are for training")
    return chosen


def multipie_task_data(root: Any = None, split: str = "train", *,
                       n_train_subjects: int = PAPER["train_subjects_multipie"], size: int = PAPER["size"],
                       center_crop: Optional[int] = None) -> TaskData:
    """The pose task on Multi-PIE (section 4.1): session 1, neutral, the 7 cameras -45..+45, 20 illuminations.

    The first ``n_train_subjects`` subjects (sorted by id) train, the others test. Images are read grey and resized
    to ``size`` (the paper aligned them on the eyes and chin first; pass pre-aligned crops, named as Multi-PIE
    names its files, or use ``center_crop``).

    Raises:
        facekit.data.DatasetNotFoundError: ``root`` is missing or holds no Multi-PIE image (the message says how to
            request the data).
    """
    from facekit.data.multipie import MULTIPIE_POSES_7, MultiPIE, multipie_pose_pairs

    ds = MultiPIE(root, sessions=[1], recordings=[1], cameras=MULTIPIE_POSES_7, size=size, grayscale=True,
                  center_crop=center_crop)
    keep = set(_split_subjects(ds.subjects, split, n_train_subjects, None, "Multi-PIE"))
    ds.records, ds.paths = (list(t) for t in zip(*[(r, p) for r, p in zip(ds.records, ds.paths) if r.subject in keep]))
    pairs = multipie_pose_pairs(ds.records)
    names = [f"yaw{y:+.0f}" if y else "yaw0" for y in MULTIPIE_YAWS]
    return _real_task_data("pose", ds, pairs, lambda r: MULTIPIE_POSES_7.index(r.camera), lambda r: r.illumination,
                           names)


def caspeal_task_data(root: Any = None, split: str = "train", *,
                      n_train_subjects: int = PAPER["train_subjects_caspeal"],
                      n_test_subjects: int = PAPER["test_subjects_caspeal"], size: int = PAPER["size"],
                      center_crop: Optional[int] = None) -> TaskData:
    """The accessory task on CAS-PEAL-R1 (section 4.2): frontal, 7 accessory states, every ordered pair.

    The first 350 subjects (sorted by id) train and the next 88 test, as the paper.

    Raises:
        facekit.data.DatasetNotFoundError: ``root`` is missing or holds no CAS-PEAL-R1 image.
    """
    from facekit.data.caspeal import CASPEAL, CASPEAL_ACCESSORIES

    ds = CASPEAL(root, poses=["M+00"], size=size, grayscale=True, center_crop=center_crop)
    keep = set(_split_subjects(sorted({r.subject for r in ds.records}), split, n_train_subjects, n_test_subjects,
                               "CAS-PEAL-R1"))
    ds.records, ds.paths = (list(t) for t in zip(*[(r, p) for r, p in zip(ds.records, ds.paths) if r.subject in keep]))
    pairs = ds.accessory_pairs()
    return _real_task_data("accessory", ds, pairs, lambda r: r.accessory, lambda r: 0, CASPEAL_ACCESSORIES)


# ================================================================================================================
# Section 3.4: training, both stages successively, through facekit.train.Trainer
# ================================================================================================================
class _ClippedSGD(torch.optim.SGD):
    """SGD that first rescales the gradients to a global norm of at most ``max_norm`` (``None``: plain SGD).

    Its state dict is SGD's, so checkpoints are the same with or without clipping."""

    def __init__(self, params: Iterable[nn.Parameter], max_norm: Optional[float] = None, **kwargs: Any) -> None:
        super().__init__(params, **kwargs)
        self.max_norm = max_norm

    @torch.no_grad()
    def step(self, closure: Optional[Callable[[], float]] = None) -> Optional[float]:  # type: ignore[override]
        if self.max_norm is not None:
            nn.utils.clip_grad_norm_([p for g in self.param_groups for p in g["params"]], self.max_norm)
        return super().step(closure)


def _sgd(params: Iterable[nn.Parameter], lr: float, momentum: float, shape: Sequence[int],
         max_grad_norm: Optional[float]) -> torch.optim.SGD:
    if max_grad_norm is not None and not max_grad_norm > 0:
        raise ValueError(f"max_grad_norm must be a positive number or None; got {max_grad_norm}")
    if not (isinstance(lr, (int, float)) and np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive finite number (the paper's {PAPER['lr']:g}, per image sum); got {lr!r}")
    if not (isinstance(momentum, (int, float)) and 0 <= momentum < 1):
        raise ValueError(f"momentum must lie in [0, 1) (the paper's {PAPER['momentum']}); got {momentum!r}")
    pixels = int(np.prod(shape))  # C * H * W: the per-pixel mean is the image sum / pixels
    return _ClippedSGD(params, max_grad_norm, lr=lr * pixels, momentum=momentum)


def _autocast(amp: bool, device: torch.device):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp)


def _fit_stage(stage: int, model: SeeAnotherYou, data: TaskData, *, steps: int, batch_size: int, lr: float,
               momentum: float, target_stats: str, seed: int, device: Any, amp: bool,
               max_grad_norm: Optional[float], checkpoint_dir: Optional[Union[str, Path]], checkpoint_every: int,
               progress: bool) -> Any:
    """One stage of section 3.4 through :class:`facekit.train.Trainer` (see :func:`train_stage1`)."""
    from facekit.config import get_device
    from facekit.train import Trainer

    device = torch.device(device) if device is not None else get_device()
    loss_fn = _LOSS_OF_TASK[data.task]
    G, R = model.generator, model.refiner
    name, net = ("generator", G) if stage == 1 else ("refiner", R)
    if stage == 2:  # the frozen stage 1
        G.to(device).eval().requires_grad_(False)
    if amp:
        G.to(memory_format=torch.channels_last)
        net.to(memory_format=torch.channels_last)

    def step(trainer: Any, batch: Any) -> Dict[str, float]:
        source, target, code = batch
        x, y = _prepare(source, target, target_stats)
        if amp:
            x = x.contiguous(memory_format=torch.channels_last)
        with _autocast(amp, device):
            if stage == 1:
                pred = trainer.models[name](x, code)  # F_1(X, C_Y)
            else:
                with torch.no_grad():
                    y1 = G(x, code)  # recomputed per batch by the frozen stage 1
                pred = trainer.models[name](x, y1.float())  # F_2(X, Y1_hat)
        return trainer.update(name, {"loss": loss_fn(pred.float(), y, normalized=True)})  # eq. (1) / eq. (2)

    opt = _sgd(net.parameters(), lr, momentum, data.images.shape[1:], max_grad_norm)
    trainer = Trainer({name: net}, {name: opt}, step, data=data, batch_size=batch_size, seed=seed, device=device,
                      checkpoint_dir=None if checkpoint_dir is None else Path(checkpoint_dir) / f"stage{stage}",
                      checkpoint_every=checkpoint_every, progress=progress, desc=f"{data.task} stage {stage}")
    try:
        history = trainer.fit(steps)
    finally:
        G.requires_grad_(True)
    net.eval()
    return history


def train_stage1(model: SeeAnotherYou, data: TaskData, *, steps: int, batch_size: int = PAPER["batch_size"],
                 lr: float = PAPER["lr"], momentum: float = PAPER["momentum"], target_stats: str = "source",
                 seed: int = 0, device: Any = None, amp: bool = False, max_grad_norm: Optional[float] = None,
                 checkpoint_dir: Optional[Union[str, Path]] = None, checkpoint_every: int = 100,
                 progress: bool = True) -> Any:
    """Train the generation network (eq. (1); MAE for completion) and return the :class:`~facekit.train.History`.

    Args:
        model: the two-stage network; only ``model.generator`` is trained.
        data: the task's training pairs.
        steps, batch_size: SGD steps of ``batch_size`` pairs (the paper: batch 32).
        lr, momentum: the paper's 1e-5 (on the per-image sum, see the module docstring) and 0.95.
        target_stats: ``"source"`` or ``"own"`` (see the module docstring).
        seed: the data order and, for a fresh run, every random generator.
        device: where to train (default :func:`facekit.config.get_device`).
        amp: bfloat16 autocast and channels-last (faster on CPUs with bf16 units: the speed and the loss against fp32
            are measured in scripts/train_see_another_you.py); losses in fp32.
        max_grad_norm: rescale each step's gradients to at most this global norm (``None``: the paper's plain SGD).
            At the paper's learning rate, a refinement network started on an early stage 1 can diverge within a few
            dozen steps (the trainer then stops with ``TrainingDiverged``); a norm of 10 keeps it stable.
        checkpoint_dir, checkpoint_every, progress: see :class:`facekit.train.Trainer` (checkpoints go to
            ``checkpoint_dir/stage1``; re-running resumes).

    Returns:
        the history; ``history.terms["loss"]`` is the per-pixel loss of every step (standardised units).
    """
    return _fit_stage(1, model, data, steps=steps, batch_size=batch_size, lr=lr, momentum=momentum,
                      target_stats=target_stats, seed=seed, device=device, amp=amp, max_grad_norm=max_grad_norm,
                      checkpoint_dir=checkpoint_dir, checkpoint_every=checkpoint_every, progress=progress)


def train_stage2(model: SeeAnotherYou, data: TaskData, *, steps: int, batch_size: int = PAPER["batch_size"],
                 lr: float = PAPER["lr"], momentum: float = PAPER["momentum"], target_stats: str = "source",
                 seed: int = 0, device: Any = None, amp: bool = False, max_grad_norm: Optional[float] = None,
                 checkpoint_dir: Optional[Union[str, Path]] = None, checkpoint_every: int = 100,
                 progress: bool = True) -> Any:
    """Train the refinement network (eq. (2)) on the outputs of the **frozen** generation network.

    The stage-1 output of every batch is recomputed (no gradient) with the generator in eval mode. Arguments as
    :func:`train_stage1` (checkpoints in ``checkpoint_dir/stage2``); only ``model.refiner`` is trained.
    """
    return _fit_stage(2, model, data, steps=steps, batch_size=batch_size, lr=lr, momentum=momentum,
                      target_stats=target_stats, seed=seed, device=device, amp=amp, max_grad_norm=max_grad_norm,
                      checkpoint_dir=checkpoint_dir, checkpoint_every=checkpoint_every, progress=progress)


def train(model: SeeAnotherYou, data: TaskData, *, steps1: int, steps2: int, **kwargs: Any) -> Tuple[Any, Any]:
    """Section 3.4: the generation network for ``steps1`` steps, then the refinement network on its frozen outputs
    for ``steps2`` steps. ``kwargs`` go to both (see :func:`train_stage1`). Returns both histories."""
    h1 = train_stage1(model, data, steps=steps1, **kwargs)
    h2 = train_stage2(model, data, steps=steps2, **kwargs)
    return h1, h2


# ================================================================================================================
# Section 4.1.1: generation and its error
# ================================================================================================================
def _device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def _stages(model: SeeAnotherYou, x: Tensor, code: Tensor, amp: bool, pool: int = 0
            ) -> Tuple[Tensor, Tensor, Optional[Tensor]]:
    """Both stages on standardised ``x``: ``(y1, y2, middle-layer features or None)``, float32."""
    device = x.device
    if amp:
        x = x.contiguous(memory_format=torch.channels_last)
    with _autocast(amp, device):
        y1 = model.generator(x, code)
        if not pool:
            return y1.float(), model.refiner(x, y1).float(), None
        f = model.refiner.features(x, y1, [MIDDLE_LAYER, "conv8"])
    mid = F.avg_pool2d(f[MIDDLE_LAYER].float(), pool) if pool > 1 else f[MIDDLE_LAYER].float()
    return y1.float(), f["conv8"].float(), mid.flatten(1)


@torch.no_grad()
def edit(model: SeeAnotherYou, images: Tensor, codes: Tensor, *, batch_size: int = 256,
         amp: bool = False) -> Dict[str, Tensor]:
    """Change the attribute of faces with both stages; outputs de-normalised with each **source's** statistics.

    Args:
        model: the two-stage network.
        images: ``(B, C, S, S)``, uint8 or float in [0, 1].
        codes: ``(B,)`` target attribute indices, or ``(B, K)`` one-hot.
        batch_size: images per forward pass.
        amp: bfloat16 autocast (faster on CPUs with bf16 units; outputs differ from fp32 by a few grey levels,
            see tests/test_see_another_you.py).

    Returns:
        ``{"stage1": (B, C, S, S), "stage2": (B, C, S, S)}`` in [0, 1] (clamped), on the CPU.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int (images per forward pass); got {batch_size!r}")
    images = _as_unit(images)
    onehot = _one_hot(codes, model.generator.n_codes)
    if len(onehot) != len(images):
        raise ValueError(f"one code per image: got {len(images)} images and {len(onehot)} codes")
    was = model.training
    model.eval()
    device = _device_of(model)
    out: Dict[str, List[Tensor]] = {"stage1": [], "stage2": []}
    for xs, cs in zip(images.split(batch_size), onehot.split(batch_size)):
        x, mean, std = standardize(xs.to(device))
        y1, y2, _ = _stages(model, x, cs.to(device), amp)
        out["stage1"].append(destandardize(y1, mean, std).clamp(0, 1).cpu())
        out["stage2"].append(destandardize(y2, mean, std).clamp(0, 1).cpu())
    model.train(was)
    return {k: torch.cat(v) for k, v in out.items()}


def mse_255(pred: Tensor, target: Tensor) -> float:
    """Mean per-pixel squared error in 0-255 grey units (Table 1), from images in [0, 1], by
    :func:`facekit.eval.mse` (grey images are repeated over 3 channels, which leaves the mean unchanged)."""
    from facekit.eval import mse

    rgb = [t.expand(-1, 3, -1, -1) if t.shape[1] == 1 else t for t in (pred, target)]
    return float(mse(rgb[0].clamp(0, 1), rgb[1])) * 255.0 ** 2


def stage_errors(model: SeeAnotherYou, data: TaskData, *, n: Optional[int] = None, seed: int = 0,
                 amp: bool = False) -> Dict[str, Any]:
    """Table 1: per-pixel MSE (0-255 grey) of each stage's output against the ground truth, on test pairs.

    Args:
        model: the two-stage network.
        data: test pairs.
        n: a random subset of this many pairs (the paper: 10,000); ``None``: all.
        seed: the subset's seed.
        amp: bfloat16 autocast (see :func:`edit`).

    Returns:
        ``{"stage1", "stage2"`` (floats), ``"n"``, ``"pairs"`` (the indices used), ``"outputs"`` (the dict of
        :func:`edit`)``}``.
    """
    if n is not None and (isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1):
        raise ValueError(f"n must be a positive number of pairs (the paper: 10000) or None (all); got {n!r}")
    idx = torch.arange(len(data))
    if n is not None and n < len(data):
        idx = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:n]
    src, tgt = data.images[data.source[idx]], data.images[data.target[idx]]
    out = edit(model, src, data.target_code[idx], amp=amp)
    truth = tgt.float() / 255
    return {"stage1": mse_255(out["stage1"], truth), "stage2": mse_255(out["stage2"], truth), "n": len(idx),
            "pairs": idx, "outputs": out}


# ================================================================================================================
# The shipped checkpoints
# ================================================================================================================
def save_pretrained(model: SeeAnotherYou, task: str, path: Optional[Union[str, Path]] = None, *,
                    meta: Optional[Mapping[str, Any]] = None, half: bool = True) -> Path:
    """Write ``{"state_dict" (float16), "config"}`` (:func:`facekit.hub.save`) and ``meta`` as JSON beside it.

    Args:
        model: both stages.
        task: which task it was trained on (names the default file ``facekit/weights/see_another_you_<task>.pt``).
        path: another file.
        meta: the training record (command, wall time, figures), written to ``<path>.json``.
        half: store floating-point tensors in float16.
    """
    from facekit import hub

    return hub.save(model, path if path is not None else WEIGHTS_DIR / f"{weights_name(task)}.pt", meta=meta,
                    half=half)


def load_pretrained(task: str, path: Optional[Union[str, Path]] = None, *, device: Any = None) -> SeeAnotherYou:
    """The shipped networks of a task (both stages), checked against their registered SHA-256, in eval mode.

    Args:
        task: ``"pose"``, ``"accessory"`` or ``"completion"``.
        path: another file written by :func:`save_pretrained` (its hash is not checked).
        device: where to put it.

    Returns:
        a :class:`~facekit.nn.SeeAnotherYou` with ``meta`` (the training record) when the JSON is present.

    Raises:
        ValueError: an unknown task.
        facekit.hub.WeightsNotFoundError, facekit.hub.WeightsHashError: the file is absent or not the registered one.
    """
    from facekit import hub

    name = weights_name(task)
    model = hub.pretrained(name, path, check_hash=path is None, device=device)
    model.requires_grad_(True)  # hub freezes; let users fine-tune
    file = hub.find(name, path)
    meta_file = file.with_suffix(".json")
    model.meta = json.loads(meta_file.read_text()) if meta_file.is_file() else {}  # type: ignore[assignment]
    return model.eval()
