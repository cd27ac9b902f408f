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
An error raised with a ``key`` (and ``params``) is told in any language by `localized`: the
texts live in ``kb/data/{en,id}/ui_errors.toml`` (``<key>`` and ``<key>_hint``), and
``message`` / ``hint`` are the English ones.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from smtpprobe.kb import KnowledgeBase

__all__ = [
    "Alternatives",
    "MalformedReplyError",
    "ProbeConnectError",
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
    "localized",
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

    def __init__(self, message: str = "", *, key: str = "",
                 params: Mapping[str, object] | None = None, phase: str = "",
                 hint: str = "") -> None:
        super().__init__(message or key)
        self.key = key
        self.params: dict[str, object] = dict(params or {})
        self.phase = phase
        self._message: str | None = message or None
        self._hint: str | None = hint or None

    @property
    def message(self) -> str:
        """The English sentence (from the ``en`` table when the error was raised by key)."""
        if self._message is None:
            self._message, hint = _english(self)
            if self._hint is None:
                self._hint = hint
        return self._message

    @message.setter
    def message(self, value: str) -> None:
        self._message = value

    @property
    def hint(self) -> str:
        """What to try next, in English, or ``""``."""
        if self._hint is None:
            self._hint = _english(self)[1] if self.key else ""
        return self._hint

    @hint.setter
    def hint(self, value: str) -> None:
        self._hint = value

    def __str__(self) -> str:
        return self.message


def _english(exc: SMTPProbeError) -> tuple[str, str]:
    if not exc.key:
        return "", ""
    from smtpprobe.kb import load

    return localized(exc, load("en"))


def localized(exc: SMTPProbeError, kb: KnowledgeBase) -> tuple[str, str]:
    """The message and hint of *exc* in *kb*'s language.

    An error raised without a key, or whose entry is missing or does not fit its params,
    is told in its English words.
    """
    if not exc.key:
        return exc.message, exc.hint
    values = {name: _value(value, kb) for name, value in exc.params.items()}
    message = _fill(kb, exc.key, values)
    if message is None:
        if kb.lang != "en":
            return exc.message, exc.hint
        return exc._message or exc.key, exc._hint or ""
    hint = _fill(kb, exc.key + "_hint", values)
    return message, (exc._hint or "") if hint is None else hint


def _fill(kb: KnowledgeBase, key: str, values: Mapping[str, object]) -> str | None:
    template = kb.ui(key)
    if template == key:
        return None
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        return None


def _value(value: object, kb: KnowledgeBase) -> object:
    """A param as the message shows it: errors and reasons told in *kb*'s language."""
    if isinstance(value, SMTPProbeError):
        return localized(value, kb)[0]
    if isinstance(value, Alternatives):
        return f" {kb.ui('error_word_or')} ".join(value)
    if isinstance(value, Term):
        text = kb.ui(value.key)
        return str(value) if text == value.key else text
    if isinstance(value, OSError):
        return _os_reason(value, kb)
    return value


def _os_reason(exc: OSError, kb: KnowledgeBase) -> str:
    """The system's reason, English as the C library words it, else ``error_os_<ENAME>``."""
    english = exc.strerror or str(exc)
    if kb.lang == "en" or not isinstance(exc.errno, int):
        return english
    import errno
    import socket
    import ssl

    if isinstance(exc, ssl.SSLError):  # its errno is OpenSSL's, not the system's
        return english
    if isinstance(exc, socket.gaierror):
        name = {getattr(socket, n): n for n in dir(socket) if n.startswith("EAI_")}.get(exc.errno)
    else:
        name = errno.errorcode.get(exc.errno)
    if name is None:
        return english
    text = kb.ui(f"error_os_{name}")
    return english if text == f"error_os_{name}" else text


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

    def __init__(self, message: str = "", *, raw: bytes = b"", key: str = "",
                 params: Mapping[str, object] | None = None, phase: str = "",
                 hint: str = "") -> None:
        super().__init__(message, key=key, params=params, phase=phase, hint=hint)
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

    def __init__(self, message: str = "", *, raw: bytes = b"", key: str = "",
                 params: Mapping[str, object] | None = None, phase: str = "",
                 hint: str = "") -> None:
        super().__init__(message, key=key, params=params, phase=phase, hint=hint)
        self.raw = raw
