"""Findings about the session itself: connection, greeting, HELP, STARTTLS, TLS, deviations.

Each finding states only what the recorded session shows: a reason key and the facts it
rests on (`smtpprobe.report.Finding`); the views word it.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from smtpprobe.errors import (
    ProbeConnectError,
    ProbeInterruptedError,
    ProbeTimeoutError,
    ProbeTLSError,
    ResolveError,
    ServerProtocolError,
)
from smtpprobe.interpret.ehlo import parse_ehlo
from smtpprobe.interpret.facts import facts
from smtpprobe.interpret.tls_facts import certificate_data, with_tls_facts
from smtpprobe.report import Exchange, Finding, Note, Session, Status, TlsMode
from smtpprobe.transcript import (
    banner,
    command_text,
    exchanges_for,
    is_skipped,
    milliseconds,
    verb,
)

__all__ = [
    "banner_finding",
    "connection_finding",
    "deviations_finding",
    "greeted",
    "help_finding",
    "help_topics",
    "starttls_finding",
    "tls_attempted",
    "tls_finding",
]

# Relay (RFC 5321 §4.5.4.2) and submission (RFC 6409): the ports where plain text is news.
_MAIL_PORTS = frozenset({25, 587})
# RFC 5321 §4.3.2: 220 is the only greeting that opens a session; 421/554/521 turn it away.
_REFUSALS = frozenset({421, 554, 521})
# RFC 5321 §4.1 verbs and the common extension verbs, to read HELP's command list.
_VERBS = frozenset(
    "HELO EHLO LHLO MAIL RCPT DATA BDAT RSET VRFY EXPN HELP NOOP QUIT TURN ETRN ATRN AUTH "
    "STARTTLS SEND SOML SAML VERB ONEX BURL DSN WIZ DEBUG XCLIENT XFORWARD".split()
)
# A line of a command list: an optional label ("Commands supported:", "Topics:") and then
# nothing but verbs. Prose such as OpenSMTPD's "End of HELP info" is not a list.
_ENHANCED_PREFIX = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}\s+")
_LABEL = re.compile(r"^[^:]{0,40}:\s*")
# OpenSSL's words when the peer answered a ClientHello with plain text (an SMTP greeting).
_PLAIN_PEER = (
    "WRONG_VERSION_NUMBER",
    "wrong version number",
    "record layer failure",
    "packet length too long",
    "unknown protocol",
    "http request",
)


def greeted(session: Session) -> bool:
    """True once EHLO or HELO got a 250: the session got past its greeting."""
    return any(
        ex.reply is not None and ex.reply.code == 250
        for ex in exchanges_for(session, "EHLO", "HELO")
    )


def _tls_asked(session: Session) -> bool:
    return session.options.tls in (TlsMode.STARTTLS, TlsMode.IMPLICIT)


def _implicit(session: Session) -> bool:
    options = session.options
    return options.tls is TlsMode.IMPLICIT or (
        options.tls is TlsMode.AUTO and session.target.port == 465
    )


def _usable_banner(session: Session) -> bool:
    found = banner(session)
    return found is not None and found.reply is not None and found.reply.code == 220


def _last_words(exchange: Exchange | None) -> str:
    """The server's last reply, one line, when it ended the session itself (e.g. ``421``)."""
    if exchange is None or exchange.reply is None:
        return "-"
    return f"{exchange.reply.code} {exchange.reply.lines[-1]}"


def tls_attempted(session: Session) -> bool:
    """True when a TLS handshake was started: implicit TLS, or a ``220`` to STARTTLS."""
    if session.tls is not None or isinstance(session.error, ProbeTLSError):
        return True
    if session.error is not None and session.error.phase == "tls":
        return True
    return any(
        ex.reply is not None and ex.reply.code == 220 for ex in exchanges_for(session, "STARTTLS")
    )


