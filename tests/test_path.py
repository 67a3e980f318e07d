"""AutoPath: pure path arithmetic, and every I/O method on a local folder and on S3 (same test
bodies through the `path_root` fixture), with the exceptions pathlib raises."""

from __future__ import annotations

import errno
import io
import os
import pickle
from pathlib import Path, PurePosixPath

import pytest

from autostore import (
    AutoPath,
    AutoStore,
    DirectoryNotEmpty,
    InvalidKey,
    IsADirectory,
    NotADirectory,
    NotFound,
    S3Options,
    UnsupportedFormat,
)
from autostore.testing import S3Server
from conftest import Raw
from helpers import in_child


def is_s3(p: AutoPath) -> bool:
    return not p.is_local


def make_empty_folder(root: AutoPath, raw: Raw, rel: str) -> None:
    """An empty folder as other tools make it: a directory on disk, a zero-byte `rel/` marker on S3."""
    if root.is_local:
        (Path(str(root)) / rel).mkdir(parents=True)
    else:
        raw.client.put_object(Bucket=raw.bucket, Key=raw.prefix + rel + "/", Body=b"")


# -- pure path API (no I/O) ---------------------------------------------------------------------
def test_join_and_properties() -> None:
    data_dir = AutoPath("s3://my-bucket/datasets")
    results_file = data_dir / "experiment_1" / "results.parquet"
    assert str(results_file) == "s3://my-bucket/datasets/experiment_1/results.parquet"
    assert repr(results_file) == "AutoPath('s3://my-bucket/datasets/experiment_1/results.parquet')"
    assert results_file.name == "results.parquet"
    assert results_file.stem == "results"
    assert results_file.suffix == ".parquet"
    assert str(results_file.parent) == "s3://my-bucket/datasets/experiment_1"
    assert [str(p) for p in results_file.parents] == [
        "s3://my-bucket/datasets/experiment_1",
        "s3://my-bucket/datasets",
        "s3://my-bucket",
    ]
    assert results_file.parts == ("s3://my-bucket/", "datasets", "experiment_1", "results.parquet")
    assert results_file.anchor == "s3://my-bucket/" and results_file.drive == "s3://my-bucket"
    assert results_file.key == "datasets/experiment_1/results.parquet"
    assert AutoPath("s3://b/x.tar.gz").suffixes == [".tar", ".gz"]
    assert AutoPath("s3://b/x.tar.gz").stem == "x.tar"
    assert data_dir.joinpath("a", "b/c.txt") == AutoPath("s3://my-bucket/datasets/a/b/c.txt")
    assert AutoPath("s3://my-bucket", "datasets", "x") == data_dir / "x"
    assert AutoPath("s3://my-bucket", "s3://other/k").store is AutoPath("s3://other/z").store


def test_bucket_root_edges() -> None:
    root = AutoPath("s3://bucket")
    assert AutoPath("s3://bucket/") == root
    assert str(root) == "s3://bucket"
    assert str(AutoPath("s3://bucket/x").parent) == "s3://bucket"
    assert root.parent == root and root.parents == ()
    assert root.name == "" and root.suffix == "" and root.stem == ""
    assert root.parts == ("s3://bucket/",)
    with pytest.raises(ValueError, match="empty name"):
        root.with_name("x")
    with pytest.raises(ValueError, match="empty name"):
        root.with_suffix(".x")
    assert root / "a" / ".." / ".." / "b" == AutoPath("s3://bucket/b")  # ".." stops at the bucket root
    assert AutoPath("s3://bucket/a/b") / "/c" == AutoPath("s3://bucket/c")  # "/x" restarts at the anchor
    assert AutoPath("s3://bucket/a") / "s3://other/k" == AutoPath("s3://other/k")
    assert AutoPath("s3://bucket/a") / "./b//c/." == AutoPath("s3://bucket/a/b/c")


