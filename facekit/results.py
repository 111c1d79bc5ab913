"""Print the shared results table: ``python -m facekit.results [--results PATH] [--json OUT]``.

Every method chapter records one row per method x attribute with :func:`facekit.eval.record` (in
``<FACEKIT_HOME>/results/results.json`` unless told otherwise). This command prints them all as one Markdown
table, so the methods can be compared side by side, and optionally writes them as JSON.

Usage::

    python -m facekit.results                          # Markdown to stdout
    python -m facekit.results --json results.json      # also write the rows as a JSON list
    python -m facekit.results --attribute Eyeglasses   # only some rows
    python -m facekit.results --results other.json     # read another results file
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from facekit.eval.table import COLUMNS, ResultsTable, default_results_path

__all__ = ["main"]


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command line; returns the exit status (0, or 1 when the results file cannot be read)."""
    parser = argparse.ArgumentParser(
        prog="python -m facekit.results",
        description="Print the results table that the chapters recorded (one row per method x attribute).",
    )
    parser.add_argument("--results", default=None, help=f"results file to read (default: {default_results_path()})")
    parser.add_argument("--json", default=None, metavar="OUT", help="also write the rows as JSON to OUT")
    parser.add_argument("--method", default=None, help="only rows of this method")
    parser.add_argument("--attribute", default=None, help="only rows of this attribute")
    parser.add_argument("--data", default=None, help="only rows on this dataset (synth, celeba, ...)")
    parser.add_argument("--profile", default=None, help="only rows of this profile (smoke, cpu, gpu)")
    parser.add_argument(
        "--columns", default=None, help=f"comma-separated columns to show (known: {', '.join(COLUMNS)})"
    )
    parser.add_argument("--digits", type=int, default=3, help="decimals of the figures (default 3)")
    args = parser.parse_args(argv)

    try:
        table = ResultsTable.load(args.results)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    where = {k: getattr(args, k) for k in ("method", "attribute", "data", "profile") if getattr(args, k) is not None}
    if where:
        table = table.filter(**where)
    if len(table) == 0:
        print(
            f"(no results in {table.path}{' matching ' + str(where) if where else ''}; chapters add rows with "
            "facekit.eval.record(method, attribute, scores))"
        )
    else:
        columns = [c.strip() for c in args.columns.split(",")] if args.columns else None
        print(table.to_markdown(columns=columns, digits=args.digits))
    if args.json:
        with open(args.json, "w") as f:
            f.write(table.to_json() + "\n")
        print(f"wrote {len(table)} rows to {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
