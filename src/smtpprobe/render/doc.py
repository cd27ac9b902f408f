"""A tiny document model every human-readable view is built from.

Views (explain, compare, a probe transcript …) return a `Doc`; `plain.py` writes it as plain
text without importing rich (fast start, pipes, NO_COLOR) and `rich_view.py` turns it into
rich renderables for a terminal. Server text is made visible-safe in exactly one place:
`visible()`, applied by both emitters to every span.
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = [
    "Blank",
    "Block",
    "Doc",
    "Fields",
    "Heading",
    "Items",
    "Paragraph",
    "Span",
    "Table",
    "visible",
]

# C0 controls except TAB, DEL, and C1 controls: shown as escapes so that server bytes can
# never move the cursor, clear the screen or set a window title (ESC, OSC, CSI …).
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def visible(text: str) -> str:
    """*text* with every control character written as a visible escape (``\\x1b``, ``\\r``)."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


class Span(NamedTuple):
    """A run of text with a semantic style: ok, note, warn, bad, dim, bold, code, c2…c5."""

    text: str
    style: str = ""


Line = tuple[Span, ...]


def line(*parts: str | Span) -> Line:
    """Build a line from strings (unstyled) and spans."""
    return tuple(part if isinstance(part, Span) else Span(part) for part in parts)


class Heading(NamedTuple):
    text: str
    level: int = 1
    style: str = ""


class Paragraph(NamedTuple):
    spans: Line
    indent: int = 0


class Fields(NamedTuple):
    """Label/value rows, labels aligned."""

    rows: tuple[tuple[str, Line], ...]
    indent: int = 0


class Table(NamedTuple):
    columns: tuple[str, ...]
    rows: tuple[tuple[Span, ...], ...]
    title: str = ""


class Items(NamedTuple):
    items: tuple[Line, ...]
    numbered: bool = False
    indent: int = 0


class Blank(NamedTuple):
    """An empty line."""


Block = Heading | Paragraph | Fields | Table | Items | Blank


class Doc:
    """An ordered list of blocks."""

    __slots__ = ("blocks",)

    def __init__(self, blocks: list[Block] | None = None) -> None:
        self.blocks: list[Block] = [] if blocks is None else blocks

    def add(self, *blocks: Block) -> Doc:
        self.blocks.extend(blocks)
        return self
