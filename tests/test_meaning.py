"""One reply explained: the knowledge base applied to a parsed `Reply`, with or without a
command."""

from __future__ import annotations

import pytest

from smtpprobe.kb import LANGUAGES, KnowledgeBase, load
from smtpprobe.meaning import Tone, annotate_reply, tone_of_class
from smtpprobe.reply import ReplyDefect, parse_reply

POSTFIX_USER_UNKNOWN = (
    "550 5.1.1 <bob@example.org>: Recipient address rejected: User unknown in local recipient table"
)


@pytest.fixture(params=LANGUAGES)
def kb(request: pytest.FixtureRequest) -> KnowledgeBase:
    return load(request.param)


@pytest.mark.parametrize(
    ("code", "tone"),
    [
        (211, Tone.OK),
        (252, Tone.OK),
        (334, Tone.NOTE),
        (354, Tone.NOTE),
        (421, Tone.WARN),
        (450, Tone.WARN),
        (500, Tone.BAD),
        (550, Tone.BAD),
        (999, Tone.BAD),
    ],
)
def test_tone_of_class(code: int, tone: Tone) -> None:
    assert tone_of_class(code) is tone


def test_tone_str_is_value() -> None:
    assert str(Tone.WARN) == "warn"


def test_without_command(kb: KnowledgeBase) -> None:
    annotation = annotate_reply(parse_reply("252 Cannot VRFY user"), kb)
    assert annotation.command is None
    assert annotation.context is None
    assert annotation.allowed is None
    assert not annotation.deviates
    assert annotation.tone is Tone.OK
    assert annotation.basic == kb.basic(252)
    assert annotation.klass == kb.basic_class(2)
    assert annotation.category == kb.basic_category(5)
    assert annotation.enhanced is None
    assert annotation.enhanced_class is None
    assert annotation.enhanced_subject is None


def test_252_after_vrfy_has_a_context(kb: KnowledgeBase) -> None:
    reply = parse_reply("252 Cannot VRFY user, but will accept message and attempt delivery")
    annotation = annotate_reply(reply, kb, "VRFY bob@example.org")
    assert annotation.command == "VRFY"
    assert annotation.context is not None
    assert (annotation.context.code, annotation.context.command) == (252, "VRFY")
    assert annotation.context.meaning.strip()
    assert annotation.allowed is True
    assert annotation.tone is Tone(annotation.context.tone)


@pytest.mark.parametrize("command", [None, "", "   "])
def test_blank_command_is_no_command(kb: KnowledgeBase, command: str | None) -> None:
    annotation = annotate_reply(parse_reply("250 OK"), kb, command)
    assert (annotation.command, annotation.context, annotation.allowed) == (None, None, None)


def test_command_verb_is_upper_cased(kb: KnowledgeBase) -> None:
    reply = parse_reply("252 Cannot VRFY user")
    assert annotate_reply(reply, kb, "vrfy bob") == annotate_reply(reply, kb, "VRFY")


def test_250_after_help_deviates(kb: KnowledgeBase) -> None:
    """aiosmtpd and Haraka answer HELP with 250; RFC 5321 §4.3.2 lists 211 and 214 only."""
    annotation = annotate_reply(parse_reply("250 Supported commands: EHLO HELO"), kb, "HELP")
    assert annotation.allowed is False
    assert annotation.deviates
    assert annotation.tone is not Tone.OK


def test_214_after_help_does_not_deviate(kb: KnowledgeBase) -> None:
    annotation = annotate_reply(parse_reply("214 2.0.0 Commands: EHLO HELO"), kb, "HELP")
    assert annotation.allowed is True
    assert not annotation.deviates


def test_deviation_turns_ok_into_note(kb: KnowledgeBase) -> None:
    """A 2xx no RFC allows for the command is worth a note even without a per-command reading."""
    annotation = annotate_reply(parse_reply("220 x"), kb, "VRFY")
    assert annotation.context is None
    assert annotation.allowed is False
    assert annotation.tone is Tone.NOTE


def test_defect_turns_ok_into_note(kb: KnowledgeBase) -> None:
    annotation = annotate_reply(parse_reply(b"250 OK\n"), kb)
    assert annotation.defects == (ReplyDefect.BARE_LF,)
    assert annotation.tone is Tone.NOTE


def test_defect_does_not_soften_bad(kb: KnowledgeBase) -> None:
    annotation = annotate_reply(parse_reply(b"550 no\n"), kb)
    assert annotation.defects == (ReplyDefect.BARE_LF,)
    assert annotation.tone is Tone.BAD


def test_any_command_context_for_421(kb: KnowledgeBase) -> None:
    annotation = annotate_reply(parse_reply("421 4.3.2 shutting down"), kb, "NOOP")
    assert annotation.context is not None
    assert annotation.context.command == "*"
    assert annotation.allowed is True
    assert annotation.tone is Tone(annotation.context.tone)


def test_unknown_command(kb: KnowledgeBase) -> None:
    annotation = annotate_reply(parse_reply("250 OK"), kb, "XYZZY")
    assert annotation.command == "XYZZY"
    assert annotation.allowed is None
    assert not annotation.deviates


def test_postfix_user_unknown(kb: KnowledgeBase) -> None:
    annotation = annotate_reply(parse_reply(POSTFIX_USER_UNKNOWN), kb, "RCPT TO:<bob@example.org>")
    assert "postfix-user-unknown" in [pattern.id for pattern in annotation.patterns]
    assert all(pattern.meaning.strip() for pattern in annotation.patterns)
    assert annotation.enhanced == kb.enhanced("X.1.1")
    assert annotation.enhanced_class == kb.enhanced_class(5)
    assert annotation.enhanced_subject == kb.enhanced_subject(1)
    assert annotation.context == kb.context(550, "RCPT")
    assert annotation.tone is Tone.BAD


def test_pattern_restricted_to_its_enhanced_code(kb: KnowledgeBase) -> None:
    """gmail-no-such-user names 5.1.1: the same words under another enhanced code do not match."""
    text = "The email account that you tried to reach does not exist."
    matched = annotate_reply(parse_reply(f"550-5.1.1 {text}\n550 5.1.1 gsmtp"), kb)
    other = annotate_reply(parse_reply(f"550-5.1.10 {text}\n550 5.1.10 gsmtp"), kb)
    assert "gmail-no-such-user" in [pattern.id for pattern in matched.patterns]
    assert "gmail-no-such-user" not in [pattern.id for pattern in other.patterns]


def test_no_pattern_for_plain_reply(kb: KnowledgeBase) -> None:
    assert annotate_reply(parse_reply("250 OK"), kb).patterns == ()


def test_enhanced_unknown_to_the_registry_is_synthesized(kb: KnowledgeBase) -> None:
    annotation = annotate_reply(parse_reply("550 5.7.606 Access denied, banned sending IP"), kb)
    assert annotation.enhanced is not None
    assert annotation.enhanced.synthesized
    assert annotation.enhanced_subject == kb.enhanced_subject(7)
