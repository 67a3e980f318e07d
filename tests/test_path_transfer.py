"""AutoPath transfers: copy_to, move_to, upload_from, download_to within one backend and between
local disk and S3, folders included, progress reporting, and the memory bound."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from autostore import AutoPath, AutoStore, IsADirectory, NotFound, S3Options
from autostore.testing import S3Server
from conftest import Raw

HERE = Path(__file__).parent


class Calls(list[tuple[int, int]]):
    def __call__(self, done: int, total: int) -> None:
        self.append((done, total))


def test_copy_and_move_a_file_on_one_backend(path_root: AutoPath, raw: Raw) -> None:
    raw.write("src/model.pt", b"m" * 1000)
    src = path_root / "src" / "model.pt"
    calls = Calls()
    backup = src.copy_to(path_root / "backup" / "model.pt", progress=calls)
    assert backup == path_root / "backup" / "model.pt"
    assert raw.read("backup/model.pt") == b"m" * 1000 and src.exists()
    assert calls[-1] == (1000, 1000)
    moved = backup.move_to(path_root / "final" / "model.pt")
    assert moved.read_bytes() == b"m" * 1000 and not backup.exists()
    assert raw.keys() == ["final/model.pt", "src/model.pt"]
    assert src.copy_to(src) == src  # onto itself: nothing to do
    assert raw.read("src/model.pt") == b"m" * 1000
    renamed = (path_root / "final" / "model.pt").rename(path_root / "renamed.pt")
    assert renamed.read_bytes() == b"m" * 1000
    src.replace(renamed)
    assert raw.keys() == ["renamed.pt"]
    # str targets are paths on the same store (keys) or URIs
    renamed.copy_to(str(path_root / "as-str.pt"))
    assert raw.read("as-str.pt") == b"m" * 1000


def test_copy_and_move_a_folder_on_one_backend(path_root: AutoPath, raw: Raw) -> None:
    files = {"exp/a.json": b"1", "exp/sub/b.json": b"22", "exp/sub/deep/c.bin": b"333"}
    for key, data in files.items():
        raw.write(key, data)
    raw.write("exp-sibling.txt", b"s")
    calls = Calls()
    (path_root / "exp").copy_to(path_root / "copy", progress=calls)
    stored = raw.keys()
    assert {k: raw.read(k) for k in stored if k.startswith("copy/")} == {
        k.replace("exp/", "copy/"): v for k, v in files.items()
    }
    assert calls[-1] == (6, 6) and all(t == 6 for _, t in calls)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    (path_root / "copy").move_to(path_root / "moved")
    assert not (path_root / "copy").exists()
    stored = raw.keys()
    assert sorted(k for k in stored if k.startswith("moved/")) == [
        "moved/a.json",
        "moved/sub/b.json",
        "moved/sub/deep/c.bin",
    ]
    with pytest.raises(ValueError, match="into itself"):
        (path_root / "exp").copy_to(path_root / "exp" / "inner")
    with pytest.raises(NotADirectoryError):
        (path_root / "exp").copy_to(path_root / "exp-sibling.txt")
    with pytest.raises(IsADirectory):
        (path_root / "exp-sibling.txt").copy_to(path_root / "exp")
    with pytest.raises(NotFound):
        (path_root / "nothing").copy_to(path_root / "x")


@pytest.fixture
def other_bucket(s3_server: S3Server) -> str:
    name = "other-" + uuid.uuid4().hex[:10]
    s3_server.create_bucket(name)
    return name


@pytest.fixture
def both(tmp_path: Path, s3_store: AutoStore, other_bucket: str) -> Iterator[dict[str, AutoPath]]:
    """Roots on three backends of one store: local disk, the store's S3 prefix, another bucket."""
    yield {
        "local": AutoPath(str(tmp_path / "local"), store=s3_store),
        "s3": AutoPath(s3_store.uri, store=s3_store),
        "s3-other": AutoPath(f"s3://{other_bucket}/x", store=s3_store),
    }


