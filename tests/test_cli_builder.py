"""The command line's one experiment builder and its flags generated from TrainConfig's field metadata.

* ``main``, ``train``, ``embed`` and ``evaluate`` all build their data with :meth:`Experiment.load`
  (``embed`` / ``evaluate`` through :meth:`Experiment.from_info`, from the record ``run.json`` or the
  embeddings file keeps), and the record rebuilds the same split, features and table;
* every ``train`` flag of a TrainConfig field is generated from the field's metadata, with the flag
  names and defaults it always had;
* the errors name the flag through the metadata (or a mapping), with no regex over the messages.
"""

from __future__ import annotations

import ast
import json
from dataclasses import fields, replace
from pathlib import Path

import pytest
import torch

from pinsage_edu import cli
from pinsage_edu import evaluate as evaluate_module
from pinsage_edu.checkpoint import save_checkpoint
from pinsage_edu.data import DataError, synthetic_pins_boards
from pinsage_edu.evaluate import Experiment
from pinsage_edu.inference import ItemEmbeddings, save_embeddings
from pinsage_edu.minibatch import NeighborhoodSampler, NeighborhoodTable
from pinsage_edu.model import PinSage, PinSageConfig
from pinsage_edu.train import TrainConfig

CLI_SOURCE = Path(cli.__file__).read_text(encoding="utf-8")

# every TrainConfig field's `train` flag and its default before the flags were generated from the metadata
OLD_TRAIN_FLAGS = {
    "epochs": ("--epochs", 10), "batch_size": ("--batch-size", 512), "optimizer": ("--optimizer", "adam"),
    "lr": ("--lr", 1e-3), "momentum": ("--momentum", 0.9), "weight_decay": ("--weight-decay", 0.0),
    "warmup_epochs": ("--warmup-epochs", 1.0), "lr_decay": ("--lr-decay", 0.9), "grad_clip": ("--grad-clip", 1.0),
    "amp": ("--no-amp", False), "margin": ("--margin", 0.1), "loss": ("--loss", "margin"),
    "temperature": ("--temperature", 0.1), "num_shared_negatives": ("--shared-negatives", 500),
    "max_hard_negatives": ("--max-hard", 6), "curriculum": ("--no-curriculum", False), "hard_band": ("--band", None),
    "ppr_method": ("--ppr-method", "auto"), "num_workers": ("--workers", None), "prefetch_factor": ("--prefetch", 2),
    "sampling": ("--sampling", "cpu"), "max_steps_per_epoch": ("--steps-per-epoch", None),
    "eval_k": ("--eval-k", 10), "eval_pairs": ("--eval-pairs", None), "eval_mrr_scale": ("--mrr-scale", None),
    "early_stopping": ("--early-stopping", None), "early_stopping_metric": ("--early-stopping-metric", "hit_rate"),
    "checkpoint_every": ("--checkpoint-every", None),
}


def _train_parser():
    return cli.build_parser()[1].choices["train"]


# ------------------------------------------------------------------------------ (a) the generated flags
def test_every_train_flag_is_still_there_with_its_default():
    parser, _ = cli.build_parser()
    args = parser.parse_args(["train"])
    options = _train_parser()._option_string_actions
    for name, (flag, default) in OLD_TRAIN_FLAGS.items():
        meta = TrainConfig.__dataclass_fields__[name].metadata
        assert meta["flag"] == flag and flag in options, name
        assert getattr(args, cli._flag_dest(meta)) == default, (name, flag)
    generated = {f.name for f in fields(TrainConfig) if f.metadata.get("group")}
    assert generated == set(OLD_TRAIN_FLAGS)  # seed's flag is a data option (--seed), not generated here
    assert TrainConfig.__dataclass_fields__["seed"].metadata["flag"] == "--seed"
    # parsing nothing gives TrainConfig's defaults, but for the flags whose default differs on purpose
    args.workers = 0  # `train` resolves None by the device (0 on a CPU)
    assert cli.train_config(args) == replace(TrainConfig(), epochs=10)


OLD_MODEL_FLAGS = {  # PinSageConfig field: (flag, what `train` stores without it)
    "num_neighbors": ("-T", None), "hidden_dim": ("--hidden-dim", None), "embed_dim": ("--embed-dim", None),
    "num_layers": ("--layers", None), "input_dim": ("--input-dim", None), "pooling": ("--pooling", "importance"),
    "dropout": ("--dropout", 0.0), "normalize_output": ("--no-normalize-output", False),
}


