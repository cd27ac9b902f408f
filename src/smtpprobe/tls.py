"""TLS for the probe: client contexts, and what a finished handshake says about the server.

``cryptography`` (already installed with trustme) is imported only when a certificate is
read, so that ``import smtpprobe`` and plain-text probes stay cheap.
"""

from __future__ import annotations

import functools
import ssl
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from smtpprobe.errors import UsageError
from smtpprobe.report import CertificateInfo, TlsInfo, TlsMode

if TYPE_CHECKING:
    from cryptography import x509

__all__ = ["certificate_info", "client_context", "describe"]


def client_context(*, cafile: str | None, verify: bool) -> ssl.SSLContext:
    """A client context trusting *cafile* (or the system store when None).

    With ``verify=False`` neither the chain nor the name is checked (``--insecure``).
    Contexts are shared between probes with the same settings: building one reads the
    whole trust store (about 25 ms and 1 MB here), which a thousand concurrent probes
    cannot afford. Callers must not change the context they get.

    :raises UsageError: *cafile* cannot be read or holds no certificate.
    """
    return _client_context(cafile, verify)


@functools.lru_cache(maxsize=8)
def _client_context(cafile: str | None, verify: bool) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(cafile=cafile)
    except OSError as exc:  # FileNotFoundError, or ssl.SSLError for a file that is not PEM
        raise UsageError(key="error_cafile", params={"cafile": cafile, "reason": exc},
                         phase="tls") from exc
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def certificate_info(der: bytes) -> CertificateInfo | None:
    """Subject CN, issuer, SANs and expiry of a DER certificate; None if it cannot be read.

    Read with ``cryptography`` rather than ``getpeercert()``, whose dict is empty when
    verification is off: one reading whether or not the chain verified.
    """
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        cert = x509.load_der_x509_certificate(der)
        names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        subject = str(names[0].value) if names else cert.subject.rfc4514_string()
        issuer = cert.issuer.rfc4514_string()
        sans = _sans(cert)
        not_after = cert.not_valid_after_utc
    except ValueError:  # a certificate cryptography cannot parse
        return None
    days_left = (not_after - datetime.now(timezone.utc)).days
    return CertificateInfo(
        subject=subject, issuer=issuer, sans=sans, not_after=not_after, days_left=days_left
    )


def _sans(cert: x509.Certificate) -> tuple[str, ...]:
    from cryptography import x509

    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return ()
    dns = [str(name) for name in ext.value.get_values_for_type(x509.DNSName)]
    ips = [str(ip) for ip in ext.value.get_values_for_type(x509.IPAddress)]
    return tuple(dns + ips)


def describe(
    ssl_object: ssl.SSLObject | ssl.SSLSocket,
    mode: TlsMode,
    *,
    verified: bool,
    verify_error: str = "",
    handshake_elapsed: float | None = None,
) -> TlsInfo:
    """What the handshake negotiated and which certificate the server showed."""
    cipher = ssl_object.cipher()
    der = ssl_object.getpeercert(binary_form=True)
    return TlsInfo(
        mode=mode,
        version=ssl_object.version(),
        cipher=cipher[0] if cipher else None,
        certificate=certificate_info(der) if der else None,
        verified=verified,
        verify_error=verify_error,
        handshake_elapsed=handshake_elapsed,
    )
