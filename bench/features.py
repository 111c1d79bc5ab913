"""Benchmark of the face network's features: identity verification, speed, and feature inversion per layer.

Prints ONE JSON line:

* ``network``, ``weights_sha256``: which weights were measured (the shipped ``synthface_net`` by default);
* ``verification_auc``: ROC AUC of SynthFaceNet's identity embedding (cosine similarity) on ``--ids`` *test*
  identities of SynthFaces (``split_identities(1000, "test")``, never seen in training), ``--views`` views each:
  MultiPIE's seven yaws, pitch in [-10, 10], all 20 lights, random accessories and expressions
  (``attributes="random"``), a random backdrop per image (so the backdrop does not give the person away). Pairs: every
  same-identity pair and ``--neg-per-image`` x N different-identity pairs. ``verification_eer`` is the equal error
  rate at its threshold. Target: AUC >= 0.95.
* ``forward_ms_per_image_64`` / ``_128``: median wall time per image of the feature extractor (the layers of the
  inversion experiment, ``relu2_1 .. relu3_2``, without gradient) on a batch of ``--batch`` images, after warm-up;
  ``embed_ms_per_image_64``: the whole network to the embedding. ``threads``: torch's CPU threads. On a CPU
  shared with other jobs these times vary several-fold from run to run.
* the inversion experiment (CNIA Table 1 at our scale, as in chapter 2): each face is reconstructed from a blank
  (mid-grey) image by gradient descent (Adam, ``facekit.methods.inversion.invert_features``) on the content loss
  (CNIA eq. (1)) of ONE layer plus a TV term (weight 16). For SynthFaceNet the layers are conv2_1, conv2_2, conv3_1
  and conv3_2 (the paper's 3rd to 6th convolutional layers, post-ReLU as the paper's). ``mse`` is the mean squared
  error against the reference in 0-255 grey levels squared, averaged over the faces; ``sse`` the sum over one
  64 x 64 x 3 image (the paper's "square error"). ``paper_table1`` holds the paper's numbers (``sse_1e8``:
  224 x 224 VGG-Face, with an attribute edit) and the same per value (``mse``).
* ``dlib_max_abs_diff``: the largest difference, over the 128 numbers, between :class:`facekit.nn.DlibFaceNet`'s
  descriptor and dlib's C++ ``compute_face_descriptor`` on the same chip (the astronaut photo's, cut by
  ``dlib.get_face_chip``); ``dlib_chip_descriptor_distance``: the Euclidean distance between dlib's descriptor of
  that photo and ours from :func:`facekit.align.dlib_face_chip` (our chip, not dlib's);
* ``dlib_ms_per_8``: median wall time of DlibFaceNet's forward pass on 8 chips (150 px, no gradient, float32,
  ``--threads`` threads); ``dlib_cpp_ms_per_8``: dlib's C++ on the same 8 chips (``compute_face_descriptor`` of a
  list; dlib picks its own threads);
* ``inversion``: per network (``synthface_net``, ``dlib_face_resnet``), per layer, the inversion experiment on
  ``--faces`` SynthFaces at 64 px (``mse``, ``sse``; ``oracle_kept`` / ``oracle_cosine``: the SynthFaces oracle's
  identity judgement of reconstruction vs reference, a judge independent of both networks) and on the two real
  photos that ship with packages, as dlib's chips (150 px, or ``--real-size``; ``--real-dir`` takes other photos)
  (``real_mse``; ``real_face_found``: the share in which dlib's HOG detector finds a face, a separate model, judged
  at 150 px; ``real_dlib_distance`` and ``real_same_person`` (below 0.6): DlibFaceNet's judgement, which is NOT
  independent for the DlibFaceNet rows, flagged by ``real_judge_independent``).
  SynthFaceNet's layers are CNIA Table 1's; DlibFaceNet's are its stages, each labelled with the VGG-Face layer it
  stands in for (``vgg_equivalent``, :data:`facekit.nn.dlib_resnet.VGG_BLOCK_TO_STAGE`).

Usage:
    python bench/features.py            # full run (a few minutes on 2 CPU cores)
    python bench/features.py --quick    # fewer identities and steps
    python bench/features.py --only speed   # DlibFaceNet against dlib's C++ only
    python bench/features.py --only dlib --real-size 64 --real-dir DIR   # inversion rows on other real photos
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Dict, List, Mapping, Tuple, Union

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from facekit import hub  # noqa: E402
from facekit.config import seed_everything  # noqa: E402
from facekit.data import SynthFaces, split_identities  # noqa: E402
from facekit.eval.runtime import seconds_per_image  # noqa: E402
from facekit.eval.verification import eer_threshold, roc_auc, verification_pairs  # noqa: E402
from facekit.methods.inversion import invert_features, squared_error_255  # noqa: E402
from facekit.nn import DlibFaceNet, FeatureExtractor, FeatureNet  # noqa: E402
from facekit.nn.dlib_resnet import VGG_BLOCK_TO_STAGE  # noqa: E402

INVERSION_LAYERS: Dict[str, int] = {"conv2_1": 3, "conv2_2": 4, "conv3_1": 5, "conv3_2": 6}
"""The layers of CNIA Table 1: the paper's name -> its 1-based conv index, which facekit resolves to the ReLU output
(``3 -> "relu2_1"``), as the paper's features (in facekit, ``"conv2_1"`` would be the map before the ReLU)."""
PAPER_SSE_1E8: Dict[str, float] = {"conv2_1": 1.65, "conv2_2": 1.73, "conv3_1": 2.95, "conv3_2": 3.44}
"""CNIA Table 1: square error between the generated and the reference face (x 1e8), VGG-Face, 224 x 224 x 3."""
DLIB_INVERSION_LAYERS: Dict[str, str] = {"relu1": "relu1", "stage1": "res1_3", "stage2": "res2_4",
                                         "stage3": "res3_3", "stage4": "res4_3"}
