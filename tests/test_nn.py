"""Tests of facekit.nn: layer names and key mapping, input normalisation, the feature extractor."""

from __future__ import annotations

import contextlib
import doctest

import pytest
import torch
import torch.nn.functional as F

import facekit.hub
import facekit.nn
import facekit.nn.features
import facekit.nn.synthfacenet
import facekit.nn.vgg19
import facekit.nn.vggface
from facekit.nn import VGG19, VGG19_LAYER_INDEX, FeatureExtractor, SynthFaceNet, VGGFace, check_image, face_network


def _vgg_face_port_shapes() -> dict:
    """Parameter names and shapes of the MatConvNet port ``vgg_face_dag.pth`` (written out independently)."""
    convs = {
        "conv1_1": (64, 3), "conv1_2": (64, 64),
        "conv2_1": (128, 64), "conv2_2": (128, 128),
        "conv3_1": (256, 128), "conv3_2": (256, 256), "conv3_3": (256, 256),
        "conv4_1": (512, 256), "conv4_2": (512, 512), "conv4_3": (512, 512),
        "conv5_1": (512, 512), "conv5_2": (512, 512), "conv5_3": (512, 512),
    }  # fmt: skip
    shapes = {}
    for name, (cout, cin) in convs.items():
        shapes[f"{name}.weight"] = (cout, cin, 3, 3)
        shapes[f"{name}.bias"] = (cout,)
    for name, (cout, cin) in {"fc6": (4096, 25088), "fc7": (4096, 4096), "fc8": (2622, 4096)}.items():
        shapes[f"{name}.weight"] = (cout, cin)
        shapes[f"{name}.bias"] = (cout,)
    return shapes


@pytest.fixture(scope="module")
def vggface() -> VGGFace:
    torch.manual_seed(0)
    return VGGFace(include_top=False).eval()


@pytest.fixture(scope="module")
def synth() -> SynthFaceNet:
    torch.manual_seed(0)
    return SynthFaceNet(num_classes=10).eval()


# -- VGG-Face ---------------------------------------------------------------------------------------------------
def test_vggface_keys_and_shapes_match_the_matconvnet_port():
    with torch.device("meta"):
        net = VGGFace(include_top=True)
    got = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert got == _vgg_face_port_shapes()
    assert list(got) == list(_vgg_face_port_shapes())  # same order as the port
    with torch.device("meta"):
        conv_only = VGGFace(include_top=False)
    assert all(k.startswith("conv") for k in conv_only.state_dict())


def test_vggface_normalisation_inside(vggface):
    x = torch.rand(2, 3, 32, 32)
    got = vggface.extract(x, ["conv1_1"])["conv1_1"]
    mean = torch.tensor([129.186, 104.762, 93.594]).view(1, 3, 1, 1)  # RGB order, 0-255, no std
    want = F.conv2d(x * 255 - mean, vggface.conv1_1.weight, vggface.conv1_1.bias, padding=1)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=2e-2)  # mean given to 3 decimals here


def test_vggface_head_at_224_once():
    torch.manual_seed(0)
    net = VGGFace(include_top=True).eval()
    x = torch.rand(1, 3, 224, 224)
    with torch.no_grad():
        feats = net.extract(x, ["pool5", "fc7", "fc8"])
        emb = net.embedding(x)
    assert feats["pool5"].shape == (1, 512, 7, 7)
    assert feats["fc7"].shape == (1, 4096) and feats["fc8"].shape == (1, 2622)
    torch.testing.assert_close(emb.norm(dim=1), torch.ones(1))
    with pytest.raises(ValueError, match="224x224"):
        net.extract(torch.rand(1, 3, 64, 64), ["fc6"])
    assert net.extract(torch.rand(1, 3, 64, 64), ["pool5"])["pool5"].shape == (1, 512, 2, 2)  # conv: any size


# -- VGG19 -------------------------------------------------------------------------------------------------------
def test_vgg19_layer_index_is_torchvision_features_index():
    assert VGG19_LAYER_INDEX["conv1_1"] == 0 and VGG19_LAYER_INDEX["conv3_1"] == 10
    assert VGG19_LAYER_INDEX["conv4_1"] == 19 and VGG19_LAYER_INDEX["conv5_4"] == 34
    assert VGG19_LAYER_INDEX["relu5_4"] == 35 and VGG19_LAYER_INDEX["pool5"] == 36
    with torch.device("meta"):
        net = VGG19()
    for name, i in VGG19_LAYER_INDEX.items():
        kind = {"conv": torch.nn.Conv2d, "relu": torch.nn.ReLU, "pool": torch.nn.MaxPool2d}[name[:4]]
        assert isinstance(net.features[i], kind), name
        assert net.stage_module(name) is net.features[i]


def test_vgg19_keys_match_torchvision():
    tv = pytest.importorskip("torchvision")
    with torch.device("meta"):
        ref = tv.models.vgg19()
        ours = VGG19()
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in ref.state_dict().items()}


