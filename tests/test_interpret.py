"""The interpreter on recorded sessions built by hand: no network, every verdict and status."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smtpprobe.errors import (
    MalformedReplyError,
    ProbeConnectError,
    ProbeTimeoutError,
    ProbeTLSError,
    ResolveError,
    ServerDisconnectedError,
    SMTPProbeError,
)
from smtpprobe.interpret import CHECKS, interpret, judge, parse_ehlo
from smtpprobe.interpret.ehlo import tls_changes
from smtpprobe.interpret.mail_tls import DANE_VERDICTS
from smtpprobe.kb import load
from smtpprobe.render.json_report import report_document
from smtpprobe.render.plain import to_plain
from smtpprobe.reply import EnhancedCode, Reply, ReplyDefect, parse_reply
from smtpprobe.report import (
    STEPS,
    CertificateInfo,
    Exchange,
    Finding,
    ProbeOptions,
    ProbeReport,
    Session,
    Status,
    TlsInfo,
    TlsMode,
    Verdict,
)
from smtpprobe.views.probe_view import probe_doc
from tests.builders import (
    CONTROL,
    EHLO_NO_TLS,
    ex,
    greeting,
    real_and_control,
    reply,
    session,
)
from tests.worded import read

KB = load("en")


def findings(s: Session, lang: str = "en") -> dict[str, Finding]:
    return {f.check: read(f, load(lang)) for f in interpret(s)}


def overall(s: Session) -> Status:
    return ProbeReport(s, interpret(s)).status


# -- the verdict rule --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("real", "control", "verdict"),
    [
        pytest.param(
            "252 2.0.0 postmaster",
            "550 5.1.1 <zq>: Recipient address rejected: User unknown in local recipient table",
            Verdict.DISCLOSING,
            id="postfix",
        ),
        pytest.param(
            "250 2.1.5 <root@host>",
            "550 5.1.1 zq... User unknown",
            Verdict.DISCLOSING,
            id="sendmail",
        ),
        pytest.param(
            "550 5.7.1 relaying denied",
            "550 5.1.1 user unknown",
            Verdict.DISCLOSING,
            id="same-code-other-enhanced",
        ),
        pytest.param(
            "252 2.1.5 Send some mail, I'll try my best x - gsmtp",
            "252 2.1.5 Send some mail, I'll try my best y - gsmtp",
            Verdict.HIDDEN,
            id="gmail",
        ),
        pytest.param("250 ok", "250 ok", Verdict.HIDDEN, id="accept-all"),
        pytest.param(
            "502 5.5.1 VRFY command is disabled",
            "502 5.5.1 VRFY command is disabled",
            Verdict.DISABLED,
            id="postfix-disabled",
        ),
        pytest.param(
            "500 5.5.2 Error: command not recognized", "502 x", Verdict.DISABLED, id="500-502"
        ),
        pytest.param(
            "530 5.7.0 Authentication required",
            "530 5.7.0 Authentication required",
            Verdict.REFUSED,
            id="auth-required",
        ),
        pytest.param(
            "550 Administrative prohibition",
            "550 Administrative prohibition",
            Verdict.REFUSED,
            id="exim-expn",
        ),
        pytest.param(
            "450 4.7.1 slow down", "450 4.7.1 slow down", Verdict.INCONCLUSIVE, id="temporary"
        ),
        pytest.param("252 ok", "451 try later", Verdict.INCONCLUSIVE, id="one-temporary"),
        pytest.param(
            "501 5.1.3 Bad recipient address syntax",
            "501 5.1.3 Bad recipient",
            Verdict.INCONCLUSIVE,
            id="syntax",
        ),
        pytest.param("354 what", "354 what", Verdict.INCONCLUSIVE, id="intermediate"),
    ],
)
def test_judge(real: str, control: str, verdict: Verdict) -> None:
    assert judge(reply(real), reply(control))[0] is verdict


def test_judge_without_a_reply_is_inconclusive() -> None:
    assert judge(reply("252 ok"), None) == (Verdict.INCONCLUSIVE, "no-reply")
    assert judge(None, None)[0] is Verdict.INCONCLUSIVE


# -- VRFY / EXPN / RCPT findings --------------------------------------------------------------


def test_postfix_vrfy_discloses_with_evidence_and_advice() -> None:
    pair = real_and_control(
        "252 2.0.0 postmaster",
        "550 5.1.1 <zq7x1k9w>: Recipient address rejected: User unknown in local recipient table",
    )
    s = session(*greeting("220 mx.example.org ESMTP Postfix\r\n"), *pair)
    vrfy = findings(s)["vrfy"]
    assert vrfy.verdict is Verdict.DISCLOSING and vrfy.status is Status.WARNING
    assert vrfy.evidence == tuple(pair)
    assert "disable_vrfy_command = yes" in vrfy.advice
    assert "252" in vrfy.summary and "550" in vrfy.summary and CONTROL in vrfy.summary
    assert vrfy.data["pairs"][0]["reason"] == "differs" and vrfy.reason == "differs"
    assert overall(s) is Status.WARNING


def test_gmail_252_for_everyone_is_hidden() -> None:
    text = "252 2.1.5 Send some mail, I'll try my best 1 - gsmtp"
    s = session(*greeting(), *real_and_control(text, text))
    vrfy = findings(s)["vrfy"]
    assert vrfy.verdict is Verdict.HIDDEN and vrfy.status is Status.OK
    assert "--rcpt-check" in vrfy.advice
    assert overall(s) is Status.OK


def test_exim_defaults_hide_vrfy_and_refuse_expn() -> None:
    s = session(
        *greeting("220 mx.example.org ESMTP Exim 4.97 Mon, 01 Jan 2025\r\n"),
        *real_and_control("252 Administrative prohibition", "252 Administrative prohibition"),
        *real_and_control(
            "550 Administrative prohibition", "550 Administrative prohibition", "EXPN"
        ),
    )
    found = findings(s)
    assert found["vrfy"].verdict is Verdict.HIDDEN
    assert found["expn"].verdict is Verdict.REFUSED and found["expn"].status is Status.OK
    assert found["vrfy"].data["vendor"] == "exim"


def test_sendmail_vendor_advice() -> None:
    s = session(
        *greeting("220 h ESMTP Sendmail 8.17.1\r\n"),
        *real_and_control("250 2.1.5 <postmaster@h>", "550 5.1.1 zq... User unknown"),
    )
    assert "novrfy" in findings(s)["vrfy"].advice


def test_unknown_vendor_gets_every_knob() -> None:
    s = session(*greeting(), *real_and_control("250 ok", "550 no"))
    advice = findings(s)["vrfy"].advice
    assert "disable_vrfy_command" in advice and "PrivacyOptions" in advice
    assert "acl_smtp_vrfy" in advice


def test_disabled_vrfy_is_ok() -> None:
    s = session(
        *greeting(),
        *real_and_control(
            "502 5.5.1 VRFY command is disabled", "502 5.5.1 VRFY command is disabled"
        ),
    )
    vrfy = findings(s)["vrfy"]
    assert vrfy.verdict is Verdict.DISABLED and vrfy.status is Status.OK


def test_qualified_pair_is_compared_when_the_probe_had_to_qualify() -> None:
    exchanges = [
        ex("VRFY postmaster", "501 5.1.3 Bad recipient address syntax", argument="postmaster"),
        ex(f"VRFY {CONTROL}", "501 5.1.3 Bad recipient address syntax", argument=CONTROL),
        ex(
            "VRFY postmaster@example.org",
            "252 2.0.0 postmaster@example.org",
            argument="postmaster@example.org",
        ),
        ex(
            f"VRFY {CONTROL}@example.org",
            "550 5.1.1 User unknown",
            argument=f"{CONTROL}@example.org",
        ),
    ]
    qualified = {"postmaster": "postmaster@example.org", CONTROL: f"{CONTROL}@example.org"}
    s = session(*greeting(), *exchanges, qualified_users=qualified)
    vrfy = findings(s)["vrfy"]
    assert vrfy.verdict is Verdict.DISCLOSING
    assert vrfy.evidence == tuple(exchanges[2:])


def test_exchanges_without_a_role_are_never_paired() -> None:
    """Only what the probe stamped as a real name or the control is compared."""
    s = session(*greeting(), ex("VRFY <postmaster>", "250 ok"), ex(f"VRFY {CONTROL}", "550 no"))
    assert findings(s)["vrfy"].verdict is Verdict.INCONCLUSIVE


def test_control_is_found_without_a_recorded_control_address() -> None:
    s = session(*greeting(), *real_and_control("250 ok", "550 no"), control_address="")
    assert findings(s)["vrfy"].verdict is Verdict.DISCLOSING


def test_one_disclosing_user_makes_the_verdict() -> None:
    options = ProbeOptions(users=("postmaster", "nobody"))
    s = session(
        *greeting(),
        *real_and_control("252 a", "252 a"),
        *real_and_control("250 nobody", "252 a", name="nobody")[:1],
        options=options,
    )
    vrfy = findings(s)["vrfy"]
    assert vrfy.verdict is Verdict.DISCLOSING
    assert [p["verdict"] for p in vrfy.data["pairs"]] == ["hidden", "disclosing"]


def test_mixed_verdicts_without_disclosure_are_inconclusive() -> None:
    options = ProbeOptions(users=("postmaster", "abuse"))
    s = session(
        *greeting(),
        *real_and_control("252 a", "252 a"),
        ex("VRFY abuse", "451 later", argument="abuse"),
        options=options,
    )
    assert findings(s)["vrfy"].verdict is Verdict.INCONCLUSIVE


def test_a_missing_control_reply_is_inconclusive() -> None:
    s = session(
        *greeting(),
        ex("VRFY postmaster", "252 ok", argument="postmaster"),
        ex(
            f"VRFY {CONTROL}",
            None,
            argument=CONTROL,
            error=ProbeTimeoutError("no reply", phase="VRFY"),
        ),
        complete=False,
        error=ProbeTimeoutError("no reply", phase="VRFY"),
    )
    found = findings(s)
    assert found["vrfy"].verdict is Verdict.INCONCLUSIVE
    assert found["connection"].status is Status.WARNING


def test_rcpt_disclosing_is_a_warning_that_says_it_is_normal() -> None:
    options = ProbeOptions(steps=frozenset(STEPS))
    s = session(
        *greeting(),
        ex("MAIL FROM:<>", "250 2.1.0 Ok"),
        ex("RCPT TO:<postmaster@example.org>", "250 2.1.5 Ok", argument="postmaster@example.org"),
        ex(
            f"RCPT TO:<{CONTROL}@example.org>",
            "550 5.1.1 User unknown",
            argument=f"{CONTROL}@example.org",
        ),
        options=options,
        qualified_users={"postmaster": "postmaster@example.org"},
    )
    rcpt = findings(s)["rcpt"]
    assert rcpt.verdict is Verdict.DISCLOSING and rcpt.status is Status.WARNING
    assert "Most MX hosts" in rcpt.summary
    assert "pointless" in rcpt.advice


def test_rcpt_after_a_refused_mail_from_is_refused() -> None:
    options = ProbeOptions(steps=frozenset(STEPS))
    s = session(
        *greeting(), ex("MAIL FROM:<>", "530 5.7.0 Authentication required"), options=options
    )
    rcpt = findings(s)["rcpt"]
    assert rcpt.verdict is Verdict.REFUSED and rcpt.status is Status.OK
    assert "530" in rcpt.summary


def test_skipped_steps_are_not_tested_and_ok() -> None:
    s = session(*greeting(), options=ProbeOptions(steps=frozenset({"ehlo", "quit"})))
    found = findings(s)
    for check in ("vrfy", "expn", "rcpt"):
        assert found[check].verdict is Verdict.NOT_TESTED
        assert found[check].status is Status.OK
    assert overall(s) is Status.OK


def test_steps_not_reached_are_unknown_under_a_warning() -> None:
    error = ProbeTimeoutError("deadline", phase="HELP")
    s = session(*greeting(), ex("HELP", None, error=error), complete=False, error=error)
    found = findings(s)
    assert found["vrfy"].status is Status.UNKNOWN
    assert found["connection"].status is Status.WARNING
    assert "HELP" in found["connection"].summary
    assert overall(s) is Status.WARNING


# -- EHLO ---------------------------------------------------------------------------------------

RICH_EHLO = (
    "250-mx.example.org Hello [192.0.2.1]\r\n250-SIZE 35882577\r\n250-8BITMIME\r\n"
    "250-AUTH LOGIN PLAIN XOAUTH2\r\n250-AUTH=LOGIN\r\n250-ENHANCEDSTATUSCODES\r\n"
    "250-PIPELINING\r\n250-CHUNKING\r\n250-SMTPUTF8\r\n250-DSN\r\n250-REQUIRETLS\r\n"
    "250-X-EXPS GSSAPI NTLM\r\n250 STARTTLS\r\n"
)


def test_ehlo_extensions_are_parsed_into_structure() -> None:
    info = parse_ehlo(reply(RICH_EHLO))
    data = info.to_data()
    assert info.greeting == "mx.example.org"
    assert data["size"] == 35882577
    assert data["auth"] == ["LOGIN", "PLAIN", "XOAUTH2"]
    for flag in (
        "starttls",
        "pipelining",
        "smtputf8",
        "chunking",
        "8bitmime",
        "dsn",
        "enhancedstatuscodes",
        "requiretls",
    ):
        assert data[flag] is True, flag
    assert data["other"] == {"X-EXPS": "GSSAPI NTLM"}


def test_ehlo_size_without_a_number_and_missing_flags() -> None:
    data = parse_ehlo(reply("250-h\r\n250 SIZE\r\n")).to_data()
    assert data["size"] is None and data["size_advertised"] is True
    assert data["starttls"] is False and data["auth"] == []


def test_starttls_diff_shows_auth_only_under_tls() -> None:
    before = "250-mx.example.org\r\n250-SIZE 1000\r\n250-STARTTLS\r\n250 8BITMIME\r\n"
    after = "250-mx.example.org\r\n250-SIZE 1000\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"
    tls = TlsInfo(TlsMode.STARTTLS, "TLSv1.3", "TLS_AES_256_GCM_SHA384", None, True)
    s = session(
        *greeting(ehlo=before),
        ex("STARTTLS", "220 2.0.0 Ready to start TLS"),
        ex("EHLO smtpprobe.invalid", after),
        tls=tls,
        ehlo_before_tls=reply(before),
    )
    found = findings(s)
    changes = found["ehlo"].data["tls_changes"]
    assert changes["added"] == ["AUTH"] and changes["removed"] == ["STARTTLS"]
    assert changes["auth_only_with_tls"] is True
    assert "only inside TLS" in found["ehlo"].summary
    assert found["starttls"].status is Status.OK and found["starttls"].data["used"] is True
    assert tls_changes(parse_ehlo(reply(before)), parse_ehlo(reply(before)))["added"] == []


def test_auth_without_tls_is_noted() -> None:
    s = session(*greeting(ehlo="250-h\r\n250 AUTH PLAIN\r\n"))
    assert "without TLS" in findings(s)["ehlo"].summary


def test_helo_fallback() -> None:
    s = session(
        ex("", "220 old.example ready"),
        ex("EHLO x", "502 5.5.2 command not recognized"),
        ex("HELO x", "250 old.example"),
    )
    ehlo = findings(s)["ehlo"]
    assert ehlo.status is Status.OK and ehlo.data["helo_fallback"] is True
    assert "HELO accepted" in ehlo.summary
    # Plain SMTP has no STARTTLS: that, and only that, is worth a warning.
    assert [f.check for f in interpret(s) if f.status is not Status.OK] == ["starttls"]


def test_ehlo_and_helo_refused_is_critical() -> None:
    s = session(ex("", "220 x"), ex("EHLO x", "550 go away"), ex("HELO x", "550 go away"))
    assert findings(s)["ehlo"].status is Status.CRITICAL


# -- HELP ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "conforms", "topics"),
    [
        (
            "214-Commands supported:\r\n214 AUTH STARTTLS HELO EHLO MAIL RCPT DATA BDAT NOOP QUIT "
            "RSET HELP\r\n",
            True,
            12,
        ),
        ("211 DATA HELO EHLO MAIL NOOP QUIT RCPT RSET SAML TURN VRFY", True, 11),
        ("214 qmail home page: http://pobox.com/~djb/qmail.html", True, 0),
        (
            "250 Supported commands: AUTH DATA EHLO HELO HELP MAIL NOOP QUIT RCPT RSET VRFY",
            False,
            11,
        ),
        ("502 5.3.0 Sendmail 8.17 -- HELP not implemented", False, 0),
    ],
)
def test_help(text: str, conforms: bool, topics: int) -> None:
    found = findings(session(*greeting(), ex("HELP", text)))
    assert found["help"].data["conforms"] is conforms
    assert len(found["help"].data["topics"]) == topics
    assert found["help"].status is Status.OK


def test_help_250_is_a_deviation() -> None:
    found = findings(session(*greeting(), ex("HELP", "250 Supported commands: HELP")))
    items = found["deviations"].data["items"]
    assert [i["kind"] for i in items] == ["unexpected-code"]
    assert "RFC 5321 §4.3.2 expects 211 or 214" in found["help"].summary


# -- deviations ----------------------------------------------------------------------------------


def test_reply_defects_are_deviations() -> None:
    mixed = Exchange("NOOP", b"NOOP", parse_reply(b"250-one\r\n251 two\r\n"), 0.1, 0.01)
    bare = Exchange("RSET", b"RSET", parse_reply(b"250 ok\n"), 0.2, 0.01)
    s = session(*greeting(), mixed, bare, ex("QUIT", "221"))
    dev = findings(s)["deviations"]
    kinds = {i["kind"] for i in dev.data["items"]}
    assert {"mixed-codes", "bare-lf", "no-text"} <= kinds
    assert dev.status is Status.OK and dev.data["count"] == len(dev.data["items"])


def test_stray_bytes_after_starttls_warn() -> None:
    s = session(*greeting(), stray=b"250 injected\r\n")
    dev = findings(s)["deviations"]
    assert dev.status is Status.WARNING
    assert dev.data["items"][-1]["kind"] == "stray-bytes"
    assert overall(s) is Status.WARNING


# -- connection, banner, TLS ------------------------------------------------------------------


def test_connection_refused_is_critical() -> None:
    error = ProbeConnectError("cannot connect: Connection refused", phase="connect")
    s = session(complete=False, error=error, connect_elapsed=None)
    found = findings(s)
    assert found["connection"].status is Status.CRITICAL
    assert "Connection refused" in found["connection"].summary
    assert overall(s).exit_code == 2


def test_resolve_error_is_unknown() -> None:
    s = session(complete=False, error=ResolveError("no such name", phase="resolve"))
    assert overall(s) is Status.UNKNOWN


@pytest.mark.parametrize("code", [421, 554, 521])
def test_refusal_at_connect_is_explained_and_critical(code: int) -> None:
    s = session(ex("", f"{code} mx.example.org go away"), complete=False)
    banner = findings(s)["banner"]
    assert banner.status is Status.CRITICAL and banner.data["code"] == code
    assert str(code) in banner.summary and banner.advice
    assert overall(s) is Status.CRITICAL


def test_banner_facts() -> None:
    banner = findings(session(*greeting()))["banner"]
    assert banner.data["domain"] == "mx.example.org" and banner.data["delay_ms"] == 2.0


def test_silent_server_is_critical() -> None:
    error = ProbeTimeoutError("no greeting", phase="banner")
    s = session(ex("", None, error=error), complete=False, error=error)
    found = findings(s)
    assert found["connection"].status is Status.CRITICAL
    assert found["banner"].status is Status.CRITICAL


def test_deadline_before_ehlo_is_critical() -> None:
    error = ProbeTimeoutError("deadline", phase="EHLO")
    s = session(ex("", "220 x"), ex("EHLO x", None, error=error), complete=False, error=error)
    assert findings(s)["connection"].status is Status.CRITICAL


def test_tls_failure_when_asked_for_is_critical() -> None:
    error = ProbeTLSError("the certificate did not verify", phase="STARTTLS")
    s = session(
        *greeting(ehlo="250-h\r\n250 STARTTLS\r\n"),
        ex("STARTTLS", "220 go ahead"),
        complete=False,
        error=error,
        options=ProbeOptions(tls=TlsMode.STARTTLS),
    )
    found = findings(s)
    assert found["connection"].status is Status.CRITICAL
    assert found["starttls"].status is Status.CRITICAL


def test_starttls_failing_in_auto_mode_warns() -> None:
    s = session(
        *greeting(ehlo="250-h\r\n250 STARTTLS\r\n"),
        ex("STARTTLS", "454 4.7.0 TLS not available due to local problem"),
    )
    found = findings(s)
    assert found["starttls"].status is Status.WARNING and "454" in found["starttls"].summary
    assert overall(s) is Status.WARNING


def test_starttls_not_offered_is_a_warning() -> None:
    """Mail to such a server crosses the network in clear: a reviewer wants to know."""
    starttls = findings(session(*greeting(ehlo=EHLO_NO_TLS)))["starttls"]
    assert starttls.status is Status.WARNING and starttls.data["advertised"] is False
    assert starttls.reason == "not-offered" and "in clear" in starttls.summary


def _tls(verified: bool, days: int, error: str = "") -> TlsInfo:
    after = datetime.now(UTC) + timedelta(days=days)
    cert = CertificateInfo("mx.example.org", "CN=Example CA", ("mx.example.org",), after, days)
    return TlsInfo(TlsMode.STARTTLS, "TLSv1.3", "TLS_AES_128_GCM_SHA256", cert, verified, error)


def test_tls_facts() -> None:
    tls = findings(session(*greeting(), tls=_tls(True, 80)))["tls"]
    assert tls.status is Status.OK
    assert tls.data["certificate"]["sans"] == ["mx.example.org"]
    assert tls.data["certificate"]["days_left"] == 80 and "80" in tls.summary


@pytest.mark.parametrize(
    ("verified", "days", "error"), [(False, 80, "self-signed certificate"), (True, -3, "")]
)
def test_bad_certificates_warn(verified: bool, days: int, error: str) -> None:
    assert findings(session(*greeting(), tls=_tls(verified, days, error)))["tls"].status is (
        Status.WARNING
    )


# -- shape and language ------------------------------------------------------------------------


def test_every_check_in_order() -> None:
    assert tuple(f.check for f in interpret(session(*greeting()))) == CHECKS


def test_indonesian_text() -> None:
    s = session(*greeting(), *real_and_control("252 2.0.0 postmaster", "550 5.1.1 unknown"))
    vrfy = findings(s, "id")["vrfy"]
    assert "membedakan pengguna" in vrfy.summary
    assert vrfy.advice and vrfy.advice != findings(s)["vrfy"].advice


# -- property: nothing a server does makes the interpreter raise -------------------------------

_texts = st.text(st.characters(blacklist_characters="\n"), max_size=30)
_replies = st.builds(
    Reply,
    code=st.integers(0, 999),
    lines=st.lists(_texts, min_size=1, max_size=4).map(tuple),
    raw=st.binary(max_size=40),
    enhanced=st.none()
    | st.builds(EnhancedCode, st.sampled_from([2, 4, 5]), st.integers(0, 999), st.integers(0, 999)),
    defects=st.lists(st.sampled_from(list(ReplyDefect)), unique=True).map(tuple),
)
_errors = st.none() | st.builds(
    lambda cls, message, phase: cls(message, phase=phase),
    st.sampled_from(
        [
            ProbeTimeoutError,
            ProbeConnectError,
            ProbeTLSError,
            ResolveError,
            ServerDisconnectedError,
            MalformedReplyError,
        ]
    ),
    _texts,
    st.sampled_from(["", "connect", "banner", "EHLO", "HELP", "VRFY", "tls"]),
)
_commands = st.sampled_from(
    [
        "",
        "EHLO x",
        "HELO x",
        "HELP",
        "VRFY postmaster",
        f"VRFY {CONTROL}",
        "EXPN postmaster",
        f"EXPN {CONTROL}",
        "STARTTLS",
        "MAIL FROM:<>",
        "RCPT TO:<postmaster@x>",
        f"RCPT TO:<{CONTROL}@x>",
        "NOOP",
        "QUIT",
        "XYZZY \x1b[2J",
    ]
)
_exchanges = st.builds(
    lambda command, reply_, error, times: Exchange(
        command.split()[0] if command else "banner",
        command.encode(),
        reply_,
        times[0],
        times[1],
        error,
    ),
    _commands,
    st.none() | _replies,
    _errors,
    st.tuples(st.floats(0, 60), st.floats(0, 60)),
)


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    exchanges=st.lists(_exchanges, max_size=12),
    error=_errors,
    complete=st.booleans(),
    tls_mode=st.sampled_from(list(TlsMode)),
    stray=st.binary(max_size=8),
    before=st.none() | _replies,
    tls=st.none() | st.just(_tls(True, 5)) | st.just(_tls(False, -1, "expired")),
)
def test_any_transcript_gives_findings(
    exchanges: list[Exchange],
    error: SMTPProbeError | None,
    complete: bool,
    tls_mode: TlsMode,
    stray: bytes,
    before: Reply | None,
    tls: TlsInfo | None,
) -> None:
    s = session(
        *exchanges,
        error=error,
        complete=complete,
        stray=stray,
        ehlo_before_tls=before,
        tls=tls,
        options=ProbeOptions(tls=tls_mode, steps=frozenset(STEPS)),
    )
    result = interpret(s)
    assert tuple(f.check for f in result) == CHECKS
    report = ProbeReport(s, result)
    json.dumps(report_document(report, KB))
    assert "\x1b" not in to_plain(probe_doc(report, KB))


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("550 Administrative prohibition", Verdict.REFUSED),
        ("502 5.5.1 Unimplemented command", Verdict.DISABLED),
        ("250-Jane <jane@example.org>\r\n250 John <john@example.org>\r\n", Verdict.DISCLOSING),
        ("252 2.1.5 Cannot EXPN", Verdict.HIDDEN),
        ("451 try later", Verdict.INCONCLUSIVE),
    ],
)
def test_expn_without_a_control_is_judged_from_its_reply(text: str, verdict: Verdict) -> None:
    s = session(*greeting(), ex("EXPN postmaster", text, argument="postmaster"))
    expn = findings(s)["expn"]
    assert expn.verdict is verdict
    assert " - " not in expn.summary and "-" != expn.summary.split()[-1]


# -- the interface text behind the findings ---------------------------------------------------


def _ui_probe(lang: str) -> dict[str, str]:
    import tomllib
    from importlib import resources

    path = resources.files("smtpprobe.kb").joinpath("data", lang, "ui_probe.toml")
    with path.open("rb") as handle:
        return tomllib.load(handle)


def test_ui_probe_languages_match_keys_and_placeholders() -> None:
    import re

    en, id_ = _ui_probe("en"), _ui_probe("id")
    assert set(en) == set(id_)
    for key in en:
        assert set(re.findall(r"\{\w+\}", en[key])) == set(re.findall(r"\{\w+\}", id_[key])), key


def test_every_key_the_code_uses_exists() -> None:
    import re
    from pathlib import Path

    import smtpprobe

    root = Path(smtpprobe.__file__).parent
    sources = [
        *root.joinpath("interpret").glob("*.py"),
        root / "views" / "probe_view.py",
        root / "commands" / "demo.py",
    ]
    used = {
        key
        for path in sources
        for key in re.findall(r'"(probe_[a-z0-9_-]+)"', path.read_text())
        if not key.endswith("_")
    }
    used |= {f"probe_status_{s.value}" for s in Status}
    enumeration = set(Verdict) - DANE_VERDICTS  # DANE's are worded in ui_mail_tls.toml
    used |= {f"probe_verdict_{v.value}" for v in enumeration}
    used |= {f"probe_check_{c}" for c in CHECKS}
    used |= {f"probe_defect_{d.value}" for d in ReplyDefect}
    assert used - {"probe_doc"} <= set(_ui_probe("en"))


def test_503_after_a_554_greeting_is_no_deviation() -> None:
    """RFC 5321 §3.1: a server that greets with 554 SHOULD answer 503 to every command."""
    s = session(
        ex("", "554 5.7.1 No SMTP service here"),
        ex("EHLO smtpprobe.invalid", "503 5.5.1 bad sequence"),
        ex("QUIT", "221 bye"),
        complete=False,
    )
    assert findings(s)["deviations"].data["items"] == []
    normal = session(ex("", "220 mx.example.org"), ex("NOOP", "503 5.5.1 bad sequence"))
    assert [i["kind"] for i in findings(normal)["deviations"].data["items"]] == ["unexpected-code"]
