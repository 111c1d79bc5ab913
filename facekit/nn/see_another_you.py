"""The networks of *Towards Automatic Image Editing: Learning to See another You* (Ghodrati, Jia, Pedersoli,
Tuytelaars, BMVC 2016).

* :class:`GenerationNet` (section 3.1, Fig. 3): a convolutional encoder-decoder with two inputs, a source image
  :math:`X` and a one-hot target attribute :math:`C_Y`, in four parts:

  - image encoding ``Conv(3,3,64)-ReLU-Conv(3,3,64)-ReLU-Pool(2,2)``: ``(B, C, 32, 32) -> (B, 64, 16, 16)``;
  - attribute encoding ``FC(512)-FC(1792)-Reshape(16, 16, 7)``: ``(B, K) -> (B, 7, 16, 16)``; the maps are half
    the input's side, so ``1792 = 7 x 16 x 16`` at 32 px and ``7 x 30 x 30`` at 60 px (Fig. 4 shows them);
  - feature map fusion ``Concat-Conv(3,3,64)-ReLU-Conv(3,3,128)-ReLU-Conv(3,3,128)-ReLU-Conv(3,3,128)-ReLU-
    Conv(3,3,64)-ReLU``: ``(B, 71, 16, 16) -> (B, 64, 16, 16)``;
  - image decoding ``Unpool-Conv(3,3,64)-ReLU-Conv(3,3,C)``, linear output (the images are standardised, so the
    output takes both signs); the unpooling writes each value to the top-left corner of a 2 x 2 block of zeros.

* :class:`RefinementNet` (section 3.2): the source and the stage-1 output, stacked on the channels, then exactly
  the paper's list ``Concat-Conv(3,3,64)-Conv(3,3,64)-Pool(2,2)-Conv(3,3,128)-Conv(3,3,128)-Conv(3,3,128)-
  Conv(3,3,64)-Unpool(2,2)-Conv(3,3,64)-Conv(3,3,C)``, with a ReLU after every convolution but the last. The
  paper retrieves with the feature maps of its "middle layer" (section 4.1.2): :data:`MIDDLE_LAYER`, the ReLU
  output of the second 128-channel convolution, the fourth of its eight convolutions (``(B, 128, 16, 16)``).

* :class:`SeeAnotherYou`: both stages in one module (what :mod:`facekit.hub` loads for each task).

Every weight is initialised with He et al.'s method (the paper's reference [9]; ``kaiming_normal_``, fan-in,
ReLU gain), every bias at zero.

**The paper and the authors' release.** The paper is the default: 32 x 32 grey images (``channels=1``), 3 x 3
filters. The authors' public Theano/Lasagne release differs; the options that reproduce it are documented where
they apply: ``size=60, channels=3`` (60 x 60 colour crops), ``kernel_size=5`` (5 x 5 filters, same padding). The
paper names no activation for the two fully connected layers; we put a ReLU after each (``fc_relu=True``, the
default of Lasagne's ``DenseLayer``). The per-image standardisation of the inputs lives in
:mod:`facekit.methods.see_another_you`, not in the networks.

Example:
    >>> import torch
    >>> net = SeeAnotherYou(n_codes=7)
    >>> x, code = torch.randn(2, 1, 32, 32), torch.eye(7)[[0, 6]]
    >>> y1, y2 = net(x, code)
    >>> tuple(y1.shape), tuple(y2.shape), tuple(net.generator.attribute_maps(code).shape)
    ((2, 1, 32, 32), (2, 1, 32, 32), (2, 7, 16, 16))
"""

from __future__ import annotations

from typing import Any, Dict, List, Sequence, Tuple

import torch
from torch import Tensor, nn

from facekit.nn.features import check_dtype

__all__ = [
    "MIDDLE_LAYER",
    "unpool2x2",
    "Unpool2x2",
    "he_init",
    "check_images",
    "check_codes",
    "GenerationNet",
    "RefinementNet",
    "SeeAnotherYou",
]

MIDDLE_LAYER = "conv4"
"""The refinement network's layer whose (ReLU) maps are the retrieval features of section 4.1.2."""


