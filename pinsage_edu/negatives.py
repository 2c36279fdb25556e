"""§3.3: negatives for the max-margin loss — shared uniform negatives, hard negatives from a PPR rank
band, and the curriculum that adds hard negatives epoch by epoch.

* **Shared negatives**: 500 items drawn uniformly once per minibatch and shared by every pair in it.
  They are easy: the model soon separates them and stops learning.
* **Hard negatives**: rank the catalogue by personalized PageRank from the query q
  (:func:`pinsage_edu.walks.ppr_rank`) and draw at random from ranks 2000–5000 — related to q, but
  less than its positive (the top ranks often hold true positives; past 5000 they are easy again).
  The paper's band belongs to a catalogue of about two billion pins; :func:`hard_negative_band`
  scales it to smaller ones (see there), and every caller may set its own band.
* **Curriculum**: epoch 1 uses no hard negatives; epoch n adds n − 1 per query, up to 6.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .utils import TensorFields, check_positive_int, make_generator
from .walks import PPRRanking

__all__ = ["PAPER_BAND", "PAPER_CATALOGUE", "HardNegatives", "hard_negative_band", "hard_negatives", "pair_keys",
           "shared_negatives", "shared_negative_mask", "curriculum", "curriculum_schedule"]

PAPER_BAND = (2000, 5000)
PAPER_CATALOGUE = 2_000_000_000  # pins at Pinterest when the paper was written (§3.1)


def shared_negatives(num_items: int, num_negatives: int = 500, *, device: torch.device | str = "cpu",
                     generator: torch.Generator | int | None = None) -> torch.Tensor:
    """LongTensor [num_negatives]: items drawn uniformly (with replacement) from the whole catalogue.

    With replacement keeps the draw O(num_negatives) on any catalogue; a repeat or a hit on some
    query's positive is harmless once :func:`shared_negative_mask` masks it out of the loss.
    """
    n = check_positive_int("num_items", num_items)
    k = check_positive_int("num_negatives", num_negatives)
    dev = torch.device(device)
    return torch.randint(0, n, (k,), device=dev, generator=make_generator(generator, dev))


def shared_negative_mask(negatives: torch.Tensor, queries: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
    """BoolTensor [B, N]: False where shared negative n is query b itself or its positive (not a negative)."""
    if queries.shape != positives.shape or queries.dim() != 1:
        raise ValueError(f"queries and positives must be 1-D and of equal length, got {tuple(queries.shape)} "
                         f"and {tuple(positives.shape)}")
    n = negatives.unsqueeze(0)
    return (n != queries.unsqueeze(1)) & (n != positives.unsqueeze(1))


def hard_negative_band(num_items: int, *, band: tuple[int, int] | None = None) -> tuple[int, int]:
    """The PPR rank band ``[lo, hi)`` (0-based ranks, query excluded) hard negatives are drawn from.

    Given ``band``, it is checked against the catalogue and returned. Otherwise the paper's band is
    scaled by the **fourth root** of the catalogue size::

        lo = round(2000 · (num_items / 2·10⁹)^¼),   hi = round(2.5 · lo)

    Scaling in proportion would put the band at rank 0.006 of a 6,000-item catalogue — inside the
    true positives; keeping 2000–5000 would make "hard" negatives a third of a small catalogue. The
    number of items genuinely related to a query grows far more slowly than the catalogue, so the
    band should too; the fourth root is our rule of thumb (it keeps the paper's ratio hi/lo = 2.5 and
    gives ranks 84–210 on MovieLens' 6,298 movies, 299–748 on a million items and the paper's own
    band at two billion). Notebook 06 shows what the band holds.
    """
    n = check_positive_int("num_items", num_items)
    if band is not None:
        lo, hi = band
        if not (isinstance(lo, int) and isinstance(hi, int)) or not 0 <= lo < hi <= n - 1:
            raise ValueError(f"band must be two integer ranks 0 <= lo < hi <= num_items - 1 = {n - 1} (the query "
                             f"itself is not ranked), got {band!r}")
        return int(lo), int(hi)
    if n < 3:
        raise ValueError(f"a catalogue of {n} items is too small for a hard-negative rank band")
    lo = max(1, round(PAPER_BAND[0] * (n / PAPER_CATALOGUE) ** 0.25))
    hi = max(lo + 1, round(lo * PAPER_BAND[1] / PAPER_BAND[0]))
    hi = min(hi, n - 1)
    return min(lo, hi - 1), hi


@dataclass(frozen=True)
class HardNegatives(TensorFields):
    """Per-query hard negatives: ``ids`` LongTensor [B, h] (−1 where a query had too few candidates),
    ``mask`` BoolTensor [B, h] True on real ones, ``queries`` LongTensor [B]."""

    queries: torch.Tensor
    ids: torch.Tensor
    mask: torch.Tensor


def pair_keys(pairs: torch.Tensor) -> torch.Tensor:
    """Sorted int64 keys ``a << 32 | b`` of the pairs in both directions (a relation is symmetric here).

    Pass them to :func:`hard_negatives` as ``positive_keys=`` when drawing for many minibatches: the
    sort over all train pairs is then done once, not per minibatch.
    """
    if pairs.dim() != 2 or pairs.shape[1] != 2:
        raise ValueError(f"positives must be a [P, 2] tensor of (query, item) pairs, got {tuple(pairs.shape)}")
    p = pairs.long()
    return torch.unique(torch.cat([(p[:, 0] << 32) | p[:, 1], (p[:, 1] << 32) | p[:, 0]]))


def hard_negatives(ranking: PPRRanking, num_negatives: int, band: tuple[int, int], *,
                   rows: Any = None, positives: torch.Tensor | None = None,
                   positive_keys: torch.Tensor | None = None, generator: torch.Generator | int | None = None) -> HardNegatives:
    """Draw ``num_negatives`` distinct items per query, uniformly from PPR ranks ``band = (lo, hi)``.

    ``ranking`` comes from :func:`~pinsage_edu.walks.ppr_rank` with ``k >= hi`` (the query itself is
    not ranked). ``rows`` picks rows of the ranking (a ranking precomputed for every item, indexed
    by the minibatch's queries); default all. Excluded: the query, any item that forms a known
    positive pair with it (``positives`` [P, 2], either direction; or their sorted
    :func:`pair_keys`, computed once, as ``positive_keys``) and unranked slots. A query with
    fewer than ``num_negatives`` candidates left gets what there is (padding −1, mask False).
    ``num_negatives = 0`` (curriculum epoch 1) returns empty ``[B, 0]`` tensors.
    """
    if isinstance(num_negatives, bool) or not isinstance(num_negatives, int) or num_negatives < 0:
        raise ValueError(f"num_negatives must be an integer >= 0, got {num_negatives!r}")
    lo, hi = band
    if not (isinstance(lo, int) and isinstance(hi, int)) or not 0 <= lo < hi:
        raise ValueError(f"band must be two integer ranks 0 <= lo < hi, got {band!r}")
    if hi > ranking.ids.shape[1]:
        raise ValueError(f"band {band} needs the top {hi} ranks but the ranking holds {ranking.ids.shape[1]}: "
                         f"ppr_rank(..., k={hi})")
    dev = ranking.ids.device
    if rows is None:
        queries, ids, ok = ranking.queries, ranking.ids[:, lo:hi], ranking.mask[:, lo:hi]
    else:
        r = torch.as_tensor(rows, device=dev).long().reshape(-1)
        if r.numel() and (int(r.min()) < 0 or int(r.max()) >= ranking.ids.shape[0]):
            raise ValueError(f"rows must index the ranking's {ranking.ids.shape[0]} queries")
        queries = ranking.queries.index_select(0, r)
        ids, ok = ranking.ids.index_select(0, r)[:, lo:hi], ranking.mask.index_select(0, r)[:, lo:hi]
    B, h = queries.numel(), num_negatives
    if h == 0:
        empty = torch.zeros((B, 0), dtype=torch.long, device=dev)
        return HardNegatives(queries, empty, empty.bool())
    ok = ok & (ids != queries.unsqueeze(1))
    if positives is not None and positive_keys is not None:
        raise ValueError("pass positives= or positive_keys=, not both")
    keys = positive_keys.to(dev) if positive_keys is not None else (
        pair_keys(positives.to(dev)) if positives is not None else None)
    if keys is not None and keys.numel():
        want = (queries.unsqueeze(1) << 32) | ids.clamp_min(0)
        at = torch.searchsorted(keys, want).clamp_max(keys.numel() - 1)  # keys are sorted: binary search
        ok = ok & (keys[at] != want)
    # a random priority per candidate; the h smallest valid ones are a uniform draw without replacement
    prio = torch.rand(ids.shape, device=dev, generator=make_generator(generator, dev))
    prio = prio.masked_fill(~ok, 2.0)
    take = min(h, ids.shape[1])
    p, pos = torch.topk(prio, take, dim=1, largest=False)
    chosen = ids.gather(1, pos)
    mask = p < 2.0
    out_ids = torch.full((B, h), -1, dtype=torch.long, device=dev)
    out_mask = torch.zeros((B, h), dtype=torch.bool, device=dev)
    out_ids[:, :take] = torch.where(mask, chosen, torch.full_like(chosen, -1))
    out_mask[:, :take] = mask
    return HardNegatives(queries, out_ids, out_mask)


def curriculum(epoch: int, max_hard: int = 6) -> int:
    """Hard negatives per query at ``epoch`` (1-based): none in epoch 1, then n − 1, capped at ``max_hard``.

    The paper: training with hard negatives from the start takes about twice the epochs to converge;
    adding them one more per epoch makes the task "harder and harder", ending at 6 per pin.
    """
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 1:
        raise ValueError(f"epoch must be an integer >= 1 (epochs count from 1), got {epoch!r}")
    if isinstance(max_hard, bool) or not isinstance(max_hard, int) or max_hard < 0:
        raise ValueError(f"max_hard must be an integer >= 0, got {max_hard!r}")
    return min(epoch - 1, max_hard)


def curriculum_schedule(num_epochs: int, max_hard: int = 6) -> list[int]:
    """``[curriculum(1), …, curriculum(num_epochs)]``: hard negatives per query in each epoch."""
    return [curriculum(e, max_hard) for e in range(1, check_positive_int("num_epochs", num_epochs) + 1)]
