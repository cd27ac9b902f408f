"""``smtpprobe probe DOMAIN --mx`` end to end: a DNS server and SMTP personas on loopback.

MX hosts share one port, as on the Internet, so each persona listens on its own
loopback address (127.0.0.2, 127.0.0.3 …) and the zone points the host names there.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import dns.asyncresolver
import pytest

from smtpprobe.cli import main
from tests.conftest import PersonaController
from tests.dnsserver import DnsServer, Records
from tests.servers import DOMAIN

FAST = ("--timeout", "5", "--command-timeout", "2")


def _port_free_on(addresses: list[str]) -> int:
    for _attempt in range(50):
        with ExitStack() as stack:
            first = stack.enter_context(socket.socket())
            first.bind((addresses[0], 0))
            port: int = first.getsockname()[1]
            try:
                for address in addresses[1:]:
                    stack.enter_context(socket.socket()).bind((address, port))
            except OSError:
                continue
            return port
    raise RuntimeError("no port free on every address")


@pytest.fixture
def mail_hosts() -> Iterator[Callable[[dict[str, str]], int]]:
    """Factory: ``{address: persona}`` → the one port every persona listens on."""
    controllers: list[PersonaController] = []

    def start(personas: dict[str, str]) -> int:
        port = _port_free_on(list(personas))
        for address, persona in personas.items():
            controller = PersonaController(
                persona,
                starttls=None,
                hostname=address,
                port=port,
                server_hostname=DOMAIN,
                ready_timeout=5.0,
            )
            controllers.append(controller)
            controller.start()
        return port

    try:
        yield start
    finally:
        for controller in controllers:
            controller.stop(no_assert=True)


@pytest.fixture
def zone() -> Iterator[Callable[[Records], str]]:
    """Factory: serve *records*; returns the ``--dns-server`` value."""
    servers: list[DnsServer] = []

    def start(records: Records) -> str:
        server = DnsServer(records, silent=["silent.test"])
        server.start()
        servers.append(server)
        return f"127.0.0.1:{server.port}"

    try:
        yield start
    finally:
        for server in servers:
            server.stop()


RECORDS: Records = {
    "example.test.": {"MX": ["20 mx2.example.test.", "10 mx1.example.test."]},
    "mx1.example.test.": {"A": ["127.0.0.2"]},
    "mx2.example.test.": {"A": ["127.0.0.3"]},
    "pool.test.": {"MX": ["10 mx.pool.test."]},
    "mx.pool.test.": {"A": ["127.0.0.3", "127.0.0.2"]},
    "null.test.": {"MX": ["0 ."]},
    "fallback.test.": {"A": ["127.0.0.2"]},
    "dangling.test.": {"MX": ["10 gone.dangling.test.", "20 mx1.example.test."]},
    "gone.dangling.test.": {"TXT": ['"no address here"']},
}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["probe", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


@pytest.fixture
def dns_at(zone: Callable[[Records], str]) -> str:
    return zone(RECORDS)


def test_mx_hosts_in_preference_order(
    capsys: pytest.CaptureFixture[str], mail_hosts: Callable[[dict[str, str]], int], dns_at: str
) -> None:
    port = mail_hosts({"127.0.0.2": "hidden", "127.0.0.3": "disclosing"})
    code, out, err = run(
        capsys,
        "example.test",
        "--mx",
        "--port",
        str(port),
        "--dns-server",
        dns_at,
        "--format",
        "json",
        *FAST,
    )
    docs = lines(out)
    assert [(d["target"]["host"], d["target"]["address"]) for d in docs] == [
        ("mx1.example.test", "127.0.0.2"),
        ("mx2.example.test", "127.0.0.3"),
    ]
    assert [d["findings"]["mx"]["preference"] for d in docs] == [10, 20]
    assert docs[0]["findings"]["mx"]["domain"] == "example.test"
    assert [d["findings"]["vrfy"]["verdict"] for d in docs] == ["hidden", "disclosing"]
    assert code == 1 and err == ""


def test_mx_in_text_explains_the_plan(
    capsys: pytest.CaptureFixture[str], mail_hosts: Callable[[dict[str, str]], int], dns_at: str
) -> None:
    port = mail_hosts({"127.0.0.2": "hidden", "127.0.0.3": "hidden"})
    code, out, _err = run(
        capsys, "example.test", "--mx", "--port", str(port), "--dns-server", dns_at, *FAST
    )
    assert code == 0
    assert "Mail servers of example.test" in out and "from its MX records" in out
    assert "port 25 (RFC 5321" in out  # the note that MX hosts are reached on port 25
    rows = [line for line in out.splitlines() if line.startswith("mx")]
    assert rows[0].startswith("mx1.example.test:") and rows[1].startswith("mx2.example.test:")


def test_all_addresses_compares_the_pool(
    capsys: pytest.CaptureFixture[str], mail_hosts: Callable[[dict[str, str]], int], dns_at: str
) -> None:
    port = mail_hosts({"127.0.0.2": "hidden", "127.0.0.3": "disclosing"})
    code, out, _err = run(
        capsys,
        "pool.test",
        "--mx",
        "--all-addresses",
        "--port",
        str(port),
        "--dns-server",
        dns_at,
        "--format",
        "json",
        *FAST,
    )
    docs = lines(out)
    assert [d["target"]["address"] for d in docs] == ["127.0.0.2", "127.0.0.3"]
    assert {d["target"]["host"] for d in docs} == {"mx.pool.test"}
    pool = docs[0]["findings"]["pool"]
    assert pool["status"] == "warning" and pool == docs[1]["findings"]["pool"]
    assert [d["key"] for d in pool["disagreements"]] == ["mx_pool_vrfy"]
    assert "127.0.0.2: hidden, 127.0.0.3: disclosing" in pool["summary"]
    assert code == 1


def test_all_addresses_alike_is_ok_in_nagios(
    capsys: pytest.CaptureFixture[str], mail_hosts: Callable[[dict[str, str]], int], dns_at: str
) -> None:
    port = mail_hosts({"127.0.0.2": "hidden", "127.0.0.3": "hidden"})
    code, out, _err = run(
        capsys,
        "mx.pool.test",
        "--all-addresses",
        "--port",
        str(port),
        "--dns-server",
        dns_at,
        "--format",
        "nagios",
        *FAST,
    )
    assert code == 0 and out.startswith("SMTP OK - 2 targets: 2 OK |")
    assert "'mx.pool.test:" in out and " 127.0.0.2 time'=" in out


def test_null_mx_is_explained_and_unknown(capsys: pytest.CaptureFixture[str], dns_at: str) -> None:
    code, out, _err = run(capsys, "null.test", "--mx", "--dns-server", dns_at, *FAST)
    assert code == 3
    assert "null MX" in out and "RFC 7505" in out and "accepts no mail" in out
    code, out, _err = run(
        capsys, "null.test", "--mx", "--dns-server", dns_at, "--format", "json", *FAST
    )
    (doc,) = lines(out)
    assert doc["status"] == "unknown" and doc["findings"]["mx"]["source"] == "null-mx"


def test_no_mx_falls_back_to_the_address(
    capsys: pytest.CaptureFixture[str], mail_hosts: Callable[[dict[str, str]], int], dns_at: str
) -> None:
    port = mail_hosts({"127.0.0.2": "hidden"})
    code, out, _err = run(
        capsys,
        "fallback.test",
        "--mx",
        "--port",
        str(port),
        "--dns-server",
        dns_at,
        "--format",
        "json",
        *FAST,
    )
    (doc,) = lines(out)
    mx = doc["findings"]["mx"]
    assert code == 0 and doc["target"]["address"] == "127.0.0.2"
    assert mx["source"] == "fallback-address" and mx["preference"] == 0
    assert "RFC 5321 §5.1" in mx["summary"]


def test_mx_host_without_address_is_a_warning(
    capsys: pytest.CaptureFixture[str], mail_hosts: Callable[[dict[str, str]], int], dns_at: str
) -> None:
    port = mail_hosts({"127.0.0.2": "hidden"})
    code, out, _err = run(
        capsys,
        "dangling.test",
        "--mx",
        "--port",
        str(port),
        "--dns-server",
        dns_at,
        "--format",
        "json",
        *FAST,
    )
    gone, good = lines(out)
    assert gone["target"]["host"] == "gone.dangling.test" and gone["status"] == "warning"
    assert "has no address record" in gone["findings"]["mx"]["summary"]
    assert good["status"] == "ok" and code == 1


@pytest.mark.parametrize(
    ("domain", "needle"),
    [
        ("nowhere.test", "does not exist (NXDOMAIN)"),
        pytest.param("silent.test", "no DNS answer", marks=pytest.mark.slow),
    ],  # waits it out
)
def test_a_domain_that_does_not_resolve_is_unknown(
    capsys: pytest.CaptureFixture[str], dns_at: str, domain: str, needle: str
) -> None:
    code, out, err = run(capsys, domain, "--mx", "--dns-server", dns_at, "--timeout", "0.5")
    assert code == 3 and out == "" and needle in err


def test_mx_needs_a_domain_not_an_address(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "127.0.0.1", "--mx")
    assert code == 3 and out == "" and "MX lookup needs a domain name" in err


def test_the_resolver_is_only_the_given_server() -> None:
    """``--dns-server`` builds a resolver that never reads /etc/resolv.conf."""
    from smtpprobe.commands.run import _resolver

    resolver = _resolver("127.0.0.1:5353", 2.0)
    assert isinstance(resolver, dns.asyncresolver.Resolver)
    assert [(ns.address, ns.port) for ns in resolver.nameservers] == [  # type: ignore[union-attr]
        ("127.0.0.1", 5353)
    ]
    assert _resolver(None, 2.0) is None
