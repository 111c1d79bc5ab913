"""Benchmark the real-photo attribute judges on the real-face kit; prints ONE JSON line.

Run (from the project's root; the kit is read-only and nothing is written under it)::

    PYTHONPATH=. OMP_NUM_THREADS=1 python bench/judges.py [--kit ../shared/realfaces] [--sizes 128,64]

The kit's photos (CelebA, ``images="auto"``: official aligned crops, and in-the-wild photos aligned by facekit's
loader) are split in two halves by identity (:func:`facekit.eval.real_judges.kit_halves`, seed 0). For each
judge of :data:`facekit.eval.real_judges.JUDGE_CARDS` (and the Smiling second opinion): the threshold with the
largest balanced accuracy on the validation half and its logistic slope
(:func:`~facekit.eval.real_judges.choose_threshold`), then AUC, accuracy and balanced accuracy on the test half at
that threshold (:func:`~facekit.eval.real_judges.measure_judge`); ms per face on the first 64 photos, one CPU
thread (dlib's detection and landmarks timed once, apart: every judge shares them); the licence and source of the
weights. ``sizes``: the same test-half figures with the *same* thresholds on the centre 178 x 178 square resized
to each size (what the chapters feed ``score_edits``), with the number of faces not judged. ``cards_match``: the
measured threshold, AUC and accuracy are those the module ships (within 0.005, thresholds within 2 %).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Dict

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def load_kit(kit: Path) -> Dict[str, object]:
    """The kit's photos as ``(N, 3, 218, 178)`` in [0, 1], their attributes ``{name: (N,) bool}`` and identities."""
    from facekit.data.celeba import CelebA

    # root= rather than FACEKIT_HOME: the fetched judges' files stay where FACEKIT_HOME / FACEKIT_CACHE says
    with contextlib.redirect_stdout(sys.stderr):  # the loader's notes (faces not found) are not the JSON line
        ds = CelebA(kit / "data" / "celeba", split="all", images="auto", targets=["image", "attributes", "identity"])
        items = [ds[i] for i in range(len(ds))]
    images = torch.stack([it["image"] for it in items])
    attrs = torch.stack([it["attributes"] for it in items]).numpy() > 0.5
    return {"images": images, "identity": np.array([int(it["identity"]) for it in items]),
            "attributes": {n: attrs[:, k] for k, n in enumerate(ds.attribute_names)}}


def readings(judge, images: torch.Tensor, batch: int = 32) -> Dict[str, np.ndarray]:
    out: Dict[str, list] = {}
    for s in range(0, len(images), batch):
        r = judge.analyse(images[s:s + batch])
        for k, v in r.raw.items():
            out.setdefault(k, []).append(v.numpy())
    return {k: np.concatenate(v) for k, v in out.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kit", default=str(ROOT.parent / "shared" / "realfaces"))
    p.add_argument("--sizes", default="128,64")
    args = p.parse_args()
    torch.set_num_threads(1)
    from facekit.eval.real_judges import (JUDGE_CARDS, SECOND_OPINIONS, RealAttributeJudge, choose_threshold,
                                          kit_halves, measure_judge)

    kit = load_kit(Path(args.kit))
    images = kit["images"]
    val, test = kit_halves(kit["identity"])
    judge = RealAttributeJudge(device="cpu")
    raw = readings(judge, images)
    cards = {**JUDGE_CARDS, "Smiling_second": SECOND_OPINIONS["Smiling"]}
    result: Dict[str, object] = {"bench": "judges", "photos": int(len(images)), "validation": int(val.sum()),
                                 "test": int(test.sum()), "faces_found": int(np.isfinite(raw["Smiling_second"]).sum())}
    judges, match = {}, True
    for name, card in cards.items():
        y = kit["attributes"][card.attribute]
        higher = card.higher_means_present
        t, slope = choose_threshold(raw[name][val], y[val], higher)
        m = measure_judge(raw[name][test], y[test], t, higher)
        judges[name] = {"attribute": card.attribute, "method": card.method, "threshold": round(t, 4),
                        "slope": round(slope, 4), **{k: round(v, 3) if isinstance(v, float) else v for k, v in m.items()},
                        "licence": card.licence, "source": card.source}
        match &= (abs(m["auc"] - card.auc) < 0.005 and abs(m["accuracy"] - card.accuracy) < 0.005
                  and abs(t - card.threshold) <= 0.02 * abs(card.threshold))
    # ms per face: dlib once, then each judge's own work
    sub = images[:64]
    t0 = time.perf_counter()
    judge._faces(sub)
    dlib_ms = (time.perf_counter() - t0) / len(sub) * 1000
    for name in JUDGE_CARDS:
        one = RealAttributeJudge(device="cpu", attributes=[name])
        t0 = time.perf_counter()
        one.analyse(sub)
        judges[name]["ms_per_face"] = round(max((time.perf_counter() - t0) / len(sub) * 1000 - dlib_ms, 0.0), 2)
    result["dlib_ms_per_face"] = round(dlib_ms, 1)
    result["judges"] = judges
    # smaller images, same thresholds
    square = images[:, :, 20:198, :]  # (N, 3, 178, 178) centre
    sizes = {}
    for s in [int(v) for v in args.sizes.split(",") if v]:
        small = torch.nn.functional.interpolate(square, size=(s, s), mode="area")
        r = readings(judge, small)
        sizes[s] = {"not_judged": int((~np.isfinite(r["Smiling_second"])).sum())}
        for name, card in cards.items():
            m = measure_judge(r[name][test], kit["attributes"][card.attribute][test], judges[name]["threshold"],
                              card.higher_means_present)
            sizes[s][name] = {"auc": round(m["auc"], 3), "accuracy": round(m["accuracy"], 3)}
    result["sizes"] = sizes
    # which size dlib's detector needs (facekit.eval.identity's docstring): every 4th photo's centre square
    from facekit.landmarks import DlibDetector

    every4 = (square[::4].permute(0, 2, 3, 1) * 255 + 0.5).to(torch.uint8)
    detect = {}
    for up in (0, 1, 2):
        det = DlibDetector(upsample=up)
        for s in (48, 64, 80, 96, 128):
            small = torch.nn.functional.interpolate(every4.permute(0, 3, 1, 2).float(), size=(s, s), mode="area")
            found = sum(bool(det.face_boxes(np.ascontiguousarray(im.permute(1, 2, 0).round().clamp(0, 255)
                                                                   .to(torch.uint8).numpy()))) for im in small)
            detect[f"upsample{up}_{s}px"] = f"{found}/{len(small)}"
    result["dlib_faces_found_by_size"] = detect
    result["cards_match"] = bool(match)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
