"""The shared training loop of facekit: one place for every method that trains a network.

Every trained method of the course (the eye-to-face autoencoder and its conditional WGAN-GP critic, the DIAT
transform network and its discriminator, the see-another-you encoder-decoder) runs through :class:`Trainer`. The
method supplies a *step function*; the trainer does the rest:

* it fetches the batch of each step (deterministically, see below) and moves it to the device;
* it runs ``step_fn(trainer, batch)``, which calls :meth:`Trainer.update` once or more (e.g. ``n_critic`` critic
  updates, then one generator update) and returns the named loss terms to log;
* it checks that every loss term is finite *before* it is back-propagated, every gradient before the optimiser
  steps, and the weights after it, so a NaN or inf stops training with a :class:`TrainingDiverged` that names the
  step and the term; no checkpoint is ever written with non-finite weights or buffers, so the one on disk stays the
  last good one (and, after a divergence, :meth:`Trainer.fit` goes on from it, not from half-updated weights);
* it keeps a :class:`History` of every term at every step and of every evaluation (``eval_fn`` every
  ``eval_every`` steps), shows a ``tqdm.auto`` progress bar with the latest terms, and saves a checkpoint every
  ``checkpoint_every`` steps and at the end.

**Exact resume.** A checkpoint holds every model's, optimiser's and scheduler's state, the step, the history, the
trainer's seed and the random-number states (Python ``random``, NumPy, torch CPU and CUDA). A run interrupted and
resumed from its checkpoint ends with *the same weights, bit for bit,* as a run that was never interrupted. That
needs one more thing: the batch of step ``s`` must not depend on how the run got to step ``s``. A ``DataLoader``
with ``shuffle=True`` draws its order from the global generator as it goes, so after a resume it would replay
other batches. Here the data order is a pure function of ``(seed, step)``: for a map-style dataset, epoch
``e = step // steps_per_epoch`` is the permutation ``torch.randperm(len(data), generator=Generator().manual_seed(
seed * 1_000_003 + e))`` cut into batches (the last incomplete batch is dropped); a callable ``data`` is simply
called as ``data(step)``. Randomness *inside* the step (dropout, augmentation, the random interpolation of a
gradient penalty) comes from the global generators, whose states the checkpoint restores. The evaluation hook
runs on a copy of those states, so turning evaluation on or off does not change the trained weights.
Bit-for-bit equality holds on the CPU; on a GPU it also needs deterministic kernels
(``torch.use_deterministic_algorithms(True)``, ``torch.backends.cudnn.benchmark = False``), otherwise a resumed
run differs from an uninterrupted one only by floating-point noise.

**Step numbering.** Inside ``step_fn``, ``trainer.step`` is the number of steps completed before this one (0 for
the first step) and is the index passed to :meth:`Trainer.batch`. The history, the checkpoints (``step_000120.pt``
holds the state after 120 steps), the evaluation records and :class:`TrainingDiverged` number a step by the count
of completed steps after it (the first step is step 1).

The device comes from :func:`facekit.config.get_device` unless given; a fresh run (step 0) seeds every generator
with :func:`facekit.config.seed_everything` so that the run is a function of the seed and the initial weights. The
number of steps is the caller's choice; chapters take it from :func:`facekit.config.by_profile`.

Example:
    >>> import torch
    >>> from torch import nn
    >>> from facekit.train import Trainer
    >>> _ = torch.manual_seed(0)
    >>> net = nn.Linear(2, 1)
    >>> opt = torch.optim.SGD(net.parameters(), lr=0.1)
    >>> xs = torch.randn(32, 2)
    >>> data = torch.utils.data.TensorDataset(xs, xs.sum(1, keepdim=True))
    >>> def step_fn(trainer, batch):
    ...     x, y = batch
    ...     mse = (trainer.models["net"](x) - y).pow(2).mean()
    ...     return trainer.update("net", {"mse": mse})
    >>> trainer = Trainer({"net": net}, {"net": opt}, step_fn, data=data, batch_size=8, device="cpu", progress=False)
    >>> history = trainer.fit(40)
    >>> trainer.step, len(history)
    (40, 40)
    >>> history.last()["mse"] < 0.01
    True
"""

from __future__ import annotations

import math
import random
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Union

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset, IterableDataset, default_collate

from facekit import distributed as fdist
from facekit.checkpoints import (
    CHECKPOINT_FORMAT,
    CheckpointError,
    _atomic_save,
    _check_state_dict,
    _non_finite,
    _read_checkpoint,
    _rng_state,
    _set_rng_state,
    apply_hparams,
    load_weights,
    optimizer_hparams,
    save_weights,
)
from facekit.config import get_device, seed_everything