def test_local_paths_are_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    p = AutoPath("./data/analysis")
    assert str(p) == str(tmp_path / "data" / "analysis")
    assert p.is_absolute() and p.is_local
    assert AutoPath("data/analysis") == p  # without a store, a bare relative path is local too
    assert AutoPath(Path("data") / "analysis") == p
    assert os.fspath(p) == str(tmp_path / "data" / "analysis")
    assert p.as_posix() == str(tmp_path / "data" / "analysis")
    assert p.as_uri() == (tmp_path / "data" / "analysis").as_uri()
    assert AutoPath("file://" + str(tmp_path / "x")) == AutoPath(str(tmp_path / "x"))
    assert AutoPath("/").parent == AutoPath("/") and str(AutoPath("/")) == "/"
    assert p / "../other" == AutoPath(str(tmp_path / "data" / "other"))
    assert p / "/etc" == AutoPath("/etc")
    assert AutoPath("/a/b").parts == ("/", "a", "b")


def test_uri_representations() -> None:
    s3_path = AutoPath("s3://bucket/file.json")
    assert s3_path.as_uri() == "s3://bucket/file.json"
    assert s3_path.as_posix() == "s3://bucket/file.json"
    assert s3_path.is_absolute()
    with pytest.raises(TypeError, match="local_path"):
        os.fspath(s3_path)


def test_transformations_and_matching() -> None:
    config_path = AutoPath("s3://app/config.yaml")
    assert str(config_path.with_suffix(".yaml.bak")) == "s3://app/config.yaml.bak"
    assert str(config_path.with_name("new_config.yaml")) == "s3://app/new_config.yaml"
    assert str(config_path.with_stem("production")) == "s3://app/production.yaml"
    assert str(config_path.with_suffix("")) == "s3://app/config"
    with pytest.raises(ValueError):
        config_path.with_name("a/b")
    with pytest.raises(ValueError):
        config_path.with_suffix("yaml")
    log_path = AutoPath("s3://logs/app.2024-01-15.log")
    assert log_path.match("*.log")
    assert log_path.match("s3://logs/*.log")
    assert not log_path.match("s3://other/*.log")
    assert not log_path.match("*.txt")
    assert AutoPath("s3://b/a/b/c.csv").match("b/*.csv")
    assert not AutoPath("s3://b/a/b/c.csv").match("a/*.csv")


def test_relative_to() -> None:
    base_path = AutoPath("s3://data/experiments")
    result_path = AutoPath("s3://data/experiments/run_1/results.json")
    relative = result_path.relative_to(base_path)
    assert relative == PurePosixPath("run_1/results.json")
    assert str(relative) == "run_1/results.json"
    assert result_path.relative_to("s3://data") == PurePosixPath("experiments/run_1/results.json")
    assert base_path.relative_to(base_path) == PurePosixPath(".")
    assert result_path.is_relative_to(base_path) and not base_path.is_relative_to(result_path)
    with pytest.raises(ValueError, match="not in the subpath"):
        result_path.relative_to("s3://other/experiments")
    with pytest.raises(ValueError, match="not in the subpath"):
        AutoPath("s3://data/experimentsX/a").relative_to(base_path)


def test_equality_hashing_ordering() -> None:
    a = AutoPath("s3://b/x/y.json")
    assert a == AutoPath("s3://b/x") / "y.json"
    assert hash(a) == hash(AutoPath("s3://b/x/y.json"))
    assert a != AutoPath("s3://c/x/y.json") and a != AutoPath("s3a://b/x/y.json")
    assert a != "s3://b/x/y.json"
    assert len({a, AutoPath("s3://b/x/y.json"), AutoPath("s3://b/x")}) == 2
    assert sorted([AutoPath("s3://b/z"), AutoPath("s3://b/a"), AutoPath("s3://b/a/b")]) == [
        AutoPath("s3://b/a"),
        AutoPath("s3://b/a/b"),
        AutoPath("s3://b/z"),
    ]
    assert pickle.loads(pickle.dumps(a)) == a


def test_keys_are_validated() -> None:
    with pytest.raises(InvalidKey):
        AutoPath("s3://b/x") / "bad\\name"
    with pytest.raises(InvalidKey):
        AutoPath("s3://b/x") / "nul\x00"


