"""``smtpprobe demo``: an embedded server per profile, probed like any real one."""

from __future__ import annotations

import json
import os
import socket

import pytest

from smtpprobe.cli import main
from smtpprobe.commands.demo import PROFILE_NAMES
from smtpprobe.demo_server import PROFILES, DemoServer


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["demo", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    ("profile", "exit_code", "vrfy", "expn", "help_code"),
    [
        ("well-run", 0, "hidden", "disabled", 214),
        ("disclosing", 1, "disclosing", "disabled", 214),
        ("disabled", 0, "disabled", "disabled", 214),
        ("auth-required", 0, "refused", "refused", 530),
        ("status-211", 0, "hidden", "disabled", 211),
    ],
)
def test_every_profile(
    capsys: pytest.CaptureFixture[str],
    profile: str,
    exit_code: int,
    vrfy: str,
    expn: str,
    help_code: int,
) -> None:
    code, out, err = run(capsys, "--profile", profile, "--format", "json")
    doc = json.loads(out)
    findings = doc["findings"]
    assert code == exit_code
    assert findings["vrfy"]["verdict"] == vrfy and findings["expn"]["verdict"] == expn
    assert findings["help"]["code"] == help_code
    assert findings["starttls"]["used"] is True and findings["tls"]["verified"] is True
    assert findings["banner"]["domain"] == "mx.demo.test"
    assert profile in err


def test_profiles_match_the_server() -> None:
    assert tuple(PROFILES) == PROFILE_NAMES


def test_well_run_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = run(capsys, "--lang", "en")
    assert code == 0
    assert "S:  214-2.0.0 Commands:" in out and "C:  STARTTLS" in out
    assert "AUTH is offered only inside TLS" in " ".join(out.split())  # table cells wrap
    assert "Status: OK (exit code 0)" in out


def test_disclosing_text_names_the_postfix_fix(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = run(capsys, "--profile", "disclosing", "--lang", "en")
    assert code == 1
    assert "disable_vrfy_command = yes" in " ".join(out.split()) and "WARNING" in out


def test_indonesian_and_verbose(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--lang", "id", "-v")
    assert code == 0 and "Temuan" in out and "Status: BAIK" in out
    assert "C: EHLO smtpprobe.invalid" in err and "S: 220 Ready to start TLS" in err


def test_list_profiles(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = run(capsys, "--list-profiles", "--lang", "en")
    assert code == 0
    for name in PROFILE_NAMES:
        assert name in out


def test_unknown_profile_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--profile", "nonsense")
    assert code == 3 and out == "" and "nonsense" in err


def test_server_stops_and_cleans_up() -> None:
    """The temporary CA file is removed and nothing listens once the block ends."""
    with DemoServer("well-run") as server:
        cafile, port = server.cafile, server.port
        with open(cafile, encoding="ascii") as handle:
            assert "BEGIN CERTIFICATE" in handle.read()
    assert not os.path.exists(cafile)
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
        sock.connect(("127.0.0.1", port))


def test_list_profiles_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = run(capsys, "--list-profiles", "--format", "json", "--lang", "id")
    doc = json.loads(out)
    assert code == 0 and [p["name"] for p in doc["profiles"]] == list(PROFILE_NAMES)
    assert all(p["description"] for p in doc["profiles"])
