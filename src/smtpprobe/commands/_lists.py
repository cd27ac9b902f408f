"""``--users-file``, ``--delay``, ``--command`` and ``--expect-reply`` for ``smtpprobe probe``.

A list of names is asked with VRFY (and EXPN/RCPT when those run) in one session, each
name judged against the random control (smtp-user-enum, nmap smtp-enum-users); custom
commands are sent after the standard steps and may be held to a pattern (check_smtp
``-C``/``-R``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import IO, Any, TypeVar

import click

from smtpprobe.commands._common import Seconds
from smtpprobe.errors import UsageError
from smtpprobe.i18n import N_, option
from smtpprobe.lines import bounded_lines
from smtpprobe.policy import Policy
from smtpprobe.report import ProbeOptions
from smtpprobe.validate import check_token

__all__ = ["list_options", "with_expected_replies", "with_lists"]

F = TypeVar("F", bound=Callable[..., Any])
# A command line is at most 512 octets with its CRLF (RFC 5321 §4.5.3.1.4).
_COMMAND_CHARS = 510
# Verbs a custom command may not use: they change the session in ways the probe does not
# follow (a message, TLS, a login, the end). Use send, --tls, --auth-user instead.
_REFUSED_VERBS = frozenset({"DATA", "BDAT", "STARTTLS", "AUTH", "QUIT"})
# A name is a local part or an address (RFC 5321 §4.5.3.1.1: 64 + 1 + 255).
_NAME_CHARS = 320


def _check_command(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> tuple[str, ...]:
    for value in values:
        line = value.strip()
        if not line or len(line) > _COMMAND_CHARS or not line.isascii() or not line.isprintable():
            raise UsageError(key="error_command_line", params={"value": value})
        verb = line.split(None, 1)[0].upper()
        if verb in _REFUSED_VERBS:
            raise UsageError(key="error_command_verb", params={"verb": verb})
    return tuple(value.strip() for value in values)


def _check_patterns(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> tuple[re.Pattern[str], ...]:
    compiled = []
    for value in values:
        try:
            compiled.append(re.compile(value))
        except re.error as exc:
            raise UsageError(
                key="error_not_a_regex_option",
                params={"option": "--expect-reply", "value": value, "reason": str(exc)},
            ) from None
    return tuple(compiled)


def _read_names(handle: IO[str]) -> tuple[str, ...]:
    """Names from a ``--users-file``: one per line, ``#`` comments, blank lines skipped.

    :raises UsageError: a line that is no name (spaces, control characters, too long).
    """

    def overlong(number: int) -> None:
        raise UsageError(key="error_users_line", params={"number": number, "value": "…"})

    names: list[str] = []
    for number, raw in enumerate(bounded_lines(handle, _NAME_CHARS, on_overlong=overlong), 1):
        name = raw.split("#", 1)[0].strip()
        if not name:
            continue
        try:
            check_token("--users-file", name)
        except UsageError:
            raise UsageError(
                key="error_users_line", params={"number": number, "value": name}
            ) from None
        names.append(name)
    if not names:
        raise UsageError(key="error_users_empty")
    return tuple(dict.fromkeys(names))


def list_options(function: F) -> F:
    """The options of this module, as one decorator."""
    for decorate in reversed(
        (
            option(
                "--users-file",
                type=click.File("r", encoding="utf-8"),
                metavar="FILE",
                help=N_(
                    "Check every name in FILE (one per line, # comments; - for stdin) "
                    "with VRFY, and with EXPN and RCPT when those run. Enumerate only "
                    "servers you run or have permission to test."
                ),
            ),
            option(
                "--delay",
                type=Seconds(),
                metavar="SECONDS",
                help=N_("Wait this long before each name, to be polite (default 0)."),
            ),
            option(
                "--command",
                "commands",
                multiple=True,
                callback=_check_command,
                metavar="LINE",
                help=N_(
                    "Send LINE after the standard steps and explain "
                    "its reply (repeatable, e.g. 'ETRN example.org')."
                ),
            ),
            option(
                "--expect-reply",
                "expect_replies",
                multiple=True,
                metavar="REGEX",
                callback=_check_patterns,
                help=N_(
                    "CRITICAL unless the reply to the "
                    "--command in the same position matches REGEX (repeatable)."
                ),
            ),
        )
    ):
        function = decorate(function)
    return function


def with_lists(options: ProbeOptions, params: dict[str, Any]) -> ProbeOptions:
    """*options* with the names of ``--users-file`` (after any ``--user`` given) and the
    custom commands.

    :raises UsageError: a bad line in the file, or more ``--expect-reply`` than commands.
    """
    handle = params.get("users_file")
    commands = tuple(params.get("commands") or ())
    if len(params.get("expect_replies") or ()) > len(commands):
        raise UsageError(key="error_expect_reply_without_command")
    if handle is None:
        return dataclasses.replace(options, commands=commands, delay=params.get("delay") or 0.0)
    source = click.get_current_context().get_parameter_source("users")
    given = options.users if source is click.core.ParameterSource.COMMANDLINE else ()
    try:
        users = tuple(dict.fromkeys((*given, *_read_names(handle))))
    finally:
        if getattr(handle, "name", "") != "<stdin>":
            handle.close()
    return dataclasses.replace(
        options, users=users, reconnect=True, commands=commands, delay=params.get("delay") or 0.0
    )


def with_expected_replies(policy: Policy, params: dict[str, Any]) -> Policy:
    """*policy* holding each ``--command``'s ``--expect-reply`` (by position)."""
    patterns = tuple(params.get("expect_replies") or ())
    return dataclasses.replace(policy, expect_replies=patterns) if patterns else policy
