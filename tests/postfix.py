"""A private Postfix instance on a loopback port, for integration tests against a real MTA.

Postfix's own master(8) runs in the foreground with its configuration, queue, data and log
all in a temporary directory, on a free 127.0.0.1 port: a system Postfix, if there is one,
is never touched (different config directory, queue, pid lock and port).
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.ports import free_port

__all__ = [
    "DEFAULT_VRFY",
    "DELIVERING",
    "DELIVERY_DOMAIN",
    "HOSTNAME",
    "VRFY_DISABLED",
    "PostfixInstance",
    "PostfixPool",
    "PostfixUnavailable",
    "postfix_pool",
    "postfix_server",
    "running_postfix",
]

HOSTNAME = "mx.postfix.test"
DOMAIN = "postfix.test"
# Configurations the tests are parametrised over: Postfix's default, and VRFY switched off.
DEFAULT_VRFY: Mapping[str, str] = {}
VRFY_DISABLED: Mapping[str, str] = {"disable_vrfy_command": "yes"}
# Set in CI, where Postfix is installed by scripts/setup.sh: a broken fixture must fail there.
REQUIRE_ENV = "SMTPPROBE_REQUIRE_POSTFIX"
SBIN_DIRS = ("/usr/sbin", "/usr/local/sbin", "/sbin")
START_ATTEMPTS = 3


class PostfixUnavailable(Exception):
    """Postfix is not installed here, or this instance could not be started."""


@dataclass(frozen=True)
class PostfixInstance:
    """A running private Postfix: where it listens and where its files and log are."""

    host: str
    port: int
    root: Path
    pid: int

    @property
    def log(self) -> Path:
        return self.root / "maillog"

    def log_tail(self, lines: int = 20) -> str:
        """The last *lines* of the instance's maillog (and master's stderr), for failures."""
        text = ""
        for path in (self.log, self.root / "master.stderr"):
            with contextlib.suppress(OSError):
                text += path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


def _tool(name: str) -> str:
    """The path of a Postfix command on PATH or in the usual sbin directories.

    :raises PostfixUnavailable: when it is not installed.
    """
    found = shutil.which(name) or shutil.which(name, path=os.pathsep.join(SBIN_DIRS))
    if found is None:
        raise PostfixUnavailable(
            f"Postfix is not installed (no {name!r} on PATH or in {', '.join(SBIN_DIRS)}); "
            "`bash scripts/setup.sh test` installs it as root on Debian"
        )
    return found


def _check_host() -> tuple[str, str, str]:
    """Paths of postconf, postalias and master, after checking we can run Postfix at all.

    :raises PostfixUnavailable: when Postfix is missing, or we are not root.
    """
    postconf, postalias = _tool("postconf"), _tool("postalias")
    daemon_dir = subprocess.run(
        [postconf, "-h", "daemon_directory"], capture_output=True, text=True, check=False
    ).stdout.strip()
    master = Path(daemon_dir or "/usr/lib/postfix/sbin") / "master"
    if not os.access(master, os.X_OK):
        raise PostfixUnavailable(f"Postfix's master daemon is missing ({master})")
    if os.geteuid() != 0:
        raise PostfixUnavailable("Postfix's master(8) runs only as root, and we are not root")
    try:
        pwd.getpwnam("postfix")
        grp.getgrnam("postdrop")
    except KeyError as exc:
        raise PostfixUnavailable(f"the Postfix account is missing: {exc}") from exc
    return postconf, postalias, str(master)


def _main_cf(root: Path, settings: Mapping[str, str]) -> str:
    conf = root / "conf"
    values = {
        "compatibility_level": "3.6",
        "config_directory": str(conf),
        "queue_directory": str(root / "queue"),
        "data_directory": str(root / "data"),
        "mail_owner": "postfix",
        "setgid_group": "postdrop",
        "inet_interfaces": "127.0.0.1",
        "inet_protocols": "ipv4",
        "myhostname": HOSTNAME,
        "mydomain": DOMAIN,
        # Unqualified names (`VRFY alice`) get @postfix.test, a local domain, as on a typical
        # Debian MX whose /etc/mailname holds the domain.
        "myorigin": "$mydomain",
        "mydestination": "$myhostname, $mydomain, localhost",
        # The prober is an outsider, as on a real MX: loopback is not a trusted network, so
        # addresses outside mydestination get "454 4.7.1 Relay access denied".
        "mynetworks": "192.0.2.1/32",
        "alias_maps": f"hash:{conf}/aliases",
        "alias_database": f"hash:{conf}/aliases",
        "local_recipient_maps": "$alias_maps",
        "smtpd_banner": "$myhostname ESMTP $mail_name",
        # Postfix >= 3.4 logs to a file through postlogd(8): no syslog needed in a container.
        "maillog_file": str(root / "maillog"),
        "maillog_file_prefixes": str(root),
        # No DNS in tests; the client's name does not change any VRFY reply.
        "smtpd_peername_lookup": "no",
        "biff": "no",
        # Without qmgr (nothing is delivered) cleanup's flow control never gets a token
        # back and waits in_flow_delay (1 s) before every new message, a pause a live MX
        # with its qmgr does not make: each smuggling trial cost a second of sleep.
        "in_flow_delay": "0s",
    }
    values.update(settings)
    for key, value in values.items():
        if "\n" in key + value or "=" in key:
            raise ValueError(f"bad main.cf setting {key!r} = {value!r}")
    return "".join(f"{key} = {value}\n" for key, value in values.items())


# With these, a message for a `virtual_mailbox_domains` address is delivered into a
# mailbox file under the instance's root (DELIVERING); nothing else is ever sent out.
_DELIVERY_SERVICES = (
    "qmgr unix n - n 300 1 qmgr\n"
    "virtual unix - n n - - virtual\n"
    "bounce unix - - n - 0 bounce\n"
    "defer unix - - n - 0 bounce\n"
    "trace unix - - n - 0 bounce\n"
    "error unix - - n - - error\n"
    "retry unix - - n - - error\n"
)
_DELIVERY_QUEUES = (
    "active",
    "deferred",
    "defer",
    "bounce",
    "trace",
    "hold",
    "corrupt",
    "saved",
    "flush",
    "maildrop",
)
DELIVERY_DOMAIN = "mailbox.test"


# main.cf settings that deliver mail for bob@mailbox.test into ``<root>/mail/bob`` (mbox,
# written by virtual(8) as the postfix user, whose ids `_make_layout` adds).
DELIVERING: Mapping[str, str] = {
    "virtual_mailbox_domains": DELIVERY_DOMAIN,
    "virtual_mailbox_maps": f"inline:{{ bob@{DELIVERY_DOMAIN}=bob }}",
    "virtual_minimum_uid": "1",
}


def _master_cf(port: int, deliver: bool = False) -> str:
    # Only the services an SMTP dialogue up to RCPT needs; no chroot, no qmgr/pickup, so
    # nothing is ever delivered or sent out (unless *deliver*: to a local mailbox file).
    return (
        f"127.0.0.1:{port} inet n - n - - smtpd\n"
        "rewrite unix - - n - - trivial-rewrite\n"
        "cleanup unix n - n - 0 cleanup\n"
        "anvil unix - - n - 1 anvil\n"
        "postlog unix-dgram n - n - 1 postlogd\n"
        # smtpd gets its TLS entropy and session cache from tlsmgr: without it, TLS is off.
        "tlsmgr unix - - n 1000? 1 tlsmgr\n"
    ) + (_DELIVERY_SERVICES if deliver else "")


def _make_layout(root: Path, port: int, settings: Mapping[str, str]) -> None:
    postfix_uid = pwd.getpwnam("postfix").pw_uid
    postdrop_gid = grp.getgrnam("postdrop").gr_gid
    # Postfix daemons drop to the postfix user and must be able to reach their queue.
    root.chmod(0o755)
    for name, owner, group, mode in (
        ("conf", 0, 0, 0o755),
        ("data", postfix_uid, 0, 0o700),
        ("queue", 0, 0, 0o755),
        ("queue/pid", 0, 0, 0o755),
        ("queue/private", postfix_uid, 0, 0o700),
        ("queue/public", postfix_uid, postdrop_gid, 0o710),
        ("queue/incoming", postfix_uid, 0, 0o700),
    ):
        path = root / name
        path.mkdir()
        os.chown(path, owner, group)
        path.chmod(mode)
    deliver = "virtual_mailbox_domains" in settings
    if deliver:
        settings = {
            **settings,
            "virtual_mailbox_base": str(root / "mail"),
            "virtual_uid_maps": f"static:{postfix_uid}",
            "virtual_gid_maps": f"static:{pwd.getpwnam('postfix').pw_gid}",
        }
        for name in (*(f"queue/{q}" for q in _DELIVERY_QUEUES), "mail"):
            (root / name).mkdir()
            os.chown(root / name, postfix_uid, 0)
            (root / name).chmod(0o700)
    conf = root / "conf"
    (conf / "main.cf").write_text(_main_cf(root, settings))
    (conf / "master.cf").write_text(_master_cf(port, deliver))
    (conf / "aliases").write_text("postmaster: alice\nalice: alice\n")
    # Postfix waits (300 ms a time, ~2 s) while main.cf is less than a second old, as if an
    # editor were still writing it; backdate what we just wrote.
    past = time.time() - 60
    for path in conf.iterdir():
        os.utime(path, (past, past))


def _wait_for_banner(proc: subprocess.Popen[bytes], port: int, deadline: float) -> bool:
    """True once the smtpd on *port* greets with 220; False if master died or time ran out."""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2.0) as sock:
                banner = sock.recv(512)
                sock.sendall(b"QUIT\r\n")
                sock.recv(512)
            if banner.startswith(b"220"):
                return True
        except OSError:
            pass
        time.sleep(0.02)
    return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop master and every daemon it started; master leads its own session and group."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # master passes SIGTERM on to its children
        try:
            proc.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            pass
    # Whatever of the group still runs (a busy smtpd, or all of it if master hung) dies now;
    # exited children linger only as zombies until init reaps them.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=5.0)


@contextlib.contextmanager
def running_postfix(
    settings: Mapping[str, str] = DEFAULT_VRFY, *, start_timeout: float = 10.0
) -> Iterator[PostfixInstance]:
    """Run a private Postfix with main.cf *settings* added, yield it, stop it.

    It knows `postmaster` (an alias of `alice`) and `alice` at postfix.test and
    mx.postfix.test; unqualified names get @postfix.test.

    :raises PostfixUnavailable: when Postfix is missing, we are not root, or it will not
        start (the reason then carries its log tail).
    """
    _, postalias, master = _check_host()
    failure = ""
    for _attempt in range(START_ATTEMPTS):
        root = Path(tempfile.mkdtemp(prefix="smtpprobe-postfix-"))
        proc: subprocess.Popen[bytes] | None = None
        try:
            port = free_port()
            _make_layout(root, port, settings)
            conf = str(root / "conf")
            made = subprocess.run(
                [postalias, "-c", conf, f"hash:{conf}/aliases"],
                capture_output=True,
                text=True,
                check=False,
            )
            if made.returncode != 0:
                raise PostfixUnavailable(f"postalias failed: {made.stderr.strip()}")
            with (root / "master.stderr").open("wb") as stderr:
                proc = subprocess.Popen(
                    [master, "-c", conf], stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr
                )
            instance = PostfixInstance("127.0.0.1", port, root, proc.pid)
            if _wait_for_banner(proc, port, time.monotonic() + start_timeout):
                yield instance
                return
            failure = instance.log_tail()
            if "Address already in use" not in failure:  # lost the port race: try another
                break
        finally:
            if proc is not None:
                _stop(proc)
            shutil.rmtree(root, ignore_errors=True)
    raise PostfixUnavailable(f"the Postfix instance did not start; its log ends:\n{failure}")


class PostfixPool:
    """Private Postfix instances for one test session, one per configuration.

    Starting an instance takes ~50 ms, but tests of one configuration are spread over
    several modules (the default serves test_postfix and test_exporter), so each starts at
    most once and runs until the session ends. Tests must not change a shared instance's
    configuration; what they leave behind (queued or delivered mail) they tell apart by a
    marker of their own (a unique subject), so no cleaning is needed between them.
    """

    def __init__(self) -> None:
        self._stack = contextlib.ExitStack()
        self._running: dict[tuple[tuple[str, str], ...], PostfixInstance] = {}
        self._unavailable: PostfixUnavailable | None = None

    def get(self, settings: Mapping[str, str]) -> PostfixInstance:
        """The running instance with main.cf *settings* added, started on first use.

        :raises PostfixUnavailable: as `running_postfix` (remembered: not tried again).
        """
        if self._unavailable is not None:
            raise self._unavailable
        key = tuple(sorted(settings.items()))
        if key not in self._running:
            try:
                self._running[key] = self._stack.enter_context(running_postfix(settings))
            except PostfixUnavailable as exc:
                self._unavailable = exc
                raise
        return self._running[key]

    def close(self) -> None:
        """Stop every instance (master and its daemons) and remove its files."""
        self._stack.close()
        self._running.clear()


@pytest.fixture(scope="session")
def postfix_pool() -> Iterator[PostfixPool]:
    """The session's Postfix instances; use `postfix_server`, which picks one."""
    pool = PostfixPool()
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
def postfix_server(request: pytest.FixtureRequest, postfix_pool: PostfixPool) -> PostfixInstance:
    """A running private Postfix; parametrise indirectly with a settings mapping.

    Every test with the same settings shares one instance (see `PostfixPool`). Skips with
    the reason when Postfix cannot run here, unless SMTPPROBE_REQUIRE_POSTFIX=1 (CI, where
    setup.sh installs it), which turns the skip into a failure.
    """
    settings: Mapping[str, str] = getattr(request, "param", DEFAULT_VRFY)
    try:
        return postfix_pool.get(settings)
    except PostfixUnavailable as exc:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but Postfix cannot run: {exc}")
        pytest.skip(f"Postfix cannot run here: {exc}")
