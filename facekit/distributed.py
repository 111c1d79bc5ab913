"""Several processes, one training run: what :class:`facekit.train.Trainer` needs to run under ``torchrun``.

PyTorch's own engine does the work (``torch.distributed`` and ``DistributedDataParallel``); this module holds the
few helpers around it, so that the trainer stays one loop for one process and for many:

* :func:`init_from_env` starts the process group when ``torchrun`` set ``WORLD_SIZE > 1`` (``nccl`` on GPUs,
  ``gloo`` on CPUs) and gives each process its GPU (``LOCAL_RANK``);
* :func:`rank`, :func:`world_size`, :func:`is_main` say where a process stands (0 and 1 without a process group);
* :func:`shard` cuts a *global* batch into the part of one process (the same global batch as one process, in
  ``world_size`` contiguous chunks along the first dimension), :func:`mean_over_ranks` averages logged figures,
  :func:`gather_objects` and :func:`barrier` wrap the collectives the checkpoints need.

Launch (N processes on one machine; every process runs the same script)::

    torchrun --standalone --nproc_per_node N scripts/train_eye2face.py --steps 1440 --batch-size 64

With a global batch of ``B`` samples each process computes its loss (a mean) on ``B / N`` of them and
``DistributedDataParallel`` averages the gradients, so a step is the step of one process on the whole batch, up to
the order of floating-point sums (``tests/test_distributed.py`` measures it). That needs a loss that is a mean over
the batch, and no batch statistics: BatchNorm normalises each process's part alone (on GPUs,
``torch.nn.SyncBatchNorm.convert_sync_batchnorm`` makes it use the whole batch).
"""

from __future__ import annotations

import os
from typing import Any, List, Mapping

import torch
import torch.distributed as dist
from torch import Tensor

__all__ = ["init_from_env", "is_distributed", "rank", "world_size", "is_main", "barrier", "shard",
           "mean_over_ranks", "gather_objects", "local_device"]


def is_distributed() -> bool:
    """Whether a process group of more than one process is running."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank (0 without a process group)."""
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    """The number of processes (1 without a process group)."""
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    """Whether this process is rank 0: the one that writes checkpoints, weights, records and prints."""
    return rank() == 0


def local_device() -> torch.device:
    """This process's GPU (``cuda:LOCAL_RANK``) when CUDA is there, else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device("cpu")


def init_from_env(backend: str = "") -> bool:
    """Start the process group that ``torchrun`` describes in the environment, if it describes more than one process.

    Args:
        backend: ``"nccl"``, ``"gloo"``, or ``""``: ``nccl`` when CUDA is available, else ``gloo``.

    Returns:
        whether this process is now one of several (``False`` for a plain ``python script.py``).

    Raises:
        RuntimeError: ``WORLD_SIZE > 1`` but ``RANK`` / ``MASTER_ADDR`` are missing (start it with ``torchrun``).
    """
    if is_distributed():
        return True
    n = int(os.environ.get("WORLD_SIZE", "1"))
    if n <= 1:
        return False
    missing = [k for k in ("RANK", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        raise RuntimeError(f"WORLD_SIZE={n} but {', '.join(missing)} are not set: start the script with "
                           "torchrun --nproc_per_node N script.py ...")
    backend = backend or ("nccl" if torch.cuda.is_available() else "gloo")
    if backend == "nccl":
        torch.cuda.set_device(local_device())
    dist.init_process_group(backend=backend)
    return True


def barrier() -> None:
    """Wait for every process (nothing without a process group)."""
    if is_distributed():
        dist.barrier()


def shard(batch: Any, index: int, count: int) -> Any:
    """Part ``index`` of ``count`` of a global batch: every tensor cut into ``count`` equal chunks along dim 0.

    Dicts, lists and (named) tuples are followed; other values are kept whole.

    Raises:
        ValueError: a tensor's first dimension is not a multiple of ``count`` (the global batch must split evenly).

    Example:
        >>> shard({"x": torch.arange(6), "n": 3}, 1, 2)
        {'x': tensor([3, 4, 5]), 'n': 3}
    """
    if isinstance(batch, Tensor):
        if batch.ndim == 0 or batch.shape[0] % count:
            raise ValueError(f"a global batch of {tuple(batch.shape)} does not split into {count} equal parts: make "
                             f"the batch size a multiple of the number of processes ({count})")
        n = batch.shape[0] // count
        return batch[index * n:(index + 1) * n]
    if isinstance(batch, Mapping):
        return {k: shard(v, index, count) for k, v in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(shard(v, index, count) for v in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(shard(v, index, count) for v in batch)
    return batch


def mean_over_ranks(values: Mapping[str, float], device: torch.device) -> dict:
    """The mean over all processes of each figure (every process must pass the same names); a NaN anywhere stays.

    Example:
        >>> mean_over_ranks({"loss": 2.0}, torch.device("cpu"))  # one process: unchanged
        {'loss': 2.0}
    """
    if not is_distributed() or not values:
        return dict(values)
    names = sorted(values)
    t = torch.tensor([float(values[k]) for k in names], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    t /= world_size()
    return {k: float(v) for k, v in zip(names, t.tolist())}


def gather_objects(obj: Any) -> List[Any]:
    """``obj`` of every process, by rank (``[obj]`` without a process group)."""
    if not is_distributed():
        return [obj]
    out: List[Any] = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out
