"""Small helpers shared by the notebooks and the library: seeding and device choice."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

__all__ = ["seed_everything", "default_device", "notebook_size"]


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
