"""HTTPS for ``reenact serve``: a user's certificate (``--cert``/``--key``) or one made in memory (``--self-signed``).

Browsers give ``getUserMedia`` (the camera) only to secure origins: ``https://`` pages, or ``http://`` on
localhost. A phone or another computer on the LAN therefore needs HTTPS. The self-signed certificate is
made with ``cryptography`` (installed with aiortc); its SHA-256 fingerprint is printed so the user can
check the one the browser shows before accepting it, and its SPKI hash lets Chromium pin it
(``--ignore-certificate-errors-spki-list``).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from streamer.errors import InputError

SELF_SIGNED_DAYS = 30


@dataclass(frozen=True)
class ServerCertificate:
    """A loaded certificate: the SSL context to serve with and what to tell the user about it."""

    context: ssl.SSLContext
    fingerprint: str  # SHA-256 of the DER certificate, colon-separated hex (what browsers show)
    spki_sha256: str  # base64 SHA-256 of the public key (Chromium's --ignore-certificate-errors-spki-list)
    self_signed: bool
    pem: bytes  # the certificate (public part), e.g. for a client to trust it


def _describe(cert_pem: bytes) -> tuple[str, str]:
    cert = x509.load_pem_x509_certificate(cert_pem)
    digest = cert.fingerprint(hashes.SHA256()).hex().upper()
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2)), base64.b64encode(
        hashlib.sha256(spki).digest()
    ).decode()


def load_certificate(cert_path: Path, key_path: Path) -> ServerCertificate:
    """The user's PEM certificate (chain) and private key; ``InputError`` when either cannot be used."""
    for flag, path in (("--cert", cert_path), ("--key", key_path)):
        if not path.is_file():
            raise InputError(f"{flag} {path}: no such file")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(str(cert_path), str(key_path))
        pem = cert_path.read_bytes()
        fingerprint, spki = _describe(pem)
    except (ssl.SSLError, ValueError, OSError) as exc:
        why = f"--cert {cert_path} / --key {key_path}: not a usable PEM certificate and key ({exc})"
        raise InputError(why) from None
    return ServerCertificate(context, fingerprint, spki, self_signed=False, pem=pem)


def _subject_names(hosts: list[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    for host in hosts:
        try:
            name: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
        except ValueError:
            name = x509.DNSName(host)
        if name not in names:
            names.append(name)
    return names


def self_signed_certificate(hosts: list[str]) -> ServerCertificate:
    """A fresh EC P-256 certificate for ``hosts`` (plus localhost), valid for ``SELF_SIGNED_DAYS``; never on disk."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "reenact serve (self-signed)")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=SELF_SIGNED_DAYS))
        .add_extension(x509.SubjectAlternativeName(_subject_names(hosts)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    # Hand-written detour: ssl.SSLContext loads a certificate only from files, so the PEMs pass through a
    # private (0700) temporary folder for the one call and are removed at once.
    with tempfile.TemporaryDirectory(prefix="reenact-tls-") as tmp:
        cert_file, key_file = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
        cert_file.write_bytes(cert_pem)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key_pem)
        context.load_cert_chain(str(cert_file), str(key_file))
    fingerprint, spki = _describe(cert_pem)
    return ServerCertificate(context, fingerprint, spki, self_signed=True, pem=cert_pem)
