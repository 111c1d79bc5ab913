"""Train the eye-to-face generator (Tse et al., *From an Eye to a Face*) on SynthFaces and ship it.

What it does
------------
1. Section III data: renders ``--images`` SynthFaces *training* identities' images at 128 px (every MultiPIE yaw,
   all 20 lights, random accessories and expressions; ``facekit.methods.eye2face.synth_eye_face_pairs``) and runs
   the Haar pipeline: exactly one face and two eyes, two eye (32x32) -> face (128x128) pairs per kept image. The
   pairs are cached in the checkpoint folder.
2. Section IV/V training: :class:`facekit.nn.EyeToFace` with the ``--loss`` of section IV (default the paper's
   balanced feature loss, focus layer scaled from the paper's 10 of 22 to SynthFaceNet's 19 layers: 9 =
   ``relu3_3``), Adam at the paper's learning rate 1e-3, through :class:`facekit.train.Trainer` (checkpoints every
   25 steps in ``--checkpoint-dir``; re-running the same command resumes). The loss network is SynthFaceNet (the
   shipped one; ``--loss-network vgg19`` uses VGG19 with Caffe preprocessing where its ImageNet weights exist).
   The paper trains 150 epochs of 15,000 pairs with batch 64 on a GPU; on a CPU we train ``--steps`` batches of
   ``--batch-size`` (a few epochs of our pairs).
3. Scores the result and the untrained generator (the same initial weights) on pairs of *test* identities
   (``--test-images`` renders; never trained on) with ``facekit.methods.eye2face.score_faces`` (the SynthFaces
   oracle: identity kept, attributes kept; L1 / PSNR / SSIM against the true face).
4. Writes ``facekit/weights/eye2face.pt`` (hub format ``{"state_dict" (float16), "config"}``, read with
   ``torch.load(weights_only=True)``) and ``eye2face.json`` (the command, wall time and figures), and prints
   the file's SHA-256.

Several GPUs (or CPU processes): ``torchrun --standalone --nproc_per_node N scripts/train_eye2face.py --loss
balanced --steps S --batch-size B`` trains the same run with ``DistributedDataParallel`` (``--batch-size`` is the
global batch, a multiple of N; each process takes B / N of it; on GPUs BatchNorm is made ``SyncBatchNorm`` so it
sees the whole batch; rank 0 writes the checkpoints, the weights and the record). ``--losses`` is not for torchrun.

5. ``--losses l1,normalized,balanced,wgan_gp`` (the loss comparison of chapter 4): one generator per loss of
   ``facekit.methods.eye2face.COMPARED_LOSSES`` (``wgan_gp``: the conditional WGAN-GP baseline of section V,
   ``train_wgan_gp``), trained one after the other from the same initial weights, on the same pairs in the same
   order, for the same ``--steps`` of ``--batch-size`` (for the WGAN-GP these are generator steps, each after five
   critic steps). Checkpoints go to ``runs/eye2face_losses/<loss>`` (the pairs are cached in
   ``runs/eye2face_losses``); re-running resumes, also with a larger ``--steps`` (each loss continues from its last
   checkpoint and ends with the weights of an uninterrupted run). Each generator is written to
   ``facekit/weights/eye2face_<loss>.pt`` in 8 bits (``--quantize int8``: ``facekit.hub.save(..., quantize="int8")``,
   per-channel int8 weights and float16 for the rest, so that four files fit the package's 50 MB of weights) with
   ``eye2face_<loss>.json``; its scores on the test pairs are those of the stored file, and
   ``stored_vs_float16_output_psnr`` is the PSNR between the faces of the stored generator and of its float16
   copy on the test eyes. ``eye2face_losses.json`` collects the command, the budget against the paper's, the wall
   times and the figures. ``--jobs 2`` trains two losses at once, one process each (``--threads`` each), the
   WGAN-GP first: each loss's result does not depend on it.

Command (the shipped weights: the four per-loss generators of chapter 4's comparison, and the balanced one again
in float16 as the default ``eye2face.pt``)::

    python scripts/train_eye2face.py --losses l1,normalized,balanced,wgan_gp --images 5000 --steps 1440 \\
        --batch-size 32 --threads 1 --jobs 2 --ship-default balanced

Record of that run (2 CPU cores; the full record, written by this script, is ``facekit/weights/eye2face_losses.json``,
``eye2face_<loss>.json`` and ``eye2face.json``, which chapter 4 prints):

* budget, equal for the four: 1440 steps of 32 pairs = 46,080 images = 12.26 epochs of 3,760 pairs (5,000 renders of
  SynthFaces, yield 0.376), seed 0, Adam 1e-3. The paper: 150 epochs of 15,000 pairs = 2,250,000 images, 49 times
  more (this is 2.05 % of it);
* how it ran: first to 240 steps (the earlier comparison, several restarts), then continued to 960 with ``--jobs 2``
  and 1 thread each (3,595 s for that invocation), then to 1440 (this command; 3,396 s, of which about
  30 min shared the cores with a CI run). Each invocation resumed every loss from its last checkpoint (every 25
  steps), so each generator has the weights of an uninterrupted run. Training seconds in the JSON sum the
  invocations that finished: l1 1,319, normalized 3,212, balanced 4,330, WGAN-GP 7,469 (the
  interrupted ones took a few more minutes each);
* test identities (218 pairs of 300 test renders), stored files (int8), against the untrained generator (PSNR
  12.31 dB, L1 0.211, identity kept 0.00, recall@1 0.009; chance recall@1 0.014, 73 test identities):

  - l1: PSNR 18.18 dB, L1 0.092, identity kept 0.83 (false match 0.61), recall@1 0.060;
  - normalized: PSNR 17.47 dB, L1 0.102, identity kept 0.96 (false match 0.82), recall@1 0.115;
  - balanced: PSNR 17.23 dB, L1 0.106, identity kept 0.91 (false match 0.66), recall@1 0.105;
  - wgan_gp: PSNR 14.27 dB, L1 0.153, identity kept 0.50 (false match 0.41), recall@1 0.041;

  At 960 steps (the same command with ``--steps 960``): l1 17.94 dB / identity kept 0.77 / recall@1 0.064,
  normalized 17.43 / 0.95 / 0.092, balanced 16.75 / 0.84 / 0.078, WGAN-GP 13.86 / 0.36 / 0.028;
* storage: 1.37 MB per file (int8; the float16 ``eye2face.pt`` is 2.67 MB), faces of the stored generator against
  those of its float16 copy on the test eyes: PSNR 58.14 (l1), 59.08 (normalized), 50.45 (balanced), 50.49 (WGAN-GP) dB;
* the default ``eye2face.pt`` (the balanced generator in float16), on the same pairs: PSNR 17.22 dB, L1 0.107,
  identity kept 0.91, attributes kept 0.75. It replaces the earlier default (the single-loss run
  ``--images 5000 --steps 480 --batch-size 32``, trained on SynthFaces before its noses changed), which scores
  15.13 dB, L1 0.147, identity kept 0.77 (false match 0.63), recall@1 0.073, attributes kept 0.74 on these pairs:
  3 times its budget, and one model for the comparison and the rest of chapter 4.

Record of the earlier 240-step comparison (the same command with ``--steps 240``; 0.34 % of the paper's budget):
stored-file scores l1 16.33 dB / identity kept 0.40 / recall@1 0.023, normalized 15.36 / 0.73 / 0.046, balanced
13.59 / 0.09 / 0.032, WGAN-GP 11.99 / 0.16 / 0.032. It was started as 240 steps with 2 threads, restarted with 1
thread, then with ``--steps 600`` and ``360`` with ``--jobs 2``, brought back to 240 when other jobs took the cores
(none had passed 240); the interrupted invocations took 376 s (l1, steps 0-125), 246 s (normalized 0-100), 250 s
(balanced 0-50) and 251 s (WGAN-GP 0-25), not counted in the JSON's training seconds.

The single-loss mode (without ``--losses``; ``--loss``, ``--steps``, ``--out``) trains one generator and writes it in
float16 with the same kind of record.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from facekit import distributed as fdist  # noqa: E402
from facekit.config import cache_dir, portable_command, seed_everything  # noqa: E402
from facekit.hub import atomic_save  # noqa: E402
from facekit.data.pairs import EyeFacePairs  # noqa: E402
from facekit.eval import psnr  # noqa: E402
from facekit.methods import eye2face as e2f  # noqa: E402
from facekit.nn import EyeToFace  # noqa: E402


def load_or_build_pairs(path: Path, split: str, n_images: int, seed: int) -> EyeFacePairs:
    """The section III pairs of ``n_images`` renders of ``split``, cached in ``path``."""
    if path.is_file():
        d = torch.load(path, weights_only=True)  # uint8 pixels (exact: the crops are 8-bit values / 255)
        return EyeFacePairs(d["eyes"].float() / 255, d["faces"].float() / 255, d["image_index"], d["eye_index"],
                            int(d["n_images"]))
    pairs, _ = e2f.synth_eye_face_pairs(split, n_images, seed=seed, progress=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_save({"eyes": (pairs.eyes * 255).round().to(torch.uint8), "faces": (pairs.faces * 255).round().to(torch.uint8), "image_index": pairs.image_index,
                 "eye_index": pairs.eye_index, "n_images": pairs.n_images}, path)
    return pairs


def _rounded(row: dict) -> dict:
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}


def _test_scores(generator: torch.nn.Module, test: EyeFacePairs, identity: torch.Tensor | None) -> dict:
    """``score_faces`` (SynthFaces oracle) on the test pairs, plus ``identity_check``'s false match and recall@1."""
    out = e2f.generate(generator, test.eyes)
    row = e2f.score_faces(out, test.faces, data="synth")
    if identity is not None:
        check = e2f.identity_check(out, test.faces, identity, data="synth")
        row.update(false_match=check["other_person"], recall_at_1=check["recall_at_1"])
    return _rounded(row)


