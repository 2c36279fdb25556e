"""§3.4: nearest-neighbour lookup in embedding space — the recommendations are a query's K nearest items.

Three indexes with one interface, ``index.search(queries, k) -> (ids, scores)`` over item ids:

* :class:`ExactIndex` (:func:`exact_top_k`): dot products against every item, chunked over the
  queries so the score matrix stays bounded, on whatever device the embeddings live on.
* :class:`LSHIndex`: the paper's approximate search — locality-sensitive hashing with random
  hyperplanes. Each of L tables hashes a vector to b bits (the signs of b random projections), so
  two unit vectors at angle θ share a table's bucket with probability (1 − θ/π)ᵇ; the candidates
  of a query are the items sharing a bucket in any table (plus, with ``probes``, the buckets one
  uncertain bit away), and only those are scored exactly. :func:`recall_at_k` measures what is lost.
* :class:`FaissIndex`: faiss' flat inner-product index, when the optional ``faiss`` package is
  installed (``pip install faiss-cpu``) — the reference our exact search is benchmarked against.

:func:`recommend` turns any index into a list of (item, title, score) for one query item.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch

__all__ = ["exact_top_k", "ExactIndex", "LSHIndex", "FaissIndex", "faiss_available", "build_index",
           "recall_at_k", "Recommendations", "recommend"]


def _check_embeddings(embeddings: Any) -> torch.Tensor:
    if not isinstance(embeddings, torch.Tensor) or embeddings.dim() != 2:
        raise ValueError(f"embeddings must be a [num_items, d] tensor, got "
                         f"{tuple(embeddings.shape) if isinstance(embeddings, torch.Tensor) else type(embeddings)}")
    if not embeddings.is_floating_point():
        raise ValueError(f"embeddings must be floating point, got {embeddings.dtype}")
    if embeddings.numel() and not bool(torch.isfinite(embeddings).all()):
        bad = int(torch.nonzero(~torch.isfinite(embeddings).all(1))[0])
        raise ValueError(f"the embedding of item {bad} holds NaN or infinite values")
    return embeddings


def _check_queries(queries: Any, n: int, device: torch.device) -> torch.Tensor:
    q = torch.as_tensor(queries, device=device)
    if q.dtype == torch.bool or q.is_floating_point():
        raise ValueError(f"queries must be integer item ids, got dtype {q.dtype}")
    q = q.long().reshape(-1)
    if q.numel() and (int(q.min()) < 0 or int(q.max()) >= n):
        bad = q[(q < 0) | (q >= n)][0]
        raise ValueError(f"query {int(bad)} is not an item id: the embeddings hold items 0..{n - 1}")
    return q


def _check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    return k


def exact_top_k(embeddings: torch.Tensor, queries: Any, k: int = 10, *, exclude_query: bool = True,
                chunk_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` items with the largest dot product with each query item: ``(ids, scores)``, both [Q, k].

    ``embeddings`` [N, d] (unit vectors make the dot product a cosine); ``queries`` item ids [Q].
    ``exclude_query`` leaves the query out of its own list. Queries are scored ``chunk_size`` at a
    time (default: about 2²⁴ scores per chunk). Equal scores within the list are ordered by item id;
    rows are padded with id −1 and score −inf when fewer than k items qualify. The list is exactly the
    first k items in the order (score descending, id ascending), ties at the cut included, so that
    :func:`~pinsage_edu.evaluate.score_ranks` ≤ k exactly for the items listed.
    """
    if embeddings.dim() != 2:
        raise ValueError(f"embeddings must be [num_items, d], got shape {tuple(embeddings.shape)}")
    N = embeddings.shape[0]
    q = _check_queries(queries, N, embeddings.device)
    k = _check_k(k)
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
        # topk picks arbitrarily among items tied at the k-th score: take every item above that score,
        # then the tied ones with the smallest ids, so the list is the first k of (score ↓, id ↑)
        kth = torch.topk(s, k_eff, dim=1).values[:, -1:]
        above = s > kth
        tied = s == kth
        need = k_eff - above.sum(1, keepdim=True)
        chosen = above | (tied & (torch.cumsum(tied, 1) <= need))
        top_i = torch.nonzero(chosen)[:, 1].view(-1, k_eff)  # row-major: each row's ids increasing
        top_s = s.gather(1, top_i)
        o2 = torch.sort(top_s, dim=1, descending=True, stable=True).indices
        scores[lo:lo + chunk_size, :k_eff] = top_s.gather(1, o2)
        ids[lo:lo + chunk_size, :k_eff] = top_i.gather(1, o2)
    return ids, scores


