"""The results table: one row per method x attribute, shared by every chapter and compared in the last one.

Each method chapter scores its edits with :func:`facekit.eval.score_edits` and appends the row with
:func:`record`; the final chapter (or ``python -m facekit.results``) prints all rows as one Markdown table and can
write them as JSON.

Where the rows live: a JSON file, by default ``<FACEKIT_HOME>/results/results.json``
(:func:`default_results_path`; ``FACEKIT_HOME`` defaults to ``~/.cache/facekit``), or any path passed as ``path=``.
A row is keyed by ``(method, attribute, data, profile)``: re-running a chapter **replaces** its row instead of
adding a duplicate. The file is written atomically (a temporary file, then a rename), so a reader never sees half a
file.

Example:
    >>> table = ResultsTable()
    >>> _ = table.add("copy input", "Eyeglasses", {"n": 8, "attribute_success": 0.0, "identity_kept": 1.0},
    ...               data="synth", profile="cpu")
    >>> print(table.to_markdown(columns=["method", "attribute", "attribute_success", "identity_kept"]))
    | method | attribute | attr. success | identity kept |
    |---|---|---|---|
    | copy input | Eyeglasses | 0.000 | 1.000 |
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Union

__all__ = ["ResultsTable", "default_results_path", "record", "load_results", "COLUMNS", "KEY"]

PathLike = Union[str, os.PathLike]

KEY: tuple[str, ...] = ("method", "attribute", "data", "profile")
"""The columns that identify a row; :meth:`ResultsTable.add` replaces a row with the same key."""

COLUMNS: Dict[str, str] = {
    "method": "method",
    "attribute": "attribute",
    "data": "data",
    "profile": "profile",
    "n": "n",
    "attribute_success": "attr. success",
    "attribute_shift": "attr. shift",
    "identity_kept": "identity kept",
    "others_preserved": "others kept",
    "l1": "L1",
    "psnr": "PSNR",
    "l1_in": "L1 in",
    "l1_out": "L1 out",
    "psnr_in": "PSNR in",
    "psnr_out": "PSNR out",
    "ssim": "SSIM",
    "seconds_per_image": "s / image",
}
"""Known columns, in display order, with their Markdown headers. Other keys are kept and shown after these."""


def default_results_path() -> Path:
    """``<FACEKIT_HOME>/results/results.json``, where chapters record their rows unless told otherwise."""
    from facekit.config import cache_dir

    return cache_dir("results") / "results.json"


def _plain(value: Any) -> Any:
    """A JSON-friendly copy of ``value``: tensors and numpy scalars become Python numbers."""
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 0) == 0:
        return value.item()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _fmt(value: Any, digits: int) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        if math.isinf(value):
            return "inf"
        if value != 0 and abs(value) < 10 ** (-digits):
            return f"{value:.{digits - 1}e}"
        return f"{value:.{digits}f}"
    return str(value).replace("|", "\\|")


class ResultsTable:
    """Rows of figures, one per method x attribute (x data x profile), that print as Markdown and save as JSON.

    Args:
        rows: initial rows (dicts); each needs at least ``method`` and ``attribute``.
        path: where :meth:`save` writes by default (``None``: :func:`default_results_path`).

    Example:
        >>> t = ResultsTable()
        >>> _ = t.add("DIAT", "Eyeglasses", {"identity_kept": 0.9}, data="synth", profile="cpu")
        >>> _ = t.add("DIAT", "Eyeglasses", {"identity_kept": 0.95}, data="synth", profile="cpu")  # replaces
        >>> len(t), t.rows[0]["identity_kept"]
        (1, 0.95)
    """

    def __init__(self, rows: Optional[Iterable[Mapping[str, Any]]] = None, path: Optional[PathLike] = None) -> None:
        self.rows: List[Dict[str, Any]] = []
        self.path: Optional[Path] = Path(path) if path is not None else None
        for row in rows or []:
            self._insert(dict(row))

    # -- building -----------------------------------------------------------------------------------------------
    @staticmethod
    def _key(row: Mapping[str, Any]) -> tuple:
        return tuple(row.get(k) for k in KEY)

    def _insert(self, row: Dict[str, Any]) -> Dict[str, Any]:
        for k in ("method", "attribute"):
            if not isinstance(row.get(k), str) or not row[k]:
                raise ValueError(f"a results row needs a non-empty string {k!r}; got {row.get(k)!r}")
        row = _plain(row)
        key = self._key(row)
        for i, old in enumerate(self.rows):
            if self._key(old) == key:
                self.rows[i] = row
                return row
        self.rows.append(row)
        return row

    def add(
        self,
        method: str,
        attribute: str,
        scores: Mapping[str, Any],
        *,
        data: Optional[str] = None,
        profile: Optional[str] = None,
        **extra: Any,
    ) -> Dict[str, Any]:
        """Add (or replace) the row of ``method`` x ``attribute``.

        Args:
            method: the method's name as the chapter calls it (``"CNIA"``, ``"DIAT-A"``, ``"copy input"``).
            attribute: the edited attribute (``"Eyeglasses"``) or what was changed (``"pose"``).
            scores: figures, typically the dict of :func:`facekit.eval.score_edits`.
            data: the dataset (default :func:`facekit.get_data`).
            profile: the profile (default :func:`facekit.get_profile`).
            **extra: more columns (``seconds_per_image=...``, ``notes=...``).

        Returns:
            the stored row.
        """
        from facekit.config import get_data, get_profile

        if not isinstance(scores, Mapping):
            raise TypeError(f"scores must be a mapping of column -> value (e.g. score_edits' dict); got {type(scores).__name__}")
        row: Dict[str, Any] = {
            "method": method,
            "attribute": attribute,
            "data": data if data is not None else get_data(),
            "profile": profile if profile is not None else get_profile(),
        }
        row.update({k: v for k, v in scores.items() if k not in KEY})
        row.update(extra)
        return self._insert(row)

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        return iter(self.rows)

    def __repr__(self) -> str:
        return f"ResultsTable({len(self.rows)} rows, path={str(self.path) if self.path else None!r})"

    def filter(self, **where: Any) -> "ResultsTable":
        """The rows whose columns equal the given values, e.g. ``table.filter(attribute="Eyeglasses")``."""
        return ResultsTable([r for r in self.rows if all(r.get(k) == v for k, v in where.items())], self.path)

    # -- showing ------------------------------------------------------------------------------------------------
    def columns(self) -> List[str]:
        """The columns present in at least one row: the known ones (:data:`COLUMNS`) first, in their order."""
        present = {k for r in self.rows for k in r}
        known = [c for c in COLUMNS if c in present]
        others = sorted(present - set(COLUMNS))
        return known + others

    def to_markdown(self, columns: Optional[Sequence[str]] = None, digits: int = 3) -> str:
        """The table as GitHub Markdown (floats with ``digits`` decimals; missing or nan shown as blank / n/a)."""
        cols = list(columns) if columns is not None else self.columns()
        if not cols:
            return "(no results)"
        lines = [
            "| " + " | ".join(COLUMNS.get(c, c) for c in cols) + " |",
            "|" + "---|" * len(cols),
        ]
        for r in self.rows:
            lines.append("| " + " | ".join(_fmt(r.get(c), digits) for c in cols) + " |")
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:  # Jupyter shows the table rendered
        return self.to_markdown()

    # -- persisting ---------------------------------------------------------------------------------------------
    def to_json(self, indent: Optional[int] = 2) -> str:
        """The rows as a JSON list (nan and inf written as ``null`` / strings, so any JSON reader accepts it)."""

        def clean(v: Any) -> Any:
            if isinstance(v, float) and math.isnan(v):
                return None
            if isinstance(v, float) and math.isinf(v):
                return "inf" if v > 0 else "-inf"
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items()}
            if isinstance(v, list):
                return [clean(x) for x in v]
            return v

        return json.dumps([clean(r) for r in self.rows], indent=indent, allow_nan=False)

    def save(self, path: Optional[PathLike] = None) -> Path:
        """Write the rows as JSON to ``path`` (default: the table's path, else :func:`default_results_path`)."""
        target = Path(path) if path is not None else (self.path or default_results_path())
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".results-", suffix=".json", dir=target.parent)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(self.to_json() + "\n")
            os.replace(tmp, target)  # atomic: readers see the old or the new file, never half of one
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self.path = target
        return target

    @classmethod
    def load(cls, path: Optional[PathLike] = None, missing_ok: bool = True) -> "ResultsTable":
        """Read a table written by :meth:`save` (an empty table if the file does not exist and ``missing_ok``)."""
        source = Path(path) if path is not None else default_results_path()
        if not source.exists():
            if missing_ok:
                return cls(path=source)
            raise FileNotFoundError(f"no results table at {source}; chapters write it with facekit.eval.record(...)")
        try:
            rows = json.loads(source.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{source} is not a results table (invalid JSON: {err})") from err
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ValueError(f"{source} is not a results table: expected a JSON list of row objects")

        def restore(v: Any) -> Any:
            if v == "inf":
                return math.inf
            if v == "-inf":
                return -math.inf
            if v is None:
                return math.nan
            return v

        return cls([{k: restore(v) for k, v in r.items()} for r in rows], path=source)


def load_results(path: Optional[PathLike] = None) -> ResultsTable:
    """The results recorded so far (:meth:`ResultsTable.load`; empty if none)."""
    return ResultsTable.load(path)


def record(
    method: str,
    attribute: str,
    scores: Mapping[str, Any],
    path: Optional[PathLike] = None,
    **extra: Any,
) -> ResultsTable:
    """Append (or replace) a row in the shared results file and save it; what a chapter calls after scoring.

    Args:
        method, attribute, scores, extra: as in :meth:`ResultsTable.add` (``data=``, ``profile=`` included).
        path: the JSON file (default :func:`default_results_path`).

    Returns:
        the whole table after the update.

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "results.json")
        >>> t = record("copy input", "Smiling", {"n": 4, "identity_kept": 1.0}, path=p, data="synth", profile="smoke")
        >>> len(load_results(p))
        1
    """
    table = ResultsTable.load(path)
    table.add(method, attribute, scores, **extra)
    table.save()
    return table
