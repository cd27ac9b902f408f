"""Output that survives any locale and any terminal: ISO-8859-1, bidi and zero-width server
text, broken pipes, closed or full stdout and stderr, an unwritable ``--junit``.

The ISO-8859-1 locale is built by the test itself with ``localedef`` into a temporary
``LOCPATH`` (``scripts/setup.sh test`` installs Debian's ``locales`` for it).
"""

from __future__ import annotations

import ast
import functools
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from smtpprobe.render.doc import visible
from smtpprobe.render.json_text import json_text
from tests import hostile
from tests.cli import set_plain_english
from tests.hostile import run_cli, serve_in_thread
from tests.requirements import missing

# Trojan Source (CVE-2021-42574) and friends: RLO, LRI/RLI/FSI/PDI, ZWSP…RLM, LS, PS, BOM.
INVISIBLE = "\u202e\u2066\u2067\u2068\u2069\u200b\u200c\u200d\u200e\u200f\u2028\u2029\ufeff\u061c"
BANNER = ("220 mx.hostile.test ESMTP caf\u00e9 \u2014 " + INVISIBLE + " gnp.exe\r\n").encode()
SRC = Path(__file__).resolve().parents[1] / "src" / "smtpprobe"


def _banner_script() -> hostile.Script:
    return functools.partial(hostile.converse, banner=BANNER)


# -- one escaper for each kind of output -----------------------------------------------------


@pytest.mark.parametrize("char", list(INVISIBLE) + ["\x1b", "\x9b", "\x7f"])
def test_visible_spells_out_every_invisible_character(char: str) -> None:
    shown = visible(f"a{char}b")
    assert char not in shown and shown.startswith("a\\") and shown.endswith("b")


@pytest.mark.parametrize("char", list(INVISIBLE) + ["\x9b", "\x7f", "\x1b"])
def test_json_text_escapes_them_and_round_trips(char: str) -> None:
    for ascii_only in (False, True):
        text = json_text({"t": f"a{char}b"}, ascii_only=ascii_only)
        assert char not in text
        assert json.loads(text) == {"t": f"a{char}b"}


@pytest.mark.slow
def test_no_module_but_json_text_writes_json() -> None:
    """One JSON escaper: every json.dumps in src/ is in render/json_text.py."""
    offenders = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ("dumps", "dump")
                and isinstance(node.value, ast.Name)
                and node.value.id == "json"
                and path.name != "json_text.py"
            ):
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert offenders == []


