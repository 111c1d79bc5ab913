"""DlibFaceNet: dlib's face-recognition ResNet (``dlib_face_recognition_resnet_model_v1``) in PyTorch.

A real, pretrained face network that needs no download: the ``face_recognition_models`` package (MIT; the model
itself is public domain) ships dlib's ``dlib_face_recognition_resnet_model_v1.dat``, a 29-convolution ResNet
trained by Davis King on about 3 million faces (99.38 % on LFW). dlib runs it in C++ and only returns the final
descriptor; this module reads the same file **without importing dlib** and rebuilds the network as a
:class:`~facekit.nn.FeatureNet`, so it is differentiable and its intermediate maps can drive perceptual losses.

The architecture (dlib's ``examples/dnn_face_recognition_ex.cpp``, ``anet_type``), input a 150 x 150 RGB chip:

=========  =====================================================================  ====================
stage      layers                                                                 output (150 px chip)
=========  =====================================================================  ====================
``conv1``  ``con<32,7,7,2,2>`` -> ``affine1`` -> ``relu1`` -> ``pool1``           32 x 35 x 35
           (``max_pool<3,3,2,2>``)
stage 1    ``res1_1 .. res1_3``: 3 x ``ares<32>``                                 32 x 35 x 35
stage 2    ``res2_1``: ``ares_down<64>``, ``res2_2 .. res2_4``: 3 x ``ares<64>``  64 x 17 x 17
stage 3    ``res3_1``: ``ares_down<128>``, ``res3_2, res3_3``                     128 x 8 x 8
stage 4    ``res4_1``: ``ares_down<256>``, ``res4_2, res4_3``                     256 x 4 x 4
stage 5    ``res5_1``: ``ares_down<256>``                                         256 x 2 x 2
head       ``gap`` (``avg_pool_everything``), ``flatten``, ``fc``                 128
           (``fc_no_bias<128>``)
=========  =====================================================================  ====================

A residual block (``ares``) is ``relu(affine(conv3x3(relu(affine(conv3x3_stride(x))))) + skip(x))``; in
``ares_down`` the first convolution has stride 2 and the skip path is ``avg_pool<2,2,2,2>``. ``affine`` is batch
normalisation folded into a per-channel scale and shift. Two of dlib's rules matter (``dlib/dnn/layers.h``):

* a convolution or pooling with a stride other than 1 has **no padding** (otherwise ``kernel // 2``);
* ``add_prev`` of two tensors of different shapes gives a tensor as large as the larger in every dimension, each
  input anchored at the top-left corner and zero-filled (``dlib/cuda/cpu_dlib.cpp``, ``add``). Every
  ``ares_down`` block hits it: more channels on the main path, and in stage 4 a 3 x 3 main path beside a 4 x 4
  skip path (``(8 - 3) // 2 + 1 = 3`` against ``(8 - 2) // 2 + 1 = 4``).

Input (``dlib/dnn/input.h``, ``input_rgb_image_sized``): RGB in 0-255, ``x = (pixel - mean) / 256`` with the mean
``(122.782, 117.001, 104.298)`` stored in the file. The output is a raw 128-D descriptor (norm about 1.4, not
normalised); dlib calls two faces the same person when their Euclidean distance is below 0.6. The chip must be
aligned as dlib aligns it: :func:`facekit.align.dlib_face_chip`.

**Which stage is like which VGG-Face layer?** By position in the network (the number of halvings of the
resolution before it), VGG-Face's block ``b`` corresponds to: block 1 -> ``relu1`` (the stem), block 2 ->
``stage1``, block 3 -> ``stage2``, block 4 -> ``stage3``, block 5 -> ``stage4`` (:data:`VGG_BLOCK_TO_STAGE`). So
CNIA's conv3_1 is closest to ``stage2`` (64 x 17 x 17): feature inversion from it gives a recognisable face with
washed-out colour, as CNIA's Fig. 6 shows for conv3_1, while ``relu1`` and ``stage1`` give near copies and
``stage4`` textures that no detector calls a face (``bench/features.py``, ``inversion`` rows). VGG-style names
and the papers' integer indices are accepted and resolved through that table (``"relu3_1" -> "res2_4"``), so a
chapter written for VGG-Face runs on this network unchanged.

The file format (dlib's ``serialize.h``, ``dnn/core.h``, ``dnn/layers.h``, ``cuda/tensor.h``), as
:func:`read_dlib_face_resnet` reads it: an integer is a control byte (bit 7 = negative, low nibble = number of
bytes) then that many little-endian bytes; a float is an integer mantissa then an integer exponent
(``mantissa * 2**exponent``); a string is its length then its bytes; a bool is the byte ``'0'`` or ``'1'``; a
tensor is a version (2), four dimensions, then raw little-endian float32. The network is written from the loss
inwards: each layer writes its version, then its whole subnetwork, then its own details (a version string such
as ``"con_4"`` and its parameters), so the details come back innermost first.

Example:
    >>> import torch
    >>> net = DlibFaceNet()                                       # random weights; hub.pretrained loads dlib's
    >>> feats = net.extract(torch.rand(2, 3, 150, 150), ["stage2", "fc"])
    >>> {k: tuple(v.shape) for k, v in feats.items()}
    {'res2_4': (2, 64, 17, 17), 'fc': (2, 128)}
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from facekit.hub import WeightsFormatError
from facekit.nn.features import FeatureNet, LayerSpec

__all__ = [
    "DlibFaceNet",
    "DlibFileError",
    "read_dlib_face_resnet",
    "DLIB_PIXEL_MEANS",
    "DLIB_STAGES",
    "VGG_BLOCK_TO_STAGE",
    "DLIB_CHIP_SIZE",
]

DLIB_CHIP_SIZE: int = 150
"""The network's input: a 150 x 150 aligned chip (``input_rgb_image_sized<150>``)."""

