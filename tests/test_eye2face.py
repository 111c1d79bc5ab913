"""Tests of *From an Eye to a Face*: facekit.nn.eye2face, the eye-to-face losses and facekit.methods.eye2face."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from facekit.data.haar import eye_face_crops
from facekit.data.pairs import eye_face_pairs
from facekit.losses import (
    INPUT_LAYER,
    BalancedFeatureLoss,
    balanced_feature_loss,
    extract_feature_loss_layers,
    feature_loss_layers,
    gradient_penalty,
    layer_l1,
    normalized_feature_loss,
    triangular_layer_weights,
    wgan_critic_loss,
    wgan_generator_loss,
)
from facekit.methods import eye2face as e2f
from facekit.nn import VGG19, EyeFaceCritic, EyeToFace, SynthFaceNet
from facekit.nn.eye2face import count_parameters


def tiny_generator() -> EyeToFace:
    return EyeToFace(encoder_channels=(4, 8), decoder_channels=(8, 4, 4, 4), eye_size=16, face_size=64)


# -- triangular layer weights (section IV, chart 5) -------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 2, 3, 5, 19, 22, 40])
def test_triangular_weights_sum_to_one_and_peak_at_focus(n):
    for f in range(n):
        w = triangular_layer_weights(n, f)
        assert w.shape == (n,)
        assert float(w.sum()) == pytest.approx(1.0, abs=1e-12), (n, f)
        assert (w >= 0).all()
        assert int(w.argmax()) == f
        if n > 1:
            assert int((w == w.max()).sum()) == 1  # a single peak
            assert float(w[f]) == pytest.approx(2.0 / n)  # x = 2 / n


def test_triangular_weights_paper_setting_and_shape():
    w = triangular_layer_weights(22, 10)
    assert float(w[0]) == 0.0  # x i / f at i = 0
    rise, fall = torch.diff(w[:11]), torch.diff(w[10:])
    assert torch.allclose(rise, rise[0].expand_as(rise)) and float(rise[0]) > 0  # linear rise to f
    assert torch.allclose(fall, fall[0].expand_as(fall)) and float(fall[0]) < 0  # linear fall after f
    printed = triangular_layer_weights(22, 10, as_printed=True)
    assert float(printed.sum()) == pytest.approx(1.05)  # the printed formula does not sum to 1
    assert torch.allclose(printed[11:], printed[11].expand(11))  # ... and does not fall


@pytest.mark.parametrize("n, f", [(22, 22), (22, -1), (5, 2.5), (0, 0), (22, True)])
def test_triangular_weights_bad_arguments(n, f):
    with pytest.raises(ValueError):
        triangular_layer_weights(n, f)


# -- feature losses -----------------------------------------------------------------------------------------------
def test_feature_loss_layers_are_keras_vgg19_layers():
    layers = feature_loss_layers(VGG19(include_top=False))
    assert len(layers) == 22 and layers[0] == INPUT_LAYER and layers[10] == "relu3_4" and layers[-1] == "pool5"
    assert len(feature_loss_layers(SynthFaceNet(num_classes=0))) == 19


def test_normalized_loss_matches_hand_computation():
    torch.manual_seed(0)
    net = SynthFaceNet(num_classes=0).eval()
    layers = ["input", "relu1_1", "pool2"]
    y, y_pred = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    fa, fb = extract_feature_loss_layers(net, y_pred, layers), extract_feature_loss_layers(net, y, layers)
    assert torch.allclose(fa["input"], y_pred * 2 - 1)  # the input layer is the preprocessed image
    hand = 0.0
    for name in layers:
        a, b = fa[name].detach().numpy(), fb[name].detach().numpy()
        c, h, w = a.shape[1:]
        hand += np.mean([np.abs(a[i] - b[i]).sum() / (c * h * w) for i in range(2)])
    assert float(normalized_feature_loss(fa, fb).detach()) == pytest.approx(hand, rel=1e-5)
    per = layer_l1(fa, fb, reduction="none")
    assert per["pool2"].shape == (2,)


def test_balanced_loss_is_one_per_layer_at_the_initial_generator():
    torch.manual_seed(0)
    net = SynthFaceNet(num_classes=0)
    loss_fn = BalancedFeatureLoss(net)
    assert len(loss_fn.layers) == 19 and loss_fn.focus == 9
    g = tiny_generator().eval()
    eyes, faces = torch.rand(4, 3, 16, 16), torch.rand(4, 3, 64, 64)
    with torch.no_grad():
        pred = g(eyes)
    with pytest.raises(RuntimeError, match="calibrate"):
        loss_fn(pred, faces)
    initial = loss_fn.calibrate(pred, faces)
    per = loss_fn.per_layer(pred, faces)
    for name in loss_fn.layers:
        assert per[name] / initial[name] == pytest.approx(1.0, rel=1e-5)  # every layer starts at 1
    assert float(loss_fn(pred, faces)) == pytest.approx(1.0, rel=1e-5)  # weighted sum = sum of lambda_i = 1
    # the same from the functional form, and a loss that moves when the output moves
    feats = {k: v.detach() for k, v in loss_fn.features(pred).items()}
    tgt = loss_fn.target_features(faces)
    assert float(balanced_feature_loss(feats, tgt, initial, loss_fn.weights)) == pytest.approx(1.0, rel=1e-5)
    assert float(loss_fn(faces, faces)) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError):
        balanced_feature_loss(feats, tgt, {k: 0.0 for k in initial})


def test_balanced_loss_trains_the_generator_not_the_loss_network():
    net = SynthFaceNet(num_classes=0)
    loss_fn = BalancedFeatureLoss(net).train()
    assert not net.training and not any(p.requires_grad for p in net.parameters())
    g = tiny_generator()
    eyes, faces = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 64, 64)
    loss_fn.calibrate(g(eyes).detach(), faces)
    loss_fn(g(eyes), faces).backward()
    assert all(p.grad is not None for p in g.parameters())


# -- WGAN-GP -------------------------------------------------------------------------------------------------------
def test_gradient_penalty_matches_autograd_on_a_tiny_critic():
    torch.manual_seed(0)
    critic = EyeFaceCritic(channels=(4, 4), face_size=8)
    real, fake, eye = torch.rand(3, 3, 8, 8), torch.rand(3, 3, 8, 8), torch.rand(3, 3, 4, 4)
    gp = gradient_penalty(critic, real, fake, eye, generator=torch.Generator().manual_seed(7))
    eps = torch.rand(3, 1, 1, 1, generator=torch.Generator().manual_seed(7))
    expected = 0.0
    for i in range(3):  # one sample at a time, with autograd
        x = (eps[i] * real[i:i + 1] + (1 - eps[i]) * fake[i:i + 1]).requires_grad_(True)
        (g,) = torch.autograd.grad(critic(x, eye[i:i + 1]).sum(), x)
        expected += (g.norm() - 1).item() ** 2 / 3
    assert float(gp.detach()) == pytest.approx(expected, rel=1e-5)
    gp.backward()  # create_graph=True: the penalty trains the critic
    assert critic.score.weight.grad is not None and critic.score.weight.grad.abs().sum() > 0
    assert float(wgan_critic_loss(torch.tensor([1.0, 3.0]), torch.tensor([0.0]))) == -2.0
    assert float(wgan_generator_loss(torch.tensor([1.0, 3.0]))) == -2.0


def test_gradient_penalty_of_a_linear_critic():
    critic = lambda x: 0.5 * x.flatten(1).sum(1)  # noqa: E731 -- |grad| = 0.5 * sqrt(16) = 2
    assert float(gradient_penalty(critic, torch.zeros(4, 16), torch.ones(4, 16))) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        gradient_penalty(critic, torch.zeros(4, 16), torch.ones(3, 16))


# -- the autoencoder ----------------------------------------------------------------------------------------------
def test_autoencoder_shapes_range_and_parameter_count():
    g = EyeToFace()
    assert count_parameters(g) == 1_315_155
    assert g.latent_shape == (128, 2, 2)
    out = g(torch.rand(2, 3, 32, 32) * 2 - 0.5).detach()  # even out-of-range inputs (an overshoot) give pixels in [0, 1]
    assert out.shape == (2, 3, 128, 128)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    assert len(g.encoder[0]) == 3 and all(len(b) == 6 for b in list(g.encoder)[1:])  # 1 group, then 2 groups
    assert isinstance(g.decoder[0][0], torch.nn.ConvTranspose2d)
    with pytest.raises(ValueError, match="32x32"):
        g(torch.rand(1, 3, 64, 64))
    with pytest.raises(ValueError, match="decoder"):
        EyeToFace(decoder_channels=(8, 8))
    assert EyeToFace(**g.config).config == g.config


def test_critic_scores_pairs():
    critic = EyeFaceCritic()
    assert critic(torch.rand(2, 3, 128, 128), torch.rand(2, 3, 32, 32)).shape == (2,)
    with pytest.raises(ValueError):
        critic(torch.rand(2, 3, 64, 64), torch.rand(2, 3, 32, 32))


# -- section III: the Haar pipeline --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def synth_pairs():
    return e2f.synth_eye_face_pairs("test", 12, poses=[0.0, 15.0])


def test_haar_pipeline_on_synthfaces(synth_pairs):
    pairs, info = synth_pairs
    assert pairs.n_images == 12 and 0 < e2f.pipeline_yield(pairs) <= 1
    assert len(pairs) == 2 * pairs.n_kept  # two pairs per kept image
    assert pairs.eyes.shape[1:] == (3, 32, 32) and pairs.faces.shape[1:] == (3, 128, 128)
    assert float(pairs.faces.min()) >= 0 and float(pairs.faces.max()) <= 1
    assert torch.equal(pairs.faces[0], pairs.faces[1])  # the two eyes of one image share the face
    assert info.identity.shape == info.yaw.shape == info.skin.shape == (len(pairs),)
    assert info.attributes.shape == (len(pairs), 28)


def test_haar_pipeline_rejects_an_image_without_a_face():
    blank = np.full((128, 128, 3), 128, np.uint8)
    assert eye_face_crops(blank) is None
    pairs = eye_face_pairs([blank])
    assert len(pairs) == 0 and pairs.n_images == 1 and e2f.pipeline_yield(pairs) == 0.0
    with pytest.raises(ValueError, match="no eye -> face pairs"):
        e2f.pairs_data(pairs)


# -- training and scoring ------------------------------------------------------------------------------------------
def test_training_runs_through_the_trainer(synth_pairs):
    pairs, _ = synth_pairs
    g, history, trainer = e2f.train_generator(pairs, "l1", steps=2, batch_size=4, device="cpu", progress=False)
    assert trainer.step == 2 and all(math.isfinite(v) for v in history.terms["loss"])
    g, d, history = e2f.train_wgan_gp(pairs, steps=1, batch_size=4, n_critic=2, device="cpu", progress=False)
    assert set(history.terms) >= {"wasserstein", "gp", "generator", "critic"}
    with pytest.raises(ValueError):
        e2f.make_loss("l2")


def test_std_loss_by_hand_gradient_and_in_training(synth_pairs):
    """Section IV's 'standard deviation loss' (no formula in the paper): the reading of facekit.losses.std_loss."""
    from facekit.losses import StdLoss, std_loss

    rng = np.random.default_rng(0)
    y, p = rng.random((3, 3, 8, 8)), rng.random((3, 3, 8, 8))
    want = np.abs(p.reshape(3, 3, -1).std(2) - y.reshape(3, 3, -1).std(2)).mean(1)  # per image, channels averaged
    got = std_loss(torch.from_numpy(p), torch.from_numpy(y), reduction="none")
    assert np.allclose(got.numpy(), want)
    batch_want = np.abs(p.std(0) - y.std(0)).mean()
    assert float(std_loss(torch.from_numpy(p), torch.from_numpy(y), over="batch")) == pytest.approx(batch_want)
    x = torch.from_numpy(p).requires_grad_()
    assert torch.autograd.gradcheck(lambda t: std_loss(t, torch.from_numpy(y)), (x,))
    assert torch.autograd.gradcheck(lambda t: std_loss(t, torch.from_numpy(y), over="batch"), (x,))
    blurred = torch.nn.functional.avg_pool2d(torch.from_numpy(y), 3, 1, 1)
    assert float(std_loss(blurred, torch.from_numpy(y))) > 0.05  # a blurred face has less spread
    with pytest.raises(ValueError, match="over must be"):
        StdLoss(over="pixels")
    with pytest.raises(ValueError, match="one value for the whole batch"):
        std_loss(x, x, over="batch", reduction="none")
    pairs, _ = synth_pairs
    _, history, _ = e2f.train_generator(pairs, "l1", steps=2, batch_size=4, device="cpu", progress=False,
                                        std_weight=0.5)
    assert len(history.terms["std"]) == 2 and all(math.isfinite(v) for v in history.terms["std"])
    with pytest.raises(ValueError, match="std_weight"):
        e2f.train_generator(pairs, "l1", steps=1, batch_size=4, device="cpu", progress=False, std_weight=-1)


