"""Tests of facekit.align: 68 -> 5 points, the ArcFace template, similarity estimation, warping and round trips."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from facekit.align import (
    ARCFACE_TEMPLATE_112,
    align_face,
    estimate_similarity,
    five_point_template,
    invert_transform,
    landmarks_68_to_5,
    transform_landmarks,
    unalign_face,
)


def _similarity(angle_deg: float, scale: float, tx: float, ty: float) -> np.ndarray:
    c, s = np.cos(np.radians(angle_deg)), np.sin(np.radians(angle_deg))
    return np.array([[scale * c, -scale * s, tx], [scale * s, scale * c, ty], [0.0, 0.0, 1.0]])


def _canonical_face(size: int = 128) -> np.ndarray:
    """A textured float image with a bright dot on each template point."""
    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur(rng.random((size, size, 3)).astype(np.float32), (0, 0), 3) * 0.5
    for x, y in five_point_template(size):
        cv2.circle(img, (int(round(x)), int(round(y))), 3, (1.0, 1.0, 1.0), -1)
    return img


def test_68_to_5() -> None:
    lm = np.zeros((68, 2))
    lm[36:42] = [10.0, 20.0]
    lm[42:48] = [30.0, 20.0]
    lm[30] = [20.0, 30.0]
    lm[48] = [12.0, 40.0]
    lm[54] = [28.0, 40.0]
    five = landmarks_68_to_5(lm)
    assert np.allclose(five, [[10, 20], [30, 20], [20, 30], [12, 40], [28, 40]])
    batch = torch.from_numpy(np.stack([lm, lm + 1]))
    five_t = landmarks_68_to_5(batch)
    assert isinstance(five_t, torch.Tensor) and five_t.shape == (2, 5, 2)
    assert torch.allclose(five_t[1], torch.from_numpy(five) + 1)
    with pytest.raises(ValueError, match=r"\(68, 2\)"):
        landmarks_68_to_5(np.zeros((5, 2)))


def test_template() -> None:
    assert np.allclose(five_point_template(112), ARCFACE_TEMPLATE_112)
    assert np.allclose(five_point_template(224), 2 * ARCFACE_TEMPLATE_112)
    padded = five_point_template(128, padding=0.25)
    tight = five_point_template(128)
    assert np.allclose(padded - 64, (tight - 64) / 1.5)  # zoomed out about the centre
    assert np.all(np.diff(tight[:2, 0]) > 0) and tight[0, 1] < tight[3, 1]  # eyes left to right, above mouth


def test_estimate_similarity_exact() -> None:
    m_true = _similarity(23.0, 1.7, 12.0, -5.0)
    src = five_point_template(128)
    dst = transform_landmarks(src, m_true)
    assert np.allclose(estimate_similarity(src, dst), m_true, atol=1e-9)


def test_estimate_similarity_matches_linear_least_squares() -> None:
    """Reference: a similarity is linear in (a, b, tx, ty): x' = a x - b y + tx, y' = b x + a y + ty."""
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 100, size=(12, 2))
    dst = transform_landmarks(src, _similarity(-40, 0.6, 3, 7)) + rng.normal(0, 2.0, size=(12, 2))
    x, y = src[:, 0], src[:, 1]
    one, zero = np.ones_like(x), np.zeros_like(x)
    design = np.concatenate([np.stack([x, -y, one, zero], 1), np.stack([y, x, zero, one], 1)])  # (2N, 4)
    (a, b, tx, ty), *_ = np.linalg.lstsq(design, np.concatenate([dst[:, 0], dst[:, 1]]), rcond=None)
    assert np.allclose(estimate_similarity(src, dst), [[a, -b, tx], [b, a, ty], [0, 0, 1]], atol=1e-8)


def test_estimate_similarity_errors() -> None:
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        estimate_similarity(np.zeros((5, 2)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="degenerate"):
        estimate_similarity(np.ones((5, 2)), np.random.default_rng(0).random((5, 2)))


def test_align_recovers_template_from_rotated_scaled_copy() -> None:
    canonical = _canonical_face(128)
    m0 = _similarity(-17.0, 1.6, 40.0, 25.0)  # canonical -> photo
    photo = cv2.warpAffine(canonical, m0[:2], (300, 260), flags=cv2.INTER_LINEAR)
    pts = transform_landmarks(five_point_template(128), m0)  # where the 5 points are in the photo

    aligned, m = align_face(photo, pts, size=128)
    assert aligned.shape == (128, 128, 3) and aligned.dtype == np.float32
    assert np.allclose(m, invert_transform(m0), atol=1e-9)  # the alignment undoes the rotation and scale
    assert np.allclose(transform_landmarks(pts, m), five_point_template(128), atol=1e-9)
    for x, y in five_point_template(128):  # the dots are back on the template points
        assert aligned[int(round(y)), int(round(x))].min() > 0.9
    assert np.abs(aligned[8:-8, 8:-8] - canonical[8:-8, 8:-8]).mean() < 0.02


def test_round_trips() -> None:
    rng = np.random.default_rng(1)
    lm = rng.uniform(30, 90, size=(68, 2))  # 68 points whose 5-point reduction is a tilted, smaller template
    five = transform_landmarks(five_point_template(96, 0.1), _similarity(15.0, 0.9, 20.0, 5.0))
    lm[36:42], lm[42:48], lm[30], lm[48], lm[54] = five[0], five[1], five[2], five[3], five[4]
    img = (rng.random((120, 120, 3)) * 255).astype(np.uint8)
    img = cv2.GaussianBlur(img, (0, 0), 4)
    aligned, m = align_face(img, lm, size=96, padding=0.1)
    assert aligned.dtype == np.uint8
    # the matrix is the least-squares fit of the 68 -> 5 reduction onto the template
    assert np.allclose(m, estimate_similarity(landmarks_68_to_5(lm), five_point_template(96, 0.1)))
    assert np.allclose(transform_landmarks(transform_landmarks(lm, m), invert_transform(m)), lm, atol=1e-9)
    assert np.allclose(transform_landmarks(lm[None], m[:2])[0], transform_landmarks(lm, m))
    back = unalign_face(aligned, m, img.shape)
    assert back.shape == img.shape
    inside = np.ones((96, 96), np.uint8)
    inside = cv2.warpAffine(inside, invert_transform(m)[:2], (120, 120)) > 0
    inside = cv2.erode(inside.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    assert inside.sum() > 1000
    assert np.abs(back[inside].astype(int) - img[inside].astype(int)).mean() < 3.0


def test_align_accepts_tensor_landmarks_and_reflect() -> None:
    img = np.random.default_rng(2).random((64, 64, 3))
    lm = torch.from_numpy(five_point_template(64))
    aligned, m = align_face(img, lm, size=64, border="reflect")
    assert aligned.dtype == np.float64 and np.allclose(m, np.eye(3), atol=1e-9)
    assert np.allclose(aligned, img, atol=1e-6)


def test_align_errors() -> None:
    img = np.zeros((64, 64, 3), np.uint8)
    with pytest.raises(ValueError, match=r"\(68, 2\) or \(5, 2\)"):
        align_face(img, np.zeros((10, 2)))
    with pytest.raises(ValueError, match="size"):
        align_face(img, five_point_template(64), size=0)
    with pytest.raises(ValueError, match="border"):
        align_face(img, five_point_template(64), border="wrap")
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        align_face(np.zeros((3, 64, 64), np.uint8), five_point_template(64))
    with pytest.raises(ValueError, match="matrix"):
        transform_landmarks(np.zeros((5, 2)), np.eye(2))
