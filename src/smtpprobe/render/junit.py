"""JUnit XML (``--format junit``, ``--junit FILE``) for CI test reports.

One ``<testsuite>`` per target, one ``<testcase>`` per check (interpreter and policy
findings alike): WARNING and CRITICAL are ``<failure>``, UNKNOWN is ``<error>``, with
the summary as message and the advice and evidence as text. GitLab (``artifacts:
reports: junit``), Jenkins (``junit``) and GitHub test-report actions read it as is.
Server text is escaped by ElementTree, and characters XML 1.0 forbids are removed. The
document is ASCII (other characters as character references), so it is well-formed UTF-8
in any locale.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from smtpprobe.kb import KnowledgeBase
from smtpprobe.render.doc import visible
from smtpprobe.report import Exchange, Finding, Fleet, Status, TargetResult, Verdict
from smtpprobe.transcript import command_text
from smtpprobe.views.errors import error_text
from smtpprobe.views.findings import summary_text, word
from smtpprobe.views.probe_view import error_label

__all__ = ["junit_run", "junit_xml"]

# XML 1.0 §2.2 Char: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: str) -> str:
    return _NOT_XML.sub("", text)


def _seconds(value: float) -> str:
    return f"{value:.3f}"


def _evidence_lines(exchange: Exchange, kb: KnowledgeBase) -> list[str]:
    lines = []
    command = command_text(exchange.command)
    if command:
        lines.append(f"C: {command}")
    if exchange.reply is not None:
        lines += [f"S: {line}" for line in exchange.reply.wire_lines()]
    if exchange.error is not None:
        lines.append(f"!  {error_label(exchange.error, kb)}: {error_text(exchange.error, kb)}")
    return lines


def _body(finding: Finding, kb: KnowledgeBase) -> str:
    worded = word(finding, kb)
    parts = [worded.summary]
    if worded.advice:
        parts.append(f"{kb.ui('probe_advice_heading')}: {worded.advice}")
    evidence = [line for ex in finding.evidence for line in _evidence_lines(ex, kb)]
    if evidence:
        parts.append(kb.ui("probe_transcript") + ":\n" + "\n".join(evidence))
    # Line by line: visible() spells out every control character, newlines included.
    return _xml(
        "\n\n".join("\n".join(visible(text) for text in part.split("\n")) for part in parts)
    )


# Reasons that say the check did not run (left out, or the session ended before it).
_NOT_RUN = frozenset({"skipped", "not-reached", "not-tested", "not-applicable"})


def _not_run(finding: Finding) -> bool:
    return finding.reason in _NOT_RUN or finding.verdict is Verdict.NOT_TESTED


def _classname(result: TargetResult) -> str:
    # Jenkins splits a classname at its last dot into package and class: keep the host whole.
    return "smtpprobe." + str(result.target).replace(".", "_")


def _testcase(suite: ET.Element, result: TargetResult, finding: Finding, kb: KnowledgeBase) -> None:
    elapsed = sum(ex.elapsed for ex in finding.evidence)
    case = ET.SubElement(
        suite, "testcase", name=finding.check, classname=_classname(result), time=_seconds(elapsed)
    )
    if _not_run(finding):
        ET.SubElement(case, "skipped", message=_xml(visible(summary_text(finding, kb))))
        return
    if finding.status is Status.OK:
        return
    tag = "error" if finding.status is Status.UNKNOWN else "failure"
    element = ET.SubElement(
        case, tag, message=_xml(visible(summary_text(finding, kb))), type=finding.status.value
    )
    element.text = _body(finding, kb)


def _suite(root: ET.Element, result: TargetResult, kb: KnowledgeBase) -> tuple[int, int, int]:
    findings = result.findings
    skipped = sum(1 for f in findings if _not_run(f))
    failures = sum(
        1 for f in findings if f.status in (Status.WARNING, Status.CRITICAL) and not _not_run(f)
    )
    errors = sum(1 for f in findings if f.status is Status.UNKNOWN and not _not_run(f))
    report = result.report
    elapsed = report.session.elapsed if report is not None else 0.0
    suite = ET.SubElement(
        root,
        "testsuite",
        name=_xml(str(result.target)),
        tests=str(len(findings)),
        failures=str(failures),
        errors=str(errors),
        skipped=str(skipped),
        time=_seconds(elapsed),
    )
    if report is not None:
        suite.set("timestamp", report.session.started_at.isoformat(timespec="seconds"))
    properties = ET.SubElement(suite, "properties")
    facts = {
        "host": result.target.host,
        "port": str(result.target.port),
        "address": result.target.address or "",
        "status": result.status.value,
    }
    for name, value in facts.items():
        ET.SubElement(properties, "property", name=name, value=_xml(value))
    for finding in findings:
        _testcase(suite, result, finding, kb)
    return len(findings), failures, errors


def junit_xml(results: Sequence[TargetResult], kb: KnowledgeBase) -> str:
    """The JUnit XML document for *results*, with its XML declaration."""
    root = ET.Element("testsuites", name="smtpprobe")
    totals = [0, 0, 0]
    elapsed = 0.0
    for result in results:
        counts = _suite(root, result, kb)
        totals = [a + b for a, b in zip(totals, counts, strict=True)]
        if result.report is not None:
            elapsed += result.report.session.elapsed
    root.set("tests", str(totals[0]))
    root.set("failures", str(totals[1]))
    root.set("errors", str(totals[2]))
    root.set("time", _seconds(elapsed))
    ET.indent(root)
    # ASCII, every other character as a reference (&#8212;): the same well-formed document
    # whether it goes to a UTF-8 file or to stdout under an ISO-8859-1 locale.
    body = ET.tostring(root, encoding="us-ascii", xml_declaration=False).decode("ascii")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'


def junit_run(fleet: Fleet, kb: KnowledgeBase) -> str:
    """``--format junit`` (`smtpprobe.render.formats`): the JUnit XML of a run."""
    return junit_xml(fleet.results, kb)