def test_store_relative_keys_and_uris(store: AutoStore) -> None:
    p = AutoPath("exp/run1.json", store=store)
    assert str(p) == store.uri.rstrip("/") + "/exp/run1.json"
    assert p.store is store
    assert (p.parent / "x").store is store
    other = AutoPath("s3://some-bucket/k.json", store=store)
    assert str(other) == "s3://some-bucket/k.json" and other.store is store
    with pytest.raises(InvalidKey):
        AutoPath("a/../../escape", store=store)


def test_default_store_is_shared_per_bucket_and_settings() -> None:
    in_child({"AWS_ENDPOINT_URL": "http://127.0.0.1:1"}, _default_stores)  # a child: see helpers.in_child


def _default_stores() -> None:
    a, b = AutoPath("s3://bucket-a/x"), AutoPath("s3://bucket-a/y/z")
    assert a.store is b.store
    assert AutoPath("s3://bucket-b/x").store is not a.store
    os.environ["AWS_ENDPOINT_URL"] = "http://127.0.0.1:2"
    assert AutoPath("s3://bucket-a/x").store is not a.store  # new settings, new store
    assert AutoPath("/tmp/x").store is AutoPath("/var/y").store


# -- I/O on local and S3 (same bodies) ------------------------------------------------------------
def test_write_read_text_and_bytes(path_root: AutoPath, raw: Raw) -> None:
    f = path_root / "docs" / "hello.txt"
    assert f.write_text("héllo\nwörld") == len("héllo\nwörld")
    assert raw.read("docs/hello.txt") == "héllo\nwörld".encode()
    assert f.read_text() == "héllo\nwörld"
    assert f.read_bytes() == "héllo\nwörld".encode()
    assert f.write_bytes(b"\x00\x01binary") == 8
    assert raw.read("docs/hello.txt") == b"\x00\x01binary"
    assert f.read_bytes() == b"\x00\x01binary"
    g = path_root / "latin.txt"
    g.write_text("café", encoding="latin-1")
    assert raw.read("latin.txt") == "café".encode("latin-1")
    assert g.read_text(encoding="latin-1") == "café"
    raw.write("crlf.txt", b"a\r\nb\rc\n")
    assert (path_root / "crlf.txt").read_text() == "a\nb\nc\n"  # universal newlines, like pathlib
    assert (path_root / "crlf.txt").read_text(newline="") == "a\r\nb\rc\n"
    (path_root / "nl.txt").write_text("a\nb", newline="\r\n")
    assert raw.read("nl.txt") == b"a\r\nb"
    (path_root / "mv.bin").write_bytes(memoryview(b"abcdef")[1:4])
    assert raw.read("mv.bin") == b"bcd"


def test_exists_is_file_is_dir_stat(path_root: AutoPath, raw: Raw) -> None:
    raw.write("sub/deeper/data.bin", b"12345")
    f = path_root / "sub" / "deeper" / "data.bin"
    assert f.exists() and f.is_file() and not f.is_dir()
    for folder in (path_root / "sub", path_root / "sub" / "deeper", path_root):
        assert folder.exists() and folder.is_dir() and not folder.is_file()
    missing = path_root / "sub" / "nope.txt"
    assert not missing.exists() and not missing.is_file() and not missing.is_dir()
    assert not (path_root / "su").is_dir()  # prefixes match whole folder names
    st = f.stat()
    assert st.st_size == 5 and st.size == 5
    assert st.st_mtime > 0 and st.etag
    assert st.st_mtime == pytest.approx(f.stat().st_mtime)
    assert (path_root / "sub").stat().st_size == 0
    with pytest.raises(FileNotFoundError) as info:
        missing.stat()
    assert isinstance(info.value, NotFound) and "nope.txt" in str(info.value)


