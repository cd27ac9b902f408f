"""``smtpprobe annotate``: replies found in logs, bounces and transcripts, through the CLI."""

from __future__ import annotations

import io
import json
import os
import selectors
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from smtpprobe import kb as knowledge
from smtpprobe.logscan import scan_text
from smtpprobe.views.annotate_view import Annotator
from smtpprobe.views.offline_json import SCHEMA_VERSION
from tests.cli import run_main, set_plain_english

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "logs"
POSTFIX = FIXTURES / "postfix.log"


@pytest.fixture(autouse=True)
def _english_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    set_plain_english(monkeypatch)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    return run_main(capsys, "annotate", *argv)


def records(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, Any]]:
    """The JSON Lines output, each line parsed; the last one is the summary."""
    code, out, err = run(capsys, "--format", "json", *argv)
    assert (code, err) == (0, "")
    parsed = [json.loads(line) for line in out.splitlines()]
    assert all(record["schema_version"] == 1 for record in parsed)
    assert [r["type"] for r in parsed] == ["reply"] * (len(parsed) - 1) + ["summary"]
    return parsed


@pytest.mark.slow
def test_postfix_log_text(capsys: pytest.CaptureFixture[str]) -> None:
    kb = knowledge.load("en")
    code, out, err = run(capsys, str(POSTFIX))
    assert (code, err) == (0, "")
    assert out.startswith("     5  550 5.1.1 <bob@example.com>: Recipient address rejected:")
    assert f"550 {kb.basic(550).title} · 5.1.1 {kb.enhanced('X.1.1').title}" in out
    assert "In reply to RCPT" in " ".join(out.split())
    assert "\n     9  4.4.1 connect to mx.example.net[203.0.113.9]:25" in out
    summary = out[out.index("\nSummary\n") :]
    assert "7 replies and statuses found in 13 lines" in " ".join(summary.split())
    table = summary[summary.index("\nCode ") :]
    assert [line.split()[:2] for line in table.splitlines() if line[:1].isdigit()] == [
        ["550", "2"],
        ["554", "2"],
        ["450", "1"],
        ["4.4.1", "1"],
        ["250", "1"],
    ]
    assert max(len(line) for line in out.splitlines() if "://" not in line) <= 80


def test_postfix_log_json(capsys: pytest.CaptureFixture[str]) -> None:
    *replies, summary = records(capsys, str(POSTFIX))
    assert [(r["line"], r["code"], r["enhanced"], r["command"], r["source"]) for r in replies] == [
        (5, 550, "5.1.1", "RCPT", "postfix"),
        (7, 550, "5.1.1", "RCPT", "postfix"),
        (8, 450, "4.7.1", "RCPT", "postfix"),
        (9, None, "4.4.1", None, "postfix"),
        (10, 250, "2.0.0", "DATA_END", "postfix"),
        (11, 554, "5.7.1", "RCPT", "postfix-reject"),
        (12, 554, "5.7.1", "DATA_END", "postfix"),
    ]
    assert replies[0]["basis"] == "pattern:postfix-user-unknown" and replies[0]["tone"] == "bad"
    assert replies[1]["basis"].startswith("pattern:") and replies[1]["text"].count("\n") == 3
    assert (summary["lines"], summary["found"], summary["replies"]) == (13, 7, 6)
    assert summary["codes"][0] == {
        "code": "550",
        "count": 2,
        "title": knowledge.load("en").basic(550).title,
    }
    assert {
        "code": "5.1.1",
        "count": 2,
        "title": knowledge.load("en").enhanced("X.1.1").title,
    } in summary["enhanced"]


def test_json_records_match_the_dict_builder(capsys: pytest.CaptureFixture[str]) -> None:
    """The fast string-built records say exactly what the scan and its reading hold."""
    *replies, _ = records(capsys, str(POSTFIX))
    annotator = Annotator(knowledge.load("en"))
    expected = []
    for found in scan_text(POSTFIX.read_text(encoding="utf-8")):
        reading = annotator.read(found)
        expected.append(
            {
                "schema_version": SCHEMA_VERSION,
                "type": "reply",
                "line": found.line,
                "text": found.text,
                "source": found.source,
                "code": found.code,
                "enhanced": found.enhanced,
                "command": found.command,
                "title": reading.title,
                "meaning": reading.meaning,
                "fix": reading.fix,
                "tone": reading.tone.value,
                "basis": reading.basis,
            }
        )
    assert replies == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "exim.log",
            [(2, 550, "RCPT"), (4, 451, "DATA_END"), (5, 553, "MAIL"), (6, 554, "CONNECT")],
        ),
        ("sendmail.log", [(2, None, None), (3, 451, None), (4, 550, "RCPT"), (5, None, None)]),
        ("bounce.eml", [(17, 550, "RCPT"), (34, 550, None), (39, None, None)]),
        (
            "transcript.txt",
            [
                (1, 220, "CONNECT"),
                (3, 250, "EHLO"),
                (9, 252, "VRFY"),
                (11, 214, "HELP"),
                (13, 221, "QUIT"),
            ],
        ),
    ],
)
def test_other_formats(
    capsys: pytest.CaptureFixture[str],
    name: str,
    expected: list[tuple[int, int | None, str | None]],
) -> None:
    *replies, summary = records(capsys, str(FIXTURES / name))
    assert [(r["line"], r["code"], r["command"]) for r in replies] == expected
    assert summary["found"] == len(expected)
    assert all(r["title"] and r["meaning"] for r in replies)


