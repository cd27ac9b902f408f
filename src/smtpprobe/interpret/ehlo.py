"""The EHLO finding: the reply read into extensions (RFC 5321 §4.1.1.1) and what TLS changed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from smtpprobe.errors import localized
from smtpprobe.interpret._transcript import exchanges_for, is_skipped
from smtpprobe.kb import KnowledgeBase
from smtpprobe.numbers import MAX_DIGITS, ascii_number
from smtpprobe.reply import Reply
from smtpprobe.report import Exchange, Finding, Session, Status

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


def ehlo_finding(session: Session, kb: KnowledgeBase) -> Finding:
    """EHLO accepted (with its extensions), HELO fallback, or no greeting the server took."""
    ehlos, helos = exchanges_for(session, "EHLO"), exchanges_for(session, "HELO")
    if not ehlos and not helos:
        if is_skipped(session, "ehlo") or session.complete:
            return Finding("ehlo", Status.OK, kb.ui("probe_ehlo_not_tested"))
        return Finding("ehlo", Status.UNKNOWN, kb.ui("probe_ehlo_not_reached"))
    ehlo, helo = _accepted(ehlos), _accepted(helos)
    answered = [ex for ex in ehlos + helos if ex.reply is not None]
    if not answered:
        # Timed out or cut off: the connection finding says so and how bad it is.
        error = (ehlos + helos)[-1].error or session.error
        message = localized(error, kb)[0] if error else "-"
        summary = kb.ui("probe_ehlo_no_reply").format(message=message)
        return Finding("ehlo", Status.UNKNOWN, summary, evidence=tuple(ehlos + helos))
    if ehlo is None and helo is None:
        last = (ehlos + helos)[-1]
        code = str(last.reply.code) if last.reply is not None else "-"
        summary = kb.ui("probe_ehlo_refused").format(code=code)
        return Finding("ehlo", Status.CRITICAL, summary, evidence=tuple(ehlos + helos))
    if ehlo is None:
        assert helo is not None and helo.reply is not None
        first = ehlos[0].reply.code if ehlos and ehlos[0].reply is not None else "-"
        data = {"command": "HELO", "helo_fallback": True, **parse_ehlo(helo.reply).to_data()}
        summary = kb.ui("probe_ehlo_helo_fallback").format(code=first)
        return Finding("ehlo", Status.OK, summary, evidence=(*ehlos, helo), data=data)
    assert ehlo.reply is not None
    info = parse_ehlo(ehlo.reply)
    data = {"command": "EHLO", "helo_fallback": False, **info.to_data()}
    notes = [kb.ui("probe_ehlo_ok").format(count=len(info.extensions),
                                           names=" ".join(info.extensions) or "-")]
    before_reply = session.ehlo_before_tls
    accepted = [ex for ex in ehlos if ex.reply is not None and ex.reply.code == 250]
    if before_reply is None and len(accepted) > 1:
        before_reply = accepted[0].reply
    if before_reply is not None and session.tls is not None:
        before = parse_ehlo(before_reply)
        changes = tls_changes(before, info)
        data["before_tls"] = before.to_data()
        data["tls_changes"] = changes
        if changes["added"] or changes["removed"] or changes["changed"]:
            notes.append(kb.ui("probe_ehlo_tls_changed").format(
                added=" ".join(changes["added"]) or "-",
                removed=" ".join(changes["removed"]) or "-"))
        if changes["auth_only_with_tls"]:
            notes.append(kb.ui("probe_ehlo_auth_tls_only"))
    elif info.auth and session.tls is None:
        notes.append(kb.ui("probe_ehlo_auth_plaintext").format(mechanisms=" ".join(info.auth)))
    return Finding("ehlo", Status.OK, " ".join(notes), evidence=(ehlo,), data=data)
