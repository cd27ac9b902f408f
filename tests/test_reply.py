"""The sans-IO reply parser: tables of wire bytes and the `Reply` each one must give."""

from __future__ import annotations

import pytest

from smtpprobe.errors import MalformedReplyError, ServerDisconnectedError
from smtpprobe.reply import (
    CLOSED,
    MAX_LINE_OCTETS,
    MAX_REPLY_OCTETS,
    NEED_DATA,
    RFC_LINE_OCTETS,
    EnhancedCode,
    Reply,
    ReplyDefect,
    ReplyParser,
    parse_enhanced_code,
    parse_reply,
)
from tests.worded import english

D = ReplyDefect


def reply(
    code: int,
    *lines: str,
    enhanced: str | None = None,
    defects: tuple[ReplyDefect, ...] = (),
) -> Reply:
    """The expected `Reply` (``raw`` does not take part in equality)."""
    return Reply(
        code=code,
        lines=lines,
        enhanced=parse_enhanced_code(enhanced) if enhanced else None,
        defects=defects,
    )


def parse_wire(data: bytes) -> list[Reply]:
    """Every reply in *data*, read the way the live probe reads (strict line endings)."""
    parser = ReplyParser()
    parser.receive_data(data)
    parser.receive_data(b"")
    replies = []
    while isinstance(event := parser.next_reply(), Reply):
        replies.append(event)
    assert event is CLOSED
    return replies


# -- well-formed replies -------------------------------------------------------------------

WELL_FORMED = [
    pytest.param(b"250 OK\r\n", reply(250, "OK"), id="single-line"),
    pytest.param(
        b"250-mx.test\r\n250-SIZE 33554432\r\n250 HELP\r\n",
        reply(250, "mx.test", "SIZE 33554432", "HELP"),
        id="multiline",
    ),
    pytest.param(
        b"250 2.1.5 Ok\r\n", reply(250, "2.1.5 Ok", enhanced="2.1.5"), id="enhanced-single"
    ),
    pytest.param(
        b"550-5.1.1 The email account that you tried to reach does not exist.\r\n"
        b"550 5.1.1 https://support.google.com/mail/?p=NoSuchUser x1-v6si gsmtp\r\n",
        reply(
            550,
            "5.1.1 The email account that you tried to reach does not exist.",
            "5.1.1 https://support.google.com/mail/?p=NoSuchUser x1-v6si gsmtp",
            enhanced="5.1.1",
        ),
        id="multiline-enhanced-every-line",
    ),
    pytest.param(
        b"550-5.7.1 first\r\n550 second\r\n",
        reply(550, "5.7.1 first", "second", enhanced="5.7.1"),
        id="multiline-enhanced-first-line-only",
    ),
    pytest.param(
        b"553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)\r\n",
        reply(
            553,
            "sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)",
            enhanced="5.7.1",
        ),
        id="qmail-hash-suffix",
    ),
    pytest.param(
        b"550-no such user\r\n550 here (#5.1.1) \r\n",
        reply(550, "no such user", "here (#5.1.1) ", enhanced="5.1.1"),
        id="qmail-hash-suffix-multiline",
    ),
    pytest.param(b"250 2.0.0\r\n", reply(250, "2.0.0", enhanced="2.0.0"), id="enhanced-only"),
    pytest.param(
        b"250 5.1.10 x\r\n",
        reply(250, "5.1.10 x", enhanced="5.1.10", defects=(D.ENHANCED_CLASS_MISMATCH,)),
        id="enhanced-three-digit-detail",
    ),
    pytest.param(b"250 5.1.1234 x\r\n", reply(250, "5.1.1234 x"), id="enhanced-detail-too-long"),
    pytest.param(b"250 5.1.1x\r\n", reply(250, "5.1.1x"), id="enhanced-not-followed-by-space"),
    pytest.param(b"354 2.0.0 go ahead\r\n", reply(354, "2.0.0 go ahead"), id="no-enhanced-on-3xx"),
    pytest.param(b"250 3.1.1 x\r\n", reply(250, "3.1.1 x"), id="enhanced-class-3-is-text"),
    pytest.param(b"334 \r\n", reply(334, "", defects=(D.NO_TEXT,)), id="auth-empty-challenge"),
    pytest.param(b"250  two spaces\r\n", reply(250, " two spaces"), id="text-keeps-spaces"),
    pytest.param(b"220 caf\xc3\xa9\r\n", reply(220, "café"), id="utf8-text"),
    pytest.param(
        b"250 a\rb\r\n",
        reply(250, "a\rb", defects=(D.CONTROL_CHARACTER,)),
        id="bare-cr-inside-text",
    ),
    pytest.param(
        b"220 a\x1b[2Jb\r\n",
        reply(220, "a\x1b[2Jb", defects=(D.CONTROL_CHARACTER,)),
        id="escape-sequence-in-text",
    ),
]


