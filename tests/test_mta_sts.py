"""MTA-STS and TLS-RPT parsing (RFC 8461 §3, RFC 8460 §3) and DANE matching over DER."""

from __future__ import annotations

import hashlib

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given
from hypothesis import strategies as st

from smtpprobe.dane import match_chain, usable
from smtpprobe.dns_facts import Tlsa
from smtpprobe.mta_sts import mx_pattern_for, parse_policy, parse_sts_record, parse_tlsrpt_record


@pytest.mark.parametrize(("texts", "expected"), [
    (["v=STSv1; id=20260101T000000;"], ("20260101T000000", None)),
    (["v=STSv1;id=abc"], ("abc", None)),
    (["google-site-verification=x", "v=STSv1; id=1"], ("1", None)),
    ([], (None, "no-record")),
    (["v=STSv10; id=1"], (None, "no-record")),
    (["v=STSv1; id=1", "v=STSv1; id=2"], (None, "multiple-records")),
    (["v=STSv1; id=2026-01-01"], (None, "record-bad-id")),
    (["v=STSv1; id=" + "a" * 33], (None, "record-bad-id")),
    (["v=STSv1"], (None, "record-bad-id")),
    (["v=STSv1; id=1; broken field"], (None, "record-syntax")),
])
def test_sts_record(texts: list[str], expected: tuple[str | None, str | None]) -> None:
    record_id, problem = parse_sts_record(texts)
    assert (record_id, problem.key if problem else None) == expected


@pytest.mark.parametrize(("texts", "rua", "problem"), [
    (["v=TLSRPTv1; rua=mailto:tls@example.org"], ("mailto:tls@example.org",), None),
    (["v=TLSRPTv1;rua=mailto:a@x.org,https://r.x.org/v1"],
     ("mailto:a@x.org", "https://r.x.org/v1"), None),
    (["v=TLSRPTv1; rua=ftp://x.org"], ("ftp://x.org",), "bad-rua"),
    (["v=TLSRPTv1;"], (), "no-rua"),
    (["v=TLSRPTv1; rua=mailto:a@x", "v=TLSRPTv1; rua=mailto:b@x"], (), "multiple-records"),
    (["v=spf1 -all"], (), "no-record"),
])
def test_tlsrpt_record(texts: list[str], rua: tuple[str, ...], problem: str | None) -> None:
    found, why = parse_tlsrpt_record(texts)
    assert (found, why.key if why else None) == (rua, problem)


def test_policy_fields_with_lf_or_crlf() -> None:
    for newline in ("\n", "\r\n"):
        body = newline.join(["version: STSv1", "mode: enforce", "mx: MX1.Example.org.",
                             "mx: *.example.net", "max_age: 86400", ""])
        policy = parse_policy(body.encode())
        assert (policy.version, policy.mode, policy.mx, policy.max_age) == (
            "STSv1", "enforce", ("mx1.example.org", "*.example.net"), 86400)
        assert policy.usable and policy.problems == ()


@pytest.mark.parametrize(("body", "keys", "usable"), [
    ("version: STSv1\nmode: strict\nmx: a.b\nmax_age: 1\n", ["bad-mode"], False),
    ("version: STSv2\nmode: none\nmax_age: 1\n", ["bad-version"], False),
    ("version: STSv1\nmode: enforce\nmax_age: 1\n", ["no-mx"], False),
    ("version: STSv1\nmode: none\nmax_age: 1\n", [], True),
    ("version: STSv1\nmode: testing\nmx: a.b\nmax_age: 31557601\n", ["max-age-too-large"],
     False),
    ("version: STSv1\nmode: testing\nmx: a.b\nmax_age: -1\n", ["bad-max-age"], False),
    ("version: STSv1\nmode: testing\nmx: a.b\n", ["bad-max-age"], False),
    ("version: STSv1\nmode: testing\nmode: enforce\nmx: a.b\nmax_age: 5\nfoo: bar\n",
     ["repeated-field", "unknown-field"], True),
    ("version: STSv1\n mode: testing\nmx: a.b\nmax_age: 5\n", ["policy-syntax", "bad-mode"],
     False),
    ("<html>nope</html>", ["policy-syntax", "bad-version", "bad-mode", "bad-max-age"], False),
])
def test_policy_problems(body: str, keys: list[str], usable: bool) -> None:
    policy = parse_policy(body.encode())
    assert [p.key for p in policy.problems] == keys
    assert policy.usable is usable


def test_policy_first_of_a_repeated_field_wins() -> None:
    policy = parse_policy(b"version: STSv1\nmode: testing\nmode: enforce\nmx: a.b\nmax_age: 5\n")
    assert policy.mode == "testing"


def test_policy_not_utf8() -> None:
    assert [p.key for p in parse_policy(b"version: STSv1\xff").problems] == ["policy-not-utf8"]