__all__ = [
    "CHECKPOINT_FORMAT",
    "CheckpointError",
    "History",
    "Trainer",
    "TrainingDiverged",
    "load_weights",
    "save_weights",
]


_CKPT_RE = re.compile(r"^step_(\d+)\.pt$")
_EPOCH_SEED_MULTIPLIER = 1_000_003
_RANK_SEED_STRIDE = 7_919  # rank r of a torchrun run seeds its in-step randomness with seed + r * 7919


# ----------------------------------------------------------------------------------------------------------------
# errors
# ----------------------------------------------------------------------------------------------------------------


class TrainingDiverged(RuntimeError):
    """A loss term, a gradient or, after an optimiser step, a weight became NaN or inf; training stopped.

    A non-finite loss term or gradient is caught before the optimiser steps, so that optimiser's weights are as
    they were; other optimisers may already have stepped in the same training step (see :meth:`Trainer.update`).

    Attributes:
        step: the step that diverged, numbered as in the history (the first step is 1).
        term: the name of the loss term (``"total"`` for a weighted sum that overflowed, ``"grad:<optimizer>"`` for
            a non-finite gradient, ``"weights:<optimizer>"`` for weights that the optimiser step made non-finite).
        value: the offending value (``nan``, ``inf`` or ``-inf``).
        checkpoint: the last good checkpoint this trainer saved or loaded, or ``None``.
        checkpoint_step: the step of that checkpoint, or ``None``.
    """

    def __init__(
        self,
        step: int,
        term: str,
        value: float,
        checkpoint: Optional[Path] = None,
        checkpoint_step: Optional[int] = None,
    ) -> None:
        self.step = int(step)
        self.term = str(term)
        self.value = float(value)
        self.checkpoint = None if checkpoint is None else Path(checkpoint)
        self.checkpoint_step = checkpoint_step
        if self.checkpoint is None:
            where = "no checkpoint was saved"
        else:
            where = f"last good checkpoint: {self.checkpoint}"
            if checkpoint_step is not None:
                where += f" (step {checkpoint_step})"
        if self.term.startswith("grad:"):
            what = f"the gradient of optimiser {self.term[5:]!r}"
        elif self.term.startswith("weights:"):
            what = f"a weight updated by optimiser {self.term[8:]!r}"
        else:
            what = f"loss term {self.term!r}"
        super().__init__(f"{what} is {self.value} at step {self.step}; training stopped; {where}")

    def __reduce__(self):  # keep the attributes when pickled (e.g. across processes)
        return (type(self), (self.step, self.term, self.value, self.checkpoint, self.checkpoint_step))


