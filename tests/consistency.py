"""Every finding's claim, checked against the recorded session by an independent predicate.

The interpreter decides a finding's reason; the predicates here re-read the transcript
their own way and say whether that reason is true of it. A reason without a predicate is
itself a failure: a new claim needs a way to be checked. `conftest.py` runs this over
every finding the suite builds (interpreter, policies, MX and pools), through the CLI too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from smtpprobe.kb import load
from smtpprobe.report import Exchange, Finding, Session, TlsMode, Verdict

Predicate = Callable[[Session, Finding], bool]


def _verb(exchange: Exchange) -> str:
    words = exchange.command.decode("latin-1").split()
    return "CONNECT" if not words else "AUTH" if exchange.phase == "AUTH" else words[0].upper()


def _of(session: Session, verb: str) -> list[Exchange]:
    # The relay check's MAIL/RCPT (phase RELAY) are not the probe's own, as in
    # smtpprobe.transcript.exchanges_for.
    return [ex for ex in session.exchanges if _verb(ex) == verb and ex.phase != "RELAY"]


def _codes(session: Session, verb: str) -> list[int]:
    return [ex.reply.code for ex in _of(session, verb) if ex.reply is not None]


def _ehlo_lists(session: Session, keyword: str) -> bool:
    replies = [ex.reply for ex in _of(session, "EHLO")] + [session.ehlo_before_tls]
    return any(
        r is not None
        and r.code == 250
        and any(line.split()[:1] == [keyword] for line in (text.upper() for text in r.lines[1:]))
        for r in replies
    )


def _greeted(session: Session) -> bool:
    return 250 in _codes(session, "EHLO") + _codes(session, "HELO")


def _tls_error(session: Session) -> bool:
    error = session.error
    return error is not None and (error.kind == "tls" or error.phase == "tls")


def _handshake_started(session: Session) -> bool:
    return session.tls is not None or _tls_error(session) or 220 in _codes(session, "STARTTLS")


def _banner(session: Session) -> Exchange | None:
    return next(iter(_of(session, "CONNECT")), None)


def _code_of(finding: Finding, key: str) -> Any:
    return finding.params.get(key)


# -- the session's own facts ----------------------------------------------------------------


def _connection(reason: str) -> Predicate:
    def check(session: Session, finding: Finding) -> bool:
        error, first = session.error, _banner(session)
        kind = error.kind if error is not None else ""
        return {
            "ok": error is None
            and session.complete
            and first is not None
            and first.reply is not None
            and first.reply.code == 220,
            "resolve-failed": kind == "resolve",
            "connect-failed": error is not None
            and (kind in ("connect", "timeout") or not session.exchanges),
            "tls-failed": _tls_error(session),
            "tls-failed-early": _tls_error(session) and first is None,
            "silent": kind == "timeout"
            and first is not None
            and first.reply is None
            and not first.partial,
            "no-banner": first is None or first.reply is None or first.reply.code != 220,
            "ended-before-ehlo": (error is not None or not session.complete)
            and not _greeted(session),
            "incomplete": (error is not None or not session.complete) and _greeted(session),
            "interrupted": kind == "interrupted",
            "not-probed": finding.cause is not None,
        }[reason]

    return check


def _banner_check(reason: str) -> Predicate:
    def check(session: Session, finding: Finding) -> bool:
        first = _banner(session)
        if reason == "not-reached":
            return first is None
        if reason == "no-greeting":
            return first is not None and first.reply is None
        if first is None or first.reply is None or first.reply.code != _code_of(finding, "code"):
            return False
        return (first.reply.code == 220) == (reason == "ok")

    return check


def _ehlo(reason: str) -> Predicate:
    def check(session: Session, finding: Finding) -> bool:
        ehlo, helo = _codes(session, "EHLO"), _codes(session, "HELO")
        tried = _of(session, "EHLO") + _of(session, "HELO")
        if reason == "accepted":
            accepted = [
                ex.reply
                for ex in _of(session, "EHLO")
                if ex.reply is not None and ex.reply.code == 250
            ]
            names = {
                line.split()[0].upper() for r in accepted for line in r.lines[1:] if line.split()
            }
            return bool(accepted) and set(finding.params["names"]) <= names
        return {
            "helo-fallback": 250 not in ehlo and 250 in helo,
            "refused": bool(ehlo + helo) and 250 not in ehlo + helo,
            "no-reply": bool(tried) and not ehlo + helo,
            "not-reached": not tried,
        }[reason]

    return check


def _starttls(reason: str) -> Predicate:
    def check(session: Session, finding: Finding) -> bool:
        listed, sent = _ehlo_lists(session, "STARTTLS"), _of(session, "STARTTLS")
        codes = [ex.reply.code for ex in sent if ex.reply is not None]
        return {
            "used": listed and 220 in codes and session.tls is not None,
            "not-offered": not listed,
            "implicit": session.tls is not None and session.tls.mode is TlsMode.IMPLICIT,
            "not-applicable": not sent
            and (session.tls is None or session.tls.mode is not TlsMode.IMPLICIT),
            "refused": listed and bool(codes) and 220 not in codes,
            "handshake-failed": session.tls is None and (220 in codes or _tls_error(session)),
            "not-used": listed and not sent and session.options.tls is TlsMode.NONE,
            "skipped": not sent and "starttls" not in session.options.steps,
            "not-reached": not sent,
        }[reason]

    return check


def _tls(reason: str) -> Predicate:
    def check(session: Session, finding: Finding) -> bool:
        tls = session.tls
        days = tls.certificate.days_left if tls is not None and tls.certificate else None
        return {
            "none": tls is None and not _handshake_started(session),
            "not-reached": tls is None and not _greeted(session),
            "handshake-failed": tls is None and _handshake_started(session),
            "verified": tls is not None and tls.verified,
            "unverified": tls is not None and not tls.verified and bool(tls.verify_error),
            "expired": days is not None and days < 0,
            "not-checked": tls is not None and not tls.verified and not tls.verify_error,
        }[reason]

    return check


def _help(reason: str) -> Predicate:
    def check(session: Session, finding: Finding) -> bool:
        sent = _of(session, "HELP")
        answered = [ex.reply for ex in sent if ex.reply is not None]
        if reason in ("skipped", "not-reached"):
            return not sent
        if reason == "no-reply":
            return bool(sent) and not answered
        first = answered[0] if answered else None
        if first is None or first.code != _code_of(finding, "code"):
            return False
        words = set(re.findall(r"[A-Za-z0-9-]+", " ".join(first.lines).upper()))
        topics = set(finding.params.get("topics", ()))
        # "lists N commands": every one of them is a word of that very reply.
        return (
            topics <= words
            and {
                "listed": first.code in (211, 214) and bool(topics),
                "answered": first.code in (211, 214) and not topics,
                "nonconforming": first.klass not in (4, 5)
                and first.code not in (211, 214, 500, 502, 504),
                "not-implemented": first.code in (500, 502, 504),
                "refused": first.klass in (4, 5),
            }[reason]
        )

    return check


_COMMAND = {"vrfy": "VRFY", "expn": "EXPN", "rcpt": "RCPT"}


def _out_of_step(session: Session) -> bool:
    """A trace of replies out of step: bytes waiting before a command or left unread at
    the end, QUIT not answered 221, an unlisted success or intermediate code, or a
    failure to NOOP, RSET or QUIT (which cannot fail)."""
    if session.unsolicited or (session.desync is not None and session.desync.data):
        return True
    rules = load("en")
    for ex in session.exchanges:
        verb = _verb(ex)
        if ex.reply is None or verb == "CONNECT":
            continue
        code = ex.reply.code
        if verb == "QUIT" and code != 221:
            return True
        if rules.reply_allowed(code, verb) is False and (
            verb in ("NOOP", "RSET") or code // 100 in (2, 3) and (verb, code) != ("HELP", 250)
        ):
            return True
    return False


def _verdict(reason: str) -> Predicate:
    def check(session: Session, finding: Finding) -> bool:
        command = _COMMAND[finding.check]
        sent = _of(session, command)
        if reason in ("skipped", "not-reached"):
            return not sent and finding.verdict is Verdict.NOT_TESTED
        if reason == "mail-refused":
            mails = _of(session, "MAIL")
            return bool(mails) and (mails[-1].reply is None or mails[-1].reply.klass != 2)
        if reason == "no-control":
            return bool(sent)
        # The pair's codes are the codes of its two exchanges, as recorded.
        # The pair the summary names: its real name's and its control's exchanges.
        real = [
            ex
            for ex in finding.evidence
            if ex.role == "real" and ex.argument == finding.params.get("real")
        ]
        control = [
            ex
            for ex in finding.evidence
            if ex.role == "control" and ex.argument == finding.params.get("control")
        ]
        if not real or not all(ex in session.exchanges for ex in finding.evidence):
            return False
        real_code = real[0].reply.code if real[0].reply is not None else None
        control_code = control[0].reply.code if control and control[0].reply is not None else None
        if _code_of(finding, "real_code") != real_code or (
            control and _code_of(finding, "control_code") != control_code
        ):
            return False
        codes = [c for c in (real_code, control_code) if c is not None]
        replies = [ex.reply for ex in (*real[:1], *control[:1]) if ex.reply is not None]
        return {
            "differs": len(replies) == 2
            and (replies[0].code != replies[1].code or replies[0].enhanced != replies[1].enhanced),
            "same-reply": len(set(codes)) == 1 and codes[0] // 100 == 2 and len(codes) == 2,
            "not-implemented": bool(codes) and all(c in (500, 502, 504) for c in codes),
            "same-refusal": len(set(codes)) == 1 and codes[0] // 100 == 5,
            "both-unknown": len(codes) == 2 and all(c // 100 == 5 for c in codes),
            "bad-sequence": 503 in codes,
            "temporary": any(c // 100 == 4 for c in codes),
            "syntax": 501 in codes,
            "no-reply": len(replies) < 2,
            "error": any(ex.error is not None for ex in (*real, *control)),
            "unexpected-code": any(load("en").reply_allowed(c, command) is False for c in codes),
            "desynchronised": _out_of_step(session),
            "answered-alone": real_code in (250, 251) and not control,
            "neither-confirms": real_code == 252 and not control,
            "refused-alone": real_code is not None and real_code // 100 == 5 and not control,
            "mixed": finding.verdict is Verdict.INCONCLUSIVE,
            "other": len(codes) == 2,
        }[reason]

    return check


def _auth(reason: str) -> Predicate:
    def check(session: Session, finding: Finding) -> bool:
        sent = [ex for ex in session.exchanges if ex.phase == "AUTH"]
        codes = [ex.reply.code for ex in sent if ex.reply is not None]
        if reason == "not-tested":
            return session.options.auth_user is None or "auth" not in session.options.steps
        if reason in (
            "not-offered",
            "not-offered-plaintext",
            "no-mechanism",
            "plaintext-refused",
            "unverified-tls",
        ):
            return not sent and bool(session.auth_skipped)
        if reason == "not-reached":
            return not sent
        if reason == "no-reply":
            return bool(sent) and sent[-1].reply is None
        if reason == "desynchronised":
            return session.desync is not None and bool(sent)
        expected = {
            "ok": 235,
            "ok-plaintext": 235,
            "cancelled": 334,
            "rejected": 535,
            "too-weak": 534,
            "temporary": 454,
            "transition": 432,
            "encryption-required": 538,
            "tls-first": 530,
            "mechanism-unknown": 504,
            "out-of-sequence": 503,
        }.get(reason)
        if reason == "ok-plaintext" and session.tls is not None:
            return False
        return (expected in codes) if expected is not None else bool(codes)

    return check


def _deviations(reason: str) -> Predicate:
    def check(session: Session, finding: Finding) -> bool:
        items = finding.data.get("items", [])
        return (not items) if reason == "none" else (len(items) == finding.params["count"] > 0)

    return check


# -- send, relay and smuggling ----------------------------------------------------------------


def _relay(reason: str) -> Predicate:
    def check(session: Session, finding: Finding) -> bool:
        tried = [ex for ex in session.exchanges if ex.phase == "RELAY"]
        rcpts = [ex for ex in tried if ex.command.upper().startswith(b"RCPT")]
        accepted = any(ex.reply is not None and ex.reply.klass == 2 for ex in rcpts)
        return {
            "open": accepted,
            "open-trusted-source": accepted,
            "closed": bool(tried) and not accepted,
            "closed-trusted-source": bool(tried) and not accepted,
            "inconclusive": bool(tried) and not accepted,
            "not-reached": not tried,
        }[reason]

    return check


def _delivery(reason: str) -> Predicate:
    def check(session: Session, finding: Finding) -> bool:
        mail, rcpt = _codes(session, "MAIL"), _codes(session, "RCPT")
        ends = [
            ex.reply.code
            for ex in session.exchanges
            if ex.phase in ("DATA_END", "BDAT") and ex.reply is not None
        ]
        data = _codes(session, "DATA")
        accepted = bool(ends) and ends[-1] // 100 == 2
        return {
            "accepted": accepted,
            "accepted-no-queue-id": accepted,
            "partially-accepted": accepted and any(c // 100 != 2 for c in rcpt),
            "mail-refused": bool(mail) and mail[-1] // 100 != 2,
            "no-recipient": bool(rcpt) and all(c // 100 != 2 for c in rcpt),
            "data-refused": any(c not in (250, 354) for c in data + ends) and not accepted,
            "stopped": not ends,
            "not-sent": not ends,
        }[reason]

    return check


def _smuggling(reason: str) -> Predicate:
    def check(session: Session | None, finding: Finding) -> bool:
        outcomes = [c["outcome"] for c in finding.data.get("candidates", [])]
        ended = "ended-early" in outcomes
        return {
            "vulnerable": ended and bool(finding.data.get("ended_early")),
            "rejects-bare-lf": not ended and "rejected" in outcomes,
            "not-vulnerable": not ended
            and bool(outcomes)
            and all(o == "content" for o in outcomes),
            "inconclusive": not ended and "untested" in outcomes,
        }[reason]

    return check


def _mail_tls(session: Session | None, finding: Finding) -> bool:
    """MTA-STS, TLS-RPT and DANE rest on DNS and HTTPS facts, not on the SMTP session: the
    verdict must agree with the status the reason gives."""
    verdict = finding.verdict.value if finding.verdict is not None else None
    if verdict == "mismatch":
        return finding.status.value == "critical"
    if verdict == "valid":
        return finding.status.value == "ok" or bool(finding.notes)
    return True


# -- policies, MX and pools -------------------------------------------------------------------


def _policy(session: Session, finding: Finding) -> bool:
    """A policy's reason agrees with its status: a violation is never OK, and back."""
    reason, status = finding.reason, finding.status.value
    if reason == "ok":
        return status == "ok"
    if reason in ("not-reached", "undecided", "timeout"):  # timeout: --expect-banner's bound
        return status == "unknown"
    if finding.check == "require-starttls":
        return session.tls is None
    if finding.check == "require-valid-cert":
        return session.tls is None or not session.tls.verified
    return status in ("warning", "critical")


