"""JSON for many targets (``--format json`` with several): one compact record per line.

Each record has the schema of the single document (`smtpprobe.render.json_report`);
`JsonLines` writes each one as soon as its target is done.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from smtpprobe.kb import KnowledgeBase
from smtpprobe.render.json_report import (
    SCHEMA_VERSION,
    error_dict,
    error_document,
    finding_dict,
    json_text,
    report_document,
)
from smtpprobe.report import Fleet, TargetResult

__all__ = ["JsonLines", "json_line", "result_document", "run_document"]


def result_document(result: TargetResult, kb: KnowledgeBase) -> dict[str, Any]:
    """One target's JSON object: the report document, or what stood in for a probe."""
    if result.report is not None:
        return report_document(result.report, kb)
    if result.error is not None:
        return error_document(result.target, result.error, kb)
    target = result.target
    return {
        "schema_version": SCHEMA_VERSION,
        "target": {
            "host": target.host,
            "port": target.port,
            "address": None,
            "tls": target.tls.value,
        },
        "status": result.status.value,
        "started_at": None,
        "elapsed_ms": 0.0,
        "complete": False,
        "lang": kb.lang,
        "exchanges": [],
        "findings": {f.check: finding_dict(f, kb) for f in result.notes},
        "error": error_dict(None),
    }


def run_document(fleet: Fleet, kb: KnowledgeBase) -> dict[str, Any] | str:
    """``--format json`` (`smtpprobe.render.formats`): one target's document, or for
    several their JSON Lines (the runner streams those as they finish instead)."""
    if len(fleet.results) == 1:
        return result_document(fleet.results[0], kb)
    return "".join(json_line(result_document(r, kb)) + "\n" for r in fleet.results)


def json_line(document: dict[str, Any], *, ascii_only: bool = False) -> str:
    """One compact JSON Lines record, with no raw control character (`json_text`)."""
    return json_text(document, compact=True, ascii_only=ascii_only)


class JsonLines:
    """JSON Lines as results finish (`smtpprobe.fleet.run_fleet`'s ``on_result``): each
    record is written at once and nothing is kept, so a run of any length streams in flat
    memory. Every record names its target; the order is the order they finished.

    A record that cannot be built (a bug in a view) becomes that target's ``internal``
    error document, so one target never ends the stream.
    """

    def __init__(
        self, kb: KnowledgeBase, writer: Callable[[str], Any], *, ascii_only: bool = False
    ) -> None:
        self.kb, self.writer, self.ascii_only = kb, writer, ascii_only

    def __call__(self, index: int, result: TargetResult) -> None:
        try:
            document = result_document(result, self.kb)
        except Exception as exc:  # noqa: BLE001 - isolation: this target only
            from smtpprobe.isolation import InternalError

            error = InternalError(key="fleet_internal", params={"error": type(exc).__name__})
            document = error_document(result.target, error, self.kb)
        self.writer(json_line(document, ascii_only=self.ascii_only))
