"""Train the shipped DIAT / DIAT-A networks (Li, Zuo, Zhang, arXiv 1610.05586 v1) on SynthFaces and ship them.

The recipe is one rung of the ladder (``--recipe``, default ``ema_bf16``, the last rung: every change of
``facekit.methods.diat.LADDER``; ``--recipe faithful`` is the paper's networks and training as before), measured by
``bench/diat_ladder.py`` on validation identities. What it does (every stage through ``facekit.train.Trainer``,
checkpointed in ``--checkpoint-dir``; re-running the same command resumes stage by stage with the same batches, and
``--gan-steps`` may be raised to train on from the last checkpoint):

1. data (section 5.1): for each task an input set of ``--inputs`` faces without the attribute and a guided set of
   ``--guided`` faces with it, SynthFaces *train* identities at ``--size`` px, plus ``--pretrain-images`` faces
   with random states; cached;
2. Algorithm 1 step 2, the auto-encoder (eq. (8)), only for a recipe with the paper's sigmoid output (a
   masked-residual T starts as the identity map);
3. the global enhancement network (eq. (11), deblurring, sigma 1.8), of the recipe's architecture (masked-residual
   recipes: a residual network that starts as the identity);
4. DIAT's regulariser, g by eq. (4) and the denoiser f by eq. (5) (``facekit.nn.face_network()``, the shipped
   SynthFaceNet offline), for DIAT3;
5. per task and variant, one job in its own process (``--jobs`` at a time, one torch thread each): D pre-trained by
   eq. (9), then T for ``--gan-steps`` (``facekit.methods.diat.train_task``): DIAT-A (eq. (14)) on every task, and
   DIAT1 (GAN loss only), DIAT2 (face-network identity loss) and DIAT3 (eq. (7), with l_smooth) on
   ``--variant-tasks``, all with the recipe's settings and the same budget; the local enhancer (eq. (10)) on each
   local task's DIAT-A network;
6. scores every shipped model on ``--test`` *test* identities against the exact counterfactuals
   (``facekit.methods.diat.score_task``; the only time test identities are used), writes
   ``facekit/weights/diat_*.pt`` (8-bit weights, ``facekit.hub.save(quantize="int8")``; the script prints the PSNR
   of the stored network's edits against float32) with ``diat_*.json`` beside each, and ``diat_train.json`` (the
   command, wall times, figures, curves), and prints the SHA-256 of every file for ``facekit.hub``.

The transform network's GAN loss is the **non-saturating** form (the paper's minimax form gives T almost no
gradient while the pre-trained D rejects T(x); eq. (3) as printed is the non-saturating loss plus 1 for T).

Invocations and records (2 CPU cores, two 1-thread jobs at a time while other work ran):

* shipped until issue 23 (``--recipe faithful``, the old script: ``--pretrain-steps 300 --enhance-steps 120
  --reg-steps 30 --d-steps 40 --gan-steps 120 --diat-steps 80 --local-enhance-steps 40 --batch-size 8``, 24 min):
  identity kept 0.00-0.05 on every task and no task beating the copy baseline inside the mask;
* issue 23, ``--recipe change_l1 --gan-steps 320 --jobs 2`` (defaults otherwise: 2,000 inputs and 1,000 guided
  faces per task, D pre-training 200 steps, batch 16, global enhancer 150 steps, g 60 / f 120 steps, local
  enhancers 100 steps; DIAT-A male_to_female resumed from the ladder's identical change_l1 run at step 200):
  2663 s wall (44 min; two 1-thread jobs at a time, sharing the 2 cores with the ladder and another training run);
  files in 8 bits, edits of the stored networks 75.7-84.2 dB PSNR against float32. DIAT-A on 64 *test* identities
  (oracle, exact counterfactuals):
  mouth_open: success 0.30, identity 1.00, others 0.95, L1 in mask 0.042 (copy 0.028)
  mouth_close: success 0.30, identity 0.98, others 0.89, L1 in mask 0.056 (copy 0.027)
  eyeglasses_remove: success 0.89, identity 0.97, others 0.94, L1 in mask 0.068 (copy 0.027)
  male_to_female: success 0.80, identity 0.81, others 0.89, L1 in mask 0.080 (copy 0.077)
  older_to_younger: success 0.72, identity 0.98, others 0.95, L1 in mask 0.022 (copy 0.003)
  DIAT-A0 male_to_female (no enhancer): success 0.95, identity 1.00, others 0.92, whole-image L1 0.073 (copy 0.077);
  the global enhancer lowers identity to 0.81. Targets met: male_to_female (global) as DIAT-A0 and DIAT-A,
  older_to_younger (global) as DIAT-A; no local task beats the copy baseline inside the mask.
* issue 23, ``--recipe local_d --tasks mouth_open,mouth_close,eyeglasses_remove --variant-tasks mouth_open
  --gan-steps 800 --jobs 2`` (the global tasks keep the change_l1 networks above): 2960 s wall (49 min, sharing the
  cores with other work); stored networks 79.5-87.1 dB PSNR against float32. On 64 test identities:
  mouth_open: DIAT-A success 0.84, identity 1.00, L1 in mask 0.032 (copy 0.028), L1 outside 0.0015;
  DIAT1 0.83 / 0.97, DIAT2 0.78 / 1.00, DIAT3 0.78 / 1.00 (success / identity, equal budgets);
  mouth_close: 0.55 / 1.00, L1 in 0.031 (copy 0.027); eyeglasses_remove: 0.39 / 1.00, L1 in 0.039 (copy 0.027).
* issue 23, ``--recipe select_val --tasks mouth_close,eyeglasses_remove --variant-tasks '' --gan-steps 1600 --val 32
  --jobs 2`` (twice the steps, and the network of the best of 40 evaluations on 32 *validation* identities,
  ``facekit.methods.diat.val_rank``; mouth_open and its variants keep the local_d networks above, the global tasks
  the change_l1 ones): 1596 s wall (27 min; the shared stages retrained, 177 s, as on a fresh machine; each job
  1385 s). Stored networks 79.7-84.4 dB PSNR against float32. On 64 test identities, shipped (selected) vs the last
  step's network:
  mouth_close: selected step 1600 (the last), success 0.72, identity 1.00, others 0.97, L1 in mask 0.031 (copy
  0.027), L1 outside 0.0015 (validation at that step: 0.81);
  eyeglasses_remove: selected step 720, success 0.80, identity 1.00, others 0.96, L1 in mask 0.042 (copy 0.027),
  L1 outside 0.0008 (validation 0.88: 32 faces overrate the best of 40); the last step: 0.55 / 1.00, L1 in 0.031.
  Targets still missed: mouth_close's success (0.72 < 0.8) and every local task's L1 inside the mask (the edit
  draws a mouth / skin that is further from the true one than the unedited region is).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from facekit import distributed as fdist  # noqa: E402
from facekit.config import seed_everything  # noqa: E402
from facekit.methods import diat as M  # noqa: E402
from facekit.nn import TransformNet, face_network  # noqa: E402

WEIGHTS = ROOT / "facekit" / "weights"
VARIANT_NAMES = {"DIAT-A": "diat_a_{t}", "DIAT1": "diat1_{t}", "DIAT2": "diat2_{t}", "DIAT3": "diat_{t}"}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def atomic_save(obj: Any, path: Path) -> None:
    if not fdist.is_main():  # under torchrun rank 0 alone writes
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def cached(path: Path, make: Any) -> Any:
    if not fdist.is_main():
        fdist.barrier()  # under torchrun: rank 0 makes the file, the others then read it
        return torch.load(path, weights_only=True)
    obj = torch.load(path, weights_only=True) if path.is_file() else None
    if obj is None:
        obj = make()
        atomic_save(obj, path)
    fdist.barrier()
    return obj


def relative_command() -> str:
    """The command line, without the folders of this machine (checkpoints, output)."""
    argv, skip = [], False
    for a in sys.argv[1:]:
        if skip:
            skip = False
            continue
        if a in ("--checkpoint-dir", "--out"):
            skip = True
            continue
        if a.startswith(("--checkpoint-dir=", "--out=")):
            continue
        argv.append(a)
    return "OMP_NUM_THREADS=1 python scripts/train_diat.py " + " ".join(shlex.quote(a) for a in argv)


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--recipe", default="ema_bf16", choices=list(M.LADDER), help="the ladder rung to train with")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--inputs", type=int, default=2000, help="input set per task (section 5.1: 2,000)")
    p.add_argument("--guided", type=int, default=1000, help="guided set per task")
    p.add_argument("--pretrain-images", type=int, default=2000)
    p.add_argument("--pretrain-steps", type=int, default=300, help="auto-encoder steps (sigmoid recipes only)")
    p.add_argument("--enhance-steps", type=int, default=150, help="global enhancer steps (eq. 11)")
    p.add_argument("--reg-steps", type=int, default=60, help="steps of g (eq. 4); f gets twice as many")
    p.add_argument("--d-steps", type=int, default=200, help="D pre-training steps per task (eq. 9)")
    p.add_argument("--gan-steps", type=int, default=480, help="GAN steps of T per task and variant")
    p.add_argument("--local-enhance-steps", type=int, default=100)
    p.add_argument("--tasks", default=",".join(M.TASKS))
    p.add_argument("--variant-tasks", default="mouth_open,male_to_female",
                   help="tasks on which DIAT1, DIAT2 and DIAT3 are trained too (section 5.1's comparison)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--test", type=int, default=64, help="test identities scored per task")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--checkpoint-dir", default=str(Path.home() / ".cache" / "facekit" / "train_diat"))
    p.add_argument("--out", default=str(WEIGHTS))
    p.add_argument("--eval-every", type=int, default=40, help="validation scores every this many GAN steps")
    p.add_argument("--val", type=int, default=16, help="validation identities of the periodic scores")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--job", nargs=2, metavar=("VARIANT", "TASK"), help=argparse.SUPPRESS)
    return p.parse_args()


def load_data(args: argparse.Namespace, ck: Path) -> Tuple[Dict[str, M.TaskData], torch.Tensor]:
    def make_task(t: str) -> Dict[str, Any]:
        td = M.synth_task_data(t, n_inputs=args.inputs, n_guided=args.guided, size=args.size, seed=args.seed)
        return {"inputs": td.inputs, "guided": td.guided, "landmarks": td.input_landmarks}

    tasks = [t for t in args.tasks.split(",") if t]
    data = {}
    for t in tasks:
        d = cached(ck / f"data_{t}.pt", lambda t=t: make_task(t))
        data[t] = M.TaskData(M.TASKS[t], d["inputs"], d["guided"], d["landmarks"])
    faces = cached(ck / "faces.pt", lambda: M.synth_pretrain_images(args.pretrain_images, size=args.size,
                                                                    seed=args.seed))
    return data, faces


def config(args: argparse.Namespace, variant: str) -> M.DIATConfig:
    return M.ladder_config(args.recipe, base=variant, batch_size=args.batch_size)


def shared_stages(args: argparse.Namespace, ck: Path, faces: torch.Tensor, times: Dict[str, float]) -> Dict[str, Any]:
    """The auto-encoder (sigmoid recipes), the global enhancer, g and f: shared by every task."""
    cfg = config(args, "DIAT-A")
    common = dict(batch_size=args.batch_size, seed=args.seed, device=device(), progress=False)
    out: Dict[str, Any] = {}
    ck = ck / f"shared_{cfg.arch}_{cfg.output}"  # what the shared stages depend on

    def timed(name: str, fn: Any) -> Any:
        t0 = time.perf_counter()
        r = fn()
        times[name] = round(time.perf_counter() - t0, 1)
        print(f"[train_diat] {name}: {times[name]} s", flush=True)
        return r

    start = cfg.transform_net()  # residual: the identity map; sigmoid: the auto-encoder of eq. (8)
    if not cfg.uses_masks:
        start, _ = timed("pretrain_T", lambda: M.pretrain_transform(
            faces, steps=args.pretrain_steps, net=start, checkpoint_dir=ck / "pretrain_T", **common))
        out["autoencoder"] = start
    out["E_global"], out["h_global"] = timed("global_enhancer", lambda: M.train_global_enhancer(
        faces, steps=args.enhance_steps, init=start, checkpoint_dir=ck / "enhance_global", **common))
    face_net = face_network()
    g, _ = timed("g", lambda: M.train_reconstruction(faces, face_net, steps=args.reg_steps, init=start,
                                                      checkpoint_dir=ck / "g", **common))
    out["f"], _ = timed("f", lambda: M.train_denoiser(faces, g, steps=2 * args.reg_steps, checkpoint_dir=ck / "f",
                                                      **common))
    out["face_net"] = face_net
    return out


def device() -> torch.device:
    """This process's device: its GPU (or the CPU) under torchrun, the CPU otherwise."""
    return fdist.local_device() if fdist.is_distributed() else torch.device("cpu")


