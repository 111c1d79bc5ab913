"""Benchmark of the face network's features: identity verification, speed, and feature inversion per layer.

Prints ONE JSON line:

* ``network``, ``weights_sha256``: which weights were measured (the shipped ``synthface_net`` by default);
* ``verification_auc``: ROC AUC of SynthFaceNet's identity embedding (cosine similarity) on ``--ids`` *test*
  identities of SynthFaces (``split_identities(1000, "test")``, never seen in training), ``--views`` views each:
  MultiPIE's seven yaws, pitch in [-10, 10], all 20 lights, random accessories and expressions
  (``attributes="random"``), a random backdrop per image (so the backdrop does not give the person away). Pairs: every
  same-identity pair and ``--neg-per-image`` x N different-identity pairs. ``verification_eer`` is the equal error
  rate at its threshold. Target: AUC >= 0.95.
* ``forward_ms_per_image_64`` / ``_128``: median wall time per image of the feature extractor (the layers of the
  inversion experiment, ``relu2_1 .. relu3_2``, without gradient) on a batch of ``--batch`` images, after warm-up;
  ``embed_ms_per_image_64``: the whole network to the embedding. ``threads``: torch's CPU threads. On a CPU
  shared with other jobs these times vary several-fold from run to run.
* ``inversion``: CNIA Table 1's experiment at our scale, the same as chapter 2 (``chapters/02_features.py``, cpu
  profile): ``--faces`` frontal test faces at 64 px are reconstructed from a blank (mid-grey) image by gradient
  descent (Adam) on the content loss (CNIA eq. (1)) of ONE layer plus a TV term (weight 16), for conv2_1,
  conv2_2, conv3_1 and conv3_2 (the paper's 3rd to 6th convolutional layers, post-ReLU as the paper's). Per layer:
  ``mse`` (mean squared error against the reference, in 0-255 grey levels squared, averaged over the faces) and
  ``sse`` (the sum over one 64 x 64 x 3 image, the paper's "square error"). ``paper_table1`` holds the paper's
  numbers (``sse_1e8``: 224 x 224 VGG-Face, with an attribute edit) and the same per value (``mse``).

Usage:
    python bench/features.py            # full run (a few minutes on 2 CPU cores)
    python bench/features.py --quick    # fewer identities and steps
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Dict, List, Mapping, Tuple, Union

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from facekit import hub  # noqa: E402
from facekit.config import seed_everything  # noqa: E402
from facekit.data import SynthFaces, split_identities  # noqa: E402
from facekit.eval.runtime import seconds_per_image  # noqa: E402
from facekit.eval.verification import eer_threshold, roc_auc, verification_pairs  # noqa: E402
from facekit.methods.inversion import invert_features, squared_error_255  # noqa: E402
from facekit.nn import FeatureExtractor, FeatureNet  # noqa: E402

INVERSION_LAYERS: Dict[str, int] = {"conv2_1": 3, "conv2_2": 4, "conv3_1": 5, "conv3_2": 6}
"""The layers of CNIA Table 1: the paper's name -> its 1-based conv index, which facekit resolves to the ReLU output
(``3 -> "relu2_1"``), as the paper's features (in facekit, ``"conv2_1"`` would be the map before the ReLU)."""
PAPER_SSE_1E8: Dict[str, float] = {"conv2_1": 1.65, "conv2_2": 1.73, "conv3_1": 2.95, "conv3_2": 3.44}
"""CNIA Table 1: square error between the generated and the reference face (x 1e8), VGG-Face, 224 x 224 x 3."""


def inversion_experiment(net: FeatureNet, faces: torch.Tensor, steps: int,
                         layers: Mapping[str, int] = INVERSION_LAYERS, **kw) -> Dict[str, Dict[str, float]]:
    """Invert ``faces`` from each layer; per paper layer name: the stage used, mean ``sse`` and ``mse``."""
    out: Dict[str, Dict[str, float]] = {}
    n = faces[0].numel()
    for paper_name, index in layers.items():
        x, _ = invert_features(net, index, faces, steps, **kw)
        sse = squared_error_255(x, faces)  # (B,)
        out[paper_name] = {"stage": net.resolve_layer(index), "sse": round(float(sse.mean()), 1),
                           "mse": round(float(sse.mean()) / n, 2)}
    return out


