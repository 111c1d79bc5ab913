"""Facial landmarks in the 68-point iBUG-300W layout.

CNIA (sec. 3.2-3.3) and DIAT (sec. 3.2) both start from 68 facial landmarks: to align faces, to measure pose
distance (CNIA eq. (3)) and to build attribute masks (:mod:`facekit.masks`). This module gives one interface,
:class:`LandmarkDetector`, with three backends:

* ``face_alignment``: FAN (Bulat & Tzimiropoulos 2017) after a face detector (S3FD); needs its weights,
  downloaded once into ``$TORCH_HOME/hub/checkpoints``.
* ``dlib``: HOG face detector + the 68-point shape predictor (Kazemi & Sullivan 2014) of the
  ``face_recognition_models`` package; needs nothing more (the models ship in that wheel).
* ``ground_truth``: returns the exact landmarks that a SynthFaces render carries; needs nothing.

:func:`get_detector` picks one by name; ``"auto"`` takes ``face_alignment`` when its weights are on disk and
``dlib`` otherwise, so it works offline.

Conventions used everywhere in facekit:

* images are ``(H, W, 3)`` RGB, ``uint8`` in [0, 255] or float in [0, 1] (see :func:`as_uint8_rgb`);
* landmarks are ``(68, 2)`` float arrays of ``(x, y)`` pixel coordinates, ``x`` to the right, ``y`` down, the
  centre of the top-left pixel at ``(0, 0)`` (the OpenCV / dlib convention);
* "left" and "right" in group names are the subject's own sides (iBUG convention).

The dlib backend also gives a 128-D identity embedding (:func:`dlib_face_embedding`): two photos of the same
person are closer than :data:`DLIB_SAME_PERSON_THRESHOLD` (0.6, Euclidean) in that space. It is trained on real
photographs only.

Example:
    >>> import numpy as np
    >>> from facekit.landmarks import get_detector
    >>> gt = get_detector("ground_truth")
    >>> gt.detect({"landmarks": np.zeros((68, 2))}).shape
    (68, 2)
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import os
import warnings
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import torch

from facekit.checks import check_finite

__all__ = [
    "IBUG68_GROUPS",
    "NUM_LANDMARKS",
    "DLIB_SAME_PERSON_THRESHOLD",
    "NoFaceFoundError",
    "MissingWeightsError",
    "LandmarkDetector",
    "FaceAlignmentDetector",
    "DlibDetector",
    "GroundTruthDetector",
    "DETECTORS",
    "get_detector",
    "as_uint8_rgb",
    "check_landmarks",
    "face_alignment_weights",
    "missing_face_alignment_weights",
    "dlib_model_path",
    "dlib_face_embedding",
]

IBUG68_GROUPS: dict[str, tuple[int, ...]] = {
    "jaw": tuple(range(0, 17)),
    "right_brow": tuple(range(17, 22)),
    "left_brow": tuple(range(22, 27)),
    "nose_bridge": tuple(range(27, 31)),
    "nose_lower": tuple(range(31, 36)),
    "right_eye": tuple(range(36, 42)),
    "left_eye": tuple(range(42, 48)),
    "outer_lip": tuple(range(48, 60)),
    "inner_lip": tuple(range(60, 68)),
}
"""Named index groups of the iBUG-300W 68-point layout."""

NUM_LANDMARKS: int = 68
"""Number of points in the iBUG-300W layout."""

DLIB_SAME_PERSON_THRESHOLD: float = 0.6
"""Euclidean distance between two :func:`dlib_face_embedding` vectors below which dlib calls them the same person
(dlib's own threshold; 99.38 % on LFW for real photographs)."""

ImageLike = Union[np.ndarray, torch.Tensor]


# ----------------------------------------------------------------------------------------------------------------
# Errors and input checks
# ----------------------------------------------------------------------------------------------------------------


class NoFaceFoundError(RuntimeError):
    """The detector found no face in the image."""


class MissingWeightsError(FileNotFoundError):
    """Pretrained weights that a backend needs are not on disk (and facekit never downloads them silently)."""


def as_uint8_rgb(image: ImageLike) -> np.ndarray:
    """Check an RGB image and return it as a C-contiguous ``(H, W, 3)`` ``uint8`` array.

    Args:
        image: ``(H, W, 3)`` RGB, either ``uint8`` in [0, 255] or float in [0, 1]. A ``torch.Tensor`` of shape
            ``(3, H, W)`` (float in [0, 1], the torchvision convention) is accepted too.

    Returns:
        ``(H, W, 3)`` ``uint8`` array.

    Raises:
        TypeError: not an array / tensor, or an unsupported dtype.
        ValueError: wrong shape, float values outside [0, 1], or NaN / infinite pixels (the message says how many
            and where; they are never turned into black silently).

    Example:
        >>> as_uint8_rgb(np.ones((4, 5, 3))).dtype
        dtype('uint8')
    """
    if isinstance(image, torch.Tensor):
        if image.ndim != 3 or image.shape[0] != 3:
            raise ValueError(
                f"expected a (3, H, W) RGB tensor in [0, 1] (or an (H, W, 3) numpy array), got a tensor of shape "
                f"{tuple(image.shape)}"
            )
        image = image.detach().cpu().permute(1, 2, 0).numpy()  # (H, W, 3)
    if not isinstance(image, np.ndarray):
        raise TypeError(f"expected an (H, W, 3) RGB numpy array, got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3:
        hint = ""
        if image.ndim == 2:
            hint = " (a grey image: stack it, np.stack([img] * 3, axis=-1))"
        elif image.ndim == 3 and image.shape[2] == 4:
            hint = " (RGBA: drop alpha with image[..., :3])"
        elif image.ndim == 3 and image.shape[0] == 3:
            hint = " (channel-first: use image.transpose(1, 2, 0))"
        raise ValueError(f"expected an (H, W, 3) RGB image, got shape {image.shape}{hint}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"expected a non-empty (H, W, 3) image, got shape {image.shape}")
    if image.dtype == np.uint8:
        return np.ascontiguousarray(image)
    if np.issubdtype(image.dtype, np.floating):
        check_finite(image, "image")  # a NaN pixel must not turn black on its way to dlib
        lo, hi = float(np.min(image)), float(np.max(image))
        if not (np.isfinite(lo) and np.isfinite(hi)) or lo < -1e-6 or hi > 1 + 1e-6:
            raise ValueError(
                f"a float image must hold values in [0, 1]; got range [{lo:.4g}, {hi:.4g}] "
                "(for 0-255 data pass image.astype(np.uint8))"
            )
        return np.ascontiguousarray(np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8))
    raise TypeError(f"expected a uint8 or float image, got dtype {image.dtype}")


def check_landmarks(landmarks: Any, num_points: int = NUM_LANDMARKS, name: str = "landmarks") -> np.ndarray:
    """Check a landmark array and return it as a float64 ``(num_points, 2)`` numpy array.

    Args:
        landmarks: ``(num_points, 2)`` array-like or tensor of ``(x, y)`` pixel coordinates.
        num_points: expected number of points (68 for iBUG-300W, 5 for the reduced set).
        name: name used in error messages.

    Raises:
        ValueError: wrong shape or non-finite values.

    Example:
        >>> check_landmarks(np.zeros((68, 2))).dtype
        dtype('float64')
    """
    if isinstance(landmarks, torch.Tensor):
        landmarks = landmarks.detach().cpu().numpy()
    arr = np.asarray(landmarks, dtype=np.float64)
    if arr.shape != (num_points, 2):
        raise ValueError(f"expected {name} of shape ({num_points}, 2) as (x, y) pixel coordinates, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contain NaN or infinite values")
    return arr


def _no_face(shape: Any, backend: str) -> NoFaceFoundError:
    return NoFaceFoundError(
        f"no face found in the image of shape {shape} (backend {backend!r}); the face may be too small "
        "(dlib's detector needs about 80x80 pixels, or 40x40 with upsample=1), turned away, or not a face"
    )


# ----------------------------------------------------------------------------------------------------------------
# The interface
# ----------------------------------------------------------------------------------------------------------------


class LandmarkDetector(ABC):
    """One interface for every landmark backend.

    Subclasses implement :meth:`detect_all`; :meth:`detect` (also ``detector(image)``) returns the most prominent
    face, the first one of :meth:`detect_all`, which is sorted by face size, largest first.
    """

    name: str = "abstract"

    @abstractmethod
    def detect_all(self, image: Any) -> list[np.ndarray]:
        """Return the landmarks of every face found, largest face first.

        Args:
            image: an ``(H, W, 3)`` RGB image (``uint8``, or float in [0, 1]).

        Returns:
            A list of ``(68, 2)`` float64 arrays of ``(x, y)`` pixel coordinates; empty when there is no face.
        """

    def detect(self, image: Any) -> np.ndarray:
        """Return the ``(68, 2)`` landmarks of the most prominent (largest) face.

        Raises:
            NoFaceFoundError: no face in the image.
        """
        faces = self.detect_all(image)
        if not faces:
            shape = getattr(image, "shape", None)
            raise _no_face(tuple(shape) if shape is not None else "(unknown)", self.name)
        return faces[0]

    def __call__(self, image: Any) -> np.ndarray:
        return self.detect(image)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _box_area(points: np.ndarray) -> float:
    w, h = points.max(axis=0) - points.min(axis=0)
    return float(w * h)


# ----------------------------------------------------------------------------------------------------------------
# Backend 1: face_alignment (FAN)
# ----------------------------------------------------------------------------------------------------------------

# Where face_alignment keeps the URL of each detector's weights: (module, attribute, keys or None for a str).
_FA_DETECTOR_URLS: dict[str, tuple[str, str, Optional[tuple[str, ...]]]] = {
    "sfd": ("face_alignment.detection.sfd.sfd_detector", "models_urls", ("s3fd",)),
    "blazeface": (
        "face_alignment.detection.blazeface.blazeface_detector",
        "models_urls",
        ("blazeface_weights", "blazeface_anchors"),
    ),
    "retinaface": (
        "face_alignment.detection.retinaface.retinaface_detector",
        "models_urls",
        ("retinaface_mobilenet0.25",),
    ),
    "yunet": ("face_alignment.detection.yunet.yunet_detector", "model_url", None),
    "scrfd": ("face_alignment.detection.scrfd.scrfd_detector", "model_url", None),
}


def _torch_hub_checkpoints() -> Path:
    """``$TORCH_HOME/hub/checkpoints`` (default ``~/.cache/torch/hub/checkpoints``), read at call time."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def _url_file_name(url: str) -> str:
    from urllib.parse import urlparse

    return os.path.basename(urlparse(url).path)


def face_alignment_weights(
    face_detector: str = "sfd", device: Union[str, torch.device] = "cpu"
) -> list[tuple[str, str]]:
    """List the weight files that ``face_alignment`` would download for a 2-D landmark model.

    The URLs are read from the installed ``face_alignment`` package, so they match its version.

    Args:
        face_detector: face_alignment's detector name (``sfd`` (its default), ``blazeface``, ``retinaface``,
            ``yunet``, ``scrfd``, ``dlib``).
        device: where the model would run (the ``dlib`` detector needs a download only on CUDA).

    Returns:
        ``[(file_name, url), ...]``: the 2DFAN-4 landmark network first, then the detector's files.

    Raises:
        ImportError: ``face_alignment`` is not installed.
        ValueError: unknown ``face_detector``.
    """
    api = importlib.import_module("face_alignment.api")
    urls = [api.models_urls["2DFAN-4"]]  # FaceAlignment(LandmarksType.TWO_D, NetworkSize.LARGE)
    if face_detector == "dlib":
        if "cuda" in str(device):  # dlib's CNN (MMOD) detector on GPU, HOG on CPU
            urls.append("https://www.adrianbulat.com/downloads/dlib/mmod_human_face_detector.dat")
    elif face_detector in _FA_DETECTOR_URLS:
        module, attr, keys = _FA_DETECTOR_URLS[face_detector]
        table = getattr(importlib.import_module(module), attr)
        urls += [table] if keys is None else [table[k] for k in keys]
    elif face_detector != "folder":
        known = ", ".join(sorted([*_FA_DETECTOR_URLS, "dlib", "folder"]))
        raise ValueError(f"unknown face_alignment face_detector {face_detector!r}; known: {known}")
    return [(_url_file_name(u), u) for u in urls]


def missing_face_alignment_weights(
    face_detector: str = "sfd", device: Union[str, torch.device] = "cpu"
) -> list[tuple[Path, str]]:
    """Return ``[(expected_path, url), ...]`` for each face_alignment weight file not yet in
    ``$TORCH_HOME/hub/checkpoints``; an empty list means it can run offline."""
    folder = _torch_hub_checkpoints()
    return [(folder / f, u) for f, u in face_alignment_weights(face_detector, device) if not (folder / f).is_file()]


class FaceAlignmentDetector(LandmarkDetector):
    """Landmarks from the ``face_alignment`` package (FAN, 2-D, 68 points), the most accurate backend.

    The weights are never downloaded by facekit: when a file is missing the constructor raises
    :class:`MissingWeightsError` naming each file, its URL and the folder to put it in. With network access,
    ``face_alignment.FaceAlignment(...)`` itself downloads them once.

    Args:
        device: ``"cpu"``, ``"cuda"``, ... (default: :func:`facekit.config.get_device`).
        face_detector: face_alignment's face detector (default ``"sfd"``, its own default).
        flip_input: also run on the mirrored face and average (face_alignment's default, slower but steadier).
        **kwargs: passed on to ``face_alignment.FaceAlignment``.

    Raises:
        ImportError: ``face_alignment`` is not installed (``pip install face-alignment``).
        MissingWeightsError: a weight file is not in ``$TORCH_HOME/hub/checkpoints``.
    """

    name = "face_alignment"

    def __init__(
        self,
        device: Union[str, torch.device, None] = None,
        face_detector: str = "sfd",
        flip_input: bool = True,
        **kwargs: Any,
    ) -> None:
        try:
            fa = importlib.import_module("face_alignment")
        except ImportError as err:
            raise ImportError(
                "the 'face_alignment' backend needs the face-alignment package: pip install face-alignment "
                "(or use get_detector('dlib'), which works offline)"
            ) from err
        if device is None:
            from facekit.config import get_device

            device = get_device()
        self.device = str(device)
        self.face_detector = face_detector
        missing = missing_face_alignment_weights(face_detector, self.device)
        if missing:
            lines = "\n".join(f"  {p.name}\n    from {u}\n    to   {p}" for p, u in missing)
            raise MissingWeightsError(
                f"face_alignment needs {len(missing)} weight file(s) that are not on disk and facekit does not "
                f"download them:\n{lines}\nDownload each file into {missing[0][0].parent} (that is "
                "$TORCH_HOME/hub/checkpoints; TORCH_HOME defaults to ~/.cache/torch), or run "
                "face_alignment.FaceAlignment(...) once with network access. Offline, use get_detector('dlib')."
            )
        options: dict[str, Any] = dict(device=self.device, face_detector=face_detector, flip_input=flip_input)
        # face_alignment >= 1.5 torch.compile()s the network by default; on CPU that costs minutes for nothing.
        if "compile" in inspect.signature(fa.FaceAlignment.__init__).parameters:
            options["compile"] = self.device.startswith("cuda")
        options.update(kwargs)
        self._fa = fa.FaceAlignment(fa.LandmarksType.TWO_D, **options)

    def detect_all(self, image: Any) -> list[np.ndarray]:
        rgb = as_uint8_rgb(image)  # (H, W, 3) uint8
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="No faces were detected")
            found = self._fa.get_landmarks_from_image(rgb)
        if not found:
            return []
        faces = [np.asarray(f, dtype=np.float64)[:, :2] for f in found]  # each (68, 2)
        return sorted(faces, key=_box_area, reverse=True)

    def __repr__(self) -> str:
        return f"FaceAlignmentDetector(device={self.device!r}, face_detector={self.face_detector!r})"


# ----------------------------------------------------------------------------------------------------------------
# Backend 2: dlib (offline)
# ----------------------------------------------------------------------------------------------------------------

_DLIB_MODELS = {"shape_68": "dlib_shape_68", "shape_5": "dlib_shape_5", "embedding": "dlib_face_resnet"}
"""Short names of dlib's model files -> their :mod:`facekit.hub` entries."""


def _import_dlib() -> Any:
    try:
        return importlib.import_module("dlib")
    except ImportError as err:
        raise ImportError(
            "the 'dlib' backend needs dlib and its models: pip install dlib-bin face_recognition_models"
        ) from err


def dlib_model_path(which: str = "shape_68") -> Path:
    """Path of a dlib model file shipped by the ``face_recognition_models`` package.

    The file is found by :func:`facekit.hub.find` (the one place facekit finds model files), which locates the
    package without importing it (its ``__init__`` needs ``pkg_resources``, gone from setuptools >= 81).

    Args:
        which: ``"shape_68"`` (the 68-point shape predictor), ``"shape_5"`` (the 5-point predictor: eye corners
            and the bottom of the nose) or ``"embedding"`` (the face-recognition ResNet).

    Raises:
        ImportError: ``face_recognition_models`` is not installed (the message gives the pip command).
        facekit.hub.WeightsNotFoundError: the package is installed but the file is missing from it.
        ValueError: unknown ``which``.

    Example:
        >>> dlib_model_path("shape_5").name  # doctest: +SKIP
        'shape_predictor_5_face_landmarks.dat'
    """
    from facekit import hub

    if which not in _DLIB_MODELS:
        raise ValueError(f"unknown dlib model {which!r}; known: {', '.join(_DLIB_MODELS)}")
    try:
        return hub.find(_DLIB_MODELS[which])
    except hub.PackageNotInstalledError as err:  # keep this module's contract: a missing package is an ImportError
        raise ImportError(str(err)) from err


@functools.lru_cache(maxsize=None)  # load each dlib model once (the shape predictor is 100 MB)
def _dlib_models(which: str) -> Any:
    dlib = _import_dlib()
    if which == "detector":
        return dlib.get_frontal_face_detector()
    if which in ("shape_68", "shape_5"):
        return dlib.shape_predictor(str(dlib_model_path(which)))
    return dlib.face_recognition_model_v1(str(dlib_model_path("embedding")))


class DlibDetector(LandmarkDetector):
    """Landmarks from dlib: HOG frontal-face detector, then the 68-point shape predictor. Works offline.

    Args:
        upsample: times the image is upsampled before detection (each doubles the size, finding faces half as
            big; dlib's default is 1).

    Example:
        >>> from skimage.data import astronaut
        >>> DlibDetector().detect(astronaut()).shape
        (68, 2)
    """

    name = "dlib"

    def __init__(self, upsample: int = 1) -> None:
        if not isinstance(upsample, int) or upsample < 0:
            raise ValueError(f"upsample must be a non-negative int, got {upsample!r}")
        self.upsample = upsample
        self._detector = _dlib_models("detector")
        self._predictor = _dlib_models("shape_68")

    def _boxes_and_scores(self, image: Any) -> list[tuple[Any, float]]:
        rgb = as_uint8_rgb(image)
        boxes, scores, _ = self._detector.run(rgb, self.upsample, 0.0)
        return sorted(zip(boxes, scores), key=lambda bs: (bs[0].width() * bs[0].height(), bs[1]), reverse=True)

    def face_boxes(self, image: Any) -> list[Any]:
        """Return dlib rectangles of the faces found: largest first, equal sizes by detector confidence."""
        return [box for box, _ in self._boxes_and_scores(image)]

    def confidence(self, image: Any) -> float:
        """The HOG detector's score of the most prominent face (the one :meth:`detect` returns), ``nan`` if none.

        Scores above 0 are detections; a clear frontal face scores about 1 to 3. A measure an image optimised
        through a face *network* cannot easily game, since the detector is a separate model (HOG + linear SVM).

        Example:
            >>> import numpy as np
            >>> DlibDetector().confidence(np.full((64, 64, 3), 128, np.uint8))  # doctest: +SKIP
            nan
        """
        found = self._boxes_and_scores(image)
        return float(found[0][1]) if found else float("nan")

    def five_points(self, image: Any) -> np.ndarray:
        """dlib's 5 landmarks of the most prominent face, for :func:`facekit.align.dlib_face_chip`.

        The order is dlib's ``shape_predictor_5_face_landmarks``: the outer and inner corner of the eye on the
        image's right, the outer and inner corner of the eye on the image's left, the bottom of the nose.

        Returns:
            ``(5, 2)`` float64 ``(x, y)`` pixel coordinates.

        Raises:
            NoFaceFoundError: no face in the image.
        """
        rgb = as_uint8_rgb(image)
        found = self._boxes_and_scores(rgb)
        if not found:
            raise _no_face(rgb.shape, self.name)
        shape = _dlib_models("shape_5")(rgb, found[0][0])
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)  # (5, 2)

    def detect_all(self, image: Any) -> list[np.ndarray]:
        rgb = as_uint8_rgb(image)  # (H, W, 3) uint8
        faces = []
        for box in self.face_boxes(rgb):
            shape = self._predictor(rgb, box)
            faces.append(np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64))  # (68, 2)
        return faces

    def __repr__(self) -> str:
        return f"DlibDetector(upsample={self.upsample})"


