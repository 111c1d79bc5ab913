"""The DIAT ladder (issue 23): what makes DIAT / DIAT-A train on a CPU, one change at a time.

Every rung of ``facekit.methods.diat.LADDER`` adds its change to the rungs before it; each rung is trained with the
same data (a SynthFaces input set of 2,000 faces and a guided set of 1,000 per task, *train* identities), the same
seed, the same number of steps of batch 16 and the same discriminator pre-training, on one local task
(``mouth_open``) and one global task (``male_to_female``), and scored the same way (the transform network alone, as
DIAT-A0, on ``--val`` SynthFaces *validation* identities against their exact counterfactuals:
``facekit.methods.diat.score_task``). Nothing here sees a test identity; the recipe is chosen on these scores. The
training stays unpaired, as in the paper: no counterfactual is seen in training (they only score).

``python bench/diat.py --ladder`` runs this script; it prints ONE JSON line: ``ladder`` (rung -> task -> scores,
``train_s``, ``img_per_s``), ``copy`` (the copy-the-input baseline per task), ``curves`` (the periodic validation
scores against training seconds) and writes ``facekit/weights/diat_ladder.json`` (the same, with the command) and
``facekit/weights/diat_ladder.png`` (the same six validation faces edited by every rung, per task; chapter 06 shows
both). Every (rung, task) is one job in its own process with one torch thread (``--jobs`` at a time), checkpointed
in ``--checkpoint-dir``: re-running the command resumes, and a finished job is read back from its ``result.json``.

Usage::

    OMP_NUM_THREADS=1 python bench/diat_ladder.py --steps 240 --jobs 2
    OMP_NUM_THREADS=1 python bench/diat_ladder.py --rungs masked_residual --tasks mouth_open   # one cell

Record (this CPU, 2 cores shared with a training campaign and another job; ``--steps 200``, 32 validation faces;
figures in ``facekit/weights/diat_ladder.json``; 59 min wall for the last call, one job at a time). Per rung:
attribute success / identity kept / L1 inside the mask (copy baseline: mouth_open 0.028, male_to_female 0.078):

  faithful         mouth_open: 0.81 / 0.00 / 0.201  male_to_female: 1.00 / 0.00 / 0.216
  lr_1e-4          mouth_open: 0.97 / 0.00 / 0.304  male_to_female: 1.00 / 0.00 / 0.216
  masked_residual  mouth_open: 0.16 / 0.84 / 0.179  male_to_female: 0.66 / 0.03 / 0.228
  resize_conv      mouth_open: 0.56 / 0.88 / 0.114  male_to_female: 0.84 / 0.81 / 0.151
  honest_d         mouth_open: 0.28 / 0.72 / 0.094  male_to_female: 0.44 / 0.16 / 0.158
  ema_bf16         mouth_open: 0.62 / 1.00 / 0.069  male_to_female: 0.88 / 0.78 / 0.140
  change_l1        mouth_open: 0.12 / 1.00 / 0.042  male_to_female: 0.91 / 0.97 / 0.079
  local_d          mouth_open: 0.88 / 1.00 / 0.046  male_to_female: = change_l1 (the rung changes nothing there)

The paper's networks (faithful, lr_1e-4) pass the oracle's attribute test by destroying the face (identity 0.00);
the masked residual keeps the outside (L1 outside the mask 0.0008 = copy's) and resize-convolutions add identity;
the average of the weights keeps identity at 1.00 on mouth_open; the change penalty gives the clean global edit
(male_to_female 0.91 / 0.97) but holds mouth_open back (0.13) at 200 steps; a discriminator that sees only the
mouth's square (``local_d``, added later: ``--rungs local_d --tasks mouth_open``, 202 s of training) lifts
mouth_open to 0.88 with identity 1.00. A rung that changes nothing for a task (``local_d`` on a global task: its
configuration equals the rung before once ``d_crop`` is off) is not retrained: its result is the previous rung's,
marked ``same_as`` in the JSON. No rung beats the copy baseline inside
the mouth mask. DiffAugment was measured outside the ladder (a discriminator pre-training probe): with colour and
translation, D stayed at chance (0.50 validation accuracy) on mouth_open after 200 steps against 0.97 without, so
it is an option (``DIATConfig.augment``) and not a rung.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from facekit.methods import diat as M  # noqa: E402

TASKS = ("mouth_open", "male_to_female")
WEIGHTS = ROOT / "facekit" / "weights"
N_SHOW = 6


def task_data(task: str, ck: Path, seed: int) -> M.TaskData:
    path = ck / f"data_{task}.pt"
    if path.is_file():
        d = torch.load(path, weights_only=True)
    else:
        td = M.synth_task_data(task, n_inputs=2000, n_guided=1000, size=64, seed=seed)
        d = {"inputs": td.inputs, "guided": td.guided, "landmarks": td.input_landmarks}
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(d, path.with_suffix(".tmp"))
        os.replace(path.with_suffix(".tmp"), path)
    return M.TaskData(M.TASKS[task], d["inputs"], d["guided"], d["landmarks"])


def autoencoder(arch: str, ck: Path, steps: int, seed: int) -> M.TransformNet:
    """Algorithm 1 step 2 (eq. (8)) for the rungs with the paper's sigmoid output: shared by every task."""
    path = ck / f"faces_{seed}.pt"
    if path.is_file():
        faces = torch.load(path, weights_only=True)
    else:
        faces = M.synth_pretrain_images(2000, size=64, seed=seed)
        torch.save(faces, path)
    T, _ = M.pretrain_transform(faces, steps=steps, batch_size=16, seed=seed, net=M.TransformNet(arch=arch),
                                device="cpu", checkpoint_dir=ck / f"pretrain_T_{arch}", checkpoint_every=25,
                                progress=False)
    return T


