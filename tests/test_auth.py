"""The AUTH check: PLAIN and LOGIN over STARTTLS against aiosmtpd, every RFC 4954 §6 outcome
against a line server, and the password kept out of every output, transcript and repr."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from smtpprobe import kb
from smtpprobe.cli import main
from smtpprobe.probe import probe
from smtpprobe.report import AuthMechanism, ProbeOptions, ProbeReport, Status, TlsMode
from tests.ports import ServerAddress, close_servers, free_port
from tests.worded import english, read

# aiosmtpd 1.4 sets the deprecated Session.login_data itself after every successful AUTH.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Session.login_data is deprecated:DeprecationWarning"
)

USER = "alice"
PASSWORD = "S3cr3t-Pa55!"
DOMAIN = "mx.test"
KB = kb.load("en")
# Only what the probe needs for AUTH: no HELP/VRFY/EXPN noise in the transcript.
AUTH_STEPS = frozenset({"ehlo", "starttls", "auth", "quit"})


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def secret_forms(password: str = PASSWORD) -> dict[str, str]:
    """Every form of the credentials that must appear nowhere."""
    return {
        "password": password,
        "base64(password)": _b64(password),
        "PLAIN blob": _b64(f"\0{USER}\0{password}"),
        "base64(user)": _b64(USER),
    }


def assert_no_secret(text: str, password: str = PASSWORD) -> None:
    for name, form in secret_forms(password).items():
        assert form not in text, f"{name} leaked"


# -- aiosmtpd with AUTH ---------------------------------------------------------------------


@dataclass
class Seen:
    """What one test server received: raw bytes (after TLS) and the authenticator's calls."""

    received: bytearray = field(default_factory=bytearray)
    calls: list[tuple[str, bytes, bytes]] = field(default_factory=list)


