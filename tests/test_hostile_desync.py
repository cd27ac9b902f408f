"""Replies out of step with commands never yield a verdict; control names cannot be singled out.

A scripted server (`stray_server`) answers like a disclosing or a hiding server and sends
one stray reply after the reply to a chosen command, at once or later in a TCP segment
of its own. Read as the next command's answer, the stray would flip the VRFY verdict
either way; the probe must see the desync (a code the command cannot get, bytes waiting
before a command, QUIT not answered 221, bytes left unread) and say ``inconclusive``.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hostile import BANNER, CliRun, Script, read_command, run_cli, serve_in_thread

_EHLO = b"250-mx.hostile.test\r\n250-ENHANCEDSTATUSCODES\r\n250 HELP\r\n"
# The commands of a default probe (--tls none), in order: where a stray can follow.
DEFAULT_ORDER = (
    "banner",
    "EHLO",
    "HELP",
    "HELP VRFY",
    "VRFY real",
    "VRFY control",
    "EXPN real",
    "EXPN control",
    "NOOP",
    "RSET",
    "QUIT",
)


@dataclass(frozen=True)
class Plan:
    """How the server answers and where its one stray reply goes.

    ``after``: the index (in the order commands arrive, 0 for the greeting) of the reply
    the stray follows; -1 for no stray. ``delay``: seconds between that reply and the
    stray (0: the same write). ``known``: the names the server says exist (252).
    """

    disclosing: bool = True
    after: int = -1
    delay: float = 0.1
    stray: bytes = b"252 2.0.0 stray\r\n"
    known: re.Pattern[str] = re.compile(r"postmaster(@.*)?", re.IGNORECASE)
    vrfy_unknown: bytes = b"550 5.1.1 User unknown\r\n"
    quit_delay: float = 0.0  # a slow 221 (a tarpit after errors, as Postfix does)


# With --rcpt-check: MAIL, RCPT for each name and RSET come before QUIT.
RCPT_ORDER = (*DEFAULT_ORDER[:-1], "MAIL", "RCPT real", "RCPT control", "RSET", "QUIT")


def _answer(plan: Plan, command: bytes) -> bytes:
    verb, _, argument = command.partition(b" ")
    verb = verb.upper()
    name = argument.decode("latin-1").partition(":")[2 if verb == b"RCPT" else 0].strip("<>")
    exists = not plan.disclosing or plan.known.fullmatch(name) is not None
    if verb == b"VRFY":
        return (
            b"252 2.0.0 Cannot VRFY user, but will accept message\r\n"
            if exists
            else (plan.vrfy_unknown)
        )
    if verb == b"RCPT":
        return b"250 2.1.5 OK\r\n" if exists else b"550 5.1.1 User unknown\r\n"
    return {
        b"EHLO": _EHLO,
        b"HELO": b"250 mx.hostile.test\r\n",
        b"HELP": b"214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY\r\n",
        b"EXPN": b"502 5.5.1 EXPN not implemented\r\n",
        b"QUIT": b"221 2.0.0 Bye\r\n",
    }.get(verb, b"250 2.0.0 OK\r\n")


def stray_server(plan: Plan) -> Script:
    """A disclosing or hiding server that sends ``plan.stray`` after reply ``plan.after``."""

    async def stray_after(index: int, writer: asyncio.StreamWriter, reply: bytes) -> None:
        if index != plan.after:
            writer.write(reply)
        elif plan.delay == 0:
            writer.write(reply + plan.stray)
        else:
            writer.write(reply)
            await writer.drain()
            await asyncio.sleep(plan.delay)  # a TCP segment of its own, once the probe moved on
            writer.write(plan.stray)
        await writer.drain()

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await stray_after(0, writer, BANNER)
        index = 1
        while (command := await read_command(reader)) is not None:
            if command.upper() == b"QUIT":
                await asyncio.sleep(plan.quit_delay)
            await stray_after(index, writer, _answer(plan, command))
            index += 1
            if command.upper() == b"QUIT":
                await asyncio.sleep(0.05)
                return

    return script


def probe(capsys: pytest.CaptureFixture[str], plan: Plan, *extra: str) -> CliRun:
    with serve_in_thread(stray_server(plan)) as server:
        run = run_cli(
            capsys,
            "probe",
            server.target,
            "--tls",
            "none",
            "--timeout",
            "5",
            "--format",
            "json",
            *extra,
        )
    assert "Traceback" not in run.err and "internal error" not in run.err, run.err
    return run


def desync_item(run: CliRun) -> dict[str, object]:
    (item,) = [
        i for i in run.json()["findings"]["deviations"]["items"] if i["kind"] == "desynchronised"
    ]
    return item


def assert_no_verdict(run: CliRun, reason: str | None = None) -> None:
    """Desynchronised: WARNING deviation, VRFY inconclusive, never OK under --expect-vrfy."""
    doc = run.json()
    assert doc["desynchronised"] is True
    assert doc["findings"]["deviations"]["status"] == "warning"
    vrfy = doc["findings"]["vrfy"]
    assert vrfy["verdict"] == "inconclusive"
    assert {p["reason"] for p in vrfy["pairs"]} == {"desynchronised"}
    assert doc["findings"]["expect-vrfy"]["status"] == "unknown"
    assert run.code != 0 and doc["status"] != "ok"
    if reason is not None:
        assert desync_item(run)["reason"] == reason


# -- the attacks of issue 11 ------------------------------------------------------------------


@pytest.mark.slow
def test_a_clean_session_is_in_step_and_judged(capsys: pytest.CaptureFixture[str]) -> None:
    for disclosing, verdict in ((True, "disclosing"), (False, "hidden")):
        run = probe(capsys, Plan(disclosing=disclosing), "--expect-vrfy", "not-disclosing")
        doc = run.json()
        assert doc["desynchronised"] is False and doc["findings"]["vrfy"]["verdict"] == verdict
        assert run.code == (2 if disclosing else 0)


@pytest.mark.slow
def test_a_late_stray_252_does_not_make_a_disclosing_server_hidden(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """100 ms after VRFY's 252 for the real name: read as the control's answer it says
    "hidden", and --expect-vrfy not-disclosing would pass."""
    run = probe(
        capsys, Plan(after=DEFAULT_ORDER.index("VRFY real")), "--expect-vrfy", "not-disclosing"
    )
    assert_no_verdict(run)
    codes = [e["reply"]["code"] for e in run.json()["exchanges"] if e["reply"]]
    assert codes[DEFAULT_ORDER.index("VRFY control")] == 252  # the stray was read there


@pytest.mark.slow
def test_a_late_stray_550_after_ehlo_does_not_make_a_hiding_server_disclosing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for extra in ((), ("--only", "vrfy", "--only", "quit")):
        run = probe(
            capsys,
            Plan(disclosing=False, after=DEFAULT_ORDER.index("EHLO"), stray=b"550 5.1.1 stray\r\n"),
            "--expect-vrfy",
            "not-disclosing",
            *extra,
        )
        assert_no_verdict(run)
        assert run.json()["findings"]["vrfy"]["verdict"] != "disclosing"


@pytest.mark.slow
def test_quit_answered_250_is_a_desync_and_the_real_221_is_left_over(
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = probe(
        capsys,
        Plan(after=DEFAULT_ORDER.index("RSET"), stray=b"250 2.0.0 stray\r\n"),
        "--expect-vrfy",
        "not-disclosing",
    )
    doc = run.json()
    quit_reply = doc["exchanges"][DEFAULT_ORDER.index("QUIT")]["reply"]
    assert quit_reply["code"] in (221, 250)
    assert_no_verdict(run)
    expected = (
        {"unsolicited-bytes"} if quit_reply["code"] == 221 else {"unexpected-code", "quit-reply"}
    )
    assert desync_item(run)["reason"] in expected


@pytest.mark.slow
def test_a_code_noop_cannot_get_marks_the_session(capsys: pytest.CaptureFixture[str]) -> None:
    """EXPN's 502 shifted onto NOOP (RFC 5321 §4.3.2: NOOP gets 250)."""
    run = probe(
        capsys,
        Plan(after=DEFAULT_ORDER.index("EXPN control"), delay=0.1, stray=b"502 5.5.1 stray\r\n"),
        "--expect-vrfy",
        "not-disclosing",
    )
    assert_no_verdict(run)
    assert desync_item(run)["reason"] in ("unexpected-code", "unsolicited-bytes")


