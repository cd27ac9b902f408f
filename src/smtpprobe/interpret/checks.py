"""Findings about the session itself: connection, greeting, HELP, STARTTLS, TLS, deviations."""

from __future__ import annotations

import re
from typing import Any

from smtpprobe.errors import (
    ProbeConnectError,
    ProbeTLSError,
    ResolveError,
    ServerProtocolError,
    localized,
)
from smtpprobe.interpret._transcript import (
    banner,
    command_text,
    exchanges_for,
    is_skipped,
    milliseconds,
    verb,
)
from smtpprobe.interpret.ehlo import parse_ehlo
from smtpprobe.kb import KnowledgeBase
from smtpprobe.report import Exchange, Finding, Session, Status, TlsMode

__all__ = [
    "banner_finding",
    "connection_finding",
    "deviations_finding",
    "greeted",
    "help_finding",
    "starttls_finding",
    "tls_finding",
]

# RFC 5321 §4.3.2: 220 is the only greeting that opens a session; 421/554/521 turn it away.
_REFUSALS = frozenset({421, 554, 521})
# RFC 5321 §4.1 verbs and the common extension verbs, to pick HELP's command list out of prose.
_VERBS = frozenset(
    "HELO EHLO LHLO MAIL RCPT DATA BDAT RSET VRFY EXPN HELP NOOP QUIT TURN ETRN ATRN AUTH "
    "STARTTLS SEND SOML SAML VERB ONEX BURL DSN WIZ DEBUG".split()
)
_WORD = re.compile(r"[A-Z][A-Z0-9-]{2,19}")


def greeted(session: Session) -> bool:
    """True once EHLO or HELO got a 250: the session got past its greeting."""
    return any(
        ex.reply is not None and ex.reply.code == 250
        for ex in exchanges_for(session, "EHLO", "HELO")
    )


def _tls_asked(session: Session) -> bool:
    return session.options.tls in (TlsMode.STARTTLS, TlsMode.IMPLICIT)


def _usable_banner(session: Session) -> bool:
    found = banner(session)
    return found is not None and found.reply is not None and found.reply.code == 220


def _last_words(exchange: Exchange | None) -> str:
    """The server's last reply, one line, when it ended the session itself (e.g. ``421``)."""
    if exchange is None or exchange.reply is None:
        return "-"
    return f"{exchange.reply.code} {exchange.reply.lines[-1]}"


def connection_finding(session: Session, kb: KnowledgeBase) -> Finding:
    """CRITICAL when nothing usable came up, WARNING when the session broke after EHLO."""
    error, target = session.error, session.target
    address = target.address or target.host
    # The reply that ended the session (a 421), not the courtesy QUIT after it.
    last = next((ex for ex in reversed(session.exchanges) if verb(ex) != "QUIT"), None)
    values = {
        "target": str(target),
        "host": target.host,
        "address": address,
        "port": target.port,
        "ms": milliseconds(session.connect_elapsed) or "-",
        "phase": (error.phase if error is not None else "") or (last.phase if last else "-"),
        "message": localized(error, kb)[0] if error is not None else _last_words(last),
    }
    data: dict[str, Any] = {"complete": session.complete, "phase": values["phase"]}
    if isinstance(error, ResolveError):
        key, status = "probe_conn_resolve", Status.UNKNOWN
    elif isinstance(error, ProbeConnectError) or not session.exchanges and error is not None:
        key, status = "probe_conn_failed", Status.CRITICAL
    elif isinstance(error, ProbeTLSError) and _tls_asked(session):
        key, status = "probe_conn_tls", Status.CRITICAL
        values["mode"] = session.options.tls.value
    elif isinstance(error, ProbeTLSError) and banner(session) is None:
        key, status = "probe_conn_tls_early", Status.CRITICAL
    elif not _usable_banner(session):
        key, status = "probe_conn_no_banner", Status.CRITICAL
        if error is None:
            values["message"] = _last_words(banner(session))
    elif (error is not None or not session.complete) and not greeted(session) and not (
        is_skipped(session, "ehlo")
    ):
        key, status = "probe_conn_before_ehlo", Status.CRITICAL
    elif error is not None or not session.complete:
        key, status = "probe_conn_incomplete", Status.WARNING
    else:
        key, status = "probe_conn_ok", Status.OK
    return Finding("connection", status, kb.ui(key).format(**values), data=data)


