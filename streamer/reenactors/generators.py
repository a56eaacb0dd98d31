"""``--generator`` / ``--integrator`` / ``--weights``: the reenactor a path uses, built on the geometric warp.

``geometric`` is the landmark-driven warp alone; ``rfg`` is the trained generator refining it
(``streamer.reenactors.rfg``). Both share one ``GeometricReenactor`` (retargeter and warp backend).
"""

from __future__ import annotations

from pathlib import Path

from streamer.errors import InputError
from streamer.reenactors.base import Reenactor
from streamer.reenactors.geometric import GeometricReenactor

GENERATORS: tuple[str, ...] = ("geometric", "rfg")
#: "rfg": the shipped RFG (residual flow damped x0.5, streamer/models/weights/RFG.md) beats the geometric
#: reenactor on held-out identities in SSIM of the face and head-pose error (benchmarks/QUALITY.md).
DEFAULT_GENERATOR = "rfg"
INTEGRATORS: tuple[str, ...] = ("global", "global-local")
#: "global": global-local is a little better (held-out PSNR 21.90 vs 21.87 dB, SSIM face 0.7965 vs 0.7938,
#: and on the largest pose changes, benchmarks/QUALITY.md), but it costs 1.14 instead of 0.72 GFLOPs a frame.
DEFAULT_INTEGRATOR = "global"


def create_generator(
    name: str,
    geometric: GeometricReenactor,
    integrator: str = DEFAULT_INTEGRATOR,
    weights: Path | None = None,
    threads: int = 1,
    runner: str = "onnxruntime",
) -> Reenactor:
    """The reenactor called ``name`` on top of ``geometric`` (``InputError`` for bad names or weights)."""
    if name == "geometric":
        if weights is not None:
            raise InputError("--weights is for --generator rfg")
        return geometric
    if name != "rfg":
        raise InputError(f"unknown generator {name!r}; choose one of {', '.join(GENERATORS)}")
    from streamer.reenactors.rfg import RFGReenactor

    return RFGReenactor(weights, integrator, runner, threads, geometric)
