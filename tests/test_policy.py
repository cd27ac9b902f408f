"""Policies on recorded sessions built by hand: each option, OK, violated and not reachable."""

from __future__ import annotations

import re

import pytest

from smtpprobe.errors import ProbeConnectError, ProbeTLSError
from smtpprobe.interpret import CHECKS
from smtpprobe.kb import LANGUAGES, load
from smtpprobe.policy import POLICY_CHECKS, Expectation, Policy, apply_policy
from smtpprobe.reply import parse_reply
from smtpprobe.report import (
    Finding,
    ProbeReport,
    Status,
    TlsMode,
    Verdict,
)
from tests.builders import CONTROL, ex, greeting, real_and_control, report, tls
from tests.worded import read

KB = load("en")
EHLO = "250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 STARTTLS\r\n"
NO_DEFAULTS = Policy(cert_days=None)


def added(result: ProbeReport) -> dict[str, Finding]:
    return {f.check: read(f) for f in result.findings if f.check in POLICY_CHECKS}


def judge(policy: Policy, base: ProbeReport) -> dict[str, Finding]:
    return added(apply_policy(base, policy))


def test_no_policy_adds_nothing() -> None:
    base = report(*greeting())
    assert apply_policy(base, NO_DEFAULTS) is base
    assert [f.check for f in base.findings] == list(CHECKS)


def test_policy_findings_come_after_the_interpreters_in_a_fixed_order() -> None:
    policy = Policy(
        expect_vrfy=Expectation.HIDDEN,
        require_starttls=True,
        time_warning=5,
        expect_extensions=("SIZE",),
    )
    result = apply_policy(
        report(*greeting(), *real_and_control("252 x", "252 y"), tls=tls()), policy
    )
    checks = [f.check for f in result.findings]
    assert checks[: len(CHECKS)] == list(CHECKS)
    assert checks[len(CHECKS) :] == [
        "expect-vrfy",
        "require-starttls",
        "cert-days",
        "time",
        "expect-extension",
    ]


@pytest.mark.parametrize(
    ("expected", "real", "control", "status"),
    [
        pytest.param(
            "hidden",
            "252 2.0.0 Cannot VRFY",
            "252 2.0.0 Cannot VRFY",
            Status.OK,
            id="hidden-is-hidden",
        ),
        pytest.param(
            "hidden",
            "250 2.1.5 <postmaster>",
            "550 5.1.1 unknown",
            Status.CRITICAL,
            id="hidden-but-disclosing",
        ),
        pytest.param(
            "hidden",
            "502 5.5.1 disabled",
            "502 5.5.1 disabled",
            Status.CRITICAL,
            id="hidden-but-disabled",
        ),
        pytest.param(
            "disabled",
            "502 5.5.1 disabled",
            "502 5.5.1 disabled",
            Status.OK,
            id="disabled-is-disabled",
        ),
        pytest.param(
            "not-disclosing",
            "502 5.5.1 off",
            "502 5.5.1 off",
            Status.OK,
            id="not-disclosing-accepts-disabled",
        ),
        pytest.param(
            "not-disclosing",
            "252 2.0.0 x",
            "252 2.0.0 x",
            Status.OK,
            id="not-disclosing-accepts-hidden",
        ),
        pytest.param(
            "not-disclosing",
            "530 5.7.0 auth",
            "530 5.7.0 auth",
            Status.OK,
            id="not-disclosing-accepts-refused",
        ),
        pytest.param(
            "not-disclosing",
            "252 2.0.0 x",
            "550 5.1.1 unknown",
            Status.CRITICAL,
            id="not-disclosing-but-disclosing",
        ),
        pytest.param(
            "hidden",
            "451 4.7.1 later",
            "451 4.7.1 later",
            Status.UNKNOWN,
            id="inconclusive-is-unknown",
        ),
    ],
)
def test_expect_vrfy(expected: str, real: str, control: str, status: Status) -> None:
    found = judge(
        Policy(expect_vrfy=Expectation(expected), cert_days=None),
        report(*greeting(), *real_and_control(real, control)),
    )["expect-vrfy"]
    assert found.status is status
    assert [e.command for e in found.evidence] == [b"VRFY postmaster", f"VRFY {CONTROL}".encode()]
    assert found.data["expected"] == expected
    assert f"`--expect-vrfy {expected}`" in found.summary