def banner_finding(session: Session, kb: KnowledgeBase) -> Finding:
    """The greeting's code, the name it gives, and how long it took to come."""
    found = banner(session)
    if found is None or found.reply is None:
        # Without a connection the connection finding already says why; here it is unknown.
        unreached = isinstance(session.error, (ResolveError, ProbeConnectError))
        status = Status.UNKNOWN if unreached else Status.CRITICAL
        return Finding("banner", status, kb.ui("probe_banner_none"),
                       evidence=(found,) if found else ())
    reply = found.reply
    words = reply.lines[0].split()
    domain = words[0] if words else ""
    delay = milliseconds(found.elapsed)
    data = {"code": reply.code, "domain": domain, "delay_ms": delay, "text": list(reply.lines)}
    context = kb.context(reply.code, "CONNECT")
    meaning = context.meaning if context is not None else kb.basic(reply.code).title
    if reply.code == 220:
        summary = kb.ui("probe_banner_ok").format(code=reply.code, domain=domain or "-", ms=delay)
        return Finding("banner", Status.OK, summary, evidence=(found,), data=data)
    key = "probe_banner_refused" if reply.code in _REFUSALS else "probe_banner_unexpected"
    fix = context.fix if context is not None else kb.basic(reply.code).fix
    return Finding("banner", Status.CRITICAL, kb.ui(key).format(code=reply.code, meaning=meaning),
                   evidence=(found,), advice=fix, data=data)


def _help_topics(lines: tuple[str, ...]) -> list[str]:
    topics: list[str] = []
    for line in lines:
        for word in _WORD.findall(line):
            if (word in _VERBS or word.startswith("X")) and word not in topics:
                topics.append(word)
    return topics


def help_finding(session: Session, kb: KnowledgeBase) -> Finding:
    """HELP's code (RFC 5321 §4.3.2 wants 211 or 214) and the commands it lists."""
    helps = [ex for ex in exchanges_for(session, "HELP") if ex.reply is not None]
    if not helps:
        sent = tuple(exchanges_for(session, "HELP"))
        skipped = is_skipped(session, "help")
        key = ("probe_help_skipped" if skipped else "probe_help_none" if sent
               else "probe_help_not_reached")
        status = Status.OK if skipped or session.complete else Status.UNKNOWN
        return Finding("help", status, kb.ui(key), evidence=sent)
    found = helps[0]
    assert found.reply is not None
    code = found.reply.code
    topics = _help_topics(found.reply.lines) if found.reply.klass == 2 else []
    conforms = code in (211, 214)
    if conforms:
        key = "probe_help_ok"
    elif code in (500, 502, 504):
        key = "probe_help_not_implemented"
    elif found.reply.klass == 2:
        key = "probe_help_nonconform"
    else:
        key = "probe_help_refused"
    summary = kb.ui(key).format(code=code, count=len(topics), topics=" ".join(topics) or "-")
    data = {"code": code, "conforms": conforms, "topics": topics, "text": list(found.reply.lines)}
    return Finding("help", Status.OK, summary, evidence=(found,), data=data)


def _advertised(session: Session) -> bool:
    replies = [session.ehlo_before_tls] + [ex.reply for ex in exchanges_for(session, "EHLO")]
    return any(r is not None and r.code == 250 and parse_ehlo(r).has("STARTTLS") for r in replies)


