"""The one exception hierarchy of smtpprobe, mapped to exit codes at the CLI boundary.

::

    SMTPProbeError                      base; every error carries `phase` and a `hint`
    ├── UsageError                      local: bad argument, option or input text
    │   └── UnknownCodeError            a code or enhanced code the grammar rejects
    ├── ResolveError                    local: the target name does not resolve
    └── RemoteError                     the server or the network failed us
        ├── ProbeConnectError           (also ConnectionError) refused, unreachable
        ├── ProbeTimeoutError           (also TimeoutError) deadline or command timeout
        ├── ServerDisconnectedError     (also ConnectionError) EOF before a reply ended
        ├── ProbeTLSError               handshake or certificate failure
        └── ServerProtocolError         the server does not speak SMTP correctly
            └── MalformedReplyError     bytes that cannot be parsed as a reply

Renderers read the structured fields (`kind`, `phase`, `message`, `hint`), never `str(exc)`.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "MalformedReplyError",
    "ProbeConnectError",
    "ProbeTLSError",
    "ProbeTimeoutError",
    "RemoteError",
    "ResolveError",
    "SMTPProbeError",
    "ServerDisconnectedError",
    "ServerProtocolError",
    "UnknownCodeError",
    "UsageError",
]


class SMTPProbeError(Exception):
    """Base of every error smtpprobe raises on purpose.

    :param message: one readable sentence saying what happened.
    :param phase: the probe step in progress (``connect``, ``banner``, ``EHLO`` …) or ``""``.
    :param hint: what the user could try next, or ``""``.
    """

    kind: ClassVar[str] = "error"

    def __init__(self, message: str, *, phase: str = "", hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.phase = phase
        self.hint = hint


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
    """The server or the path to it failed."""

    kind = "remote"


class ProbeConnectError(RemoteError, ConnectionError):
    """The TCP connection could not be opened."""

    kind = "connect"


class ProbeTimeoutError(RemoteError, TimeoutError):
    """The session deadline or a command timeout ran out."""

    kind = "timeout"


class ServerDisconnectedError(RemoteError, ConnectionError):
    """The server closed the connection before its reply was complete.

    :param raw: the bytes of the unfinished reply (bounded), kept as evidence.
    """

    kind = "disconnected"

    def __init__(self, message: str, *, raw: bytes = b"", phase: str = "", hint: str = "") -> None:
        super().__init__(message, phase=phase, hint=hint)
        self.raw = raw


class ProbeTLSError(RemoteError):
    """The TLS handshake failed or the certificate did not verify."""

    kind = "tls"


class ServerProtocolError(RemoteError):
    """The server sent something that is not SMTP as RFC 5321 §4.2 defines it."""

    kind = "protocol"


class MalformedReplyError(ServerProtocolError):
    """Bytes that cannot be read as an SMTP reply at all.

    :param raw: the offending bytes (bounded), kept as evidence.
    """

    kind = "malformed-reply"

    def __init__(self, message: str, *, raw: bytes = b"", phase: str = "", hint: str = "") -> None:
        super().__init__(message, phase=phase, hint=hint)
        self.raw = raw
