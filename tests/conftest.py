"""Shared fixtures: trustme certificates and SMTP personas served on 127.0.0.1.

Two shapes: ``smtp_server`` serves a persona in the test's own
event loop (``create_server(port=0)``, no thread, no port race) for API tests;
``threaded_smtp_server`` runs an aiosmtpd ``Controller`` in a thread for CLI tests,
which call ``asyncio.run`` themselves. Both are factories: ``await smtp_server("postfix",
tls="starttls")`` / ``threaded_smtp_server("exim")`` return the address to probe.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import pytest
import trustme
from aiosmtpd.controller import Controller

from tests.dnsserver import dns_server  # noqa: F401 - the DNS server fixture, for every module
from tests.ports import ServerAddress, close_servers, free_port, start_controller  # noqa: F401
from tests.postfix import postfix_pool, postfix_server  # noqa: F401 - one Postfix per settings
from tests.servers import DOMAIN, make_persona

# The knowledge-base cache of every test run (and of the CLIs tests start) lives in a
# directory of its own: no test reads or writes the user's ~/.cache.
os.environ["SMTPPROBE_CACHE_DIR"] = tempfile.mkdtemp(prefix="smtpprobe-test-cache-")

TlsKind = Literal["starttls", "implicit"] | None
CertKind = Literal["valid", "expired", "wrong-name"]


@pytest.fixture(scope="session")
def tls_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def cafile(tls_ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Path of a PEM file holding the test CA (for ``ProbeOptions(cafile=…)``)."""
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    tls_ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture(scope="session")
def server_certs(tls_ca: trustme.CA) -> dict[str, trustme.LeafCert]:
    """Leaf certificates: valid for localhost and 127.0.0.1, expired, and for another name."""
    now = datetime.now(UTC)
    return {
        "valid": tls_ca.issue_cert("localhost", "127.0.0.1", common_name="localhost"),
        "expired": tls_ca.issue_cert(
            "localhost",
            "127.0.0.1",
            common_name="localhost",
            not_before=now - timedelta(days=30),
            not_after=now - timedelta(days=1),
        ),
        "wrong-name": tls_ca.issue_cert("wrong.example", common_name="wrong.example"),
    }


def _server_context(leaf: trustme.LeafCert) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(context)
    return context


@pytest.fixture
def closed_port() -> int:
    """A loopback port with nothing listening (bound, then released)."""
    return free_port()


@pytest.fixture
async def smtp_server(
    server_certs: dict[str, trustme.LeafCert],
) -> AsyncIterator[Callable[..., Awaitable[ServerAddress]]]:
    """Factory: serve a persona in this test's loop; everything is closed afterwards."""
    loop = asyncio.get_running_loop()
    servers: list[asyncio.Server] = []
    protocols: list[Any] = []

    async def start(
        persona: str = "hidden", *, tls: TlsKind = None, cert: CertKind = "valid"
    ) -> ServerAddress:
        context = _server_context(server_certs[cert]) if tls else None

        def factory() -> asyncio.Protocol:
            starttls = context if tls == "starttls" else None
            protocol = make_persona(persona, loop=loop, tls_context=starttls)
            protocols.append(protocol)
            return protocol

        server = await loop.create_server(
            factory,
            host="127.0.0.1",
            port=0,
            family=socket.AF_INET,
            ssl=context if tls == "implicit" else None,
        )
        servers.append(server)
        return ServerAddress("127.0.0.1", server.sockets[0].getsockname()[1])

    yield start
    await close_servers(servers, protocols)


@pytest.fixture
async def scripted_server() -> AsyncIterator[Callable[..., Awaitable[ServerAddress]]]:
    """Factory: a raw server writing each chunk in turn (10 ms apart), for byte-level cases.

    With ``close=True`` it hangs up after the last chunk, else it waits for the client.
    """
    writers: list[asyncio.StreamWriter] = []
    servers: list[asyncio.Server] = []

    async def start(chunks: list[bytes], *, close: bool = False) -> ServerAddress:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writers.append(writer)
            for chunk in chunks:
                writer.write(chunk)
                await writer.drain()
                await asyncio.sleep(0.01)
            if not close:
                await reader.read()
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0, family=socket.AF_INET)
        servers.append(server)
        return ServerAddress("127.0.0.1", server.sockets[0].getsockname()[1])

    yield start
    await close_servers(servers, writers)


