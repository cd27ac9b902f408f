"""Judge MTA-STS, TLS-RPT and DANE facts against one probed MX host (pure, no words).

Each check gives a `MailTlsResult`: its worst issue (a `TlsReason`) decides status and
reason, and every issue is kept, so that each defect is explained (words:
``findings/<check>.toml``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from smtpprobe.dane import DaneMatch, match_chain, usable
from smtpprobe.interpret.ehlo import parse_ehlo
from smtpprobe.interpret.tls_facts import TlsReason  # one defect: reason, status, params
from smtpprobe.mta_sts import (
    FATAL_PROBLEMS,
    MAX_AGE_LIMIT,
    DomainFacts,
    mx_pattern_for,
    parse_sts_record,
    parse_tlsrpt_record,
)
from smtpprobe.report import Session, Status, TlsMode, Verdict

if TYPE_CHECKING:
    from smtpprobe.dns_facts import TlsaLookup  # the facts' type only: no DNS here

__all__ = ["DANE_VERDICTS", "HostTls", "MailTlsResult", "dane", "host_tls", "mta_sts", "tls_rpt"]

# The verdicts of the ``dane`` finding; their labels live in ui_mail_tls.toml.
DANE_VERDICTS = frozenset(
    {Verdict.VALID, Verdict.MISMATCH, Verdict.NO_RECORDS, Verdict.NOT_VALIDATED}
)


@dataclass(frozen=True, slots=True)
class MailTlsResult:
    """A check's judgement: ``issues`` worst first (never empty), facts in ``data``."""

    check: str
    issues: tuple[TlsReason, ...]
    verdict: Verdict | None = None
    data: Mapping[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> Status:
        return self.issues[0].status


def _result(
    check: str, issues: Sequence[TlsReason], data: Mapping[str, Any], verdict: Verdict | None = None
) -> MailTlsResult:
    ordered = sorted(issues, key=lambda i: -i.status.rank)  # stable: first said, first shown
    return MailTlsResult(check, tuple(ordered), verdict, data)


@dataclass(frozen=True, slots=True)
class HostTls:
    """How the probe's TLS went, as MTA-STS and DANE need it: ``state`` is ``verified``,
    ``unverified`` (PKIX failed, ``detail`` says why), ``failed`` (the handshake),
    ``no-starttls`` or ``not-tested``; ``chain`` the DER certificates presented."""

    state: str
    detail: str = ""
    chain: tuple[bytes, ...] = ()


def host_tls(session: Session, chain: tuple[bytes, ...]) -> HostTls:
    tls = session.tls
    if tls is not None:
        if tls.verified and not tls.verify_error:
            return HostTls("verified", "", chain)
        return HostTls("unverified", tls.verify_error or "not verified", chain)
    error = session.error
    if error is not None and error.kind == "tls":
        return HostTls("failed", error.message)
    ehlo = [e.reply for e in session.exchanges if e.phase == "EHLO" and e.reply is not None]
    if (
        session.options.tls is not TlsMode.NONE
        and ehlo
        and ehlo[-1].code == 250
        and not parse_ehlo(ehlo[-1]).has("STARTTLS")
    ):
        return HostTls("no-starttls")
    return HostTls("not-tested")


# -- MTA-STS (RFC 8461) -----------------------------------------------------------------------


def mta_sts(facts: DomainFacts, host: str, tls: HostTls) -> MailTlsResult:
    """The domain's MTA-STS as it applies to *host*: record, policy, MX match, TLS."""
    domain = facts.domain
    base: dict[str, Any] = {"domain": domain, "host": host}
    issues: list[TlsReason] = []
    record_id, record_problem = parse_sts_record(facts.sts_txt.texts)
    policy, fetched = facts.policy, facts.fetch
    data: dict[str, Any] = {
        "domain": domain,
        "host": host,
        "record": list(facts.sts_txt.texts),
        "id": record_id,
        "url": fetched.url if fetched else None,
        "mode": None,
        "mx": [],
        "max_age": None,
        "mx_match": None,
        "host_tls": tls.state,
    }
    if facts.sts_txt.failed:
        issues.append(
            TlsReason(
                "record-lookup-failed", Status.UNKNOWN, {**base, "detail": facts.sts_txt.failed}
            )
        )
    elif record_problem is not None and record_problem.key == "no-record":
        if policy is None or not policy.usable:
            return _result("mta_sts", [TlsReason("none", Status.OK, base)], data)
        issues.append(TlsReason("policy-without-record", Status.WARNING, base))
    elif record_problem is not None:
        issues.append(
            TlsReason(
                f"record-{record_problem.key}".replace("record-record-", "record-"),
                Status.WARNING,
                {**base, "detail": record_problem.detail},
            )
        )
    if fetched is None:
        issues.append(TlsReason("policy-host-missing", Status.WARNING, base))
        return _result("mta_sts", issues, data)
    base["url"] = fetched.url
    response = fetched.response
    if response is None:
        # unreachable, tls, timeout, too-large, malformed (https_fetch.FetchError.reason)
        issues.append(
            TlsReason(
                f"policy-{fetched.failed}", Status.WARNING, {**base, "detail": fetched.detail}
            )
        )
        return _result("mta_sts", issues, data)
    data["http_status"], data["media_type"] = response.status, response.media_type
    if 300 <= response.status < 400:
        issues.append(
            TlsReason(
                "policy-redirect",
                Status.WARNING,
                {**base, "code": response.status, "location": response.location},
            )
        )
    elif response.status != 200:
        issues.append(
            TlsReason("policy-http-status", Status.WARNING, {**base, "code": response.status})
        )
    if policy is None:
        return _result("mta_sts", issues, data)
    if response.media_type != "text/plain":
        issues.append(
            TlsReason(
                "policy-content-type",
                Status.WARNING,
                {**base, "media_type": response.media_type or "-"},
            )
        )
    data.update(mode=policy.mode, mx=list(policy.mx), max_age=policy.max_age)
    for problem in policy.problems:
        status = Status.WARNING if problem.key in FATAL_PROBLEMS else Status.OK
        issues.append(
            TlsReason(
                f"policy-{problem.key}".replace("policy-policy-", "policy-"),
                status,
                {**base, "detail": problem.detail, "limit": MAX_AGE_LIMIT},
            )
        )
    if not policy.usable or policy.mode is None:
        return _result("mta_sts", issues, data)
    issues += _host_issues(policy.mode, policy.mx, host, tls, base, data)
    return _result("mta_sts", issues, data)


def _host_issues(
    mode: str,
    patterns: Sequence[str],
    host: str,
    tls: HostTls,
    base: dict[str, Any],
    data: dict[str, Any],
) -> list[TlsReason]:
    """RFC 8461 §4.1: in ``enforce`` a sender delivers only to an MX that matches an ``mx``
    pattern and shows a certificate valid for its name; ``testing`` only reports."""
    if mode == "none":
        return [TlsReason("mode-none", Status.OK, base)]
    enforcing = mode == "enforce"
    failing = Status.CRITICAL if enforcing else Status.WARNING
    values = {**base, "mode": mode, "patterns": " ".join(patterns)}
    pattern = mx_pattern_for(host, patterns)
    data["mx_match"] = pattern
    issues: list[TlsReason] = []
    if pattern is None:
        issues.append(TlsReason("mx-not-in-policy", failing, values))
    if tls.state in ("unverified", "failed", "no-starttls"):
        reason = "mx-no-starttls" if tls.state == "no-starttls" else "mx-tls-invalid"
        issues.append(TlsReason(reason, failing, {**values, "detail": tls.detail}))
    elif tls.state == "not-tested":
        issues.append(TlsReason("mx-tls-not-tested", Status.UNKNOWN, values))
    if not issues:
        issues.append(
            TlsReason(
                "enforced" if enforcing else "testing", Status.OK, {**values, "pattern": pattern}
            )
        )
    elif not enforcing:
        issues.append(TlsReason("testing", Status.OK, {**values, "pattern": pattern or "-"}))
    return issues


# -- TLS-RPT (RFC 8460) -----------------------------------------------------------------------


def tls_rpt(facts: DomainFacts) -> MailTlsResult:
    """``_smtp._tls.DOMAIN``: where senders report TLS failures, if anywhere."""
    base = {"domain": facts.domain}
    lookup = facts.tlsrpt_txt
    rua, problem = parse_tlsrpt_record(lookup.texts)
    data = {"domain": facts.domain, "record": list(lookup.texts), "rua": list(rua)}
    if lookup.failed:
        return _result(
            "tls_rpt",
            [TlsReason("lookup-failed", Status.UNKNOWN, {**base, "detail": lookup.failed})],
            data,
        )
    if problem is None:
        return _result(
            "tls_rpt", [TlsReason("published", Status.OK, {**base, "rua": ", ".join(rua)})], data
        )
    if problem.key == "no-record":
        testing = facts.policy is not None and facts.policy.mode == "testing"
        reason, status = ("none-while-testing", Status.WARNING) if testing else ("none", Status.OK)
        return _result("tls_rpt", [TlsReason(reason, status, base)], data)
    return _result(
        "tls_rpt",
        [TlsReason(problem.key, Status.WARNING, {**base, "detail": problem.detail})],
        data,
    )


# -- DANE (RFC 7672) --------------------------------------------------------------------------


def dane(lookup: TlsaLookup, host: str, tls: HostTls, domain: str | None = None) -> MailTlsResult:
    """Do the TLSA records at ``_25._tcp.HOST`` authenticate the chain the host showed?

    The AD bit is the configured resolver's word: smtpprobe trusts it, it does not
    validate DNSSEC itself. *domain* is the mail domain (the next hop) when known.
    """
    base = {"host": host, "name": lookup.name, "count": len(lookup.records)}
    data: dict[str, Any] = {
        "host": host,
        "name": lookup.name,
        "authenticated": lookup.authenticated,
        "records": [str(r) for r in lookup.records],
        "matched": None,
        "depth": None,
        "chain_length": len(tls.chain),
    }

    def done(reason: str, status: Status, verdict: Verdict | None, **params: Any) -> MailTlsResult:
        return _result("dane", [TlsReason(reason, status, {**base, **params})], data, verdict)

    if lookup.failed:
        return done("lookup-failed", Status.UNKNOWN, None, detail=lookup.failed)
    if not lookup.records:
        return done("no-records", Status.OK, Verdict.NO_RECORDS)
    if not lookup.authenticated:
        return done("not-validated", Status.WARNING, Verdict.NOT_VALIDATED)
    if not any(usable(r) for r in lookup.records):
        return done("no-usable-records", Status.WARNING, None)
    if tls.state == "no-starttls":
        return done("no-starttls", Status.CRITICAL, Verdict.MISMATCH)
    if not tls.chain:
        reason = "chain-not-seen" if tls.state in ("failed", "unverified") else "not-tested"
        return done(reason, Status.UNKNOWN, None, detail=tls.detail)
    found: DaneMatch = match_chain(lookup.records, tls.chain, host, domain)
    data["depth"] = found.depth
    if found.matched is not None:
        data["matched"] = str(found.matched)
        return done("valid", Status.OK, Verdict.VALID, record=str(found.matched), depth=found.depth)
    return done(
        found.problem or "mismatch",
        Status.CRITICAL,
        Verdict.MISMATCH,
        depth=found.depth if found.depth is not None else "-",
    )
