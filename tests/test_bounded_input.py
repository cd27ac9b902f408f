"""Bounded time and memory on any input: endless lines, endless continuations, endless
wordings, a backtracking ``--expect-banner``.

Wall-clock bounds here are generous (a loaded 2-core machine); each names what it was
before the fix, so a regression is far outside them.
"""

from __future__ import annotations

import functools
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smtpprobe.kb import load
from smtpprobe.lines import InputTooLong, bounded_lines, bounded_read
from smtpprobe.logscan import MAX_ENTRY_CHARS, Found, LogScanner
from smtpprobe.views.annotate_view import Annotator
from tests import hostile
from tests.cli import set_plain_english
from tests.hostile import run_cli, serve_in_thread

BOUNCE = (
    "Nov 28 mx postfix/smtp[1]: A1: to=<bob@example.com>, relay=x, dsn=5.1.1, "
    "status=bounced (host mx[192.0.2.1] said: 550 5.1.1 no such user "
    "(in reply to RCPT TO command))\n"
)


def _smtpprobe(
    *argv: str, stdin: object = subprocess.DEVNULL, timeout: float = 60, memory: int = 512 << 20
) -> subprocess.CompletedProcess[str]:
    """``smtpprobe ARGV`` in a child limited to *memory* bytes of address space."""
    return subprocess.run(
        _limited(memory, *argv),
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "LANG": "C.UTF-8", "NO_COLOR": "1"},
    )


def _limited(memory: int, *argv: str) -> list[str]:
    """The command line of ``smtpprobe ARGV`` that first sets its own RLIMIT_AS (no
    preexec_fn: the test process has server threads)."""
    code = (
        "import resource, runpy, sys; "
        f"resource.setrlimit(resource.RLIMIT_AS, ({memory}, {memory})); "
        f"sys.argv = ['smtpprobe', *{list(argv)!r}]; "
        "runpy.run_module('smtpprobe', run_name='__main__')"
    )
    return [sys.executable, "-c", code]


# -- reading lines ---------------------------------------------------------------------------


@pytest.mark.slow
@given(st.lists(st.text(alphabet="ab \t\r", max_size=30), max_size=20), st.integers(1, 20))
def test_bounded_lines_are_the_lines_with_long_ones_blanked(parts: list[str], limit: int) -> None:
    text = "\n".join(parts)
    skipped: list[int] = []
    got = list(bounded_lines(io.StringIO(text), limit, skipped.append))
    expected = io.StringIO(text).readlines()
    assert len(got) == len(expected)
    for number, (line, want) in enumerate(zip(got, expected, strict=True), 1):
        too_long = len(want) > limit + 1 or (len(want) == limit + 1 and not want.endswith("\n"))
        assert line == ("" if too_long else want)
        assert (number in skipped) == too_long


def test_bounded_read_refuses_more_than_its_limit() -> None:
    assert bounded_read(io.StringIO("x" * 10), 10) == "x" * 10
    with pytest.raises(InputTooLong):
        bounded_read(io.StringIO("x" * 11), 10)


# -- logscan ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_many_continuation_lines_are_linear_and_capped() -> None:
    # Before: 50k continuation lines took 20 s (quadratic joining), 100k never finished.
    lines = [BOUNCE] + [f"    continued text {n}\n" for n in range(200_000)] + [BOUNCE]
    began = time.perf_counter()
    found = list(LogScanner().scan(lines))
    assert time.perf_counter() - began < 15
    assert [f.code for f in found] == [550, 550]
    assert found[1].line == len(lines)
    assert len(found[0].text) <= MAX_ENTRY_CHARS


@pytest.mark.slow
def test_annotate_many_continuation_lines(tmp_path: Path) -> None:
    log = tmp_path / "bounce.log"
    log.write_text(BOUNCE + "    more\n" * 100_000 + BOUNCE, encoding="utf-8")
    began = time.perf_counter()
    result = _smtpprobe("annotate", str(log), "--format", "json")
    assert time.perf_counter() - began < 30
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.splitlines()[-1])
    assert summary["found"] == 2 and summary["lines"] == 100_002


# -- input without newlines ------------------------------------------------------------------


@pytest.mark.slow
def test_annotate_skips_an_over_long_line_and_reads_on(tmp_path: Path) -> None:
    log = tmp_path / "zeros.log"
    with log.open("wb") as handle:
        handle.write(b"\0" * (3 << 20) + b"\n")
        handle.write(BOUNCE.encode())
    result = _smtpprobe("annotate", str(log), "--format", "json", memory=256 << 20)
    assert result.returncode == 0, result.stderr
    assert "line 1 is longer than 65536 characters: skipped" in result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records[0]["line"] == 2 and records[0]["code"] == 550
    assert records[-1]["skipped_lines"] == 1


@pytest.mark.slow
def test_annotate_dev_zero_stays_small() -> None:
    # Before: memory grew without limit (4-5 GB) until the kernel said no.
    process = subprocess.Popen(
        _limited(256 << 20, "annotate", "/dev/zero"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "LANG": "C.UTF-8"},
    )
    try:
        time.sleep(3)
        assert process.poll() is None, process.communicate()  # still reading, not dead
    finally:
        process.kill()
        _out, err = process.communicate(timeout=30)
    assert "line 1 is longer than 65536 characters: skipped" in err
    assert "MemoryError" not in err and "internal error" not in err


