"""store.memoize against real backends: local disk, SeaweedFS (S3, requests counted by
tests/counting_proxy.py), memory:// and Azurite. Several tests run the memoized function in fresh
processes (a temp module imported by ``python -c``): computations are counted by marker files the
function body writes, never by the library's own report."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import enum
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import torch
from polars.testing import assert_frame_equal

import autostore
from autostore import (
    AlreadyExists,
    AutoPath,
    AutoStore,
    AzureOptions,
    ConfigError,
    CorruptData,
    S3Options,
    UnsupportedFormat,
)
from autostore.backends.boto3_transport import Boto3Backend
from autostore.digest import Unencodable, code_fingerprint, digest, encode
from autostore.memoize import AsyncMemoized, Memoized, list_results, remove_results
from autostore.testing import S3Server
from counting_proxy import CountingProxy
from helpers import boto_client
from servers import Azurite

SRC = str(Path(autostore.__file__).resolve().parents[1])
TESTS = str(Path(__file__).resolve().parent)


# -- fixtures and helpers ----------------------------------------------------------------------
@pytest.fixture
def root(shared_bucket: str) -> str:
    return f"s3://{shared_bucket}/memo-{uuid.uuid4().hex[:10]}/"


def s3_kwargs(server: S3Server, endpoint: str | None = None, **extra: Any) -> dict[str, Any]:
    return dict(server.options_kwargs(), **({"endpoint_url": endpoint} if endpoint else {}), **extra)


def files_below(store: AutoStore) -> list[str]:
    """Every object below the store, from the backend's own listing (os / S3 ListObjects)."""
    cut = len(store._prefix)
    return sorted(m.key[cut:] for m in store._primary.list_objects(store._prefix))


def raw_keys(server: S3Server, uri: str) -> list[str]:
    """What is really in the bucket below ``uri``, listed with boto3 straight to the server."""
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    client = boto_client(server)
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"][len(prefix) :] for page in pages for o in page.get("Contents", []))


class Counter:
    """Counts calls of the memoized function bodies in this process."""

    def __init__(self) -> None:
        self.calls: list[Any] = []

    def __call__(self, *args: Any) -> None:
        self.calls.append(args)

    def __len__(self) -> int:
        return len(self.calls)


JOBS = '''
"""Memoized functions run by the tests in fresh processes (a marker file per computation)."""
import json, os, time, uuid
from pathlib import Path
from autostore import AutoStore

store = AutoStore(os.environ["MEMO_URI"], **json.loads(os.environ["MEMO_OPTIONS"]))
MARKERS = Path(os.environ["MEMO_MARKERS"])


def mark(what):
    MARKERS.mkdir(parents=True, exist_ok=True)
    (MARKERS / f"{what}-{os.getpid()}-{uuid.uuid4().hex[:6]}").write_text("x")


@store.memoize
def square(x):
    mark("square")
    return {"x": x, "square": x * x, "by": os.getpid()}


@store.memoize
def slow(x):
    mark("slow")
    time.sleep(1.0)
    return {"x": x, "by": os.getpid(), "token": uuid.uuid4().hex}


@store.memoize
def hangs(x):
    if os.environ.get("MEMO_HANG"):
        print("started", flush=True)
        time.sleep(120)
    mark("hangs")
    return {"x": x}
'''


def markers(folder: Path, what: str) -> int:
    return len(list(folder.glob(f"{what}-*"))) if folder.exists() else 0


