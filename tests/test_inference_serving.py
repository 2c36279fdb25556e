"""§3.4 and §4: layer-wise inference, nearest-neighbour search, the metrics, the baselines, the ablation
and runtime tables, and the main job with its embed / recommend / evaluate commands."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from pinsage_edu.checkpoint import CheckpointError
from pinsage_edu.distributed import World, shard_range
from pinsage_edu.evaluate import (ABLATIONS, ContentRecommender, EmbeddingRecommender, Experiment, ItemKNNRecommender,
                                  PixieRecommender, PopularityRecommender, Variant, ablation_table, compare,
                                  content_baselines, evaluate_recommender, format_runtime_table, format_table, kurtosis,
                                  runtime_by_batch_size, runtime_by_neighbors, scaled_mrr, score_ranks,
                                  similarity_distribution, similarity_kurtosis)
from pinsage_edu.features import ItemFeatures
from pinsage_edu.graph import BipartiteGraph
from pinsage_edu.inference import (ItemEmbeddings, computation_counts, embed_all, embed_minibatches, load_embeddings,
                                   model_hash, save_embeddings)
from pinsage_edu.knn import (ExactIndex, FaissIndex, LSHIndex, build_index, exact_top_k, faiss_available,
                             recall_at_k, recommend)
from pinsage_edu.minibatch import NeighborhoodTable
from pinsage_edu.model import PinSage, PinSageConfig
from pinsage_edu.train import TrainConfig
from pinsage_edu.walks import Neighborhoods

ROOT = Path(__file__).resolve().parent.parent


def _run(args: list[str], env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONHASHSEED": "0", **(env or {})})


# ----------------------------------------------------------------------------------- layer-wise inference
@pytest.mark.parametrize("overrides", [{}, {"pooling": "mean"}, {"pooling": "max", "input_dim": 24},
                                       {"num_layers": 1}, {"num_layers": 3, "normalize_output": False}])
def test_layerwise_equals_per_minibatch_embeddings(ml, overrides):
    _, _, x, table = ml
    torch.manual_seed(0)
    model = PinSage(PinSageConfig.classroom(x.shape[1], **overrides))
    naive = embed_minibatches(model, x, table, batch_size=700)
    layerwise = embed_all(model, table, x, chunk_size=1000)  # chunks smaller than the catalogue
    assert layerwise.shape == naive.shape == (x.shape[0], model.config.embed_dim)
    torch.testing.assert_close(layerwise, naive, atol=1e-5, rtol=1e-5)
    assert model.training  # the mode is restored


def test_embed_all_with_cpu_storage_and_dropout_model_in_eval_mode(ml):
    _, _, x, table = ml
    torch.manual_seed(1)
    model = PinSage(PinSageConfig.classroom(x.shape[1], dropout=0.5)).train()
    a = embed_all(model, table, x, storage_device="cpu", chunk_size=4096)
    b = embed_all(model, table, x, chunk_size=333)
    torch.testing.assert_close(a, b)  # no dropout: the same vectors whatever the chunking


def _toy_table() -> NeighborhoodTable:
    # 5 items; item 4 is isolated (no neighbour at all)
    ids = torch.tensor([[1, 2], [0, -1], [0, 1], [2, -1], [-1, -1]])
    mask = ids >= 0
    w = torch.where(mask, torch.tensor([[0.5, 0.5], [1.0, 0.0], [0.25, 0.75], [1.0, 0.0], [0.0, 0.0]]), 0.0)
    return NeighborhoodTable(Neighborhoods(torch.arange(5), ids, w, mask))


def test_computation_counts_by_hand():
    table = _toy_table()
    c = computation_counts(table, 2, batch_size=2)
    # minibatch {0,1}: S2={0,1}, S1={0,1,2}, S0={0,1,2}; {2,3}: S2={2,3}, S1={2,3,0,1}, S0={2,3,0,1};
    # {4}: S2=S1=S0={4}
    assert c["naive_vectors"] == [3 + 4 + 1, 2 + 2 + 1]
    assert c["naive_messages"] == [3 + 4 + 1, 3 + 4 + 1]
    assert c["layerwise_vectors"] == [5, 5] and c["layerwise_messages"] == [5, 5]


def test_isolated_item_and_layerwise_on_toy_table():
    table = _toy_table()
    x = torch.randn(5, 6, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    model = PinSage(PinSageConfig(in_dim=6, hidden_dim=8, embed_dim=4, num_layers=2, num_neighbors=2))
    torch.testing.assert_close(embed_all(model, table, x, chunk_size=2), embed_minibatches(model, x, table))


def test_embed_all_rejects_bad_input(ml):
    _, _, x, table = ml
    model = PinSage(PinSageConfig.classroom(x.shape[1]))
    with pytest.raises(ValueError, match="columns but the model expects in_dim"):
        embed_all(model, table, x[:, :10])
    with pytest.raises(ValueError, match="table holds 6298 items but features 100"):
        embed_all(model, table, x[:100])
    bad = x.clone()
    bad[17, 3] = float("nan")
    with pytest.raises(ValueError, match="features of item 17 hold NaN"):
        embed_all(model, table, bad)
    with pytest.raises(TypeError, match="needs a NeighborhoodTable"):
        embed_all(model, lambda s: None, x)
    with pytest.raises(ValueError, match="chunk_size must be a positive integer"):
        embed_all(model, table, x, chunk_size=0)


def _sharded_worker(rank: int, size: int, init: str, out: str, shard_dir: str | None) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=size)
    try:
        table = _toy_big_table()
        x = torch.randn(table.num_items, 12, generator=torch.Generator().manual_seed(3))
        torch.manual_seed(0)
        model = PinSage(PinSageConfig(in_dim=12, hidden_dim=16, embed_dim=8, num_layers=2, num_neighbors=4))
        z = embed_all(model, table, x, chunk_size=7, world=World(rank, size), shard_dir=shard_dir)
        torch.save(z, f"{out}.{rank}")
    finally:
        dist.destroy_process_group()


def _toy_big_table() -> NeighborhoodTable:
    g = torch.Generator().manual_seed(5)
    n, T = 61, 4
    ids = torch.randint(0, n, (n, T), generator=g)
    mask = torch.rand(n, T, generator=g) > 0.2
    w = torch.where(mask, torch.rand(n, T, generator=g), 0.0)
    return NeighborhoodTable(Neighborhoods(torch.arange(n), torch.where(mask, ids, -1), w, mask))


@pytest.mark.parametrize("exchange", ["all_gather", "files"])
def test_sharded_two_gloo_ranks_equal_single_process(tmp_path, exchange):
    table = _toy_big_table()
    x = torch.randn(table.num_items, 12, generator=torch.Generator().manual_seed(3))
    torch.manual_seed(0)
    model = PinSage(PinSageConfig(in_dim=12, hidden_dim=16, embed_dim=8, num_layers=2, num_neighbors=4))
    single = embed_all(model, table, x)
    shard_dir = str(tmp_path / "shards") if exchange == "files" else None
    mp.spawn(_sharded_worker, args=(2, f"file://{tmp_path / 'pg'}", str(tmp_path / "z"), shard_dir), nprocs=2)
    for r in range(2):
        torch.testing.assert_close(torch.load(tmp_path / f"z.{r}"), single, atol=1e-6, rtol=1e-5)
    if exchange == "files":
        assert sorted(p.name for p in (tmp_path / "shards").iterdir()) == sorted(
            [f"layer{k}-messages-rank{r}.pt" for k in (1, 2) for r in (0, 1)] + ["embeddings-rank0.pt",
                                                                                "embeddings-rank1.pt"])


def test_shard_range_covers_every_item_once():
    for total, size in [(10, 3), (3, 5), (0, 2), (61, 2)]:
        parts = [shard_range(total, r, size) for r in range(size)]
        assert parts[0][0] == 0 and parts[-1][1] == total
        assert all(a[1] == b[0] for a, b in zip(parts, parts[1:]))
        assert max(h - l for l, h in parts) - min(h - l for l, h in parts) <= 1


def test_embeddings_round_trip_with_ids_and_model_hash(tmp_path):
    torch.manual_seed(0)
    model = PinSage(PinSageConfig(in_dim=6, hidden_dim=8, embed_dim=4, num_layers=2, num_neighbors=2))
    z = torch.randn(3, 4)
    emb = ItemEmbeddings(z, [10, 20, 30], model_hash(model), model.config.to_dict(), ["a", "b", "c"], {"dataset": "x"})
    path = save_embeddings(emb, tmp_path / "e.pt")
    back = load_embeddings(path, expect_hash=model_hash(model))
    assert torch.equal(back.vectors, z) and back.item_ids == [10, 20, 30] and back.titles == ["a", "b", "c"]
    assert back.meta == {"dataset": "x"} and back.config == model.config.to_dict()
    other = PinSage(PinSageConfig(in_dim=6, hidden_dim=8, embed_dim=4, num_layers=2, num_neighbors=2))
    assert model_hash(other) != model_hash(model)
    with pytest.raises(CheckpointError, match="not of"):
        load_embeddings(path, expect_hash=model_hash(other))
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.pt"):
        load_embeddings(tmp_path / "junk.pt")
    with pytest.raises(ValueError, match="3 vectors but 2 item ids"):
        ItemEmbeddings(z, [1, 2], "h", {})


# ----------------------------------------------------------------------------------- nearest neighbours
def _clustered(n: int = 3000, d: int = 32, clusters: int = 60, noise: float = 0.05, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    c = torch.nn.functional.normalize(torch.randn(clusters, d, generator=g), dim=1)
    return torch.nn.functional.normalize(c[torch.randint(0, clusters, (n,), generator=g)]
                                         + noise * torch.randn(n, d, generator=g), dim=1)


def test_exact_top_k_against_brute_force():
    e = _clustered(500)
    q = torch.arange(0, 500, 7)
    ids, scores = exact_top_k(e, q, 10, chunk_size=9)
    full = e[q] @ e.T
    full[torch.arange(q.numel()), q] = float("-inf")
    want_s, _ = torch.sort(full, dim=1, descending=True)
    torch.testing.assert_close(scores, want_s[:, :10])
    torch.testing.assert_close(full.gather(1, ids), scores)
    assert not bool((ids == q.unsqueeze(1)).any())


def test_exact_top_k_breaks_ties_by_id_and_pads():
    e = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    ids, scores = exact_top_k(e, [1], 5)
    assert ids.tolist() == [[0, 2, 3, -1, -1]]
    assert scores[0, 3:].tolist() == [float("-inf")] * 2


def test_lsh_recall_on_a_clustered_toy_set():
    e = _clustered()
    q = torch.arange(0, 3000, 11)
    exact, _ = exact_top_k(e, q, 10)
    index = LSHIndex(e, num_tables=8, num_bits=8, probes=2, generator=0)
    approx, s = index.search(q, 10)
    assert recall_at_k(approx, exact) >= 0.9
    # fewer items scored than exact search would
    rows, _ = index.candidates(q)
    assert rows.numel() < 0.5 * q.numel() * e.shape[0]
    # scores of what was found are the true dot products, best first
    found = approx >= 0
    torch.testing.assert_close(s[found], (e[q].unsqueeze(1) * e[approx.clamp_min(0)]).sum(-1)[found])
    assert bool((s[:, :-1] >= s[:, 1:]).all())


def test_lsh_finds_identical_vectors_and_is_deterministic():
    e = _clustered(400, noise=0.0)  # 60 clusters of identical vectors
    index = LSHIndex(e, num_tables=2, num_bits=10, generator=3)
    ids, _ = index.search([0], 3)
    twins = [i for i in torch.nonzero((e == e[0]).all(1)).squeeze(1).tolist() if i != 0]
    assert ids[0, :min(3, len(twins))].tolist() == twins[:3]  # equal scores: increasing id
    again = LSHIndex(e, num_tables=2, num_bits=10, generator=3)
    assert torch.equal(again.order, index.order)
    assert int(index.bucket_sizes().sum()) == 2 * 400


def test_recall_at_k_by_hand():
    assert recall_at_k(torch.tensor([[1, 2, 3], [4, 5, -1]]), torch.tensor([[3, 2, 9], [4, 7, -1]])) == 3 / 5


def test_faiss_index_matches_exact():
    assert faiss_available()  # faiss-cpu is in the test extra: this backend is tested, not skipped
    e = _clustered(800)
    q = torch.arange(0, 800, 13)
    ids, scores = FaissIndex(e).search(q, 10)
    ex_ids, ex_scores = exact_top_k(e, q, 10)
    torch.testing.assert_close(scores, ex_scores, atol=1e-5, rtol=1e-5)
    assert recall_at_k(ids, ex_ids) > 0.99
    assert not bool((ids == q.unsqueeze(1)).any())


def test_recommend_by_title_and_id_and_errors():
    e = _clustered(50)
    titles = [f"Film {i}" for i in range(50)]
    index = build_index(e, "exact")
    r = recommend(index, "film 7", 4, titles=titles)
    assert r.query == 7 and r.query_title == "Film 7" and len(r.ids) == 4
    assert r.titles == [titles[i] for i in r.ids] and r.scores == sorted(r.scores, reverse=True)
    assert recommend(index, 7, 4, titles=titles).ids == r.ids
    assert "nearest to Film 7" in str(r)
    with pytest.raises(ValueError, match="no item title contains 'zzz'"):
        recommend(index, "zzz", titles=titles)
    with pytest.raises(ValueError, match="item 50 is not an item id"):
        recommend(index, 50)
    with pytest.raises(ValueError, match="pass titles="):
        recommend(index, "Film 1")
    with pytest.raises(ValueError, match="method must be"):
        build_index(e, "annoy")
    bad = e.clone()
    bad[3, 0] = float("nan")
    with pytest.raises(ValueError, match="item 3 holds NaN"):
        ExactIndex(bad)


# ----------------------------------------------------------------------------------- metrics
def test_score_ranks_ties_by_id_and_skip_the_query():
    s = torch.tensor([[0.9, 0.5, 0.5, 0.1, 0.5]])
    # query 0 is skipped; items 1, 2, 4 tie at 0.5: item 1 ranks 1, item 2 ranks 2, item 4 ranks 3
    assert score_ranks(s, torch.tensor([0]), torch.tensor([4])).tolist() == [3]
    assert score_ranks(s, torch.tensor([0]), torch.tensor([1])).tolist() == [1]
    assert score_ranks(s, torch.tensor([2]), torch.tensor([3])).tolist() == [4]  # 0, 1, 4 ahead


def test_hit_rate_and_scaled_mrr_by_hand():
    e = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.5, 0.5]])
    rec = EmbeddingRecommender("toy", e)
    # from 0: scores item1 .9, item3 .5, item2 0 -> answer 3 has rank 2; from 2: item3 .5, item1 .1, item0 0 -> answer 0 rank 3
    m = evaluate_recommender(rec, torch.tensor([[0, 3], [2, 0]]), k=2, scale=1)
    assert m.ranks.tolist() == [2, 3]
    assert m.hit_rate == 0.5 and m.mrr == pytest.approx((1 / 2 + 1 / 3) / 2)
    assert evaluate_recommender(rec, torch.tensor([[0, 3], [2, 0]]), k=2, scale=2).mrr == pytest.approx((1 + 1 / 2) / 2)
    assert scaled_mrr(torch.tensor([1, 100, 101, 250]), 100) == pytest.approx((1 + 1 + 1 / 2 + 1 / 3) / 4)
    assert m.stderr() == pytest.approx(math.sqrt(0.25 / 2))
    # hit-rate from ranks agrees with the top-k lists
    ids, _ = exact_top_k(e, [0, 2], 2)
    assert [3 in ids[0].tolist(), 0 in ids[1].tolist()] == [True, False]


def test_evaluate_rejects_bad_pairs():
    rec = EmbeddingRecommender("toy", torch.eye(4))
    with pytest.raises(ValueError, match="pair 1 .* outside 0..3"):
        evaluate_recommender(rec, torch.tensor([[0, 1], [2, 9]]))
    with pytest.raises(ValueError, match="relates item 2 to itself"):
        evaluate_recommender(rec, torch.tensor([[0, 1], [2, 2]]))
    with pytest.raises(ValueError, match=r"\[P, 2\]"):
        evaluate_recommender(rec, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="NaN"):
        EmbeddingRecommender("bad", torch.tensor([[float("nan")]]))


def test_kurtosis_of_known_distributions():
    g = torch.Generator().manual_seed(0)
    assert kurtosis(torch.randn(200_000, generator=g)) == pytest.approx(0.0, abs=0.05)
    assert kurtosis(torch.rand(200_000, generator=g)) == pytest.approx(-1.2, abs=0.02)  # uniform
    assert math.isnan(kurtosis(torch.ones(10)))
    # random directions in high dimension: cosines nearly normal, kurtosis near 0
    e = torch.randn(2000, 256, generator=g)
    assert abs(similarity_kurtosis(e, 50_000)) < 0.15
    s = similarity_distribution(e, 1000, generator=1)
    assert s.shape == (1000,) and bool((s.abs() <= 1 + 1e-6).all())


# ----------------------------------------------------------------------------------- baselines
def _toy_graph() -> BipartiteGraph:
    # collections: c0 = {0, 1, 2}, c1 = {1, 2}, c2 = {3, 4}; item 5 isolated
    items = torch.tensor([0, 1, 2, 1, 2, 3, 4])
    colls = torch.tensor([0, 0, 0, 1, 1, 2, 2])
    return BipartiteGraph.from_edges(items, colls, num_items=6, num_collections=3)


def test_item_knn_cosine_by_hand():
    rec = ItemKNNRecommender(_toy_graph())
    s = rec.scores(torch.tensor([1, 5]))
    # item 1 in {c0, c1}: item 0 (c0) shares 1 -> 1/sqrt(2*1); item 2 (c0,c1) shares 2 -> 2/2 = 1; item 3: 0
    torch.testing.assert_close(s[0], torch.tensor([1 / math.sqrt(2), 1.0, 1.0, 0.0, 0.0, 0.0]))
    assert torch.equal(s[1], torch.zeros(6))  # an isolated query scores nothing
    m = evaluate_recommender(rec, torch.tensor([[1, 2], [3, 4]]), k=1)
    assert m.hit_rate == 1.0


def test_popularity_pixie_and_content_run_on_a_toy_graph():
    g = _toy_graph()
    pairs = torch.tensor([[0, 1], [3, 4], [5, 0]])
    pop = evaluate_recommender(PopularityRecommender(g), pairs, k=2)
    # degrees 1, 2, 2, 1, 1, 0: from 0 the list is 1, 2 -> hit; from 3 -> 1, 2 miss; from 5 -> 1, 2 miss
    assert pop.ranks.tolist() == [1, 4, 3]  # from 3: items 1, 2, 0 ahead of 4
    pix = evaluate_recommender(PixieRecommender(g, num_steps=2000, seed=0), pairs, k=2)
    assert pix.ranks[1] == 1  # 4 is the only item 3 can reach
    assert pix.ranks[0] <= 2
    x = torch.tensor([[1.0, 0, 0, 5], [1, 0, 0, 4], [0, 1, 0, 3], [0, 1, 1, 2], [0, 0, 1, 1], [1, 1, 1, 0]])
    feats = ItemFeatures(x, {"text": slice(0, 2), "genres": slice(2, 3), "degree": slice(3, 4)})
    recs = content_baselines(feats)
    assert [r.name for r in recs] == ["content: text", "content: genres", "content: combined"]
    assert all(r.embeddings.shape[0] == 6 for r in recs)
    assert evaluate_recommender(recs[0], pairs, k=1).ranks[0] == 1  # 0 and 1 share their text
    vis = ItemFeatures(x, {"visual": slice(0, 2), "text": slice(2, 3), "degree": slice(3, 4)})
    assert [r.name for r in content_baselines(vis)] == ["content: visual", "content: text", "content: combined"]
    rows = compare([PopularityRecommender(g), ContentRecommender("c", feats, ["text"])], pairs, k=2)
    assert math.isnan(rows[0].kurtosis) and math.isfinite(rows[1].kurtosis)
    text = format_table(rows, title="toy")
    assert "popularity" in text and "3 held-out pairs" in text


# ----------------------------------------------------------------------------------- ablation and runtime
@pytest.fixture(scope="module")
def tiny_exp():
    return Experiment.load("synthetic", num_pins=600, num_boards=150, num_edges=6000, num_neighbors=5)


def test_ablation_table_trains_every_rung(tiny_exp):
    cfg = TrainConfig(epochs=1, batch_size=64, max_steps_per_epoch=3, num_shared_negatives=50, eval_pairs=100)
    rows, trained = ablation_table(tiny_exp, config=cfg, baselines=True)
    names = [r.name for r in rows]
    assert names[:2] == ["popularity", "Pixie"] and names[-5:] == [v.name for v in ABLATIONS]
    assert "content: visual" in names and "item-kNN CF" in names
    assert [t.model.config.pooling for t in trained] == ["max", "mean", "mean", "mean", "importance"]
    assert trained[2].history.epochs and all(t.embeddings.shape == (600, 64) for t in trained)
    assert all(0 <= r.hit_rate <= 1 and r.num_pairs == len(tiny_exp.split.test_pairs) for r in rows)
    assert all(math.isfinite(r.kurtosis) for r in rows[-5:])
    # the rungs really differ: mean-pooling-xent trained with the cross-entropy loss, PinSage with hard negatives
    assert TrainConfig(**{**cfg.to_dict(), **ABLATIONS[2].train}).loss == "xent"
    assert trained[-1].history.epochs[0].hard_per_query >= 0


def test_runtime_tables_on_a_tiny_graph(tiny_exp):
    cfg = TrainConfig(epochs=2, max_steps_per_epoch=2, num_shared_negatives=50, eval_pairs=100, max_hard_negatives=0)
    rows = runtime_by_batch_size(tiny_exp, (32, 64), config=cfg)
    assert [r.value for r in rows] == [32, 64] and all(r.ms_per_iteration > 0 for r in rows)
    assert all(1 <= r.best_epoch <= 2 and r.iterations in (2, 4) for r in rows)
    text = format_runtime_table(rows)
    assert "Table 3" in text and "390,000" in text and text.count("\n") == 1 + 2 + 4  # ours, then the paper's 4
    rows = runtime_by_neighbors(tiny_exp, (3, 5), config=cfg)
    assert [r.value for r in rows] == [3, 5] and all(r.seconds > 0 and 0 <= r.hit_rate <= 1 for r in rows)
    assert "Table 4" in format_runtime_table(rows) and "67%" in format_runtime_table(rows)


def test_variant_overrides_must_be_known(tiny_exp):
    from pinsage_edu.evaluate import train_variant
    with pytest.raises(TypeError):
        train_variant(tiny_exp, Variant("bad", {}, {"no_such_field": 1}), config=TrainConfig(epochs=1))
    with pytest.raises(ValueError, match="preset"):
        train_variant(tiny_exp, ABLATIONS[0], preset="huge")


# ----------------------------------------------------------------------------------- the main job and commands
@pytest.mark.slow
def test_main_job_end_to_end_then_recommend_and_evaluate(tmp_path):
    out = tmp_path / "main"
    r = _run([sys.executable, "-m", "pinsage_edu", "--epochs", "1", "--steps-per-epoch", "4", "--eval-pairs", "300",
              "--no-progress", "--out", str(out)])
    assert r.returncode == 0, r.stderr[-3000:]
    for name in ("popularity", "Pixie", "content: text", "content: combined", "item-kNN CF", "PinSage"):
        assert name in r.stdout
    assert r.stdout.count("nearest to ") == 3 and "Matrix, The (1999)" in r.stdout
    res = json.loads((out / "results.json").read_text())
    assert [row["name"] for row in res["rows"]][-1] == "PinSage" and len(res["examples"]) == 3
    assert all(row["num_pairs"] == 4579 for row in res["rows"])
    assert (out / "table.txt").exists() and (out / "pinsage" / "best.pt").exists()
    emb = load_embeddings(out / "embeddings.pt")
    assert emb.vectors.shape == (6298, 64) and emb.titles[0] == "Toy Story (1995)" and emb.item_ids[0] == 1
    assert emb.model_hash == res["model_hash"]
    rec = _run([sys.executable, "-m", "pinsage_edu", "recommend", "--embeddings", str(out / "embeddings.pt"),
                "--item", "Toy Story (1995)", "-k", "3", "--method", "lsh"])
    assert rec.returncode == 0, rec.stderr
    assert rec.stdout.startswith("nearest to Toy Story (1995)") and len(rec.stdout.strip().splitlines()) == 4
    ev = _run([sys.executable, "-m", "pinsage_edu", "evaluate", "--embeddings", str(out / "embeddings.pt"),
               "--pixie-steps", "2000", "--json", str(tmp_path / "ev.json")])
    assert ev.returncode == 0, ev.stderr
    rows = {row["name"]: row for row in json.loads((tmp_path / "ev.json").read_text())}
    main_rows = {row["name"]: row for row in res["rows"]}
    assert rows["PinSage"]["hit_rate"] == pytest.approx(main_rows["PinSage"]["hit_rate"])
    assert rows["item-kNN CF"]["hit_rate"] == pytest.approx(main_rows["item-kNN CF"]["hit_rate"])
    again = _run([sys.executable, "-m", "pinsage_edu", "--epochs", "1", "--out", str(out)])
    assert again.returncode == 1 and "already holds a run" in again.stderr
    by_id = _run([sys.executable, "-m", "pinsage_edu", "recommend", "--embeddings", str(out / "embeddings.pt"),
                  "--id", "0", "-k", "3"])
    assert by_id.returncode == 0 and by_id.stdout.startswith("nearest to Toy Story (1995) (item 0)")
    bad = _run([sys.executable, "-m", "pinsage_edu", "recommend", "--embeddings", str(out / "embeddings.pt"),
                "--item", "zzz no such film"])
    assert bad.returncode == 1 and "no item title contains 'zzz no such film'" in bad.stderr


@pytest.mark.slow
def test_embed_command_single_and_two_torchrun_ranks_agree(tmp_path):
    run = tmp_path / "run"
    tr = _run([sys.executable, "-m", "pinsage_edu", "train", "--epochs", "1", "--steps-per-epoch", "2",
               "--eval-pairs", "100", "--max-hard", "0", "--no-progress", "--out", str(run)])
    assert tr.returncode == 0, tr.stderr[-3000:]
    one = _run([sys.executable, "-m", "pinsage_edu", "embed", "--run-dir", str(run), "--out", str(tmp_path / "one.pt")])
    assert one.returncode == 0, one.stderr[-3000:]
    two = _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m",
                "pinsage_edu", "embed", "--run-dir", str(run), "--out", str(tmp_path / "two.pt"),
                "--shard-dir", str(tmp_path / "shards")], env={"OMP_NUM_THREADS": "1"})
    assert two.returncode == 0, two.stderr[-3000:]
    assert "on 2 processes" in two.stdout
    a, b = load_embeddings(tmp_path / "one.pt"), load_embeddings(tmp_path / "two.pt")
    torch.testing.assert_close(a.vectors, b.vectors, atol=1e-6, rtol=1e-5)
    assert a.model_hash == b.model_hash and a.item_ids == b.item_ids
    missing = _run([sys.executable, "-m", "pinsage_edu", "embed", "--run-dir", str(tmp_path / "nothing")])
    assert missing.returncode == 1 and "holds no run" in missing.stderr
    again = _run([sys.executable, "-m", "pinsage_edu", "embed", "--run-dir", str(run), "--out", str(tmp_path / "one.pt")])
    assert again.returncode == 1 and "nothing was overwritten" in again.stderr
    assert load_embeddings(tmp_path / "one.pt").model_hash == a.model_hash
    default = _run([sys.executable, "-m", "pinsage_edu", "embed", "--run-dir", str(run), "--last"])
    assert default.returncode == 0 and (run / "embeddings-last.pt").exists()


def test_lsh_center_spreads_embeddings_that_lean_one_way():
    e = torch.nn.functional.normalize(_clustered(2000, noise=0.05) + 3.0, dim=1)  # every pair has cosine > 0.99
    q = torch.arange(0, 2000, 17)
    exact, _ = exact_top_k(e, q, 10)
    plain = LSHIndex(e, num_tables=4, num_bits=10, generator=0)
    centred = LSHIndex(e, num_tables=4, num_bits=10, center=True, generator=0)
    assert int(centred.bucket_sizes().max()) < int(plain.bucket_sizes().max()) / 2
    assert int(plain.bucket_sizes().max()) == 2000  # all in one bucket: LSH degenerates into exact search
    ids, s = LSHIndex(e, num_tables=8, num_bits=10, probes=2, center=True, generator=0).search(q, 10)
    assert recall_at_k(ids, exact) > 0.9
    found = ids >= 0
    torch.testing.assert_close(s[found], (e[q].unsqueeze(1) * e[ids.clamp_min(0)]).sum(-1)[found])  # original vectors


def test_experiment_records_what_rebuilds_it(tmp_path):
    from pinsage_edu.cli import _experiment_from_info

    exp = Experiment.load("synthetic", num_pins=300, num_boards=60, num_edges=2000, num_neighbors=4, seed=2)
    assert exp.info["num_pins"] == 300 and exp.info["num_items"] == 300 and exp.info["seed"] == 2
    again = _experiment_from_info(exp.info, 4)
    assert again.graph.num_items == 300 and torch.equal(again.split.test_pairs, exp.split.test_pairs)
    assert torch.equal(again.table.table.ids, exp.table.table.ids)
    with pytest.raises(ValueError, match="made on 301 items"):
        _experiment_from_info({**exp.info, "num_items": 301}, 4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_layerwise_inference_and_search_match_the_cpu(ml):
    _, _, x, table = ml
    torch.manual_seed(0)
    model = PinSage(PinSageConfig.classroom(x.shape[1]))
    cpu = embed_all(model, table, x)
    gpu = embed_all(model.to("cuda"), table.to("cuda"), x, storage_device="cpu")  # features stay on the CPU
    torch.testing.assert_close(gpu, cpu, atol=1e-4, rtol=1e-4)
    e = _clustered(4000)
    q = torch.arange(0, 4000, 9)
    ids_c, _ = exact_top_k(e, q, 10)
    ids_g, _ = exact_top_k(e.cuda(), q.cuda(), 10)
    assert recall_at_k(ids_g.cpu(), ids_c) > 0.99
    lsh_c, _ = LSHIndex(e, num_tables=8, num_bits=8, probes=2).search(q, 10)
    lsh_g, _ = LSHIndex(e.cuda(), num_tables=8, num_bits=8, probes=2).search(q.cuda(), 10)
    assert recall_at_k(lsh_g.cpu(), lsh_c) > 0.98  # the same planes (drawn on the CPU) on both devices


def test_exact_top_k_takes_the_smallest_ids_among_ties_at_the_cut():
    g = torch.Generator().manual_seed(0)
    e = torch.randint(0, 3, (200, 2), generator=g).float()  # few distinct scores: ties everywhere
    q = torch.arange(0, 200, 3)
    ids, _ = exact_top_k(e, q, 5, chunk_size=7)
    s = e[q] @ e.T
    for j in range(q.numel()):
        ranks = score_ranks(s, q, torch.full((q.numel(),), 0))  # warm: shapes only
        order = sorted((i for i in range(200) if i != int(q[j])), key=lambda i: (-float(s[j, i]), i))
        assert ids[j].tolist() == order[:5]
    assert ranks.shape == (q.numel(),)


def test_target_ranks_break_ties_by_id_so_a_collapsed_model_gets_no_credit():
    from pinsage_edu.evaluate import target_ranks
    z = torch.ones(50, 4) / 2
    ranks = target_ranks(z, torch.zeros(49, dtype=torch.long), torch.arange(1, 50))
    assert ranks.tolist() == list(range(1, 50))
    rec = evaluate_recommender(EmbeddingRecommender("flat", z), torch.stack([torch.zeros(49, dtype=torch.long),
                                                                             torch.arange(1, 50)], 1), k=10)
    assert rec.ranks.tolist() == ranks.tolist()


def test_item_knn_splits_big_two_hop_expansions():
    g = _toy_graph()
    rec = ItemKNNRecommender(g)
    q = torch.tensor([0, 1, 2, 3, 4, 5])
    torch.testing.assert_close(rec.scores(q, budget=1), rec.scores(q))


def test_cli_sub_command_detection_and_flag_errors(tmp_path):
    from pinsage_edu import cli
    assert cli._subcommand_given(["--seed", "3", "summary"], {"summary"})
    assert not cli._subcommand_given(["--out", "summary"], {"summary"})  # a value, not the sub-command
    assert cli.main(["--device", "gpu", "--out", str(tmp_path / "x")]) == 1
    assert cli.main(["recommend", "--embeddings", str(tmp_path / "none.pt")]) == 1
