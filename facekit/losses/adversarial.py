r"""Adversarial losses: a critic (discriminator) against a generator.

* the Wasserstein GAN with gradient penalty (WGAN-GP, Gulrajani et al. 2017), the conditional baseline of *From an
  Eye to a Face* section IV: :func:`wgan_critic_loss`, :func:`wgan_generator_loss`, :func:`gradient_penalty`.

Still to come here, with the DIAT chapter: DIAT's GAN attribute loss (eq. (3), the minimax game between the
transform network and the attribute discriminator, also the first term of eq. (7) and (14)) and the discriminator's
pre-training loss (eq. (9)).
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn


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
