"""Face verification: pairs, ROC AUC and the equal-error-rate threshold.

A verification judge says "same person" when the similarity of two embeddings is at least a threshold. How good the
judge is, independent of the threshold, is the **area under the ROC curve** (AUC): the probability that a random
same-person pair scores higher than a random different-person pair (ties count one half; 1 is perfect, 0.5 is
chance). The threshold itself is chosen on *validation* identities; facekit uses the **equal error rate** (EER)
point, where the false accept rate (different people called the same) equals the false reject rate (the same person
called different).

Example:
    >>> import torch
    >>> scores = torch.tensor([0.9, 0.8, 0.3, 0.4, 0.1])
    >>> same = torch.tensor([True, False, True, True, False])
    >>> round(roc_auc(scores, same), 4)       # 4 of the 6 (same, different) pairs are ordered right
    0.6667
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import Tensor

__all__ = ["verification_pairs", "roc_curve", "roc_auc", "eer_threshold"]


def _check_scores(scores: Tensor, same: Tensor) -> Tuple[Tensor, Tensor]:
    s = torch.as_tensor(scores).detach().double().flatten().cpu()
    y = torch.as_tensor(same).detach().bool().flatten().cpu()
    if s.shape != y.shape:
        raise ValueError(f"scores and same must have one entry per pair; got {s.numel()} and {y.numel()}")
    if not y.any() or y.all():
        raise ValueError("need both same-person and different-person pairs to measure verification")
    if torch.isnan(s).any():
        raise ValueError("scores contain nan")
    return s, y


def verification_pairs(
    identities: Tensor, max_negatives: Optional[int] = None, generator: Optional[torch.Generator] = None
) -> Tuple[Tensor, Tensor, Tensor]:
    """All same-identity pairs and (a random subset of) the different-identity pairs of a labelled set.

    Args:
        identities: ``(N,)`` integer identity of each image.
        max_negatives: keep at most this many different-identity pairs (drawn at random); ``None`` keeps all.
        generator: for the draw.

    Returns:
        ``(i, j, same)``: ``(P,)`` indices of the two images of each pair (``i < j``) and ``(P,)`` bool.

    Example:
        >>> i, j, same = verification_pairs(torch.tensor([0, 0, 1]))
        >>> i.tolist(), j.tolist(), same.tolist()
        ([0, 0, 1], [1, 2, 2], [True, False, False])
    """
    ids = torch.as_tensor(identities).flatten()
    i, j = torch.triu_indices(len(ids), len(ids), offset=1)
    same = ids[i] == ids[j]
    if max_negatives is not None:
        neg = (~same).nonzero().flatten()
        if neg.numel() > max_negatives:
            keep = neg[torch.randperm(neg.numel(), generator=generator)[:max_negatives]]
            sel = torch.cat([same.nonzero().flatten(), keep]).sort().values
            i, j, same = i[sel], j[sel], same[sel]
    return i, j, same


def roc_curve(scores: Tensor, same: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """False and true accept rates for every threshold ("same" when ``score >= threshold``).

    scikit-learn's ``roc_curve`` (every threshold kept: ``drop_intermediate=False``), as float64 tensors.

    Args:
        scores: ``(P,)`` similarity of each pair (higher = more alike).
        same: ``(P,)`` bool, the pair shows one person.

    Returns:
        ``(fpr, tpr, thresholds)``, each ``(T,)``, thresholds decreasing, starting with ``+inf`` (nothing accepted).
    """
    from sklearn.metrics import roc_curve as _sk_roc_curve

    s, y = _check_scores(scores, same)
    fpr, tpr, thr = _sk_roc_curve(y.numpy(), s.numpy(), drop_intermediate=False)
    return torch.from_numpy(fpr), torch.from_numpy(tpr), torch.from_numpy(thr.astype("float64"))


def roc_auc(scores: Tensor, same: Tensor) -> float:
    """Area under the ROC curve: P(score of a same pair > score of a different pair), ties counted half.

    scikit-learn's ``roc_auc_score``.

    Args:
        scores: ``(P,)`` similarities.
        same: ``(P,)`` bool.

    Returns:
        the AUC in ``[0, 1]``.
    """
    from sklearn.metrics import roc_auc_score

    s, y = _check_scores(scores, same)
    return float(roc_auc_score(y.numpy(), s.numpy()))


def eer_threshold(scores: Tensor, same: Tensor) -> Tuple[float, float]:
    """The threshold at the equal error rate, and that rate.

    The threshold is the one (among the observed scores) where the false accept rate and the false reject rate
    are closest; the EER reported is their mean there.

    Args:
        scores: ``(P,)`` similarities.
        same: ``(P,)`` bool.

    Returns:
        ``(threshold, eer)``: call a pair "same" when ``score >= threshold``.

    Example:
        >>> t, eer = eer_threshold(torch.tensor([0.9, 0.8, 0.3, 0.1]), torch.tensor([True, True, False, False]))
        >>> round(t, 3), eer
        (0.8, 0.0)
    """
    fpr, tpr, thr = roc_curve(scores, same)
    fnr = 1 - tpr
    k = int(torch.argmin((fpr - fnr).abs()[1:])) + 1  # skip the +inf threshold
    return float(thr[k]), float((fpr[k] + fnr[k]) / 2)
