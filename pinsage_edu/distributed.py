"""Several GPUs, several machines (§3.3): the process group that DistributedDataParallel runs in.

The same training script runs as one process, or as ``torchrun --nproc_per_node=G`` on one machine,
or as ``torchrun --nnodes=M --nproc_per_node=G --rdzv-endpoint=HOST:PORT`` on every machine (see
the README). ``torchrun`` sets ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE`` in each process;
:func:`init_distributed` reads them, joins the group — NCCL between GPUs, gloo on CPUs (how CI tests
it with 2 processes) — and picks the process's GPU. Library code asks :func:`world` who it is; it
never starts a group itself.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

__all__ = ["World", "world", "shard_range", "init_distributed", "close_distributed", "parameter_checksum"]


@dataclass(frozen=True)
class World:
    """This process's place: ``rank`` of ``size`` processes (``size == 1``: no process group)."""

    rank: int = 0
    size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def all_gather_object(self, obj: Any) -> list[Any]:
        """Every rank's ``obj``, in rank order (``[obj]`` in a single process)."""
        if not self.distributed:
            return [obj]
        out: list[Any] = [None] * self.size
        dist.all_gather_object(out, obj)
        return out

    def all_reduce_mean(self, value: torch.Tensor) -> torch.Tensor:
        """The mean of ``value`` over the ranks (``value`` itself in a single process)."""
        if not self.distributed:
            return value
        v = value.detach().clone()
        dist.all_reduce(v)
        return v / self.size

    def all_gather_rows(self, rows: torch.Tensor, total: int) -> torch.Tensor:
        """Every rank's ``rows`` stacked in rank order: the shards of :func:`shard_range` joined back
        into ``total`` rows (``rows`` itself in a single process). Shards may differ in length by one;
        they are padded to the longest for the collective and trimmed after."""
        if not self.distributed:
            return rows
        longest = -(-total // self.size)
        pad = torch.zeros((longest, *rows.shape[1:]), dtype=rows.dtype, device=rows.device)
        pad[: rows.shape[0]] = rows
        parts = [torch.empty_like(pad) for _ in range(self.size)]
        dist.all_gather(parts, pad)
        return torch.cat([p[: hi - lo] for p, (lo, hi) in
                          zip(parts, (shard_range(total, r, self.size) for r in range(self.size)))])

    def broadcast_object(self, obj: Any, src: int = 0) -> Any:
        if not self.distributed:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=src)
        return box[0]


def shard_range(total: int, rank: int, size: int) -> tuple[int, int]:
    """``[lo, hi)``: rank ``rank``'s contiguous share of ``total`` rows, shares differing by at most one."""
    base, extra = divmod(total, size)
    lo = rank * base + min(rank, extra)
    return lo, lo + base + (1 if rank < extra else 0)


def world() -> World:
    """The current process group's rank and size (rank 0 of 1 when none is initialised)."""
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size())
    return World()


def init_distributed(device: str | torch.device = "cpu") -> tuple[World, torch.device]:
    """Join the process group ``torchrun`` describes in the environment; returns (world, this rank's device).

    Without ``WORLD_SIZE`` > 1 in the environment nothing is initialised. ``device="cuda"`` uses the
    NCCL backend and the GPU ``LOCAL_RANK``; ``"cpu"`` uses gloo.
    """
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for but CUDA is not available on this machine "
                         "(torch.cuda.is_available() is False): use --device cpu")
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        if device.type == "cuda" and device.index is not None:
            torch.cuda.set_device(device)  # so that pinned-memory threads and NCCL use this GPU, not GPU 0
        return World(), device
    if dist.is_initialized():
        w = world()
    else:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        if device.type == "cuda":
            if local >= torch.cuda.device_count():
                raise ValueError(f"LOCAL_RANK {local} but this machine has {torch.cuda.device_count()} GPUs: "
                                 "--nproc_per_node must not exceed the GPU count")
            device = torch.device("cuda", local)
            torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        w = world()
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return w, device


_LEAVING = "pinsage_edu/leaving"


def close_distributed(wait_s: float = 10.0) -> None:
    """Leave the process group, if one was joined — together.

    Each rank first counts itself out in the process group's key-value store and waits (at most
    ``wait_s``) until every rank has: a rank counts itself out only after its last collective returned,
    so when all have, no gloo message is in flight anywhere. Destroying the group while a peer is still
    finishing a collective (a barrier returns on one rank before the other has read its last message)
    makes the peer's gloo thread abort the process ("terminate called without an active exception").
    A rank whose peers never come (one failed alone) leaves after ``wait_s``, as it would have at once.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return
    size = dist.get_world_size()
    if size > 1:
        try:
            # torch keeps no public handle on the default group's store; without it, leave as before
            store = dist.distributed_c10d._get_default_store()
            deadline = time.monotonic() + wait_s
            if store.add(_LEAVING, 1) < size:
                while store.add(_LEAVING, 0) < size and time.monotonic() < deadline:
                    time.sleep(0.005)
        except Exception:  # noqa: BLE001 — leaving must never raise over the error that brought us here
            pass
    dist.destroy_process_group()


def parameter_checksum(module: torch.nn.Module) -> str:
    """SHA-256 of every parameter's bytes, in order: equal on every rank when DDP keeps them in sync."""
    h = hashlib.sha256()
    for name, p in module.named_parameters():
        h.update(name.encode())
        h.update(p.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()
