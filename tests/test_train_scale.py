"""Training at scale (§3.3): the producer, the schedule, checkpoints and resume, the run folder, DDP."""

from __future__ import annotations

import json
import math
import os
import pickle
import signal
import subprocess
import sys
import textwrap
from itertools import islice
from pathlib import Path

import pytest
import torch

from pinsage_edu.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from pinsage_edu.distributed import World
from pinsage_edu.evaluate import mrr_scale, scaled_mrr, target_ranks
from pinsage_edu.minibatch import NeighborhoodSampler
from pinsage_edu.model import PinSage, PinSageConfig
from pinsage_edu.train import (MinibatchProducer, RunDirError, TrainConfig, WarmupDecay, _LazyRanks, minibatches,
                               train_pinsage)

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------------------------------- schedule
def test_warmup_rises_linearly_through_the_first_epoch_then_decays_per_epoch():
    f = WarmupDecay(steps_per_epoch=4, warmup_epochs=1.0, lr_decay=0.5)
    got = [f(s) for s in range(12)]
    want = [0.25, 0.5, 0.75, 1.0, 1.0, 0.5 ** 0.25, 0.5 ** 0.5, 0.5 ** 0.75, 0.5, 0.5 ** 1.25, 0.5 ** 1.5, 0.5 ** 1.75]
    assert got == pytest.approx(want)
    assert WarmupDecay(4, 0.0, 0.5)(0) == 1.0 and WarmupDecay(4, 0.0, 0.5)(4) == pytest.approx(0.5)
    assert WarmupDecay(10, 0.5, 0.9)(4) == pytest.approx(1.0) and WarmupDecay(10, 0.5, 0.9)(0) == pytest.approx(0.2)
    assert WarmupDecay(4, 1.0, 0.5, offset=8)(0) == pytest.approx(0.5)  # a run continued at epoch 3


def test_the_trainer_follows_the_schedule_step_by_step(ml):
    split, g, x, tab = ml
    torch.manual_seed(0)
    model = PinSage(PinSageConfig.classroom(x.shape[1]))
    cfg = TrainConfig(epochs=2, max_steps_per_epoch=4, max_hard_negatives=0, lr=0.01, lr_decay=0.5, seed=3)
    h = train_pinsage(model, x, split.train_pairs, tab, config=cfg)
    # the rate each step ran with; an epoch's is its last step's
    assert h.step_lr == pytest.approx([0.01 * WarmupDecay(4, 1.0, 0.5)(s) for s in range(8)])
    assert h.step_lr[:4] == pytest.approx([0.0025, 0.005, 0.0075, 0.01])
    assert [e.lr for e in h.epochs] == pytest.approx([0.01, 0.01 * 0.5 ** 0.75])


def test_sgd_and_no_warmup_run(ml):
    split, g, x, tab = ml
    torch.manual_seed(0)
    model = PinSage(PinSageConfig.classroom(x.shape[1]))
    cfg = TrainConfig(epochs=1, max_steps_per_epoch=3, max_hard_negatives=0, optimizer="sgd", lr=0.05,
                      warmup_epochs=0, grad_clip=None)
    h = train_pinsage(model, x, split.train_pairs, tab, config=cfg)
    assert len(h.step_loss) == 3 and all(math.isfinite(v) for v in h.step_loss)
    assert h.step_lr == pytest.approx([0.05 * 0.9 ** (s / 3) for s in range(3)])


def test_config_errors():
    for bad in (dict(optimizer="adagrad"), dict(sampling="gpu"), dict(lr_decay=0.0), dict(grad_clip=0.0),
                dict(num_workers=-1), dict(sampling="device", num_workers=2), dict(checkpoint_every=0),
                dict(early_stopping_metric="ndcg")):
        with pytest.raises(ValueError, match="TrainConfig"):
            TrainConfig(**bad)
    assert TrainConfig.from_dict(TrainConfig(hard_band=(5, 9)).to_dict()) == TrainConfig(hard_band=(5, 9))


