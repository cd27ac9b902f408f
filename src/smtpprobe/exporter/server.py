"""The exporter's HTTP side (aiohttp): ``/probe`` runs one probe per scrape, blackbox-style,
``/metrics`` tells about the exporter itself.

Bounded on every side: at most ``concurrency`` probes at once and as many waiting, each
within the module's timeout, the exporter's ``max_timeout`` and what Prometheus says it
will wait (``X-Prometheus-Scrape-Timeout-Seconds``, less a margin for the answer). A bad
request gets HTTP 400 and one line saying what to change.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)

from smtpprobe.errors import SMTPProbeError, UsageError
from smtpprobe.exporter.config import DEFAULT_MODULE, Module
from smtpprobe.fleet import FleetOptions, TargetResult, TargetSpec, run_fleet
from smtpprobe.isolation import InternalError
from smtpprobe.kb import load
from smtpprobe.render.prometheus import registry_for
from smtpprobe.validate import check_options
from smtpprobe.views.errors import localized

__all__ = ["Exporter", "ExporterLimits", "make_app"]

# Time kept back from Prometheus' scrape timeout to build and send the answer.
ANSWER_MARGIN = 0.5
# The least a probe is given, whatever the header says: below this no session can finish.
MIN_DEADLINE = 0.5
_URL_PARAMETERS = frozenset({"target", "module"})


@dataclass(frozen=True, slots=True)
class ExporterLimits:
    """How much the exporter may do at once, and for how long."""

    concurrency: int = 20
    max_timeout: float = 30.0


class Exporter:
    """The modules, the limits, and the exporter's own metrics."""

    def __init__(self, modules: Mapping[str, Module], limits: ExporterLimits) -> None:
        self.modules, self.limits = dict(modules), limits
        self.slots = asyncio.Semaphore(limits.concurrency)
        self.waiting = 0
        disable_created_metrics()  # type: ignore[no-untyped-call]  # *_created: noise here
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.probes = Counter(
            "smtpprobe_exporter_probes",
            "Probes run, by module.",
            ["module"],
            registry=self.registry,
        )
        self.failures = Counter(
            "smtpprobe_exporter_probe_failures",
            "Probes whose probe_success was 0, by module.",
            ["module"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "smtpprobe_exporter_rejected_requests",
            "Requests answered 400 (bad parameters) or 503 (too many probes waiting).",
            ["code"],
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "smtpprobe_exporter_probes_in_flight", "Probes running now.", registry=self.registry
        )
        for name in self.modules:  # every module's series exists from the start
            self.probes.labels(name)
            self.failures.labels(name)

    def _bad(self, error: SMTPProbeError) -> web.Response:
        self.rejected.labels("400").inc()
        return web.Response(status=400, text=_one_line(error) + "\n")

    def _deadline(self, module: Module, header: str | None) -> float:
        deadline = min(module.options.deadline, self.limits.max_timeout)
        try:
            scrape = float(header) if header else None
        except ValueError:
            scrape = None
        if scrape is not None and math.isfinite(scrape) and scrape > 0:
            deadline = min(deadline, scrape - ANSWER_MARGIN)
        return max(deadline, MIN_DEADLINE)

    def _request(self, request: web.Request) -> tuple[Module, str, int | None]:
        """The module and target a ``/probe`` request names.

        :raises UsageError: a parameter other than target and module, either one given
            twice, no target, an unknown module, a target that is no ``host[:port]``.
        """
        from smtpprobe.commands.probe import parse_host_port

        query = request.query
        for name in query:
            if name not in _URL_PARAMETERS:
                raise UsageError(key="exporter_url_parameter", params={"name": name[:64]})
            if len(query.getall(name)) > 1:
                raise UsageError(key="exporter_url_twice", params={"name": name})
        if not query.get("target"):
            raise UsageError(key="exporter_url_no_target")
        name = query.get("module", DEFAULT_MODULE)
        module = self.modules.get(name)
        if module is None:
            raise UsageError(
                key="exporter_url_module",
                params={"module": name[:64], "known": " ".join(sorted(self.modules))},
            )
        host, port = parse_host_port(query["target"])
        check_options(host, dataclasses.replace(module.options, port=port))
        return module, host, port

    async def probe(self, request: web.Request) -> web.Response:
        """``GET /probe?target=HOST[:PORT]&module=NAME``: one probe, as metrics."""
        try:
            module, host, port = self._request(request)
        except SMTPProbeError as exc:
            return self._bad(exc)
        deadline = self._deadline(
            module, request.headers.get("X-Prometheus-Scrape-Timeout-Seconds")
        )
        started = time.monotonic()
        if self.waiting >= self.limits.concurrency:  # as many waiting as running, no more
            self.rejected.labels("503").inc()
            return web.Response(status=503, text=_text("exporter_busy") + "\n")
        self.waiting += 1
        try:
            async with asyncio.timeout(deadline):
                await self.slots.acquire()
        except TimeoutError:
            self.rejected.labels("503").inc()
            return web.Response(status=503, text=_text("exporter_busy") + "\n")
        finally:
            self.waiting -= 1
        try:
            self.in_flight.inc()
            left = max(MIN_DEADLINE, deadline - (time.monotonic() - started))
            result = await _probe_one(module, host, port, left)
        finally:
            self.in_flight.dec()
            self.slots.release()
        self.probes.labels(module.name).inc()
        if result.status.exit_code > 1:
            self.failures.labels(module.name).inc()
        try:
            registry = registry_for([({}, result)], duration=time.monotonic() - started)
            body = generate_latest(registry)
        except Exception as exc:  # noqa: BLE001 - a bug here answers 500, never a traceback
            return web.Response(
                status=500,
                text=_one_line(
                    InternalError(key="fleet_internal", params={"error": type(exc).__name__})
                )
                + "\n",
            )
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def metrics(self, request: web.Request) -> web.Response:
        """``GET /metrics``: the exporter's own metrics."""
        return web.Response(
            body=generate_latest(self.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def index(self, request: web.Request) -> web.Response:
        return web.Response(
            text=_text("exporter_index").format(modules=" ".join(sorted(self.modules))) + "\n"
        )


async def _probe_one(module: Module, host: str, port: int | None, deadline: float) -> TargetResult:
    """One probe through `run_fleet`, so that it is isolated exactly as a fleet's target:
    a bug or EMFILE is this target's UNKNOWN, and the deadline holds whatever happens."""
    options = dataclasses.replace(
        module.options,
        deadline=deadline,
        command_timeout=min(module.options.command_timeout, deadline),
    )
    fleet = await run_fleet(
        [TargetSpec(host, port)],
        options=options,
        policy=module.policy,
        fleet=FleetOptions(concurrency=1, total_timeout=deadline + 1.0),
    )
    return fleet.results[0]


def _text(key: str) -> str:
    return load("en").ui(key)


def _one_line(error: SMTPProbeError) -> str:
    message, hint = localized(error, load("en"))
    line = f"{message}; {hint}" if hint else message
    return " ".join(line.split())  # one line, whatever a reason held


def make_app(exporter: Exporter) -> web.Application:
    """The aiohttp application: ``/``, ``/probe`` and ``/metrics``."""
    app = web.Application()
    app.add_routes(
        [
            web.get("/", exporter.index),
            web.get("/probe", exporter.probe),
            web.get("/metrics", exporter.metrics),
        ]
    )
    return app
