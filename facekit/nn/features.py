"""Named layers and feature extraction for VGG-style networks.

The papers of this course speak of "the feature map of the *l*-th convolutional layer" of VGG-Face (CNIA section
3.1, DIAT section 3.1) or of "the output of layer *i*" of VGG19 (eye-to-face). This module gives every network in
:mod:`facekit.nn` the same vocabulary:

* each network is a **sequence of named stages**: ``conv1_1, relu1_1, conv1_2, relu1_2, pool1, conv2_1, ...``;
  the names follow the VGG-Face port from MatConvNet (``vgg_face_dag.pth``), whose modules carry these names;
* ``convB_K`` is the output of the convolution itself (**before** the ReLU, so it can be negative);
  ``reluB_K`` is the same map after the ReLU; ``poolB`` is the max-pooled map at the end of block ``B``;
* an **integer** ``l`` (1-based) means the papers' "*l*-th convolutional layer" and resolves to the ReLU output of
  that convolution: ``1 -> relu1_1, 2 -> relu1_2, 3 -> relu2_1, 5 -> relu3_1``. This matches CNIA's table 1
  ("conv2_1 (3rd) ... conv3_1 (5th)") and its eq. (2): the gradient there is gated by ``F >= 0``, which is the
  ReLU; the original Caffe/MatConvNet networks apply the ReLU in place, so the blob the papers call ``conv3_1``
  holds the ReLU output.

:meth:`FeatureNet.extract` runs the network only as deep as the deepest layer asked for and returns a dict of the
activations by name. :class:`FeatureExtractor` wraps a network for use inside a loss: frozen (``requires_grad``
False), always in eval mode, but differentiable with respect to its **input** (CNIA optimises the image itself).

Every network takes RGB images in ``[0, 1]``, shape ``(B, 3, H, W)``, and does its own normalisation inside.

Example:
    >>> import torch
    >>> from facekit.nn import SynthFaceNet
    >>> net = SynthFaceNet(num_classes=10)
    >>> feats = net.extract(torch.rand(2, 3, 64, 64), ["conv1_1", 5])   # 5 = the 5th conv layer = relu3_1
    >>> {k: tuple(v.shape) for k, v in feats.items()}
    {'conv1_1': (2, 16, 64, 64), 'relu3_1': (2, 64, 16, 16)}
"""

from __future__ import annotations

import math
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor, nn

__all__ = [
    "LayerSpec",
    "FeatureNet",
    "FeatureExtractor",
    "freeze",
    "check_image",
    "check_dtype",
    "weights_dtype",
    "vgg_stage_names",
    "init_vgg_weights",
]

LayerSpec = Union[str, int]
"""A layer given by name (``"conv3_1"``, ``"relu3_1"``, ``"pool3"``, ``"fc7"``) or by the papers' 1-based index of
the convolutional layer (``5`` -> ``"relu3_1"``)."""


def weights_dtype(module: nn.Module) -> Optional[torch.dtype]:
    """The dtype of ``module``'s floating-point weights (its first floating parameter or buffer); ``None`` if none.

    Example:
        >>> weights_dtype(nn.Linear(2, 2).double())
        torch.float64
    """
    for t in (*module.parameters(), *module.buffers()):
        if t.is_floating_point():
            return t.dtype
    return None


_CAST = {torch.float32: "x.float()", torch.float64: "x.double()", torch.float16: "x.half()",
         torch.bfloat16: "x.bfloat16()"}


def check_dtype(x: Tensor, dtype: Union[torch.dtype, nn.Module, None], name: str = "input") -> None:
    """Raise a clear ``TypeError`` when the images' floating dtype differs from the network's weights.

    facekit does **not** convert the images for you: a silent cast would hide where a float64 (or float16) tensor
    came from, and would quietly turn a network you moved to float64 on purpose (a gradient check) into float32
    arithmetic. The message says which call fixes it. Nothing is checked inside ``torch.autocast``, which mixes
    dtypes by design.

    Args:
        x: the input tensor.
        dtype: the weights' dtype, or the network itself (see :func:`weights_dtype`); ``None`` skips the check.
        name: how to call ``x`` in the message.

    Raises:
        TypeError: ``x`` is floating point of another dtype than the weights.

    Example:
        >>> check_dtype(torch.rand(1, 3, 8, 8, dtype=torch.float64), torch.float32)
        Traceback (most recent call last):
        ...
        TypeError: input is float64 but the network's weights are float32: call x.float() on the images (facekit does not convert them silently)
    """
    if isinstance(dtype, nn.Module):
        dtype = weights_dtype(dtype)
    if dtype is None or not x.is_floating_point() or x.dtype == dtype or torch.is_autocast_enabled(x.device.type):
        return
    got, want = str(x.dtype).replace("torch.", ""), str(dtype).replace("torch.", "")
    fix = _CAST.get(dtype, f"x.to(torch.{want})")
    raise TypeError(f"{name} is {got} but the network's weights are {want}: call {fix} on the images "
                    "(facekit does not convert them silently)")


