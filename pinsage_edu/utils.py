"""Small helpers shared by the notebooks and the library, the lowest layer (imports nothing of ours).

* seeding and device choice: :func:`seed_everything`, :func:`default_device`, :func:`notebook_size`;
* argument checks every module applies alike: :func:`check_positive_int`, :func:`check_prob`,
  :func:`check_items`, :func:`make_generator` (with :func:`device_key`);
* CSR index arithmetic: :func:`csr_indptr` (row pointer from sorted row ids) and
  :func:`concat_ranges` (every ``arange(start, end)`` at once);
* :class:`TensorFields`, the ``.to(device)`` / ``.pin_memory()`` mixin of the typed results
  (walks' neighbourhoods, minibatch blocks, hard negatives).
"""

from __future__ import annotations

import os
import random
from dataclasses import field, fields
from typing import Any, Callable

import numpy as np
import torch

__all__ = ["seed_everything", "default_device", "notebook_size", "check_positive_int", "check_prob", "check_items",
           "check_pairs", "make_generator", "device_key", "csr_indptr", "concat_ranges", "TensorFields"]


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python, NumPy and torch; return a fresh ``torch.Generator`` seeded the same way.

    Library functions take their generator as an argument; this is for notebook cells that call
    torch directly (``torch.randn``) and should still give the same numbers on every run.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def default_device() -> torch.device:
    """CUDA if available, else CPU: for notebooks; library code takes ``device=`` from its caller."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def notebook_size() -> str:
    """``classroom`` (default, fast) or ``full``, from ``$PINSAGE_EDU_SIZE``."""
    size = os.environ.get("PINSAGE_EDU_SIZE", "classroom")
    if size not in ("classroom", "full"):
        raise ValueError(f"PINSAGE_EDU_SIZE must be 'classroom' or 'full', got {size!r}")
    return size


# ====================================================================== argument checks
def check_prob(name: str, p: Any) -> float:
    """``p`` as a float, or ValueError unless it is a probability in [0, 1] (bools refused)."""
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating, np.integer)) or not 0.0 <= float(p) <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {p!r}")
    return float(p)


def check_positive_int(name: str, n: Any) -> int:
    """``n`` as an int, or ValueError unless it is a positive integer (bools and floats refused)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or int(n) <= 0:
        raise ValueError(f"{name} must be a positive integer, got {n!r}")
    return int(n)


def id_vector(values: Any, name: str = "seeds") -> torch.Tensor:
    """``values`` as a 1-D LongTensor of ids (a tensor stays on its device); clear errors, naming ``name``,
    for floats, bools, strings and shapes that are not a list. Ranges are the caller's to check."""
    if isinstance(values, torch.Tensor):
        t = values
    else:
        arr = np.asarray(values)
        if arr.size == 0:
            arr = arr.astype(np.int64)  # [] has no dtype of its own
        if arr.dtype.kind not in "iub":
            raise ValueError(f"{name} must hold integer item ids, got {arr.dtype} values like {arr.flat[0]!r}")
        if arr.dtype.kind == "u" and arr.size and int(arr.max()) >= 2**63:
            raise ValueError(f"{name} holds {int(arr.max())}, which is not an item id (too large)")
        t = torch.as_tensor(arr)
    if t.dtype == torch.bool or t.is_floating_point() or t.is_complex():
        raise ValueError(f"{name} must hold integer item ids, got dtype {t.dtype}")
    if t.dim() == 0:
        t = t.reshape(1)
    if t.dim() != 1:
        raise ValueError(f"{name} must be a 1-D list of item ids, got shape {tuple(t.shape)}")
    return t.long()


def check_items(graph: Any, seeds: Any, name: str = "seeds") -> torch.Tensor:
    """Seeds as a 1-D LongTensor on the graph's device (:func:`id_vector`), every id an item of the graph.

    ``graph`` is anything with ``device`` and ``num_items`` (a :class:`~pinsage_edu.graph.BipartiteGraph`).
    """
    t = id_vector(seeds, name).to(graph.device)
    if t.numel():
        bad = (t < 0) | (t >= graph.num_items)
        if bool(bad.any()):
            pos = int(torch.nonzero(bad)[0])
            valid = f"valid ids are 0..{graph.num_items - 1}" if graph.num_items else "the graph has no items"
            raise ValueError(f"{name}[{pos}] = {int(t[pos])} is not an item id: {valid}")
    return t


def make_generator(generator: torch.Generator | int | None, device: torch.device) -> torch.Generator:
    """A generator on ``device``: given, seeded from an int, or (None) seeded from torch's global RNG.

    None keeps calls reproducible under ``seed_everything`` without every caller threading a seed.
    """
    if isinstance(generator, torch.Generator):
        if device_key(generator.device) != device_key(device):
            raise ValueError(f"generator lives on {generator.device}, the graph on {device}: "
                             "make it with torch.Generator(device=graph.device)")
        return generator
    if generator is None:
        generator = int(torch.randint(0, 2**62, (), dtype=torch.long))
    if isinstance(generator, bool) or not isinstance(generator, (int, np.integer)):
        raise ValueError(f"generator must be a torch.Generator, an int seed or None, got {generator!r}")
    if not 0 <= int(generator) < 2**63:
        raise ValueError(f"generator seed must be in 0..2**63 - 1, got {int(generator)}")
    return torch.Generator(device=device).manual_seed(int(generator))


