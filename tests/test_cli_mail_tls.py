"""MTA-STS, TLS-RPT and DANE end to end through the CLI, all on loopback.

A DNS server serves MX, TXT, A and TLSA records (with or without the AD flag); one HTTPS
server answers for every ``mta-sts.<domain>`` (the tests' CA, via the hidden
``--policy-port``/``--policy-cafile``); aiosmtpd personas with trustme certificates are
the MX hosts, each on its own loopback address and one shared port.
"""

from __future__ import annotations

import hashlib
import json
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from smtpprobe.cli import main
from tests.conftest import PersonaController
from tests.dnsserver import DnsServer, Records
from tests.policy_server import Page, PolicyServer, pages_for
from tests.servers import DOMAIN
from tests.test_cli_mx import _port_free_on

FAST = ("--timeout", "5", "--command-timeout", "2")
SHARED, BADCERT, PLAIN = "127.0.0.2", "127.0.0.3", "127.0.0.4"


def _policy(mode: str = "enforce", mx: str = "mx.shared.test", max_age: int = 604800) -> bytes:
    return f"version: STSv1\nmode: {mode}\nmx: {mx}\nmax_age: {max_age}\n".encode()


PAGES = dict(
    pages_for(
        good=Page(_policy()),
        badmx=Page(_policy(mx="mail.badmx.test")),
        badcert=Page(_policy(mx="*.badcert.test")),
        plain=Page(_policy(mx="mx.plain.test")),
        testing=Page(_policy(mode="testing")),
        bigage=Page(_policy(max_age=40_000_000)),
        slow=Page(_policy(), delay=8.0),
        ctype=Page(_policy(), content_type="text/html"),
        redirect=Page(b"", status=301, location="https://www.redirect.test/mta-sts.txt"),
        huge=Page(_policy() + b"#" * 70_000),
        chunked=Page(_policy(), chunked=True),
        orphan=Page(_policy()),
        multi=Page(_policy(max_age=40_000_000) + b"colour: blue\n", content_type="text/html"),
    )
)
MX_OF = {"badcert": "mx.badcert.test", "plain": "mx.plain.test"}
NO_TXT = {"orphan", "none", "dane"}
NO_RPT = {"testing"}


@dataclass(frozen=True)
class Lab:
    port: int  # the SMTP port every MX host listens on
    https_port: int
    cafile: str
    leaf_chain: list[bytes]  # what mx.shared.test presents, leaf first (DER)
    https: PolicyServer
    badcert_leaf: bytes = b""  # mx.badcert.test's leaf: issued for another name

    def zone(self, tlsa: list[str] | None = None) -> Records:
        records: dict[str, dict[str, list[str]]] = {
            "mx.shared.test.": {"A": [SHARED]},
            "mx.badcert.test.": {"A": [BADCERT]},
            "mx.plain.test.": {"A": [PLAIN]},
        }
        for label in [*(h.split(".")[1] for h in PAGES), "none", "dane"]:
            domain = f"{label}.test."
            records[domain] = {"MX": [f"10 {MX_OF.get(label, 'mx.shared.test')}."]}
            if label not in NO_TXT:
                records[f"_mta-sts.{domain}"] = {"TXT": ['"v=STSv1; id=20260101"']}
            if label not in NO_RPT:
                records[f"_smtp._tls.{domain}"] = {
                    "TXT": [f'"v=TLSRPTv1; rua=mailto:tls@{label}.test"']
                }
            if f"mta-sts.{label}.test" in PAGES:
                records[f"mta-sts.{domain}"] = {"A": ["127.0.0.1"]}
        if tlsa is not None:
            records[f"_{self.port}._tcp.mx.shared.test."] = {"TLSA": tlsa}
        return records


def _der(pem: trustme.Blob) -> bytes:
    return x509.load_pem_x509_certificate(pem.bytes()).public_bytes(Encoding.DER)


def _context(leaf: trustme.LeafCert) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(context)
    return context


