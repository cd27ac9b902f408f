"""STARTTLS and TLS under attack: injection, refusal, a fake handshake, bad certificates.

Certificates come from the session's trustme CA (``conftest.server_certs``, ``cafile``);
the self-signed one is made by `tests.hostile.self_signed_context`.
"""

from __future__ import annotations

from typing import Any

import pytest
import trustme

from tests import hostile
from tests.hostile import CliRun, Script, run_cli, serve_in_thread


def probe(capsys: pytest.CaptureFixture[str], script: Script, *extra: str) -> CliRun:
    with serve_in_thread(script) as server:
        run = run_cli(capsys, "probe", server.target, "--timeout", "3", *extra)
    assert "Traceback" not in run.err and "internal error" not in run.err
    return run


def probe_json(capsys: pytest.CaptureFixture[str], script: Script, *extra: str) -> Any:
    return probe(capsys, script, "--format", "json", *extra).json()


def test_bytes_injected_before_the_handshake_are_discarded_and_flagged(
    capsys: pytest.CaptureFixture[str], server_certs: dict[str, trustme.LeafCert], cafile: str
) -> None:
    """CVE-2011-0411: ``250 injected`` must not be read as the reply to EHLO inside TLS."""
    context = hostile.server_context(server_certs["valid"])
    with serve_in_thread(hostile.starttls_injection(context)) as server:
        run = run_cli(
            capsys,
            "probe",
            server.target,
            "--tls",
            "starttls",
            "--cafile",
            cafile,
            "--timeout",
            "3",
            "--format",
            "json",
        )
    doc = run.json()
    assert run.code == 1 and doc["status"] == "warning" and doc["complete"]
    deviations = doc["findings"]["deviations"]
    assert deviations["status"] == "warning"
    (stray,) = [i for i in deviations["items"] if i["kind"] == "stray-bytes"]
    assert stray["bytes"] == "250 injected\r\n"
    # The EHLO inside TLS got the server's real EHLO reply, not the injected line.
    phases = [e["phase"] for e in doc["exchanges"]]
    assert phases[:4] == ["banner", "EHLO", "STARTTLS", "EHLO"]
    assert doc["exchanges"][3]["reply"]["lines"][0] == "mx.hostile.test greets you"
    assert doc["findings"]["tls"]["verified"] is True
    # And the client did send that EHLO: the server saw it after STARTTLS.
    assert server.commands[1:3] == [b"STARTTLS", b"EHLO smtpprobe.invalid"]


def test_injection_is_explained_in_the_text_view(
    capsys: pytest.CaptureFixture[str], server_certs: dict[str, trustme.LeafCert], cafile: str
) -> None:
    context = hostile.server_context(server_certs["valid"])
    run = probe(
        capsys, hostile.starttls_injection(context), "--tls", "starttls", "--cafile", cafile
    )
    text = " ".join(run.out.split())
    assert run.code == 1
    assert "sent 14 bytes after `220 Ready to start TLS`" in text
    assert "RFC 3207 §4.2" in text


@pytest.mark.parametrize(
    ("mode", "code", "status"), [("auto", 1, "warning"), ("starttls", 2, "critical")]
)
def test_starttls_advertised_but_refused_is_a_finding(
    capsys: pytest.CaptureFixture[str], mode: str, code: int, status: str
) -> None:
    run = probe(capsys, hostile.starttls_refused, "--tls", mode, "--format", "json")
    doc = run.json()
    starttls = doc["findings"]["starttls"]
    assert run.code == code and starttls["status"] == status
    assert starttls["advertised"] is True and starttls["used"] is False
    assert "454" in starttls["summary"]
    assert doc["complete"]  # the session went on in clear and still judged VRFY
    assert doc["findings"]["vrfy"]["verdict"] == "hidden"


@pytest.mark.parametrize(("mode", "code"), [("auto", 1), ("starttls", 2)])
def test_plaintext_after_220_ready_is_a_handshake_failure_with_the_reason(
    capsys: pytest.CaptureFixture[str], mode: str, code: int
) -> None:
    doc = probe_json(capsys, hostile.plaintext_after_starttls, "--tls", mode)
    assert doc["error"]["kind"] == "tls" and doc["error"]["phase"] == "tls"
    assert "handshake failed" in doc["error"]["message"]
    assert "WRONG_VERSION_NUMBER" in doc["error"]["message"]  # OpenSSL's reason, kept
    starttls = doc["findings"]["starttls"]
    assert starttls["status"] in ("warning", "critical")
    assert doc["error"]["message"] in starttls["summary"]
    assert {"ok": 0, "warning": 1, "critical": 2}[doc["status"]] == code


@pytest.fixture
def bad_certs(server_certs: dict[str, trustme.LeafCert]) -> dict[str, Any]:
    return {
        "expired": hostile.server_context(server_certs["expired"]),
        "wrong-name": hostile.server_context(server_certs["wrong-name"]),
        "self-signed": hostile.self_signed_context("localhost", "127.0.0.1"),
    }


REASONS = {
    "expired": "certificate has expired",
    "wrong-name": "IP address mismatch",
    "self-signed": "self-signed certificate",
}


@pytest.mark.parametrize("cert", list(REASONS))
def test_a_bad_certificate_stops_the_probe_with_the_reason(
    capsys: pytest.CaptureFixture[str], bad_certs: dict[str, Any], cafile: str, cert: str
) -> None:
    doc = probe_json(
        capsys, hostile.tls_upgrade(bad_certs[cert]), "--tls", "starttls", "--cafile", cafile
    )
    assert doc["status"] == "critical" and not doc["complete"]
    assert doc["error"]["kind"] == "tls" and doc["error"]["phase"] == "tls"
    assert REASONS[cert] in doc["error"]["message"]
    assert REASONS[cert] in doc["findings"]["connection"]["summary"]
    assert "--insecure" in doc["error"]["hint"]


@pytest.mark.parametrize("cert", list(REASONS))
def test_insecure_goes_on_and_still_reports_the_bad_certificate(
    capsys: pytest.CaptureFixture[str], bad_certs: dict[str, Any], cafile: str, cert: str
) -> None:
    run = probe(
        capsys,
        hostile.tls_upgrade(bad_certs[cert]),
        "--tls",
        "starttls",
        "--cafile",
        cafile,
        "--insecure",
        "--format",
        "json",
    )
    doc = run.json()
    assert doc["complete"] and doc["error"] is None
    # WARNING from the certificate; a monitoring policy (--cert-days) may make it CRITICAL.
    assert run.code == {"warning": 1, "critical": 2}[doc["status"]]
    tls = doc["findings"]["tls"]
    assert tls["status"] == "warning" and tls["verified"] is False
    assert REASONS[cert] in tls["verify_error"]
    assert doc["findings"]["vrfy"]["verdict"] == "hidden"  # the probe did go on


def test_insecure_in_the_text_view_says_why_the_certificate_failed(
    capsys: pytest.CaptureFixture[str], bad_certs: dict[str, Any], cafile: str
) -> None:
    run = probe(
        capsys,
        hostile.tls_upgrade(bad_certs["self-signed"]),
        "--tls",
        "starttls",
        "--cafile",
        cafile,
        "--insecure",
    )
    assert run.code == 1
    assert "does NOT verify: self-signed certificate" in " ".join(run.out.split())
