"""``smtpprobe demo``: start an embedded SMTP server on loopback, probe it, show the result.

The probe, renderer and exit code are exactly those of ``smtpprobe probe``; only the
server is local, so the tool can be tried on a machine with no mail server around.
"""

from __future__ import annotations

from typing import Any

import click

from smtpprobe.commands._common import emit_doc, emit_json, lang_from_env
from smtpprobe.commands.probe import output_options
from smtpprobe.commands.run import RunOptions, run_targets
from smtpprobe.i18n import N_, LocalizedCommand, option
from smtpprobe.kb import load
from smtpprobe.render.doc import Doc, Fields, Heading, line
from smtpprobe.render.formats import OutputFormat
from smtpprobe.report import ProbeOptions, TlsMode

__all__ = ["PROFILE_NAMES", "demo_command"]

# Kept here too so that --help and --list-profiles need neither aiosmtpd nor trustme.
PROFILE_NAMES = ("well-run", "disclosing", "disabled", "auth-required", "status-211")


def _profiles_doc(lang: str) -> Doc:
    kb = load(lang)
    rows = tuple((name, line(kb.ui(f"probe_demo_profile_{name}"))) for name in PROFILE_NAMES)
    return Doc().add(Heading(kb.ui("probe_demo_profiles")), Fields(rows))


@click.command(
    "demo",
    cls=LocalizedCommand,
    context_settings={"help_option_names": ["-h", "--help"]},
    help=N_(
        "Probe an embedded SMTP server on 127.0.0.1 (no network needed).\n\n"
        "The server (aiosmtpd, STARTTLS with a throwaway CA) is started, probed "
        "exactly as `smtpprobe probe` would, and stopped. The exit code is the "
        "probe's status."
    ),
)
@option(
    "--profile",
    type=click.Choice(PROFILE_NAMES),
    default="well-run",
    show_default=True,
    help=N_("Which server behaviour to run."),
)
@option("--list-profiles", is_flag=True, help=N_("List the profiles and exit."))
@output_options
def demo_command(profile: str, list_profiles: bool, **params: Any) -> int:
    lang = params["lang"] or lang_from_env()
    if list_profiles:
        if params["output_format"] == OutputFormat.JSON.value:
            kb = load(lang)
            emit_json(
                {
                    "schema_version": 1,
                    "profiles": [
                        {"name": name, "description": kb.ui(f"probe_demo_profile_{name}")}
                        for name in PROFILE_NAMES
                    ],
                }
            )
        else:
            emit_doc(_profiles_doc(lang))
        return 0
    from smtpprobe.demo_server import DemoServer

    with DemoServer(profile) as server:
        click.echo(
            load(lang)
            .ui("probe_demo_started")
            .format(profile=profile, host=server.host, port=server.port),
            err=True,
        )
        options = ProbeOptions(
            port=server.port,
            tls=TlsMode.AUTO,
            cafile=server.cafile,
            deadline=15.0,
            command_timeout=5.0,
        )
        run = RunOptions(
            output_format=OutputFormat(params["output_format"]),
            lang=lang,
            verbose=params["verbose"],
        )
        return run_targets(((server.host, server.port),), options, run)