class Jobs:
    """The JOBS module in a temp folder and how to run it in fresh interpreters."""

    def __init__(self, folder: Path, uri: str, options: dict[str, Any], source: str = JOBS) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "jobs.py").write_text(source)
        self.markers = folder / "markers"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AUTOSTORE_"))},
            "PYTHONPATH": os.pathsep.join([SRC, str(folder)]),
            "AUTOSTORE_CONFIG": "",
            "MEMO_URI": uri,
            "MEMO_OPTIONS": json.dumps(options),
            "MEMO_MARKERS": str(self.markers),
        }

    def write(self, source: str) -> None:
        (self.folder / "jobs.py").write_text(source)
        for cached in (self.folder / "__pycache__").glob("jobs*"):
            cached.unlink()

    def popen(self, code: str, **env: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-c", code],
            cwd=self.folder,
            env={**self.env, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, code: str, **env: str) -> str:
        proc = self.popen(code, **env)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        return out

    def count(self, what: str) -> int:
        return markers(self.markers, what)


# -- values come back in their natural format --------------------------------------------------
def test_results_are_stored_in_their_natural_format_and_come_back_as_the_same_type(
    store: AutoStore, tmp_path: Path
) -> None:
    count = Counter()
    frame = pl.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    results: dict[str, Any] = {
        "frame": frame,
        "record": {"k": [1, 2.5, None], "nested": {"s": "v"}},
        "array": np.arange(6, dtype=np.int32).reshape(2, 3),
        "tensor": torch.tensor([1.0, 2.0]),
        "text": "hello",
        "number": 42,
        "ratio": 0.25,
        "flag": True,
        "raw": b"\x00\x01bytes",
        "nothing": None,
        "rows": [{"a": 1}, {"a": 2}],
    }

    @store.memoize
    def produce(kind: str) -> Any:
        count(kind)
        return results[kind]

    expected_ext = {
        "frame": ".parquet",
        "record": ".json",
        "array": ".npy",
        "tensor": ".pt",
        "text": ".txt",
        "number": ".json",
        "ratio": ".json",
        "flag": ".json",
        "raw": ".bin",
        "rows": ".jsonl",
    }
    for kind in results:
        produce(kind)
    assert len(count) == len(results)
    for kind, want in results.items():
        got = produce(kind)
        assert type(got) is type(want), kind
        if isinstance(want, pl.DataFrame):
            assert_frame_equal(got, want)
        elif isinstance(want, np.ndarray):
            assert got.dtype == want.dtype and np.array_equal(got, want)
        elif isinstance(want, torch.Tensor):
            assert torch.equal(got, want)
        else:
            assert got == want, kind
    assert len(count) == len(results)  # every second call was served from the store
    stored = files_below(store)
    folder = (
        "test_memoize.test_results_are_stored_in_their_natural_format_and_come_back_as_the_same_type.locals.produce"
    )
    for kind, ext in expected_ext.items():
        key = produce.key(kind)
        assert key.startswith(folder + "/")
        meta = json.loads(store._primary.get_bytes(store._prefix + key + ".meta.json"))
        (item,) = meta["value"]["items"]
        assert item["file"].endswith(ext), (kind, item)
        assert f"{folder}/{item['file']}" in stored
    none_meta = json.loads(store._primary.get_bytes(store._prefix + produce.key("nothing") + ".meta.json"))
    assert none_meta["value"]["items"] == [{"none": True}]  # None needs no value file


def test_a_tuple_is_stored_element_by_element_and_returned_as_a_tuple(local_store: AutoStore) -> None:
    @local_store.memoize
    def split(n: int) -> tuple[pl.DataFrame, dict[str, int], None, np.ndarray]:
        return pl.DataFrame({"i": list(range(n))}), {"n": n}, None, np.ones(n)

    first = split(3)
    second = split(3)
    assert type(second) is tuple and len(second) == 4
    assert_frame_equal(second[0], first[0])
    assert second[1] == {"n": 3} and second[2] is None and np.array_equal(second[3], np.ones(3))
    names = sorted(p.name for p in Path(local_store.uri).rglob("*") if p.is_file())
    digest_ = split.key(3).rpartition("/")[2]
    assert {n.split(".")[0] for n in names} == {digest_}
    values = sorted(n.split("-")[1] for n in names if not n.endswith(".meta.json"))
    assert values == ["0.parquet", "1.json", "3.npy"]  # element 2 is None: no file


def test_a_lazyframe_result_comes_back_lazy_and_a_dataframe_as_a_dataframe(local_store: AutoStore) -> None:
    @local_store.memoize
    def lazy(n: int) -> pl.LazyFrame:
        return pl.LazyFrame({"i": list(range(n))})

    @local_store.memoize
    def eager(n: int) -> pl.DataFrame:
        return pl.DataFrame({"i": list(range(n))})

    lazy(3), eager(3)
    assert isinstance(lazy(3), pl.LazyFrame) and lazy(3).collect()["i"].to_list() == [0, 1, 2]
    assert isinstance(eager(3), pl.DataFrame)


def test_values_a_format_would_change_are_pickled_not_silently_altered(local_store: AutoStore) -> None:
    @local_store.memoize
    def value(kind: str) -> Any:
        return {
            "int keys": {1: "a", 2: "b"},
            "tuples": {"t": (1, 2)},
            "dates": {"d": dt.date(2026, 1, 1)},
            "str subclass": Shade.DARK,
            "dataclass": Point3(1, 2, 3),
        }[kind]

    for kind, want, ext in [
        ("int keys", {1: "a", 2: "b"}, ".pkl"),
        ("tuples", {"t": (1, 2)}, ".pkl"),
        ("dates", {"d": dt.date(2026, 1, 1)}, ".pkl"),
        ("str subclass", Shade.DARK, ".pkl"),
        ("dataclass", Point3(1, 2, 3), ".dataclass.json"),  # importable: its own format
    ]:
        value(kind)
        got = value(kind)
        assert got == want and type(got) is type(want), kind
        meta = json.loads((Path(local_store.uri) / (value.key(kind) + ".meta.json")).read_text())
        assert meta["value"]["items"][0]["file"].endswith(ext), kind

    @dataclasses.dataclass
    class Local:
        x: int

    @local_store.memoize
    def local(x: int) -> Local:
        return Local(x)

    with pytest.raises(UnsupportedFormat, match=r"Cannot memoize .*local: its result.*Local, cannot be stored"):
        local(1)  # neither importable again (dataclass file) nor picklable
    assert [k for k in files_below(local_store) if k.startswith(local.folder + "/")] == []


class Shade(enum.StrEnum):
    DARK = "dark"


@dataclasses.dataclass
class Point3:
    x: int
    y: int
    z: int


def test_allow_pickle_false_and_a_result_only_pickle_can_hold_raises_unsupported_format_naming_the_function(
    tmp_path: Path,
) -> None:
    store = AutoStore(tmp_path / "data", allow_pickle=False, cache_dir=str(tmp_path / "cache"))
    calls = Counter()

    class Opaque:
        pass

    @store.memoize
    def opaque(x: int) -> Any:
        calls(x)
        return Opaque()

    @store.memoize
    def int_keys(x: int) -> Any:
        return {1: "a"}

    for func in (opaque, int_keys):
        with pytest.raises(UnsupportedFormat) as info:
            func(1)
        message = str(info.value)
        assert func.function in message and "allow_pickle is off" in message and "register a handler" in message
    assert not (tmp_path / "data").exists() or files_below(store) == []  # nothing stored, nothing half-written

    @store.memoize
    def safe(x: int) -> dict[str, int]:
        return {"x": x}

    assert safe(1) == {"x": 1} and safe(1) == {"x": 1}  # safe formats still work with pickle off


def test_exceptions_are_never_cached(store: AutoStore) -> None:
    attempts = Counter()

    @store.memoize
    def flaky(x: int) -> dict[str, int]:
        attempts(x)
        if len(attempts) == 1:
            raise RuntimeError("boom")
        return {"x": x}

    with pytest.raises(RuntimeError, match="boom"):
        flaky(1)
    assert files_below(store) == []
    assert flaky(1) == {"x": 1} and flaky(1) == {"x": 1}
    assert len(attempts) == 2


# -- keys ---------------------------------------------------------------------------------------
def test_key_is_prefix_module_qualname_digest_defaults_applied_and_ignore_dropped(local_store: AutoStore) -> None:
    calls = Counter()

    @local_store.memoize(prefix="features/", ignore=["verbose"])
    def features(day: dt.date, columns: list[str], scale: float = 1.0, verbose: bool = False) -> dict[str, Any]:
        calls(day)
        return {"day": day.isoformat(), "columns": columns, "scale": scale}

    key = features.key(dt.date(2026, 1, 1), ["a", "b"])
    folder, _, digest_ = key.rpartition("/")
    assert folder == "features/test_memoize." + features.__qualname__.replace("<locals>", "locals")
    assert len(digest_) == 32 and int(digest_, 16) >= 0
    # defaults applied, keyword or positional, ignored parameter dropped: one key
    same = [
        features.key(dt.date(2026, 1, 1), ["a", "b"], 1.0),
        features.key(day=dt.date(2026, 1, 1), columns=["a", "b"]),
        features.key(dt.date(2026, 1, 1), ["a", "b"], verbose=True),
    ]
    assert same == [key] * 3
    assert features.key(dt.date(2026, 1, 2), ["a", "b"]) != key
    assert features.key(dt.date(2026, 1, 1), ["b", "a"]) != key
    assert features.key(dt.date(2026, 1, 1), ["a", "b"], 2.0) != key
    features(dt.date(2026, 1, 1), ["a", "b"])
    features(dt.date(2026, 1, 1), ["a", "b"], verbose=True)
    assert len(calls) == 1
    assert (Path(local_store.uri) / (key + ".meta.json")).is_file()


def test_arguments_bind_like_inspect_signature_and_bad_calls_raise_its_type_error(local_store: AutoStore) -> None:
    import inspect

    def f(day: dt.date, columns: list[str], verbose: bool = False, *, scale: float = 1.0) -> None:
        return None

    memo = local_store.memoize(f)
    sig = inspect.signature(f)
    day, cols = dt.date(2026, 1, 1), ["a"]
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
        ((day, cols), {}),
        ((day,), {"columns": cols}),
        ((), {"scale": 2.0, "columns": cols, "day": day}),
        ((day, cols, True), {"scale": 3.0}),
        ((np.ones(2), cols), {}),
    ]
    for args, kwargs in calls:
        bound = sig.bind(*args, **kwargs)
        bound.apply_defaults()
        got = memo._bound(args, kwargs)
        assert list(got) == list(bound.arguments) and all(got[k] is bound.arguments[k] for k in got)
    for args, kwargs, message in [
        ((day,), {}, "missing a required argument: 'columns'"),
        ((day, cols), {"bogus": 1}, "unexpected keyword argument 'bogus'"),
        ((day, cols), {"day": day}, "multiple values for argument 'day'"),
        ((day, cols, True, 1.0), {}, "too many positional arguments"),
    ]:
        with pytest.raises(TypeError, match=message):
            memo(*args, **kwargs)
    assert files_below(local_store) == []


