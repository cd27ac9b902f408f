"""Output formats of the probe, and the renderer behind each one."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any, assert_never

from smtpprobe.kb import KnowledgeBase
from smtpprobe.render.doc import Doc
from smtpprobe.report import ProbeReport

__all__ = ["OutputFormat", "Renderer", "renderer_for"]

Renderer = Callable[[ProbeReport, KnowledgeBase], Doc | dict[str, Any] | str]
"""A pure function from a report to a `Doc` (for people), a JSON-ready dict, or finished
text (the Nagios line, JUnit XML)."""


class OutputFormat(StrEnum):
    """``--format``: text for people, json for programs, nagios and junit for monitoring/CI,
    prometheus for node_exporter's textfile collector."""

    TEXT = "text"
    JSON = "json"
    NAGIOS = "nagios"
    JUNIT = "junit"
    PROMETHEUS = "prometheus"

    def to_renderer(self) -> Renderer:
        return renderer_for(self)


def renderer_for(output_format: OutputFormat) -> Renderer:
    """The renderer for *output_format*; imported lazily so ``--format json`` skips the view."""
    if output_format is OutputFormat.TEXT:
        from smtpprobe.views.probe_view import probe_doc

        return probe_doc
    if output_format is OutputFormat.JSON:
        from smtpprobe.render.json_report import report_document

        return report_document
    if output_format is OutputFormat.NAGIOS:
        from smtpprobe.render.nagios import nagios_line

        return nagios_line
    if output_format is OutputFormat.JUNIT:
        from smtpprobe.render.junit import junit_report

        return junit_report
    if output_format is OutputFormat.PROMETHEUS:
        from smtpprobe.render.prometheus import report_metrics

        return report_metrics
    assert_never(output_format)
