"""Which datasets are on this machine, and where to get the ones that are not.

One row per value of ``FACEKIT_DATA`` (:data:`facekit.config.DATASETS`): what it is, the file that shows it is
installed, and how to get it. :func:`dataset_status` looks under ``FACEKIT_HOME/data/<name>`` (the default root
of every loader) without reading the files; the loaders themselves check the contents and explain problems.

Example:
    >>> dataset_status()["synth"]
    'built in'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from facekit.config import DATASETS, cache_dir

__all__ = ["DatasetInfo", "CATALOG", "dataset_status"]


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


def dataset_status(name: Optional[str] = None) -> dict[str, str]:
    """Map each dataset (or only ``name``) to ``'built in'``, the folder it was found in, or ``'not installed'``.

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
        root = cache_dir("data", info.name, create=False)
        out[info.name] = str(root) if any((root / m).exists() for m in info.markers) else "not installed"
    return out
