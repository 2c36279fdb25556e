"""The synthetic generator's regime knobs, the presets, paired standard errors and the regime map."""

from __future__ import annotations

import math
import re

import pytest
import torch

from pinsage_edu.data import SYNTHETIC_PRESETS, synthetic_pins_boards, synthetic_preset
from pinsage_edu.evaluate import Metrics
from pinsage_edu.loaders import load_dataset
from pinsage_edu.regimes import (PAPER_ORDER, PINTEREST_LIKE_TRAIN, GAINS, RegimeMap, SeedRun, SeedTable,
                                 paired_stderr, pinterest_like_config, regime_map, two_hop_coverage)

SIZE = dict(num_pins=3_000, num_boards=600, num_edges=15_000)


def _same(a, b) -> None:
    for name in ("item", "collection", "time"):
        assert torch.equal(getattr(a.interactions, name), getattr(b.interactions, name)), name
    for view in ("visual", "text"):
        assert torch.equal(a.items.vectors[view], b.items.vectors[view]), view
    assert torch.equal(a.items.topic, b.items.topic) and torch.equal(a.collection_topic, b.collection_topic)
    assert a.items.titles == b.items.titles and a.collection_names == b.collection_names and a.dropped == b.dropped


def test_knobs_at_their_defaults_change_nothing():
    plain = synthetic_pins_boards(**SIZE, seed=3)
    explicit = synthetic_pins_boards(**SIZE, seed=3, num_subtopics=1, subtopic_purity=1.0, subtopic_signal=0.0,
                                     catchall_boards=0.0, catchall_size=1.0)
    _same(plain, explicit)
    # sub-topic purity / signal mean nothing without sub-topics, catch-all size nothing without catch-alls
    _same(plain, synthetic_pins_boards(**SIZE, seed=3, subtopic_purity=0.3, subtopic_signal=2.0, catchall_size=5.0))


def test_classroom_preset_is_the_defaults():
    _same(synthetic_preset("classroom", **SIZE, seed=1), synthetic_pins_boards(**SIZE, seed=1))


def _subtopics(ds) -> torch.Tensor:
    pat = re.compile(r"sub-topic (\d+)\.(\d+)")
    parsed = [pat.search(t) for t in ds.items.titles]
    assert all(parsed)
    return torch.tensor([[int(m.group(1)), int(m.group(2))] for m in parsed])


def test_subtopics_nest_in_topics_and_boards_follow_them():
    S = 4
    ds = synthetic_pins_boards(**SIZE, num_topics=10, num_subtopics=S, subtopic_purity=1.0, topic_purity=1.0, seed=0)
    st = _subtopics(ds)
    assert torch.equal(st[:, 0], ds.items.topic)  # the sub-topic's topic is the pin's topic
    assert int(st[:, 1].min()) >= 0 and int(st[:, 1].max()) == S - 1
    sub = st[:, 0] * S + st[:, 1]
    x = ds.interactions
    # with both purities 1 every board holds pins of one sub-topic only
    per_board = torch.zeros(ds.num_collections, 10 * S, dtype=torch.long).index_put_(
        (x.collection, sub[x.item]), torch.ones(len(x), dtype=torch.long), accumulate=True)
    assert int(((per_board > 0).sum(1)).max()) == 1
    # the sub-topic is ground truth only: never a feature
    assert "category" not in ds.items.vectors and all(c == "" for c in ds.items.category)


def test_subtopic_purity_mixes_subtopics_within_the_topic():
    S = 4
    ds = synthetic_pins_boards(**SIZE, num_topics=10, num_subtopics=S, subtopic_purity=0.5, topic_purity=1.0, seed=0)
    st = _subtopics(ds)
    x = ds.interactions
    assert bool((ds.items.topic[x.item] == ds.collection_topic[x.collection]).all())  # still on topic
    sub = st[:, 0] * S + st[:, 1]
    # each board's modal sub-topic holds about 0.5 + 0.5/S of its pins
    counts = torch.zeros(ds.num_collections, 10 * S).index_put_((x.collection, sub[x.item]), torch.ones(len(x)),
                                                                 accumulate=True)
    share = counts.max(1).values.sum() / counts.sum()
    assert 0.5 < float(share) < 0.8


