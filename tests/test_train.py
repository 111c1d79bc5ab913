"""Tests of facekit.train: exact resume, divergence, checkpoints, history, hooks."""

from __future__ import annotations

import doctest
import math
from pathlib import Path

import pytest
import torch
from torch import nn

import facekit.train as train_mod
from facekit.train import CheckpointError, History, Trainer, TrainingDiverged, load_weights, save_weights

torch.set_num_threads(1)


class Interrupt(Exception):
    """Stands in for a killed process / KeyboardInterrupt in the middle of a run."""


def tiny_net() -> nn.Module:
    torch.manual_seed(123)
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 1))


def tiny_data(n: int = 40) -> torch.utils.data.TensorDataset:
    g = torch.Generator().manual_seed(7)
    x = torch.randn(n, 4, generator=g)
    return torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True))


def make_step_fn(interrupt_at: int | None = None, nan_at: int | None = None, nan_returned_at: int | None = None):
    """Dropout, Adam and a random term (noise from the global generator), as WGAN-GP's interpolation would."""

    def step_fn(trainer: Trainer, batch):
        if interrupt_at is not None and trainer.step == interrupt_at:
            raise Interrupt
        x, y = batch
        net = trainer.models["net"]
        noise = torch.randn_like(y) * 0.1  # a random term inside the step
        mse = (net(x) - y - noise).pow(2).mean()
        reg = net[0].weight.pow(2).mean() * torch.rand(())
        if nan_at is not None and trainer.step + 1 == nan_at:
            reg = reg * float("nan")
        out = trainer.update("net", {"mse": mse, "reg": reg}, weights={"reg": 0.01})
        if nan_returned_at is not None and trainer.step + 1 == nan_returned_at:
            out["ratio"] = float("inf")
        return out

    return step_fn


def make_trainer(tmp: Path | None, step_fn=None, **kw) -> Trainer:
    net = tiny_net()
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    kw.setdefault("batch_size", 8)
    kw.setdefault("checkpoint_every", 3)
    return Trainer(
        {"net": net},
        {"net": opt},
        step_fn or make_step_fn(),
        data=kw.pop("data", tiny_data()),
        device="cpu",
        checkpoint_dir=tmp,
        progress=False,
        **kw,
    )


def weights(trainer: Trainer) -> dict:
    return {k: v.clone() for k, v in trainer.models["net"].state_dict().items()}


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


# ---------------------------------------------------------------------------------------------------------------
# exact resume
# ---------------------------------------------------------------------------------------------------------------


def test_interrupted_run_resumes_to_identical_weights(tmp_path: Path) -> None:
    ref = make_trainer(tmp_path / "ref")
    ref.fit(10)
    # 10 steps at 8 of 40 samples = 2 epochs, so the epoch permutation is exercised too.

    crashed = make_trainer(tmp_path / "run", step_fn=make_step_fn(interrupt_at=7), keep=5)
    with pytest.raises(Interrupt):
        crashed.fit(10)
    assert crashed.step == 7
    assert Trainer.latest_checkpoint(tmp_path / "run").name == "step_000006.pt"  # nothing saved on the crash

    fresh = make_trainer(tmp_path / "run", keep=5)  # new models, new optimiser: a new process
    fresh.fit(10)
    assert fresh.step == 10
    assert_same_weights(weights(fresh), weights(ref))
    assert_same_weights(
        {k: v for k, v in fresh.optimizers["net"].state_dict()["state"][0].items()},
        {k: v for k, v in ref.optimizers["net"].state_dict()["state"][0].items()},
    )
    # the history of the resumed run is complete and equal to the uninterrupted one
    assert fresh.history.steps == list(range(1, 11))
    assert fresh.history.terms == ref.history.terms
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [
        "step_000003.pt",
        "step_000006.pt",
        "step_000009.pt",
        "step_000010.pt",
    ]


def test_resume_from_end_of_shorter_fit(tmp_path: Path) -> None:
    ref = make_trainer(None)
    ref.fit(10)
    first = make_trainer(tmp_path)
    first.fit(7)  # saves at 3, 6 and at the end (7); keep=1 leaves only step 7
    assert [p.name for p in tmp_path.iterdir()] == ["step_000007.pt"]
    second = make_trainer(tmp_path)
    second.fit(10)
    assert_same_weights(weights(second), weights(ref))


