"""JSON documents of the offline commands (explain, compare, codes, annotate).

Every document is an explicit dict with ``"schema_version": 1``; keys are English, text is
in the chosen ``--lang``. Shapes (``…`` = text, ``[…]`` = list):

``explain`` — one document::

    {"schema_version": 1, "explanations": [EXPLANATION, …]}

    EXPLANATION = {
      "input": "252", "kind": "code" | "enhanced" | "reply",
      "code": 252 | null,                     # null for kind "enhanced"
      "class": DIGIT | null,                  # reply class; for kind "enhanced" the RFC 3463
                                              # class (null for X.y.z)
      "category": DIGIT | null,               # second digit (null for kind "enhanced")
      "title", "description", "when", "fix", "fix_operator": …,
      "references": ["RFC 5321 §4.2.2", …], "related": ["250", …],
      "synthesized": false,                   # true: no entry of its own, read from digits
      "reply": {"lines": […], "text": …} | null,   # kind "reply" only
      "enhanced": ENHANCED | null,
      "command": "VRFY" | null,               # --command, or null
      "context": {"command", "meaning", "fix", "tone"} | null,
      "allowed": true | false | null,         # RFC 5321 §4.3.2 lists the code for the command
      "patterns": [{"id", "vendor", "meaning", "fix"}, …],
      "defects": ["bare-lf", …],
      "tone": "ok" | "note" | "warn" | "bad"}
    DIGIT = {"digit": 2, "name": …, "meaning": …}
    ENHANCED = {"code": "5.1.1" | "X.1.1", "key": "X.1.1", "class": DIGIT | null,
                "subject": DIGIT, "basic": [550, …], "title", "description", "when", "fix",
                "fix_operator", "references", "related", "synthesized"}

``compare`` — one document::

    {"schema_version": 1, "title": "SMTP 211 System Status vs 252 Cannot Verify User",
     "intro": …, "codes": [EXPLANATION, EXPLANATION],
     "key_differences": [4 × …], "when_to_use": [2 × …],
     "learn_more": [{"reference": "RFC 5321 §4.2.2", "codes": ["211", "252"]}, …]}

``codes`` — one document::

    {"schema_version": 1, "registry": "basic" | "enhanced", "class": 4 | null,
     "search": … | null, "count": 12,
     "codes": [{"code": "450" | "X.1.1" | "5.1.1", "title", "description",
                "class": DIGIT | null, "subject": DIGIT | null}, …]}

``annotate`` — JSON Lines (ASCII, other characters as ``\\u`` escapes): one object per reply
found, as soon as it is found, then one summary object last::

    {"schema_version": 1, "type": "reply", "line": 5, "text": "550 5.1.1 <bob@…>: …",
     "source": "postfix", "code": 550 | null, "enhanced": "5.1.1" | null,
     "command": "RCPT" | null, "title": …, "meaning": …, "fix": …,
     "tone": "bad", "basis": "pattern:postfix-user-unknown" | "context" | "enhanced" | "basic"}
    {"schema_version": 1, "type": "summary", "source": "mail.log", "lines": 1000000,
     "found": 99853, "replies": 89830,        # found = replies + bare enhanced statuses
     "codes": [{"code": "550", "count": 40000, "title": …}, …],   # most frequent first
     "enhanced": [{"code": "5.1.1", "count": 40000, "title": …}, …],
     "skipped_lines": 0}                      # lines over 65,536 characters, not read

In a ``reply`` record ``code`` is null when the log gave only an enhanced status (Postfix
``dsn=4.4.1`` after a timeout, a DSN ``Status:`` field); ``text`` then holds the log's words.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from smtpprobe.render.json_text import json_text
from smtpprobe.views.annotation_json import annotation_json, digit_json, entry_json

if TYPE_CHECKING:  # only for annotations: each command imports just the views it uses
    from smtpprobe.kb import KnowledgeBase
    from smtpprobe.logscan import Found
    from smtpprobe.views.annotate_view import Tally
    from smtpprobe.views.annotation_doc import Reading
    from smtpprobe.views.codes_view import CodeRow
    from smtpprobe.views.compare_view import Comparison
    from smtpprobe.views.explanation import EnhancedReading, Explanation

__all__ = [
    "SCHEMA_VERSION",
    "codes_json",
    "compare_json",
    "enhanced_json",
    "explain_json",
    "explanation_json",
    "record_tail",
    "summary_json",
]

SCHEMA_VERSION = 1


def enhanced_json(reading: EnhancedReading) -> dict[str, Any]:
    """An enhanced code on its own (the ``enhanced`` member of an explanation)."""
    return {
        "code": reading.code,
        "key": reading.entry.key,
        "class": digit_json(reading.klass, reading.klass_info),
        "subject": digit_json(reading.subject, reading.subject_info),
        "basic": list(reading.entry.basic),
        **entry_json(reading.entry),
    }


def explanation_json(explanation: Explanation) -> dict[str, Any]:
    """One EXPLANATION (see the module docstring)."""
    head = {"input": explanation.input, "kind": explanation.kind}
    if explanation.annotation is not None:
        body = annotation_json(explanation.annotation)
        if explanation.kind != "reply":
            body["reply"] = None
        return head | body
    reading = explanation.enhanced
    assert reading is not None
    return head | {
        "code": None,
        "class": digit_json(reading.klass, reading.klass_info),
        "category": None,
        **entry_json(reading.entry),
        "reply": None,
        "enhanced": enhanced_json(reading),
        "command": None,
        "context": None,
        "allowed": None,
        "patterns": [],
        "defects": [],
        "tone": reading.tone.value,
    }


def explain_json(explanations: Sequence[Explanation]) -> dict[str, Any]:
    """The ``explain`` document."""
    return {
        "schema_version": SCHEMA_VERSION,
        "explanations": [explanation_json(e) for e in explanations],
    }


def compare_json(comparison: Comparison) -> dict[str, Any]:
    """The ``compare`` document."""
    return {
        "schema_version": SCHEMA_VERSION,
        "title": comparison.title,
        "intro": comparison.intro,
        "codes": [explanation_json(comparison.first), explanation_json(comparison.second)],
        "key_differences": list(comparison.differences),
        "when_to_use": list(comparison.when_to_use),
        "learn_more": [
            {"reference": reference, "codes": list(codes)}
            for reference, codes in comparison.learn_more
        ],
    }


def codes_json(
    rows: Sequence[CodeRow],
    *,
    enhanced: bool,
    klass: int | None,
    search: str | None,
    kb: KnowledgeBase,
) -> dict[str, Any]:
    """The ``codes`` document."""
    codes = []
    for row in rows:
        klass_info = None
        if row.klass is not None:
            info = kb.enhanced_class(row.klass) if enhanced else row.group_info
            klass_info = digit_json(row.klass, info)
        codes.append(
            {
                "code": row.code,
                "title": row.title,
                "description": row.description,
                "class": klass_info,
                "subject": digit_json(row.group, row.group_info) if enhanced else None,
            }
        )
    return {
        "schema_version": SCHEMA_VERSION,
        "registry": "enhanced" if enhanced else "basic",
        "class": klass,
        "search": search,
        "count": len(codes),
        "codes": codes,
    }


def record_tail(found: Found, reading: Reading) -> str:
    """The part of a ``reply`` record that does not change with the line or the recipient.

    Returned as JSON text (from ``"source"`` to the closing brace) so that annotate can
    build one record per reply with a single string operation. ASCII only (``\\u`` escapes):
    a million records are written three times faster than as UTF-8.
    """
    tail = json_text(
        {
            "source": found.source,
            "code": found.code,
            "enhanced": found.enhanced,
            "command": found.command,
            "title": reading.title,
            "meaning": reading.meaning,
            "fix": reading.fix,
            "tone": reading.tone.value,
            "basis": reading.basis,
        },
        ascii_only=True,
    )
    return tail[1:]


def summary_json(
    source: str,
    lines: int,
    found: int,
    replies: int,
    codes: Sequence[Tally],
    enhanced: Sequence[Tally],
) -> dict[str, Any]:
    """The closing ``summary`` record."""
    return {
        "schema_version": SCHEMA_VERSION,
        "type": "summary",
        "source": source,
        "lines": lines,
        "found": found,
        "replies": replies,
        "codes": [{"code": t.code, "count": t.count, "title": t.title} for t in codes],
        "enhanced": [{"code": t.code, "count": t.count, "title": t.title} for t in enhanced],
    }