def device_key(device: torch.device) -> tuple[str, int | None]:
    """``(type, index)`` with a missing CUDA index read as the current device (``cuda`` == ``cuda:0``)."""
    if device.type == "cuda" and device.index is None and torch.cuda.is_available():
        return ("cuda", torch.cuda.current_device())
    return (device.type, device.index if device.type != "cpu" else None)


# ====================================================================== CSR index arithmetic
def csr_indptr(sorted_rows: torch.Tensor, n_rows: int) -> torch.Tensor:
    """CSR row pointer from row ids sorted ascending: ``indptr[r]`` = first edge of row ``r``."""
    counts = torch.bincount(sorted_rows, minlength=n_rows) if sorted_rows.numel() else torch.zeros(
        n_rows, dtype=torch.long, device=sorted_rows.device)
    indptr = torch.zeros(n_rows + 1, dtype=torch.long, device=sorted_rows.device)
    torch.cumsum(counts, 0, out=indptr[1:])
    return indptr


def concat_ranges(starts: torch.Tensor, ends: torch.Tensor) -> torch.Tensor:
    """Concatenation of ``arange(starts[i], ends[i])`` for every ``i``, without a Python loop."""
    lengths = ends - starts
    total = int(lengths.sum()) if lengths.numel() else 0
    if total == 0:
        return torch.zeros(0, dtype=torch.long, device=starts.device)
    offsets = torch.repeat_interleave(starts - (torch.cumsum(lengths, 0) - lengths), lengths)
    return torch.arange(total, device=starts.device) + offsets


# ====================================================================== typed results
def setting(default: Any, flag: str, group: str | None = None, help: str | None = None, **more: Any) -> Any:
    """A config-dataclass field with its command-line flag in the metadata: ``flag`` (the option's name, the
    one errors quote), ``group`` (its section of ``train --help``; None: the flag is defined elsewhere, as
    ``--seed`` with the data options), ``help``, and where needed ``aliases`` (more option strings, as
    ``--num-neighbors`` beside ``-T``), ``choices``, ``negate`` (a ``--no-X`` switch stored as ``X = False``),
    ``cli_default`` (the flag's default where it differs from the field's), ``none_at`` (the flag's value,
    or one below it, that means None, as ``--grad-clip 0``), ``nargs`` and ``metavar``.
    :class:`~pinsage_edu.train.TrainConfig` and :class:`~pinsage_edu.model.PinSageConfig` declare their
    fields with it; ``pinsage_edu.cli`` generates the ``train`` options, and names the flag in a setting's
    error, from this metadata."""
    return field(default=default, metadata={"flag": flag, "group": group, "help": help, **more})


class InvalidSetting(ValueError):
    """A config setting out of range. ``str()`` names the fields ``OWNER.NAME`` (``owner``: the config class);
    :meth:`naming` gives the same message with each field named by ``name(field)`` — on the command line,
    its flag. ``template`` is the message with ``{i}`` standing for ``names[i]``."""

    owner = "config"

    def __init__(self, template: str, *names: str):
        self.template, self.names = template, tuple(names)
        super().__init__(self.naming(lambda n: f"{self.owner}.{n}"))

    @classmethod
    def of(cls, name: str, problem: str) -> "InvalidSetting":
        """``OWNER.name`` + " " + ``problem`` (braces in ``problem`` kept as typed)."""
        return cls("{0} " + problem.replace("{", "{{").replace("}", "}}"), name)

    def naming(self, name: Callable[[str], str]) -> str:
        return self.template.format(*(name(n) for n in self.names))

    def __reduce__(self) -> tuple:
        return type(self), (self.template, *self.names)


class TensorFields:
    """``.to(device)`` and ``.pin_memory()`` for frozen dataclasses whose tensor fields move together."""

    def to(self, device: torch.device | str, non_blocking: bool = False):
        kw = {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]
        for k, v in kw.items():
            if isinstance(v, torch.Tensor):
                kw[k] = v.to(device, non_blocking=non_blocking)
        return type(self)(**kw)

    def pin_memory(self):
        kw = {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]
        for k, v in kw.items():
            if isinstance(v, torch.Tensor):
                kw[k] = v.pin_memory()
        return type(self)(**kw)


def check_pairs(name: str, pairs: Any, num_items: int) -> torch.Tensor:
    """``pairs`` as a LongTensor [P, 2] of (query, item) ids in ``0 … num_items − 1``, or a ``ValueError``
    naming ``name`` and the first pair that holds an id outside (the evaluation and training both check
    their held-out and train pairs with this)."""
    p = torch.as_tensor(pairs)
    if p.dim() != 2 or p.shape[1] != 2 or p.is_floating_point() or p.dtype == torch.bool:
        raise ValueError(f"{name} must be an integer [P, 2] tensor of (query, item) ids, got "
                         f"{p.dtype} {tuple(p.shape)}")
    p = p.long()
    if p.numel() and (int(p.min()) < 0 or int(p.max()) >= num_items):
        row = int(torch.nonzero(((p < 0) | (p >= num_items)).any(1))[0])
        raise ValueError(f"{name}: pair {row} ({int(p[row, 0])}, {int(p[row, 1])}) holds an id outside "
                         f"0..{num_items - 1} (the {num_items} items)")
    return p
