"""ICE without surprises: no STUN/TURN unless configured; loopback-only only when asked for.

aiortc adds a public STUN server when ``iceServers`` is None, so every peer here gets an explicit list
(empty by default: the product must work on a LAN without internet).

By default ICE is aiortc's own: aioice gathers host candidates on every interface except 127.0.0.1
(``aioice.ice.get_host_addresses``), accepts the browser's host candidates, resolves its mDNS ``.local``
ones (aioice >= 0.9) and forms peer-reflexive pairs from its connectivity checks. That is what a stock
browser needs: it never offers loopback candidates, and it may hide its own addresses behind mDNS names;
when a name does not resolve, the browser's checks to our host candidates still make a peer-reflexive pair.

``loopback_ice()`` (``reenact serve --ice-loopback-only``, for test machines that allow only loopback
traffic) swaps the name aiortc builds its ``aioice.Connection`` by (``aiortc.rtcicetransport.Connection``)
for ``LoopbackConnection``, which gathers on 127.0.0.1 only, ignores remote candidates that are not
loopback addresses (mDNS names included, so no multicast query is sent) and ignores connectivity checks
from anything but loopback (so no peer-reflexive pair is formed). The swap is process-wide: it covers
every peer of the process (the server and an in-process test client).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
from collections.abc import Iterator
from typing import Any

import aioice
import aiortc.rtcicetransport as rtcicetransport
from aiortc import RTCConfiguration, RTCIceServer

log = logging.getLogger(__name__)

LOOPBACK_V4 = "127.0.0.1"


def is_loopback(host: str) -> bool:
    """True for a loopback IP literal (127.0.0.0/8, ::1) or ``localhost``; False for names and others."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class LoopbackConnection(aioice.Connection):
    """An ``aioice.Connection`` that never sends a packet to a non-loopback address."""

    async def get_component_candidates(self, component: int, addresses: list[str], timeout: int = 5) -> list[Any]:
        return await super().get_component_candidates(component, [LOOPBACK_V4], timeout)

    async def add_remote_candidate(self, remote_candidate: aioice.Candidate | None) -> None:
        if remote_candidate is not None and not is_loopback(remote_candidate.host):
            log.debug("ignoring non-loopback remote candidate %s", remote_candidate.host)
            return
        await super().add_remote_candidate(remote_candidate)

    def request_received(self, message: Any, addr: tuple[str, int], protocol: Any) -> None:
        if not is_loopback(addr[0]):
            log.debug("ignoring connectivity check from %s", addr[0])
            return
        super().request_received(message, addr, protocol)


@contextlib.contextmanager
def loopback_ice() -> Iterator[None]:
    """Within the block, every new aiortc peer of this process uses ``LoopbackConnection``."""
    saved = rtcicetransport.Connection
    rtcicetransport.Connection = LoopbackConnection  # type: ignore[misc]
    try:
        yield
    finally:
        rtcicetransport.Connection = saved  # type: ignore[misc]


def rtc_configuration(ice_servers: list[str]) -> RTCConfiguration:
    """An ``RTCConfiguration`` with exactly these STUN/TURN URLs (none: host candidates only)."""
    return RTCConfiguration(iceServers=[RTCIceServer(urls=url) for url in ice_servers])


def candidate_hosts(sdp: str) -> list[str]:
    """The connection addresses of the ``a=candidate`` lines of an SDP."""
    hosts = []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            parts = line.split()
            if len(parts) > 4:
                hosts.append(parts[4])
    return hosts
