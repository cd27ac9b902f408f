"""Fuzzing: whatever bytes a server sends, the probe returns a report and every view is safe.

Two levels. A hypothesis property feeds arbitrary bytes through the real parser into a
transcript and on through the interpreter and all three renderers (``test_interpret``
covers hand-built replies; here they come from the parser, with their raw bytes, partial
replies and parser errors). A live fuzz target then runs real probes over loopback against
servers sending seeded random bytes (`tests.hostile.random_bytes`), a bounded number of
runs in a bounded time. ``SMTPPROBE_FUZZ_SEED`` and ``SMTPPROBE_FUZZ_RUNS`` change the
seed and the number of runs (a failure names the seed that caused it).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import random
import re
import time
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from smtpprobe.commands._common import emit_json
from smtpprobe.errors import MalformedReplyError, ServerDisconnectedError, SMTPProbeError
from smtpprobe.interpret import CHECKS, interpret
from smtpprobe.kb import load
from smtpprobe.probe import probe
from smtpprobe.render.json_report import report_document
from smtpprobe.render.plain import to_plain
from smtpprobe.render.rich_view import to_rich
from smtpprobe.reply import Reply, ReplyParser
from smtpprobe.report import (
    STEPS,
    Exchange,
    ProbeOptions,
    ProbeReport,
    Session,
    Target,
    TlsMode,
)
from smtpprobe.views.probe_view import probe_doc
from tests.hostile import random_bytes, serve

KB = load("en")
# Anything a terminal could act on: C0 controls but TAB and LF, DEL, and the C1 controls.
UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
COMMANDS = (
    b"EHLO smtpprobe.invalid",
    b"HELO smtpprobe.invalid",
    b"STARTTLS",
    b"HELP",
    b"HELP VRFY",
    b"VRFY postmaster",
    b"VRFY smtpprobe-0",
    b"EXPN postmaster",
    b"EXPN smtpprobe-0",
    b"MAIL FROM:<>",
    b"RCPT TO:<postmaster@mx.test>",
    b"RCPT TO:<smtpprobe-0@mx.test>",
    b"NOOP",
    b"RSET",
    b"QUIT",
)
FRAGMENTS = (
    b"220 ",
    b"250-",
    b"250 ",
    b"252 2.0.0 ",
    b"550 5.1.1 ",
    b"999 ",
    b"2l4 ",
    b"\r\n",
    b"\n",
    b"\x00",
    b"\x1b[2J",
    b"\x1b]0;x\x07",
    b"\xc2\x9b",
    b"\xff",
    b"[bold]x[/]",
    b"STARTTLS",
    b"AUTH PLAIN",
    b"SIZE",
    b"mx.test",
)

server_bytes = st.lists(st.sampled_from(FRAGMENTS) | st.binary(max_size=16), max_size=40).map(
    b"".join
)


def views_are_safe(report: ProbeReport) -> None:
    """Plain text, rich (no colours, so that any ESC would be the server's) and JSON."""
    assert not UNSAFE.search(to_plain(probe_doc(report, KB)))
    buffer = io.StringIO()
    Console(file=buffer, force_terminal=True, color_system=None, width=100).print(
        to_rich(probe_doc(report, KB))
    )
    assert not UNSAFE.search(buffer.getvalue())
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        emit_json(report_document(report, KB))
    assert not UNSAFE.search(out.getvalue())
    json.loads(out.getvalue())


def transcript(data: bytes, commands: list[bytes]) -> tuple[list[Exchange], SMTPProbeError | None]:
    """Read *data* as the server's side of a session: the banner, then one reply a command."""
    parser = ReplyParser()
    parser.receive_data(data)
    parser.receive_data(b"")
    exchanges: list[Exchange] = []
    for n, command in enumerate([b"", *commands]):
        phase = command.split()[0].decode() if command else "banner"
        error: SMTPProbeError | None = None
        try:
            item = parser.next_reply()
        except (MalformedReplyError, ServerDisconnectedError) as exc:
            error = exc
        else:
            if not isinstance(item, Reply):
                error = ServerDisconnectedError("the server closed the connection")
        if error is not None:
            error.phase = phase
            partial = getattr(error, "raw", b"")
            exchanges.append(Exchange(phase, command, None, n * 0.01, 0.01, error, "", partial))
            return exchanges, error
        assert isinstance(item, Reply)
        exchanges.append(Exchange(phase, command, item, n * 0.01, 0.01))
    return exchanges, None


@pytest.mark.slow
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=server_bytes,
    commands=st.lists(st.sampled_from(COMMANDS), max_size=10),
    stray=st.binary(max_size=24) | st.sampled_from([b"", b"250 \x1b[2J\x9b\r\n"]),
    tls_mode=st.sampled_from(list(TlsMode)),
)
def test_any_bytes_through_parser_and_interpreter_give_a_safe_report(
    data: bytes, commands: list[bytes], stray: bytes, tls_mode: TlsMode
) -> None:
    exchanges, error = transcript(data, commands)
    session = Session(
        target=Target("mx.test", 25, "127.0.0.1", tls_mode),
        options=ProbeOptions(tls=tls_mode, steps=frozenset(STEPS)),
        exchanges=tuple(exchanges),
        started_at=datetime(2025, 1, 2, tzinfo=UTC),
        elapsed=0.5,
        complete=error is None,
        error=error,
        stray=stray,
        control_address="smtpprobe-0",
    )
    findings = interpret(session)
    assert tuple(f.check for f in findings) == CHECKS
    views_are_safe(ProbeReport(session, findings))


# -- live: real probes against servers sending seeded random bytes ----------------------------

SEED = int(os.environ.get("SMTPPROBE_FUZZ_SEED", "20261128"))
RUNS = int(os.environ.get("SMTPPROBE_FUZZ_RUNS", "200"))
DEADLINE = 1.0
BUDGET = 10.0  # seconds for all runs together


async def _one_run(seed: int) -> tuple[int, ProbeReport | BaseException]:
    rng = random.Random(seed)
    tls = rng.choice([TlsMode.NONE, TlsMode.AUTO, TlsMode.STARTTLS])
    steps = frozenset(STEPS) if rng.random() < 0.3 else ProbeOptions().steps
    async with serve(random_bytes(seed)) as server:
        options = ProbeOptions(
            port=server.port, tls=tls, steps=steps, deadline=DEADLINE, insecure=rng.random() < 0.5
        )
        try:
            report: ProbeReport | BaseException = await probe(server.host, options=options)
        except Exception as exc:  # noqa: BLE001 - recorded and reported with its seed
            report = exc
        assert not server.script_errors, server.script_errors
    return seed, report


@pytest.mark.slow
async def test_live_fuzz_random_servers_always_give_a_report() -> None:
    began = time.perf_counter()
    results = await asyncio.gather(*(_one_run(SEED + n) for n in range(RUNS)))
    elapsed = time.perf_counter() - began
    failed = {seed: repr(r) for seed, r in results if not isinstance(r, ProbeReport)}
    assert not failed, f"no report for seeds {failed}"
    for seed, report in results:
        assert isinstance(report, ProbeReport)
        assert tuple(f.check for f in report.findings) == CHECKS, seed
        assert report.session.elapsed < DEADLINE + 0.5, seed
        views_are_safe(report)
    assert elapsed < BUDGET, f"{RUNS} runs took {elapsed:.1f} s"
