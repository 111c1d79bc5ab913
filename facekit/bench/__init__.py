r"""One benchmark of every method of the course on the same faces (chapter 7).

None of the four papers could compare its method with the others on the same faces against a ground truth;
SynthFaces can. :mod:`facekit.bench.protocol` freezes the cases (versioned by :data:`PROTOCOL_VERSION`),
:mod:`facekit.bench.methods` runs each method on the edits it can, :mod:`facekit.bench.runner` scores and caches
them (:func:`run_benchmark`), :mod:`facekit.bench.figures` draws the Pareto view and the galleries.
``python -m facekit.bench`` prints the table.

Measured on this project's machine (2 shared CPU cores, 1 torch thread, ``FACEKIT_PROFILE=cpu``, so n = 16 faces
per edit and CNIA at 150 steps; a fresh ``FACEKIT_CACHE``):

    OMP_NUM_THREADS=1 FACEKIT_PROFILE=cpu python -m facekit.bench --all

Cold (fresh cache, 35 cells computed): 2 min 09 s wall (/usr/bin/time; 126.6 s inside the run); warm (the same
command again, 35 cells read back): 4.0 s wall (1.6 s inside). An earlier cold run under heavier load from other
jobs (load average about 5) took 3 min 00 s. Seconds per image vary with that load (CNIA's 1.0-1.9 s). The table it
printed (cold run; the warm run prints the same figures):

    | edit | method | attribute success | identity kept | others preserved | L1 in mask | L1 out of mask | PSNR in (dB) | PSNR out (dB) | s / image | training CPU-h |
    |---|---|---|---|---|---|---|---|---|---|---|
    | mouth_open | copy the input | 0.000 | 1.000 | 0.991 | 0.029 | 0.001 | 24.7 | 47.5 | 2.15e-06 | 0.00 |
    | mouth_open | OpenCV inpainting | - | - | - | - | - | - | - | - | - |
    | mouth_open | CNIA | 0.562 | 0.000 | 0.639 | 0.121 | 0.145 | 16.6 | 15.2 | 1.01 | 0.00 |
    | mouth_open | DIAT | 0.500 | 1.000 | 0.947 | 0.046 | 0.002 | 23.4 | 47.2 | 0.0238 | 0.14 |
    | mouth_open | DIAT-A | 0.250 | 1.000 | 0.944 | 0.042 | 0.002 | 23.6 | 47.2 | 0.0232 | 0.16 |
    | mouth_open | see another you | - | - | - | - | - | - | - | - | - |
    | mouth_open | eye to face | - | - | - | - | - | - | - | - | - |
    | mouth_open | exact counterfactual (ceiling) | 1.000 | 1.000 | 1.000 | 0.000 | 0.000 | inf | inf | 1.85e-06 | n/a |
    | mouth_close | copy the input | 0.000 | 1.000 | 0.991 | 0.028 | 0.001 | 24.9 | 47.5 | 1.91e-06 | 0.00 |
    | mouth_close | OpenCV inpainting | - | - | - | - | - | - | - | - | - |
    | mouth_close | CNIA | 0.188 | 0.062 | 0.669 | 0.117 | 0.145 | 16.9 | 15.2 | 1.01 | 0.00 |
    | mouth_close | DIAT | - | - | - | - | - | - | - | - | - |
    | mouth_close | DIAT-A | 0.375 | 1.000 | 0.891 | 0.057 | 0.001 | 21.7 | 47.2 | 0.0228 | 0.15 |
    | mouth_close | see another you | - | - | - | - | - | - | - | - | - |
    | mouth_close | eye to face | - | - | - | - | - | - | - | - | - |
    | mouth_close | exact counterfactual (ceiling) | 1.000 | 1.000 | 1.000 | 0.000 | 0.000 | inf | inf | 1.77e-06 | n/a |
    | eyeglasses_remove | copy the input | 0.000 | 1.000 | 0.993 | 0.028 | 0.000 | 24.5 | inf | 1.84e-06 | 0.00 |
    | eyeglasses_remove | OpenCV inpainting | 1.000 | 0.625 | 0.887 | 0.101 | 0.000 | 16.9 | inf | 0.000555 | 0.00 |
    | eyeglasses_remove | CNIA | 0.750 | 0.000 | 0.637 | 0.125 | 0.149 | 16.3 | 15.1 | 1.14 | 0.00 |
    | eyeglasses_remove | DIAT | - | - | - | - | - | - | - | - | - |
    | eyeglasses_remove | DIAT-A | 1.000 | 0.938 | 0.947 | 0.068 | 0.001 | 19.5 | 59.7 | 0.0273 | 0.16 |
    | eyeglasses_remove | see another you | 1.000 | 0.000 | 0.706 | 0.100 | 0.059 | 17.9 | 21.9 | 0.0114 | 0.17 |
    | eyeglasses_remove | eye to face | - | - | - | - | - | - | - | - | - |
    | eyeglasses_remove | exact counterfactual (ceiling) | 1.000 | 1.000 | 1.000 | 0.000 | 0.000 | inf | inf | 3.25e-06 | n/a |
    | male_to_female | copy the input | 0.062 | 1.000 | 0.924 | 0.080 | n/a | 18.1 | n/a | 2.4e-06 | 0.00 |
    | male_to_female | OpenCV inpainting | - | - | - | - | - | - | - | - | - |
    | male_to_female | CNIA | 0.375 | 0.000 | 0.690 | 0.157 | n/a | 14.7 | n/a | 0.988 | 0.00 |
    | male_to_female | DIAT | 0.938 | 0.375 | 0.847 | 0.090 | n/a | 17.7 | n/a | 0.0324 | 0.17 |
    | male_to_female | DIAT-A | 0.938 | 0.875 | 0.896 | 0.076 | n/a | 18.5 | n/a | 0.0334 | 0.07 |
    | male_to_female | see another you | - | - | - | - | - | - | - | - | - |
    | male_to_female | eye to face | - | - | - | - | - | - | - | - | - |
    | male_to_female | exact counterfactual (ceiling) | 0.875 | 0.938 | 1.000 | 0.000 | n/a | inf | n/a | 8.5e-06 | n/a |
    | older_to_younger | copy the input | 0.000 | 1.000 | 0.991 | 0.003 | n/a | 39.4 | n/a | 2.81e-06 | 0.00 |
    | older_to_younger | OpenCV inpainting | - | - | - | - | - | - | - | - | - |
    | older_to_younger | CNIA | 0.062 | 0.000 | 0.669 | 0.141 | n/a | 15.6 | n/a | 1.06 | 0.00 |
    | older_to_younger | DIAT | - | - | - | - | - | - | - | - | - |
    | older_to_younger | DIAT-A | 0.688 | 1.000 | 0.961 | 0.022 | n/a | 28.6 | n/a | 0.0314 | 0.15 |
    | older_to_younger | see another you | - | - | - | - | - | - | - | - | - |
    | older_to_younger | eye to face | - | - | - | - | - | - | - | - | - |
    | older_to_younger | exact counterfactual (ceiling) | 1.000 | 1.000 | 1.000 | 0.000 | n/a | inf | n/a | 3e-06 | n/a |
    | eyeglasses_add | copy the input | 0.000 | 1.000 | 0.986 | 0.016 | 0.000 | 27.0 | inf | 2.26e-06 | 0.00 |
    | eyeglasses_add | OpenCV inpainting | - | - | - | - | - | - | - | - | - |
    | eyeglasses_add | CNIA | 0.062 | 0.000 | 0.646 | 0.134 | 0.158 | 15.8 | 14.7 | 0.95 | 0.00 |
    | eyeglasses_add | DIAT | - | - | - | - | - | - | - | - | - |
    | eyeglasses_add | DIAT-A | - | - | - | - | - | - | - | - | - |
    | eyeglasses_add | see another you | 0.125 | 0.000 | 0.706 | 0.100 | 0.062 | 18.0 | 21.6 | 0.011 | 0.17 |
    | eyeglasses_add | eye to face | - | - | - | - | - | - | - | - | - |
    | eyeglasses_add | exact counterfactual (ceiling) | 1.000 | 1.000 | 1.000 | 0.000 | 0.000 | inf | inf | 3.82e-06 | n/a |
    | completion | copy the input | n/a | 1.000 | 0.953 | 0.347 | 0.000 | 8.6 | inf | 2.39e-06 | 0.00 |
    | completion | OpenCV inpainting | n/a | 0.875 | 0.920 | 0.095 | 0.000 | 17.9 | inf | 0.000339 | 0.00 |
    | completion | CNIA | - | - | - | - | - | - | - | - | - |
    | completion | DIAT | - | - | - | - | - | - | - | - | - |
    | completion | DIAT-A | - | - | - | - | - | - | - | - | - |
    | completion | see another you | n/a | 0.000 | 0.696 | 0.122 | 0.062 | 16.5 | 21.4 | 0.0119 | 0.04 |
    | completion | eye to face | - | - | - | - | - | - | - | - | - |
    | completion | exact counterfactual (ceiling) | n/a | 1.000 | 1.000 | 0.000 | 0.000 | inf | inf | 1.69e-06 | n/a |
    | eye_to_face | copy the input | n/a | 0.000 | 0.654 | 0.215 | n/a | 11.7 | n/a | 3.88e-05 | 0.00 |
    | eye_to_face | OpenCV inpainting | - | - | - | - | - | - | - | - | - |
    | eye_to_face | CNIA | - | - | - | - | - | - | - | - | - |
    | eye_to_face | DIAT | - | - | - | - | - | - | - | - | - |
    | eye_to_face | DIAT-A | - | - | - | - | - | - | - | - | - |
    | eye_to_face | see another you | - | - | - | - | - | - | - | - | - |
    | eye_to_face | eye to face | n/a | 0.875 | 0.768 | 0.109 | n/a | 17.0 | n/a | 0.00693 | 1.20 |
    | eye_to_face | exact counterfactual (ceiling) | n/a | 1.000 | 1.000 | 0.000 | n/a | inf | n/a | 3.1e-06 | n/a |

    protocol 1, data synth, n = 16 per edit, device cpu; training cost from CNIA: trains nothing (optimises per image); DIAT-A: diat_train.json stage_s[DIAT-A_<edit>+global_enhancer]; DIAT-A: diat_train.json stage_s[DIAT-A_<edit>]; DIAT: diat_train.json stage_s[DIAT3_<edit>+g+f]; DIAT: diat_train.json stage_s[DIAT3_<edit>+global_enhancer+g+f]; eye to face: eye2face.json train_seconds; see another you: see_another_you_accessory.json stage1_seconds+stage2_seconds; see another you: see_another_you_completion.json stage1_seconds+stage2_seconds
    35 cell(s) computed, 0 read from the cache, 126.6 s, 1 thread(s)

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
