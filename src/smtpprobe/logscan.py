"""Find SMTP replies in mail logs, bounces and saved transcripts: lines in, `Found` out.

Pure and I/O-free: `LogScanner.scan` iterates whatever it is given (a file object, a list)
and yields each reply as soon as its logical line is complete, so a million-line log is
never held in memory. Recognised: Postfix (``said: 550 …``, ``dsn=5.1.1``, ``reject: RCPT``),
Exim (``SMTP error from remote mail server after RCPT TO:<…>: 550 …``), Sendmail
(``dsn=5.1.1, stat=…``, ``reject=550 …``), DSN bounces (RFC 3464 ``Status:`` and
``Diagnostic-Code: smtp; …``) and transcripts (``S: 250 OK`` / ``<<< 250 OK``, ``C: VRFY x``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from typing import NamedTuple

__all__ = ["MAX_ENTRY_CHARS", "Found", "LogScanner", "scan_line", "scan_text"]

# One logical entry (a line and its indented continuation lines): a bounce's diagnostic
# runs to a few KiB; anything past this is not read.
MAX_ENTRY_CHARS = 65536


# A NamedTuple rather than a frozen dataclass: it is built once per reply in a hot loop, and
# a frozen dataclass's __init__ costs three times as much (object.__setattr__ per field).
class Found(NamedTuple):
    """One reply (or a bare enhanced status) found in a log.

    ``line``: 1-based number of the line the reply starts on. ``source``: the format it was
    read from (``postfix``, ``postfix-reject``, ``exim``, ``sendmail``, ``sendmail-reject``,
    ``dsn``, ``bounce``, ``transcript``). ``code``: the basic reply code, or None when the log
    gives only an enhanced status (``dsn=4.4.1`` after a timeout, a DSN ``Status:`` field).
    ``enhanced``: the enhanced status code as written (``5.1.1``), the reply's own or else
    the one the log attached. ``text``: the reply in wire form (``550 5.1.1 …``, lines joined
    by ``\\n``) when *code* is set, else the log's own words about the failure (may be "").
    ``command``: the verb the reply answers (``RCPT``, ``MAIL``, ``DATA_END``, ``CONNECT``).
    """

    line: int
    source: str
    code: int | None
    enhanced: str | None
    text: str
    command: str | None = None


# RFC 5321 §4.2: a reply starts with three digits and a space or hyphen; RFC 2034 §4 puts an
# RFC 3463 class.subject.detail after it.
_REPLY = re.compile(
    r"(?P<code>[2-5][0-9]{2})(?:[ -]|$)"
    r"(?:(?P<enh>[245]\.[0-9]{1,3}\.[0-9]{1,3})(?= |$))?"
)
_ENHANCED = re.compile(r"[245]\.[0-9]{1,3}\.[0-9]{1,3}")
# The commonest line of all, a Postfix delivery answered by the remote server, in one match:
# "dsn=5.1.1, status=bounced (host mx[ip] said: 550 5.1.1 … (in reply to RCPT TO command))".
_POSTFIX_SAID = re.compile(
    r"dsn=(?P<dsn>[245]\.[0-9]{1,3}\.[0-9]{1,3}), status=\w+ \(host \S+ said: "
    r"(?P<code>[2-5][0-9]{2})(?P<sep>[ -])(?:(?P<enh>[245]\.[0-9]{1,3}\.[0-9]{1,3})(?= ))?"
)
# Postfix logs a multi-line reply on one line: "550-5.1.1 a 550-5.1.1 b 550 5.1.1 c".
_CONTINUED = re.compile(r" (?=[2-5][0-9]{2}[ -])")

# Postfix smtp/lmtp delivery: "dsn=5.1.1, status=bounced (host x[ip] said: 550 …)".
# Sendmail delivery: "dsn=5.1.1, stat=User unknown" (stat may hold "Deferred: 451 4.3.0 …").
_DSN = re.compile(
    r"dsn=(?P<dsn>[245]\.[0-9]{1,3}\.[0-9]{1,3}), (?:status=\w+ \((?P<status>.*)\)"
    r"|stat=(?P<stat>.*))$"
)
# Postfix smtpd: "reject: RCPT from host[ip]: 554 5.7.1 <x>: Relay access denied; from=<a> …"
_REJECT = re.compile(r"reject: (?P<verb>[\w-]+) from [^\[\s]*\[[^\]]*\](?::\d+)?: (?P<rest>.*)$")
_REJECT_TRAILER = re.compile(r";(?: from=<[^>]*>)?(?: to=<[^>]*>)? proto=\S+(?: helo=<[^>]*>)?$")
# Sendmail check_* rulesets: "ruleset=check_rcpt, arg1=<x>, relay=…, reject=550 5.7.1 …".
_SM_REJECT = re.compile(r"reject=(?P<reply>[2-5][0-9]{2}[ -].*)$")
_SM_RULESET = re.compile(r"ruleset=check_(?P<rule>\w+)")
# Exim: "SMTP error from remote mail server after RCPT TO:<x>: 550 …" (older: "mailer",
# and "host h [ip]: " before the reply).
_EXIM = re.compile(
    r"SMTP error from remote mail(?:er| server| exchanger) after (?P<after>.+?): "
    r"(?:host \S+ \[[^\]]*\]: )?(?P<reply>[2-5][0-9]{2}[ -].*)$"
)
# RFC 3464 §2.3.4 and §2.3.6: per-recipient fields of a delivery status notification.
_STATUS_FIELD = re.compile(r"Status:[ \t]*(?P<enh>[245]\.[0-9]{1,3}\.[0-9]{1,3})", re.IGNORECASE)
_DIAG_FIELD = re.compile(
    r"Diagnostic-Code:[ \t]*(?P<type>[\w-]+)[ \t]*;[ \t]*(?P<text>.*)$", re.IGNORECASE
)
# Transcripts: "S: 250 OK", "<<< 250 OK", "< 250 OK" or a bare "250 OK"; client lines likewise.
_T_REPLY = re.compile(
    r"(?:(?:S:|<<<|<-|<)[ \t]?)?(?P<code>[2-5][0-9]{2})(?P<sep>[ -]|$)(?P<text>.*)$"
)
_T_CLIENT = re.compile(r"(?:C:|>>>|->|>)[ \t]?(?P<verb>[A-Za-z]{4,8})\b")
_T_SEP = frozenset(("", " ", "-", "\r", "\n"))
_T_PREFIX, _T_DIGIT, _DSN_FIRST = frozenset("SC<>-"), frozenset("2345"), frozenset("SsDd")
# Two-character line starts that may open a transcript line or a DSN field; everything else
# (a syslog "Nov 28 …" line) is settled by the substring tests alone.
_SPECIAL_START = frozenset(
    [f"{a}{b}" for a in "2345" for b in "0123456789"]
    + ["S:", "C:", "<<", "< ", "<-", ">>", "> ", "->", "St", "st", "ST", "Di", "di", "DI"]
)
_INDENTED, _SPECIAL = 1, 2
_FIRST_CHAR = {" ": _INDENTED, "\t": _INDENTED} | {c: _SPECIAL for c in "2345SsCDd<>-"}
_NOTHING: tuple[Found, ...] = ()

_VERBS = {
    "RCPT": "RCPT",
    "MAIL": "MAIL",
    "DATA": "DATA",
    "EHLO": "EHLO",
    "HELO": "HELO",
    "LHLO": "EHLO",
    "VRFY": "VRFY",
    "EXPN": "EXPN",
    "AUTH": "AUTH",
    "STARTTLS": "STARTTLS",
    "BDAT": "DATA_END",
    "NOOP": "NOOP",
    "RSET": "RSET",
    "QUIT": "QUIT",
    "HELP": "HELP",
    "ETRN": "ETRN",
    "CONNECT": "CONNECT",
    "END-OF-MESSAGE": "DATA_END",
    "HEADER": "DATA_END",
    "BODY": "DATA_END",
    "END": "DATA_END",
    "INITIAL": "CONNECT",
    "SENDING": "DATA_END",
    "RELAY": "CONNECT",
    "EOM": "DATA_END",
}


def _in_reply_to(text: str) -> tuple[str, str | None]:
    """Split Postfix's ``… (in reply to RCPT TO command)`` off a reply: (reply, verb)."""
    cut = text.rfind(" (in reply to ")
    if cut >= 0 and text.endswith(" command)"):
        return text[:cut], _verb(text[cut + 14 : -9])
    return text, None


