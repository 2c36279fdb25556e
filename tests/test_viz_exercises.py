"""Figures render without a screen, and exercise checkers say right, wrong and not attempted."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest
import torch
from matplotlib.figure import Figure

from pinsage_edu import BipartiteGraph, exercises, synthetic_pins_boards, viz


@pytest.fixture(scope="module")
def small():
    return BipartiteGraph.from_edges([0, 1, 2, 1, 2, 3, 3, 4], [0, 0, 0, 1, 1, 1, 2, 2])


def test_degree_histogram_shares_sum_to_one(small):
    values, share = viz.degree_histogram(small.item_degrees)
    assert values.tolist() == [1, 2] and share.tolist() == [0.4, 0.6]


def test_two_hop_graph_holds_the_item_its_collections_and_their_items(small):
    G = viz.two_hop_graph(small, 3)
    assert set(G.nodes) == {("i", 3), ("c", 1), ("c", 2), ("i", 1), ("i", 2), ("i", 4)}
    assert G.nodes[("i", 3)]["center"]


def test_two_hop_graph_samples_at_most_the_requested_sizes():
    ds = synthetic_pins_boards(2000, 300, 20000, seed=1)
    g = ds.graph()
    hub = int(torch.argmax(g.item_degrees))
    G = viz.two_hop_graph(g, hub, max_collections=3, max_items_per_collection=4)
    colls = [n for n in G if n[0] == "c"]
    assert len(colls) == 3 and len(G) <= 1 + 3 + 3 * 4


def test_figures_render(small):
    ds = synthetic_pins_boards(2000, 300, 20000, seed=1)
    figs = [
        viz.plot_degree_distributions({"toy": small, "synthetic": ds.graph()}),
        viz.draw_two_hop(small, 3, ["a", "b", "c", "d", "e"], ["x", "y", "z"]),
        viz.draw_pins_boards(small, list("abcde"), list("xyz")),
        viz.plot_topic_structure(ds),
    ]
    for fig in figs:
        assert isinstance(fig, Figure) and fig.axes
        fig.canvas.draw()


def test_topic_structure_needs_ground_truth(small):
    from pinsage_edu import load_dataset

    with pytest.raises(ValueError, match="no ground-truth topics"):
        viz.plot_topic_structure(load_dataset("ml-latest-small"))


def test_check_indptr_accepts_a_right_answer(capsys):
    def right(rows, n):
        return torch.cat([torch.zeros(1, dtype=torch.long), torch.cumsum(torch.bincount(rows, minlength=n), 0)])

    exercises.check_indptr(right)
    assert "check_indptr: correct" in capsys.readouterr().out


def test_check_indptr_explains_a_wrong_answer():
    def off_by_one(rows, n):
        return torch.cumsum(torch.bincount(rows, minlength=n), 0)

    with pytest.raises(AssertionError, match="needs .* entries"):
        exercises.check_indptr(off_by_one)


def test_check_indptr_reports_an_unattempted_exercise(capsys):
    def stub(rows, n):
        raise NotImplementedError

    exercises.check_indptr(stub)
    assert "not attempted" in capsys.readouterr().out


def test_render_two_hop_draws_the_matching_item_and_captions_its_reach():
    from pinsage_edu import load_dataset, widgets

    ds = load_dataset("synthetic", num_pins=500, num_boards=60, num_edges=4000, seed=2)
    fig, caption = widgets.render_two_hop(ds, ds.graph(), "pin 7", max_collections=2)
    assert isinstance(fig, Figure)
    g = ds.graph()
    assert caption.startswith(f"pin 7: {g.collections_of(7).numel()} collections, {g.two_hop_items(7).numel():,} items")


def test_render_two_hop_names_an_unknown_title():
    from pinsage_edu import load_dataset, widgets

    ds = load_dataset("synthetic", num_pins=500, num_boards=60, num_edges=4000, seed=2)
    with pytest.raises(KeyError, match="no item title contains 'zebra'"):
        widgets.render_two_hop(ds, ds.graph(), "zebra")


# ---------------------------------------------------------------------------- notebook 02: walks
def _top_t_solution(items, counts, T, shuffle_seed=None):
    if shuffle_seed is None:
        order = torch.argsort(items)  # ties: smaller id first
    else:
        order = torch.randperm(items.numel(), generator=torch.Generator().manual_seed(shuffle_seed))  # ties: random
    items, counts = items[order], counts[order]
    keep = torch.sort(-counts, stable=True).indices[:T]
    ids, w = torch.full((T,), -1), torch.zeros(T)
    ids[: keep.numel()] = items[keep]
    w[: keep.numel()] = counts[keep].float() / counts[keep].sum().clamp_min(1)
    return ids, w


def test_draw_walks_draws_each_walk_with_its_length(small):
    from pinsage_edu.walks import random_walks

    walks = random_walks(small, [3], num_walks=3, num_traversals=2, termination_prob=0.0, generator=0)
    fig = viz.draw_walks(walks, [f"item {i}" for i in range(5)], [f"board {c}" for c in range(3)])
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["walk 1: 2 traversals", "walk 2: 2 traversals", "walk 3: 2 traversals"]
    assert "3 random walks from 'item 3'" in fig.axes[0].get_title()


def test_visit_count_chart_marks_the_top_t_cut():
    items, counts = torch.tensor([4, 2, 7, 1, 0]), torch.tensor([9, 6, 3, 2, 1])
    fig = viz.plot_visit_counts(items, counts, [f"movie {i}" for i in range(8)], 2)
    ax = fig.axes[0]
    bars = ax.patches
    assert len(bars) == 5 and [b.get_height() for b in bars] == [9, 6, 3, 2, 1]
    alphas = [t.get_text() for t in ax.texts if t.get_text().startswith("0.")]
    assert alphas == ["0.600", "0.400"]  # α over the kept two: 9/15, 6/15
    assert any("T = 2" in t.get_text() for t in ax.texts)


def test_ppr_convergence_figure_has_both_panels():
    fig = viz.plot_ppr_convergence([10, 100, 1000], [1.0, 0.4, 0.1], [0.2, 0.6, 0.9])
    assert len(fig.axes) == 2 and fig.axes[0].get_xscale() == "log"


@pytest.mark.parametrize("shuffle_seed", [None, 0, 1, 2])
def test_check_top_t_accepts_a_right_answer_with_any_tie_order(capsys, shuffle_seed):
    exercises.check_top_t(lambda i, c, T: _top_t_solution(i, c, T, shuffle_seed))
    assert "check_top_t: correct on 4 cases" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, hint", [
    (lambda i, c, T: (_top_t_solution(i, c, T)[0][: T - 1], _top_t_solution(i, c, T)[1][: T - 1]), "pad with id -1"),
    (lambda i, c, T: (_top_t_solution(i, c, T)[0].flip(0), _top_t_solution(i, c, T)[1].flip(0)), "wrong order"),
    (lambda i, c, T: (_top_t_solution(i, c, T)[0], _top_t_solution(i, c, T)[1] * 0.5), "sum of the kept counts"),
    (lambda i, c, T: (torch.full((T,), 0), torch.zeros(T)), "never invent neighbours"),
    (lambda i, c, T: (torch.where(torch.arange(T) < min(T, i.numel()), i[:1].repeat(T) if i.numel() else -1, -1),
                      _top_t_solution(i, c, T)[1]), "never repeat one"),
    (lambda i, c, T: [0] * T, "pair of tensors"),
])
def test_check_top_t_explains_a_wrong_answer(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        exercises.check_top_t(wrong)


def test_check_top_t_reports_an_unattempted_exercise(capsys):
    def stub(items, counts, T):
        raise NotImplementedError

    exercises.check_top_t(stub)
    assert "not attempted" in capsys.readouterr().out


def test_render_neighborhood_lists_importance_and_uniform_neighbours(ml_small, ml_small_split):
    from pinsage_edu import widgets

    ds = ml_small
    fig, caption = widgets.render_neighborhood(ds, ml_small_split.graph, "Toy Story (1995)", num_neighbors=4,
                                               num_walks=500)
    lines = caption.splitlines()
    assert lines[0].startswith("Toy Story (1995) — importance neighbours") and len(lines) == 5
    assert all(" | " in line for line in lines[1:])
    assert isinstance(fig, Figure) and "500 walks" in fig.axes[0].get_title()
    with pytest.raises(KeyError, match="no item title contains 'zzzz'"):
        widgets.render_neighborhood(ds, ml_small_split.graph, "zzzz")


def test_explorers_build_and_redraw_when_a_control_changes(ml_small, ml_small_split, capsys):
    from pinsage_edu import widgets

    box = widgets.neighborhood_explorer(ml_small, ml_small_split.graph)
    title = box.children[0].children[0]
    title.value = "Matrix, The"
    title.value = "zzzz"  # an unknown title prints its message instead of failing
    out = capsys.readouterr().out
    assert "Matrix, The (1999) — importance neighbours" in out and "no item title contains 'zzzz'" in out
    two = widgets.two_hop_explorer(ml_small, ml_small_split.graph)
    two.children[0].children[1].value = 3
    assert "collections" in capsys.readouterr().out
