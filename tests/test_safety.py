"""Issue 13, "Safe loading and keys" and "Seed contract left": each test is named after the
point it proves (9: class files never import modules when pickle is off, 10: the CLI refuses
pickle, 11: keys and paths stay in the store, 12: OS errors keep their type, 13: ``in`` agrees
with ``[]``, 15: one array in an ``.npz``). Point 16 (0.1.x stores) is in test_legacy.py."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pydantic
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from autostore import AutoPath, AutoStore, FormatError, InvalidKey, NotFound
from autostore.backends.local import LocalBackend, remove_stale_temp_files
from conftest import Raw


# -- 9: .dataclass.json / .pydantic.json never import a module while pickle is off ------------------
@dataclasses.dataclass
class Point:
    x: float
    y: float


class Model(pydantic.BaseModel):
    name: str
    size: int


def _planted_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    """A module on sys.path that creates a marker file when it is imported (the side effect a
    hostile file would aim for), defining a dataclass and a pydantic model."""
    name = f"planted_{uuid.uuid4().hex[:8]}"
    marker = tmp_path / f"{name}.imported"
    source = tmp_path / "modules" / f"{name}.py"
    source.parent.mkdir()
    source.write_text(
        "import dataclasses, pathlib, pydantic\n"
        f"pathlib.Path({str(marker)!r}).write_text('module code ran')\n"
        "@dataclasses.dataclass\n"
        "class Thing:\n"
        "    a: int\n"
        "class Model(pydantic.BaseModel):\n"
        "    a: int\n"
    )
    monkeypatch.syspath_prepend(str(source.parent))
    return name, marker


@pytest.mark.parametrize("ext, cls", [(".dataclass.json", "Thing"), (".pydantic.json", "Model")])
def test_9_class_files_import_no_module_when_pickle_is_off(
    store: AutoStore, raw: Raw, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ext: str, cls: str
) -> None:
    name, marker = _planted_module(tmp_path, monkeypatch)
    raw.write("thing" + ext, json.dumps({"class": f"{name}:{cls}", "data": {"a": 7}}).encode())
    strict = AutoStore(store.uri, options=store.options.replace(allow_pickle=False))
    with pytest.warns(UserWarning, match=rf"module '{name}' is not imported and allow_pickle is off") as caught:
        value = strict["thing"]
    assert value == {"a": 7}  # the stored fields, as a plain dict
    assert "import " + name in str(caught[0].message)  # says how to get instances back
    assert not marker.exists() and name not in sys.modules  # no module code ran

    trusting = AutoStore(store.uri, options=store.options.replace(allow_pickle=True))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            value = trusting["thing"]
        assert type(value).__name__ == cls and value.a == 7
        assert marker.read_text() == "module code ran"  # allowed: imported as in 0.1.x
        # Once the module is imported (the caller's own classes), the strict store builds instances too.
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            again = strict["thing"]
        assert type(again) is type(value) and again.a == 7
    finally:
        sys.modules.pop(name, None)


def test_9_own_classes_round_trip_with_pickle_off(store: AutoStore) -> None:
    strict = AutoStore(store.uri, options=store.options.replace(allow_pickle=False))
    strict["p"] = Point(1.0, 2.5)
    strict["m"] = Model(name="n", size=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert strict["p"] == Point(1.0, 2.5)
        assert strict["m"] == Model(name="n", size=3)


def test_9_a_class_path_cannot_reach_beyond_the_module(store: AutoStore, raw: Raw) -> None:
    """With pickle off, only the module's own namespace is looked at (a module __getattr__ that
    imports submodules is not called), and only dataclasses / pydantic models are built."""
    strict = AutoStore(store.uri, options=store.options.replace(allow_pickle=False))
    raw.write("a.dataclass.json", json.dumps({"class": "os:system", "data": {"cmd": "true"}}).encode())
    raw.write("b.dataclass.json", json.dumps({"class": "json:decoder.JSONDecoder", "data": {}}).encode())
    with pytest.warns(UserWarning, match="not a class"):
        assert strict["a"] == {"cmd": "true"}
    with pytest.warns(UserWarning, match="has no 'decoder.JSONDecoder'"):
        assert strict["b"] == {}


# -- 11: keys never name temporary files, never climb out of the root, never follow a link out ------
MARKER_KEYS = [".autostore-tmp-x", "a/.autostore-tmp-1234-b", ".autostore-tmp-/c.json"]


def test_11_temp_marker_segments_are_refused(store: AutoStore, raw: Raw) -> None:
    attempts: list[Callable[[str], Any]] = [
        lambda k: store.__setitem__(k, {"v": 1}),
        lambda k: store.write(k, "text", format="txt"),
        lambda k: store[k],
        lambda k: k in store,
        lambda k: store.copy("src", k),
        lambda k: (AutoPath(store.uri, store=store) / k).write_bytes(b"x"),
    ]
    store["src"] = {"v": 0}
    for key in MARKER_KEYS:
        for attempt in attempts:
            with pytest.raises(InvalidKey, match=r"\.autostore-tmp-.*temporary files.*rename it"):
                attempt(key)
    assert raw.keys() == ["src.json"]


def test_11_temp_marker_keys_would_have_been_lost(tmp_path: Path) -> None:
    """Why: a file named like a temporary file is hidden from listings and deleted as a leftover."""
    root = tmp_path / "data"
    (root / "a").mkdir(parents=True)
    (root / "a" / ".autostore-tmp-old").write_text("{}")
    store = AutoStore(root)
    assert store.keys() == []
    assert remove_stale_temp_files(root, older_than=0) == [str(root / "a" / ".autostore-tmp-old")]


def test_11_local_backend_path_refuses_dotdot(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "secret.json").write_text("{}")
    backend = LocalBackend(tmp_path / "data")
    for key in ("..", "../secret.json", "a/../../secret.json", "a/..", "x/../y"):
        with pytest.raises(InvalidKey, match=r"'\.\.' segment"):
            backend.path(key)
        with pytest.raises(InvalidKey):
            backend.get_bytes(key)
        with pytest.raises(InvalidKey):
            backend.put_bytes(key, b"{}")
    assert backend.path("a..b/c..") == str(tmp_path / "data" / "a..b" / "c..")  # dots inside names are fine
    assert (tmp_path / "secret.json").read_text() == "{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "secret.json"]


def test_11_absolute_paths_inside_a_local_root_keep_its_rules(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.json").write_text('{"secret": 1}')
    root = tmp_path / "data"
    (root / "inside").mkdir(parents=True)
    (root / "link_dir").symlink_to(outside)  # leads out of the root
    (root / "inner_link").symlink_to(root / "inside")  # stays inside: allowed
    store = AutoStore(root)
    escaping = AutoPath(str(root / "link_dir" / "new.bin"), store=store)
    attempts: list[Callable[[], Any]] = [
        lambda: escaping.write_bytes(b"planted"),
        lambda: escaping.write_text("planted"),
        lambda: escaping.open("wb").close(),
        lambda: escaping.touch(),
        lambda: escaping.save({"planted": True}),
        lambda: AutoPath(str(root / "link_dir" / "secret.json"), store=store).read_bytes(),
        lambda: AutoPath(str(root / "link_dir" / "secret.json"), store=store).unlink(),
        lambda: AutoPath(str(root / "link_dir"), store=store) / "deeper" / "x.json",
        lambda: store.__setitem__(f"file://{root}/link_dir/new.json", {"planted": True}),
        lambda: store[f"file://{root}/link_dir/secret.json"],
        lambda: AutoPath(str(root / "inside" / ".autostore-tmp-x"), store=store).write_text("x"),
    ]
    for number, attempt in enumerate(attempts):
        with pytest.raises(InvalidKey, match=r"outside the store root|temporary files") as info:
            path = attempt()
            if isinstance(path, AutoPath):
                path.write_text("x")
        assert str(root) in str(info.value) or "autostore-tmp" in str(info.value), number
    assert sorted(p.name for p in outside.iterdir()) == ["secret.json"]
    assert json.loads((outside / "secret.json").read_text()) == {"secret": 1}
    assert sorted(p.name for p in (root / "inside").iterdir()) == []

    # Inside the root, and outside it, paths work as before.
    AutoPath(str(root / "inner_link" / "ok.json"), store=store).write_text('{"ok": 1}')
    assert store["inside/ok"] == {"ok": 1}
    AutoPath(str(tmp_path / "elsewhere.txt"), store=store).write_text("free")
    assert (tmp_path / "elsewhere.txt").read_text() == "free"
    AutoPath(str(root / "inside" / "a.json"), store=store).write_text("{}")
    assert store["inside/a"] == {}


# -- 10: the CLI is a viewer: no unpickling unless --allow-pickle --------------------------------------
class _Planted:
    """Unpickling this calls ``Path(marker).touch()``: code chosen by whoever wrote the file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.marker.touch, ())