def test_fit_continues_in_memory_and_resume_false_starts_over(tmp_path: Path) -> None:
    ref = make_trainer(None)
    ref.fit(10)
    t = make_trainer(tmp_path)
    t.fit(4)
    t.fit(10)  # continues in the same trainer
    assert_same_weights(weights(t), weights(ref))
    again = make_trainer(tmp_path)
    again.fit(2, resume=False)
    assert again.step == 2


def test_data_order_is_a_function_of_seed_and_step() -> None:
    data = tiny_data(40)
    a = make_trainer(None, data=data, seed=3)
    b = make_trainer(None, data=data, seed=3)
    c = make_trainer(None, data=data, seed=4)
    assert a.steps_per_epoch == 5
    for s in (0, 4, 5, 12):
        assert torch.equal(a.batch(s)[0], b.batch(s)[0])
    assert torch.equal(a.batch(12)[0], b.batch(12)[0])
    assert not torch.equal(a.batch(0)[0], c.batch(0)[0])
    # one epoch covers every sample once; the documented permutation
    xs = torch.cat([a.batch(s)[0] for s in range(5, 10)])
    perm = torch.randperm(40, generator=torch.Generator().manual_seed(3 * 1_000_003 + 1))
    assert torch.equal(xs, data.tensors[0][perm])


# ---------------------------------------------------------------------------------------------------------------
# divergence
# ---------------------------------------------------------------------------------------------------------------


def test_nan_term_stops_training_and_keeps_last_good_checkpoint(tmp_path: Path) -> None:
    good = make_trainer(None)
    good.fit(7)
    t = make_trainer(tmp_path, step_fn=make_step_fn(nan_at=8))
    with pytest.raises(TrainingDiverged) as info:
        t.fit(20)
    err = info.value
    assert (err.step, err.term) == (8, "reg") and math.isnan(err.value)
    assert err.checkpoint == tmp_path / "step_000006.pt"
    msg = str(err)
    assert "loss term 'reg' is nan at step 8" in msg and "step_000006.pt (step 6)" in msg
    # the bad step did not touch the weights; nothing was saved for it
    assert t.step == 7
    assert_same_weights(weights(t), weights(good))
    assert [p.name for p in tmp_path.iterdir()] == ["step_000006.pt"]
    assert len(t.history) == 7


def test_non_finite_returned_term_and_no_checkpoint_message() -> None:
    t = make_trainer(None, step_fn=make_step_fn(nan_returned_at=2))
    with pytest.raises(TrainingDiverged, match=r"loss term 'ratio' is inf at step 2; .*no checkpoint") as info:
        t.fit(5)
    assert info.value.checkpoint is None and len(t.history) == 1


def test_non_finite_gradient_is_caught_before_the_step() -> None:
    def step_fn(trainer, batch):
        w = trainer.models["net"][0].weight
        loss = (w * 0).sum().sqrt()  # finite (0) but its gradient is inf/nan: the WGAN-GP norm trap
        return trainer.update("net", {"gp": loss})

    t = make_trainer(None, step_fn=step_fn)
    before = weights(t)
    with pytest.raises(TrainingDiverged, match="gradient of optimiser 'net'") as info:
        t.fit(3)
    assert info.value.term == "grad:net"
    assert_same_weights(weights(t), before)


def test_optimiser_step_to_non_finite_weights_is_caught_and_never_saved(tmp_path: Path) -> None:
    """Finite loss and gradients, but a step so large that float32 weights overflow: the trainer must not save
    them as the 'last good' checkpoint (with keep=1 that would delete the good one) nor train on from them."""

    def step_fn(trainer, batch):
        x, y = batch
        if trainer.step == 4:  # step 5 blows up
            for group in trainer.optimizers["net"].param_groups:
                group["lr"] = float("inf")  # finite loss and gradients, non-finite weights
        mse = (trainer.models["net"](x) - y).pow(2).mean()
        return trainer.update("net", {"mse": mse})

    net = tiny_net()
    t = Trainer({"net": net}, {"net": torch.optim.SGD(net.parameters(), lr=1e-3)}, step_fn, data=tiny_data(),
                batch_size=8, device="cpu", checkpoint_dir=tmp_path, checkpoint_every=2, progress=False)
    with pytest.raises(TrainingDiverged, match="a weight updated by optimiser 'net' is nan at step 5") as info:
        t.fit(10)
    assert info.value.term == "weights:net"
    assert [p.name for p in tmp_path.iterdir()] == ["step_000004.pt"]  # the good one is kept, nothing new
    with pytest.raises(CheckpointError, match="not saving"):
        t.save_checkpoint()
    assert [p.name for p in tmp_path.iterdir()] == ["step_000004.pt"]
    good = load_weights(tiny_net(), tmp_path / "step_000004.pt")
    t.fit(4)  # goes back to the last good checkpoint instead of training on from inf
    assert t.step == 4
    assert_same_weights(weights(t), good.state_dict())


