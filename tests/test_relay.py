"""``probe --relay-check`` against aiosmtpd personas: a closed relay, one with the %-hack
hole, a fully open one, a greylisting one; never DATA, RSET after every test."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from smtpprobe.relay import relay_tests
from tests.cli import run_main, set_plain_english
from tests.ports import ServerAddress

Serve = Callable[..., ServerAddress]


@pytest.fixture(autouse=True)
def _english(monkeypatch: pytest.MonkeyPatch) -> None:
    set_plain_english(monkeypatch)


def relay_json(
    capsys: pytest.CaptureFixture[str], server: ServerAddress, *extra: str
) -> tuple[int, dict[str, Any]]:
    code, out, _err = run_main(
        capsys,
        "probe",
        f"{server.host}:{server.port}",
        "--tls",
        "none",
        "--format",
        "json",
        "--timeout",
        "20",
        "--command-timeout",
        "5",
        "--relay-check",
        *extra,
    )
    return code, json.loads(out)


def relay_commands(doc: dict[str, Any]) -> list[str]:
    return [ex["command"] for ex in doc["exchanges"] if ex["phase"] == "RELAY"]


def test_the_tests_cover_the_standard_tricks() -> None:
    tests = {t.name: t for t in relay_tests("mx.test", "192.0.2.1", "x@example.net")}
    assert tests["foreign-sender"].sender.endswith("@example.org")
    assert tests["null-sender"].sender == ""
    assert tests["own-domain-sender"].sender == "smtpprobe@mx.test"
    assert tests["percent-hack"].recipient == "x%example.net@mx.test"
    assert tests["bang-path"].recipient == "example.net!x"
    assert tests["quoted-local-part"].recipient == '"x@example.net"'
    assert tests["source-route"].recipient == "@mx.test:x@example.net"
    assert tests["quoted-ip-literal"].recipient == '"x@example.net"@[192.0.2.1]'
    assert relay_tests("mx.test", "2001:db8::1")[-1].recipient.startswith("@[IPv6:2001:db8::1]")
    assert all("example." in t.recipient or "example." in t.sender for t in tests.values())


def test_closed_relay(capsys: pytest.CaptureFixture[str], threaded_smtp_server: Serve) -> None:
    code, doc = relay_json(capsys, threaded_smtp_server("closed-relay"), "--expect-relay", "closed")
    relay = doc["findings"]["relay"]
    assert code == 0 and relay["verdict"] == "closed" and relay["status"] == "ok"
    assert relay["accepted"] == [] and len(relay["tests"]) == 14
    assert relay["trusted_source"] is True and "127.0.0.1" in relay["summary"]
    assert doc["findings"]["expect-relay"]["status"] == "ok"
    sent = relay_commands(doc)
    # MAIL, RCPT, RSET for every test; never DATA anywhere in the session.
    assert [c.split(" ")[0] for c in sent] == ["MAIL", "RCPT", "RSET"] * 14
    assert not any(ex["command"].startswith("DATA") for ex in doc["exchanges"])
    # The probe's own RCPT comparison does not read the relay tests.
    assert doc["findings"]["rcpt"]["verdict"] == "not-tested"


def test_percent_hack_hole_is_an_open_relay(
    capsys: pytest.CaptureFixture[str], threaded_smtp_server: Serve
) -> None:
    code, doc = relay_json(
        capsys,
        threaded_smtp_server("percent-hack"),
        "--expect-relay",
        "closed",
        "--relay-to",
        "victim@example.net",
    )
    relay = doc["findings"]["relay"]
    assert code == 2 and relay["verdict"] == "open" and relay["status"] == "critical"
    assert relay["accepted"] == ["percent-hack"]
    evidence = [ex["command"] for ex in relay["evidence"]]
    assert evidence == [
        "MAIL FROM:<smtpprobe@mx.test>",
        "RCPT TO:<victim%example.net@mx.test>",
        "RSET",
    ]
    assert doc["findings"]["expect-relay"]["status"] == "critical"


def test_open_relay_text(capsys: pytest.CaptureFixture[str], threaded_smtp_server: Serve) -> None:
    server = threaded_smtp_server("open-relay")
    code, out, _ = run_main(
        capsys, "probe", f"{server.host}:{server.port}", "--tls", "none", "--relay-check"
    )
    assert code == 2
    text = " ".join(out.split())  # the table wraps the summary
    # aiosmtpd's own parser refuses the double-@ form (501); everything else goes through.
    assert "accepted 13 of 14 relay tests" in text and "mynetworks" in text


def test_greylisting_is_inconclusive(
    capsys: pytest.CaptureFixture[str], threaded_smtp_server: Serve
) -> None:
    code, doc = relay_json(capsys, threaded_smtp_server("greylist"), "--expect-relay", "closed")
    relay = doc["findings"]["relay"]
    assert relay["verdict"] == "inconclusive" and relay["status"] == "unknown"
    assert doc["findings"]["expect-relay"]["status"] == "unknown" and code == 3


def test_relay_to_must_be_an_address(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run_main(capsys, "probe", "127.0.0.1:1", "--relay-to", "no-at-sign")
    assert code == 3 and "relay-to" in err


def test_relay_check_is_for_strangers(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMTP_PASSWORD", "x")
    code, _out, err = run_main(
        capsys,
        "probe",
        "127.0.0.1:1",
        "--relay-check",
        "--auth-user",
        "alice",
        "--auth-password-env",
        "SMTP_PASSWORD",
    )
    assert code == 3 and "stranger" in err
