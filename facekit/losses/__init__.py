"""Losses of facekit, one module per family; ``from facekit.losses import X`` works for every name below.

=======================  ====================================================================================
module                   holds
=======================  ====================================================================================
``content``              perceptual / content losses on a face network's features: CNIA eq. (1)
                         (:func:`content_loss`, also DIAT eq. (1)) and its hand gradient eq. (2)
                         (:func:`content_loss_grad`), the sum over layers of CNIA eq. (5)-(6) and DIAT eq. (2)
                         (:func:`perceptual_loss`), the masked attribute loss of CNIA eq. (8)-(9)
                         (:func:`masked_perceptual_loss`, :func:`apply_mask`, :func:`mask_gradient`)
                         DIAT eq. (2) and (4) (:class:`PerceptualLoss` with ``DIAT_IDENTITY_LAYERS``), DIAT-A's
                         adaptive identity loss eq. (12)-(13) (:func:`adaptive_identity_loss`), DIAT's local
                         enhancement loss eq. (10) (:func:`local_enhancement_loss`)
``regularizers``         the total-variation regulariser of CNIA eq. (7) (:func:`total_variation`); DIAT's
                         perceptual regulariser: the denoiser's loss eq. (5) and :math:`\\ell_{smooth}` eq. (6)
                         (:func:`denoiser_loss`, :func:`smooth_loss`)
``adversarial``          WGAN-GP, the eye-to-face baseline (:func:`wgan_critic_loss`, :func:`wgan_generator_loss`,
                         :func:`gradient_penalty`); DIAT's GAN attribute loss eq. (3) (:func:`diat_transform_loss`,
                         :func:`diat_discriminator_loss`) and the discriminator's pre-training eq. (9)
                         (:func:`attribute_classifier_loss`); DiffAugment for the GAN's discriminator inputs, an
                         option of DIAT's training (:func:`diff_augment`, Zhao et al. 2020)
``pixel``                squared errors in pixels: DIAT eq. (8), (10) first term, (11) (:func:`squared_error`) and
                         the blur :math:`B` of eq. (11) (:func:`gaussian_blur`)
``feature_balance``      the eye-to-face feature losses: per-layer L1 normalised by the layer's size or
                         balanced by its initial value, with triangular layer weights
                         (:class:`BalancedFeatureLoss`, :func:`triangular_layer_weights`); the "standard
                         deviation loss" named in the same section (:func:`std_loss`)
``see_another_you``      the pixel losses of *Learning to See another You*: the squared error of eq. (1)-(2)
                         (:func:`generation_loss`) and the absolute error of its completion task, section 4.3
                         (:func:`completion_loss`)
``_common``              the feature-dict types, the ``reduction`` argument, shape checks
=======================  ====================================================================================

Where the losses of the chapters still to come go is settled: DIAT's losses are in ``content`` (eq. (2), (10),
(12)-(13)), ``regularizers`` (eq. (4)-(6)), ``adversarial`` (eq. (3), (9)) and ``pixel`` (eq. (8), (11)); the stage
losses of *Learning to See another You* (eq. (1)-(2) and its completion MAE) in ``see_another_you``.

Each loss is a function plus an ``nn.Module`` (kornia's style). Feature maps are ``(B, C, H, W)``;
``reduction`` is ``"mean"`` (over the batch; the default), ``"sum"`` or ``"none"`` (one value per image).
The per-image value is always the paper's. Every equation is cited where it is computed (``# CNIA eq. (1)``), so
``grep -rn "CNIA eq. (8)" facekit/losses`` finds it.
"""

import inspect

import torch  # noqa: F401  (the docstring examples, run by doctest.testmod(facekit.losses), use it)

from facekit.losses.adversarial import (
    DIFF_AUGMENT_POLICIES,
    attribute_classifier_loss,
    diat_discriminator_loss,
    diff_augment,
    diat_transform_loss,
    gradient_penalty,
    wgan_critic_loss,
    wgan_generator_loss,
)
from facekit.losses.content import (
    DIAT_ENHANCE_LAYERS,
    DIAT_IDENTITY_LAYERS,
    ContentLoss,
    MaskedPerceptualLoss,
    PerceptualLoss,
    adaptive_identity_loss,
    apply_mask,
    content_loss,
    content_loss_grad,
    local_enhancement_loss,
    mask_gradient,
    masked_perceptual_loss,
    perceptual_loss,
)
from facekit.losses.feature_balance import (
    INPUT_LAYER,
    BalancedFeatureLoss,
    StdLoss,
    balanced_feature_loss,
    extract_feature_loss_layers,
    feature_loss_layers,
    layer_l1,
    normalized_feature_loss,
    std_loss,
    triangular_layer_weights,
)
from facekit.losses.regularizers import TotalVariation, total_variation
from facekit.losses.see_another_you import CompletionLoss, GenerationLoss, completion_loss, generation_loss
from facekit.losses.pixel import gaussian_blur, squared_error
from facekit.losses.regularizers import TotalVariation, denoiser_loss, smooth_loss, total_variation

__all__ = [
    "content_loss",
    "content_loss_grad",
    "ContentLoss",
    "perceptual_loss",
    "PerceptualLoss",
    "total_variation",
    "TotalVariation",
    "apply_mask",
    "mask_gradient",
    "masked_perceptual_loss",
    "MaskedPerceptualLoss",
    "INPUT_LAYER",
    "feature_loss_layers",
    "extract_feature_loss_layers",
    "triangular_layer_weights",
    "layer_l1",
    "normalized_feature_loss",
    "balanced_feature_loss",
    "BalancedFeatureLoss",
    "std_loss",
    "StdLoss",
    "gradient_penalty",
    "wgan_critic_loss",
    "wgan_generator_loss",
    "generation_loss",
    "GenerationLoss",
    "completion_loss",
    "CompletionLoss",
    # DIAT
    "DIAT_IDENTITY_LAYERS",
    "DIAT_ENHANCE_LAYERS",
    "adaptive_identity_loss",
    "local_enhancement_loss",
    "diat_discriminator_loss",
    "diat_transform_loss",
    "attribute_classifier_loss",
    "denoiser_loss",
    "smooth_loss",
    "squared_error",
    "gaussian_blur",
    "diff_augment",
    "DIFF_AUGMENT_POLICIES",
]

# doctest.testmod(facekit.losses) only looks at what is defined in this file; __test__ points it at the functions
# and classes of the family modules, so their examples run as one suite (tests/test_losses.py).
__test__ = {name: obj for name, obj in globals().items()
            if name in __all__ and (inspect.isfunction(obj) or inspect.isclass(obj))}
