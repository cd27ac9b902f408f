"""The human view of a probe: the annotated transcript, the findings, the overall status.

Pure: a `ProbeReport` in, a `Doc` out. Server text goes into spans unchanged; the emitters
make it visible-safe (`smtpprobe.render.doc.visible`), so nothing here escapes by hand.
"""

from __future__ import annotations

from smtpprobe.errors import SMTPProbeError
from smtpprobe.kb import KnowledgeBase
from smtpprobe.meaning import Annotation, Tone, annotate_reply
from smtpprobe.render.doc import (
    Blank,
    Block,
    Doc,
    Fields,
    Heading,
    Items,
    Paragraph,
    Span,
    Table,
    line,
)
from smtpprobe.reply import Reply
from smtpprobe.report import Exchange, ProbeReport, Status
from smtpprobe.transcript import command_text, milliseconds, verb
from smtpprobe.views.errors import localized
from smtpprobe.views.findings import Worded, word
from smtpprobe.views.transcript_words import deviation_detail

__all__ = ["STATUS_STYLE", "error_label", "probe_doc", "server_lines", "status_line"]

STATUS_STYLE = {
    Status.OK: "ok",
    Status.WARNING: "warn",
    Status.CRITICAL: "bad",
    Status.UNKNOWN: "note",
}
_TONE_STYLE = {Tone.OK: "ok", Tone.NOTE: "note", Tone.WARN: "warn", Tone.BAD: "bad"}


def _duration(seconds: float) -> str:
    ms = milliseconds(seconds) or 0.0
    return f"{ms:.1f} ms" if ms < 1000 else f"{seconds:.2f} s"


def server_lines(reply: Reply) -> list[str]:
    """The reply's lines as received (raw bytes, line endings removed), else canonical."""
    if not reply.raw:
        return list(reply.wire_lines())
    text = reply.raw.decode("utf-8", errors="backslashreplace")
    return [part.removesuffix("\r") for part in text.removesuffix("\n").split("\n")]


def _meaning_blocks(annotation: Annotation, kb: KnowledgeBase, repeated: bool) -> list[Block]:
    """Title and reading of a reply; only the title when the same reading came before."""
    reply, style = annotation.reply, _TONE_STYLE[annotation.tone]
    title = f"{reply.code} {annotation.basic.title}"
    if reply.enhanced is not None and annotation.enhanced is not None:
        title += f" · {reply.enhanced} {annotation.enhanced.title}"
    if repeated:
        return [
            Paragraph(
                line(
                    Span("= ", "dim"),
                    Span(title, style),
                    Span(f" ({kb.ui('probe_as_above')})", "dim"),
                ),
                indent=4,
            )
        ]
    context = annotation.context.meaning if annotation.context else ""
    blocks: list[Block] = [
        Paragraph(
            line(Span("= ", "dim"), Span(title, style), Span(f": {context}" if context else "")),
            indent=4,
        )
    ]
    for pattern in annotation.patterns[:1]:
        reading = kb.ui("vendor_reading").format(vendor=pattern.vendor or "-")
        blocks.append(Paragraph(line(Span(f"{reading}: ", "dim"), pattern.meaning), indent=4))
    if annotation.deviates:
        text = kb.ui("deviation").format(code=reply.code, command=annotation.command or "-")
        blocks.append(Paragraph(line(Span(text, "warn")), indent=4))
    if reply.defects:
        names = "; ".join(kb.ui(f"probe_defect_{d.value}") for d in reply.defects)
        blocks.append(Paragraph(line(Span(f"{kb.ui('defects')}: ", "warn"), names), indent=4))
    if annotation.tone in (Tone.WARN, Tone.BAD) or annotation.deviates or reply.defects:
        fix = _fix(annotation)
        if fix:
            blocks.append(Paragraph(line(Span(f"{kb.ui('fix')}: ", "bold"), fix), indent=4))
    return blocks


def _fix(annotation: Annotation) -> str:
    for text in (
        annotation.patterns[0].fix if annotation.patterns else "",
        annotation.context.fix if annotation.context else "",
        annotation.basic.fix,
    ):
        if text:
            return text
    return ""


