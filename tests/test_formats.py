"""Every output format has a renderer, and each renders a report without the network."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from smtpprobe.errors import ResolveError
from smtpprobe.interpret import interpret
from smtpprobe.kb import load
from smtpprobe.render.doc import Doc
from smtpprobe.render.formats import _RENDERERS, OutputFormat, render_report
from smtpprobe.render.json_report import SCHEMA_VERSION, error_document
from smtpprobe.render.plain import to_plain
from smtpprobe.reply import parse_reply
from smtpprobe.report import Exchange, ProbeOptions, ProbeReport, Session, Target, TlsMode

KB = load("en")


def _report() -> ProbeReport:
    exchanges = (
        Exchange("banner", b"", parse_reply(b"220 mx.example.org ESMTP\r\n"), 0.01, 0.002),
        Exchange("VRFY", b"VRFY postmaster", parse_reply(b"252 2.0.0 postmaster\r\n"), 0.02,
                 0.001, argument="postmaster", role="real", name="postmaster"),
        Exchange("VRFY", b"VRFY ctl", parse_reply(b"550 5.1.1 unknown\r\n"), 0.03, 0.001,
                 argument="ctl", role="control", name="ctl"),
    )
    session = Session(Target("mx.example.org", 25, "192.0.2.1"), ProbeOptions(), exchanges,
                      datetime(2025, 1, 1, tzinfo=timezone.utc), 0.1, control_address="ctl")
    return ProbeReport(session, interpret(session))


@pytest.mark.parametrize("output_format", list(OutputFormat))
def test_every_format_renders(output_format: OutputFormat) -> None:
    output = render_report(output_format, _report(), KB)
    assert output_format in _RENDERERS  # one registry: every format has its renderer
    assert str(output_format) == output_format.value
    if isinstance(output, Doc):
        assert "VRFY" in to_plain(output)
    elif isinstance(output, str):  # finished text: the Nagios line, JUnit XML, metrics
        assert ("VRFY disclosing" in output or 'name="vrfy"' in output
                or 'smtpprobe_vrfy_verdict{verdict="disclosing"} 1.0' in output)
    else:
        assert json.loads(json.dumps(output))["findings"]["vrfy"]["verdict"] == "disclosing"


def test_formats_are_text_and_json() -> None:
    assert [f.value for f in OutputFormat] == ["text", "json", "nagios", "junit", "prometheus"]


def test_json_document_shape() -> None:
    doc = render_report(OutputFormat.JSON, _report(), KB)
    assert isinstance(doc, dict)
    assert doc["schema_version"] == SCHEMA_VERSION and doc["status"] == "warning"
    assert doc["started_at"] == "2025-01-01T00:00:00+00:00" and doc["error"] is None
    banner = doc["exchanges"][0]
    assert banner["reply"]["raw"] == "220 mx.example.org ESMTP\r\n"
    assert banner["meaning"]["allowed"] is True and banner["meaning"]["tone"] == "ok"
    vrfy = doc["findings"]["vrfy"]
    assert [e["command"] for e in vrfy["evidence"]] == ["VRFY postmaster", "VRFY ctl"]


def test_error_document_reads_the_fields() -> None:
    error = ResolveError("nope.invalid does not resolve", phase="resolve", hint="check it")
    doc = error_document(Target("nope.invalid", 25, None, TlsMode.AUTO), error, KB)
    assert doc["status"] == "unknown" and doc["exchanges"] == [] and doc["findings"] == {}
    assert doc["error"] == {"kind": "resolve", "phase": "resolve",
                            "message": "nope.invalid does not resolve", "hint": "check it"}
