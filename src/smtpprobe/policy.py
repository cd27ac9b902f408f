"""Monitoring policies (``--expect-vrfy``, ``--cert-days`` …) judged against a probe report.

Pure: `apply_policy` reads a `ProbeReport` and returns it with one `Finding` per policy
that is set, OK or violated, each with its evidence. A violated policy is CRITICAL,
except the WARNING levels of ``--cert-days`` and ``--warning``; a policy the session
ended too early to check is UNKNOWN.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from smtpprobe.interpret.checks import greeted
from smtpprobe.interpret.ehlo import parse_ehlo
from smtpprobe.report import Exchange, Finding, ProbeReport, Session, Status, Verdict
from smtpprobe.transcript import banner, exchanges_for

__all__ = [
    "MATCH_SECONDS",
    "POLICY_CHECKS",
    "Expectation",
    "Policy",
    "SmugglingExpectation",
    "apply_policy",
    "search_within",
]


class Expectation(StrEnum):
    """What ``--expect-vrfy`` (``-expn``, ``-rcpt``) accepts as the command's verdict."""

    HIDDEN = "hidden"
    DISABLED = "disabled"
    NOT_DISCLOSING = "not-disclosing"

    def accepts(self, verdict: Verdict) -> bool:
        if self is Expectation.NOT_DISCLOSING:
            return verdict in (Verdict.HIDDEN, Verdict.DISABLED, Verdict.REFUSED)
        return str(verdict) == str(self)


class SmugglingExpectation(StrEnum):
    """What ``--expect-smuggling`` accepts as the smuggling check's verdict."""

    NOT_VULNERABLE = "not-vulnerable"
    REJECTS_BARE_LF = "rejects-bare-lf"

    def accepts(self, verdict: Verdict) -> bool:
        if self is SmugglingExpectation.NOT_VULNERABLE:
            return verdict in (Verdict.NOT_VULNERABLE, Verdict.REJECTS_BARE_LF)
        return verdict is Verdict.REJECTS_BARE_LF


@dataclass(frozen=True, slots=True)
class Policy:
    """The thresholds and expectations a monitoring run holds the server to.

    ``cert_days`` is ``(warning, critical)``: fewer days left than that is WARNING or
    CRITICAL. ``time_warning``/``time_critical`` bound the whole session in seconds,
    ``max_banner_delay`` the wait for the greeting. ``expect_banner`` is searched in
    the greeting's lines as received (``220 mx.example.org ESMTP …``).
    """

    expect_vrfy: Expectation | None = None
    expect_expn: Expectation | None = None
    expect_rcpt: Expectation | None = None
    require_starttls: bool = False
    require_valid_cert: bool = False
    cert_days: tuple[int, int] | None = (21, 7)
    time_warning: float | None = None
    time_critical: float | None = None
    max_banner_delay: float | None = None
    expect_banner: re.Pattern[str] | None = None
    expect_extensions: tuple[str, ...] = ()
    expect_smuggling: SmugglingExpectation | None = None
    # --expect-relay: the relay verdict required ("closed"), judged like --expect-vrfy.
    expect_relay: str | None = None
    # --expect-reply: a pattern per --command, in order (check_smtp -R); None: unchecked.
    expect_replies: tuple[re.Pattern[str] | None, ...] = ()


_Values = dict[str, Any]
# How a policy line names the check it holds to an expectation (else the command verb).
_COMMAND_NAMES = {"smuggling": "SMTP smuggling"}
_Check = Callable[[Session, ProbeReport, Policy], Finding | None]


def _finding(
    check: str,
    status: Status,
    reason: str,
    params: _Values,
    data: _Values,
    *,
    evidence: tuple[Exchange, ...] = (),
) -> Finding:
    """A policy finding; its words (and advice, for a violation) come from the views."""
    return Finding(check, status, reason, params, evidence=evidence, data={"policy": True, **data})


def _not_reached(check: str, option: str) -> Finding:
    return Finding(check, Status.UNKNOWN, "not-reached", {"option": option}, data={"policy": True})


