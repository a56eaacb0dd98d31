"""Small parts of the live path: slots, ICE restriction, control messages, serve's option checks."""

from __future__ import annotations

import asyncio
import threading

import pytest

from streamer.cli import main
from streamer.errors import InputError
from streamer.live.slots import AsyncLatestSlot, LatestSlot
from streamer.live.stream import Reanchor, SetPasteBack, SetSource
from streamer.webrtc.control import parse_control
from streamer.webrtc.ice import LoopbackConnection, candidate_hosts, is_loopback, rtc_configuration


def test_latest_slot_keeps_newest_and_counts_drops():
    slot: LatestSlot[int] = LatestSlot()
    for i in range(5):
        slot.put(i)
    assert slot.get(timeout=0) == 4 and slot.dropped == 4
    assert slot.get(timeout=0.01) is None
    got = []
    t = threading.Thread(target=lambda: got.append(slot.get()))
    t.start()
    slot.close()
    t.join(2)
    assert got == [None]


def test_async_slot():
    async def scenario():
        slot: AsyncLatestSlot[int] = AsyncLatestSlot()
        slot.put(1)
        slot.put(2)
        first = await slot.get()
        waiter = asyncio.create_task(slot.get())
        await asyncio.sleep(0)
        asyncio.get_running_loop().call_soon_threadsafe(slot.put, 3)
        return first, await asyncio.wait_for(waiter, 1), slot.dropped

    assert asyncio.run(scenario()) == (2, 3, 1)


def test_loopback_helpers():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("192.0.2.2") and not is_loopback("abc.local") and not is_loopback("0.0.0.0")
    assert rtc_configuration([]).iceServers == []  # never None: aiortc would add a public STUN server
    sdp = "a=candidate:1 1 udp 1 127.0.0.1 5000 typ host\r\na=candidate:2 1 udp 1 10.0.0.1 5001 typ host\r\n"
    assert candidate_hosts(sdp) == ["127.0.0.1", "10.0.0.1"]


def test_loopback_connection_gathers_and_accepts_loopback_only():
    import aioice

    async def scenario():
        conn = LoopbackConnection(ice_controlling=True)
        await conn.gather_candidates()
        hosts = [c.host for c in conn.local_candidates]
        for host in ("10.1.2.3", "abcd.local", "127.0.0.1"):
            cand = aioice.Candidate("1", 1, "udp", 1, host, 9999, "host")
            await conn.add_remote_candidate(cand)
        remote = [c.host for c in conn.remote_candidates]
        await conn.close()
        return hosts, remote

    hosts, remote = asyncio.run(scenario())
    assert hosts == ["127.0.0.1"] and remote == ["127.0.0.1"]


