"""Judging the SMTP smuggling check: per test, did DATA end early; overall, the verdict.

Pure: the trials of `smtpprobe.smuggling_run` in, a `SmugglingJudgement` out (verdict,
reason key, params, evidence), then one language-neutral `Finding`; the views word it
from ``findings/smuggling.toml`` (advice per ``vendor``: postfix, exim, sendmail). A reply
before the real ``<CR><LF>.<CR><LF>`` was sent, or more than one reply after it, means
the server took a candidate for the end of the data (RFC 5321 §4.1.1.4): the hidden
second transaction was read as commands.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from smtpprobe.report import Exchange, Finding, Session, Status, Verdict
from smtpprobe.smuggling_run import SmugglingRun, Trial
from smtpprobe.transcript import exchanges_for, reply_text

__all__ = [
    "CandidateOutcome",
    "Outcome",
    "SmugglingJudgement",
    "judge",
    "judge_trial",
    "server_software",
    "smuggling_finding",
]


class Outcome(StrEnum):
    """What one test showed."""

    ENDED_EARLY = "ended-early"  # the server ended DATA on the candidate
    CONTENT = "content"  # everything was one message (accepted at the real end)
    REJECTED = "rejected"  # the message was refused (at the end, or at once)
    UNTESTED = "untested"  # the content was never sent, or no reply came


@dataclass(frozen=True, slots=True)
class CandidateOutcome:
    """One test's outcome: ``name`` and ``label`` of the candidate, ``code`` of the reply
    it rests on (0 when none), ``detail`` why it was not tested, the exchanges as evidence."""

    name: str
    label: str
    outcome: Outcome
    ends_data: bool
    bare_lf: bool
    code: int = 0
    detail: str = ""
    late: bool = False
    evidence: tuple[Exchange, ...] = ()
    sent: bytes = b""

    def as_data(self) -> dict[str, Any]:
        """JSON facts; ``sent`` is every byte written after 354 (latin-1, escaped by JSON)."""
        return {
            "name": self.name,
            "label": self.label,
            "outcome": self.outcome.value,
            "code": self.code or None,
            "detail": self.detail or None,
            "late": self.late,
            "sent": self.sent.decode("latin-1"),
        }


@dataclass(frozen=True, slots=True)
class SmugglingJudgement:
    """The verdict, its status and reason key, the params the words rest on, the outcomes."""

    verdict: Verdict
    status: Status
    reason: str
    params: dict[str, Any]
    outcomes: tuple[CandidateOutcome, ...]
    evidence: tuple[Exchange, ...] = field(default=())


# Server software named in the greeting or EHLO: the advice names its options.
_SOFTWARE = (
    ("postfix", re.compile(r"\bpostfix\b", re.IGNORECASE)),
    ("exim", re.compile(r"\bexim\b", re.IGNORECASE)),
    ("sendmail", re.compile(r"\bsendmail\b", re.IGNORECASE)),
)


def server_software(session: Session) -> str:
    """``postfix``, ``exim``, ``sendmail`` when the greeting or EHLO says so, else ``""``."""
    text = reply_text(exchanges_for(session, "CONNECT", "EHLO", "HELO"))
    return next((name for name, pattern in _SOFTWARE if pattern.search(text)), "")


def _replies(exchanges: Iterable[Exchange]) -> list[Exchange]:
    # 421 is the server closing, not an answer to anything we sent (RFC 5321 §3.8).
    return [ex for ex in exchanges if ex.reply is not None and ex.reply.code != 421]


def judge_trial(trial: Trial) -> CandidateOutcome:
    """The outcome of one test (see the module docstring for the rule)."""
    test = trial.candidate
    base: dict[str, Any] = {
        "name": test.name,
        "label": test.label,
        "ends_data": test.ends_data,
        "bare_lf": test.has_bare_lf,
        "evidence": trial.exchanges,
        "sent": trial.sent,
    }
    if trial.skipped:
        return CandidateOutcome(outcome=Outcome.UNTESTED, detail=trial.skipped, **base)
    early, after = list(trial.early), _replies(trial.after)
    if early:
        first = early[0].reply
        assert first is not None
        # A reply to a hidden line proves it was read as a command; an early 2xx alone
        # proves the message ended there. An early refusal alone is the server
        # refusing the bare line ending at once (and hanging up, typically).
        ended = first.klass == 2 or len(_replies(early)) > 1
        return CandidateOutcome(
            outcome=Outcome.ENDED_EARLY if ended else Outcome.REJECTED, code=first.code, **base
        )
    if len(after) > 1:
        first = after[0].reply
        assert first is not None
        return CandidateOutcome(outcome=Outcome.ENDED_EARLY, code=first.code, late=True, **base)
    if after:
        reply = after[0].reply
        assert reply is not None
        outcome = Outcome.CONTENT if reply.klass == 2 else Outcome.REJECTED
        return CandidateOutcome(outcome=outcome, code=reply.code, **base)
    return CandidateOutcome(outcome=Outcome.UNTESTED, detail="no-reply", **base)


def _labels(outcomes: Iterable[CandidateOutcome]) -> str:
    return ", ".join(o.label for o in outcomes) or "-"


def judge(run: SmugglingRun) -> SmugglingJudgement:
    """The check's verdict from all its trials.

    ``vulnerable`` (CRITICAL) when any end-of-data candidate ended DATA early; else
    ``inconclusive`` (UNKNOWN) when one of them could not be tested; else
    ``rejects-bare-lf`` when a message with a bare LF was refused (Postfix
    ``smtpd_forbid_bare_newline = reject``, Sendmail 8.18); else ``not-vulnerable``.
    """
    outcomes = tuple(judge_trial(trial) for trial in run.trials)
    tested = {o.name for o in outcomes}
    missing = tuple(c for c in run.candidates if c.name not in tested)
    ends = [o for o in outcomes if o.ends_data]
    ended = [o for o in ends if o.outcome is Outcome.ENDED_EARLY]
    untested = [o for o in outcomes if o.outcome is Outcome.UNTESTED]
    rejected = [o for o in outcomes if o.outcome is Outcome.REJECTED]
    software = server_software(run.session)
    not_run = [*(o.label for o in untested), *(c.label for c in missing)]
    params: dict[str, Any] = {
        "ended": len(ended),
        "ended_labels": _labels(ended),
        "tested": len(outcomes) - len(untested),
        "total": len(run.candidates),
        "untested": len(not_run),
        "untested_labels": ", ".join(not_run) or "-",
        "rejected_labels": _labels(rejected),
        "vendor": software or None,
        "recipient": run.recipient,
        "marker": run.marker,
    }
    if ended:
        verdict, status = Verdict.VULNERABLE, Status.CRITICAL
        reason = "vulnerable"
        evidence = tuple(ex for o in ended for ex in o.evidence)
    elif untested or missing or not ends:
        verdict, status, reason = Verdict.INCONCLUSIVE, Status.UNKNOWN, "inconclusive"
        evidence = tuple(ex for o in untested for ex in o.evidence[-2:])
    elif any(o.bare_lf for o in rejected):
        verdict, status, reason = Verdict.REJECTS_BARE_LF, Status.OK, "rejects-bare-lf"
        evidence = tuple(ex for o in rejected if o.bare_lf for ex in o.evidence[-3:])
    else:
        verdict, status, reason = Verdict.NOT_VULNERABLE, Status.OK, "not-vulnerable"
        evidence = ()
    return SmugglingJudgement(verdict, status, reason, params, outcomes, evidence)


def smuggling_finding(judgement: SmugglingJudgement) -> Finding:
    """The ``smuggling`` finding: the reason and params (worded from
    ``findings/smuggling.toml``, advice by ``vendor``), the verdict, the exchanges of the
    tests it rests on, and every test's outcome in ``data``."""
    ended = [o.name for o in judgement.outcomes if o.outcome is Outcome.ENDED_EARLY]
    return Finding(
        "smuggling",
        judgement.status,
        judgement.reason,
        judgement.params,
        verdict=judgement.verdict,
        evidence=judgement.evidence,
        data={"ended_early": ended, "candidates": [o.as_data() for o in judgement.outcomes]},
    )
