"""Finding replies in log lines, bounces and transcripts: pure, table-driven, no I/O."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from smtpprobe.logscan import Found, LogScanner, scan_line, scan_text
from smtpprobe.views.annotate_view import reply_key, reply_shape

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "logs"
PF = "Nov 28 06:25:02 mail postfix/smtp[2220]: 4XyZ1aBcD2: to=<bob@example.com>, "
PF_RELAY = PF + "relay=mx.example.com[203.0.113.25]:25, delay=0.52, delays=0.1/0/0.2/0.2, "
EXIM = "2024-11-28 06:25:02 1tGhIj-000Abc-2K ** bob@example.com R=dnslookup T=remote_smtp "
SM = (
    "Nov 28 06:25:02 mail sm-mta[3103]: 4ASC1P0a003101: to=<bob@example.com>, "
    "delay=00:00:01, mailer=esmtp, relay=mx.example.com. [203.0.113.25], "
)


def one(line: str) -> tuple[str, int | None, str | None, str | None, str]:
    """(source, code, enhanced, command, text) of the single reply in *line*."""
    (found,) = scan_line(line)
    return found.source, found.code, found.enhanced, found.command, found.text


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param(
            PF_RELAY + "dsn=5.1.1, status=bounced (host mx.example.com[203.0.113.25] said: 550 "
            "5.1.1 <bob@example.com>: Recipient address rejected: User unknown in local "
            "recipient table (in reply to RCPT TO command))",
            (
                "postfix",
                550,
                "5.1.1",
                "RCPT",
                (
                    "550 5.1.1 <bob@example.com>: Recipient address "
                    "rejected: User unknown in local recipient table"
                ),
            ),
            id="postfix-said-rcpt",
        ),
        pytest.param(
            PF_RELAY + "dsn=5.2.2, status=bounced (host mx.example.com[203.0.113.25] said: 552 "
            "5.2.2 Mailbox full (in reply to end of DATA command))",
            ("postfix", 552, "5.2.2", "DATA_END", "552 5.2.2 Mailbox full"),
            id="postfix-said-end-of-data",
        ),
        pytest.param(
            PF_RELAY + "dsn=5.0.0, status=bounced (host mx.example.com[203.0.113.25] said: 550 "
            "Requested action not taken: mailbox unavailable (in reply to RCPT TO command))",
            (
                "postfix",
                550,
                "5.0.0",
                "RCPT",
                "550 Requested action not taken: mailbox unavailable",
            ),
            id="postfix-no-enhanced-uses-dsn",
        ),
        pytest.param(
            PF + "relay=none, delay=30, dsn=4.4.1, status=deferred (connect to "
            "mx.example.net[203.0.113.9]:25: Connection timed out)",
            (
                "postfix",
                None,
                "4.4.1",
                None,
                "connect to mx.example.net[203.0.113.9]:25: Connection timed out",
            ),
            id="postfix-dsn-only",
        ),
        pytest.param(
            PF_RELAY + "dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4Z9yX8wV7u)",
            ("postfix", 250, "2.0.0", "DATA_END", "250 2.0.0 Ok: queued as 4Z9yX8wV7u"),
            id="postfix-sent",
        ),
        pytest.param(
            PF_RELAY + "dsn=5.7.1, status=bounced (host mx.example.com[203.0.113.25] refused "
            "to talk to me: 554 5.7.1 Service unavailable)",
            ("postfix", 554, "5.7.1", "CONNECT", "554 5.7.1 Service unavailable"),
            id="postfix-refused-to-talk",
        ),
        pytest.param(
            "Nov 28 06:30:05 mail postfix/smtpd[2240]: NOQUEUE: reject: RCPT from "
            "unknown[2001:db8::99]: 554 5.7.1 Service unavailable; Client host [2001:db8::99] "
            "blocked using zen.spamhaus.org; from=<a@example.biz> to=<g@example.org> "
            "proto=ESMTP helo=<spam.example.biz>",
            (
                "postfix-reject",
                554,
                "5.7.1",
                "RCPT",
                (
                    "554 5.7.1 Service unavailable; Client "
                    "host [2001:db8::99] blocked using zen.spamhaus.org"
                ),
            ),
            id="postfix-reject-ipv6-keeps-semicolons",
        ),
        pytest.param(
            "Nov 28 06:30:05 mail postfix/cleanup[2241]: 4XyZ: milter-reject: END-OF-MESSAGE "
            "from x.example.net[192.0.2.1]: 5.7.1 Spam message rejected; from=<a@example.net> "
            "to=<b@example.org> proto=ESMTP helo=<x.example.net>",
            ("postfix-reject", None, "5.7.1", "DATA_END", "Spam message rejected"),
            id="postfix-milter-reject-status-only",
        ),
        pytest.param(
            EXIM + "H=mx.example.com [203.0.113.25]: SMTP error from remote mail server after "
            "RCPT TO:<bob@example.com>: 550 5.1.1 <bob@example.com>: Recipient address "
            "rejected: User unknown",
            (
                "exim",
                550,
                "5.1.1",
                "RCPT",
                "550 5.1.1 <bob@example.com>: Recipient address rejected: User unknown",
            ),
            id="exim-rcpt-text-says-rejected",
        ),
        pytest.param(
            EXIM + "H=mx.example.com [203.0.113.25]: SMTP error from remote mail server after "
            "MAIL FROM:<a@example.net> SIZE=4521: 553 5.1.8 Sender address domain does not "
            "exist",
            ("exim", 553, "5.1.8", "MAIL", "553 5.1.8 Sender address domain does not exist"),
            id="exim-mail-from-with-size",
        ),
        pytest.param(
            EXIM + "defer (-44) H=mx.example.org [192.0.2.40]: SMTP error from remote mail "
            "server after end of data: 451 4.7.1 Please try again later",
            ("exim", 451, "4.7.1", "DATA_END", "451 4.7.1 Please try again later"),
            id="exim-end-of-data",
        ),
        pytest.param(
            EXIM + "H=mx.example.com [203.0.113.25]: SMTP error from remote mailer after "
            "pipelined RCPT TO:<bob@example.com>: host mx.example.com [203.0.113.25]: 550 "
            "No such user",
            ("exim", 550, None, "RCPT", "550 No such user"),
            id="exim-old-mailer-host-prefix",
        ),
        pytest.param(
            EXIM + "H=mx.example.com [203.0.113.25]: SMTP error from remote mail server after "
            "initial connection: 554 5.7.1 Go away",
            ("exim", 554, "5.7.1", "CONNECT", "554 5.7.1 Go away"),
            id="exim-greeting",
        ),
        pytest.param(
            SM + "dsn=5.1.1, stat=User unknown",
            ("sendmail", None, "5.1.1", None, "User unknown"),
            id="sendmail-stat-only",
        ),
        pytest.param(
            SM + "dsn=4.0.0, stat=Deferred: 451 4.3.0 Temporary local problem",
            ("sendmail", 451, "4.3.0", None, "451 4.3.0 Temporary local problem"),
            id="sendmail-stat-with-reply",
        ),
        pytest.param(
            "Nov 28 06:27:02 mail sm-mta[3105]: 4ASC: ruleset=check_rcpt, arg1=<g@example.org>, "
            "relay=unknown [192.0.2.99], reject=550 5.7.1 <g@example.org>... Relaying denied",
            (
                "sendmail-reject",
                550,
                "5.7.1",
                "RCPT",
                "550 5.7.1 <g@example.org>... Relaying denied",
            ),
            id="sendmail-ruleset-reject",
        ),
    ],
)
def test_scan_line(line: str, expected: tuple[object, ...]) -> None:
    assert one(line) == expected


def test_postfix_multiline_reply_is_split_back_into_lines() -> None:
    """Postfix writes a multi-line reply on one line; each ``550-`` starts a line again."""
    line = (
        PF_RELAY + "dsn=5.1.1, status=bounced (host gmail-smtp-in.l.google.com[1.2.3.4] "
        "said: 550-5.1.1 The email account that you tried to reach does not exist. Please "
        "try 550-5.1.1 double-checking the recipient's email address. 550 5.1.1  "
        "https://support.google.com/mail/?p=NoSuchUser id123 - gsmtp (in reply to RCPT TO "
        "command))"
    )
    (found,) = scan_line(line)
    assert found.text.split("\n") == [
        "550-5.1.1 The email account that you tried to reach does not exist. Please try",
        "550-5.1.1 double-checking the recipient's email address.",
        "550 5.1.1  https://support.google.com/mail/?p=NoSuchUser id123 - gsmtp",
    ]
    assert (found.code, found.enhanced, found.command) == (550, "5.1.1", "RCPT")


@pytest.mark.parametrize(
    "line",
    [
        "Nov 28 06:25:01 mail postfix/smtpd[2211]: connect from mail.example.net[198.51.100.7]",
        "2024-11-28T06:25:01.123456+00:00 mail postfix/qmgr[987]: 4XyZ: removed",
        "Sep 28 06:25:01 mail postfix/smtpd[2211]: disconnect from x[1.2.3.4] ehlo=1 quit=1",
        "Dec 28 06:25:01 mail postfix/anvil[1]: statistics: max connection rate 1/60s",
        "2024-11-28 06:27:00 1tGhJk-000Bcd-3L <= alice@example.net H=mail.example.net",
        "Nov 28 06:25:01 mail postfix/smtpd[2211]: warning: rejected pipelining attempt",
        "",
    ],
)
def test_lines_without_a_reply(line: str) -> None:
    assert list(LogScanner().scan([line + "\n"])) == []


def test_crlf_line_endings() -> None:
    text = "S: 220 mx.test ESMTP\r\nC: VRFY bob\r\nS: 252 2.0.0 bob\r\n"
    found = list(LogScanner().scan(text.splitlines(keepends=True)))
    assert [(f.code, f.command, f.text) for f in found] == [
        (220, "CONNECT", "220 mx.test ESMTP"),
        (252, "VRFY", "252 2.0.0 bob"),
    ]


def test_transcript_joins_multiline_replies_and_tracks_commands() -> None:
    found = scan_text((FIXTURES / "transcript.txt").read_text(encoding="utf-8"))
    assert [(f.line, f.code, f.command) for f in found] == [
        (1, 220, "CONNECT"),
        (3, 250, "EHLO"),
        (9, 252, "VRFY"),
        (11, 214, "HELP"),
        (13, 221, "QUIT"),
    ]
    assert found[1].text.split("\n")[-1] == "250 HELP"


@pytest.mark.parametrize(
    "text",
    [
        ">>> VRFY bob\n<<< 252 2.0.0 bob\n",
        "C: VRFY bob\nS: 252 2.0.0 bob\n",
        "-> VRFY bob\n<- 252 2.0.0 bob\n",
    ],
)
def test_transcript_prefixes(text: str) -> None:
    (found,) = scan_text(text)
    assert (found.code, found.enhanced, found.command, found.text) == (
        252,
        "2.0.0",
        "VRFY",
        "252 2.0.0 bob",
    )


def test_bounce_pairs_status_with_diagnostic_code_and_unfolds() -> None:
    """Status 5.1.1 with an smtp Diagnostic-Code is one reply; X-Postfix keeps the status."""
    found = scan_text((FIXTURES / "bounce.eml").read_text(encoding="utf-8"))
    assert [(f.line, f.source, f.code, f.enhanced, f.command) for f in found] == [
        (17, "bounce", 550, "5.1.1", "RCPT"),
        (34, "dsn", 550, "5.1.1", None),
        (39, "dsn", None, "5.2.2", None),
    ]
    assert (
        found[0].text
        == found[1].text
        == (
            "550 5.1.1 <bob@example.com>: Recipient address rejected: User unknown in local "
            "recipient table"
        )
    )
    assert found[2].text == "mailbox full"


def test_status_that_differs_from_the_diagnostic_is_kept() -> None:
    text = "Status: 4.4.7\nDiagnostic-Code: smtp; 451 4.3.0 Try later\n"
    assert [(f.code, f.enhanced) for f in scan_text(text)] == [(None, "4.4.7"), (451, "4.3.0")]


def test_status_alone_ends_at_a_blank_line() -> None:
    text = "Action: delayed\nStatus: 4.4.1\nRemote-MTA: dns; mx.example.com\n\nnext\n"
    (found,) = scan_text(text)
    assert (found.line, found.code, found.enhanced, found.text) == (2, None, "4.4.1", "")


@pytest.mark.parametrize("name", ["postfix.log", "exim.log", "sendmail.log"])
def test_fixture_logs_find_one_reply_per_reply_line(name: str) -> None:
    """Every fixture line that holds a reply or a status gives exactly one `Found`."""
    text = (FIXTURES / name).read_text(encoding="utf-8")
    expected = [
        n
        for n, line in enumerate(text.splitlines(), 1)
        if "dsn=" in line or "SMTP error" in line or "reject" in line
    ]
    assert [f.line for f in scan_text(text)] == expected


def test_scanner_counts_lines_and_streams() -> None:
    """Replies come out while the input is still being read: an endless log works."""
    reply = PF_RELAY + "dsn=4.4.1, status=deferred (connect to x[1.2.3.4]:25: timed out)\n"

    def endless() -> Iterator[str]:
        yield reply
        yield from itertools.repeat("Nov 28 06:25:01 mail postfix/qmgr[1]: 4XyZ: removed\n")

    first = next(LogScanner().scan(endless()))
    assert (first.line, first.enhanced) == (1, "4.4.1")
    scanner = LogScanner()
    assert len(list(scanner.scan([reply] * 3 + ["x\n"] * 7))) == 3
    assert scanner.lines == 10


def test_found_is_immutable() -> None:
    found = Found(1, "postfix", 550, "5.1.1", "550 5.1.1 x", "RCPT")
    with pytest.raises(AttributeError):
        found.code = 250  # type: ignore[misc]


def test_reply_key_and_shape_group_the_same_wording() -> None:
    a = "550 5.1.1 <bob12@example.com>: Recipient address rejected: User unknown"
    b = "550 5.1.1 <carol@example.org>: Recipient address rejected: User unknown"
    assert reply_key(a.replace("bob12", "bob99")) == reply_key(a)
    assert reply_key(a) != reply_key(b)
    assert reply_shape(a) == reply_shape(b)
    gmail = "550 5.1.1 https://support.google.com/mail/?p=NoSuchUser {} - gsmtp"
    assert reply_shape(gmail.format("a640c23a62f3a-aa4e3si1.123")) == reply_shape(
        gmail.format("b11x9z-9q8w7e6si2.456")
    )


def test_reply_shape_keeps_the_wording_that_tells_vendors_apart() -> None:
    spamhaus = "554 5.7.1 Client host [1.2.3.4] blocked using zen.spamhaus.org"
    spamcop = "554 5.7.1 Client host [1.2.3.4] blocked using bl.spamcop.net"
    assert reply_shape(spamhaus) != reply_shape(spamcop)
