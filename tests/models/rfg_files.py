"""RFG weights files for tests: fresh networks, perturbed so every path (the revealed mask too) matters."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_rfg_file(path: Path, revealed: bool, seed: int = 0, scale: float = 0.02) -> Path:
    """``build_networks(RFGConfig(revealed_input=revealed))`` with every weight moved by ``scale``
    noise (the zero-initialised output layers and new input channels then act), saved to ``path``."""
    import torch

    from streamer.models.rfg import build_networks, save_networks
    from streamer.models.rfg_config import RFGConfig

    nets = build_networks(RFGConfig(revealed_input=revealed))
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in [*nets.gen.parameters(), *nets.local.parameters(), *nets.calib.parameters()]:
            p.add_(scale * torch.randn(p.shape, generator=gen))
    save_networks(nets, path)
    return path


def turned(points: np.ndarray, degrees: float) -> np.ndarray:
    """(68, 3) landmarks turned about the vertical axis through their centre (a turn reveals pixels)."""
    out = np.asarray(points, np.float64).copy()
    centre = out.mean(axis=0)
    c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    x, z = out[:, 0] - centre[0], out[:, 2] - centre[2]
    out[:, 0], out[:, 2] = centre[0] + c * x + s * z, centre[2] - s * x + c * z
    return out.astype(np.float32)
