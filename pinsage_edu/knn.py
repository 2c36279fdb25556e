"""§3.4: nearest-neighbour lookup in embedding space — the recommendations are a query's K nearest items.

:func:`exact_top_k` is the exact search: dot products against every item, chunked over the queries
so the score matrix stays bounded, run on whatever device the embeddings live on. (The paper serves
with approximate search — locality-sensitive hashing, then a two-level retrieval — which belongs
here next to it.)
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["exact_top_k"]


def exact_top_k(embeddings: torch.Tensor, queries: Any, k: int = 10, *, exclude_query: bool = True,
                chunk_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` items with the largest dot product with each query item: ``(ids, scores)``, both [Q, k].

    ``embeddings`` [N, d] (unit vectors make the dot product a cosine); ``queries`` item ids [Q].
    ``exclude_query`` leaves the query out of its own list. Queries are scored ``chunk_size`` at a
    time (default: about 2²⁴ scores per chunk). Equal scores within the list are ordered by item id.
    """
    if embeddings.dim() != 2:
        raise ValueError(f"embeddings must be [num_items, d], got shape {tuple(embeddings.shape)}")
    N = embeddings.shape[0]
    q = torch.as_tensor(queries, device=embeddings.device)
    if q.dtype == torch.bool or q.is_floating_point():
        raise ValueError(f"queries must be integer item ids, got dtype {q.dtype}")
    q = q.long().reshape(-1)
    if q.numel() and (int(q.min()) < 0 or int(q.max()) >= N):
        bad = q[(q < 0) | (q >= N)][0]
        raise ValueError(f"query {int(bad)} is not an item id: the embeddings hold items 0..{N - 1}")
    if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    k_eff = min(k, N - 1 if exclude_query else N)
    if chunk_size is None:
        chunk_size = max(1, (1 << 24) // max(N, 1))
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size <= 0:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    ids = torch.full((q.numel(), k), -1, dtype=torch.long, device=embeddings.device)
    scores = torch.full((q.numel(), k), float("-inf"), dtype=embeddings.dtype, device=embeddings.device)
    if k_eff <= 0:
        return ids, scores
    for lo in range(0, q.numel(), chunk_size):
        qq = q[lo:lo + chunk_size]
        s = embeddings.index_select(0, qq) @ embeddings.T  # [chunk, N]
        if exclude_query:
            s[torch.arange(qq.numel(), device=s.device), qq] = float("-inf")
        # stable descending sort of the top candidates: equal scores keep increasing item id
        top_s, top_i = torch.topk(s, k_eff, dim=1)
        order = torch.sort(top_i, dim=1).indices
        top_s, top_i = top_s.gather(1, order), top_i.gather(1, order)
        o2 = torch.sort(top_s, dim=1, descending=True, stable=True).indices
        scores[lo:lo + chunk_size, :k_eff] = top_s.gather(1, o2)
        ids[lo:lo + chunk_size, :k_eff] = top_i.gather(1, o2)
    return ids, scores
