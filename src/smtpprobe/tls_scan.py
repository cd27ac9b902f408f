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
from collections.abc import Mapping
from dataclasses import dataclass
from time import perf_counter

from smtpprobe.certificate import chain_certificate
from smtpprobe.clienthello import (
    RAW_CLASSES,
    SSL3,
    TLS12,
    client_hello,
    record_complete,
    server_choice,
)
from smtpprobe.errors import ProbeTLSError, SMTPProbeError
from smtpprobe.report import TlsScan
from smtpprobe.tls import load_client_certificate, presented_chain
from smtpprobe.wire import SMTPWire

__all__ = ["CIPHER_CLASSES", "PROTOCOLS", "RawOffer", "ScanTarget", "scan"]

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
# SSLv2 is compiled out of OpenSSL 3 and its hello is another format: never tested.
# SSLv3, RC4, 3DES and EXPORT, when OpenSSL cannot offer them, are asked for with a
# hand-built ClientHello (clienthello.py): only the ServerHello's choice is read.
ALWAYS_UNTESTED = ("SSLv2",)
_VERSION_NAMES = {SSL3: "SSLv3", 0x0301: "TLSv1", 0x0302: "TLSv1.1", TLS12: "TLSv1.2"}
# Tests a server turned away (a 4xx greeting: postscreen, Exim's smtp_accept_max_per_host)
# are asked again after this pause, one connection at a time.
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


@dataclass(frozen=True, slots=True)
class RawOffer:
    """A hand-built ClientHello offering *suites* (code point -> name) at *version*."""

    suites: Mapping[int, str]
    version: int = TLS12


class _Throttled(Exception):
    """The server turned the connection away before TLS: try again later."""


class _NoStartTls(Exception):
    """No TLS to be had on this connection: STARTTLS refused (454 TLS not available, a
    5xx) or a greeting other than 220 or 4xx."""


def _context(
    target: ScanTarget, version: ssl.TLSVersion | None, ciphers: str | None
) -> ssl.SSLContext | None:
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


async def _open(target: ScanTarget, timeout: float) -> SMTPWire:
    """A fresh connection, ready for a TLS handshake (after ``220`` to STARTTLS).

    :raises _Throttled: the server turned the connection away before TLS.
    :raises _NoStartTls: STARTTLS refused (454 TLS not available, 5xx), or a 5xx greeting.
    :raises SMTPProbeError: anything else (refused, timeout …).
    """
    wire = SMTPWire()
    try:
        await wire.connect(target.address, target.port, family=target.family, timeout=timeout)
        if not target.implicit:
            banner = await wire.read_reply(timeout)
            if banner.klass == 4:  # 421: too many connections, try later (RFC 5321 §3.8)
                raise _Throttled(f"{banner.code}")
            if banner.code != 220:
                raise _NoStartTls(f"greeting {banner.code}")
            await wire.command(b"EHLO " + target.helo.encode(), timeout)
            reply = await wire.command(b"STARTTLS", timeout)
            # 454 "TLS not available" is the server's state, not throttling: no retry.
            if reply.code != 220:
                raise _NoStartTls(f"STARTTLS {reply.code}")
    except BaseException:
        wire.close()
        await wire.wait_closed()
        raise
    return wire


async def _handshake(
    target: ScanTarget, offer: ssl.SSLContext | RawOffer, timeout: float
) -> tuple[str, str, tuple[bytes, ...]]:
    """(version, cipher, chain as sent) the server chose for *offer* on a fresh connection
    (no chain from a hand-built hello).

    :raises ProbeTLSError: the server refused the offer.
    :raises _Throttled, _NoStartTls, SMTPProbeError: as `_open`.
    """
    wire = await _open(target, timeout)
    try:
        if isinstance(offer, RawOffer):
            hello = client_hello(list(offer.suites), version=offer.version, sni=target.sni)
            choice = server_choice(await wire.raw_exchange(hello, record_complete, timeout))
            if choice is None or choice[1] not in offer.suites:
                raise ProbeTLSError(key="error_tls_failed", params={"reason": "refused"})
            return _VERSION_NAMES.get(choice[0], hex(choice[0])), offer.suites[choice[1]], ()
        await wire.upgrade(offer, target.sni, timeout)
        ssl_object = wire.ssl_object()
        cipher = ssl_object.cipher() if ssl_object is not None else None
        version = ssl_object.version() if ssl_object is not None else None
        chain = presented_chain(ssl_object) if ssl_object is not None else ()
        return version or "", cipher[0] if cipher else "", chain
    finally:
        wire.close()
        await wire.wait_closed()


