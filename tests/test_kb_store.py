"""The on-disk cache of the parsed knowledge base: used, rebuilt on change, optional."""

from __future__ import annotations

import marshal
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from smtpprobe.kb import store


@pytest.fixture()
def fresh(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    monkeypatch.setenv("SMTPPROBE_CACHE_DIR", str(tmp_path))
    store._all.cache_clear()
    yield tmp_path
    store._all.cache_clear()


def test_first_read_writes_one_blob_that_matches_the_toml(fresh: Path) -> None:
    import tomllib

    data = store.read("en/basic.toml")
    blobs = list(fresh.glob("kb-*.marshal"))
    assert len(blobs) == 1
    with open(os.path.join(store.DATA_DIR, "en", "basic.toml"), "rb") as handle:
        assert data == tomllib.load(handle)
    assert marshal.loads(blobs[0].read_bytes())["en/basic.toml"] == data


def test_the_blob_is_what_later_runs_read(fresh: Path) -> None:
    store.read("basic.toml")
    blob = next(fresh.glob("kb-*.marshal"))
    planted = marshal.loads(blob.read_bytes())
    planted["basic.toml"] = {"planted": {"references": []}}
    blob.write_bytes(marshal.dumps(planted))
    store._all.cache_clear()
    assert store.read("basic.toml") == {"planted": {"references": []}}


def test_a_changed_data_file_gets_a_new_blob(fresh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store.read("basic.toml")
    real = store._data_files

    def touched() -> list[tuple[str, os.stat_result]]:
        files = real()
        name, stat = files[0]
        changed = os.stat_result((*stat[:8], stat.st_mtime + 1, stat[9]))
        return [(name, changed), *files[1:]]

    first = next(fresh.glob("kb-*.marshal"))
    monkeypatch.setattr(store, "_data_files", touched)
    store._all.cache_clear()
    store.read("basic.toml")
    blobs = list(fresh.glob("kb-*.marshal"))
    assert len(blobs) == 1 and blobs[0] != first  # rebuilt, and the stale blob removed


def test_a_corrupt_blob_is_ignored(fresh: Path) -> None:
    store.read("basic.toml")
    next(fresh.glob("kb-*.marshal")).write_bytes(b"\x00garbage")
    store._all.cache_clear()
    assert "252" in store.read("basic.toml")


def test_empty_cache_dir_setting_turns_the_cache_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTPPROBE_CACHE_DIR", "")
    store._all.cache_clear()
    try:
        assert store.cache_path("x") is None
        assert "252" in store.read("basic.toml")
    finally:
        store._all.cache_clear()


def test_an_unwritable_cache_dir_still_reads_the_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("SMTPPROBE_CACHE_DIR", str(blocker / "sub"))
    store._all.cache_clear()
    try:
        assert "252" in store.read("basic.toml")
    finally:
        store._all.cache_clear()