@given(st.binary(max_size=300))
def test_policy_parser_takes_any_bytes(body: bytes) -> None:
    policy = parse_policy(body)
    assert policy.usable == (policy.mode is not None and not any(
        p.key in ("policy-syntax", "bad-version", "bad-max-age", "no-mx", "max-age-too-large")
        for p in policy.problems))


@pytest.mark.parametrize(("host", "pattern"), [
    ("mx1.example.org", "mx1.example.org"),
    ("MX1.EXAMPLE.ORG.", "mx1.example.org"),
    ("mx2.example.net", "*.example.net"),
    ("a.b.example.net", None),  # the wildcard covers one label only (RFC 8461 §4.1)
    ("example.net", None),
    ("mx1.example.com", None),
])
def test_mx_patterns(host: str, pattern: str | None) -> None:
    assert mx_pattern_for(host, ["mx1.example.org", "*.example.net"]) == pattern


# -- DANE matching over DER ------------------------------------------------------------------

@pytest.fixture(scope="module")
def chain() -> tuple[trustme.CA, list[bytes]]:
    """A root, an intermediate CA, and a leaf for mx1.dane.test: leaf first, as sent."""
    root = trustme.CA()
    intermediate = root.create_child_ca()
    leaf = intermediate.issue_cert("mx1.dane.test")
    ders = [x509.load_pem_x509_certificate(pem.bytes()).public_bytes(Encoding.DER)
            for pem in leaf.cert_chain_pems]
    return root, ders


def _spki(der: bytes) -> bytes:
    return x509.load_der_x509_certificate(der).public_key().public_bytes(
        Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


@pytest.mark.parametrize(("selector", "mtype"), [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)])
def test_dane_ee_every_selector_and_matching_type(chain: tuple[trustme.CA, list[bytes]],
                                                  selector: int, mtype: int) -> None:
    _, ders = chain
    data = ders[0] if selector == 0 else _spki(ders[0])
    data = {0: data, 1: hashlib.sha256(data).digest(), 2: hashlib.sha512(data).digest()}[mtype]
    record = Tlsa(3, selector, mtype, data)
    found = match_chain([record], ders, "any.name.test")  # DANE-EE: no name check
    assert (found.matched, found.depth) == (record, 0)


def test_dane_ee_does_not_match_the_issuer(chain: tuple[trustme.CA, list[bytes]]) -> None:
    _, ders = chain
    record = Tlsa(3, 1, 1, hashlib.sha256(_spki(ders[1])).digest())
    assert match_chain([record], ders, "mx1.dane.test").matched is None


def test_dane_ta_matches_the_intermediate(chain: tuple[trustme.CA, list[bytes]]) -> None:
    _, ders = chain
    record = Tlsa(2, 0, 1, hashlib.sha256(ders[1]).digest())
    found = match_chain([Tlsa(3, 1, 1, b"\0" * 32), record], ders, "mx1.dane.test")
    assert (found.matched, found.depth) == (record, 1)


def test_dane_ta_needs_the_host_name(chain: tuple[trustme.CA, list[bytes]]) -> None:
    _, ders = chain
    record = Tlsa(2, 1, 1, hashlib.sha256(_spki(ders[1])).digest())
    found = match_chain([record], ders, "mx2.dane.test")
    assert (found.matched, found.depth, found.problem) == (None, 1, "name-mismatch")


def test_dane_ta_needs_a_signature_chain(chain: tuple[trustme.CA, list[bytes]]) -> None:
    _, ders = chain
    stranger = trustme.CA().issue_cert("mx1.dane.test")
    other_leaf = x509.load_pem_x509_certificate(
        stranger.cert_chain_pems[0].bytes()).public_bytes(Encoding.DER)
    record = Tlsa(2, 0, 1, hashlib.sha256(ders[1]).digest())
    found = match_chain([record], [other_leaf, ders[1]], "mx1.dane.test")
    assert (found.matched, found.problem) == (None, "chain-broken")


@pytest.mark.parametrize("record", [Tlsa(0, 0, 1, b""), Tlsa(1, 1, 1, b""), Tlsa(3, 2, 1, b""),
                                    Tlsa(3, 1, 3, b""), Tlsa(4, 1, 1, b"")])
def test_pkix_usages_and_unknown_values_are_unusable(record: Tlsa) -> None:
    assert not usable(record)


def test_pkix_ee_record_is_never_matched(chain: tuple[trustme.CA, list[bytes]]) -> None:
    _, ders = chain
    record = Tlsa(1, 0, 1, hashlib.sha256(ders[0]).digest())  # right data, unusable usage
    assert match_chain([record], ders, "mx1.dane.test").matched is None


def test_unreadable_chain_matches_nothing() -> None:
    assert match_chain([Tlsa(3, 0, 0, b"junk")], [b"junk"], "x.test").matched is None
