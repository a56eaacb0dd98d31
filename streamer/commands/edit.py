"""``reenact edit``: the command-line side of ``streamer.photo_edit`` (a photo animated by parameters)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``reenact edit``."""
    from streamer.commands.convert import add_edit_arguments, add_generator_arguments
    from streamer.detectors import DETECTOR_NAMES

    p = sub.add_parser(
        "edit",
        help="animate a photo by parameters, no driver: head turn, smile, eyes, lips (a still, strip or clip)",
        description=(
            "Move a photo's head and expression by parameters alone. --out .png/.jpg: a still (with --sweep: a "
            "strip of --tiles frames along the sweep); --out .mp4/.mov/.mkv: a clip sweeping one parameter. "
            "Written atomically."
        ),
    )
    p.add_argument("--source", type=Path, default=None, help="source photo (default with --example: the bundled one)")
    p.add_argument("--example", action="store_true", help="use the bundled public-domain example photo")
    p.add_argument("--out", type=Path, required=True, help="output image (.png/.jpg/.webp) or video (.mp4/.mov/.mkv)")
    add_edit_arguments(p, driver=False)
    p.add_argument(
        "--sweep",
        default=None,
        metavar="PARAM:FROM:TO",
        help="move one parameter (yaw, pitch, roll, smile, eyes-open, lips-open) from FROM to TO, e.g. yaw:-20:20",
    )
    p.add_argument("--seconds", type=float, default=2.0, help="clip length with a video --out (default 2)")
    p.add_argument("--fps", type=int, default=25, help="clip frame rate (default 25)")
    p.add_argument(
        "--tiles", type=int, default=5, help="frames in the strip of an image --out with --sweep (default 5)"
    )
    p.add_argument("--size", type=int, default=256, help="face crop size in pixels (default 256)")
    p.add_argument("--max-side", type=int, default=1280, help="largest output side (default 1280)")
    p.add_argument("--landmarks", choices=DETECTOR_NAMES, default="auto", help="landmark detector (default auto)")
    p.add_argument("--face-index", type=int, default=None, help="which face when the photo has several (0 = largest)")
    p.add_argument("--threads", type=int, default=None, help="compute threads (default 1; 0 = all cores)")
    add_generator_arguments(p)
    p.set_defaults(func=_run_edit)


def _run_edit(args: argparse.Namespace) -> int:
    from streamer.commands.convert import check_generator_arguments, edit_controls
    from streamer.errors import InputError
    from streamer.examples import example_source_path
    from streamer.photo_edit import EditOptions, check_edit_options, describe, parse_sweep, run_edit
    from streamer.runtime import configure_threads

    source = args.source or (example_source_path() if args.example else None)
    if source is None:
        raise InputError("give --source PHOTO (or --example)")
    if not 64 <= args.size <= 1024:
        raise InputError(f"--size must be between 64 and 1024, got {args.size}")
    if args.max_side < 64:
        raise InputError(f"--max-side must be at least 64, got {args.max_side}")
    opts = EditOptions(
        source=source,
        out=args.out,
        controls=edit_controls(args),
        sweep=parse_sweep(args.sweep) if args.sweep is not None else None,
        seconds=args.seconds,
        fps=args.fps,
        tiles=args.tiles,
        size=args.size,
        max_side=args.max_side,
        landmarks=args.landmarks,
        face_index=args.face_index,
        generator=args.generator,
        integrator=args.integrator,
        weights=args.weights,
        threads=configure_threads(args.threads),
    )
    check_edit_options(opts)
    check_generator_arguments(args)
    frames = run_edit(opts)
    print(f"wrote {opts.out}: {frames} frame(s), generator {args.generator}, {describe(opts)}")
    return 0
