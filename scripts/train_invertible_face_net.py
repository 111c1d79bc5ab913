"""Train InvertibleFaceNet: a face network whose conv3_1 CNIA's blank start can invert (issue 24).

What it does
------------
1. Renders ``--views`` random views of ``--identities`` SynthFaces *training* identities at ``--size`` px (the
   views, identities and augmentation of ``scripts/train_synthface_net.py``: random yaw in [-45, 45], pitch, light,
   accessories, expressions, backdrop), with each view's 28 CelebA-named attributes; cached in ``--cache``.
2. Trains :class:`facekit.nn.InvertibleFaceNet` (VGG-16 blocks 1-3, ``--width``, ``--pool``, batch norm) with up
   to three training-only heads, for ``--minutes`` of wall time (the learning rate follows the elapsed fraction,
   so runs of equal minutes have equal budgets whatever their cost per step):

   * identity: block-4-like convolutions on ``pool3``, global average pooling, a 128-D embedding, the supervised
     contrastive loss on batches of ``--batch / 4`` identities x 4 views (as ``train_synthface_net.py``);
   * ``--attr-weight``: a linear layer on the same pooled features predicts the CelebA-named attributes (BCE);
   * ``--decoder-weight``: a small decoder (three 3x3 convolutions and two 2x upsamplings) rebuilds the image from
     ``relu3_1`` (L1), so that the layer must keep the image.
3. Folds batch norm into the convolutions (:meth:`InvertibleFaceNet.fold_batch_norm`) and measures what matters
   (:func:`inversion_score`): SynthFaces *test* references (those of ``bench/cnia.py``) rebuilt from their own
   ``relu3_1`` features from a blank image by CNIA's plain gradient descent (``facekit.methods.cnia.CNIA``, no
   mask, no colour transfer, eq. (7) without an attribute change), scored by the SynthFaces oracle (identity kept,
   cosine) and by PSNR to the reference, for each step ``a`` and TV weight ``gamma`` of ``--eval-lrs`` /
   ``--eval-gammas`` at ``--eval-steps`` iterations.
4. Writes the trunk (no heads, no decoder: CNIA uses only the features) with ``facekit.hub.save(...,
   quantize="int8")`` to ``--out`` plus its record ``<out>.json``, re-scores the file as loaded, prints the SHA-256.

Levers measured (issue 24, probes of 5 CPU-minutes of training each, bf16 autocast + channels-last (1.34x the
images per second of fp32 NCHW here), batch 32 = 8 identities x 4 views, 1 thread of a 2-core CPU shared with a
training job; rendered set 1600 identities x 8 views at 64 px; then 4 test references rebuilt by plain gradient
descent from a blank image, gamma 4, step a in {10, 40, 160} (40 was best for every row), PSNR / oracle identity
cosine / identity kept at 150 and 300 steps; the oracle's same-person threshold is a cosine of 0.56):

    =====================================  =====  ======  ==========================  ==========================
    recipe (one lever changed from "full")  steps  val AUC  150 steps                   300 steps
    =====================================  =====  ======  ==========================  ==========================
    full: width 0.5, avg pool, decoder 1,   617    0.973   17.98 dB / 0.21 / 0.00      20.38 dB / 0.28 / 0.00
      attributes 0.3, identity
    max pooling                             585    0.976   17.60 dB / 0.17 / 0.00      19.68 dB / 0.25 / 0.00
    no decoder                              800    0.980   16.44 dB / 0.24 / 0.00      18.52 dB / 0.33 / 0.00
    width 0.25                              1380   0.986   16.97 dB / 0.24 / 0.00      18.88 dB / 0.27 / 0.00
    no attribute head                       491    0.976   17.89 dB / 0.24 / 0.00      20.44 dB / 0.38 / 0.00
    =====================================  =====  ======  ==========================  ==========================

For comparison, the shipped SynthFaceNet (``bench/cnia_identity.py --n 4 --no-edits``, step 20, gamma 16): identity
cosine 0.05 / 0.12 / 0.28 at 150 / 400 / 1000 steps, kept 0.00 (no PSNR in that bench; L1 0.138 / 0.101 / 0.077,
against 0.074 for "full" at 300 steps).

What the table says: the decoder is the lever on pixels (+1.9 dB at 300 steps), then average pooling (+0.7 dB)
and width 0.5 (+1.5 dB over 0.25 at equal minutes, though 0.25 ran 2.2x the steps); the attribute head made no
measurable difference at this budget. PSNR reaches the 20 dB target at 300 steps, but NO recipe keeps identity for
the oracle (cosine 0.25-0.38 against its 0.56): the rebuilt faces are close on average and lose the few-pixel
detail the oracle recognises people by. No longer run was made (the session ran out of time), so no weights ship
from this script yet; the step (40) and gamma (4) come from these probes only. The "Record" section is to be
filled by the run that ships weights.

Command of each probe (the "full" row; the others add ``--pool max``, ``--decoder-weight 0``, ``--width 0.25``,
``--attr-weight 0``)::

    OMP_NUM_THREADS=1 python scripts/train_invertible_face_net.py --minutes 5 --bf16 --channels-last \
        --cache views.npz --out probe_full.pt --eval-lrs 10,40,160 --eval-gammas 4

Command for weights to ship (not run yet)::

    OMP_NUM_THREADS=1 python scripts/train_invertible_face_net.py --minutes 50 --bf16 --channels-last \
        --cache views.npz

Record
------
    none yet: no shipped weights (see above).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
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
for p in (ROOT, ROOT / "scripts"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import train_synthface_net as sfn  # noqa: E402  (the views, identities, batches, augmentation and loss)
from facekit import hub  # noqa: E402
from facekit.config import seed_everything  # noqa: E402
from facekit.data import SynthFaces, split_identities  # noqa: E402
from facekit.data import synthfaces as sf  # noqa: E402
from facekit.eval.verification import roc_auc, verification_pairs  # noqa: E402
from facekit.nn import InvertibleFaceNet  # noqa: E402

DEFAULT_OUT = ROOT / "facekit" / "weights" / "invertible_face_net.pt"
SOURCE_BASE = {"Eyeglasses": 0, "Mouth_Slightly_Open": 0, "Smiling": 0, "Wearing_Hat": 0}
"""The references of ``bench/cnia.py``: test identities without accessories or expression."""


# -- data -------------------------------------------------------------------------------------------------------
def render_with_attributes(ds: SynthFaces, desc: str = "render") -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(N, H, W, 3)`` uint8 images, ``(N,)`` identity labels (position in ``ds.identities``) and ``(N, 28)``
    attribute vectors of every item (one process: this script runs on one core)."""
    from tqdm.auto import tqdm

    images, attrs = [], []
    for i in tqdm(range(len(ds)), desc=desc, mininterval=10):
        item = ds.render(ds.spec(i))
        images.append((item["image"].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))
        attrs.append(item["attributes"].numpy())
    labels = np.arange(len(ds)) % len(ds.identities)
    return np.stack(images), labels, np.stack(attrs).astype(np.float32)


