"""``smtpprobe compare A B``: two codes side by side, as the seed page compares 211 and 252."""

from __future__ import annotations

import click

from smtpprobe.codes import parse_code_query
from smtpprobe.commands._common import (
    emit_doc,
    emit_json,
    format_option,
    lang_from_env,
    lang_option,
)
from smtpprobe.errors import UsageError
from smtpprobe.i18n import N_, LocalizedCommand
from smtpprobe.kb import KnowledgeBase, load
from smtpprobe.views.compare_view import compare, compare_doc
from smtpprobe.views.explanation import Explanation, explain_code

__all__ = ["compare_command"]


def _code(text: str, kb: KnowledgeBase) -> Explanation:
    query = parse_code_query(text)
    if query is None:
        raise UsageError(key="error_compare_not_a_code", params={"text": text[:60]})
    return explain_code(query, kb)


@click.command(
    "compare",
    cls=LocalizedCommand,
    context_settings={"help_option_names": ["-h", "--help"]},
    help=N_(
        "Compare two codes: description, when you see each, how to fix, key "
        "differences.\n\n"
        "A and B are reply codes (211, 252) or enhanced status codes "
        "(5.1.1, X.7.1).\n"
        "Example:  smtpprobe compare 211 252 --lang id"
    ),
)
@click.argument("first", metavar="A")
@click.argument("second", metavar="B")
@format_option("text", "json")
@lang_option
def compare_command(first: str, second: str, output_format: str, lang: str | None) -> int:
    kb = load(lang or lang_from_env())
    a, b = _code(first, kb), _code(second, kb)
    if a.label == b.label:
        raise UsageError(key="error_compare_same_code", params={"code": a.label})
    comparison = compare(a, b, kb)
    if output_format == "json":
        from smtpprobe.views.offline_json import compare_json

        emit_json(compare_json(comparison))
    else:
        emit_doc(compare_doc(comparison, kb))
    return 0
