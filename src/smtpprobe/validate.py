"""Validation of probe input at the API boundary, so that no injection reaches the wire.

Every value that ends up inside an SMTP command line (user, list, HELO name, domain,
control address) must be one token: no spaces, no control characters, no CR/LF. Numbers
from outside (a port, days, a server's SIZE) are read by one rule: `ascii_number`
(`smtpprobe.numbers`, re-exported here).
"""

from __future__ import annotations

import unicodedata

from smtpprobe.errors import Term, UsageError
from smtpprobe.numbers import ascii_number, finite_seconds
from smtpprobe.report import STEPS, AuthMechanism, ProbeOptions

__all__ = [
    "ascii_number",
    "check_credentials",
    "check_options",
    "check_token",
    "finite_seconds",
    "parse_host_port",
]


# Cc controls (CR, LF, NUL, ESC …), Cf format (zero-width, bidi overrides), line and
# paragraph separators: none of them belongs in a command argument.
_BAD_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Zs"})
# "<" and ">" would close the path of ``RCPT TO:<…>`` early (RFC 5321 §4.1.2).
_BAD_CHARACTERS = frozenset("<>")


def check_token(what: str, value: str, *, limit: int = 320) -> None:
    """Reject *value* unless it is one printable token of at most *limit* characters.

    :raises UsageError: empty, too long, or holding whitespace, a control character or
        an angle bracket.
    """
    term = what if what.startswith("-") else Term(what)  # an option's name stays as it is
    if not value:
        raise UsageError(key="error_token_empty", params={"what": term})
    if len(value) > limit:
        raise UsageError(key="error_token_too_long", params={"what": term, "limit": limit})
    for char in value:
        if (
            char in _BAD_CHARACTERS
            or char.isspace()
            or unicodedata.category(char) in _BAD_CATEGORIES
        ):
            raise UsageError(
                key="error_token_bad_character",
                params={"what": term, "value": value, "character": char},
            )


def check_options(host: str, options: ProbeOptions) -> str:
    """Validate *host* and *options*; return the host without IPv6 brackets.

    :raises UsageError: the first value that is not acceptable.
    """
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    check_token("host", host, limit=253)
    check_token("HELO name", options.helo, limit=255)
    if not options.helo.isascii():
        raise UsageError(key="error_helo_not_ascii", params={"helo": options.helo})
    for user in options.users:
        check_token("user", user)
    for name in options.lists:
        check_token("list", name)
    for what, value in (("domain", options.domain), ("control address", options.control_address)):
        if value is not None:
            check_token(what, value)
    if options.port is not None and not 0 < options.port < 65536:
        raise UsageError(key="error_port_range", params={"port": options.port})
    if not (options.deadline > 0 and options.command_timeout > 0):
        raise UsageError(key="error_timeouts_positive")
    # "ehlo" was a step once; EHLO is always sent now, so it is accepted and ignored.
    unknown = sorted(set(options.steps) - set(STEPS) - {"ehlo"})
    if unknown:
        raise UsageError(
            key="error_unknown_steps",
            params={"steps": ", ".join(unknown), "choices": ", ".join(STEPS)},
        )
    if options.auth_user is not None:
        check_credentials(options)
    return host


def check_credentials(options: ProbeOptions) -> None:
    """Accept ``auth_user`` and ``auth_password`` only as RFC 4616 PLAIN can carry them.

    The password never appears in a message.

    :raises UsageError: an empty or over-long user name or password, one holding a
        control character (NUL separates the PLAIN fields), an unknown mechanism.
    """
    user, password, token = options.auth_user or "", options.auth_password, options.auth_token
    if password is None and token is None:
        raise UsageError(key="error_auth_no_password")
    # RFC 4616 §2: authcid and passwd are 1*SAFE (no NUL); servers must take 255 octets.
    # An OAuth2 token (XOAUTH2) is a bearer string: no control characters either.
    checked = [(Term("user name"), user)]
    checked += [(Term("password"), password)] if password is not None else []
    checked += [(Term("token"), token)] if token is not None else []
    for what, value in checked:
        if not value:
            raise UsageError(key="error_auth_empty", params={"what": what})
        if len(value.encode()) > 255 and what != "token":  # Microsoft tokens run to 2 KB
            raise UsageError(key="error_auth_too_long", params={"what": what})
        if any(unicodedata.category(char) == "Cc" for char in value):
            raise UsageError(key="error_auth_control", params={"what": what})
    try:
        AuthMechanism(options.auth_mechanism)
    except ValueError:
        raise UsageError(
            key="error_auth_mechanism", params={"mechanism": options.auth_mechanism}
        ) from None


def parse_host_port(value: str) -> tuple[str, int | None]:
    """``host``, ``host:port``, ``[v6addr]:port`` or a bare IPv6 address → (host, port|None).

    :raises UsageError: an unclosed ``[``, no host, or a port outside 1-65535.
    """
    text, port = value.strip(), None
    if text.startswith("["):
        host, closed, rest = text[1:].partition("]")
        if not closed or (rest and not rest.startswith(":")):
            raise UsageError(key="error_hostport_ipv6", params={"text": text})
        port = _port(rest[1:]) if rest else None
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        port = _port(port_text)
    else:
        host = text  # a name, an IPv4 address, or an IPv6 address without a port
        if ":" in host and not _is_ipv6(host):
            raise UsageError(key="error_hostport_extra", params={"text": text})
    if not host:
        raise UsageError(key="error_hostport_no_host", params={"text": text})
    return host, port


def _port(text: str) -> int:
    port = ascii_number(text, max_digits=5)  # "²" or "٣٩٩٩" is no port
    if port is None or not 0 < port < 65536:
        raise UsageError(key="error_hostport_port", params={"text": text})
    return port


def _is_ipv6(text: str) -> bool:
    """An IPv6 address (``host:port:extra`` is not one, and is not looked up as a name)."""
    import ipaddress

    try:
        return ipaddress.ip_address(text).version == 6
    except ValueError:
        return False