def test_subtopic_signal_separates_subtopics_in_the_features():
    def within_topic_gap(signal: float) -> float:
        ds = synthetic_pins_boards(**SIZE, num_topics=5, num_subtopics=3, subtopic_signal=signal, seed=0)
        st = _subtopics(ds)
        v = ds.items.vectors["visual"]
        sub = st[:, 0] * 3 + st[:, 1]
        means = torch.stack([v[sub == s].mean(0) for s in range(15)])
        # distance between sub-topic means of the same topic
        return float(torch.stack([(means[3 * t] - means[3 * t + 1]).norm() for t in range(5)]).mean())
    assert within_topic_gap(0.0) < 0.5 < within_topic_gap(1.0)


def test_catchall_boards_span_many_topics():
    ds = synthetic_pins_boards(**SIZE, catchall_boards=0.2, catchall_size=3.0, topic_purity=0.9, seed=0)
    catch = torch.tensor([n.startswith("catch-all") for n in ds.collection_names])
    assert 0.1 < float(catch.float().mean()) < 0.3
    x = ds.interactions
    on = (ds.items.topic[x.item] == ds.collection_topic[x.collection]).float()
    on_catch = float(on[catch[x.collection]].mean())
    on_plain = float(on[~catch[x.collection]].mean())
    assert on_catch < 0.15 and on_plain > 0.85  # catch-alls ignore topics (1 in 20 by chance)
    sizes = torch.bincount(x.collection, minlength=ds.num_collections).float()
    assert float(sizes[catch].mean()) > 1.5 * float(sizes[~catch].mean())


def test_catchall_pairs_false_keeps_the_graph_and_drops_only_their_pairs():
    kw = dict(**SIZE, catchall_boards=0.2, topic_purity=0.9, seed=0)
    both, curated = synthetic_pins_boards(**kw), synthetic_pins_boards(**kw, catchall_pairs=False)
    _same(both, curated)  # same graph, features and names, draw for draw
    assert both.pair_collections is None
    catch = torch.tensor([n.startswith("catch-all") for n in curated.collection_names])
    assert torch.equal(curated.pair_collections, ~catch)
    a, b = both.split(seed=1), curated.split(seed=1)
    for part in ("train", "val", "test"):  # the edge split and graph do not move
        assert torch.equal(getattr(a, part).item, getattr(b, part).item)
    assert torch.equal(a.graph.item_degrees, b.graph.item_degrees)
    x = both.interactions
    for name in ("train_pairs", "val_pairs", "test_pairs"):
        pa, pb = getattr(a, name), getattr(b, name)
        assert 0 < len(pb) < len(pa)
        # a subset of the pairs of every board
        rows = {tuple(r) for r in pb.tolist()}
        assert rows <= {tuple(r) for r in pa.tolist()}
    # no pair of a catch-all board survives: every kept pair's two items share a non-catch-all board
    q, i = b.val_pairs[:, 0], b.val_pairs[:, 1]
    A = torch.zeros(curated.num_items, curated.num_collections, dtype=torch.bool)
    A[x.item, x.collection] = True
    assert bool((A[q] & A[i] & ~catch).any(1).all())
    # without catch-alls the knob means nothing
    assert synthetic_pins_boards(**SIZE, seed=0, catchall_pairs=False).pair_collections is None


def test_presets_load_through_load_dataset_and_overrides_win():
    ds = load_dataset("synthetic", preset="pinterest-like", num_pins=2_000, num_boards=500, num_edges=8_000, seed=2)
    assert ds.num_items == 2_000 and ds.num_collections == 500
    assert any(n.startswith("catch-all") for n in ds.collection_names)
    assert int(ds.items.topic.max()) + 1 == SYNTHETIC_PRESETS["pinterest-like"]["num_topics"]
    with pytest.raises(ValueError, match="unknown synthetic preset"):
        synthetic_preset("nope")


def _metrics(name: str, ranks: list[int], k: int = 10) -> Metrics:
    r = torch.tensor(ranks)
    return Metrics(name, float((r <= k).double().mean()), float("nan"), k, 1, r)


def test_paired_stderr_by_hand():
    a = _metrics("a", [1, 3, 20, 5, 50])   # hits 1 1 0 1 0
    b = _metrics("b", [2, 30, 40, 6, 60])  # hits 1 0 0 1 0
    d, se = paired_stderr(a, b)
    # per-pair differences 0 1 0 0 0: mean 0.2, sample sd sqrt(0.2) → s.e. sqrt(0.2)/sqrt(5) = 0.2
    assert d == pytest.approx(0.2) and se == pytest.approx(0.2)
    assert paired_stderr(b, a)[0] == pytest.approx(-0.2)
    assert paired_stderr(a, a) == (0.0, 0.0)
    with pytest.raises(ValueError):
        paired_stderr(a, _metrics("c", [1, 2]))


