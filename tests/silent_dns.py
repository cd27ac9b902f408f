"""Run ``smtpprobe ARGS…`` beside a DNS server that never answers, and report how it went.

Meant to run inside a network namespace whose ``/etc/resolv.conf`` (``ip netns exec``
mounts ``/etc/netns/<name>/resolv.conf`` over it) names 127.0.0.1 with a long timeout:
the system resolver then really waits. Prints one JSON object: exit code, wall time,
stdout and stderr of the run.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time


def main(argv: list[str]) -> int:
    # Queries arrive and are never answered, over UDP and TCP alike.
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 53))
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind(("127.0.0.1", 53))
    tcp.listen()
    began = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "smtpprobe", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    print(
        json.dumps(
            {
                "code": run.returncode,
                "elapsed": time.monotonic() - began,
                "out": run.stdout,
                "err": run.stderr,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