def test_expect_rcpt_not_tested_is_unknown() -> None:
    found = judge(Policy(expect_rcpt=Expectation.HIDDEN, cert_days=None), report(*greeting()))[
        "expect-rcpt"
    ]
    assert found.status is Status.UNKNOWN and found.data["actual"] == "not-tested"


def test_expectation_accepts() -> None:
    assert Expectation.NOT_DISCLOSING.accepts(Verdict.REFUSED)
    assert not Expectation.NOT_DISCLOSING.accepts(Verdict.DISCLOSING)
    assert not Expectation.HIDDEN.accepts(Verdict.REFUSED)
    assert Expectation.DISABLED.accepts(Verdict.DISABLED)


def test_require_starttls() -> None:
    policy = Policy(require_starttls=True, cert_days=None)
    ok = judge(policy, report(*greeting(), ex("STARTTLS", "220 Ready"), tls=tls()))
    assert ok["require-starttls"].status is Status.OK
    implicit = judge(policy, report(*greeting(), tls=tls(mode=TlsMode.IMPLICIT)))
    assert implicit["require-starttls"].status is Status.OK
    plain = judge(policy, report(*greeting(ehlo="250-mx.example.org\r\n250 SIZE 1\r\n")))
    assert plain["require-starttls"].status is Status.CRITICAL
    assert plain["require-starttls"].params["starttls"] == "not-offered"
    assert plain["require-starttls"].advice and plain["require-starttls"].evidence


def test_require_valid_cert() -> None:
    policy = Policy(require_valid_cert=True, cert_days=None)
    assert judge(policy, report(*greeting(), tls=tls()))["require-valid-cert"].status is Status.OK
    bad = judge(policy, report(*greeting(), tls=tls(verified=False, error="self-signed")))
    assert bad["require-valid-cert"].status is Status.CRITICAL
    assert "self-signed" in bad["require-valid-cert"].summary
    none = judge(policy, report(*greeting()))["require-valid-cert"]
    assert none.status is Status.CRITICAL and none.data["verified"] is False
    # The handshake failed (no --insecure): no TlsInfo, the reason is in the session error.
    failed = ProbeTLSError("certificate verify failed: unable to get local issuer", phase="tls")
    refused = judge(policy, report(*greeting(), complete=False, error=failed))
    assert "unable to get local issuer" in refused["require-valid-cert"].summary


@pytest.mark.parametrize(
    ("days", "status"),
    [
        (90, Status.OK),
        (21, Status.OK),
        (20, Status.WARNING),
        (7, Status.WARNING),
        (6, Status.CRITICAL),
        (0, Status.CRITICAL),
        (-3, Status.CRITICAL),
    ],
)
def test_cert_days_default_21_7(days: int, status: Status) -> None:
    found = judge(Policy(), report(*greeting(), tls=tls(days)))["cert-days"]
    assert found.status is status
    assert found.data == {"policy": True, "days_left": days, "warning": 21, "critical": 7}
    if days < 0:
        assert "expired 3 days ago" in found.summary


def test_cert_days_over_implicit_tls_and_without_a_certificate() -> None:
    implicit = judge(
        Policy(cert_days=(30, 10)), report(*greeting(), tls=tls(25, mode=TlsMode.IMPLICIT))
    )
    assert implicit["cert-days"].status is Status.WARNING
    assert "cert-days" not in judge(Policy(), report(*greeting()))
    assert "cert-days" not in judge(Policy(cert_days=None), report(*greeting(), tls=tls(3)))


