"""`smtpprobe exporter` end to end: a real process, real HTTP, real SMTP servers on
loopback (personas, hostile scripts, the private Postfix), output read by
prometheus-client's parser and checked by ``promtool check metrics``."""

from __future__ import annotations

import concurrent.futures
import json
import os
import time
from collections.abc import Callable, Iterator
from urllib.parse import quote

import pytest

from tests.conftest import ServerAddress
from tests.exporter_process import get, metrics, promtool_problems, running_exporter, value
from tests.hostile import ESCAPES, escape_banner, serve_in_thread, silent
from tests.postfix import PostfixInstance

Serve = Callable[..., ServerAddress]
CONFIG = """
[modules.plain]
tls = "none"
timeout = 10
command_timeout = 5

[modules.strict]
tls = "starttls"
cafile = "{cafile}"
require_valid_cert = true
expect_vrfy = "not-disclosing"
rcpt_check = true
users = ["postmaster", "alice"]
timeout = 10
"""
# Set by scripts/test where setup.sh installed Debian's prometheus (promtool with it).
REQUIRE_PROMTOOL = os.environ.get("SMTPPROBE_REQUIRE_PROMETHEUS") == "1"


@pytest.fixture(scope="module")
def exporter(cafile: str) -> Iterator[str]:
    with running_exporter(CONFIG.format(cafile=cafile)) as url:
        yield url


def probe(exporter: str, target: str, module: str | None = None, **headers: str) -> tuple[int, str]:
    query = f"target={quote(target)}" + (f"&module={module}" if module else "")
    return get(f"{exporter}/probe?{query}", headers=headers)


def valid(text: str) -> None:
    """*text* is a valid exposition: promtool finds nothing (beyond the accepted lint)."""
    problems = promtool_problems(text)
    if problems is None:
        if REQUIRE_PROMTOOL:
            pytest.fail("promtool is missing; scripts/setup.sh installs it as root")
        return
    assert problems == []


@pytest.mark.slow
def test_a_disclosing_server_through_the_default_module(
    exporter: str, threaded_smtp_server: Serve
) -> None:
    server = threaded_smtp_server("disclosing")
    status, body = probe(exporter, f"{server.host}:{server.port}")
    assert status == 200
    found = metrics(body)
    assert value(found, "probe_success") == 1.0
    assert value(found, "smtpprobe_status") == 1.0  # WARNING: users can be enumerated
    assert value(found, "smtpprobe_vrfy_verdict", verdict="disclosing") == 1.0
    assert value(found, "smtpprobe_vrfy_verdict", verdict="hidden") == 0.0
    assert value(found, "smtpprobe_finding_status", check="vrfy") == 1.0
    assert value(found, "smtpprobe_banner_code") == 220.0
    assert value(found, "smtpprobe_deviations") is not None  # aiosmtpd has a few
    assert (value(found, "smtpprobe_phase_duration_seconds", phase="vrfy") or 0) > 0
    assert 0 < (value(found, "probe_duration_seconds") or 0) < 30
    valid(body)


@pytest.mark.slow
def test_starttls_and_the_certificate_in_a_strict_module(
    exporter: str, threaded_smtp_server: Serve
) -> None:
    server = threaded_smtp_server("hidden", tls="starttls")
    status, body = probe(exporter, f"{server.host}:{server.port}", "strict")
    found = metrics(body)
    assert status == 200 and value(found, "probe_success") == 1.0
    assert value(found, "smtpprobe_starttls_offered") == 1.0
    assert value(found, "smtpprobe_tls_version_info", version="TLSv1.3") == 1.0
    assert value(found, "smtpprobe_cert_verified") == 1.0
    days = value(found, "smtpprobe_cert_days_left")
    expiry = value(found, "smtpprobe_cert_expiry_timestamp_seconds")
    assert days is not None and expiry is not None and days > 14
    assert abs(expiry - time.time() - days * 86400) < 2 * 86400
    assert value(found, "smtpprobe_rcpt_verdict", verdict="hidden") == 1.0  # from the config
    assert value(found, "smtpprobe_finding_status", check="expect-vrfy") == 0.0
    valid(body)


