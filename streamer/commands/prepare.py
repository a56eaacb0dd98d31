"""``reenact prepare``: videos -> a training dataset of aligned crops and landmarks."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``reenact prepare``."""
    p = sub.add_parser(
        "prepare",
        help="videos -> training dataset (aligned 256 crops + landmarks, pose, crop transforms)",
        description="Track and align every video under --videos (recursive) into a training dataset. "
        "Resumable: finished videos are skipped; corrupt videos are reported and skipped.",
    )
    p.add_argument("--videos", type=Path, required=True, help="folder of videos (flat or id*/video*/clip.mp4)")
    p.add_argument("--out", type=Path, required=True, help="dataset folder (created; re-running resumes)")
    p.add_argument("--fps", type=float, default=None, help="keep at most N frames per second (default: all)")
    p.add_argument("--identities", type=Path, default=None, help="CSV with path,identity (or path,group) columns")
    p.add_argument("--tracker", choices=("temporal", "detector"), default="temporal", help="landmark tracker")
    p.add_argument("--max-seconds", type=float, default=None, help="only the first SECONDS of each video")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from streamer.errors import InputError
    from training.prepare import PrepareConfig, prepare_dataset, read_identity_map

    if args.fps is not None and args.fps <= 0:
        raise InputError(f"--fps must be positive, got {args.fps}")
    identities = read_identity_map(args.identities) if args.identities else None
    cfg = PrepareConfig(fps=args.fps, tracker=args.tracker, max_seconds=args.max_seconds)
    progress = not args.quiet and getattr(args, "stderr_is_tty", True)
    summary = prepare_dataset(args.videos, args.out, cfg, identities, progress=progress)
    for path, error in summary.failed:
        print(f"skipped {path}: {error}")
    print(
        f"wrote {args.out}: {summary.done} videos prepared, {summary.skipped} already done, "
        f"{len(summary.failed)} failed, {summary.frames} frames in total"
    )
    return 0
