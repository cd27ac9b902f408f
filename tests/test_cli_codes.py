"""``smtpprobe codes``: the reference table, filtered by class and text, through the CLI."""

from __future__ import annotations

import json
from typing import Any

import pytest

from smtpprobe import kb as knowledge
from tests.cli import run_main, set_plain_english


@pytest.fixture(autouse=True)
def _english_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    set_plain_english(monkeypatch)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    return run_main(capsys, "codes", *argv)


def codes_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    code, out, err = run(capsys, "--format", "json", *argv)
    assert (code, err) == (0, "")
    document: dict[str, Any] = json.loads(out)
    assert document["schema_version"] == 1 and document["count"] == len(document["codes"])
    return document


def test_every_basic_code_in_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    kb = knowledge.load("en")
    code, out, err = run(capsys)
    assert (code, err) == (0, "")
    rows = {line.split()[0]: line for line in out.splitlines() if line[:3].isdigit()}
    assert set(rows) == {entry.key for entry in kb.basic_entries()}
    assert rows["252"].split(None, 2)[1:] == ["2xx", kb.basic(252).title]
    assert "2xx Positive Completion" in out and "5xx Permanent Negative Completion" in out
    assert max(len(line) for line in out.splitlines()) <= 80


def test_class_filter(capsys: pytest.CaptureFixture[str]) -> None:
    document = codes_json(capsys, "--class", "4")
    assert document["registry"] == "basic" and document["class"] == 4
    assert document["codes"] and all(c["code"].startswith("4") for c in document["codes"])
    assert all(c["class"]["digit"] == 4 for c in document["codes"])
    everything = codes_json(capsys)
    assert document["count"] == sum(c["code"].startswith("4") for c in everything["codes"])


def test_enhanced_registry(capsys: pytest.CaptureFixture[str]) -> None:
    kb = knowledge.load("en")
    document = codes_json(capsys, "--enhanced")
    assert document["registry"] == "enhanced"
    assert [c["code"] for c in document["codes"]] == [e.key for e in kb.enhanced_entries()]
    assert all(c["class"] is None and c["subject"]["digit"] >= 0 for c in document["codes"])
    code, out, _ = run(capsys, "--enhanced")
    assert code == 0 and "X.1.1" in out and "x.7.x Security or Policy Status" in out


def test_enhanced_registry_with_a_class(capsys: pytest.CaptureFixture[str]) -> None:
    document = codes_json(capsys, "--enhanced", "--class", "5")
    assert all(c["code"].startswith("5.") for c in document["codes"])
    assert {c["class"]["name"] for c in document["codes"]} == {"Permanent Failure"}


def test_search_is_case_insensitive(capsys: pytest.CaptureFixture[str]) -> None:
    lower = codes_json(capsys, "--search", "verify")
    upper = codes_json(capsys, "--search", "VERIFY")
    assert lower["codes"] == upper["codes"] and lower["search"] == "verify"
    assert "252" in [c["code"] for c in lower["codes"]]
    # Every text of an entry is searched now, so a match may be in "when" or "fix" too;
    # the title/description matches are still all there.
    everything = codes_json(capsys)["codes"]
    in_title = {
        c["code"]
        for c in everything
        if "verify" in (c["code"] + c["title"] + c["description"]).lower()
    }
    assert in_title <= {c["code"] for c in lower["codes"]}


def test_search_by_code(capsys: pytest.CaptureFixture[str]) -> None:
    document = codes_json(capsys, "--enhanced", "--search", "x.7.26")
    assert "X.7.26" in [c["code"] for c in document["codes"]]


def test_search_without_match(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--search", "no such words anywhere")
    assert code == 0 and "No code matches" in out
    assert codes_json(capsys, "--search", "no such words anywhere")["codes"] == []


def test_indonesian(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--lang", "id", "--class", "2")
    header = next(
        line for line in out.splitlines() if line.split()[:1] == ["Kode"] and "Judul" in line
    )
    assert code == 0 and header.split() == ["Kode", "Kelas", "Judul"]
    assert out.startswith("Kode balasan SMTP")
    assert knowledge.load("id").basic(252).title in out


@pytest.mark.parametrize(
    "argv", [["--class", "7"], ["--class", "1"], ["--enhanced", "--class", "3"], ["--class", "x"]]
)
def test_bad_class_exits_3(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 3 and out == "" and "Traceback" not in err
    assert err.startswith("smtpprobe: error: ") or "Error: Invalid value" in err


def test_search_reads_every_text_and_pattern_wordings(capsys: pytest.CaptureFixture[str]) -> None:
    """`relay` is in the 454/550/554 texts and the relay patterns seen with those codes."""
    relay = [row["code"] for row in codes_json(capsys, "--search", "relay")["codes"]]
    assert {"454", "550", "554"} <= set(relay)
    unknown = [row["code"] for row in codes_json(capsys, "--search", "user unknown")["codes"]]
    assert "550" in unknown
    enhanced = [
        row["code"] for row in codes_json(capsys, "--enhanced", "--search", "user unknown")["codes"]
    ]
    assert "X.1.1" in enhanced


def test_search_finds_a_code_by_its_fix(capsys: pytest.CaptureFixture[str]) -> None:
    # "smtpd_tls_auth_only" appears only in fix texts of 504 and 538, not in titles.
    found = [row["code"] for row in codes_json(capsys, "--search", "smtpd_tls_auth_only")["codes"]]
    assert "538" in found
