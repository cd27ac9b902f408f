"""``smtpprobe annotate``: every SMTP reply in a mail log, bounce or transcript, explained.

Streams: the input is iterated line by line and each reply is written as soon as it is
found, so memory stays flat on a log of any size. JSON output is JSON Lines (one record per
reply, then a summary record; shapes in `smtpprobe.views.offline_json`).
"""

from __future__ import annotations

import io
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

import click

from smtpprobe.commands._common import (
    format_option,
    lang_from_env,
    lang_option,
    terminal_width,
    use_color,
)
from smtpprobe.errors import UsageError
from smtpprobe.i18n import N_, LocalizedCommand
from smtpprobe.kb import KnowledgeBase, load
from smtpprobe.lines import MAX_LINE_CHARS, bounded_lines
from smtpprobe.logscan import Found, LogScanner
from smtpprobe.meaning import tone_of_class
from smtpprobe.render.doc import Block, Doc
from smtpprobe.views.annotate_view import (
    CACHE_SIZE,
    Annotator,
    BoundedCache,
    Tally,
    reading_tail,
    reply_blocks,
    summary_blocks,
)
from smtpprobe.views.annotation_doc import Reading

__all__ = ["annotate_command"]


@contextmanager
def _open(source: str) -> Iterator[IO[str]]:
    """The input as text lines; undecodable bytes become U+FFFD rather than an error."""
    if source == "-":
        buffer = getattr(sys.stdin, "buffer", None)
        if buffer is None:
            yield sys.stdin
            return
        wrapper = io.TextIOWrapper(buffer, encoding="utf-8", errors="replace")
        try:
            yield wrapper
        finally:
            wrapper.detach()
        return
    try:
        handle = open(source, encoding="utf-8", errors="replace")  # noqa: SIM115
    except OSError as exc:
        raise UsageError(
            key="error_annotate_unreadable", params={"source": source, "reason": exc}
        ) from None
    with handle:
        yield handle


class _Seen:
    """One wording from one source: its reading, how often it came since it was last
    counted, and its rendered tail."""

    __slots__ = ("code", "count", "enhanced", "reading", "tail")

    def __init__(self, found: Found, reading: Reading) -> None:
        self.reading, self.count, self.tail = reading, 0, ""
        # A bare status counts under its enhanced code.
        self.code = str(found.code) if found.code is not None else found.enhanced or "?"
        self.enhanced = found.enhanced


class _Counts:
    """Replies per code and per enhanced code: two counters of at most a few hundred keys,
    however many wordings the log holds (a wording's count is added when it is dropped)."""

    def __init__(self) -> None:
        self.codes: Counter[str] = Counter()
        self.enhanced: Counter[str] = Counter()

    def add(self, seen: _Seen | None) -> None:
        if seen is None or not seen.count:
            return
        self.codes[seen.code] += seen.count
        if seen.enhanced is not None:
            self.enhanced[seen.enhanced] += seen.count
        seen.count = 0

    def tallies(self, kb: KnowledgeBase) -> tuple[list[Tally], list[Tally]]:
        def tally(counts: Counter[str]) -> list[Tally]:
            return [
                Tally(
                    code,
                    (kb.enhanced("X" + code[1:]) if "." in code else kb.basic(int(code))).title,
                    count,
                    tone_of_class(int(code[0]) * 100),
                )
                for code, count in counts.most_common()
            ]

        return tally(self.codes), tally(self.enhanced)


class _JsonOut:
    """JSON Lines: a record per reply, built from the wording's cached tail."""

    def __init__(self) -> None:
        from smtpprobe.render.json_text import json_string

        self._quote: Callable[[str], str] = json_string
        self._write = sys.stdout.write

    def finding(self, found: Found, seen: _Seen) -> None:
        if not seen.tail:
            from smtpprobe.views.offline_json import record_tail

            seen.tail = record_tail(found, seen.reading) + "\n"
        self._write(
            f'{{"schema_version": 1, "type": "reply", "line": {found.line}, '
            f'"text": {self._quote(found.text)}, {seen.tail}'
        )

    def summary(
        self, name: str, lines: int, counts: _Counts, kb: KnowledgeBase, skipped: int
    ) -> None:
        from smtpprobe.render.json_text import json_text
        from smtpprobe.views.offline_json import summary_json

        codes, enhanced = counts.tallies(kb)
        found = sum(t.count for t in codes)
        replies = sum(t.count for t in codes if "." not in t.code)
        document = summary_json(name, lines, found, replies, codes, enhanced)
        document["skipped_lines"] = skipped
        self._write(json_text(document, ascii_only=True) + "\n")


