"""The levers of the quality issue: the inductive model embeds items held out of training (and the
transductive id-embedding option says it cannot), the collections feature group, the best
validation epoch, the ablation rungs' hard negatives, and the main job's test-pair sample."""

from __future__ import annotations

import math

import pytest
import torch

from pinsage_edu.cli import _sample_pairs
from pinsage_edu.evaluate import (ABLATIONS, PAPER_MAX_HARD, EmbeddingRecommender, Experiment, Variant, compare,
                                  hold_out_items, train_variant)
from pinsage_edu.features import item_features, tfidf_projection
from pinsage_edu.inference import embed_all
from pinsage_edu.loaders import load_dataset
from pinsage_edu.minibatch import NeighborhoodTable, sample_blocks
from pinsage_edu.model import PinSage, PinSageConfig
from pinsage_edu.train import TrainConfig, Trainer

SMALL = dict(num_pins=1_500, num_boards=400, num_edges=12_000, num_topics=6)


@pytest.fixture(scope="module")
def held_out():
    return hold_out_items("synthetic", 0.1, seed=0, **SMALL)


def test_hold_out_items_removes_every_trace_of_the_new_items(held_out):
    full, seen = held_out
    n, N = seen.graph.num_items, full.graph.num_items
    assert N == 1_500 and n == N - round(0.1 * int((full.graph.item_degrees > 0).sum()))
    assert seen.x.shape == (n, full.x.shape[1]) and torch.equal(seen.x, full.x[:n])
    for p in (seen.split.train_pairs, seen.split.val_pairs, seen.split.test_pairs):
        assert p.numel() == 0 or int(p.max()) < n
    # the seen graph is the full train graph without the new items' edges
    assert seen.graph.num_edges == int(full.graph.item_indptr[n])
    assert (full.graph.item_degrees[n:] > 0).all()  # every new item has edges to embed it from
    assert seen.table.num_items == n and full.table.num_items == N


def test_inductive_model_embeds_items_it_never_saw_and_ids_model_refuses(held_out):
    full, seen = held_out
    n = seen.graph.num_items
    tc = TrainConfig(epochs=2, max_hard_negatives=0, eval_pairs=200, lr=3e-3)
    ind = train_variant(seen, Variant("inductive", {"pooling": "importance"}), config=tc)
    assert ind.model.inductive
    z = embed_all(ind.model, full.table, full.x)  # every item, the new ones from features + neighbourhood
    assert z.shape[0] == full.graph.num_items and torch.isfinite(z).all()
    torch.testing.assert_close(z.norm(dim=1), torch.ones(len(z)))
    # the new items land near items of their own (hidden) topic: far above chance (1/6)
    topic = load_dataset("synthetic", seed=0, **SMALL).items.topic[torch.as_tensor(full.raw_ids)]  # by new id
    new = torch.arange(n, full.graph.num_items)
    sims = z[new] @ z.T
    sims[torch.arange(len(new)), new] = -2  # not itself
    top = sims.topk(10, dim=1).indices
    agree = (topic[top] == topic[new].unsqueeze(1)).float().mean().item()
    assert agree > 2 / 6, agree
    # the transductive option knows items 0 … n−1 only, and says so
    ids = train_variant(seen, Variant("ids", {"pooling": "importance"}), config=TrainConfig(epochs=1, eval_pairs=100,
                        max_steps_per_epoch=2, max_hard_negatives=0), id_embeddings=n)
    assert not ids.model.inductive
    with pytest.raises(ValueError, match=rf"cannot embed item {n}\b.*inductive"):
        embed_all(ids.model, full.table, full.x)
    blocks = sample_blocks(torch.tensor([n + 1]), 2, full.table)
    with pytest.raises(ValueError, match="transductive"):
        ids.model(blocks, full.x)


def test_id_embeddings_config_and_forward():
    with pytest.raises(ValueError, match="id_embeddings"):
        PinSageConfig.classroom(4, id_embeddings=0)
    with pytest.raises(ValueError, match="id_embeddings"):
        PinSageConfig.classroom(4, id_embeddings=True)
    torch.manual_seed(0)
    m = PinSage(PinSageConfig.classroom(4, id_embeddings=3, num_neighbors=2))
    x = torch.randn(3, 4)
    with pytest.raises(ValueError, match="item ids"):
        m.input_embeddings(x)
    h = m.input_embeddings(x, torch.arange(3))
    torch.testing.assert_close(h, x + m.item_embedding.weight)  # h⁽⁰⁾ = x + e_id


