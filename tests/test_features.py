"""Item features: named, standardised groups built from each dataset's content and the graph's degrees."""

from __future__ import annotations

import dataclasses
import math
import os
import subprocess
import sys

import pytest
import torch

from pinsage_edu.data import synthetic_pins_boards
from pinsage_edu.features import hashed_bag_of_words, item_features, standardise, tokenize
from pinsage_edu.loaders import load_goodbooks, load_movielens


def assert_standardised(x: torch.Tensor) -> None:
    """Every column has mean 0 and std 1 over items, or is constant 0."""
    x = x.double()
    const = x.std(0, unbiased=False) < 1e-6
    assert bool((x[:, const] == 0).all())
    assert torch.allclose(x[:, ~const].mean(0), torch.zeros(int((~const).sum()), dtype=torch.float64), atol=1e-4)
    assert torch.allclose(x[:, ~const].std(0, unbiased=False), torch.ones(int((~const).sum()), dtype=torch.float64),
                          atol=1e-3)


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a, b, dim=0))


@pytest.fixture(scope="module")
def synthetic():
    return synthetic_pins_boards(1_000, 200, 8_000, num_topics=10, visual_dim=12, text_dim=6, seed=0)


# ---------------------------------------------------------------------------------------- groups per dataset
def test_movielens_features_have_text_genres_year_degree(fixtures_dir):
    ds = load_movielens(fixtures_dir / "ml_csv")
    f = item_features(ds, ds.graph())
    assert f.names == ["text", "genres", "year", "degree"]
    # 7 genres (Adventure Animation Children Comedy Drama Fantasy Romance); one title lacks a year -> +flag
    widths = {n: s.stop - s.start for n, s in f.groups.items()}
    assert widths == {"text": 64, "genres": 7, "year": 2, "degree": 1}
    assert f.x.shape == (4, 74) and f.dim == 74 and f.x.dtype == torch.float32
    assert bool(torch.isfinite(f.x).all())
    assert_standardised(f.x)


def test_goodbooks_features_have_text_year_language_degree(fixtures_dir):
    ds = load_goodbooks(fixtures_dir / "goodbooks_mini")
    f = item_features(ds, ds.graph(), min_category_count=1)
    assert f.names == ["text", "year", "language", "degree"]
    assert f.groups["language"].stop - f.groups["language"].start == 2  # eng, fre
    lang = f.select("language")
    assert torch.equal(lang[0], lang[1]) and not torch.equal(lang[0], lang[2])
    # with the default min_category_count=5 every language is rare: one shared "other" column, constant 0
    rare = item_features(ds, ds.graph()).select("language")
    assert rare.shape == (3, 1) and bool((rare == 0).all())


def test_synthetic_features_are_its_visual_and_text_views(synthetic):
    f = item_features(synthetic, synthetic.graph())
    assert f.names == ["visual", "text", "degree"]
    assert f.x.shape == (1_000, 12 + 6 + 1)
    assert torch.allclose(f.select("visual"), standardise(synthetic.items.vectors["visual"]))
    assert torch.allclose(f.select("text"), standardise(synthetic.items.vectors["text"]))
    assert_standardised(f.x)


def test_shipped_movielens_features(ml_small, ml_small_split):
    f = item_features(ml_small, ml_small_split.graph)
    assert f.names == ["text", "genres", "year", "degree"]
    assert f.x.shape[0] == 6_298 and bool(torch.isfinite(f.x).all())
    assert_standardised(f.x)


def test_shipped_goodbooks_features(goodbooks):
    f = item_features(goodbooks, goodbooks.graph())
    assert f.names == ["text", "year", "language", "degree"]
    assert f.x.shape[0] == 10_000 and bool(torch.isfinite(f.x).all())
    assert_standardised(f.x)


# ---------------------------------------------------------------------------------------- degree group
def test_degree_group_is_standardised_log_degree_of_the_graph_passed(fixtures_dir):
    ds = load_movielens(fixtures_dir / "ml_csv")
    full, train = ds.graph(), ds.split(0.34, 0.34).graph
    for g in (full, train):
        got = item_features(ds, g).select("degree")
        expected = standardise(torch.log1p(g.item_degrees.float()).unsqueeze(1))
        assert torch.allclose(got, expected)
    # full degrees [2,1,1,1]; train degrees [1,1,1,0]: different graphs, different features
    assert not torch.allclose(item_features(ds, full).select("degree"), item_features(ds, train).select("degree"))


def test_features_refuse_a_graph_of_another_dataset(fixtures_dir):
    ds = load_movielens(fixtures_dir / "ml_csv")
    other = load_movielens(fixtures_dir / "ml_100k")
    with pytest.raises(ValueError, match="graph has 2 items but the dataset has 4"):
        item_features(ds, other.graph())


# ---------------------------------------------------------------------------------------- select and groups
def test_select_picks_the_named_columns_in_the_order_given(fixtures_dir):
    ds = load_movielens(fixtures_dir / "ml_csv")
    f = item_features(ds, ds.graph())
    assert torch.equal(f.select("degree"), f.x[:, 73:74])
    assert torch.equal(f.select("year", "text"), torch.cat([f.x[:, 71:73], f.x[:, 0:64]], dim=1))
    balanced = f.select("text", "year", balanced=True)
    assert torch.allclose(balanced[:, :64], f.x[:, :64] / 8.0)
    assert torch.allclose(balanced[:, 64:], f.x[:, 71:73] / math.sqrt(2))


