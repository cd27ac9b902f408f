"""The Nagios plugin line: its shape, perfdata syntax, and server text that cannot break it."""

from __future__ import annotations

import re

import pytest

from smtpprobe.errors import ResolveError
from smtpprobe.fleet import TargetResult
from smtpprobe.kb import load
from smtpprobe.policy import Expectation, Policy, apply_policy
from smtpprobe.render.formats import OutputFormat, render_report
from smtpprobe.render.nagios import nagios_output, perfdata
from smtpprobe.report import Finding, Status, Target
from tests.builders import ex, greeting, real_and_control, report, tls

KB = load("en")

# Plugin guidelines: 'label'=value[UOM];[warn];[crit];[min];[max]
PERF = re.compile(
    r"(?:'[^'=]+'|[^'= ]+)=-?[0-9.]+(?:s|%|B|KB|MB|TB|c|us|ms)?"
    r"(?:;-?[0-9.]*){0,4}"
)
ITEM = re.compile(r"(?:'[^']*'|[^'\s=]+)=\S*")
LINE = re.compile(r"SMTP (OK|WARNING|CRITICAL|UNKNOWN) - ([^|\n]*)(?: \| (.*))?")


def parse(output: str) -> tuple[str, str, list[str]]:
    first = output.splitlines()[0]
    match = LINE.fullmatch(first)
    assert match, first
    perf = ITEM.findall(match[3] or "")
    assert " ".join(perf) == (match[3] or "")
    for item in perf:
        assert PERF.fullmatch(item), item
    return match[1], match[2], perf


def test_the_example_shape_from_the_issue() -> None:
    base = report(
        *greeting(), *real_and_control("252 2.0.0 x", "252 2.0.0 x"), tls=tls(84), elapsed=0.012
    )
    checked = apply_policy(base, Policy(time_warning=1, time_critical=5))
    line = render_report(OutputFormat.NAGIOS, checked, KB)
    assert line.endswith("\n") and line.count("\n") == 1
    status, text, perf = parse(line)
    assert status == "OK"
    assert text == "mx.example.org:25 220 in 0.012s, VRFY hidden, STARTTLS TLSv1.3, cert 84 days"
    assert perf == ["time=0.012s;1;5;0", "banner=0.002s", "connect=0.003s", "cert_days=84;21;7"]


def test_problems_follow_the_facts_worst_first() -> None:
    base = report(
        *greeting(), *real_and_control("250 2.1.5 <postmaster>", "550 5.1.1 unknown"), tls=tls(10)
    )
    checked = apply_policy(base, Policy(expect_vrfy=Expectation.HIDDEN))
    line = render_report(OutputFormat.NAGIOS, checked, KB)
    status, text, perf = parse(line)
    assert status == "CRITICAL"
    facts, problems = text.split(" - ", 1)
    assert "VRFY disclosing" in facts and "cert 10 days" in facts
    assert problems.startswith("VRFY is disclosing, but --expect-vrfy hidden was asked for")
    assert "`" not in line  # no backticks for a shell to run
    assert "expires in 10 days" in problems  # the WARNING comes after the CRITICAL
    assert "cert_days=10;21;7" in perf


def test_banner_limit_goes_into_perfdata() -> None:
    base = apply_policy(report(*greeting()), Policy(max_banner_delay=3))
    assert "banner=0.002s;;3" in perfdata(base)
    assert perfdata(base, "mx1:25")[0].startswith("'mx1:25 time'=")


@pytest.mark.parametrize("hostile", ["evil | time=999s", "a\nSMTP OK - fake", "\x1b[2J|\r\n"])
def test_server_text_cannot_break_the_line(hostile: str) -> None:
    base = report(ex("", "554 5.7.1 go away | now\r\n"))
    # A finding whose summary quotes the server verbatim, control characters included.
    quoted = Finding("banner", Status.CRITICAL, f"greeting said: {hostile}")
    with_quote = type(base)(base.session, (*base.findings, quoted))
    line = render_report(OutputFormat.NAGIOS, with_quote, KB)
    assert line.count("\n") == 1 and "\r" not in line and "\x1b" not in line
    status, text, _perf = parse(line)
    assert status == "CRITICAL" and "greeting said: " in text and "|" not in text


def test_an_unresolved_target_is_unknown_without_perfdata() -> None:
    error = ResolveError("nope.test does not exist (NXDOMAIN)")
    note = Finding("connection", Status.UNKNOWN, "not-probed", cause=error)
    result = TargetResult(Target("nope.test", 25), None, error, (note,))
    assert nagios_output([result], KB) == (
        "SMTP UNKNOWN - nope.test:25 Not probed: nope.test does not exist (NXDOMAIN)\n"
    )


def test_several_targets_summary_line_then_one_line_each() -> None:
    ok = report(*greeting(), *real_and_control("252 x", "252 x"))
    bad = report(
        *greeting(),
        *real_and_control("250 yes", "550 no"),
        target=Target("mx2.example.org", 25, "192.0.2.26"),
    )
    results = [TargetResult(r.target, r) for r in (ok, bad)]
    lines = nagios_output(results, KB).splitlines()
    status, text, perf = parse(lines[0])
    assert status == "WARNING" and text == "2 targets: 1 WARNING, 1 OK (mx2.example.org:25)"
    assert {p.split("=")[0] for p in perf} >= {
        "'mx.example.org:25 time'",
        "'mx2.example.org:25 time'",
    }
    assert lines[1].startswith("OK: mx.example.org:25 220 in")
    assert lines[2].startswith("WARNING: mx2.example.org:25 ") and "VRFY disclosing" in lines[2]
    assert len(lines) == 3


def test_same_target_twice_gets_distinct_labels() -> None:
    one = report(*greeting())
    other = report(*greeting(), target=Target("mx.example.org", 25, "192.0.2.99"))
    perf = parse(nagios_output([TargetResult(r.target, r) for r in (one, other, one)], KB))[2]
    assert [p.split("=")[0] for p in perf if "time" in p] == [
        "'mx.example.org:25 #1 time'",
        "'mx.example.org:25 192.0.2.99 time'",
        "'mx.example.org:25 #3 time'",
    ]


def test_indonesian_words_status_stays_english() -> None:
    line = render_report(OutputFormat.NAGIOS, report(*greeting(), tls=tls(84)), load("id"))
    assert line.startswith("SMTP OK - ") and "sertifikat 84 hari" in line
