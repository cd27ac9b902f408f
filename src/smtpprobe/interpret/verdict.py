"""The enumeration verdict for VRFY, EXPN and RCPT: a real address against a random one.

One rule for all three (docs/architecture.md): the replies are compared, never read one at a time,
because a 252 means "hidden" only when an unknown address gets the same 252.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from smtpprobe.interpret.facts import facts
from smtpprobe.reply import Reply
from smtpprobe.report import Exchange, Finding, Session, Status, Verdict
from smtpprobe.transcript import exchanges_for, is_skipped, reply_text

__all__ = ["Pair", "combine", "desynchronised", "judge", "judge_alone", "pairs", "verdict_finding"]

# RFC 5321 §4.2.4: 500/502/504 say the command (or parameter) is not implemented.
_NOT_IMPLEMENTED = frozenset({500, 502, 504})
_VENDORS = ("postfix", "exim", "sendmail")
_CHECKS = {"vrfy": "VRFY", "expn": "EXPN", "rcpt": "RCPT"}


@dataclass(frozen=True, slots=True)
class Pair:
    """The exchanges for one real name and for the control address, and what they show."""

    name: str
    real: Exchange | None
    control: Exchange | None
    verdict: Verdict
    reason: str


# Text of a refusal that says "no such user" rather than "not for you" (policy).
_UNKNOWN_USER = re.compile(
    r"user unknown|unknown user|no such (user|mailbox|recipient)|not found|does ?n[o']t exist|"
    r"unrouteable|invalid (recipient|mailbox|user|address)|mailbox unavailable|"
    r"recipient (address )?rejected: user|address rejected",
    re.IGNORECASE,
)


def _says_unknown(reply: Reply) -> bool:
    enhanced = reply.enhanced
    if enhanced is not None and enhanced.subject == 1 and enhanced.detail in (1, 0):
        return True
    return bool(_UNKNOWN_USER.search(" ".join(reply.lines)))


def judge(real: Reply | None, control: Reply | None, command: str = "VRFY") -> tuple[Verdict, str]:
    """Compare the reply for a real address with the one for a random control address.

    Returns the verdict and its reason key (``differs``, ``same-reply`` …).
    """
    if real is None or control is None:
        return Verdict.INCONCLUSIVE, "no-reply"
    if real.code in _NOT_IMPLEMENTED and control.code in _NOT_IMPLEMENTED:
        return Verdict.DISABLED, "not-implemented"
    if 503 in (real.code, control.code):
        # RFC 5321 §4.3.2 "bad sequence": the server wants another command first
        # (Sendmail: "I demand that you introduce yourself first"). Says nothing of users.
        return Verdict.INCONCLUSIVE, "bad-sequence"
    if real.klass == 4 or control.klass == 4:
        return Verdict.INCONCLUSIVE, "temporary"
    if 501 in (real.code, control.code):
        return Verdict.INCONCLUSIVE, "syntax"
    allowed = facts().reply_allowed
    if allowed(real.code, command) is False or allowed(control.code, command) is False:
        # A code the command cannot get (RFC 5321 §4.3.2): the reply answers something else.
        return Verdict.INCONCLUSIVE, "unexpected-code"
    if real.code != control.code:
        # Postfix: `252 2.0.0 postmaster` for a real user, `550 5.1.1 ... User unknown` else.
        return Verdict.DISCLOSING, "differs"
    if (
        real.enhanced is not None
        and control.enhanced is not None
        and (real.enhanced != control.enhanced)
    ):
        return Verdict.DISCLOSING, "differs"
    if real.klass == 2:
        return Verdict.HIDDEN, "same-reply"
    if real.klass == 5 and _says_unknown(real) and _says_unknown(control):
        # "User unknown" for both: the real name does not exist either. The pair shows
        # nothing about disclosure, and a uniform refusal it is not.
        return Verdict.INCONCLUSIVE, "both-unknown"
    if real.klass == 5:
        return Verdict.REFUSED, "same-refusal"
    return Verdict.INCONCLUSIVE, "other"


def combine(verdicts: Sequence[Verdict]) -> Verdict:
    """One verdict for several names: any disclosure wins, agreement stands, else undecided."""
    if not verdicts:
        return Verdict.NOT_TESTED
    if Verdict.DISCLOSING in verdicts:
        return Verdict.DISCLOSING
    return verdicts[0] if len(set(verdicts)) == 1 else Verdict.INCONCLUSIVE


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower() if "@" in address else ""


def _hung_up(exchange: Exchange) -> bool:
    return exchange.reply is None or exchange.reply.code == 421


def pairs(exchanges: Sequence[Exchange]) -> list[Pair]:
    """Pair each real name's answer with the control's answer in the same form.

    The probe stamps every exchange with its role and name; the last exchange of a name
    is its answer (a retry in the form with a domain replaces a syntax complaint). The
    control compared is the one sent in the same form, after the real one when there is
    one, so both replies come from the same state of the session.
    """
    # A 421 is the server hanging up, not an answer about the name: when the name was
    # asked again on a new connection (a list of names), that later answer counts.
    controls = [ex for ex in exchanges if ex.role == "control"]
    answered = [ex for ex in controls if not _hung_up(ex)]
    controls = answered or controls
    names = list(dict.fromkeys(ex.name for ex in exchanges if ex.role == "real"))
    found = []
    for name in names:
        real = [ex for ex in exchanges if ex.role == "real" and ex.name == name][-1]
        same_form = [ex for ex in controls if _domain(ex.argument) == _domain(real.argument)]
        position = exchanges.index(real)
        after = [ex for ex in same_form if exchanges.index(ex) > position]
        control = (
            after[0]
            if after
            else (same_form[-1] if same_form else (controls[-1] if controls else None))
        )
        found.append(_pair(name, real, control))
    return found


def judge_alone(reply: Reply | None) -> tuple[Verdict, str]:
    """The verdict from one reply when no control address was asked (EXPN of ``postmaster``).

    Only what one reply can show: not implemented, a refusal (``postmaster`` must exist,
    RFC 5321 §4.5.1, so a 5xx to it is policy), an expansion (disclosing), a 252.
    """
    if reply is None:
        return Verdict.INCONCLUSIVE, "no-reply"
    if reply.code in _NOT_IMPLEMENTED:
        return Verdict.DISABLED, "not-implemented"
    if reply.code == 503:
        return Verdict.INCONCLUSIVE, "bad-sequence"
    if reply.code in (250, 251):
        return Verdict.DISCLOSING, "answered-alone"
    if reply.code == 252:
        return Verdict.HIDDEN, "neither-confirms"
    if reply.klass == 5 and reply.code != 501:
        return Verdict.REFUSED, "refused-alone"
    return Verdict.INCONCLUSIVE, "no-control"


def _pair(name: str, real: Exchange, control: Exchange | None) -> Pair:
    if control is None:
        verdict, reason = judge_alone(real.reply)
        if real.error is not None:
            verdict, reason = Verdict.INCONCLUSIVE, "error"
        return Pair(name, real, None, verdict, reason)
    verdict, reason = judge(real.reply, control.reply, real.phase)
    if real.error is not None or control.error is not None:
        verdict, reason = Verdict.INCONCLUSIVE, "error"
    return Pair(name, real, control, verdict, reason)


def desynchronised(session: Session, pair: Pair) -> Pair:
    """*pair*, or ``inconclusive`` (``desynchronised``) when its replies may not be its own.

    The session fell out of step (`Session.desync`) at or before either exchange: a stray
    252 read as the control's answer fakes "hidden", a stray 550 read as the real name's
    fakes "disclosing". (A code the command cannot get is `judge`'s ``unexpected-code``.)
    """
    if not _shifted(session, [ex for ex in (pair.real, pair.control) if ex is not None]):
        return pair
    return Pair(pair.name, pair.real, pair.control, Verdict.INCONCLUSIVE, "desynchronised")


def _shifted(session: Session, exchanges: Sequence[Exchange]) -> bool:
    """Whether any of *exchanges* came at or after the point the session fell out of step."""
    if session.desync is None:
        return False
    since = session.desync.since
    return any(
        i >= since for i, ex in enumerate(session.exchanges) if any(ex is e for e in exchanges)
    )


def _vendor(session: Session) -> str:
    text = reply_text(session.exchanges).lower()
    found = next((v for v in _VENDORS if v in text), "")
    if not found and "recipient address rejected" in text:
        return "postfix"
    return found


def _code(exchange: Exchange | None) -> int | None:
    if exchange is None or exchange.reply is None:
        return None
    return exchange.reply.code


def verdict_finding(session: Session, check: str) -> Finding:
    """The finding for ``vrfy``, ``expn`` or ``rcpt``: verdict, reason, evidence."""
    command = _CHECKS[check]
    exchanges = exchanges_for(session, command)
    found = pairs(exchanges)
    if not found and check == "rcpt":
        return _rcpt_without_pairs(session, exchanges)
    if not found:
        return _not_tested(session, check, command, exchanges)
    found = [desynchronised(session, p) for p in found]
    verdict = combine([p.verdict for p in found])
    decisive = next((p for p in found if p.verdict is verdict), found[0])
    vendor = _vendor(session)
    reason = decisive.reason if verdict is decisive.verdict else "mixed"
    params = {
        "command": command,
        "real": decisive.real.argument if decisive.real else None,
        "real_code": _code(decisive.real),
        "control": decisive.control.argument if decisive.control else None,
        "control_code": _code(decisive.control),
        "vendor": vendor or None,
    }
    evidence = tuple(ex for p in found for ex in (p.real, p.control) if ex is not None)
    status = Status.WARNING if verdict is Verdict.DISCLOSING else Status.OK
    return Finding(
        check,
        status,
        reason,
        params,
        verdict=verdict,
        evidence=evidence,
        data={
            "verdict": verdict.value,
            "vendor": vendor or None,
            "control": session.control_address or None,
            "pairs": [_pair_data(p) for p in found],
            "users": [_user(p, verdict) for p in found],
            "users_known": verdict is Verdict.DISCLOSING,
        },
    )


def _user(pair: Pair, verdict: Verdict) -> dict[str, Any]:
    """One name of a list: whether it exists, claimed only when the control proves that
    the server tells names apart (a disclosing verdict); else ``exists`` is None."""
    real, control = pair.real, pair.control
    reply = real.reply if real is not None else None
    exists: bool | None = None
    if (
        verdict is Verdict.DISCLOSING
        and reply is not None
        and control is not None
        and (control.reply is not None)
    ):
        if (reply.code, reply.enhanced) == (control.reply.code, control.reply.enhanced):
            exists = False  # answered like the random name
        elif reply.klass == 2 and control.reply.klass == 5:
            exists = True
    return {
        "name": pair.name,
        "exists": exists,
        "code": reply.code if reply is not None else None,
        "evidence": {
            "command": real.command.decode("latin-1") if real else None,
            "reply": str(reply) if reply is not None else None,
        },
    }


def _pair_data(pair: Pair) -> dict[str, Any]:
    return {
        "name": pair.name,
        "real": pair.real.argument if pair.real else None,
        "real_code": pair.real.reply.code if pair.real and pair.real.reply else None,
        "control": pair.control.argument if pair.control else None,
        "control_code": pair.control.reply.code if pair.control and pair.control.reply else None,
        "verdict": pair.verdict.value,
        "reason": pair.reason,
    }


def _not_tested(session: Session, check: str, command: str, exchanges: list[Exchange]) -> Finding:
    params = {"command": command}
    if exchanges:
        # Sent, but not for a name the probe stamped: nothing to compare.
        return Finding(
            check,
            Status.OK,
            "no-control",
            params,
            verdict=Verdict.INCONCLUSIVE,
            evidence=tuple(exchanges),
            data={"verdict": "inconclusive", "pairs": []},
        )
    skipped = is_skipped(session, check)
    reason = "skipped" if skipped else "not-reached"
    status = Status.OK if skipped or session.complete else Status.UNKNOWN
    return Finding(
        check,
        status,
        reason,
        params,
        verdict=Verdict.NOT_TESTED,
        data={"verdict": "not-tested", "pairs": []},
    )


def _rcpt_without_pairs(session: Session, exchanges: list[Exchange]) -> Finding:
    """RCPT never ran for a name: a refused MAIL FROM is a policy refusal, else not tested."""
    mails = exchanges_for(session, "MAIL")
    mail = mails[-1] if mails else None
    if mail is None or (mail.reply is not None and mail.reply.klass == 2):
        return _not_tested(session, "rcpt", "RCPT", exchanges)
    refused = mail.reply is not None and mail.reply.klass == 5 and not _shifted(session, [mail])
    verdict = Verdict.REFUSED if refused else Verdict.INCONCLUSIVE
    return Finding(
        "rcpt",
        Status.OK,
        "mail-refused",
        {"command": "RCPT", "code": _code(mail)},
        verdict=verdict,
        evidence=(mail,),
        data={"verdict": verdict.value, "pairs": [], "mail_code": _code(mail)},
    )
