"""DANE for SMTP (RFC 7672): match TLSA records against the chain the server presented.

Pure: DER certificates in, a `DaneMatch` out. Only DANE-TA(2) and DANE-EE(3) are usable
for SMTP (RFC 7672 §3.1.3); selectors 0 (certificate) and 1 (public key), matching types
0 (exact), 1 (SHA-256) and 2 (SHA-512) (RFC 6698 §2.1).
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography import x509

    from smtpprobe.dns_facts import Tlsa

__all__ = ["DaneMatch", "match_chain", "usable"]

DANE_TA, DANE_EE = 2, 3


def usable(record: Tlsa) -> bool:
    """RFC 7672 §3.1.3: PKIX-TA(0)/PKIX-EE(1) are unusable for SMTP, as are unknown values."""
    return (
        record.usage in (DANE_TA, DANE_EE)
        and record.selector in (0, 1)
        and record.mtype in (0, 1, 2)
    )


@dataclass(frozen=True, slots=True)
class DaneMatch:
    """The outcome: ``matched`` is the record that authenticates the server (None when
    none does), ``depth`` the chain element it matched (0 = the leaf). ``problem`` says
    why a DANE-TA match still failed: ``chain-broken`` (the leaf does not chain up to
    the matched certificate) or ``name-mismatch`` (the leaf is not for the host)."""

    matched: Tlsa | None
    depth: int | None = None
    problem: str = ""


def _selected(cert: x509.Certificate, der: bytes, selector: int) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    if selector == 0:
        return der
    return cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def _digest(data: bytes, mtype: int) -> bytes:
    if mtype == 1:
        return hashlib.sha256(data).digest()
    if mtype == 2:
        return hashlib.sha512(data).digest()
    return data


def _matches(record: Tlsa, cert: x509.Certificate, der: bytes) -> bool:
    return _digest(_selected(cert, der, record.selector), record.mtype) == record.data


def match_chain(
    records: Sequence[Tlsa], chain: Sequence[bytes], host: str, next_hop: str | None = None
) -> DaneMatch:
    """Does a usable record of *records* authenticate *chain* (DER, leaf first) for *host*?

    DANE-EE matches the leaf only, with no name or expiry check (RFC 7672 §3.1.1).
    DANE-TA matches an issuer in the chain; the leaf must then chain up to it by
    signatures and carry *host* or the *next_hop* domain (the mail domain, when known) in
    its names (RFC 7672 §3.1.2, §3.2.2). Validity dates are not checked. The first
    record that authenticates wins; otherwise the first DANE-TA near miss is reported.
    """
    from cryptography import x509

    certs: list[x509.Certificate] = []
    for der in chain:
        try:
            certs.append(x509.load_der_x509_certificate(der))
        except ValueError:
            break  # an element cryptography cannot read ends the usable chain
    near_miss: DaneMatch | None = None
    for record in records:
        if not usable(record) or not certs:
            continue
        if record.usage == DANE_EE:
            if _matches(record, certs[0], chain[0]):
                return DaneMatch(record, 0)
            continue
        for depth in range(1, len(certs)):
            if not _matches(record, certs[depth], chain[depth]):
                continue
            problem = (
                "chain-broken"
                if not _chains(certs[: depth + 1])
                else ""
                if _names_any(certs[0], (host, next_hop))
                else "name-mismatch"
            )
            if not problem:
                return DaneMatch(record, depth)
            near_miss = near_miss or DaneMatch(None, depth, problem)
    return near_miss or DaneMatch(None)


def _chains(certs: Sequence[x509.Certificate]) -> bool:
    """Each certificate is signed by the next one (the presented order, leaf first)."""
    from cryptography.exceptions import InvalidSignature

    for child, parent in itertools.pairwise(certs):
        try:
            child.verify_directly_issued_by(parent)
        except (InvalidSignature, ValueError, TypeError):  # bad signature, wrong issuer or key type
            return False
    return True


def _names_any(cert: x509.Certificate, wanted: Sequence[str | None]) -> bool:
    """RFC 7672 §3.2.2 / RFC 6125: a DNS name of the leaf is one of *wanted*, or a
    wildcard for exactly its first label."""
    from cryptography import x509

    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names = [n.lower() for n in sans.value.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        names = [
            str(a.value).lower()
            for a in cert.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
        ]
    for reference in (w.lower().rstrip(".") for w in wanted if w):
        for candidate in names:
            if candidate == reference or (
                candidate.startswith("*.") and reference.partition(".")[2] == candidate[2:]
            ):
                return True
    return False
