"""The minimal training loop, exact nearest neighbours and the hit-rate."""

from __future__ import annotations

import pytest
import torch

from pinsage_edu.evaluate import hit_rate, hits, popularity_recommendations
from pinsage_edu.inference import embed_minibatches
from pinsage_edu.knn import exact_top_k
from pinsage_edu.minibatch import sample_blocks
from pinsage_edu.model import PinSage, PinSageConfig
from pinsage_edu.train import TrainConfig, train_pinsage
from pinsage_edu.walks import PPRRanking


def test_exact_top_k_by_hand():
    z = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.9, 0.1], [-1.0, 0.0]])
    ids, scores = exact_top_k(z, [0, 2], k=3)
    assert ids[0].tolist() == [1, 3, 2]  # 1 and 3 tie: smaller id first; the query itself is left out
    assert ids[1].tolist() == [1, 3, 0]
    assert torch.allclose(scores[0], torch.tensor([0.9, 0.9, 0.0]))
    ids, _ = exact_top_k(z, [4], k=10, exclude_query=False, chunk_size=1)
    assert ids[0, :5].tolist() == [4, 2, 1, 3, 0] and ids[0, 5:].tolist() == [-1] * 5
    with pytest.raises(ValueError, match="not an item id"):
        exact_top_k(z, [5])
    with pytest.raises(ValueError, match="chunk_size"):
        exact_top_k(z, [0], chunk_size=0)


def test_hit_rate_and_popularity():
    rec = torch.tensor([[1, 2, 3], [4, 5, -1]])
    assert hits(rec, torch.tensor([3, -1])).tolist() == [True, False]  # padding never hits
    assert hit_rate(rec, torch.tensor([3, 5])) == 1.0
    deg = torch.tensor([5, 9, 1, 7])
    assert popularity_recommendations(deg, torch.tensor([1, 2]), k=2).tolist() == [[3, 0], [1, 3]]
    assert popularity_recommendations(deg, torch.tensor([1]), k=5).tolist() == [[3, 0, 2, -1, -1]]  # never itself
    with pytest.raises(ValueError, match="k must"):
        popularity_recommendations(deg, torch.tensor([1]), k=0)
    with pytest.raises(ValueError, match="answers"):
        hits(rec, torch.tensor([1]))


def test_the_tiny_training_run_lowers_the_loss_and_lifts_the_hit_rate(ml):
    split, g, x, tab = ml
    torch.manual_seed(0)
    model = PinSage(PinSageConfig.classroom(x.shape[1]))
    cfg = TrainConfig(epochs=2, max_steps_per_epoch=25, max_hard_negatives=0, eval_pairs=1000)
    h = train_pinsage(model, x, split.train_pairs, tab, config=cfg, val_pairs=split.val_pairs)
    first, last = sum(h.step_loss[:5]) / 5, sum(h.step_loss[-5:]) / 5
    assert last < 0.8 * first, (first, last)
    assert h.val_hit_rates[-1] > h.initial_hit_rate
    assert [e.steps for e in h.epochs] == [25, 25] and "val hit@k" in h.table()


def test_hard_negatives_follow_the_curriculum(ml):
    split, g, x, tab = ml
    torch.manual_seed(0)
    model = PinSage(PinSageConfig.classroom(x.shape[1], hidden_dim=32, embed_dim=16))
    cfg = TrainConfig(epochs=3, max_steps_per_epoch=2, batch_size=64, max_hard_negatives=6, hard_band=(20, 60),
                      ppr_method="monte_carlo")
    seen = []
    h = train_pinsage(model, x, split.train_pairs, tab, config=cfg, graph=g,
                      on_step=lambda step, r: seen.append(r.hard_score))
    assert [e.hard_per_query for e in h.epochs] == [0, 1, 2]
    assert seen[0] != seen[0] and seen[-1] == seen[-1]  # NaN (no hard negatives) in epoch 1 only


def test_the_xent_ablation_trains_too(ml):
    split, g, x, tab = ml
    torch.manual_seed(0)
    model = PinSage(PinSageConfig.classroom(x.shape[1], pooling="mean"))
    h = train_pinsage(model, x, split.train_pairs, tab,
                      config=TrainConfig(epochs=1, max_steps_per_epoch=15, loss="xent", max_hard_negatives=0))
    assert sum(h.step_loss[-3:]) < sum(h.step_loss[:3])


