"""The embedded server behind ``smtpprobe demo``: aiosmtpd shaped like a real MTA, on loopback.

Each profile reproduces one real behaviour (reference: ``reply-codes.md`` §3): a well-run
MTA, Postfix with VRFY on, VRFY and EXPN turned off, AUTH required, HELP answered with 211.
STARTTLS uses a throwaway CA made at start by trustme; ``cafile`` lets the probe trust it.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import tempfile
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

__all__ = ["DEMO_HOSTNAME", "PROFILES", "DemoServer", "Profile"]

DEMO_HOSTNAME = "mx.demo.test"
DEMO_CERT_DAYS = 90
_KNOWN = frozenset({"postmaster", "root", "abuse", "hostmaster"})
_COMMANDS = "DATA EHLO HELO HELP MAIL NOOP QUIT RCPT RSET STARTTLS VRFY"


def _local(address: str) -> str:
    return address.strip("<>").partition("@")[0].lower()


def _postfix_vrfy(address: str) -> str:
    # Postfix with disable_vrfy_command = no: 252 for what passes the recipient checks.
    if _local(address) in _KNOWN:
        return f"252 2.0.0 {address}"
    return (
        f"550 5.1.1 <{address}>: Recipient address rejected: User unknown in local recipient table"
    )


@dataclass(frozen=True, slots=True)
class Profile:
    """One server behaviour: greeting text, HELP lines, and the VRFY/EXPN answers."""

    name: str
    ident: str
    help: tuple[str, ...]
    vrfy: Callable[[str], str]
    expn: Callable[[str], str]
    rcpt: Callable[[str], str] = lambda address: "250 2.1.5 Ok"


_HELP_214 = (
    "214-2.0.0 This is the smtpprobe demo server",
    f"214-2.0.0 Commands: {_COMMANDS}",
    "214 2.0.0 End of HELP info",
)
_AUTH = "530 5.7.0 Authentication required"

PROFILES: dict[str, Profile] = {
    profile.name: profile
    for profile in (
        Profile(
            "well-run",
            "ESMTP ready",
            _HELP_214,
            lambda a: "252 2.1.5 Cannot VRFY user, but will accept message and attempt delivery",
            lambda a: "502 5.5.1 EXPN command is disabled",
        ),
        Profile(
            "disclosing",
            "ESMTP Postfix",
            (f"214 2.0.0 Commands: {_COMMANDS}",),
            _postfix_vrfy,
            lambda a: "502 5.5.2 Error: command not recognized",
            lambda a: _postfix_vrfy(a).replace("252 2.0.0", "250 2.1.5", 1),
        ),
        Profile(
            "disabled",
            "ESMTP ready",
            _HELP_214,
            lambda a: "502 5.5.1 VRFY command is disabled",
            lambda a: "502 5.5.1 EXPN command is disabled",
        ),
        Profile(
            "auth-required",
            "ESMTP ready",
            (_AUTH,),
            lambda a: _AUTH,
            lambda a: _AUTH,
            lambda a: _AUTH,
        ),
        Profile(
            "status-211",
            "ESMTP ready",
            ("211-2.0.0 mx.demo.test smtpprobe demo", f"211 2.0.0 {_COMMANDS}"),
            lambda a: "252 2.1.5 Cannot VRFY user, but will accept message and attempt delivery",
            lambda a: "502 5.5.1 EXPN command is disabled",
        ),
    )
}
"""Every demo profile by name; ``well-run`` is the default."""


class _DemoSMTP(SMTP):
    """aiosmtpd with HELP, VRFY and EXPN answered the way the profile says."""

    def __init__(self, handler: Any, *, profile: Profile, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.profile = profile

    async def smtp_HELP(self, arg: str) -> None:
        for line in self.profile.help:
            await self.push(line)

    async def smtp_VRFY(self, arg: str) -> None:
        await self.push(self.profile.vrfy(arg) if arg else "501 5.5.4 Syntax: VRFY address")

    async def smtp_EXPN(self, arg: str) -> None:
        await self.push(self.profile.expn(arg) if arg else "501 5.5.4 Syntax: EXPN list")


class _Handler:
    def __init__(self, profile: Profile) -> None:
        self.profile = profile

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        reply = self.profile.rcpt(address)
        if reply.startswith("2"):
            envelope.rcpt_tos.append(address)
        return reply


class _Controller(Controller):
    def __init__(self, profile: Profile, **kwargs: Any) -> None:
        super().__init__(_Handler(profile), **kwargs)
        self.profile = profile

    def factory(self) -> SMTP:
        return _DemoSMTP(self.handler, profile=self.profile, **self.SMTP_kwargs)


def _free_port() -> int:
    # aiosmtpd 1.4 cannot listen on port 0 (aio-libs/aiosmtpd#388): pick one, then bind it.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class DemoServer:
    """A running demo server; use as a context manager, it always stops on exit.

    :param profile: a key of `PROFILES`.
    :raises KeyError: an unknown profile.
    :raises TimeoutError, OSError: on entry, when the server cannot start or bind.
    """

    host = "127.0.0.1"

    def __init__(self, profile: str = "well-run") -> None:
        self.profile = PROFILES[profile]
        self.port = 0
        self.cafile = ""
        self._controller: _Controller | None = None
        self._tmp: str | None = None

    def __enter__(self) -> DemoServer:
        ca = trustme.CA(organization_name="smtpprobe demo CA")
        # A 90-day certificate, like the ones real MTAs get from ACME CAs, so the TLS
        # finding shows a realistic "days left" instead of trustme's year-3000 default.
        now = datetime.now(UTC)
        leaf = ca.issue_cert(
            DEMO_HOSTNAME,
            self.host,
            common_name=DEMO_HOSTNAME,
            not_before=now - timedelta(days=1),
            not_after=now + timedelta(days=DEMO_CERT_DAYS),
        )
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        leaf.configure_cert(context)
        self._tmp = tempfile.mkdtemp(prefix="smtpprobe-demo-")
        self.cafile = str(Path(self._tmp) / "demo-ca.pem")
        ca.cert_pem.write_to_path(self.cafile)
        self.port = _free_port()
        self._controller = _Controller(
            self.profile,
            hostname=self.host,
            port=self.port,
            server_hostname=DEMO_HOSTNAME,
            ident=f"{self.profile.ident} (smtpprobe demo: {self.profile.name})",
            tls_context=context,
            ready_timeout=5.0,
        )
        try:
            self._controller.start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._controller is not None:
            with suppress(AssertionError):
                self._controller.stop(no_assert=True)
            self._controller = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
