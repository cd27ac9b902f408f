"""Word a language-neutral `Finding` in the user's language: its summary and its advice.

A finding carries ``check`` + ``reason`` + ``params``; the words live in
``kb/data/<lang>/findings/<check>.toml``, one table per reason (``summary``, optional
``summary-one`` for a count of one, ``advice`` with ``advice-<vendor>`` variants). The
checks that share words look in a family file after their own (``vrfy`` → ``verdict``).
Every renderer words findings here, so text, JSON, Nagios and JUnit say the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from smtpprobe.kb import KnowledgeBase
from smtpprobe.report import Finding
from smtpprobe.views.errors import error_text

__all__ = ["Worded", "advice_text", "summary_text", "word"]

# Checks whose words partly live in a shared file, looked up after their own.
_FAMILY = {
    "vrfy": ("verdict",),
    "expn": ("verdict",),
    "rcpt": ("verdict",),
    "expect-vrfy": ("expect", "policy"),
    "expect-expn": ("expect", "policy"),
    "expect-rcpt": ("expect", "policy"),
    "expect-relay": ("expect", "policy"),
    "expect-smuggling": ("expect", "policy"),
    "require-starttls": ("policy",),
    "require-valid-cert": ("policy",),
    "cert-days": ("policy",),
    "time": ("policy",),
    "banner-delay": ("policy",),
    "expect-banner": ("policy",),
    "expect-reply": ("policy",),
    "expect-extension": ("policy",),
}


@dataclass(frozen=True, slots=True)
class Worded:
    """A finding's words in one language: the summary line and the advice (or ``""``)."""

    summary: str
    advice: str


def _words(kb: KnowledgeBase, check: str, reason: str) -> dict[str, str]:
    for name in (check, *_FAMILY.get(check, ())):
        found = kb.finding_words(name, reason)
        if found:
            return found
    return {}


def _shown(value: Any, kb: KnowledgeBase) -> str:
    """A param as a sentence shows it: nothing is ``-``, a list is its words."""
    if value is None or value == "" or value == []:
        return "-"
    if isinstance(value, bool):
        return kb.ui("mx_yes" if value else "mx_no")
    if isinstance(value, (list, tuple)) and all(
        isinstance(item, (list, tuple)) and len(item) == 2 for item in value
    ):
        return ", ".join(f"{_shown(key, kb)}: {_shown(item, kb)}" for key, item in value)
    if isinstance(value, (list, tuple)):
        return " ".join(_shown(item, kb) for item in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _fill(template: str, params: Mapping[str, Any], kb: KnowledgeBase) -> str:
    values = {name: _shown(value, kb) for name, value in params.items()}
    try:
        return template.format_map(_Missing(values))
    except (ValueError, IndexError, AttributeError):
        return template


class _Missing(dict[str, str]):
    """Placeholders without a param show as ``-``, never as ``{name}``."""

    def __missing__(self, key: str) -> str:
        return "-"


def _summary(kb: KnowledgeBase, check: str, reason: str, params: Mapping[str, Any]) -> str:
    words = _words(kb, check, reason)
    template = words.get("summary", "")
    if params.get("count") == 1 and "summary-one" in words:
        template = words["summary-one"]
    return _fill(template, params, kb) if template else f"{check}: {reason}"


def _params(finding: Finding, kb: KnowledgeBase) -> dict[str, Any]:
    """The finding's params, and the words the views add: the cause's message, and for a
    greeting code its meaning (``{meaning}``)."""
    params = dict(finding.params)
    if finding.cause is not None:
        params.setdefault("message", error_text(finding.cause, kb))
    code = params.get("code")
    if finding.check == "banner" and isinstance(code, int):
        context = kb.context(code, "CONNECT")
        params.setdefault("meaning", context.meaning if context else kb.basic(code).title)
    return params


def summary_text(finding: Finding, kb: KnowledgeBase) -> str:
    """The summary line: the reason's sentence, then one sentence per note."""
    params = _params(finding, kb)
    parts = [_summary(kb, finding.check, finding.reason, params)]
    parts += [
        _summary(kb, finding.check, note.reason, {**params, **note.params})
        for note in finding.notes
    ]
    return " ".join(part for part in parts if part)


def _vendor_advice(words: Mapping[str, str], field: str, vendor: str) -> str:
    return (words.get(f"{field}-{vendor}") if vendor else None) or words.get(field, "")


def _reason_advice(finding: Finding, kb: KnowledgeBase, params: Mapping[str, Any]) -> str:
    vendor = str(params.get("vendor") or "")
    own = _vendor_advice(_words(kb, finding.check, finding.reason), "advice", vendor)
    if own:
        return _fill(own, params, kb)
    if finding.verdict is None:
        return ""
    # Verdict checks keep advice per verdict: [advice] disclosing-postfix / disclosing.
    for name in (finding.check, *_FAMILY.get(finding.check, ())):
        table = kb.finding_words(name, "advice")
        text = _vendor_advice(table, finding.verdict.value, vendor)
        if text:
            return _fill(text, params, kb)
    return ""


def _referenced(ref: str, kb: KnowledgeBase) -> str:
    """Advice kept elsewhere in the knowledge base: ``reply:554@CONNECT``, ``pattern:<id>``."""
    kind, _, key = ref.partition(":")
    if kind == "reply":
        code, _, command = key.partition("@")
        if code.isascii() and code.isdigit():
            context = kb.context(int(code), command or "*")
            return context.fix if context is not None and context.fix else kb.basic(int(code)).fix
    if kind == "pattern":
        found = kb.pattern(key)
        return found.fix if found is not None else ""
    return ""


def advice_text(finding: Finding, kb: KnowledgeBase) -> str:
    """The advice: the reason's own, then the notes', then what ``finding.advice`` names."""
    params = _params(finding, kb)
    parts = [_reason_advice(finding, kb, params)]
    for note in finding.notes:
        words = _words(kb, finding.check, note.reason)
        if "advice" in words:
            parts.append(_fill(words["advice"], {**params, **note.params}, kb))
    parts += [_referenced(ref, kb) for ref in finding.advice]
    return " ".join(dict.fromkeys(part for part in parts if part))


def word(finding: Finding, kb: KnowledgeBase) -> Worded:
    """Both of *finding*'s texts in *kb*'s language."""
    return Worded(summary_text(finding, kb), advice_text(finding, kb))
