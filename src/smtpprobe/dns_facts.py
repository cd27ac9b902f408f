"""DNS look-ups for the mail TLS policies: TXT, addresses, and TLSA with the AD bit.

Every query asks with the AD flag (RFC 6840 §5.7), so that a validating resolver says
whether the answer was DNSSEC-validated. The check trusts that resolver: smtpprobe does
not validate DNSSEC itself. Nothing raises; a failure is returned as a short key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import dns.asyncresolver
    import dns.resolver

__all__ = ["Answer", "Tlsa", "TlsaLookup", "TxtLookup", "addresses", "query", "tlsa", "txt"]


@dataclass(frozen=True, slots=True)
class Answer:
    """Records as text (empty for NXDOMAIN/NODATA), the AD bit, or ``failed``."""

    records: tuple[object, ...] = ()
    authenticated: bool = False
    failed: str = ""


def _asking(
    given: dns.asyncresolver.Resolver | None, timeout: float
) -> dns.asyncresolver.Resolver | None:
    """A resolver like *given* (or the system's) that sets AD in its queries; None when
    the system has no resolver configured."""
    import dns.asyncresolver
    import dns.flags
    import dns.resolver

    try:
        resolver = dns.asyncresolver.Resolver(configure=given is None)
    except dns.resolver.NoResolverConfiguration:
        return None
    if given is not None:
        resolver.nameservers = given.nameservers
    resolver.flags = dns.flags.RD | dns.flags.AD
    resolver.use_edns(0, 0, 1232)
    resolver.lifetime = resolver.timeout = timeout
    return resolver


async def query(
    name: str, rdtype: str, given: dns.asyncresolver.Resolver | None, timeout: float
) -> Answer:
    """Ask for *rdtype* at *name* (absolute, no search list)."""
    import dns.exception
    import dns.flags
    import dns.resolver

    resolver = _asking(given, timeout)
    if resolver is None:
        return Answer(failed="no-resolver")
    try:
        answer: dns.resolver.Answer = await resolver.resolve(
            name.rstrip(".") + ".", rdtype, search=False
        )
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return Answer()
    except dns.exception.Timeout:
        return Answer(failed="timeout")
    except dns.resolver.NoNameservers:
        return Answer(failed="servfail")
    except dns.exception.DNSException as exc:
        return Answer(failed=type(exc).__name__)
    flags = answer.response.flags
    return Answer(tuple(answer), bool(flags & dns.flags.AD))


@dataclass(frozen=True, slots=True)
class TxtLookup:
    """The TXT strings at ``name`` (each record's strings joined, RFC 8461 §3.1), or the
    DNS failure (``failed``: ``timeout``, ``servfail`` …); NXDOMAIN and NODATA give ()."""

    name: str
    texts: tuple[str, ...] = ()
    failed: str = ""


async def txt(name: str, resolver: dns.asyncresolver.Resolver | None, timeout: float) -> TxtLookup:
    """The TXT records at *name*, each record's strings joined."""
    found = await query(name, "TXT", resolver, timeout)
    texts = tuple(
        b"".join(getattr(r, "strings", ())).decode("utf-8", "replace") for r in found.records
    )
    return TxtLookup(name, texts, found.failed)


async def addresses(
    name: str, resolver: dns.asyncresolver.Resolver | None, timeout: float
) -> tuple[str, ...]:
    """IPv4 then IPv6 addresses of *name*; () when there are none or DNS failed."""
    found: list[str] = []
    for rdtype in ("A", "AAAA"):
        answer = await query(name, rdtype, resolver, timeout)
        found += [str(getattr(r, "address", "")) for r in answer.records]
    return tuple(found)


@dataclass(frozen=True, slots=True)
class Tlsa:
    """One TLSA record (RFC 6698 §2.1): usage, selector, matching type, data."""

    usage: int
    selector: int
    mtype: int
    data: bytes

    def __str__(self) -> str:
        return f"{self.usage} {self.selector} {self.mtype} {self.data.hex()}"


@dataclass(frozen=True, slots=True)
class TlsaLookup:
    """The TLSA records at ``name``, whether the resolver validated them (AD), or why
    the question failed."""

    name: str
    records: tuple[Tlsa, ...] = ()
    authenticated: bool = False
    failed: str = ""


async def tlsa(
    host: str, port: int, resolver: dns.asyncresolver.Resolver | None, timeout: float
) -> TlsaLookup:
    """The TLSA records for SMTP at *host*: ``_PORT._tcp.HOST`` (RFC 7672 §2.2.3)."""
    name = f"_{port}._tcp.{host.rstrip('.')}"
    found = await query(name, "TLSA", resolver, timeout)
    records = tuple(
        Tlsa(
            int(getattr(r, "usage", -1)),
            int(getattr(r, "selector", -1)),
            int(getattr(r, "mtype", -1)),
            bytes(getattr(r, "cert", b"")),
        )
        for r in found.records
    )
    return TlsaLookup(name, records, found.authenticated, found.failed)
