"""``smtpprobe probe`` as a monitoring check, end to end: policies, formats, many targets."""

from __future__ import annotations

import json
import os
import pty
import select
import ssl
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller

from smtpprobe.cli import main
from tests.conftest import PersonaController
from tests.ports import ServerAddress, free_port
from tests.servers import DOMAIN

Serve = Callable[..., ServerAddress]
FAST = ("--timeout", "5", "--command-timeout", "2")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["probe", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def addr(server: ServerAddress) -> str:
    return f"{server.host}:{server.port}"


def probe_json(
    capsys: pytest.CaptureFixture[str], server: ServerAddress, *extra: str
) -> tuple[int, dict[str, Any]]:
    code, out, err = run(capsys, addr(server), "--format", "json", *FAST, *extra)
    assert err == ""
    return code, json.loads(out)


@pytest.fixture
def cert_server(
    tls_ca: trustme.CA, start_controller: Callable[[Controller], ServerAddress]
) -> Callable[..., ServerAddress]:
    """Factory: a persona whose certificate has *days* left, over STARTTLS or implicit TLS."""

    def start(days: int, tls: str = "starttls") -> ServerAddress:
        now = datetime.now(UTC)
        leaf = tls_ca.issue_cert(
            "localhost",
            "127.0.0.1",
            not_before=now - timedelta(days=1),
            not_after=now + timedelta(days=days, hours=12),
        )
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        leaf.configure_cert(context)
        return start_controller(
            PersonaController(
                "hidden",
                starttls=context if tls == "starttls" else None,
                ssl_context=context if tls == "implicit" else None,
                hostname="127.0.0.1",
                port=free_port(),
                server_hostname=DOMAIN,
                ready_timeout=5.0,
            )
        )

    return start


# -- policies, each end to end ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "option", "expected", "code"),
    [
        pytest.param("hidden", "--expect-vrfy", "hidden", 0, id="vrfy-hidden-ok"),
        pytest.param("disclosing", "--expect-vrfy", "hidden", 2, id="vrfy-disclosing"),
        pytest.param("postfix-novrfy", "--expect-vrfy", "disabled", 0, id="vrfy-disabled-ok"),
        pytest.param("postfix-novrfy", "--expect-vrfy", "not-disclosing", 0, id="vrfy-not-disc"),
        pytest.param("exim", "--expect-expn", "not-disclosing", 0, id="expn-refused-ok"),
        pytest.param("expn-list", "--expect-expn", "not-disclosing", 2, id="expn-expands"),
        pytest.param("exim", "--expect-rcpt", "hidden", 2, id="rcpt-disclosing"),
        pytest.param("hidden", "--expect-rcpt", "hidden", 0, id="rcpt-accepts-all"),
    ],
)
def test_expectations(
    capsys: pytest.CaptureFixture[str],
    threaded_smtp_server: Serve,
    persona: str,
    option: str,
    expected: str,
    code: int,
) -> None:
    got, doc = probe_json(capsys, threaded_smtp_server(persona), option, expected)
    check = option.removeprefix("--")
    assert doc["findings"][check]["status"] == ("ok" if code == 0 else "critical")
    assert doc["findings"][check]["expected"] == expected
    assert got == code


def test_expect_rcpt_turns_the_rcpt_check_on(
    capsys: pytest.CaptureFixture[str], threaded_smtp_server: Serve
) -> None:
    _code, doc = probe_json(capsys, threaded_smtp_server("exim"), "--expect-rcpt", "hidden")
    assert doc["findings"]["rcpt"]["verdict"] == "disclosing"
    assert any(e["command"].startswith("RCPT TO:") for e in doc["exchanges"])


def test_require_starttls(
    capsys: pytest.CaptureFixture[str], threaded_smtp_server: Serve, cafile: str
) -> None:
    code, doc = probe_json(capsys, threaded_smtp_server("hidden"), "--require-starttls")
    assert code == 2 and doc["findings"]["require-starttls"]["status"] == "critical"
    assert doc["findings"]["require-starttls"]["evidence"][0]["command"].startswith("EHLO")
    code, doc = probe_json(
        capsys,
        threaded_smtp_server("hidden", tls="starttls"),
        "--require-starttls",
        "--cafile",
        cafile,
    )
    assert code == 0 and doc["findings"]["require-starttls"]["mode"] == "starttls"


