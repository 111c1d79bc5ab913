"""facekit: identity-preserving face editing, re-implemented step by step.

The library behind the facekit course. Four papers, one package:

* CNIA (Li, Zuo, Zhang, arXiv 1608.06434): optimisation through a face network's features;
* *Learning to See another You* (Ghodrati et al., BMVC 2016): encoder-decoder with attribute fusion;
* DIAT / DIAT-A (Li, Zuo, Zhang, arXiv 1610.05586): a feed-forward transform network;
* *From an Eye to a Face* (Tse et al.): eye crop to face with a layer-balanced feature loss.

Data flows one way: ``data`` -> (``landmarks``, ``masks``) -> ``nn`` features -> ``losses`` -> ``methods`` ->
``eval``, ``viz``. Start with :func:`facekit.about`.
"""

from facekit._version import __version__
from facekit.config import about, by_profile, cache_dir, get_data, get_device, get_profile, seed_everything

__all__ = [
    "__version__",
    "about",
    "by_profile",
    "cache_dir",
    "get_data",
    "get_device",
    "get_profile",
    "seed_everything",
]
