"""Helpers shared by the live-path tests and their subprocess probes."""

from __future__ import annotations

import asyncio
import time


async def until(predicate, timeout: float, every: float = 0.1) -> bool:
    """Poll ``predicate`` every ``every`` s until it holds or ``timeout`` seconds pass; its last value."""
    end = time.monotonic() + timeout
    while not predicate() and time.monotonic() < end:
        await asyncio.sleep(every)
    return predicate()
