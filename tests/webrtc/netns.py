"""Network namespaces a test makes itself: a small LAN that no packet can leave.

Two namespaces ("hosts") are joined by one veth pair and nothing else: each has its loopback and one
LAN-like interface with a test-chosen address, routes to that subnet and to multicast (mDNS) on it and
none outside, and the root namespace never sees the
pair (it is created inside the first namespace and moved into the second). Everything is deleted on
exit, even after a failure; processes started in a namespace (``ip netns exec``) must be gone by then.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

#: The test LAN: a /24 of 10.0.0.0/8 that the namespaces alone know.
SUBNET = "10.231.7"
MULTICAST = "224.0.0.0/4"


@dataclass(frozen=True)
class Host:
    """One namespace of the LAN."""

    namespace: str
    address: str
    interface: str

    def command(self, *argv: str) -> list[str]:
        """``argv`` run inside this host's namespace."""
        return ["ip", "netns", "exec", self.namespace, *argv]


def _ip(*argv: str) -> None:
    subprocess.run(["ip", *argv], check=True, capture_output=True, text=True, timeout=20)


def unavailable_reason() -> str | None:
    """Why namespaces cannot be made here (None when they can)."""
    if shutil.which("ip") is None:
        return "network namespaces need the 'ip' command (iproute2)"
    if os.geteuid() != 0:
        return "network namespaces need root (ip netns add)"
    probe = f"reenact-probe-{os.getpid()}"
    try:
        _ip("netns", "add", probe)
    except subprocess.CalledProcessError as exc:
        return f"cannot make a network namespace: {exc.stderr.strip()}"
    finally:
        subprocess.run(["ip", "netns", "del", probe], capture_output=True, timeout=20)
    return None


@contextlib.contextmanager
def lan(tag: str) -> Iterator[tuple[Host, Host]]:
    """Two hosts, ``SUBNET.1`` and ``SUBNET.2`` (/24), joined by a veth pair; deleted on exit."""
    names = [f"reenact-{tag}-{os.getpid()}-{i}" for i in (1, 2)]
    hosts = (Host(names[0], f"{SUBNET}.1", "lan0"), Host(names[1], f"{SUBNET}.2", "lan1"))
    try:
        for host in hosts:
            _ip("netns", "add", host.namespace)
            _ip("-n", host.namespace, "link", "set", "lo", "up")
        _ip("-n", names[0], "link", "add", "lan0", "type", "veth", "peer", "name", "lan1", "netns", names[1])
        for host in hosts:
            _ip("-n", host.namespace, "addr", "add", f"{host.address}/24", "dev", host.interface)
            _ip("-n", host.namespace, "link", "set", host.interface, "up")
            # multicast stays on the LAN as on a real one: browsers announce mDNS names, aioice asks for them
            _ip("-n", host.namespace, "route", "add", MULTICAST, "dev", host.interface)
        yield hosts
    finally:
        for name in names:
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=20)


def interfaces(host: Host) -> list[str]:
    """The interface names of a host (to check that nothing but lo and the LAN pair is there)."""
    out = subprocess.run(host.command("ip", "-o", "link", "show"), check=True, capture_output=True, text=True)
    return sorted(line.split(":")[1].strip().split("@")[0] for line in out.stdout.splitlines())


def routes(host: Host) -> list[str]:
    """The host's IPv4 routes: its LAN's subnet and multicast on it; a packet for anywhere else cannot even be sent."""
    out = subprocess.run(host.command("ip", "-4", "route", "show"), check=True, capture_output=True, text=True)
    return [line.split()[0] for line in out.stdout.splitlines()]
