"""The on-disk cache of the parsed knowledge base: used, rebuilt on change, optional."""

from __future__ import annotations

import marshal
import os
import subprocess
import sys
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


@pytest.mark.slow
def test_the_blob_is_what_later_runs_read(fresh: Path) -> None:
    store.read("basic.toml")
    blob = next(fresh.glob("kb-*.marshal"))
    planted = marshal.loads(blob.read_bytes())
    planted["basic.toml"] = {"planted": {"references": []}}
    blob.write_bytes(marshal.dumps(planted))
    store._all.cache_clear()
    assert store.read("basic.toml") == {"planted": {"references": []}}


@pytest.mark.slow
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


@pytest.mark.slow
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


# -- a cache that is never trusted (issue 11 §5) ----------------------------------------------


def _blob_name(folder: Path) -> Path:
    """Where this checkout's blob lives in *folder* (written once, then removed)."""
    store._all.cache_clear()
    store.read("basic.toml")
    store._all.cache_clear()
    blob = next(folder.glob("kb-*.marshal"))
    blob.unlink()
    return blob


def _explain(folder: Path) -> subprocess.CompletedProcess[str]:
    """``smtpprobe explain 252`` in a child with *folder* as the cache (a hang fails)."""
    return subprocess.run(
        [sys.executable, "-m", "smtpprobe", "explain", "252"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "SMTPPROBE_CACHE_DIR": str(folder), "LANG": "C.UTF-8", "NO_COLOR": "1"},
    )


def _assert_explained(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stderr
    assert "Cannot Verify User" in result.stdout and "synth_" not in result.stdout
    assert result.stderr == ""


@pytest.mark.slow
def test_a_fifo_at_the_blob_path_does_not_hang(fresh: Path) -> None:
    os.mkfifo(_blob_name(fresh))
    _assert_explained(_explain(fresh))


@pytest.mark.slow
def test_a_directory_at_the_blob_path_is_ignored(fresh: Path) -> None:
    (_blob_name(fresh) / "x").mkdir(parents=True)
    _assert_explained(_explain(fresh))
    _assert_explained(_explain(fresh))


@pytest.mark.slow
def test_a_device_symlinked_at_the_blob_path_is_ignored(fresh: Path) -> None:
    _blob_name(fresh).symlink_to("/dev/zero")
    _assert_explained(_explain(fresh))


@pytest.mark.slow
@pytest.mark.parametrize("planted", [{}, [], {"basic.toml": "x"}, {"en/basic.toml": {}}, 7])
def test_a_blob_of_the_wrong_shape_is_rebuilt(fresh: Path, planted: object) -> None:
    blob = _blob_name(fresh)
    blob.write_bytes(marshal.dumps(planted))
    _assert_explained(_explain(fresh))
    assert isinstance(marshal.loads(blob.read_bytes()), dict)  # rewritten whole


@pytest.mark.slow
def test_a_planted_symlink_is_neither_read_nor_written_through(
    fresh: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    blob = _blob_name(fresh)
    elsewhere = tmp_path_factory.mktemp("victim") / "victim"
    store.read("basic.toml")
    store._all.cache_clear()
    real = marshal.loads(next(fresh.glob("kb-*.marshal")).read_bytes())
    next(fresh.glob("kb-*.marshal")).unlink()
    real["en/basic.toml"]["252"]["title"] = "PLANTED"
    elsewhere.write_bytes(marshal.dumps(real))
    blob.symlink_to(elsewhere)
    _assert_explained(_explain(fresh))
    assert "PLANTED" in marshal.loads(elsewhere.read_bytes())["en/basic.toml"]["252"]["title"]
    assert blob.is_file() and not blob.is_symlink()  # the link itself was replaced


@pytest.mark.slow
def test_blob_and_folder_are_private(fresh: Path) -> None:
    folder = fresh / "made"
    result = _explain(folder)
    _assert_explained(result)
    assert folder.stat().st_mode & 0o777 == 0o700
    [blob] = folder.glob("kb-*.marshal")
    assert blob.stat().st_mode & 0o777 == 0o600
    assert not list(folder.glob("*.tmp"))


@pytest.mark.slow
def test_a_folder_others_can_write_is_not_used(fresh: Path) -> None:
    shared = fresh / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    _assert_explained(_explain(shared))
    assert list(shared.iterdir()) == []


def test_languages_are_the_data_folders() -> None:
    from smtpprobe.kb import LANGUAGES

    folders = sorted(p.name for p in Path(store.DATA_DIR).iterdir() if (p / "basic.toml").is_file())
    assert LANGUAGES[0] == "en" and sorted(LANGUAGES) == folders


def test_files_in_subfolders_are_loaded(fresh: Path) -> None:
    names = {name for name, _stat in store._data_files()}
    for path in Path(store.DATA_DIR).rglob("*.toml"):
        assert path.relative_to(store.DATA_DIR).as_posix() in names