def test_missing_files_raise_file_not_found(path_root: AutoPath) -> None:
    missing = path_root / "ghost.txt"
    for call in (missing.read_bytes, missing.read_text, lambda: missing.open("rb"), lambda: missing.open("r")):
        with pytest.raises(FileNotFoundError) as info:
            call()
        assert str(missing) in str(info.value)
    with pytest.raises(FileNotFoundError):
        missing.unlink()
    missing.unlink(missing_ok=True)
    with pytest.raises(FileNotFoundError):
        missing.delete()
    missing.delete(missing_ok=True)
    with pytest.raises(FileNotFoundError):
        list((path_root / "no-folder").iterdir())
    with pytest.raises(FileNotFoundError), missing.local_path():
        pass


def test_folder_and_file_mixups_raise_like_pathlib(path_root: AutoPath, raw: Raw) -> None:
    raw.write("folder/inner.txt", b"x")
    raw.write("file.txt", b"y")
    folder, file = path_root / "folder", path_root / "file.txt"
    for call in (folder.read_bytes, folder.read_text, lambda: folder.open("rb")):
        with pytest.raises(IsADirectoryError) as info:
            call()
        assert isinstance(info.value, IsADirectory) and str(folder) in str(info.value)
    if path_root.is_local:
        for write in (lambda: folder.write_bytes(b"z"), lambda: folder.write_text("z"), lambda: folder.open("w")):
            with pytest.raises(IsADirectoryError) as info:
                write()
            assert isinstance(info.value, IsADirectory) and str(folder) in str(info.value)
    with pytest.raises(IsADirectoryError):
        folder.unlink()
    with pytest.raises(NotADirectoryError) as info2:
        list(file.iterdir())
    assert isinstance(info2.value, NotADirectory)
    with pytest.raises(NotADirectoryError):
        file.rmdir()
    with pytest.raises(OSError) as info3:
        folder.rmdir()
    assert isinstance(info3.value, DirectoryNotEmpty) and info3.value.errno == errno.ENOTEMPTY
    assert "delete()" in str(info3.value)
    with pytest.raises(FileExistsError):
        file.mkdir()
    with pytest.raises(FileExistsError):
        file.mkdir(exist_ok=True)
    assert raw.keys() == ["file.txt", "folder/inner.txt"]
    if not path_root.is_local:
        # Object stores: writing "folder" sends one PUT and no "is it a folder?" LIST, so the
        # object "folder" appears beside the keys below "folder/", as with boto3's put_object.
        assert folder.write_bytes(b"z") == 1
        assert raw.keys() == ["file.txt", "folder", "folder/inner.txt"]
        assert folder.is_dir() and folder.is_file() and folder.read_bytes() == b"z"


def test_open_streams(path_root: AutoPath, raw: Raw) -> None:
    f = path_root / "stream" / "big.bin"
    chunk = bytes(range(256)) * 4096  # 1 MiB
    with f.open("wb") as w:
        for _ in range(3):
            assert w.write(chunk) == len(chunk)
        assert not f.exists()  # the object appears on close
    assert raw.read("stream/big.bin") == chunk * 3
    with f.open("rb") as r:
        assert r.read(10) == chunk[:10]
        r.seek(len(chunk) + 1)
        assert r.tell() == len(chunk) + 1
        assert r.read(3) == chunk[1:4]
        r.seek(0)
        total = 0
        while block := r.read(300_000):
            total += len(block)
    assert total == 3 * len(chunk)
    t = path_root / "stream" / "lines.txt"
    with t.open("w") as w:
        w.write("first line\n")
        print("second ünïcode", file=w)
    assert raw.read("stream/lines.txt") == "first line\nsecond ünïcode\n".encode()
    with t.open() as r:
        assert r.readline() == "first line\n"
        assert list(r) == ["second ünïcode\n"]
    with t.open("rb") as rb:
        assert [line for line in rb] == [b"first line\n", "second ünïcode\n".encode()]
    with pytest.raises(FileExistsError):
        t.open("x")
    with (path_root / "stream" / "new.txt").open("x") as w:
        w.write("made")
    assert raw.read("stream/new.txt") == b"made"
    for bad in ("a", "r+", "rw", "wbt", "rr"):
        with pytest.raises(ValueError, match="mode"):
            t.open(bad)
    with pytest.raises(ValueError):
        t.open("rb", encoding="utf-8")