def test_server_bidi_and_zero_width_are_inert_in_every_view(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    set_plain_english(monkeypatch)
    outputs = {}
    with serve_in_thread(_banner_script()) as server:
        for output_format in ("text", "json", "nagios", "junit"):
            run = run_cli(
                capsys,
                "probe",
                server.target,
                "--tls",
                "none",
                "--timeout",
                "5",
                "--only",
                "noop",
                "--format",
                output_format,
                "-v",
            )
            assert "internal error" not in run.err
            outputs[output_format] = run.out
            outputs[f"{output_format} -v"] = run.err
    for name, text in outputs.items():
        for char in INVISIBLE:
            assert char not in text, f"raw U+{ord(char):04X} in {name}"
    assert "\\u202e" in outputs["text"] and "caf\u00e9 \u2014" in outputs["text"]
    document = json.loads(outputs["json"])
    assert INVISIBLE in document["exchanges"][0]["reply"]["lines"][0]  # carried as data


# -- a locale that is not UTF-8 --------------------------------------------------------------


@pytest.fixture(scope="module")
def latin1(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of an ISO-8859-1 locale, built here with localedef."""
    localedef = shutil.which("localedef")
    if localedef is None:
        missing("localedef is missing: run scripts/setup.sh test (Debian's locales)")
    folder = tmp_path_factory.mktemp("locales")
    subprocess.run(
        [localedef, "-i", "en_US", "-f", "ISO-8859-1", str(folder / "en_US.ISO-8859-1")],
        check=True,
        capture_output=True,
    )
    env = {
        **os.environ,
        "LOCPATH": str(folder),
        "LC_ALL": "en_US.ISO-8859-1",
        "NO_COLOR": "1",
        "COLUMNS": "80",
    }
    env.pop("PYTHONIOENCODING", None)
    env.pop("PYTHONUTF8", None)
    probe = subprocess.run(
        [sys.executable, "-c", "import sys; print(sys.stdout.encoding)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip().lower() in ("iso8859-1", "iso-8859-1", "latin-1")
    return env


def _run(env: dict[str, str], *argv: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "smtpprobe", *argv],
        env=env,
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "argv",
    [
        ("explain", "252"),
        ("explain", "252", "5.7.26"),
        ("compare", "211", "252"),
        ("codes",),
        ("explain", "--lang", "id", "550"),
    ],
)
def test_text_under_latin1_falls_back_to_replacement(
    latin1: dict[str, str], argv: tuple[str, ...]
) -> None:
    result = _run(latin1, *argv)
    assert result.returncode == 0, result.stderr
    assert b"Traceback" not in result.stderr and result.stderr == b""
    result.stdout.decode("latin-1")  # it is Latin-1 text (with ? for what Latin-1 lacks)


@pytest.mark.slow
@pytest.mark.parametrize(
    "argv",
    [
        ("explain", "252", "--format", "json"),
        ("compare", "211", "252", "--format", "json"),
        ("codes", "--format", "json"),
        ("explain", "--lang", "id", "550", "--format", "json"),
    ],
)
def test_json_under_latin1_is_valid_ascii_json(
    latin1: dict[str, str], argv: tuple[str, ...]
) -> None:
    result = _run(latin1, *argv)
    assert result.returncode == 0, result.stderr
    assert result.stdout.isascii()
    json.loads(result.stdout.decode("ascii"))


@pytest.mark.slow
def test_annotate_under_latin1(latin1: dict[str, str]) -> None:
    log = "S: 220 caf\u00e9 \u2014 ready\nC: VRFY bob\nS: 252 \u2026 maybe\n".encode()
    for output_format in ("text", "json"):
        result = _run(latin1, "annotate", "-", "--format", output_format, stdin=log)
        assert result.returncode == 0 and result.stderr == b"", result.stderr
    records = [json.loads(line) for line in result.stdout.decode("ascii").splitlines()]
    assert records[0]["text"] == "220 caf\u00e9 \u2014 ready"


@pytest.mark.slow
def test_probe_under_latin1_in_every_format(latin1: dict[str, str]) -> None:
    with serve_in_thread(_banner_script()) as server:
        results = {
            f: _run(
                latin1,
                "probe",
                server.target,
                "--tls",
                "none",
                "--timeout",
                "5",
                "--only",
                "noop",
                "--format",
                f,
            )
            for f in ("text", "json", "nagios", "junit")
        }
    for name, result in results.items():
        assert result.returncode == 0, (name, result.stderr)
        assert b"Traceback" not in result.stderr and b"internal error" not in result.stderr
    assert json.loads(results["json"].stdout)["exchanges"][0]["reply"]["lines"][0].startswith(
        "mx.hostile.test ESMTP caf\u00e9 \u2014"
    )
    root = ET.fromstring(results["junit"].stdout)  # well-formed: bytes as they were written
    assert root.tag == "testsuites"


# -- pipes, closed and full streams ----------------------------------------------------------


@pytest.fixture()
def big_log(tmp_path: Path) -> Iterator[Path]:
    log = tmp_path / "big.log"
    line = (
        "Nov 28 mx postfix/smtp[1]: A: to=<a@b>, relay=x, dsn=5.1.1, status=bounced (host "
        "mx[192.0.2.1] said: 550 5.1.1 user unknown (in reply to RCPT TO command))\n"
    )
    log.write_text(line * 20_000, encoding="utf-8")
    yield log


@pytest.mark.slow
@pytest.mark.parametrize("output_format", ["text", "json"])
def test_a_reader_that_goes_away_is_no_error(big_log: Path, output_format: str) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "smtpprobe", "annotate", str(big_log), "--format", output_format],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.readline()  # `| head -1`
    process.stdout.close()
    with process.stderr:
        err = process.stderr.read()
    assert process.wait(timeout=60) == 3  # UNKNOWN: the output did not reach anyone
    assert err == b""  # no traceback, no "internal error", no "Exception ignored"


@pytest.mark.slow
def test_a_closed_stdout_is_no_error() -> None:
    # `smtpprobe explain 252 >&-`: Python starts without a stdout (sys.stdout is None).
    result = subprocess.run(
        ["sh", "-c", f"exec {sys.executable} -m smtpprobe explain 252 >&-"],
        stderr=subprocess.PIPE,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0 and result.stderr == b""


@pytest.mark.slow
def test_a_stdout_closed_under_the_run_is_one_line_and_unknown() -> None:
    code = (
        "import os, sys; os.close(1); from smtpprobe.cli import main; "
        "sys.exit(main(['explain', '252']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        stderr=subprocess.PIPE,
        timeout=60,
        check=False,
        env={**os.environ, "LANG": "C.UTF-8"},
    )
    assert result.returncode == 3
    assert result.stderr == b"smtpprobe: error: cannot write the output: Bad file descriptor\n"


@pytest.mark.slow
def test_a_full_stdout_is_one_line_and_unknown() -> None:
    with open("/dev/full", "wb") as full:
        result = subprocess.run(
            [sys.executable, "-m", "smtpprobe", "codes"],
            stdout=full,
            stderr=subprocess.PIPE,
            timeout=60,
            check=False,
            env={**os.environ, "LANG": "C.UTF-8"},
        )
    assert result.returncode == 3
    assert result.stderr.decode().splitlines() == [
        "smtpprobe: error: cannot write the output: No space left on device"
    ]


@pytest.mark.slow
def test_a_full_stderr_keeps_the_exit_code() -> None:
    with open("/dev/full", "wb") as full:
        result = subprocess.run(
            [sys.executable, "-m", "smtpprobe", "explain", "999"],
            stdout=subprocess.PIPE,
            stderr=full,
            timeout=60,
            check=False,
        )
    assert result.returncode == 3 and result.stdout == b""


# -- --junit that cannot be written ----------------------------------------------------------


def test_an_unwritable_junit_is_refused_before_the_probe(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    set_plain_english(monkeypatch)
    path = tmp_path / "missing" / "report.xml"
    with serve_in_thread(hostile.converse) as server:
        run = run_cli(
            capsys, "probe", server.target, "--tls", "none", "--timeout", "5", "--junit", str(path)
        )
    assert run.code == 3
    assert run.out == ""  # no "SMTP OK" first
    assert f"cannot write --junit {path}" in run.err
    assert server.connections == 0


def test_a_junit_write_that_fails_late_prints_nothing_first(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    set_plain_english(monkeypatch)
    with serve_in_thread(hostile.converse) as server:
        run = run_cli(
            capsys,
            "probe",
            server.target,
            "--tls",
            "none",
            "--timeout",
            "5",
            "--junit",
            "/dev/full",
        )
    assert run.code == 3 and run.out == ""
    assert "cannot write --junit /dev/full" in run.err
