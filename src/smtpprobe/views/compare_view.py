"""``smtpprobe compare A B``: the seed page for any two codes, as a `Comparison` and a `Doc`.

The page: a heading, an opening paragraph on both codes' classes and meanings, then for each
code Description / When you see it / How to fix, four numbered key differences, when to use
which, and the references (Learn more).
"""

from __future__ import annotations

from dataclasses import dataclass

from smtpprobe.kb import KnowledgeBase
from smtpprobe.render.doc import (
    Blank,
    Block,
    Doc,
    Heading,
    Items,
    Paragraph,
    Span,
    line,
)
from smtpprobe.views.annotation_doc import class_style, entry_blocks
from smtpprobe.views.explanation import Explanation

__all__ = ["Comparison", "compare", "compare_doc"]


@dataclass(frozen=True, slots=True)
class Comparison:
    """The text of a comparison page, built once for both the text and the JSON view."""

    first: Explanation
    second: Explanation
    title: str
    intro: str
    differences: tuple[str, ...]
    when_to_use: tuple[str, ...]
    learn_more: tuple[tuple[str, tuple[str, ...]], ...]


def _lower_first(text: str) -> str:
    """``A system …`` → ``a system …``; ``SMTP …`` and ``HELP …`` stay as they are."""
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        return text[0].lower() + text[1:]
    return text


def _label(explanation: Explanation) -> str:
    """``SMTP 211`` for a basic code, ``5.1.1`` for an enhanced one (as the seed writes it)."""
    return f"SMTP {explanation.label}" if explanation.enhanced is None else explanation.label


def _group(explanation: Explanation, other: Explanation) -> str:
    """``2xx Positive Completion``, ``5.x.x Permanent Failure`` or ``X.1.x Addressing Status``.

    Enhanced codes are grouped by class when both have one, else by subject (RFC 3463 §3).
    """
    if explanation.annotation is not None:
        code = explanation.annotation.reply.code
        return f"{code // 100}xx {explanation.annotation.klass.name}"
    reading = explanation.enhanced
    assert reading is not None
    peer = other.enhanced
    by_subject = peer is not None and (reading.klass is None or peer.klass is None
                                       or peer.klass != reading.klass) \
        and peer.subject == reading.subject
    if reading.klass_info is not None and not by_subject:
        return f"{reading.klass}.x.x {reading.klass_info.name}"
    return f"X.{reading.subject}.x {reading.subject_info.name}"


def _encounter(explanation: Explanation, kb: KnowledgeBase) -> str:
    when = explanation.entry.when
    first_word = when.split(None, 1)[0].lower() if when.strip() else ""
    leads = {word.strip().lower() for word in kb.ui("compare_when_leads").split("|")}
    key = "compare_encounter_when" if first_word in leads else "compare_encounter"
    text = _lower_first(when) if key == "compare_encounter_when" else when
    return kb.ui(key).format(code=explanation.label, when=text)


def compare(first: Explanation, second: Explanation, kb: KnowledgeBase) -> Comparison:
    """Build the comparison page of two explained codes."""
    a, b = first.entry, second.entry
    name_a = f"{_label(first)} ({a.title})"
    name_b = f"{second.label} ({b.title})"
    group_a, group_b = _group(first, second), _group(second, first)
    if group_a == group_b:
        opening = kb.ui("compare_both").format(a=name_a, b=name_b, group=group_a)
    else:
        opening = kb.ui("compare_each").format(a=name_a, b=name_b, group_a=group_a,
                                               group_b=group_b)
    intro = " ".join([
        opening,
        kb.ui("compare_indicates").format(code=first.label,
                                          description=_lower_first(a.description)),
        kb.ui("compare_meanwhile").format(code=second.label,
                                          description=_lower_first(b.description)),
    ])
    differences = (
        kb.ui("compare_difference").format(label=_label(first), description=a.description),
        kb.ui("compare_difference").format(label=_label(second), description=b.description),
        _encounter(first, kb),
        _encounter(second, kb),
    )
    when_to_use = tuple(
        kb.ui("compare_for").format(code=x.label, title=x.entry.title, fix=x.entry.fix)
        for x in (first, second)
    )
    cited: dict[str, list[str]] = {}
    for explanation in (first, second):
        for reference in explanation.entry.references:
            codes = cited.setdefault(reference, [])
            if explanation.label not in codes:
                codes.append(explanation.label)
    title = kb.ui("compare_title").format(a=f"{first.label} {a.title}",
                                          b=f"{second.label} {b.title}")
    return Comparison(first, second, title, intro, differences, when_to_use,
                      tuple((ref, tuple(codes)) for ref, codes in cited.items()))


def _code_section(explanation: Explanation, kb: KnowledgeBase) -> list[Block]:
    entry = explanation.entry
    if explanation.annotation is not None:
        style = class_style(explanation.annotation.reply.code)
    else:
        style = class_style((explanation.enhanced.klass or 0) * 100 if explanation.enhanced
                            else None)
    return [Blank(), Heading(f"{_label(explanation)} {entry.title}", 2, style),
            *entry_blocks(entry, kb, level=3)]


def compare_doc(comparison: Comparison, kb: KnowledgeBase) -> Doc:
    """The page as a `Doc`, headings in the knowledge base's language."""
    first, second = comparison.first, comparison.second
    learn = tuple(
        line(reference, Span(f" ({', '.join(codes)})", "dim") if len(codes) == 1 else "")
        for reference, codes in comparison.learn_more
    )
    return Doc().add(
        Heading(comparison.title, 1),
        Paragraph(line(comparison.intro)),
        *_code_section(first, kb),
        *_code_section(second, kb),
        Blank(),
        Heading(kb.ui("key_differences"), 2),
        Items(tuple(line(text) for text in comparison.differences), numbered=True),
        Blank(),
        Heading(kb.ui("when_to_use"), 2),
        Paragraph(line(" ".join(comparison.when_to_use))),
        Blank(),
        Heading(kb.ui("learn_more"), 2),
        Items(learn + (line(Span(kb.ui("compare_explain_hint").format(a=first.label, b=second.label), "dim")),)),
    )
