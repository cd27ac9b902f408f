"""Probe many targets in one event loop, at most ``concurrency`` at a time.

`run_fleet` expands each target (MX hosts with ``mx``, every address with
``all_addresses``, names through a given DNS resolver), probes every host under one
`asyncio.Semaphore`, applies the `Policy`, and adds the MX and address-pool findings.
Plain targets stream instead: ``concurrency`` workers pull them from an iterator, and a
result not kept (``keep_results=False``) is gone once ``on_result`` had it, so memory does
not grow with the number of targets. One target's failure stays its own
(`smtpprobe.isolation`). Nothing is printed; progress goes to ``on_done``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from smtpprobe.errors import ResolveError, SMTPProbeError
from smtpprobe.isolation import LocalResourceError, RunGuard, is_out_of_files
from smtpprobe.policy import Policy, apply_policy
from smtpprobe.probe import ProbeInterrupted
from smtpprobe.report import (
    Finding,
    Fleet,
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

    from smtpprobe.report import MxHost, MxPlan

__all__ = ["Fleet", "FleetInterrupted", "FleetOptions", "TargetResult", "TargetSpec", "run_fleet"]

# Notes that say the DNS set-up breaks a rule (RFC 7505 §3, RFC 2181 §10.3), not just a fact.
_MX_WARNINGS = frozenset({"mx_null_mixed", "mx_host_cname"})


@dataclass(frozen=True, slots=True)
class TargetSpec:
    """One target as given: a host (or a domain with ``mx``) and an optional port."""

    host: str
    port: int | None = None


class FleetInterrupted(asyncio.CancelledError):
    """The run was cancelled (Ctrl-C); ``fleet`` holds what finished and what was cut."""

    def __init__(self, fleet: Fleet) -> None:
        super().__init__()
        self.fleet = fleet


@dataclass(frozen=True, slots=True)
class FleetOptions:
    """How to expand and pace the targets. With a ``resolver`` every name is looked up
    through it (dnspython) instead of the system's ``getaddrinfo``."""

    concurrency: int = 20
    mx: bool = False
    all_addresses: bool = False
    resolver: dns.asyncresolver.Resolver | None = None
    dns_timeout: float = 5.0
    # False: results go to on_result only (JSON Lines), so memory stays flat.
    keep_results: bool = True
    total_timeout: float | None = None

    @property
    def expands(self) -> bool:
        """Whether targets go through DNS first (and so are all read before probing)."""
        return self.mx or self.all_addresses or self.resolver is not None


@dataclass(frozen=True, slots=True)
class _Job:
    host: str
    options: ProbeOptions
    plan: MxPlan | None = None
    mx_host: MxHost | None = None
    pool: int | None = None


_Slot = _Job | TargetResult


async def run_fleet(
    specs: Iterable[TargetSpec],
    /,
    *,
    options: ProbeOptions,
    policy: Policy | None = None,
    fleet: FleetOptions = FleetOptions(),
    on_event: Callable[[ProbeEvent], None] | None = None,
    on_done: Callable[[int, int], None] | None = None,
    on_result: Callable[[int, TargetResult], None] | None = None,
) -> Fleet:
    """Probe every target of *specs*; ``on_done(done, total)`` after each one finishes
    (``total`` is 0 while *specs* is an iterator of unknown length).

    ``on_result(index, result)`` gets each final result as soon as it is known: plain
    targets in the order they finish, MX/DNS-expanded ones in input (preference) order,
    with ``all_addresses`` only at the end, after the pools were compared. A name that
    does not resolve, a bug met on one target, a local lack of file descriptors and
    ``total_timeout`` each become that target's UNKNOWN result, never an exception.

    :raises UsageError: bad options, ``mx`` asked for an IP address, or a bad target
        coming out of *specs* (the targets already started finish first).
    """
    guard = RunGuard.starting(fleet.total_timeout)
    tally: Counter[Status] = Counter()
    kept: list[tuple[int, TargetResult]] = []
    if on_result is not None and fleet.expands:
        on_result = _InOrder(on_result)  # MX preference order is part of the answer

    def finish(index: int, result: TargetResult) -> None:
        tally[result.status] += 1
        if fleet.keep_results or fleet.all_addresses:
            kept.append((index, result))
        if on_result is not None and not fleet.all_addresses:
            on_result(index, result)

    slots: list[_Slot] = []
    plans: tuple[MxPlan, ...] = ()
    try:
        if fleet.expands:
            plans, slots = await _run_expanded(
                list(specs), options, policy, fleet, guard, on_event, on_done, finish
            )
        else:
            await _run_streaming(specs, options, policy, fleet, guard, on_event, on_done, finish)
    except asyncio.CancelledError:
        # Ctrl-C: every target that finished, and the interrupted ones as they stood.
        kept.sort(key=lambda pair: pair[0])
        raise FleetInterrupted(
            Fleet(
                tuple(r for _i, r in kept),
                plans,
                dict(tally),
                guard.out_of_files,
                guard.internal,
                guard.timed_out,
            )
        ) from None
    kept.sort(key=lambda pair: pair[0])
    results = [result for _index, result in kept]
    if fleet.all_addresses:  # keep_results holds here: every result, in slot order
        _add_pool_findings(results, slots)
        for index, result in enumerate(results):
            if on_result is not None:
                on_result(index, result)
    return Fleet(
        tuple(results), plans, dict(tally), guard.out_of_files, guard.internal, guard.timed_out
    )


