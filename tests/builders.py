"""Recorded sessions built by hand, shaped as the probe records them: exchanges (with the
role and name the probe stamps on VRFY/EXPN/RCPT), a greeting, a real/control pair, a TLS
state, a session and its report. For the tests of the interpreter, policies and renderers.
"""

from __future__ import annotations

from datetime import UTC, datetime

from smtpprobe.errors import SMTPProbeError
from smtpprobe.interpret import interpret
from smtpprobe.reply import Reply, parse_reply
from smtpprobe.report import (
    CertificateInfo,
    Exchange,
    ProbeOptions,
    ProbeReport,
    Session,
    Target,
    TlsInfo,
    TlsMode,
)

__all__ = [
    "BANNER",
    "CONTROL",
    "EHLO_NO_TLS",
    "EHLO_OK",
    "ex",
    "greeting",
    "real_and_control",
    "reply",
    "report",
    "session",
    "tls",
]

# The control name the probe would have made up: a local part no server has.
CONTROL = "zq7x1k9w"
BANNER = "220 mx.example.org ESMTP\r\n"
EHLO_OK = (
    "250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-STARTTLS\r\n250 8BITMIME\r\n"
)
EHLO_NO_TLS = "250-mx.example.org\r\n250-PIPELINING\r\n250 8BITMIME\r\n"


def reply(text: str) -> Reply:
    """A parsed reply; text with CRLF is read as wire bytes (so bare-LF defects show)."""
    return parse_reply(text.encode() if "\r\n" in text else text)


def ex(
    command: str,
    text: str | None,
    *,
    error: SMTPProbeError | None = None,
    argument: str = "",
    started: float = 0.1,
    elapsed: float = 0.004,
) -> Exchange:
    """One exchange; *command* ``""`` is the banner. With an *argument*, the role and name
    are stamped as the probe does: `control` for the `CONTROL` name, else `real`."""
    verb = command.split()[0] if command else "banner"
    name = argument.partition("@")[0]
    role = "" if not argument else "control" if name == CONTROL else "real"
    return Exchange(
        phase=verb,
        command=command.encode(),
        reply=reply(text) if text else None,
        started=started,
        elapsed=elapsed,
        error=error,
        argument=argument,
        role=role,
        name=name,
    )


def greeting(
    banner: str = BANNER, ehlo: str = EHLO_OK, *, banner_delay: float = 0.002
) -> list[Exchange]:
    """The banner (taking *banner_delay* seconds) and the EHLO exchange."""
    return [ex("", banner, elapsed=banner_delay), ex("EHLO smtpprobe.invalid", ehlo)]


def real_and_control(
    real: str, control: str, verb: str = "VRFY", name: str = "postmaster"
) -> list[Exchange]:
    """*verb* asked about *name*, then about the control name: the probe's pair."""
    return [
        ex(f"{verb} {name}", real, argument=name),
        ex(f"{verb} {CONTROL}", control, argument=CONTROL),
    ]


def tls(
    days: int | None = 90, verified: bool = True, error: str = "", mode: TlsMode = TlsMode.STARTTLS
) -> TlsInfo:
    """A TLS 1.3 state with a certificate valid for *days* more (None: no certificate)."""
    cert = None if days is None else CertificateInfo("mx.example.org", "CN=CA", (), None, days)
    return TlsInfo(mode, "TLSv1.3", "TLS_AES_256_GCM_SHA384", cert, verified, error)


def session(*exchanges: Exchange, **changes: object) -> Session:
    """A session of *exchanges* with Session fields changed by keyword.

    `--tls none` unless *options* says otherwise: a session that never tries STARTTLS, so
    that only the tests about TLS meet the STARTTLS and TLS findings' warnings.
    """
    fields: dict[str, object] = {
        "target": Target("mx.example.org", 25, "192.0.2.25"),
        "options": ProbeOptions(tls=TlsMode.NONE),
        "exchanges": tuple(exchanges),
        "started_at": datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
        "elapsed": 0.25,
        "connect_elapsed": 0.003,
        "control_address": CONTROL,
    }
    fields.update(changes)
    return Session(**fields)  # type: ignore[arg-type]


def report(*exchanges: Exchange, **changes: object) -> ProbeReport:
    """`session` with the interpreter's findings."""
    recorded = session(*exchanges, **changes)
    return ProbeReport(recorded, interpret(recorded))
