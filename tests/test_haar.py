"""Haar cascades (facekit.data.haar): faces and eyes on SynthFaces renders and on a real photo."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import skimage.data
import torch

from facekit.data import haar
from facekit.data.synthfaces import render


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return skimage.data.astronaut()  # (512, 512, 3) uint8 RGB, one face (Eileen Collins)


def test_cascades_are_loaded_once() -> None:
    assert haar.load_cascade(haar.FACE_CASCADE) is haar.load_cascade(haar.FACE_CASCADE)
    assert not haar.load_cascade(haar.EYE_CASCADE).empty()


def test_face_and_eyes_on_a_real_photo(astronaut: np.ndarray) -> None:
    faces = haar.detect_faces(astronaut)
    assert faces.shape == (1, 4)
    x, y, w, h = faces[0]
    assert 150 < x + w / 2 < 300 and 60 < y + h / 2 < 200  # her face, top centre-left of the photo
    eyes = haar.detect_eyes(astronaut, faces[0])
    assert eyes.shape == (2, 4)
    assert (eyes[:, 0] >= x).all() and (eyes[:, 0] + eyes[:, 2] <= x + w).all()  # inside the face
    assert eyes[0, 0] < eyes[1, 0]  # sorted left to right
    crops = haar.eye_face_crops(astronaut)
    assert crops is not None
    assert crops.face.shape == (128, 128, 3) and crops.eyes.shape == (2, 32, 32, 3)
    assert crops.face.dtype == np.float32 and 0.0 <= crops.face.min() and crops.face.max() <= 1.0
    assert len(crops.pairs()) == 2 and crops.pairs()[1][1] is crops.face


def test_face_and_eyes_on_renders() -> None:
    found = 0
    for identity in range(8):
        out = render(identity, size=128)
        faces = haar.detect_faces(out["image"])
        if len(faces) != 1:
            continue
        x, y, w, h = faces[0]
        nose = out["landmarks"][30]
        assert x <= nose[0] <= x + w and y <= nose[1] <= y + h  # the box is on the face
        eyes = haar.detect_eyes(out["image"], faces[0])
        if len(eyes) == 2:
            found += 1
            centres = eyes[:, :2] + eyes[:, 2:] / 2
            truth = np.stack([out["landmarks"][36:42].mean(0), out["landmarks"][42:48].mean(0)])
            assert np.abs(centres - truth).max() < 0.12 * 128  # the eyes are where the landmarks say
    assert found >= 6


def test_crops_need_one_face_and_two_eyes() -> None:
    assert haar.eye_face_crops(np.full((128, 128, 3), 127, np.uint8)) is None  # no face
    two = np.concatenate([render(0, size=128)["image"], render(1, size=128)["image"]], axis=1)
    assert len(haar.detect_faces(two)) == 2 and haar.eye_face_crops(two) is None  # two faces


def test_to_gray_inputs(astronaut: np.ndarray) -> None:
    gray = haar.to_gray(astronaut)
    assert gray.shape == (512, 512) and gray.dtype == np.uint8
    assert np.array_equal(haar.to_gray(gray), gray)
    as_float = haar.to_gray(astronaut.astype(np.float32) / 255)
    assert np.abs(as_float.astype(int) - gray).max() <= 1
    tensor = torch.from_numpy(astronaut).permute(2, 0, 1).float() / 255  # (3, H, W) in [0, 1]
    assert np.abs(haar.to_gray(tensor).astype(int) - gray).max() <= 1
    with pytest.raises(ValueError, match="shape"):
        haar.to_gray(np.zeros((4, 4, 5), np.uint8))
    with pytest.raises(ValueError, match="dtype"):
        haar.to_gray(np.zeros((4, 4), np.int32))


def test_clear_error_without_cascade_classifier(monkeypatch: pytest.MonkeyPatch) -> None:
    """OpenCV 5 has no CascadeClassifier: the error says how to get OpenCV 4."""
    haar.load_cascade.cache_clear()
    monkeypatch.delattr(cv2, "CascadeClassifier")
    try:
        with pytest.raises(haar.HaarUnavailableError, match=r'pip install "opencv-python>=4.10,<5"'):
            haar.detect_faces(np.zeros((64, 64, 3), np.uint8))
    finally:
        monkeypatch.undo()
        haar.load_cascade.cache_clear()
    assert len(haar.detect_faces(np.zeros((64, 64, 3), np.uint8))) == 0


def test_clear_error_for_a_missing_cascade_file(tmp_path) -> None:
    with pytest.raises(haar.HaarUnavailableError, match="not found"):
        haar.load_cascade(str(tmp_path / "no_such_cascade.xml"))