def _expectation(command: str) -> _Check:
    check = f"expect-{command}"

    def judge(session: Session, report: ProbeReport, policy: Policy) -> Finding | None:
        expected: Expectation | SmugglingExpectation | None = getattr(policy, f"expect_{command}")
        if expected is None:
            return None
        found = report.finding(command)
        verdict = found.verdict if found is not None else None
        verdict = verdict or Verdict.NOT_TESTED
        text = {
            "command": _COMMAND_NAMES.get(command, command.upper()),
            "expected": expected.value,
            "actual": verdict.value,
            "option": check,
        }
        data = {"expected": expected.value, "actual": verdict.value}
        evidence = found.evidence if found is not None else ()
        if verdict in (Verdict.INCONCLUSIVE, Verdict.NOT_TESTED):
            status, key = Status.UNKNOWN, "undecided"
        elif expected.accepts(verdict):
            status, key = Status.OK, "ok"
        else:
            status, key = Status.CRITICAL, "violated"
        # The verdict finding beside this one already says how to change the command.
        return _finding(check, status, key, text, data, evidence=evidence)

    return judge


def _require_starttls(session: Session, report: ProbeReport, policy: Policy) -> Finding | None:
    if not policy.require_starttls:
        return None
    check = "require-starttls"
    evidence = tuple(exchanges_for(session, "EHLO", "STARTTLS"))
    tls = session.tls
    if tls is not None:
        text = {"mode": tls.mode.value, "version": tls.version or "-"}
        return _finding(
            check,
            Status.OK,
            "ok",
            text,
            {"encrypted": True, "mode": tls.mode.value},
            evidence=evidence,
        )
    if banner(session) is None and not _tls_failed(session):
        return _not_reached(check, "--require-starttls")
    found = report.finding("starttls")
    params = {"starttls": found.reason if found is not None else None}
    return _finding(
        check, Status.CRITICAL, "violated", params, {"encrypted": False}, evidence=evidence
    )


def _tls_failed(session: Session) -> bool:
    return session.error is not None and session.error.kind == "tls"


def _require_valid_cert(session: Session, report: ProbeReport, policy: Policy) -> Finding | None:
    if not policy.require_valid_cert:
        return None
    check, tls = "require-valid-cert", session.tls
    evidence = tuple(exchanges_for(session, "STARTTLS"))
    if tls is not None and tls.verified:
        return _finding(check, Status.OK, "ok", {}, {"verified": True}, evidence=evidence)
    why = tls.verify_error if tls is not None else ""
    if why:
        key = "violated"
    elif _tls_failed(session):
        # The handshake failed (no --insecure): the reason is the session's error.
        return Finding(
            check,
            Status.CRITICAL,
            "handshake-failed",
            {},
            evidence=evidence,
            cause=session.error,
            data={"policy": True, "verified": False, "why": None},
        )
    elif tls is not None:
        key = "unchecked"
    elif banner(session) is None:
        return _not_reached(check, "--require-valid-cert")
    else:
        key = "no-tls"
    return _finding(
        check,
        Status.CRITICAL,
        key,
        {"why": why or None},
        {"verified": False, "why": why or None},
        evidence=evidence,
    )


def _cert_days(session: Session, report: ProbeReport, policy: Policy) -> Finding | None:
    tls = session.tls
    if policy.cert_days is None or tls is None or tls.certificate is None:
        return None
    days = tls.certificate.days_left
    if days is None:
        return None
    warning, critical = policy.cert_days
    if days < 0:
        status, key = Status.CRITICAL, "expired"
    elif days < critical:
        status, key = Status.CRITICAL, "critical"
    elif days < warning:
        status, key = Status.WARNING, "warning"
    else:
        status, key = Status.OK, "ok"
    text = {"days": days, "ago": -days, "warning": warning, "critical": critical}
    data = {"days_left": days, "warning": warning, "critical": critical}
    return _finding(
        "cert-days", status, key, text, data, evidence=tuple(exchanges_for(session, "STARTTLS"))
    )


