"""The ``--auth-*`` options of ``probe`` and where the password comes from.

The password is read from an environment variable or a hidden prompt, never from the
command line (where ``ps`` and shell history would show it).
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from smtpprobe.errors import UsageError
from smtpprobe.i18n import N_, current_lang, option
from smtpprobe.kb import load
from smtpprobe.report import AuthMechanism, ProbeOptions

__all__ = ["auth_options", "with_auth"]

F = TypeVar("F", bound=Callable[..., Any])
_HINT = "export the password in a variable and pass its name: --auth-password-env SMTP_PASSWORD"


def auth_options(function: F) -> F:
    """``--auth-user``, ``--auth-password-env``, ``--auth-token-env``, ``--auth-mechanism``
    and ``--allow-plaintext-auth``."""
    for decorate in reversed(
        (
            option(
                "--auth-user",
                metavar="USER",
                help=N_(
                    "Log in with AUTH as USER (after "
                    "STARTTLS); the password comes from --auth-password-env or a prompt."
                ),
            ),
            option(
                "--auth-password-env",
                metavar="VAR",
                help=N_(
                    "Name of the environment "
                    "variable holding the password (there is no option for the password "
                    "itself)."
                ),
            ),
            option(
                "--auth-token-env",
                metavar="VAR",
                help=N_(
                    "Name of the environment "
                    "variable holding an OAuth2 access token: log in with XOAUTH2 instead of "
                    "a password."
                ),
            ),
            option(
                "--auth-mechanism",
                "--auth-mech",
                "auth_mechanism",
                type=click.Choice([m.value for m in AuthMechanism]),
                default="auto",
                show_default=True,
                help=N_(
                    "SASL mechanism; auto: the strongest offered "
                    "(CRAM-MD5, PLAIN, LOGIN; XOAUTH2 with a token). DIGEST-MD5 is obsolete "
                    "(RFC 6331) and not spoken."
                ),
            ),
            option(
                "--allow-plaintext-auth",
                is_flag=True,
                help=N_("Send the credentials even without TLS (test servers only)."),
            ),
        )
    ):
        function = decorate(function)
    return function


def with_auth(options: ProbeOptions, params: dict[str, Any]) -> ProbeOptions:
    """*options* with the AUTH settings from *params*; reads or asks for the password.

    :raises UsageError: ``--auth-password-env`` without ``--auth-user``, a variable that
        is not set or empty, no variable and no terminal to ask on, or ``--skip auth``
        with ``--auth-user``.
    """
    user, variable = params["auth_user"], params["auth_password_env"]
    token_variable = params.get("auth_token_env")
    if user is None:
        if variable is not None:
            raise UsageError("--auth-password-env needs --auth-user")
        if token_variable is not None:
            raise UsageError("--auth-token-env needs --auth-user")
        return options
    mechanism = AuthMechanism(params["auth_mechanism"])
    if mechanism is AuthMechanism.XOAUTH2 and token_variable is None:
        raise UsageError(
            "--auth-mechanism xoauth2 needs --auth-token-env",
            hint="export the access token in a variable and pass its name: "
            "--auth-token-env SMTP_TOKEN",
        )
    if "auth" in params["skip"]:
        raise UsageError("--auth-user needs the step that --skip auth leaves out")
    return dataclasses.replace(
        options,
        auth_user=user,
        auth_password=(
            None
            if token_variable is not None and variable is None
            else _password(user, variable, params["lang"] or current_lang())
        ),
        auth_token=_secret(token_variable) if token_variable is not None else None,
        auth_mechanism=mechanism,
        allow_plaintext_auth=params["allow_plaintext_auth"],
        # AUTH needs EHLO (RFC 4954 §3) and, unless skipped on purpose, STARTTLS first;
        # with --only the steps listed are what to ask besides logging in.
        steps=options.steps | {"auth"} | ({"starttls"} - set(params["skip"])),
    )


def _secret(variable: str) -> str:
    value = os.environ.get(variable)
    if value is None:
        raise UsageError(f"the environment variable {variable} is not set", hint=_HINT)
    if not value:
        raise UsageError(f"the environment variable {variable} is empty", hint=_HINT)
    return value


def _password(user: str, variable: str | None, lang: str) -> str:
    if variable is not None:
        return _secret(variable)
    if not sys.stdin.isatty():
        raise UsageError("no password: set --auth-password-env", hint=_HINT)
    # On stderr: stdout may be a JSON document for a pipeline.
    prompt = load(lang).ui("auth_prompt").format(user=user)
    value = click.prompt(prompt, hide_input=True, err=True, type=str)
    return str(value)
