"""One target's trouble stays its own: a bug, a local lack of file descriptors, the run's
deadline; and ``--concurrency`` within the open-file limit (issue 11 §1, §4)."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import smtpprobe.probe
from smtpprobe.fleet import FleetOptions, TargetSpec, run_fleet
from smtpprobe.kb import load
from smtpprobe.report import ProbeOptions, Session, Status, TlsMode
from smtpprobe.views.errors import localized
from tests.cli import run_main, set_plain_english
from tests.conftest import ServerAddress
from tests.hostile import serve_in_thread, silent

Serve = Callable[..., Awaitable[ServerAddress]]
ThreadServe = Callable[..., ServerAddress]
FAST = ProbeOptions(tls=TlsMode.NONE, deadline=5.0, command_timeout=2.0)
FAST_CLI = ("--tls", "none", "--timeout", "5", "--command-timeout", "2")
ROOT = Path(__file__).resolve().parent.parent


def _fault_on(monkeypatch: pytest.MonkeyPatch, port: int) -> None:
    """Make interpretation raise for the target on *port* only (a bug met on one server)."""
    real = smtpprobe.probe.interpret

    def faulty(session: Session, *rest: Any) -> Any:
        if session.target.port == port:
            raise ZeroDivisionError("injected fault: server text must not show <secret>")
        return real(session, *rest)

    monkeypatch.setattr(smtpprobe.probe, "interpret", faulty)  # where probe() looks it up


async def test_a_bug_on_one_target_is_that_targets_unknown(
    smtp_server: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = [await smtp_server("hidden") for _ in range(4)]
    bad = await smtp_server("hidden")
    _fault_on(monkeypatch, bad.port)
    specs = [TargetSpec(s.host, s.port) for s in (*good[:2], bad, *good[2:])]
    fleet = await run_fleet(specs, options=FAST, fleet=FleetOptions(concurrency=2))
    statuses = [r.status for r in fleet.results]
    assert statuses == [Status.OK, Status.OK, Status.UNKNOWN, Status.OK, Status.OK]
    broken = fleet.results[2]
    assert broken.error is not None and broken.error.kind == "internal"
    message = localized(broken.error, load("en"))[0]
    assert "ZeroDivisionError" in message and "secret" not in message
    assert fleet.internal == 1 and fleet.status is Status.UNKNOWN
    assert fleet.counts == {Status.OK: 4, Status.UNKNOWN: 1}


def test_json_lines_and_junit_survive_a_bug_on_one_target(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    threaded_smtp_server: ThreadServe,
    tmp_path: Path,
) -> None:
    set_plain_english(monkeypatch)
    servers = [threaded_smtp_server("hidden") for _ in range(3)]
    _fault_on(monkeypatch, servers[1].port)
    junit = tmp_path / "smtp.xml"
    code, out, err = run_main(
        capsys,
        "probe",
        *(f"{s.host}:{s.port}" for s in servers),
        "--format",
        "json",
        "--junit",
        str(junit),
        *FAST_CLI,
    )
    docs = {d["target"]["port"]: d for d in map(json.loads, out.splitlines())}
    assert len(docs) == 3 and code == 3
    assert docs[servers[1].port]["error"]["kind"] == "internal"
    assert docs[servers[1].port]["status"] == "unknown"
    assert {docs[s.port]["status"] for s in (servers[0], servers[2])} == {"ok"}
    assert err.count("internal error") == 1 and "1 target hit an internal error" in err
    assert junit.read_text().count("<testsuite ") == 3


@pytest.fixture
def local_server() -> Iterator[int]:
    """bench/local_server.py in its own process: its file descriptors are not ours."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from local_server import running_server

        with running_server() as port:
            yield port
    finally:
        sys.path.remove(str(ROOT / "bench"))


@pytest.mark.slow
async def test_out_of_file_descriptors_is_local_and_unknown(local_server: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # Room for a few sockets only: most of the 30 connections cannot even be opened.
    resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) + 4, hard))
    try:
        fleet = await run_fleet(
            [TargetSpec("127.0.0.1", local_server)] * 30,
            options=FAST,
            fleet=FleetOptions(concurrency=30),
        )
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    local = [r for r in fleet.results if r.error is not None and r.error.kind == "local"]
    assert local and fleet.out_of_files == len(local)
    assert all(r.status is Status.UNKNOWN for r in local)
    assert Status.CRITICAL not in fleet.counts  # never the server's fault
    assert fleet.counts.get(Status.OK, 0) + len(local) == 30


@pytest.mark.slow
def test_concurrency_is_clamped_to_the_open_file_limit(local_server: int) -> None:
    def low_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (100, 100))

    targets = "".join(f"127.0.0.1:{local_server}\n" for _ in range(50))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "smtpprobe",
            "probe",
            "--targets",
            "-",
            "--format",
            "json",
            "--concurrency",
            "500",
            *FAST_CLI,
        ],
        input=targets,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=low_limit,
        env={**os.environ, "LANG": "C.UTF-8"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "`--concurrency 500` lowered to 36" in result.stderr
    assert "limit (`ulimit -n`) is 100" in result.stderr
    assert len(result.stdout.splitlines()) == 50


@pytest.mark.slow
def test_total_timeout_ends_the_run_and_marks_what_was_left(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    threaded_smtp_server: ThreadServe,
) -> None:
    set_plain_english(monkeypatch)
    good = threaded_smtp_server("hidden")
    with serve_in_thread(silent) as quiet:  # says nothing: the probe would wait 30 s
        started = time.monotonic()
        code, out, err = run_main(
            capsys,
            "probe",
            f"{good.host}:{good.port}",
            quiet.target,
            "--format",
            "json",
            "--tls",
            "none",
            "--timeout",
            "30",
            "--command-timeout",
            "30",
            "--total-timeout",
            "1.5",
        )
        took = time.monotonic() - started
    docs = {d["target"]["port"]: d for d in map(json.loads, out.splitlines())}
    assert docs[good.port]["status"] == "ok"
    assert docs[quiet.port]["status"] == "unknown"
    assert docs[quiet.port]["error"]["kind"] == "total-timeout"
    assert code == 3 and took < 20  # generous: a loaded 2-core machine
    assert "`--total-timeout` ran out: 1 target is UNKNOWN." in err


async def test_results_not_kept_are_still_counted(smtp_server: Serve, closed_port: int) -> None:
    good = await smtp_server("hidden")
    streamed: list[int] = []
    specs = iter([TargetSpec(good.host, good.port)] * 5 + [TargetSpec("127.0.0.1", closed_port)])
    fleet = await run_fleet(
        specs,
        options=FAST,
        fleet=FleetOptions(concurrency=3, keep_results=False),
        on_result=lambda index, result: streamed.append(index),
    )
    assert fleet.results == () and sorted(streamed) == list(range(6))
    assert fleet.counts == {Status.OK: 5, Status.CRITICAL: 1} and fleet.total == 6
    assert fleet.status is Status.CRITICAL


@pytest.mark.slow
def test_a_bad_line_on_stdin_stops_the_stream_there(threaded_smtp_server: ThreadServe) -> None:
    server = threaded_smtp_server("hidden")
    good = f"{server.host}:{server.port}"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "smtpprobe",
            "probe",
            "--targets",
            "-",
            "--format",
            "json",
            "--concurrency",
            "1",
            *FAST_CLI,
        ],
        input=f"{good}\nmx.example:99999\n{good}\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "LANG": "C.UTF-8"},
    )
    assert result.returncode == 3
    assert "--targets line 2" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stdout.splitlines()) == 1  # the target before it was probed
