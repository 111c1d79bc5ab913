"""Wall time of every chapter, executed top to bottom, in the smoke and cpu profiles (DESIGN.md section 3 budgets).

    python bench/chapters.py                          # smoke and cpu profiles, all chapters
    python bench/chapters.py --profile smoke 01       # one chapter (a name prefix), one profile
    python bench/chapters.py --save /tmp/executed     # also keep the executed notebooks (outputs and figures)

Prints one JSON line::

    {"seconds": {profile: {chapter: s}}, "total_s": {profile: s}, "budget_s": {profile: per-chapter budget},
     "within_budget": {profile: {chapter: bool}}, "book_budget_s": {"cpu": 900}, "book_within_budget": {...}}

Budgets: a chapter runs in under 60 s (smoke) and 240 s (cpu) on a 2-core CPU, and the whole cpu book in under
15 minutes; gpu has no fixed budget. Each chapter runs in a fresh kernel with a per-cell limit (twice the chapter
budget), so a hung kernel ends the run instead of stalling it. Run on an idle machine: the figures are wall times.
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
BOOK_BUDGET_S = {"cpu": 900.0}


def run(path: Path, profile: str, save: Path | None) -> float:
    """Execute one chapter in a fresh kernel in ``profile``; return its wall time in seconds."""
    nb = nbformat.read(path, as_version=4)
    os.environ["FACEKIT_PROFILE"] = profile  # inherited by the kernel
    budget = BUDGET_S[profile]
    cell_timeout = int(2 * budget) if budget else 3600
    t0 = time.perf_counter()
    NotebookClient(nb, timeout=cell_timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.perf_counter() - t0
    if save is not None:
        (save / profile).mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, save / profile / path.name)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapters", nargs="*", help="chapter name prefixes (default: all)")
    parser.add_argument("--profile", default="smoke,cpu", help="comma-separated profiles (default: smoke,cpu)")
    parser.add_argument("--save", type=Path, default=None, help="folder for the executed notebooks")
    args = parser.parse_args()
    profiles = [p.strip() for p in args.profile.split(",") if p.strip()]
    unknown = [p for p in profiles if p not in BUDGET_S]
    if unknown or not profiles:
        sys.exit(f"unknown profile(s) {unknown or args.profile!r}; use a comma-separated list of {sorted(BUDGET_S)}")
    paths = sorted((ROOT / "chapters").glob("[0-9]*.ipynb"))
    if args.chapters:
        paths = [p for p in paths if any(p.stem.startswith(c) for c in args.chapters)]
    if not paths:
        sys.exit(f"no chapter matches {args.chapters}; chapters are {[p.stem for p in (ROOT / 'chapters').glob('*.ipynb')]}")
    seconds = {prof: {p.stem: round(run(p, prof, args.save), 1) for p in paths} for prof in profiles}
    total = {prof: round(sum(s.values()), 1) for prof, s in seconds.items()}
    print(json.dumps({
        "seconds": seconds,
        "total_s": total,
        "budget_s": {prof: BUDGET_S[prof] for prof in profiles},
        "within_budget": {prof: {k: (BUDGET_S[prof] is None or v < BUDGET_S[prof]) for k, v in s.items()}
                          for prof, s in seconds.items()},
        "book_budget_s": {prof: BOOK_BUDGET_S[prof] for prof in profiles if prof in BOOK_BUDGET_S},
        "book_within_budget": {prof: total[prof] < BOOK_BUDGET_S[prof] for prof in profiles if prof in BOOK_BUDGET_S},
        "all_chapters": not args.chapters,
    }))


if __name__ == "__main__":
    main()
