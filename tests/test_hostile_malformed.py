"""Servers that do not speak SMTP correctly, or hang up: flagged or named, never a traceback.

Recoverable deviations (bare LF, mixed codes, bad UTF-8, NUL, a code out of range) become
reply defects in the ``deviations`` finding and the session goes on; lines that are not
replies at all end the session with a finding that says the server does not speak SMTP
correctly; a hang-up is a finding naming the phase it happened in.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests import hostile
from tests.hostile import CliRun, Script, run_cli, serve_in_thread

DEADLINE = "3"


def probe(capsys: pytest.CaptureFixture[str], script: Script, *extra: str) -> CliRun:
    with serve_in_thread(script) as server:
        run = run_cli(capsys, "probe", server.target, "--timeout", DEADLINE, *extra)
    assert "Traceback" not in run.err and "internal error" not in run.err
    return run


def probe_json(capsys: pytest.CaptureFixture[str], script: Script, *extra: str) -> Any:
    run = probe(capsys, script, "--tls", "none", "--format", "json", *extra)
    doc = run.json()
    assert run.code == {"ok": 0, "warning": 1, "critical": 2}[doc["status"]]
    return doc


def deviation_kinds(doc: Any) -> set[str]:
    return {item["kind"] for item in doc["findings"]["deviations"]["items"]}


def flat(text: str) -> str:
    """Text with wrapping undone, for phrases a table cell may have broken across lines."""
    return " ".join(text.split())


# -- not a reply at all ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [b"2l4", b"25", b"", b"SSH-2.0-OpenSSH_9.6"],
    ids=["letter-in-code", "two-digits", "no-code", "not-smtp"],
)
def test_a_greeting_that_is_no_reply_says_the_server_does_not_speak_smtp(
    capsys: pytest.CaptureFixture[str], code: bytes
) -> None:
    doc = probe_json(capsys, hostile.garbage(code))
    assert doc["status"] == "critical"
    assert doc["error"]["kind"] == "malformed-reply" and doc["error"]["phase"] == "banner"
    assert doc["findings"]["connection"]["status"] == "critical"
    deviations = doc["findings"]["deviations"]
    assert deviations["status"] == "warning" and "malformed-reply" in deviation_kinds(doc)
    (item,) = [i for i in deviations["items"] if i["kind"] == "malformed-reply"]
    assert item["phase"] == "banner" and item["bytes"].startswith(code.decode() + " garbage")
    assert "does not speak SMTP correctly" in deviations["summary"]


def test_the_text_view_says_the_server_does_not_speak_smtp(
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = probe(capsys, hostile.garbage(b"2l4"), "--tls", "none")
    assert run.code == 2
    text = flat(run.out)
    assert "does not speak SMTP correctly" in text
    assert "2l4 garbage from mx.hostile.test" in text  # the evidence, shown


def test_a_malformed_ehlo_reply_keeps_the_banner_and_names_the_phase(
    capsys: pytest.CaptureFixture[str],
) -> None:
    doc = probe_json(capsys, hostile.garbage(b"2l4", at="EHLO"))
    assert doc["error"]["kind"] == "malformed-reply" and doc["error"]["phase"] == "EHLO"
    assert doc["exchanges"][0]["reply"]["code"] == 220
    assert doc["findings"]["banner"]["status"] == "ok"
    assert "EHLO" in doc["findings"]["connection"]["summary"]


# -- recoverable: flagged, and the session goes on ---------------------------------------------


def test_a_code_out_of_range_is_flagged_and_the_greeting_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    doc = probe_json(capsys, hostile.garbage(b"999"))
    banner = doc["exchanges"][0]
    assert banner["reply"]["code"] == 999 and banner["reply"]["defects"] == ["code-out-of-range"]
    assert doc["findings"]["banner"]["status"] == "critical"
    assert "code-out-of-range" in deviation_kinds(doc)
    assert doc["exchanges"][-1]["command"] == "QUIT"  # RFC 5321 §3.1, still polite


@pytest.mark.parametrize(
    ("script", "defect", "phases"),
    [
        pytest.param(hostile.mixed_codes, "mixed-codes", {"EHLO"}, id="mixed-codes"),
        pytest.param(
            hostile.bare_lf,
            "bare-lf",
            {"banner", "EHLO", "HELP", "VRFY", "EXPN", "NOOP", "RSET", "QUIT"},
            id="bare-lf",
        ),
        pytest.param(hostile.invalid_utf8, "non-utf8", {"banner", "VRFY"}, id="invalid-utf8"),
        pytest.param(hostile.nul_bytes, "nul-byte", {"banner", "HELP"}, id="nul-bytes"),
    ],
)
def test_recoverable_defects_are_flagged_on_the_replies_that_have_them(
    capsys: pytest.CaptureFixture[str], script: Script, defect: str, phases: set[str]
) -> None:
    doc = probe_json(capsys, script)
    assert doc["complete"] and doc["error"] is None
    flagged = {e["phase"] for e in doc["exchanges"] if defect in e["reply"]["defects"]}
    assert flagged == phases
    items = [i for i in doc["findings"]["deviations"]["items"] if i["kind"] == defect]
    assert {i["phase"] for i in items} == phases


def test_defects_are_explained_in_the_text_view_without_raw_bytes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = probe(capsys, hostile.nul_bytes, "--tls", "none")
    assert run.code == 0
    assert "\x00" not in run.out
    assert "mx.hostile.test\\x00ESMTP\\x00" in run.out
    assert "the text holds a NUL byte" in run.out


def test_invalid_utf8_is_shown_as_escapes(capsys: pytest.CaptureFixture[str]) -> None:
    run = probe(capsys, hostile.invalid_utf8, "--tls", "none")
    assert run.code == 0
    assert "caf\\xe9 \\xff\\xfe ESMTP" in run.out
    assert "the text is not valid UTF-8" in run.out


def test_an_extra_reply_is_discarded_so_later_replies_stay_in_step(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Read as HELP's answer, the extra reply would shift VRFY's answers and fake a leak.

    Discarded, it keeps later replies in step; but the reply read before it may itself
    have been the stray (a late one looks the same), so the session is desynchronised and
    gives no verdict.
    """
    doc = probe_json(capsys, hostile.extra_reply)
    replies = {e["command"]: e["reply"]["code"] for e in doc["exchanges"]}
    assert replies["HELP"] == 214 and replies["NOOP"] == 250 and replies["QUIT"] == 221
    assert doc["findings"]["vrfy"]["verdict"] == "inconclusive" and doc["desynchronised"]
    assert {p["reason"] for p in doc["findings"]["vrfy"]["pairs"]} == {"desynchronised"}
    (item,) = [
        i for i in doc["findings"]["deviations"]["items"] if i["kind"] == "unsolicited-bytes"
    ]
    (desync,) = [i for i in doc["findings"]["deviations"]["items"] if i["kind"] == "desynchronised"]
    assert desync["reason"] == "unsolicited-bytes" and desync["command"] == "HELP"
    assert item["command"] == "HELP"
    assert item["bytes"] == "250 2.1.5 an extra reply nobody asked for\r\n"
    assert doc["findings"]["deviations"]["status"] == "warning" and doc["status"] == "warning"


