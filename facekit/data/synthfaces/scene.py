"""What one render shares between its painters (:mod:`facekit.data.synthfaces.painters`) and its shading
(:mod:`facekit.data.synthfaces.lighting`): the identity, the resolved attributes, the shape, the camera, the
landmarks in head units and in pixels, the skin and hair colours, and a few values computed once per render.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional

import numpy as np

from facekit.data.synthfaces.camera import _Camera
from facekit.data.synthfaces.geometry import _Shape
from facekit.data.synthfaces.identity import FaceParams


@dataclass
class _Scene:
    """Everything the painting functions share for one render."""

    p: FaceParams
    a: Mapping[str, Any]
    key: tuple[int, ...]  # the values of _SHAPE_ATTRIBUTES (with the identity, it fixes the landmarks)
    sh: _Shape
    cam: _Camera
    pts3: np.ndarray  # (68, 3) head units
    lm: np.ndarray  # (68, 2) pixels
    lm_px: np.ndarray  # (68, 2) int32: lm in the painter's fixed-point canvas coordinates (see _Painter._fix)
    skin: tuple[float, float, float]
    hair: tuple[float, float, float]
    detail: bool = True  # draw hairline-thin details (strands, fine wrinkles); off below 96 px, where they vanish
    _ears: Optional[list[tuple[np.ndarray, bool]]] = None  # computed once, by _ears()
    _cap: Optional[tuple[np.ndarray, np.ndarray]] = None  # computed once, by _hair_cap_points()
    _eye_centres: Optional[list[np.ndarray]] = None  # computed once, by _eye_centres()
