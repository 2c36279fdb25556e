"""The synthetic pins–boards generator: seeded, sized as asked, heavy-tailed, on-topic, with informative views."""

from __future__ import annotations

import pytest
import torch

from pinsage_edu.data import synthetic_pins_boards

SIZE = dict(num_pins=4_000, num_boards=800, num_edges=20_000)


@pytest.fixture(scope="module")
def synth():
    return synthetic_pins_boards(**SIZE, seed=0)


def test_same_seed_gives_identical_tensors(synth):
    again = synthetic_pins_boards(**SIZE, seed=0)
    a, b = synth.interactions, again.interactions
    for name in ("item", "collection", "weight", "time"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    for view in ("visual", "text"):
        assert torch.equal(synth.items.vectors[view], again.items.vectors[view])
    assert torch.equal(synth.items.topic, again.items.topic)
    assert torch.equal(synth.collection_topic, again.collection_topic)


def test_another_seed_gives_another_dataset(synth):
    other = synthetic_pins_boards(**SIZE, seed=1)
    assert not torch.equal(synth.items.topic, other.items.topic)
    assert not torch.equal(synth.items.vectors["visual"], other.items.vectors["visual"])
    assert len(synth.interactions) != len(other.interactions) or not torch.equal(
        synth.interactions.item, other.interactions.item)


def test_sizes_match_the_request(synth):
    x = synth.interactions
    assert synth.num_items == len(synth.items) == 4_000
    assert synth.num_collections == len(synth.collection_names) == 800
    assert x.num_items == 4_000 and x.num_collections == 800
    # about num_edges draws; repeated (pin, board) draws merge, so the graph has fewer edges, never more
    draws = len(x) + synth.dropped["repeated (pin, board) draws merged"]
    assert 0.97 * 20_000 <= draws <= 20_000
    assert 0.7 * 20_000 <= len(x) <= 20_000
    assert len({(i, c) for i, c in zip(x.item.tolist(), x.collection.tolist())}) == len(x)
    assert not x.weighted  # a pin is in a board or not
    assert int(torch.bincount(x.collection, minlength=800).min()) >= 1  # every board holds a pin


def test_pin_degrees_are_heavy_tailed(synth):
    deg = synth.graph().item_degrees.float()
    assert float(deg.max()) >= 10 * float(deg.median())
    top = torch.sort(deg, descending=True).values
    # the top 1% of pins hold over 8% of the saves (about 11% here; equal popularity would give ~2.5%)
    assert float(top[:40].sum()) >= 0.08 * float(deg.sum())


@pytest.mark.parametrize("purity", [1.0, 0.8, 0.5, 0.0])
def test_boards_are_on_topic_at_the_requested_purity(purity):
    ds = synthetic_pins_boards(**SIZE, num_topics=20, topic_purity=purity, seed=1)
    x = ds.interactions
    on_topic = (ds.items.topic[x.item] == ds.collection_topic[x.collection]).float().mean()
    # off-topic slots land on the board's topic by chance about 1 time in num_topics
    expected = purity + (1 - purity) / 20
    assert float(on_topic) == pytest.approx(expected, abs=0.06)
    if purity == 1.0:
        assert float(on_topic) == 1.0


def test_topics_and_board_topics_are_in_range(synth):
    assert synth.items.topic.shape == (4_000,) and synth.collection_topic.shape == (800,)
    assert int(synth.items.topic.min()) >= 0 and int(synth.items.topic.max()) < 20
    assert len(torch.unique(synth.collection_topic)) == 20


@pytest.mark.parametrize("view, dim", [("visual", 32), ("text", 16)])
def test_feature_views_are_closer_to_their_own_topic_mean(synth, view, dim):
    v, topic = synth.items.vectors[view], synth.items.topic
    assert v.shape == (4_000, dim) and bool(torch.isfinite(v).all())
    means = torch.stack([v[topic == t].mean(0) for t in range(20)])
    sq = torch.cdist(v, means) ** 2  # [pins, topics]
    # mean squared distance of topic-t pins to each topic mean: smallest at their own topic
    by_topic = torch.stack([sq[topic == t].mean(0) for t in range(20)])
    assert torch.equal(by_topic.argmin(1), torch.arange(20))
    # and most pins' nearest topic mean is their own topic's or its view-twin's
    twin = topic ^ 1 if view == "visual" else (topic + 10) % 20
    nearest = sq.argmin(1)
    assert float(((nearest == topic) | (nearest == twin)).float().mean()) > 0.9


def test_each_view_confuses_its_topic_twins_and_the_two_views_together_separate_them(synth):
    topic = synth.items.topic
    centroid = {k: torch.stack([synth.items.vectors[k][topic == t].mean(0) for t in range(20)]) for k in ("visual", "text")}
    dv = torch.cdist(centroid["visual"], centroid["visual"])
    dt = torch.cdist(centroid["text"], centroid["text"])
    # topics 2j and 2j+1 share a visual centroid; topics j and j+10 share a text centroid
    assert float(dv[0, 1]) < 0.5 * float(dv[0, 2:].min())
    assert float(dt[0, 10]) < 0.5 * float(torch.cat([dt[0, 1:10], dt[0, 11:]]).min())
    assert float(dt[0, 1]) > 2 * float(dt[0, 10]) and float(dv[0, 10]) > 2 * float(dv[0, 1])


def test_edges_have_save_times_within_one_year(synth):
    x = synth.interactions
    assert x.timed and x.time.dtype == torch.long
    assert int(x.time.min()) >= 1_500_000_000 and int(x.time.max()) < 1_500_000_000 + 365 * 24 * 3600
    assert synth.split().method == "temporal"


def test_synthetic_items_have_no_text_metadata_but_titles(synth):
    assert synth.items.titles[:2] == ["pin 0", "pin 1"]
    assert bool(torch.isnan(synth.items.year).all())
    assert synth.name == "synthetic-4000x800"


@pytest.mark.parametrize(
    "kwargs", [dict(num_pins=0), dict(num_boards=0), dict(num_edges=0), dict(num_topics=0), dict(topic_purity=1.5),
               dict(topic_purity=-0.1)]
)
def test_synthetic_rejects_impossible_settings(kwargs):
    with pytest.raises(ValueError):
        synthetic_pins_boards(**{**dict(num_pins=100, num_boards=10, num_edges=200), **kwargs})


def test_a_moderately_large_synthetic_graph_is_built():
    ds = synthetic_pins_boards(200_000, 40_000, 1_000_000, seed=0)
    x = ds.interactions
    assert ds.num_items == 200_000 and ds.num_collections == 40_000
    assert 0.8 * 1_000_000 <= len(x) <= 1_000_000
    assert ds.items.vectors["visual"].shape == (200_000, 32)


def test_board_size_exponent_must_make_a_finite_pareto_law():
    with pytest.raises(ValueError, match="board_size_exponent"):
        synthetic_pins_boards(200, 20, 1000, board_size_exponent=1.0)


def test_draws_that_do_not_fit_are_counted_not_lost_silently():
    ds = synthetic_pins_boards(2000, 100, 50_000, seed=0)  # 100 boards of at most 50 pins
    short = ds.dropped["draws short of num_edges (board sizes rounded down or capped)"]
    merged = ds.dropped["repeated (pin, board) draws merged"]
    assert len(ds.interactions) + merged + short == 50_000
