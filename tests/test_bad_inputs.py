"""Bad inputs are refused with a clear, located error — never a crash, a hang or a traceback.

Each case writes its own small files into ``tmp_path`` (or breaks a copy of a fixture) and asserts what
the message says: the file, line, path or value at fault. Every test runs in well under two seconds.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import math
import os
import pickle
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import pytest
import torch

from pinsage_edu import cli
from pinsage_edu.checkpoint import CheckpointError, load_checkpoint, save_checkpoint, write_json_atomic
from pinsage_edu.data import DataError, split_interactions
from pinsage_edu.graph import BipartiteGraph
from pinsage_edu.inference import ItemEmbeddings, save_embeddings
from pinsage_edu.loaders import (MAX_LINE_CHARS, detect_format, load_dataset, load_goodbooks, load_interactions_csv,
                                 load_movielens, resolve_dataset)
from pinsage_edu.minibatch import NeighborhoodTable
from pinsage_edu.model import PinSage, PinSageConfig
from pinsage_edu.train import RunDirError, TrainConfig, Trainer, read_run_file

from _helpers import make_interactions

ROOT = Path(__file__).resolve().parent.parent
RATINGS_HEADER = "userId,movieId,rating,timestamp"
MOVIES = "movieId,title,genres\n1,Toy Story (1995),Animation\n2,Heat (1995),Action\n3,Fargo (1996),Crime\n"


def write_movielens(folder: Path, rows: list[str], *, gz: bool = False) -> Path:
    """A MovieLens CSV folder: ``ratings.csv`` (or ``ratings.csv.gz``) with ``rows`` and a three-movie
    ``movies.csv``; returns the ratings file."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "movies.csv").write_text(MOVIES)
    text = RATINGS_HEADER + "\n" + "".join(r + "\n" for r in rows)
    path = folder / ("ratings.csv.gz" if gz else "ratings.csv")
    path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())
    return path


GOOD_RATINGS = ["1,1,4.0,964982703", "1,2,4.5,964981247", "2,1,5.0,964983815", "2,3,4.0,964982931"]


# ---------------------------------------------------------------------- 1. an endless line
@pytest.mark.parametrize("fmt", ["csv", "dat"])
def test_a_small_gzip_of_one_endless_line_is_refused_quickly_in_bounded_memory(tmp_path, fmt):
    # 50 MB of "a" with no newline, as 50 gzip members of 1 MB each (a valid gzip file of ~50 KB,
    # made without compressing 50 MB): the reader must stop after MAX_LINE_CHARS, not hold the line
    first = b"item,collection\n" if fmt == "csv" else b"1::1::5::978300760\n"
    path = tmp_path / ("saves.csv.gz" if fmt == "csv" else "ratings.dat.gz")
    member = gzip.compress(b"a" * (1 << 20))
    path.write_bytes(gzip.compress(first) + member * 50)
    assert path.stat().st_size < 200_000
    (tmp_path / "movies.dat").write_text("1::Toy Story (1995)::Animation\n")
    load = (lambda: load_interactions_csv(path)) if fmt == "csv" else (lambda: load_dataset(path))
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(DataError) as exc:
            load()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(exc.value)
    assert str(path) in message and "line 2" in message and f"{MAX_LINE_CHARS:,} characters" in message, message
    assert time.perf_counter() - t0 < 1.5
    assert peak < 16 * 2**20, f"peak {peak / 2**20:.1f} MiB for a 50 MiB line"  # well under the line's size


def test_an_overlong_line_in_a_plain_double_colon_file_names_its_line(tmp_path):
    folder = tmp_path / "ml-1m"
    folder.mkdir()
    (folder / "movies.dat").write_text("1::Toy Story (1995)::Animation\n")
    (folder / "ratings.dat").write_text("1::1::5::978300760\n" + "9" * (MAX_LINE_CHARS + 10) + "\n")
    with pytest.raises(DataError, match=r"ratings\.dat, line 2: line longer than") as exc:
        load_movielens(folder)
    assert str(folder / "ratings.dat") in str(exc.value)


