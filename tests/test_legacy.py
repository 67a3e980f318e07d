"""Issue 13 point 16: stores written by autostore 0.1.x, whose files have no extension.

0.1.18 picked a format by the value's type and wrote it under the bare key: a DataFrame as
parquet (``df``), dicts, lists, str, numbers and bools as JSON (``txt`` holds ``"hello"`` with the
quotes), dataclasses and pydantic models as indented JSON objects, tensors with ``torch.save``,
anything else pickled. ``legacy_bytes`` builds those bytes the way 0.1.18 does; the literals
below were checked against files the published 0.1.18 wheel wrote. Local folder and S3."""

from __future__ import annotations

import dataclasses
import io
import json
import pickle
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import torch
from PIL import Image

from autostore import AmbiguousKey, AutoPath, AutoStore, UnsafeLoad, UnsupportedFormat
from conftest import Raw
from test_cli import COMMAND, base_env


@dataclasses.dataclass
class Run:
    name: str
    lr: float


def legacy_bytes(value: Any) -> bytes:
    """What autostore 0.1.18 wrote for ``store[key] = value`` (key without extension): its
    handler of highest priority that accepts the value's type, writing to a file."""
    buf = io.BytesIO()
    if isinstance(value, (pl.DataFrame, pl.LazyFrame)):  # ParquetHandler (priority 10)
        value.lazy().collect().write_parquet(buf)
    elif isinstance(value, torch.Tensor):  # TorchHandler (9)
        torch.save(value, buf)
    elif isinstance(value, (dict, list, int, float, bool, type(None), str)):  # JSONHandler (8)
        return json.dumps(value, default=str).encode()
    elif dataclasses.is_dataclass(value):  # DataclassHandler (6)
        return json.dumps(dataclasses.asdict(value), default=str, indent=2).encode()  # type: ignore[arg-type]
    else:  # PickleHandler (1)
        pickle.dump(value, buf)
    return buf.getvalue()


FRAME = pl.DataFrame({"a": [1, 2], "b": ["x", "y"]})
VALUES: dict[str, Any] = {
    "df": FRAME,
    "cfg": {"lr": 0.1, "name": "café"},
    "rows": [{"a": 1}, {"a": 2}],
    "txt": "hello",
    "pi": 3.14,
    "n": 5,
    "flag": True,
    "run": Run("r1", 0.5),
    "model.v2": {"v": 2},  # a dot that is no extension: still the whole key
    "nested/deep/cfg": {"k": [1, 2]},
    "obj": {1, 2, 3},  # a set: pickled
    "t": torch.ones(2),
}
# Bytes the 0.1.18 wheel wrote for these values (checked with `pip download autostore==0.1.18`).
WHEEL_BYTES = {
    "cfg": b'{"lr": 0.1, "name": "caf\\u00e9"}',
    "rows": b'[{"a": 1}, {"a": 2}]',
    "txt": b'"hello"',
    "pi": b"3.14",
    "n": b"5",
    "flag": b"true",
    "run": b'{\n  "name": "r1",\n  "lr": 0.5\n}',
    "model.v2": b'{"v": 2}',
}


def _expected(key: str) -> Any:
    value = VALUES[key]
    return dataclasses.asdict(value) if key == "run" else value  # 0.1.x kept no class name


def _same(got: Any, want: Any) -> bool:
    if isinstance(want, pl.DataFrame):
        return isinstance(got, pl.DataFrame) and got.equals(want)
    if isinstance(want, torch.Tensor):
        return isinstance(got, torch.Tensor) and torch.equal(got, want)
    if isinstance(want, np.ndarray):
        return isinstance(got, np.ndarray) and np.array_equal(got, want) and got.dtype == want.dtype
    return type(got) is type(want) and got == want


def _write_legacy(raw: Raw) -> None:
    for key, value in VALUES.items():
        raw.write(key, legacy_bytes(value))