def test_shipped_checkpoint_beats_the_untrained_network(synth_pairs, tmp_path):
    pairs, _ = synth_pairs
    g = e2f.load_pretrained()
    assert isinstance(g, EyeToFace) and not g.training
    torch.manual_seed(0)
    untrained = EyeToFace()
    trained_l1 = float((e2f.generate(g, pairs.eyes) - pairs.faces).abs().mean())
    untrained_l1 = float((e2f.generate(untrained, pairs.eyes) - pairs.faces).abs().mean())
    assert trained_l1 < 0.8 * untrained_l1
    # save / load round trip (float16 storage)
    path = e2f.save_pretrained(g, tmp_path / "g.pt", meta={"note": "test"})
    again = e2f.load_pretrained(path)
    assert again.meta == {"note": "test"}
    assert torch.allclose(e2f.generate(again, pairs.eyes[:2]), e2f.generate(g, pairs.eyes[:2]), atol=1e-2)
    with pytest.raises(FileNotFoundError, match="train_eye2face"):
        e2f.load_pretrained(tmp_path / "missing.pt")


class _FakeRealJudge:
    """A stand-in for DlibIdentity: 'finds a face' in images whose mean is above 0.5, same person when close."""

    score_name = "dlib_distance"
    threshold = 0.1

    def face_confidence(self, images):
        m = images.flatten(1).mean(1).double()
        return torch.where(m > 0.5, m, torch.full_like(m, float("nan")))

    def identity_score(self, a, b):
        d = (a - b).flatten(1).abs().mean(1).double()
        return torch.where(torch.isnan(self.face_confidence(a) + self.face_confidence(b)), float("nan"), d)

    def same_identity(self, a, b):
        return self.identity_score(a, b) < 0.1  # nan (no face) is never the same person

    def embed(self, images):
        """2-D 'descriptors' (nan without a face) whose distance is the difference of the means."""
        m = images.flatten(1).mean(1).double()
        e = torch.stack([m, m], 1) / 2 ** 0.5
        return torch.where(torch.isnan(self.face_confidence(images))[:, None], float("nan"), e)