def _said_found(number: int, line: str, match: re.Match[str]) -> Found:
    """A `Found` from a `_POSTFIX_SAID` match in *line* (string operations for the rest)."""
    text = line[match.start("code") :].rstrip()
    text, command = _in_reply_to(text.removesuffix(")"))
    if match["sep"] == "-":
        text = "\n".join(_CONTINUED.split(text))
    return Found(
        number, "postfix", int(match["code"]), match["enh"] or match["dsn"], text.rstrip(), command
    )


@functools.lru_cache(maxsize=256)
def _verb(words: str) -> str | None:
    first = words.split(None, 2)
    if not first:
        return None
    word = first[0].upper()
    if word == "PIPELINED" and len(first) > 1:
        word = first[1].upper()
    word = word.rstrip(":")
    return _VERBS.get(word, word if word.isalpha() and len(word) == 4 else None)


def _reply(
    line: int, source: str, text: str, command: str | None, fallback_enhanced: str | None = None
) -> Found | None:
    match = _REPLY.match(text)
    if match is None:
        return None
    if text[3:4] == "-":
        text = "\n".join(_CONTINUED.split(text))
    return Found(
        line, source, int(match["code"]), match["enh"] or fallback_enhanced, text.rstrip(), command
    )


def _said(line: int, source: str, text: str, dsn: str | None) -> Found | None:
    """The part after ``said:`` / ``refused to talk to me:`` with its ``(in reply to X)``."""
    _head, sep, reply = text.partition(" said: ")
    command: str | None = None
    if not sep:
        _head, sep, reply = text.partition(" refused to talk to me: ")
        if not sep:
            return None
        command = "CONNECT"
    reply, verb = _in_reply_to(reply.strip())
    return _reply(line, source, reply, verb or command, dsn)


