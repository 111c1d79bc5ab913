"""Tests of facekit.nn.DlibFaceNet (dlib's face-recognition ResNet read into PyTorch), its reader, the
differentiable dlib face chip (facekit.align.dlib_face_chip), the one place that finds dlib's files (facekit.hub),
and the identity judge built on them (facekit.eval.DlibIdentity).

The reference is dlib's own C++ (``dlib.face_recognition_model_v1``) on real photographs that ship with packages:
scikit-image's astronaut (Eileen Collins, NASA, public domain) and matplotlib's Grace Hopper. Tests that need
dlib's files skip only when ``face_recognition_models`` (or ``dlib``) is genuinely not installed.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Dict, Tuple

import numpy as np
import pytest
import torch

import facekit.hub as hub
from facekit.align import DLIB_FIVE_POINT_TEMPLATE, dlib_chip_geometry, dlib_face_chip, landmarks_68_to_dlib5, pyramid_down
from facekit.nn import DlibFaceNet, FeatureExtractor
from facekit.nn.dlib_resnet import DLIB_PIXEL_MEANS, DlibFileError, add_prev, read_dlib_face_resnet

HAVE_MODELS = importlib.util.find_spec("face_recognition_models") is not None
HAVE_DLIB = importlib.util.find_spec("dlib") is not None
needs_models = pytest.mark.skipif(
    not HAVE_MODELS, reason="face_recognition_models is not installed (find_spec is None): no .dat to read"
)
needs_dlib = pytest.mark.skipif(
    not (HAVE_MODELS and HAVE_DLIB),
    reason="dlib or face_recognition_models is not installed (find_spec is None): no C++ reference",
)


# -- the network without dlib's file ---------------------------------------------------------------------------------
def test_architecture_names_and_shapes() -> None:
    net = DlibFaceNet().eval()
    assert sum(p.numel() for p in net.parameters()) == 5_614_592  # dlib-models: "29 conv layers", about 5.6 M
    assert len(net.conv_layers) == 29
    feats = net.extract(torch.rand(2, 3, 150, 150), ["relu1", "stem", "stage1", "stage2", "stage3", "stage4",
                                                     "stage5", "embedding"])
    shapes = {k: tuple(v.shape[1:]) for k, v in feats.items()}
    assert shapes == {"relu1": (32, 72, 72), "pool1": (32, 35, 35), "res1_3": (32, 35, 35), "res2_4": (64, 17, 17),
                      "res3_3": (128, 8, 8), "res4_3": (256, 4, 4), "res5_1": (256, 2, 2), "fc": (128,)}
    # VGG-Face's names and the papers' indices resolve to the layer at the same depth
    assert [net.resolve_layer(x) for x in ("relu1_2", "conv2_1", "relu3_1", 5, "pool4", 13)] == [
        "relu1", "res1_3", "res2_4", "res2_4", "res3_3", "res4_3"]
    with pytest.raises(ValueError, match="1..13"):
        net.resolve_layer(14)
    with pytest.raises(ValueError, match="stage names"):
        net.resolve_layer("res9_1")
    # other sizes are resized inside (a 64 px SynthFaces render works), unless resize=False
    assert net.extract(torch.rand(1, 3, 64, 64), ["stage2"])["res2_4"].shape[-1] == 17
    with pytest.raises(ValueError, match="150x150"):
        DlibFaceNet(resize=False).embed(torch.rand(1, 3, 64, 64))
    ext = FeatureExtractor(net, ["relu3_1"])  # a chapter written for VGG-Face runs unchanged
    assert ext.layers == ["res2_4"]


def test_docstring_examples_run() -> None:
    import doctest

    import facekit.align

    assert doctest.testmod(facekit.align, optionflags=doctest.ELLIPSIS).failed == 0


def test_add_prev_pads_top_left_with_zeros() -> None:
    a, b = torch.ones(1, 2, 3, 3), torch.full((1, 1, 4, 4), 2.0)
    out = add_prev(a, b)  # as large as the larger in every dimension
    assert out.shape == (1, 2, 4, 4)
    assert out[0, 0, :3, :3].eq(3).all() and out[0, 0, 3].eq(2).all() and out[0, 1, :3, :3].eq(1).all()
    assert out[0, 1, 3].eq(0).all() and out[0, 1, :, 3].eq(0).all()


def test_pyramid_down_matches_dlib_size_and_filter() -> None:
    x = torch.zeros(1, 1, 13, 13, dtype=torch.float64)
    x[0, 0, 6, 6] = 1.0  # an impulse at (6, 6) = 2 * 2 + 2: output pixel (2, 2) is centred on it
    y = pyramid_down(x)
    assert y.shape[-2:] == ((13 - 3) // 2, (13 - 3) // 2)
    assert float(y[0, 0, 2, 2]) == pytest.approx(36 / 256)  # [1, 4, 6, 4, 1] / 16 in both directions
    assert float(y.sum()) == pytest.approx(0.25)  # one output pixel per 2 x 2 input pixels


# -- reading dlib's file ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dat() -> Path:
    if not HAVE_MODELS:
        pytest.skip("face_recognition_models is not installed (find_spec is None): no .dat to read")
    return hub.find("dlib_face_resnet")


@pytest.fixture(scope="module")
def net(dat: Path) -> DlibFaceNet:
    return hub.pretrained("dlib_face_resnet")


def test_the_file_is_found_without_importing_the_package_and_is_registered(dat: Path) -> None:
    import sys

    assert dat.name == "dlib_face_recognition_resnet_model_v1.dat" and dat.parent.name == "models"
    assert "face_recognition_models" not in sys.modules  # located with find_spec, never imported (pkg_resources)
    assert hub.sha256sum(dat) == hub.REGISTRY["dlib_face_resnet"].sha256
    for name in ("dlib_shape_5", "dlib_shape_68"):
        assert hub.sha256sum(hub.find(name)) == hub.REGISTRY[name].sha256
    from facekit.landmarks import dlib_model_path

    assert dlib_model_path("embedding") == dat  # facekit.landmarks asks the hub: one place
    assert dlib_model_path("shape_5") == hub.find("dlib_shape_5")


def test_reader_reads_every_parameter(dat: Path) -> None:
    state, config = read_dlib_face_resnet(dat)
    assert set(state) == set(DlibFaceNet().state_dict())
    assert sum(v.numel() for v in state.values()) == 5_614_592
    assert np.allclose(config["pixel_means"], DLIB_PIXEL_MEANS, atol=1e-4)  # read from the file, as dlib documents
    assert all(torch.isfinite(v).all() for v in state.values())


def test_missing_package_names_file_package_and_pip(monkeypatch: pytest.MonkeyPatch) -> None:
    import facekit.hub.files

    # as if face_recognition_models were absent (patched where find() looks it up)
    monkeypatch.setattr(facekit.hub.files, "package_dir", lambda package: None)
    with pytest.raises(hub.PackageNotInstalledError) as info:
        hub.pretrained("dlib_face_resnet")
    msg = str(info.value)
    for part in ("dlib_face_recognition_resnet_model_v1.dat", "face_recognition_models",
                 "pip install face_recognition_models", "bunzip2"):
        assert part in msg
    from facekit.landmarks import dlib_model_path

    with pytest.raises(ImportError, match="pip install face_recognition_models"):
        dlib_model_path("shape_68")  # the landmark API keeps its contract: a missing package is an ImportError


def test_truncated_or_wrong_dat_is_a_clear_error(dat: Path, tmp_path: Path) -> None:
    data = dat.read_bytes()
    cases = {
        "truncated.dat": (data[: len(data) // 3], "truncated"),
        "tail_missing.dat": (data[:-7], "truncated"),
        "extra.dat": (data + b"\x01\x00", "bytes are left"),
        "wrong.dat": (hub.find("dlib_shape_5").read_bytes(), "not a readable"),
        "noise.dat": (bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8)), "not a readable"),
        "compressed.dat": (b"BZh91AY&SY" + data[:100], "bzip2"),
    }
    for name, (content, match) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(DlibFileError, match=match) as info:
            read_dlib_face_resnet(path)
        assert str(path) in str(info.value) and isinstance(info.value, hub.WeightsFormatError), name
    # through the hub: the hash catches a damaged copy first; without the hash check the reader does
    bad = tmp_path / "dlib_face_recognition_resnet_model_v1.dat"
    bad.write_bytes(data[:-7])
    with pytest.raises(hub.WeightsHashError, match="sha256"):
        hub.pretrained("dlib_face_resnet", bad)
    with pytest.raises(DlibFileError, match="truncated"):
        hub.pretrained("dlib_face_resnet", bad, check_hash=False)


# -- against dlib's C++ ----------------------------------------------------------------------------------------------
def _photo(name: str) -> np.ndarray:
    if name == "astronaut":
        from skimage.data import astronaut

        return astronaut()
    from matplotlib.cbook import get_sample_data
    from PIL import Image

    return np.asarray(Image.open(get_sample_data("grace_hopper.jpg", asfileobj=False)).convert("RGB"))


@pytest.fixture(scope="module")
def cases() -> Dict[str, Tuple[np.ndarray, np.ndarray]]:
    """name -> (image, dlib's 5 landmarks): two real faces, a mirrored one, a grey one, and a non-face."""
    if not (HAVE_MODELS and HAVE_DLIB):
        pytest.skip("dlib or face_recognition_models is not installed (find_spec is None): no C++ reference")
    from skimage.data import chelsea

    from facekit.landmarks import DlibDetector

    det = DlibDetector()
    astronaut, hopper = _photo("astronaut"), _photo("grace_hopper")
    images = {
        "astronaut": astronaut,
        "grace_hopper": hopper,
        "astronaut_mirrored": np.ascontiguousarray(astronaut[:, ::-1]),
        "grace_hopper_grey": np.repeat(hopper.mean(-1, keepdims=True).round().astype(np.uint8), 3, -1),
    }
    out = {k: (img, det.five_points(img)) for k, img in images.items()}
    cat = chelsea()  # a cat: dlib's detector finds no face; place the template in the middle instead
    assert det.face_boxes(cat) == []
    out["non_face"] = (cat, DLIB_FIVE_POINT_TEMPLATE * 120 + np.array([160.0, 80.0]))
    return out


def _dlib_shape(points: np.ndarray):
    import dlib

    parts = [dlib.point(int(round(x)), int(round(y))) for x, y in points]
    x0, y0 = np.floor(points.min(0)).astype(int)
    x1, y1 = np.ceil(points.max(0)).astype(int)
    return dlib.full_object_detection(dlib.rectangle(int(x0), int(y0), int(x1), int(y1)), parts)


def _as_tensor(img: np.ndarray, dtype=torch.float32) -> torch.Tensor:
    return torch.from_numpy(img.copy()).permute(2, 0, 1)[None].to(dtype) / 255.0  # (1, 3, H, W)


@needs_dlib
def test_descriptors_equal_dlibs_compute_face_descriptor(net: DlibFaceNet, cases) -> None:
    """On dlib's own chips, one batched forward pass gives dlib's descriptors to 1e-4 (measured: about 3e-7)."""
    import dlib

    from facekit.landmarks import _dlib_models

    rec = _dlib_models("embedding")
    chips, refs = [], []
    for name, (img, pts) in cases.items():
        shape = _dlib_shape(pts)
        chips.append(np.asarray(dlib.get_face_chip(img, shape, 150, 0.25)))  # (150, 150, 3) uint8
        refs.append(np.asarray(rec.compute_face_descriptor(img, shape)))  # the whole C++ path
    x = torch.cat([_as_tensor(c) for c in chips])  # (5, 3, 150, 150)
    with torch.no_grad():
        ours = net.embed(x).double().numpy()  # (5, 128)
    refs = np.stack(refs)
    assert np.abs(ours - refs).max() < 1e-4, dict(zip(cases, np.abs(ours - refs).max(1)))
    # and the descriptors behave: the norm dlib documents, the same person under a flip and in grey
    names = list(cases)
    d = {(a, b): float(np.linalg.norm(ours[names.index(a)] - ours[names.index(b)])) for a in names for b in names}
    assert 1.2 < np.linalg.norm(ours[0]) < 1.7
    assert d["astronaut", "astronaut_mirrored"] < 0.6 and d["grace_hopper", "grace_hopper_grey"] < 0.6
    assert d["astronaut", "grace_hopper"] > 0.6  # two different people
    with torch.no_grad():  # BGR by mistake moves a descriptor, not by a whole identity
        bgr = float((net.embed(x[:1, [2, 1, 0]]) - net.embed(x[:1])).norm())
    assert 0.05 < bgr < 0.6


@needs_dlib
def test_differentiable_chip_matches_dlibs_chip(net: DlibFaceNet, cases) -> None:
    """dlib_face_chip places the chip as dlib does (its pyramid too); dlib rounds each step to 8 bits, we do not."""
    import dlib

    from facekit.landmarks import _dlib_models

    rec = _dlib_models("embedding")
    astronaut, pts = cases["astronaut"]
    big = np.asarray(__import__("PIL.Image", fromlist=["Image"]).fromarray(astronaut).resize((1400, 1400)))
    trials = [(astronaut, pts, 0), (cases["grace_hopper"][0], cases["grace_hopper"][1], 0),
              (big, np.round(pts * 1400 / 512), 1)]  # dlib's landmarks are whole pixels
    for img, p, levels in trials:
        assert dlib_chip_geometry(p, img.shape[:2]).levels == levels  # the large face goes through the pyramid
        shape = _dlib_shape(p)
        theirs = torch.from_numpy(np.asarray(dlib.get_face_chip(img, shape, 150, 0.25)).copy()).permute(2, 0, 1)
        ours = dlib_face_chip(_as_tensor(img, torch.float64), torch.from_numpy(p)[None])[0] * 255  # (3, 150, 150)
        err = (ours - theirs.double()).abs()
        assert float(err.mean()) < 1.0 + levels and float(err.max()) < 2.0 + levels  # truncation per 8-bit step
        with torch.no_grad():
            ours_d = net.embed((ours[None] / 255).float())[0].double().numpy()
        ref = np.asarray(rec.compute_face_descriptor(img, shape))
        assert np.linalg.norm(ours_d - ref) < 0.02  # dlib's threshold between people is 0.6


def test_dlib_chip_geometry_of_the_template_is_the_identity() -> None:
    pts = (0.25 + DLIB_FIVE_POINT_TEMPLATE) / 1.5 * 150 + np.array([30.0, 40.0])  # a face already chip-sized
    g = dlib_chip_geometry(pts, (300, 300))
    assert g.levels == 0
    assert np.allclose(g.matrix[:2, :2], np.eye(2), atol=1e-9)  # scale 1: (150 * 1 - 1) / 149 px per chip px
    # chip pixel (0, 0) lands half a pixel in: dlib centres an inclusive (w - 1)-wide rectangle on the image of the
    # chip's centre (75, 75), whose pixels span 0..149 (centre 74.5); the matrix is relative to the crop
    assert np.allclose(g.matrix[:2, 2] + g.crop[:2], [30.5, 40.5], atol=1e-9)
    assert np.allclose(landmarks_68_to_dlib5(np.arange(136.0).reshape(68, 2))[:, 0], [90, 84, 72, 78, 66])
    with pytest.raises(ValueError, match=r"\(B, 5, 2\)"):
        dlib_face_chip(torch.rand(2, 3, 64, 64), pts)
    with pytest.raises(ValueError, match="0-255"):
        dlib_face_chip(torch.rand(1, 3, 64, 64) * 255, pts)
    with pytest.raises(ValueError, match="unsqueeze"):
        dlib_face_chip(torch.rand(3, 64, 64), pts)


# -- gradients -------------------------------------------------------------------------------------------------------
def test_gradients_match_finite_differences() -> None:
    """float64, random weights: the network and the chip are differentiable, and autograd agrees with
    central differences along random directions (dlib's C++ gives no gradients at all)."""
    torch.manual_seed(0)
    net = DlibFaceNet().double().eval()
    for p in net.parameters():  # random but trained-like scales: keep the activations in a sane range
        p.data.mul_(0.5)
    image = torch.rand(1, 3, 180, 170, dtype=torch.float64)
    pts = torch.from_numpy(DLIB_FIVE_POINT_TEMPLATE * 100 + np.array([30.0, 45.0]))[None]
    w = torch.randn(128, dtype=torch.float64)

    def f(x: torch.Tensor) -> torch.Tensor:  # a scalar identity-style loss on the full image
        return (net.embed(dlib_face_chip(x, pts))[0] * w).sum()

    x = image.clone().requires_grad_(True)
    f(x).backward()
    g = x.grad
    assert g.abs().sum() > 0 and g[..., :5, :5].abs().max() == 0  # the corner lies outside the chip: no gradient
    for _ in range(3):
        v = torch.randn_like(image)
        eps = 1e-6  # small enough that no ReLU or max-pool switches within it (1e-5 sometimes does)
        with torch.no_grad():
            fd = (f(image + eps * v) - f(image - eps * v)) / (2 * eps)
        assert float((g * v).sum()) == pytest.approx(float(fd), rel=1e-5, abs=1e-8)


# -- the identity judge ----------------------------------------------------------------------------------------------
@needs_dlib
def test_identity_judge_runs_on_the_torch_network_and_knows_when_it_is_not_independent(cases) -> None:
    from facekit.eval import DlibIdentity, score_edits

    def square(img: np.ndarray) -> torch.Tensor:
        from PIL import Image

        return _as_tensor(np.asarray(Image.fromarray(img).resize((256, 256))))[0]

    a, h = square(cases["astronaut"][0]), square(cases["grace_hopper"][0])
    sources, edits = torch.stack([a, h]), torch.stack([a.flip(-1), a])  # a mirrored self, then another person
    judge, reference = DlibIdentity(), DlibIdentity(backend="dlib")
    ours, theirs = judge.identity_score(sources, edits), reference.identity_score(sources, edits)
    assert torch.allclose(ours, theirs, atol=0.02), (ours, theirs)
    assert judge.same_identity(sources, edits).tolist() == [True, False]
    blank = torch.full((1, 3, 128, 128), 0.5)
    assert torch.isnan(judge.embed(blank)).all() and judge.same_identity(blank, blank).tolist() == [False]

    row = score_edits(sources, edits, {}, identity=judge, judge_attributes=False)
    assert row["identity_independent"] is True and "face_confidence" not in row
    row = score_edits(sources, edits, {}, identity=judge, judge_attributes=False,
                      loss_network=FeatureExtractor(hub.pretrained("dlib_face_resnet"), ["stage2"]))
    assert row["identity_independent"] is False
    assert row["face_found"] == 1.0 and row["face_confidence"] > 0 and 0 < row["ssim_to_source"] < 1
    assert judge.independent_of("synthface_net") and not judge.independent_of("dlib_face_resnet")
    with pytest.raises(ValueError, match="backend"):
        DlibIdentity(backend="onnx")