def _timed_training(ckpt: Path, fn) -> tuple:
    """Run ``fn()`` and add its wall time to ``ckpt/timing.json`` (so a resumed run still reports its total)."""
    record = ckpt / "timing.json"
    before = json.loads(record.read_text()) if record.is_file() else {"seconds": 0.0, "runs": 0}
    t0 = time.time()
    result = fn()
    record.parent.mkdir(parents=True, exist_ok=True)
    total = {"seconds": before["seconds"] + time.time() - t0, "runs": before["runs"] + 1}
    record.write_text(json.dumps(total) + "\n")
    return result, total


def _command(argv: list | None) -> str:
    return portable_command("scripts/train_eye2face.py", argv)  # no absolute path of this machine in the record


def main(argv: list | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=5000, help="training renders scanned by the Haar pipeline")
    parser.add_argument("--test-images", type=int, default=300, help="test-identity renders for the scores")
    parser.add_argument("--loss", default="balanced", choices=e2f.LOSSES)
    parser.add_argument("--losses", default=None,
                        help="comma-separated losses of facekit.methods.eye2face.COMPARED_LOSSES (wgan_gp: the "
                        "conditional WGAN-GP baseline) trained one after the other with equal budgets; writes "
                        "eye2face_<loss>.pt (see --quantize) and eye2face_losses.json in --out-dir")
    parser.add_argument("--loss-network", default="synthface_net", choices=("synthface_net", "vgg19"))
    parser.add_argument("--steps", type=int, default=240)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=e2f.PAPER["lr"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (per process with --jobs)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="with --losses: train that many losses at once, one process each")
    parser.add_argument("--checkpoint-dir", type=Path, default=None,
                        help="default: <FACEKIT_HOME>/runs/eye2face_<loss> (with --losses: runs/eye2face_losses, "
                        "one sub-folder per loss)")
    parser.add_argument("--out", type=Path, default=e2f.WEIGHTS_FILE)
    parser.add_argument("--out-dir", type=Path, default=e2f.WEIGHTS_FILE.parent, help="with --losses")
    parser.add_argument("--quantize", default="int8", choices=("int8", "none"),
                        help="with --losses: how the per-loss files are stored (facekit.hub.save)")
    parser.add_argument("--ship-default", default=None, metavar="LOSS",
                        help="with --losses: also write that loss's generator, in float16, as the default "
                        "generator --out (eye2face.pt, with eye2face.json) that chapter 4 uses after the comparison")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    distributed = fdist.init_from_env()  # under torchrun: one process per GPU (or CPU share), gloo / nccl
    if args.losses is not None:
        if distributed:
            raise SystemExit("--losses trains its losses in --jobs processes of its own; under torchrun train one "
                             "--loss at a time")
        return main_losses(args, argv)
    device = fdist.local_device() if distributed else torch.device("cpu")
    ckpt = args.checkpoint_dir or cache_dir("runs", f"eye2face_{args.loss}")
    t0 = time.time()
    if not fdist.is_main():
        fdist.barrier()  # rank 0 renders and caches the pairs first; the others then read the cache
    train = load_or_build_pairs(Path(ckpt) / f"pairs_train_{args.images}.pt", "train", args.images, args.seed)
    test = load_or_build_pairs(Path(ckpt) / f"pairs_test_{args.test_images}.pt", "test", args.test_images,
                               args.seed)
    if fdist.is_main():
        fdist.barrier()
    t_data = time.time() - t0
    print(f"train: {train} (yield {e2f.pipeline_yield(train):.3f}); test: {test} ({t_data:.0f} s)")

    net = e2f.loss_network(args.loss_network, device=device)
    torch.manual_seed(args.seed)
    generator = EyeToFace()
    untrained = EyeToFace()
    untrained.load_state_dict(generator.state_dict())
    t1 = time.time()
    generator, history, trainer = e2f.train_generator(
        train, args.loss, steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
        generator=generator, net=net, device=device, checkpoint_dir=ckpt, checkpoint_every=25)
    t_train = time.time() - t1
    if not fdist.is_main():  # rank 0 alone scores, writes the weights and the record
        return {}
    generator, untrained = generator.cpu(), untrained.cpu()

    scores = {}
    for name, g in (("untrained", untrained), ("trained", generator)):
        scores[name] = e2f.score_faces(e2f.generate(g, test.eyes), test.faces)
        print(name, {k: round(v, 4) if isinstance(v, float) else v for k, v in scores[name].items()})
    losses = history.terms["loss"]
    meta = {
        "command": _command(argv),
        "loss": args.loss,
        "loss_network": net.description.split(",")[0],
        "steps": args.steps,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "train_images": train.n_images,
        "train_pairs": len(train),
        "epochs": round(args.steps * args.batch_size / len(train), 2),
        "yield": round(e2f.pipeline_yield(train), 4),
        "test_images": test.n_images,
        "test_pairs": len(test),
        "loss_first": round(losses[0], 4),
        "loss_last10": round(sum(losses[-10:]) / len(losses[-10:]), 4),
        "data_seconds": round(t_data, 1),
        "train_seconds": round(t_train, 1),
        "train_images_per_second": round(args.steps * args.batch_size / max(t_train, 1e-9), 2),
        "threads": args.threads,
        "test_scores": {k: {kk: (round(vv, 4) if isinstance(vv, float) else vv) for kk, vv in v.items()}
                        for k, v in scores.items()},
    }
    out = e2f.save_pretrained(generator, args.out, meta=meta)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    meta["sha256"] = digest
    out.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n")
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB), sha256 {digest}")
    print(json.dumps(meta))
    return meta