def _delivery(line: str, number: int) -> Found | None:
    match = _DSN.search(line)
    if match is None:
        return None
    dsn, status = match["dsn"], match["status"]
    if status is not None:
        found = _said(number, "postfix", status, dsn)
        # "status=sent (250 2.0.0 Ok: queued as …)": the reply to the end of the data.
        return (
            found
            or _reply(number, "postfix", status, "DATA_END", dsn)
            or Found(number, "postfix", None, dsn, status)
        )
    stat = match["stat"]
    head, _, tail = stat.partition(": ")
    return _reply(number, "sendmail", tail or head, None, dsn) or Found(
        number, "sendmail", None, dsn, stat
    )


def _reject(line: str, number: int) -> Found | None:
    match = _REJECT.search(line)
    if match is not None:
        verb = _verb(match["verb"])
        rest = _REJECT_TRAILER.sub("", match["rest"])
        found = _reply(number, "postfix-reject", rest, verb)
        if found is not None:
            return found
        enhanced = _ENHANCED.match(rest)
        if enhanced is None:
            return None
        return Found(
            number, "postfix-reject", None, enhanced.group(), rest[enhanced.end() :].strip(), verb
        )
    sendmail = _SM_REJECT.search(line)
    if sendmail is None:
        return None
    rule = _SM_RULESET.search(line)
    return _reply(
        number, "sendmail-reject", sendmail["reply"], _verb(rule["rule"]) if rule else None
    )


def scan_line(line: str, number: int = 1) -> tuple[Found, ...]:
    """The replies in one logical log line (continuation lines already joined).

    Stateless formats only; `LogScanner` adds DSN ``Status:`` pairing and transcripts.
    """
    found: Found | None = None
    if "dsn=" in line:
        found = _delivery(line, number)
    if found is None and "said:" in line:
        found = _said(number, "bounce", line, None)
    if found is None and "SMTP error" in line:
        match = _EXIM.search(line)
        if match is not None:
            found = _reply(number, "exim", match["reply"], _verb(match["after"]))
    if found is None and "reject" in line:
        found = _reject(line, number)
    return _NOTHING if found is None else (found,)


