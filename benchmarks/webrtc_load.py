"""Load benchmark of ``reenact serve``: N concurrent loopback peers, each sending a driver clip.

Runs the server as its own process (``reenact serve --port 0 --ice-loopback-only``, otherwise its
defaults: today the RFG generator) and N aiortc clients in this one, all on 127.0.0.1, for
N = 1, 2, 4 (``--peers 1 2 4 8`` for others; ``--quick``: 1 and 2, 8 s each). Per N it reports the
mean per-peer output fps, glass-to-glass latency percentiles (client send -> reenacted frame back,
both codecs included; no camera or display), the server's dropped stale frames, and the server's
CPU and peak memory. The machine's load average is recorded beside the table: other work on the
same cores lowers every number.

    python -m benchmarks.webrtc_load [--quick] [--peers 1 2 4] [--seconds 30] [--markdown benchmarks/WEBRTC_LOAD.md]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.glass_to_glass import start_server
from streamer.webrtc.client import LoopbackClient, load_clip
from streamer.webrtc.ice import loopback_ice

SHARED_DRIVER = Path(__file__).resolve().parents[2] / "shared/data/raw/LivePortrait/assets/examples/driving/d0.mp4"
TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def _rss_mb(pid: int) -> float:
    match = re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text())
    return int(match.group(1)) / 1024 if match else 0.0


@dataclass
class Row:
    peers: int
    fps: float  # mean per peer
    fps_min: float
    p50: float
    p95: float
    dropped: int
    processed: int
    server_cpu: float  # percent of one core
    client_cpu: float
    server_rss: float  # MB, peak


async def _run(url: str, pid: int, frames, fps: float, peers: int, seconds: float) -> Row:
    clients = [LoopbackClient(url, frames, fps) for _ in range(peers)]
    for client in clients:
        await client.connect()
    await asyncio.sleep(3.0)  # warm-up: trackers built, ICE/DTLS up
    for client in clients:
        client.start_window()
    cpu0, own0, t0 = _cpu_seconds(pid), time.process_time(), time.monotonic()
    rss = 0.0
    while time.monotonic() - t0 < seconds:
        await asyncio.sleep(1.0)
        rss = max(rss, _rss_mb(pid))
    wall = time.monotonic() - t0
    server_cpu, client_cpu = (_cpu_seconds(pid) - cpu0) / wall * 100, (time.process_time() - own0) / wall * 100
    results = [await client.close() for client in clients]
    lat = np.concatenate([r.latencies_ms for r in results if r.latencies_ms] or [np.array([np.nan])])
    return Row(
        peers=peers,
        fps=float(np.mean([r.fps for r in results])),
        fps_min=float(np.min([r.fps for r in results])),
        p50=float(np.nanpercentile(lat, 50)),
        p95=float(np.nanpercentile(lat, 95)),
        dropped=sum(r.server_stats.get("dropped", 0) for r in results),
        processed=sum(r.server_stats.get("processed", 0) for r in results),
        server_cpu=server_cpu,
        client_cpu=client_cpu,
        server_rss=rss,
    )


def _table(rows: list[Row], seconds: float, clip: str, load: tuple[float, float]) -> str:
    from streamer.reenactors.generators import DEFAULT_GENERATOR, DEFAULT_INTEGRATOR

    lines = [
        f"Driver: {clip}; {seconds:.0f} s per row after a 3 s warm-up; server `reenact serve` defaults "
        f"(generator {DEFAULT_GENERATOR}, integrator {DEFAULT_INTEGRATOR}, 640 px max side, 256 px crop, "
        "paste-back) with `--ice-loopback-only`.",
        "",
        f"Machine load (1-min load average over {os.cpu_count()} cores): {load[0]:.2f} at the start, "
        f"{load[1]:.2f} at the end (this run's own work included).",
        "",
        "| peers | fps per peer (mean / min) | glass-to-glass p50 / p95 (ms) | server drops / processed "
        "| server CPU (% of a core) | client CPU | server peak RSS (MB) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.peers} | {r.fps:.1f} / {r.fps_min:.1f} | {r.p50:.0f} / {r.p95:.0f} | {r.dropped} / {r.processed} "
            f"| {r.server_cpu:.0f} | {r.client_cpu:.0f} | {r.server_rss:.0f} |"
        )
    return "\n".join(lines)


def _machine() -> str:
    lines = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in lines if "model name" in line), platform.processor())
    system = f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    return f"{os.cpu_count()} CPU cores ({cpu}), {system}"


async def main_async(args: argparse.Namespace) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        if SHARED_DRIVER.is_file():
            clip, name = SHARED_DRIVER, "../shared/data LivePortrait d0.mp4 (512x512, 25 fps), sent at 480x480"
        else:
            from streamer.examples import make_example_driver

            clip, name = make_example_driver(Path(tmp) / "driver.mp4"), "bundled example driver (384 px, 25 fps)"
        frames, fps = load_clip(clip, max_frames=150, max_side=480)
    peer_counts = [1, 2] if args.quick else args.peers
    seconds = args.seconds or (8.0 if args.quick else 30.0)
    load_start = os.getloadavg()[0]
    with loopback_ice():
        # the clients run on this machine: no packet leaves 127.0.0.1
        proc, url = await start_server(["--max-streams", str(max(peer_counts)), "--ice-loopback-only"])
        try:
            rows = []
            for n in peer_counts:
                row = await _run(url, proc.pid, frames, fps, n, seconds)
                print(f"{n} peers: {row}", flush=True)
                rows.append(row)
                await asyncio.sleep(2.0)
        finally:
            proc.terminate()
            await proc.wait()
    return _table(rows, seconds, name, (load_start, os.getloadavg()[0]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 and 2 peers, 8 s each")
    parser.add_argument("--peers", type=int, nargs="+", default=[1, 2, 4], help="peer counts (default 1 2 4)")
    parser.add_argument("--seconds", type=float, default=None, help="seconds per row (default 30; quick 8)")
    parser.add_argument("--markdown", type=Path, default=None, help="write the table (with command and machine) here")
    args = parser.parse_args()
    table = asyncio.run(main_async(args))
    print(table)
    if args.markdown:
        command = "python -m benchmarks.webrtc_load" + (" --quick" if args.quick else "")
        if not args.quick and args.peers != [1, 2, 4]:
            command += " --peers " + " ".join(map(str, args.peers))
        if args.seconds:
            command += f" --seconds {args.seconds:g}"
        command += f" --markdown {args.markdown}"
        _write_report(
            args.markdown,
            f"# WebRTC load: concurrent loopback peers\n\nCommand: `{command}`\n\nMachine: {_machine()}; no GPU.\n"
            f"Server and clients share the machine (clients encode/decode too, see client CPU).\n\n{table}\n",
        )


NOTES_HEADING = "## Notes"


def _write_report(path: Path, report: str) -> None:
    """Write ``report`` atomically, keeping the hand-written section that starts at ``NOTES_HEADING``."""
    old = path.read_text() if path.is_file() else ""
    if NOTES_HEADING in old:
        report += "\n" + old[old.index(NOTES_HEADING) :]
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(report)
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
