"""Benchmark of the SynthFaces renderer: speed, and whether OpenCV's Haar cascades see faces and eyes in it.

Prints ONE JSON line:

* ``img_per_s_64``, ``img_per_s_128``: renders per second at 64 and 128 px in this single process (wall clock;
  the median of ``--runs`` runs of ``--n`` renders with random identities of a pool of 1000 (the default
  ``SynthFaces`` pool; an identity's parameters are drawn on first use, then cached), random state attributes,
  MultiPIE yaws and lights);
  ``cpu_img_per_s_64`` / ``_128`` give the same from process CPU time, steadier on a busy machine;
* ``haar_face_rate``: share of ``--haar`` frontal 128 px renders (random identities, lights and attributes,
  sunglasses excluded) where the frontal-face cascade finds exactly one face;
* ``haar_eyes_rate``: share where, in addition, the eye cascade finds exactly two eyes inside that face (the
  eye-to-face paper's filter);
* ``face_width_frac``: median width of the detected face box over the image width.

Targets: >= 300 img/s at 64 px, >= 100 img/s at 128 px, face rate >= 0.90, eyes rate >= 0.70.

Usage:
    python bench/synthfaces.py            # full run (about a minute)
    python bench/synthfaces.py --quick    # fewer renders
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from facekit.data import haar  # noqa: E402
from facekit.data.synth_dataset import RANDOM_ATTRIBUTES  # noqa: E402
from facekit.data.synthfaces import MULTIPIE_YAWS, N_LIGHTS, render  # noqa: E402


def random_attributes(rng: np.random.Generator, sunglasses: bool = True) -> dict:
    """The state attributes of ``SynthFaces(attributes="random")``, drawn with ``rng``."""
    out = {}
    for name, p in RANDOM_ATTRIBUTES.items():
        if not name.endswith("_style"):
            out[name] = int(rng.random() < p)
    if out["Eyeglasses"]:
        styles = ("round", "square", "sunglasses") if sunglasses else ("round", "square")
        out["glasses_style"] = styles[int(rng.integers(len(styles)))]
    if out["Wearing_Hat"]:
        out["hat_style"] = ("cap", "beanie", "fedora")[int(rng.integers(3))]
    return out


def speed(size: int, n: int, runs: int, seed: int) -> tuple[float, float]:
    """Median renders per second (wall clock, CPU time) over ``runs`` runs of ``n`` fresh random renders."""
    rng = np.random.default_rng(seed)
    wall, cpu = [], []
    for run in range(runs):
        # identities from the default SynthFaces pool of 1000: their parameters are drawn on first use and then
        # cached, as in a Dataset
        args = [(int(rng.integers(1000)), random_attributes(rng), float(rng.choice(MULTIPIE_YAWS)),
                 int(rng.integers(N_LIGHTS))) for _ in range(n)]
        t0, c0 = time.perf_counter(), time.process_time()
        for identity, attrs, yaw, light in args:
            render(identity, attrs, yaw=yaw, light=light, size=size)
        wall.append(n / (time.perf_counter() - t0))
        cpu.append(n / (time.process_time() - c0))
    return statistics.median(wall), statistics.median(cpu)


def haar_rates(n: int, seed: int) -> tuple[float, float, float]:
    """(face rate, eyes rate, median face width / image width) over ``n`` frontal 128 px renders."""
    rng = np.random.default_rng(seed)
    faces = eyes = 0
    widths = []
    for _ in range(n):
        image = render(int(rng.integers(10 ** 6)), random_attributes(rng, sunglasses=False),
                       light=int(rng.integers(N_LIGHTS)), size=128)["image"]
        found = haar.detect_faces(image)
        if len(found) != 1:
            continue
        faces += 1
        widths.append(found[0][2] / 128)
        eyes += int(len(haar.detect_eyes(image, found[0])) == 2)
    return faces / n, eyes / n, float(np.median(widths)) if widths else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer renders (a smoke test)")
    parser.add_argument("--runs", type=int, default=5, help="timing runs per size (the median is reported)")
    parser.add_argument("--n", type=int, default=200, help="renders per timing run")
    parser.add_argument("--haar", type=int, default=500, help="frontal renders for the Haar rates")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.quick:
        args.runs, args.n, args.haar = 3, 50, 100
    render(0, size=64)  # warm up: imports, caches
    render(0, size=128)
    wall64, cpu64 = speed(64, args.n, args.runs, args.seed)
    wall128, cpu128 = speed(128, max(1, args.n // 2), args.runs, args.seed + 1)
    face, eyes, width = haar_rates(args.haar, args.seed + 2)
    print(json.dumps({
        "img_per_s_64": round(wall64, 1),
        "img_per_s_128": round(wall128, 1),
        "cpu_img_per_s_64": round(cpu64, 1),
        "cpu_img_per_s_128": round(cpu128, 1),
        "haar_face_rate": round(face, 3),
        "haar_eyes_rate": round(eyes, 3),
        "face_width_frac": round(width, 3),
        "n_haar": args.haar,
    }))


if __name__ == "__main__":
    main()
