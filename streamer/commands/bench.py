"""``reenact bench``: time every stage and the whole pipeline on this machine (see ``benchmarks/``)."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``reenact bench``."""
    from benchmarks.config import WARP_BACKENDS

    p = sub.add_parser(
        "bench",
        help="benchmark every stage and the whole pipeline on this machine",
        description=(
            "Time decode, landmarks, tracking, alignment, the generator, paste-back, colour conversion, "
            "encode and convert end to end, across backends, resolutions, threads and concurrent streams."
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
    for flag in ("backend", "only", "threads"):
        if getattr(args, flag):
            parts += [f"--{flag}", *map(str, getattr(args, flag))]
    for flag in ("driver", "source", "json", "markdown", "plot"):
        if getattr(args, flag) is not None:
            parts += [f"--{flag}", str(getattr(args, flag))]
    return shlex.join(parts)


def _run_bench(args: argparse.Namespace) -> int:
    from benchmarks.config import BenchConfig
    from benchmarks.registry import selected
    from benchmarks.report import absent_lines, markdown_report, summary_table, write_json
    from benchmarks.runner import run_bench
    from streamer.errors import InputError

    for path in (args.driver, args.source):
        if path is not None and not path.is_file():
            raise InputError(f"file not found: {path}")
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
