"""The probe's results as plain data: what was sent, what came back, what it means.

No rendering and no I/O here. The probe fills a `Session`; the interpreter turns it into
`Finding`s; a `ProbeReport` carries both to the renderers.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from smtpprobe.errors import SMTPProbeError
from smtpprobe.reply import Reply

__all__ = [
    "DEFAULT_HELO",
    "STEPS",
    "CertificateInfo",
    "Exchange",
    "Finding",
    "ProbeOptions",
    "ProbeReport",
    "Session",
    "Status",
    "Target",
    "TlsInfo",
    "TlsMode",
    "Verdict",
]

# RFC 2606 reserves .invalid: a fixed name, so no slow getfqdn() and no leak of our host name.
DEFAULT_HELO = "smtpprobe.invalid"
# Selectable probe steps, in the order they run.
STEPS = ("ehlo", "starttls", "help", "vrfy", "expn", "noop", "rset", "rcpt", "quit")


class Status(str, Enum):
    """Overall result in the monitoring-plugin convention."""

    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return self.value

    @property
    def exit_code(self) -> int:
        return {"ok": 0, "warning": 1, "critical": 2, "unknown": 3}[self.value]

    @property
    def rank(self) -> int:
        """Severity order used to pick the worst: OK < UNKNOWN < WARNING < CRITICAL."""
        return {"ok": 0, "unknown": 1, "warning": 2, "critical": 3}[self.value]

    @staticmethod
    def worst(statuses: Iterable[Status]) -> Status:
        return max(statuses, key=lambda s: s.rank, default=Status.OK)


class Verdict(str, Enum):
    """Whether a command lets outsiders tell real users from unknown ones (DESIGN.md)."""

    DISCLOSING = "disclosing"
    HIDDEN = "hidden"
    DISABLED = "disabled"
    REFUSED = "refused"
    INCONCLUSIVE = "inconclusive"
    NOT_TESTED = "not-tested"

    def __str__(self) -> str:
        return self.value


class TlsMode(str, Enum):
    """How to use TLS: never, STARTTLS, implicit (port 465), or STARTTLS when offered."""

    NONE = "none"
    STARTTLS = "starttls"
    IMPLICIT = "implicit"
    AUTO = "auto"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class ProbeOptions:
    """Everything that shapes one probe; built by the CLI or by library callers."""

    port: int | None = None
    tls: TlsMode = TlsMode.AUTO
    helo: str = DEFAULT_HELO
    family: int = socket.AF_UNSPEC
    deadline: float = 30.0
    command_timeout: float = 10.0
    users: tuple[str, ...] = ("postmaster",)
    lists: tuple[str, ...] = ("postmaster",)
    domain: str | None = None
    steps: frozenset[str] = frozenset(STEPS) - {"rcpt"}
    cafile: str | None = None
    insecure: bool = False
    control_address: str | None = None
    lang: str = "en"


@dataclass(frozen=True, slots=True)
class Target:
    """Where the probe went: the name asked for, the port, the address connected to."""

    host: str
    port: int
    address: str | None = None
    tls: TlsMode = TlsMode.AUTO

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Exchange:
    """One command and its reply. The banner is an exchange with an empty command.

    ``started`` is seconds since the session began; ``elapsed`` runs from sending the
    command to the end of the reply. ``error`` is set when no complete reply came.
    """

    phase: str
    command: bytes
    reply: Reply | None
    started: float
    elapsed: float
    error: SMTPProbeError | None = None


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    subject: str
    issuer: str
    sans: tuple[str, ...]
    not_after: datetime | None
    days_left: int | None


@dataclass(frozen=True, slots=True)
class TlsInfo:
    """What the TLS handshake gave, and whether the certificate verified."""

    mode: TlsMode
    version: str | None
    cipher: str | None
    certificate: CertificateInfo | None
    verified: bool
    verify_error: str = ""


@dataclass(frozen=True, slots=True)
class Session:
    """Everything the probe recorded; no judgement yet.

    ``complete`` is False when the deadline or an error cut the session short; ``error``
    then says why and in which phase. ``stray`` holds bytes the server sent where none
    were allowed (after ``220 Ready to start TLS``), discarded and kept as evidence.
    """

    target: Target
    options: ProbeOptions
    exchanges: tuple[Exchange, ...]
    started_at: datetime
    elapsed: float
    connect_elapsed: float | None = None
    tls: TlsInfo | None = None
    ehlo_before_tls: Reply | None = None
    complete: bool = True
    error: SMTPProbeError | None = None
    stray: bytes = b""
    control_address: str = ""
    qualified_users: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Finding:
    """One judgement about the server, with its evidence and advice.

    ``check`` names the area (banner, ehlo, help, vrfy, expn, rcpt, starttls, tls,
    deviations, …); ``data`` holds structured facts for JSON (kept JSON-serialisable).
    """

    check: str
    status: Status
    summary: str
    verdict: Verdict | None = None
    evidence: tuple[Exchange, ...] = ()
    advice: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ProbeReport:
    """A session and its findings: everything a renderer needs."""

    session: Session
    findings: tuple[Finding, ...]

    @property
    def target(self) -> Target:
        return self.session.target

    @property
    def status(self) -> Status:
        return Status.worst(f.status for f in self.findings)

    def finding(self, check: str) -> Finding | None:
        return next((f for f in self.findings if f.check == check), None)
