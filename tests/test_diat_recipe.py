"""Tests of DIAT's CPU recipe options (issue 23: the ladder) and of the equations the audit found untested:
eq. (4), eq. (7) / (14) with Algorithm 1's step against a hand computation, eq. (11)'s blur against OpenCV."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

import facekit.losses as L
from facekit.methods import diat as M
from facekit.nn import AttributeDiscriminator, SynthFaceNet, TransformNet
from facekit.nn.diat import transform_images


def tiny_T(**kw):
    return TransformNet(widths=(4, 8, 8), n_residual=1, **kw)


def tiny_D(**kw):
    return AttributeDiscriminator(image_size=32, hidden=8, **kw)


@pytest.fixture(scope="module")
def tiny_local():
    return M.synth_task_data("mouth_open", n_inputs=8, n_guided=8, size=32)


# -- the options of the networks -----------------------------------------------------------------------------------
@pytest.mark.parametrize("arch", ["table1", "resize_conv"])
def test_masked_residual_starts_as_identity_and_never_changes_outside_the_mask(arch):
    torch.manual_seed(0)
    T = tiny_T(arch=arch, output="residual")
    x = torch.rand(2, 3, 32, 32)
    m = torch.zeros(2, 1, 32, 32)
    m[..., 10:20, 8:24] = 1
    assert torch.equal(T(x, m), x)  # zero-initialised last layer: the identity map
    opt = torch.optim.Adam(T.parameters(), lr=1e-2)
    for _ in range(3):  # any training moves only the masked region
        opt.zero_grad()
        (T(x, m) - 0.5).abs().mean().backward()
        opt.step()
    y = T(x, m)
    assert torch.equal(y[m.expand_as(y) == 0], x[m.expand_as(x) == 0])
    assert float((y - x).abs().max()) > 0 and 0 <= float(y.min()) and float(y.max()) <= 1


def test_resize_conv_has_no_transposed_convolution_and_keeps_the_size():
    T = TransformNet(arch="resize_conv")
    assert not any(isinstance(mod, torch.nn.ConvTranspose2d) for mod in T.modules())
    assert T.conv1[0].kernel_size == (3, 3) and T(torch.rand(1, 3, 64, 64)).shape == (1, 3, 64, 64)
    with pytest.raises(ValueError, match="arch"):
        TransformNet(arch="unet")
    with pytest.raises(ValueError, match="output"):
        TransformNet(output="tanh")
    with pytest.raises(ValueError, match="sigmoid"):  # the paper's network takes no mask
        TransformNet()(torch.rand(1, 3, 64, 64), torch.ones(1, 1, 64, 64))
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        TransformNet(output="residual")(torch.rand(1, 3, 64, 64), torch.ones(1, 3, 64, 64))


def test_spectral_norm_bounds_every_layer_of_the_discriminator():
    torch.manual_seed(0)
    D = tiny_D(spectral_norm=True).train()
    x = torch.rand(4, 3, 32, 32)
    for _ in range(30):  # power iterations converge in training mode
        D(x)
    for layer in list(D.convs) + [D.fc1, D.fc2]:
        w = layer.weight.detach().flatten(1)
        assert float(torch.linalg.matrix_norm(w, ord=2)) == pytest.approx(1.0, abs=0.05)
    assert D.config["spectral_norm"] is True


def test_networks_refuse_0_255_floats_uint8_and_nan():
    T, D = tiny_T(), tiny_D()
    for bad, err in ((torch.rand(1, 3, 32, 32) * 255, ValueError), (torch.zeros(1, 3, 32, 32, dtype=torch.uint8),
                                                                      TypeError)):
        with pytest.raises(err, match="255|uint8|floating"):
            T(bad)
        with pytest.raises(err, match="255|uint8|floating"):
            D(bad)
    nan = torch.rand(1, 3, 32, 32)
    nan[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        T(nan)


def test_transform_images_restores_train_mode_after_a_failure():
    T = tiny_T().train()
    with pytest.raises(ValueError):
        transform_images(T, torch.rand(2, 3, 30, 30))  # not divisible by 4
    assert T.training


# -- DiffAugment ---------------------------------------------------------------------------------------------------
def test_diff_augment_translation_is_a_zero_filled_shift_and_cutout_a_square():
    torch.manual_seed(0)
    x = torch.rand(6, 3, 16, 16) + 0.1  # no zero pixel in the input
    y = L.diff_augment(x, "translation")
    for b in range(6):  # each output is the input shifted by at most 2 pixels (1/8 of 16), zeros brought in
        ok = False
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                ref = torch.zeros_like(x[b])
                ys, yd = (slice(dy, 16), slice(0, 16 - dy)) if dy >= 0 else (slice(0, 16 + dy), slice(-dy, 16))
                xs, xd = (slice(dx, 16), slice(0, 16 - dx)) if dx >= 0 else (slice(0, 16 + dx), slice(-dx, 16))
                ref[:, yd, xd] = x[b][:, ys, xs]
                ok |= torch.equal(ref, y[b])
        assert ok, b
    z = L.diff_augment(x, "cutout")
    zero = (z == 0).all(1)  # (B, H, W)
    for b in range(6):
        rows, cols = zero[b].any(1).nonzero(), zero[b].any(0).nonzero()
        assert int(zero[b].sum()) == len(rows) * len(cols) <= 9 * 9  # one axis-aligned square of side <= 8 (+1)
    c = L.diff_augment(x, "color")
    assert c.shape == x.shape and not torch.equal(c, x)


def test_diff_augment_passes_gradients_and_refuses_unknown_policies():
    x = torch.rand(2, 3, 16, 16, requires_grad=True)
    L.diff_augment(x).sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
    assert L.diff_augment(x, "") is x
    with pytest.raises(ValueError, match="policy"):
        L.diff_augment(x, "colour")
    with pytest.raises(ValueError, match="policy"):
        M.DIATConfig(augment="flip")


# -- the ladder, and training with every option --------------------------------------------------------------------
def test_ladder_rungs_accumulate_and_unknown_rungs_are_refused():
    names = list(M.LADDER)
    assert names[0] == "faithful" and M.ladder_config("faithful").output == "sigmoid"
    last = M.ladder_config(names[-1])
    for rung, change in M.LADDER.items():  # the last rung holds every change
        for k, v in change.items():
            assert getattr(last, k) == v, (rung, k)
    assert M.ladder_config("masked_residual").arch == "table1"  # a rung has only the changes above it
    with pytest.raises(KeyError, match="rungs"):
        M.ladder_config("magic")


def test_batch_sampler_keeps_paired_sets_aligned():
    x = torch.arange(20.0).view(20, 1)
    for step in range(3):
        bx, bm, bg = M.batch_sampler((x, 3 * x), x + 100, batch_size=8, seed=1)(step)
        assert torch.equal(bm, 3 * bx) and not torch.equal(bg - 100, bx)
    with pytest.raises(ValueError, match="same length"):
        M.batch_sampler((x, x[:5]), batch_size=2)


def test_full_recipe_trains_resumes_exactly_and_keeps_the_outside(tiny_local, tmp_path):
    cfg = M.ladder_config(list(M.LADDER)[-1], batch_size=2)  # residual, ..., EMA, bf16, local D, select on val
    assert cfg.select_on_val and cfg.d_crop and cfg.ema > 0
    val = M.synth_test_data("mouth_open", 2, size=32, split="val")

    def run(steps, ck):
        torch.manual_seed(0)
        T, D = tiny_T(arch=cfg.arch, output=cfg.output), tiny_D(spectral_norm=True)
        return M.train_transform(tiny_local, cfg, steps=steps, T=T, D=D, checkpoint_dir=ck, checkpoint_every=2,
                                 device="cpu", progress=False, eval_fn=M.progress_eval(val, n=2), eval_every=1)

    T_full, D_full, h_full = run(4, tmp_path / "a")
    run(2, tmp_path / "b")
    T_res, D_res, h_res = run(4, tmp_path / "b")
    for a, b in zip(list(T_full.state_dict().values()) + list(D_full.state_dict().values()),
                    list(T_res.state_dict().values()) + list(D_res.state_dict().values())):
        assert torch.equal(a, b)
    assert h_full.terms["gan"] == h_res.terms["gan"]
    assert h_full.evals == h_res.evals and any(e["selected"] for e in h_full.evals)
    for a, b in zip(h_full.last_network.state_dict().values(), h_res.last_network.state_dict().values()):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="eval_fn"):  # selection without validation scores
        M.train_transform(tiny_local, cfg, steps=1, T=tiny_T(arch=cfg.arch, output=cfg.output),
                          D=tiny_D(spectral_norm=True), progress=False)
    test = M.synth_test_data("mouth_open", 2, size=32, split="val")
    y = M.edit(test.sources, T_full, "mouth_open", masks=test.masks)
    assert torch.equal(y * (1 - test.masks), test.sources * (1 - test.masks))  # nothing outside the mask moved
    with pytest.raises(ValueError, match="masks="):  # a masked-residual T on a local task needs the masks
        M.edit(test.sources, T_full, "mouth_open")
    with pytest.raises(ValueError, match="output"):  # a config and a T that disagree
        M.train_transform(tiny_local, cfg, steps=1, T=tiny_T(), D=tiny_D(), progress=False)


def test_ema_is_what_training_returns():
    data = M.synth_task_data("male_to_female", n_inputs=4, n_guided=4, size=32)
    torch.manual_seed(0)
    T = tiny_T(output="residual")
    T0 = copy.deepcopy(T)
    cfg = M.DIATConfig.variant("DIAT1", output="residual", ema=0.5, batch_size=2, lr=1e-2)
    out, _, _ = M.train_transform(data, cfg, steps=1, T=T, D=tiny_D(), progress=False)
    # after one step the average is halfway between the start and the trained weights
    for k, p0 in T0.state_dict().items():
        torch.testing.assert_close(out.state_dict()[k], 0.5 * p0 + 0.5 * T.state_dict()[k])
    assert out is not T


def test_select_on_val_keeps_the_network_of_the_best_ranked_evaluation():
    data = M.synth_task_data("male_to_female", n_inputs=4, n_guided=4, size=32)
    cfg = M.DIATConfig.variant("DIAT1", output="residual", ema=0.5, batch_size=2, lr=1e-2, select_on_val=True)
    # made-up validation scores by step: step 2 meets the targets with the smallest L1 and must be kept
    table = {1: (0.9, 1.0, 0.05), 2: (0.85, 0.95, 0.03), 3: (1.0, 0.5, 0.01), 4: (0.8, 1.0, 0.04)}
    snapshots = {}

    def eval_fn(trainer):
        snapshots[trainer.step] = copy.deepcopy(trainer.modules["T_ema"].state_dict())
        s, i, l1 = table[trainer.step]
        return {"attribute_success": s, "identity_kept": i, "l1_inside_mask": l1}

    torch.manual_seed(0)
    out, _, h = M.train_transform(data, cfg, steps=4, T=tiny_T(output="residual"), D=tiny_D(), progress=False,
                                  eval_fn=eval_fn, eval_every=1)
    assert [e["selected"] for e in h.evals] == [1.0, 1.0, 0.0, 0.0]
    for k, v in out.state_dict().items():
        assert torch.equal(v, snapshots[2][k])
    for k, v in h.last_network.state_dict().items():
        assert torch.equal(v, snapshots[4][k])
    assert any(not torch.equal(snapshots[2][k], snapshots[4][k]) for k in snapshots[2])  # training moved T
    # the ranking: targets met beat targets missed; then the smaller L1 (met) or the larger success (missed)
    r = M.val_rank
    assert r({"attribute_success": 0.8, "identity_kept": 0.9, "l1_inside_mask": 0.5}) > \
        r({"attribute_success": 1.0, "identity_kept": 0.89, "l1_inside_mask": 0.0})
    assert r({"attribute_success": 0.5, "identity_kept": 1, "l1_inside_mask": 0.5}) > \
        r({"attribute_success": 0.4, "identity_kept": 1, "l1_inside_mask": 0.0})
    assert r({"attribute_success": float("nan"), "identity_kept": 1, "l1_inside_mask": 0}) < \
        r({"attribute_success": 0.0, "identity_kept": 0, "l1_inside_mask": 1})
    with pytest.raises(KeyError, match="l1_inside_mask"):
        r({"attribute_success": 1.0, "identity_kept": 1.0})


def test_edit_refuses_a_network_of_another_task():
    T = tiny_T()
    T.meta = {"task": "mouth_open"}
    with pytest.raises(ValueError, match="mouth_open"):
        M.edit(torch.rand(1, 3, 32, 32), T, "mouth_close")


def test_val_split_is_not_the_test_split():
    v = M.synth_test_data("mouth_open", 4, size=32, split="val")
    t = M.synth_test_data("mouth_open", 4, size=32)
    assert not set(v.identities.tolist()) & set(t.identities.tolist())
    with pytest.raises(ValueError, match="split"):
        M.synth_test_data("mouth_open", 4, size=32, split="train")


# -- equations the audit found untested ----------------------------------------------------------------------------
def test_eq4_reconstruction_loss_by_hand():
    torch.manual_seed(0)
    net = SynthFaceNet(num_classes=3).eval()
    images = (torch.rand(6, 3, 32, 32) * 255).to(torch.uint8)
    g0 = tiny_T()
    g, h = M.train_reconstruction(images, net, steps=1, batch_size=3, init=g0, progress=False, device="cpu")
    (x,) = M.batch_sampler(images, batch_size=3, seed=0)(0)
    feats = net.extract(torch.cat([g0(x), x]), ["relu2_2", "relu3_1"])
    hand = 0.0
    for f in feats.values():  # DIAT eq. (1): 1 / (2 C H W) ||phi(g(x)) - phi(x)||^2 per image, summed over layers
        a, b = f[:3], f[3:]
        hand = hand + ((a - b) ** 2).flatten(1).sum(1) / (2 * a[0].numel())
    assert h.terms["rec_perceptual"][0] == pytest.approx(float(hand.mean()), rel=1e-5)  # eq. (4), batch mean


@pytest.mark.parametrize("variant", ["DIAT3", "DIAT-A"])
def test_eq7_eq14_one_step_of_algorithm1_by_hand(variant):
    """One iteration of Algorithm 1 (a D step, then a T step on eq. (7) or (14)) recomputed by hand."""
    data = M.synth_task_data("eyeglasses_remove", n_inputs=4, n_guided=4, size=32)
    torch.manual_seed(0)
    net = SynthFaceNet(num_classes=3).eval()
    T0, D0 = tiny_T(), tiny_D()
    f = M.Denoiser(width=4)
    torch.nn.init.normal_(f.conv2.weight, std=0.1)
    cfg = M.DIATConfig.variant(variant, batch_size=2, gan_form="non_saturating")
    T, D = copy.deepcopy(T0), copy.deepcopy(D0)
    _, _, h = M.train_transform(data, cfg, steps=1, T=T, D=D, face_net=net, denoiser=f if variant == "DIAT3" else None,
                                progress=False, device="cpu")
    x, a = M.batch_sampler(data.inputs, data.guided, batch_size=2, seed=0)(0)
    # steps 6-8: D ascends eq. (3) on guided images against T(x)
    Dh, Th = copy.deepcopy(D0).train(), copy.deepcopy(T0).train()
    opt_d = torch.optim.Adam(Dh.parameters(), lr=cfg.lr)
    with torch.no_grad():
        fake = Th(x)
    logits = Dh(torch.cat([a, fake]))
    d_loss = -(torch.log(torch.sigmoid(logits[:2])).mean() + torch.log(1 - torch.sigmoid(logits[2:])).mean())
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()
    assert h.terms["d_loss"][0] == pytest.approx(float(d_loss), rel=1e-5)
    # steps 9-11: T descends eq. (7) (DIAT3) or eq. (14) (DIAT-A) with D frozen
    opt_t = torch.optim.Adam(Th.parameters(), lr=cfg.lr)
    y = Th(x)
    gan = -torch.log(torch.sigmoid(Dh(y))).mean()
    if variant == "DIAT3":
        fy = net.extract(torch.cat([y, x]), ["relu2_2", "relu3_1"]).values()
        ident = sum(((v[:2] - v[2:]) ** 2).flatten(1).sum(1) / (2 * v[0].numel()) for v in fy).mean()
        smooth = ((f(y) - y) ** 2).flatten(1).sum(1).mean()  # eq. (6)
        total = gan + cfg.lambda_id * ident + cfg.gamma_smooth * smooth  # eq. (7)
        assert h.terms["smooth"][0] == pytest.approx(float(smooth), rel=1e-4)
    else:
        feats = Dh.features(torch.cat([y, x]), [4, 5]).values()
        ident = sum(((v[:2] - v[2:]) ** 2).flatten(1).sum(1) / (2 * v[0].numel()) for v in feats).mean()
        total = gan + cfg.lambda_id * ident  # eq. (14)
    assert h.terms["gan"][0] == pytest.approx(float(gan), rel=1e-5)
    assert h.terms["id"][0] == pytest.approx(float(ident), rel=1e-4)
    for p in Dh.parameters():
        p.requires_grad_(False)
    opt_t.zero_grad()
    total.backward()
    opt_t.step()
    # Adam moves every weight by about lr (1e-4); biases in front of an instance norm have a zero gradient up to
    # rounding, which Adam normalises to a random step, so compare to a fifth of one step
    for k, v in Th.state_dict().items():
        torch.testing.assert_close(T.state_dict()[k], v, rtol=0, atol=2e-5)
    moved = sum(float((v - T0.state_dict()[k]).abs().sum()) for k, v in Th.state_dict().items())
    assert moved > 0


def test_eq11_blur_matches_opencv():
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(0)
    img = rng.random((40, 48, 3)).astype(np.float32)
    ref = cv2.GaussianBlur(img, (13, 13), 1.8, borderType=cv2.BORDER_REFLECT_101)  # r = ceil(3 sigma) = 6
    got = L.gaussian_blur(torch.from_numpy(img).permute(2, 0, 1)[None], 1.8)[0].permute(1, 2, 0).numpy()
    assert float(np.abs(got - ref).max()) < 1e-6


def test_attribute_box_covers_the_masks_and_a_cropping_d_sees_only_it(tiny_local):
    masks = M._train_masks(tiny_local, 32)
    top, left, side = box = M.attribute_box(masks)
    inside = torch.zeros(32, 32, dtype=torch.bool)
    inside[top:top + side, left:left + side] = True
    assert bool((masks[:, 0] > 0.5)[:, ~inside].sum() == 0) and 0 < side < 32  # every mask pixel, not the face
    cfg = M.ladder_config("local_d", batch_size=2)
    assert cfg.d_crop and M.d_box(tiny_local, cfg) == box
    assert M.d_box(tiny_local, M.ladder_config("change_l1")) is None  # the option is off below its rung
    glob = M.synth_task_data("male_to_female", n_inputs=2, n_guided=2, size=32)
    assert M.d_box(glob, cfg) is None  # a global task's D sees the whole face
    x = torch.rand(2, 3, 32, 32, requires_grad=True)
    crop = M.crop_box(x, box, 32)
    assert crop.shape == (2, 3, 32, 32)
    tiny_D()(crop).sum().backward()
    assert float(x.grad[..., ~inside].abs().sum()) == 0.0 and float(x.grad[..., inside].abs().sum()) > 0
    with pytest.raises(ValueError, match="empty"):
        M.attribute_box(torch.zeros(2, 1, 8, 8))
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\)"):
        M.attribute_box(torch.ones(8, 8))
