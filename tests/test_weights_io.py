"""Every weights / checkpoint file goes through facekit.hub.read_weights: one clear error per failure kind, naming the
file and what to do, whichever loader reads it (issue 18, item 1)."""

from __future__ import annotations

import json
import traceback
from pathlib import Path

import pytest
import torch
from torch import nn

import facekit.hub as hub
from facekit.checkpoints import CheckpointError, load_weights, save_weights
from facekit.eval.oracle import load_oracle
from facekit.methods.eye2face import load_pretrained
from facekit.nn import EyeToFace

from evil_pickle import SIDE_EFFECTS  # noqa: E402 - tests/ is on sys.path (conftest.py)
from evil_pickle import Evil as _Evil  # noqa: E402


class _Model(nn.Module):  # a plain class: pickling the whole module is what weights_only refuses
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 2)


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FACEKIT_HOME", str(tmp_path / "facekit"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))


def _full_text(err: BaseException) -> str:
    """The message as a user sees it: the whole traceback, chained exceptions included."""
    return "".join(traceback.format_exception(type(err), err, err.__traceback__))


def _good(tmp_path: Path) -> Path:
    f = tmp_path / "good.pt"
    torch.save(nn.Linear(3, 2).state_dict(), f)
    return f


# -- one test per failure kind ---------------------------------------------------------------------------------------
def test_missing_file_is_named(tmp_path):
    with pytest.raises(hub.WeightsNotFoundError, match="nothere.pt does not exist") as info:
        hub.read_weights(tmp_path / "nothere.pt")
    assert isinstance(info.value, FileNotFoundError)


def test_missing_registered_file_gives_url_and_folder(tmp_path):
    with pytest.raises(hub.WeightsNotFoundError) as info:
        hub.read_weights(tmp_path / "vgg_face_dag.pth", name="vgg_face")
    msg = str(info.value)
    assert "vgg_face_dag.pth" in msg and hub.REGISTRY["vgg_face"].url in msg
    assert str(tmp_path / "facekit" / "weights") in msg  # where to put it


def test_empty_file(tmp_path):
    f = tmp_path / "empty.pt"
    f.write_bytes(b"")
    with pytest.raises(hub.WeightsFormatError, match=r"empty.pt is empty \(0 bytes\)"):
        hub.read_weights(f)


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_truncated_file(tmp_path, cut):
    data = _good(tmp_path).read_bytes()
    f = tmp_path / "cut.pt"
    f.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(hub.WeightsFormatError, match=r"cut.pt is truncated or corrupted.*re-create it"):
        hub.read_weights(f)


def test_corrupted_file(tmp_path):
    data = bytearray(_good(tmp_path).read_bytes())
    data[30:-30] = bytes(len(data) - 60)  # the zip header survives, the rest is zeros
    f = tmp_path / "zeros.pt"
    f.write_bytes(bytes(data))
    with pytest.raises(hub.WeightsFormatError, match="zeros.pt is truncated or corrupted"):
        hub.read_weights(f)


def test_corrupted_registered_file_says_where_to_get_it_again(tmp_path):
    f = tmp_path / "vgg19-dcbb9e9d.pth"
    f.write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(hub.WeightsFormatError, match="download it again from https://download.pytorch.org"):
        hub.read_weights(f, name="vgg19")


@pytest.mark.parametrize(
    "name, content, says",
    [
        ("page.pth", b"\n<!DOCTYPE html><html><body>Quota exceeded</body></html>", "HTML"),
        ("model.dat", b"\x00\x00\x00\x16dlib::something", "dlib model file"),
        ("model.pt.bz2", b"BZh91AY&SY" + bytes(40), "bunzip2"),
    ],
)
def test_not_a_torch_file(tmp_path, name, content, says):
    f = tmp_path / name
    f.write_bytes(content)
    with pytest.raises(hub.WeightsFormatError, match="not a PyTorch weights file") as info:
        hub.read_weights(f)
    assert str(f) in str(info.value) and says in str(info.value)


@pytest.mark.parametrize("payload", [{"w": torch.zeros(1), "evil": _Evil()}, _Model()], ids=["payload", "module"])
def test_refused_pickle_never_advises_weights_only_false(tmp_path, payload):
    f = tmp_path / "pickled.pt"
    torch.save(payload, f)
    with pytest.raises(hub.WeightsFormatError) as info:
        hub.read_weights(f)
    msg = str(info.value)
    assert str(f) in msg and "arbitrary Python objects" in msg and "will not unpickle" in msg
    assert "torch.save(model.state_dict(), path)" in msg  # how to re-save it
    full = _full_text(info.value)
    assert "weights_only=False" not in full and "weights_only` set to `False" not in full
    assert SIDE_EFFECTS == []