def _comparison_data(args: argparse.Namespace) -> tuple:
    """The cached train / test pairs of ``--losses``, the test pairs' identities, and the time it took."""
    root = Path(args.checkpoint_dir or cache_dir("runs", "eye2face_losses"))
    t0 = time.time()
    train = load_or_build_pairs(root / f"pairs_train_{args.images}.pt", "train", args.images, args.seed)
    test = load_or_build_pairs(root / f"pairs_test_{args.test_images}.pt", "test", args.test_images, args.seed)
    from facekit.data import SynthFaces  # the identities of the test pairs (for recall@1), from the image index

    ds = SynthFaces("test", size=128, n_identities=1000, length=args.test_images, poses="multipie", lights="all",
                    attributes="random", seed=args.seed)  # the renders synth_eye_face_pairs scanned
    identity = torch.tensor([ds.spec(int(i))["identity"] for i in test.image_index])
    return root, train, test, identity, time.time() - t0


def _initial_weights(seed: int) -> dict:
    torch.manual_seed(seed)
    return EyeToFace().state_dict()  # the same initial weights for every loss


def train_one_loss(kind: str, args: argparse.Namespace, argv: list | None) -> dict:
    """Train, store and score the generator of one loss (in this process or in a ``--jobs`` worker)."""
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    root, train, test, identity, _ = _comparison_data(args)
    net = e2f.loss_network(args.loss_network, device="cpu", verbose=False)
    paper_images = e2f.PAPER["epochs"] * e2f.PAPER["train_pairs"]
    ckpt = root / kind
    g = EyeToFace()
    g.load_state_dict(_initial_weights(args.seed))
    if kind == "wgan_gp":
        (g, _, history), timing = _timed_training(ckpt, lambda: e2f.train_wgan_gp(
            train, steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed, generator=g,
            device="cpu", checkpoint_dir=ckpt, checkpoint_every=25))
        curve = history.terms["generator"]
    else:
        (g, history, _), timing = _timed_training(ckpt, lambda: e2f.train_generator(
            train, kind, steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
            generator=g, net=net, device="cpu", checkpoint_dir=ckpt, checkpoint_every=25))
        curve = history.terms["loss"]
    seen = args.steps * args.batch_size
    meta = {
        "command": _command(argv),
        "loss": kind,
        "loss_network": net.description.split(",")[0] if kind != "wgan_gp" else "none (critic)",
        "steps": args.steps,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "seed": args.seed,
        "train_images": train.n_images,
        "train_pairs": len(train),
        "epochs": round(seen / len(train), 2),
        "images_seen": seen,
        "paper_images_seen": paper_images,
        "share_of_paper_budget": round(seen / paper_images, 4),
        "test_images": test.n_images,
        "test_pairs": len(test),
        "loss_first": round(curve[0], 4),
        "loss_last10": round(sum(curve[-10:]) / len(curve[-10:]), 4),
        "train_seconds": round(timing["seconds"], 1),
        "train_runs": timing["runs"],
        "train_images_per_second": round(seen / max(timing["seconds"], 1e-9), 2),
        "threads": args.threads,
        "quantize": None if args.quantize == "none" else args.quantize,
    }
    out = args.out_dir / f"eye2face_{kind}.pt"
    e2f.save_pretrained(g, out, meta=meta, quantize=meta["quantize"])
    # what the storage costs: the stored generator's faces against those of the float16 generator
    f16 = e2f.save_pretrained(g, ckpt / "generator_float16.pt")
    ref, got = e2f.generate(e2f.load_pretrained(f16), test.eyes), e2f.generate(e2f.load_pretrained(out), test.eyes)
    db = float(psnr(got, ref))
    meta["stored_vs_float16_output_psnr"] = round(db, 2) if db != float("inf") else None  # None: identical
    meta["test_scores"] = _test_scores(e2f.load_pretrained(out), test, identity)  # the file as shipped
    print(kind, meta["test_scores"], flush=True)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    meta["sha256"] = digest
    meta["file_mb"] = round(out.stat().st_size / 1e6, 3)
    out.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n")
    print(f"wrote {out} ({meta['file_mb']:.2f} MB), sha256 {digest}", flush=True)
    return meta


