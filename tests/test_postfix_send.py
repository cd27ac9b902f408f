"""``smtpprobe send`` and ``--relay-check`` against the private Postfix: a message for a
local mailbox is read back from the mailbox file, its queue id the one Postfix announced;
relaying is refused (Postfix's default 454 4.7.1 safety net counts as closed)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.cli import run_main, set_plain_english
from tests.postfix import DELIVERING, DELIVERY_DOMAIN, PostfixInstance

pytestmark = [
    pytest.mark.postfix,
    pytest.mark.parametrize("postfix_server", [DELIVERING], indirect=True),
]


@pytest.fixture(autouse=True)
def _english(monkeypatch: pytest.MonkeyPatch) -> None:
    set_plain_english(monkeypatch)


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    # Generous: past smtpd_soft_error_limit (10) Postfix waits a second before each error
    # reply, and the relay check collects fourteen of them.
    code, out, _err = run_main(
        capsys, *argv, "--format", "json", "--timeout", "90", "--command-timeout", "20"
    )
    return code, json.loads(out)


def _mailbox(postfix: PostfixInstance, subject: str, within: float = 30.0) -> str:
    """The mailbox file's text once a message with *subject* is in it (delivery is async)."""
    path = Path(postfix.root) / "mail" / "bob"
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if path.exists() and subject in (text := path.read_text(errors="replace")):
            return text
        time.sleep(0.1)
    raise AssertionError(f"no delivery to {path}; log:\n{postfix.log_tail()}")


@pytest.mark.slow
def test_send_reaches_the_mailbox_with_the_announced_queue_id(
    capsys: pytest.CaptureFixture[str], postfix_server: PostfixInstance
) -> None:
    subject = f"smtpprobe-it-{time.time_ns()}"
    code, doc = _json(
        capsys,
        "send",
        f"{postfix_server.host}:{postfix_server.port}",
        "--tls",
        "none",
        "--from",
        "tester@client.test",
        "--to",
        f"bob@{DELIVERY_DOMAIN}",
        "--subject",
        subject,
        "--body",
        ".a line that starts with a dot\nend\n",
    )
    delivery = doc["findings"]["delivery"]
    assert code == 0 and delivery["verdict"] == "accepted", delivery
    queue_id = delivery["queue_id"]
    assert queue_id and re.fullmatch(r"[0-9A-Za-z]+", queue_id)
    text = _mailbox(postfix_server, subject)
    # Postfix's Received header names the queue id it gave in its 250 reply.
    assert re.search(rf"with E?SMTP id {queue_id}\b", text), text[:600]
    assert "\n.a line that starts with a dot\n" in text  # dot-stuffed, then unstuffed


def test_unknown_mailbox_and_foreign_domain_are_refused(
    capsys: pytest.CaptureFixture[str], postfix_server: PostfixInstance
) -> None:
    code, doc = _json(
        capsys,
        "send",
        f"{postfix_server.host}:{postfix_server.port}",
        "--tls",
        "none",
        "--from",
        "tester@client.test",
        "--to",
        f"nobody@{DELIVERY_DOMAIN}",
        "--to",
        "someone@example.net",
    )
    delivery = doc["findings"]["delivery"]
    codes = [r["code"] for r in delivery["recipients"]]
    assert delivery["reason"] == "no-recipient" and codes[0] == 550 and codes[1] in (454, 554)
    assert "DATA" not in [ex["command"] for ex in doc["exchanges"]]
    assert code in (1, 2)


@pytest.mark.slow
def test_relay_is_closed(
    capsys: pytest.CaptureFixture[str], postfix_server: PostfixInstance
) -> None:
    code, doc = _json(
        capsys,
        "probe",
        f"{postfix_server.host}:{postfix_server.port}",
        "--tls",
        "none",
        "--only",
        "quit",
        "--relay-check",
        "--expect-relay",
        "closed",
    )
    relay = doc["findings"]["relay"]
    assert relay["verdict"] == "closed", relay["tests"]
    assert relay["accepted"] == [] and doc["findings"]["expect-relay"]["status"] == "ok"
    assert any(
        "Relay access denied" in " ".join(ex["reply"]["lines"])
        for ex in doc["exchanges"]
        if ex["phase"] == "RELAY" and ex["reply"]
    )
    assert relay["trusted_source"] is True  # loopback, though this Postfix does not trust it
    assert code == 0
