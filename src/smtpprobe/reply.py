"""Sans-IO SMTP reply parser: bytes in, `Reply` objects out, no sockets, no event loop.

Fed by the live probe (`ReplyParser`, incrementally) and by ``explain``/``annotate``
(`parse_reply`, one reply from text) so that both read replies exactly the same way.
The API follows h11: ``receive_data(data)`` with ``b""`` meaning EOF, then ``next_reply()``
until it returns `NEED_DATA` (or `CLOSED` after EOF).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from smtpprobe.errors import MalformedReplyError, ServerDisconnectedError

__all__ = [
    "CLOSED",
    "MAX_LINE_OCTETS",
    "MAX_REPLY_OCTETS",
    "NEED_DATA",
    "RFC_LINE_OCTETS",
    "EnhancedCode",
    "Reply",
    "ReplyDefect",
    "ReplyParser",
    "parse_enhanced_code",
    "parse_reply",
]

# RFC 5321 §4.5.3.1.5: "The maximum total length of a reply line including the reply code
# and the <CRLF> is 512 octets."  Longer lines are accepted but flagged.
RFC_LINE_OCTETS: Final = 512
# Hard caps (aiosmtplib's limits): past these the input is not a reply we will hold in memory.
MAX_LINE_OCTETS: Final = 8192
MAX_REPLY_OCTETS: Final = 32768

# RFC 5321 §4.2:  Reply-line = *( Reply-code "-" [ textstring ] CRLF )
#                              Reply-code [ SP textstring ] CRLF
#                 Reply-code = %x32-35 %x30-35 %x30-39
# We accept any three digits here and flag the ones outside Reply-code, so that a
# "999" is evidence rather than a crash; two digits or letters ("25", "2l4") are not a reply.
_LINE = re.compile(rb"(?P<code>[0-9]{3})(?P<sep>[ -]?)(?P<text>.*)", re.DOTALL)
_REPLY_CODE = re.compile(r"[2-5][0-5][0-9]")
# A continuation line ("250-") announces that more lines of the same reply follow.
_CONTINUATION = re.compile(rb"[0-9]{3}-")

# RFC 3463 §2:  status-code = class "." subject "." detail
#               class = "2" / "4" / "5" ;  subject = 1*3digit ;  detail = 1*3digit
# RFC 2034 §4 puts it first in the text, followed by SP.
_ENHANCED_PREFIX = re.compile(r"(?P<code>[245]\.[0-9]{1,3}\.[0-9]{1,3})(?=[ \t]|$)")
# qmail's "Hash Convention" (RFCHCSC) puts it last instead: "... (#5.1.1)".
_ENHANCED_HASH = re.compile(r"\(#(?P<code>[245]\.[0-9]{1,3}\.[0-9]{1,3})\)\s*$")
# RFC 5321 §4.2 textstring = 1*(%d09 / %d32-126): any other control byte (ESC starting a
# terminal escape sequence, a lone CR, DEL) is flagged; NUL has a flag of its own.
_CONTROL_BYTES = re.compile(rb"[\x01-\x08\x0a-\x1f\x7f]")
_ENHANCED_ALONE = re.compile(r"(?P<klass>[245X])\.(?P<subject>[0-9]{1,3})\.(?P<detail>[0-9]{1,3})")


class _Sentinel:
    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


NEED_DATA: Final = _Sentinel("NEED_DATA")
"""Returned by `ReplyParser.next_reply` when the buffer holds no complete reply yet."""
CLOSED: Final = _Sentinel("CLOSED")
"""Returned by `ReplyParser.next_reply` after EOF once every reply has been taken."""


class ReplyDefect(StrEnum):
    """A deviation from RFC 5321 §4.2 that the parser recovered from."""

    BARE_LF = "bare-lf"
    MIXED_CODES = "mixed-codes"
    LINE_TOO_LONG = "line-too-long"
    NO_SPACE_AFTER_CODE = "no-space-after-code"
    CODE_OUT_OF_RANGE = "code-out-of-range"
    NON_UTF8 = "non-utf8"
    NUL_BYTE = "nul-byte"
    CONTROL_CHARACTER = "control-character"
    NO_TEXT = "no-text"
    ENHANCED_CLASS_MISMATCH = "enhanced-class-mismatch"


@dataclass(frozen=True, slots=True)
class EnhancedCode:
    """An RFC 3463 status code ``class.subject.detail``."""

    klass: int
    subject: int
    detail: int

    def __post_init__(self) -> None:
        if self.klass not in (2, 4, 5):
            raise ValueError(f"enhanced status class must be 2, 4 or 5, not {self.klass}")
        if not (0 <= self.subject <= 999 and 0 <= self.detail <= 999):
            raise ValueError("enhanced status subject and detail must be 0-999")

    @property
    def key(self) -> str:
        """The registry key with the class left open, e.g. ``X.1.1``."""
        return f"X.{self.subject}.{self.detail}"

    def __str__(self) -> str:
        return f"{self.klass}.{self.subject}.{self.detail}"


def parse_enhanced_code(text: str) -> EnhancedCode | None:
    """Read ``5.1.1`` (or ``X.1.1`` with class 5 assumed absent) from a whole string.

    Returns None when *text* is not exactly an enhanced status code. ``X.y.z`` is returned
    with class 5 only when called through `smtpprobe.codes`; here X is rejected.
    """
    match = _ENHANCED_ALONE.fullmatch(text.strip())
    if match is None or match["klass"] == "X":
        return None
    return EnhancedCode(int(match["klass"]), int(match["subject"]), int(match["detail"]))


@dataclass(frozen=True, slots=True)
class Reply:
    """One complete SMTP reply, with the evidence it was read from.

    ``lines`` hold each line's text after the code and separator, enhanced code included,
    exactly as sent (decoded as UTF-8, undecodable bytes shown as ``\\xNN``).
    ``raw`` is the bytes as received; it is evidence and does not take part in equality.
    """

    code: int
    lines: tuple[str, ...]
    raw: bytes = field(default=b"", compare=False)
    enhanced: EnhancedCode | None = None
    defects: tuple[ReplyDefect, ...] = ()

    def __post_init__(self) -> None:
        if not 0 <= self.code <= 999:
            raise ValueError(f"reply code must have three digits, not {self.code}")
        if not self.lines:
            raise ValueError("a reply has at least one line (its text may be empty)")
        if any("\n" in line for line in self.lines):
            raise ValueError("a reply line's text cannot hold a line ending")

    @property
    def klass(self) -> int:
        """The first digit: 2 success, 3 intermediate, 4 transient, 5 permanent."""
        return self.code // 100

    @property
    def is_multiline(self) -> bool:
        """True for a reply of more than one line (``250-`` … ``250 ``)."""
        return len(self.lines) > 1

    @property
    def message(self) -> str:
        """The text of all lines joined by newlines, without a leading enhanced code."""
        if self.enhanced is None:
            return "\n".join(self.lines)
        return "\n".join(_strip_enhanced(line, self.enhanced) for line in self.lines)

    def wire_lines(self) -> tuple[str, ...]:
        """The reply as canonical wire lines, without line endings: ``250-a``, ``250 b``."""
        last = len(self.lines) - 1
        wire = [f"{self.code:03d}-{text}" for text in self.lines[:last]]
        final = self.lines[last]
        wire.append(f"{self.code:03d} {final}" if final else f"{self.code:03d}")
        return tuple(wire)

    def __str__(self) -> str:
        return "\n".join(self.wire_lines())


def _strip_enhanced(line: str, enhanced: EnhancedCode) -> str:
    # Only the same code as a whole token: "5.1.10 x" is not "5.1.1" followed by "0 x".
    match = _ENHANCED_PREFIX.match(line)
    if match is None or parse_enhanced_code(match["code"]) != enhanced:
        return line
    return line[match.end() :].lstrip(" \t")


def _decode(data: bytes) -> tuple[str, bool]:
    try:
        return data.decode("utf-8"), True
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="backslashreplace"), False


def _find_enhanced(code: int, lines: tuple[str, ...]) -> EnhancedCode | None:
    # RFC 2034 §4: 2xx, 4xx and 5xx replies only; RFC 3463 §2 class must be 2, 4 or 5.
    if code // 100 not in (2, 4, 5):
        return None
    match = _ENHANCED_PREFIX.match(lines[0]) or _ENHANCED_HASH.search(lines[-1])
    if match is None:
        return None
    klass, subject, detail = (int(part) for part in match["code"].split("."))
    return EnhancedCode(klass, subject, detail)


class ReplyParser:
    """Incremental reply parser over a byte stream.

    Feed bytes with `receive_data` (``b""`` for EOF), then call `next_reply` until it
    returns `NEED_DATA`. A line that is not a reply line raises `MalformedReplyError`;
    that line is consumed, so the caller may log it and go on reading. An error inside a
    multi-line reply also drops the rest of that reply (up to its final line), so that
    the next reply returned is a whole one and not the tail of a broken one.

    :param strict_line_endings: flag ``BARE_LF`` (True for bytes off the wire).
    """

    def __init__(self, *, strict_line_endings: bool = True) -> None:
        self._buffer = bytearray()
        self._eof = False
        self._strict = strict_line_endings
        # A reply in progress: its lines' (code, sep, text bytes, raw line) tuples.
        self._pending: list[tuple[int, bytes, bytes, bytes]] = []
        self._pending_octets = 0
        # After an error: drop bytes up to the next newline (the rest of an overlong
        # line) and lines up to the end of the broken reply.
        self._skip_line = False
        self._skip_reply = False

    @property
    def pending(self) -> bytes:
        """Bytes received but not yet part of a returned reply (evidence after an error)."""
        return b"".join(line[3] for line in self._pending) + bytes(self._buffer)

    @property
    def at_eof(self) -> bool:
        """True once ``receive_data(b"")`` has marked the end of the stream."""
        return self._eof

    def receive_data(self, data: bytes) -> None:
        """Append bytes from the server; ``b""`` marks the end of the stream."""
        if not data:
            self._eof = True
            return
        if self._eof:
            raise RuntimeError("receive_data() after EOF")
        self._buffer.extend(data)

    def discard_buffered(self) -> bytes:
        """Drop and return every byte not yet returned as a reply.

        Used after ``220 Ready to start TLS``: RFC 3207 §4.2 says nothing may follow it in
        plaintext, and reading such bytes inside TLS is the CVE-2011-0411 class of bug.
        """
        dropped = self.pending
        self._buffer.clear()
        self._pending.clear()
        self._pending_octets = 0
        self._skip_line = self._skip_reply = False
        return dropped

    def next_reply(self) -> Reply | _Sentinel:
        """Return the next complete `Reply`, `NEED_DATA`, or `CLOSED` after EOF.

        :raises MalformedReplyError: a line that is not a reply line, or a line or reply
            over the hard caps (`MAX_LINE_OCTETS`, `MAX_REPLY_OCTETS`).
        :raises ServerDisconnectedError: EOF in the middle of a reply.
        """
        while True:
            newline = self._buffer.find(b"\n")
            if self._skip_line and self._buffer:
                del self._buffer[: newline + 1 if newline >= 0 else len(self._buffer)]
                self._skip_line = newline < 0
                continue
            if newline < 0:
                if len(self._buffer) > MAX_LINE_OCTETS:
                    head = bytes(self._buffer[:200])
                    self._buffer.clear()
                    self._skip_line = True
                    raise self._fail("error_reply_line_too_long", head, MAX_LINE_OCTETS)
                if self._eof and (self._buffer or self._pending):
                    evidence = self.discard_buffered()
                    raise ServerDisconnectedError(
                        key="error_reply_closed_mid_reply", raw=evidence[:200]
                    )
                return CLOSED if self._eof else NEED_DATA
            raw_line = bytes(self._buffer[: newline + 1])
            del self._buffer[: newline + 1]
            if len(raw_line) > MAX_LINE_OCTETS:
                raise self._fail("error_reply_line_too_long", raw_line, MAX_LINE_OCTETS)
            reply = self._take_line(raw_line)
            if reply is not None:
                return reply

    def _fail(self, key: str, line: bytes, limit: int = 0) -> MalformedReplyError:
        """Forget the reply in progress; skip its rest unless *line* was its last line."""
        if _CONTINUATION.match(line):
            self._skip_reply = True
        elif _LINE.match(line):
            self._skip_reply = False
        else:
            self._skip_reply = bool(self._pending)
        self._pending.clear()
        self._pending_octets = 0
        return MalformedReplyError(key=key, params={"limit": limit}, raw=line[:200])

    def _take_line(self, raw_line: bytes) -> Reply | None:
        if self._skip_reply:
            self._skip_reply = _CONTINUATION.match(raw_line) is not None
            return None
        body = raw_line[:-2] if raw_line.endswith(b"\r\n") else raw_line[:-1]
        match = _LINE.fullmatch(body)
        if match is None:
            raise self._fail("error_reply_no_code", raw_line)
        self._pending_octets += len(raw_line)
        if self._pending_octets > MAX_REPLY_OCTETS:
            raise self._fail("error_reply_too_long", raw_line, MAX_REPLY_OCTETS)
        self._pending.append((int(match["code"]), match["sep"], match["text"], raw_line))
        if match["sep"] == b"-":
            return None
        lines, self._pending = self._pending, []
        self._pending_octets = 0
        return self._build(lines)

    def _build(self, lines: list[tuple[int, bytes, bytes, bytes]]) -> Reply:
        defects: set[ReplyDefect] = set()
        texts: list[str] = []
        raw = b"".join(line[3] for line in lines)
        for _code, sep, text, raw_line in lines:
            decoded, ok = _decode(text)
            if not ok:
                defects.add(ReplyDefect.NON_UTF8)
            if b"\x00" in text:
                defects.add(ReplyDefect.NUL_BYTE)
            if _CONTROL_BYTES.search(text):
                defects.add(ReplyDefect.CONTROL_CHARACTER)
            if self._strict and not raw_line.endswith(b"\r\n"):
                defects.add(ReplyDefect.BARE_LF)
            if len(raw_line) > RFC_LINE_OCTETS:
                defects.add(ReplyDefect.LINE_TOO_LONG)
            if sep == b"" and text:
                defects.add(ReplyDefect.NO_SPACE_AFTER_CODE)
            texts.append(decoded)
        codes = {line[0] for line in lines}
        # RFC 5321 §4.2.1: every line of a multiline reply carries the same code. Clients
        # act on the last line (as Python's smtplib and aiosmtplib do), so we keep that one.
        code = lines[-1][0]
        if len(codes) > 1:
            defects.add(ReplyDefect.MIXED_CODES)
        if not _REPLY_CODE.fullmatch(f"{code:03d}"):
            defects.add(ReplyDefect.CODE_OUT_OF_RANGE)
        if not any(t.strip() for t in texts):
            defects.add(ReplyDefect.NO_TEXT)
        line_texts = tuple(texts)
        enhanced = _find_enhanced(code, line_texts)
        if enhanced is not None and enhanced.klass != code // 100:
            defects.add(ReplyDefect.ENHANCED_CLASS_MISMATCH)
        ordered = tuple(d for d in ReplyDefect if d in defects)
        return Reply(code=code, lines=line_texts, raw=raw, enhanced=enhanced, defects=ordered)


def parse_reply(text: str | bytes) -> Reply:
    """Parse exactly one reply from text (``explain``, ``annotate``, tests).

    Lines may end in CRLF or LF; text input never gets ``BARE_LF`` (it has no wire
    evidence), bytes input does. A missing final line ending is supplied.

    :raises MalformedReplyError: not a reply, or more than one reply.
    """
    strict = isinstance(text, bytes)
    data = text if isinstance(text, bytes) else _encode(text)
    leading = data.lstrip(b"\r\n")
    body = leading.rstrip(b"\r\n")
    if not body:
        raise MalformedReplyError(key="error_reply_empty")
    # Keep the evidence of how the last line ended (bare LF); supply CRLF when it did not.
    bare_lf = strict and leading[len(body) :].startswith(b"\n")
    data = body + (b"\n" if bare_lf or not strict else b"\r\n")
    parser = ReplyParser(strict_line_endings=strict)
    parser.receive_data(data)
    parser.receive_data(b"")
    try:
        first = parser.next_reply()
        after = parser.next_reply()
    except ServerDisconnectedError:
        raise MalformedReplyError(key="error_reply_unfinished", raw=data[:200]) from None
    # The input ends in a newline and EOF is set: a first event that is no Reply raised above.
    assert isinstance(first, Reply)
    if after is not CLOSED:
        raise MalformedReplyError(key="error_reply_several", raw=data[:200])
    return first


def _encode(text: str) -> bytes:
    # surrogateescape gives back the bytes behind undecodable argv/stdin input; any other
    # lone surrogate cannot be encoded and is shown as \udNNN text instead of failing.
    try:
        return text.encode("utf-8", errors="surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", errors="backslashreplace")