def test_unknown_ignore_or_track_names_are_config_errors(local_store: AutoStore) -> None:
    def f(a: int, b: int = 0) -> int:
        return a + b

    with pytest.raises(ConfigError, match=r"'verbos'.*parameters are a, b"):
        local_store.memoize(ignore=["verbos"])(f)
    with pytest.raises(ConfigError, match="'path'"):
        local_store.memoize(track=["path"])(f)


def test_unencodable_argument_raises_naming_the_parameter_and_suggesting_ignore(local_store: AutoStore) -> None:
    @local_store.memoize
    def fit(data: list[int], model: Any, options: dict[str, Any]) -> int:
        return 1

    with pytest.raises(UnsupportedFormat) as info:
        fit([1, 2], object(), {})
    message = str(info.value)
    assert "argument 'model'" in message and "builtins.object" in message and "ignore=['model']" in message
    with pytest.raises(UnsupportedFormat) as info:
        fit([1, 2], 1, {"callback": lambda x: x})
    assert "argument 'options' (at options['callback'])" in str(info.value)
    assert "ignore=['options']" in str(info.value)
    with pytest.raises(UnsupportedFormat, match=r"argument 'data'.*LazyFrame is a query"):
        fit(pl.LazyFrame({"a": [1]}), 1, {})
    assert files_below(local_store) == []

    ignored = local_store.memoize(ignore=["model"])(fit.__wrapped__)
    assert ignored([1, 2], object(), {}) == 1  # fine once ignored


# -- every supported argument type hashes equal in a fresh interpreter ------------------------------
VALUES = """
import dataclasses, datetime as dt, decimal, enum, fractions, uuid, os
from collections import OrderedDict, namedtuple
from pathlib import Path, PurePosixPath, PureWindowsPath
import numpy as np, polars as pl, pydantic
from autostore import AutoPath


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclasses.dataclass
class Window:
    start: dt.date
    columns: list
    weights: dict


class Settings(pydantic.BaseModel):
    name: str
    limit: int = 3
    tags: set[str] = set()


Point = namedtuple("Point", "x y")


def values():
    berlin = dt.timezone(dt.timedelta(hours=1))
    return [
        ("none", None), ("true", True), ("false", False), ("int", 7), ("negative", -7), ("big int", 2**200),
        ("float", 0.1), ("negative zero", -0.0), ("nan", float("nan")), ("inf", float("inf")), ("complex", 1 + 2j),
        ("str", "h\\u00e9llo"), ("empty str", ""), ("bytes", b"\\x00\\xff"), ("bytearray", bytearray(b"ab")),
        ("list", [1, "a", None]), ("tuple", (1, "a", None)), ("nested", {"a": [1, {"b": (2, 3)}]}),
        ("dict", {"b": 2, "a": 1, "c": {"z": 1, "y": 2}}), ("int keys", {2: "b", 1: "a"}),
        ("set", {"pear", "apple", "fig", "kiwi", "plum", "lime"}), ("frozenset", frozenset({"x", "y", "z", "w"})),
        ("mixed set", {1, "1", 2.5, None}), ("range", range(2, 10, 3)),
        ("decimal", decimal.Decimal("1.10")), ("fraction", fractions.Fraction(3, 7)),
        ("uuid", uuid.UUID("12345678-1234-5678-1234-567812345678")),
        ("enum", Color.RED), ("date", dt.date(2026, 1, 31)), ("datetime", dt.datetime(2026, 1, 31, 12, 30, 5, 123)),
        ("aware datetime", dt.datetime(2026, 1, 31, 12, tzinfo=berlin)),
        ("utc", dt.datetime(2026, 1, 1, tzinfo=dt.UTC)),
        ("time", dt.time(23, 59, 1)), ("timedelta", dt.timedelta(days=2, seconds=5, microseconds=7)),
        ("path", Path("data/2026/sales.csv")), ("posix path", PurePosixPath("/a/b")),
        ("windows path", PureWindowsPath("C:/a/b")),
        ("dataclass", Window(dt.date(2026, 1, 1), ["a", "b"], {"w": 0.5})),
        ("pydantic", Settings(name="run", tags={"b", "a", "c"})),
        ("namedtuple", Point(1, 2)), ("ordered dict", OrderedDict(b=1, a=2)), ("class", dt.date),
        ("numpy float", np.arange(12, dtype=np.float64).reshape(3, 4)),
        ("numpy int fortran", np.asfortranarray(np.arange(6, dtype=np.int16).reshape(2, 3))),
        ("numpy strided", np.arange(20)[::3]), ("numpy bool", np.array([True, False])),
        ("numpy structured", np.array([(1, 2.0)], dtype=[("a", "<i4"), ("b", "<f8")])),
        ("numpy strings", np.array(["x", "yz"])), ("numpy object", np.array([1, "a", None], dtype=object)),
        ("numpy big", np.arange(200_000, dtype=np.float32)), ("numpy scalar", np.float32(1.5)),
        ("numpy int scalar", np.int64(3)), ("numpy dtype", np.dtype("float32")),
        ("polars frame", pl.DataFrame({"a": [1, None, 3], "s": ["x", "y", None], "f": [0.5, 1.5, float("nan")]})),
        ("polars nested", pl.DataFrame({"l": [[1, 2], [3]], "st": [{"k": 1}, {"k": 2}]})),
        ("polars categorical", pl.DataFrame({"c": ["b", "a", "b"]}, schema={"c": pl.Categorical})),
        ("polars dates", pl.DataFrame({"d": [dt.date(2026, 1, 1)], "t": [dt.datetime(2026, 1, 1, 1)]})),
        ("polars empty", pl.DataFrame({"a": []}, schema={"a": pl.Int64})),
        ("polars series", pl.Series("s", [1.0, 2.0, None])),
        ("autopath", AutoPath(os.environ["MEMO_INPUT"])),
        ("autopath folder", AutoPath(os.environ["MEMO_INPUT_DIR"])),
        ("autopath missing", AutoPath(os.environ["MEMO_INPUT_DIR"] + "/missing.csv")),
    ]
"""