def test_divergence_after_an_earlier_update_of_the_step_does_not_continue_half_updated(tmp_path: Path) -> None:
    torch.manual_seed(0)
    a, b = nn.Linear(1, 1), nn.Linear(1, 1)

    def step_fn(trainer, batch):
        x = batch["x"]
        trainer.update("b", {"lb": trainer.models["b"](x).mean()})  # the critic steps first
        la = trainer.models["a"](x).mean()
        if trainer.step == 3:
            la = la * float("nan")
        return trainer.update("a", {"la": la})

    def make(ckpt):
        return Trainer({"a": a, "b": b}, {"a": torch.optim.SGD(a.parameters(), lr=0.1),
                                          "b": torch.optim.SGD(b.parameters(), lr=0.1)},
                       step_fn, data=lambda s: {"x": torch.ones(2, 1)}, device="cpu", checkpoint_dir=ckpt,
                       checkpoint_every=1, progress=False)

    t = make(tmp_path)
    with pytest.raises(TrainingDiverged, match="'la' is nan at step 4"):
        t.fit(6)
    saved = torch.load(tmp_path / "step_000003.pt", weights_only=True)["models"]
    assert not torch.equal(b.weight, saved["b"]["weight"])  # b stepped in the diverged step
    with pytest.raises(CheckpointError, match="diverged"):
        t.save_checkpoint(tmp_path / "half.pt")
    assert not (tmp_path / "half.pt").exists()
    with pytest.raises(TrainingDiverged):  # resumes from step 3 (b restored), then diverges at the same place
        t.fit(6)
    assert t.step == 3 and torch.equal(b.weight, saved["b"]["weight"]) is False  # b stepped again in step 4

    t2 = make(None)  # no checkpoint to go back to: refuse to train on
    with pytest.raises(TrainingDiverged):
        t2.fit(6)
    with pytest.raises(RuntimeError, match="no completed step"):
        t2.fit(6)


def test_save_refuses_a_model_with_non_finite_buffers(tmp_path: Path) -> None:
    net = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    t = Trainer({"net": net}, {"net": torch.optim.SGD(net.parameters(), lr=0.1)}, make_step_fn(),
                data=tiny_data(), batch_size=8, device="cpu", checkpoint_dir=tmp_path, progress=False)
    t.save_checkpoint()
    net[1].running_var.fill_(float("inf"))
    with pytest.raises(CheckpointError, match=r"model 'net' has non-finite values in 1\.running_var"):
        t.save_checkpoint(tmp_path / "step_000001.pt")
    assert [p.name for p in tmp_path.iterdir()] == ["step_000000.pt"]


def test_resuming_with_another_batch_size_is_refused(tmp_path: Path) -> None:
    make_trainer(tmp_path).fit(3)
    other = make_trainer(tmp_path, batch_size=4)
    before = weights(other)
    with pytest.raises(CheckpointError, match="batch_size 8, this trainer has 4"):
        other.fit(6)
    assert other.step == 0
    assert_same_weights(weights(other), before)
    make_trainer(tmp_path).fit(6)  # the same batch size resumes


# ---------------------------------------------------------------------------------------------------------------
# checkpoints
# ---------------------------------------------------------------------------------------------------------------


