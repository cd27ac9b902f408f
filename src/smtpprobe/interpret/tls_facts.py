"""TLS in depth, judged: protocol versions, weak ciphers, key and signature, the chain, the name.

Pure: reads the `TlsInfo` and `TlsScan` the probe recorded and returns `TlsFacts` — the
JSON data for ``findings.tls`` and one `TlsReason` per defect, each with its status
(RFC 8996 for TLS 1.0/1.1; RFC 7525/9325 for ciphers, keys and signatures);
`with_tls_facts` adds them to the ``tls`` finding as notes (words: findings/tls.toml).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from smtpprobe.certificate import certificate_info, chain_problems
from smtpprobe.report import (
    CertificateInfo,
    ChainCertificate,
    Finding,
    Note,
    Session,
    Status,
    TlsInfo,
    TlsScan,
)

__all__ = [
    "TlsFacts",
    "TlsReason",
    "certificate_data",
    "chain_data",
    "tls_facts",
    "with_tls_facts",
]

# NIST SP 800-57 / RFC 9325 §4.4: RSA below 2048 bits is breakable in practice.
MIN_RSA_BITS = 2048
_OLD_PROTOCOLS = ("SSLv3", "TLSv1", "TLSv1.1")  # RFC 7568, RFC 8996
_GOOD_PROTOCOLS = ("TLSv1.2", "TLSv1.3")
# Cipher classes weak whenever accepted (RFC 7465 RC4; RFC 9325 §4.1 NULL, anon, export, 3DES).
WEAK_CLASSES = ("aNULL", "NULL", "EXPORT", "RC4", "3DES")


@dataclass(frozen=True, slots=True)
class TlsReason:
    """One defect: a stable kebab-case key, its status, and the facts it rests on."""

    reason: str
    status: Status
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TlsFacts:
    """What ``findings.tls`` gains: JSON data and the defects found."""

    data: Mapping[str, Any]
    reasons: tuple[TlsReason, ...]

    @property
    def status(self) -> Status:
        return Status.worst(reason.status for reason in self.reasons)


def certificate_data(cert: CertificateInfo) -> dict[str, Any]:
    """Every fact about the certificate, for JSON."""
    return {
        "subject": cert.subject,
        "issuer": cert.issuer,
        "sans": list(cert.sans),
        "not_after": cert.not_after.isoformat() if cert.not_after else None,
        "days_left": cert.days_left,
        "key_type": cert.key_type or None,
        "key_bits": cert.key_bits,
        "signature_algorithm": cert.signature_algorithm or None,
        "sha256": cert.sha256 or None,
        "serial": cert.serial or None,
        "not_before": cert.not_before.isoformat() if cert.not_before else None,
        "must_staple": cert.must_staple,
        "self_signed": cert.self_signed,
        "unreadable": list(cert.unreadable),
    }


def chain_data(chain: tuple[ChainCertificate, ...]) -> list[dict[str, Any]]:
    """The chain as sent, leaf first: names, and the DER in base64 (for DANE matching)."""
    return [
        {
            "subject": element.subject,
            "issuer": element.issuer,
            "self_issued": element.self_issued,
            "ca": element.is_ca,
            "der": base64.b64encode(element.der).decode("ascii"),
        }
        for element in chain
    ]


def tls_facts(session: Session) -> TlsFacts:
    """The data and defects of the handshake the probe made and of ``--tls-scan``."""
    data: dict[str, Any] = {}
    reasons: list[TlsReason] = []
    if session.tls is not None:
        _handshake(session.tls, data, reasons)
    if session.tls_scan is not None:
        _scan(session.tls_scan, data, reasons)
        if session.tls is None and session.tls_scan.chain:
            _scanned_certificate(session.tls_scan.chain, data, reasons)
    return TlsFacts(data, tuple(reasons))


def _chain(
    chain: tuple[ChainCertificate, ...],
    verify_error: str,
    data: dict[str, Any],
    reasons: list[TlsReason],
) -> None:
    problems = chain_problems(chain, verify_error)
    data["chain"] = chain_data(chain)
    data["chain_problems"] = list(problems)
    for problem in problems:
        # A self-signed leaf is already why verification failed; the others cost senders
        # that verify (missing intermediate) or only bytes and tidiness (order, root).
        status = Status.WARNING if problem in ("missing-intermediate", "wrong-order") else Status.OK
        reasons.append(TlsReason(f"chain-{problem}", status))


def _handshake(tls: TlsInfo, data: dict[str, Any], reasons: list[TlsReason]) -> None:
    _chain(tls.chain, tls.verify_error, data, reasons)
    data["sni"] = tls.sni or None
    data["verify_name"] = tls.verify_name or None
    data["name_matches"] = tls.name_matches
    data["client_certificate"] = tls.client_certificate
    if tls.name_matches is False:
        reasons.append(TlsReason("name-mismatch", Status.WARNING, {"name": tls.verify_name}))
    if tls.certificate is not None:
        _certificate_reasons(tls.certificate, reasons)


def _certificate_reasons(cert: CertificateInfo, reasons: list[TlsReason]) -> None:
    if cert.key_type == "RSA" and cert.key_bits is not None and cert.key_bits < MIN_RSA_BITS:
        reasons.append(
            TlsReason(
                "weak-key", Status.WARNING, {"key_type": cert.key_type, "bits": cert.key_bits}
            )
        )
    signature = cert.signature_algorithm.lower()
    if "sha1" in signature or "md5" in signature:
        reasons.append(
            TlsReason("weak-signature", Status.WARNING, {"algorithm": cert.signature_algorithm})
        )
    if cert.unreadable:
        reasons.append(
            TlsReason("certificate-unreadable", Status.OK, {"parts": ", ".join(cert.unreadable)})
        )


def _weak_suites(classes: Mapping[str, str | None]) -> dict[str, str]:
    """Weak classes the server accepted: aNULL…3DES always, CBC only when AEAD is refused."""
    weak = {name: suite for name in WEAK_CLASSES if (suite := classes.get(name))}
    cbc = classes.get("CBC")
    if cbc and classes.get("AEAD") == "":
        weak["CBC-only"] = cbc
    return weak


def _scanned_certificate(
    chain: tuple[ChainCertificate, ...], data: dict[str, Any], reasons: list[TlsReason]
) -> None:
    """The certificate as the scan saw it, when the probe's own handshake gave none (it
    failed verification): facts without a verdict on the chain's trust."""
    leaf = certificate_info(chain[0].der)
    data["chain_source"] = "scan"
    data["certificate"] = certificate_data(leaf)
    _chain(chain, "", data, reasons)
    _certificate_reasons(leaf, reasons)