def dlib_face_embedding(image: Any, landmarks: Optional[Any] = None, num_jitters: int = 0) -> np.ndarray:
    """The 128-D dlib ResNet face embedding (the model behind the ``face_recognition`` package), by dlib's C++.

    Two faces of the same person are usually closer than :data:`DLIB_SAME_PERSON_THRESHOLD` (0.6) in Euclidean
    distance. The network was trained on real photographs; on SynthFaces renders the distances are not calibrated.
    This is dlib's own code path, the reference for :class:`facekit.nn.DlibFaceNet` (the same network in PyTorch,
    batched and differentiable), which :class:`facekit.eval.DlibIdentity` uses.

    Args:
        image: ``(H, W, 3)`` RGB image (``uint8``, or float in [0, 1]).
        landmarks: ``(68, 2)`` landmarks, or dlib's ``(5, 2)`` (:meth:`DlibDetector.five_points`), of the face to
            describe; ``None`` detects the largest face with :class:`DlibDetector`.
        num_jitters: dlib re-samples the face this many times with small jitter and averages (0 = once).

    Returns:
        ``(128,)`` float64 array.

    Raises:
        NoFaceFoundError: ``landmarks`` is ``None`` and no face is found.

    Example:
        >>> from skimage.data import astronaut
        >>> dlib_face_embedding(astronaut()).shape
        (128,)
    """
    dlib = _import_dlib()
    rgb = as_uint8_rgb(image)
    if landmarks is None:
        landmarks = DlibDetector().detect(rgb)
    n = 5 if np.shape(landmarks) == (5, 2) else NUM_LANDMARKS  # dlib's chip placement accepts either layout
    pts = check_landmarks(landmarks, num_points=n)
    x0, y0 = np.floor(pts.min(axis=0)).astype(int)
    x1, y1 = np.ceil(pts.max(axis=0)).astype(int)
    rect = dlib.rectangle(int(x0), int(y0), int(x1), int(y1))
    shape = dlib.full_object_detection(rect, [dlib.point(int(round(x)), int(round(y))) for x, y in pts])
    descriptor = _dlib_models("embedding").compute_face_descriptor(rgb, shape, num_jitters)
    return np.asarray(descriptor, dtype=np.float64)  # (128,)