def test_bytes_after_221_are_left_over(capsys: pytest.CaptureFixture[str]) -> None:
    run = probe(
        capsys,
        Plan(after=DEFAULT_ORDER.index("QUIT"), delay=0, stray=b"250 2.0.0 one more\r\n"),
        "--expect-vrfy",
        "not-disclosing",
    )
    assert_no_verdict(run, "leftover-bytes")
    assert desync_item(run)["bytes"] == "250 2.0.0 one more\r\n"


@pytest.mark.slow
def test_a_221_later_than_the_probe_waits_is_no_desync(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """QUIT is waited on for 1 s; a 221 after that is QUIT's own, not a stray's."""
    run = probe(capsys, Plan(quit_delay=1.1), "--expect-vrfy", "not-disclosing")
    doc = run.json()
    assert doc["exchanges"][-1]["reply"] is None and doc["desynchronised"] is False
    assert doc["findings"]["vrfy"]["verdict"] == "disclosing"


def test_a_vrfy_code_vrfy_cannot_get_makes_the_pair_inconclusive(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """571 (old Exchange) is no answer VRFY can get: codes that differ because of it
    disclose nothing, and a refusal it is, not a shift."""
    run = probe(
        capsys,
        Plan(vrfy_unknown=b"571 5.7.1 Delivery not authorized\r\n"),
        "--expect-vrfy",
        "not-disclosing",
    )
    doc = run.json()
    vrfy = doc["findings"]["vrfy"]
    assert vrfy["verdict"] == "inconclusive"
    assert {p["reason"] for p in vrfy["pairs"]} == {"unexpected-code"}
    assert doc["desynchronised"] is False
    assert doc["findings"]["expect-vrfy"]["status"] == "unknown" and run.code != 0


# -- control names ----------------------------------------------------------------------------


@pytest.mark.slow
def test_a_server_that_fingerprints_old_control_names_is_still_caught(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """It answers 252 to postmaster and to smtpprobe-<hex>, 550 to every other unknown."""
    plan = Plan(known=re.compile(r"(postmaster|smtpprobe-[0-9a-f]{12})(@.*)?", re.IGNORECASE))
    controls = set()
    for _ in range(3):
        doc = probe(capsys, plan).json()
        assert doc["findings"]["vrfy"]["verdict"] == "disclosing"
        control = doc["control_address"]
        assert re.fullmatch(r"[a-z]+[._-]?[a-z]+[0-9]{0,2}", control), control
        assert doc["findings"]["vrfy"]["pairs"][0]["control"] == control
        controls.add(control)
    assert len(controls) == 3


def test_control_name_from_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    doc = probe(capsys, Plan(), "--control", "jane.doe42").json()
    assert doc["control_address"] == "jane.doe42"
    assert "VRFY jane.doe42" in [e["command"] for e in doc["exchanges"]]
    assert doc["findings"]["vrfy"]["pairs"][0]["control"] == "jane.doe42"


def test_a_bad_control_name_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "probe", "127.0.0.1:1", "--control", "two words")
    assert run.code == 3 and "control" in run.err and "Traceback" not in run.err


# -- any stray, anywhere, at any time ---------------------------------------------------------

_STRAYS = (
    b"252 2.0.0 stray\r\n",
    b"550 5.1.1 stray\r\n",
    b"250 2.0.0 stray\r\n",
    b"502 5.5.1 stray\r\n",
    b"221 2.0.0 stray\r\n",
    b"214 stray\r\n",
    b"252-2.0.0 two\r\n252 2.0.0 lines\r\n",
)


@pytest.mark.slow
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    disclosing=st.booleans(),
    after=st.integers(0, len(RCPT_ORDER) - 1),
    delay=st.sampled_from((0.0, 0.03, 0.1)),
    stray=st.sampled_from(_STRAYS),
)
def test_no_stray_reply_flips_the_verdict(
    capsys: pytest.CaptureFixture[str],
    disclosing: bool,
    after: int,
    delay: float,
    stray: bytes,
) -> None:
    """Whatever the stray and wherever it lands, the verdict is the server's true one or
    inconclusive; a session judged without a desync was judged on its own replies."""
    run = probe(
        capsys,
        Plan(disclosing=disclosing, after=after, delay=delay, stray=stray),
        "--expect-vrfy",
        "not-disclosing",
        "--expect-rcpt",
        "not-disclosing",
        "--rcpt-check",
    )
    doc = run.json()
    truths = {
        "vrfy": "disclosing" if disclosing else "hidden",
        "expn": "disabled",
        "rcpt": "disclosing" if disclosing else "hidden",
    }
    for check, truth in truths.items():
        verdict = doc["findings"][check]["verdict"]
        assert verdict in (truth, "inconclusive"), (check, verdict, doc["exchanges"])
        if verdict == "inconclusive":
            assert doc["desynchronised"] and run.code != 0
    if disclosing:
        assert run.code != 0  # never a false OK for --expect-* not-disclosing


async def _two_answers_to_auth(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """235 to AUTH, and 100 ms later a 535: one of them answers nothing."""
    writer.write(b"220 mx.hostile.test ESMTP\r\n")
    while (command := await read_command(reader)) is not None:
        verb = command.split(b" ")[0].upper()
        if verb == b"EHLO":
            writer.write(b"250-mx.hostile.test\r\n250 AUTH PLAIN\r\n")
        elif verb == b"AUTH":
            writer.write(b"235 2.7.0 Authentication successful\r\n")
            await writer.drain()
            await asyncio.sleep(0.1)
            writer.write(b"535 5.7.8 Authentication credentials invalid\r\n")
        elif verb == b"QUIT":
            writer.write(b"221 bye\r\n")
            return
        else:
            writer.write(b"250 OK\r\n")
        await writer.drain()


def test_a_stray_235_never_says_logged_in(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The AUTH finding, like the verdicts, gives no answer from a session out of step."""
    monkeypatch.setenv("SMTPPROBE_TEST_PASSWORD", "not-the-password")
    with serve_in_thread(_two_answers_to_auth) as server:
        run = run_cli(
            capsys,
            "probe",
            server.target,
            "--tls",
            "none",
            "--auth-user",
            "alice",
            "--auth-password-env",
            "SMTPPROBE_TEST_PASSWORD",
            "--allow-plaintext-auth",
            "--format",
            "json",
        )
    auth = run.json()["findings"]["auth"]
    assert auth["reason"] == "desynchronised" and auth["status"] == "unknown"
    assert run.json()["desynchronised"] is True
