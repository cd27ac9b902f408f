"""The command-line entry point: a click group whose commands load on first use.

Exit codes follow the monitoring-plugin convention: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
click's own defaults (2 for a usage error, which Nagios reads as CRITICAL) are overridden here,
the one place where exceptions become exit codes and a line on stderr.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from smtpprobe import __version__
from smtpprobe.errors import SMTPProbeError

__all__ = ["EXIT_CRITICAL", "EXIT_OK", "EXIT_UNKNOWN", "EXIT_WARNING", "cli", "main"]

EXIT_OK, EXIT_WARNING, EXIT_CRITICAL, EXIT_UNKNOWN = 0, 1, 2, 3

# name -> "module:attribute"; a command's module is imported only when it runs.
COMMANDS = {
    "probe": "smtpprobe.commands.probe:probe_command",
    "demo": "smtpprobe.commands.demo:demo_command",
    "explain": "smtpprobe.commands.explain:explain_command",
    "compare": "smtpprobe.commands.compare:compare_command",
    "codes": "smtpprobe.commands.codes:codes_command",
    "annotate": "smtpprobe.commands.annotate:annotate_command",
}

EPILOG = """\b
Exit codes (monitoring-plugin convention):
  0  OK        explained, or the probe found nothing wrong
  1  WARNING   e.g. VRFY/EXPN/RCPT discloses users, STARTTLS fails
  2  CRITICAL  no connection, no usable greeting, TLS failure
  3  UNKNOWN   bad arguments or input, name does not resolve, internal error
"""


class LazyGroup(click.Group):
    """A group that imports a command's module only when that command is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                return None
            raise
        command: click.Command = getattr(module, attribute)
        return command


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=EPILOG,
)
@click.version_option(__version__, "-V", "--version", prog_name="smtpprobe")
@click.option("--debug", is_flag=True, help="Show the full traceback of an internal error.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Probe a live SMTP server and explain every reply it gives.

    \b
    Start with:  smtpprobe demo            (a local server, no network needed)
                 smtpprobe probe mx.example.org
                 smtpprobe explain 252     smtpprobe compare 211 252
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def _error_line(message: str, hint: str = "") -> None:
    click.secho(f"smtpprobe: error: {message}", fg="red", err=True)
    if hint:
        click.echo(f"  hint: {hint}", err=True)


def _usage_error(exc: click.UsageError) -> None:
    """One line for a wrong flag or argument, naming the help to read (not click's four)."""
    command = exc.ctx.command_path if exc.ctx is not None else "smtpprobe"
    _error_line(exc.format_message(), f"see '{command} --help'")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (never raises, never prints a traceback)."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or os.environ.get("SMTPPROBE_DEBUG") == "1"
    try:
        result: Any = cli.main(args=args, prog_name="smtpprobe", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else str(exc))
        return EXIT_UNKNOWN
    except click.UsageError as exc:
        _usage_error(exc)
        return EXIT_UNKNOWN
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.Abort:
        _error_line("interrupted")
        return EXIT_UNKNOWN
    except click.ClickException as exc:
        _error_line(exc.format_message())
        return EXIT_UNKNOWN
    except SMTPProbeError as exc:
        _error_line(exc.message, exc.hint)
        return EXIT_UNKNOWN
    except KeyboardInterrupt:
        _error_line("interrupted")
        return EXIT_UNKNOWN
    except BrokenPipeError:
        # The reader went away (e.g. `| head`); nothing left to tell anyone.
        sys.stderr.close()
        return EXIT_UNKNOWN
    except Exception as exc:  # noqa: BLE001 - the one boundary where anything is caught
        if debug:
            raise
        _error_line(f"internal error: {type(exc).__name__}: {exc}", "run again with --debug")
        return EXIT_UNKNOWN
    if isinstance(result, int):
        return result
    return EXIT_OK
