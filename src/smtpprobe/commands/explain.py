"""``smtpprobe explain``: what a reply code, an enhanced status code or a whole reply means."""

from __future__ import annotations

import sys

import click

from smtpprobe.commands._common import (
    emit_doc,
    emit_json,
    format_option,
    lang_from_env,
    lang_option,
)
from smtpprobe.errors import UsageError
from smtpprobe.i18n import N_, LocalizedCommand, option
from smtpprobe.kb import load
from smtpprobe.lines import InputTooLong, bounded_read
from smtpprobe.views.explain_view import explain_doc
from smtpprobe.views.explanation import command_verb, explain_argument

__all__ = ["explain_command"]


@click.command(
    "explain",
    cls=LocalizedCommand,
    context_settings={"help_option_names": ["-h", "--help"]},
    help=N_(
        "Explain reply codes (252), enhanced codes (5.1.1, X.1.1) or whole "
        "replies.\n"
        "\n"
        "Examples:\n"
        "  smtpprobe explain 252 5.7.26\n"
        "  smtpprobe explain --command VRFY 252\n"
        '  smtpprobe explain "550 5.1.1 <bob@example.com>: Recipient address '
        'rejected: User unknown"\n'
        "  printf '250-mx.example.com\\n250 HELP\\n' | smtpprobe explain -"
    ),
)
@click.argument("arguments", nargs=-1, required=True, metavar="CODE|REPLY|- ...")
@option(
    "--command",
    "command",
    metavar="VERB",
    help=N_(
        "Read the reply as the answer to this command (VRFY, RCPT …) and say "
        "whether RFC 5321 §4.3.2 allows it there."
    ),
)
@format_option("text", "json")
@lang_option
def explain_command(
    arguments: tuple[str, ...], command: str | None, output_format: str, lang: str | None
) -> int:
    kb = load(lang or lang_from_env())
    verb = command_verb(command)
    texts = [_stdin() if argument == "-" else argument for argument in arguments]
    explanations = [explain_argument(text, kb, verb) for text in texts]
    if output_format == "json":
        from smtpprobe.views.offline_json import explain_json

        emit_json(explain_json(explanations))
    else:
        emit_doc(explain_doc(explanations, kb))
    return 0


def _stdin() -> str:
    """What was piped in, at most `MAX_INPUT_CHARS` (``explain - </dev/zero`` ends at once).

    :raises UsageError: more than that.
    """
    try:
        return bounded_read(sys.stdin)
    except InputTooLong as exc:
        raise UsageError(key="error_input_too_long", params={"limit": exc.limit}) from None
