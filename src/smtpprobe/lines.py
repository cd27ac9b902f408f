"""Text input in bounded memory: lines of at most a fixed length, whatever the input holds.

``/dev/zero``, a sparse file or a log without newlines is one endless "line"; iterating a
file object would hold all of it. `bounded_lines` reads at most *limit* characters at a
time and hands on an over-long line as an empty one (so line numbers stay right), after
telling *on_overlong* its number. `bounded_read` is the same rule for a whole small input.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import IO

__all__ = ["MAX_INPUT_CHARS", "MAX_LINE_CHARS", "InputTooLong", "bounded_lines", "bounded_read"]

# Far past any log line or SMTP reply (RFC 5321 §4.5.3.1.5: 512 octets a line; the reply
# parser's caps are 8 KiB a line and 32 KiB a reply); small enough to hold a few of.
MAX_LINE_CHARS = 65536
# One pasted input (``explain -``): a reply, a transcript, a bounce.
MAX_INPUT_CHARS = 1 << 20


class InputTooLong(Exception):
    """A whole input over its limit (`bounded_read`)."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


def bounded_lines(
    handle: IO[str], limit: int = MAX_LINE_CHARS, on_overlong: Callable[[int], None] | None = None
) -> Iterator[str]:
    """The lines of *handle* (with their endings); a line over *limit* characters is
    reported to *on_overlong* with its 1-based number (which may raise), read through to its
    end in *limit*-sized pieces, and yielded as ``""``."""
    readline = handle.readline
    number = 0
    while True:
        text = readline(limit + 1)
        if not text:
            return
        number += 1
        if len(text) > limit and not text.endswith("\n"):
            if on_overlong is not None:
                on_overlong(number)  # first: the line may never end (/dev/zero)
            while text and not text.endswith("\n"):  # drop the rest, never hold it
                text = readline(limit + 1)
            text = ""
        yield text


def bounded_read(handle: IO[str], limit: int = MAX_INPUT_CHARS) -> str:
    """All of *handle*, at most *limit* characters.

    :raises InputTooLong: the input holds more.
    """
    text = handle.read(limit + 1)
    if len(text) > limit:
        raise InputTooLong(limit)
    return text
