"""The one exception hierarchy of smtpprobe, mapped to exit codes at the CLI boundary.

::

    SMTPProbeError                      base; every error carries `phase` and a `hint`
    ├── UsageError                      local: bad argument, option or input text
    │   └── UnknownCodeError            a code or enhanced code the grammar rejects
    ├── ResolveError                    local: the target name does not resolve
    ├── ProbeInterruptedError           local: Ctrl-C; the partial session is kept
    └── RemoteError                     the server or the network failed us
        ├── ProbeConnectError           (also ConnectionError) refused, unreachable
        ├── ProbeTimeoutError           (also TimeoutError) deadline or command timeout
        ├── ServerDisconnectedError     (also ConnectionError) EOF before a reply ended
        ├── ProbeTLSError               handshake or certificate failure
        └── ServerProtocolError         the server does not speak SMTP correctly
            └── MalformedReplyError     bytes that cannot be parsed as a reply

Renderers read the structured fields (`kind`, `phase`, `message`, `hint`), never `str(exc)`.
An error raised with a ``key`` (and ``params``) is worded in any language by the views
(`smtpprobe.views.errors`): the texts live in ``kb/data/{en,id}/ui_errors.toml``
(``<key>`` and ``<key>_hint``). This module imports nothing of the knowledge base.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import ClassVar

__all__ = [
    "Alternatives",
    "MalformedReplyError",
    "ProbeConnectError",
    "ProbeInterruptedError",
    "ProbeTLSError",
    "ProbeTimeoutError",
    "RemoteError",
    "ResolveError",
    "SMTPProbeError",
    "ServerDisconnectedError",
    "ServerProtocolError",
    "Term",
    "UnknownCodeError",
    "UsageError",
]


class Term(str):
    """A fixed English word inside a message (``HELO name``) that the tables translate.

    Its translation is the entry ``error_term_<slug>`` (``error_term_helo_name``); a term
    without one (an option name such as ``--user``) is shown as it is.
    """

    __slots__ = ()

    @property
    def key(self) -> str:
        return "error_term_" + re.sub(r"[^a-z0-9]+", "_", self.lower()).strip("_")


class Alternatives(tuple[str, ...]):
    """Choices shown as ``A or AAAA``, joined with the language's word for "or"."""

    __slots__ = ()


class SMTPProbeError(Exception):
    """Base of every error smtpprobe raises on purpose.

    :param message: one readable English sentence saying what happened; leave it out when
        *key* names the sentence in ``ui_errors.toml``.
    :param key: the message's entry in ``ui_errors.toml`` (``error_…``), or ``""``; its
        hint is the entry ``<key>_hint`` when that exists.
    :param params: the values the entry's ``{placeholders}`` take: text, numbers, a `Term`,
        `Alternatives`, an `OSError` (its reason) or another `SMTPProbeError` (its message).
    :param phase: the probe step in progress (``connect``, ``banner``, ``EHLO`` …) or ``""``.
    :param hint: what the user could try next, or ``""`` (English; *key* may give it).
    """

    kind: ClassVar[str] = "error"

    def __init__(
        self,
        message: str = "",
        *,
        key: str = "",
        params: Mapping[str, object] | None = None,
        phase: str = "",
        hint: str = "",
    ) -> None:
        super().__init__(message or key)
        self.key = key
        self.params: dict[str, object] = dict(params or {})
        self.phase = phase
        self._message: str | None = message or None
        self._hint: str | None = hint or None

    @property
    def message(self) -> str:
        """The sentence given when raised, else the key: the views word keyed errors
        (`smtpprobe.views.errors.localized`), so an exception never loads the KB."""
        return self._message if self._message is not None else self.key

    @message.setter
    def message(self, value: str) -> None:
        self._message = value

    @property
    def hint(self) -> str:
        """The hint given when raised, or ``""`` (keyed hints are worded by the views)."""
        return self._hint or ""

    @hint.setter
    def hint(self, value: str) -> None:
        self._hint = value

    def __str__(self) -> str:
        return self.message


class UsageError(SMTPProbeError):
    """The user's input is wrong: an argument, an option, a file."""

    kind = "usage"


class UnknownCodeError(UsageError):
    """Text that is neither a reply code, an enhanced status code nor a reply."""

    kind = "unknown-code"


class ResolveError(SMTPProbeError):
    """The target host name does not resolve (nothing was sent anywhere)."""

    kind = "resolve"


class RemoteError(SMTPProbeError):
    """The server or the path to it failed.

    :param raw: the bytes that were received with it (an unfinished or unreadable reply,
        bounded), kept as evidence; ``b""`` when there were none.
    """

    kind = "remote"

    def __init__(
        self,
        message: str = "",
        *,
        raw: bytes = b"",
        key: str = "",
        params: Mapping[str, object] | None = None,
        phase: str = "",
        hint: str = "",
    ) -> None:
        super().__init__(message, key=key, params=params, phase=phase, hint=hint)
        self.raw = raw


class ProbeConnectError(RemoteError, ConnectionError):
    """The TCP connection could not be opened."""

    kind = "connect"


class ProbeTimeoutError(RemoteError, TimeoutError):
    """The session deadline or a command timeout ran out."""

    kind = "timeout"


class ServerDisconnectedError(RemoteError, ConnectionError):
    """The server closed the connection before its reply was complete (``raw``: the bytes
    of the unfinished reply)."""

    kind = "disconnected"


class ProbeInterruptedError(SMTPProbeError):
    """The user stopped the probe (Ctrl-C) before it ended; what was recorded is kept."""

    kind = "interrupted"


class ProbeTLSError(RemoteError):
    """The TLS handshake failed or the certificate did not verify."""

    kind = "tls"


class ServerProtocolError(RemoteError):
    """The server sent something that is not SMTP as RFC 5321 §4.2 defines it."""

    kind = "protocol"


class MalformedReplyError(ServerProtocolError):
    """Bytes that cannot be read as an SMTP reply at all (``raw``: the offending bytes)."""

    kind = "malformed-reply"