def test_require_valid_cert(
    capsys: pytest.CaptureFixture[str], threaded_smtp_server: Serve, cafile: str
) -> None:
    server = threaded_smtp_server("hidden", tls="starttls")
    code, doc = probe_json(capsys, server, "--require-valid-cert", "--cafile", cafile)
    assert code == 0 and doc["findings"]["require-valid-cert"]["verified"] is True
    # Without our CA the chain does not verify; --insecure goes on and the policy says why.
    code, doc = probe_json(capsys, server, "--require-valid-cert", "--insecure")
    found = doc["findings"]["require-valid-cert"]
    assert code == 2 and found["status"] == "critical" and found["why"]


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
@pytest.mark.parametrize(
    ("days", "cert_days", "status", "code"),
    [(10, "21,7", "warning", 1), (3, "21,7", "critical", 2), (10, "9,5", "ok", 0)],
)
def test_cert_days_over_starttls_and_implicit_tls(
    capsys: pytest.CaptureFixture[str],
    cert_server: Callable[..., ServerAddress],
    cafile: str,
    tls: str,
    days: int,
    cert_days: str,
    status: str,
    code: int,
) -> None:
    extra = ("--tls", "implicit") if tls == "implicit" else ()
    got, doc = probe_json(
        capsys, cert_server(days, tls), "--cafile", cafile, "--cert-days", cert_days, *extra
    )
    found = doc["findings"]["cert-days"]
    assert (found["status"], found["days_left"]) == (status, days)
    assert got == code


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        pytest.param(("--warning", "60", "--critical", "120"), 0, id="fast-enough"),
        pytest.param(("--warning", "0.000001", "--critical", "60"), 1, id="warning"),
        pytest.param(("--critical", "0.000001"), 2, id="critical"),
    ],
)
def test_total_time(
    capsys: pytest.CaptureFixture[str],
    threaded_smtp_server: Serve,
    extra: tuple[str, ...],
    code: int,
) -> None:
    got, doc = probe_json(capsys, threaded_smtp_server("hidden"), *extra)
    assert got == code and doc["findings"]["time"]["status"] == ["ok", "warning", "critical"][code]


def test_banner_delay_and_banner_text(
    capsys: pytest.CaptureFixture[str], threaded_smtp_server: Serve
) -> None:
    server = threaded_smtp_server("postfix")
    code, doc = probe_json(
        capsys, server, "--max-banner-delay", "30", "--expect-banner", r"^220 mx\.test .*Postfix"
    )
    assert code == 1  # postfix VRFY discloses (WARNING); both policies hold
    assert doc["findings"]["banner-delay"]["status"] == "ok"
    assert doc["findings"]["expect-banner"]["matched"] is True
    code, doc = probe_json(
        capsys, server, "--max-banner-delay", "0.000001", "--expect-banner", "Exim"
    )
    assert code == 2
    assert doc["findings"]["banner-delay"]["status"] == "critical"
    assert doc["findings"]["expect-banner"]["status"] == "critical"


