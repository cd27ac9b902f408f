"""``smtpprobe probe TARGET``: probe one live server, show what every reply means, exit by status.

The command and its connection and question options; the run itself (one target or
many, every format) is `smtpprobe.commands.run.run_targets`, which ``demo`` uses too.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import socket
from collections.abc import Callable
from typing import Any, TypeVar

import click

from smtpprobe.commands._auth import auth_options, with_auth
from smtpprobe.commands._common import Seconds, WholeNumber, lang_from_env, lang_option
from smtpprobe.commands._lists import list_options, with_expected_replies, with_lists
from smtpprobe.commands._mail_tls import mail_policy_options, mail_targets, mail_tls_options
from smtpprobe.commands._relay import relay_options, with_relay
from smtpprobe.commands._tls import tls_options, with_tls
from smtpprobe.commands.probe_options import (
    policy_from_params,
    policy_options,
    steps_for,
    target_options,
)
from smtpprobe.commands.run import RunOptions, run_targets
from smtpprobe.errors import UsageError
from smtpprobe.i18n import N_, LocalizedCommand, current_lang, option
from smtpprobe.kb import load
from smtpprobe.render.formats import OutputFormat
from smtpprobe.report import DEFAULT_HELO, STEPS, ProbeOptions, TlsMode
from smtpprobe.validate import check_token, parse_host_port
from smtpprobe.views.errors import localized

__all__ = [
    "HostPort",
    "output_options",
    "parse_host_port",
    "probe_command",
    "probe_options_from",
    "run_options_from",
]

F = TypeVar("F", bound=Callable[..., Any])
# RFC 5321 §4.1.2: Domain = sub-domain *("." sub-domain), or an address literal in [].
_DOMAIN = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?)+|\[[0-9A-Fa-f:.]+\]")


class HostPort(click.ParamType):  # type: ignore[type-arg]
    """A TARGET argument, read by `parse_host_port`.

    Bad input fails through ``self.fail`` (a click usage error: exit 3 at `cli.main`), in
    the run's language.
    """

    name = "host[:port]"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[str, int | None]:
        if isinstance(value, tuple):
            return value
        try:
            return parse_host_port(str(value))
        except UsageError as exc:
            self.fail(localized(exc, load(current_lang()))[0], param, ctx)


def _check_addresses(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> tuple[str, ...]:
    """A local part or local@domain, one token (no space, control character, CR/LF, <>).

    :raises UsageError: the first value that is not such an address, with a hint.
    """
    flag = param.opts[0]  # "--user", not the parameter's plural name
    for value in values:
        check_token(flag, value)
        local, at, domain = value.partition("@")
        if not local or (at and not _DOMAIN.fullmatch(domain)) or "@" in domain:
            raise UsageError(
                key="error_not_an_address", params={"option": flag.lstrip("-"), "value": value}
            )
    return values


def _check_control(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--control``: one address, checked like ``--user``."""
    return None if value is None else _check_addresses(ctx, param, (value,))[0]


