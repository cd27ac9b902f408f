"""The mail TLS policies around a probe: MTA-STS, TLS-RPT (per domain) and DANE (per host).

`gather` reads DNS and fetches the policies once per domain and host (while the probes
run); `MailPolicies.add` then judges each probed host (`smtpprobe.interpret.mail_tls`)
and adds the ``mta_sts``, ``tls_rpt`` and ``dane`` findings to its result.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from smtpprobe.dns_facts import addresses, tlsa, txt
from smtpprobe.errors import SMTPProbeError
from smtpprobe.https_fetch import FetchError, fetch
from smtpprobe.interpret.mail_tls import MailTlsResult, dane, host_tls, mta_sts, tls_rpt
from smtpprobe.mta_sts import POLICY_PATH, DomainFacts, PolicyFetch, parse_policy
from smtpprobe.mx import is_address
from smtpprobe.report import Finding, Note, ProbeReport, Session

if TYPE_CHECKING:
    import dns.asyncresolver

    from smtpprobe.dns_facts import TlsaLookup
    from smtpprobe.report import TargetResult

__all__ = ["MailPolicies", "MailPolicyOptions", "gather"]

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class MailPolicyOptions:
    """What to check. ``domain`` (``--mta-sts DOMAIN``) judges every target against that
    domain's policy; ``mta_sts`` without it uses each ``--mx`` domain. ``https_port`` and
    ``https_cafile`` exist for the loopback tests: production uses 443 and the system store."""

    mta_sts: bool = False
    dane: bool = False
    domain: str | None = None
    https_port: int = 443
    https_cafile: str | None = None


@dataclass(frozen=True, slots=True)
class MailPolicies:
    """The facts read for every domain and host."""

    options: MailPolicyOptions
    domains: dict[str, DomainFacts] = field(default_factory=dict)
    tlsa: dict[tuple[str, int], TlsaLookup] = field(default_factory=dict)

    def add(self, result: TargetResult) -> TargetResult:
        """*result* with its mail-policy findings (unchanged when it has no report)."""
        report = result.report
        if report is None:
            return result
        state = host_tls(report.session, presented_chain(report.session))
        host = report.target.host
        found: list[MailTlsResult] = []
        domain = self._domain(report)
        facts = self.domains.get(domain or "")
        if facts is not None:
            found += [mta_sts(facts, host, state), tls_rpt(facts)]
        lookup = self.tlsa.get((host.lower(), report.target.port))
        if lookup is not None:
            found.append(dane(lookup, host, state, domain))
        if not found:
            return result
        findings = tuple(finding(r) for r in found)
        return dataclasses.replace(result, report=dataclasses.replace(
            report, findings=report.findings + findings))

    def _domain(self, report: ProbeReport) -> str | None:
        if self.options.domain is not None:
            return self.options.domain
        mx = report.finding("mx")
        return str(mx.data.get("domain")) if mx is not None else None


def presented_chain(session: Session) -> tuple[bytes, ...]:
    """The DER certificates the server sent, leaf first; () when none were recorded."""
    return tuple(c.der for c in session.tls.chain) if session.tls is not None else ()


async def gather(domains: Sequence[str], hosts: Sequence[tuple[str, int]],
                 mx_domains: Sequence[str] = (), *,
                 options: MailPolicyOptions,
                 resolver: dns.asyncresolver.Resolver | None, timeout: float,
                 mx_port: int, family: int, concurrency: int = 20) -> MailPolicies:
    """Read the MTA-STS and TLS-RPT of *domains* and, with DANE, the TLSA records of
    *hosts* and of the MX hosts of *mx_domains* (on *mx_port*), each step within *timeout*,
    at most *concurrency* domains or hosts at a time."""

    limit = asyncio.Semaphore(concurrency)

    async def bounded(awaitable: Awaitable[_T]) -> _T:
        async with limit:
            return await awaitable

    # An address is no mail domain: --mx refuses it, and it has no _mta-sts name.
    names = list(dict.fromkeys(d.lower().rstrip(".") for d in domains if not is_address(d)))
    policies = [bounded(_lookup_domain(d, resolver=resolver, timeout=timeout,
                                      https_port=options.https_port,
                                      cafile=options.https_cafile)) for d in names]
    targets = list(dict.fromkeys((h.lower().rstrip("."), p) for h, p in hosts
                                 if not is_address(h)))
    if options.dane:
        for found in await asyncio.gather(*(bounded(_mx_hosts(d, resolver, timeout, family))
                                            for d in dict.fromkeys(mx_domains)
                                            if not is_address(d))):
            targets += [(h, mx_port) for h in found if (h, mx_port) not in targets]
    results = await asyncio.gather(*policies, *(bounded(tlsa(h, p, resolver, timeout))
                                                for h, p in (targets if options.dane else [])))
    facts: list[DomainFacts] = list(results[: len(policies)])  # type: ignore[arg-type]
    lookups: list[TlsaLookup] = list(results[len(policies):])  # type: ignore[arg-type]
    return MailPolicies(options, {f.domain: f for f in facts},
                        {target: lookup for target, lookup in zip(targets, lookups,
                                                                  strict=True)})


async def _lookup_domain(domain: str, *, resolver: dns.asyncresolver.Resolver | None,
                        timeout: float, https_port: int = 443,
                        cafile: str | None = None) -> DomainFacts:
    """Read ``_mta-sts.DOMAIN`` and ``_smtp._tls.DOMAIN`` (TXT) and fetch the policy.

    The policy is fetched even without a TXT record, so that a policy senders never look
    at is reported too. With a *resolver* (``--dns-server``) the policy host's address
    comes from it as well. Nothing raises: failures are facts.
    """
    # Each step is bounded on its own: DNS by the resolver's lifetime, the fetch by *timeout*.
    sts_txt, tlsrpt_txt, policy_addresses = await asyncio.gather(
        txt(f"_mta-sts.{domain}", resolver, timeout),
        txt(f"_smtp._tls.{domain}", resolver, timeout),
        addresses(f"mta-sts.{domain}", resolver, timeout) if resolver else _none(),
    )
    host = f"mta-sts.{domain}"
    url = f"https://{host}{f':{https_port}' if https_port != 443 else ''}{POLICY_PATH}"
    if resolver is not None and not policy_addresses:
        return DomainFacts(domain, sts_txt, tlsrpt_txt, None, None)
    try:
        response = await fetch(host, POLICY_PATH, port=https_port, connect_to=policy_addresses,
                               cafile=cafile, timeout=timeout)
    except FetchError as exc:
        if exc.reason == "no-address":
            return DomainFacts(domain, sts_txt, tlsrpt_txt, None, None)
        return DomainFacts(domain, sts_txt, tlsrpt_txt, PolicyFetch(url, None, exc.reason,
                                                                    exc.detail), None)
    policy = parse_policy(response.body) if response.status == 200 else None
    return DomainFacts(domain, sts_txt, tlsrpt_txt, PolicyFetch(url, response), policy)


async def _none() -> tuple[str, ...]:
    return ()


async def _mx_hosts(domain: str, resolver: dns.asyncresolver.Resolver | None,
                    timeout: float, family: int) -> tuple[str, ...]:
    from smtpprobe.mx import resolve_targets

    try:
        plan = await resolve_targets(domain, mx=True, all_addresses=False, port=25,
                                     family=family, resolver=resolver, timeout=timeout)
    except SMTPProbeError:
        return ()  # the fleet reports the same failure for this domain
    return tuple(host.name.lower() for host in plan.hosts)


def finding(result: MailTlsResult) -> Finding:
    """*result* as a `Finding`: the worst issue is its reason, every other issue a note,
    so that each defect gets its sentence (words: ``findings/<check>.toml``)."""
    first, *others = result.issues
    return Finding(result.check, result.status, first.reason, dict(first.params),
                   result.verdict, notes=tuple(Note(i.reason, dict(i.params)) for i in others),
                   data=dict(result.data))
