"""``smtpprobe codes``: the reference of reply codes or enhanced status codes as a table."""

from __future__ import annotations

import click

from smtpprobe.commands._common import (
    WholeNumber,
    emit_doc,
    emit_json,
    format_option,
    lang_from_env,
    lang_option,
)
from smtpprobe.errors import UsageError
from smtpprobe.i18n import N_, LocalizedCommand, option
from smtpprobe.kb import load
from smtpprobe.views.codes_view import code_rows, codes_doc

__all__ = ["codes_command"]


@click.command(
    "codes",
    cls=LocalizedCommand,
    context_settings={"help_option_names": ["-h", "--help"]},
    help=N_(
        "List reply codes (or enhanced status codes) with their titles.\n\n"
        "Examples:\n"
        "  smtpprobe codes --class 4\n"
        "  smtpprobe codes --enhanced --search policy"
    ),
)
@option(
    "--class",
    "klass",
    type=WholeNumber(),
    metavar="DIGIT",
    help=N_("Only this class: 2, 3, 4 or 5 (with --enhanced: 2, 4 or 5)."),
)
@option(
    "--enhanced",
    is_flag=True,
    help=N_("List the enhanced status codes (RFC 3463 X.y.z registry) instead."),
)
@option(
    "--search",
    metavar="TEXT",
    help=N_(
        "Only codes where TEXT occurs (any case) in the code, any text of its "
        "entry, or a server wording seen with it."
    ),
)
@format_option("text", "json")
@lang_option
def codes_command(
    klass: int | None, enhanced: bool, search: str | None, output_format: str, lang: str | None
) -> int:
    allowed = (2, 4, 5) if enhanced else (2, 3, 4, 5)
    if klass is not None and klass not in allowed:
        raise UsageError(
            key=f"error_codes_class_{'enhanced' if enhanced else 'basic'}",
            params={"klass": klass, "allowed": ", ".join(map(str, allowed))},
        )
    kb = load(lang or lang_from_env())
    rows = code_rows(kb, klass=klass, enhanced=enhanced, search=search)
    if output_format == "json":
        from smtpprobe.views.offline_json import codes_json

        emit_json(codes_json(rows, enhanced=enhanced, klass=klass, search=search, kb=kb))
    else:
        emit_doc(codes_doc(rows, kb, enhanced=enhanced, search=search))
    return 0
