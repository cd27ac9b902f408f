"""Write a `Doc` as plain text: no rich import, no colour, wrapped to a width."""

from __future__ import annotations

import textwrap

from smtpprobe.render.doc import Blank, Doc, Fields, Heading, Items, Line, Paragraph, Table, visible

__all__ = ["to_plain"]


def _text(spans: Line) -> str:
    return "".join(visible(span.text) for span in spans)


def _wrap(text: str, width: int, indent: str, hanging: str | None = None) -> list[str]:
    if not text:
        return [indent.rstrip()]
    return textwrap.wrap(
        text,
        width=max(width, 20),
        initial_indent=indent,
        subsequent_indent=indent if hanging is None else hanging,
        break_long_words=True,
        break_on_hyphens=False,
    ) or [indent.rstrip()]


def _table(block: Table, width: int) -> list[str]:
    cells = [[visible(c) for c in block.columns]] + [
        [visible(span.text) for span in row] for row in block.rows
    ]
    count = len(block.columns)
    widths = [max(len(row[i]) for row in cells if i < len(row)) for i in range(count)]
    # Give the last column what is left, so a long meaning wraps instead of overflowing.
    fixed = sum(widths[:-1]) + 2 * (count - 1)
    last = max(width - fixed, 12)
    out: list[str] = []
    if block.title:
        out.append(visible(block.title))
    for n, row in enumerate(cells):
        head = "  ".join(row[i].ljust(widths[i]) for i in range(count - 1))
        prefix = head + ("  " if count > 1 else "")
        tail = textwrap.wrap(row[-1], last) or [""]
        out.append((prefix + tail[0]).rstrip())
        out.extend((" " * len(prefix) + more).rstrip() for more in tail[1:])
        if n == 0:
            out.append("  ".join("-" * w for w in widths[:-1] + [min(widths[-1], last)]))
    return out


def to_plain(doc: Doc, width: int = 80) -> str:
    """Render *doc* as plain text lines, each at most *width* columns where words allow."""
    out: list[str] = []
    for block in doc.blocks:
        if isinstance(block, Heading):
            wrapped = _wrap(visible(block.text), width, "")
            out.extend(wrapped)
            if block.level <= 2:
                rule = max(len(text) for text in wrapped)
                out.append(("=" if block.level == 1 else "-") * min(rule, width))
        elif isinstance(block, Paragraph):
            pad = " " * block.indent
            out.extend(_wrap(_text(block.spans), width, pad))
        elif isinstance(block, Fields):
            pad = " " * block.indent
            label_width = max((len(visible(label)) for label, _ in block.rows), default=0)
            for label, value in block.rows:
                head = f"{pad}{visible(label).ljust(label_width)}  "
                out.extend(_wrap(_text(value), width, head, " " * len(head)))
        elif isinstance(block, Items):
            pad = " " * block.indent
            for n, item in enumerate(block.items, start=1):
                mark = f"{n}. " if block.numbered else "- "
                out.extend(_wrap(_text(item), width, pad + mark, pad + " " * len(mark)))
        elif isinstance(block, Table):
            out.extend(_table(block, width))
        elif isinstance(block, Blank):
            out.append("")
    return "\n".join(out) + "\n"
