"""Running the CLI in-process the way a user would, in a known locale and width."""

from __future__ import annotations

import pytest

from smtpprobe.cli import main


def set_plain_english(monkeypatch: pytest.MonkeyPatch) -> None:
    """English, 80 columns, colour rules untouched by the caller's environment."""
    for name in ("LC_ALL", "LC_MESSAGES", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.setenv("COLUMNS", "80")


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``smtpprobe ARGV…`` through `smtpprobe.cli.main`: exit code, stdout, stderr."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err
