"""Read the knowledge-base TOML files, through a parsed-once cache on disk.

Parsing the TOML costs tens of milliseconds per run, more than the rest of ``smtpprobe
explain`` (lazily parsing only the files a command needs was measured and is still ~22 ms
slower than this cache for ``explain 252``); the parsed data is kept as one marshal blob
in the user's cache directory, keyed by this version and every file's size and mtime, so
an edit or an upgrade rebuilds it. The cache is only a shortcut, never trusted: anything
odd at its path (a FIFO, a device, a directory, a symlink, someone else's file, a blob of
the wrong shape) means the files are parsed and the run goes on. It is written with
``mkstemp`` in its own directory and renamed into place, and only into a directory that is
ours and that nobody else can write to. Without one, the files are parsed every run.
"""

from __future__ import annotations

import contextlib
import functools
import marshal
import os
import stat
import zlib
from typing import Any

from smtpprobe.version import __version__

__all__ = ["DATA_DIR", "cache_path", "languages", "read", "ui_files"]

DATA_DIR = os.path.join(os.path.dirname(__file__), "data")
# Ten times the blob's size today; a bigger file at the path is not ours.
_MAX_BLOB = 16 << 20


@functools.cache
def languages() -> tuple[str, ...]:
    """The languages there are words for: each ``data/<lang>/`` holding a ``basic.toml``,
    English first."""
    with os.scandir(DATA_DIR) as entries:
        found = sorted(
            entry.name
            for entry in entries
            if entry.is_dir() and os.path.isfile(os.path.join(entry.path, "basic.toml"))
        )
    return tuple(sorted(found, key=lambda lang: lang != "en"))


def _data_files() -> list[tuple[str, os.stat_result]]:
    """Every ``*.toml`` under ``data/``, at any depth, by its ``/``-separated relative name."""
    found = []
    for folder, subfolders, files in os.walk(DATA_DIR):
        subfolders.sort()
        relative = os.path.relpath(folder, DATA_DIR).replace(os.sep, "/")
        for name in files:
            if name.endswith(".toml"):
                key = name if relative == "." else f"{relative}/{name}"
                found.append((key, os.stat(os.path.join(folder, name))))
    return sorted(found)


def cache_path(stamp: str) -> str | None:
    """Where the blob for *stamp* lives: $SMTPPROBE_CACHE_DIR, else the XDG cache dir."""
    root = os.environ.get("SMTPPROBE_CACHE_DIR")
    if root == "":
        return None  # set and empty: no cache at all
    if root is None:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(xdg, "smtpprobe")
    return os.path.join(root, f"kb-{__version__}-{stamp}.marshal")


def _parse_all(files: list[tuple[str, os.stat_result]]) -> dict[str, dict[str, Any]]:
    import tomllib

    data = {}
    for name, _stat in files:
        with open(os.path.join(DATA_DIR, name), "rb") as handle:
            data[name] = tomllib.load(handle)
    return data


def _private_folder(folder: str) -> bool:
    """*folder* is a real directory (not a symlink), ours, and no one else may write to it."""
    try:
        info = os.lstat(folder)
    except OSError:
        return False
    return (
        stat.S_ISDIR(info.st_mode)
        and info.st_uid == os.geteuid()
        and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    )


def _load(path: str, names: set[str]) -> dict[str, dict[str, Any]] | None:
    """The blob at *path* if it is a regular file of ours holding exactly *names*, else None.

    Opened without following a symlink and without blocking (a FIFO would hang ``open``).
    """
    if not _private_folder(os.path.dirname(path)):
        return None
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError:
        return None
    try:
        info = os.fstat(descriptor)
        if (
            not stat.S_ISREG(info.st_mode)
            or info.st_uid != os.geteuid()
            or info.st_size > _MAX_BLOB
        ):
            return None
        with os.fdopen(os.dup(descriptor), "rb") as handle:
            cached = marshal.loads(handle.read(_MAX_BLOB + 1))
    except (OSError, ValueError, EOFError, TypeError):
        return None
    finally:
        os.close(descriptor)
    # A damaged or planted blob (``{}``, other files, non-table values) is not used: an
    # empty table would print the ui keys themselves ("synth_basic_title").
    if (
        not isinstance(cached, dict)
        or set(cached) != names
        or not all(isinstance(value, dict) for value in cached.values())
    ):
        return None
    return cached


def _store(path: str, data: dict[str, dict[str, Any]]) -> None:
    folder, own = os.path.split(path)
    try:
        blob = marshal.dumps(data)
        os.makedirs(folder, mode=0o700, exist_ok=True)
        if not _private_folder(folder):
            return
        # What mkstemp does (O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600, a fresh random name: no
        # planted file or symlink is followed), without importing tempfile on every run for
        # a write that happens once per install; the rename replaces whatever is at *path*
        # (a symlink itself, not its target).
        temporary = os.path.join(folder, f".kb-{os.urandom(8).hex()}.tmp")
        descriptor = os.open(
            temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600
        )
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(blob)
            os.replace(temporary, path)  # atomic: a concurrent reader sees all or nothing
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(temporary)
            raise
    except (OSError, ValueError):
        return  # a read-only home, a directory at the path: parse next time too
    # Blobs of other data or versions are stale now: one blob, not one per upgrade.
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            if (
                entry.name.startswith("kb-")
                and entry.name.endswith(".marshal")
                and entry.name != own
                and entry.is_file(follow_symlinks=False)
            ):
                with contextlib.suppress(OSError):
                    os.remove(entry.path)


@functools.cache
def _all() -> dict[str, dict[str, Any]]:
    files = _data_files()
    stamp = f"{zlib.crc32(repr([(n, s.st_size, s.st_mtime_ns) for n, s in files]).encode()):08x}"
    path = cache_path(stamp)
    if path is not None:
        cached = _load(path, {name for name, _stat in files})
        if cached is not None:
            return cached
    data = _parse_all(files)
    if path is not None:
        _store(path, data)
    return data


def read(relative: str) -> dict[str, Any]:
    """The parsed content of ``data/<relative>`` (e.g. ``en/basic.toml``); {} when absent."""
    return _all().get(relative, {})


def ui_files(lang: str) -> list[str]:
    """The ``<lang>/ui*.toml`` files, in name order: one per area of the interface."""
    prefix = f"{lang}/ui"
    return sorted(name for name in _all() if name.startswith(prefix))