# ---------------------------------------------------------------------- 2. a threshold nothing reaches
def test_movielens_with_no_rating_at_the_threshold_names_file_and_threshold(tmp_path):
    ratings = write_movielens(tmp_path / "ml", ["1,1,3.0,964982703", "2,2,2.5,964981247"])
    with pytest.raises(DataError) as exc:
        load_movielens(tmp_path / "ml", min_rating=4.0)
    message = str(exc.value)
    assert str(ratings) in message and "min_rating 4" in message and "highest is 3" in message, message
    assert len(load_movielens(tmp_path / "ml", min_rating=3.0).interactions) == 1  # reachable: loads


def test_goodbooks_with_no_positive_count_names_the_file(copy_fixture):
    root = copy_fixture("goodbooks_mini")
    path = root / "book_tags.csv"
    lines = path.read_text().splitlines()
    rows = [",".join(line.split(",")[:2] + ["0"]) for line in lines[1:] if line]
    path.write_text("\n".join([lines[0], *rows]) + "\n")
    with pytest.raises(DataError, match="no row has count > 0") as exc:
        load_goodbooks(root)
    assert str(path) in str(exc.value)


# ---------------------------------------------------------------------- 3. too little data to train
def test_a_split_without_val_or_test_pairs_is_refused_with_the_counts():
    # three collections of three edges: 10% of 3 rounds down to 0, so nothing is held out
    x = make_interactions([(i, c, t) for c in range(3) for t, i in enumerate(range(3))])
    split = split_interactions(x)
    with pytest.raises(DataError) as exc:
        split.check_pairs("tiny-data")
    message = str(exc.value)
    assert "tiny-data" in message and "6 train / 0 val / 0 test pairs" in message, message
    assert "val and test pairs are needed" in message
    assert split.check_pairs("tiny-data", parts=("train",)) is split