def test_failed_writes_leave_the_old_object(path_root: AutoPath, raw: Raw) -> None:
    f = path_root / "atomic.txt"
    f.write_text("old")
    for mode in ("wb", "w"):
        with pytest.raises(RuntimeError), f.open(mode) as w:
            w.write(b"new" * 1000 if mode == "wb" else "new" * 1000)
            raise RuntimeError("boom")
        assert raw.read("atomic.txt") == b"old"
    with pytest.raises(RuntimeError), (path_root / "never.bin").open("wb") as w:
        w.write(b"x" * (6 * 1024 * 1024))
        raise RuntimeError("boom")
    assert raw.keys() == ["atomic.txt"]


def test_writes_create_parents_and_touch(path_root: AutoPath, raw: Raw) -> None:
    (path_root / "a" / "b" / "c.txt").write_text("x")
    assert raw.keys() == ["a/b/c.txt"]
    t = path_root / "a" / "empty.txt"
    t.touch()
    assert raw.read("a/empty.txt") == b"" and t.is_file()
    t.touch()  # exists: fine
    with pytest.raises(FileExistsError):
        t.touch(exist_ok=False)
    (path_root / "a" / "b" / "c.txt").touch()
    assert raw.read("a/b/c.txt") == b"x"  # touching never truncates


def test_iterdir_lists_children_once(path_root: AutoPath, raw: Raw) -> None:
    for key in ("top.txt", "d1/a.txt", "d1/b.txt", "d1/deep/c.txt", "d2/x.json", "d1.txt"):
        raw.write(key, b"1")
    assert [p.name for p in path_root.iterdir()] == ["d1", "d1.txt", "d2", "top.txt"]
    assert sorted(path_root.iterdir()) == list(path_root.iterdir())
    d1 = path_root / "d1"
    children = list(d1.iterdir())
    assert children == [d1 / "a.txt", d1 / "b.txt", d1 / "deep"]
    assert [c.is_dir() for c in children] == [False, False, True]
    assert all(c.store is path_root.store for c in children)


def test_glob_and_rglob(path_root: AutoPath, raw: Raw) -> None:
    for key in (
        "datasets/a.parquet",
        "datasets/exp1/results.parquet",
        "datasets/exp1/notes.csv",
        "datasets/exp1/deep/more.parquet",
        "datasets/exp2/table.csv",
        "other.parquet",
    ):
        raw.write(key, b"1")
    data_dir = path_root / "datasets"
    rel = lambda paths: sorted(str(p.relative_to(data_dir)) for p in paths)  # noqa: E731
    assert rel(data_dir.glob("**/*.parquet")) == ["a.parquet", "exp1/deep/more.parquet", "exp1/results.parquet"]
    assert rel(data_dir.glob("*.parquet")) == ["a.parquet"]
    assert rel(data_dir.glob("*")) == ["a.parquet", "exp1", "exp2"]
    assert rel(data_dir.glob("*/")) == ["exp1", "exp2"]
    assert rel(data_dir.glob("exp1/*.csv")) == ["exp1/notes.csv"]
    assert rel(data_dir.glob("*/*.csv")) == ["exp1/notes.csv", "exp2/table.csv"]
    assert rel(data_dir.glob("exp?/**/*.parquet")) == ["exp1/deep/more.parquet", "exp1/results.parquet"]
    assert rel(data_dir.rglob("*.csv")) == ["exp1/notes.csv", "exp2/table.csv"]
    assert rel(data_dir.rglob("deep")) == ["exp1/deep"]
    assert rel(data_dir.glob("**/")) == [".", "exp1", "exp1/deep", "exp2"]  # as pathlib 3.11: the folder too
    assert rel(data_dir.glob("[ae]*")) == ["a.parquet", "exp1", "exp2"]
    assert list((path_root / "missing").glob("*")) == []
    assert rel(data_dir.glob("*.PARQUET", case_sensitive=False)) == ["a.parquet"]
    with pytest.raises(ValueError):
        list(data_dir.glob(""))
    with pytest.raises(NotImplementedError):
        list(data_dir.glob("/abs/*"))


