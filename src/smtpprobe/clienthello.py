"""A hand-built TLS ClientHello and the ServerHello's answer, for what OpenSSL can no longer offer.

OpenSSL 3 has no RC4, 3DES or EXPORT suites and no SSLv3, so a real handshake cannot
ask for them. Whether a server *accepts* one only needs the ServerHello (RFC 5246
§7.4.1.3): send a ClientHello listing just those suites and read which one the server
picks, or its alert. Sans-IO: `client_hello` builds bytes, `server_choice` reads them.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Mapping

__all__ = [
    "RAW_CLASSES",
    "SSL3",
    "TLS12",
    "client_hello",
    "record_complete",
    "server_choice",
]

SSL3 = 0x0300
TLS12 = 0x0303
# IANA TLS cipher suite registry: code point -> OpenSSL name.
RAW_CLASSES: Mapping[str, Mapping[int, str]] = {
    "RC4": {
        0x0005: "RC4-SHA",
        0x0004: "RC4-MD5",
        0xC011: "ECDHE-RSA-RC4-SHA",
        0xC007: "ECDHE-ECDSA-RC4-SHA",
    },
    "3DES": {
        0x000A: "DES-CBC3-SHA",
        0xC012: "ECDHE-RSA-DES-CBC3-SHA",
        0xC008: "ECDHE-ECDSA-DES-CBC3-SHA",
        0x0016: "EDH-RSA-DES-CBC3-SHA",
    },
    "EXPORT": {
        0x0003: "EXP-RC4-MD5",
        0x0006: "EXP-RC2-CBC-MD5",
        0x0008: "EXP-DES-CBC-SHA",
        0x0014: "EXP-EDH-RSA-DES-CBC-SHA",
        0x0062: "EXP1024-DES-CBC-SHA",
        0x0064: "EXP1024-RC4-SHA",
    },
    # For the SSLv3 test: what an SSLv3 server would have.
    "SSLv3": {
        0x002F: "AES128-SHA",
        0x0035: "AES256-SHA",
        0x000A: "DES-CBC3-SHA",
        0x0005: "RC4-SHA",
        0xC013: "ECDHE-RSA-AES128-SHA",
        0xC009: "ECDHE-ECDSA-AES128-SHA",
    },
}
_SCSV = 0x00FF  # TLS_EMPTY_RENEGOTIATION_INFO_SCSV (RFC 5746 §3.3)
_GROUPS = (0x001D, 0x0017, 0x0018)  # x25519, secp256r1, secp384r1
# rsa_pkcs1 sha256/384/512/sha1, ecdsa sha256/384/sha1, rsa_pss_rsae sha256/384
_SIGNATURES = (0x0401, 0x0501, 0x0601, 0x0201, 0x0403, 0x0503, 0x0203, 0x0804, 0x0805)


def _vector(data: bytes, length_bytes: int) -> bytes:
    return len(data).to_bytes(length_bytes, "big") + data


def _extension(kind: int, body: bytes) -> bytes:
    return struct.pack("!H", kind) + _vector(body, 2)


def client_hello(suites: list[int], *, version: int = TLS12, sni: str | None = None) -> bytes:
    """One TLS record holding a ClientHello that offers exactly *suites* at *version*."""
    extensions = b""
    if version > SSL3:  # SSLv3 has no extensions
        if sni:
            name = sni.encode("ascii")
            extensions += _extension(0x0000, _vector(b"\x00" + _vector(name, 2), 2))
        groups = b"".join(struct.pack("!H", group) for group in _GROUPS)
        extensions += _extension(0x000A, _vector(groups, 2))
        extensions += _extension(0x000B, _vector(b"\x00", 1))  # uncompressed points
        signatures = b"".join(struct.pack("!H", sig) for sig in _SIGNATURES)
        extensions += _extension(0x000D, _vector(signatures, 2))
    body = (
        struct.pack("!H", version)
        + os.urandom(32)
        + b"\x00"
        + _vector(b"".join(struct.pack("!H", suite) for suite in [*suites, _SCSV]), 2)
        + b"\x01\x00"  # compression: null only
        + (_vector(extensions, 2) if extensions else b"")
    )
    handshake = b"\x01" + _vector(body, 3)
    # Record version 3.1 for TLS (what real clients send), 3.0 for the SSLv3 test.
    record_version = SSL3 if version == SSL3 else 0x0301
    return b"\x16" + struct.pack("!H", record_version) + _vector(handshake, 2)


def record_complete(received: bytes) -> bool:
    """True once *received* holds a whole first record (enough for `server_choice`)."""
    if len(received) < 5:
        return False
    return len(received) >= 5 + int.from_bytes(received[3:5], "big")


def server_choice(received: bytes) -> tuple[int, int] | None:
    """(version, cipher suite) from a ServerHello at the start of *received*; None for
    an alert, a closed connection, or anything else (the offer was not accepted)."""
    if not record_complete(received) or received[0] != 0x16:
        return None
    length = int.from_bytes(received[3:5], "big")
    body = received[5 : 5 + length]
    # handshake type 2 (ServerHello), 3-byte length, version, 32-byte random, session id
    if len(body) < 39 or body[0] != 0x02:
        return None
    version = int.from_bytes(body[4:6], "big")
    session_id_length = body[38]
    at = 39 + session_id_length
    if len(body) < at + 2:
        return None
    return version, int.from_bytes(body[at : at + 2], "big")
