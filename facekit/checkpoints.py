"""Checkpoint and weight files of facekit's training loop: reading, checking and writing them safely.

:class:`facekit.train.Trainer` writes full training checkpoints (models, optimisers, schedulers, history, random
states); :func:`save_weights` writes one model's weights (what ``facekit/weights/`` ships) and
:func:`load_weights` reads either. Every read goes through :func:`facekit.hub.read_weights`, facekit's one reader
of weight files (``torch.load(weights_only=True)``: a file that would run code when unpickled is refused) and every
error names the file and says what to do; every write is atomic (a temporary file, then
``os.replace``), so an interrupted save never leaves a half-written checkpoint. ``from facekit.train import ...``
keeps working for every public name here.
"""

from __future__ import annotations

import math
import random
import warnings
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Union

import numpy as np

import torch
from torch import Tensor, nn

from facekit.hub import WeightsError, WeightsFormatError, WeightsKeysError, check_state_dict, read_weights
from facekit.hub.saving import atomic_save as _atomic_save  # the one atomic writer (temporary file, os.replace)

__all__ = ["CHECKPOINT_FORMAT", "CheckpointError", "save_weights", "load_weights", "optimizer_hparams", "apply_hparams"]

CHECKPOINT_FORMAT = "facekit.train/1"
"""Value of the ``"format"`` entry of every checkpoint written by :class:`Trainer`."""


class CheckpointError(WeightsError):
    """A checkpoint file cannot be read, or does not fit the models it is loaded into. The message names the file.

    A :class:`facekit.hub.WeightsError`: code that catches the hub's errors catches it too.
    """


class CheckpointFormatError(CheckpointError, WeightsFormatError):
    """The checkpoint is empty, truncated, corrupted, not a PyTorch file, or holds arbitrary Python objects."""


class CheckpointKeysError(CheckpointError, WeightsKeysError):
    """The checkpoint's parameter names or shapes do not match the model."""


def _read_checkpoint(path: Union[str, Path]) -> Dict[str, Any]:
    path = Path(path)
    try:  # missing: facekit.hub.WeightsNotFoundError, a FileNotFoundError
        obj = read_weights(path, what="checkpoint",
                           remedy="the file is corrupt: delete it and resume from an earlier one (or re-save it)")
    except WeightsFormatError as err:
        raise CheckpointFormatError(str(err)) from err.__cause__
    if not isinstance(obj, dict):
        raise CheckpointFormatError(f"checkpoint {path} holds a {type(obj).__name__}, not a dict")
    return obj


def _check_state_dict(model: nn.Module, state: Mapping[str, Tensor], what: str, path: Path) -> None:
    """Raise CheckpointKeysError (naming the file) unless ``state`` has exactly the keys and shapes of ``model``."""
    check_state_dict(state, model.state_dict(), file=path, what=what, error=CheckpointKeysError)


def _non_finite(module: nn.Module) -> List[str]:
    """Names of the floating-point parameters and buffers of ``module`` that hold a NaN or inf."""
    return [
        name
        for name, t in [*module.named_parameters(), *module.named_buffers()]
        if t.is_floating_point() and not bool(t.detach().isfinite().all())
    ]


# ----------------------------------------------------------------------------------------------------------------
# weights alone (shipped checkpoints)
# ----------------------------------------------------------------------------------------------------------------


def save_weights(model: nn.Module, path: Union[str, Path], *, meta: Optional[Mapping[str, Any]] = None) -> Path:
    """Write one model's weights (``{"format", "model", "meta"}``) atomically; what ``facekit/weights/`` ships.

    ``meta`` (plain Python values: step, profile, data, ...) is stored beside the weights.
    """
    path = Path(path)
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    _atomic_save({"format": "facekit.weights/1", "model": state, "meta": dict(meta or {})}, path)
    return path