def run_job(args: argparse.Namespace, variant: str, task: str) -> None:
    """One (variant, task): D by eq. (9), T by Algorithm 1, and the local enhancer for DIAT-A on a local task."""
    if not fdist.is_distributed():
        torch.set_num_threads(1)
    seed_everything(args.seed)
    ck = Path(args.checkpoint_dir)
    job = ck / args.recipe / f"{variant}_{task}"
    data, faces = load_data(args, ck)
    shared = shared_stages(args, ck, faces, {})  # read back from their checkpoints
    cfg = config(args, variant)
    val = M.synth_test_data(task, args.val, size=args.size, seed=args.seed, split="val")  # periodic scores
    t0 = time.perf_counter()
    T, _, rec = M.train_task(data[task], cfg, steps=args.gan_steps, d_steps=args.d_steps,
                             autoencoder=shared.get("autoencoder"), face_net=shared["face_net"],
                             denoiser=shared["f"] if cfg.gamma_smooth > 0 else None, seed=args.seed, device=device(),
                             checkpoint_dir=job, eval_fn=M.progress_eval(val, n=args.val), eval_every=args.eval_every,
                             progress=False)
    T, shared["face_net"] = T.cpu(), shared["face_net"].cpu()
    last = rec.pop("last_network", None)  # select_val: the last step's network, scored beside the selected one
    result: Dict[str, Any] = {"T": T.state_dict(), "T_config": dict(T.config), "record": rec, "steps": args.gan_steps,
                              "wall_s": round(time.perf_counter() - t0, 1)}
    if last is not None:
        result["T_last"] = last.cpu().state_dict()
    if variant == "DIAT-A" and M.TASKS[task].local:
        t1 = time.perf_counter()
        E, h = M.train_local_enhancer(data[task], T, shared["face_net"], steps=args.local_enhance_steps,
                                      batch_size=args.batch_size, seed=args.seed, device=device(),
                                      checkpoint_dir=job / "enhance", progress=False)
        E = E.cpu()
        result.update(E=E.state_dict(), E_config=dict(E.config), enhance_s=round(time.perf_counter() - t1, 1))
    atomic_save(result, job / "final.pt")


