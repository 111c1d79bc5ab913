"""Tests of facekit.losses against the papers' equations, hand-written references and autograd."""

from __future__ import annotations

import doctest

import pytest
import torch

import facekit.losses as L
from facekit.nn import FeatureExtractor, SynthFaceNet, VGGFace


@pytest.fixture(scope="module")
def net() -> SynthFaceNet:
    torch.manual_seed(0)
    return SynthFaceNet(num_classes=10).eval().requires_grad_(False)


# -- CNIA eq. (1) -------------------------------------------------------------------------------------------------
def test_content_loss_is_eq1():
    torch.manual_seed(0)
    a, b = torch.randn(3, 4, 5, 6), torch.randn(3, 4, 5, 6)
    per_image = torch.stack([((a[i] - b[i]) ** 2).sum() / (2 * 4 * 5 * 6) for i in range(3)])  # 1/(2 C H W) ||.||_F^2
    torch.testing.assert_close(L.content_loss(a, b, reduction="none"), per_image)
    torch.testing.assert_close(L.content_loss(a, b), per_image.mean())
    torch.testing.assert_close(L.content_loss(a, b, reduction="sum"), per_image.sum())
    torch.testing.assert_close(L.ContentLoss("none")(a, b), per_image)
    # one target for several inputs (and the other way round): the batch broadcasts
    torch.testing.assert_close(L.content_loss(a, b[:1], "none"), L.content_loss(a, b[:1].expand_as(a), "none"))
    torch.testing.assert_close(L.content_loss(a[:1], b, "none"), L.content_loss(a[:1].expand_as(b), b, "none"))


@pytest.mark.parametrize(
    "a, b, match",
    [
        (torch.zeros(2, 4, 5, 5), torch.zeros(2, 3, 5, 5), "same layer"),
        (torch.zeros(2, 4, 5, 5), torch.zeros(3, 4, 5, 5), "same batch size"),
        (torch.zeros(4), torch.zeros(4), r"\(B, C, H, W\)"),
    ],
)
def test_content_loss_shape_errors(a, b, match):
    with pytest.raises(ValueError, match=match):
        L.content_loss(a, b)


def test_reduction_is_checked():
    with pytest.raises(ValueError, match="reduction"):
        L.content_loss(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2), reduction="avg")
    with pytest.raises(ValueError, match="reduction"):
        L.TotalVariation(reduction="max")


# -- CNIA eq. (2) -------------------------------------------------------------------------------------------------
def test_eq2_equals_autograd_on_relu_features():
    torch.manual_seed(0)
    f_hat = torch.randn(2, 8, 4, 4).clamp(min=0).requires_grad_(True)  # post-ReLU features: all >= 0
    f_ref = torch.randn(2, 8, 4, 4).clamp(min=0)
    (grad,) = torch.autograd.grad(L.content_loss(f_hat, f_ref, reduction="sum"), f_hat)
    torch.testing.assert_close(L.content_loss_grad(f_hat.detach(), f_ref), grad)
    (grad_mean,) = torch.autograd.grad(L.content_loss(f_hat, f_ref), f_hat)  # "mean" divides by B
    torch.testing.assert_close(L.content_loss_grad(f_hat.detach(), f_ref) / 2, grad_mean)


def test_eq2_gate_is_the_relu():
    torch.manual_seed(0)
    pre = torch.randn(2, 8, 4, 4, requires_grad=True)  # conv output before the ReLU
    f_ref = torch.randn(2, 8, 4, 4).clamp(min=0)  # the reference's ReLU output
    loss = L.content_loss(torch.relu(pre), f_ref, reduction="sum")
    (grad,) = torch.autograd.grad(loss, pre)
    torch.testing.assert_close(L.content_loss_grad(pre.detach(), f_ref), grad)
    assert (L.content_loss_grad(pre.detach(), f_ref)[pre < 0] == 0).all()


def test_eq2_backpropagated_through_vgg_face_gives_the_image_gradient():
    """CNIA section 3.1: eq. (2) at conv3_1, then standard back-propagation to the image."""
    torch.manual_seed(0)
    vgg = VGGFace(include_top=False).eval().requires_grad_(False)
    x = torch.rand(1, 3, 32, 32, requires_grad=True)
    ref = vgg.extract(torch.rand(1, 3, 32, 32), ["relu3_1"])["relu3_1"]
    feats = vgg.extract(x, ["conv3_1", "relu3_1"])
    (auto,) = torch.autograd.grad(L.content_loss(feats["relu3_1"], ref, "sum"), x, retain_graph=True)
    g = L.content_loss_grad(feats["conv3_1"].detach(), ref)  # eq. (2), w.r.t. the conv3_1 map
    (by_hand,) = torch.autograd.grad(feats["conv3_1"], x, grad_outputs=g)
    torch.testing.assert_close(by_hand, auto, rtol=1e-4, atol=1e-7)


