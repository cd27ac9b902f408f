"""``smtpprobe send TARGET``: deliver one test message end to end, explain every reply,
exit by what became of it (accepted 0, deferred or partly accepted 1, refused 2)."""

from __future__ import annotations

import asyncio
from typing import IO, Any

import click

from smtpprobe.commands._auth import auth_options, with_auth
from smtpprobe.commands._common import lang_from_env
from smtpprobe.commands.probe import (
    HostPort,
    _connection_options,
    connection_options_from,
    output_options,
)
from smtpprobe.commands.probe_options import policy_from_params, policy_options
from smtpprobe.commands.run import RunOptions, live, print_report, print_unreachable
from smtpprobe.commands.smuggle import smuggling_options
from smtpprobe.errors import ResolveError, UsageError
from smtpprobe.i18n import N_, LocalizedCommand, option
from smtpprobe.message import Draft, split_header
from smtpprobe.render.formats import OutputFormat
from smtpprobe.validate import check_token

__all__ = ["send_command"]


def _message_options(function: Any) -> Any:
    for decorate in reversed(
        (
            option(
                "--from",
                "sender",
                metavar="ADDRESS",
                help=N_("Envelope sender (MAIL FROM) and From: header; '' for the null sender."),
            ),
            option(
                "--to",
                "recipients",
                multiple=True,
                metavar="ADDRESS",
                help=N_("Recipient (RCPT TO and To: header; repeatable)."),
            ),
            option(
                "--header",
                "headers",
                multiple=True,
                metavar="'NAME: VALUE'",
                help=N_("Add a header, or replace a default one (repeatable)."),
            ),
            option("--subject", help=N_("Subject (default: a dated test subject).")),
            option(
                "--body",
                metavar="TEXT",
                help=N_("Body text (default: says what sent the message and when)."),
            ),
            option(
                "--body-file",
                type=click.File("r", encoding="utf-8"),
                metavar="FILE",
                help=N_("Read the body from FILE (- for stdin)."),
            ),
            option(
                "--attach",
                "attachments",
                multiple=True,
                metavar="FILE",
                type=click.Path(exists=True, dir_okay=False),
                help=N_("Attach FILE as a MIME part (repeatable)."),
            ),
            option(
                "--data",
                "data_file",
                type=click.File("rb"),
                metavar="FILE",
                help=N_(
                    "Send FILE, a complete RFC 5322 message, as it is (- for stdin); "
                    "the envelope defaults to its From:/To:/Cc:."
                ),
            ),
            option(
                "--quit-after",
                type=click.Choice(
                    ["connect", "banner", "ehlo", "tls", "auth", "mail", "rcpt", "data"]
                ),
                help=N_(
                    "Stop after this step (then RSET/QUIT): test a server without "
                    "sending a message."
                ),
            ),
            option(
                "--chunking",
                is_flag=True,
                help=N_("Send with BDAT (RFC 3030) when the server offers CHUNKING."),
            ),
        )
    ):
        function = decorate(function)
    return function


def _draft(params: dict[str, Any]) -> Draft:
    """The message as asked for.

    :raises UsageError: no sender or recipient, --data with composing options, a bad
        --header, the body given twice.
    """
    raw: bytes | None = None
    sender, recipients = params["sender"], tuple(params["recipients"])
    if params["data_file"] is not None:
        for flag in ("headers", "subject", "body", "body_file", "attachments"):
            if params[flag]:
                option = "--" + flag.rstrip("s").replace("_", "-").replace("attachment", "attach")
                raise UsageError(key="error_send_data_and_compose", params={"option": option})
        raw = params["data_file"].read()
        sender, recipients = _envelope_from(raw, sender, recipients)
    if not recipients:
        raise UsageError(key="error_send_no_recipient")
    if sender is None:
        raise UsageError(
            "send needs --from ADDRESS (or --from '' for the null sender)",
            hint="the sender is the address bounces go to: use one you read",
        )
    for flag, values in (("--from", (sender,) if sender else ()), ("--to", recipients)):
        for value in values:
            check_token(flag, value)  # no space, control character, CR/LF or <>
            if "@" not in value.strip("@"):
                raise UsageError(
                    key="error_not_an_address", params={"option": flag.lstrip("-"), "value": value}
                )
    if params["body"] is not None and params["body_file"] is not None:
        raise UsageError(key="error_send_body_twice")
    body_file: IO[str] | None = params["body_file"]
    return Draft(
        sender=sender,
        recipients=recipients,
        subject=params["subject"],
        body=body_file.read() if body_file is not None else params["body"],
        headers=tuple(split_header(h) for h in params["headers"]),
        attachments=tuple(params["attachments"]),
        raw=raw,
        helo=params["helo"],
    )


def _envelope_from(
    raw: bytes, sender: str | None, recipients: tuple[str, ...]
) -> tuple[str | None, tuple[str, ...]]:
    """The envelope for a --data message: the options, else its headers (aiosmtplib)."""
    import email
    import email.policy

    from aiosmtplib.email import extract_recipients, extract_sender

    message = email.message_from_bytes(raw, policy=email.policy.SMTP)
    if sender is None:
        sender = extract_sender(message)
    return sender, recipients or tuple(extract_recipients(message))


@click.command(
    "send",
    cls=LocalizedCommand,
    context_settings={"help_option_names": ["-h", "--help"]},
    help=N_(
        "Send one test message to TARGET (host, host:port or [v6addr]:port) and "
        "show what became of it: every reply explained, the queue id, each "
        "recipient's answer.\n\n"
        "Submission: --port 587 --tls starttls --auth-user USER; implicit TLS: "
        "--port 465. --smuggling-check --to ADDRESS tests for SMTP smuggling "
        "instead (servers you operate). Exit codes: 0 accepted, 1 deferred or "
        "partly accepted, 2 refused or no connection, 3 bad arguments or a message "
        "the server cannot take (SMTPUTF8, 8BITMIME)."
    ),
)
@click.argument("target", type=HostPort(), metavar="TARGET")
@_message_options
@smuggling_options
@_connection_options
@auth_options
@policy_options
@output_options
def send_command(target: tuple[str, int | None], **params: Any) -> int:
    from smtpprobe.policy import apply_policy
    from smtpprobe.send import QuitAfter, SendOptions, send

    params["lang"] = params["lang"] or lang_from_env()
    params.setdefault("skip", ())
    host, port = target
    options = with_auth(connection_options_from(params, port or params["port"]), params)
    policy = policy_from_params(params)
    if params["smuggling_check"]:
        from smtpprobe.commands.smuggle import run_smuggling

        run = RunOptions(
            output_format=OutputFormat(params["output_format"]),
            lang=params["lang"],
            verbose=params["verbose"],
            policy=policy,
        )
        return run_smuggling(target, options, run, params)
    if params["expect_smuggling"]:
        raise UsageError(key="error_smuggling_expect_without_check")
    quit_after = QuitAfter(params["quit_after"]) if params["quit_after"] else None
    mail = SendOptions(_draft(params), quit_after=quit_after, chunking=params["chunking"])
    run = RunOptions(
        output_format=OutputFormat(params["output_format"]),
        lang=params["lang"],
        verbose=params["verbose"],
        policy=policy,
    )
    try:
        report = asyncio.run(
            send(host, options=options, mail=mail, on_event=live if run.verbose else None)
        )
    except ResolveError as exc:
        return print_unreachable(target, exc, options, run)
    return print_report(apply_policy(report, policy), run)
