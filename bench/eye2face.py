"""Benchmark of *From an Eye to a Face* (Tse et al.): the data pipeline, speed, and the losses compared.

Prints ONE JSON line:

* ``yield``: section III's Haar pipeline on ``--images`` SynthFaces *train* renders at 128 px (MultiPIE yaws, 20
  lights, random accessories): the share of images with exactly one face and two eyes (``pairs`` = 2 per kept
  image); ``test_yield`` the same on the ``--test-images`` test-identity renders that are scored.
* ``train_images_per_second``: per loss (``l1``, ``normalized``, ``balanced``), the median over training steps of
  batch / step time (the generator's forward and backward, the loss network's, Adam), on this CPU, with
  ``threads`` torch threads. ``inference_ms_per_image``: the generator alone, eval mode, no gradient, batch 32
  (median of 5 after warm-up, :func:`facekit.eval.seconds_per_image`).
* ``losses``: for each loss, the generator trained ``steps`` steps of ``batch_size`` pairs from the same initial
  weights, on the same pairs in the same order (``facekit.methods.eye2face.train_generator``), then scored on
  the test-identity pairs against their true faces (``score_faces``): ``identity_kept`` (the SynthFaces oracle
  judges the generated face the same person as the true one), ``identity_cosine``, ``attributes_kept``, ``psnr``
  and ``l1``; and from ``identity_check``: ``false_match`` (the oracle calls the generated face the same person as
  *another* test identity's true face; read ``identity_kept`` against it) and ``recall_at_1`` (the nearest test
  face to the generated one, by the oracle's embedding, is the right person; ``chance_recall_at_1`` is
  1 / number of test identities). ``untrained`` is the common starting point; ``shipped`` the default checkpoint ``facekit/weights/eye2face.pt``
  (the balanced generator of the per-loss run below, stored in float16: ``scripts/train_eye2face.py --losses ...
  --ship-default balanced``).
* ``shipped_losses``: the same scores for the shipped per-loss generators (``l1``, ``normalized``, ``balanced``,
  ``wgan_gp``; ``load_pretrained(loss=...)``, 8-bit weights), trained with equal budgets by one run of
  ``scripts/train_eye2face.py --losses``; ``shipped_losses_budget`` is that budget (steps, batch, epochs of the
  training pairs, images seen, and the share of the paper's 150 epochs of 15,000 pairs). Absent files: ``null``.
* ``loss_network``: which network the feature losses used (VGG19 with Caffe preprocessing when its ImageNet
  weights are present, else SynthFaceNet).

On a CPU shared with other jobs the times vary severalfold from run to run; the scores are deterministic.

Usage:
    python bench/eye2face.py            # about 5 minutes on 2 shared CPU cores
    python bench/eye2face.py --quick    # fewer renders and steps (about 1 minute)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Dict

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from facekit.config import seed_everything  # noqa: E402
from facekit.eval.runtime import seconds_per_image  # noqa: E402
from facekit.methods import eye2face as e2f  # noqa: E402
from facekit.nn import EyeToFace  # noqa: E402


def _round(row: Dict[str, Any]) -> Dict[str, Any]:
    keep = ("identity_kept", "identity_cosine", "attributes_kept", "psnr", "l1", "false_match", "recall_at_1")
    return {k: round(float(row[k]), 4) for k in keep if k in row}


def _score(generator: torch.nn.Module, test: Any, identity: torch.Tensor) -> Dict[str, Any]:
    out = e2f.generate(generator, test.eyes)
    row = e2f.score_faces(out, test.faces, data="synth")  # SynthFaces: the oracle judges identity
    check = e2f.identity_check(out, test.faces, identity, data="synth")
    row.update(false_match=check["other_person"], recall_at_1=check["recall_at_1"])
    return _round(row)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer renders and steps")
    ap.add_argument("--images", type=int, default=600, help="train renders scanned by the Haar pipeline")
    ap.add_argument("--test-images", type=int, default=200, help="test-identity renders")
    ap.add_argument("--steps", type=int, default=40, help="training steps per loss")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.quick:
        args.images, args.test_images, args.steps = 200, 60, 8
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)

    train, _ = e2f.synth_eye_face_pairs("train", args.images, seed=args.seed)
    test, test_info = e2f.synth_eye_face_pairs("test", args.test_images, seed=args.seed)
    net = e2f.loss_network(verbose=False)

    torch.manual_seed(args.seed)
    start = EyeToFace().state_dict()
    results: Dict[str, Any] = {}
    speed: Dict[str, float] = {}
    for kind in e2f.LOSSES:
        g = EyeToFace()
        g.load_state_dict(start)
        stamps = []
        g, history, _ = e2f.train_generator(
            train, kind, steps=args.steps, batch_size=args.batch_size, seed=args.seed, generator=g, net=net,
            device="cpu", progress=False, eval_fn=lambda trainer: {"t": time.perf_counter()}, eval_every=1)
        stamps = [e["t"] for e in history.evals]
        per_step = [b - a for a, b in zip(stamps, stamps[1:])]
        speed[kind] = round(args.batch_size / statistics.median(per_step), 2)
        results[kind] = _score(g, test, test_info.identity)
    untrained = EyeToFace()
    untrained.load_state_dict(start)
    results["untrained"] = _score(untrained, test, test_info.identity)
    try:
        shipped = e2f.load_pretrained()
        results["shipped"] = _score(shipped, test, test_info.identity)
    except FileNotFoundError:
        results["shipped"] = None
    shipped_losses: Dict[str, Any] = {}
    budget: Dict[str, Any] = {}
    for kind in e2f.COMPARED_LOSSES:  # the equal-budget comparison (scripts/train_eye2face.py --losses)
        try:
            g_loss = e2f.load_pretrained(loss=kind)
        except FileNotFoundError:
            shipped_losses[kind] = None
            continue
        shipped_losses[kind] = _score(g_loss, test, test_info.identity)
        m = g_loss.meta
        budget = {k: m.get(k) for k in ("steps", "batch_size", "train_pairs", "epochs", "images_seen",
                                         "paper_images_seen", "share_of_paper_budget")}
    g = untrained.eval()
    eyes = test.eyes[:32]

    def infer(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return g(x)

    ms = 1000 * seconds_per_image(infer, eyes, device="cpu")
    print(json.dumps({
        "benchmark": "eye2face",
        "yield": round(e2f.pipeline_yield(train), 4),
        "pairs": len(train),
        "images": train.n_images,
        "test_yield": round(e2f.pipeline_yield(test), 4),
        "test_pairs": len(test),
        "chance_recall_at_1": round(1 / len(set(test_info.identity.tolist())), 4),
        "train_images_per_second": speed,
        "inference_ms_per_image": round(ms, 3),
        "steps": args.steps,
        "batch_size": args.batch_size,
        "losses": results,
        "shipped_losses": shipped_losses,
        "shipped_losses_budget": budget,
        "loss_network": net.description.split(",")[0],
        "threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