def test_command_context_reaches_the_reading(capsys: pytest.CaptureFixture[str]) -> None:
    """The 252 after VRFY in a transcript is read with the 252@VRFY context."""
    *replies, _ = records(capsys, str(FIXTURES / "transcript.txt"))
    vrfy = next(r for r in replies if r["command"] == "VRFY")
    context = knowledge.load("en").context(252, "VRFY")
    assert context is not None and vrfy["basis"] == "context"
    assert context.meaning.startswith(vrfy["meaning"])


def test_stdin_text_stream(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(POSTFIX.read_text(encoding="utf-8")))
    *replies, summary = records(capsys, "-")
    assert len(replies) == 7 and summary["source"] == "stdin"


def test_stdin_bytes_with_bad_utf8(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = b"S: 220 mx \xff\xfe ready\r\nC: QUIT\r\nS: 221 bye\r\n"
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
    *replies, _ = records(capsys)
    assert [r["text"] for r in replies] == ["220 mx \ufffd\ufffd ready", "221 bye"]


def test_server_text_cannot_reach_the_terminal(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    log = tmp_path / "evil.log"
    log.write_text("S: 550 \x1b[2J\x1b]0;pwned\x07 [bold]x[/]\n", encoding="utf-8")
    code, out, _ = run(capsys, str(log))
    assert code == 0 and "\x1b" not in out and "\x07" not in out
    assert "\\x1b[2J\\x1b]0;pwned\\x07 [bold]x[/]" in out


def test_nothing_found(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    log = tmp_path / "quiet.log"
    log.write_text("Nov 28 06:25:01 mail postfix/smtpd[1]: connect from x[192.0.2.1]\n")
    code, out, _ = run(capsys, str(log))
    assert code == 0 and f"No SMTP reply found in {log}." in " ".join(out.split())
    (summary,) = records(capsys, str(log))
    assert (summary["lines"], summary["found"], summary["codes"]) == (1, 0, [])


def test_indonesian(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANG", "id_ID.UTF-8")
    code, out, _ = run(capsys, str(POSTFIX))
    assert (
        code == 0
        and "\nRingkasan\n" in out
        and "Sebagai balasan atas RCPT" in " ".join(out.split())
    )
    *replies, _ = records(capsys, str(POSTFIX))
    assert replies[4]["title"].startswith(f"250 {knowledge.load('id').basic(250).title}")


@pytest.mark.parametrize("make", [lambda p: p / "missing.log", lambda p: p])
def test_unreadable_input_exits_3(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, make: Any
) -> None:
    code, out, err = run(capsys, str(make(tmp_path)))
    assert code == 3 and out == "" and "Traceback" not in err
    assert err.startswith("smtpprobe: error: cannot read ") and len(err.splitlines()) == 2


@pytest.mark.slow
def test_end_to_end_streams_stdin() -> None:
    """A real process hands a reply on before its input ends (a live ``tail -f`` works)."""
    env = {**os.environ, "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "0"}
    process = subprocess.Popen(
        [sys.executable, "-m", "smtpprobe", "annotate", "-", "--format", "json"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        lines = POSTFIX.read_bytes().splitlines(keepends=True)
        process.stdin.write(b"".join(lines[4:6]))
        process.stdin.flush()
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            assert selector.select(timeout=20), "no record before the input ended"
        first = json.loads(process.stdout.readline())
        assert (first["line"], first["code"], first["command"]) == (1, 550, "RCPT")
        _, err = process.communicate(b"", timeout=20)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 0 and err == b""


def test_colour_terminal_goes_through_rich(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("smtpprobe.commands.annotate.use_color", lambda stream=None: True)
    code, out, _ = run(capsys, str(FIXTURES / "transcript.txt"))
    assert code == 0 and "252 2.0.0 bob" in out and "Summary" in out
    assert "Cannot Verify User" in out
