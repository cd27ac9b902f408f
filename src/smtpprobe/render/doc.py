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
# never move the cursor, clear the screen or set a window title (ESC, OSC, CSI …). Also the
# invisible characters that change what a line seems to say (Trojan Source, CVE-2021-42574):
# bidi embeddings, overrides and isolates (U+202A-202E, U+2066-2069, U+061C ALM),
# zero-width characters and marks (U+200B-200F), the BOM (U+FEFF), and the line and
# paragraph separators U+2028/2029 (a line break to many terminals and viewers).
_CONTROL = re.compile(
    "[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]"
)


def visible(text: str) -> str:
    """*text* with every control, bidi, zero-width or separator character written as a
    visible escape (``\\x1b``, ``\\r``, ``\\u202e``)."""
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