def test_every_model_flag_is_generated_from_pinsage_config():
    parser, _ = cli.build_parser()
    args = parser.parse_args(["train"])
    options = _train_parser()._option_string_actions
    for name, (flag, default) in OLD_MODEL_FLAGS.items():
        meta = PinSageConfig.__dataclass_fields__[name].metadata
        assert meta["flag"] == flag and flag in options and meta["group"] == "model", name
        assert getattr(args, cli._flag_dest(meta)) == default, (name, flag)
    assert {f.name for f in fields(PinSageConfig) if f.metadata.get("group")} == set(OLD_MODEL_FLAGS)
    assert "--num-neighbors" in options and options["--num-neighbors"] is options["-T"]
    # no size flag given: the preset decides; the choices come from the config
    assert cli.model_overrides(args) == {"pooling": "importance", "dropout": 0.0, "normalize_output": True}
    args = parser.parse_args(["train", "--num-neighbors", "7", "--layers", "3", "--pooling", "max",
                              "--no-normalize-output", "--input-dim", "16"])
    assert cli.model_overrides(args) == {"num_neighbors": 7, "num_layers": 3, "pooling": "max", "dropout": 0.0,
                                         "normalize_output": False, "input_dim": 16}
    assert PinSageConfig.classroom(5, **cli.model_overrides(args)).num_neighbors == 7


def test_model_config_errors_name_the_field_or_the_flag():
    with pytest.raises(PinSageConfig.Invalid) as exc:
        PinSageConfig(in_dim=4, num_neighbors=0)
    assert str(exc.value) == "PinSageConfig.num_neighbors must be a positive integer, got 0"
    assert exc.value.naming(cli._flag_of(PinSageConfig)) == "-T must be a positive integer, got 0"
    assert isinstance(exc.value, ValueError)
    with pytest.raises(ValueError, match=r"^--pooling must be one of"):
        cli._model_config(PinSageConfig.classroom, 4, {"pooling": "sum"})
    import pickle
    again = pickle.loads(pickle.dumps(exc.value))
    assert type(again) is PinSageConfig.Invalid and str(again) == str(exc.value)


def test_the_flags_convert_as_before():
    parser, _ = cli.build_parser()
    args = parser.parse_args(["--seed", "3", "train", "--no-amp", "--no-curriculum", "--grad-clip", "0", "--band", "5",
                              "9", "--max-hard", "2", "--shared-negatives", "7", "--steps-per-epoch", "4",
                              "--mrr-scale", "20", "--prefetch", "3", "--workers", "1", "--optimizer", "sgd",
                              "--lr", "0.5", "--early-stopping", "2", "--early-stopping-metric", "mrr"])
    tc = cli.train_config(args)
    assert (tc.amp, tc.curriculum, tc.grad_clip, tc.hard_band) == (False, False, None, (5, 9))
    assert (tc.max_hard_negatives, tc.num_shared_negatives, tc.max_steps_per_epoch, tc.eval_mrr_scale) == (2, 7, 4, 20)
    assert (tc.prefetch_factor, tc.num_workers, tc.optimizer, tc.lr, tc.seed) == (3, 1, "sgd", 0.5, 3)
    assert (tc.early_stopping, tc.early_stopping_metric) == (2, "mrr")
    assert cli.train_config(args, seed=8).seed == 8


