"""A tiny training run for tests/test_distributed.py: under torchrun (N processes, gloo) or as one process.

    python -m torch.distributed.run --standalone --nproc_per_node 2 tests/ddp_worker.py OUT_DIR
    python tests/ddp_worker.py OUT_DIR

Trains a small conv net on a fixed data set for 20 steps with a global batch of 8: once without a break
(``straight.pt``), once stopped after 10 steps and resumed by a fresh trainer from the checkpoint (``resumed.pt``).
Rank 0 writes the final weights and the wall time of the straight run (``timing.json``).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from facekit import distributed as fdist  # noqa: E402
from facekit.train import Trainer  # noqa: E402

STEPS, BATCH = 20, 8


def make_net() -> nn.Module:
    torch.manual_seed(0)  # the same initial weights in every process (DDP also broadcasts rank 0's)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 1))


def data() -> torch.utils.data.TensorDataset:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(64, 1, 8, 8, generator=g)
    return torch.utils.data.TensorDataset(x, x.mean((1, 2, 3)).unsqueeze(1) * 3)


def step(trainer: Trainer, batch) -> dict:
    x, y = batch
    return trainer.update("net", {"mse": (trainer.models["net"](x) - y).pow(2).mean()})


def run(out: Path, ckpt: Path, steps: int) -> nn.Module:
    net = make_net()
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    trainer = Trainer({"net": net}, {"net": opt}, step, data=data(), batch_size=BATCH, seed=3, device="cpu",
                      checkpoint_dir=ckpt, checkpoint_every=5, progress=False)
    trainer.fit(steps)
    return trainer.modules["net"]


def main(out: Path) -> None:
    torch.set_num_threads(1)
    fdist.init_from_env("gloo")
    tag = f"w{fdist.world_size()}"
    t0 = time.perf_counter()
    straight = run(out, out / f"{tag}_straight", STEPS)
    wall = time.perf_counter() - t0
    run(out, out / f"{tag}_resumed", STEPS // 2)
    resumed = run(out, out / f"{tag}_resumed", STEPS)  # a fresh trainer: every rank resumes from step 10
    if fdist.is_main():
        torch.save(straight.state_dict(), out / f"{tag}_straight.pt")
        torch.save(resumed.state_dict(), out / f"{tag}_resumed.pt")
        (out / f"{tag}_timing.json").write_text(json.dumps({"wall_s": wall, "world_size": fdist.world_size()}))
        files = sorted(p.name for p in (out / f"{tag}_straight").iterdir())
        (out / f"{tag}_files.json").write_text(json.dumps(files))
    fdist.barrier()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
