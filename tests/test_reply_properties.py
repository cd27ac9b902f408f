"""Properties of the reply parser that must hold for every input, checked with hypothesis."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smtpprobe.errors import MalformedReplyError, ServerDisconnectedError
from smtpprobe.reply import CLOSED, NEED_DATA, Reply, ReplyParser, parse_reply

# Hypothesis runs every test here a few hundred times: not for the inner loop.
pytestmark = pytest.mark.slow

SETTINGS = settings(max_examples=200, deadline=None)

# Reply text: anything but line endings (and lone surrogates, which UTF-8 cannot carry).
line_text = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=40)
codes = st.integers(min_value=200, max_value=599)


@st.composite
def wire_replies(draw: st.DrawFn) -> bytes:
    """One well-formed reply on the wire: ``NNN-`` lines, a final ``NNN `` line, CRLF or LF."""
    code = draw(codes)
    texts = draw(st.lists(line_text, min_size=1, max_size=4))
    endings = draw(
        st.lists(st.sampled_from([b"\r\n", b"\n"]), min_size=len(texts), max_size=len(texts))
    )
    enhanced = draw(st.sampled_from(["", f"{code // 100}.1.1 ", "5.7.26 ", "2.0.0 "]))
    last = len(texts) - 1
    out = b""
    for index, (text, ending) in enumerate(zip(texts, endings, strict=True)):
        prefix = enhanced if index == 0 else ""
        sep = "-" if index < last else " "
        out += f"{code}{sep}{prefix}{text}".encode() + ending
    return out


def split_points(data: bytes) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(min_value=0, max_value=len(data)), max_size=8).map(sorted)


def chunks_of(data: bytes, points: list[int]) -> list[bytes]:
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:], strict=False) if b > a]


def read_all(chunks: list[bytes]) -> list[Reply]:
    """Feed *chunks* one by one and collect every reply; the stream must end cleanly."""
    parser = ReplyParser()
    replies: list[Reply] = []
    for chunk in [*chunks, b""]:
        parser.receive_data(chunk)
        while isinstance(event := parser.next_reply(), Reply):
            replies.append(event)
    assert event is CLOSED
    return replies


@SETTINGS
@given(st.data(), st.lists(wire_replies(), min_size=1, max_size=5))
def test_any_split_gives_the_same_replies(data: st.DataObject, replies: list[bytes]) -> None:
    stream = b"".join(replies)
    whole = read_all([stream])
    assert [r.raw for r in whole] == replies
    points = data.draw(split_points(stream))
    pieces = read_all(chunks_of(stream, points))
    assert pieces == whole
    assert [r.raw for r in pieces] == replies


# Garbage with enough structure to reach every branch: codes, separators, line endings,
# long lines that cross the hard caps.
garbage_piece = st.one_of(
    st.binary(max_size=30),
    st.sampled_from(
        [
            b"250-",
            b"250 ",
            b"550 5.1.1 ",
            b"999",
            b"25",
            b"\r\n",
            b"\n",
            b"\r",
            b"\xff",
            b"\x00",
            b"(#5.1.1)",
            b"250-" + b"x" * 3000 + b"\r\n",
            b"x" * 9000,
        ]
    ),
)


@SETTINGS
@given(st.data(), st.lists(garbage_piece, max_size=30))
def test_garbage_raises_only_protocol_errors(data: st.DataObject, pieces: list[bytes]) -> None:
    """Any other exception (or a parser that stops making progress) is a bug."""
    stream = b"".join(pieces)
    parser = ReplyParser()
    budget = len(stream) + 30
    for chunk in [*chunks_of(stream, data.draw(split_points(stream))), b""]:
        parser.receive_data(chunk)
        while True:
            budget -= 1
            assert budget > 0, "the parser does not make progress"
            try:
                event = parser.next_reply()
            except (MalformedReplyError, ServerDisconnectedError):
                continue
            if event is NEED_DATA or event is CLOSED:
                break
            assert isinstance(event, Reply)
            assert str(event).startswith(f"{event.code:03d}")
            assert isinstance(event.message, str)
    assert parser.next_reply() is CLOSED
    assert parser.pending == b""


structured_bytes = st.lists(garbage_piece.filter(lambda b: len(b) < 1000), max_size=12).map(
    b"".join
)
# Text as explain/annotate get it, lone surrogates included (surrogateescape'd argv and more).
any_text = st.text(
    alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF) | st.characters(),
    max_size=60,
)


@SETTINGS
@given(
    structured_bytes
    | structured_bytes.map(lambda b: b.decode("utf-8", errors="surrogateescape"))
    | st.lists(st.sampled_from(["250-", "250 ", "\n", "x"]) | any_text, max_size=8).map("".join)
)
def test_parse_reply_raises_only_malformed(text: bytes | str) -> None:
    try:
        parse_reply(text)
    except MalformedReplyError:
        pass


@SETTINGS
@given(
    codes, st.lists(line_text, min_size=1, max_size=4), st.sampled_from(["", "5.1.1 ", "2.0.0 "])
)
def test_round_trip(code: int, texts: list[str], enhanced: str) -> None:
    """``parse_reply(str(r)) == r``, as aiosmtplib checks ``eval(repr(response))``."""
    last = len(texts) - 1
    wire = "\n".join(
        f"{code}{'-' if i < last else ' '}{enhanced}{text}" for i, text in enumerate(texts)
    )
    r = parse_reply(wire)
    assert r.code == code
    assert len(r.lines) == len(texts)
    assert parse_reply(str(r)) == r
    assert str(parse_reply(str(r))) == str(r)