def main_losses(args: argparse.Namespace, argv: list | None) -> dict:
    """``--losses``: every loss from the same initial weights, pairs, batch order, steps and batch size."""
    losses = [k.strip() for k in args.losses.split(",") if k.strip()]
    bad = [k for k in losses if k not in e2f.COMPARED_LOSSES]
    if bad or not losses:
        raise SystemExit(f"--losses: unknown {bad or 'empty list'}; choose from {', '.join(e2f.COMPARED_LOSSES)}")
    if args.ship_default is not None and args.ship_default not in losses:
        raise SystemExit(f"--ship-default {args.ship_default!r} must be one of --losses ({', '.join(losses)})")
    t_start = time.time()
    root, train, test, identity, t_data = _comparison_data(args)
    print(f"train: {train} (yield {e2f.pipeline_yield(train):.3f}); test: {test} ({t_data:.0f} s)", flush=True)
    records: dict = {}
    if args.jobs > 1:  # one process per loss, the slowest first (the WGAN-GP: five critic steps per step)
        import concurrent.futures as cf
        import multiprocessing as mp

        order = sorted(losses, key=lambda k: ("wgan_gp", "balanced", "normalized", "l1").index(k))
        with cf.ProcessPoolExecutor(max_workers=args.jobs, mp_context=mp.get_context("spawn")) as pool:
            futures = {k: pool.submit(train_one_loss, k, args, argv) for k in order}
            records = {k: futures[k].result() for k in losses}
    else:
        records = {k: train_one_loss(k, args, argv) for k in losses}
    untrained = EyeToFace()
    untrained.load_state_dict(_initial_weights(args.seed))
    paper_images = e2f.PAPER["epochs"] * e2f.PAPER["train_pairs"]
    summary = {
        "command": _command(argv),
        "losses": losses,
        "steps": args.steps,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "threads": args.threads,
        "jobs": args.jobs,
        "train_pairs": len(train),
        "test_pairs": len(test),
        "epochs": round(args.steps * args.batch_size / len(train), 2),
        "paper_epochs": e2f.PAPER["epochs"],
        "paper_train_pairs": e2f.PAPER["train_pairs"],
        "images_seen": args.steps * args.batch_size,
        "paper_images_seen": paper_images,
        "data_seconds": round(t_data, 1),
        "wall_seconds_this_invocation": round(time.time() - t_start, 1),
        "untrained": _test_scores(untrained, test, identity),
        "per_loss": {k: {"file": f"eye2face_{k}.pt", "sha256": r["sha256"], "train_seconds": r["train_seconds"],
                         "loss_first": r["loss_first"], "loss_last10": r["loss_last10"],
                         "stored_vs_float16_output_psnr": r["stored_vs_float16_output_psnr"],
                         "test_scores": r["test_scores"]} for k, r in records.items()},
    }
    (args.out_dir / "eye2face_losses.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps(summary))
    if args.ship_default is not None:
        ship_default(args.ship_default, records[args.ship_default], root, train, test, untrained, t_data,
                     args.out)
    return summary


def ship_default(kind: str, record: dict, root: Path, train: EyeFacePairs, test: EyeFacePairs,
                 untrained: EyeToFace, t_data: float, out: Path) -> dict:
    """``--ship-default``: the float16 generator of ``kind`` (``<root>/<kind>/generator_float16.pt``, written by
    :func:`train_one_loss`) becomes ``--out`` with the record the single-loss run writes (chapter 4 prints it)."""
    g = e2f.load_pretrained(root / kind / "generator_float16.pt")
    scores = {name: _rounded(e2f.score_faces(e2f.generate(m, test.eyes), test.faces, data="synth"))
              for name, m in (("untrained", untrained), ("trained", g))}
    keep = ("command", "loss", "loss_network", "steps", "batch_size", "lr", "seed", "train_images", "train_pairs",
            "epochs", "images_seen", "paper_images_seen", "share_of_paper_budget", "test_images", "test_pairs",
            "loss_first", "loss_last10", "train_seconds", "train_runs", "train_images_per_second", "threads")
    meta = {k: record[k] for k in keep if k in record}
    meta.update({"yield": round(e2f.pipeline_yield(train), 4), "data_seconds": round(t_data, 1),
                 "same_generator_as": f"eye2face_{kind}.pt (stored there in {record.get('quantize') or 'float16'})",
                 "test_scores": scores})
    out = e2f.save_pretrained(g, out, meta=meta)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    meta["sha256"] = digest
    out.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n")
    print(f"default generator: wrote {out} ({out.stat().st_size / 1e6:.2f} MB), sha256 {digest}", flush=True)
    return meta


if __name__ == "__main__":
    main()
