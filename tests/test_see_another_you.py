"""Tests of *Learning to See another You*: facekit.nn.see_another_you and facekit.methods.see_another_you."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from facekit import hub
from facekit.data._common import DatasetNotFoundError
from facekit.eval import recall_at_k
from facekit.losses import CompletionLoss, GenerationLoss, completion_loss, generation_loss
from facekit.methods import see_another_you as say
from facekit.methods import see_another_you_retrieval as retrieval
from facekit.nn import GenerationNet, RefinementNet, SeeAnotherYou
from facekit.nn.see_another_you import MIDDLE_LAYER, unpool2x2


# -- the networks (sections 3.1, 3.2) ----------------------------------------------------------------------------
@pytest.mark.parametrize("size, channels, kernel", [(32, 1, 3), (60, 3, 5)])
def test_shapes_at_the_paper_and_release_sizes(size, channels, kernel):
    net = SeeAnotherYou(7, size=size, channels=channels, kernel_size=kernel)
    x, code = torch.randn(2, channels, size, size), torch.eye(7)[[1, 5]]
    y1, y2 = net(x, code)
    assert y1.shape == y2.shape == x.shape
    half = size // 2
    assert net.generator.attribute_maps(code).shape == (2, 7, half, half)  # 7 maps of 16x16 (30x30 at 60 px)
    assert net.generator.attribute_encoder[2].out_features == 7 * half * half  # 1792 at 32 px
    assert net.generator.image_encoder(x).shape == (2, 64, half, half)
    mid = net.refiner.features(x, y1)[MIDDLE_LAYER]
    assert mid.shape == (2, 128, half, half)
    assert net.generator.image_encoder[0].kernel_size == (kernel, kernel)


def test_paper_layer_lists():
    g = GenerationNet(7)
    assert [m.out_channels for m in g.fusion if isinstance(m, torch.nn.Conv2d)] == [64, 128, 128, 128, 64]
    assert g.fusion[0].in_channels == 71  # 64 image maps + 7 attribute maps
    assert [type(m).__name__ for m in g.decoder] == ["Unpool2x2", "Conv2d", "ReLU", "Conv2d"]  # linear output
    r = RefinementNet()
    assert [getattr(r, f"conv{i}").out_channels for i in range(1, 9)] == [64, 64, 128, 128, 128, 64, 64, 1]
    assert r.conv1.in_channels == 2  # source and stage-1 output, concatenated


def test_attribute_maps_do_not_depend_on_the_image():
    torch.manual_seed(0)
    g = GenerationNet(7, attribute_maps=1).eval()
    code = torch.eye(7)
    assert g.attribute_maps(code).shape == (7, 1, 16, 16)  # Fig. 4: one map per target pose
    # through the whole network: two different images, the same code -> the same maps enter the fusion
    seen = []
    hook = g.attribute_encoder.register_forward_hook(lambda mod, inp, out: seen.append(out.detach().clone()))
    try:
        a, b = torch.randn(2, 1, 1, 32, 32)
        out_a, out_b = g(a, code[:1]), g(b, code[:1])
    finally:
        hook.remove()
    assert len(seen) == 2 and torch.equal(seen[0], seen[1])
    assert torch.equal(seen[0].view(1, 1, 16, 16), g.attribute_maps(code[:1]))
    assert not torch.allclose(out_a, out_b)  # the images do reach the output: the test could tell them apart
    seen.clear()
    hook = g.attribute_encoder.register_forward_hook(lambda mod, inp, out: seen.append(out.detach().clone()))
    try:
        g(a, code[1:2])
    finally:
        hook.remove()
    assert not torch.equal(seen[0], g.attribute_maps(code[:1]).flatten(1))  # another code, other maps


def test_he_initialisation():
    torch.manual_seed(0)
    g = GenerationNet(7)
    w = g.fusion[2].weight  # Conv 64 -> 128, 3x3: fan-in 576
    assert float(w.detach().std()) == pytest.approx((2 / 576) ** 0.5, rel=0.05)
    assert float(g.fusion[2].bias.detach().abs().max()) == 0.0


def test_unpool_writes_the_top_left_of_a_zero_block():
    x = torch.arange(1.0, 5.0).view(1, 1, 2, 2)
    out = unpool2x2(x)
    expected = torch.tensor([[1, 0, 2, 0], [0, 0, 0, 0], [3, 0, 4, 0], [0, 0, 0, 0]], dtype=torch.float32)
    assert torch.equal(out[0, 0], expected)


def test_network_input_checks():
    g = GenerationNet(7)
    with pytest.raises(ValueError, match=r"\(B, 1, 32, 32\)"):
        g(torch.randn(1, 1, 16, 16), torch.eye(7)[:1])
    with pytest.raises(TypeError, match="floating-point"):
        g(torch.zeros(1, 1, 32, 32, dtype=torch.uint8), torch.eye(7)[:1])
    with pytest.raises(ValueError, match=r"\(1, 7\)"):
        g(torch.randn(1, 1, 32, 32), torch.eye(6)[:1])
    with pytest.raises(TypeError, match="one-hot"):
        g(torch.randn(1, 1, 32, 32), torch.tensor([[0, 1, 0, 0, 0, 0, 0]]))
    with pytest.raises(ValueError, match="multiple of 4"):
        GenerationNet(7, size=30)
    with pytest.raises(ValueError, match="conv1 .. conv8|among"):
        RefinementNet().features(torch.randn(1, 1, 32, 32), torch.randn(1, 1, 32, 32), ["fc6"])


# -- losses (eq. 1, 2; section 4.3) -----------------------------------------------------------------------------
def test_losses_against_a_hand_computation():
    pred = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]], [[[0.0, 0.0], [0.0, 0.0]]]])
    target = torch.tensor([[[[0.0, 2.0], [5.0, 4.0]]], [[[1.0, 1.0], [1.0, 1.0]]]])
    # image 0: squared errors 1, 0, 4, 0 (sum 5), absolute 1, 0, 2, 0 (sum 3); image 1: 4 x 1 (sum 4 and 4)
    assert float(generation_loss(pred, target)) == pytest.approx((5 + 4) / 2)  # eq. (1): the sum per image
    assert float(generation_loss(pred, target, normalized=True)) == pytest.approx((5 / 4 + 1) / 2)
    assert generation_loss(pred, target, reduction="none").tolist() == [5.0, 4.0]
    assert float(generation_loss(pred, target, reduction="sum")) == pytest.approx(9.0)
    assert float(completion_loss(pred, target)) == pytest.approx((3 + 4) / 2)  # section 4.3
    assert float(CompletionLoss(normalized=True)(pred, target)) == pytest.approx((3 / 4 + 1) / 2)
    assert float(GenerationLoss()(pred, target)) == pytest.approx(4.5)
    with pytest.raises(ValueError, match="reduction"):
        generation_loss(pred, target, reduction="image_sum")
    with pytest.raises(ValueError, match="same shape"):
        generation_loss(pred, target[..., :1])
    # the training loss is the per-pixel mean, the equation's sum / (C H W)
    assert float(say._LOSS_OF_TASK["pose"](pred, target, normalized=True)) == pytest.approx(
        float(torch.nn.functional.mse_loss(pred, target)))


def test_mse_255_is_the_per_pixel_error_in_grey_levels():
    a, b = torch.zeros(2, 1, 4, 4), torch.full((2, 1, 4, 4), 10 / 255)
    assert say.mse_255(a, b) == pytest.approx(100.0, rel=1e-5)


# -- standardisation: de-normalised with the SOURCE's statistics ------------------------------------------------
def test_standardize_round_trip():
    x = torch.rand(3, 1, 8, 8)
    z, mean, std = say.standardize(x)
    assert torch.allclose(z.mean((2, 3)), torch.zeros(3, 1), atol=1e-5)
    assert torch.allclose(say.destandardize(z, mean, std), x, atol=1e-5)


def test_targets_are_in_the_source_units_and_outputs_denormalised_by_the_source():
    source, target = torch.rand(2, 1, 8, 8) * 0.5, torch.rand(2, 1, 8, 8) * 0.5 + 0.5
    x, y = say._prepare(source, target, "source")
    _, mean, std = say.standardize(source)
    assert torch.allclose(say.destandardize(y, mean, std), target, atol=1e-5)  # exact inverse with source stats
    _, y_own = say._prepare(source, target, "own")
    assert torch.allclose(y_own, say.standardize(target)[0])  # the release's option

    copy = SeeAnotherYou(7, size=8)  # a "network" that returns its input: edit must give back the source
    copy.generator.forward = lambda x, code: x
    copy.refiner.forward = lambda x, y1: y1
    out = say.edit(copy, source, torch.tensor([0, 1]))
    assert torch.allclose(out["stage2"], source, atol=1e-5)
    assert not torch.allclose(out["stage2"], target, atol=0.1)


def test_edit_input_checks():
    model = SeeAnotherYou(7)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        say.edit(model, torch.full((1, 1, 32, 32), 2.0), torch.tensor([0]))
    with pytest.raises(TypeError, match="uint8"):
        say.edit(model, torch.zeros(1, 1, 32, 32, dtype=torch.int32), torch.tensor([0]))
    with pytest.raises(ValueError, match="0..6"):
        say.edit(model, torch.rand(1, 1, 32, 32), torch.tensor([7]))
    with pytest.raises(ValueError, match="one code per image"):
        say.edit(model, torch.rand(2, 1, 32, 32), torch.tensor([0]))
    with pytest.raises(ValueError, match=r"\(B, 1, 32, 32\)"):
        say.edit(model, torch.rand(1, 1, 16, 16), torch.tensor([0]))


def test_unknown_pose_and_task():
    assert say.pose_code(0) == 3 and say.pose_code(45.0) == 6
    with pytest.raises(ValueError, match="unknown pose 10"):
        say.pose_code(10)
    with pytest.raises(ValueError, match="unknown task"):
        say.task_data("rotate")


# -- the three tasks' data --------------------------------------------------------------------------------------
def test_task_data_protocols():
    pose = say.task_data("pose", identities=[3, 4], lights=[0, 5], size=32)
    assert len(pose) == 2 * 2 * 42 and len(pose.images) == 2 * 2 * 7
    src, tgt, code = pose[0]
    assert src.dtype == torch.uint8 and src.shape == (1, 32, 32) and code.sum() == 1
    lab = pose.labels
    assert torch.equal(lab["identity"][pose.source], lab["identity"][pose.target])  # same person
    assert torch.equal(lab["light"][pose.source], lab["light"][pose.target])  # same light
    assert bool((pose.source_code != pose.target_code).all())  # another pose
    assert torch.equal(lab["code"][pose.target], pose.target_code)
    acc = say.task_data("accessory", identities=[3], size=32)
    assert len(acc) == 42 and acc.code_names[0] == "none" and "glasses:sunglasses" in acc.code_names
    comp = say.task_data("completion", identities=[3], lights=[0], size=32)
    assert len(comp) == 7 and len(comp.images) == 14  # occluded sources are their own images
    assert bool((comp.images[comp.source].float().mean() < comp.images[comp.target].float().mean()))
    train, test = say.task_data("pose", "train", n_identities=20, lights=[0]), \
        say.task_data("pose", "test", n_identities=20, lights=[0])
    assert not set(train.labels["identity"].tolist()) & set(test.labels["identity"].tolist())


def _write(path, image):
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), image)


def test_multipie_path_with_a_fake_directory(tmp_path):
    from facekit.data.multipie import MULTIPIE_POSES_7

    rng = np.random.default_rng(0)
    for subject in (1, 2):
        for cam in MULTIPIE_POSES_7:
            for illum in (0, 7):
                name = f"{subject:03d}_01_01_{cam}_{illum:02d}.png"
                _write(tmp_path / "session01" / "multiview" / f"{subject:03d}" / "01" / f"{cam[:2]}_{cam[2]}" / name,
                       rng.integers(0, 255, (48, 40), dtype=np.uint8))
    _write(tmp_path / "session01" / "other" / "002_01_02_051_00.png", np.zeros((8, 8), np.uint8))  # a smile: skipped
    train = say.multipie_task_data(tmp_path, "train", n_train_subjects=1)
    test = say.multipie_task_data(tmp_path, "test", n_train_subjects=1)
    assert len(train) == len(test) == 2 * 42  # 2 illuminations x P(7, 2)
    assert train.images.shape == (14, 1, 32, 32)
    assert set(train.labels["identity"].tolist()) == {1} and set(test.labels["identity"].tolist()) == {2}
    assert sorted(set(train.labels["light"].tolist())) == [0, 7]
    assert int(train.labels["code"][train.source[0]]) in range(7)
    with pytest.raises(ValueError, match="no test subject"):
        say.multipie_task_data(tmp_path, "test", n_train_subjects=5)


def test_caspeal_path_with_a_fake_directory(tmp_path):
    for subject in (1, 2, 3):
        for a in range(7):
            name = f"MY_{subject:06d}_IEU+00_PM+00_EN_A{a}_D0_T0_BB_M0_R1_S0.tif"
            _write(tmp_path / "FRONTAL" / "Accessory" / name, np.full((48, 36), 20 * a, np.uint8))
    train = say.caspeal_task_data(tmp_path, "train", n_train_subjects=2, n_test_subjects=1)
    test = say.caspeal_task_data(tmp_path, "test", n_train_subjects=2, n_test_subjects=1)
    assert len(train) == 2 * 42 and len(test) == 42
    assert test.code_names[0] == "none" and len(test.code_names) == 7


def test_missing_multipie_root_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="(?s)Multi-PIE.*licensed"):
        say.multipie_task_data(tmp_path / "nowhere")


# -- training: both stages through the Trainer, exact resume -----------------------------------------------------
def _tiny():
    data = say.task_data("pose", identities=[3], lights=[0], size=32)
    torch.manual_seed(0)
    return data, SeeAnotherYou(7, size=32)


def test_training_both_stages_resumes_exactly(tmp_path):
    data, straight = _tiny()
    say.train(straight, data, steps1=4, steps2=4, batch_size=8, device="cpu", progress=False)
    data, resumed = _tiny()
    kw = dict(batch_size=8, device="cpu", progress=False, checkpoint_dir=tmp_path, checkpoint_every=1)
    say.train_stage1(resumed, data, steps=2, **kw)
    data, fresh = _tiny()  # a new process: fresh weights, the checkpoint on disk
    h1 = say.train_stage1(fresh, data, steps=4, **kw)
    h2 = say.train_stage2(fresh, data, steps=4, **kw)
    assert len(h1) == 4 and len(h2) == 4
    for (k, a), b in zip(straight.state_dict().items(), fresh.state_dict().values()):
        assert torch.equal(a, b), k
    assert (tmp_path / "stage1").is_dir() and (tmp_path / "stage2").is_dir()


def test_stage2_leaves_stage1_untouched():
    data, model = _tiny()
    say.train_stage1(model, data, steps=2, batch_size=8, device="cpu", progress=False)
    before = {k: v.clone() for k, v in model.generator.state_dict().items()}
    say.train_stage2(model, data, steps=2, batch_size=8, device="cpu", progress=False)
    assert all(torch.equal(before[k], v) for k, v in model.generator.state_dict().items())
    assert all(p.requires_grad for p in model.generator.parameters())


# -- retrieval (section 4.1.2) -----------------------------------------------------------------------------------
def test_gallery_keeps_the_generation_closest_to_the_original():
    torch.manual_seed(1)
    t = say.standardize(torch.rand(7, 1, 8, 8))[0]
    model = SeeAnotherYou(7, size=8)  # stage 1 outputs template k for code k, whatever the image
    model.generator.forward = lambda x, code: t[code.argmax(1)]  # represent() calls the two stages itself
    model.refiner.features = lambda x, y1, layers: {MIDDLE_LAYER: torch.zeros(len(x), 128, 4, 4), "conv8": y1}
    order = torch.tensor([4, 0, 6, 2])
    images = (t[order] - t.min()) / (t.max() - t.min())  # the templates themselves, as images in [0, 1]
    rep = retrieval.represent(model, images)
    assert torch.equal(rep.code, order)  # each image keeps its own template: the closest "pose"
    assert rep.pixels.shape == (4, 64) and rep.net2.shape == (4, 128 * 2 * 2)


def test_chunked_recall_equals_recall_at_k():
    torch.manual_seed(2)
    q, g = torch.randn(50, 6), torch.randn(30, 6)
    ql, gl = torch.randint(0, 4, (50, 2)), torch.randint(0, 4, (30, 2))
    ex = torch.rand(50, 30) < 0.3
    assert retrieval._recall(q, g, ql, gl, (1, 5), ex, chunk=7) == pytest.approx(recall_at_k(q, g, ql, gl, (1, 5),
                                                                                        exclude=ex))


def test_retrieval_experiment_on_a_toy_gallery():
    data = say.task_data("pose", identities=[3, 4], lights=[0, 9], size=32)
    torch.manual_seed(0)
    model = SeeAnotherYou(7, size=32)

    class PerfectPose(torch.nn.Module):  # the first step: a pose classifier that reads the pose off the feature
        def forward(self, f):
            return torch.nn.functional.one_hot(f[:, 0].long(), 7).float()

    class PoseFeature(torch.nn.Module):  # a "face network" whose feature is the true pose (one call, in order)
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def embedding(self, x):
            return data.labels["code"][: len(x)].float()[:, None]

    res = retrieval.retrieval_experiment(model, data, n_queries=40, pose_classifier=PerfectPose(), face_net=PoseFeature())
    assert res["pose_accuracy"] == 1.0
    for name in ("two_step_image", "two_step_net2", "two_step_face_net"):
        # 4 gallery images have the target pose (2 people x 2 lights); the right one is among them
        assert res["criterion1"][name][20] == 1.0 and res["criterion2"][name][20] == 1.0
    assert set(res["criterion1"]) == {"ours_image", "ours_net2", "two_step_image", "two_step_net2",
                                      "two_step_face_net"}
    for crit in ("criterion1", "criterion2"):
        for name, r in res[crit].items():
            assert set(r) == {1, 5, 20} and all(0 <= v <= 1 for v in r.values())
            assert r[1] <= r[5] <= r[20]
        for name in res[crit]:  # criterion 2 is stricter
            assert res["criterion2"][name][5] <= res["criterion1"][name][5] + 1e-12
    assert set(res["by_pose_change"]) <= {15, 30, 45, 60, 75, 90}
    assert res["top"].shape == (40, 5) and res["n_gallery"] == len(data.images)
    with pytest.raises(ValueError, match="pose task"):
        retrieval.retrieval_experiment(model, say.task_data("accessory", identities=[3], size=32), n_queries=4)


# -- the shipped checkpoints ------------------------------------------------------------------------------------
@pytest.mark.parametrize("task", say.TASKS)
def test_shipped_weights_are_registered_with_their_hash(task):
    name = say.weights_name(task)
    entry = hub.REGISTRY[name]
    path = hub.PACKAGE_WEIGHTS_DIR / entry.filename
    assert path.is_file(), f"{path} is missing: run scripts/train_see_another_you.py"
    assert hub.sha256sum(path) == entry.sha256
    model = say.load_pretrained(task)
    assert not model.training and model.meta.get("task") == task
    assert model.meta.get("sha256") == entry.sha256


def test_package_weights_stay_under_50_mb():
    """DESIGN.md section 2: every weight file shipped in facekit/weights/ together stays under 50 MB."""
    total = sum(p.stat().st_size for p in hub.PACKAGE_WEIGHTS_DIR.glob("*.pt"))
    assert total < 50e6, f"facekit/weights holds {total / 1e6:.1f} MB"


def test_bf16_inference_is_close_to_fp32():
    torch.manual_seed(3)
    model = SeeAnotherYou(7)
    images, codes = torch.rand(4, 1, 32, 32), torch.tensor([0, 2, 4, 6])
    a, b = say.edit(model, images, codes), say.edit(model, images, codes, amp=True)
    assert float((a["stage2"] - b["stage2"]).abs().max()) < 0.05


def test_gradient_clipping_option():
    data, model = _tiny()
    with pytest.raises(ValueError, match="max_grad_norm"):
        say.train_stage1(model, data, steps=1, batch_size=8, device="cpu", progress=False, max_grad_norm=0)
    torch.manual_seed(0)
    before = [p.detach().clone() for p in model.generator.parameters()]
    say.train_stage1(model, data, steps=1, batch_size=8, device="cpu", progress=False, max_grad_norm=1e-3, momentum=0.0)
    params = model.generator.parameters()
    moved = torch.cat([(p.detach().double() - b.double()).flatten() for p, b in zip(params, before)])
    lr = say.PAPER["lr"] * 32 * 32
    assert float(moved.norm()) == pytest.approx(lr * 1e-3, rel=0.02)  # one step of a gradient clipped to 1e-3
