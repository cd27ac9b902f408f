"""The probe's AUTH step: SASL PLAIN or LOGIN (RFC 4954, RFC 4616), credentials never kept.

Lines that carry credentials are recorded as ``<redacted>``, and the credentials are
registered with the recorder's `smtpprobe.redact.Redactor` before anything is sent: from
then on no form of them survives in anything received, in case a server echoes what it got.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

from smtpprobe.recorder import REDACTED
from smtpprobe.reply import Reply
from smtpprobe.report import AuthMechanism, ProbeOptions

if TYPE_CHECKING:
    from smtpprobe.recorder import Recorder

__all__ = [
    "NOT_OFFERED",
    "NO_MECHANISM",
    "PLAINTEXT",
    "authenticate",
    "choose_mechanism",
    "offered_mechanisms",
]

# Why the auth step sent nothing (`Session.auth_skipped`).
PLAINTEXT = "plaintext"
NOT_OFFERED = "not-offered"
NO_MECHANISM = "no-mechanism"
# RFC 4954 §4: "*" cancels an exchange the client cannot or will not continue.
_CANCEL = b"*"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode("ascii")


def offered_mechanisms(reply: Reply | None) -> tuple[str, ...]:
    """The SASL mechanisms an EHLO reply lists (RFC 4954 §3), upper case, in order.

    Also reads the pre-standard ``AUTH=LOGIN PLAIN`` line some old servers send.
    """
    if reply is None or reply.code != 250:
        return ()
    found: list[str] = []
    for line in reply.lines[1:]:
        words = line.split()
        if not words:
            continue
        keyword, _, rest = words[0].upper().partition("=")
        if keyword == "AUTH":
            for name in [rest, *words[1:]]:
                if name and name.upper() not in found:
                    found.append(name.upper())
    return tuple(found)


def choose_mechanism(requested: AuthMechanism, offered: tuple[str, ...]) -> str | None:
    """``PLAIN`` or ``LOGIN``: the one asked for, or for auto PLAIN when offered, else
    LOGIN when offered; None when auto finds neither."""
    if requested is not AuthMechanism.AUTO:
        return str(requested).upper()
    return next((name for name in ("PLAIN", "LOGIN") if name in offered), None)


async def authenticate(
    rec: Recorder, options: ProbeOptions, greeting: Reply | None, *, encrypted: bool
) -> str:
    """Log in as ``options.auth_user``; return why nothing was sent, or ``""``.

    Credentials go only over TLS unless ``options.allow_plaintext_auth``. The exchanges
    are recorded in phase ``AUTH``; their outcome is for the interpreter to judge.

    :raises ServerEnded, RemoteError: as `Recorder.exchange`.
    """
    user, password = options.auth_user or "", options.auth_password or ""
    offered = offered_mechanisms(greeting)
    if not offered:
        return NOT_OFFERED
    mechanism = choose_mechanism(AuthMechanism(options.auth_mechanism), offered)
    if mechanism is None:
        return NO_MECHANISM
    if not encrypted and not options.allow_plaintext_auth:
        return PLAINTEXT
    rec.redactor.add_credentials(user, password)

    async def say(line: bytes, shown: bytes) -> Reply:
        return await rec.exchange("AUTH", line, shown=shown)

    redacted = REDACTED.encode()
    if mechanism == "PLAIN":
        # RFC 4954 §4 initial response; RFC 4616 §2: empty authzid, authcid, password.
        blob = _b64(f"\0{user}\0{password}").encode()
        reply = await say(b"AUTH PLAIN " + blob, b"AUTH PLAIN " + redacted)
        steps: list[bytes] = []
    else:
        reply = await say(b"AUTH LOGIN", b"AUTH LOGIN")
        steps = [_b64(user).encode(), _b64(password).encode()]
    for step in steps:
        if reply.code != 334:
            return ""
        reply = await say(step, redacted)
    if reply.code == 334:  # more challenges than the mechanism has: give up politely
        await say(_CANCEL, _CANCEL)
    return ""