@pytest.fixture(scope="module")
def lab(tls_ca: trustme.CA, cafile: str) -> Iterator[Lab]:
    intermediate = tls_ca.create_child_ca()
    shared = intermediate.issue_cert("mx.shared.test")  # sends leaf + intermediate
    wrong = tls_ca.issue_cert("wrong.example")
    hosts = {
        SHARED: ("hidden", _context(shared)),
        BADCERT: ("hidden", _context(wrong)),
        PLAIN: ("hidden", None),
    }
    port = _port_free_on(list(hosts))
    controllers = [
        PersonaController(
            persona,
            starttls=context,
            hostname=address,
            port=port,
            server_hostname=DOMAIN,
            ready_timeout=5.0,
        )
        for address, (persona, context) in hosts.items()
    ]
    with PolicyServer(tls_ca, PAGES) as https:
        for controller in controllers:
            controller.start()
        try:
            yield Lab(
                port,
                https.port,
                cafile,
                [_der(p) for p in shared.cert_chain_pems],
                https,
                _der(wrong.cert_chain_pems[0]),
            )
        finally:
            for controller in controllers:
                controller.stop(no_assert=True)


@pytest.fixture
def probe(lab: Lab, capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[..., Any]]:
    """``probe(domain, *options, tlsa=…, ad=…, servfail=…)`` → (exit code, JSON Lines)."""
    servers: list[DnsServer] = []

    def run(
        domain: str,
        *argv: str,
        tlsa: list[str] | None = None,
        ad: bool = True,
        servfail: tuple[str, ...] = (),
    ) -> tuple[int, list[dict[str, Any]]]:
        server = DnsServer(lab.zone(tlsa), authenticated=ad, servfail=servfail)
        server.start()
        servers.append(server)
        code = main(
            [
                "probe",
                domain,
                "--mx",
                "--port",
                str(lab.port),
                "--cafile",
                lab.cafile,
                "--dns-server",
                f"127.0.0.1:{server.port}",
                "--policy-port",
                str(lab.https_port),
                "--policy-cafile",
                lab.cafile,
                "--format",
                "json",
                *FAST,
                *argv,
            ]
        )
        out = capsys.readouterr().out
        return code, [json.loads(line) for line in out.splitlines()]

    try:
        yield run
    finally:
        for server in servers:
            server.stop()


def _reasons(finding: dict[str, Any]) -> list[str]:
    """The finding's reason, then its notes' (each defect beyond the worst one)."""
    return [finding["reason"], *(note["reason"] for note in finding["notes"])]


# -- MTA-STS and TLS-RPT ---------------------------------------------------------------------


def test_enforced_policy_that_the_mx_satisfies(probe: Callable[..., Any], lab: Lab) -> None:
    code, (doc,) = probe("good.test")
    sts, rpt = doc["findings"]["mta_sts"], doc["findings"]["tls_rpt"]
    assert (sts["status"], sts["reason"]) == ("ok", "enforced")
    assert (sts["mode"], sts["mx"], sts["max_age"], sts["id"]) == (
        "enforce",
        ["mx.shared.test"],
        604800,
        "20260101",
    )
    assert sts["mx_match"] == "mx.shared.test" and sts["host_tls"] == "verified"
    assert "enforces MTA-STS" in sts["summary"]
    assert (rpt["status"], rpt["reason"], rpt["rua"]) == (
        "ok",
        "published",
        ["mailto:tls@good.test"],
    )
    assert doc["findings"]["dane"]["verdict"] == "no-records"
    assert code == 0
    assert ("mta-sts.good.test", "/.well-known/mta-sts.txt") in lab.https.requests


def test_chunked_policy_is_read(probe: Callable[..., Any]) -> None:
    code, (doc,) = probe("chunked.test")
    assert doc["findings"]["mta_sts"]["reason"] == "enforced" and code == 0


