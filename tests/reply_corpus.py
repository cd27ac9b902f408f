"""The corpus of real replies in ``fixtures/replies``: load it and read each entry the two ways
users do, through ``explain`` (the reply pasted) and ``annotate`` (the reply in a Postfix log).

Shared by ``tests/test_reply_corpus.py`` and ``bench/bench_corpus.py``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from smtpprobe.kb import KnowledgeBase
from smtpprobe.logscan import LogScanner
from smtpprobe.views.annotate_view import Annotator
from smtpprobe.views.annotation_doc import Reading, reading
from smtpprobe.views.explanation import explain_argument

CORPUS = Path(__file__).resolve().parent.parent / "fixtures" / "replies"
# How Postfix names the command in "(in reply to … command)".
_IN_REPLY_TO = {"MAIL": "MAIL FROM", "RCPT": "RCPT TO", "DATA": "DATA", "DATA_END": "end of DATA"}


@dataclass(frozen=True, slots=True)
class Entry:
    """One real reply: its wire text, the command it answered, where it was seen, and what a
    specific reading of it is (``pattern-id``, ``enhanced:X.1.1``, or ``none`` for a vague one)."""

    file: str
    text: str
    command: str | None
    source: str
    expect: str
    advice: tuple[str, ...]

    @property
    def vague(self) -> bool:
        return self.expect == "none"


def load_corpus() -> list[Entry]:
    """Every entry of every ``fixtures/replies/*.toml`` file, in file order."""
    entries = []
    for path in sorted(CORPUS.glob("*.toml")):
        for item in tomllib.loads(path.read_text("utf-8")).get("reply", ()):
            entries.append(
                Entry(
                    path.name,
                    item["text"],
                    item.get("command"),
                    item["source"],
                    item["expect"],
                    tuple(item.get("advice", ())),
                )
            )
    return entries


def read_pasted(entry: Entry, kb: KnowledgeBase) -> Reading:
    """The reading ``smtpprobe explain`` gives the reply (with ``--command`` when known)."""
    explanation = explain_argument(entry.text, kb, entry.command)
    assert explanation.annotation is not None
    return reading(explanation.annotation)


def postfix_log_line(entry: Entry) -> str:
    """The reply as Postfix logs a remote server's answer: all lines joined on one line."""
    first = entry.text.split(" ", 1)[0]
    code = entry.text[:3]
    enhanced = first[4:] if len(first) > 4 and first[4:5].isdigit() else f"{code[0]}.0.0"
    status = "bounced" if code[0] == "5" else "deferred"
    said = " ".join(entry.text.splitlines())
    verb = _IN_REPLY_TO.get(entry.command or "")
    tail = f" (in reply to {verb} command)" if verb else ""
    return (
        f"Dec  5 12:00:00 mx postfix/smtp[4242]: 4F1A2B3C4D: to=<bob@example.org>, "
        f"relay=mx.example.net[192.0.2.7]:25, delay=1.2, delays=0.1/0/0.5/0.6, "
        f"dsn={enhanced}, status={status} (host mx.example.net[192.0.2.7] said: "
        f"{said}{tail})"
    )


def read_logged(entry: Entry, kb: KnowledgeBase) -> Reading | None:
    """The reading ``smtpprobe annotate`` gives the reply found in a Postfix log line."""
    found = [f for f in LogScanner().scan([postfix_log_line(entry)]) if f.code is not None]
    return Annotator(kb).read(found[0]) if found else None


def is_specific(entry: Entry, result: Reading | None) -> bool:
    """The expected specific reading, with advice holding every expected word."""
    if result is None or entry.vague:
        return False
    if entry.expect.startswith("enhanced:"):
        right = result.basis == "enhanced"
    else:
        right = result.basis == f"pattern:{entry.expect}"
    fix = result.fix.casefold()
    return right and all(word.casefold() in fix for word in entry.advice)
