"""The corpus of real replies (fixtures/replies): every entry is read specifically, the same
way by ``explain`` and ``annotate``, in both languages."""

from __future__ import annotations

import json

import pytest

from smtpprobe.kb import load
from tests.cli import run_main
from tests.reply_corpus import (
    Entry,
    is_specific,
    load_corpus,
    postfix_log_line,
    read_logged,
    read_pasted,
)

ENTRIES = load_corpus()
REAL = [entry for entry in ENTRIES if not entry.vague]


def _id(entry: Entry) -> str:
    return f"{entry.file}:{entry.expect}:{' '.join(entry.text.split())[:40]}"


def test_corpus_is_large_distinct_and_sourced() -> None:
    texts = {" ".join(entry.text.split()) for entry in REAL}
    assert len(texts) == len(REAL) >= 200
    assert all(entry.source.strip() for entry in ENTRIES)
    assert all(
        entry.advice or entry.expect.startswith("enhanced:") or entry.command == "VRFY"
        for entry in REAL
    )
    families = {entry.file for entry in REAL}
    assert {
        "gmail.toml",
        "microsoft.toml",
        "yahoo.toml",
        "postfix.toml",
        "exim.toml",
        "sendmail.toml",
    } <= families


@pytest.mark.parametrize("entry", REAL, ids=_id)
def test_explain_and_annotate_read_it_specifically(entry: Entry) -> None:
    kb = load("en")
    pasted, logged = read_pasted(entry, kb), read_logged(entry, kb)
    assert is_specific(entry, pasted), (pasted.basis, pasted.fix)
    assert is_specific(entry, logged), logged
    # One reading everywhere: the log line and the pasted reply say the same.
    assert logged is not None and (logged.basis, logged.meaning) == (pasted.basis, pasted.meaning)


@pytest.mark.parametrize("entry", REAL[::7], ids=_id)
def test_indonesian_reads_the_same(entry: Entry) -> None:
    english, indonesian = read_pasted(entry, load("en")), read_pasted(entry, load("id"))
    assert indonesian.basis == english.basis
    assert indonesian.meaning and indonesian.meaning != english.meaning


def test_vague_replies_are_read_by_their_codes() -> None:
    """Replies whose text names no cause ("550 Denied by policy") get the code's reading."""
    kb = load("en")
    vague = [entry for entry in ENTRIES if entry.vague]
    assert vague
    for entry in vague:
        assert not read_pasted(entry, kb).basis.startswith("pattern:"), entry.text


@pytest.mark.slow
def test_annotate_cli_reads_the_whole_corpus(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "mail.log"
    log.write_text("".join(postfix_log_line(entry) + "\n" for entry in REAL), "utf-8")
    code, out, err = run_main(capsys, "annotate", "--format", "json", str(log))
    assert code in (0, 1, 2) and "Traceback" not in err
    records = [json.loads(line) for line in out.splitlines() if line.strip()]
    bases = [record["basis"] for record in records if record["type"] == "reply"]
    expected = [
        f"pattern:{e.expect}" if not e.expect.startswith("enhanced:") else "enhanced" for e in REAL
    ]
    assert bases == expected


def test_explain_cli_reads_wrapped_gmail_and_postfix_forms(
    capsys: pytest.CaptureFixture[str],
) -> None:
    wrapped = next(e for e in REAL if e.expect == "gmail-dmarc" and e.text.count("\n") > 3)
    for text in (wrapped.text, " ".join(wrapped.text.splitlines()), wrapped.text.splitlines()[0]):
        code, out, err = run_main(capsys, "explain", "--format", "json", text)
        assert (code, err) == (0, "")
        assert '"gmail-dmarc"' in out
