"""aiosmtpd personas for the SMTP smuggling check: which end-of-data sequences a server takes.

``smuggle-strict`` is aiosmtpd itself (1.4.6 reads DATA by CRLF lines only). The others
read DATA byte by byte and also end it on extra sequences, as vulnerable MTAs did
(``smuggle-<candidate>`` on that one candidate, ``smuggle-lenient`` on the three LF
ones like Postfix with ``smtpd_forbid_bare_newline = no``), or refuse content with a bare
LF (``smuggle-rejects-bare-lf``). Accepted messages are appended to `RECEIVED`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from smtpprobe.smuggling import CANDIDATES
from tests.servers import DOMAIN

__all__ = ["RECEIVED", "SMUGGLING_PERSONAS"]

RECEIVED: list[tuple[str, bytes]] = []
_BARE_LF = re.compile(rb"(?<!\r)\n")


class Handler:
    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        RECEIVED.append(("strict", envelope.original_content or b""))
        return "250 2.0.0 Ok: queued"


class LenientSMTP(SMTP):
    """DATA ends on <CR><LF>.<CR><LF> or on any of ``extra_ends``."""

    extra_ends: tuple[bytes, ...] = ()
    refuse_bare_lf = False
    persona = "lenient"

    async def smtp_DATA(self, arg: str) -> None:
        if self.envelope is None or not self.envelope.rcpt_tos:
            await self.push("503 5.5.1 Error: need RCPT command")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        ends = (b"\r\n.\r\n", *self.extra_ends)
        data = bytearray(b"\r\n")  # the content starts at a line start
        while True:
            byte = await self._reader.read(1)
            if not byte:
                return
            data += byte
            hit = next((end for end in ends if data.endswith(end)), None)
            if hit is not None:
                # A CR-ended match followed by LF is a CRLF: take it, or it reads as an
                # empty command. StreamReader has no peek; its buffer is a bytearray.
                buffered = self._reader._buffer  # type: ignore[attr-defined]
                if hit.endswith(b"\r") and buffered[:1] == b"\n":
                    await self._reader.read(1)
                break
        content = bytes(data[2 : len(data) - len(hit)])
        if self.refuse_bare_lf and _BARE_LF.search(content):
            await self.push(f"550 5.5.2 {DOMAIN} Error: bare <LF> received")
        else:
            RECEIVED.append((self.persona, content))
            await self.push("250 2.0.0 Ok: queued")
        self._set_rset_state()


def _lenient(name: str, ends: tuple[bytes, ...], refuse: bool = False) -> type[LenientSMTP]:
    return type(
        f"Lenient_{name}",
        (LenientSMTP,),
        {"extra_ends": ends, "refuse_bare_lf": refuse, "persona": name},
    )


_CLASSES: dict[str, type[SMTP]] = {
    "smuggle-strict": SMTP,
    "smuggle-lenient": _lenient("smuggle-lenient", (b"\n.\n", b"\n.\r\n", b"\r\n.\n")),
    "smuggle-rejects-bare-lf": _lenient("smuggle-rejects-bare-lf", (), refuse=True),
    **{
        f"smuggle-{c.name}": _lenient(f"smuggle-{c.name}", (c.sequence,))
        for c in CANDIDATES
        if c.ends_data
    },
}
# In the shape of tests.servers.make_persona: (SMTP class, handler factory, kwargs).
SMUGGLING_PERSONAS: dict[str, tuple[type[SMTP], Callable[[], object], dict[str, Any]]] = {
    name: (smtp_class, Handler, {}) for name, smtp_class in _CLASSES.items()
}
