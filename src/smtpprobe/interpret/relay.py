"""The relay finding (``--relay-check``): open, closed or inconclusive, with the tests the
server accepted and their exchanges. Pure: reads the ``RELAY`` exchanges of a session.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from smtpprobe.interpret.checks import _ip, _trusted_source
from smtpprobe.reply import Reply
from smtpprobe.report import Exchange, Finding, Session, Status, Verdict

__all__ = ["Relay", "RelayOutcome", "judge_relay", "relay_finding", "trusted_source"]

_RELAY_DENIED = re.compile(
    r"relay(?:ing)?\b.{0,40}\b(?:denied|not (?:permitted|allowed)|prohibited|refused)"
    r"|(?:not|never) (?:relay|permitted to relay)",
    re.IGNORECASE,
)
_STATUS = {
    Verdict.OPEN: Status.CRITICAL,
    Verdict.CLOSED: Status.OK,
    Verdict.INCONCLUSIVE: Status.UNKNOWN,
}


@dataclass(frozen=True, slots=True)
class RelayOutcome:
    """One test: its name and its MAIL, RCPT (None when MAIL was refused) and RSET."""

    name: str
    exchanges: tuple[Exchange, ...]

    def _reply(self, verb: bytes) -> Reply | None:
        found = next((ex for ex in self.exchanges if ex.command.startswith(verb)), None)
        return found.reply if found is not None else None

    def _reply_code(self, verb: bytes) -> int | None:
        reply = self._reply(verb)
        return reply.code if reply is not None else None

    @property
    def accepted(self) -> bool:
        code = self._reply_code(b"RCPT")
        return code is not None and code // 100 == 2

    @property
    def refused(self) -> bool:
        """Refused as a relay: a 5xx to MAIL or RCPT, or a 4xx that says relaying is denied
        (Postfix's default ``defer_unauth_destination`` answers ``454 4.7.1 … Relay access
        denied``: temporary only as a safety net for a mistaken configuration)."""
        return any(
            reply is not None
            and (
                reply.klass == 5
                or (reply.klass == 4 and _RELAY_DENIED.search(" ".join(reply.lines)) is not None)
            )
            for reply in (self._reply(b"MAIL"), self._reply(b"RCPT"))
        )

    def to_data(self) -> dict[str, Any]:
        rcpt = next((ex for ex in self.exchanges if ex.command.startswith(b"RCPT")), None)
        return {
            "name": self.name,
            "accepted": self.accepted,
            "recipient": rcpt.argument if rcpt is not None else None,
            "mail_code": self._reply_code(b"MAIL"),
            "rcpt_code": self._reply_code(b"RCPT"),
        }


@dataclass(frozen=True, slots=True)
class Relay:
    """The verdict, its reason key and params, the evidence and the JSON facts."""

    status: Status
    verdict: Verdict
    reason: str
    params: dict[str, Any]
    evidence: tuple[Exchange, ...]
    data: dict[str, Any]


def trusted_source(session: Session) -> bool:
    """Whether the server probably trusts this client (loopback, or the same private
    network: what ``mynetworks`` and ``relay_from_hosts`` let relay); the connection
    finding's ``trusted-source`` note asks the same question."""
    return _trusted_source(session)


def _outcomes(session: Session) -> list[RelayOutcome]:
    groups: list[tuple[str, list[Exchange]]] = []
    for exchange in session.exchanges:
        if exchange.phase != "RELAY":
            continue
        if exchange.command.startswith(b"MAIL"):
            groups.append((exchange.argument, []))
        if groups:
            groups[-1][1].append(exchange)
    return [RelayOutcome(name, tuple(exchanges)) for name, exchanges in groups]


def judge_relay(session: Session) -> Relay:
    """Open when any test's RCPT was accepted; closed when every test was refused with a
    5xx; otherwise inconclusive (4xx, no reply, the session ended early)."""
    outcomes = _outcomes(session)
    accepted = [o for o in outcomes if o.accepted]
    trusted = trusted_source(session)
    params: dict[str, Any] = {
        "count": len(accepted),
        "tests": len(outcomes),
        "names": ", ".join(o.name for o in accepted) or "-",
        "address": session.target.address or "-",
        "source": str(_ip(session.source) or session.source or "-"),
    }
    if accepted:
        verdict, reason = Verdict.OPEN, "open-trusted-source" if trusted else "open"
        evidence = tuple(ex for o in accepted for ex in o.exchanges)
    elif outcomes and all(o.refused for o in outcomes) and session.error is None:
        verdict, reason = Verdict.CLOSED, "closed-trusted-source" if trusted else "closed"
        evidence = outcomes[0].exchanges
    else:
        verdict, reason = Verdict.INCONCLUSIVE, "inconclusive" if outcomes else "not-reached"
        evidence = tuple(ex for o in outcomes if not o.refused for ex in o.exchanges)
    data = {
        "verdict": verdict.value,
        "trusted_source": trusted,
        "accepted": [o.name for o in accepted],
        "tests": [o.to_data() for o in outcomes],
    }
    return Relay(_STATUS[verdict], verdict, reason, params, evidence, data)


def relay_finding(session: Session) -> Finding:
    """The ``relay`` finding (its words in ``findings/relay.toml``)."""
    judged = judge_relay(session)
    return Finding(
        "relay",
        judged.status,
        judged.reason,
        judged.params,
        verdict=judged.verdict,
        evidence=judged.evidence,
        data={"reason": judged.reason, **judged.data},
    )