# -- the training-only heads ------------------------------------------------------------------------------------
def conv_bn(cin: int, cout: int) -> List[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


class Heads(nn.Module):
    """Identity embedding + attribute logits from ``pool3`` (8x8 at 64 px), and a decoder from ``relu3_1``."""

    def __init__(self, c3: int, num_attributes: int, embedding_dim: int = 128, decoder: bool = True) -> None:
        super().__init__()
        c4 = 2 * c3
        self.block4 = nn.Sequential(*conv_bn(c3, c4), *conv_bn(c4, c4), nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
        self.embed = nn.Linear(c4, embedding_dim)
        self.attributes = nn.Linear(c4, num_attributes)
        self.decoder = None
        if decoder:  # relu3_1 (c3, H/4, W/4) -> (3, H, W): deliberately small, so the layer must hold the image
            self.decoder = nn.Sequential(
                *conv_bn(c3, c3), nn.Upsample(scale_factor=2, mode="nearest"),
                *conv_bn(c3, c3 // 2), nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv2d(c3 // 2, 3, 3, padding=1))


def forward_all(net: InvertibleFaceNet, heads: Heads, x: Tensor) -> Dict[str, Tensor]:
    feats = net.extract(x, ["relu3_1", "pool3"])
    pooled = heads.block4(feats["pool3"])  # (B, 2 C3)
    out = {"embed": heads.embed(pooled), "attributes": heads.attributes(pooled)}
    if heads.decoder is not None:
        out["decoded"] = torch.sigmoid(heads.decoder(feats["relu3_1"]).float())  # (B, 3, H, W) in [0, 1]
    return out


@torch.no_grad()
def verification_auc(net: InvertibleFaceNet, heads: Heads, images: np.ndarray, labels: np.ndarray) -> float:
    net.eval(), heads.eval()
    embs = []
    for i in range(0, len(images), 128):
        x = torch.from_numpy(images[i : i + 128]).permute(0, 3, 1, 2).float().div_(255.0)
        embs.append(F.normalize(forward_all(net, heads, x)["embed"].float(), dim=1))
    emb = torch.cat(embs)
    i, j, same = verification_pairs(torch.from_numpy(labels), max_negatives=20 * len(labels),
                                    generator=torch.Generator().manual_seed(0))
    return roc_auc((emb[i] * emb[j]).sum(1), same)


# -- what matters: the blank-start reconstruction ---------------------------------------------------------------
def inversion_score(net: Any, n: int = 4, steps: Sequence[int] = (150, 300), lrs: Sequence[float] = (20.0,),
                    gammas: Sequence[float] = (16.0,), size: int = 64) -> List[Dict[str, Any]]:
    """Rebuild ``n`` SynthFaces test references (``bench/cnia.py``'s) from their own ``relu3_1`` features from a
    blank image with CNIA's plain gradient descent (no mask, no colour transfer), for each step ``lr`` and TV weight
    ``gamma``; score each checkpoint of ``steps`` by the oracle and by PSNR. Gradient descent has no state, so each
    checkpoint continues from the previous one's pixels (as ``bench/cnia_identity.py``).

    Returns:
        one dict per (lr, gamma, steps): ``identity_kept``, ``identity_cosine``, ``psnr`` (dB, mean over the
        references), ``l1``.
    """
    from facekit.eval import load_oracle, psnr
    from facekit.methods.cnia import CNIA, synth_edit_pairs

    oracle = load_oracle()
    test = SynthFaces("test", size=size, attributes=SOURCE_BASE)
    refs = synth_edit_pairs(test, {"Smiling": 1}, n)["sources"]
    rows = []
    for lr in lrs:
        for gamma in gammas:
            x, done = None, 0
            for s in sorted(steps):
                cnia = CNIA(net, steps=s - done, lr=lr, gamma=gamma, mask=False, color=False, progress=False)
                if x is not None:
                    cnia._start = lambda r, x=x: x.to(r).clone()  # continue from the last checkpoint
                x, done = cnia.edit_with_guides(refs, refs).raw, s
                cos = oracle.identity_score(refs, x.clamp(0, 1))
                rows.append({"lr": lr, "gamma": gamma, "steps": s,
                             "identity_kept": round(float((cos >= oracle.threshold).float().mean()), 3),
                             "identity_cosine": round(float(cos.mean()), 3),
                             "psnr": round(float(psnr(x.clamp(0, 1), refs)), 2),
                             "l1": round(float((x - refs).abs().mean()), 4)})
    return rows


def best_row(rows: List[Dict[str, Any]], steps: int) -> Dict[str, Any]:
    at = [r for r in rows if r["steps"] == steps]
    return max(at, key=lambda r: (r["identity_kept"], r["psnr"]))


# -- training -----------------------------------------------------------------------------------------------
def lr_at(frac: float, peak: float, warmup: float = 0.05) -> float:
    """Linear warm-up over the first ``warmup`` of the budget, then a cosine to 2 % of ``peak``."""
    if frac < warmup:
        return peak * max(frac / warmup, 0.02)
    t = min(1.0, (frac - warmup) / (1 - warmup))
    return peak * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * t)))


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--width", type=float, default=0.5)
    p.add_argument("--pool", choices=("avg", "max"), default="avg")
    p.add_argument("--decoder-weight", type=float, default=1.0, help="0: no decoder")
    p.add_argument("--attr-weight", type=float, default=0.3, help="0: no attribute head")
    p.add_argument("--id-weight", type=float, default=1.0)
    p.add_argument("--identities", type=int, default=1600)
    p.add_argument("--views", type=int, default=8)
    p.add_argument("--val-identities", type=int, default=60)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--batch", type=int, default=32, help="identities x 4 views per batch")
    p.add_argument("--lr", type=float, default=3e-3, help="peak AdamW learning rate")
    p.add_argument("--wd", type=float, default=5e-4)
    p.add_argument("--minutes", type=float, default=6.0, help="wall-time budget of the training loop")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast in training")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--checkpoint", type=Path, default=None, help="training state (default <out>.train.pt)")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--cache", type=Path, default=None, help=".npz of the rendered views (reused when it matches)")
    p.add_argument("--eval-n", type=int, default=4)
    p.add_argument("--eval-steps", default="150,300")
    p.add_argument("--eval-lrs", default="5,20,80,320")
    p.add_argument("--eval-gammas", default="16,2")
    p.add_argument("--speed-test", action="store_true", help="time 10 steps of each precision / layout and exit")
    return p.parse_args(argv)


