"""facekit.data: the datasets of the course.

* **SynthFaces** (:mod:`facekit.data.synthfaces`, :mod:`facekit.data.synth_dataset`): procedural faces, the
  embedded default that every chapter can run on offline, with exact counterfactuals (the same face with and
  without glasses, at another pose, under another light).
* **Pair builders** (:mod:`facekit.data.pairs`): the papers' data protocols (pose pairs, accessory pairs,
  occluded-eyes pairs, eye-to-face pairs, DIAT's guided and input sets, CNIA's guided pool).
* **Haar cascades** (:mod:`facekit.data.haar`): OpenCV face and eye detection and the eye-to-face crops.

Example:
    >>> from facekit.data import SynthFaces, render, ATTRIBUTES
    >>> render(0, {"Smiling": 1}, size=64)["image"].shape
    (64, 64, 3)
"""

from facekit.data.haar import (
    EyeFaceCrops,
    HaarUnavailableError,
    detect_eyes,
    detect_faces,
    eye_face_crops,
    load_cascade,
)
from facekit.data.pairs import (
    ACCESSORY_STATES,
    EyeFacePairs,
    PairDataset,
    RenderSpec,
    accessory_pairs,
    attribute_sets,
    eye_face_pairs,
    guided_pool,
    occlude_eyes,
    occluded_eyes_pairs,
    pose_pairs,
)
from facekit.data.synth_dataset import RANDOM_ATTRIBUTES, SynthFaces, split_identities
from facekit.data.synthfaces import (
    ATTRIBUTES,
    GLASSES_STYLES,
    HAT_STYLES,
    LIGHTS,
    MULTIPIE_YAWS,
    N_LIGHTS,
    attributes_from_vector,
    attributes_to_vector,
    identity_params,
    render,
    resolve_attributes,
)

__all__ = [
    # SynthFaces
    "ATTRIBUTES",
    "GLASSES_STYLES",
    "HAT_STYLES",
    "LIGHTS",
    "MULTIPIE_YAWS",
    "N_LIGHTS",
    "RANDOM_ATTRIBUTES",
    "SynthFaces",
    "attributes_from_vector",
    "attributes_to_vector",
    "identity_params",
    "render",
    "resolve_attributes",
    "split_identities",
    # pair builders
    "ACCESSORY_STATES",
    "EyeFacePairs",
    "PairDataset",
    "RenderSpec",
    "accessory_pairs",
    "attribute_sets",
    "eye_face_pairs",
    "guided_pool",
    "occlude_eyes",
    "occluded_eyes_pairs",
    "pose_pairs",
    # Haar cascades
    "EyeFaceCrops",
    "HaarUnavailableError",
    "detect_eyes",
    "detect_faces",
    "eye_face_crops",
    "load_cascade",
]
