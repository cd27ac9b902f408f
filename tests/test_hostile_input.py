"""Bad input from the user: exit 3 (UNKNOWN) with a line that says what to do, never a traceback."""

from __future__ import annotations

import json

import pytest

from tests.hostile import run_cli


def error_lines(err: str) -> list[str]:
    """The lines of stderr that state the error (click's and smtpprobe's own forms)."""
    return [line for line in err.splitlines() if line.startswith(("Error:", "smtpprobe: error:"))]


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        pytest.param(["127.0.0.1:0"], "'0' is not a port number (1-65535)", id="port-zero"),
        pytest.param(["127.0.0.1:99999"], "'99999' is not a port number", id="port-too-big"),
        pytest.param(["127.0.0.1:smtp"], "'smtp' is not a port number", id="port-not-a-number"),
        pytest.param(["127.0.0.1", "--port", "70000"], "'--port'", id="option-port"),
        pytest.param(["[::1"], "write an IPv6 address as [2001:db8::1]:25", id="open-bracket"),
        pytest.param([":25"], "names no host", id="no-host"),
        pytest.param(
            ["127.0.0.1:25", "--port", "26"],
            "the target says port 25 but --port says 26",
            id="two-ports",
        ),
        pytest.param(
            ["127.0.0.1", "--user", "alice smith"],
            "'alice smith' contains ' '",
            id="user-with-space",
        ),
        pytest.param(
            ["127.0.0.1", "--user", "@example.org"],
            "'@example.org' is not an address",
            id="user-without-local-part",
        ),
        pytest.param(
            ["127.0.0.1", "--user", "a@b@c"], "'a@b@c' is not an address", id="user-with-two-ats"
        ),
        pytest.param(
            ["127.0.0.1", "--user", "<alice@example.org>"], "contains '<'", id="user-in-brackets"
        ),
        pytest.param(
            ["127.0.0.1", "--user", "alice\r\nRSET"],
            "contains '\\r'",
            id="user-smuggling-a-command",
        ),
        pytest.param(
            ["127.0.0.1", "--list", "staff\x1b[2J"], "contains '\\x1b'", id="list-with-escape"
        ),
        pytest.param(["127.0.0.1", "--helo", "my host"], "contains ' '", id="helo-with-space"),
        pytest.param(
            ["127.0.0.1", "--domain", "exa mple.org"], "is not a domain name", id="bad-domain"
        ),
        pytest.param(
            ["127.0.0.1", "--only", "vrfy", "--skip", "vrfy"],
            "--skip and --only cannot be combined",
            id="only-and-skip-same-step",
        ),
        pytest.param(
            ["127.0.0.1", "--rcpt-check", "--skip", "rcpt"],
            "--rcpt-check asks for the step that --skip rcpt leaves out",
            id="rcpt-check-and-skip-rcpt",
        ),
        pytest.param(["127.0.0.1", "-4", "-6"], "-4 and -6 cannot be combined", id="4-and-6"),
        pytest.param(["127.0.0.1", "--timeout", "0"], "'--timeout'", id="zero-timeout"),
        pytest.param(["127.0.0.1", "--tls", "maybe"], "'--tls'", id="unknown-tls-mode"),
        pytest.param(
            ["127.0.0.1", "--cafile", "/nonexistent/ca.pem"], "'--cafile'", id="missing-cafile"
        ),
    ],
)
def test_bad_input_exits_3_with_one_error_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    run = run_cli(capsys, "probe", *argv)
    assert run.code == 3
    assert "Traceback" not in run.err and run.out == ""
    (line,) = error_lines(run.err)
    assert says in line
    assert "\x1b" not in line and "\r" not in line  # the bad value is shown escaped
    assert run.elapsed < 1.0  # refused before any network I/O


def test_usage_errors_of_our_own_come_with_a_hint(capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "probe", "127.0.0.1", "--user", "alice smith")
    assert run.code == 3
    assert run.err.splitlines()[1].startswith("  hint: give one word")


def test_a_name_that_does_not_resolve_is_unknown_with_a_hint(
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = run_cli(capsys, "probe", "nonexistent.invalid", "--timeout", "5")
    assert run.code == 3 and run.out == ""
    (line,) = error_lines(run.err)
    assert line.startswith("smtpprobe: error: nonexistent.invalid does not resolve")
    assert "hint: check the spelling" in run.err


def test_a_name_that_does_not_resolve_still_gives_a_json_document(
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = run_cli(capsys, "probe", "nonexistent.invalid", "--timeout", "5", "--format", "json")
    assert run.code == 3
    doc = json.loads(run.out)
    assert doc["status"] == "unknown" and doc["schema_version"] == 1
    assert doc["error"]["kind"] == "resolve" and doc["error"]["phase"] == "resolve"