def test_total_time_thresholds() -> None:
    slow = [*greeting(), ex("HELP", "214 ok", elapsed=0.2)]
    for warning, critical, status in [
        (1.0, 2.0, Status.OK),
        (0.1, 2.0, Status.WARNING),
        (0.1, 0.2, Status.CRITICAL),
        (None, 0.2, Status.CRITICAL),
        (0.3, None, Status.OK),
    ]:
        found = judge(
            Policy(time_warning=warning, time_critical=critical, cert_days=None),
            report(*slow, elapsed=0.25),
        )["time"]
        assert found.status is status, (warning, critical)
        assert found.evidence[0].command == b"HELP"  # the slowest step is the evidence
        assert found.data["elapsed_s"] == 0.25


def test_banner_delay() -> None:
    policy = Policy(max_banner_delay=0.5, cert_days=None)
    assert judge(policy, report(*greeting(banner_delay=0.4)))["banner-delay"].status is Status.OK
    late = judge(policy, report(*greeting(banner_delay=0.6)))["banner-delay"]
    assert late.status is Status.CRITICAL and late.evidence[0].command == b""
    unreached = judge(policy, report(complete=False, error=ProbeConnectError("refused")))
    assert unreached["banner-delay"].status is Status.UNKNOWN


def test_expect_banner_is_searched_in_the_lines_as_received() -> None:
    base = report(*greeting())
    assert (
        judge(Policy(expect_banner=re.compile(r"^220 mx\.example\.org "), cert_days=None), base)[
            "expect-banner"
        ].status
        is Status.OK
    )
    missed = judge(Policy(expect_banner=re.compile("Exim"), cert_days=None), base)
    assert missed["expect-banner"].status is Status.CRITICAL
    assert missed["expect-banner"].data == {"policy": True, "pattern": "Exim", "matched": False}


def test_expect_extension_counts_the_ehlo_before_tls() -> None:
    inside = "250-mx.example.org\r\n250-AUTH PLAIN\r\n250 SIZE 1\r\n"
    base = report(*greeting(ehlo=inside), tls=tls(), ehlo_before_tls=parse_reply(EHLO.encode()))
    ok = judge(Policy(expect_extensions=("STARTTLS", "AUTH"), cert_days=None), base)
    assert ok["expect-extension"].status is Status.OK
    missing = judge(
        Policy(expect_extensions=("SMTPUTF8", "SIZE", "CHUNKING"), cert_days=None), base
    )["expect-extension"]
    assert missing.status is Status.CRITICAL and missing.data["missing"] == ["SMTPUTF8", "CHUNKING"]
    assert "SMTPUTF8 CHUNKING" in missing.summary


def test_nothing_reached_gives_unknown_not_critical() -> None:
    policy = Policy(
        expect_banner=re.compile("x"),
        expect_extensions=("SIZE",),
        require_starttls=True,
        require_valid_cert=True,
        cert_days=None,
    )
    found = judge(policy, report(complete=False, error=ProbeConnectError("refused")))
    assert {check: f.status for check, f in found.items()} == {
        "expect-banner": Status.UNKNOWN,
        "expect-extension": Status.UNKNOWN,
        "require-starttls": Status.UNKNOWN,
        "require-valid-cert": Status.UNKNOWN,
    }


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_summary_formats_in_every_language(lang: str) -> None:
    """Every policy text key exists and takes the placeholders the code gives it."""
    kb = load(lang)
    policy = Policy(
        expect_vrfy=Expectation.HIDDEN,
        require_starttls=True,
        require_valid_cert=True,
        time_warning=0.1,
        max_banner_delay=0.001,
        expect_banner=re.compile("nope"),
        expect_extensions=("XFOO",),
    )
    result = apply_policy(
        report(
            *greeting(),
            *real_and_control("250 ok", "550 no"),
            tls=tls(3, verified=False, error="bad"),
        ),
        policy,
    )
    for found in added(result).values():
        finding = read(found.finding, kb)
        assert "{" not in finding.summary and not finding.summary.startswith("policy_")