DLIB_PIXEL_MEANS: Tuple[float, float, float] = (122.782, 117.001, 104.298)
"""The RGB means (0-255) that ``input_rgb_image_sized`` subtracts before dividing by 256 (stored in the file too)."""

DLIB_STAGES: Dict[str, str] = {
    "stem": "pool1",
    "stage1": "res1_3",
    "stage2": "res2_4",
    "stage3": "res3_3",
    "stage4": "res4_3",
    "stage5": "res5_1",
    "embedding": "fc",
}
"""Short names of the stage outputs -> the layer that ends each stage (``extract`` returns that layer's name)."""

VGG_BLOCK_TO_STAGE: Dict[int, str] = {1: "relu1", 2: "res1_3", 3: "res2_4", 4: "res3_3", 5: "res4_3"}
"""VGG-Face block ``b`` (``convB_K``, ``reluB_K``, ``poolB``) -> the DlibFaceNet layer at the same depth."""

_VGG_BLOCKS: Tuple[int, ...] = (2, 2, 3, 3, 3)  # VGG-16's convolutions per block: index l -> block

# (channels, blocks, first block downsamples) per stage: alevel4 .. alevel0 of dnn_face_recognition_ex.cpp
_STAGE_PLAN: Tuple[Tuple[int, int, bool], ...] = ((32, 3, False), (64, 4, True), (128, 3, True), (256, 3, True),
                                                  (256, 1, True))


# ----------------------------------------------------------------------------------------------------------------
# Building blocks
# ----------------------------------------------------------------------------------------------------------------