"""DlibFaceNet's stage outputs for the inversion rows (``stage5`` is 2 x 2: nothing of a face is left)."""


def real_chips(size: int = 150, folder: Union[str, Path, None] = None, limit: int = 8) -> Tuple[torch.Tensor, List[str]]:
    """dlib's chips of real photos, resized to ``size``: by default the two that ship with packages, scikit-image's
    astronaut (Eileen Collins, NASA, public domain) and matplotlib's Grace Hopper; or the first ``limit`` images of
    ``folder`` in which dlib finds a face (e.g. a CelebA folder, for a larger measurement that is never shown).
    Returns ``(N, 3, size, size)`` in [0, 1] and the names."""
    import numpy as np
    import torch.nn.functional as F
    from matplotlib.cbook import get_sample_data
    from PIL import Image
    from skimage.data import astronaut

    from facekit.align import dlib_face_chip
    from facekit.landmarks import DlibDetector, NoFaceFoundError

    det = DlibDetector()
    if folder is None:
        photos = {"astronaut": astronaut(), "grace_hopper": np.asarray(
            Image.open(get_sample_data("grace_hopper.jpg", asfileobj=False)).convert("RGB"))}
    else:
        photos = {p.name: np.asarray(Image.open(p).convert("RGB")) for p in sorted(Path(folder).glob("*.jpg"))}
    chips, names = [], []
    for name, img in photos.items():
        try:
            pts = det.five_points(img)
        except NoFaceFoundError:
            continue
        x = torch.from_numpy(img.copy()).permute(2, 0, 1)[None].float() / 255.0  # (1, 3, H, W)
        chip = dlib_face_chip(x, pts)  # (1, 3, 150, 150)
        if size != 150:
            chip = F.interpolate(chip, size=(size, size), mode="bilinear", antialias=size < 150, align_corners=False)
        chips.append(chip[0].clamp(0, 1))
        names.append(name)
        if len(chips) == limit:
            break
    return torch.stack(chips), names


