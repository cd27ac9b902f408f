"""A server that echoes the credentials back in every shape it can: no form of the secret
reaches any output (text, rich, ``-v``, JSON, JUnit, Nagios, errors, ``repr``).

One scripted server (`echo_server`) plays the shape a test sets: where the echo goes (the
AUTH reply, a 334 challenge, an unsolicited reply after 235, HELP, VRFY, a partial reply,
an over-long line), how the secret is written (plain, case-folded, BASE64 at any offset,
padded or not, hex, URL-encoded, the PLAIN message), split across the lines of one reply
or straddling the point where the probe cuts its evidence. A hypothesis property draws
random shapes and runs the CLI in every format against each.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smtpprobe.probe import probe
from smtpprobe.report import AuthMechanism, ProbeOptions, TlsMode
from smtpprobe.wire import PARTIAL_OCTETS
from tests.hostile import (
    BANNER,
    HostileServer,
    Script,
    read_command,
    run_cli,
    serve_in_thread,
)

# Every place x writing x mechanism, through a real socket: seconds, not milliseconds.
pytestmark = pytest.mark.slow

USER = "alice"
ENV = "SMTPPROBE_TEST_SECRET"
_EHLO = b"250-mx.hostile.test\r\n250-AUTH PLAIN LOGIN CRAM-MD5 XOAUTH2\r\n250 HELP\r\n"
# Every mechanism the probe speaks; with xoauth2 the secret is the token.
MECHANISMS = ("plain", "login", "cram-md5", "xoauth2")
# Where the server puts the echo.
PLACES = (
    "auth-reply",
    "challenge",
    "after-235",
    "after-235-later",
    "help",
    "help-split",
    "vrfy",
    "partial",
    "long-line",
    "unsolicited-long",
)
# How it writes the secret (each a function of the password).
WRITINGS = (
    "plain",
    "upper",
    "lower",
    "swapcase",
    "base64",
    "base64-unpadded",
    "base64-inside",
    "hex",
    "hex-upper",
    "url",
    "plain-message",
    "plain-message-unpadded",
    "login-user",
)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def written(password: str, writing: str, prefix: bytes = b"x") -> str:
    """*password* as the server writes it back."""
    plain = f"\0{USER}\0{password}".encode()
    return {
        "plain": password,
        "upper": password.upper(),
        "lower": password.lower(),
        "swapcase": password.swapcase(),
        "base64": _b64(password.encode()),
        "base64-unpadded": _b64(password.encode()).rstrip("="),
        "base64-inside": _b64(prefix + b"your password is " + password.encode() + b"!"),
        "hex": password.encode().hex(),
        "hex-upper": password.encode().hex().upper(),
        "url": quote(password, safe=""),
        "plain-message": _b64(plain),
        "plain-message-unpadded": _b64(plain).rstrip("="),
        "login-user": _b64(USER.encode()),
    }[writing]


def forbidden(password: str) -> list[str]:
    """What must appear nowhere, compared case-folded."""
    plain = f"\0{USER}\0{password}".encode()
    unpadded = _b64(password.encode()).rstrip("=")
    return [
        password,
        password[:-1],
        unpadded[:-1],
        _b64(plain).rstrip("=")[:-1],
        password.encode().hex(),
        quote(password, safe=""),
        _b64(USER.encode()).rstrip("="),
    ]


@dataclasses.dataclass
class Shape:
    """One echo: the mechanism the probe uses, where the echo goes, the text echoed."""

    mechanism: str = "plain"
    place: str = "help"
    echo: str = ""
    split: int = 1
    # The echo's pieces carry the secret (not so when it sits inside a longer BASE64 text).
    pieces_secret: bool = True

    @property
    def half(self) -> int:
        """Where the echo is split across lines, or where the probe's cut falls into it."""
        if self.place == "unsolicited-long":
            return len(self.echo) // 2
        return max(1, min(self.split, len(self.echo) - 1))

    def pieces(self) -> list[str]:
        """The echo and the two parts a split or a cut makes, where long enough to tell."""
        echo = self.echo
        parts = (echo, echo[: self.half], echo[self.half :]) if self.pieces_secret else (echo,)
        # Long enough, and not a plain word, so that ordinary report text cannot match it.
        return [p for p in parts if len(p) >= 10 or len(p) >= 6 and not p.isalpha()]


