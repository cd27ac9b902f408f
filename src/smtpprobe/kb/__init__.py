"""The knowledge base: reply codes, enhanced codes, per-command readings, as data files.

Files live in ``kb/data`` (schema: ``docs/kb-schema.md``): language-neutral facts at the top,
human text under ``en/`` and ``id/``. Each file is parsed on first use and validated once
into frozen dataclasses; codes without an entry get one built from their digits.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from smtpprobe.codes import reply_category, reply_class
from smtpprobe.kb import store
from smtpprobe.kb.literals import required_literals

__all__ = [
    "LANGUAGES",
    "ClassInfo",
    "CommandRule",
    "ContextEntry",
    "KBEntry",
    "KnowledgeBase",
    "PatternEntry",
    "load",
    "pattern_text",
]

# Discovered from kb/data/: a language is a folder of words (en first); adding one is adding
# a folder, with no list in the code to extend.
LANGUAGES: tuple[str, ...] = store.languages()
Lang = str
_TEXT_FIELDS = ("title", "description", "when", "fix", "fix_operator")


@dataclass(frozen=True, slots=True)
class KBEntry:
    """What one basic code (``"252"``) or enhanced key (``"X.1.1"``) means."""

    key: str
    title: str
    description: str
    when: str
    fix: str
    fix_operator: str
    references: tuple[str, ...]
    related: tuple[str, ...]
    basic: tuple[int, ...] = ()
    synthesized: bool = False


@dataclass(frozen=True, slots=True)
class ContextEntry:
    """What a code means as the reply to one command (key ``"252@VRFY"``)."""

    code: int
    command: str
    meaning: str
    fix: str
    tone: str


@dataclass(frozen=True, slots=True)
class ClassInfo:
    """Name and meaning of a class, category or subject digit."""

    name: str
    meaning: str


@dataclass(frozen=True, slots=True)
class CommandRule:
    """Which codes RFC 5321 §4.3.2 (and extensions) allow as a reply to a command."""

    command: str
    success: frozenset[int]
    intermediate: frozenset[int]
    error: frozenset[int]
    references: tuple[str, ...]
    not_any: frozenset[int] = frozenset()
    """Codes of ``any_command`` that cannot answer this command (530 after QUIT …)."""

    @property
    def allowed(self) -> frozenset[int]:
        return self.success | self.intermediate | self.error


@dataclass(frozen=True, slots=True)
class PatternEntry:
    """A vendor- or situation-specific reading recognised by the reply's text."""

    id: str
    match: str
    code: int | None
    enhanced: str | None
    vendor: str
    meaning: str
    fix: str
    title: str = ""
    """For an ``overload``: what the vendor means by the enhanced code, as a title."""
    overload: bool = False
    """The vendor sends the enhanced code for something the IANA registry does not say
    (Gmail's 5.7.30 is "DKIM did not pass", the registry's is "REQUIRETLS needed")."""
    source: str = ""
    """Where the wording was seen: an MTA source file, a provider's page, an RFC."""
    seen_with: tuple[str, ...] = ()
    """Other codes the wording comes with (``"454"``, ``"5.7.1"``), when ``code`` and
    ``enhanced`` leave it open (Postfix lets the operator choose the code)."""

    @property
    def codes_seen(self) -> tuple[int, ...]:
        """The basic codes this wording is known to come with."""
        codes = [int(c) for c in self.seen_with if c.isdigit()]
        return tuple(([self.code] if self.code is not None else []) + codes)

    @property
    def enhanced_seen(self) -> tuple[str, ...]:
        """The enhanced codes this wording is known to come with."""
        keys = [c for c in self.seen_with if "." in c]
        return tuple(([self.enhanced] if self.enhanced else []) + keys)

    @property
    def regex(self) -> re.Pattern[str]:
        """The compiled ``match``, searched case-insensitively in the reply's text."""
        return _compiled(self.match)


_SPACE = re.compile(r"\s+")


def pattern_text(lines: tuple[str, ...] | list[str]) -> str:
    """A reply's text as one line, the form patterns are matched against.

    Servers wrap long texts over continuation lines and repeat the enhanced code on each
    (Gmail: ``550-5.7.1 … this message is`` / ``550-5.7.1 likely unsolicited mail``), so
    the repeated code is dropped from every line after the first and all runs of
    whitespace become one space: a phrase reads the same however it was wrapped.
    """
    first = lines[0] if lines else ""
    head = first.split(" ", 1)[0]
    repeated = head if _ENHANCED_HEAD.fullmatch(head) else None
    parts = [first]
    for text in lines[1:]:
        if repeated is not None and (text == repeated or text.startswith(repeated + " ")):
            text = text[len(repeated) :]
        parts.append(text)
    return _SPACE.sub(" ", " ".join(parts)).strip()