def _plain_peer(error: ProbeTLSError) -> bool:
    """The handshake met a plain-text server: the port speaks SMTP without TLS first."""
    cause = error.__cause__
    text = " ".join(
        str(part) for part in (getattr(cause, "reason", ""), cause, *error.params.values())
    )
    return any(word in text for word in _PLAIN_PEER)


def _connection_notes(session: Session) -> list[Note]:
    notes: list[Note] = []
    error = session.error
    if isinstance(error, ProbeTLSError) and _implicit(session) and _plain_peer(error):
        notes.append(Note("plain-port", {"port": session.target.port}))
    if _trusted_source(session):
        notes.append(Note("trusted-source", {"source": session.source}))
    return notes


def _silent(session: Session) -> bool:
    """The server sent nothing at all before the command timeout (no partial line)."""
    first = banner(session)
    return (
        isinstance(session.error, ProbeTimeoutError)
        and first is not None
        and first.reply is None
        and not first.partial
    )


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    host = text.rsplit(":", 1)[0] if text.count(":") == 1 or text.startswith("[") else text
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _trusted_source(session: Session) -> bool:
    """Loopback, or the same private network as the server: it may trust this client."""
    local, remote = _ip(session.source), _ip(session.target.address or "")
    if local is None or remote is None:
        return False
    if local.is_loopback or remote.is_loopback:
        return True
    if not (local.is_private and remote.is_private) or local.version != remote.version:
        return False
    prefix = 24 if local.version == 4 else 64
    network = ipaddress.ip_network(f"{local}/{prefix}", strict=False)
    return remote in network


def connection_finding(session: Session) -> Finding:
    """CRITICAL when nothing usable came up, WARNING when the session broke after EHLO."""
    error, target = session.error, session.target
    # The reply that ended the session (a 421), not the courtesy QUIT after it.
    last = next((ex for ex in reversed(session.exchanges) if verb(ex) != "QUIT"), None)
    params: dict[str, Any] = {
        "target": str(target),
        "host": target.host,
        "address": target.address or target.host,
        "port": target.port,
        "source": session.source or None,
        "ms": milliseconds(session.connect_elapsed),
        "phase": (error.phase if error is not None else "") or (last.phase if last else None),
        "mode": session.options.tls.value,
    }
    if error is None:
        params["message"] = _last_words(last)
    data: dict[str, Any] = {
        "complete": session.complete,
        "phase": params["phase"],
        "source": session.source or None,
    }
    if isinstance(error, ProbeInterruptedError):
        reason, status = "interrupted", Status.UNKNOWN
    elif isinstance(error, ResolveError):
        reason, status = "resolve-failed", Status.UNKNOWN
    elif isinstance(error, ProbeTLSError) and (_tls_asked(session) or _implicit(session)):
        reason, status = "tls-failed", Status.CRITICAL
    elif isinstance(error, ProbeTLSError) and banner(session) is None:
        reason, status = "tls-failed-early", Status.CRITICAL
    elif isinstance(error, ProbeConnectError) or (not session.exchanges and error is not None):
        reason, status = "connect-failed", Status.CRITICAL
    elif _silent(session):
        # Not a byte after connecting: said once, with what usually causes it.
        reason, status = "silent", Status.CRITICAL
    elif not _usable_banner(session):
        reason, status = "no-banner", Status.CRITICAL
        if error is None:
            params["message"] = _last_words(banner(session))
    elif (error is not None or not session.complete) and not greeted(session):
        reason, status = "ended-before-ehlo", Status.CRITICAL
    elif error is not None or not session.complete:
        reason, status = "incomplete", Status.WARNING
    else:
        reason, status = "ok", Status.OK
    return Finding(
        "connection",
        status,
        reason,
        params,
        cause=error,
        notes=tuple(_connection_notes(session)),
        data=data,
    )