def test_10_cli_cat_refuses_pickle_and_torch_modules_unless_allowed(tmp_path: Path) -> None:
    import pickle

    import torch

    from test_cli import COMMAND, base_env, run

    marker = tmp_path / "code-ran"
    data = tmp_path / "data"
    data.mkdir()
    (data / "x.pkl").write_bytes(pickle.dumps(_Planted(marker)))
    torch.save(torch.nn.Linear(2, 1), data / "model.pt")
    torch.save({"w": torch.ones(2)}, data / "weights.pt")
    env = base_env(AUTOSTORE_ALLOW_PICKLE="1")  # the environment does not open the door for cat

    for target in ("x.pkl", "x", "model.pt", "model"):
        proc = run("cat", str(data / target), env=env, check=11)  # 11: FormatError (UnsafeLoad)
        assert proc.stdout == ""
        assert "would run code" in proc.stderr and "autostore cat --allow-pickle" in proc.stderr, proc.stderr
        assert str(data / target) in proc.stderr
    assert not marker.exists()  # nothing was unpickled

    assert json.loads(run("cat", str(data / "weights.pt"), env=env).stdout) == {"w": "tensor([1., 1.])"}
    assert "Linear" in run("cat", "--allow-pickle", str(data / "model.pt"), env=env).stdout
    run("cat", "--allow-pickle", str(data / "x.pkl"), env=env)
    assert marker.exists()  # with the flag the pickle really is loaded
    marker.unlink()
    raw = subprocess.run([*COMMAND, "cat", "--raw", str(data / "x.pkl")], env=env, capture_output=True, timeout=120)
    assert raw.returncode == 0 and raw.stdout == (data / "x.pkl").read_bytes() and not marker.exists()
    assert "--allow-pickle" in run("cat", "--help", env=env).stdout


