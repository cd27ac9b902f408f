"""Probe many targets in one event loop, at most ``concurrency`` at a time.

`run_fleet` expands each target (MX hosts with ``mx``, every address with
``all_addresses``, names through a given DNS resolver), probes every host under one
`asyncio.Semaphore`, applies the `Policy`, and adds the MX and address-pool findings.
Results come back in input order. Nothing is printed; progress goes to ``on_done``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from smtpprobe.errors import ResolveError, SMTPProbeError
from smtpprobe.policy import Policy, apply_policy
from smtpprobe.report import (
    Finding,
    Note,
    ProbeEvent,
    ProbeOptions,
    ProbeReport,
    Status,
    Target,
    TargetResult,
    TlsMode,
)

if TYPE_CHECKING:
    import dns.asyncresolver

    from smtpprobe.mx import MxHost, MxPlan

__all__ = ["Fleet", "FleetOptions", "TargetResult", "TargetSpec", "run_fleet"]

# Notes that say the DNS set-up breaks a rule (RFC 7505 §3, RFC 2181 §10.3), not just a fact.
_MX_WARNINGS = frozenset({"mx_null_mixed", "mx_host_cname"})


@dataclass(frozen=True, slots=True)
class TargetSpec:
    """One target as given: a host (or a domain with ``mx``) and an optional port."""

    host: str
    port: int | None = None


@dataclass(frozen=True, slots=True)
class Fleet:
    """Every result in input order, and the MX plans they came from (for the view)."""

    results: tuple[TargetResult, ...]
    plans: tuple[MxPlan, ...] = ()

    @property
    def status(self) -> Status:
        return Status.worst(r.status for r in self.results)


@dataclass(frozen=True, slots=True)
class FleetOptions:
    """How to expand and pace the targets. With a ``resolver`` every name is looked up
    through it (dnspython) instead of the system's ``getaddrinfo``."""

    concurrency: int = 20
    mx: bool = False
    all_addresses: bool = False
    resolver: dns.asyncresolver.Resolver | None = None
    dns_timeout: float = 5.0


@dataclass(frozen=True, slots=True)
class _Job:
    host: str
    options: ProbeOptions
    plan: MxPlan | None = None
    mx_host: MxHost | None = None
    pool: int | None = None


_Slot = _Job | TargetResult


async def run_fleet(
    specs: Sequence[TargetSpec],
    /,
    *,
    options: ProbeOptions,
    policy: Policy | None = None,
    fleet: FleetOptions = FleetOptions(),
    on_event: Callable[[ProbeEvent], None] | None = None,
    on_done: Callable[[int, int], None] | None = None,
    on_result: Callable[[int, TargetResult], None] | None = None,
) -> Fleet:
    """Probe every target of *specs*; ``on_done(done, total)`` after each one finishes.

    ``on_result(index, result)`` gets each final result as soon as it is known (with
    ``all_addresses`` only at the end, after the pools were compared), so that output
    can stream. A name that does not resolve becomes an UNKNOWN result, never an exception.

    :raises UsageError: bad options, or ``mx`` asked for an IP address.
    """
    limit = asyncio.Semaphore(fleet.concurrency)
    expanded = await asyncio.gather(*(_expand(spec, options, fleet, limit) for spec in specs))
    slots = [slot for plan_slots in expanded for slot in plan_slots[1]]
    plans = tuple(plan for plan, _slots in expanded if plan is not None and plan.source != "direct")
    total, done = len(slots), 0
    if on_done is not None:
        on_done(0, total)

    async def run(index: int, slot: _Slot) -> TargetResult:
        nonlocal done
        if isinstance(slot, _Job):
            async with limit:
                result = await _probe(slot, policy, on_event)
        else:
            result = slot
        done += 1
        if on_done is not None:
            on_done(done, total)
        if on_result is not None and not fleet.all_addresses:
            on_result(index, result)
        return result

    results = list(await asyncio.gather(*(run(i, slot) for i, slot in enumerate(slots))))
    if fleet.all_addresses:
        _add_pool_findings(results, slots)
        for index, result in enumerate(results):
            if on_result is not None:
                on_result(index, result)
    return Fleet(tuple(results), plans)


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _port(spec: TargetSpec, options: ProbeOptions) -> int:
    return spec.port or options.port or (465 if options.tls is TlsMode.IMPLICIT else 25)


def _unresolved(host: str, port: int, options: ProbeOptions,
                error: SMTPProbeError) -> TargetResult:
    finding = Finding("connection", Status.UNKNOWN, "not-probed", {"host": host, "port": port},
                      cause=error, data={"complete": False, "phase": error.phase or "resolve"})
    return TargetResult(Target(host, port, None, options.tls), None, error, (finding,))


