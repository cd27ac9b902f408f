"""``smtpprobe send TARGET --smuggling-check --to ADDRESS``: the SMTP smuggling check.

`smuggling_options` adds the flags to ``send``; `run_smuggling` runs
`smtpprobe.smuggling_run.run_smuggling_check`, judges it (`smtpprobe.interpret.smuggling`),
keeps the session findings that still apply (connection, greeting, EHLO, TLS, AUTH) and
renders the report like ``probe``. Refuses to run without one ``--to``: every test
message, the smuggled one included, goes to that address only.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

import click

from smtpprobe.commands.run import RunOptions, live, print_report, print_unreachable
from smtpprobe.errors import ResolveError, UsageError
from smtpprobe.i18n import N_, option
from smtpprobe.policy import Policy, SmugglingExpectation, apply_policy
from smtpprobe.report import ProbeOptions, ProbeReport
from smtpprobe.validate import check_token

__all__ = ["SESSION_CHECKS", "run_smuggling", "smuggling_options", "smuggling_report"]

F = TypeVar("F", bound=Callable[..., Any])

# The probe's findings that a smuggling session still answers; the rest (VRFY, HELP …)
# were not asked and would only say "not tested".
SESSION_CHECKS = ("connection", "banner", "greeting", "ehlo", "starttls", "tls")
# Eight tests, each a transaction with a wait for a reply that should not come: the
# default --timeout (30 s, one probe) is raised to this unless given.
DEFAULT_DEADLINE = 120.0
# send's options that shape a message of their own: none of them fits the check.
_MESSAGE_OPTIONS = (
    "subject",
    "body",
    "body_file",
    "data_file",
    "attachments",
    "headers",
    "quit_after",
    "chunking",
)


def smuggling_options(function: F) -> F:
    """``--smuggling-check`` and ``--expect-smuggling``, for ``send``."""
    function = option(
        "--expect-smuggling",
        type=click.Choice([e.value for e in SmugglingExpectation]),
        help=N_(
            "Policy for --smuggling-check: CRITICAL unless the verdict is this "
            "(not-vulnerable accepts rejects-bare-lf too)."
        ),
    )(function)
    return option(
        "--smuggling-check",
        is_flag=True,
        help=N_(
            "Instead of one message, test for SMTP smuggling: eight transactions to the "
            "one --to address, each hiding a second one behind an odd end-of-data sequence. "
            "Only against servers you operate."
        ),
    )(function)


def smuggling_report(
    host: str,
    options: ProbeOptions,
    *,
    recipient: str,
    sender: str,
    policy: Policy,
    verbose: bool = False,
) -> ProbeReport:
    """Run the check against *host* and return the judged report (policy applied).

    :raises ResolveError: *host* does not resolve.
    :raises UsageError: options the probe rejects before sending anything.
    """
    from smtpprobe.interpret import interpret
    from smtpprobe.interpret.smuggling import judge, smuggling_finding
    from smtpprobe.smuggling_run import run_smuggling_check

    steps = {"ehlo", "starttls", "quit"} | ({"auth"} if options.auth_user else set())
    options = dataclasses.replace(options, steps=frozenset(steps))
    run = asyncio.run(
        run_smuggling_check(
            host,
            recipient=recipient,
            sender=sender,
            options=options,
            on_event=live if verbose else None,
        )
    )
    checks = (*SESSION_CHECKS, "auth") if options.auth_user else SESSION_CHECKS
    kept = tuple(f for f in interpret(run.session) if f.check in checks)
    report = ProbeReport(run.session, (*kept, smuggling_finding(judge(run))))
    return apply_policy(report, policy)


def run_smuggling(
    target: tuple[str, int | None], options: ProbeOptions, run: RunOptions, params: dict[str, Any]
) -> int:
    """``send --smuggling-check``: check, print the report, return the exit code.

    :raises UsageError: no ``--to``, more than one, or an option that shapes a message.
    """
    recipients = tuple(params["recipients"])
    if not recipients:
        raise UsageError(key="error_smuggling_needs_to")
    if len(recipients) > 1:
        raise UsageError(key="error_smuggling_one_address")
    sender = params["sender"] or ""
    # The addresses go into hand-made DATA content, which no wire check guards: one
    # token each (no CR, LF, space or <>), with an @.
    for flag, value in (("--to", recipients[0]), *((("--from", sender),) if sender else ())):
        check_token(flag, value)
        if "@" not in value.strip("@"):
            raise UsageError(
                key="error_not_an_address", params={"option": flag.lstrip("-"), "value": value}
            )
    given = [name for name in _MESSAGE_OPTIONS if params.get(name)]
    if given:
        option = "--" + given[0].replace("_", "-").removesuffix("s")
        raise UsageError(
            key="error_smuggling_message_option",
            params={"option": option.replace("-file", "").replace("--attachment", "--attach")},
        )
    expected = params.get("expect_smuggling")
    policy = dataclasses.replace(
        run.policy, expect_smuggling=SmugglingExpectation(expected) if expected else None
    )
    if params["timeout"] == 30.0:  # the default: sized for one probe, not eight tests
        options = dataclasses.replace(options, deadline=DEFAULT_DEADLINE)
    try:
        report = smuggling_report(
            target[0],
            options,
            recipient=recipients[0],
            sender=sender,
            policy=policy,
            verbose=run.verbose,
        )
    except ResolveError as exc:
        return print_unreachable(target, exc, options, run)
    return print_report(report, run)