def test_expect_extension(capsys: pytest.CaptureFixture[str], threaded_smtp_server: Serve) -> None:
    server = threaded_smtp_server("postfix")
    code, doc = probe_json(
        capsys,
        server,
        "--expect-extension",
        "chunking",
        "--expect-extension",
        "8BITMIME",
        "--skip",
        "vrfy",
    )
    assert code == 0 and doc["findings"]["expect-extension"]["expected"] == ["CHUNKING", "8BITMIME"]
    code, doc = probe_json(capsys, server, "--expect-extension", "XFOO", "--skip", "vrfy")
    assert code == 2 and doc["findings"]["expect-extension"]["missing"] == ["XFOO"]


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["--expect-vrfy", "open"], id="bad-expectation"),
        pytest.param(["--cert-days", "7,21"], id="cert-days-upside-down"),
        pytest.param(["--cert-days", "21"], id="cert-days-one-number"),
        pytest.param(["--warning", "5", "--critical", "1"], id="warning-above-critical"),
        pytest.param(["--expect-banner", "("], id="bad-regex"),
        pytest.param(["--expect-extension", "a b"], id="bad-keyword"),
        pytest.param(["--expect-vrfy", "hidden", "--skip", "vrfy"], id="policy-on-skipped"),
        pytest.param(["--expect-rcpt", "hidden", "--skip", "rcpt"], id="rcpt-skipped"),
        pytest.param(["--require-starttls", "--tls", "none"], id="starttls-with-tls-none"),
        pytest.param(["--concurrency", "0"], id="zero-concurrency"),
        pytest.param(["--dns-server", "ns.example:53"], id="dns-server-not-an-ip"),
    ],
)
def test_bad_monitoring_arguments_exit_3(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    code, out, err = run(capsys, "mx.example", *argv)
    assert code == 3 and out == "" and err.strip() and "Traceback" not in err


def test_no_target_at_all_is_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys)
    assert code == 3 and out == "" and "no target given" in err and "--targets" in err


# -- formats ---------------------------------------------------------------------------------


def test_nagios_single_target(
    capsys: pytest.CaptureFixture[str], threaded_smtp_server: Serve, cafile: str
) -> None:
    server = threaded_smtp_server("hidden", tls="starttls")
    code, out, err = run(
        capsys,
        addr(server),
        "--format",
        "nagios",
        "--cafile",
        cafile,
        "--warning",
        "10",
        "--critical",
        "20",
        *FAST,
    )
    assert code == 0 and err == ""
    assert out.startswith(f"SMTP OK - {addr(server)} 220 in ") and out.count("\n") == 1
    assert ", VRFY hidden, STARTTLS TLSv1." in out and " days | time=" in out
    assert ";10;20;0 banner=" in out and " cert_days=" in out and out.endswith(";21;7\n")


def test_json_lines_for_several_targets(
    capsys: pytest.CaptureFixture[str], threaded_smtp_server: Serve, closed_port: int
) -> None:
    hidden, disclosing = threaded_smtp_server("hidden"), threaded_smtp_server("disclosing")
    code, out, err = run(
        capsys,
        addr(hidden),
        addr(disclosing),
        f"127.0.0.1:{closed_port}",
        "nonexistent.invalid",
        "--format",
        "json",
        *FAST,
    )
    lines = out.splitlines()
    docs = [json.loads(line) for line in lines]
    by_port = {d["target"]["port"]: d for d in docs}  # in the order they finished
    assert [by_port[p]["status"] for p in (hidden.port, disclosing.port, closed_port, 25)] == [
        "ok",
        "warning",
        "critical",
        "unknown",
    ]
    assert all(d["schema_version"] == 1 and "findings" in d for d in docs)
    assert by_port[25]["error"]["kind"] == "resolve" and by_port[25]["exchanges"] == []
    assert code == 2  # the worst: CRITICAL
    assert err == ""  # the unresolved name is in its own record, not on stderr


def test_junit_format_and_junit_file_beside_text(
    capsys: pytest.CaptureFixture[str], threaded_smtp_server: Serve, tmp_path: Path
) -> None:
    server = threaded_smtp_server("disclosing")
    code, out, _err = run(
        capsys, addr(server), "--format", "junit", "--expect-vrfy", "hidden", *FAST
    )
    root = ET.fromstring(out.encode())
    assert code == 2 and root.get("failures") == "2"  # the vrfy WARNING and the policy
    report = tmp_path / "smtp.xml"
    code, out, _err = run(capsys, addr(server), "--junit", str(report), *FAST)
    assert code == 1 and "Transcript" in out  # the usual text report on stdout
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None and suite.get("name") == addr(server)


