"""smtpprobe: probe a live SMTP server, record every reply and explain what it means.

The public names load on first use (module ``__getattr__``), so ``import smtpprobe``
stays cheap: no asyncio, ssl or knowledge base until a probe actually runs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from smtpprobe.version import __version__

__all__ = [
    "Exchange",
    "Finding",
    "ProbeEvent",
    "ProbeEventKind",
    "ProbeOptions",
    "ProbeReport",
    "Reply",
    "SMTPProbeError",
    "Session",
    "Status",
    "TlsMode",
    "Verdict",
    "__version__",
    "parse_reply",
    "probe",
]

_LAZY = {
    "probe": "smtpprobe.probe",
    "parse_reply": "smtpprobe.reply",
    "Reply": "smtpprobe.reply",
    "SMTPProbeError": "smtpprobe.errors",
    **dict.fromkeys(
        (
            "Exchange",
            "Finding",
            "ProbeEvent",
            "ProbeEventKind",
            "ProbeOptions",
            "ProbeReport",
            "Session",
            "Status",
            "TlsMode",
            "Verdict",
        ),
        "smtpprobe.report",
    ),
}

if TYPE_CHECKING:
    from smtpprobe.errors import SMTPProbeError
    from smtpprobe.probe import probe
    from smtpprobe.reply import Reply, parse_reply
    from smtpprobe.report import (
        Exchange,
        Finding,
        ProbeEvent,
        ProbeEventKind,
        ProbeOptions,
        ProbeReport,
        Session,
        Status,
        TlsMode,
        Verdict,
    )


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'smtpprobe' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