def inversion_rows(net: FeatureNet, layers: Mapping[str, Union[int, str]], synth: torch.Tensor, real: torch.Tensor,
                   steps: int, oracle, dlib_net: DlibFaceNet) -> Dict[str, Dict[str, object]]:
    """The inversion experiment through ``net``, per layer, on SynthFaces (oracle) and on real chips (HOG, dlib)."""
    from facekit.landmarks import DlibDetector

    det = DlibDetector()
    independent = not isinstance(net, DlibFaceNet)
    rows: Dict[str, Dict[str, object]] = {}
    with torch.no_grad():
        real_ref = dlib_net.embed(real)  # (N, 128); chips of another size are resized to 150 inside
    for name, layer in layers.items():
        x, _ = invert_features(net, layer, synth, steps)
        sse = squared_error_255(x, synth)
        row: Dict[str, object] = {"stage": net.resolve_layer(layer), "sse": round(float(sse.mean()), 1),
                                  "mse": round(float(sse.mean()) / synth[0].numel(), 2),
                                  "oracle_kept": round(float(oracle.same_identity(x, synth).float().mean()), 3),
                                  "oracle_cosine": round(float(oracle.identity_score(x, synth).mean()), 3)}
        if isinstance(net, DlibFaceNet):
            row["vgg_equivalent"] = [f"conv{b}_x" for b, s in VGG_BLOCK_TO_STAGE.items() if s == row["stage"]]
        xr, _ = invert_features(net, layer, real, steps)
        judged = torch.nn.functional.interpolate(xr, size=(150, 150), mode="bilinear", align_corners=False)
        found = [det.confidence((xi.clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype("uint8"))
                 for xi in judged]  # the HOG detector needs faces of about 80 px: judge at the chip's 150 px
        with torch.no_grad():
            dist = (dlib_net.embed(xr) - real_ref).norm(dim=1)
        row.update(real_mse=round(float(squared_error_255(xr, real).mean()) / real[0].numel(), 2),
                   real_face_found=round(sum(f == f for f in found) / len(found), 3),
                   real_dlib_distance=[round(float(d), 3) for d in dist],
                   real_same_person=round(float((dist < 0.6).float().mean()), 3),
                   real_judge_independent=independent)
        rows[name] = row
    return rows


def dlib_figures(net: DlibFaceNet) -> Dict[str, float]:
    """DlibFaceNet against dlib's C++ on the astronaut chip: max abs difference, and the time of 8 chips."""
    import statistics

    import dlib
    import numpy as np
    from skimage.data import astronaut

    from facekit.align import dlib_face_chip
    from facekit.landmarks import DlibDetector, _dlib_models

    rec = _dlib_models("embedding")
    img = astronaut()
    pts = DlibDetector().five_points(img)
    shape = dlib.full_object_detection(dlib.rectangle(0, 0, 1, 1), [dlib.point(int(x), int(y)) for x, y in pts])
    chip = np.asarray(dlib.get_face_chip(img, shape, 150, 0.25))  # (150, 150, 3) uint8, dlib's own chip
    ref = np.asarray(rec.compute_face_descriptor(chip))
    x = torch.from_numpy(chip.copy()).permute(2, 0, 1)[None].float() / 255.0
    with torch.no_grad():
        ours = net.embed(x)[0].double().numpy()
        full = torch.from_numpy(img.copy()).permute(2, 0, 1)[None].float() / 255.0
        ours_chip = net.embed(dlib_face_chip(full, pts))[0].double().numpy()
    eight = x.expand(8, -1, -1, -1).contiguous()
    with torch.no_grad():
        torch_s = seconds_per_image(net.embed, eight, warmup=2, repeats=9, device="cpu")
    chips8 = [chip] * 8
    rec.compute_face_descriptor(chips8)  # warm-up
    times = []
    for _ in range(9):
        t = time.perf_counter()
        rec.compute_face_descriptor(chips8)
        times.append(time.perf_counter() - t)
    return {"dlib_max_abs_diff": float(f"{np.abs(ours - ref).max():.3g}"),
            "dlib_chip_descriptor_distance": round(float(np.linalg.norm(ours_chip - ref)), 4),
            "dlib_ms_per_8": round(torch_s * 8e3, 1), "dlib_cpp_ms_per_8": round(statistics.median(times) * 1e3, 1)}


def reference_faces(n: int, size: int = 64) -> torch.Tensor:
    """``n`` frontal test identities under the soft frontal light, with their own backdrops: ``(n, 3, H, W)``."""
    ds = SynthFaces("test", size=size)
    return torch.stack([ds[i]["image"] for i in range(n)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer identities, views and steps")
    ap.add_argument("--ids", type=int, default=100, help="test identities (at most 100)")
    ap.add_argument("--views", type=int, default=10, help="views per test identity")
    ap.add_argument("--neg-per-image", type=int, default=20)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--faces", type=int, default=4, help="faces in the inversion experiment")
    ap.add_argument("--steps", type=int, default=150, help="optimisation steps of each inversion")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--weights", default=None, help="a synthface_net.pt other than the shipped one")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", choices=["all", "dlib", "speed"], default="all",
                    help="dlib: only the DlibFaceNet figures and both networks' inversion rows; speed: only the "
                         "DlibFaceNet figures")
    ap.add_argument("--real-size", type=int, default=150, help="side of the real chips in the inversion rows")
    ap.add_argument("--real-dir", default=None, help="a folder of real photos instead of the two shipped ones")
    ap.add_argument("--real-limit", type=int, default=8, help="photos taken from --real-dir")
    args = ap.parse_args()
    if args.quick:
        args.ids, args.views, args.steps, args.faces = 30, 6, 30, 2
    t0 = time.time()
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    net = hub.pretrained("synthface_net", args.weights, check_hash=args.weights is None)
    net.check_input = False  # time the network, not the range check
    dlib_net = hub.pretrained("dlib_face_resnet")
    dlib_net.check_input = False
    result: Dict[str, object] = {"bench": "features"}
    result.update(dlib_figures(dlib_net))
    if args.only == "speed":
        result.update(threads=torch.get_num_threads(), wall_s=round(time.time() - t0, 1))
        print(json.dumps(result))
        return

    # inversion per layer, both networks (CNIA Table 1), on SynthFaces and on real photos
    from facekit.eval import load_oracle

    oracle = load_oracle(device="cpu")
    faces, (real, real_names) = reference_faces(args.faces), real_chips(args.real_size, args.real_dir, args.real_limit)
    inv = {"synthface_net": inversion_rows(net, INVERSION_LAYERS, faces, real, args.steps, oracle, dlib_net),
           "dlib_face_resnet": inversion_rows(dlib_net, DLIB_INVERSION_LAYERS, faces, real, args.steps, oracle,
                                              dlib_net)}
    n = 224 * 224 * 3
    paper = {k: {"sse_1e8": v, "mse": round(v * 1e8 / n, 1)} for k, v in PAPER_SSE_1E8.items()}
    shown = real_names if args.real_dir is None else f"{len(real_names)} photos of --real-dir"  # names stay private
    result.update(inversion=inv, inversion_setup={
        "faces": args.faces, "size": 64, "real": shown, "real_size": args.real_size, "steps": args.steps, "lr": 0.1,
        "tv_weight": 16.0, "start": "mid-grey"}, paper_table1=paper)
    if args.only == "dlib":
        result.update(threads=torch.get_num_threads(), wall_s=round(time.time() - t0, 1))
        print(json.dumps(result))
        return

    # 1. verification on unseen identities
    ids = [int(i) for i in split_identities(1000, "test")][: args.ids]
    ds = SynthFaces(identities=ids, length=len(ids) * args.views, size=64, attributes="random", poses="multipie",
                    pitch=(-10.0, 10.0), lights="all", background="random", seed=12345)
    images = torch.from_numpy(ds.images()).permute(0, 3, 1, 2).float().div_(255.0)  # (N, 3, 64, 64)
    labels = torch.arange(len(ds)) % len(ids)
    with torch.no_grad():
        emb = torch.cat([net.embedding(images[i : i + 256]) for i in range(0, len(images), 256)])  # (N, D)
    i, j, same = verification_pairs(labels, max_negatives=args.neg_per_image * len(labels),
                                    generator=torch.Generator().manual_seed(args.seed))
    scores = (emb[i] * emb[j]).sum(1)  # cosine similarity of unit embeddings
    auc = roc_auc(scores, same)
    _, eer = eer_threshold(scores, same)

    # 2. speed
    ext = FeatureExtractor(net, list(INVERSION_LAYERS.values()))  # relu2_1 .. relu3_2
    speed = {}
    for size in (64, 128):
        x = torch.rand(args.batch, 3, size, size)
        with torch.no_grad():
            speed[size] = seconds_per_image(ext, x, warmup=2, repeats=7, device="cpu")
    with torch.no_grad():
        embed_s = seconds_per_image(net.embedding, torch.rand(args.batch, 3, 64, 64), warmup=2, repeats=7,
                                    device="cpu")

    result.update({
        "network": net.pretrained_name if args.weights is None else str(args.weights),
        "weights_sha256": hub.sha256sum(hub.find("synthface_net", args.weights))[:16],
        "verification_auc": round(auc, 4),
        "verification_eer": round(eer, 4),
        "auc_target": 0.95,
        "test_identities": len(ids),
        "views_per_identity": args.views,
        "pairs_same": int(same.sum()),
        "pairs_different": int((~same).sum()),
        "batch": args.batch,
        "threads": torch.get_num_threads(),
        "forward_ms_per_image_64": round(speed[64] * 1e3, 3),
        "forward_ms_per_image_128": round(speed[128] * 1e3, 3),
        "embed_ms_per_image_64": round(embed_s * 1e3, 3),
        "wall_s": round(time.time() - t0, 1),
    })
    print(json.dumps(result))


if __name__ == "__main__":
    main()
