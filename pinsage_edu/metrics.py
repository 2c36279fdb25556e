"""§4 the measures: does a recommender put the held-out related item near the top?

The paper's **hit-rate** is the share of labelled pairs (q, i) whose i appears among the top k
recommendations for q (k = 500 among ~5 million candidates there; k = 10 among our few thousand).
The paper's **scaled MRR** is the mean of 1 / ⌈rank / s⌉ with s = 100 among ~5 million candidates,
so that ranks 1 and 2 among millions count (almost) alike. With a catalogue of N items the same
coarseness is s = 100 · N / 5,000,000 (:func:`mrr_scale`): 1 (plain MRR) below 50,000 items, 20 at a
million.

Every method is a :class:`Recommender`: ``scores(queries) → [Q, N]``, higher is better, and
:func:`evaluate_recommender` ranks all items by it (equal scores by item id, the query itself
skipped), so hit-rate and MRR come from one ranking for every method alike.
:class:`EmbeddingRecommender` (nearest neighbours by dot product) is PinSage's; the baselines are in
:mod:`pinsage_edu.baselines`. Training's validation uses :func:`target_ranks`, :func:`hit_rate`,
:func:`scaled_mrr` and :func:`mrr_scale` directly.

**Similarity kurtosis** (Figure 4, :func:`similarity_kurtosis`): how the embeddings use the space.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Protocol, Sequence

import torch

from .utils import check_pairs

__all__ = ["hits", "hit_rate", "target_ranks", "mrr_scale", "scaled_mrr", "Recommender", "EmbeddingRecommender",
           "Metrics", "score_ranks", "evaluate_recommender", "compare", "similarity_distribution", "kurtosis",
           "similarity_kurtosis"]


# ---------------------------------------------------------------------------------------------------
# Hit-rate, ranks and scaled MRR
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


def target_ranks(embeddings: torch.Tensor, queries: torch.Tensor, targets: torch.Tensor, *,
                 exclude_query: bool = True, chunk_size: int | None = None) -> torch.Tensor:
    """LongTensor [P]: the rank (1 = best) of ``targets[p]`` among all items by dot product with ``queries[p]``.

    Rank = 1 + the number of items scoring higher than the target, or as high with a smaller id
    (the order of :func:`~pinsage_edu.knn.exact_top_k` and :func:`score_ranks`, so a collapsed model
    whose items all score alike gets no credit); the query itself is skipped when ``exclude_query``. Queries are scored in
    chunks, so memory stays at ``chunk_size × num_items`` scores (default: about 2²⁴ scores).
    """
    if embeddings.dim() != 2:
        raise ValueError(f"embeddings must be [num_items, d], got shape {tuple(embeddings.shape)}")
    n = embeddings.shape[0]
    if chunk_size is None:
        chunk_size = max(1, (1 << 24) // max(n, 1))
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
        ids = torch.arange(n, device=scores.device).unsqueeze(0)
        better = (scores > own) | ((scores == own) & (ids < tc.unsqueeze(1)))
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


# ---------------------------------------------------------------------------------------------------
# Recommenders: scores over the whole catalogue for a chunk of queries
class Recommender(Protocol):
    """Anything with a ``name``, ``num_items`` and ``scores(queries) → FloatTensor [Q, num_items]``."""

    name: str
    num_items: int

    def scores(self, queries: torch.Tensor) -> torch.Tensor: ...


class EmbeddingRecommender:
    """Scores = dot products with the query's embedding (cosines for unit vectors)."""

    def __init__(self, name: str, embeddings: torch.Tensor):
        if embeddings.dim() != 2:
            raise ValueError(f"{name}: embeddings must be [num_items, d], got shape {tuple(embeddings.shape)}")
        if not bool(torch.isfinite(embeddings).all()):
            raise ValueError(f"{name}: the embeddings hold NaN or infinite values")
        self.name, self.embeddings, self.num_items = name, embeddings, int(embeddings.shape[0])

    def scores(self, queries: torch.Tensor) -> torch.Tensor:
        e = self.embeddings
        return e.index_select(0, queries.to(e.device)) @ e.T


# ---------------------------------------------------------------------------------------------------
# Ranks, hit-rate and MRR from scores
@dataclass
class Metrics:
    """One recommender's figures on a set of pairs: ``hit_rate`` @ ``k``, scaled ``mrr`` (rank divisor
    ``scale``), the ``ranks`` of every pair's answer and the seconds the scoring took."""

    name: str
    hit_rate: float
    mrr: float
    k: int
    scale: int
    ranks: torch.Tensor
    seconds: float = 0.0
    kurtosis: float = float("nan")

    @property
    def num_pairs(self) -> int:
        return int(self.ranks.numel())

    def stderr(self) -> float:
        """Standard error of the hit-rate (binomial): √(p(1 − p)/n)."""
        n = self.num_pairs
        return math.sqrt(self.hit_rate * (1 - self.hit_rate) / n) if n else float("nan")


