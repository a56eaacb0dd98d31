"""A stock headless Chromium, driven through the DevTools protocol over a pipe.

``--remote-debugging-pipe`` (fd 3 in, fd 4 out, NUL-separated JSON) instead of a debugging port: the
browser can run in another network namespace than the test and still be driven, and it opens no port.
The switches are the machine's (headless, no sandbox as root, no background traffic, a fresh profile)
plus the fake camera; nothing that changes WebRTC's networking (no loopback candidates, mDNS on).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shutil
import signal
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
MAX_MESSAGE = 64 * 2**20


def chromium_switches(profile: Path, y4m: Path, extra: tuple[str, ...] = (), grant: bool = True) -> list[str]:
    """The command line of a stock Chromium with the fake camera reading ``y4m``; ``grant``: every page may use
    it (else the test grants or denies it per origin through CDP's ``Browser.setPermission``)."""
    return [
        "--headless",
        "--no-sandbox",  # root
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--disable-domain-reliability",
        "--no-default-browser-check",
        "--metrics-recording-only",
        f"--user-data-dir={profile}",
        *(["--use-fake-ui-for-media-stream"] if grant else ["--deny-permission-prompts"]),
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={y4m}",
        "--remote-debugging-pipe",
        "--window-size=1200,900",
        *extra,
        "about:blank",
    ]


class DevTools:
    """A minimal CDP client: calls on the browser, or on a page's flat session."""

    def __init__(self, reader: asyncio.StreamReader, write_fd: int):
        self._reader = reader
        self._write_fd = write_fd
        self._ids = itertools.count(1)

    async def call(self, method: str, session: str | None = None, **params) -> dict:
        msg_id = next(self._ids)
        message = {"id": msg_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._write_fd, json.dumps(message).encode() + b"\0")  # small: a blocking write is fine
        while True:
            reply = json.loads((await self._reader.readuntil(b"\0"))[:-1])
            if reply.get("id") == msg_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    async def open_page(self, url: str = "about:blank") -> Page:
        """A new tab (or the first one) attached as a page session."""
        targets = (await self.call("Target.getTargets"))["targetInfos"]
        blank = [t for t in targets if t["type"] == "page" and t["url"] == "about:blank" and not t["attached"]]
        target = (
            blank[0]["targetId"] if blank else (await self.call("Target.createTarget", url="about:blank"))["targetId"]
        )
        session = (await self.call("Target.attachToTarget", targetId=target, flatten=True))["sessionId"]
        page = Page(self, session)
        if url != "about:blank":
            await page.navigate(url)
        return page


class Page:
    """One tab."""

    def __init__(self, cdp: DevTools, session: str):
        self.cdp = cdp
        self.session = session

    async def call(self, method: str, **params) -> dict:
        return await self.cdp.call(method, self.session, **params)

    async def navigate(self, url: str) -> None:
        result = await self.call("Page.navigate", url=url)
        if result.get("errorText"):
            raise RuntimeError(f"cannot open {url}: {result['errorText']}")

    async def evaluate(self, expression: str):
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:80]}: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    async def until(self, expression: str, timeout: float, describe: str = "") -> None:
        """Wait until ``expression`` is truthy; on timeout fail with the page's state."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with contextlib.suppress(RuntimeError):  # the page may be between documents
                if await self.evaluate(expression):
                    return
            await asyncio.sleep(0.2)
        state = await self.evaluate(
            "JSON.stringify({state: window.reenactState, status: document.getElementById('status')?.textContent, "
            "message: document.getElementById('message')?.textContent})"
        )
        raise AssertionError(f"timed out waiting for {describe or expression}; page state {state}")


async def _stop_group(proc: asyncio.subprocess.Process) -> None:
    """SIGTERM the browser's whole process group, SIGKILL it after 10 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(proc.wait(), 10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    await proc.wait()
    await asyncio.sleep(0.2)  # let the killed helpers go before the profile is removed


@contextlib.asynccontextmanager
async def chromium(
    prefix: list[str], y4m: Path, extra: tuple[str, ...] = (), log: Path | None = None, grant: bool = True
) -> AsyncIterator[DevTools]:
    """Chromium run as ``prefix + [chromium, ...]`` (e.g. ``ip netns exec NS``), stopped on exit; its
    stderr goes to ``log`` when given; ``grant`` as in ``chromium_switches``."""
    assert CHROMIUM is not None
    to_browser_r, to_browser_w = os.pipe()
    from_browser_r, from_browser_w = os.pipe()
    # Chromium's pipe must be fds 3 and 4, whatever numbers os.pipe() gave: bash moves them there
    # (dash redirects one-digit fds only).
    move = f'exec "$@" 3<&{to_browser_r} 4>&{from_browser_w} {to_browser_r}<&- {from_browser_w}>&-'
    with tempfile.TemporaryDirectory(prefix="reenact-chromium-", ignore_cleanup_errors=True) as profile:
        argv = [*prefix, "bash", "-c", move, "bash", CHROMIUM, *chromium_switches(Path(profile), y4m, extra, grant)]
        try:
            with log.open("wb") if log else contextlib.nullcontext(asyncio.subprocess.DEVNULL) as stderr:
                proc = await asyncio.create_subprocess_exec(
                    *argv,
                    pass_fds=(to_browser_r, from_browser_w),
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=stderr,
                    start_new_session=True,
                )
        finally:
            os.close(to_browser_r)
            os.close(from_browser_w)
        reader = asyncio.StreamReader(limit=MAX_MESSAGE)
        loop = asyncio.get_running_loop()
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(from_browser_r, "rb", buffering=0)
        )
        try:
            yield DevTools(reader, to_browser_w)
        finally:
            await _stop_group(proc)
            transport.close()
            os.close(to_browser_w)
            shutil.rmtree(profile, ignore_errors=True)