async def _expand(spec: TargetSpec, options: ProbeOptions, fleet: FleetOptions,
                  limit: asyncio.Semaphore) -> tuple[MxPlan | None, list[_Slot]]:
    """The jobs (and results known without probing) of one target, in probe order."""
    port = _port(spec, options)
    job_options = dataclasses.replace(options, port=spec.port or options.port)
    if not (fleet.mx or fleet.all_addresses or fleet.resolver is not None):
        if _is_address(spec.host):  # no getaddrinfo (a thread hop) for an address literal
            job_options = dataclasses.replace(job_options, connect_to=(spec.host.strip("[]"),))
        return None, [_Job(spec.host, job_options)]
    try:
        from smtpprobe.mx import resolve_targets  # only with --mx/--all-addresses

        async with limit:
            # Addresses are always looked up, so that an MX host without one is reported
            # from DNS, and a probe connects to exactly what DNS said.
            plan = await resolve_targets(spec.host, mx=fleet.mx, all_addresses=True, port=port,
                                         family=options.family, resolver=fleet.resolver,
                                         timeout=fleet.dns_timeout)
    except ResolveError as exc:
        return None, [_unresolved(spec.host, port, options, exc)]
    if plan.source == "null-mx":
        return plan, [TargetResult(Target(plan.domain, port, None, options.tls),
                                   notes=(_mx_finding(plan, None, Status.UNKNOWN),))]
    slots: list[_Slot] = []
    for pool, host in enumerate(plan.hosts):
        if not host.addresses:
            status = Status.CRITICAL if "mx_none_usable" in plan.notes else Status.WARNING
            slots.append(TargetResult(Target(host.name, port, None, options.tls),
                                      notes=(_mx_finding(plan, host, status),)))
        elif fleet.all_addresses:
            slots.extend(
                _Job(host.name, dataclasses.replace(job_options, connect_to=(address,)),
                     plan, host, pool if len(host.addresses) > 1 else None)
                for address in host.addresses)
        else:
            slots.append(_Job(host.name, dataclasses.replace(job_options,
                                                             connect_to=host.addresses),
                              plan, host))
    return plan, slots


async def _probe(job: _Job, policy: Policy | None,
                 on_event: Callable[[ProbeEvent], None] | None) -> TargetResult:
    from smtpprobe.probe import probe  # MX-only and offline paths never need the probe

    try:
        report = await probe(job.host, options=job.options, on_event=on_event)
    except ResolveError as exc:
        port = job.options.port or (465 if job.options.tls is TlsMode.IMPLICIT else 25)
        return _unresolved(job.host, port, job.options, exc)
    if policy is not None:
        report = apply_policy(report, policy)
    if job.plan is not None and job.plan.source != "direct":
        report = _with(report, _mx_finding(job.plan, job.mx_host, None))
    return TargetResult(report.target, report)


def _with(report: ProbeReport, *findings: Finding) -> ProbeReport:
    return dataclasses.replace(report, findings=report.findings + findings)


def _mx_finding(plan: MxPlan, host: MxHost | None, status: Status | None) -> Finding:
    """Where this host comes from (MX preference, fallback, null MX) and the DNS notes."""
    notes = [*plan.notes, *(host.notes if host is not None else ())]
    params = {"domain": plan.domain, "host": host.name if host else plan.domain,
              "port": plan.port, "preference": host.preference if host else None}
    if status is None:
        status = Status.WARNING if _MX_WARNINGS & set(notes) else Status.OK
    data: dict[str, Any] = {"domain": plan.domain, "source": plan.source,
                            "host": host.name if host else None,
                            "preference": host.preference if host else None,
                            "addresses": list(host.addresses) if host else [], "notes": notes}
    # mx.py names its notes "mx_<what>"; the words are the "note-<what>" tables.
    return Finding("mx", status, plan.source, params, data=data,
                   notes=tuple(Note("note-" + note.removeprefix("mx_").replace("_", "-"))
                               for note in notes))


def _add_pool_findings(results: list[TargetResult], slots: list[_Slot]) -> None:
    """Compare the members of each address pool; add one ``pool`` finding to each member."""
    pools: dict[tuple[int, int], list[int]] = {}
    for index, slot in enumerate(slots):
        if isinstance(slot, _Job) and slot.pool is not None and slot.plan is not None:
            pools.setdefault((id(slot.plan), slot.pool), []).append(index)
    for members in pools.values():
        reports = [r for i in members if (r := results[i].report) is not None]
        host = reports[0].target.host if reports else ""
        from smtpprobe.pool import compare_pool

        found = compare_pool(reports)
        notes = tuple(Note("note-" + d.key.removeprefix("mx_pool_").replace("_", "-"),
                           {"values": [[member, value] for member, value in d.values]})
                      for d in found)
        finding = Finding(
            "pool", Status.worst(d.status for d in found), "differ" if found else "alike",
            {"host": host}, notes=notes,
            data={"host": host, "members": [r.target.address for r in reports],
                  "disagreements": [{"key": d.key, "status": d.status.value,
                                     "values": {m: v for m, v in d.values}} for d in found]})
        for index in members:
            result = results[index]
            if result.report is not None:
                results[index] = dataclasses.replace(result, report=_with(result.report,
                                                                           finding))