def check_image(
    x: Tensor, *, name: str = "input", tolerance: Optional[float] = 1.0,
    dtype: Union[torch.dtype, nn.Module, None] = None,
) -> None:
    """Check that ``x`` is a batch of RGB images in ``[0, 1]``, and say what is wrong if it is not.

    Args:
        x: the tensor to check.
        name: how to call it in the error message.
        tolerance: how far outside ``[0, 1]`` a value may lie (optimisation may overshoot a little); ``None``
            skips the range check. The default, 1.0, accepts ``[-1, 2]`` and catches the usual mistakes:
            images in 0-255, or images already normalised with a mean and a standard deviation.
        dtype: the dtype of the network's weights (or the network): a float64 image for float32 weights is refused
            with a message that says to call ``x.float()`` (see :func:`check_dtype`: no silent conversion).

    Raises:
        TypeError: ``x`` is not a floating-point tensor, or not of ``dtype``.
        ValueError: ``x`` is not ``(B, 3, H, W)``, or its values are far outside ``[0, 1]``.

    Shape:
        - x: :math:`(B, 3, H, W)`.

    Example:
        >>> check_image(torch.rand(1, 3, 8, 8))
        >>> check_image(torch.rand(3, 8, 8))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: input must be a batch of RGB images of shape (B, 3, H, W); got shape (3, 8, 8). Add a batch...
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (B, 3, H, W); got {type(x).__name__}")
    if x.ndim != 4 or x.shape[1] != 3:
        hint = ""
        if x.ndim == 3 and x.shape[0] == 3:
            hint = " Add a batch dimension: x.unsqueeze(0)."
        elif x.ndim == 4 and x.shape[-1] == 3:
            hint = " The channels are last (B, H, W, 3); use x.permute(0, 3, 1, 2)."
        elif x.ndim == 4 and x.shape[1] == 1:
            hint = " Grey images: repeat the channel, x.expand(-1, 3, -1, -1)."
        raise ValueError(
            f"{name} must be a batch of RGB images of shape (B, 3, H, W); got shape {tuple(x.shape)}.{hint}"
        )
    if not x.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor with values in [0, 1]; got dtype {x.dtype}. "
            "Convert uint8 images with x.float() / 255."
        )
    check_dtype(x, dtype, name)
    if tolerance is not None and x.numel() > 0:
        lo, hi = (float(v) for v in torch.aminmax(x.detach()))
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise ValueError(f"{name} contains NaN or inf values")
        if lo < -tolerance or hi > 1.0 + tolerance:
            hint = (
                " It looks like 0-255 pixel values: divide by 255."
                if hi > 2.0 and lo >= -tolerance
                else " It looks already normalised (mean/std): pass the image in [0, 1]; the network normalises inside."
            )
            raise ValueError(
                f"{name} must hold RGB values in [0, 1] (tolerance {tolerance}); "
                f"got values in [{lo:.3g}, {hi:.3g}].{hint}"
            )


def vgg_stage_names(convs_per_block: Sequence[int], *, batch_norm: bool = False) -> List[str]:
    """The stage names of a VGG trunk: ``conv1_1, [bn1_1,] relu1_1, ..., pool1, conv2_1, ...``.

    Example:
        >>> vgg_stage_names([2, 1])
        ['conv1_1', 'relu1_1', 'conv1_2', 'relu1_2', 'pool1', 'conv2_1', 'relu2_1', 'pool2']
    """
    names: List[str] = []
    for b, n in enumerate(convs_per_block, start=1):
        for k in range(1, n + 1):
            names += [f"conv{b}_{k}"] + ([f"bn{b}_{k}"] if batch_norm else []) + [f"relu{b}_{k}"]
        names.append(f"pool{b}")
    return names


def init_vgg_weights(module: nn.Module) -> None:
    """torchvision's VGG initialisation: Kaiming-normal convolutions, N(0, 0.01) linear layers, zero biases."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.01)
            nn.init.zeros_(m.bias)


