"""The TLS-in-depth options of ``probe``: ``--tls-scan``, ``--sni``, ``--verify-name``,
``--cert`` and ``--key``, and how they become `ProbeOptions`."""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Callable
from typing import Any, TypeVar

import click

from smtpprobe.errors import UsageError
from smtpprobe.i18n import N_, option
from smtpprobe.report import ProbeOptions

__all__ = ["SCAN_PER_SERVER", "tls_options", "with_tls"]

F = TypeVar("F", bound=Callable[..., Any])
# Connections one server's scan opens at once, at most: Exim's smtp_accept_max_per_host
# is often 5-10 and postscreen counts concurrent connections; --concurrency lowers it.
SCAN_PER_SERVER = 4
# RFC 1123 host name: letters, digits and hyphens in dot-separated labels (SNI, RFC 6066 §3).
_HOST_NAME = re.compile(r"(?=.{1,253}\.?$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?)+")


def _check_name(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A host name or an IP address, else a usage error (it goes into SNI and the check)."""
    if value is None:
        return None
    try:
        ipaddress.ip_address(value)
    except ValueError:
        if not value.isascii() or not _HOST_NAME.fullmatch(value):
            raise click.BadParameter(
                f"{value!r} is not a host name or an IP address", ctx, param
            ) from None
    return value


def tls_options(function: F) -> F:
    """``--tls-scan``, ``--sni``, ``--verify-name``, ``--cert`` and ``--key``."""
    for decorate in reversed(
        (
            option(
                "--tls-scan",
                is_flag=True,
                help=N_(
                    "Also test which TLS versions (1.0 to "
                    "1.3) and weak cipher classes the server accepts, in a few extra "
                    "connections."
                ),
            ),
            option(
                "--sni",
                metavar="NAME",
                callback=_check_name,
                help=N_(
                    "Name to send in "
                    "SNI (default: the host probed; useful when probing an address)."
                ),
            ),
            option(
                "--verify-name",
                metavar="NAME",
                callback=_check_name,
                help=N_("Name the certificate must be valid for (default: the SNI name)."),
            ),
            option(
                "--cert",
                "client_cert",
                type=click.Path(exists=True, dir_okay=False),
                help=N_("Client certificate (PEM) to present, with its key unless --key."),
            ),
            option(
                "--key",
                "client_key",
                type=click.Path(exists=True, dir_okay=False),
                help=N_("Private key (PEM) of the --cert client certificate."),
            ),
        )
    ):
        function = decorate(function)
    return function


def with_tls(options: ProbeOptions, params: dict[str, Any]) -> ProbeOptions:
    """*options* with the TLS-in-depth settings from *params*.

    :raises UsageError: ``--key`` without ``--cert``; ``--tls-scan`` with ``--tls none``.
    """
    if params["client_key"] is not None and params["client_cert"] is None:
        raise UsageError(key="error_key_without_cert")
    if params["tls_scan"] and params["tls"] == "none":
        raise UsageError(key="error_tls_scan_without_tls")
    return dataclasses.replace(
        options,
        tls_scan=params["tls_scan"],
        sni=params["sni"],
        verify_name=params["verify_name"],
        client_cert=params["client_cert"],
        client_key=params["client_key"],
        scan_concurrency=min(params.get("concurrency") or SCAN_PER_SERVER, SCAN_PER_SERVER),
    )