@pytest.mark.parametrize(("raw", "expected"), WELL_FORMED)
def test_well_formed(raw: bytes, expected: Reply) -> None:
    assert parse_wire(raw) == [expected]
    assert parse_reply(raw) == expected
    assert parse_reply(raw).raw == raw


# -- recoverable deviations become flags ---------------------------------------------------

DEFECTS = [
    pytest.param(b"250 OK\n", reply(250, "OK", defects=(D.BARE_LF,)), id="bare-lf"),
    pytest.param(
        b"250-a\n250 b\r\n", reply(250, "a", "b", defects=(D.BARE_LF,)), id="bare-lf-one-line"
    ),
    pytest.param(
        b"250-a\r\n251 b\r\n", reply(251, "a", "b", defects=(D.MIXED_CODES,)), id="mixed-codes"
    ),
    pytest.param(
        b"250-a\r\n550-b\r\n421 c\r\n",
        reply(421, "a", "b", "c", defects=(D.MIXED_CODES,)),
        id="mixed-codes-last-wins",
    ),
    pytest.param(
        b"250 " + b"x" * (RFC_LINE_OCTETS - 6) + b"\r\n",
        reply(250, "x" * (RFC_LINE_OCTETS - 6)),
        id="line-512-octets-with-crlf",
    ),
    pytest.param(
        b"250 " + b"x" * (RFC_LINE_OCTETS - 5) + b"\r\n",
        reply(250, "x" * (RFC_LINE_OCTETS - 5), defects=(D.LINE_TOO_LONG,)),
        id="line-too-long",
    ),
    pytest.param(
        b"250 " + b"x" * (MAX_LINE_OCTETS - 6) + b"\r\n",
        reply(250, "x" * (MAX_LINE_OCTETS - 6), defects=(D.LINE_TOO_LONG,)),
        id="line-at-hard-cap",
    ),
    pytest.param(
        b"250OK\r\n", reply(250, "OK", defects=(D.NO_SPACE_AFTER_CODE,)), id="no-space-after-code"
    ),
    pytest.param(
        b"2500 x\r\n", reply(250, "0 x", defects=(D.NO_SPACE_AFTER_CODE,)), id="four-digits"
    ),
    pytest.param(
        b"999 x\r\n", reply(999, "x", defects=(D.CODE_OUT_OF_RANGE,)), id="code-out-of-range-999"
    ),
    pytest.param(
        b"260 x\r\n", reply(260, "x", defects=(D.CODE_OUT_OF_RANGE,)), id="code-out-of-range-260"
    ),
    pytest.param(
        b"199 x\r\n", reply(199, "x", defects=(D.CODE_OUT_OF_RANGE,)), id="code-out-of-range-199"
    ),
    pytest.param(b"250 caf\xff\r\n", reply(250, "caf\\xff", defects=(D.NON_UTF8,)), id="non-utf8"),
    pytest.param(b"250 a\x00b\r\n", reply(250, "a\x00b", defects=(D.NUL_BYTE,)), id="nul-byte"),
    pytest.param(b"250\r\n", reply(250, "", defects=(D.NO_TEXT,)), id="no-text-bare-code"),
    pytest.param(b"250 \r\n", reply(250, "", defects=(D.NO_TEXT,)), id="no-text-trailing-space"),
    pytest.param(
        b"250-\r\n250  \r\n", reply(250, "", " ", defects=(D.NO_TEXT,)), id="no-text-multiline"
    ),
    pytest.param(
        b"550 2.1.5 x\r\n",
        reply(550, "2.1.5 x", enhanced="2.1.5", defects=(D.ENHANCED_CLASS_MISMATCH,)),
        id="enhanced-class-mismatch",
    ),
    pytest.param(
        b"250 ok (#5.1.1)\r\n",
        reply(250, "ok (#5.1.1)", enhanced="5.1.1", defects=(D.ENHANCED_CLASS_MISMATCH,)),
        id="enhanced-class-mismatch-hash",
    ),
    pytest.param(
        b"999OK\xff\x00\n",
        reply(
            999,
            "OK\\xff\x00",
            defects=(D.BARE_LF, D.NO_SPACE_AFTER_CODE, D.CODE_OUT_OF_RANGE, D.NON_UTF8, D.NUL_BYTE),
        ),
        id="several-defects-in-declaration-order",
    ),
]


