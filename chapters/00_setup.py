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
# ## Data and weights
#
# Downloaded datasets and weights live under `FACEKIT_HOME` (printed above as `cache`). On this machine:

# %%
from facekit.config import cache_dir

print("FACEKIT_HOME =", cache_dir(create=False))

# %% [markdown]
# ## Summary
#
# - `FACEKIT_PROFILE` scales every chapter; `FACEKIT_DATA` picks the dataset; `FACEKIT_HOME` holds downloads.
# - `facekit.about()` tells you what is in use; `facekit.seed_everything` makes a run repeatable.
#
# **Try it:** set `FACEKIT_PROFILE=smoke` before starting Jupyter and re-run this chapter: the image size and
# step count above change, the code does not.
