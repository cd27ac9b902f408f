"""One redactor for every byte a server sends once credentials are known: no form of a
secret (plain, BASE64 at any offset, hex, URL-encoded, case-folded, split across lines or
cut at the end of what was kept) reaches a reply, a transcript, an error or a report.

The recorder owns one `Redactor`; every authentication mechanism registers its secrets
with it (`Redactor.add`) before it sends them, and the recorder runs everything received
through it before anything is stored, cut or shown.
"""

from __future__ import annotations

import base64
import dataclasses
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

from smtpprobe.reply import Reply

__all__ = ["REDACTED", "Redactor"]

REDACTED = "<redacted>"
# A run this long at the very start or end of a received piece that matches the end or
# the start of a secret is redacted too: the rest of the secret was cut off, or is in the
# next piece (a reply cut at a cap, a secret split over two replies).
_EDGE_MIN = 3
# Derived forms (BASE64, hex …) shorter than this would match ordinary words; the secret
# itself is always matched, however short.
_DERIVED_MIN = 4
# Reply-code prefixes at line starts (``250-``) are not part of the text a secret can
# span, nor is white space: ``250-S3cr\r\n250 3t`` still shows ``S3cr3t``.
_LINE_PREFIX = re.compile(r"(?:^|(?<=[\r\n]))\d{3}[ -]?")
_BASE64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_")


def _fold(text: str) -> str:
    """Case-folded with the length kept (so positions map back one to one)."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def _skeleton_form(text: str) -> str:
    return _fold("".join(text.split()))


def _base64_cores(data: bytes) -> set[str]:
    """The BASE64 characters that depend only on *data*, for each of the three offsets it
    can sit at inside a longer encoded string (a 334 challenge that embeds it)."""
    cores = set()
    for offset in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(b"\0" * offset + data).decode("ascii")
            first = -(-offset * 8 // 6)
            last = (offset + len(data)) * 8 // 6
            cores.add(encoded[first:last])
    return cores


def _derived(secret: str) -> set[str]:
    data = secret.encode("utf-8", errors="surrogateescape")
    cores = _base64_cores(data)
    forms = {data.hex(), quote(secret, safe=""), quote_plus(secret, safe=""), *cores}
    forms |= {quote(core, safe="") for core in cores}
    return forms


@dataclasses.dataclass
class _Forms:
    """The normalised forms to look for; *wide* ones (BASE64) take their whole token."""

    exact: set[str] = dataclasses.field(default_factory=set)
    wide: set[str] = dataclasses.field(default_factory=set)

    def all(self) -> list[tuple[str, bool]]:
        found = [(f, False) for f in self.exact] + [(f, True) for f in self.wide - self.exact]
        return sorted(found, key=lambda item: -len(item[0]))


class Redactor:
    """The secrets of one session and every form of them; empty until one is added."""

    def __init__(self) -> None:
        self._text = _Forms()
        self._bytes = _Forms()  # the same forms, as UTF-8 read byte for byte (latin-1)

    def __bool__(self) -> bool:
        return bool(self._text.exact)

    def __repr__(self) -> str:
        return f"Redactor({len(self._text.exact)} forms)"  # never the forms themselves

    def add(self, secret: str, *, derive: bool = True) -> None:
        """Register *secret*; with *derive*, its BASE64 (any offset, padded or not), hex and
        URL-encoded forms too. Call before the secret is sent."""
        if not secret.strip():
            return
        self._add(secret, wide=False)
        if derive:
            for form in _derived(secret):
                if len(_skeleton_form(form)) >= _DERIVED_MIN:
                    self._add(form, wide=True)

    def add_credentials(self, user: str, password: str) -> None:
        """The password, the PLAIN message and its BASE64, and LOGIN's BASE64 user name."""
        plain = f"\0{user}\0{password}"
        self.add(password)
        self.add(plain)
        self.add(base64.b64encode(plain.encode()).decode("ascii"))
        self.add(base64.b64encode(user.encode()).decode("ascii"), derive=False)

    def _add(self, form: str, *, wide: bool) -> None:
        text = _skeleton_form(form)
        raw = _skeleton_form(form.encode("utf-8", errors="surrogateescape").decode("latin-1"))
        for forms, value in ((self._text, text), (self._bytes, raw)):
            if value:
                (forms.wide if wide else forms.exact).add(value)

    # -- applying --------------------------------------------------------------------------

    def text(self, text: str) -> str:
        """*text* (one string, any line breaks) with every secret form replaced."""
        if not self or not text:
            return text
        return _redact([text], self._text, code_prefixes=False)[0]

    def data(self, data: bytes) -> bytes:
        """Received bytes (a reply, part of one, several) with every secret form replaced.

        Reply-code prefixes at line starts are skipped when matching, so a secret split
        over the lines of one reply is found.
        """
        if not self or not data:
            return data
        redacted = _redact([data.decode("latin-1")], self._bytes, code_prefixes=True)[0]
        return redacted.encode("latin-1", errors="replace")

    def reply(self, reply: Reply) -> Reply:
        """*reply* with its lines (a secret may span them) and raw bytes redacted."""
        if not self:
            return reply
        lines = tuple(_redact(list(reply.lines), self._text, code_prefixes=False))
        raw = self.data(reply.raw)
        if lines == reply.lines and raw == reply.raw:
            return reply
        return dataclasses.replace(reply, lines=lines, raw=raw)

    def values(self, items: Iterable[object]) -> list[object]:
        """Text and bytes in *items* redacted; anything else unchanged."""
        return [
            self.text(v) if isinstance(v, str) else self.data(v) if isinstance(v, bytes) else v
            for v in items
        ]