def test_select_refuses_unknown_or_no_groups(fixtures_dir):
    ds = load_movielens(fixtures_dir / "ml_csv")
    f = item_features(ds, ds.graph())
    with pytest.raises(KeyError, match="visual"):
        f.select("text", "visual")
    with pytest.raises(ValueError, match="at least one"):
        f.select()


def test_groups_argument_builds_only_those_groups(fixtures_dir):
    ds = load_movielens(fixtures_dir / "ml_csv")
    f = item_features(ds, ds.graph(), groups=["degree", "genres"])
    assert f.names == ["degree", "genres"] and f.dim == 8
    assert torch.equal(f.select("genres"), item_features(ds, ds.graph()).select("genres"))
    with pytest.raises(KeyError, match="language"):
        item_features(ds, ds.graph(), groups=["language"])


def test_nan_in_synthetic_vectors_is_refused():
    ds = synthetic_pins_boards(200, 30, 600, seed=1)
    visual = ds.items.vectors["visual"].clone()
    visual[3, 0] = float("nan")
    broken = dataclasses.replace(ds, items=dataclasses.replace(ds.items, vectors={**ds.items.vectors, "visual": visual}))
    with pytest.raises(ValueError, match="visual"):
        item_features(broken, broken.graph())


# ---------------------------------------------------------------------------------------- hashed bag of words
TOPIC_WORDS = [
    ["ocean", "wave", "sailing", "harbour", "tide", "coral", "reef", "anchor"],
    ["mountain", "summit", "glacier", "ridge", "alpine", "climb", "rope", "peak"],
    ["kitchen", "recipe", "bread", "butter", "oven", "flour", "spice", "pastry"],
    ["galaxy", "planet", "orbit", "rocket", "comet", "nebula", "star", "telescope"],
]


def test_hashed_bag_of_words_is_deterministic_and_seeded():
    texts = ["Toy Story", "The Net", "Heat", ""]
    a, b = hashed_bag_of_words(texts, 32), hashed_bag_of_words(texts, 32)
    assert a.shape == (4, 32) and torch.equal(a, b)
    assert not torch.equal(a, hashed_bag_of_words(texts, 32, seed=1))


def test_hashed_bag_of_words_does_not_depend_on_the_python_hash_seed():
    code = ("from pinsage_edu.features import hashed_bag_of_words as h;"
            "print(h(['red apple pie', 'blue ocean wave'], 8).flatten().tolist())")
    # another process with another str-hash salt than this one computes the very same vectors
    salt = "12345" if os.environ.get("PYTHONHASHSEED") != "12345" else "54321"
    env = dict(os.environ, PYTHONHASHSEED=salt)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    here = hashed_bag_of_words(["red apple pie", "blue ocean wave"], 8).flatten().tolist()
    assert out == f"{here}\n"


def test_items_sharing_words_are_more_similar_than_items_not_sharing():
    g = torch.Generator().manual_seed(0)
    texts, topic = [], []
    for t, words in enumerate(TOPIC_WORDS):
        for _ in range(10):
            pick = torch.randperm(len(words), generator=g)[:4]
            texts.append(" ".join(words[int(k)] for k in pick))
            topic.append(t)
    v = torch.nn.functional.normalize(hashed_bag_of_words(texts, 64), dim=1)
    sim = v @ v.T
    topic_t = torch.tensor(topic)
    same = topic_t[:, None] == topic_t[None, :]
    off_diag = ~torch.eye(len(texts), dtype=torch.bool)
    within, across = sim[same & off_diag].mean(), sim[~same].mean()
    assert within > 0.3 and abs(float(across)) < 0.1 and within > across + 0.25
    # and pair by pair: two texts with shared words beat a text with none in common
    a, b, c = hashed_bag_of_words(["red apple pie crust", "red apple tart", "blue ocean wave sailing"], 64)
    assert cosine(a, b) > cosine(a, c) + 0.1


def test_bag_of_words_ignores_case_order_digits_and_single_letters():
    a, b, c, d = hashed_bag_of_words(["Toy Story (1995)", "story TOY", "1995 2001 a b", "toy story toy"], 16)
    assert torch.allclose(a, b)
    assert bool((c == 0).all())  # no word at all -> zero vector
    assert not torch.allclose(a, d)  # term frequency counts
    assert tokenize("Toy Story 2 (1999): a sequel") == ["toy", "story", "sequel"]


def test_standardise_centres_scales_and_zeroes_constant_columns():
    x = torch.tensor([[1.0, 5.0, 0.0], [3.0, 5.0, 10.0], [5.0, 5.0, 20.0]])
    out = standardise(x)
    assert torch.allclose(out[:, 0], out[:, 2])
    assert bool((out[:, 1] == 0).all())
    assert torch.allclose(out[:, 0], torch.tensor([-1.0, 0.0, 1.0]) * math.sqrt(1.5))


def test_feature_groups_must_be_named_once_and_at_least_once(ml_small, ml_small_split):
    with pytest.raises(ValueError, match="at least one"):
        item_features(ml_small, ml_small_split.graph, groups=[])
    with pytest.raises(ValueError, match="twice"):
        item_features(ml_small, ml_small_split.graph, groups=["degree", "degree"])
