"""facekit.bench: the frozen protocol, the cache, the table, bad arguments, and "-" for an edit a method cannot do."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import pytest
import torch

from facekit.bench import EDITS, METHODS, PROTOCOL_VERSION, cases, cases_digest, run_benchmark
from facekit.bench.__main__ import main
from facekit.bench.runner import REAL_COLUMNS, SYNTH_COLUMNS

REALFACES = Path(__file__).resolve().parents[1].parent / "shared" / "realfaces"


@pytest.mark.parametrize("edit", list(EDITS))
def test_protocol_is_deterministic(edit: str) -> None:
    a, b = cases(edit, 2), cases(edit, 2)
    assert cases_digest(a) == cases_digest(b)
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.references, b.references)
    assert a.inputs.shape[0] == 2 and a.references.shape[1:] == (3, 64, 64)
    if a.counterfactuals is not None:
        assert not torch.equal(a.counterfactuals, a.inputs)  # the truth differs from the input: there is an edit


def test_diat_edits_are_diat_test_data() -> None:
    from facekit.methods.diat_data import synth_test_data

    for task in ("mouth_open", "male_to_female"):
        ours, theirs = cases(task, 3), synth_test_data(task, 3)
        assert torch.equal(ours.sources, theirs.sources)
        assert torch.equal(ours.counterfactuals, theirs.counterfactuals)
        assert torch.equal(ours.masks, theirs.masks)
        assert torch.equal(ours.identities, theirs.identities)


def test_protocol_bad_arguments() -> None:
    with pytest.raises(ValueError, match="the edits are: mouth_open"):
        cases("smile_more", 2)
    with pytest.raises(ValueError, match="positive int"):
        cases("mouth_open", 0)
    with pytest.raises(ValueError, match="real photos lack"):
        cases("completion", 2, data="celeba")


def _counting(monkeypatch: pytest.MonkeyPatch, name: str) -> list:
    calls: list = []
    method = METHODS[name]

    def run(c):  # noqa: ANN001, ANN202
        calls.append(c.edit.name)
        return method.run(c)

    monkeypatch.setitem(METHODS, name, dataclasses.replace(method, run=run))
    return calls


def test_cache_second_run_computes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _counting(monkeypatch, "copy")
    first = run_benchmark(["copy", "diat_a"], ["mouth_open"], n=2, cache_folder=tmp_path, progress=False)
    assert calls and sorted(first.computed) == [("copy", "mouth_open"), ("diat_a", "mouth_open")]
    done = len(calls)
    second = run_benchmark(["copy", "diat_a"], ["mouth_open"], n=2, cache_folder=tmp_path, progress=False)
    assert len(calls) == done and second.computed == []  # nothing recomputed
    assert second.to_markdown() == first.to_markdown()
    assert all(c.cached for c in second.cells.values())
    # what changed is redone, and only that: new settings (as a retrained network's new weight hash would)
    method = METHODS["diat_a"]
    monkeypatch.setitem(METHODS, "diat_a", dataclasses.replace(method, settings=lambda: {"changed": 1}))
    third = run_benchmark(["copy", "diat_a"], ["mouth_open"], n=2, cache_folder=tmp_path, progress=False)
    assert third.computed == [("diat_a", "mouth_open")] and len(calls) == done
    # another n is another cell
    fourth = run_benchmark(["copy"], ["mouth_open"], n=3, cache_folder=tmp_path, progress=False)
    assert fourth.computed == [("copy", "mouth_open")] and len(calls) > done


def test_cache_key_covers_weights_and_protocol() -> None:
    from facekit.bench.runner import cell_key

    m = METHODS["diat_a"]
    assert set(m.weight_hashes("mouth_open")) == {"diat_a_mouth_open.pt", "diat_enhance_mouth_open.pt"}
    key = cell_key(m, "mouth_open", 2, "synth")
    assert key == cell_key(m, "mouth_open", 2, "synth")
    assert key != cell_key(m, "mouth_close", 2, "synth") and key != cell_key(m, "mouth_open", 3, "synth")
    changed = dataclasses.replace(m, weights=lambda edit: ["diat_a_mouth_close", "diat_enhance_mouth_open"])
    assert cell_key(changed, "mouth_open", 2, "synth") != key
    assert PROTOCOL_VERSION == "1"


def test_table_columns_and_dash(tmp_path: Path) -> None:
    res = run_benchmark(["copy", "diat", "counterfactual"], ["mouth_close"], n=2, cache_folder=tmp_path,
                        progress=False)
    assert res.headers() == ["edit", "method"] + [h for _, h in SYNTH_COLUMNS]
    for needed in ("attribute success", "identity kept", "others preserved", "L1 in mask", "L1 out of mask",
                   "PSNR in (dB)", "PSNR out (dB)", "s / image", "training CPU-h"):
        assert needed in res.headers()
    rows = {r[1]: r for r in res.table_rows()}
    assert rows["DIAT"][2:] == ["-"] * len(SYNTH_COLUMNS)  # DIAT ships no mouth_close network: "-", not 0
    assert rows["copy the input"][2] == "0.000" and rows["copy the input"][3] == "1.000"
    assert rows["exact counterfactual (ceiling)"][5] == "0.000"  # L1 in the mask of the truth to itself
    md = res.to_markdown().splitlines()
    assert md[0].startswith("| edit | method | attribute success") and len(md) == 2 + 3
    assert res.cell("diat", "mouth_close") is None


def test_bad_arguments_list_the_valid_ones(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(ValueError, match="the methods are: copy, inpaint, cnia"):
        run_benchmark(["gan"], ["mouth_open"], n=1, cache=False)
    with pytest.raises(ValueError, match="the edits are: mouth_open"):
        run_benchmark(["copy"], ["smile"], n=1, cache=False)
    with pytest.raises(ValueError, match="synth, celeba, lfw, ffhq"):
        run_benchmark(["copy"], ["mouth_open"], data="multipie", n=1, cache=False)
    with pytest.raises(ValueError, match="positive int"):
        run_benchmark(["copy"], ["mouth_open"], n=0, cache=False)
    for argv, expected in ((["--methods", "gan"], "the methods are"), (["--edits", "x"], "the edits are"),
                           (["--data", "mpi"], "the benchmark runs on")):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2 and expected in capsys.readouterr().err


def test_cli_prints_the_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("FACEKIT_CACHE", str(tmp_path))
    assert main(["--methods", "copy,inpaint", "--edits", "completion,mouth_open", "--n", "2", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "| completion | OpenCV inpainting | n/a |" in out  # no attribute to switch: not applicable
    assert "| mouth_open | OpenCV inpainting | - |" in out
    assert "3 cell(s) computed" in out  # copy x 2 edits, inpainting x completion


def test_figures(tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from facekit.bench import gallery_figure, marker_area, pareto_figure

    res = run_benchmark(["copy", "inpaint", "counterfactual"], ["eyeglasses_remove"], n=2, cache_folder=tmp_path,
                        progress=False)
    assert marker_area(1.0) > marker_area(1e-3) > marker_area(1e-6) == marker_area(1e-5)
    fig = pareto_figure(res)
    assert len(fig.axes[0].collections) >= 3
    g = gallery_figure(res, "eyeglasses_remove", k=2)
    assert len([a for a in g.axes if a.images]) == 2 * 4  # input, 2 methods, truth
    with pytest.raises(ValueError, match="it has: eyeglasses_remove"):
        gallery_figure(res, "mouth_open")


@pytest.mark.realdata
@pytest.mark.skipif(not (REALFACES / "data" / "celeba").is_dir(), reason="../shared/realfaces is not here")
@pytest.mark.skipif(importlib.util.find_spec("dlib") is None, reason="dlib (the real identity judge) is missing")
def test_real_photos_have_no_counterfactual_columns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEKIT_HOME", str(REALFACES))
    monkeypatch.setenv("FACEKIT_CACHE", str(tmp_path / "cache"))
    from conftest import FETCHED_JUDGE_FILES, HAS_JUDGE_FILES
    from facekit.wheel_files import WHEEL_FILES

    if not HAS_JUDGE_FILES:
        pytest.skip("the judges' files are not fetched: python -m facekit.hub fetch judges")
    for name, src in FETCHED_JUDGE_FILES.items():  # the real judges read them from this test's cache
        dst = WHEEL_FILES[name].cached_path()
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.symlink_to(src)
    res = run_benchmark(["copy", "diat_a", "cnia"], ["male_to_female"], data="celeba", n=2, progress=False)
    assert res.headers() == ["edit", "method"] + [h for _, h in REAL_COLUMNS]
    assert not any("L1" in h or "PSNR" in h for h in res.headers())
    rows = {r[1]: r for r in res.table_rows()}
    assert rows["copy the input"][2] in ("not judged",) or float(rows["copy the input"][2]) >= 0
    assert rows["copy the input"][3] == "1.000"  # dlib: a face is the same person as itself
    assert rows["CNIA"][2:] == ["-"] * len(REAL_COLUMNS)
