"""Bad input and faults (issue 27, part 2): every case a probe found, with a clear error or a tested behaviour."""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from facekit import hub
from facekit.checkpoints import CheckpointFormatError
from facekit.methods import see_another_you as say
from facekit.nn import GenerationNet, SeeAnotherYou
from facekit.train import Trainer


class Tiny(nn.Module):
    """A network hub.save can write (it has a ``config``), with a BatchNorm (running statistics)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.bn = nn.BatchNorm2d(2)

    @property
    def config(self) -> dict:
        return {}


# -- hub.save: atomic, and never a non-finite file ----------------------------------------------------------------
def test_interrupted_save_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "w.pt"
    hub.save(Tiny(), target)
    good = target.read_bytes()

    def half_then_interrupt(obj, f, *a, **k):
        f.write(good[: len(good) // 2])
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", half_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        hub.save(Tiny(), target)
    assert target.read_bytes() == good  # the old file, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.pt"]  # no temporary file left


def test_save_refuses_nan_and_inf_weights(tmp_path: Path) -> None:
    net = Tiny()
    with torch.no_grad():
        net.conv.weight[0, 0, 0, 0] = float("nan")
    with pytest.raises(hub.WeightsError, match=r"NaN or inf values in conv.weight"):
        hub.save(net, tmp_path / "nan.pt")
    with torch.no_grad():
        net.conv.weight[0, 0, 0, 0] = float("inf")  # int8 would make the whole output channel NaN
    with pytest.raises(hub.WeightsError, match="conv.weight"):
        hub.save(net, tmp_path / "inf.pt", quantize="int8")
    assert not list(tmp_path.iterdir())


def test_save_refuses_float16_overflow_and_says_half_false(tmp_path: Path) -> None:
    net = Tiny()
    net.bn.running_var.fill_(1e5)  # finite in float32, inf in float16
    with pytest.raises(hub.WeightsError, match=r"bn.running_var would overflow float16.*half=False"):
        hub.save(net, tmp_path / "a.pt")
    with pytest.raises(hub.WeightsError, match="overflow float16"):
        hub.save(net, tmp_path / "b.pt", quantize="int8")  # int8 keeps the statistics in float16
    hub.save(net, tmp_path / "c.pt", half=False)
    assert float(hub.read_weights(tmp_path / "c.pt")["state_dict"]["bn.running_var"][0]) == 1e5


def _corrupt_copy(tmp_path: Path, name: str, edit) -> Path:
    obj = hub.read_weights(hub.find(name))
    edit(obj)
    out = tmp_path / f"{name}.pt"
    torch.save(obj, out)  # written around hub.save, as a damaged or foreign file would be
    return out


def test_loading_nan_weights_or_nan_int8_scales_is_refused(tmp_path: Path) -> None:
    def nan_weight(obj):
        k = next(k for k, v in obj["state_dict"].items() if v.is_floating_point())
        obj["state_dict"][k].view(-1)[0] = float("nan")

    bad = _corrupt_copy(tmp_path, "synthface_net", nan_weight)
    with pytest.raises(hub.WeightsFormatError, match="NaN or inf values in state_dict"):
        hub.pretrained("synthface_net", path=bad, check_hash=False)
    with pytest.raises(hub.WeightsFormatError, match="NaN"):
        say.load_pretrained("pose", path=_corrupt_copy(tmp_path, "see_another_you_pose", nan_weight))

    def nan_scale(obj):
        k = next(iter(obj["quantization"]["scales"]))
        obj["quantization"]["scales"][k][0] = float("nan")

    from facekit.methods import eye2face

    bad = _corrupt_copy(tmp_path, "eye2face_l1", nan_scale)  # an int8 file
    with pytest.raises(hub.WeightsFormatError, match=r"quantization.scales"):
        eye2face.load_pretrained(path=bad)
    with pytest.raises(hub.WeightsFormatError, match=r"quantization.scales"):
        hub.pretrained("eye2face_l1", path=bad, check_hash=False)


def _flip_a_bit_in_a_tensor(path: Path) -> str:
    with zipfile.ZipFile(path) as zf:
        info = max((i for i in zf.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
    raw = bytearray(path.read_bytes())
    name_len, extra_len = int.from_bytes(raw[info.header_offset + 26:info.header_offset + 28], "little"), \
        int.from_bytes(raw[info.header_offset + 28:info.header_offset + 30], "little")
    start = info.header_offset + 30 + name_len + extra_len  # the member's data (stored, not compressed)
    raw[start + info.file_size // 2] ^= 0x10
    path.write_bytes(bytes(raw))
    return info.filename


def test_a_flipped_bit_in_a_checkpoint_is_caught_by_the_crc(tmp_path: Path) -> None:
    net = nn.Linear(64, 64)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    data = torch.utils.data.TensorDataset(torch.randn(8, 64))
    t = Trainer({"net": net}, {"net": opt}, lambda tr, b: tr.update("net", {"l": tr.models["net"](b[0]).pow(2).mean()}),
                data=data, batch_size=4, device="cpu", checkpoint_dir=tmp_path, progress=False)
    t.fit(2)
    ckpt = Trainer.latest_checkpoint(tmp_path)
    member = _flip_a_bit_in_a_tensor(ckpt)
    t2 = Trainer({"net": nn.Linear(64, 64)}, {"net": torch.optim.SGD(net.parameters(), lr=0.1)}, t.step_fn,
                 data=data, batch_size=4, device="cpu", checkpoint_dir=tmp_path, progress=False)
    with pytest.raises(CheckpointFormatError) as info:
        t2.fit(4)
    assert str(ckpt) in str(info.value) and member in str(info.value) and "CRC" in str(info.value)


# -- the trainer: changed hyper-parameters, interrupted steps ----------------------------------------------------
def _linear_run(lr: float, ckpt: Path | None, steps: int, step_fn=None, every: int = 5):
    torch.manual_seed(0)
    net = nn.Linear(3, 1)
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.5)
    g = torch.Generator().manual_seed(1)
    xs = torch.randn(32, 3, generator=g)
    data = torch.utils.data.TensorDataset(xs, xs.sum(1, keepdim=True))

    def default(tr, batch):
        x, y = batch
        return tr.update("net", {"mse": (tr.models["net"](x) - y).pow(2).mean()})

    t = Trainer({"net": net}, {"net": opt}, step_fn or default, data=data, batch_size=8, device="cpu",
                checkpoint_dir=ckpt, checkpoint_every=every, progress=False)
    return t, net


def test_resume_with_another_lr_applies_it_and_says_so(tmp_path: Path) -> None:
    t, _ = _linear_run(1e-4, tmp_path, 5)
    t.fit(5)
    t2, net2 = _linear_run(1e-2, tmp_path, 10)
    with pytest.warns(UserWarning, match=r"optimizer 'net' group 0: lr 0.0001 -> 0.01"):
        t2.fit(10)
    assert t2.optimizers["net"].param_groups[0]["lr"] == pytest.approx(1e-2)
    ref, ref_net = _linear_run(1e-4, None, 10)  # the same run in memory: 5 steps at 1e-4, then 5 at 1e-2
    ref.fit(5)
    ref.optimizers["net"].param_groups[0]["lr"] = 1e-2
    ref.fit(10)
    assert all(torch.equal(a, b) for a, b in zip(ref_net.state_dict().values(), net2.state_dict().values()))
    t3, _ = _linear_run(1e-2, tmp_path, 12)  # same values as the checkpoint's build: nothing to announce
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t3.fit(12)


def test_see_another_you_resume_with_another_lr_is_announced(tmp_path: Path) -> None:
    data = say.task_data("pose", identities=[3], lights=[0], size=32)
    torch.manual_seed(0)
    kw = dict(batch_size=8, device="cpu", progress=False, checkpoint_dir=tmp_path, checkpoint_every=1)
    say.train_stage1(SeeAnotherYou(7, size=32), data, steps=1, lr=1e-4, **kw)
    with pytest.warns(UserWarning, match="lr 0.1024 -> 10.24"):  # lr x 32 x 32 pixels (per-image sum, eq. (1))
        say.train_stage1(SeeAnotherYou(7, size=32), data, steps=2, lr=1e-2, **kw)


def _interrupting(at_step: int, after_update: bool):
    state = {"done": False}

    def step_fn(tr, batch):
        x, y = batch
        noise = torch.randn(())  # randomness inside the step: must replay the same after an interrupt
        out = tr.update("net", {"mse": (tr.models["net"](x) - y).pow(2).mean() + 0 * noise})
        if tr.step + 1 == at_step and after_update and not state["done"]:
            state["done"] = True
            raise KeyboardInterrupt
        return out

    def step_before(tr, batch):
        x, y = batch
        torch.randn(())
        if tr.step + 1 == at_step and not state["done"]:
            state["done"] = True
            raise KeyboardInterrupt
        noisy = x * (1 + 0.1 * torch.randn(x.shape))  # the gradient depends on the random numbers drawn
        return tr.update("net", {"mse": (tr.models["net"](noisy) - y).pow(2).mean()})

    return step_fn if after_update else step_before


def test_keyboard_interrupt_after_an_update_goes_back_to_the_checkpoint(tmp_path: Path) -> None:
    ref, ref_net = _linear_run(0.05, None, 10)
    ref.fit(10)
    t, net = _linear_run(0.05, tmp_path, 10, step_fn=_interrupting(7, after_update=True))
    with pytest.raises(KeyboardInterrupt):
        t.fit(10)
    t.fit(10)  # reloads step 5 (the half-updated step 7 is not continued)
    assert all(torch.equal(a, b) for a, b in zip(ref_net.state_dict().values(), net.state_dict().values()))
    t, _ = _linear_run(0.05, None, 10, step_fn=_interrupting(7, after_update=True))
    with pytest.raises(KeyboardInterrupt):
        t.fit(10)
    with pytest.raises(RuntimeError, match="interrupted .KeyboardInterrupt. in step 7"):
        t.fit(10)  # no checkpoint to go back to: refuse


def test_keyboard_interrupt_before_any_update_continues_in_memory() -> None:
    ref, ref_net = _linear_run(0.05, None, 10, step_fn=_interrupting(-1, after_update=False))
    ref.fit(10)
    t, net = _linear_run(0.05, None, 10, step_fn=_interrupting(7, after_update=False))
    with pytest.raises(KeyboardInterrupt):
        t.fit(10)
    assert t.step == 6
    t.fit(10)  # random states of the step's start restored
    assert all(torch.equal(a, b) for a, b in zip(ref_net.state_dict().values(), net.state_dict().values()))


# -- see-another-you: pixels and codes ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def model() -> SeeAnotherYou:
    torch.manual_seed(0)
    return SeeAnotherYou(7, size=32).eval()


def test_one_nan_pixel_is_refused(model: SeeAnotherYou) -> None:
    x = torch.rand(2, 1, 32, 32)
    x[1, 0, 5, 5] = float("nan")
    with pytest.raises(ValueError, match="1 NaN or inf pixel"):
        say.edit(model, x, torch.tensor([1, 2]))


@pytest.mark.parametrize("codes, match", [
    (torch.tensor([2.7, 1.0]), r"whole attribute indices .* \[2.7"),
    (torch.tensor([float("nan"), 1.0]), "whole attribute indices"),
    (torch.zeros(2, 7), r"one-hot .* rows \[0, 1\]"),
    (torch.tensor([[1.0, 0, 0, 0, 0, 0, 0], [0.0, -1, 2, 0, 0, 0, 0]]), r"rows \[1\]"),
])
def test_bad_codes_are_refused(model: SeeAnotherYou, codes: torch.Tensor, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        say.edit(model, torch.rand(2, 1, 32, 32), codes)


def test_whole_float_codes_and_mixtures_are_accepted(model: SeeAnotherYou) -> None:
    x = torch.rand(2, 1, 32, 32)
    a = say.edit(model, x, torch.tensor([2.0, 1.0]))["stage2"]
    assert torch.equal(a, say.edit(model, x, torch.tensor([2, 1]))["stage2"])
    mix = torch.zeros(2, 7)
    mix[:, 2] = mix[:, 3] = 0.5
    assert torch.isfinite(say.edit(model, x, mix)["stage2"]).all()


def test_generation_net_refuses_an_all_zero_code() -> None:
    with pytest.raises(ValueError, match="one-hot"):
        GenerationNet(7, size=32)(torch.rand(1, 1, 32, 32), torch.zeros(1, 7))


@pytest.mark.parametrize("call, match", [
    (lambda m, d: say.edit(m, torch.rand(2, 1, 32, 32), torch.tensor([1, 2]), batch_size=0), "batch_size must be"),
    (lambda m, d: say.stage_errors(m, d, n=-1), "n must be a positive"),
    (lambda m, d: say.task_data("pose", split="validation", identities=[3], size=32), "split must be"),
    (lambda m, d: say.task_data("pose", identities=[3], lights=[], size=32), "lights must name"),
    (lambda m, d: say.train_stage1(m, d, steps=1, batch_size=4, lr=float("nan"), device="cpu", progress=False),
     "lr must be a positive finite"),
    (lambda m, d: say.train_stage1(m, d, steps=1, batch_size=4, momentum=1.5, device="cpu", progress=False),
     "momentum must lie"),
])
def test_see_another_you_entry_points_refuse_bad_arguments(model, call, match) -> None:
    data = say.task_data("pose", identities=[3], lights=[0], size=32)
    with pytest.raises(ValueError, match=match):
        call(model, data)


def test_retrieval_refuses_bad_counts(model: SeeAnotherYou) -> None:
    from facekit.methods import see_another_you_retrieval as retrieval

    data = say.task_data("pose", identities=[3], lights=[0], size=32)
    for kw, match in (({"n_queries": 0}, "n_queries"), ({"ks": (0, 5)}, "ks must be")):
        with pytest.raises(ValueError, match=match):
            retrieval.retrieval_experiment(model, data, **kw)


# -- alignment and loaders ---------------------------------------------------------------------------------------
def test_align_face_refuses_nan_pixels() -> None:
    from facekit.align import align_face, five_point_template

    img = np.zeros((100, 100, 3), np.float32)
    img[3, 3, 0] = np.nan
    with pytest.raises(ValueError, match="1 NaN or inf"):
        align_face(img, five_point_template(100), size=64)


def test_detect_five_points_refuses_max_side_0() -> None:
    from facekit.data.wild import detect_five_points

    with pytest.raises(ValueError, match="max_side must be a positive"):
        detect_five_points(np.zeros((64, 64, 3), np.uint8), detector=None, max_side=0)


def test_ffhq_refuses_bad_counts_and_indices(tmp_path: Path) -> None:
    from PIL import Image

    from facekit.data.ffhq import FFHQ

    folder = tmp_path / "thumbnails128x128"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.zeros((128, 128, 3), np.uint8)).save(folder / f"{i:05d}.png")
    for bad in (-1, 0, 2.5, True):
        with pytest.raises(ValueError, match="max_images must be a positive int"):
            FFHQ(tmp_path, max_images=bad)
    ds = FFHQ(tmp_path, max_images=2)
    assert len(ds) == 2
    with pytest.raises(IndexError, match="index 2 is out of range for this FFHQ of 2 images"):
        ds[2]


@pytest.mark.parametrize("bad", [0, -3, 1.5, True])
def test_celeba_refuses_center_crop_that_is_not_a_size(bad) -> None:
    from facekit.data.celeba import CelebA

    with pytest.raises(ValueError, match="center_crop must be a positive number of pixels"):
        CelebA("/nonexistent/celeba", center_crop=bad)  # checked before the folder is looked for