def test_16_legacy_bytes_match_the_wheel() -> None:
    for key, data in WHEEL_BYTES.items():
        assert legacy_bytes(VALUES[key]) == data, key
    assert legacy_bytes(FRAME)[:4] == b"PAR1" and legacy_bytes(VALUES["obj"])[:2] == b"\x80\x04"
    assert legacy_bytes(VALUES["t"])[:4] == b"PK\x03\x04"


def test_16_values_written_by_0_1_x_read_back(store: AutoStore, raw: Raw) -> None:
    _write_legacy(raw)
    assert store.keys() == sorted(VALUES)  # keys() as before: the bare names
    for key in VALUES:
        assert key in store
        got = store[key]
        assert _same(got, _expected(key)), (key, got)
    root = AutoPath(store.uri, store=store)
    assert (root / "cfg").load() == VALUES["cfg"] and (root / "nested" / "deep" / "cfg").load() == {"k": [1, 2]}
    assert store.get_many(["txt", "pi"]) == ["hello", 3.14]
    assert raw.keys() == sorted(VALUES)  # reading changed nothing


def test_16_other_magic_numbers(store: AutoStore, raw: Raw) -> None:
    """Extensionless files of other tools: npy, npz, PNG, JPEG by their bytes; JSON; else text;
    binary data of no known kind is UnsupportedFormat saying how to read it."""
    buf = io.BytesIO()
    np.save(buf, np.arange(3, dtype=np.int8))
    raw.write("arr", buf.getvalue())
    buf = io.BytesIO()
    np.savez(buf, x=np.ones(2))
    raw.write("arrays", buf.getvalue())
    for name, fmt in (("png", "PNG"), ("jpeg", "JPEG")):
        buf = io.BytesIO()
        Image.new("RGB", (4, 3), "red").save(buf, format=fmt)
        raw.write(name, buf.getvalue())
    raw.write("notes", b"plain text, no JSON\n")
    raw.write("blob", bytes(range(256)))

    assert _same(store["arr"], np.arange(3, dtype=np.int8))
    assert list(store["arrays"]) == ["x"]
    assert store["png"].size == (4, 3) and store["png"].format == "PNG"
    assert store["jpeg"].size == (4, 3) and store["jpeg"].format == "JPEG"
    assert store["notes"] == "plain text, no JSON\n"
    with pytest.raises(UnsupportedFormat, match=r"blob.*no extension.*format="):
        store["blob"]
    assert "blob" in store  # it exists; only its format is unknown
    assert store.read("notes", format="txt") == "plain text, no JSON\n"


def test_16_an_extensionless_pickle_loads_only_where_pickle_is_allowed(
    store: AutoStore, raw: Raw, tmp_path: Path
) -> None:
    from test_safety import _Planted

    marker = tmp_path / "code-ran"
    raw.write("obj", pickle.dumps(_Planted(marker)))
    strict = AutoStore(store.uri, options=store.options.replace(allow_pickle=False))
    with pytest.raises(UnsafeLoad, match=r"obj.*no extension.*pickle.*allow_pickle is off"):
        strict["obj"]
    assert not marker.exists()
    AutoStore(store.uri, options=store.options.replace(allow_pickle=True))["obj"]
    assert marker.exists()