def _pad_to(offset: int, before: bytes, at: int) -> bytes:
    """Filler so that what follows ``before + filler`` starts *at* bytes before *offset*."""
    return b"f" * max(0, offset - at - len(before))


async def _reply_for(shape: Shape, verb: bytes, writer: asyncio.StreamWriter) -> bool:
    """Send the echo where *shape* puts it for *verb*; False to end the connection."""
    echo, half = shape.echo.encode(), shape.half
    if verb == b"HELP" and shape.place == "help":
        writer.write(b"214 2.0.0 you said " + echo + b"\r\n")
    elif verb == b"HELP" and shape.place == "help-split":
        writer.write(b"214-2.0.0 you said " + echo[:half] + b"\r\n214 " + echo[half:] + b"\r\n")
    elif verb == b"HELP" and shape.place == "partial":
        head = b"214-2.0.0 "
        filler = _pad_to(PARTIAL_OCTETS, head, half)
        writer.write(head + filler + echo)  # no line end: the reply never completes
        await writer.drain()
        return False
    elif verb == b"HELP" and shape.place == "long-line":
        head = b"214 "
        writer.write(head + _pad_to(200, head, half) + echo + b"y" * 9000 + b"\r\n")
    elif verb == b"VRFY" and shape.place == "vrfy":
        writer.write(b"252 2.0.0 " + echo + b"\r\n")
    else:
        writer.write({b"EHLO": _EHLO, b"QUIT": b"221 2.0.0 Bye\r\n"}.get(verb, b"250 OK\r\n"))
    await writer.drain()
    return verb != b"QUIT"