class _TextOut:
    """Writes blocks as they come: one rich console on a colour terminal, else plain text."""

    def __init__(self, kb: KnowledgeBase) -> None:
        from smtpprobe.render.plain import to_plain

        self._kb, self._plain, self._width = kb, to_plain, terminal_width()
        self._console: Any = None
        if use_color():
            from rich.console import Console

            self._console = Console(highlight=False, soft_wrap=False)

    def blocks(self, blocks: list[Block]) -> None:
        if self._console is not None:
            from smtpprobe.render.rich_view import to_rich

            self._console.print(to_rich(Doc(blocks)))
        else:
            sys.stdout.write(self._plain(Doc(blocks), width=self._width))

    def finding(self, found: Found, seen: _Seen) -> None:
        if self._console is not None:
            self.blocks(reply_blocks(found) + reading_tail(found, seen.reading, self._kb))
            return
        # The explanation under a reply is the same for every reply of that wording.
        if not seen.tail:
            seen.tail = self._plain(
                Doc(reading_tail(found, seen.reading, self._kb)), width=self._width
            )
        sys.stdout.write(self._plain(Doc(reply_blocks(found)), width=self._width) + seen.tail)

    def summary(
        self, name: str, lines: int, counts: _Counts, kb: KnowledgeBase, skipped: int
    ) -> None:
        codes, _ = counts.tallies(kb)
        self.blocks(summary_blocks(codes, lines, sum(t.count for t in codes), name, kb))


@click.command(
    "annotate",
    cls=LocalizedCommand,
    context_settings={"help_option_names": ["-h", "--help"]},
    help=N_(
        "Find the SMTP replies in a mail log, a bounce or a transcript and explain "
        "each.\n\n"
        "Reads Postfix, Exim and Sendmail logs (said: 550 …, dsn=5.1.1, SMTP error "
        "from remote\n"
        "mail server after RCPT TO …), bounces (Status:, Diagnostic-Code: smtp; …) "
        "and saved\n"
        "transcripts (S: 250 OK). FILE defaults to - (stdin).\n"
        "Example:  smtpprobe annotate /var/log/mail.log --format json | jq ."
    ),
)
@click.argument("source", default="-", metavar="[FILE|-]")
@format_option("text", "json")
@lang_option
def annotate_command(source: str, output_format: str, lang: str | None) -> int:
    kb = load(lang or lang_from_env())
    out = _JsonOut() if output_format == "json" else _TextOut(kb)
    annotator, scanner, counts = Annotator(kb), LogScanner(), _Counts()
    # One entry per wording and source, bounded like the annotator's caches. Keyed by the
    # reading's id, checked by identity: a forgotten reading's successor may reuse the id.
    seen: BoundedCache[tuple[str, int], _Seen] = BoundedCache(CACHE_SIZE)
    skipped: list[int] = []
    # A pipe may be a live log (tail -f): hand each reply on at once, not per buffer.
    flush = sys.stdout.flush if source == "-" else None
    with _open(source) as handle:
        lines = bounded_lines(handle, on_overlong=lambda number: _skipped(skipped, number, kb))
        for found in scanner.scan(lines):
            reading = annotator.read(found)
            entry = seen.get((found.source, id(reading)))
            if entry is None or entry.reading is not reading:
                counts.add(entry)
                entry, dropped = seen.put((found.source, id(reading)), _Seen(found, reading))
                counts.add(dropped)
            entry.count += 1
            out.finding(found, entry)
            if flush is not None:
                flush()
    for entry in seen.values():
        counts.add(entry)
    out.summary("stdin" if source == "-" else source, scanner.lines, counts, kb, len(skipped))
    return 0


def _skipped(skipped: list[int], number: int, kb: KnowledgeBase) -> None:
    """Say on stderr that line *number* was too long to read (the first few, then a count)."""
    skipped.append(number)
    if len(skipped) <= _SKIPPED_SHOWN:
        message = kb.ui("annotate_line_skipped").format(line=number, limit=MAX_LINE_CHARS)
        click.echo(f"smtpprobe: {message}", err=True)
    elif len(skipped) == _SKIPPED_SHOWN + 1:
        click.echo(f"smtpprobe: {kb.ui('annotate_lines_skipped_more')}", err=True)


_SKIPPED_SHOWN = 10
