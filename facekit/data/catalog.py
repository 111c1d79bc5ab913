"""Which datasets are on this machine, and where to get the ones that are not.

One row per value of ``FACEKIT_DATA`` (:data:`facekit.config.DATASETS`): what it is, the file that shows it is
installed, and how to get it. :func:`dataset_status` looks under ``FACEKIT_HOME/data/<name>`` (the default root
of every loader) without reading the files; the loaders themselves check the contents and explain problems.

Example:
    >>> dataset_status()["synth"]
    'built in'
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from facekit.config import DATASETS, cache_dir

__all__ = ["DatasetInfo", "CATALOG", "dataset_status", "describe_dataset"]


@dataclass(frozen=True)
class DatasetInfo:
    """One dataset: its loader, the files that mark it as installed (any of them), and how to obtain it."""

    name: str
    loader: str
    markers: tuple[str, ...]
    get_it: str


CATALOG: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo("synth", "facekit.data.SynthFaces", (), "built in: rendered on the fly, nothing to download"),
        DatasetInfo(
            "celeba", "facekit.data.celeba.CelebA",
            ("list_attr_celeba.txt", "celeba/list_attr_celeba.txt", "Anno/list_attr_celeba.txt", "list_attr_celeba.csv"),
            "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html (aligned images + the txt lists); non-commercial research",
        ),
        DatasetInfo(
            "lfw", "facekit.data.lfw.LFW", ("lfw_attributes.txt", "lfw"),
            "https://vis-www.cs.umass.edu/lfw/ (lfw.tgz) and lfw_attributes.txt from "
            "https://www.cs.columbia.edu/CAVE/databases/pubfig/download/",
        ),
        DatasetInfo(
            "ffhq", "facekit.data.ffhq.FFHQ", ("thumbnails128x128",),
            "https://github.com/NVlabs/ffhq-dataset (thumbnails128x128); CC BY-NC-SA 4.0",
        ),
        DatasetInfo(
            "multipie", "facekit.data.multipie.MultiPIE", ("data", "session01"),
            "licensed: request it from Carnegie Mellon University (https://www.cs.cmu.edu/afs/cs/project/PIE/MultiPie/)",
        ),
        DatasetInfo(
            "caspeal", "facekit.data.caspeal.CASPEAL", ("FRONTAL", "POSE"),
            "licensed: request CAS-PEAL-R1 from the JDL of the Chinese Academy of Sciences",
        ),
    )
}
assert set(CATALOG) == set(DATASETS), "every FACEKIT_DATA value needs a catalogue entry"


def describe_dataset(name: str, root: Optional[Path] = None) -> dict[str, Any]:
    """What a dataset folder can and cannot do with the files present (CelebA and LFW; others: the folder only).

    For CelebA: ``aligned_images`` and ``wild_images`` (counts), ``attributes`` (bool), ``identities`` (number of
    people, 0 without ``identity_CelebA.txt``), ``landmarks`` (``"file"``, ``"detected"`` or ``"unavailable"``) and
    ``split`` (``"official"``, ``"made by identity"``, ``"made by image"`` or ``"none"`` without the partition file).
    For LFW: ``images``, ``people`` and ``attributes`` (bool). Reads the small list files; never writes.

    Args:
        name: one of :data:`facekit.config.DATASETS`.
        root: the folder (default ``FACEKIT_HOME/data/<name>``).

    Returns:
        A dict; ``{"installed": False}`` when the folder has no marker file of the dataset.

    Raises:
        ValueError: ``name`` is unknown.
    """
    if name not in CATALOG:
        raise ValueError(f"unknown dataset {name!r}; use one of: {', '.join(DATASETS)}")
    info = CATALOG[name]
    if not info.markers:
        return {"installed": True, "built_in": True}
    root = Path(root) if root is not None else cache_dir("data", info.name, create=False)
    if not any((root / m).exists() for m in info.markers):
        return {"installed": False}
    out: dict[str, Any] = {"installed": True, "root": str(root)}
    if name == "celeba":
        out.update(_describe_celeba(root))
    elif name == "lfw":
        out.update(_describe_lfw(root))
    return out


def _count(folder: Optional[Path]) -> int:
    return sum(1 for _ in os.scandir(folder)) if folder is not None else 0


def _describe_celeba(root: Path) -> dict[str, Any]:
    from facekit.data import celeba
    from facekit.data.wild import detector_available

    base = celeba.find_celeba_root(root)
    aligned = celeba._find_images(base, "img_align_celeba", required=False)
    wild = celeba._find_images(base, "img_celeba", required=False)
    id_path = celeba._find_list(base, "identity_CelebA", "Anno")
    identities = celeba.read_celeba_identities(id_path) if id_path.is_file() else {}
    part_path = celeba._find_list(base, "list_eval_partition", "Eval")
    split = "none"
    if part_path.is_file():
        present = (set(os.listdir(aligned)) if aligned else set()) | (set(os.listdir(wild)) if wild else set())
        parts = {v for f, v in celeba.read_celeba_partition(part_path).items() if f in present}
        split = "official" if parts >= {0, 1, 2} else "made by identity" if identities else "made by image"
    landmarks = ("file" if celeba._find_list(base, "list_landmarks_align_celeba", "Anno").is_file()
                 else "detected" if detector_available() else "unavailable")
    return {"aligned_images": _count(aligned), "wild_images": _count(wild), "attributes": True,
            "identities": len(set(identities.values())), "landmarks": landmarks, "split": split}


def _describe_lfw(root: Path) -> dict[str, Any]:
    from facekit.data.lfw import _scan_lfw_images

    folder = root / "lfw"
    keys = _scan_lfw_images(folder) if folder.is_dir() else []
    return {"images": len(keys), "people": len({p for p, _ in keys}),
            "attributes": (root / "lfw_attributes.txt").is_file()}


def _summary(details: dict[str, Any]) -> str:
    if "aligned_images" in details:
        return (f"{details['root']} (images: aligned {details['aligned_images']}, in-the-wild "
                f"{details['wild_images']}; attributes yes; identities "
                + (f"yes ({details['identities']} people)" if details["identities"] else "no")
                + f"; landmarks {details['landmarks']}; split {details['split']})")
    if "people" in details:
        return (f"{details['root']} (images {details['images']}, {details['people']} people; attributes "
                f"{'yes' if details['attributes'] else 'no'})")
    return details["root"]


def dataset_status(name: Optional[str] = None) -> dict[str, str]:
    """Map each dataset (or only ``name``) to ``'built in'``, where it is and what it can do, or ``'not installed'``.

    An installed dataset's string starts with its folder; for CelebA and LFW a summary of :func:`describe_dataset`
    follows in parentheses, e.g. ``'/data/celeba (images: aligned 32, in-the-wild 617; attributes yes; identities
    yes (234 people); landmarks detected; split made by identity)'``. Use :func:`describe_dataset` for the same
    facts as a dict.

    Raises:
        ValueError: ``name`` is not one of :data:`facekit.config.DATASETS`.
    """
    if name is not None and name not in CATALOG:
        raise ValueError(f"unknown dataset {name!r}; use one of: {', '.join(DATASETS)}")
    out: dict[str, str] = {}
    for info in CATALOG.values() if name is None else (CATALOG[name],):
        if not info.markers:
            out[info.name] = "built in"
            continue
        try:
            details = describe_dataset(info.name)
        except Exception as err:  # a broken file: say so, the loader explains it in full
            root = cache_dir("data", info.name, create=False)
            out[info.name] = f"{root} (cannot read: {str(err).splitlines()[0]})"
            continue
        out[info.name] = _summary(details) if details["installed"] else "not installed"
    return out
