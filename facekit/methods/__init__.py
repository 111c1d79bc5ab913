"""facekit.methods: the algorithms of the papers, one module per method.

* :mod:`facekit.methods.inversion`: feature inversion, the experiment behind CNIA Table 1 and Fig. 6-7.
"""

from facekit.methods.inversion import invert_features, squared_error_255

__all__ = ["invert_features", "squared_error_255"]
