"""The redactor alone, at hypothesis speed: any writing of the secret, anywhere in a reply,
split over its lines or cut at its end, comes out redacted; other text is left alone."""

from __future__ import annotations

import base64
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smtpprobe.redact import REDACTED, Redactor
from smtpprobe.reply import parse_reply

USER = "alice"
_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789!#$%&*+-./:;=?@^_~"
passwords = st.text(_ALPHABET, min_size=8, max_size=30)
filler = st.text("abcdefghijklmnopqrstuvwxyz0123456789 .,:-", max_size=60)


def redactor(password: str) -> Redactor:
    found = Redactor()
    found.add_credentials(USER, password)
    return found


def writings(password: str, prefix: bytes) -> list[str]:
    data = password.encode()
    plain = f"\0{USER}\0{password}".encode()
    return [
        password,
        password.upper(),
        password.lower(),
        password.swapcase(),
        base64.b64encode(data).decode(),
        base64.b64encode(data).decode().rstrip("="),
        base64.urlsafe_b64encode(data).decode(),
        base64.b64encode(prefix + data + prefix).decode(),
        data.hex(),
        data.hex().upper(),
        quote(password, safe=""),
        base64.b64encode(plain).decode(),
        base64.b64encode(plain).decode().rstrip("="),
        quote(base64.b64encode(data).decode(), safe=""),
    ]


def visible(text: str, password: str) -> bool:
    """Whether *password*, or all but its last character, shows in *text* (case-folded)."""
    folded = text.lower()
    return password.lower() in folded or password[:-1].lower() in folded


@pytest.mark.slow
@settings(max_examples=300)
@given(
    password=passwords,
    before=filler,
    after=filler,
    choice=st.integers(0, 13),
    prefix=st.binary(max_size=4),
    cut=st.integers(1, 200),
    code=st.sampled_from((b"250", b"334", b"535", b"214")),
)
def test_every_writing_is_redacted_from_a_reply(
    password: str,
    before: str,
    after: str,
    choice: int,
    prefix: bytes,
    cut: int,
    code: bytes,
) -> None:
    echo = writings(password, prefix)[choice]
    cut = min(cut, len(echo) - 1)
    text = f"{before}{echo}{after}".encode()
    split = f"{before}{echo[:cut]}".encode(), f"{echo[cut:]}{after}".encode()
    found = redactor(password)
    one_line = found.reply(parse_reply(code + b" " + text + b"\r\n"))
    two_lines = found.reply(
        parse_reply(code + b"-" + split[0] + b"\r\n" + code + b" " + split[1] + b"\r\n")
    )
    for reply in (one_line, two_lines):
        shown = "\n".join(reply.lines) + reply.raw.decode("latin-1")
        assert echo.lower() not in shown.lower() and not visible(shown, password)
        assert REDACTED in shown
    # A piece whose rest was cut off: the piece left goes too (when 3 characters or more;
    # inside a longer BASE64 string the first characters also carry the prefix's bits).
    head = found.data(code + b"-" + split[0])
    if cut >= 3 and choice != 7:
        assert not head.lower().endswith(echo[:cut].lower().encode())


def test_an_empty_redactor_changes_nothing_and_shows_no_secret_in_its_repr() -> None:
    empty = Redactor()
    reply = parse_reply(b"250 S3cr3t-Pa55!\r\n")
    assert empty.reply(reply) is reply and not empty
    full = redactor("S3cr3t-Pa55!")
    assert "S3cr3t" not in repr(full) and full


def test_ordinary_replies_are_untouched() -> None:
    found = redactor("S3cr3t-Pa55!word")
    for raw in (
        b"250-mx.example.org Hello\r\n250-SIZE 10240000\r\n250 AUTH PLAIN LOGIN\r\n",
        b"535 5.7.8 Error: authentication failed: authentication failure\r\n",
        b"334 VXNlcm5hbWU6\r\n",
        b"221 2.0.0 Bye\r\n",
    ):
        reply = parse_reply(raw)
        assert found.reply(reply) == reply and found.reply(reply).raw == raw
