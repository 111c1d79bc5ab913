r"""Adversarial losses: a critic (discriminator) against a generator.

* the Wasserstein GAN with gradient penalty (WGAN-GP, Gulrajani et al. 2017), the conditional baseline of *From an
  Eye to a Face* section IV: :func:`wgan_critic_loss`, :func:`wgan_generator_loss`, :func:`gradient_penalty`.

* DIAT's GAN attribute loss (eq. (3), the minimax game between the transform network and the attribute
  discriminator, the first term of eq. (7) and (14)): :func:`diat_discriminator_loss` (what :math:`D` maximises,
  negated) and :func:`diat_transform_loss` (what :math:`T` minimises, in the paper's minimax form, the usual
  non-saturating form, or exactly as printed); and the discriminator's pre-training as a least-squares attribute
  classifier (eq. (9)): :func:`attribute_classifier_loss`.

**The typo in DIAT eq. (3).** The paper prints
:math:`\min_T \max_D \mathbb{E}_a[\log D(a)] + \mathbb{E}_x[1 - \log D(T(x))]`. Read literally, :math:`D`
maximises :math:`-\log D(T(x))`, which is unbounded (it goes to :math:`+\infty` as :math:`D(T(x)) \to 0`), so
the game has no saddle point. The GAN of Goodfellow et al. [12], which the paper follows, has
:math:`\log(1 - D(T(x)))`: a misplaced parenthesis. For :math:`T` alone the printed term is, up to the constant 1,
exactly the *non-saturating* generator loss :math:`-\log D(T(x))` that Goodfellow et al. recommend in practice
(``form="as_printed"`` computes it, and the tests check the equivalence).
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from facekit.losses._common import _check_reduction, _reduce


# -- the conditional WGAN-GP baseline (Gulrajani et al. 2017) --------------------------------------------------
def gradient_penalty(critic: nn.Module, real: Tensor, fake: Tensor, *conditions: Tensor,
                     generator: Optional[torch.Generator] = None) -> Tensor:
    r"""The WGAN-GP gradient penalty (Gulrajani et al. 2017, eq. (3)), without its weight :math:`\lambda`:

    .. math::

        \mathbb{E}_{\hat x}\left[ (\|\nabla_{\hat x} D(\hat x)\|_2 - 1)^2 \right], \qquad
        \hat x = \epsilon\, x_{real} + (1 - \epsilon)\, x_{fake}, \quad \epsilon \sim U[0, 1]

    one :math:`\epsilon` per sample. Extra ``conditions`` (the eye of a conditional critic) are passed to the
    critic unchanged. The graph is kept (``create_graph=True``) so the penalty trains the critic.

    Args:
        critic: ``critic(x, *conditions) -> (B,)`` or ``(B, 1)`` scores.
        real, fake: ``(B, ...)`` samples of the same shape (``fake`` is usually detached).
        conditions: tensors passed after ``x`` to the critic.
        generator: draws :math:`\epsilon` (default: the global generator).

    Returns:
        a scalar: the mean over the batch.

    Example:
        >>> critic = lambda x: 3.0 * x.flatten(1).sum(1)          # |grad| = 3 * sqrt(D) everywhere
        >>> gp = gradient_penalty(critic, torch.zeros(2, 4), torch.ones(2, 4))
        >>> round(float(gp), 4)                                    # (3 * 2 - 1)^2
        25.0
    """
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have the same shape; got {tuple(real.shape)} and {tuple(fake.shape)}")
    b = real.shape[0]
    eps = torch.rand((b,) + (1,) * (real.ndim - 1), generator=generator, dtype=real.dtype,
                     device=real.device if generator is None else generator.device).to(real.device)
    mixed = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)  # x_hat
    scores = critic(mixed, *conditions).reshape(b)
    (grad,) = torch.autograd.grad(scores.sum(), mixed, create_graph=True)
    norm = grad.flatten(1).norm(2, dim=1)  # ||grad D(x_hat)||_2, (B,)
    return (norm - 1).pow(2).mean()


def wgan_critic_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    r"""The Wasserstein critic loss :math:`\mathbb{E}[D(x_{fake})] - \mathbb{E}[D(x_{real})]` (minimised).

    Add ``lambda_gp * gradient_penalty(...)`` (Gulrajani et al.: :math:`\lambda = 10`) for WGAN-GP.

    Example:
        >>> wgan_critic_loss(torch.tensor([2.0, 4.0]), torch.tensor([1.0, 1.0]))
        tensor(-2.)
    """
    return fake_scores.mean() - real_scores.mean()


def wgan_generator_loss(fake_scores: Tensor) -> Tensor:
    r"""The Wasserstein generator loss :math:`-\mathbb{E}[D(G(z))]` (minimised).

    Example:
        >>> wgan_generator_loss(torch.tensor([1.0, 3.0]))
        tensor(-2.)
    """
    return -fake_scores.mean()


# -- DIAT eq. (3) and (9) ---------------------------------------------------------------------------------------
_TRANSFORM_FORMS = ("minimax", "non_saturating", "as_printed")


def _logits(x: Tensor, name: str) -> Tensor:
    if not isinstance(x, Tensor) or not x.is_floating_point():
        raise TypeError(f"{name} must be a float tensor of discriminator logits (B,); got {type(x).__name__}")
    if x.ndim == 2 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 1:
        raise ValueError(f"{name} must be discriminator logits of shape (B,) or (B, 1); got {tuple(x.shape)}")
    return x


def diat_discriminator_loss(real_logits: Tensor, fake_logits: Tensor, form: str = "minimax") -> Tensor:
    r"""What the discriminator minimises in DIAT eq. (3): the negative of its objective.

    .. math::

        -\left( \mathbb{E}_{a \sim p_{att}}[\log D(a)] + \mathbb{E}_{x \sim p_{data}}[\log(1 - D(T(x)))] \right)

    with :math:`D = \sigma(\text{logit})`, computed stably from logits (``log D = -softplus(-z)``,
    ``log(1 - D) = -softplus(z)``). ``form="as_printed"`` uses the printed :math:`1 - \log D(T(x))` instead of
    :math:`\log(1 - D(T(x)))`: unbounded below, so it is here only to show why it cannot be meant.

    Args:
        real_logits: ``(B,)`` logits of guided-set images :math:`a`.
        fake_logits: ``(B',)`` logits of transformed images :math:`T(x)` (detach :math:`T(x)` for the D step).
        form: ``"minimax"`` (also used with the non-saturating transform loss: D's objective is the same) or
            ``"as_printed"``.

    Example:
        >>> z = torch.zeros(4)                          # D = 0.5 everywhere: 2 log 2
        >>> round(float(diat_discriminator_loss(z, z)), 4)
        1.3863
    """
    real, fake = _logits(real_logits, "real_logits"), _logits(fake_logits, "fake_logits")
    log_d_real = -F.softplus(-real)  # log D(a)
    if form in ("minimax", "non_saturating"):
        term_fake = -F.softplus(fake)  # log(1 - D(T(x)))   DIAT eq. (3), as in Goodfellow et al.
    elif form == "as_printed":
        term_fake = 1.0 + F.softplus(-fake)  # 1 - log D(T(x))  DIAT eq. (3) as printed
    else:
        raise ValueError(f"form must be one of {', '.join(map(repr, _TRANSFORM_FORMS))}; got {form!r}")
    return -(log_d_real.mean() + term_fake.mean())  # D maximises, so minimise the negative


def diat_transform_loss(fake_logits: Tensor, form: str = "minimax") -> Tensor:
    r"""The GAN attribute loss the transform network minimises (DIAT eq. (3), first terms of eq. (7) and (14)).

    ======================  =================================  ==================================================
    ``form``                loss (mean over the batch)         note
    ======================  =================================  ==================================================
    ``"minimax"``           :math:`\log(1 - D(T(x)))`          the paper's game, corrected; its gradient vanishes
                                                               while D rejects T(x) confidently
    ``"non_saturating"``    :math:`-\log D(T(x))`              Goodfellow et al.'s practical form
    ``"as_printed"``        :math:`1 - \log D(T(x))`           the printed text; = non-saturating + 1
    ======================  =================================  ==================================================

    Args:
        fake_logits: ``(B,)`` discriminator logits of :math:`T(x)` (with gradient to :math:`T`).
        form: see the table.

    Example:
        >>> z = torch.tensor([0.0])
        >>> [round(float(diat_transform_loss(z, f)), 4) for f in ("minimax", "non_saturating", "as_printed")]
        [-0.6931, 0.6931, 1.6931]
    """
    fake = _logits(fake_logits, "fake_logits")
    if form == "minimax":
        return (-F.softplus(fake)).mean()  # E[log(1 - D(T(x)))]   DIAT eq. (3)
    if form == "non_saturating":
        return F.softplus(-fake).mean()  # E[-log D(T(x))]
    if form == "as_printed":
        return (1.0 + F.softplus(-fake)).mean()  # E[1 - log D(T(x))]   DIAT eq. (3) as printed
    raise ValueError(f"form must be one of {', '.join(map(repr, _TRANSFORM_FORMS))}; got {form!r}")


def attribute_classifier_loss(logits: Tensor, labels: Tensor, reduction: str = "mean") -> Tensor:
    r"""DIAT eq. (9): the discriminator pre-trained as a least-squares attribute classifier.

    .. math::

        \ell_{dis} = \sum_i \| y_i - D(\mathbf{x}_i) \|^2, \qquad D = \sigma(\text{logit})

    ``reduction="sum"`` is the paper's sum over the data set; ``"mean"`` (default) divides by the batch.

    Args:
        logits: ``(B,)`` discriminator logits.
        labels: ``(B,)`` attribute labels: 1 (has the reference attribute), 0 or CelebA's -1 (has not).

    Example:
        >>> attribute_classifier_loss(torch.tensor([0.0, 0.0]), torch.tensor([1, -1]), reduction="sum")
        tensor(0.5000)
    """
    _check_reduction(reduction)
    z = _logits(logits, "logits")
    y = torch.as_tensor(labels, dtype=z.dtype, device=z.device).reshape(-1)
    if y.shape != z.shape:
        raise ValueError(f"labels must have one value per logit ({z.shape[0]}); got shape {tuple(y.shape)}")
    if not bool(((y == 1) | (y == 0) | (y == -1)).all()):
        raise ValueError(f"labels must be 1 (attribute present), 0 or -1 (absent); got {y.unique().tolist()}")
    y = (y > 0).to(z.dtype)  # CelebA's -1 means absent (facekit.data._common.attribute_value)
    return _reduce((y - torch.sigmoid(z)).pow(2), reduction)  # DIAT eq. (9)


# -- DiffAugment (Zhao, Liu, Lin, Zhu, Han, NeurIPS 2020): the same random, differentiable augmentation of the real
# and the generated images before the discriminator sees them. An option of DIAT's GAN training, not the paper's.
DIFF_AUGMENT_POLICIES = ("color", "translation", "cutout")


def _check_policy(policy: str) -> Tuple[str, ...]:
    parts = tuple(p.strip() for p in policy.split(",") if p.strip())
    bad = [p for p in parts if p not in DIFF_AUGMENT_POLICIES]
    if bad:
        raise ValueError(f"unknown DiffAugment policy {', '.join(bad)}; choose from {', '.join(DIFF_AUGMENT_POLICIES)} "
                         "(comma-separated, e.g. 'color,translation,cutout')")
    return parts


def diff_augment(x: Tensor, policy: str = "color,translation,cutout", *, translation: float = 0.125,
                 cutout: float = 0.5) -> Tensor:
    r"""DiffAugment (Zhao et al. 2020): random colour, translation and cutout that gradients pass through.

    Apply it, with fresh random draws, to the real *and* the generated images every time the discriminator sees
    them (its update and the generator's): the discriminator then cannot memorise the few real images, and the
    generator is not rewarded for matching the augmented images (the augmentation is differentiable and applied to
    both). Per image: brightness :math:`+U(-\frac14, \frac14)`, saturation :math:`\times U(0, 2)` and contrast
    :math:`\times U(\frac12, \frac32)` around the image's mean (the paper's ranges, for pixels in [0, 1]); a shift
    by up to ``translation`` of the side with zero padding; a zeroed square of ``cutout`` of the side at a random
    place. Random numbers come from torch's global generator (seeded and checkpointed by
    :class:`facekit.train.Trainer`).

    Args:
        x: ``(B, C, H, W)`` images in [0, 1].
        policy: comma-separated subset of ``"color"``, ``"translation"``, ``"cutout"``; ``""`` returns ``x``.
        translation: the largest shift, as a fraction of the side.
        cutout: the side of the cut-out square, as a fraction of the image's side.

    Example:
        >>> x = torch.rand(2, 3, 16, 16, requires_grad=True)
        >>> y = diff_augment(x)
        >>> y.shape == x.shape, y.requires_grad
        (True, True)
    """
    parts = _check_policy(policy)
    if x.ndim != 4:
        raise ValueError(f"diff_augment takes (B, C, H, W) images; got shape {tuple(x.shape)}")
    b, _, h, w = x.shape
    dev, dt = x.device, x.dtype
    if "color" in parts:
        x = x + (torch.rand(b, 1, 1, 1, device=dev, dtype=dt) - 0.5) * 0.5  # brightness
        mean = x.mean(dim=1, keepdim=True)
        x = (x - mean) * (torch.rand(b, 1, 1, 1, device=dev, dtype=dt) * 2.0) + mean  # saturation
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) * (torch.rand(b, 1, 1, 1, device=dev, dtype=dt) + 0.5) + mean  # contrast
    if "translation" in parts:
        sh, sw = int(h * translation + 0.5), int(w * translation + 0.5)
        ty = torch.randint(-sh, sh + 1, (b, 1, 1), device=dev)
        tx = torch.randint(-sw, sw + 1, (b, 1, 1), device=dev)
        gy, gx = torch.meshgrid(torch.arange(h, device=dev), torch.arange(w, device=dev), indexing="ij")
        gy = (gy.unsqueeze(0) + ty + 1).clamp(0, h + 1)  # (B, H, W) rows of the padded image
        gx = (gx.unsqueeze(0) + tx + 1).clamp(0, w + 1)
        padded = F.pad(x, (1, 1, 1, 1))  # zeros where the shift brings in pixels from outside
        idx = torch.arange(b, device=dev).view(b, 1, 1)
        x = padded.permute(0, 2, 3, 1)[idx, gy, gx].permute(0, 3, 1, 2)
    if "cutout" in parts:
        ch, cw = int(h * cutout + 0.5), int(w * cutout + 0.5)
        cy = torch.randint(0, h + (1 - ch % 2), (b, 1, 1), device=dev)
        cx = torch.randint(0, w + (1 - cw % 2), (b, 1, 1), device=dev)
        gy, gx = torch.meshgrid(torch.arange(h, device=dev), torch.arange(w, device=dev), indexing="ij")
        inside = ((gy.unsqueeze(0) - cy).abs() <= ch // 2) & ((gx.unsqueeze(0) - cx).abs() <= cw // 2)
        x = x * (~inside).unsqueeze(1).to(dt)
    return x
