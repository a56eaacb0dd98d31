"""Data parallelism with ``torch.distributed`` under ``torchrun`` (gloo on CPU, nccl on GPUs).

Gradients are averaged with one all-reduce per network after each backward, the same arithmetic
as ``DistributedDataParallel``. The DDP wrapper itself is not used because the GAN steps run a
network several times per backward (E_l on the driver and on the generated landmarks), which DDP's
"mark ready once" bookkeeping rejects unless its graph is static.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors


@dataclass(frozen=True)
class DistInfo:
    """This process's place: rank, world size, device."""

    rank: int
    world: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto`` -> cuda:local_rank when CUDA exists, else cpu."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        return torch.device("cuda", local_rank)
    return torch.device(name)


def init_distributed(device: str = "auto") -> DistInfo:
    """Join the ``torchrun`` process group when ``WORLD_SIZE`` > 1; a single process otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device, local_rank)
    if world > 1 and not dist.is_initialized():
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return DistInfo(rank, world, local_rank, dev)


def broadcast_modules(info: DistInfo, modules: dict[str, nn.Module]) -> None:
    """Give every process rank 0's parameters and buffers."""
    if not info.enabled:
        return
    for m in modules.values():
        for t in list(m.parameters()) + list(m.buffers()):
            dist.broadcast(t.data, src=0)


def average_gradients(info: DistInfo, module: nn.Module) -> None:
    """All-reduce (mean) the gradients of ``module``'s parameters, flattened into one buffer."""
    if not info.enabled:
        return
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return
    flat = _flatten_dense_tensors(grads)
    dist.all_reduce(flat)
    flat /= info.world
    for g, synced in zip(grads, _unflatten_dense_tensors(flat, grads), strict=True):
        g.copy_(synced)


def mean_metrics(info: DistInfo, metrics: dict[str, float]) -> dict[str, float]:
    """Average scalar metrics over processes (same keys on every rank)."""
    if not info.enabled or not metrics:
        return metrics
    keys = sorted(metrics)
    t = torch.tensor([float(metrics[k]) for k in keys], dtype=torch.float64)
    dist.all_reduce(t)
    return {k: float(v) / info.world for k, v in zip(keys, t.tolist(), strict=True)}


def barrier(info: DistInfo) -> None:
    """Wait for every process."""
    if info.enabled:
        dist.barrier()


def shutdown(info: DistInfo) -> None:
    """Leave the process group."""
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()


def replicas_identical(info: DistInfo, modules: dict[str, nn.Module]) -> bool:
    """True when every process holds bit-identical parameters (always true for one process)."""
    if not info.enabled:
        return True
    flat = torch.cat([p.detach().reshape(-1).double() for m in modules.values() for p in m.parameters()])
    ref = flat.clone()
    dist.broadcast(ref, src=0)
    same = torch.tensor([0.0 if torch.equal(ref, flat) else 1.0], dtype=torch.float64)
    dist.all_reduce(same)
    return bool(same.item() == 0.0)
