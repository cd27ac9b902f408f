"""MX resolution against a real DNS server on loopback (tests/dnsserver.py), and pools."""

from __future__ import annotations

import dataclasses
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime

import dns.asyncresolver
import pytest

from smtpprobe.errors import ResolveError, UsageError
from smtpprobe.kb import LANGUAGES, load
from smtpprobe.mx import NOTE_KEYS
from smtpprobe.mx import resolve_targets as _resolve_targets
from smtpprobe.pool import POOL_KEYS, compare_pool, pool_disagreements
from smtpprobe.reply import parse_reply
from smtpprobe.report import (
    CertificateInfo,
    Exchange,
    Finding,
    MxHost,
    MxPlan,
    ProbeOptions,
    ProbeReport,
    Session,
    Status,
    Target,
    TlsInfo,
    TlsMode,
    Verdict,
)
from tests.dnsserver import DnsServer, Records
from tests.worded import english

Start = Callable[..., dns.asyncresolver.Resolver]

ZONE: Records = {
    "example.test.": {"MX": ["20 mx2.example.test.", "10 mx1.example.test."]},
    "mx1.example.test.": {"A": ["127.0.0.3", "127.0.0.2"], "AAAA": ["::1"]},
    "mx2.example.test.": {"A": ["127.0.0.4"]},
    "tie.test.": {"MX": ["10 b.tie.test.", "20 c.tie.test.", "10 a.tie.test."]},
    "null.test.": {"MX": ["0 ."]},
    "mixed.test.": {"MX": ["0 .", "10 mx1.example.test."]},
    "fallback.test.": {"A": ["127.0.0.5"], "TXT": ['"v=spf1 -all"']},
    "nomail.test.": {"TXT": ['"nothing here"']},
    "v6only.test.": {"AAAA": ["::1"]},
    "dangling.test.": {"MX": ["10 gone.dangling.test.", "20 mx2.example.test."]},
    "alldangling.test.": {"MX": ["10 gone.dangling.test."]},
    "alias.test.": {"MX": ["10 mail.alias.test."]},
    "mail.alias.test.": {"CNAME": ["mx2.example.test."]},
    "big.test.": {"MX": ["10 pool.big.test."]},
    "pool.big.test.": {"A": [f"127.0.1.{i}" for i in range(60, 0, -1)]},
    "slowhost.test.": {"MX": ["10 silent.test."]},
}


def targets(plan: MxPlan) -> tuple[tuple[str, str | None], ...]:
    """``(host, address)`` in probe order: each address with ``all_addresses``, else the
    host for the probe to resolve itself (what the fleet turns a plan into)."""
    if not plan.all_addresses:
        return tuple((host.name, None) for host in plan.hosts)
    return tuple((host.name, address) for host in plan.hosts for address in host.addresses)


async def resolve(
    domain: str,
    resolver: dns.asyncresolver.Resolver,
    *,
    mx: bool = True,
    all_addresses: bool = False,
    port: int = 25,
    family: int = socket.AF_UNSPEC,
    timeout: float = 2.0,
) -> MxPlan:
    return await _resolve_targets(
        domain,
        mx=mx,
        all_addresses=all_addresses,
        port=port,
        family=family,
        resolver=resolver,
        timeout=timeout,
    )


@pytest.fixture
def zone(dns_server: Start) -> dns.asyncresolver.Resolver:
    return dns_server(ZONE, silent=["silent.test"], servfail=["broken.test"])


# -- MX order ---------------------------------------------------------------------------------


async def test_mx_hosts_in_preference_order(zone: dns.asyncresolver.Resolver) -> None:
    plan = await resolve("example.test", zone)
    assert plan == MxPlan(
        "example.test",
        "mx",
        (MxHost("mx1.example.test", 10), MxHost("mx2.example.test", 20)),
        port=25,
    )
    assert targets(plan) == (("mx1.example.test", None), ("mx2.example.test", None))


@pytest.mark.parametrize(
    "records",
    [
        ["10 b.tie.test.", "20 c.tie.test.", "10 a.tie.test."],
        ["10 a.tie.test.", "10 b.tie.test.", "20 c.tie.test."],
        ["20 c.tie.test.", "10 b.tie.test.", "10 a.tie.test."],
    ],
    ids=["rotation-1", "rotation-2", "rotation-3"],
)
async def test_equal_preferences_keep_one_order_whatever_the_answer_order(
    dns_server: Start, records: list[str]
) -> None:
    """RFC 5321 §5.1 allows random ties; a probe reports the same order on every run."""
    resolver = dns_server({"tie.test.": {"MX": records}})
    plan = await resolve("tie.test", resolver)
    assert [(h.name, h.preference) for h in plan.hosts] == [
        ("a.tie.test", 10),
        ("b.tie.test", 10),
        ("c.tie.test", 20),
    ]


