"""TLS test material: certificates built with ``cryptography`` and personas behind any context.

`build_certificate` makes the odd certificates real servers send (short RSA keys, SHA-1,
must-staple, self-signed); `tls_persona` serves a persona with a caller's `ssl.SSLContext`
(restricted protocols or ciphers) over STARTTLS or implicit TLS, in the test's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from tests.ports import ServerAddress, close_servers
from tests.servers import make_persona

__all__ = [
    "Built",
    "build_certificate",
    "scripted_starttls",
    "server_context",
    "serving",
    "tls_persona",
]

Built = tuple[bytes, bytes]  # (certificate PEM, key PEM)


def build_certificate(
    name: str = "localhost",
    *,
    rsa_bits: int | None = 2048,
    sha1_label: bool = False,
    must_staple: bool = False,
    sans: tuple[str, ...] = ("localhost",),
) -> Built:
    """A self-signed certificate for *name* (RSA of *rsa_bits*, or EC P-256 when None).

    cryptography no longer signs with SHA-1: *sha1_label* rewrites the signature
    algorithm of an RSA/SHA-256 certificate to sha1WithRSAEncryption (1.2.840.113549.1.1.5
    for …1.11, same length), as a server would send it; its signature no longer verifies.
    """
    key: Any = (
        rsa.generate_private_key(65537, rsa_bits)
        if rsa_bits
        else ec.generate_private_key(ec.SECP256R1())
    )
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(0xC0FFEE)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=90))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in sans]), False)
    )
    if must_staple:
        builder = builder.add_extension(
            x509.TLSFeature([x509.TLSFeatureType.status_request]), False
        )
    cert = builder.sign(key, hashes.SHA256())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    if not sha1_label:
        return cert.public_bytes(serialization.Encoding.PEM), key_pem
    der = cert.public_bytes(serialization.Encoding.DER)
    der = der.replace(bytes.fromhex("2a864886f70d01010b"), bytes.fromhex("2a864886f70d010105"))
    return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM), key_pem


def server_context(
    cert: trustme.LeafCert | Built,
    tmp: Path,
    *,
    minimum: ssl.TLSVersion | None = None,
    maximum: ssl.TLSVersion | None = None,
    ciphers: str | None = None,
) -> ssl.SSLContext:
    """A server context with *cert*, limited to the given versions and OpenSSL cipher string.

    TLS 1.0/1.1 need ``@SECLEVEL=0`` in *ciphers* with OpenSSL 3 (they sign with SHA-1).
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if ciphers is not None:  # first: @SECLEVEL=0 is what lets a 1024-bit key load
        context.set_ciphers(ciphers)
    if isinstance(cert, trustme.LeafCert):
        cert.configure_cert(context)
    else:
        (tmp / "cert.pem").write_bytes(cert[0])
        (tmp / "key.pem").write_bytes(cert[1])
        context.load_cert_chain(tmp / "cert.pem", tmp / "key.pem")
    with warnings.catch_warnings():  # ssl deprecates TLSv1/1.1: these servers offer them
        warnings.simplefilter("ignore", DeprecationWarning)
        if minimum is not None:
            context.minimum_version = minimum
        if maximum is not None:
            context.maximum_version = maximum
    return context


@pytest.fixture
async def tls_persona() -> AsyncIterator[Callable[..., Awaitable[ServerAddress]]]:
    """Factory: ``await tls_persona(context, tls="starttls"|"implicit", persona="hidden")``."""
    loop = asyncio.get_running_loop()
    servers: list[asyncio.Server] = []
    protocols: list[Any] = []

    async def start(
        context: ssl.SSLContext, *, tls: str = "starttls", persona: str = "hidden"
    ) -> ServerAddress:
        def factory() -> asyncio.Protocol:
            protocol = make_persona(
                persona, loop=loop, tls_context=context if tls == "starttls" else None
            )
            protocols.append(protocol)
            return protocol

        server = await loop.create_server(
            factory,
            host="127.0.0.1",
            port=0,
            family=socket.AF_INET,
            ssl=context if tls == "implicit" else None,
        )
        servers.append(server)
        return ServerAddress("127.0.0.1", server.sockets[0].getsockname()[1])

    yield start
    await close_servers(servers, protocols)


Serve = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def serving(serve: Serve) -> AsyncIterator[ServerAddress]:
    """A scripted server on 127.0.0.1 running *serve* per connection, closed afterwards."""
    server = await asyncio.start_server(serve, "127.0.0.1", 0, family=socket.AF_INET)
    try:
        yield ServerAddress("127.0.0.1", server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


async def scripted_starttls(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, name: str
) -> None:
    """Greet as *name*, answer EHLO with STARTTLS, and 220 to STARTTLS."""
    writer.write(f"220 {name} ESMTP\r\n".encode())
    while (line := await reader.readline()) and not line.startswith(b"STARTTLS"):
        writer.write(f"250-{name}\r\n250 STARTTLS\r\n".encode())
    writer.write(b"220 Ready to start TLS\r\n")
    await writer.drain()
