"""One target's failure stays that target's: internal errors, local resource limits, the
whole run's deadline, and the open-file budget that bounds ``--concurrency``.

Used by `smtpprobe.fleet` and the exporter. Nothing here prints.
"""

from __future__ import annotations

import asyncio
import errno
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from smtpprobe.errors import SMTPProbeError

__all__ = [
    "FD_RESERVE",
    "SAID_ONCE",
    "InternalError",
    "LocalResourceError",
    "RunGuard",
    "TotalTimeoutError",
    "fd_budget",
    "is_out_of_files",
]

# Descriptors kept back for what is not a probe socket: stdio, the event loop's selector
# and self-pipe, the --junit file, a resolver's sockets, Python's own imports.
FD_RESERVE = 64
_OUT_OF_FILES = frozenset({errno.EMFILE, errno.ENFILE})
T = TypeVar("T")
# Error kinds told once for the whole run (`smtpprobe.views.summary_view.fleet_notices`),
# not per target.
SAID_ONCE = frozenset({"internal", "local", "total-timeout"})


class InternalError(SMTPProbeError):
    """A bug met while probing or judging one target: that target is UNKNOWN, no other."""

    kind = "internal"


class LocalResourceError(SMTPProbeError):
    """This machine ran out of something (open files): not the server's fault."""

    kind = "local"


class TotalTimeoutError(SMTPProbeError):
    """``--total-timeout`` ended the run before this target was (fully) probed."""

    kind = "total-timeout"


def is_out_of_files(error: BaseException | None) -> bool:
    """Whether *error*, or what caused it, is EMFILE/ENFILE ("Too many open files")."""
    seen = 0
    while error is not None and seen < 8:  # a cause chain is short; never loop forever
        if isinstance(error, OSError) and error.errno in _OUT_OF_FILES:
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False


def fd_budget(wanted: int, per_probe: int = 1) -> tuple[int, int]:
    """How many probes may run at once within RLIMIT_NOFILE: (allowed, soft limit).

    The soft limit is first raised towards the hard one (as far as *wanted* needs), which
    any process may do; *allowed* is *wanted* when that suffices, else what fits.
    """
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = wanted * per_probe + FD_RESERVE
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass  # a container may forbid it; the clamp below still holds
    if soft == resource.RLIM_INFINITY:
        return wanted, soft
    return max(1, min(wanted, (soft - FD_RESERVE) // per_probe)), soft


@dataclass(slots=True)
class RunGuard:
    """The state one run shares between its targets: its deadline and what went wrong
    locally (counted, so that it can be said once)."""

    deadline: float | None = None  # time.monotonic() value, None for no limit
    out_of_files: int = 0
    internal: int = 0
    timed_out: int = 0

    @classmethod
    def starting(cls, total_timeout: float | None) -> RunGuard:
        return cls(None if total_timeout is None else time.monotonic() + total_timeout)

    @property
    def expired(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    async def run(
        self, work: Callable[[], Awaitable[T]], on_error: Callable[[SMTPProbeError], T]
    ) -> T:
        """Await *work()* within the deadline; any exception becomes ``on_error(error)``.

        An exception other than `SMTPProbeError` is a bug: it becomes an `InternalError`
        naming only its type (its text may hold server bytes). Cancellation passes.
        """
        if self.expired:
            return self._timed_out(on_error)
        limit = (
            None
            if self.deadline is None
            else asyncio.timeout(max(0.0, self.deadline - time.monotonic()))
        )
        try:
            if limit is None:
                return await work()
            async with limit:
                return await work()
        except SMTPProbeError as exc:  # before TimeoutError: ProbeTimeoutError is one too
            return on_error(exc)
        except asyncio.CancelledError:
            # The probe turns a cancellation into ProbeInterrupted (a CancelledError that
            # asyncio.timeout does not convert): ours when our limit expired, else passed on.
            if limit is None or not limit.expired():
                raise
            return self._timed_out(on_error)
        except Exception as exc:  # noqa: BLE001 - isolation is the point: one target fails
            if isinstance(exc, TimeoutError) and limit is not None and limit.expired():
                return self._timed_out(on_error)
            self.internal += 1
            return on_error(
                InternalError(key="fleet_internal", params={"error": type(exc).__name__})
            )

    def _timed_out(self, on_error: Callable[[SMTPProbeError], T]) -> T:
        self.timed_out += 1
        return on_error(TotalTimeoutError(key="fleet_total_timeout"))
