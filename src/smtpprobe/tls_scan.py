"""``--tls-scan``: which TLS versions and weak cipher classes a server accepts.

One fresh connection per test (STARTTLS or implicit TLS, as the probe did), a few at a
time, all inside the probe's deadline. Each test offers exactly one thing — one protocol
version, or one class of TLS 1.2 suites — and a finished handshake means the server
accepts it. What this OpenSSL cannot offer is reported as untested, never as refused.
"""

from __future__ import annotations

import asyncio
import ssl
import warnings
from dataclasses import dataclass
from time import perf_counter

from smtpprobe.errors import ProbeTLSError, SMTPProbeError
from smtpprobe.report import TlsScan
from smtpprobe.tls import load_client_certificate
from smtpprobe.wire import SMTPWire

__all__ = ["CIPHER_CLASSES", "PROTOCOLS", "ScanTarget", "scan"]

PROTOCOLS = {
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}
# Classes of TLS 1.2 suites, as OpenSSL cipher strings. aNULL…3DES are weak when accepted
# (RFC 7465 RC4, RFC 9325 §4.1); CBC is weak only when AEAD is refused ("CBC-only");
# FS refused means no forward secrecy on TLS 1.2; kRSA accepted is noted, not judged.
CIPHER_CLASSES = {
    "aNULL": "aNULL",
    "NULL": "eNULL:!aNULL",
    "EXPORT": "EXPORT",
    "RC4": "RC4",
    "3DES": "3DES",
    "CBC": "AES:CAMELLIA:ARIA:!AESGCM:!AESCCM:!ARIAGCM:!aNULL:!eNULL",
    "AEAD": "AESGCM:CHACHA20:AESCCM:ARIAGCM:!aNULL:!eNULL",
    "FS": "ECDHE:DHE:!aNULL:!eNULL",
    "kRSA": "kRSA:!aNULL:!eNULL",
}
# SSLv2/SSLv3 are compiled out of OpenSSL 3 (and Python's ssl refuses them).
ALWAYS_UNTESTED = ("SSLv2", "SSLv3")
# A server that turns a connection away (421 greeting, reset before the banner) is asked
# again once, alone, after this pause: postscreen and Exim's per-host limits do that.
RETRY_PAUSE = 1.0


@dataclass(frozen=True, slots=True)
class ScanTarget:
    """Where and how to connect for the scan (the address the probe reached)."""

    address: str
    port: int
    implicit: bool
    sni: str | None
    family: int = 0
    helo: str = "smtpprobe.invalid"
    client_cert: str | None = None
    client_key: str | None = None


class _Throttled(Exception):
    """The server turned the connection away before TLS: try again later."""


class _NoStartTls(Exception):
    """STARTTLS was refused for good (a 5xx reply)."""


def _context(target: ScanTarget, version: ssl.TLSVersion | None,
             ciphers: str | None) -> ssl.SSLContext | None:
    """A non-verifying client context offering one version or one TLS 1.2 class; None
    when this OpenSSL cannot offer it."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    low = high = version or ssl.TLSVersion.TLSv1_2
    try:
        # SECLEVEL 0: TLS 1.0/1.1 and weak suites are exactly what we must be able to offer.
        context.set_ciphers(f"{ciphers or 'ALL:COMPLEMENTOFALL'}:@SECLEVEL=0")
        with warnings.catch_warnings():  # ssl deprecates TLSv1/1.1: we use them on purpose
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version, context.maximum_version = low, high
    except (ssl.SSLError, ValueError):
        return None
    if version is not None and context.maximum_version != version:
        return None
    if target.client_cert is not None:
        load_client_certificate(context, target.client_cert, target.client_key)
    return context


async def _handshake(target: ScanTarget, context: ssl.SSLContext, timeout: float
                     ) -> tuple[str, str]:
    """(version, cipher) of a handshake on a fresh connection.

    :raises ProbeTLSError: the server refused the handshake.
    :raises _Throttled: the server turned the connection away before TLS.
    :raises _NoStartTls: STARTTLS refused with a 5xx reply.
    :raises SMTPProbeError: anything else (timeout, STARTTLS refused …).
    """
    wire = SMTPWire()
    try:
        await wire.connect(target.address, target.port, family=target.family, timeout=timeout)
        if not target.implicit:
            banner = await wire.read_reply(timeout)
            if banner.code != 220:
                raise _Throttled(f"{banner.code}")
            await wire.command(b"EHLO " + target.helo.encode(), timeout)
            reply = await wire.command(b"STARTTLS", timeout)
            if reply.klass == 4:
                raise _Throttled(f"STARTTLS {reply.code}")
            if reply.code != 220:
                raise _NoStartTls(f"STARTTLS {reply.code}")
        await wire.upgrade(context, target.sni, timeout)
        ssl_object = wire.ssl_object()
        cipher = ssl_object.cipher() if ssl_object is not None else None
        version = ssl_object.version() if ssl_object is not None else None
        return version or "", cipher[0] if cipher else ""
    finally:
        wire.close()
        await wire.wait_closed()


async def scan(target: ScanTarget, *, deadline: float, concurrency: int = 4) -> TlsScan:
    """Run every test against *target*, at most *concurrency* connections at once, and
    stop by the loop time *deadline* (untested what did not finish)."""
    started = perf_counter()
    tests: dict[str, ssl.SSLContext] = {}
    untested = list(ALWAYS_UNTESTED)
    for name, version in PROTOCOLS.items():
        context = _context(target, version, None)
        if context is None:
            untested.append(name)
        else:
            tests[name] = context
    for name, ciphers in CIPHER_CLASSES.items():
        context = _context(target, None, ciphers)
        if context is None:
            untested.append(name)
        else:
            tests[f"class:{name}"] = context
    results: dict[str, str | bool | None] = {}
    errors: list[str] = []
    limit = asyncio.Semaphore(max(1, concurrency))
    loop = asyncio.get_running_loop()

    async def run(name: str, context: ssl.SSLContext, alone: bool) -> bool:
        """Record one test's outcome; False when the server throttled it."""
        async with limit:
            left = deadline - loop.time()
            if left <= 0:
                return True
            try:
                version, cipher = await _handshake(target, context, left)
            except ProbeTLSError:
                results[name] = False
            except _Throttled as exc:
                if not alone:
                    return False
                errors.append(f"{name}: turned away ({exc})")
            except _NoStartTls as exc:
                errors.append(f"{name}: {exc}")
            except (SMTPProbeError, OSError) as exc:
                errors.append(f"{name}: {type(exc).__name__}")
            else:
                results[name] = cipher if name.startswith("class:") else version == name
            return True

    try:
        async with asyncio.timeout_at(deadline):
            done = await asyncio.gather(*(run(n, c, False) for n, c in tests.items()))
            for (name, context), finished in zip(tests.items(), done, strict=True):
                if not finished:  # politely, one at a time, after a pause
                    await asyncio.sleep(RETRY_PAUSE)
                    await run(name, context, True)
    except TimeoutError:
        errors.append("deadline")
    return TlsScan(
        protocols={name: _flag(results.get(name)) for name in PROTOCOLS},
        weak_ciphers={name: _suite(results.get(f"class:{name}")) for name in CIPHER_CLASSES},
        untested=tuple(untested),
        errors=tuple(errors),
        elapsed=perf_counter() - started,
        connections=len(tests),
    )


def _flag(result: str | bool | None) -> bool | None:
    return result if isinstance(result, bool) else None


def _suite(result: str | bool | None) -> str | None:
    if result is False:
        return ""
    return result if isinstance(result, str) else None
