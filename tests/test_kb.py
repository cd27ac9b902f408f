"""Completeness of the knowledge base, in the style of sqlite-utils ``test_docs.py``.

Each missing or broken item is its own failure, named by file, language and key.
"""

from __future__ import annotations

import functools
import re
import tomllib
from itertools import combinations
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest

import smtpprobe.kb
from smtpprobe.kb import LANGUAGES, KnowledgeBase, load
from smtpprobe.meaning import Tone

DATA = Path(smtpprobe.kb.__file__).parent / "data"

# docs/reference §1.2: every basic code defined by an RFC.
BASIC_CODES = [
    211,
    214,
    220,
    221,
    235,
    250,
    251,
    252,
    253,
    334,
    354,
    421,
    432,
    450,
    451,
    452,
    454,
    455,
    458,
    459,
    500,
    501,
    502,
    503,
    504,
    521,
    530,
    534,
    535,
    538,
    550,
    551,
    552,
    553,
    554,
    555,
    556,
]
# Codes only in the IANA registry's "associated basic status code" column (reference §1.2).
REGISTRY_ONLY = {
    422: "X.7.12",
    430: "X.5.1",
    453: "X.3.2",
    523: "X.7.10",
    524: "X.7.11",
    525: "X.7.13",
    533: "X.7.1",
}
# docs/reference §2.4: the 81 entries of the IANA enhanced status code registry.
IANA_KEYS = [
    "X.0.0",
    *(f"X.1.{d}" for d in range(11)),
    *(f"X.2.{d}" for d in range(5)),
    *(f"X.3.{d}" for d in range(7)),
    *(f"X.4.{d}" for d in range(8)),
    *(f"X.5.{d}" for d in range(7)),
    *(f"X.6.{d}" for d in range(11)),
    *(f"X.7.{d}" for d in range(31)),
]
TEXT_FIELDS = ("title", "description", "when", "fix")  # plus fix_operator, which may be ""
PAIRED_FILES = ("basic.toml", "enhanced.toml", "context.toml", "patterns.toml", "classes.toml")
TONES = {tone.value for tone in Tone}


@functools.cache
def _load(relative: str) -> dict[str, Any]:
    """A data file as parsed by tomllib (cached: tests only read it)."""
    with (DATA / relative).open("rb") as handle:
        return tomllib.load(handle)


def _load_or_empty(relative: str) -> dict[str, Any]:
    """For building parameters at collection time: a broken file fails its own test instead."""
    try:
        return _load(relative)
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def _ui_files(lang: str) -> list[str]:
    return sorted(p.name for p in (DATA / lang).glob("ui*.toml"))


def _has_rfc(references: list[str] | tuple[str, ...]) -> bool:
    return any("RFC" in ref for ref in references)


@pytest.fixture(params=LANGUAGES)
def kb(request: pytest.FixtureRequest) -> KnowledgeBase:
    return load(request.param)


def test_load_rejects_unknown_language() -> None:
    with pytest.raises(ValueError, match="en, id"):
        load("fr")


def test_iana_key_list_has_81_entries() -> None:
    assert len(IANA_KEYS) == len(set(IANA_KEYS)) == 81
    assert len(BASIC_CODES) == 37


# -- files load (tomllib rejects duplicate keys) -------------------------------------------


@pytest.mark.parametrize("relative", sorted(str(p.relative_to(DATA)) for p in DATA.rglob("*.toml")))
def test_file_loads_without_duplicate_keys(relative: str) -> None:
    assert isinstance(_load(relative), dict)


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize(
    "relative",
    ["basic.toml", "enhanced.toml", "commands.toml", "patterns.toml"]
    + [f"{{lang}}/{name}" for name in PAIRED_FILES]
    + ["{lang}/ui.toml"],
)
def test_file_exists(relative: str, lang: str) -> None:
    assert (DATA / relative.format(lang=lang)).is_file()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_ui_key_in_two_files(lang: str) -> None:
    files = {name: set(_load(f"{lang}/{name}")) for name in _ui_files(lang)}
    clashes = {
        (a, b): sorted(files[a] & files[b])
        for a, b in combinations(files, 2)
        if files[a] & files[b]
    }
    assert clashes == {}


# -- en and id are the same shape ----------------------------------------------------------


def _paths(node: Any, prefix: str = "") -> set[str]:
    """Every table key as a dotted path, down to the field names (not the values)."""
    if not isinstance(node, dict):
        return set()
    found = set()
    for key, value in node.items():
        path = f"{prefix}{key}"
        found.add(path)
        found |= _paths(value, path + ".")
    return found