class FeatureNet(nn.Module):
    """Base class of the feature networks: a sequence of named stages with named-layer extraction.

    A subclass registers its modules, then calls :meth:`_set_stages` with the ordered ``(name, submodule path)``
    pairs, and implements :meth:`preprocess` (from RGB in ``[0, 1]`` to what the weights expect).

    Attributes:
        input_size: the native input size in pixels (224 for VGG-Face and VGG19).
        head_input_size: the exact input size the fully connected head needs, or ``None`` when any size works.
        description: one line that says which network (and which weights) this is; chapters print it.
        pretrained_name: the :mod:`facekit.hub` entry whose weights are loaded, ``None`` for random weights.
        check_input: check every input with :func:`check_image` (set False to skip the range check's cost).
    """

    input_size: int = 224
    head_input_size: Optional[int] = None
    description: str = "feature network"
    pretrained_name: Optional[str] = None
    check_input: bool = True

    def __init__(self) -> None:
        super().__init__()
        self._stages: List[Tuple[str, str]] = []
        self._index: Dict[str, int] = {}

    # -- the stage list -------------------------------------------------------------------------------------
    def _set_stages(self, stages: Iterable[Tuple[str, str]]) -> None:
        self._stages = list(stages)
        self._index = {name: i for i, (name, _) in enumerate(self._stages)}
        for name, path in self._stages:
            self.get_submodule(path)  # fail early on a typo in a subclass

    def preprocess(self, x: Tensor) -> Tensor:
        """Map RGB images in ``[0, 1]`` to the network's input space. Shape: ``(B, 3, H, W) -> (B, 3, H, W)``."""
        raise NotImplementedError

    @property
    def layer_names(self) -> List[str]:
        """Every name :meth:`extract` accepts, in the order the network computes them."""
        return [name for name, _ in self._stages]

    @property
    def conv_layers(self) -> List[str]:
        """The convolution stages in order: ``conv_layers[l - 1]`` is the papers' *l*-th convolutional layer."""
        return [n for n in self.layer_names if n.startswith("conv")]

    def resolve_layer(self, layer: LayerSpec) -> str:
        """Return the stage name for a name or a 1-based conv-layer index (``5 -> "relu3_1"``).

        Raises:
            ValueError: the name or index does not exist in this network (the message lists what does).

        Example:
            >>> from facekit.nn import SynthFaceNet
            >>> SynthFaceNet(num_classes=2).resolve_layer(3)
            'relu2_1'
        """
        if isinstance(layer, bool) or not isinstance(layer, (int, str)):
            raise TypeError(f"a layer is a name (str) or a 1-based conv-layer index (int); got {layer!r}")
        if isinstance(layer, int):
            convs = self.conv_layers
            if not 1 <= layer <= len(convs):
                raise ValueError(
                    f"{type(self).__name__} has {len(convs)} convolutional layers; layer index {layer} must be in "
                    f"1..{len(convs)} (1-based, as in the papers: 1 = conv1_1)"
                )
            return "relu" + convs[layer - 1][len("conv"):]
        if layer not in self._index:
            raise ValueError(
                f"{type(self).__name__} has no layer {layer!r}; valid names are: {', '.join(self.layer_names)}"
            )
        return layer

    def stage_module(self, name: str) -> nn.Module:
        """The module that computes stage ``name``."""
        return self.get_submodule(self._stages[self._index[self.resolve_layer(name)]][1])

    # -- running it -----------------------------------------------------------------------------------------
    def _check_size(self, x: Tensor, last: int) -> None:
        h, w = x.shape[-2:]
        pools = sum(1 for name, _ in self._stages[: last + 1] if name.startswith("pool"))
        if min(h, w) < 2**pools:
            raise ValueError(
                f"{type(self).__name__}: layer {self._stages[last][0]!r} comes after {pools} 2x2 poolings, so the "
                f"input must be at least {2 ** pools}x{2 ** pools} pixels; got {h}x{w}"
            )
        head = next((i for i, (n, _) in enumerate(self._stages) if n in ("flatten", "avgpool", "gap")), None)
        if self.head_input_size is not None and head is not None and last >= head:
            s = self.head_input_size
            if (h, w) != (s, s):
                raise ValueError(
                    f"{type(self).__name__}: layer {self._stages[last][0]!r} is in the fully connected head, which "
                    f"needs {s}x{s} input; got {h}x{w}. Resize first, e.g. "
                    f"torch.nn.functional.interpolate(x, size={s}, mode='bilinear', align_corners=False), "
                    "or use a convolutional layer (those work at any size)."
                )

    def extract(self, x: Tensor, layers: Sequence[LayerSpec]) -> Dict[str, Tensor]:
        """Run the network up to the deepest of ``layers`` and return their activations by name.

        Nothing is frozen or detached here: gradients flow to ``x`` (and to the weights, unless they are frozen;
        :class:`FeatureExtractor` freezes them).

        Args:
            x: RGB images in ``[0, 1]``.
            layers: names or 1-based conv-layer indices (see the module docstring). Integer indices come back
                under their resolved name (``5 -> "relu3_1"``).

        Returns:
            ``{name: activation}`` in the order asked for; each activation is ``(B, C_l, H_l, W_l)`` for
            convolutional stages and ``(B, D)`` for fully connected ones.

        Shape:
            - x: :math:`(B, 3, H, W)`.
        """
        if isinstance(layers, (str, int)):
            layers = [layers]
        names = [self.resolve_layer(layer) for layer in layers]
        if not names:
            raise ValueError("layers is empty: ask for at least one layer, e.g. ['conv3_1']")
        if self.check_input:
            check_image(x, dtype=self)
        last = max(self._index[n] for n in names)
        self._check_size(x, last)
        wanted = set(names)
        out: Dict[str, Tensor] = {}
        h = self.preprocess(x)  # (B, 3, H, W) in the network's own input space
        for name, path in self._stages[: last + 1]:  # stop at the deepest layer asked for
            h = self.get_submodule(path)(h)
            if name in wanted:
                out[name] = h
        return {n: out[n] for n in names}

    def forward(self, x: Tensor) -> Tensor:
        """Run every stage: the class scores when the network has its head, else the last pooled map."""
        return self.extract(x, [self._stages[-1][0]])[self._stages[-1][0]]

    def extra_repr(self) -> str:
        return f"description={self.description!r}"


