"""Figures render without a screen, and exercise checkers say right, wrong and not attempted."""

from __future__ import annotations

import functools
import re

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


# ---------------------------------------------------------------------------- notebook 03: γ and CONVOLVE
def _pool_solution(kind, messages, weights, mask):
    m = torch.where(mask.unsqueeze(-1), messages, torch.zeros_like(messages))
    if kind == "importance":
        a = torch.where(mask, weights, torch.zeros_like(weights))
        return (a.unsqueeze(-1) * m).sum(1) / a.sum(1, keepdim=True).clamp_min(1e-12)
    if kind == "mean":
        return m.sum(1) / mask.sum(1, keepdim=True).clamp_min(1)
    return m.amax(1)


def _pool_with(kind, wrong):
    return lambda k, m, w, mask: wrong(m, w, mask) if k == kind else _pool_solution(k, m, w, mask)


def test_check_pooling_accepts_a_right_answer(capsys):
    exercises.check_pooling(_pool_solution)
    assert "check_pooling: importance, mean and max correct" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, hint", [
    (_pool_with("importance", lambda m, w, mask: (w.unsqueeze(-1) * m).sum(1) / w.sum(1, keepdim=True)),
     "padded slots must not contribute"),
    (_pool_with("importance", lambda m, w, mask: _pool_solution("mean", m, w, mask)), "weighs each message by its α"),
    (_pool_with("importance", lambda m, w, mask: (torch.where(mask, w, 0.0).unsqueeze(-1)
                                                  * torch.where(mask.unsqueeze(-1), m, 0.0)).sum(1)),
     "sum of the kept weights"),
    (_pool_with("mean", lambda m, w, mask: torch.where(mask.unsqueeze(-1), m, 0.0).sum(1) / m.shape[1]), "not by T"),
    (_pool_with("mean", lambda m, w, mask: _pool_solution("importance", m, w, mask)), "ignore α"),
    (_pool_with("mean", lambda m, w, mask: torch.where(mask.unsqueeze(-1), m, 0.0).sum(1) / mask.sum(1, keepdim=True)),
     "NaN or inf"),
    (_pool_with("max", lambda m, w, mask: m.amax(1)), "must not win the max"),
    (_pool_with("max", lambda m, w, mask: torch.where(mask.unsqueeze(-1), m, float("-inf")).amax(1)), "NaN or inf"),
    (_pool_with("max", lambda m, w, mask: m.amax(1, keepdim=True)), "shape"),
])
def test_check_pooling_explains_a_wrong_answer(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        exercises.check_pooling(wrong)


def _convolve_solution(z_self, z_nb, weights, mask, Q, q, W, w):
    messages = torch.relu(z_nb @ Q.T + q)
    a = torch.where(mask, weights, torch.zeros_like(weights))
    n_u = (a.unsqueeze(-1) * messages).sum(1) / a.sum(1, keepdim=True).clamp_min(1e-12)
    h = torch.relu(torch.cat([z_self, n_u], 1) @ W.T + w)
    return h / h.norm(dim=1, keepdim=True).clamp_min(1e-12)


def test_check_convolve_accepts_a_right_answer_and_trains_it_above_popularity(capsys):
    import random

    import numpy as np

    before = (torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())
    exercises.check_convolve(_convolve_solution)
    out = capsys.readouterr().out
    assert "check_convolve: correct on 3 cases" in out and "end to end" in out and out.count("✓") == 2
    hr, pop = (float(v) for v in re.search(r"hit-rate@10 ([\d.]+)% vs popularity ([\d.]+)%", out).groups())
    assert hr > 2 * pop  # the end-to-end margin is wide: a correct answer never fails it by chance
    assert torch.equal(torch.get_rng_state(), before[0]) and (np.random.get_state()[1] == before[1]).all()
    assert random.getstate() == before[2]


def _convolve_slip(**slip):
    from pinsage_edu.exercises import _convolve_reference

    return lambda *args: _convolve_reference(*args, **slip)


@pytest.mark.parametrize("wrong, hint", [
    (_convolve_slip(normalize=False), "line 3"),
    (_convolve_slip(relu_messages=False), "ReLU comes before pooling"),
    (_convolve_slip(relu_out=False), "line 2"),
    (_convolve_slip(concat_self_first=False), "own vector first"),
    (_convolve_slip(mask_weights=False), "padded slots must not count"),
    (lambda zs, zn, a, mask, Q, q, W, w: torch.relu(zn @ Q + q), "stores Q as \\[m, in_dim\\]"),
    (lambda *args: _convolve_solution(*args).detach(), "carries no gradient"),
    (lambda zs, zn, a, mask, Q, q, W, w: _convolve_solution(zs, zn, a, mask, Q, q, W, w)[:, :1], "shape"),
    (lambda zs, zn, a, mask, Q, q, W, w: (lambda h: h / h.norm(dim=1, keepdim=True))(torch.relu(torch.cat(
        [zs, (torch.where(mask, a, 0.0).unsqueeze(-1) * torch.relu(zn @ Q.T + q)).sum(1)
         / torch.where(mask, a, 0.0).sum(1, keepdim=True)], 1) @ W.T + w)), "no neighbour has Σα = 0"),
])
def test_check_convolve_explains_a_wrong_answer(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        exercises.check_convolve(wrong)


def test_check_convolve_fails_a_layer_that_does_not_learn(monkeypatch):
    # right on every case, but its training goes nowhere: the end-to-end test must catch what the cases miss
    monkeypatch.setattr(exercises, "_convolve_e2e", lambda student: (0.02, 0.035, 120, 398))
    with pytest.raises(AssertionError, match="not above popularity"):
        exercises.check_convolve(_convolve_solution)


# ---------------------------------------------------------------------------- notebook 05: the loss, masks included
def _margin_solution(z_q, z_pos, z_neg, queries, positives, negatives, margin):
    hinge = torch.relu(z_q @ z_neg.T - (z_q * z_pos).sum(1, keepdim=True) + margin)
    keep = (negatives[None, :] != queries[:, None]) & (negatives[None, :] != positives[:, None])
    return ((hinge * keep).sum(1) / keep.sum(1).clamp_min(1)).mean()


def _margin_with(keep, reduce):
    def loss(zq, zp, zn, q, p, n, margin):
        hinge = torch.relu(zq @ zn.T - (zq * zp).sum(1, keepdim=True) + margin)
        return reduce(hinge, keep(q, p, n).float())
    return loss


_BOTH = lambda q, p, n: (n[None] != q[:, None]) & (n[None] != p[:, None])  # noqa: E731
_PER_QUERY = lambda h, k: ((h * k).sum(1) / k.sum(1).clamp_min(1)).mean()  # noqa: E731


def test_check_margin_loss_accepts_a_right_answer(capsys):
    exercises.check_margin_loss(_margin_solution)
    assert "check_margin_loss: correct on 4 cases" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, hint", [
    (lambda zq, zp, zn, q, p, n, m: torch.relu(zq @ zn.T - (zq * zp).sum(1, keepdim=True) + m).mean(),
     "is not a negative: mask it out"),
    (_margin_with(_BOTH, lambda h, k: (h * k).sum(1).div(h.shape[1]).mean()), "not by N"),
    (_margin_with(_BOTH, lambda h, k: (h * k).sum() / k.sum()), "average per query first"),
    (_margin_with(_BOTH, lambda h, k: ((h * k).sum(1) / k.sum(1)).mean()), "clamp its count"),
    (_margin_with(lambda q, p, n: n[None] != q[:, None], _PER_QUERY), "mask the positive too"),
    (_margin_with(lambda q, p, n: n[None] != p[:, None], _PER_QUERY), "mask the query itself too"),
    (lambda zq, zp, zn, q, p, n, m: _margin_solution(zq, zp, zn, q, p, n, -m), "the margin is added"),
    (lambda zq, zp, zn, q, p, n, m: _PER_QUERY(zq @ zn.T - (zq * zp).sum(1, keepdim=True) + m, _BOTH(q, p, n).float()),
     "clip each hinge"),
    (lambda *args: _margin_solution(*args).detach(), "no gradient"),
    (lambda zq, zp, zn, q, p, n, m: torch.relu(zq @ zn.T - (zq * zp).sum(1, keepdim=True) + m).mean(1), "scalar"),
])
def test_check_margin_loss_explains_a_wrong_answer(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        exercises.check_margin_loss(wrong)


# ---------------------------------------------------------------------------- notebook 06: a minibatch's hard negatives
def _hard_batch_solution(ranked, queries, positives, num_items, h, generator, *, band=None, draw="random",
                         both_directions=True, skip_query=True):
    lo = round(2000 * (num_items / 2e9) ** 0.25)
    hi = round(2.5 * lo)
    if band is not None:
        lo, hi = band(lo, hi)
    out = torch.full((len(queries), h), -1, dtype=torch.long)
    for b, q in enumerate(queries.tolist()):
        known = [positives[positives[:, 0] == q, 1]] + ([positives[positives[:, 1] == q, 0]] if both_directions else [])
        window = ranked[b, lo:hi]
        keep = (window >= 0) & ~torch.isin(window, torch.cat(known))
        cand = window[keep & (window != q)] if skip_query else window[keep]
        if draw == "first":
            pick = cand[:h]
        elif draw == "global":
            pick = cand[torch.randperm(len(cand))[:h]]
        elif draw == "with replacement":
            pick = cand[torch.randint(len(cand), (min(h, len(cand)),), generator=generator)] if len(cand) else cand
        else:
            pick = cand[torch.randperm(len(cand), generator=generator)[:h]]
        out[b, :len(pick)] = pick
    return out


def test_check_hard_negative_batch_accepts_a_right_answer_and_the_library(capsys):
    from pinsage_edu.negatives import hard_negative_band, hard_negatives
    from pinsage_edu.walks import PPRRanking

    def library(ranked, queries, positives, num_items, h, generator):
        ranking = PPRRanking(queries, ranked, torch.zeros(ranked.shape), ranked >= 0)
        return hard_negatives(ranking, h, hard_negative_band(num_items), positives=positives, generator=generator).ids

    for answer in (_hard_batch_solution, library):
        before = torch.get_rng_state()
        exercises.check_hard_negative_batch(answer)
        assert "check_hard_negative_batch: correct on 4 batches" in capsys.readouterr().out
        assert torch.equal(torch.get_rng_state(), before)


@pytest.mark.parametrize("kwargs, hint", [
    (dict(draw="first"), "not uniform"),
    (dict(draw="with replacement"), "an item twice"),
    (dict(draw="global"), "global random numbers"),
    (dict(both_directions=False), "known positive.*both columns"),
    (dict(skip_query=False), "the query itself"),
    (dict(band=lambda lo, hi: (2000, 5000)), "got 0 items.*lo = round"),
    (dict(band=lambda lo, hi: (lo + 1, hi + 1)), "outside the band"),
    (dict(band=lambda lo, hi: (lo, hi - 3)), "misses the ends"),
    (dict(band=lambda lo, hi: (0, 1)), "at rank 0, outside the band"),
])
def test_check_hard_negative_batch_explains_a_wrong_answer(kwargs, hint):
    before = torch.get_rng_state()
    with pytest.raises(AssertionError, match=hint):
        exercises.check_hard_negative_batch(functools.partial(_hard_batch_solution, **kwargs))
    assert torch.equal(torch.get_rng_state(), before)  # even a draw from the global RNG leaves it as it was


def test_check_hard_negative_batch_wants_a_batch_shaped_answer():
    with pytest.raises(AssertionError, match="shape \\[B, n_hard\\]"):
        exercises.check_hard_negative_batch(lambda r, q, pos, n, h, g: _hard_batch_solution(r, q, pos, n, h, g)[:, :1])


@pytest.mark.parametrize("check", [exercises.check_pooling, exercises.check_convolve, exercises.check_margin_loss,
                                   exercises.check_hard_negative_batch])
def test_new_checkers_report_an_unattempted_exercise(check, capsys):
    def stub(*args):
        raise NotImplementedError

    check(stub)
    assert "not attempted" in capsys.readouterr().out