async def test_without_all_addresses_only_mx_is_asked() -> None:
    """The probe resolves each host name itself: no A/AAAA query here."""
    with DnsServer(ZONE) as server:
        plan = await resolve("example.test", server.resolver())
    assert server.queries == [("udp", "example.test.", "MX")]
    assert all(host.addresses == () for host in plan.hosts)


async def test_direct_host_needs_no_dns() -> None:
    with DnsServer(ZONE) as server:
        plan = await resolve("mx1.example.test.", server.resolver(), mx=False)
    assert server.queries == []
    assert plan == MxPlan("mx1.example.test", "direct", (MxHost("mx1.example.test", None),))


async def test_port_other_than_25_is_noted(zone: dns.asyncresolver.Resolver) -> None:
    plan = await resolve("example.test", zone, port=587)
    assert plan.notes == ("mx_port_not_25",) and plan.port == 587


# -- null MX and fallback ---------------------------------------------------------------------


async def test_null_mx_means_no_mail_and_nothing_to_probe(zone: dns.asyncresolver.Resolver) -> None:
    plan = await resolve("null.test", zone, all_addresses=True)
    assert (plan.source, plan.hosts, plan.notes) == ("null-mx", (), ("mx_null",))
    assert targets(plan) == ()


async def test_null_mx_beside_other_records_is_ignored_and_noted(
    zone: dns.asyncresolver.Resolver,
) -> None:
    plan = await resolve("mixed.test", zone)
    assert plan.source == "mx"
    assert [h.name for h in plan.hosts] == ["mx1.example.test"]
    assert plan.notes == ("mx_null_mixed",)


async def test_nodata_for_mx_falls_back_to_the_address_record(
    zone: dns.asyncresolver.Resolver,
) -> None:
    plan = await resolve("fallback.test", zone, all_addresses=True)
    assert plan == MxPlan(
        "fallback.test",
        "fallback-address",
        (MxHost("fallback.test", 0, ("127.0.0.5",)),),
        ("mx_fallback",),
        all_addresses=True,
    )
    assert targets(plan) == (("fallback.test", "127.0.0.5"),)


async def test_fallback_without_all_addresses_leaves_resolution_to_the_probe(
    zone: dns.asyncresolver.Resolver,
) -> None:
    plan = await resolve("fallback.test", zone)
    assert plan.hosts == (MxHost("fallback.test", 0),)
    assert targets(plan) == (("fallback.test", None),)


async def test_no_mx_and_no_address_is_a_resolve_error(zone: dns.asyncresolver.Resolver) -> None:
    with pytest.raises(ResolveError) as caught:
        await resolve("nomail.test", zone)
    assert "no MX record and no A or AAAA record" in english(caught.value)[0]
    assert "RFC 5321 §5.1" in english(caught.value)[1]


async def test_fallback_respects_the_address_family(zone: dns.asyncresolver.Resolver) -> None:
    """-4 on a domain with only AAAA: nothing this probe could connect to."""
    with pytest.raises(ResolveError) as caught:
        await resolve("v6only.test", zone, family=socket.AF_INET)
    assert "no A record" in english(caught.value)[0]
    plan = await resolve("v6only.test", zone, family=socket.AF_INET6, all_addresses=True)
    assert plan.hosts[0].addresses == ("::1",)


# -- failures ---------------------------------------------------------------------------------


async def test_nxdomain_is_a_resolve_error(zone: dns.asyncresolver.Resolver) -> None:
    with pytest.raises(ResolveError) as caught:
        await resolve("nope.test", zone)
    error = caught.value
    assert (error.kind, error.phase) == ("resolve", "resolve")
    assert "NXDOMAIN" in english(error)[0] and "spelling" in english(error)[1]


async def test_nxdomain_without_mx_too(zone: dns.asyncresolver.Resolver) -> None:
    with pytest.raises(ResolveError) as caught:
        await resolve("nope.test", zone, mx=False, all_addresses=True)
    assert "NXDOMAIN" in english(caught.value)[0]


async def test_servfail_is_a_resolve_error_with_a_hint(zone: dns.asyncresolver.Resolver) -> None:
    started = time.monotonic()
    with pytest.raises(ResolveError) as caught:
        await resolve("broken.test", zone, timeout=2.0)
    assert time.monotonic() - started < 1.0  # no waiting for a timeout
    assert "SERVFAIL" in english(caught.value)[0]
    assert "`dig broken.test MX`" in english(caught.value)[1]


@pytest.mark.slow
@pytest.mark.parametrize("domain", ["silent.test", "slowhost.test"])
async def test_silent_server_is_a_resolve_error_within_the_timeout(
    zone: dns.asyncresolver.Resolver, domain: str
) -> None:
    """The MX query itself, or a host's address query, gets no reply at all."""
    started = time.monotonic()
    with pytest.raises(ResolveError) as caught:
        await resolve(domain, zone, all_addresses=True, timeout=0.4)
    assert time.monotonic() - started < 0.8
    assert "within 0.4 s" in english(caught.value)[0]
    assert "/etc/resolv.conf" in english(caught.value)[1]


