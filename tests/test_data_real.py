"""Loaders of the real face datasets (CelebA, LFW, FFHQ, Multi-PIE, CAS-PEAL-R1) on tiny fixture trees.

Every test writes its own miniature copy of a dataset into ``tmp_path`` (a few small images, annotation files
with CRLF or LF line endings, subsets), then checks what the loader returns and, above all, that every broken
input (a malformed line, a missing file, a wrong image size, corrupt bytes) gives an error that names the file
(and the line) and says what was expected. Nothing here touches the network: the torchvision download is
replaced by fakes.
"""

from __future__ import annotations

import io
import itertools
import urllib.error
import zipfile
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from facekit.data import celeba as celeba_module
from facekit.data._common import (
    AnnotationFormatError,
    DatasetNotFoundError,
    DownloadError,
    FacekitDataError,
    ImageReadError,
    ImageSizeError,
    crop_and_resize,
    identity_pairs,
    image_to_tensor,
    read_image,
)
from facekit.data.caspeal import CASPEAL, caspeal_accessory_pairs, parse_caspeal_name
from facekit.data.celeba import (
    CELEBA_ATTRIBUTES,
    CelebA,
    download_celeba,
    read_celeba_attributes,
    read_celeba_partition,
)
from facekit.data.ffhq import FFHQ
from facekit.data.lfw import LFW, LFW_ATTRIBUTES, lfw_image_relpath, read_lfw_attributes, read_lfw_pairs
from facekit.data.multipie import (
    MULTIPIE_POSES_7,
    MultiPIE,
    multipie_pose_pairs,
    parse_multipie_name,
)

# ------------------------------------------------------------------------------------------------ helpers