def _scan(scan: TlsScan, data: dict[str, Any], reasons: list[TlsReason]) -> None:
    weak = _weak_suites(scan.weak_ciphers)
    data["protocols"] = dict(scan.protocols)
    data["weak_ciphers"] = sorted(set(weak.values()))
    data["cipher_classes"] = dict(scan.weak_ciphers)
    data["scan"] = {
        "untested": list(scan.untested),
        "errors": list(scan.errors),
        "connections": scan.connections,
        "elapsed_ms": round(scan.elapsed * 1000),
    }
    old = [name for name in _OLD_PROTOCOLS if scan.protocols.get(name)]
    if old:
        reasons.append(TlsReason("old-protocols", Status.WARNING, {"protocols": ", ".join(old)}))
    if all(scan.protocols.get(name) is False for name in _GOOD_PROTOCOLS):
        reasons.append(TlsReason("no-modern-protocol", Status.CRITICAL, {}))
    if weak:
        reasons.append(
            TlsReason(
                "weak-ciphers",
                Status.WARNING,
                {"classes": ", ".join(weak), "suites": ", ".join(data["weak_ciphers"])},
            )
        )
    if scan.protocols.get("TLSv1.2") and scan.weak_ciphers.get("FS") == "":
        reasons.append(
            TlsReason(
                "no-forward-secrecy",
                Status.WARNING,
                {"suite": scan.weak_ciphers.get("kRSA") or "-"},
            )
        )


def with_tls_facts(finding: Finding, session: Session) -> Finding:
    """*finding* (the ``tls`` one) with the facts' data added, one note per defect
    (worded from ``findings/tls.toml``) and its status raised to the worst defect's."""
    facts = tls_facts(session)
    if not facts.data:
        return finding
    return replace(
        finding,
        status=Status.worst((finding.status, facts.status)),
        notes=(*finding.notes, *(Note(r.reason, r.params) for r in facts.reasons)),
        data={**finding.data, **facts.data},
    )