# ---------------------------------------------------------------------------------------------- producer
def _same(a, b) -> None:
    assert (a.epoch, a.index) == (b.epoch, b.index)
    for name in ("queries", "positives", "negatives", "shared_mask", "hard_ids", "hard_mask", "inputs"):
        va, vb = getattr(a, name), getattr(b, name)
        assert (va is None) == (vb is None), name
        if va is not None:
            assert torch.equal(va, vb), name
    assert torch.equal(a.blocks.seeds, b.blocks.seeds)
    for la, lb in zip(a.blocks.layers, b.blocks.layers):
        for name in ("src_ids", "neighbors", "weights", "mask"):
            assert torch.equal(getattr(la, name), getattr(lb, name)), name


def _producer(ml, *, fresh_walks: bool, world: World = World(), **cfg):
    split, g, x, tab = ml
    config = TrainConfig(batch_size=128, max_hard_negatives=3, num_shared_negatives=50, seed=11, **cfg)
    nfn = NeighborhoodSampler(g, 10, generator=5, num_walks=20) if fresh_walks else tab
    # Monte-Carlo PPR: drawn per minibatch from the minibatch's own generator, so workers must agree too
    ranks = _LazyRanks(g, 210, "monte_carlo", device=torch.device("cpu"))
    return MinibatchProducer(split.train_pairs, x, nfn, num_layers=2, config=config, ranks=ranks, band=(84, 210),
                             world=world)


def test_worker_processes_build_the_same_minibatches_as_the_training_process(ml):
    inline = list(islice(minibatches(_producer(ml, fresh_walks=True), epoch=3, start=2, num_workers=0), 4))
    workers = list(islice(minibatches(_producer(ml, fresh_walks=True), epoch=3, start=2, num_workers=2,
                                      prefetch_factor=2), 4))
    assert [m.index for m in inline] == [2, 3, 4, 5] and inline[0].num_hard == 2  # curriculum: epoch 3 → 2
    for a, b in zip(inline, workers):
        _same(a, b)
    # and a minibatch does not depend on what was built before it (resume mid-epoch relies on this)
    _same(_producer(ml, fresh_walks=True)(3, 4), inline[2])


def test_ddp_ranks_split_every_global_minibatch_and_share_its_negatives(ml):
    whole = _producer(ml, fresh_walks=False)(2, 1)
    parts = [_producer(ml, fresh_walks=False, world=World(r, 3))(2, 1) for r in range(3)]
    assert torch.equal(torch.cat([p.queries for p in parts]), whole.queries)
    assert torch.equal(torch.cat([p.positives for p in parts]), whole.positives)
    assert [p.queries.numel() for p in parts] == [42, 43, 43]  # 128 pairs
    for p in parts:
        assert torch.equal(p.negatives, whole.negatives)
    with pytest.raises(ValueError, match="below the number of ranks"):
        MinibatchProducer(ml[0].train_pairs, ml[2], ml[3], num_layers=2, config=TrainConfig(batch_size=2),
                          world=World(0, 4))


def test_ddp_never_leaves_a_rank_without_pairs_and_weights_uneven_shares(ml):
    split, g, x, tab = ml
    pairs = split.train_pairs[:129]  # 2 full minibatches of 64 and one pair left over

    def producer(rank: int, size: int, n: int = 129) -> MinibatchProducer:
        return MinibatchProducer(split.train_pairs[:n], x, tab, num_layers=2,
                                 config=TrainConfig(batch_size=64, num_shared_negatives=20), world=World(rank, size))

    assert producer(0, 1).steps_per_epoch == 3  # one process keeps the last pair
    assert producer(0, 2).steps_per_epoch == 2  # two ranks: a minibatch of 1 pair cannot be split, it is dropped
    assert producer(0, 2, n=130).steps_per_epoch == 3  # 2 pairs: one each
    last = [producer(r, 2, n=130)(1, 2) for r in range(2)]
    assert [m.queries.numel() for m in last] == [1, 1] and [m.share for m in last] == [1.0, 1.0]
    uneven = [producer(r, 3, n=128)(1, 0) for r in range(3)]  # 64 pairs over 3 ranks: 21, 21, 22
    assert [m.queries.numel() for m in uneven] == [21, 21, 22]
    # DDP's average over ranks of share × (the rank's mean of a per-query loss) is the minibatch's mean
    per_query = [m.queries.double() ** 0.5 for m in uneven]  # any per-query value stands in for the loss
    ddp = sum(m.share * v.mean() for m, v in zip(uneven, per_query)) / 3
    assert float(ddp) == pytest.approx(float(torch.cat(per_query).mean()))
    assert [m.share for m in uneven] == pytest.approx([21 * 3 / 64, 21 * 3 / 64, 22 * 3 / 64])
    assert pairs.shape[0] == 129