def write_image(path: Path, width: int, height: int, value: int = 128, mode: str = "RGB") -> Path:
    """Write a small image whose pixels are ``value`` (with a gradient so JPEG has something to encode)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    grad = np.linspace(0, 20, width, dtype=np.float32)[None, :].repeat(height, 0)
    plane = np.clip(value + grad - 10, 0, 255).astype(np.uint8)
    array = plane if mode == "L" else np.stack([plane] * 3, axis=-1)
    Image.fromarray(array, mode).save(path)
    return path


def write_text(path: Path, lines: Sequence[str], newline: str = "\r\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((newline.join(lines) + newline).encode())
    return path


def message(excinfo: pytest.ExceptionInfo) -> str:
    return str(excinfo.value)


# ------------------------------------------------------------------------------------------------ CelebA

CELEBA_ROWS = {  # filename -> (partition, identity, landmarks)
    "000001.jpg": (0, 2880, (69, 109, 106, 113, 77, 142, 73, 152, 108, 154)),
    "000002.jpg": (0, 2937, (69, 110, 107, 112, 81, 135, 70, 151, 108, 153)),
    "000003.jpg": (1, 8692, (76, 112, 104, 106, 108, 128, 74, 156, 98, 158)),
    "000004.jpg": (2, 5805, (72, 113, 108, 108, 101, 138, 71, 155, 101, 151)),
    "000005.jpg": (0, 2880, (66, 114, 112, 112, 86, 119, 71, 147, 104, 150)),
}


def celeba_attributes(index: int) -> list[int]:
    """A deterministic -1/1 pattern: attribute k of image i is present when (i + k) % 3 == 0."""
    return [1 if (index + k) % 3 == 0 else -1 for k in range(len(CELEBA_ATTRIBUTES))]


def make_celeba(root: Path, newline: str = "\r\n", identity: bool = True,
                rows: Optional[Sequence[str]] = None, images: Optional[Sequence[str]] = None) -> Path:
    """Write a miniature CelebA (the real count on line 1, right-aligned columns, a trailing space)."""
    rows = list(CELEBA_ROWS) if rows is None else list(rows)
    for i, name in enumerate(rows if images is None else images):
        write_image(root / "img_align_celeba" / name, 178, 218, value=40 * (i + 1))
    attr = ["202599", " ".join(CELEBA_ATTRIBUTES) + " "]
    attr += [f"{name} " + " ".join(f"{v:>2}" for v in celeba_attributes(i)) for i, name in enumerate(rows)]
    write_text(root / "list_attr_celeba.txt", attr, newline)
    header = "lefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y rightmouth_x rightmouth_y"
    lms = ["202599", header] + [f"{n}" + "".join(f"{v:>5}" for v in CELEBA_ROWS[n][2]) for n in rows]
    write_text(root / "list_landmarks_align_celeba.txt", lms, newline)
    write_text(root / "list_eval_partition.txt", [f"{n} {CELEBA_ROWS[n][0]}" for n in rows], newline)
    if identity:
        write_text(root / "identity_CelebA.txt", [f"{n} {CELEBA_ROWS[n][1]}" for n in rows], newline)
    return root


def test_celeba_reads_a_crlf_subset_and_its_splits(tmp_path: Path) -> None:
    root = make_celeba(tmp_path / "celeba")
    assert len(CelebA(root, split="train")) == 3
    assert len(CelebA(root, split="valid")) == 1
    assert len(CelebA(root, split="test")) == 1
    ds = CelebA(root, split="all")
    assert len(ds) == 5 and ds.attribute_names == list(CELEBA_ATTRIBUTES)
    item = ds[0]
    assert item["image"].shape == (3, 218, 178) and item["image"].dtype == torch.float32
    assert 0.0 <= item["image"].min() and item["image"].max() <= 1.0
    assert item["attributes"].tolist() == [float(v == 1) for v in celeba_attributes(0)]  # -1/1 -> 0/1
    assert item["attributes"].dtype == torch.float32
    assert item["landmarks5"].tolist() == np.reshape(CELEBA_ROWS["000001.jpg"][2], (5, 2)).tolist()
    assert item["identity"].item() == 2880 and item["filename"] == "000001.jpg"
    assert ds.identities.tolist() == [CELEBA_ROWS[n][1] for n in CELEBA_ROWS]
    assert ds.attributes.shape == (5, 40)
    assert ds.attribute_index("Eyeglasses") == CELEBA_ATTRIBUTES.index("Eyeglasses")
    batch = next(iter(DataLoader(ds, batch_size=2)))
    assert batch["image"].shape == (2, 3, 218, 178) and batch["attributes"].shape == (2, 40)
    assert batch["landmarks5"].shape == (2, 5, 2) and batch["filename"] == ["000001.jpg", "000002.jpg"]


def test_celeba_lf_files_in_torchvision_layout(tmp_path: Path) -> None:
    make_celeba(tmp_path / "data" / "celeba", newline="\n")
    ds = CelebA(tmp_path / "data", split="train")  # root/celeba/ is found
    assert ds.root == tmp_path / "data" / "celeba" and len(ds) == 3


def test_celeba_default_root_is_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEKIT_HOME", str(tmp_path / "home"))
    make_celeba(tmp_path / "home" / "data" / "celeba")
    assert len(CelebA(split="all")) == 5


def test_celeba_crop_and_resize_move_the_landmarks(tmp_path: Path) -> None:
    ds = CelebA(make_celeba(tmp_path), split="all", center_crop=178, size=89)
    item = ds[0]
    assert item["image"].shape == (3, 89, 89)
    x, y = CELEBA_ROWS["000001.jpg"][2][:2]
    top = (218 - 178) // 2
    expected = [(x + 0.5) * 0.5 - 0.5, (y + 0.5 - top) * 0.5 - 0.5]  # pixel-centre convention
    assert item["landmarks5"][0].tolist() == pytest.approx(expected)


def test_celeba_attribute_selection(tmp_path: Path) -> None:
    ds = CelebA(make_celeba(tmp_path), split="all", attributes=["Smiling", "Eyeglasses"])
    k_smile, k_glasses = CELEBA_ATTRIBUTES.index("Smiling"), CELEBA_ATTRIBUTES.index("Eyeglasses")
    expected = [float(celeba_attributes(1)[k] == 1) for k in (k_smile, k_glasses)]
    assert ds[1]["attributes"].tolist() == expected
    with pytest.raises(ValueError, match="unknown CelebA attribute.*'Smiles'"):
        CelebA(tmp_path, split="all", attributes=["Smiles"])
    with pytest.raises(ValueError, match=r"attributes=\[\] names no attribute"):
        CelebA(tmp_path, split="all", attributes=[])
    with pytest.raises(ValueError, match="split='training' is not valid"):
        CelebA(tmp_path, split="training")


def test_celeba_identity_pairs(tmp_path: Path) -> None:
    ds = CelebA(make_celeba(tmp_path), split="all")
    pairs = ds.pairs(num_same=1, num_different=3, seed=0)
    assert pairs[0] == (0, 4, True)  # the only two images of identity 2880
    assert all(ds.identities[i] != ds.identities[j] for i, j, same in pairs if not same)


def test_celeba_kaggle_csv_layout_without_identity(tmp_path: Path) -> None:
    names = list(CELEBA_ROWS)
    for name in names:
        write_image(tmp_path / "img_align_celeba" / "img_align_celeba" / name, 178, 218)
    write_text(tmp_path / "list_attr_celeba.csv", ["image_id," + ",".join(CELEBA_ATTRIBUTES)]
               + [f"{n}," + ",".join(map(str, celeba_attributes(i))) for i, n in enumerate(names)], "\n")
    write_text(tmp_path / "list_eval_partition.csv", ["image_id,partition"]
               + [f"{n},{CELEBA_ROWS[n][0]}" for n in names], "\n")
    write_text(tmp_path / "list_landmarks_align_celeba.csv",
               ["image_id,lefteye_x,lefteye_y,righteye_x,righteye_y,nose_x,nose_y,leftmouth_x,leftmouth_y,"
                "rightmouth_x,rightmouth_y"] + [f"{n}," + ",".join(map(str, CELEBA_ROWS[n][2])) for n in names],
               "\n")
    with pytest.warns(UserWarning, match="identity_CelebA.txt"):
        ds = CelebA(tmp_path, split="train")
    assert len(ds) == 3 and ds[0]["identity"].item() == -1 and not ds.has_identity
    assert ds[2]["attributes"].tolist() == [float(v == 1) for v in celeba_attributes(4)]
    with pytest.raises(ValueError, match="identity_CelebA.txt"):
        ds.pairs(1, 1)


def test_celeba_anno_and_eval_subfolders(tmp_path: Path) -> None:
    """The layout of CelebA's Google Drive folder: Anno/, Eval/, Img/img_align_celeba/."""
    make_celeba(tmp_path / "flat")
    for name, sub in [("list_attr_celeba.txt", "Anno"), ("list_landmarks_align_celeba.txt", "Anno"),
                      ("identity_CelebA.txt", "Anno"), ("list_eval_partition.txt", "Eval")]:
        (tmp_path / "drive" / sub).mkdir(parents=True, exist_ok=True)
        (tmp_path / "flat" / name).rename(tmp_path / "drive" / sub / name)
    (tmp_path / "drive" / "Img").mkdir()
    (tmp_path / "flat" / "img_align_celeba").rename(tmp_path / "drive" / "Img" / "img_align_celeba")
    assert len(CelebA(tmp_path / "drive", split="train")) == 3


# --- CelebA failure paths: each error names the file (and the line) and says what was expected


def _break_line(path: Path, line_no: int, new: str) -> None:
    lines = path.read_bytes().decode().split("\r\n")
    lines[line_no - 1] = new
    path.write_bytes("\r\n".join(lines).encode())