# ----------------------------------------------------------------------------------------------------------------
# Backend 3: ground truth (SynthFaces)
# ----------------------------------------------------------------------------------------------------------------


class GroundTruthDetector(LandmarkDetector):
    """Returns the exact landmarks a SynthFaces render carries, behind the same interface as the real detectors.

    It does not look at pixels. It takes what ``facekit.data.synthfaces.render(...)`` returns, a dict with
    ``"landmarks"`` (68, 2) (and ``"image"``, ``"visible"``, ...), or a bare ``(68, 2)`` array / tensor, or a
    list of those for :meth:`detect_all`. Hidden points (``visible`` False, e.g. the far side of a turned face)
    keep their projected position, as a real detector would guess them.

    Example:
        >>> import numpy as np
        >>> sample = {"image": np.zeros((128, 128, 3), np.uint8), "landmarks": np.full((68, 2), 64.0)}
        >>> GroundTruthDetector().detect(sample)[0]
        array([64., 64.])
    """

    name = "ground_truth"

    @staticmethod
    def _landmarks_of(sample: Any) -> np.ndarray:
        if isinstance(sample, Mapping):
            if "landmarks" not in sample:
                raise KeyError(
                    f"the ground-truth backend needs a render dict with a 'landmarks' key; got keys {sorted(sample)}"
                )
            return check_landmarks(sample["landmarks"])
        arr = sample.detach().cpu().numpy() if isinstance(sample, torch.Tensor) else np.asarray(sample)
        if arr.ndim == 3 and arr.shape[-1] == 3:
            raise TypeError(
                "the ground-truth backend cannot find landmarks in pixels: pass the dict returned by the SynthFaces "
                "renderer (with a 'landmarks' key) or a (68, 2) array, or use get_detector('dlib') for photographs"
            )
        return check_landmarks(arr)

    def detect_all(self, sample: Any) -> list[np.ndarray]:
        if isinstance(sample, (list, tuple)) and len(sample) > 0 and not np.isscalar(sample[0]):
            first = sample[0]
            if isinstance(first, Mapping) or np.asarray(first).ndim == 2 or isinstance(first, torch.Tensor):
                faces = [self._landmarks_of(s) for s in sample]
                return sorted(faces, key=_box_area, reverse=True)
        return [self._landmarks_of(sample)]


