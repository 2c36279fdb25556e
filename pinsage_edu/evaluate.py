"""§4: offline evaluation — does the recommender put the held-out related item in its top K?

The paper's **hit-rate** is the share of labelled pairs (q, i) whose i appears among the top K
recommendations for q (K = 500 among ~5 million candidates there; K = 10 among our few thousand).
Any recommender fits: PinSage's nearest neighbours in embedding space
(:func:`pinsage_edu.knn.exact_top_k`), Pixie's most visited items
(:func:`pinsage_edu.walks.pixie_recommend_batch`), or a popularity list.

The paper's **scaled MRR** is the mean of 1 / ⌈rank / s⌉ with s = 100 among ~5 million
candidates, so that ranks 1 and 2 among millions count (almost) alike. With a catalogue of N items
the same coarseness is s = 100 · N / 5,000,000 (:func:`mrr_scale`): 1 (plain MRR) below 50,000
items, 20 at a million.
"""

from __future__ import annotations

import math

import torch

__all__ = ["hits", "hit_rate", "popularity_recommendations", "target_ranks", "scaled_mrr", "mrr_scale"]


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


def target_ranks(embeddings: torch.Tensor, queries: torch.Tensor, targets: torch.Tensor, *,
                 exclude_query: bool = True, chunk_size: int = 1024) -> torch.Tensor:
    """LongTensor [P]: the rank (1 = best) of ``targets[p]`` among all items by dot product with ``queries[p]``.

    Rank = 1 + the number of items scoring strictly higher than the target (ties count in the
    target's favour); the query itself is skipped when ``exclude_query``. Queries are scored in
    chunks, so memory stays at ``chunk_size × num_items`` scores.
    """
    if embeddings.dim() != 2:
        raise ValueError(f"embeddings must be [num_items, d], got shape {tuple(embeddings.shape)}")
    n = embeddings.shape[0]
    q = torch.as_tensor(queries, device=embeddings.device).long().reshape(-1)
    t = torch.as_tensor(targets, device=embeddings.device).long().reshape(-1)
    if q.numel() != t.numel():
        raise ValueError(f"{q.numel()} queries but {t.numel()} targets")
    for name, ids in (("queries", q), ("targets", t)):
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= n):
            raise ValueError(f"{name} hold ids outside 0 … {n - 1}")
    out = []
    for lo in range(0, q.numel(), chunk_size):
        qc, tc = q[lo:lo + chunk_size], t[lo:lo + chunk_size]
        scores = embeddings.index_select(0, qc) @ embeddings.T  # [c, N]
        own = scores.gather(1, tc.unsqueeze(1))
        better = scores > own
        if exclude_query:
            better[torch.arange(qc.numel(), device=qc.device), qc] = False
        out.append(1 + better.sum(1))
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.long, device=embeddings.device)


def mrr_scale(num_items: int) -> int:
    """The paper's rank divisor (100 among ~5M candidates) scaled to ``num_items``, at least 1."""
    return max(1, round(100 * num_items / 5_000_000))


def scaled_mrr(ranks: torch.Tensor, scale: int = 100) -> float:
    """Mean of 1 / ⌈rank / scale⌉ over the pairs (the paper's MRR with ``scale`` = 100); NaN for none."""
    if isinstance(scale, bool) or not isinstance(scale, int) or scale <= 0:
        raise ValueError(f"scale must be a positive integer, got {scale!r}")
    r = torch.as_tensor(ranks).double()
    if r.numel() and float(r.min()) < 1:
        raise ValueError("ranks start at 1")
    return float((1.0 / torch.ceil(r / scale)).mean()) if r.numel() else math.nan
