"""Numbers from outside, read by one rule: ASCII digits, a length cap, anything else refused.

A server's SIZE (``²³``, 5000 digits) is a recorded oddity in the EHLO finding, never an
exception; a user's port, days, seconds and COLUMNS in Unicode digits, ``nan`` or ``inf``
are usage errors (exit 3) or, for COLUMNS, ignored. Property tests feed any text.
"""

from __future__ import annotations

import functools
import json
import math
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smtpprobe.errors import UsageError
from smtpprobe.interpret.ehlo import parse_ehlo
from smtpprobe.numbers import MAX_DIGITS, ascii_number
from smtpprobe.reply import Reply
from smtpprobe.validate import parse_host_port
from tests import hostile
from tests.cli import set_plain_english
from tests.hostile import run_cli, serve_in_thread

UNICODE_DIGITS = ("²", "²³", "٣٩٩٩", "３", "𝟗", "①", "١٢")


# -- the rule --------------------------------------------------------------------------------


@given(st.text(max_size=40))
def test_ascii_number_accepts_exactly_short_ascii_digit_strings(text: str) -> None:
    value = ascii_number(text)
    if text and len(text) <= MAX_DIGITS and all(c in string.digits for c in text):
        assert value == int(text)
    else:
        assert value is None


@given(st.integers(min_value=0, max_value=10**MAX_DIGITS - 1))
def test_ascii_number_reads_every_number_it_should(number: int) -> None:
    assert ascii_number(str(number)) == number


@pytest.mark.parametrize("text", [*UNICODE_DIGITS, "+1", "-1", "1_000", " 25", "9" * 5000, ""])
def test_ascii_number_refuses_what_int_would_take_or_choke_on(text: str) -> None:
    assert ascii_number(text) is None


# -- server numbers --------------------------------------------------------------------------


def _ehlo(size: str) -> Reply:
    return Reply(250, ("mx.example", "PIPELINING", f"SIZE {size}", "HELP"))


@given(
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n"), max_size=60
    )
)
def test_any_size_value_is_a_number_or_a_recorded_oddity(value: str) -> None:
    info = parse_ehlo(_ehlo(value))
    data = info.to_data()  # never raises
    json.dumps(data)
    sent = info.extensions["SIZE"].strip()
    if not sent:  # RFC 1870 §4: SIZE without a number is allowed
        assert data["size"] is None and "malformed" not in data
    elif ascii_number(sent) is not None:
        assert data["size"] == int(sent) and "malformed" not in data
    else:
        assert data["size"] is None and data["malformed"] == {"SIZE": sent[:64]}


@pytest.mark.parametrize("size", ["²³", "9" * 5000, "٣٩٩٩", "10MB"])
def test_odd_size_is_kept_as_sent_and_cut(size: str) -> None:
    data = parse_ehlo(_ehlo(size)).to_data()
    assert data["size"] is None and data["size_advertised"] is True
    assert data["malformed"] == {"SIZE": size[:64]}


def _ehlo_script(size: bytes) -> hostile.Script:
    ehlo = b"250-mx.hostile.test\r\n250-SIZE " + size + b"\r\n250 HELP\r\n"
    return functools.partial(hostile.converse, replies={b"EHLO": ehlo})


@pytest.mark.parametrize("size", ["²³".encode(), b"9" * 5000])
def test_probe_reports_a_server_with_an_odd_size(
    capsys: pytest.CaptureFixture[str], size: bytes
) -> None:
    with serve_in_thread(_ehlo_script(size)) as server:
        run = run_cli(
            capsys, "probe", server.target, "--tls", "none", "--timeout", "5", "--format", "json"
        )
    assert "internal error" not in run.err
    document = json.loads(run.out)
    ehlo = document["findings"]["ehlo"]
    assert ehlo["size"] is None and ehlo["malformed"]["SIZE"] == size.decode()[:64]
    assert run.code in (0, 1)


def test_one_odd_server_leaves_the_fleet_whole(
    capsys: pytest.CaptureFixture[str], tmp_path: object
) -> None:
    with (
        serve_in_thread(_ehlo_script("²³".encode())) as odd,
        serve_in_thread(hostile.converse) as plain,
    ):
        run = run_cli(
            capsys,
            "probe",
            odd.target,
            plain.target,
            "--tls",
            "none",
            "--timeout",
            "5",
            "--format",
            "json",
        )
    records = {
        record["target"]["port"]: record for record in map(json.loads, run.out.splitlines())
    }  # in finishing order
    assert len(records) == 2 and "internal error" not in run.err
    assert records[odd.port]["findings"]["ehlo"]["malformed"] == {"SIZE": "²³"}
    assert "malformed" not in records[plain.port]["findings"]["ehlo"]


