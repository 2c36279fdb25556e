"""Train / val / test splits and related-item pairs.

Hand example (val_fraction = test_fraction = 0.2; counts are floor(n * fraction)):

    collection 0, 10 items, by time: 1 5 3 7 0 8 | 4 9 | 2 6      -> 6 train, 2 val, 2 test
    collection 1,  5 items, by time: 11 10 12 | 2 | 5             -> 3 train, 1 val, 1 test
    collection 2,  2 items, by time: 4 3                          -> too small: both train

    pairs (previous item by time, this item) go to the part of "this item"'s edge.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pinsage_edu.data import DataError, Interactions, related_pairs, split_interactions

from _helpers import edges_of, make_interactions

TIME_C0 = {0: 50, 1: 10, 2: 90, 3: 30, 4: 70, 5: 20, 6: 100, 7: 40, 8: 60, 9: 80}
TIME_C1 = {10: 15, 11: 5, 12: 25, 2: 35, 5: 45}
TIME_C2 = {3: 7, 4: 3}


@pytest.fixture
def timed() -> Interactions:
    edges = [(i, 0, t) for i, t in TIME_C0.items()] + [(i, 1, t) for i, t in TIME_C1.items()] + \
            [(i, 2, t) for i, t in TIME_C2.items()]
    order = np.random.default_rng(0).permutation(len(edges))  # input order must not matter
    return make_interactions([edges[k] for k in order], num_items=13, num_collections=3)


def pair_list(p: torch.Tensor) -> list[tuple[int, int]]:
    return sorted(map(tuple, p.tolist()))


def untimed_disjoint(sizes: list[int]) -> Interactions:
    """Untimed collections over disjoint item ranges: collection c holds items 100c .. 100c + n_c - 1."""
    edges = [(100 * c + k, c) for c, n in enumerate(sizes) for k in range(n)]
    return make_interactions(edges, num_items=100 * len(sizes), num_collections=len(sizes), timed=False)


# ---------------------------------------------------------------------------------------- temporal split
def test_temporal_split_puts_the_latest_edges_in_test(timed):
    s = split_interactions(timed, val_fraction=0.2, test_fraction=0.2)
    assert s.method == "temporal"
    assert edges_of(s.train) == {(1, 0), (5, 0), (3, 0), (7, 0), (0, 0), (8, 0),
                                 (11, 1), (10, 1), (12, 1), (4, 2), (3, 2)}
    assert edges_of(s.val) == {(4, 0), (9, 0), (2, 1)}
    assert edges_of(s.test) == {(2, 0), (6, 0), (5, 1)}


def test_split_parts_keep_their_times_and_id_spaces(timed):
    s = split_interactions(timed, val_fraction=0.2, test_fraction=0.2)
    times = {0: TIME_C0, 1: TIME_C1, 2: TIME_C2}
    for part in (s.train, s.val, s.test):
        assert part.num_items == 13 and part.num_collections == 3
        for i, c, t in zip(part.item.tolist(), part.collection.tolist(), part.time.tolist()):
            assert times[c][i] == t


def test_pairs_are_consecutive_items_by_time_in_the_part_of_the_second_edge(timed):
    s = split_interactions(timed, val_fraction=0.2, test_fraction=0.2)
    assert pair_list(s.train_pairs) == sorted([(1, 5), (5, 3), (3, 7), (7, 0), (0, 8), (11, 10), (10, 12), (4, 3)])
    assert pair_list(s.val_pairs) == sorted([(8, 4), (4, 9), (12, 2)])
    assert pair_list(s.test_pairs) == sorted([(9, 2), (2, 6), (2, 5)])
    assert s.train_pairs.dtype == torch.long and s.train_pairs.shape[1] == 2


def test_pair_counts_are_each_collections_size_minus_one(timed):
    s = split_interactions(timed, val_fraction=0.2, test_fraction=0.2)
    # (10 - 1) + (5 - 1) + (2 - 1) = 14 pairs: train 5 + 2 + 1, val 2 + 1, test 2 + 1
    assert (len(s.train_pairs), len(s.val_pairs), len(s.test_pairs)) == (8, 3, 3)


def test_split_pairs_together_are_the_related_pairs(timed):
    s = split_interactions(timed, val_fraction=0.2, test_fraction=0.2, seed=4)
    together = torch.cat([s.train_pairs, s.val_pairs, s.test_pairs])
    assert pair_list(together) == pair_list(related_pairs(timed, seed=4))


def test_distinct_times_make_the_temporal_split_independent_of_the_seed(timed):
    a = split_interactions(timed, val_fraction=0.2, test_fraction=0.2, seed=0)
    b = split_interactions(timed, val_fraction=0.2, test_fraction=0.2, seed=123)
    for part in ("train", "val", "test"):
        assert edges_of(getattr(a, part)) == edges_of(getattr(b, part))
        assert pair_list(getattr(a, f"{part}_pairs")) == pair_list(getattr(b, f"{part}_pairs"))


def test_train_graph_holds_exactly_the_train_edges(timed):
    s = split_interactions(timed, val_fraction=0.2, test_fraction=0.2)
    g = s.graph
    assert (g.num_items, g.num_collections) == (13, 3)  # id spaces stay aligned with the dataset
    items, colls, _ = g.edges()
    assert set(zip(items.tolist(), colls.tolist())) == edges_of(s.train)
    for part in (s.val, s.test):
        for i, c in edges_of(part):
            assert c not in g.collections_of(i).tolist()  # no leakage


def test_cold_items_and_describe(timed):
    s = split_interactions(timed, val_fraction=0.2, test_fraction=0.2)
    assert s.cold_items() == 3  # items 9, 2, 6 appear only in val/test
    text = s.describe()
    assert "split (temporal)" in text and "train 11 / val 3 / test 3" in text
    assert "pairs train 8 / val 3 / test 3" in text and "no train edge 3" in text


def test_zero_fractions_keep_everything_in_train(timed):
    s = split_interactions(timed, val_fraction=0.0, test_fraction=0.0)
    assert len(s.train) == len(timed) and len(s.val) == len(s.test) == 0
    assert len(s.train_pairs) == 14 and len(s.val_pairs) == len(s.test_pairs) == 0


@pytest.mark.parametrize("val, test", [(0.5, 0.5), (0.7, 0.4), (-0.1, 0.1), (0.1, -0.1)])
def test_split_rejects_fractions_that_leave_no_train(timed, val, test):
    with pytest.raises(ValueError, match="fraction"):
        split_interactions(timed, val_fraction=val, test_fraction=test)


def test_split_of_nothing_is_an_error():
    empty = Interactions(item=torch.zeros(0, dtype=torch.long), collection=torch.zeros(0, dtype=torch.long),
                         weight=torch.zeros(0), time=None, num_items=0, num_collections=0)
    with pytest.raises(DataError, match="empty"):
        split_interactions(empty)


def test_dataset_split_is_split_interactions(fixtures_dir):
    from pinsage_edu.loaders import load_movielens

    ds = load_movielens(fixtures_dir / "ml_csv")
    a = ds.split(val_fraction=0.3, test_fraction=0.3, seed=2)
    b = split_interactions(ds.interactions, val_fraction=0.3, test_fraction=0.3, seed=2)
    for part in ("train", "val", "test"):
        assert edges_of(getattr(a, part)) == edges_of(getattr(b, part))
    # user 2 liked movies 7 (t=...400), 8 (...500), 1 (...815): floor(3 * 0.3) = 0 held out per part
    assert len(a.test) == 0
    c = ds.split(val_fraction=0.34, test_fraction=0.34)
    assert edges_of(c.test) == {(0, 1)}  # user 2's last like (movie 1 = item 0)
    assert edges_of(c.val) == {(3, 1)}  # then movie 8 = item 3


# ---------------------------------------------------------------------------------------- untimed data
def test_untimed_split_is_random_and_stratified_per_collection():
    x = untimed_disjoint([12] * 30)
    s = split_interactions(x, val_fraction=0.1, test_fraction=0.1, seed=0)
    assert s.method == "random"
    for part, expected in ((s.train, 10), (s.val, 1), (s.test, 1)):
        assert torch.bincount(part.collection, minlength=30).tolist() == [expected] * 30


def test_untimed_split_is_deterministic_for_a_seed_and_differs_for_another():
    x = untimed_disjoint([12] * 30)
    a = split_interactions(x, val_fraction=0.1, test_fraction=0.1, seed=0)
    b = split_interactions(x, val_fraction=0.1, test_fraction=0.1, seed=0)
    c = split_interactions(x, val_fraction=0.1, test_fraction=0.1, seed=1)
    for part in ("train", "val", "test"):
        assert torch.equal(getattr(a, part).item, getattr(b, part).item)
        assert torch.equal(getattr(a, f"{part}_pairs"), getattr(b, f"{part}_pairs"))
    assert edges_of(a.test) != edges_of(c.test)
    assert not torch.equal(a.train_pairs, c.train_pairs)


def test_every_edge_lands_in_exactly_one_part():
    x = untimed_disjoint([1, 2, 3, 5, 8, 13, 21])
    s = split_interactions(x, val_fraction=0.2, test_fraction=0.3, seed=5)
    parts = [edges_of(s.train), edges_of(s.val), edges_of(s.test)]
    assert len(s.train) + len(s.val) + len(s.test) == len(x)
    assert set().union(*parts) == edges_of(x)
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])


# ---------------------------------------------------------------------------------------- related pairs
def test_related_pairs_give_n_minus_one_pairs_per_collection():
    sizes = [1, 2, 3, 7, 10, 0, 4]
    x = untimed_disjoint([n for n in sizes if n])  # collections hold disjoint items, so pairs say whose
    p = related_pairs(x, seed=3)
    kept = [n for n in sizes if n]
    assert len(p) == sum(n - 1 for n in kept)
    coll_of_q, coll_of_i = p[:, 0] // 100, p[:, 1] // 100
    assert torch.equal(coll_of_q, coll_of_i)  # both items of a pair come from one collection
    assert torch.bincount(coll_of_q, minlength=len(kept)).tolist() == [n - 1 for n in kept]


def test_related_pairs_of_a_collection_form_one_path_through_its_items():
    x = untimed_disjoint([9])
    p = related_pairs(x, seed=11).tolist()
    nxt = dict(p)
    start = (set(range(9)) - {i for _, i in p}).pop()  # the one item that is never an answer
    path = [start]
    while path[-1] in nxt:
        path.append(nxt[path[-1]])
    assert sorted(path) == list(range(9))  # every item visited once: a random order of the collection
    assert p != related_pairs(x, seed=12).tolist()  # another seed, another order


def test_related_pairs_follow_time_when_there_is_time(timed):
    p = related_pairs(timed)
    assert pair_list(p) == sorted([(1, 5), (5, 3), (3, 7), (7, 0), (0, 8), (8, 4), (4, 9), (9, 2), (2, 6),
                                   (11, 10), (10, 12), (12, 2), (2, 5), (4, 3)])


# ---------------------------------------------------------------------------------------- shipped data
def test_ml_latest_small_split_has_no_leakage(ml_small, ml_small_split):
    s, x = ml_small_split, ml_small.interactions
    assert s.method == "temporal"
    train, val, test = edges_of(s.train), edges_of(s.val), edges_of(s.test)
    assert len(train) + len(val) + len(test) == len(x) == 48_580
    assert train | val | test == edges_of(x)
    assert not (train & val or train & test or val & test)
    g = s.graph
    assert g.num_edges == len(s.train) and g.num_items == ml_small.num_items
    items, colls, _ = g.edges()
    graph_keys = set((items * g.num_collections + colls).tolist())
    for part in (s.val, s.test):
        keys = set((part.item * g.num_collections + part.collection).tolist())
        assert not keys & graph_keys


def test_ml_latest_small_split_is_temporal_per_user(ml_small, ml_small_split):
    s, n = ml_small_split, ml_small.num_collections

    def per_user(part, reduce):
        init = torch.full((n,), -1 if reduce == "amax" else 2**62, dtype=torch.long)
        return init.scatter_reduce(0, part.collection, part.time, reduce=reduce)

    has_val = torch.bincount(s.val.collection, minlength=n) > 0
    has_test = torch.bincount(s.test.collection, minlength=n) > 0
    last_train, first_val, last_val = per_user(s.train, "amax"), per_user(s.val, "amin"), per_user(s.val, "amax")
    first_test = per_user(s.test, "amin")
    assert bool((last_train[has_val] <= first_val[has_val]).all())
    assert bool((last_val[has_test & has_val] <= first_test[has_test & has_val]).all())
    assert bool((last_train[has_test] <= first_test[has_test]).all())


def test_ml_latest_small_pair_counts(ml_small, ml_small_split):
    s = ml_small_split
    n = torch.bincount(ml_small.interactions.collection, minlength=ml_small.num_collections)
    assert len(s.train_pairs) + len(s.val_pairs) + len(s.test_pairs) == int((n - 1).sum()) == 48_580 - 609
    n_test = torch.floor(n.double() * 0.1).long()
    assert len(s.test) == int(n_test.sum())
    assert len(s.test_pairs) == int(torch.where(n_test == n, n_test - 1, n_test).sum())
