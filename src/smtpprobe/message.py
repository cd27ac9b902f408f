"""The message ``smtpprobe send`` delivers: composed (a labelled test message, headers,
body, attachments) or read raw from ``--data``, and the extensions it needs.

Composition is the standard library's `email` package; flattening to wire bytes is
aiosmtplib's `flatten_message` (Bcc removed, RFC 5322 line endings, 7-bit when asked).
"""

from __future__ import annotations

import mimetypes
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from smtpprobe.errors import UsageError
from smtpprobe.report import DEFAULT_HELO
from smtpprobe.version import __version__

__all__ = ["Draft", "Needs", "compose", "needs", "split_header"]


@dataclass(frozen=True, slots=True)
class Draft:
    """What the user asked to send. *raw* (``--data``) is sent as it is, the rest ignored."""

    sender: str
    recipients: tuple[str, ...]
    subject: str | None = None
    body: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    attachments: tuple[str, ...] = ()
    raw: bytes | None = None
    helo: str = DEFAULT_HELO


@dataclass(frozen=True, slots=True)
class Needs:
    """The extensions a message needs: SMTPUTF8 (RFC 6531: UTF-8 in addresses or headers)
    and 8BITMIME (RFC 6152: octets above 127 in the body)."""

    smtputf8: bool
    eightbit: bool


def split_header(text: str) -> tuple[str, str]:
    """``'Name: value'`` → (name, value).

    :raises UsageError: no colon, an empty or invalid field name, or CR/LF in it.
    """
    name, colon, value = text.partition(":")
    # RFC 5322 §3.6.8: field-name = 1*(printable US-ASCII except ":")
    if (
        not colon
        or not name
        or any(not 33 <= ord(c) <= 126 for c in name)
        or "\r" in value
        or "\n" in value
    ):
        raise UsageError(key="error_send_header", params={"header": text})
    return name, value.strip()


def _default_body(now: datetime, draft: Draft) -> str:
    return (
        f"This is a test message from smtpprobe {__version__}, sent on "
        f"{now.isoformat(timespec='seconds')} by the client that said "
        f"EHLO {draft.helo},\nto check that mail is delivered. It needs no reply and "
        f"can be deleted.\n"
    )


def compose(draft: Draft, *, utf8: bool = False, seven_bit: bool = False) -> bytes:
    """The message to send: *draft*'s raw bytes, or a composed test message.

    *utf8* keeps UTF-8 headers (only where SMTPUTF8 is offered); *seven_bit* encodes the
    body for a server without 8BITMIME.

    :raises UsageError: an attachment cannot be read.
    """
    if draft.raw is not None:
        return draft.raw
    from aiosmtplib.email import flatten_message

    now = datetime.now(UTC)
    message = EmailMessage()
    message["From"] = draft.sender or "<>"
    message["To"] = ", ".join(draft.recipients)
    message["Subject"] = (
        draft.subject
        if draft.subject is not None
        else (f"smtpprobe test message {now:%Y-%m-%d %H:%M:%S} UTC")
    )
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid("smtpprobe", domain=draft.helo)
    message["X-Mailer"] = f"smtpprobe {__version__}"
    for name, value in draft.headers:
        del message[name]  # a --header replaces the default of the same name
        message[name] = value
    message.set_content(draft.body if draft.body is not None else _default_body(now, draft))
    for path in draft.attachments:
        content, maintype, subtype = _attachment(path)
        message.add_attachment(content, maintype, subtype, filename=os.path.basename(path))
    return flatten_message(message, utf8=utf8, cte_type="7bit" if seven_bit else "8bit")


def _attachment(path: str) -> tuple[bytes, str, str]:
    try:
        with open(path, "rb") as handle:
            content = handle.read()
    except OSError as exc:
        raise UsageError(
            key="error_file_unreadable", params={"path": path, "reason": exc}
        ) from None
    kind, _ = mimetypes.guess_type(path)
    maintype, _, subtype = (kind or "application/octet-stream").partition("/")
    return content, maintype, subtype


def needs(message: bytes, addresses: tuple[str, ...]) -> Needs:
    """What *message*, sent with the envelope *addresses*, needs from the server."""
    head, _, body = message.replace(b"\r\n", b"\n").partition(b"\n\n")
    utf8 = any(not address.isascii() for address in addresses) or not head.isascii()
    return Needs(smtputf8=utf8, eightbit=not body.isascii())