def main() -> int:
    args = parse()
    if args.job:
        run_job(args, *args.job)
        return 0
    distributed = fdist.init_from_env()  # under torchrun: every stage with DistributedDataParallel, jobs in turn
    if not distributed:
        torch.set_num_threads(1)
    seed_everything(args.seed)
    ck, out = Path(args.checkpoint_dir), Path(args.out)
    ck.mkdir(parents=True, exist_ok=True)
    times: Dict[str, float] = {}
    t_all = time.perf_counter()
    data, faces = load_data(args, ck)
    shared = shared_stages(args, ck, faces, times)
    tasks = list(data)
    vtasks = [t for t in args.variant_tasks.split(",") if t in tasks]
    jobs = [("DIAT-A", t) for t in tasks] + [(v, t) for t in vtasks for v in ("DIAT1", "DIAT2", "DIAT3")]
    jobs_dir = ck / args.recipe

    # 5. the jobs, two at a time (a finished job's final.pt is kept unless --gan-steps grew)
    def done(v: str, t: str) -> bool:
        f = jobs_dir / f"{v}_{t}" / "final.pt"
        return f.is_file() and torch.load(f, weights_only=True)["steps"] == args.gan_steps

    todo = sorted((j for j in jobs if not done(*j)), key=lambda j: (j[0] != "DIAT-A", j[1] in vtasks))
    if distributed:  # one job after the other, each on every process (--jobs does not apply)
        for v, t in todo:
            print(f"[train_diat] start {v} {t} on {fdist.world_size()} processes", flush=True)
            t0 = time.perf_counter()
            run_job(args, v, t)
            fdist.barrier()  # rank 0 has written final.pt
            times[f"{v}_{t}"] = round(time.perf_counter() - t0, 1)
        todo = []
        if not fdist.is_main():
            return 0
        shared = {k: (m.cpu() if isinstance(m, torch.nn.Module) else m) for k, m in shared.items()}
    running: List[Any] = []
    base = [sys.executable, str(Path(__file__).resolve())] + sys.argv[1:]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    while todo or running:
        while todo and len(running) < args.jobs:
            v, t = todo.pop(0)
            jobs_dir.mkdir(parents=True, exist_ok=True)
            log = open(jobs_dir / f"{v}_{t}.log", "a")
            print(f"[train_diat] start {v} {t}", flush=True)
            running.append((subprocess.Popen(base + ["--job", v, t], env=env, stdout=log, stderr=log), v, t,
                            time.perf_counter()))
        time.sleep(5)
        for item in list(running):
            if item[0].poll() is not None:
                running.remove(item)
                if item[0].returncode != 0:
                    raise SystemExit(f"job {item[1]} {item[2]} failed (exit {item[0].returncode}): see its log in "
                                     "the checkpoint folder")
                times[f"{item[1]}_{item[2]}"] = round(time.perf_counter() - item[3], 1)
                print(f"[train_diat] done {item[1]} {item[2]}: {times[f'{item[1]}_{item[2]}']} s", flush=True)

    # 6. networks, scores on test identities, files
    shipped: Dict[str, torch.nn.Module] = {"diat_enhance_global": shared["E_global"]}
    records: Dict[str, Any] = {}
    last_nets: Dict[str, torch.nn.Module] = {}
    for v, t in jobs:
        res = torch.load(jobs_dir / f"{v}_{t}" / "final.pt", weights_only=True)
        T = TransformNet(**res["T_config"])
        T.load_state_dict(res["T"])
        shipped[VARIANT_NAMES[v].format(t=t)] = T.eval()
        if "T_last" in res:  # not shipped: scored to show what selecting on validation buys
            T_last = TransformNet(**res["T_config"])
            T_last.load_state_dict(res["T_last"])
            last_nets[f"{v}_{t}"] = T_last.eval()
        if "E" in res:
            E = M.LocalEnhancer(**res["E_config"])
            E.load_state_dict(res["E"])
            shipped[f"diat_enhance_{t}"] = E.eval()
        records[f"{v}_{t}"] = {"train_s": res["record"]["train_s"], "evals": res["record"]["evals"],
                               "enhance_s": res.get("enhance_s"),
                               "d_real_last50": round(float(torch.tensor(res["record"]["history"]["d_real"][-50:]).mean()), 3),
                               "d_fake_last50": round(float(torch.tensor(res["record"]["history"]["d_fake"][-50:]).mean()), 3)}
        if "selected_step" in res["record"]:
            records[f"{v}_{t}"]["selected_step"] = res["record"]["selected_step"]

    def score(nets: Dict[str, torch.nn.Module]) -> Dict[str, Any]:
        results: Dict[str, Any] = {}
        for t in tasks:
            task = M.TASKS[t]
            test = M.synth_test_data(t, args.test, size=args.size, seed=args.seed)
            enh = nets["diat_enhance_global"] if not task.local else nets[f"diat_enhance_{t}"]
            ed = lambda T, E=None: M.edit(test.sources, T, t, E, masks=test.masks)  # noqa: E731
            res = {"copy": M.score_task(test.sources, test),
                   "DIAT-A0": M.score_task(ed(nets[f"diat_a_{t}"]), test),
                   "DIAT-A": M.score_task(ed(nets[f"diat_a_{t}"], enh), test)}
            if f"DIAT-A_{t}" in last_nets:  # the last step's DIAT-A, not shipped (the shipped one: select_val)
                res["DIAT-A (last step)"] = M.score_task(ed(last_nets[f"DIAT-A_{t}"], enh), test)
            if t in vtasks:
                res["DIAT1"] = M.score_task(ed(nets[f"diat1_{t}"]), test)
                res["DIAT2"] = M.score_task(ed(nets[f"diat2_{t}"]), test)
                res["DIAT3"] = M.score_task(ed(nets[f"diat_{t}"]), test)
                res["DIAT"] = M.score_task(ed(nets[f"diat_{t}"], enh), test)
            results[t] = {k: {m: (round(x, 4) if isinstance(x, float) else x) for m, x in r.items()}
                          for k, r in res.items()}
            print(f"[train_diat] {t}: " + json.dumps(results[t]), flush=True)
        return results

    hashes, psnr_int8 = {}, {}
    from facekit import hub
    from facekit.eval import psnr

    x = M.synth_test_data("mouth_open", 16, size=args.size, seed=args.seed, split="val")
    for name, net in shipped.items():
        task = next((t for t in M.TASKS if name.endswith(t)), None)
        meta = {"name": name, "class": type(net).__name__, "size": args.size, "task": task,
                "recipe": args.recipe, "train": "scripts/train_diat.py", "gan_form": "non_saturating"}
        path = M.save_network(net, name, out, meta=meta, quantize="int8")
        hashes[name] = sha256(path)
        obj = hub.unpack_checkpoint(hub.read_weights(path))  # the stored file, read back as users get it
        back = type(net)(**obj["config"])
        back.load_state_dict(obj["state_dict"])
        src = x.sources
        if isinstance(net, M.LocalEnhancer):
            a, b = net(src, src), back(src, src)
        else:
            kw = {"masks": x.masks} if getattr(net, "output", "") == "residual" else {}
            a, b = M.transform_images(net, src, **kw), M.transform_images(back, src, **kw)
        psnr_int8[name] = round(float(psnr(b.clamp(0, 1), a.clamp(0, 1))), 2)
        shipped[name] = back.eval()
    results = score(shipped)  # the stored (8-bit) networks, as users load them
    wall = round(time.perf_counter() - t_all, 1)
    record = {"command": relative_command(), "recipe": args.recipe, "config": dataclass_dict(config(args, "DIAT-A")),
              "args": {k: v for k, v in vars(args).items() if k not in ("checkpoint_dir", "out", "job")},
              "torch_threads": 1, "wall_s_this_call": wall, "stage_s": times, "jobs": records, "scores": results,
              "int8_psnr_vs_float32_db": psnr_int8, "face_network": shared["face_net"].description,
              "sha256": hashes}
    old_file = out / "diat_train.json"
    if old_file.is_file():  # a call for some tasks: the other tasks' records (from earlier calls) are kept
        old = json.loads(old_file.read_text())
        older = old.pop("other_calls", [])
        kept = {t: s for t, s in old.get("scores", {}).items() if t not in results}
        if kept:
            old["scores"] = kept
            old["jobs"] = {k: v for k, v in old.get("jobs", {}).items() if k.split("_", 1)[1] in kept}
            old["sha256"] = {k: v for k, v in old.get("sha256", {}).items()
                             if k not in hashes and (k == "diat_enhance_global" or any(k.endswith(t) for t in kept))}
            record["other_calls"] = [old] + [c for c in older if set(c.get("scores", {})) - set(results)]
    old_file.write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps({"wall_s": wall, "sha256": hashes, "int8_psnr": psnr_int8}), flush=True)
    return 0


def dataclass_dict(cfg: Any) -> Dict[str, Any]:
    import dataclasses

    return dataclasses.asdict(cfg)


if __name__ == "__main__":
    raise SystemExit(main())