def test_walk(path_root: AutoPath, raw: Raw) -> None:
    for key in ("w/a.txt", "w/s/b.txt", "w/s/t/c.txt"):
        raw.write(key, b"1")
    top = path_root / "w"
    assert [(str(d.relative_to(top)), ds, fs) for d, ds, fs in top.walk()] == [
        (".", ["s"], ["a.txt"]),
        ("s", ["t"], ["b.txt"]),
        ("s/t", [], ["c.txt"]),
    ]
    assert [d.name for d, _, _ in top.walk(top_down=False)] == ["t", "s", "w"]


def test_mkdir(path_root: AutoPath, raw: Raw) -> None:
    local_dir = path_root / "analysis" / "deep"
    local_dir.mkdir(parents=True, exist_ok=True)
    local_dir.mkdir(parents=True, exist_ok=True)
    assert raw.keys() == []  # no marker objects: nothing in the bucket, nothing in store.keys()
    assert path_root.store.keys() == []
    if path_root.is_local:
        assert Path(str(local_dir)).is_dir() and local_dir.is_dir()
        with pytest.raises(FileExistsError):
            local_dir.mkdir()
        with pytest.raises(FileNotFoundError, match="parents=True"):
            (path_root / "x" / "y").mkdir()
    else:
        assert not local_dir.exists()  # object stores have no empty folders
        (path_root / "x" / "y").mkdir()  # parents are implied on object stores
    (local_dir / "f.txt").write_text("1")
    with pytest.raises(FileExistsError, match="exist_ok"):
        local_dir.mkdir()
    local_dir.mkdir(exist_ok=True)


def test_empty_folder_marker(path_root: AutoPath, raw: Raw) -> None:
    """A folder that other tools made empty (`folder/` marker on S3, a directory locally)."""
    make_empty_folder(path_root, raw, "empty-folder")
    raw.write("sibling.txt", b"1")
    empty = path_root / "empty-folder"
    assert empty.is_dir() and empty.exists() and not empty.is_file()
    assert list(empty.iterdir()) == []
    assert [p.name for p in path_root.iterdir()] == ["empty-folder", "sibling.txt"]
    assert [p.name for p in path_root.glob("*/")] == ["empty-folder"]
    assert sorted(p.name for p in path_root.rglob("*")) == ["empty-folder", "sibling.txt"]
    assert [p.name for p in path_root.rglob("*") if p.is_file()] == ["sibling.txt"]
    with pytest.raises(IsADirectoryError):
        empty.read_bytes()
    empty.rmdir()
    assert not empty.exists()
    assert raw.keys() == ["sibling.txt"]


def test_rmdir_on_missing_folder(path_root: AutoPath) -> None:
    gone = path_root / "never-made"
    if path_root.is_local:
        with pytest.raises(FileNotFoundError):
            gone.rmdir()
    else:
        gone.mkdir()
        gone.rmdir()  # an empty prefix is an empty folder: mkdir/rmdir pair up as on disk


def test_nested_markers_are_deleted_with_their_folder(path_root: AutoPath, raw: Raw) -> None:
    make_empty_folder(path_root, raw, "old/sub")
    make_empty_folder(path_root, raw, "old/empty")
    raw.write("old/sub/a.txt", b"a")
    raw.write("old/b.txt", b"b")
    raw.write("keep/old.txt", b"k")
    old = path_root / "old"
    assert [p.name for p in old.iterdir()] == ["b.txt", "empty", "sub"]
    assert sorted(str(p.relative_to(old)) for p in old.rglob("*")) == ["b.txt", "empty", "sub", "sub/a.txt"]
    with pytest.raises(OSError, match="not empty"):
        old.rmdir()
    old.delete()
    assert not old.exists()
    assert raw.keys() == ["keep/old.txt"]
    assert [p.name for p in path_root.iterdir()] == ["keep"]


