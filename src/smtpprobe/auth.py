"""The probe's AUTH step (RFC 4954): PLAIN, LOGIN, CRAM-MD5 and XOAUTH2, credentials never kept.

The encoders are aiosmtplib's pure functions (imported here only, when AUTH runs); the
exchange goes over our own recorded wire. Lines that carry credentials are recorded as
``<redacted>``, and every credential (the password, the token, the PLAIN and XOAUTH2
messages, the CRAM-MD5 response, the BASE64 user name) is registered with the recorder's
`smtpprobe.redact.Redactor` before anything is sent: from then on no form of them
survives in anything received, in case a server echoes what it got.
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
    "SPOKEN",
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


# What auto picks, best first: CRAM-MD5 keeps the password off the wire even inside
# TLS; PLAIN (one round trip, RFC 4616) before LOGIN. XOAUTH2 is chosen when a token is
# given (a scoped, revocable credential instead of the password).
_PREFERENCE = ("CRAM-MD5", "PLAIN", "LOGIN")
SPOKEN = frozenset({"XOAUTH2", *_PREFERENCE})


def choose_mechanism(
    requested: AuthMechanism, offered: tuple[str, ...], *, token: bool = False
) -> str | None:
    """The mechanism asked for; for auto XOAUTH2 when there is a *token*, else the first of
    CRAM-MD5, PLAIN, LOGIN that is offered; None when auto finds none."""
    if requested is not AuthMechanism.AUTO:
        return str(requested).upper()
    usable = ("XOAUTH2",) if token else _PREFERENCE
    return next((name for name in usable if name in offered), None)


async def authenticate(
    rec: Recorder, options: ProbeOptions, greeting: Reply | None, *, encrypted: bool
) -> str:
    """Log in as ``options.auth_user``; return why nothing was sent, or ``""``.

    Credentials go only over TLS unless ``options.allow_plaintext_auth``. The exchanges
    are recorded in phase ``AUTH``; their outcome is for the interpreter to judge.

    :raises ServerEnded, RemoteError: as `Recorder.exchange`.
    """
    user, password = options.auth_user or "", options.auth_password or ""
    token = options.auth_token or ""
    offered = offered_mechanisms(greeting)
    if not offered:
        return NOT_OFFERED
    mechanism = choose_mechanism(AuthMechanism(options.auth_mechanism), offered, token=bool(token))
    if mechanism is None:
        return NO_MECHANISM
    if not encrypted and not options.allow_plaintext_auth:
        return PLAINTEXT
    from aiosmtplib import SMTPAuthenticationError
    from aiosmtplib import auth as sasl

    # Every credential is registered before the first is sent; the redactor adds their
    # forms (BASE64 at any offset, hex, URL-encoded …). *extra*: one made mid-exchange.
    rec.redactor.add_credentials(user, password)
    if token:
        rec.redactor.add(token)
        rec.redactor.add(f"user={user}\x01auth=Bearer {token}\x01\x01")
    redacted = REDACTED.encode()

    async def say(line: bytes, shown: bytes, extra: tuple[str, ...] = ()) -> Reply:
        return await rec.exchange(
            "AUTH", line, shown=shown, secrets=extra, raw=line + b"\r\n" if not line else None
        )

    steps: list[bytes] = []
    if mechanism == "PLAIN":
        # RFC 4954 §4 initial response; RFC 4616 §2: empty authzid, authcid, password.
        reply = await say(
            b"AUTH PLAIN " + sasl.auth_plain_encode(user, password), b"AUTH PLAIN " + redacted
        )
    elif mechanism == "XOAUTH2":
        reply = await say(
            b"AUTH XOAUTH2 " + sasl.auth_xoauth2_encode(user, token), b"AUTH XOAUTH2 " + redacted
        )
        if reply.code == 334:
            # A failed XOAUTH2 sends its error as a 334 challenge (BASE64 JSON); the
            # client answers with an empty line to get the final 535.
            reply = await say(b"", b"")
    elif mechanism == "CRAM-MD5":
        reply = await say(b"AUTH CRAM-MD5", b"AUTH CRAM-MD5")
        if reply.code == 334:
            try:
                answer = sasl.auth_crammd5_verify(user, password, reply.lines[0].strip())
            except SMTPAuthenticationError:  # a challenge that is not BASE64
                await say(_CANCEL, _CANCEL)
                return ""
            reply = await say(answer, redacted, (answer.decode("ascii"),))
    else:
        reply = await say(b"AUTH LOGIN", b"AUTH LOGIN")
        steps = list(sasl.auth_login_encode(user, password))
    for step in steps:
        if reply.code != 334:
            return ""
        reply = await say(step, redacted)
    if reply.code == 334:  # more challenges than the mechanism has: give up politely
        await say(_CANCEL, _CANCEL)
    return ""
