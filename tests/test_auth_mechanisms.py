"""CRAM-MD5 and XOAUTH2 (aiosmtplib's encoders on our wire) against an aiosmtpd server that
checks them for real; auto picks the strongest offered; secrets never recorded."""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import trustme
from aiosmtpd.smtp import SMTP, AuthResult

from smtpprobe.auth import choose_mechanism
from smtpprobe.message import Draft
from smtpprobe.probe import probe
from smtpprobe.report import AuthMechanism, ProbeOptions, ProbeReport, Status, TlsMode
from smtpprobe.send import SendOptions, send
from tests.ports import ServerAddress, close_servers
from tests.worded import read

pytestmark = pytest.mark.filterwarnings(
    "ignore:Session.login_data is deprecated:DeprecationWarning"
)

USER, PASSWORD, TOKEN = "alice", "S3cr3t-Pa55!", "ya29.a0-secret-token"
CHALLENGE = b"<1896.697170952@mx.test>"


class MechanismSMTP(SMTP):
    """aiosmtpd with CRAM-MD5 (RFC 2195) and XOAUTH2 checked against fixed credentials,
    and DIGEST-MD5 advertised but refused (as a Sendmail with Cyrus SASL would list it)."""

    async def auth_CRAM__MD5(self, _: Any, args: list[str]) -> AuthResult:
        answer = await self.challenge_auth(CHALLENGE)
        if not isinstance(answer, bytes):
            return AuthResult(success=False)
        user, _, digest = answer.decode().partition(" ")
        good = hmac.new(PASSWORD.encode(), CHALLENGE, "md5").hexdigest()
        return AuthResult(success=user == USER and hmac.compare_digest(digest, good), handled=False)

    async def auth_XOAUTH2(self, _: Any, args: list[str]) -> AuthResult:
        blob = base64.b64decode(args[1]) if len(args) > 1 else b""
        if blob == f"user={USER}\x01auth=Bearer {TOKEN}\x01\x01".encode():
            return AuthResult(success=True)
        error = json.dumps({"status": "401", "schemes": "bearer"}).encode()
        # RFC-less but Google's documented form: the client answers with an empty line.
        await self.challenge_auth(error, encode_to_b64=True)
        return AuthResult(success=False, handled=False)

    async def auth_DIGEST__MD5(self, _: Any, args: list[str]) -> AuthResult:
        return AuthResult(success=False, handled=False)


@pytest.fixture
async def mech_server() -> AsyncIterator[Callable[..., Awaitable[ServerAddress]]]:
    loop = asyncio.get_running_loop()
    servers: list[asyncio.Server] = []
    protocols: list[SMTP] = []

    async def start(
        exclude: tuple[str, ...] = (), tls: ssl.SSLContext | None = None
    ) -> ServerAddress:
        def factory() -> asyncio.Protocol:
            # With *tls*: STARTTLS offered and AUTH only inside it, as on port 587.
            protocol = MechanismSMTP(
                object(),
                hostname="mx.test",
                loop=loop,
                auth_require_tls=tls is not None,
                tls_context=tls,
                auth_exclude_mechanism=exclude,
            )
            protocols.append(protocol)
            return protocol

        server = await loop.create_server(factory, "127.0.0.1", 0, family=socket.AF_INET)
        servers.append(server)
        return ServerAddress("127.0.0.1", server.sockets[0].getsockname()[1])

    yield start
    await close_servers(servers, protocols)


async def run(address: ServerAddress, **options: Any) -> ProbeReport:
    opts = ProbeOptions(
        port=address.port,
        tls=TlsMode.NONE,
        deadline=5.0,
        command_timeout=2.0,
        steps=frozenset({"ehlo", "auth", "quit"}),
        auth_user=USER,
        allow_plaintext_auth=True,
        **options,
    )
    return await probe(address.host, options=opts)


def transcript(report: ProbeReport) -> str:
    return repr(
        [(ex.command, ex.reply.raw if ex.reply else b"") for ex in report.session.exchanges]
    )


