"""``smtpprobe send`` end to end: real sockets to aiosmtpd personas through `cli.main`,
every verdict, the queue id read back against what the server announced, what arrived."""

from __future__ import annotations

import email
import email.policy
import json
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from smtpprobe.interpret.delivery import queue_id
from smtpprobe.kb.store import DATA_DIR
from smtpprobe.reply import ReplyParser
from tests.cli import run_main, set_plain_english
from tests.mail_personas import RECEIVED
from tests.ports import ServerAddress

Serve = Callable[..., ServerAddress]
SENDER = "tester@client.test"


@pytest.fixture(autouse=True)
def _english(monkeypatch: pytest.MonkeyPatch) -> None:
    set_plain_english(monkeypatch)


def send_json(
    capsys: pytest.CaptureFixture[str], server: ServerAddress, *extra: str
) -> tuple[int, dict[str, Any], str]:
    code, out, err = run_main(
        capsys,
        "send",
        f"{server.host}:{server.port}",
        "--tls",
        "none",
        "--from",
        SENDER,
        "--format",
        "json",
        "--timeout",
        "10",
        "--command-timeout",
        "5",
        *extra,
    )
    return code, json.loads(out), err


def commands(doc: dict[str, Any]) -> list[str]:
    return [ex["command"] for ex in doc["exchanges"]]


def test_accepted_message_arrives_with_the_queue_id_announced(
    capsys: pytest.CaptureFixture[str], threaded_smtp_server: Serve
) -> None:
    before = len(RECEIVED)
    code, doc, _ = send_json(capsys, threaded_smtp_server("accept"), "--to", "alice@mx.test")
    delivery = doc["findings"]["delivery"]
    assert code == 0 and delivery["status"] == "ok" and delivery["verdict"] == "accepted"
    got = RECEIVED[before]
    assert len(RECEIVED) == before + 1 and delivery["queue_id"] == got.queue_id
    assert got.mail_from == SENDER and got.rcpt_tos == ("alice@mx.test",)
    message = email.message_from_bytes(got.content, policy=email.policy.SMTP)
    assert message["Message-ID"] and message["Date"] and "smtpprobe" in message["Subject"]
    assert "test message from smtpprobe" in message.get_content()
    assert delivery["recipients"] == [
        {
            "address": "alice@mx.test",
            "accepted": True,
            "code": 250,
            "enhanced": "2.1.5",
            "text": "2.1.5 Ok",
        }
    ]
    # Every reply explained; the end of the data in its own context.
    end = next(ex for ex in doc["exchanges"] if ex["phase"] == "DATA_END")
    assert end["command"] == "." and "responsibility" in end["meaning"]["context"]
    assert commands(doc)[2:] == [
        f"MAIL FROM:<{SENDER}> SIZE={got and len(got.content)}",
        "RCPT TO:<alice@mx.test>",
        "DATA",
        ".",
        "QUIT",
    ]


def test_partial_acceptance_is_its_own_verdict(
    capsys: pytest.CaptureFixture[str], threaded_smtp_server: Serve
) -> None:
    code, doc, _ = send_json(
        capsys, threaded_smtp_server("partial"), "--to", "alice@mx.test", "--to", "nobody@mx.test"
    )
    delivery = doc["findings"]["delivery"]
    assert code == 1 and delivery["verdict"] == "partially-accepted"
    assert [(r["address"], r["accepted"], r["code"]) for r in delivery["recipients"]] == [
        ("alice@mx.test", True, 250),
        ("nobody@mx.test", False, 550),
    ]
    assert RECEIVED[-1].rcpt_tos == ("alice@mx.test",)


@pytest.mark.parametrize(
    ("persona", "code", "verdict", "reason"),
    [
        ("defer", 1, "deferred", "data-refused"),
        ("greylist", 1, "deferred", "no-recipient"),  # every RCPT 450: nothing final yet
        ("refuse", 2, "refused", "no-recipient"),
    ],
)
def test_deferred_and_refused(
    capsys: pytest.CaptureFixture[str],
    threaded_smtp_server: Serve,
    persona: str,
    code: int,
    verdict: str,
    reason: str,
) -> None:
    exit_code, doc, _ = send_json(capsys, threaded_smtp_server(persona), "--to", "a@mx.test")
    delivery = doc["findings"]["delivery"]
    assert exit_code == code and delivery["verdict"] == verdict and delivery["reason"] == reason
    assert delivery["queue_id"] is None
    if persona != "defer":  # no recipient: no DATA, the transaction reset
        assert "DATA" not in commands(doc) and "RSET" in commands(doc)