def run_job(rung: str, task: str, args: argparse.Namespace) -> Dict[str, Any]:
    torch.set_num_threads(1)
    ck = Path(args.checkpoint_dir)
    job = ck / f"{rung}__{task}__{args.steps}"
    done = job / "result.json"
    if done.is_file():
        return json.loads(done.read_text())
    cfg = M.ladder_config(rung, batch_size=16)
    rungs = list(M.LADDER)
    if rung != rungs[0] and not M.TASKS[task].local:  # a rung that changes nothing for a global task (d_crop)
        prev = rungs[rungs.index(rung) - 1]
        if dataclasses.replace(cfg, d_crop=False) == M.ladder_config(prev, batch_size=16):
            out = dict(run_job(prev, task, args), rung=rung, same_as=prev, config=dict(vars(cfg)))
            job.mkdir(parents=True, exist_ok=True)
            (job / "edits.pt").write_bytes((ck / f"{prev}__{task}__{args.steps}" / "edits.pt").read_bytes())
            done.write_text(json.dumps(out, indent=1))
            return out
    data = task_data(task, ck, args.seed)
    val = M.synth_test_data(task, args.val, size=64, seed=args.seed, split="val")
    ae = None if cfg.uses_masks else autoencoder(cfg.arch, ck, args.pretrain_steps, args.seed)
    t0 = time.perf_counter()
    T, _, rec = M.train_task(data, cfg, steps=args.steps, d_steps=args.d_steps, autoencoder=ae, seed=args.seed,
                             device="cpu", checkpoint_dir=job, eval_fn=M.progress_eval(val, n=16),
                             eval_every=max(1, args.steps // 6), progress=False)
    wall = time.perf_counter() - t0
    edits = M.edit(val.sources, T, task, masks=val.masks)
    row = M.score_task(edits, val)
    steps_log = rec["history"].get("gan", [])
    out = {"rung": rung, "task": task, "config": {k: v for k, v in vars(cfg).items()}, "steps": args.steps,
           "train_s": rec["train_s"], "job_s": round(wall, 1),
           "img_per_s": round(args.steps * cfg.batch_size / max(rec["train_s"], 1e-9), 2),
           "scores": {k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()},
           "evals": rec["evals"], "d_fake_last50": round(float(torch.tensor(rec["history"]["d_fake"][-50:]).mean()), 3),
           "d_real_last50": round(float(torch.tensor(rec["history"]["d_real"][-50:]).mean()), 3),
           "gan_steps_logged": len(steps_log)}
    torch.save(M._u8(edits[:N_SHOW]), job / "edits.pt")
    done.write_text(json.dumps(out, indent=1))
    return out


def grid_png(results: Dict[str, Dict[str, Any]], rungs: List[str], args: argparse.Namespace) -> None:
    from PIL import Image, ImageDraw

    ck = Path(args.checkpoint_dir)
    rows = []
    labels = []
    for task in args.tasks:
        val = M.synth_test_data(task, N_SHOW, size=64, seed=args.seed, split="val")
        rows.append(torch.cat([torch.cat(list(M._u8(val.sources)), 2)], 2))
        labels.append(f"{task}: input")
        for rung in rungs:
            e = torch.load(ck / f"{rung}__{task}__{args.steps}" / "edits.pt", weights_only=True)
            rows.append(torch.cat(list(e), 2))
            labels.append(f"{task}: {rung}")
        rows.append(torch.cat(list(M._u8(val.counterfactuals)), 2))
        labels.append(f"{task}: exact counterfactual")
    pad = 190
    img = Image.new("RGB", (pad + 64 * N_SHOW, 64 * len(rows)), "white")
    draw = ImageDraw.Draw(img)
    for i, (r, lab) in enumerate(zip(rows, labels)):
        img.paste(Image.fromarray(r.permute(1, 2, 0).numpy()), (pad, 64 * i))
        draw.text((4, 64 * i + 26), lab, fill="black")
    img.save(args.png)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rungs", default=",".join(M.LADDER), help="comma-separated rungs (default: all, in order)")
    p.add_argument("--tasks", default=",".join(TASKS))
    p.add_argument("--steps", type=int, default=240, help="GAN steps of batch 16 per rung and task (equal budgets)")
    p.add_argument("--d-steps", type=int, default=200, help="D pre-training steps (eq. (9)), every rung")
    p.add_argument("--pretrain-steps", type=int, default=300, help="auto-encoder steps (eq. (8)), sigmoid rungs")
    p.add_argument("--val", type=int, default=32, help="validation faces scored per task")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint-dir", default=str(Path.home() / ".cache" / "facekit" / "diat_ladder"))
    p.add_argument("--json", default=str(WEIGHTS / "diat_ladder.json"))
    p.add_argument("--png", default=str(WEIGHTS / "diat_ladder.png"))
    p.add_argument("--job", nargs=2, metavar=("RUNG", "TASK"), help=argparse.SUPPRESS)
    args = p.parse_args()
    args.tasks = [t for t in args.tasks.split(",") if t]
    rungs = [r for r in args.rungs.split(",") if r]
    for r in rungs:
        M.ladder_config(r)  # unknown rung: a clear error before any work
    if args.job:
        print(json.dumps(run_job(args.job[0], args.job[1], args)["scores"]), flush=True)
        return 0

    ck = Path(args.checkpoint_dir)
    ck.mkdir(parents=True, exist_ok=True)
    for t in args.tasks:  # render the data (and the auto-encoder) once, before the jobs share them
        task_data(t, ck, args.seed)
    if any(not M.ladder_config(r).uses_masks for r in rungs):
        autoencoder("table1", ck, args.pretrain_steps, args.seed)
    t0 = time.perf_counter()
    todo = [(r, t) for t in args.tasks for r in rungs
            if not (ck / f"{r}__{t}__{args.steps}" / "result.json").is_file()]
    running: List[Any] = []
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    base = [sys.executable, str(Path(__file__).resolve()), "--steps", str(args.steps), "--d-steps",
            str(args.d_steps), "--pretrain-steps", str(args.pretrain_steps), "--val", str(args.val), "--seed",
            str(args.seed), "--checkpoint-dir", str(ck), "--rungs", ",".join(rungs), "--tasks", ",".join(args.tasks)]
    while todo or running:
        while todo and len(running) < args.jobs:
            r, t = todo.pop(0)
            log = open(ck / f"{r}__{t}__{args.steps}.log", "a")
            running.append((subprocess.Popen(base + ["--job", r, t], env=env, stdout=log, stderr=log), r, t))
        time.sleep(2)
        for item in list(running):
            if item[0].poll() is not None:
                running.remove(item)
                if item[0].returncode != 0:
                    raise SystemExit(f"ladder job {item[1]} / {item[2]} failed: see its log in {ck}")
    results = {t: {r: run_job(r, t, args) for r in rungs} for t in args.tasks}
    copy = {}
    for t in args.tasks:
        val = M.synth_test_data(t, args.val, size=64, seed=args.seed, split="val")
        copy[t] = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in M.score_task(val.sources, val).items()}
    out = {"steps": args.steps, "batch_size": 16, "val_faces": args.val, "copy": copy,
           "ladder": {r: {t: {**results[t][r]["scores"], "train_s": results[t][r]["train_s"],
                              "img_per_s": results[t][r]["img_per_s"], "d_real": results[t][r]["d_real_last50"],
                              "d_fake": results[t][r]["d_fake_last50"]} for t in args.tasks} for r in rungs},
           "changes": {r: M.LADDER[r] for r in rungs},
           "curves": {r: {t: results[t][r]["evals"] for t in args.tasks} for r in rungs},
           "wall_s_this_call": round(time.perf_counter() - t0, 1)}
    argv, skip = [], False
    for a in sys.argv[1:]:  # the command without the checkpoint folder (a path of this machine)
        if skip or a.startswith("--checkpoint-dir"):
            skip = a == "--checkpoint-dir" and not skip
            continue
        argv.append(a)
    record = {**out, "command": "OMP_NUM_THREADS=1 python bench/diat_ladder.py " + " ".join(argv)}
    Path(args.json).write_text(json.dumps(record, indent=1) + "\n")
    grid_png(results, rungs, args)
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
