"""Format errors: values that cannot be written in the named format, corrupt files, unknown
extensions, refused unsafe loads (pickle, whole torch modules) and missing optional libraries."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp
import torch
from PIL import Image

from autostore import (
    AutoStore,
    CorruptData,
    FormatError,
    NotFound,
    UnsafeLoad,
    UnsupportedFormat,
)
from conftest import Raw
from helpers import env_test


def parquet_bytes() -> bytes:
    buf = io.BytesIO()
    pl.DataFrame({"a": list(range(1000))}).write_parquet(buf)
    return buf.getvalue()


def npy_bytes(array: Any) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)
    return buf.getvalue()


def torch_bytes(value: Any) -> bytes:
    buf = io.BytesIO()
    torch.save(value, buf)
    return buf.getvalue()


def png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(buf, format="PNG")
    return buf.getvalue()


class Boom:
    """Unpickling it creates a marker file: proves whether a load ran code."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.mkdir, (self.marker,))


# -- a value that cannot be written in the named format -----------------------------------------
CANNOT_WRITE = [
    ("t.parquet", {"a": 1}),
    ("t.csv", {"a": 1}),
    ("t.npy", {"a": 1}),
    ("t.npy", np.array([object(), 1], dtype=object)),
    ("t.npz", [1, 2]),
    ("t.sparse", np.eye(2)),
    ("t.png", "not an image"),
    ("t.jpg", Image.new("RGBA", (2, 2))),
    ("t.yaml", {"a": object()}),
    ("t.json", {"a": object()}),
    ("t.jsonl", {"a": 1}),
    ("t.txt", {"a": 1}),
    ("t.pydantic.json", {"a": 1}),
    ("t.dataclass.json", {"a": 1}),
    ("t.pt", lambda: 0),
    ("t.pkl", lambda: 0),
]


@pytest.mark.parametrize(("key", "value"), CANNOT_WRITE, ids=[f"{k}-{type(v).__name__}" for k, v in CANNOT_WRITE])
def test_cannot_write_in_named_format_keeps_old_value(store: AutoStore, raw: Raw, key: str, value: Any) -> None:
    raw.write(key, b"old bytes")
    with pytest.raises(FormatError) as info:
        store[key] = value
    message = str(info.value)
    assert key in message
    assert raw.keys() == [key]  # no temporary or partial file left behind
    assert raw.read(key) == b"old bytes"


def test_nothing_written_for_a_new_key(store: AutoStore, raw: Raw) -> None:
    with pytest.raises(FormatError):
        store["frame.parquet"] = {"a": 1}
    with pytest.raises(FormatError):
        store["img.png"] = np.zeros((2, 2))
    assert raw.keys() == []


# -- corrupt or truncated files -------------------------------------------------------------------
CORRUPT = [
    ("t.parquet", parquet_bytes()[:200]),
    ("t.parquet", b"PAR1 nothing else"),
    ("t.csv", b'a,b\n1,2,3,4\n"unterminated'),
    ("t.json", b'{"a": 1,'),
    ("t.jsonl", b'{"a": 1}\n{broken\n'),
    ("t.txt", b"\xff\xfe bad utf-8"),
    ("t.yaml", b"a: [1, 2\nb: }"),
    ("t.png", b"I am text, not a PNG"),
    ("t.png", png_bytes()[:60]),
    ("t.jpg", b"\xff\xd8\xff but then nothing"),
    ("t.npy", b"not numpy at all"),
    ("t.npy", npy_bytes(np.arange(1000))[:100]),
    ("t.npz", b"PK\x03\x04 broken zip"),
    ("t.sparse", b"garbage"),
    ("t.sparse", b""),
    ("t.pt", torch_bytes({"w": torch.ones(100)})[:300]),
    ("t.pt", b"not a checkpoint"),
    ("t.pkl", b"not a pickle"),
    ("t.pydantic.json", b"{oops"),
    ("t.dataclass.json", b"[1, 2"),
]


@pytest.mark.parametrize(("key", "data"), CORRUPT, ids=[f"{k}-{i}" for i, (k, _) in enumerate(CORRUPT)])
def test_corrupt_file_names_key_and_format(store: AutoStore, raw: Raw, key: str, data: bytes) -> None:
    raw.write(key, data)
    with pytest.raises(CorruptData) as info:
        store[key]
    message = str(info.value)
    assert key in message and store.uri.rstrip("/") in message, message
    ext = "." + key.split(".", 1)[1]
    assert f"as {ext}" in message, message
    assert isinstance(info.value, ValueError)


def test_npz_of_sparse_keys_but_not_sparse_is_corrupt(store: AutoStore, raw: Raw) -> None:
    buf = io.BytesIO()
    np.savez(buf, format=np.array("nonsense"), shape=np.array([2, 2]), data=np.ones(2))
    raw.write("m.sparse", buf.getvalue())
    with pytest.raises(CorruptData, match=r"m\.sparse"):
        store["m"]


