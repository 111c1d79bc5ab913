"""``python -m facekit.bench``: run the benchmark and print its Markdown table (see :mod:`facekit.bench`).

    python -m facekit.bench                      # every method on DIAT's five edits
    python -m facekit.bench --all                # every method on every edit
    python -m facekit.bench --methods copy,diat_a --edits mouth_open --n 16
    python -m facekit.bench --data celeba        # real photos (FACEKIT_HOME holds CelebA): no counterfactual columns
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import List, Optional, Sequence

from facekit.bench.methods import METHODS
from facekit.bench.protocol import EDITS
from facekit.bench.runner import check_data, run_benchmark

DEFAULT_EDITS = ("mouth_open", "mouth_close", "eyeglasses_remove", "male_to_female", "older_to_younger")
"""The edits run without ``--edits`` or ``--all``: DIAT's five tasks."""


def default_n() -> int:
    """Faces per edit by profile: smoke 2, cpu 16, gpu 100."""
    from facekit.config import by_profile

    return by_profile(smoke=2, cpu=16, gpu=100)


def _names(text: Optional[str]) -> Optional[List[str]]:
    return None if text is None else [t.strip() for t in text.split(",") if t.strip()]


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m facekit.bench", description=__doc__.splitlines()[0])
    ap.add_argument("--methods", help=f"comma-separated, of: {', '.join(METHODS)} (default all)")
    ap.add_argument("--edits", help=f"comma-separated, of: {', '.join(EDITS)} (default DIAT's five)")
    ap.add_argument("--data", default="synth", help="synth (default), celeba, lfw or ffhq")
    ap.add_argument("--n", type=int, default=None, help="faces per edit (default by profile: smoke 2, cpu 16)")
    ap.add_argument("--all", action="store_true", help="every method on every edit")
    ap.add_argument("--no-cache", action="store_true", help="compute everything, write nothing")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as measured)")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    edits = list(EDITS) if args.all else _names(args.edits) or list(DEFAULT_EDITS)
    methods = list(METHODS) if args.all and args.methods is None else _names(args.methods)
    n = default_n() if args.n is None else args.n
    try:
        data = check_data(args.data)
        if data != "synth" and (args.all or args.edits is None):
            edits = [e for e in edits if EDITS[e].kind == "attribute"]  # real photos have no true face to complete
        t0 = time.perf_counter()
        res = run_benchmark(methods, edits, data=data, n=n, cache=not args.no_cache, progress=not args.no_progress)
    except ValueError as err:
        ap.error(str(err))
    print(res.to_markdown())
    print()
    print(res.footer())
    print(f"{len(res.computed)} cell(s) computed, {len(res.cells) - len(res.computed)} read from the cache, "
          f"{time.perf_counter() - t0:.1f} s, {torch.get_num_threads()} thread(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
