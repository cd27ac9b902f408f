"""What follows from a code's digits alone, and reading the code a user asked about."""

from __future__ import annotations

import pytest

from smtpprobe.codes import (
    CodeQuery,
    parse_code_query,
    reply_category,
    reply_class,
)
from smtpprobe.errors import UnknownCodeError, UsageError
from smtpprobe.reply import EnhancedCode
from tests.worded import english


@pytest.mark.parametrize(
    ("code", "klass", "category"),
    [
        (211, 2, 1),
        (220, 2, 2),
        (235, 2, 3),
        (252, 2, 5),
        (354, 3, 5),
        (421, 4, 2),
        (500, 5, 0),
        (534, 5, 3),
        (550, 5, 5),
        (999, 9, 9),
        (100, 1, 0),
    ],
)
def test_class_and_category(code: int, klass: int, category: int) -> None:
    assert reply_class(code) == klass
    assert reply_category(code) == category


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("252", CodeQuery(basic=252), id="basic"),
        pytest.param(" 550\n", CodeQuery(basic=550), id="basic-with-whitespace"),
        pytest.param("5.1.1", CodeQuery(enhanced_key="X.1.1", enhanced_class=5), id="enhanced"),
        pytest.param("2.0.0", CodeQuery(enhanced_key="X.0.0", enhanced_class=2), id="enhanced-2"),
        pytest.param("X.1.1", CodeQuery(enhanced_key="X.1.1"), id="open-class-upper"),
        pytest.param("x.1.1", CodeQuery(enhanced_key="X.1.1"), id="open-class-lower"),
        pytest.param("X.7.30", CodeQuery(enhanced_key="X.7.30"), id="two-digit-detail"),
        pytest.param("5.01.001", CodeQuery(enhanced_key="X.1.1", enhanced_class=5), id="zeros"),
        pytest.param("550 5.1.1 User unknown", None, id="reply-text"),
        pytest.param("250-mx.test\n250 HELP", None, id="multiline-reply-text"),
        pytest.param("User unknown", None, id="plain-text"),
    ],
)
def test_parse_code_query(text: str, expected: CodeQuery | None) -> None:
    assert parse_code_query(text) == expected


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        pytest.param("999", "252", id="basic-class-9"),
        pytest.param("199", "252", id="basic-class-1"),
        pytest.param("25", "three digits", id="two-digits"),
        pytest.param("2500", "three digits", id="four-digits"),
        pytest.param("25000", "three digits", id="five-digits"),
        pytest.param("6.1.1", "5.1.1", id="enhanced-class-6"),
        pytest.param("3.1.1", "5.1.1", id="enhanced-class-3"),
        pytest.param("5.1.1000", "5.1.1", id="enhanced-detail-4-digits"),
    ],
)
def test_parse_code_query_rejects_with_hint(text: str, hint: str) -> None:
    with pytest.raises(UnknownCodeError) as info:
        parse_code_query(text)
    assert hint in english(info.value)[1]
    assert text in english(info.value)[0]
    assert isinstance(info.value, UsageError)  # exit code 3 at the CLI boundary


def test_code_query_enhanced() -> None:
    assert CodeQuery(enhanced_key="X.7.26", enhanced_class=5).enhanced == EnhancedCode(5, 7, 26)
    assert CodeQuery(enhanced_key="X.7.26").enhanced is None
    assert CodeQuery(basic=250).enhanced is None


@pytest.mark.parametrize("text", ["252", "5.1.1", "X.1.1", "4.7.500"])
def test_code_query_str_round_trips(text: str) -> None:
    query = parse_code_query(text)
    assert query is not None
    assert str(query) == text
    assert parse_code_query(str(query)) == query
