"""The one way a probe run reaches the screen: probe, judge, render, print, exit code.

`run_targets` is the runner of ``probe`` and ``demo`` (one target or many, MX, pools, JSON
Lines); `print_report` prints a report another command made (``send``). Both render
through the format registry (`smtpprobe.render.formats.render`) and tell errors with
`error_line`. What a run needs besides the probe's own options is a typed `RunOptions`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

import click

from smtpprobe.commands._common import emit_output, error_line, stdout_utf8
from smtpprobe.errors import SMTPProbeError, UsageError
from smtpprobe.i18n import current_lang
from smtpprobe.isolation import SAID_ONCE
from smtpprobe.kb import KnowledgeBase, load
from smtpprobe.lines import bounded_lines
from smtpprobe.policy import Policy
from smtpprobe.render.doc import visible
from smtpprobe.render.formats import OutputFormat, render, result_stream
from smtpprobe.report import Fleet, ProbeEvent, ProbeOptions, ProbeReport, TargetResult
from smtpprobe.validate import check_options, parse_host_port
from smtpprobe.views.errors import localized
from smtpprobe.views.probe_view import error_label

if TYPE_CHECKING:
    import dns.asyncresolver

    from smtpprobe.fleet import TargetSpec
    from smtpprobe.mail_policies import MailPolicyOptions

__all__ = ["RunOptions", "live", "print_report", "read_targets", "run_targets"]

# A host name is at most 253 characters (RFC 1035 §2.3.4); room for a port and a comment.
_TARGET_LINE_CHARS = 4096


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How a run is carried out and shown, beyond what one probe needs (`ProbeOptions`).

    ``targets_file`` is the open ``--targets`` stream (or None); ``dns_server`` the
    hidden ``IP[:PORT]`` that replaces the system resolver; ``mail_policies`` what
    MTA-STS, TLS-RPT and DANE checks were asked for (None: none).
    """

    output_format: OutputFormat = OutputFormat.TEXT
    lang: str = "en"
    verbose: bool = False
    policy: Policy = Policy()
    concurrency: int = 20
    mx: bool = False
    all_addresses: bool = False
    targets_file: IO[str] | None = None
    junit_file: str | None = None
    dns_server: str | None = None
    total_timeout: float | None = None
    mail_policies: MailPolicyOptions | None = None


def live(event: ProbeEvent) -> None:
    """``-v``: a command when it is sent, its reply when it is read; server text made safe."""
    exchange = event.exchange
    if exchange is None:
        if event.phase.isupper():  # a command verb: the command is on its way
            click.echo("C: " + visible(event.detail), err=True)
        elif event.phase != "banner":
            click.echo(visible(f"* {event.phase} {event.detail}".rstrip()), err=True)
        return
    if exchange.reply is not None:
        took = f"  ({exchange.elapsed * 1000:.1f} ms)"
        wire = exchange.reply.wire_lines()
        for n, wire_line in enumerate(wire):
            click.echo("S: " + visible(wire_line) + (took if n == len(wire) - 1 else ""), err=True)
    if exchange.error is not None:
        kb = load(current_lang())
        label = error_label(exchange.error, kb)
        click.echo(visible(f"!  {label}: {localized(exchange.error, kb)[0]}"), err=True)


def read_targets(lines: Iterable[str]) -> Iterator[tuple[str, int | None]]:
    """Targets from a ``--targets`` file, read as they are needed: one per line, blank
    lines and ``#`` comments skipped.

    :raises UsageError: (when reached) a line that is not ``host``, ``host:port`` or
        ``[v6addr]:port``.
    """
    for number, raw in enumerate(lines, 1):
        target = raw.split("#", 1)[0].strip()
        if not target:
            continue
        try:
            parsed = parse_host_port(target)
        except UsageError as exc:
            raise UsageError(
                key="error_targets_line", params={"number": number, "reason": exc}
            ) from None
        yield parsed


