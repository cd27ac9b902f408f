"""``smtpprobe codes``: the reference as rows, filtered, and as a table `Doc`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from smtpprobe.kb import ClassInfo, KBEntry, KnowledgeBase
from smtpprobe.render.doc import (
    Blank,
    Doc,
    Heading,
    Items,
    Paragraph,
    Span,
    Table,
    line,
)
from smtpprobe.views.annotation_doc import class_style

__all__ = ["CodeRow", "code_rows", "codes_doc"]


@dataclass(frozen=True, slots=True)
class CodeRow:
    """One line of the reference: a basic code (``250``) or an enhanced one (``X.1.1``)."""

    code: str
    title: str
    description: str
    group: int
    """The class digit of a basic code, the subject digit of an enhanced one."""
    group_info: ClassInfo
    klass: int | None
    """The class digit (None for an enhanced code listed as X.y.z)."""


def code_rows(
    kb: KnowledgeBase,
    *,
    klass: int | None = None,
    enhanced: bool = False,
    search: str | None = None,
) -> list[CodeRow]:
    """The entries of the basic (or, with *enhanced*, the X.y.z) registry that match.

    :param klass: keep basic codes of this class; for enhanced codes, write them with it
        (``5.1.1``) instead of ``X``.
    :param search: keep entries where it occurs (any case) in the code or any text of the
        entry (title, description, when, fix, fix for the operator) or of a vendor pattern
        seen with that code (its wording, meaning and fix).
    """
    rows: list[CodeRow] = []
    texts: dict[str, list[str]] = {}
    if enhanced:
        for entry in kb.enhanced_entries():
            subject = int(entry.key.split(".")[1])
            code = entry.key if klass is None else f"{klass}{entry.key[1:]}"
            rows.append(
                CodeRow(
                    code,
                    entry.title,
                    entry.description,
                    subject,
                    kb.enhanced_subject(subject),
                    klass,
                )
            )
            texts[code] = _entry_texts(entry)
    else:
        for entry in kb.basic_entries():
            digit = int(entry.key) // 100
            if klass is None or digit == klass:
                rows.append(
                    CodeRow(
                        entry.key,
                        entry.title,
                        entry.description,
                        digit,
                        kb.basic_class(digit),
                        digit,
                    )
                )
                texts[entry.key] = _entry_texts(entry)
    if search:
        needle = search.casefold()
        patterns = _pattern_texts(kb, enhanced=enhanced)
        rows = [
            row
            for row in rows
            if needle in row.code.casefold()
            or (enhanced and needle in ("x" + row.code[1:]).casefold())
            or any(needle in text for text in texts[row.code])
            or any(
                needle in text
                for text in patterns.get("X" + row.code[1:] if enhanced else row.code, ())
            )
        ]
    return rows


def _entry_texts(entry: KBEntry) -> list[str]:
    return [
        text.casefold()
        for text in (entry.title, entry.description, entry.when, entry.fix, entry.fix_operator)
    ]


def _pattern_texts(kb: KnowledgeBase, *, enhanced: bool) -> dict[str, list[str]]:
    """Each vendor pattern's texts (wording, meaning, fix), under every code it is seen with:
    ``"550"`` for basic codes, ``"X.1.1"`` for enhanced ones."""
    found: dict[str, list[str]] = {}
    for pattern in kb.pattern_entries():
        words = [
            text.casefold()
            for text in (pattern.match, pattern.title, pattern.meaning, pattern.fix, pattern.vendor)
        ]
        if enhanced:
            keys = ["X" + key[1:] for key in pattern.enhanced_seen]
        else:
            keys = [f"{code:03d}" for code in pattern.codes_seen]
        for key in keys:
            found.setdefault(key, []).extend(words)
    return found


def codes_doc(
    rows: Sequence[CodeRow], kb: KnowledgeBase, *, enhanced: bool = False, search: str | None = None
) -> Doc:
    """The rows as a table, with the class (or subject) names below it."""
    doc = Doc().add(Heading(kb.ui("codes_title_enhanced" if enhanced else "codes_title_basic"), 1))
    if not rows:
        return doc.add(
            Paragraph(line(Span(kb.ui("codes_none").format(search=search or ""), "warn")))
        )
    if enhanced:
        table = Table(
            (kb.ui("codes_col_code"), kb.ui("codes_col_title")),
            tuple(
                (Span(row.code, class_style((row.klass or 0) * 100)), Span(row.title))
                for row in rows
            ),
        )
        legend_mark = "x.{digit}.x {name}"
    else:
        table = Table(
            (kb.ui("codes_col_code"), kb.ui("codes_col_class"), kb.ui("codes_col_title")),
            tuple(
                (
                    Span(row.code, class_style(int(row.code))),
                    Span(f"{row.group}xx", class_style(int(row.code))),
                    Span(row.title),
                )
                for row in rows
            ),
        )
        legend_mark = "{digit}xx {name}"
    groups: dict[int, ClassInfo] = {}
    for row in rows:
        groups.setdefault(row.group, row.group_info)
    legend = tuple(
        line(legend_mark.format(digit=digit, name=info.name))
        for digit, info in sorted(groups.items())
    )
    return doc.add(
        table,
        Blank(),
        Heading(kb.ui("codes_subjects" if enhanced else "codes_classes"), 3),
        Items(legend),
        Blank(),
        Paragraph(line(Span(kb.ui_count("codes_count", len(rows)).format(count=len(rows)), "dim"))),
    )
