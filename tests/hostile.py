"""Hostile SMTP servers for tests and benchmarks: broken, slow, lying or malicious on purpose.

aiosmtpd is too well behaved to misbehave like this, so every behaviour here is a small
named *script* on plain asyncio streams: ``async def script(reader, writer) -> None``,
run once per connection. Scripts that take parameters are factories that return one
(``garbage(code=b"999")``, ``disconnect_after("EHLO")``, ``tls_upgrade(context)``).

Serve a script on 127.0.0.1 with a free port:

- in the test's own event loop (API tests)::

      async with serve(silent) as server:
          report = await probe(server.host, options=ProbeOptions(port=server.port))

- in a thread with its own loop (CLI tests and benchmarks, which call ``asyncio.run``)::

      with serve_in_thread(escape_banner) as server:
          exit_code = main(["probe", server.target, "--tls", "none"])

Both yield a `HostileServer`: where it listens, the command lines it received, and any
exception a script raised that is not the client going away (``script_errors``).

Every script is bounded: each connection is cut after `SCRIPT_LIMIT` seconds, the
"endless" ones also stop as soon as the client goes away, and leaving ``serve`` cancels
whatever still runs. Import as ``tests.hostile`` with the repository root on
``sys.path`` (``python3 -m pytest`` does this), or by path from a benchmark::

    spec = importlib.util.spec_from_file_location("hostile", "tests/hostile.py")
    hostile = importlib.util.module_from_spec(spec); spec.loader.exec_module(hostile)
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import queue
import random
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pytest
    import trustme

__all__ = [
    "BANNER",
    "CliRun",
    "DOMAIN",
    "ESCAPES",
    "SCRIPT_LIMIT",
    "HostileServer",
    "Script",
    "bare_lf",
    "converse",
    "disconnect_after",
    "drip_banner",
    "endless_multiline",
    "escape_banner",
    "extra_reply",
    "garbage",
    "invalid_utf8",
    "megabyte_line",
    "mixed_codes",
    "nul_bytes",
    "plaintext_after_starttls",
    "random_bytes",
    "read_command",
    "run_cli",
    "serve",
    "serve_in_thread",
    "self_signed_context",
    "server_context",
    "silent",
    "stall_after_starttls",
    "starttls_injection",
    "starttls_refused",
    "stop_mid_reply",
    "tls_upgrade",
    "until_gone",
]

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
"""One connection's behaviour: read commands from *reader*, write bytes to *writer*."""

DOMAIN = "mx.hostile.test"
BANNER = b"220 mx.hostile.test ESMTP hostile\r\n"
# No connection lives longer than this, whatever its script does ("endless" included).
SCRIPT_LIMIT = 10.0
# Terminal attacks in one string: OSC 0 (set the window title), CSI 2J (clear the screen),
# SGR colour, a C1 CSI (U+009B, two bytes in UTF-8) and rich console markup.
ESCAPES = b"\x1b]0;pwned\x07\x1b[2J\x1b[31m[bold red]x[/]\xc2\x9b2J"

_EHLO = b"250-mx.hostile.test greets you\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 HELP\r\n"
_EHLO_STARTTLS = b"250-mx.hostile.test greets you\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 HELP\r\n"
_REPLIES: Mapping[bytes, bytes] = {
    b"HELP": b"214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY\r\n",
    b"VRFY": b"252 2.0.0 Cannot VRFY user, but will accept message\r\n",
    b"EXPN": b"502 5.5.1 EXPN not implemented\r\n",
    b"HELO": b"250 mx.hostile.test\r\n",
}

_commands: contextvars.ContextVar[list[bytes]] = contextvars.ContextVar("hostile_commands")


@dataclass
class HostileServer:
    """A running hostile server: address, what it heard, and its scripts' own failures."""

    host: str
    port: int
    commands: list[bytes] = field(default_factory=list)
    connections: int = 0
    script_errors: list[BaseException] = field(default_factory=list)

    @property
    def target(self) -> str:
        """``host:port`` for the CLI."""
        return f"{self.host}:{self.port}"


# -- building blocks ------------------------------------------------------------------------


async def until_gone(reader: asyncio.StreamReader) -> None:
    """Read and drop everything until the client closes the connection."""
    while await reader.read(65536):
        pass