def test_score_faces_on_real_data_reports_faces_found_and_no_attributes():
    true = torch.full((4, 3, 16, 16), 0.8)
    gen = true.clone()
    gen[0] = 0.1  # no face found there: not kept
    gen[1] = 0.75  # close: kept
    row = e2f.score_faces(gen, true, oracle=_FakeRealJudge(), data="celeba")
    assert row["face_found"] == pytest.approx(0.75) and row["true_face_found"] == 1.0
    assert row["identity_kept"] == pytest.approx(0.75)
    assert math.isnan(row["attributes_kept"])
    assert row["psnr"] > 0 and row["l1"] > 0


def test_identity_check_with_a_distance_judge_describes_each_face_once():
    judge = _FakeRealJudge()
    calls = []
    embed = judge.embed
    judge.embed = lambda x: calls.append(len(x)) or embed(x)
    true = torch.stack([torch.full((3, 8, 8), v) for v in (0.55, 0.7, 0.85, 0.99)])
    gen = true + 0.02
    gen[0] = 0.1  # no face found: not the same person
    out = e2f.identity_check(gen, true, torch.tensor([0, 1, 2, 3]), oracle=judge, shift=1, data="celeba")
    assert len(calls) == 2  # generated and true, once each
    assert out["same_person"] == pytest.approx(0.75)
    assert out["true_vs_other"] == 0.0 and out["other_person"] == 0.0  # neighbours differ by more than 0.1