def build(args: argparse.Namespace) -> Tuple[InvertibleFaceNet, Heads]:
    net = InvertibleFaceNet(width=args.width, pool=args.pool, batch_norm=True, input_size=args.size)
    heads = Heads(net.channels, len(sf.ATTRIBUTES), decoder=args.decoder_weight > 0)
    return net, heads


def train_step(net, heads, opt, x, y, a, args) -> Dict[str, float]:
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
        out = forward_all(net, heads, x.contiguous(memory_format=torch.channels_last) if args.channels_last else x)
    losses = {"id": sfn.supcon_loss(out["embed"].float(), y)}
    if args.attr_weight > 0:
        losses["attr"] = F.binary_cross_entropy_with_logits(out["attributes"].float(), a)
    if "decoded" in out:
        losses["dec"] = (out["decoded"] - x).abs().mean()
    weights = {"id": args.id_weight, "attr": args.attr_weight, "dec": args.decoder_weight}
    total = sum(weights[k] * v for k, v in losses.items())
    opt.zero_grad(set_to_none=True)
    total.backward()
    opt.step()
    return {k: float(v.detach()) for k, v in losses.items()}


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    gen = seed_everything(args.seed)
    if args.checkpoint is None:
        args.checkpoint = args.out.with_suffix(".train.pt")
    t0 = time.time()

    if args.speed_test:
        x = torch.rand(args.batch, 3, args.size, args.size)
        y = torch.arange(args.batch) // 4
        a = torch.rand(args.batch, len(sf.ATTRIBUTES)).round()
        for bf16 in (False, True):
            for cl in (False, True):
                args.bf16, args.channels_last = bf16, cl
                net, heads = build(args)
                if cl:
                    net, heads = net.to(memory_format=torch.channels_last), heads.to(memory_format=torch.channels_last)
                opt = torch.optim.AdamW(list(net.parameters()) + list(heads.parameters()), lr=1e-3)
                net.train(), heads.train()
                train_step(net, heads, opt, x, y, a, args)
                ts = time.time()
                for _ in range(8):
                    train_step(net, heads, opt, x, y, a, args)
                print(json.dumps({"bf16": bf16, "channels_last": cl,
                                  "images_per_s": round(8 * args.batch / (time.time() - ts), 1)}))
        return {}

    train_ids = sfn.training_identities(args.identities)
    train_ds = sfn.views_dataset(train_ids, args.views, args.size, seed=args.seed)
    renderer_mtime = max(os.path.getmtime(f) for f in Path(sf.__file__).parent.rglob("*.py"))
    key = repr(train_ds) + f" {args.seed} {renderer_mtime} attrs"
    if args.cache is not None and args.cache.exists() and str(np.load(args.cache)["key"]) == key:
        data = np.load(args.cache)
        images, labels, attrs = data["images"], data["labels"], data["attrs"]
        print(f"loaded {len(images)} rendered views from {args.cache}", flush=True)
    else:
        images, labels, attrs = render_with_attributes(train_ds)
        if args.cache is not None:
            np.savez(args.cache, images=images, labels=labels, attrs=attrs, key=np.array(key))
    val_ids = [int(i) for i in split_identities(sfn.UNIVERSE, "val", seed=0)][: args.val_identities]
    val_images, val_labels, _ = render_with_attributes(sfn.views_dataset(val_ids, 4, args.size, seed=args.seed + 1),
                                                       desc="render val")
    t_render = time.time() - t0
    print(f"{len(images)} training and {len(val_images)} validation views ready in {t_render:.0f} s", flush=True)

    net, heads = build(args)
    if args.channels_last:
        net, heads = net.to(memory_format=torch.channels_last), heads.to(memory_format=torch.channels_last)
    params = list(net.parameters()) + list(heads.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=args.wd)
    budget = args.minutes * 60.0
    spent, step, history = 0.0, 0, []
    if args.resume and args.checkpoint.exists():
        ck = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
        net.load_state_dict(ck["net"]), heads.load_state_dict(ck["heads"]), opt.load_state_dict(ck["opt"])
        gen.set_state(ck["gen"])
        spent, step, history = ck["spent"], ck["step"], ck["history"]
        print(f"resumed from {args.checkpoint} at step {step}, {spent / 60:.1f} of {args.minutes} minutes", flush=True)

    x_all = torch.from_numpy(images).permute(0, 3, 1, 2)  # (N, 3, H, W) uint8
    y_all, a_all = torch.from_numpy(labels).long(), torch.from_numpy(attrs)
    run: Dict[str, float] = {}
    last_save = time.time()
    net.train(), heads.train()
    while spent < budget:
        for idx in sfn.pk_batches(labels, args.batch // 4, 4, gen):
            ts = time.time()
            for g in opt.param_groups:
                g["lr"] = lr_at(spent / budget, args.lr)
            x = sfn.augment(x_all[idx].float().div_(255.0), gen)  # (B, 3, H, W) in [0, 1]
            losses = train_step(net, heads, opt, x, y_all[idx], a_all[idx], args)
            for k, v in losses.items():
                run[k] = 0.98 * run.get(k, v) + 0.02 * v
            step += 1
            spent += time.time() - ts
            if step % 50 == 0:
                print(json.dumps({"step": step, "minutes": round(spent / 60, 2),
                                  **{k: round(v, 4) for k, v in run.items()}}), flush=True)
            if time.time() - last_save > 120 or spent >= budget:
                history.append({"step": step, "minutes": round(spent / 60, 2), **{k: round(v, 4) for k, v in run.items()}})
                torch.save({"net": net.state_dict(), "heads": heads.state_dict(), "opt": opt.state_dict(),
                            "gen": gen.get_state(), "spent": spent, "step": step, "history": history},
                           args.checkpoint)
                last_save = time.time()
            if spent >= budget:
                break

    auc = verification_auc(net, heads, val_images, val_labels)
    net.eval()
    folded = net.to(memory_format=torch.contiguous_format).fold_batch_norm().eval()
    x = torch.from_numpy(val_images[:16]).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        fold_err = float((folded.extract(x, ["relu3_1"])["relu3_1"] - net.extract(x, ["relu3_1"])["relu3_1"]).abs().max())
    steps = [int(s) for s in args.eval_steps.split(",")]
    lrs = [float(s) for s in args.eval_lrs.split(",")]
    gammas = [float(s) for s in args.eval_gammas.split(",")]

    meta = {"script": "scripts/train_invertible_face_net.py",
            "args": {k: (os.path.relpath(v, ROOT) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "train_identities": len(train_ids), "train_views": len(images), "steps": step,
            "train_minutes": round(spent / 60, 2), "render_seconds": round(t_render, 1),
            "val_auc": round(auc, 4), "fold_max_abs_error": fold_err, "history": history, "torch": str(torch.__version__)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    hub.save(folded, args.out, quantize="int8")
    shipped = InvertibleFaceNet(**torch.load(args.out, weights_only=True)["config"])
    shipped.load_state_dict(hub.unpack_checkpoint(torch.load(args.out, weights_only=True))["state_dict"])
    shipped.eval().requires_grad_(False)
    with torch.no_grad():
        q_err = (shipped.extract(x, ["relu3_1"])["relu3_1"] - folded.extract(x, ["relu3_1"])["relu3_1"]).norm() / \
            folded.extract(x, ["relu3_1"])["relu3_1"].norm()
    meta["int8_relative_error_relu3_1"] = round(float(q_err), 5)
    rows = inversion_score(shipped, n=args.eval_n, steps=steps, lrs=lrs, gammas=gammas, size=args.size)
    meta["inversion"] = rows
    meta["best"] = {str(s): best_row(rows, s) for s in steps}
    meta["wall_seconds"] = round(time.time() - t0, 1)
    args.out.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n")
    sha = hashlib.sha256(args.out.read_bytes()).hexdigest()
    result = {"out": os.path.relpath(args.out, ROOT), "sha256": sha, "kb": round(args.out.stat().st_size / 1024, 1),
              "val_auc": round(auc, 4), "steps": step, "best": meta["best"], "int8_err": meta["int8_relative_error_relu3_1"],
              "wall_s": meta["wall_seconds"]}
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main()
