"""``smtpprobe compare A B``: the seed page for any two codes, as a `Comparison` and a `Doc`.

The page: a heading, an opening sentence on both codes' classes, then for each code
Description / When you see it / How to fix, four numbered contrasts (the commands each
answers, what each means for the sender, whether either signals a problem, what to do next),
when to expect which, and the references (Learn more).
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
from smtpprobe.views.annotation_doc import class_style, entry_blocks, first_sentence
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
    by_subject = (
        peer is not None
        and (reading.klass is None or peer.klass is None or peer.klass != reading.klass)
        and peer.subject == reading.subject
    )
    if reading.klass_info is not None and not by_subject:
        return f"{reading.klass}.x.x {reading.klass_info.name}"
    return f"X.{reading.subject}.x {reading.subject_info.name}"


def _first(text: str) -> str:
    return first_sentence(text).rstrip(".")


def _answers(explanation: Explanation, kb: KnowledgeBase) -> str:
    """Which commands the code answers (RFC 5321 §4.3.2), or which basic codes carry it."""
    if explanation.annotation is None:
        basic = explanation.entry.basic
        if not basic:
            return kb.ui("compare_carried_by_none").format(code=explanation.label)
        return kb.ui("compare_carried_by").format(
            code=explanation.label, codes=", ".join(f"{code:03d}" for code in basic)
        )
    code = explanation.annotation.reply.code
    commands = kb.commands_answered_by(code)
    if commands is None:
        return kb.ui("compare_answers_any").format(code=explanation.label)
    if not commands:
        return kb.ui("compare_answers_none").format(code=explanation.label)
    return kb.ui("compare_answers").format(code=explanation.label, commands=", ".join(commands))


def _klass(explanation: Explanation) -> int | None:
    if explanation.annotation is not None:
        return explanation.annotation.reply.code // 100
    return explanation.enhanced.klass if explanation.enhanced is not None else None


def _outcome(explanation: Explanation, kb: KnowledgeBase) -> str:
    """What the code means for the sender, by its class (RFC 5321 §4.2.1, RFC 3463 §3.1)."""
    klass = _klass(explanation)
    key = f"compare_outcome_{klass}" if klass in (2, 3, 4, 5) else "compare_outcome_x"
    return kb.ui(key).format(code=explanation.label)


def _outcomes(first: Explanation, second: Explanation, kb: KnowledgeBase) -> str:
    """Both outcomes, said once when the two codes share a class."""
    if _klass(first) == _klass(second):
        both = kb.ui("compare_and").format(a=first.label, b=second.label)
        return _outcome(first, kb).replace(first.label, both, 1)
    return f"{_outcome(first, kb)} {_outcome(second, kb)}"


def _problem(first: Explanation, second: Explanation, kb: KnowledgeBase) -> str:
    """Whether either code says something went wrong (a 4yz or 5yz class)."""
    bad = [x.label for x in (first, second) if (_klass(x) or 0) >= 4]
    unknown = [x.label for x in (first, second) if _klass(x) is None]
    if unknown:
        return kb.ui("compare_problem_depends").format(codes=", ".join(unknown))
    if len(bad) == 2:
        return kb.ui("compare_problem_both")
    if bad:
        return kb.ui("compare_problem_one").format(code=bad[0])
    return kb.ui("compare_problem_neither")


def compare(first: Explanation, second: Explanation, kb: KnowledgeBase) -> Comparison:
    """Build the comparison page of two explained codes.

    Each code's description, when and fix are printed once, in its own section; the key
    differences are contrasts built from facts (the commands each answers, the class, the
    first step to take), not the descriptions again.
    """
    a, b = first.entry, second.entry
    name_a = f"{_label(first)} ({a.title})"
    name_b = f"{second.label} ({b.title})"
    group_a, group_b = _group(first, second), _group(second, first)
    if group_a == group_b:
        intro = kb.ui("compare_both").format(a=name_a, b=name_b, group=group_a)
    else:
        intro = kb.ui("compare_each").format(a=name_a, b=name_b, group_a=group_a, group_b=group_b)
    differences = (
        f"{_answers(first, kb)} {_answers(second, kb)}",
        _outcomes(first, second, kb),
        _problem(first, second, kb),
        kb.ui("compare_next").format(
            a=first.label, fix_a=_first(a.fix), b=second.label, fix_b=_first(b.fix)
        ),
    )
    when_to_use = tuple(
        kb.ui("compare_expect").format(code=x.label, when=_first(x.entry.when))
        for x in (first, second)
    )
    cited: dict[str, list[str]] = {}
    for explanation in (first, second):
        for reference in explanation.entry.references:
            codes = cited.setdefault(reference, [])
            if explanation.label not in codes:
                codes.append(explanation.label)
    title = kb.ui("compare_title").format(
        a=f"{first.label} {a.title}", b=f"{second.label} {b.title}"
    )
    return Comparison(
        first,
        second,
        title,
        intro,
        differences,
        when_to_use,
        tuple((ref, tuple(codes)) for ref, codes in cited.items()),
    )


def _code_section(explanation: Explanation, kb: KnowledgeBase) -> list[Block]:
    entry = explanation.entry
    if explanation.annotation is not None:
        style = class_style(explanation.annotation.reply.code)
    else:
        style = class_style(
            (explanation.enhanced.klass or 0) * 100 if explanation.enhanced else None
        )
    return [
        Blank(),
        Heading(f"{_label(explanation)} {entry.title}", 2, style),
        *entry_blocks(entry, kb, level=3),
    ]


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
        Items(
            learn
            + (
                line(
                    Span(kb.ui("compare_explain_hint").format(a=first.label, b=second.label), "dim")
                ),
            )
        ),
    )
