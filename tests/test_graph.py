"""BipartiteGraph: construction, invariants, queries, subgraphs and persistence.

The hand example used throughout (5 items, 4 collections; item 4 isolated, collection 3 empty):

    edges given   (2,1,1.0) (0,0,2.0) (1,0,1.0) (0,2,0.5) (2,1,3.0) (3,2,1.0) (0,1,1.0)
    unique edges  (0,0,2) (0,1,1) (0,2,.5) (1,0,1) (2,1,4) (3,2,1)      -- (2,1) merged: 1 + 3 = 4
    item CSR      indptr [0,3,4,5,6,6]  indices [0,1,2,0,1,2]  weights [2,1,.5,1,4,1]
    coll CSR      indptr [0,2,4,6,6]    indices [0,1,0,2,0,3]  weights [2,1,1,4,.5,1]
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from pinsage_edu.graph import BipartiteGraph, GraphError

ITEMS = [2, 0, 1, 0, 2, 3, 0]
COLLS = [1, 0, 0, 2, 1, 2, 1]
WEIGHTS = [1.0, 2.0, 1.0, 0.5, 3.0, 1.0, 1.0]


@pytest.fixture
def g() -> BipartiteGraph:
    return BipartiteGraph.from_edges(ITEMS, COLLS, WEIGHTS, num_items=5, num_collections=4)


@pytest.fixture
def g_unweighted() -> BipartiteGraph:
    return BipartiteGraph.from_edges(ITEMS, COLLS, num_items=5, num_collections=4)


def dense_from_item_csr(g: BipartiteGraph) -> np.ndarray:
    a = np.zeros((g.num_items, g.num_collections))
    w = g.item_weights if g.weighted else torch.ones(g.num_edges)
    for u in range(g.num_items):
        for e in range(int(g.item_indptr[u]), int(g.item_indptr[u + 1])):
            a[u, int(g.item_indices[e])] += float(w[e])
    return a


def dense_from_coll_csr(g: BipartiteGraph) -> np.ndarray:
    b = np.zeros((g.num_collections, g.num_items))
    w = g.coll_weights if g.weighted else torch.ones(g.num_edges)
    for c in range(g.num_collections):
        for e in range(int(g.coll_indptr[c]), int(g.coll_indptr[c + 1])):
            b[c, int(g.coll_indices[e])] += float(w[e])
    return b


def random_edges(seed: int, n_items=40, n_colls=15, n_edges=300):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, n_items, n_edges), rng.integers(0, n_colls, n_edges),
            rng.uniform(0.1, 2.0, n_edges).astype(np.float32))


def assert_same_graph(a: BipartiteGraph, b: BipartiteGraph) -> None:
    assert (a.num_items, a.num_collections, a.weighted) == (b.num_items, b.num_collections, b.weighted)
    for name in ("item_indptr", "item_indices", "item_weights", "coll_indptr", "coll_indices", "coll_weights"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            assert x.dtype == y.dtype and torch.equal(x, y), name


# ---------------------------------------------------------------------------------------- construction
def test_from_edges_builds_the_hand_worked_csr(g):
    assert (g.num_items, g.num_collections, g.num_edges) == (5, 4, 6)
    assert g.item_indptr.tolist() == [0, 3, 4, 5, 6, 6]
    assert g.item_indices.tolist() == [0, 1, 2, 0, 1, 2]
    assert g.item_weights.tolist() == [2.0, 1.0, 0.5, 1.0, 4.0, 1.0]
    assert g.coll_indptr.tolist() == [0, 2, 4, 6, 6]
    assert g.coll_indices.tolist() == [0, 1, 0, 2, 0, 3]
    assert g.coll_weights.tolist() == [2.0, 1.0, 1.0, 4.0, 0.5, 1.0]
    assert g.item_indptr.dtype == g.item_indices.dtype == g.coll_indices.dtype == torch.long
    assert g.item_weights.dtype == g.coll_weights.dtype == torch.float32
    assert g.weighted


def test_from_edges_merges_duplicates_by_summing_weights():
    g = BipartiteGraph.from_edges([0, 0, 0, 1], [1, 1, 1, 0], [0.5, 1.5, 2.0, 3.0])
    assert g.num_edges == 2
    assert g.collections_of(0).tolist() == [1]
    assert g.item_weights.tolist() == [4.0, 3.0]


def test_unweighted_duplicates_simply_collapse(g_unweighted):
    assert g_unweighted.num_edges == 6 and not g_unweighted.weighted
    assert g_unweighted.item_weights is None and g_unweighted.coll_weights is None
    assert g_unweighted.item_indices.tolist() == [0, 1, 2, 0, 1, 2]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_from_edges_equals_the_dense_sum_of_its_edges(seed):
    it, co, w = random_edges(seed)
    g = BipartiteGraph.from_edges(it, co, w, num_items=40, num_collections=15)
    expected = np.zeros((40, 15))
    np.add.at(expected, (it, co), w)
    np.testing.assert_allclose(dense_from_item_csr(g), expected, rtol=1e-5)
    assert g.num_edges == int((expected > 0).sum())


@pytest.mark.parametrize("weighted", [True, False])
def test_csr_halves_are_transposes(g, g_unweighted, weighted):
    graph = g if weighted else g_unweighted
    np.testing.assert_array_equal(dense_from_item_csr(graph), dense_from_coll_csr(graph).T)
    it, co, w = random_edges(7)
    big = BipartiteGraph.from_edges(it, co, w if weighted else None, num_items=40, num_collections=15)
    np.testing.assert_array_equal(dense_from_item_csr(big), dense_from_coll_csr(big).T)


def test_rows_are_sorted_in_both_halves():
    it, co, w = random_edges(3)
    g = BipartiteGraph.from_edges(it, co, w)
    for indptr, indices in ((g.item_indptr, g.item_indices), (g.coll_indptr, g.coll_indices)):
        for r in range(len(indptr) - 1):
            row = indices[indptr[r]: indptr[r + 1]]
            assert bool((row[1:] > row[:-1]).all())  # strictly: sorted and no duplicates


def test_degrees_sum_to_the_edge_count_on_both_sides(g):
    assert g.item_degrees.tolist() == [3, 1, 1, 1, 0]
    assert g.collection_degrees.tolist() == [2, 2, 2, 0]
    assert int(g.item_degrees.sum()) == int(g.collection_degrees.sum()) == g.num_edges
    it, co, _ = random_edges(5)
    big = BipartiteGraph.from_edges(it, co)
    assert int(big.item_degrees.sum()) == int(big.collection_degrees.sum()) == big.num_edges


def test_num_items_and_num_collections_keep_isolated_nodes():
    g = BipartiteGraph.from_edges([0, 1], [1, 0], num_items=6, num_collections=9)
    assert (g.num_items, g.num_collections) == (6, 9)
    assert g.item_degrees.tolist() == [1, 1, 0, 0, 0, 0]
    assert g.collection_degrees.tolist() == [1, 1] + [0] * 7
    g.validate()
    default = BipartiteGraph.from_edges([0, 3], [1, 0])
    assert (default.num_items, default.num_collections) == (4, 2)  # max id + 1


def test_edges_round_trip_through_from_edges(g):
    items, colls, w = g.edges()
    assert items.tolist() == [0, 0, 0, 1, 2, 3]
    assert colls.tolist() == [0, 1, 2, 0, 1, 2]
    assert_same_graph(BipartiteGraph.from_edges(items, colls, w, num_items=5, num_collections=4), g)


def test_integer_valued_float_ids_are_accepted():
    g = BipartiteGraph.from_edges(torch.tensor([0.0, 2.0]), np.array([1.0, 0.0]))
    assert g.item_indices.dtype == torch.long and g.num_items == 3 and g.num_edges == 2


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(items=[0, -1], collections=[0, 0]), "non-negative"),
        (dict(items=[0, 1], collections=[0, -3]), "non-negative"),
        (dict(items=[0, 5], collections=[0, 0], num_items=5), "out of range"),
        (dict(items=[0, 1], collections=[0, 2], num_collections=2), "out of range"),
        (dict(items=[0, 1], collections=[0]), "same length"),
        (dict(items=[0, 1], collections=[0, 1], weights=[1.0]), "one entry per edge"),
        (dict(items=[0, 1], collections=[0, 1], weights=[1.0, float("nan")]), "finite and non-negative"),
        (dict(items=[0, 1], collections=[0, 1], weights=[1.0, float("inf")]), "finite and non-negative"),
        (dict(items=[0, 1], collections=[0, 1], weights=[-0.5, 1.0]), "finite and non-negative"),
        (dict(items=[[0, 1]], collections=[0, 1]), "1-D"),
        (dict(items=[0, 1], collections=[[0], [1]]), "1-D"),
        (dict(items=[0, 1], collections=[0, 1], weights=[[1.0, 1.0]]), "1-D"),
        (dict(items=[0.5, 1.0], collections=[0, 1]), "integer ids"),
        (dict(items=[True, False], collections=[0, 1]), "integer ids"),
        (dict(items=[], collections=[], num_items=-1), "non-negative"),
    ],
)
def test_from_edges_rejects_invalid_edges(kwargs, match):
    with pytest.raises(GraphError, match=match):
        BipartiteGraph.from_edges(**kwargs)


def test_graph_error_is_a_value_error():
    assert issubclass(GraphError, ValueError)


def test_constructor_checks_array_shapes(g):
    with pytest.raises(GraphError, match="num_items \\+ 1"):
        dataclasses.replace(g, num_items=4)
    with pytest.raises(GraphError, match="both halves or neither"):
        dataclasses.replace(g, coll_weights=None)
    with pytest.raises(GraphError, match="same number of edges"):
        dataclasses.replace(g, coll_indices=g.coll_indices[:-1])


# ---------------------------------------------------------------------------------------- validate
def test_validate_passes_on_built_graphs(g, g_unweighted):
    g.validate()
    g_unweighted.validate()
    it, co, w = random_edges(11)
    BipartiteGraph.from_edges(it, co, w).validate()
    BipartiteGraph.from_edges([], []).validate()


@pytest.mark.parametrize(
    "change, match",
    [
        (dict(item_indptr=[0, 3, 4, 5, 6, 5]), "end at the edge count"),
        (dict(item_indptr=[1, 3, 4, 5, 6, 6]), "start at 0"),
        (dict(coll_indptr=[0, 4, 2, 6, 6]), "non-decreasing"),
        (dict(item_indices=[0, 1, 9, 0, 1, 2]), "outside"),
        (dict(coll_indices=[0, 1, 0, 2, 0, -1]), "outside"),
        (dict(item_indices=[0, 1, 2, 0, 1, 3]), "transposes"),  # item 3 moved to collection 3
        (dict(item_indices=[1, 0, 2, 0, 1, 2]), "sorted|transposes"),  # item row 0 unsorted
        (dict(item_weights=[2.0, 1.0, 0.5, 1.0, 4.0, 7.0]), "weights"),
        (dict(coll_weights=[1.0, 2.0, 1.0, 4.0, 0.5, 1.0]), "weights"),
    ],
)
def test_validate_rejects_corrupted_graphs(g, change, match):
    dtype = {k: (torch.float32 if "weights" in k else torch.long) for k in change}
    bad = dataclasses.replace(g, **{k: torch.tensor(v, dtype=dtype[k]) for k, v in change.items()})
    with pytest.raises(GraphError, match=match):
        bad.validate()


def test_validate_rejects_duplicate_edges():
    one = torch.tensor([0, 0])
    bad = BipartiteGraph(num_items=1, num_collections=1, item_indptr=torch.tensor([0, 2]), item_indices=one * 0,
                         item_weights=None, coll_indptr=torch.tensor([0, 2]), coll_indices=one * 0, coll_weights=None)
    with pytest.raises(GraphError, match="duplicate"):
        bad.validate()


def test_validate_rejects_unsorted_collection_rows(g):
    # Collection 0 holds items [0, 1]; the same edges listed as [1, 0] break "each half is sorted by
    # (row, column)", which validate() promises to check ("sorted rows").
    bad = dataclasses.replace(g, coll_indices=torch.tensor([1, 0, 0, 2, 0, 3]),
                              coll_weights=torch.tensor([1.0, 2.0, 1.0, 4.0, 0.5, 1.0]))
    with pytest.raises(GraphError):
        bad.validate()


# ---------------------------------------------------------------------------------------- queries
def test_collections_of_and_items_of_read_the_hand_example(g):
    assert g.collections_of(0).tolist() == [0, 1, 2]
    assert g.collections_of(4).tolist() == []
    assert g.items_of(1).tolist() == [0, 2]
    assert g.items_of(3).tolist() == []


@pytest.mark.parametrize("method, bad", [("collections_of", 5), ("collections_of", -1), ("items_of", 4),
                                         ("items_of", -1), ("two_hop_items", 5)])
def test_unknown_ids_raise_graph_error(g, method, bad):
    with pytest.raises(GraphError, match=f"unknown .* id {bad}"):
        getattr(g, method)(bad)


def test_two_hop_items_are_the_distinct_co_members_without_the_item_itself(g):
    assert g.two_hop_items(0).tolist() == [1, 2, 3]
    assert g.two_hop_items(1).tolist() == [0]
    assert g.two_hop_items(2).tolist() == [0]
    assert g.two_hop_items(4).tolist() == []


def test_two_hop_items_match_a_dense_computation():
    it, co, _ = random_edges(4)
    g = BipartiteGraph.from_edges(it, co, num_items=40, num_collections=15)
    a = dense_from_item_csr(g) > 0
    co_occurs = (a.astype(int) @ a.T.astype(int)) > 0
    for u in range(g.num_items):
        expected = [v for v in np.nonzero(co_occurs[u])[0].tolist() if v != u]
        assert g.two_hop_items(u).tolist() == expected


def test_two_hop_paths_count_every_shared_collection_as_the_dense_product():
    it, co, _ = random_edges(4)
    g = BipartiteGraph.from_edges(it, co, num_items=40, num_collections=15)
    a = dense_from_item_csr(g) > 0
    shared = a.astype(int) @ a.T.astype(int)  # [N, N]: collections two items share
    q = torch.tensor([3, 0, 3, 39, 17])
    rows, items = g.two_hop_paths(q)
    counts = torch.zeros(q.numel(), g.num_items, dtype=torch.long).index_put_((rows, items), torch.ones_like(rows),
                                                                             accumulate=True)
    assert counts.tolist() == shared[q.numpy()].tolist()


def test_summary_figures_on_the_hand_example(g):
    s = g.summary(quantiles=(0.0, 0.5, 1.0))
    assert (s.num_items, s.num_collections, s.num_edges) == (5, 4, 6)
    assert s.isolated_items == 1 and s.empty_collections == 1 and s.weighted
    assert s.item_degree == {"p0": 0.0, "p50": 1.0, "p100": 3.0}  # degrees [3,1,1,1,0]
    assert s.collection_degree == {"p0": 0.0, "p50": 2.0, "p100": 2.0}  # degrees [2,2,2,0]
    full = g.summary()
    assert list(full.item_degree) == ["p0", "p25", "p50", "p75", "p90", "p99", "p100"]
    # linear interpolation over sorted degrees [0,1,1,1,3]: p90 at position 3.6 -> 1 + 0.6 * 2
    assert full.item_degree["p90"] == pytest.approx(2.2)
    text = str(full)
    assert "items 5 · collections 4 · edges 6 (weighted)" in text
    assert "isolated items 1 · empty collections 1" in text


def test_summary_quantile_labels_name_the_percentile(g):
    s = g.summary(quantiles=(0.29, 0.57))
    assert list(s.item_degree) == ["p29", "p57"]


def test_repr_names_the_sizes(g):
    assert repr(g) == "BipartiteGraph(items=5, collections=4, edges=6, weighted=True, device=cpu)"


# ---------------------------------------------------------------------------------------- devices
def test_to_cpu_keeps_every_array(g, g_unweighted):
    for graph in (g, g_unweighted):
        moved = graph.to("cpu")
        assert moved.device == torch.device("cpu")
        assert_same_graph(moved, graph)
    assert g.to(torch.device("cpu")).item_weights is not None


# ---------------------------------------------------------------------------------------- subgraphs
def test_subgraph_reindexes_items_and_drops_empty_collections(g):
    sub, item_ids, coll_ids = g.subgraph([3, 1])
    assert item_ids.tolist() == [1, 3] and coll_ids.tolist() == [0, 2]
    assert (sub.num_items, sub.num_collections) == (2, 2)
    # global (1, c0, 1.0), (3, c2, 1.0) -> local (0, 0), (1, 1)
    assert sub.item_indptr.tolist() == [0, 1, 2] and sub.item_indices.tolist() == [0, 1]
    assert sub.item_weights.tolist() == [1.0, 1.0]
    sub.validate()


def test_subgraph_keeps_weights_and_can_keep_every_collection(g):
    sub, item_ids, coll_ids = g.subgraph([0, 2, 0])  # duplicates in the request are ignored
    assert item_ids.tolist() == [0, 2] and coll_ids.tolist() == [0, 1, 2]
    assert sub.item_indices.tolist() == [0, 1, 2, 1]
    assert sub.item_weights.tolist() == [2.0, 1.0, 0.5, 4.0]
    assert sub.items_of(1).tolist() == [0, 1]
    sub.validate()
    full, _, coll_ids = g.subgraph([3, 1], drop_empty_collections=False)
    assert coll_ids.tolist() == [0, 1, 2, 3] and full.num_collections == 4
    assert full.item_indices.tolist() == [0, 2]
    full.validate()


def test_subgraph_edges_map_back_to_original_edges():
    it, co, w = random_edges(9)
    g = BipartiteGraph.from_edges(it, co, w, num_items=40, num_collections=15)
    keep = torch.tensor([1, 5, 6, 17, 30, 39])
    sub, item_ids, coll_ids = g.subgraph(keep)
    a, b = dense_from_item_csr(g), dense_from_item_csr(sub)
    np.testing.assert_array_equal(b, a[np.ix_(item_ids.numpy(), coll_ids.numpy())])
    assert (b.sum(0) > 0).all()  # no empty collection kept


def test_subgraph_rejects_unknown_items(g):
    with pytest.raises(GraphError, match="unknown item id 9"):
        g.subgraph([0, 9])


def test_subgraph_of_nothing_is_empty(g):
    sub, item_ids, coll_ids = g.subgraph([])
    assert (sub.num_items, sub.num_collections, sub.num_edges) == (0, 0, 0)
    assert item_ids.numel() == coll_ids.numel() == 0


# ---------------------------------------------------------------------------------------- empty graphs
def test_an_empty_graph_works(tmp_path):
    g = BipartiteGraph.from_edges([], [])
    assert (g.num_items, g.num_collections, g.num_edges) == (0, 0, 0)
    g.validate()
    s = g.summary()
    assert s.num_edges == 0 and s.item_degree["p50"] == 0.0
    g2 = BipartiteGraph.from_edges([], [], num_items=3, num_collections=2)
    assert g2.item_indptr.tolist() == [0, 0, 0, 0] and g2.coll_indptr.tolist() == [0, 0, 0]
    assert g2.summary().isolated_items == 3 and g2.summary().empty_collections == 2
    assert g2.collections_of(2).tolist() == [] and g2.two_hop_items(0).tolist() == []
    items, colls, w = g2.edges()
    assert items.numel() == colls.numel() == 0 and w is None
    for mmap in (True, False):
        loaded = BipartiteGraph.load(g2.save(tmp_path / f"empty-{mmap}"), mmap=mmap, validate=True)
        assert_same_graph(loaded, g2)


# ---------------------------------------------------------------------------------------- persistence
@pytest.mark.parametrize("mmap", [True, False])
@pytest.mark.parametrize("weighted", [True, False])
def test_save_load_round_trip(g, g_unweighted, tmp_path, mmap, weighted):
    graph = g if weighted else g_unweighted
    folder = graph.save(tmp_path / "graph")
    assert folder == tmp_path / "graph"
    meta = json.loads((folder / "graph.json").read_text())
    assert meta["num_edges"] == 6 and meta["weighted"] is weighted
    assert (folder / "item_weights.npy").exists() is weighted
    loaded = BipartiteGraph.load(folder, mmap=mmap, validate=True)
    assert_same_graph(loaded, graph)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["graph"]  # no temporary folder left behind


def test_mmap_load_is_copy_on_write(g, tmp_path):
    folder = g.save(tmp_path / "graph")
    loaded = BipartiteGraph.load(folder, mmap=True)
    loaded.item_weights[0] = 99.0  # writes to the loaded copy only
    assert BipartiteGraph.load(folder, mmap=False).item_weights[0] == 2.0


def test_save_over_an_existing_graph_replaces_it(g, tmp_path):
    folder = tmp_path / "graph"
    g.save(folder)
    other = BipartiteGraph.from_edges([0, 1, 2], [0, 0, 1])  # unweighted: the old weight files must go
    other.save(folder)
    assert_same_graph(BipartiteGraph.load(folder, validate=True), other)
    assert not (folder / "item_weights.npy").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["graph"]


def test_save_refuses_to_replace_a_folder_that_is_not_a_graph(g, tmp_path):
    folder = tmp_path / "my-notes"
    folder.mkdir()
    (folder / "notes.txt").write_text("precious")
    with pytest.raises(GraphError, match="not a saved graph"):
        g.save(folder)
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
    assert (folder / "notes.txt").read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my-notes"]  # no temporary folder left behind


def test_save_creates_missing_parent_folders(g, tmp_path):
    folder = g.save(tmp_path / "a" / "b" / "graph")
    assert_same_graph(BipartiteGraph.load(folder), g)


def test_load_of_a_missing_folder_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="graph.json"):
        BipartiteGraph.load(tmp_path / "nothing-here")


def test_load_rejects_broken_saves(g, tmp_path):
    folder = g.save(tmp_path / "graph")
    meta_path = folder / "graph.json"
    meta = json.loads(meta_path.read_text())

    meta_path.write_text("{not json")
    with pytest.raises(GraphError, match="not valid JSON"):
        BipartiteGraph.load(folder)

    meta_path.write_text(json.dumps(dict(meta, version=99)))
    with pytest.raises(GraphError, match="format version"):
        BipartiteGraph.load(folder)

    meta_path.write_text(json.dumps(dict(meta, num_edges=7)))
    with pytest.raises(GraphError, match="7 edges"):
        BipartiteGraph.load(folder)

    meta_path.write_text(json.dumps(meta))
    np.save(folder / "coll_indices.npy", np.array([0, 1, 0, 2, 0, 4]))  # item 4 for item 3: other edges
    BipartiteGraph.load(folder)  # shapes are fine: only validate=True looks inside
    with pytest.raises(GraphError, match="transposes"):
        BipartiteGraph.load(folder, validate=True)

    (folder / "coll_indices.npy").unlink()
    with pytest.raises(FileNotFoundError, match="coll_indices.npy"):
        BipartiteGraph.load(folder)


# ------------------------------------------------------------------ found in review
@pytest.mark.parametrize("items, message", [
    (["a", "b"], "integer ids"),
    ([float("inf"), 0.0], "integer ids"),
])
def test_from_edges_names_ids_that_are_not_integers(items, message):
    with pytest.raises(GraphError, match=message):
        BipartiteGraph.from_edges(items, [0, 1])


def test_from_edges_refuses_a_fractional_node_count():
    with pytest.raises(GraphError, match="num_items must be an integer"):
        BipartiteGraph.from_edges([0], [0], num_items=2.5)


def test_accessors_refuse_fractional_ids(g):
    with pytest.raises(GraphError, match="must be an integer"):
        g.collections_of(1.5)
    with pytest.raises(GraphError, match="must be an integer"):
        g.items_of("0")
    assert torch.equal(g.collections_of(torch.tensor(0)), g.collections_of(0))


@pytest.mark.parametrize("meta, message", [
    ("[1, 2]", "not a pinsage_edu graph"),
    (None, "field 'weighted'"),
])
def test_load_names_a_malformed_graph_json(tmp_path, g, meta, message):
    folder = g.save(tmp_path / "g")
    path = folder / "graph.json"
    if meta is None:
        doc = json.loads(path.read_text())
        del doc["weighted"]
        meta = json.dumps(doc)
    path.write_text(meta)
    with pytest.raises(GraphError, match=message):
        BipartiteGraph.load(folder)


def test_load_refuses_arrays_of_the_wrong_dtype(tmp_path, g):
    folder = g.save(tmp_path / "g")
    np.save(folder / "item_indices.npy", g.item_indices.numpy().astype(np.int32))
    with pytest.raises(GraphError, match="item_indices.npy: expected a 1-D int64 array"):
        BipartiteGraph.load(folder)