@pytest.mark.parametrize("file, line_no, new_line, expected", [
    ("list_attr_celeba.txt", 4, "000002.jpg " + " ".join(["1"] * 39), "wrong number of columns: 39 values"),
    ("list_attr_celeba.txt", 5, "000003.jpg " + " ".join(["1"] * 39 + ["0"]),
     "value '0' of attribute 'Young' (column 41) is not -1 or 1"),
    ("list_attr_celeba.txt", 3, "-1  1 " + " ".join(["1"] * 39), "malformed line: the first column must be an "
                                                                 "image file name"),
    ("list_attr_celeba.txt", 1, "count", "line 1 must be the number of images"),
    ("list_attr_celeba.txt", 2, "000001.jpg " + " ".join(["1"] * 40), "line 2 must be the header"),
    ("list_attr_celeba.txt", 6, "000001.jpg " + " ".join(["1"] * 40), "duplicate row for 000001.jpg (first on "
                                                                      "line 3)"),
    ("list_landmarks_align_celeba.txt", 3, "000001.jpg 69 109 106 113 77 142 73 152 108 15x",
     "landmark coordinate 'rightmouth_y' (column 11) is '15x'"),
    ("list_landmarks_align_celeba.txt", 2, "lefteye_x lefteye_y", "unexpected column names in the header"),
    ("list_eval_partition.txt", 2, "000002.jpg 3", "partition 'partition' (column 2) is '3', not one of 0, 1, 2"),
    ("list_eval_partition.txt", 2, "000002.jpg", "wrong number of columns: 0 values"),
    ("identity_CelebA.txt", 5, "000005.jpg zero", "identity 'identity' (column 2) is 'zero'"),
])
def test_celeba_malformed_lines_name_file_and_line(tmp_path: Path, file: str, line_no: int, new_line: str,
                                                   expected: str) -> None:
    root = make_celeba(tmp_path)
    _break_line(root / file, line_no, new_line)
    with pytest.raises(AnnotationFormatError) as excinfo:
        CelebA(root, split="train")
    text = message(excinfo)
    assert f"{root / file}, line {line_no}:" in text
    assert expected in text
    assert "expected:" in text and "got:" in text
    assert excinfo.value.line_no == line_no and isinstance(excinfo.value, ValueError)


def test_celeba_html_page_instead_of_a_list(tmp_path: Path) -> None:
    root = make_celeba(tmp_path)
    (root / "list_attr_celeba.txt").write_text("<!DOCTYPE html><html><title>Google Drive - Quota exceeded</title>")
    with pytest.raises(AnnotationFormatError, match="is an HTML page") as excinfo:
        read_celeba_attributes(root / "list_attr_celeba.txt")
    assert "list_attr_celeba.txt, line 1" in message(excinfo)


def test_celeba_missing_root_explains_layout_and_download(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError) as excinfo:
        CelebA(tmp_path / "nowhere")
    text = message(excinfo)
    assert "CelebA not found" in text and str(tmp_path / "nowhere") in text and "does not exist" in text
    assert "img_align_celeba/" in text and "list_eval_partition.txt" in text  # the layout
    assert "mmlab.ie.cuhk.edu.hk/projects/CelebA.html" in text and "kaggle" in text.lower()
    assert "download_celeba" in text
    assert isinstance(excinfo.value, FileNotFoundError) and isinstance(excinfo.value, FacekitDataError)


@pytest.mark.parametrize("missing, split, expected", [
    ("list_eval_partition.txt", "train", "CelebA partition file not found"),
    ("img_align_celeba", "all", "CelebA image folder not found"),
])
def test_celeba_missing_files_name_the_file(tmp_path: Path, missing: str, split: str, expected: str) -> None:
    root = make_celeba(tmp_path)
    target = root / missing
    if target.is_dir():
        for f in target.iterdir():
            f.unlink()
        target.rmdir()
    else:
        target.unlink()
    with pytest.raises(DatasetNotFoundError) as excinfo:
        CelebA(root, split=split)
    text = message(excinfo)
    assert expected in text and str(target) in text and "Expected layout" in text


def test_celeba_split_all_needs_no_partition_file(tmp_path: Path) -> None:
    root = make_celeba(tmp_path)
    (root / "list_eval_partition.txt").unlink()
    assert len(CelebA(root, split="all")) == 5


def test_celeba_missing_images_are_skipped_or_reported(tmp_path: Path) -> None:
    root = make_celeba(tmp_path, images=["000001.jpg", "000002.jpg", "000004.jpg"])
    ds = CelebA(root, split="all")
    assert ds.filenames == ["000001.jpg", "000002.jpg", "000004.jpg"] and ds.num_missing_images == 2
    assert "2 listed images are not on disk" in repr(ds)
    with pytest.raises(DatasetNotFoundError, match=r"2 images listed in .*list_attr_celeba.txt are missing .*"
                                                   r"000003.jpg, 000005.jpg"):
        CelebA(root, split="all", skip_missing_images=False)


def test_celeba_list_without_a_row_for_an_image(tmp_path: Path) -> None:
    root = make_celeba(tmp_path)
    write_text(root / "list_eval_partition.txt", ["000001.jpg 0", "000002.jpg 0"])
    with pytest.raises(AnnotationFormatError) as excinfo:
        CelebA(root, split="train")
    text = message(excinfo)
    assert str(root / "list_eval_partition.txt") in text and "no row for 3 image(s)" in text
    assert "000003.jpg" in text


def test_celeba_wrong_image_size(tmp_path: Path) -> None:
    root = make_celeba(tmp_path)
    write_image(root / "img_align_celeba" / "000002.jpg", 100, 120)
    ds = CelebA(root, split="all")
    with pytest.raises(ImageSizeError) as excinfo:
        ds[1]
    text = message(excinfo)
    assert str(root / "img_align_celeba" / "000002.jpg") in text
    assert "100x120 (width x height)" in text and "178x218 was expected" in text and "check_size=False" in text
    assert "images='wild'" in text and "img_celeba/" in text  # the hint for an in-the-wild photo
    with pytest.raises(ImageSizeError, match=r"000002.jpg is 100x120: not a resized copy of a 178x218 aligned "
                                             r"crop .*images='wild'"):
        CelebA(root, split="all", check_size=False)[1]  # the file's landmarks cannot follow another shape
    assert CelebA(root, split="all", check_size=False, targets=["image"])[1]["image"].shape == (3, 120, 100)
    write_image(root / "img_align_celeba" / "000002.jpg", 89, 109)  # a uniformly resized copy (half size)
    lenient = CelebA(root, split="all", check_size=False)[1]  # landmarks follow the resized image
    assert lenient["image"].shape == (3, 109, 89)
    x, y = CELEBA_ROWS["000002.jpg"][2][:2]
    assert lenient["landmarks5"][0].tolist() == pytest.approx([x * 89 / 178, y * 109 / 218])


