r"""The networks of DIAT and DIAT-A (Li, Zuo, Zhang, *Deep Identity-aware Transfer of Facial Attributes*,
arXiv 1610.05586 **v1**; v2 of that arXiv number is a different method).

* :class:`TransformNet`: the face transform network :math:`T` of section 3.1, Table 1 (a 9x9 convolution, two
  stride-2 convolutions, four residual blocks of 128 filters, two stride-2 transposed convolutions and a 10x10
  transposed convolution). The same architecture is the reconstruction network :math:`g` of eq. (4) and the global
  enhancement (deblurring) network of eq. (11) (section 3.2: "the same architecture of the transform network").
* :class:`AttributeDiscriminator`: the discriminator :math:`D` of Table 2 (six convolutions, a fully connected
  layer of 1000 units and one of 1 unit); its 4th and 5th convolutional layers carry DIAT-A's adaptive perceptual
  identity loss (eq. (12)-(13)), see :meth:`AttributeDiscriminator.features`.
* :class:`Denoiser`: the two-layer 3x3 denoising network :math:`f` of eq. (5).
* :class:`LocalEnhancer`: the 4-layer fully convolutional local enhancement network of section 3.2, whose input
  is the source image and the transformed image.

**The shapes of Table 1, exactly.** Table 1 prints ``32 x 127 x 127`` after the second deconvolution and
``3 x 128 x 128`` after the last. That is not a misprint: a transposed convolution gives
:math:`(n - 1)s - 2p + k + o` pixels (``o`` the output padding). The first deconvolution (3x3, pad 1, stride 2)
needs :math:`o = 1` to go 32 -> 64 as printed; the second, with :math:`o = 0`, goes 64 -> 127; and the last
(10x10, pad 4, stride 1) adds one pixel, :math:`127 - 1 - 8 + 10 = 128`. An even kernel with that padding
cannot keep the size, so the authors let the second deconvolution fall one pixel short and the even 10x10 kernel
make it up. We build exactly that (``output_padding`` 1 then 0), so every activation has Table 1's size at
128 px, and the same construction gives 64 -> 32 -> 16 -> 32 -> 63 -> 64 at 64 px (any side divisible by 4
works; :meth:`TransformNet.activation_sizes` lists them).

**What the paper leaves open, and our choices.** The text says "5 residual blocks" and "16 layers" (3 + 2x5 + 3);
Table 1 lists four. We follow the table (``n_residual=4``; the text's 5 is one argument away). Normalisation and
activations are not given: the architecture is Johnson et al.'s [16] (their Table 1 with a 9x9 first and last
layer and 128-filter residual blocks), so we use their conv -> norm -> ReLU layers and residual blocks of two 3x3
convolutions, with **instance** normalisation (Ulyanov et al. [36], the paper's other feed-forward reference;
batch statistics would differ between training and the eval-mode scoring), and a sigmoid output so pixels lie in
[0, 1]. The discriminator uses LeakyReLU(0.2) (DCGAN [31], which the paper cites) and no normalisation; its output
is a logit, :math:`D(\mathbf{a}) = \sigma(\text{logit})` the probability of eq. (3). The paper gives neither the
width of the denoiser nor of the local enhancement FCN: 32 and 64 channels here.

**Fast inference.** :func:`transform_images` runs a network in eval mode without gradient, optionally in
channels-last memory format and under bfloat16 autocast (the CPU's best precision where it has bf16). Which is
faster depends on the machine: ``bench/diat.py`` measures both and the error against float32.

Example:
    >>> import torch
    >>> T, D = TransformNet(), AttributeDiscriminator(image_size=64)
    >>> y = T(torch.rand(2, 3, 64, 64))
    >>> tuple(y.shape), tuple(D(y).shape)
    ((2, 3, 64, 64), (2,))
    >>> [s for name, s in TransformNet.activation_sizes(128)][-2:]      # Table 1's last two rows
    [(32, 127, 127), (3, 128, 128)]
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from facekit.nn._utils import count_parameters
from facekit.nn.features import check_image

__all__ = [
    "TransformNet",
    "ResidualBlock",
    "AttributeDiscriminator",
    "Denoiser",
    "LocalEnhancer",
    "transform_images",
    "count_parameters",
    "DIAT_NETWORKS",
]


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"norm must be 'instance', 'batch' or 'none'; got {kind!r}")


def _conv_norm_relu(conv: nn.Module, cout: int, norm: str) -> nn.Sequential:
    return nn.Sequential(conv, _norm(norm, cout), nn.ReLU(inplace=True))


class ResidualBlock(nn.Module):
    """Johnson et al.'s residual block: two 3x3 convolutions (pad 1) with normalisation, ReLU between, plus x.

    Shape: ``(B, C, H, W) -> (B, C, H, W)``.
    """

    def __init__(self, channels: int = 128, norm: str = "instance") -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1), _norm(norm, channels), nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1), _norm(norm, channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class TransformNet(nn.Module):
    r"""The face transform network :math:`T` of DIAT, Table 1 (also :math:`g` of eq. (4) and the global enhancer).

    Args:
        n_residual: residual blocks (Table 1: 4; the text says 5).
        widths: channels of the three convolutions (Table 1: 32, 64, 128); the deconvolutions mirror them.
        norm: ``"instance"`` (default), ``"batch"`` or ``"none"``.
        arch: ``"table1"`` (default: the paper's 9x9 convolution, stride-2 transposed convolutions and the 10x10
            transposed convolution) or ``"resize_conv"`` (an option, not the paper's: 3x3 first and last layers
            and nearest-neighbour upsampling followed by a 3x3 convolution in place of each transposed
            convolution, Odena et al. 2016, which removes the transposed convolutions' checkerboard pattern).
        output: ``"sigmoid"`` (default, Table 1 as we read it: the image itself, squashed to [0, 1]) or
            ``"residual"`` (an option: :math:`y = \mathrm{clamp}(x + m \odot \delta(x), 0, 1)`, the network
            predicts a change :math:`\delta` that the attribute mask :math:`m` confines, with a zero-initialised
            last layer so that training starts from the identity map; Shen & Liu 2017 and SaGAN 2018 edit this
            way). With ``"residual"``, :meth:`forward` takes the mask; without one the change is unmasked.

    Input: RGB in ``[0, 1]``, ``(B, 3, H, W)`` with ``H, W`` divisible by 4 (128 in the paper, 64 in the ``cpu``
    profile); float32 or bfloat16 (under autocast). Output: the same shape, in ``[0, 1]``.

    Example:
        >>> net = TransformNet()
        >>> count_parameters(net) > 1_000_000
        True
    """

    ARCHS: Tuple[str, ...] = ("table1", "resize_conv")
    OUTPUTS: Tuple[str, ...] = ("sigmoid", "residual")

    def __init__(self, n_residual: int = 4, widths: Sequence[int] = (32, 64, 128), norm: str = "instance",
                 arch: str = "table1", output: str = "sigmoid") -> None:
        super().__init__()
        if n_residual < 0:
            raise ValueError(f"n_residual must be >= 0; got {n_residual}")
        if len(widths) != 3 or min(widths) < 1:
            raise ValueError(f"widths must be three positive channel counts (Table 1: 32, 64, 128); got {widths}")
        if arch not in self.ARCHS:
            raise ValueError(f"arch must be one of {self.ARCHS} ('table1' is the paper's); got {arch!r}")
        if output not in self.OUTPUTS:
            raise ValueError(f"output must be one of {self.OUTPUTS} ('sigmoid' is the paper's); got {output!r}")
        c1, c2, c3 = (int(c) for c in widths)
        self.config: Dict[str, object] = {"n_residual": int(n_residual), "widths": [c1, c2, c3], "norm": norm,
                                          "arch": arch, "output": output}
        self.arch, self.output = arch, output
        k1 = 9 if arch == "table1" else 3
        self.conv1 = _conv_norm_relu(nn.Conv2d(3, c1, k1, stride=1, padding=k1 // 2), c1, norm)  # 9x9x32, pad 4
        self.conv2 = _conv_norm_relu(nn.Conv2d(c1, c2, 3, stride=2, padding=1), c2, norm)  # 3x3x64, pad 1, stride 2
        self.conv3 = _conv_norm_relu(nn.Conv2d(c2, c3, 3, stride=2, padding=1), c3, norm)  # 3x3x128, pad 1, stride 2
        self.residual = nn.Sequential(*[ResidualBlock(c3, norm) for _ in range(n_residual)])
        if arch == "table1":
            # 3x3x64 deconv, pad 1, stride 2: (n - 1) * 2 - 2 + 3 + 1 = 2n (output padding 1: 32 -> 64)
            self.deconv1 = _conv_norm_relu(nn.ConvTranspose2d(c3, c2, 3, stride=2, padding=1, output_padding=1),
                                           c2, norm)
            # 3x3x32 deconv, pad 1, stride 2, no output padding: (n - 1) * 2 - 2 + 3 = 2n - 1 (64 -> 127, as printed)
            self.deconv2 = _conv_norm_relu(nn.ConvTranspose2d(c2, c1, 3, stride=2, padding=1), c1, norm)
            # 10x10x3 deconv, pad 4, stride 1: n - 1 - 8 + 10 = n + 1 (127 -> 128)
            self.deconv3: nn.Module = nn.ConvTranspose2d(c1, 3, 10, stride=1, padding=4)
        else:  # nearest x2 + 3x3 conv (Odena et al. 2016): every output pixel sees the same number of weights
            up = lambda cin, cout: _conv_norm_relu(  # noqa: E731
                nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(cin, cout, 3, padding=1)),
                cout, norm)
            self.deconv1, self.deconv2 = up(c3, c2), up(c2, c1)  # H/4 -> H/2 -> H
            self.deconv3 = nn.Conv2d(c1, 3, 3, padding=1)
        if output == "residual":  # start as the identity map: delta(x) = 0
            nn.init.zeros_(self.deconv3.weight)
            nn.init.zeros_(self.deconv3.bias)

    @staticmethod
    def activation_sizes(size: int = 128, widths: Sequence[int] = (32, 64, 128),
                         n_residual: int = 4) -> List[Tuple[str, Tuple[int, int, int]]]:
        """Table 1's "activation size" column for an input of ``size`` pixels (computed, not run).

        Example:
            >>> TransformNet.activation_sizes(64)[-3:]
            [('deconv1', (64, 32, 32)), ('deconv2', (32, 63, 63)), ('deconv3', (3, 64, 64))]
        """
        c1, c2, c3 = widths
        s = int(size)
        rows = [("input", (3, s, s)), ("conv1", (c1, s, s))]
        s2 = (s + 2 - 3) // 2 + 1
        s3 = (s2 + 2 - 3) // 2 + 1
        rows += [("conv2", (c2, s2, s2)), ("conv3", (c3, s3, s3))]
        rows += [(f"residual{i + 1}", (c3, s3, s3)) for i in range(n_residual)]
        d1 = (s3 - 1) * 2 - 2 + 3 + 1
        d2 = (d1 - 1) * 2 - 2 + 3
        d3 = d2 - 1 - 8 + 10
        rows += [("deconv1", (c2, d1, d1)), ("deconv2", (c1, d2, d2)), ("deconv3", (3, d3, d3))]
        return rows

    def forward(self, x: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        """``x``: ``(B, 3, H, W)`` in [0, 1]; ``mask``: ``(B, 1, H, W)`` in [0, 1], only with ``output="residual"``
        (the region the edit may change; ``None``: everywhere)."""
        check_image(x, name="images")  # (B, 3, H, W) floats in [0, 1]: instance norm would hide 0-255 values
        h, w = x.shape[-2:]
        if h % 4 or w % 4:
            raise ValueError(f"TransformNet takes (B, 3, H, W) images with H and W divisible by 4 (the two stride-2 "
                             f"convolutions and deconvolutions); got shape {tuple(x.shape)}")
        if mask is not None:
            if self.output != "residual":
                raise ValueError("a mask confines the change of a TransformNet(output='residual'); this network's "
                                 "output is 'sigmoid' (Table 1: the whole image), so pass no mask")
            if mask.ndim != 4 or mask.shape[1] != 1 or mask.shape[0] != x.shape[0] or mask.shape[-2:] != x.shape[-2:]:
                raise ValueError(f"mask must be (B, 1, H, W) matching the images {tuple(x.shape)}; got "
                                 f"{tuple(mask.shape)}")
        y = self.conv3(self.conv2(self.conv1(x)))  # (B, 128, H/4, W/4)
        y = self.residual(y)  # (B, 128, H/4, W/4)
        y = self.deconv3(self.deconv2(self.deconv1(y)))  # table1: (B, 32, H-1, W-1) -> (B, 3, H, W)
        if self.output == "sigmoid":
            return torch.sigmoid(y)  # (B, 3, H, W) in [0, 1]
        delta = y if mask is None else mask.to(y.dtype) * y  # the change, zero outside the attribute's mask
        return (x + delta).clamp(0.0, 1.0)  # y = x + m * delta


class AttributeDiscriminator(nn.Module):
    """The attribute discriminator :math:`D` of DIAT, Table 2: six convolutions, FC 1000, FC 1.

    ``forward`` returns the **logit** ``(B,)``; :math:`D(\\mathbf{a}) = \\sigma(\\text{logit})` is eq. (3)'s
    probability that :math:`\\mathbf{a}` comes from the guided set. :meth:`features` returns the activations of the
    convolutional layers by 1-based index (DIAT-A's :math:`D_l`, eq. (12)).

    Args:
        image_size: input side (Table 2: 128; 64 in the ``cpu`` profile); the first FC layer has
            ``128 * (image_size / 16)^2`` inputs (8192 at 128 px).
        widths: channels of the six convolutions (Table 2: 32, 32, 64, 64, 128, 128).
        hidden: units of the first fully connected layer (Table 2: 1000).
        negative_slope: LeakyReLU slope (DCGAN's 0.2).
        spectral_norm: wrap every convolution and linear layer in spectral normalisation (Miyato et al. 2018; an
            option, not the paper's): each layer is 1-Lipschitz, so :math:`D` cannot sharpen its decision without
            bound and keeps giving :math:`T` a useful gradient.

    Example:
        >>> D = AttributeDiscriminator(image_size=128)
        >>> {k: tuple(v.shape) for k, v in D.features(torch.rand(1, 3, 128, 128), [4, 5]).items()}
        {4: (1, 64, 32, 32), 5: (1, 128, 16, 16)}
    """

    # Table 2: (kernel, stride, padding) of the six convolutions
    LAYERS: Tuple[Tuple[int, int, int], ...] = ((8, 2, 3), (3, 1, 1), (4, 2, 1), (3, 1, 1), (4, 2, 1), (4, 2, 1))

    def __init__(self, image_size: int = 128, widths: Sequence[int] = (32, 32, 64, 64, 128, 128),
                 hidden: int = 1000, negative_slope: float = 0.2, spectral_norm: bool = False) -> None:
        super().__init__()
        if image_size % 16 or image_size < 16:
            raise ValueError(f"image_size must be a multiple of 16 (four stride-2 convolutions); got {image_size}")
        if len(widths) != 6:
            raise ValueError(f"widths must give the six convolutions' channels (Table 2); got {widths}")
        self.image_size = int(image_size)
        self.config: Dict[str, object] = {"image_size": self.image_size, "widths": [int(c) for c in widths],
                                          "hidden": int(hidden), "negative_slope": float(negative_slope),
                                          "spectral_norm": bool(spectral_norm)}
        sn = nn.utils.parametrizations.spectral_norm if spectral_norm else (lambda m: m)
        convs, cin = [], 3
        for cout, (k, s, p) in zip(widths, self.LAYERS):
            convs.append(sn(nn.Conv2d(cin, int(cout), k, stride=s, padding=p)))
            cin = int(cout)
        self.convs = nn.ModuleList(convs)
        self.act = nn.LeakyReLU(negative_slope, inplace=False)
        side = self.image_size // 16
        self.fc1 = sn(nn.Linear(cin * side * side, int(hidden)))  # Table 2: FC with 1000 hidden units
        self.fc2 = sn(nn.Linear(int(hidden), 1))  # Table 2: FC with 1 unit

    def _check(self, x: Tensor) -> None:
        # floats in [0, 1] (0-255 values or uint8 are refused); DiffAugment's colour jitter may take augmented images
        # to about [-1, 3], hence the wider tolerance
        check_image(x, name="images", tolerance=2.0)
        if x.ndim != 4 or x.shape[1] != 3 or tuple(x.shape[-2:]) != (self.image_size, self.image_size):
            raise ValueError(f"AttributeDiscriminator(image_size={self.image_size}) takes (B, 3, {self.image_size}, "
                             f"{self.image_size}) images; got shape {tuple(x.shape)}")

    def features(self, x: Tensor, layers: Sequence[int] = (4, 5)) -> Dict[int, Tensor]:
        """Activations (after the LeakyReLU) of the 1-based convolutional ``layers``: DIAT-A's :math:`D_l(x)`.

        Shape: ``(B, 3, S, S) -> {l: (B, C_l, H_l, W_l)}`` (at 128 px: 4 -> 64x32x32, 5 -> 128x16x16).
        """
        self._check(x)
        want = sorted({int(l) for l in layers})
        if not want or want[0] < 1 or want[-1] > len(self.convs):
            raise ValueError(f"layers must be 1-based conv indices in 1..{len(self.convs)}; got {list(layers)}")
        out: Dict[int, Tensor] = {}
        h = x * 2.0 - 1.0  # [0, 1] -> [-1, 1]
        for i, conv in enumerate(self.convs[: want[-1]], start=1):
            h = self.act(conv(h))
            if i in want:
                out[i] = h
        return {int(l): out[int(l)] for l in layers}

    def forward(self, x: Tensor) -> Tensor:
        self._check(x)
        h = x * 2.0 - 1.0
        for conv in self.convs:
            h = self.act(conv(h))  # (B, 128, S/16, S/16) after the sixth
        h = self.act(self.fc1(h.flatten(1)))  # (B, 1000)
        return self.fc2(h).squeeze(1)  # (B,) logit


class Denoiser(nn.Module):
    r"""The denoising network :math:`f` of DIAT eq. (5): "only two convolutional layers with 3x3 kernel".

    It estimates the artifact :math:`\mathbf{n} = g(\mathbf{x}) - \mathbf{x}` and removes it:
    :math:`f(\mathbf{y}) = \mathbf{y} - \text{conv}_2(\text{ReLU}(\text{conv}_1(\mathbf{y})))` (the paper says
    it "separates n from g(x)"; predicting the residual is our reading, and makes :math:`f` start near the
    identity, which the second term of eq. (5) asks for anyway).

    Shape: ``(B, 3, H, W) -> (B, 3, H, W)``.
    """

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.config: Dict[str, object] = {"width": int(width)}
        self.conv1 = nn.Conv2d(3, int(width), 3, padding=1)
        self.conv2 = nn.Conv2d(int(width), 3, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, y: Tensor) -> Tensor:
        return y - self.conv2(torch.relu(self.conv1(y)))  # f(y) = y - n_hat(y)


class LocalEnhancer(nn.Module):
    r"""The local enhancement network of DIAT section 3.2: a 4-layer FCN on the source and the transformed image.

    :math:`E(T(\mathbf{x}))` in eq. (10) also sees :math:`\mathbf{x}` ("the input to the network includes both the
    source input image and the transformed image"): the two are stacked on the channels (6 in) and four 3x3
    convolutions predict a correction that is added to :math:`T(\mathbf{x})`; the result is clamped to [0, 1].

    Shape: ``source, transformed: (B, 3, H, W) -> (B, 3, H, W)``.
    """

    def __init__(self, width: int = 64) -> None:
        super().__init__()
        self.config: Dict[str, object] = {"width": int(width)}
        w = int(width)
        self.body = nn.Sequential(
            nn.Conv2d(6, w, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(w, w, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(w, w, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(w, 3, 3, padding=1),
        )

    def forward(self, source: Tensor, transformed: Tensor) -> Tensor:
        if source.shape != transformed.shape:
            raise ValueError(f"source and transformed must have the same shape; got {tuple(source.shape)} and "
                             f"{tuple(transformed.shape)}")
        delta = self.body(torch.cat([source, transformed], dim=1))  # (B, 3, H, W)
        return (transformed + delta).clamp(0.0, 1.0)


DIAT_NETWORKS = {"TransformNet": TransformNet, "AttributeDiscriminator": AttributeDiscriminator,
                 "Denoiser": Denoiser, "LocalEnhancer": LocalEnhancer}
"""Class by name (what the saved files and :mod:`facekit.hub` entries name)."""


@torch.no_grad()
def transform_images(net: nn.Module, images: Tensor, *, precision: str = "fp32", channels_last: bool = False,
                     batch_size: int = 32, masks: Optional[Tensor] = None) -> Tensor:
    """Run a feed-forward DIAT network (eval mode, no gradient) in chunks, optionally channels-last and bf16.

    Args:
        net: a :class:`TransformNet` (or any image -> image module).
        images: ``(B, 3, H, W)`` RGB in [0, 1].
        precision: ``"fp32"`` or ``"bf16"`` (``torch.autocast`` with bfloat16 on the images' device).
        channels_last: use the ``channels_last`` memory format (the network is converted in place).
        batch_size: images per forward pass.
        masks: ``(B, 1, H, W)`` attribute masks for a ``TransformNet(output="residual")`` (see
            :meth:`TransformNet.forward`); ``None`` for the paper's network.

    Returns:
        ``(B, 3, H, W)`` float32 in [0, 1], contiguous, on the images' device.
    """
    check_image(images, name="images", dtype=net)
    if precision not in ("fp32", "bf16"):
        raise ValueError(f"precision must be 'fp32' or 'bf16'; got {precision!r}")
    was_training = net.training
    net.eval()
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    net.to(memory_format=fmt)
    ctx = (torch.autocast(images.device.type, dtype=torch.bfloat16) if precision == "bf16" else nullcontext())
    if masks is not None and (masks.ndim != 4 or masks.shape[0] != images.shape[0] or masks.shape[1] != 1):
        raise ValueError(f"masks must be (B, 1, H, W) with one mask per image {tuple(images.shape)}; got "
                         f"{tuple(masks.shape)}")
    outs = []
    try:
        with ctx:
            for i, chunk in enumerate(images.split(batch_size)):
                args = (chunk.contiguous(memory_format=fmt),)
                if masks is not None:
                    args += (masks[i * batch_size:(i + 1) * batch_size].to(chunk),)
                outs.append(net(*args).float().contiguous())
    finally:  # the network leaves as it came, also when a chunk fails
        net.to(memory_format=torch.contiguous_format)
        net.train(was_training)
    return torch.cat(outs)
