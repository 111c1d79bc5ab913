"""CelebA's annotation files: our own readers of the ``.txt`` lists and their Kaggle ``.csv`` versions.

Split out of :mod:`facekit.data.celeba` (every name stays importable from there), with the folder layout and the
how-to-get-it texts its messages quote (this module imports nothing from that one); the formats are described in
that module's docstring.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from facekit.data._common import AnnotationFormatError, PathLike, read_lines

__all__ = ["CELEBA_LAYOUT", "CELEBA_HOWTO", "read_celeba_attributes", "read_celeba_landmarks", "read_celeba_partition", "read_celeba_identities"]

_LANDMARK_NAMES: tuple[str, ...] = ("lefteye", "righteye", "nose", "leftmouth", "rightmouth")
_LANDMARK_COLUMNS: tuple[str, ...] = tuple(f"{n}_{c}" for n in _LANDMARK_NAMES for c in "xy")
_FILENAME = re.compile(r"^[\w.\-]+\.(jpg|jpeg|png)$", re.IGNORECASE)


CELEBA_LAYOUT = """\
<root>/                                  (or <root>/celeba/, torchvision's layout)
    img_align_celeba/000001.jpg ...      178x218 JPEG files (a subset is fine)
    img_celeba/000001.jpg ...            optional: in-the-wild photos, any size (detected and aligned by facekit)
    list_attr_celeba.txt                 (or the Kaggle mirror's .csv; also found in <root>/Anno/)
    list_landmarks_align_celeba.txt      optional (.csv; <root>/Anno/); without it landmarks are detected
    list_eval_partition.txt              (.csv; <root>/Eval/); only needed for split != 'all'
    identity_CelebA.txt                  optional (<root>/Anno/); identity is -1 without it"""

CELEBA_HOWTO = """\
How to get CelebA (aligned & cropped images, about 1.4 GB):
  * automatic: facekit.data.celeba.download_celeba(root) (torchvision + gdown; Google Drive often refuses it
    with 'Quota exceeded': then use a manual route);
  * official: https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html -> 'Align&Cropped Images' (Google Drive folder
    https://drive.google.com/drive/folders/0B7EVK8r0v71pWEZsZE9oNnFzTm8): download Img/img_align_celeba.zip,
    Anno/list_attr_celeba.txt, Anno/list_landmarks_align_celeba.txt, Anno/identity_CelebA.txt and
    Eval/list_eval_partition.txt, and unzip img_align_celeba.zip inside <root>;
  * Kaggle mirror: https://www.kaggle.com/datasets/jessicali9530/celeba-dataset
    (`kaggle datasets download -d jessicali9530/celeba-dataset`, then unzip into <root>; it has CSV lists and no
    identity file).
Put the files in <root> (default: FACEKIT_HOME/data/celeba, see facekit.config.cache_dir), then CelebA(root)."""


def _layout_and_howto() -> tuple[str, str]:
    return CELEBA_LAYOUT, CELEBA_HOWTO


# ------------------------------------------------------------------------------------------- file readers


def _read_table(path: Path, what: str, *, count_line: bool, columns: Optional[Sequence[str]]
                ) -> tuple[list[str], list[tuple[int, str, list[str], str]]]:
    """Read a CelebA list (``.txt`` or Kaggle ``.csv``) into ``(names, [(line_no, filename, values, line)])``.

    ``columns`` is the fixed list of value columns, or ``None`` when the header defines them (attributes).
    """
    lines = read_lines(path, what, *_layout_and_howto())
    is_csv = path.suffix.lower() == ".csv"

    def split(line: str) -> list[str]:
        return [t.strip() for t in line.split(",")] if is_csv else line.split()

    index = 0  # next line to read (0-based)
    names = list(columns) if columns is not None else []
    if is_csv:  # Kaggle: "image_id,<names>" on line 1, no count line
        header = split(lines[0])
        if not header or header[0].lower() != "image_id":
            raise AnnotationFormatError(path, 1, "the first line of a CelebA CSV list must be its header",
                                        "image_id," + ",".join(names[:3] or ["<names>"]) + ",...", lines[0])
        names = header[1:] if columns is None else names
        index = 1
    elif count_line:
        first = lines[0].strip()
        if not first.isdigit():
            raise AnnotationFormatError(path, 1, "line 1 must be the number of images",
                                        "a single integer such as 202599", lines[0])
        header = split(lines[1]) if len(lines) > 1 else []
        if not header:
            raise AnnotationFormatError(path, 2, "line 2 must be the header (the column names)",
                                        " ".join(names) if names else "the 40 attribute names",
                                        lines[1] if len(lines) > 1 else "")
        if _FILENAME.match(header[0]):
            raise AnnotationFormatError(path, 2, "line 2 must be the header (the column names), but it is a "
                                        "data row: the count line or the header line is missing",
                                        " ".join(names) if names else "the 40 attribute names", lines[1])
        if columns is None:
            names = header
        elif header != list(columns):
            raise AnnotationFormatError(path, 2, "unexpected column names in the header",
                                        " ".join(columns), lines[1])
        index = 2
    elif columns is not None and lines:  # identity / partition: an optional header line (`image_id identity`)
        first = split(lines[0])
        if (len(first) == len(columns) + 1 and not _FILENAME.match(first[0])
                and not any(t.lstrip("-").isdigit() for t in first)):
            index = 1

    rows: list[tuple[int, str, list[str], str]] = []
    seen: dict[str, int] = {}
    for line_no, line in enumerate(lines[index:], start=index + 1):
        tokens = split(line)
        if not tokens or (is_csv and not any(tokens)):
            continue  # blank line (e.g. at the end of the file)
        filename, values = tokens[0], tokens[1:]
        if not _FILENAME.match(filename):
            expected = f"'000001.jpg' followed by {len(names)} value(s)"
            if line_no == 1 and not count_line and not is_csv:
                expected += f" (line 1 may instead be a header line of {len(names) + 1} words, e.g. 'image_id " \
                    + " ".join(names) + "')"
            raise AnnotationFormatError(path, line_no, "malformed line: the first column must be an image file "
                                        "name", expected, line)
        if len(values) != len(names):
            raise AnnotationFormatError(
                path, line_no, f"wrong number of columns: {len(values)} values after the file name, "
                f"{len(names)} expected", f"'{filename}' followed by {len(names)} values"
                + (f" ({', '.join(names[:3])}, ...)" if len(names) > 3 else f" ({', '.join(names)})"), line)
        if filename in seen:
            raise AnnotationFormatError(path, line_no, f"duplicate row for {filename} (first on line "
                                        f"{seen[filename]})", "one row per image", line)
        seen[filename] = line_no
        rows.append((line_no, filename, values, line))
    if not rows:
        raise AnnotationFormatError(path, None, f"the {what} has no data rows", "one row per image")
    return names, rows


def read_celeba_attributes(path: PathLike) -> tuple[list[str], dict[str, np.ndarray]]:
    """Read ``list_attr_celeba.txt`` (or its Kaggle ``.csv``).

    Args:
        path: the attribute file.

    Returns:
        ``(names, table)``: the attribute names of the header, and ``filename -> (A,) uint8`` array of 0/1
        (the file's -1/1 mapped to 0/1).

    Raises:
        DatasetNotFoundError: the file is missing.
        AnnotationFormatError: a malformed line, a wrong column count, a value not in {-1, 1}, ... (the message
            names the file, the line and what was expected).

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "list_attr_celeba.txt"
        >>> _ = p.write_text("1\\r\\nSmiling Young \\r\\n000001.jpg  1 -1\\r\\n")
        >>> names, table = read_celeba_attributes(p)
        >>> names, table["000001.jpg"].tolist()
        (['Smiling', 'Young'], [1, 0])
    """
    path = Path(path)
    names, rows = _read_table(path, "CelebA attribute file", count_line=True, columns=None)
    table: dict[str, np.ndarray] = {}
    for line_no, filename, values, line in rows:
        row = np.empty(len(names), dtype=np.uint8)
        for k, value in enumerate(values):
            if value == "1":
                row[k] = 1
            elif value == "-1":
                row[k] = 0
            else:
                raise AnnotationFormatError(
                    path, line_no, f"value {value!r} of attribute {names[k]!r} (column {k + 2}) is not -1 or 1",
                    "-1 (absent) or 1 (present)", line)
        table[filename] = row
    return names, table


def _int_values(path: Path, rows: list[tuple[int, str, list[str], str]], names: Sequence[str], what: str,
                allowed: Optional[Sequence[int]] = None, minimum: Optional[int] = None) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for line_no, filename, values, line in rows:
        parsed = []
        for k, value in enumerate(values):
            try:
                number = int(value)
            except ValueError:
                number = None
            ok = number is not None and (allowed is None or number in allowed) and (minimum is None or
                                                                                    number >= minimum)
            if not ok:
                expected = (f"one of {', '.join(map(str, allowed))}" if allowed is not None
                            else f"an integer >= {minimum}" if minimum is not None else "an integer")
                raise AnnotationFormatError(path, line_no, f"{what} {names[k]!r} (column {k + 2}) is "
                                            f"{value!r}, not {expected}", expected, line)
            parsed.append(number)  # type: ignore[arg-type]
        out[filename] = parsed
    return out


def read_celeba_landmarks(path: PathLike) -> dict[str, np.ndarray]:
    """Read ``list_landmarks_align_celeba.txt`` (or its ``.csv``): ``filename -> (5, 2) float32`` ``(x, y)``.

    The 5 points are :data:`CELEBA_LANDMARK_NAMES` (left eye, right eye, nose, left and right mouth corner), in
    pixels of the 178x218 aligned image.

    Raises:
        DatasetNotFoundError: the file is missing.
        AnnotationFormatError: bad header, wrong column count, a coordinate that is not an integer.
    """
    path = Path(path)
    names, rows = _read_table(path, "CelebA landmark file", count_line=True, columns=_LANDMARK_COLUMNS)
    table = _int_values(path, rows, names, "landmark coordinate", minimum=-10_000)
    return {f: np.asarray(v, dtype=np.float32).reshape(5, 2) for f, v in table.items()}


def read_celeba_partition(path: PathLike) -> dict[str, int]:
    """Read ``list_eval_partition.txt`` (or its ``.csv``): ``filename -> 0 (train) | 1 (valid) | 2 (test)``.

    Raises:
        DatasetNotFoundError: the file is missing.
        AnnotationFormatError: a malformed line or a partition value other than 0, 1 or 2.
    """
    path = Path(path)
    names, rows = _read_table(path, "CelebA partition file", count_line=False, columns=("partition",))
    return {f: v[0] for f, v in _int_values(path, rows, names, "partition", allowed=(0, 1, 2)).items()}


def read_celeba_identities(path: PathLike) -> dict[str, int]:
    """Read ``identity_CelebA.txt``: ``filename -> identity`` (an integer >= 1; 10,177 people in all).

    Raises:
        DatasetNotFoundError: the file is missing.
        AnnotationFormatError: a malformed line or an identity that is not a positive integer.
    """
    path = Path(path)
    names, rows = _read_table(path, "CelebA identity file", count_line=False, columns=("identity",))
    return {f: v[0] for f, v in _int_values(path, rows, names, "identity", minimum=1).items()}
