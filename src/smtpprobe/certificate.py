"""Certificate facts from DER: names, key, signature, fingerprints, the chain's shape.

Server certificates are hostile input: ``cryptography`` raises many exception types
(``UnsupportedGeneralNameType``, ``DuplicateExtension``, ``InvalidVersion`` …) from any
accessor, lazily. Every fact is read on its own; what cannot be read is named in
``unreadable`` and the rest is kept. ``cryptography`` is imported only when called.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

from smtpprobe.report import CertificateInfo, ChainCertificate

if TYPE_CHECKING:
    from cryptography import x509

__all__ = [
    "certificate_info",
    "chain_certificate",
    "chain_problems",
    "name_matches",
]

T = TypeVar("T")
# RFC 7633 TLS Feature extension; value 5 is status_request (OCSP must-staple).
_STATUS_REQUEST = 5


def _read(part: str, read: Callable[[], T], default: T, unreadable: list[str]) -> T:
    """*read*(), or *default* with ``part: ExceptionName`` noted when it raises."""
    try:
        return read()
    except Exception as exc:  # noqa: BLE001 - any accessor may raise on a crafted certificate
        unreadable.append(f"{part}: {type(exc).__name__}")
        return default


def _load(der: bytes, unreadable: list[str]) -> x509.Certificate | None:
    from cryptography import x509

    return _read("certificate", lambda: x509.load_der_x509_certificate(der), None, unreadable)


def certificate_info(der: bytes) -> CertificateInfo:
    """Everything readable about one DER certificate; ``unreadable`` lists the rest.

    Read with ``cryptography`` rather than ``getpeercert()``, whose dict is empty when
    verification is off: one reading whether or not the chain verified.
    """
    unreadable: list[str] = []
    sha256 = hashlib.sha256(der).hexdigest()
    cert = _load(der, unreadable)
    if cert is None:
        return CertificateInfo(
            subject="",
            issuer="",
            sans=(),
            not_after=None,
            days_left=None,
            sha256=sha256,
            unreadable=tuple(unreadable),
        )
    not_after = _read("not_after", lambda: cert.not_valid_after_utc, None, unreadable)
    days_left = None if not_after is None else (not_after - datetime.now(UTC)).days
    no_key: tuple[str, int | None] = ("", None)
    key_type, key_bits = _read("public_key", lambda: _key(cert), no_key, unreadable)
    return CertificateInfo(
        subject=_read("subject", lambda: _common_name(cert), "", unreadable),
        issuer=_read("issuer", lambda: cert.issuer.rfc4514_string(), "", unreadable),
        sans=_read("sans", lambda: _sans(cert), (), unreadable),
        not_after=not_after,
        days_left=days_left,
        key_type=key_type,
        key_bits=key_bits,
        signature_algorithm=_read(
            "signature_algorithm", lambda: _signature_name(cert), "", unreadable
        ),
        sha256=sha256,
        serial=_read("serial", lambda: format(cert.serial_number, "x"), "", unreadable),
        not_before=_read("not_before", lambda: cert.not_valid_before_utc, None, unreadable),
        must_staple=_read("tls_feature", lambda: _must_staple(cert), False, unreadable),
        self_signed=_read("self_signed", lambda: _self_signed(cert), False, unreadable),
        unreadable=tuple(unreadable),
    )


def _common_name(cert: x509.Certificate) -> str:
    from cryptography.x509.oid import NameOID

    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else cert.subject.rfc4514_string()


def _sans(cert: x509.Certificate) -> tuple[str, ...]:
    from cryptography import x509

    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return ()
    dns = [str(name) for name in ext.value.get_values_for_type(x509.DNSName)]
    ips = [str(ip) for ip in ext.value.get_values_for_type(x509.IPAddress)]
    return tuple(dns + ips)


def _key(cert: x509.Certificate) -> tuple[str, int | None]:
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.key_size
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456
    return type(key).__name__, None


def _signature_name(cert: x509.Certificate) -> str:
    oid = cert.signature_algorithm_oid
    return str(getattr(oid, "_name", "") or oid.dotted_string)


def _must_staple(cert: x509.Certificate) -> bool:
    from cryptography import x509

    try:
        ext = cert.extensions.get_extension_for_class(x509.TLSFeature)
    except x509.ExtensionNotFound:
        return False
    return any(feature.value == _STATUS_REQUEST for feature in ext.value)


def _self_signed(cert: x509.Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except Exception:  # noqa: BLE001 - InvalidSignature, or an unsupported key type
        return False
    return True


def chain_certificate(der: bytes) -> ChainCertificate:
    """One element of the presented chain: its DER and the names that order a chain."""
    unreadable: list[str] = []
    cert = _load(der, unreadable)
    if cert is None:
        return ChainCertificate(der=der, subject="", issuer="", self_issued=False)
    subject = _read("subject", lambda: cert.subject.rfc4514_string(), "", unreadable)
    issuer = _read("issuer", lambda: cert.issuer.rfc4514_string(), "", unreadable)
    return ChainCertificate(
        der=der,
        subject=subject,
        issuer=issuer,
        self_issued=bool(subject) and subject == issuer,
        is_ca=_read("ca", lambda: _is_ca(cert), None, unreadable),
    )


def _is_ca(cert: x509.Certificate) -> bool | None:
    from cryptography import x509

    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return None


def chain_problems(chain: tuple[ChainCertificate, ...], verify_error: str = "") -> tuple[str, ...]:
    """Defects in the order and contents of a chain as sent (RFC 8446 §4.4.2, RFC 5246 §7.4.2).

    ``self-signed-leaf``; ``wrong-order`` (a certificate not followed by its issuer while
    that issuer is elsewhere in the chain, or an unrelated certificate); ``root-sent`` (a
    self-issued CA after the leaf: harmless, but wasted bytes, and the client must not
    trust it); ``missing-intermediate`` (verification could not find the issuer of the
    last certificate sent, which is not self-issued).
    """
    if not chain:
        return ()
    problems: list[str] = []
    leaf = chain[0]
    if leaf.self_issued:
        problems.append("self-signed-leaf")
    subjects = [element.subject for element in chain]
    for index, element in enumerate(chain[:-1]):
        if element.self_issued:
            continue
        if subjects[index + 1] != element.issuer:
            problems.append("wrong-order")
            break
    if any(element.self_issued for element in chain[1:]):
        problems.append("root-sent")
    last = chain[-1]
    if not last.self_issued and "local issuer" in verify_error:
        problems.append("missing-intermediate")
    return tuple(problems)


def name_matches(info: CertificateInfo, name: str) -> bool:
    """Whether *name* (a host name or an IP address) is one of the certificate's names.

    RFC 6125 §6.4: DNS names compare case-insensitively, a ``*`` only as the whole
    left-most label and matching exactly one label; IP addresses only match IP SANs. The
    subject CN counts only when there is no SAN at all (what OpenSSL does).
    """
    wanted = name.rstrip(".").lower()
    try:
        address = ipaddress.ip_address(wanted.strip("[]"))
    except ValueError:
        address = None
    if any(part.startswith("sans:") for part in info.unreadable):
        return False  # names we could not read must not fall back to the CN
    names = info.sans or ((info.subject,) if info.subject else ())
    for candidate in names:
        if address is not None:
            try:
                if ipaddress.ip_address(candidate) == address:
                    return True
            except ValueError:
                continue
        elif _dns_match(candidate.rstrip(".").lower(), wanted):
            return True
    return False


def _dns_match(pattern: str, name: str) -> bool:
    if not pattern.startswith("*."):
        return pattern == name
    head, _, rest = name.partition(".")
    return bool(head) and rest == pattern[2:] and "." in rest