class RecordingSMTP(SMTP):
    """aiosmtpd that keeps every byte it is sent, to prove what crossed the wire."""

    def __init__(self, *args: Any, seen: Seen, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen = seen

    def data_received(self, data: bytes) -> None:
        self.seen.received.extend(data)
        super().data_received(data)


def authenticator(seen: Seen, *, echo: bool) -> Callable[..., AuthResult]:
    """Accepts USER/PASSWORD; with *echo*, refuses everything and repeats what it got."""

    def check(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: LoginPassword
    ) -> AuthResult:
        seen.calls.append((mechanism, data.login, data.password))
        login, password = data.login.decode(), data.password.decode()
        if echo:
            forms = " ".join(secret_forms(password).values())
            message = f"535 5.7.8 Bad credentials {login} {password} {forms}"
            return AuthResult(success=False, handled=False, message=message)
        if (login, password) == (USER, PASSWORD):
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    return check


def _context(leaf: trustme.LeafCert) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(context)
    return context


def _smtp_kwargs(
    seen: Seen,
    starttls: ssl.SSLContext | None,
    *,
    require_tls: bool,
    exclude: tuple[str, ...],
    echo: bool,
) -> dict[str, Any]:
    return {
        "seen": seen,
        "tls_context": starttls,
        "auth_require_tls": require_tls,
        "auth_exclude_mechanism": exclude,
        "authenticator": authenticator(seen, echo=echo),
    }


@dataclass(frozen=True)
class Served:
    host: str
    port: int
    seen: Seen


@pytest.fixture
async def auth_server(
    server_certs: dict[str, trustme.LeafCert],
) -> AsyncIterator[Callable[..., Awaitable[Served]]]:
    """Factory: aiosmtpd with AUTH in this test's loop (STARTTLS offered unless told not)."""
    loop = asyncio.get_running_loop()
    servers: list[asyncio.Server] = []
    protocols: list[RecordingSMTP] = []

    async def start(
        *,
        require_tls: bool = True,
        exclude: tuple[str, ...] = (),
        echo: bool = False,
        starttls: bool = True,
    ) -> Served:
        seen = Seen()
        context = _context(server_certs["valid"]) if starttls else None
        kwargs = _smtp_kwargs(seen, context, require_tls=require_tls, exclude=exclude, echo=echo)

        def factory() -> asyncio.Protocol:
            protocol = RecordingSMTP(object(), hostname=DOMAIN, loop=loop, **kwargs)
            protocols.append(protocol)
            return protocol

        server = await loop.create_server(factory, host="127.0.0.1", port=0, family=socket.AF_INET)
        servers.append(server)
        return Served("127.0.0.1", server.sockets[0].getsockname()[1], seen)

    yield start
    await close_servers(servers, protocols)


class AuthController(Controller):
    def __init__(self, seen: Seen, smtp_kwargs: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(object(), **kwargs)
        self.seen, self.smtp_kwargs = seen, smtp_kwargs

    def factory(self) -> Any:
        return RecordingSMTP(self.handler, hostname=DOMAIN, loop=self.loop, **self.smtp_kwargs)


@pytest.fixture
def threaded_auth_server(
    server_certs: dict[str, trustme.LeafCert],
    start_controller: Callable[[Controller], ServerAddress],
) -> Callable[..., Served]:
    """Factory: the same server in a thread, for tests that go through the CLI."""

    def start(*, echo: bool = False, require_tls: bool = True) -> Served:
        seen = Seen()
        kwargs = _smtp_kwargs(
            seen, _context(server_certs["valid"]), require_tls=require_tls, exclude=(), echo=echo
        )
        address = start_controller(
            AuthController(
                seen,
                kwargs,
                hostname="127.0.0.1",
                port=free_port(),
                server_hostname=DOMAIN,
                ready_timeout=5.0,
            )
        )
        return Served(address.host, address.port, seen)

    return start


async def run(served: Served, cafile: str | None = None, **options: Any) -> ProbeReport:
    options.setdefault("steps", AUTH_STEPS)
    options.setdefault("tls", TlsMode.STARTTLS if cafile else TlsMode.NONE)
    opts = ProbeOptions(
        port=served.port, cafile=cafile, deadline=5.0, command_timeout=2.0, **options
    )
    return await probe(served.host, options=opts)


def auth_commands(report: ProbeReport) -> list[bytes]:
    return [ex.command for ex in report.session.exchanges if ex.phase == "AUTH"]


# -- logging in over STARTTLS ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("mechanism", "commands"),
    [
        pytest.param(AuthMechanism.PLAIN, [b"AUTH PLAIN <redacted>"], id="plain"),
        pytest.param(
            AuthMechanism.LOGIN, [b"AUTH LOGIN", b"<redacted>", b"<redacted>"], id="login"
        ),
    ],
)
async def test_correct_credentials_over_starttls_log_in(
    auth_server: Callable[..., Awaitable[Served]],
    cafile: str,
    mechanism: AuthMechanism,
    commands: list[bytes],
) -> None:
    served = await auth_server()
    report = await run(
        served, cafile, auth_user=USER, auth_password=PASSWORD, auth_mechanism=mechanism
    )
    found = read(report.finding("auth"))
    assert found is not None and found.status is Status.OK, found
    assert found.data["code"] == 235 and found.data["authenticated"] is True
    assert found.data["mechanism"] == mechanism.value.upper() and found.data["encrypted"]
    assert auth_commands(report) == commands
    assert served.seen.calls == [(mechanism.value.upper(), USER.encode(), PASSWORD.encode())]
    # The secret really crossed the (TLS) wire; it was only kept out of the record.
    assert b"AUTH " + mechanism.value.upper().encode() in served.seen.received
    assert report.status is Status.OK


async def test_login_challenges_are_decoded_for_the_finding(
    auth_server: Callable[..., Awaitable[Served]],
    cafile: str,
) -> None:
    served = await auth_server(exclude=("PLAIN",))
    report = await run(served, cafile, auth_user=USER, auth_password=PASSWORD)
    found = read(report.finding("auth"))
    assert found is not None and found.data["mechanism"] == "LOGIN"  # auto: no PLAIN offered
    assert found.data["challenges"] == ["User Name\x00", "Password\x00"]
    assert found.data["offered"] == ["LOGIN"]


async def test_wrong_password_is_critical_535(
    auth_server: Callable[..., Awaitable[Served]],
    cafile: str,
) -> None:
    served = await auth_server()
    report = await run(served, cafile, auth_user=USER, auth_password="not-" + PASSWORD)
    found = read(report.finding("auth"))
    assert found is not None and found.status is Status.CRITICAL
    assert found.data["code"] == 535 and found.data["enhanced"] == "5.7.8"
    assert found.reason == "rejected"
    assert found.summary == KB.finding_words("auth", "rejected")["summary"].format(
        user=USER, mechanism="PLAIN", code=535, text="5.7.8 Authentication credentials invalid"
    )
    assert found.advice.startswith(KB.finding_words("auth", "rejected")["advice"])
    assert report.status.exit_code == 2


async def test_echoed_credentials_are_scrubbed_from_the_reply(
    auth_server: Callable[..., Awaitable[Served]],
    cafile: str,
) -> None:
    served = await auth_server(echo=True)
    for mechanism in (AuthMechanism.PLAIN, AuthMechanism.LOGIN):
        report = await run(
            served, cafile, auth_user=USER, auth_password=PASSWORD, auth_mechanism=mechanism
        )
        last = [ex for ex in report.session.exchanges if ex.phase == "AUTH"][-1]
        assert last.reply is not None and last.reply.code == 535
        assert last.reply.lines[0].startswith(f"5.7.8 Bad credentials {USER} <redacted>")
        assert_no_secret("\n".join(last.reply.lines))
        assert_no_secret(last.reply.raw.decode())
        found = read(report.finding("auth"))
        assert found is not None and found.status is Status.CRITICAL
        assert_no_secret(found.summary + found.advice)


async def test_report_repr_holds_no_secret(
    auth_server: Callable[..., Awaitable[Served]],
    cafile: str,
) -> None:
    served = await auth_server(echo=True)
    report = await run(
        served, cafile, auth_user=USER, auth_password=PASSWORD, auth_mechanism=AuthMechanism.LOGIN
    )
    assert "<redacted>" in repr(report)
    assert_no_secret(repr(report))
    assert_no_secret(repr(ProbeOptions(auth_user=USER, auth_password=PASSWORD)))


# -- nothing sent without TLS ---------------------------------------------------------------


async def test_plaintext_connection_sends_no_credentials(
    auth_server: Callable[..., Awaitable[Served]],
) -> None:
    served = await auth_server(require_tls=False, starttls=False)  # AUTH offered in clear
    report = await run(served, auth_user=USER, auth_password=PASSWORD)
    assert b"AUTH" not in served.seen.received.upper() and served.seen.calls == []
    assert_no_secret(served.seen.received.decode("latin-1"))
    assert auth_commands(report) == []
    found = read(report.finding("auth"))
    assert found is not None and found.status is Status.UNKNOWN
    assert report.session.auth_skipped == "plaintext"
    assert found.data["offered"] == ["LOGIN", "PLAIN"]
    assert "--tls starttls" in found.advice and "--allow-plaintext-auth" in found.advice


async def test_allow_plaintext_auth_logs_in_but_warns(
    auth_server: Callable[..., Awaitable[Served]],
) -> None:
    served = await auth_server(require_tls=False, starttls=False)
    report = await run(served, auth_user=USER, auth_password=PASSWORD, allow_plaintext_auth=True)
    found = read(report.finding("auth"))
    assert found is not None and found.status is Status.WARNING
    assert found.data["authenticated"] is True and found.data["encrypted"] is False
    assert served.seen.calls == [("PLAIN", USER.encode(), PASSWORD.encode())]


async def test_auth_offered_only_after_starttls_is_not_offered_in_clear(
    auth_server: Callable[..., Awaitable[Served]],
) -> None:
    served = await auth_server()  # aiosmtpd's default: AUTH only inside TLS
    report = await run(served, auth_user=USER, auth_password=PASSWORD, allow_plaintext_auth=True)
    found = read(report.finding("auth"))
    assert found is not None and found.status is Status.WARNING
    # Said in clear, so the summary points at STARTTLS (issue: not after TLS, only before).
    assert found.reason == "not-offered-plaintext" and auth_commands(report) == []
    assert "STARTTLS" in found.summary
    assert b"AUTH" not in served.seen.received


async def test_no_auth_user_means_no_auth_step(
    auth_server: Callable[..., Awaitable[Served]],
    cafile: str,
) -> None:
    served = await auth_server()
    report = await run(served, cafile, auth_password=PASSWORD)
    found = read(report.finding("auth"))
    assert found is not None and found.status is Status.OK and found.data == {"tested": False}
    assert b"AUTH" not in served.seen.received


# -- every RFC 4954 §6 outcome, from a line server ----------------------------------------


@dataclass
class Script:
    """A plain-text server: EHLO lists *auth*, AUTH gets *challenges* then *final*."""

    auth: str = "AUTH PLAIN LOGIN"
    challenges: tuple[str, ...] = ()
    final: str = "235 2.7.0 Authentication successful"
    received: list[bytes] = field(default_factory=list)


@pytest.fixture
async def line_server() -> AsyncIterator[Callable[[Script], Awaitable[Served]]]:
    servers: list[asyncio.Server] = []
    writers: list[asyncio.StreamWriter] = []

    async def start(script: Script) -> Served:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writers.append(writer)
            writer.write(b"220 mx.test ESMTP\r\n")
            queue: list[str] = []
            while line := await reader.readline():
                script.received.append(line)
                command = line.strip().decode()
                if command == "*":
                    queue, reply = [], "501 5.7.0 Authentication cancelled"
                elif queue:
                    reply = queue.pop(0)
                elif command.upper().startswith("EHLO"):
                    reply = f"250-mx.test\r\n250 {script.auth}"
                elif command.upper().startswith("AUTH"):
                    queue = [*script.challenges, script.final]
                    reply = queue.pop(0)
                elif command.upper() == "QUIT":
                    writer.write(b"221 2.0.0 Bye\r\n")
                    break
                else:
                    reply = "250 2.0.0 Ok"
                writer.write(reply.encode() + b"\r\n")
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0, family=socket.AF_INET)
        servers.append(server)
        return Served("127.0.0.1", server.sockets[0].getsockname()[1], Seen())

    yield start
    await close_servers(servers, writers)