# ----------------------------------------------------------------------------------------------------------------
# Factory
# ----------------------------------------------------------------------------------------------------------------

DETECTORS: tuple[str, ...] = ("auto", "face_alignment", "dlib", "ground_truth")
"""Names accepted by :func:`get_detector`."""


def get_detector(name: str = "auto", device: Union[str, torch.device, None] = None, **kwargs: Any) -> LandmarkDetector:
    """Create a landmark detector by name.

    Args:
        name: ``"face_alignment"``, ``"dlib"``, ``"ground_truth"``, or ``"auto"``: face_alignment when it is
            installed and its weights are on disk, else dlib.
        device: for ``face_alignment`` (default: :func:`facekit.config.get_device`); ignored by the others.
        **kwargs: passed to the backend's constructor.

    Raises:
        ValueError: unknown name.
        ImportError / MissingWeightsError: the chosen backend cannot run here.

    Example:
        >>> get_detector("ground_truth").name
        'ground_truth'
    """
    key = name.strip().lower().replace("-", "_")
    if key == "auto":
        if importlib.util.find_spec("face_alignment") is not None:
            try:
                dev = device if device is not None else _default_device()
                if not missing_face_alignment_weights(kwargs.get("face_detector", "sfd"), str(dev)):
                    return FaceAlignmentDetector(device=dev, **kwargs)
            except ImportError:
                pass
        if importlib.util.find_spec("dlib") is not None:
            return DlibDetector(**{k: v for k, v in kwargs.items() if k == "upsample"})
        raise ImportError(
            "no landmark backend can run here: install dlib-bin and face_recognition_models (offline), or "
            "face-alignment with its weights in $TORCH_HOME/hub/checkpoints"
        )
    if key == "face_alignment":
        return FaceAlignmentDetector(device=device, **kwargs)
    if key == "dlib":
        return DlibDetector(**kwargs)
    if key in ("ground_truth", "gt"):
        return GroundTruthDetector(**kwargs)
    raise ValueError(f"unknown landmark detector {name!r}; choose one of: {', '.join(DETECTORS)}")


def _default_device() -> torch.device:
    from facekit.config import get_device

    return get_device()
