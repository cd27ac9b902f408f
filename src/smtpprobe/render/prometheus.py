"""Probe results as Prometheus metrics: a pure function of each result, written in the
text exposition format by prometheus-client (``--format prometheus``, the exporter).

Names follow blackbox_exporter where it has one (``probe_success``,
``probe_duration_seconds``), so its dashboards and alerts work. Server text never becomes
a label value: labels come from closed sets (verdicts, phases, TLS versions, check names)
and anything outside them is ``other``; prometheus-client escapes what is written.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from smtpprobe.kb import KnowledgeBase
from smtpprobe.report import Finding, Fleet, ProbeReport, Status, TargetResult, Verdict

__all__ = [
    "METRICS",
    "VERDICT_CHECKS",
    "collect",
    "prometheus_run",
    "prometheus_text",
    "registry_for",
]

# The checks whose verdict is an enum metric; "relay" once a relay check exists.
VERDICT_CHECKS = ("vrfy", "expn", "rcpt", "relay")
# Phases a session can have (report.STEPS plus what the probe records around them).
_PHASES = frozenset(
    {
        "connect",
        "tls",
        "banner",
        "ehlo",
        "helo",
        "starttls",
        "auth",
        "help",
        "vrfy",
        "expn",
        "noop",
        "rset",
        "mail",
        "rcpt",
        "quit",
    }
)
_TLS_VERSIONS = frozenset({"SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"})
_CHECK_NAME = re.compile(r"[a-z][a-z0-9-]{0,31}")

# name -> help; every metric is a gauge (a probe's value now, not a running count).
METRICS: Mapping[str, str] = {
    "probe_success": "1 when the server was reached and judged OK or WARNING, as "
    "blackbox_exporter's probe_success; 0 for CRITICAL or UNKNOWN.",
    "probe_duration_seconds": "How long the probe took, in seconds.",
    "smtpprobe_status": "The monitoring status: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.",
    "smtpprobe_phase_duration_seconds": "Seconds spent in each phase of the session "
    "(connect, tls, banner, then each command).",
    "smtpprobe_banner_code": "The greeting's reply code (220 when the server is ready).",
    **{
        f"smtpprobe_{check}_verdict": f"The {check.upper()} verdict: 1 for the current one, "
        "0 for the others (disclosing means outsiders can enumerate users)."
        for check in VERDICT_CHECKS
    },
    "smtpprobe_starttls_offered": "1 when EHLO advertised STARTTLS.",
    "smtpprobe_starttls_used": "1 when the session was upgraded with STARTTLS.",
    "smtpprobe_tls_version_info": "The TLS version the session used (value always 1).",
    "smtpprobe_cert_verified": "1 when the server certificate verified.",
    "smtpprobe_cert_expiry_timestamp_seconds": "When the server certificate expires (Unix time).",
    "smtpprobe_cert_days_left": "Days until the server certificate expires (negative: expired).",
    "smtpprobe_finding_status": "Each check's status: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.",
    "smtpprobe_deviations": "Replies or bytes that break the SMTP RFCs.",
}


@dataclass(frozen=True, slots=True)
class _Sample:
    name: str
    value: float
    labels: Mapping[str, str]


def _phases(report: ProbeReport) -> dict[str, float]:
    session = report.session
    spent: dict[str, float] = {}
    if session.connect_elapsed is not None:
        spent["connect"] = session.connect_elapsed
    if session.tls is not None and session.tls.handshake_elapsed is not None:
        spent["tls"] = session.tls.handshake_elapsed
    for exchange in session.exchanges:
        phase = exchange.phase.lower()
        if phase in _PHASES:
            spent[phase] = spent.get(phase, 0.0) + exchange.elapsed
    return spent


def _verdict_samples(finding: Finding) -> Iterator[_Sample]:
    if finding.verdict is None or finding.check not in VERDICT_CHECKS:
        return
    states = (
        [v.value for v in type(finding.verdict)]
        if isinstance(finding.verdict, Verdict)
        else [finding.verdict.value]
    )
    for state in states:
        yield _Sample(
            f"smtpprobe_{finding.check}_verdict",
            1.0 if state == finding.verdict.value else 0.0,
            {"verdict": state},
        )


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _report_samples(report: ProbeReport) -> Iterator[_Sample]:
    for phase, seconds in sorted(_phases(report).items()):
        yield _Sample("smtpprobe_phase_duration_seconds", seconds, {"phase": phase})
    banner = report.finding("banner")
    if banner is not None and (code := _number(banner.data.get("code"))) is not None:
        yield _Sample("smtpprobe_banner_code", code, {})
    starttls = report.finding("starttls")
    if starttls is not None and "advertised" in starttls.data:
        yield _Sample("smtpprobe_starttls_offered", float(bool(starttls.data["advertised"])), {})
        yield _Sample("smtpprobe_starttls_used", float(bool(starttls.data.get("used"))), {})
    tls = report.session.tls
    if tls is not None:
        version = tls.version if tls.version in _TLS_VERSIONS else "other"
        yield _Sample("smtpprobe_tls_version_info", 1.0, {"version": version})
        yield _Sample("smtpprobe_cert_verified", float(tls.verified), {})
        cert = tls.certificate
        if cert is not None and isinstance(cert.not_after, datetime):
            yield _Sample("smtpprobe_cert_expiry_timestamp_seconds", cert.not_after.timestamp(), {})
        if cert is not None and cert.days_left is not None:
            yield _Sample("smtpprobe_cert_days_left", float(cert.days_left), {})
    deviations = report.finding("deviations")
    if deviations is not None and (count := _number(deviations.data.get("count"))) is not None:
        yield _Sample("smtpprobe_deviations", count, {})


def _samples(result: TargetResult, duration: float | None) -> Iterator[_Sample]:
    """Every sample of one result; only facts the probe established are present."""
    status = result.status
    report = result.report
    yield _Sample("probe_success", float(status in (Status.OK, Status.WARNING)), {})
    if duration is None:
        duration = report.session.elapsed if report is not None else 0.0
    yield _Sample("probe_duration_seconds", duration, {})
    yield _Sample("smtpprobe_status", float(status.exit_code), {})
    if report is not None:
        yield from _report_samples(report)
    for finding in result.findings:
        check = finding.check if _CHECK_NAME.fullmatch(finding.check) else "other"
        yield _Sample("smtpprobe_finding_status", float(finding.status.exit_code), {"check": check})
        yield from _verdict_samples(finding)


def collect(
    results: Sequence[tuple[Mapping[str, str], TargetResult]], duration: float | None = None
) -> list[Metric]:
    """The metric families of *results*, each result's samples carrying its own labels
    (``{}`` for the exporter, ``{"target": …}`` for several targets in one file)."""
    families: dict[str, list[_Sample]] = {name: [] for name in METRICS}
    for labels, result in results:
        for sample in _samples(result, duration):
            families[sample.name].append(
                _Sample(sample.name, sample.value, {**labels, **sample.labels})
            )
    found: list[Metric] = []
    for name, samples in families.items():
        if not samples:
            continue
        label_names = sorted({key for sample in samples for key in sample.labels})
        family = GaugeMetricFamily(name, METRICS[name], labels=label_names)
        seen: set[tuple[str, ...]] = set()
        for sample in samples:
            values = tuple(sample.labels.get(key, "") for key in label_names)
            if values not in seen:  # "other" twice must not be a duplicate series
                seen.add(values)
                family.add_metric(list(values), sample.value)
        found.append(family)
    return found


class _Fixed(Collector):
    def __init__(self, metrics: list[Metric]) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        return iter(self.metrics)


def registry_for(
    results: Sequence[tuple[Mapping[str, str], TargetResult]], duration: float | None = None
) -> CollectorRegistry:
    """A registry of its own holding *results*' metrics (one per probe in the exporter)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed(collect(results, duration)))
    return registry


def prometheus_text(results: Sequence[TargetResult]) -> str:
    """``--format prometheus``: the text format for node_exporter's textfile collector.

    One target gives bare metrics; several get a ``target`` label (``host:port`` as
    given, the user's own text) so that their series stay apart.
    """
    labelled = [({"target": str(r.target)} if len(results) > 1 else {}, r) for r in results]
    return generate_latest(registry_for(labelled)).decode("utf-8")


def prometheus_run(fleet: Fleet, kb: KnowledgeBase) -> str:
    """``--format prometheus`` (`smtpprobe.render.formats`): a run's metrics (they have
    no language)."""
    return prometheus_text(fleet.results)
