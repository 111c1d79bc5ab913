"""Tests of facekit.masks: attribute masks from landmarks (CNIA sec. 3.3, DIAT sec. 3.2) and their use."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from facekit.masks import (
    ATTRIBUTE_REGIONS,
    GLOBAL_ATTRIBUTES,
    attribute_mask,
    attribute_masks,
    blend,
    canonical_attribute,
    convex_hull_mask,
    is_global_attribute,
    known_attributes,
    part_points,
)

# dlib's landmarks of skimage's astronaut, aligned to 128x128 (facekit.align, padding 0.25), rounded.
# fmt: off
FACE_128 = np.array(
    [[33.3, 65.3], [34.4, 73.3], [35.4, 80.5], [36.5, 88.4], [38.8, 95.6], [43.2, 102.1], [49.4, 107.1],
     [55.6, 112.1], [63.0, 113.1], [70.9, 112.0], [78.0, 107.6], [84.4, 102.0], [88.7, 95.8], [91.7, 88.3],
     [93.3, 80.3], [94.2, 72.9], [95.2, 64.9], [37.6, 58.5], [41.4, 54.3], [46.7, 53.3], [52.1, 54.4],
     [57.5, 56.1], [70.8, 56.1], [76.0, 54.5], [81.3, 54.3], [86.7, 54.7], [90.2, 59.2], [64.4, 62.4],
     [64.1, 68.4], [64.3, 73.7], [64.6, 79.1], [57.4, 82.1], [60.8, 83.2], [64.2, 83.7], [67.5, 82.9],
     [70.7, 82.1], [43.8, 62.8], [47.1, 60.6], [51.7, 60.4], [55.2, 64.2], [51.2, 64.4], [46.6, 64.7],
     [71.9, 64.7], [75.7, 60.5], [80.3, 60.3], [83.8, 63.5], [80.5, 65.0], [76.6, 65.2], [49.1, 87.8],
     [54.4, 87.5], [60.4, 87.2], [64.4, 88.4], [68.4, 87.5], [73.7, 87.2], [79.0, 87.6], [74.0, 94.5],
     [68.2, 97.5], [63.6, 98.4], [59.6, 97.9], [54.1, 94.9], [51.1, 89.0], [60.5, 89.9], [63.8, 90.4],
     [68.5, 89.5], [77.1, 88.4], [68.0, 94.2], [64.1, 95.0], [60.1, 94.6]]
)
# fmt: on
EYE_R, EYE_L = FACE_128[36:42].mean(0), FACE_128[42:48].mean(0)
MOUTH = FACE_128[48:68].mean(0)
NOSE_TIP = FACE_128[30]
FOREHEAD = FACE_128[17:27].mean(0) + np.array([0.0, -15.0])  # 15 px above the brows
CHIN = FACE_128[8]


def _at(mask: np.ndarray, xy: np.ndarray) -> float:
    return float(mask[int(round(xy[1])), int(round(xy[0]))])


def test_convex_hull_mask_area_with_margin() -> None:
    square = np.array([[30.0, 30.0], [70.0, 30.0], [70.0, 70.0], [30.0, 70.0], [50.0, 50.0]])  # inner point ignored
    hard = convex_hull_mask(square, 100)
    assert hard.shape == (100, 100) and hard.dtype == np.float32
    assert set(np.unique(hard)) == {0.0, 1.0}
    assert abs(hard.sum() - 41 * 41) <= 41 * 2  # pixel centres 30..70
    r = 8.0
    grown = convex_hull_mask(square, 100, margin_px=r)
    expected = 40 * 40 + 4 * 40 * r + math.pi * r * r  # Minkowski sum of a square and a disc
    assert abs(grown.sum() - expected) / expected < 0.05
    assert np.all(grown >= hard)


def test_convex_hull_mask_feather_and_outside_points() -> None:
    tri = np.array([[-20.0, -20.0], [40.0, 10.0], [10.0, 40.0]])  # partly outside the image
    hard = convex_hull_mask(tri, (50, 60), margin_px=3)
    soft = convex_hull_mask(tri, (50, 60), margin_px=3, feather_px=4)
    assert hard.shape == (50, 60) and hard[0, 0] == 1.0
    assert np.all(soft[hard == 1] == 1.0)  # the soft edge lies outside the hard mask
    assert ((soft > 0) & (soft < 1)).any() and soft.min() >= 0 and soft.max() <= 1
    assert (soft > 0).sum() > hard.sum()
    with pytest.raises(ValueError, match=r"\(K, 2\)"):
        convex_hull_mask(np.zeros((3,)), 10)
    with pytest.raises(ValueError, match=">= 0"):
        convex_hull_mask(tri, 10, margin_px=-1)


def test_attribute_regions_cover_the_right_features() -> None:
    glasses = attribute_mask(FACE_128, "Eyeglasses", 128)
    assert glasses.shape == (128, 128) and set(np.unique(glasses)) <= {0.0, 1.0}
    assert _at(glasses, EYE_R) == 1 and _at(glasses, EYE_L) == 1
    assert _at(glasses, MOUTH) == 0 and _at(glasses, CHIN) == 0

    for attr in ("Smiling", "Mouth_Slightly_Open", "Mustache", "Goatee"):
        m = attribute_mask(FACE_128, attr, 128)
        assert _at(m, MOUTH) == 1, attr
        assert _at(m, EYE_R) == 0 and _at(m, EYE_L) == 0, attr

    for attr in ("Big_Nose", "Pointy_Nose"):
        m = attribute_mask(FACE_128, attr, 128)
        assert _at(m, NOSE_TIP) == 1 and _at(m, FACE_128[57]) == 0 and _at(m, EYE_R) == 0  # not the lower lip

    for attr in ("Bangs", "Wearing_Hat"):
        m = attribute_mask(FACE_128, attr, 128)
        assert _at(m, FOREHEAD) == 1 and _at(m, MOUTH) == 0 and _at(m, NOSE_TIP) == 0

    hat, bangs = attribute_mask(FACE_128, "Wearing_Hat", 128), attribute_mask(FACE_128, "Bangs", 128)
    assert hat[:20].sum() > bangs[:20].sum()  # a hat reaches higher than bangs


def test_forehead_follows_head_tilt() -> None:
    lm = FACE_128.copy()
    lm[:, 1] = 128 - lm[:, 1]  # an upside-down face: the forehead is now below the brows
    brows = lm[17:27].mean(0)
    assert part_points(lm, "forehead").mean(0)[1] > brows[1]
    assert part_points(FACE_128, "forehead").mean(0)[1] < FACE_128[17:27].mean(0)[1]


def test_union_of_attributes() -> None:
    a = attribute_mask(FACE_128, "Eyeglasses", 128)
    b = attribute_mask(FACE_128, "Smiling", 128)
    both = attribute_mask(FACE_128, ["Eyeglasses", "Smiling"], 128)
    assert np.array_equal(both, np.maximum(a, b))
    sideburns = attribute_mask(FACE_128, "Sideburns", 128)  # two regions, hulled separately
    assert _at(sideburns, FACE_128[1]) == 1 and _at(sideburns, FACE_128[15]) == 1 and _at(sideburns, NOSE_TIP) == 0


def test_margin_and_scale() -> None:
    small = attribute_mask(FACE_128, "Big_Nose", 128, margin=0.1)
    large = attribute_mask(FACE_128, "Big_Nose", 128, margin=0.5)
    assert np.all(large >= small) and large.sum() > small.sum()
    px = attribute_mask(FACE_128, "Big_Nose", 128, margin=5, relative=False)
    assert small.sum() < px.sum() < large.sum()
    # relative margins scale with the face: twice the size, four times the area
    double = attribute_mask(FACE_128 * 2, "Big_Nose", (256, 256), margin=0.3)
    single = attribute_mask(FACE_128, "Big_Nose", (128, 128), margin=0.3)
    assert abs(double.sum() / single.sum() - 4.0) < 0.3  # up to pixel rounding at the edge
    soft = attribute_mask(FACE_128, "Big_Nose", (128, 100, 3), feather=0.2)
    assert soft.shape == (128, 100) and ((soft > 0) & (soft < 1)).any()


def test_names_aliases_and_globals() -> None:
    assert canonical_attribute("big nose") == "Big_Nose"
    assert canonical_attribute("Mouth Closed") == "Mouth_Closed"  # LFW spelling
    assert canonical_attribute("with glasses") == "Eyeglasses"  # CNIA's
    assert canonical_attribute("SMILE") == "Smiling"
    assert set(known_attributes()) == set(ATTRIBUTE_REGIONS) | set(GLOBAL_ATTRIBUTES)
    assert is_global_attribute("Male") and not is_global_attribute("Bangs")
    assert np.all(attribute_mask(FACE_128, ["Bangs", "Young"], 64) == 1.0)
    for name in ATTRIBUTE_REGIONS:  # every table entry builds
        m = attribute_mask(FACE_128, name, 128)
        assert 0 < m.sum() < 128 * 128, name


def test_errors() -> None:
    with pytest.raises(KeyError, match="Eyeglasses") as info:
        attribute_mask(FACE_128, "Wearing_Monocle", 128)
    assert "unknown attribute 'Wearing_Monocle'" in str(info.value)
    with pytest.raises(ValueError, match=r"\(68, 2\)"):
        attribute_mask(FACE_128[:5], "Bangs", 128)
    with pytest.raises(ValueError, match="NaN"):
        attribute_mask(np.full((68, 2), np.nan), "Bangs", 128)
    with pytest.raises(ValueError, match="at least one"):
        attribute_mask(FACE_128, [], 128)
    with pytest.raises(ValueError, match="size"):
        attribute_mask(FACE_128, "Bangs", 0)
    with pytest.raises(KeyError, match="unknown landmark part"):
        part_points(FACE_128, "ears")


def test_batched_masks() -> None:
    lm = torch.from_numpy(np.stack([FACE_128, FACE_128 / 2]))
    m = attribute_masks(lm, "Eyeglasses", 128)
    assert m.shape == (2, 1, 128, 128) and m.dtype == torch.float32
    assert np.array_equal(m[0, 0].numpy(), attribute_mask(FACE_128, "Eyeglasses", 128))
    per = attribute_masks(lm, [["Eyeglasses"], ["Smiling", "Bangs"]], 128)
    assert np.array_equal(per[1, 0].numpy(), attribute_mask(FACE_128 / 2, ["Smiling", "Bangs"], 128))
    with pytest.raises(ValueError, match="batch of 2"):
        attribute_masks(lm, [["Eyeglasses"]], 128)
    with pytest.raises(ValueError, match=r"\(B, 68, 2\)"):
        attribute_masks(FACE_128, "Bangs", 128)


def test_blend() -> None:
    mask = torch.zeros(16, 16)
    mask[4:12, 4:12] = 1.0
    a, b = torch.ones(1, 3, 16, 16), torch.zeros(1, 3, 16, 16)
    mixed = blend(a, b, mask)
    assert torch.equal(mixed[0, 0], mask)
    with pytest.raises(ValueError, match="same shape"):
        blend(a, torch.zeros(1, 3, 8, 8), mask)
