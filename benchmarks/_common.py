"""What every benchmark script shares: one JSON line per figure, GPU sync before reading a clock, and
the synthetic sizes (``python benchmarks/NAME.py`` puts this folder on ``sys.path``)."""

from __future__ import annotations

import json

import torch

SYNTHETIC_SIZES = {
    "10k": dict(num_pins=10_000, num_boards=5_000, num_edges=200_000),
    "100k": dict(num_pins=100_000, num_boards=50_000, num_edges=2_000_000),
    "1m": dict(num_pins=1_000_000, num_boards=500_000, num_edges=20_000_000),
}


def emit(**fields: object) -> None:
    """Print one figure as a JSON line, flushed (so a long run shows its progress)."""
    print(json.dumps(fields), flush=True)


def sync(device: torch.device) -> None:
    """Wait for the GPU's queued work, so that a timer measures it (nothing on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
