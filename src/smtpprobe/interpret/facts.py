"""The knowledge base's language-neutral facts, for the interpreter.

The interpreter reads rules (which codes RFC 5321 §4.3.2 allows after each command) and
the ids of vendor patterns, never words; any language's knowledge base holds the same
facts, so this one is English only because one must be picked.
"""

from __future__ import annotations

from smtpprobe.kb import KnowledgeBase, load

__all__ = ["facts"]


def facts() -> KnowledgeBase:
    """The knowledge base to read facts from (rules, pattern ids), never words."""
    return load("en")