def _check_source(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """An IP address of this machine to bind, or None.

    :raises UsageError: not an IP address.
    """
    if value is None:
        return None
    try:
        return str(ipaddress.ip_address(value.strip("[]")))
    except ValueError:
        raise UsageError(key="error_source_not_ip", params={"value": value}) from None


def _connection_options(function: F) -> F:
    for decorate in reversed(
        (
            option(
                "--port",
                type=WholeNumber(1, 65535),
                help=N_("Port (default 25; 465 with --tls implicit). Or give TARGET as host:port."),
            ),
            option(
                "--tls",
                "tls",
                type=click.Choice([m.value for m in TlsMode]),
                default="auto",
                show_default=True,
                help=N_(
                    "none, STARTTLS (required), "
                    "implicit TLS (port 465), or auto: STARTTLS when offered."
                ),
            ),
            option(
                "--helo",
                default=DEFAULT_HELO,
                show_default=True,
                help=N_("Name sent in EHLO/HELO."),
            ),
            option("-4", "ipv4", is_flag=True, help=N_("IPv4 only.")),
            option("-6", "ipv6", is_flag=True, help=N_("IPv6 only.")),
            option(
                "--timeout",
                type=Seconds(),
                default=30.0,
                show_default=True,
                help=N_("One deadline in seconds for the whole session."),
            ),
            option(
                "--command-timeout",
                type=Seconds(),
                default=10.0,
                show_default=True,
                help=N_("Seconds to wait for one reply."),
            ),
            option(
                "--cafile",
                type=click.Path(exists=True, dir_okay=False),
                help=N_("PEM file of CA certificates to trust (a private CA)."),
            ),
            option(
                "--insecure",
                is_flag=True,
                help=N_(
                    "Go on when the certificate does not "
                    "verify, and allow AUTH over such a connection (the TLS finding still "
                    "says why). Without it, --tls auto goes on too (opportunistic TLS) but "
                    "sends no password."
                ),
            ),
            option(
                "--source",
                metavar="ADDRESS",
                callback=_check_source,
                help=N_(
                    "Connect from this local IPv4/IPv6 address (like swaks -li), to "
                    "see what an outside client sees."
                ),
            ),
        )
    ):
        function = decorate(function)
    return function


def _question_options(function: F) -> F:
    for decorate in reversed(
        (
            option(
                "--user",
                "users",
                multiple=True,
                default=("postmaster",),
                show_default=True,
                callback=_check_addresses,
                help=N_("Real address to test with VRFY and RCPT (repeatable)."),
            ),
            option(
                "--list",
                "lists",
                multiple=True,
                default=("postmaster",),
                show_default=True,
                callback=_check_addresses,
                help=N_("Mailing list to test with EXPN (repeatable)."),
            ),
            option(
                "--domain",
                help=N_("Domain to qualify bare names with (default: the server's own name)."),
            ),
            option(
                "--control",
                metavar="NAME",
                callback=_check_control,
                help=N_(
                    "The address that must not exist, compared with the real ones "
                    "(default: a new random name like a person's)."
                ),
            ),
            option(
                "--skip",
                multiple=True,
                type=click.Choice(STEPS),
                help=N_("Leave out a step (repeatable)."),
            ),
            option(
                "--only",
                multiple=True,
                type=click.Choice(STEPS),
                help=N_("Run only these steps (repeatable)."),
            ),
            option(
                "--rcpt-check",
                is_flag=True,
                help=N_("Also compare RCPT TO replies (MAIL FROM:<> then RCPT, never DATA)."),
            ),
        )
    ):
        function = decorate(function)
    return function


def output_options(function: F) -> F:
    """``-v``, ``--format`` and ``--lang``, shared by ``probe``, ``demo`` and ``send``."""
    function = lang_option(function)
    function = option(
        "--format",
        "output_format",
        default="text",
        show_default=True,
        type=click.Choice([f.value for f in OutputFormat]),
        help=N_(
            "text for people, json for programs, nagios for monitoring, "
            "junit for CI test reports, prometheus for node_exporter's "
            "textfile collector."
        ),
    )(function)
    return option("-v", "--verbose", is_flag=True, help=N_("Show each exchange live on stderr."))(
        function
    )


def _steps(skip: tuple[str, ...], only: tuple[str, ...], rcpt_check: bool) -> frozenset[str]:
    if skip and only:
        raise UsageError(key="error_skip_and_only")
    if rcpt_check and "rcpt" in skip:
        raise UsageError(key="error_rcpt_check_skipped")
    steps = frozenset(only) if only else frozenset(STEPS) - {"rcpt"} - set(skip)
    return steps | {"rcpt"} if rcpt_check else steps


def connection_options_from(params: dict[str, Any], port: int | None) -> ProbeOptions:
    """The connection part of a `ProbeOptions` (port, TLS, HELO name, family, timeouts,
    trust, source), shared by ``probe`` and ``send``.

    :raises UsageError: both ``-4`` and ``-6``.
    """
    if params["ipv4"] and params["ipv6"]:
        raise UsageError(key="error_ipv4_and_ipv6")
    family = socket.AF_INET if params["ipv4"] else socket.AF_INET6 if params["ipv6"] else 0
    return ProbeOptions(
        port=port,
        tls=TlsMode(params["tls"]),
        helo=params["helo"],
        family=family,
        deadline=params["timeout"],
        command_timeout=params["command_timeout"],
        cafile=params["cafile"],
        insecure=params["insecure"],
        source=params["source"],
    )


def _options(params: dict[str, Any], port: int | None) -> ProbeOptions:
    if params["domain"] is not None and not _DOMAIN.fullmatch(params["domain"]):
        raise UsageError(key="error_not_a_domain", params={"domain": params["domain"]})
    return dataclasses.replace(
        connection_options_from(params, port),
        users=params["users"],
        lists=params["lists"],
        domain=params["domain"],
        control_address=params.get("control"),  # the exporter has no --control
        steps=_steps(params["skip"], params["only"], params["rcpt_check"]),
    )


def probe_options_from(params: dict[str, Any], port: int | None) -> ProbeOptions:
    """The probe's options from the command line (connection, questions, AUTH, TLS,
    relay): the one place click's values become a `ProbeOptions`.

    :raises UsageError: contradicting or malformed options.
    """
    return with_lists(
        with_relay(with_tls(with_auth(_options(params, port), params), params), params), params
    )


def run_options_from(params: dict[str, Any]) -> RunOptions:
    """How the run is shown and paced, from the command line.

    :raises UsageError: contradicting policy options.
    """
    return RunOptions(
        output_format=OutputFormat(params["output_format"]),
        lang=params["lang"],
        verbose=params["verbose"],
        policy=with_expected_replies(policy_from_params(params), params),
        concurrency=params["concurrency"],
        mx=params["mx"],
        all_addresses=params["all_addresses"],
        targets_file=params["targets_file"],
        junit_file=params["junit_file"],
        dns_server=params["dns_server"],
        total_timeout=params["total_timeout"],
        mail_policies=mail_policy_options(params),
    )


@click.command(
    "probe",
    cls=LocalizedCommand,
    context_settings={"help_option_names": ["-h", "--help"]},
    help=N_(
        "Probe TARGET (host, host:port or [v6addr]:port): greet it, ask HELP, VRFY, "
        "EXPN (and RCPT with --rcpt-check), explain every reply and judge whether "
        "users leak. Several targets (or --targets FILE; with --mx each is a "
        "domain) are probed at once and summed up.\n\n"
        "Exit codes: 0 OK, 1 WARNING (users disclosed, STARTTLS failing), 2 "
        "CRITICAL (no connection, no usable greeting, TLS failure, a violated "
        "policy), 3 UNKNOWN (bad arguments, no such name). With several targets: "
        "the worst of them."
    ),
)
@click.argument("targets", nargs=-1, type=HostPort(), metavar="[TARGET]...")
@target_options
@mail_tls_options
@_connection_options
@tls_options
@_question_options
@list_options
@auth_options
@relay_options
@policy_options
@output_options
def probe_command(targets: tuple[tuple[str, int | None], ...], **params: Any) -> int:
    params["lang"] = params["lang"] or lang_from_env()
    targets = mail_targets(targets, params)
    run = run_options_from(params)
    options = steps_for(
        run.policy,
        probe_options_from(params, params["port"]),
        only=params["only"],
        skip=params["skip"],
    )
    return run_targets(targets, options, run)