def _overlong_target(number: int) -> None:
    raise UsageError(
        key="error_targets_line_too_long", params={"number": number, "limit": _TARGET_LINE_CHARS}
    )


def _specs(
    targets: tuple[tuple[str, int | None], ...], handle: IO[str] | None, options: ProbeOptions
) -> Iterator[TargetSpec]:
    """Every target, CLI ones first, checked as it is taken (`run_fleet` pulls them one by
    one, so a long ``--targets`` stream is never held in memory)."""
    from smtpprobe.fleet import TargetSpec

    lines = (
        ()
        if handle is None
        else bounded_lines(handle, _TARGET_LINE_CHARS, on_overlong=_overlong_target)
    )
    for host, port in itertools.chain(targets, read_targets(lines)):
        if port is not None and options.port is not None and port != options.port:
            raise UsageError(
                key="error_port_conflict", params={"port": port, "option": options.port}
            )
        check_options(host, dataclasses.replace(options, port=port or options.port))
        yield TargetSpec(host, port)


def _checked_specs(
    targets: tuple[tuple[str, int | None], ...], handle: IO[str] | None, options: ProbeOptions
) -> Iterable[TargetSpec]:
    """`_specs`, with every line checked before the first probe when the targets can be
    read twice (a regular file: a bad line 90,000 is a usage error before anything is
    sent); a stream (stdin) is checked as it goes and stops at its first bad line.

    :raises UsageError: no target at all, or (for a file) its first bad line.
    """
    if handle is None or _seekable(handle):
        count = sum(1 for _spec in _specs(targets, handle, options))
        if handle is not None:
            handle.seek(0)
        if not count:
            raise UsageError(key="error_no_target")
    return _specs(targets, handle, options)


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
    import ipaddress

    import dns.asyncresolver
    import dns.nameserver

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
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total or None)


def _say_errors(results: Iterable[TargetResult], kb: KnowledgeBase, *, hints: bool) -> None:
    """The error that stopped each target, on stderr (local trouble was said once)."""
    for result in results:
        error = result.error
        if error is not None and error.kind not in SAID_ONCE:
            message, hint = localized(error, kb)
            error_line(message, hint if hints else "", kb)


