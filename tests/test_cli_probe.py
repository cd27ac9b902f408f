"""``smtpprobe probe`` end to end: real sockets to aiosmtpd personas, through `cli.main`."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from rich.console import Console

from smtpprobe.cli import main
from smtpprobe.commands.probe import HostPort
from smtpprobe.interpret import CHECKS
from smtpprobe.kb import load
from smtpprobe.probe import probe
from smtpprobe.render.rich_view import to_rich
from smtpprobe.report import ProbeOptions
from smtpprobe.views.probe_view import probe_doc
from tests.ports import ServerAddress, free_port

Serve = Callable[..., ServerAddress]
TOP_KEYS = {
    "schema_version",
    "target",
    "status",
    "started_at",
    "elapsed_ms",
    "complete",
    "exchanges",
    "findings",
    "error",
}
EXCHANGE_KEYS = {"phase", "command", "reply", "started_ms", "elapsed_ms", "meaning", "error"}
REPLY_KEYS = {"code", "enhanced", "lines", "raw", "defects"}
MEANING_KEYS = {"title", "context", "tone", "allowed"}
VERDICT_KEYS = {"verdict", "status", "summary", "advice", "evidence"}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def probe_json(
    capsys: pytest.CaptureFixture[str], server: ServerAddress, *extra: str
) -> tuple[int, dict[str, Any]]:
    code, out, _err = run(
        capsys,
        "probe",
        f"{server.host}:{server.port}",
        "--format",
        "json",
        "--timeout",
        "5",
        "--command-timeout",
        "2",
        *extra,
    )
    return code, json.loads(out)


# -- personas of our own: what tests/servers.py does not cover ------------------------------


class _ScriptedSMTP(SMTP):
    """VRFY answered with a fixed reply; the banner's ident chosen by the test."""

    vrfy_reply = "451 4.7.1 Greylisted, try again later"

    async def smtp_VRFY(self, arg: str) -> None:
        await self.push(self.vrfy_reply)


class _ScriptedController(Controller):
    def __init__(self, smtp_class: type[SMTP], **kwargs: Any) -> None:
        super().__init__(object(), **kwargs)
        self.smtp_class = smtp_class

    def factory(self) -> SMTP:
        return self.smtp_class(self.handler, **self.SMTP_kwargs)


@pytest.fixture
def scripted(
    start_controller: Callable[[Controller], ServerAddress],
) -> Callable[..., ServerAddress]:
    def start(smtp_class: type[SMTP] = _ScriptedSMTP, ident: str | None = None) -> ServerAddress:
        return start_controller(
            _ScriptedController(
                smtp_class,
                hostname="127.0.0.1",
                port=free_port(),
                server_hostname="mx.test",
                ident=ident,
                ready_timeout=5.0,
            )
        )

    return start


# -- verdicts and exit codes -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "check", "verdict", "exit_code"),
    [
        pytest.param("hidden", "vrfy", "hidden", 0, id="hidden"),
        pytest.param("disclosing", "vrfy", "disclosing", 1, id="disclosing"),
        pytest.param("postfix", "vrfy", "disclosing", 1, id="postfix-252-vs-550"),
        pytest.param("postfix-novrfy", "vrfy", "disabled", 0, id="postfix-disabled"),
        pytest.param("disabled", "vrfy", "disabled", 0, id="disabled"),
        pytest.param("exim", "expn", "refused", 0, id="exim-expn-refused"),
        pytest.param("auth-required", "vrfy", "refused", 0, id="auth-required"),
        pytest.param("expn-list", "expn", "disclosing", 1, id="expn-expands"),
    ],
)
def test_verdicts_and_exit_codes(
    capsys: pytest.CaptureFixture[str],
    threaded_smtp_server: Serve,
    persona: str,
    check: str,
    verdict: str,
    exit_code: int,
) -> None:
    code, doc = probe_json(capsys, threaded_smtp_server(persona))
    assert doc["findings"][check]["verdict"] == verdict
    assert code == exit_code
    assert doc["status"] == ["ok", "warning"][exit_code]