def test_wrong_keys_and_shapes(tmp_path):
    state = {"weight": torch.zeros(5, 3), "extra": torch.zeros(1)}
    with pytest.raises(hub.WeightsKeysError) as info:
        hub.check_state_dict(state, nn.Linear(3, 2).state_dict(), file=tmp_path / "lin.pt", what="Linear(3, 2)")
    msg = str(info.value)
    assert f"{tmp_path / 'lin.pt'} does not fit Linear(3, 2)" in msg
    assert "missing keys: bias" in msg and "unexpected keys: extra" in msg
    assert "weight (5, 3) in the file, (2, 3) expected" in msg


def test_torch_load_is_called_in_one_place():
    root = Path(hub.__file__).resolve().parent.parent  # facekit/ (hub is a package in it)
    calls = [
        f"{p.relative_to(root)}:{i}"
        for p in root.rglob("*.py")
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if "torch.load(" in line and not line.strip().startswith(("#", '"', "'", "``")) and "``torch.load" not in line
        and '"facekit reads' not in line
    ]
    assert len(calls) == 1 and calls[0].startswith("hub/files.py:"), calls


# -- every former loader now gives the clear errors -------------------------------------------------------------------
def test_hub_load_reports_truncation_with_the_file(tmp_path):
    f = tmp_path / "synthface_net.pt"
    f.write_bytes(_good(tmp_path).read_bytes()[:200])
    with pytest.raises(hub.WeightsFormatError, match="synthface_net.pt is truncated or corrupted") as info:
        hub.load("synthface_net", f, check_hash=False)
    assert "reinstall facekit" in str(info.value)


def test_load_weights_errors(tmp_path):
    model = nn.Linear(3, 2)
    with pytest.raises(FileNotFoundError, match="none.pt does not exist"):
        load_weights(model, tmp_path / "none.pt")
    f = tmp_path / "pickled.pt"
    torch.save(_Model(), f)
    with pytest.raises(CheckpointError, match="arbitrary Python objects") as info:
        load_weights(model, f)
    assert isinstance(info.value, hub.WeightsFormatError) and "weights_only=False" not in _full_text(info.value)
    f.write_bytes(b"<html>Not found</html>")
    with pytest.raises(hub.WeightsFormatError, match="pickled.pt is not a PyTorch checkpoint.*HTML"):
        load_weights(model, f)
    save_weights(nn.Linear(4, 2), f)
    with pytest.raises(hub.WeightsKeysError, match=r"pickled.pt does not fit Linear.*weight \(2, 4\) in the file"):
        load_weights(model, f)


def test_load_pretrained_eye2face_errors(tmp_path):
    f = tmp_path / "e2f.pt"
    f.write_bytes(b"")
    with pytest.raises(hub.WeightsFormatError, match="e2f.pt is empty.*scripts/train_eye2face.py"):
        load_pretrained(f)
    torch.save({"state_dict": {"x": _Evil()}, "config": {}}, f)
    with pytest.raises(hub.WeightsFormatError, match="e2f.pt holds arbitrary Python objects") as info:
        load_pretrained(f)
    assert "weights_only=False" not in _full_text(info.value) and SIDE_EFFECTS == []
    g = EyeToFace()
    state = dict(g.state_dict())
    state.pop(next(iter(state)))
    torch.save({"state_dict": state, "config": dict(g.config)}, f)
    with pytest.raises(hub.WeightsKeysError, match="e2f.pt does not fit EyeToFace.*missing keys"):
        load_pretrained(f)


def test_load_oracle_errors(tmp_path):
    shipped = hub.find("oracle")
    f = tmp_path / "oracle.pt"
    f.with_suffix(".json").write_text(shipped.with_suffix(".json").read_text())
    f.write_bytes(shipped.read_bytes()[:1000])
    with pytest.raises(hub.WeightsFormatError, match="oracle.pt is truncated or corrupted"):
        load_oracle(f)
    torch.save({"w": _Evil()}, f)
    with pytest.raises(hub.WeightsFormatError, match="oracle.pt holds arbitrary Python objects") as info:
        load_oracle(f)
    assert "weights_only=False" not in _full_text(info.value) and SIDE_EFFECTS == []
    meta = json.loads(shipped.with_suffix(".json").read_text())
    meta["config"]["embedding_dim"] += 1  # the file no longer fits the network its metadata describes
    f.with_suffix(".json").write_text(json.dumps(meta))
    f.write_bytes(shipped.read_bytes())
    with pytest.raises(hub.WeightsKeysError, match="oracle.pt does not fit the oracle network.*wrong shapes"):
        load_oracle(f)