def run_targets(
    targets: tuple[tuple[str, int | None], ...], options: ProbeOptions, run: RunOptions
) -> int:
    """Probe every target, print *run*'s format, write ``--junit``; the worst exit code.

    One target given on the command line (no ``--targets``, MX or pool) is a single run:
    its report in full, or one JSON document. Several are summed up, or JSON Lines.

    :raises UsageError: no target, a bad ``--targets`` line, contradicting options, a
        ``--junit`` file that cannot be written.
    """
    from smtpprobe.commands._mail_tls import with_mail_policies
    from smtpprobe.fleet import FleetInterrupted, FleetOptions, run_fleet
    from smtpprobe.isolation import fd_budget
    from smtpprobe.views.summary_view import fleet_notices

    specs = _checked_specs(targets, run.targets_file, options)
    if run.junit_file:
        _write_junit(run.junit_file, None)  # fail before probing, not after
    single = len(targets) == 1 and run.targets_file is None and not (run.mx or run.all_addresses)
    output_format = run.output_format
    kb = load(run.lang)
    on_event = live if run.verbose else None
    wanted = 1 if on_event is not None else run.concurrency
    concurrency, fd_limit = fd_budget(wanted, per_probe=2 if run.dns_server else 1)
    if concurrency < wanted:
        click.echo(
            "smtpprobe: "
            + kb.ui("fleet_notice_clamped").format(
                wanted=wanted, allowed=concurrency, limit=fd_limit
            ),
            err=True,
        )
    lines = output_format is OutputFormat.JSON and not single
    fleet_options = FleetOptions(
        concurrency=concurrency,
        mx=run.mx,
        all_addresses=run.all_addresses,
        resolver=_resolver(run.dns_server, min(options.deadline, 10.0)),
        dns_timeout=min(options.deadline, 10.0),
        total_timeout=run.total_timeout,
        # JSON Lines alone keep nothing: memory stays flat however many targets stream.
        keep_results=not (lines and not run.junit_file),
    )
    bar = (
        output_format is OutputFormat.TEXT
        and on_event is None
        and not single
        and sys.stderr.isatty()
    )
    stream = (
        result_stream(output_format, kb, click.echo, ascii_only=not stdout_utf8())
        if lines
        else None
    )
    done: list[Fleet] = []
    interrupted: list[bool] = []

    async def probe_all(on_done: Callable[[int, int], None] | None) -> None:
        # The result is kept out of the main task on purpose: when asyncio.run restores
        # the SIGINT handler, CPython builds the repr of the old one, and with it of the
        # task and its result: with a thousand reports, a good part of a second.
        try:
            done.append(
                await with_mail_policies(  # MTA-STS, TLS-RPT, DANE beside the probes
                    specs,
                    options,
                    run.mail_policies,
                    mx=run.mx,
                    concurrency=run.concurrency,
                    resolver=fleet_options.resolver,
                    stream=stream,
                    run=lambda watched, on_result: run_fleet(
                        watched,
                        options=options,
                        policy=run.policy,
                        fleet=fleet_options,
                        on_event=on_event,
                        on_done=on_done,
                        on_result=on_result,
                    ),
                )
            )
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
    if output_format is OutputFormat.TEXT or (output_format is OutputFormat.JSON and single):
        _say_errors(fleet.results, kb, hints=single)
    if run.junit_file:
        # Before anything is printed: a run whose report could not be written must not
        # first say "SMTP OK".
        _write_junit(run.junit_file, lambda: render(OutputFormat.JUNIT, fleet, kb))
    lone_error = (
        output_format is OutputFormat.TEXT
        and len(fleet.results) == 1
        and fleet.results[0].report is None
        and fleet.results[0].error is not None
    )
    if not lines and not lone_error:  # JSON Lines were streamed; a lone error was said
        emit_output(render(output_format, fleet, kb))
    if interrupted:
        error_line(kb.ui("error_interrupted"), "", kb)
        return 3  # UNKNOWN: the run did not finish, whatever it had found
    return fleet.status.exit_code


def print_report(report: ProbeReport, run: RunOptions) -> int:
    """Print one report another command made (``send``) exactly as a probe's; its exit
    code (3 when the session stopped on a usage error, such as SMTPUTF8 not offered)."""
    kb = load(run.lang)
    fleet = Fleet((TargetResult(report.target, report),))
    emit_output(render(run.output_format, fleet, kb))
    error = report.session.error
    if error is not None and run.output_format in (OutputFormat.TEXT, OutputFormat.JSON):
        message, hint = localized(error, kb)
        error_line(message, hint, kb)
    if error is not None and error.kind == "usage":
        return 3
    return report.status.exit_code


def print_unreachable(
    target: tuple[str, int | None], error: SMTPProbeError, options: ProbeOptions, run: RunOptions
) -> int:
    """A target that did not resolve, as the runner reports one: the JSON document (for
    ``--format json``) and the error line; UNKNOWN."""
    from smtpprobe.report import Target

    kb = load(run.lang)
    host, port = target
    if run.output_format is OutputFormat.JSON:
        result = TargetResult(
            Target(host, port or options.port or 25, None, options.tls), None, error
        )
        emit_output(render(OutputFormat.JSON, Fleet((result,)), kb))
    message, hint = localized(error, kb)
    error_line(message, hint, kb)
    return 3


def _write_junit(path: str, document: Callable[[], Any] | None) -> None:
    """Write the JUnit file (or, with no *document*, check that it can be written).

    :raises UsageError: it cannot: a missing or read-only directory, a full disk.
    """
    try:
        with open(path, "w" if document is not None else "a", encoding="utf-8") as handle:
            if document is not None:
                handle.write(document())
    except OSError as exc:
        raise UsageError(
            key="error_junit_unwritable", params={"path": path, "reason": exc}
        ) from None