@pytest.mark.parametrize(
    ("domain", "reason"),
    [
        ("badmx.test", "mx-not-in-policy"),
        ("badcert.test", "mx-tls-invalid"),
        ("plain.test", "mx-no-starttls"),
    ],
)
def test_enforce_with_a_failing_mx_is_critical(
    probe: Callable[..., Any], domain: str, reason: str
) -> None:
    code, (doc,) = probe(domain)
    sts = doc["findings"]["mta_sts"]
    assert (sts["status"], sts["reason"]) == ("critical", reason)
    assert "will not deliver" in sts["summary"]
    assert code == 2


def test_insecure_probe_still_fails_mta_sts(probe: Callable[..., Any]) -> None:
    """--insecure lets the probe go on, but MTA-STS senders verify: still CRITICAL."""
    code, (doc,) = probe("badcert.test", "--insecure")
    sts = doc["findings"]["mta_sts"]
    assert (sts["reason"], sts["host_tls"]) == ("mx-tls-invalid", "unverified")
    assert "Hostname mismatch" in sts["summary"] and code == 2


def test_testing_mode_without_reports(probe: Callable[..., Any]) -> None:
    code, (doc,) = probe("testing.test")
    sts, rpt = doc["findings"]["mta_sts"], doc["findings"]["tls_rpt"]
    assert (sts["status"], sts["reason"], sts["mode"]) == ("ok", "testing", "testing")
    assert "still deliver" in sts["summary"] and "`mode: enforce`" in sts["advice"]
    assert (rpt["status"], rpt["reason"]) == ("warning", "none-while-testing")
    assert code == 1


@pytest.mark.parametrize(
    ("domain", "reason"),
    [
        ("bigage.test", "policy-max-age-too-large"),
        ("ctype.test", "policy-content-type"),
        ("redirect.test", "policy-redirect"),
        ("huge.test", "policy-too-large"),
        ("orphan.test", "policy-without-record"),
    ],
)
def test_policy_defects_are_warnings(probe: Callable[..., Any], domain: str, reason: str) -> None:
    code, (doc,) = probe(domain)
    sts = doc["findings"]["mta_sts"]
    assert (sts["status"], sts["reason"]) == ("warning", reason)
    assert sts["advice"] and code == 1


def test_redirect_is_not_followed(probe: Callable[..., Any], lab: Lab) -> None:
    _code, (doc,) = probe("redirect.test")
    assert "https://www.redirect.test/mta-sts.txt" in doc["findings"]["mta_sts"]["summary"]
    assert not any(host.startswith("www.") for host, _ in lab.https.requests)


@pytest.mark.slow
def test_slow_policy_host_times_out(probe: Callable[..., Any]) -> None:
    started = time.monotonic()
    code, (doc,) = probe("slow.test", "--timeout", "2")
    took = time.monotonic() - started
    sts = doc["findings"]["mta_sts"]
    assert (sts["status"], sts["reason"]) == ("warning", "policy-timeout")
    assert took < 7.5  # the 8 s server did not hold the probe (generous on a loaded host)
    assert code == 1


def test_no_policy_at_all_is_ok(probe: Callable[..., Any]) -> None:
    code, (doc,) = probe("none.test")
    assert doc["findings"]["mta_sts"]["reason"] == "none"
    assert doc["findings"]["mta_sts"]["status"] == "ok" and code == 0


def test_no_mta_sts_leaves_it_out(probe: Callable[..., Any]) -> None:
    code, (doc,) = probe("badmx.test", "--no-mta-sts", "--no-dane")
    assert {"mta_sts", "tls_rpt", "dane"}.isdisjoint(doc["findings"]) and code == 0