def _time(session: Session, report: ProbeReport, policy: Policy) -> Finding | None:
    warning, critical = policy.time_warning, policy.time_critical
    if warning is None and critical is None:
        return None
    elapsed = session.elapsed
    slowest = max(session.exchanges, key=lambda ex: ex.elapsed, default=None)
    evidence = (slowest,) if slowest is not None else ()
    data = {"elapsed_s": round(elapsed, 6), "warning": warning, "critical": critical}
    text: _Values = {"seconds": f"{elapsed:.3f}"}
    for status, limit, option in (
        (Status.CRITICAL, critical, "critical"),
        (Status.WARNING, warning, "warning"),
    ):
        if limit is not None and elapsed > limit:
            text.update(limit=f"{limit:g}", option=option)
            return _finding("time", status, "violated", text, data, evidence=evidence)
    text["limit"] = f"{warning if warning is not None else critical:g}"
    return _finding("time", Status.OK, "ok", text, data, evidence=evidence)


def _banner_delay(session: Session, report: ProbeReport, policy: Policy) -> Finding | None:
    limit = policy.max_banner_delay
    if limit is None:
        return None
    found = banner(session)
    # A greeting that never came but was awaited longer than the limit still violates it.
    if found is None or (found.reply is None and found.elapsed <= limit):
        return _not_reached("banner-delay", "--max-banner-delay")
    text = {"seconds": f"{found.elapsed:.3f}", "limit": f"{limit:g}"}
    data = {"delay_s": round(found.elapsed, 6), "limit": limit}
    if found.elapsed > limit:
        return _finding("banner-delay", Status.CRITICAL, "violated", text, data, evidence=(found,))
    return _finding("banner-delay", Status.OK, "ok", text, data, evidence=(found,))


# ``--expect-banner`` runs the user's regex on server text: ``(a+)+$`` against 40 a's and a
# b takes minutes in a backtracking engine. The search gets this long, in a child process
# that is killed when it is up (re cannot be interrupted, not even from another thread).
MATCH_SECONDS = 1.0
_MATCH_CHARS = 4096  # of the greeting: a 32 KiB multi-line banner is not searched whole


def search_within(pattern: re.Pattern[str], text: str, seconds: float) -> bool | None:
    """Whether *pattern* is found in *text* (its first 4096 characters); None when the
    search did not end within *seconds*."""
    import os

    text = text[:_MATCH_CHARS]
    if not hasattr(os, "fork"):  # pragma: no cover - POSIX only; the cap still bounds it
        return pattern.search(text) is not None
    import select
    import signal

    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child, which leaves by _exit
        try:
            os.write(write_end, b"1" if pattern.search(text) is not None else b"0")
        finally:
            os._exit(0)
    os.close(write_end)
    answer = b""
    try:
        if select.select([read_end], [], [], seconds)[0]:
            answer = os.read(read_end, 1)
    finally:
        os.close(read_end)
        if not answer:
            os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
    return {b"1": True, b"0": False}.get(answer)


def _expect_banner(session: Session, report: ProbeReport, policy: Policy) -> Finding | None:
    pattern = policy.expect_banner
    if pattern is None:
        return None
    found = banner(session)
    if found is None or found.reply is None:
        return _not_reached("expect-banner", "--expect-banner")
    matched = search_within(pattern, "\n".join(found.reply.wire_lines()), MATCH_SECONDS)
    if matched is None:  # the user's pattern backtracked past the bound: no verdict
        return _finding(
            "expect-banner",
            Status.UNKNOWN,
            "timeout",
            {"pattern": pattern.pattern, "seconds": MATCH_SECONDS},
            {"pattern": pattern.pattern, "matched": None},
            evidence=(found,),
        )
    status, key = (Status.OK, "ok") if matched else (Status.CRITICAL, "violated")
    return _finding(
        "expect-banner",
        status,
        key,
        {"pattern": pattern.pattern},
        {"pattern": pattern.pattern, "matched": matched},
        evidence=(found,),
    )


