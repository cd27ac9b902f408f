"""``smtpprobe annotate``: each reply found in a log read once per wording, and shown short.

`Annotator` turns a `Found` into a `Reading`, explaining each distinct wording only once (a
busy log repeats the same few replies to thousands of recipients). `reply_blocks`,
`reading_tail` and `summary_blocks` build the text view.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from smtpprobe.codes import parse_code_query
from smtpprobe.errors import SMTPProbeError
from smtpprobe.kb import KnowledgeBase
from smtpprobe.logscan import Found
from smtpprobe.meaning import Tone, annotate_reply
from smtpprobe.render.doc import (
    Blank,
    Block,
    Fields,
    Heading,
    Paragraph,
    Span,
    Table,
    line,
)
from smtpprobe.reply import MAX_LINE_OCTETS, Reply, parse_reply
from smtpprobe.views.annotation_doc import Reading, class_style, first_sentence, reading
from smtpprobe.views.explanation import enhanced_reading

__all__ = [
    "CACHE_SIZE",
    "Annotator",
    "BoundedCache",
    "Tally",
    "reading_tail",
    "reply_blocks",
    "reply_key",
    "reply_shape",
    "summary_blocks",
]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
# Distinct wordings kept: a day of a busy relay's log has a few hundred.
CACHE_SIZE = 4096

_Key = tuple[int | None, str | None, str | None, bytes | str]

_DELETE = bytes.maketrans(b"", b"")
_VARIABLE = b"0123456789<>@[]"
_MASK = bytes.maketrans(_VARIABLE, b"\x00" * len(_VARIABLE))


def reply_key(text: str) -> bytes:
    """A cheap grouping key: *text* without digits and the ``<>@[]`` of addresses.

    Replies with the same key differ only in numbers and address punctuation (the same
    server wording to another recipient), so `Annotator` reads each key once.
    """
    return text.encode("utf-8", "surrogateescape").translate(_DELETE, _VARIABLE)


def reply_shape(text: str) -> str:
    """*text* without every word that holds a digit, an address or an IP literal.

    Coarser than `reply_key` (a Gmail message id or a recipient name falls away too); vendor
    patterns match the server's wording, so one shape has one reading.
    """
    # The variable characters become NUL, which str.isprintable rejects: the words that
    # held one are dropped by C code alone (latin-1 maps every byte to one character).
    masked = text.encode("utf-8", "surrogateescape").translate(_MASK).decode("latin-1")
    return " ".join(
        word for word in masked.split() if word.isprintable() and not _ID_LIKE.search(word)
    )


# A word no wording repeats: a digit-free message or queue id ("qXbTzKpLmWnRvSaB", a
# lower-case letter then an upper-case one, as no server's prose has them), or any token
# long enough to be a host name, a hash or an encoded id.
_ID_LIKE = re.compile(r"[a-z][A-Z].*[a-z][A-Z]|^\S{24,}$")


class BoundedCache(OrderedDict[K, V]):
    """A dict of at most *size* entries; the oldest is forgotten first.

    Lookups are plain ``dict.get`` (C speed on a hot path that hits nine times in ten); an
    entry is not moved on a hit, so a wording that is forgotten is simply read again.
    """

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def put(self, key: K, value: V) -> tuple[V, V | None]:
        """Store *value*; return it and the entry forgotten to make room (or None)."""
        self[key] = value
        return value, self.popitem(last=False)[1] if len(self) > self.size else None


class Annotator:
    """Reads found replies through the knowledge base, once per distinct wording.

    Two caches: by `reply_key` (cheap, exact up to digits and address punctuation), then by
    `reply_shape` (words holding digits, addresses or ids dropped) before the full reading.
    Both hold at most *size* entries: a log of endless distinct wordings costs time, not memory.
    """

    def __init__(self, kb: KnowledgeBase, size: int = CACHE_SIZE) -> None:
        self.kb = kb
        self._by_key: BoundedCache[_Key, Reading] = BoundedCache(size)
        self._by_shape: BoundedCache[_Key, Reading] = BoundedCache(size)

    def read(self, found: Found) -> Reading:
        """The one-line reading of *found*; the same object for the same wording (while
        it is among the last *size* wordings seen)."""
        key = (found.code, found.enhanced, found.command, reply_key(found.text))
        cached = self._by_key.get(key)
        if cached is None:
            shape = (found.code, found.enhanced, found.command, reply_shape(found.text))
            cached = self._by_shape.get(shape)
            if cached is None:
                cached = self._by_shape.put(shape, self._reading(found))[0]
            self._by_key.put(key, cached)
        return cached

    def _reading(self, found: Found) -> Reading:
        kb = self.kb
        if found.code is None:
            query = parse_code_query(found.enhanced or "X.0.0")
            assert query is not None and query.enhanced_key is not None
            enhanced = enhanced_reading(query, kb)
            return Reading(
                f"{enhanced.code} {enhanced.entry.title}",
                first_sentence(enhanced.entry.description),
                first_sentence(enhanced.entry.fix),
                enhanced.tone,
                "enhanced",
            )
        try:
            reply = parse_reply(found.text)
        except SMTPProbeError:
            # Over the parser's caps or malformed: read it by its code, its lines cut short.
            reply = Reply(
                found.code, tuple(text[4:MAX_LINE_OCTETS] for text in found.text.split("\n"))
            )
        return reading(annotate_reply(reply, kb, found.command))


def reading_tail(found: Found, reading: Reading, kb: KnowledgeBase) -> list[Block]:
    """The explanation lines under a found reply: title (and command), meaning, fix."""
    head = [Span(reading.title, reading.tone.value)]
    if found.command:
        head.append(Span(" · " + kb.ui("in_reply_to").format(command=found.command), "dim"))
    blocks: list[Block] = [
        Paragraph(tuple(head), indent=8),
        Paragraph(line(reading.meaning), indent=8),
    ]
    if reading.fix:
        blocks.append(Paragraph(line(Span(f"{kb.ui('fix')}: ", "bold"), reading.fix), indent=8))
    blocks.append(Blank())
    return blocks


def reply_blocks(found: Found) -> list[Block]:
    """The line number and the reply's lines as found (or the bare status and the log's words).

    The number is a label column, so a long reply wraps under its own text, not under it.
    """
    number = f"{found.line:>6}"
    if found.code is None:
        style = class_style(int((found.enhanced or "0")[0]) * 100)
        words = [Span(f" {found.text}", "dim")] if found.text else []
        return [Fields(((number, (Span(found.enhanced or "", style), *words)),))]
    style = class_style(found.code)
    lines = found.text.split("\n")
    rows = [(number if n == 0 else "", line(Span(text, style))) for n, text in enumerate(lines)]
    return [Fields(tuple(rows))]


@dataclass(frozen=True, slots=True)
class Tally:
    """How often one code was found: a basic code, or an enhanced status found on its own."""

    code: str
    title: str
    count: int
    tone: Tone


def summary_blocks(
    tallies: Sequence[Tally], lines: int, found: int, source: str, kb: KnowledgeBase
) -> list[Block]:
    """The closing summary: totals, then a table of counts per code."""
    if not found:
        return [Paragraph(line(Span(kb.ui("annotate_none").format(source=source), "note")))]
    blocks: list[Block] = [
        Heading(kb.ui("annotate_summary"), 2),
        Paragraph(line(kb.ui("annotate_totals").format(found=found, lines=lines, source=source))),
    ]
    rows = tuple(
        (Span(t.code, class_style(int(t.code[0]) * 100)), Span(str(t.count)), Span(t.title))
        for t in tallies
    )
    blocks.append(
        Table(
            (kb.ui("codes_col_code"), kb.ui("annotate_col_count"), kb.ui("codes_col_title")), rows
        )
    )
    return blocks
