"""``smtpprobe explain`` through the CLI entry point, in text and JSON, English and Indonesian."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from typing import Any

import pytest

from smtpprobe import kb as knowledge
from tests.cli import run_main, set_plain_english

REPLY = "550 5.1.1 <bob@example.com>: Recipient address rejected: User unknown"


@pytest.fixture(autouse=True)
def _english_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    set_plain_english(monkeypatch)


run = run_main


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, Any]]:
    code, out, err = run(capsys, "explain", "--format", "json", *argv)
    assert (code, err) == (0, "")
    document = json.loads(out)
    assert document["schema_version"] == 1
    explanations: list[dict[str, Any]] = document["explanations"]
    return explanations


def flat(text: str) -> str:
    """Text with its wrapping undone, to look for a knowledge-base sentence in it."""
    return " ".join(text.split())


def assert_usage_error(code: int, out: str, err: str) -> None:
    """Exit 3, nothing on stdout, one error line (and its hint), never a traceback."""
    lines = err.splitlines()
    assert code == 3 and out == ""
    assert lines[0].startswith("smtpprobe: error: ")
    assert len(lines) <= 2 and all(line.startswith("  hint: ") for line in lines[1:])
    assert "Traceback" not in err


def test_basic_code_text(capsys: pytest.CaptureFixture[str]) -> None:
    entry = knowledge.load("en").basic(252)
    code, out, err = run(capsys, "explain", "252")
    assert (code, err) == (0, "")
    assert out.startswith(f"SMTP 252 {entry.title}\n")
    for heading in ("Description", "When you see it", "How to fix", "For the server's operator"):
        assert f"\n{heading}\n" in out
    for text in (
        entry.description,
        entry.when,
        entry.fix,
        entry.fix_operator,
        "2xx Positive Completion",
        ", ".join(entry.references),
    ):
        assert flat(text) in flat(out)
    assert max(len(line) for line in out.splitlines()) <= 80


def test_basic_code_json(capsys: pytest.CaptureFixture[str]) -> None:
    entry = knowledge.load("en").basic(252)
    (item,) = run_json(capsys, "252")
    assert item["input"] == "252" and item["kind"] == "code" and item["code"] == 252
    assert item["class"]["digit"] == 2 and item["class"]["name"] == "Positive Completion"
    assert item["category"]["digit"] == 5
    assert (item["title"], item["description"], item["when"], item["fix"]) == (
        entry.title,
        entry.description,
        entry.when,
        entry.fix,
    )
    assert item["references"] == list(entry.references)
    assert (item["enhanced"], item["context"], item["allowed"], item["reply"]) == (
        None,
        None,
        None,
        None,
    )
    assert (item["patterns"], item["defects"], item["synthesized"]) == ([], [], False)


def test_command_gives_the_per_command_reading(capsys: pytest.CaptureFixture[str]) -> None:
    context = knowledge.load("en").context(252, "VRFY")
    assert context is not None
    (item,) = run_json(capsys, "--command", "vrfy", "252")
    assert item["command"] == "VRFY" and item["allowed"] is True
    assert item["context"] == {
        "command": "VRFY",
        "meaning": context.meaning,
        "fix": context.fix,
        "tone": context.tone,
    }
    code, out, _ = run(capsys, "explain", "--command", "VRFY", "252")
    assert code == 0 and "\nIn reply to VRFY\n" in out and flat(context.meaning) in flat(out)


def test_deviation_from_rfc_5321_section_4_3_2(capsys: pytest.CaptureFixture[str]) -> None:
    """RFC 5321 §4.3.2 lists 211 and 214 for HELP, so a 250 there is a deviation."""
    (item,) = run_json(capsys, "--command", "HELP", "250")
    assert item["allowed"] is False
    code, out, _ = run(capsys, "explain", "--command", "HELP", "250")
    assert code == 0 and "Deviation from RFC 5321 §4.3.2" in flat(out)


def test_unknown_command_has_no_rule(capsys: pytest.CaptureFixture[str]) -> None:
    (item,) = run_json(capsys, "--command", "XFOO", "250")
    assert item["allowed"] is None and item["command"] == "XFOO"


def test_enhanced_code(capsys: pytest.CaptureFixture[str]) -> None:
    entry = knowledge.load("en").enhanced("X.1.1")
    (item,) = run_json(capsys, "5.1.1")
    assert item["kind"] == "enhanced" and item["code"] is None
    assert item["class"]["digit"] == 5 and item["title"] == entry.title
    assert item["enhanced"]["code"] == "5.1.1" and item["enhanced"]["key"] == "X.1.1"
    assert item["enhanced"]["subject"]["digit"] == 1
    assert item["enhanced"]["basic"] == list(entry.basic)
    code, out, _ = run(capsys, "explain", "5.1.1")
    assert code == 0 and out.startswith(f"Enhanced status code 5.1.1: {entry.title}")
    assert flat(entry.description) in flat(out)


def test_enhanced_code_without_class(capsys: pytest.CaptureFixture[str]) -> None:
    (item,) = run_json(capsys, "X.1.1")
    assert item["class"] is None and item["enhanced"]["code"] == "X.1.1"
    assert item["tone"] == "note"


def test_whole_reply(capsys: pytest.CaptureFixture[str]) -> None:
    (item,) = run_json(capsys, "--command", "RCPT", REPLY)
    assert item["kind"] == "reply" and item["code"] == 550 and item["input"] == REPLY
    assert item["enhanced"]["code"] == "5.1.1" and item["enhanced"]["class"]["digit"] == 5
    assert item["reply"]["lines"] == [REPLY[4:]]
    assert "Postfix" in [pattern["vendor"] for pattern in item["patterns"]]
    assert item["tone"] == "bad"
    code, out, _ = run(capsys, "explain", REPLY)
    assert code == 0 and out.startswith("SMTP 550 ") and REPLY in flat(out)
    assert "Specific reading (Postfix)" in out


def test_multiline_reply_from_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("250-mx.example.com\n250-SIZE 1000\n250 HELP\n"))
    (item,) = run_json(capsys, "-")
    assert item["kind"] == "reply"
    assert item["reply"]["lines"] == ["mx.example.com", "SIZE 1000", "HELP"]


def test_several_arguments_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    items = run_json(capsys, "252", "5.7.26", REPLY)
    assert [item["kind"] for item in items] == ["code", "enhanced", "reply"]
    code, out, _ = run(capsys, "explain", "211", "252")
    assert code == 0 and out.index("SMTP 211 ") < out.index("SMTP 252 ")


def test_code_without_entry_is_read_from_its_digits(capsys: pytest.CaptureFixture[str]) -> None:
    (item,) = run_json(capsys, "259")
    assert item["synthesized"] is True and item["class"]["digit"] == 2


def test_server_text_cannot_reach_the_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "explain", "550 \x1b[2J [bold red]x[/] gone")
    assert code == 0 and "\x1b" not in out and "\\x1b[2J [bold red]x[/] gone" in out


def test_indonesian_from_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    entry = knowledge.load("id").basic(252)
    code, out, _ = run(capsys, "explain", "--lang", "id", "252")
    assert code == 0 and out.startswith(f"SMTP 252 {entry.title}\n")
    for heading in ("Deskripsi", "Ketika Anda Melihatnya", "Cara Memperbaiki"):
        assert f"\n{heading}\n" in out
    assert "\nDescription\n" not in out and flat(entry.description) in flat(out)


def test_indonesian_from_the_locale(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANG", "id_ID.UTF-8")
    (item,) = run_json(capsys, "252")
    assert item["title"] == knowledge.load("id").basic(252).title
    assert set(item) >= {"title", "description", "when", "fix"}
    (item,) = run_json(capsys, "--lang", "en", "252")
    assert item["title"] == knowledge.load("en").basic(252).title


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["999"], id="three-digits-out-of-range"),
        pytest.param(["25"], id="two-digits"),
        pytest.param(["6.1.1"], id="enhanced-bad-class"),
        pytest.param(["hello"], id="not-a-reply"),
        pytest.param([""], id="empty"),
        pytest.param(["999x"], id="pasted-code-with-letter"),
        pytest.param(["999 what"], id="pasted-reply-out-of-range"),
        pytest.param(["199 hello"], id="pasted-reply-class-1"),
        pytest.param(["600-5.1.1 x"], id="pasted-continuation-out-of-range"),
        pytest.param(["--command", "R!", "250"], id="bad-command"),
    ],
)
def test_bad_input_exits_3_with_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    assert_usage_error(*run(capsys, "explain", *argv))


@pytest.mark.parametrize("text", ["", "   ", "\n\n"])
def test_blank_input_is_a_usage_error(capsys: pytest.CaptureFixture[str], text: str) -> None:
    code, out, err = run(capsys, "explain", text)
    assert (code, out) == (3, "") and "internal error" not in err and "cannot read" in err


def test_out_of_range_reply_says_what_explain_999_says(capsys: pytest.CaptureFixture[str]) -> None:
    _, _, bare = run(capsys, "explain", "999")
    for pasted in ("999 what", "999x", "999-more"):
        code, out, err = run(capsys, "explain", pasted)
        assert (code, out, err) == (3, "", bare)


def test_pasted_continuation_line_is_read(capsys: pytest.CaptureFixture[str]) -> None:
    (item,) = run_json(
        capsys,
        "550-5.7.26 Unauthenticated email from example.com is not "
        "accepted due to domain's DMARC policy.",
    )
    assert item["code"] == 550
    assert "gmail-dmarc" in json.dumps(item)


def test_postfix_joined_form_is_read(capsys: pytest.CaptureFixture[str]) -> None:
    said = (
        "host gmail-smtp-in.l.google.com[192.0.2.7] said: 550-5.7.26 This mail has been "
        "blocked because the sender is 550-5.7.26 unauthenticated. Gmail requires all "
        "senders to authenticate with 550 5.7.26 either SPF or DKIM. - gsmtp (in reply to "
        "end of DATA command)"
    )
    for text in (said, said.split(" said: ", 1)[1].rsplit(" (in reply", 1)[0]):
        (item,) = run_json(capsys, text)
        assert item["code"] == 550
        assert "gmail-unauthenticated" in json.dumps(item)


def test_bad_input_json_also_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    assert_usage_error(*run(capsys, "explain", "--format", "json", "999"))


def test_missing_argument_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "explain")
    assert code == 3 and out == "" and "Missing argument" in err and "Traceback" not in err


@pytest.mark.slow
def test_start_up_imports_stay_lean() -> None:
    """Plain output needs no rich, and nothing offline needs asyncio or aiosmtplib."""
    code = (
        "import io, sys\n"
        "sys.stdout = io.StringIO()\n"
        "from smtpprobe.cli import main\n"
        "status = main(['explain', '252'])\n"
        "names = {name.split('.')[0] for name in sys.modules}\n"
        "sys.stdout = sys.__stdout__\n"
        "print(status, sorted(names & {'rich', 'asyncio', 'aiosmtplib', 'ssl', 'socket'}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert result.stdout.split(None, 1) == ["0", "[]\n"]


def test_colour_terminal_goes_through_rich(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a colour terminal the same document is printed by rich, server text still inert."""
    monkeypatch.setattr("smtpprobe.commands._common.use_color", lambda stream=None: True)
    code, out, _ = run(capsys, "explain", "--command", "VRFY", "252 2.0.0 [bold]x[/] \x1b[2J")
    assert code == 0 and "SMTP 252" in out and "In reply to VRFY" in out
    assert "[bold]x[/]" in out and "\x1b[2J" not in out