def test_int8_generator_round_trip_and_its_output_error(synth_pairs, tmp_path):
    pairs, _ = synth_pairs
    g = e2f.load_pretrained()
    f16 = e2f.save_pretrained(g, tmp_path / "f16.pt")
    q8 = e2f.save_pretrained(g, tmp_path / "q8.pt", quantize="int8", meta={"note": "int8"})
    assert q8.stat().st_size < 0.6 * f16.stat().st_size
    again = e2f.load_pretrained(q8)
    assert again.meta == {"note": "int8"} and not again.training
    a, b = e2f.generate(e2f.load_pretrained(f16), pairs.eyes), e2f.generate(again, pairs.eyes)
    mse = float(((a - b) ** 2).mean())
    assert 10 * math.log10(1 / max(mse, 1e-20)) > 35  # PSNR of the int8 outputs against the float16 ones


@pytest.mark.parametrize("loss", e2f.COMPARED_LOSSES)
def test_load_pretrained_per_loss(synth_pairs, loss):
    pairs, _ = synth_pairs
    g = e2f.load_pretrained(loss=loss)
    assert isinstance(g, EyeToFace) and not g.training
    assert g.meta["loss"] == loss and g.meta["quantize"] == "int8"
    first = e2f.load_pretrained(loss=e2f.COMPARED_LOSSES[0]).meta
    for key in ("steps", "batch_size", "seed", "train_pairs", "lr"):  # equal budgets, one script
        assert g.meta[key] == first[key], key
    out = e2f.generate(g, pairs.eyes[:4])
    assert out.shape == (4, 3, 128, 128) and torch.isfinite(out).all()
    assert e2f.loss_weights_name(loss) == f"eye2face_{loss}"
    with pytest.raises(ValueError, match="loss must be one of"):
        e2f.load_pretrained(loss="mse")


