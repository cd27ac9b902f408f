"""The exporter's modules: named probe options and policies from a TOML file (``--config``).

Everything that decides what the probe sends (users, lists, ``rcpt_check``, policies) lives
here, written by the operator; a scrape URL only names a target and a module, so nobody who
can reach the exporter can point user enumeration at a third party with options of their
choosing. Keys are the ``probe`` options' names with ``_`` for ``-``::

    [modules.strict]
    tls = "starttls"
    require_valid_cert = true
    expect_vrfy = "not-disclosing"
    cert_days = [21, 7]
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from smtpprobe.errors import UsageError
from smtpprobe.policy import Expectation, Policy
from smtpprobe.report import DEFAULT_HELO, STEPS, ProbeOptions, TlsMode
from smtpprobe.validate import check_options

__all__ = ["DEFAULT_MODULE", "Module", "default_modules", "load_modules", "parse_modules"]

DEFAULT_MODULE = "default"
_MODULE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True, slots=True)
class Module:
    """One named way of probing: the options and the policy that judges the result."""

    name: str
    options: ProbeOptions
    policy: Policy


def _fail(module: str, key: str, expected: str) -> UsageError:
    return UsageError(
        key="exporter_config_value", params={"module": module, "key": key, "expected": expected}
    )


def _seconds(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _texts(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and v for v in value)


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _choice(choices: tuple[str, ...]) -> Callable[[Any], bool]:
    return lambda value: value in choices


_EXPECT = tuple(e.value for e in Expectation)
# key -> (check, how the error words what was expected, the probe command's default)
_KEYS: Mapping[str, tuple[Callable[[Any], bool], str, Any]] = {
    "tls": (
        _choice(tuple(m.value for m in TlsMode)),
        "one of: none starttls implicit auto",
        "auto",
    ),
    "helo": (lambda v: isinstance(v, str) and bool(v), "text", DEFAULT_HELO),
    "ipv4": (lambda v: isinstance(v, bool), "true or false", False),
    "ipv6": (lambda v: isinstance(v, bool), "true or false", False),
    "timeout": (_seconds, "seconds > 0", 30.0),
    "command_timeout": (_seconds, "seconds > 0", 10.0),
    "cafile": (lambda v: isinstance(v, str) and bool(v), "a file name", None),
    "insecure": (lambda v: isinstance(v, bool), "true or false", False),
    "source": (lambda v: isinstance(v, str) and _is_ip(v), "an IP address of this machine", None),
    "users": (_texts, "a list of addresses", ["postmaster"]),
    "lists": (_texts, "a list of addresses", ["postmaster"]),
    "domain": (lambda v: isinstance(v, str) and bool(v), "a domain", None),
    "skip": (lambda v: _texts(v) and set(v) <= set(STEPS), "a list of steps", []),
    "only": (lambda v: _texts(v) and set(v) <= set(STEPS), "a list of steps", []),
    "rcpt_check": (lambda v: isinstance(v, bool), "true or false", False),
    "expect_vrfy": (_choice(_EXPECT), "one of: " + " ".join(_EXPECT), None),
    "expect_expn": (_choice(_EXPECT), "one of: " + " ".join(_EXPECT), None),
    "expect_rcpt": (_choice(_EXPECT), "one of: " + " ".join(_EXPECT), None),
    "require_starttls": (lambda v: isinstance(v, bool), "true or false", False),
    "require_valid_cert": (lambda v: isinstance(v, bool), "true or false", False),
    "cert_days": (
        lambda v: (
            isinstance(v, list)
            and len(v) == 2
            and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in v)
            and v[0] >= v[1]
        ),
        "[WARN, CRIT] days, WARN >= CRIT >= 0",
        [21, 7],
    ),
    "warning": (_seconds, "seconds > 0", None),
    "critical": (_seconds, "seconds > 0", None),
    "max_banner_delay": (_seconds, "seconds > 0", None),
    "expect_banner": (lambda v: isinstance(v, str), "a regular expression", None),
    "expect_extension": (
        lambda v: _texts(v) and all(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]*", x) for x in v),
        "a list of EHLO keywords",
        [],
    ),
}
# The probe command's parameter names where they differ from the module's keys.
_PARAM_NAMES = {"warning": "time_warning", "critical": "time_critical"}


def _module(name: str, table: Mapping[str, Any]) -> Module:
    """Check every key of *table* and build the module the way ``probe`` builds its run.

    :raises UsageError: an unknown key, a value of the wrong kind, or options that
        contradict each other (the same errors ``probe`` gives for them).
    """
    from smtpprobe.commands.probe import _options
    from smtpprobe.commands.probe_options import policy_from_params, steps_for

    params: dict[str, Any] = {_PARAM_NAMES.get(k, k): d for k, (_c, _e, d) in _KEYS.items()}
    for key, value in table.items():
        if key not in _KEYS:
            raise UsageError(key="exporter_config_key", params={"module": name, "key": key})
        check, expected, _default = _KEYS[key]
        if not check(value):
            raise _fail(name, key, expected)
        params[_PARAM_NAMES.get(key, key)] = value
    for key in ("users", "lists", "skip", "only", "expect_extension"):
        params[key] = tuple(params[key])
    params["expect_extension"] = tuple(x.upper() for x in params["expect_extension"])
    params["cert_days"] = tuple(params["cert_days"])
    if params["expect_banner"] is not None:
        try:
            params["expect_banner"] = re.compile(params["expect_banner"])
        except re.error:
            raise _fail(name, "expect_banner", _KEYS["expect_banner"][1]) from None
    policy = policy_from_params(params)
    options = steps_for(policy, _options(params, None), only=params["only"], skip=params["skip"])
    check_options("localhost", options)  # users, lists, HELO: one token each
    return Module(name, options, policy)


def default_modules() -> dict[str, Module]:
    """Only the default module: the default probe, as ``smtpprobe probe HOST`` runs it."""
    return {DEFAULT_MODULE: _module(DEFAULT_MODULE, {})}


def parse_modules(text: str) -> dict[str, Module]:
    """The modules of a config file's *text*, with ``default`` added when it has none.

    :raises UsageError: not TOML, no ``[modules.NAME]`` tables, a bad name, key or value.
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(key="exporter_config_toml", params={"reason": str(exc)}) from None
    unknown = set(document) - {"modules"}
    tables = document.get("modules")
    if (
        unknown
        or not isinstance(tables, dict)
        or not all(isinstance(t, dict) for t in tables.values())
    ):
        raise UsageError(key="exporter_config_shape")
    modules = default_modules()
    for name, table in tables.items():
        if not _MODULE_NAME.fullmatch(name):
            raise UsageError(key="exporter_config_name", params={"module": name})
        modules[name] = _module(name, table)
    return modules


def load_modules(path: str | None) -> dict[str, Module]:
    """`parse_modules` of the file at *path*, or `default_modules` without one.

    :raises UsageError: the file cannot be read, or `parse_modules` rejects it.
    """
    if path is None:
        return default_modules()
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read(1 << 20)  # a config file, not a data set: 1 MiB is plenty
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(
            key="error_file_unreadable", params={"path": path, "reason": exc}
        ) from None
    return parse_modules(text)
