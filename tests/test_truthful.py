"""Findings say only what the session shows: the defects users found, through the CLI.

Each test serves a scripted server (tests/hostile.py) or a persona and reads the JSON
report (or the text, where wording was the defect) of a real run.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trustme

from tests.hostile import (
    BANNER,
    Script,
    converse,
    read_command,
    run_cli,
    serve_in_thread,
    server_context,
    silent,
)
from tests.ports import ServerAddress
from tests.requirements import missing

Serve = Callable[..., ServerAddress]
ROOT = Path(__file__).resolve().parent.parent


def scripted(**replies: bytes) -> Script:
    """A plausible server whose replies to some verbs are *replies* (verb → bytes)."""
    table = {verb.upper().encode(): reply for verb, reply in replies.items()}
    return functools.partial(converse, replies=table)


def probe_json(capsys: pytest.CaptureFixture[str], target: str, *argv: str) -> tuple[int, Any]:
    run = run_cli(capsys, "probe", target, "--format", "json", "--timeout", "5", *argv)
    return run.code, run.json()


# -- STARTTLS and TLS ---------------------------------------------------------------------------


def test_starttls_asked_but_not_advertised_is_not_offered(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A 502 to STARTTLS from a server that never listed it is RFC 3207's right answer."""
    with serve_in_thread(
        scripted(STARTTLS=b"502 5.5.1 Error: command not implemented\r\n")
    ) as server:
        code, doc = probe_json(capsys, server.target, "--tls", "starttls")
    starttls = doc["findings"]["starttls"]
    assert starttls["reason"] == "not-offered" and starttls["status"] == "critical"
    assert "offered but" not in starttls["summary"] and code == 2
    kinds = [(i["command"], i["kind"]) for i in doc["findings"]["deviations"]["items"]]
    assert ("STARTTLS", "unexpected-code") not in kinds


def test_implicit_tls_against_a_plain_port_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    with serve_in_thread(scripted()) as server:
        code, doc = probe_json(capsys, server.target, "--tls", "implicit")
    found = doc["findings"]
    assert code == 2
    assert found["connection"]["reason"] == "tls-failed"
    assert "plain-port" in [n["reason"] for n in found["connection"]["notes"]]
    assert "--tls starttls" in found["connection"]["advice"]
    assert found["starttls"]["reason"] == "not-applicable"  # never "encrypted before"
    assert found["tls"]["reason"] == "handshake-failed" and found["tls"]["status"] == "critical"


