"""Text a vendor pattern cannot match without: a cheap test before compiling its regex.

Compiling a regex costs about 0.1 ms in CPython; a probe that meets one 5xx reply would
compile a hundred vendor patterns to find the one or two that match. `required_literals`
reads a pattern's source once, without compiling it, and names, per top-level alternative,
a run of plain characters that alternative must contain; text (ASCII, lower-cased) that
holds none of them cannot match. Anything the reader does not fully understand gives None:
no shortcut, the regex decides.
"""

from __future__ import annotations

import re

__all__ = ["required_literals"]

# Characters a pattern writes escaped to mean themselves (``\.``, ``\-``).
_ESCAPED_PUNCTUATION = frozenset(".-/\\()[]{}|*+?^$ @:#'\",;!%&=<>~`_")
_SPECIAL = frozenset(".^$*+?{}[]\\|()")
_COUNTED = re.compile(r"\{[0-9]*,?[0-9]*\}")
# Escapes that read digits or names after them (\x41, \u00e9, \N{…}, \1): not worth reading.
_NUMERIC_ESCAPE = re.compile(r"\\[xuUN0-9]")
_VERBOSE_FLAG = re.compile(r"\(\?[a-zA-Z]*x")
# A shorter run would pass almost any text and save nothing.
_SHORTEST = 3


def _skip_class(pattern: str, start: int) -> int | None:
    """The index after the character class opening at *start*, or None."""
    i = start + 1
    if i < len(pattern) and pattern[i] == "^":
        i += 1
    if i < len(pattern) and pattern[i] == "]":  # a leading ] is a member
        i += 1
    while i < len(pattern):
        if pattern[i] == "\\":
            i += 2
            continue
        if pattern[i] == "]":
            return i + 1
        i += 1
    return None


def _skip_group(pattern: str, start: int) -> int | None:
    """The index after the group opening at *start*, or None."""
    depth, i = 0, start
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if char == "[":
            after = _skip_class(pattern, i)
            if after is None:
                return None
            i = after
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


def _branches(pattern: str) -> list[str] | None:
    """*pattern* split at its top-level ``|``, or None when it does not parse."""
    branches, start, i = [], 0, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        after = (
            _skip_class(pattern, i)
            if char == "["
            else _skip_group(pattern, i)
            if char == "("
            else i + 1
        )
        if after is None:
            return None
        if char == "|":
            branches.append(pattern[start:i])
            start = after
        elif char == ")":
            return None  # unbalanced
        i = after
    return [*branches, pattern[start:]]


def _longest_run(branch: str) -> str | None:
    """The longest run of plain characters *branch* must contain, or None."""
    runs: list[str] = []
    current: list[str] = []

    def cut() -> None:
        if current:
            runs.append("".join(current))
            current.clear()

    i = 0
    while i < len(branch):
        char = branch[i]
        if char == "\\":
            escaped = branch[i + 1 : i + 2]
            if escaped in _ESCAPED_PUNCTUATION and escaped:
                current.append(escaped)
            else:
                cut()  # \b, \s, \w …
            i += 2
            continue
        if char in "?*" or (char == "{" and _COUNTED.match(branch, i)):
            if current:
                current.pop()  # the atom before is optional
            cut()
            counted = _COUNTED.match(branch, i) if char == "{" else None
            i = counted.end() if counted else i + 1
            continue
        if char == "+":
            cut()  # one is there; how many is open
            i += 1
            continue
        if char in "[(":
            after = _skip_class(branch, i) if char == "[" else _skip_group(branch, i)
            if after is None:
                return None
            cut()
            i = after
            continue
        if char in _SPECIAL or not (char.isascii() and char.isprintable()):
            cut()
        else:
            current.append(char)
        i += 1
    cut()
    return max(runs, key=len, default="")


def required_literals(pattern: str) -> tuple[str, ...] | None:
    """Lower-cased runs of which ASCII text must hold one for *pattern* to match it
    (searched case-insensitively), or None when that cannot be told from the source."""
    if _NUMERIC_ESCAPE.search(pattern) or _VERBOSE_FLAG.search(pattern):
        return None
    branches = _branches(pattern)
    if branches is None:
        return None
    literals = []
    for branch in branches:
        run = _longest_run(branch)
        if run is None or len(run) < _SHORTEST:
            return None
        literals.append(run.lower())
    return tuple(literals)
