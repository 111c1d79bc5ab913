"""Benchmark of *Learning to See another You* (Ghodrati et al., BMVC 2016): Table 1, Tables 2-3, speed.

Prints ONE JSON line, from the shipped pose-task networks (``facekit/weights/see_another_you_pose.pt``, trained by
``scripts/train_see_another_you.py``) on SynthFaces **test** identities (never trained on), 32 x 32 grey:

* ``mse_stage1``, ``mse_stage2``: Table 1, mean per-pixel MSE in 0-255 grey units of each stage's output
  (de-normalised with the source's statistics) against the exact ground truth, on up to 10,000 random test pairs
  (the paper: 380.89 and 369.16 on Multi-PIE); ``mse_copy_source``: the same error for the source image itself;
* ``recall_criterion1`` / ``recall_criterion2``: Tables 2 and 3, recall@1/5/20 of ``ours_image``, ``ours_net2``
  (retrieval by generation: pixels / the second network's middle layer), ``two_step_image``, ``two_step_net2``,
  ``two_step_face_net`` (a pose classifier on the face network's embedding, then ranking by pixels / our second
  network's features / the face network's embedding); the gallery is every test image, the queries ``--queries``
  random test pairs (the paper: 10,000); ``pose_accuracy`` is the classifier's accuracy on the gallery (the paper's
  73.3 %); ``recall5_by_pose_change``: Fig. 6 (criterion 2, ``ours_net2``);
* ``train_img_per_s``: stage-1 training images per second (SGD step, batch 32), bf16 autocast (what the shipped
  run used) and fp32, on this CPU with ``threads`` torch threads; ``infer_ms_per_image``: both stages, fp32, no
  gradient, batch 32 (:func:`facekit.eval.seconds_per_image`);
* ``targets``: mse_stage2 < mse_stage1; under criterion 2, ours_net2 above every two-step baseline at K = 5 and
  recall@5 >= 0.6.

Usage:
    python bench/see_another_you.py            # fp32 inference (slowest)
    python bench/see_another_you.py --amp      # bfloat16 inference: about 9 minutes on 1 thread of a shared CPU
    python bench/see_another_you.py --quick    # 5 lights, 2,000 queries
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from facekit.config import seed_everything  # noqa: E402
from facekit.eval.runtime import seconds_per_image  # noqa: E402
from facekit.methods import see_another_you as say  # noqa: E402
from facekit.methods import see_another_you_retrieval as retrieval  # noqa: E402
from facekit.nn import SeeAnotherYou, face_network  # noqa: E402


def _round(r: dict) -> dict:
    return {k: round(v, 4) for k, v in r.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="5 lights and 2,000 queries")
    ap.add_argument("--queries", type=int, default=say.PAPER["queries"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--amp", action="store_true", help="bfloat16 inference (faster on CPUs with bf16 units)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    lights = list(range(0, 20, 4)) if args.quick else None
    queries = 2000 if args.quick else args.queries

    model = say.load_pretrained("pose")
    n_ids = model.meta.get("data", {}).get("n_identities", 125)
    test = say.task_data("pose", "test", n_identities=n_ids, lights=lights, seed=args.seed)
    errors = say.stage_errors(model, test, n=10000, seed=args.seed, amp=args.amp)
    pairs = errors["pairs"]
    copy = say.mse_255(test.images[test.source[pairs]].float() / 255, test.images[test.target[pairs]].float() / 255)

    # the two-step baselines' pose classifier: the face network's embedding of training images (2 lights)
    net = face_network(verbose=False)
    train = say.task_data("pose", "train", n_identities=n_ids, lights=[0, 10], seed=args.seed)
    train_features = (retrieval.face_net_features(train.images, net), train.labels["code"])
    res = retrieval.retrieval_experiment(model, test, n_queries=queries, train_features=train_features, face_net=net,
                                   seed=args.seed, amp=args.amp)
    c1, c2 = res["criterion1"], res["criterion2"]

    # speed: stage-1 training steps (bf16 autocast and fp32), and inference of both stages
    speed = {}
    for amp in (True, False):
        torch.manual_seed(0)
        fresh = SeeAnotherYou(test.n_codes)
        say.train_stage1(fresh, test, steps=2, amp=amp, device="cpu", progress=False)  # warm-up
        t0 = time.perf_counter()
        say.train_stage1(fresh, test, steps=12, amp=amp, device="cpu", progress=False)
        speed["bf16" if amp else "fp32"] = round(12 * say.PAPER["batch_size"] / (time.perf_counter() - t0), 1)
    x = say.standardize(test.images[:32].float() / 255)[0]
    code = torch.eye(test.n_codes)[test.target_code[:32]]

    def infer(batch: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return model(batch, code[: len(batch)])[1]

    ms = 1000 * seconds_per_image(infer, x, device="cpu")
    baselines = ("two_step_image", "two_step_net2", "two_step_face_net")
    out = {
        "benchmark": "see_another_you",
        "mse_stage1": round(errors["stage1"], 2),
        "mse_stage2": round(errors["stage2"], 2),
        "mse_copy_source": round(copy, 2),
        "mse_pairs": errors["n"],
        "recall_criterion1": {k: _round(v) for k, v in c1.items()},
        "recall_criterion2": {k: _round(v) for k, v in c2.items()},
        "recall5_by_pose_change": {k: round(v, 4) for k, v in res["by_pose_change"].items()},
        "pose_accuracy": round(res["pose_accuracy"], 4),
        "queries": len(res["queries"]),
        "gallery": res["n_gallery"],
        "test_identities": len(set(test.labels["identity"].tolist())),
        "face_net": net.description.split(",")[0],
        "train_img_per_s": speed["bf16"],
        "train_img_per_s_fp32": speed["fp32"],
        "infer_ms_per_image": round(ms, 3),
        "threads": torch.get_num_threads(),
        "amp_inference": args.amp,
        "shipped": {k: model.meta.get(k) for k in ("steps1", "steps2", "stage1_img_per_s", "stage2_img_per_s")},
        "targets": {
            "stage2_below_stage1": errors["stage2"] < errors["stage1"],
            "ours_net2_beats_two_step_at_5": all(c2["ours_net2"][5] > c2[b][5] for b in baselines),
            "ours_net2_recall5_at_least_0.6": c2["ours_net2"][5] >= 0.6,
        },
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
