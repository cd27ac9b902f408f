"""``--mta-sts DOMAIN``, ``--no-mta-sts``, ``--dane/--no-dane`` for ``smtpprobe probe``.

MTA-STS and TLS-RPT are checked for each ``--mx`` domain (or the one ``--mta-sts``
names), DANE for each host probed as a mail server. `with_mail_policies` reads them
(`smtpprobe.mail_policies.PolicyReader`) while the probes run and judges each result.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from smtpprobe.commands._common import WholeNumber
from smtpprobe.errors import UsageError
from smtpprobe.i18n import N_, option
from smtpprobe.report import ProbeOptions, Status, TlsMode

if TYPE_CHECKING:
    import dns.asyncresolver

    from smtpprobe.fleet import Fleet, TargetSpec
    from smtpprobe.mail_policies import MailPolicyOptions
    from smtpprobe.report import TargetResult

__all__ = ["mail_policy_options", "mail_targets", "mail_tls_options", "with_mail_policies"]

OnResult = Callable[[int, "TargetResult"], None]

F = TypeVar("F", bound=Callable[..., Any])
_DOMAIN = re.compile(
    r"(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?"
)


def _domain(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not _DOMAIN.fullmatch(value):
        raise UsageError(key="error_mta_sts_not_a_domain", params={"domain": value})
    return value.rstrip(".").lower() if value is not None else None


def mail_tls_options(function: F) -> F:
    """The mail TLS policy options, and the hidden ones the loopback tests need."""
    for decorate in reversed(
        (
            option(
                "--mta-sts",
                "mta_sts",
                metavar="DOMAIN",
                callback=_domain,
                help=N_(
                    "Check DOMAIN's MTA-STS policy and TLS-RPT record against the hosts "
                    "probed (no TARGET: DOMAIN's MX hosts). On by default with --mx."
                ),
            ),
            option(
                "--no-mta-sts",
                is_flag=True,
                help=N_(
                    "With --mx: do not check MTA-STS and TLS-RPT (--mta-sts DOMAIN still does)."
                ),
            ),
            option(
                "--dane/--no-dane",
                "dane",
                default=None,
                help=N_(
                    "Match the hosts' "
                    "DNSSEC-validated TLSA records against their certificates (RFC 7672; "
                    "on by default with --mx or --mta-sts)."
                ),
            ),
            option(
                "--policy-port",
                type=WholeNumber(1, 65535),
                default=443,
                hidden=True,
                help=N_("HTTPS port of the MTA-STS policy host: for tests."),
            ),
            option(
                "--policy-cafile",
                type=click.Path(exists=True, dir_okay=False),
                hidden=True,
                help=N_("CA file for the MTA-STS policy host: for tests."),
            ),
        )
    ):
        function = decorate(function)
    return function


def mail_targets(
    targets: tuple[tuple[str, int | None], ...], params: dict[str, Any]
) -> tuple[tuple[str, int | None], ...]:
    """``--mta-sts DOMAIN`` without any target probes DOMAIN's MX hosts (sets ``mx``)."""
    if params["mta_sts"] and not targets and params["targets_file"] is None:
        params["mx"] = True
        return ((params["mta_sts"], None),)
    return targets


def mail_policy_options(params: dict[str, Any]) -> MailPolicyOptions | None:
    """The MTA-STS, TLS-RPT and DANE checks the options ask for (``--mx`` turns both on),
    or None for none."""
    mx = bool(params["mx"])
    mta_sts = params["mta_sts"] is not None or (mx and not params["no_mta_sts"])
    dane = params["dane"] if params["dane"] is not None else (mx or mta_sts)
    if not (mta_sts or dane):
        return None
    from smtpprobe.mail_policies import MailPolicyOptions  # only when asked for

    return MailPolicyOptions(
        mta_sts=mta_sts,
        dane=dane,
        domain=params["mta_sts"],
        https_port=params["policy_port"],
        https_cafile=params["policy_cafile"],
    )


async def with_mail_policies(
    specs: Iterable[TargetSpec],
    options: ProbeOptions,
    chosen: MailPolicyOptions | None,
    *,
    mx: bool,
    concurrency: int,
    resolver: dns.asyncresolver.Resolver | None,
    stream: OnResult | None,
    run: Callable[[Iterable[TargetSpec], OnResult | None], Awaitable[Fleet]],
) -> Fleet:
    """``run(specs, on_result)`` (the fleet) while the policies are read, judging each result.

    The look-ups start as each target is taken; a result whose look-ups are still under
    way waits, and those after it too, so that a JSON Lines *stream* gets every object
    complete and in the order the fleet gave them.
    """
    if chosen is None:
        return await run(specs, stream)
    from smtpprobe.mail_policies import PolicyReader  # only when asked for

    # The port each probe uses (fleet's rule), so each TLSA name is _PORT._tcp.HOST.
    port = options.port or (465 if options.tls is TlsMode.IMPLICIT else 25)
    reader = PolicyReader(
        chosen,
        mx=mx,
        resolver=resolver,
        timeout=min(options.deadline, 10.0),
        port=port,
        family=options.family,
        concurrency=concurrency,
    )
    waiting: deque[tuple[int, TargetResult]] = deque()
    # The fleet counted each status before the policies were judged (its exit code).
    shift: Counter[Status] = Counter()

    def judge(result: TargetResult) -> TargetResult:
        judged = reader.policies.add(result)
        shift[result.status] -= 1
        shift[judged.status] += 1
        return judged

    def drain(_: object = None) -> None:
        while stream is not None and waiting and not reader.pending(waiting[0][1]):
            index, result = waiting.popleft()
            stream(index, judge(result))

    def on_result(index: int, result: TargetResult) -> None:
        waiting.append((index, result))
        for task in reader.pending(result):
            task.add_done_callback(drain)
        drain()

    try:
        fleet = await run(reader.watch(specs), on_result if stream is not None else None)
    except BaseException:  # Ctrl-C (FleetInterrupted) or a failure: stop reading too
        reader.cancel()
        raise
    await reader.finish()
    drain()
    # With a stream every kept result went through it (and was counted) already.
    results = tuple(map(judge if stream is None else reader.policies.add, fleet.results))
    counts = Counter(fleet.counts)
    counts.update(shift)
    return dataclasses.replace(
        fleet, results=results, counts={status: n for status, n in counts.items() if n > 0}
    )
