"""Options and output shared by the commands: language, numbers, writing a `Doc`, a JSON
document or finished text, and the one error line."""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from smtpprobe.i18n import N_, lang_from_env, option, text
from smtpprobe.kb import LANGUAGES, KnowledgeBase
from smtpprobe.render.doc import Doc

__all__ = [
    "Seconds",
    "WholeNumber",
    "emit_doc",
    "emit_json",
    "emit_output",
    "error_line",
    "format_option",
    "lang_from_env",
    "lang_option",
    "stdout_utf8",
    "use_color",
]

F = TypeVar("F", bound=Callable[..., Any])
# Seconds as people write them: 5, 2.5, .5 (ASCII digits; float() would also take "nan",
# "inf", "1_0" and Arabic-Indic digits).
_DECIMAL = re.compile(r"(?:[0-9]{1,9}(?:\.[0-9]{0,9})?|\.[0-9]{1,9})")


class WholeNumber(click.IntRange):
    """click's ``IntRange`` for ASCII digits only (`smtpprobe.validate.ascii_number`):
    ``int()`` alone reads ``٣٩٩٩`` as 3999."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str):
            from smtpprobe.numbers import ascii_number

            if ascii_number(value.strip()) is None:
                self.fail(text("error_not_a_whole_number", value=value), param, ctx)
        return super().convert(value, param, ctx)

    def _describe_range(self) -> str:
        # No bounds (a plain whole number): nothing to show, not click's "x<=None".
        if self.min is None and self.max is None:
            return ""
        return super()._describe_range()


class Seconds(click.FloatRange):
    """A number of seconds above 0, finite, in ASCII digits (``nan``, ``inf``, ``-1``,
    ``1e999`` are usage errors)."""

    def __init__(self) -> None:
        super().__init__(0, min_open=True)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from smtpprobe.numbers import finite_seconds

        if isinstance(value, str) and not _DECIMAL.fullmatch(value.strip()):
            self.fail(text("error_not_seconds", value=value), param, ctx)
        number = super().convert(value, param, ctx)
        if not finite_seconds(number):
            self.fail(text("error_not_seconds", value=value), param, ctx)
        return number


def lang_option(function: F) -> F:
    """``--lang en|id``; the default follows the locale."""
    return option(
        "--lang",
        type=click.Choice(list(LANGUAGES)),
        default=None,
        help=N_(
            "Language of the explanations (default: from LC_ALL/LC_MESSAGES/LANG; id for "
            "Bahasa Indonesia)."
        ),
    )(function)


def format_option(*choices: str, default: str = "text") -> Callable[[F], F]:
    """``--format`` with the given choices."""

    def decorate(function: F) -> F:
        return option(
            "--format",
            "output_format",
            type=click.Choice(list(choices)),
            default=default,
            show_default=True,
            help=N_("Output format: text for people, json for programs."),
        )(function)

    return decorate


def use_color(stream: Any = None) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    stream = sys.stdout if stream is None else stream
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def terminal_width() -> int:
    """COLUMNS, else the terminal's width, else 80; at most 100 (long lines read badly)."""
    from smtpprobe.numbers import ascii_number

    columns = ascii_number(os.environ.get("COLUMNS", ""), max_digits=6)  # else ignored
    if columns:
        return min(columns, 100)
    try:
        return min(os.get_terminal_size(sys.stdout.fileno()).columns, 100)
    except (OSError, ValueError, AttributeError):
        return 80


def emit_doc(doc: Doc) -> None:
    """Print *doc*: rich on a colour terminal, plain text otherwise (no rich import then)."""
    if use_color():
        from rich.console import Console

        from smtpprobe.render.rich_view import to_rich

        Console(highlight=False, soft_wrap=False).print(to_rich(doc))
        return
    from smtpprobe.render.plain import to_plain

    sys.stdout.write(to_plain(doc, width=terminal_width()))


def stdout_utf8(stream: Any = None) -> bool:
    """Whether *stream* (stdout) encodes UTF-8; JSON for any other is written as ASCII."""
    import codecs

    encoding = getattr(sys.stdout if stream is None else stream, "encoding", None) or "ascii"
    try:
        return codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        return False


def emit_json(document: Any) -> None:
    """Print one JSON document; no control character is raw (`json_text`), and under a
    locale that is not UTF-8 every non-ASCII character is a ``\\u`` escape."""
    from smtpprobe.render.json_text import json_text

    sys.stdout.write(json_text(document, indent=2, ascii_only=not stdout_utf8()) + "\n")


def emit_output(output: Doc | dict[str, Any] | str) -> None:
    """Print what a renderer gave: a `Doc` for people, a JSON document, or finished text
    (the Nagios line, JUnit XML, Prometheus metrics)."""
    if isinstance(output, Doc):
        emit_doc(output)
    elif isinstance(output, str):
        sys.stdout.write(output)
    else:
        emit_json(output)


def error_line(message: str, hint: str = "", kb: KnowledgeBase | None = None) -> None:
    """The one error line on stderr (``smtpprobe: error: …``), and its hint, in *kb*'s
    language (the run's when None). stderr itself may be unwritable (a full disk, a
    closed descriptor): then there is no one to tell, and the exit code says it."""
    from smtpprobe.i18n import current_lang
    from smtpprobe.kb import load

    words = kb if kb is not None else load(current_lang())
    with contextlib.suppress(OSError, ValueError):
        click.secho(f"smtpprobe: {words.ui('error_label')}: {message}", fg="red", err=True)
        if hint:
            click.echo(f"  {words.ui('error_hint_label')}: {hint}", err=True)
