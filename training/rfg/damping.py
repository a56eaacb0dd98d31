"""Residual-flow damping: scale the global integrator's learned residual flow by ``alpha`` after training.

The RFG's motion net adds a residual flow to the analytic landmark warp. Trained on 15 identities, that
residual fits them well (the training identities' held-out tails gain 1.6 dB) but carries over only in
part to new faces, where its full strength moves hair outlines and the head slightly off the driver's
pose. Shrinking it towards the analytic warp is a one-parameter regulariser chosen after training, like
picking a checkpoint: ``benchmarks.flow_damping`` scores several ``alpha`` and the model card lists them.

``alpha`` multiplies the flow rows of the motion net's last convolution (weights and bias), so the file
is an ordinary RFG weights file: every backend and export runs it unchanged. The local integrator and
the calibration net are left as they are.

    python -m training.rfg.damping IN.safetensors OUT.safetensors --alpha 0.5
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from streamer.errors import InputError
from streamer.models.rfg import RFGNetworks, save_networks

#: Metadata key of the damping factor applied to a file (absent: 1, as trained).
DAMPING_KEY = "residual_flow_damping"


def applied_damping(nets: RFGNetworks) -> float:
    """The damping already applied to these networks (1.0 for a file as the trainer wrote it)."""
    return float(nets.metadata.get(DAMPING_KEY, 1.0))


def damp_residual_flow(nets: RFGNetworks, alpha: float) -> RFGNetworks:
    """These networks with G's residual flow scaled by ``alpha`` (in place; returned for chaining).

    The metadata records the total factor relative to the trained file (dampings multiply)."""
    if not 0.0 <= alpha <= 1.0:
        raise InputError(f"--alpha must lie in [0, 1], got {alpha}")
    head = nets.gen.motion.head
    with torch.no_grad():
        head.weight[:2] *= alpha
        head.bias[:2] *= alpha
    nets.metadata = {**nets.metadata, DAMPING_KEY: repr(applied_damping(nets) * alpha)}
    return nets


def write_damped(src: Path, dst: Path, alpha: float) -> RFGNetworks:
    """Load ``src``, damp its residual flow by ``alpha`` and write ``dst`` atomically (never over ``src``)."""
    from export.atomic import sha256_file
    from streamer.reenactors.rfg import load_rfg_weights

    src, dst = Path(src), Path(dst)
    if dst.resolve() == src.resolve():
        raise InputError("the output must not overwrite the input weights")
    nets = load_rfg_weights(src)
    damp_residual_flow(nets, alpha)
    try:  # save_networks writes the format and config entries itself
        save_networks(nets, dst, {**nets.metadata, "damped_from_sha256": sha256_file(src)[:12]})
    except OSError as e:
        raise InputError(f"cannot write {dst}: {e.strerror or e}") from None
    return nets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.rfg.damping", description=__doc__.splitlines()[0])
    parser.add_argument("weights", type=Path, help="RFG weights (.safetensors) as training wrote them")
    parser.add_argument("out", type=Path, help="where to write the damped weights")
    parser.add_argument("--alpha", type=float, required=True, help="residual-flow factor in [0, 1]")
    args = parser.parse_args(argv)
    try:
        nets = write_damped(args.weights, args.out, args.alpha)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {args.out} (residual flow x{applied_damping(nets):g} of the trained file)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
