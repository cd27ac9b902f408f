"""Numbers from outside (a port, days, seconds, a server's SIZE), read by one rule.

A module without imports of its own, so that reading ``COLUMNS`` costs nothing at start-up.
"""

from __future__ import annotations

import math

__all__ = ["MAX_DIGITS", "ascii_number", "finite_seconds"]

# Far past any port, day count or message size (SIZE 10^18 is an exabyte), far below
# Python's int-from-string limit (4300 digits, ValueError past it).
MAX_DIGITS = 18


def ascii_number(text: str, *, max_digits: int = MAX_DIGITS) -> int | None:
    """*text* as a whole number if it is 1 to *max_digits* ASCII digits (0-9), else None.

    ``str.isdigit`` alone would take ``²`` (``int`` then raises) and ``int`` alone takes
    ``٣٩٩٩`` (Arabic-Indic 3999), ``+1``, ``1_000`` and spaces: none of them is a number
    in SMTP (RFC 5321 §4.1.2 ``Number = 1*DIGIT``, ASCII) or on our command line.
    """
    if 0 < len(text) <= max_digits and text.isascii() and text.isdigit():
        return int(text)
    return None


def finite_seconds(value: float) -> bool:
    """True for a number of seconds we can wait: finite and above 0 (not nan, not inf)."""
    return math.isfinite(value) and value > 0
