"""The SMTP smuggling check: test bytes, the judgement, and real servers.

aiosmtpd personas that end DATA on each candidate (and one that does not, one that refuses
bare LF), scripted servers that stall or hang up mid-check, the CLI, and the private Postfix
with ``smtpd_forbid_bare_newline`` = no / yes / reject where the installed Postfix knows it.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from smtpprobe.interpret.smuggling import Outcome, judge, judge_trial
from smtpprobe.reply import parse_reply
from smtpprobe.report import Exchange, ProbeOptions, Status, TlsMode, Verdict
from smtpprobe.smuggling import CANDIDATES, candidate, trial_bytes
from smtpprobe.smuggling_run import CONTENT, SMUGGLED, Trial, run_smuggling_check
from smtpprobe.transaction import DATA_END
from tests.cli import run_main
from tests.ports import ServerAddress, close_servers
from tests.postfix import PostfixInstance
from tests.requirements import missing
from tests.smuggling_personas import RECEIVED

TO = "alice@mx.test"
OPTIONS = ProbeOptions(tls=TlsMode.NONE, deadline=60.0, command_timeout=5.0)
END_CANDIDATES = [c for c in CANDIDATES if c.ends_data]


# -- the bytes ----------------------------------------------------------------------------


@pytest.mark.parametrize("test", CANDIDATES, ids=lambda c: c.name)
def test_trial_bytes_hold_the_candidate_once_and_smuggle_only_to_the_recipient(test: Any) -> None:
    made = trial_bytes(test, marker="M1", sender="", recipient=TO)
    assert made.payload.count(test.sequence) >= 1
    assert b"\r\n.\r\n" not in made.payload  # only the terminator ends DATA properly
    assert made.payload.endswith(b"\r\n") and made.terminator == b".\r\n"
    if test.ends_data:
        assert made.smuggled == (b"MAIL FROM:<>", b"RCPT TO:<alice@mx.test>", b"DATA")
        after = made.payload.split(test.sequence, 1)[1]
        assert after.startswith(b"MAIL FROM:<>\r\nRCPT TO:<alice@mx.test>\r\nDATA\r\n")
        assert b"SMUGGLED" in after and b"M1" in after
    else:
        assert made.smuggled == () and b"RCPT" not in made.payload


def test_addresses_cannot_write_lines_into_the_content() -> None:
    with pytest.raises(ValueError):
        trial_bytes(
            candidate("lf-dot-lf"),
            marker="M",
            sender="",
            recipient="a@mx.test\r\nRCPT TO:<b@example.net>",
        )


def test_labels_and_bare_lf() -> None:
    assert candidate("lf-dot-crlf").label == "<LF>.<CR><LF>"
    assert candidate("lf-dot-crlf").has_bare_lf and candidate("crlf-dot-lf").has_bare_lf
    assert not candidate("cr-dot-cr").has_bare_lf and not candidate("bare-cr").has_bare_lf


# -- the judgement (pure) -----------------------------------------------------------------


def _ex(phase: str, reply: str | None, command: bytes = b"x") -> Exchange:
    return Exchange(phase, command, parse_reply(reply) if reply else None, 0.0, 0.0)


def _trial(name: str, *exchanges: Exchange, skipped: str = "") -> Trial:
    return Trial(candidate(name), b"sent", exchanges, skipped)


def test_an_early_reply_and_replies_to_hidden_lines_mean_ended_early() -> None:
    trial = _trial(
        "lf-dot-lf",
        _ex("DATA", "354 go"),
        _ex(CONTENT, "250 queued"),
        _ex(SMUGGLED, "250 ok"),
        _ex(DATA_END, "250 queued"),
    )
    outcome = judge_trial(trial)
    assert outcome.outcome is Outcome.ENDED_EARLY and not outcome.late


def test_several_replies_after_the_end_mean_ended_early_late() -> None:
    trial = _trial(
        "lf-dot-lf",
        _ex(CONTENT, None),
        _ex(DATA_END, "250 queued"),
        _ex(SMUGGLED, "250 ok"),
        _ex(SMUGGLED, "250 ok"),
        _ex(SMUGGLED, "354 go"),
        _ex(SMUGGLED, "250 queued"),
    )
    outcome = judge_trial(trial)
    assert outcome.outcome is Outcome.ENDED_EARLY and outcome.late


@pytest.mark.parametrize(
    ("replies", "expected"),
    [
        (("250 queued",), Outcome.CONTENT),
        (("550 5.5.2 Error: bare <LF> received",), Outcome.REJECTED),
        (("250 queued", "421 closing"), Outcome.CONTENT),  # 421 is the server closing
        ((), Outcome.UNTESTED),
    ],
)
def test_one_reply_after_the_end(replies: tuple[str, ...], expected: Outcome) -> None:
    trial = _trial(
        "lf-dot-lf",
        _ex(CONTENT, None),
        *(_ex(DATA_END if n == 0 else SMUGGLED, r) for n, r in enumerate(replies)),
    )
    assert judge_trial(trial).outcome is expected


def test_an_early_refusal_alone_is_a_rejection() -> None:
    trial = _trial("lf-dot-lf", _ex(CONTENT, "421 4.5.0 Bare linefeed (LF) not allowed"))
    assert judge_trial(trial).outcome is Outcome.REJECTED


# -- aiosmtpd personas --------------------------------------------------------------------


@pytest.fixture
def persona(
    smtp_server: Callable[..., Awaitable[ServerAddress]],
) -> Callable[[str], Awaitable[ServerAddress]]:
    return lambda name: smtp_server(name)


async def _check(address: ServerAddress, **options: Any) -> Any:
    run = await run_smuggling_check(
        address.host, recipient=TO, options=_options(address.port, **options)
    )
    return run, judge(run)


def _options(port: int, **changes: Any) -> ProbeOptions:
    import dataclasses

    return dataclasses.replace(
        OPTIONS, port=port, steps=frozenset({"ehlo", "starttls", "quit"}), **changes
    )


@pytest.mark.slow
@pytest.mark.parametrize("test", END_CANDIDATES, ids=lambda c: c.name)
async def test_a_persona_that_ends_data_on_one_candidate_is_vulnerable_on_that_one(
    persona: Callable[[str], Awaitable[ServerAddress]], test: Any
) -> None:
    RECEIVED.clear()
    run, judgement = await _check(await persona(f"smuggle-{test.name}"))
    assert judgement.verdict is Verdict.VULNERABLE and judgement.status is Status.CRITICAL
    ended = [o.name for o in judgement.outcomes if o.outcome is Outcome.ENDED_EARLY]
    # Ending on <LF>.<LF> also ends <CR><LF>.<LF> (the CR belongs to the line before),
    # ending on <LF>.<CR> also ends <LF>.<CR><LF>.
    expected = [c.name for c in END_CANDIDATES if test.sequence in c.sequence]
    assert ended == expected
    # The smuggled message arrived as a message of its own, to the same recipient.
    smuggled = [
        body for _, body in RECEIVED if b"SMUGGLED second message" in body.split(b"\r\n\r\n")[0]
    ]
    assert len(smuggled) == len(expected)
    assert any(f"[{run.marker}] {test.name}".encode() in body for body in smuggled)
    assert run.session.exchanges[-1].phase == "QUIT"


@pytest.mark.slow
async def test_strict_aiosmtpd_is_not_vulnerable(
    persona: Callable[[str], Awaitable[ServerAddress]],
) -> None:
    run, judgement = await _check(await persona("smuggle-strict"))
    assert judgement.verdict is Verdict.NOT_VULNERABLE
    assert {o.outcome for o in judgement.outcomes} == {Outcome.CONTENT}
    assert sum(1 for ex in run.session.exchanges if ex.phase == "RSET") == len(CANDIDATES)


@pytest.mark.slow
async def test_a_persona_refusing_bare_lf_rejects_bare_lf(
    persona: Callable[[str], Awaitable[ServerAddress]],
) -> None:
    _, judgement = await _check(await persona("smuggle-rejects-bare-lf"))
    assert judgement.verdict is Verdict.REJECTS_BARE_LF
    by_name = {o.name: o for o in judgement.outcomes}
    assert by_name["bare-lf"].outcome is Outcome.REJECTED and by_name["bare-lf"].code == 550
    assert by_name["cr-dot-cr"].outcome is Outcome.CONTENT


# -- servers that stall or hang up mid-check ---------------------------------------------


def _script(
    mode: str, commands: list[bytes], writers: list[asyncio.StreamWriter]
) -> Callable[..., Awaitable[None]]:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        writer.write(b"220 mx.test ESMTP\r\n")
        while line := await reader.readline():
            commands.append(line)
            verb = line[:4].upper()
            if verb == b"DATA":
                writer.write(b"354 go\r\n")
                await reader.readuntil(b"\r\n.\r\n")
                if mode == "hang-up":
                    writer.close()
                    return
                if mode == "stall":
                    await reader.read()  # never answers; ends when the client goes
                    return
                await asyncio.sleep(0.5)  # slow, but answers
                writer.write(b"250 queued\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                return
            else:
                writer.write(b"250 ok\r\n")

    return serve


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["stall", "hang-up", "slow"])
async def test_stalled_or_vanished_servers_cost_bounded_time(mode: str) -> None:
    commands: list[bytes] = []
    writers: list[asyncio.StreamWriter] = []
    server = await asyncio.start_server(_script(mode, commands, writers), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    deadline = 12.0
    started = time.monotonic()
    try:
        run = await run_smuggling_check(
            "127.0.0.1",
            recipient=TO,
            options=_options(port, deadline=deadline, command_timeout=1.0),
        )
    finally:
        await close_servers([server], writers)
    took = time.monotonic() - started
    assert took < deadline + 2.0
    judgement = judge(run)
    if mode == "slow":
        assert judgement.verdict is Verdict.NOT_VULNERABLE
        assert run.session.exchanges[-1].phase == "QUIT"
    else:
        assert judgement.verdict is Verdict.INCONCLUSIVE
        assert judgement.status is Status.UNKNOWN
        # Never RSET or QUIT written into DATA that did not end: the connection is dropped.
        assert not any(
            ex.phase in ("RSET", "QUIT") and ex.started > 0
            for ex in run.session.exchanges
            if ex.error is not None
        )
    assert all(t.exchanges or t.skipped for t in run.trials)


# -- the CLI ------------------------------------------------------------------------------


def test_the_check_refuses_to_run_without_to(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(capsys, "send", "127.0.0.1:1", "--smuggling-check", "--tls", "none")
    assert code == 3 and out == ""
    assert "--to" in err and "servers you operate" in err


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (("--to", "a@mx.test", "--to", "b@mx.test"), "--to once"),
        (("--to", "a@mx.test", "--subject", "x"), "--subject shapes a message"),
        (("--to", "a@mx.test", "--data", "-"), "--data shapes a message"),
        (("--to", "a@mx.test\r\nRCPT TO:<b@example.net>"), "--to"),
        (("--to", "postmaster"), "not an address"),
        (("--to", "a@mx.test", "--from", "x y@mx.test"), "--from"),
    ],
)
def test_the_check_sends_to_one_address_and_no_message_of_its_own(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], words: str
) -> None:
    code, out, err = run_main(capsys, "send", "127.0.0.1:1", "--smuggling-check", *argv)
    assert code == 3 and out == "" and words in err


def test_expect_smuggling_needs_the_check(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(
        capsys,
        "send",
        "127.0.0.1:1",
        "--to",
        "a@mx.test",
        "--from",
        "",
        "--expect-smuggling",
        "not-vulnerable",
    )
    assert code == 3 and "--smuggling-check" in err


# -- the private Postfix ------------------------------------------------------------------


def _knows_forbid_bare_newline() -> bool:
    try:
        found = subprocess.run(
            ["postconf", "-d", "smtpd_forbid_bare_newline"],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return False
    return found.returncode == 0 and "=" in found.stdout


def _needs_the_option() -> None:
    """Postfix 3.5.23/3.6.13/3.7.9/3.8.4 and later (Debian 12 has it): older ones cannot be
    told to refuse bare LF, and the three verdicts cannot be shown."""
    if not _knows_forbid_bare_newline():
        missing("this Postfix has no smtpd_forbid_bare_newline")


@pytest.mark.slow
@pytest.mark.postfix
@pytest.mark.parametrize(
    ("postfix_server", "verdict", "code"),
    [
        pytest.param({"smtpd_forbid_bare_newline": "no"}, "vulnerable", 2, id="no"),
        pytest.param({"smtpd_forbid_bare_newline": "yes"}, "not-vulnerable", 0, id="yes"),
        pytest.param({"smtpd_forbid_bare_newline": "reject"}, "rejects-bare-lf", 0, id="reject"),
    ],
    indirect=["postfix_server"],
)
def test_postfix_verdicts_follow_smtpd_forbid_bare_newline(
    postfix_server: PostfixInstance,
    verdict: str,
    code: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _needs_the_option()
    target = f"{postfix_server.host}:{postfix_server.port}"
    status, out, _ = run_main(
        capsys,
        "send",
        target,
        "--smuggling-check",
        "--to",
        "alice@postfix.test",
        "--tls",
        "none",
        "--format",
        "json",
        "--expect-smuggling",
        "not-vulnerable",
    )
    found = json.loads(out)["findings"]
    assert found["smuggling"]["verdict"] == verdict, postfix_server.log_tail()
    assert status == code
    ended = found["smuggling"]["ended_early"]
    if verdict == "vulnerable":
        # Postfix < 3.9 with "no" reads a bare LF as a line end (smtp_stream.c), so the
        # three LF candidates end DATA and the CR ones are one line of content.
        assert ended == ["lf-dot-lf", "lf-dot-crlf", "crlf-dot-lf"]
        assert found["smuggling"]["reason"] == "vulnerable"
        assert found["smuggling"]["params"]["vendor"] == "postfix"
        assert "CVE-2023-51764" in found["smuggling"]["advice"]
        assert "smtpd_forbid_bare_newline = normalize" in found["smuggling"]["advice"]
        assert found["expect-smuggling"]["status"] == "critical"
    else:
        assert ended == [] and found["expect-smuggling"]["status"] == "ok"


@pytest.mark.slow
@pytest.mark.postfix
@pytest.mark.parametrize("postfix_server", [{"smtpd_forbid_bare_newline": "no"}], indirect=True)
def test_the_transcript_shows_bare_cr_and_lf(
    postfix_server: PostfixInstance, capsys: pytest.CaptureFixture[str]
) -> None:
    _needs_the_option()
    target = f"{postfix_server.host}:{postfix_server.port}"
    status, out, _ = run_main(
        capsys,
        "send",
        target,
        "--smuggling-check",
        "--to",
        "alice@postfix.test",
        "--tls",
        "none",
        "--lang",
        "id",
    )
    assert status == 2
    assert "\\n.\\nMAIL FROM:<>\\r\\n" in out  # the bytes as sent, visibly
    assert "rentan" in out and "smtpd_forbid_bare_newline" in out
