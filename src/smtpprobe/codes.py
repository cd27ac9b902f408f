"""What follows from a code's digits alone: class, category, validity, and argument parsing.

RFC 5321 §4.2.1 gives the first digit (class) and second digit (category) their meaning;
RFC 3463 §2 does the same for ``class.subject.detail``. Nothing here needs the knowledge base.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from smtpprobe.errors import UnknownCodeError
from smtpprobe.reply import EnhancedCode

__all__ = [
    "CodeQuery",
    "parse_code_query",
    "reply_category",
    "reply_class",
]

_BASIC = re.compile(r"[2-5][0-9]{2}")
_ENHANCED = re.compile(r"(?P<klass>[245xX])\.(?P<subject>[0-9]{1,3})\.(?P<detail>[0-9]{1,3})")


def reply_class(code: int) -> int:
    """First digit: 2 Positive Completion … 5 Permanent Negative Completion."""
    return code // 100


def reply_category(code: int) -> int:
    """Second digit: 0 syntax, 1 information, 2 connections, 3/4 unspecified, 5 mail system."""
    return code // 10 % 10


@dataclass(frozen=True, slots=True)
class CodeQuery:
    """A code the user asked about: a basic code, or an enhanced key with an optional class."""

    basic: int | None = None
    enhanced_key: str | None = None
    enhanced_class: int | None = None

    @property
    def enhanced(self) -> EnhancedCode | None:
        if self.enhanced_key is None or self.enhanced_class is None:
            return None
        _x, subject, detail = self.enhanced_key.split(".")
        return EnhancedCode(self.enhanced_class, int(subject), int(detail))

    def __str__(self) -> str:
        if self.basic is not None:
            return str(self.basic)
        assert self.enhanced_key is not None
        klass = str(self.enhanced_class) if self.enhanced_class else "X"
        return klass + self.enhanced_key[1:]


def parse_code_query(text: str) -> CodeQuery | None:
    """Read ``252``, ``5.1.1`` or ``X.1.1``; None when *text* looks like reply text instead.

    :raises UnknownCodeError: text that looks like a code but breaks the grammar
        (``999``, ``25``, ``6.1.1``).
    """
    stripped = text.strip()
    if _BASIC.fullmatch(stripped):
        return CodeQuery(basic=int(stripped))
    enhanced = _ENHANCED.fullmatch(stripped)
    if enhanced:
        klass = enhanced["klass"]
        return CodeQuery(
            enhanced_key=f"X.{int(enhanced['subject'])}.{int(enhanced['detail'])}",
            enhanced_class=None if klass in "xX" else int(klass),
        )
    if re.fullmatch(r"[0-9]+", stripped):
        raise UnknownCodeError(key="error_code_not_basic", params={"text": stripped})
    if re.fullmatch(r"[0-9xX]\.[0-9]+\.[0-9]+", stripped):
        raise UnknownCodeError(key="error_code_not_enhanced", params={"text": stripped})
    return None
