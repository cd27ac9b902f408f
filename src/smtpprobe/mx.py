"""Which hosts take mail for a domain (MX, RFC 5321 §5.1, RFC 7505).

`resolve_targets` turns a domain into an `MxPlan`: the hosts to probe, in order, with
note keys the caller turns into text through ``kb.ui``. Comparing the addresses behind
one host name is `smtpprobe.pool`'s job. No printing here.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar, cast

from smtpprobe.errors import Alternatives, ResolveError, UsageError
from smtpprobe.report import MxHost, MxPlan, Source
from smtpprobe.validate import check_token

if TYPE_CHECKING:
    import dns.asyncresolver
    import dns.name
    import dns.resolver
    from dns.rdtypes.ANY.MX import MX
    from dns.rdtypes.IN.A import A
    from dns.rdtypes.IN.AAAA import AAAA

__all__ = [
    "NOTE_KEYS",
    "MxHost",
    "MxPlan",
    "Source",
    "is_address",
    "resolve_targets",
]

_T = TypeVar("_T")
# Every note key `resolve_targets` may emit (plan and host notes). Their texts in
# ui_mx.toml may use {domain}, {host} and {port}.
NOTE_KEYS = (
    "mx_null",
    "mx_null_mixed",
    "mx_fallback",
    "mx_port_not_25",
    "mx_none_usable",
    "mx_host_no_address",
    "mx_host_cname",
)
_RDTYPES: dict[int, tuple[str, ...]] = {
    socket.AF_INET: ("A",),
    socket.AF_INET6: ("AAAA",),
    socket.AF_UNSPEC: ("A", "AAAA"),
}


async def resolve_targets(
    domain: str,
    /,
    *,
    mx: bool,
    all_addresses: bool,
    port: int,
    family: int,
    resolver: dns.asyncresolver.Resolver | None = None,
    timeout: float = 5.0,
) -> MxPlan:
    """The hosts that receive mail for *domain* (``mx``) or *domain* itself, in probe order.

    MX hosts are sorted by preference, ties by name (DNS canonical order, RFC 4034 §6.1).
    RFC 5321 §5.1 lets a sender pick at random among equal preferences to spread load,
    but a probe is not a sender, and a fixed order gives the same report on every run
    whatever order the DNS server rotates its answer into. A null MX (RFC 7505) gives
    source ``null-mx`` and no hosts; an MX query with no answer falls back to the
    domain's own address records (source ``fallback-address``). Without
    ``all_addresses`` no address is looked up (except to decide the fallback): the probe
    resolves each name itself, exactly as for a host named on the command line. Names
    are queried as absolute names (no search list). ``port`` is carried into the plan,
    and noted when MX hosts are probed on another port than 25.

    :raises UsageError: a bad family, an unusable name, or ``mx`` with an IP address.
    :raises ResolveError: NXDOMAIN, no MX and no address, a timeout (within *timeout*
        seconds), SERVFAIL or no name server to ask; ``hint`` says what to check.
    """
    rdtypes = _RDTYPES.get(family)
    if rdtypes is None:
        raise UsageError(key="error_mx_family", params={"family": family})
    name = domain.strip()
    name = name[1:-1] if name.startswith("[") and name.endswith("]") else name.rstrip(".")
    check_token("domain", name, limit=253)
    ask = _Ask(name, port, all_addresses, rdtypes)
    if is_address(name):
        if mx:
            raise UsageError(key="error_mx_address", params={"name": name})
        return ask.plan("direct", MxHost(name, None, (name,) if all_addresses else ()))
    if not (mx or all_addresses):
        return ask.plan("direct", MxHost(name, None))
    if not mx and resolver is None:
        # A host's addresses as a plain probe finds them: the system resolver, which
        # reads /etc/hosts (`localhost`), not only DNS.
        return ask.plan(
            "direct", MxHost(name, None, await _system_addresses(name, port, family, timeout))
        )
    lookup = _Lookup(_resolver(resolver), asyncio.get_running_loop().time() + timeout, timeout)
    qname = lookup.absolute(name)
    try:
        async with asyncio.timeout(timeout):
            if mx:
                return await _mx_plan(lookup, qname, ask)
            addresses, _ = await lookup.addresses(qname, rdtypes, missing_ok=False)
    except TimeoutError:
        raise _timed_out(name, "MX" if mx else rdtypes[0], timeout) from None
    if not addresses:
        raise ResolveError(
            key="error_resolve_no_record",
            phase="resolve",
            params={"name": name, "rdtypes": Alternatives(rdtypes)},
        )
    return ask.plan("direct", MxHost(name, None, addresses))


async def _system_addresses(name: str, port: int, family: int, timeout: float) -> tuple[str, ...]:
    """Every address getaddrinfo gives for *name*, in its order, without repeats.

    :raises ResolveError: the name does not resolve, or not within *timeout*.
    """
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout):
            infos = await loop.getaddrinfo(name, port, family=family, type=socket.SOCK_STREAM)
    except TimeoutError:
        raise ResolveError(
            key="error_resolve_slow", phase="resolve", params={"host": name}
        ) from None
    except (OSError, UnicodeError) as exc:
        reason = exc if isinstance(exc, OSError) else str(exc)
        raise ResolveError(
            key="error_resolve_host", phase="resolve", params={"host": name, "reason": reason}
        ) from exc
    return tuple(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True, slots=True)
class _Ask:
    """What was asked for, shared by every plan built for one call."""

    domain: str
    port: int
    all_addresses: bool
    rdtypes: tuple[str, ...]

    def plan(self, source: Source, *hosts: MxHost, notes: Sequence[str] = ()) -> MxPlan:
        return MxPlan(self.domain, source, hosts, tuple(notes), self.port, self.all_addresses)


async def _mx_plan(lookup: _Lookup, qname: dns.name.Name, ask: _Ask) -> MxPlan:
    import dns.name
    import dns.resolver

    try:
        answer = await lookup.query(qname, "MX")
    except dns.resolver.NXDOMAIN:
        raise _nxdomain(ask.domain) from None
    notes = ["mx_port_not_25"] if ask.port != 25 else []
    if answer is None:
        # RFC 5321 §5.1: no MX, so the domain itself is the implicit MX, preference 0.
        addresses, _ = await lookup.addresses(qname, ask.rdtypes, missing_ok=True)
        if not addresses:
            raise ResolveError(
                key="error_resolve_no_mx",
                phase="resolve",
                params={"name": ask.domain, "rdtypes": Alternatives(ask.rdtypes)},
            )
        host = MxHost(ask.domain, 0, addresses if ask.all_addresses else ())
        return ask.plan("fallback-address", host, notes=["mx_fallback", *notes])
    records = sorted((r.preference, r.exchange) for r in cast("Iterable[MX]", answer))
    real = [(pref, exchange) for pref, exchange in records if exchange != dns.name.root]
    if not real:
        # RFC 7505 §3: "MX 0 ." says the domain accepts no mail; there is nothing to probe.
        return ask.plan("null-mx", notes=["mx_null"])
    if len(real) < len(records):
        notes.insert(0, "mx_null_mixed")
    unique: dict[dns.name.Name, int] = {}
    for pref, exchange in real:
        unique.setdefault(exchange, pref)  # one host twice: its lowest preference counts
    if not ask.all_addresses:
        return ask.plan(
            "mx", *(MxHost(_text(host), pref) for host, pref in unique.items()), notes=notes
        )
    found = await _all(lookup.addresses(host, ask.rdtypes, missing_ok=True) for host in unique)
    hosts = [
        MxHost(_text(host), pref, addresses, tuple(host_notes))
        for (host, pref), (addresses, host_notes) in zip(unique.items(), found, strict=True)
    ]
    if not any(host.addresses for host in hosts):
        notes.append("mx_none_usable")
    return ask.plan("mx", *hosts, notes=notes)


async def _all(awaitables: Iterable[Awaitable[_T]]) -> list[_T]:
    """Await all at once; let each finish (no task outlives us), then raise the first error."""
    results = await asyncio.gather(*awaitables, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return cast("list[_T]", results)


class _Lookup:
    """Queries under one deadline, with dnspython's exceptions turned into ours."""

    def __init__(self, resolver: dns.asyncresolver.Resolver, deadline: float, timeout: float):
        self.resolver, self.deadline, self.timeout = resolver, deadline, timeout

    @staticmethod
    def absolute(name: str) -> dns.name.Name:
        """*name* as an absolute DNS name (IDNA applied).

        :raises UsageError: an empty or over-long label, or a name IDNA rejects.
        """
        import dns.exception
        import dns.name

        try:
            return dns.name.from_text(name)
        except (dns.exception.DNSException, UnicodeError) as exc:
            raise UsageError(
                key="error_mx_bad_name", params={"name": name, "reason": str(exc)}
            ) from None

    async def query(self, qname: dns.name.Name, rdtype: str) -> dns.resolver.Answer | None:
        """The answer, or None for NODATA.

        :raises dns.resolver.NXDOMAIN: the name does not exist (callers decide).
        :raises ResolveError: timeout, SERVFAIL, no name server, any other DNS failure.
        """
        import dns.exception
        import dns.resolver

        name = _text(qname)
        remaining = max(self.deadline - asyncio.get_running_loop().time(), 0.001)
        try:
            return await self.resolver.resolve(qname, rdtype, lifetime=remaining, search=False)
        except dns.resolver.NoAnswer:
            return None
        except dns.resolver.NXDOMAIN:
            raise
        except dns.exception.Timeout:
            raise _timed_out(name, rdtype, self.timeout) from None
        except dns.resolver.NoNameservers:
            raise ResolveError(
                key="error_resolve_servfail",
                phase="resolve",
                params={"name": name, "rdtype": rdtype},
            ) from None
        except dns.exception.DNSException as exc:
            raise ResolveError(
                key="error_resolve_failed",
                phase="resolve",
                params={"name": name, "rdtype": rdtype, "reason": str(exc)},
            ) from None

    async def addresses(
        self, qname: dns.name.Name, rdtypes: tuple[str, ...], *, missing_ok: bool
    ) -> tuple[tuple[str, ...], list[str]]:
        """Addresses of *qname* (IPv4 first, each family sorted) and host notes.

        :raises ResolveError: NXDOMAIN unless *missing_ok*; otherwise as `query`.
        """
        import dns.resolver

        async def one(rdtype: str) -> dns.resolver.Answer | None:
            try:
                return await self.query(qname, rdtype)
            except dns.resolver.NXDOMAIN:
                if missing_ok:
                    return None
                raise _nxdomain(_text(qname)) from None

        found: list[str] = []
        notes: list[str] = []
        for answer in await _all(one(rdtype) for rdtype in rdtypes):
            if answer is None:
                continue
            # RFC 2181 §10.3: the name in an MX record must not be an alias.
            if answer.canonical_name != qname and "mx_host_cname" not in notes:
                notes.append("mx_host_cname")
            records = cast("Iterable[A | AAAA]", answer)
            found.extend(sorted((str(r.address) for r in records), key=ipaddress.ip_address))
        if not found:
            notes.append("mx_host_no_address")
        return tuple(found), notes


def _resolver(given: dns.asyncresolver.Resolver | None) -> dns.asyncresolver.Resolver:
    import dns.asyncresolver
    import dns.resolver

    if given is not None:
        return given
    try:
        return dns.asyncresolver.Resolver()
    except dns.resolver.NoResolverConfiguration:
        raise ResolveError(key="error_resolve_no_resolver", phase="resolve") from None


def _text(name: dns.name.Name) -> str:
    return name.to_text(omit_final_dot=True)


def _nxdomain(name: str) -> ResolveError:
    return ResolveError(key="error_resolve_nxdomain", phase="resolve", params={"name": name})


def _timed_out(name: str, rdtype: str, timeout: float) -> ResolveError:
    return ResolveError(
        key="error_resolve_dns_timeout",
        phase="resolve",
        params={"name": name, "rdtype": rdtype, "timeout": timeout},
    )


def is_address(name: str) -> bool:
    """Whether *name* is an IP address literal (brackets allowed), not a domain name."""
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True
