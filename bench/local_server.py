"""A local SMTP server for benchmarks: aiosmtpd as a well-run MTA, in its own process.

The persona answers HELP with 214, VRFY with 252 for any address (nothing disclosed) and
EXPN with 502, as a careful Postfix/Exim/Sendmail set-up would. Run it by hand with
``python3 bench/local_server.py`` (prints ``READY <port>``, serves until Ctrl-C), or from
another benchmark with ``with running_server() as port: ...``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import logging
import select
import signal
import ssl
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session, syntax

__all__ = ["HOSTNAME", "WellRunSMTP", "running_server"]

HOSTNAME = "mx.bench.test"


class _Sink:
    """Accept every message and keep none."""

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return "250 2.0.0 Ok: discarded"


class WellRunSMTP(SMTP):
    """aiosmtpd with the replies of a well-run MTA, recording each session's verbs."""

    def __init__(self, *args: Any, command_log: Path | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._command_log = command_log
        self._verbs: list[str] = []
        self._smtp_methods = {
            name: self._recording(name, method) for name, method in self._smtp_methods.items()
        }

    def _recording(
        self, verb: str, method: Callable[[str], Awaitable[None]]
    ) -> Callable[[str], Awaitable[None]]:
        @functools.wraps(method)  # keeps the @syntax attributes HELP reads
        async def record(arg: str) -> None:
            self._verbs.append(verb)
            await method(arg)

        return record

    def connection_lost(self, error: Exception | None) -> None:
        if self._command_log is not None and self._verbs:
            with self._command_log.open("a", encoding="ascii") as log:
                log.write(" ".join(self._verbs) + "\n")
        super().connection_lost(error)

    @syntax("HELP [command]")
    async def smtp_HELP(self, arg: str) -> None:
        # RFC 5321 §4.1.1.8: 211/214 are the replies to HELP (aiosmtpd's own says 250).
        if not arg:
            commands = sorted(n for n, m in self._smtp_methods.items() if self._syntax_available(m))
            await self.push("214 2.0.0 Commands: " + " ".join(commands))
            return
        method = self._smtp_methods.get(arg.upper())
        if method is None or not self._syntax_available(method):
            await self.push(f'504 5.3.0 HELP topic "{arg}" unknown')
            return
        await self.push("214 2.0.0 Syntax: " + method.__smtp_syntax__)

    @syntax("VRFY <address>")
    async def smtp_VRFY(self, arg: str) -> None:
        # RFC 5321 §7.3: 252 for every address tells an outsider nothing.
        if not arg:
            await self.push("501 5.5.4 Syntax: VRFY <address>")
            return
        await self.push("252 2.1.5 Cannot VRFY user, but will accept message and attempt delivery")

    async def smtp_EXPN(self, arg: str) -> None:
        await self.push("502 5.5.1 EXPN is disabled")


def _tls_context(hostname: str, ca_out: Path) -> ssl.SSLContext:
    import trustme

    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(hostname).configure_cert(context)
    ca.cert_pem.write_to_path(str(ca_out))
    return context


async def serve(
    host: str, port: int, hostname: str, ca_out: Path | None, command_log: Path | None
) -> None:
    """Serve until SIGTERM or SIGINT, after printing ``READY <port>`` on stdout."""
    loop = asyncio.get_running_loop()
    tls = _tls_context(hostname, ca_out) if ca_out is not None else None
    server = await loop.create_server(
        lambda: WellRunSMTP(
            _Sink(), hostname=hostname, tls_context=tls, command_log=command_log, loop=loop
        ),
        host=host,
        port=port,
        backlog=1024,  # a fleet opens hundreds at once (bench_fleet_stream.py)
    )
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print(f"READY {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await stop.wait()


@contextlib.contextmanager
def running_server(
    *, starttls_ca: Path | None = None, command_log: Path | None = None, timeout: float = 10.0
) -> Iterator[int]:
    """Start the server in a child process on 127.0.0.1; yield its port; stop it.

    :raises RuntimeError: when the server does not report ready within *timeout* seconds.
    """
    argv = [sys.executable, str(Path(__file__).resolve()), "--port", "0"]
    if starttls_ca is not None:
        argv += ["--starttls", str(starttls_ca)]
    if command_log is not None:
        argv += ["--command-log", str(command_log)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        line = proc.stdout.readline() if ready else ""  # "" too when the server died
        if not line.startswith("READY "):
            raise RuntimeError(f"local server did not start within {timeout:g} s ({line!r})")
        yield int(line.split()[1])
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--hostname", default=HOSTNAME, help="name in the banner and EHLO")
    parser.add_argument(
        "--starttls",
        type=Path,
        metavar="CA_PEM",
        help="offer STARTTLS with a test certificate; write its CA here",
    )
    parser.add_argument(
        "--command-log",
        type=Path,
        metavar="PATH",
        help="append each session's command verbs to PATH, one line each",
    )
    args = parser.parse_args()
    logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd's per-command chatter
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, args.hostname, args.starttls, args.command_log))
    return 0


if __name__ == "__main__":
    sys.exit(main())