def test_corrupt_and_missing_checkpoint_errors_name_the_file(tmp_path: Path) -> None:
    t = make_trainer(tmp_path)
    t.fit(3)
    ckpt = tmp_path / "step_000003.pt"
    data = ckpt.read_bytes()
    ckpt.write_bytes(data[: len(data) // 2])
    fresh = make_trainer(tmp_path)
    with pytest.raises(CheckpointError, match="step_000003.pt.*corrupt"):
        fresh.fit(5)
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        fresh.load_checkpoint(tmp_path / "nope.pt")
    with pytest.raises(CheckpointError, match="step_000003.pt"):
        load_weights(nn.Linear(4, 16), ckpt)


def test_mismatching_model_is_refused_before_anything_changes(tmp_path: Path) -> None:
    t = make_trainer(tmp_path)
    t.fit(3)
    other = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 1))
    before = {k: v.clone() for k, v in other.state_dict().items()}
    t2 = Trainer({"net": other}, {"net": torch.optim.Adam(other.parameters())}, make_step_fn(),
                 data=tiny_data(), batch_size=8, device="cpu", checkpoint_dir=tmp_path, progress=False)
    with pytest.raises(CheckpointError, match=r"step_000003.pt does not fit model 'net'.*shape"):
        t2.load_checkpoint()
    assert_same_weights(other.state_dict(), before)
    assert t2.step == 0
    t3 = Trainer({"G": tiny_net()}, {}, make_step_fn(), data=tiny_data(), batch_size=8, device="cpu",
                 checkpoint_dir=tmp_path, progress=False)
    with pytest.raises(CheckpointError, match=r"has models \['net'\]"):
        t3.load_checkpoint()


def test_checkpoint_contents_keep_and_atomic_names(tmp_path: Path) -> None:
    t = make_trainer(tmp_path, keep=2, checkpoint_every=2)
    t.fit(7)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["step_000006.pt", "step_000007.pt"]  # no temporary files left
    ck = torch.load(tmp_path / "step_000007.pt", weights_only=True)
    assert ck["format"] == train_mod.CHECKPOINT_FORMAT
    assert ck["step"] == 7 and ck["seed"] == 0
    assert set(ck) >= {"models", "optimizers", "schedulers", "history", "rng"}
    assert set(ck["rng"]) >= {"python", "numpy", "torch"}
    assert Trainer.latest_checkpoint(tmp_path) == tmp_path / "step_000007.pt"
    assert Trainer.latest_checkpoint(tmp_path / "none") is None


def test_load_weights_from_checkpoint_and_weights_file(tmp_path: Path) -> None:
    t = make_trainer(tmp_path)
    t.fit(3)
    net = load_weights(tiny_net(), tmp_path / "step_000003.pt", key="net")
    assert_same_weights(net.state_dict(), weights(t))
    assert_same_weights(load_weights(tiny_net(), tmp_path / "step_000003.pt").state_dict(), weights(t))
    with pytest.raises(CheckpointError, match="no model 'G'"):
        load_weights(tiny_net(), tmp_path / "step_000003.pt", key="G")
    f = save_weights(t.models["net"], tmp_path / "w" / "net.pt", meta={"step": 3})
    assert_same_weights(load_weights(tiny_net(), f).state_dict(), weights(t))
    torch.save(t.models["net"].state_dict(), tmp_path / "plain.pt")
    assert_same_weights(load_weights(tiny_net(), tmp_path / "plain.pt").state_dict(), weights(t))


# ---------------------------------------------------------------------------------------------------------------
# hooks, history, update, callable data, schedulers
# ---------------------------------------------------------------------------------------------------------------


def test_eval_hook_steps_eval_mode_and_no_effect_on_training() -> None:
    seen = []

    def eval_fn(trainer):
        seen.append((trainer.step, trainer.models["net"].training))
        torch.randn(100)  # consumes random numbers: must not change training
        return {"score": float(trainer.step) * 2}

    ref = make_trainer(None)
    ref.fit(10)
    t = make_trainer(None, eval_fn=eval_fn, eval_every=4)
    t.fit(10)
    assert seen == [(4, False), (8, False)]
    assert t.history.evals == [{"step": 4, "score": 8.0}, {"step": 8, "score": 16.0}]
    assert t.models["net"].training
    assert_same_weights(weights(t), weights(ref))

    once = make_trainer(None, eval_fn=eval_fn)
    once.fit(3)
    assert once.history.evals == [{"step": 3, "score": 6.0}]