def test_same_ui_files_in_every_language() -> None:
    assert _ui_files("en") == _ui_files("id")


@pytest.mark.parametrize("name", [*PAIRED_FILES, *_ui_files("en")])
def test_en_and_id_have_the_same_keys(name: str) -> None:
    en, id_ = _paths(_load(f"en/{name}")), _paths(_load(f"id/{name}"))
    # English words a count of one apart (`<key>_one`, `summary-one`); Indonesian does not.
    en = {path for path in en if not path.endswith(("_one", "summary-one"))}
    id_ = {path for path in id_ if not path.endswith(("_one", "summary-one"))}
    assert sorted(en - id_) == [], "missing in id/"
    assert sorted(id_ - en) == [], "missing in en/"


@pytest.mark.parametrize("key", sorted(_load_or_empty("en/context.toml")))
def test_context_tone_is_the_same_in_every_language(key: str) -> None:
    tones = {lang: _load(f"{lang}/context.toml").get(key, {}).get("tone") for lang in LANGUAGES}
    assert tones["en"] in TONES
    assert tones["id"] == tones["en"]


# -- basic codes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status", [s for s in aiosmtplib.SMTPStatus if s != -1], ids=lambda s: f"{int(s)}-{s.name}"
)
def test_every_aiosmtplib_status_has_an_entry(
    status: aiosmtplib.SMTPStatus, kb: KnowledgeBase
) -> None:
    assert kb.has_basic(int(status))


@pytest.mark.parametrize("code", BASIC_CODES)
def test_basic_code_has_a_full_entry(code: int, kb: KnowledgeBase) -> None:
    assert kb.has_basic(code), f"{kb.lang}/basic.toml lacks {code}"
    entry = kb.basic(code)
    assert not entry.synthesized
    for name in TEXT_FIELDS:
        assert getattr(entry, name).strip(), f"{code}.{name} is empty"
    assert isinstance(entry.fix_operator, str)
    assert _has_rfc(entry.references), f"{code} has no RFC reference"


@pytest.mark.parametrize("code", BASIC_CODES)
def test_basic_facts(code: int) -> None:
    facts = _load("basic.toml").get(f"{code:03d}")
    assert facts is not None, f"basic.toml lacks {code}"
    assert _has_rfc(facts.get("references", []))


def test_basic_has_no_entry_outside_the_reference() -> None:
    for name in ("basic.toml", "en/basic.toml", "id/basic.toml"):
        assert sorted(set(_load(name)) - {f"{c:03d}" for c in BASIC_CODES}) == [], name


@pytest.mark.parametrize(("code", "key"), sorted(REGISTRY_ONLY.items()))
def test_registry_only_code_is_synthesized_with_its_enhanced_key(
    code: int, key: str, kb: KnowledgeBase
) -> None:
    entry = kb.basic(code)
    assert entry.synthesized
    assert entry.title.strip()
    assert key in entry.related
    assert key in entry.description
    assert kb.enhanced(key).title in entry.description
    assert _has_rfc(entry.references)


def test_unknown_code_is_synthesized_by_its_digits(kb: KnowledgeBase) -> None:
    entry = kb.basic(299)
    assert entry.synthesized
    assert entry.key == "299"
    assert kb.basic_class(2).name in entry.title
    assert kb.basic_class(2).name in entry.description
    assert entry.related == ()
    assert _has_rfc(entry.references)


def test_unknown_enhanced_key_is_synthesized_by_its_subject(kb: KnowledgeBase) -> None:
    entry = kb.enhanced("X.1.99")
    assert entry.synthesized
    assert kb.enhanced_subject(1).name in entry.title
    assert "X.1.99" in entry.description
    assert _has_rfc(entry.references)


def test_basic_entries_are_in_code_order(kb: KnowledgeBase) -> None:
    keys = [entry.key for entry in kb.basic_entries()]
    assert keys == [f"{code:03d}" for code in BASIC_CODES]


# -- enhanced codes ------------------------------------------------------------------------


@pytest.mark.parametrize("key", IANA_KEYS)
def test_enhanced_key_has_a_full_entry(key: str, kb: KnowledgeBase) -> None:
    assert kb.has_enhanced(key), f"{kb.lang}/enhanced.toml lacks {key}"
    entry = kb.enhanced(key)
    for name in TEXT_FIELDS:
        assert getattr(entry, name).strip(), f"{key}.{name} is empty"
    assert isinstance(entry.fix_operator, str)
    assert _has_rfc(entry.references), f"{key} has no RFC reference"


