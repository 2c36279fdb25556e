"""The training step waits for the GPU once: when it reads the loss (§3.3's producer–consumer only pays off
if the consumer never stalls on the host).

Every way a tensor's value reaches Python (``item``, ``bool``, ``float``, ``int``, ``tolist``, ``cpu``,
``numpy``, …) is a GPU→CPU synchronisation on a GPU. On the CPU they are counted around one
``Trainer._step``; with CUDA the step also runs under ``torch.cuda.set_sync_debug_mode("error")``.
"""

from __future__ import annotations

import contextlib

import pytest
import torch

import pinsage_edu.train as train
from pinsage_edu.minibatch import NeighborhoodTable
from pinsage_edu.model import PinSage, PinSageConfig
from pinsage_edu.train import TrainConfig, Trainer
from pinsage_edu.walks import Neighborhoods, PPRRanking

# every Tensor method that hands a value to Python
READS = ("item", "tolist", "cpu", "numpy", "__bool__", "__float__", "__int__", "__index__", "__complex__")


def _tiny_trainer(device: str = "cpu", pooling: str = "importance", **overrides) -> Trainer:
    """A 40-item synthetic catalogue: features, fixed neighbourhoods, a PPR ranking and train pairs."""
    g = torch.Generator().manual_seed(0)
    n, T, k = 40, 4, 12
    x = torch.randn(n, 6, generator=g)
    items = torch.arange(n)
    ids = (items.unsqueeze(1) + torch.arange(1, T + 1)) % n
    weights = torch.full((n, T), 1.0 / T)
    table = NeighborhoodTable(Neighborhoods(items, ids, weights, torch.ones(n, T, dtype=torch.bool)))
    ranked = (items.unsqueeze(1) + torch.arange(1, k + 1)) % n
    ranking = PPRRanking(items, ranked, torch.linspace(1, 0.1, k).expand(n, k).contiguous(),
                         torch.ones(n, k, dtype=torch.bool))
    pairs = torch.stack([items, (items + 1) % n], 1).repeat(3, 1)
    torch.manual_seed(0)
    model = PinSage(PinSageConfig.classroom(6, hidden_dim=16, embed_dim=8, num_neighbors=T, pooling=pooling)).to(device)
    cfg = dict(epochs=2, batch_size=16, num_shared_negatives=10, max_hard_negatives=2, curriculum=False,
               hard_band=(2, 8), grad_clip=1.0)
    return Trainer(model, x.to(device), pairs, table.to(device), ranking=ranking,
                   config=TrainConfig(**{**cfg, **overrides}))


def _minibatch(trainer: Trainer, index: int):
    mb = trainer.producer(1, index)
    assert mb.num_hard == 2  # the hard-negative statistics are on the path too
    return mb.to(trainer.model.device)


@contextlib.contextmanager
def _counting_reads(monkeypatch, skip: set[int]):
    """Count every read of a tensor's value into Python; ``skip``: ids of tensors that live on the CPU
    by design (the optimiser's step counters), whose reads never wait for a device. (A ``.to("cpu")``
    cannot be told from a no-op ``.to(x.device)`` on the CPU: the CUDA test below catches those.)"""
    calls: list[str] = []
    with monkeypatch.context() as m:
        for name in READS:
            original = getattr(torch.Tensor, name, None)
            if original is None:
                continue

            def counted(self, *args, __name=name, __original=original, **kwargs):
                if id(self) not in skip:
                    calls.append(__name)
                return __original(self, *args, **kwargs)

            m.setattr(torch.Tensor, name, counted)
        yield calls


def _optimizer_counters(trainer: Trainer) -> set[int]:
    return {id(s["step"]) for s in trainer.optimizer.state.values() if isinstance(s.get("step"), torch.Tensor)}