@pytest.mark.parametrize(("raw", "expected"), DEFECTS)
def test_defects(raw: bytes, expected: Reply) -> None:
    assert parse_wire(raw) == [expected]
    assert parse_reply(raw) == expected


ENDINGS = [
    pytest.param([b"\r\n", b"\r\n", b"\r\n"], (), id="crlf"),
    pytest.param([b"\n", b"\n", b"\n"], (D.BARE_LF,), id="bare-lf"),
    pytest.param([b"\r\n", b"\n", b"\r\n"], (D.BARE_LF,), id="mixed"),
    pytest.param([b"\r\n", b"\r\n", b"\n"], (D.BARE_LF,), id="mixed-last-line"),
]


@pytest.mark.parametrize(("endings", "defects"), ENDINGS)
def test_line_endings(endings: list[bytes], defects: tuple[ReplyDefect, ...]) -> None:
    """The same reply with CRLF, bare LF and mixed endings differs only in BARE_LF."""
    texts = [b"250-mx.test", b"250-8BITMIME", b"250 HELP"]
    raw = b"".join(text + end for text, end in zip(texts, endings, strict=True))
    expected = reply(250, "mx.test", "8BITMIME", "HELP", defects=defects)
    assert parse_wire(raw) == [expected]
    assert parse_reply(raw) == expected
    # Text (explain/annotate input) has no wire evidence: never BARE_LF.
    assert parse_reply(raw.decode()) == reply(250, "mx.test", "8BITMIME", "HELP")


def test_lenient_parser_does_not_flag_bare_lf() -> None:
    parser = ReplyParser(strict_line_endings=False)
    parser.receive_data(b"250 OK\n")
    assert parser.next_reply() == reply(250, "OK")


# -- Reply and EnhancedCode ----------------------------------------------------------------


def test_reply_properties_single_line() -> None:
    r = parse_reply("250 OK")
    assert (r.code, r.klass, r.is_multiline, r.message) == (250, 2, False, "OK")
    assert str(r) == "250 OK"
    assert r.wire_lines() == ("250 OK",)


def test_reply_properties_multiline_enhanced() -> None:
    r = parse_reply(b"550-5.1.1 no such\r\n550 5.1.1 user\r\n")
    assert r.klass == 5
    assert r.is_multiline
    assert r.message == "no such\nuser"
    assert str(r) == "550-5.1.1 no such\n550 5.1.1 user"
    assert r.enhanced == EnhancedCode(5, 1, 1)
    assert r.enhanced.key == "X.1.1"
    assert str(r.enhanced) == "5.1.1"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("550 5.1.1 gone", "gone", id="prefix"),
        pytest.param("550 5.1.1\tgone", "gone", id="prefix-tab"),
        pytest.param("550-5.1.1 a\n550 b", "a\nb", id="prefix-first-line-only"),
        pytest.param("550-5.1.1 a\n550 5.1.10 b", "a\n5.1.10 b", id="longer-code-kept"),
        pytest.param("550-5.1.1 a\n550 5.01.1 b", "a\nb", id="leading-zero-same-code"),
        pytest.param("550 gone (#5.1.1)", "gone (#5.1.1)", id="hash-suffix-kept"),
        pytest.param("550 2.1.5 x", "x", id="mismatched-class-stripped"),
        pytest.param("250 2.0.0", "", id="only-enhanced"),
    ],
)
def test_message_strips_enhanced_prefix(text: str, message: str) -> None:
    assert parse_reply(text).message == message