def _redact(pieces: list[str], forms: _Forms, *, code_prefixes: bool) -> list[str]:
    """*pieces* (the lines of one reply, or one blob) with every match replaced.

    Matching runs over the skeleton: the pieces joined, white space (and, with
    *code_prefixes*, reply codes at line starts) left out, case folded. Each match is
    mapped back to the characters it came from, piece by piece.
    """
    positions: list[tuple[int, int]] = []  # (piece, index) of each skeleton character
    chars: list[str] = []
    for number, piece in enumerate(pieces):
        skipped: set[int] = set()
        if code_prefixes:
            for match in _LINE_PREFIX.finditer(piece):
                skipped.update(range(match.start(), match.end()))
        for index, char in enumerate(piece):
            if index not in skipped and not char.isspace():
                positions.append((number, index))
                chars.append(char)
    skeleton = _fold("".join(chars))
    hidden = [bytearray(len(piece)) for piece in pieces]

    def hide(start: int, end: int, *, wide: bool) -> None:
        for number, index in positions[start:end]:
            hidden[number][index] = 1
        if wide:  # the rest of the BASE64 token: its edge characters carry secret bits
            for number, index in (positions[start], positions[end - 1]):
                _widen(pieces[number], hidden[number], index)

    for form, wide in forms.all():
        start = skeleton.find(form)
        while start != -1:
            hide(start, start + len(form), wide=wide)
            start = skeleton.find(form, start + 1)
        head = _edge(skeleton, form, at_end=False)
        if head:
            hide(0, head, wide=wide)
        tail = _edge(skeleton, form, at_end=True)
        if tail:
            hide(len(skeleton) - tail, len(skeleton), wide=wide)
    return [_replace(piece, mask) for piece, mask in zip(pieces, hidden, strict=True)]


def _edge(skeleton: str, form: str, *, at_end: bool) -> int:
    """How many skeleton characters at its start (end) are the end (start) of *form*."""
    longest = min(len(form) - 1, len(skeleton))
    if longest < _EDGE_MIN:
        return 0
    anchor = skeleton[-1] if at_end else skeleton[0]
    for size in range(longest, _EDGE_MIN - 1, -1):
        if at_end and form[size - 1] == anchor and skeleton.endswith(form[:size]):
            return size
        if not at_end and form[-size] == anchor and skeleton.startswith(form[-size:]):
            return size
    return 0


def _widen(piece: str, mask: bytearray, index: int) -> None:
    left = index
    while left > 0 and piece[left - 1] in _BASE64_CHARS:
        left -= 1
    right = index
    while right + 1 < len(piece) and piece[right + 1] in _BASE64_CHARS:
        right += 1
    mask[left : right + 1] = b"\x01" * (right + 1 - left)


def _replace(piece: str, mask: bytearray) -> str:
    if not any(mask):
        return piece
    out: list[str] = []
    index = 0
    while index < len(piece):
        if mask[index]:
            while index < len(piece) and mask[index]:
                index += 1
            out.append(REDACTED)
        else:
            out.append(piece[index])
            index += 1
    return "".join(out)
