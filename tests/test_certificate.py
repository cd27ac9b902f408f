"""Certificate facts and the presented chain: built certificates, odd ones, and real handshakes."""

from __future__ import annotations

import base64
import ssl
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from smtpprobe.certificate import certificate_info, chain_certificate, chain_problems, name_matches
from smtpprobe.probe import probe
from smtpprobe.report import ProbeOptions, TlsMode
from tests.ports import ServerAddress
from tests.tls_servers import build_certificate, server_context, tls_persona  # noqa: F401

Start = Callable[..., Awaitable[ServerAddress]]


def der_of(pem: bytes) -> bytes:
    return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)


def test_weak_rsa_sha1_must_staple_self_signed_facts() -> None:
    pem, _ = build_certificate("old.test", rsa_bits=1024, must_staple=True, sans=("old.test",))
    info = certificate_info(der_of(pem))
    assert (info.key_type, info.key_bits) == ("RSA", 1024)
    assert info.signature_algorithm == "sha256WithRSAEncryption"
    assert info.must_staple and info.self_signed
    sha1 = certificate_info(der_of(build_certificate(sha1_label=True)[0]))
    assert sha1.signature_algorithm == "sha1WithRSAEncryption" and not sha1.self_signed
    assert info.serial == "c0ffee" and len(info.sha256) == 64
    assert info.not_before is not None and info.not_before < datetime.now(UTC)
    assert info.unreadable == ()


def test_ec_key_without_must_staple() -> None:
    info = certificate_info(der_of(build_certificate(rsa_bits=None)[0]))
    assert (info.key_type, info.key_bits, info.must_staple) == ("EC", 256, False)
    assert info.signature_algorithm == "ecdsa-with-SHA256"