# -- hang-ups at each phase --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phase", "error_phase", "said"),
    [
        pytest.param("connect", "banner", "no usable greeting", id="before-banner"),
        pytest.param("banner", "EHLO", "in phase EHLO", id="after-banner"),
        pytest.param("EHLO", "EHLO", "in phase EHLO", id="mid-EHLO"),
        pytest.param("STARTTLS", "tls", "in phase tls", id="after-STARTTLS"),
        pytest.param("VRFY", "VRFY", "in phase VRFY", id="at-VRFY"),
    ],
)
def test_a_disconnect_is_a_finding_that_names_the_phase(
    capsys: pytest.CaptureFixture[str], phase: str, error_phase: str, said: str
) -> None:
    doc = probe_json(capsys, hostile.disconnect_after(phase), "--tls", "auto")
    assert not doc["complete"] and doc["error"]["phase"] == error_phase
    connection = doc["findings"]["connection"]
    assert connection["phase"] == error_phase and said in connection["summary"]
    # Everything before the hang-up is kept.
    assert [e["phase"] for e in doc["exchanges"]][:1] == ["banner"]
    if phase != "connect":
        assert doc["exchanges"][0]["reply"]["code"] == 220


def test_mid_ehlo_disconnect_keeps_the_partial_reply_in_the_text_view(
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = probe(capsys, hostile.disconnect_after("EHLO"), "--tls", "none")
    assert run.code == 2
    text = flat(run.out)
    assert "in phase EHLO: the server closed the connection in the middle of a reply" in text
    assert "250-mx.hostile.test greets you" in text
