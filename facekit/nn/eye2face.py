"""The networks of *From an Eye to a Face* (Tse, Jok, Ng, Lee): the eye-to-face autoencoder and a WGAN-GP critic.

* :class:`EyeToFace`: the autoencoder of section IV, "Autoencoder": an encoder :math:`f_e(I_{eye}) = z` and a
  decoder :math:`f_d(z) = I_{face}`, built from conv blocks of **two** conv-BN-LeakyReLU groups whose first
  convolution has stride 2 (a transposed convolution of stride 2 in the decoder); the first encoder block has a
  single group, and the last convolution of the decoder ends in a sigmoid so pixels lie in [0, 1].
  A 32x32 eye goes in, a 128x128 face comes out.
* :class:`EyeFaceCritic`: the critic of the paper's comparison baseline (section V, "Comparison with GANs"): a
  conditional Wasserstein GAN with gradient penalty (Gulrajani et al. 2017). It scores a (face, eye) pair; the
  eye is resized to the face's size and stacked on its channels (the conditioning of conditional GANs, Mirza
  and Osindero 2014). It has no batch normalisation, because the gradient penalty is taken per sample
  (Gulrajani et al., section 4, "No critic batch normalization").

**Channel counts.** The paper does not give them. We chose

* encoder ``(32, 64, 128, 128)``: 32 -> 16 -> 8 -> 4 -> 2 pixels, so the latent code :math:`z` is
  ``128 x 2 x 2`` = 512 numbers;
* decoder ``(128, 128, 64, 32, 16, 16)``: 2 -> 4 -> ... -> 128 pixels (six transposed blocks), then a 3x3
  convolution to RGB and the sigmoid.

That is about 1.3 M parameters (:func:`count_parameters`; 2.6 MB in half precision): wide where the maps are small
and narrow at 64 and 128 px, where a convolution costs the most, so that the generator trains on a laptop CPU.
Any other widths can be passed.

Example:
    >>> import torch
    >>> g = EyeToFace()
    >>> face = g(torch.rand(2, 3, 32, 32))
    >>> tuple(face.shape), bool(face.min() >= 0), bool(face.max() <= 1)
    ((2, 3, 128, 128), True, True)
    >>> critic = EyeFaceCritic()
    >>> tuple(critic(face, torch.rand(2, 3, 32, 32)).shape)
    (2,)
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from facekit.nn._utils import count_parameters  # noqa: F401  (its old import path: facekit.nn.eye2face)
from facekit.nn.features import check_dtype, check_image

__all__ = ["EyeToFace", "EyeFaceCritic", "conv_group", "conv_block", "count_parameters"]


def conv_group(cin: int, cout: int, *, stride: int = 1, transpose: bool = False,
               negative_slope: float = 0.2, batch_norm: bool = True) -> List[nn.Module]:
    """One group of section IV: a 3x3 convolution (or a stride-2 transposed one), batch norm, LeakyReLU.

    Args:
        cin, cout: input and output channels.
        stride: 2 halves the size (``transpose=False``) or doubles it (``transpose=True``); 1 keeps it.
        transpose: use ``nn.ConvTranspose2d`` (kernel 3, padding 1, output padding 1: exactly twice the size).
        negative_slope: the LeakyReLU's slope for negative inputs.
        batch_norm: add ``nn.BatchNorm2d`` (the convolution then has no bias).

    Returns:
        the modules of the group, in order.
    """
    conv: nn.Module
    if transpose and stride == 2:
        conv = nn.ConvTranspose2d(cin, cout, 3, stride=2, padding=1, output_padding=1, bias=not batch_norm)
    else:
        conv = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=not batch_norm)
    layers: List[nn.Module] = [conv]
    if batch_norm:
        layers.append(nn.BatchNorm2d(cout))
    layers.append(nn.LeakyReLU(negative_slope))
    return layers


def conv_block(cin: int, cout: int, *, groups: int = 2, transpose: bool = False,
               negative_slope: float = 0.2) -> nn.Sequential:
    """A conv block of section IV: ``groups`` conv-BN-LeakyReLU groups, the first with (transposed) stride 2.

    Args:
        cin, cout: input and output channels.
        groups: 2 in every block but the encoder's first, which has 1.
        transpose: a decoder block (the first group upsamples by 2) instead of an encoder block (downsamples).
        negative_slope: the LeakyReLU's slope.

    Returns:
        ``nn.Sequential``: ``(B, cin, H, W) -> (B, cout, H / 2, W / 2)`` (encoder) or ``(B, cout, 2H, 2W)``
        (decoder).
    """
    if groups < 1:
        raise ValueError(f"a conv block has at least one group; got groups={groups}")
    layers = conv_group(cin, cout, stride=2, transpose=transpose, negative_slope=negative_slope)
    for _ in range(groups - 1):
        layers += conv_group(cout, cout, negative_slope=negative_slope)
    return nn.Sequential(*layers)


def _log2(n: int, what: str) -> int:
    k = int(round(math.log2(n))) if n > 0 else -1
    if n <= 0 or 2 ** k != n:
        raise ValueError(f"{what} must be a power of two; got {n}")
    return k


class EyeToFace(nn.Module):
    """The eye-to-face autoencoder of section IV: :math:`f_d(f_e(I_{eye})) = I_{face}`.

    Args:
        encoder_channels: output channels of each encoder block; block 1 has one conv-BN-LeakyReLU group, the
            others two; each halves the size. The latent map is ``encoder_channels[-1] x (eye_size / 2^k)^2``.
        decoder_channels: output channels of each decoder block (two groups, the first a stride-2 transposed
            convolution). There must be ``log2(face_size / latent size)`` of them.
        eye_size: side of the input eye crop (the paper: 32).
        face_size: side of the output face (the paper: 128).
        negative_slope: the LeakyReLU's slope.

    Raises:
        ValueError: sizes that are not powers of two, or a number of decoder blocks that does not reach
            ``face_size``.

    Shape:
        - input: :math:`(B, 3, 32, 32)`, RGB in [0, 1].
        - output: :math:`(B, 3, 128, 128)` in [0, 1] (sigmoid).

    Example:
        >>> g = EyeToFace(encoder_channels=(8, 16), decoder_channels=(16, 8, 8, 8), eye_size=16, face_size=64)
        >>> tuple(g.encode(torch.rand(1, 3, 16, 16)).shape), tuple(g(torch.rand(1, 3, 16, 16)).shape)
        ((1, 16, 4, 4), (1, 3, 64, 64))
    """

    def __init__(self, encoder_channels: Sequence[int] = (32, 64, 128, 128),
                 decoder_channels: Sequence[int] = (128, 128, 64, 32, 16, 16),
                 eye_size: int = 32, face_size: int = 128, negative_slope: float = 0.2) -> None:
        super().__init__()
        enc, dec = [int(c) for c in encoder_channels], [int(c) for c in decoder_channels]
        if not enc or not dec or min(enc + dec) < 1:
            raise ValueError(f"need at least one encoder and one decoder block with positive widths; got "
                             f"encoder {enc}, decoder {dec}")
        down, up = len(enc), _log2(face_size, "face_size") - _log2(eye_size, "eye_size") + len(enc)
        if eye_size // 2 ** down < 1:
            raise ValueError(f"{down} encoder blocks halve a {eye_size}px eye below one pixel; use fewer blocks")
        if len(dec) != up:
            raise ValueError(
                f"the latent map is {eye_size // 2 ** down}px; reaching a {face_size}px face needs {up} decoder "
                f"blocks (each doubles the size), got {len(dec)}: {dec}")
        self.encoder_channels, self.decoder_channels = tuple(enc), tuple(dec)
        self.eye_size, self.face_size, self.negative_slope = int(eye_size), int(face_size), float(negative_slope)
        blocks: List[nn.Module] = []
        cin = 3
        for i, cout in enumerate(enc):  # section IV: the first encoder block has only one group
            blocks.append(conv_block(cin, cout, groups=1 if i == 0 else 2, negative_slope=negative_slope))
            cin = cout
        self.encoder = nn.Sequential(*blocks)  # f_e: (B, 3, 32, 32) -> z (B, C, 2, 2)
        blocks = []
        for cout in dec:
            blocks.append(conv_block(cin, cout, groups=2, transpose=True, negative_slope=negative_slope))
            cin = cout
        self.decoder = nn.Sequential(*blocks)  # f_d: z -> (B, C, 128, 128)
        self.to_rgb = nn.Conv2d(cin, 3, 3, padding=1)  # the last convolution; its activation is the sigmoid

    @property
    def config(self) -> Dict[str, Any]:
        """The constructor arguments (saved next to the weights so a checkpoint can rebuild the network)."""
        return {"encoder_channels": list(self.encoder_channels), "decoder_channels": list(self.decoder_channels),
                "eye_size": self.eye_size, "face_size": self.face_size, "negative_slope": self.negative_slope}

    @property
    def latent_shape(self) -> tuple:
        """``(C, h, w)`` of the latent code :math:`z`."""
        s = self.eye_size // 2 ** len(self.encoder_channels)
        return (self.encoder_channels[-1], s, s)

    def _check(self, eye: Tensor) -> None:
        if not isinstance(eye, Tensor) or eye.ndim != 4 or eye.shape[1] != 3:
            shape = tuple(eye.shape) if isinstance(eye, Tensor) else type(eye).__name__
            raise ValueError(f"expected eye crops (B, 3, {self.eye_size}, {self.eye_size}) RGB in [0, 1]; got {shape}")
        if tuple(eye.shape[-2:]) != (self.eye_size, self.eye_size):
            raise ValueError(f"expected {self.eye_size}x{self.eye_size} eye crops (the section III pipeline resizes "
                             f"eyes to {self.eye_size}); got {tuple(eye.shape[-2:])}")
        check_dtype(eye, self, "eye")  # a float64 eye: say .float(), not torch's "expected scalar type"

    def encode(self, eye: Tensor) -> Tensor:
        """:math:`f_e(I_{eye}) = z`. Shape: ``(B, 3, 32, 32) -> (B, C, 2, 2)``."""
        self._check(eye)
        return self.encoder(eye)

    def decode(self, z: Tensor) -> Tensor:
        """:math:`f_d(z) = I_{face}`. Shape: ``(B, C, 2, 2) -> (B, 3, 128, 128)``, in [0, 1]."""
        return torch.sigmoid(self.to_rgb(self.decoder(z)))  # section IV: sigmoid bounds the pixels in [0, 1]

    def forward(self, eye: Tensor) -> Tensor:
        check_image(eye, name="eye", dtype=self)  # a 0-255 or uint8 eye would saturate every output pixel
        return self.decode(self.encode(eye))

    def extra_repr(self) -> str:
        return (f"eye {self.eye_size}px -> face {self.face_size}px, latent {self.latent_shape}, "
                f"{count_parameters(self):,} parameters")


class EyeFaceCritic(nn.Module):
    """The conditional WGAN-GP critic of the paper's GAN baseline: a score :math:`D(I_{face}, I_{eye})`.

    Stride-2 3x3 convolutions with LeakyReLU and no normalisation (the gradient penalty is per sample), then a
    linear layer to one number (a Wasserstein critic has no sigmoid). The eye is resized to the face (bilinear)
    and concatenated on the channels: 6 input channels.

    Args:
        channels: output channels of each stride-2 convolution.
        face_size: side of the faces it scores.
        negative_slope: the LeakyReLU's slope.

    Shape:
        - face: :math:`(B, 3, S, S)` in [0, 1]; eye: :math:`(B, 3, s, s)` in [0, 1].
        - output: :math:`(B,)` scores (higher = more like a real pair).
    """

    def __init__(self, channels: Sequence[int] = (16, 32, 64, 128, 128), face_size: int = 128,
                 negative_slope: float = 0.2) -> None:
        super().__init__()
        chans = [int(c) for c in channels]
        if face_size // 2 ** len(chans) < 1:
            raise ValueError(f"{len(chans)} stride-2 convolutions reduce a {face_size}px face below one pixel")
        self.channels, self.face_size, self.negative_slope = tuple(chans), int(face_size), float(negative_slope)
        layers: List[nn.Module] = []
        cin = 6
        for cout in chans:
            layers += [nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.LeakyReLU(negative_slope)]
            cin = cout
        self.features = nn.Sequential(*layers)
        side = face_size // 2 ** len(chans)
        self.score = nn.Linear(cin * side * side, 1)

    @property
    def config(self) -> Dict[str, Any]:
        """The constructor arguments."""
        return {"channels": list(self.channels), "face_size": self.face_size, "negative_slope": self.negative_slope}

    def forward(self, face: Tensor, eye: Tensor) -> Tensor:
        if face.ndim != 4 or eye.ndim != 4 or face.shape[0] != eye.shape[0] or face.shape[1] != 3 or eye.shape[1] != 3:
            raise ValueError(f"expected faces (B, 3, {self.face_size}, {self.face_size}) and eyes (B, 3, h, w) with "
                             f"the same B; got {tuple(face.shape)} and {tuple(eye.shape)}")
        if tuple(face.shape[-2:]) != (self.face_size, self.face_size):
            raise ValueError(f"this critic scores {self.face_size}px faces; got {tuple(face.shape[-2:])}")
        cond = F.interpolate(eye, size=face.shape[-2:], mode="bilinear", align_corners=False)  # (B, 3, S, S)
        h = self.features(torch.cat([face, cond], dim=1))  # conditional GAN: the critic sees the eye too
        return self.score(h.flatten(1)).squeeze(1)  # (B,)