def test_str_of_empty_final_line_has_no_trailing_space() -> None:
    assert str(parse_reply("250-a\n250 ")) == "250-a\n250"


def test_defect_str_is_value() -> None:
    assert str(ReplyDefect.BARE_LF) == "bare-lf"
    assert f"{ReplyDefect.MIXED_CODES}" == "mixed-codes"


def test_sentinels_repr() -> None:
    assert repr(NEED_DATA) == "NEED_DATA"
    assert repr(CLOSED) == "CLOSED"


def test_raw_is_evidence_not_identity() -> None:
    a, b = parse_reply(b"250 OK\r\n"), parse_reply("250 OK")
    assert a == b
    assert a.raw == b"250 OK\r\n"
    assert b.raw == b"250 OK\n"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"code": 1000, "lines": ("x",)}, "three digits", id="code-1000"),
        pytest.param({"code": -1, "lines": ("x",)}, "three digits", id="code-negative"),
        pytest.param({"code": 250, "lines": ()}, "at least one line", id="no-lines"),
        pytest.param({"code": 250, "lines": ("a\nb",)}, "line ending", id="newline-in-line"),
    ],
)
def test_reply_validates(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Reply(**kwargs)  # type: ignore[arg-type]


def test_reply_is_frozen() -> None:
    r = parse_reply("250 OK")
    with pytest.raises(AttributeError):
        r.code = 550  # type: ignore[misc]


@pytest.mark.parametrize(
    ("klass", "subject", "detail"),
    [(3, 1, 1), (6, 1, 1), (5, 1000, 1), (5, 1, -1)],
)
def test_enhanced_code_validates(klass: int, subject: int, detail: int) -> None:
    with pytest.raises(ValueError):
        EnhancedCode(klass, subject, detail)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5.1.1", EnhancedCode(5, 1, 1)),
        (" 2.7.0 ", EnhancedCode(2, 7, 0)),
        ("4.7.500", EnhancedCode(4, 7, 500)),
        ("X.1.1", None),
        ("6.1.1", None),
        ("5.1", None),
        ("5.1.1 text", None),
    ],
)
def test_parse_enhanced_code(text: str, expected: EnhancedCode | None) -> None:
    assert parse_enhanced_code(text) == expected


# -- parse_reply errors --------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("2l4 x", id="letter-in-code"),
        pytest.param("25 x", id="two-digits"),
        pytest.param("hello", id="not-a-reply"),
        pytest.param("", id="empty"),
        pytest.param("\r\n\n", id="only-newlines"),
        pytest.param("250-a\n250-b", id="unterminated-multiline"),
        pytest.param("250 a\n250 b", id="two-replies"),
        pytest.param("250 a\n250-b", id="reply-then-unterminated"),
        pytest.param("250 a\nhello", id="reply-then-garbage"),
        pytest.param("250-a\nhello\n250 b", id="garbage-inside"),
        pytest.param(b"", id="empty-bytes"),
        pytest.param(b"250-a\r\n", id="unterminated-bytes"),
    ],
)
def test_parse_reply_rejects(text: str | bytes) -> None:
    with pytest.raises(MalformedReplyError):
        parse_reply(text)


def test_parse_reply_error_keeps_evidence() -> None:
    with pytest.raises(MalformedReplyError) as info:
        parse_reply("250-a")
    assert info.value.raw.startswith(b"250-a")
    assert "final line" in english(info.value)[0]


def test_parse_reply_tolerates_surrounding_blank_lines() -> None:
    assert parse_reply("\n250 OK\n\n") == reply(250, "OK")


def test_parse_reply_unencodable_text() -> None:
    """A lone surrogate (not from surrogateescape) still gives a Reply, never UnicodeError."""
    assert parse_reply("250 a\ud800b").code == 250


def test_parse_reply_surrogateescape_round_trips_bytes() -> None:
    """Undecodable argv bytes (surrogateescape) reach the parser as the original bytes."""
    r = parse_reply(b"250 caf\xff".decode("utf-8", errors="surrogateescape"))
    assert r.defects == (D.NON_UTF8,)
    assert r.lines == ("caf\\xff",)


# -- ReplyParser: incremental reading ------------------------------------------------------


