"""MTA-STS (RFC 8461) and TLS-RPT (RFC 8460): the records, the policy, and fetching them.

Pure: the parsers return facts plus problem keys (no prose), and `DomainFacts` holds what
`smtpprobe.mail_policies` read from DNS and HTTPS. Judging the facts against each MX host
is `smtpprobe.interpret.mail_tls`'s job.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from smtpprobe.dns_facts import TxtLookup
    from smtpprobe.https_fetch import HttpsResponse

__all__ = [
    "FATAL_PROBLEMS",
    "MAX_AGE_LIMIT",
    "POLICY_PATH",
    "DomainFacts",
    "PolicyFetch",
    "Problem",
    "StsPolicy",
    "mx_pattern_for",
    "parse_policy",
    "parse_sts_record",
    "parse_tlsrpt_record",
]

POLICY_PATH = "/.well-known/mta-sts.txt"
MAX_AGE_LIMIT = 31557600  # RFC 8461 §3.2: max_age is at most one year, in seconds
# RFC 8461 §3.1: sts-id = 1*32(ALPHA / DIGIT)
_STS_ID = re.compile(r"[A-Za-z0-9]{1,32}")
# RFC 8461 §3.1 / RFC 8460 §3: a field is name "=" value; extension names are short tokens.
_FIELD = re.compile(r"([A-Za-z0-9][A-Za-z0-9_.-]{0,31})=([\x21-\x3a\x3c\x3e-\x7e]+)")
_MAX_AGE = re.compile(r"[0-9]{1,10}")
_MODES = ("enforce", "testing", "none")


@dataclass(frozen=True, slots=True)
class Problem:
    """One defect: a stable key (``multiple-records``, ``bad-mode`` …) and the fact behind it."""

    key: str
    detail: str = ""


def _fields(text: str, version: str) -> tuple[dict[str, str], Problem | None]:
    """``v=…; a=b; …`` → fields (the first of a repeated name wins), or the syntax problem."""
    parts = [part.strip() for part in text.split(";")]
    if parts and parts[-1] == "":
        parts.pop()  # a trailing ";" is allowed
    if not parts or parts[0] != f"v={version}":
        return {}, Problem("record-syntax", text[:200])
    fields: dict[str, str] = {}
    for part in parts:
        match = _FIELD.fullmatch(part)
        if match is None:
            return {}, Problem("record-syntax", part[:200])
        fields.setdefault(match[1], match[2])
    return fields, None


def _only_record(texts: Sequence[str], version: str) -> tuple[str | None, Problem | None]:
    """RFC 8461 §3.1 / RFC 8460 §3: records not starting ``v=VERSION`` are discarded; any
    number but one left means the domain publishes no valid record."""
    found = [t for t in texts if re.match(rf"v={version}\s*(;|$)", t)]
    if not found:
        return None, Problem("no-record")
    if len(found) > 1:
        return None, Problem("multiple-records", str(len(found)))
    return found[0], None


def parse_sts_record(texts: Sequence[str]) -> tuple[str | None, Problem | None]:
    """The policy ``id`` of the one ``v=STSv1`` record among *texts*, or why there is none."""
    text, problem = _only_record(texts, "STSv1")
    if text is None:
        return None, problem
    fields, problem = _fields(text, "STSv1")
    if problem is not None:
        return None, problem
    sts_id = fields.get("id", "")
    if not _STS_ID.fullmatch(sts_id):
        return None, Problem("record-bad-id", sts_id[:64])
    return sts_id, None


def parse_tlsrpt_record(texts: Sequence[str]) -> tuple[tuple[str, ...], Problem | None]:
    """The ``rua`` URIs of the one ``v=TLSRPTv1`` record (RFC 8460 §3), or why not.

    Only ``mailto:`` and ``https:`` URIs are defined; any other is a ``bad-rua``.
    """
    text, problem = _only_record(texts, "TLSRPTv1")
    if text is None:
        return (), problem
    fields, problem = _fields(text, "TLSRPTv1")
    if problem is not None:
        return (), problem
    if "rua" not in fields:
        return (), Problem("no-rua")
    uris = tuple(uri.strip() for uri in fields["rua"].split(","))
    for uri in uris:
        scheme = uri.partition(":")[0].lower()
        if scheme not in ("mailto", "https") or len(uri) <= len(scheme) + 1:
            return uris, Problem("bad-rua", uri[:200])
    return uris, None


@dataclass(frozen=True, slots=True)
class StsPolicy:
    """A parsed policy file (RFC 8461 §3.2). ``problems`` lists every defect; ``usable`` is
    False when a sender would reject the policy as a whole (a missing or bad field)."""

    version: str | None
    mode: str | None
    mx: tuple[str, ...]
    max_age: int | None
    problems: tuple[Problem, ...] = ()

    @property
    def usable(self) -> bool:
        return not any(p.key in FATAL_PROBLEMS for p in self.problems)


# Defects that make a sender discard the whole policy (RFC 8461 §3.2 grammar); the rest
# (unknown fields, repeated fields) are ignored by senders and only noted.
FATAL_PROBLEMS = frozenset(
    {
        "policy-syntax",
        "bad-version",
        "bad-mode",
        "bad-max-age",
        "no-mx",
        "max-age-too-large",
        "policy-not-utf8",
    }
)


def parse_policy(body: bytes) -> StsPolicy:
    """Read a policy body: ``key: value`` lines ending in LF or CRLF, first of a repeated
    field wins except ``mx``, unknown fields ignored (RFC 8461 §3.2)."""
    problems: list[Problem] = []
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return StsPolicy(None, None, (), None, (Problem("policy-not-utf8"),))
    fields: dict[str, str] = {}
    mx: list[str] = []
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.removesuffix("\r")
        if not line.strip():
            continue
        key, colon, value = line.partition(":")
        if not colon or key != key.strip() or not key:
            problems.append(Problem("policy-syntax", f"{number}: {line[:80]}"))
            continue
        value = value.strip()
        if key == "mx":
            mx.append(value.lower().rstrip("."))
        elif key in fields:
            problems.append(Problem("repeated-field", key))
        elif key in ("version", "mode", "max_age"):
            fields[key] = value
        else:
            problems.append(Problem("unknown-field", key[:40]))
    version, mode, max_age = fields.get("version"), fields.get("mode"), fields.get("max_age")
    if version != "STSv1":
        problems.append(Problem("bad-version", version or ""))
    if mode not in _MODES:
        problems.append(Problem("bad-mode", mode or ""))
    age: int | None = None
    if max_age is None or not _MAX_AGE.fullmatch(max_age):
        problems.append(Problem("bad-max-age", (max_age or "")[:20]))
    else:
        age = int(max_age)
        if age > MAX_AGE_LIMIT:
            problems.append(Problem("max-age-too-large", str(age)))
    if not mx and mode in ("enforce", "testing"):
        problems.append(Problem("no-mx"))
    return StsPolicy(version, mode if mode in _MODES else None, tuple(mx), age, tuple(problems))


def mx_pattern_for(host: str, patterns: Sequence[str]) -> str | None:
    """The first ``mx`` pattern *host* matches, or None (RFC 8461 §4.1): a pattern is an
    exact name or ``*.`` plus a name, the wildcard standing for exactly one label."""
    name = host.lower().rstrip(".")
    for pattern in patterns:
        if pattern.startswith("*."):
            label, dot, rest = name.partition(".")
            if dot and label and rest == pattern[2:]:
                return pattern
        elif name == pattern:
            return pattern
    return None


@dataclass(frozen=True, slots=True)
class PolicyFetch:
    """The HTTPS GET of the policy: the response, or the failure (`FetchError.reason`)."""

    url: str
    response: HttpsResponse | None = None
    failed: str = ""
    detail: str = ""


@dataclass(frozen=True, slots=True)
class DomainFacts:
    """Everything read about one mail domain's MTA-STS and TLS-RPT, unjudged."""

    domain: str
    sts_txt: TxtLookup
    tlsrpt_txt: TxtLookup
    fetch: PolicyFetch | None  # None: the policy host has no address
    policy: StsPolicy | None  # None: nothing fetched with status 200