class _InOrder:
    """Pass results on in index order, holding each until every earlier one went."""

    def __init__(self, then: Callable[[int, TargetResult], None]) -> None:
        self.then, self.next = then, 0
        self.waiting: dict[int, TargetResult] = {}

    def __call__(self, index: int, result: TargetResult) -> None:
        self.waiting[index] = result
        while self.next in self.waiting:
            self.then(self.next, self.waiting.pop(self.next))
            self.next += 1


async def _run_streaming(
    specs: Iterable[TargetSpec],
    options: ProbeOptions,
    policy: Policy | None,
    fleet: FleetOptions,
    guard: RunGuard,
    on_event: Callable[[ProbeEvent], None] | None,
    on_done: Callable[[int, int], None] | None,
    finish: Callable[[int, TargetResult], None],
) -> None:
    """``concurrency`` workers, each taking the next target when its last one is done."""
    source = enumerate(specs)
    total = len(specs) if isinstance(specs, Sequence) else 0
    done, failure = 0, None
    if on_done is not None:
        on_done(0, total)

    def take() -> tuple[int, TargetSpec] | None:
        nonlocal failure
        if failure is not None:
            return None
        try:
            return next(source)
        except StopIteration:
            return None
        except SMTPProbeError as exc:  # a bad line in a streamed --targets: stop taking more
            failure = exc
            return None

    async def worker() -> None:
        nonlocal done
        while (item := take()) is not None:
            index, spec = item
            job = _expand_plain(spec, options)
            result = await _interruptible(index, job, policy, on_event, guard, finish)
            done += 1
            if on_done is not None:
                on_done(done, total)
            finish(index, result)

    workers = max(1, min(fleet.concurrency, total or fleet.concurrency))
    await asyncio.gather(*(worker() for _ in range(workers)))
    if failure is not None:
        raise failure


async def _run_expanded(
    specs: list[TargetSpec],
    options: ProbeOptions,
    policy: Policy | None,
    fleet: FleetOptions,
    guard: RunGuard,
    on_event: Callable[[ProbeEvent], None] | None,
    on_done: Callable[[int, int], None] | None,
    finish: Callable[[int, TargetResult], None],
) -> tuple[tuple[MxPlan, ...], list[_Slot]]:
    """DNS first for every target (MX, every address), then every job under one limit."""
    limit = asyncio.Semaphore(fleet.concurrency)
    expanded = await asyncio.gather(*(_expand(spec, options, fleet, limit) for spec in specs))
    slots = [slot for plan_slots in expanded for slot in plan_slots[1]]
    plans = tuple(plan for plan, _slots in expanded if plan is not None and plan.source != "direct")
    total, done = len(slots), 0
    if on_done is not None:
        on_done(0, total)

    async def run(index: int, slot: _Slot) -> None:
        nonlocal done
        if isinstance(slot, _Job):
            async with limit:
                result = await _interruptible(index, slot, policy, on_event, guard, finish)
        else:
            result = slot
        done += 1
        if on_done is not None:
            on_done(done, total)
        finish(index, result)

    await asyncio.gather(*(run(i, slot) for i, slot in enumerate(slots)))
    return plans, slots


async def _interruptible(
    index: int,
    job: _Job,
    policy: Policy | None,
    on_event: Callable[[ProbeEvent], None] | None,
    guard: RunGuard,
    finish: Callable[[int, TargetResult], None],
) -> TargetResult:
    """`_guarded`; on Ctrl-C the probe's partial report is finished first, then it stops."""
    try:
        return await _guarded(job, policy, on_event, guard)
    except ProbeInterrupted as stop:
        finish(index, TargetResult(stop.report.target, stop.report))
        raise


async def _guarded(
    job: _Job, policy: Policy | None, on_event: Callable[[ProbeEvent], None] | None, guard: RunGuard
) -> TargetResult:
    """`_probe`, with whatever goes wrong kept to this one target (`RunGuard.run`)."""
    port = job.options.port or (465 if job.options.tls is TlsMode.IMPLICIT else 25)
    target = Target(job.host, port, None, job.options.tls)
    result = await guard.run(
        lambda: _probe(job, policy, on_event),
        lambda error: _unresolved(job.host, port, job.options, error),
    )
    session_error = result.report.session.error if result.report is not None else result.error
    if is_out_of_files(session_error):
        guard.out_of_files += 1
        error = LocalResourceError(key="fleet_out_of_files", phase="connect")
        return _unresolved(target.host, port, job.options, error)
    return result


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _port(spec: TargetSpec, options: ProbeOptions) -> int:
    return spec.port or options.port or (465 if options.tls is TlsMode.IMPLICIT else 25)