# -- several layers -----------------------------------------------------------------------------------------------
def test_perceptual_loss_weighted_sum():
    torch.manual_seed(0)
    a = {"relu2_2": torch.randn(2, 4, 8, 8), "relu3_1": torch.randn(2, 8, 4, 4)}
    b = {"relu2_2": torch.randn(2, 4, 8, 8), "relu3_1": torch.randn(2, 8, 4, 4)}
    want = 0.3 * L.content_loss(a["relu2_2"], b["relu2_2"]) + 0.7 * L.content_loss(a["relu3_1"], b["relu3_1"])
    torch.testing.assert_close(L.perceptual_loss(a, b, {"relu2_2": 0.3, "relu3_1": 0.7}), want)
    torch.testing.assert_close(
        L.perceptual_loss(a, b), L.content_loss(a["relu2_2"], b["relu2_2"]) + L.content_loss(a["relu3_1"], b["relu3_1"])
    )
    with pytest.raises(KeyError, match="relu4_1"):
        L.perceptual_loss(a, b, {"relu4_1": 1.0})
    with pytest.raises(TypeError, match="content_loss"):
        L.perceptual_loss(a["relu2_2"], b["relu2_2"])


def test_perceptual_loss_module(net):
    loss_fn = L.PerceptualLoss(net, layers={4: 0.5, "relu3_1": 0.5})
    assert loss_fn.weights == {"relu2_2": 0.5, "relu3_1": 0.5}
    torch.manual_seed(1)
    x, y = torch.rand(2, 3, 64, 64, requires_grad=True), torch.rand(2, 3, 64, 64)
    loss = loss_fn(x, y)
    torch.testing.assert_close(loss, loss_fn(x, loss_fn.target_features(y)))
    fx, fy = net.extract(x, ["relu2_2", "relu3_1"]), net.extract(y, ["relu2_2", "relu3_1"])
    torch.testing.assert_close(loss, L.perceptual_loss(fx, fy, {"relu2_2": 0.5, "relu3_1": 0.5}))
    loss.backward()
    assert x.grad.abs().sum() > 0 and all(p.grad is None for p in net.parameters())
    assert float(loss_fn(y, y)) == 0.0
    with pytest.raises(ValueError, match="no layer"):
        L.PerceptualLoss(net, layers=["conv6_1"])


# -- total variation ----------------------------------------------------------------------------------------------
def _tv_loops(x: torch.Tensor, beta: float) -> torch.Tensor:
    """Mahendran & Vedaldi's V^beta written with loops, one image."""
    c, h, w = x.shape
    total = torch.zeros((), dtype=x.dtype)
    for k in range(c):
        for i in range(h - 1):
            for j in range(w - 1):
                d = (x[k, i, j + 1] - x[k, i, j]) ** 2 + (x[k, i + 1, j] - x[k, i, j]) ** 2
                total = total + (d if beta == 2 else (d + 1e-8) ** (beta / 2))
    return total


@pytest.mark.parametrize("beta", [2.0, 1.0])
def test_total_variation_matches_the_formula(beta):
    torch.manual_seed(0)
    x = torch.rand(2, 3, 5, 6, dtype=torch.float64)
    want = torch.stack([_tv_loops(x[i], beta) for i in range(2)])
    torch.testing.assert_close(L.total_variation(x, beta=beta, reduction="none"), want)
    normalized = L.total_variation(x, beta=beta, normalized=True, reduction="sum")
    torch.testing.assert_close(normalized, want.sum() / (3 * 4 * 5))  # C (H-1) (W-1) terms per image
    torch.testing.assert_close(L.TotalVariation(beta=beta)(x), want.mean())


@pytest.mark.parametrize("beta", [2.0, 1.0, 1.5])
def test_total_variation_gradient_vs_finite_differences(beta):
    torch.manual_seed(0)
    x = torch.rand(1, 2, 4, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: L.total_variation(t, beta=beta), (x,))