@pytest.mark.parametrize(
    ("final", "status", "key"),
    [
        ("535 5.7.8 Authentication credentials invalid", Status.CRITICAL, "auth_rejected"),
        ("534 5.7.9 Authentication mechanism is too weak", Status.CRITICAL, "auth_too_weak"),
        ("454 4.7.0 Temporary authentication failure", Status.CRITICAL, "auth_temporary"),
        ("432 4.7.12 A password transition is needed", Status.CRITICAL, "auth_transition"),
        (
            "538 5.7.11 Encryption required for requested authentication mechanism",
            Status.WARNING,
            "auth_encryption_required",
        ),
        ("530 5.7.0 Must issue a STARTTLS command first", Status.WARNING, "auth_tls_first"),
        ("504 5.5.4 Unrecognized authentication type", Status.WARNING, "auth_mechanism_unknown"),
        ("503 5.5.1 Error: authentication not enabled", Status.WARNING, "auth_out_of_sequence"),
        ("501 5.5.2 Can't decode base64", Status.WARNING, "auth_failed"),
        ("235 2.7.0 Authentication successful", Status.WARNING, "auth_ok_plaintext"),
    ],
    ids=lambda value: value if isinstance(value, str) and value.startswith("auth") else None,
)
async def test_each_final_code_is_explained(
    line_server: Callable[[Script], Awaitable[Served]],
    final: str,
    status: Status,
    key: str,
) -> None:
    script = Script(final=final)
    served = await line_server(script)
    report = await run(served, auth_user=USER, auth_password=PASSWORD, allow_plaintext_auth=True)
    found = read(report.finding("auth"))
    code, text = final.split(" ", 1)
    assert found is not None and found.status is status, found
    assert found.data["code"] == int(code)
    reason = key.removeprefix("auth_").replace("_", "-")
    words = KB.finding_words("auth", reason)
    assert found.reason == reason
    assert found.summary == words["summary"].format(
        user=USER, mechanism="PLAIN", code=code, text=text, offered="PLAIN LOGIN"
    )
    if key != "auth_ok_plaintext":
        assert found.advice.startswith(words["advice"].format(offered="PLAIN LOGIN"))
    assert script.received[1].startswith(b"AUTH PLAIN ")  # sent as asked: in clear