def test_train_on_too_little_data_fails_before_training_and_writes_nothing(tmp_path, capsys):
    write_movielens(tmp_path / "tiny", GOOD_RATINGS)
    out = tmp_path / "run"
    rc = cli.main(["train", "--dataset", str(tmp_path / "tiny"), "--out", str(out), "--epochs", "1",
                   "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 1 and "too little data" in err and str((tmp_path / "tiny").resolve()) in err, err
    assert "0 val / 0 test pairs" in err and "Traceback" not in err
    assert not out.exists()  # no run folder, no results.json holding NaN


def test_json_files_are_strict_nan_becomes_null(tmp_path):
    path = write_json_atomic({"val": {"pinsage": float("nan"), "pixie": float("inf")}, "rows": [1.5, math.nan]},
                             tmp_path / "results.json")
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"val": {"pinsage": None, "pixie": None}, "rows": [1.5, None]}


# ---------------------------------------------------------------------- 4. ids in ASCII digits only
@pytest.mark.parametrize("row, label, value", [
    ("1,1_0,4.0,964982703", "movieId", "1_0"),          # Python's int() reads it as 10
    ("١٢,1,4.0,964982703", "userId", "١٢"),             # Arabic-Indic digits: int() reads 12
    ("1,1,4.0,9_64982703", "timestamp", "9_64982703"),
    ("1,1,4_0.0,964982703", "rating", "4_0.0"),
])
def test_numbers_must_be_ascii_digits(tmp_path, row, label, value):
    ratings = write_movielens(tmp_path / "ml", [GOOD_RATINGS[0], row])
    with pytest.raises(DataError) as exc:
        load_movielens(tmp_path / "ml")
    message = str(exc.value)
    assert f"{ratings}, line 3: {label} {value!r}" in message and "ASCII digits" in message, message


def test_a_generic_csv_time_in_other_digits_is_refused(tmp_path):
    path = tmp_path / "saves.csv"
    path.write_text("item,collection,t\na,x,1\nb,x,٣\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"saves\.csv, line 3: t '٣' is not an integer written in ASCII digits"):
        load_interactions_csv(path, time_col="t")


# ---------------------------------------------------------------------- 5. timestamps
def test_a_timestamp_after_the_year_9999_is_refused(tmp_path):
    ratings = write_movielens(tmp_path / "ml", [GOOD_RATINGS[0], "1,2,4.0,1000000000000000"])
    with pytest.raises(DataError) as exc:
        load_movielens(tmp_path / "ml")
    message = str(exc.value)
    assert f"{ratings}, line 3: timestamp 1000000000000000 is after the year 9999" in message, message


def test_timestamps_in_the_future_warn_with_file_count_and_first_line(tmp_path):
    future = int(time.time()) + 10 * 86_400
    ratings = write_movielens(tmp_path / "ml", [GOOD_RATINGS[0], f"1,2,4.0,{future}", f"2,3,4.0,{future + 1}"])
    with pytest.warns(UserWarning) as record:
        ds = load_movielens(tmp_path / "ml")
    message = str(record[0].message)
    assert str(ratings) in message and "2 timestamp value(s)" in message and "line 3" in message, message
    assert len(ds.interactions) == 3  # warned about, and kept
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # today's timestamps: no warning
        write_movielens(tmp_path / "ok", GOOD_RATINGS)
        load_movielens(tmp_path / "ok")


def test_generic_csv_times_are_an_order_in_any_unit(tmp_path):
    path = tmp_path / "saves.csv"
    path.write_text("item,collection,t\na,x,1700000000000\nb,x,1700000000123\n")  # milliseconds
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_interactions_csv(path, time_col="t").interactions.timed


# ---------------------------------------------------------------------- 6. unreadable folders
def test_a_file_where_a_folder_belongs_is_named(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a folder")
    for call in (lambda: load_dataset(notes / "ml" / "ratings.csv"), lambda: load_movielens(notes / "ml"),
                 lambda: detect_format(notes / "ratings.csv"), lambda: load_goodbooks(notes / "books")):
        with pytest.raises(DataError) as exc:
            call()
        assert f"{notes} is a file, not a folder" in str(exc.value), str(exc.value)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root reads folders whatever their permissions")
def test_a_folder_that_cannot_be_read_is_named(tmp_path):
    write_movielens(tmp_path / "closed" / "ml", GOOD_RATINGS)
    (tmp_path / "closed").chmod(0)
    try:
        for target in (tmp_path / "closed" / "ml", tmp_path / "closed" / "ml" / "ratings.csv"):
            with pytest.raises(DataError) as exc:
                load_dataset(target)
            message = str(exc.value)
            assert "permission denied" in message and f"cannot read the folder {tmp_path / 'closed'}" in message
    finally:
        (tmp_path / "closed").chmod(0o755)
    (tmp_path / "closed" / "ml").chmod(0)
    try:
        with pytest.raises(DataError, match="permission denied") as exc:
            load_movielens(tmp_path / "closed" / "ml")
        assert str(tmp_path / "closed" / "ml") in str(exc.value)
    finally:
        (tmp_path / "closed" / "ml").chmod(0o755)


# ---------------------------------------------------------------------- 7. checkpoints and run.json
class _Thing:
    """An object a checkpoint must never unpickle."""


def test_a_foreign_checkpoint_is_named_without_torchs_weights_only_advice(tmp_path):
    torch.save({"model": _Thing()}, tmp_path / "foreign.pt")
    (tmp_path / "garbage.pt").write_bytes(pickle.dumps({"a": 1}) + b"junk")
    for name in ("foreign.pt", "garbage.pt"):
        with pytest.raises(CheckpointError) as exc:
            load_checkpoint(tmp_path / name)
        message = str(exc.value)
        assert str(tmp_path / name) in message and "not a pinsage_edu checkpoint, or corrupt" in message, message
        assert "weights_only" not in message and exc.value.__cause__ is None


def _tiny_trainer(out: Path, dropout: float = 0.0, lr: float = 0.001) -> Trainer:
    g = BipartiteGraph.from_edges(torch.tensor([0, 1, 2, 0, 3]), torch.tensor([0, 0, 1, 1, 1]), num_items=4,
                                  num_collections=2)
    table = NeighborhoodTable.build(g, 3, generator=0, num_walks=10)
    torch.manual_seed(0)
    model = PinSage(PinSageConfig.classroom(6, hidden_dim=8, embed_dim=4, dropout=dropout))
    return Trainer(model, torch.randn(4, 6), torch.tensor([[0, 1], [2, 3]]), table,
                   config=TrainConfig(epochs=1, lr=lr, max_hard_negatives=0, num_shared_negatives=2), out_dir=out)


def test_resuming_with_other_settings_lists_only_the_keys_that_differ(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    write_json_atomic(_tiny_trainer(out).run_record(), out / "run.json")
    with pytest.raises(RunDirError) as exc:
        _tiny_trainer(out, dropout=0.5, lr=0.002).fit(resume=True)
    message = str(exc.value)
    assert "model.dropout: 0.0 there, 0.5 now" in message and "train.lr: 0.001 there, 0.002 now" in message
    assert "hidden_dim" not in message and "embed_dim" not in message and "margin" not in message, message


@pytest.mark.parametrize("text, fragment, embed_fragment", [
    ("{not json", "is not valid JSON", "is not valid JSON"),
    ("[1, 2]", "holds a JSON list, not a run record", "holds a JSON list, not a run record"),
    ('{"model": {}}', "lacks 'train', 'run', 'world_size'", "lacks 'run'"),  # embed needs only "run"
])
def test_a_bad_run_json_is_named_by_resume_and_embed(tmp_path, capsys, text, fragment, embed_fragment):
    out = tmp_path / "run"
    out.mkdir()
    run_json = out / "run.json"
    run_json.write_text(text)
    with pytest.raises(RunDirError, match=fragment) as exc:  # the trainer (resume in Python)
        _tiny_trainer(out).fit(resume=True)
    assert str(run_json) in str(exc.value)
    (out / "best.pt").write_bytes(b"never read")
    for argv, want in ((["train", "--dataset", str(tmp_path / "none"), "--out", str(out), "--resume"], fragment),
                       (["embed", "--run-dir", str(out)], embed_fragment)):
        assert cli.main(argv) == 1
        err = capsys.readouterr().err
        assert str(run_json) in err and want in err and "Traceback" not in err, (argv, err)


def test_embed_and_evaluate_name_the_file_that_records_no_dataset(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "run.json").write_text(json.dumps({"run": {"seed": 0}}))
    save_checkpoint({"model_config": PinSageConfig.classroom(6).to_dict(), "model": {}}, out / "best.pt")
    assert cli.main(["embed", "--run-dir", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{out / 'run.json'} records no dataset" in err, err
    emb = tmp_path / "emb.pt"
    save_embeddings(ItemEmbeddings(torch.zeros(2, 3), [1, 2], "abc", {}, meta={}), emb)
    assert cli.main(["evaluate", "--embeddings", str(emb)]) == 1
    err = capsys.readouterr().err
    assert f"{emb} records no dataset" in err, err


def test_read_run_file_accepts_what_the_trainer_writes(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    record = _tiny_trainer(out).run_record()
    write_json_atomic(record, out / "run.json")
    assert read_run_file(out / "run.json")["model"] == record["model"]


# ---------------------------------------------------------------------- 8. tasks.py lab as root
def _tasks_module():
    spec = importlib.util.spec_from_file_location("pinsage_edu_tasks", ROOT / "tasks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("uid", [0, 1000])
def test_lab_adds_allow_root_only_as_root(monkeypatch, capsys, uid):
    tasks = _tasks_module()
    monkeypatch.setattr(tasks.os, "geteuid", lambda: uid, raising=False)
    ran = []
    monkeypatch.setattr(tasks, "setup", lambda: None)  # no venv work, and jupyter is never started
    monkeypatch.setattr(tasks, "save_widget_state", lambda: None)
    monkeypatch.setattr(tasks.subprocess, "run", lambda cmd, **kw: ran.append(cmd) or type("R", (), {"returncode": 0}))
    assert tasks.main(["lab", "--port", "8899"]) == 0
    (cmd,) = ran
    assert cmd[1:4] == ["lab", "notebooks/", "--port"] and Path(cmd[0]).name.startswith("jupyter")
    out = capsys.readouterr().out
    if uid == 0:
        assert cmd[-1] == "--allow-root" and cmd.count("--allow-root") == 1 and "--allow-root" in out
        assert tasks.lab_command(["--allow-root"]).count("--allow-root") == 1  # given already: not twice
    else:
        assert "--allow-root" not in cmd and "--allow-root" not in out


# ---------------------------------------------------------------------- 9. gzipped main files, recorded paths
U_ITEM = "1|Toy Story (1995)|01-Jan-1995||http://x|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n" \
         "2|Heat (1995)|01-Jan-1995||http://x|0|1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0\n"


@pytest.mark.parametrize("fmt", ["movielens-csv", "movielens-100k", "movielens-dat"])
def test_a_gzipped_main_file_is_recognised_and_loaded(tmp_path, fmt):
    folder = tmp_path / fmt
    if fmt == "movielens-csv":
        path = write_movielens(folder, GOOD_RATINGS, gz=True)
    elif fmt == "movielens-100k":
        folder.mkdir()
        (folder / "u.item").write_text(U_ITEM, encoding="latin-1")
        path = folder / "u.data.gz"
        path.write_bytes(gzip.compress(b"1\t1\t5\t874965758\n2\t2\t4\t876893171\n1\t2\t4\t878542960\n"))
    else:
        folder.mkdir()
        (folder / "movies.dat").write_text("1::Toy Story (1995)::Animation\n2::Heat (1995)::Action\n")
        path = folder / "ratings.dat.gz"
        path.write_bytes(gzip.compress(b"1::1::5::978300760\n2::2::4::978302109\n1::2::4::978301968\n"))
    assert detect_format(path) == fmt and detect_format(folder) == fmt
    for target in (path, folder):
        ds = load_dataset(target)
        assert len(ds.interactions) == (4 if fmt == "movielens-csv" else 3) and ds.source == str(path)


def test_summary_takes_a_gzipped_ratings_file(tmp_path, capsys):
    path = write_movielens(tmp_path / "ml", GOOD_RATINGS, gz=True)
    assert cli.main(["summary", "--dataset", str(path)]) == 0, capsys.readouterr().err
    assert "ratings.csv.gz" in capsys.readouterr().out


def test_a_dataset_path_is_recorded_absolute_and_names_stay_names(tmp_path, monkeypatch, capsys):
    write_movielens(tmp_path / "data" / "ml", GOOD_RATINGS)
    monkeypatch.chdir(tmp_path)
    assert resolve_dataset("data/ml") == str((tmp_path / "data" / "ml").resolve())
    for name in ("ml-latest-small", "movielens", "goodbooks", "synthetic", "no-such-path"):
        assert resolve_dataset(name) == name
    seen = []

    def stop(dataset, **kw):  # what train and main go on to load and record in run.json / results.json
        seen.append(dataset)
        raise DataError("stopped here")

    monkeypatch.setattr(cli, "load_dataset", stop)
    monkeypatch.setattr(cli.Experiment, "load", stop)
    assert cli.main(["train", "--dataset", "data/ml", "--out", str(tmp_path / "r1"), "--no-progress"]) == 1
    assert cli.main(["main", "--dataset", "data/ml", "--out", str(tmp_path / "r2"), "--no-progress"]) == 1
    assert seen == [str((tmp_path / "data" / "ml").resolve())] * 2
    assert "stopped here" in capsys.readouterr().err
