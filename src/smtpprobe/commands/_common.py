"""Options and output shared by the commands: language, format, and writing a `Doc`."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from smtpprobe.i18n import lang_from_env
from smtpprobe.render.doc import Doc

__all__ = [
    "emit_doc",
    "emit_json",
    "format_option",
    "lang_from_env",
    "lang_option",
    "use_color",
]

F = TypeVar("F", bound=Callable[..., Any])


def lang_option(function: F) -> F:
    """``--lang en|id``; the default follows the locale."""
    return click.option(
        "--lang",
        type=click.Choice(["en", "id"]),
        default=None,
        help="Language of the explanations (default: from LC_ALL/LC_MESSAGES/LANG; id for "
        "Bahasa Indonesia).",
    )(function)


def format_option(*choices: str, default: str = "text") -> Callable[[F], F]:
    """``--format`` with the given choices."""
    def decorate(function: F) -> F:
        return click.option(
            "--format",
            "output_format",
            type=click.Choice(list(choices)),
            default=default,
            show_default=True,
            help="Output format: text for people, json for programs.",
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
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return min(int(columns), 100)
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


# json.dumps escapes C0 controls but, with ensure_ascii=False, writes DEL and the C1
# controls raw; U+009B is CSI to many terminals, so server text could still drive one.
_JSON_UNSAFE = re.compile("[\x7f-\x9f]")


def emit_json(document: Any) -> None:
    """Print one JSON document (or one JSON Lines record); no control character is raw."""
    import json

    text = json.dumps(document, ensure_ascii=False, indent=2)
    text = _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    sys.stdout.write(text + "\n")
