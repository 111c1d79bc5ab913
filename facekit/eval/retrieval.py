"""Face retrieval and recall@K, as in *Learning to See another You* (Ghodrati et al., BMVC 2016), section 4.1.2.

The paper measures how well a pose-changed face keeps the person (and the light) by **retrieval**: the generated
face is the query, every test face is in the gallery, images (or features) are L2-normalised and compared by
Euclidean distance, and

    "recall@K is defined as the percentage of queries for which at least one correct image is among the top K
    retrieved images."

A retrieved image is *correct* if it has the query's identity and the target pose (first criterion), and also the
query's illumination (second criterion). Here a "label" may therefore have several columns: a gallery image is
correct for a query when **all** label columns agree (e.g. ``(identity, pose)`` or ``(identity, pose, light)``).

Example:
    >>> import torch
    >>> gallery = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.7, 0.7]])
    >>> queries = torch.tensor([[0.9, 0.1], [0.1, 0.9]])
    >>> recall_at_k(queries, gallery, torch.tensor([0, 2]), torch.tensor([0, 1, 2]), ks=(1, 2))
    {1: 0.5, 2: 1.0}
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["pairwise_distances", "retrieve", "recall_at_k"]


def _check_features(x: Tensor, name: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (N, D); got {type(x).__name__}")
    if x.ndim != 2:
        hint = " Flatten images first: x.flatten(1)." if x.ndim == 4 else ""
        raise ValueError(f"{name} must be features of shape (N, D); got shape {tuple(x.shape)}.{hint}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor; got {x.dtype}")


def _as_labels(labels: Tensor, n: int, name: str) -> Tensor:
    t = torch.as_tensor(labels)
    if t.ndim == 1:
        t = t[:, None]
    if t.ndim != 2 or t.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},) or ({n}, L) (one row per image); got {tuple(t.shape)}")
    return t  # (N, L)


def pairwise_distances(queries: Tensor, gallery: Tensor, normalize: bool = True) -> Tensor:
    """Euclidean distances between every query and every gallery item, after L2 normalisation (the paper's rule).

    Args:
        queries: ``(Q, D)`` features (flatten images with ``x.flatten(1)`` to retrieve by raw pixels).
        gallery: ``(G, D)``.
        normalize: L2-normalise each row first.

    Returns:
        ``(Q, G)`` distances.
    """
    _check_features(queries, "queries")
    _check_features(gallery, "gallery")
    if queries.shape[1] != gallery.shape[1]:
        raise ValueError(
            f"queries and gallery must have the same feature size D; got {queries.shape[1]} and {gallery.shape[1]}"
        )
    q, g = queries.double(), gallery.double().to(queries.device)
    if normalize:
        q, g = F.normalize(q, dim=1), F.normalize(g, dim=1)
    return torch.cdist(q, g)  # (Q, G)


def retrieve(queries: Tensor, gallery: Tensor, k: int, normalize: bool = True, exclude: Optional[Tensor] = None) -> Tensor:
    """Indices of the ``k`` nearest gallery items of each query, nearest first.

    Args:
        queries, gallery, normalize: as in :func:`pairwise_distances`.
        k: how many to retrieve, ``1 <= k <= G``.
        exclude: optional ``(Q, G)`` bool; ``True`` removes that gallery item from that query's candidates
            (e.g. the query's own source image). A query left with fewer than ``k`` candidates gets ``-1`` in
            the slots that no candidate fills (a two-step method that kept few items has retrieved only those).

    Returns:
        ``(Q, k)`` long tensor of gallery indices (``-1``: no candidate left).
    """
    d = pairwise_distances(queries, gallery, normalize)  # (Q, G)
    if not 1 <= k <= d.shape[1]:
        raise ValueError(f"k must be between 1 and the gallery size {d.shape[1]}; got {k}")
    if exclude is not None:
        exclude = torch.as_tensor(exclude, dtype=torch.bool, device=d.device)
        if tuple(exclude.shape) != tuple(d.shape):
            raise ValueError(f"exclude must be a (Q, G) = {tuple(d.shape)} bool tensor; got {tuple(exclude.shape)}")
        d = d.masked_fill(exclude, float("inf"))
    dist, top = d.topk(k, dim=1, largest=False)  # (Q, k), nearest first (ties: the lower index first)
    if exclude is not None:  # fewer than k candidates left: the empty slots are -1, never an excluded item
        top = top.masked_fill(torch.isinf(dist) & exclude.gather(1, top), -1)
    return top


def recall_at_k(
    queries: Tensor,
    gallery: Tensor,
    query_labels: Tensor,
    gallery_labels: Tensor,
    ks: Sequence[int] = (1, 5, 20),
    normalize: bool = True,
    exclude: Optional[Tensor] = None,
) -> Dict[int, float]:
    """recall@K of See-another-You section 4.1.2: the fraction of queries with a correct item in their top K.

    Args:
        queries: ``(Q, D)`` features of the queries (generated faces, or their features).
        gallery: ``(G, D)`` features of the gallery (the test set).
        query_labels: ``(Q,)`` or ``(Q, L)`` integer labels, e.g. identity, or columns identity, target pose and
            illumination.
        gallery_labels: ``(G,)`` or ``(G, L)``, the same columns.
        ks: the K values (paper: 1, 5 and 20); each ``1 <= K <= G``.
        normalize: L2-normalise features before the Euclidean distance (the paper does).
        exclude: optional ``(Q, G)`` bool of gallery items a query may not retrieve.

    Returns:
        ``{K: recall}`` with recall in ``[0, 1]`` (multiply by 100 for the paper's percentages).

    Example:
        >>> g = torch.eye(3)
        >>> q = torch.tensor([[1.0, 0.1, 0.0], [1.0, 0.9, 0.0]])   # both nearest to gallery item 0
        >>> recall_at_k(q, g, torch.tensor([[5, 0], [6, 1]]), torch.tensor([[5, 0], [6, 1], [6, 0]]), ks=(1, 2))
        {1: 0.5, 2: 1.0}
    """
    q_labels = _as_labels(query_labels, queries.shape[0] if isinstance(queries, Tensor) else -1, "query_labels")
    g_labels = _as_labels(gallery_labels, gallery.shape[0] if isinstance(gallery, Tensor) else -1, "gallery_labels")
    if q_labels.shape[1] != g_labels.shape[1]:
        raise ValueError(
            f"query_labels and gallery_labels must have the same number of label columns; got {q_labels.shape[1]} "
            f"and {g_labels.shape[1]}"
        )
    ks = [int(k) for k in ks]
    if not ks:
        raise ValueError("ks must name at least one K")
    top = retrieve(queries, gallery, max(ks), normalize, exclude)  # (Q, Kmax)
    g_labels = g_labels.to(top.device)
    q_labels = q_labels.to(top.device)
    hit = (g_labels[top.clamp_min(0)] == q_labels[:, None, :]).all(dim=2) & (top >= 0)  # (Q, Kmax); -1: no item
    return {k: float(hit[:, :k].any(dim=1).double().mean()) for k in ks}