def starttls_finding(session: Session, kb: KnowledgeBase) -> Finding:
    """Advertised? used? If it failed: WARNING, or CRITICAL when TLS was asked for."""
    mode = session.options.tls
    advertised = _advertised(session)
    sent = exchanges_for(session, "STARTTLS")
    data: dict[str, Any] = {"advertised": advertised, "used": False, "mode": mode.value}
    if mode is TlsMode.IMPLICIT:
        return Finding("starttls", Status.OK, kb.ui("probe_starttls_implicit"), data=data)
    key, status, values = _starttls_outcome(session, advertised, sent[-1] if sent else None, kb)
    data["used"] = key == "probe_starttls_used"
    return Finding("starttls", status, kb.ui(key).format(**values),
                   evidence=tuple(sent), data=data)


def _starttls_outcome(
    session: Session, advertised: bool, last: Exchange | None, kb: KnowledgeBase
) -> tuple[str, Status, dict[str, str]]:
    mode = session.options.tls
    tls_error = session.error if isinstance(session.error, ProbeTLSError) else None
    failed = Status.CRITICAL if mode is TlsMode.STARTTLS else Status.WARNING
    values = {"code": "-", "message": localized(tls_error, kb)[0] if tls_error else "-"}
    if last is not None:
        if last.reply is not None and last.reply.code != 220:
            values["code"] = str(last.reply.code)
            return "probe_starttls_failed_reply", failed, values
        if last.reply is None or session.tls is None:
            if last.error is not None and tls_error is None:
                values["message"] = localized(last.error, kb)[0]
            return "probe_starttls_failed_handshake", failed, values
        return "probe_starttls_used", Status.OK, values
    if tls_error is not None:
        return "probe_starttls_failed_handshake", failed, values
    if not greeted(session):
        return "probe_starttls_not_reached", Status.OK, values
    if mode is TlsMode.STARTTLS:
        return "probe_starttls_required_missing", Status.CRITICAL, values
    if not advertised:
        return "probe_starttls_not_offered", Status.OK, values
    if mode is TlsMode.NONE or is_skipped(session, "starttls"):
        return "probe_starttls_not_used", Status.OK, values
    return "probe_starttls_not_reached", Status.OK, values


def tls_finding(session: Session, kb: KnowledgeBase) -> Finding:
    """Version, cipher, certificate facts, and whether the certificate verified."""
    tls = session.tls
    if tls is None:
        return Finding("tls", Status.OK, kb.ui("probe_tls_none"), data={"used": False})
    cert = tls.certificate
    data: dict[str, Any] = {
        "used": True,
        "mode": tls.mode.value,
        "version": tls.version,
        "cipher": tls.cipher,
        "verified": tls.verified,
        "verify_error": tls.verify_error or None,
        "certificate": None if cert is None else {
            "subject": cert.subject,
            "issuer": cert.issuer,
            "sans": list(cert.sans),
            "not_after": cert.not_after.isoformat() if cert.not_after else None,
            "days_left": cert.days_left,
        },
    }
    values = {
        "version": tls.version or "-",
        "cipher": tls.cipher or "-",
        "subject": cert.subject if cert else "-",
        "issuer": cert.issuer if cert else "-",
        "not_after": cert.not_after.date().isoformat() if cert and cert.not_after else "-",
        "days": cert.days_left if cert and cert.days_left is not None else "-",
        "why": tls.verify_error or "-",
    }
    if cert is not None and cert.days_left is not None and cert.days_left < 0:
        key, status = "probe_tls_expired", Status.WARNING
    elif tls.verified:
        key, status = "probe_tls_ok", Status.OK
    elif tls.verify_error:
        # --insecure only lets the probe go on; the certificate still fails to verify.
        key, status = "probe_tls_unverified", Status.WARNING
    else:
        key, status = "probe_tls_insecure", Status.OK
    return Finding("tls", status, kb.ui(key).format(**values), data=data)


def _deviation(exchange: Exchange, kind: str, detail: str, code: int | None) -> dict[str, Any]:
    return {
        "phase": exchange.phase,
        "command": command_text(exchange.command),
        "code": code,
        "kind": kind,
        "detail": detail,
    }