def test_inconclusive_when_the_server_defers(
    capsys: pytest.CaptureFixture[str], scripted: Callable[..., ServerAddress]
) -> None:
    code, doc = probe_json(capsys, scripted())
    vrfy = doc["findings"]["vrfy"]
    assert vrfy["verdict"] == "inconclusive" and vrfy["status"] == "ok"
    assert [e["reply"]["code"] for e in vrfy["evidence"]] == [451, 451]
    assert code == 0


def test_rcpt_check_discloses_and_warns(
    capsys: pytest.CaptureFixture[str], threaded_smtp_server: Serve
) -> None:
    code, doc = probe_json(capsys, threaded_smtp_server("exim"), "--rcpt-check")
    rcpt = doc["findings"]["rcpt"]
    assert rcpt["verdict"] == "disclosing" and rcpt["status"] == "warning"
    assert doc["findings"]["vrfy"]["verdict"] == "hidden"
    assert code == 1


def test_connection_refused_is_critical(
    capsys: pytest.CaptureFixture[str], closed_port: int
) -> None:
    code, out, _err = run(capsys, "probe", f"127.0.0.1:{closed_port}", "--timeout", "3")
    assert code == 2
    assert "CRITICAL" in out and "exit code 2" in out


def test_421_at_connect_is_critical(
    capsys: pytest.CaptureFixture[str], threaded_smtp_server: Serve
) -> None:
    code, doc = probe_json(capsys, threaded_smtp_server("421"))
    assert code == 2
    assert doc["findings"]["banner"]["code"] == 421
    assert doc["findings"]["banner"]["status"] == "critical"


@pytest.mark.slow
def test_silent_server_hits_the_deadline_before_ehlo(
    capsys: pytest.CaptureFixture[str], threaded_smtp_server: Serve
) -> None:
    server = threaded_smtp_server("silent")
    code, out, _err = run(
        capsys,
        "probe",
        f"{server.host}:{server.port}",
        "--format",
        "json",
        "--command-timeout",
        "0.3",
        "--timeout",
        "2",
    )
    doc = json.loads(out)
    assert code == 2 and doc["complete"] is False
    assert doc["error"]["kind"] == "timeout" and doc["error"]["phase"] == "EHLO"


def test_unresolvable_name_is_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "probe", "nonexistent.invalid", "--timeout", "5")
    assert code == 3 and out == ""
    assert err.startswith("smtpprobe: error:") and "nonexistent.invalid" in err
    assert "Traceback" not in err


def test_unresolvable_name_in_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "probe", "nonexistent.invalid", "--format", "json")
    doc = json.loads(out)
    assert code == 3 and "smtpprobe: error:" in err
    assert set(doc) >= TOP_KEYS and doc["status"] == "unknown"
    assert doc["error"]["kind"] == "resolve" and doc["error"]["message"]


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["mx.example:99999"], id="port-out-of-range"),
        pytest.param(["mx.example:smtp"], id="port-not-a-number"),
        pytest.param(["[2001:db8::1"], id="unclosed-bracket"),
        pytest.param(["mx.example", "--user", "a b"], id="user-with-space"),
        pytest.param(["mx.example", "--user", "x\r\nRSET"], id="user-with-crlf"),
        pytest.param(["mx.example", "--user", "a@b@c"], id="two-at-signs"),
        pytest.param(["mx.example", "--list", "<staff>"], id="list-with-brackets"),
        pytest.param(["mx.example", "--skip", "vrfy", "--only", "help"], id="skip-and-only"),
        pytest.param(["mx.example", "--skip", "rcpt", "--rcpt-check"], id="rcpt-conflict"),
        pytest.param(["mx.example", "-4", "-6"], id="both-families"),
        pytest.param(["mx.example:25", "--port", "587"], id="two-ports"),
        pytest.param(["mx.example", "--timeout", "0"], id="zero-deadline"),
        pytest.param(["mx.example", "--tls", "sometimes"], id="bad-tls-mode"),
        pytest.param(["mx.example", "--domain", "a b"], id="bad-domain"),
        pytest.param(["mx.example", "--helo", "a b"], id="bad-helo"),
        pytest.param(["mx.example", "--cafile", "/nonexistent/ca.pem"], id="missing-cafile"),
    ],
)
def test_bad_arguments_exit_3_before_any_network(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    code, out, err = run(capsys, "probe", *argv)
    assert code == 3 and out == ""
    assert err.strip() and "Traceback" not in err


def test_bad_address_comes_with_a_hint(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run(capsys, "probe", "mx.example", "--user", "a b")
    assert code == 3 and "hint:" in err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mx.example", ("mx.example", None)),
        ("mx.example:2525", ("mx.example", 2525)),
        ("[2001:db8::1]:25", ("2001:db8::1", 25)),
        ("[2001:db8::1]", ("2001:db8::1", None)),
        ("2001:db8::1", ("2001:db8::1", None)),
        ("192.0.2.1:587", ("192.0.2.1", 587)),
    ],
)
def test_host_port(text: str, expected: tuple[str, int | None]) -> None:
    assert HostPort().convert(text, None, None) == expected


