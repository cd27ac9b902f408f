"""What one reply means: the knowledge base applied to a `Reply`, optionally after a command.

Shared by ``explain``, ``annotate`` and the live probe, so a reply reads the same everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from smtpprobe.codes import reply_category, reply_class
from smtpprobe.kb import (
    ClassInfo,
    ContextEntry,
    KBEntry,
    KnowledgeBase,
    PatternEntry,
    pattern_text,
)
from smtpprobe.reply import Reply, ReplyDefect

__all__ = ["Annotation", "Tone", "annotate_reply", "tone_of_class"]


class Tone(StrEnum):
    """How a reader should feel about a reply: fine, worth knowing, worth fixing, failed."""

    OK = "ok"
    NOTE = "note"
    WARN = "warn"
    BAD = "bad"


def tone_of_class(code: int) -> Tone:
    """The tone a reply has before any per-command knowledge: by its first digit."""
    return {2: Tone.OK, 3: Tone.NOTE, 4: Tone.WARN}.get(reply_class(code), Tone.BAD)


@dataclass(frozen=True, slots=True)
class Annotation:
    """A reply with everything the knowledge base says about it."""

    reply: Reply
    command: str | None
    basic: KBEntry
    klass: ClassInfo
    category: ClassInfo
    enhanced: KBEntry | None
    enhanced_class: ClassInfo | None
    enhanced_subject: ClassInfo | None
    context: ContextEntry | None
    patterns: tuple[PatternEntry, ...]
    allowed: bool | None
    tone: Tone

    @property
    def deviates(self) -> bool:
        """True when RFC 5321 §4.3.2 (or an extension) does not list this reply for the command."""
        return self.allowed is False

    @property
    def defects(self) -> tuple[ReplyDefect, ...]:
        return self.reply.defects


def annotate_reply(
    reply: Reply, kb: KnowledgeBase, command: str | None = None, *, patterns: bool = True
) -> Annotation:
    """Explain *reply*; *command* is the verb it answers (``VRFY``) or ``CONNECT`` for a banner.

    :param patterns: look for vendor patterns in the text (off for a bare code, which has no
        text: it spares loading and compiling the pattern file).

    Patterns are matched against the reply's text joined into one line (`pattern_text`), so
    a wrapped multi-line reply reads like its one-line form. When the first matching pattern
    is a vendor *overload* of the enhanced code, its reading replaces the registry's.
    """
    words = command.split() if command else []
    verb = words[0].upper() if words else None
    context = kb.context(reply.code, verb) if verb else None
    allowed = kb.reply_allowed(reply.code, verb) if verb else None
    enhanced = reply.enhanced
    tone = Tone(context.tone) if context is not None else tone_of_class(reply.code)
    if (allowed is False or reply.defects) and tone is Tone.OK:
        tone = Tone.NOTE
    found = (
        kb.patterns_for(reply.code, pattern_text(reply.lines), str(enhanced) if enhanced else None)
        if patterns
        else ()
    )
    enhanced_entry = kb.enhanced(enhanced.key) if enhanced else None
    if enhanced_entry is not None and found and found[0].overload:
        enhanced_entry = _vendor_entry(found[0], enhanced_entry)
    return Annotation(
        reply=reply,
        command=verb,
        basic=kb.basic(reply.code),
        klass=kb.basic_class(reply_class(reply.code)),
        category=kb.basic_category(reply_category(reply.code)),
        enhanced=enhanced_entry,
        enhanced_class=kb.enhanced_class(enhanced.klass) if enhanced else None,
        enhanced_subject=kb.enhanced_subject(enhanced.subject) if enhanced else None,
        context=context,
        patterns=found,
        allowed=allowed,
        tone=tone,
    )


def _vendor_entry(pattern: PatternEntry, registry: KBEntry) -> KBEntry:
    """The enhanced code as the vendor uses it, in place of the registry's reading."""
    return KBEntry(
        key=registry.key,
        title=f"{pattern.title} ({pattern.vendor})",
        description=pattern.meaning,
        when="",
        fix=pattern.fix,
        fix_operator="",
        references=(pattern.source,) if pattern.source else (),
        related=(registry.key,),
    )
