"""Options(durable=True): every local write flushes the written file, then its folder, before it
returns. A power loss cannot be staged in a test, so the flushes themselves are observed: a
spy around os.fsync (which still flushes) records which file or folder each call was for."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from autostore import AutoPath, AutoStore, ConfigError, Options
from autostore.backends.durable import make_parents
from autostore.backends.local import TEMP_MARKER
from helpers import env_test


@pytest.fixture
def fsynced(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Paths (files: their names at fsync time; folders: with a trailing "/") flushed so far."""
    return _spy_on_fsync(monkeypatch)


def _spy_on_fsync(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real = os.fsync

    def spy(fd: int) -> None:
        path = os.readlink(f"/proc/self/fd/{fd}")
        seen.append(path + "/" if os.path.isdir(path) else path)
        real(fd)

    monkeypatch.setattr(os, "fsync", spy)
    return seen


def flushed(seen: list[str], action: Callable[[], object]) -> list[str]:
    seen.clear()
    action()
    return list(seen)


def test_every_kind_of_local_write_flushes_file_then_folder(tmp_path: Path, fsynced: list[str]) -> None:
    root = tmp_path / "data"
    store = AutoStore(root, durable=True)
    folder = f"{root}/"
    # a new folder: its entry in the parent is flushed too
    got = flushed(fsynced, lambda: store.write("a", {"v": 1}))
    # the new folder "data" in its parent, the data (under its temporary name, before the
    # rename), then the folder holding the new name
    assert got[0] == f"{tmp_path}/" and Path(got[1]).name.startswith(TEMP_MARKER) and got[2:] == [folder]
    assert (root / "a.json").read_text() == '{"v": 1}'
    got = flushed(fsynced, lambda: store.write("a", {"v": 2}))
    assert len(got) == 2 and Path(got[0]).name.startswith(TEMP_MARKER) and got[1] == folder
    got = flushed(fsynced, lambda: store.write("sub/deep/b.txt", "x"))
    assert f"{tmp_path}/data/" in got and f"{root}/sub/" in got and got[-1] == f"{root}/sub/deep/"
    got = flushed(fsynced, lambda: store.copy("a", "c"))
    assert got[-1] == folder and (root / "c.json").exists()
    got = flushed(fsynced, lambda: store.delete("c"))
    assert got == [folder] and not (root / "c.json").exists()
    with AutoPath(root / "s.bin", store=store).open("wb") as f:
        f.write(b"streamed")
    assert (root / "s.bin").read_bytes() == b"streamed" and fsynced[-1] == folder
    src = tmp_path / "src.bin"
    src.write_bytes(b"uploaded")
    got = flushed(fsynced, lambda: AutoPath(root / "u.bin", store=store).upload_from(src))
    assert (root / "u.bin").read_bytes() == b"uploaded" and got[-1] == folder
    assert any(Path(p).name.startswith(TEMP_MARKER) for p in got)
    got = flushed(fsynced, lambda: AutoPath(root / "u.bin", store=store).move_to(root / "m.bin"))
    assert got == [folder, folder] and (root / "m.bin").exists()


def test_not_durable_by_default_and_validated(tmp_path: Path, fsynced: list[str]) -> None:
    store = AutoStore(tmp_path)
    assert flushed(fsynced, lambda: store.write("a", [1])) == []
    with pytest.raises(ConfigError, match="durable"):
        Options(durable="yes")  # type: ignore[arg-type]


def _durable_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOSTORE_DURABLE", "1")


@env_test(_durable_env)  # in a spawned child: the test process's environment never changes
def test_durable_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fsynced = _spy_on_fsync(monkeypatch)
    store = AutoStore(tmp_path)
    assert store.options.durable is True
    assert flushed(fsynced, lambda: store.write("a", [1]))[-1] == f"{tmp_path}/"


def test_make_parents_flushes_each_new_folder_in_its_parent(tmp_path: Path, fsynced: list[str]) -> None:
    make_parents(str(tmp_path / "x" / "y" / "z"), durable=True)
    assert fsynced == [f"{tmp_path}/", f"{tmp_path}/x/", f"{tmp_path}/x/y/"]
    assert (tmp_path / "x" / "y" / "z").is_dir()
