"""Tests of facekit.hub: registry, search order, clear errors, hash / key / weights_only checks."""

from __future__ import annotations

from pathlib import Path

import doctest
import hashlib

import pytest
import torch

import facekit.hub as hub
from facekit.nn import VGG19, SynthFaceNet, VGGFace

from evil_pickle import SIDE_EFFECTS  # noqa: E402 - tests/ is on sys.path (conftest.py)
from evil_pickle import Evil as _Evil  # noqa: E402


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Every test sees an empty facekit cache and an empty torch hub cache."""
    monkeypatch.setenv("FACEKIT_HOME", str(tmp_path / "facekit"))
    monkeypatch.delenv("FACEKIT_CACHE", raising=False)  # downloads go to FACEKIT_HOME too (test_download_*)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path


def test_weights_put_by_hand_in_facekit_home_are_found_when_facekit_cache_is_elsewhere(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEKIT_CACHE", str(tmp_path / "writable"))
    paths = hub.search_paths("vgg_face")
    assert paths[0] == tmp_path / "facekit" / "weights" / "vgg_face_dag.pth"  # by hand, read-only is fine
    assert paths[1] == tmp_path / "writable" / "weights" / "vgg_face_dag.pth"  # where a download goes


@pytest.fixture(scope="module")
def vggface_convs() -> dict:
    torch.manual_seed(0)
    return VGGFace(include_top=False).state_dict()


@pytest.fixture(scope="module")
def vgg19_features() -> dict:
    torch.manual_seed(0)
    return VGG19(include_top=False).state_dict()  # torchvision's names: features.0.weight, ...


def test_registry_entries():
    e = hub.REGISTRY["vgg_face"]
    assert e.filename == "vgg_face_dag.pth"
    assert e.url == "https://www.robots.ox.ac.uk/~albanie/models/pytorch-mcn/vgg_face_dag.pth"
    assert hub.REGISTRY["vgg19"].filename == "vgg19-dcbb9e9d.pth"
    assert hub.REGISTRY["vgg19"].url == "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"
    assert hub.REGISTRY["vgg19"].sha256 == "dcbb9e9d"
    assert hub.REGISTRY["synthface_net"].url is None
    for entry in hub.REGISTRY.values():
        assert entry.licence
        if entry.loader:  # dlib's shape predictors are files dlib reads, not PyTorch networks
            assert hub._loader_class(entry).__name__ in (
                "VGGFace", "VGG19", "SynthFaceNet", "OracleNet", "EyeToFace", "DlibFaceNet", "SeeAnotherYou",
                "TransformNet", "LocalEnhancer")
        else:
            assert entry.package == "face_recognition_models"
    with pytest.raises(KeyError, match="vgg_face"):
        hub.find("vggface")


def test_absent_file_message_names_file_url_and_folder(isolated_cache):
    assert not hub.available("vgg_face")
    with pytest.raises(hub.WeightsNotFoundError) as info:
        hub.pretrained("vgg_face")
    msg = str(info.value)
    assert "vgg_face_dag.pth" in msg
    assert "https://www.robots.ox.ac.uk/~albanie/models/pytorch-mcn/vgg_face_dag.pth" in msg
    assert str(isolated_cache / "facekit" / "weights") in msg
    assert isinstance(info.value, FileNotFoundError)


def test_vgg19_is_also_looked_for_in_torch_hub_cache(isolated_cache, vgg19_features):
    with pytest.raises(hub.WeightsNotFoundError) as info:
        hub.find("vgg19")
    assert str(isolated_cache / "torch" / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth") in str(info.value)
    assert "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth" in str(info.value)
    ckpt = isolated_cache / "torch" / "hub" / "checkpoints"
    ckpt.mkdir(parents=True)
    torch.save(vgg19_features, ckpt / "vgg19-dcbb9e9d.pth")
    assert hub.find("vgg19") == ckpt / "vgg19-dcbb9e9d.pth"


def test_explicit_path_that_lacks_the_file_is_an_error(tmp_path):
    with pytest.raises(hub.WeightsNotFoundError, match="path="):
        hub.find("vgg_face", tmp_path / "nowhere.pth")
    assert not hub.available("vgg_face", tmp_path)


def test_vgg_face_round_trip_through_the_cache(isolated_cache, vggface_convs):
    folder = isolated_cache / "facekit" / "weights"
    folder.mkdir(parents=True)
    torch.save(vggface_convs, folder / "vgg_face_dag.pth")
    assert hub.available("vgg_face")
    net = hub.pretrained("vgg_face", include_top=False)
    assert isinstance(net, VGGFace) and not net.training and net.pretrained_name == "vgg_face"
    assert all(not p.requires_grad for p in net.parameters())
    assert "vgg_face_dag.pth" in net.description
    torch.testing.assert_close(net.conv3_1.weight, vggface_convs["conv3_1.weight"])
    # the mapping is by name: conv1_1 of the file is the first convolution, and the input is normalised
    x = torch.rand(1, 3, 32, 32)
    mean = torch.tensor(VGGFace.MEAN_RGB).view(1, 3, 1, 1)
    w, b = vggface_convs["conv1_1.weight"], vggface_convs["conv1_1.bias"]
    want = torch.nn.functional.conv2d(x * 255 - mean, w, b, padding=1)
    torch.testing.assert_close(net.extract(x, ["conv1_1"])["conv1_1"], want, rtol=1e-4, atol=1e-3)
    # the file has no fc layers: asking for them says which keys are missing
    with pytest.raises(hub.WeightsKeysError, match="missing keys: fc6.weight"):
        hub.load("vgg_face", include_top=True)


def test_vgg19_key_mapping_and_hash(tmp_path, vgg19_features):
    f = tmp_path / "vgg19-dcbb9e9d.pth"
    torch.save(vgg19_features, f)
    with pytest.raises(hub.WeightsHashError) as info:  # random weights: not torchvision's file
        hub.load("vgg19", f, include_top=False)
    assert "sha256" in str(info.value) and "dcbb9e9d" in str(info.value)
    net = hub.pretrained("vgg19", f, check_hash=False, include_top=False)
    torch.testing.assert_close(net.features[10].weight, vgg19_features["features.10.weight"])
    assert net.stage_module("conv3_1") is net.features[10]


def test_full_sha256_checked(tmp_path):
    net = SynthFaceNet(num_classes=3)
    f = tmp_path / "tiny.pt"
    torch.save(net.state_dict(), f)
    digest = hashlib.sha256(f.read_bytes()).hexdigest()
    kw = dict(filename="tiny.pt", url=None, licence="test", loader="facekit.nn:SynthFaceNet", description="tiny",
              kwargs={"num_classes": 3})  # fmt: skip
    try:
        hub.register(hub.WeightsEntry(name="_test_good", sha256=digest, **kw))
        hub.register(hub.WeightsEntry(name="_test_bad", sha256="0" * 64, **kw))
        assert isinstance(hub.pretrained("_test_good", f), SynthFaceNet)
        with pytest.raises(hub.WeightsHashError, match=digest):
            hub.load("_test_bad", f)
        with pytest.raises(ValueError, match="already registered"):
            hub.register(hub.WeightsEntry(name="_test_good", sha256=None, **kw))
    finally:
        hub.REGISTRY.pop("_test_good", None)
        hub.REGISTRY.pop("_test_bad", None)


def test_wrong_keys_and_shapes_are_listed(tmp_path, vggface_convs):
    renamed = {k.replace("conv1_1", "features.0"): v for k, v in vggface_convs.items()}
    torch.save(renamed, tmp_path / "vgg_face_dag.pth")
    with pytest.raises(hub.WeightsKeysError) as info:
        hub.load("vgg_face", tmp_path, include_top=False)
    msg = str(info.value)
    assert "missing keys: conv1_1.weight, conv1_1.bias" in msg
    assert "unexpected keys: features.0.weight" in msg

    reshaped = dict(vggface_convs)
    reshaped["conv2_1.weight"] = torch.zeros(128, 32, 3, 3)
    torch.save(reshaped, tmp_path / "vgg_face_dag.pth")
    shapes = r"conv2_1.weight \(128, 32, 3, 3\) in the file, \(128, 64, 3, 3\) expected"
    with pytest.raises(hub.WeightsKeysError, match=shapes):
        hub.load("vgg_face", tmp_path, include_top=False)


def test_arbitrary_pickles_are_refused(tmp_path):
    f = tmp_path / "vgg_face_dag.pth"
    torch.save({"conv1_1.weight": torch.zeros(1), "payload": _Evil()}, f)
    with pytest.raises(hub.WeightsFormatError, match="weights_only"):
        hub.load("vgg_face", f)
    assert SIDE_EFFECTS == []  # the payload never ran

    torch.save([torch.zeros(1)], f)  # tensors, but not a state dict
    with pytest.raises(hub.WeightsFormatError, match="state dict"):
        hub.load("vgg_face", f)
    f.write_bytes(b"<html>Quota exceeded</html>")  # a failed download saved as the file
    with pytest.raises(hub.WeightsFormatError, match="not a PyTorch weights file"):
        hub.load("vgg_face", f)


def test_checkpoint_with_config_and_dataparallel_prefix(tmp_path):
    net = SynthFaceNet(num_classes=7, embedding_dim=16)
    state = {"module." + k: v for k, v in net.state_dict().items()}
    torch.save({"config": net.config, "state_dict": state, "meta": {"epochs": 1}}, tmp_path / "synthface_net.pt")
    loaded = hub.pretrained("synthface_net", tmp_path, check_hash=False)  # our own file, not the shipped one
    assert isinstance(loaded, SynthFaceNet) and loaded.config == net.config
    torch.testing.assert_close(loaded.embed.weight, net.embed.weight)


def test_download_copies_into_the_cache(tmp_path, isolated_cache):
    src = tmp_path / "remote.pt"
    torch.save(SynthFaceNet(num_classes=2).state_dict(), src)
    entry = hub.WeightsEntry(name="_test_dl", filename="dl.pt", url=src.as_uri(), sha256=None, licence="test",
                             loader="facekit.nn:SynthFaceNet", description="dl", kwargs={"num_classes": 2})  # fmt: skip
    hub.register(entry)
    try:
        with pytest.raises(hub.WeightsNotFoundError):
            hub.load("_test_dl")  # no download unless asked
        hub.load("_test_dl", download=True)
        assert (isolated_cache / "facekit" / "weights" / "dl.pt").is_file()
    finally:
        hub.REGISTRY.pop("_test_dl", None)


def test_docstring_examples_run():
    import importlib

    attempted = 0
    for name in ("", ".registry", ".errors", ".files", ".loading", ".quantize", ".saving"):  # the package's modules
        result = doctest.testmod(importlib.import_module("facekit.hub" + name))
        assert result.failed == 0, name
        attempted += result.attempted
    assert attempted >= 10


def test_int8_quantized_save_round_trip(tmp_path):
    torch.manual_seed(0)
    net = SynthFaceNet(num_classes=7, embedding_dim=16)
    net.eval()
    f16 = hub.save(net, tmp_path / "f16.pt")
    q8 = hub.save(net, tmp_path / "synthface_net.pt", quantize="int8", meta={"note": "int8"})
    assert q8.stat().st_size < 0.65 * f16.stat().st_size  # 8-bit weights: much smaller than float16
    raw = hub.read_weights(q8)
    assert raw["quantization"]["scheme"] == "int8"
    packed = {k: v for k, v in raw["state_dict"].items() if v.dtype == torch.int8}
    assert packed and all(v.ndim >= 2 for v in packed.values())  # conv / linear weights only
    assert all(v.dtype in (torch.float16, torch.int8, torch.int64) for v in raw["state_dict"].values())
    loaded = hub.pretrained("synthface_net", q8, check_hash=False)  # hub.load / pretrained read it back
    for k, v in net.state_dict().items():
        got = loaded.state_dict()[k]
        if k in packed:  # error at most half a quantization step of its channel (+ float16 of the scale)
            step = v.flatten(1).abs().amax(1) / 127
            err = (got - v).flatten(1).abs().amax(1)
            assert bool((err <= step / 2 + 1e-6).all()), k
        elif v.is_floating_point():
            torch.testing.assert_close(got, v, rtol=1e-3, atol=1e-3)
        else:
            assert torch.equal(got, v)
    with pytest.raises(ValueError, match="quantize"):
        hub.save(net, tmp_path / "x.pt", quantize="int4")
    bad = dict(raw, quantization={"scheme": "int8", "scales": {}})  # scales lost
    torch.save(bad, tmp_path / "bad.pt")
    with pytest.raises(hub.WeightsFormatError, match="scales"):
        hub.load("synthface_net", tmp_path / "bad.pt", check_hash=False)


def test_eye2face_weights_are_registered_with_the_shipped_files_hashes():
    names = ["eye2face"] + [f"eye2face_{k}" for k in ("l1", "normalized", "balanced", "wgan_gp")]
    for name in names:
        entry = hub.REGISTRY[name]
        assert entry.loader == "facekit.nn:EyeToFace" and entry.sha256 and len(entry.sha256) == 64, name
        file = hub.PACKAGE_WEIGHTS_DIR / entry.filename
        assert hub.sha256sum(file) == entry.sha256, name
