"""The two shipped datasets load to their documented figures (each loaded once per session, see conftest)."""

from __future__ import annotations

import torch


def test_ml_latest_small_figures(ml_small):
    assert ml_small.name == "ml-latest-small"
    assert len(ml_small.interactions) == 48_580  # liked (rating >= 4) edges
    assert ml_small.num_items == 6_298
    assert ml_small.num_collections == 609
    assert ml_small.dropped["ratings below 4"] == 52_256
    # 610 users rated, one liked nothing; 9,742 movies listed, 3,444 never liked
    assert ml_small.dropped["users with no liked movie"] == 1
    assert ml_small.dropped["movies with no liked rating"] == 3_444
    assert "duplicate (user, movie) ratings merged" not in ml_small.dropped


def test_ml_latest_small_graph_is_valid_and_unweighted(ml_small):
    g = ml_small.graph()
    g.validate()
    assert not g.weighted and g.num_edges == 48_580
    assert int(g.item_degrees.min()) >= 1 and int(g.collection_degrees.min()) >= 1  # nothing isolated
    x = ml_small.interactions
    assert x.timed and int(x.time.min()) > 0


def test_ml_latest_small_metadata(ml_small):
    items = ml_small.items
    toy = items.index_of(1)
    assert items.titles[toy] == "Toy Story (1995)"
    assert items.genres[toy] == ["Adventure", "Animation", "Children", "Comedy", "Fantasy"]
    assert float(items.year[toy]) == 1995.0
    assert "pixar" in items.text[toy]
    assert len(items.find("Toy Story")) >= 3
    assert float(torch.isnan(items.year).float().mean()) < 0.01  # nearly every title carries a year


def test_goodbooks_figures(goodbooks):
    assert goodbooks.name == "goodbooks-10k"
    assert goodbooks.num_items == 10_000
    assert len(goodbooks.interactions) == 999_898
    assert goodbooks.num_collections == 34_250
    assert goodbooks.dropped["shelf rows with count <= 0"] == 6
    assert goodbooks.dropped["duplicate (book, shelf) rows merged"] == 8
    assert goodbooks.items.raw_ids.tolist() == list(range(1, 10_001))  # dense in book_id order


def test_goodbooks_graph_is_weighted_by_shelf_counts(goodbooks):
    x = goodbooks.interactions
    assert not x.timed and x.weighted
    assert float(x.weight.min()) >= 1.0  # counts <= 0 were dropped
    g = goodbooks.graph()
    assert g.weighted and g.num_edges == 999_898
    assert float(g.item_weights.double().sum()) == float(x.weight.double().sum())  # integer counts: exact
    hunger_games = goodbooks.items.index_of(1)
    assert goodbooks.items.titles[hunger_games].startswith("The Hunger Games")
    assert goodbooks.items.text[hunger_games] == "Suzanne Collins"
