"""The probe's results as plain data: what was sent, what came back, what it means.

No rendering and no I/O here. The probe fills a `Session`; the interpreter turns it into
`Finding`s; a `ProbeReport` carries both to the renderers.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from smtpprobe.errors import SMTPProbeError
from smtpprobe.reply import Reply

__all__ = [
    "DEFAULT_HELO",
    "STEPS",
    "AuthMechanism",
    "CertificateInfo",
    "ChainCertificate",
    "Desync",
    "Exchange",
    "Finding",
    "Fleet",
    "MxHost",
    "MxPlan",
    "ProbeEvent",
    "ProbeEventKind",
    "Note",
    "ProbeOptions",
    "ProbeReport",
    "Session",
    "Source",
    "Status",
    "Target",
    "TargetResult",
    "TlsInfo",
    "TlsMode",
    "TlsScan",
    "Verdict",
]

# RFC 2606 reserves .invalid: a fixed name, so no slow getfqdn() and no leak of our host name.
DEFAULT_HELO = "smtpprobe.invalid"
# Selectable probe steps, in the order they run ("auth" runs only when auth_user is set).
# EHLO (or HELO) is not among them: it is always sent, because a server may refuse every
# other command before it (Sendmail: "503 5.0.0 I demand that you introduce yourself").
STEPS = ("starttls", "auth", "help", "vrfy", "expn", "noop", "rset", "rcpt", "quit")


class Status(StrEnum):
    """Overall result in the monitoring-plugin convention."""

    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"
    UNKNOWN = "unknown"

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


class Verdict(StrEnum):
    """Whether a command lets outsiders tell real users from unknown ones (docs/architecture.md);
    also what became of a sent message, and whether the server relays."""

    DISCLOSING = "disclosing"
    HIDDEN = "hidden"
    DISABLED = "disabled"
    REFUSED = "refused"
    INCONCLUSIVE = "inconclusive"
    NOT_TESTED = "not-tested"
    # The SMTP smuggling check (interpret/smuggling.py): does DATA end only on CRLF.CRLF?
    VULNERABLE = "vulnerable"
    NOT_VULNERABLE = "not-vulnerable"
    REJECTS_BARE_LF = "rejects-bare-lf"
    # ``smtpprobe send`` (findings.delivery; REFUSED too) and ``--relay-check``
    # (findings.relay; INCONCLUSIVE too).
    ACCEPTED = "accepted"
    PARTIALLY_ACCEPTED = "partially-accepted"
    DEFERRED = "deferred"
    OPEN = "open"
    CLOSED = "closed"
    # DANE (RFC 7672): do the TLSA records authenticate the server? (interpret/mail_tls.py)
    VALID = "valid"
    MISMATCH = "mismatch"
    NO_RECORDS = "no-records"
    NOT_VALIDATED = "not-validated"


class TlsMode(StrEnum):
    """How to use TLS: never, STARTTLS, implicit (port 465), or STARTTLS when offered."""

    NONE = "none"
    STARTTLS = "starttls"
    IMPLICIT = "implicit"
    AUTO = "auto"


class AuthMechanism(StrEnum):
    """The SASL mechanism for ``--auth-user``; auto: the strongest one offered."""

    AUTO = "auto"
    PLAIN = "plain"
    LOGIN = "login"
    CRAM_MD5 = "cram-md5"
    XOAUTH2 = "xoauth2"


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
    auth_user: str | None = None
    # Never in a repr: the report holds its options, and reports get logged.
    auth_password: str | None = field(default=None, repr=False)
    auth_mechanism: AuthMechanism = AuthMechanism.AUTO
    # The OAuth2 access token for XOAUTH2 (--auth-token-env); never in a repr either.
    auth_token: str | None = field(default=None, repr=False)
    allow_plaintext_auth: bool = False
    # --relay-check: the relay tests after the other steps; relay_to is the outside
    # address they try to reach (an RFC 2606 example.net address by default).
    relay_check: bool = False
    relay_to: str | None = None
    # --users-file: many names; --delay waits between them, and a server that hangs up
    # after N errors (Postfix smtpd_hard_error_limit, Exim) is reconnected to go on.
    delay: float = 0.0
    reconnect: bool = False
    # --command: lines sent after the standard steps (check_smtp -C), explained like any.
    commands: tuple[str, ...] = ()
    # Addresses to connect to instead of resolving the host (--mx, --all-addresses):
    # the host name still goes into SNI and the certificate check.
    connect_to: tuple[str, ...] = ()
    # TLS in depth (tls_scan.py, certificate.py): the name for SNI and the name the
    # certificate must match (default: the host probed), a client certificate, the scan.
    sni: str | None = None
    verify_name: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    tls_scan: bool = False
    scan_concurrency: int = 4
    # The local address to connect from (``--source``), like ``swaks -li``.
    source: str | None = None


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

    ``phase`` is the command verb (``EHLO``, ``VRFY`` …) or ``banner``; ``command`` the
    exact bytes sent, without CRLF. ``started`` is seconds since the session began;
    ``elapsed`` runs from sending the command to the end of the reply (for the banner:
    from the connection being ready to the end of the greeting). ``argument`` is the
    address or topic the command carried, as sent (``postmaster@mx.example``, ``VRFY``).
    ``error`` is set when no complete reply came; ``partial`` then holds the bytes of the
    unfinished reply. For VRFY, EXPN and RCPT, ``role`` says whom the command asked about
    (``real``: a name the user gave, ``control``: the random name) and ``name`` which
    one, as given (``argument`` may carry a domain the probe added).
    """

    phase: str
    command: bytes
    reply: Reply | None
    started: float
    elapsed: float
    error: SMTPProbeError | None = None
    argument: str = ""
    partial: bytes = b""
    role: str = ""
    name: str = ""


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    """The server's leaf certificate: subject CN, issuer (RFC 4514), names, expiry (UTC).

    ``days_left`` is negative for an expired certificate.
    """

    subject: str
    issuer: str
    sans: tuple[str, ...]
    not_after: datetime | None
    days_left: int | None
    # Facts read with ``cryptography`` (certificate.py); empty/None when unreadable.
    # key_type: RSA, EC, DSA, Ed25519, Ed448; signature_algorithm: e.g. sha256WithRSAEncryption.
    key_type: str = ""
    key_bits: int | None = None
    signature_algorithm: str = ""
    sha256: str = ""  # fingerprint of the DER, lower-case hex
    serial: str = ""  # hex
    not_before: datetime | None = None
    must_staple: bool = False  # RFC 7633 TLS Feature status_request
    self_signed: bool = False  # issuer == subject and its own key verifies the signature
    # Parts cryptography could not read ("sans: UnsupportedGeneralNameType"): a hostile or
    # odd certificate still yields everything else (issue 11 §1).
    unreadable: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ChainCertificate:
    """One certificate of the chain as the server sent it (leaf first), DER and names."""

    der: bytes
    subject: str  # RFC 4514
    issuer: str  # RFC 4514
    self_issued: bool
    is_ca: bool | None = None  # basicConstraints cA; None when absent or unreadable