def test_every_supported_argument_type_hashes_equal_in_a_fresh_interpreter_with_another_hashseed(
    tmp_path: Path,
) -> None:
    (tmp_path / "memo_values.py").write_text(VALUES)
    data = tmp_path / "input.csv"
    data.write_text("a,b\n1,2\n")
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "part.csv").write_text("x\n1\n")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([SRC, str(tmp_path)]),
        "MEMO_INPUT": str(data),
        "MEMO_INPUT_DIR": str(tmp_path / "folder"),
    }
    code = textwrap.dedent(
        """
        import json, memo_values
        from autostore.digest import digest
        print(json.dumps({label: digest([("v", v)]) for label, v in memo_values.values()}))
        """
    )
    runs = []
    for seed in ("1", "2", "random"):
        out = subprocess.run(
            [sys.executable, "-c", code],
            env={**env, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        runs.append(json.loads(out.stdout))
    assert runs[0] == runs[1] == runs[2]
    assert len(runs[0]) >= 60
    assert len(set(runs[0].values())) == len(runs[0])  # distinct values, distinct digests


def test_distinct_values_never_share_an_encoding_and_order_of_dicts_and_sets_is_irrelevant() -> None:
    @dataclasses.dataclass
    class A:
        x: int

    @dataclasses.dataclass
    class B:
        x: int

    class E(enum.Enum):
        ONE = 1

    distinct = [
        None, True, 1, 1.0, "1", b"1", [1], (1,), {1}, frozenset({1}), {"1": 1}, {1: 1}, [[1]], [1, 1],
        ["1", 1], [1, "1"], ("a", "bc"), ("ab", "c"), A(1), B(1), E.ONE, 0.0, -0.0, "", b"", [], (), {},
        dt.date(2026, 1, 1), "2026-01-01", np.array([1], dtype=np.int64), np.array([1], dtype=np.int32),
        np.array([[1, 2]]), np.array([1, 2]), pl.DataFrame({"a": [1]}), pl.DataFrame({"b": [1]}),
        pl.DataFrame({"a": [1]}, schema={"a": pl.Int32}), pl.Series("a", [1]),
    ]  # fmt: skip
    encodings = [encode(v) for v in distinct]
    assert len(set(encodings)) == len(distinct)
    assert encode({"a": 1, "b": {"c": 2, "d": 3}}) == encode({"b": {"d": 3, "c": 2}, "a": 1})
    assert encode({3, 1, 2}) == encode({2, 3, 1})
    frame = pl.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    assert encode(frame) == encode(frame.clone()) and encode(frame) != encode(frame.reverse())
    assert encode(pl.concat([frame, frame], rechunk=False)) == encode(pl.concat([frame, frame], rechunk=True))
    recursive: list[Any] = [1]
    recursive.append(recursive)
    with pytest.raises(Unencodable, match="contains itself"):
        encode(recursive)
    with pytest.raises(Unencodable) as info:
        digest([("cfg", {"a": [1, object()]})])
    assert info.value.where() == "cfg['a'][1]"


def test_code_fingerprint_ignores_formatting_comments_and_docstrings_but_not_code(tmp_path: Path) -> None:
    sources = {
        "base": "def f(x):\n    return x + 1\n",
        "formatted": '@decorated\ndef f( x ):\n    """Doc."""\n    # comment\n\n    return (x +\n        1)\n',
        "changed": "def f(x):\n    return x + 2\n",
        "renamed arg": "def f(y):\n    return y + 1\n",
    }
    prints = {}
    for label, source in sources.items():
        path = tmp_path / f"m_{label.replace(' ', '_')}.py"
        path.write_text("decorated = lambda f: f\n" + source)
        namespace: dict[str, Any] = {}
        exec(compile(path.read_text(), str(path), "exec"), namespace)
        namespace["f"].__module__ = "m"
        import linecache

        linecache.checkcache(str(path))
        prints[label] = code_fingerprint(namespace["f"])
    assert all(p.startswith("src:") for p in prints.values())
    assert prints["base"] == prints["formatted"]
    assert len({prints["base"], prints["changed"], prints["renamed arg"]}) == 3
    # no source (exec'd from a string): the bytecode decides
    ns1: dict[str, Any] = {}
    ns2: dict[str, Any] = {}
    exec("def g(x):\n    'doc'\n    return x * 2\n", ns1)
    exec("def g(x):\n    return x * 3\n", ns2)
    assert code_fingerprint(ns1["g"]).startswith("code:")
    assert code_fingerprint(ns1["g"]) != code_fingerprint(ns2["g"])


# -- code edits and version bumps invalidate ------------------------------------------------------
EDITABLE = """
import json, os, uuid
from pathlib import Path
from autostore import AutoStore

store = AutoStore(os.environ["MEMO_URI"], **json.loads(os.environ["MEMO_OPTIONS"]))


@store.memoize{options}
def compute(x):
{body}
"""


def editable(body: str, options: str = "") -> str:
    marker = "    Path(os.environ['MEMO_MARKERS']).mkdir(exist_ok=True)\n"
    marker += "    (Path(os.environ['MEMO_MARKERS']) / f'compute-{uuid.uuid4().hex}').write_text('x')\n"
    return EDITABLE.format(options=options, body=marker + textwrap.indent(textwrap.dedent(body), "    "))


def test_code_edits_invalidate_in_a_fresh_process_but_formatting_does_not(tmp_path: Path) -> None:
    jobs = Jobs(tmp_path / "job", str(tmp_path / "store"), {"cache_dir": str(tmp_path / "cache")}, "")
    call = "import jobs; print(jobs.compute(3))"
    jobs.write(editable("return {'v': x + 1}"))
    assert jobs.run(call).strip() == "{'v': 4}" and jobs.count("compute") == 1
    assert jobs.run(call).strip() == "{'v': 4}" and jobs.count("compute") == 1  # a fresh process: a hit
    jobs.write(editable("# a comment, new spacing\nreturn {'v':   x+1}"))
    assert jobs.run(call).strip() == "{'v': 4}" and jobs.count("compute") == 1  # same code
    jobs.write(editable("return {'v': x + 100}"))
    assert jobs.run(call).strip() == "{'v': 103}" and jobs.count("compute") == 2  # edited: recomputed
    assert jobs.run(call).strip() == "{'v': 103}" and jobs.count("compute") == 2


def test_version_decides_alone_when_given_and_a_bump_invalidates(tmp_path: Path) -> None:
    jobs = Jobs(tmp_path / "job", str(tmp_path / "store"), {"cache_dir": str(tmp_path / "cache")}, "")
    call = "import jobs; print(jobs.compute(3))"
    jobs.write(editable("return {'v': x + 1}", '(version="1")'))
    assert jobs.run(call).strip() == "{'v': 4}" and jobs.count("compute") == 1
    jobs.write(editable("return {'v': x + 100}", '(version="1")'))
    assert jobs.run(call).strip() == "{'v': 4}" and jobs.count("compute") == 1  # same version: the stored result
    jobs.write(editable("return {'v': x + 100}", '(version="2")'))
    assert jobs.run(call).strip() == "{'v': 103}" and jobs.count("compute") == 2
    metas = sorted((tmp_path / "store").rglob("*.meta.json"))
    assert len(metas) == 2
    assert {json.loads(p.read_text())["version"] for p in metas} == {"1", "2"}


# -- inputs: AutoPath arguments and track= keys ------------------------------------------------------
def test_changed_autopath_input_from_another_writer_invalidates(s3_server: S3Server, root: str, tmp_path: Path) -> None:
    store = AutoStore(root, options=S3Options(**s3_kwargs(s3_server)), cache_dir=str(tmp_path / "cache"))
    bucket, _, prefix = root.removeprefix("s3://").partition("/")
    boto = boto_client(s3_server)
    boto.put_object(Bucket=bucket, Key=prefix + "inputs/sales.csv", Body=b"amount\n1\n2\n")
    calls = Counter()

    @store.memoize(prefix="derived/")
    def total(path: AutoPath) -> dict[str, int]:
        calls(path)
        return {"total": int(pl.read_csv(path.read_bytes())["amount"].sum())}

    source = AutoPath(root + "inputs/sales.csv", store=store)
    assert total(source) == {"total": 3} and total(source) == {"total": 3}
    assert len(calls) == 1
    boto.put_object(Bucket=bucket, Key=prefix + "inputs/sales.csv", Body=b"amount\n1\n2\n10\n")  # another writer
    assert total(source) == {"total": 13}
    assert len(calls) == 2
    assert total(AutoPath(root + "inputs/sales.csv", store=store)) == {"total": 13} and len(calls) == 2


def test_track_hashes_store_keys_by_etag_and_folders_by_their_files(local_store: AutoStore) -> None:
    local_store["raw/day1"] = {"rows": 1}
    local_store["parts/a"] = {"n": 1}
    calls = Counter()

    @local_store.memoize(track=["key", "folder"])
    def load(key: str, folder: str) -> dict[str, Any]:
        calls(key)
        return {"raw": local_store[key], "parts": sorted(local_store.list_files(folder + "*"))}

    assert load("raw/day1", "parts/") == {"raw": {"rows": 1}, "parts": ["parts/a.json"]}
    load("raw/day1", "parts/")
    assert len(calls) == 1
    time.sleep(0.01)
    local_store["raw/day1"] = {"rows": 22}  # same size, new content: a new ETag
    assert load("raw/day1", "parts/")["raw"] == {"rows": 22}
    assert len(calls) == 2
    local_store["parts/b"] = {"n": 2}
    assert load("raw/day1", "parts/")["parts"] == ["parts/a.json", "parts/b.json"]
    assert len(calls) == 3


# -- requests: zero with the cache, one GET without -----------------------------------------------
def test_second_call_with_the_cache_makes_zero_requests_even_from_a_new_store(
    s3_server: S3Server, proxy: CountingProxy, root: str, tmp_path: Path
) -> None:
    def make() -> AutoStore:
        return AutoStore(
            root, options=S3Options(**s3_kwargs(s3_server, proxy.url, cache_enabled=True, cache_dir=str(tmp_path)))
        )

    frame = pl.DataFrame({"x": np.arange(300_000), "y": np.random.default_rng(0).random(300_000)})
    calls = Counter()

    def body(day: dt.date, columns: list[str]) -> pl.DataFrame:
        calls(day)
        return frame.select(columns)

    features = make().memoize(name="features")(body)
    first = features(dt.date(2026, 1, 1), ["x", "y"])
    assert proxy.count("PUT") == 2  # the value, then the metadata (create-if-absent)
    proxy.reset()
    assert_frame_equal(features(dt.date(2026, 1, 1), ["x", "y"]), first)
    assert proxy.count() == 0
    # another store and wrapper on the same cache folder, as a new process would be
    again = make().memoize(name="features")(body)
    assert_frame_equal(again(dt.date(2026, 1, 1), ["x", "y"]), first)
    assert proxy.count() == 0 and len(calls) == 1


def test_second_call_without_the_cache_is_one_get(s3_server: S3Server, proxy: CountingProxy, root: str) -> None:
    store = AutoStore(root, options=S3Options(**s3_kwargs(s3_server, proxy.url)))

    @store.memoize
    def features(n: int) -> pl.DataFrame:
        return pl.DataFrame({"i": list(range(n))})

    features(5)
    proxy.reset()
    assert features(5)["i"].to_list() == [0, 1, 2, 3, 4]
    assert proxy.count() == 1 and proxy.count("GET") == 1
    assert proxy.exchanges[0].path.endswith(".parquet")


def test_two_processes_with_separate_caches_share_results_through_s3(
    s3_server: S3Server, proxy: CountingProxy, root: str, tmp_path: Path
) -> None:
    def machine(name: str) -> Jobs:
        options = s3_kwargs(s3_server, proxy.url, cache_enabled=True, cache_dir=str(tmp_path / f"cache-{name}"))
        return Jobs(tmp_path / "job", root, options)

    a, b = machine("a"), machine("b")
    out_a = a.run("import jobs; print(jobs.square(12))")
    assert a.count("square") == 1
    proxy.reset()
    out_b = b.run("import jobs; print(jobs.square(12))")
    assert out_b == out_a and b.count("square") == 1  # b got a's result: computed once
    assert proxy.count("PUT") == 0 and proxy.count("GET") == 2  # b read the metadata and the value
    proxy.reset()
    assert b.run("import jobs; print(jobs.square(12))") == out_a
    assert proxy.count() == 0  # b's second process: its cache
    keys = raw_keys(s3_server, root)
    assert len(keys) == 2 and sum(k.endswith(".meta.json") for k in keys) == 1


def test_four_processes_with_the_same_arguments_on_one_machine_compute_once(
    s3_server: S3Server, root: str, tmp_path: Path
) -> None:
    options = s3_kwargs(s3_server, cache_enabled=True, cache_dir=str(tmp_path / "cache"))
    jobs = Jobs(tmp_path / "job", root, options)
    go = tmp_path / "go"
    code = textwrap.dedent(
        f"""
        import time, jobs
        from pathlib import Path
        deadline = time.monotonic() + 60
        while not Path({str(go)!r}).exists() and time.monotonic() < deadline:
            time.sleep(0.005)
        print(jobs.slow(5))
        """
    )
    procs = [jobs.popen(code) for _ in range(4)]
    time.sleep(1.5)  # let them import
    go.write_text("go")
    outs = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        outs.append(out)
    assert jobs.count("slow") == 1
    assert len(set(outs)) == 1
    assert list((tmp_path / "cache" / "memo-locks").rglob("*.lock")) == []
    assert sum(k.endswith(".meta.json") for k in raw_keys(s3_server, root)) == 1


def test_threads_with_the_same_arguments_compute_once(tmp_path: Path) -> None:
    store = AutoStore(tmp_path / "data", cache_dir=str(tmp_path / "cache"))
    calls = Counter()
    lock = threading.Lock()

    @store.memoize
    def slow(x: int) -> dict[str, str]:
        with lock:
            calls(x)
        time.sleep(0.3)
        return {"token": uuid.uuid4().hex}

    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(slow(1))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(calls) == 1 and len(results) == 6 and all(r == results[0] for r in results)
    assert list((tmp_path / "cache" / "memo-locks").rglob("*.lock")) == []  # dropped once the result was stored


def test_waiting_for_another_callers_lock_is_bounded_by_lock_timeout(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from filelock import FileLock

    store = AutoStore(tmp_path / "data", cache_dir=str(tmp_path / "cache"))
    calls = Counter()

    @store.memoize(lock_timeout=0.5)
    def f(x: int) -> dict[str, int]:
        calls(x)
        return {"x": x}

    path = f._machine_lock(f.key(1).rpartition("/")[2]).path
    assert path is not None and path.parent.parent == tmp_path / "cache" / "memo-locks"
    holder = FileLock(str(path), thread_local=False)
    holder.acquire()  # another caller, stuck
    try:
        started = time.monotonic()
        with caplog.at_level("WARNING", logger="autostore"):
            assert f(1) == {"x": 1}
        assert time.monotonic() - started >= 0.5
        assert len(calls) == 1 and "still locked after" in caplog.text
    finally:
        holder.release()
    assert f(1) == {"x": 1} and len(calls) == 1


def test_two_machines_racing_both_compute_and_the_first_commit_wins_for_both(
    s3_server: S3Server, root: str, tmp_path: Path
) -> None:
    barrier = threading.Barrier(2, timeout=30)

    def machine(name: str) -> Memoized[[int], dict[str, str]]:
        # separate cache folders: separate lock folders, as on two machines
        store = AutoStore(root, options=S3Options(**s3_kwargs(s3_server, cache_dir=str(tmp_path / name))))

        def compute(x: int) -> dict[str, str]:
            barrier.wait()
            return {"by": name, "token": uuid.uuid4().hex}

        return store.memoize(name="race")(compute)  # type: ignore[no-any-return]

    first, second = machine("a"), machine("b")
    results: dict[str, Any] = {}
    threads = [
        threading.Thread(target=lambda m=m, n=n: results.__setitem__(n, m(1)))  # type: ignore[misc]
        for n, m in (("a", first), ("b", second))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert results["a"] == results["b"]  # the loser returns the winner's result
    keys = raw_keys(s3_server, root)
    assert len(keys) == 2, keys  # one metadata object, one value file: the loser's was removed
    assert first(1) == second(1) == results["a"]


def test_sigkill_during_the_computation_leaves_no_result_and_no_held_lock(tmp_path: Path) -> None:
    jobs = Jobs(tmp_path / "job", str(tmp_path / "store"), {"cache_dir": str(tmp_path / "cache")})
    proc = jobs.popen("import jobs; jobs.hangs(1)", MEMO_HANG="1")
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "started"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    store_dir = tmp_path / "store"
    assert not store_dir.exists() or [p for p in store_dir.rglob("*") if p.is_file()] == []
    started = time.monotonic()
    assert jobs.run("import jobs; print(jobs.hangs(1))").strip() == "{'x': 1}"
    assert time.monotonic() - started < 60  # the killed process's lock went with it
    assert jobs.count("hangs") == 1


def test_sigkill_while_writing_the_result_leaves_nothing_a_later_call_reads(tmp_path: Path) -> None:
    source = textwrap.dedent(
        f"""
        import json, os, sys
        sys.path.insert(0, {TESTS!r})
        from pathlib import Path
        from autostore import AutoStore
        from helpers import SlowBytes

        store = AutoStore(os.environ["MEMO_URI"], **json.loads(os.environ["MEMO_OPTIONS"]))
        store.register_handler(SlowBytes(pause=float(os.environ.get("MEMO_PAUSE", "0"))))

        @store.memoize
        def blob(n):
            (Path(os.environ["MEMO_MARKERS"]) / f"blob-{{os.getpid()}}").parent.mkdir(exist_ok=True)
            (Path(os.environ["MEMO_MARKERS"]) / f"blob-{{os.getpid()}}").write_text("x")
            return bytes(range(256)) * (n * 4096)
        """
    )
    jobs = Jobs(tmp_path / "job", str(tmp_path / "store"), {"cache_dir": str(tmp_path / "cache")}, source)
    proc = jobs.popen("import jobs; jobs.blob(8)", MEMO_PAUSE="0.5")
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "started"  # SlowBytes is writing the value file
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    store = AutoStore(tmp_path / "store")
    assert [k for k in files_below(store) if k.endswith(".meta.json")] == []
    out = jobs.run("import jobs; print(len(jobs.blob(8)))")
    assert out.strip() == str(256 * 8 * 4096) and jobs.count("blob") == 2


# -- metadata --------------------------------------------------------------------------------------
def test_metadata_object_beside_each_result_cuts_reprs_short_and_never_holds_secrets(
    local_store: AutoStore,
) -> None:
    @local_store.memoize(version=3)
    def pull(url: str, api_key: str, rows: list[int], note: str = "n" * 500) -> dict[str, int]:
        time.sleep(0.05)
        return {"rows": len(rows)}

    pull("https://user:hunter2@api.example.com/v1", "sk-very-secret", list(range(10_000)))
    (meta_path,) = Path(local_store.uri).rglob("*.meta.json")
    text = meta_path.read_text()
    meta = json.loads(text)
    assert "hunter2" not in text and "sk-very-secret" not in text
    assert meta["args"]["url"] == "'https://***@api.example.com/v1'"
    assert meta["args"]["api_key"] == "***"
    assert len(meta["args"]["rows"]) <= 120 and meta["args"]["rows"].startswith("[0, 1, 2")
    assert len(meta["args"]["note"]) <= 120
    assert meta["function"] == pull.function and meta["version"] == "3"
    assert meta["code"].startswith("src:") and meta["autostore"] == autostore.__version__
    assert meta["seconds"] >= 0.05 and dt.datetime.fromisoformat(meta["created"]).tzinfo is not None
    assert meta["key"] == pull.key("https://user:hunter2@api.example.com/v1", "sk-very-secret", list(range(10_000)))
    assert meta_path.name == meta["key"].rpartition("/")[2] + ".meta.json"


def test_a_foreign_metadata_object_is_a_clear_error(local_store: AutoStore) -> None:
    @local_store.memoize
    def f(x: int) -> dict[str, int]:
        return {"x": x}

    path = Path(local_store.uri) / (f.key(1) + ".meta.json")
    path.parent.mkdir(parents=True)
    path.write_text('{"not": "ours"}')
    with pytest.raises(CorruptData, match=r"not a memoize metadata object.*forget"):
        f(1)
    assert f.forget(1) is True and not path.exists()
    assert f(1) == {"x": 1} and f(1) == {"x": 1}


# -- the wrapper API --------------------------------------------------------------------------------
def test_is_cached_forget_refresh_and_clear(store: AutoStore) -> None:
    calls = Counter()

    @store.memoize
    def draw(seed: int) -> dict[str, Any]:
        calls(seed)
        return {"seed": seed, "token": uuid.uuid4().hex}

    assert not draw.is_cached(1)
    first = draw(1)
    draw(2)
    assert draw.is_cached(1) and draw.is_cached(seed=2)
    assert draw.forget(1) is True and draw.forget(1) is False
    assert not draw.is_cached(1)
    assert draw(1) != first and len(calls) == 3
    current = draw(2)
    refreshed = draw.refresh(2)
    assert refreshed != current and draw(2) == refreshed and len(calls) == 4
    assert len([k for k in files_below(store) if not k.endswith(".meta.json")]) == 2  # the old value file went
    assert draw.clear() == 2
    assert files_below(store) == [] and not draw.is_cached(2)


def test_async_functions_get_an_awaitable_wrapper_that_computes_once(tmp_path: Path) -> None:
    store = AutoStore(tmp_path / "data", cache_dir=str(tmp_path / "cache"))
    calls = Counter()

    @store.memoize
    async def fetch(x: int) -> dict[str, Any]:
        calls(x)
        await asyncio.sleep(0.2)
        return {"x": x, "token": uuid.uuid4().hex}

    assert isinstance(fetch, AsyncMemoized)

    async def main() -> list[dict[str, Any]]:
        together = await asyncio.gather(*(fetch(7) for _ in range(4)))
        later = await fetch(7)
        refreshed = await fetch.refresh(7)
        return [*together, later, refreshed]

    results = asyncio.run(main())
    assert len(calls) == 2  # once for the four concurrent calls, once for refresh
    assert all(r == results[0] for r in results[:5]) and results[5] != results[0]
    assert fetch.is_cached(7)


# -- every backend ---------------------------------------------------------------------------------
@pytest.fixture(params=["local", "s3", "memory", "azure"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AutoStore]:
    if request.param == "local":
        store = AutoStore(tmp_path / "data", cache_dir=str(tmp_path / "cache"))
    elif request.param == "s3":
        server = request.getfixturevalue("s3_server")
        bucket = request.getfixturevalue("shared_bucket")
        options = S3Options(**s3_kwargs(server, cache_enabled=True, cache_dir=str(tmp_path / "cache")))
        store = AutoStore(f"s3://{bucket}/memo-{uuid.uuid4().hex[:8]}/", options=options)
    elif request.param == "memory":
        store = AutoStore(f"memory://memo-{uuid.uuid4().hex[:8]}/", cache_dir=str(tmp_path / "cache"))
    else:
        azurite: Azurite = request.getfixturevalue("azurite")
        container = "memo" + uuid.uuid4().hex[:8]
        azurite.create_container(container)
        options = AzureOptions(**azurite.options_kwargs(), cache_enabled=True, cache_dir=str(tmp_path / "cache"))  # type: ignore[arg-type]
        store = AutoStore(f"az://{container}/results/", options=options)
    with store:
        yield store


def test_memoize_works_on_every_backend(any_store: AutoStore) -> None:
    calls = Counter()

    @any_store.memoize(prefix="memo/")
    def summarize(n: int, label: str = "x") -> tuple[pl.DataFrame, dict[str, Any]]:
        calls(n)
        return pl.DataFrame({"i": list(range(n))}), {"n": n, "label": label}

    frame, info = summarize(4)
    again = summarize(4)
    assert len(calls) == 1
    assert_frame_equal(again[0], frame) and again[1] == info
    files = files_below(any_store)
    assert len(files) == 3 and all(f.startswith("memo/" + summarize.folder.removeprefix("memo/")) for f in files)
    (meta,) = list_results(any_store, "memo/")
    assert meta.function == summarize.function and meta.args == {"n": "4", "label": "'x'"} and meta.bytes > 0
    assert summarize.forget(4) and files_below(any_store) == []
    summarize(4)
    assert len(calls) == 2 and remove_results(any_store, "", "summarize") == [summarize.key(4)]
    assert files_below(any_store) == []


def test_create_bytes_is_create_if_absent_with_exactly_one_winner(any_store: AutoStore) -> None:
    backend, full = any_store._target("race/x.json")
    winners: list[int] = []
    losers: list[int] = []

    def create(i: int) -> None:
        try:
            backend.create_bytes(full, json.dumps({"by": i}).encode())
            winners.append(i)
        except AlreadyExists:
            losers.append(i)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(winners) == 1 and len(losers) == 15
    assert any_store["race/x.json"] == {"by": winners[0]}


def test_create_bytes_through_the_boto3_fork_transport(s3_server: S3Server, shared_bucket: str) -> None:
    backend = Boto3Backend("s3", shared_bucket, S3Options(**s3_kwargs(s3_server)))
    key = f"fork-{uuid.uuid4().hex[:8]}/m.json"
    meta = backend.create_bytes(key, b"{}")
    assert meta.etag and backend.get_bytes(key) == b"{}"
    with pytest.raises(AlreadyExists, match="already exists"):
        backend.create_bytes(key, b"[]")
    assert backend.get_bytes(key) == b"{}"


# -- CLI --------------------------------------------------------------------------------------------
def test_cli_memo_ls_and_rm(tmp_path: Path) -> None:
    store = AutoStore(tmp_path / "memo", cache_dir=str(tmp_path / "cache"))

    @store.memoize
    def alpha(x: int) -> dict[str, int]:
        return {"x": x}

    @store.memoize
    def beta(x: int) -> str:
        return "b" * x

    alpha(1), alpha(2), beta(3)
    env = {**os.environ, "PYTHONPATH": SRC, "AUTOSTORE_CONFIG": ""}
    run = [sys.executable, "-m", "autostore"]
    out = subprocess.run([*run, "--json", "memo", "ls", str(tmp_path / "memo")], env=env, capture_output=True,
                         text=True, timeout=120, check=True).stdout  # fmt: skip
    rows = json.loads(out)
    assert sorted((r["function"].rpartition(".")[2], r["args"]["x"]) for r in rows) == [
        ("alpha", "1"),
        ("alpha", "2"),
        ("beta", "3"),
    ]
    assert all(r["bytes"] > 0 and r["seconds"] >= 0 and r["uri"].startswith(str(tmp_path)) for r in rows)
    text = subprocess.run([*run, "memo", "ls", str(tmp_path / "memo")], env=env, capture_output=True, text=True,
                          timeout=120, check=True).stdout  # fmt: skip
    assert "alpha(x=1)" in text and "beta(x=3)" in text
    done = subprocess.run([*run, "memo", "rm", str(tmp_path / "memo"), "alpha"], env=env, capture_output=True,
                          text=True, timeout=120, check=True).stdout  # fmt: skip
    assert "removed 2 memoized result(s)" in done
    left = sorted(p.name for p in (tmp_path / "memo").rglob("*") if p.is_file())
    assert len(left) == 2 and all(beta.key(3).rpartition("/")[2] in n for n in left)
    subprocess.run([*run, "memo", "rm", str(tmp_path / "memo")], env=env, capture_output=True, text=True,
                   timeout=120, check=True)  # fmt: skip
    assert [p for p in (tmp_path / "memo").rglob("*") if p.is_file()] == []


def test_memoized_functions_pickle_by_reference() -> None:
    import pickle

    assert pickle.loads(pickle.dumps(_module_level)) is _module_level
    assert isinstance(_module_level, Memoized) and _module_level.__name__ == "_module_level"


_MODULE_STORE = AutoStore("memory://memo-pickle/")


@_MODULE_STORE.memoize
def _module_level(x: int) -> int:
    return x