@pytest.mark.parametrize("key", IANA_KEYS)
def test_enhanced_facts(key: str) -> None:
    facts = _load("enhanced.toml").get(key)
    assert facts is not None, f"enhanced.toml lacks {key}"
    assert _has_rfc(facts.get("references", []))
    assert all(isinstance(code, int) and 200 <= code <= 599 for code in facts.get("basic", []))


def test_enhanced_has_no_key_outside_the_registry() -> None:
    for name in ("enhanced.toml", "en/enhanced.toml", "id/enhanced.toml"):
        assert sorted(set(_load(name)) - set(IANA_KEYS)) == [], name


def test_enhanced_entries_are_in_registry_order(kb: KnowledgeBase) -> None:
    assert [entry.key for entry in kb.enhanced_entries()] == IANA_KEYS


@pytest.mark.parametrize("name", ["basic.toml", "enhanced.toml"])
def test_related_codes_resolve(name: str) -> None:
    known = set(_load("basic.toml")) | set(_load("enhanced.toml"))
    dangling = {
        key: sorted(set(map(str, facts.get("related", []))) - known)
        for key, facts in _load(name).items()
    }
    assert {key: codes for key, codes in dangling.items() if codes} == {}


# -- no entry empty ------------------------------------------------------------------------

# (file, fields that must be non-empty, fields that may be "")
TEXT_SHAPES = {
    "basic.toml": (TEXT_FIELDS, ("fix_operator",)),
    "enhanced.toml": (TEXT_FIELDS, ("fix_operator",)),
    "context.toml": (("meaning", "tone"), ("fix",)),
    "patterns.toml": (("meaning", "fix"), ("title",)),
}


def _text_entries() -> list[Any]:
    params = []
    for lang in LANGUAGES:
        for name in TEXT_SHAPES:
            for key in _load_or_empty(f"{lang}/{name}"):
                params.append(pytest.param(lang, name, key, id=f"{lang}/{name}::{key}"))
    return params


@pytest.mark.parametrize(("lang", "name", "key"), _text_entries())
def test_entry_is_not_empty(lang: str, name: str, key: str) -> None:
    entry = _load(f"{lang}/{name}")[key]
    required, optional = TEXT_SHAPES[name]
    assert set(required) <= set(entry) <= set(required) | set(optional)
    for field in required:
        assert isinstance(entry[field], str) and entry[field].strip(), f"{key}.{field} is empty"
    for field in optional:
        assert isinstance(entry.get(field, ""), str), f"{key}.{field} is not text"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_ui_and_class_texts_are_not_empty(lang: str) -> None:
    empty = []
    for name in [*_ui_files(lang), "classes.toml"]:
        for path, value in _strings(_load(f"{lang}/{name}")):
            if not value.strip():
                empty.append(f"{name}::{path}")
    assert empty == []


# -- per-command knowledge -----------------------------------------------------------------


def test_context_after_command(kb: KnowledgeBase) -> None:
    entry = kb.context(252, "VRFY")
    assert entry is not None
    assert (entry.code, entry.command) == (252, "VRFY")
    assert entry.meaning.strip()
    assert kb.context(252, "vrfy") == entry


def test_context_falls_back_to_any_command(kb: KnowledgeBase) -> None:
    """``421@*``: a 421 may answer any command (RFC 5321 §4.3.2)."""
    entry = kb.context(421, "NOOP")
    assert entry is not None
    assert (entry.code, entry.command) == (421, "*")
    assert kb.context(299, "VRFY") is None


@pytest.mark.parametrize("key", sorted(_load_or_empty("en/context.toml")))
def test_context_key_names_a_known_command(key: str) -> None:
    code, _, command = key.partition("@")
    assert re.fullmatch(r"[2-5][0-9]{2}", code)
    assert command == "*" or command in _load("commands.toml")


