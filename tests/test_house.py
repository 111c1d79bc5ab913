"""The house (issue 27): module sizes, imports that run one way, every module importable alone, portable records."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Set

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "facekit"

# Import cycles still being removed on another branch of this wave (issue 27, part 3): the judges engineer's.
# Remove the pair from here when that branch is merged; the test then holds the whole package to "no cycle".
KNOWN_CYCLES: List[Set[str]] = []


def _modules() -> Dict[str, Path]:
    mods = {}
    for p in sorted(PACKAGE.rglob("*.py")):
        parts = list(p.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = p
    return mods


def import_graph() -> Dict[str, Set[str]]:
    """Module -> the facekit modules it imports anywhere in its code (top level or inside a function)."""
    mods = _modules()
    edges: Dict[str, Set[str]] = {m: set() for m in mods}
    for m, p in mods.items():
        pkg = m if p.name == "__init__.py" else m.rpartition(".")[0]
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Import):
                edges[m] |= {a.name for a in node.names if a.name in mods}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                    base = ".".join(up + ([node.module] if node.module else []))
                for a in node.names:
                    if f"{base}.{a.name}" in mods:
                        edges[m].add(f"{base}.{a.name}")
                    elif base in mods:
                        edges[m].add(base)
        edges[m].discard(m)
    return edges


def cycles(edges: Dict[str, Set[str]]) -> List[Set[str]]:
    """The strongly connected components of more than one module (Tarjan), each a set of module names."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on: Set[str] = set()
    out: List[Set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_cycle_finder_finds_a_cycle() -> None:
    found = cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}})
    assert found == [{"a", "b", "c"}]


def test_no_import_cycle() -> None:
    found = [c for c in cycles(import_graph()) if c not in KNOWN_CYCLES]
    assert not found, f"modules that import each other (make the imports run one way): {found}"


def test_no_module_over_800_lines() -> None:
    long = {str(p.relative_to(ROOT)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 800}
    assert not long, f"split these modules (at most 800 lines each): {long}"


def test_every_module_imports_alone() -> None:
    """Each module, imported first in a fresh interpreter (facekit's modules removed between them; torch stays).

    Two interpreters share the modules (one per core of a two-core machine).
    """
    import os

    names = [m for m in _modules() if not m.endswith("__main__")]
    code = (
        "import sys, importlib\n"
        "bad = []\n"
        "for name in sys.argv[1:]:\n"
        "    for k in [k for k in sys.modules if k == 'facekit' or k.startswith('facekit.')]:\n"
        "        del sys.modules[k]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as err:\n"
        "        bad.append(f'{name}: {type(err).__name__}: {err}')\n"
        "print('\\n'.join(bad))\n"
        "sys.exit(1 if bad else 0)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", code, *names[i::2]], cwd=ROOT, env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for i in range(2)]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, out + err[-2000:]


# An absolute path of a machine: /x/y, ~/x, C:\x or C:/x (not a URL's //host/, not $TMPDIR/x or $HOME/x).
_ABSOLUTE = re.compile(r"(?<![\w:/.$}-])(/[A-Za-z0-9_.-]+/|~/|[A-Za-z]:[\\/])")


@pytest.mark.parametrize("text, found", [
    ("python x.py --out /tmp/e2f/x.pt", True), ("--dir=/work/main/facekit", True), ("~/data", True),
    ("C:\\Users\\x", True), ("python x.py --out $TMPDIR/e2f/x.pt", False), ("see https://dlib.net/files/x", False),
    ("facekit/weights/x.pt", False), ("a 1/2 ratio, 0-255 / 255", False),
])
def test_absolute_path_pattern(text: str, found: bool) -> None:
    assert bool(_ABSOLUTE.search(text)) is found


def _strings(obj) -> List[str]:
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [s for k, v in obj.items() for s in _strings(k) + _strings(v)]
    if isinstance(obj, (list, tuple)):
        return [s for v in obj for s in _strings(v)]
    return []


def test_no_absolute_path_in_shipped_records() -> None:
    records = sorted((PACKAGE / "weights").glob("*.json"))
    assert len(records) >= 10
    bad = {p.name: s for p in records for s in _strings(json.loads(p.read_text())) if _ABSOLUTE.search(s)}
    assert not bad, f"shipped records hold absolute paths (make them relative, facekit.config.portable_path): {bad}"


def test_portable_command_relativises_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from facekit.config import portable_command

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    cmd = portable_command("scripts/x.py", ["--out", str(tmp_path / "w" / "x.pt"), f"--dir={tmp_path}", "--n", "3"])
    assert cmd == "OMP_NUM_THREADS=1 python scripts/x.py --out w/x.pt --dir=. --n 3"
    assert not _ABSOLUTE.search(portable_command("x.py", ["/etc/hosts"]))


def test_pretrained_description_names_no_absolute_path() -> None:
    from facekit import hub

    net = hub.pretrained("synthface_net")
    assert "facekit/weights/synthface_net.pt" in net.description and not _ABSOLUTE.search(net.description)
