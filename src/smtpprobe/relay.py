"""``--relay-check``: does the server take mail from a stranger for a stranger?

The standard relay tricks (nmap ``smtp-open-relay``, RFC 2505 §2.2), each as MAIL and
RCPT only, with RSET between them; DATA is never sent, so nothing is ever relayed. The
foreign parties use RFC 2606 names (``example.net``, ``example.org``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from smtpprobe.transaction import Transaction

if TYPE_CHECKING:
    from smtpprobe.recorder import Recorder

__all__ = [
    "DEFAULT_OUTSIDE",
    "FOREIGN_SENDER",
    "RELAY",
    "RelayTest",
    "relay_tests",
    "run_relay_tests",
]

# The phase of every relay-test exchange: apart from the probe's own MAIL/RCPT.
RELAY = "RELAY"
DEFAULT_OUTSIDE = "relay-test@example.net"
FOREIGN_SENDER = "smtpprobe@example.org"


@dataclass(frozen=True, slots=True)
class RelayTest:
    """One trick: its stable name, the envelope sender and the recipient it tries."""

    name: str
    sender: str
    recipient: str


def relay_tests(
    domain: str, address: str | None, outside: str = DEFAULT_OUTSIDE
) -> tuple[RelayTest, ...]:
    """The tests for a server calling itself *domain* at IP *address*, relaying to *outside*."""
    user, _, far = outside.rpartition("@")
    literal = f"[IPv6:{address}]" if address and ":" in address else f"[{address}]"
    own = f"smtpprobe@{domain}"
    tests = [
        RelayTest("foreign-sender", FOREIGN_SENDER, outside),
        RelayTest("null-sender", "", outside),
        RelayTest("own-domain-sender", own, outside),
        # Routing forms the server may rewrite into a foreign address after accepting.
        RelayTest("percent-hack", own, f"{user}%{far}@{domain}"),
        RelayTest("bang-path", own, f"{far}!{user}"),
        RelayTest("bang-path-domain", own, f"{far}!{user}@{domain}"),
        RelayTest("quoted-local-part", own, f'"{outside}"'),
        RelayTest("quoted-at-domain", own, f'"{outside}"@{domain}'),
        RelayTest("double-at", own, f"{outside}@{domain}"),
        RelayTest("source-route", own, f"@{domain}:{outside}"),
    ]
    if address:
        tests += [
            RelayTest("ip-literal-sender", f"smtpprobe@{literal}", outside),
            RelayTest("percent-hack-ip-literal", own, f"{user}%{far}@{literal}"),
            RelayTest("quoted-ip-literal", own, f'"{outside}"@{literal}'),
            RelayTest("source-route-ip-literal", own, f"@{literal}:{outside}"),
        ]
    return tuple(tests)


async def run_relay_tests(rec: Recorder, tests: tuple[RelayTest, ...]) -> None:
    """MAIL and RCPT for each test, RSET after each, all recorded in phase `RELAY`; the
    MAIL exchange carries the test's name as its ``argument``."""
    tx = Transaction(rec, phase=RELAY)
    for test in tests:
        mail = await tx.mail(test.sender, argument=test.name)
        if mail.klass == 2:
            await tx.rcpt(test.recipient)
        await tx.rset()
