"""The AUTH finding: did ``--auth-user`` log in, and if not, why (RFC 4954 §6).

For monitoring, a configured credential that fails is CRITICAL; a failure caused by how
the probe was asked to run (no TLS, a mechanism forced) is a WARNING with the fix.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from smtpprobe.errors import localized
from smtpprobe.interpret._transcript import command_text, exchanges_for, is_skipped
from smtpprobe.interpret.ehlo import parse_ehlo
from smtpprobe.kb import KnowledgeBase
from smtpprobe.meaning import annotate_reply
from smtpprobe.report import Exchange, Finding, Session, Status

__all__ = ["auth_finding", "decode_challenge"]

# Final reply code → (ui key, status). The credential itself failed: CRITICAL. 454 and
# 432 are server-side (RFC 4954 §6: do not ask for a new password), but logins fail now.
_OUTCOMES: dict[int, tuple[str, Status]] = {
    535: ("auth_rejected", Status.CRITICAL),
    534: ("auth_too_weak", Status.CRITICAL),
    454: ("auth_temporary", Status.CRITICAL),
    432: ("auth_transition", Status.CRITICAL),
    538: ("auth_encryption_required", Status.WARNING),
    530: ("auth_tls_first", Status.WARNING),
    504: ("auth_mechanism_unknown", Status.WARNING),
    503: ("auth_out_of_sequence", Status.WARNING),
}
# Mechanisms recognised and explained, deliberately not spoken (RFC 6331: DIGEST-MD5).
_OBSOLETE = ("DIGEST-MD5",)
# Why the probe sent nothing (`smtpprobe.auth`): ui key and status.
_SKIPPED: dict[str, tuple[str, Status]] = {
    "not-offered": ("auth_not_offered", Status.WARNING),
    "no-mechanism": ("auth_no_mechanism", Status.UNKNOWN),
    "plaintext": ("auth_plaintext_refused", Status.UNKNOWN),
}


def decode_challenge(text: str) -> str:
    """A 334 challenge as text (``VXNlcm5hbWU6`` → ``Username:``), else *text* unchanged."""
    try:
        return base64.b64decode(text.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return text


def _offered(session: Session) -> list[str]:
    accepted = [ex.reply for ex in exchanges_for(session, "EHLO")
                if ex.reply is not None and ex.reply.code == 250]
    return list(parse_ehlo(accepted[-1]).auth) if accepted else []


def _mechanism(sent: list[Exchange]) -> str | None:
    words = command_text(sent[0].command).split() if sent else []
    return words[1].upper() if len(words) > 1 else None


def auth_finding(session: Session, kb: KnowledgeBase) -> Finding:
    """The outcome of the AUTH step; OK and ``tested`` False when no ``auth_user`` was given."""
    options = session.options
    if options.auth_user is None or is_skipped(session, "auth"):
        return Finding("auth", Status.OK, kb.ui("auth_not_tested"), data={"tested": False})
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
        "challenges": [decode_challenge(ex.reply.lines[0]) for ex in sent
                       if ex.reply is not None and ex.reply.code == 334],
    }
    values = {"user": options.auth_user, "mechanism": data["mechanism"] or "-",
              "offered": " ".join(offered) or "-", "code": "-", "text": "-", "meaning": "-",
              "message": "-"}
    key, status, advice = _judge(session, sent, data, values, kb)
    # Explained, never spoken: a server that still offers an obsolete mechanism.
    data["obsolete"] = [name for name in offered if name in _OBSOLETE]
    if "DIGEST-MD5" in offered:
        advice = " ".join(t for t in (advice, kb.ui("auth_digest_md5_advice")) if t)
    return Finding("auth", status, kb.ui(key).format(**values), evidence=tuple(sent),
                   advice=advice, data=data)


def _judge(
    session: Session, sent: list[Exchange], data: dict[str, Any], values: dict[str, str],
    kb: KnowledgeBase,
) -> tuple[str, Status, str]:
    if session.auth_skipped in _SKIPPED:
        key, status = _SKIPPED[session.auth_skipped]
        return key, status, kb.ui(f"{key}_advice").format(**values)
    if not sent:
        return "auth_not_reached", Status.UNKNOWN, ""
    last = sent[-1]
    if last.reply is None:
        values["message"] = localized(last.error, kb)[0] if last.error is not None else "-"
        return "auth_no_reply", Status.UNKNOWN, ""
    if command_text(last.command) == "*" and len(sent) > 1:
        last = sent[-2]  # the challenge that made the probe cancel is the news
    reply = last.reply
    assert reply is not None
    data["code"] = reply.code
    data["enhanced"] = str(reply.enhanced) if reply.enhanced is not None else None
    values["code"] = str(reply.code)
    values["text"] = reply.lines[-1] or "-"
    annotation = annotate_reply(reply, kb, "AUTH")
    pattern_fix = annotation.patterns[0].fix if annotation.patterns else ""
    if reply.klass == 2:
        data["authenticated"] = True
        if not data["encrypted"]:
            return "auth_ok_plaintext", Status.WARNING, kb.ui("auth_ok_plaintext_advice")
        return "auth_ok", Status.OK, ""
    if reply.code == 334:
        return "auth_cancelled", Status.WARNING, kb.ui("auth_cancelled_advice")
    key, status = _OUTCOMES.get(reply.code, ("auth_failed", Status.WARNING))
    context = annotation.context
    values["meaning"] = context.meaning if context is not None else annotation.basic.title
    advice = " ".join(t for t in (kb.ui(f"{key}_advice").format(**values), pattern_fix) if t)
    return key, status, advice
