"""The command line as a newcomer meets it: the epoch table, the help texts, `embed` on a main job's
folder, what `train` prints, the package metadata and what `tasks.py setup` says before installing."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from pinsage_edu import cli
from pinsage_edu.inference import load_embeddings
from pinsage_edu.train import EpochLog, TrainConfig, TrainHistory

ROOT = Path(__file__).resolve().parent.parent
SUBCOMMANDS = ("main", "summary", "neighbors", "train", "embed", "recommend", "evaluate")


def _help(argv: list[str], capsys, monkeypatch) -> str:
    """The --help text of ``python -m pinsage_edu ARGV``, on one wide line per option."""
    monkeypatch.setenv("COLUMNS", "250")  # argparse wraps to the terminal; wide, so phrases stay whole
    with pytest.raises(SystemExit) as exc:
        cli.main([*argv, "--help"])
    assert exc.value.code == 0
    return capsys.readouterr().out


def _epoch(epoch: int, hard: int) -> EpochLog:
    nan = float("nan")
    return EpochLog(epoch=epoch, hard_per_query=hard, steps=3, loss=0.08, active=0.9, pos_score=0.9, neg_score=0.8,
                    hard_score=0.85 if hard else nan, active_hard=0.7 if hard else nan, val_hit_rate=0.01,
                    seconds=1.0, val_mrr=0.004, lr=1e-3)


# ------------------------------------------------------------------------------------------ the epoch table
def test_epoch_table_shows_a_dash_where_nothing_was_measured():
    h = TrainHistory(epochs=[_epoch(1, 0), _epoch(2, 1)], initial_hit_rate=0.005, initial_mrr=0.002)
    lines = h.table().splitlines()
    assert len(lines) == 4 and "nan" not in h.table()
    assert lines[2].split()[7:9] == ["—", "—"]  # epoch 1: no hard negatives yet, so no hard·q, no active hard
    assert lines[3].split()[7:9] == ["0.850", "0.700"]
    assert len(lines[2]) == len(lines[3])  # the dash keeps the columns aligned
    assert "not measured" not in h.table() and "— = not measured" in h.table(legend=True)
    no_val = TrainHistory(epochs=[replace(_epoch(1, 0), val_hit_rate=float("nan"), val_mrr=float("nan"))])
    assert "nan" not in no_val.table()  # trained without val pairs


def test_epoch_table_legend_explains_every_header():
    h = TrainHistory(epochs=[_epoch(1, 1)])
    head, legend = h.table().splitlines()[0], h.table(legend=True).split("\n", 2)[2]
    for column in ("hard/q", "active", "pos·q", "neg·q", "hard·q", "active hard", "val hit@k", "val MRR", "lr",
                   "wait s", "compute s"):
        assert column in head and column in legend, column


# ------------------------------------------------------------------------------------------ the help texts
@pytest.mark.parametrize("command", ["main", "train", "neighbors"])
def test_dataset_help_names_the_default_these_commands_really_use(command, capsys, monkeypatch):
    text = _help([command], capsys, monkeypatch)
    line = next(line for line in text.splitlines() if "a shipped name" in line)
    assert f"(default: {cli.DEFAULT_DATASET})" in line and "all of them" not in line, line
    assert ("repeatable" in line) == (command == "neighbors"), line  # main and train take one dataset


def test_summary_help_says_it_goes_through_every_dataset(capsys, monkeypatch):
    line = next(line for line in _help(["summary"], capsys, monkeypatch).splitlines() if "a shipped name" in line)
    assert "repeatable (default: all 3 of them)" in line, line


def test_top_level_help_shows_the_main_jobs_options(capsys, monkeypatch):
    text = _help([], capsys, monkeypatch)
    assert "Without a sub-command it runs the main job" in text
    options = text.split("main job options", 1)[1]
    for flag in ("--out", "--device", "--epochs", "--test-pairs", "--max-hard", "--id-embeddings", "--ablation"):
        assert re.search(rf"^\s+(-T NUM_NEIGHBORS, )?{flag}\b", options, re.M), flag
    flat = " ".join(options.split())
    assert "main --help" in options and "training epochs (default: the dataset's recipe, 10; goodbooks-10k: 8)" in flat
    assert "the main job takes one (default: ml-latest-small)" in text


@pytest.mark.parametrize("argv", [[], *([c] for c in SUBCOMMANDS)])
def test_no_help_text_shows_raw_double_backticks(argv, capsys, monkeypatch):
    text = _help(argv, capsys, monkeypatch)
    assert "``" not in text, text


def test_help_through_python_m_matches():
    r = subprocess.run([sys.executable, "-m", "pinsage_edu", "--help"], cwd=ROOT, capture_output=True, text=True,
                       env=dict(os.environ, COLUMNS="250"))
    assert r.returncode == 0 and "main job options" in r.stdout and "``" not in r.stdout


# ------------------------------------------------------------------------------- embed on a main job's folder
def test_embed_given_a_main_jobs_folder_embeds_its_pinsage_run(tmp_path, capsys):
    out = tmp_path / "main-1"
    assert cli.main(["--epochs", "1", "--steps-per-epoch", "2", "--eval-pairs", "100", "--test-pairs", "200",
                     "--no-progress", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "(epoch table columns: hard/q" in printed  # the main job's epoch tables get their legend too
    assert (out / "pinsage" / "run.json").exists() and not (out / "run.json").exists()
    assert cli.main(["embed", "--run-dir", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"{out} is a main job's folder: embedding its PinSage run, {out / 'pinsage'}/ (best.pt)" in printed
    assert f"the main job's own embeddings are in {out / 'embeddings.pt'}" in printed
    made = load_embeddings(out / "pinsage" / "embeddings-best.pt")
    torch.testing.assert_close(made.vectors, load_embeddings(out / "embeddings.pt").vectors, atol=1e-5, rtol=1e-5)


def test_embed_says_where_it_looked_for_a_run(tmp_path, capsys):
    assert cli.main(["embed", "--run-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path} holds no run (no run.json, nor {tmp_path / 'pinsage' / 'run.json'}" in err, err


# ------------------------------------------------------------------------------------- what `train` prints
def test_train_prints_readable_configs_the_effective_amp_and_item_knn(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "64", "--eval-pairs", "100",
                     "--no-progress", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert '{"' not in printed and '"amp": true' not in printed  # no raw dict dumps
    assert "model (classroom preset): in_dim 86 · hidden_dim 128 · embed_dim 64 ·" in printed
    assert "amp false (CPU: bf16 autocast is used on CUDA only)" in printed
    assert "lr 0.001 ·" in printed and "eval_mrr_scale 1 (by catalogue size)" in printed
    table = printed[printed.index("epoch  hard/q"):printed.index("hit-rate@10 (")]
    assert "nan" not in table and "—" in table and "(epoch table columns:" in table
    rows = [line for line in printed.splitlines() if re.match(r"\s+(val|test): PinSage", line)]
    assert len(rows) == 2 and all("· item-kNN CF 0." in line and "· Pixie" in line for line in rows), rows
    assert "two standard errors on 100 pairs" in printed
    results = json.loads((out / "results.json").read_text())
    assert set(results["test"]) == {"pinsage", "item_knn", "pixie", "popularity"}
    assert json.loads((out / "run.json").read_text())["train"]["amp"] is True  # the setting is kept as given


def test_effective_amp_on_cuda_and_with_no_amp():
    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    assert cli._effective_train_settings(TrainConfig(), cuda, 100)["amp"] == "true (bf16 autocast)"
    assert cli._effective_train_settings(TrainConfig(amp=False), cpu, 100)["amp"] == "false"
    assert "eval_mrr_scale" not in cli._effective_train_settings(TrainConfig(eval_mrr_scale=5), cpu, 100)


def test_describe_config_wraps_between_settings_only():
    text = cli.describe_config("training", {"a_long_setting_name": 1.5, "band": [20, 60], "none": None,
                                            "flag": True, "words": "x" * 30}, effective={"flag": "false (why not)"},
                               width=40)
    assert text.replace("\n  ", " ") == ("training: a_long_setting_name 1.5 · band 20–60 · none — · "
                                         "flag false (why not) · words " + "x" * 30)
    assert all(not line.rstrip().endswith(("a_long_setting_name", "flag", "false")) for line in text.splitlines())


# ------------------------------------------------------------------------------------ packaging and setup
def test_pyproject_license_is_an_spdx_expression_the_build_backend_supports():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["license"] == "MIT"
    assert not any(c.startswith("License ::") for c in project["project"].get("classifiers", []))
    req = next(r for r in project["build-system"]["requires"] if r.startswith("setuptools"))
    assert int(re.search(r">=\s*(\d+)", req).group(1)) >= 77  # the first setuptools with SPDX strings


def test_metadata_builds_without_a_licence_deprecation(tmp_path):
    r = subprocess.run([sys.executable, "-c", "import sys, setuptools.build_meta as b; "
                        "print(b.prepare_metadata_for_build_wheel(sys.argv[1]))", str(tmp_path)],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "deprecated" not in (r.stdout + r.stderr).lower(), r.stderr[-2000:]
    metadata = (tmp_path / r.stdout.strip().splitlines()[-1] / "METADATA").read_text()
    assert "License-Expression: MIT" in metadata


def _tasks_module():
    spec = importlib.util.spec_from_file_location("pinsage_edu_tasks", ROOT / "tasks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_setup_says_what_it_installs_before_the_quiet_pip_steps(tmp_path, monkeypatch, capsys):
    tasks = _tasks_module()
    venv = tmp_path / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text("")
    (venv / ".pinsage_edu-installed").write_text("the hash of older files")  # an install now out of date
    monkeypatch.setattr(tasks, "VENV", venv)
    monkeypatch.setattr(tasks, "PY", venv / "bin" / "python")
    monkeypatch.setattr(tasks, "sh", lambda *args: print("RUN", *args))  # nothing is installed
    tasks.setup()
    printed = capsys.readouterr().out
    first_run = printed.index("RUN")
    said = printed[:first_run]
    assert "changed since .venv was set up: reinstalling" in said
    assert "installing into .venv: torch==2.13.0" in said and "pinsage_edu[dev]" in said and "minutes" in said
    assert (venv / ".pinsage_edu-installed").read_text() != "the hash of older files"
    tasks.setup()  # current now: nothing to say, nothing to run
    assert capsys.readouterr().out == ""
    assert not tasks.install_message(False).startswith("pyproject.toml")
