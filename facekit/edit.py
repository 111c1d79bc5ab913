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

**Measured** (this 2-core CPU, shared with background training; ``FACEKIT_PROFILE=cpu OMP_NUM_THREADS=1``; the
photos are scikit-image's astronaut saved as ``astronaut.png``, matplotlib's ``grace_hopper.jpg`` copied as
``grace.jpg`` and ``grace_huge.jpg``, that photo upscaled 8x; every command but the last also had
``--side-by-side -o OUT.png``; wall time of the whole command: imports, dlib and network loading, detection, edit,
paste-back, scoring, saving)::

    python -m facekit.edit astronaut.png --edit mouth_open                                7.7 s
    python -m facekit.edit grace.jpg     --edit mouth_open                                7.3 s
    python -m facekit.edit astronaut.png --edit female                                    6.5 s
    python -m facekit.edit grace.jpg     --edit female                                    5.5 s
    python -m facekit.edit astronaut.png --edit smile --method cnia --guide grace.jpg     12.8 s (150 steps)
    python -m facekit.edit grace.jpg     --edit smile --method cnia --guide astronaut.png 14.6 s (150 steps)
    python -m facekit.edit astronaut.png --edit face_from_eye --method eye2face           9.3 s
    python -m facekit.edit grace.jpg     --edit face_from_eye --method eye2face           5.8 s (refused, exit 2)
    python -m facekit.edit astronaut.png --edit remove_glasses --method see_another_you   9.2 s
    python -m facekit.edit grace.jpg     --edit remove_glasses --method see_another_you   8.8 s
    python -m facekit.edit astronaut.png --edit complete_eyes --method see_another_you    8.9 s
    python -m facekit.edit grace.jpg     --edit complete_eyes --method see_another_you    10.8 s
    python -m facekit.edit grace_huge.jpg --edit mouth_open -o OUT.jpg (4096 x 4800)      10.1 s

Times vary by about 2 s between runs here (the machine is shared).

What the results look like (looked at, and the figures the command printed): in every result the largest change
outside the pasted region is 0 grey levels (the photo is untouched there, bit for bit); the pasted region is
2-15 % of the photo for local edits and 9-28 % for the global ones (the whole face and forehead). The astronaut
photo has a second detection (on the mission patch), announced; the largest face is edited. DIAT-A mouth_open
(64 px): the mouth region becomes a blur with a green-magenta colour cast, the mouth no more open than before;
dlib distance to the original 0.22 / 0.24. DIAT-A female: the whole face becomes a 64 px blur (Grace Hopper's
hat brim included); dlib 0.69 / 0.64, not the same person. CNIA guided smile (150 steps from the photo, through
DlibFaceNet): the astronaut's face takes a coloured high-frequency pattern, Grace Hopper's lower face is smoothed
and reddened; neither visibly smiles more; dlib 0.31 / 0.24, flagged as not independent (CNIA optimised through
dlib's own network). Eye-to-face: the astronaut's face box is replaced by a pale, blurry SynthFaces-like face
(dark brows, red lips); dlib 0.66, another person; on Grace Hopper (glasses) the Haar pipeline finds no two eyes
in the aligned face and the command refuses with that reason. see-another-you (32 px grey, luma only): the
eye band becomes a blur in both edits (glasses and eyes alike); dlib 0.52 (Grace Hopper, remove_glasses), no face
found in the astronaut's result crop, 0.50 / 0.36 for complete_eyes. (Measured before the real-photo attribute
judges shipped; chapter 07 now prints their readings of these edits, before and after.) The shipped networks were trained on SynthFaces renders at 32-128 px:
these are honest failures on real photos, not tuned results.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence, Union

if TYPE_CHECKING:  # pragma: no cover
    from facekit.photo import PhotoEdit

__all__ = ["main", "build_parser", "save_photo", "format_scores"]