def banner_finding(session: Session) -> Finding:
    """The greeting's code, the name it gives, and how long it took to come."""
    found = banner(session)
    if found is None or found.reply is None:
        # The connection finding says why; here, only that no greeting came.
        unreached = isinstance(
            session.error, (ResolveError, ProbeConnectError, ProbeInterruptedError)
        )
        reason = "not-reached" if found is None else "no-greeting"
        status = Status.UNKNOWN if unreached or found is None else Status.CRITICAL
        return Finding("banner", status, reason, evidence=(found,) if found else ())
    reply = found.reply
    words = reply.lines[0].split()
    domain = words[0] if words else ""
    delay = milliseconds(found.elapsed)
    params = {"code": reply.code, "domain": domain, "ms": delay}
    data = {"code": reply.code, "domain": domain, "delay_ms": delay, "text": list(reply.lines)}
    if reply.code == 220:
        return Finding("banner", Status.OK, "ok", params, evidence=(found,), data=data)
    reason = "refused" if reply.code in _REFUSALS else "unexpected"
    return Finding(
        "banner",
        Status.CRITICAL,
        reason,
        params,
        evidence=(found,),
        advice=(f"reply:{reply.code}@CONNECT",),
        data=data,
    )


def help_topics(lines: tuple[str, ...]) -> list[str]:
    """The commands a HELP reply lists; only lines that are a list of verbs count."""
    topics: list[str] = []
    for line in lines:
        text = _LABEL.sub("", _ENHANCED_PREFIX.sub("", line.strip()), count=1)
        words = text.replace(",", " ").split()
        if not words or not all(
            w.upper() in _VERBS or (w.startswith("X") and w.isupper() and w.isalpha())
            for w in words
        ):
            continue
        for word in words:
            if word.upper() not in topics:
                topics.append(word.upper())
    return topics


def help_finding(session: Session) -> Finding:
    """HELP's code (RFC 5321 §4.3.2 wants 211 or 214) and the commands it lists."""
    sent = exchanges_for(session, "HELP")
    helps = [ex for ex in sent if ex.reply is not None]
    if not helps:
        if is_skipped(session, "help"):
            return Finding("help", Status.OK, "skipped")
        if sent:
            return Finding(
                "help",
                Status.OK if session.complete else Status.UNKNOWN,
                "no-reply",
                evidence=tuple(sent),
                cause=sent[-1].error,
            )
        return Finding("help", Status.OK if session.complete else Status.UNKNOWN, "not-reached")
    found = helps[0]
    assert found.reply is not None
    code = found.reply.code
    topics = help_topics(found.reply.lines) if found.reply.klass == 2 else []
    conforms = code in (211, 214)
    if conforms:
        reason = "listed" if topics else "answered"
    elif code in (500, 502, 504):
        reason = "not-implemented"
    elif found.reply.klass in (4, 5):
        reason = "refused"
    else:
        reason = "nonconforming"
    params = {"code": code, "count": len(topics), "topics": topics}
    data = {"code": code, "conforms": conforms, "topics": topics, "text": list(found.reply.lines)}
    return Finding("help", Status.OK, reason, params, evidence=(found,), data=data)


def advertised_starttls(session: Session) -> bool:
    """True when an EHLO before TLS listed STARTTLS (RFC 3207 §4)."""
    replies = [session.ehlo_before_tls] + [ex.reply for ex in exchanges_for(session, "EHLO")]
    return any(r is not None and r.code == 250 and parse_ehlo(r).has("STARTTLS") for r in replies)


def starttls_finding(session: Session) -> Finding:
    """Offered? used? Not offered is a WARNING (mail crosses in clear), CRITICAL if asked."""
    mode = session.options.tls
    advertised = advertised_starttls(session)
    sent = exchanges_for(session, "STARTTLS")
    data: dict[str, Any] = {"advertised": advertised, "used": False, "mode": mode.value}
    if _implicit(session) and not sent:
        encrypted = session.tls is not None and session.tls.mode is TlsMode.IMPLICIT
        return Finding(
            "starttls", Status.OK, "implicit" if encrypted else "not-applicable", data=data
        )
    reason, status, params = _starttls_outcome(session, advertised, sent[-1] if sent else None)
    data["used"] = reason == "used"
    cause = session.error if reason == "handshake-failed" else None
    if cause is None and reason == "handshake-failed" and sent:
        cause = sent[-1].error
    return Finding("starttls", status, reason, params, evidence=tuple(sent), cause=cause, data=data)