def test_device_sampling_matches_cpu_sampling_and_the_timeline_adds_up(ml):
    split, g, x, tab = ml
    runs = {}
    for sampling in ("cpu", "device"):  # on a CPU model "device" is the in-process producer on that device
        torch.manual_seed(0)
        model = PinSage(PinSageConfig.classroom(x.shape[1]))
        cfg = TrainConfig(epochs=2, max_steps_per_epoch=3, max_hard_negatives=1, sampling=sampling)
        runs[sampling] = train_pinsage(model, x, split.train_pairs, tab, config=cfg, graph=g)
    assert runs["cpu"].step_loss == runs["device"].step_loss
    h = runs["cpu"]
    assert [t[:2] for t in h.timeline] == [(1, 1), (1, 2), (1, 3), (2, 4), (2, 5), (2, 6)]
    assert all(t[2] <= t[3] <= t[4] for t in h.timeline)
    assert all(a[4] <= b[2] for a, b in zip(h.timeline, h.timeline[1:]))
    for e in h.epochs:
        steps = [t for t in h.timeline if t[0] == e.epoch]
        assert e.data_wait == pytest.approx(sum(t[3] - t[2] for t in steps))
        assert e.compute == pytest.approx(sum(t[4] - t[3] for t in steps))


def test_device_sampling_and_gathered_inputs_give_the_same_embeddings(ml):
    split, g, x, tab = ml
    torch.manual_seed(0)
    model = PinSage(PinSageConfig.classroom(x.shape[1])).eval()
    mb = _producer(ml, fresh_walks=False)(2, 0)
    assert torch.allclose(model(mb.blocks, inputs=mb.inputs), model(mb.blocks, x), atol=1e-6)
    with pytest.raises(ValueError, match="exactly one"):
        model(mb.blocks)
    with pytest.raises(ValueError, match="rows but the blocks need"):
        model(mb.blocks, inputs=mb.inputs[:-1])


# ---------------------------------------------------------------------------------------------- metrics
def test_target_ranks_and_scaled_mrr_by_hand():
    z = torch.tensor([[1.0, 0.0], [0.8, 0.6], [0.6, 0.8], [0.0, 1.0], [-1.0, 0.0]])
    # from item 0: scores 1 (itself, skipped), .8, .6, 0, -1
    assert target_ranks(z, [0, 0, 0], [1, 3, 4]).tolist() == [1, 3, 4]
    assert target_ranks(z, [0], [3], exclude_query=False).tolist() == [4]
    assert target_ranks(z, [3, 3], [2, 1], chunk_size=1).tolist() == [1, 2]
    assert scaled_mrr(torch.tensor([1, 2, 4]), scale=1) == pytest.approx((1 + 1 / 2 + 1 / 4) / 3)
    assert scaled_mrr(torch.tensor([1, 100, 101, 250]), scale=100) == pytest.approx((1 + 1 + 1 / 2 + 1 / 3) / 4)
    assert mrr_scale(6_298) == 1 and mrr_scale(1_000_000) == 20 and mrr_scale(5_000_000) == 100
    assert math.isnan(scaled_mrr(torch.zeros(0)))
    with pytest.raises(ValueError, match="targets"):
        target_ranks(z, [0, 1], [2])
    with pytest.raises(ValueError, match="outside"):
        target_ranks(z, [0], [9])