class _Affine(nn.Module):
    """dlib's ``affine`` layer: a per-channel scale and shift (batch norm with its statistics folded in)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))  # gamma
        self.bias = nn.Parameter(torch.zeros(channels))  # beta

    def forward(self, x: Tensor) -> Tensor:  # (B, C, H, W)
        return x * self.weight[:, None, None] + self.bias[:, None, None]


def add_prev(a: Tensor, b: Tensor) -> Tensor:
    """dlib's ``add_prev``: the sum of two maps of possibly different shapes.

    The result is as large as the larger input in every dimension; each input sits at the top-left corner and
    the rest is zero (``dlib/cuda/cpu_dlib.cpp``, ``add(dest, src1, src2)``).

    Shape:
        - a: :math:`(B, C_a, H_a, W_a)`, b: :math:`(B, C_b, H_b, W_b)`
        - output: :math:`(B, \\max C, \\max H, \\max W)`

    Example:
        >>> add_prev(torch.ones(1, 2, 3, 3), torch.ones(1, 1, 4, 4)).shape
        torch.Size([1, 2, 4, 4])
    """
    if a.shape == b.shape:
        return a + b
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"add_prev: batch sizes differ ({a.shape[0]} and {b.shape[0]})")
    c, h, w = (max(p, q) for p, q in zip(a.shape[1:], b.shape[1:]))

    def grow(t: Tensor) -> Tensor:  # zero-fill at the end of C, H and W (top-left anchored)
        return F.pad(t, (0, w - t.shape[3], 0, h - t.shape[2], 0, c - t.shape[1]))

    return grow(a) + grow(b)


class DlibResidual(nn.Module):
    """dlib's ``ares<N>`` (``down=False``) or ``ares_down<N>`` (``down=True``) block.

    ``relu(add_prev(affine_b(conv_b(relu(affine_a(conv_a(x))))), skip(x)))`` with ``conv_a`` of stride 2 and
    ``skip = avg_pool<2,2,2,2>`` when ``down``, else stride 1 and the identity.

    Shape:
        - input: :math:`(B, C_{in}, H, W)`
        - output: :math:`(B, N, H', W')`, ``H' = H`` or ``(H - 3) // 2 + 1`` when ``down`` (or the skip's size
          if larger, see :func:`add_prev`).
    """

    def __init__(self, in_channels: int, channels: int, down: bool) -> None:
        super().__init__()
        stride = 2 if down else 1
        self.down = down
        self.conv_a = nn.Conv2d(in_channels, channels, 3, stride=stride, padding=0 if down else 1)  # dlib's rule
        self.affine_a = _Affine(channels)
        self.conv_b = nn.Conv2d(channels, channels, 3, stride=1, padding=1)
        self.affine_b = _Affine(channels)

    def forward(self, x: Tensor) -> Tensor:
        h = F.relu(self.affine_a(self.conv_a(x)))
        h = self.affine_b(self.conv_b(h))
        skip = F.avg_pool2d(x, 2, stride=2) if self.down else x  # avg_pool<2,2,2,2>: stride 2, no padding
        return F.relu(add_prev(h, skip))


# ----------------------------------------------------------------------------------------------------------------
# The network
# ----------------------------------------------------------------------------------------------------------------


class DlibFaceNet(FeatureNet):
    """dlib's face-recognition ResNet with named layers (see the module docstring for the table).

    Args:
        pixel_means: the RGB means (0-255) subtracted before the division by 256 (read from the ``.dat`` file
            when the network is loaded with :func:`facekit.hub.pretrained`).
        resize: resize inputs that are not ``150 x 150`` to that size inside (bilinear, antialiased when
            shrinking), so the network takes any image size, like the other feature networks. With ``False``,
            other sizes are an error. Either way a **descriptor** is only meaningful on a chip aligned as dlib
            aligns it (:func:`facekit.align.dlib_face_chip`).

    Input: RGB in ``[0, 1]``, ``(B, 3, H, W)``.

    Layers: ``conv1, affine1, relu1, pool1, res1_1 .. res1_3, res2_1 .. res2_4, res3_1 .. res3_3, res4_1 .. res4_3,
    res5_1, gap, flatten, fc``; also ``stem``, ``stage1`` .. ``stage5``, ``embedding`` (:data:`DLIB_STAGES`) and
    VGG-Face's names and 1-based conv indices (:data:`VGG_BLOCK_TO_STAGE`); all come back under the layer name.

    Example:
        >>> net = DlibFaceNet()
        >>> net.resolve_layer("relu3_1"), net.resolve_layer(5), net.resolve_layer("stage5")
        ('res2_4', 'res2_4', 'res5_1')
        >>> tuple(net.embed(torch.rand(1, 3, 150, 150)).shape)
        (1, 128)
    """

    input_size = DLIB_CHIP_SIZE
    description = "DlibFaceNet (dlib's face-recognition ResNet), random weights"

    def __init__(self, pixel_means: Sequence[float] = DLIB_PIXEL_MEANS, resize: bool = True) -> None:
        super().__init__()
        if len(pixel_means) != 3:
            raise ValueError(f"pixel_means must be three RGB values in 0-255; got {pixel_means!r}")
        self.pixel_means = tuple(float(v) for v in pixel_means)
        self.resize = bool(resize)
        self.register_buffer("mean", torch.tensor(self.pixel_means).view(1, 3, 1, 1) / 255.0, persistent=False)
        self.conv1 = nn.Conv2d(3, 32, 7, stride=2, padding=0)  # con<32,7,7,2,2>: stride 2, so no padding
        self.affine1 = _Affine(32)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(3, stride=2, padding=0)  # max_pool<3,3,2,2>
        stages: List[Tuple[str, str]] = [(n, n) for n in ("conv1", "affine1", "relu1", "pool1")]
        cin = 32
        for s, (channels, blocks, first_down) in enumerate(_STAGE_PLAN, start=1):
            for k in range(1, blocks + 1):
                name = f"res{s}_{k}"
                setattr(self, name, DlibResidual(cin, channels, down=first_down and k == 1))
                stages.append((name, name))
                cin = channels
        self.gap = nn.AdaptiveAvgPool2d(1)  # avg_pool_everything
        self.flatten = nn.Flatten(1)
        self.fc = nn.Linear(cin, 128, bias=False)  # fc_no_bias<128>
        stages += [("gap", "gap"), ("flatten", "flatten"), ("fc", "fc")]
        self._set_stages(stages)

    # -- names -----------------------------------------------------------------------------------------------
    def resolve_layer(self, layer: LayerSpec) -> str:
        """A layer name, a stage name (:data:`DLIB_STAGES`), or a VGG-Face name / 1-based conv index.

        VGG-Face's ``convB_K`` / ``reluB_K`` / ``poolB`` and the papers' index ``l`` (``5`` = conv3_1) map to the
        layer at the same depth (:data:`VGG_BLOCK_TO_STAGE`): every layer of VGG block ``b`` gives the same map.

        Example:
            >>> DlibFaceNet().resolve_layer("conv2_2")
            'res1_3'
        """
        if isinstance(layer, bool) or not isinstance(layer, (int, str)):
            raise TypeError(f"a layer is a name (str) or a 1-based VGG conv-layer index (int); got {layer!r}")
        if isinstance(layer, int):
            if not 1 <= layer <= sum(_VGG_BLOCKS):
                raise ValueError(
                    f"DlibFaceNet reads a layer index as VGG-Face's 1-based conv index (1..13, 5 = conv3_1); got "
                    f"{layer}. Use a layer name instead: {', '.join(self.layer_names)}"
                )
            block = int(np.searchsorted(np.cumsum(_VGG_BLOCKS), layer)) + 1  # l -> VGG block
            return VGG_BLOCK_TO_STAGE[block]
        if layer in DLIB_STAGES:
            return DLIB_STAGES[layer]
        for prefix in ("conv", "relu", "pool"):
            rest = layer[len(prefix):]
            if layer.startswith(prefix) and rest[:1].isdigit() and (prefix == "pool" or "_" in rest):
                block = int(rest.split("_")[0])
                if block in VGG_BLOCK_TO_STAGE and layer not in self._index:
                    return VGG_BLOCK_TO_STAGE[block]
        if layer not in self._index:
            raise ValueError(
                f"DlibFaceNet has no layer {layer!r}; valid names are: {', '.join(self.layer_names)}, the stage "
                f"names {', '.join(DLIB_STAGES)}, and VGG-Face's convB_K / reluB_K / poolB for B in 1..5"
            )
        return layer

    @property
    def conv_layers(self) -> List[str]:
        """The convolutions in order (``conv1``, then two per residual block)."""
        return ["conv1"] + [f"{n}.conv_{ab}" for n in self.layer_names if n.startswith("res") for ab in "ab"]

    # -- running it ------------------------------------------------------------------------------------------
    def _check_size(self, x: Tensor, last: int) -> None:
        h, w = x.shape[-2:]
        if not self.resize and (h, w) != (DLIB_CHIP_SIZE, DLIB_CHIP_SIZE):
            raise ValueError(
                f"DlibFaceNet(resize=False) takes 150x150 chips; got {h}x{w}. Align faces with "
                "facekit.align.dlib_face_chip, or build the network with resize=True"
            )

    def preprocess(self, x: Tensor) -> Tensor:
        """RGB in [0, 1] -> dlib's input, ``(255 x - mean) / 256``, at 150 x 150. ``(B, 3, H, W) -> (B, 3, 150, 150)``."""
        s = DLIB_CHIP_SIZE
        if x.shape[-2:] != (s, s):
            x = F.interpolate(x, size=(s, s), mode="bilinear", align_corners=False,
                              antialias=min(x.shape[-2:]) > s)
        return (x - self.mean.to(x.dtype)) * (255.0 / 256.0)  # (B, 3, 150, 150)

    def embed(self, x: Tensor) -> Tensor:
        """dlib's raw 128-D face descriptor (not normalised; same person below a Euclidean distance of 0.6).

        Shape:
            - x: :math:`(B, 3, 150, 150)` aligned chips (:func:`facekit.align.dlib_face_chip`), RGB in ``[0, 1]``.
            - output: :math:`(B, 128)`.
        """
        return self.extract(x, ["fc"])["fc"]

    def embedding(self, x: Tensor) -> Tensor:
        """The descriptor scaled to unit length (for code that compares embeddings by cosine, as SynthFaceNet's).

        Shape:
            - x: :math:`(B, 3, H, W)`; output: :math:`(B, 128)`, unit length.
        """
        return F.normalize(self.embed(x), dim=1)

    @classmethod
    def from_dat(cls, path: Union[str, Path], **kwargs: Any) -> "DlibFaceNet":
        """Build the network from a dlib ``.dat`` file (no hash check; :func:`facekit.hub.pretrained` checks it).

        Raises:
            DlibFileError: the file is truncated or is not this network.
        """
        state, config = read_dlib_face_resnet(path)
        net = cls(**{**config, **kwargs})
        net.load_state_dict(state, strict=True)
        net.description = f"DlibFaceNet (dlib_face_recognition_resnet_model_v1), weights {path}"
        return net.eval()


