"""The enumeration verdict for VRFY, EXPN and RCPT: a real address against a random one.

One rule for all three (DESIGN.md): the replies are compared, never read one at a time,
because a 252 means "hidden" only when an unknown address gets the same 252.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from smtpprobe.interpret._transcript import (
    argument,
    exchanges_for,
    is_skipped,
    reply_text,
)
from smtpprobe.kb import KnowledgeBase
from smtpprobe.reply import Reply
from smtpprobe.report import Exchange, Finding, Session, Status, Verdict

__all__ = ["Pair", "combine", "desynchronised", "judge", "judge_alone", "pairs",
           "verdict_finding"]

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


def judge(real: Reply | None, control: Reply | None) -> tuple[Verdict, str]:
    """Compare the reply for a real address with the one for a random control address.

    Returns the verdict and a machine reason (``codes-differ``, ``same-success`` …).
    """
    if real is None or control is None:
        return Verdict.INCONCLUSIVE, "no-reply"
    if real.code in _NOT_IMPLEMENTED and control.code in _NOT_IMPLEMENTED:
        return Verdict.DISABLED, "not-implemented"
    if real.klass == 4 or control.klass == 4:
        return Verdict.INCONCLUSIVE, "temporary"
    if 501 in (real.code, control.code):
        return Verdict.INCONCLUSIVE, "syntax"
    if real.code != control.code:
        # Postfix: `252 2.0.0 postmaster` for a real user, `550 5.1.1 ... User unknown` else.
        return Verdict.DISCLOSING, "codes-differ"
    if real.enhanced is not None and control.enhanced is not None and (
        real.enhanced != control.enhanced
    ):
        return Verdict.DISCLOSING, "enhanced-differ"
    if real.klass == 2:
        return Verdict.HIDDEN, "same-success"
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


def _local(address: str) -> str:
    return address.rpartition("@")[0] if "@" in address else address


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower() if "@" in address else ""


def _forms(session: Session, names: Iterable[str]) -> set[str]:
    forms = {n.lower() for n in names if n}
    forms |= {session.qualified_users[n].lower() for n in names if n in session.qualified_users}
    return forms


def _matches(arg: str, forms: set[str]) -> bool:
    lowered = arg.lower()
    if lowered in forms:
        return True
    # The probe may have added a domain of its own (RCPT always needs one).
    return "@" in lowered and _local(lowered) in {f for f in forms if "@" not in f}


def pairs(session: Session, exchanges: Sequence[Exchange], names: Iterable[str]) -> list[Pair]:
    """Pair each real name's exchange with the control exchange sent in the same form.

    When the probe had to qualify a bare name (``session.qualified_users``), the qualified
    exchanges are compared, since the bare ones only show a syntax complaint.
    """
    names = tuple(names)
    controls = _forms(session, [session.control_address, session.options.control_address or ""])
    found = []
    for name in names:
        own = _forms(session, [name])
        real_candidates = [ex for ex in exchanges if _matches(argument(ex), own)]
        if not real_candidates:
            continue
        qualified = session.qualified_users.get(name, "").lower()
        real = next((ex for ex in real_candidates if argument(ex).lower() == qualified),
                    real_candidates[-1])
        control = _control_for(real, exchanges, controls, _forms(session, names))
        found.append(_pair(name, real, control))
    return found


def _control_for(
    real: Exchange, exchanges: Sequence[Exchange], controls: set[str], names: set[str]
) -> Exchange | None:
    def is_control(ex: Exchange) -> bool:
        if controls:
            return _matches(argument(ex), controls) or _local(argument(ex)).lower() in {
                _local(c) for c in controls
            }
        return not _matches(argument(ex), names)

    candidates = [ex for ex in exchanges if is_control(ex)]
    same_form = [ex for ex in candidates if _domain(argument(ex)) == _domain(argument(real))]
    position = exchanges.index(real)
    after = [ex for ex in same_form if exchanges.index(ex) > position]
    if after:
        return after[0]
    if same_form:
        return same_form[-1]
    return candidates[-1] if candidates else None


def judge_alone(reply: Reply | None) -> tuple[Verdict, str]:
    """The verdict from one reply when no control address was asked (EXPN of ``postmaster``).

    Only what one reply can show: not implemented, a refusal (``postmaster`` must exist,
    RFC 5321 §4.5.1, so a 5xx to it is policy), an expansion (disclosing), a 252.
    """
    if reply is None:
        return Verdict.INCONCLUSIVE, "no-reply"
    if reply.code in _NOT_IMPLEMENTED:
        return Verdict.DISABLED, "not-implemented"
    if reply.code in (250, 251):
        return Verdict.DISCLOSING, "answered-alone"
    if reply.code == 252:
        return Verdict.HIDDEN, "same-success"
    if reply.klass == 5 and reply.code != 501:
        return Verdict.REFUSED, "refused-alone"
    return Verdict.INCONCLUSIVE, "no-control"


def _pair(name: str, real: Exchange, control: Exchange | None) -> Pair:
    if control is None:
        verdict, reason = judge_alone(real.reply)
        if real.error is not None:
            verdict, reason = Verdict.INCONCLUSIVE, "error"
        return Pair(name, real, None, verdict, reason)
    verdict, reason = judge(real.reply, control.reply)
    if real.error is not None or control.error is not None:
        verdict, reason = Verdict.INCONCLUSIVE, "error"
    return Pair(name, real, control, verdict, reason)


def desynchronised(session: Session, kb: KnowledgeBase, command: str, pair: Pair) -> Pair:
    """*pair*, or ``inconclusive`` when its replies may not be its own.

    ``desynchronised``: the session fell out of step (`Session.desync`) at or before
    either exchange; a stray 252 read as the control's answer fakes "hidden", a stray 550
    read as the real name's fakes "disclosing". ``unexpected-code``: either reply is a
    code *command* cannot get (RFC 5321 §4.3.2), so it says nothing about the address.
    """
    exchanges = [ex for ex in (pair.real, pair.control) if ex is not None]
    if _shifted(session, exchanges):
        reason = "desynchronised"
    elif pair.verdict is not Verdict.INCONCLUSIVE and any(
        ex.reply is not None and kb.reply_allowed(ex.reply.code, command) is False
        for ex in exchanges
    ):
        reason = "unexpected-code"
    else:
        return pair
    return Pair(pair.name, pair.real, pair.control, Verdict.INCONCLUSIVE, reason)


def _shifted(session: Session, exchanges: Sequence[Exchange]) -> bool:
    """Whether any of *exchanges* came at or after the point the session fell out of step."""
    if session.desync is None:
        return False
    since = session.desync.since
    return any(i >= since for i, ex in enumerate(session.exchanges)
               if any(ex is e for e in exchanges))


def _vendor(session: Session) -> str:
    text = reply_text(session.exchanges).lower()
    found = next((v for v in _VENDORS if v in text), "")
    if not found and "recipient address rejected" in text:
        return "postfix"
    return found


def _ui_first(kb: KnowledgeBase, *keys: str) -> str:
    """The first of *keys* the knowledge base has; "" when none (kb.ui echoes missing keys)."""
    for key in keys:
        text = kb.ui(key)
        if text != key:
            return text
    return ""


def _code(exchange: Exchange | None) -> str:
    if exchange is None or exchange.reply is None:
        return "-"
    return str(exchange.reply.code)


def verdict_finding(session: Session, kb: KnowledgeBase, check: str) -> Finding:
    """The finding for ``vrfy``, ``expn`` or ``rcpt``: verdict, evidence, summary, advice."""
    command = _CHECKS[check]
    names = session.options.lists if check == "expn" else session.options.users
    exchanges = exchanges_for(session, command)
    found = pairs(session, exchanges, names)
    if not found and check == "rcpt":
        return _rcpt_without_pairs(session, kb, exchanges)
    if not found:
        return _not_tested(session, kb, check, command, exchanges)
    found = [desynchronised(session, kb, command, p) for p in found]
    verdict = combine([p.verdict for p in found])
    decisive = next((p for p in found if p.verdict is verdict), found[0])
    vendor = _vendor(session)
    fields = {
        "command": command,
        "real": argument(decisive.real) if decisive.real else "-",
        "real_code": _code(decisive.real),
        "control": argument(decisive.control) if decisive.control else "-",
        "control_code": _code(decisive.control),
        "reason": _ui_first(kb, f"probe_reason_{decisive.reason}"),
    }
    alone = "_alone" if decisive.control is None else ""
    summary = _ui_first(kb, f"probe_{check}_summary_{verdict.value}{alone}",
                        f"probe_summary_{verdict.value}{alone}",
                        f"probe_summary_{verdict.value}").format(**fields)
    advice = _ui_first(kb, f"probe_advice_{check}_{verdict.value}_{vendor}",
                       f"probe_advice_{check}_{verdict.value}", f"probe_advice_{verdict.value}")
    evidence = tuple(ex for p in found for ex in (p.real, p.control) if ex is not None)
    status = Status.WARNING if verdict is Verdict.DISCLOSING else Status.OK
    return Finding(check, status, summary, verdict=verdict, evidence=evidence, advice=advice,
                   data={"verdict": verdict.value, "vendor": vendor or None,
                         "pairs": [_pair_data(p) for p in found]})


def _pair_data(pair: Pair) -> dict[str, Any]:
    return {
        "name": pair.name,
        "real": argument(pair.real) if pair.real else None,
        "real_code": pair.real.reply.code if pair.real and pair.real.reply else None,
        "control": argument(pair.control) if pair.control else None,
        "control_code": pair.control.reply.code if pair.control and pair.control.reply else None,
        "verdict": pair.verdict.value,
        "reason": pair.reason,
    }


def _not_tested(
    session: Session, kb: KnowledgeBase, check: str, command: str, exchanges: list[Exchange]
) -> Finding:
    skipped = is_skipped(session, check)
    if exchanges:
        # Sent, but not for any name we know: nothing to compare.
        summary = kb.ui("probe_summary_inconclusive").format(
            command=command, reason=kb.ui("probe_reason_no-control"))
        return Finding(check, Status.OK, summary, verdict=Verdict.INCONCLUSIVE,
                       evidence=tuple(exchanges), data={"verdict": "inconclusive", "pairs": []})
    key = "probe_summary_skipped" if skipped else "probe_summary_not_reached"
    status = Status.OK if skipped or session.complete else Status.UNKNOWN
    return Finding(check, status, kb.ui(key).format(command=command),
                   verdict=Verdict.NOT_TESTED, data={"verdict": "not-tested", "pairs": []})


def _rcpt_without_pairs(
    session: Session, kb: KnowledgeBase, exchanges: list[Exchange]
) -> Finding:
    """RCPT never ran for a name: a refused MAIL FROM is a policy refusal, else not tested."""
    mails = exchanges_for(session, "MAIL")
    mail = mails[-1] if mails else None
    if mail is None or (mail.reply is not None and mail.reply.klass == 2):
        return _not_tested(session, kb, "rcpt", "RCPT", exchanges)
    refused = mail.reply is not None and mail.reply.klass == 5 and not _shifted(session, [mail])
    verdict = Verdict.REFUSED if refused else Verdict.INCONCLUSIVE
    summary = kb.ui("probe_rcpt_summary_mail_refused").format(code=_code(mail))
    advice = _ui_first(kb, f"probe_advice_rcpt_{verdict.value}", f"probe_advice_{verdict.value}")
    return Finding("rcpt", Status.OK, summary, verdict=verdict, evidence=(mail,), advice=advice,
                   data={"verdict": verdict.value, "pairs": [], "mail_code": _code(mail)})
