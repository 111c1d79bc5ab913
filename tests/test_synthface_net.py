"""The shipped SynthFaceNet checkpoint: it loads through the hub, it recognises people it has never seen, and
face_network() falls back to it when VGG-Face is absent."""

from __future__ import annotations

import warnings

import pytest
import torch

from facekit import hub
from facekit.data import SynthFaces, split_identities
from facekit.eval.verification import roc_auc, verification_pairs
from facekit.nn import SynthFaceNet, face_network


@pytest.fixture(scope="module")
def net() -> SynthFaceNet:
    return hub.pretrained("synthface_net")


@pytest.fixture(scope="module")
def test_views() -> tuple[torch.Tensor, torch.Tensor]:
    """3 views of each of 8 test identities (never trained on): MultiPIE yaws, random lights, accessories,
    expressions and backdrops. Item i shows identity i % 8."""
    ids = [int(i) for i in split_identities(1000, "test")][:8]
    ds = SynthFaces(identities=ids, length=3 * len(ids), size=64, attributes="random", poses="multipie",
                    pitch=(-10.0, 10.0), lights="all", background="random", seed=7)
    images = torch.stack([ds[i]["image"] for i in range(len(ds))])  # (24, 3, 64, 64)
    return images, torch.arange(len(ds)) % len(ids)


def test_shipped_weights_load_by_name(net):
    path = hub.find("synthface_net")
    assert path.parent == hub.PACKAGE_WEIGHTS_DIR  # the file that ships in the package, not a cached one
    assert path.stat().st_size <= 10 * 2**20
    entry = hub.REGISTRY["synthface_net"]
    if entry.sha256:
        assert hub.sha256sum(path).startswith(entry.sha256)
    assert isinstance(net, SynthFaceNet) and net.pretrained_name == "synthface_net"
    assert not net.training and not any(p.requires_grad for p in net.parameters())
    assert net.num_classes == 0  # the embedding network only; the training head is not shipped
    emb = net.embedding(torch.rand(2, 3, 64, 64))
    assert emb.shape == (2, net.embedding_dim)
    assert torch.allclose(emb.norm(dim=1), torch.ones(2), atol=1e-5)


def _scores(model: SynthFaceNet, images: torch.Tensor, labels: torch.Tensor):
    with torch.no_grad():
        emb = model.embedding(images)  # (N, D), unit length
    i, j, same = verification_pairs(labels)
    return (emb[i] * emb[j]).sum(1), same


def test_same_person_is_closer_than_another_person(net, test_views):
    images, labels = test_views
    scores, same = _scores(net, images, labels)
    assert scores[same].mean() > scores[~same].mean() + 0.5
    auc = roc_auc(scores, same)
    assert auc > 0.9, f"verification AUC on unseen identities is only {auc:.3f}"
    # the check has teeth: the same architecture with random weights does clearly worse on the same pairs
    torch.manual_seed(0)
    random_net = SynthFaceNet(num_classes=0).eval()
    r_scores, _ = _scores(random_net, images, labels)
    assert roc_auc(r_scores, same) < auc - 0.05


def test_face_network_falls_back_to_the_shipped_net(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FACEKIT_HOME", str(tmp_path))  # no VGG-Face weights anywhere
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    assert not hub.available("vgg_face")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no "random weights" warning: the checkpoint is found
        net = face_network()
    assert isinstance(net, SynthFaceNet) and net.pretrained_name == "synthface_net"
    assert "VGG-Face weights not found" in capsys.readouterr().out
    assert "relu3_1" in net.extract(torch.rand(1, 3, 64, 64), [5])