@dataclass(frozen=True, slots=True)
class TlsScan:
    """What ``--tls-scan`` found: protocol versions and weak cipher classes accepted.

    ``protocols`` maps ``SSLv3``, ``TLSv1``, ``TLSv1.1``, ``TLSv1.2``, ``TLSv1.3`` to
    True (accepted), False (refused) or None (not tested: the connection failed
    otherwise or this OpenSSL cannot offer it). ``weak_ciphers`` maps a class (``aNULL``,
    ``NULL``, ``EXPORT``, ``RC4``, ``3DES``, ``CBC``, ``AEAD``, ``FS``, ``kRSA``) to the
    suite the server chose, ``""`` when refused, None when not tested. ``untested`` names what this
    OpenSSL cannot offer (SSLv2, SSLv3, …). ``errors`` holds one line per connection that
    failed for another reason than a refused handshake.
    """

    protocols: Mapping[str, bool | None]
    weak_ciphers: Mapping[str, str | None]
    untested: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    elapsed: float = 0.0
    connections: int = 0
    # The chain one of the scan's handshakes got (not verified): the certificate facts
    # when the probe's own handshake failed verification (a DANE-EE self-signed server).
    chain: tuple[ChainCertificate, ...] = ()


@dataclass(frozen=True, slots=True)
class TlsInfo:
    """What the TLS handshake gave, and whether the certificate verified."""

    mode: TlsMode
    version: str | None
    cipher: str | None
    certificate: CertificateInfo | None
    verified: bool
    verify_error: str = ""
    handshake_elapsed: float | None = None
    # The chain exactly as sent (leaf first), for chain checks and DANE (RFC 7672).
    chain: tuple[ChainCertificate, ...] = ()
    # The name sent in SNI and the name the certificate was checked against ("" = none).
    sni: str = ""
    verify_name: str = ""
    name_matches: bool | None = None
    client_certificate: bool = False


