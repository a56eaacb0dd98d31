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
#: The default until the trained RFG beats the geometric reenactor on the measured comparison
#: (benchmarks/QUALITY.md); then it becomes "rfg".
DEFAULT_GENERATOR = "geometric"
INTEGRATORS: tuple[str, ...] = ("global", "global-local")
#: "global": since the rollout training global-local no longer drifts and is a little better (held-out
#: PSNR 21.42 vs 21.40 dB, SSIM face 0.7937 vs 0.7912, benchmarks/QUALITY.md), but it costs 1.14
#: instead of 0.72 GFLOPs a frame.
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
