"""``smtpprobe exporter``: a Prometheus exporter, blackbox_exporter's multi-target way.

Only this command imports aiohttp and prometheus-client (the ``exporter`` extra).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Any

import click

from smtpprobe.commands._common import Seconds, WholeNumber, lang_from_env, lang_option
from smtpprobe.errors import UsageError
from smtpprobe.i18n import N_, LocalizedCommand, option

__all__ = ["exporter_command"]


def _listen(value: str) -> tuple[str, int]:
    from smtpprobe.commands.probe import parse_host_port

    host, port = parse_host_port(value)
    if port is None:
        raise UsageError(key="exporter_listen_port", params={"value": value})
    return host, port


async def _serve(app: Any, host: str, port: int, ready: str) -> None:
    from aiohttp import web

    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            raise UsageError(
                key="exporter_listen_failed", params={"host": host, "port": port, "reason": exc}
            ) from None
        click.echo(ready, err=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()


@click.command(
    "exporter",
    cls=LocalizedCommand,
    context_settings={"help_option_names": ["-h", "--help"]},
    help=N_(
        "Serve Prometheus metrics: GET /probe?target=HOST[:PORT]&module=NAME probes "
        "one server and answers with its findings as metrics; /metrics has the "
        "exporter's own. Options that send anything about users (users, lists, "
        "rcpt_check) come only from the --config modules, never from the URL."
    ),
)
@option(
    "--listen",
    default="127.0.0.1:9125",
    show_default=True,
    metavar="HOST:PORT",
    help=N_("Address and port to serve HTTP on."),
)
@option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help=N_("TOML file of modules: [modules.NAME] tables of probe options."),
)
@option(
    "--concurrency",
    type=WholeNumber(1, 1000),
    default=20,
    show_default=True,
    help=N_("Run at most N probes at once (as many more may wait)."),
)
@option(
    "--max-timeout",
    type=Seconds(),
    default=30.0,
    show_default=True,
    metavar="SECONDS",
    help=N_("No probe runs longer, whatever its module says."),
)
@option("--check-config", is_flag=True, help=N_("Read --config, list its modules, exit."))
@lang_option
def exporter_command(
    listen: str,
    config_path: str | None,
    concurrency: int,
    max_timeout: float,
    check_config: bool,
    lang: str | None,
) -> int:
    lang = lang or lang_from_env()
    try:
        from smtpprobe.exporter.config import load_modules
        from smtpprobe.exporter.server import Exporter, ExporterLimits, make_app
    except ImportError as exc:
        raise UsageError(key="exporter_missing", params={"name": exc.name or "aiohttp"}) from None
    host, port = _listen(listen)
    modules = load_modules(config_path)
    from smtpprobe.isolation import fd_budget

    if check_config:
        click.echo(" ".join(sorted(modules)))
        return 0
    from smtpprobe.kb import load

    allowed, limit = fd_budget(concurrency * 2)  # a probe's socket and its scrape's
    if allowed // 2 < concurrency:
        click.echo(
            "smtpprobe: "
            + load(lang)
            .ui("fleet_notice_clamped")
            .format(wanted=concurrency, allowed=max(1, allowed // 2), limit=limit),
            err=True,
        )
    exporter = Exporter(
        modules, ExporterLimits(max(1, min(concurrency, allowed // 2)), max_timeout)
    )
    shown = f"[{host}]" if ":" in host else host
    ready = (
        load(lang)
        .ui("exporter_ready")
        .format(url=f"http://{shown}:{port}", modules=" ".join(sorted(modules)))
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(make_app(exporter), host, port, ready))
    return 0
