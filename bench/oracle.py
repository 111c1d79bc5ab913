"""Benchmark the shipped SynthFaces oracle on the test identities; prints ONE JSON line.

Run::

    python bench/oracle.py [--per-id 6] [--threads 1]

Two sets of renders of the 100 **test** identities of the oracle's split (never seen in training or calibration):

* ``protocol``: the oracle's protocol (:mod:`facekit.eval.protocol`, seed 3): traits switched at random, any
  accessory, yaw in [-45, 45], pitch in [-15, 15], any of the 20 lights, random backdrops: the hard case, what an
  edit can look like;
* ``clean``: what :class:`facekit.data.SynthFaces` gives by default plus random states: the identity's own traits,
  ``attributes="random"`` (glasses, hats, earrings, smile, open mouth at CelebA-like rates), frontal, light 0.

For each: per-attribute accuracy (min and mean too), glasses / hat type accuracy, identity verification ROC AUC
over all same-identity pairs and all different-identity pairs, and the true / false accept rates at the shipped
threshold. And ``edit_pairs`` (:func:`facekit.eval.protocol.edit_pairs`, seed 3): each source against the same
person with one attribute switched (30 % also at another yaw) and against another person with that attribute,
pose, light and backdrop: the verification AUC and the accept rates at the shipped threshold (which was set at the
equal error rate of such pairs of the val identities). This is what ``identity_kept`` of
:func:`facekit.eval.score_edits` relies on. Also the oracle's speed (ms per image, CPU, 1 thread), and
``targets`` / ``targets_met``: every attribute >= 0.97 on the clean renders, verification AUC >= 0.97.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from facekit.data.synth_dataset import SynthFaces  # noqa: E402
from facekit.eval import load_oracle, seconds_per_image  # noqa: E402
from facekit.eval.protocol import (  # noqa: E402
    GLASSES_CLASSES,
    HAT_CLASSES,
    ORACLE_SPLIT,
    edit_pair_report,
    edit_pairs,
    evaluate_oracle,
    random_specs,
    render_edit_pairs,
    render_specs,
    split_identities,
)

TEST_SEED = 3  # the protocol seed of the test renders (scripts/train_oracle.py)
# The evaluation issue's targets: every attribute >= 0.97 on clean renders; identity verification AUC >= 0.97 (here on
# both the clean renders and the edit pairs).
TARGETS = {"clean_attribute_accuracy_min": 0.97, "verification_auc": 0.97}


def clean_renders(per_id: int, size: int) -> dict:
    """SynthFaces test items with attributes="random", frontal, light 0 (the dataset's defaults)."""
    ids = split_identities("test")
    ds = SynthFaces("test", size=size, attributes="random", length=len(ids) * per_id, **ORACLE_SPLIT)
    images, attrs, glasses, hat, ident = [], [], [], [], []
    for k in range(len(ds)):
        spec = ds.spec(k)
        item = ds.render(spec)
        images.append((item["image"].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8))
        attrs.append(item["attributes"].numpy())
        a = spec["attributes"]
        glasses.append(GLASSES_CLASSES.index(a["glasses_style"]) if a.get("Eyeglasses") and "glasses_style" in a else 0)
        hat.append(HAT_CLASSES.index(a["hat_style"]) if a.get("Wearing_Hat") and "hat_style" in a else 0)
        ident.append(spec["identity"])
    return {"images": np.stack(images), "attributes": np.stack(attrs), "glasses": np.array(glasses),
            "hat": np.array(hat), "identity": np.array(ident)}


def main() -> None:
    p = argparse.ArgumentParser(description="Benchmark the SynthFaces oracle (one JSON line).")
    p.add_argument("--per-id", type=int, default=6, help="renders per test identity")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    start = time.time()
    oracle = load_oracle(device="cpu")
    size = oracle.net.image_size
    protocol = render_specs(random_specs(split_identities("test"), args.per_id, seed=TEST_SEED), size=size)
    clean = clean_renders(args.per_id, size)
    res_p = evaluate_oracle(oracle, protocol, threshold=oracle.threshold)
    res_c = evaluate_oracle(oracle, clean, threshold=oracle.threshold)
    pairs = render_edit_pairs(edit_pairs(split_identities("test"), args.per_id, seed=TEST_SEED), size=size)
    res_e = edit_pair_report(oracle, pairs, threshold=oracle.threshold)
    x = torch.from_numpy(protocol["images"][:64]).permute(0, 3, 1, 2).float() / 255.0
    ms = 1000 * seconds_per_image(oracle.embed, x, device="cpu")
    out = {
        "bench": "oracle",
        "threshold": oracle.threshold,
        "edit_pairs_verification_auc": res_e["verification_auc"],
        "edit_pairs_true_accept_rate": res_e["true_accept_rate"],
        "edit_pairs_false_accept_rate": res_e["false_accept_rate"],
        "protocol_attribute_accuracy_min": res_p["attribute_accuracy_min"],
        "protocol_attribute_accuracy_mean": res_p["attribute_accuracy_mean"],
        "protocol_verification_auc": res_p["verification_auc"],
        "clean_attribute_accuracy_min": res_c["attribute_accuracy_min"],
        "clean_attribute_accuracy_mean": res_c["attribute_accuracy_mean"],
        "clean_verification_auc": res_c["verification_auc"],
        "targets": TARGETS,
        "targets_met": {
            "clean_attribute_accuracy_min": res_c["attribute_accuracy_min"] >= TARGETS["clean_attribute_accuracy_min"],
            "verification_auc": min(res_c["verification_auc"], res_e["verification_auc"]) >= TARGETS["verification_auc"],
        },
        "ms_per_image_cpu": round(ms, 3),
        "wall_seconds": round(time.time() - start, 1),
        "edit_pairs": res_e,
        "protocol": res_p,
        "clean": res_c,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