def _expect_replies(session: Session, report: ProbeReport, policy: Policy) -> Finding | None:
    """Each ``--command``'s reply against its ``--expect-reply`` (searched in the reply
    as received): CRITICAL on the first that does not match, UNKNOWN when none came."""
    wanted = [
        (line, pattern)
        for line, pattern in zip(session.options.commands, policy.expect_replies, strict=False)
        if pattern
    ]
    if not wanted:
        return None
    results: list[dict[str, Any]] = []
    evidence: list[Exchange] = []
    worst: tuple[Status, str, dict[str, Any]] = (Status.OK, "ok", {"count": len(wanted)})
    for line, pattern in wanted:
        exchange = next(
            (ex for ex in session.exchanges if ex.command.decode("latin-1") == line), None
        )
        reply = exchange.reply if exchange is not None else None
        matched = (
            None
            if reply is None
            else search_within(pattern, "\n".join(reply.wire_lines()), MATCH_SECONDS)
        )
        results.append(
            {
                "command": line,
                "pattern": pattern.pattern,
                "matched": matched,
                "code": reply.code if reply is not None else None,
            }
        )
        if exchange is not None:
            evidence.append(exchange)
        params = {
            "command": line,
            "pattern": pattern.pattern,
            "code": reply.code if reply is not None else None,
        }
        if matched is False and worst[0] is not Status.CRITICAL:
            worst = (Status.CRITICAL, "violated", params)
        elif matched is None and worst[0] is Status.OK:
            worst = (Status.UNKNOWN, "not-reached" if reply is None else "timeout", params)
    status, reason, params = worst
    return _finding(
        "expect-reply", status, reason, params, {"results": results}, evidence=tuple(evidence)
    )


def _expect_extensions(session: Session, report: ProbeReport, policy: Policy) -> Finding | None:
    wanted = policy.expect_extensions
    if not wanted:
        return None
    # Before and inside TLS: STARTTLS is listed only before (RFC 3207 §4.2), AUTH often
    # only inside, so an extension counts when any accepted EHLO of the session lists it.
    ehlos = tuple(
        ex for ex in exchanges_for(session, "EHLO") if ex.reply is not None and ex.reply.code == 250
    )
    replies = [ex.reply for ex in ehlos if ex.reply is not None]
    if session.ehlo_before_tls is not None and session.ehlo_before_tls.code == 250:
        replies.append(session.ehlo_before_tls)
    if not replies and not greeted(session):
        return _not_reached("expect-extension", "--expect-extension")
    infos = [parse_ehlo(reply) for reply in replies]
    missing = [name for name in wanted if not any(info.has(name) for info in infos)]
    text = {"names": " ".join(wanted), "missing": " ".join(missing)}
    data = {"expected": list(wanted), "missing": missing}
    if missing:
        return _finding("expect-extension", Status.CRITICAL, "violated", text, data, evidence=ehlos)
    return _finding("expect-extension", Status.OK, "ok", text, data, evidence=ehlos)


def _expect_relay(session: Session, report: ProbeReport, policy: Policy) -> Finding | None:
    expected = policy.expect_relay
    if expected is None:
        return None
    found = report.finding("relay")
    actual = found.verdict if found is not None and found.verdict else Verdict.NOT_TESTED
    text = {
        "command": "relay",
        "expected": expected,
        "actual": actual.value,
        "option": "expect-relay",
    }
    evidence = found.evidence if found is not None else ()
    if actual in (Verdict.INCONCLUSIVE, Verdict.NOT_TESTED):
        status, key = Status.UNKNOWN, "undecided"
    elif actual.value == expected:
        status, key = Status.OK, "ok"
    else:
        status, key = Status.CRITICAL, "violated"
    return _finding(
        "expect-relay",
        status,
        key,
        text,
        {"expected": expected, "actual": actual.value},
        evidence=evidence,
    )


_CHECKS: dict[str, _Check] = {
    "expect-vrfy": _expectation("vrfy"),
    "expect-expn": _expectation("expn"),
    "expect-rcpt": _expectation("rcpt"),
    "require-starttls": _require_starttls,
    "require-valid-cert": _require_valid_cert,
    "cert-days": _cert_days,
    "time": _time,
    "banner-delay": _banner_delay,
    "expect-banner": _expect_banner,
    "expect-extension": _expect_extensions,
    "expect-smuggling": _expectation("smuggling"),
    "expect-relay": _expect_relay,
    "expect-reply": _expect_replies,
}
POLICY_CHECKS = tuple(_CHECKS)
"""Every check name a policy finding may carry, in report order."""


def apply_policy(report: ProbeReport, policy: Policy) -> ProbeReport:
    """*report* with one finding added per policy that is set (after the interpreter's)."""
    added = tuple(
        found
        for judge in _CHECKS.values()
        if (found := judge(report.session, report, policy)) is not None
    )
    return dataclasses.replace(report, findings=report.findings + added) if added else report
