"""Terminal safety: escape sequences and rich markup from a server never act on the terminal.

The server (`tests.hostile.escape_banner`) puts OSC 0 (window title), CSI 2J (clear screen),
SGR colour, a C1 CSI (U+009B) and rich markup into its banner, EHLO, HELP, VRFY and EXPN
replies. Every view must show them inert: the plain view, the rich view on a colour
terminal, the ``-v`` live view, and the JSON document (where the text is data).
"""

from __future__ import annotations

import asyncio
import io
import json
import sys

import pytest
import trustme

from smtpprobe.kb import load
from smtpprobe.probe import probe
from smtpprobe.report import ProbeOptions, TlsMode
from smtpprobe.views.probe_view import probe_doc
from tests import hostile
from tests.hostile import ESCAPES, run_cli, serve, serve_in_thread

# The server's sequences, as they would reach a terminal (ESC, BEL and the UTF-8 C1 CSI).
RAW = ("\x1b]0;", "\x1b[2J", "\x1b[31m", "\x07", "\x9b")
# On the rich path rich writes SGR styles of its own (``\x1b[31m`` is its red): look for
# the sequences only the server could have put there.
RAW_UNDER_RICH = ("\x1b]0;", "\x1b[2J", "\x07", "\x9b")
SHOWN = "\\x1b]0;pwned\\x07\\x1b[2J\\x1b[31m[bold red]x[/]\\x9b2J"


def assert_inert(text: str, raw: tuple[str, ...] = RAW) -> None:
    for sequence in raw:
        assert sequence not in text, f"raw {sequence!r} reached the output"


def test_plain_view_shows_server_escapes_as_text(capsys: pytest.CaptureFixture[str]) -> None:
    with serve_in_thread(hostile.escape_banner) as server:
        run = run_cli(capsys, "probe", server.target, "--tls", "none", "--timeout", "3")
    assert run.code == 0
    assert_inert(run.out)
    assert_inert(run.err)
    assert "\x1b" not in run.out  # the plain view writes no escape of its own either
    assert f"S:  220 mx.hostile.test {SHOWN}" in run.out
    assert "[bold red]x[/]" in run.out  # markup stays literal text


def test_verbose_live_view_on_stderr_is_inert(capsys: pytest.CaptureFixture[str]) -> None:
    with serve_in_thread(hostile.escape_banner) as server:
        run = run_cli(capsys, "probe", server.target, "--tls", "none", "--timeout", "3", "-v")
    assert run.code == 0
    assert_inert(run.err)
    assert f"S: 220 mx.hostile.test {SHOWN} ESMTP" in run.err


def test_json_carries_the_server_text_as_data(capsys: pytest.CaptureFixture[str]) -> None:
    with serve_in_thread(hostile.escape_banner) as server:
        run = run_cli(
            capsys, "probe", server.target, "--tls", "none", "--timeout", "3", "--format", "json"
        )
    assert run.code == 0
    assert_inert(run.out)  # escaped as \u001b, \u009b … inside JSON strings
    doc = json.loads(run.out)
    text = ESCAPES.decode()
    assert doc["exchanges"][0]["reply"]["lines"] == [f"mx.hostile.test {text} ESMTP"]
    assert doc["findings"]["vrfy"]["evidence"][0]["reply"]["lines"] == [f"2.0.0 {text}"]


class FakeTerminal(io.StringIO):
    """A stdout that says it is a terminal, so that the CLI takes its rich path."""

    def isatty(self) -> bool:
        return True


def test_rich_view_on_a_colour_terminal_is_inert(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole CLI, with stdout a colour terminal: rich styles, the server's bytes do not."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("COLUMNS", "100")
    terminal = FakeTerminal()
    with serve_in_thread(hostile.escape_banner) as server:
        monkeypatch.setattr(sys, "stdout", terminal)
        run = run_cli(capsys, "probe", server.target, "--tls", "none", "--timeout", "3")
        monkeypatch.undo()
    out = terminal.getvalue()
    assert run.code == 0
    assert "\x1b[" in out  # rich did style the output: this is the rich path
    assert_inert(out, RAW_UNDER_RICH)
    assert "[bold red]x[/]" in out and "\\x1b[2J" in out


async def test_rich_renderer_escapes_server_text_in_every_block() -> None:
    """`to_rich` straight into a forced-terminal Console: the transcript, findings, advice."""
    from rich.console import Console

    from smtpprobe.render.rich_view import to_rich

    async with serve(hostile.escape_banner) as server:
        report = await probe(
            server.host, options=ProbeOptions(port=server.port, tls=TlsMode.NONE, deadline=3.0)
        )
    buffer = io.StringIO()
    Console(file=buffer, force_terminal=True, color_system="truecolor", width=100).print(
        to_rich(probe_doc(report, load("en")))
    )
    out = buffer.getvalue()
    assert "\x1b[" in out
    assert_inert(out, RAW_UNDER_RICH)
    assert "[bold red]x[/]" in out and "\\x1b]0;pwned\\x07" in out


def test_malformed_reply_evidence_is_inert(capsys: pytest.CaptureFixture[str]) -> None:
    """A line that is no reply: its bytes are shown as evidence, escaped."""
    with serve_in_thread(hostile.garbage(ESCAPES)) as server:
        run = run_cli(capsys, "probe", server.target, "--tls", "none", "--timeout", "3")
    assert run.code == 2
    assert_inert(run.out)
    assert "\\x1b[2J" in run.out


def test_injected_stray_bytes_are_inert(
    capsys: pytest.CaptureFixture[str], server_certs: dict[str, trustme.LeafCert], cafile: str
) -> None:
    """Bytes smuggled in after ``220 Ready to start TLS`` are listed, escaped."""
    context = hostile.server_context(server_certs["valid"])
    script = hostile.starttls_injection(context, injected=b"250 " + ESCAPES + b"\r\n")
    with serve_in_thread(script) as server:
        run = run_cli(
            capsys,
            "probe",
            server.target,
            "--tls",
            "starttls",
            "--cafile",
            cafile,
            "--timeout",
            "3",
        )
    assert run.code == 1
    assert_inert(run.out)
    assert "250 \\x1b]0;pwned" in " ".join(run.out.split())


async def _pipe_in_greeting(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A 554 greeting whose text tries to end the status line and forge perfdata."""
    await hostile.converse(
        reader,
        writer,
        banner=b"554 5.7.1 go away | time=999s;1;2 " + ESCAPES + b" SMTP OK - fake\r\n",
    )


def test_nagios_line_stays_one_line_whatever_the_server_says(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The plugin line is one line, its only `|` is ours, and no escape gets through."""
    with serve_in_thread(_pipe_in_greeting) as server:
        run = run_cli(
            capsys, "probe", server.target, "--tls", "none", "--timeout", "3", "--format", "nagios"
        )
    assert run.code == 2
    assert run.out.count("\n") == 1 and run.out.startswith("SMTP CRITICAL - ")
    assert run.out.count("|") == 1 and "time=999s" not in run.out.split("|")[1]
    assert_inert(run.out)
    assert "\x1b" not in run.out and "\x9b" not in run.out