def test_a_policy_failure_is_probe_success_zero(exporter: str, threaded_smtp_server: Serve) -> None:
    server = threaded_smtp_server("disclosing")  # no STARTTLS, and it discloses
    status, body = probe(exporter, f"{server.host}:{server.port}", "strict")
    found = metrics(body)
    assert status == 200 and value(found, "probe_success") == 0.0
    assert value(found, "smtpprobe_status") == 2.0
    assert value(found, "smtpprobe_finding_status", check="expect-vrfy") == 2.0


def test_hostile_server_text_never_reaches_a_label(exporter: str) -> None:
    with serve_in_thread(escape_banner) as server:
        status, body = probe(exporter, server.target, "plain")
    assert status == 200
    assert "\x1b" not in body and "pwned" not in body and "\x9b" not in body
    assert ESCAPES.decode("latin-1")[:4] not in body
    labels = {pair for (_name, pairs) in metrics(body) for pair in pairs}
    assert {key for key, _v in labels} <= {"phase", "verdict", "check", "version"}
    valid(body)


@pytest.mark.slow
def test_scrape_timeout_header_caps_the_deadline(exporter: str) -> None:
    with serve_in_thread(silent) as server:  # never greets: only the deadline ends it
        started = time.monotonic()
        status, body = probe(
            exporter, server.target, "plain", **{"X-Prometheus-Scrape-Timeout-Seconds": "2"}
        )
        took = time.monotonic() - started
    found = metrics(body)
    assert status == 200 and value(found, "probe_success") == 0.0
    assert took < 6  # module timeout is 10 s; the header said 2 (generous on a loaded box)
    assert (value(found, "probe_duration_seconds") or 0) < 3


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("target=127.0.0.1:25&user=root", "the URL parameter 'user' is not accepted"),
        ("target=127.0.0.1:25&rcpt_check=1", "the URL parameter 'rcpt_check' is not accepted"),
        ("module=plain", "the URL has no target"),
        ("target=a&target=b", "the URL parameter 'target' is given more than once"),
        ("target=127.0.0.1:25&module=nope", "there is no module 'nope' (modules: default plain"),
        ("target=127.0.0.1:99999", "99999"),
        ("target=bad%0d%0ahost", "host"),
    ],
)
def test_bad_parameters_get_400_and_one_line(exporter: str, query: str, says: str) -> None:
    status, body = get(f"{exporter}/probe?{query}")
    assert status == 400
    assert body.endswith("\n") and body.count("\n") == 1 and says in body


def test_exporter_self_metrics(exporter: str, threaded_smtp_server: Serve) -> None:
    before = metrics(get(f"{exporter}/metrics")[1])
    server = threaded_smtp_server("hidden")
    probe(exporter, f"{server.host}:{server.port}", "plain")
    probe(exporter, "127.0.0.1:1", "plain")  # nothing listens on port 1: a failure
    status, body = get(f"{exporter}/metrics")
    after = metrics(body)
    assert status == 200
    runs = "smtpprobe_exporter_probes_total"
    fails = "smtpprobe_exporter_probe_failures_total"
    assert (value(after, runs, module="plain") or 0) - (
        value(before, runs, module="plain") or 0
    ) == 2
    assert (value(after, fails, module="plain") or 0) - (
        value(before, fails, module="plain") or 0
    ) == 1
    assert value(after, "smtpprobe_exporter_probes_in_flight") == 0.0
    valid(body)


@pytest.mark.slow
def test_concurrency_is_bounded_and_the_overflow_is_503() -> None:
    with running_exporter(None, "--concurrency", "1") as url, serve_in_thread(silent) as server:
        target = f"{url}/probe?target={server.target}"
        header = {"X-Prometheus-Scrape-Timeout-Seconds": "3"}
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            first = pool.submit(get, target, headers=header)
            time.sleep(0.5)  # the first runs; the second waits for its slot …
            second = pool.submit(get, target, headers=header)
            time.sleep(0.5)
            third = pool.submit(get, target, headers=header)  # … and a third is too many
            answers = [f.result() for f in (first, second, third)]
    assert answers[0][0] == 200 and answers[2][0] == 503
    assert answers[1][0] in (200, 503)  # its slot came free in time, or not
    assert answers[2][1].count("\n") == 1 and "too many probes" in answers[2][1]