@dataclass(frozen=True, slots=True)
class Desync:
    """Evidence that replies fell out of step with commands (a stray or a missing reply).

    ``reason``: ``unexpected-code`` (a code the command cannot get, RFC 5321 §4.3.2),
    ``unsolicited-bytes`` (bytes waiting before a command: the reply read before them may
    have been a stray), ``quit-reply`` (QUIT not answered 221) or ``leftover-bytes``
    (bytes never read when the session ended). ``exchange`` is the index in
    ``Session.exchanges`` where it showed (the number of exchanges: after the last one);
    ``since`` the index of the first exchange whose reply may answer another command: a
    stray is only seen once it has shifted later replies, so it is the first exchange
    after the last point known in step (the greeting, or a TLS handshake). ``data`` holds
    the bytes behind ``unsolicited-bytes`` and ``leftover-bytes`` (redacted, cut).
    """

    reason: str
    exchange: int
    since: int
    code: int | None = None
    data: bytes = b""


@dataclass(frozen=True, slots=True)
class Session:
    """Everything the probe recorded; no judgement yet.

    ``complete`` is False when the session did not run every requested step. ``error``
    then says why and in which phase (``error.phase``); ``complete`` False with ``error``
    None means the server ended the session itself (a ``421`` reply, or a greeting other
    than 220), which the last exchange shows. ``stray`` holds bytes the server sent where
    none were allowed (after ``220 Ready to start TLS``), discarded and kept as evidence;
    ``unsolicited`` likewise holds, per command verb, bytes that were already waiting when
    that command was sent (a reply nobody asked for), discarded so replies stay in step.

    Addresses: ``options.users`` and ``control_address`` are kept as given;
    ``qualified_users`` maps an address to the form with a domain that was sent instead
    (VRFY after the server asked for a domain with a 501, RCPT always). Use
    `exchanges_for` to find the exchanges of one address; the last one is the answer.
    ``source`` is the local ``address:port`` the connection came from. ``auth_skipped``
    says why the auth step sent nothing (``plaintext``, ``not-offered``, ``no-mechanism``;
    ``""`` when it ran or was not asked for). Lines carrying credentials are recorded as
    ``<redacted>``. ``desync`` is the first evidence that
    replies fell out of step with commands (`Desync`); verdicts resting on exchanges from
    ``desync.since`` on are inconclusive.
    When ``--insecure`` made the probe reconnect after a failed verification, only the
    second connection's exchanges are kept (``tls.verify_error`` says why).
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
    unsolicited: tuple[tuple[str, bytes], ...] = ()
    control_address: str = ""
    qualified_users: Mapping[str, str] = field(default_factory=dict)
    auth_skipped: str = ""
    desync: Desync | None = None
    tls_scan: TlsScan | None = None  # --tls-scan, in connections of its own
    source: str = ""

    def exchanges_for(self, phase: str, address: str) -> tuple[Exchange, ...]:
        """The exchanges of *phase* (``VRFY``, ``EXPN``, ``RCPT``) that carried *address*,
        as given or in its qualified form, in the order they happened."""
        forms = {address, self.qualified_users.get(address, address)}
        return tuple(e for e in self.exchanges if e.phase == phase and e.argument in forms)


class ProbeEventKind(StrEnum):
    """What a `ProbeEvent` reports: a step starting, or one exchange recorded."""

    PHASE = "phase"
    EXCHANGE = "exchange"


@dataclass(frozen=True, slots=True)
class ProbeEvent:
    """Progress from a running probe, for a live view (``-v``); the probe never prints.

    ``phase`` names the step (``resolve``, ``connect``, ``tls``, ``reconnect``, ``banner``
    or a command verb); ``detail`` is a short fact for PHASE events (the address and port,
    the command line about to be sent, the reason for a reconnect);
    ``exchange`` is set for EXCHANGE events, including ones that ended in an error.
    """

    kind: ProbeEventKind
    phase: str
    exchange: Exchange | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Note:
    """A further fact a finding states, worded like its reason (``tls-added`` …)."""

    reason: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Finding:
    """One judgement about the server: a stable reason and the facts it rests on.

    Language-neutral: no prose here. ``check`` names the area (banner, ehlo, help, vrfy,
    expn, rcpt, starttls, tls, deviations, …); ``reason`` is a stable kebab-case key
    (``not-offered``, ``differs`` …) and ``params`` the JSON-serialisable facts it rests
    on. The views word a finding from ``check`` + ``reason`` + ``params`` in the user's
    language (``kb/data/<lang>/findings/<check>.toml``). ``notes`` are further reasons
    that add a sentence each (``auth-tls-only`` after an EHLO); ``advice`` names advice
    kept elsewhere in the knowledge base (``reply:554@CONNECT``, ``pattern:<id>``), on top
    of the reason's own. ``cause`` is the error a finding is about, worded by the views
    too. ``data`` holds the structured facts for JSON.
    """

    check: str
    status: Status
    reason: str
    params: Mapping[str, Any] = field(default_factory=dict)
    verdict: Verdict | None = None
    evidence: tuple[Exchange, ...] = ()
    notes: tuple[Note, ...] = ()
    advice: tuple[str, ...] = ()
    cause: SMTPProbeError | None = None
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


@dataclass(frozen=True, slots=True)
class TargetResult:
    """The outcome for one host or address: its report, or why nothing was probed.

    ``report`` is None when the name did not resolve (``error`` says why) or when DNS
    left nothing to probe (a null MX, an MX host without address); ``notes`` then hold
    the findings that explain it.
    """

    target: Target
    report: ProbeReport | None = None
    error: SMTPProbeError | None = None
    notes: tuple[Finding, ...] = ()

    @property
    def findings(self) -> tuple[Finding, ...]:
        return self.report.findings if self.report is not None else self.notes

    @property
    def status(self) -> Status:
        if self.report is not None:
            return self.report.status
        return Status.worst(f.status for f in self.notes) if self.notes else Status.UNKNOWN


# Where an MX plan's hosts came from (smtpprobe.mx.resolve_targets).
Source = Literal["mx", "fallback-address", "null-mx", "direct"]


@dataclass(frozen=True, slots=True)
class MxHost:
    """One host to probe. ``preference`` is the MX preference, 0 for the implicit MX of
    the fallback (RFC 5321 §5.1) and None for a host named directly. ``addresses`` is
    filled only with ``all_addresses``; ``notes`` are ui keys about this host."""

    name: str
    preference: int | None
    addresses: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MxPlan:
    """Where mail for ``domain`` goes and what to probe, in order; ``notes`` are ui keys."""

    domain: str
    source: Source
    hosts: tuple[MxHost, ...]
    notes: tuple[str, ...] = ()
    port: int = 25
    all_addresses: bool = False


@dataclass(frozen=True, slots=True)
class Fleet:
    """Every kept result in input order, the MX plans they came from (for the view), and
    how many targets ended in each status (all of them, kept or not).

    ``out_of_files`` counts targets not probed because this machine had no file
    descriptor left, ``internal`` those an internal error stopped, ``timed_out`` those
    the run's ``total_timeout`` cut short: each is said once.
    """

    results: tuple[TargetResult, ...]
    plans: tuple[MxPlan, ...] = ()
    counts: Mapping[Status, int] = field(default_factory=dict)
    out_of_files: int = 0
    internal: int = 0
    timed_out: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts.values()) if self.counts else len(self.results)

    @property
    def status(self) -> Status:
        if self.counts:
            return Status.worst(status for status, count in self.counts.items() if count)
        return Status.worst(r.status for r in self.results)
