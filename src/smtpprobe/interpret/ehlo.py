"""The EHLO finding: the reply read into extensions (RFC 5321 §4.1.1.1) and what TLS changed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from smtpprobe.numbers import MAX_DIGITS, ascii_number
from smtpprobe.reply import Reply
from smtpprobe.report import Exchange, Finding, Note, Session, Status
from smtpprobe.transcript import exchanges_for

__all__ = ["FLAGS", "EhloInfo", "ehlo_finding", "parse_ehlo", "tls_changes"]

# Extensions reported as booleans; everything else is kept as the server wrote it.
FLAGS = (
    "STARTTLS",
    "PIPELINING",
    "SMTPUTF8",
    "CHUNKING",
    "8BITMIME",
    "DSN",
    "ENHANCEDSTATUSCODES",
    "REQUIRETLS",
)
_STRUCTURED = frozenset(FLAGS) | {"SIZE", "AUTH"}


@dataclass(frozen=True, slots=True)
class EhloInfo:
    """One EHLO (or HELO) reply: the name the server gave and its extensions."""

    greeting: str
    extensions: Mapping[str, str] = field(default_factory=dict)

    @property
    def size(self) -> int | None:
        """The SIZE limit in octets (RFC 1870 §4); None when absent or given without a number."""
        return ascii_number(self.extensions.get("SIZE", "").strip(), max_digits=MAX_DIGITS)

    @property
    def malformed(self) -> dict[str, str]:
        """Numeric parameters that are not numbers (``SIZE ²³``, a 5000-digit SIZE): keyword
        to the value as sent, cut to 64 characters. RFC 1870 §4 allows SIZE with no number."""
        value = self.extensions.get("SIZE", "").strip()
        if value and self.size is None:
            return {"SIZE": value[:64]}
        return {}

    @property
    def auth(self) -> tuple[str, ...]:
        """AUTH mechanisms (RFC 4954 §3), including the pre-standard ``AUTH=LOGIN`` form."""
        mechanisms: list[str] = []
        for keyword, value in self.extensions.items():
            if keyword == "AUTH" or keyword.startswith("AUTH="):
                words = value.split() + keyword.partition("=")[2].split()
                mechanisms.extend(m.upper() for m in words if m.upper() not in mechanisms)
        return tuple(mechanisms)

    def has(self, keyword: str) -> bool:
        return keyword.upper() in self.extensions

    def to_data(self) -> dict[str, Any]:
        """Plain JSON-ready facts: flags, SIZE, AUTH, and the others as given."""
        data: dict[str, Any] = {
            "greeting": self.greeting,
            "size": self.size,
            "size_advertised": self.has("SIZE"),
            "auth": list(self.auth),
        }
        if self.malformed:
            data["malformed"] = self.malformed
        data.update({flag.lower(): self.has(flag) for flag in FLAGS})
        data["other"] = {
            k: v
            for k, v in self.extensions.items()
            if k not in _STRUCTURED and not k.startswith("AUTH=")
        }
        return data


def parse_ehlo(reply: Reply) -> EhloInfo:
    """Read *reply*: line one names the server, each further line is ``KEYWORD [params]``."""
    first = reply.lines[0].split()
    extensions: dict[str, str] = {}
    for line in reply.lines[1:]:
        words = line.strip().split(None, 1)
        if words:
            extensions[words[0].upper()] = words[1].strip() if len(words) > 1 else ""
    return EhloInfo(greeting=first[0] if first else "", extensions=extensions)


def tls_changes(before: EhloInfo, after: EhloInfo) -> dict[str, Any]:
    """What the EHLO inside TLS offers differently from the one before STARTTLS."""
    added = sorted(set(after.extensions) - set(before.extensions))
    removed = sorted(set(before.extensions) - set(after.extensions))
    changed = {
        keyword: {"before": before.extensions[keyword], "after": after.extensions[keyword]}
        for keyword in sorted(set(before.extensions) & set(after.extensions))
        if before.extensions[keyword] != after.extensions[keyword]
    }
    return {
        "added": added,
        "removed": removed,
        "changed": changed,
        "auth_only_with_tls": bool(after.auth) and not before.auth,
    }


def _accepted(exchanges: list[Exchange]) -> Exchange | None:
    good = [ex for ex in exchanges if ex.reply is not None and ex.reply.code == 250]
    return good[-1] if good else None


# Challenge-response mechanisms never send the password itself (RFC 2195, RFC 6331);
# PLAIN and LOGIN do, so only those put it in clear over a plain connection.
_CLEAR_MECHANISMS = frozenset({"PLAIN", "LOGIN"})


def ehlo_finding(session: Session) -> Finding:
    """EHLO accepted (with its extensions), HELO fallback, or no greeting the server took."""
    ehlos, helos = exchanges_for(session, "EHLO"), exchanges_for(session, "HELO")
    tried = ehlos + helos
    if not tried:
        return Finding("ehlo", Status.OK if session.complete else Status.UNKNOWN, "not-reached")
    ehlo, helo = _accepted(ehlos), _accepted(helos)
    if not any(ex.reply is not None for ex in tried):
        # Timed out or cut off: the connection finding says so and how bad it is.
        return Finding(
            "ehlo",
            Status.UNKNOWN,
            "no-reply",
            evidence=tuple(tried),
            cause=tried[-1].error or session.error,
        )
    if ehlo is None and helo is None:
        last = tried[-1]
        code = last.reply.code if last.reply is not None else None
        return Finding("ehlo", Status.CRITICAL, "refused", {"code": code}, evidence=tuple(tried))
    if ehlo is None:
        assert helo is not None and helo.reply is not None
        first = ehlos[0].reply.code if ehlos and ehlos[0].reply is not None else None
        data = {"command": "HELO", "helo_fallback": True, **parse_ehlo(helo.reply).to_data()}
        return Finding(
            "ehlo", Status.OK, "helo-fallback", {"code": first}, evidence=(*ehlos, helo), data=data
        )
    assert ehlo.reply is not None
    info = parse_ehlo(ehlo.reply)
    data = {"command": "EHLO", "helo_fallback": False, **info.to_data()}
    params = {"count": len(info.extensions), "names": list(info.extensions)}
    notes: list[Note] = []
    before_reply = session.ehlo_before_tls
    accepted = [ex for ex in ehlos if ex.reply is not None and ex.reply.code == 250]
    if before_reply is None and len(accepted) > 1:
        before_reply = accepted[0].reply
    if before_reply is not None and session.tls is not None:
        before = parse_ehlo(before_reply)
        changes = tls_changes(before, info)
        data["before_tls"] = before.to_data()
        data["tls_changes"] = changes
        # RFC 3207 §4.2: STARTTLS must not be offered again inside TLS; no news there.
        dropped = [name for name in changes["removed"] if name != "STARTTLS"]
        if changes["added"]:
            notes.append(Note("tls-added", {"added": changes["added"]}))
        if dropped:
            notes.append(Note("tls-dropped", {"removed": dropped}))
        if changes["auth_only_with_tls"]:
            notes.append(Note("auth-tls-only"))
    elif info.auth and session.tls is None:
        clear = [m for m in info.auth if m in _CLEAR_MECHANISMS]
        if clear:
            notes.append(Note("auth-plaintext", {"mechanisms": clear}))
        else:
            notes.append(Note("auth-challenge-only", {"mechanisms": list(info.auth)}))
    return Finding(
        "ehlo", Status.OK, "accepted", params, evidence=(ehlo,), notes=tuple(notes), data=data
    )
