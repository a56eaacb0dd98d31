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
from streamer.webrtc.tls import ServerCertificate, load_certificate, self_signed_certificate

log = logging.getLogger(__name__)


def build_server_config(args: argparse.Namespace) -> ServerConfig:
    """A ``ServerConfig`` from ``reenact serve``'s flags; ``InputError`` for unsafe or invalid ones."""
    if not is_loopback(args.host) and not args.token:
        raise InputError(
            f"--host {args.host} exposes the server beyond this machine: set --token TOKEN "
            "(clients send 'Authorization: Bearer TOKEN'; the page reads it from URL#token=TOKEN)"
        )
    if args.ice_loopback_only and args.ice_servers:
        raise InputError("--ice-server makes no sense with --ice-loopback-only (ICE stays on 127.0.0.1)")
    if args.ice_loopback_only and not is_loopback(args.host):
        raise InputError(f"--ice-loopback-only needs a loopback --host: browsers reaching {args.host} cannot use it")
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
        ice_loopback_only=args.ice_loopback_only,
        certificate=_certificate(args),
        port=args.port,
        token=args.token,
        ice_servers=tuple(args.ice_servers),
        max_streams=args.max_streams,
        drop_audio=args.drop_audio,
        idle_timeout=args.idle_timeout,
        live=live,
    )


def _certificate(args: argparse.Namespace) -> ServerCertificate | None:
    """HTTPS from ``--cert``/``--key`` or ``--self-signed``; None for plain HTTP."""
    if args.self_signed and (args.cert or args.key):
        raise InputError("use either --self-signed or --cert FILE --key FILE, not both")
    if bool(args.cert) != bool(args.key):
        raise InputError("--cert and --key go together (a PEM certificate and its private key)")
    if args.cert:
        return load_certificate(args.cert, args.key)
    if args.self_signed:
        hosts = [args.host]
        if args.host in ("0.0.0.0", "::"):  # every interface: name each address the browser may use
            from aioice.ice import get_host_addresses

            hosts = get_host_addresses(use_ipv4=True, use_ipv6=args.host == "::")
        return self_signed_certificate(hosts)
    return None


def startup_lines(config: ServerConfig, url: str) -> list[str]:
    """What ``reenact serve`` prints once it listens: the URL, then the certificate and camera hints."""
    hint = "#token=TOKEN" if config.token else ""
    lines = [f"reenact: serving on {url}/{hint} (max {config.max_streams} streams; Ctrl-C stops)"]
    cert = config.certificate
    if cert is not None:
        kind = "self-signed certificate" if cert.self_signed else "certificate"
        lines.append(f"reenact: {kind} SHA-256 fingerprint {cert.fingerprint}")
        lines.append(f"reenact: its public key (SPKI) SHA-256, base64: {cert.spki_sha256}")
        if cert.self_signed:
            lines.append("reenact: the browser warns about it: accept it only if it shows the same fingerprint")
    elif not is_loopback(config.host):
        lines.append(
            "reenact: note: browsers give the camera only to https:// pages or localhost; "
            "for other devices add --self-signed or --cert FILE --key FILE"
        )
    return lines


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
            print("\n".join(startup_lines(config, url)), flush=True)
            await stop.wait()
    except OSError as exc:
        raise InputError(f"cannot listen on {config.host}:{config.port}: {exc.strerror or exc}") from None
    print("reenact: stopped", flush=True)