def test_celeba_corrupt_and_truncated_images(tmp_path: Path) -> None:
    root = make_celeba(tmp_path)
    (root / "img_align_celeba" / "000001.jpg").write_bytes(b"this is not a jpeg")
    good = (root / "img_align_celeba" / "000002.jpg").read_bytes()
    (root / "img_align_celeba" / "000002.jpg").write_bytes(good[: len(good) // 2])
    ds = CelebA(root, split="all")
    with pytest.raises(ImageReadError, match=r"cannot read image .*000001.jpg: not a valid image file"):
        ds[0]
    with pytest.raises(ImageReadError, match=r"cannot decode image .*000002.jpg.*truncated"):
        ds[1]


# --- download_celeba: torchvision is replaced by fakes (no network in tests)


def test_download_celeba_quota_html_explains_the_manual_route(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_download(base: Path) -> None:  # what a refused Google-Drive download leaves behind
        (base / "celeba").mkdir(parents=True)
        (base / "celeba" / "img_align_celeba.zip").write_text(
            "<!DOCTYPE html><html><head><title>Google Drive - Quota exceeded</title></head></html>")
        raise zipfile.BadZipFile("File is not a zip file")

    monkeypatch.setattr(celeba_module, "_torchvision_download", fake_download)
    with pytest.raises(DownloadError) as excinfo:
        download_celeba(tmp_path)
    text = message(excinfo)
    assert "Automatic CelebA download into" in text and "HTML page" in text and "Quota exceeded" in text
    assert str(tmp_path / "celeba" / "img_align_celeba.zip") in text and "delete those files" in text
    assert "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html" in text
    assert "drive.google.com/drive/folders/" in text and "kaggle.com/datasets/jessicali9530/celeba-dataset" in text
    assert "list_attr_celeba.txt" in text and "Expected layout" in text
    assert isinstance(excinfo.value.__cause__, zipfile.BadZipFile)


@pytest.mark.parametrize("error, reason", [
    (urllib.error.URLError("[Errno -3] Temporary failure in name resolution"), "no network connection"),
    (RuntimeError("HTTP Error 403: Forbidden"), "403 Forbidden"),
    (RuntimeError("To download files from GDrive, 'gdown' is required."), "pip install gdown"),
    (ImportError("operator torchvision::nms does not exist"), "torchvision is not installed or cannot be imported"),
    (RuntimeError("Failed to retrieve file url: Too many users have viewed or downloaded this file recently"),
     "Quota exceeded"),
])
def test_download_celeba_failure_reasons(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception,
                                         reason: str) -> None:
    def fake_download(base: Path) -> None:
        raise error

    monkeypatch.setattr(celeba_module, "_torchvision_download", fake_download)
    with pytest.raises(DownloadError) as excinfo:
        download_celeba(tmp_path)
    assert reason in message(excinfo) and "mmlab.ie.cuhk.edu.hk" in message(excinfo)


def test_download_celeba_success_returns_the_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(celeba_module, "_torchvision_download", lambda base: make_celeba(base / "celeba"))
    folder = download_celeba(tmp_path)
    assert folder == tmp_path / "celeba" and len(CelebA(tmp_path, split="test")) == 1


def test_download_celeba_default_root_is_where_celeba_looks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEKIT_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(celeba_module, "_torchvision_download", lambda base: make_celeba(base / "celeba"))
    assert download_celeba() == tmp_path / "home" / "data" / "celeba"
    assert len(CelebA(split="all")) == 5


# ------------------------------------------------------------------------------------------------ LFW

LFW_ROWS = [("Aaron Eckhart", 1), ("Ann Veneman", 1), ("Ann Veneman", 2), ("Zico", 1), ("Zico", 2), ("Zico", 3)]


def lfw_scores(i: int) -> list[float]:
    return [round(((i * 7 + k * 3) % 11 - 5) * 0.37, 3) for k in range(len(LFW_ATTRIBUTES))]


def make_lfw(root: Path, newline: str = "\n", absent: Sequence[tuple[str, int]] = (("Zico", 3),)) -> Path:
    lines = ["# lfw attributes file created 2009-08-11 by Neeraj Kumar",
             "#\tperson\timagenum\t" + "\t".join(LFW_ATTRIBUTES)]
    lines += [f"{p}\t{n}\t" + "\t".join(f"{s:.3f}" for s in lfw_scores(i)) for i, (p, n) in enumerate(LFW_ROWS)]
    write_text(root / "lfw_attributes.txt", lines, newline)
    for i, (person, num) in enumerate(LFW_ROWS):
        if (person, num) not in absent:
            write_image(root / "lfw" / lfw_image_relpath(person, num), 250, 250, value=30 * (i + 1))
    return root


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_lfw_reads_attributes_identity_and_images(tmp_path: Path, newline: str) -> None:
    ds = LFW(make_lfw(tmp_path, newline))
    assert len(ds) == 5 and ds.num_missing_images == 1  # Zico 3 has a row but no image
    assert ds.attribute_names == list(LFW_ATTRIBUTES) and len(ds.attribute_names) == 73
    assert ds.people == ["Aaron Eckhart", "Ann Veneman", "Zico"]
    item = ds[2]
    assert item["person"] == "Ann Veneman" and item["imagenum"] == 2
    assert item["filename"] == "Ann_Veneman/Ann_Veneman_0002.jpg" and item["identity"].item() == 1
    assert item["image"].shape == (3, 250, 250)
    assert item["attribute_scores"].tolist() == pytest.approx(lfw_scores(2), abs=1e-6)
    assert item["attributes"].tolist() == [float(s > 0) for s in lfw_scores(2)]  # positive = present
    assert ds.index_of("Ann_Veneman", 2) == 2


def test_lfw_attribute_subset_crop_and_size(tmp_path: Path) -> None:
    ds = LFW(make_lfw(tmp_path), attributes=["Smiling", "Eyeglasses"], center_crop=150, size=(32, 40))
    item = ds[0]
    assert item["image"].shape == (3, 32, 40) and item["attributes"].shape == (2,)
    k = LFW_ATTRIBUTES.index("Eyeglasses")
    assert item["attribute_scores"][1].item() == pytest.approx(lfw_scores(0)[k], abs=1e-6)
    with pytest.raises(ValueError, match="unknown LFW attribute.*'Glasses'"):
        LFW(tmp_path, attributes=["Glasses"])


def test_lfw_pairs_by_identity_and_official_pairs(tmp_path: Path) -> None:
    ds = LFW(make_lfw(tmp_path))
    pairs = ds.pairs(num_same=2, num_different=4, seed=3)
    assert len(pairs) == 6 and sorted(p[:2] for p in pairs if p[2]) == [(1, 2), (3, 4)]
    for i, j, same in pairs:
        assert (ds.identities[i] == ds.identities[j]).item() == same
    assert pairs == ds.pairs(num_same=2, num_different=4, seed=3)  # deterministic
    write_text(tmp_path / "pairs.txt", ["10\t300", "Ann_Veneman\t1\t2", "Zico\t1\t3",
                                        "Aaron_Eckhart\t1\tZico\t2"], "\r\n")
    with pytest.warns(UserWarning, match="1 of the pairs"):
        official = ds.official_pairs()
    assert official == [(1, 2, True), (0, 4, False)]


@pytest.mark.parametrize("break_at, new_line, expected", [
    (3, "Aaron Eckhart\t1\t0.5", "wrong number of columns: 3 fields, 75 expected"),
    (4, "Ann Veneman\tone\t" + "\t".join(["0.1"] * 73), "image number 'one' is not a positive integer"),
    (5, "Ann Veneman\t2\t" + "\t".join(["0.1"] * 72 + ["n/a"]), "score 'n/a' of attribute 'Wearing Necklace' "
                                                                "(column 75) is not a finite number"),
    (6, "Zico\t1\t" + "\t".join(["nan"] * 73), "score 'nan' of attribute 'Male'"),
    (6, "Ann Veneman\t1\t" + "\t".join(["0.1"] * 73), "duplicate row for 'Ann Veneman' image 1 (first on line 4)"),
    (2, "Aaron Eckhart\t1\t" + "\t".join(["0.1"] * 73), "data row before the header line"),
])
def test_lfw_malformed_lines_name_file_and_line(tmp_path: Path, break_at: int, new_line: str,
                                                expected: str) -> None:
    root = make_lfw(tmp_path)
    path = root / "lfw_attributes.txt"
    lines = path.read_text().split("\n")
    lines[break_at - 1] = new_line
    path.write_text("\n".join(lines))
    with pytest.raises(AnnotationFormatError) as excinfo:
        LFW(root)
    text = message(excinfo)
    assert f"{path}, line {break_at}:" in text and expected in text and "expected:" in text


def test_lfw_header_without_hash_column_and_no_header(tmp_path: Path) -> None:
    path = write_text(tmp_path / "a.txt", ["person\timagenum\tMale\tSmiling", "Zico\t1\t1.0\t-2.0"])
    names, keys, scores = read_lfw_attributes(path)
    assert names == ["Male", "Smiling"] and keys == [("Zico", 1)] and scores.tolist() == [[1.0, -2.0]]
    write_text(path, ["# only a comment"])
    with pytest.raises(AnnotationFormatError, match=r"a.txt: no header line found"):
        read_lfw_attributes(path)


def test_lfw_missing_files_and_wrong_images(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError) as excinfo:
        LFW(tmp_path / "nowhere")
    assert "LFW root folder not found" in message(excinfo) and "lfw_attributes.txt" in message(excinfo)
    assert "vis-www.cs.umass.edu/lfw" in message(excinfo)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetNotFoundError, match=r"LFW image folder not found: .*empty.lfw"):
        LFW(tmp_path / "empty")  # identity needs only the images
    with pytest.raises(DatasetNotFoundError, match=r"target 'attributes' needs the LFW attribute file, which is not "
                                                   r"found: .*empty.lfw_attributes.txt"):
        LFW(tmp_path / "empty", targets=["image", "attributes"])
    root = make_lfw(tmp_path / "lfw_root")
    with pytest.raises(DatasetNotFoundError, match=r"LFW image folder not found: .*lfw-deepfunneled") as excinfo:
        LFW(root, image_dir="lfw-deepfunneled")
    assert "image_dir=" in message(excinfo)
    with pytest.raises(DatasetNotFoundError, match=r"Zico/Zico_0003.jpg"):
        LFW(root, skip_missing_images=False)
    write_image(root / "lfw" / "Zico" / "Zico_0001.jpg", 125, 125)
    (root / "lfw" / "Zico" / "Zico_0002.jpg").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    ds = LFW(root)
    with pytest.raises(ImageSizeError, match=r"Zico_0001.jpg is 125x125 .* 250x250 was expected"):
        ds[3]
    with pytest.raises(ImageReadError, match=r"Zico_0002.jpg"):
        ds[4]


def test_lfw_pairs_file_errors(tmp_path: Path) -> None:
    path = write_text(tmp_path / "pairs.txt", ["10\t300", "Zico\t1\t2", "Zico\t1"])
    with pytest.raises(AnnotationFormatError, match=r"pairs.txt, line 3: malformed line: 2 fields, 3 or 4"):
        read_lfw_pairs(path)
    write_text(path, ["pairs", "Zico\t1\t2"])
    with pytest.raises(AnnotationFormatError, match=r"pairs.txt, line 1: line 1 must give the number"):
        read_lfw_pairs(path)


# ------------------------------------------------------------------------------------------------ FFHQ


def make_ffhq(folder: Path) -> Path:
    for index in (0, 1, 1000):
        write_image(folder / f"{index // 1000 * 1000:05d}" / f"{index:05d}.png", 128, 128, value=index % 200)
    (folder / "LICENSE.txt").parent.mkdir(parents=True, exist_ok=True)
    (folder / "LICENSE.txt").write_text("not an image")
    return folder


def test_ffhq_lists_what_exists(tmp_path: Path) -> None:
    make_ffhq(tmp_path / "thumbnails128x128")
    for root in (tmp_path, tmp_path / "thumbnails128x128"):
        ds = FFHQ(root)
        assert len(ds) == 3 and ds.indices == [0, 1, 1000]
    item = ds[2]
    assert item["image"].shape == (3, 128, 128) and item["ffhq_index"] == 1000
    assert item["filename"] == "01000/01000.png"
    assert FFHQ(tmp_path, size=32, max_images=2)[1]["image"].shape == (3, 32, 32)
    assert len(FFHQ(tmp_path, max_images=2)) == 2


def test_ffhq_flat_folder_and_default_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEKIT_HOME", str(tmp_path / "home"))
    flat = tmp_path / "home" / "data" / "ffhq" / "thumbnails128x128"
    for index in (5, 3):
        write_image(flat / f"{index:05d}.png", 128, 128)
    assert FFHQ().indices == [3, 5]


def test_ffhq_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError) as excinfo:
        FFHQ(tmp_path / "nowhere")
    text = message(excinfo)
    assert "FFHQ folder not found" in text and "thumbnails128x128" in text and "69000/69999.png" in text
    assert "github.com/NVlabs/ffhq-dataset" in text
    (tmp_path / "thumbnails128x128" / "00000").mkdir(parents=True)
    with pytest.raises(DatasetNotFoundError, match="no FFHQ image"):
        FFHQ(tmp_path)
    write_image(tmp_path / "thumbnails128x128" / "00000" / "00000.png", 64, 64)
    (tmp_path / "thumbnails128x128" / "00000" / "00001.png").write_bytes(b"")
    ds = FFHQ(tmp_path)
    with pytest.raises(ImageSizeError, match=r"00000.png is 64x64 .* 128x128 was expected"):
        ds[0]
    with pytest.raises(ImageReadError, match=r"00001.png: not a valid image file"):
        ds[1]
    assert FFHQ(tmp_path, check_size=False)[0]["image"].shape == (3, 64, 64)


# ------------------------------------------------------------------------------------------------ Multi-PIE


def test_multipie_name_parser() -> None:
    r = parse_multipie_name("001_01_01_051_07.png")
    assert (r.subject, r.session, r.recording, r.camera, r.illumination) == (1, 1, 1, "051", 7)
    assert r.yaw == 0 and r.expression == "neutral" and r.camera_folder == "05_1" and r.name == "001_01_01_051_07"
    assert [parse_multipie_name(f"001_01_01_{c}_00.png").yaw for c in MULTIPIE_POSES_7] == [-45, -30, -15, 0, 15,
                                                                                           30, 45]
    assert parse_multipie_name("/a/b/250_04_03_240_19.png").expression == "scream"
    assert parse_multipie_name("100_02_03_081_00.png").yaw is None  # elevated camera
    assert parse_multipie_name("100_03_02_110_00.png").expression == "smile"


@pytest.mark.parametrize("name, expected", [
    ("001_01_01_051.png", "is not a Multi-PIE file name; expected <subject:3>_<session:2>"),
    ("001_01_01_999_07.png", "unknown camera '999'"),
    ("001_05_01_051_07.png", "session 05 is not 01-04"),
    ("001_01_03_051_07.png", "session 01 has no recording 03"),
    ("001_01_01_051_20.png", "illumination 20 is not 00-19"),
])
def test_multipie_name_errors(name: str, expected: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        parse_multipie_name(name)
    assert name in message(excinfo) and expected in message(excinfo)


def make_multipie(root: Path, subjects: Sequence[int] = (1, 2), cameras: Sequence[str] = ("051", "080", "190"),
                  illuminations: Sequence[int] = (0, 1)) -> Path:
    for s, c, i in itertools.product(subjects, cameras, illuminations):
        folder = root / "session01" / "multiview" / f"{s:03d}" / "01" / f"{c[:2]}_{c[2]}"
        write_image(folder / f"{s:03d}_01_01_{c}_{i:02d}.png", 16, 12, value=10 * s + i)
    (root / "README.txt").write_text("not an image")
    return root


def test_multipie_dataset_filters_and_items(tmp_path: Path) -> None:
    root = make_multipie(tmp_path)
    ds = MultiPIE(root)
    assert len(ds) == 12 and ds.subjects == [1, 2]
    item = ds[0]
    assert item["filename"] == "session01/multiview/001/01/05_1/001_01_01_051_00.png"
    assert item["image"].shape == (3, 12, 16) and item["yaw"] == 0.0 and item["camera"] == "051"
    assert (item["subject"], item["session"], item["recording"], item["illumination"]) == (1, 1, 1, 0)
    assert MultiPIE(root, grayscale=True, size=8)[0]["image"].shape == (1, 8, 8)
    assert len(MultiPIE(root, cameras=["080"], illuminations=[1], subjects=[2])) == 1
    batch = next(iter(DataLoader(ds, batch_size=4)))
    assert batch["image"].shape == (4, 3, 12, 16) and batch["yaw"].dtype == torch.float64
    with pytest.raises(ValueError, match=r"unknown camera code\(s\) \['05_1'\]"):
        MultiPIE(root, cameras=["05_1"])


def test_multipie_pose_pairs_follow_the_protocol(tmp_path: Path) -> None:
    ds = MultiPIE(make_multipie(tmp_path))
    pairs = ds.pose_pairs()
    assert len(pairs) == 2 * 2 * 3 * 2  # subjects x illuminations x ordered camera pairs
    for i, j in pairs:
        a, b = ds.records[i], ds.records[j]
        assert (a.subject, a.session, a.recording, a.illumination) == (b.subject, b.session, b.recording,
                                                                       b.illumination)
        assert a.camera != b.camera
    assert len(ds.pose_pairs(ordered=False)) == len(pairs) // 2
    assert len(ds.pose_pairs(cameras=["051", "080"])) == 2 * 2 * 2
    # the paper's count: 100 subjects x 20 illuminations x 7 poses -> 84,000 ordered pairs
    records = [parse_multipie_name(f"{s:03d}_01_01_{c}_{i:02d}.png")
               for s in range(1, 101) for c in MULTIPIE_POSES_7 for i in range(20)]
    assert len(multipie_pose_pairs(records)) == 84_000


def test_multipie_missing_root_and_bad_names(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError) as excinfo:
        MultiPIE(tmp_path / "nowhere")
    text = message(excinfo)
    assert "Multi-PIE root folder not found" in text and "licensed" in text
    assert "www.cs.cmu.edu/afs/cs/project/PIE/MultiPie" in text and "session01/multiview" in text
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetNotFoundError, match="no Multi-PIE image"):
        MultiPIE(tmp_path / "empty")
    root = make_multipie(tmp_path / "mp", subjects=(1,))
    with pytest.raises(DatasetNotFoundError, match="matching the filters"):
        MultiPIE(root, subjects=[7])
    write_image(root / "001_01_01_051_25.png", 16, 12)
    with pytest.raises(ValueError, match=r"001_01_01_051_25.png'?: illumination 25 is not 00-19"):
        MultiPIE(root)


def test_multipie_corrupt_image(tmp_path: Path) -> None:
    root = make_multipie(tmp_path, subjects=(1,), cameras=("051",), illuminations=(0,))
    path = root / "session01/multiview/001/01/05_1/001_01_01_051_00.png"
    path.write_bytes(path.read_bytes()[:30])
    with pytest.raises(ImageReadError, match="001_01_01_051_00.png"):
        MultiPIE(root)[0]


# ------------------------------------------------------------------------------------------------ CAS-PEAL


def caspeal_name(subject: int, accessory: int = 0, pose: str = "PM+00", lighting: str = "IEU+00",
                 expression: str = "EN") -> str:
    return f"MY_{subject:06d}_{lighting}_{pose}_{expression}_A{accessory}_D0_T0_BB_M0_R1_S0.tif"


def make_caspeal(root: Path, subjects: Sequence[int] = (64, 65)) -> Path:
    for s in subjects:
        write_image(root / "FRONTAL" / "Normal" / caspeal_name(s), 36, 48, value=s, mode="L")
        for a in range(1, 7):
            write_image(root / "FRONTAL" / "Accessory" / caspeal_name(s, a), 36, 48, value=s + 20 * a, mode="L")
        write_image(root / "POSE" / f"{s:06d}" / caspeal_name(s, 0, pose="PU-22"), 36, 48, mode="L")
        write_image(root / "FRONTAL" / "Expression" / caspeal_name(s, 0, expression="ES"), 36, 48, mode="L")
    (root / "FaceFP_2.txt").write_text("MY_000064_IEU+00_PM+00_EN_A0_D0_T0_BB_M0_R1_S0\t 141 222 217 220\n")
    return root


def test_caspeal_name_parser() -> None:
    r = parse_caspeal_name("MY_000064_IEU+00_PM+00_EN_A0_D0_T0_BB_M0_R1_S0.tif")
    assert (r.gender, r.age_group, r.subject) == ("M", "Y", 64)
    assert (r.lighting_source, r.lighting_elevation, r.lighting_azimuth, r.lighting) == ("E", "U", 0, "EU+00")
    assert (r.pose_elevation, r.pose_azimuth, r.pose) == ("M", 0, "M+00")
    assert (r.expression, r.expression_name, r.accessory_name, r.accessory_kind) == ("N", "neutral", "none", "none")
    assert (r.distance, r.session, r.background_name, r.extra) == (0, 0, "blue", ("M0", "R1", "S0"))
    r = parse_caspeal_name("/x/FO_000301_IFD-45_PD+67_ES_A5_D1_T2_BW_M0_R0_S0.tif")
    assert (r.lighting, r.pose, r.pose_azimuth, r.expression_name) == ("FD-45", "D+67", 67, "surprise")
    assert (r.accessory_name, r.accessory_kind, r.distance, r.session) == ("glasses_2", "glasses", 1, 2)
    assert parse_caspeal_name(caspeal_name(1, 2)).accessory_kind == "hat"


@pytest.mark.parametrize("name, expected", [
    ("MY_000064_IEU+00_PM+00_EN_A0_D0_T0_BB_M0_R1.tif", "11 fields separated by '_', 12 expected"),
    ("MY_000064_IEU+00_PM+00_EN_A7_D0_T0_BB_M0_R1_S0.tif", "the accessory field is 'A7'; expected A0 .. A6"),
    ("MY_000064_IEU+00_PX+00_EN_A0_D0_T0_BB_M0_R1_S0.tif", "the pose field is 'PX+00'"),
    ("MY_000064_IEU00_PM+00_EN_A0_D0_T0_BB_M0_R1_S0.tif", "the lighting field is 'IEU00'"),
    ("XY_000064_IEU+00_PM+00_EN_A0_D0_T0_BB_M0_R1_S0.tif", "the gender/age field is 'XY'"),
    ("MY_000064_IEU+00_PM+00_EQ_A0_D0_T0_BB_M0_R1_S0.tif", "the expression field is 'EQ'"),
])
def test_caspeal_name_errors(name: str, expected: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        parse_caspeal_name(name)
    assert name in message(excinfo) and expected in message(excinfo)


def test_caspeal_dataset_and_accessory_pairs(tmp_path: Path) -> None:
    root = make_caspeal(tmp_path)
    ds = CASPEAL(root)
    assert len(ds) == 2 * 9 and ds.subjects == [64, 65]
    frontal = CASPEAL(root, poses=["M+00"], expressions=["N"])
    assert len(frontal) == 14
    item = frontal[1]
    assert item["image"].shape == (3, 48, 36) and item["subject"] == 64 and item["accessory"] == 1
    assert item["accessory_name"] == "hat_1" and item["filename"] == "FRONTAL/Accessory/" + caspeal_name(64, 1)
    assert torch.allclose(item["image"][0], item["image"][1])  # grey repeated over RGB
    assert CASPEAL(root, grayscale=True, size=16)[0]["image"].shape == (1, 16, 16)
    assert len(CASPEAL(root, accessories=[0])) == 2 * 3
    pairs = frontal.accessory_pairs()
    assert len(pairs) == 2 * 7 * 6  # every ordered change of accessory, per subject
    from_none = frontal.accessory_pairs(mode="from_none")
    assert len(from_none) == 2 * 6
    assert all(frontal.records[i].accessory == 0 and frontal.records[j].accessory > 0 for i, j in from_none)
    assert all(frontal.records[i].subject == frontal.records[j].subject for i, j in pairs)
    # the pose and expression images of the full set are not paired with the frontal accessories by default
    assert len(ds.accessory_pairs()) == len(pairs)
    assert len(caspeal_accessory_pairs(ds.records, match=("subject",))) > len(pairs)
    with pytest.raises(ValueError, match="cannot match on"):
        ds.accessory_pairs(match=("colour",))


def test_caspeal_missing_root_and_bad_names(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError) as excinfo:
        CASPEAL(tmp_path / "nowhere")
    text = message(excinfo)
    assert "CAS-PEAL-R1 root folder not found" in text and "licensed" in text and "jdl.ac.cn/peal" in text
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetNotFoundError, match="no CAS-PEAL-R1 image"):
        CASPEAL(tmp_path / "empty")
    root = make_caspeal(tmp_path / "cp", subjects=(1,))
    write_image(root / "MY_000001_IEU+00_PM+00_EN_A9_D0_T0_BB_M0_R1_S0.tif", 36, 48, mode="L")
    with pytest.raises(ValueError, match=r"A9_D0_T0_BB_M0_R1_S0.tif'?: the accessory field is 'A9'"):
        CASPEAL(root)


# ------------------------------------------------------------------------------------------------ shared helpers


def test_read_image_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ImageReadError, match=r"image file not found: .*missing.png"):
        read_image(tmp_path / "missing.png")
    with pytest.raises(ImageReadError, match=r"it is a folder"):
        read_image(tmp_path)
    buffer = io.BytesIO()
    Image.fromarray(np.full((40, 30, 3), 200, np.uint8)).save(buffer, format="JPEG")
    (tmp_path / "cut.jpg").write_bytes(buffer.getvalue()[:200])
    with pytest.raises(ImageReadError, match=r"cannot decode image .*cut.jpg"):
        read_image(tmp_path / "cut.jpg")
    path = write_image(tmp_path / "ok.png", 30, 40)
    assert read_image(path, (30, 40)).shape == (40, 30, 3)
    assert read_image(path, grayscale=True).shape == (40, 30)
    with pytest.raises(ImageSizeError, match=r"ok.png is 30x40 \(width x height\) but 40x30 was expected"):
        read_image(path, (40, 30))
    tensor = image_to_tensor(read_image(path))
    assert tensor.shape == (3, 40, 30) and tensor.dtype == torch.float32 and tensor.max() <= 1.0