def test_mta_sts_option_alone_probes_the_mx_hosts(
    lab: Lab, probe: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    server = DnsServer(lab.zone())
    with server:
        code = main(
            [
                "probe",
                "--mta-sts",
                "badmx.test",
                "--port",
                str(lab.port),
                "--cafile",
                lab.cafile,
                "--dns-server",
                f"127.0.0.1:{server.port}",
                "--policy-port",
                str(lab.https_port),
                "--policy-cafile",
                lab.cafile,
                *FAST,
            ]
        )
    out = " ".join(capsys.readouterr().out.split())  # the table wraps lines
    assert "MTA-STS critical mx.shared.test is an MX host of badmx.test but matches none" in out
    assert "Add `mx: mx.shared.test`" in out
    assert code == 2


def test_indonesian_words(probe: Callable[..., Any]) -> None:
    _code, (doc,) = probe("testing.test", "--lang", "id")
    assert "pengirim" in doc["findings"]["mta_sts"]["summary"]
    assert "TLS-RPT" in doc["findings"]["tls_rpt"]["advice"] or doc["findings"]["tls_rpt"][
        "summary"
    ].startswith("MTA-STS")


# -- DANE ------------------------------------------------------------------------------------


def _sha256_spki(der: bytes) -> str:
    key = x509.load_der_x509_certificate(der).public_key()
    return hashlib.sha256(
        key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    ).hexdigest()


def test_dane_ee_valid(probe: Callable[..., Any], lab: Lab) -> None:
    code, (doc,) = probe("dane.test", tlsa=[f"3 1 1 {_sha256_spki(lab.leaf_chain[0])}"])
    found = doc["findings"]["dane"]
    assert (found["status"], found["verdict"], found["depth"]) == ("ok", "valid", 0)
    assert found["authenticated"] is True and found["chain_length"] == 2
    assert code == 0


def test_dane_ta_valid(probe: Callable[..., Any], lab: Lab) -> None:
    digest = hashlib.sha256(lab.leaf_chain[1]).hexdigest()
    code, (doc,) = probe("dane.test", tlsa=[f"2 0 1 {digest}"])
    found = doc["findings"]["dane"]
    assert (found["verdict"], found["depth"]) == ("valid", 1) and code == 0


def test_dane_mismatch_is_critical(probe: Callable[..., Any]) -> None:
    code, (doc,) = probe("dane.test", tlsa=["3 1 1 " + "ab" * 32])
    found = doc["findings"]["dane"]
    assert (found["status"], found["verdict"], found["reason"]) == (
        "critical",
        "mismatch",
        "mismatch",
    )
    assert "will not deliver" in found["summary"] and code == 2


def test_dane_without_ad_is_not_validated(probe: Callable[..., Any], lab: Lab) -> None:
    code, (doc,) = probe("dane.test", tlsa=[f"3 1 1 {_sha256_spki(lab.leaf_chain[0])}"], ad=False)
    found = doc["findings"]["dane"]
    assert (found["status"], found["verdict"]) == ("warning", "not-validated")
    assert "trusts the configured resolver" in found["summary"] and code == 1


def test_dane_pkix_usages_are_unusable(probe: Callable[..., Any], lab: Lab) -> None:
    _code, (doc,) = probe("dane.test", tlsa=[f"1 1 1 {_sha256_spki(lab.leaf_chain[0])}"])
    found = doc["findings"]["dane"]
    assert (found["status"], found["reason"], found["verdict"]) == (
        "warning",
        "no-usable-records",
        None,
    )


def test_dane_for_a_host_without_starttls(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    records = lab.zone()
    records[f"_{lab.port}._tcp.mx.plain.test."] = {"TLSA": ["3 1 1 " + "ab" * 32]}
    with DnsServer(records, authenticated=True) as server:
        code = main(
            [
                "probe",
                "mx.plain.test",
                "--dane",
                "--port",
                str(lab.port),
                "--dns-server",
                f"127.0.0.1:{server.port}",
                "--format",
                "json",
                *FAST,
            ]
        )
    doc = json.loads(capsys.readouterr().out)
    found = doc["findings"]["dane"]
    assert (found["status"], found["reason"], found["verdict"]) == (
        "critical",
        "no-starttls",
        "mismatch",
    )
    assert "mta_sts" not in doc["findings"] and code == 2


def test_policy_host_with_an_untrusted_certificate(
    probe: Callable[..., Any], tmp_path: Any
) -> None:
    """RFC 8461 §3.3: the policy host's certificate must verify; here the CA is unknown."""
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    code, (doc,) = probe("good.test", "--policy-cafile", str(other))
    sts = doc["findings"]["mta_sts"]
    assert (sts["status"], sts["reason"]) == ("warning", "policy-tls")
    assert "certificate verify failed" in sts["summary"] or "unable to get" in sts["summary"]
    assert code == 1


def test_a_bad_mta_sts_domain_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["probe", "--mta-sts", "not a domain"])
    err = capsys.readouterr().err
    assert code == 3 and "--mta-sts 'not a domain' is not a domain name" in err


def test_dns_failures_are_unknown(probe: Callable[..., Any], lab: Lab) -> None:
    code, (doc,) = probe(
        "good.test",
        servfail=("_mta-sts.good.test", "_smtp._tls.good.test", f"_{lab.port}._tcp.mx.shared.test"),
    )
    found = doc["findings"]
    assert [(found[c]["status"], found[c]["reason"]) for c in ("mta_sts", "tls_rpt", "dane")] == [
        ("unknown", "record-lookup-failed"),
        ("unknown", "lookup-failed"),
        ("unknown", "lookup-failed"),
    ]
    assert "servfail" in found["dane"]["summary"]
    assert code == 3


def test_every_defect_is_said(probe: Callable[..., Any]) -> None:
    code, (doc,) = probe("multi.test")
    sts = doc["findings"]["mta_sts"]
    assert _reasons(sts) == [
        "policy-content-type",
        "policy-max-age-too-large",
        "policy-unknown-field",
    ]
    assert "`text/html`" in sts["summary"] and "40000000 seconds" in sts["summary"]
    assert "`colour`" in sts["summary"] and "`max_age: 31557600`" in sts["advice"]
    assert code == 1


def test_dane_ee_authenticates_what_pkix_rejects(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    """The DANE-EE case: the name does not match, PKIX fails, DANE still delivers."""
    records = lab.zone()
    records[f"_{lab.port}._tcp.mx.badcert.test."] = {
        "TLSA": [f"3 1 1 {_sha256_spki(lab.badcert_leaf)}"]
    }
    with DnsServer(records, authenticated=True) as server:
        main(
            [
                "probe",
                "mx.badcert.test",
                "--dane",
                "--port",
                str(lab.port),
                "--cafile",
                lab.cafile,
                "--dns-server",
                f"127.0.0.1:{server.port}",
                "--format",
                "json",
                *FAST,
            ]
        )
    doc = json.loads(capsys.readouterr().out)
    found = doc["findings"]["dane"]
    assert (found["status"], found["verdict"], found["depth"]) == ("ok", "valid", 0)
    assert doc["findings"]["tls"]["status"] != "ok"  # PKIX still says why it fails


def test_dane_for_a_stream_of_hosts(
    lab: Lab, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """--targets streams: each host's TLSA look-up starts as the fleet takes it, each JSON
    line carries its own verdict, and the exit code counts the judged findings."""
    records = lab.zone([f"3 1 1 {_sha256_spki(lab.leaf_chain[0])}"])
    records[f"_{lab.port}._tcp.mx.plain.test."] = {"TLSA": ["3 1 1 " + "ab" * 32]}
    targets = tmp_path / "hosts.txt"
    targets.write_text("mx.shared.test\n# a comment\nmx.plain.test\nmx.badcert.test\n")
    with DnsServer(records, authenticated=True) as server:
        code = main(
            [
                "probe",
                "--targets",
                str(targets),
                "--dane",
                "--port",
                str(lab.port),
                "--cafile",
                lab.cafile,
                "--dns-server",
                f"127.0.0.1:{server.port}",
                "--format",
                "json",
                *FAST,
            ]
        )
    docs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    verdicts = {
        d["target"]["host"]: (d["findings"]["dane"]["reason"], d["findings"]["dane"]["verdict"])
        for d in docs
    }
    assert verdicts == {
        "mx.shared.test": ("valid", "valid"),
        "mx.plain.test": ("no-starttls", "mismatch"),
        "mx.badcert.test": ("no-records", "no-records"),
    }
    assert code == 2