def test_auto_prefers_the_strongest_offered() -> None:
    offered = ("DIGEST-MD5", "LOGIN", "PLAIN", "CRAM-MD5", "XOAUTH2")
    assert choose_mechanism(AuthMechanism.AUTO, offered) == "CRAM-MD5"
    assert choose_mechanism(AuthMechanism.AUTO, offered, token=True) == "XOAUTH2"
    assert choose_mechanism(AuthMechanism.AUTO, ("LOGIN", "PLAIN")) == "PLAIN"
    assert choose_mechanism(AuthMechanism.AUTO, ("DIGEST-MD5",)) is None
    assert choose_mechanism(AuthMechanism.LOGIN, offered) == "LOGIN"


@pytest.mark.parametrize(
    ("password", "code", "status"),
    [
        (PASSWORD, 235, Status.WARNING),  # logged in, but over plain text: a warning
        ("wrong", 535, Status.CRITICAL),
    ],
)
async def test_cram_md5_is_chosen_and_checked(
    mech_server: Callable[..., Awaitable[ServerAddress]],
    password: str,
    code: int,
    status: Status,
) -> None:
    report = await run(await mech_server(), auth_password=password)
    sent = [ex.command for ex in report.session.exchanges if ex.phase == "AUTH"]
    assert sent == [b"AUTH CRAM-MD5", b"<redacted>"]
    found = report.finding("auth")
    assert found is not None and found.data["mechanism"] == "CRAM-MD5"
    assert found.data["code"] == code and found.status is status
    assert found.data["obsolete"] == ["DIGEST-MD5"]
    assert "RFC 6331" in read(found).summary and "mech_list" in read(found).advice
    assert password not in transcript(report)


@pytest.mark.parametrize(("token", "code"), [(TOKEN, 235), ("expired-token", 535)])
async def test_xoauth2_with_a_token(
    mech_server: Callable[..., Awaitable[ServerAddress]],
    token: str,
    code: int,
) -> None:
    report = await run(await mech_server(), auth_token=token)
    sent = [ex.command for ex in report.session.exchanges if ex.phase == "AUTH"]
    # A refused token comes back as a 334 JSON challenge, answered by an empty line.
    assert sent == (
        [b"AUTH XOAUTH2 <redacted>"] if code == 235 else [b"AUTH XOAUTH2 <redacted>", b""]
    )
    found = report.finding("auth")
    assert found is not None and found.data["mechanism"] == "XOAUTH2"
    assert found.data["code"] == code
    text = transcript(report)
    assert token not in text and base64.b64encode(token.encode()).decode() not in text
    if code == 535:
        assert '"status": "401"' in found.data["challenges"][0]


async def test_submission_send_with_starttls_and_auth(
    mech_server: Callable[..., Awaitable[ServerAddress]],
    server_certs: dict[str, trustme.LeafCert],
    cafile: str,
) -> None:
    """Port 587 as a user expects: STARTTLS, then AUTH (the strongest offered), then the
    message; the password nowhere in the transcript."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_certs["valid"].configure_cert(context)
    address = await mech_server(tls=context)
    options = ProbeOptions(
        port=address.port,
        tls=TlsMode.STARTTLS,
        cafile=cafile,
        deadline=10.0,
        command_timeout=5.0,
        auth_user=USER,
        auth_password=PASSWORD,
    )
    mail = SendOptions(Draft(sender="alice@mx.test", recipients=("bob@example.net",)))
    report = await send(address.host, options=options, mail=mail)
    phases = [ex.phase for ex in report.session.exchanges]
    assert phases == [
        "banner",
        "EHLO",
        "STARTTLS",
        "EHLO",
        "AUTH",
        "AUTH",
        "MAIL",
        "RCPT",
        "DATA",
        "DATA_END",
        "QUIT",
    ]
    assert report.session.tls is not None and report.session.tls.verified
    auth, delivery = report.finding("auth"), report.finding("delivery")
    assert auth is not None and auth.status is Status.OK and auth.data["mechanism"] == "CRAM-MD5"
    assert delivery is not None and delivery.verdict is not None
    assert delivery.verdict.value == "accepted" and delivery.data["queue_id"] is None
    assert delivery.data["reason"] == "accepted-no-queue-id"  # aiosmtpd's bare "250 OK"
    assert PASSWORD not in transcript(report)