@pytest.mark.parametrize(
    ("code", "command", "allowed"),
    [
        (250, "HELP", False),
        (214, "HELP", True),
        (211, "help", True),
        (252, "VRFY", True),
        (421, "VRFY", True),
        (500, "NOOP", True),
        (354, "DATA", True),
        (250, "DATA", False),
        (252, "XYZZY", None),
        # RFC 3207 §4 / RFC 4954 §6: no 530 to the commands that must work without TLS/AUTH.
        *((530, verb, False) for verb in ("QUIT", "NOOP", "EHLO", "HELO", "RSET", "STARTTLS")),
        *((530, verb, True) for verb in ("MAIL", "RCPT", "DATA", "VRFY", "EXPN", "AUTH")),
        (554, "QUIT", False),
        (554, "MAIL", True),
        # Nothing was sent before the greeting: no syntax error, no "authenticate first".
        (500, "CONNECT", False),
        (501, "CONNECT", False),
        (530, "CONNECT", False),
        (421, "CONNECT", True),
        (554, "CONNECT", True),
        (502, "STARTTLS", True),
        (502, "AUTH", True),
        *((code, "BDAT", True) for code in (450, 451, 452, 550, 552, 554, 521)),
        # Postfix smtpd_delay_reject = yes: HELO/sender restrictions answer at RCPT.
        (504, "RCPT", True),
        (553, "RCPT", True),
        (450, "MAIL", True),
        (451, "DATA", True),
        (550, "DATA", True),
    ],
)
def test_reply_allowed(code: int, command: str, allowed: bool | None) -> None:
    assert load("en").reply_allowed(code, command) is allowed


@pytest.mark.parametrize("command", ["EHLO", "HELO", "MAIL", "RCPT", "DATA", "VRFY", "NOOP"])
def test_503_after_a_554_greeting_is_allowed(command: str) -> None:
    """RFC 5321 §3.1: after a 554 greeting the server SHOULD answer 503 to every command."""
    kb = load("en")
    assert kb.reply_allowed(503, command, greeting=554) is True
    assert kb.allowed_after_greeting(503, command, 554)
    assert not kb.allowed_after_greeting(503, command, 220)


def test_quit_after_a_554_greeting_still_expects_221() -> None:
    kb = load("en")
    assert kb.reply_allowed(221, "QUIT", greeting=554) is True
    assert not kb.allowed_after_greeting(503, "QUIT", 554)
    assert kb.reply_allowed(503, "QUIT", greeting=554) is False
    assert kb.reply_allowed(503, "NOOP") is False


def test_command_rule() -> None:
    rule = load("en").command_rule("vrfy")
    assert rule is not None
    assert {250, 251, 252} <= rule.success
    assert 502 in rule.allowed
    assert _has_rfc(rule.references)


# -- no English in the Indonesian text -----------------------------------------------------

ENGLISH = {
    "the",
    "and",
    "is",
    "are",
    "of",
    "to",
    "with",
    "this",
    "that",
    "for",
    "will",
    "not",
    "you",
    "your",
    "when",
    "be",
    "if",
    "or",
    "can",
    "it",
    "from",
    "by",
    "as",
    "on",
    "in",
    "at",
    "an",
}
# Literal protocol text, addresses and citations are not translated (docs/kb-schema.md);
# ``{placeholders}`` are format keys.
_LITERAL = re.compile(
    r"`[^`]*`|https?://\S+|\b[\w.-]+\.(?:com|org|net|io)\S*|RFC\s*\d+(?:\s*§\s*[\d.]+)?|\{[^}]*\}"
)
_WORD = re.compile(r"[A-Za-z]+(?:['’-][A-Za-z]+)*")


def _strings(node: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(node, str):
        return [(prefix, node)]
    if isinstance(node, dict):
        return [pair for key, value in node.items() for pair in _strings(value, f"{prefix}{key}.")]
    return []


def english_words(text: str) -> list[str]:
    """English function words left in *text* once literals are removed (acronyms like IT skip)."""
    words = _WORD.findall(_LITERAL.sub(" ", text))
    return [w for w in words if not w.isupper() and w.lower() in ENGLISH]


def test_english_words_detector() -> None:
    assert english_words("Periksa `the mailbox is full` di https://x.test/to/the") == []
    assert english_words("Hubungi tim IT Anda; lihat RFC 5321 §4.2 dan {command}") == []
    assert english_words("Server ini tidak support the command") == ["the"]
    assert english_words("If gagal") == ["If"]


def _id_files() -> list[str]:
    return sorted(str(p.relative_to(DATA)) for p in (DATA / "id").glob("*.toml"))


@pytest.mark.parametrize("relative", _id_files())
def test_no_english_in_indonesian_text(relative: str) -> None:
    found = {
        path.rstrip("."): words
        for path, text in _strings(_load(relative))
        if (words := english_words(text))
    }
    assert found == {}, f"English words in {relative}: entry -> words"
