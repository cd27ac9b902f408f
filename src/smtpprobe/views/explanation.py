"""What one `explain`/`compare` argument means: a code, an enhanced code or a reply's text.

Pure: text and the knowledge base in, an `Explanation` out. `annotate` and the live probe
read replies through `smtpprobe.meaning.annotate_reply` the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from smtpprobe.codes import CodeQuery, parse_code_query
from smtpprobe.errors import MalformedReplyError, UnknownCodeError, UsageError
from smtpprobe.kb import ClassInfo, KBEntry, KnowledgeBase
from smtpprobe.logscan import scan_text
from smtpprobe.meaning import Annotation, Tone, annotate_reply
from smtpprobe.reply import Reply, parse_reply

__all__ = [
    "EnhancedReading",
    "Explanation",
    "command_verb",
    "enhanced_reading",
    "explain_argument",
    "explain_code",
]

_VERB = re.compile(r"[A-Za-z][A-Za-z_]{1,15}")
# A pasted reply line: three digits then a space, a hyphen or nothing (RFC 5321 §4.2).
_REPLY_START = re.compile(r"[0-9]{3}(?:[ -]|$)")
_LEADING_DIGITS = re.compile(r"[0-9]+")
_STANDARD_CODE = re.compile(r"[2-5][0-9]{2}")


@dataclass(frozen=True, slots=True)
class EnhancedReading:
    """An RFC 3463 code on its own: the registry entry, its class (unless X) and subject."""

    code: str
    entry: KBEntry
    klass: int | None
    klass_info: ClassInfo | None
    subject: int
    subject_info: ClassInfo

    @property
    def tone(self) -> Tone:
        return {2: Tone.OK, 4: Tone.WARN, 5: Tone.BAD}.get(self.klass or 0, Tone.NOTE)


@dataclass(frozen=True, slots=True)
class Explanation:
    """One argument explained: *annotation* for a code or reply, *enhanced* for X.y.z."""

    input: str
    kind: str
    annotation: Annotation | None = None
    enhanced: EnhancedReading | None = None

    @property
    def label(self) -> str:
        """``211`` for a basic code or a reply, ``5.1.1`` / ``X.1.1`` for an enhanced one."""
        if self.annotation is not None:
            return f"{self.annotation.reply.code:03d}"
        assert self.enhanced is not None
        return self.enhanced.code

    @property
    def entry(self) -> KBEntry:
        """The entry whose title, description, when and fix describe this argument."""
        if self.annotation is not None:
            return self.annotation.basic
        assert self.enhanced is not None
        return self.enhanced.entry


def command_verb(command: str | None) -> str | None:
    """``VRFY`` from ``vrfy`` or ``"RCPT TO"``.

    :raises UsageError: text that is not an SMTP verb.
    """
    if command is None:
        return None
    words = command.split()
    if not words or not _VERB.fullmatch(words[0]):
        raise UsageError(key="error_explain_not_a_verb", params={"command": command})
    return words[0].upper().replace("-", "_")


def enhanced_reading(query: CodeQuery, kb: KnowledgeBase) -> EnhancedReading:
    """The registry entry for an enhanced *query* (``5.1.1`` or ``X.1.1``)."""
    assert query.enhanced_key is not None
    subject = int(query.enhanced_key.split(".")[1])
    klass = query.enhanced_class
    return EnhancedReading(
        code=str(query),
        entry=kb.enhanced(query.enhanced_key),
        klass=klass,
        klass_info=kb.enhanced_class(klass) if klass else None,
        subject=subject,
        subject_info=kb.enhanced_subject(subject),
    )


def explain_code(
    query: CodeQuery, kb: KnowledgeBase, command: str | None = None, text: str | None = None
) -> Explanation:
    """A basic or enhanced code explained, optionally as the reply to *command*."""
    if query.basic is None:
        return Explanation(text or str(query), "enhanced", enhanced=enhanced_reading(query, kb))
    # A bare code has no text for vendor patterns to recognise.
    annotation = annotate_reply(Reply(query.basic, ("",)), kb, command, patterns=False)
    return Explanation(text or str(query), "code", annotation=annotation)


def explain_argument(text: str, kb: KnowledgeBase, command: str | None = None) -> Explanation:
    """Explain *text*: ``252``, ``5.1.1``, ``X.1.1`` or a whole (multi-line) reply.

    :raises UnknownCodeError: a code that breaks the grammar (``999``, ``6.1.1``) or text
        that is not a reply.

    Also read: a single pasted continuation line (``550-5.7.26 …``), the one-line form
    Postfix logs a multi-line reply in (``550-5.7.26 a 550-5.7.26 b 550 5.7.26 c``), and a
    log line or bounce holding a reply (``… said: 550 … (in reply to RCPT TO command)``),
    read by the same scanner as ``annotate``.
    """
    query = parse_code_query(text)
    if query is not None:
        return explain_code(query, kb, command, text.strip())
    lines = [line.rstrip("\r") for line in text.strip().splitlines() if line.strip()]
    first = lines[0].lstrip() if lines else ""
    if lines and not _REPLY_START.match(first):
        logged = next((found for found in scan_text(text) if found.code is not None), None)
        if logged is not None:
            reply = _logged_reply(logged.code or 0, logged.text)
            annotation = annotate_reply(reply, kb, command or logged.command)
            return Explanation(text, "reply", annotation=annotation)
    digits = _LEADING_DIGITS.match(first)
    if digits is not None and not (
        _STANDARD_CODE.fullmatch(digits.group()) and _REPLY_START.match(first)
    ):
        # "999 what" or "999x" is no more a reply than "explain 999" is a code.
        raise UnknownCodeError(key="error_code_not_basic", params={"text": digits.group()[:12]})
    try:
        reply = parse_reply("\n".join(_unfolded(lines)) if lines else "")
    except MalformedReplyError as exc:
        raise UnknownCodeError(
            key="error_explain_unreadable", params={"text": first[:60], "reason": exc}
        ) from None
    return Explanation(text, "reply", annotation=annotate_reply(reply, kb, command))


def _unfolded(lines: list[str]) -> list[str]:
    """Pasted reply lines made whole: Postfix's one-line form split, a cut-off end closed."""
    if len(lines) == 1 and lines[0][3:4] == "-":
        code = lines[0][:3]
        lines = re.split(rf" (?={code}[ -])", lines[0])
    last = lines[-1]
    if last[3:4] == "-":
        # A continuation line pasted on its own (or a reply cut short) ends the reply.
        lines = [*lines[:-1], f"{last[:3]} {last[4:]}"]
    return lines


def _logged_reply(code: int, text: str) -> Reply:
    """The reply a log line held, as `annotate` reads it (unparsable text kept as one line)."""
    try:
        return parse_reply(text)
    except MalformedReplyError:
        return Reply(code, (text[4:],))
