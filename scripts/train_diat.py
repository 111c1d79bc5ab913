"""Train the shipped DIAT / DIAT-A networks (Li, Zuo, Zhang, arXiv 1610.05586 v1) on SynthFaces and ship them.

What it does (every stage through ``facekit.train.Trainer``, checkpointed in ``--checkpoint-dir/<stage>``; re-running
the same command resumes where it stopped, stage by stage, with the same batches):

1. data (section 5.1): for each of the five tasks an input set of ``--inputs`` faces without the attribute and a
   guided set of ``--guided`` faces with it, from SynthFaces *train* identities at ``--size`` px
   (``facekit.methods.diat.synth_task_data``), plus ``--pretrain-images`` faces with random states for the
   pre-training ("all faces"); cached in the checkpoint folder;
2. Algorithm 1 step 2: the transform network pre-trained as an auto-encoder, eq. (8) (shared by every task);
3. the global enhancement network, eq. (11) (deblurring, sigma 1.8; initialised from the auto-encoder);
4. DIAT's regulariser: g by eq. (4) and the denoiser f by eq. (5) (face network: ``facekit.nn.face_network()``,
   the shipped SynthFaceNet offline);
5. per task: D pre-trained by eq. (9), then DIAT-A (eq. (14), lr 1e-5, no l_smooth) for ``--gan-steps``; for
   mouth_open and male_to_female also DIAT (eq. (7), lambda 0.1, gamma 0.001, lr 1e-4) for ``--diat-steps``;
   for each local task the local enhancer, eq. (10), on the DIAT-A transform network;
6. scores every shipped model on 64 *test* identities against the exact counterfactuals
   (``facekit.methods.diat.score_task``), writes ``facekit/weights/diat_*.pt`` (float16, the hub format) with
   ``diat_*.json`` beside each, and ``diat_train.json`` (the command, wall times, figures) and prints the SHA-256
   of every file for ``facekit.hub``.

The transform network's GAN loss is the **non-saturating** form (``--gan-form``; the paper's minimax form
:math:`\\log(1 - D(T(x)))` gives T almost no gradient while the pre-trained D rejects T(x), and the printed eq. (3),
:math:`1 - \\log D(T(x))`, *is* the non-saturating loss plus 1 for T). Everything else is the paper's.

Command (the shipped weights; the defaults are a larger budget that did not fit this session)::

    OMP_NUM_THREADS=1 python scripts/train_diat.py --threads 1 --pretrain-steps 300 --enhance-steps 120 \
        --reg-steps 30 --d-steps 40 --gan-steps 120 --diat-steps 80 --local-enhance-steps 40 --batch-size 8

Record of the shipped run (2 CPU cores shared with three other jobs, one torch thread; the full record, written by
this script, is ``facekit/weights/diat_train.json``, which chapter 6 prints):

* 1,440 s wall (24 min): data 0.4 s (cached; 160 s to render 2,000 pre-training faces and 2,000 + 1,000 per task),
  auto-encoder 243 s (300 steps), global enhancer 55 s, g 24 s, f 29 s, D pre-training 5-12 s per task,
  DIAT-A 87-190 s per task (120 steps of 8: 0.7-1.6 s per step as the machine's load changed), DIAT 105 s
  (mouth_open) and 63 s (male_to_female) for 80 steps, local enhancers 56-101 s;
* test identities (64 per task), DIAT-A (with enhancer) / copy baseline: attribute success mouth_open 1.00,
  mouth_close 0.03, eyeglasses_remove 0.80, male_to_female 0.98, older_to_younger 0.28; identity kept 0.00-0.05
  everywhere (copy: 1.00); L1 inside the mask 0.114 / 0.028, 0.100 / 0.027, 0.118 / 0.027, 0.213 / 0.077,
  0.178 / 0.003: **no edit beats copying the input inside the mask**, so the oracle's attribute successes are the
  blur / dither artefacts issue 17 warned about, not edits. None of the issue's targets is met;
* an earlier run with a quarter of the budget (``--pretrain-steps 60 --gan-steps 40 --diat-steps 30``, 635 s)
  scored the same way (identity kept 0.00-0.03, no task beating the copy baseline);
* files: 11 networks, 21.3 MB in float16 (``facekit/weights`` holds 31 MB in all); SHA-256 in ``facekit.hub``.
  Periodic scores and samples (``--eval-every``) were added after this run.

What would reach the targets is a budget this machine cannot give: DIAT-A trains at about 5-11 images per second
here (``bench/diat.py``'s ``train_img_per_s``), so the many thousand steps per task (after a long auto-encoder
pre-training) that the issue asks for would take many hours per task; on a GPU it is minutes.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Dict

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from facekit.config import seed_everything  # noqa: E402
from facekit.methods import diat as M  # noqa: E402
from facekit.nn import AttributeDiscriminator, TransformNet, face_network  # noqa: E402

WEIGHTS = ROOT / "facekit" / "weights"
DIAT_TASKS = ("mouth_open", "male_to_female")  # DIAT (with the regulariser): one local, one global task


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cached(path: Path, make: Any) -> Any:
    if path.is_file():
        return torch.load(path, weights_only=True)
    obj = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(obj, path)
    return obj


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--inputs", type=int, default=2000, help="input set per task (section 5.1: 2,000)")
    p.add_argument("--guided", type=int, default=1000, help="guided set per task")
    p.add_argument("--pretrain-images", type=int, default=2000)
    p.add_argument("--pretrain-steps", type=int, default=150)
    p.add_argument("--enhance-steps", type=int, default=100)
    p.add_argument("--reg-steps", type=int, default=60, help="steps of g (eq. 4); f gets twice as many")
    p.add_argument("--d-steps", type=int, default=60, help="D pre-training steps per task (eq. 9)")
    p.add_argument("--gan-steps", type=int, default=150, help="DIAT-A steps per task")
    p.add_argument("--diat-steps", type=int, default=120, help="DIAT steps for mouth_open and male_to_female")
    p.add_argument("--local-enhance-steps", type=int, default=60)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--gan-form", default="non_saturating", choices=["minimax", "non_saturating", "as_printed"])
    p.add_argument("--test", type=int, default=64, help="test identities scored per task")
    p.add_argument("--checkpoint-dir", default=str(Path.home() / ".cache" / "facekit" / "train_diat"))
    p.add_argument("--out", default=str(WEIGHTS))
    p.add_argument("--eval-every", type=int, default=0,
                   help="score 16 test faces and save samples every this many GAN steps (0: off; does not change "
                        "the trained weights)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    ck = Path(args.checkpoint_dir)
    out = Path(args.out)
    prog = not args.no_progress
    times: Dict[str, float] = {}
    t_all = time.perf_counter()

    def timed(name: str, fn: Any) -> Any:
        t0 = time.perf_counter()
        r = fn()
        times[name] = round(time.perf_counter() - t0, 1)
        print(f"[train_diat] {name}: {times[name]} s", flush=True)
        return r

    # 1. data
    def make_data() -> Dict[str, Any]:
        d: Dict[str, Any] = {"pretrain": M.synth_pretrain_images(args.pretrain_images, size=args.size, seed=args.seed)}
        for t in M.TASKS:
            td = M.synth_task_data(t, n_inputs=args.inputs, n_guided=args.guided, size=args.size, seed=args.seed)
            d[t] = {"inputs": td.inputs, "guided": td.guided, "landmarks": td.input_landmarks}
        return d

    raw = timed("data", lambda: cached(ck / "data.pt", make_data))
    data = {t: M.TaskData(M.TASKS[t], raw[t]["inputs"], raw[t]["guided"], raw[t]["landmarks"]) for t in M.TASKS}
    faces = raw["pretrain"]
    face_net = face_network()
    common = dict(batch_size=args.batch_size, seed=args.seed, device="cpu", progress=prog)

    # 2. the auto-encoder, eq. (8)
    T0, h_pre = timed("pretrain_T", lambda: M.pretrain_transform(faces, steps=args.pretrain_steps,
                                                                checkpoint_dir=ck / "pretrain_T", **common))
    # 3. the global enhancer, eq. (11)
    E_glob, h_glob = timed("global_enhancer", lambda: M.train_global_enhancer(
        faces, steps=args.enhance_steps, init=T0, checkpoint_dir=ck / "enhance_global", **common))
    # 4. the regulariser, eq. (4)-(5)
    g, h_g = timed("g", lambda: M.train_reconstruction(faces, face_net, steps=args.reg_steps, init=T0,
                                                        checkpoint_dir=ck / "g", **common))
    f, h_f = timed("f", lambda: M.train_denoiser(faces, g, steps=2 * args.reg_steps, checkpoint_dir=ck / "f", **common))

    probe = {t: M.synth_test_data(t, 16, size=args.size, seed=args.seed + 1) for t in M.TASKS}  # periodic scores
    results: Dict[str, Any] = {}
    shipped: Dict[str, Any] = {"diat_enhance_global": E_glob}
    curves: Dict[str, Any] = {"pretrain_T": h_pre.terms.get("rec", []), "enhance_global": h_glob.terms.get("deblur", [])}
    for t, task in M.TASKS.items():
        D0, h_d = timed(f"pretrain_D_{t}", lambda: M.pretrain_discriminator(
            data[t], steps=args.d_steps, checkpoint_dir=ck / f"pretrain_D_{t}", **common))
        curves[f"pretrain_D_{t}"] = h_d.terms.get("dis", [])
        variants = [("DIAT-A", f"diat_a_{t}", args.gan_steps)]
        if t in DIAT_TASKS:
            variants.append(("DIAT3", f"diat_{t}", args.diat_steps))
        for vname, hub_name, steps in variants:
            cfg = M.DIATConfig.variant(vname, gan_form=args.gan_form, batch_size=args.batch_size)
            T, D, h = timed(f"{vname}_{t}", lambda: M.train_transform(
                data[t], cfg, steps=steps, T=copy.deepcopy(T0), D=copy.deepcopy(D0), face_net=face_net,
                denoiser=f if cfg.gamma_smooth > 0 else None, seed=args.seed, device="cpu",
                checkpoint_dir=ck / f"{vname}_{t}", checkpoint_every=25, progress=prog,
                eval_fn=M.progress_eval(probe[t], sample_dir=ck / f"{vname}_{t}" / "samples") if args.eval_every else None,
                eval_every=args.eval_every or None))
            shipped[hub_name] = T
            curves[f"{vname}_{t}"] = {k: v for k, v in h.terms.items()}
            curves[f"{vname}_{t}_evals"] = h.evals
        if task.local:
            E, h_e = timed(f"local_enhancer_{t}", lambda: M.train_local_enhancer(
                data[t], shipped[f"diat_a_{t}"], face_net, steps=args.local_enhance_steps,
                checkpoint_dir=ck / f"enhance_{t}", **common))
            shipped[f"diat_enhance_{t}"] = E

    # 6. scores on test identities
    for t, task in M.TASKS.items():
        test = M.synth_test_data(t, args.test, size=args.size, seed=args.seed)
        enh = shipped["diat_enhance_global"] if not task.local else shipped[f"diat_enhance_{t}"]
        res = {"copy": M.score_task(test.sources, test),
               "DIAT-A0": M.score_task(M.edit(test.sources, shipped[f"diat_a_{t}"], t), test),
               "DIAT-A": M.score_task(M.edit(test.sources, shipped[f"diat_a_{t}"], t, enh), test)}
        if f"diat_{t}" in shipped:
            res["DIAT3"] = M.score_task(M.edit(test.sources, shipped[f"diat_{t}"], t), test)
            res["DIAT"] = M.score_task(M.edit(test.sources, shipped[f"diat_{t}"], t, enh), test)
        results[t] = res
        print(f"[train_diat] {t}: " + json.dumps({k: {m: round(v, 3) if isinstance(v, float) else v
                                                        for m, v in r.items()} for k, r in res.items()}), flush=True)

    wall = round(time.perf_counter() - t_all, 1)
    record = {"command": "OMP_NUM_THREADS=%s python scripts/train_diat.py %s" % (
        os.environ.get("OMP_NUM_THREADS", "unset"), " ".join(sys.argv[1:])), "args": vars(args),
        "torch_threads": torch.get_num_threads(), "wall_s": wall, "stage_s": times, "scores": results,
        "face_network": face_net.description}
    hashes = {}
    for name, net in shipped.items():
        meta = {"name": name, "class": type(net).__name__, "size": args.size, "train": "scripts/train_diat.py",
                "gan_form": args.gan_form}
        path = M.save_network(net, name, out, meta=meta)
        hashes[name] = sha256(path)
    record["sha256"] = hashes
    (out / "diat_train.json").write_text(json.dumps(record, indent=1) + "\n")
    torch.save({k: v for k, v in curves.items()}, ck / "curves.pt")
    print(json.dumps({"wall_s": wall, "sha256": hashes}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