def test_train_help_lists_every_flag_in_its_section(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    text = _train_parser().format_help()
    sections = {name: text.split(f"\n{name}:\n", 1)[1].split("\n\n", 1)[0]
                for name in ("run", "model", "optimisation", "loss and negatives", "loading", "evaluation")}
    for f in fields(TrainConfig):
        group = f.metadata.get("group")
        if group:
            assert f.metadata["flag"] in sections[group], (f.name, group)
    assert "--band LO HI" in sections["loss and negatives"]
    assert "--optimizer {adam,sgd}" in sections["optimisation"]
    assert "--max-hard MAX_HARD" in sections["loss and negatives"]  # the metavar the flag always showed
    assert "--epochs EPOCHS" in sections["optimisation"] and "--checkpoint-every" in sections["run"]


# ------------------------------------------------------------------------- (c) errors name the flags
def test_cli_rewrites_no_message_with_a_regex():
    tree = ast.parse(CLI_SOURCE)
    imported = {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert "re" not in imported and "regex" not in imported
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    assert "re" not in names and "_FLAGS" not in names  # no re.sub(...), nor the old field → flag table


def test_train_config_errors_name_the_field_or_any_name_for_it():
    with pytest.raises(TrainConfig.Invalid) as exc:
        TrainConfig(lr=0)
    assert str(exc.value) == "TrainConfig.lr must be > 0, got 0"  # as before, for Python callers
    assert exc.value.naming(cli._flag_of(TrainConfig)) == "--lr must be > 0, got 0"
    with pytest.raises(ValueError, match=r"TrainConfig.num_workers must be 0 with TrainConfig.sampling='device'"):
        TrainConfig(num_workers=2, sampling="device")
    with pytest.raises(ValueError, match=r"TrainConfig.optimizer must be one of \('adam', 'sgd'\), got 'x'"):
        TrainConfig(optimizer="x")
    with pytest.raises(TrainConfig.Invalid) as exc:  # a value with braces does not confuse the template
        TrainConfig(hard_band=None, eval_k={"a": 1})  # type: ignore[arg-type]
    assert "got {'a': 1}" in str(exc.value)


@pytest.mark.parametrize("argv, message", [
    (["--lr", "0"], "--lr must be > 0, got 0.0"),
    (["--shared-negatives", "0"], "--shared-negatives must be a positive integer, got 0"),
    (["--max-hard", "-1"], "--max-hard must be an integer >= 0, got -1"),
    (["--steps-per-epoch", "0"], "--steps-per-epoch must be a positive integer, got 0"),
    (["--mrr-scale", "0"], "--mrr-scale must be a positive integer, got 0"),
    (["--workers", "2", "--sampling", "device"], "--workers must be 0 with --sampling='device'"),
    (["--seed", "-1"], "--seed must be an integer >= 0, got -1"),
    (["-T", "0"], "-T must be a positive integer, got 0"),
    (["--layers", "0"], "--layers must be a positive integer, got 0"),
    (["--hidden-dim", "-3"], "--hidden-dim must be a positive integer, got -3"),
    (["--input-dim", "0"], "--input-dim must be None or a positive integer, got 0"),
    (["--dropout", "1.5"], "--dropout must be in [0, 1), got 1.5"),
])
def test_train_errors_name_the_flag(argv, message, tmp_path, capsys, monkeypatch):
    def no_data(*a, **k):  # every one of these is found before the data is loaded
        raise AssertionError("loaded data")

    monkeypatch.setattr(cli.Experiment, "load", no_data)
    assert cli.main(["train", "--out", str(tmp_path / "run"), "--no-progress", *argv]) == 1
    err = capsys.readouterr().err
    assert message in err and "TrainConfig." not in err and "PinSageConfig." not in err, err
    assert not (tmp_path / "run").exists()


# ------------------------------------------------------------------------------------- (b) one builder
def _tiny(name, **kw):
    """Any dataset name loads this small synthetic graph (seeded as asked): the commands run in seconds."""
    return synthetic_pins_boards(num_pins=400, num_boards=40, num_edges=6000, seed=kw.get("seed", 0))


class _Stop(DataError):
    pass


def _spy(monkeypatch, *, build: bool):
    """Record every Experiment.load call (and with ``build`` the experiment it built), then stop the command."""
    calls = []
    real = Experiment.load.__func__

    def load(dataset, **kw):
        calls.append({"dataset": dataset, **kw})
        if build:
            calls[-1]["exp"] = real(Experiment, dataset, **kw)
        raise _Stop("stopped after building the experiment")

    monkeypatch.setattr(Experiment, "load", load)
    return calls


def _same_data(a: Experiment, b: Experiment) -> None:
    for part in ("train_pairs", "val_pairs", "test_pairs"):
        assert torch.equal(getattr(a.split, part), getattr(b.split, part)), part
    assert torch.equal(a.x, b.x) and a.features.names == b.features.names
    assert a.table.num_neighbors == b.table.num_neighbors
    if isinstance(a.table, NeighborhoodTable):
        assert torch.equal(a.table.table.ids, b.table.table.ids)
        assert torch.equal(a.table.table.weights, b.table.table.weights)


def test_the_record_rebuilds_the_same_experiment():
    exp = Experiment.load("synthetic", num_pins=300, num_boards=60, num_edges=2500, num_neighbors=4, num_walks=50,
                          num_traversals=2, seed=2, collection_dim=8)
    again = Experiment.from_info(json.loads(json.dumps(exp.info)))  # as run.json / an embeddings file keep it
    _same_data(exp, again)
    assert again.info == exp.info and exp.info["collection_dim"] == 8 and exp.info["num_walks"] == 50
    sampled = Experiment.from_info(exp.info, resample=True)  # train --resample: fresh walks, the same data
    assert isinstance(sampled.table, NeighborhoodSampler) and sampled.info == exp.info
    assert sampled.table.num_neighbors == 4 and sampled.table.walk_kwargs == {"num_walks": 50, "num_traversals": 2}
    with pytest.raises(ValueError, match="made on 301 items"):
        Experiment.from_info({**exp.info, "num_items": 301})
    with pytest.raises(ValueError, match="records no dataset"):
        Experiment.from_info({"seed": 0}, source="x/run.json")


def test_an_old_train_record_still_loads(monkeypatch):
    """What `train` wrote in run.json before: no num_neighbors (the model config holds T), no collection_dim,
    a model preset and the device."""
    monkeypatch.setattr(evaluate_module, "load_dataset", _tiny)
    old = {"dataset": "/data/ml", "num_items": 400, "min_rating": 4.0, "val_fraction": 0.1, "test_fraction": 0.1,
           "seed": 1, "preset": "classroom", "resample": False, "num_walks": 40, "num_traversals": 3, "device": "cpu"}
    exp = Experiment.from_info(old, num_neighbors=6)
    assert exp.table.num_neighbors == 6 and exp.info["collection_dim"] == 0 and exp.info["num_walks"] == 40
    direct = Experiment.load("/data/ml", num_neighbors=6, num_walks=40, seed=1, min_rating=4.0)
    _same_data(exp, direct)


def test_train_builds_through_the_one_builder_and_records_what_rebuilds_it(tmp_path, monkeypatch):
    monkeypatch.setattr(evaluate_module, "load_dataset", _tiny)
    calls = _spy(monkeypatch, build=True)
    argv = ["--seed", "3", "train", "--out", str(tmp_path / "run"), "--no-progress", "--walks", "30",
            "--traversals", "2", "-T", "5"]
    assert cli.main(argv) == 1
    assert cli.main([*argv, "--resample"]) == 1
    table_call, sampler_call = calls
    assert table_call["check_pairs"] == ("train", "val", "test") and table_call["resample"] is False
    assert sampler_call["resample"] is True and isinstance(sampler_call["exp"].table, NeighborhoodSampler)
    exp = table_call["exp"]
    assert exp.info["seed"] == 3 and exp.info["num_walks"] == 30 and exp.table.num_neighbors == 5
    assert sampler_call["exp"].info == exp.info  # the same data, walked afresh per minibatch
    # run.json records exp.info with the run's own keys; embed rebuilds from it with the checkpoint's T
    monkeypatch.undo()
    monkeypatch.setattr(evaluate_module, "load_dataset", _tiny)
    run_info = {**exp.info, "preset": "classroom", "resample": False, "device": "cpu"}
    _same_data(exp, Experiment.from_info(json.loads(json.dumps(run_info)), num_neighbors=5))


def test_main_builds_through_the_one_builder_and_records_what_rebuilds_it(tmp_path, monkeypatch):
    monkeypatch.setattr(evaluate_module, "load_dataset", _tiny)
    calls = _spy(monkeypatch, build=True)
    assert cli.main(["main", "--out", str(tmp_path / "m"), "--no-progress", "--collection-dim", "16", "-T", "4"]) == 1
    (call,) = calls
    exp = call["exp"]
    assert call["check_pairs"] == ("train", "val", "test") and exp.info["collection_dim"] == 16
    monkeypatch.undo()
    monkeypatch.setattr(evaluate_module, "load_dataset", _tiny)
    _same_data(exp, Experiment.from_info({**exp.info, "run": "x", "weights": "best validation epoch (1)"}))


def test_embed_and_evaluate_rebuild_through_the_one_builder(tmp_path, monkeypatch, capsys):
    calls = _spy(monkeypatch, build=False)
    info = {"dataset": "synthetic", "num_items": 300, "num_pins": 300, "val_fraction": 0.2, "test_fraction": 0.1,
            "seed": 4, "num_neighbors": 7, "num_walks": 60, "num_traversals": 2, "collection_dim": 16}
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"run": {**info, "preset": "classroom", "device": "cpu"}}))
    config = PinSageConfig.classroom(6, num_neighbors=5)
    save_checkpoint({"model_config": config.to_dict(), "model": PinSage(config).state_dict()}, run / "best.pt")
    assert cli.main(["embed", "--run-dir", str(run)]) == 1
    emb = tmp_path / "emb.pt"
    save_embeddings(ItemEmbeddings(torch.zeros(300, 3), list(range(300)), "abc", {"num_neighbors": 9}, meta=info), emb)
    assert cli.main(["evaluate", "--embeddings", str(emb)]) == 1
    err = capsys.readouterr().err
    assert f"{run / 'run.json'} records dataset 'synthetic', which cannot be loaded again: stopped" in err, err
    assert f"{emb} records dataset 'synthetic', which cannot be loaded again: stopped" in err, err
    want = {"dataset": "synthetic", "num_pins": 300, "val_fraction": 0.2, "test_fraction": 0.1, "seed": 4,
            "num_walks": 60, "num_traversals": 2, "collection_dim": 16}
    embed_call, evaluate_call = calls
    assert embed_call == {**want, "num_neighbors": 5}  # T of the checkpoint's model
    assert evaluate_call == {**want, "num_neighbors": 9}  # T of the embeddings' model


def test_a_resumed_run_from_before_compares_its_own_record():
    new = {"dataset": "d", "num_items": 5, "seed": 0, "num_neighbors": 10, "num_walks": 200, "collection_dim": 0,
           "preset": "classroom"}
    old = {k: v for k, v in new.items() if k not in ("num_neighbors", "collection_dim")}
    assert cli._as_recorded(old, new) == old
    assert cli._as_recorded(new, new) == new and cli._as_recorded(None, new) == new
