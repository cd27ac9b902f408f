"""Integration tests against a real MTA: a private Postfix on a loopback port.

First the replies Postfix really gives (stdlib smtplib, proving the fixture), then the whole
`smtpprobe probe` CLI against it. Skipped, with the reason, only where Postfix cannot run.
"""

from __future__ import annotations

import json
import smtplib
from collections.abc import Iterator
from typing import Any

import pytest

from smtpprobe.cli import main
from tests.postfix import (
    DEFAULT_VRFY,
    HOSTNAME,
    VRFY_DISABLED,
    PostfixInstance,
)

pytestmark = pytest.mark.postfix

# Postfix's own default, except that unqualified names get a domain it does not serve.
FOREIGN_ORIGIN = {"myorigin": "$myhostname", "mydestination": "$mydomain, localhost"}
DEFAULT = pytest.param(DEFAULT_VRFY, id="default")
DISABLED = pytest.param(VRFY_DISABLED, id="disable_vrfy_command")
FOREIGN = pytest.param(FOREIGN_ORIGIN, id="myorigin_not_served")
CONFIGS = [DEFAULT, DISABLED]


@pytest.fixture
def smtp(postfix_server: PostfixInstance) -> Iterator[smtplib.SMTP]:
    """A stdlib SMTP session to the instance, after EHLO."""
    client = smtplib.SMTP(
        postfix_server.host, postfix_server.port, local_hostname="client.test", timeout=10
    )
    try:
        client.ehlo()
        yield client
    finally:
        client.close()


def _reply(client: smtplib.SMTP, command: str, argument: str) -> tuple[int, str]:
    code, text = client.docmd(command, argument)
    return code, text.decode()


@pytest.mark.parametrize("postfix_server", [DEFAULT], indirect=True)
def test_default_vrfy_answers_252_for_known_and_550_for_unknown(smtp: smtplib.SMTP) -> None:
    """Postfix's default: 252 (never 250) when the recipient checks pass, else their reject."""
    assert _reply(smtp, "VRFY", "postmaster") == (252, "2.0.0 postmaster")
    assert _reply(smtp, "VRFY", "alice@postfix.test") == (252, "2.0.0 alice@postfix.test")
    code, text = _reply(smtp, "VRFY", "nosuchuser")
    assert (code, text.split()[0]) == (550, "5.1.1")
    assert "<nosuchuser>: Recipient address rejected: User unknown in local recipient table" in text


@pytest.mark.parametrize("postfix_server", [DISABLED], indirect=True)
def test_disabled_vrfy_answers_502_for_everyone(smtp: smtplib.SMTP) -> None:
    for address in ("postmaster", "alice@postfix.test", "nosuchuser"):
        assert _reply(smtp, "VRFY", address) == (502, "5.5.1 VRFY command is disabled")


@pytest.mark.parametrize("postfix_server", CONFIGS, indirect=True)
def test_expn_is_an_unknown_command(smtp: smtplib.SMTP) -> None:
    """Postfix has no EXPN: 502 5.5.2 up to 3.6, 500 5.5.2 from 3.7 (reply-codes.md §3.1)."""
    code, text = _reply(smtp, "EXPN", "postmaster")
    assert code in (500, 502)
    assert text == "5.5.2 Error: command not recognized"


@pytest.mark.parametrize("postfix_server", [FOREIGN], indirect=True)
def test_bare_postmaster_is_accepted_even_when_unqualified_names_are_not(
    smtp: smtplib.SMTP,
) -> None:
    """A bare `postmaster` passes whatever myorigin is (RFC 5321 §4.5.1); other bare names
    become name@mx.postfix.test here, a domain Postfix does not serve, and an outsider may
    not relay to it."""
    assert _reply(smtp, "VRFY", "postmaster") == (252, "2.0.0 postmaster")
    assert _reply(smtp, "VRFY", "alice") == (454, "4.7.1 <alice>: Relay access denied")
    assert _reply(smtp, "VRFY", "nosuchuser") == (454, "4.7.1 <nosuchuser>: Relay access denied")


