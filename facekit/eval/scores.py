"""Scoring edits: did the attribute change, did the person stay, did the rest stay, how close to the truth?

:func:`score_edits` gives every method chapter the same row of figures for a batch of edits:

=====================  ==================================================================================
``n``                  number of edited images
``attribute_success``  fraction of the asked-for attribute changes that the judge sees in the edits
                       (over all (image, target attribute) pairs; 1 is best)
``identity_kept``      fraction of edits the identity judge calls the same person as their source (1 is best);
                       for dlib: over the pairs where dlib found both faces
``n_no_face``,         dlib only: pairs where the face of the source or of the edit was not found (not judged),
``face_found_source``  and the fractions of sources and edits with a face found; ``identity_kept_all``: kept
``face_found_edit``,   over all pairs, a missing face counted as not kept. dlib's detector (upsample 1) needs
``identity_kept_all``  faces of about 40 px: see :mod:`facekit.eval.identity` for the measured sizes
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
``attribute_not_``     target pairs the attribute judge could not judge (a real-photo judge found no face, or
``judged``             one too small, in the source or the edit): left out of the rates above, counted here
``attribute_judges``   real-photo judges only: each targeted attribute's judge with its measured AUC and accuracy
                       (:meth:`facekit.eval.real_judges.JudgeCard.describe`)
``eyeglasses_l1_in_``  real-photo judges, ``Eyeglasses`` targeted: mean L1 of edit vs source inside the glasses
``to_source``          mask (the copy baseline's is 0): the glasses judge is a heuristic, never reported alone
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

The attribute judge is the SynthFaces oracle (:func:`facekit.eval.load_oracle`) on SynthFaces and the real-photo
judges (:class:`facekit.eval.real_judges.RealAttributeJudge`, via :func:`facekit.eval.judges_for`) on real
photos: independent networks and measures (none of them is a loss of any method). The identity judge is the oracle as well, or dlib's 128-D face descriptor for
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
from facekit.eval.identity import DLIB_SAME_PERSON_THRESHOLD, DlibIdentity, IdentityJudge

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


def _l1_in_glasses_mask(sources: Tensor, edits: Tensor, landmarks: Tensor) -> float:
    """Mean L1 of edit vs source inside each source's glasses mask (from its dlib landmarks; 0 for a copy)."""
    from facekit.masks import attribute_mask

    vals = []
    for src, edit, lm in zip(sources.detach().float().cpu(), edits.detach().float().cpu(), landmarks):
        if torch.isnan(lm).any():
            continue
        mask = torch.from_numpy(attribute_mask(lm.numpy(), "Eyeglasses", tuple(src.shape[-2:]))) > 0.5  # (H, W)
        if mask.any():
            vals.append(float((edit - src).abs()[:, mask].mean()))
    return float(np.mean(vals)) if vals else math.nan


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
        if loss_network is not None and hasattr(oracle, "independent_of") and not oracle.independent_of(loss_network):
            raise ValueError("the method optimised through one of the attribute judges' networks "
                             f"({loss_network!r}): a judge is never a loss, so its verdicts on these edits mean "
                             "nothing; judge with networks the method never saw")
        readings_src = readings_edit = None
        if hasattr(oracle, "analyse"):  # a real-photo judge: one dlib pass gives the scores and the landmarks
            readings_src, readings_edit = oracle.analyse(sources), oracle.analyse(edits)
            prob_src = oracle.probabilities_from(readings_src).detach().float().cpu()  # (B, A), nan: not judged
            prob_edit = oracle.probabilities_from(readings_edit).detach().float().cpu()
        else:
            prob_src = oracle.attribute_probabilities(sources).detach().float().cpu()  # (B, A)
            prob_edit = oracle.attribute_probabilities(edits).detach().float().cpu()
        judged = ~(torch.isnan(prob_src) | torch.isnan(prob_edit))  # (B, A): nan = not judged (no face found)
        asked = ~torch.isnan(target)
        is_target = asked & judged
        want = target.nan_to_num(0.0) > 0.5  # (B, A) bool
        pred_src, pred_edit = prob_src > 0.5, prob_edit > 0.5  # (B, A) bool
        others = ~asked & judged  # (B, A): the attributes that should stay as they are
        if counterfactuals is not None:
            prob_cf = oracle.attribute_probabilities(counterfactuals).detach().float().cpu()
            expected = prob_cf > 0.5
            others &= ~torch.isnan(prob_cf)
        else:
            expected = pred_src
            for a, name in enumerate(names):  # leave out what may change together with a target (COUPLED)
                for partner in COUPLED.get(name, ()):
                    if partner in names:
                        others[:, names.index(partner)] &= ~asked[:, a]
        success = (pred_edit == want) & is_target  # (B, A)
        kept = (pred_edit == expected) & others
        already = (pred_src == want) & is_target
        toward = torch.where(want, prob_edit - prob_src, prob_src - prob_edit).nan_to_num(0.0) * is_target
        n_t = is_target.sum(1)
        nan_b = torch.full((b,), math.nan)
        per["attribute_success"] = torch.where(n_t > 0, success.sum(1) / n_t.clamp_min(1), nan_b)  # (B,)
        per["others_preserved"] = torch.where(others.sum(1) > 0, kept.sum(1) / others.sum(1).clamp_min(1), nan_b)
        per["target_in_source"] = torch.where(n_t > 0, already.sum(1) / n_t.clamp_min(1), nan_b)
        per["attribute_shift"] = torch.where(n_t > 0, toward.sum(1) / n_t.clamp_min(1), nan_b)
        row["attribute_success"] = _rate(success, is_target)
        row["others_preserved"] = _rate(kept, others)
        row["target_in_source"] = _rate(already, is_target)
        row["attribute_shift"] = float(toward.sum()) / int(is_target.sum()) if is_target.any() else math.nan
        row["attribute_not_judged"] = per["attribute_not_judged"] = int((asked & ~judged).sum())
        if hasattr(oracle, "cards"):  # each judge's measured AUC and accuracy, beside the scores it gave
            targeted = [n for k, n in enumerate(names) if bool(asked[:, k].any())]
            row["attribute_judges"] = "; ".join(oracle.cards[n].describe() for n in targeted)
            if "Eyeglasses" in targeted and readings_src is not None:  # the heuristic, always with its cost
                row["eyeglasses_l1_in_to_source"] = _l1_in_glasses_mask(sources, edits, readings_src.landmarks)
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
    score_key = f"identity_{getattr(judge, 'score_name', 'score')}"
    if hasattr(judge, "identity_readings"):  # a judge that finds faces first (dlib): faces not found apart
        score, found_src, found_edit = (t.detach().cpu() for t in judge.identity_readings(sources, edits))
        score = score.double()
        same = score < judge.threshold  # nan < t is False
        both = found_src & found_edit
        per.update(face_found_source=found_src, face_found_edit=found_edit)
        row["n_no_face"] = per["n_no_face"] = int((~both).sum())
        row["face_found_source"] = float(found_src.double().mean())
        row["face_found_edit"] = float(found_edit.double().mean())
        row["identity_kept"] = float(same[both].double().mean()) if both.any() else math.nan
        row["identity_kept_all"] = float(same.double().mean())  # a face not found counts as not kept
    else:
        score = judge.identity_score(sources, edits).detach().double().cpu()  # (B,)
        same = judge.same_identity(sources, edits).detach().bool().cpu()  # (B,)
        row["identity_kept"] = float(same.double().mean())
    per["identity_kept"] = same
    per[score_key] = score
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
