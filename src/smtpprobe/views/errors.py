"""Word an `SMTPProbeError` in the user's language: its message and its hint.

Errors carry a key and params (`smtpprobe.errors`); the sentences live in
``kb/data/<lang>/ui_errors.toml`` as ``<key>`` and ``<key>_hint``. English is the fallback
for a key a language lacks; an error raised with a sentence of its own keeps it.
"""

from __future__ import annotations

from collections.abc import Mapping

from smtpprobe.errors import Alternatives, SMTPProbeError, Term
from smtpprobe.kb import KnowledgeBase, load

__all__ = ["error_text", "localized"]


def localized(exc: SMTPProbeError, kb: KnowledgeBase) -> tuple[str, str]:
    """The message and hint of *exc* in *kb*'s language (English where it lacks them)."""
    if not exc.key:
        return exc.message, exc.hint
    for table in (kb, load("en")) if kb.lang != "en" else (kb,):
        values = {name: _value(value, table) for name, value in exc.params.items()}
        message = _fill(table, exc.key, values)
        if message is not None:
            hint = _fill(table, exc.key + "_hint", values)
            return message, exc.hint if hint is None else hint
    return exc.message, exc.hint


def error_text(exc: SMTPProbeError, kb: KnowledgeBase) -> str:
    """The message of *exc* in *kb*'s language."""
    return localized(exc, kb)[0]


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
    """The system's reason in plain words (``connection refused``), not Python's wording
    (``Connect call failed ('127.0.0.1', 9)``); the C library's text where we have none."""
    import errno
    import socket
    import ssl  # here: `explain` words errors too, and never needs the network modules

    english = exc.strerror or str(exc)
    if isinstance(exc, ssl.SSLError) or not isinstance(exc.errno, int):
        return english  # an SSL error's errno is OpenSSL's, not the system's
    if isinstance(exc, socket.gaierror):
        name = {getattr(socket, n): n for n in dir(socket) if n.startswith("EAI_")}.get(exc.errno)
    else:
        name = errno.errorcode.get(exc.errno)
    if name is None:
        return english
    text = kb.ui(f"error_os_{name}")
    return english if text == f"error_os_{name}" else text