async def _auth(
    shape: Shape, command: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    echo = shape.echo.encode()
    if shape.mechanism == "cram-md5":
        challenge = echo if shape.place == "challenge" else b"PDEyMzRAbXguaG9zdGlsZS50ZXN0Pg=="
        writer.write(b"334 " + challenge + b"\r\n")
        await writer.drain()
        if await read_command(reader) in (None, b"*"):
            return
    elif shape.mechanism == "login":
        for prompt in (b"VXNlcm5hbWU6", b"UGFzc3dvcmQ6"):
            challenge = echo if shape.place == "challenge" else prompt
            writer.write(b"334 " + challenge + b"\r\n")
            await writer.drain()
            if await read_command(reader) in (None, b"*"):
                return
    elif shape.place == "challenge":
        writer.write(b"334 " + echo + b"\r\n")
        await writer.drain()
        await read_command(reader)  # the probe cancels with "*"
    if shape.place == "auth-reply":
        writer.write(b"535 5.7.8 bad credentials " + echo + b"\r\n")
    elif shape.place == "after-235":
        writer.write(b"235 2.7.0 ok\r\n250 2.0.0 by the way: " + echo + b"\r\n")
    elif shape.place == "unsolicited-long":
        extra = b"250 " + _pad_to(PARTIAL_OCTETS, b"250 ", shape.half) + echo
        writer.write(b"235 2.7.0 ok\r\n" + extra + b"\r\n")
    else:
        writer.write(b"235 2.7.0 ok\r\n")
    if shape.place == "after-235-later":
        await writer.drain()
        await asyncio.sleep(0.05)  # a segment of its own, after the probe moved on
        writer.write(b"250 2.0.0 late: " + echo + b"\r\n")
    await writer.drain()


def echo_server(shape: Shape) -> Script:
    """The scripted server for *shape* (read when a connection starts, so tests may change it)."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(BANNER)
        await writer.drain()
        while (command := await read_command(reader)) is not None:
            verb = command.split(b" ", 1)[0].upper()
            if verb == b"AUTH":
                await _auth(shape, command, reader, writer)
            elif not await _reply_for(shape, verb, writer):
                return

    return script


@pytest.fixture(scope="module")
def echoing() -> Iterator[tuple[Shape, HostileServer]]:
    shape = Shape()
    with serve_in_thread(echo_server(shape)) as server:
        yield shape, server


FORMATS = (("text",), ("rich",), ("text", "-v"), ("json",), ("junit",), ("nagios",))


def _run_all(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    server: HostileServer,
    shape: Shape,
    password: str,
) -> list[str]:
    """Every view of one probe of *server*: stdout and stderr of each format, and repr."""
    monkeypatch.setenv(ENV, password)
    secret = "--auth-token-env" if shape.mechanism == "xoauth2" else "--auth-password-env"
    outputs = []
    for output_format, *extra in FORMATS:
        color = output_format == "rich"
        with monkeypatch.context() as patch:
            patch.setattr(
                "smtpprobe.commands._common.use_color", lambda stream=None, color=color: color
            )
            run = run_cli(
                capsys,
                "probe",
                server.target,
                "--tls",
                "none",
                "--timeout",
                "3",
                "--allow-plaintext-auth",
                "--auth-user",
                USER,
                secret,
                ENV,
                "--auth-mechanism",
                shape.mechanism,
                "--format",
                "text" if color else output_format,
                *extra,
            )
        assert "Traceback" not in run.err and "internal error" not in run.err, run.err
        outputs.append(run.out + run.err)
    token = shape.mechanism == "xoauth2"
    options = ProbeOptions(
        port=server.port,
        tls=TlsMode.NONE,
        deadline=3,
        auth_user=USER,
        auth_password=None if token else password,
        auth_token=password if token else None,
        allow_plaintext_auth=True,
        auth_mechanism=AuthMechanism(shape.mechanism),
    )
    outputs.append(repr(asyncio.run(probe(server.host, options=options))))
    return outputs


def assert_no_secret(outputs: list[str], password: str, shape: Shape) -> None:
    """No form of *password*, nor the echo or a part of it, in any output."""
    for output in outputs:
        folded = output.lower()
        for form in [*forbidden(password), *shape.pieces()]:
            assert form.lower() not in folded, f"{form!r} shows in:\n{output[-3000:]}"


# Letters, digits and the symbols URL-encoding and BASE64 care about; long enough, and
# with a digit and a symbol, so that it cannot be an ordinary word of the report by chance.
_SYMBOLS = "!#$%&*+-./:;=?@^_~"
passwords = st.text(
    "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789!#$%&*+-./:;=?@^_~ ",
    min_size=10,
    max_size=24,
).filter(lambda p: p.strip() == p and any(c.isdigit() for c in p) and any(c in _SYMBOLS for c in p))


@pytest.mark.parametrize("place", PLACES)
def test_each_place_of_the_echo_is_redacted_in_every_view(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    echoing: tuple[Shape, HostileServer],
    place: str,
) -> None:
    shape, server = echoing
    password = "S3cr3t-Pa55!word"
    for mechanism in MECHANISMS:
        shape.mechanism, shape.place, shape.split = mechanism, place, 7
        shape.pieces_secret = True
        shape.echo = written(password, "plain")
        outputs = _run_all(capsys, monkeypatch, server, shape, password)
        assert_no_secret(outputs, password, shape)
        assert any("<redacted>" in output for output in outputs)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    password=passwords,
    place=st.sampled_from(PLACES),
    writing=st.sampled_from(WRITINGS),
    mechanism=st.sampled_from(MECHANISMS),
    split=st.integers(1, 40),
    prefix=st.binary(min_size=0, max_size=5),
)
def test_no_echo_shape_shows_the_secret_anywhere(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    echoing: tuple[Shape, HostileServer],
    password: str,
    place: str,
    writing: str,
    mechanism: str,
    split: int,
    prefix: bytes,
) -> None:
    shape, server = echoing
    shape.mechanism, shape.place, shape.split = mechanism, place, split
    shape.echo = written(password, writing, prefix)
    shape.pieces_secret = writing != "base64-inside"
    outputs = _run_all(capsys, monkeypatch, server, shape, password)
    assert_no_secret(outputs, password, shape)
