"""The ``--relay-check`` options of ``probe``: opt in, the outside address, the policy."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

import click

from smtpprobe.errors import UsageError
from smtpprobe.i18n import N_, option
from smtpprobe.report import ProbeOptions
from smtpprobe.validate import check_token

__all__ = ["relay_options", "with_relay"]

F = TypeVar("F", bound=Callable[..., Any])


def relay_options(function: F) -> F:
    """``--relay-check``, ``--relay-to`` and ``--expect-relay``."""
    for decorate in reversed(
        (
            option(
                "--relay-check",
                is_flag=True,
                help=N_(
                    "Also test whether the server "
                    "relays for strangers: the standard relay tricks, MAIL and RCPT only "
                    "(never DATA), RSET between them."
                ),
            ),
            option(
                "--relay-to",
                metavar="ADDRESS",
                help=N_(
                    "The outside address the relay "
                    "tests try to reach (default relay-test@example.net)."
                ),
            ),
            option(
                "--expect-relay",
                type=click.Choice(["closed"]),
                help=N_("CRITICAL unless the relay verdict is this (turns on --relay-check)."),
            ),
        )
    ):
        function = decorate(function)
    return function


def with_relay(options: ProbeOptions, params: dict[str, Any]) -> ProbeOptions:
    """*options* with the relay check on when asked for, directly or by the policy.

    :raises UsageError: a ``--relay-to`` that is not one ``local@domain`` token; the check
        with ``--auth-user``.
    """
    relay_to = params["relay_to"]
    if relay_to is not None:
        check_token("--relay-to", relay_to)
        local, at, domain = relay_to.rpartition("@")
        if not (local and at and domain) or '"' in relay_to:
            raise UsageError(
                key="error_not_an_address", params={"option": "relay-to", "value": relay_to}
            )
    wanted = params["relay_check"] or params["expect_relay"] is not None or relay_to is not None
    if not wanted:
        return options
    if options.auth_user is not None:
        # A logged-in client may relay by design (permit_sasl_authenticated): the check
        # would call every submission server open.
        raise UsageError(key="error_relay_with_auth")
    return dataclasses.replace(options, relay_check=True, relay_to=relay_to)
