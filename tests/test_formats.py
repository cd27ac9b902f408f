"""Every output format has a renderer, and each renders a report without the network."""

from __future__ import annotations

import json

import pytest

from smtpprobe.errors import ResolveError
from smtpprobe.kb import load
from smtpprobe.render.doc import Doc
from smtpprobe.render.formats import _RENDERERS, OutputFormat, render_report
from smtpprobe.render.json_report import SCHEMA_VERSION, error_document
from smtpprobe.render.plain import to_plain
from smtpprobe.report import ProbeReport, Target, TlsMode
from tests.builders import CONTROL, ex, real_and_control, report

KB = load("en")


def _report() -> ProbeReport:
    return report(
        ex("", "220 mx.example.org ESMTP\r\n"),
        *real_and_control("252 2.0.0 postmaster", "550 5.1.1 unknown"),
    )


@pytest.mark.parametrize("output_format", list(OutputFormat))
def test_every_format_renders(output_format: OutputFormat) -> None:
    output = render_report(output_format, _report(), KB)
    assert output_format in _RENDERERS  # one registry: every format has its renderer
    assert str(output_format) == output_format.value
    if isinstance(output, Doc):
        assert "VRFY" in to_plain(output)
    elif isinstance(output, str):  # finished text: the Nagios line, JUnit XML, metrics
        assert (
            "VRFY disclosing" in output
            or 'name="vrfy"' in output
            or 'smtpprobe_vrfy_verdict{verdict="disclosing"} 1.0' in output
        )
    else:
        assert json.loads(json.dumps(output))["findings"]["vrfy"]["verdict"] == "disclosing"


def test_formats_are_text_and_json() -> None:
    assert [f.value for f in OutputFormat] == ["text", "json", "nagios", "junit", "prometheus"]


def test_json_document_shape() -> None:
    doc = render_report(OutputFormat.JSON, _report(), KB)
    assert isinstance(doc, dict)
    assert doc["schema_version"] == SCHEMA_VERSION and doc["status"] == "warning"
    assert doc["started_at"] == "2025-01-02T03:04:05+00:00" and doc["error"] is None
    banner = doc["exchanges"][0]
    assert banner["reply"]["raw"] == "220 mx.example.org ESMTP\r\n"
    assert banner["meaning"]["allowed"] is True and banner["meaning"]["tone"] == "ok"
    vrfy = doc["findings"]["vrfy"]
    assert [e["command"] for e in vrfy["evidence"]] == ["VRFY postmaster", f"VRFY {CONTROL}"]


def test_error_document_reads_the_fields() -> None:
    error = ResolveError("nope.invalid does not resolve", phase="resolve", hint="check it")
    doc = error_document(Target("nope.invalid", 25, None, TlsMode.AUTO), error, KB)
    assert doc["status"] == "unknown" and doc["exchanges"] == [] and doc["findings"] == {}
    assert doc["error"] == {
        "kind": "resolve",
        "phase": "resolve",
        "message": "nope.invalid does not resolve",
        "hint": "check it",
    }
