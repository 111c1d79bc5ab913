"""One benchmark of every method of the course on the same faces (chapter 7).

None of the four papers could compare its method with the others on the same faces against a ground truth;
SynthFaces can. :mod:`facekit.bench.protocol` freezes the cases (versioned by :data:`PROTOCOL_VERSION`),
:mod:`facekit.bench.methods` runs each method on the edits it can, :mod:`facekit.bench.runner` scores and caches
them (:func:`run_benchmark`), :mod:`facekit.bench.figures` draws the Pareto view and the galleries.
``python -m facekit.bench`` prints the table.

Measured on this project's machine (2 shared CPU cores, 1 torch thread, ``FACEKIT_PROFILE=cpu``, so n = 16 faces
per edit and CNIA at 150 steps; a fresh ``FACEKIT_CACHE``):

    OMP_NUM_THREADS=1 FACEKIT_PROFILE=cpu python -m facekit.bench --all

MEASUREMENTS_GO_HERE

Example:
    >>> from facekit.bench import EDITS, METHODS, PROTOCOL_VERSION
    >>> PROTOCOL_VERSION, len(EDITS), METHODS["diat"].can("mouth_close")
    ('1', 8, False)
"""

from facekit.bench.figures import gallery_figure, marker_area, pareto_figure
from facekit.bench.methods import METHODS, Method, check_methods
from facekit.bench.protocol import EDITS, PROTOCOL_VERSION, SIZE, Cases, Edit, cases, cases_digest, check_edits
from facekit.bench.runner import BenchResult, Cell, check_data, run_benchmark

__all__ = [
    "PROTOCOL_VERSION",
    "SIZE",
    "EDITS",
    "Edit",
    "Cases",
    "cases",
    "cases_digest",
    "check_edits",
    "METHODS",
    "Method",
    "check_methods",
    "check_data",
    "run_benchmark",
    "BenchResult",
    "Cell",
    "pareto_figure",
    "gallery_figure",
    "marker_area",
]
