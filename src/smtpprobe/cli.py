"""The command-line entry point: a click group whose commands load on first use.

Exit codes follow the monitoring-plugin convention: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
click's own defaults (2 for a usage error, which Nagios reads as CRITICAL) are overridden here,
the one place where exceptions become exit codes and a line on stderr. That line, the help
and click's own words follow the run's language (`smtpprobe.i18n`): ``--lang`` when the
arguments hold one, else the locale.
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import os
import sys
from typing import Any

import click

from smtpprobe.errors import SMTPProbeError
from smtpprobe.i18n import (
    N_,
    LocalizedGroup,
    current_lang,
    lang_from_argv,
    lang_from_env,
    option,
    text,
    translate,
    using,
)
from smtpprobe.version import __version__
from smtpprobe.views.errors import localized

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
    "send": "smtpprobe.commands.send:send_command",
    "exporter": "smtpprobe.commands.exporter:exporter_command",
}

EPILOG = N_(
    "Exit codes (monitoring-plugin convention):\n"
    "  0  OK        explained, or the probe found nothing wrong\n"
    "  1  WARNING   e.g. VRFY/EXPN/RCPT discloses users, STARTTLS fails\n"
    "  2  CRITICAL  no connection, no usable greeting, TLS failure\n"
    "  3  UNKNOWN   bad arguments or input, name does not resolve, internal error"
)


class _OutputError(Exception):
    """A write to stdout failed; raised past click, which would turn EPIPE into exit 1."""

    def __init__(self, error: OSError) -> None:
        super().__init__(error)
        self.error = error


class LazyGroup(LocalizedGroup):
    """A group that imports a command's module only when that command is used."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OSError as exc:
            if exc.errno in _OUTPUT_ERRORS:
                raise _OutputError(exc) from exc
            raise

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
    help=N_(
        "Probe a live SMTP server and explain every reply it gives.\n"
        "\n"
        "Start with:  smtpprobe demo            (a local server, no network needed)\n"
        "             smtpprobe probe mx.example.org\n"
        "             smtpprobe explain 252     smtpprobe compare 211 252"
    ),
    epilog=EPILOG,
)
@option(
    "-V",
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=lambda ctx, _param, value: _show_version(ctx, value),
    help=N_("Show the version and exit."),
)
@option("--debug", is_flag=True, help=N_("Show the full traceback of an internal error."))
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def _show_version(ctx: click.Context, wanted: bool) -> None:
    """click's ``--version`` line, worded when it is shown (click's own is worded once)."""
    if not wanted:
        return
    click.echo(
        translate("%(prog)s, version %(version)s") % {"prog": "smtpprobe", "version": __version__}
    )
    ctx.exit()


def _error_line(message: str, hint: str = "") -> None:
    from smtpprobe.commands._common import error_line

    error_line(message, hint)


def _usage_error(exc: click.UsageError) -> None:
    """One line for a wrong flag or argument, naming the help to read (not click's four)."""
    command = exc.ctx.command_path if exc.ctx is not None else "smtpprobe"
    _error_line(exc.format_message(), text("error_see_help", command=command))


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (never raises, never prints a traceback).

    Everything it prints is in the run's language: ``--lang`` in *argv*, else the locale.
    """
    args = sys.argv[1:] if argv is None else argv
    _prepare_streams()
    with using(lang_from_argv(args) or lang_from_env()):
        code = _run(args)
        try:
            sys.stdout.flush()  # the last buffer: its write error is this run's, not exit's
        except BrokenPipeError:
            return _reader_gone()
        except (OSError, ValueError) as exc:
            return _output_failed(exc)
        return code


def _prepare_streams() -> None:
    """Streams any locale and any descriptor can take.

    A closed stdout or stderr (``>&-``: Python sets it to None) becomes the null device;
    a text stream whose encoding is not UTF-8 (an ISO-8859-1 locale) writes ``?`` for what
    it cannot encode rather than raising. JSON and JUnit never depend on it: they are
    ASCII under such a locale.
    """
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115
            continue
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("_", "-")
        reconfigure = getattr(stream, "reconfigure", None)
        if encoding not in ("utf-8", "utf8") and reconfigure is not None:
            with contextlib.suppress(Exception):
                reconfigure(errors="replace" if name == "stdout" else "backslashreplace")


def _reader_gone() -> int:
    """stdout's reader went away (``| head -1``): nothing left to tell anyone.

    stdout is pointed at the null device so that the interpreter's own last flush does not
    print "Exception ignored … BrokenPipeError" (Python docs, "Note on SIGPIPE").
    """
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return EXIT_UNKNOWN


def _output_failed(exc: BaseException) -> int:
    """stdout could not be written (full disk, closed descriptor): one line, UNKNOWN."""
    reason = getattr(exc, "strerror", None) or str(exc)
    _reader_gone()  # whatever is still buffered would fail again at exit
    _error_line(text("error_output_unwritable", reason=reason))
    return EXIT_UNKNOWN


def _run(args: list[str]) -> int:
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
        _error_line(text("error_interrupted"))
        return EXIT_UNKNOWN
    except click.ClickException as exc:
        _error_line(exc.format_message())
        return EXIT_UNKNOWN
    except SMTPProbeError as exc:
        from smtpprobe.kb import load

        _error_line(*localized(exc, load(current_lang())))
        return EXIT_UNKNOWN
    except KeyboardInterrupt:
        _error_line(text("error_interrupted"))
        return EXIT_UNKNOWN
    except _OutputError as exc:
        if isinstance(exc.error, BrokenPipeError):
            return _reader_gone()
        return _output_failed(exc.error)
    except Exception as exc:  # noqa: BLE001 - the one boundary where anything is caught
        return _internal(exc, debug)
    if isinstance(result, int):
        return result
    return EXIT_OK


# Write errors of an output stream (the command's own file errors are usage errors).
_OUTPUT_ERRORS = frozenset(
    {errno.EPIPE, errno.ENOSPC, errno.EIO, errno.EBADF, errno.EDQUOT, errno.EFBIG}
)


def _internal(exc: Exception, debug: bool) -> int:
    if debug:
        raise exc
    _error_line(
        text("error_internal", kind=type(exc).__name__, detail=exc), text("error_internal_hint")
    )
    return EXIT_UNKNOWN