class PersonaController(Controller):
    """An aiosmtpd Controller whose connections get a persona's protocol."""

    def __init__(self, persona: str, *, starttls: ssl.SSLContext | None, **kwargs: Any) -> None:
        super().__init__(None, **kwargs)
        self.persona = persona
        self.starttls = starttls

    def factory(self) -> Any:
        return make_persona(
            self.persona, loop=self.loop, hostname=DOMAIN, tls_context=self.starttls
        )


@pytest.fixture
def threaded_smtp_server(
    server_certs: dict[str, trustme.LeafCert],
    start_controller: Callable[[Controller], ServerAddress],
) -> Callable[..., ServerAddress]:
    """Factory: run a persona in a thread (aiosmtpd Controller) for CLI tests."""

    def start(
        persona: str = "hidden", *, tls: TlsKind = None, cert: CertKind = "valid"
    ) -> ServerAddress:
        context = _server_context(server_certs[cert]) if tls else None
        return start_controller(
            PersonaController(
                persona,
                starttls=context if tls == "starttls" else None,
                ssl_context=context if tls == "implicit" else None,
                hostname="127.0.0.1",
                port=free_port(),
                server_hostname=DOMAIN,
                ready_timeout=5.0,
            )
        )

    return start


@pytest.fixture(autouse=True)
def findings_hold(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Check every finding the test builds against its session (tests/consistency.py).

    Wraps the interpreter's builders, the policies and the MX/pool findings, so sessions
    from personas, hostile scripts, Postfix and the fuzz corpus are all checked, through
    the CLI as well. A finding whose claim the session does not bear out fails the test.
    """
    import smtpprobe.fleet as fleet
    import smtpprobe.interpret as interpret
    import smtpprobe.policy as policy
    from tests.consistency import violation

    found: list[str] = []

    def checked(build: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(session: Any, *args: Any) -> Any:
            finding = build(session, *args)
            if finding is not None:
                problem = violation(session, finding)
                if problem:
                    found.append(problem)
            return finding

        return wrapper

    for name, build in list(interpret._BUILDERS.items()):
        monkeypatch.setitem(interpret._BUILDERS, name, checked(build))
    for name, judge in list(policy._CHECKS.items()):
        monkeypatch.setitem(policy._CHECKS, name, checked(judge))
    original_mx = fleet._mx_finding

    def mx_finding(*args: Any) -> Any:
        finding = original_mx(*args)
        problem = violation(None, finding) if finding.data.get("source") != finding.reason else ""
        if problem:
            found.append(problem)
        return finding

    monkeypatch.setattr(fleet, "_mx_finding", mx_finding)

    # The findings built outside the interpreter's table: each is checked where it is made.
    import smtpprobe.interpret.relay as relay
    import smtpprobe.interpret.smuggling as smuggling
    import smtpprobe.mail_policies as mail_policies
    import smtpprobe.send as send

    def checked_alone(build: Callable[..., Any], *, with_session: bool) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            finding = build(*args, **kwargs)
            problem = violation(args[0] if with_session else None, finding)
            if problem:
                found.append(problem)
            return finding

        return wrapper

    monkeypatch.setattr(
        relay, "relay_finding", checked_alone(relay.relay_finding, with_session=True)
    )
    monkeypatch.setattr(
        send, "delivery_finding", checked_alone(send.delivery_finding, with_session=True)
    )
    monkeypatch.setattr(
        smuggling,
        "smuggling_finding",
        checked_alone(smuggling.smuggling_finding, with_session=False),
    )
    monkeypatch.setattr(
        mail_policies, "finding", checked_alone(mail_policies.finding, with_session=False)
    )
    yield found
    assert not found, "findings the session does not bear out: " + "; ".join(sorted(set(found)))
