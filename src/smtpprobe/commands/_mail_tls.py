"""``--mta-sts DOMAIN``, ``--no-mta-sts``, ``--dane/--no-dane`` for ``smtpprobe probe``.

MTA-STS and TLS-RPT are checked for each ``--mx`` domain (or the one ``--mta-sts``
names), DANE for each host probed as a mail server. `with_mail_policies` reads them
(`smtpprobe.mail_policies`) while the probes run and adds the findings to each result.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

from smtpprobe.errors import UsageError
from smtpprobe.report import ProbeOptions, TlsMode

if TYPE_CHECKING:
    import dns.asyncresolver

    from smtpprobe.fleet import Fleet, TargetSpec
    from smtpprobe.mail_policies import MailPolicies
    from smtpprobe.report import TargetResult

__all__ = ["mail_targets", "mail_tls_options", "policies_for", "with_mail_policies"]

OnResult = Callable[[int, "TargetResult"], None]

F = TypeVar("F", bound=Callable[..., Any])
_DOMAIN = re.compile(r"(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
                     r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?")


def _domain(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not _DOMAIN.fullmatch(value):
        raise UsageError(key="error_mta_sts_not_a_domain", params={"domain": value})
    return value.rstrip(".").lower() if value is not None else None


def mail_tls_options(function: F) -> F:
    """The mail TLS policy options, and the hidden ones the loopback tests need."""
    for option in reversed((
        click.option("--mta-sts", "mta_sts", metavar="DOMAIN", callback=_domain,
                     help="Check DOMAIN's MTA-STS policy and TLS-RPT record against the hosts "
                     "probed (no TARGET: DOMAIN's MX hosts). On by default with --mx."),
        click.option("--no-mta-sts", is_flag=True, help="With --mx: do not check MTA-STS "
                     "and TLS-RPT (--mta-sts DOMAIN still does)."),
        click.option("--dane/--no-dane", "dane", default=None, help="Match the hosts' "
                     "DNSSEC-validated TLSA records against their certificates (RFC 7672; "
                     "on by default with --mx or --mta-sts)."),
        click.option("--policy-port", type=click.IntRange(1, 65535), default=443,
                     hidden=True, help="HTTPS port of the MTA-STS policy host: for tests."),
        click.option("--policy-cafile", type=click.Path(exists=True, dir_okay=False),
                     hidden=True, help="CA file for the MTA-STS policy host: for tests."),
    )):
        function = option(function)
    return function


def mail_targets(targets: tuple[tuple[str, int | None], ...],
                 params: dict[str, Any]) -> tuple[tuple[str, int | None], ...]:
    """``--mta-sts DOMAIN`` without any target probes DOMAIN's MX hosts (sets ``mx``)."""
    if params["mta_sts"] and not targets and params["targets_file"] is None:
        params["mx"] = True
        return ((params["mta_sts"], None),)
    return targets


async def policies_for(specs: Sequence[TargetSpec], options: ProbeOptions,
                       params: dict[str, Any],
                       resolver: dns.asyncresolver.Resolver | None) -> MailPolicies | None:
    """Read what the options ask for; None when no mail policy is checked."""
    mta_sts, dane = _wanted(params)
    if not (mta_sts or dane):
        return None
    from smtpprobe.mail_policies import MailPolicyOptions, gather  # only when asked for

    mx = bool(params["mx"])
    mx_domains = [s.host for s in specs] if mx else []
    domains = [params["mta_sts"]] if params["mta_sts"] else mx_domains
    # The port each probe uses (fleet's rule), so each TLSA name is _PORT._tcp.HOST.
    port = options.port or (465 if options.tls is TlsMode.IMPLICIT else 25)
    hosts = [] if mx else [(s.host, s.port or port) for s in specs]
    chosen = MailPolicyOptions(mta_sts=mta_sts, dane=dane, domain=params["mta_sts"],
                               https_port=params["policy_port"],
                               https_cafile=params["policy_cafile"])
    return await gather(domains if mta_sts else [], hosts, mx_domains, options=chosen,
                        resolver=resolver,
                        timeout=min(options.deadline, 10.0), mx_port=port,
                        family=options.family, concurrency=params["concurrency"])


def _wanted(params: dict[str, Any]) -> tuple[bool, bool]:
    """(MTA-STS and TLS-RPT, DANE): what the options ask for, --mx turning both on."""
    mx = bool(params["mx"])
    mta_sts = params["mta_sts"] is not None or (mx and not params["no_mta_sts"])
    return mta_sts, params["dane"] if params["dane"] is not None else (mx or mta_sts)


async def with_mail_policies(specs: Sequence[TargetSpec], options: ProbeOptions,
                             params: dict[str, Any],
                             resolver: dns.asyncresolver.Resolver | None,
                             stream: OnResult | None,
                             run: Callable[[OnResult | None], Awaitable[Fleet]]) -> Fleet:
    """``run(on_result)`` (the fleet) while the policies are read, then judge each result.

    Results that finish before the policies are known wait, so that a JSON Lines
    *stream* still gets every object complete and in order.
    """
    if not any(_wanted(params)):
        return await run(stream)
    reading = asyncio.ensure_future(policies_for(specs, options, params, resolver))
    waiting: list[tuple[int, TargetResult]] = []

    def judged(result: TargetResult) -> TargetResult:
        mail = reading.result()
        return mail.add(result) if mail is not None else result

    def flush(_: object = None) -> None:
        if stream is not None and not reading.cancelled() and reading.exception() is None:
            while waiting:
                index, result = waiting.pop(0)
                stream(index, judged(result))

    def on_result(index: int, result: TargetResult) -> None:
        waiting.append((index, result))
        if reading.done():
            flush()

    reading.add_done_callback(flush)
    try:
        fleet = await run(on_result if stream is not None else None)
    except BaseException:  # Ctrl-C (FleetInterrupted) or a failure: stop reading too
        reading.cancel()
        raise
    mail = await reading  # each look-up has its own limit
    flush()
    if mail is None:
        return fleet
    return dataclasses.replace(fleet, results=tuple(map(mail.add, fleet.results)))
