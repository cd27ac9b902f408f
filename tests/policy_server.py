"""An HTTPS server on 127.0.0.1 serving MTA-STS policies by Host header, for tests.

One server stands for every ``mta-sts.<domain>`` host: the certificate (from the tests'
trustme CA) names them all, and each request is answered from ``pages[host]``: a
`Page` with status, content type, body, an optional delay (bounded) and a Location.
Unknown hosts get 404. Requests are recorded in ``requests`` (host, path).
"""

from __future__ import annotations

import http.server
import ssl
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Self

import trustme

__all__ = ["Page", "PolicyServer", "pages_for"]


@dataclass(frozen=True)
class Page:
    body: bytes
    status: int = 200
    content_type: str = "text/plain; charset=utf-8"
    delay: float = 0.0  # seconds before answering; at most 10
    location: str = ""
    chunked: bool = False


class PolicyServer:
    """``with PolicyServer(ca, pages) as server: server.port``."""

    def __init__(self, ca: trustme.CA, pages: Mapping[str, Page]) -> None:
        self.pages = dict(pages)
        self.requests: list[tuple[str, str]] = []
        self.leaf = ca.issue_cert(*self.pages, "mta-sts.unknown.test")
        self.port = 0
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()  # ends a slow page's wait when the server stops

    def start(self) -> None:
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                host = (self.headers.get("Host") or "").split(":")[0].lower()
                owner.requests.append((host, self.path))
                page = owner.pages.get(host)
                if page is None or self.path != "/.well-known/mta-sts.txt":
                    page = Page(b"not found\n", 404)
                if owner._stopping.wait(min(page.delay, 10.0)):
                    return
                self.send_response(page.status)
                self.send_header("Content-Type", page.content_type)
                if page.location:
                    self.send_header("Location", page.location)
                if page.chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for start in range(0, len(page.body), 7):
                        piece = page.body[start : start + 7]
                        self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                    self.wfile.write(b"0\r\n\r\n")
                    return
                self.send_header("Content-Length", str(len(page.body)))
                self.end_headers()
                self.wfile.write(page.body)

            def log_message(self, *args: object) -> None:
                return

        class Server(http.server.ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                return  # a client that gave up (the timeout tests): no traceback on stderr

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.leaf.configure_cert(context)
        server = Server(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server, self.port = server, server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=2.0)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def pages_for(**policies: Page) -> Iterator[tuple[str, Page]]:
    """``good=Page(…)`` → ``("mta-sts.good.test", Page(…))``."""
    for label, page in policies.items():
        yield f"mta-sts.{label.replace('_', '-')}.test", page
