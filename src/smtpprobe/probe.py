"""The live probe: one SMTP session against a real server, every exchange recorded.

Resolve, connect, read the greeting, then the steps of `smtpprobe.report.STEPS` that the
options select, under one deadline. The probe records and never prints; progress goes to
the caller's ``on_event``. Never sends DATA.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from time import perf_counter

from smtpprobe.addresses import Addresses, control_address
from smtpprobe.auth import authenticate
from smtpprobe.certificate import certificate_info, name_matches
from smtpprobe.errors import (
    ProbeInterruptedError,
    ProbeTimeoutError,
    ProbeTLSError,
    ResolveError,
    ServerDisconnectedError,
    SMTPProbeError,
)
from smtpprobe.interpret import interpret
from smtpprobe.interpret.facts import facts
from smtpprobe.recorder import Recorder, ServerEnded
from smtpprobe.reply import Reply
from smtpprobe.report import (
    ProbeEvent,
    ProbeOptions,
    ProbeReport,
    Session,
    Target,
    TlsInfo,
    TlsMode,
    TlsScan,
)
from smtpprobe.tls import client_context, describe
from smtpprobe.validate import check_options

__all__ = [
    "QUIT_TIMEOUT",
    "ProbeEvent",
    "ProbeInterrupted",
    "ProbeOptions",
    "ProbeReport",
    "probe",
]

# QUIT is a courtesy: never wait long for its 221.
QUIT_TIMEOUT = 1.0
# After 221 the server closes; bytes that still come meanwhile were never read as replies.
LEFTOVER_WAIT = 0.2


class ProbeInterrupted(asyncio.CancelledError):
    """The probe was cancelled (Ctrl-C); ``report`` holds what it had recorded.

    A `CancelledError`, so cancellation keeps its meaning for callers that do not care;
    the CLI catches it to print the partial report (``session.complete`` False, the
    session's error of kind ``interrupted``).
    """

    def __init__(self, report: ProbeReport) -> None:
        super().__init__()
        self.report = report


async def probe(
    host: str,
    /,
    *,
    options: ProbeOptions = ProbeOptions(),
    on_event: Callable[[ProbeEvent], None] | None = None,
) -> ProbeReport:
    """Probe *host* once and return what it said, with the interpreter's findings.

    Only bad input and an unresolvable name raise, and both before anything is sent.
    Everything that goes wrong once resolution succeeded (refused connection, timeout,
    disconnect, malformed reply, TLS or certificate failure) is recorded instead:
    ``report.session.complete`` is False and ``report.session.error`` holds the
    `RemoteError` with ``phase`` set (``connect``, ``tls``, ``banner``, ``EHLO`` …).
    Exceptions raised by *on_event* and task cancellation propagate unchanged.

    :raises UsageError: invalid options (a user, list, HELO name or host with spaces or
        control characters, an unknown step, a CA file that cannot be read …).
    :raises ResolveError: *host* does not resolve (or not within the deadline).
    """
    host = check_options(host, options)
    run = _Run(host, options, on_event)
    session = await run.execute()
    report = ProbeReport(session, interpret(session))
    if isinstance(session.error, ProbeInterruptedError):
        raise ProbeInterrupted(report)
    return report


class _Run:
    """The flow of one probe run; `execute` turns what the recorder kept into a `Session`."""

    def __init__(
        self, host: str, options: ProbeOptions, on_event: Callable[[ProbeEvent], None] | None
    ) -> None:
        self.host, self.options = host, options
        self.port = options.port or (465 if options.tls is TlsMode.IMPLICIT else 25)
        self.implicit = options.tls is TlsMode.IMPLICIT or (
            options.tls is TlsMode.AUTO and self.port == 465
        )
        self.verify_ctx: ssl.SSLContext | None = None
        # SNI and the name checked are the host probed unless --sni / --verify-name say
        # otherwise (probing an address); when they differ OpenSSL checks the chain only
        # and `_check_name` the name.
        self.sni = options.sni or host
        self.verify_name = options.verify_name or self.sni
        self.own_name_check = self.verify_name != self.sni
        if options.tls is not TlsMode.NONE:
            self.verify_ctx = client_context(
                cafile=options.cafile,
                verify=True,
                cert=options.client_cert,
                key=options.client_key,
                check_name=not self.own_name_check,
            )
        # Set when the certificate failed and TLS was asked for explicitly without
        # --insecure: the probe looks at the certificate, then stops (fails closed).
        self.fail_closed: ProbeTLSError | None = None
        self.control = options.control_address or control_address(options.users)
        self.on_event = on_event
        self.rec: Recorder  # made by `execute`, on the loop that runs the session
        # Where and how the session connected, for a reconnect after a hang-up.
        self._addresses: list[tuple[int, str]] = []
        self._context: ssl.SSLContext | None = None
        self._fresh()

    def _reset(self) -> None:
        """A new connection replaces the old one: forget its transcript and its facts."""
        self.rec.restart()
        self._fresh()

    def _fresh(self) -> None:
        self.addresses = Addresses(self.options.users, self.control, self.options.domain)
        self.greeting: Reply | None = None
        self.ehlo_before_tls: Reply | None = None
        self.tls: TlsInfo | None = None
        self.verify_error = ""
        self.address: str | None = None
        self.auth_skipped = ""

    async def execute(self) -> Session:
        started_at = datetime.now(UTC)
        # The recorder is made here, on the running loop whose clock the deadline uses.
        self.rec = rec = Recorder(
            deadline=asyncio.get_running_loop().time() + self.options.deadline,
            started=perf_counter(),
            command_timeout=self.options.command_timeout,
            on_event=self.on_event,
            foreign_reply=_foreign_reply(),
        )
        error: SMTPProbeError | None = None
        ended = False
        try:
            addresses = await self._resolve()
            async with asyncio.timeout_at(rec.deadline):
                await self._converse(addresses)
            await self._quit()
            await self._check_leftover()
        except ResolveError:
            raise
        except asyncio.CancelledError:
            # Not our deadline (timeout_at turns that into TimeoutError): the caller
            # cancelled, usually Ctrl-C. Keep what was recorded; `probe` re-raises.
            error = ProbeInterruptedError(key="error_probe_interrupted", phase=rec.phase)
        except ServerEnded as end:
            ended = True
            if end.polite:
                await self._quit()
        except SMTPProbeError as exc:
            error = exc
            error.phase = error.phase or rec.phase
        except TimeoutError:
            error = ProbeTimeoutError(
                key="error_session_deadline",
                phase=rec.phase,
                params={"deadline": self.options.deadline},
            )
        finally:
            rec.wire.close()
            await rec.wire.wait_closed()
        tls_scan = await self._tls_scan() if self.options.tls_scan else None
        return Session(
            target=Target(
                self.host,
                self.port,
                self.address
                or _literal(self.host)
                or (self.options.connect_to[0] if len(self.options.connect_to) == 1 else None),
                self.options.tls,
            ),
            options=self.options,
            exchanges=tuple(rec.exchanges),
            started_at=started_at,
            elapsed=perf_counter() - rec.t0,
            connect_elapsed=rec.wire.connect_elapsed,
            tls=self.tls,
            ehlo_before_tls=self.ehlo_before_tls,
            complete=error is None and not ended,
            error=error,
            stray=rec.wire.stray,
            unsolicited=tuple(rec.wire.unsolicited),
            control_address=self.control,
            qualified_users=dict(self.addresses.qualified),
            auth_skipped=self.auth_skipped,
            desync=rec.desync,
            source=rec.wire.source_address,
            tls_scan=tls_scan,
        )

    async def _tls_scan(self) -> TlsScan | None:
        """``--tls-scan`` in connections of its own, to the address the session reached,
        in what is left of the deadline."""
        from smtpprobe.tls_scan import ScanTarget, scan

        if self.options.tls is TlsMode.NONE or self.address is None:
            return None
        if not self.implicit and self.tls is None and not self._wants_starttls():
            return None  # no STARTTLS to scan through
        self.rec.enter("tls-scan", f"{self.address} port {self.port}")
        target = ScanTarget(
            address=self.address,
            port=self.port,
            implicit=self.implicit,
            sni=self.sni,
            family=socket.AF_INET6 if ":" in self.address else socket.AF_INET,
            helo=self.options.helo,
            client_cert=self.options.client_cert,
            client_key=self.options.client_key,
        )
        return await scan(
            target,
            deadline=self.rec.deadline,
            concurrency=self.options.scan_concurrency,
            step_timeout=self.options.command_timeout,
        )

    async def _resolve(self) -> list[tuple[int, str]]:
        self.rec.enter("resolve", self.host)
        if self.options.connect_to:
            return [
                (socket.AF_INET6 if ":" in address else socket.AF_INET, address)
                for address in self.options.connect_to
            ]
        try:
            async with asyncio.timeout_at(self.rec.deadline):
                infos = await _getaddrinfo(self.host, self.port, self.options.family)
        except TimeoutError:
            raise ResolveError(
                key="error_resolve_slow", phase="resolve", params={"host": self.host}
            ) from None
        except (OSError, UnicodeError) as exc:
            reason = exc if isinstance(exc, OSError) else str(exc)
            raise ResolveError(
                key="error_resolve_host",
                phase="resolve",
                params={"host": self.host, "reason": reason},
            ) from exc
        return list(dict.fromkeys((family, str(addr[0])) for family, _, _, _, addr in infos))

    async def _converse(self, addresses: list[tuple[int, str]]) -> None:
        self._addresses, self._context = addresses, self.verify_ctx
        try:
            await self._open(addresses, self.verify_ctx)
        except ProbeTLSError as exc:
            reason = _verify_reason(exc)
            if not reason:
                raise
            # The failed handshake killed the connection. OpenSSL's own check gave the
            # verdict and its reason; now look anyway over a new, unverified connection
            # (rather than re-implementing chain and name checks after an unverified one),
            # so the report has the certificate's facts. Opportunistic TLS (auto, RFC 7435)
            # goes on over it, as MTAs do on port 25; TLS asked for explicitly fails closed
            # there unless --insecure.
            self.rec.enter("reconnect", reason)
            self._reset()
            self.verify_error = reason
            if self.options.tls is not TlsMode.AUTO and not self.options.insecure:
                self.fail_closed = exc
            self._context = client_context(
                cafile=None,
                verify=False,
                cert=self.options.client_cert,
                key=self.options.client_key,
            )
            await self._open(addresses, self._context)
        await self._dialogue()

    async def _dialogue(self) -> None:
        """What the session is for, once the channel is set up: the probe's steps here;
        ``smtpprobe send`` runs a mail transaction instead (`smtpprobe.send`)."""
        steps = {
            "auth": self._auth,
            "help": self._help,
            "vrfy": self._vrfy,
            "expn": self._expn,
            "noop": self._noop,
            "rset": self._rset,
            "rcpt": self._rcpt,
        }
        for name, step in steps.items():
            if name in self.options.steps:
                await step()
        if self.options.relay_check:
            await self._relay()
        if self.options.commands:
            await self._commands()

    async def _relay(self) -> None:
        from smtpprobe.relay import DEFAULT_OUTSIDE, relay_tests, run_relay_tests

        domain = self.addresses.domain or self.host
        outside = self.options.relay_to or DEFAULT_OUTSIDE
        await run_relay_tests(self.rec, relay_tests(domain, self.address, outside))

    async def _open(self, addresses: list[tuple[int, str]], ctx: ssl.SSLContext | None) -> None:
        """Connect, read the greeting, say EHLO and secure the channel as asked."""
        await self._connect(addresses, ctx if self.implicit else None)
        if self.implicit:
            self._record_tls(TlsMode.IMPLICIT, ctx)
        banner = await self.rec.exchange("banner", b"")
        self.addresses.learn_domain(banner)
        if banner.code != 220:
            # RFC 5321 §3.1: after a 554 greeting the client should still send QUIT.
            raise ServerEnded(polite=True)
        await self._greet()
        if ctx is not None and self._wants_starttls():
            await self._starttls(ctx)

    async def _connect(self, addresses: list[tuple[int, str]], ctx: ssl.SSLContext | None) -> None:
        last: SMTPProbeError | None = None
        for family, address in addresses:
            self.rec.enter("connect", f"{address} port {self.port}")
            wire = self.rec.new_wire()
            try:
                await wire.connect(
                    address,
                    self.port,
                    family=family,
                    timeout=self.rec.left(),
                    source=self.options.source,
                )
            except SMTPProbeError as exc:  # refused or timed out: try the next address
                exc.phase, last = "connect", exc
                continue
            if ctx is not None:
                # Implicit TLS (RFC 8314) is a phase of its own, so that a handshake that
                # stalls until the deadline is reported as "tls", not as "connect".
                self.rec.enter("tls", self.host)
                try:
                    await wire.upgrade(ctx, self.sni, self.rec.left())
                    self._check_name(ctx)
                except ProbeTLSError as exc:
                    exc.phase = "tls"
                    raise
                except SMTPProbeError as exc:  # a stalled handshake: try the next address
                    exc.phase, last = "tls", exc
                    continue
            self.address = address
            return
        if last is None:
            raise ResolveError(
                key="error_resolve_no_address", phase="resolve", params={"host": self.host}
            )
        raise last

    async def _greet(self) -> None:
        helo = self.options.helo.encode()
        reply = await self.rec.exchange("EHLO", b"EHLO " + helo)
        if reply.klass == 5:  # RFC 5321 §4.1.4: an old server; fall back to HELO
            reply = await self.rec.exchange("HELO", b"HELO " + helo)
        self.greeting = reply
        self.addresses.learn_domain(reply)

    def _wants_starttls(self) -> bool:
        if "starttls" not in self.options.steps or self.implicit:
            return False
        if self.options.tls is TlsMode.STARTTLS:
            return True
        greeting = self.greeting
        return (
            greeting is not None
            and greeting.code == 250
            and any(line.upper().split()[:1] == ["STARTTLS"] for line in greeting.lines[1:])
        )

    async def _starttls(self, ctx: ssl.SSLContext) -> None:
        reply = await self.rec.exchange("STARTTLS", b"STARTTLS")
        if reply.code != 220:
            return  # the interpreter judges a refused STARTTLS; the session goes on in clear
        self.rec.enter("tls", self.host)
        try:
            await self.rec.wire.upgrade(ctx, self.sni, self.rec.left())
            self._check_name(ctx)
        except SMTPProbeError as exc:
            exc.phase = "tls"
            raise
        self._record_tls(TlsMode.STARTTLS, ctx)
        self.rec.in_step()
        self.ehlo_before_tls = self.greeting
        await self._greet()

    def _check_name(self, ctx: ssl.SSLContext) -> None:
        """``--verify-name`` other than the SNI name: check the name OpenSSL did not.

        :raises ProbeTLSError: the certificate is not valid for the name, worded and
            caused like OpenSSL's own hostname mismatch, so --insecure handles it alike.
        """
        ssl_object = self.rec.wire.ssl_object()
        if not self.own_name_check or ctx is not self.verify_ctx or ssl_object is None:
            return
        der = ssl_object.getpeercert(binary_form=True)
        if der and name_matches(certificate_info(der), self.verify_name):
            return
        cause = ssl.SSLCertVerificationError(1, "certificate verify failed")
        cause.verify_code = 62  # X509_V_ERR_HOSTNAME_MISMATCH
        cause.verify_message = (
            f"Hostname mismatch, certificate is not valid for '{self.verify_name}'."
        )
        self.rec.wire.close()
        raise ProbeTLSError(
            key="error_tls_verify", params={"reason": cause.verify_message}
        ) from cause

    def _record_tls(self, mode: TlsMode, ctx: ssl.SSLContext | None) -> None:
        verified = ctx is not None and ctx is self.verify_ctx
        ssl_object = self.rec.wire.ssl_object()
        if ssl_object is not None:
            self.tls = describe(
                ssl_object,
                mode,
                verified=verified,
                verify_error=self.verify_error,
                handshake_elapsed=self.rec.wire.handshake_elapsed,
                sni=self.sni,
                verify_name=self.verify_name,
                client_certificate=self.options.client_cert is not None,
            )
        if self.fail_closed is not None:
            raise self.fail_closed

    async def _auth(self) -> None:
        if self.options.auth_user is None:
            return
        if self.tls is not None and self.verify_error and not self.options.insecure:
            # Opportunistic TLS went on past a certificate that failed: fine for reading
            # replies, never for a password (anyone in the middle could be the server).
            self.auth_skipped = "unverified"
            return
        self.auth_skipped = await authenticate(
            self.rec, self.options, self.greeting, encrypted=self.tls is not None
        )

    async def _help(self) -> None:
        await self.rec.exchange("HELP", b"HELP")
        await self.rec.exchange("HELP", b"HELP VRFY", argument="VRFY")

    async def _vrfy(self) -> None:
        sent = {address: await self._vrfy_one(address) for address in self.addresses.all}
        # A relay refusal moved the domain mid-way: ask the addresses asked before in the
        # final form too, so the real and the control replies stay comparable.
        for address in self.addresses.all:
            final = self.addresses.for_vrfy(address)
            if sent[address] != final:
                await self._ask("VRFY", address, final)

    async def _vrfy_one(self, address: str) -> str:
        """Ask VRFY about *address*, again in another form while the server asks for one."""
        sent = self.addresses.for_vrfy(address)
        reply = await self._ask("VRFY", address, sent)
        # Postfix and kin want user@domain, or refuse to "relay" to a domain they do not
        # serve: ask again; from now on every address (the control one too) uses that form.
        for _attempt in range(2):
            if not (
                self.addresses.asks_for_domain(reply, sent)
                or self.addresses.move_past_relay_refusal(reply, sent)
            ):
                break
            qualified = self.addresses.for_vrfy(address)
            if qualified == sent:
                break
            sent = qualified
            reply = await self._ask("VRFY", address, sent)
        return sent

    async def _expn(self) -> None:
        # The control name makes EXPN judged like VRFY: by comparison, not by one reply.
        for name in (*self.options.lists, self.addresses.control):
            await self._ask("EXPN", name, name)

    async def _ask(self, verb: str, name: str, sent: str) -> Reply:
        """Ask *verb* about *name* in the form *sent*, stamped with whose name it is.

        With a list of names (``reconnect``), a server that hangs up after too many errors
        is connected to again, and the name asked once more there.
        """
        role = "control" if name == self.addresses.control else "real"
        line = f"RCPT TO:<{sent}>" if verb == "RCPT" else f"{verb} {sent}"
        await self._pause()
        try:
            return await self.rec.exchange(verb, line.encode(), argument=sent, role=role, name=name)
        except (ServerEnded, ServerDisconnectedError):
            if not self.options.reconnect or self.rec.left() <= 0:
                raise
        await self._reconnect_after_hangup()
        if verb == "RCPT":
            await self.rec.exchange("MAIL", b"MAIL FROM:<>")
        return await self.rec.exchange(verb, line.encode(), argument=sent, role=role, name=name)

    async def _pause(self) -> None:
        """``--delay``: be polite between names, within the session's deadline."""
        if self.options.delay > 0:
            await asyncio.sleep(min(self.options.delay, self.rec.left(self.options.delay)))

    async def _reconnect_after_hangup(self) -> None:
        """A new connection after the server hung up (its last words are recorded)."""
        self.rec.enter("reconnect", "the server closed the connection")
        await self._open(self._addresses, self._context)
        if "auth" in self.options.steps and self.options.auth_user is not None:
            await self._auth()

    async def _commands(self) -> None:
        """``--command``: each line as given, its reply recorded and explained."""
        for line in self.options.commands:
            verb = line.split(None, 1)[0].upper()
            await self.rec.exchange(verb, line.encode())

    async def _noop(self) -> None:
        await self.rec.exchange("NOOP", b"NOOP")

    async def _rset(self) -> None:
        await self.rec.exchange("RSET", b"RSET")

    async def _rcpt(self) -> None:
        reply = await self.rec.exchange("MAIL", b"MAIL FROM:<>")
        if reply.klass == 2:
            for address in self.addresses.all:
                await self._ask("RCPT", address, self.addresses.qualify(address))
        await self.rec.exchange("RSET", b"RSET")

    async def _quit(self) -> None:
        left = self.rec.left(QUIT_TIMEOUT)
        if "quit" not in self.options.steps or left <= 0:
            return
        try:
            reply = await self.rec.exchange("QUIT", b"QUIT", timeout=left)
        except (SMTPProbeError, ServerEnded):
            return  # recorded on the exchange; a missing 221 does not spoil the session
        if reply.code != 221:  # RFC 5321 §4.1.1.10: the reply to QUIT is 221, nothing else
            self.rec.out_of_step(
                "quit-reply", code=reply.code, exchange=len(self.rec.exchanges) - 1
            )

    async def _check_leftover(self) -> None:
        """Bytes never read as a reply when the session ends: one reply more than commands.

        After QUIT the server closes; wait for that briefly, so a reply that a stray
        pushed out of step (often the real 221) is still seen.
        """
        quits = [ex for ex in self.rec.exchanges if ex.phase == "QUIT"]
        if quits and quits[-1].reply is None:
            return  # QUIT went unanswered in time: a late 221 is its own, not a stray's
        wait = min(LEFTOVER_WAIT, self.rec.left()) if quits else 0.0
        leftover = await self.rec.wire.leftover(wait)
        if leftover:
            self.rec.out_of_step("leftover-bytes", data=leftover)


# Codes the RFCs do not list for a command but servers send as its own answer: a plain
# 250 to HELP (aiosmtpd and others; the help finding reports it as non-conforming).
_QUIRKS = frozenset({("HELP", 250)})


def _foreign_reply() -> Callable[[int, str], bool]:
    """Whether a code cannot be a command's own answer, so replies are out of step.

    RFC 5321 §4.3.2 lists each command's codes (the KB's table), but servers refuse any
    command in their own ways (Postfix answers VRFY 454 for relaying, greylisting 451):
    an unlisted 4xx/5xx is a refusal, not a shift, except to NOOP, RSET and QUIT, which
    cannot fail. An unlisted success or intermediate code (252 to HELP, 250 to QUIT, 354
    to RCPT) is another command's answer or a stray.
    """
    # The table is a fact of the knowledge base, read as the interpreter reads it: no words.
    rules = facts()

    def foreign(code: int, verb: str) -> bool:
        rule = rules.command_rule(verb)
        if rule is None or rules.reply_allowed(code, verb) is not False:
            return False
        if (verb, code) in _QUIRKS:
            return False
        return code // 100 in (2, 3) or not rule.error

    return foreign


_AddrInfo = Sequence[tuple[int, int, int, str, tuple[object, ...]]]


async def _getaddrinfo(host: str, port: int, family: int) -> _AddrInfo:
    """The system resolver, in a daemon thread of its own that is never waited for.

    ``loop.getaddrinfo`` runs in the loop's default executor, which ``asyncio.run``
    joins on the way out: a resolver that never answers held ``--timeout 2`` for 15 s.
    Here the deadline abandons the thread, and it ends whenever the resolver gives up.
    """
    try:  # an address literal needs no resolver (and no thread: a fleet has thousands)
        return socket.getaddrinfo(host, port, family, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST)
    except (OSError, UnicodeError):
        pass  # a name, or a literal of the other family: the resolver's answer decides
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[_AddrInfo] = loop.create_future()

    def settle(result: _AddrInfo | None, error: BaseException | None) -> None:
        if answer.done():
            return  # the probe gave up waiting
        if error is not None:
            answer.set_exception(error)
        else:
            answer.set_result(result or [])

    def resolve() -> None:
        result: _AddrInfo | None = None
        error: BaseException | None = None
        try:
            result = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)
        except Exception as exc:  # noqa: BLE001 - whatever it is, the waiting probe raises it
            error = exc
        try:
            loop.call_soon_threadsafe(settle, result, error)
        except RuntimeError:
            pass  # the loop is closed: nobody is waiting any more

    threading.Thread(target=resolve, name="smtpprobe-resolve", daemon=True).start()
    return await answer


def _literal(host: str) -> str | None:
    """*host* when it is an IP address: the address is known even if no connection came."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def _verify_reason(exc: ProbeTLSError) -> str:
    """The certificate's fault when that is why the handshake failed, else ``""``."""
    cause = exc.__cause__
    if isinstance(cause, ssl.SSLCertVerificationError):
        return str(cause.verify_message or cause.reason or "certificate verification failed")
    return ""