def test_early_stopping_ends_a_run_that_stops_improving_and_a_resume_with_more_patience_goes_on(ml, tmp_path):
    split, g, x, tab = ml
    torch.manual_seed(0)
    model = PinSage(PinSageConfig.classroom(x.shape[1]))
    cfg = TrainConfig(epochs=5, max_steps_per_epoch=2, max_hard_negatives=0, lr=1e-12, eval_pairs=300,
                      early_stopping=1)  # a learning rate too small to change the ranking: no improvement
    h = train_pinsage(model, x, split.train_pairs, tab, config=cfg, val_pairs=split.val_pairs, out_dir=tmp_path / "r")
    # epoch 1 is the best so far (best.pt); epoch 2 is no better: one epoch without improvement, stop
    assert h.stopped_early == 2 and len(h.epochs) == 2
    assert h.epochs[1].val_hit_rate == h.epochs[0].val_hit_rate == h.initial_hit_rate
    assert "stopped early after epoch 2" in h.table() and (tmp_path / "r" / "best.pt").exists()
    assert load_checkpoint(tmp_path / "r" / "best.pt")["progress"]["epoch"] == 1
    more = TrainConfig(**{**cfg.to_dict(), "early_stopping": 3, "hard_band": None})
    h2 = train_pinsage(model, x, split.train_pairs, tab, config=more, val_pairs=split.val_pairs,
                       out_dir=tmp_path / "r", resume=True)
    assert h2.stopped_early == 4 and [e.epoch for e in h2.epochs] == [1, 2, 3, 4]
    fewer = TrainConfig(**{**more.to_dict(), "epochs": 2, "hard_band": None})
    with pytest.raises(RunDirError, match="has already reached epoch 4: resume it with --epochs >= 4, not 2"):
        train_pinsage(model, x, split.train_pairs, tab, config=fewer, val_pairs=split.val_pairs,
                      out_dir=tmp_path / "r", resume=True)
    with pytest.raises(ValueError, match="early_stopping needs val_pairs"):
        train_pinsage(model, x, split.train_pairs, tab, config=cfg)