def _exchange_blocks(exchange: Exchange, kb: KnowledgeBase, seen: set[str]) -> list[Block]:
    at = Span(f"  +{_duration(exchange.started)}", "dim")
    command = command_text(exchange.command)
    # Fields give "C:"/"S:" a hanging indent, so a long server line wraps under its text.
    if command:
        blocks: list[Block] = [Fields((("C:", line(Span(command, "client"), at)),))]
    else:
        blocks = [Paragraph(line(Span(kb.ui("probe_connected_line"), "dim"), at))]
    reply = exchange.reply
    if reply is not None:
        style = f"c{reply.klass}" if 2 <= reply.klass <= 5 else "bad"
        texts = server_lines(reply)
        took = Span(f"  ({_duration(exchange.elapsed)})", "dim")
        blocks.append(
            Fields(
                tuple(
                    ("S:", line(Span(text, style), *((took,) if n == len(texts) - 1 else ())))
                    for n, text in enumerate(texts)
                )
            )
        )
        annotation = annotate_reply(reply, kb, verb(exchange))
        key = "|".join(
            (
                verb(exchange),
                str(reply.code),
                str(reply.enhanced),
                ",".join(p.id for p in annotation.patterns),
                str(reply.defects),
            )
        )
        blocks.extend(_meaning_blocks(annotation, kb, repeated=key in seen))
        seen.add(key)
    error = exchange.error
    if error is not None:
        message, hint = localized(error, kb)
        blocks.append(
            Paragraph(line(Span(f"!  {error_label(error, kb)}: ", "bad"), message), indent=0)
        )
        if hint:
            blocks.append(Paragraph(line(Span(f"{kb.ui('probe_hint')}: ", "bold"), hint), indent=4))
        if exchange.partial:
            blocks.append(
                Paragraph(
                    line(
                        Span(f"{kb.ui('probe_partial')}: ", "dim"),
                        exchange.partial.decode("latin-1"),
                    ),
                    indent=4,
                )
            )
    return blocks


_USER_CHECKS = ("vrfy", "expn", "rcpt")


def _user_cell(user: dict[str, object] | None, kb: KnowledgeBase) -> Span:
    if user is None:
        return Span("")
    code = f" ({user['code']})" if user.get("code") is not None else ""
    exists = user.get("exists")
    if exists is True:
        return Span(kb.ui("probe_user_exists") + code, "warn")
    if exists is False:
        return Span(kb.ui("probe_user_unknown") + code, "dim")
    return Span(kb.ui("probe_user_unsure") + code, "dim")


def _users_blocks(report: ProbeReport, kb: KnowledgeBase) -> list[Block]:
    """A table of the names checked (``--users-file``): which exist, by command. Only a
    command whose verdict is disclosing can say; the others show ``-`` and say why."""
    found = [f for f in report.findings if f.check in _USER_CHECKS and f.data.get("users")]
    names: dict[str, dict[str, dict[str, object]]] = {}
    for finding in found:
        for user in finding.data["users"]:
            names.setdefault(str(user["name"]), {})[finding.check] = user
    if len(names) < 2:
        return []
    checks = [f.check for f in found]
    rows = tuple(
        (Span(name, "bold"), *(_user_cell(by_check.get(check), kb) for check in checks))
        for name, by_check in names.items()
    )
    columns = (kb.ui("probe_users_column_name"), *(check.upper() for check in checks))
    blocks: list[Block] = [
        Blank(),
        Heading(kb.ui("probe_users_heading"), level=3),
        Table(columns=columns, rows=rows),
    ]
    silent = [f.check.upper() for f in found if not f.data.get("users_known")]
    if silent:
        blocks.append(
            Paragraph(
                line(Span(kb.ui("probe_users_unknowable").format(commands=" ".join(silent)), "dim"))
            )
        )
    return blocks


def error_label(error: SMTPProbeError, kb: KnowledgeBase) -> str:
    """``timeout``, or ``timeout in the greeting``: the kind, then where, in words."""
    kind = _label(kb, "error_kind_", error.kind)
    phase = error.phase
    if not phase or phase.lower() == error.kind:
        return kind
    where = _label(kb, "probe_phase_", phase.lower())
    return kb.ui("probe_error_where").format(kind=kind, phase=where)


