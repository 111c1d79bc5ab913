"""Wall time of every chapter, executed top to bottom in one profile (DESIGN.md section 3 budgets).

    python bench/chapters.py                       # cpu profile, all chapters
    python bench/chapters.py --profile smoke 01    # one chapter (a name prefix), smoke profile
    python bench/chapters.py --save /tmp/executed  # also keep the executed notebooks (outputs and figures)

Prints one JSON line: ``{"profile": ..., "budget_s": ..., "seconds": {chapter: s}, "within_budget": {...}}``.
Budgets: smoke < 60 s and cpu < 240 s per chapter on a 2-core CPU; gpu has no fixed budget.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
BUDGET_S = {"smoke": 60.0, "cpu": 240.0, "gpu": None}


def run(path: Path, save: Path | None) -> float:
    nb = nbformat.read(path, as_version=4)
    t0 = time.perf_counter()
    NotebookClient(nb, timeout=1800, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.perf_counter() - t0
    if save is not None:
        save.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, save / path.name)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapters", nargs="*", help="chapter name prefixes (default: all)")
    parser.add_argument("--profile", default="cpu", choices=sorted(BUDGET_S))
    parser.add_argument("--save", type=Path, default=None, help="folder for the executed notebooks")
    args = parser.parse_args()
    os.environ["FACEKIT_PROFILE"] = args.profile  # inherited by the kernel
    paths = sorted((ROOT / "chapters").glob("[0-9]*.ipynb"))
    if args.chapters:
        paths = [p for p in paths if any(p.stem.startswith(c) for c in args.chapters)]
    if not paths:
        sys.exit(f"no chapter matches {args.chapters}; chapters are {[p.stem for p in (ROOT / 'chapters').glob('*.ipynb')]}")
    seconds = {p.stem: round(run(p, args.save), 1) for p in paths}
    budget = BUDGET_S[args.profile]
    print(json.dumps({
        "profile": args.profile,
        "budget_s": budget,
        "seconds": seconds,
        "within_budget": {k: (budget is None or v < budget) for k, v in seconds.items()},
    }))


if __name__ == "__main__":
    main()
