"""MTA-STS and TLS-RPT parsing (RFC 8461 §3, RFC 8460 §3) and DANE matching over DER."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given
from hypothesis import strategies as st

from smtpprobe.dane import match_chain, usable
from smtpprobe.dns_facts import Tlsa
from smtpprobe.mta_sts import mx_pattern_for, parse_policy, parse_sts_record, parse_tlsrpt_record


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
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
    ],
)
def test_sts_record(texts: list[str], expected: tuple[str | None, str | None]) -> None:
    record_id, problem = parse_sts_record(texts)
    assert (record_id, problem.key if problem else None) == expected


@pytest.mark.parametrize(
    ("texts", "rua", "problem"),
    [
        (["v=TLSRPTv1; rua=mailto:tls@example.org"], ("mailto:tls@example.org",), None),
        (
            ["v=TLSRPTv1;rua=mailto:a@x.org,https://r.x.org/v1"],
            ("mailto:a@x.org", "https://r.x.org/v1"),
            None,
        ),
        (["v=TLSRPTv1; rua=ftp://x.org"], ("ftp://x.org",), "bad-rua"),
        (["v=TLSRPTv1;"], (), "no-rua"),
        (["v=TLSRPTv1; rua=mailto:a@x", "v=TLSRPTv1; rua=mailto:b@x"], (), "multiple-records"),
        (["v=spf1 -all"], (), "no-record"),
    ],
)
def test_tlsrpt_record(texts: list[str], rua: tuple[str, ...], problem: str | None) -> None:
    found, why = parse_tlsrpt_record(texts)
    assert (found, why.key if why else None) == (rua, problem)


def test_policy_fields_with_lf_or_crlf() -> None:
    for newline in ("\n", "\r\n"):
        body = newline.join(
            [
                "version: STSv1",
                "mode: enforce",
                "mx: MX1.Example.org.",
                "mx: *.example.net",
                "max_age: 86400",
                "",
            ]
        )
        policy = parse_policy(body.encode())
        assert (policy.version, policy.mode, policy.mx, policy.max_age) == (
            "STSv1",
            "enforce",
            ("mx1.example.org", "*.example.net"),
            86400,
        )
        assert policy.usable and policy.problems == ()


@pytest.mark.parametrize(
    ("body", "keys", "usable"),
    [
        ("version: STSv1\nmode: strict\nmx: a.b\nmax_age: 1\n", ["bad-mode"], False),
        ("version: STSv2\nmode: none\nmax_age: 1\n", ["bad-version"], False),
        ("version: STSv1\nmode: enforce\nmax_age: 1\n", ["no-mx"], False),
        ("version: STSv1\nmode: none\nmax_age: 1\n", [], True),
        (
            "version: STSv1\nmode: testing\nmx: a.b\nmax_age: 31557601\n",
            ["max-age-too-large"],
            False,
        ),
        ("version: STSv1\nmode: testing\nmx: a.b\nmax_age: -1\n", ["bad-max-age"], False),
        ("version: STSv1\nmode: testing\nmx: a.b\n", ["bad-max-age"], False),
        (
            "version: STSv1\nmode: testing\nmode: enforce\nmx: a.b\nmax_age: 5\nfoo: bar\n",
            ["repeated-field", "unknown-field"],
            True,
        ),
        (
            "version: STSv1\n mode: testing\nmx: a.b\nmax_age: 5\n",
            ["policy-syntax", "bad-mode"],
            False,
        ),
        ("<html>nope</html>", ["policy-syntax", "bad-version", "bad-mode", "bad-max-age"], False),
    ],
)
def test_policy_problems(body: str, keys: list[str], usable: bool) -> None:
    policy = parse_policy(body.encode())
    assert [p.key for p in policy.problems] == keys
    assert policy.usable is usable


def test_policy_first_of_a_repeated_field_wins() -> None:
    policy = parse_policy(b"version: STSv1\nmode: testing\nmode: enforce\nmx: a.b\nmax_age: 5\n")
    assert policy.mode == "testing"


def test_policy_not_utf8() -> None:
    assert [p.key for p in parse_policy(b"version: STSv1\xff").problems] == ["policy-not-utf8"]


@pytest.mark.slow
@given(st.binary(max_size=300))
def test_policy_parser_takes_any_bytes(body: bytes) -> None:
    policy = parse_policy(body)
    assert policy.usable == (
        policy.mode is not None
        and not any(
            p.key in ("policy-syntax", "bad-version", "bad-max-age", "no-mx", "max-age-too-large")
            for p in policy.problems
        )
    )


@pytest.mark.parametrize(
    ("host", "pattern"),
    [
        ("mx1.example.org", "mx1.example.org"),
        ("MX1.EXAMPLE.ORG.", "mx1.example.org"),
        ("mx2.example.net", "*.example.net"),
        ("a.b.example.net", None),  # the wildcard covers one label only (RFC 8461 §4.1)
        ("example.net", None),
        ("mx1.example.com", None),
    ],
)
def test_mx_patterns(host: str, pattern: str | None) -> None:
    assert mx_pattern_for(host, ["mx1.example.org", "*.example.net"]) == pattern


# -- DANE matching over DER ------------------------------------------------------------------


@pytest.fixture(scope="module")
def chain() -> tuple[trustme.CA, list[bytes]]:
    """A root, an intermediate CA, and a leaf for mx1.dane.test: leaf first, as sent."""
    root = trustme.CA()
    intermediate = root.create_child_ca()
    leaf = intermediate.issue_cert("mx1.dane.test")
    ders = [
        x509.load_pem_x509_certificate(pem.bytes()).public_bytes(Encoding.DER)
        for pem in leaf.cert_chain_pems
    ]
    return root, ders


def _spki(der: bytes) -> bytes:
    return (
        x509.load_der_x509_certificate(der)
        .public_key()
        .public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    )


@pytest.mark.parametrize(("selector", "mtype"), [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)])
def test_dane_ee_every_selector_and_matching_type(
    chain: tuple[trustme.CA, list[bytes]], selector: int, mtype: int
) -> None:
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
    other_leaf = x509.load_pem_x509_certificate(stranger.cert_chain_pems[0].bytes()).public_bytes(
        Encoding.DER
    )
    record = Tlsa(2, 0, 1, hashlib.sha256(ders[1]).digest())
    found = match_chain([record], [other_leaf, ders[1]], "mx1.dane.test")
    assert (found.matched, found.problem) == (None, "chain-broken")


@pytest.mark.parametrize(
    "record",
    [
        Tlsa(0, 0, 1, b""),
        Tlsa(1, 1, 1, b""),
        Tlsa(3, 2, 1, b""),
        Tlsa(3, 1, 3, b""),
        Tlsa(4, 1, 1, b""),
    ],
)
def test_pkix_usages_and_unknown_values_are_unusable(record: Tlsa) -> None:
    assert not usable(record)


def test_pkix_ee_record_is_never_matched(chain: tuple[trustme.CA, list[bytes]]) -> None:
    _, ders = chain
    record = Tlsa(1, 0, 1, hashlib.sha256(ders[0]).digest())  # right data, unusable usage
    assert match_chain([record], ders, "mx1.dane.test").matched is None


def test_unreadable_chain_matches_nothing() -> None:
    assert match_chain([Tlsa(3, 0, 0, b"junk")], [b"junk"], "x.test").matched is None


# -- the words: every reason the interpreter gives, in both languages -----------------------

REASONS = {
    "mta_sts": {
        "none",
        "record-lookup-failed",
        "policy-without-record",
        "record-syntax",
        "record-bad-id",
        "record-multiple-records",
        "policy-host-missing",
        "policy-unreachable",
        "policy-tls",
        "policy-timeout",
        "policy-too-large",
        "policy-malformed",
        "policy-redirect",
        "policy-http-status",
        "policy-content-type",
        "policy-syntax",
        "policy-not-utf8",
        "policy-bad-version",
        "policy-bad-mode",
        "policy-bad-max-age",
        "policy-max-age-too-large",
        "policy-no-mx",
        "policy-unknown-field",
        "policy-repeated-field",
        "mode-none",
        "mx-not-in-policy",
        "mx-tls-invalid",
        "mx-no-starttls",
        "mx-tls-not-tested",
        "enforced",
        "testing",
    },
    "tls_rpt": {
        "published",
        "none",
        "none-while-testing",
        "lookup-failed",
        "multiple-records",
        "record-syntax",
        "no-rua",
        "bad-rua",
    },
    "dane": {
        "no-records",
        "not-validated",
        "no-usable-records",
        "no-starttls",
        "chain-not-seen",
        "not-tested",
        "valid",
        "mismatch",
        "chain-broken",
        "name-mismatch",
        "lookup-failed",
    },
}


def _findings_words(lang: str, check: str) -> dict[str, dict[str, str]]:
    import tomllib
    from pathlib import Path

    from smtpprobe.kb.store import DATA_DIR

    return tomllib.loads((Path(DATA_DIR) / lang / "findings" / f"{check}.toml").read_text())


@pytest.mark.parametrize("check", sorted(REASONS))
def test_every_reason_has_words_in_both_languages(check: str) -> None:
    import string

    from tests.test_kb import english_words

    en, id_ = _findings_words("en", check), _findings_words("id", check)
    assert set(en) == set(id_) == REASONS[check]
    for reason, entry in en.items():
        assert set(entry) == set(id_[reason]), reason
        for key, text in entry.items():
            fields = {f for _, f, _, _ in string.Formatter().parse(text) if f}
            assert fields == {
                f for _, f, _, _ in string.Formatter().parse(id_[reason][key]) if f
            }, (reason, key)
            assert english_words(id_[reason][key]) == [], (reason, key)


def _scenarios() -> list[tuple[str, Any]]:
    """Facts that reach every reason: (check, MailTlsResult)."""
    from smtpprobe.dns_facts import TxtLookup
    from smtpprobe.https_fetch import HttpsResponse
    from smtpprobe.interpret.mail_tls import HostTls, mta_sts, tls_rpt
    from smtpprobe.mta_sts import DomainFacts, PolicyFetch

    txts = [
        TxtLookup("_mta-sts.x.test", (), "timeout"),
        TxtLookup("_mta-sts.x.test"),
        TxtLookup("_mta-sts.x.test", ("v=STSv1; id=a-b",)),
        TxtLookup("_mta-sts.x.test", ("v=STSv1; id=1; x",)),
        TxtLookup("_mta-sts.x.test", ("v=STSv1; id=1", "v=STSv1; id=2")),
        TxtLookup("_mta-sts.x.test", ("v=STSv1; id=1",)),
    ]
    bodies = [
        b"version: STSv1\nmode: enforce\nmx: mx.x.test\nmax_age: 86400\n",
        b"version: STSv1\nmode: testing\nmx: *.x.test\nmax_age: 4000000000\nfoo: 1\n",
        b"version: STSv1\nmode: testing\nmx: *.x.test\nmax_age: 86400\n",
        b"version: STSv1\nmode: none\nmode: enforce\nmax_age: 5\n",
        b"\xff",
        b"junk line\nversion: STSv9\nmode: x\nmax_age: y\n",
        b"version: STSv1\nmode: enforce\nmax_age: 5\n",
    ]
    url = "https://mta-sts.x.test/.well-known/mta-sts.txt"
    fetches: list[tuple[PolicyFetch | None, bytes | None]] = [(None, None)]
    fetches += [
        (PolicyFetch(url, None, reason, "why"), None)
        for reason in ("unreachable", "tls", "timeout", "too-large", "malformed")
    ]
    fetches += [
        (PolicyFetch(url, HttpsResponse(code, "text/html", b"", "https://y/", 0.1)), None)
        for code in (301, 404)
    ]
    fetches += [
        (PolicyFetch(url, HttpsResponse(200, kind, body, "", 0.1)), body)
        for body in bodies
        for kind in ("text/plain", "")
    ]
    rpts = [
        TxtLookup("_smtp._tls.x.test", (), "servfail"),
        TxtLookup("_smtp._tls.x.test"),
        *(
            TxtLookup("_smtp._tls.x.test", (t,))
            for t in (
                "v=TLSRPTv1; rua=mailto:a@x.test",
                "v=TLSRPTv1;",
                "v=TLSRPTv1; rua=ftp://x",
                "v=TLSRPTv1; rua mailto",
            )
        ),
        TxtLookup("_smtp._tls.x.test", ("v=TLSRPTv1; rua=mailto:a", "v=TLSRPTv1; rua=x")),
    ]
    states = [
        HostTls("verified"),
        HostTls("unverified", "Hostname mismatch"),
        HostTls("failed", "handshake"),
        HostTls("no-starttls"),
        HostTls("not-tested"),
    ]
    found: list[tuple[str, Any]] = []
    for txt in txts:
        for fetched, body in fetches:
            for rpt in rpts[:2] if fetched is not None else rpts:
                facts = DomainFacts(
                    "x.test", txt, rpt, fetched, parse_policy(body) if body is not None else None
                )
                found += [
                    ("mta_sts", mta_sts(facts, host, state))
                    for state in states
                    for host in ("mx.x.test", "other.y.test")
                ]
                found.append(("tls_rpt", tls_rpt(facts)))
    return found + _dane_scenarios(states)


def _dane_scenarios(states: list[Any]) -> list[tuple[str, Any]]:
    from smtpprobe.dns_facts import TlsaLookup
    from smtpprobe.interpret.mail_tls import HostTls, dane

    root = trustme.CA()
    leaf = root.create_child_ca().issue_cert("mx.x.test")
    ders = [
        x509.load_pem_x509_certificate(p.bytes()).public_bytes(Encoding.DER)
        for p in leaf.cert_chain_pems
    ]
    ta = hashlib.sha256(ders[1]).digest()
    lookups = [
        TlsaLookup("_25._tcp.mx.x.test", (), False, "servfail"),
        TlsaLookup("_25._tcp.mx.x.test"),
        TlsaLookup("_25._tcp.mx.x.test", (Tlsa(3, 1, 1, b"x"),)),
        TlsaLookup("_25._tcp.mx.x.test", (Tlsa(1, 1, 1, b"x"),), True),
        TlsaLookup("_25._tcp.mx.x.test", (Tlsa(3, 1, 1, b"x"),), True),
        TlsaLookup("_25._tcp.mx.x.test", (Tlsa(2, 0, 1, ta),), True),
    ]
    with_chain = [
        *states,
        HostTls("verified", "", tuple(ders)),
        HostTls("verified", "", (ders[0], ders[0], ders[1])),
    ]
    return [
        ("dane", dane(lookup, host, state))
        for lookup in lookups
        for state in with_chain
        for host in ("mx.x.test", "mx2.x.test")
    ]


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "id"])
def test_every_reason_is_reached_and_fully_worded(lang: str) -> None:
    """Each issue's params fill every placeholder of its words (the views would show a
    missing one as "-"), and the worded finding says each issue."""
    import string

    from smtpprobe.kb import load
    from smtpprobe.mail_policies import finding
    from smtpprobe.views.findings import word

    kb = load(lang)
    reached: dict[str, set[str]] = {check: set() for check in REASONS}
    for check, result in _scenarios():
        for issue in result.issues:
            reached[check].add(issue.reason)
            words = kb.finding_words(check, issue.reason)
            wanted = {
                f for text in words.values() for _, f, _, _ in string.Formatter().parse(text) if f
            }
            assert wanted <= set(issue.params), (check, issue.reason)
        shown = word(finding(result), kb)
        assert shown.summary.count(". ") + 1 >= len(result.issues) > 0
    assert reached == REASONS


@pytest.mark.parametrize("lang", ["en", "id"])
def test_dane_verdicts_and_checks_have_labels(lang: str) -> None:
    from smtpprobe.interpret.mail_tls import DANE_VERDICTS
    from smtpprobe.kb import load

    kb = load(lang)
    keys = [f"probe_verdict_{v.value}" for v in DANE_VERDICTS]
    keys += [f"probe_check_{check}" for check in REASONS]
    assert [key for key in keys if kb.ui(key) == key] == []


def test_dane_ta_accepts_the_next_hop_domain(chain: tuple[trustme.CA, list[bytes]]) -> None:
    """RFC 7672 §3.2.2: the leaf may name the mail domain instead of the MX host."""
    root = trustme.CA()
    intermediate = root.create_child_ca()
    leaf = intermediate.issue_cert("*.dane.test")
    ders = [
        x509.load_pem_x509_certificate(p.bytes()).public_bytes(Encoding.DER)
        for p in leaf.cert_chain_pems
    ]
    record = Tlsa(2, 0, 1, hashlib.sha256(ders[1]).digest())
    assert match_chain([record], ders, "mx.elsewhere.test").problem == "name-mismatch"
    assert match_chain([record], ders, "mx.elsewhere.test", "mail.dane.test").matched == record
    assert match_chain([record], ders, "a.b.dane.test").problem == "name-mismatch"
