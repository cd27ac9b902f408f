"""Slow, silent and flooding servers: every probe ends by its deadline and keeps what it learned.

Each case runs the real CLI (``smtpprobe probe … --timeout 1.5``) against a hostile server
from `tests.hostile` and checks the exit code, the phase the session stopped in, the
evidence kept from before, and the wall time (deadline + `SLACK`).
"""

from __future__ import annotations

import pytest

from tests import hostile
from tests.hostile import Script, run_cli, serve_in_thread

DEADLINE = 1.5
# Start-up inside main() (KB load, rendering) and the bounded socket clean-up after it.
SLACK = 1.0


def probe_json(capsys: pytest.CaptureFixture[str], script: Script, *extra: str) -> hostile.CliRun:
    with serve_in_thread(script) as server:
        run = run_cli(
            capsys,
            "probe",
            server.target,
            "--tls",
            "none",
            "--timeout",
            str(DEADLINE),
            "--format",
            "json",
            *extra,
        )
    assert run.elapsed < DEADLINE + SLACK, f"took {run.elapsed:.2f} s"
    assert "Traceback" not in run.err
    return run


@pytest.mark.slow
def test_silent_server_ends_at_the_deadline_in_the_banner_phase(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with serve_in_thread(hostile.silent) as server:
        run = run_cli(capsys, "probe", server.target, "--tls", "none", "--timeout", str(DEADLINE))
    assert DEADLINE - 0.1 < run.elapsed < DEADLINE + SLACK  # it waited, and no longer
    assert run.code == 2 and run.err == ""
    text = " ".join(run.out.split())
    assert "the session deadline of 1.5 s ran out" in text
    assert "the server sent nothing at all" in text and "--tls implicit" in text
    assert "Status: CRITICAL (exit code 2)" in text


@pytest.mark.slow
def test_dripping_banner_cannot_stretch_the_deadline(capsys: pytest.CaptureFixture[str]) -> None:
    """A tarpit sending one byte every 0.2 s: each byte would reset a per-read timeout."""
    run = probe_json(capsys, hostile.drip_banner(0.2))
    doc = run.json()
    assert run.code == 2 and doc["status"] == "critical" and not doc["complete"]
    assert doc["error"]["phase"] == "banner" and doc["error"]["kind"] == "timeout"
    assert doc["findings"]["connection"]["status"] == "critical"
    (banner,) = doc["exchanges"]
    assert banner["reply"] is None
    assert banner["error"]["kind"] == "timeout"
    assert banner["error"]["partial"].startswith("220 mx")  # the bytes that did come


@pytest.mark.slow
def test_endless_slow_multiline_reply_ends_at_the_deadline_with_the_banner_kept(
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = probe_json(capsys, hostile.endless_multiline(0.05))
    doc = run.json()
    assert run.code == 2 and doc["error"]["kind"] == "timeout" and doc["error"]["phase"] == "EHLO"
    banner, ehlo = doc["exchanges"]
    assert banner["reply"]["code"] == 220 and doc["findings"]["banner"]["status"] == "ok"
    assert ehlo["reply"] is None
    assert ehlo["error"]["partial"].startswith("250-line 0 of a reply that never ends\r\n")


def test_flooding_multiline_reply_stops_at_the_reply_cap(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """32 KiB of ``250-`` lines is more than any reply may be: stop reading, do not buffer."""
    run = probe_json(capsys, hostile.endless_multiline())
    doc = run.json()
    assert run.code == 2 and doc["error"]["kind"] == "malformed-reply"
    assert doc["error"]["phase"] == "EHLO" and "32768" in doc["error"]["message"]
    assert run.elapsed < DEADLINE  # the cap, not the deadline, ended it
    assert doc["exchanges"][0]["reply"]["code"] == 220


def test_megabyte_line_stops_at_the_line_cap_and_the_evidence_stays_small(
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = probe_json(capsys, hostile.megabyte_line)
    doc = run.json()
    assert run.code == 2 and doc["error"]["kind"] == "malformed-reply"
    assert doc["error"]["phase"] == "EHLO" and "8192" in doc["error"]["message"]
    partial = doc["exchanges"][1]["error"]["partial"]
    assert partial.startswith("250 AAAA") and len(partial) <= 1024
    assert len(run.out) < 64 * 1024


def test_megabyte_line_in_the_text_view_does_not_flood_the_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with serve_in_thread(hostile.megabyte_line) as server:
        run = run_cli(capsys, "probe", server.target, "--tls", "none", "--timeout", str(DEADLINE))
    assert run.code == 2
    assert "8192" in run.out and len(run.out) < 16 * 1024


@pytest.mark.slow
def test_server_that_stops_mid_reply_ends_at_the_deadline_with_the_partial_reply(
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = probe_json(capsys, hostile.stop_mid_reply)
    doc = run.json()
    assert run.code == 2 and doc["error"]["phase"] == "EHLO"
    assert doc["error"]["kind"] == "timeout"
    ehlo = doc["exchanges"][1]
    assert ehlo["error"]["partial"] == "250-mx.hostile.test greets you\r\n250-PIPEL"
    assert "EHLO" in doc["findings"]["connection"]["summary"]


@pytest.mark.slow
def test_tls_handshake_that_never_completes_ends_at_the_deadline(
    capsys: pytest.CaptureFixture[str],
    cafile: str,
) -> None:
    with serve_in_thread(hostile.stall_after_starttls) as server:
        run = run_cli(
            capsys,
            "probe",
            server.target,
            "--tls",
            "starttls",
            "--cafile",
            cafile,
            "--timeout",
            str(DEADLINE),
            "--format",
            "json",
        )
    assert run.elapsed < DEADLINE + SLACK
    doc = run.json()
    assert run.code == 2 and doc["error"]["kind"] == "timeout" and doc["error"]["phase"] == "tls"
    assert [e["phase"] for e in doc["exchanges"]] == ["banner", "EHLO", "STARTTLS"]


@pytest.mark.slow
def test_implicit_tls_to_a_silent_server_ends_at_the_deadline_in_the_tls_phase(
    capsys: pytest.CaptureFixture[str],
    cafile: str,
) -> None:
    with serve_in_thread(hostile.silent) as server:
        run = run_cli(
            capsys,
            "probe",
            server.target,
            "--tls",
            "implicit",
            "--cafile",
            cafile,
            "--timeout",
            str(DEADLINE),
            "--format",
            "json",
        )
    assert run.elapsed < DEADLINE + SLACK
    doc = run.json()
    assert run.code == 2 and doc["error"]["kind"] == "timeout" and doc["error"]["phase"] == "tls"
