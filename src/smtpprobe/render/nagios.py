"""The monitoring-plugin output (``--format nagios``): a status line with performance data.

Shape (Nagios plugin API, monitoring-plugins guidelines)::

    SMTP OK - mx.example.org:25 220 in 0.012s, VRFY hidden, STARTTLS TLSv1.3, cert 84 days
    | time=0.012s;1;5;0 banner=0.002s connect=0.001s cert_days=84;21;7

(one line: the perfdata after ``|`` follows on the same line, wrapped here to be read).

Several targets: the first line counts them and carries every target's perfdata, then
one line per target follows (the plugin's long output). Server text can never break
the format: control characters are written visibly, ``|`` becomes ``/``, backticks go.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from smtpprobe.kb import KnowledgeBase
from smtpprobe.render.doc import visible
from smtpprobe.report import Finding, Fleet, ProbeReport, Status, TargetResult, TlsMode, Verdict
from smtpprobe.transcript import banner
from smtpprobe.views.findings import summary_text

__all__ = ["nagios_output", "nagios_run", "perfdata"]

_PASSING = (Verdict.HIDDEN, Verdict.DISABLED, Verdict.REFUSED)
# Reasons that only repeat another finding's cause (a step a dead session never reached).
_CONSEQUENCES = frozenset({"not-reached", "no-greeting"})
# Plugin guidelines: a label may hold anything but '=' and "'"; quoted when it has spaces.
_LABEL_FORBIDDEN = re.compile(r"['=|\x00-\x1f\x7f-\x9f]")


def _clean(text: str) -> str:
    """One line that cannot end the plugin output early or start its perfdata.

    Backticks (the KB's mark for literal text) go too: Nagios strips them from macros by
    default (``illegal_macro_output_chars``), and a notification script may pass the
    line to a shell.
    """
    return visible(text).replace("|", "/").replace("`", "")


def _number(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text or "0"


def _limit(value: object) -> str:
    return _number(float(value)) if isinstance(value, (int, float)) else ""


def _label(prefix: str, name: str) -> str:
    label = _LABEL_FORBIDDEN.sub("_", f"{prefix} {name}" if prefix else name)
    return f"'{label}'" if " " in label else label


def _policy(report: ProbeReport, check: str) -> dict[str, object]:
    found = report.finding(check)
    return dict(found.data) if found is not None else {}


def perfdata(report: ProbeReport, prefix: str = "") -> list[str]:
    """``'label'=value[UOM];[warn];[crit];[min];[max]`` items: total time, greeting,
    connect and certificate days, with the thresholds the policy findings recorded."""
    session = report.session
    time = _policy(report, "time")
    items = [
        f"{_label(prefix, 'time')}={_number(session.elapsed)}s;{_limit(time.get('warning'))};"
        f"{_limit(time.get('critical'))};0"
    ]
    greeting = banner(session)
    if greeting is not None and greeting.reply is not None:
        delay = _policy(report, "banner-delay")
        limit = f";;{_limit(delay['limit'])}" if "limit" in delay else ""
        items.append(f"{_label(prefix, 'banner')}={_number(greeting.elapsed)}s{limit}")
    if session.connect_elapsed is not None:
        items.append(f"{_label(prefix, 'connect')}={_number(session.connect_elapsed)}s")
    tls = session.tls
    if tls is not None and tls.certificate is not None and tls.certificate.days_left is not None:
        days = _policy(report, "cert-days")
        limits = f";{days['warning']};{days['critical']}" if "warning" in days else ""
        items.append(f"{_label(prefix, 'cert_days')}={tls.certificate.days_left}{limits}")
    return items


def _verdicts(report: ProbeReport) -> list[str]:
    parts = []
    for check in ("vrfy", "expn", "rcpt"):
        found = report.finding(check)
        if found is None or found.verdict in (None, Verdict.NOT_TESTED):
            continue
        # EXPN only when it matters, so the usual line stays short (VRFY is the headline).
        if check == "expn" and found.verdict in _PASSING and not report.finding("expect-expn"):
            continue
        parts.append(f"{check.upper()} {found.verdict}")
    return parts


def _facts(report: ProbeReport, kb: KnowledgeBase) -> list[str]:
    session = report.session
    greeting = banner(session)
    if greeting is None or greeting.reply is None:
        return []
    facts = [
        kb.ui("nagios_banner").format(code=greeting.reply.code, seconds=f"{session.elapsed:.3f}")
    ]
    facts += _verdicts(report)
    tls = session.tls
    if tls is not None:
        mode = "STARTTLS" if tls.mode is TlsMode.STARTTLS else "TLS"
        facts.append(f"{mode} {tls.version or '-'}")
        cert = tls.certificate
        if cert is not None and cert.days_left is not None:
            facts.append(kb.ui("nagios_cert").format(days=cert.days_left))
    elif greeting.reply.code == 220:
        facts.append(kb.ui("nagios_no_tls"))
    return facts


def _problems(findings: Sequence[Finding], kb: KnowledgeBase) -> list[str]:
    bad = [f for f in findings if f.status is not Status.OK]
    # One cause is enough: the steps a dead session never reached repeat it.
    causes = [f for f in bad if f.reason not in _CONSEQUENCES] or bad
    causes.sort(key=lambda f: -f.status.rank)
    return [summary_text(f, kb) for f in causes]


def _text(result: TargetResult, kb: KnowledgeBase) -> str:
    """The part after ``SMTP STATUS - ``: target, facts, then what is wrong, worst first."""
    facts = _facts(result.report, kb) if result.report is not None else []
    problems = _problems(result.findings, kb)
    text = str(result.target)
    if facts:
        text += " " + ", ".join(facts)
    if problems:
        text += (" - " if facts else " ") + "; ".join(problems)
    return _clean(text)


def _status_word(status: Status) -> str:
    return status.value.upper()


def _prefixes(results: Sequence[TargetResult]) -> list[str]:
    """A distinct perfdata label prefix per result: the target, with its address (all
    addresses of one host) or its position (a target listed twice) when needed."""
    names = Counter(str(r.target) for r in results)
    pairs = Counter((str(r.target), r.target.address) for r in results)
    prefixes = []
    for position, result in enumerate(results, 1):
        target = result.target
        if names[str(target)] == 1:
            prefixes.append(str(target))
        elif pairs[(str(target), target.address)] == 1:
            prefixes.append(f"{target} {target.address}")
        else:
            prefixes.append(f"{target} #{position}")
    return prefixes


def nagios_run(fleet: Fleet, kb: KnowledgeBase) -> str:
    """``--format nagios`` (`smtpprobe.render.formats`): the plugin output of a run."""
    return nagios_output(fleet.results, kb)


def nagios_output(results: Sequence[TargetResult], kb: KnowledgeBase) -> str:
    """One line for one target; for several, a summary line and one line per target."""
    status = Status.worst(r.status for r in results)
    if len(results) == 1:
        result = results[0]
        own = perfdata(result.report) if result.report is not None else []
        tail = f" | {' '.join(own)}" if own else ""
        return f"SMTP {_status_word(status)} - {_text(result, kb)}{tail}\n"
    perf: list[str] = []
    for prefix, result in zip(_prefixes(results), results, strict=True):
        if result.report is not None:
            perf += perfdata(result.report, _clean(prefix))
    counts = Counter(r.status for r in results)
    tally = ", ".join(
        f"{counts[s]} {_status_word(s)}" for s in sorted(counts, key=lambda s: -s.rank)
    )
    failing = [str(r.target) for r in results if r.status is not Status.OK]
    shown = ", ".join(failing[:5]) + (", …" if len(failing) > 5 else "")
    head = kb.ui_count("nagios_targets", len(results)).format(count=len(results), tally=tally)
    if failing:
        head += f" ({shown})"
    lines = [
        f"SMTP {_status_word(status)} - {_clean(head)}" + (f" | {' '.join(perf)}" if perf else "")
    ]
    lines += [f"{_status_word(r.status)}: {_text(r, kb)}" for r in results]
    return "\n".join(lines) + "\n"