def test_unlink_and_delete(path_root: AutoPath, raw: Raw) -> None:
    for key in ("f.txt", "tree/a.txt", "tree/b/c.txt", "tree.txt"):
        raw.write(key, b"1")
    (path_root / "f.txt").unlink()
    assert raw.keys() == ["tree.txt", "tree/a.txt", "tree/b/c.txt"]
    (path_root / "tree").delete()
    assert raw.keys() == ["tree.txt"]  # a sibling sharing the prefix "tree" is untouched
    (path_root / "tree.txt").delete()
    assert raw.keys() == []
    with pytest.raises(InvalidKey):
        AutoPath("s3://bucket").delete()
    with pytest.raises(InvalidKey):
        AutoPath("/").delete()


def test_marker_fallback_through_boto3(s3_server: S3Server, shared_bucket: str, s3_options: S3Options) -> None:
    """On AWS, deleting `name` does not remove a `name/` marker; boto3 does (checked directly here,
    since SeaweedFS already drops the marker with the folder entry)."""
    client = s3_server.client()
    store = AutoStore(f"s3://{shared_bucket}/markers/", options=s3_options)
    client.put_object(Bucket=shared_bucket, Key="markers/m1/", Body=b"")
    client.put_object(Bucket=shared_bucket, Key="markers/m2/", Body=b"")
    backend = store.primary_backend
    backend._delete_markers(["markers/m1/", "markers/m2/"])  # type: ignore[attr-defined]
    left = client.list_objects_v2(Bucket=shared_bucket, Prefix="markers/").get("Contents", [])
    assert left == []


def test_local_path(path_root: AutoPath, raw: Raw) -> None:
    raw.write("lp/data.bin", b"payload")
    p = path_root / "lp" / "data.bin"
    with p.local_path() as local:
        assert isinstance(local, Path) and local.is_file()
        assert local.read_bytes() == b"payload"
        if p.is_local:
            assert str(local) == str(p)
    if not p.is_local:
        assert not local.exists()  # the temporary download is removed
    with pytest.raises(IsADirectoryError), (path_root / "lp").local_path():
        pass


def test_load_and_save(path_root: AutoPath, raw: Raw) -> None:
    import json

    import polars as pl
    from polars.testing import assert_frame_equal

    results_path = path_root / "run_001" / "results.json"
    assert results_path.save({"accuracy": 0.95, "model": "transformer"}) == results_path
    assert json.loads(raw.read("run_001/results.json")) == {"accuracy": 0.95, "model": "transformer"}
    assert results_path.load() == {"accuracy": 0.95, "model": "transformer"}
    df = pl.DataFrame({"a": [1, 2, 3], "b": [4, 5, 6]})
    data_path = path_root / "processed.parquet"
    data_path.save(df)
    assert raw.read("processed.parquet")[:4] == b"PAR1"
    assert_frame_equal(data_path.load(), df)
    assert_frame_equal(data_path.load(ignore_cache=True), df)
    csv_as_parquet = path_root / "data.csv"
    raw.write("data.csv", raw.read("processed.parquet"))
    assert_frame_equal(csv_as_parquet.load(format="parquet"), df)
    written = (path_root / "noext").save({"k": 1})
    assert written == path_root / "noext.json" and raw.read("noext.json") == b'{"k": 1}'
    assert (path_root / "noext").load() == {"k": 1}  # the store's extension lookup
    (path_root / "as_csv").save(df, format="csv")
    assert raw.read("as_csv.csv").decode().splitlines()[0] == "a,b"
    raw.write("Makefile", b"all:")
    assert (path_root / "Makefile").load() == "all:"  # no extension: read by its content (text)
    raw.write("blob", b"\x00\x01")
    with pytest.raises(UnsupportedFormat):
        (path_root / "blob").load()
    with pytest.raises(FileNotFoundError):
        (path_root / "absent.json").load()


