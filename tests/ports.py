"""Loopback ports and threaded aiosmtpd servers for tests: one copy of each helper."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class ServerAddress:
    host: str
    port: int


def free_port() -> int:
    """A loopback port that was free a moment ago.

    aiosmtpd 1.4's Controller cannot listen on port 0 (aio-libs/aiosmtpd#388), so threaded
    servers bind one chosen here; the small race this leaves has not bitten in practice.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def start_controller() -> Iterator[Callable[[Controller], ServerAddress]]:
    """Start aiosmtpd Controllers for one test; every one is stopped when it ends."""
    running: list[Controller] = []

    def start(controller: Controller) -> ServerAddress:
        running.append(controller)
        controller.start()
        return ServerAddress(controller.hostname, controller.port)

    try:
        yield start
    finally:
        for controller in running:
            controller.stop(no_assert=True)


async def close_servers(servers: list[asyncio.Server], protocols: list[Any]) -> None:
    """Close in-loop servers, abort their open connections, and let aiosmtpd's tasks end."""
    for server in servers:
        server.close()
    for protocol in protocols:
        transport = getattr(protocol, "transport", None)
        if transport is not None and not transport.is_closing():
            transport.abort()
    for server in servers:
        await server.wait_closed()
    # Let aborted transports and cancelled aiosmtpd handler tasks finish.
    for _ in range(3):
        await asyncio.sleep(0)