class ExactIndex:
    """Exact search: :func:`exact_top_k` over the stored embeddings (on their device)."""

    def __init__(self, embeddings: torch.Tensor, *, chunk_size: int | None = None):
        self.embeddings = _check_embeddings(embeddings)
        self.chunk_size = chunk_size

    def __len__(self) -> int:
        return int(self.embeddings.shape[0])

    def search(self, queries: Any, k: int = 10, *, exclude_query: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        return exact_top_k(self.embeddings, queries, k, exclude_query=exclude_query, chunk_size=self.chunk_size)


class LSHIndex:
    """Random-hyperplane LSH: ``num_tables`` tables of ``num_bits``-bit codes, candidates re-scored exactly.

    Building costs one [N, d] × [d, L·b] product and a sort per table. A query's candidates are the
    items in its bucket of each table and, with ``probes`` = p > 0, in the p buckets that differ
    from it in one of its p least certain bits (smallest |projection|) — multi-probe LSH, which buys
    recall with fewer tables. Memory: the codes and sorted orders, 2 × L × N longs.

    The planes pass through the origin, so only directions matter; the exact re-scoring uses the
    dot product. Trained embeddings often all lean one way (a mean vector far from 0: every pair has
    a positive cosine), which puts most items on the same side of most planes and into a few huge
    buckets. ``center=True`` hashes ``v − mean`` instead, so the planes pass through the middle of
    the cloud; the candidates are still scored with the original vectors.
    """

    def __init__(self, embeddings: torch.Tensor, *, num_tables: int = 16, num_bits: int = 12, probes: int = 0,
                 center: bool = False, generator: torch.Generator | int | None = 0, chunk_size: int = 256):
        self.embeddings = e = _check_embeddings(embeddings)
        for name, v, lo, hi in (("num_tables", num_tables, 1, 1 << 12), ("num_bits", num_bits, 1, 62),
                                ("probes", probes, 0, 62), ("chunk_size", chunk_size, 1, 1 << 30)):
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise ValueError(f"{name} must be an integer in [{lo}, {hi}], got {v!r}")
        if probes > num_bits:
            raise ValueError(f"probes ({probes}) cannot exceed num_bits ({num_bits})")
        self.num_tables, self.num_bits, self.probes, self.chunk_size = num_tables, num_bits, probes, chunk_size
        gen = generator if isinstance(generator, torch.Generator) else torch.Generator().manual_seed(
            0 if generator is None else int(generator))
        # the planes are drawn on the CPU, so an index is the same on every device for one seed
        self.planes = torch.randn(e.shape[1], num_tables * num_bits, generator=gen).to(e.device, e.dtype)
        self.center = e.mean(0) if center and e.shape[0] else torch.zeros(e.shape[1], dtype=e.dtype, device=e.device)
        self.powers = (2 ** torch.arange(num_bits, device=e.device, dtype=torch.long))
        codes = self._codes(e)  # [N, L]
        self.sorted_codes, self.order = torch.sort(codes.T.contiguous(), dim=1, stable=True)  # [L, N] each

    def __len__(self) -> int:
        return int(self.embeddings.shape[0])

    def _project(self, v: torch.Tensor) -> torch.Tensor:
        return ((v - self.center) @ self.planes).view(v.shape[0], self.num_tables, self.num_bits)

    def _codes(self, v: torch.Tensor) -> torch.Tensor:
        out = torch.empty((v.shape[0], self.num_tables), dtype=torch.long, device=v.device)
        for lo in range(0, v.shape[0], 1 << 16):
            bits = (self._project(v[lo:lo + (1 << 16)]) > 0).long()
            out[lo:lo + (1 << 16)] = (bits * self.powers).sum(-1)
        return out

    def bucket_sizes(self) -> torch.Tensor:
        """LongTensor [L, 2ᵇ]: how many items each bucket of each table holds (for diagnostics)."""
        if self.num_bits > 24:
            raise ValueError(f"2^{self.num_bits} buckets per table are too many to count densely")
        return torch.stack([torch.bincount(c, minlength=1 << self.num_bits) for c in self.sorted_codes])

    def candidates(self, queries: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """``(rows, items)``: every (query row, candidate item) pair once, sorted by row then item."""
        q = _check_queries(queries, len(self), self.embeddings.device)
        return self._candidates(self.embeddings.index_select(0, q))

    def _candidates(self, qv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        dev, Q, N = qv.device, qv.shape[0], len(self)
        proj = self._project(qv)  # [Q, L, b]
        code = ((proj > 0).long() * self.powers).sum(-1)  # [Q, L]
        probe_codes = [code]
        if self.probes:
            weakest = torch.topk(proj.abs(), self.probes, dim=2, largest=False).indices  # [Q, L, p]
            for j in range(self.probes):
                probe_codes.append(code ^ self.powers[weakest[:, :, j]])
        codes = torch.stack(probe_codes, 2)  # [Q, L, 1 + p]
        rows, items = [], []
        for t in range(self.num_tables):
            c = codes[:, t, :].reshape(-1).contiguous()
            start = torch.searchsorted(self.sorted_codes[t], c)
            count = torch.searchsorted(self.sorted_codes[t], c, right=True) - start
            total = int(count.sum())
            if total == 0:
                continue
            first = torch.repeat_interleave(torch.cumsum(count, 0) - count, count)
            pos = torch.repeat_interleave(start, count) + torch.arange(total, device=dev) - first
            items.append(self.order[t].index_select(0, pos))
            rows.append(torch.repeat_interleave(torch.arange(c.numel(), device=dev) // codes.shape[2], count))
        if not rows:
            empty = torch.zeros(0, dtype=torch.long, device=dev)
            return empty, empty
        key = torch.unique(torch.cat(rows) * N + torch.cat(items))
        return key // N, key % N

    def search(self, queries: Any, k: int = 10, *, exclude_query: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """``(ids, scores)`` [Q, k]: the best k candidates by dot product, padded with −1 / −inf."""
        N, e = len(self), self.embeddings
        q = _check_queries(queries, N, e.device)
        k = _check_k(k)
        ids = torch.full((q.numel(), k), -1, dtype=torch.long, device=e.device)
        scores = torch.full((q.numel(), k), float("-inf"), dtype=e.dtype, device=e.device)
        for lo in range(0, q.numel(), self.chunk_size):
            qq = q[lo:lo + self.chunk_size]
            qv = e.index_select(0, qq)
            rows, items = self._candidates(qv)
            if exclude_query:
                keep = items != qq.index_select(0, rows)
                rows, items = rows[keep], items[keep]
            if rows.numel() == 0:
                continue
            s = (qv.index_select(0, rows) * e.index_select(0, items)).sum(1)
            # best first within each row; candidates arrive sorted by (row, item), so stable sorts
            # leave equal scores in increasing item id
            o = torch.sort(s, descending=True, stable=True).indices
            o = o.index_select(0, torch.sort(rows.index_select(0, o), stable=True).indices)
            rows, items, s = rows.index_select(0, o), items.index_select(0, o), s.index_select(0, o)
            first = torch.searchsorted(rows, rows)  # rows are sorted: index of each row's first entry
            rank = torch.arange(rows.numel(), device=e.device) - first
            top = rank < k
            ids[lo + rows[top], rank[top]] = items[top]
            scores[lo + rows[top], rank[top]] = s[top]
        return ids, scores


def faiss_available() -> bool:
    """Whether the optional ``faiss`` package can be imported."""
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


class FaissIndex:
    """faiss' exact inner-product index (``IndexFlatIP``) over the embeddings, on the CPU.

    Optional: needs ``pip install faiss-cpu``; without it the constructor raises ImportError with
    that hint. Results come back as torch tensors on the embeddings' device.
    """

    def __init__(self, embeddings: torch.Tensor):
        try:
            import faiss
        except ImportError:
            raise ImportError("FaissIndex needs the optional faiss package: pip install faiss-cpu") from None
        self.embeddings = _check_embeddings(embeddings)
        self._x = self.embeddings.detach().float().cpu().contiguous().numpy()
        self.index = faiss.IndexFlatIP(self._x.shape[1])
        self.index.add(self._x)

    def __len__(self) -> int:
        return int(self.embeddings.shape[0])

    def search(self, queries: Any, k: int = 10, *, exclude_query: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        N = len(self)
        q = _check_queries(queries, N, torch.device("cpu"))
        k = _check_k(k)
        want = min(N, k + 1 if exclude_query else k)
        s, i = self.index.search(self._x[q.numpy()], want)
        s, i = torch.from_numpy(s), torch.from_numpy(i).long()
        if exclude_query:  # drop the query itself (wherever ties put it), keep k
            keep = i != q.unsqueeze(1)
            order = torch.sort((~keep).to(torch.int8), dim=1, stable=True).indices
            i, s = i.gather(1, order)[:, :k], s.gather(1, order)[:, :k]
            drop = ~keep.gather(1, order)[:, :k]
            i[drop], s[drop] = -1, float("-inf")
        if i.shape[1] < k:
            i = torch.cat([i, torch.full((q.numel(), k - i.shape[1]), -1, dtype=torch.long)], 1)
            s = torch.cat([s, torch.full((q.numel(), k - s.shape[1]), float("-inf"))], 1)
        dev = self.embeddings.device
        return i.to(dev), s.to(dev, self.embeddings.dtype)


def build_index(embeddings: torch.Tensor, method: str = "exact", **kwargs: Any) -> ExactIndex | LSHIndex | FaissIndex:
    """``exact``, ``lsh`` (keyword arguments go to :class:`LSHIndex`) or ``faiss``."""
    if method == "exact":
        return ExactIndex(embeddings, **kwargs)
    if method == "lsh":
        return LSHIndex(embeddings, **kwargs)
    if method == "faiss":
        return FaissIndex(embeddings, **kwargs)
    raise ValueError(f"method must be 'exact', 'lsh' or 'faiss', got {method!r}")


def recall_at_k(approx_ids: torch.Tensor, exact_ids: torch.Tensor) -> float:
    """Share of the exact top-k (ignoring −1 padding) that the approximate lists found, over all rows."""
    if approx_ids.shape[0] != exact_ids.shape[0]:
        raise ValueError(f"{approx_ids.shape[0]} approximate rows but {exact_ids.shape[0]} exact rows")
    a, e = approx_ids.to(exact_ids.device), exact_ids
    found = ((e.unsqueeze(2) == a.unsqueeze(1)) & (e.unsqueeze(2) >= 0)).any(2)
    total = int((e >= 0).sum())
    return float(found.sum()) / total if total else float("nan")


@dataclass(frozen=True)
class Recommendations:
    """One query's list: ``ids`` (best first), their ``titles`` and ``scores``."""

    query: int
    query_title: str
    ids: list[int]
    titles: list[str]
    scores: list[float]

    def __str__(self) -> str:
        lines = [f"nearest to {self.query_title} (item {self.query}):"]
        lines += [f"  {s:6.3f}  {t}" for s, t in zip(self.scores, self.titles)]
        return "\n".join(lines)


def recommend(index: ExactIndex | LSHIndex | FaissIndex, item: int | str, k: int = 10, *,
              titles: Sequence[str] | None = None) -> Recommendations:
    """The ``k`` nearest items to ``item`` (an id, or — with ``titles`` — part of a title; the first match).

    Unknown ids and titles matching nothing raise ValueError naming them.
    """
    n = len(index)
    if titles is not None and len(titles) != n:
        raise ValueError(f"{len(titles)} titles for an index of {n} items")
    if isinstance(item, str):
        if titles is None:
            raise ValueError(f"item {item!r} is a title: pass titles= to look it up")
        needle = item.casefold()
        found = [i for i, t in enumerate(titles) if needle in t.casefold()]
        if not found:
            raise ValueError(f"no item title contains {item!r}")
        item = found[0]
    if isinstance(item, bool) or not isinstance(item, int) or not 0 <= item < n:
        raise ValueError(f"item {item!r} is not an item id: the index holds items 0..{n - 1}")
    ids, scores = index.search([item], k)
    keep = ids[0] >= 0
    got = ids[0][keep].tolist()
    name = (lambda i: titles[i]) if titles is not None else (lambda i: f"item {i}")
    return Recommendations(item, name(item), got, [name(i) for i in got], scores[0][keep].tolist())