@pytest.mark.parametrize("resolved_first", [False, True])
def test_16_writing_a_key_replaces_its_extensionless_file(store: AutoStore, raw: Raw, resolved_first: bool) -> None:
    _write_legacy(raw)
    writer = AutoStore(store.uri, options=store.options)
    if resolved_first:
        assert writer["cfg"] == VALUES["cfg"]  # the store remembers cfg -> cfg (bare)
    writer["cfg"] = {"lr": 0.2}
    writer["df"] = FRAME.with_columns(pl.col("a") * 10)
    writer.write("txt", "new", format="txt")
    writer["nested/deep/cfg"] = {"k": []}
    (AutoPath(store.uri, store=writer) / "pi").save(2.5, format="json")
    keys = raw.keys()
    for key, stored in [
        ("cfg", "cfg.json"),
        ("df", "df.parquet"),
        ("txt", "txt.txt"),
        ("nested/deep/cfg", "nested/deep/cfg.json"),
        ("pi", "pi.json"),
    ]:
        assert stored in keys and key not in keys, (key, keys)  # one file: no ambiguity left
    for reader in (writer, AutoStore(store.uri, options=store.options)):
        assert reader["cfg"] == {"lr": 0.2} and reader["txt"] == "new" and reader["pi"] == 2.5
        assert reader["df"]["a"].to_list() == [10, 20] and reader["nested/deep/cfg"] == {"k": []}
    assert raw.read("rows") == legacy_bytes(VALUES["rows"])  # the other files are untouched

    # An explicit extension writes that file only: the bare one stays, and the key is ambiguous.
    store["rows.json"] = [{"a": 3}]
    with pytest.raises(AmbiguousKey, match=r"rows.*rows\.json"):
        AutoStore(store.uri, options=store.options)["rows"]


def _migrate(store: AutoStore, request: pytest.FixtureRequest, *args: str) -> subprocess.CompletedProcess[str]:
    env = base_env(**request.getfixturevalue("s3_server").env()) if store.uri.startswith("s3://") else base_env()
    proc = subprocess.run(
        [*COMMAND, "migrate", *args, store.uri], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return proc


def test_16_migrate_renames_each_file_to_its_format(
    store: AutoStore, raw: Raw, request: pytest.FixtureRequest
) -> None:
    _write_legacy(raw)
    raw.write("README", b"not a value\n")  # plain text: 0.1.x stored str as JSON, so not ours
    raw.write("_SUCCESS", b"")  # hidden: left alone
    raw.write("blob", bytes(range(256)))  # unknown binary: left alone
    raw.write("pi.json", b"1.5")  # a conflict: both stay
    before = {key: raw.read(key) for key in raw.keys()}  # noqa: SIM118 - Raw is not a dict
    expected = {
        "cfg": "cfg.json",
        "df": "df.parquet",
        "flag": "flag.json",
        "model.v2": "model.v2.json",
        "n": "n.json",
        "nested/deep/cfg": "nested/deep/cfg.json",
        "obj": "obj.pkl",
        "rows": "rows.json",
        "run": "run.json",
        "t": "t.pt",
        "txt": "txt.json",
    }

    base = store.uri.rstrip("/") + "/"
    dry = _migrate(store, request)
    assert {key: raw.read(key) for key in raw.keys()}  # noqa: SIM118 - Raw is not a dict == before  # a dry run changes nothing
    for key, target in expected.items():
        assert f"rename: {base}{key} -> {base}{target}\n" in dry.stdout
    assert f"skip: {base}README (plain text" in dry.stdout
    assert f"skip: {base}blob (content not recognised" in dry.stdout
    assert f"skip: {base}pi (pi.json exists too" in dry.stdout
    assert "_SUCCESS" not in dry.stdout
    assert dry.stdout.endswith("11 file(s) to rename (dry run: nothing changed; add --apply to rename them).\n")
    plan = json.loads(_migrate(store, request, "--json").stdout)
    assert {r["uri"][len(base) :]: r["target"] for r in plan if r["action"] == "rename"} == {
        k: base + v for k, v in expected.items()
    }

    applied = _migrate(store, request, "--apply")
    assert applied.stdout.endswith("11 file(s) renamed.\n")
    after = {key: raw.read(key) for key in raw.keys()}  # noqa: SIM118 - Raw is not a dict
    renamed = {expected.get(key, key): data for key, data in before.items()}
    assert after == renamed  # every file kept its bytes, under its new name
    for key in VALUES:
        if key != "pi":
            assert _same(store[key], _expected(key)), key
    with pytest.raises(AmbiguousKey, match=r"pi, pi\.json all match.*store\['pi\.json'\]; pi has no extension"):
        store["pi"]
    again = _migrate(store, request)
    assert again.stdout.endswith("0 file(s) to rename (dry run: nothing changed; add --apply to rename them).\n")