async def test_454_advice_says_not_to_ask_again(
    line_server: Callable[[Script], Awaitable[Served]],
) -> None:
    served = await line_server(Script(final="454 4.7.0 Temporary authentication failure"))
    report = await run(served, auth_user=USER, auth_password=PASSWORD, allow_plaintext_auth=True)
    found = read(report.finding("auth"))
    assert found is not None and "RFC 4954 §6" in found.advice and "Do not" in found.advice


async def test_old_style_auth_equals_login_is_understood(
    line_server: Callable[[Script], Awaitable[Served]],
) -> None:
    script = Script(auth="AUTH=LOGIN", challenges=("334 VXNlcm5hbWU6", "334 UGFzc3dvcmQ6"))
    served = await line_server(script)
    report = await run(served, auth_user=USER, auth_password=PASSWORD, allow_plaintext_auth=True)
    found = read(report.finding("auth"))
    assert found is not None and found.data["mechanism"] == "LOGIN"
    assert found.data["challenges"] == ["Username:", "Password:"]
    assert script.received[1:4] == [
        b"AUTH LOGIN\r\n",
        _b64(USER).encode() + b"\r\n",
        _b64(PASSWORD).encode() + b"\r\n",
    ]
    assert auth_commands(report) == [b"AUTH LOGIN", b"<redacted>", b"<redacted>"]


