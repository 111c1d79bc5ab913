"""facekit.methods: the algorithms of the papers, one module per method.

* :mod:`facekit.methods.inversion`: feature inversion, the experiment behind CNIA Table 1 and Fig. 6-7.
* :mod:`facekit.methods.cnia`: CNIA (Li, Zuo, Zhang 2016), attribute-driven and identity-preserving face generation
  by optimisation: guided set, eq. (7), masks, colour transfer, guided-image mode;
  :mod:`facekit.methods.guided_set` holds its guided set (labelled pool, flips, eq. (3)-(4)), re-exported by
  :mod:`facekit.methods.cnia`.
* :mod:`facekit.methods.eye2face`: From an Eye to a Face (Tse et al.), Haar eye -> face pairs, the autoencoder trained
  with L1, per-layer normalised or layer-balanced feature losses, and the conditional WGAN-GP baseline.
"""

from facekit.methods.cnia import CNIA, CNIAResult, GuidedSet, LabelledPool, cnia_edit, find_guided_sets
from facekit.methods.inversion import invert_features, squared_error_255

__all__ = [
    "invert_features",
    "squared_error_255",
    "CNIA",
    "CNIAResult",
    "GuidedSet",
    "LabelledPool",
    "cnia_edit",
    "find_guided_sets",
]