def test_total_variation_errors():
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        L.total_variation(torch.rand(3, 8, 8))
    with pytest.raises(ValueError, match="2x2"):
        L.total_variation(torch.rand(1, 3, 1, 8))
    with pytest.raises(ValueError, match="beta"):
        L.total_variation(torch.rand(1, 3, 4, 4), beta=0)


# -- CNIA eq. (8)-(9) ---------------------------------------------------------------------------------------------
def test_apply_mask_value_and_eq9_gradient():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 4, 4, requires_grad=True)
    soft = torch.rand(4, 4)
    soft[0] = 0.0  # one row outside the mask
    g = torch.randn(2, 3, 4, 4)
    for hard in (True, False):
        y = L.apply_mask(x, soft, hard_gradient=hard)
        torch.testing.assert_close(y, x * soft)
        (grad,) = torch.autograd.grad(y, x, grad_outputs=g)
        want = g * (soft > 0) if hard else g * soft  # eq. (9): unscaled where M > 0, zero elsewhere
        torch.testing.assert_close(grad, want.expand_as(grad))
    with pytest.raises(ValueError, match="same height and width"):
        L.apply_mask(x, torch.ones(5, 5))
    with pytest.raises(ValueError, match=r"\(H, W\) or"):
        L.apply_mask(x, torch.ones(3, 2, 4, 4))


def test_masked_loss_ignores_everything_outside_the_mask(net):
    torch.manual_seed(0)
    guides = torch.rand(3, 3, 64, 64)
    mask = torch.zeros(1, 1, 64, 64, dtype=torch.bool)
    mask[..., 16:48, 8:56] = True
    x = torch.rand(1, 3, 64, 64, requires_grad=True)
    loss = L.masked_perceptual_loss(net, x, mask, guides)
    loss.backward()
    assert (x.grad * ~mask).abs().sum() == 0 and x.grad[mask.expand_as(x)].abs().sum() > 0
    y = torch.where(mask, x.detach(), torch.rand(1, 3, 64, 64))  # change only the outside
    torch.testing.assert_close(L.masked_perceptual_loss(net, y, mask, guides), loss.detach())


def test_masked_loss_is_eq8(net):
    torch.manual_seed(0)
    guides = torch.rand(3, 3, 64, 64)
    mask = torch.zeros(64, 64)
    mask[20:40, :] = 1
    x = torch.rand(1, 3, 64, 64)
    w = torch.tensor([0.5, 0.3, 0.2])
    fx = net.extract(x * mask, ["relu3_1"])
    fg = net.extract(guides, ["relu3_1"])
    per_guide = torch.stack([L.content_loss(fx["relu3_1"], fg["relu3_1"][i : i + 1]) for i in range(3)])
    torch.testing.assert_close(L.masked_perceptual_loss(net, x, mask, guides, weights=w), (w * per_guide).sum())
    torch.testing.assert_close(L.masked_perceptual_loss(net, x, mask, fg), per_guide.mean())  # w_i = 1/k
    module = L.MaskedPerceptualLoss(net)
    torch.testing.assert_close(module(x, mask, module.target_features(guides), w), (w * per_guide).sum())
    ext = FeatureExtractor(net, ["relu3_1"])
    torch.testing.assert_close(L.masked_perceptual_loss(ext, x, mask, guides), per_guide.mean())
    with pytest.raises(ValueError, match=r"weights must have shape \(3,\)"):
        L.masked_perceptual_loss(net, x, mask, guides, weights=torch.ones(2))


def test_docstring_examples_run():
    assert doctest.testmod(L).failed == 0


def test_mask_gradient_is_eq9_literal() -> None:
    """CNIA eq. (9) read literally: the forward pass is the whole image, only pixels with M > 0 get a gradient."""
    img = torch.rand(2, 3, 16, 16, requires_grad=True)
    mask = torch.zeros(16, 16)
    mask[4:12, 4:12] = 0.5  # a soft value still passes the full gradient
    x = L.mask_gradient(img, mask)
    assert torch.equal(x, img)
    (x**2).sum().backward()
    assert torch.allclose(img.grad[:, :, 4:12, 4:12], 2 * img.detach()[:, :, 4:12, 4:12])
    assert img.grad[:, :, :4].abs().sum() == 0 and img.grad[:, :, 12:].abs().sum() == 0
    with pytest.raises(ValueError, match="same height and width"):
        L.mask_gradient(img, torch.zeros(8, 8))
