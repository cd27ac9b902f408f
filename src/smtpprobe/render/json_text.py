"""The project's one JSON escaper: every JSON the tool writes goes through `json_text`.

A module of its own (no smtpprobe imports) so that the offline commands' JSON costs no more
start-up than ``json`` itself.
"""

from __future__ import annotations

import json
import re
from json.encoder import encode_basestring_ascii
from typing import Any

__all__ = ["json_string", "json_text"]

# The project's one JSON escaper. json.dumps escapes C0 controls; with ensure_ascii=False it
# writes the rest raw. DEL and C1 (U+009B is CSI to many terminals), bidi controls and
# zero-width characters (a reordered line in `jq` output or a log viewer) and U+2028/2029
# (line ends to JavaScript readers of the stream) become \u escapes as well.
_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")


def json_text(
    document: Any, *, indent: int | None = None, compact: bool = False, ascii_only: bool = False
) -> str:
    """*document* as JSON text with no raw control, bidi, zero-width or separator character.

    *ascii_only* escapes every non-ASCII character (for an output that is not UTF-8);
    *compact* drops the spaces after ``,`` and ``:`` (JSON Lines).
    """
    separators = (",", ":") if compact else None
    if ascii_only:
        return json.dumps(document, indent=indent, separators=separators)
    text = json.dumps(document, ensure_ascii=False, indent=indent, separators=separators)
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def json_string(text: str) -> str:
    """*text* as one JSON string in ASCII: what ``json_text(text, ascii_only=True)`` gives,
    at a fifth of its cost (annotate writes one per reply)."""
    return encode_basestring_ascii(text)
