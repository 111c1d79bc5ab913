"""*Learning to See another You*, section 4.1.2: retrieval by generation, and the two-step baselines.

The gallery is every test image; each gallery face is turned to the 7 poses and the generation closest to the
original is kept (:func:`represent`); a query is the generation of a source at the target pose, compared by pixels
or by the middle layer of the second network. The two-step baselines first classify the pose
(:func:`train_pose_classifier` on :func:`face_net_features`), then rank what they kept.
:func:`retrieval_experiment` runs both criteria and reports recall@1/5/20 (:func:`facekit.eval.recall_at_k`).
This module imports :mod:`facekit.methods.see_another_you`, never the other way round.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from facekit.methods.see_another_you import (
    PAPER,
    TaskData,
    _as_unit,
    _device_of,
    _one_hot,
    _stages,
    destandardize,
    standardize,
)
from facekit.data.synthfaces import MULTIPIE_YAWS
from facekit.nn.see_another_you import SeeAnotherYou

__all__ = ["Representation", "represent", "face_net_features", "train_pose_classifier", "retrieval_experiment"]


# ================================================================================================================
# Section 4.1.2: retrieval
# ================================================================================================================
@dataclass
class Representation:
    """The gallery side of section 4.1.2 for a set of images.

    Attributes:
        pixels: ``(N, C*S*S)`` the kept generated image (standardised units, in the source's units).
        net2: ``(N, D)`` the second network's middle-layer maps for it (average-pooled, flattened).
        code: ``(N,)`` which of the target codes was kept (the closest generation to the original).
        images: ``(N, C, S, S)`` the kept generation, de-normalised, in [0, 1] (for figures).
    """

    pixels: Tensor
    net2: Tensor
    code: Tensor
    images: Tensor


@torch.no_grad()
def represent(model: SeeAnotherYou, images: Tensor, *, pool: int = 2, batch_size: int = 128, amp: bool = False,
              progress: bool = False) -> Representation:
    """"Generate the 7 possible poses for each original face and keep the one that is closest to the original
    (using pixel level Euclidean distance)" (section 4.1.2), with its second-network features.

    Args:
        model: the two-stage network.
        images: ``(N, C, S, S)`` uint8 or float in [0, 1].
        pool: average-pooling of the middle-layer maps (``(128, 16, 16)`` -> ``(128, 8, 8)`` with 2), which keeps a
            gallery of thousands of images in memory; 1 keeps every value.
        batch_size: images per forward pass (each is generated ``K`` times).
        amp: bfloat16 autocast (see :func:`edit`).
        progress: a progress bar.

    Returns:
        a :class:`Representation`.
    """
    images = _as_unit(images)
    model.eval()
    device = _device_of(model)
    k = model.generator.n_codes
    out: Dict[str, List[Tensor]] = {"pixels": [], "net2": [], "code": [], "images": []}
    chunks: Iterable = images.split(batch_size)
    if progress:
        from tqdm.auto import tqdm

        chunks = tqdm(chunks, total=math.ceil(len(images) / batch_size), desc="gallery: 7 poses each")
    for xs in chunks:
        x, mean, std = standardize(xs.to(device))
        b = len(x)
        xk = x.repeat_interleave(k, 0)  # (B*K, C, S, S): each image with every code
        codes = torch.eye(k, device=device).repeat(b, 1)
        _, y2, mid = _stages(model, xk, codes, amp, pool)
        dist = (y2 - xk).flatten(1).pow(2).sum(1).view(b, k)
        best = dist.argmin(1)  # (B,)
        pick = torch.arange(b, device=device) * k + best
        out["pixels"].append(y2[pick].flatten(1).cpu())
        out["net2"].append(mid[pick].cpu())
        out["code"].append(best.cpu())
        out["images"].append(destandardize(y2[pick], mean, std).clamp(0, 1).cpu())
    return Representation(**{name: torch.cat(v) for name, v in out.items()})


@torch.no_grad()
def _queries(model: SeeAnotherYou, images: Tensor, codes: Tensor, pool: int, amp: bool, batch_size: int = 256
             ) -> Tuple[Tensor, Tensor, Tensor]:
    """Generated queries: (pixels, net2 features, images in [0, 1])."""
    device = _device_of(model)
    pixels, net2, shown = [], [], []
    onehot = _one_hot(codes, model.generator.n_codes)
    for xs, cs in zip(_as_unit(images).split(batch_size), onehot.split(batch_size)):
        x, mean, std = standardize(xs.to(device))
        _, y2, mid = _stages(model, x, cs.to(device), amp, pool)
        pixels.append(y2.flatten(1).cpu())
        net2.append(mid.cpu())
        shown.append(destandardize(y2, mean, std).clamp(0, 1).cpu())
    return torch.cat(pixels), torch.cat(net2), torch.cat(shown)


@torch.no_grad()
def face_net_features(images: Tensor, net: Optional[nn.Module] = None, *, size: int = 64,
                      batch_size: int = 256) -> Tensor:
    """A face network's identity embedding of grey (or RGB) images, for the two-step baselines.

    Args:
        images: ``(N, C, S, S)`` uint8 or float in [0, 1]; grey images are repeated over RGB.
        net: a network with ``embedding(x)`` (default :func:`facekit.nn.face_network`: VGG-Face when its weights
            are here, else the shipped SynthFaceNet).
        size: the side the images are resized to (SynthFaceNet was trained at 64).

    Returns:
        ``(N, D)`` float32.
    """
    if net is None:
        from facekit.nn import face_network

        net = face_network(verbose=False)
    images = _as_unit(images)
    device = next(net.parameters()).device
    out = []
    for xs in images.split(batch_size):
        rgb = xs.expand(-1, 3, -1, -1) if xs.shape[1] == 1 else xs
        rgb = F.interpolate(rgb.to(device), size=size, mode="bilinear", align_corners=False).clamp(0, 1)
        emb = net.embedding(rgb) if hasattr(net, "embedding") else net(rgb)
        out.append(emb.flatten(1).float().cpu())
    return torch.cat(out)


def train_pose_classifier(features: Tensor, poses: Tensor, n_poses: int, *, steps: int = 200,
                          weight_decay: float = 1e-4) -> nn.Linear:
    """The first step of the two-step baselines: a pose classifier (multinomial logistic regression, L-BFGS) on a
    face network's features of training images (the paper: on VGG-Face ``fc6``; 73.3 % accuracy)."""
    torch.manual_seed(0)
    mean, std = features.mean(0), features.std(0) + 1e-6
    clf = nn.Linear(features.shape[1], n_poses)
    z = (features - mean) / std
    opt = torch.optim.LBFGS(clf.parameters(), max_iter=steps, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(clf(z), poses) + weight_decay * clf.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():  # fold the standardisation into the layer
        clf.bias -= (clf.weight * (mean / std)).sum(1)
        clf.weight /= std
    return clf.eval()


def _recall(queries: Tensor, gallery: Tensor, q_labels: Tensor, g_labels: Tensor, ks: Sequence[int],
            exclude: Optional[Tensor] = None, chunk: int = 1024) -> Dict[int, float]:
    """:func:`facekit.eval.recall_at_k` over chunks of queries (the distance matrix stays small)."""
    from facekit.eval import recall_at_k

    if len(queries) == 0:
        return {int(k): float("nan") for k in ks}
    total = {int(k): 0.0 for k in ks}
    for start in range(0, len(queries), chunk):
        sl = slice(start, start + chunk)
        r = recall_at_k(queries[sl], gallery, q_labels[sl], g_labels, ks=ks,
                        exclude=None if exclude is None else exclude[sl])
        for k in total:
            total[k] += r[k] * len(queries[sl])
    return {k: v / len(queries) for k, v in total.items()}


def retrieval_experiment(model: SeeAnotherYou, data: TaskData, *, n_queries: Optional[int] = PAPER["queries"],
                         ks: Sequence[int] = PAPER["ks"], pose_classifier: Optional[nn.Module] = None,
                         train_features: Optional[Tuple[Tensor, Tensor]] = None, face_net: Optional[nn.Module] = None,
                         pool: int = 2, exclude_source: bool = False, seed: int = 0, amp: bool = False,
                         progress: bool = False) -> Dict[str, Any]:
    """Section 4.1.2 on the pose task's test data: our retrieval by generation and the two-step baselines.

    Gallery: every test image (``data.images``), represented by :func:`represent`. Queries: ``n_queries`` random
    test pairs (source, target pose) (the paper: 10,000). Labels: (identity, pose) for criterion 1 and (identity,
    pose, illumination) for criterion 2. Features are L2-normalised and compared by Euclidean distance.

    Methods (keys of each criterion's dict):

    * ``ours_image`` / ``ours_net2``: the generated query (pixels / middle-layer features of the second network)
      against the gallery's kept generations;
    * ``two_step_image`` / ``two_step_net2`` / ``two_step_face_net``: keep the gallery images the pose classifier
      assigns to the target pose, then rank them by the source's pixels / second-network features / face-network
      embedding.

    Args:
        model: the two-stage network trained on the pose task.
        data: the pose task's **test** pairs (its images are the gallery).
        n_queries: how many random pairs to query (``None``: all).
        ks: the K of recall@K.
        pose_classifier: a classifier of the face network's features (default: trained on ``train_features``).
        train_features: ``(features, poses)`` of training images for the pose classifier (required when
            ``pose_classifier`` is None).
        face_net: the face network of the baselines (default :func:`facekit.nn.face_network`).
        pool, seed, amp, progress: as :func:`represent`; the queries' seed; bfloat16 autocast; progress bars.
        exclude_source: leave each query's own source image out of its candidates. It is never a correct answer
            (another pose), but a generation that barely moved the face finds it first; the paper keeps it (every
            test image is in the gallery), so the default does too.

    Returns:
        a dict: ``criterion1`` and ``criterion2`` map each method to ``{K: recall}``; ``pose_accuracy`` (float);
        ``by_pose_change`` maps the absolute yaw change to recall@5 (criterion 2, ``ours_net2``) and
        ``by_pose_change_c1`` the same under criterion 1; ``queries`` holds the ``(Q,)`` pair indices, ``top`` the
        ``(Q, 5)`` gallery indices retrieved by ``ours_net2``, ``generated`` the ``(Q, C, S, S)`` generated faces,
        ``gallery`` the gallery's representation and ``n_gallery`` its size.
    """
    from facekit.eval import retrieve

    if data.task != "pose":
        raise ValueError(f"retrieval is the pose task's experiment; got {data.task!r} data")
    if n_queries is not None and (isinstance(n_queries, bool) or not isinstance(n_queries, int) or n_queries < 1):
        raise ValueError(f"n_queries must be a positive number of query pairs (the paper: {PAPER['queries']}) or "
                         f"None (all); got {n_queries!r}")
    if not ks or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in ks):
        raise ValueError(f"ks must be positive ints (recall@K; the paper: {PAPER['ks']}); got {ks!r}")
    if face_net is None:
        from facekit.nn import face_network

        face_net = face_network(verbose=False)
    model.eval()
    gal = represent(model, data.images, pool=pool, amp=amp, progress=progress)
    q_idx = torch.arange(len(data))
    if n_queries is not None and n_queries < len(data):
        q_idx = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:n_queries]
    src = data.source[q_idx]
    target_code = data.target_code[q_idx]
    q_pix, q_net2, generated = _queries(model, data.images[src], target_code, pool, amp)
    lab = data.labels
    g_labels = torch.stack([lab["identity"], lab["code"], lab["light"]], 1)
    q_labels = torch.stack([lab["identity"][src], target_code, lab["light"][src]], 1)

    # the two-step baselines: 1. a pose classifier on the face network's features, 2. ranking what it kept
    face = face_net_features(data.images, face_net)
    if pose_classifier is None:
        if train_features is None:
            raise ValueError("pass pose_classifier= or train_features=(features, poses) of training images")
        pose_classifier = train_pose_classifier(train_features[0], train_features[1], data.n_codes)
    with torch.no_grad():
        predicted = pose_classifier(face).argmax(1)  # (G,)
    accuracy = float((predicted == lab["code"]).float().mean())
    exclude = predicted[None, :] != target_code[:, None]  # (Q, G): not the target pose by the classifier
    own = torch.zeros(len(src), len(data.images), dtype=torch.bool)
    if exclude_source:
        own[torch.arange(len(src)), src] = True
        exclude = exclude | own
    raw = standardize(_as_unit(data.images))[0].flatten(1)
    methods = {
        "ours_image": (q_pix, gal.pixels, own if exclude_source else None),
        "ours_net2": (q_net2, gal.net2, own if exclude_source else None),
        "two_step_image": (raw[src], raw, exclude),
        "two_step_net2": (gal.net2[src], gal.net2, exclude),
        "two_step_face_net": (face[src], face, exclude),
    }
    result: Dict[str, Any] = {}
    for crit, cols in (("criterion1", 2), ("criterion2", 3)):
        result[crit] = {name: _recall(q, g, q_labels[:, :cols], g_labels[:, :cols], ks, ex)
                        for name, (q, g, ex) in methods.items()}
    yaws = torch.tensor(MULTIPIE_YAWS)
    change = (yaws[lab["code"][src]] - yaws[target_code]).abs().round().long()
    for key, cols in (("by_pose_change", 3), ("by_pose_change_c1", 2)):
        result[key] = {int(d): _recall(q_net2[change == d], gal.net2, q_labels[change == d][:, :cols],
                                       g_labels[:, :cols], (5,), own[change == d] if exclude_source else None)[5]
                       for d in sorted(set(change.tolist()))}
    top = retrieve(q_net2, gal.net2, 5, exclude=own if exclude_source else None)
    result.update(pose_accuracy=accuracy, queries=q_idx, top=top, generated=generated,
                  gallery=gal, n_gallery=len(data.images))
    return result
