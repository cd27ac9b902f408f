"""The addresses a probe asks about: the real ones, a random control one, their qualified forms.

The enumeration verdict compares a real address with one that cannot exist, so both must
be asked the same way: when the server wants ``user@domain``, both get the same domain.
"""

from __future__ import annotations

import re
import secrets

from smtpprobe.reply import Reply

__all__ = ["Addresses", "control_address"]

_HOSTNAME = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z0-9-]*[A-Za-z0-9]")
# Servers that want user@domain for VRFY: Postfix "501 5.1.3 Bad recipient address syntax",
# "504 5.5.2 <u>: Recipient address rejected: need fully-qualified address", and kin.
_WANTS_DOMAIN = re.compile(r"domain|fully[- ]qualified|fqdn|address syntax", re.IGNORECASE)
# Postfix "454 4.7.1 <u>: Relay access denied", Exim "550 relay not permitted", Sendmail
# "550 5.7.1 <u>... Relaying denied": the address landed in a domain the server does not
# serve (a bare name gets myorigin, often the MX host name rather than the mail domain).
_RELAY_REFUSED = re.compile(
    r"relay(ing)? (access )?(denied|not permitted|prohibited)", re.IGNORECASE
)


# Syllables for control names that read like a person's (``maren.tovalik``): a fixed
# prefix or a hex string would let a server answer the control differently from everyone
# else (252 to it, 550 to real unknowns) and pass as "hidden".
_ONSETS = (
    "b",
    "br",
    "d",
    "dr",
    "f",
    "g",
    "h",
    "j",
    "k",
    "kr",
    "l",
    "m",
    "n",
    "p",
    "r",
    "s",
    "sh",
    "st",
    "t",
    "tr",
    "v",
    "w",
    "z",
)
_VOWELS = ("a", "e", "i", "o", "u", "a", "e", "i", "o", "ia")
_CODAS = ("", "", "", "", "n", "r", "l", "s", "k", "m")


def _name_part(syllables: int) -> str:
    return "".join(
        secrets.choice(_ONSETS) + secrets.choice(_VOWELS) + secrets.choice(_CODAS)
        for _ in range(syllables)
    )


def control_local_part() -> str:
    """A random local part shaped like a person's (letters, a separator or none, maybe
    digits), from `secrets`: over 40 bits, so it names nobody and cannot be predicted."""
    first, last = _name_part(2), _name_part(2 + secrets.randbelow(2))
    local = secrets.choice((".", "", "_", "-")).join((first, last))
    if secrets.randbelow(2):
        local += str(secrets.randbelow(100))
    return local


def control_address(users: tuple[str, ...]) -> str:
    """A random address that cannot exist, in the domain of the first real one that has one."""
    local = control_local_part()
    domain = next((user.rpartition("@")[2] for user in users if "@" in user), None)
    return f"{local}@{domain}" if domain else local


class Addresses:
    """Real and control addresses, and the domain-qualified forms actually sent.

    :param domain: the domain to qualify with (``--domain``); learned from the server's
        greeting when None.
    """

    def __init__(self, users: tuple[str, ...], control: str, domain: str | None) -> None:
        self.users = users
        self.control = control
        self.domain = domain
        self.qualified: dict[str, str] = {}
        self.wants_domain = False
        self._tried_domains: set[str] = set()

    @property
    def all(self) -> tuple[str, ...]:
        """The real addresses, then the control one: the order they are asked in."""
        return (*self.users, self.control)

    def learn_domain(self, reply: Reply) -> None:
        """Take the server's name (first word of a greeting or EHLO reply) as the domain."""
        words = reply.lines[0].split()[:1]
        if self.domain is None and words and _HOSTNAME.fullmatch(words[0]):
            self.domain = words[0]

    def qualify(self, address: str) -> str:
        """*address* with the domain added when it has none (and the mapping recorded)."""
        if "@" in address or self.domain is None:
            return address
        self.qualified[address] = f"{address}@{self.domain}"
        return self.qualified[address]

    def move_past_relay_refusal(self, reply: Reply, sent: str) -> bool:
        """After a relay refusal, switch to the next domain worth asking in; False if none.

        The next domain is the server's own name when a bare name was refused, then its
        parent (``mx.example.org`` → ``example.org``), where the users usually live.
        """
        if reply.klass not in (4, 5) or not _RELAY_REFUSED.search(reply.message):
            return False
        refused = sent.rpartition("@")[2] if "@" in sent else None
        if refused is not None:
            self._tried_domains.add(refused.lower())
        candidates = [self.domain] if refused is None else []
        if self.domain is not None and "." in self.domain.split(".", 1)[-1]:
            candidates.append(self.domain.split(".", 1)[1])
        for candidate in candidates:
            if candidate is not None and candidate.lower() not in self._tried_domains:
                self.domain, self.wants_domain = candidate, True
                self.qualified.clear()
                self._tried_domains.add(candidate.lower())
                return True
        return False

    def for_vrfy(self, address: str) -> str:
        """The form to ask VRFY about: bare, until the server has asked for a domain."""
        return self.qualify(address) if self.wants_domain else address

    def asks_for_domain(self, reply: Reply, sent: str) -> bool:
        """Whether *reply* to a bare *sent* address asks for ``user@domain`` (remembered)."""
        if "@" in sent or reply.code not in (501, 504, 553):
            return False
        wants = str(reply.enhanced) == "5.1.3" or bool(_WANTS_DOMAIN.search(reply.message))
        self.wants_domain = self.wants_domain or wants
        return wants
