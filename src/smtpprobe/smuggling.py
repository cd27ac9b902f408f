"""The SMTP smuggling check's test cases: the odd end-of-data sequences and the bytes sent.

Pure data. RFC 5321 §4.1.1.4 ends DATA on ``<CR><LF>.<CR><LF>`` only, and §2.3.8 forbids a
bare CR or LF; a server that ends DATA on anything else lets a message carry a second,
hidden transaction (SEC Consult, December 2023: CVE-2023-51764 Postfix, CVE-2023-51765
Sendmail, CVE-2023-51766 Exim). Each trial's second transaction goes to the same recipient.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

__all__ = [
    "CANDIDATES",
    "Candidate",
    "TrialBytes",
    "candidate",
    "new_marker",
    "trial_bytes",
]


@dataclass(frozen=True, slots=True)
class Candidate:
    """One test: a non-standard end-of-data sequence, or a bare CR or LF inside a line.

    ``name`` is the stable key (JSON, ``--candidate``); ``label`` shows the bytes as
    ``<LF>.<CR><LF>``; ``ends_data`` is False for the bare CR/LF tests, which put the
    odd byte in the middle of a line and smuggle nothing.
    """

    name: str
    sequence: bytes
    ends_data: bool = True

    @property
    def label(self) -> str:
        """The bytes as ``<LF>.<CR><LF>``; a mid-line test as ``…<CR>…``."""
        shown = "".join({13: "<CR>", 10: "<LF>"}.get(b, chr(b)) for b in self.sequence)
        return shown if self.ends_data else f"…{shown}…"

    @property
    def has_bare_lf(self) -> bool:
        """Whether the bytes hold an LF without a CR before it (RFC 5321 §2.3.8)."""
        return any(
            b == 10 and (i == 0 or self.sequence[i - 1] != 13) for i, b in enumerate(self.sequence)
        )


# The six sequences of the SEC Consult research and the smtpsmug/SMTP-Smuggling-Tools
# checkers, then the bare characters inside a line. Those with <CR><LF>. at the front cannot
# be produced through a conforming relay (it dot-stuffs them) but show how the server reads.
CANDIDATES = (
    Candidate("lf-dot-lf", b"\n.\n"),
    Candidate("lf-dot-crlf", b"\n.\r\n"),
    Candidate("crlf-dot-lf", b"\r\n.\n"),
    Candidate("cr-dot-cr", b"\r.\r"),
    Candidate("crlf-dot-cr", b"\r\n.\r"),
    Candidate("lf-dot-cr", b"\n.\r"),
    Candidate("bare-cr", b"\r", ends_data=False),
    Candidate("bare-lf", b"\n", ends_data=False),
)


def candidate(name: str) -> Candidate:
    """The candidate called *name*.

    :raises KeyError: no such candidate.
    """
    for found in CANDIDATES:
        if found.name == name:
            return found
    raise KeyError(name)


def new_marker() -> str:
    """A marker unique to one check run, in every subject, to find the test messages."""
    return "smtpprobe-smuggling-" + secrets.token_hex(4)


@dataclass(frozen=True, slots=True)
class TrialBytes:
    """What one trial sends after ``354``: *payload*, then *terminator* (``.<CR><LF>``).

    ``smuggled`` are the command lines hidden in the payload after the candidate, in
    order (``MAIL``, ``RCPT``, ``DATA``; for the bare CR/LF tests none): the lines a
    server that ended DATA early answers as commands.
    """

    payload: bytes
    smuggled: tuple[bytes, ...]
    terminator: bytes = b".\r\n"


def _headers(sender: str, recipient: str, subject: str) -> bytes:
    return (
        f"From: <{sender or 'postmaster'}>\r\nTo: <{recipient}>\r\nSubject: {subject}\r\n\r\n"
    ).encode()


def trial_bytes(test: Candidate, *, marker: str, sender: str, recipient: str) -> TrialBytes:
    """The bytes of one trial: a short message holding *test*'s bytes, and for an
    end-of-data candidate a complete second transaction to the same *recipient*.

    Addresses are sent as given (the CLI checked them); everything else is ASCII.

    :raises ValueError: an address holds CR, LF or an angle bracket (it would write its
        own lines into the content).
    """
    if any(c in address for address in (sender, recipient) for c in "\r\n<>"):
        raise ValueError("an address with CR, LF or <> cannot go into the test content")
    outer = _headers(sender, recipient, f"[{marker}] {test.name}: outer test message")
    text = (
        f"smtpprobe SMTP smuggling check {marker}: this message tests how the "
        f"server reads {test.label}."
    ).encode()
    if not test.ends_data:
        # Mid-line: "before<CR>after" is one line to a conforming server.
        body = text + b" before" + test.sequence + b"after\r\n"
        return TrialBytes(outer + body, ())
    smuggled = (f"MAIL FROM:<{sender}>".encode(), f"RCPT TO:<{recipient}>".encode(), b"DATA")
    inner = _headers(sender, recipient, f"[{marker}] {test.name}: SMUGGLED second message")
    inner += (
        f"If this arrived as a message of its own, the server ended DATA on "
        f"{test.label}: it is open to SMTP smuggling ({marker}).\r\n"
    ).encode()
    payload = outer + text + test.sequence + b"".join(line + b"\r\n" for line in smuggled)
    return TrialBytes(payload + inner, smuggled)