def load_weights(
    model: nn.Module, path: Union[str, Path], key: Optional[str] = None, *, strict: bool = True
) -> nn.Module:
    """Load one model's weights into ``model`` (in place) and return it.

    ``path`` may be a :class:`Trainer` checkpoint (``key`` names the model; it may be left out when the checkpoint
    holds one model), a file written by :func:`save_weights`, or a plain ``state_dict``.

    Example:
        >>> import tempfile, torch
        >>> from torch import nn
        >>> src, dst = nn.Linear(3, 2), nn.Linear(3, 2)
        >>> f = save_weights(src, tempfile.mkdtemp() + "/linear.pt")
        >>> torch.equal(load_weights(dst, f).weight, src.weight)
        True

    Raises:
        facekit.hub.WeightsNotFoundError: the file does not exist (a ``FileNotFoundError``).
        CheckpointError: the file is corrupt, ``key`` is not in it, or the keys/shapes do not match ``model``
            (:class:`CheckpointFormatError`, :class:`CheckpointKeysError`: also the hub's
            :class:`~facekit.hub.WeightsFormatError`, :class:`~facekit.hub.WeightsKeysError`).
    """
    path = Path(path)
    ckpt = _read_checkpoint(path)
    if ckpt.get("format") == CHECKPOINT_FORMAT or ("models" in ckpt and isinstance(ckpt["models"], dict)):
        models = ckpt["models"]
        if key is None:
            if len(models) != 1:
                raise CheckpointError(f"checkpoint {path} holds models {sorted(models)}; pass key= to pick one")
            key = next(iter(models))
        if key not in models:
            raise CheckpointError(f"checkpoint {path} has no model {key!r}; it holds {sorted(models)}")
        state = models[key]
    elif "model" in ckpt and isinstance(ckpt["model"], dict) and (key is None or key == "model"):
        state = ckpt["model"]
    elif key is not None:
        if key not in ckpt or not isinstance(ckpt[key], dict):
            raise CheckpointError(f"checkpoint {path} has no entry {key!r}; it holds {sorted(ckpt)[:10]}")
        state = ckpt[key]
    else:
        state = ckpt  # a plain state dict
    if strict:
        _check_state_dict(model, state, f"{type(model).__name__}", path)
    model.load_state_dict(state, strict=strict)
    return model


# ----------------------------------------------------------------------------------------------------------------
# what a Trainer checkpoint holds besides weights: random states and optimiser hyper-parameters
# ----------------------------------------------------------------------------------------------------------------


def _rng_state() -> Dict[str, Any]:
    algo, keys, pos, has_gauss, cached = np.random.get_state()
    state: Dict[str, Any] = {
        "python": random.getstate(),
        # stored as plain containers and a tensor so that the checkpoint loads with torch.load(weights_only=True)
        "numpy": (str(algo), torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: Mapping[str, Any]) -> None:
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    algo, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((algo, np.asarray(keys, dtype=np.int64).astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    cuda = state.get("cuda")
    if cuda is not None and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


def optimizer_hparams(optimizers: Mapping[str, torch.optim.Optimizer]) -> Dict[str, List[Dict[str, Any]]]:
    """Each optimiser's param-group hyper-parameters (numbers, bools, strings, tuples of them), as built."""
    plain = (int, float, bool, str, type(None))
    return {
        name: [{k: (tuple(v) if isinstance(v, (list, tuple)) else v) for k, v in g.items()
                if k not in ("params", "initial_lr")
                and (isinstance(v, plain) or (isinstance(v, (list, tuple)) and all(isinstance(x, plain) for x in v)))}
               for g in opt.param_groups]
        for name, opt in optimizers.items()
    }


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        try:
            return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=0.0)
        except (TypeError, ValueError):
            return False
    return a == b


def apply_hparams(optimizers: Mapping[str, torch.optim.Optimizer], schedulers: Mapping[str, Any],
                  built: Mapping[str, Any], saved: Optional[Mapping[str, Any]], path: Path) -> None:
    """After optimisers' states are loaded from checkpoint ``path``: the hyper-parameters they were ``built`` with
    (:func:`optimizer_hparams`) replace the checkpoint's ``saved`` ones, and a ``UserWarning`` names each change.

    A changed ``lr`` scales the loaded learning rate (and a scheduler's ``base_lrs``) by new / old, so a
    schedule's progress is kept; any other key (momentum, betas, weight decay) is set to the new value.
    """
    if not saved:
        return  # an older checkpoint without them: its values stay (as before)
    changes = []
    for name, groups in built.items():
        old_groups = saved.get(name)
        if old_groups is None or len(old_groups) != len(groups):
            continue
        opt = optimizers[name]
        for gi, (new, old) in enumerate(zip(groups, old_groups)):
            for key, value in new.items():
                if key in old and _same(old[key], value):
                    continue
                group = opt.param_groups[gi]
                if key == "lr" and isinstance(old.get(key), (int, float)) and old[key] and "lr" in group:
                    group["lr"] = group["lr"] * float(value) / float(old[key])  # keeps a scheduler's progress
                    for sched in schedulers.values():
                        if getattr(sched, "optimizer", None) is opt and hasattr(sched, "base_lrs"):
                            sched.base_lrs[gi] = sched.base_lrs[gi] * float(value) / float(old[key])
                    if "initial_lr" in group:
                        group["initial_lr"] = value
                else:
                    group[key] = value
                changes.append(f"optimizer {name!r} group {gi}: {key} {old.get(key)!r} -> {value!r}")
    if changes:
        warnings.warn(f"resuming from {path} with hyper-parameters other than the checkpoint's; applying this "
                      "trainer's: " + "; ".join(changes), stacklevel=4)
