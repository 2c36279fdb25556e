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