def test_vgg19_features_equal_torchvision_with_the_same_weights():
    tv = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    ours = VGG19(include_top=False).eval()
    with torch.device("meta"):
        ref = tv.models.vgg19()
    ref_features = ref.features.to_empty(device="cpu")
    ref_features.load_state_dict({k[len("features."):]: v for k, v in ours.state_dict().items()})
    x = torch.rand(1, 3, 32, 32)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        want = ref_features[: VGG19_LAYER_INDEX["relu3_1"] + 1]((x - mean) / std)
        got = ours.extract(x, ["relu3_1"])["relu3_1"]
    torch.testing.assert_close(got, want)


def test_vgg19_caffe_preprocessing():
    net = VGG19(include_top=False, preprocess="caffe")
    x = torch.rand(1, 3, 4, 4)
    bgr_mean = torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)
    torch.testing.assert_close(net.preprocess(x), x[:, [2, 1, 0]] * 255 - bgr_mean)
    with pytest.raises(ValueError, match="torchvision"):
        VGG19(preprocess="keras")
    # the eye-to-face paper's printed formula: BGR means subtracted from the R, G, B channels (order mixed up)
    paper = VGG19(include_top=False, preprocess="paper")
    torch.testing.assert_close(paper.preprocess(x), x * 255 - bgr_mean)


def test_eye2face_feeds_torchvision_vgg19_its_own_preprocessing(monkeypatch, tmp_path):
    """Issue 18: the gpu path gave torchvision's ImageNet weights Caffe-style BGR 0-255 input."""
    from facekit import hub
    from facekit.methods import eye2face

    seen = {}

    def fake_pretrained(name, **kwargs):
        seen.update(kwargs, name=name)
        return VGG19(include_top=False, preprocess=kwargs.get("preprocess", "torchvision"))

    monkeypatch.setattr(hub, "available", lambda name, path=None: name == "vgg19")
    monkeypatch.setattr(hub, "pretrained", fake_pretrained)
    net = eye2face.loss_network("vgg19", verbose=False)
    assert seen["name"] == "vgg19" and seen["preprocess"] == "torchvision"
    assert net.preprocessing == "torchvision"


# -- the extractor -----------------------------------------------------------------------------------------------
def test_layer_index_resolution(vggface, synth):
    assert [vggface.resolve_layer(i) for i in (1, 2, 3, 4, 5, 13)] == [
        "relu1_1", "relu1_2", "relu2_1", "relu2_2", "relu3_1", "relu5_3",
    ]  # fmt: skip
    assert synth.resolve_layer(5) == "relu3_1" and len(synth.conv_layers) == 13
    with torch.device("meta"):
        assert VGG19(include_top=False).resolve_layer(16) == "relu5_4"
    with pytest.raises(ValueError, match="1..13"):
        vggface.resolve_layer(14)
    with pytest.raises(ValueError, match="1..13"):
        vggface.resolve_layer(0)
    with pytest.raises(ValueError, match="conv3_1"):
        vggface.resolve_layer("conv3_4")  # VGG-16 has 3 convs in block 3; the message lists valid names
    with pytest.raises(TypeError):
        vggface.resolve_layer(True)


def test_extract_returns_requested_layers_and_shapes(vggface):
    feats = vggface.extract(torch.rand(2, 3, 32, 32), ["conv1_1", 5, "pool4", "relu5_3"])
    assert list(feats) == ["conv1_1", "relu3_1", "pool4", "relu5_3"]
    assert feats["conv1_1"].shape == (2, 64, 32, 32)
    assert feats["relu3_1"].shape == (2, 256, 8, 8)
    assert feats["pool4"].shape == (2, 512, 2, 2)
    assert feats["relu5_3"].shape == (2, 512, 2, 2)


def test_pre_relu_map_is_not_overwritten(vggface):
    feats = vggface.extract(torch.rand(1, 3, 32, 32), ["conv2_1", "relu2_1"])
    assert (feats["conv2_1"] < 0).any()  # in-place ReLUs would have clobbered it
    torch.testing.assert_close(feats["relu2_1"], feats["conv2_1"].clamp(min=0))


def test_extract_stops_at_the_deepest_layer(vggface):
    calls = []
    names = vggface.layer_names
    hooks = [vggface.stage_module(n).register_forward_hook(lambda *a, n=n: calls.append(n)) for n in names]
    try:
        vggface.extract(torch.rand(1, 3, 32, 32), ["relu2_1"])
    finally:
        for h in hooks:
            h.remove()
    assert calls == ["conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1", "conv2_1", "relu2_1"]


def test_feature_extractor_frozen_eval_but_differentiable_in_input():
    torch.manual_seed(0)
    net = SynthFaceNet(num_classes=10)
    net.train()
    running = net.bn1_1.running_mean.clone()
    ext = FeatureExtractor(net, ["relu2_2", 5])
    assert ext.layers == ["relu2_2", "relu3_1"]
    ext.train()  # e.g. a training loop calls model.train() on a model that holds the loss
    assert not net.training and all(not p.requires_grad for p in net.parameters())
    x = torch.rand(2, 3, 64, 64, requires_grad=True)
    feats = ext(x)
    feats["relu3_1"].pow(2).mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in net.parameters())
    torch.testing.assert_close(net.bn1_1.running_mean, running)  # eval mode: statistics untouched


