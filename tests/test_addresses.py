"""Which form of an address the probe asks in, and when it moves to another domain."""

from __future__ import annotations

from smtpprobe.addresses import Addresses
from smtpprobe.reply import parse_reply


def test_a_relay_refusal_of_a_bare_name_tries_the_server_name_then_its_parent() -> None:
    addresses = Addresses(("postmaster",), "smtpprobe-x", None)
    addresses.learn_domain(parse_reply("220 mx.example.org ESMTP"))
    refused = parse_reply("454 4.7.1 <smtpprobe-x>: Relay access denied")
    assert addresses.move_past_relay_refusal(refused, "smtpprobe-x")
    assert addresses.for_vrfy("smtpprobe-x") == "smtpprobe-x@mx.example.org"
    again = parse_reply("454 4.7.1 <smtpprobe-x@mx.example.org>: Relay access denied")
    assert addresses.move_past_relay_refusal(again, "smtpprobe-x@mx.example.org")
    assert addresses.for_vrfy("postmaster") == "postmaster@example.org"
    last = parse_reply("454 4.7.1 <smtpprobe-x@example.org>: Relay access denied")
    assert not addresses.move_past_relay_refusal(last, "smtpprobe-x@example.org")


def test_other_refusals_do_not_move_the_domain() -> None:
    addresses = Addresses(("postmaster",), "smtpprobe-x", "example.org")
    unknown = parse_reply("550 5.1.1 <smtpprobe-x@example.org>: User unknown")
    assert not addresses.move_past_relay_refusal(unknown, "smtpprobe-x@example.org")
    assert not addresses.move_past_relay_refusal(parse_reply("252 2.0.0 ok"), "postmaster")
    assert addresses.for_vrfy("postmaster") == "postmaster"


def test_a_top_level_name_has_no_parent_to_move_to() -> None:
    addresses = Addresses(("postmaster",), "smtpprobe-x", "localhost")
    refused = parse_reply("550 relay not permitted")
    assert not addresses.move_past_relay_refusal(refused, "smtpprobe-x@localhost")