def test_embed_minibatches_matches_one_big_batch(ml):
    split, g, x, tab = ml
    torch.manual_seed(0)
    model = PinSage(PinSageConfig.classroom(x.shape[1]))
    items = torch.arange(0, 600, 3)
    small = embed_minibatches(model, x, tab, items, batch_size=37)
    with torch.no_grad():
        one = model.eval()(sample_blocks(items, 2, tab), x)
    assert torch.allclose(small, one, atol=1e-5)


def test_bad_training_input(ml):
    split, g, x, tab = ml
    model = PinSage(PinSageConfig.classroom(x.shape[1]))
    with pytest.raises(ValueError, match="train_pairs"):
        train_pinsage(model, x, split.train_pairs[:, 0], tab)
    with pytest.raises(ValueError, match="outside"):
        train_pinsage(model, x, torch.tensor([[0, 10 ** 6]]), tab)
    with pytest.raises(ValueError, match="graph="):
        train_pinsage(model, x, split.train_pairs, tab, config=TrainConfig(epochs=2))
    with pytest.raises(ValueError, match="margin"):
        TrainConfig(margin=-1.0)
    with pytest.raises(ValueError, match="empty"):
        train_pinsage(model, x, torch.zeros((0, 2), dtype=torch.long), tab)


def test_a_precomputed_ranking_is_used_as_given(ml):
    split, g, x, tab = ml
    N = g.num_items
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, N, (N, 60), generator=gen)
    fake = PPRRanking(torch.arange(N), ids, torch.ones(N, 60), torch.ones(N, 60, dtype=torch.bool))
    torch.manual_seed(0)
    model = PinSage(PinSageConfig.classroom(x.shape[1], hidden_dim=16, embed_dim=8))
    cfg = TrainConfig(epochs=2, max_steps_per_epoch=2, batch_size=32, hard_band=(20, 60))
    h = train_pinsage(model, x, split.train_pairs, tab, config=cfg, ranking=fake)
    assert h.epochs[1].hard_per_query == 1 and h.epochs[1].hard_score == h.epochs[1].hard_score
    short = PPRRanking(torch.arange(N), ids[:, :30], torch.ones(N, 30), torch.ones(N, 30, dtype=torch.bool))
    with pytest.raises(ValueError, match="at least 60 ranks"):
        train_pinsage(model, x, split.train_pairs, tab, config=cfg, ranking=short)


def test_without_the_curriculum_hard_negatives_start_in_epoch_one_and_runs_continue(ml):
    split, g, x, tab = ml
    torch.manual_seed(0)
    model = PinSage(PinSageConfig.classroom(x.shape[1], hidden_dim=16, embed_dim=8))
    base = dict(max_steps_per_epoch=2, batch_size=32, hard_band=(20, 60), ppr_method="monte_carlo")
    h = train_pinsage(model, x, split.train_pairs, tab, graph=g,
                      config=TrainConfig(epochs=2, curriculum=False, max_hard_negatives=3, **base))
    assert [e.hard_per_query for e in h.epochs] == [3, 3] and h.epochs[0].active_hard == h.epochs[0].active_hard
    # one epoch per call: the curriculum and the draws continue where the previous call stopped
    seen = []
    for epoch in (1, 2, 3):
        r = train_pinsage(model, x, split.train_pairs, tab, graph=g, config=TrainConfig(epochs=1, **base),
                          start_epoch=epoch, on_step=lambda s, res: seen.append(float(res.loss.detach())))
        assert r.epochs[0].epoch == epoch and r.epochs[0].hard_per_query == epoch - 1
    assert len(set(seen)) == len(seen)
    with pytest.raises(ValueError, match="start_epoch"):
        train_pinsage(model, x, split.train_pairs, tab, start_epoch=0)


def test_a_non_finite_loss_stops_training_before_the_step(ml):
    split, g, x, tab = ml
    torch.manual_seed(0)
    model = PinSage(PinSageConfig.classroom(x.shape[1], hidden_dim=16, embed_dim=8))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.G2.register_forward_hook(lambda mod, inp, out: out * float("nan"))  # a loss that turns NaN
    with pytest.raises(FloatingPointError, match="not updated"):
        train_pinsage(model, x, split.train_pairs, tab, config=TrainConfig(epochs=1, max_hard_negatives=0))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_config_rejects_counts_that_would_train_nothing():
    for bad in (dict(max_steps_per_epoch=0), dict(eval_pairs=0), dict(max_hard_negatives=True), dict(epochs=0)):
        with pytest.raises(ValueError, match="TrainConfig"):
            TrainConfig(**bad)
