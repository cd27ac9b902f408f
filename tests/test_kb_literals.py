"""The vendor-pattern shortcut never hides a match: text a pattern matches always holds
one of its required literals (every pattern of the knowledge base, the reply corpus, and
texts hypothesis builds from each regex)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smtpprobe.kb import load, pattern_text
from smtpprobe.kb.literals import required_literals

PATTERNS = load("en").pattern_entries()
CORPUS = Path(__file__).resolve().parent.parent / "fixtures" / "replies"


def _holds_one(pattern: str, text: str) -> bool:
    literals = required_literals(pattern)
    return literals is None or any(literal in text.lower() for literal in literals)


def _corpus_texts() -> list[str]:
    texts = []
    for path in sorted(CORPUS.glob("*.toml")):
        for value in tomllib.loads(path.read_text(encoding="utf-8")).values():
            for item in value if isinstance(value, list) else [value]:
                reply = item.get("text") if isinstance(item, dict) else None
                if isinstance(reply, str):
                    texts.append(pattern_text(reply.splitlines()))
    return texts


def test_nearly_every_pattern_has_a_shortcut() -> None:
    """Otherwise the shortcut saves nothing (each None compiles as before)."""
    assert sum(required_literals(p.match) is None for p in PATTERNS) <= len(PATTERNS) // 10


def test_corpus_replies_that_match_hold_a_literal() -> None:
    texts = _corpus_texts()
    assert len(texts) > 50
    missed = [
        (p.id, text)
        for p in PATTERNS
        for text in texts
        if text.isascii()
        and re.search(p.match, text, re.IGNORECASE)
        and not _holds_one(p.match, text)
    ]
    assert missed == []


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("gsmtp|google|\\bSPF\\b", ("gsmtp", "google", "spf")),
        ("User unknown( in (local|virtual) table)?", ("user unknown",)),
        ("Recip(ient)?NotFound", ("notfound",)),
        ("mail ?box full", ("box full",)),
        ("a{2,3}bcd\\.e", ("bcd.e",)),
        ("abcd+ef", ("abcd",)),
        ("\\bTSS?0[39]\\b|x", None),  # a branch without three plain characters
        ("(?x) spaced out", None),  # verbose: spaces mean nothing
        ("\\x41bcd", None),
        ("unbalanced)", None),
    ],
)
def test_required_literals(pattern: str, expected: tuple[str, ...] | None) -> None:
    assert required_literals(pattern) == expected


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_generated_matches_hold_a_literal(data: st.DataObject) -> None:
    entry = data.draw(st.sampled_from(PATTERNS))
    regex = re.compile(entry.match, re.IGNORECASE)
    text = data.draw(st.from_regex(regex, alphabet=st.characters(max_codepoint=126)))
    assert regex.search(text)
    assert _holds_one(entry.match, text), (entry.id, text)
