"""SynthFaces: the renderer (facekit.data.synthfaces), its Dataset and the pair builders."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facekit.data import (
    ACCESSORY_STATES,
    ATTRIBUTES,
    GLASSES_STYLES,
    HAT_STYLES,
    LIGHTS,
    MULTIPIE_YAWS,
    N_LIGHTS,
    SynthFaces,
    accessory_pairs,
    attribute_sets,
    attributes_from_vector,
    attributes_to_vector,
    eye_face_pairs,
    guided_pool,
    identity_params,
    occlude_eyes,
    occluded_eyes_pairs,
    pose_pairs,
    render,
    resolve_attributes,
    split_identities,
)
from facekit.landmarks import IBUG68_GROUPS


def _group(landmarks: np.ndarray, name: str) -> np.ndarray:
    return landmarks[list(IBUG68_GROUPS[name])]


# --------------------------------------------------------------------------------------------------------------
# render: formats, determinism
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [32, 64, 128])
def test_render_formats(size: int) -> None:
    out = render(3, size=size)
    assert out["image"].shape == (size, size, 3) and out["image"].dtype == np.uint8
    assert out["landmarks"].shape == (68, 2) and out["landmarks"].dtype == np.float32
    assert out["visible"].shape == (68,) and out["visible"].dtype == bool
    assert out["mask"].shape == (size, size) and out["mask"].dtype == np.uint8
    assert set(ATTRIBUTES) <= set(out["attributes"])
    assert all(out["attributes"][name] in (0, 1) for name in ATTRIBUTES)
    assert np.isfinite(out["landmarks"]).all()
    assert ((out["landmarks"] >= 0) & (out["landmarks"] < size)).all()  # frontal: every landmark in the frame


def test_same_arguments_same_pixels() -> None:
    kwargs = dict(attributes={"Smiling": 1, "Eyeglasses": 1, "glasses_style": "square"}, yaw=15.0, pitch=5.0,
                  light=7, size=64)
    a, b = render(11, **kwargs), render(11, **kwargs)
    assert np.array_equal(a["image"], b["image"])
    assert np.array_equal(a["landmarks"], b["landmarks"])
    assert not np.array_equal(a["image"], render(12, **kwargs)["image"])  # another person
    assert not np.array_equal(a["image"], render(11, **{**kwargs, "light": 8})["image"])  # another light


_OUTPUT_ARRAYS = ("image", "landmarks", "visible", "mask")


@pytest.mark.parametrize("size", [64, 128])
def test_caches_do_not_leak_between_renders(size: int) -> None:
    # render caches an identity's geometry, hair and backdrop: A, then B, then A again must give A's exact output
    kwargs = dict(attributes={"Smiling": 1, "Eyeglasses": 1, "glasses_style": "round", "Wearing_Hat": 1,
                              "hat_style": "beanie"}, yaw=-30.0, pitch=5.0, light=4, size=size)
    first = render(31, **kwargs)
    other = render(32, **{**kwargs, "attributes": {"Smiling": 0}, "yaw": 15.0})  # another person, fills the caches
    again = render(31, **kwargs)
    for key in _OUTPUT_ARRAYS:
        assert np.array_equal(first[key], again[key]), key
        assert first[key].dtype == again[key].dtype and first[key] is not again[key]
    assert first["attributes"] == again["attributes"]
    assert not np.array_equal(first["image"], other["image"])

    # the returned arrays are the caller's own: writing into them must not change the next render
    before = {key: again[key].copy() for key in _OUTPUT_ARRAYS}
    for key in _OUTPUT_ARRAYS:
        assert again[key].flags.writeable, key
        again[key][...] = 0
    again["attributes"]["Smiling"] = 0
    later = render(31, **kwargs)
    for key in _OUTPUT_ARRAYS:
        assert np.array_equal(later[key], before[key]), key
    assert later["attributes"]["Smiling"] == 1
    assert np.array_equal(render(32, **{**kwargs, "attributes": {"Smiling": 0}, "yaw": 15.0})["image"], other["image"])


def test_identity_parameters() -> None:
    p, q = identity_params(5), identity_params(5)
    assert p is q  # cached
    assert np.array_equal(p.as_vector(), identity_params(5).as_vector())
    assert not np.array_equal(p.as_vector(), identity_params(6).as_vector())
    skins = np.array([identity_params(i).skin for i in range(200)])
    assert skins[:, 0].max() - skins[:, 0].min() > 100  # light to dark skin tones
    assert (skins[:, 0] >= skins[:, 2]).all()  # natural tones: more red than blue
    males = np.mean([identity_params(i).traits["Male"] for i in range(200)])
    assert 0.3 < males < 0.7


def test_lights_and_poses() -> None:
    assert N_LIGHTS >= 20 and len(LIGHTS) == N_LIGHTS
    assert MULTIPIE_YAWS == (-45.0, -30.0, -15.0, 0.0, 15.0, 30.0, 45.0)
    left = render(2, light=1, size=64)["image"].astype(float)  # a light from the image's left
    right = render(2, light=11, size=64)["image"].astype(float)  # from the image's right
    face = render(2, size=64)
    x = face["landmarks"][:, 0]
    cols_l = slice(int(x.min()), int(np.median(x)))
    cols_r = slice(int(np.median(x)), int(x.max()))
    assert left[:, cols_l].mean() > left[:, cols_r].mean()
    assert right[:, cols_r].mean() > right[:, cols_l].mean()


# --------------------------------------------------------------------------------------------------------------
# landmarks
# --------------------------------------------------------------------------------------------------------------


def test_landmark_order_frontal() -> None:
    lm = render(4, size=128)["landmarks"]
    y = {name: _group(lm, name)[:, 1].mean() for name in IBUG68_GROUPS}
    assert y["right_brow"] < y["right_eye"] < y["nose_lower"] < y["outer_lip"] < lm[8, 1]
    assert y["left_brow"] < y["left_eye"]
    # the subject's right eye is on the image's left
    assert _group(lm, "right_eye")[:, 0].max() < _group(lm, "left_eye")[:, 0].min()
    assert lm[36, 0] < lm[39, 0] < lm[42, 0] < lm[45, 0]  # eye corners, left to right
    assert lm[48, 0] < lm[54, 0] and lm[17, 0] < lm[21, 0] < lm[22, 0] < lm[26, 0]
    assert lm[27, 1] < lm[28, 1] < lm[29, 1] < lm[30, 1]  # the nose bridge runs down
    assert np.argmax(lm[:, 1]) == 8  # the chin is the lowest point
    assert np.all(np.diff(lm[0:9, 0]) > 0) and np.all(np.diff(lm[8:17, 0]) > 0)  # the jaw runs left to right
    # the jaw is the outline: every jaw point is a vertex of the landmarks' convex hull
    import cv2

    hull = set(cv2.convexHull(lm.astype(np.float32), returnPoints=False).ravel().tolist())
    assert set(range(2, 15)) <= hull


def test_jaw_on_the_face_outline() -> None:
    """The jaw points lie on the head's silhouette: skin inside, background (or neck) outside."""
    out = render(0, {"Wearing_Hat": 0}, size=128)
    mask = out["mask"].astype(float) / 255
    lm = out["landmarks"]
    centre = lm[27:36].mean(0)
    for k in (4, 5, 11, 12):  # lower jaw, beside the neck
        d = (lm[k] - centre) / np.linalg.norm(lm[k] - centre)
        inside, outside = lm[k] - 3 * d, lm[k] + 4 * d
        assert mask[int(round(inside[1])), int(round(inside[0]))] > 0.9
        assert mask[int(round(outside[1])), int(round(outside[0]))] < 0.1


