"""Running the server from the command line: option checks, the default source, serving until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from pathlib import Path

from streamer.errors import InputError
from streamer.live.config import LiveConfig
from streamer.live.memory import limit_malloc_arenas
from streamer.live.sources import SourceLibrary, prepare_file
from streamer.webrtc.ice import is_loopback
from streamer.webrtc.server import ServerConfig, running_server

log = logging.getLogger(__name__)


def build_server_config(args: argparse.Namespace) -> ServerConfig:
    """A ``ServerConfig`` from ``reenact serve``'s flags; ``InputError`` for unsafe or invalid ones."""
    if not is_loopback(args.host) and not args.token:
        raise InputError(
            f"--host {args.host} exposes the server beyond this machine: set --token TOKEN "
            "(clients send 'Authorization: Bearer TOKEN'; the page reads it from URL#token=TOKEN)"
        )
    if is_loopback(args.host) and args.ice_servers:
        raise InputError("--ice-server makes no sense on a loopback host (ICE stays on 127.0.0.1); use another --host")
    if not 0 <= args.port <= 65535:
        raise InputError(f"--port must be 0..65535, got {args.port}")
    if args.max_streams < 1:
        raise InputError(f"--max-streams must be at least 1, got {args.max_streams}")
    if not 64 <= args.size <= 1024:
        raise InputError(f"--size must be between 64 and 1024, got {args.size}")
    if args.max_side < 64:
        raise InputError(f"--max-side must be at least 64, got {args.max_side}")
    if args.idle_timeout <= 0:
        raise InputError(f"--idle-timeout must be positive, got {args.idle_timeout}")
    for url in args.ice_servers:
        if not url.startswith(("stun:", "turn:", "turns:")):
            raise InputError(f"--ice-server {url!r}: expected a stun:, turn: or turns: URL")
    live = LiveConfig(
        size=args.size,
        max_side=args.max_side,
        paste_back=args.paste_back,
        frame_path=getattr(args, "frame_path", "auto"),
    )
    return ServerConfig(
        host=args.host,
        port=args.port,
        token=args.token,
        ice_servers=tuple(args.ice_servers),
        max_streams=args.max_streams,
        drop_audio=args.drop_audio,
        idle_timeout=args.idle_timeout,
        live=live,
    )


def load_default_source(path: Path | None, config: LiveConfig) -> SourceLibrary:
    """The library with ``path`` (or the bundled example photo) as its default source."""
    from streamer.examples import example_source_path

    return SourceLibrary(prepare_file(path or example_source_path(), config))


async def serve_forever(config: ServerConfig, source: Path | None) -> None:
    """Serve until SIGINT/SIGTERM, then close every peer."""
    limit_malloc_arenas()
    loop = asyncio.get_running_loop()
    library = await loop.run_in_executor(None, load_default_source, source, config.live)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with running_server(config, library) as (_, url):
            hint = "#token=TOKEN" if config.token else ""
            print(f"reenact: serving on {url}/{hint} (max {config.max_streams} streams; Ctrl-C stops)", flush=True)
            await stop.wait()
    except OSError as exc:
        raise InputError(f"cannot listen on {config.host}:{config.port}: {exc.strerror or exc}") from None
    print("reenact: stopped", flush=True)
