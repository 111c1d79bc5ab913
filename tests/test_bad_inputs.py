"""Bad inputs get a clear error and lose nothing (issue 18): 0-255 floats, uint8 tensors, NaN, empty images,
collapsed landmarks and wrong shapes, each where it used to pass silently or end in a raw torch / numpy / cv2 error."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facekit.checks import as_float_image, check_pixel_range
from facekit.color import color_transfer
from facekit.data import haar
from facekit.losses import total_variation
from facekit.masks import attribute_mask, blend
from facekit.nn.eye2face import EyeToFace
from facekit.viz import to_numpy_image


def test_check_pixel_range_names_the_mistake() -> None:
    check_pixel_range(torch.rand(1, 3, 4, 4))
    with pytest.raises(ValueError, match="a 0-255 image\\? Divide it by 255"):
        check_pixel_range(torch.rand(1, 3, 4, 4) * 255)
    with pytest.raises(TypeError, match="x.float\\(\\) / 255"):
        check_pixel_range(torch.zeros(1, 3, 4, 4, dtype=torch.uint8))
    with pytest.raises(ValueError, match="1 NaN value \\(1 of the 2 pixels"):
        check_pixel_range(np.array([0.5, np.nan]))
    with pytest.raises(ValueError, match="empty"):
        check_pixel_range(np.zeros((0, 3)))
    assert as_float_image(np.full((1, 1, 3), 51, np.uint8)).max() == pytest.approx(0.2)


def test_color_transfer_refuses_0_255_floats_and_uint8_tensors() -> None:
    x = torch.rand(1, 3, 16, 16)
    with pytest.raises(ValueError, match="0-255"):
        color_transfer(x * 255, x)  # used to give a white image
    with pytest.raises(TypeError, match="uint8"):
        color_transfer((x * 255).to(torch.uint8), x)
    with pytest.raises(ValueError, match="0-255"):
        color_transfer(x[0].permute(1, 2, 0).numpy() * 255.0, x[0].permute(1, 2, 0).numpy())
    u8 = (x[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    assert color_transfer(u8, u8).dtype == np.uint8  # uint8 arrays stay accepted


def test_haar_refuses_0_255_floats_nan_and_empty_images() -> None:
    img = np.random.default_rng(0).random((40, 40, 3))
    assert haar.to_gray(img).dtype == np.uint8
    with pytest.raises(ValueError, match="0-255"):
        haar.detect_faces(img * 255.0)  # used to turn white and drop every face
    nan = img.copy()
    nan[3, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        haar.to_gray(nan)  # used to become a black pixel
    with pytest.raises(ValueError, match="empty"):
        haar.detect_faces(np.zeros((0, 0, 3), np.uint8))
    with pytest.raises(ValueError, match="0-255"):
        haar.to_gray(torch.rand(3, 8, 8) * 255)


def test_to_numpy_image_reads_uint8_tensors_and_refuses_0_255_floats() -> None:
    t = torch.full((3, 4, 4), 128, dtype=torch.uint8)
    assert to_numpy_image(t).max() == pytest.approx(128 / 255)  # used to be a white square
    with pytest.raises(ValueError, match="0-255"):
        to_numpy_image(torch.full((3, 4, 4), 128.0))
    assert to_numpy_image(torch.full((3, 4, 4), 1.02)).max() == 1.0  # a small overshoot is clipped


def test_eye_to_face_generator_refuses_0_255_eyes() -> None:
    net = EyeToFace().eval()
    eye = torch.rand(1, 3, net.eye_size, net.eye_size)
    with pytest.raises(ValueError, match="eye"):
        net(eye * 255)  # used to saturate every output pixel
    with pytest.raises(TypeError, match="uint8"):
        net((eye * 255).to(torch.uint8))


def test_total_variation_on_uint8_and_blend_on_3d_tensors() -> None:
    with pytest.raises(TypeError, match="floating-point"):
        total_variation(torch.zeros(1, 3, 8, 8, dtype=torch.uint8))
    with pytest.raises(ValueError, match="two \\(B, C, H, W\\) tensors"):
        blend(torch.rand(3, 8, 8), torch.rand(3, 8, 8), torch.ones(8, 8))
    with pytest.raises(ValueError, match="two \\(B, C, H, W\\) tensors"):
        blend(torch.rand(1, 3, 8, 8), np.zeros((1, 3, 8, 8)), torch.ones(8, 8))


def test_collapsed_landmarks_and_an_image_as_landmarks() -> None:
    with pytest.raises(ValueError, match="collapsed"):
        attribute_mask(np.full((68, 2), 30.0), "Eyeglasses", 64)  # used to give a one-pixel mask
    with pytest.raises(ValueError, match="68, 2"):
        attribute_mask(np.zeros((64, 64, 3)), "Eyeglasses", 64)


def test_retrieve_never_returns_or_counts_excluded_items() -> None:
    """An exclude mask that left fewer than k candidates returned excluded items, and recall counted them as hits."""
    from facekit.eval import recall_at_k
    from facekit.eval.retrieval import retrieve

    q, g = torch.eye(2, 4), torch.eye(4)
    exclude = torch.tensor([[True, True, True, False], [False, False, False, False]])
    assert retrieve(q, g, 1, exclude=exclude)[0].tolist() == [3]
    assert retrieve(q, g, 2, exclude=exclude)[0].tolist() == [3, -1]
    labels = torch.tensor([0, 1, 2, 3])
    # query 0's right answer (item 0) is excluded: it must not be found through an empty slot
    assert recall_at_k(q, g, torch.tensor([0, 1]), labels, ks=(1, 2), exclude=exclude) == {1: 0.5, 2: 0.5}


# -- NaN pixels before dlib and the Haar cascades (issue 18, item 2) ---------------------------------------------------
def _nan_image() -> np.ndarray:
    img = np.random.default_rng(0).random((40, 40, 3))
    img[3, 5, 1] = np.nan
    img[10:12, 20] = np.nan  # two more pixels, all channels
    return img


NAN_MESSAGE = r"7 NaN values \(3 of the 1600 pixels, the first at index \(3, 5, 1\)"


def test_nan_pixels_are_refused_before_dlib() -> None:
    from facekit.landmarks import as_uint8_rgb

    img = _nan_image()
    with pytest.raises(ValueError, match=NAN_MESSAGE):
        as_uint8_rgb(img)  # used to become a black pixel
    with pytest.raises(ValueError, match=NAN_MESSAGE + r" of shape \(40, 40, 3\)"):  # the (H, W, 3) view dlib gets
        as_uint8_rgb(torch.from_numpy(img).permute(2, 0, 1))
    inf = np.random.default_rng(1).random((8, 8, 3))
    inf[0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="1 infinite value"):
        as_uint8_rgb(inf)


def test_nan_pixels_are_refused_by_dlib_identity_uint8() -> None:
    from facekit.eval.scores import DlibIdentity

    img = torch.from_numpy(_nan_image()).permute(2, 0, 1).float()
    with pytest.raises(ValueError, match=r"7 NaN values \(3 of the 1600 pixels"):
        DlibIdentity._uint8(img)  # clamp() kept the NaN, the uint8 cast made it 0
    assert DlibIdentity._uint8(img.nan_to_num(0.5)).dtype == np.uint8


def test_nan_pixels_are_refused_by_the_dlib_detector() -> None:
    pytest.importorskip("dlib")
    from facekit.landmarks import DlibDetector

    detector = DlibDetector()
    for call in (detector.detect_all, detector.five_points, detector.confidence, detector.face_boxes):
        with pytest.raises(ValueError, match=NAN_MESSAGE):
            call(_nan_image())


def test_nan_pixels_are_refused_by_the_haar_helpers_with_a_count() -> None:
    img = _nan_image()
    for call in (haar.to_gray, haar.detect_faces, haar.detect_eyes):
        with pytest.raises(ValueError, match=NAN_MESSAGE):
            call(img)


# -- a float64 image to a float32 network (issue 18, item 3) ---------------------------------------------------------
FLOAT64 = r"is float64 but the network's weights are float32: call x\.float\(\)"


def test_float64_images_to_feature_networks_say_call_float() -> None:
    from facekit.nn import DlibFaceNet, SynthFaceNet, VGG19, FeatureExtractor

    for net, size in ((SynthFaceNet(num_classes=0), 64), (DlibFaceNet(), 150), (VGG19(), 32)):
        x = torch.rand(1, 3, size, size, dtype=torch.float64)
        with pytest.raises(TypeError, match=FLOAT64):
            net(x)  # used to end in torch's "expected scalar type Double but found Float"
        with pytest.raises(TypeError, match=FLOAT64):
            net.extract(x, [net.layer_names[0]] if hasattr(net, "layer_names") else [1])
        net(x.float())  # the fix the message gives works
    ext = FeatureExtractor(SynthFaceNet(num_classes=0), [4])
    with pytest.raises(TypeError, match=FLOAT64):
        ext(torch.rand(1, 3, 64, 64, dtype=torch.float64))


def test_float64_eye_to_the_eye_to_face_generator_says_call_float() -> None:
    g = EyeToFace().eval()
    eye = torch.rand(2, 3, 32, 32, dtype=torch.float64)
    with pytest.raises(TypeError, match="eye " + FLOAT64):
        g(eye)
    with pytest.raises(TypeError, match="eye " + FLOAT64):
        g.encode(eye)
    assert g(eye.float()).dtype == torch.float32
    assert g.double()(eye).dtype == torch.float64  # a network moved to float64 on purpose takes float64 images


def test_float64_images_to_diat_and_see_another_you_say_call_float() -> None:
    from facekit.nn import SeeAnotherYou, TransformNet
    from facekit.nn.diat import transform_images

    with pytest.raises(TypeError, match="images " + FLOAT64):
        transform_images(TransformNet(), torch.rand(1, 3, 32, 32, dtype=torch.float64))
    model = SeeAnotherYou(7, size=32, channels=1)
    code = torch.eye(7)[:1]
    with pytest.raises(TypeError, match=FLOAT64):
        model(torch.rand(1, 1, 32, 32, dtype=torch.float64), code)
    model(torch.rand(1, 1, 32, 32), code)
