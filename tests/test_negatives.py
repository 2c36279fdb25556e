"""Shared negatives, hard negatives from the PPR rank band, and the curriculum."""

from __future__ import annotations

import pytest
import torch

from pinsage_edu.negatives import (curriculum, curriculum_schedule, hard_negative_band, hard_negatives,
                                   shared_negative_mask, shared_negatives)
from pinsage_edu.walks import PPRRanking, ppr_rank


def ranking(num_queries: int, k: int, num_items: int = 1000) -> PPRRanking:
    """Query q ranks items q+1, q+2, … (mod num_items) — easy to reason about."""
    q = torch.arange(num_queries)
    ids = (q.unsqueeze(1) + torch.arange(1, k + 1)) % num_items
    return PPRRanking(q, ids, torch.linspace(1, 0, k).expand(num_queries, k).clone(), torch.ones(num_queries, k,
                                                                                                  dtype=torch.bool))


def test_the_band_scales_to_the_catalogue():
    assert hard_negative_band(2_000_000_000) == (2000, 5000)  # the paper's own catalogue
    assert hard_negative_band(6298) == (84, 210)  # MovieLens' 6,298 movies
    assert hard_negative_band(1_000_000) == (299, 748)
    lo, hi = hard_negative_band(10)
    assert 0 < lo < hi <= 9
    assert hard_negative_band(6298, band=(10, 50)) == (10, 50)


def test_a_band_outside_the_catalogue_is_refused():
    with pytest.raises(ValueError, match="band"):
        hard_negative_band(100, band=(50, 100))
    with pytest.raises(ValueError, match="band"):
        hard_negative_band(100, band=(30, 20))
    with pytest.raises(ValueError, match="too small"):
        hard_negative_band(2)


def test_hard_negatives_come_from_the_rank_band():
    r = ranking(50, 40)
    hn = hard_negatives(r, 6, (10, 30), generator=0)
    assert hn.ids.shape == (50, 6) and bool(hn.mask.all())
    rank = (hn.ids - r.queries.unsqueeze(1) - 1) % 1000  # position in the ranking
    assert int(rank.min()) >= 10 and int(rank.max()) < 30
    assert all(row.unique().numel() == 6 for row in hn.ids)  # distinct per query


def test_hard_negatives_never_include_the_query_or_its_positives():
    r = ranking(20, 40, num_items=30)  # small catalogue: the ranking wraps round to the query itself
    pos = torch.tensor([[0, 15], [22, 3]])  # (0, 15) and, the other way round, (3, 22)
    hn = hard_negatives(r, 20, (10, 30), positives=pos, generator=0)
    for b in range(20):
        got = set(hn.ids[b][hn.mask[b]].tolist())
        assert b not in got
    assert 15 not in hn.ids[0].tolist() and 22 not in hn.ids[3].tolist()
    assert int(hn.mask[0].sum()) == 18  # 20 slots in the band, minus the query and its positive: padded


def test_hard_negatives_are_uniform_over_the_band_and_seeded():
    r = ranking(1, 40)
    draws = torch.cat([hard_negatives(r, 2, (10, 20), generator=s).ids[0] for s in range(2000)])
    counts = torch.bincount(draws - 1, minlength=40)[10:20].float()
    expected = 2000 * 2 / 10
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 27.9  # chi-square, 9 degrees of freedom, p = 0.001
    a = hard_negatives(r, 3, (10, 20), generator=5)
    b = hard_negatives(r, 3, (10, 20), generator=5)
    assert torch.equal(a.ids, b.ids)


def test_rows_select_from_a_precomputed_ranking_and_zero_means_none():
    r = ranking(10, 40)
    hn = hard_negatives(r, 2, (5, 9), rows=torch.tensor([7, 7, 2]), generator=0)
    assert hn.queries.tolist() == [7, 7, 2]
    assert hard_negatives(r, 0, (5, 9)).ids.shape == (10, 0)
    with pytest.raises(ValueError, match="k=50"):
        hard_negatives(r, 2, (10, 50))
    with pytest.raises(ValueError, match="num_negatives"):
        hard_negatives(r, -1, (5, 9))


def test_hard_negatives_on_a_real_ppr_ranking(ml_small_split):
    g = ml_small_split.graph
    band = hard_negative_band(g.num_items)
    q = ml_small_split.train_pairs[:5, 0]
    r = ppr_rank(g, q, k=band[1])
    hn = hard_negatives(r, 4, band, positives=ml_small_split.train_pairs, generator=0)
    for b in range(5):
        ranks = [int((r.ids[b] == i).nonzero()) for i in hn.ids[b].tolist()]
        assert all(band[0] <= x < band[1] for x in ranks)


def test_shared_negatives_and_their_mask():
    n = shared_negatives(100, 500, generator=0)
    assert n.shape == (500,) and int(n.min()) >= 0 and int(n.max()) < 100
    assert torch.equal(n, shared_negatives(100, 500, generator=0))
    m = shared_negative_mask(torch.tensor([1, 2, 3]), torch.tensor([1, 5]), torch.tensor([3, 2]))
    assert m.tolist() == [[False, True, False], [True, False, True]]


def test_curriculum_counts():
    assert [curriculum(e) for e in range(1, 10)] == [0, 1, 2, 3, 4, 5, 6, 6, 6]
    assert curriculum_schedule(4, max_hard=2) == [0, 1, 2, 2]
    with pytest.raises(ValueError, match="epoch"):
        curriculum(0)