async def scan(
    target: ScanTarget, *, deadline: float, concurrency: int = 4, step_timeout: float = 10.0
) -> TlsScan:
    """Run every test against *target*, at most *concurrency* connections at once, each
    step (connect, reply, handshake) within *step_timeout*, and stop by the loop time
    *deadline* (what did not finish is neither accepted nor refused)."""
    started = perf_counter()
    tests: dict[str, ssl.SSLContext | RawOffer] = {"SSLv3": RawOffer(RAW_CLASSES["SSLv3"], SSL3)}
    untested = list(ALWAYS_UNTESTED)
    for name, version in PROTOCOLS.items():
        context = _context(target, version, None)
        if context is None:
            untested.append(name)
        else:
            tests[name] = context
    for name, ciphers in CIPHER_CLASSES.items():
        offer = _context(target, None, ciphers) or (
            RawOffer(RAW_CLASSES[name]) if name in RAW_CLASSES else None
        )
        if offer is None:
            untested.append(name)
        else:
            tests[f"class:{name}"] = offer
    results: dict[str, str | bool | None] = {}
    errors: list[str] = []
    chains: list[tuple[bytes, ...]] = []
    limit = asyncio.Semaphore(max(1, concurrency))
    loop = asyncio.get_running_loop()

    async def run(name: str, offer: ssl.SSLContext | RawOffer, alone: bool) -> bool:
        """Record one test's outcome; False when the server throttled it."""
        async with limit:
            left = deadline - loop.time()
            if left <= 0:
                return True
            try:
                version, cipher, sent = await _handshake(target, offer, min(left, step_timeout))
            except ProbeTLSError:
                results[name] = False
            except _Throttled as exc:
                if alone:
                    errors.append(f"{name}: turned away ({exc})")
                return False
            except _NoStartTls as exc:
                errors.append(f"{name}: {exc}")
            except (SMTPProbeError, OSError) as exc:
                errors.append(f"{name}: {type(exc).__name__}")
            else:
                results[name] = cipher if name.startswith("class:") else version == name
                if sent:
                    chains.append(sent)
            return True

    try:
        async with asyncio.timeout_at(deadline):
            done = await asyncio.gather(*(run(n, c, False) for n, c in tests.items()))
            throttled = [
                (name, offer)
                for (name, offer), finished in zip(tests.items(), done, strict=True)
                if not finished
            ]
            if throttled:  # after a pause, one at a time
                await asyncio.sleep(RETRY_PAUSE)
            for index, (name, offer) in enumerate(throttled):
                if not await run(name, offer, True):  # turned away again: stop asking
                    errors.extend(
                        f"{rest}: not asked (turned away)" for rest, _ in throttled[index + 1 :]
                    )
                    break
    except TimeoutError:
        errors.append("deadline")
    return TlsScan(
        protocols={name: _flag(results.get(name)) for name in ("SSLv3", *PROTOCOLS)},
        weak_ciphers={name: _suite(results.get(f"class:{name}")) for name in CIPHER_CLASSES},
        untested=tuple(untested),
        errors=tuple(errors),
        elapsed=perf_counter() - started,
        connections=len(tests),
        chain=tuple(chain_certificate(der) for der in (chains[0] if chains else ())),
    )


def _flag(result: str | bool | None) -> bool | None:
    return result if isinstance(result, bool) else None


def _suite(result: str | bool | None) -> str | None:
    if result is False:
        return ""
    return result if isinstance(result, str) else None