async def test_endless_challenges_are_cancelled_with_a_star(
    line_server: Callable[[Script], Awaitable[Served]],
) -> None:
    challenges = ("334 VXNlcm5hbWU6", "334 UGFzc3dvcmQ6", "334 TW9yZTo=")
    served = await line_server(Script(challenges=challenges))
    report = await run(
        served,
        auth_user=USER,
        auth_password=PASSWORD,
        allow_plaintext_auth=True,
        auth_mechanism=AuthMechanism.LOGIN,
    )
    assert auth_commands(report) == [b"AUTH LOGIN", b"<redacted>", b"<redacted>", b"*"]
    found = read(report.finding("auth"))
    assert found is not None and found.status is Status.WARNING and found.data["code"] == 334
    assert found.summary == KB.finding_words("auth", "cancelled")["summary"].format(
        mechanism="LOGIN", code=334, text="TW9yZTo="
    )


async def test_unknown_mechanisms_only_send_nothing(
    line_server: Callable[[Script], Awaitable[Served]],
) -> None:
    script = Script(auth="AUTH DIGEST-MD5 GSSAPI XOAUTH2")  # XOAUTH2 only with a token
    served = await line_server(script)
    report = await run(served, auth_user=USER, auth_password=PASSWORD, allow_plaintext_auth=True)
    found = read(report.finding("auth"))
    assert found is not None and found.status is Status.UNKNOWN
    assert report.session.auth_skipped == "no-mechanism"
    assert "DIGEST-MD5 GSSAPI XOAUTH2" in found.summary
    assert found.data["obsolete"] == ["DIGEST-MD5"]
    assert "RFC 6331" in found.summary and "confAUTH_MECHANISMS" in found.advice
    assert not any(line.upper().startswith(b"AUTH") for line in script.received)


async def test_bad_credentials_are_refused_before_connecting(closed_port: int) -> None:
    from smtpprobe.errors import UsageError

    for user, password in (
        ("", PASSWORD),
        (USER, ""),
        (USER, "a\0b"),
        ("a\nb", PASSWORD),
        (USER, None),
    ):
        options = ProbeOptions(port=closed_port, auth_user=user, auth_password=password)
        with pytest.raises(UsageError) as caught:
            await probe("127.0.0.1", options=options)
        if password:
            assert password not in english(caught.value)[0]


# -- through the CLI: redaction in every format, and where the password comes from --------


def _cli(served: Served, cafile: str, *extra: str) -> list[str]:
    return [
        "probe",
        f"{served.host}:{served.port}",
        "--tls",
        "starttls",
        "--cafile",
        cafile,
        "--only",
        "quit",
        "--auth-user",
        USER,
        *extra,
    ]


@pytest.mark.parametrize("mechanism", ["plain", "login"])
@pytest.mark.parametrize("output_format", ["json", "text"])
def test_cli_output_never_shows_the_secret(
    threaded_auth_server: Callable[..., Served],
    cafile: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    mechanism: str,
    output_format: str,
) -> None:
    served = threaded_auth_server(echo=True)
    monkeypatch.setenv("SMTP_TEST_PASSWORD", PASSWORD)
    code = main(
        _cli(
            served,
            cafile,
            "--auth-password-env",
            "SMTP_TEST_PASSWORD",
            "--auth-mechanism",
            mechanism,
            "--format",
            output_format,
            "-v",
        )
    )
    out, err = capsys.readouterr()
    assert code == 2, err
    assert_no_secret(out + err)
    assert "<redacted>" in out and "<redacted>" in err  # -v shows the lines, redacted
    assert served.seen.calls == [(mechanism.upper(), USER.encode(), PASSWORD.encode())]
    if output_format == "json":
        doc = json.loads(out)
        assert doc["findings"]["auth"]["status"] == "critical"
        assert doc["findings"]["auth"]["code"] == 535