def test_collections_group_by_hand_and_from_the_train_graph_only(ml_small, ml_small_split):
    # tf-idf projection by hand: 2 rows, 3 columns
    rows, cols, tf = torch.tensor([0, 0, 1]), torch.tensor([0, 1, 1]), torch.tensor([1.0, 3.0, 1.0])
    got = tfidf_projection(rows, cols, tf, 2, 3, 4, seed=0)
    g = torch.Generator().manual_seed(0)
    proj = torch.randn(3, 4, generator=g) / 2
    idf = torch.log(torch.tensor([3 / 2, 3 / 3]))  # df = 1 and 2 of N = 2
    r0 = torch.stack([math.log(2) * idf[0], math.log(4) * idf[1]])
    want0 = (r0 / r0.norm()) @ proj[:2]
    torch.testing.assert_close(got[0], want0)
    torch.testing.assert_close(got[1], torch.zeros(4))  # idf of a column every row has is 0
    graph = ml_small_split.graph
    f = item_features(ml_small, graph, collection_dim=32)
    assert "collections" in f.names and f.groups["collections"].stop - f.groups["collections"].start == 32
    assert "collections" not in item_features(ml_small, graph).names  # opt-in
    # the held-out edges never reach it: the full graph gives other columns
    full = item_features(ml_small, ml_small.graph(), collection_dim=32)
    assert not torch.allclose(f.select("collections"), full.select("collections"))


def test_best_validation_epoch_is_restored(ml):
    split, g, x, table = ml
    torch.manual_seed(0)
    model = PinSage(PinSageConfig.classroom(x.shape[1]))
    tr = Trainer(model, x, split.train_pairs, table, val_pairs=split.val_pairs,
                 config=TrainConfig(epochs=3, max_steps_per_epoch=3, max_hard_negatives=0, eval_pairs=300, lr=3e-2))
    hist = tr.fit()
    best = max(range(3), key=lambda e: hist.val_hit_rates[e]) + 1
    assert tr.restore_best() == best == tr.best_epoch
    for k, v in model.state_dict().items():
        assert torch.equal(v, tr.best_state[k])


def test_variant_hard_negatives_are_explicit():
    none = TrainConfig(max_hard_negatives=0)
    assert ABLATIONS[-1].config(none).max_hard_negatives == PAPER_MAX_HARD  # PinSage: the paper's curriculum
    assert ABLATIONS[-1].config(TrainConfig(max_hard_negatives=3)).max_hard_negatives == 3
    assert ABLATIONS[1].config(TrainConfig()).max_hard_negatives == 0  # mean-pooling: none
    assert Variant("PinSage", {"pooling": "importance"}).config(none).max_hard_negatives == 0


def test_main_job_samples_test_pairs_seeded_and_in_order():
    p = torch.arange(40).reshape(20, 2)
    assert torch.equal(_sample_pairs(p, 0, 0), p) and torch.equal(_sample_pairs(p, 50, 0), p)
    s = _sample_pairs(p, 5, 0)
    assert len(s) == 5 and torch.equal(s, _sample_pairs(p, 5, 0)) and bool((s[1:, 0] > s[:-1, 0]).all())


def test_recipe_caps_an_epoch_and_keeps_explicit_overrides():
    from pinsage_edu.evaluate import RECIPE
    small = RECIPE.train_config(38_813)
    assert small.max_steps_per_epoch is None and small.lr == RECIPE.lr and small.max_hard_negatives == 0
    big = RECIPE.train_config(782_274)
    assert big.max_steps_per_epoch == -(-RECIPE.epoch_pairs // big.batch_size) == 98
    assert RECIPE.train_config(782_274, max_steps_per_epoch=7, eval_pairs=9).max_steps_per_epoch == 7


def test_goodbooks_has_its_own_recipe_and_every_other_dataset_the_default():
    from pinsage_edu.evaluate import RECIPE, RECIPES, recipe_for
    gb = recipe_for("goodbooks")
    assert gb is recipe_for("goodbooks-10k") is RECIPES["goodbooks-10k"] and gb is not RECIPE
    for name in ("ml-latest-small", "ml", "movielens", "synthetic", "/data/my-goodbooks-copy"):
        assert recipe_for(name) is RECIPE, name
    tc = gb.train_config(782_274)
    # the recipe's own batch sets the epoch's length: 50,000 pairs in batches of 2,048
    assert (tc.batch_size, tc.max_steps_per_epoch, tc.loss, tc.lr, tc.epochs) == (2048, 25, "xent", 1e-3, 8)
    assert gb.train_config(782_274, batch_size=512).max_steps_per_epoch == 98  # an explicit override still wins
    assert gb.model["input_skip"] is True and gb.collection_dim == 512
    assert RECIPE.model == {} and RECIPE.train == {}


@pytest.mark.parametrize("flag, value", [("--epochs", "0"), ("--collection-dim", "-1"), ("--test-pairs", "-5"),
                                         ("--max-hard", "-1")])
def test_main_job_refuses_bad_settings_by_flag(tmp_path, capsys, flag, value):
    from pinsage_edu.cli import main
    assert main([flag, value, "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert flag in err and value in err and not (tmp_path / "run").exists()
