"""The option bundles of ``smtpprobe probe`` for many targets and monitoring: targets,
MX and address pools, ``--junit``, and the policies that set the exit code.

Each bundle is a decorator; `policy_from_params` turns the policy options into a typed
`smtpprobe.policy.Policy` once, at the CLI's edge.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any, TypeVar

import click

from smtpprobe.commands._common import Seconds, WholeNumber
from smtpprobe.errors import UsageError
from smtpprobe.i18n import N_, current_lang, option, text
from smtpprobe.kb import load
from smtpprobe.policy import Expectation, Policy
from smtpprobe.report import ProbeOptions, TlsMode
from smtpprobe.validate import ascii_number
from smtpprobe.views.errors import localized

__all__ = ["CertDays", "policy_from_params", "policy_options", "steps_for", "target_options"]

F = TypeVar("F", bound=Callable[..., Any])
# RFC 5321 §4.1.1.1: ehlo-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
_KEYWORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")
_EXPECT = [e.value for e in Expectation]


class CertDays(click.ParamType):  # type: ignore[type-arg]
    """``WARN,CRIT``: days left on the certificate, WARN >= CRIT >= 0."""

    name = "WARN,CRIT"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[int, int]:
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

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter as exc:
            if not isinstance(exc.__context__, OSError):
                raise
            error = UsageError(
                key="error_file_unreadable", params={"path": value, "reason": exc.__context__}
            )
            self.fail(localized(error, load(current_lang()))[0], param, ctx)


def _regex(ctx: click.Context, param: click.Parameter, value: str | None) -> re.Pattern[str] | None:
    if value is None:
        return None
    try:
        return re.compile(value)
    except re.error as exc:
        raise click.BadParameter(text("error_not_a_regex", value=value, reason=exc)) from None


def _keywords(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> tuple[str, ...]:
    for value in values:
        if not _KEYWORD.fullmatch(value):
            raise click.BadParameter(text("error_not_a_keyword", value=value))
    return tuple(value.upper() for value in values)


def _options(function: F, options: tuple[Callable[[F], F], ...]) -> F:
    for decorate in reversed(options):
        function = decorate(function)
    return function


def target_options(function: F) -> F:
    """``--targets``, ``--concurrency``, ``--mx``, ``--all-addresses``, ``--junit`` and the
    hidden ``--dns-server``."""
    return _options(
        function,
        (
            option(
                "--targets",
                "targets_file",
                type=_TextFile("r", encoding="utf-8"),
                metavar="FILE",
                help=N_(
                    "Read more targets from FILE, one per line (- for stdin; # starts a comment)."
                ),
            ),
            option(
                "--concurrency",
                type=WholeNumber(1, 1000),
                default=20,
                show_default=True,
                help=N_(
                    "Probe at most N targets at once (lowered, "
                    "with a note, when the open-file limit is smaller)."
                ),
            ),
            option(
                "--total-timeout",
                type=Seconds(),
                metavar="SECONDS",
                help=N_("Deadline for the whole run: targets not finished by then are UNKNOWN."),
            ),
            option(
                "--mx",
                is_flag=True,
                help=N_(
                    "Targets are domains: probe each MX host, in "
                    "preference order (RFC 5321 §5.1 fallback and RFC 7505 null MX explained)."
                ),
            ),
            option(
                "--all-addresses",
                is_flag=True,
                help=N_("Probe every A/AAAA address of each host and compare them."),
            ),
            option(
                "--junit",
                "junit_file",
                type=click.Path(dir_okay=False, writable=True),
                help=N_("Also write a JUnit XML report to FILE (for CI test reports)."),
            ),
            option(
                "--dns-server",
                metavar="IP[:PORT]",
                hidden=True,
                help=N_(
                    "Ask only this name "
                    "server (IP[:PORT]) for every lookup: for tests and split-horizon DNS."
                ),
            ),
        ),
    )


def policy_options(function: F) -> F:
    """The thresholds and expectations that set the exit code (`smtpprobe.policy.Policy`)."""
    seconds = Seconds()
    return _options(
        function,
        (
            option(
                "--expect-vrfy",
                type=click.Choice(_EXPECT),
                help=N_("CRITICAL unless the VRFY verdict is this."),
            ),
            option(
                "--expect-expn",
                type=click.Choice(_EXPECT),
                help=N_("CRITICAL unless the EXPN verdict is this."),
            ),
            option(
                "--expect-rcpt",
                type=click.Choice(_EXPECT),
                help=N_("CRITICAL unless the RCPT verdict is this (turns on --rcpt-check)."),
            ),
            option(
                "--require-starttls",
                is_flag=True,
                help=N_("CRITICAL unless the session is encrypted (STARTTLS or implicit TLS)."),
            ),
            option(
                "--require-valid-cert",
                is_flag=True,
                help=N_("CRITICAL unless the certificate verifies."),
            ),
            option(
                "--cert-days",
                type=CertDays(),
                default="21,7",
                show_default=True,
                help=N_("WARNING/CRITICAL when fewer days are left on the certificate."),
            ),
            option(
                "--warning",
                "time_warning",
                type=seconds,
                metavar="SECONDS",
                help=N_("WARNING when the whole session takes longer."),
            ),
            option(
                "--critical",
                "time_critical",
                type=seconds,
                metavar="SECONDS",
                help=N_("CRITICAL when the whole session takes longer."),
            ),
            option(
                "--max-banner-delay",
                type=seconds,
                metavar="SECONDS",
                help=N_("CRITICAL when the greeting comes later."),
            ),
            option(
                "--expect-banner",
                metavar="REGEX",
                callback=_regex,
                help=N_("CRITICAL unless the greeting matches REGEX (searched)."),
            ),
            option(
                "--expect-extension",
                multiple=True,
                metavar="NAME",
                callback=_keywords,
                help=N_("CRITICAL unless EHLO lists NAME (repeatable)."),
            ),
        ),
    )


def policy_from_params(params: dict[str, Any]) -> Policy:
    """The policy the options ask for.

    :raises UsageError: ``--warning`` above ``--critical``.
    """
    warning, critical = params["time_warning"], params["time_critical"]
    if warning is not None and critical is not None and warning > critical:
        raise UsageError(
            key="error_warning_above_critical", params={"warning": warning, "critical": critical}
        )
    expect = {
        name: Expectation(params[f"expect_{name}"]) if params[f"expect_{name}"] else None
        for name in ("vrfy", "expn", "rcpt")
    }
    return Policy(
        expect_vrfy=expect["vrfy"],
        expect_expn=expect["expn"],
        expect_rcpt=expect["rcpt"],
        require_starttls=params["require_starttls"],
        require_valid_cert=params["require_valid_cert"],
        cert_days=params["cert_days"],
        time_warning=warning,
        time_critical=critical,
        max_banner_delay=params["max_banner_delay"],
        expect_banner=params["expect_banner"],
        expect_extensions=params["expect_extension"],
        expect_relay=params.get("expect_relay"),
    )


def steps_for(
    policy: Policy, options: ProbeOptions, *, only: tuple[str, ...] = (), skip: tuple[str, ...] = ()
) -> ProbeOptions:
    """Make sure the steps a policy judges run: ``--expect-rcpt`` adds RCPT.

    :raises UsageError: a policy on a step that ``--skip``/``--only`` leave out.
    """
    steps = set(options.steps)
    if policy.expect_rcpt is not None and not only and "rcpt" not in skip:
        steps.add("rcpt")
    needs = {
        "vrfy": policy.expect_vrfy,
        "expn": policy.expect_expn,
        "rcpt": policy.expect_rcpt,
        "starttls": policy.require_starttls,
    }
    for step, wanted in needs.items():
        if wanted and step not in steps:
            raise UsageError(key="error_policy_needs_step", params={"step": step})
    if policy.require_starttls and options.tls is TlsMode.NONE:
        raise UsageError(key="error_starttls_with_tls_none")
    return dataclasses.replace(options, steps=frozenset(steps))
