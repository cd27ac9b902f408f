"""One reply explained as `Doc` blocks, in full (`annotation_doc`) or in one line (`reading`).

Shared by ``explain``, ``annotate`` and the live probe's renderer, so that a reply reads the
same wherever it is shown. Pure: an `Annotation` in, blocks out; server text goes into spans
unchanged (the emitters make it visible-safe).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from smtpprobe.kb import ClassInfo, KBEntry, KnowledgeBase
from smtpprobe.meaning import Annotation, Tone
from smtpprobe.render.doc import (
    Blank,
    Block,
    Fields,
    Heading,
    Items,
    Line,
    Paragraph,
    Span,
    line,
)

__all__ = [
    "Reading",
    "annotation_doc",
    "class_style",
    "entry_blocks",
    "first_sentence",
    "reading",
    "references_blocks",
]


@functools.cache
def _sentence_end() -> re.Pattern[str]:
    # A sentence ends at . ! ? before a capital (or a backtick, quote, parenthesis); not
    # after the abbreviations that end with a full stop in the knowledge base's prose.
    # Compiled on first use: `explain` never needs it.
    return re.compile(
        r"(?<!\be\.g\.)(?<!\bi\.e\.)(?<!\bvs\.)(?<!\bmis\.)(?<!\bdll\.)"
        r"[.!?](?=\s+[A-Z`\"(])"
    )


def first_sentence(text: str) -> str:
    """The first sentence of *text* (all of it when it has only one)."""
    match = _sentence_end().search(text)
    return text[: match.end()] if match else text.strip()


def class_style(code: int | None) -> str:
    """The span style of a code's class: ``c2`` … ``c5`` (``dim`` when unknown)."""
    digit = (code or 0) // 100
    return f"c{digit}" if 2 <= digit <= 5 else "dim"


@dataclass(frozen=True, slots=True)
class Reading:
    """A reply in one line: what it is, what it means here, what to do about it."""

    title: str
    meaning: str
    fix: str
    tone: Tone
    basis: str
    """Where the meaning came from: ``pattern:<id>``, ``context``, ``enhanced`` or ``basic``."""


def reading(annotation: Annotation) -> Reading:
    """The most specific one-line reading: vendor pattern, then command, then the codes."""
    reply = annotation.reply
    title = f"{reply.code:03d} {annotation.basic.title}"
    enhanced = annotation.enhanced
    if reply.enhanced is not None and enhanced is not None:
        title += f" · {reply.enhanced} {enhanced.title}"
    specific = enhanced if enhanced is not None and not enhanced.synthesized else None
    if annotation.patterns:
        pattern = annotation.patterns[0]
        meaning, fix, basis = pattern.meaning, pattern.fix, f"pattern:{pattern.id}"
    elif annotation.context is not None:
        meaning, basis = annotation.context.meaning, "context"
        fix = annotation.context.fix or (specific or annotation.basic).fix
    elif specific is not None:
        meaning, fix, basis = specific.description, specific.fix, "enhanced"
    else:
        meaning, fix, basis = annotation.basic.description, annotation.basic.fix, "basic"
    if annotation.tone is Tone.OK and annotation.context is not None and not annotation.context.fix:
        fix = ""
    return Reading(title, first_sentence(meaning), first_sentence(fix), annotation.tone, basis)


def _digit_row(label: str, mark: str, info: ClassInfo, style: str) -> tuple[str, Line]:
    tail = f": {info.meaning}" if info.meaning else ""
    return label, line(Span(f"{mark} {info.name}", style), tail)


def entry_blocks(entry: KBEntry, kb: KnowledgeBase, *, level: int = 3) -> list[Block]:
    """Description, when you see it, how to fix (and for the operator) of one entry."""
    blocks: list[Block] = []
    for key, text in (
        ("description", entry.description),
        ("when", entry.when),
        ("fix", entry.fix),
        ("fix_operator", entry.fix_operator),
    ):
        if text:
            blocks += [Blank(), Heading(kb.ui(key), level), Paragraph(line(text), indent=2)]
    return blocks


def references_blocks(entry: KBEntry, kb: KnowledgeBase) -> list[Block]:
    """References and related codes as label rows."""
    rows: list[tuple[str, Line]] = []
    if entry.references:
        rows.append((kb.ui("references"), line(", ".join(entry.references))))
    if entry.related:
        rows.append((kb.ui("related"), line(", ".join(entry.related))))
    return [Blank(), Fields(tuple(rows))] if rows else []


