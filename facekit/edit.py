"""``python -m facekit.edit``: edit the face in your own photo from the command line (see :mod:`facekit.photo`).

Usage::

    python -m facekit.edit PHOTO --edit smile --method cnia --guide GUIDE.jpg -o OUT.jpg
    python -m facekit.edit PHOTO --edit mouth_open -o OUT.png            # DIAT-A (the default method)
    python -m facekit.edit --list                                        # every valid (method, edit) pair

The input is never written: ``-o`` must name another file (an existing one only with ``--overwrite``), and the
result is written atomically. ``--side-by-side`` writes the original and the result in one image. Under the
result the command prints the real-photo judges' scores (:func:`facekit.photo.score_photo_edit`); ``--no-score``
skips them. Notes (conversions, which face was chosen) go to stderr. Exit status: 0 done, 2 bad arguments or a
photo that cannot be edited (the message says why), 1 anything unexpected.
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The command's argument parser."""
    from facekit.photo import CNIA_PHOTO_SETTINGS, EDITS, FACE_ORDERS, METHODS

    ap = argparse.ArgumentParser(
        prog="python -m facekit.edit",
        description="Edit the face in a photo: detect, align as the datasets do, edit at the method's size, paste "
                    "back at full size with a soft mask. Offline. The input file is never overwritten.")
    ap.add_argument("photo", nargs="?", help="the photo to edit (JPEG, PNG, TIFF, ...)")
    ap.add_argument("--edit", choices=sorted(EDITS), help="what to change (see --list for each method's edits)")
    ap.add_argument("--method", default="diat", choices=sorted(METHODS),
                    help="cnia (guided-image mode, needs --guide), diat (DIAT-A, default), eye2face, see_another_you")
    ap.add_argument("--guide", help="cnia: a photo whose face has the attribute to borrow (CNIA sec. 4.2)")
    ap.add_argument("-o", "--output", help="the output file (.jpg or .png); must not be the input")
    ap.add_argument("--side-by-side", action="store_true", help="write the original and the result side by side")
    ap.add_argument("--face", type=int, help="which face to edit, 1-based (default: the largest, announced)")
    ap.add_argument("--face-order", default="size", choices=FACE_ORDERS,
                    help="how --face numbers faces: by size (largest first, default) or from left to right")
    ap.add_argument("--guide-face", type=int, help="which face of the guide photo (numbered as --face)")
    ap.add_argument("--steps", type=int, help="cnia: iterations (default by FACEKIT_PROFILE: smoke 3, cpu 150, "
                                              "gpu 300)")
    ap.add_argument("--cnia-start", default="reference", choices=sorted(CNIA_PHOTO_SETTINGS),
                    help="cnia: start from the photo (default) or from a blank image (the paper's Algorithm 1)")
    ap.add_argument("--paste", default="replace", choices=("replace", "delta"),
                    help="replace: the edited pixels through the soft mask (default); delta: add only the edit's "
                         "change to the full-resolution photo (sharper, may keep faint traces of what was removed)")
    ap.add_argument("--detect-side", type=int, help="long side of the copy faces are detected on (default 640; "
                                                    "raise it for a small face in a large photo)")
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output file (never the input)")
    ap.add_argument("--no-score", action="store_true", help="do not score the result with the real-photo judges")
    ap.add_argument("--list", action="store_true", help="list every valid (method, edit) pair and exit")
    return ap


def _list() -> str:
    from facekit.photo import EDITS, METHODS, min_inter_ocular

    lines = ["method           edit             what it does"]
    for m, info in METHODS.items():
        for e in info.edits:
            lines.append(f"{m:<16} {e:<16} {EDITS[e][2]}")
    lines.append("")
    for m, info in METHODS.items():
        size = f"{info.size} px crops, eyes at least {min_inter_ocular(info.size):.0f} px apart" if info.size else \
            "the face network's size (150 px for DlibFaceNet: eyes at least 32 px apart)"
        trained = info.trained_on if info.trained_on.startswith("no training") else f"trained on {info.trained_on}"
        lines.append(f"{m}: {size}; {trained}" + ("; needs --guide" if info.needs_guide else ""))
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command; returns the exit status."""
    ap = build_parser()
    args = ap.parse_args(argv)
    if args.list:
        print(_list())
        return 0
    if args.photo is None or args.edit is None or args.output is None:
        ap.error("give PHOTO, --edit and -o OUT (or --list)")
    import time
    from pathlib import Path

    from facekit.data._common import ImageReadError
    from facekit.landmarks import NoFaceFoundError
    from facekit.photo import PhotoError, check_edit, edit_photo, format_scores, save_photo, score_photo_edit

    t0 = time.perf_counter()
    out = Path(args.output)

    def note(message: str) -> None:
        print(f"note: {message}", file=sys.stderr)

    try:
        check_edit(args.method, args.edit)
        for inp, what in ((args.photo, "PHOTO"), (args.guide, "--guide")):  # refuse before any work is done
            if inp is not None and out.exists() and Path(inp).exists() and out.resolve() == Path(inp).resolve():
                raise PhotoError(f"-o {out} is the {what} file: facekit never overwrites its input; choose another -o")
        if out.exists() and not args.overwrite:
            raise PhotoError(f"{out} exists; choose another -o or pass --overwrite")
        result = edit_photo(args.photo, args.edit, args.method, guide=args.guide, face=args.face,
                            face_order=args.face_order, guide_face=args.guide_face, steps=args.steps,
                            cnia_start=args.cnia_start, paste=args.paste, max_side=args.detect_side,
                            progress=sys.stderr.isatty(), announce=note)
        saved = save_photo(result, out, side_by_side=args.side_by_side, overwrite=args.overwrite,
                           protect=[args.guide])
    except (PhotoError, ImageReadError, NoFaceFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    h, w = result.original.shape[:2]
    print(f"wrote {saved} ({'original | result, ' if args.side_by_side else ''}{w}x{h} photo; the input is unchanged)")
    print(f"method: {result.label}")
    print(f"face box {result.face.box}, eyes {result.face.inter_ocular:.0f} px apart; edited at "
          f"{result.aligned.size} px; pasted region {float((result.mask > 0).mean()):.1%} of the photo, largest "
          f"change outside it: {result.outside_mask_max_change()} grey levels; {result.seconds:.1f} s")
    if not args.no_score:
        print(format_scores(score_photo_edit(result), args.edit))
    print(f"total {time.perf_counter() - t0:.1f} s. An edited photo of a real person: label it as edited, and "
          "do not use it to impersonate anyone.")
    return 0


if __name__ == "__main__":  # pragma: no cover - the command
    sys.exit(main())
