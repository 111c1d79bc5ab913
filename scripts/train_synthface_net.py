"""Train SynthFaceNet, the offline stand-in for VGG-Face, on SynthFaces identities.

What it does
------------
1. Renders ``--views`` random views of each of ``--identities`` *training* identities of SynthFaces into memory, at
   ``--size`` pixels: random yaw in [-45, 45] (steps of 5 degrees), pitch in [-15, 15], one of the 20 lights, the
   random accessories and expressions of ``SynthFaces(attributes="random")`` (glasses and hats of every style,
   smiles, open mouths, earrings) and a random backdrop, so that the backdrop says nothing about the person.
   The identities are the 800 of the book's default train split (``split_identities(1000, "train")``), then, for
   more, identities from 1,000,000 up (outside any split universe the book uses): no val or test identity of
   ``SynthFaces(n_identities=1000)`` is ever trained on.
2. Trains :class:`facekit.nn.SynthFaceNet` (``width=0.25``, 128-D embedding, ``num_classes=0``) from scratch with
   the supervised contrastive loss (Khosla et al., NeurIPS 2020) on batches of 32 identities x 4 views: the
   embeddings of one person's views are pulled together and pushed away from everyone else's, so that the cosine
   similarity of two embeddings is a verification score. (``--loss cosface`` trains a CosFace classifier head
   instead; in our short CPU budget it learned markedly slower: validation AUC 0.81 against 0.94 for the
   contrastive loss in a pilot of 300 identities x 8 views x 3 epochs.) Augmentation: random shifts (+-6 %) and
   scalings (0.9-1.1), horizontal flips, brightness and contrast jitter. AdamW with a one-cycle schedule.
3. After each epoch: verification ROC AUC on 100 *validation* identities (6 views each, cosine similarity of
   embeddings; ``facekit.eval.verification``), and a checkpoint that ``--resume`` continues from.
4. Writes ``facekit/weights/synthface_net.pt`` in the hub's format, ``{"config": net.config, "state_dict": ...,
   "meta": ...}`` (plain tensors and containers, so ``torch.load(weights_only=True)`` reads it), and prints its
   SHA-256 for the ``synthface_net`` entry of :mod:`facekit.hub`.

``bench/features.py`` measures the result on the *test* identities.

Command (the shipped weights)::

    .venv/bin/python scripts/train_synthface_net.py --identities 1600 --views 8 --epochs 3

Record of the shipped run (2 CPU cores shared with other jobs, torch.set_num_threads(2)):

    wall time      1288 s (21.5 min): rendering 12,800 training + 600 validation views 102 s, then three epochs of
                   about 7 min each (100 steps of 128 images; 30-60 images per second, depending on the load)
    val AUC        0.934, 0.985, 0.990 after epochs 1, 2, 3 (100 validation identities x 6 views)
    loss           3.43, 2.43, 2.09 (supervised contrastive, temperature 0.1)
    test AUC       0.990, EER 0.038 (``python bench/features.py``: 100 test identities x 10 views, MultiPIE
                   yaws, 20 lights, random accessories, expressions and backdrops)
    file           facekit/weights/synthface_net.pt, 3.6 MB,
                   sha256 810f503c37ec54c0f57f3f1ed4493fd8ff1cf3664e4b0082f4fc2dbc964b4862 (the file's ``meta`` paths made
                   relative after the run, issue 27; the tensors are those of the run, sha256 608c448a... before)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from facekit.config import cache_dir, portable_path, seed_everything  # noqa: E402
from facekit.data import SynthFaces, split_identities  # noqa: E402
from facekit.data import synthfaces as sf  # noqa: E402
from facekit.eval.verification import roc_auc, verification_pairs  # noqa: E402
from facekit.nn import SynthFaceNet  # noqa: E402

DEFAULT_OUT = ROOT / "facekit" / "weights" / "synthface_net.pt"

# -- the data ---------------------------------------------------------------------------------------------------
UNIVERSE = 1000
"""The SynthFaces split universe of the book: ``SynthFaces(split, n_identities=1000, seed=0)`` (the defaults)."""
EXTRA_BASE = 1_000_000
"""Training identities beyond the 800 of the default train split are taken from here up, far outside any split
universe the book uses, so that no val or test identity is ever trained on."""
TRAIN_POSES = tuple(float(y) for y in np.arange(-45, 46, 5))  # 19 yaws, -45 .. 45 degrees
TRAIN_PITCH = (-15.0, 15.0)


def training_identities(n: int) -> List[int]:
    """The default train split (800 identities), then ``EXTRA_BASE, EXTRA_BASE + 1, ...`` up to ``n`` in all."""
    base = [int(i) for i in split_identities(UNIVERSE, "train", seed=0)]
    return base[:n] + list(range(EXTRA_BASE, EXTRA_BASE + max(0, n - len(base))))


def views_dataset(identities: Sequence[int], views: int, size: int, seed: int, poses: Sequence[float] = TRAIN_POSES,
                  pitch: Tuple[float, float] = TRAIN_PITCH) -> SynthFaces:
    """``views`` random views of every identity: random pose, pitch, light (all 20), the state attributes of
    :data:`facekit.data.RANDOM_ATTRIBUTES` (glasses and hats of every style, smiles, open mouths, earrings) and a
    random backdrop (so the backdrop says nothing about the person). Item ``i`` shows ``identities[i % n]``."""
    return SynthFaces(identities=list(identities), length=len(identities) * views, size=size, attributes="random",
                      poses=list(poses), pitch=pitch, lights="all", background="random", seed=seed)


def _render_chunk(args: Tuple[SynthFaces, int, int]) -> np.ndarray:
    ds, start, count = args
    import cv2

    cv2.setNumThreads(1)
    return ds.images(count, start)


def render_all(ds: SynthFaces, workers: int = 2, desc: str = "render") -> Tuple[np.ndarray, np.ndarray]:
    """Render a whole dataset into memory: ``(N, H, W, 3)`` uint8 and the identity label of each item (the
    position of its identity in ``ds.identities``)."""
    from tqdm.auto import tqdm

    n, chunk = len(ds), 200
    jobs = [(ds, start, min(chunk, n - start)) for start in range(0, n, chunk)]
    out: List[np.ndarray] = []
    if workers > 1:
        import multiprocessing as mp

        with mp.get_context("fork").Pool(workers) as pool:
            out = list(tqdm(pool.imap(_render_chunk, jobs), total=len(jobs), desc=desc))
    else:
        out = [_render_chunk(job) for job in tqdm(jobs, desc=desc)]
    labels = np.arange(n) % len(ds.identities)
    return np.concatenate(out), labels


# -- verification -------------------------------------------------------------------------------------------
@torch.no_grad()
def embed_all(net: SynthFaceNet, images: np.ndarray, batch: int = 256) -> Tensor:
    """Unit-length embeddings of uint8 images ``(N, H, W, 3)``: ``(N, D)``."""
    net.eval()
    out = []
    for i in range(0, len(images), batch):
        x = torch.from_numpy(images[i : i + batch]).permute(0, 3, 1, 2).float().div_(255.0)  # (B, 3, H, W)
        out.append(net.embedding(x))
    return torch.cat(out)


def verification_auc(net: SynthFaceNet, images: np.ndarray, labels: np.ndarray, seed: int = 0) -> float:
    """ROC AUC of same / different-identity pairs scored by the cosine similarity of their embeddings."""
    emb = embed_all(net, images)  # (N, D), unit length
    i, j, same = verification_pairs(torch.from_numpy(labels), max_negatives=20 * len(labels),
                                    generator=torch.Generator().manual_seed(seed))
    return roc_auc((emb[i] * emb[j]).sum(1), same)


# -- training ---------------------------------------------------------------------------------------------------
class CosFaceHead(nn.Module):
    """Large-margin cosine classifier (CosFace): ``s * (cos(theta_j) - m [j = y])``."""

    def __init__(self, dim: int, classes: int, s: float = 30.0, m: float = 0.3) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(classes, dim) * 0.01)
        self.s, self.m = s, m

    def forward(self, emb: Tensor, labels: Optional[Tensor] = None) -> Tensor:
        cos = F.normalize(emb, dim=1) @ F.normalize(self.weight, dim=1).t()  # (B, classes)
        if labels is not None and self.m:
            cos = cos - self.m * F.one_hot(labels, cos.shape[1]).to(cos.dtype)
        return self.s * cos


def supcon_loss(emb: Tensor, labels: Tensor, temperature: float = 0.1) -> Tensor:
    """Supervised contrastive loss (Khosla et al. 2020) on unit embeddings: for each anchor, the other views of the
    same identity in the batch against all the rest. ``emb: (B, D)``, ``labels: (B,)``."""
    z = F.normalize(emb, dim=1)
    sim = z @ z.t() / temperature  # (B, B)
    eye = torch.eye(len(z), dtype=torch.bool)
    sim = sim.masked_fill(eye, float("-inf"))
    pos = (labels[:, None] == labels[None, :]) & ~eye  # (B, B)
    log_prob = sim - torch.logsumexp(sim, dim=1, keepdim=True)
    per_anchor = -(log_prob.masked_fill(~pos, 0.0).sum(1)) / pos.sum(1).clamp(min=1)
    return per_anchor[pos.any(1)].mean()


def pk_batches(labels: np.ndarray, p: int, k: int, gen: torch.Generator) -> List[Tensor]:
    """One epoch of batches of ``p`` identities x ``k`` of their views (each view used once)."""
    labels = np.asarray(labels)
    n_ids = int(labels.max()) + 1
    views = len(labels) // n_ids
    order = torch.argsort(torch.rand(n_ids, views, generator=gen), dim=1)  # a random order of each id's views
    by_id = torch.from_numpy(np.argsort(labels, kind="stable").reshape(n_ids, views)).gather(1, order)  # (n_ids, views)
    groups = [by_id[:, j : j + k] for j in range(0, views - k + 1, k)]  # (n_ids, k) each
    chunks = torch.cat(groups)  # (n_ids * views // k, k)
    chunks = chunks[torch.randperm(len(chunks), generator=gen)]
    return [chunks[i : i + p].reshape(-1) for i in range(0, len(chunks) - p + 1, p)]


def augment(x: Tensor, gen: torch.Generator) -> Tensor:
    """Random shift (+-6 %), scale (0.9-1.1), horizontal flip, brightness and contrast. ``(B, 3, H, W)``."""
    b = x.shape[0]
    scale = torch.empty(b).uniform_(0.9, 1.1, generator=gen)
    tx = torch.empty(b).uniform_(-0.06, 0.06, generator=gen) * 2
    ty = torch.empty(b).uniform_(-0.06, 0.06, generator=gen) * 2
    flip = torch.where(torch.rand(b, generator=gen) < 0.5, -1.0, 1.0)
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0] = flip / scale
    theta[:, 1, 1] = 1.0 / scale
    theta[:, 0, 2] = tx
    theta[:, 1, 2] = ty
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    bright = torch.empty(b, 1, 1, 1).uniform_(-0.08, 0.08, generator=gen)
    contrast = torch.empty(b, 1, 1, 1).uniform_(0.8, 1.2, generator=gen)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return ((x - mean) * contrast + mean + bright).clamp_(0.0, 1.0)


def save_weights(net: SynthFaceNet, out: Path, meta: Dict[str, Any]) -> str:
    """Save the embedding network in the hub's format; return the file's SHA-256."""
    state = {k: v.detach().clone().contiguous() for k, v in net.state_dict().items() if not k.startswith("classifier.")}
    config = dict(net.config, num_classes=0)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"config": config, "state_dict": state, "meta": meta}, out)
    return hashlib.sha256(out.read_bytes()).hexdigest()


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--identities", type=int, default=1600, help="training identities")
    p.add_argument("--views", type=int, default=8, help="rendered views per training identity")
    p.add_argument("--val-identities", type=int, default=100)
    p.add_argument("--val-views", type=int, default=6)
    p.add_argument("--size", type=int, default=64, help="image size in pixels")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-3, help="peak AdamW learning rate (one-cycle)")
    p.add_argument("--wd", type=float, default=5e-4)
    p.add_argument("--scale", type=float, default=30.0, help="CosFace scale s")
    p.add_argument("--margin", type=float, default=0.3, help="CosFace margin m (0: normalised softmax)")
    p.add_argument("--loss", choices=("supcon", "cosface"), default="supcon",
                   help="supervised contrastive on P x K batches, or a CosFace classifier head")
    p.add_argument("--k", type=int, default=4, help="views of each identity in a batch (supcon)")
    p.add_argument("--temperature", type=float, default=0.1, help="supcon temperature")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=2, help="processes for rendering")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--checkpoint", type=Path, default=None,
                   help="training state, written after every epoch (default: $FACEKIT_HOME/checkpoints/"
                        "synthface_net_train.pt)")
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    p.add_argument("--cache", type=Path, default=None,
                   help="an .npz to keep the rendered training set in (reused when its settings match)")
    p.add_argument("--max-minutes", type=float, default=None, help="stop after this many minutes (at an epoch end)")
    return p.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    args = parse_args(argv)
    if args.checkpoint is None:
        args.checkpoint = cache_dir("checkpoints") / "synthface_net_train.pt"
    t0 = time.time()
    torch.set_num_threads(args.threads)
    gen = seed_everything(args.seed)
    from tqdm.auto import tqdm

    train_ids = training_identities(args.identities)
    val_ids = [int(i) for i in split_identities(UNIVERSE, "val", seed=0)][: args.val_identities]
    train_ds = views_dataset(train_ids, args.views, args.size, seed=args.seed)
    val_ds = views_dataset(val_ids, args.val_views, args.size, seed=args.seed + 1)

    # the renderer is a package: the newest of its files says whether a cached training set is stale
    renderer_mtime = max(os.path.getmtime(f) for f in Path(sf.__file__).parent.rglob("*.py"))
    key = repr(train_ds) + f" {args.seed} {renderer_mtime}"
    if args.cache is not None and args.cache.exists() and str(np.load(args.cache)["key"]) == key:
        data = np.load(args.cache)
        images, labels = data["images"], data["labels"]
        print(f"loaded {len(images)} rendered views from {args.cache}")
    else:
        images, labels = render_all(train_ds, workers=args.workers)
        if args.cache is not None:
            np.savez(args.cache, images=images, labels=labels, key=np.array(key))
    val_images, val_labels = render_all(val_ds, workers=args.workers, desc="render val")
    t_render = time.time() - t0
    print(f"rendered {len(images)} training and {len(val_images)} validation views in {t_render:.0f} s")

    net = SynthFaceNet(num_classes=0, input_size=args.size)
    head = None
    if args.loss == "cosface":
        head = CosFaceHead(net.embedding_dim, len(train_ids), s=args.scale, m=args.margin)
    params = list(net.parameters()) + (list(head.parameters()) if head is not None else [])
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=args.wd)
    steps_per_epoch = len(images) // args.batch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch,
                                                pct_start=0.15)
    start_epoch, history = 0, []
    if args.resume and args.checkpoint.exists():
        ck = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
        net.load_state_dict(ck["net"])
        if head is not None:
            head.load_state_dict(ck["head"])
        opt.load_state_dict(ck["opt"])
        sched.load_state_dict(ck["sched"])
        gen.set_state(ck["gen"])
        start_epoch, history = ck["epoch"], ck["history"]
        print(f"resumed from {args.checkpoint} after epoch {start_epoch}")

    x_all = torch.from_numpy(images).permute(0, 3, 1, 2)  # (N, 3, H, W) uint8
    y_all = torch.from_numpy(labels).long()
    auc = float("nan")
    for epoch in range(start_epoch, args.epochs):
        net.train()
        if args.loss == "supcon":
            batches = pk_batches(labels, args.batch // args.k, args.k, gen)[:steps_per_epoch]
        else:
            perm = torch.randperm(len(x_all), generator=gen)
            batches = [perm[i * args.batch : (i + 1) * args.batch] for i in range(steps_per_epoch)]
        run_loss, run_acc, seen = 0.0, 0.0, 0
        bar = tqdm(batches, desc=f"epoch {epoch + 1}/{args.epochs}")
        for step, idx in enumerate(bar):
            x = augment(x_all[idx].float().div_(255.0), gen)  # (B, 3, H, W) in [0, 1]
            y = y_all[idx]
            emb = net(x)  # (B, D), the embed layer
            if head is None:
                loss = supcon_loss(emb, y, args.temperature)
            else:
                logits = head(emb, y)
                loss = F.cross_entropy(logits, y)
                run_acc += float((logits.detach().argmax(1) == y).float().sum())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            run_loss += float(loss.detach()) * len(y)
            seen += len(y)
            if step % 10 == 0:
                bar.set_postfix(loss=f"{run_loss / seen:.3f}")
        auc = verification_auc(net, val_images, val_labels, seed=args.seed)
        history.append({"epoch": epoch + 1, "loss": round(run_loss / seen, 4), "val_auc": round(auc, 4),
                         "minutes": round((time.time() - t0) / 60, 2)})
        if head is not None:
            history[-1]["train_acc"] = round(run_acc / seen, 4)
        print(json.dumps(history[-1]))
        torch.save({"net": net.state_dict(), "head": head.state_dict() if head is not None else None,
                    "opt": opt.state_dict(),
                    "sched": sched.state_dict(), "gen": gen.get_state(), "epoch": epoch + 1, "history": history},
                   args.checkpoint)
        if args.max_minutes is not None and (time.time() - t0) / 60 > args.max_minutes and epoch + 1 < args.epochs:
            print(f"stopping after {args.max_minutes} minutes")
            break

    wall = time.time() - t0
    meta = {
        "script": "scripts/train_synthface_net.py",
        "args": {k: (portable_path(str(v)) if isinstance(v, Path) else v) for k, v in vars(args).items()},  # relative
        "train_identities": len(train_ids),
        "history": history,
        "wall_seconds": round(wall, 1),
        "torch": str(torch.__version__),
    }
    sha = save_weights(net, args.out, meta)
    size_mb = args.out.stat().st_size / 2**20
    result = {"out": str(args.out), "sha256": sha, "size_mb": round(size_mb, 2), "wall_seconds": round(wall, 1),
              "final": history[-1] if history else None}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