def _base_der() -> bytes:
    """A certificate with SAN dNSName zzzz.test and IssuerAltName yyyy.test, to patch."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "odd.test")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(0x1234)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=10))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("zzzz.test")]), False)
        .add_extension(x509.IssuerAlternativeName([x509.DNSName("yyyy.test")]), False)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


# dNSName [2] "zzzz.test" rewritten as x400Address [3] / ediPartyName [5], same length.
X400 = (b"\x82\x09zzzz.test", b"\xa3\x09\x30\x07\x0c\x05x.400")
EDI = (b"\x82\x09zzzz.test", b"\xa5\x09\xa1\x07\x0c\x05party")
# IssuerAltName's OID 2.5.29.18 turned into a second SubjectAltName 2.5.29.17.
DUPLICATE = (bytes.fromhex("0603551d12"), bytes.fromhex("0603551d11"))


@pytest.mark.parametrize(
    ("patch", "error"),
    [
        (X400, "UnsupportedGeneralNameType"),
        (EDI, "UnsupportedGeneralNameType"),
        (DUPLICATE, "DuplicateExtension"),
    ],
)
def test_odd_extensions_keep_the_rest_and_name_what_failed(
    patch: tuple[bytes, bytes], error: str
) -> None:
    der = _base_der()
    assert patch[0] in der
    info = certificate_info(der.replace(*patch))
    assert f"sans: {error}" in info.unreadable
    assert info.subject == "odd.test" and info.serial == "1234" and info.key_type == "EC"
    assert info.not_after is not None and info.days_left is not None
    # A SAN that could not be read never lets the CN stand in for it.
    assert not name_matches(info, "odd.test")


def test_invalid_version_still_gives_the_fingerprint() -> None:
    der = _base_der().replace(bytes.fromhex("a003020102"), bytes.fromhex("a003020107"), 1)
    info = certificate_info(der)
    assert info.unreadable == ("certificate: InvalidVersion",)
    assert len(info.sha256) == 64 and info.subject == ""


def test_garbage_is_unreadable_not_an_exception() -> None:
    info = certificate_info(b"\x30\x03\x02\x01\x00")
    assert info.unreadable and info.unreadable[0].startswith("certificate:")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("mx.example.org", True),
        ("MX.Example.ORG.", True),
        ("a.mail.example.org", True),
        ("mail.example.org", False),
        ("a.b.mail.example.org", False),
        ("example.org", False),
        ("192.0.2.1", True),
        ("192.0.2.2", False),
    ],
)
def test_name_matching_follows_rfc_6125(name: str, expected: bool) -> None:
    ca = trustme.CA()
    leaf = ca.issue_cert("mx.example.org", "*.mail.example.org", "192.0.2.1")
    info = certificate_info(der_of(leaf.cert_chain_pems[0].bytes()))
    assert name_matches(info, name) is expected


def test_chain_problems_from_built_chains() -> None:
    root = trustme.CA()
    inter = root.create_child_ca()
    leaf = inter.issue_cert("mx.example.org")
    leaf_der, inter_der = (der_of(p.bytes()) for p in leaf.cert_chain_pems)
    root_der = der_of(root.cert_pem.bytes())
    leaf_c, inter_c, root_c = map(chain_certificate, (leaf_der, inter_der, root_der))
    assert chain_problems((leaf_c, inter_c)) == ()
    assert chain_problems((leaf_c, inter_c, root_c)) == ("root-sent",)
    assert chain_problems((leaf_c, root_c, inter_c)) == ("wrong-order", "root-sent")
    missing = chain_problems((leaf_c,), "unable to get local issuer certificate")
    assert missing == ("missing-intermediate",)
    self_signed = chain_certificate(der_of(build_certificate()[0]))
    assert chain_problems((self_signed,)) == ("self-signed-leaf",)


async def test_the_chain_as_sent_is_recorded_der_per_element(
    tls_persona: Start, tmp_path: Path
) -> None:
    root = trustme.CA()
    leaf = root.create_child_ca().issue_cert("localhost", "127.0.0.1")
    server = await tls_persona(server_context(leaf, tmp_path), tls="starttls")
    cafile = tmp_path / "ca.pem"
    root.cert_pem.write_to_path(str(cafile))
    options = ProbeOptions(
        port=server.port,
        tls=TlsMode.STARTTLS,
        deadline=10.0,
        cafile=str(cafile),
        steps=frozenset({"starttls", "quit"}),
    )
    report = await probe(server.host, options=options)
    tls = report.session.tls
    assert tls is not None and tls.verified
    sent = [der_of(p.bytes()) for p in leaf.cert_chain_pems]
    assert [element.der for element in tls.chain] == sent and len(sent) == 2
    assert tls.chain[0].issuer == tls.chain[1].subject and tls.chain[1].is_ca
    data = report.finding("tls").data  # type: ignore[union-attr]
    assert [base64.b64decode(e["der"]) for e in data["chain"]] == sent
    assert data["chain_problems"] == []
    assert (data["certificate"]["key_type"], data["certificate"]["key_bits"]) == ("EC", 256)
    assert data["certificate"]["sha256"] == tls.certificate.sha256  # type: ignore[union-attr]


async def test_verify_name_and_sni_apart_when_probing_an_address(
    tls_persona: Start, tmp_path: Path
) -> None:
    root = trustme.CA()
    leaf = root.issue_cert("mx.example.org")
    server = await tls_persona(server_context(leaf, tmp_path), tls="starttls")
    cafile = tmp_path / "ca.pem"
    root.cert_pem.write_to_path(str(cafile))
    base = {
        "port": server.port,
        "tls": TlsMode.STARTTLS,
        "deadline": 10.0,
        "cafile": str(cafile),
        "steps": frozenset({"starttls", "quit"}),
    }
    good = await probe(
        server.host,
        options=ProbeOptions(**base, sni="mx.example.org", verify_name="mx.example.org"),
    )  # type: ignore[arg-type]
    assert good.session.tls is not None and good.session.tls.verified
    assert good.session.tls.sni == "mx.example.org" and good.session.tls.name_matches
    own = await probe(server.host, options=ProbeOptions(**base, verify_name="mx.example.org"))  # type: ignore[arg-type]
    assert own.session.tls is not None and own.session.tls.verified, own.session.error
    wrong = await probe(
        server.host, options=ProbeOptions(**base, verify_name="other.example.org", insecure=True)
    )  # type: ignore[arg-type]
    tls = wrong.session.tls
    assert tls is not None and not tls.verified and tls.name_matches is False
    assert "other.example.org" in tls.verify_error
    assert wrong.finding("tls").status.value == "warning"  # type: ignore[union-attr]


async def test_client_certificate_is_presented(tls_persona: Start, tmp_path: Path) -> None:
    root = trustme.CA()
    context = server_context(root.issue_cert("localhost", "127.0.0.1"), tmp_path)
    context.verify_mode = ssl.CERT_REQUIRED
    root.configure_trust(context)
    server = await tls_persona(context, tls="implicit")
    cafile, client = tmp_path / "ca.pem", tmp_path / "client.pem"
    root.cert_pem.write_to_path(str(cafile))
    root.issue_cert("client@example.org").private_key_and_cert_chain_pem.write_to_path(str(client))
    base = {
        "port": server.port,
        "tls": TlsMode.IMPLICIT,
        "deadline": 10.0,
        "cafile": str(cafile),
        "steps": frozenset({"quit"}),
    }
    without = await probe(server.host, options=ProbeOptions(**base))  # type: ignore[arg-type]
    assert without.session.tls is None or without.session.error is not None
    with_cert = await probe(server.host, options=ProbeOptions(**base, client_cert=str(client)))  # type: ignore[arg-type]
    assert with_cert.session.complete, with_cert.session.error
    assert with_cert.session.tls is not None and with_cert.session.tls.client_certificate
