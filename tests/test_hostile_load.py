"""A thousand concurrent probes against servers that never answer: on time, bounded, no leaks."""

from __future__ import annotations

import asyncio
import os
import resource
import time
from collections.abc import Iterator

import pytest

from smtpprobe.errors import ProbeTimeoutError
from smtpprobe.probe import probe
from smtpprobe.report import ProbeOptions, ProbeReport
from tests.hostile import serve, silent

PROBES = 1000
DEADLINE = 1.0
SLACK = 1.0
# Each probe holds a client socket and the server in this process holds the other end.
FILES_NEEDED = 2 * PROBES + 200


def open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


def resident_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


@pytest.fixture
def enough_files() -> Iterator[None]:
    """Raise the soft RLIMIT_NOFILE for the test (restored after), or skip."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= FILES_NEEDED:
        yield
        return
    if hard != resource.RLIM_INFINITY and hard < FILES_NEEDED:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {FILES_NEEDED} needed")
    resource.setrlimit(resource.RLIMIT_NOFILE, (FILES_NEEDED, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.slow
@pytest.mark.usefixtures("enough_files")
async def test_a_thousand_probes_of_silent_servers_end_by_the_deadline() -> None:
    """Default options (TLS auto): every probe ends at its deadline, with a report."""
    files_before_server = open_files()
    async with serve(silent, backlog=PROBES + 100) as server:
        options = ProbeOptions(port=server.port, deadline=DEADLINE)
        await probe(server.host, options=ProbeOptions(port=server.port, deadline=0.05))  # warm-up
        files_before, memory_before = open_files(), resident_mib()
        began = time.perf_counter()
        results = await asyncio.gather(
            *(probe(server.host, options=options) for _ in range(PROBES)), return_exceptions=True
        )
        elapsed = time.perf_counter() - began
        memory_growth = resident_mib() - memory_before
        await asyncio.sleep(0)
        files_after = open_files()
        connections = server.connections
    assert elapsed < DEADLINE + SLACK, f"{PROBES} probes took {elapsed:.2f} s"
    failures = [r for r in results if not isinstance(r, ProbeReport)]
    assert not failures, failures[:3]
    reports = [r for r in results if isinstance(r, ProbeReport)]
    assert all(isinstance(r.session.error, ProbeTimeoutError) for r in reports)
    assert {r.session.error.phase for r in reports if r.session.error} == {"banner"}
    assert all(r.status.value == "critical" for r in reports)
    assert connections == PROBES + 1  # every probe really connected
    assert files_after <= files_before, "client sockets leaked"
    assert open_files() <= files_before_server, "sockets outlived the server"
    assert memory_growth < 100, f"resident memory grew by {memory_growth:.0f} MiB"
