"""``reenact serve``: the live page and WebRTC server (see ``streamer.webrtc``)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``reenact serve``."""
    from streamer.commands.convert import (
        add_edit_arguments,
        add_frame_path_argument,
        add_generator_arguments,
        add_retarget_arguments,
        add_warp_argument,
    )
    from streamer.webrtc import default_max_streams  # the package alone: no aiortc or aiohttp (issue 16)

    p = sub.add_parser(
        "serve",
        help="serve the live page: your webcam drives the source photo over WebRTC",
        description="Serve a page that streams your webcam to this machine and shows the reenacted video.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; others need --token)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    p.add_argument("--source", type=Path, default=None, help="default source photo (default: the bundled example)")
    p.add_argument("--token", default=None, help="require 'Authorization: Bearer TOKEN' (page: URL#token=TOKEN)")
    p.add_argument(
        "--ice-server",
        dest="ice_servers",
        action="append",
        default=[],
        metavar="URL",
        help="STUN/TURN server URL, repeatable (default: none, the machine's host candidates only)",
    )
    p.add_argument(
        "--ice-loopback-only",
        action="store_true",
        help="gather and accept 127.0.0.1 ICE candidates only (test machines that allow only loopback; "
        "stock browsers cannot connect then)",
    )
    p.add_argument(
        "--cert", type=Path, default=None, metavar="FILE", help="serve HTTPS with this PEM certificate (with --key)"
    )
    p.add_argument("--key", type=Path, default=None, metavar="FILE", help="the PEM private key of --cert")
    p.add_argument(
        "--self-signed",
        action="store_true",
        help="serve HTTPS with a certificate made at start (in memory; its SHA-256 fingerprint is printed)",
    )
    p.add_argument(
        "--max-streams",
        type=int,
        default=default_max_streams(),
        help=f"concurrent streams; more are refused with HTTP 503 (default: CPU count, {default_max_streams()})",
    )
    p.add_argument("--drop-audio", action="store_true", help="do not send the browser's audio back")
    p.add_argument("--size", type=int, default=256, help="face crop size in pixels (default 256)")
    p.add_argument("--max-side", type=int, default=640, help="largest side of the output frame (default 640)")
    p.add_argument("--crop-only", dest="paste_back", action="store_false", help="start streams with the crop only")
    p.add_argument(
        "--idle-timeout", type=float, default=15.0, help="close a peer after this many seconds without video"
    )
    add_retarget_arguments(p)
    add_generator_arguments(p)
    add_warp_argument(p)
    add_frame_path_argument(p)
    add_edit_arguments(p)  # where every stream starts; the page's sliders change them per stream
    p.set_defaults(func=_run_serve)


def _run_serve(args: argparse.Namespace) -> int:
    import asyncio
    import dataclasses

    from streamer.commands.convert import check_generator_arguments, check_retarget_arguments, edit_controls
    from streamer.runtime import configure_threads
    from streamer.webrtc.run import build_server_config, serve_forever

    config = build_server_config(args)  # validates before anything heavy happens
    edits = edit_controls(args)
    check_retarget_arguments(args)
    check_generator_arguments(args)
    live = dataclasses.replace(
        config.live,
        retarget=args.retarget,
        idsg_weights=args.idsg_weights,
        generator=args.generator,
        integrator=args.integrator,
        weights=args.weights,
        warp=args.warp,
        edits=edits,
    )
    config = dataclasses.replace(config, live=live)
    configure_threads(None)
    asyncio.run(serve_forever(config, args.source))
    return 0
