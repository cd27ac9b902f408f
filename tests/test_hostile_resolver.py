"""A system resolver that never answers: ``--timeout`` still bounds the whole run.

The machine's own resolver cannot be made to hang from a test, so ``socket.getaddrinfo``
is replaced, for one name only, by a call that blocks until the test ends: the same
shape as a resolver whose servers drop every query (glibc then waits 5 s per try).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.hostile import run_cli

# Each test waits out a --timeout on purpose.
pytestmark = pytest.mark.slow

HANGING = "hangs.resolver.test"
# Well past the deadline and the slack below: waiting for the thread would show.
HANG = 30.0


@pytest.fixture
def hanging_resolver(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    release = threading.Event()
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        flags = args[4] if len(args) > 4 else kwargs.get("flags", 0)
        if host == HANGING and flags & socket.AI_NUMERICHOST:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        if host == HANGING:
            release.wait(HANG)
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield release
    release.set()  # let the abandoned thread end


@pytest.mark.parametrize("output_format", ["text", "json"])
def test_a_resolver_that_never_answers_ends_at_the_deadline(
    capsys: pytest.CaptureFixture[str],
    hanging_resolver: threading.Event,
    output_format: str,
) -> None:
    run = run_cli(capsys, "probe", HANGING, "--timeout", "2", "--format", output_format)
    assert run.code == 3, run.err
    assert "Traceback" not in run.err and "internal error" not in run.err
    # Generous for a loaded machine; waiting for the resolver thread took the full HANG.
    assert run.elapsed < 2.0 + 8.0, f"took {run.elapsed:.1f} s"
    assert HANGING in run.out + run.err
    if output_format == "json":
        assert run.json()["error"]["kind"] == "resolve"
