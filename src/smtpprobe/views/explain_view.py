"""The human view of ``smtpprobe explain``: each argument's explanation as a `Doc`."""

from __future__ import annotations

from collections.abc import Sequence

from smtpprobe.kb import KnowledgeBase
from smtpprobe.render.doc import (
    Blank,
    Block,
    Doc,
    Fields,
    Heading,
    Line,
    Paragraph,
    Span,
    line,
)
from smtpprobe.views.annotation_doc import (
    annotation_doc,
    class_style,
    entry_blocks,
    references_blocks,
)
from smtpprobe.views.explanation import EnhancedReading, Explanation

__all__ = ["enhanced_doc", "explain_doc"]


def enhanced_doc(reading: EnhancedReading, kb: KnowledgeBase) -> list[Block]:
    """An enhanced status code on its own: class, subject, registry entry."""
    entry = reading.entry
    style = class_style((reading.klass or 0) * 100)
    rows: list[tuple[str, Line]] = []
    if reading.klass_info is not None:
        rows.append(
            (
                kb.ui("class"),
                line(
                    Span(f"{reading.klass}.x.x {reading.klass_info.name}", style),
                    f": {reading.klass_info.meaning}",
                ),
            )
        )
    rows.append(
        (
            kb.ui("subject"),
            line(
                Span(f"x.{reading.subject}.x {reading.subject_info.name}"),
                f": {reading.subject_info.meaning}",
            ),
        )
    )
    if entry.basic:
        rows.append(
            (kb.ui("explain_associated"), line(", ".join(f"{code:03d}" for code in entry.basic)))
        )
    blocks: list[Block] = [
        Heading(
            kb.ui("explain_enhanced_title").format(code=reading.code, title=entry.title), 2, style
        ),
        Fields(tuple(rows)),
    ]
    if entry.synthesized:
        blocks.append(Paragraph(line(Span(kb.ui("explain_synthesized"), "dim")), indent=2))
    return blocks + entry_blocks(entry, kb) + references_blocks(entry, kb)


def explain_doc(explanations: Sequence[Explanation], kb: KnowledgeBase) -> Doc:
    """One section per argument, in the order given."""
    doc = Doc()
    for n, explanation in enumerate(explanations):
        if n:
            doc.add(Blank())
        if explanation.annotation is not None:
            doc.add(
                *annotation_doc(explanation.annotation, kb, show_reply=explanation.kind == "reply")
            )
        elif explanation.enhanced is not None:
            doc.add(*enhanced_doc(explanation.enhanced, kb))
    return doc