# ----------------------------------------------------------------------------------------------------------------
# Reading dlib's file
# ----------------------------------------------------------------------------------------------------------------


class DlibFileError(WeightsFormatError):
    """A dlib ``.dat`` file could not be read as the expected network (truncated, damaged, or another model).

    A :class:`facekit.hub.WeightsFormatError`, so code that catches the hub's errors catches it too.
    """


class _Stream:
    """dlib's serialisation primitives (``dlib/serialize.h``) over the bytes of one file."""

    def __init__(self, data: bytes, name: str) -> None:
        self.data, self.name, self.pos = data, name, 0

    def fail(self, what: str) -> DlibFileError:
        return DlibFileError(
            f"{self.name} is not a readable dlib_face_recognition_resnet_model_v1 network: {what} (at byte "
            f"{self.pos} of {len(self.data)}). A truncated or damaged copy, or another dlib model, looks like "
            "this; reinstall it with: pip install --force-reinstall face_recognition_models"
        )

    def raw(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise self.fail(f"the file ends where {n} more bytes were expected (truncated?)")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def int_(self) -> int:
        control = self.raw(1)[0]  # bit 7: negative; bits 0-3: how many little-endian bytes follow
        size = control & 0x0F
        if control & 0x70 or not 1 <= size <= 8:
            self.pos -= 1
            raise self.fail(f"an integer was expected, found the byte 0x{control:02x}")
        value = int.from_bytes(self.raw(size), "little")
        return -value if control & 0x80 else value

    def float_(self) -> float:
        mantissa, exponent = self.int_(), self.int_()  # float_details: mantissa * 2**exponent
        special = {32000: math.inf, 32001: -math.inf, 32002: math.nan}
        return special[exponent] if exponent in special else math.ldexp(mantissa, exponent)

    def string(self) -> str:
        n = self.int_()
        if not 0 <= n <= 64:
            raise self.fail(f"a layer name was expected, found a string length of {n}")
        return self.raw(n).decode("latin-1")

    def bool_(self) -> bool:
        b = self.raw(1)
        if b not in (b"0", b"1"):
            self.pos -= 1
            raise self.fail(f"a bool ('0' or '1') was expected, found {b!r}")
        return b == b"1"

    def version(self, allowed: Sequence[int], what: str) -> int:
        v = self.int_()
        if v not in allowed:
            raise self.fail(f"{what}: version {v}, expected one of {list(allowed)}")
        return v

    def tensor(self) -> np.ndarray:
        self.version([2], "tensor")
        dims = [self.int_() for _ in range(4)]  # num_samples, k, nr, nc
        if any(d < 0 for d in dims) or math.prod(dims) > 1 << 28:
            raise self.fail(f"a tensor has impossible dimensions {dims}")
        n = math.prod(dims)
        return np.frombuffer(self.raw(4 * n), dtype="<f4").reshape(dims).copy()  # raw little-endian float32

    def alias(self) -> Tuple[int, ...]:
        self.version([1], "alias_tensor")
        return tuple(self.int_() for _ in range(4))


@dataclass
class _Layer:
    """One layer of the dlib network (outermost first), what the file must say about it, and what was read."""

    kind: str  # loss_metric, fc, avg_pool, max_pool, relu, add_prev, tag, skip, con, affine, input
    expect: Dict[str, int] = field(default_factory=dict)
    read: Dict[str, Any] = field(default_factory=dict)

    @property
    def wrapper(self) -> str:
        return {"tag": "add_tag_layer", "skip": "add_skip_layer", "loss_metric": "add_loss_layer",
                "input": "input"}.get(self.kind, "add_layer")


def _con(n: int, k: int, s: int) -> _Layer:
    return _Layer("con", {"num_filters": n, "nr": k, "nc": k, "stride_y": s, "stride_x": s,
                          "padding_y": 0 if s != 1 else k // 2, "padding_x": 0 if s != 1 else k // 2})


def _pool(kind: str, k: int, s: int) -> _Layer:
    return _Layer(kind, {"nr": k, "nc": k, "stride_y": s, "stride_x": s,
                         "padding_y": 0 if s != 1 else k // 2, "padding_x": 0 if s != 1 else k // 2})


def _ares(n: int, down: bool) -> List[_Layer]:
    """The layers of ``ares<n>`` / ``ares_down<n>``, outermost first (dnn_face_recognition_ex.cpp templates)."""
    block = [_Layer("affine"), _con(n, 3, 1), _Layer("relu"), _Layer("affine"), _con(n, 3, 2 if down else 1)]
    if down:  # relu<add_prev2<avg_pool<2,2,2,2,skip1<tag2<block<N,BN,2,tag1<SUBNET>>>>>>>
        return [_Layer("relu"), _Layer("add_prev"), _pool("avg_pool", 2, 2), _Layer("skip"), _Layer("tag"),
                *block, _Layer("tag")]
    return [_Layer("relu"), _Layer("add_prev"), *block, _Layer("tag")]  # relu<add_prev1<block<N,BN,1,tag1<..>>>>


def _dlib_layers() -> List[_Layer]:
    """``anet_type`` of dnn_face_recognition_ex.cpp as a list of layers, from the loss inwards."""
    layers = [_Layer("loss_metric"), _Layer("fc", {"num_outputs": 128}), _pool("avg_pool", 0, 1)]
    layers[-1].expect.update(padding_y=0, padding_x=0)  # avg_pool_everything: nr = nc = 0, stride 1, no padding
    for channels, blocks, first_down in reversed(_STAGE_PLAN):  # alevel0 (outermost) .. alevel4
        for k in range(blocks, 0, -1):
            layers += _ares(channels, down=first_down and k == 1)
    layers += [_pool("max_pool", 3, 2), _Layer("relu"), _Layer("affine"), _con(32, 7, 2), _Layer("input")]
    return layers


def _read_details(s: _Stream, layer: _Layer) -> None:
    """Read one layer's details (its version string and parameters) and check them against ``layer.expect``."""
    start = s.pos
    name = s.string()
    r = layer.read
    kind = {"loss_metric_": "loss_metric", "loss_metric_2": "loss_metric", "fc_2": "fc", "fc_3": "fc",
            "avg_pool_2": "avg_pool", "max_pool_2": "max_pool", "relu_": "relu", "relu_2": "relu",
            "add_prev_": "add_prev", "affine_": "affine", "affine_2": "affine", "con_4": "con", "con_5": "con",
            "con_6": "con", "input_rgb_image_sized": "input"}.get(name)
    if kind != layer.kind:
        s.pos = start
        raise s.fail(f"expected the details of a {layer.kind} layer, found {name!r}")
    if name == "loss_metric_2":
        r["margin"], r["distance_threshold"] = s.float_(), s.float_()
    elif kind == "fc":
        r["num_outputs"], r["num_inputs"] = s.int_(), s.int_()
        r["params"], r["weights"], r["biases"] = s.tensor(), s.alias(), s.alias()
        r["bias_mode"] = s.int_()
        _ = [s.float_() for _ in range(4)]  # learning-rate and weight-decay multipliers
        if name == "fc_3":
            r["use_bias"] = s.bool_()
    elif kind in ("avg_pool", "max_pool"):
        for key in ("nr", "nc", "stride_y", "stride_x", "padding_y", "padding_x"):
            r[key] = s.int_()
    elif name == "relu_2":
        r["disabled"] = s.bool_()
    elif kind == "affine":
        r["params"], r["gamma"], r["beta"], r["mode"] = s.tensor(), s.alias(), s.alias(), s.int_()
        if name == "affine_2":
            r["disabled"] = s.bool_()
    elif kind == "con":
        r["params"] = s.tensor()
        for key in ("num_filters", "nr", "nc", "stride_y", "stride_x", "padding_y", "padding_x"):
            r[key] = s.int_()
        r["filters"], r["biases"] = s.alias(), s.alias()
        _ = [s.float_() for _ in range(4)]
        if name in ("con_5", "con_6"):
            r["use_bias"] = s.bool_()
        if name == "con_6":
            r["use_relu"] = s.bool_()
    elif kind == "input":
        r["means"] = (s.float_(), s.float_(), s.float_())
        r["nr"], r["nc"] = s.int_(), s.int_()
        layer.expect.update(nr=DLIB_CHIP_SIZE, nc=DLIB_CHIP_SIZE)
    for key, want in layer.expect.items():
        if r.get(key) != want:
            s.pos = start
            raise s.fail(f"a {layer.kind} layer has {key} = {r.get(key)}, the face-recognition ResNet has {want}")


def _read_layers(s: _Stream, layers: List[_Layer]) -> None:
    """Walk the file as dlib writes it (``dnn/core.h``): versions going in, details coming out."""
    s.version([1], "add_loss_layer")
    _read_details(s, layers[0])
    versions: List[int] = []
    for layer in layers[1:-1]:  # each wrapper: its version, then its subnetwork
        allowed = {"add_tag_layer": [1], "add_skip_layer": [1]}.get(layer.wrapper, [1, 2])
        if layer is layers[-2]:
            allowed = [2, 3]  # the add_layer whose subnetwork is the input layer
        versions.append(s.version(allowed, f"{layer.wrapper} of a {layer.kind} layer"))
    _read_details(s, layers[-1])  # the input layer
    for layer, version in zip(reversed(layers[1:-1]), reversed(versions)):  # details, innermost first
        if layer.wrapper != "add_layer":
            continue  # tags and skips write nothing after their subnetwork
        _read_details(s, layer)
        _ = [s.bool_() for _ in range(3)]  # setup called, gradient stale, output and gradient disabled
        _ = (s.tensor(), s.tensor())  # x_grad, cached_output
        if layer is layers[-2]:
            s.tensor()  # grad_final
            if version >= 3:
                s.int_()  # _sample_expansion_factor
        elif version == 2:
            s.tensor()  # params_grad
    if s.pos != len(s.data):
        raise s.fail(f"{len(s.data) - s.pos} bytes are left after the network (another architecture?)")


def read_dlib_face_resnet(path: Union[str, Path]) -> Tuple[Dict[str, Tensor], Dict[str, Any]]:
    """Read dlib's ``dlib_face_recognition_resnet_model_v1.dat`` into a :class:`DlibFaceNet` state dict.

    No dlib is needed: the reader follows dlib's serialisation (module docstring) and checks every layer's
    type, size, stride and padding against the network of ``dnn_face_recognition_ex.cpp``.

    Args:
        path: the ``.dat`` file (not compressed; dlib's website serves it as ``.bz2``).

    Returns:
        ``(state_dict, config)``: the weights under :class:`DlibFaceNet`'s names, and constructor arguments read
        from the file (``pixel_means``).

    Raises:
        DlibFileError: the file is truncated, damaged, compressed, or holds another network (the message says
            where and what was found).
        FileNotFoundError: no such file.
    """
    p = Path(path)
    data = p.read_bytes()
    if data[:3] == b"BZh":
        raise DlibFileError(f"{p} is bzip2-compressed: decompress it first (bunzip2 {p.name})")
    s = _Stream(data, str(p))
    layers = _dlib_layers()
    _read_layers(s, layers)

    # the parameters in the order they are computed (input side first), onto DlibFaceNet's modules
    targets: List[str] = ["conv1", "affine1"]
    for stage, (_, blocks, _) in enumerate(_STAGE_PLAN, start=1):
        for k in range(1, blocks + 1):
            targets += [f"res{stage}_{k}.conv_a", f"res{stage}_{k}.affine_a", f"res{stage}_{k}.conv_b",
                        f"res{stage}_{k}.affine_b"]
    targets.append("fc")
    computed = [layer for layer in reversed(layers) if layer.kind in ("con", "affine", "fc")]
    state: Dict[str, Tensor] = {}
    cin = 3
    for target, layer in zip(targets, computed):
        r = layer.read
        flat = r["params"].reshape(-1)
        if layer.kind == "con":
            n, k = r["num_filters"], r["nr"]
            want = n * cin * k * k + n
            if flat.size != want:
                raise s.fail(f"{target}: {flat.size} parameters, expected {want} ({n} filters of {cin}x{k}x{k} + biases)")
            state[f"{target}.weight"] = torch.from_numpy(flat[: n * cin * k * k].reshape(n, cin, k, k).copy())
            state[f"{target}.bias"] = torch.from_numpy(flat[n * cin * k * k :].copy())  # filters, then N biases
            cin = n
        elif layer.kind == "affine":
            if flat.size != 2 * cin:
                raise s.fail(f"{target}: {flat.size} parameters, expected gamma and beta of {cin} channels")
            state[f"{target}.weight"] = torch.from_numpy(flat[:cin].copy())  # gamma, then beta
            state[f"{target}.bias"] = torch.from_numpy(flat[cin:].copy())
        else:  # fc_no_bias: weights stored (num_inputs, num_outputs)
            n_in, n_out = r["num_inputs"], r["num_outputs"]
            if n_in != cin or flat.size < n_in * n_out:
                raise s.fail(f"fc: {n_in} inputs and {flat.size} parameters, expected {cin} x {n_out}")
            state["fc.weight"] = torch.from_numpy(flat[: n_in * n_out].reshape(n_in, n_out).T.copy())  # (out, in)
    means = layers[-1].read["means"]
    return state, {"pixel_means": tuple(float(v) for v in means)}
