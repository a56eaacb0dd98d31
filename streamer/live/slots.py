"""Size-1 latest-wins slots between live producers and consumers; replaced items count as drops."""

from __future__ import annotations

import asyncio
import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class LatestSlot(Generic[T]):
    """Thread-safe slot: ``put`` replaces an unread item (a drop), ``get`` blocks for the newest one."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: T | None = None
        self._full = False
        self._closed = False
        self.dropped = 0

    def put(self, item: T) -> None:
        """Store ``item``; an item nobody took is dropped."""
        with self._cond:
            if self._full:
                self.dropped += 1
            self._item, self._full = item, True
            self._cond.notify()

    def get(self, timeout: float | None = None) -> T | None:
        """The newest item, or None when closed (or on timeout)."""
        with self._cond:
            self._cond.wait_for(lambda: self._full or self._closed, timeout)
            if not self._full:
                return None
            item, self._item, self._full = self._item, None, False
            return item

    def close(self) -> None:
        """Wake the consumer; later ``get`` calls return None once the slot is empty."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed


class AsyncLatestSlot(Generic[T]):
    """Event-loop slot: ``put`` (on the loop) replaces an unread item, ``await get()`` takes the newest."""

    def __init__(self) -> None:
        self._item: T | None = None
        self._ready = asyncio.Event()
        self.dropped = 0

    def put(self, item: T) -> None:
        """Store ``item``; call on the loop (``loop.call_soon_threadsafe(slot.put, item)`` from threads)."""
        if self._ready.is_set():
            self.dropped += 1
        self._item = item
        self._ready.set()

    async def get(self) -> T:
        """Wait for and take the newest item."""
        await self._ready.wait()
        self._ready.clear()
        item, self._item = self._item, None
        return item  # type: ignore[return-value]
