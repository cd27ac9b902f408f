"""The probe report as one JSON document (``--format json``), schema_version 1.

Built from explicit dicts, never ``asdict``: the schema is a promise to pipelines. Keys
and verdict values are English; summaries and advice are in the report's language.
Errors are read through their fields (kind, phase, message, hint), never ``str(exc)``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from smtpprobe.errors import SMTPProbeError
from smtpprobe.kb import KnowledgeBase, load
from smtpprobe.meaning import annotate_reply
from smtpprobe.render.json_text import json_text
from smtpprobe.reply import Reply
from smtpprobe.report import Exchange, Finding, ProbeReport, Status, Target
from smtpprobe.transcript import command_text, milliseconds, verb
from smtpprobe.views.errors import localized
from smtpprobe.views.findings import word
from smtpprobe.views.transcript_words import deviation_detail

__all__ = [
    "SCHEMA_VERSION",
    "error_dict",
    "error_document",
    "exchange_dict",
    "finding_dict",
    "json_text",
    "report_document",
]

SCHEMA_VERSION = 1


def error_dict(
    error: SMTPProbeError | None, kb: KnowledgeBase | None = None
) -> dict[str, str] | None:
    """The structured fields of an error, or None; message and hint in *kb*'s language
    (English without one)."""
    if error is None:
        return None
    message, hint = localized(error, kb if kb is not None else load("en"))
    return {"kind": error.kind, "phase": error.phase, "message": message, "hint": hint}


def _reply_dict(reply: Reply) -> dict[str, Any]:
    return {
        "code": reply.code,
        "enhanced": str(reply.enhanced) if reply.enhanced is not None else None,
        "lines": list(reply.lines),
        "raw": reply.raw.decode("utf-8", errors="backslashreplace"),
        "defects": [d.value for d in reply.defects],
    }


def _meaning(reply: Reply, command: str, kb: KnowledgeBase) -> dict[str, Any]:
    annotation = annotate_reply(reply, kb, command)
    return {
        "title": annotation.basic.title,
        "context": annotation.context.meaning if annotation.context is not None else None,
        "tone": annotation.tone.value,
        "allowed": annotation.allowed,
    }


def exchange_dict(exchange: Exchange, kb: KnowledgeBase) -> dict[str, Any]:
    """One exchange: the command as sent, the reply, timing, its meaning, any error."""
    reply = exchange.reply
    error = error_dict(exchange.error, kb)
    if error is not None and exchange.partial:
        error["partial"] = exchange.partial.decode("latin-1")
    return {
        "phase": exchange.phase,
        "command": command_text(exchange.command),
        "reply": _reply_dict(reply) if reply is not None else None,
        "started_ms": milliseconds(exchange.started),
        "elapsed_ms": milliseconds(exchange.elapsed),
        "meaning": _meaning(reply, verb(exchange), kb) if reply is not None else None,
        "error": error,
    }


def finding_dict(
    finding: Finding,
    kb: KnowledgeBase,
    known: dict[int, dict[str, Any]] | None = None,
    report_exchanges: tuple[Exchange, ...] = (),
) -> dict[str, Any]:
    """A finding: status, reason and params (language-neutral), summary and advice (in
    *kb*'s language), verdict, notes, evidence, and its facts at top level.

    *known* maps ``id(exchange)`` to a dict already built for the ``exchanges`` list, so
    evidence is not explained twice (half of a JSON report's cost otherwise).
    """
    known = {} if known is None else known
    worded = word(finding, kb)
    base = {
        "status": finding.status.value,
        "reason": finding.reason,
        "params": dict(finding.params),
        "notes": [{"reason": n.reason, "params": dict(n.params)} for n in finding.notes],
        "summary": worded.summary,
        "advice": worded.advice,
        "verdict": finding.verdict.value if finding.verdict is not None else None,
        "evidence": [known.get(id(ex)) or exchange_dict(ex, kb) for ex in finding.evidence],
    }
    data = dict(finding.data)
    if "items" in data and finding.check == "deviations":
        data["items"] = [_item(item, report_exchanges, kb) for item in data["items"]]
    return {**data, **base}


def _item(
    item: dict[str, Any], exchanges: tuple[Exchange, ...], kb: KnowledgeBase
) -> dict[str, Any]:
    """A deviation as JSON: its facts and its detail in *kb*'s language."""
    shown = {k: v for k, v in item.items() if k not in ("params", "at")}
    shown["detail"] = deviation_detail(item, exchanges, kb)
    return shown


def _target_dict(target: Target) -> dict[str, Any]:
    return {
        "host": target.host,
        "port": target.port,
        "address": target.address,
        "tls": target.tls.value,
    }


def report_document(report: ProbeReport, kb: KnowledgeBase) -> dict[str, Any]:
    """The whole report as a JSON-ready dict."""
    session = report.session
    exchanges = {id(ex): exchange_dict(ex, kb) for ex in session.exchanges}
    return {
        "schema_version": SCHEMA_VERSION,
        "target": _target_dict(session.target),
        "status": report.status.value,
        "started_at": session.started_at.isoformat(),
        "elapsed_ms": milliseconds(session.elapsed),
        "complete": session.complete,
        "lang": kb.lang,
        # The name compared with the real ones (random unless --control gave it), and
        # whether replies fell out of step (the deviations finding says where).
        "control_address": session.control_address,
        "desynchronised": session.desync is not None,
        "exchanges": list(exchanges.values()),
        "findings": {
            f.check: finding_dict(f, kb, exchanges, session.exchanges) for f in report.findings
        },
        "error": error_dict(session.error, kb),
    }


def error_document(
    target: Target, error: SMTPProbeError, kb: KnowledgeBase, started_at: datetime | None = None
) -> dict[str, Any]:
    """The document when no session could start at all (the name did not resolve)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "target": _target_dict(target),
        "status": Status.UNKNOWN.value,
        "started_at": started_at.isoformat() if started_at is not None else None,
        "elapsed_ms": 0.0,
        "complete": False,
        "lang": kb.lang,
        "exchanges": [],
        "findings": {},
        "error": error_dict(error, kb),
    }
