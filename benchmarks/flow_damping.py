"""Residual-flow damping sweep: the RFG with its learned residual flow scaled by each alpha, scored like
``benchmarks.reenact_quality`` (self-reenactment; PSNR, SSIM of the face, head-pose error, top yaw decile).

    python -m benchmarks.flow_damping --data runs/shared_full --weights TRAINED.safetensors \
        [--alphas 0,0.25,0.5,0.75,1] [--splits heldout-tail,heldout-identities] [--integrator global] \
        [--max-frames N] --markdown OUT.md [--json OUT.json]

``--weights`` is the file as the trainer wrote it (alpha 1); ``training.rfg.damping`` writes the chosen
alpha's file. The geometric reenactor is scored beside it (alpha 0 keeps the RFG's decoder and mask but
drops its residual flow, which is not the same as the geometric warp). Identity is not scored here.
"""

from __future__ import annotations

import argparse
import copy
import json
import shlex
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks import reenact_quality as RQ
from export.atomic import atomic_write_text
from streamer.errors import InputError

if TYPE_CHECKING:
    from streamer.models.rfg import RFGNetworks

SWEEP_SPLITS = ("heldout-tail", "heldout-identities")


def variant_name(alpha: float) -> str:
    return f"rfg x{alpha:g}"


def build_variants(trained: RFGNetworks, alphas: list[float], integrator: str, threads: int) -> dict:
    """The geometric reenactor and one RFG reenactor per alpha (each on its own damped copy of
    ``trained``), all on one geometric warp."""
    from streamer.reenactors.geometric import GeometricReenactor
    from streamer.reenactors.rfg import RFGReenactor
    from training.rfg.damping import damp_residual_flow

    geometric = GeometricReenactor()
    out: dict = {"geometric": geometric}
    for a in alphas:
        nets = damp_residual_flow(copy.deepcopy(trained), a)
        out[variant_name(a)] = RFGReenactor(integrator=integrator, threads=threads, geometric=geometric, networks=nets)
    return out


def sweep(
    data: Path,
    weights: Path,
    alphas: list[float],
    splits: tuple[str, ...] = SWEEP_SPLITS,
    integrator: str = "global",
    max_frames: int | None = None,
    threads: int = 1,
    progress: bool = True,
) -> dict:
    """Per split and variant: the summary of ``benchmarks.reenact_quality`` (JSON-ready)."""
    from tqdm import tqdm

    from benchmarks.machine import describe_machine
    from streamer.reenactors.rfg import load_rfg_weights
    from training.dataset import LandmarkDataset
    from training.rfg.damping import applied_damping

    RQ.set_threads(threads)
    started = time.time()
    dataset = LandmarkDataset(data)
    trained = load_rfg_weights(weights)  # one-line errors for a missing or foreign file
    reenactors = build_variants(trained, alphas, integrator, threads)
    cfg = RQ.QualityConfig(
        data, tuple(reenactors), identity=False, max_frames=max_frames, threads=threads, progress=progress
    )
    clips = [c for c in RQ.plan_clips(dataset, cfg) if c.split in splits]
    if not clips:
        raise InputError(f"{data}: no clip in the splits {', '.join(splits)}")
    scorer = RQ.Scorer(dataset, cfg, reenactors)
    results = []
    try:
        with tqdm(total=sum(len(c.frames) for c in clips), unit="frame", desc="sweep", disable=not progress) as bar:
            for clip in clips:
                results.append(scorer.run(clip, lambda: bar.update(1)))
    finally:
        scorer.close()
    summary = RQ.summarise(results, cfg)
    return {
        "date": time.strftime("%Y-%m-%d %H:%M", time.localtime(started)),
        "seconds": time.time() - started,
        "machine": describe_machine(),
        "weights": RQ.weights_info(replace(cfg, weights=weights)),
        "input_damping": applied_damping(trained),
        "integrator": integrator,
        "alphas": alphas,
        "max_frames": max_frames,
        "summary": {s: summary[s] for s in splits if s in summary},
    }


def render_markdown(report: dict, command: str) -> str:
    """The sweep as one table per split."""
    lines = [
        "# Residual-flow damping sweep",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {RQ.machine_line(report['machine'])}. Run {report['date']}, {report['seconds']:.0f} s.",
        "",
        f"RFG weights: `{report['weights']}`, integrator {report['integrator']}; `rfg xA` = residual flow x A "
        f"of that file (which has x{report.get('input_damping', 1.0):g} of the trained flow).",
        "",
    ]
    if report["max_frames"] is not None:
        lines += [f"Only the first {report['max_frames']} driver frames of each clip (a smoke run).", ""]
    for split, entry in report["summary"].items():
        lines += [
            f"## {RQ.SPLIT_TITLES[split]}",
            "",
            f"{entry['clips']} clips, {entry['scored_frames']} scored frames.",
            "",
            "| method | PSNR valid (dB) | SSIM face | pose error (deg) | top yaw decile: PSNR valid | SSIM face |",
            "|---|---|---|---|---|---|",
        ]
        for name, m in entry["methods"].items():
            top = m["top_yaw_decile"]
            cells = [RQ.fmt(m["psnr_valid"]), RQ.fmt(m["ssim_face"], 4), RQ.fmt(m["pose_error_deg"], 3)]
            cells += [RQ.fmt(top["psnr_valid"]), RQ.fmt(top["ssim_face"], 4)]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def _floats(text: str) -> list[float]:
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise InputError(f"--alphas must be comma-separated numbers, got {text!r}") from None
    if not values or any(not 0.0 <= a <= 1.0 for a in values):
        raise InputError(f"--alphas must be numbers in [0, 1], got {text!r}")
    return values


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m benchmarks.flow_damping", description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="a prepared dataset (reenact prepare)")
    parser.add_argument(
        "--weights", type=Path, required=True, help="RFG weights as trained (an already damped file: alphas multiply)"
    )
    parser.add_argument("--alphas", default="0,0.25,0.5,0.75,1", help="residual-flow factors to score")
    parser.add_argument("--splits", default=",".join(SWEEP_SPLITS), help="splits to score")
    parser.add_argument("--integrator", choices=("global", "global-local"), default="global")
    parser.add_argument("--max-frames", type=int, help="driver frames per clip (smoke runs)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--markdown", type=Path, help="write the tables here (default: print them)")
    parser.add_argument("--json", type=Path, help="write every number here")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    try:
        splits = tuple(s.strip() for s in args.splits.split(",") if s.strip())
        bad = [s for s in splits if s not in SWEEP_SPLITS]
        if bad or not splits:
            raise InputError(f"--splits must name some of {', '.join(SWEEP_SPLITS)}, got {args.splits!r}")
        report = sweep(
            args.data,
            args.weights,
            _floats(args.alphas),
            splits,
            args.integrator,
            args.max_frames,
            args.threads,
            not args.quiet,
        )
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    command = "python -m benchmarks.flow_damping " + shlex.join(argv)
    text = render_markdown(report, command)
    if args.json:
        atomic_write_text(
            args.json, json.dumps({"command": command, **report}, indent=1, default=RQ.json_default) + "\n"
        )
    if args.markdown:
        atomic_write_text(args.markdown, text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
