"""The output formats, and the one registry that renders a run in each of them.

Every command that shows probe results goes through `render`: a pure function of the
run's results (a `Fleet`, one target or many) and a knowledge base (the language), which
returns a `Doc` for people, a JSON-ready document, or finished text. To add a format, add
a member here and its renderer to `_RENDERERS`; nothing else chooses between formats.

Which module words what: `smtpprobe.views` turns data into words and `Doc`s (in the
reader's language); `smtpprobe.render` turns those, or the data itself, into a format.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from smtpprobe.kb import KnowledgeBase
from smtpprobe.render.doc import Doc
from smtpprobe.report import Fleet, ProbeReport, TargetResult

__all__ = [
    "OnResult",
    "Output",
    "OutputFormat",
    "Renderer",
    "render",
    "render_report",
    "result_stream",
]

Output = Doc | dict[str, Any] | str
Renderer = Callable[[Fleet, KnowledgeBase], Output]
"""A pure function from a run's results to what the CLI prints."""


class OutputFormat(StrEnum):
    """``--format``: text for people, json for programs, nagios and junit for monitoring/CI,
    prometheus for node_exporter's textfile collector."""

    TEXT = "text"
    JSON = "json"
    NAGIOS = "nagios"
    JUNIT = "junit"
    PROMETHEUS = "prometheus"


# Each renderer is imported when its format is used: --format json never loads the views.
_RENDERERS: dict[OutputFormat, str] = {
    OutputFormat.TEXT: "smtpprobe.views.run_view:run_doc",
    OutputFormat.JSON: "smtpprobe.render.json_lines:run_document",
    OutputFormat.NAGIOS: "smtpprobe.render.nagios:nagios_run",
    OutputFormat.JUNIT: "smtpprobe.render.junit:junit_run",
    OutputFormat.PROMETHEUS: "smtpprobe.render.prometheus:prometheus_run",
}


OnResult = Callable[[int, TargetResult], None]
"""Called with each target's result as it finishes (its index among the targets)."""

# The formats that can write a run of several targets as each one finishes (JSON Lines),
# imported only when they stream: a text probe never loads json.
_STREAMS: dict[OutputFormat, str] = {
    OutputFormat.JSON: "smtpprobe.render.json_lines:JsonLines",
}


def result_stream(
    output_format: OutputFormat,
    kb: KnowledgeBase,
    writer: Callable[[str], Any],
    *,
    ascii_only: bool,
) -> OnResult:
    """A writer of *output_format* that gives *writer* one record per finished target."""
    module, _, name = _STREAMS[output_format].partition(":")
    stream: OnResult = getattr(importlib.import_module(module), name)(
        kb, writer, ascii_only=ascii_only
    )
    return stream


def render(output_format: OutputFormat, fleet: Fleet, kb: KnowledgeBase) -> Output:
    """*fleet* in *output_format*, its words in *kb*'s language."""
    module, _, name = _RENDERERS[output_format].partition(":")
    renderer: Renderer = getattr(importlib.import_module(module), name)
    return renderer(fleet, kb)


def render_report(output_format: OutputFormat, report: ProbeReport, kb: KnowledgeBase) -> Output:
    """One report in *output_format*, as `render` shows a run of one target."""
    return render(output_format, Fleet((TargetResult(report.target, report),)), kb)
