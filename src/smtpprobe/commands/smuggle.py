"""``smtpprobe smuggle TARGET --to ADDRESS``: the SMTP smuggling check, opt-in and explained.

Runs `smtpprobe.smuggling_run.run_smuggling_check`, judges it
(`smtpprobe.interpret.smuggling`), keeps the session findings that still apply (connection,
greeting, EHLO, TLS) and renders the report like ``probe``. Refuses to run without
``--to``: every test message, the smuggled one included, goes to that address only.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import click

from smtpprobe.commands._common import emit_json, lang_from_env
from smtpprobe.commands.probe import (
    HostPort,
    _check_addresses,
    _connection_options,
    _emit,
    _live,
    output_options,
)
from smtpprobe.errors import ResolveError, UsageError, localized
from smtpprobe.i18n import LocalizedCommand
from smtpprobe.kb import KnowledgeBase, load
from smtpprobe.policy import Policy, SmugglingExpectation, apply_policy
from smtpprobe.render.formats import OutputFormat
from smtpprobe.report import ProbeOptions, ProbeReport, Target, TlsMode

__all__ = ["SESSION_CHECKS", "smuggle_command", "smuggling_report"]

# The probe's findings that a smuggling session still answers; the rest (VRFY, HELP …)
# were not asked and would only say "not tested".
SESSION_CHECKS = ("connection", "banner", "greeting", "ehlo", "starttls", "tls")
# Eight tests, each a transaction with a wait for a reply that should not come.
DEFAULT_DEADLINE = 120.0


def smuggling_report(host: str, options: ProbeOptions, *, recipient: str, sender: str,
                     policy: Policy, verbose: bool = False) -> ProbeReport:
    """Run the check against *host* and return the judged report (policy applied).

    :raises ResolveError: *host* does not resolve.
    :raises UsageError: options the probe rejects before sending anything.
    """
    from smtpprobe.interpret import interpret
    from smtpprobe.interpret.smuggling import judge, smuggling_finding
    from smtpprobe.smuggling_run import run_smuggling_check

    kb = load(options.lang)
    options = dataclasses.replace(options, steps=frozenset({"ehlo", "starttls", "quit"}))
    run = asyncio.run(run_smuggling_check(host, recipient=recipient, sender=sender,
                                          options=options,
                                          on_event=_live if verbose else None))
    kept = tuple(f for f in interpret(run.session, kb) if f.check in SESSION_CHECKS)
    report = ProbeReport(run.session, (*kept, smuggling_finding(judge(run), kb)))
    return apply_policy(report, policy, kb)


@click.command("smuggle", cls=LocalizedCommand,
               context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("target", type=HostPort(), metavar="TARGET")
@click.option("--to", "recipient", multiple=True, callback=_check_addresses,
              help="A mailbox you own on that server (or a sink): every test message, the "
              "smuggled one included, goes there. Required.")
@click.option("--from", "sender", multiple=True, callback=_check_addresses,
              help="MAIL FROM address (default: the null sender <>).")
@click.option("--expect-smuggling", type=click.Choice([e.value for e in SmugglingExpectation]),
              help="Policy: CRITICAL unless the verdict is this (not-vulnerable accepts "
              "rejects-bare-lf too).")
@_connection_options
@output_options
def smuggle_command(target: tuple[str, int | None], **params: Any) -> int:
    """Check TARGET for SMTP smuggling: does it end DATA on anything but
    <CR><LF>.<CR><LF>? One transaction per test (<LF>.<LF>, <LF>.<CR><LF>,
    <CR><LF>.<LF>, <CR>.<CR>, <CR><LF>.<CR>, <LF>.<CR>, bare CR, bare LF), each hiding a
    second transaction to the same --to address. Run it only against servers you operate.
    Exit codes: 0 not vulnerable, 2 CRITICAL vulnerable (or a violated policy), 3 UNKNOWN.
    """
    lang = params["lang"] or lang_from_env()
    if not params["recipient"]:
        raise UsageError(key="error_smuggling_needs_to")
    if len(params["recipient"]) > 1 or len(params["sender"]) > 1:
        raise UsageError(key="error_smuggling_one_address")
    if params["ipv4"] and params["ipv6"]:
        raise UsageError(key="error_ipv4_and_ipv6")
    host, port = target
    timeout = params["timeout"]
    options = ProbeOptions(
        port=params["port"] or port, tls=TlsMode(params["tls"]), helo=params["helo"],
        family=_family(params), lang=lang, cafile=params["cafile"],
        insecure=params["insecure"], command_timeout=params["command_timeout"],
        # --timeout's default (30 s) is for one probe; eight transactions need more.
        deadline=DEFAULT_DEADLINE if timeout == 30.0 else timeout,
    )
    expected = params["expect_smuggling"]
    policy = Policy(expect_smuggling=SmugglingExpectation(expected) if expected else None)
    output_format = OutputFormat(params["output_format"])
    kb: KnowledgeBase = load(lang)
    sender = params["sender"][0] if params["sender"] else ""
    try:
        report = smuggling_report(host, options, recipient=params["recipient"][0],
                                  sender=sender, policy=policy, verbose=params["verbose"])
    except ResolveError as exc:
        if output_format is OutputFormat.JSON:
            from smtpprobe.render.json_report import error_document

            emit_json(error_document(Target(host, options.port or 25, None, options.tls),
                                     exc, kb))
        message, hint = localized(exc, kb)
        click.secho(f"smtpprobe: {kb.ui('error_label')}: {message}", fg="red", err=True)
        if hint:
            click.echo(f"  {kb.ui('error_hint_label')}: {hint}", err=True)
        return 3
    _emit(output_format.to_renderer()(report, kb))
    return report.status.exit_code


def _family(params: dict[str, Any]) -> int:
    import socket

    return socket.AF_INET if params["ipv4"] else socket.AF_INET6 if params["ipv6"] else 0
