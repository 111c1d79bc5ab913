"""The trivial "copy the input" baseline, scored by the evaluation harness on SynthFaces test identities.

For each attribute: sources are rendered *without* it (frontal, light 0), the exact counterfactuals *with* it, and
the "edit" is the source itself. A sound harness must give attribute success near 0 and identity kept near 1.
The rows go into a results table (``--results``, default a temporary file, so the shared table stays clean) and
the table is printed as Markdown; the last line is the JSON summary.

    python bench/copy_baseline.py [--n 40] [--size 64] [--results PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from facekit.data import render, resolve_attributes
from facekit.data._common import image_to_tensor
from facekit.eval import load_oracle, load_results, record, score_edits
from facekit.eval.protocol import split_identities
from facekit.masks import attribute_masks

ATTRIBUTES = ["Eyeglasses", "Smiling", "Mouth_Slightly_Open", "Mustache", "Wearing_Hat", "Bangs", "Big_Nose",
              "Pointy_Nose"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40, help="test identities per attribute")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--results", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(2)
    path = args.results or Path(tempfile.mkdtemp()) / "results.json"
    oracle = load_oracle()
    summary = {}
    for name in ATTRIBUTES:
        people = [i for i in split_identities("test") if not resolve_attributes(i)[name]][: args.n]
        src = [render(i, {name: 0}, size=args.size) for i in people]
        cf = [render(i, {name: 1}, size=args.size) for i in people]
        sources = torch.stack([image_to_tensor(r["image"]) for r in src])  # (B, 3, H, W)
        counterfactuals = torch.stack([image_to_tensor(r["image"]) for r in cf])
        masks = attribute_masks(np.stack([r["landmarks"] for r in cf]), [name], args.size)  # (B, 1, H, W)
        row = score_edits(sources, sources.clone(), {name: 1}, counterfactuals=counterfactuals, masks=masks,
                          oracle=oracle)
        record("copy input", name, row, path=path, data="synth", profile=f"bench-{args.size}px")
        summary[name] = {k: round(float(row[k]), 3) for k in ("attribute_success", "identity_kept")}
    print(load_results(path).to_markdown())
    print(json.dumps({"bench": "copy_baseline", "n": args.n, "size": args.size, "scores": summary}))


if __name__ == "__main__":
    sys.exit(main())
