"""The human view of many targets: the MX plans, one table row per target, the problems.

Pure: a `Fleet` in, a `Doc` out. The annotated transcript of one target stays the job of
`smtpprobe.views.probe_view`; this view is for a fleet, where a table reads better.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from smtpprobe.kb import KnowledgeBase
from smtpprobe.render.doc import Blank, Block, Doc, Heading, Items, Paragraph, Span, Table, line
from smtpprobe.report import Finding, Fleet, Status, TargetResult, Verdict
from smtpprobe.transcript import milliseconds
from smtpprobe.views.findings import summary_text
from smtpprobe.views.probe_view import STATUS_STYLE, status_line

if TYPE_CHECKING:
    from smtpprobe.report import MxPlan

__all__ = ["fleet_notices", "mx_blocks", "summary_doc"]

_VERDICT_STYLE = {
    Verdict.DISCLOSING: "warn",
    Verdict.HIDDEN: "ok",
    Verdict.DISABLED: "ok",
    Verdict.REFUSED: "ok",
    Verdict.INCONCLUSIVE: "note",
    Verdict.NOT_TESTED: "dim",
}


def _label(kb: KnowledgeBase, prefix: str, value: str) -> str:
    key = f"{prefix}{value}"
    text = kb.ui(key)
    return value if text == key else text


def _mx_note(kb: KnowledgeBase, note: str) -> str:
    """A DNS note of mx.py (``mx_port_not_25``) in words: the mx finding's note table."""
    reason = "note-" + note.removeprefix("mx_").replace("_", "-")
    return kb.finding_words("mx", reason).get("summary", note)


def mx_blocks(plans: Sequence[MxPlan], kb: KnowledgeBase) -> list[Block]:
    """For each MX plan: where the mail goes (hosts by preference) and the DNS notes."""
    blocks: list[Block] = []
    for plan in plans:
        blocks += [
            Heading(kb.ui("mx_heading").format(domain=plan.domain), level=2),
            Paragraph(line(Span(kb.ui(f"mx_source_{plan.source}"), "dim"))),
        ]
        if plan.hosts:
            columns = tuple(
                kb.ui(f"mx_column_{name}") for name in ("preference", "host", "addresses")
            )
            rows = tuple(
                (
                    Span(str(host.preference) if host.preference is not None else "-"),
                    Span(host.name, "bold"),
                    Span(" ".join(host.addresses) or "-", "" if host.addresses else "warn"),
                )
                for host in plan.hosts
            )
            blocks.append(Table(columns=columns, rows=rows))
        values = {"domain": plan.domain, "port": plan.port}
        notes = [line(_mx_note(kb, note).format(host=plan.domain, **values)) for note in plan.notes]
        notes += [
            line(_mx_note(kb, note).format(host=host.name, **values))
            for host in plan.hosts
            for note in host.notes
        ]
        if notes:
            blocks += [Blank(), Items(tuple(notes))]
        blocks.append(Blank())
    return blocks


def _verdict_cell(result: TargetResult, check: str, kb: KnowledgeBase) -> Span:
    found = next((f for f in result.findings if f.check == check), None)
    # "-" for no verdict at all or "not tested": a narrow column, and nothing to read there.
    if found is None or found.verdict in (None, Verdict.NOT_TESTED):
        return Span("-", "dim")
    return Span(_label(kb, "probe_verdict_", found.verdict.value), _VERDICT_STYLE[found.verdict])


def _tls_cell(result: TargetResult) -> Span:
    report = result.report
    if report is None or report.session.tls is None:
        return Span("-", "dim")
    tls = report.session.tls
    style = "ok" if tls.verified else "warn"
    return Span(tls.version or tls.mode.value, style)


def _problems(result: TargetResult) -> list[Finding]:
    """The findings worth listing, worst first: a check that was never reached (UNKNOWN)
    only repeats the failure that stopped the session, so it is left out beside one."""
    found = sorted(
        (f for f in result.findings if f.status is not Status.OK), key=lambda f: -f.status.rank
    )
    causes = [f for f in found if f.status is not Status.UNKNOWN]
    return causes or found


