"""Turn a `Doc` into rich renderables for a colour terminal (imported only on a TTY)."""

from __future__ import annotations

from rich import box
from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table as RichTable
from rich.text import Text

from smtpprobe.render.doc import Blank, Doc, Fields, Heading, Items, Line, Paragraph, Table, visible

__all__ = ["STYLES", "to_rich"]

STYLES = {
    "ok": "green",
    "note": "cyan",
    "warn": "yellow",
    "bad": "bold red",
    "dim": "dim",
    "bold": "bold",
    "code": "bold",
    "client": "bold blue",
    "c2": "green",
    "c3": "cyan",
    "c4": "yellow",
    "c5": "red",
}


def _text(spans: Line) -> Text:
    # Text.append never parses markup; visible() removes escape sequences.
    text = Text()
    for span in spans:
        text.append(visible(span.text), style=STYLES.get(span.style, ""))
    return text


def _block(block: object) -> RenderableType:
    if isinstance(block, Heading):
        style = STYLES.get(block.style, "") or ("bold underline" if block.level == 1 else "bold")
        if block.style and block.level <= 2:
            style = f"bold {STYLES.get(block.style, '')}"
        return Text(visible(block.text), style=style)
    if isinstance(block, Paragraph):
        return Padding(_text(block.spans), (0, 0, 0, block.indent))
    if isinstance(block, Fields):
        grid = RichTable.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column(overflow="fold")
        for label, value in block.rows:
            grid.add_row(Text(visible(label)), _text(value))
        return Padding(grid, (0, 0, 0, block.indent))
    if isinstance(block, Items):
        grid = RichTable.grid(padding=(0, 1))
        grid.add_column(no_wrap=True)
        grid.add_column(overflow="fold")
        for n, item in enumerate(block.items, start=1):
            grid.add_row(Text(f"{n}." if block.numbered else "•"), _text(item))
        return Padding(grid, (0, 0, 0, block.indent))
    if isinstance(block, Table):
        # No vertical rules: eight columns of facts still fit an 80-column terminal.
        table = RichTable(
            title=visible(block.title) or None,
            box=box.SIMPLE_HEAD,
            pad_edge=False,
            padding=(0, 1),
            collapse_padding=True,
            show_lines=False,
            expand=False,
        )
        last = len(block.columns) - 1
        for n, column in enumerate(block.columns):
            # Short facts stay whole; the last column (a summary, a meaning) takes the rest.
            if n < last:
                table.add_column(visible(column), no_wrap=True)
            else:
                table.add_column(visible(column), overflow="fold", ratio=1, min_width=12)
        for row in block.rows:
            table.add_row(*(_text((span,)) for span in row))
        return table
    if isinstance(block, Blank):
        return Text("")
    raise TypeError(f"unknown block {block!r}")


def to_rich(doc: Doc) -> Group:
    """A rich `Group` for *doc*; print it with a `rich.console.Console`."""
    return Group(*(_block(block) for block in doc.blocks))