class LogScanner:
    """Reads lines in order and yields every `Found`; keeps the little state formats need.

    State: a logical line being unfolded (indented continuation lines, as in bounces and
    RFC 5322 headers), a DSN ``Status:`` waiting for its ``Diagnostic-Code:``, a multi-line
    transcript reply, and the last client command seen in a transcript.
    """

    def __init__(self) -> None:
        self.lines = 0
        """Physical lines read so far."""
        self._status: Found | None = None
        self._multi: list[str] = []
        self._multi_line = 0
        self._command: str | None = None
        self._replied = False
        self._held = False

    def scan(self, lines: Iterable[str]) -> Iterator[Found]:
        """Yield the replies in *lines* (each with or without its line ending), in order."""
        hit, other, first_char = self._hit, self._other, _FIRST_CHAR.get
        said = _POSTFIX_SAID.search
        logical, start, special, held = "", 0, False, self._held
        # Continuation lines are collected and joined once (joining them one by one is
        # quadratic); past MAX_ENTRY_CHARS the rest of one logical entry is dropped.
        folded: list[str] = []
        room = 0
        number = self.lines
        for number, raw in enumerate(lines, self.lines + 1):
            kind = first_char(raw[:1])
            if kind is _INDENTED and logical and not raw.isspace():
                if not folded:
                    folded.append(logical.rstrip("\r\n"))
                    room = MAX_ENTRY_CHARS - len(folded[0])
                if room > 0:
                    piece = raw.strip()[:room]
                    folded.append(piece)
                    room -= len(piece) + 1
                continue
            if folded:
                logical = " ".join(folded)
                folded.clear()
            # The pre-filter: a few substring tests and no regex settle a line that carries
            # no reply (nine in ten in a busy mail log). Postfix and Sendmail both write
            # ", dsn="; a lone "j" is rarer than "reject" and cheaper to look for.
            if ", dsn=" in logical:
                if not held and (match := said(logical)) is not None:
                    yield _said_found(start, logical, match)
                else:
                    yield from hit(start, logical)
                    held = self._held
            elif (
                "said:" in logical
                or ("j" in logical and "reject" in logical)
                or "SMTP error" in logical
            ):
                yield from hit(start, logical)
                held = self._held
            elif special or held:
                yield from other(start, logical)
                held = self._held
            logical, start = raw, number
            special = kind is _SPECIAL and raw[:2] in _SPECIAL_START
        self.lines = number
        yield from hit(start, " ".join(folded) if folded else logical)
        yield from self._flush()

    def _hit(self, number: int, line: str) -> Iterable[Found]:
        line = line.rstrip("\r\n")
        if line[:2] in _SPECIAL_START:
            return self._other(number, line)
        scanned = scan_line(line, number)
        if not scanned:
            return self._other(number, line)
        return [*self._flush(), *scanned] if self._held else scanned

    def _other(self, number: int, line: str) -> Iterable[Found]:
        line = line.rstrip("\r\n")
        first = line[:1]
        if first in _DSN_FIRST and ("tatus:" in line or "iagnostic-" in line):
            return self._dsn_field(number, line)
        if first in _T_PREFIX or (first in _T_DIGIT and line[3:4] in _T_SEP):
            return self._transcript(number, line)
        if self._multi or (self._status is not None and not line.strip()):
            return list(self._flush())
        return scan_line(line, number)

    def _dsn_field(self, number: int, line: str) -> list[Found]:
        status = _STATUS_FIELD.match(line)
        if status is not None:
            found = list(self._flush())
            self._status, self._held = Found(number, "dsn", None, status["enh"], ""), True
            return found
        diag = _DIAG_FIELD.match(line)
        if diag is None:
            return list(scan_line(line, number))
        held, self._status = self._status, None
        self._held = bool(self._multi)
        text = diag["text"].strip()
        reply = None
        if diag["type"].lower() == "smtp":
            reply = _reply(number, "dsn", text, None, held.enhanced if held else None)
        if reply is None:
            return [held._replace(text=text)] if held is not None else []
        if held is not None and held.enhanced != reply.enhanced:
            return [held, reply]
        return [reply]

    def _transcript(self, number: int, line: str) -> list[Found]:
        match = _T_REPLY.match(line)
        if match is None:
            found = list(self._flush())
            client = _T_CLIENT.match(line)
            if client is not None and client["verb"].upper() in _VERBS:
                self._command = _VERBS[client["verb"].upper()]
            else:
                found.extend(scan_line(line, number))
            return found
        found = []
        if self._multi and not self._multi[-1].startswith(match["code"]):
            found.extend(self._flush())
        if not self._multi:
            self._multi_line = number
        self._multi.append(f"{match['code']}{match['sep'] or ' '}{match['text']}")
        self._held = True
        if match["sep"] != "-":
            found.extend(self._flush())
        return found

    def _flush(self) -> Iterator[Found]:
        self._held = False
        if self._status is not None:
            held, self._status = self._status, None
            yield held
        if self._multi:
            lines, self._multi = self._multi, []
            # A multi-line reply cut short is still read: its last line becomes the final one.
            lines[-1] = lines[-1][:3] + " " + lines[-1][4:]
            match = _REPLY.match(lines[0])
            if match is not None:
                # The first reply of a session, before any command, is the greeting.
                command = self._command or (None if self._replied else "CONNECT")
                yield Found(
                    self._multi_line,
                    "transcript",
                    int(match["code"]),
                    match["enh"],
                    "\n".join(lines).rstrip(),
                    command,
                )
                self._replied = True
            self._command = None


def scan_text(text: str) -> list[Found]:
    """Every reply in *text* (a whole small log, bounce or transcript)."""
    return list(LogScanner().scan(text.splitlines()))
