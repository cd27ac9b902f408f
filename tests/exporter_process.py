"""`smtpprobe exporter` as a real process on loopback, and plain HTTP to it (urllib).

``running_exporter(config_text, *args)`` starts ``python -m smtpprobe exporter`` on a
free port, waits for its ready line, yields its base URL and stops it.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.ports import free_port

__all__ = ["Answer", "get", "metrics", "promtool_problems", "running_exporter", "value"]

Answer = tuple[int, str]


@contextlib.contextmanager
def running_exporter(config_text: str | None, *args: str, timeout: float = 30.0) -> Iterator[str]:
    """Run the exporter with *config_text* as its ``--config``; yield ``http://host:port``.

    :raises RuntimeError: it did not say it is listening within *timeout* seconds.
    """
    with tempfile.TemporaryDirectory() as tmp:
        argv = [sys.executable, "-m", "smtpprobe", "exporter"]
        if config_text is not None:
            config = Path(tmp, "exporter.toml")
            config.write_text(config_text, encoding="utf-8")
            argv += ["--config", str(config)]
        port = free_port()
        proc = subprocess.Popen(
            [*argv, "--listen", f"127.0.0.1:{port}", *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "LANG": "C.UTF-8"},
        )
        try:
            assert proc.stderr is not None
            ready, _, _ = select.select([proc.stderr], [], [], timeout)
            line = proc.stderr.readline() if ready else ""
            if "listening on" not in line:
                raise RuntimeError(f"exporter did not start: {line!r}")
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stderr is not None:
                proc.stderr.close()


def get(url: str, *, headers: dict[str, str] | None = None, timeout: float = 60.0) -> Answer:
    """GET *url*: (HTTP status, body), for error statuses too."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, answer.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read().decode("utf-8")


def metrics(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition *text*, parsed by prometheus-client's own parser:
    ``{(name, sorted label pairs): value}``."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


# promtool's lint wants base units; smtpprobe_cert_days_left is days on purpose (issue 15
# names it), beside smtpprobe_cert_expiry_timestamp_seconds in base units.
_ACCEPTED_LINT = ('smtpprobe_cert_days_left use base unit "seconds" instead of "days"',)


def promtool_problems(text: str) -> list[str] | None:
    """What ``promtool check metrics`` says is wrong with *text* (None: no promtool)."""
    promtool = shutil.which("promtool")
    if promtool is None:
        return None
    result = subprocess.run(
        [promtool, "check", "metrics"],
        input=text,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    said = [line.strip() for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    problems = [line for line in said if line not in _ACCEPTED_LINT]
    if result.returncode not in (0, 3) or (result.returncode == 3 and not said):
        problems.append(f"promtool exit {result.returncode}")
    return problems
