"""Tests of DIAT / DIAT-A (issue 17): networks, losses against hand computations and autograd, variants, training
resume, failure paths and the shipped weights' hashes."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import facekit.losses as L
from facekit.methods import diat as M
from facekit.nn import AttributeDiscriminator, Denoiser, FeatureExtractor, LocalEnhancer, SynthFaceNet, TransformNet
from facekit.nn.diat import transform_images


# -- networks -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [64, 128])
def test_transform_net_table1_shapes(size):
    T = TransformNet()
    rows = dict(TransformNet.activation_sizes(size))
    acts = {}
    hooks = [getattr(T, n).register_forward_hook(lambda m, i, o, n=n: acts.__setitem__(n, tuple(o.shape[1:])))
             for n in ("conv1", "conv2", "conv3", "deconv1", "deconv2", "deconv3")]
    y = T(torch.rand(1, 3, size, size)).detach()
    for h in hooks:
        h.remove()
    assert y.shape == (1, 3, size, size) and float(y.min()) >= 0 and float(y.max()) <= 1
    for name, shape in acts.items():
        assert shape == rows[name], name
    if size == 128:  # Table 1 as printed
        assert rows["conv3"] == (128, 32, 32) and rows["deconv1"] == (64, 64, 64)
        assert rows["deconv2"] == (32, 127, 127) and rows["deconv3"] == (3, 128, 128)


@pytest.mark.parametrize("size", [64, 128])
def test_discriminator_table2_shapes(size):
    D = AttributeDiscriminator(image_size=size)
    x = torch.rand(2, 3, size, size)
    feats = D.features(x, [1, 2, 3, 4, 5, 6])
    s = size
    assert [tuple(f.shape[1:]) for f in feats.values()] == [
        (32, s // 2, s // 2), (32, s // 2, s // 2), (64, s // 4, s // 4), (64, s // 4, s // 4),
        (128, s // 8, s // 8), (128, s // 16, s // 16)]
    assert D(x).shape == (2,)
    assert D.fc1.out_features == 1000 and D.fc2.out_features == 1
    if size == 128:
        assert D.fc1.in_features == 128 * 8 * 8


def test_network_failure_paths():
    with pytest.raises(ValueError, match="divisible by 4"):
        TransformNet()(torch.rand(1, 3, 62, 62))
    with pytest.raises(ValueError, match="multiple of 16"):
        AttributeDiscriminator(image_size=60)
    with pytest.raises(ValueError, match=r"\(B, 3, 64, 64\)"):
        AttributeDiscriminator(image_size=64)(torch.rand(1, 3, 128, 128))
    with pytest.raises(ValueError, match="1-based"):
        AttributeDiscriminator(image_size=64).features(torch.rand(1, 3, 64, 64), [7])
    with pytest.raises(ValueError, match="norm"):
        TransformNet(norm="group")
    with pytest.raises(ValueError, match="same shape"):
        LocalEnhancer()(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 16, 16))


def test_denoiser_starts_as_identity_and_enhancer_range():
    x = torch.rand(2, 3, 16, 16)
    torch.testing.assert_close(Denoiser()(x), x)
    e = LocalEnhancer()(x, x).detach()
    assert e.shape == x.shape and float(e.min()) >= 0 and float(e.max()) <= 1


def test_transform_images_bf16_channels_last_close_to_fp32():
    torch.manual_seed(0)
    T = TransformNet().eval()
    x = torch.rand(3, 3, 32, 32)
    ref = transform_images(T, x)
    cl = transform_images(T, x, channels_last=True)
    torch.testing.assert_close(cl, ref, atol=1e-5, rtol=1e-4)
    bf = transform_images(T, x, precision="bf16", channels_last=True)
    assert bf.dtype == torch.float32 and float((bf - ref).abs().max()) < 0.05
    with pytest.raises(ValueError, match="precision"):
        transform_images(T, x, precision="fp8")


# -- losses -------------------------------------------------------------------------------------------------------
def test_eq3_minimax_non_saturating_and_the_typo():
    z = torch.tensor([-3.0, -0.5, 0.0, 2.0])
    d = torch.sigmoid(z)
    torch.testing.assert_close(L.diat_transform_loss(z, "minimax"), torch.log(1 - d).mean())
    torch.testing.assert_close(L.diat_transform_loss(z, "non_saturating"), (-torch.log(d)).mean())
    torch.testing.assert_close(L.diat_transform_loss(z, "as_printed"), (1 - torch.log(d)).mean())
    # for T, the printed "1 - log D(T(x))" is the non-saturating loss plus 1: the same gradient
    za = z.clone().requires_grad_(True)
    zb = z.clone().requires_grad_(True)
    L.diat_transform_loss(za, "as_printed").backward()
    L.diat_transform_loss(zb, "non_saturating").backward()
    torch.testing.assert_close(za.grad, zb.grad)
    # minimax saturates: where D confidently rejects T(x) (z = -3) its gradient is ~sigma(-3), non-saturating ~1
    zm = z.clone().requires_grad_(True)
    L.diat_transform_loss(zm, "minimax").backward()
    assert abs(float(zm.grad[0])) < 0.3 * abs(float(zb.grad[0]))
    # D: -(log D(a) + log(1 - D(T(x))))
    real = torch.tensor([1.0, 2.0])
    torch.testing.assert_close(L.diat_discriminator_loss(real, z),
                               -(torch.log(torch.sigmoid(real)).mean() + torch.log(1 - d).mean()))
    # as printed, D's objective is unbounded: pushing D(T(x)) -> 0 lowers D's loss without limit
    lows = [float(L.diat_discriminator_loss(real, torch.tensor([-v]), "as_printed")) for v in (5.0, 50.0, 500.0)]
    assert lows[0] > lows[1] > lows[2] and lows[2] < -400
    with pytest.raises(ValueError, match="form"):
        L.diat_transform_loss(z, "wgan")
    with pytest.raises(ValueError, match="logits"):
        L.diat_transform_loss(torch.zeros(2, 3))


def test_eq9_least_squares_classifier():
    z = torch.tensor([0.0, 1.0, -2.0])
    y = torch.tensor([1.0, -1.0, 0.0])
    expect = (torch.tensor([1.0, 0.0, 0.0]) - torch.sigmoid(z)).pow(2)
    torch.testing.assert_close(L.attribute_classifier_loss(z, y, reduction="none"), expect)
    torch.testing.assert_close(L.attribute_classifier_loss(z, y, reduction="sum"), expect.sum())
    with pytest.raises(ValueError, match="labels"):
        L.attribute_classifier_loss(z, torch.tensor([2.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match="one value per logit"):
        L.attribute_classifier_loss(z, torch.tensor([1.0]))


def test_eq8_eq11_squared_error_and_blur():
    a, b = torch.rand(2, 3, 5, 5), torch.rand(2, 3, 5, 5)
    torch.testing.assert_close(L.squared_error(a, b, reduction="none"), ((a - b) ** 2).flatten(1).sum(1))
    m = torch.zeros(2, 1, 5, 5)
    m[..., :2, :] = 1
    torch.testing.assert_close(L.squared_error(a, b, mask=m, reduction="sum"), ((a - b)[..., :2, :] ** 2).sum())
    x = torch.rand(1, 3, 20, 20)
    y = L.gaussian_blur(x, 1.8)
    assert y.shape == x.shape and float(y.std()) < float(x.std())
    with pytest.raises(ValueError, match="same shape"):
        L.squared_error(a, b[:1])
    with pytest.raises(ValueError, match="sigma"):
        L.gaussian_blur(x, 0)


def test_eq5_eq6_regulariser_against_hand_computation():
    torch.manual_seed(0)
    f = Denoiser()
    torch.nn.init.normal_(f.conv2.weight, std=0.1)
    x, gx = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    expect = ((f(gx) - x) ** 2).flatten(1).sum(1) + ((f(x) - x) ** 2).flatten(1).sum(1)
    torch.testing.assert_close(L.denoiser_loss(f, gx, x, reduction="none"), expect)
    y = torch.rand(2, 3, 8, 8, requires_grad=True)
    loss = L.smooth_loss(f, y)
    torch.testing.assert_close(loss, ((f(y) - y) ** 2).flatten(1).sum(1).mean())
    loss.backward()
    assert y.grad is not None and float(y.grad.abs().sum()) > 0


def test_eq2_identity_layers_are_relu2_2_and_relu3_1():
    net = SynthFaceNet(num_classes=4)
    assert [net.resolve_layer(k) for k in L.DIAT_IDENTITY_LAYERS] == ["relu2_2", "relu3_1"]
    assert [net.resolve_layer(k) for k in L.DIAT_ENHANCE_LAYERS] == ["relu1_1", "relu1_2", "relu2_1"]
    x, y = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64)
    loss = L.PerceptualLoss(net, layers=L.DIAT_IDENTITY_LAYERS)(y, x)
    fy, fx = net.extract(y, ["relu2_2", "relu3_1"]), net.extract(x, ["relu2_2", "relu3_1"])
    expect = sum(((fy[k] - fx[k]) ** 2).flatten(1).sum(1) / (2 * fy[k][0].numel()) for k in fy).mean()
    torch.testing.assert_close(loss, expect)


def test_eq12_13_adaptive_identity_loss_and_gradient():
    torch.manual_seed(0)
    D = AttributeDiscriminator(image_size=64).requires_grad_(False)
    x = torch.rand(2, 3, 64, 64)
    y = torch.rand(2, 3, 64, 64, requires_grad=True)
    loss = L.adaptive_identity_loss(D, y, x, {4: 0.5, 5: 2.0}, reduction="none")
    fy, fx = D.features(y, [4, 5]), D.features(x, [4, 5])
    expect = sum(w * ((fy[l] - fx[l]) ** 2).flatten(1).sum(1) / (2 * fy[l][0].numel())
                 for l, w in ((4, 0.5), (5, 2.0)))
    torch.testing.assert_close(loss, expect)
    loss.sum().backward()
    assert float(y.grad.abs().sum()) > 0
    assert all(p.grad is None for p in D.parameters())  # D frozen: only the transformed image gets a gradient
    with pytest.raises(TypeError, match="features"):
        L.adaptive_identity_loss(torch.nn.Identity(), y, x)
    with pytest.raises(ValueError, match="same shape"):
        L.adaptive_identity_loss(D, y, x[:1])


def test_eq10_local_enhancement_loss():
    torch.manual_seed(0)
    net = SynthFaceNet(num_classes=4)
    ext = FeatureExtractor(net, [1, 2, 3])
    x, t, e = torch.rand(3, 2, 3, 32, 32).unbind(0)
    m = torch.zeros(2, 1, 32, 32)
    m[..., 8:20, 8:24] = 1
    got = L.local_enhancement_loss(e, x, t, m, ext, reduction="none")
    out = (((1 - m) * (e - x)) ** 2).flatten(1).sum(1)
    fe, ft = ext(m * e), ext(m * t)
    inside = sum(b * ((fe[k] - ft[k]) ** 2).flatten(1).sum(1) / (2 * fe[k][0].numel())
                 for k, b in zip(ext.layers, (0.1, 0.5, 1.0)))
    torch.testing.assert_close(got, out + inside)
    # outside the mask the enhanced image must equal the input; inside it follows T(x) in features
    assert float(L.local_enhancement_loss(blend := m * t + (1 - m) * x, x, t, m, ext)) < 1e-6
    with pytest.raises(ValueError, match="three layers"):
        L.local_enhancement_loss(e, x, t, m, FeatureExtractor(net, [1]))


# -- variants and method ------------------------------------------------------------------------------------------
def test_variants_are_the_papers_settings():
    v = M.VARIANTS
    assert set(v) >= {"DIAT-A", "DIAT-A0", "DIAT1", "DIAT2", "DIAT3"}
    assert (v["DIAT-A"].identity, v["DIAT-A"].gamma_smooth, v["DIAT-A"].lr, v["DIAT-A"].enhance) == \
        ("discriminator", 0.0, 1e-5, True)
    assert v["DIAT-A0"].enhance is False and v["DIAT-A0"].transform_key == "DIAT-A"
    assert v["DIAT1"].identity == "none" and v["DIAT1"].lambda_id == 0.0
    assert (v["DIAT2"].identity, v["DIAT2"].gamma_smooth, v["DIAT2"].enhance) == ("face", 0.0, False)
    assert (v["DIAT3"].lambda_id, v["DIAT3"].gamma_smooth, v["DIAT3"].lr) == (0.1, 0.001, 1e-4)
    assert M.DIATConfig.variant("DIAT-A", gan_form="non_saturating").gan_form == "non_saturating"
    with pytest.raises(KeyError, match="variants"):
        M.DIATConfig.variant("DIAT4")
    with pytest.raises(ValueError, match="identity"):
        M.DIATConfig(identity="vgg")
    assert [t for t, task in M.TASKS.items() if task.local] == ["mouth_open", "mouth_close", "eyeglasses_remove"]
    with pytest.raises(KeyError, match="tasks"):
        M.synth_test_data("hat_remove", 2)


@pytest.fixture(scope="module")
def tiny_data():
    return M.synth_task_data("eyeglasses_remove", n_inputs=8, n_guided=8, size=32)


def test_task_data_and_test_counterfactuals(tiny_data):
    ia = M.TASKS["eyeglasses_remove"]
    assert tiny_data.inputs.dtype == torch.uint8 and tiny_data.inputs.shape == (8, 3, 32, 32)
    test = M.synth_test_data(ia, 4, size=32)
    assert test.masks.shape == (4, 1, 32, 32) and 0 < float(test.masks.mean()) < 1
    copy = M.score_task(test.sources, test)  # the copy-the-input baseline: equal to itself, so it does not beat itself
    assert copy["l1_inside_mask"] == pytest.approx(copy["copy_l1_inside_mask"]) and copy["beats_copy"] is False
    assert copy["identity_kept"] == 1.0
    cf = M.score_task(test.counterfactuals, test)  # the truth beats it
    assert cf["beats_copy"] is True and cf["l1_counterfactual"] == 0.0


def test_tiny_training_resumes_exactly(tiny_data, tmp_path):
    def run(steps, ck):
        torch.manual_seed(0)
        T, D = TransformNet(widths=(4, 8, 8), n_residual=1), AttributeDiscriminator(image_size=32, hidden=8)
        cfg = M.DIATConfig.variant("DIAT-A", batch_size=2, gan_form="non_saturating")
        return M.train_transform(tiny_data, cfg, steps=steps, T=T, D=D, checkpoint_dir=ck, checkpoint_every=2,
                                 device="cpu", progress=False)

    T_full, D_full, h_full = run(4, tmp_path / "a")
    run(2, tmp_path / "b")  # stopped after 2 steps ...
    T_res, D_res, h_res = run(4, tmp_path / "b")  # ... and resumed from its checkpoint
    for a, b in zip(list(T_full.state_dict().values()) + list(D_full.state_dict().values()),
                    list(T_res.state_dict().values()) + list(D_res.state_dict().values())):
        assert torch.equal(a, b)
    assert h_full.terms["gan"] == h_res.terms["gan"] and set(h_full.terms) >= {"d_loss", "gan", "id"}


def test_train_transform_failure_paths(tiny_data):
    T, D = TransformNet(widths=(4, 8, 8), n_residual=0), AttributeDiscriminator(image_size=32, hidden=8)
    with pytest.raises(ValueError, match="face_net"):
        M.train_transform(tiny_data, M.DIATConfig.variant("DIAT2"), steps=1, T=T, D=D, progress=False)
    with pytest.raises(ValueError, match="denoiser"):
        M.train_transform(tiny_data, M.DIATConfig.variant("DIAT3"), steps=1, T=T, D=D,
                          face_net=SynthFaceNet(num_classes=2), progress=False)


def test_nan_stops_training(tiny_data, tmp_path):
    from facekit.train import TrainingDiverged

    T, D = TransformNet(widths=(4, 8, 8), n_residual=0), AttributeDiscriminator(image_size=32, hidden=8)
    with torch.no_grad():
        D.fc2.bias.fill_(float("nan"))
    with pytest.raises(TrainingDiverged, match="d_loss"):
        M.train_transform(tiny_data, M.DIATConfig.variant("DIAT1", batch_size=2), steps=2, T=T, D=D,
                          checkpoint_dir=tmp_path, progress=False)
    assert not list(tmp_path.glob("step_*.pt"))  # nothing non-finite was saved


def test_edit_checks_the_enhancer_kind():
    T = TransformNet(widths=(4, 8, 8), n_residual=0)
    x = torch.rand(2, 3, 32, 32)
    assert M.edit(x, T, "mouth_open").shape == x.shape
    assert M.edit(x, T, "mouth_open", LocalEnhancer(width=4)).shape == x.shape
    assert M.edit(x, T, "male_to_female", TransformNet(widths=(4, 8, 8), n_residual=0)).shape == x.shape
    with pytest.raises(TypeError, match="LocalEnhancer"):
        M.edit(x, T, "mouth_open", TransformNet(widths=(4, 8, 8), n_residual=0))


# -- shipped weights ----------------------------------------------------------------------------------------------
def test_shipped_weights_are_registered_and_hash_checked():
    from facekit import hub

    for name, cls in M.SHIPPED.items():
        entry = hub.REGISTRY[name]
        assert entry.loader.endswith(":" + cls) and entry.sha256 and len(entry.sha256) == 64
        file = hub.find(name)
        assert hub.sha256sum(file) == entry.sha256, name
    net = M.load_pretrained("diat_a_mouth_open")
    assert isinstance(net, TransformNet) and not net.training
    assert net.meta["task"] == "mouth_open" and net.config["output"] == "residual"
    y = M.edit(torch.rand(1, 3, 64, 64), net, "mouth_open", masks=torch.ones(1, 1, 64, 64))
    with pytest.raises(ValueError, match="64 px"):  # the shipped networks refuse other sizes
        M.edit(torch.rand(1, 3, 128, 128), net, "mouth_open", masks=torch.ones(1, 1, 128, 128))
    with pytest.raises(ValueError, match="mouth_open"):  # ... and other tasks
        M.edit(torch.rand(1, 3, 64, 64), net, "mouth_close", masks=torch.ones(1, 1, 64, 64))
    assert y.shape == (1, 3, 64, 64) and math.isfinite(float(y.sum()))
    with pytest.raises(KeyError, match="shipped"):
        M.load_pretrained("diat_a_hat")


def test_celeba_task_data_central_crop(tmp_path):
    from test_data_real import make_celeba  # the miniature CelebA of the loader tests

    root = make_celeba(tmp_path / "celeba")
    data = M.celeba_task_data("eyeglasses_remove", root, size=32)
    # train split: images 1, 2 and 5; only image 1 wears glasses (the fixture's pattern) -> 1 input, 2 guided
    assert data.inputs.shape == (1, 3, 32, 32) and data.guided.shape == (2, 3, 32, 32)
    assert data.inputs.dtype == torch.uint8 and data.input_landmarks is None


def test_periodic_scores_and_samples_do_not_change_training(tiny_data, tmp_path):
    test = M.synth_test_data("eyeglasses_remove", 2, size=32)

    def run(eval_fn):
        torch.manual_seed(0)
        T, D = TransformNet(widths=(4, 8, 8), n_residual=0), AttributeDiscriminator(image_size=32, hidden=8)
        return M.train_transform(tiny_data, M.DIATConfig.variant("DIAT1", batch_size=2), steps=2, T=T, D=D,
                                 eval_fn=eval_fn, eval_every=1 if eval_fn else None, progress=False)

    T_a, _, h = run(M.progress_eval(test, n=2, sample_dir=tmp_path))
    T_b, _, _ = run(None)
    assert [e["step"] for e in h.evals] == [1, 2] and {"attribute_success", "l1_inside_mask"} <= set(h.evals[0])
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["sample_000001.png", "sample_000002.png"]
    assert all(torch.equal(a, b) for a, b in zip(T_a.state_dict().values(), T_b.state_dict().values()))