def test_crop_and_resize_maps_points_with_the_pixels() -> None:
    image = np.zeros((20, 20), np.uint8)
    image[6, 10] = 255  # a bright pixel at (x=10, y=6)
    out, scale, offset = crop_and_resize(image, (4, 2, 16, 14))
    x, y = np.array([10.0, 6.0]) * scale + offset
    assert out.shape == (12, 12) and out[int(y), int(x)] == 255 and (x, y) == (6.0, 4.0)
    out, scale, offset = crop_and_resize(np.zeros((10, 10, 3), np.uint8), None, (20, 40))
    assert out.shape == (20, 40, 3) and scale.tolist() == [4.0, 2.0]
    assert (np.array([0.0, 0.0]) * scale + offset).tolist() == [1.5, 0.5]  # pixel centres stay centres
    with pytest.raises(ValueError, match="does not fit"):
        crop_and_resize(image, (0, 0, 30, 10))


def test_identity_pairs() -> None:
    identities = [0, 0, 0, 1, 1, 2]
    pairs = identity_pairs(identities, num_same=4, num_different=5, seed=1)
    assert len(pairs) == 9 and len({p[:2] for p in pairs}) == 9
    for i, j, same in pairs:
        assert i < j and (identities[i] == identities[j]) == same
    assert pairs == identity_pairs(identities, 4, 5, seed=1)
    with pytest.raises(ValueError, match="only 4"):
        identity_pairs(identities, num_same=5, num_different=0)
    with pytest.raises(ValueError, match="different-identity pairs, but the data has only 0"):
        identity_pairs([3, 3], num_same=1, num_different=1)


def test_celeba_partition_reader_accepts_lf_and_blank_trailing_lines(tmp_path: Path) -> None:
    path = write_text(tmp_path / "list_eval_partition.txt", ["000001.jpg 0", "000002.jpg 2", "", ""], "\n")
    assert read_celeba_partition(path) == {"000001.jpg": 0, "000002.jpg": 2}


def test_dataset_status_finds_installed_folders(tmp_path, monkeypatch) -> None:
    from facekit.config import DATASETS
    from facekit.data.catalog import CATALOG, dataset_status

    monkeypatch.setenv("FACEKIT_HOME", str(tmp_path))
    status = dataset_status()
    assert set(status) == set(DATASETS) == set(CATALOG)
    assert status["synth"] == "built in" and status["celeba"] == "not installed"
    (tmp_path / "data" / "celeba").mkdir(parents=True)
    (tmp_path / "data" / "celeba" / "list_attr_celeba.txt").write_text("0\n")
    assert dataset_status("celeba")["celeba"].startswith(str(tmp_path / "data" / "celeba") + " (")
    with pytest.raises(ValueError, match="synth, celeba"):
        dataset_status("imagenet")
