"""Turn a recorded `Session` into `Finding`s: pure, no I/O, no words (the views word them).

``interpret(session)`` returns one finding per check, always in the order of `CHECKS`,
so that renderers and the JSON schema can rely on every check being present.
"""

from __future__ import annotations

from collections.abc import Callable

from smtpprobe.interpret.auth import auth_finding
from smtpprobe.interpret.checks import (
    banner_finding,
    connection_finding,
    deviations_finding,
    help_finding,
    starttls_finding,
    tls_finding,
)
from smtpprobe.interpret.ehlo import EhloInfo, ehlo_finding, parse_ehlo
from smtpprobe.interpret.verdict import judge, verdict_finding
from smtpprobe.report import Finding, Session

__all__ = ["CHECKS", "EhloInfo", "interpret", "judge", "parse_ehlo"]

_Check = Callable[[Session], Finding]


def _verdict(check: str) -> _Check:
    return lambda session: verdict_finding(session, check)


_BUILDERS: dict[str, _Check] = {
    "connection": connection_finding,
    "banner": banner_finding,
    "ehlo": ehlo_finding,
    "starttls": starttls_finding,
    "tls": tls_finding,
    "auth": auth_finding,
    "help": help_finding,
    "vrfy": _verdict("vrfy"),
    "expn": _verdict("expn"),
    "rcpt": _verdict("rcpt"),
    "deviations": deviations_finding,
}
CHECKS = tuple(_BUILDERS)
"""Every check `interpret` reports on, in report order."""


def interpret(session: Session) -> tuple[Finding, ...]:
    """The findings for *session*, one per name in `CHECKS`, language-neutral; and
    ``relay`` after them when ``--relay-check`` asked for it."""
    found = tuple(build(session) for build in _BUILDERS.values())
    if session.options.relay_check:
        from smtpprobe.interpret.relay import relay_finding

        found += (relay_finding(session),)
    return found
