"""JSON for many targets (``--format json`` with several): one compact record per line.

Each record has the schema of the single document (`smtpprobe.render.json_report`);
`JsonLines` writes them in input order as soon as every earlier one is known.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from smtpprobe.report import TargetResult
from smtpprobe.kb import KnowledgeBase
from smtpprobe.render.json_report import (
    SCHEMA_VERSION,
    error_dict,
    error_document,
    finding_dict,
    json_text,
    report_document,
)

__all__ = ["JsonLines", "json_line", "result_document"]


def result_document(result: TargetResult, kb: KnowledgeBase) -> dict[str, Any]:
    """One target's JSON object: the report document, or what stood in for a probe."""
    if result.report is not None:
        return report_document(result.report, kb)
    if result.error is not None:
        return error_document(result.target, result.error, kb)
    target = result.target
    return {"schema_version": SCHEMA_VERSION,
            "target": {"host": target.host, "port": target.port, "address": None,
                       "tls": target.tls.value},
            "status": result.status.value, "started_at": None, "elapsed_ms": 0.0,
            "complete": False, "lang": kb.lang, "exchanges": [],
            "findings": {f.check: finding_dict(f, kb) for f in result.notes},
            "error": error_dict(None)}


def json_line(document: dict[str, Any], *, ascii_only: bool = False) -> str:
    """One compact JSON Lines record, with no raw control character (`json_text`)."""
    return json_text(document, compact=True, ascii_only=ascii_only)


class JsonLines:
    """JSON Lines in input order: ``writer`` gets each record once every earlier one was
    written (`smtpprobe.fleet.run_fleet`'s ``on_result``)."""

    def __init__(self, kb: KnowledgeBase, writer: Callable[[str], Any], *,
                 ascii_only: bool = False) -> None:
        self.kb, self.writer, self.next, self.ascii_only = kb, writer, 0, ascii_only
        self.waiting: dict[int, TargetResult] = {}

    def __call__(self, index: int, result: TargetResult) -> None:
        self.waiting[index] = result
        while self.next in self.waiting:
            document = result_document(self.waiting.pop(self.next), self.kb)
            self.writer(json_line(document, ascii_only=self.ascii_only))
            self.next += 1
