"""Checkpoints that survive a kill and cannot run code (§3.3's long training runs).

* :func:`save_checkpoint` writes to a temporary file in the same folder, flushes it to disk and
  renames it over the target (``os.replace`` is atomic on POSIX and Windows). A process killed
  mid-write leaves the previous checkpoint whole; a half-written ``.tmp`` file is ignored.
* :func:`load_checkpoint` reads with ``torch.load(weights_only=True)``: only tensors and plain
  containers (dict, list, tuple, str, int, float, bool, None) can come back, so a checkpoint from
  elsewhere cannot execute code when loaded. A truncated or corrupt file, or one holding other objects,
  raises :class:`CheckpointError` naming the file and saying it is not a pinsage_edu checkpoint or is
  corrupt (never torch's advice to load it with ``weights_only=False``, which would run its code).
* :func:`write_json_atomic` writes strict JSON: NaN and infinities become ``null``.
* :func:`rng_state` / :func:`set_rng_state` capture every random number generator a training step
  touches (Python's ``random``, torch's CPU generator, each CUDA device's generator).
"""

from __future__ import annotations

import json
import math
import os
import pickle
import random
import re
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch

__all__ = ["CheckpointError", "FORMAT", "save_checkpoint", "load_checkpoint", "write_json_atomic", "json_safe",
           "rng_state", "set_rng_state"]

FORMAT = "pinsage_edu.checkpoint/1"


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read or does not belong to this run."""


def _atomic_write(path: Path, write: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; give the usual permissions
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:  # make the rename itself durable (not possible on every platform)
        dfd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write ``state`` (tensors and plain containers only) to ``path`` atomically; returns the path."""
    path = Path(path)
    _atomic_write(path, lambda f: torch.save({"format": FORMAT, **state}, f))
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device | None = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`; :class:`CheckpointError` if it is unreadable."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        with warnings.catch_warnings():  # torch's note on the pickle protocol of a file it then refuses
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:  # a disallowed global or a damaged pickle: never load it unsafely
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))  # the object torch refused, in any of its wordings
        what = (f"it refers to {found.group(1)}, which could run code when loaded; pinsage_edu checkpoints hold "
                "only tensors and plain containers" if found else
                "damaged, or holding objects other than tensors and plain containers, which could run code and "
                "are never loaded")
        raise CheckpointError(f"{path} is not a readable checkpoint: not a pinsage_edu checkpoint, or corrupt "
                              f"({what})") from None
    except Exception as exc:  # truncated zip, not a torch file at all
        detail = str(exc).splitlines()[0][:300] if str(exc) else ""
        if "weights_only" in detail:  # torch's advice to load it unsafely: not ours to repeat
            detail = ""
        raise CheckpointError(f"{path} is not a readable checkpoint: not a pinsage_edu checkpoint, or corrupt "
                              f"(truncated or damaged: {type(exc).__name__}{': ' + detail if detail else ''})"
                              ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a pinsage_edu checkpoint (format "
                              f"{state.get('format') if isinstance(state, dict) else type(state).__name__!r}, "
                              f"expected {FORMAT!r})")
    return state


def json_safe(v: Any) -> Any:
    """``v`` with every NaN or infinite float (in nested dicts, lists and tuples) replaced by ``None``:
    strict JSON has no NaN, and a bare ``NaN`` in a file breaks every other JSON reader."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [json_safe(x) for x in v]
    return v


def write_json_atomic(obj: Any, path: str | os.PathLike) -> Path:
    """``json.dump`` to ``path`` through a temporary file and a rename, as strict JSON: NaN and
    infinities are written as ``null`` (:func:`json_safe`), never as bare ``NaN``."""
    path = Path(path)
    data = (json.dumps(json_safe(obj), indent=2, sort_keys=True, allow_nan=False) + "\n").encode()
    _atomic_write(path, lambda f: f.write(data))
    return path


def rng_state(device: torch.device | str | None = None) -> dict[str, Any]:
    """Every generator a training step may draw from: Python's, torch's CPU one and, when ``device`` is
    a GPU, that GPU's (one process trains on one GPU; the others visible to it are not its business,
    and may not be visible at all when the run resumes elsewhere)."""
    state: dict[str, Any] = {"python": random.getstate(), "torch": torch.get_rng_state()}
    device = torch.device(device) if device is not None else None
    if device is not None and device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict[str, Any], device: torch.device | str | None = None) -> None:
    """Restore what :func:`rng_state` captured; a saved GPU state goes to ``device`` (a GPU)."""
    py = state["python"]
    # weights_only loading turns the inner tuple into a list; random.setstate wants tuples
    random.setstate((py[0], tuple(py[1]), py[2]))
    torch.set_rng_state(state["torch"])
    device = torch.device(device) if device is not None else None
    if "cuda" in state and device is not None and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], device)