_ENHANCED_HEAD = re.compile(r"[245]\.[0-9]{1,3}\.[0-9]{1,3}")


_literals = functools.cache(required_literals)


def _may_match(pattern: str, lowered: str) -> bool:
    """False when *lowered* (ASCII text, lower-cased) cannot match *pattern*."""
    literals = _literals(pattern)
    return literals is None or any(literal in lowered for literal in literals)


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    # Compiled on first use: a probe meets a handful of codes, so most of the pattern
    # file never needs compiling (compiling all of it cost more than the whole session).
    return re.compile(pattern, re.IGNORECASE)


def _read(relative: str) -> dict[str, Any]:
    return store.read(relative)


def _entry(key: str, facts: dict[str, Any], text: dict[str, Any]) -> KBEntry:
    missing = [name for name in _TEXT_FIELDS if name not in text]
    if missing:
        raise ValueError(f"knowledge base entry {key} lacks {', '.join(missing)}")
    return KBEntry(
        key=key,
        title=text["title"],
        description=text["description"],
        when=text["when"],
        fix=text["fix"],
        fix_operator=text["fix_operator"],
        references=tuple(facts.get("references", ())),
        related=tuple(str(r) for r in facts.get("related", ())),
        basic=tuple(int(b) for b in facts.get("basic", ())),
    )


