"""Run the benchmark: every selected method on every selected edit, scored, cached, printed as one table.

:func:`run_benchmark` computes one *cell* per (method, edit): the method's edits of the protocol's cases
(:func:`facekit.bench.protocol.cases`), scored by :func:`facekit.eval.score_edits` with the judges of
:func:`facekit.eval.judges_for` (the SynthFaces oracle on ``synth``; on real photos dlib's identity and whatever
attribute judge ``judges_for`` returns), timed, and its training cost read from the shipped records. A method that
cannot do an edit gives no cell: the table prints ``-`` there, never 0.

Each cell is cached (``cache_dir("bench")``, under ``FACEKIT_CACHE`` when set) under a key of the protocol
version, the data, the method, the edit, ``n``, the method's settings (CNIA's steps and pool), the SHA-256 of
every weight file it uses and of the judge's, and of the judging and scoring code (``facekit/eval/judges.py``,
``scores.py``): retrained networks, a new oracle or a new protocol are recomputed,
the rest is read back. The first images of each cell are kept beside it for the galleries.

Example:
    >>> res = run_benchmark(["copy"], ["mouth_open"], n=2, progress=False)     # doctest: +SKIP
    >>> print(res.to_markdown())                                               # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

from facekit.bench.methods import METHODS, Method, check_methods, file_sha256
from facekit.bench.protocol import EDITS, PROTOCOL_VERSION, SIZE, Cases, cases, check_edits

__all__ = ["GALLERY", "Cell", "BenchResult", "run_benchmark", "check_data", "cell_key", "SYNTH_COLUMNS",
           "REAL_COLUMNS"]

GALLERY: int = 4
"""Images per cell kept for the galleries."""

SYNTH_COLUMNS: Tuple[Tuple[str, str], ...] = (
    ("attribute_success", "attribute success"),
    ("identity_kept", "identity kept"),
    ("others_preserved", "others preserved"),
    ("l1_in", "L1 in mask"),
    ("l1_out", "L1 out of mask"),
    ("psnr_in", "PSNR in (dB)"),
    ("psnr_out", "PSNR out (dB)"),
    ("seconds_per_image", "s / image"),
    ("train_cpu_hours", "training CPU-h"),
)
"""The table's score columns on SynthFaces: ``(row key, header)``."""

REAL_COLUMNS: Tuple[Tuple[str, str], ...] = (
    ("attribute_success", "attribute success"),
    ("identity_kept", "identity kept (dlib)"),
    ("identity_dlib_distance", "dlib distance"),
    ("identity_independent", "dlib independent"),
    ("seconds_per_image", "s / image"),
    ("train_cpu_hours", "training CPU-h"),
)
"""The table's score columns on real photos (no counterfactual columns)."""


def check_data(data: str) -> str:
    """The dataset name, checked: ``synth`` or a real dataset of :data:`facekit.config.DATASETS`.

    Raises:
        ValueError: an unknown name (the message lists the valid ones).
    """
    valid = ("synth", "celeba", "lfw", "ffhq")
    name = str(data).lower()
    if name not in valid:
        raise ValueError(f"unknown data {data!r}; the benchmark runs on: {', '.join(valid)}")
    return name


@dataclass
class Cell:
    """The scores of one method on one edit (``row``) and the first images (uint8 ``(G, C, H, W)``)."""

    method: str
    edit: str
    row: Dict[str, Any]
    images: Dict[str, np.ndarray] = field(default_factory=dict)
    cached: bool = False


def _judge_hashes(data: str) -> Dict[str, str]:
    from facekit import hub

    names = ["oracle"] if data == "synth" else ["dlib_face_resnet"]
    out = {}
    for n in names:
        try:
            out[n] = file_sha256(Path(hub.find(n)))
        except Exception:  # a judge whose weights are elsewhere (dlib's own package): keyed by its name only
            out[n] = "not a file"
    return out


def _scoring_hash() -> str:
    """SHA-256 of the judges' and the scores' code (``facekit/eval/judges.py``, ``scores.py``): a new real-photo
    judge or a changed score recomputes the cells it touches."""
    root = Path(__file__).resolve().parents[1] / "eval"
    return hashlib.sha256(b"".join((root / f).read_bytes() for f in ("judges.py", "scores.py"))).hexdigest()


