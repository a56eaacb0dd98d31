"""Connect/disconnect cycles against a fresh server process; prints what grew, as JSON.

Run in its own interpreter (as ``reenact serve`` runs) so that the heap left by earlier tests in the
pytest process does not count: in the full suite, glibc fragmentation from other tests moved the
server's RSS by ~40 MB over 100 cycles while the same cycles alone shrank it (measured).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import threading
from pathlib import Path

from live_helpers import until

from streamer.examples import example_source_path
from streamer.live.config import LiveConfig
from streamer.live.memory import limit_malloc_arenas, trim_heap
from streamer.live.sources import SourceLibrary, prepare_file
from streamer.webrtc.client import LoopbackClient, load_clip
from streamer.webrtc.server import ServerConfig, running_server


def _threads() -> int:
    """Threads other than asyncio's default executor (it grows lazily up to its cap, then stays)."""
    return sum(1 for t in threading.enumerate() if not t.name.startswith("asyncio_"))


def _rss_mb() -> float:
    trim_heap()
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def _scenario(driver: Path, cycles: int, warmup: int) -> dict:
    config = LiveConfig(max_side=512)
    library = SourceLibrary(prepare_file(example_source_path(), config))
    frames, fps = load_clip(driver, max_frames=75, max_side=480)

    async def one(server, url: str) -> None:
        # A closed peer frees its slot when the server sees the DTLS close, which lags under load (the
        # full suite on 2 busy cores hit "server is full" here): wait for a free slot, but fail if none
        # frees within 10 s (a session that never closes is what this probe exists to catch).
        if not await until(lambda: len(server.sessions) < server.config.max_streams, 10):
            raise RuntimeError("no stream slot freed within 10 s of the previous close")
        client = LoopbackClient(url, frames, fps)
        await client.connect()
        if not await client.wait_frames(2, 20):
            raise RuntimeError("no frames came back")
        await client.close()

    async def settled(server) -> None:
        if not await until(lambda: not server.sessions, 10):
            raise RuntimeError("sessions still open after the cycles")
        await asyncio.sleep(0.5)
        gc.collect()

    async with running_server(ServerConfig(port=0, live=config), library) as (server, url):
        for _ in range(warmup):
            await one(server, url)
        await settled(server)
        start = {
            "rss": _rss_mb(),
            "threads": _threads(),
            "tasks": len(asyncio.all_tasks()),
            "objects": len(gc.get_objects()),
        }
        rss_curve = []
        for index in range(1, cycles + 1):
            await one(server, url)
            if index % max(1, cycles // 4) == 0 or index == cycles:
                await settled(server)
                rss_curve.append(round(_rss_mb() - start["rss"], 1))
        return {
            "rss_mb": rss_curve[-1],
            "rss_curve_mb": rss_curve,
            "threads": _threads() - start["threads"],
            "tasks": len(asyncio.all_tasks()) - start["tasks"],
            "objects": len(gc.get_objects()) - start["objects"],
            "stream_threads": [t.name for t in threading.enumerate() if t.name.startswith("stream-")],
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("driver", type=Path)
    parser.add_argument("--cycles", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    limit_malloc_arenas()  # as ``reenact serve`` does
    print(json.dumps(asyncio.run(_scenario(args.driver, args.cycles, args.warmup))))


if __name__ == "__main__":
    main()