def _mx(session: Session, finding: Finding) -> bool:
    return finding.reason == finding.data.get("source")


def _pool(session: Session, finding: Finding) -> bool:
    return (finding.reason == "alike") == (not finding.notes)


_FAMILIES: dict[str, Callable[[str], Predicate]] = {
    "connection": _connection,
    "banner": _banner_check,
    "ehlo": _ehlo,
    "starttls": _starttls,
    "tls": _tls,
    "help": _help,
    "vrfy": _verdict,
    "expn": _verdict,
    "rcpt": _verdict,
    "auth": _auth,
    "deviations": _deviations,
    "relay": _relay,
    "delivery": _delivery,
}
_WHOLE: dict[str, Predicate] = {
    "mx": _mx,
    "pool": _pool,
    "mta_sts": _mail_tls,
    "tls_rpt": _mail_tls,
    "dane": _mail_tls,
}
# Findings judged from their own recorded tests (each test's exchanges are in ``data``).
_OWN: dict[str, Callable[[str], Predicate]] = {"smuggling": _smuggling}
_POLICIES = ("expect-", "require-", "cert-days", "time", "banner-delay")


def violation(session: Session | None, finding: Finding) -> str:
    """Why *finding* is not borne out by *session*; ``""`` when it is."""
    family = _FAMILIES.get(finding.check)
    if finding.check in _OWN:
        try:
            holds = _OWN[finding.check](finding.reason)(session, finding)  # type: ignore[arg-type]
        except KeyError:
            return f"no predicate for {finding.check}/{finding.reason}"
    elif finding.check in _WHOLE:
        holds = _WHOLE[finding.check](session, finding)  # type: ignore[arg-type]
    elif finding.check.startswith(_POLICIES):
        holds = session is None or _policy(session, finding)
    elif family is None or session is None:
        return f"no predicate for {finding.check}/{finding.reason}"
    else:
        try:
            holds = family(finding.reason)(session, finding)
        except KeyError:
            return f"no predicate for {finding.check}/{finding.reason}"
    return "" if holds else f"{finding.check}/{finding.reason} is not what the session shows"