def test_seed_table_checks_the_paper_order():
    names = ["content: combined", "content (best)", "max-pooling", "mean-pooling", "mean-pooling-xent",
             "mean-pooling-hard", "PinSage"]

    def run(seed: int, hits: dict[str, int]) -> SeedRun:
        return SeedRun(seed, {n: _metrics(n, [1] * h + [99] * (10 - h)) for n, h in hits.items()}, 0.0)
    ok = dict(zip(names, [2, 2, 3, 5, 4, 6, 8]))
    bad = {**ok, "PinSage": 5}
    t = SeedTable([run(0, ok), run(1, ok), run(2, bad)], "val", 10)
    assert t.paper_order_holds(seed=0) and not t.paper_order_holds(seed=2) and not t.paper_order_holds()
    assert t.seeds_holding() == 2
    steps = t.steps()
    assert [(w, b) for w, b, _ in steps] == list(PAPER_ORDER)
    assert steps[3][2][0][0] == pytest.approx(0.2)  # PinSage − mean-pooling-hard in seed 0: 8/10 − 6/10
    text = t.format()
    assert "order holds in 2 of 3 seeds" in text and "mean-pooling-hard < PinSage" in text


def test_train_config_is_explicit():
    c = pinterest_like_config(2)
    assert c.seed == 2 and c.epochs == PINTEREST_LIKE_TRAIN["epochs"]
    assert {"epochs", "batch_size", "lr", "margin", "max_hard_negatives", "hard_band", "max_steps_per_epoch",
            "eval_pairs", "loss", "temperature", "curriculum"} <= set(PINTEREST_LIKE_TRAIN)


def test_two_hop_coverage_on_a_tiny_graph():
    ds = synthetic_pins_boards(num_pins=500, num_boards=50, num_edges=1_000, seed=0)
    g = ds.graph()
    cov = two_hop_coverage(g, sample=100)
    assert 0 < cov < 1
    full = two_hop_coverage(g, sample=10_000)
    # by hand for every item with an edge: |two-hop set − itself| / (N − 1)
    A = torch.zeros(g.num_items, ds.num_collections)
    A[ds.interactions.item, ds.interactions.collection] = 1
    reach = (A @ A.T) > 0
    reach.fill_diagonal_(False)
    has = A.sum(1) > 0
    assert full == pytest.approx(float(reach[has].sum(1).double().mean()) / (g.num_items - 1))


def test_regime_map_shapes_on_a_tiny_config():
    tiny = dict(num_pins=2_000, num_boards=200, num_edges=4_000, num_topics=10, num_subtopics=2)
    res = regime_map("catchall_boards", [0.0, 0.3], seeds=(0,), num_neighbors=5,
                     train=dict(epochs=1, max_steps_per_epoch=2, batch_size=64, eval_pairs=20,
                                num_shared_negatives=50), **tiny)
    assert isinstance(res, RegimeMap) and res.values == [0.0, 0.3] and res.seeds == [0]
    for p in res.points:
        assert set(p.gains) == set(GAINS)
        assert all(math.isfinite(d) and math.isfinite(se) and se >= 0 for d, se in p.gains.values())
        assert 0 < p.coverage < 1
    assert "catchall_boards" in res.format()


def test_plot_regime_map_draws_error_bars():
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    from pinsage_edu.regimes import RegimePoint, plot_regime_map
    pts = [RegimePoint(v, c, {n: (0.01 * i, 0.005) for i, n in enumerate(GAINS)}, {}) for v, c in
           [(1_500, 0.05), (3_000, 0.02), (6_000, 0.01)]]
    res = RegimeMap("num_pins", pts, [0, 1], "classroom", "val", 0.0)
    ax = plot_regime_map(res, x="coverage", marks={"ml-latest-small": 0.5})
    assert len(ax.containers) == len(GAINS)  # one errorbar container per gain
    assert ax.get_xscale() == "log" and "coverage" in ax.get_xlabel()
    with pytest.raises(ValueError):
        plot_regime_map(res, x="nope")