@pytest.mark.parametrize("size", [64, 128])
def test_synthfacenet_sizes(size):
    net = SynthFaceNet(num_classes=7).eval()
    x = torch.rand(3, 3, size, size)
    with torch.no_grad():
        logits = net(x)
        emb = net.embedding(x)
        feats = net.extract(x, ["conv3_1", "pool5"])
    assert logits.shape == (3, 7) and emb.shape == (3, 128)
    torch.testing.assert_close(emb.norm(dim=1), torch.ones(3))
    assert feats["conv3_1"].shape == (3, 64, size // 4, size // 4)
    assert feats["pool5"].shape == (3, 128, size // 32, size // 32)


def test_synthfacenet_is_vgg16_shaped_and_small(synth):
    assert synth.conv_layers == [c for c in VGGFace(include_top=False).conv_layers]
    assert synth.widths == [16, 32, 64, 128, 128]
    size_mb = sum(p.numel() for p in synth.state_dict().values()) * 4 / 2**20
    assert size_mb < 10
    assert SynthFaceNet(**synth.config).config == synth.config


# -- input checks ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "x, error, match",
    [
        (torch.rand(3, 32, 32), ValueError, "unsqueeze"),
        (torch.rand(1, 32, 32, 3), ValueError, "permute"),
        (torch.rand(1, 1, 32, 32), ValueError, "Grey"),
        (torch.randint(0, 255, (1, 3, 32, 32), dtype=torch.uint8), TypeError, "255"),
        (torch.rand(1, 3, 32, 32) * 255, ValueError, "divide by 255"),
        ((torch.rand(1, 3, 32, 32) - 0.45) / 0.225, ValueError, "normalised"),
        (torch.full((1, 3, 32, 32), float("nan")), ValueError, "NaN"),
    ],
)
def test_input_checks(synth, x, error, match):
    with pytest.raises(error, match=match):
        synth.extract(x, ["conv1_1"])


def test_input_check_tolerates_small_overshoot_and_size_errors(synth):
    check_image(torch.rand(1, 3, 8, 8) * 1.4 - 0.2)  # an optimiser may overshoot [0, 1] a little
    with pytest.raises(ValueError, match="at least 32x32"):
        synth.extract(torch.rand(1, 3, 16, 16), ["pool5"])
    assert synth.extract(torch.rand(1, 3, 16, 16), ["relu2_1"])["relu2_1"].shape[-1] == 8


# -- face_network ------------------------------------------------------------------------------------------------
def test_face_network_falls_back_and_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FACEKIT_HOME", str(tmp_path))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.warns(RuntimeWarning) if not facekit.hub.available("synthface_net") else contextlib.nullcontext():
        net = face_network()
    assert isinstance(net, SynthFaceNet) and not net.training
    out = capsys.readouterr().out
    assert "SynthFaceNet" in out and "VGG-Face weights not found" in out


def test_face_network_uses_vgg_face_when_present(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FACEKIT_HOME", str(tmp_path))
    weights = tmp_path / "weights"
    weights.mkdir()
    torch.manual_seed(1)
    torch.save(VGGFace(include_top=False).state_dict(), weights / "vgg_face_dag.pth")
    net = face_network()
    assert isinstance(net, VGGFace) and net.pretrained_name == "vgg_face"
    assert "VGG-Face" in capsys.readouterr().out


def test_face_network_chooses_by_data_and_profile_and_says_why(tmp_path, monkeypatch, capsys):
    import importlib.util

    monkeypatch.setenv("FACEKIT_HOME", str(tmp_path))  # no VGG-Face weights
    monkeypatch.delenv("FACEKIT_NETWORK", raising=False)
    net = face_network(data="synth", profile="cpu")
    assert isinstance(net, SynthFaceNet) and "4x the time" in capsys.readouterr().out
    with pytest.raises(ValueError, match="dlib_face_resnet"):
        face_network("dlib")
    if importlib.util.find_spec("face_recognition_models") is None:
        pytest.skip("face_recognition_models is not installed (find_spec is None): DlibFaceNet cannot be chosen")
    from facekit.nn import DlibFaceNet

    for kwargs in ({"data": "celeba"}, {"data": "lfw", "profile": "cpu"}, {"data": "synth", "profile": "gpu"}):
        net = face_network(**kwargs)
        assert isinstance(net, DlibFaceNet) and net.pretrained_name == "dlib_face_resnet" and not net.training
        assert "chosen because VGG-Face weights not found" in capsys.readouterr().out
    monkeypatch.setenv("FACEKIT_NETWORK", "dlib_face_resnet")  # the reader's switch
    assert isinstance(face_network(data="synth", profile="smoke"), DlibFaceNet)
    assert isinstance(face_network("synthface_net"), SynthFaceNet)  # an explicit choice wins over the variable


@pytest.mark.parametrize(
    "module", [facekit.nn, facekit.nn.features, facekit.nn.vggface, facekit.nn.vgg19, facekit.nn.synthfacenet,
               facekit.nn.dlib_resnet]
)
def test_docstring_examples_run(module):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # face_network's example without shipped weights
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
