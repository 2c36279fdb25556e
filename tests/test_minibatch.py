"""Algorithm 2: layered node sets, de-duplication and re-indexing, on a graph small enough to write down."""

from __future__ import annotations

import pytest
import torch

from pinsage_edu.data import synthetic_pins_boards
from pinsage_edu.minibatch import Blocks, NeighborhoodSampler, NeighborhoodTable, sample_blocks
from pinsage_edu.walks import Neighborhoods, importance_neighborhoods


def table(rows: list[list[int]], T: int = 2) -> NeighborhoodTable:
    """A neighbourhood table from lists: item u's neighbours are rows[u] (most important first)."""
    n = len(rows)
    ids = torch.full((n, T), -1)
    for u, r in enumerate(rows):
        ids[u, : len(r)] = torch.tensor(r, dtype=torch.long)
    mask = ids >= 0
    w = mask.float() / mask.float().sum(1, keepdim=True).clamp_min(1)
    return NeighborhoodTable(Neighborhoods(torch.arange(n), ids, w, mask))


# N(0) = {1, 2}, N(1) = {0, 3}, N(2) = {4}, N(3) = {}, N(4) = {2}, N(5) = {0}
TOY = [[1, 2], [0, 3], [4], [], [2], [0]]


def test_node_sets_and_reindexing_by_hand():
    b = sample_blocks([2, 0, 2], 2, table(TOY))
    # S² = {0, 2} (each once); S¹ = S² then the new {1, 4}; S⁰ = S¹ then the new {3}
    assert [t.tolist() for t in b.node_ids] == [[0, 2, 1, 4, 3], [0, 2, 1, 4], [0, 2]]
    assert b.sizes == [5, 4, 2]
    assert b.seed_index.tolist() == [1, 0, 1]  # seed 2 is row 1 of S², seed 0 row 0
    top, bottom = b.layers[1], b.layers[0]
    # layer 2: N(0) = {1, 2} -> rows 2, 1 of S¹; N(2) = {4} -> row 3, then padding
    assert top.neighbors.tolist() == [[2, 1], [3, -1]]
    assert top.mask.tolist() == [[True, True], [True, False]]
    # layer 1: destinations 0, 2, 1, 4 with neighbours as rows of S⁰ = [0, 2, 1, 4, 3]
    assert bottom.neighbors.tolist() == [[2, 1], [3, -1], [0, 4], [1, -1]]
    assert torch.equal(bottom.dst_ids, top.src_ids)
    assert torch.equal(b.input_ids, torch.tensor([0, 2, 1, 4, 3]))


def test_every_local_index_points_at_the_right_global_item():
    g = synthetic_pins_boards(num_pins=400, num_boards=80, seed=0).graph()
    tab = NeighborhoodTable.build(g, 5, generator=0)
    seeds = torch.randint(0, 400, (64,), generator=torch.Generator().manual_seed(0))
    b = sample_blocks(seeds, 3, tab)
    for blk in b.layers:
        want = tab(blk.dst_ids)
        got = torch.where(blk.mask, blk.src_ids[blk.neighbors.clamp_min(0)], torch.full_like(blk.neighbors, -1))
        assert torch.equal(got, want.ids)
        assert torch.equal(blk.weights, want.weights)
        assert torch.equal(blk.src_ids[: blk.num_dst], blk.dst_ids)
        assert blk.src_ids.unique().numel() == blk.num_src  # no item twice in a layer
    assert torch.equal(b.node_ids[-1][b.seed_index], seeds)


def test_each_neighbourhood_is_fetched_once_per_minibatch():
    calls: list[torch.Tensor] = []
    tab = table(TOY)

    def fn(s: torch.Tensor) -> Neighborhoods:
        calls.append(s.clone())
        return tab(s)

    sample_blocks([0], 3, fn)
    asked = torch.cat(calls)
    assert asked.unique().numel() == asked.numel()  # nobody asked twice, although 0 is in every layer


def test_a_fresh_sampler_walks_per_call_and_is_reproducible():
    g = synthetic_pins_boards(num_pins=300, num_boards=60, seed=1).graph()
    a = sample_blocks([1, 2, 3], 2, NeighborhoodSampler(g, 5, generator=7))
    b = sample_blocks([1, 2, 3], 2, NeighborhoodSampler(g, 5, generator=7))
    assert all(torch.equal(x, y) for x, y in zip(a.node_ids, b.node_ids))
    nb = importance_neighborhoods(g, torch.tensor([1, 2, 3]), 5, generator=7)
    assert torch.equal(a.layers[-1].weights, nb.weights)  # the top layer is the first call's walks
    u = sample_blocks([1, 2, 3], 2, NeighborhoodSampler(g, 5, method="uniform", generator=0))
    assert u.num_layers == 2


def test_isolated_items_and_sizes_growing_with_K():
    b = sample_blocks([3], 2, table(TOY))  # item 3 has no neighbours at all
    assert b.sizes == [1, 1, 1] and not bool(b.layers[0].mask.any())
    sizes = [sample_blocks([5], k, table(TOY)).sizes[0] for k in (1, 2, 3, 4)]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]


def test_to_and_pin_memory_move_every_layer():
    b = sample_blocks([0, 1], 2, table(TOY))
    m = b.to("meta")
    assert m.device.type == "meta" and all(blk.neighbors.device.type == "meta" for blk in m.layers)
    if torch.cuda.is_available():
        p = b.pin_memory()
        assert all(blk.src_ids.is_pinned() for blk in p.layers)


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_layers"):
        sample_blocks([0], 0, table(TOY))
    with pytest.raises(ValueError, match="seeds"):
        sample_blocks([0.5], 1, table(TOY))
    with pytest.raises(ValueError, match="negative"):
        sample_blocks([-1], 1, table(TOY))
    with pytest.raises(ValueError, match="not an item id"):
        sample_blocks([6], 1, table(TOY))
    with pytest.raises(ValueError, match="items 0"):
        NeighborhoodTable(Neighborhoods(torch.tensor([1]), torch.zeros(1, 2).long(), torch.zeros(1, 2),
                                        torch.zeros(1, 2, dtype=torch.bool)))
    with pytest.raises(TypeError, match="Neighborhoods"):
        sample_blocks([0], 1, lambda s: s)
    assert isinstance(sample_blocks(torch.tensor([], dtype=torch.long), 2, table(TOY)), Blocks)
    assert sample_blocks([], 2, table(TOY)).sizes == [0, 0, 0]


def test_huge_id_ranges_take_the_sorting_path_and_agree():
    # the same toy graph with every id multiplied by 10^7: too sparse a range for a position table
    big = 10_000_000
    tab = table(TOY)

    def scaled(s: torch.Tensor) -> Neighborhoods:
        nb = tab(s // big)
        return Neighborhoods(s, torch.where(nb.mask, nb.ids * big, nb.ids), nb.weights, nb.mask)

    small = sample_blocks([2, 0, 2], 2, tab)
    huge = sample_blocks(torch.tensor([2, 0, 2]) * big, 2, scaled)
    assert [t.tolist() for t in huge.node_ids] == [[i * big for i in t.tolist()] for t in small.node_ids]
    assert all(torch.equal(a.neighbors, b.neighbors) for a, b in zip(small.layers, huge.layers))
