"""TLS for the probe: client contexts, and what a finished handshake says about the server.

``cryptography`` (already installed with trustme) is imported only when a certificate is
read, so that ``import smtpprobe`` and plain-text probes stay cheap.
"""

from __future__ import annotations

import functools
import ssl

from smtpprobe.certificate import certificate_info, chain_certificate, name_matches
from smtpprobe.errors import UsageError
from smtpprobe.report import TlsInfo, TlsMode

__all__ = [
    "certificate_info",
    "client_context",
    "describe",
    "load_client_certificate",
    "presented_chain",
]


def client_context(
    *,
    cafile: str | None,
    verify: bool,
    check_name: bool = True,
    cert: str | None = None,
    key: str | None = None,
) -> ssl.SSLContext:
    """A client context trusting *cafile* (or the system store when None).

    With ``verify=False`` neither the chain nor the name is checked (``--insecure``);
    with ``check_name=False`` only the chain is, and the caller checks the name
    (``--verify-name`` other than the SNI name). *cert*/*key* present a client
    certificate (``--cert``/``--key``).
    Contexts are shared between probes with the same settings: building one reads the
    whole trust store (about 25 ms and 1 MB here), which a thousand concurrent probes
    cannot afford. Callers must not change the context they get.

    :raises UsageError: *cafile* cannot be read or holds no certificate, or the client
        certificate or key cannot be loaded.
    """
    return _client_context(cafile, verify, check_name and verify, cert, key)


@functools.lru_cache(maxsize=8)
def _client_context(
    cafile: str | None, verify: bool, check_name: bool, cert: str | None, key: str | None
) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(cafile=cafile)
    except OSError as exc:  # FileNotFoundError, or ssl.SSLError for a file that is not PEM
        raise UsageError(
            key="error_cafile", params={"cafile": cafile, "reason": exc}, phase="tls"
        ) from exc
    context.check_hostname = check_name
    if not verify:
        context.verify_mode = ssl.CERT_NONE
    if cert is not None:
        load_client_certificate(context, cert, key)
    return context


def load_client_certificate(context: ssl.SSLContext, cert: str, key: str | None) -> None:
    """Present *cert* (PEM, with its key unless *key* is given) on *context*.

    :raises UsageError: a file that cannot be read, is not PEM, or a key that does not
        belong to the certificate.
    """
    try:
        context.load_cert_chain(cert, key)
    except OSError as exc:  # ssl.SSLError is an OSError too
        raise UsageError(
            key="error_client_cert", params={"cert": cert, "reason": exc}, phase="tls"
        ) from exc


def describe(
    ssl_object: ssl.SSLObject | ssl.SSLSocket,
    mode: TlsMode,
    *,
    verified: bool,
    verify_error: str = "",
    handshake_elapsed: float | None = None,
    sni: str = "",
    verify_name: str = "",
    client_certificate: bool = False,
) -> TlsInfo:
    """What the handshake negotiated and which certificates the server showed.

    *verify_name* is the name the certificate is checked against (``name_matches``);
    *sni* the name sent in the ClientHello.
    """
    cipher = ssl_object.cipher()
    der = ssl_object.getpeercert(binary_form=True)
    certificate = certificate_info(der) if der else None
    return TlsInfo(
        mode=mode,
        version=ssl_object.version(),
        cipher=cipher[0] if cipher else None,
        certificate=certificate,
        verified=verified,
        verify_error=verify_error,
        handshake_elapsed=handshake_elapsed,
        chain=tuple(chain_certificate(element) for element in presented_chain(ssl_object)),
        sni=sni,
        verify_name=verify_name,
        name_matches=(
            name_matches(certificate, verify_name)
            if certificate is not None and verify_name
            else None
        ),
        client_certificate=client_certificate,
    )


def presented_chain(ssl_object: ssl.SSLObject | ssl.SSLSocket) -> tuple[bytes, ...]:
    """The certificates the server sent, leaf first, as DER; ``()`` when none.

    ``get_unverified_chain()`` is public from Python 3.13; 3.10 to 3.12 have it only on
    the private ``_ssl._SSLSocket`` (``_sslobj``), returning ``_ssl.Certificate`` objects.
    When neither exists, the leaf alone is what can be known.
    """
    public = getattr(ssl_object, "get_unverified_chain", None)
    if public is not None:  # Python >= 3.13: a list of DER bytes
        return tuple(bytes(element) for element in public() or ())
    private = getattr(getattr(ssl_object, "_sslobj", None), "get_unverified_chain", None)
    if private is not None:
        encoding = ssl._ssl.ENCODING_DER  # type: ignore[attr-defined]
        return tuple(element.public_bytes(encoding) for element in private() or ())
    leaf = ssl_object.getpeercert(binary_form=True)
    return (leaf,) if leaf else ()