def reference_faces(n: int, size: int = 64) -> torch.Tensor:
    """``n`` frontal test identities under the soft frontal light, with their own backdrops: ``(n, 3, H, W)``."""
    ds = SynthFaces("test", size=size)
    return torch.stack([ds[i]["image"] for i in range(n)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer identities, views and steps")
    ap.add_argument("--ids", type=int, default=100, help="test identities (at most 100)")
    ap.add_argument("--views", type=int, default=10, help="views per test identity")
    ap.add_argument("--neg-per-image", type=int, default=20)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--faces", type=int, default=4, help="faces in the inversion experiment")
    ap.add_argument("--steps", type=int, default=150, help="optimisation steps of each inversion")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--weights", default=None, help="a synthface_net.pt other than the shipped one")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.quick:
        args.ids, args.views, args.steps, args.faces = 30, 6, 30, 2
    t0 = time.time()
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    net = hub.pretrained("synthface_net", args.weights, check_hash=args.weights is None)
    net.check_input = False  # time the network, not the range check

    # 1. verification on unseen identities
    ids = [int(i) for i in split_identities(1000, "test")][: args.ids]
    ds = SynthFaces(identities=ids, length=len(ids) * args.views, size=64, attributes="random", poses="multipie",
                    pitch=(-10.0, 10.0), lights="all", background="random", seed=12345)
    images = torch.from_numpy(ds.images()).permute(0, 3, 1, 2).float().div_(255.0)  # (N, 3, 64, 64)
    labels = torch.arange(len(ds)) % len(ids)
    with torch.no_grad():
        emb = torch.cat([net.embedding(images[i : i + 256]) for i in range(0, len(images), 256)])  # (N, D)
    i, j, same = verification_pairs(labels, max_negatives=args.neg_per_image * len(labels),
                                    generator=torch.Generator().manual_seed(args.seed))
    scores = (emb[i] * emb[j]).sum(1)  # cosine similarity of unit embeddings
    auc = roc_auc(scores, same)
    _, eer = eer_threshold(scores, same)

    # 2. speed
    ext = FeatureExtractor(net, list(INVERSION_LAYERS.values()))  # relu2_1 .. relu3_2
    speed = {}
    for size in (64, 128):
        x = torch.rand(args.batch, 3, size, size)
        with torch.no_grad():
            speed[size] = seconds_per_image(ext, x, warmup=2, repeats=7, device="cpu")
    with torch.no_grad():
        embed_s = seconds_per_image(net.embedding, torch.rand(args.batch, 3, 64, 64), warmup=2, repeats=7,
                                    device="cpu")

    # 3. feature inversion per layer (CNIA Table 1)
    faces = reference_faces(args.faces)
    inv = inversion_experiment(net, faces, args.steps)
    n = 224 * 224 * 3
    paper = {k: {"sse_1e8": v, "mse": round(v * 1e8 / n, 1)} for k, v in PAPER_SSE_1E8.items()}

    result = {
        "bench": "features",
        "network": net.pretrained_name if args.weights is None else str(args.weights),
        "weights_sha256": hub.sha256sum(hub.find("synthface_net", args.weights))[:16],
        "verification_auc": round(auc, 4),
        "verification_eer": round(eer, 4),
        "auc_target": 0.95,
        "test_identities": len(ids),
        "views_per_identity": args.views,
        "pairs_same": int(same.sum()),
        "pairs_different": int((~same).sum()),
        "batch": args.batch,
        "threads": torch.get_num_threads(),
        "forward_ms_per_image_64": round(speed[64] * 1e3, 3),
        "forward_ms_per_image_128": round(speed[128] * 1e3, 3),
        "embed_ms_per_image_64": round(embed_s * 1e3, 3),
        "inversion": inv,
        "inversion_setup": {"faces": args.faces, "size": 64, "steps": args.steps, "lr": 0.1, "tv_weight": 16.0,
                            "start": "mid-grey"},
        "paper_table1": paper,
        "wall_s": round(time.time() - t0, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