# -- formats, language, live view ------------------------------------------------------------


def test_json_schema(capsys: pytest.CaptureFixture[str], threaded_smtp_server: Serve) -> None:
    server = threaded_smtp_server("postfix")
    _code, doc = probe_json(capsys, server)
    assert set(doc) >= TOP_KEYS and doc["schema_version"] == 1
    assert doc["target"] == {
        "host": "127.0.0.1",
        "port": server.port,
        "address": "127.0.0.1",
        "tls": "auto",
    }
    assert set(doc["findings"]) == set(CHECKS)
    for exchange in doc["exchanges"]:
        assert set(exchange) == EXCHANGE_KEYS
        assert set(exchange["reply"]) == REPLY_KEYS and set(exchange["meaning"]) == MEANING_KEYS
        assert isinstance(exchange["command"], str) and isinstance(exchange["reply"]["raw"], str)
    for check in ("vrfy", "expn", "rcpt"):
        assert set(doc["findings"][check]) >= VERDICT_KEYS
    assert doc["exchanges"][0]["phase"] == "banner" and doc["exchanges"][0]["command"] == ""
    vrfy = doc["findings"]["vrfy"]
    assert [e["command"] for e in vrfy["evidence"]][0].startswith("VRFY postmaster@")
    assert doc["findings"]["ehlo"]["chunking"] is True
    assert (
        doc["findings"]["help"]["conforms"] is True and "VRFY" in doc["findings"]["help"]["topics"]
    )


def test_text_output_is_an_annotated_transcript(
    capsys: pytest.CaptureFixture[str], threaded_smtp_server: Serve
) -> None:
    server = threaded_smtp_server("postfix")
    code, out, _err = run(capsys, "probe", f"{server.host}:{server.port}", "--lang", "en")
    assert code == 1
    assert "C:  VRFY postmaster" in out and "S:  252 2.0.0 postmaster@mx.test" in out
    assert "Transcript" in out and "Findings" in out
    assert "disable_vrfy_command = yes" in out
    assert "Status: WARNING (exit code 1)" in out


def test_indonesian(capsys: pytest.CaptureFixture[str], threaded_smtp_server: Serve) -> None:
    server = threaded_smtp_server("disclosing")
    code, out, _err = run(capsys, "probe", f"{server.host}:{server.port}", "--lang", "id")
    assert code == 1
    assert "Temuan" in out and "membedakan pengguna" in out and "PERINGATAN" in out


