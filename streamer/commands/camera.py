"""``reenact camera``: a local camera drives the source photo; output to a virtual camera."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``reenact camera``."""
    from streamer.commands.convert import (
        add_edit_arguments,
        add_frame_path_argument,
        add_generator_arguments,
        add_retarget_arguments,
        add_warp_argument,
    )
    from streamer.live.edit_keys import HELP as EDIT_KEYS

    p = sub.add_parser(
        "camera",
        help="local camera -> reenacted source photo -> virtual camera (for video calls)",
        description=(
            "Animate a source photo with a local camera and send the result to a virtual camera "
            "(pyvirtualcam: v4l2loopback on Linux, OBS on Windows/macOS)."
        ),
    )
    p.add_argument("--source", type=Path, default=None, help="source photo (default: the bundled example)")
    p.add_argument("--device", default="0", help="camera index (default 0) or a video file (looped, for testing)")
    p.add_argument("--virtual-cam", action="store_true", help="send the output to a virtual camera")
    p.add_argument(
        "--preview",
        action="store_true",
        help=f"show a preview window (keys: r re-anchor, q quit; editing controls: {EDIT_KEYS})",
    )
    p.add_argument("--frames", type=int, default=None, help="stop after this many frames (default: run until q/Ctrl-C)")
    p.add_argument("--size", type=int, default=256, help="face crop size in pixels (default 256)")
    p.add_argument("--max-side", type=int, default=640, help="largest side of the output frame (default 640)")
    p.add_argument("--crop-only", dest="paste_back", action="store_false", help="output the face crop only")
    add_retarget_arguments(p)
    add_generator_arguments(p)
    add_warp_argument(p)
    add_frame_path_argument(p)
    add_edit_arguments(p)
    p.set_defaults(func=_run_camera)


def _run_camera(args: argparse.Namespace) -> int:
    from streamer.commands.convert import check_generator_arguments, check_retarget_arguments, edit_controls
    from streamer.errors import InputError
    from streamer.examples import example_source_path
    from streamer.live.camera import CameraOptions, run_camera
    from streamer.live.config import LiveConfig
    from streamer.runtime import configure_threads

    if not 64 <= args.size <= 1024:
        raise InputError(f"--size must be between 64 and 1024, got {args.size}")
    if args.max_side < 64:
        raise InputError(f"--max-side must be at least 64, got {args.max_side}")
    if args.frames is not None and args.frames < 1:
        raise InputError(f"--frames must be at least 1, got {args.frames}")
    edits = edit_controls(args)
    check_retarget_arguments(args)
    check_generator_arguments(args)
    configure_threads(None)
    opts = CameraOptions(
        source=args.source or example_source_path(),
        device=args.device,
        virtual_cam=args.virtual_cam,
        preview=args.preview,
        frames=args.frames,
        live=LiveConfig(
            size=args.size,
            max_side=args.max_side,
            paste_back=args.paste_back,
            retarget=args.retarget,
            idsg_weights=args.idsg_weights,
            generator=args.generator,
            integrator=args.integrator,
            weights=args.weights,
            frame_path=args.frame_path,
            warp=args.warp,
            edits=edits,
        ),
    )
    try:
        summary = run_camera(opts)
    except KeyboardInterrupt:
        print("reenact: camera stopped")
        return 0
    print(
        f"camera: {summary.frames} frames, face found in {summary.faces}, {summary.dropped} stale frames dropped, "
        f"{summary.fps:.1f} fps"
    )
    return 0