def test_parse_control(library):
    assert parse_control('{"type": "reanchor"}', library) == Reanchor()
    assert parse_control('{"type": "paste_back", "value": false}', library) == SetPasteBack(False)
    assert isinstance(parse_control('{"type": "source", "id": "default"}', library), SetSource)
    for bad in ("nope", "[]", '{"type": "paste_back", "value": 1}', '{"type": "x"}', '{"type": "source", "id": "z"}'):
        with pytest.raises(InputError):
            parse_control(bad, library)
    with pytest.raises(InputError):
        parse_control("x" * 5000, library)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["serve", "--host", "0.0.0.0"], "--token"),
        (["serve", "--ice-loopback-only", "--ice-server", "stun:stun.example.org"], "--ice-loopback-only"),
        (["serve", "--host", "10.0.0.5", "--token", "t", "--ice-loopback-only"], "loopback --host"),
        (["serve", "--cert", "/nonexistent/cert.pem", "--key", "/nonexistent/key.pem"], "no such file"),
        (["serve", "--cert", "cert.pem"], "--key"),
        (["serve", "--self-signed", "--cert", "a.pem", "--key", "b.pem"], "either --self-signed"),
        (["serve", "--host", "10.0.0.5", "--token", "t", "--ice-server", "http://x"], "stun:"),
        (["serve", "--max-streams", "0"], "--max-streams"),
    ],
)
def test_serve_refuses_unsafe_options(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_serve_command_starts_serves_and_stops(tmp_path):
    """``reenact serve --port 0 --cert --key`` prints its URL and the certificate's fingerprint, serves the page
    over HTTPS with the user's certificate, and exits 0 on SIGTERM."""
    import re
    import signal
    import ssl
    import subprocess
    import sys
    import urllib.request

    from streamer.webrtc.tls import load_certificate

    cert, key = _user_certificate(tmp_path)
    trust = ssl.create_default_context(cadata=cert.read_text())
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamer.cli", "serve", "--port", "0", "--cert", str(cert), "--key", str(key)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line, fingerprint = proc.stdout.readline(), proc.stdout.readline()
        match = re.search(r"serving on (https://127\.0\.0\.1:\d+)/", line)
        assert match, line
        assert load_certificate(cert, key).fingerprint in fingerprint
        with urllib.request.urlopen(match.group(1) + "/", timeout=10, context=trust) as resp:
            assert resp.status == 200 and b"reenact live" in resp.read()
        with urllib.request.urlopen(match.group(1) + "/static/app.js", timeout=10, context=trust) as resp:
            assert b"RTCPeerConnection" in resp.read()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_reenacted_track_sends_the_newest_frame_with_monotonic_timestamps():
    from fractions import Fraction

    import numpy as np
    from av import VideoFrame

    from streamer.webrtc.tracks import ReenactedTrack

    def frame(pts: int) -> VideoFrame:
        f = VideoFrame.from_ndarray(np.zeros((16, 16, 3), np.uint8), format="bgr24")
        f.pts, f.time_base = pts, Fraction(1, 90000)
        return f

    async def scenario() -> list[int]:
        track = ReenactedTrack()
        sent = []
        for batch in ((3000, 6000), (9000,), (6000, 9000, 12000), (15000,)):  # stale and repeated pts mixed in
            for pts in batch:
                track.offer(frame(pts))
            sent.append((await track.recv()).pts)
        assert track.out_of_order == 2 and track.slot.dropped == 1 and track.first_sent_pts == 6000
        return sent

    assert asyncio.run(scenario()) == [6000, 9000, 12000, 15000]


def _user_certificate(folder, host: str = "127.0.0.1"):
    """A PEM certificate and key as a user would bring them (made here with ``cryptography`` directly)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "user cert")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1234)
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def test_self_signed_certificate_names_the_host_and_prints_its_fingerprint():
    import base64
    import hashlib
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from streamer.webrtc.run import startup_lines
    from streamer.webrtc.server import ServerConfig
    from streamer.webrtc.tls import self_signed_certificate

    cert = self_signed_certificate(["10.1.2.3", "studio.lan"])
    parsed = x509.load_pem_x509_certificate(cert.pem)
    names = parsed.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("10.1.2.3") in names.get_values_for_type(x509.IPAddress)
    assert {"studio.lan", "localhost"} <= set(names.get_values_for_type(x509.DNSName))
    der = parsed.public_bytes(serialization.Encoding.DER)
    assert cert.fingerprint.replace(":", "") == hashlib.sha256(der).hexdigest().upper()
    spki = parsed.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert cert.spki_sha256 == base64.b64encode(hashlib.sha256(spki).digest()).decode()
    lines = startup_lines(ServerConfig(host="10.1.2.3", token="t", certificate=cert), "https://10.1.2.3:8443")
    assert lines[0].startswith("reenact: serving on https://10.1.2.3:8443/#token=TOKEN")
    assert cert.fingerprint in lines[1] and cert.spki_sha256 in lines[2]
    plain = startup_lines(ServerConfig(host="10.1.2.3", token="t"), "http://10.1.2.3:8080")
    assert "--self-signed" in plain[1]  # a camera beyond localhost needs HTTPS: the server says so


def test_bad_certificate_files_are_one_line_errors(tmp_path, capsys):
    cert_path, key_path = _user_certificate(tmp_path)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
    for cert, key in ((garbage, key_path), (cert_path, garbage), (key_path, cert_path)):
        assert main(["serve", "--cert", str(cert), "--key", str(key)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "not a usable PEM certificate" in err, err


@pytest.mark.parametrize("kind", ["user certificate", "self-signed"])
def test_https_serves_the_page(serve, tmp_path, kind):
    """The page and the API over HTTPS, with a certificate the client trusts (its PEM as the only CA)."""
    import ssl

    import aiohttp

    from streamer.webrtc.tls import load_certificate, self_signed_certificate

    cert = load_certificate(*_user_certificate(tmp_path)) if kind == "user certificate" else self_signed_certificate([])
    trust = ssl.create_default_context(cadata=cert.pem.decode())

    async def scenario():
        async with serve(certificate=cert) as (_, url), aiohttp.ClientSession() as http:
            async with http.get(f"{url}/", ssl=trust) as resp:
                page = resp.status, await resp.text()
            async with http.get(f"{url}/config", ssl=trust) as resp:
                config = await resp.json()
            with pytest.raises(aiohttp.ClientConnectorCertificateError):  # an untrusted client is refused
                await http.get(f"{url}/", ssl=ssl.create_default_context())
            return url, page, config

    url, (status, text), config = asyncio.run(scenario())
    assert url.startswith("https://127.0.0.1:") and status == 200 and "reenact live" in text
    assert config["iceServers"] == [] and config["iceLoopbackOnly"] is True


def test_default_ice_is_aiortcs_own_and_loopback_only_is_a_switch(serve):
    """By default peers gather on the machine's interfaces (aioice's Connection, no STUN server); only
    ``ice_loopback_only`` (``--ice-loopback-only``) swaps in the loopback-only connection, and only while serving."""
    import aioice
    import aiortc.rtcicetransport as rtcicetransport

    from streamer.webrtc.server import ServerConfig

    async def connection_class(**overrides):
        async with serve(**overrides):
            return rtcicetransport.Connection

    assert ServerConfig().ice_loopback_only is False and ServerConfig().ice_servers == ()
    assert asyncio.run(connection_class(ice_loopback_only=False)) is aioice.Connection
    assert asyncio.run(connection_class()) is LoopbackConnection  # the unit tests' fixture default
    assert rtcicetransport.Connection is aioice.Connection


def test_marker_jitter_buffer_releases_a_frame_at_its_last_packet():
    from aiortc.jitterbuffer import JitterBuffer
    from aiortc.rtp import RtpPacket

    from streamer.webrtc.jitter import MarkerJitterBuffer

    def packet(seq: int, timestamp: int, marker: bool) -> RtpPacket:
        p = RtpPacket(payload_type=96, marker=int(marker), sequence_number=seq, timestamp=timestamp)
        p._data = f"{seq};".encode()
        return p

    # frame 1000: packets 0-2, 2 marked, 1 late; frame 4000: 3-4, none marked (a sender without markers);
    # frames 7000 and 10000: one marked packet each
    stream = [(0, 1000, 0), (2, 1000, 1), (1, 1000, 0), (3, 4000, 0), (4, 4000, 0), (5, 7000, 1), (6, 10000, 1)]
    mine, aiortcs = MarkerJitterBuffer(capacity=128, is_video=True), JitterBuffer(capacity=128, is_video=True)
    released, released_by_aiortc = [], []
    for seq, timestamp, marker in stream:
        released.append(mine.add(packet(seq, timestamp, marker))[1])
        released_by_aiortc.append(aiortcs.add(packet(seq, timestamp, marker))[1])
    frames = [(f.timestamp, f.data) for f in released if f is not None]
    assert frames == [(1000, b"0;1;2;"), (4000, b"3;4;"), (7000, b"5;")]
    # frame 1000 once the late packet fills the gap; the unmarked 4000 when the next frame begins
    assert [f is not None for f in released] == [False, False, True, False, False, True, True]
    # aiortc's own buffer: the same frames, each only when the next frame's first packet arrives
    assert [(f.timestamp, f.data) for f in released_by_aiortc if f is not None] == frames
    assert [f is not None for f in released_by_aiortc] == [False, False, False, True, False, True, True]
