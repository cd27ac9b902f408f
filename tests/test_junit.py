"""JUnit XML: one suite per target, one case per check, failures and errors, hostile text."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from smtpprobe.errors import ResolveError
from smtpprobe.fleet import TargetResult
from smtpprobe.kb import load
from smtpprobe.policy import Expectation, Policy, apply_policy
from smtpprobe.render.formats import OutputFormat, render_report
from smtpprobe.render.junit import junit_xml
from smtpprobe.report import Finding, ProbeReport, Status, Target
from tests.builders import ex, greeting, real_and_control, report

KB = load("en")


def parse(text: str) -> ET.Element:
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    return ET.fromstring(text.encode("utf-8"))


def cases(suite: ET.Element) -> dict[str, ET.Element]:
    return {case.get("name", ""): case for case in suite.iter("testcase")}


def test_one_case_per_check_and_a_failure_per_violated_policy() -> None:
    base = report(*greeting(), *real_and_control("250 2.1.5 <postmaster>", "550 5.1.1 unknown"))
    checked = apply_policy(base, Policy(expect_vrfy=Expectation.HIDDEN, time_warning=60))
    root = parse(render_report(OutputFormat.JUNIT, checked, KB))
    suite = root.find("testsuite")
    assert suite is not None and suite.get("name") == "mx.example.org:25"
    found = cases(suite)
    assert list(found) == [f.check for f in checked.findings]
    assert found["time"].find("failure") is None
    failure = found["expect-vrfy"].find("failure")
    assert failure is not None and failure.get("type") == "critical"
    assert failure.get("message", "").startswith("VRFY is disclosing")
    assert "C: VRFY postmaster" in (failure.text or "")
    assert "S: 550 5.1.1 unknown" in (failure.text or "")
    vrfy_case = found["vrfy"].find("failure")  # the interpreter's own WARNING
    assert vrfy_case is not None and vrfy_case.get("type") == "warning"
    assert root.get("tests") == suite.get("tests") == str(len(found))
    assert root.get("failures") == suite.get("failures") == "2"
    assert found["vrfy"].get("classname") == "smtpprobe.mx_example_org:25"


def test_unknown_is_an_error_and_a_lone_note_makes_a_suite() -> None:
    error = ResolveError("nope.test does not exist (NXDOMAIN)")
    note = Finding("connection", Status.UNKNOWN, "Not probed: nope.test does not exist")
    ok = report(*greeting())
    root = parse(
        junit_xml(
            [
                TargetResult(Target("nope.test", 25), None, error, (note,)),
                TargetResult(ok.target, ok),
            ],
            KB,
        )
    )
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["nope.test:25", "mx.example.org:25"]
    lone = cases(suites[0])["connection"].find("error")
    assert lone is not None and lone.get("type") == "unknown"
    assert root.get("errors") == "1" and suites[0].get("errors") == "1"


def test_hostile_server_text_stays_well_formed() -> None:
    """Markup, a NUL, an ESC, U+FFFE and a lone surrogate from the server: still parses."""
    hostile = "</failure><x>&amp;]]>\x00\x1b[2J\ufffe\ud800 end"
    base = report(
        ex(
            "",
            "554 5.7.1 "
            + hostile.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
            + "\r\n",
        )
    )
    quoted = Finding(
        "auth",
        Status.CRITICAL,
        "rejected",
        {"user": "said", "mechanism": "PLAIN", "code": 535, "text": hostile},
        evidence=base.session.exchanges,
    )
    text = render_report(
        OutputFormat.JUNIT, ProbeReport(base.session, (*base.findings, quoted)), KB
    )
    root = parse(text)
    failures = [f for f in root.iter("failure") if "for said" in f.get("message", "")]
    assert len(failures) == 1
    message = failures[0].get("message", "")
    assert "</failure><x>&amp;]]>" in message and "\\x1b[2J" in message
    assert "\x00" not in text and "\x1b" not in text and "\ufffe" not in text
    assert "\\x00" in message  # spelled out, not silently lost