@pytest.mark.parametrize(
    ("domain", "kwargs", "message"),
    [
        ("127.0.0.1", {"mx": True}, "needs a domain name"),
        ("a..b", {"mx": True}, "not a valid domain name"),
        ("exa mple.test", {"mx": True}, "contains ' '"),
        ("", {"mx": True}, "empty"),
        ("example.test", {"family": 12345}, "address family"),
    ],
    ids=["address-with-mx", "empty-label", "space", "empty", "family"],
)
async def test_bad_input_is_a_usage_error(
    zone: dns.asyncresolver.Resolver, domain: str, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(UsageError) as caught:
        await resolve(domain, zone, **kwargs)  # type: ignore[arg-type]
    assert message in english(caught.value)[0]


async def test_an_address_is_probed_directly(zone: dns.asyncresolver.Resolver) -> None:
    plan = await resolve("[::1]", zone, mx=False, all_addresses=True)
    assert targets(plan) == (("::1", "::1"),)


# -- every address ----------------------------------------------------------------------------


async def test_all_addresses_of_every_host_sorted(zone: dns.asyncresolver.Resolver) -> None:
    plan = await resolve("example.test", zone, all_addresses=True, family=socket.AF_INET)
    assert plan.hosts == (
        MxHost("mx1.example.test", 10, ("127.0.0.2", "127.0.0.3")),
        MxHost("mx2.example.test", 20, ("127.0.0.4",)),
    )
    assert targets(plan) == (
        ("mx1.example.test", "127.0.0.2"),
        ("mx1.example.test", "127.0.0.3"),
        ("mx2.example.test", "127.0.0.4"),
    )


@pytest.mark.parametrize(
    ("family", "addresses", "asked"),
    [
        (socket.AF_INET, ("127.0.0.2", "127.0.0.3"), {"A"}),
        (socket.AF_INET6, ("::1",), {"AAAA"}),
        (socket.AF_UNSPEC, ("127.0.0.2", "127.0.0.3", "::1"), {"A", "AAAA"}),
    ],
    ids=["ipv4", "ipv6", "both"],
)
async def test_family_picks_a_or_aaaa(
    family: int, addresses: tuple[str, ...], asked: set[str]
) -> None:
    with DnsServer(ZONE) as server:
        plan = await resolve("example.test", server.resolver(), all_addresses=True, family=family)
    assert plan.hosts[0].addresses == addresses
    assert {rdtype for _, name, rdtype in server.queries if name == "mx1.example.test."} == asked


async def test_host_without_address_is_kept_and_noted(zone: dns.asyncresolver.Resolver) -> None:
    plan = await resolve("dangling.test", zone, all_addresses=True, family=socket.AF_INET)
    assert plan.hosts[0] == MxHost("gone.dangling.test", 10, (), ("mx_host_no_address",))
    assert plan.notes == ()
    assert targets(plan) == (("mx2.example.test", "127.0.0.4"),)


async def test_no_host_with_an_address_is_noted(zone: dns.asyncresolver.Resolver) -> None:
    plan = await resolve("alldangling.test", zone, all_addresses=True)
    assert plan.notes == ("mx_none_usable",)
    assert targets(plan) == ()


async def test_mx_naming_an_alias_is_noted(zone: dns.asyncresolver.Resolver) -> None:
    """RFC 2181 §10.3: an MX must not name a CNAME; the addresses behind it still count."""
    plan = await resolve("alias.test", zone, all_addresses=True, family=socket.AF_INET)
    assert plan.hosts == (MxHost("mail.alias.test", 10, ("127.0.0.4",), ("mx_host_cname",)),)


async def test_large_pool_comes_over_tcp_after_truncation() -> None:
    with DnsServer(ZONE) as server:
        plan = await resolve(
            "big.test", server.resolver(), all_addresses=True, family=socket.AF_INET
        )
    assert plan.hosts[0].addresses == tuple(f"127.0.1.{i}" for i in range(1, 61))
    assert ("tcp", "pool.big.test.", "A") in server.queries


# -- pools ------------------------------------------------------------------------------------

EHLO = "250-{name}\r\n250-PIPELINING\r\n{starttls}250 8BITMIME\r\n"


def member(
    address: str,
    *,
    banner: str | None = "220 mx1.example.test ESMTP",
    starttls: bool = True,
    vrfy: Verdict | None = Verdict.HIDDEN,
    subject: str | None = None,
    verified: bool = True,
) -> ProbeReport:
    """A hand-built report of one pool member, as the probe and the interpreter give it."""
    exchanges = []
    if banner is not None:
        ehlo = EHLO.format(name="mx1", starttls="250-STARTTLS\r\n" if starttls else "")
        exchanges = [
            Exchange("banner", b"", parse_reply(banner), 0.0, 0.001),
            Exchange("EHLO", b"EHLO smtpprobe.invalid", parse_reply(ehlo.encode()), 0.01, 0.001),
        ]
    tls = None
    if subject is not None:
        certificate = CertificateInfo(subject, "CN=Test CA", (subject,), None, None)
        tls = TlsInfo(TlsMode.STARTTLS, "TLSv1.3", "TLS_AES_256_GCM_SHA384", certificate, verified)
    session = Session(
        Target("mx1.example.test", 25, address),
        ProbeOptions(),
        tuple(exchanges),
        datetime(2025, 1, 2, tzinfo=UTC),
        0.1,
        tls=tls,
        complete=banner is not None,
    )
    findings = () if vrfy is None else (Finding("vrfy", Status.OK, "", verdict=vrfy),)
    return ProbeReport(session, findings)


def test_alike_members_do_not_disagree() -> None:
    reports = [member("127.0.0.2", subject="mx1"), member("127.0.0.3", subject="mx1")]
    assert pool_disagreements(reports) == []
    assert pool_disagreements(reports[:1]) == []
    assert pool_disagreements([]) == []


@pytest.mark.parametrize(
    ("other", "key"),
    [
        ({"banner": None}, "mx_pool_reachable"),
        ({"banner": "554 mx1.example.test no service"}, "mx_pool_banner_code"),
        ({"banner": "220 mx1b.example.test ESMTP"}, "mx_pool_banner_domain"),
        ({"starttls": False}, "mx_pool_starttls"),
        ({"vrfy": Verdict.DISCLOSING}, "mx_pool_vrfy"),
        ({"subject": "other.example.test"}, "mx_pool_certificate"),
        ({"subject": "mx1", "verified": False}, "mx_pool_tls_verified"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_one_member_differs(other: dict[str, object], key: str) -> None:
    reports = [
        member("127.0.0.2", subject="mx1"),
        member("127.0.0.3", subject="mx1"),
        member("127.0.0.4", **{"subject": "mx1", **other}),
    ]  # type: ignore[arg-type]
    assert pool_disagreements(reports) == [key]


def test_disagreement_names_each_member_and_how_much_it_matters() -> None:
    reports = [member("127.0.0.2"), member("127.0.0.3", starttls=False)]
    (found,) = compare_pool(reports)
    assert found.key == "mx_pool_starttls" and found.status is Status.WARNING
    assert found.values == (("127.0.0.2", True), ("127.0.0.3", False))


def test_banner_domain_differs_only_as_information() -> None:
    reports = [member("127.0.0.2"), member("127.0.0.3", banner="220 MX9.example.test")]
    (found,) = compare_pool(reports)
    assert found.status is Status.OK
    assert found.values == (("127.0.0.2", "mx1.example.test"), ("127.0.0.3", "mx9.example.test"))


def test_members_without_a_value_are_left_out() -> None:
    """Not tested, not reached, no TLS: missing evidence is not a disagreement."""
    reports = [
        member("127.0.0.2", subject="mx1"),
        member("127.0.0.3", vrfy=Verdict.NOT_TESTED),
        member("127.0.0.4", vrfy=None),
    ]
    assert pool_disagreements(reports) == []
    unreached = [member("127.0.0.2"), member("127.0.0.3", banner=None, vrfy=None)]
    assert pool_disagreements(unreached) == ["mx_pool_reachable"]


def test_starttls_is_read_from_the_ehlo_before_tls() -> None:
    """Inside TLS the EHLO no longer lists STARTTLS (RFC 3207 §4.2): not a disagreement."""
    plain = member("127.0.0.2")
    inside = member("127.0.0.3", starttls=False, subject="mx1")
    before = parse_reply(EHLO.format(name="mx1", starttls="250-STARTTLS\r\n").encode())
    session = dataclasses.replace(inside.session, ehlo_before_tls=before)
    assert pool_disagreements([plain, ProbeReport(session, inside.findings)]) == []


# -- texts ------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("key", [*NOTE_KEYS, *POOL_KEYS])
def test_every_key_has_text(lang: str, key: str) -> None:
    """Each note mx.py can give has words as a note of the mx or pool finding."""
    check = "pool" if key.startswith("mx_pool_") else "mx"
    reason = "note-" + key.removeprefix("mx_pool_" if check == "pool" else "mx_").replace("_", "-")
    text = load(lang).finding_words(check, reason).get("summary", key)
    assert text != key
    filled = text.format(
        domain="example.test",
        host="mx1.example.test",
        port=2525,
        values="127.0.0.2: a; 127.0.0.3: b",
    )
    assert "{" not in filled
