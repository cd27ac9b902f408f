"""``smtpprobe compare``: the seed page (211 vs 252) for any two codes, through the CLI."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from smtpprobe import kb as knowledge
from tests.cli import run_main, set_plain_english

EN_HEADINGS = (
    "Description",
    "When you see it",
    "How to fix",
    "Key differences",
    "When to use which",
    "Learn more",
)
ID_HEADINGS = (
    "Deskripsi",
    "Ketika Anda Melihatnya",
    "Cara Memperbaiki",
    "Perbedaan Utama",
    "Kapan Menggunakan Yang Mana",
    "Pelajari Lebih Lanjut",
)


@pytest.fixture(autouse=True)
def _english_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    set_plain_english(monkeypatch)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    return run_main(capsys, "compare", *argv)


def flat(text: str) -> str:
    return " ".join(text.split())


def positions(out: str, needles: list[str]) -> list[int]:
    """Where each needle first appears after the previous one (-1 when it does not)."""
    found, start = [], 0
    for needle in needles:
        at = out.find(needle, start)
        found.append(at)
        start = max(at, start) + 1
    return found


def test_seed_page_211_vs_252(capsys: pytest.CaptureFixture[str]) -> None:
    """Every section of the seed page, in its order, with every fact the KB holds."""
    kb = knowledge.load("en")
    a, b = kb.basic(211), kb.basic(252)
    code, out, err = run(capsys, "211", "252")
    assert (code, err) == (0, "")
    assert out.startswith("SMTP 211 System Status vs 252 Cannot Verify User\n")
    order = [
        "Both SMTP 211 (System Status) and 252 (Cannot Verify User) belong to the 2xx",
        "\nSMTP 211 System Status\n",
        "\nDescription\n",
        "\nWhen you see it\n",
        "\nHow to fix\n",
        "\nSMTP 252 Cannot Verify User\n",
        "\nDescription\n",
        "\nWhen you see it\n",
        "\nHow to fix\n",
        "\nKey differences\n",
        "\n1. 211 answers HELP. 252 answers VRFY",
        "\n2. ",
        "\n3. Neither signals a problem.",
        "\n4. Next step after 211: ",
        "\nWhen to use which\n",
        "\nExpect 211: ",
        "\nLearn more\n",
    ]
    assert -1 not in positions(out, order)
    text = flat(out)
    assert "belong to the 2xx Positive Completion category." in text
    for entry in (a, b):
        for fact in (entry.description, entry.when, entry.fix):
            assert flat(fact) in text or flat(fact[1:]) in text
        # Printed once, in the code's own section: the differences are contrasts, not copies.
        assert text.count(flat(entry.description)) == 1
        for reference in entry.references:
            assert f"- {reference}" in out
    assert "211 and 252 means the command succeeded" in text
    for fact in ("No fix needed", "attempt delivery", "VRFY", "HELP", "bounce"):
        assert fact in text
    assert max(len(line) for line in out.splitlines()) <= 80


def test_differences_are_contrasts(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--format", "json", "250", "550")
    assert code == 0
    first, outcome, problem, step = json.loads(out)["key_differences"]
    assert "250 answers" in first and "EHLO" in first and "550 answers" in first
    assert "succeeded" in outcome and "permanent failure" in outcome
    assert problem == "Only 550 signals a problem."
    assert step.startswith("Next step after 250: ") and "After 550: " in step
    code, out, _ = run(capsys, "--format", "json", "421", "550")
    differences = json.loads(out)["key_differences"]
    assert "421 may answer any command" in differences[0]
    assert "temporary failure" in differences[1] and differences[2] == "Both signal a problem."


@pytest.mark.parametrize("argv", [["211", "211"], ["5.1.1", "5.1.1"], ["X.7.1", "x.7.1"]])
def test_the_same_code_twice_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 3 and out == ""
    assert "same code" in err and len(err.splitlines()) == 2 and "Traceback" not in err


def test_seed_page_in_indonesian(capsys: pytest.CaptureFixture[str]) -> None:
    kb = knowledge.load("id")
    code, out, _ = run(capsys, "--lang", "id", "211", "252")
    assert code == 0
    assert -1 not in positions(
        out, [f"\n{h}\n" for h in ID_HEADINGS[:3]] * 2 + [f"\n{h}\n" for h in ID_HEADINGS[3:]]
    )
    assert not any(f"\n{heading}\n" in out for heading in EN_HEADINGS)
    assert flat(kb.basic(252).description)[1:] in flat(out)
    assert "termasuk kategori 2xx" in flat(out)


def test_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--format", "json", "211", "252")
    assert (code, err) == (0, "")
    document: dict[str, Any] = json.loads(out)
    assert document["schema_version"] == 1
    assert document["title"] == "SMTP 211 System Status vs 252 Cannot Verify User"
    assert [c["code"] for c in document["codes"]] == [211, 252]
    assert [c["kind"] for c in document["codes"]] == ["code", "code"]
    assert len(document["key_differences"]) == 4 and len(document["when_to_use"]) == 2
    assert document["intro"].startswith("Both SMTP 211 (System Status) and 252")
    references = {item["reference"]: item["codes"] for item in document["learn_more"]}
    kb = knowledge.load("en")
    for code_, entry in (("211", kb.basic(211)), ("252", kb.basic(252))):
        assert all(code_ in references[ref] for ref in entry.references)


def test_enhanced_codes_of_one_class(capsys: pytest.CaptureFixture[str]) -> None:
    kb = knowledge.load("en")
    code, out, _ = run(capsys, "5.1.1", "5.1.2")
    assert code == 0
    assert (
        f"Both 5.1.1 ({kb.enhanced('X.1.1').title}) and 5.1.2 "
        f"({kb.enhanced('X.1.2').title}) belong to the 5.x.x Permanent Failure category."
    ) in flat(out)


def test_codes_of_different_classes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "250", "550")
    assert code == 0
    assert re.search(
        r"belongs to the 2xx Positive Completion category, while 550 \(.*?\) "
        r"belongs to the 5xx Permanent Negative Completion category",
        flat(out),
    )


def test_basic_against_enhanced(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--format", "json", "550", "X.1.1")
    document = json.loads(out)
    assert code == 0 and [c["kind"] for c in document["codes"]] == ["code", "enhanced"]


@pytest.mark.parametrize(
    "argv", [["211", "hello"], ["999", "252"], ["211", "6.1.1"], ["550 5.1.1 User unknown", "252"]]
)
def test_bad_codes_exit_3(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 3 and out == "" and err.startswith("smtpprobe: error: ")
    assert len(err.splitlines()) <= 2 and "Traceback" not in err


def test_missing_second_code_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "211")
    assert code == 3 and out == "" and "Missing argument" in err