def format_scores(row: Mapping[str, Any], edit: str) -> str:
    """The lines the command prints under the result (:func:`facekit.photo.score_photo_edit`'s row)."""
    from facekit.photo import EDITS

    target = ", ".join(f"{k}={v}" for k, v in EDITS[edit][0].items()) or "none"
    lines = [row.get("judges", "")]
    succ = row.get("attribute_success", float("nan"))
    lines.append(f"attribute success ({target}): " + (f"{succ:.2f}" if succ == succ else
                                                      row.get("attribute_note") or "not judged"))
    dist = row.get("identity_dlib_distance", float("nan"))
    if dist == dist:
        lines.append(f"identity (dlib distance original -> result): {dist:.3f} "
                     f"({'same person' if row.get('identity_kept', 0) >= 1 else 'NOT the same person'} at < 0.6)")
    else:
        lines.append("identity: not judged (dlib found no face in the original or the result crop)")
    if row.get("identity_independent") is False:
        lines.append("  (not independent: the method optimised through DlibFaceNet, dlib's own network; "
                     f"face found in the result: {row.get('face_found', float('nan')):.0%})")
    return "\n".join(line for line in lines if line)




def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def save_photo(edited: "PhotoEdit", out: Union[str, Path], *, side_by_side: bool = False, overwrite: bool = False,
               protect: Sequence[Union[str, Path, None]] = ()) -> Path:
    """Write the result (or original | result side by side) atomically, labelled as edited, never over an input.

    The file is written to a temporary name in the output folder, then moved over ``out`` with ``os.replace``
    (atomic on one file system): an interrupted run leaves no half-written file.

    Args:
        edited: a :class:`facekit.photo.PhotoEdit`.
        out: the output file; its suffix picks the format (``.jpg`` / ``.jpeg`` at quality 95, ``.png``, ...).
        side_by_side: write the original left and the result right in one image.
        overwrite: replace an existing ``out`` (never one of the inputs).
        protect: more files that must not be written (the guide photo); the input photo always is.

    Raises:
        PhotoError: ``out`` is an input file, exists (without ``overwrite``), has an unknown suffix, or its folder
            does not exist.
    """
    from PIL import Image, PngImagePlugin

    from facekit.photo import PhotoError

    path = Path(out)
    for other in [edited.photo.path, *protect]:
        if other is not None and _same_file(path, Path(other)):
            raise PhotoError(f"refusing to write {path}: it is an input file ({other}); facekit never overwrites "
                             "its input. Choose another -o")
    if path.exists() and not overwrite:
        raise PhotoError(f"{path} exists; choose another -o or pass --overwrite")
    if not path.parent.is_dir():
        raise PhotoError(f"the output folder {path.parent} does not exist")
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise PhotoError(f"unknown output format {path.suffix!r}: use .jpg or .png")
    pixels = edited.side_by_side() if side_by_side else edited.result
    img = Image.fromarray(pixels)
    if edited.photo.grey:
        img = img.convert("L")
    label = f"edited by facekit: {edited.label}; edit {edited.edit}. This is not an unaltered photograph."
    kwargs: Dict[str, Any] = {}
    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_text("Description", label)
        kwargs["pnginfo"] = info
    elif fmt in ("JPEG", "WEBP", "TIFF"):
        exif = Image.Exif()
        exif[0x010E] = label  # ImageDescription
        kwargs["exif"] = exif.tobytes()
        if fmt == "JPEG":
            kwargs["quality"] = 95
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            img.save(fh, format=fmt, **kwargs)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


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

    from facekit.data._common import ImageReadError
    from facekit.landmarks import NoFaceFoundError
    from facekit.photo import PhotoError, check_edit, edit_photo, score_photo_edit

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
    if out.suffix.lower() in (".jpg", ".jpeg", ".webp"):
        print(f"  ({out.suffix} is lossy: its encoding changes every pixel a little; write .png for a result that "
              "equals the original outside the pasted region)")
    if not args.no_score:
        print(format_scores(score_photo_edit(result), args.edit))
    print(f"total {time.perf_counter() - t0:.1f} s. An edited photo of a real person: label it as edited, and "
          "do not use it to impersonate anyone.")
    return 0


if __name__ == "__main__":  # pragma: no cover - the command
    sys.exit(main())
