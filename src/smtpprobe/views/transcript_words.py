"""Words for the facts the interpreter records about single exchanges: deviations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from smtpprobe.kb import KnowledgeBase
from smtpprobe.report import Exchange
from smtpprobe.views.errors import error_text

__all__ = ["deviation_detail"]


def deviation_detail(
    item: Mapping[str, Any], exchanges: Sequence[Exchange], kb: KnowledgeBase
) -> str:
    """One item of the deviations finding (``kind``, ``params``) in *kb*'s language."""
    kind, params = str(item.get("kind", "")), dict(item.get("params") or {})
    if kind == "unexpected-code":
        return kb.ui("deviation").format(
            code=params.get("code", item.get("code")), command=params.get("command", "-")
        )
    if kind in ("unsolicited-bytes", "stray-bytes"):
        reason = "unsolicited" if kind == "unsolicited-bytes" else "stray"
        template = kb.finding_words("deviations", reason).get("summary", kind)
        return template.format_map(
            {"count": params.get("count", 0), "command": params.get("command", "-")}
        )
    if kind == "desynchronised":
        words = kb.finding_words("deviations", f"desync-{params.get('reason')}")
        return words.get("summary", kind).format_map({**params, "code": params.get("code") or "-"})
    at = item.get("at")
    if isinstance(at, int) and 0 <= at < len(exchanges) and exchanges[at].error is not None:
        error = exchanges[at].error
        assert error is not None
        return kb.ui("hostile_not_smtp_item").format(message=error_text(error, kb))
    text = kb.ui(f"probe_defect_{kind}")
    return kind if text == f"probe_defect_{kind}" else text