def _unresolved(host: str, port: int, options: ProbeOptions, error: SMTPProbeError) -> TargetResult:
    finding = Finding(
        "connection",
        Status.UNKNOWN,
        "not-probed",
        {"host": host, "port": port},
        cause=error,
        data={"complete": False, "phase": error.phase or "resolve"},
    )
    return TargetResult(Target(host, port, None, options.tls), None, error, (finding,))


def _expand_plain(spec: TargetSpec, options: ProbeOptions) -> _Job:
    """The one job of a target probed as given (no MX, no DNS resolver)."""
    job_options = dataclasses.replace(options, port=spec.port or options.port)
    if _is_address(spec.host):  # no getaddrinfo (a thread hop) for an address literal
        job_options = dataclasses.replace(job_options, connect_to=(spec.host.strip("[]"),))
    return _Job(spec.host, job_options)


async def _expand(
    spec: TargetSpec, options: ProbeOptions, fleet: FleetOptions, limit: asyncio.Semaphore
) -> tuple[MxPlan | None, list[_Slot]]:
    """The jobs (and results known without probing) of one target, in probe order."""
    port = _port(spec, options)
    job_options = dataclasses.replace(options, port=spec.port or options.port)
    try:
        from smtpprobe.mx import resolve_targets  # only with --mx/--all-addresses

        async with limit:
            # Addresses are always looked up, so that an MX host without one is reported
            # from DNS, and a probe connects to exactly what DNS said.
            plan = await resolve_targets(
                spec.host,
                mx=fleet.mx,
                all_addresses=True,
                port=port,
                family=options.family,
                resolver=fleet.resolver,
                timeout=fleet.dns_timeout,
            )
    except ResolveError as exc:
        return None, [_unresolved(spec.host, port, options, exc)]
    if plan.source == "null-mx":
        return plan, [
            TargetResult(
                Target(plan.domain, port, None, options.tls),
                notes=(_mx_finding(plan, None, Status.UNKNOWN),),
            )
        ]
    slots: list[_Slot] = []
    for pool, host in enumerate(plan.hosts):
        if not host.addresses:
            status = Status.CRITICAL if "mx_none_usable" in plan.notes else Status.WARNING
            slots.append(
                TargetResult(
                    Target(host.name, port, None, options.tls),
                    notes=(_mx_finding(plan, host, status),),
                )
            )
        elif fleet.all_addresses:
            slots.extend(
                _Job(
                    host.name,
                    dataclasses.replace(job_options, connect_to=(address,)),
                    plan,
                    host,
                    pool if len(host.addresses) > 1 else None,
                )
                for address in host.addresses
            )
        else:
            slots.append(
                _Job(
                    host.name,
                    dataclasses.replace(job_options, connect_to=host.addresses),
                    plan,
                    host,
                )
            )
    return plan, slots


async def _probe(
    job: _Job, policy: Policy | None, on_event: Callable[[ProbeEvent], None] | None
) -> TargetResult:
    from smtpprobe.probe import probe

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
    params = {
        "domain": plan.domain,
        "host": host.name if host else plan.domain,
        "port": plan.port,
        "preference": host.preference if host else None,
    }
    if status is None:
        status = Status.WARNING if _MX_WARNINGS & set(notes) else Status.OK
    data: dict[str, Any] = {
        "domain": plan.domain,
        "source": plan.source,
        "host": host.name if host else None,
        "preference": host.preference if host else None,
        "addresses": list(host.addresses) if host else [],
        "notes": notes,
    }
    # mx.py names its notes "mx_<what>"; the words are the "note-<what>" tables.
    return Finding(
        "mx",
        status,
        plan.source,
        params,
        data=data,
        notes=tuple(Note("note-" + note.removeprefix("mx_").replace("_", "-")) for note in notes),
    )


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
        notes = tuple(
            Note(
                "note-" + d.key.removeprefix("mx_pool_").replace("_", "-"),
                {"values": [[member, value] for member, value in d.values]},
            )
            for d in found
        )
        finding = Finding(
            "pool",
            Status.worst(d.status for d in found),
            "differ" if found else "alike",
            {"host": host},
            notes=notes,
            data={
                "host": host,
                "members": [r.target.address for r in reports],
                "disagreements": [
                    {"key": d.key, "status": d.status.value, "values": {m: v for m, v in d.values}}
                    for d in found
                ],
            },
        )
        for index in members:
            result = results[index]
            if result.report is not None:
                results[index] = dataclasses.replace(result, report=_with(result.report, finding))