def _row(result: TargetResult, kb: KnowledgeBase, rcpt: bool, address: bool) -> tuple[Span, ...]:
    report, status = result.report, result.status
    elapsed = milliseconds(report.session.elapsed) if report is not None else None
    failing = [_label(kb, "probe_check_", f.check) for f in _problems(result)]
    cells = [Span(str(result.target), "bold")]
    if address:
        cells.append(Span(result.target.address or "-", "dim"))
    cells += [
        Span(_label(kb, "probe_status_", status.value).upper(), STATUS_STYLE[status]),
        Span(f"{elapsed:.1f} ms" if elapsed is not None else "-"),
        _tls_cell(result),
        _verdict_cell(result, "vrfy", kb),
        _verdict_cell(result, "expn", kb),
    ]
    if rcpt:
        cells.append(_verdict_cell(result, "rcpt", kb))
    cells.append(Span(", ".join(failing) or "-", STATUS_STYLE[status] if failing else "dim"))
    return tuple(cells)


def _problem_lines(
    results: Sequence[TargetResult], kb: KnowledgeBase
) -> tuple[tuple[Span, ...], ...]:
    lines = []
    for result in results:
        for finding in _problems(result):
            status = _label(kb, "probe_status_", finding.status.value).upper()
            lines.append(
                line(
                    Span(f"{result.target} ", "bold"),
                    Span(f"{status} ", STATUS_STYLE[finding.status]),
                    Span(f"{_label(kb, 'probe_check_', finding.check)}: ", "dim"),
                    summary_text(finding, kb),
                )
            )
    return tuple(lines)


def summary_doc(fleet: Fleet, kb: KnowledgeBase) -> Doc:
    """The MX plans, a table across every target, their problems, and the overall status."""
    results = fleet.results
    doc = Doc().add(
        Heading(kb.ui_count("summary_heading", len(results)).format(count=len(results)))
    )
    doc.add(*mx_blocks(fleet.plans, kb))
    rcpt = any(
        f.check == "rcpt" and f.verdict not in (None, Verdict.NOT_TESTED)
        for r in results
        for f in r.findings
    )
    # The address column only when it says more than the target (names, not addresses).
    address = any(r.target.address not in (None, r.target.host) for r in results)
    names = [
        "target",
        *(["address"] if address else []),
        "status",
        "time",
        "tls",
        "vrfy",
        "expn",
        *(["rcpt"] if rcpt else []),
        "problems",
    ]
    columns = tuple(kb.ui(f"summary_column_{name}") for name in names)
    doc.add(Table(columns=columns, rows=tuple(_row(r, kb, rcpt, address) for r in results)))
    problems = _problem_lines(results, kb)
    doc.add(Blank(), Heading(kb.ui("summary_problems"), level=2))
    if problems:
        doc.add(Items(problems))
    else:
        doc.add(Paragraph(line(Span(kb.ui("summary_no_problems"), "ok"))))
    doc.add(Blank(), Paragraph(line(Span(kb.ui("summary_hint"), "dim"))))
    return doc.add(Blank(), status_line(fleet.status, kb))


def fleet_notices(fleet: Fleet, kb: KnowledgeBase, fd_limit: int) -> list[str]:
    """One line for each kind of local trouble the run met, however many targets it hit."""
    found = []
    if fleet.out_of_files:
        found.append(
            kb.ui_count("fleet_notice_out_of_files", fleet.out_of_files).format(
                count=fleet.out_of_files, limit=fd_limit
            )
        )
    if fleet.internal:
        found.append(
            kb.ui_count("fleet_notice_internal", fleet.internal).format(count=fleet.internal)
        )
    if fleet.timed_out:
        found.append(
            kb.ui_count("fleet_notice_total_timeout", fleet.timed_out).format(count=fleet.timed_out)
        )
    return found
