"""A system resolver that never answers: ``--timeout`` still bounds the whole run.

A real one: a network namespace of the test's own, whose resolv.conf names a DNS server on
its loopback that takes every query and answers none (``options timeout:30``, so glibc
waits 30 s). Before the fix the run waited out the resolver thread at exit: ``--timeout
2`` took 30 s.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.requirements import missing

# Each test waits out a --timeout on purpose.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
HANGING = "mx.hangs.example"


@pytest.fixture
def silent_resolver_namespace() -> Iterator[str]:
    """A network namespace with loopback up and a resolv.conf naming 127.0.0.1 there."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        missing("needs root and iproute2 (ip netns) for a resolver of the test's own")
    name = f"smtpprobe-dns-{os.getpid()}"
    config = Path("/etc/netns") / name
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        config.mkdir(parents=True)
        (config / "resolv.conf").write_text("nameserver 127.0.0.1\noptions timeout:30 attempts:1\n")
        subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        shutil.rmtree(config, ignore_errors=True)
        subprocess.run(["ip", "netns", "del", name], check=False)


@pytest.mark.parametrize("output_format", ["text", "json"])
def test_a_resolver_that_never_answers_ends_at_the_deadline(
    silent_resolver_namespace: str, output_format: str
) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "NO_COLOR": "1"}
    done = subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            silent_resolver_namespace,
            sys.executable,
            str(ROOT / "tests" / "silent_dns.py"),
            "probe",
            HANGING,
            "--timeout",
            "2",
            "--format",
            output_format,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    run = json.loads(done.stdout)
    assert run["code"] == 3, run["err"]
    assert "Traceback" not in run["err"] and "internal error" not in run["err"]
    # Generous for a loaded machine; waiting for the resolver thread took the full 30 s.
    assert run["elapsed"] < 2.0 + 8.0, f"took {run['elapsed']:.1f} s"
    assert HANGING in run["out"] + run["err"]
    if output_format == "json":
        assert json.loads(run["out"])["error"]["kind"] == "resolve"