def cell_key(method: Method, edit: str, n: int, data: str) -> str:
    """The cache key of a cell (SHA-256 of everything its result depends on)."""
    spec = {"protocol": PROTOCOL_VERSION, "data": data, "method": method.name, "edit": edit, "n": int(n),
            "size": SIZE, "settings": method.settings(), "weights": method.weight_hashes(edit),
            "judges": _judge_hashes(data), "scoring": _scoring_hash()}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def _u8(x: Optional[Tensor]) -> Optional[np.ndarray]:
    return None if x is None else (x[:GALLERY].clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def _timed(method: Method, c: Cases) -> Tuple[Tensor, float]:
    """The edits and seconds per image (one timed run; a run under 2 s is re-timed, median of 3 after a warm-up)."""
    from facekit.eval import seconds_per_image

    def fn(x: Tensor) -> Tensor:  # an optimisation method needs gradients; a network is timed without them
        with torch.enable_grad() if method.optimises else torch.no_grad():
            return method.run(dataclasses.replace(c, inputs=x))

    t0 = time.perf_counter()
    out = fn(c.inputs)
    spi = (time.perf_counter() - t0) / len(c)
    if spi * len(c) < 2.0:

        spi = seconds_per_image(fn, c.inputs, warmup=1, repeats=3, device="cpu")
    if tuple(out.shape) != (len(c), 3, SIZE, SIZE):
        raise RuntimeError(f"{method.name} returned {tuple(out.shape)} for {c.edit.name}; expected "
                           f"({len(c)}, 3, {SIZE}, {SIZE})")
    return out, spi


def _score(method: Method, c: Cases, out: Tensor, judges: Any) -> Dict[str, Any]:
    from facekit.eval import score_edits

    kwargs = judges.score_kwargs()
    attribute_edit = c.edit.kind == "attribute"
    if not attribute_edit:  # nothing to switch: identity and pixels here, the attributes kept below
        kwargs["judge_attributes"] = False
    row = score_edits(c.references, out, c.targets, counterfactuals=c.counterfactuals, masks=c.masks,
                      loss_network=method.loss_network(c.data), **kwargs)
    if not attribute_edit and judges.attributes is not None:
        # others preserved = the judge's attribute decisions on the output that match those on the true face
        with torch.no_grad():
            a = judges.attributes.attribute_probabilities(out).cpu() > 0.5
            b = judges.attributes.attribute_probabilities(c.references).cpu() > 0.5
        row["others_preserved"] = float((a == b).double().mean())
    return {k: (float(v) if isinstance(v, (float, int, np.floating)) and not isinstance(v, bool) else v)
            for k, v in row.items()}


def _generic(source: str, edit: str) -> str:
    """A training-cost field with the edit's name as ``<edit>`` (one line per method in the footer)."""
    return source.replace(f"_{edit}+", "_<edit>+").replace(f"_{edit}]", "_<edit>]")


@dataclass
class BenchResult:
    """The cells of one run, in the order asked for; ``computed`` lists the cells computed (not cached) here."""

    methods: List[str]
    edits: List[str]
    data: str
    n: int
    cells: Dict[Tuple[str, str], Cell]
    computed: List[Tuple[str, str]]
    wall_s: float

    def cell(self, method: str, edit: str) -> Optional[Cell]:
        """The cell, or ``None`` where the method cannot do the edit."""
        return self.cells.get((method, edit))

    def columns(self) -> Tuple[Tuple[str, str], ...]:
        return SYNTH_COLUMNS if self.data == "synth" else REAL_COLUMNS

    def headers(self) -> List[str]:
        """The table's header: edit, method, then the score columns."""
        return ["edit", "method"] + [h for _, h in self.columns()]

    def _fmt(self, key: str, value: Any, edit: str) -> str:
        if key == "identity_independent":
            return "yes" if value else "no (optimised through dlib)"
        if value is None or (isinstance(value, float) and math.isnan(value)):
            if key == "attribute_success":
                return "not judged" if self.data != "synth" else "n/a"
            return "n/a"
        if key == "seconds_per_image":
            return f"{value:.3g}"
        if key == "train_cpu_hours":
            return f"{value:.2f}"
        if key.startswith("psnr"):
            return f"{value:.1f}"
        return f"{value:.3f}"

    def table_rows(self) -> List[List[str]]:
        """One row per (edit, method): the figures, or ``-`` everywhere the method cannot do the edit."""
        rows = []
        for e in self.edits:
            for m in self.methods:
                c = self.cell(m, e)
                if c is None:
                    rows.append([e, METHODS[m].label] + ["-"] * len(self.columns()))
                else:
                    rows.append([e, METHODS[m].label] + [self._fmt(k, c.row.get(k), e) for k, _ in self.columns()])
        return rows

    def to_markdown(self) -> str:
        """The Markdown table (with a line saying what was measured where)."""
        head = self.headers()
        lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in self.table_rows()]
        return "\n".join(lines)

    def footer(self) -> str:
        """What the table was measured on, and where the training costs come from."""
        dev = {c.row.get("device") for c in self.cells.values()} - {None}
        costs = sorted({f"{METHODS[m].label}: {_generic(str(c.row['train_cost_field']), e)}"
                        for (m, e), c in self.cells.items()
                        if c.row.get("train_cost_field") and m not in ("copy", "counterfactual", "inpaint")})
        return (f"protocol {PROTOCOL_VERSION}, data {self.data}, n = {self.n} per edit, "
                f"device {', '.join(sorted(dev)) or '-'}; "
                + ("training cost from " + "; ".join(costs) if costs else "no method here was trained"))