@pytest.mark.parametrize("yaw", [-45.0, -30.0, 30.0, 45.0])
def test_landmarks_under_yaw(yaw: float) -> None:
    front = render(6, size=128)["landmarks"]
    out = render(6, yaw=yaw, size=128)
    lm, vis = out["landmarks"], out["visible"]
    # the nose tip moves the way the face turns, the eyes keep their left-right order
    assert np.sign(lm[30, 0] - front[30, 0]) == np.sign(yaw)
    assert lm[36, 0] < lm[39, 0] < lm[42, 0] < lm[45, 0]
    # the far side of the jaw is hidden, the near side and the inner face are visible
    far, near = (list(range(13, 17)), list(range(0, 4))) if yaw > 0 else (list(range(0, 4)), list(range(13, 17)))
    if abs(yaw) >= 45:
        assert not vis[far].any()
    else:  # the point by the far ear
        assert not vis[16 if yaw > 0 else 0]
    assert vis[near].all() and vis[8]
    assert vis[27:68].all()


def test_frontal_all_visible() -> None:
    assert render(6, size=64)["visible"].all()


# --------------------------------------------------------------------------------------------------------------
# counterfactuals
# --------------------------------------------------------------------------------------------------------------


def _changed_rows_cols(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    diff = np.abs(a.astype(int) - b.astype(int)).max(-1) > 0
    return np.nonzero(diff.any(1))[0], np.nonzero(diff.any(0))[0]


@pytest.mark.parametrize("style", GLASSES_STYLES)
def test_glasses_change_only_the_eye_region(style: str) -> None:
    base = render(9, size=128, light=4)
    glasses = render(9, {"Eyeglasses": 1, "glasses_style": style}, size=128, light=4)
    lm = base["landmarks"]
    rows, cols = _changed_rows_cols(base["image"], glasses["image"])
    assert rows.size > 0
    iod = float(np.linalg.norm(lm[36:42].mean(0) - lm[42:48].mean(0)))
    eye_y = float(lm[36:48, 1].mean())
    assert rows.min() >= eye_y - 0.6 * iod and rows.max() <= eye_y + 0.6 * iod  # a band round the eyes
    assert rows.max() < lm[33, 1]  # the nose's base, the mouth and the chin are untouched
    assert np.array_equal(base["landmarks"], glasses["landmarks"])
    assert glasses["attributes"]["Eyeglasses"] == 1 and glasses["attributes"]["glasses_style"] == style


@pytest.mark.parametrize("style", HAT_STYLES)
def test_hat_changes_only_the_top_of_the_head(style: str) -> None:
    base = render(10, size=128)
    hat = render(10, {"Wearing_Hat": 1, "hat_style": style}, size=128)
    rows, _ = _changed_rows_cols(base["image"], hat["image"])
    lm = base["landmarks"]
    assert rows.size > 0 and rows.max() < lm[36:48, 1].min()  # above the eyes


def test_defaults_are_explicit_no_ops() -> None:
    """Overriding an attribute with its own default value changes nothing."""
    p = identity_params(13)
    same = {name: p.traits[name] for name in ("Male", "Young", "Big_Nose", "Bangs")}
    same.update({"Eyeglasses": 0, "Smiling": 0})
    assert np.array_equal(render(13, same, size=64)["image"], render(13, size=64)["image"])


def test_smile_moves_the_mouth_only() -> None:
    base = render(14, size=128)
    smile = render(14, {"Smiling": 1}, size=128)
    moved = np.linalg.norm(smile["landmarks"] - base["landmarks"], axis=1) > 1e-4
    assert moved[48:68].any() and not moved[0:36].any()
    assert smile["landmarks"][48, 1] < base["landmarks"][48, 1]  # the mouth corners rise


@pytest.mark.parametrize("identity", [3, 14, 21])
def test_big_and_pointy_nose_change_different_things(identity: int) -> None:
    def nose(big: int, pointy: int) -> tuple[float, float]:
        lm = render(identity, {"Big_Nose": big, "Pointy_Nose": pointy}, size=128)["landmarks"]
        width = float(lm[35, 0] - lm[31, 0])
        drop = float(lm[33, 1] - (lm[31, 1] + lm[35, 1]) / 2)  # how far the tip hangs below the nostril wings
        return width, drop

    (w, d), (w_big, d_big), (w_pointy, d_pointy), (w_both, d_both) = nose(0, 0), nose(1, 0), nose(0, 1), nose(1, 1)
    assert w_big > 1.4 * w and w_both > 1.4 * w  # a big nose is wider, pointed or not
    assert w_pointy == pytest.approx(w, rel=0.02)  # a pointed nose keeps its width ...
    assert d_pointy > d + 1.0 and d_both > d_big + 1.0  # ... and hangs its tip lower (pixels at 128 px)
    img = {p: render(identity, {"Pointy_Nose": p}, size=64)["image"].astype(int) for p in (0, 1)}
    changed = np.abs(img[1] - img[0]).sum(-1) > 30
    assert changed.sum() >= 6  # visible at 64 px, too

# --------------------------------------------------------------------------------------------------------------
# attributes
# --------------------------------------------------------------------------------------------------------------


def test_resolve_attribute_rules() -> None:
    identity = next(i for i in range(100) if identity_params(i).traits["Black_Hair"])
    blond = resolve_attributes(identity, {"Blond_Hair": 1})
    assert blond["Blond_Hair"] == 1 and blond["Black_Hair"] == 0
    assert resolve_attributes(identity, {"Black_Hair": 0})["Black_Hair"] == 0
    assert resolve_attributes(0, {"Bald": 1})["Bangs"] == 0
    shaved = resolve_attributes(0, {"No_Beard": 1})
    assert shaved["Mustache"] == shaved["Goatee"] == 0
    bearded = resolve_attributes(0, {"Goatee": 1})
    assert bearded["No_Beard"] == 0
    assert resolve_attributes(0, {"glasses_style": "sunglasses"})["Eyeglasses"] == 1
    assert resolve_attributes(0)["glasses_style"] is None
    woman = next(i for i in range(100) if not identity_params(i).traits["Male"])
    man = resolve_attributes(woman, {"Male": 1})
    assert man["Male"] == 1 and man["Wearing_Lipstick"] == 0
    assert resolve_attributes(woman, {"Male": True, "Wearing_Lipstick": -1})["Wearing_Lipstick"] == 0  # CelebA -1


def test_attribute_vectors_round_trip() -> None:
    attrs = resolve_attributes(21, {"Smiling": 1})
    vec = attributes_to_vector(attrs)
    assert vec.shape == (len(ATTRIBUTES),) and vec.dtype == np.float32
    assert vec[ATTRIBUTES.index("Smiling")] == 1.0
    back = attributes_from_vector(vec)
    assert resolve_attributes(21, back) == attrs
    assert attributes_from_vector(torch.tensor(vec * 2 - 1)) == back  # CelebA's -1/1 works too


# --------------------------------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("identity", [-1, 1.5, "3", True, None])
def test_bad_identity(identity: object) -> None:
    with pytest.raises(ValueError, match="non-negative int"):
        render(identity, size=32)  # type: ignore[arg-type]


@pytest.mark.parametrize("kwargs, message", [
    ({"attributes": {"Sunglasses": 1}}, "unknown attribute 'Sunglasses'.*Eyeglasses"),
    ({"attributes": {"Smiling": 2}}, "must be 0 or 1"),
    ({"attributes": {"glasses_style": "aviator"}}, "glasses_style must be one of round, square, sunglasses"),
    ({"attributes": {"hat_style": "helmet"}}, "hat_style must be one of cap, beanie, fedora"),
    ({"attributes": {"Bald": 1, "Bangs": 1}}, "contradict"),
    ({"attributes": {"Black_Hair": 1, "Blond_Hair": 1}}, "at most one hair colour"),
    ({"attributes": {"Eyeglasses": 0, "glasses_style": "round"}}, "contradicts Eyeglasses=0"),
    ({"attributes": ["Smiling"]}, "must be a dict"),
    ({"yaw": 60}, r"yaw must be in \[-45, 45\].*MultiPIE"),
    ({"yaw": float("nan")}, "yaw must be a number"),
    ({"pitch": -30}, r"pitch must be in \[-20, 20\]"),
    ({"light": 20}, r"light must be an int index in \[0, 19\]"),
    ({"light": -1}, "light must be an int index"),
    ({"light": 1.0}, "light must be an int index"),
    ({"size": 16}, r"size must be an int in \[32, 1024\]"),
    ({"size": 64.0}, "size must be an int"),
])
def test_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render(1, **{"size": 32, **kwargs})


def test_bad_dataset_arguments() -> None:
    with pytest.raises(ValueError, match="split must be one of"):
        SynthFaces("training")
    with pytest.raises(ValueError, match="poses"):
        SynthFaces(poses=[0, 90])
    with pytest.raises(ValueError, match="lights"):
        SynthFaces(lights=[25])
    with pytest.raises(ValueError, match="probability"):
        SynthFaces(attributes={"Smiling": 1.5})
    with pytest.raises(ValueError, match="unknown attribute"):
        SynthFaces(attributes={"Smile": 0.5})
    with pytest.raises(ValueError, match="n_identities"):
        SynthFaces(n_identities=2)
    with pytest.raises(ValueError, match="size"):
        SynthFaces(size=8)
    with pytest.raises(IndexError):
        SynthFaces(n_identities=10, split="test")[5]


# --------------------------------------------------------------------------------------------------------------
# the Dataset
# --------------------------------------------------------------------------------------------------------------


def test_splits_are_disjoint_and_deterministic() -> None:
    parts = {s: set(split_identities(200, s).tolist()) for s in ("train", "val", "test")}
    assert parts["train"].isdisjoint(parts["val"]) and parts["train"].isdisjoint(parts["test"])
    assert parts["val"].isdisjoint(parts["test"])
    assert set.union(*parts.values()) == set(range(200))
    assert len(parts["train"]) == 160 and len(parts["val"]) == 20 and len(parts["test"]) == 20
    assert np.array_equal(split_identities(200, "val"), split_identities(200, "val"))
    assert not np.array_equal(split_identities(200, "val"), split_identities(200, "val", seed=1))
    ds = SynthFaces("test", size=32, n_identities=200, length=30)
    assert {int(ds[i]["identity"]) for i in range(len(ds))} <= parts["test"]


def test_dataset_items() -> None:
    ds = SynthFaces("train", size=48, n_identities=50, length=12, attributes="random", poses="multipie",
                    lights="all", pitch=(-5, 5))
    assert len(ds) == 12
    item = ds[3]
    assert item["image"].shape == (3, 48, 48) and item["image"].dtype == torch.float32
    assert 0.0 <= float(item["image"].min()) and float(item["image"].max()) <= 1.0
    assert item["landmarks"].shape == (68, 2) and item["visible"].shape == (68,)
    assert item["attributes"].shape == (len(ATTRIBUTES),)
    assert item["identity"].dtype == torch.int64 and item["light"].dtype == torch.int64
    assert float(item["yaw"]) in MULTIPIE_YAWS and -5 <= float(item["pitch"]) <= 5
    assert torch.equal(ds[3]["image"], item["image"])  # deterministic
    twin = SynthFaces("train", size=48, n_identities=50, length=12, attributes="random", poses="multipie",
                      lights="all", pitch=(-5, 5))
    assert torch.equal(twin[7]["image"], ds[7]["image"])
    spec = ds.spec(3)
    assert spec["identity"] == int(item["identity"]) and spec["light"] == int(item["light"])


def test_dataset_forced_attributes_grayscale_cache() -> None:
    ds = SynthFaces("val", size=32, n_identities=40, attributes={"Eyeglasses": 1.0, "glasses_style": "sunglasses"},
                    grayscale=True, cache=True)
    k = ds.attribute_index("Eyeglasses")
    assert all(float(ds[i]["attributes"][k]) == 1.0 for i in range(len(ds)))
    assert ds[0]["image"].shape == (1, 32, 32)
    assert ds[0]["image"] is ds[0]["image"]  # cached


def test_dataset_counterfactual() -> None:
    ds = SynthFaces("train", size=96, n_identities=20, length=4, lights=[3])
    item = ds[1]
    other = ds.counterfactual(1, {"Eyeglasses": 1})
    assert int(other["identity"]) == int(item["identity"])
    assert float(other["attributes"][ds.attribute_index("Eyeglasses")]) == 1.0
    diff = (other["image"] - item["image"]).abs().amax(0) > 0  # (H, W)
    rows = torch.nonzero(diff.any(1)).ravel()
    assert rows.numel() > 0 and rows.max() < item["landmarks"][33, 1]
    turned = ds.counterfactual(1, yaw=30.0)
    assert float(turned["yaw"]) == 30.0 and not torch.equal(turned["image"], item["image"])


# --------------------------------------------------------------------------------------------------------------
# pair builders
# --------------------------------------------------------------------------------------------------------------


def test_pose_pairs() -> None:
    pairs = pose_pairs(identities=[1, 2], lights=[0, 5])
    assert len(pairs) == 2 * 2 * 7 * 6  # identities x lights x ordered pairs of different poses
    assert pairs.code_names == ("yaw-45", "yaw-30", "yaw-15", "yaw0", "yaw+15", "yaw+30", "yaw+45")
    item = pairs[0]
    assert item["source"].shape == (1, 32, 32) and item["target"].shape == (1, 32, 32)
    assert item["source_code"].sum() == 1 and item["target_code"].sum() == 1
    assert not torch.equal(item["source_code"], item["target_code"])
    assert float(item["source_yaw"]) != float(item["target_yaw"])
    for i in range(len(pairs)):  # same identity and light within a pair
        source, target, _, _ = pairs.pairs[i]
        assert source.identity == target.identity and source.light == target.light and source.yaw != target.yaw
    # the same (identity, light, yaw) is the same image wherever it appears
    a = pairs[0]["source"]
    b = next(pairs[i]["target"] for i in range(len(pairs)) if pairs.pairs[i][1] == pairs.pairs[0][0])
    assert torch.equal(a, b)
    rgb = pose_pairs(identities=[1], lights=[0], grayscale=False, size=40, yaws=(0, 30))
    assert len(rgb) == 2 and rgb[0]["source"].shape == (3, 40, 40)


def test_accessory_pairs() -> None:
    pairs = accessory_pairs(identities=[4], size=64, grayscale=False)
    names = [name for name, _ in ACCESSORY_STATES]
    assert names == ["none", "glasses:round", "glasses:square", "glasses:sunglasses", "hat:cap", "hat:beanie",
                     "hat:fedora"]
    assert len(pairs) == 7 * 6 and pairs.code_names == tuple(names)
    k = next(i for i, (s, t, cs, ct) in enumerate(pairs.pairs) if cs == 0 and ct == 3)  # none -> sunglasses
    item = pairs[k]
    diff = (item["source"] - item["target"]).abs().amax(0) > 0
    rows = torch.nonzero(diff.any(1)).ravel()
    lm = render(4, size=64)["landmarks"]
    assert rows.numel() > 0 and rows.max() < lm[33, 1]
    with pytest.raises(ValueError, match="states"):
        accessory_pairs(identities=[4], states=["none", "hat:helmet"])


def test_occluded_eyes_pairs() -> None:
    face = render(5, size=64)
    occluded = occlude_eyes(face["image"], face["landmarks"])
    for k in (37, 44):  # eyelid points are under the bar
        x, y = face["landmarks"][k]
        assert occluded[int(y), int(x)].max() == 0
    assert np.array_equal(occluded[int(face["landmarks"][57, 1]):], face["image"][int(face["landmarks"][57, 1]):])
    pairs = occluded_eyes_pairs(identities=[5, 6], yaws=(0, 30), lights=[0, 2], size=32)
    assert len(pairs) == 2 * 2 * 2 and pairs.code_names == ("occluded", "complete")
    item = pairs[0]
    assert (item["source"] == 0).sum() > 10 and not torch.equal(item["source"], item["target"])


def test_eye_face_pairs() -> None:
    images = [render(i, size=128)["image"] for i in range(6)]
    pairs = eye_face_pairs(images)
    assert pairs.n_images == 6 and pairs.n_kept >= 4  # most frontal renders pass the Haar filter
    assert len(pairs) == 2 * pairs.n_kept
    item = pairs[0]
    assert item["eye"].shape == (3, 32, 32) and item["face"].shape == (3, 128, 128)
    assert 0.0 <= float(item["eye"].min()) and float(item["face"].max()) <= 1.0
    assert torch.equal(pairs[0]["face"], pairs[1]["face"]) and int(pairs[1]["eye_index"]) == 1
    small = eye_face_pairs(SynthFaces(identities=[0, 1], size=64))  # 64 px renders are upscaled first
    assert small.n_images == 2
    empty = eye_face_pairs([np.zeros((128, 128, 3), np.uint8)])
    assert len(empty) == 0 and empty.eyes.shape == (0, 3, 32, 32)


def test_attribute_sets_and_guided_pool() -> None:
    guided, inputs = attribute_sets("Mouth_Slightly_Open", n_identities=40, size=32, n_guided=6, n_input=5)
    assert len(guided) == 6 and len(inputs) == 5
    assert set(guided.identities.tolist()).isdisjoint(inputs.identities.tolist())
    k = guided.attribute_index("Mouth_Slightly_Open")
    assert all(float(guided[i]["attributes"][k]) == 1.0 for i in range(len(guided)))
    assert all(float(inputs[i]["attributes"][k]) == 0.0 for i in range(len(inputs)))
    with pytest.raises(ValueError, match="unknown attribute"):
        attribute_sets("Mouth_Open")
    pool = guided_pool({"Smiling": 1, "Eyeglasses": 1}, n=4, n_identities=30, size=32, exclude=[0, 1, 2])
    assert len(pool) == 4 and not {0, 1, 2} & set(pool.identities.tolist())
    item = pool[0]
    assert item["landmarks"].shape == (68, 2)
    assert float(item["attributes"][pool.attribute_index("Smiling")]) == 1.0