# ---------------------------------------------------------------------------------------------- checkpoints
def test_checkpoints_are_atomic_and_cannot_run_code(tmp_path):
    path = save_checkpoint({"model": {"w": torch.ones(3)}, "n": 3}, tmp_path / "c.pt")
    assert load_checkpoint(path)["n"] == 3 and not list(tmp_path.glob("*.tmp"))
    # a truncated file
    data = path.read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cut.pt is not a readable checkpoint"):
        load_checkpoint(tmp_path / "cut.pt")
    # a pickle that would call a function when loaded
    torch.save({"format": "pinsage_edu.checkpoint/1", "evil": _Boom()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="could run code"):
        load_checkpoint(tmp_path / "evil.pt")
    assert not (tmp_path / "boom").exists()
    torch.save({"w": torch.ones(1)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a pinsage_edu checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")


class _Boom:
    def __reduce__(self):
        return (os.mkdir, (str(Path(__file__).parent / "boom"),))


def test_a_run_resumed_in_process_equals_an_uninterrupted_one(ml, tmp_path):
    split, g, x, tab = ml
    cfg = TrainConfig(epochs=3, max_steps_per_epoch=3, max_hard_negatives=2, eval_pairs=200, checkpoint_every=2)

    def model() -> PinSage:
        torch.manual_seed(0)
        return PinSage(PinSageConfig.classroom(x.shape[1], dropout=0.3))  # dropout: the RNG states matter

    whole = model()
    h_whole = train_pinsage(whole, x, split.train_pairs, tab, config=cfg, graph=g, val_pairs=split.val_pairs,
                            out_dir=tmp_path / "whole")
    part = model()
    short = TrainConfig(**{**cfg.to_dict(), "epochs": 1, "hard_band": None})
    train_pinsage(part, x, split.train_pairs, tab, config=short, graph=g, val_pairs=split.val_pairs,
                  out_dir=tmp_path / "part")
    resumed = model()  # fresh parameters: everything must come from the checkpoint
    h_res = train_pinsage(resumed, x, split.train_pairs, tab, config=cfg, graph=g, val_pairs=split.val_pairs,
                          out_dir=tmp_path / "part", resume=True)
    for (n, a), b in zip(whole.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), n
    assert h_res.step_loss == h_whole.step_loss
    assert [e.val_hit_rate for e in h_res.epochs] == [e.val_hit_rate for e in h_whole.epochs]
    steps = [json.loads(line) for line in (tmp_path / "part" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in steps if r["type"] == "step"] == list(range(1, 10))
    assert [r["epoch"] for r in steps if r["type"] == "epoch"] == [1, 2, 3]


def test_run_folder_errors_leave_everything_as_it_was(ml, tmp_path):
    split, g, x, tab = ml
    cfg = TrainConfig(epochs=1, max_steps_per_epoch=2, max_hard_negatives=0)
    torch.manual_seed(0)
    model = PinSage(PinSageConfig.classroom(x.shape[1]))
    out = tmp_path / "run"
    train_pinsage(model, x, split.train_pairs, tab, config=cfg, out_dir=out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(RunDirError, match="already holds a training run"):
        train_pinsage(model, x, split.train_pairs, tab, config=cfg, out_dir=out)
    with pytest.raises(RunDirError, match="train.lr: 0.001 there, 0.002 now"):
        train_pinsage(model, x, split.train_pairs, tab, config=TrainConfig(**{**cfg.to_dict(), "lr": 0.002,
                                                                                 "hard_band": None}),
                      out_dir=out, resume=True)
    with pytest.raises(RunDirError, match="holds no run to resume"):
        train_pinsage(model, x, split.train_pairs, tab, config=cfg, out_dir=tmp_path / "empty", resume=True)
    # a run stopped before its first checkpoint may simply start again (with or without --resume)
    early = tmp_path / "early"
    early.mkdir()
    (early / "run.json").write_bytes(before["run.json"])
    (early / ".last.pt.x1.tmp").write_bytes(b"half a checkpoint")
    (early / "notes.tmp").write_text("the user's own file")
    train_pinsage(model, x, split.train_pairs, tab, config=cfg, out_dir=early, resume=True)
    assert (early / "last.pt").exists() and not (early / ".last.pt.x1.tmp").exists()
    assert (early / "notes.tmp").read_text() == "the user's own file"
    last = out / "last.pt"
    last.write_bytes(before["last.pt"][:1000])
    with pytest.raises(CheckpointError, match="last.pt is not a readable checkpoint"):
        train_pinsage(model, x, split.train_pairs, tab, config=TrainConfig(**{**cfg.to_dict(), "epochs": 2,
                                                                                 "hard_band": None}),
                      out_dir=out, resume=True)
    after = {p.name: p.read_bytes() for p in out.iterdir()}
    assert after.keys() == before.keys()
    assert all(after[k] == before[k] for k in before if k != "last.pt") and after["last.pt"] == before["last.pt"][:1000]
    with pytest.raises(ValueError, match="start_epoch continues an in-memory run"):
        train_pinsage(model, x, split.train_pairs, tab, config=cfg, out_dir=tmp_path / "x", start_epoch=2)
    (tmp_path / "afile").write_text("not a folder")
    with pytest.raises(RunDirError, match="is a file, not a folder"):
        train_pinsage(model, x, split.train_pairs, tab, config=cfg, out_dir=tmp_path / "afile" / "run")
    with pytest.raises(ValueError, match="checkpoint_every needs an out_dir"):
        train_pinsage(model, x, split.train_pairs, tab, config=TrainConfig(checkpoint_every=5, max_hard_negatives=0))


# ---------------------------------------------------------------------------------------------- the CLI, kill, DDP
# fresh walks per minibatch, a worker process, Monte-Carlo PPR for the hard negatives and dropout: every
# source of randomness the run has must come back the same after the kill
CLI = ["--dataset", "ml-latest-small", "train", "--epochs", "2", "--steps-per-epoch", "6", "--batch-size", "64",
       "--eval-pairs", "200", "--no-progress", "--checkpoint-every", "2", "--max-hard", "2", "--dropout", "0.2",
       "--resample", "--walks", "50", "--workers", "1", "--ppr-method", "monte_carlo"]

KILLER = textwrap.dedent("""
    import os, signal, sys
    import pinsage_edu.train as t
    step = t.Trainer._step
    count = [0]
    def killing_step(self, mb):
        count[0] += 1
        if count[0] == int(os.environ["KILL_AT"]):
            os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no flush: like a crash or the OOM killer
        return step(self, mb)
    t.Trainer._step = killing_step
    from pinsage_edu.cli import main
    sys.exit(main(sys.argv[1:]))
""")


TEARDOWN_ABORT = "terminate called without an active exception"


def _run(args: list[str], env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run a command. A torchrun launch that fails only by a gloo rank aborting at teardown (seen once in
    CI, on a loaded machine, never by hand: see the closing notes) is run once more, and the abort is
    reported as a warning in the test summary — the results are still compared exactly."""
    def once() -> subprocess.CompletedProcess:
        return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "PYTHONHASHSEED": "0", **(env or {})})
    proc = once()
    if proc.returncode != 0 and "torch.distributed.run" in args and TEARDOWN_ABORT in proc.stderr:
        import warnings
        warnings.warn(f"a torchrun rank aborted at teardown; ran again. {_failure(proc)}")
        proc = once()
    return proc


def _failure(proc: subprocess.CompletedProcess) -> str:
    """What a failed run printed: the head and the tail of stderr (torchrun's summary alone hides which rank
    failed where), and the tail of stdout."""
    err = proc.stderr if len(proc.stderr) < 6000 else proc.stderr[:3000] + "\n…\n" + proc.stderr[-3000:]
    return f"stderr:\n{err}\nstdout (tail):\n{proc.stdout[-1500:]}"


def _params(out: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(out / "last.pt")["model"]


@pytest.mark.slow
def test_kill_and_resume_from_the_command_line_equals_an_uninterrupted_run(tmp_path):
    whole = _run([sys.executable, "-m", "pinsage_edu", *CLI, "--out", str(tmp_path / "whole")])
    assert whole.returncode == 0, whole.stderr
    assert "val hit@k" in whole.stdout and "PinSage" in whole.stdout and str(tmp_path / "whole") in whole.stdout
    assert json.loads((tmp_path / "whole" / "results.json").read_text())["val"]["pinsage"] >= 0
    killer = tmp_path / "killer.py"
    killer.write_text(KILLER)
    # step 9 is mid-epoch 2 (6 steps per epoch), after the checkpoint at step 8
    dead = _run([sys.executable, str(killer), *CLI, "--out", str(tmp_path / "k")], env={"KILL_AT": "10"})
    assert dead.returncode == -signal.SIGKILL
    state = load_checkpoint(tmp_path / "k" / "last.pt")
    assert state["progress"]["global_step"] == 8 and state["progress"]["epoch"] == 2
    assert not state["progress"]["epoch_done"] and state["curriculum"]["hard_per_query"] == 1
    again = _run([sys.executable, "-m", "pinsage_edu", *CLI, "--out", str(tmp_path / "k"), "--resume"])
    assert again.returncode == 0, again.stderr
    a, b = _params(tmp_path / "whole"), _params(tmp_path / "k")
    for name in a:
        assert torch.equal(a[name], b[name]), name
    # the epoch log of the resumed run is the uninterrupted one's (losses of steps before and after the kill)
    ea = [json.loads(x) for x in (tmp_path / "whole" / "metrics.jsonl").read_text().splitlines()]
    eb = [json.loads(x) for x in (tmp_path / "k" / "metrics.jsonl").read_text().splitlines()]
    pick = lambda rs: [(r["step"], r["loss"]) for r in rs if r["type"] == "step"]  # noqa: E731
    assert pick(ea) == pick(eb)
    val = lambda rs: [(r["epoch"], r["val_hit_rate"], r["val_mrr"]) for r in rs if r["type"] == "epoch"]  # noqa: E731
    assert val(ea) == val(eb) and len(val(ea)) == 2
    # the run folder refuses a second run, and a corrupt checkpoint is named; neither writes anything
    again = _run([sys.executable, "-m", "pinsage_edu", *CLI, "--out", str(tmp_path / "k")])
    assert again.returncode == 1 and "already holds a training run" in again.stderr
    last = tmp_path / "k" / "last.pt"
    last.write_bytes(last.read_bytes()[:5000])
    files = {p.name: p.read_bytes() for p in (tmp_path / "k").iterdir()}
    again = _run([sys.executable, "-m", "pinsage_edu", *CLI, "--epochs", "3", "--out", str(tmp_path / "k"), "--resume"])
    assert again.returncode == 1 and "last.pt is not a readable checkpoint" in again.stderr, again.stderr
    assert {p.name: p.read_bytes() for p in (tmp_path / "k").iterdir()} == files


def test_cli_errors_are_clear_and_write_nothing(tmp_path):
    out = tmp_path / "r"
    bad = _run([sys.executable, "-m", "pinsage_edu", "--dataset", "no-such-data", "train", "--out", str(out)])
    assert bad.returncode == 1 and "unknown dataset 'no-such-data'" in bad.stderr and not out.exists()
    if not torch.cuda.is_available():
        bad = _run([sys.executable, "-m", "pinsage_edu", "train", "--device", "cuda", "--out", str(out)])
        assert bad.returncode == 1 and "CUDA is not available" in bad.stderr and not out.exists()
    bad = _run([sys.executable, "-m", "pinsage_edu", "train", "--resume"])
    assert bad.returncode == 1 and "--resume needs --out" in bad.stderr
    bad = _run([sys.executable, "-m", "pinsage_edu", "train", "--lr-decay", "2", "--out", str(out)])
    assert bad.returncode == 1 and "--lr-decay must be in (0, 1]" in bad.stderr and not out.exists()
    bad = _run([sys.executable, "-m", "pinsage_edu", "train", "--device", "gpu", "--out", str(out)])
    assert bad.returncode == 1 and "--device must be cpu, cuda or cuda:N" in bad.stderr and not out.exists()


TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
DDP = ["--dataset", "ml-latest-small", "train", "--epochs", "1", "--steps-per-epoch", "4", "--batch-size", "64",
       "--eval-pairs", "200", "--no-progress", "--max-hard", "0"]


def test_torchrun_two_gloo_ranks_stay_in_sync_and_match_one_process(tmp_path):
    ddp = _run([*TORCHRUN, "-m", "pinsage_edu", *DDP, "--out", str(tmp_path / "ddp")], env={"OMP_NUM_THREADS": "1"})
    assert ddp.returncode == 0, _failure(ddp)
    assert ddp.stdout.count("epoch  hard/q") == 1  # rank 0 alone prints the epoch table
    end = json.loads((tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()[-1])
    assert end["type"] == "end" and end["world_size"] == 2
    assert len(end["param_checksums"]) == 2 and end["ranks_in_sync"]
    # each rank took half of every minibatch and the gradients were averaged: the same step as one process
    one = _run([sys.executable, "-m", "pinsage_edu", *DDP, "--out", str(tmp_path / "one")])
    assert one.returncode == 0, one.stderr
    a, b = _params(tmp_path / "ddp"), _params(tmp_path / "one")
    for name in a:
        assert torch.allclose(a[name], b[name], atol=1e-4), name  # Adam magnifies float-order noise in tiny gradients
    bad = _run([*TORCHRUN, "-m", "pinsage_edu", *DDP[:-2], "--batch-size", "1", "--out", str(tmp_path / "b")],
               env={"OMP_NUM_THREADS": "1"})
    assert bad.returncode != 0 and "below the number of ranks" in bad.stderr


@pytest.mark.slow
def test_resume_needs_the_same_world_size(tmp_path):
    out = tmp_path / "one"
    assert _run([sys.executable, "-m", "pinsage_edu", *DDP, "--out", str(out)]).returncode == 0
    again = _run([*TORCHRUN, "-m", "pinsage_edu", *DDP, "--epochs", "2", "--out", str(out), "--resume"],
                 env={"OMP_NUM_THREADS": "1"})
    assert again.returncode != 0 and "world_size: 1 there, 2 now" in again.stderr


def test_minibatch_pickles_for_worker_processes(ml):
    mb = _producer(ml, fresh_walks=False)(1, 0)
    back = pickle.loads(pickle.dumps(mb))
    _same(mb, back)


def test_bf16_autocast_runs_forward_and_backward_close_to_float32(ml):
    """The trainer autocasts to bf16 on CUDA; the CPU's autocast runs the same dtype rules for these ops,
    so a dtype mismatch (an index_add of bf16 into float32, say) would show here without a GPU."""
    split, g, x, tab = ml
    for pooling in ("importance", "mean", "max"):
        torch.manual_seed(0)
        model = PinSage(PinSageConfig.classroom(x.shape[1], pooling=pooling))
        mb = _producer(ml, fresh_walks=False)(2, 0)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            z = model(mb.blocks, inputs=mb.inputs)
        assert z.dtype == torch.bfloat16
        z.float().pow(2).sum().backward()
        assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in model.parameters())
        assert (z.float() - model(mb.blocks, inputs=mb.inputs)).abs().max() < 0.02


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_training_matches_the_cpu_in_both_sampling_modes(ml):
    """On a GPU: CPU workers feeding pinned minibatches, and walks on the GPU itself, both train like the CPU."""
    split, g, x, tab = ml
    runs = {}
    for name, device, sampling, workers in (("cpu", "cpu", "cpu", 0), ("cuda, CPU workers", "cuda", "cpu", 1),
                                            ("cuda, GPU sampling", "cuda", "device", 0)):
        torch.manual_seed(0)
        model = PinSage(PinSageConfig.classroom(x.shape[1])).to(device)
        cfg = TrainConfig(epochs=2, max_steps_per_epoch=3, max_hard_negatives=1, sampling=sampling, num_workers=workers,
                          amp=False, eval_pairs=300)
        nfn = tab.to(device) if sampling == "device" else tab
        runs[name] = train_pinsage(model, x.to(device), split.train_pairs, nfn, config=cfg,
                                   graph=g.to(device) if sampling == "device" else g, val_pairs=split.val_pairs)
    for name in ("cuda, CPU workers", "cuda, GPU sampling"):
        # the GPU's random streams differ from the CPU's: same neighbourhoods and pairs, other negatives
        if name == "cuda, CPU workers":
            assert runs[name].step_loss == pytest.approx(runs["cpu"].step_loss, rel=1e-3, abs=1e-4)
        assert all(math.isfinite(v) for v in runs[name].step_loss)
        # other negatives, same distribution: the first step (same weights, same pairs and neighbourhoods)
        # averages over 500 shared negatives, so its loss is close to the CPU's
        assert runs[name].step_loss[0] == pytest.approx(runs["cpu"].step_loss[0], rel=0.1)
    # the GPU path's forward: a model embeds every item on the GPU as it does on the CPU
    from pinsage_edu.inference import embed_all
    torch.manual_seed(0)
    model = PinSage(PinSageConfig.classroom(x.shape[1], input_skip=True)).cuda()
    z_gpu = embed_all(model, tab.to("cuda"), x.cuda()).cpu()
    z_cpu = embed_all(model.cpu(), tab, x)
    assert torch.allclose(z_gpu, z_cpu, atol=1e-4)
    torch.manual_seed(0)
    model = PinSage(PinSageConfig.classroom(x.shape[1])).cuda()
    h = train_pinsage(model, x.cuda(), split.train_pairs, tab, config=TrainConfig(epochs=1, max_steps_per_epoch=3,
                                                                                    max_hard_negatives=0))
    assert all(math.isfinite(v) for v in h.step_loss)  # bf16 autocast on


@pytest.mark.slow
def test_a_ddp_run_resumed_equals_an_uninterrupted_one(tmp_path):
    """Two gloo ranks with hard negatives and dropout (each rank its own masks): stopping after epoch 1
    and resuming restores every rank's generators, so epoch 2 is the uninterrupted run's."""
    args = [*DDP[:-2], "--max-hard", "2", "--dropout", "0.2", "--epochs", "2"]
    env = {"OMP_NUM_THREADS": "1"}
    whole = _run([*TORCHRUN, "-m", "pinsage_edu", *args, "--out", str(tmp_path / "whole")], env=env)
    assert whole.returncode == 0, _failure(whole)
    first = _run([*TORCHRUN, "-m", "pinsage_edu", *args, "--epochs", "1", "--out", str(tmp_path / "part")], env=env)
    assert first.returncode == 0, _failure(first)
    assert len(load_checkpoint(tmp_path / "part" / "last.pt")["rng"]) == 2  # both ranks' generators
    rest = _run([*TORCHRUN, "-m", "pinsage_edu", *args, "--out", str(tmp_path / "part"), "--resume"], env=env)
    assert rest.returncode == 0, _failure(rest)
    a, b = _params(tmp_path / "whole"), _params(tmp_path / "part")
    for name in a:
        assert torch.equal(a[name], b[name]), name


def test_the_producer_profile_times_every_stage_once():
    """benchmarks/bench_producer.py wraps the library functions the producer calls: its stages must still
    exist under those names and add up (exclusively) to the minibatch's time."""
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_producer.py"), "--size", "10k", "--steps",
                          "1", "--warmup", "0", "--hard", "2"], capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert out.returncode == 0, out.stderr[-2000:]
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    for mode in ("table", "walks"):
        stages = {d["stage"]: d for d in lines if d["figure"] == "producer_stage" and d["mode"] == mode}
        total = next(d for d in lines if d["figure"] == "producer_total" and d["mode"] == mode)
        assert {"blocks", "PPR ranks", "hard negatives", "shared negatives", "shared mask", "rest"} <= set(stages)
        assert abs(sum(d["ms_per_minibatch"] for d in stages.values()) - total["ms_per_minibatch"]) < 1.0
        assert all(d["ms_per_minibatch"] >= 0 for d in stages.values())
        if mode == "walks":
            assert {"blocks › walks", "blocks › visit counting", "blocks › top-T"} <= set(stages)
