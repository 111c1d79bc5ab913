"""facekit.data: the datasets of the course.

* **SynthFaces** (:mod:`facekit.data.synthfaces`, :mod:`facekit.data.synth_dataset`): procedural faces, the
  embedded default that every chapter can run on offline, with exact counterfactuals (the same face with and
  without glasses, at another pose, under another light).
* **Pair builders** (:mod:`facekit.data.pairs`): the papers' data protocols (pose pairs, accessory pairs,
  occluded-eyes pairs, eye-to-face pairs, DIAT's guided and input sets, CNIA's guided pool).
* **Haar cascades** (:mod:`facekit.data.haar`): OpenCV face and eye detection and the eye-to-face crops.
* **Real datasets**, read by our own loaders (subsets accepted, every file problem named with its line):
  :mod:`~facekit.data.celeba`, :mod:`~facekit.data.lfw`, :mod:`~facekit.data.ffhq`, and the file-name parsers of
  the licensed :mod:`~facekit.data.multipie` and :mod:`~facekit.data.caspeal`; :func:`dataset_status` says which
  are installed.

Example:
    >>> from facekit.data import SynthFaces, render, ATTRIBUTES
    >>> render(0, {"Smiling": 1}, size=64)["image"].shape
    (64, 64, 3)
"""

from facekit.data._common import (
    AnnotationFormatError,
    DatasetNotFoundError,
    DownloadError,
    FacekitDataError,
    ImageReadError,
    ImageSizeError,
    identity_pairs,
    image_to_tensor,
    read_image,
)
from facekit.data.caspeal import CASPEAL, CASPEAL_ACCESSORIES, caspeal_accessory_pairs, parse_caspeal_name
from facekit.data.catalog import CATALOG, dataset_status, describe_dataset
from facekit.data.celeba import CELEBA_ATTRIBUTES, CelebA, download_celeba, read_celeba_attributes
from facekit.data.ffhq import FFHQ
from facekit.data.lfw import LFW, LFW_ATTRIBUTES, read_lfw_attributes, read_lfw_pairs
from facekit.data.multipie import MULTIPIE_CAMERA_YAW, MULTIPIE_POSES_7, MultiPIE, multipie_pose_pairs, parse_multipie_name
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
    # real datasets
    "CATALOG",
    "dataset_status",
    "describe_dataset",
    "FacekitDataError",
    "DatasetNotFoundError",
    "AnnotationFormatError",
    "ImageReadError",
    "ImageSizeError",
    "DownloadError",
    "read_image",
    "image_to_tensor",
    "identity_pairs",
    "CelebA",
    "CELEBA_ATTRIBUTES",
    "download_celeba",
    "read_celeba_attributes",
    "LFW",
    "LFW_ATTRIBUTES",
    "read_lfw_attributes",
    "read_lfw_pairs",
    "FFHQ",
    "MultiPIE",
    "MULTIPIE_POSES_7",
    "MULTIPIE_CAMERA_YAW",
    "parse_multipie_name",
    "multipie_pose_pairs",
    "CASPEAL",
    "CASPEAL_ACCESSORIES",
    "parse_caspeal_name",
    "caspeal_accessory_pairs",
]
