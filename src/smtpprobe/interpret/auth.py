"""The AUTH finding: did ``--auth-user`` log in, and if not, why (RFC 4954 §6).

For monitoring, a configured credential that fails is CRITICAL; a failure caused by how
the probe was asked to run (no TLS, a mechanism forced) is a WARNING with the fix.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from smtpprobe.errors import SMTPProbeError
from smtpprobe.interpret.ehlo import parse_ehlo
from smtpprobe.interpret.facts import facts
from smtpprobe.report import Exchange, Finding, Note, Session, Status
from smtpprobe.transcript import command_text, exchanges_for, is_skipped

__all__ = ["auth_finding", "decode_challenge"]

# Final reply code → (reason, status). The credential itself failed: CRITICAL. 454 and
# 432 are server-side (RFC 4954 §6: do not ask for a new password), but logins fail now.
_OUTCOMES: dict[int, tuple[str, Status]] = {
    535: ("rejected", Status.CRITICAL),
    534: ("too-weak", Status.CRITICAL),
    454: ("temporary", Status.CRITICAL),
    432: ("transition", Status.CRITICAL),
    538: ("encryption-required", Status.WARNING),
    530: ("tls-first", Status.WARNING),
    504: ("mechanism-unknown", Status.WARNING),
    503: ("out-of-sequence", Status.WARNING),
}
# Mechanisms recognised and explained, deliberately not spoken (RFC 6331: DIGEST-MD5).
_OBSOLETE = ("DIGEST-MD5",)
# Why the probe sent nothing (`smtpprobe.auth`, the probe): reason and status.
_SKIPPED: dict[str, tuple[str, Status]] = {
    "not-offered": ("not-offered", Status.WARNING),
    "no-mechanism": ("no-mechanism", Status.UNKNOWN),
    "plaintext": ("plaintext-refused", Status.UNKNOWN),
    "unverified": ("unverified-tls", Status.UNKNOWN),
}


def _out_of_step(session: Session, exchange: Exchange) -> bool:
    """Whether the session fell out of step (`Session.desync`) at or before *exchange*,
    so that its reply may answer another command."""
    desync = session.desync
    if desync is None:
        return False
    return any(i >= desync.since for i, ex in enumerate(session.exchanges) if ex is exchange)


def decode_challenge(text: str) -> str:
    """A 334 challenge as text (``VXNlcm5hbWU6`` → ``Username:``), else *text* unchanged."""
    try:
        return base64.b64decode(text.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return text


def _offered(session: Session) -> list[str]:
    accepted = [
        ex.reply
        for ex in exchanges_for(session, "EHLO")
        if ex.reply is not None and ex.reply.code == 250
    ]
    return list(parse_ehlo(accepted[-1]).auth) if accepted else []


def _mechanism(sent: list[Exchange]) -> str | None:
    words = command_text(sent[0].command).split() if sent else []
    return words[1].upper() if len(words) > 1 else None


def auth_finding(session: Session) -> Finding:
    """The outcome of the AUTH step; OK and ``tested`` False when no ``auth_user`` was given."""
    options = session.options
    if options.auth_user is None or is_skipped(session, "auth"):
        return Finding("auth", Status.OK, "not-tested", data={"tested": False})
    sent = [ex for ex in session.exchanges if ex.phase == "AUTH"]
    offered = _offered(session)
    data: dict[str, Any] = {
        "tested": True,
        "user": options.auth_user,
        "requested": str(options.auth_mechanism),
        "mechanism": _mechanism(sent),
        "offered": offered,
        "encrypted": session.tls is not None,
        "skipped": session.auth_skipped or None,
        "code": None,
        "enhanced": None,
        "authenticated": False,
        "challenges": [
            decode_challenge(ex.reply.lines[0])
            for ex in sent
            if ex.reply is not None and ex.reply.code == 334
        ],
    }
    params: dict[str, Any] = {
        "user": options.auth_user,
        "mechanism": data["mechanism"],
        "offered": offered,
        "code": None,
        "text": None,
    }
    reason, status, advice, cause = _judge(session, sent, data, params)
    # Explained, never spoken: a server that still offers an obsolete mechanism.
    data["obsolete"] = [name for name in offered if name in _OBSOLETE]
    notes = tuple(Note("digest-md5-obsolete") for _ in data["obsolete"][:1])
    return Finding(
        "auth",
        status,
        reason,
        params,
        evidence=tuple(sent),
        notes=notes,
        advice=advice,
        cause=cause,
        data=data,
    )


def _judge(
    session: Session,
    sent: list[Exchange],
    data: dict[str, Any],
    params: dict[str, Any],
) -> tuple[str, Status, tuple[str, ...], SMTPProbeError | None]:
    if session.auth_skipped in _SKIPPED:
        reason, status = _SKIPPED[session.auth_skipped]
        if reason == "not-offered" and session.tls is None:
            reason = "not-offered-plaintext"  # some servers offer AUTH only inside TLS
        return reason, status, (), None
    if not sent:
        return "not-reached", Status.UNKNOWN, (), None
    last = sent[-1]
    if last.reply is None:
        return "no-reply", Status.UNKNOWN, (), last.error
    if _out_of_step(session, last):
        # A stray 235 read as the answer would say "logged in" for a wrong password.
        return "desynchronised", Status.UNKNOWN, (), None
    if command_text(last.command) == "*" and len(sent) > 1:
        last = sent[-2]  # the challenge that made the probe cancel is the news
    reply = last.reply
    assert reply is not None
    data["code"] = reply.code
    data["enhanced"] = str(reply.enhanced) if reply.enhanced is not None else None
    params["code"] = reply.code
    params["text"] = reply.lines[-1] or None
    patterns = facts().patterns_for(
        reply.code, " ".join(reply.lines), str(reply.enhanced) if reply.enhanced else None
    )
    advice = tuple(f"pattern:{p.id}" for p in patterns[:1])
    if reply.klass == 2:
        data["authenticated"] = True
        if not data["encrypted"]:
            return "ok-plaintext", Status.WARNING, (), None
        return "ok", Status.OK, (), None
    if reply.code == 334:
        return "cancelled", Status.WARNING, (), None
    reason, status = _OUTCOMES.get(reply.code, ("failed", Status.WARNING))
    return reason, status, advice + (f"reply:{reply.code}@AUTH",) * (reason == "failed"), None