@pytest.mark.parametrize("chunking", [True, False])
def test_bdat_when_offered_and_asked(
    capsys: pytest.CaptureFixture[str], threaded_smtp_server: Serve, chunking: bool
) -> None:
    body = "line one\n.leading dot\n" + "x" * 70_000 + "\n"  # two chunks of 64 KiB
    extra = ("--chunking",) if chunking else ()
    code, doc, _ = send_json(
        capsys, threaded_smtp_server("bdat"), "--to", "a@mx.test", "--body", body, *extra
    )
    assert code == 0 and doc["findings"]["delivery"]["chunked"] is chunking
    got = RECEIVED[-1]
    assert got.chunked is chunking and doc["findings"]["delivery"]["queue_id"] == got.queue_id
    assert b"\r\n.leading dot\r\n" in got.content  # unstuffed by the server, or never stuffed
    bdat = [c for c in commands(doc) if c.startswith("BDAT")]
    assert bdat == ([f"BDAT {64 * 1024}", bdat[-1]] if chunking else [])
    if chunking:
        assert bdat[-1].endswith(" LAST")


def test_smtputf8_only_when_offered(
    capsys: pytest.CaptureFixture[str], threaded_smtp_server: Serve
) -> None:
    before = len(RECEIVED)
    code, doc, err = send_json(capsys, threaded_smtp_server("accept"), "--to", "jürgen@mx.test")
    assert code == 3 and "needs SMTPUTF8" in err and len(RECEIVED) == before
    assert not any(c.startswith("MAIL") for c in commands(doc)) and commands(doc)[-1] == "QUIT"
    assert doc["findings"]["delivery"]["reason"] == "not-sent"
    code, doc, _ = send_json(
        capsys, threaded_smtp_server("smtputf8"), "--to", "jürgen@mx.test", "--subject", "Grüße"
    )
    assert code == 0 and "SMTPUTF8" in commands(doc)[2]
    assert RECEIVED[-1].rcpt_tos == ("jürgen@mx.test",)
    assert "Subject: Grüße".encode() in RECEIVED[-1].content  # UTF-8 header kept as is


@pytest.mark.parametrize("persona", ["accept", "no-8bitmime"])
def test_8bit_body_is_7bit_without_8bitmime(
    capsys: pytest.CaptureFixture[str], threaded_smtp_server: Serve, persona: str
) -> None:
    code, doc, _ = send_json(
        capsys, threaded_smtp_server(persona), "--to", "a@mx.test", "--body", "Schöne Grüße\n"
    )
    offered = persona == "accept"
    assert code == 0 and ("BODY=8BITMIME" in commands(doc)[2]) is offered
    content = RECEIVED[-1].content
    assert content.isascii() is not offered
    message = email.message_from_bytes(content, policy=email.policy.SMTP)
    assert message.get_content().replace("\r\n", "\n") == "Schöne Grüße\n"


@pytest.mark.parametrize(
    ("stop", "last"),
    [
        ("banner", ["", "QUIT"]),
        ("ehlo", ["", "EHLO smtpprobe.invalid", "QUIT"]),
        ("mail", ["MAIL FROM:<tester@client.test>", "RSET", "QUIT"]),
        ("rcpt", ["RCPT TO:<a@mx.test>", "RSET", "QUIT"]),
        # After 354 anything sent is message text: hang up instead of RSET/QUIT.
        ("data", ["RCPT TO:<a@mx.test>", "DATA"]),
    ],
)
def test_quit_after(
    capsys: pytest.CaptureFixture[str], threaded_smtp_server: Serve, stop: str, last: list[str]
) -> None:
    before = len(RECEIVED)
    code, doc, _ = send_json(
        capsys, threaded_smtp_server("accept"), "--to", "a@mx.test", "--quit-after", stop
    )
    sent = [re.sub(r" SIZE=\d+", "", c) for c in commands(doc)]
    assert code == 0 and sent[-len(last) :] == last and len(RECEIVED) == before
    delivery = doc["findings"]["delivery"]
    assert delivery["verdict"] is None and delivery["reason"] == "stopped"


def test_raw_data_file_sent_as_is(
    capsys: pytest.CaptureFixture[str], threaded_smtp_server: Serve, tmp_path: Path
) -> None:
    raw = (
        b"From: Raw <raw@client.test>\nTo: alice@mx.test\nCc: bob@mx.test\n"
        b"Subject: raw\n\n.\n..two\nend"
    )
    path = tmp_path / "message.eml"
    path.write_bytes(raw)
    server = threaded_smtp_server("accept")
    code, out, _ = run_main(
        capsys,
        "send",
        f"{server.host}:{server.port}",
        "--tls",
        "none",
        "--data",
        str(path),
        "--format",
        "json",
    )
    doc = json.loads(out)
    assert code == 0, doc["findings"]["delivery"]
    got = RECEIVED[-1]
    assert got.content == raw.replace(b"\n", b"\r\n") + b"\r\n"
    assert got.mail_from == "raw@client.test" and got.rcpt_tos == ("alice@mx.test", "bob@mx.test")