def _context_blocks(annotation: Annotation, kb: KnowledgeBase) -> list[Block]:
    command, code = annotation.command, annotation.reply.code
    if command is None:
        return []
    blocks: list[Block] = [Blank(), Heading(kb.ui("in_reply_to").format(command=command), 3)]
    context = annotation.context
    if context is not None:
        blocks.append(Paragraph(line(Span(context.meaning, context.tone)), indent=2))
        if context.fix:
            blocks.append(Paragraph(line(Span(f"{kb.ui('fix')}: ", "bold"), context.fix), indent=2))
    else:
        blocks.append(
            Paragraph(
                line(kb.ui("explain_no_context").format(code=code, command=command)), indent=2
            )
        )
    if annotation.allowed is False:
        text = kb.ui("deviation").format(code=code, command=command)
        blocks.append(Paragraph(line(Span(text, "warn")), indent=2))
    elif annotation.allowed is True:
        text = kb.ui("explain_allowed").format(code=code, command=command)
        blocks.append(Paragraph(line(Span(text, "ok")), indent=2))
    else:
        blocks.append(
            Paragraph(line(Span(kb.ui("explain_no_rule").format(command=command), "dim")), indent=2)
        )
    return blocks


def _enhanced_blocks(annotation: Annotation, kb: KnowledgeBase) -> list[Block]:
    code, entry = annotation.reply.enhanced, annotation.enhanced
    if code is None or entry is None:
        return []
    style = class_style(code.klass * 100)
    rows: list[tuple[str, Line]] = []
    if annotation.enhanced_class is not None:
        rows.append(
            _digit_row(kb.ui("class"), f"{code.klass}.x.x", annotation.enhanced_class, style)
        )
    if annotation.enhanced_subject is not None:
        rows.append(
            _digit_row(kb.ui("subject"), f"x.{code.subject}.x", annotation.enhanced_subject, "")
        )
    return [
        Blank(),
        Heading(f"{kb.ui('enhanced')} {code}: {entry.title}", 3, style),
        Fields(tuple(rows), indent=2),
        Paragraph(line(entry.description), indent=2),
        Paragraph(line(Span(f"{kb.ui('fix')}: ", "bold"), entry.fix), indent=2),
    ]


def annotation_doc(
    annotation: Annotation, kb: KnowledgeBase, *, show_reply: bool = True, heading: bool = True
) -> list[Block]:
    """Everything the knowledge base says about one reply, as blocks.

    :param show_reply: print the reply's own lines first (off for a bare code).
    :param heading: open with ``SMTP 550 Title`` in the class colour.
    """
    reply, basic = annotation.reply, annotation.basic
    style = class_style(reply.code)
    blocks: list[Block] = []
    if heading:
        blocks.append(Heading(f"SMTP {reply.code:03d} {basic.title}", 2, style))
    if show_reply:
        blocks += [Paragraph(line(Span(text, "code")), indent=2) for text in reply.wire_lines()]
    rows = [
        _digit_row(kb.ui("class"), f"{reply.code // 100}xx", annotation.klass, style),
        _digit_row(kb.ui("category"), f"x{reply.code // 10 % 10}x", annotation.category, ""),
    ]
    blocks.append(Fields(tuple(rows)))
    if basic.synthesized:
        blocks.append(Paragraph(line(Span(kb.ui("explain_synthesized"), "dim")), indent=2))
    blocks += entry_blocks(basic, kb)
    blocks += _context_blocks(annotation, kb)
    blocks += _enhanced_blocks(annotation, kb)
    for pattern in annotation.patterns:
        if (
            pattern.overload
            and annotation.enhanced is not None
            and annotation.enhanced.description == pattern.meaning
        ):
            continue  # already shown as the enhanced code's (vendor) meaning above
        blocks.append(Blank())
        blocks.append(
            Heading(kb.ui("vendor_reading").format(vendor=pattern.vendor or "-"), 3, "note")
        )
        blocks.append(Paragraph(line(pattern.meaning), indent=2))
        if pattern.fix:
            blocks.append(Paragraph(line(Span(f"{kb.ui('fix')}: ", "bold"), pattern.fix), indent=2))
    if annotation.defects:
        blocks += [Blank(), Heading(kb.ui("defects"), 3, "warn")]
        blocks.append(
            Items(tuple(line(kb.ui(f"defect_{d.value}")) for d in annotation.defects), indent=2)
        )
    blocks += references_blocks(basic, kb)
    return blocks
