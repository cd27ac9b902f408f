"""The mail TLS policies around a probe: MTA-STS, TLS-RPT (per domain) and DANE (per host).

`PolicyReader` reads DNS and fetches the policies once per domain and host while the
probes run; `MailPolicies.add` then judges each probed host
(`smtpprobe.interpret.mail_tls`) and adds the ``mta_sts``, ``tls_rpt`` and ``dane``
findings to its result.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Coroutine, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

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
    from smtpprobe.fleet import TargetSpec
    from smtpprobe.report import TargetResult

__all__ = ["MailPolicies", "MailPolicyOptions", "PolicyReader"]


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
    """The facts read so far, by domain and by (host, port); filled by `PolicyReader`."""

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
        return dataclasses.replace(
            result, report=dataclasses.replace(report, findings=report.findings + findings)
        )

    def _domain(self, report: ProbeReport) -> str | None:
        if self.options.domain is not None:
            return self.options.domain
        mx = report.finding("mx")
        return str(mx.data.get("domain")) if mx is not None else None


def presented_chain(session: Session) -> tuple[bytes, ...]:
    """The DER certificates the server sent, leaf first; () when none were recorded."""
    return tuple(c.der for c in session.tls.chain) if session.tls is not None else ()


Key = tuple[str, ...]  # ("domain", name) or ("host", name, port): one look-up task


class PolicyReader:
    """Reads the policies as the targets come (`watch`), one task per domain or host, at
    most *concurrency* at a time; `MailPolicies` fills as they finish.

    With ``mx`` each target is a mail domain: its MTA-STS and TLS-RPT (unless
    ``options.domain`` names the one domain to judge against) and the TLSA records of its
    MX hosts on *port*. Otherwise each target is a host, and DANE reads its own TLSA
    records. Must be used inside the running event loop.
    """

    def __init__(
        self,
        options: MailPolicyOptions,
        *,
        mx: bool,
        resolver: dns.asyncresolver.Resolver | None,
        timeout: float,
        port: int,
        family: int,
        concurrency: int,
    ) -> None:
        self.policies = MailPolicies(options)
        self.mx, self.port, self.family = mx, port, family
        self.resolver, self.timeout = resolver, timeout
        self._limit = asyncio.Semaphore(concurrency)
        self._tasks: dict[Key, asyncio.Task[None]] = {}

    def watch(self, specs: Iterable[TargetSpec]) -> Iterator[TargetSpec]:
        """*specs*, unchanged, starting the look-ups each one needs as it passes."""
        options = self.policies.options
        if options.domain is not None and options.mta_sts:
            self._start(("domain", options.domain), self._domain(options.domain, True, False))
        for spec in specs:
            name = spec.host.lower().rstrip(".")
            if not is_address(name):  # an address has no _mta-sts or TLSA name
                if self.mx:
                    self._start(
                        ("domain", name),
                        self._domain(
                            name, options.mta_sts and options.domain is None, options.dane
                        ),
                    )
                elif options.dane:
                    port = spec.port or self.port
                    self._start(("host", name, str(port)), self._host(name, port))
            yield spec

    def pending(self, result: TargetResult) -> list[asyncio.Task[None]]:
        """The look-ups *result* is judged on that have not finished yet."""
        report = result.report
        if report is None:
            return []
        keys: list[Key] = []
        if self.policies.options.domain is not None:
            keys.append(("domain", self.policies.options.domain))
        mx = report.finding("mx")
        if self.mx and mx is not None:
            keys.append(("domain", str(mx.data.get("domain", "")).lower()))
        elif not self.mx:
            keys.append(("host", report.target.host.lower(), str(report.target.port)))
        return [task for key in keys if (task := self._tasks.get(key)) and not task.done()]

    async def finish(self) -> None:
        """Wait for every look-up started (each is bounded by *timeout*)."""
        await asyncio.gather(*self._tasks.values())

    def cancel(self) -> None:
        for task in self._tasks.values():
            task.cancel()

    def _start(self, key: Key, work: Coroutine[Any, Any, None]) -> None:
        if key in self._tasks:
            work.close()
            return
        self._tasks[key] = asyncio.ensure_future(self._bounded(work))

    async def _bounded(self, work: Coroutine[Any, Any, None]) -> None:
        async with self._limit:
            await work

    async def _domain(self, domain: str, sts: bool, mx_dane: bool) -> None:
        options = self.policies.options
        if sts:
            self.policies.domains[domain] = await _lookup_domain(
                domain,
                resolver=self.resolver,
                timeout=self.timeout,
                https_port=options.https_port,
                cafile=options.https_cafile,
            )
        if mx_dane:
            hosts = await _mx_hosts(domain, self.resolver, self.timeout, self.family)
            for host, found in zip(
                hosts,
                await asyncio.gather(
                    *(tlsa(h, self.port, self.resolver, self.timeout) for h in hosts)
                ),
                strict=True,
            ):
                self.policies.tlsa[(host, self.port)] = found

    async def _host(self, host: str, port: int) -> None:
        self.policies.tlsa[(host, port)] = await tlsa(host, port, self.resolver, self.timeout)


async def _lookup_domain(
    domain: str,
    *,
    resolver: dns.asyncresolver.Resolver | None,
    timeout: float,
    https_port: int = 443,
    cafile: str | None = None,
) -> DomainFacts:
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
        response = await fetch(
            host,
            POLICY_PATH,
            port=https_port,
            connect_to=policy_addresses,
            cafile=cafile,
            timeout=timeout,
        )
    except FetchError as exc:
        if exc.reason == "no-address":
            return DomainFacts(domain, sts_txt, tlsrpt_txt, None, None)
        return DomainFacts(
            domain, sts_txt, tlsrpt_txt, PolicyFetch(url, None, exc.reason, exc.detail), None
        )
    policy = parse_policy(response.body) if response.status == 200 else None
    return DomainFacts(domain, sts_txt, tlsrpt_txt, PolicyFetch(url, response), policy)


async def _none() -> tuple[str, ...]:
    return ()


async def _mx_hosts(
    domain: str, resolver: dns.asyncresolver.Resolver | None, timeout: float, family: int
) -> tuple[str, ...]:
    from smtpprobe.mx import resolve_targets

    try:
        plan = await resolve_targets(
            domain,
            mx=True,
            all_addresses=False,
            port=25,
            family=family,
            resolver=resolver,
            timeout=timeout,
        )
    except SMTPProbeError:
        return ()  # the fleet reports the same failure for this domain
    return tuple(host.name.lower() for host in plan.hosts)


def finding(result: MailTlsResult) -> Finding:
    """*result* as a `Finding`: the worst issue is its reason, every other issue a note,
    so that each defect gets its sentence (words: ``findings/<check>.toml``)."""
    first, *others = result.issues
    return Finding(
        result.check,
        result.status,
        first.reason,
        dict(first.params),
        result.verdict,
        notes=tuple(Note(i.reason, dict(i.params)) for i in others),
        data=dict(result.data),
    )