# -- unknown extension / format ---------------------------------------------------------------------
def test_unknown_extension_on_read_lists_supported(store: AutoStore, raw: Raw) -> None:
    raw.write("blob.xyz", b"\x00\x01")
    with pytest.raises(UnsupportedFormat) as info:
        store["blob.xyz"]
    message = str(info.value)
    assert "'.xyz'" in message and "blob.xyz" in message
    for ext in (".parquet", ".json", ".npy", ".pt", ".png", ".yaml", ".pkl"):
        assert ext in message
    assert "register_handler" in message
    assert "blob.xyz" in store  # the file exists; only its format is unknown


def test_unknown_format_override(store: AutoStore, raw: Raw) -> None:
    store["a"] = {"x": 1}
    with pytest.raises(UnsupportedFormat, match="register_handler"):
        store.read("a", format="docx")  # (.xlsx, the example here once, is supported now)
    with pytest.raises(UnsupportedFormat, match=r"\.docx"):
        store.write("b", {"x": 1}, format="docx")
    assert raw.keys() == ["a.json"]
    with pytest.raises(NotFound):
        store.read("missing", format="json")


# -- safe loading ---------------------------------------------------------------------------------
@pytest.fixture(params=["option", "env"])
def strict_store(request: pytest.FixtureRequest, store: AutoStore, monkeypatch: pytest.MonkeyPatch) -> AutoStore:
    """The same location as ``store``, with pickle loading refused by option or by env var."""
    if request.param == "option":
        return AutoStore(store.uri, options=store.options.replace(allow_pickle=False))
    monkeypatch.setenv("AUTOSTORE_ALLOW_PICKLE", "0")
    return AutoStore(store.uri, options=store.options)


@pytest.fixture
def permissive_store(store: AutoStore) -> AutoStore:
    """The same location as ``store`` with pickle loading explicitly allowed (the argument wins
    over the env var set by ``strict_store``)."""
    return AutoStore(store.uri, options=store.options.replace(allow_pickle=True))


def test_pickle_refused_without_running_code(
    store: AutoStore, strict_store: AutoStore, permissive_store: AutoStore, tmp_path: Path
) -> None:
    marker = tmp_path / "pickle-ran"
    store["evil.pkl"] = Boom(str(marker))
    # (allow_pickle off also refuses *implicit* pickling on write, so an explicit writer here)
    permissive_store["fine"] = Boom  # a class pickles by reference; still a pickle
    for key in ("evil", "fine"):
        with pytest.raises(UnsafeLoad) as info:
            strict_store[key]
        message = str(info.value)
        assert f"{key}.pkl" in message and "allow_pickle=True" in message and "AUTOSTORE_ALLOW_PICKLE=1" in message
    assert not marker.exists()
    permissive_store["evil.pkl"]  # allowed: this one does run
    assert marker.is_dir()


def test_torch_module_refused_but_tensors_and_state_dicts_load(
    store: AutoStore, strict_store: AutoStore, permissive_store: AutoStore, tmp_path: Path
) -> None:
    model = torch.nn.Linear(2, 2)
    store["model"] = model
    store["weights"] = model.state_dict()
    store["tensor"] = torch.arange(3)
    store["ckpt.pth"] = {"epoch": 1, "opt": torch.optim.SGD(model.parameters(), lr=0.1).state_dict()}
    marker = tmp_path / "torch-ran"
    store["evil.pt"] = {"w": torch.ones(1), "payload": Boom(str(marker))}

    with pytest.raises(UnsafeLoad) as info:
        strict_store["model"]
    message = str(info.value)
    assert "model.pt" in message and "torch.nn.modules.linear.Linear" in message and "allow_pickle=True" in message
    with pytest.raises(UnsafeLoad, match="mkdir"):
        strict_store["evil"]
    assert not marker.exists()

    assert torch.equal(strict_store["tensor"], torch.arange(3))
    assert torch.equal(strict_store["weights"]["weight"], model.weight.detach())
    assert strict_store["ckpt"]["opt"]["param_groups"][0]["lr"] == 0.1
    assert isinstance(permissive_store["model"], torch.nn.Linear)


def test_object_npy_follows_allow_pickle(strict_store: AutoStore, permissive_store: AutoStore, raw: Raw) -> None:
    raw.write("objs.npy", npy_bytes(np.array([{"a": 1}, None], dtype=object)))
    with pytest.raises(UnsafeLoad, match=r"objs\.npy"):
        strict_store["objs"]
    assert permissive_store["objs"][0] == {"a": 1}
    strict_store["plain"] = np.arange(4)
    np.testing.assert_array_equal(strict_store["plain"], np.arange(4))


def test_safe_formats_unaffected_by_allow_pickle(strict_store: AutoStore) -> None:
    strict_store["m"] = sp.csr_matrix(np.eye(2))
    strict_store["c.yaml"] = {"a": 1}
    strict_store["arrays"] = {"a": np.ones(2)}
    assert strict_store["m"].nnz == 2
    assert strict_store["c"] == {"a": 1}
    assert strict_store["arrays"]["a"].sum() == 2


