"""A small authoritative DNS server on 127.0.0.1 (UDP and TCP, one port) for tests.

Answers are built with dnspython from a dict of records::

    {"example.test.": {"MX": ["10 mx1.example.test."]}, "mx1.example.test.": {"A": ["127.0.0.1"]}}

Unknown names get NXDOMAIN, known names without the asked type NOERROR with no answer
(NODATA), a CNAME is followed within the records. Names in ``silent`` get no reply at all
(the client times out), names in ``servfail`` get SERVFAIL. A UDP answer larger than the
client allows (512 octets without EDNS) comes back truncated, so the client retries
over TCP, as with a real server. Answers for names in ``authenticated`` (or for every
name with ``authenticated=True``) carry the AD flag, as from a validating resolver.
``dns_server`` is the fixture; `DnsServer` also works as a context manager and records
every question it was asked in ``queries``.
"""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import Self

import dns.asyncresolver
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.nameserver
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

Records = Mapping[str, Mapping[str, Sequence[str]]]

__all__ = ["DnsServer", "Records", "dns_server"]


def _key(name: str | dns.name.Name) -> str:
    text = name.to_text() if isinstance(name, dns.name.Name) else name
    return text.lower() if text.endswith(".") else text.lower() + "."


class DnsServer:
    """The server: `start` binds a free port for UDP and the same port for TCP."""

    def __init__(
        self,
        records: Records,
        *,
        silent: Collection[str] = (),
        servfail: Collection[str] = (),
        ttl: int = 300,
        authenticated: bool | Collection[str] = False,
    ) -> None:
        self.records = {
            _key(name): {rdtype.upper(): list(values) for rdtype, values in types.items()}
            for name, types in records.items()
        }
        self.silent = {_key(name) for name in silent}
        self.servfail = {_key(name) for name in servfail}
        self.ttl = ttl
        self.authenticated = (
            authenticated
            if isinstance(authenticated, bool)
            else {_key(name) for name in authenticated}
        )
        self.queries: list[tuple[str, str, str]] = []  # (transport, name, type)
        self.port = 0
        self._servers: list[socketserver.BaseServer] = []
        self._threads: list[threading.Thread] = []

    # -- answers (no sockets) ---------------------------------------------------------------

    def answer(self, wire: bytes, *, transport: str, max_size: int = 65535) -> bytes | None:
        """The reply to the query in *wire*, or None to stay silent."""
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        if len(query.question) != 1:
            return None
        question = query.question[0]
        name, rdtype = _key(question.name), dns.rdatatype.to_text(question.rdtype)
        self.queries.append((transport, name, rdtype))
        if name in self.silent:
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if name in self.servfail:
            response.set_rcode(dns.rcode.SERVFAIL)
        else:
            self._fill(response, question.name, rdtype)
            if self.authenticated is True or (
                not isinstance(self.authenticated, bool) and name in self.authenticated
            ):
                response.flags |= dns.flags.AD  # RFC 4035 §3.2.3: the data was validated
        try:
            return response.to_wire(max_size=max_size)
        except dns.exception.TooBig:
            # RFC 1035 §4.2.1 / RFC 7766: too big for UDP → TC set, the client asks over TCP.
            truncated = dns.message.make_response(query)
            truncated.flags |= dns.flags.AA | dns.flags.TC
            return truncated.to_wire()

    def _fill(self, response: dns.message.Message, qname: dns.name.Name, rdtype: str) -> None:
        current = qname
        for _hop in range(8):
            node = self.records.get(_key(current))
            if node is None:
                response.set_rcode(dns.rcode.NXDOMAIN)
                return
            if rdtype in node:
                response.answer.append(
                    dns.rrset.from_text_list(current, self.ttl, "IN", rdtype, node[rdtype])
                )
                return
            if "CNAME" not in node:
                return  # NODATA
            alias = dns.rrset.from_text_list(current, self.ttl, "IN", "CNAME", node["CNAME"])
            response.answer.append(alias)
            current = alias[0].target

    # -- sockets -----------------------------------------------------------------------------

    def start(self) -> None:
        """Listen on 127.0.0.1, UDP and TCP on one free port, each in a daemon thread."""
        dns_server = self

        class Udp(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                data, sock = self.request
                reply = dns_server.answer(data, transport="udp", max_size=_udp_limit(data))
                if reply is not None:
                    sock.sendto(reply, self.client_address)

        class Tcp(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                sock: socket.socket = self.request
                sock.settimeout(2.0)
                while (data := _read_tcp(sock)) is not None:
                    reply = dns_server.answer(data, transport="tcp")
                    if reply is not None:
                        sock.sendall(len(reply).to_bytes(2, "big") + reply)

        for _attempt in range(20):
            udp = socketserver.UDPServer(("127.0.0.1", 0), Udp)
            try:
                tcp = socketserver.ThreadingTCPServer(("127.0.0.1", udp.server_address[1]), Tcp)
            except OSError:  # that port is taken for TCP: try another
                udp.server_close()
                continue
            break
        else:
            raise RuntimeError("no free port for both UDP and TCP")
        tcp.daemon_threads = True
        self.port = udp.server_address[1]
        self._servers = [udp, tcp]
        for server in self._servers:
            thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=2.0)
        self._servers, self._threads = [], []

    def resolver(self, *, lifetime: float = 2.0) -> dns.asyncresolver.Resolver:
        """A resolver that asks only this server, without /etc/resolv.conf or a cache."""
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [dns.nameserver.Do53Nameserver("127.0.0.1", self.port)]
        resolver.lifetime = lifetime
        resolver.timeout = lifetime
        return resolver

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _udp_limit(wire: bytes) -> int:
    """What the client can take over UDP: its EDNS payload size, else 512 (RFC 1035 §2.3.4)."""
    try:
        query = dns.message.from_wire(wire)
    except dns.exception.DNSException:
        return 512
    return max(query.payload, 512) if query.edns >= 0 else 512


def _read_exactly(sock: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        try:
            chunk = sock.recv(size - len(data))
        except OSError:
            return None
        if not chunk:
            return None
        data += chunk
    return data


def _read_tcp(sock: socket.socket) -> bytes | None:
    """One length-prefixed message (RFC 1035 §4.2.2), or None at EOF."""
    prefix = _read_exactly(sock, 2)
    return None if prefix is None else _read_exactly(sock, int.from_bytes(prefix, "big"))


@pytest.fixture
def dns_server() -> Iterator[Callable[..., dns.asyncresolver.Resolver]]:
    """Factory: ``dns_server(records, silent=…, servfail=…, lifetime=…)`` starts a server
    and returns a resolver pointed at it; every server stops after the test."""
    servers: list[DnsServer] = []

    def start(
        records: Records,
        *,
        silent: Collection[str] = (),
        servfail: Collection[str] = (),
        lifetime: float = 2.0,
    ) -> dns.asyncresolver.Resolver:
        server = DnsServer(records, silent=silent, servfail=servfail)
        server.start()
        servers.append(server)
        return server.resolver(lifetime=lifetime)

    try:
        yield start
    finally:
        for server in servers:
            server.stop()