@pytest.mark.slow
def test_bad_config_is_one_line_and_exit_3(tmp_path: pytest.TempPathFactory) -> None:
    import subprocess
    import sys

    for text, says in (
        ("[modules.x]\nuser = 'root'\n", "module 'x': unknown key 'user'"),
        ("[modules.x]\ntimeout = -1\n", "'timeout' must be seconds > 0"),
        ("modules = 3\n", "only [modules.NAME] tables"),
        ("[modules.x\n", "not valid TOML"),
    ):
        config = tmp_path / "bad.toml"  # type: ignore[operator]
        config.write_text(text)
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "smtpprobe",
                "exporter",
                "--config",
                str(config),
                "--check-config",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, "LANG": "C.UTF-8"},
        )
        assert result.returncode == 3 and says in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


@pytest.mark.slow
@pytest.mark.postfix
def test_the_private_postfix(exporter: str, postfix_server: PostfixInstance) -> None:
    status, body = probe(exporter, f"{postfix_server.host}:{postfix_server.port}", "plain")
    found = metrics(body)
    assert status == 200 and value(found, "probe_success") == 1.0
    assert value(found, "smtpprobe_banner_code") == 220.0
    assert value(found, "smtpprobe_vrfy_verdict", verdict="disclosing") == 1.0  # Postfix default
    valid(body)


@pytest.mark.slow
def test_format_prometheus_for_the_textfile_collector(
    capsys: pytest.CaptureFixture[str], threaded_smtp_server: Serve
) -> None:
    from smtpprobe.cli import main

    a, b = threaded_smtp_server("hidden"), threaded_smtp_server("disclosing")
    code = main(
        [
            "probe",
            f"{a.host}:{a.port}",
            f"{b.host}:{b.port}",
            "--tls",
            "none",
            "--format",
            "prometheus",
        ]
    )
    out = capsys.readouterr().out
    found = metrics(out)
    assert code == 1
    assert value(found, "smtpprobe_status", target=f"{a.host}:{a.port}") == 0.0
    assert (
        value(found, "smtpprobe_vrfy_verdict", target=f"{b.host}:{b.port}", verdict="disclosing")
        == 1.0
    )
    valid(out)
    code = main(["probe", f"{a.host}:{a.port}", "--tls", "none", "--format", "prometheus"])
    single = capsys.readouterr().out
    assert code == 0 and value(metrics(single), "probe_success") == 1.0
    assert "target=" not in single
    json.dumps(single)  # plain text, nothing odd


PROMETHEUS_CONFIG = """
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: smtp
    metrics_path: /probe
    params:
      module: [plain]
    static_configs:
      - targets: ["{target}"]
    relabel_configs:  # blackbox_exporter's multi-target pattern
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: "{exporter}"
"""


@pytest.mark.slow
def test_a_real_prometheus_scrapes_the_exporter(
    exporter: str, threaded_smtp_server: Serve, tmp_path: pytest.TempPathFactory
) -> None:
    import shutil
    import subprocess
    import urllib.parse

    from tests.ports import free_port

    binary = shutil.which("prometheus")
    if binary is None:
        if REQUIRE_PROMTOOL:
            pytest.fail("prometheus is missing; scripts/setup.sh installs it as root")
        pytest.skip("Debian's prometheus package is not installed (scripts/setup.sh as root)")
    server = threaded_smtp_server("disclosing")
    target = f"{server.host}:{server.port}"
    config = tmp_path / "prometheus.yml"  # type: ignore[operator]
    config.write_text(
        PROMETHEUS_CONFIG.format(target=target, exporter=exporter.removeprefix("http://"))
    )
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path}/data",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    query = urllib.parse.quote(
        f'smtpprobe_vrfy_verdict{{verdict="disclosing",instance="{target}",job="smtp"}}'
    )
    found: list[object] = []
    try:
        deadline = time.monotonic() + 90  # start-up, first scrape, a loaded machine
        while time.monotonic() < deadline and not found:
            time.sleep(1)
            try:
                status, body = get(f"http://127.0.0.1:{port}/api/v1/query?query={query}", timeout=5)
            except OSError:
                continue  # not listening yet
            if status == 200:
                found = json.loads(body)["data"]["result"]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert found, "Prometheus never stored the exporter's vrfy verdict"
    sample = found[0]
    assert isinstance(sample, dict) and sample["value"][1] == "1"
    assert sample["metric"]["instance"] == target
