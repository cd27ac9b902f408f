"""``smtpprobe annotate``: every SMTP reply in a mail log, bounce or transcript, explained.

Streams: the input is iterated line by line and each reply is written as soon as it is
found, so memory stays flat on a log of any size. JSON output is JSON Lines (one record per
reply, then a summary record; shapes in `smtpprobe.views.offline_json`).
"""

from __future__ import annotations

import io
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
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
from smtpprobe.i18n import LocalizedCommand
from smtpprobe.kb import KnowledgeBase, load
from smtpprobe.logscan import Found, LogScanner
from smtpprobe.meaning import tone_of_class
from smtpprobe.render.doc import Block, Doc
from smtpprobe.views.annotate_view import (
    Annotator,
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
        raise UsageError(key="error_annotate_unreadable",
                         params={"source": source, "reason": exc}) from None
    with handle:
        yield handle


class _Seen:
    """One wording from one source: its reading, how often it came, its rendered tail."""

    __slots__ = ("count", "reading", "tail")

    def __init__(self, reading: Reading) -> None:
        self.reading, self.count, self.tail = reading, 0, ""


class _JsonOut:
    """JSON Lines: a record per reply, built from the wording's cached tail."""

    def __init__(self) -> None:
        from json.encoder import encode_basestring_ascii

        self._quote: Callable[[str], str] = encode_basestring_ascii
        self._write = sys.stdout.write

    def finding(self, found: Found, seen: _Seen) -> None:
        if not seen.tail:
            from smtpprobe.views.offline_json import record_tail

            seen.tail = record_tail(found, seen.reading) + "\n"
        self._write(f'{{"schema_version": 1, "type": "reply", "line": {found.line}, '
                    f'"text": {self._quote(found.text)}, {seen.tail}')

    def summary(self, name: str, lines: int, seen: Iterable[tuple[Found, _Seen]],
                kb: KnowledgeBase) -> None:
        import json

        from smtpprobe.views.offline_json import summary_json

        codes, enhanced = _tallies(seen, kb)
        found = sum(t.count for t in codes)
        replies = sum(t.count for t in codes if "." not in t.code)
        document = summary_json(name, lines, found, replies, codes, enhanced)
        self._write(json.dumps(document) + "\n")


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
            seen.tail = self._plain(Doc(reading_tail(found, seen.reading, self._kb)),
                                    width=self._width)
        sys.stdout.write(self._plain(Doc(reply_blocks(found)), width=self._width) + seen.tail)

    def summary(self, name: str, lines: int, seen: Iterable[tuple[Found, _Seen]],
                kb: KnowledgeBase) -> None:
        codes, _ = _tallies(seen, kb)
        self.blocks(summary_blocks(codes, lines, sum(t.count for t in codes), name, kb))


def _tallies(seen: Iterable[tuple[Found, _Seen]],
             kb: KnowledgeBase) -> tuple[list[Tally], list[Tally]]:
    """Counts per code (a bare status counts under its enhanced code) and per enhanced code."""
    codes: Counter[str] = Counter()
    enhanced: Counter[str] = Counter()
    for found, entry in seen:
        codes[str(found.code) if found.code is not None else found.enhanced or "?"] += entry.count
        if found.enhanced is not None:
            enhanced[found.enhanced] += entry.count

    def tally(counts: Counter[str]) -> list[Tally]:
        return [Tally(code, (kb.enhanced("X" + code[1:]) if "." in code
                             else kb.basic(int(code))).title, count,
                      tone_of_class(int(code[0]) * 100))
                for code, count in counts.most_common()]

    return tally(codes), tally(enhanced)


@click.command("annotate", cls=LocalizedCommand,
               context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("source", default="-", metavar="[FILE|-]")
@format_option("text", "json")
@lang_option
def annotate_command(source: str, output_format: str, lang: str | None) -> int:
    """Find the SMTP replies in a mail log, a bounce or a transcript and explain each.

    \b
    Reads Postfix, Exim and Sendmail logs (said: 550 …, dsn=5.1.1, SMTP error from remote
    mail server after RCPT TO …), bounces (Status:, Diagnostic-Code: smtp; …) and saved
    transcripts (S: 250 OK). FILE defaults to - (stdin).
    Example:  smtpprobe annotate /var/log/mail.log --format json | jq .
    """
    kb = load(lang or lang_from_env())
    out = _JsonOut() if output_format == "json" else _TextOut(kb)
    annotator, scanner = Annotator(kb), LogScanner()
    seen: dict[tuple[str, int], tuple[Found, _Seen]] = {}
    # A pipe may be a live log (tail -f): hand each reply on at once, not per buffer.
    flush = sys.stdout.flush if source == "-" else None
    with _open(source) as handle:
        for found in scanner.scan(handle):
            reading = annotator.read(found)
            first = seen.get((found.source, id(reading)))
            if first is None:
                first = seen[found.source, id(reading)] = (found, _Seen(reading))
            first[1].count += 1
            out.finding(found, first[1])
            if flush is not None:
                flush()
    out.summary("stdin" if source == "-" else source, scanner.lines, seen.values(), kb)
    return 0