def _label(kb: KnowledgeBase, prefix: str, value: str) -> str:
    key = f"{prefix}{value}"
    text = kb.ui(key)
    return value if text == key else text


def _findings_blocks(report: ProbeReport, kb: KnowledgeBase) -> list[Block]:
    worded: list[tuple[str, Worded]] = [(f.check, word(f, kb)) for f in report.findings]
    rows = tuple(
        (
            Span(_label(kb, "probe_check_", f.check), "bold"),
            Span(_label(kb, "probe_status_", f.status.value), STATUS_STYLE[f.status]),
            Span(_label(kb, "probe_verdict_", f.verdict.value) if f.verdict else ""),
            Span(words.summary),
        )
        for f, (_, words) in zip(report.findings, worded, strict=True)
    )
    columns = tuple(
        kb.ui(f"probe_column_{name}") for name in ("check", "status", "verdict", "summary")
    )
    blocks: list[Block] = [Table(columns=columns, rows=rows)]
    advice = tuple(
        line(Span(f"{_label(kb, 'probe_check_', check)}: ", "bold"), words.advice)
        for check, words in worded
        if words.advice
    )
    if advice:
        blocks += [Blank(), Heading(kb.ui("probe_advice_heading"), level=3), Items(advice)]
    blocks += _users_blocks(report, kb)
    deviations = report.finding("deviations")
    items = deviations.data.get("items", []) if deviations is not None else []
    if items:
        exchanges = report.session.exchanges
        listed = tuple(
            line(Span(f"{i['command'] or i['phase']}: ", "dim"), deviation_detail(i, exchanges, kb))
            for i in items
        )
        blocks += [Blank(), Heading(kb.ui("probe_deviations_heading"), level=3), Items(listed)]
    return blocks


def status_line(status: Status, kb: KnowledgeBase) -> Paragraph:
    """``Status: WARNING (exit code 1)``, styled by severity."""
    return Paragraph(
        line(
            Span(f"{kb.ui('probe_status')}: ", "bold"),
            Span(_label(kb, "probe_status_", status.value).upper(), STATUS_STYLE[status]),
            Span(" (" + kb.ui("probe_exit_code").format(code=status.exit_code) + ")", "dim"),
        )
    )


def probe_doc(report: ProbeReport, kb: KnowledgeBase) -> Doc:
    """The whole human report: heading, facts, annotated transcript, findings, status."""
    session, target = report.session, report.target
    doc = Doc().add(Heading(kb.ui("probe_heading").format(target=str(target))))
    facts = [
        (kb.ui("probe_field_address"), line(target.address or "-")),
        (kb.ui("probe_field_tls"), line(target.tls.value)),
        (kb.ui("probe_field_started"), line(session.started_at.isoformat(timespec="seconds"))),
        (kb.ui("probe_field_elapsed"), line(_duration(session.elapsed))),
    ]
    if not session.complete:
        facts.append((kb.ui("probe_field_complete"), line(Span(kb.ui("probe_incomplete"), "warn"))))
    doc.add(Fields(tuple(facts)), Blank(), Heading(kb.ui("probe_transcript"), level=2))
    seen: set[str] = set()
    for exchange in session.exchanges:
        doc.add(*_exchange_blocks(exchange, kb, seen))
    if not session.exchanges:
        doc.add(Paragraph(line(Span(kb.ui("probe_no_exchanges"), "dim"))))
    error = session.error
    # Said once: under the exchange it ended, when there is one.
    if error is not None and not any(ex.error is error for ex in session.exchanges):
        message, hint = localized(error, kb)
        doc.add(Paragraph(line(Span(f"!  {error_label(error, kb)}: ", "bad"), message)))
        if hint:
            doc.add(Paragraph(line(Span(f"{kb.ui('probe_hint')}: ", "bold"), hint), indent=4))
    if session.stray:
        doc.add(
            Paragraph(
                line(
                    Span(f"{kb.ui('probe_stray')}: ", "warn"), session.stray[:200].decode("latin-1")
                )
            )
        )
    doc.add(Blank(), Heading(kb.ui("probe_findings"), level=2), *_findings_blocks(report, kb))
    return doc.add(Blank(), status_line(report.status, kb))
