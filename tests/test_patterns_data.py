"""Consistency checks for the vendor/situation pattern knowledge base."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

DATA = Path(__file__).parent.parent / "src/smtpprobe/kb/data"
LANGS = ("en", "id")
ENHANCED_RE = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}$")
REPLY_RE = re.compile(r"^(\d{3})[ -](?:([245]\.\d{1,3}\.\d{1,3})\s)?")


def _load(rel: str) -> dict:
    with (DATA / rel).open("rb") as fh:
        return tomllib.load(fh)


PATTERNS: list[dict] = _load("patterns.toml")["pattern"]
IDS = [p["id"] for p in PATTERNS]

# (sample reply line from docs/reference §4 / §3, expected pattern id)
SAMPLES = [
    (
        "550-5.1.1 The email account that you tried to reach does not exist. Please try "
        "double-checking the recipient's email address for typos",
        "gmail-no-such-user",
    ),
    (
        "550 5.1.1 <bob@example.org>: Recipient address rejected: User unknown in local recipient table",
        "postfix-user-unknown",
    ),
    (
        "550 5.1.1 <bob@example.org>: Recipient address rejected: User unknown in virtual mailbox table",
        "postfix-user-unknown",
    ),
    (
        "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
        "ms-recipient-not-found",
    ),
    ("554 5.7.1 <bob@example.org>: Relay access denied", "postfix-relay-denied"),
    ("550 relay not permitted", "exim-relay-not-permitted"),
    (
        "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org; "
        "https://www.spamhaus.org/query/ip/192.0.2.1",
        "spamhaus-listed",
    ),
    (
        "550 5.7.1 Service unavailable, Client host [192.0.2.1] blocked using Spamhaus. To request "
        "removal from this list see https://www.spamhaus.org/query/ip/192.0.2.1 (AS16012611)",
        "ms-eop-spamhaus",
    ),
    (
        "550 5.7.606 Access denied, banned sending IP [192.0.2.1]. To request removal from this list "
        "please visit https://sender.office.com/ and follow the directions. (AS16012609)",
        "ms-banned-sending-ip",
    ),
    ("550 5.7.708 Access denied, traffic not accepted from this IP", "ms-traffic-not-accepted"),
    (
        "451 4.7.500 Server busy. Please try again later from [192.0.2.1]. (AS77712344)",
        "ms-server-busy",
    ),
    (
        "550 5.4.1 <bob@example.org>: Recipient address rejected: Access denied "
        "[DB5EUR03FT012.eop-EUR03.prod.protection.outlook.com]",
        "ms-recipient-access-denied",
    ),
    (
        "530 5.7.57 SMTP; Client was not authenticated to send anonymous mail during MAIL FROM",
        "ms-anonymous-mail",
    ),
    (
        "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant",
        "ms-smtp-auth-disabled",
    ),
    ("535 5.7.3 Authentication unsuccessful", "ms-auth-unsuccessful"),
    ("535 5.7.8 Error: authentication failed: authentication failure", "postfix-sasl-auth-failed"),
    ("535 Incorrect authentication data", "exim-incorrect-auth-data"),
    (
        "534-5.7.14 <https://accounts.google.com/ContinueSignIn?x> Please log in via your web browser "
        "and then try again.",
        "gmail-web-login-required",
    ),
    ("530 5.7.0 Must issue a STARTTLS command first", "starttls-required"),
    (
        "421 4.7.0 mx.example.org Error: too many connections from 192.0.2.1",
        "postfix-too-many-connections",
    ),
    (
        "421 mx.example.org: Too many concurrent SMTP connections; please try again later",
        "exim-too-many-connections",
    ),
    ("450 4.7.1 Error: too many recipients from 192.0.2.1", "postfix-recipient-rate-limit"),
    ("452 4.5.3 Error: too many recipients", "postfix-too-many-recipients"),
    ("552 5.3.4 Message size exceeds fixed limit", "postfix-message-too-big"),
    ("552 Error: message size exceeds fixed maximum message size", "message-size-exceeds-maximum"),
    ("452 4.3.1 Insufficient system storage", "insufficient-system-storage"),
    (
        "450 4.2.0 <bob@example.org>: Recipient address rejected: Greylisted, see "
        "http://postgrey.schweikert.ch/help/example.org.html",
        "postgrey-greylisted",
    ),
    ("451 4.7.1 Service unavailable - try again later", "plesk-greylisting"),
    ("451 4.7.1 Please try again later", "generic-try-again-later"),
    (
        "421-4.7.28 Our system has detected an unusual rate of unsolicited mail originating from "
        "your IP address.",
        "gmail-rate-limited",
    ),
    (
        "421-4.7.0 Our system has detected that this message is suspicious due to the very low "
        "reputation of the sending domain.",
        "gmail-low-reputation",
    ),
    (
        "550-5.7.26 Unauthenticated email from example.com is not accepted due to domain's DMARC "
        "policy.",
        "gmail-dmarc",
    ),
    (
        "550-5.7.26 This mail has been blocked because the sender is unauthenticated. Gmail requires "
        "all senders to authenticate with either SPF or DKIM.",
        "gmail-unauthenticated",
    ),
    (
        "550-5.7.1 This message does not have authentication information or fails to pass "
        "authentication checks.",
        "gmail-auth-checks-failed",
    ),
    (
        "550-5.7.1 Our system has detected that this message is likely unsolicited mail.",
        "gmail-likely-unsolicited",
    ),
    (
        "550-5.7.25 The IP address sending this message does not have a PTR record setup.",
        "gmail-missing-ptr",
    ),
    ("452-4.2.2 The recipient's inbox is out of storage space.", "gmail-over-quota"),
    (
        "421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or "
        "user complaints - 4.16.55.1",
        "yahoo-tss04",
    ),
    (
        "421 4.7.1 [TS03] All messages from 192.0.2.1 permanently deferred",
        "yahoo-permanently-deferred",
    ),
    (
        "550 5.7.1 [CS01] Message rejected due to local policy. Please visit "
        "https://support.apple.com/en-us/HT204137",
        "icloud-policy-block",
    ),
    (
        "550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your Internet "
        "service provider since part of their network is on our block list (AS3150).",
        "outlook-com-blocklist",
    ),
    (
        "554 mx.comcast.net 192.0.2.1 found on one or more DNSBLs, see "
        "http://postmaster.comcast.net/smtp-error-codes.php#BL000010",
        "comcast-dnsbl",
    ),
    (
        "450 4.7.25 Client host rejected: cannot find your hostname, [192.0.2.1]",
        "postfix-no-reverse-hostname",
    ),
    (
        "550 5.7.27 <a@example.net>: Sender address rejected: Domain example.net does not accept mail "
        "(nullMX)",
        "postfix-sender-null-mx",
    ),
    (
        "556 5.1.10 <a@example.net>: Recipient address rejected: Domain example.net does not accept "
        "mail (nullMX)",
        "postfix-recipient-null-mx",
    ),
    ("502 5.5.1 VRFY command is disabled", "postfix-vrfy-disabled"),
    ("252 Administrative prohibition", "exim-administrative-prohibition"),
    (
        "252 2.5.2 Cannot VRFY user; try RCPT to attempt delivery (or try finger)",
        "sendmail-vrfy-disabled",
    ),
    ("502 5.7.0 Sorry, we do not allow this operation", "sendmail-expn-refused"),
    ("252 2.1.5 Send some mail, I'll try my best x12si34 - gsmtp", "gmail-vrfy-try-my-best"),
    ("252 send some mail, i'll try my best", "qmail-vrfy-try-my-best"),
    (
        "252 Cannot VRFY user, but will accept message and attempt delivery",
        "vrfy-cannot-verify-will-accept",
    ),
    ("530 5.7.0 Authentication required", "auth-required"),
    ("553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)", "qmail-relay-denied"),
    (
        "554 5.7.1 <bob@example.org>: Recipient address rejected: Access denied",
        "postfix-access-denied",
    ),
    ("451 4.7.1 Greylisted for 300 seconds", "greylisting"),
]


def _matches(line: str) -> set[str]:
    """Ids whose regex, `code` and `enhanced` all fit the sample reply line."""
    head = REPLY_RE.match(line)
    assert head, f"sample is not a reply line: {line!r}"
    code, enhanced = int(head.group(1)), head.group(2)
    found = set()
    for p in PATTERNS:
        if "code" in p and p["code"] != code:
            continue
        if "enhanced" in p and p["enhanced"] != enhanced:
            continue
        if re.search(p["match"], line, re.IGNORECASE):
            found.add(p["id"])
    return found


def test_ids_unique_and_kebab_case():
    assert len(IDS) == len(set(IDS))
    for pid in IDS:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", pid), pid


def test_pattern_fields():
    allowed = {"id", "match", "code", "enhanced", "vendor", "overload", "seen_with", "source"}
    for p in PATTERNS:
        assert set(p) <= allowed, p["id"]
        assert p["match"].strip() and p["vendor"].strip(), p["id"]
        re.compile(p["match"], re.IGNORECASE)
        if "code" in p:
            assert isinstance(p["code"], int) and 200 <= p["code"] <= 599, p["id"]
        if "enhanced" in p:
            assert ENHANCED_RE.match(p["enhanced"]), p["id"]
            if "code" in p:
                assert p["enhanced"][0] == str(p["code"])[0], p["id"]


@pytest.mark.parametrize("lang", LANGS)
def test_pattern_texts_cover_exactly_the_ids(lang):
    texts = _load(f"{lang}/patterns.toml")
    assert set(texts) == set(IDS)
    for pid, entry in texts.items():
        assert {"meaning", "fix"} <= set(entry) <= {"meaning", "fix", "title"}, pid
        assert entry["meaning"].strip() and entry["fix"].strip(), pid


@pytest.mark.parametrize("lang", LANGS)
def test_classes(lang):
    data = _load(f"{lang}/classes.toml")
    expected = {
        "basic_class": {"2", "3", "4", "5"},
        "basic_category": {str(n) for n in range(6)},
        "enhanced_class": {"2", "4", "5"},
        "enhanced_subject": {str(n) for n in range(8)},
    }
    assert {k: set(v) for k, v in data.items()} == expected
    for group in data.values():
        for entry in group.values():
            assert set(entry) == {"name", "meaning"}
            assert entry["name"].strip() and entry["meaning"].strip()


@pytest.mark.parametrize(("line", "expected"), SAMPLES)
def test_reference_samples_match(line, expected):
    assert expected in _matches(line)
