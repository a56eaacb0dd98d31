"""``reenact bench``: time every stage and the whole pipeline on this machine (see ``benchmarks/``)."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``reenact bench``."""
    from benchmarks.config import GENERATOR_BACKENDS, GENERATOR_SETTINGS, WARP_BACKENDS

    p = sub.add_parser(
        "bench",
        help="benchmark every stage and the whole pipeline on this machine",
        description=(
            "Time decode, landmarks, tracking, alignment, the generator (geometric warp, RFG global, RFG "
            "global+local), paste-back, colour conversion, encode, convert end to end and a live stream's "
            "glass-to-glass latency, across backends, resolutions, threads and concurrent streams; with "
            "each network's parameters, GFLOPs and share of this machine's matmul peak."
        ),
    )
    p.add_argument("--quick", action="store_true", help="a small run, under a minute (used by the smoke test)")
    p.add_argument(
        "--backend",
        nargs="+",
        choices=WARP_BACKENDS,
        default=None,
        help="warp backends to measure (default: all; unavailable ones are reported with the reason)",
    )
    p.add_argument("--only", nargs="+", default=None, metavar="BENCH", help="run only these benches (e.g. warp)")
    p.add_argument("--threads", type=int, nargs="+", default=None, help="compute thread counts (default 1, 2, all)")
    p.add_argument(
        "--generator",
        nargs="+",
        choices=GENERATOR_SETTINGS,
        default=None,
        help="generator settings to measure per frame, end to end and live (default: all)",
    )
    p.add_argument(
        "--generator-backend",
        nargs="+",
        choices=GENERATOR_BACKENDS,
        default=None,
        help="RFG runners for the per-frame rows (default: both; --quick: onnxruntime, what convert uses)",
    )
    p.add_argument(
        "--weights",
        type=Path,
        default=None,
        help="RFG weights (default: streamer/models/weights/rfg.safetensors if present, else random weights "
        "of the same shapes: same cost, and the rows say so)",
    )
    p.add_argument(
        "--live-seconds",
        type=float,
        default=None,
        help="glass-to-glass: seconds per generator setting after a warm-up (default 15; 0 skips; skipped in --quick)",
    )
    p.add_argument("--example", action="store_true", help="use the bundled example even if ../shared/data exists")
    p.add_argument("--driver", type=Path, default=None, help="driver video to measure with")
    p.add_argument("--source", type=Path, default=None, help="source photo to measure with")
    p.add_argument("--json", type=Path, default=None, metavar="OUT", help="write every measurement as JSON")
    p.add_argument("--markdown", type=Path, default=None, metavar="OUT", help="write the Markdown report")
    p.add_argument("--plot", type=Path, default=None, metavar="OUT.png", help="write the plots (needs matplotlib)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=_run_bench)


def _command_line(args: argparse.Namespace) -> str:
    """The command as it would be typed (for the report)."""
    parts = ["reenact", "bench"]
    for flag in ("quick", "example"):
        if getattr(args, flag):
            parts.append(f"--{flag}")
    for flag in ("backend", "only", "threads", "generator", "generator_backend"):
        if getattr(args, flag):
            parts += [f"--{flag.replace('_', '-')}", *map(str, getattr(args, flag))]
    for flag in ("driver", "source", "weights", "live_seconds", "json", "markdown", "plot"):
        if getattr(args, flag) is not None:
            parts += [f"--{flag.replace('_', '-')}", str(getattr(args, flag))]
    return shlex.join(parts)


def _run_bench(args: argparse.Namespace) -> int:
    from benchmarks.config import BenchConfig
    from benchmarks.registry import selected
    from benchmarks.report import absent_lines, generator_table, markdown_report, summary_table, write_json
    from benchmarks.runner import run_bench
    from streamer.errors import InputError

    for path in (args.driver, args.source, args.weights):
        if path is not None and not path.is_file():
            raise InputError(f"file not found: {path}")
    if args.live_seconds is not None and args.live_seconds < 0:
        raise InputError(f"--live-seconds must be 0 or more, got {args.live_seconds}")
    if args.threads and min(args.threads) < 1:
        raise InputError(f"--threads must be at least 1, got {args.threads}")
    try:
        selected(args.only or ())
    except KeyError as exc:
        raise InputError(str(exc.args[0])) from None
    config = BenchConfig.create(
        quick=args.quick,
        backends=tuple(args.backend) if args.backend else None,
        threads=tuple(sorted(set(args.threads))) if args.threads else None,
        example=args.example,
        driver=args.driver,
        source=args.source,
        stages=tuple(args.only) if args.only else None,
        generators=tuple(dict.fromkeys(args.generator)) if args.generator else None,
        generator_backends=tuple(dict.fromkeys(args.generator_backend)) if args.generator_backend else None,
        weights=args.weights,
        live_seconds=args.live_seconds,
    )
    result = run_bench(config, _command_line(args), progress=None if args.quiet else _progress)
    plots: list[str] = []
    if args.plot is not None:
        from benchmarks.plots import write_plots

        why_not = write_plots(result, args.plot)
        if why_not:
            sys.stderr.write(f"reenact: warning: {why_not}\n")
        else:
            plots.append(_relative_to(args.plot, args.markdown))
    if args.json is not None:
        write_json(result, args.json)
    if args.markdown is not None:
        args.markdown.write_text(markdown_report(result, plots), encoding="utf-8")
    print(summary_table(result))
    print()
    print(generator_table(result))
    for line in absent_lines(result):
        print(f"  {line}")
    failed = [r for r in result["rows"] if r["status"] == "failed"]
    for row in failed:
        sys.stderr.write(f"reenact: bench {row['name']} failed: {row['note']}\n")
    return 1 if failed else 0


def _progress(message: str) -> None:
    sys.stderr.write(f"bench: {message}\n")
    sys.stderr.flush()


def _relative_to(path: Path, markdown: Path | None) -> str:
    """The plot's path as the Markdown file should link it."""
    if markdown is None:
        return str(path)
    try:
        return str(path.resolve().relative_to(markdown.resolve().parent))
    except ValueError:
        return str(path.resolve())