def test_summary_table_for_several_targets(
    capsys: pytest.CaptureFixture[str], threaded_smtp_server: Serve
) -> None:
    hidden, disclosing = threaded_smtp_server("hidden"), threaded_smtp_server("disclosing")
    code, out, err = run(capsys, addr(hidden), addr(disclosing), *FAST)
    assert code == 1 and err == ""  # no progress bar: stderr is not a terminal
    assert out.startswith("2 targets probed\n")
    rows = [line for line in out.splitlines() if line.startswith("127.0.0.1:")]
    assert len(rows) == 2 and "OK" in rows[0] and "WARNING" in rows[1]
    assert "disclosing" in rows[1] and "Problems" in out and "Status: WARNING" in out


def test_targets_file_with_comments(
    capsys: pytest.CaptureFixture[str], threaded_smtp_server: Serve, tmp_path: Path
) -> None:
    a, b = threaded_smtp_server("hidden"), threaded_smtp_server("postfix-novrfy")
    listing = tmp_path / "targets.txt"
    listing.write_text(f"# the mail relays\n{addr(a)}\n\n  {addr(b)}   # the backup\n")
    code, out, _err = run(capsys, "--targets", str(listing), "--format", "json", *FAST)
    assert code == 0
    assert sorted(json.loads(line)["target"]["port"] for line in out.splitlines()) == sorted(
        [a.port, b.port]
    )  # in the order they finished
    listing.write_text("mx.example:99999\n")
    code, out, err = run(capsys, "--targets", str(listing))
    assert code == 3 and "--targets line 1" in err


@pytest.mark.slow
def test_targets_from_stdin_in_a_real_process(threaded_smtp_server: Serve) -> None:
    a, b = threaded_smtp_server("hidden"), threaded_smtp_server("disclosing")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "smtpprobe",
            "probe",
            "--targets",
            "-",
            "--format",
            "nagios",
            "--concurrency",
            "2",
            *FAST,
        ],
        input=f"{addr(a)}\n{addr(b)}\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr
    first, *rest = result.stdout.splitlines()
    assert first.startswith("SMTP WARNING - 2 targets: 1 WARNING, 1 OK") and len(rest) == 2


@pytest.mark.slow
def test_progress_bar_only_on_a_terminal(threaded_smtp_server: Serve) -> None:
    """stderr on a pseudo-terminal gets the bar (and it is cleared); stdout keeps the table."""
    a, b = threaded_smtp_server("hidden"), threaded_smtp_server("hidden")
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "smtpprobe", "probe", addr(a), addr(b), *FAST],
            stdout=subprocess.PIPE,
            stderr=follower,
            text=True,
            env={**os.environ, "TERM": "xterm", "COLUMNS": "100"},
        )
        os.close(follower)
        out, _ = proc.communicate(timeout=60)
        seen = b""
        while select.select([leader], [], [], 0.2)[0]:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(leader)
    assert proc.returncode == 0 and out.startswith("2 targets probed")
    assert b"Probing" in seen


def test_verbose_with_several_targets_goes_one_at_a_time(
    capsys: pytest.CaptureFixture[str],
    threaded_smtp_server: Serve,
) -> None:
    a, b = threaded_smtp_server("hidden"), threaded_smtp_server("hidden")
    code, _out, err = run(capsys, addr(a), addr(b), "-v", "--format", "json", *FAST)
    assert code == 0
    lines = err.splitlines()
    first_quit = lines.index("C: QUIT")
    assert f"port {a.port}" in "\n".join(lines[:first_quit])
    assert f"port {b.port}" in "\n".join(lines[first_quit:])  # never interleaved


def test_junit_file_that_cannot_be_written_is_unknown(
    capsys: pytest.CaptureFixture[str],
    threaded_smtp_server: Serve,
    tmp_path: Path,
) -> None:
    server = threaded_smtp_server("hidden")
    code, _out, err = run(capsys, addr(server), "--junit", str(tmp_path / "no" / "x.xml"), *FAST)
    assert code == 3 and "cannot write --junit" in err and "hint:" in err
