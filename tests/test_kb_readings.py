"""The knowledge base's facts and readings that an audit against the RFCs, the Postfix and Exim
sources and real replies found wrong (issue 10, §1 and §3); each fix has its test here."""

from __future__ import annotations

import pytest

from smtpprobe.kb import load, pattern_text
from smtpprobe.meaning import annotate_reply
from smtpprobe.reply import parse_reply
from smtpprobe.views.annotation_doc import reading


def read(text: str, command: str | None = None, lang: str = "en"):  # type: ignore[no-untyped-def]
    return annotate_reply(parse_reply(text), load(lang), command)


def first_pattern(text: str) -> str | None:
    annotation = read(text)
    return annotation.patterns[0].id if annotation.patterns else None


# -- §1 entries --------------------------------------------------------------------------


def test_454_is_read_as_postfix_relay_refusal_first() -> None:
    kb = load("en")
    entry = kb.basic(454)
    assert "Relay" in entry.title and "Relay access denied" in entry.description
    annotation = read("454 4.7.1 <bob@example.org>: Relay access denied", "RCPT")
    assert reading(annotation).basis == "pattern:postfix-relay-denied"
    assert "password" not in reading(annotation).fix


def test_504_knows_fqdn_and_encryption_cases() -> None:
    entry = load("en").basic(504)
    assert "need fully-qualified hostname" in entry.when
    assert "Encryption required for requested authentication mechanism" in entry.when
    assert "STARTTLS" in entry.fix
    assert "504" in load("en").basic(538).when
    fix = reading(
        read("504 5.5.4 Encryption required for requested authentication mechanism", "AUTH")
    ).fix
    assert "STARTTLS" in fix


def test_553_knows_sender_login_mismatch_and_sendmail_domain() -> None:
    entry = load("en").basic(553)
    assert "not owned by user" in entry.when and "5.1.8" in entry.when
    assert (
        first_pattern("553 5.7.1 <a@example.org>: Sender address rejected: not owned by user bob")
        == "postfix-sender-login-mismatch"
    )


def test_451_exim_wording_and_vrfy_only_example() -> None:
    kb = load("en")
    assert "Temporary local problem - please try later" in kb.basic(451).when
    context = kb.context(451, "VRFY")
    assert context is not None and "VRFY-only" in context.meaning


def test_450_and_452_follow_postfix_defaults() -> None:
    kb = load("en")
    assert "unknown_client_reject_code = 450" in kb.basic(450).when
    operator = kb.basic(452).fix_operator
    assert "defaults to 0" in operator and "1.5" in operator


def test_forward_path_disclosure_cites_7_7_and_3_4() -> None:
    kb = load("en")
    for code in (251, 551):
        assert "§7.7" in kb.basic(code).fix_operator and "§3.4" in kb.basic(code).fix_operator


def test_x52_and_vrfy_must_252() -> None:
    kb = load("en")
    when = kb.enhanced("X.5.2").when
    assert "`501 Syntax: HELO hostname` sends no enhanced code" in when
    assert "3.7+" in when
    assert "MUST answer 252" in kb.basic(502).fix_operator


def test_registry_only_codes_are_called_associations() -> None:
    kb = load("en")
    for key in ("X.3.2", "X.7.10", "X.7.13"):
        assert "registry association" in kb.enhanced(key).when, key


def test_exim_banner_delay_is_acl_delay() -> None:
    for lang in ("en", "id"):
        assert "acl_smtp_connect" in load(lang).finding_words("banner-delay", "violated")["advice"]


def test_microsoft_rule_ids_are_not_as_numbers() -> None:
    meaning = load("en").patterns_for(550, "part of their network is on our block list (S3150)")
    assert meaning and "not an AS number" in meaning[0].meaning


def test_spamhaus_dbl_is_a_domain_listing() -> None:
    text = "554 5.7.1 Service unavailable; Sender address [a@spam.example] blocked using dbl.spamhaus.org"
    assert first_pattern(text) == "spamhaus-dbl"
    assert (
        first_pattern(
            "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org"
        )
        == "spamhaus-listed"
    )


def test_exim_connection_limits_are_told_apart() -> None:
    assert (
        first_pattern(
            "421 Too many concurrent SMTP connections from this IP address; please try again later."
        )
        == "exim-too-many-connections-per-host"
    )
    assert (
        first_pattern("421 Too many concurrent SMTP connections; please try again later.")
        == "exim-too-many-connections"
    )


def test_yahoo_ts03_is_not_called_4xx() -> None:
    annotation = read(
        "553 5.7.1 [TS03] All messages from 192.0.2.1 will be permanently deferred; "
        "Retrying will NOT succeed."
    )
    assert annotation.patterns[0].id == "yahoo-permanently-deferred"
    assert "4xx" not in annotation.patterns[0].meaning


# -- §3 reading real replies ---------------------------------------------------------------


def test_pattern_text_joins_wrapped_lines() -> None:
    assert (
        pattern_text(
            (
                "5.7.1 [1.2.3.4] Our system has detected that this message is",
                "5.7.1 likely unsolicited mail.",
            )
        )
        == "5.7.1 [1.2.3.4] Our system has detected that this message is likely unsolicited mail."
    )
    assert pattern_text(("a  b", "  c")) == "a b c"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            (
                "550-5.7.1 [192.0.2.1] Our system has detected that this message is\n"
                "550-5.7.1 likely unsolicited mail. To reduce the amount of spam sent to Gmail,\n"
                "550 5.7.1 this message has been blocked. x - gsmtp"
            ),
            "gmail-likely-unsolicited",
        ),
        (
            (
                "550-5.7.1 This message does not have authentication information or fails to\n"
                "550 5.7.1 pass authentication checks. x - gsmtp"
            ),
            "gmail-auth-checks-failed",
        ),
    ],
)
def test_wrapped_gmail_texts_match(text: str, expected: str) -> None:
    assert first_pattern(text) == expected