def _not_smtp(
    exchange: Exchange, error: ServerProtocolError, kb: KnowledgeBase
) -> dict[str, Any]:
    """A line that is no reply at all (RFC 5321 §4.2): the session ended on it."""
    evidence = getattr(error, "raw", b"") or exchange.partial
    item = _deviation(exchange, error.kind,
                      kb.ui("hostile_not_smtp_item").format(message=localized(error, kb)[0]),
                      None)
    item["bytes"] = evidence[:200].decode("latin-1")
    return item


def _desync_item(session: Session, kb: KnowledgeBase) -> dict[str, Any]:
    """The first evidence that replies fell out of step (`smtpprobe.report.Desync`)."""
    desync = session.desync
    assert desync is not None
    shown = session.exchanges[desync.exchange] if desync.exchange < len(session.exchanges) else None
    first = session.exchanges[desync.since] if desync.since < len(session.exchanges) else None
    command = verb(shown) if shown is not None else "-"
    detail = kb.ui(f"hostile_desync_{desync.reason}").format(
        command=command, code=desync.code if desync.code is not None else "-",
        count=len(desync.data), since=verb(first) if first is not None else "-")
    item = {"phase": shown.phase if shown is not None else "end", "command": command,
            "code": desync.code, "kind": "desynchronised", "reason": desync.reason,
            "detail": detail, "since": desync.since}
    if desync.data:
        item["bytes"] = desync.data[:200].decode("latin-1")
    return item


def deviations_finding(session: Session, kb: KnowledgeBase) -> Finding:
    """Replies a command should not get, malformed replies, bytes where none may be."""
    items: list[dict[str, Any]] = []
    evidence: list[Exchange] = []
    not_smtp = 0
    for exchange in session.exchanges:
        reply = exchange.reply
        if reply is None:
            if isinstance(exchange.error, ServerProtocolError):
                items.append(_not_smtp(exchange, exchange.error, kb))
                evidence.append(exchange)
                not_smtp += 1
            continue
        command = verb(exchange)
        found = []
        if kb.reply_allowed(reply.code, command) is False:
            text = kb.ui("deviation").format(code=reply.code, command=command)
            found.append(_deviation(exchange, "unexpected-code", text, reply.code))
        for defect in reply.defects:
            text = kb.ui(f"probe_defect_{defect.value}")
            found.append(_deviation(exchange, str(defect), text, reply.code))
        if found:
            items.extend(found)
            evidence.append(exchange)
    for command, waiting in session.unsolicited:
        items.append({"phase": command, "command": command, "code": None,
                      "kind": "unsolicited-bytes",
                      "detail": kb.ui("hostile_unsolicited").format(count=len(waiting),
                                                                   command=command),
                      "bytes": waiting[:200].decode("latin-1")})
    status = Status.WARNING if not_smtp or session.unsolicited else Status.OK
    if session.stray:
        status = Status.WARNING
        items.append({"phase": "starttls", "command": "STARTTLS", "code": None,
                      "kind": "stray-bytes",
                      "detail": kb.ui("probe_dev_stray").format(count=len(session.stray)),
                      "bytes": session.stray[:200].decode("latin-1")})
    if session.desync is not None:
        status = Status.WARNING
        items.append(_desync_item(session, kb))
    key = "probe_dev_none" if not items else "probe_dev_count"
    summary = kb.ui(key).format(count=len(items))
    if not_smtp:
        summary += " " + kb.ui("hostile_not_smtp")
    if session.unsolicited:
        command, waiting = session.unsolicited[0]
        summary += " " + kb.ui("hostile_unsolicited").format(count=len(waiting), command=command)
    if session.stray:
        summary += " " + kb.ui("probe_dev_stray").format(count=len(session.stray))
    if session.desync is not None:
        summary += " " + kb.ui("hostile_desync")
    return Finding("deviations", status, summary, evidence=tuple(evidence),
                   data={"count": len(items), "items": items})
