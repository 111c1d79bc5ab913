"""facekit.eval: metrics against scikit-image, recall@K by hand, the results table, score_edits and the oracle."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from facekit import eval as E
from facekit.eval.oracle import Oracle, OracleNet

torch.set_num_threads(1)


# -- metrics against scikit-image ------------------------------------------------------------------------------------


def _pair(seed: int = 0, shape: tuple[int, ...] = (3, 3, 40, 37)) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(shape, generator=g, dtype=torch.float64)
    b = (a + 0.1 * torch.randn(shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    return a, b


def test_psnr_and_mse_match_skimage() -> None:
    from skimage.metrics import mean_squared_error, peak_signal_noise_ratio

    a, b = _pair()
    per = E.psnr(a, b, reduction="none")
    for i in range(a.shape[0]):
        x, y = a[i].permute(1, 2, 0).numpy(), b[i].permute(1, 2, 0).numpy()
        assert float(per[i]) == pytest.approx(peak_signal_noise_ratio(x, y, data_range=1.0), abs=1e-9)
        assert float(E.mse(a[i : i + 1], b[i : i + 1])) == pytest.approx(mean_squared_error(x, y), abs=1e-12)
    assert float(E.psnr(a, b)) == pytest.approx(float(per.mean()))
    assert math.isinf(float(E.psnr(a, a)))


def test_ssim_matches_skimage_gaussian() -> None:
    from skimage.metrics import structural_similarity

    a, b = _pair(1)
    per = E.ssim(a, b, reduction="none")
    for i in range(a.shape[0]):
        x, y = a[i].permute(1, 2, 0).numpy(), b[i].permute(1, 2, 0).numpy()
        ref = structural_similarity(
            x, y, data_range=1.0, channel_axis=-1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
        )
        assert float(per[i]) == pytest.approx(ref, abs=1e-6)
    assert float(E.ssim(a.float(), a.float())) == pytest.approx(1.0, abs=1e-6)


def test_masked_errors_count_only_masked_pixels() -> None:
    a = torch.zeros(2, 3, 4, 4)
    b = torch.zeros(2, 3, 4, 4)
    b[..., :2] = 0.5  # left half differs by 0.5
    mask = torch.zeros(4, 4, dtype=torch.bool)
    mask[:, :2] = True
    assert float(E.l1(a, b, mask=mask)) == pytest.approx(0.5)
    assert float(E.l1(a, b, mask=~mask)) == pytest.approx(0.0)
    assert float(E.l1(a, b)) == pytest.approx(0.25)
    assert float(E.psnr(a, b, mask=mask)) == pytest.approx(10 * math.log10(1 / 0.25))
    # an empty mask gives nan for that image, and the mean skips it
    per_sample = torch.stack([mask, torch.zeros_like(mask)])[:, None]  # (2, 1, 4, 4)
    per = E.l1(a, b, mask=per_sample, reduction="none")
    assert float(per[0]) == pytest.approx(0.5) and math.isnan(float(per[1]))
    assert float(E.l1(a, b, mask=per_sample)) == pytest.approx(0.5)


@pytest.mark.parametrize(
    "a, b, match",
    [
        (torch.rand(3, 8, 8), torch.rand(3, 8, 8), "batch dimension"),
        (torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 9), "same shape"),
        (torch.rand(1, 3, 8, 8) * 255, torch.rand(1, 3, 8, 8), "divide by 255"),
        (torch.rand(1, 8, 8, 3), torch.rand(1, 8, 8, 3), "channels are last"),
    ],
)
def test_metrics_reject_bad_images(a: torch.Tensor, b: torch.Tensor, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        E.psnr(a, b)


def test_metric_errors() -> None:
    a = torch.rand(1, 3, 8, 8)
    with pytest.raises(ValueError, match="at least 11x11"):
        E.ssim(a, a)
    with pytest.raises(ValueError, match="mask must have shape"):
        E.l1(a, a, mask=torch.ones(5, 5))
    with pytest.raises(ValueError, match="reduction"):
        E.mse(a, a, reduction="max")
    with pytest.raises(TypeError, match="floating-point"):
        E.l1((a * 255).to(torch.uint8), (a * 255).to(torch.uint8))


# -- recall@K ---------------------------------------------------------------------------------------------------------


def test_recall_at_k_hand_made() -> None:
    # Gallery on the unit circle at angles 0, 30, 60, 90, 180 degrees; identities 0, 1, 0, 2, 1.
    ang = torch.tensor([0.0, 30.0, 60.0, 90.0, 180.0]).deg2rad()
    gallery = torch.stack([ang.cos(), ang.sin()], 1)
    g_id = torch.tensor([0, 1, 0, 2, 1])
    # Query A at 5 deg (identity 1): ranking 0(0), 1(1), ... -> correct at rank 2.
    # Query B at 85 deg (identity 0): ranking 3(2), 2(0) -> correct at rank 2.
    # Query C at 178 deg (identity 1): ranking 4(1) -> correct at rank 1.
    # Query D at 3 deg (identity 2): ranking 0, 1, 2, 3(2) -> correct at rank 4.
    qa = torch.tensor([5.0, 85.0, 178.0, 3.0]).deg2rad()
    queries = torch.stack([qa.cos(), qa.sin()], 1) * 3.0  # the scale does not matter (L2-normalised)
    q_id = torch.tensor([1, 0, 1, 2])
    r = E.recall_at_k(queries, gallery, q_id, g_id, ks=(1, 2, 3, 4))
    assert r == {1: 0.25, 2: 0.75, 3: 0.75, 4: 1.0}
    # Two label columns (identity, pose): query A now needs pose 7, which only gallery item 4 has.
    g_lab = torch.stack([g_id, torch.tensor([0, 0, 0, 0, 7])], 1)
    q_lab = torch.stack([q_id, torch.tensor([7, 0, 0, 0])], 1)
    r2 = E.recall_at_k(queries, gallery, q_lab, g_lab, ks=(1, 2, 4, 5))
    # A: only item 4 is correct, rank 5; B: item 2 at rank 2; C: item 4 now has the wrong pose, item 1 at rank 4;
    # D: item 3 at rank 4.
    assert r2 == {1: 0.0, 2: 0.25, 4: 0.75, 5: 1.0}
    # exclude: removing query C's only correct item makes C a miss at every K
    excl = torch.zeros(4, 5, dtype=torch.bool)
    excl[2, 4] = True
    assert E.recall_at_k(queries, gallery, q_id, g_id, ks=(1,), exclude=excl) == {1: 0.0}


def test_recall_at_k_errors() -> None:
    g = torch.eye(3)
    with pytest.raises(ValueError, match="between 1 and the gallery size"):
        E.recall_at_k(g, g, torch.arange(3), torch.arange(3), ks=(4,))
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        E.recall_at_k(torch.rand(3, 3, 2, 2), g, torch.arange(3), torch.arange(3))
    with pytest.raises(ValueError, match="label"):
        E.recall_at_k(g, g, torch.arange(2), torch.arange(3))
    with pytest.raises(ValueError, match="same feature size"):
        E.recall_at_k(torch.rand(3, 2), g, torch.arange(3), torch.arange(3))


# -- runtime ----------------------------------------------------------------------------------------------------------


def test_seconds_per_image_is_positive_and_per_image() -> None:
    t = E.seconds_per_image(lambda x: torch.nn.functional.avg_pool2d(x, 3), torch.rand(4, 3, 32, 32), device="cpu")
    assert 0 < t < 1
    assert E.seconds_per_image(lambda d: d["x"] + 1, {"x": torch.rand(2, 3)}, repeats=1, warmup=0, device="cpu") > 0
    with pytest.raises(ValueError, match="batch_size"):
        E.seconds_per_image(lambda x: x, 3.0, device="cpu")
    with pytest.raises(ValueError, match="repeats"):
        E.seconds_per_image(lambda x: x, torch.rand(1), repeats=0, device="cpu")


# -- the results table ------------------------------------------------------------------------------------------------


def test_results_table_round_trip(tmp_path) -> None:
    path = tmp_path / "results.json"
    E.record("copy input", "Eyeglasses", {"n": 4, "attribute_success": 0.0, "identity_kept": 1.0, "psnr": math.inf},
             path=path, data="synth", profile="smoke")
    E.record("CNIA", "Eyeglasses", {"n": 4, "attribute_success": torch.tensor(0.75), "l1": math.nan},
             path=path, data="synth", profile="smoke", seconds_per_image=2.5)
    E.record("CNIA", "Eyeglasses", {"n": 4, "attribute_success": 0.8}, path=path, data="synth", profile="smoke")
    table = E.load_results(path)
    assert len(table) == 2  # the second CNIA row replaced the first
    assert table.rows[1]["attribute_success"] == 0.8
    assert math.isinf(table.rows[0]["psnr"])
    rows = json.loads(path.read_text())
    assert [r["method"] for r in rows] == ["copy input", "CNIA"]
    md = table.to_markdown()
    lines = md.splitlines()
    assert lines[0].startswith("| method | attribute | data | profile | n | attr. success | identity kept | PSNR |")
    assert len(lines) == 4 and "| copy input | Eyeglasses | synth | smoke | 4 | 0.000 | 1.000 | inf |" in md
    assert len(table.filter(method="CNIA")) == 1


def test_bench_cli_prints_markdown_and_writes_json(tmp_path, capsys) -> None:
    from facekit.results import main

    path = tmp_path / "r.json"
    assert main(["--results", str(path)]) == 0
    assert "no results" in capsys.readouterr().out
    E.record("DIAT", "Smiling", {"n": 2, "identity_kept": 0.5}, path=path, data="synth", profile="cpu")
    out_json = tmp_path / "out.json"
    assert main(["--results", str(path), "--json", str(out_json)]) == 0
    assert "| DIAT | Smiling | synth | cpu | 2 | 0.500 |" in capsys.readouterr().out
    assert json.loads(out_json.read_text())[0]["method"] == "DIAT"
    path.write_text("{not json")
    assert main(["--results", str(path)]) == 1


def test_results_table_errors(tmp_path) -> None:
    t = E.ResultsTable()
    with pytest.raises(ValueError, match="method"):
        t.add("", "Eyeglasses", {})
    with pytest.raises(TypeError, match="mapping"):
        t.add("m", "a", [1, 2])  # type: ignore[arg-type]
    bad = tmp_path / "bad.json"
    bad.write_text('{"a": 1}')
    with pytest.raises(ValueError, match="not a results table"):
        E.ResultsTable.load(bad)
    with pytest.raises(FileNotFoundError, match="record"):
        E.ResultsTable.load(tmp_path / "missing.json", missing_ok=False)


# -- score_edits with an injected judge -------------------------------------------------------------------------------


class _ToyJudge:
    """Attribute "Bright" = mean > 0.5, "Red" = red > green; identity = the image's mean colour."""

    attribute_names = ["Bright", "Red"]
    score_name = "toy"
    threshold = 0.05

    def attribute_probabilities(self, x: torch.Tensor) -> torch.Tensor:
        bright = (x.mean(dim=(1, 2, 3)) > 0.5).float()
        red = (x[:, 0].mean(dim=(1, 2)) > x[:, 1].mean(dim=(1, 2))).float()
        return torch.stack([bright, red], 1)

    def identity_score(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return -(a.mean(dim=(2, 3)) - b.mean(dim=(2, 3))).abs().amax(1)  # higher = more alike

    def same_identity(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.identity_score(a, b) > -self.threshold


def test_score_edits_logic_with_a_toy_judge() -> None:
    dark = torch.full((4, 3, 16, 16), 0.2)
    bright = dark + 0.6  # "Bright" turned on, Red unchanged, identity (mean colour) changed by 0.6
    judge = _ToyJudge()
    row = E.score_edits(dark, bright, {"Bright": 1}, counterfactuals=bright, oracle=judge, identity=judge)
    assert row["attribute_success"] == 1.0 and row["others_preserved"] == 1.0 and row["target_in_source"] == 0.0
    assert row["attribute_shift"] == 1.0  # the probability of "Bright" went from 0 to 1
    assert row["identity_kept"] == 0.0 and row["identity_toy"] == pytest.approx(-0.6)
    assert row["l1"] == 0.0 and math.isinf(row["psnr"]) and row["ssim"] == pytest.approx(1.0)
    copy = E.score_edits(dark, dark, {"Bright": 1}, counterfactuals=bright, oracle=judge, identity=judge)
    assert copy["attribute_success"] == 0.0 and copy["identity_kept"] == 1.0 and copy["attribute_shift"] == 0.0
    assert copy["l1"] == pytest.approx(0.6) and copy["psnr"] == pytest.approx(10 * math.log10(1 / 0.36), rel=1e-5)
    # per-sample targets, the (B, A) form and the masks
    half = dark.clone()
    half[2:] = bright[2:]
    per = E.score_edits(dark, half, {"Bright": torch.tensor([0, 0, 1, 1])}, oracle=judge, identity=judge, reduction="none")
    assert per["attribute_success"].tolist() == [1.0, 1.0, 1.0, 1.0]
    assert per["identity_kept"].tolist() == [True, True, False, False]
    tgt = torch.tensor([[1.0, float("nan")]] * 4)
    assert E.score_edits(dark, half, tgt, oracle=judge, identity=judge)["attribute_success"] == 0.5
    mask = torch.zeros(16, 16)
    mask[:8] = 1.0
    local = dark.clone()
    local[..., :8, :] = 0.8
    row = E.score_edits(dark, local, {"Bright": 1}, counterfactuals=local, masks=mask, oracle=judge, identity=judge)
    assert row["l1_in"] == 0.0 and row["l1_out"] == 0.0
    row = E.score_edits(dark, dark, {"Bright": 1}, counterfactuals=local, masks=mask, oracle=judge, identity=judge)
    assert row["l1_in"] == pytest.approx(0.6) and row["l1_out"] == pytest.approx(0.0)
    assert math.isinf(row["psnr_out"]) and row["psnr_in"] == pytest.approx(10 * math.log10(1 / 0.36), rel=1e-5)
    no_attr = E.score_edits(dark, dark, {"Bright": 1}, identity=judge, judge_attributes=False)
    assert math.isnan(no_attr["attribute_success"]) and no_attr["identity_kept"] == 1.0


def test_minus_one_means_absent_in_targets_as_in_render_and_the_pool() -> None:
    """One meaning of -1 everywhere (issue 18): CelebA's 'absent', never 'untouched' and never 'present'."""
    names = ["Eyeglasses", "Smiling"]
    assert E.target_matrix({"Eyeglasses": -1}, names, 2)[:, 0].tolist() == [0.0, 0.0]
    as_tensor = E.target_matrix(torch.tensor([[-1.0, float("nan")]]), names, 1)
    assert as_tensor[0, 0] == 0.0 and math.isnan(as_tensor[0, 1])
    with pytest.raises(ValueError, match="got \\[2.0\\]"):
        E.target_matrix({"Eyeglasses": 2}, names, 1)


def test_score_edits_errors() -> None:
    judge = _ToyJudge()
    x = torch.rand(2, 3, 16, 16)
    with pytest.raises(KeyError, match="unknown target attribute 'Eyeglasses'"):
        E.score_edits(x, x, {"Eyeglasses": 1}, oracle=judge, identity=judge)
    with pytest.raises(ValueError, match=r"\(B, A\) = \(2, 2\)"):
        E.score_edits(x, x, torch.ones(2, 3), oracle=judge, identity=judge)
    with pytest.raises(ValueError, match="0 or 1"):
        E.score_edits(x, x, {"Bright": 2}, oracle=judge, identity=judge)
    with pytest.raises(ValueError, match="one 0/1 value per image"):
        E.score_edits(x, x, {"Bright": [1, 0, 1]}, oracle=judge, identity=judge)
    with pytest.raises(ValueError, match="no target"):
        E.score_edits(x, x, torch.full((2, 2), float("nan")), oracle=judge, identity=judge)
    with pytest.raises(TypeError, match="dict name -> 0/1"):
        E.score_edits(x, x, ["Bright"], oracle=judge, identity=judge)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="same shape"):
        E.score_edits(x, x[:1], {"Bright": 1}, oracle=judge, identity=judge)
    with pytest.raises(ValueError, match="divide by 255"):
        E.score_edits(x, x * 255, {"Bright": 1}, oracle=judge, identity=judge)
    with pytest.raises(ValueError, match="pass counterfactuals"):
        E.score_edits(x, x, {"Bright": 1}, masks=torch.ones(16, 16), oracle=judge, identity=judge)
    with pytest.raises(ValueError, match="identity must be"):
        E.score_edits(x, x, {"Bright": 1}, oracle=judge, identity="vggface")


def test_oracle_net_shapes_and_missing_weights(tmp_path) -> None:
    net = OracleNet(num_attributes=5, num_identities=7, accessories={"glasses": 4})
    out = net(torch.rand(2, 3, 48, 48), torch.tensor([1, 2]))  # any size: resized to 64 inside
    assert out["attributes"].shape == (2, 5) and out["identity"].shape == (2, 7)
    assert out["accessories"]["glasses"].shape == (2, 4)
    assert torch.allclose(out["embedding"].norm(dim=1), torch.ones(2), atol=1e-5)
    with pytest.raises(E.OracleNotFoundError, match="train_oracle.py"):
        E.load_oracle(tmp_path / "nope.pt")
    judge = Oracle(net.eval(), list("abcde"), threshold=0.3, device="cpu")
    with pytest.raises(KeyError, match="knows no attribute"):
        judge.index("Eyeglasses")


def test_dlib_identity_is_available_or_explains() -> None:
    """Installed means usable: only a genuinely absent dlib or face_recognition_models may skip (after checking
    that the error explains what to install); any error from an installed pair fails the test."""
    import importlib.util

    missing = [m for m in ("dlib", "face_recognition_models") if importlib.util.find_spec(m) is None]
    if missing:
        with pytest.raises(ImportError, match="pip install"):
            E.DlibIdentity()
        pytest.skip(f"{' and '.join(missing)} not installed (find_spec is None): DlibIdentity explains what to install")
    judge = E.DlibIdentity()
    assert judge.threshold == E.DLIB_SAME_PERSON_THRESHOLD
    from skimage.data import astronaut

    face = torch.from_numpy(astronaut().copy()).permute(2, 0, 1)[None].float() / 255  # (1, 3, 512, 512)
    assert judge.same_identity(face, face.flip(-1)).tolist() == [True]  # the same person, mirrored
    blank = torch.zeros(1, 3, 64, 64)
    assert judge.same_identity(blank, blank).tolist() == [False]  # no face found: not the same person


# -- the shipped oracle on SynthFaces ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def oracle() -> Oracle:
    return E.load_oracle(device="cpu")  # ships with facekit: a missing file is a failure, not a skip


def test_the_shipped_oracle_is_registered_and_checked(tmp_path, monkeypatch) -> None:
    from facekit import hub

    entry = hub.REGISTRY["oracle"]
    shipped = hub.PACKAGE_WEIGHTS_DIR / entry.filename
    assert shipped.is_file() and shipped.with_suffix(".json").is_file()
    assert hub.sha256sum(shipped) == entry.sha256  # the registered hash is the shipped file's
    # a damaged copy in the facekit cache (searched first) is refused with the hash in the message
    monkeypatch.setenv("FACEKIT_HOME", str(tmp_path))
    cached = tmp_path / "weights" / entry.filename
    cached.parent.mkdir(parents=True)
    cached.write_bytes(shipped.read_bytes()[:-10] + b"0123456789")
    cached.with_suffix(".json").write_text(shipped.with_suffix(".json").read_text())
    with pytest.raises(hub.WeightsHashError, match="oracle.pt"):
        E.load_oracle(device="cpu")


def _renders(ids, attributes=None, size=64):
    from facekit.data.synthfaces import render
    from facekit.data._common import image_to_tensor

    items = [render(int(i), attributes, size=size) for i in ids]
    return torch.stack([image_to_tensor(it["image"]) for it in items]), np.stack([it["landmarks"] for it in items])


def test_score_edits_with_the_oracle_on_counterfactuals(oracle: Oracle) -> None:
    from facekit.eval.protocol import split_identities
    from facekit.masks import attribute_masks

    test_ids = split_identities("test")[:12]
    src, landmarks = _renders(test_ids, {"Eyeglasses": 0})
    cf, _ = _renders(test_ids, {"Eyeglasses": 1, "glasses_style": "square"})
    other, _ = _renders(test_ids[1:] + test_ids[:1], {"Eyeglasses": 1, "glasses_style": "square"})
    masks = attribute_masks(landmarks, "Eyeglasses", 64)
    target = {"Eyeglasses": 1}

    truth = E.score_edits(src, cf, target, counterfactuals=cf, masks=masks, oracle=oracle)
    assert truth["attribute_success"] >= 0.9 and truth["identity_kept"] >= 0.9
    assert truth["others_preserved"] >= 0.95 and truth["l1"] == 0.0

    copy = E.score_edits(src, src, target, counterfactuals=cf, masks=masks, oracle=oracle)
    assert copy["attribute_success"] <= 0.1 and copy["identity_kept"] == 1.0
    assert copy["l1_in"] > 5 * copy["l1_out"]  # the glasses are inside the mask

    impostor = E.score_edits(src, other, target, counterfactuals=cf, oracle=oracle)
    assert impostor["attribute_success"] >= 0.9 and impostor["identity_kept"] <= 0.2

    # a subtle attribute: the absolute decision is unreliable at 64 px, the paired shift is not
    calm, _ = _renders(test_ids, {"Smiling": 0})
    smile, _ = _renders(test_ids, {"Smiling": 1})
    row = E.score_edits(calm, smile, {"Smiling": 1}, counterfactuals=smile, oracle=oracle)
    assert row["attribute_shift"] > 0.2 and row["identity_kept"] >= 0.9
    assert E.score_edits(calm, calm, {"Smiling": 1}, oracle=oracle)["attribute_shift"] == 0.0


# -- verification -----------------------------------------------------------------------------------------------------


def test_roc_auc_and_eer_by_hand() -> None:
    scores = torch.tensor([0.9, 0.8, 0.3, 0.4, 0.1])
    same = torch.tensor([True, False, True, True, False])
    # same: 0.9, 0.3, 0.4; different: 0.8, 0.1 -> ordered right: (0.9 > 0.8, 0.9 > 0.1, 0.3 > 0.1, 0.4 > 0.1) = 4 of 6
    assert E.roc_auc(scores, same) == pytest.approx(4 / 6)
    assert E.roc_auc(torch.tensor([0.5, 0.5]), torch.tensor([True, False])) == pytest.approx(0.5)  # a tie: one half
    t, eer = E.eer_threshold(torch.tensor([0.9, 0.8, 0.3, 0.1]), torch.tensor([True, True, False, False]))
    assert t == pytest.approx(0.8) and eer == 0.0
    i, j, s = E.verification_pairs(torch.tensor([0, 0, 1, 1]))
    assert len(i) == 6 and s.sum() == 2
    with pytest.raises(ValueError, match="both"):
        E.roc_auc(torch.rand(3), torch.ones(3, dtype=torch.bool))


def test_protocol_is_deterministic_and_identity_disjoint() -> None:
    from facekit.eval import protocol as P

    train, val, test = (set(P.split_identities(s)) for s in ("train", "val", "test"))
    assert len(train) == 800 and not (train & test) and not (val & test) and not (train & val)
    a = P.random_specs([5, 6], per_identity=3, seed=1)
    assert a == P.random_specs([5, 6], per_identity=3, seed=1) and a != P.random_specs([5, 6], 3, seed=2)
    pairs = P.edit_pairs([5, 6, 7], per_identity=2, seed=0)
    assert len(pairs) == 6
    for p in pairs:
        assert p.same.identity == p.source.identity != p.other.identity
        assert (p.other.yaw, p.other.light, p.other.background) == (p.same.yaw, p.same.light, p.same.background)
    data = P.render_specs(a[:2], size=32)
    assert data["images"].shape == (2, 32, 32, 3) and data["attributes"].shape[0] == 2


def test_near_frontal_share_of_protocol_samples() -> None:
    from facekit.eval import protocol as P

    ids = list(range(40))
    full = P.random_specs(ids, per_identity=5, seed=4)
    assert full == P.random_specs(ids, per_identity=5, seed=4, p_frontal=0.0)  # the evaluation protocol is unchanged
    frontal = P.random_specs(ids, per_identity=5, seed=4, p_frontal=1.0)
    assert all(abs(s.yaw) <= 10 and abs(s.pitch) <= 5 for s in frontal)
    assert 0.3 < sum(s.light == 0 for s in frontal) / len(frontal) < 0.7  # half under light 0
    assert sum(abs(s.yaw) > 10 for s in full) > 0.6 * len(full)  # the full range: most samples are turned
    mixed = P.random_specs(ids, per_identity=5, seed=4, p_frontal=0.4)
    share = sum(abs(s.yaw) <= 10 and abs(s.pitch) <= 5 for s in mixed) / len(mixed)
    assert 0.35 < share < 0.6  # 0.4 near-frontal by the draw, plus the full range's own near-frontal samples
    pairs = P.edit_pairs(ids[:10], per_identity=3, seed=0, p_frontal=1.0)
    assert all(abs(p.source.yaw) <= 10 for p in pairs)
    with pytest.raises(ValueError, match="p_frontal"):
        P.random_specs(ids, per_identity=1, p_frontal=1.5)
    with pytest.raises(ValueError, match="p_trait"):
        P.random_specs(ids, 1, p_trait=-0.1)


def test_coupled_attributes_are_not_counted_as_changed_without_counterfactuals() -> None:
    class BeardJudge:
        attribute_names = ["Goatee", "No_Beard", "Smiling"]

        def attribute_probabilities(self, x: torch.Tensor) -> torch.Tensor:
            goatee = (x[:, 0].mean(dim=(1, 2)) > 0.5).float()
            return torch.stack([goatee, 1 - goatee, torch.zeros_like(goatee)], 1)

    judge, ident = BeardJudge(), _ToyJudge()
    src, edit = torch.zeros(2, 3, 8, 8), torch.zeros(2, 3, 8, 8)
    edit[:, 0] = 1.0  # a goatee grows: No_Beard goes with it, Smiling stays
    row = E.score_edits(src, edit, {"Goatee": 1}, oracle=judge, identity=ident)
    assert row["attribute_success"] == 1.0 and row["others_preserved"] == 1.0  # only Smiling is judged


def test_metrics_of_no_image_are_an_error_not_nan() -> None:
    empty = torch.zeros(0, 3, 16, 16)
    for fn in (E.mse, E.l1, E.psnr, E.ssim):
        with pytest.raises(ValueError, match="hold no pixels"):
            fn(empty, empty)


def test_roc_and_eer_follow_scikit_learn_on_ties() -> None:
    scores = torch.tensor([0.9, 0.5, 0.5, 0.5, 0.1, 0.7])
    same = torch.tensor([True, True, False, True, False, False])
    fpr, tpr, thr = E.roc_curve(scores, same)
    assert math.isinf(float(thr[0])) and float(fpr[0]) == 0 and float(tpr[-1]) == 1
    # by hand: 9 (same, different) pairs; ordered right: 0.9 beats all 3, each 0.5 beats 0.1 and ties 0.5 (half)
    assert E.roc_auc(scores, same) == pytest.approx((3 + 1.5 + 1.5) / 9)
