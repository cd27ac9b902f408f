"""aiosmtpd personas for mail transactions: accept, partial accept, defer, refuse, BDAT,
SMTPUTF8, an open relay, a closed one, one with the %-hack hole, a greylisting one.

Every message a persona accepts is appended to `RECEIVED` (the envelope and the exact
octets read after dot-unstuffing), so tests read back what really arrived.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.servers import DOMAIN, PersonaSMTP, RcptHandler

__all__ = ["DELIVERY_PERSONAS", "RECEIVED", "Received", "queue_id_of"]


@dataclass(frozen=True)
class Received:
    """One accepted message: envelope, content, the queue id the persona announced."""

    persona: str
    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes
    queue_id: str
    chunked: bool = False


RECEIVED: list[Received] = []
_IDS = itertools.count(0x4A1B2C)


def queue_id_of(number: int) -> str:
    return f"4Q{number:X}"


class AcceptHandler:
    """Postfix-like: every recipient accepted, ``250 2.0.0 Ok: queued as 4Q…``."""

    persona = "accept"
    chunking = False

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        if self.chunking:
            responses.insert(-1, "250-CHUNKING")
        return responses

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    def accept(self, envelope: Envelope, content: bytes, *, chunked: bool = False) -> str:
        queue_id = queue_id_of(next(_IDS))
        RECEIVED.append(
            Received(
                self.persona,
                str(envelope.mail_from),
                tuple(envelope.rcpt_tos),
                content,
                queue_id,
                chunked,
            )
        )
        return f"250 2.0.0 Ok: queued as {queue_id}"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        return self.accept(envelope, content)


class PartialHandler(RcptHandler, AcceptHandler):
    """Known users accepted, others ``550 5.1.1 … User unknown``."""

    persona = "partial"


class DeferHandler(AcceptHandler):
    """Recipients accepted, the message deferred at the end of the data."""

    persona = "defer"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return "451 4.3.0 Error: queue file write error"


class RefuseHandler(AcceptHandler):
    """Every recipient refused as a relay attempt (the closed-relay answer, too)."""

    persona = "refuse"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        return f"554 5.7.1 <{address}>: Relay access denied"


class ClosedRelayHandler(AcceptHandler):
    """Postfix ``reject_unauth_destination``: only its own domain, relay denied else.

    Postfix reads ``%`` and ``!`` in a local part as routing and refuses them too.
    """

    persona = "closed-relay"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        local, _, domain = address.strip("<>").rpartition("@")
        if domain.lower() != DOMAIN or any(c in local for c in '%!@:"'):
            return f"554 5.7.1 <{address}>: Relay access denied"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"


class PercentHackHandler(ClosedRelayHandler):
    """Closed to plain foreign recipients, but takes ``user%example.net@mx.test`` (the
    %-hack relay hole of old sendmail configurations)."""

    persona = "percent-hack"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        local, _, domain = address.strip("<>").rpartition("@")
        if domain.lower() == DOMAIN and "%" in local:
            envelope.rcpt_tos.append(address)
            return "250 2.1.5 Ok"
        return await super().handle_RCPT(server, session, envelope, address, options)


class GreylistHandler(AcceptHandler):
    """Every recipient greylisted (Postgrey's words): nothing decided yet."""

    persona = "greylist"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        return (
            f"450 4.2.0 <{address}>: Recipient address rejected: Greylisted, see "
            "http://postgrey.schweikert.ch/help/mx.test.html"
        )


class ChunkingHandler(AcceptHandler):
    persona = "bdat"
    chunking = True


class ChunkingSMTP(PersonaSMTP):
    """aiosmtpd with BDAT (RFC 3030), which aiosmtpd lacks: chunks read by octet count."""

    _chunks: list[bytes]

    async def smtp_BDAT(self, arg: str | None) -> None:
        words = (arg or "").split()
        if not words or not words[0].isdigit() or words[1:] not in ([], ["LAST"]):
            await self.push("501 5.5.4 Syntax: BDAT size [LAST]")
            return
        chunk = await self._reader.readexactly(int(words[0]))
        envelope = self.envelope
        if envelope is None or not envelope.rcpt_tos:
            await self.push("503 5.5.1 Error: need RCPT command")
            return
        self._chunks = getattr(self, "_chunks", []) + [chunk]
        if words[1:] != ["LAST"]:
            await self.push(f"250 2.0.0 {len(chunk)} octets received")
            return
        content, self._chunks = b"".join(self._chunks), []
        handler = self.event_handler
        assert isinstance(handler, AcceptHandler)
        await self.push(handler.accept(envelope, content, chunked=True))
        self._set_rset_state()


DELIVERY_PERSONAS: dict[str, tuple[type[SMTP], Callable[[], object], dict[str, Any]]] = {
    "accept": (PersonaSMTP, AcceptHandler, {"ident": "ESMTP Postfix (Debian/GNU)"}),
    "partial": (PersonaSMTP, PartialHandler, {}),
    "defer": (PersonaSMTP, DeferHandler, {}),
    "refuse": (PersonaSMTP, RefuseHandler, {}),
    "bdat": (ChunkingSMTP, ChunkingHandler, {}),
    "smtputf8": (PersonaSMTP, AcceptHandler, {"enable_SMTPUTF8": True}),
    "open-relay": (PersonaSMTP, AcceptHandler, {}),
    "closed-relay": (PersonaSMTP, ClosedRelayHandler, {}),
    "percent-hack": (PersonaSMTP, PercentHackHandler, {}),
    "greylist": (PersonaSMTP, GreylistHandler, {}),
    # aiosmtpd leaves 8BITMIME out of EHLO when it decodes the data itself.
    "no-8bitmime": (PersonaSMTP, AcceptHandler, {"decode_data": True}),
}
