"""``smtpprobe probe --tls-scan --sni --verify-name --cert --key`` through `cli.main`."""

from __future__ import annotations

import json
import ssl
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
import trustme
from aiosmtpd.controller import Controller

from tests.cli import run_main, set_plain_english
from tests.conftest import PersonaController
from tests.ports import ServerAddress, free_port
from tests.tls_servers import build_certificate, server_context


def _serve(
    start_controller: Callable[[Controller], ServerAddress], context: ssl.SSLContext
) -> ServerAddress:
    return start_controller(
        PersonaController(
            "hidden",
            starttls=context,
            hostname="127.0.0.1",
            port=free_port(),
            server_hostname="mx.test",
            ready_timeout=5.0,
        )
    )


@pytest.fixture
def old_tls_server(
    start_controller: Callable[[Controller], ServerAddress], tmp_path: Path
) -> ServerAddress:
    """STARTTLS allowing TLS 1.0 to 1.2 and CBC suites only (a 2015 Postfix).

    ECDHE-RSA-AES128-SHA256 is there because Python's default client context (the main
    probe's) offers no SHA-1 or plain-RSA suite."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context = server_context(
            build_certificate("localhost"),
            tmp_path,
            minimum=ssl.TLSVersion.TLSv1,
            maximum=ssl.TLSVersion.TLSv1_2,
            ciphers="ECDHE-RSA-AES128-SHA256:ECDHE-RSA-AES128-SHA:AES128-SHA:@SECLEVEL=0",
        )
    return _serve(start_controller, context)


def test_tls_scan_json_and_exit_code(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    old_tls_server: ServerAddress,
) -> None:
    set_plain_english(monkeypatch)
    code, out, err = run_main(
        capsys,
        "probe",
        f"127.0.0.1:{old_tls_server.port}",
        "--tls-scan",
        "--insecure",
        "--format",
        "json",
        "--timeout",
        "30",
        "--only",
        "starttls",
        "--only",
        "quit",
    )
    document = json.loads(out)
    tls = document["findings"]["tls"]
    assert tls["protocols"] == {
        "SSLv3": False,
        "TLSv1": True,
        "TLSv1.1": True,
        "TLSv1.2": True,
        "TLSv1.3": False,
    }
    assert tls["weak_ciphers"] == [tls["cipher_classes"]["CBC"]]  # CBC-only
    assert "AES128-SHA" in tls["weak_ciphers"][0]
    assert tls["cipher_classes"]["AEAD"] == "" and tls["cipher_classes"]["FS"]
    assert tls["cipher_classes"]["kRSA"] == "AES128-SHA"
    assert tls["scan"]["untested"] == ["SSLv2"]
    assert tls["certificate"]["self_signed"] is True and tls["chain_problems"] == [
        "self-signed-leaf"
    ]
    assert tls["status"] == "warning" and code == 1, err


@pytest.mark.slow
def test_tls_scan_text_names_the_problems(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    old_tls_server: ServerAddress,
) -> None:
    set_plain_english(monkeypatch)
    code, out, _ = run_main(
        capsys,
        "probe",
        f"127.0.0.1:{old_tls_server.port}",
        "--tls-scan",
        "--insecure",
        "--only",
        "starttls",
        "--timeout",
        "30",
    )
    flat = " ".join(out.split())
    assert "TLSv1, TLSv1.1" in flat and "RFC 8996" in flat
    assert "(CBC-only)" in flat
    assert code == 1


def test_sni_and_verify_name_when_probing_an_address(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    start_controller: Callable[[Controller], ServerAddress],
    tmp_path: Path,
) -> None:
    set_plain_english(monkeypatch)
    ca = trustme.CA()
    server = _serve(start_controller, server_context(ca.issue_cert("mx.example.org"), tmp_path))
    cafile = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    base = (
        "probe",
        f"127.0.0.1:{server.port}",
        "--cafile",
        str(cafile),
        "--format",
        "json",
        "--only",
        "starttls",
        "--tls",
        "starttls",
    )
    code, out, _ = run_main(capsys, *base)
    assert code == 2 and "IP address mismatch" in out
    code, out, _ = run_main(capsys, *base, "--verify-name", "mx.example.org")
    tls = json.loads(out)["findings"]["tls"]
    assert tls["verified"] and tls["name_matches"] and tls["verify_name"] == "mx.example.org"
    assert code == 0
    code, out, _ = run_main(capsys, *base, "--sni", "mx.example.org")
    assert code == 0 and json.loads(out)["findings"]["tls"]["sni"] == "mx.example.org"


@pytest.mark.parametrize(
    "argv",
    [
        ("--sni", "bad name"),
        ("--verify-name", "exa\u202emple.org"),
        ("--sni", "a..b"),
    ],
)
def test_bad_names_are_usage_errors(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, argv: tuple[str, str]
) -> None:
    set_plain_english(monkeypatch)
    code, _, err = run_main(capsys, "probe", "127.0.0.1:2525", *argv)
    assert code == 3 and "not a host name" in err and "Traceback" not in err


def test_key_without_cert_and_a_bad_cert_are_usage_errors(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    set_plain_english(monkeypatch)
    key = tmp_path / "key.pem"
    key.write_text("not a key\n")
    code, _, err = run_main(capsys, "probe", "127.0.0.1:2525", "--key", str(key))
    assert code == 3 and "--key needs --cert" in err
    code, _, err = run_main(
        capsys, "probe", "127.0.0.1:2525", "--cert", str(key), "--tls", "starttls"
    )
    assert code == 3 and "client certificate" in err and "Traceback" not in err


def test_tls_scan_with_tls_none_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    set_plain_english(monkeypatch)
    code, _, err = run_main(capsys, "probe", "127.0.0.1:2525", "--tls-scan", "--tls", "none")
    assert code == 3 and "--tls-scan needs TLS" in err
