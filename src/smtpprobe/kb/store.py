"""Read the knowledge-base TOML files, through a parsed-once cache on disk.

Parsing every TOML file costs tens of milliseconds per run, more than the rest of
``smtpprobe explain``; the parsed data is kept as one marshal blob in the user's cache
directory, keyed by this version and every file's size and mtime, so an edit or an
upgrade rebuilds it. Without a writable cache directory the files are parsed every run.
"""

from __future__ import annotations

import contextlib
import functools
import marshal
import os
import zlib
from typing import Any

from smtpprobe.version import __version__

__all__ = ["DATA_DIR", "cache_path", "read", "ui_files"]

DATA_DIR = os.path.join(os.path.dirname(__file__), "data")


def _data_files() -> list[tuple[str, os.stat_result]]:
    found = []
    for folder in ("", "en", "id", "en/findings", "id/findings"):
        base = os.path.join(DATA_DIR, folder)
        if not os.path.isdir(base):
            continue
        with os.scandir(base) as entries:
            for entry in entries:
                if entry.is_file() and entry.name.endswith(".toml"):
                    name = f"{folder}/{entry.name}" if folder else entry.name
                    found.append((name, entry.stat()))
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


def _store(path: str, data: dict[str, dict[str, Any]]) -> None:
    try:
        blob = marshal.dumps(data)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        temporary = f"{path}.{os.getpid()}.tmp"
        with open(temporary, "wb") as handle:
            handle.write(blob)
        os.replace(temporary, path)  # atomic: a concurrent reader sees all or nothing
    except (OSError, ValueError):
        return  # a read-only home or an unmarshallable value: parse next time too
    # Blobs of other data or versions are stale now: one blob, not one per upgrade.
    folder, own = os.path.split(path)
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith("kb-") and entry.name.endswith(".marshal") \
                    and entry.name != own:
                with contextlib.suppress(OSError):
                    os.remove(entry.path)


@functools.cache
def _all() -> dict[str, dict[str, Any]]:
    files = _data_files()
    stamp = f"{zlib.crc32(repr([(n, s.st_size, s.st_mtime_ns) for n, s in files]).encode()):08x}"
    path = cache_path(stamp)
    if path is not None:
        # No blob yet, or a damaged one: parse the TOML and write a fresh blob.
        with contextlib.suppress(OSError, ValueError, EOFError, TypeError):
            with open(path, "rb") as handle:
                cached = marshal.loads(handle.read())
            if isinstance(cached, dict):
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
