"""Speed of the pixel metrics of :mod:`facekit.eval.metrics` on a CPU; prints ONE JSON line.

Run::

    python bench/metrics.py [--threads 1] [--images 120]

Milliseconds per image (median of 5 timed calls after 2 untimed ones, :func:`facekit.eval.seconds_per_image`) of
``ssim``, ``psnr`` and ``l1`` on a batch of ``--images`` random image pairs at 64 and 128 px, each pair an image
and a noisy copy of it. SSIM is the slow one: it blurs five maps per channel with an 11x11 Gaussian in float64.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from facekit.eval import l1, psnr, seconds_per_image, ssim  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description="Speed of facekit.eval's pixel metrics (one JSON line).")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--images", type=int, default=120)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    out = {"bench": "metrics", "threads": args.threads, "images": args.images}
    for size in (64, 128):
        a = torch.rand(args.images, 3, size, size, generator=g)
        b = (a + 0.1 * torch.randn(a.shape, generator=g)).clamp(0, 1)
        for name, fn in (("ssim", ssim), ("psnr", psnr), ("l1", l1)):
            s = seconds_per_image(lambda ab, fn=fn: fn(ab[0], ab[1]), (a, b), batch_size=args.images, device="cpu")
            out[f"{name}_ms_per_image_{size}"] = round(1000 * s, 4)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