def _starttls_outcome(
    session: Session, advertised: bool, last: Exchange | None
) -> tuple[str, Status, dict[str, Any]]:
    mode = session.options.tls
    asked = mode is TlsMode.STARTTLS
    failed = Status.CRITICAL if asked else Status.WARNING
    params: dict[str, Any] = {"code": None, "port": session.target.port}
    if not greeted(session) and last is None:
        return "not-reached", Status.OK, params
    if not advertised:
        # RFC 3207 §4: a server that does not list STARTTLS may answer it 502, correctly.
        # On the mail ports (relay 25, submission 587) mail then crosses in clear.
        mail_port = session.target.port in _MAIL_PORTS
        return (
            "not-offered",
            (Status.CRITICAL if asked else Status.WARNING if mail_port else Status.OK),
            params,
        )
    if last is not None:
        if last.reply is not None and last.reply.code != 220:
            params["code"] = last.reply.code
            return "refused", failed, params
        if last.reply is None or session.tls is None:
            return "handshake-failed", failed, params
        return "used", Status.OK, params
    if isinstance(session.error, ProbeTLSError):
        return "handshake-failed", failed, params
    if is_skipped(session, "starttls"):
        return "skipped", Status.OK, params
    if mode is TlsMode.NONE:
        return "not-used", Status.OK, params
    return "not-reached", Status.OK, params


def _certificate_data(session: Session) -> dict[str, Any] | None:
    tls = session.tls
    cert = tls.certificate if tls is not None else None
    return None if cert is None else certificate_data(cert)


def tls_finding(session: Session) -> Finding:
    """Version, cipher, certificate facts, and whether the certificate verified.

    "No TLS" only when no handshake was started; a handshake that failed says so.
    """
    tls = session.tls
    if tls is None:
        if tls_attempted(session):
            asked = _tls_asked(session) or _implicit(session)
            error = session.error if isinstance(session.error, ProbeTLSError) else None
            return with_tls_facts(
                Finding(
                    "tls",
                    Status.CRITICAL if asked else Status.WARNING,
                    "handshake-failed",
                    {"mode": session.options.tls.value},
                    cause=error or session.error,
                    data={"used": False, "attempted": True},
                ),
                session,
            )
        reached = greeted(session) or session.complete
        reason = "none" if reached else "not-reached"
        return with_tls_facts(
            Finding("tls", Status.OK, reason, data={"used": False, "attempted": False}), session
        )
    cert = tls.certificate
    data: dict[str, Any] = {
        "used": True,
        "attempted": True,
        "mode": tls.mode.value,
        "version": tls.version,
        "cipher": tls.cipher,
        "verified": tls.verified,
        "verify_error": tls.verify_error or None,
        "certificate": _certificate_data(session),
    }
    params = {
        "version": tls.version,
        "cipher": tls.cipher,
        "subject": cert.subject if cert else None,
        "issuer": cert.issuer if cert else None,
        "not_after": cert.not_after.date().isoformat() if cert and cert.not_after else None,
        "days": cert.days_left if cert else None,
        "why": tls.verify_error or None,
    }
    if cert is not None and cert.days_left is not None and cert.days_left < 0:
        reason, status = "expired", Status.WARNING
    elif tls.verified:
        reason, status = "verified", Status.OK
    elif tls.verify_error:
        # Opportunistic TLS (or --insecure) went on; the certificate still fails to verify.
        reason, status = "unverified", Status.WARNING
    else:
        reason, status = "not-checked", Status.OK
    return with_tls_facts(Finding("tls", status, reason, params, data=data), session)


