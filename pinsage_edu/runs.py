"""§3.3's long runs on disk: the run folder of :class:`~pinsage_edu.train.Trainer`.

A run folder holds

* ``run.json``: what was trained (the model and training configs, ``run_info``, the world size),
  written when the run starts and compared on every resume (:func:`read_run_file`);
* ``last.pt``: the latest checkpoint (every ``checkpoint_every`` steps and at each epoch's end), from
  which a killed run resumes exactly; ``best.pt``: the best validation epoch's;
* ``metrics.jsonl``: one JSON object per line (start / resume, every step, every epoch, the end).

:class:`RunFolder` does everything the trainer needs of it: checks the folder before anything is
written, restores and writes checkpoints (atomically, :mod:`pinsage_edu.checkpoint`), keeps the
metrics file in step with them, and cleans up what a killed run left half-written. A run without a
folder (``path=None``) writes nothing.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import torch

from .checkpoint import json_safe, load_checkpoint, save_checkpoint, write_json_atomic

__all__ = ["RunDirError", "RunFolder", "read_run_file", "RUN_FILE", "LAST", "BEST", "METRICS", "RUN_KEYS"]


class RunDirError(ValueError):
    """An output folder that holds another run, or no run to resume."""


RUN_FILE = "run.json"
LAST = "last.pt"
BEST = "best.pt"
METRICS = "metrics.jsonl"

# settings that may change when a run is resumed: they do not change what the run computes
_RESUMABLE_CHANGES = {"epochs", "num_workers", "prefetch_factor", "checkpoint_every", "early_stopping"}
# what run.json holds (Trainer.run_record)
RUN_KEYS = ("model", "train", "run", "world_size")


def read_run_file(path: str | os.PathLike, required: tuple[str, ...] = RUN_KEYS) -> dict[str, Any]:
    """The record in a run folder's ``run.json`` (see :meth:`Trainer.run_record`), checked: a file that
    cannot be read, is not JSON, is not an object or lacks one of the ``required`` parts (``model``,
    ``train`` and ``run`` objects, ``world_size``) is a :class:`RunDirError` naming it. Used by every
    command that reads a run (``train --resume``, ``embed``)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RunDirError(f"{path.parent} holds no run (no {path.name})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RunDirError(f"{path} cannot be read: {exc}") from None
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RunDirError(f"{path} is not valid JSON ({exc}): damaged, or not a pinsage_edu run file") from None
    if not isinstance(record, dict):
        raise RunDirError(f"{path} holds a JSON {type(record).__name__}, not a run record (an object with "
                          f"{', '.join(RUN_KEYS)})")
    missing = [k for k in required if k not in record]
    if missing:
        raise RunDirError(f"{path} lacks {', '.join(repr(k) for k in missing)}: not a run record written by "
                          "pinsage_edu (or damaged)")
    wrong = [k for k in ("model", "train", "run") if k in required and not isinstance(record[k], dict)]
    if wrong:
        raise RunDirError(f"{path}: {', '.join(repr(k) for k in wrong)} must be a JSON object, found "
                          f"{', '.join(type(record[k]).__name__ for k in wrong)}")
    return record


_ABSENT = object()


def _differences(old: Any, new: Any, where: str, skip: frozenset[str] | set[str] = frozenset()) -> list[str]:
    """``"where.key: OLD there, NEW now"`` for each setting that differs between two records, descending
    into objects so that only the differing keys are listed (never a whole config); keys in ``skip``
    (at the top of ``old`` / ``new``) are ignored."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new), key=str):
            if key not in skip:
                out += _differences(old.get(key, _ABSENT), new.get(key, _ABSENT), f"{where}.{key}")
        return out
    if old == new:
        return []
    show = lambda v: "(absent)" if v is _ABSENT else repr(v)  # noqa: E731
    return [f"{where}: {show(old)} there, {show(new)} now"]


def _on_host(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``records`` with their 0-d tensor values (a step's gradient norm, left on the device by the step)
    as floats: all of them copied to the host at once, one GPU→CPU synchronisation per logging interval."""
    tensors = [v for r in records for v in r.values() if isinstance(v, torch.Tensor)]
    if not tensors:
        return records
    values = iter(torch.stack([t.detach().double() for t in tensors]).tolist())
    return [{k: next(values) if isinstance(v, torch.Tensor) else v for k, v in r.items()} for r in records]


class _Metrics:
    """``metrics.jsonl``: one JSON object per line, flushed to disk with every checkpoint.

    Records may hold 0-d tensors: they wait in memory and are written, their tensors read in one go,
    every ``interval`` records and whenever the file is synced or closed."""

    def __init__(self, path: Path, interval: int = 64):
        self.path, self.interval = path, interval
        self.f = open(path, "a", encoding="utf-8")
        self.pending: list[dict[str, Any]] = []

    def write(self, record: dict[str, Any]) -> None:
        self.pending.append(record)
        if len(self.pending) >= self.interval:
            self.flush()

    def flush(self) -> None:
        records, self.pending = self.pending, []
        for record in _on_host(records):
            self.f.write(json.dumps(json_safe(record)) + "\n")

    def sync(self) -> None:
        self.flush()
        self.f.flush()
        os.fsync(self.f.fileno())

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self.f.close()

    @staticmethod
    def truncate_after(path: Path, step: int, epochs_done: int) -> None:
        """Drop records written after the checkpoint a run resumes from (they will be written again)."""
        if not path.exists():
            return
        keep = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                r = json.loads(line)
            except json.JSONDecodeError:  # a line cut short by the kill
                continue
            if r.get("type") == "step" and r.get("step", 0) > step:
                continue
            if r.get("type") == "epoch" and r.get("epoch", 0) > epochs_done:
                continue
            keep.append(line)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text("".join(k + "\n" for k in keep), encoding="utf-8")
        os.replace(tmp, path)


class RunFolder:
    """The output folder of one training run; ``path=None``: a run that writes nothing.

    Under DDP every rank holds one (on the same path): rank 0 (``is_main``) checks and writes it, every
    rank reads its checkpoints.
    """

    def __init__(self, path: str | os.PathLike | None, *, is_main: bool = True):
        self.path = Path(path) if path is not None else None
        self.is_main = is_main
        self.metrics: _Metrics | None = None

    def check(self, resume: bool, record: dict[str, Any]) -> tuple[str | None, bool]:
        """(the problem with the folder or None, whether there is a checkpoint to resume from), for a run
        described by ``record`` (what its ``run.json`` holds).

        Checked on rank 0 before anything is written. A folder whose run was stopped before its first
        checkpoint (``run.json`` but no ``last.pt``) may start again with the same settings.
        """
        out = self.path
        if out is None:
            return ("resume needs the out_dir of the run to continue" if resume else None), False
        if out.exists() and not out.is_dir():
            return f"--out {out} is a file, not a folder", False
        parent = out
        while not parent.exists():
            parent = parent.parent
        if not parent.is_dir():
            return f"cannot create --out {out}: {parent} is a file, not a folder", False
        if not os.access(parent, os.W_OK | os.X_OK):
            return f"cannot write --out {out}: no write permission in {parent}", False
        run_file = out / RUN_FILE
        if not run_file.exists():
            if resume:
                return f"{out} holds no run to resume (no {RUN_FILE})", False
            if (out / LAST).exists():
                return f"{out} holds a checkpoint ({LAST}) but no {RUN_FILE}: choose another --out", False
            return None, False
        if not resume and (out / LAST).exists():
            return (f"{out} already holds a training run ({RUN_FILE}, {LAST}); nothing was overwritten. Pass "
                    "--resume to continue it, or choose another --out"), False
        try:
            old = read_run_file(run_file)
        except RunDirError as exc:
            return str(exc), False
        new = json.loads(json.dumps(json_safe(record)))
        diffs = []
        for part in ("model", "run", "world_size"):
            diffs += _differences(old[part], new[part], part)
        diffs += _differences(old["train"], new["train"], "train", skip=_RESUMABLE_CHANGES)
        if diffs:
            verb = "resume it" if resume else "start it again"
            return f"{out} holds a different run; cannot {verb} with these settings: " + "; ".join(diffs), False
        return None, (out / LAST).exists()

    def last_checkpoint(self) -> dict[str, Any]:
        """The state in ``last.pt`` (:class:`~pinsage_edu.checkpoint.CheckpointError` if it is unreadable)."""
        return load_checkpoint(self._need() / LAST)

    def best_checkpoint(self) -> dict[str, Any] | None:
        """The state in ``best.pt``; None without a folder or a best epoch."""
        if self.path is None or not (self.path / BEST).exists():
            return None
        return load_checkpoint(self.path / BEST)

    def open(self, record: dict[str, Any], *, resumed: bool, step: int, epoch: int, world_size: int) -> None:
        """Make the folder ready for a run that goes on from global ``step`` at ``epoch``: remove what a
        killed run left half-written, write ``run.json`` (a new run), drop the metrics written after the
        checkpoint resumed from, and open the metrics file with a ``start`` / ``resume`` record."""
        if self.path is None or not self.is_main:
            return
        self.path.mkdir(parents=True, exist_ok=True)
        for name in (LAST, BEST, RUN_FILE, "results.json"):  # half-written files of a killed run
            for stale in self.path.glob(f".{name}.*.tmp"):
                stale.unlink(missing_ok=True)
        (self.path / (METRICS + ".tmp")).unlink(missing_ok=True)
        if not resumed:
            write_json_atomic(record, self.path / RUN_FILE)
        _Metrics.truncate_after(self.path / METRICS, step, epoch - 1)
        self.metrics = _Metrics(self.path / METRICS)
        self.log({"type": "resume" if resumed else "start", "step": step, "epoch": epoch, "world_size": world_size,
                  "time": time.time(), **({} if resumed else record)})

    def log(self, record: dict[str, Any]) -> None:
        """Append a record to ``metrics.jsonl`` (its 0-d tensors are read later, several at once)."""
        if self.metrics is not None:
            self.metrics.write(record)

    def save(self, state: dict[str, Any], *, best: bool = False) -> None:
        """Write ``state`` to ``last.pt`` (and first to ``best.pt`` when ``best``), after the metrics: a
        checkpoint never outruns them, and a kill between the two writes never leaves ``last.pt`` naming
        a ``best.pt`` that does not exist."""
        if self.path is None or not self.is_main:
            return
        if self.metrics is not None:
            self.metrics.sync()
        for name in ([BEST, LAST] if best else [LAST]):
            save_checkpoint(state, self.path / name)

    def sync(self) -> None:
        """The metrics written so far, on disk."""
        if self.metrics is not None:
            self.metrics.sync()

    def close(self) -> None:
        if self.metrics is not None:
            self.metrics.close()
            self.metrics = None

    def _need(self) -> Path:
        if self.path is None:
            raise RunDirError("resume needs the out_dir of the run to continue")
        return self.path
