"""``--tls-scan`` against the private Postfix with STARTTLS: TLS 1.0/1.1 allowed, then off.

OpenSSL 3 refuses TLS 1.0/1.1 above security level 0, whatever Postfix allows; the
instance sets ``tls_low_cipherlist`` with ``@SECLEVEL=0`` (and ``smtpd_tls_ciphers =
low``) so that the old versions really are offered when ``smtpd_tls_protocols`` allows
them. Anonymous suites: Postfix offers aNULL on opportunistic TLS by default.
"""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from pathlib import Path

import pytest
import trustme

from tests.cli import run_main, set_plain_english
from tests.postfix import PostfixInstance

pytestmark = pytest.mark.postfix


def _tls_settings(protocols: str) -> dict[str, str]:
    ca = trustme.CA()
    leaf = ca.issue_cert("mx.postfix.test", "127.0.0.1")
    # Written at import (the settings key a session-wide instance); readable by
    # Postfix's smtpd, which loads the key as root before dropping privileges.
    folder = Path(tempfile.mkdtemp(prefix="smtpprobe-pftls-"))
    atexit.register(shutil.rmtree, folder, True)
    folder.chmod(0o755)
    cert, key = folder / "cert.pem", folder / "key.pem"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    return {
        "smtpd_tls_cert_file": str(cert),
        "smtpd_tls_key_file": str(key),
        "smtpd_tls_security_level": "may",
        "smtpd_tls_protocols": protocols,
        "smtpd_tls_mandatory_protocols": protocols,
        "smtpd_tls_ciphers": "low",
        "tls_low_cipherlist": "ALL:@SECLEVEL=0",
        "smtpd_tls_session_cache_database": "",
        "smtpd_tls_loglevel": "1",
    }


OLD_ALLOWED = _tls_settings(">=TLSv1")
MODERN_ONLY = _tls_settings(">=TLSv1.2")


def _scan(capsys: pytest.CaptureFixture[str], server: PostfixInstance) -> tuple[int, dict]:  # type: ignore[type-arg]
    code, out, err = run_main(
        capsys,
        "probe",
        f"{server.host}:{server.port}",
        "--tls-scan",
        "--insecure",
        "--format",
        "json",
        "--timeout",
        "60",
        "--only",
        "starttls",
        "--only",
        "quit",
    )
    assert out, err + server.log_tail()
    return code, json.loads(out)["findings"]["tls"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("postfix_server", "old"),
    [(OLD_ALLOWED, True), (MODERN_ONLY, False)],
    indirect=["postfix_server"],
    ids=["tls1.0-allowed", "tls1.2-and-up"],
)
def test_postfix_protocols_and_anonymous_suites(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    postfix_server: PostfixInstance,
    old: bool,
) -> None:
    set_plain_english(monkeypatch)
    code, tls = _scan(capsys, postfix_server)
    assert tls["protocols"] == {
        "SSLv3": False,
        "TLSv1": old,
        "TLSv1.1": old,
        "TLSv1.2": True,
        "TLSv1.3": True,
    }, postfix_server.log_tail()
    assert tls["scan"]["errors"] == []
    # Postfix offers anonymous suites with smtpd_tls_security_level = may (its default
    # smtpd_tls_exclude_ciphers is empty): testssl.sh found the same in the lab.
    assert tls["cipher_classes"]["aNULL"]
    assert tls["weak_ciphers"] and tls["status"] == "warning" and code == 1
    assert ("RFC 8996" in tls["summary"]) is old