def test_ffhq_eye_face_pairs_reads_the_thumbnail_layout(tmp_path) -> None:
    """The paper's evaluation set: FFHQ thumbnails through the section III pipeline (renders stand in for photos)."""
    import cv2

    from facekit.data import render
    from facekit.data._common import DatasetNotFoundError

    folder = tmp_path / "ffhq" / "thumbnails128x128" / "00000"
    folder.mkdir(parents=True)
    for k in range(6):
        img = render(k, yaw=0.0, light=0, size=128)["image"]  # (128, 128, 3) uint8, frontal: Haar finds it
        cv2.imwrite(str(folder / f"{k:05d}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    pairs = e2f.ffhq_eye_face_pairs(4, tmp_path / "ffhq")
    assert pairs.n_images == 4 and len(pairs) == 2 * pairs.n_kept and pairs.n_kept >= 1
    assert tuple(pairs.eyes.shape[1:]) == (3, 32, 32) and tuple(pairs.faces.shape[1:]) == (3, 128, 128)
    with pytest.raises(DatasetNotFoundError, match="FFHQ"):
        e2f.ffhq_eye_face_pairs(4, tmp_path / "nowhere")
    with pytest.raises(ValueError, match="n_images"):
        e2f.ffhq_eye_face_pairs(0, tmp_path / "ffhq")