def test_cli_password_from_the_environment_logs_in(
    threaded_auth_server: Callable[..., Served],
    cafile: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served = threaded_auth_server()
    monkeypatch.setenv("SMTP_TEST_PASSWORD", PASSWORD)
    code = main(
        _cli(served, cafile, "--auth-password-env", "SMTP_TEST_PASSWORD", "--format", "json")
    )
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert code == 0, err
    assert doc["findings"]["auth"]["status"] == "ok" and doc["findings"]["auth"]["code"] == 235
    assert [e["command"] for e in doc["exchanges"] if e["phase"] == "AUTH"] == [
        "AUTH PLAIN <redacted>"
    ]


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        pytest.param(
            ["--auth-user", USER, "--auth-password-env", "SMTP_TEST_UNSET"],
            None,
            "SMTP_TEST_UNSET is not set",
            id="unset-variable",
        ),
        pytest.param(
            ["--auth-user", USER, "--auth-password-env", "SMTP_TEST_EMPTY"],
            "",
            "SMTP_TEST_EMPTY is empty",
            id="empty-variable",
        ),
        pytest.param(
            ["--auth-password-env", "SMTP_TEST_EMPTY"],
            PASSWORD,
            "--auth-password-env needs --auth-user",
            id="no-user",
        ),
        pytest.param(
            ["--auth-user", USER, "--auth-password-env", "SMTP_TEST_EMPTY", "--skip", "auth"],
            PASSWORD,
            "--skip auth",
            id="skip-auth",
        ),
        pytest.param(
            ["--auth-user", USER], None, "no password: set --auth-password-env", id="no-tty"
        ),
    ],
)
def test_cli_bad_password_source_is_unknown(
    closed_port: int,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    env: str | None,
    message: str,
) -> None:
    monkeypatch.delenv("SMTP_TEST_UNSET", raising=False)
    if env is not None:
        monkeypatch.setenv("SMTP_TEST_EMPTY", env)
    code = main(["probe", f"127.0.0.1:{closed_port}", *argv])
    out, err = capsys.readouterr()
    assert code == 3 and message in err and out == ""
    assert_no_secret(err)


def test_no_password_option_exists(capsys: pytest.CaptureFixture[str]) -> None:
    """The password can never be given on the command line (ps, shell history)."""
    assert main(["probe", "--help"]) == 0
    help_text = capsys.readouterr().out
    assert "--auth-password-env" in help_text
    assert "--auth-password " not in help_text and "--password" not in help_text
    assert main(["probe", "127.0.0.1", "--auth-password", PASSWORD]) == 3


@pytest.mark.slow
def test_stdin_not_a_terminal_exits_3_without_prompting(closed_port: int) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "smtpprobe",
            "probe",
            f"127.0.0.1:{closed_port}",
            "--auth-user",
            USER,
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert result.returncode == 3, result.stderr
    assert "no password: set --auth-password-env" in result.stderr
    assert "Password for" not in result.stdout + result.stderr


# A parent that gives smtpprobe a real terminal (pty.fork makes it the controlling one, as
# getpass wants), types the password once the prompt shows, and relays everything.
_PTY_DRIVER = r"""
import os, pty, select, sys
password, argv = sys.argv[1], sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.executable, [sys.executable, "-m", "smtpprobe", *argv])
seen, typed = b"", False
while True:
    ready, _, _ = select.select([fd], [], [], 20)
    if not ready:
        break
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    seen += chunk
    if not typed and b"Password for" in seen:
        os.write(fd, password.encode() + b"\n")
        typed = True
_, status = os.waitpid(pid, 0)
sys.stdout.write(seen.decode("utf-8", "replace"))
sys.exit(os.waitstatus_to_exitcode(status))
"""


@pytest.mark.slow
def test_prompt_on_a_terminal_hides_the_password(
    threaded_auth_server: Callable[..., Served],
    cafile: str,
) -> None:
    served = threaded_auth_server()
    result = subprocess.run(
        [sys.executable, "-c", _PTY_DRIVER, PASSWORD, *_cli(served, cafile, "--format", "json")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert "Password for alice" in result.stdout, result.stdout + result.stderr
    assert_no_secret(result.stdout)  # not echoed by the terminal, not in the output
    document = json.loads(result.stdout[result.stdout.index("{") :].replace("\r\n", "\n"))
    assert document["findings"]["auth"]["status"] == "ok", document["findings"]["auth"]
    assert result.returncode == 0
    assert served.seen.calls == [("PLAIN", USER.encode(), PASSWORD.encode())]