def _deviation(
    exchange: Exchange, kind: str, reply_code: int | None, **params: Any
) -> dict[str, Any]:
    return {
        "phase": exchange.phase,
        "command": command_text(exchange.command),
        "code": reply_code,
        "kind": kind,
        "params": params,
    }


def _code_allowed(session: Session, code: int, command: str) -> bool | None:
    # The greeting changes what is expected: after a 554 greeting the server SHOULD answer
    # 503 to every command (RFC 5321 §3.1); the knowledge base holds that rule.
    first = banner(session)
    greeting = first.reply.code if first is not None and first.reply is not None else None
    return facts().reply_allowed(code, command, greeting=greeting)


def _desync_item(session: Session) -> dict[str, Any]:
    """The first evidence that replies fell out of step (`smtpprobe.report.Desync`)."""
    desync = session.desync
    assert desync is not None
    exchanges = session.exchanges
    shown = exchanges[desync.exchange] if desync.exchange < len(exchanges) else None
    first = exchanges[desync.since] if desync.since < len(exchanges) else None
    command = verb(shown) if shown is not None else "-"
    item: dict[str, Any] = {
        "phase": shown.phase if shown is not None else "end",
        "command": command,
        "code": desync.code,
        "kind": "desynchronised",
        "reason": desync.reason,
        "since": desync.since,
        "params": {
            "reason": desync.reason,
            "command": command,
            "code": desync.code,
            "count": len(desync.data),
            "since": verb(first) if first else "-",
        },
    }
    if desync.data:
        item["bytes"] = desync.data[:200].decode("latin-1")
    return item


def deviations_finding(session: Session) -> Finding:
    """Replies a command should not get, malformed replies, bytes where none may be."""
    items: list[dict[str, Any]] = []
    evidence: list[Exchange] = []
    notes: list[Note] = []
    not_smtp = 0
    for index, exchange in enumerate(session.exchanges):
        reply = exchange.reply
        if reply is None:
            if isinstance(exchange.error, ServerProtocolError):
                # "at" points the views at the exchange, whose error they word.
                item = _deviation(exchange, exchange.error.kind, None)
                item["at"] = index
                raw = getattr(exchange.error, "raw", b"") or exchange.partial
                item["bytes"] = raw[:200].decode("latin-1")
                items.append(item)
                evidence.append(exchange)
                not_smtp += 1
            continue
        command = verb(exchange)
        found = []
        if _code_allowed(session, reply.code, command) is False:
            found.append(
                _deviation(
                    exchange, "unexpected-code", reply.code, code=reply.code, command=command
                )
            )
        found += [_deviation(exchange, str(defect), reply.code) for defect in reply.defects]
        if found:
            items.extend(found)
            evidence.append(exchange)
    if not_smtp:
        notes.append(Note("not-smtp"))
    for command, waiting in session.unsolicited:
        items.append(
            {
                "phase": command,
                "command": command,
                "code": None,
                "kind": "unsolicited-bytes",
                "params": {"count": len(waiting), "command": command},
                "bytes": waiting[:200].decode("latin-1"),
            }
        )
    if session.unsolicited:
        command, waiting = session.unsolicited[0]
        notes.append(Note("unsolicited", {"count": len(waiting), "command": command}))
    if session.stray:
        items.append(
            {
                "phase": "starttls",
                "command": "STARTTLS",
                "code": None,
                "kind": "stray-bytes",
                "params": {"count": len(session.stray)},
                "bytes": session.stray[:200].decode("latin-1"),
            }
        )
        notes.append(Note("stray", {"count": len(session.stray)}))
    if session.desync is not None:
        items.append(_desync_item(session))
        notes.append(Note("desynchronised"))
    status = (
        Status.WARNING
        if (not_smtp or session.unsolicited or session.stray or session.desync)
        else Status.OK
    )
    reason = "found" if items else "none"
    return Finding(
        "deviations",
        status,
        reason,
        {"count": len(items)},
        evidence=tuple(evidence),
        notes=tuple(notes),
        data={"count": len(items), "items": items},
    )