# -- 12: operating-system failures stay OSErrors that say what happened ---------------------------------
# Tests run as root, which ignores permission bits and most limits. The children below give up
# what makes root special: RLIMIT_FSIZE (a write past the limit fails with EFBIG, as a full disk
# fails with ENOSPC) and the capabilities that bypass file permissions (CAP_DAC_OVERRIDE,
# CAP_DAC_READ_SEARCH, CAP_FOWNER), so a read-only folder refuses even root.
_CHILD_PRELUDE = '''
import ctypes, resource, signal, sys

def limit_file_size(limit):
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel kills the writer
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

def drop_file_capabilities():
    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]
    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]
    libc = ctypes.CDLL(None, use_errno=True)
    header, data = Header(0x20080522, 0), (Data * 2)()  # _LINUX_CAPABILITY_VERSION_3
    assert libc.capget(ctypes.byref(header), data) == 0, ctypes.get_errno()
    keep = ~((1 << 1) | (1 << 2) | (1 << 3)) & 0xFFFFFFFF  # DAC_OVERRIDE, DAC_READ_SEARCH, FOWNER
    data[0].effective &= keep
    data[0].permitted &= keep
    assert libc.capset(ctypes.byref(header), data) == 0, ctypes.get_errno()

def outcome(call):
    try:
        call()
    except BaseException as exc:
        return [type(exc).__name__, [c.__name__ for c in type(exc).__mro__], getattr(exc, "errno", None), str(exc)]
    return ["ok", [], None, ""]
'''


