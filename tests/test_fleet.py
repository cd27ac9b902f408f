"""`run_fleet` in the test's own loop: order, the concurrency bound, progress, MX expansion."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import dns.asyncresolver
import pytest

from smtpprobe.errors import UsageError
from smtpprobe.fleet import FleetOptions, TargetSpec, run_fleet
from smtpprobe.policy import Expectation, Policy
from smtpprobe.report import ProbeOptions, Status, TlsMode
from tests.conftest import ServerAddress
from tests.worded import read

Serve = Callable[..., Awaitable[ServerAddress]]
FAST = ProbeOptions(tls=TlsMode.NONE, deadline=5.0, command_timeout=2.0)


class Counter:
    """A tiny SMTP server that counts how many sessions are open at once."""

    def __init__(self) -> None:
        self.active = self.most = self.sessions = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.active += 1
        self.sessions += 1
        self.most = max(self.most, self.active)
        try:
            await asyncio.sleep(0.02)  # long enough for the other slots to open theirs
            writer.write(b"220 count.test ESMTP\r\n")
            while line := await reader.readline():
                if line.upper().startswith(b"QUIT"):
                    writer.write(b"221 bye\r\n")
                    break
                writer.write(
                    b"252 2.0.0 ok\r\n" if line.upper().startswith(b"VRFY") else b"250 ok\r\n"
                )
            await writer.drain()
        finally:
            self.active -= 1
            writer.close()


@pytest.fixture
async def counter() -> AsyncIterator[tuple[Counter, int]]:
    count = Counter()
    server = await asyncio.start_server(count.serve, "127.0.0.1", 0, family=socket.AF_INET)
    yield count, server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


@pytest.mark.slow
async def test_at_most_concurrency_sessions_at_once_results_in_input_order(
    counter: tuple[Counter, int],
) -> None:
    count, port = counter
    progress: list[tuple[int, int]] = []
    specs = [TargetSpec("127.0.0.1", port)] * 9 + [TargetSpec("localhost", port)]
    fleet = await run_fleet(
        specs,
        options=FAST,
        fleet=FleetOptions(concurrency=3),
        on_done=lambda done, total: progress.append((done, total)),
    )
    assert count.most == 3 and count.sessions == 10
    assert [r.target.host for r in fleet.results] == ["127.0.0.1"] * 9 + ["localhost"]
    assert progress[0] == (0, 10) and progress[-1] == (10, 10)
    assert [done for done, _total in progress] == list(range(11))
    assert fleet.status is Status.OK


async def test_unresolvable_is_unknown_and_the_worst_wins(
    smtp_server: Serve, closed_port: int
) -> None:
    good = await smtp_server("hidden")
    specs = [TargetSpec(good.host, good.port), TargetSpec("nonexistent.invalid", 25)]
    fleet = await run_fleet(specs, options=FAST)
    ok, unknown = fleet.results
    assert ok.status is Status.OK and ok.report is not None
    assert unknown.report is None and unknown.error is not None
    assert unknown.status is Status.UNKNOWN and unknown.error.kind == "resolve"
    assert read(unknown.findings[0]).summary.startswith("Not probed: ")
    assert fleet.status is Status.UNKNOWN
    refused = await run_fleet([*specs, TargetSpec("127.0.0.1", closed_port)], options=FAST)
    assert refused.status is Status.CRITICAL  # CRITICAL outranks UNKNOWN


async def test_the_policy_is_applied_to_every_report(smtp_server: Serve) -> None:
    hidden, disclosing = await smtp_server("hidden"), await smtp_server("disclosing")
    fleet = await run_fleet(
        [TargetSpec(s.host, s.port) for s in (hidden, disclosing)],
        options=FAST,
        policy=Policy(expect_vrfy=Expectation.HIDDEN),
    )
    statuses = [
        r.report.finding("expect-vrfy").status  # type: ignore[union-attr]
        for r in fleet.results
    ]
    assert statuses == [Status.OK, Status.CRITICAL]


async def test_mx_expansion_through_a_resolver(
    smtp_server: Serve,
    dns_server: Callable[..., dns.asyncresolver.Resolver],
) -> None:
    server = await smtp_server("hidden")
    resolver = dns_server(
        {
            "example.test.": {"MX": ["10 mx1.example.test."]},
            "mx1.example.test.": {"A": ["127.0.0.1"]},
            "null.test.": {"MX": ["0 ."]},
        }
    )
    fleet = await run_fleet(
        [TargetSpec("example.test", server.port), TargetSpec("null.test", server.port)],
        options=FAST,
        fleet=FleetOptions(mx=True, resolver=resolver),
    )
    mx, null = fleet.results
    assert mx.target.host == "mx1.example.test" and mx.target.address == "127.0.0.1"
    assert mx.report is not None and mx.status is Status.OK
    found = mx.report.finding("mx")
    assert found is not None and found.data["preference"] == 10
    assert found.data["source"] == "mx" and "mx_port_not_25" in found.data["notes"]
    assert null.report is None and null.status is Status.UNKNOWN
    assert "RFC 7505" in read(null.findings[0]).summary
    assert [p.source for p in fleet.plans] == ["mx", "null-mx"]


async def test_mx_with_an_address_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        await run_fleet([TargetSpec("127.0.0.1", 25)], options=FAST, fleet=FleetOptions(mx=True))
