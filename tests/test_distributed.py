"""facekit.train.Trainer under torchrun (issue 27, part 4): two CPU processes with gloo against one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from facekit import distributed as fdist

HERE = Path(__file__).resolve().parent
# Measured: 3.6e-07 (weights of size about 1; float32 sums in another order). Tolerance 1e-5.
TOLERANCE = 1e-5


def test_shard_and_mean_without_a_process_group() -> None:
    x = torch.arange(8)
    assert torch.equal(torch.cat([fdist.shard(x, i, 2) for i in range(2)]), x)  # the global batch, in order
    with pytest.raises(ValueError, match="multiple of the number of processes"):
        fdist.shard(torch.arange(7), 0, 2)
    assert fdist.mean_over_ranks({"a": 1.5}, torch.device("cpu")) == {"a": 1.5}
    assert fdist.world_size() == 1 and fdist.rank() == 0 and fdist.is_main()
    assert fdist.init_from_env() is False  # plain python: no process group


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch built without torch.distributed")
def test_two_processes_give_the_weights_of_one(tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(HERE.parent)}
    for k in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    res = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          str(HERE / "ddp_worker.py"), str(tmp_path)], env=env, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    sys.path.insert(0, str(HERE))
    try:
        import ddp_worker
    finally:
        sys.path.remove(str(HERE))
    ddp_worker.main(tmp_path)  # the same run in this process alone (no process group)

    one = torch.load(tmp_path / "w1_straight.pt")
    two = torch.load(tmp_path / "w2_straight.pt")
    two_resumed = torch.load(tmp_path / "w2_resumed.pt")
    diff = max(float((one[k] - two[k]).abs().max()) for k in one)
    assert diff < TOLERANCE, f"2 processes differ from 1 by {diff}"
    one_resumed = torch.load(tmp_path / "w1_resumed.pt")
    assert all(torch.equal(one[k], one_resumed[k]) for k in one)  # one process: exact resume, as before
    assert all(torch.equal(two[k], two_resumed[k]) for k in two)  # resumed by both ranks: bit for bit
    assert json.loads((tmp_path / "w2_files.json").read_text()) == ["step_000020.pt"]  # rank 0 wrote, keep=1
    t1 = json.loads((tmp_path / "w1_timing.json").read_text())["wall_s"]
    t2 = json.loads((tmp_path / "w2_timing.json").read_text())["wall_s"]
    print(f"20 steps, global batch 8: 1 process {t1:.2f} s, 2 processes (gloo, CPU) {t2:.2f} s; max |diff| {diff:.2e}")


TINY_DIAT = ["--recipe", "local_d", "--size", "32", "--inputs", "8", "--guided", "8", "--pretrain-images", "8",
             "--enhance-steps", "2", "--reg-steps", "1", "--d-steps", "2", "--gan-steps", "2",
             "--local-enhance-steps", "1", "--tasks", "mouth_open", "--variant-tasks", "none", "--batch-size", "4",
             "--test", "4", "--eval-every", "100"]
# Measured: 1.5e-06 on T (bf16 autocast: the local_d recipe), 4e-09 on the local enhancer. Tolerance 1e-4.
DIAT_TOLERANCE = 1e-4


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch built without torch.distributed")
def test_train_diat_under_torchrun_gives_the_weights_of_one_process(tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(HERE.parent)}
    for k in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    script = str(HERE.parent / "scripts" / "train_diat.py")
    runs = {"one": [sys.executable, script, "--jobs", "1"],
            "two": [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", script]}
    for name, cmd in runs.items():
        res = subprocess.run(cmd + TINY_DIAT + ["--checkpoint-dir", str(tmp_path / name / "ck"), "--out",
                                               str(tmp_path / name / "out")],
                             env=env, capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
        assert (tmp_path / name / "out" / "diat_a_mouth_open.pt").is_file()  # rank 0 wrote the shipped files
    one, two = (torch.load(tmp_path / n / "ck" / "local_d" / "DIAT-A_mouth_open" / "final.pt", weights_only=True)
                for n in runs)
    for net in ("T", "E"):
        diff = max(float((one[net][k].float() - two[net][k].float()).abs().max()) for k in one[net])
        assert diff < DIAT_TOLERANCE, f"{net}: 2 processes differ from 1 by {diff}"
    assert len(two["record"]["history"]["gan"]) == 2  # the same two steps, each of the global batch of 4
