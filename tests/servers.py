"""SMTP server personas for the probe tests: aiosmtpd servers that answer like real MTAs.

Each persona reproduces the VRFY / EXPN / HELP / RCPT replies of one real server, with
the strings in docs/reference/vrfy-expn-help.md, plus a few misbehaving ones
(``421`` at connect, silent after the banner, closes in the middle of a reply).
`make_persona(name, loop=…)` builds the asyncio protocol for one connection; the
fixtures in ``conftest.py`` serve it in the test's loop or in a thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

__all__ = ["DOMAIN", "KNOWN_USERS", "LISTS", "PERSONAS", "make_persona"]

DOMAIN = "mx.test"
KNOWN_USERS = frozenset({"postmaster", "alice"})
LISTS = {
    "staff": ("Alice <alice@mx.test>", "Bob <bob@mx.test>"),
    "postmaster": ("<alice@mx.test>",),
}


def _is_known(address: str) -> bool:
    local, _, domain = address.strip("<>").lower().partition("@")
    return local in KNOWN_USERS and domain in ("", DOMAIN)


class PersonaSMTP(SMTP):
    """aiosmtpd with its EXPN and HELP overridable, and a multi-line push."""

    async def push_lines(self, code: int, lines: tuple[str, ...]) -> None:
        """Send *lines* as one multi-line reply (``250-a`` … ``250 z``)."""
        *head, last = lines
        for line in head:
            await self.push(f"{code}-{line}")
        await self.push(f"{code} {last}")


class RcptHandler:
    """RCPT that tells known from unknown users (as Postfix and most MTAs do)."""

    unknown_rcpt = "550 5.1.1 <{}>: Recipient address rejected: User unknown"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if not _is_known(address):
            return self.unknown_rcpt.format(address)
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"


class DisclosingHandler(RcptHandler):
    """VRFY that answers truthfully: Sendmail without ``novrfy``, Exchange 5.5 EnableVRFY."""

    async def handle_VRFY(
        self, server: SMTP, session: Session, envelope: Envelope, address: str
    ) -> str:
        if _is_known(address):
            return f"250 2.1.5 <{address}>"
        return f"550 5.1.1 <{address}>... User unknown"


class PostfixSMTP(PersonaSMTP):
    """Postfix 3.9 with ``disable_vrfy_command = no`` (its default)."""

    vrfy_disabled = False
    unknown = "550 5.1.1 <{}>: Recipient address rejected: User unknown in local recipient table"

    async def smtp_VRFY(self, arg: str | None) -> None:
        if self.vrfy_disabled:
            await self.push("502 5.5.1 VRFY command is disabled")
        elif not arg:
            await self.push("501 5.5.4 Syntax: VRFY address [SMTPUTF8]")
        elif "@" not in arg:
            await self.push("501 5.1.3 Bad recipient address syntax")
        elif _is_known(arg):
            await self.push(f"252 2.0.0 {arg}")
        else:
            await self.push(self.unknown.format(arg.strip("<>")))

    async def smtp_EXPN(self, arg: str | None) -> None:
        await self.push("500 5.5.2 Error: command not recognized")

    async def smtp_HELP(self, arg: str | None) -> None:
        await self.push(
            "214 2.0.0 Commands: AUTH BDAT DATA EHLO ETRN HELO HELP MAIL NOOP QUIT "
            "RCPT RSET STARTTLS VRFY XCLIENT XFORWARD"
        )


class PostfixNoVrfySMTP(PostfixSMTP):
    """Postfix with ``disable_vrfy_command = yes``."""

    vrfy_disabled = True


class PostfixHandler(RcptHandler):
    unknown_rcpt = PostfixSMTP.unknown

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        kept = [line for line in responses[:-1] if not line.startswith("250-AUTH")]
        return [*kept, "250-VRFY", "250-ENHANCEDSTATUSCODES", "250 CHUNKING"]


class EximSMTP(PersonaSMTP):
    """Exim 4 with no ``acl_smtp_vrfy`` / ``acl_smtp_expn`` (both deny by default)."""

    async def smtp_VRFY(self, arg: str | None) -> None:
        await self.push("252 Administrative prohibition")

    async def smtp_EXPN(self, arg: str | None) -> None:
        await self.push("550 Administrative prohibition")

    async def smtp_HELP(self, arg: str | None) -> None:
        await self.push_lines(
            214,
            (
                "Commands supported:",
                "AUTH STARTTLS HELO EHLO MAIL RCPT DATA BDAT NOOP QUIT RSET HELP",
            ),
        )


class DisabledSMTP(PersonaSMTP):
    """VRFY, EXPN and HELP all refused as not implemented (simta, Interactsh)."""

    async def smtp_VRFY(self, arg: str | None) -> None:
        await self.push("502 5.5.1 Command not implemented")

    async def smtp_EXPN(self, arg: str | None) -> None:
        await self.push("502 5.5.1 Command not implemented")

    async def smtp_HELP(self, arg: str | None) -> None:
        await self.push("502 5.3.0 Sendmail 8.17.2 -- HELP not implemented")


class HMailServerSMTP(PersonaSMTP):
    """hMailServer: HELP answers 211, one of the few 211s seen in the wild."""

    async def smtp_HELP(self, arg: str | None) -> None:
        await self.push("211 DATA HELO EHLO MAIL NOOP QUIT RCPT RSET SAML TURN VRFY")


class HeloOnlySMTP(PersonaSMTP):
    """An RFC 821 server: EHLO is an unknown command, HELO works."""

    async def smtp_EHLO(self, arg: str | None) -> None:
        await self.push("502 5.5.2 Error: command not recognized")


class ExpnListSMTP(PersonaSMTP):
    """EXPN that expands a list in a multi-line 250 (Sendmail without ``noexpn``)."""

    async def smtp_EXPN(self, arg: str | None) -> None:
        members = LISTS.get((arg or "").strip("<>").lower())
        if members is None:
            await self.push(f"550 5.1.1 {arg}... User unknown")
        else:
            await self.push_lines(250, tuple(f"2.1.5 {m}" for m in members))


class StraySMTP(PersonaSMTP):
    """Sends a plaintext line right after ``220 Ready to start TLS`` (CVE-2011-0411 test)."""

    async def push(self, status: Any) -> None:
        if status == "220 Ready to start TLS":
            status += "\r\n250 2.0.0 injected before the handshake"
        await super().push(status)


class _Scripted(asyncio.Protocol):
    """A bare protocol for misbehaving servers; keeps its transport for cleanup."""

    banner = b"220 mx.test ESMTP\r\n"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.banner)


class SilentAfterBanner(_Scripted):
    """Greets, then never answers anything."""


class Refuses421(_Scripted):
    """``421`` at connect, then closes (RFC 5321 §3.1: a server that will not talk)."""

    banner = b"421 4.3.2 mx.test Service not available, closing transmission channel\r\n"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.transport.close()


class ClosesMidReply(_Scripted):
    """Answers the first command with half a multi-line reply, then hangs up."""

    def data_received(self, data: bytes) -> None:
        self.transport.write(b"250-mx.test\r\n250-PIPELINING\r\n250-SIZ")
        self.transport.close()


_SMTP_PERSONAS: dict[str, tuple[type[SMTP], Callable[[], object], dict[str, Any]]] = {
    "hidden": (PersonaSMTP, object, {}),
    "disclosing": (PersonaSMTP, DisclosingHandler, {}),
    "postfix": (PostfixSMTP, PostfixHandler, {"ident": "ESMTP Postfix (Debian/GNU)"}),
    "postfix-novrfy": (PostfixNoVrfySMTP, PostfixHandler, {"ident": "ESMTP Postfix (Debian/GNU)"}),
    "exim": (EximSMTP, RcptHandler, {"ident": "ESMTP Exim 4.97 Mon, 01 Jan 2024 00:00:00 +0000"}),
    "disabled": (DisabledSMTP, RcptHandler, {}),
    "auth-required": (PersonaSMTP, object, {"auth_required": True}),
    "hmailserver": (HMailServerSMTP, RcptHandler, {"ident": "ESMTP"}),
    "helo-only": (HeloOnlySMTP, RcptHandler, {}),
    "expn-list": (ExpnListSMTP, DisclosingHandler, {}),
    "stray-after-starttls": (StraySMTP, object, {}),
    # aiosmtpd's per-command budget: the second VRFY gets "421 4.7.0 VRFY sent too many times".
    "vrfy-limit": (PersonaSMTP, object, {"command_call_limit": {"VRFY": 1}}),
}
_SCRIPTED: dict[str, type[_Scripted]] = {
    "silent": SilentAfterBanner,
    "421": Refuses421,
    "closes-mid-reply": ClosesMidReply,
}
PERSONAS = (*_SMTP_PERSONAS, *_SCRIPTED)


def make_persona(
    name: str,
    *,
    loop: asyncio.AbstractEventLoop,
    hostname: str = DOMAIN,
    tls_context: Any = None,
) -> asyncio.Protocol:
    """One connection's protocol for persona *name*; *tls_context* enables STARTTLS."""
    if name in _SCRIPTED:
        return _SCRIPTED[name]()
    if name not in _SMTP_PERSONAS:  # the mail-transaction personas have their own modules
        from tests.mail_personas import DELIVERY_PERSONAS
        from tests.smuggling_personas import SMUGGLING_PERSONAS

        smtp_class, handler_class, kwargs = {**DELIVERY_PERSONAS, **SMUGGLING_PERSONAS}[name]
    else:
        smtp_class, handler_class, kwargs = _SMTP_PERSONAS[name]
    return smtp_class(
        handler_class(), hostname=hostname, tls_context=tls_context, loop=loop, **kwargs
    )
