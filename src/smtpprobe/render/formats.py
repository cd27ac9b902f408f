"""Output formats of the probe, and the renderer behind each one."""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any, assert_never

from smtpprobe.kb import KnowledgeBase
from smtpprobe.render.doc import Doc
from smtpprobe.report import ProbeReport

__all__ = ["OutputFormat", "Renderer", "renderer_for"]

Renderer = Callable[[ProbeReport, KnowledgeBase], Doc | dict[str, Any]]
"""A pure function from a report to a `Doc` (for people) or a JSON-ready dict."""


class OutputFormat(str, Enum):
    """``--format``: text for people, json for programs (monitoring formats come later)."""

    TEXT = "text"
    JSON = "json"

    def __str__(self) -> str:
        return self.value

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
    assert_never(output_format)