def test_need_data_until_complete() -> None:
    parser = ReplyParser()
    assert parser.next_reply() is NEED_DATA
    for chunk in (b"25", b"0-mx", b".test\r", b"\n250", b" HELP\r"):
        parser.receive_data(chunk)
        assert parser.next_reply() is NEED_DATA
    assert parser.pending == b"250-mx.test\r\n250 HELP\r"
    parser.receive_data(b"\n")
    assert parser.next_reply() == reply(250, "mx.test", "HELP")
    assert parser.next_reply() is NEED_DATA
    assert parser.pending == b""


def test_several_replies_in_one_chunk() -> None:
    parser = ReplyParser()
    parser.receive_data(b"220 mx.test ESMTP\r\n250-a\r\n250 b\r\n221 bye\r\n354")
    assert parser.next_reply() == reply(220, "mx.test ESMTP")
    assert parser.next_reply() == reply(250, "a", "b")
    assert parser.next_reply() == reply(221, "bye")
    assert parser.next_reply() is NEED_DATA
    assert parser.pending == b"354"


def test_raw_of_each_reply_is_its_own_bytes() -> None:
    replies = parse_wire(b"250-a\r\n250 b\r\n221 bye\n")
    assert [r.raw for r in replies] == [b"250-a\r\n250 b\r\n", b"221 bye\n"]


def test_eof_mid_line_raises_disconnected() -> None:
    parser = ReplyParser()
    parser.receive_data(b"250 O")
    parser.receive_data(b"")
    assert parser.at_eof
    with pytest.raises(ServerDisconnectedError):
        parser.next_reply()
    assert parser.next_reply() is CLOSED


def test_eof_between_lines_of_multiline_raises_disconnected() -> None:
    parser = ReplyParser()
    parser.receive_data(b"250-a\r\n250-b\r\n")
    assert parser.next_reply() is NEED_DATA
    parser.receive_data(b"")
    with pytest.raises(ServerDisconnectedError) as info:
        parser.next_reply()
    assert isinstance(info.value, ConnectionError)
    assert parser.next_reply() is CLOSED


def test_closed_after_eof() -> None:
    parser = ReplyParser()
    parser.receive_data(b"221 bye\r\n")
    parser.receive_data(b"")
    assert parser.next_reply() == reply(221, "bye")
    assert parser.next_reply() is CLOSED
    assert parser.next_reply() is CLOSED


def test_receive_data_after_eof() -> None:
    parser = ReplyParser()
    parser.receive_data(b"")
    parser.receive_data(b"")  # a second EOF is harmless
    with pytest.raises(RuntimeError):
        parser.receive_data(b"250 late\r\n")


def test_discard_buffered() -> None:
    """After ``220 Ready to start TLS`` the plaintext leftovers are dropped (RFC 3207 §4.2)."""
    parser = ReplyParser()
    parser.receive_data(b"220 Ready to start TLS\r\n250-injected\r\n250 x")
    assert parser.next_reply() == reply(220, "Ready to start TLS")
    assert parser.next_reply() is NEED_DATA
    assert parser.discard_buffered() == b"250-injected\r\n250 x"
    assert parser.pending == b""
    parser.receive_data(b"250 fresh\r\n")
    assert parser.next_reply() == reply(250, "fresh")
    assert parser.discard_buffered() == b""


# -- ReplyParser: garbage and hard caps ----------------------------------------------------


def test_garbage_line_then_continues_with_next_line() -> None:
    parser = ReplyParser()
    parser.receive_data(b"hello\r\n250 OK\r\n")
    with pytest.raises(MalformedReplyError) as info:
        parser.next_reply()
    assert info.value.raw == b"hello\r\n"
    assert parser.next_reply() == reply(250, "OK")


@pytest.mark.parametrize(
    "line", [b"2l4 x\r\n", b"25 x\r\n", b"\r\n", b" 250 x\r\n", b"\xff\xfe\r\n"]
)
def test_not_a_reply_line(line: bytes) -> None:
    parser = ReplyParser()
    parser.receive_data(line)
    with pytest.raises(MalformedReplyError):
        parser.next_reply()
    assert parser.next_reply() is NEED_DATA


