"""The text view of a run (``--format text``): one target's annotated report, or the
summary of many, with the MX plans they came from."""

from __future__ import annotations

from smtpprobe.kb import KnowledgeBase
from smtpprobe.render.doc import Doc
from smtpprobe.report import Fleet
from smtpprobe.views.probe_view import probe_doc
from smtpprobe.views.summary_view import mx_blocks, summary_doc

__all__ = ["run_doc"]


def run_doc(fleet: Fleet, kb: KnowledgeBase) -> Doc:
    """A single report in full (after its MX plan, if any); several summed up."""
    results = fleet.results
    if len(results) == 1 and results[0].report is not None:
        return Doc().add(*mx_blocks(fleet.plans, kb), *probe_doc(results[0].report, kb).blocks)
    return summary_doc(fleet, kb)