def _no_pickle_by_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOSTORE_ALLOW_PICKLE", "0")


@env_test(_no_pickle_by_env)  # in a spawned child: the test process's environment never changes
def test_allow_pickle_argument_wins_over_env(store: AutoStore, monkeypatch: pytest.MonkeyPatch) -> None:
    store["obj.pkl"] = {1, 2}
    assert AutoStore(store.uri, options=store.options.replace(allow_pickle=True))["obj"] == {1, 2}
    monkeypatch.setenv("AUTOSTORE_ALLOW_PICKLE", "1")
    with pytest.raises(UnsafeLoad):
        AutoStore(store.uri, options=store.options.replace(allow_pickle=False))["obj"]


# -- pydantic / dataclass files whose class cannot be imported ---------------------------------------
def test_typed_json_without_importable_class_returns_dict(store: AutoStore, raw: Raw) -> None:
    raw.write("u.pydantic.json", json.dumps({"class": "no_such_module_xyz:User", "data": {"name": "a"}}).encode())
    raw.write("p.dataclass.json", json.dumps({"class": "json:NoSuchClass", "data": {"x": 1}}).encode())
    raw.write("old.pydantic.json", b'{"name": "written by 0.1.x"}')
    raw.write("notdc.dataclass.json", json.dumps({"class": "pathlib:Path", "data": {"x": 1}}).encode())
    with pytest.warns(UserWarning, match="no_such_module_xyz"):
        assert store["u"] == {"name": "a"}
    with pytest.warns(UserWarning, match="NoSuchClass"):
        assert store["p"] == {"x": 1}
    with pytest.warns(UserWarning, match="names no model class"):
        assert store["old"] == {"name": "written by 0.1.x"}
    with pytest.warns(UserWarning, match="not a dataclass"):
        assert store["notdc"] == {"x": 1}


def test_local_class_comes_back_as_dict(store: AutoStore) -> None:
    import dataclasses

    from pydantic import BaseModel

    @dataclasses.dataclass
    class Local:
        x: int

    class LocalModel(BaseModel):
        y: int

    store["d"] = Local(1)
    store["m"] = LocalModel(y=2)
    with pytest.warns(UserWarning, match="inside a function"):
        assert store["d"] == {"x": 1}
    with pytest.warns(UserWarning, match="inside a function"):
        assert store["m"] == {"y": 2}


def test_changed_class_returns_dict(store: AutoStore, raw: Raw) -> None:
    from test_formats import User

    raw.write("u.pydantic.json", json.dumps({"class": f"{User.__module__}:User", "data": {"name": 5}}).encode())
    with pytest.warns(UserWarning, match="no longer validate"):
        assert store["u"] == {"name": 5}


# -- missing optional libraries -----------------------------------------------------------------------
MISSING_SCRIPT = textwrap.dedent(
    """
    import json, sys
    for name in sys.argv[2].split(","):
        sys.modules[name] = None  # import of it now fails as if it were not installed
    from autostore import AutoStore, MissingDependency
    store = AutoStore(sys.argv[1])
    out = {}
    def attempt(label, fn):
        try:
            fn()
            out[label] = ["ok", ""]
        except Exception as exc:
            out[label] = [type(exc).__name__, str(exc), isinstance(exc, ImportError)]
    attempt("read c.yaml", lambda: store["c.yaml"])
    attempt("write d.yaml", lambda: store.__setitem__("d.yaml", {"a": 1}))
    attempt("read p.png", lambda: store["p.png"])
    attempt("read a.npy", lambda: store["a.npy"])
    attempt("read m.sparse", lambda: store["m.sparse"])
    attempt("read t.pt", lambda: store["t.pt"])
    attempt("read j.json", lambda: store["j.json"])
    print(json.dumps(out))
    """
)


def test_missing_optional_library_names_the_extra(local_store: AutoStore) -> None:
    local_store["c.yaml"] = {"a": 1}
    local_store["p.png"] = Image.new("L", (2, 2))
    local_store["a.npy"] = np.arange(2)
    local_store["m.sparse"] = sp.eye(2, format="csr")
    local_store["t.pt"] = torch.ones(1)
    local_store["j.json"] = {"still": "works"}
    blocked = "yaml,PIL,numpy,scipy,torch"
    proc = subprocess.run(
        [sys.executable, "-c", MISSING_SCRIPT, local_store.uri, blocked],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    expected_extra = {
        "read c.yaml": "yaml",
        "write d.yaml": "yaml",
        "read p.png": "images",
        "read a.npy": "science",
        "read m.sparse": "science",
        "read t.pt": "torch",
    }
    for label, extra in expected_extra.items():
        kind, message, is_import_error = out[label]
        assert kind == "MissingDependency", (label, out[label])
        assert f'pip install "autostore[{extra}]"' in message, (label, message)
        assert label.split()[1] in message, (label, message)  # names the key
        assert is_import_error
    assert out["read j.json"] == ["ok", ""]
    assert not (Path(local_store.uri) / "d.yaml").exists()