def _run_child(body: str, *args: str) -> Any:
    from test_cli import base_env

    proc = subprocess.run(
        [sys.executable, "-c", _CHILD_PRELUDE + body, *args],
        env=base_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_12_full_disk_while_writing_is_an_os_error(tmp_path: Path) -> None:
    import numpy as np
    import polars as pl

    root = tmp_path / "data"
    store = AutoStore(root)
    old = {"txt": "old", "frame": pl.DataFrame({"a": [0]}), "arr": np.zeros(1)}
    for key, value in old.items():
        store[key] = value
    before = sorted(p.name for p in root.iterdir())
    results = _run_child(
        '''
import json, numpy as np, polars as pl
from autostore import AutoStore, AutoPath
store = AutoStore(sys.argv[1])
limit_file_size(64 * 1024)
print(json.dumps({
    "txt": outcome(lambda: store.__setitem__("txt", "x" * 200_000)),
    "frame": outcome(lambda: store.__setitem__("frame", pl.DataFrame({"a": np.arange(200_000)}))),
    "arr": outcome(lambda: store.__setitem__("arr", np.zeros(200_000))),
    "dataset": outcome(lambda: store.__setitem__("ds/", pl.DataFrame({"a": np.arange(200_000)}))),
    "path": outcome(lambda: AutoPath("big.bin", store=store).write_bytes(b"x" * 200_000)),
}))
''',
        str(root),
    )
    for what, (name, mro, code, message) in results.items():
        assert "OSError" in mro and "FormatError" not in mro, (what, name, message)
        assert code == 27 and "File too large" in message, (what, message)  # EFBIG, as ENOSPC on a full disk
        if what in old:
            assert str(root) in message and what in message, message  # names the file it could not write
    for key, value in old.items():  # the old values are untouched, no temporary file is left
        got = store[key]
        assert got.equals(value) if hasattr(got, "equals") else (np.array_equal(got, value) or got == value)
    assert sorted(p.name for p in root.iterdir() if p.name != "ds") == before
    assert not [p for p in root.rglob("*") if p.is_file() and p.name not in before]  # nothing half-written


def test_12_permission_denied_is_a_permission_error(tmp_path: Path) -> None:
    root = tmp_path / "data"
    store = AutoStore(root)
    store["a"] = {"v": 1}
    store["locked"] = {"v": 2}
    (root / "locked.json").chmod(0o000)
    root.chmod(0o555)  # read-only folder
    try:
        results = _run_child(
            '''
import json
from autostore import AutoStore, AutoPath
drop_file_capabilities()
store = AutoStore(sys.argv[1])
print(json.dumps({
    "write": outcome(lambda: store.__setitem__("a", {"v": 99})),
    "write-new": outcome(lambda: store.__setitem__("new", "text")),
    "read-locked": outcome(lambda: store["locked"]),
    "path-write": outcome(lambda: AutoPath("b.txt", store=store).write_text("x")),
    "read": outcome(lambda: store["a"]),
}))
''',
            str(root),
        )
    finally:
        root.chmod(0o755)
        (root / "locked.json").chmod(0o644)
    assert results.pop("read")[0] == "ok"
    for what, (name, mro, code, message) in results.items():
        assert name == "PermissionError" and "FormatError" not in mro and code == 13, (what, name, message)
        assert "Permission denied" in message, message
        if what != "path-write":
            assert str(root) in message, message
    assert store["a"] == {"v": 1} and store["locked"] == {"v": 2}
    assert sorted(p.name for p in root.iterdir()) == ["a.json", "locked.json"]


def test_12_a_file_in_the_way_is_not_a_directory_error(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file where a folder should be")
    store = AutoStore(tmp_path)
    with pytest.raises(NotADirectoryError) as info:
        store["blocker/x"] = {"v": 1}
    assert not isinstance(info.value, FormatError) and "blocker" in str(info.value)
    assert (tmp_path / "blocker").read_text() == "a file where a folder should be"


def _vanishing(base: type) -> Any:
    class Vanishing(base):  # type: ignore[misc, valid-type]
        """Another process removes the file just as the handler opens it."""

        supports_bytes = False  # read the file itself, as file-based formats do

        @property
        def priority(self) -> int:
            return 50

        def read_from_file(self, file_path: Path, file_extension: str) -> Any:
            Path(file_path).unlink()
            return super().read_from_file(file_path, file_extension)

    return Vanishing()


@pytest.mark.parametrize("key", ["a.json", "f.parquet", "img.png"])
def test_12_a_file_vanishing_mid_read_is_not_found(tmp_path: Path, key: str) -> None:
    import polars as pl
    from PIL import Image

    from autostore.formats.image import ImageHandler
    from autostore.formats.json import JSONHandler
    from autostore.formats.parquet import ParquetHandler

    value = {"a.json": {"v": 1}, "f.parquet": pl.DataFrame({"a": [1]}), "img.png": Image.new("RGB", (2, 2))}[key]
    base = {"a.json": JSONHandler, "f.parquet": ParquetHandler, "img.png": ImageHandler}[key]
    store = AutoStore(tmp_path)
    store[key] = value
    store.register_handler(_vanishing(base))
    with pytest.raises(NotFound) as info:
        store[key]
    assert not isinstance(info.value, FormatError)
    assert isinstance(info.value, FileNotFoundError) and "disappeared while it was being read" in str(info.value)
    assert str(tmp_path / key) in str(info.value)


# -- 13: `k in store` is True exactly when store[k] has something to read -------------------------------
def test_13_folders_without_data_files_are_not_in_the_store(store: AutoStore, raw: Raw) -> None:
    import polars as pl

    raw.write("only_json/a.json", b"{}")
    raw.write("only_json/b.txt", b"hi")
    raw.write("only_hidden/_SUCCESS", b"")
    raw.write("data/part-0.parquet", _PARQUET)
    if raw.server is None:
        (raw.root / "empty").mkdir()
    for key in ("only_json", "only_json/", "only_hidden", "only_hidden/", "empty", "empty/", "absent", "absent/"):
        assert key not in store, key
        with pytest.raises(NotFound) as info:
            store[key]
        assert key.rstrip("/") in str(info.value)
    for key in ("data", "data/"):
        assert key in store
        assert store[key].collect().equals(pl.DataFrame({"a": [1, 2]}))
    assert store["only_json/a"] == {} and "only_json/a" in store
    if raw.server is not None:  # a folder marker ("marked/", made by consoles) lists as "marked"
        raw.write("marked/", b"")
        raw.write("marked/part-0.parquet", _PARQUET)
        raw.write("marker_only/", b"")
        fresh = AutoStore(store.uri, options=store.options)
        assert "marked" in fresh and fresh["marked"].collect().equals(pl.DataFrame({"a": [1, 2]}))
        assert "marker_only" not in fresh
        with pytest.raises(NotFound):
            fresh["marker_only"]


def _parquet_bytes() -> bytes:
    import io

    import polars as pl

    buf = io.BytesIO()
    pl.DataFrame({"a": [1, 2]}).write_parquet(buf)
    return buf.getvalue()


_PARQUET = _parquet_bytes()
_CONTENT = {
    ".json": b'{"v": 1}',
    ".parquet": _PARQUET,
    ".csv": b"a\n1\n",
    ".txt": b"text",
    "": b'{"legacy": true}',  # an extensionless file, as 0.1.x wrote them
    ".xyz": b"\x00\x01\x02",  # an extension no handler knows
}
_names = st.sampled_from(["a", "b", "c"])
_files = st.tuples(
    st.lists(_names, max_size=2),  # folders
    st.one_of(_names, st.sampled_from(["_SUCCESS", ".hidden"])),  # file stem
    st.sampled_from(sorted(_CONTENT)),
)


def _layout_keys(files: set[str]) -> list[str]:
    """Keys worth asking about: every file with and without its extension, every folder with
    and without "/", and names next to them that do not exist."""
    keys: set[str] = {"zz", "zz/", "a/zz", "a/b/zz/"}
    for name in files:
        parts = name.split("/")
        keys.add(name)
        keys.add(name.rpartition(".")[0] if "." in parts[-1][1:] else name)
        for i in range(1, len(parts)):
            keys.update(("/".join(parts[:i]), "/".join(parts[:i]) + "/"))
    return sorted(k for k in keys if k and not k.startswith(".") and "/." not in k)


def _outcome(store: AutoStore, key: str) -> str:
    try:
        store[key]
    except NotFound:
        return "NotFound"
    except Exception as exc:
        return type(exc).__name__
    return "value"


@pytest.mark.parametrize("where", ["local", "s3"])
def test_13_in_agrees_with_getitem_for_random_layouts(
    request: pytest.FixtureRequest, tmp_path: Path, where: str
) -> None:
    """Property: for random folders of json/parquet/csv/txt/extensionless/unknown/hidden files,
    ``k in store`` is True exactly when ``store[k]`` does not raise NotFound, on a fresh store and
    on one that has already resolved the keys. (An ambiguous key is in the store: ``store[k]``
    then raises AmbiguousKey, asking which file.)"""
    from autostore import AmbiguousKey

    base = request.getfixturevalue("local_store" if where == "local" else "s3_store")
    raw = Raw(base, request.getfixturevalue("s3_server") if where == "s3" else None)
    examples = {"local": 60, "s3": 12}[where]

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(st.lists(_files, min_size=1, max_size=6))
    def check(layout: list[tuple[list[str], str, str]]) -> None:
        names = {"/".join([*folders, stem + ext]) for folders, stem, ext in layout}
        as_folders = {"/".join(n.split("/")[:i]) for n in names for i in range(1, n.count("/") + 1)}
        if where == "local":
            assume(not names & as_folders)  # a path cannot be a file and a folder on disk
        sub = uuid.uuid4().hex[:8]
        for name in names:
            ext = "." + name.rpartition(".")[2] if "." in name.rpartition("/")[2][1:] else ""
            raw.write(f"{sub}/{name}", _CONTENT[ext])
        asking = AutoStore(base.uri + sub + "/", options=base.options)
        reading = AutoStore(base.uri + sub + "/", options=base.options)
        for key in _layout_keys(names):
            contained = key in asking
            outcome = _outcome(reading, key)
            assert contained == (outcome != "NotFound"), (sorted(names), key, contained, outcome)
            assert _outcome(asking, key) == outcome and (key in reading) == contained  # after resolving
            if outcome == AmbiguousKey.__name__:
                assert contained

    check()


# -- 15: one array in an .npz, as np.savez writes it ------------------------------------------------------
def test_15_one_array_to_npz_round_trips(store: AutoStore, raw: Raw) -> None:
    import io

    import numpy as np

    array = np.arange(12, dtype=np.int16).reshape(3, 4)
    assert store.write("arr.npz", array) == "arr.npz"
    with np.load(io.BytesIO(raw.read("arr.npz"))) as archive:  # numpy reads it without autostore
        assert archive.files == ["arr_0"]
        assert np.array_equal(archive["arr_0"], array) and archive["arr_0"].dtype == np.int16
    for key in ("arr", "arr.npz"):
        got = store[key]
        assert isinstance(got, np.ndarray) and got.dtype == np.int16 and np.array_equal(got, array)

    buf = io.BytesIO()
    np.savez(buf, np.ones((2, 2), dtype=np.float32))  # written by numpy itself
    raw.write("by_numpy.npz", buf.getvalue())
    got = store["by_numpy"]
    assert isinstance(got, np.ndarray) and got.shape == (2, 2) and got.dtype == np.float32

    store["pair.npz"] = {"x": np.zeros(2), "y": np.ones(3)}  # a dict of arrays stays a dict
    store["one.npz"] = {"x": np.zeros(2)}
    assert sorted(store["pair"]) == ["x", "y"] and np.array_equal(store["pair"]["y"], np.ones(3))
    assert list(store["one"]) == ["x"]
    with pytest.raises(FormatError, match="Python objects"):
        store["objects.npz"] = np.array([object()], dtype=object)
    assert "objects" not in store