@pytest.mark.slow
def test_explain_stdin_without_end_is_a_usage_error() -> None:
    with open("/dev/zero", "rb") as zero:
        result = _smtpprobe("explain", "-", stdin=zero, memory=256 << 20)
    assert result.returncode == 3
    assert "longer than 1048576 characters" in result.stderr
    assert "internal error" not in result.stderr


@pytest.mark.slow
def test_targets_dev_zero_is_a_usage_error() -> None:
    result = _smtpprobe("probe", "--targets", "/dev/zero", memory=256 << 20)
    assert result.returncode == 3
    assert "--targets line 1 is longer than 4096 characters" in result.stderr


# -- a transcript reply over the parser's caps -----------------------------------------------


def test_annotate_reports_a_reply_over_the_caps_and_goes_on(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    set_plain_english(monkeypatch)
    log = tmp_path / "session.txt"
    log.write_text(
        "S: 220 hi\nC: EHLO x\nS: 250-" + "9" * 9000 + "\nS: 250 OK\nC: VRFY bob\nS: 252 maybe\n",
        encoding="utf-8",
    )
    run = run_cli(capsys, "annotate", str(log), "--format", "json")
    assert run.code == 0 and "internal error" not in run.err
    records = [json.loads(line) for line in run.out.splitlines()]
    assert [r.get("code") for r in records[:-1]] == [220, 250, 252]
    assert records[1]["command"] == "EHLO" and records[2]["command"] == "VRFY"


# -- the annotator's caches ------------------------------------------------------------------


@pytest.mark.slow
def test_annotator_caches_stay_bounded() -> None:
    annotator = Annotator(load("en"), size=64)
    letters = "bcdfghjklmnpqrstvwxz"
    for n in range(2_000):
        word = "".join(letters[(n // 20**k) % 20] for k in range(4))
        annotator.read(Found(n, "postfix", 550, "5.1.1", f"550 5.1.1 {word} unknown", "RCPT"))
    assert len(annotator._by_key) <= 64 and len(annotator._by_shape) <= 64


def test_digit_free_ids_share_one_reading() -> None:
    annotator = Annotator(load("en"))
    ids = ("qXbTzKpLmWnRvSaB", "HgFdSaPoIuYtReWq", "zYxWvUtSrQpOnMlK")
    readings = {
        id(
            annotator.read(
                Found(
                    1, "postfix", 421, "4.7.28", f"421-4.7.28 unusual rate {i} - gsmtp", "DATA_END"
                )
            )
        )
        for i in ids
    }
    assert len(readings) == 1


@pytest.mark.slow
def test_annotate_of_many_distinct_ids_is_fast_and_small(tmp_path: Path) -> None:
    # Before: 300k such lines took 31-39 s and 554-641 MB; after: ~5 s and ~22 MB.
    import random

    rng = random.Random(7)
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    log = tmp_path / "ids.log"
    with log.open("w", encoding="utf-8") as handle:
        for _ in range(60_000):
            rid = "".join(rng.choice(letters) for _ in range(16))
            handle.write(
                "Nov 28 mx postfix/smtp[1]: A: to=<a@b>, relay=x, dsn=4.7.28, "
                "status=deferred (host gmail-smtp-in.l.google.com[192.0.2.1] said: "
                f"421-4.7.28 unusual rate {rid} - gsmtp (in reply to end of DATA "
                "command))\n"
            )
    began = time.perf_counter()
    result = _smtpprobe("annotate", str(log), "--format", "json", memory=384 << 20)
    assert time.perf_counter() - began < 40
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1])["found"] == 60_000


# -- --expect-banner -------------------------------------------------------------------------


@pytest.mark.slow
def test_a_backtracking_expect_banner_is_unknown_in_time(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: 28 s past a 5 s deadline, then an answer.
    set_plain_english(monkeypatch)
    banner = b"220 " + b"a" * 40 + b"!\r\n"
    script = functools.partial(hostile.converse, banner=banner)
    with serve_in_thread(script) as server:
        run = run_cli(
            capsys,
            "probe",
            server.target,
            "--tls",
            "none",
            "--timeout",
            "5",
            "--only",
            "noop",
            "--expect-banner",
            "^220 (a+)+$",
            "--format",
            "json",
        )
    assert run.elapsed < 20
    assert run.code == 3
    finding = json.loads(run.out)["findings"]["expect-banner"]
    assert finding["status"] == "unknown" and finding["matched"] is None


def test_a_plain_expect_banner_still_matches(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    set_plain_english(monkeypatch)
    with serve_in_thread(hostile.converse) as server:
        run = run_cli(
            capsys,
            "probe",
            server.target,
            "--tls",
            "none",
            "--timeout",
            "5",
            "--only",
            "noop",
            "--expect-banner",
            r"^220 mx\.hostile",
            "--format",
            "json",
        )
    finding = json.loads(run.out)["findings"]["expect-banner"]
    assert finding["status"] == "ok" and finding["matched"] is True
