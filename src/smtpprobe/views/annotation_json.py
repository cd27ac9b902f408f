"""The JSON dicts of one explained reply (`annotation_json`) and of its parts.

Explicit dicts, keys in English, text in the knowledge base's language. Shared by
``explain``, ``compare`` and the live probe's JSON renderer; the shapes are documented in
`smtpprobe.views.offline_json`.
"""

from __future__ import annotations

from typing import Any

from smtpprobe.kb import ClassInfo, ContextEntry, KBEntry, PatternEntry
from smtpprobe.meaning import Annotation

__all__ = [
    "annotation_json",
    "context_json",
    "digit_json",
    "entry_json",
    "pattern_json",
]


def digit_json(digit: int | None, info: ClassInfo | None) -> dict[str, Any] | None:
    """``{"digit": 2, "name": …, "meaning": …}`` for a class, category or subject."""
    if info is None:
        return None
    return {"digit": digit, "name": info.name, "meaning": info.meaning}


def entry_json(entry: KBEntry) -> dict[str, Any]:
    """The text and facts of one knowledge-base entry."""
    return {
        "title": entry.title,
        "description": entry.description,
        "when": entry.when,
        "fix": entry.fix,
        "fix_operator": entry.fix_operator,
        "references": list(entry.references),
        "related": list(entry.related),
        "synthesized": entry.synthesized,
    }


def context_json(context: ContextEntry | None) -> dict[str, Any] | None:
    """The per-command reading (``252@VRFY``), or None."""
    if context is None:
        return None
    return {
        "command": context.command,
        "meaning": context.meaning,
        "fix": context.fix,
        "tone": context.tone,
    }


def pattern_json(pattern: PatternEntry) -> dict[str, Any]:
    """A vendor-specific reading recognised in the reply's text."""
    return {
        "id": pattern.id,
        "vendor": pattern.vendor,
        "meaning": pattern.meaning,
        "fix": pattern.fix,
    }


def annotation_json(annotation: Annotation) -> dict[str, Any]:
    """Everything known about one reply, as a JSON-ready dict (see `offline_json`)."""
    reply = annotation.reply
    enhanced: dict[str, Any] | None = None
    if reply.enhanced is not None and annotation.enhanced is not None:
        enhanced = {
            "code": str(reply.enhanced),
            "key": reply.enhanced.key,
            "class": digit_json(reply.enhanced.klass, annotation.enhanced_class),
            "subject": digit_json(reply.enhanced.subject, annotation.enhanced_subject),
            **entry_json(annotation.enhanced),
        }
    return {
        "code": reply.code,
        "class": digit_json(reply.code // 100, annotation.klass),
        "category": digit_json(reply.code // 10 % 10, annotation.category),
        **entry_json(annotation.basic),
        "reply": {"lines": list(reply.lines), "text": reply.message},
        "enhanced": enhanced,
        "command": annotation.command,
        "context": context_json(annotation.context),
        "allowed": annotation.allowed,
        "patterns": [pattern_json(p) for p in annotation.patterns],
        "defects": [d.value for d in annotation.defects],
        "tone": annotation.tone.value,
    }