@pytest.mark.parametrize("loss", ["margin", "xent"])
@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
@pytest.mark.parametrize("pooling", ["importance", "max"])
def test_a_training_step_reads_one_value_from_the_device_the_loss(monkeypatch, loss, optimizer, pooling):
    trainer = _tiny_trainer(loss=loss, optimizer=optimizer, pooling=pooling)
    trainer.model.train()
    first, second = _minibatch(trainer, 0), _minibatch(trainer, 1)
    trainer._step(first)  # the optimiser creates its state (and its CPU step counters) here
    with _counting_reads(monkeypatch, _optimizer_counters(trainer)) as calls:
        res, loss_value, grad_norm, lr = trainer._step(second)
    assert calls == ["tolist"], calls  # the loss and its statistics, in one transfer
    # what the step hands back is on the host already: reading it costs nothing more
    assert isinstance(loss_value, float) and loss_value == loss_value
    for name in ("active", "pos_score", "neg_score", "hard_score", "active_hard"):
        assert isinstance(getattr(res, name), float), name
    assert isinstance(grad_norm, torch.Tensor)  # read once per logging interval, with its neighbours


def test_the_statistics_are_the_same_as_the_float_path(monkeypatch):
    """The step's one-transfer statistics equal those of the loss functions called the usual way."""
    from pinsage_edu.loss import max_margin_loss

    torch.manual_seed(1)
    z_q, z_pos = torch.randn(5, 4), torch.randn(5, 4)
    z_neg, z_hard = torch.randn(7, 4), torch.randn(5, 3, 4)
    shared_mask, hard_mask = torch.rand(5, 7) > 0.2, torch.rand(5, 3) > 0.3
    hard_mask[0] = False  # a query with no hard negative left
    got = max_margin_loss(z_q, z_pos, z_neg, z_hard, 0.1, shared_mask=shared_mask, hard_mask=hard_mask, sync=False)
    want = max_margin_loss(z_q, z_pos, z_neg, z_hard, 0.1, shared_mask=shared_mask, hard_mask=hard_mask)
    assert isinstance(got.active, torch.Tensor) and isinstance(want.active, float)
    for name in ("active", "pos_score", "neg_score", "hard_score", "active_hard"):
        assert float(getattr(got, name)) == getattr(want, name), name
    # by hand: the masked means (to float32 rounding: a sum over the masked matrix, not over a compacted copy)
    neg, hard = z_q @ z_neg.T, torch.einsum("bd,bhd->bh", z_q, z_hard)
    assert want.neg_score == pytest.approx(float(neg[shared_mask].sum()) / int(shared_mask.sum()), abs=1e-6)
    assert want.hard_score == pytest.approx(float(hard[hard_mask].sum()) / int(hard_mask.sum()), abs=1e-6)
    assert want.active == int(((neg - (z_q * z_pos).sum(1, keepdim=True) + 0.1 > 0) & shared_mask).sum()) / int(
        shared_mask.sum())  # a share of counts: exact


def test_values_are_still_checked_once_where_they_enter():
    trainer = _tiny_trainer()
    bad = trainer.features.clone()
    bad[7, 2] = float("nan")
    with pytest.raises(ValueError, match="features of item 7 hold NaN or infinite values"):
        Trainer(trainer.model, bad, trainer.producer.pairs, trainer.eval_fn, config=trainer.config,
                ranking=trainer.producer.ranks.ranking)
    # the model's own forward still checks every call (check=True), as before
    mb = _minibatch(trainer, 0)
    with pytest.raises(ValueError, match="hold NaN or infinite values"):
        trainer.model(mb.blocks, inputs=mb.inputs * float("nan"))
    trainer.model(mb.blocks, inputs=mb.inputs * float("nan"), check=False)  # the trainer's step: no sync


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("pooling", ["importance", "max"])
def test_a_cuda_training_step_never_synchronises_but_to_read_the_loss(monkeypatch, pooling):
    trainer = _tiny_trainer("cuda", pooling=pooling)
    trainer.model.train()
    first, second = _minibatch(trainer, 0), _minibatch(trainer, 1)
    trainer._step(first)  # warm-up: optimiser state, cuBLAS handles
    torch.cuda.synchronize()
    reads = []
    host_floats = train.host_floats

    def the_one_read(*values):  # the designated sync: allowed, and counted
        reads.append(len(values))
        torch.cuda.set_sync_debug_mode(0)
        try:
            return host_floats(*values)
        finally:
            torch.cuda.set_sync_debug_mode("error")

    monkeypatch.setattr(train, "host_floats", the_one_read)
    torch.cuda.set_sync_debug_mode("error")
    try:
        res, loss_value, grad_norm, lr = trainer._step(second)
    finally:
        torch.cuda.set_sync_debug_mode(0)
    assert len(reads) == 1 and loss_value == loss_value
    assert grad_norm.device.type == "cuda"