# ----------------------------------------------------------------------------------------------------------------
# building blocks
# ----------------------------------------------------------------------------------------------------------------
def unpool2x2(x: Tensor) -> Tensor:
    """The 2 x 2 unpooling of section 3.1: each value goes to the top-left of a 2 x 2 block of zeros.

    Args:
        x: ``(B, C, H, W)``.

    Returns:
        ``(B, C, 2H, 2W)`` with ``out[..., 2i, 2j] = x[..., i, j]`` and zeros elsewhere.

    Example:
        >>> unpool2x2(torch.tensor([[[[1.0, 2.0]]]]))
        tensor([[[[1., 0., 2., 0.],
                  [0., 0., 0., 0.]]]])
    """
    if x.ndim != 4:
        raise ValueError(f"unpool2x2 expects (B, C, H, W); got shape {tuple(x.shape)}")
    b, c, h, w = x.shape
    out = x.new_zeros(b, c, 2 * h, 2 * w)
    out[..., ::2, ::2] = x
    return out


class Unpool2x2(nn.Module):
    """:func:`unpool2x2` as a module (``(B, C, H, W) -> (B, C, 2H, 2W)``)."""

    def forward(self, x: Tensor) -> Tensor:
        return unpool2x2(x)


def _conv(cin: int, cout: int, k: int) -> nn.Conv2d:
    if k % 2 != 1:
        raise ValueError(f"kernel_size must be odd (same padding); got {k}")
    return nn.Conv2d(cin, cout, k, padding=k // 2)


def he_init(module: nn.Module) -> nn.Module:
    """He et al. (2015) initialisation of every conv and linear weight (fan-in, ReLU gain); biases at zero."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return module


def check_images(x: Any, channels: int, size: int, name: str = "x", dtype: Any = None) -> None:
    """Raise a clear error unless ``x`` is a float ``(B, channels, size, size)`` tensor (of ``dtype``, the network's
    weights' dtype or the network, when given: see :func:`facekit.nn.features.check_dtype`)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor (B, {channels}, {size}, {size}); got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor (standardised images); got {x.dtype}")
    check_dtype(x, dtype, name)
    if x.ndim != 4 or x.shape[1] != channels or tuple(x.shape[2:]) != (size, size):
        raise ValueError(f"{name} must have shape (B, {channels}, {size}, {size}); got {tuple(x.shape)}")


def check_codes(code: Any, n_codes: int, batch: int) -> None:
    """Raise a clear error unless ``code`` is a float ``(batch, n_codes)`` tensor of one-hot target attributes.

    A row that sums to 0 (no attribute) or holds a NaN or a negative value is refused; a row of non-negative
    values summing to 1 (a mixture of attributes) is accepted."""
    if not isinstance(code, Tensor):
        raise TypeError(f"code must be a torch.Tensor (B, {n_codes}) one-hot; got {type(code).__name__}")
    if not code.is_floating_point():
        raise TypeError(f"code must be a floating-point one-hot tensor; got {code.dtype} (use F.one_hot(...).float())")
    if code.ndim != 2 or code.shape[1] != n_codes or code.shape[0] != batch:
        raise ValueError(f"code must have shape ({batch}, {n_codes}) (one one-hot row per image); "
                         f"got {tuple(code.shape)}")
    c = code.detach()
    if not bool(c.isfinite().all()) or bool((c < 0).any()) or not bool(((c.sum(1) - 1).abs() <= 1e-3).all()):
        rows = (~c.isfinite().all(1) | (c < 0).any(1) | ((c.sum(1) - 1).abs() > 1e-3)).nonzero().reshape(-1)
        raise ValueError(f"each code row must be one-hot (a single 1, zeros elsewhere; a mixture of attributes must "
                         f"be non-negative and sum to 1); rows {rows[:5].tolist()} are not, e.g. "
                         f"{c[rows[0]].tolist()}")


def _check_size(size: int) -> int:
    size = int(size)
    if size < 4 or size % 4:
        raise ValueError(f"size must be a multiple of 4 (two 2x2 poolings and unpoolings fit); got {size}")
    return size


# ----------------------------------------------------------------------------------------------------------------
# section 3.1: the generation network
# ----------------------------------------------------------------------------------------------------------------
class GenerationNet(nn.Module):
    """The convolutional encoder-decoder of section 3.1 (Fig. 3): :math:`\\hat Y_1 = F_1(X, C_Y)`.

    Args:
        n_codes: length of the one-hot attribute vector (7 poses, 7 accessory states, ...).
        size: input side in pixels (the paper: 32; the release: 60). A multiple of 4.
        channels: image channels (the paper: 1, grey; the release: 3).
        kernel_size: filter side (the paper: 3; the release: 5), same padding.
        attribute_maps: number of attribute feature maps (the paper: 7; Fig. 4 uses a network with one).
        fc_hidden: width of the first fully connected layer (the paper: 512).
        fc_relu: a ReLU after each fully connected layer (the paper names none; Lasagne's default).

    Shape:
        ``x``: ``(B, channels, size, size)`` standardised images; ``code``: ``(B, n_codes)`` float one-hot;
        output ``(B, channels, size, size)`` (linear, standardised units).
    """

    def __init__(self, n_codes: int = 7, *, size: int = 32, channels: int = 1, kernel_size: int = 3,
                 attribute_maps: int = 7, fc_hidden: int = 512, fc_relu: bool = True) -> None:
        super().__init__()
        if int(n_codes) < 1 or int(attribute_maps) < 1 or int(channels) < 1:
            raise ValueError(f"n_codes, attribute_maps and channels must be >= 1; got {n_codes}, {attribute_maps}, "
                             f"{channels}")
        self.n_codes, self.size, self.channels = int(n_codes), _check_size(size), int(channels)
        self.kernel_size, self.n_maps, self.fc_hidden = int(kernel_size), int(attribute_maps), int(fc_hidden)
        self.fc_relu = bool(fc_relu)
        k, half = self.kernel_size, self.size // 2
        # image encoding: Conv(3,3,64)-ReLU-Conv(3,3,64)-ReLU-Pool(2,2)
        self.image_encoder = nn.Sequential(_conv(self.channels, 64, k), nn.ReLU(), _conv(64, 64, k), nn.ReLU(),
                                           nn.MaxPool2d(2))
        # attribute encoding: FC(512)-FC(1792)-Reshape(16, 16, 7) at 32 px
        act = [nn.ReLU()] if self.fc_relu else []
        self.attribute_encoder = nn.Sequential(nn.Linear(self.n_codes, self.fc_hidden), *act,
                                               nn.Linear(self.fc_hidden, self.n_maps * half * half), *act)
        # feature map fusion: Concat-Conv64-Conv128-Conv128-Conv128-Conv64, each with a ReLU
        widths = (64, 128, 128, 128, 64)
        fusion: List[nn.Module] = []
        cin = 64 + self.n_maps
        for cout in widths:
            fusion += [_conv(cin, cout, k), nn.ReLU()]
            cin = cout
        self.fusion = nn.Sequential(*fusion)
        # image decoding: Unpool-Conv(3,3,64)-ReLU-Conv(3,3,C), linear output
        self.decoder = nn.Sequential(Unpool2x2(), _conv(64, 64, k), nn.ReLU(), _conv(64, self.channels, k))
        he_init(self)

    @property
    def config(self) -> Dict[str, Any]:
        """The constructor arguments (stored with the weights)."""
        return {"n_codes": self.n_codes, "size": self.size, "channels": self.channels,
                "kernel_size": self.kernel_size, "attribute_maps": self.n_maps, "fc_hidden": self.fc_hidden,
                "fc_relu": self.fc_relu}

    def attribute_maps(self, code: Tensor) -> Tensor:
        """The attribute encoding alone: ``(B, n_codes) -> (B, attribute_maps, size / 2, size / 2)`` (Fig. 4)."""
        check_codes(code, self.n_codes, code.shape[0] if isinstance(code, Tensor) and code.ndim else -1)
        half = self.size // 2
        return self.attribute_encoder(code).view(code.shape[0], self.n_maps, half, half)

    def forward(self, x: Tensor, code: Tensor) -> Tensor:
        check_images(x, self.channels, self.size, dtype=self)
        check_codes(code, self.n_codes, x.shape[0])
        feats = self.image_encoder(x)  # (B, 64, S/2, S/2)
        maps = self.attribute_maps(code)  # (B, 7, S/2, S/2)
        fused = self.fusion(torch.cat([feats, maps], dim=1))  # (B, 71, ...) -> (B, 64, S/2, S/2)
        return self.decoder(fused)  # (B, C, S, S)


# ----------------------------------------------------------------------------------------------------------------
# section 3.2: the refinement network
# ----------------------------------------------------------------------------------------------------------------
class RefinementNet(nn.Module):
    """The refinement network of section 3.2: :math:`\\hat Y_2 = F_2(X, \\hat Y_1)`.

    ``Concat-Conv(3,3,64)-Conv(3,3,64)-Pool(2,2)-Conv(3,3,128)-Conv(3,3,128)-Conv(3,3,128)-Conv(3,3,64)-
    Unpool(2,2)-Conv(3,3,64)-Conv(3,3,C)``, a ReLU after every convolution but the last. The convolutions are the
    attributes ``conv1`` .. ``conv8``; :meth:`features` returns the ReLU maps of any of them.

    Args:
        size, channels, kernel_size: as in :class:`GenerationNet`.

    Shape:
        ``x``, ``y1``: ``(B, channels, size, size)``; output the same.
    """

    WIDTHS: Tuple[int, ...] = (64, 64, 128, 128, 128, 64, 64)

    def __init__(self, *, size: int = 32, channels: int = 1, kernel_size: int = 3) -> None:
        super().__init__()
        self.size, self.channels, self.kernel_size = _check_size(size), int(channels), int(kernel_size)
        k = self.kernel_size
        cin = 2 * self.channels
        for i, cout in enumerate(self.WIDTHS, start=1):
            setattr(self, f"conv{i}", _conv(cin, cout, k))
            cin = cout
        self.conv8 = _conv(cin, self.channels, k)
        self.pool = nn.MaxPool2d(2)
        self.unpool = Unpool2x2()
        he_init(self)

    @property
    def config(self) -> Dict[str, Any]:
        """The constructor arguments."""
        return {"size": self.size, "channels": self.channels, "kernel_size": self.kernel_size}

    def _run(self, x: Tensor, y1: Tensor, stop: str = "") -> Dict[str, Tensor]:
        check_images(x, self.channels, self.size, "x (the source)", dtype=self)
        check_images(y1, self.channels, self.size, "y1 (the stage-1 output)", dtype=self)
        if x.shape[0] != y1.shape[0]:
            raise ValueError(f"x and y1 must hold the same number of images; got {x.shape[0]} and {y1.shape[0]}")
        h = torch.cat([x, y1], dim=1)  # Concat: (B, 2C, S, S)
        out: Dict[str, Tensor] = {}
        for i in range(1, 9):
            if i == 3:
                h = self.pool(h)  # Pool(2,2) after conv2
            if i == 7:
                h = self.unpool(h)  # Unpool(2,2) after conv6
            h = getattr(self, f"conv{i}")(h)
            if i < 8:
                h = torch.relu(h)
            out[f"conv{i}"] = h
            if stop == f"conv{i}":
                break
        return out

    def forward(self, x: Tensor, y1: Tensor) -> Tensor:
        return self._run(x, y1)["conv8"]

    def features(self, x: Tensor, y1: Tensor, layers: Sequence[str] = (MIDDLE_LAYER,)) -> Dict[str, Tensor]:
        """The maps of ``layers`` (``"conv1"`` .. ``"conv8"``; ReLU outputs but for ``conv8``), stopping early.

        Example:
            >>> net = RefinementNet()
            >>> tuple(net.features(torch.randn(1, 1, 32, 32), torch.randn(1, 1, 32, 32))["conv4"].shape)
            (1, 128, 16, 16)
        """
        valid = [f"conv{i}" for i in range(1, 9)]
        unknown = [name for name in layers if name not in valid]
        if unknown or not layers:
            raise ValueError(f"layers must be among {', '.join(valid)}; got {list(layers)}")
        last = max(layers, key=valid.index)
        out = self._run(x, y1, stop=last)
        return {name: out[name] for name in layers}


# ----------------------------------------------------------------------------------------------------------------
# both stages
# ----------------------------------------------------------------------------------------------------------------
class SeeAnotherYou(nn.Module):
    """Both stages of the paper in one module: ``(x, code) -> (y1, y2)``; what :mod:`facekit.hub` ships per task.

    Args:
        n_codes, size, channels, kernel_size, attribute_maps, fc_hidden, fc_relu: as in :class:`GenerationNet`
            (the refinement network takes ``size``, ``channels`` and ``kernel_size``).

    Attributes:
        generator: the :class:`GenerationNet` (stage 1).
        refiner: the :class:`RefinementNet` (stage 2).
    """

    def __init__(self, n_codes: int = 7, *, size: int = 32, channels: int = 1, kernel_size: int = 3,
                 attribute_maps: int = 7, fc_hidden: int = 512, fc_relu: bool = True) -> None:
        super().__init__()
        self.generator = GenerationNet(n_codes, size=size, channels=channels, kernel_size=kernel_size,
                                       attribute_maps=attribute_maps, fc_hidden=fc_hidden, fc_relu=fc_relu)
        self.refiner = RefinementNet(size=size, channels=channels, kernel_size=kernel_size)

    @property
    def config(self) -> Dict[str, Any]:
        """The constructor arguments (stored with the weights)."""
        return self.generator.config

    def forward(self, x: Tensor, code: Tensor) -> Tuple[Tensor, Tensor]:
        y1 = self.generator(x, code)  # section 3.1
        return y1, self.refiner(x, y1)  # section 3.2