def run_benchmark(methods: Optional[Sequence[str]] = None, edits: Optional[Sequence[str]] = None, *,
                  data: str = "synth", n: int = 8, cache: bool = True, progress: bool = True,
                  cache_folder: Optional[Path] = None) -> BenchResult:
    """Score ``methods`` on ``edits`` (default: all of each), reading cached cells where nothing changed.

    Args:
        methods: names of :data:`~facekit.bench.methods.METHODS`.
        edits: names of :data:`~facekit.bench.protocol.EDITS`.
        data: ``synth`` (exact counterfactuals) or a real dataset (``celeba``).
        n: faces per edit.
        cache: read and write the cache (``False``: compute everything, write nothing).
        progress: a tqdm bar over the cells to compute.
        cache_folder: where the cells are kept (default ``facekit.config.cache_dir("bench")``).

    Returns:
        a :class:`BenchResult`.

    Raises:
        ValueError: an unknown method, edit or dataset, or ``n < 1`` (the message lists the valid values).
    """
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    ms = check_methods(list(METHODS) if methods is None else methods)
    es = check_edits(list(EDITS) if edits is None else edits)
    data = check_data(data)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int (faces per edit); got {n!r}")
    folder = cache_folder
    if cache and folder is None:
        from facekit.config import cache_dir

        folder = cache_dir("bench")
    todo, cells = [], {}
    for e in es:
        for m in ms:
            method = METHODS[m]
            if not method.can(e, data):
                continue
            key = cell_key(method, e, n, data)
            path = None if folder is None else Path(folder) / f"{data}_{m}_{e}_n{n}_{key[:16]}"
            if cache and path is not None and path.with_suffix(".json").is_file():
                row = json.loads(path.with_suffix(".json").read_text())
                imgs = dict(np.load(path.with_suffix(".npz"))) if path.with_suffix(".npz").is_file() else {}
                cells[(m, e)] = Cell(m, e, row, imgs, cached=True)
            else:
                todo.append((m, e, key, path))
    judges = None
    case_cache: Dict[str, Cases] = {}
    for m, e, key, path in tqdm(todo, desc="benchmark", disable=not progress or not todo):
        if judges is None:
            from facekit.eval import judges_for

            judges = judges_for(data, device="cpu")
        if e not in case_cache:
            case_cache[e] = cases(e, n, data)
        c = case_cache[e]
        method = METHODS[m]
        out, spi = _timed(method, c)
        row = _score(method, c, out, judges)
        hours, source = method.cost(e)
        row.update(method=m, edit=e, data=data, protocol=PROTOCOL_VERSION, seconds_per_image=spi,
                   train_cpu_hours=hours, train_cost_field=source, device="cpu", threads=torch.get_num_threads(),
                   machine=platform.machine(), weights=method.weight_hashes(e), key=key)
        imgs = {"output": _u8(out), "input": _u8(c.inputs), "reference": _u8(c.references)}
        if c.counterfactuals is not None:
            imgs["counterfactual"] = _u8(c.counterfactuals)
        imgs = {k: v for k, v in imgs.items() if v is not None}
        if cache and path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(path.with_suffix(".npz"), **imgs)
            path.with_suffix(".json").write_text(json.dumps(row, indent=1, default=str))
        cells[(m, e)] = Cell(m, e, row, imgs, cached=False)
    return BenchResult(ms, es, data, n, cells, [(m, e) for m, e, _, _ in todo], time.perf_counter() - t0)