def test_history_survives_resume_with_evals(tmp_path: Path) -> None:
    t = make_trainer(tmp_path, eval_fn=lambda tr: {"s": 1.0}, eval_every=2)
    t.fit(5)
    fresh = make_trainer(tmp_path, eval_fn=lambda tr: {"s": 1.0}, eval_every=2)
    fresh.fit(8)
    assert fresh.history.steps == list(range(1, 9))
    assert [e["step"] for e in fresh.history.evals] == [2, 4, 6, 8]
    h = History.from_dict(fresh.history.to_dict())
    assert h == fresh.history


def test_history_alignment_and_means() -> None:
    h = History()
    h.append(1, {"d": 1.0})
    h.append(2, {"d": 3.0, "g": 2.0})
    h.append(3, {"d": 5.0})
    assert len(h) == 3 and math.isnan(h.terms["g"][0]) and math.isnan(h.terms["g"][2])
    assert h.last() == {"d": 5.0}
    assert h.mean(2) == {"d": 4.0, "g": 2.0}
    assert h.mean() == {"d": 3.0, "g": 2.0}


def test_update_weights_two_optimisers_and_callable_data() -> None:
    torch.manual_seed(0)
    a, b = nn.Linear(1, 1, bias=False), nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        a.weight.fill_(1.0)
        b.weight.fill_(1.0)
    calls = []

    def data(step):
        calls.append(step)
        return {"x": torch.full((2, 1), float(step + 1))}

    def step_fn(trainer, batch):
        x = batch["x"]
        for _ in range(2):  # e.g. n_critic critic updates
            trainer.update("b", {"lb": trainer.models["b"](x).mean()})
        la = trainer.models["a"](x).mean()
        trainer.update("a", {"la": la, "zero": la * 0}, weights={"la": 0.5})
        return None  # log what was passed to update

    t = Trainer({"a": a, "b": b}, {"a": torch.optim.SGD(a.parameters(), lr=0.1),
                                   "b": torch.optim.SGD(b.parameters(), lr=0.1)},
                step_fn, data=data, device="cpu", progress=False)
    t.fit(2)
    assert calls == [0, 1]
    # d(0.5 * w * x)/dw = 0.5 x: step 1 x=1, step 2 x=2 -> w = 1 - 0.1 * 0.5 * (1 + 2)
    assert a.weight.item() == pytest.approx(1 - 0.05 * 3)
    # b: two updates per step with grad x -> 1 - 0.1 * (1 + 1 + 2 + 2)
    assert b.weight.item() == pytest.approx(1 - 0.1 * 6)
    assert set(t.history.terms) == {"lb", "la", "zero"}
    with pytest.raises(KeyError, match="no optimiser named 'c'"):
        t.update("c", {"l": torch.zeros(())})
    with pytest.raises(KeyError, match="weights name terms"):
        t.update("a", {"l": a.weight.sum()}, weights={"typo": 1.0})


def test_schedulers_are_stepped_and_checkpointed(tmp_path: Path) -> None:
    def build():
        t = make_trainer(tmp_path)
        opt = t.optimizers["net"]
        sch = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
        t.schedulers = {"net": sch}
        return t, opt

    t, opt = build()
    t.fit(4)
    assert opt.param_groups[0]["lr"] == pytest.approx(1e-2 * 0.25)
    t2, opt2 = build()
    t2.fit(6)
    assert opt2.param_groups[0]["lr"] == pytest.approx(1e-2 * 0.125)


def test_argument_checks() -> None:
    with pytest.raises(ValueError, match="fewer than one batch"):
        make_trainer(None, data=tiny_data(4), batch_size=8)
    with pytest.raises(TypeError, match="IterableDataset"):

        class It(torch.utils.data.IterableDataset):
            def __iter__(self):
                return iter([])

        make_trainer(None, data=It())
    with pytest.raises(ValueError, match="keep"):
        make_trainer(None, keep=0)


def test_default_device_comes_from_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEKIT_DEVICE", "cpu")
    net = nn.Linear(1, 1)
    t = Trainer({"n": net}, {}, lambda tr, b: {}, data=lambda s: None, progress=False)
    assert t.device == torch.device("cpu")


def test_docstring_examples_run() -> None:
    result = doctest.testmod(train_mod, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
