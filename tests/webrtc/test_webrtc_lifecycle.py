"""Peers that vanish, and many connect/disconnect cycles: nothing leaks (tasks, threads, memory)."""

from __future__ import annotations

import asyncio
import gc
import signal
import sys
import threading
import time

from streamer.live.memory import limit_malloc_arenas, trim_heap
from streamer.webrtc.client import LoopbackClient


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


async def _until(predicate, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while not predicate() and time.monotonic() < end:
        await asyncio.sleep(0.1)
    return predicate()


def test_peer_that_vanishes_is_closed(serve, driver_path, stream_threads):
    """A client process killed mid-stream (no hang-up) is closed after the idle timeout."""

    async def scenario():
        async with serve(idle_timeout=2.0) as (server, url):
            child = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "streamer.webrtc.client", url, "--clip", str(driver_path), "--seconds", "60",
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            try:
                streaming = await _until(
                    lambda: any(s.stats.processed > 5 for s in server.sessions.values()), timeout=60
                )
            finally:
                child.send_signal(signal.SIGKILL)
                await child.wait()
            assert streaming, "the client never streamed"
            killed_at = time.monotonic()
            assert await _until(lambda: not server.sessions, timeout=10), "vanished peer still open"
            waited = time.monotonic() - killed_at
            other = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and "peer-" in t.get_name()]
            return waited, other

    waited, other = asyncio.run(scenario())
    assert waited < 8
    assert not other, other
    assert not stream_threads()


def _cycles(serve, driver_frames, count: int) -> tuple[float, int, int]:
    """(RSS growth in MB, thread growth, task growth) over ``count`` cycles after a warm-up."""
    frames, fps = driver_frames
    limit_malloc_arenas()  # as ``reenact serve`` does

    async def one(url: str) -> None:
        client = LoopbackClient(url, frames, fps)
        await client.connect()
        assert await client.wait_frames(2, 20)
        await client.close()

    async def scenario():
        async with serve() as (server, url):
            for _ in range(3):
                await one(url)
            await _until(lambda: not server.sessions, 5)
            gc.collect()
            rss, threads, tasks = _rss_mb(), _threads(), len(asyncio.all_tasks())
            for _ in range(count):
                await one(url)
            assert await _until(lambda: not server.sessions, 10)
            await asyncio.sleep(0.5)
            gc.collect()
            return _rss_mb() - rss, _threads() - threads, len(asyncio.all_tasks()) - tasks

    return asyncio.run(scenario())


def test_hundred_connect_disconnect_cycles(serve, driver_frames, stream_threads):
    """The issue's bar: 100 cycles (about 30 s here), no task, thread or memory growth."""
    growth, threads, tasks = _cycles(serve, driver_frames, 100)
    print(f"\n100 cycles: RSS {growth:+.1f} MB, threads {threads:+d}, tasks {tasks:+d}")
    assert threads <= 0 and tasks <= 0 and not stream_threads()
    assert growth < 40, f"RSS grew {growth:.1f} MB over 100 cycles"
