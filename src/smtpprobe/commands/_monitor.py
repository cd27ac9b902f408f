"""The monitoring side of ``smtpprobe probe``: many targets, MX, policies, CI formats.

`target_options` and `policy_options` are the option bundles; `run_targets` probes every
target in one event loop, prints the chosen format and returns the worst exit code.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import itertools
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import click

from smtpprobe.commands._common import Seconds, WholeNumber, emit_doc, emit_json, stdout_utf8
from smtpprobe.errors import UsageError
from smtpprobe.views.errors import localized
from smtpprobe.i18n import current_lang, text
from smtpprobe.isolation import SAID_ONCE
from smtpprobe.kb import KnowledgeBase, load
from smtpprobe.lines import bounded_lines
from smtpprobe.policy import Expectation, Policy
from smtpprobe.render.formats import OutputFormat
from smtpprobe.report import ProbeEvent, ProbeOptions, TlsMode
from smtpprobe.validate import ascii_number, check_options

if TYPE_CHECKING:
    import dns.asyncresolver

    from smtpprobe.fleet import Fleet, TargetSpec

__all__ = ["CertDays", "policy_options", "read_targets", "run_targets", "target_options"]

F = TypeVar("F", bound=Callable[..., Any])
# RFC 5321 §4.1.1.1: ehlo-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
_KEYWORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")
_EXPECT = [e.value for e in Expectation]


class CertDays(click.ParamType):  # type: ignore[type-arg]
    """``WARN,CRIT``: days left on the certificate, WARN >= CRIT >= 0."""

    name = "WARN,CRIT"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> tuple[int, int]:
        if isinstance(value, tuple):
            return value
        warn, comma, crit = str(value).partition(",")
        warn_days = ascii_number(warn.strip(), max_digits=6)
        crit_days = ascii_number(crit.strip(), max_digits=6)
        if not comma or warn_days is None or crit_days is None:
            self.fail(text("error_cert_days_format", value=value), param, ctx)
        days = warn_days, crit_days
        if days[0] < days[1]:
            self.fail(text("error_cert_days_order", value=value), param, ctx)
        return days


class _TextFile(click.File):
    """click's ``File``, with the system's reason for a file it cannot open in the run's
    language (click words it in English itself)."""

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter as exc:
            if not isinstance(exc.__context__, OSError):
                raise
            error = UsageError(key="error_file_unreadable",
                               params={"path": value, "reason": exc.__context__})
            self.fail(localized(error, load(current_lang()))[0], param, ctx)


def _regex(ctx: click.Context, param: click.Parameter, value: str | None) -> re.Pattern[str] | None:
    if value is None:
        return None
    try:
        return re.compile(value)
    except re.error as exc:
        raise click.BadParameter(text("error_not_a_regex", value=value, reason=exc)) from None


def _keywords(ctx: click.Context, param: click.Parameter,
              values: tuple[str, ...]) -> tuple[str, ...]:
    for value in values:
        if not _KEYWORD.fullmatch(value):
            raise click.BadParameter(text("error_not_a_keyword", value=value))
    return tuple(value.upper() for value in values)


def _options(function: F, options: tuple[Callable[[F], F], ...]) -> F:
    for option in reversed(options):
        function = option(function)
    return function


def target_options(function: F) -> F:
    """``--targets``, ``--concurrency``, ``--mx``, ``--all-addresses``, ``--junit`` and the
    hidden ``--dns-server``."""
    return _options(function, (
        click.option("--targets", "targets_file", type=_TextFile("r", encoding="utf-8"),
                     metavar="FILE",
                     help="Read more targets from FILE, one per line (- for stdin; # starts "
                     "a comment)."),
        click.option("--concurrency", type=WholeNumber(1, 1000), default=20,
                     show_default=True, help="Probe at most N targets at once (lowered, "
                     "with a note, when the open-file limit is smaller)."),
        click.option("--total-timeout", type=Seconds(),
                     metavar="SECONDS", help="Deadline for the whole run: targets not "
                     "finished by then are UNKNOWN."),
        click.option("--mx", is_flag=True, help="Targets are domains: probe each MX host, in "
                     "preference order (RFC 5321 §5.1 fallback and RFC 7505 null MX explained)."),
        click.option("--all-addresses", is_flag=True, help="Probe every A/AAAA address of each "
                     "host and compare them."),
        click.option("--junit", "junit_file", type=click.Path(dir_okay=False, writable=True),
                     help="Also write a JUnit XML report to FILE (for CI test reports)."),
        click.option("--dns-server", metavar="IP[:PORT]", hidden=True, help="Ask only this name "
                     "server (IP[:PORT]) for every lookup: for tests and split-horizon DNS."),
    ))


def policy_options(function: F) -> F:
    """The thresholds and expectations that set the exit code (`smtpprobe.policy.Policy`)."""
    seconds = Seconds()
    return _options(function, (
        click.option("--expect-vrfy", type=click.Choice(_EXPECT), help="CRITICAL unless the "
                     "VRFY verdict is this."),
        click.option("--expect-expn", type=click.Choice(_EXPECT), help="CRITICAL unless the "
                     "EXPN verdict is this."),
        click.option("--expect-rcpt", type=click.Choice(_EXPECT), help="CRITICAL unless the "
                     "RCPT verdict is this (turns on --rcpt-check)."),
        click.option("--require-starttls", is_flag=True, help="CRITICAL unless the session is "
                     "encrypted (STARTTLS or implicit TLS)."),
        click.option("--require-valid-cert", is_flag=True, help="CRITICAL unless the "
                     "certificate verifies."),
        click.option("--cert-days", type=CertDays(), default="21,7", show_default=True,
                     help="WARNING/CRITICAL when fewer days are left on the certificate."),
        click.option("--warning", "time_warning", type=seconds, metavar="SECONDS",
                     help="WARNING when the whole session takes longer."),
        click.option("--critical", "time_critical", type=seconds, metavar="SECONDS",
                     help="CRITICAL when the whole session takes longer."),
        click.option("--max-banner-delay", type=seconds, metavar="SECONDS",
                     help="CRITICAL when the greeting comes later."),
        click.option("--expect-banner", metavar="REGEX", callback=_regex,
                     help="CRITICAL unless the greeting matches REGEX (searched)."),
        click.option("--expect-extension", multiple=True, metavar="NAME", callback=_keywords,
                     help="CRITICAL unless EHLO lists NAME (repeatable)."),
    ))


def _policy(params: dict[str, Any]) -> Policy:
    warning, critical = params["time_warning"], params["time_critical"]
    if warning is not None and critical is not None and warning > critical:
        raise UsageError(key="error_warning_above_critical",
                         params={"warning": warning, "critical": critical})
    expect = {name: Expectation(params[f"expect_{name}"]) if params[f"expect_{name}"] else None
              for name in ("vrfy", "expn", "rcpt")}
    return Policy(expect_vrfy=expect["vrfy"], expect_expn=expect["expn"],
                  expect_rcpt=expect["rcpt"], require_starttls=params["require_starttls"],
                  require_valid_cert=params["require_valid_cert"], cert_days=params["cert_days"],
                  time_warning=warning, time_critical=critical,
                  max_banner_delay=params["max_banner_delay"],
                  expect_banner=params["expect_banner"],
                  expect_extensions=params["expect_extension"],
                  expect_relay=params.get("expect_relay"))


def _steps_for(policy: Policy, options: ProbeOptions, params: dict[str, Any]) -> ProbeOptions:
    """Make sure the steps a policy judges run: ``--expect-rcpt`` adds RCPT.

    :raises UsageError: a policy on a step that ``--skip``/``--only`` leave out.
    """
    steps = set(options.steps)
    if policy.expect_rcpt is not None and not params["only"] and "rcpt" not in params["skip"]:
        steps.add("rcpt")
    needs = {"vrfy": policy.expect_vrfy, "expn": policy.expect_expn, "rcpt": policy.expect_rcpt,
             "starttls": policy.require_starttls}
    for step, wanted in needs.items():
        if wanted and step not in steps:
            raise UsageError(key="error_policy_needs_step", params={"step": step})
    if policy.require_starttls and options.tls is TlsMode.NONE:
        raise UsageError(key="error_starttls_with_tls_none")
    return dataclasses.replace(options, steps=frozenset(steps))


def read_targets(lines: Iterable[str]) -> Iterator[tuple[str, int | None]]:
    """Targets from a ``--targets`` file, read as they are needed: one per line, blank
    lines and ``#`` comments skipped.

    :raises UsageError: (when reached) a line that is not ``host``, ``host:port`` or
        ``[v6addr]:port``.
    """
    from smtpprobe.validate import parse_host_port

    for number, raw in enumerate(lines, 1):
        target = raw.split("#", 1)[0].strip()
        if not target:
            continue
        try:
            parsed = parse_host_port(target)
        except UsageError as exc:
            raise UsageError(key="error_targets_line",
                             params={"number": number, "reason": exc}) from None
        yield parsed


# A host name is at most 253 characters (RFC 1035 §2.3.4); room for a port and a comment.
_TARGET_LINE_CHARS = 4096


def _overlong_target(number: int) -> None:
    raise UsageError(key="error_targets_line_too_long",
                     params={"number": number, "limit": _TARGET_LINE_CHARS})


def _specs(targets: tuple[tuple[str, int | None], ...], params: dict[str, Any],
           options: ProbeOptions) -> Iterator[TargetSpec]:
    """Every target, CLI ones first, checked as it is taken (`run_fleet` pulls them one by
    one, so a long ``--targets`` stream is never held in memory)."""
    from smtpprobe.fleet import TargetSpec

    handle = params["targets_file"]
    lines = () if handle is None else bounded_lines(handle, _TARGET_LINE_CHARS,
                                                     on_overlong=_overlong_target)
    given = itertools.chain(targets, read_targets(lines))
    for host, port in given:
        if port is not None and options.port is not None and port != options.port:
            raise UsageError(key="error_port_conflict",
                             params={"port": port, "option": options.port})
        check_options(host, dataclasses.replace(options, port=port or options.port))
        yield TargetSpec(host, port)


def _checked_specs(targets: tuple[tuple[str, int | None], ...], params: dict[str, Any],
                   options: ProbeOptions) -> Iterable[TargetSpec]:
    """`_specs`, with every line checked before the first probe when the targets can be
    read twice (a regular file: a bad line 90,000 is a usage error before anything is
    sent); a stream (stdin) is checked as it goes and stops at its first bad line.

    :raises UsageError: no target at all, or (for a file) its first bad line.
    """
    handle = params["targets_file"]
    seekable = handle is None or _seekable(handle)
    if seekable:
        count = sum(1 for _spec in _specs(targets, params, options))
        if handle is not None:
            handle.seek(0)
        if not count:
            raise UsageError(key="error_no_target")
    elif not targets and handle is None:
        raise UsageError(key="error_no_target")
    return _specs(targets, params, options)


def _seekable(handle: Any) -> bool:
    try:
        return bool(handle.seekable()) and handle.tell() == 0
    except (OSError, ValueError):
        return False


def _resolver(server: str | None, lifetime: float) -> dns.asyncresolver.Resolver | None:
    """A resolver asking only *server* (``IP``, ``IP:PORT``, ``[v6]:PORT``), or None.

    :raises UsageError: *server* is not an IP address with an optional port.
    """
    if server is None:
        return None
    import dns.asyncresolver
    import dns.nameserver

    from smtpprobe.validate import parse_host_port

    try:
        host, port = parse_host_port(server)
    except UsageError as exc:
        raise UsageError(key="error_dns_server", params={"reason": exc}) from None
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise UsageError(key="error_dns_server_not_ip", params={"host": host}) from None
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = [dns.nameserver.Do53Nameserver(host, port or 53)]
    resolver.lifetime = resolver.timeout = lifetime
    return resolver


@contextlib.contextmanager
def _progress(enabled: bool, label: str) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar on stderr, gone when done; None when not *enabled*."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
    from rich.progress import TimeElapsedColumn

    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total or None)


def _emit(fleet: Fleet, output_format: OutputFormat, kb: KnowledgeBase, lines: bool) -> None:
    """Print everything but JSON Lines, which `JsonLines` streamed during the run."""
    results = fleet.results
    if output_format is OutputFormat.JSON:
        from smtpprobe.render.json_lines import result_document

        if not lines:
            emit_json(result_document(results[0], kb))
    elif output_format is OutputFormat.NAGIOS:
        from smtpprobe.render.nagios import nagios_output

        sys.stdout.write(nagios_output(results, kb))
    elif output_format is OutputFormat.JUNIT:
        from smtpprobe.render.junit import junit_xml

        sys.stdout.write(junit_xml(results, kb))
    elif output_format is OutputFormat.PROMETHEUS:
        from smtpprobe.render.prometheus import prometheus_text

        sys.stdout.write(prometheus_text(results))
    elif len(results) == 1 and results[0].report is not None:
        from smtpprobe.render.doc import Doc
        from smtpprobe.views.probe_view import probe_doc
        from smtpprobe.views.summary_view import mx_blocks

        report = results[0].report
        emit_doc(Doc().add(*mx_blocks(fleet.plans, kb), *probe_doc(report, kb).blocks))
    elif len(results) > 1 or results[0].error is None:  # a lone error went to stderr
        from smtpprobe.views.summary_view import summary_doc

        emit_doc(summary_doc(fleet, kb))


def run_targets(targets: tuple[tuple[str, int | None], ...], options: ProbeOptions,
                params: dict[str, Any], *,
                on_event: Callable[[ProbeEvent], None] | None = None) -> int:
    """Probe every target, print *params*' format, write ``--junit``; the worst exit code.

    :raises UsageError: no target, a bad ``--targets`` line, contradicting options, a
        ``--junit`` file that cannot be written.
    """
    from smtpprobe.fleet import FleetInterrupted, FleetOptions, run_fleet
    from smtpprobe.views.summary_view import fleet_notices
    from smtpprobe.isolation import fd_budget
    from smtpprobe.render.json_lines import JsonLines

    policy = _policy(params)
    options = _steps_for(policy, options, params)
    specs = _checked_specs(targets, params, options)
    if params["junit_file"]:
        _write_junit(params["junit_file"], None)  # fail before probing, not after
    single = len(targets) == 1 and params["targets_file"] is None and not (
        params["mx"] or params["all_addresses"])
    output_format = OutputFormat(params["output_format"])
    kb = load(params["lang"])
    wanted = 1 if on_event is not None else params["concurrency"]
    concurrency, fd_limit = fd_budget(wanted, per_probe=2 if params["dns_server"] else 1)
    if concurrency < wanted:
        click.echo("smtpprobe: " + kb.ui("fleet_notice_clamped").format(
            wanted=wanted, allowed=concurrency, limit=fd_limit), err=True)
    fleet_options = FleetOptions(
        concurrency=concurrency, mx=params["mx"], all_addresses=params["all_addresses"],
        resolver=_resolver(params["dns_server"], min(options.deadline, 10.0)),
        dns_timeout=min(options.deadline, 10.0), total_timeout=params["total_timeout"],
        # JSON Lines alone keep nothing: memory stays flat however many targets stream.
        keep_results=not (output_format is OutputFormat.JSON and not single
                          and not params["junit_file"]))
    bar = (output_format is OutputFormat.TEXT and on_event is None and not single
           and sys.stderr.isatty())
    lines = output_format is OutputFormat.JSON and not single
    stream = JsonLines(kb, click.echo, ascii_only=not stdout_utf8()) if lines else None
    done: list[Fleet] = []
    interrupted: list[bool] = []

    async def probe_all(on_done: Callable[[int, int], None] | None) -> None:
        # The result is kept out of the main task on purpose: when asyncio.run restores
        # the SIGINT handler, CPython builds the repr of the old one, and with it of the
        # task and its result: with a thousand reports, a good part of a second.
        from smtpprobe.commands._mail_tls import with_mail_policies

        try:
            done.append(await with_mail_policies(  # MTA-STS, TLS-RPT, DANE beside the probes
                specs, options, params, fleet_options.resolver, stream,
                lambda watched, on_result: run_fleet(
                    watched, options=options, policy=policy, fleet=fleet_options,
                    on_event=on_event, on_done=on_done, on_result=on_result)))
        except FleetInterrupted as stop:  # Ctrl-C: report what was learned, exit 3
            done.append(stop.fleet)
            interrupted.append(True)

    with _progress(bar, kb.ui("monitor_progress")) as on_done:
        asyncio.run(probe_all(on_done))
    fleet = done[0]
    if not fleet.total and not interrupted:
        raise UsageError(key="error_no_target")
    for notice in fleet_notices(fleet, kb, fd_limit):  # each local trouble said once
        click.echo(f"smtpprobe: {notice}", err=True)
    if output_format in (OutputFormat.TEXT, OutputFormat.JSON):
        for result in fleet.results:
            if result.error is not None and (single or output_format is OutputFormat.TEXT) \
                    and result.error.kind not in SAID_ONCE:
                message, hint = localized(result.error, kb)
                click.secho(f"smtpprobe: {kb.ui('error_label')}: {message}", fg="red", err=True)
                if hint and single:
                    click.echo(f"  {kb.ui('error_hint_label')}: {hint}", err=True)
    if params["junit_file"]:
        # Before anything is printed: a run whose report could not be written must not
        # first say "SMTP OK".
        from smtpprobe.render.junit import junit_xml

        _write_junit(params["junit_file"], lambda: junit_xml(fleet.results, kb))
    _emit(fleet, output_format, kb, lines=not single)
    if interrupted:
        click.secho(f"smtpprobe: {kb.ui('error_label')}: {kb.ui('error_interrupted')}",
                    fg="red", err=True)
        return 3  # UNKNOWN: the run did not finish, whatever it had found
    return fleet.status.exit_code


def _write_junit(path: str, document: Callable[[], str] | None) -> None:
    """Write the JUnit file (or, with no *document*, check that it can be written).

    :raises UsageError: it cannot: a missing or read-only directory, a full disk.
    """
    try:
        with open(path, "w" if document is not None else "a", encoding="utf-8") as handle:
            if document is not None:
                handle.write(document())
    except OSError as exc:
        raise UsageError(key="error_junit_unwritable",
                         params={"path": path, "reason": exc}) from None