async def read_command(reader: asyncio.StreamReader) -> bytes | None:
    """The next command line (CRLF stripped, recorded on the server), None at EOF."""
    try:
        line = await reader.readuntil(b"\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        return None
    command = line.rstrip(b"\r\n")
    with contextlib.suppress(LookupError):
        _commands.get().append(command)
    return command


def _verb(command: bytes) -> bytes:
    words = command.split(None, 1)
    return words[0].upper() if words else b""


async def _send(writer: asyncio.StreamWriter, data: bytes) -> None:
    writer.write(data)
    await writer.drain()


async def converse(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    *,
    banner: bytes | None = BANNER,
    replies: Mapping[bytes, bytes] = {},
    starttls: ssl.SSLContext | None = None,
    after_ready: bytes = b"",
    line_ending: bytes = b"\r\n",
) -> None:
    """A plausible ESMTP server: banner, then one reply per command until QUIT or EOF.

    :param replies: reply bytes by upper-case verb, over the defaults (214 HELP, 252 VRFY,
        502 EXPN, 250 for anything else).
    :param starttls: advertise STARTTLS and upgrade with this context after ``220``.
    :param after_ready: bytes sent in the same write as ``220 Ready to start TLS``
        (RFC 3207 §4.2 forbids any; the CVE-2011-0411 injection).
    :param line_ending: every CRLF written is replaced by this (``b"\\n"`` for bare LF).
    """

    def fix(data: bytes) -> bytes:
        return data.replace(b"\r\n", line_ending)

    in_tls = False
    if banner is not None:
        await _send(writer, fix(banner))
    while (command := await read_command(reader)) is not None:
        verb = _verb(command)
        if verb == b"QUIT":
            await _send(writer, fix(replies.get(verb, b"221 2.0.0 Bye\r\n")))
            return
        if verb == b"STARTTLS" and starttls is not None and not in_tls and verb not in replies:
            await _send(writer, fix(b"220 2.0.0 Ready to start TLS\r\n") + after_ready)
            await writer.start_tls(starttls)
            in_tls = True
            continue
        ehlo = _EHLO_STARTTLS if starttls is not None and not in_tls else _EHLO
        default = ehlo if verb == b"EHLO" else _REPLIES.get(verb, b"250 2.0.0 OK\r\n")
        await _send(writer, fix(replies.get(verb, default)))


async def _banner_then(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    ehlo_reply: Callable[[asyncio.StreamWriter], Awaitable[None]],
) -> None:
    """Greet, wait for EHLO (or HELO), answer it with *ehlo_reply*, then wait for the end."""
    await _send(writer, BANNER)
    command = await read_command(reader)
    if command is None:
        return
    await ehlo_reply(writer)
    await until_gone(reader)


# -- deadlines -----------------------------------------------------------------------------


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accept the connection and never say a word."""
    await until_gone(reader)


def drip_banner(interval: float = 0.2, banner: bytes = BANNER) -> Script:
    """A greeting that arrives one byte every *interval* seconds (a tarpit)."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for byte in banner:
            await _send(writer, bytes([byte]))
            await asyncio.sleep(interval)
        await converse(reader, writer, banner=None)

    return script


def endless_multiline(interval: float = 0.0) -> Script:
    """EHLO answered by ``250-`` lines that never end: flooded, or one per *interval*."""

    async def reply(writer: asyncio.StreamWriter) -> None:
        n = 0
        while not writer.is_closing():
            batch = 1 if interval else 256
            await _send(
                writer,
                b"".join(
                    b"250-line %d of a reply that never ends\r\n" % (n + i) for i in range(batch)
                ),
            )
            n += batch
            await asyncio.sleep(interval)

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _banner_then(reader, writer, reply)

    return script


async def megabyte_line(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """EHLO answered by one line of a mebibyte (the hard cap is 8192 octets)."""

    async def reply(writer: asyncio.StreamWriter) -> None:
        await _send(writer, b"250 " + b"A" * (1 << 20) + b"\r\n")

    await _banner_then(reader, writer, reply)


async def stop_mid_reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Half an EHLO reply, then silence with the connection left open."""

    async def reply(writer: asyncio.StreamWriter) -> None:
        await _send(writer, b"250-mx.hostile.test greets you\r\n250-PIPEL")

    await _banner_then(reader, writer, reply)


# -- not SMTP, or malformed ------------------------------------------------------------------


def garbage(code: bytes = b"2l4", *, at: str = "banner") -> Script:
    """A reply whose code is *code* (``b""``: no code at all), as the banner or EHLO's reply."""
    line = code + b" garbage from mx.hostile.test\r\n"
    if at == "banner":
        return lambda reader, writer: converse(reader, writer, banner=line)
    return lambda reader, writer: converse(reader, writer, replies={at.encode(): line})


async def mixed_codes(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """An EHLO reply whose lines carry 250, 220, 251, 250 (RFC 5321 §4.2.1 wants one code)."""
    ehlo = b"250-mx.hostile.test greets you\r\n220-PIPELINING\r\n251-SIZE 1000\r\n250 HELP\r\n"
    await converse(reader, writer, replies={b"EHLO": ehlo})


async def extra_reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Two replies to EHLO in one write: the second answers nothing and must not shift the
    later replies (a HELP answer read as VRFY's would fake a user-enumeration verdict)."""
    await converse(
        reader,
        writer,
        replies={b"EHLO": b"250 mx.hostile.test\r\n250 2.1.5 an extra reply nobody asked for\r\n"},
    )


async def bare_lf(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Every line ends in LF alone (RFC 5321 §2.3.8 wants CRLF)."""
    await converse(reader, writer, line_ending=b"\n")


async def invalid_utf8(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A banner and a VRFY reply holding bytes that are not UTF-8."""
    await converse(
        reader,
        writer,
        banner=b"220 mx.hostile.test caf\xe9 \xff\xfe ESMTP\r\n",
        replies={b"VRFY": b"252 2.0.0 \xc3\x28 cannot verify\r\n"},
    )


async def nul_bytes(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """NUL bytes inside the banner and a HELP reply."""
    await converse(
        reader,
        writer,
        banner=b"220 mx.hostile.test\x00ESMTP\x00\r\n",
        replies={b"HELP": b"214 2.0.0 help\x00text\r\n"},
    )


async def escape_banner(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Terminal escapes and rich markup (`ESCAPES`) in the banner, EHLO, HELP and VRFY."""
    await converse(
        reader,
        writer,
        banner=b"220 mx.hostile.test " + ESCAPES + b" ESMTP\r\n",
        replies={
            b"EHLO": b"250-mx.hostile.test " + ESCAPES + b"\r\n250-X" + ESCAPES + b"\r\n"
            b"250 HELP\r\n",
            b"HELP": b"214 " + ESCAPES + b"\r\n",
            b"VRFY": b"252 2.0.0 " + ESCAPES + b"\r\n",
            b"EXPN": b"550 5.7.1 " + ESCAPES + b"\r\n",
        },
    )


def disconnect_after(phase: str) -> Script:
    """Close the connection at *phase*.

    ``connect``: before any banner. ``banner``: right after the banner. ``EHLO``: in the
    middle of the EHLO reply. ``STARTTLS``: right after ``220 Ready to start TLS`` (STARTTLS
    is advertised). Any other verb: when that command arrives, without a reply.
    """

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if phase == "connect":
            return
        await _send(writer, BANNER)
        if phase == "banner":
            return
        ehlo = _EHLO_STARTTLS if phase == "STARTTLS" else _EHLO
        while (command := await read_command(reader)) is not None:
            verb = _verb(command).decode("ascii", "replace")
            if verb == phase == "EHLO":
                await _send(writer, ehlo[: len(ehlo) // 2])
                return
            if verb == phase == "STARTTLS":
                await _send(writer, b"220 2.0.0 Ready to start TLS\r\n")
                return
            if verb == phase:
                return
            await _send(writer, ehlo if verb == "EHLO" else b"250 2.0.0 OK\r\n")

    return script


# -- STARTTLS and TLS ------------------------------------------------------------------------


def tls_upgrade(context: ssl.SSLContext) -> Script:
    """A well-behaved server with STARTTLS, upgrading with *context* (pick the certificate)."""
    return lambda reader, writer: converse(reader, writer, starttls=context)


def starttls_injection(context: ssl.SSLContext, injected: bytes = b"250 injected\r\n") -> Script:
    """``220 Ready to start TLS`` and *injected* in one write, then a real TLS handshake."""
    return lambda reader, writer: converse(reader, writer, starttls=context, after_ready=injected)


async def starttls_refused(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Advertises STARTTLS, then answers it ``454`` (RFC 3207 §4)."""
    await converse(
        reader,
        writer,
        replies={
            b"EHLO": _EHLO_STARTTLS,
            b"STARTTLS": b"454 4.7.0 TLS not available due to temporary reason\r\n",
        },
    )


async def stall_after_starttls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Says ``220 Ready``, then never answers the TLS handshake."""
    await _send(writer, BANNER)
    while (command := await read_command(reader)) is not None:
        if _verb(command) == b"STARTTLS":
            await _send(writer, b"220 2.0.0 Ready to start TLS\r\n")
            await until_gone(reader)
            return
        await _send(writer, _EHLO_STARTTLS if _verb(command) == b"EHLO" else b"250 2.0.0 OK\r\n")


def server_context(leaf: trustme.LeafCert) -> ssl.SSLContext:
    """A server context presenting *leaf* (a trustme certificate: valid, expired, …)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(context)
    return context


def self_signed_context(*names: str) -> ssl.SSLContext:
    """A server context whose certificate signs itself (no CA anyone trusts), for *names*."""
    import ipaddress
    from datetime import datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    alternatives: list[x509.GeneralName] = []
    for name in names:
        try:
            alternatives.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alternatives.append(x509.DNSName(name))
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
        .sign(key, hashes.SHA256())
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    with tempfile.TemporaryDirectory() as folder:
        cert_path, key_path = f"{folder}/cert.pem", f"{folder}/key.pem"
        with open(cert_path, "wb") as out:
            out.write(cert.public_bytes(serialization.Encoding.PEM))
        with open(key_path, "wb") as out:
            out.write(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
        context.load_cert_chain(cert_path, key_path)
    return context


async def plaintext_after_starttls(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Says ``220 Ready``, then answers the client's TLS hello with plain SMTP text."""

    async def script_ready() -> None:
        await _send(writer, b"220 2.0.0 Ready to start TLS\r\n")
        await reader.read(1)  # the ClientHello has begun
        await _send(writer, b"250 still talking in clear\r\n")
        await until_gone(reader)

    await _send(writer, BANNER)
    while (command := await read_command(reader)) is not None:
        verb = _verb(command)
        if verb == b"STARTTLS":
            await script_ready()
            return
        await _send(writer, _EHLO_STARTTLS if verb == b"EHLO" else b"250 2.0.0 OK\r\n")


# -- fuzzing ---------------------------------------------------------------------------------

_PIECES = (
    b"220 ",
    b"250 ",
    b"250-",
    b"252 ",
    b"421 ",
    b"502 ",
    b"550 5.1.1 ",
    b"999 ",
    b"2l4 ",
    b"25",
    b"\r\n",
    b"\n",
    b"\r",
    b"\x00",
    b"\x1b[2J",
    b"\x1b]0;x\x07",
    b"\xff\xfe",
    b"[bold]x[/]",
    b"220 Ready to start TLS\r\n",
    b"mx.hostile.test",
    b" ",
    b"STARTTLS",
    b"5.7.1",
    b"-",
)
_WORDS = (
    b"mx.hostile.test",
    b"ESMTP",
    b"STARTTLS",
    b"PIPELINING",
    b"SIZE 1000",
    b"AUTH PLAIN LOGIN",
    b"HELP",
    b"2.0.0",
    b"5.1.1",
    b"4.7.0",
    b"<postmaster@mx.hostile.test>",
    b"User unknown",
    b"\x1b[2J",
    b"\xc2\x9b",
    b"\xff",
    b"\x00",
    b"[red]x[/]",
    b"",
    b"\t",
)
_CODES = (
    b"220",
    b"221",
    b"250",
    b"251",
    b"252",
    b"214",
    b"211",
    b"354",
    b"421",
    b"454",
    b"500",
    b"501",
    b"502",
    b"530",
    b"550",
    b"554",
    b"999",
    b"099",
)


def _reply(rng: random.Random, code: bytes) -> bytes:
    """A reply that is mostly well formed: one to four lines of SMTP-ish words."""
    count = rng.randint(1, 4)
    lines = [b" ".join(rng.choice(_WORDS) for _ in range(rng.randint(0, 4))) for _ in range(count)]
    return b"".join(
        code + (b" " if n == count - 1 else b"-") + text + b"\r\n" for n, text in enumerate(lines)
    )


def _garbage(rng: random.Random) -> bytes:
    return b"".join(
        rng.choice(_PIECES) if rng.random() < 0.7 else rng.randbytes(rng.randint(1, 12))
        for _ in range(rng.randint(1, 40))
    )


def random_bytes(seed: int) -> Script:
    """Seeded fuzz server: mostly-SMTP replies mixed with random bytes; may close or stall.

    The same *seed* gives the same bytes, split into the same writes, on every run; the
    first reply is a real banner more often than not, so that later phases get fuzzed too.
    """

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        rng = random.Random(seed)
        for n in range(rng.randint(1, 12)):
            action = rng.random()
            if action < 0.03:
                return  # close now
            if action < 0.05:
                await until_gone(reader)  # stall until the client's deadline
                return
            if action < 0.75:
                code = b"220" if n == 0 and rng.random() < 0.8 else rng.choice(_CODES)
                data = _reply(rng, code)
                if rng.random() < 0.2:
                    data += _garbage(rng)
            else:
                data = _garbage(rng)
            if rng.random() < 0.02:
                data += b"250-" + b"x" * rng.randint(8000, 40000)
            cuts = sorted(rng.randint(0, len(data)) for _ in range(rng.randint(0, 3)))
            for start, end in zip([0, *cuts], [*cuts, len(data)], strict=True):
                if end > start:
                    await _send(writer, data[start:end])
            if await read_command(reader) is None:
                return

    return script


# -- the CLI, as a test runs it -------------------------------------------------------------


@dataclass(frozen=True)
class CliRun:
    """What one ``smtpprobe`` run gave: exit code, stdout, stderr, wall time."""

    code: int
    out: str
    err: str
    elapsed: float

    def json(self) -> Any:
        """stdout read as the JSON document of ``--format json``."""
        return json.loads(self.out)


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> CliRun:
    """Run ``smtpprobe *argv`` in this process (`smtpprobe.cli.main`) and capture it."""
    from smtpprobe.cli import main

    capsys.readouterr()
    began = time.perf_counter()
    code = main(list(argv))
    elapsed = time.perf_counter() - began
    captured = capsys.readouterr()
    return CliRun(code, captured.out, captured.err, elapsed)


# -- serving ---------------------------------------------------------------------------------

# The client going away, or a handshake it refused, is what hostile scripts expect.
_EXPECTED = (
    ConnectionError,
    OSError,
    ssl.SSLError,
    asyncio.IncompleteReadError,
    asyncio.LimitOverrunError,
    TimeoutError,
)


@contextlib.asynccontextmanager
async def serve(
    script: Script, *, backlog: int = 128, address: tuple[str, int] = ("127.0.0.1", 0)
) -> AsyncIterator[HostileServer]:
    """Serve *script* on *address* (127.0.0.1, a free port) in the running loop until the
    block ends.

    Leaving the block closes the listener, cancels running scripts and aborts every
    connection, so no socket outlives it.
    """
    tasks: set[asyncio.Task[None]] = set()
    writers: set[asyncio.StreamWriter] = set()
    server_state = HostileServer(address[0], 0)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        writers.add(writer)
        server_state.connections += 1
        _commands.set(server_state.commands)
        try:
            async with asyncio.timeout(SCRIPT_LIMIT):
                await script(reader, writer)
        except _EXPECTED:
            pass
        except asyncio.CancelledError:
            pass  # `serve` is shutting down; end quietly (a cancelled task would be logged)
        except Exception as exc:  # a bug in the script itself: tell the test
            server_state.script_errors.append(exc)
        finally:
            writer.transport.abort()
            writers.discard(writer)
            tasks.discard(task)

    server = await asyncio.start_server(
        handle, address[0], address[1], family=socket.AF_INET, backlog=backlog
    )
    server_state.port = server.sockets[0].getsockname()[1]
    try:
        async with server:
            yield server_state
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for writer in list(writers):
            writer.transport.abort()
        await server.wait_closed()
        for _ in range(3):  # let aborted transports call connection_lost
            await asyncio.sleep(0)


@contextlib.contextmanager
def serve_in_thread(
    script: Script, *, backlog: int = 128, address: tuple[str, int] = ("127.0.0.1", 0)
) -> Iterator[HostileServer]:
    """`serve` in a thread with its own event loop, for code that calls ``asyncio.run``.

    :raises RuntimeError: the server did not start within 5 s.
    """
    started: queue.Queue[HostileServer | BaseException] = queue.Queue()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def run() -> None:
        try:
            async with serve(script, backlog=backlog, address=address) as server:
                started.put(server)
                await stop.wait()
        except BaseException as exc:  # surface start-up failures in the test thread
            started.put(exc)
            raise

    def main() -> None:
        asyncio.set_event_loop(loop)
        try:
            with contextlib.suppress(Exception):
                loop.run_until_complete(run())
        finally:
            loop.close()

    thread = threading.Thread(target=main, name="hostile-server", daemon=True)
    thread.start()
    try:
        item = started.get(timeout=5.0)
    except queue.Empty:
        raise RuntimeError("the hostile server did not start within 5 s") from None
    if isinstance(item, BaseException):
        raise RuntimeError("the hostile server failed to start") from item
    try:
        yield item
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=SCRIPT_LIMIT + 5.0)