def test_load_folder_as_lazyframe(path_root: AutoPath) -> None:
    import polars as pl

    folder = path_root / "sales" / "2024"
    for month, value in (("january", 1), ("february", 2)):
        (folder / f"{month}.parquet").save(pl.DataFrame({"region": ["eu"], "sales": [value]}))
    lf = folder.load()
    assert isinstance(lf, pl.LazyFrame)
    assert lf.collect()["sales"].sum() == 3


def test_store_caches_see_path_writes(path_root: AutoPath) -> None:
    """Writes through AutoPath go through the store's hooks, so store reads see them."""
    p = path_root / "shared.json"
    p.save({"v": 1})
    assert p.store.read(str(p) if not p.is_local else "file://" + str(p)) == {"v": 1}
    p.write_text('{"v": 2}')
    assert p.load() == {"v": 2}
    p.unlink()
    with pytest.raises(FileNotFoundError):
        p.load()


def test_io_streams_are_io_objects(path_root: AutoPath) -> None:
    p = path_root / "io.txt"
    with p.open("w") as w:
        assert isinstance(w, io.TextIOBase) and w.writable()
        w.write("x")
    with p.open("rb") as r:
        assert isinstance(r, io.IOBase) and r.readable()
        assert r.read() == b"x"


def test_bucket_roots(s3_store: AutoStore, s3_bucket: str) -> None:
    root = AutoPath(f"s3://{s3_bucket}", store=s3_store)
    assert root.exists() and root.is_dir() and not root.is_file()
    assert list(root.iterdir()) == []
    (root / "a.txt").write_text("a")
    (root / "d" / "b.txt").write_text("b")
    assert [p.name for p in root.iterdir()] == ["a.txt", "d"]
    assert [str(p) for p in root.rglob("*.txt")] == [f"s3://{s3_bucket}/a.txt", f"s3://{s3_bucket}/d/b.txt"]
    with pytest.raises(IsADirectoryError):
        root.read_bytes()
    missing = AutoPath(f"s3://no-such-bucket-{s3_bucket}", store=s3_store)
    assert not missing.exists()


def test_save_outside_the_store_prefix(s3_store: AutoStore, s3_bucket: str) -> None:
    """save() names the file it wrote even when the path is outside the store's prefix."""
    written = AutoPath(f"s3://{s3_bucket}/z", store=s3_store).save({"a": 1})
    assert str(written) == f"s3://{s3_bucket}/z.json"
    assert written.load() == {"a": 1}


def test_local_path_uses_the_cache(s3_server: S3Server, shared_bucket: str, tmp_path: Path) -> None:
    """With caching on, local_path() yields a file from the cache (the entry stays after the
    block), and after write_bytes it has the new content."""
    opts = S3Options(**s3_server.options_kwargs(), cache_enabled=True, cache_dir=str(tmp_path / "cache"))  # type: ignore[arg-type]
    store = AutoStore(f"s3://{shared_bucket}/cached-{os.getpid()}-{id(tmp_path)}/", options=opts)
    p = AutoPath("blob.bin", store=store)
    p.write_bytes(b"v1")
    with p.local_path() as local:
        assert local.read_bytes() == b"v1"
        assert (tmp_path / "cache") in local.parents
    entries = [f for f in (tmp_path / "cache").rglob("*") if f.is_file() and f.read_bytes() == b"v1"]
    assert entries  # the content stays in the cache after the block
    p.write_bytes(b"v2")
    with p.local_path() as local:
        assert local.read_bytes() == b"v2"


@pytest.mark.parametrize("mode", ["wb", "w"])
def test_open_writer_dropped_without_close_publishes_nothing(path_root: AutoPath, mode: str) -> None:
    import gc

    target = path_root / "dropped.txt"
    target.write_text("old")
    f = target.open(mode)
    f.write(b"half of a new value" if mode == "wb" else "half of a new value")
    del f  # an exception escaped before close(), outside a with-block
    gc.collect()
    assert target.read_text() == "old"
    assert [p.name for p in path_root.iterdir()] == ["dropped.txt"]