@pytest.mark.slow
def test_a_silent_server_is_said_once_with_the_implicit_tls_hint(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with serve_in_thread(silent) as server:
        run = run_cli(capsys, "probe", server.target, "--timeout", "1.5", "--command-timeout", "1")
        code, doc = probe_json(capsys, server.target, "--timeout", "1.5", "--command-timeout", "1")
    assert run.code == code == 2
    connection = doc["findings"]["connection"]
    assert connection["reason"] == "silent" and "--tls implicit" in connection["advice"]
    assert run.out.count("no complete reply within") == 1  # the error, once


def test_a_bad_certificate_in_starttls_mode_keeps_the_certificate_facts(
    capsys: pytest.CaptureFixture[str],
    tls_ca: trustme.CA,
) -> None:
    """--tls starttls fails closed, but says what the certificate is and which flag to add."""
    leaf = tls_ca.issue_cert("wrong.example")
    with serve_in_thread(functools.partial(converse, starttls=server_context(leaf))) as server:
        code, doc = probe_json(capsys, server.target, "--tls", "starttls")
    tls = doc["findings"]["tls"]
    assert code == 2 and tls["reason"] in ("unverified", "expired")
    assert tls["verified"] is False and tls["verify_error"]
    assert tls["certificate"]["sans"] == ["wrong.example"]
    assert "--insecure" in doc["error"]["hint"]


def test_opportunistic_tls_goes_on_and_never_sends_a_password(
    capsys: pytest.CaptureFixture[str],
    tls_ca: trustme.CA,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    leaf = tls_ca.issue_cert("wrong.example")
    monkeypatch.setenv("SMTPPROBE_TEST_PASSWORD", "hunter2-secret")
    script = functools.partial(
        converse,
        starttls=server_context(leaf),
        replies={b"EHLO": b"250-mx.hostile.test\r\n250-AUTH PLAIN LOGIN\r\n250 STARTTLS\r\n"},
    )
    with serve_in_thread(script) as server:
        code, doc = probe_json(
            capsys,
            server.target,
            "--auth-user",
            "alice",
            "--auth-password-env",
            "SMTPPROBE_TEST_PASSWORD",
        )
        heard = list(server.commands)
    found = doc["findings"]
    assert found["tls"]["reason"] == "unverified" and found["tls"]["status"] == "warning"
    assert found["vrfy"]["verdict"] != "not-tested"  # the session went on
    assert found["auth"]["reason"] == "unverified-tls"
    assert not any(c.upper().startswith(b"AUTH") for c in heard)
    assert code == 1


def test_ehlo_changes_inside_tls_have_no_placeholders(
    capsys: pytest.CaptureFixture[str],
    tls_ca: trustme.CA,
    cafile: str,
) -> None:
    leaf = tls_ca.issue_cert("127.0.0.1")
    with serve_in_thread(functools.partial(converse, starttls=server_context(leaf))) as server:
        run = run_cli(capsys, "probe", server.target, "--cafile", cafile, "--timeout", "5")
    assert " - " not in run.out.split("Findings")[1].split("Status")[0].replace("- ", "")
    assert "dropped STARTTLS" not in run.out


# -- HELP, VRFY and the sequence of commands ---------------------------------------------------


def test_help_prose_is_not_a_command_list(capsys: pytest.CaptureFixture[str]) -> None:
    """OpenSMTPD ends its HELP with "End of HELP info": no commands in that."""
    help_text = (
        b"214-2.0.0 This is OpenSMTPD\r\n214-2.0.0 To report bugs in the "
        b"implementation, please contact bugs@openbsd.org\r\n"
        b"214 2.0.0 End of HELP info\r\n"
    )
    with serve_in_thread(scripted(HELP=help_text)) as server:
        _code, doc = probe_json(capsys, server.target)
    helped = doc["findings"]["help"]
    assert helped["topics"] == [] and helped["reason"] == "answered"


def test_help_command_list_is_read(capsys: pytest.CaptureFixture[str]) -> None:
    help_text = (
        b"214-2.0.0 Topics:\r\n214-2.0.0       HELO    EHLO    MAIL    RCPT    DATA\r\n"
        b"214-2.0.0       STARTTLS\r\n214 2.0.0 End of HELP info\r\n"
    )
    with serve_in_thread(scripted(HELP=help_text)) as server:
        _code, doc = probe_json(capsys, server.target)
    assert doc["findings"]["help"]["topics"] == ["HELO", "EHLO", "MAIL", "RCPT", "DATA", "STARTTLS"]


def test_an_unknown_user_like_the_control_is_both_unknown(
    capsys: pytest.CaptureFixture[str],
) -> None:
    unknown = b"550 5.1.1 <bob>: Recipient address rejected: User unknown in local table\r\n"
    with serve_in_thread(scripted(VRFY=unknown)) as server:
        _code, doc = probe_json(capsys, server.target, "--user", "bob")
    vrfy = doc["findings"]["vrfy"]
    assert vrfy["verdict"] == "inconclusive" and vrfy["reason"] == "both-unknown"
    assert "postmaster" in vrfy["advice"]


async def _sendmail_like(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Sendmail before a greeting: 503 to everything but EHLO/HELO; discloses after it."""
    writer.write(BANNER)
    greeted = False
    while (command := await read_command(reader)) is not None:
        verb = command.split(b" ")[0].upper()
        if verb in (b"EHLO", b"HELO"):
            greeted, reply = True, b"250 mx.hostile.test\r\n"
        elif verb == b"QUIT":
            writer.write(b"221 2.0.0 closing\r\n")
            return
        elif not greeted:
            reply = b"503 5.0.0 I demand that you introduce yourself first\r\n"
        elif verb == b"VRFY" and b"postmaster" in command:
            reply = b"250 2.1.5 <postmaster@mx.hostile.test>\r\n"
        elif verb == b"VRFY":
            reply = b"550 5.1.1 User unknown\r\n"
        else:
            reply = b"250 OK\r\n"
        writer.write(reply)
        await writer.drain()


def test_only_vrfy_still_greets_and_a_discloser_is_not_passed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--only vrfy used to skip EHLO; Sendmail's 503 then read as "refused" (a false OK)."""
    with serve_in_thread(_sendmail_like) as server:
        code, doc = probe_json(
            capsys, server.target, "--only", "vrfy", "--expect-vrfy", "not-disclosing"
        )
        heard = [c.split(b" ")[0].upper() for c in server.commands]
    assert heard[0] == b"EHLO"
    assert doc["findings"]["vrfy"]["verdict"] == "disclosing"
    assert doc["findings"]["expect-vrfy"]["status"] == "critical" and code == 2


def test_a_503_to_vrfy_is_inconclusive_never_refused(capsys: pytest.CaptureFixture[str]) -> None:
    bad = b"503 5.5.1 Error: send HELO/EHLO first\r\n"
    with serve_in_thread(scripted(VRFY=bad)) as server:
        code, doc = probe_json(capsys, server.target, "--expect-vrfy", "not-disclosing")
    vrfy = doc["findings"]["vrfy"]
    assert vrfy["verdict"] == "inconclusive" and vrfy["reason"] == "bad-sequence"
    assert doc["findings"]["expect-vrfy"]["status"] == "unknown" and code != 0


# -- AUTH wording -------------------------------------------------------------------------------


def test_challenge_response_auth_in_clear_is_not_passwords_in_clear(
    capsys: pytest.CaptureFixture[str],
) -> None:
    ehlo = b"250-mx.hostile.test\r\n250-AUTH CRAM-MD5 DIGEST-MD5\r\n250 8BITMIME\r\n"
    with serve_in_thread(scripted(EHLO=ehlo)) as server:
        _code, doc = probe_json(capsys, server.target)
    summary = doc["findings"]["ehlo"]["summary"]
    assert "never send the password itself" in summary and "in clear" not in summary


# -- errors, Nagios, JUnit, plurals --------------------------------------------------------------


def test_connection_refused_in_plain_words(
    capsys: pytest.CaptureFixture[str], closed_port: int
) -> None:
    run = run_cli(capsys, "probe", f"127.0.0.1:{closed_port}", "--timeout", "3")
    assert "Connection refused" in run.out and "Connect call failed" not in run.out + run.err
    assert re.search(r"^Address\s+127\.0\.0\.1$", run.out, re.MULTILINE)


def test_nagios_names_one_cause_for_a_dead_server(
    capsys: pytest.CaptureFixture[str], closed_port: int
) -> None:
    run = run_cli(capsys, "probe", f"127.0.0.1:{closed_port}", "--format", "nagios")
    assert run.code == 2 and "not reached" not in run.out and "No connection" in run.out


def test_junit_marks_checks_that_did_not_run_skipped(
    capsys: pytest.CaptureFixture[str], closed_port: int
) -> None:
    run = run_cli(capsys, "probe", f"127.0.0.1:{closed_port}", "--format", "junit")
    assert '<testcase name="vrfy"' in run.out
    vrfy = run.out.split('<testcase name="vrfy"')[1].split("</testcase>")[0]
    assert "<skipped" in vrfy and "<error" not in vrfy


def test_one_of_anything_is_singular(capsys: pytest.CaptureFixture[str]) -> None:
    ehlo = b"250-mx.hostile.test\r\n250 8BITMIME\r\n"
    with serve_in_thread(
        scripted(EHLO=ehlo, HELP=b"214 HELP\r\n", NOOP=b"250-ok\r\n251 mixed\r\n")
    ) as server:
        run = run_cli(capsys, "probe", server.target, "--timeout", "5")
    assert not re.search(r"\b1 (extensions|commands|deviations)\b", run.out), run.out
    assert "1 extension:" in run.out and "1 command:" in run.out


# -- outsiders ----------------------------------------------------------------------------------


def test_source_binds_the_local_address_and_notes_trust(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with serve_in_thread(scripted()) as server:
        _code, doc = probe_json(capsys, server.target, "--source", "127.0.0.2")
    connection = doc["findings"]["connection"]
    assert connection["source"].startswith("127.0.0.2:")
    assert "trusted-source" in [n["reason"] for n in connection["notes"]]
    assert "--source" in connection["advice"]


def test_source_must_be_an_address(capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "probe", "127.0.0.1:25", "--source", "not-an-ip")
    assert run.code == 3 and "--source" in run.err


def test_all_addresses_reads_etc_hosts_like_a_plain_probe(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with serve_in_thread(scripted()) as server:
        code, _doc = probe_json(capsys, f"localhost:{server.port}", "--all-addresses", "-4")
    assert code in (0, 1)


def _free_loopback(port: int) -> str:
    """A loopback address (127.0.0.0/8: any of them) where *port* is free here."""
    for last in range(3, 60):
        address = f"127.0.0.{last}"
        try:
            socket.create_server((address, port)).close()
        except OSError:
            continue
        return address
    missing(f"port {port} is taken on every loopback address tried")


def test_no_starttls_on_the_submission_port_is_a_warning(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Port 587 is where a reviewer expects TLS: plain text there is a WARNING."""
    address = _free_loopback(587)
    with serve_in_thread(scripted(), address=(address, 587)) as server:
        code, doc = probe_json(capsys, server.target)
        strict, strict_doc = probe_json(capsys, server.target, "--require-starttls")
    assert doc["findings"]["starttls"]["reason"] == "not-offered"
    assert doc["findings"]["starttls"]["status"] == "warning" and code == 1
    assert strict == 2 and strict_doc["findings"]["require-starttls"]["status"] == "critical"


# -- Ctrl-C ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_ctrl_c_prints_what_was_learned(tmp_path: Path) -> None:
    """SIGINT mid-session: the partial report, complete false, exit 3, no 'deadline' lie."""

    async def slow_help(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await converse(reader, writer, replies={b"HELP": b""})

    with serve_in_thread(slow_help) as server:
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "NO_COLOR": "1"}
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "smtpprobe",
                "probe",
                server.target,
                "--format",
                "json",
                "-v",
                "--timeout",
                "20",
                "--command-timeout",
                "20",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        deadline = time.monotonic() + 20
        while b"HELP" not in b" ".join(server.commands) and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 3, err
    import json

    doc = json.loads(out)
    assert doc["complete"] is False and doc["error"]["kind"] == "interrupted"
    assert [e["phase"] for e in doc["exchanges"]][:2] == ["banner", "EHLO"]
    assert "deadline" not in err