def test_attachment_and_headers(
    capsys: pytest.CaptureFixture[str], threaded_smtp_server: Serve, tmp_path: Path
) -> None:
    attachment = tmp_path / "report.csv"
    attachment.write_text("a,b\n1,2\n")
    code, _doc, _ = send_json(
        capsys,
        threaded_smtp_server("accept"),
        "--to",
        "a@mx.test",
        "--attach",
        str(attachment),
        "--header",
        "X-Test: 42",
        "--header",
        "Subject: replaced",
        "--body",
        "see attached",
    )
    assert code == 0
    message = email.message_from_bytes(RECEIVED[-1].content, policy=email.policy.SMTP)
    assert message["X-Test"] == "42" and message["Subject"] == "replaced"
    parts = {
        part.get_filename(): part.get_content().replace("\r\n", "\n")
        for part in message.iter_attachments()
    }
    assert parts == {"report.csv": "a,b\n1,2\n"}


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--to", "a@mx.test", "--header", "no colon"], "not a header"),
        (["--data", "-", "--subject", "x"], "--data sends a message as it is"),
        ([], "at least one --to"),
        (["--to", "a@mx.test", "--body", "x", "--body-file", "-"], "give the body once"),
    ],
)
def test_bad_arguments(capsys: pytest.CaptureFixture[str], argv: list[str], words: str) -> None:
    code, out, err = run_main(capsys, "send", "127.0.0.1:1", "--from", SENDER, *argv)
    assert code == 3 and words in err and "Traceback" not in err and out == ""


def test_text_view_explains_the_delivery(
    capsys: pytest.CaptureFixture[str], threaded_smtp_server: Serve
) -> None:
    server = threaded_smtp_server("accept")
    code, out, _ = run_main(
        capsys,
        "send",
        f"{server.host}:{server.port}",
        "--tls",
        "none",
        "--from",
        SENDER,
        "--to",
        "a@mx.test",
    )
    assert code == 0
    assert f"queued as {RECEIVED[-1].queue_id}" in out
    assert "Delivery" in out and "accepted for delivery" in out


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("250 2.0.0 Ok: queued as 4Xyz1AbC2d", "4Xyz1AbC2d"),  # Postfix
        ("250 OK id=1rAbCd-000123-XY", "1rAbCd-000123-XY"),  # Exim
        ("250 2.0.0 5B1CHx0A012345 Message accepted for delivery", "5B1CHx0A012345"),  # Sendmail
        ("250 2.0.0 3f6a1c2e Message accepted for delivery", "3f6a1c2e"),  # OpenSMTPD
        ("250 2.0.0 OK  1700000000 a1b2c3d4e5f6.123 - gsmtp", "a1b2c3d4e5f6.123"),  # Gmail
        (
            (
                "250 2.6.0 <ab12@EX01.corp.example> [InternalId=1234567, Hostname=EX01] "
                "Queued mail for delivery"
            ),
            "1234567",
        ),  # Exchange
        ("250 2.6.0 <ab12@EX01.corp.example> Queued mail for delivery", "ab12@EX01.corp.example"),
        ("250 Message Queued (4C5D6E7F.1)", "4C5D6E7F.1"),  # Haraka
        ("250 ok 1700000000 qp 4242", "4242"),  # qmail
        ("250 OK", None),  # aiosmtpd
        ("550 5.7.1 queued as 123", None),  # refused
    ],
)
def test_queue_id_forms(line: str, expected: str | None) -> None:
    parser = ReplyParser()
    parser.receive_data(line.encode() + b"\r\n")
    reply = parser.next_reply()
    assert queue_id(reply) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("check", ["delivery", "relay"])
def test_finding_words_agree_in_both_languages(check: str) -> None:
    tables = {}
    for lang in ("en", "id"):
        with open(Path(DATA_DIR) / lang / "findings" / f"{check}.toml", "rb") as handle:
            tables[lang] = tomllib.load(handle)
    assert tables["en"].keys() == tables["id"].keys()
    for reason, words in tables["en"].items():
        assert words.keys() == tables["id"][reason].keys(), reason
        for key, text in words.items():
            assert set(re.findall(r"\{\w+\}", text)) == set(
                re.findall(r"\{\w+\}", tables["id"][reason][key])
            ), (reason, key)


def test_implicit_tls(
    capsys: pytest.CaptureFixture[str], threaded_smtp_server: Serve, cafile: str
) -> None:
    """Port 465 (RFC 8314): TLS from the first byte, certificate verified, then the mail."""
    server = threaded_smtp_server("accept", tls="implicit")
    code, out, _ = run_main(
        capsys,
        "send",
        f"{server.host}:{server.port}",
        "--tls",
        "implicit",
        "--cafile",
        cafile,
        "--from",
        SENDER,
        "--to",
        "a@mx.test",
        "--format",
        "json",
    )
    doc = json.loads(out)
    assert code == 0 and doc["findings"]["delivery"]["verdict"] == "accepted"
    assert doc["findings"]["tls"]["status"] == "ok"
    assert doc["findings"]["delivery"]["queue_id"] == RECEIVED[-1].queue_id


@pytest.mark.parametrize(
    "address", ["no-at-sign", "a b@mx.test", "a@mx.test\r\nRSET", "<a@mx.test>"]
)
def test_addresses_are_one_token(capsys: pytest.CaptureFixture[str], address: str) -> None:
    code, _out, err = run_main(capsys, "send", "127.0.0.1:1", "--from", SENDER, "--to", address)
    assert code == 3 and "--to" in err and "Traceback" not in err