def score_ranks(scores: torch.Tensor, queries: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """LongTensor [Q]: the rank (1 = best) of ``targets[j]`` in row j of ``scores`` [Q, N].

    Items are ordered by score, best first, equal scores by increasing item id (the order of
    :func:`~pinsage_edu.knn.exact_top_k`), and the query itself is skipped. So ``rank <= K`` exactly
    when the target is in the method's top-k list.
    """
    Q, N = scores.shape
    dev = scores.device
    q, t = queries.to(dev), targets.to(dev)
    own = scores.gather(1, t.unsqueeze(1))
    ids = torch.arange(N, device=dev).unsqueeze(0)
    ahead = (scores > own) | ((scores == own) & (ids < t.unsqueeze(1)))
    ahead[torch.arange(Q, device=dev), q] = False
    return 1 + ahead.sum(1)


def _pairs(pairs: Any, n: int) -> torch.Tensor:
    """Held-out pairs as checked ids; a query is never its own answer (it is excluded from its ranking)."""
    p = check_pairs("pairs", pairs, n)
    if bool((p[:, 0] == p[:, 1]).any()):
        row = int(torch.nonzero(p[:, 0] == p[:, 1])[0])
        raise ValueError(f"pair {row} relates item {int(p[row, 0])} to itself")
    return p


def evaluate_recommender(rec: Recommender, pairs: Any, *, k: int = 10, scale: int | None = None,
                         chunk_size: int = 512) -> Metrics:
    """Hit-rate@k and scaled MRR of ``rec`` on ``pairs`` [P, 2] (q, i), scoring ``chunk_size`` queries
    at a time (memory: chunk_size × N scores). ``scale`` None: :func:`mrr_scale` of the catalogue."""
    if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size <= 0:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    p = _pairs(pairs, rec.num_items)
    scale = mrr_scale(rec.num_items) if scale is None else scale
    t0 = time.perf_counter()
    ranks = []
    for lo in range(0, p.shape[0], chunk_size):
        q, t = p[lo:lo + chunk_size, 0], p[lo:lo + chunk_size, 1]
        s = rec.scores(q)
        if tuple(s.shape) != (q.numel(), rec.num_items):
            raise ValueError(f"{rec.name}: scores must be [{q.numel()}, {rec.num_items}], got {tuple(s.shape)}")
        ranks.append(score_ranks(s, q, t).cpu())
    r = torch.cat(ranks) if ranks else torch.zeros(0, dtype=torch.long)
    hit = int((r <= k).sum()) / r.numel() if r.numel() else float("nan")
    return Metrics(rec.name, hit, scaled_mrr(r, scale), k, scale, r, time.perf_counter() - t0)


def compare(recommenders: Sequence[Recommender], pairs: Any, *, k: int = 10, scale: int | None = None,
            kurtosis_pairs: int = 20_000, seed: int = 0) -> list[Metrics]:
    """:func:`evaluate_recommender` for each, on the same pairs; embedding methods also get the
    kurtosis of their similarity distribution (:func:`similarity_kurtosis`)."""
    out = []
    for rec in recommenders:
        m = evaluate_recommender(rec, pairs, k=k, scale=scale)
        if isinstance(rec, EmbeddingRecommender):
            m.kurtosis = similarity_kurtosis(rec.embeddings, num_pairs=kurtosis_pairs, generator=seed)
        out.append(m)
    return out


# ---------------------------------------------------------------------------------------------------
# Figure 4: how the embeddings use the space
def similarity_distribution(embeddings: torch.Tensor, num_pairs: int = 100_000, *,
                            generator: torch.Generator | int | None = 0) -> torch.Tensor:
    """Cosine similarities of ``num_pairs`` random pairs of distinct items (rows normalised first)."""
    if embeddings.dim() != 2 or embeddings.shape[0] < 2:
        raise ValueError(f"need [N >= 2, d] embeddings, got shape {tuple(embeddings.shape)}")
    gen = generator if isinstance(generator, torch.Generator) else torch.Generator().manual_seed(
        0 if generator is None else int(generator))
    n = embeddings.shape[0]
    a = torch.randint(0, n, (num_pairs,), generator=gen)
    b = (a + torch.randint(1, n, (num_pairs,), generator=gen)) % n  # never a itself
    e = torch.nn.functional.normalize(embeddings.float().cpu(), dim=1)
    return (e.index_select(0, a) * e.index_select(0, b)).sum(1)


def kurtosis(values: torch.Tensor) -> float:
    """Excess kurtosis E[(x − μ)⁴] / σ⁴ − 3 (0 for a normal distribution; NaN if constant)."""
    x = values.double().reshape(-1)
    if x.numel() < 2:
        return float("nan")
    d = x - x.mean()
    var = float((d * d).mean())
    return float((d ** 4).mean()) / var ** 2 - 3.0 if var > 0 else float("nan")


def similarity_kurtosis(embeddings: torch.Tensor, num_pairs: int = 100_000, *,
                        generator: torch.Generator | int | None = 0) -> float:
    """The paper's Figure 4 statistic: excess kurtosis of random pairs' cosine similarities (PinSage
    0.43, visual 1.20, annotation 2.49 there). Lower: the similarities spread over more of [−1, 1]."""
    return kurtosis(similarity_distribution(embeddings, num_pairs, generator=generator))