class KnowledgeBase:
    """All knowledge in one language; get one through `load`."""

    def __init__(self, lang: Lang) -> None:
        self.lang: Lang = lang

    # -- basic and enhanced codes ---------------------------------------------------------

    @functools.cached_property
    def _basic(self) -> dict[str, KBEntry]:
        facts, text = _read("basic.toml"), _read(f"{self.lang}/basic.toml")
        return {key: _entry(key, facts.get(key, {}), value) for key, value in text.items()}

    @functools.cached_property
    def _enhanced(self) -> dict[str, KBEntry]:
        facts, text = _read("enhanced.toml"), _read(f"{self.lang}/enhanced.toml")
        return {key: _entry(key, facts.get(key, {}), value) for key, value in text.items()}

    def basic_entries(self) -> list[KBEntry]:
        """Every basic code with an entry of its own, in code order."""
        return sorted(self._basic.values(), key=lambda entry: entry.key)

    def enhanced_entries(self) -> list[KBEntry]:
        """Every enhanced key of the IANA registry, in subject/detail order."""

        def order(entry: KBEntry) -> tuple[int, int]:
            _x, subject, detail = entry.key.split(".")
            return int(subject), int(detail)

        return sorted(self._enhanced.values(), key=order)

    def has_basic(self, code: int) -> bool:
        return f"{code:03d}" in self._basic

    def has_enhanced(self, key: str) -> bool:
        return key in self._enhanced

    def basic(self, code: int) -> KBEntry:
        """The entry for *code*; one built from its digits (``synthesized``) when none exists."""
        found = self._basic.get(f"{code:03d}")
        return found if found is not None else self._synthesize_basic(code)

    def enhanced(self, key: str) -> KBEntry:
        """The entry for an enhanced key such as ``X.1.1``; built from digits when unknown."""
        found = self._enhanced.get(key)
        return found if found is not None else self._synthesize_enhanced(key)

    def _synthesize_basic(self, code: int) -> KBEntry:
        klass = self.basic_class(reply_class(code))
        category = self.basic_category(reply_category(code))
        paired = [e.key for e in self._enhanced.values() if code in e.basic]
        description = self.ui("synth_basic_description").format(
            code=code, klass=klass.name, category=category.name, meaning=klass.meaning
        )
        if paired:
            description += " " + self.ui("synth_basic_registry").format(
                code=code,
                keys=", ".join(f"{k} ({self._enhanced[k].title})" for k in paired),
            )
        return KBEntry(
            key=f"{code:03d}",
            title=self.ui("synth_basic_title").format(klass=klass.name, category=category.name),
            description=description,
            when=self.ui("synth_when"),
            fix=klass.meaning,
            fix_operator="",
            references=("RFC 5321 §4.2.1",) + (("RFC 5248",) if paired else ()),
            related=tuple(paired),
            synthesized=True,
        )

    def _synthesize_enhanced(self, key: str) -> KBEntry:
        subject = int(key.split(".")[1])
        info = self.enhanced_subject(subject)
        return KBEntry(
            key=key,
            title=self.ui("synth_enhanced_title").format(subject=info.name),
            description=self.ui("synth_enhanced_description").format(
                key=key, subject=info.name, meaning=info.meaning
            ),
            when=self.ui("synth_when"),
            fix=info.meaning,
            fix_operator="",
            references=("RFC 3463 §3",),
            related=(),
            synthesized=True,
        )

    # -- digits ---------------------------------------------------------------------------

    def _class_info(self, table: str, digit: int) -> ClassInfo:
        found = _read(f"{self.lang}/classes.toml").get(table, {}).get(str(digit))
        if found is None:
            return ClassInfo(self.ui("unknown_digit").format(digit=digit), "")
        return ClassInfo(found["name"], found["meaning"])

    def basic_class(self, digit: int) -> ClassInfo:
        return self._class_info("basic_class", digit)

    def basic_category(self, digit: int) -> ClassInfo:
        return self._class_info("basic_category", digit)

    def enhanced_class(self, digit: int) -> ClassInfo:
        return self._class_info("enhanced_class", digit)

    def enhanced_subject(self, digit: int) -> ClassInfo:
        return self._class_info("enhanced_subject", digit)

    # -- per command ----------------------------------------------------------------------

    @functools.cached_property
    def _contexts(self) -> dict[str, ContextEntry]:
        contexts: dict[str, ContextEntry] = {}
        for key, value in _read(f"{self.lang}/context.toml").items():
            code, _, command = key.partition("@")
            contexts[key] = ContextEntry(
                code=int(code),
                command=command,
                meaning=value["meaning"],
                fix=value.get("fix", ""),
                tone=value.get("tone", "note"),
            )
        return contexts

    def context(self, code: int, command: str) -> ContextEntry | None:
        """The reading of *code* as the reply to *command* (exact, then ``CODE@*``)."""
        command = command.upper()
        return self._contexts.get(f"{code:03d}@{command}") or self._contexts.get(f"{code:03d}@*")

    @functools.cached_property
    def _commands(self) -> tuple[dict[str, CommandRule], frozenset[int]]:
        data = _read("commands.toml")
        any_command = frozenset(int(c) for c in data.get("any_command", ()))
        rules = {
            name: CommandRule(
                command=name,
                success=frozenset(value.get("success", ())),
                intermediate=frozenset(value.get("intermediate", ())),
                error=frozenset(value.get("error", ())),
                references=tuple(value.get("references", ())),
                not_any=frozenset(value.get("not_any", ())),
            )
            for name, value in data.items()
            if isinstance(value, dict) and name not in _NOT_COMMANDS
        }
        return rules, any_command

    def command_rule(self, command: str) -> CommandRule | None:
        return self._commands[0].get(command.upper())

    def reply_allowed(self, code: int, command: str, *, greeting: int | None = None) -> bool | None:
        """Whether *code* is a reply the RFCs allow to *command*; None for unknown commands.

        :param greeting: the code of the session's greeting, when known: after a 554 greeting
            RFC 5321 §3.1 has the server answer 503 to every command but QUIT.
        """
        rule = self.command_rule(command)
        if rule is None:
            return None
        if greeting is not None and self.allowed_after_greeting(code, command, greeting):
            return True
        if code in rule.allowed:
            return True
        return code in self._commands[1] and code not in rule.not_any

    def commands_answered_by(self, code: int) -> tuple[str, ...] | None:
        """The commands whose rule lists *code*; None when it may answer any command."""
        rules, any_command = self._commands
        if code in any_command:
            return None
        return tuple(name for name, rule in rules.items() if code in rule.allowed)

    def allowed_after_greeting(self, code: int, command: str, greeting: int) -> bool:
        """True when *greeting* makes *code* the expected answer to *command* (RFC 5321 §3.1:
        after ``554`` the server SHOULD answer ``503`` to everything but QUIT)."""
        rule = _read("commands.toml").get(f"after_{greeting:03d}_greeting")
        if not isinstance(rule, dict):
            return False
        return code in rule.get("allowed", ()) and command.upper() not in rule.get("except", ())

    # -- vendor patterns ------------------------------------------------------------------

    @functools.cached_property
    def _patterns(self) -> tuple[PatternEntry, ...]:
        text = _read(f"{self.lang}/patterns.toml")
        patterns = []
        for item in _read("patterns.toml").get("pattern", ()):
            words = text.get(item["id"], {})
            patterns.append(
                PatternEntry(
                    id=item["id"],
                    match=item["match"],
                    code=item.get("code"),
                    enhanced=item.get("enhanced"),
                    vendor=item.get("vendor", ""),
                    meaning=words.get("meaning", ""),
                    fix=words.get("fix", ""),
                    title=words.get("title", ""),
                    overload=bool(item.get("overload", False)),
                    source=item.get("source", ""),
                    seen_with=tuple(str(c) for c in item.get("seen_with", ())),
                )
            )
        return tuple(patterns)

    def pattern_entries(self) -> tuple[PatternEntry, ...]:
        """Every vendor pattern, in file order (the first that matches is the reading)."""
        return self._patterns

    def pattern(self, pattern_id: str) -> PatternEntry | None:
        """The pattern with id *pattern_id*, or None."""
        return next((p for p in self._patterns if p.id == pattern_id), None)

    def patterns_for(
        self, code: int, text: str, enhanced: str | None = None
    ) -> tuple[PatternEntry, ...]:
        """Specific readings whose regex matches *text* (the reply as `pattern_text` gives
        it); a pattern's code and enhanced code, where it names them, must be the reply's
        too. A pattern without a code reads 4xx and 5xx replies only (and the codes of its
        ``seen_with``): a probe of a healthy server, all 2xx, then compiles almost none of
        the pattern file. Nor does a 5xx reply: a pattern is compiled only when the text
        holds one of its `required_literals`."""
        lowered = text.lower() if text.isascii() else None
        return tuple(
            p
            for p in self._patterns
            if (p.code == code if p.code is not None else code >= 400 or code in p.codes_seen)
            and (p.enhanced is None or p.enhanced == enhanced)
            and (lowered is None or _may_match(p.match, lowered))
            and p.regex.search(text)
        )

    # -- words for findings ---------------------------------------------------------------

    def finding_words(self, check: str, reason: str) -> dict[str, str]:
        """The words for *reason* of *check*: ``summary``, and ``advice`` (with
        ``advice-<vendor>`` variants) where it has any; English where this language lacks
        the table, ``{}`` where neither has it."""
        words = _finding_table(self.lang, check).get(reason)
        if words is None and self.lang != "en":
            words = _finding_table("en", check).get(reason)
        return dict(words) if isinstance(words, dict) else {}

    # -- interface text -------------------------------------------------------------------

    def ui_count(self, key: str, count: int) -> str:
        """The entry *key* for *count* things: ``<key>_one`` when *count* is 1 and the
        language has one (English does; Indonesian needs none), else *key*."""
        if count == 1:
            one = self.ui(f"{key}_one")
            if one != f"{key}_one":
                return one
        return self.ui(key)

    def ui(self, key: str) -> str:
        """A heading or label of the user interface, in this language (English fallback)."""
        text = _ui_table(self.lang).get(key)
        if text is None:
            text = _ui_table("en").get(key, key)
        return str(text)


# Tables of commands.toml that are not commands.
_NOT_COMMANDS = frozenset({"after_554_greeting"})


@functools.cache
def _ui_table(lang: str) -> dict[str, str]:
    """Every ``{lang}/ui*.toml`` merged: one file per area of the interface."""
    merged: dict[str, str] = {}
    for name in store.ui_files(lang):
        merged.update(_read(name))
    return merged


@functools.cache
def _finding_table(lang: str, check: str) -> dict[str, Any]:
    """``{lang}/findings/<check>.toml``: one table per reason of that check."""
    return _read(f"{lang}/findings/{check}.toml")


@functools.cache
def load(lang: str = "en") -> KnowledgeBase:
    """The knowledge base in *lang* (one of `LANGUAGES`); cheap, files are read on first use."""
    if lang not in LANGUAGES:
        raise ValueError(f"unsupported language {lang!r}; choose one of {', '.join(LANGUAGES)}")
    return KnowledgeBase(lang)