# --- the whole probe CLI against the real MTA ---------------------------------------------


def _probe_json(
    instance: PostfixInstance, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, dict[str, Any]]:
    argv = ["probe", f"{instance.host}:{instance.port}", "--format", "json", "--tls", "none"]
    code = main([*argv, *extra])
    out, err = capsys.readouterr()
    assert err == "", f"stderr: {err}\nPostfix log:\n{instance.log_tail()}"
    document: dict[str, Any] = json.loads(out)
    assert HOSTNAME in document["exchanges"][0]["reply"]["lines"][0]  # really Postfix's banner
    return code, document


def _verdict(document: dict[str, Any], check: str) -> str:
    verdict: str = document["findings"][check]["verdict"]
    return verdict


@pytest.mark.parametrize(
    ("postfix_server", "vrfy", "exit_code"),
    [
        pytest.param(DEFAULT_VRFY, "disclosing", 1, id="default"),
        pytest.param(VRFY_DISABLED, "disabled", 0, id="disable_vrfy_command"),
    ],
    indirect=["postfix_server"],
)
def test_probe_judges_postfix_vrfy(
    postfix_server: PostfixInstance,
    capsys: pytest.CaptureFixture[str],
    vrfy: str,
    exit_code: int,
) -> None:
    """Default Postfix tells users apart through VRFY (252 for postmaster, 550 5.1.1 for a
    random name: a WARNING); with disable_vrfy_command = yes VRFY is disabled (502)."""
    code, document = _probe_json(postfix_server, capsys)
    assert _verdict(document, "vrfy") == vrfy, document["findings"]["vrfy"]
    assert code == exit_code, json.dumps(document["findings"], indent=2)


@pytest.mark.parametrize("postfix_server", CONFIGS, indirect=True)
def test_probe_judges_postfix_expn_disabled(
    postfix_server: PostfixInstance, capsys: pytest.CaptureFixture[str]
) -> None:
    """Postfix has no EXPN (500 5.5.2 on 3.7+): that is `disabled`, whatever VRFY does."""
    _code, document = _probe_json(postfix_server, capsys)
    assert _verdict(document, "expn") == "disabled", document["findings"]["expn"]


@pytest.mark.parametrize("postfix_server", [FOREIGN], indirect=True)
def test_probe_with_a_qualified_user_finds_disclosure_behind_relay_refusals(
    postfix_server: PostfixInstance, capsys: pytest.CaptureFixture[str]
) -> None:
    """When bare names end up in a domain Postfix does not serve (454 Relay access denied),
    `--user postmaster@postfix.test` asks in the served domain, the control address too."""
    code, document = _probe_json(postfix_server, capsys, "--user", "postmaster@postfix.test")
    assert _verdict(document, "vrfy") == "disclosing", document["findings"]["vrfy"]
    pair = document["findings"]["vrfy"]["pairs"][0]
    assert (pair["real_code"], pair["control_code"]) == (252, 550)
    assert pair["control"].endswith("@postfix.test")
    assert code == 1


@pytest.mark.parametrize("postfix_server", [FOREIGN], indirect=True)
def test_probe_moves_past_relay_refusals_to_the_mail_domain_by_itself(
    postfix_server: PostfixInstance, capsys: pytest.CaptureFixture[str]
) -> None:
    """With no --user, the probe sees `454 Relay access denied` for the bare control name,
    moves from mx.postfix.test to its parent postfix.test, asks both names there again,
    and finds the disclosure a real harvester would find."""
    code, document = _probe_json(postfix_server, capsys)
    asked = [e["command"] for e in document["exchanges"] if e["phase"] == "VRFY"]
    assert any(a.startswith("VRFY postmaster@postfix.test") for a in asked), asked
    assert _verdict(document, "vrfy") == "disclosing", document["findings"]["vrfy"]
    pair = document["findings"]["vrfy"]["pairs"][0]
    assert (pair["real_code"], pair["control_code"]) == (252, 550)
    assert code == 1
