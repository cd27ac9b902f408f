"""Whether the addresses behind one host name behave alike (an address pool).

`compare_pool` and `pool_disagreements` compare the reports of one host's addresses: the
most open member decides what outsiders learn, so any difference is worth a finding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from smtpprobe.interpret.ehlo import parse_ehlo
from smtpprobe.report import ProbeReport, Status, Verdict
from smtpprobe.transcript import banner, exchanges_for

__all__ = ["POOL_KEYS", "PoolDisagreement", "PoolValue", "compare_pool", "pool_disagreements"]

PoolValue = str | bool


@dataclass(frozen=True, slots=True)
class PoolDisagreement:
    """Members of one address pool that differ in one respect.

    ``key`` is a ui key (text may use {host} and {values}); ``values`` holds each member
    that has a value, as ``(address, value)``; ``status`` is how much it matters.
    """

    key: str
    status: Status
    values: tuple[tuple[str, PoolValue], ...]


def _member(report: ProbeReport) -> str:
    return report.target.address or report.target.host


def _reachable(report: ProbeReport) -> PoolValue | None:
    found = banner(report.session)
    return found is not None and found.reply is not None


def _banner_reply(report: ProbeReport) -> tuple[int, str] | None:
    found = banner(report.session)
    if found is None or found.reply is None:
        return None
    words = found.reply.lines[0].split()
    return found.reply.code, (words[0].lower() if words else "")


def _banner_code(report: ProbeReport) -> PoolValue | None:
    reply = _banner_reply(report)
    return None if reply is None else str(reply[0])


def _banner_domain(report: ProbeReport) -> PoolValue | None:
    reply = _banner_reply(report)
    return None if reply is None or reply[0] != 220 else reply[1]


def _starttls(report: ProbeReport) -> PoolValue | None:
    # Before TLS: the EHLO inside TLS never lists STARTTLS (RFC 3207 §4.2).
    session = report.session
    replies = [session.ehlo_before_tls] + [ex.reply for ex in exchanges_for(session, "EHLO")]
    accepted = [r for r in replies if r is not None and r.code == 250]
    return any(parse_ehlo(r).has("STARTTLS") for r in accepted) if accepted else None


def _verified(report: ProbeReport) -> PoolValue | None:
    tls = report.session.tls
    return None if tls is None else tls.verified


def _certificate(report: ProbeReport) -> PoolValue | None:
    tls = report.session.tls
    return None if tls is None or tls.certificate is None else tls.certificate.subject


def _verdict(check: str) -> Callable[[ProbeReport], PoolValue | None]:
    def read(report: ProbeReport) -> PoolValue | None:
        finding = report.finding(check)
        if finding is None or finding.verdict in (None, Verdict.NOT_TESTED):
            return None
        return str(finding.verdict)

    return read


_ASPECTS: tuple[tuple[str, Status, Callable[[ProbeReport], PoolValue | None]], ...] = (
    ("mx_pool_reachable", Status.WARNING, _reachable),
    ("mx_pool_banner_code", Status.WARNING, _banner_code),
    ("mx_pool_banner_domain", Status.OK, _banner_domain),
    ("mx_pool_starttls", Status.WARNING, _starttls),
    ("mx_pool_tls_verified", Status.WARNING, _verified),
    ("mx_pool_certificate", Status.OK, _certificate),
    ("mx_pool_vrfy", Status.WARNING, _verdict("vrfy")),
    ("mx_pool_expn", Status.WARNING, _verdict("expn")),
    ("mx_pool_rcpt", Status.WARNING, _verdict("rcpt")),
)
POOL_KEYS = tuple(key for key, _status, _read in _ASPECTS)
"""Every key `compare_pool` may report, in report order."""


def compare_pool(reports: Sequence[ProbeReport]) -> tuple[PoolDisagreement, ...]:
    """How the reports of one host's addresses differ. Members without a value for an
    aspect (not reached, not tested, no TLS) are left out of that aspect's comparison."""
    found: list[PoolDisagreement] = []
    for key, status, read in _ASPECTS:
        values = [(_member(r), v) for r in reports if (v := read(r)) is not None]
        if len({value for _member_name, value in values}) > 1:
            found.append(PoolDisagreement(key, status, tuple(values)))
    return tuple(found)


def pool_disagreements(reports: Sequence[ProbeReport]) -> list[str]:
    """The ui keys of `compare_pool`: empty when every member behaves alike."""
    return [disagreement.key for disagreement in compare_pool(reports)]