@pytest.mark.parametrize(("a", "b"), [("local", "s3"), ("s3", "local"), ("s3", "s3-other"), ("s3-other", "local")])
def test_copy_and_move_between_backends(both: dict[str, AutoPath], a: str, b: str) -> None:
    src_root, dst_root = both[a], both[b]
    payload = os.urandom(3 * 1024 * 1024 + 7)
    (src_root / "f.bin").write_bytes(payload)
    (src_root / "dir" / "one.txt").write_text("one")
    (src_root / "dir" / "sub" / "two.txt").write_text("two")
    calls = Calls()
    copied = (src_root / "f.bin").copy_to(dst_root / "copied.bin", progress=calls)
    assert copied.read_bytes() == payload and (src_root / "f.bin").exists()
    assert calls[-1] == (len(payload), len(payload))
    moved = (src_root / "f.bin").move_to(dst_root / "moved" / "f.bin")
    assert moved.read_bytes() == payload and not (src_root / "f.bin").exists()
    (src_root / "dir").move_to(dst_root / "dir")
    assert (dst_root / "dir" / "one.txt").read_text() == "one"
    assert (dst_root / "dir" / "sub" / "two.txt").read_text() == "two"
    assert not (src_root / "dir").exists()


def test_upload_from_and_download_to(
    tmp_path: Path, path_root: AutoPath, raw: Raw, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("analysis").mkdir()
    Path("analysis/results.xlsx").write_bytes(b"xlsx-bytes")
    Path("analysis/more").mkdir()
    Path("analysis/more/notes.txt").write_text("n")
    dest = path_root / "reports" / "results.xlsx"
    assert dest.upload_from("./analysis/results.xlsx") == dest
    assert raw.read("reports/results.xlsx") == b"xlsx-bytes"
    (path_root / "reports" / "tree").upload_from(Path("analysis"))
    assert raw.read("reports/tree/more/notes.txt") == b"n"
    got = dest.download_to("./downloads/results.xlsx")
    assert got == tmp_path / "downloads" / "results.xlsx" and got.read_bytes() == b"xlsx-bytes"
    (path_root / "reports").download_to("./all")
    assert sorted(p.relative_to("all").as_posix() for p in Path("all").rglob("*") if p.is_file()) == [
        "results.xlsx",
        "tree/more/notes.txt",
        "tree/results.xlsx",
    ]
    assert not [p for p in Path("downloads").iterdir() if p.name != "results.xlsx"]  # no temp files left


def test_progress_true_is_silent_without_a_terminal(
    path_root: AutoPath, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("TTY_COMPATIBLE", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)
    (path_root / "a.bin").write_bytes(b"x" * 100)
    (path_root / "a.bin").copy_to(path_root / "b.bin", progress=True)
    (path_root / "b.bin").move_to(path_root / "c.bin", progress=True)
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert (path_root / "c.bin").read_bytes() == b"x" * 100
    with pytest.raises(TypeError, match="progress"):
        (path_root / "c.bin").copy_to(path_root / "d.bin", progress="yes")  # type: ignore[arg-type]


def test_progress_bar_in_a_terminal(tmp_path: Path) -> None:
    code = (
        "import sys; from autostore import AutoPath\n"
        "src = AutoPath(sys.argv[1]); src.write_bytes(b'x' * 3_000_000)\n"
        "src.copy_to(sys.argv[2], progress=True)\n"
    )
    env = dict(os.environ, TTY_COMPATIBLE="1", COLUMNS="100", TERM="xterm")  # rich: "this is a terminal"
    env["PYTHONPATH"] = str(HERE.parent / "src")
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "big.bin"), str(tmp_path / "copy.bin")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "copy big.bin" in out.stderr and "3.0/3.0 MB" in out.stderr
    assert (tmp_path / "copy.bin").stat().st_size == 3_000_000


def test_moving_a_big_file_keeps_memory_bounded(
    s3_server: S3Server, shared_bucket: str, other_bucket: str, tmp_path: Path
) -> None:
    """local -> S3 -> another bucket (streamed pipe) -> local with 256 MiB: peak RSS grows by far
    less than the file (the 1 GiB figure is in the README)."""
    # The probe's stores take the server from the environment: none of the suite's decoys.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AUTOSTORE_"))}
    env.update(s3_server.env())
    env["PYTHONPATH"] = str(HERE.parent / "src")
    out = subprocess.run(
        [sys.executable, str(HERE / "_path_memory_probe.py"), "256", shared_bucket, other_bucket, str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["same"] and result["sources_gone"]
    assert result["last_progress"] == [256 << 20, 256 << 20]
    assert result["growth_mib"] < 100, result


def test_s3_options_reach_cross_backend_paths(
    s3_server: S3Server, shared_bucket: str, s3_options: S3Options, tmp_path: Path
) -> None:
    """A local store with S3 options: s3:// paths use them (endpoint + credentials)."""
    store = AutoStore(tmp_path / "local-data", options=[s3_options])
    p = AutoPath(f"s3://{shared_bucket}/xb/{uuid.uuid4().hex[:8]}.json", store=store)
    p.save({"ok": True})
    assert p.load() == {"ok": True}
    assert p.store is store