def test_garbage_inside_multiline_drops_the_rest_of_that_reply() -> None:
    """A broken reply is not returned in pieces: its remaining lines are skipped."""
    parser = ReplyParser()
    parser.receive_data(b"250-a\r\nhello\r\n250-b\r\n250 c\r\n221 bye\r\n")
    with pytest.raises(MalformedReplyError):
        parser.next_reply()
    assert parser.next_reply() == reply(221, "bye")


def test_overlong_line_without_newline_raises_at_once() -> None:
    """The buffer is bounded: no waiting for a newline that may never come."""
    parser = ReplyParser()
    parser.receive_data(b"250 " + b"x" * MAX_LINE_OCTETS)
    with pytest.raises(MalformedReplyError) as info:
        parser.next_reply()
    assert len(info.value.raw) <= 200
    assert parser.pending == b""


def test_line_at_cap_without_newline_waits() -> None:
    parser = ReplyParser()
    parser.receive_data(b"250 " + b"x" * (MAX_LINE_OCTETS - 4))
    assert parser.next_reply() is NEED_DATA


def test_rest_of_overlong_line_is_not_read_as_a_reply() -> None:
    """Bytes after the cap belong to the same line; a ``250`` in them is no reply."""
    parser = ReplyParser()
    parser.receive_data(b"550 " + b"x" * MAX_LINE_OCTETS)
    with pytest.raises(MalformedReplyError):
        parser.next_reply()
    parser.receive_data(b"y" * 100)
    assert parser.next_reply() is NEED_DATA
    parser.receive_data(b"250 smuggled\r\n221 bye\r\n")
    assert parser.next_reply() == reply(221, "bye")


def test_eof_while_skipping_overlong_line() -> None:
    parser = ReplyParser()
    parser.receive_data(b"250 " + b"x" * MAX_LINE_OCTETS)
    with pytest.raises(MalformedReplyError):
        parser.next_reply()
    parser.receive_data(b"")
    assert parser.next_reply() is CLOSED


def test_overlong_line_with_newline() -> None:
    parser = ReplyParser()
    parser.receive_data(b"250 " + b"x" * MAX_LINE_OCTETS + b"\r\n250 OK\r\n")
    with pytest.raises(MalformedReplyError):
        parser.next_reply()
    assert parser.next_reply() == reply(250, "OK")


def test_overlong_continuation_line_drops_the_rest_of_that_reply() -> None:
    parser = ReplyParser()
    parser.receive_data(b"250-a\r\n250-" + b"x" * MAX_LINE_OCTETS)
    with pytest.raises(MalformedReplyError):
        parser.next_reply()
    parser.receive_data(b"\r\n250 tail\r\n221 bye\r\n")
    assert parser.next_reply() == reply(221, "bye")


def test_reply_over_hard_cap() -> None:
    line = b"250-" + b"x" * 996 + b"\r\n"  # 1002 octets
    count = MAX_REPLY_OCTETS // len(line) + 1
    parser = ReplyParser()
    parser.receive_data(line * count + b"250 end\r\n221 bye\r\n")
    with pytest.raises(MalformedReplyError) as caught:
        parser.next_reply()
    assert str(MAX_REPLY_OCTETS) in english(caught.value)[0]
    # The rest of the oversized reply is skipped; the next reply is whole.
    assert parser.next_reply() == reply(221, "bye")


def test_reply_over_hard_cap_on_final_line() -> None:
    line = b"250-" + b"x" * 996 + b"\r\n"
    count = MAX_REPLY_OCTETS // len(line)
    parser = ReplyParser()
    parser.receive_data(line * count + b"250 " + b"y" * 2000 + b"\r\n221 bye\r\n")
    with pytest.raises(MalformedReplyError):
        parser.next_reply()
    assert parser.next_reply() == reply(221, "bye")


def test_reply_at_hard_cap_is_accepted() -> None:
    line = b"250-" + b"x" * 94 + b"\r\n"  # 100 octets
    final = b"250 " + b"y" * (MAX_REPLY_OCTETS - 100 * 327 - 6) + b"\r\n"
    data = line * 327 + final
    assert len(data) == MAX_REPLY_OCTETS
    (only,) = parse_wire(data)
    assert len(only.lines) == 328