class FeatureExtractor(nn.Module):
    """A frozen network that returns the activations of fixed layers: the building block of perceptual losses.

    The network is put in eval mode and its parameters get ``requires_grad=False``; calling ``.train()`` on the
    extractor (or on a model that contains it) leaves the network in eval mode. Gradients still flow to the
    input image, which is what optimisation-based editing (CNIA) and feature inversion need.

    Args:
        net: a :class:`FeatureNet` (:class:`~facekit.nn.VGGFace`, :class:`~facekit.nn.VGG19`,
            :class:`~facekit.nn.SynthFaceNet`).
        layers: names or 1-based conv-layer indices, e.g. ``["conv3_1"]`` or ``[4, 5]`` (DIAT's identity loss).

    Shape:
        - input: :math:`(B, 3, H, W)`, RGB in ``[0, 1]``.
        - output: ``{name: (B, C_l, H_l, W_l)}``.

    Example:
        >>> from facekit.nn import SynthFaceNet
        >>> ext = FeatureExtractor(SynthFaceNet(num_classes=10), ["relu2_2", "relu3_1"])
        >>> x = torch.rand(1, 3, 64, 64, requires_grad=True)
        >>> feats = ext(x)
        >>> feats["relu3_1"].sum().backward()
        >>> x.grad.shape, ext.layers
        (torch.Size([1, 3, 64, 64]), ['relu2_2', 'relu3_1'])
    """

    def __init__(self, net: FeatureNet, layers: Sequence[LayerSpec]) -> None:
        super().__init__()
        if not isinstance(net, FeatureNet):
            raise TypeError(
                f"net must be a facekit.nn.FeatureNet (VGGFace, VGG19, SynthFaceNet); got {type(net).__name__}"
            )
        if isinstance(layers, (str, int)):
            layers = [layers]
        self.layers: List[str] = [net.resolve_layer(layer) for layer in layers]
        if not self.layers:
            raise ValueError("layers is empty: ask for at least one layer, e.g. ['conv3_1']")
        self.net = freeze(net)

    def train(self, mode: bool = True) -> "FeatureExtractor":
        super().train(mode)
        self.net.eval()  # the backbone never leaves eval mode (no dropout, fixed batch-norm statistics)
        return self

    def forward(self, x: Tensor) -> Dict[str, Tensor]:
        return self.net.extract(x, self.layers)

    def extra_repr(self) -> str:
        return f"layers={self.layers}"


def freeze(net: nn.Module) -> nn.Module:
    """Put ``net`` in eval mode and turn off ``requires_grad`` of all its parameters; return it."""
    net.eval()
    net.requires_grad_(False)
    return net
