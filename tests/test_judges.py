"""Judges by data (facekit.eval.judges): the SynthFaces oracle on SynthFaces only, dlib's ResNet on real photos."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from facekit.eval import Oracle, OracleNet, RealPhotoError, is_real_data, judges_for, score_edits

REALFACES = Path(__file__).resolve().parents[1].parent / "shared" / "realfaces" / "data" / "celeba"
HAS_DLIB = all(importlib.util.find_spec(m) is not None for m in ("dlib", "face_recognition_models"))


def tiny_oracle() -> Oracle:
    return Oracle(OracleNet(num_attributes=2), ["Eyeglasses", "Smiling"], threshold=0.5, device="cpu")


class FakeIdentity:
    """A judge of real photos for the tests: same person when the mean pixel differs by less than 0.1."""

    score_name = "gap"

    def identity_score(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (a.mean((1, 2, 3)) - b.mean((1, 2, 3))).abs()

    def same_identity(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.identity_score(a, b) < 0.1


def test_is_real_data() -> None:
    assert not is_real_data("synth")
    assert is_real_data("celeba") and is_real_data("lfw")
    with pytest.raises(ValueError, match="unknown dataset"):
        is_real_data("imagenet")


@pytest.mark.parametrize("kwargs", [
    {"identity": "oracle", "judge_attributes": False},  # identity by the (default) SynthFaces oracle
    {"judge_attributes": True, "identity": FakeIdentity()},  # attributes by the default oracle
    {"oracle": "tiny", "identity": FakeIdentity()},  # an Oracle object passed as the attribute judge
    {"identity": "tiny", "judge_attributes": False},  # an Oracle object passed as the identity judge
])
def test_oracle_never_judges_real_photos(kwargs: dict) -> None:
    kwargs = {k: tiny_oracle() if v == "tiny" else v for k, v in kwargs.items()}
    x = torch.rand(2, 3, 32, 32)
    with pytest.raises(RealPhotoError, match="SynthFaces oracle"):
        score_edits(x, x, {"Eyeglasses": 1}, data="celeba", **kwargs)


def test_oracle_refused_by_default_when_facekit_data_is_real(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEKIT_DATA", "lfw")
    x = torch.rand(2, 3, 32, 32)
    with pytest.raises(RealPhotoError, match="data='lfw'"):
        score_edits(x, x, {"Eyeglasses": 1}, oracle=tiny_oracle(), identity="oracle")
    row = score_edits(x, x, {"Eyeglasses": 1}, oracle=tiny_oracle(), data="synth")  # renders, said explicitly
    assert row["identity_kept"] == 1.0 and row["attribute_success"] == 0.0


def test_real_photos_attributes_not_judged_identity_by_the_given_judge() -> None:
    x = torch.rand(3, 3, 32, 32)
    row = score_edits(x, x.flip(0), {"Eyeglasses": 1}, identity=FakeIdentity(), data="celeba")
    assert math.isnan(row["attribute_success"]) and math.isnan(row["others_preserved"])
    assert "identity_gap" in row and 0.0 <= row["identity_kept"] <= 1.0


def test_synth_defaults_unchanged() -> None:
    x = torch.rand(2, 3, 64, 64)
    row = score_edits(x, x, {"Smiling": 1}, counterfactuals=x, oracle=tiny_oracle())
    assert row["identity_kept"] == 1.0 and row["l1"] == 0.0 and not math.isnan(row["attribute_success"])


@pytest.mark.skipif(not HAS_DLIB, reason="dlib-bin and face_recognition_models are not installed")
def test_judges_for_real_data_use_dlib_and_no_attribute_judge_when_asked() -> None:
    # with attributes: the real-photo judges (tests/test_real_judges.py)
    judges = judges_for("celeba", device="cpu", attributes=False)
    assert judges.attributes is None and type(judges.identity).__name__ == "DlibIdentity"
    line = judges.describe()
    assert "dlib" in line and "not judged" in line
    assert judges.score_kwargs()["judge_attributes"] is False


def test_judges_for_synth_use_the_oracle() -> None:
    judges = judges_for("synth", device="cpu")
    assert judges.attributes is judges.identity and judges.identity.domain == "synth"
    assert "SynthFaces oracle" in judges.describe()


def _aligned_real_faces() -> tuple[torch.Tensor, list[int]]:
    import cv2

    ids = dict(line.split() for line in (REALFACES / "identity_CelebA.txt").read_text().splitlines() if line.strip())
    files = sorted((REALFACES / "img_align_celeba").glob("*.jpg"))
    images = [cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB) for f in files]
    batch = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255  # (N, 3, 218, 178)
    return batch, [int(ids[f.name]) for f in files]


@pytest.mark.skipif(not REALFACES.is_dir(), reason="../shared/realfaces (real CelebA test data) is not here")
@pytest.mark.skipif(not HAS_DLIB, reason="dlib-bin and face_recognition_models are not installed")
def test_on_real_faces_the_oracle_is_noise_and_dlib_is_not() -> None:
    """Why the oracle is refused on real photos, measured: pairs of *different* real people."""
    from facekit.eval import DlibIdentity, load_oracle

    faces, ids = _aligned_real_faces()
    dlib = DlibIdentity(device="cpu")
    points = dlib.five_points(faces)
    found = ~torch.isnan(points[:, 0, 0])  # (N,)
    assert found.double().mean() > 0.8  # dlib's detector finds the faces of aligned CelebA crops (30 of 32)
    keep = found.nonzero().flatten().tolist()
    pairs = [(i, j) for n, i in enumerate(keep) for j in keep[n + 1:] if ids[i] != ids[j]]
    ia, ib = (list(v) for v in zip(*pairs[:: max(1, len(pairs) // 150)]))
    a, b = faces[ia], faces[ib]
    oracle_false_match = float(load_oracle(device="cpu").same_identity(a, b).double().mean())
    # each face described once (not once per pair: 30 descriptors instead of 300); same_identity's own rule
    desc = dlib.embed(faces, points)  # (N, 128)
    distance = (desc[ia] - desc[ib]).norm(dim=1)
    dlib_false_match = float((distance < dlib.threshold).double().mean())
    assert torch.equal(dlib.same_identity(a[:3], b[:3]), distance[:3] < dlib.threshold)  # the judge's own call
    print(f"different real people called the same person: oracle {oracle_false_match:.2f}, dlib {dlib_false_match:.2f}")
    assert dlib_false_match < 0.1
    assert oracle_false_match > dlib_false_match + 0.05