@pytest.mark.parametrize(
    ("text", "title_word", "not_word"),
    [
        ("550 5.7.30 This message does not pass DKIM. x - gsmtp", "DKIM", "REQUIRETLS"),
        ("421 4.7.30 This message does not pass DKIM. x - gsmtp", "DKIM", "REQUIRETLS"),
        ("421 4.7.27 This message does not pass SPF. x - gsmtp", "SPF", "null MX"),
        ("550 5.7.27 This message does not pass SPF. x - gsmtp", "SPF", "null MX"),
        ("550 5.7.32 From: header not aligned. x - gsmtp", "aligned", "registry"),
        ("550 5.7.40 No DMARC record. x - gsmtp", "DMARC", "registry"),
        (
            "554 5.7.9 Message not accepted for policy reasons. See https://senders.yahooinc.com/error-codes",
            "Yahoo",
            "too weak",
        ),
        (
            (
                "550 5.7.509 Access denied, sending domain x.example does not pass DMARC verification "
                "and has a DMARC policy of reject."
            ),
            "DMARC",
            "Security or Policy",
        ),
    ],
)
def test_vendor_overloads_replace_the_registry_reading(
    text: str, title_word: str, not_word: str
) -> None:
    """Illustrative texts (the code and the vendor marker are what the readings rest on)."""
    for lang in ("en", "id"):
        annotation = read(text, lang=lang)
        assert annotation.enhanced is not None
        title = reading(annotation).title
        if lang == "en":
            assert title_word in title and not_word not in title, title
        assert annotation.patterns[0].overload


def test_postfix_null_mx_keeps_its_own_5_7_27() -> None:
    text = "550 5.7.27 <a@example.net>: Sender address rejected: Domain example.net does not accept mail (nullMX)"
    annotation = read(text)
    assert annotation.patterns[0].id == "postfix-sender-null-mx"
    assert annotation.enhanced is not None and not annotation.enhanced.title.endswith("(Gmail)")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("550 Unrouteable address", "exim-unrouteable"),
        (
            "550-Verification failed for <a@x.invalid>\n550-Unrouteable address\n550 Sender verify failed",
            "exim-sender-verify-failed",
        ),
        ("451 Temporary local problem - please try later", "exim-temporary-local-problem"),
        ("554 SMTP synchronization error", "exim-sync-error"),
        (
            "450 4.1.1 <b@example.org>: Recipient address rejected: undeliverable address: host x said: 550",
            "postfix-undeliverable-address",
        ),
        (
            "503 5.5.0 <b@example.org>: Recipient address rejected: Improper use of SMTP command pipelining",
            "postfix-unauth-pipelining",
        ),
        ("450 4.7.1 Error: too much mail from 192.0.2.1", "postfix-message-rate-limit"),
        ("421 4.7.0 mx.example.org Error: too many errors", "postfix-too-many-errors"),
        (
            "450 4.7.1 <h.invalid>: Helo command rejected: Host not found",
            "postfix-helo-host-not-found",
        ),
        (
            "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using b.barracudacentral.org",
            "barracuda-listed",
        ),
        (
            "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using bl.spamcop.net",
            "spamcop-listed",
        ),
        (
            "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using dnsbl.example.net",
            "dnsbl-listed",
        ),
        (
            "554 delivery error: dd This user doesn't have a yahoo.com account (x@yahoo.com) [0] - mta1",
            "yahoo-dd-no-account",
        ),
        ("552 1 Requested mail action aborted, mailbox not found", "yahoo-mailbox-not-found"),
        (
            "552 5.2.3 Your message exceeded Google's message size limits. x - gsmtp",
            "gmail-size-limit",
        ),
        (
            "450 4.2.1 The user you are trying to contact is receiving mail too quickly. x - gsmtp",
            "gmail-receiving-rate",
        ),
    ],
)
def test_missing_texts_by_family(text: str, expected: str) -> None:
    assert first_pattern(text) == expected


def test_explain_annotate_and_probe_share_one_reading() -> None:
    """The probe's transcript, explain and annotate all call meaning.annotate_reply."""
    import inspect

    from smtpprobe.views import annotate_view, explanation, probe_view

    for module in (annotate_view, explanation, probe_view):
        assert "annotate_reply(" in inspect.getsource(module)


def test_success_replies_skip_the_failure_patterns() -> None:
    """Code-less patterns read 4xx/5xx only, so a healthy session compiles almost none."""
    from smtpprobe.kb import _compiled

    kb = load("en")
    assert kb.patterns_for(250, "250 2.1.5 Ok: Relay access denied, user unknown") == ()
    _compiled.cache_clear()
    for code, text in (
        (220, "mx ESMTP Postfix"),
        (250, "2.1.0 Ok"),
        (214, "2.0.0 Commands"),
        (221, "2.0.0 Bye"),
    ):
        kb.patterns_for(code, text)
    assert _compiled.cache_info().currsize <= 2
    assert [p.id for p in kb.patterns_for(252, "Administrative prohibition")] == [
        "exim-administrative-prohibition"
    ]
