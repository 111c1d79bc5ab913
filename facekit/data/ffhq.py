"""FFHQ (Flickr-Faces-HQ) image folders: a ``Dataset`` over the images that are present.

FFHQ (Karras, Laine, Aila. *A Style-Based Generator Architecture for GANs*, CVPR 2019;
https://github.com/NVlabs/ffhq-dataset) has 70,000 aligned faces. Its 128x128 thumbnails are stored as
``thumbnails128x128/00000/00000.png`` .. ``thumbnails128x128/69000/69999.png``: one sub-folder per thousand
images, named by the first index it holds. There are no labels; facekit uses FFHQ as a source of unlabelled
real faces (e.g. for the eye-to-face chapter). The same reader works for ``images1024x1024/``.

Example:
    >>> from facekit.data.ffhq import FFHQ
    >>> ds = FFHQ(size=64)          # doctest: +SKIP
    >>> ds[0]["image"].shape        # doctest: +SKIP
    torch.Size([3, 64, 64])
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable, Optional, Union

from torch.utils.data import Dataset

from facekit.config import cache_dir
from facekit.data._common import (
    DatasetNotFoundError,
    PathLike,
    crop_and_resize,
    image_to_tensor,
    parse_size,
    read_image,
)

__all__ = ["FFHQ", "FFHQ_NUM_IMAGES", "list_ffhq_images"]

FFHQ_NUM_IMAGES = 70_000
"""Number of images of the full dataset (indices 0..69999)."""

FFHQ_LAYOUT = """\
<root>/
    thumbnails128x128/                   (pass folder=... for another resolution, e.g. images1024x1024)
        00000/00000.png ... 00000/00999.png
        01000/01000.png ...
        ...
        69000/69999.png                  (a subset is fine; a flat folder of NNNNN.png works too)"""

FFHQ_HOWTO = """\
How to get FFHQ (thumbnails: 70,000 PNG files, about 2 GB):
  * https://github.com/NVlabs/ffhq-dataset: `python download_ffhq.py --thumbs` (Google Drive; it may hit the
    daily quota), or the Google Drive folder linked from that page (thumbnails128x128/);
  * licence: the dataset is CC BY-NC-SA 4.0 (NVIDIA); each image keeps its Flickr licence.
Put the folder in <root> (default: FACEKIT_HOME/data/ffhq, see facekit.config.cache_dir), then FFHQ(root)."""

_NAME = re.compile(r"^(\d{5})\.png$", re.IGNORECASE)
_SIZE = re.compile(r"(\d+)x(\d+)")


def list_ffhq_images(folder: PathLike) -> list[tuple[int, Path]]:
    """List the ``NNNNN.png`` images of an FFHQ folder (thousand-folders or flat), sorted by index.

    Args:
        folder: e.g. ``.../thumbnails128x128``.

    Returns:
        ``[(ffhq_index, path), ...]``; other files are ignored.
    """
    folder = Path(folder)
    found: list[tuple[int, Path]] = []
    for entry in folder.iterdir():
        if entry.is_dir() and entry.name.isdigit():
            found.extend((int(m.group(1)), p) for p in entry.iterdir() if (m := _NAME.match(p.name)))
        elif (m := _NAME.match(entry.name)) and entry.is_file():
            found.append((int(m.group(1)), entry))
    return sorted(found)


class FFHQ(Dataset):
    """The FFHQ images present in a folder (no labels).

    Args:
        root: the folder that holds ``thumbnails128x128/`` (or that folder itself); ``None`` means
            ``facekit.config.cache_dir("data") / "ffhq"``.
        folder: the resolution folder, ``"thumbnails128x128"`` or ``"images1024x1024"``; its ``WxH`` name is
            the size every image must have when ``check_size`` is true.
        size: output ``(height, width)``, or an int for a square; ``None`` keeps the stored size.
        transform: a callable applied to the ``(3, H, W)`` image tensor last.
        check_size: raise :class:`~facekit.data._common.ImageSizeError` for an image whose size differs from the
            folder's name.
        max_images: use only the first ``max_images`` images (by FFHQ index).

    Each item is a dict: ``image`` ``(3, H, W)`` float in ``[0, 1]``; ``ffhq_index`` (0..69999); ``filename``
    (relative to the folder); ``index``.

    Raises:
        DatasetNotFoundError: the folder is missing or holds no ``NNNNN.png`` image.
    """

    def __init__(self, root: Optional[PathLike] = None, *, folder: str = "thumbnails128x128",
                 size: Union[int, tuple[int, int], None] = None, transform: Optional[Callable] = None,
                 check_size: bool = True, max_images: Optional[int] = None) -> None:
        if max_images is not None and (isinstance(max_images, bool) or not isinstance(max_images, int)
                                       or max_images < 1):
            raise ValueError(f"max_images must be a positive int (how many images to use, by FFHQ index) or None "
                             f"(all); got {max_images!r}")
        base = Path(root).expanduser() if root is not None else cache_dir("data", create=False) / "ffhq"
        if (base / folder).is_dir():
            self.image_dir = base / folder
        elif base.is_dir() and (base.name == folder or any(_NAME.match(p.name) or (p.is_dir() and p.name.isdigit())
                                                             for p in base.iterdir())):
            self.image_dir = base
        else:
            raise DatasetNotFoundError(
                f"FFHQ folder not found: {base / folder}" + ("" if base.exists() else f" ({base} does not exist)")
                + "\nExpected layout:\n" + "\n".join("    " + line for line in FFHQ_LAYOUT.splitlines())
                + "\n" + FFHQ_HOWTO)
        found = list_ffhq_images(self.image_dir)
        if not found:
            raise DatasetNotFoundError(
                f"no FFHQ image (NNNNN.png) in {self.image_dir} or its numbered sub-folders\nExpected layout:\n"
                + "\n".join("    " + line for line in FFHQ_LAYOUT.splitlines()) + "\n" + FFHQ_HOWTO)
        if max_images is not None:
            found = found[:max_images]
        match = _SIZE.search(self.image_dir.name)
        self.expected_size: Optional[tuple[int, int]] = (int(match.group(1)), int(match.group(2))) if match else None
        self.indices: list[int] = [i for i, _ in found]
        self.paths: list[Path] = [p for _, p in found]
        self.size = parse_size(size)
        self.transform = transform
        self.check_size = check_size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not -len(self.paths) <= index < len(self.paths):
            raise IndexError(f"index {index} is out of range for this FFHQ of {len(self.paths)} images")
        path = self.paths[index]
        image = read_image(path, self.expected_size if self.check_size else None,
                           size_hint=f"the images of {self.image_dir.name}/ should all be that size; pass "
                           "check_size=False to accept others.")
        image, _, _ = crop_and_resize(image, None, self.size)
        tensor = image_to_tensor(image)  # (3, H, W)
        if self.transform is not None:
            tensor = self.transform(tensor)
        return {"image": tensor, "ffhq_index": self.indices[index],
                "filename": path.relative_to(self.image_dir).as_posix(), "index": index}

    def __repr__(self) -> str:
        return f"FFHQ(image_dir={str(self.image_dir)!r}, images={len(self)}, size={self.size})"