def test_language_from_the_locale(
    capsys: pytest.CaptureFixture[str], threaded_smtp_server: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LC_ALL", "id_ID.UTF-8")
    server = threaded_smtp_server("hidden")
    _code, doc = probe_json(capsys, server)
    assert "tidak membedakan pengguna" in doc["findings"]["vrfy"]["summary"]
    assert doc["findings"]["vrfy"]["verdict"] == "hidden"


def test_verbose_shows_each_exchange_on_stderr(
    capsys: pytest.CaptureFixture[str], threaded_smtp_server: Serve
) -> None:
    server = threaded_smtp_server("hidden")
    code, out, err = run(capsys, "probe", f"{server.host}:{server.port}", "-v", "--format", "json")
    assert code == 0 and json.loads(out)["status"] == "ok"
    assert "C: VRFY postmaster" in err and "S: 252 " in err and "S: 221 Bye" in err


def test_only_runs_the_chosen_steps(
    capsys: pytest.CaptureFixture[str], threaded_smtp_server: Serve
) -> None:
    _code, doc = probe_json(capsys, threaded_smtp_server("hidden"), "--only", "vrfy")
    phases = {e["phase"] for e in doc["exchanges"]}
    # EHLO is always sent: some servers refuse everything before it (503).
    assert phases == {"banner", "EHLO", "VRFY"}
    assert doc["findings"]["expn"]["verdict"] == "not-tested"


def test_starttls_with_a_trusted_ca(
    capsys: pytest.CaptureFixture[str], threaded_smtp_server: Serve, cafile: str
) -> None:
    server = threaded_smtp_server("hidden", tls="starttls")
    code, doc = probe_json(capsys, server, "--tls", "starttls", "--cafile", cafile)
    assert code == 0
    assert doc["findings"]["starttls"]["used"] is True
    assert doc["findings"]["tls"]["verified"] is True
    assert doc["findings"]["tls"]["certificate"]["sans"] == ["localhost", "127.0.0.1"]


def test_starttls_certificate_failure_when_asked_for_is_critical(
    capsys: pytest.CaptureFixture[str],
    threaded_smtp_server: Serve,
) -> None:
    server = threaded_smtp_server("hidden", tls="starttls")
    code, doc = probe_json(capsys, server, "--tls", "starttls")
    assert code == 2 and doc["error"]["kind"] == "tls"
    assert doc["findings"]["connection"]["status"] == "critical"


def test_insecure_goes_on_and_warns_about_the_certificate(
    capsys: pytest.CaptureFixture[str],
    threaded_smtp_server: Serve,
    cafile: str,
) -> None:
    server = threaded_smtp_server("hidden", tls="starttls", cert="expired")
    code, doc = probe_json(capsys, server, "--cafile", cafile, "--insecure")
    tls = doc["findings"]["tls"]
    assert tls["verified"] is False and tls["verify_error"] and tls["status"] == "warning"
    assert doc["findings"]["vrfy"]["verdict"] == "hidden"
    # --cert-days (default 21,7) turns an expired certificate into CRITICAL.
    assert doc["findings"]["cert-days"]["status"] == "critical" and code == 2


def test_stray_bytes_after_starttls_warn(
    capsys: pytest.CaptureFixture[str], threaded_smtp_server: Serve, cafile: str
) -> None:
    server = threaded_smtp_server("stray-after-starttls", tls="starttls")
    code, doc = probe_json(capsys, server, "--cafile", cafile)
    kinds = [i["kind"] for i in doc["findings"]["deviations"]["items"]]
    assert "stray-bytes" in kinds and code == 1


# -- hostile server text ---------------------------------------------------------------------

HOSTILE = "[bold red]x[/] \x1b[2J"


def test_hostile_banner_never_reaches_the_output_raw(
    capsys: pytest.CaptureFixture[str],
    scripted: Callable[..., ServerAddress],
) -> None:
    server = scripted(SMTP, ident=HOSTILE)
    code, out, err = run(capsys, "probe", f"{server.host}:{server.port}", "-v")
    assert code == 0
    for stream in (out, err):
        assert "\x1b" not in stream
        assert "[bold red]x[/] \\x1b[2J" in stream


def test_hostile_banner_in_rich_stays_literal(scripted: Callable[..., ServerAddress]) -> None:
    """On a colour terminal the view goes through rich: markup must stay text there too."""
    server = scripted(SMTP, ident=HOSTILE)
    report = asyncio.run(probe(server.host, options=ProbeOptions(port=server.port, deadline=5)))
    assert report.session.exchanges[0].reply is not None
    assert report.session.exchanges[0].reply.lines[0].endswith(HOSTILE)
    buffer = io.StringIO()
    Console(file=buffer, force_terminal=True, color_system="truecolor", width=100).print(
        to_rich(probe_doc(report, load("en")))
    )
    rendered = buffer.getvalue()
    assert "[bold red]x[/]" in rendered and "\x1b[2J" not in rendered