# ----------------------------------------------------------------------------------------------------------------
# history
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class History:
    """Loss terms of every step and the records of every evaluation.

    ``terms[name][i]`` is the value of ``name`` at step ``steps[i]`` (``nan`` where that step did not report the
    term, e.g. a generator loss logged only every few steps). ``evals`` is a list of dicts, each with a ``"step"``.

    Example:
        >>> h = History()
        >>> h.append(1, {"a": 1.0}); h.append(2, {"a": 3.0, "b": 5.0})
        >>> h.last()
        {'a': 3.0, 'b': 5.0}
        >>> h.mean(2)
        {'a': 2.0, 'b': 5.0}
    """

    terms: Dict[str, List[float]] = field(default_factory=dict)
    steps: List[int] = field(default_factory=list)
    evals: List[Dict[str, float]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.steps)

    def append(self, step: int, values: Mapping[str, float]) -> None:
        """Record the terms of one step (terms not seen before are back-filled with ``nan``)."""
        n = len(self.steps)
        for name in values:
            if name not in self.terms:
                self.terms[name] = [math.nan] * n
        for name, column in self.terms.items():
            column.append(float(values[name]) if name in values else math.nan)
        self.steps.append(int(step))

    def mean(self, last: Optional[int] = None) -> Dict[str, float]:
        """Mean of every term over the last ``last`` steps (all steps when ``None``), ignoring ``nan`` gaps."""
        if last is not None and last < 1:
            raise ValueError(f"last must be a positive number of steps, got {last}")
        out: Dict[str, float] = {}
        for name, column in self.terms.items():
            window = column if last is None else column[-last:]
            finite = [v for v in window if not math.isnan(v)]
            if finite:
                out[name] = sum(finite) / len(finite)
        return out

    def last(self, n: int = 1) -> Dict[str, float]:
        """The latest value of every term (``n=1``), or the mean over the last ``n`` steps."""
        return self.mean(n)

    def to_dict(self) -> Dict[str, Any]:
        """Plain Python containers (what the checkpoint stores)."""
        return {
            "terms": {k: list(v) for k, v in self.terms.items()},
            "steps": list(self.steps),
            "evals": [dict(e) for e in self.evals],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "History":
        """Inverse of :meth:`to_dict`."""
        return cls(
            terms={str(k): [float(x) for x in v] for k, v in d.get("terms", {}).items()},
            steps=[int(s) for s in d.get("steps", [])],
            evals=[dict(e) for e in d.get("evals", [])],
        )


# ----------------------------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------------------------


def _to_device(obj: Any, device: torch.device) -> Any:
    """Move tensors, and tensors inside dicts, lists and tuples (named tuples too), to ``device``."""
    if isinstance(obj, Tensor):
        return obj.to(device, non_blocking=True)
    if isinstance(obj, Mapping):
        return {k: _to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # named tuple
        return type(obj)(*(_to_device(v, device) for v in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_device(v, device) for v in obj)
    return obj


def _as_float(value: Any) -> float:
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise ValueError(f"a loss term must be a scalar, got a tensor of shape {tuple(value.shape)}")
        return float(value.detach())
    return float(value)


# ----------------------------------------------------------------------------------------------------------------
# the trainer
# ----------------------------------------------------------------------------------------------------------------

StepFn = Callable[["Trainer", Any], Optional[Mapping[str, Union[float, Tensor]]]]


class Trainer:
    """Train one or more networks with a user step function; checkpoint, resume exactly, stop on NaN.

    Args:
        models: the networks to train (and checkpoint), by name, e.g. ``{"G": gen, "D": critic}``. They are moved
            to ``device`` and put in training mode at the start of :meth:`fit`.
        optimizers: their optimisers, by name (the name :meth:`update` is called with).
        step_fn: ``step_fn(trainer, batch) -> {term: value}``. Does one training step: calls
            :meth:`update` once or more and returns the terms to log (floats or scalar tensors). Returning ``None``
            logs the terms passed to :meth:`update` during the step.
        data: a map-style dataset (anything with ``__len__`` and ``__getitem__``) or a callable ``data(step)`` that
            returns the batch of a step. See :meth:`batch`.
        batch_size: batch size for a map-style dataset.
        seed: seeds the data order and, for a fresh run, every random generator.
        collate_fn: turns a list of samples into a batch (default ``torch.utils.data.default_collate``).
        device: where models and batches live (default :func:`facekit.config.get_device`).
        checkpoint_dir: where checkpoints ``step_000120.pt`` go; ``None``: no checkpoints.
        checkpoint_every: save a checkpoint every this many steps (and at the end of :meth:`fit`).
        keep: how many of the newest checkpoints to keep in ``checkpoint_dir``.
        eval_fn: ``eval_fn(trainer) -> {metric: value}``, called with the models in eval mode and on a copy of the
            random states (so it does not change training); recorded in ``history.evals`` with ``"step"``.
        eval_every: call ``eval_fn`` every this many steps; ``None``: once, at the end of :meth:`fit`.
        schedulers: learning-rate schedulers by name; each is stepped once per training step (after ``step_fn``)
            and checkpointed. Do not step them in ``step_fn`` too.
        progress: show a ``tqdm.auto`` progress bar.
        desc: the progress bar's label.

    Under ``torchrun`` (a process group of N > 1, :func:`facekit.distributed.init_from_env`) the same code trains
    with ``DistributedDataParallel``: ``trainer.models`` are the DDP-wrapped networks (``trainer.modules`` the
    networks themselves), every process takes its ``batch_size / N`` share of the same global batch
    (:func:`facekit.distributed.shard`), logged terms are averaged over the processes, random numbers inside a
    step come from per-rank seeds (rank 0's are those of a single-process run), rank 0 alone writes checkpoints
    (with every rank's random states) and all ranks resume from them. On GPUs BatchNorm layers become
    ``SyncBatchNorm`` (statistics of the global batch); on CPUs (gloo) each process normalises its own share, so a
    network with BatchNorm trains slightly differently from one process (one without matches it to float noise).

    **Changed hyper-parameters on resume** (an optimiser built with another ``lr``, momentum, weight decay, ...):
    the checkpoint's optimiser state is loaded, then the values this trainer's optimisers were built with are
    applied and a ``UserWarning`` names each change (the run goes on with the new values).

    Attributes:
        step: the number of completed steps.
        history: the :class:`History` of this run (restored on resume).
        device: the ``torch.device`` in use.
    """

    def __init__(
        self,
        models: Mapping[str, nn.Module],
        optimizers: Mapping[str, torch.optim.Optimizer],
        step_fn: StepFn,
        *,
        data: Union[Dataset, Callable[[int], Any]],
        batch_size: int = 64,
        seed: int = 0,
        collate_fn: Optional[Callable[[List[Any]], Any]] = None,
        device: Optional[Union[torch.device, str]] = None,
        checkpoint_dir: Optional[Union[str, Path]] = None,
        checkpoint_every: int = 100,
        keep: int = 1,
        eval_fn: Optional[Callable[["Trainer"], Mapping[str, float]]] = None,
        eval_every: Optional[int] = None,
        schedulers: Optional[Mapping[str, Any]] = None,
        progress: bool = True,
        desc: str = "train",
    ) -> None:
        if not models:
            raise ValueError("models must name at least one nn.Module")
        for name, model in models.items():
            if not isinstance(model, nn.Module):
                raise TypeError(f"models[{name!r}] must be an nn.Module, got {type(model).__name__}")
        for name, opt in optimizers.items():
            if not isinstance(opt, torch.optim.Optimizer):
                raise TypeError(f"optimizers[{name!r}] must be a torch.optim.Optimizer, got {type(opt).__name__}")
        if isinstance(data, IterableDataset):
            raise TypeError(
                "an IterableDataset has no index, so its order cannot be replayed on resume; pass a map-style "
                "dataset or a callable data(step) -> batch"
            )
        self._map_style = hasattr(data, "__len__") and hasattr(data, "__getitem__")
        if not self._map_style and not callable(data):
            raise TypeError(
                f"data must be a map-style Dataset or a callable data(step) -> batch, got {type(data).__name__}"
            )
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if self._map_style and len(data) < int(batch_size):  # type: ignore[arg-type]
            raise ValueError(
                f"the dataset has {len(data)} samples, fewer than one batch of {batch_size}"  # type: ignore[arg-type]
                " (the last incomplete batch is dropped)"
            )
        if not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed!r}")
        if int(checkpoint_every) < 1:
            raise ValueError(f"checkpoint_every must be >= 1, got {checkpoint_every}")
        if int(keep) < 1:
            raise ValueError(f"keep must be >= 1, got {keep}")
        if eval_every is not None and int(eval_every) < 1:
            raise ValueError(f"eval_every must be >= 1 or None, got {eval_every}")

        self.world_size, self.rank = fdist.world_size(), fdist.rank()
        if device is None:
            device = fdist.local_device() if self.world_size > 1 and torch.cuda.is_available() else get_device()
        self.device: torch.device = torch.device(device)
        if self.world_size > 1 and self._map_style and int(batch_size) % self.world_size:
            raise ValueError(f"batch_size {batch_size} (the global batch) must be a multiple of the number of "
                             f"processes, {self.world_size}")
        self.modules: Dict[str, nn.Module] = {k: m.to(self.device) for k, m in models.items()}
        self.models: Dict[str, nn.Module] = dict(self.modules)
        if self.world_size > 1:  # PyTorch's DistributedDataParallel: gradients averaged over the processes
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            if self.device.type == "cuda":  # BatchNorm over the whole global batch (SyncBatchNorm is GPU-only)
                self.modules = {k: nn.SyncBatchNorm.convert_sync_batchnorm(m) for k, m in self.modules.items()}
            self.models = {k: (DistributedDataParallel(m, device_ids=ids)
                               if any(p.requires_grad for p in m.parameters()) else m)
                           for k, m in self.modules.items()}
        self.optimizers: Dict[str, torch.optim.Optimizer] = dict(optimizers)
        self._hparams = optimizer_hparams(self.optimizers)  # as built: compared with a checkpoint's on resume
        self.schedulers: Dict[str, Any] = dict(schedulers or {})
        self.step_fn = step_fn
        self.data = data
        self.batch_size = int(batch_size)
        self.seed = seed
        self.collate_fn = collate_fn if collate_fn is not None else default_collate
        self.checkpoint_dir = None if checkpoint_dir is None else Path(checkpoint_dir)
        self.checkpoint_every = int(checkpoint_every)
        self.keep = int(keep)
        self.eval_fn = eval_fn
        self.eval_every = None if eval_every is None else int(eval_every)
        self.progress = progress
        self.desc = desc

        self.step: int = 0
        self.history: History = History()
        self.last_checkpoint: Optional[Path] = None  # the last checkpoint saved or loaded (a good one)
        self._last_checkpoint_step: Optional[int] = None
        self._perm_cache: Optional[tuple[int, Tensor]] = None
        self._step_terms: Dict[str, float] = {}
        self._updates_in_step = 0  # optimiser steps taken in the current training step
        self._diverged_state: Optional[BaseException] = None  # a divergence or interrupt left weights half-updated

    # -- data ------------------------------------------------------------------------------------------------

    @property
    def steps_per_epoch(self) -> Optional[int]:
        """Full batches per pass over a map-style dataset (``None`` for callable data)."""
        if not self._map_style:
            return None
        return len(self.data) // self.batch_size  # type: ignore[arg-type]

    def batch(self, step: int) -> Any:
        """The batch of step ``step`` (0-based: the number of steps completed before it), on the device.

        A pure function of ``(seed, step)``: for a map-style dataset, the samples
        ``randperm(len(data), generator=Generator().manual_seed(seed * 1_000_003 + epoch))[i * B:(i + 1) * B]``
        with ``epoch, i = divmod(step, steps_per_epoch)``, collated; for callable data, ``data(step)``.
        """
        if step < 0:
            raise ValueError(f"step must be >= 0, got {step}")
        if not self._map_style:
            batch = self.data(step)  # type: ignore[operator]
            if self.world_size > 1:  # the global batch of the step, this process's share of it
                batch = fdist.shard(batch, self.rank, self.world_size)
            return _to_device(batch, self.device)
        spe = self.steps_per_epoch
        assert spe is not None
        epoch, i = divmod(int(step), spe)
        if self._perm_cache is None or self._perm_cache[0] != epoch:
            gen = torch.Generator().manual_seed(self.seed * _EPOCH_SEED_MULTIPLIER + epoch)
            self._perm_cache = (epoch, torch.randperm(len(self.data), generator=gen))  # type: ignore[arg-type]
        indices = self._perm_cache[1][i * self.batch_size : (i + 1) * self.batch_size]
        indices = fdist.shard(indices, self.rank, self.world_size).tolist()  # all of it in one process
        return _to_device(self.collate_fn([self.data[j] for j in indices]), self.device)  # type: ignore[index]

    # -- one update ------------------------------------------------------------------------------------------

    def _diverged(self, term: str, value: float) -> TrainingDiverged:
        return TrainingDiverged(self.step + 1, term, value, self.last_checkpoint, self._last_checkpoint_step)

    def update(
        self,
        optimizer: str,
        terms: Mapping[str, Tensor],
        weights: Optional[Mapping[str, float]] = None,
        retain_graph: bool = False,
    ) -> Dict[str, float]:
        """One optimiser step on the (weighted) sum of ``terms``; returns every term as a float (unweighted).

        Every term is checked to be finite *before* anything is back-propagated, and the gradients are checked
        before the optimiser steps, so a NaN or inf raises :class:`TrainingDiverged` (naming the step and the term)
        and leaves this optimiser's parameters as they were. After the step the parameters are checked too (an
        optimiser can overflow on finite gradients); non-finite ones also raise :class:`TrainingDiverged`.

        When a training step calls ``update`` more than once (a critic, then a generator), an earlier update of the
        same step has already changed its network when a later one diverges. The trainer then counts as diverged:
        :meth:`fit` restores the last checkpoint before it trains again (or refuses, when there is none), and
        :meth:`save_checkpoint` refuses to write the half-updated state.

        Args:
            optimizer: the name of the optimiser (a key of ``optimizers``).
            terms: scalar loss tensors by name.
            weights: a weight per term name (missing names weigh 1); the loss is ``sum(w[k] * terms[k])``.
            retain_graph: passed to ``backward`` (when a later update reuses part of this graph).
        """
        if optimizer not in self.optimizers:
            raise KeyError(f"no optimiser named {optimizer!r}; the trainer has: {', '.join(self.optimizers)}")
        if not terms:
            raise ValueError("update needs at least one loss term")
        weights = dict(weights or {})
        unknown = [k for k in weights if k not in terms]
        if unknown:
            raise KeyError(f"weights name terms that are not given: {', '.join(unknown)} (terms: {', '.join(terms)})")
        values: Dict[str, float] = {}
        for name, t in terms.items():
            if not isinstance(t, Tensor):
                raise TypeError(f"loss term {name!r} must be a tensor (to back-propagate), got {type(t).__name__}")
            values[name] = _as_float(t)
        values = fdist.mean_over_ranks(values, self.device)  # every process sees a NaN of any of them
        for name, v in values.items():
            if not math.isfinite(v):
                raise self._diverged(name, v)
        total = sum(weights.get(k, 1.0) * t.reshape(()) for k, t in terms.items())
        assert isinstance(total, Tensor)
        total_value = float(total.detach())
        if not math.isfinite(total_value):
            raise self._diverged("total", total_value)

        opt = self.optimizers[optimizer]
        opt.zero_grad(set_to_none=True)
        total.backward(retain_graph=retain_graph)
        grads = [p.grad for group in opt.param_groups for p in group["params"] if p.grad is not None]
        if grads and not bool(torch.stack([g.isfinite().all() for g in grads]).all()):
            bad = math.nan if any(bool(g.isnan().any()) for g in grads) else math.inf
            opt.zero_grad(set_to_none=True)
            raise self._diverged(f"grad:{optimizer}", bad)
        opt.step()
        self._updates_in_step += 1
        params = [p for group in opt.param_groups for p in group["params"]]
        if params and not bool(torch.stack([p.detach().isfinite().all() for p in params]).all()):
            raise self._diverged(f"weights:{optimizer}", math.nan)
        self._step_terms.update(values)
        return values

    # -- the loop --------------------------------------------------------------------------------------------

    def _train_mode(self) -> None:
        for m in self.models.values():
            m.train()

    def _run_eval(self) -> Dict[str, float]:
        assert self.eval_fn is not None
        modes = {k: m.training for k, m in self.models.items()}
        py_state, np_state = random.getstate(), np.random.get_state()
        devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
        try:
            with torch.random.fork_rng(devices=devices):
                for m in self.models.values():
                    m.eval()
                metrics = self.eval_fn(self)
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)
            for k, m in self.models.items():
                m.train(modes[k])
        record: Dict[str, float] = {"step": self.step}
        record.update({str(k): _as_float(v) for k, v in (metrics or {}).items()})
        self.history.evals.append(record)
        return record

    def fit(self, steps: int, *, resume: bool = True) -> History:
        """Train until ``self.step == steps`` and return the history.

        With ``resume`` and a checkpoint in ``checkpoint_dir`` that is further along than this trainer, that
        checkpoint is loaded first (models, optimisers, schedulers, history, random states), and training goes on
        from its step; if it is already at or past ``steps`` nothing is trained. A fresh run (step 0, nothing to
        resume) seeds every generator with :func:`facekit.config.seed_everything` (``seed``).

        After a :class:`TrainingDiverged` or an interrupt (``KeyboardInterrupt``, any exception from ``step_fn``)
        that came after some weights of the step were updated, the models and optimisers no longer hold the state
        of any completed step: ``fit`` then reloads the last good checkpoint (with ``resume``), or raises
        ``RuntimeError`` when it cannot. An interrupt before any update of the step only restores the random
        states of the step's start, and ``fit`` goes on in memory: either way the run ends as an uninterrupted one.

        Raises:
            TrainingDiverged: a loss term, gradient or weight was NaN or inf; no checkpoint is written for that step.
            RuntimeError: the previous divergence left half-updated weights and there is no checkpoint to go back to.
        """
        steps = int(steps)
        if steps < 0:
            raise ValueError(f"steps must be >= 0, got {steps}")
        if self._diverged_state is not None:
            latest = self.latest_checkpoint(self.checkpoint_dir) if resume else None
            if latest is None:
                what = (f"diverged ({self._diverged_state})" if isinstance(self._diverged_state, TrainingDiverged)
                        else f"was interrupted ({type(self._diverged_state).__name__}) in step {self.step + 1}")
                raise RuntimeError(
                    f"the last run {what} after some weights of that step were updated, so the models hold no "
                    "completed step; load a checkpoint (trainer.load_checkpoint(path)) or build a new Trainer"
                )
            self.load_checkpoint(latest)  # clears the diverged state
        elif resume and self.checkpoint_dir is not None:
            latest = self.latest_checkpoint(self.checkpoint_dir)
            if latest is not None and _step_of(latest) > self.step:
                self.load_checkpoint(latest)
        if self.step == 0:  # per-rank seeds for the randomness inside steps; rank 0's are a single process's
            seed_everything(self.seed + _RANK_SEED_STRIDE * self.rank)
        if self.step >= steps:
            return self.history

        from tqdm.auto import tqdm

        self._train_mode()
        bar = tqdm(total=steps, initial=self.step, desc=self.desc, disable=not self.progress, dynamic_ncols=True)
        try:
            while self.step < steps:
                start_rng = _rng_state()  # restored if the step is interrupted before any update
                batch = self.batch(self.step)
                self._step_terms = {}
                self._updates_in_step = 0
                try:
                    returned = self.step_fn(self, batch)
                    raw = self._step_terms if returned is None else returned
                    values: Dict[str, float] = {k: _as_float(v) for k, v in raw.items()}
                    if returned is not None:  # update() already averaged its terms over the processes
                        values = fdist.mean_over_ranks(values, self.device)
                    for name, fv in values.items():
                        if not math.isfinite(fv):
                            raise self._diverged(name, fv)
                except BaseException as err:  # TrainingDiverged, KeyboardInterrupt, an error in step_fn
                    if self._updates_in_step:  # some weights moved in this step: no completed step is held
                        self._diverged_state = err
                    else:  # nothing moved: the step's start again, random states included
                        _set_rng_state(start_rng)
                    raise
                for sched in self.schedulers.values():
                    sched.step()
                self.step += 1
                self.history.append(self.step, values)
                bar.update(1)
                if values:
                    bar.set_postfix({k: f"{v:.4g}" for k, v in values.items()}, refresh=False)
                if self.eval_fn is not None and self.eval_every is not None and self.step % self.eval_every == 0:
                    self._log_eval(bar, self._run_eval())
                if self.checkpoint_dir is not None and self.step % self.checkpoint_every == 0:
                    self.save_checkpoint()
            if self.eval_fn is not None and self.eval_every is None:
                self._log_eval(bar, self._run_eval())
            if self.checkpoint_dir is not None and self._last_checkpoint_step != self.step:
                self.save_checkpoint()
        finally:
            bar.close()
        return self.history

    def _log_eval(self, bar: Any, record: Mapping[str, float]) -> None:
        if self.progress:
            bar.write(f"[{self.desc}] step {record['step']}: " + ", ".join(
                f"{k}={v:.4g}" for k, v in record.items() if k != "step"
            ))

    # -- checkpoints -----------------------------------------------------------------------------------------

    def state_dict(self) -> Dict[str, Any]:
        """Everything a checkpoint holds (see :meth:`save_checkpoint`)."""
        return {
            "format": CHECKPOINT_FORMAT,
            "step": self.step,
            "seed": self.seed,
            "models": {k: m.state_dict() for k, m in self.modules.items()},  # without DDP's "module."
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
            "history": self.history.to_dict(),
            "rng": _rng_state(),
            "batch_size": self.batch_size if self._map_style else None,  # the data order depends on it
            "hparams": self._hparams,  # the optimisers' hyper-parameters as built (changes announced on resume)
            "world_size": self.world_size,
        }

    def save_checkpoint(self, path: Optional[Union[str, Path]] = None) -> Path:
        """Write the full training state atomically (temporary file, then ``os.replace``) and return its path.

        Default path: ``checkpoint_dir / f"step_{step:06d}.pt"``; then only the newest ``keep`` checkpoints of
        ``checkpoint_dir`` are kept. The file holds every model's, optimiser's and scheduler's ``state_dict``,
        ``step``, ``seed``, the batch size, the history and the random states (Python, NumPy, torch CPU, CUDA when
        present).

        Raises:
            CheckpointError: a parameter or buffer of a model is NaN or inf, or the last step diverged half-way (see
                :meth:`update`). Nothing is written and no older checkpoint is removed.
        """
        if self._diverged_state is not None:
            raise CheckpointError(
                f"not saving: the last step diverged ({self._diverged_state}) after some weights were updated"
            )
        for name, model in self.modules.items():
            bad = _non_finite(model)
            if bad:
                raise CheckpointError(
                    f"not saving step {self.step}: model {name!r} has non-finite values in "
                    + ", ".join(bad[:5]) + (f", ... ({len(bad)} in all)" if len(bad) > 5 else "")
                    + "; the older checkpoints are kept"
                )
        if path is None:
            if self.checkpoint_dir is None:
                raise ValueError("no checkpoint_dir was given to the Trainer; pass a path")
            target = self.checkpoint_dir / f"step_{self.step:06d}.pt"
        else:
            target = Path(path)
        state = self.state_dict()
        if self.world_size > 1:  # every rank's random states, so that each resumes its own stream
            state["rng_ranks"] = fdist.gather_objects(state["rng"])
        if self.rank == 0:  # one writer; the others wait below and then see the file
            _atomic_save(state, target)
            if path is None and self.checkpoint_dir is not None:
                found = sorted(_list_checkpoints(self.checkpoint_dir), key=_step_of)
                for old in found[: max(0, len(found) - self.keep)]:
                    if old != target:
                        old.unlink(missing_ok=True)
        fdist.barrier()
        self.last_checkpoint, self._last_checkpoint_step = target, self.step
        return target

    def load_checkpoint(self, path: Optional[Union[str, Path]] = None) -> int:
        """Restore the full training state from ``path`` (default: the latest in ``checkpoint_dir``); return the step.

        Everything is checked before anything is changed.

        Raises:
            FileNotFoundError: the file (or any checkpoint in ``checkpoint_dir``) does not exist.
            CheckpointError: the file is corrupt, or its models or optimisers do not match this trainer's.
        """
        if path is None:
            if self.checkpoint_dir is None:
                raise ValueError("no checkpoint_dir was given to the Trainer; pass a path")
            path = self.latest_checkpoint(self.checkpoint_dir)
            if path is None:
                raise FileNotFoundError(f"no checkpoint step_*.pt in {self.checkpoint_dir}")
        path = Path(path)
        ckpt = _read_checkpoint(path)
        required = ("step", "models", "optimizers", "history", "rng")
        lacking = [k for k in required if k not in ckpt]
        if ckpt.get("format") != CHECKPOINT_FORMAT or lacking:
            raise CheckpointError(
                f"checkpoint {path} is not a facekit Trainer checkpoint (format {ckpt.get('format')!r}"
                + (f", lacks {', '.join(lacking)}" if lacking else "")
                + "); for weights alone use facekit.train.load_weights"
            )
        for kind, own, saved in (
            ("models", self.models, ckpt["models"]),
            ("optimizers", self.optimizers, ckpt["optimizers"]),
            ("schedulers", self.schedulers, ckpt.get("schedulers", {})),
        ):
            if set(own) != set(saved):
                raise CheckpointError(
                    f"checkpoint {path} has {kind} {sorted(saved)}, this trainer has {sorted(own)}"
                )
        for name, model in self.modules.items():
            _check_state_dict(model, ckpt["models"][name], f"model {name!r}", path)
        saved_batch = ckpt.get("batch_size")
        if self._map_style and saved_batch is not None and int(saved_batch) != self.batch_size:
            raise CheckpointError(
                f"checkpoint {path} was written with batch_size {saved_batch}, this trainer has {self.batch_size}: "
                "the data order (a function of seed, step and batch size) would change; build the Trainer with "
                f"batch_size={saved_batch} to resume, or use another checkpoint_dir to start over"
            )

        for name, model in self.modules.items():
            model.load_state_dict(ckpt["models"][name])
        try:
            for name, opt in self.optimizers.items():
                opt.load_state_dict(ckpt["optimizers"][name])
            for name, sched in self.schedulers.items():
                sched.load_state_dict(ckpt["schedulers"][name])
        except (ValueError, KeyError, RuntimeError) as err:
            raise CheckpointError(f"checkpoint {path}: optimiser or scheduler state does not fit: {err}") from err
        apply_hparams(self.optimizers, self.schedulers, self._hparams, ckpt.get("hparams"), path)
        self.step = int(ckpt["step"])
        self.history = History.from_dict(ckpt["history"])
        saved_seed = int(ckpt.get("seed", self.seed))
        if saved_seed != self.seed:
            warnings.warn(
                f"checkpoint {path} was written with seed {saved_seed}; the trainer had seed {self.seed} and now "
                f"uses {saved_seed} so that the data order continues",
                stacklevel=2,
            )
            self.seed = saved_seed
            self._perm_cache = None
        ranks = ckpt.get("rng_ranks")
        if self.world_size > 1 and (not ranks or len(ranks) != self.world_size):
            warnings.warn(f"checkpoint {path} was written by {ckpt.get('world_size', 1)} process(es), this run has "
                          f"{self.world_size}: the random numbers inside steps (dropout, augmentation) differ from "
                          "an uninterrupted run; the data order and weights continue exactly", stacklevel=2)
        _set_rng_state(ranks[self.rank] if ranks and len(ranks) == self.world_size else ckpt["rng"])
        self.last_checkpoint, self._last_checkpoint_step = path, self.step
        self._diverged_state = None
        return self.step

    @staticmethod
    def latest_checkpoint(checkpoint_dir: Union[str, Path, None]) -> Optional[Path]:
        """The checkpoint ``step_NNNNNN.pt`` with the highest step in ``checkpoint_dir`` (``None`` if there is none)."""
        if checkpoint_dir is None:
            return None
        found = _list_checkpoints(Path(checkpoint_dir))
        return max(found, key=_step_of) if found else None


def _list_checkpoints(directory: Path) -> List[Path]:
    if not directory.is_dir():
        return []
    return [p for p in directory.iterdir() if p.is_file() and _CKPT_RE.match(p.name)]


def _step_of(path: Path) -> int:
    m = _CKPT_RE.match(Path(path).name)
    return int(m.group(1)) if m else -1
