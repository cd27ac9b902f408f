"""--users-file, --delay, --command and --expect-reply, through the CLI against personas
and scripted servers."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.hostile import BANNER, converse, read_command, run_cli, serve_in_thread
from tests.ports import ServerAddress

Serve = Callable[..., ServerAddress]


def names_file(tmp_path: Path, *names: str) -> str:
    path = tmp_path / "users.txt"
    path.write_text("# people to check\n" + "\n".join(names) + "\n\n", encoding="utf-8")
    return str(path)


def users(doc: dict[str, object], check: str = "vrfy") -> dict[str, object]:
    found = doc["findings"][check]  # type: ignore[index]
    return {u["name"]: u["exists"] for u in found["users"]}  # type: ignore[index]


def test_a_disclosing_server_tells_which_names_exist(
    capsys: pytest.CaptureFixture[str],
    threaded_smtp_server: Serve,
    tmp_path: Path,
) -> None:
    server = threaded_smtp_server("disclosing")
    path = names_file(tmp_path, "alice", "bob", "carol")
    run = run_cli(
        capsys,
        "probe",
        f"{server.host}:{server.port}",
        "--users-file",
        path,
        "--format",
        "json",
        "--timeout",
        "10",
    )
    doc = run.json()
    assert doc["findings"]["vrfy"]["verdict"] == "disclosing"
    assert users(doc) == {"alice": True, "bob": False, "carol": False}
    text = run_cli(
        capsys, "probe", f"{server.host}:{server.port}", "--users-file", path, "--timeout", "10"
    ).out
    assert "Names checked" in text and "exists (250)" in text and "unknown (550)" in text


def test_a_hiding_server_claims_nothing_about_names(
    capsys: pytest.CaptureFixture[str],
    threaded_smtp_server: Serve,
    tmp_path: Path,
) -> None:
    """252 for everyone: no name is said to exist or not, and the report says why."""
    server = threaded_smtp_server("hidden")
    path = names_file(tmp_path, "alice", "bob")
    doc = run_cli(
        capsys, "probe", f"{server.host}:{server.port}", "--users-file", path, "--format", "json"
    ).json()
    assert doc["findings"]["vrfy"]["verdict"] == "hidden"
    assert set(users(doc).values()) == {None}
    assert doc["findings"]["vrfy"]["users_known"] is False
    text = run_cli(capsys, "probe", f"{server.host}:{server.port}", "--users-file", path).out
    assert "say nothing about who exists" in " ".join(text.split())


def test_user_given_with_the_file_is_asked_too(
    capsys: pytest.CaptureFixture[str],
    threaded_smtp_server: Serve,
    tmp_path: Path,
) -> None:
    server = threaded_smtp_server("disclosing")
    doc = run_cli(
        capsys,
        "probe",
        f"{server.host}:{server.port}",
        "--user",
        "postmaster",
        "--users-file",
        names_file(tmp_path, "bob"),
        "--format",
        "json",
    ).json()
    assert users(doc) == {"postmaster": True, "bob": False}


def _hangs_up_after(errors: int) -> Callable[..., object]:
    """Exim/Postfix style: after *errors* refusals a connection is closed with 421."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(BANNER)
        refused = 0
        while (command := await read_command(reader)) is not None:
            verb = command.split(b" ")[0].upper()
            if verb == b"EHLO":
                reply = b"250 mx.hostile.test\r\n"
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                return
            elif verb == b"VRFY" and b"alice" in command:
                reply = b"250 2.1.5 <alice@mx.hostile.test>\r\n"
            elif verb == b"VRFY":
                refused += 1
                if refused > errors:
                    writer.write(b"421 4.7.0 mx.hostile.test Error: too many errors\r\n")
                    await writer.drain()
                    return
                reply = b"550 5.1.1 User unknown\r\n"
            else:
                reply = b"250 OK\r\n"
            writer.write(reply)
            await writer.drain()

    return script


def test_a_server_that_hangs_up_after_errors_is_reconnected(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    names = names_file(tmp_path, "bob", "carol", "dave", "erin", "alice")
    with serve_in_thread(_hangs_up_after(2)) as server:
        doc = run_cli(
            capsys,
            "probe",
            server.target,
            "--users-file",
            names,
            "--only",
            "vrfy",
            "--format",
            "json",
            "--timeout",
            "15",
        ).json()
        connections = server.connections
    assert connections >= 2
    found = users(doc)
    assert found["alice"] is True and found["bob"] is False
    assert set(found) == {"bob", "carol", "dave", "erin", "alice"}


@pytest.mark.slow
def test_delay_is_kept_between_names(
    capsys: pytest.CaptureFixture[str], threaded_smtp_server: Serve, tmp_path: Path
) -> None:
    server = threaded_smtp_server("hidden")
    run = run_cli(
        capsys,
        "probe",
        f"{server.host}:{server.port}",
        "--only",
        "vrfy",
        "--users-file",
        names_file(tmp_path, "a1", "b2", "c3"),
        "--delay",
        "0.2",
    )
    assert run.code == 0
    assert run.elapsed >= 0.2 * 4 * 0.9  # three names and the control, each after a pause


@pytest.mark.parametrize("line", ["bad name", "x\x1by"])
def test_a_bad_line_in_the_users_file_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    line: str,
) -> None:
    path = names_file(tmp_path, "alice", line)
    run = run_cli(capsys, "probe", "127.0.0.1:9", "--users-file", path)
    assert run.code == 3 and "--users-file line" in run.err


def test_custom_commands_are_sent_explained_and_judged(
    capsys: pytest.CaptureFixture[str],
) -> None:
    script = functools.partial(
        converse, replies={b"ETRN": b"250 Queuing started\r\n", b"XSTA": b"500 5.5.2 unknown\r\n"}
    )
    with serve_in_thread(script) as server:
        ok = run_cli(
            capsys,
            "probe",
            server.target,
            "--command",
            "ETRN example.org",
            "--expect-reply",
            "^250",
            "--format",
            "json",
        )
        bad = run_cli(
            capsys,
            "probe",
            server.target,
            "--command",
            "ETRN example.org",
            "--command",
            "XSTA",
            "--expect-reply",
            "^250",
            "--expect-reply",
            "^2",
            "--format",
            "json",
        )
        heard = list(server.commands)
    assert b"ETRN example.org" in heard and b"XSTA" in heard
    good = ok.json()
    assert good["findings"]["expect-reply"]["status"] == "ok"
    assert any(e["command"] == "ETRN example.org" and e["meaning"] for e in good["exchanges"])
    failed = bad.json()["findings"]["expect-reply"]
    assert failed["status"] == "critical" and failed["params"]["command"] == "XSTA"
    assert bad.code == 2 and json.dumps(failed["results"])


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--command", "DATA"], "--command DATA"),
        (["--command", "QUIT"], "--command QUIT"),
        (["--command", "ETRN\x1bx"], "--command"),
        (["--expect-reply", "^250"], "--expect-reply"),
        (["--command", "NOOP", "--expect-reply", "("], "--expect-reply"),
    ],
)
def test_bad_custom_commands_are_usage_errors(
    capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    run = run_cli(capsys, "probe", "127.0.0.1:9", *argv)
    assert run.code == 3 and needle in run.err