# -- user numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize("digits", UNICODE_DIGITS)
def test_a_port_in_unicode_digits_is_no_port(digits: str) -> None:
    with pytest.raises(UsageError):
        parse_host_port(f"127.0.0.1:{digits}")


@pytest.mark.parametrize("text", ["host:25:extra", "a:b:c", "mx.example:25:", "1.2.3.4:25:9"])
def test_host_port_extra_is_a_usage_error_not_an_ipv6_host(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_host_port(text)
    assert caught.value.key == "error_hostport_extra"


@pytest.mark.parametrize("text", ["::1", "2001:db8::1", "[::1]:25", "fe80::1%eth0"])
def test_ipv6_addresses_still_parse(text: str) -> None:
    host, _port = parse_host_port(text)
    assert ":" in host


@given(st.text(max_size=12))
@settings(max_examples=200)
def test_any_port_text_is_a_port_or_a_usage_error(port: str) -> None:
    try:
        _host, parsed = parse_host_port(f"mx.example:{port}")
    except UsageError:
        return
    given = port.rstrip()  # the whole target is stripped of surrounding white space
    assert given.isascii() and given.isdigit() and parsed == int(given) and 0 < parsed < 65536


@pytest.mark.parametrize(
    "argv",
    [
        ["probe", "127.0.0.1:²"],
        ["probe", "127.0.0.1:٣٩٩٩"],
        ["probe", "host:25:extra"],
        ["probe", "--port", "٣٩٩٩", "127.0.0.1"],
        ["probe", "--cert-days", "²,¹", "127.0.0.1"],
        ["probe", "--cert-days", "٢١,٧", "127.0.0.1"],
        ["probe", "--concurrency", "٣", "127.0.0.1"],
        ["probe", "--warning", "nan", "127.0.0.1"],
        ["probe", "--critical", "inf", "127.0.0.1"],
        ["probe", "--max-banner-delay", "nan", "127.0.0.1"],
        ["probe", "--max-banner-delay", "-1", "127.0.0.1"],
        ["probe", "--timeout", "1e999", "127.0.0.1"],
        ["probe", "--timeout", "٣", "127.0.0.1"],
        ["probe", "--command-timeout", "NaN", "127.0.0.1"],
        ["codes", "--class", "٤"],
        ["exporter", "--max-timeout", "nan"],
        ["exporter", "--concurrency", "٣"],
    ],
)
def test_bad_numbers_on_the_command_line_are_usage_errors(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, argv: list[str]
) -> None:
    set_plain_english(monkeypatch)
    run = run_cli(capsys, *argv)
    assert run.code == 3
    assert "internal error" not in run.err and "Traceback" not in run.err
    assert run.err.startswith("smtpprobe: error:")
    assert run.out == ""


@pytest.mark.parametrize("line", ["h:²", "h:٣٩٩٩", "h:25:x", "h:99999"])
def test_a_bad_targets_line_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: object, line: str
) -> None:
    set_plain_english(monkeypatch)
    import pathlib

    path = pathlib.Path(str(tmp_path)) / "targets"
    path.write_text(f"# fleet\n{line}\n", encoding="utf-8")
    run = run_cli(capsys, "probe", "--targets", str(path))
    assert run.code == 3 and "--targets line 2" in run.err
    assert "internal error" not in run.err


@pytest.mark.parametrize("columns", ["²", "٣٩", "nan", "-5", "9" * 5000, "0", ""])
def test_odd_columns_are_ignored(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, columns: str
) -> None:
    set_plain_english(monkeypatch)
    monkeypatch.setenv("COLUMNS", columns)
    run = run_cli(capsys, "explain", "252")
    assert run.code == 0 and "Cannot Verify User" in run.out
    assert max(len(line) for line in run.out.splitlines()) <= 100


@given(st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8))
@settings(max_examples=60, deadline=None)
def test_any_seconds_value_is_finite_and_positive_or_refused(value: float | str) -> None:
    import click

    from smtpprobe.commands._common import Seconds

    try:
        seconds = Seconds().convert(str(value), None, None)
    except click.BadParameter:
        return
    assert math.isfinite(seconds) and seconds > 0
