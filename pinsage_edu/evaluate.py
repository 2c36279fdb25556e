"""§4: offline evaluation — does the recommender put the held-out related item in its top K?

The paper's **hit-rate** is the share of labelled pairs (q, i) whose i appears among the top K
recommendations for q (K = 500 among ~5 million candidates there; K = 10 among our few thousand).
Any recommender fits: PinSage's nearest neighbours in embedding space
(:func:`pinsage_edu.knn.exact_top_k`), Pixie's most visited items
(:func:`pinsage_edu.walks.pixie_recommend_batch`), or a popularity list.
"""

from __future__ import annotations

import torch

__all__ = ["hits", "hit_rate", "popularity_recommendations"]


def hits(recommended: torch.Tensor, answers: torch.Tensor) -> torch.Tensor:
    """BoolTensor [P]: whether ``answers[p]`` is among ``recommended[p, :]`` (−1 padding never hits)."""
    if recommended.dim() != 2:
        raise ValueError(f"recommended must be [P, K] item ids, got shape {tuple(recommended.shape)}")
    a = torch.as_tensor(answers, device=recommended.device).long().reshape(-1)
    if a.numel() != recommended.shape[0]:
        raise ValueError(f"{recommended.shape[0]} recommendation lists but {a.numel()} answers")
    return ((recommended == a.unsqueeze(1)) & (recommended >= 0)).any(1)


def hit_rate(recommended: torch.Tensor, answers: torch.Tensor) -> float:
    """Share of pairs whose answer is in the list: a float in [0, 1] (NaN for no pairs)."""
    h = hits(recommended, answers)
    return float(h.float().mean()) if h.numel() else float("nan")


def popularity_recommendations(item_degrees: torch.Tensor, queries: torch.Tensor, k: int = 10) -> torch.Tensor:
    """LongTensor [Q, k]: the k items of highest degree for every query, the query itself skipped.

    The floor any personalised recommender must clear. Ties go to the smaller id; when the catalogue
    has fewer than k other items the rows are padded with −1.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    q = torch.as_tensor(queries, device=item_degrees.device).long().reshape(-1)
    top = torch.sort(item_degrees, descending=True, stable=True).indices[: k + 1]
    cand = top.unsqueeze(0).expand(q.numel(), -1)
    cand = torch.where(cand != q.unsqueeze(1), cand, torch.full_like(cand, -1))
    # each row holds the query at most once: move that −1 to the end, keep k columns, pad to k
    order = torch.sort((cand < 0).to(torch.int8), dim=1, stable=True).indices
    out = cand.gather(1, order)[:, :k]
    if out.shape[1] < k:
        out = torch.cat([out, torch.full((q.numel(), k - out.shape[1]), -1, dtype=torch.long, device=out.device)], 1)
    return out
