"""Bad input on every entry point of the store, on a local folder and on S3: unsafe keys,
symlinks out of a local store, pickle disabled, corrupt files, invalid options. Each is a typed
error naming the key, and nothing is written. Property-based tests (hypothesis) for keys."""

from __future__ import annotations

import io
import json
import unicodedata
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autostore import (
    AutoStore,
    ConfigError,
    CorruptData,
    InvalidKey,
    NotFound,
    Options,
    S3Options,
    UnsafeLoad,
    UnsupportedFormat,
)
from autostore.uri import MAX_KEY_BYTES, TEMP_MARKER, validate_key
from conftest import Raw

TRIED: Counter[str] = Counter()  # bad inputs tried, printed at the end (pytest -s)


@pytest.fixture(scope="module", autouse=True)
def _report() -> Any:
    yield
    print("\nBAD INPUT REPORT " + json.dumps(dict(sorted(TRIED.items()))))


BAD_KEYS = {
    "dotdot": "..",
    "dotdot-prefix": "../escape",
    "dotdot-inside": "a/../../b",
    "dot-segment": "a/./b",
    "absolute": "/etc/passwd",
    "home": "~/secrets",
    "home-user": "~root/x",
    "nul": "a\x00b",
    "newline": "a\nb",
    "tab": "a\tb",
    "escape": "a\x1b[31mb",
    "del": "a\x7fb",
    "empty": "",
    "only-dot": ".",
    "double-slash": "a//b",
    "backslash": "a\\..\\b",
    "long-2000": "k" * 2000,
    "long-segment": "d/" + "s" * 300,
    "drive-like-uri": "c://windows/x",
    "not-a-string": 42,
}

ENTRY_POINTS: dict[str, Callable[[AutoStore, Any], Any]] = {
    "getitem": lambda s, k: s[k],
    "get": lambda s, k: s.get(k),
    "read-format": lambda s, k: s.read(k, format="json"),
    "setitem": lambda s, k: s.__setitem__(k, {"v": 1}),
    "write-format": lambda s, k: s.write(k, {"v": 1}, format="json"),
    "delitem": lambda s, k: s.__delitem__(k),
    "contains": lambda s, k: k in s,
    "metadata": lambda s, k: s.get_metadata(k),
    "copy-from": lambda s, k: s.copy(k, "dst"),
    "copy-to": lambda s, k: s.copy("src", k),
    "move-to": lambda s, k: s.move("src", k),
    "update": lambda s, k: s.update({k: {"v": 1}}),
}


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_bad_keys_are_refused_everywhere(store: AutoStore, raw: Raw, entry: str) -> None:
    store["src"] = {"v": "source"}
    before = raw.keys()
    call = ENTRY_POINTS[entry]
    for name, key in BAD_KEYS.items():
        if entry == "contains" and not isinstance(key, str):
            assert (key in store) is False  # like a dict: a non-string is simply not a key
            continue
        with pytest.raises(InvalidKey) as info:
            call(store, key)
        message = str(info.value)
        if isinstance(key, str) and key:
            assert repr(key)[:30].rstrip("'") in message or repr(key[:60])[:30] in message, (name, message)
        TRIED[f"key.{name}"] += 1
        TRIED["total"] += 1
    assert raw.keys() == before  # nothing was written anywhere in the store
    assert store["src"] == {"v": "source"}


def test_bad_keys_never_touch_the_disk_outside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys that would leave a local store create nothing anywhere (checked on disk)."""
    monkeypatch.chdir(tmp_path)
    store = AutoStore(tmp_path / "data")
    for key in BAD_KEYS.values():
        with pytest.raises(InvalidKey):
            store[key] = {"escaped": True}
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # not even the store folder
    TRIED["total"] += len(BAD_KEYS)


def test_unnormalized_unicode_is_one_key(store: AutoStore, raw: Raw) -> None:
    nfd = unicodedata.normalize("NFD", "café/naïve")
    nfc = unicodedata.normalize("NFC", "café/naïve")
    assert nfd != nfc
    store[nfd] = {"form": "nfd"}
    store[nfc] = {"form": "nfc"}  # the same key: replaces, no second object
    assert raw.keys() == [nfc + ".json"]
    assert store[nfd] == store[nfc] == {"form": "nfc"}
    assert store.keys() == [nfc]
    TRIED["total"] += 1


def test_full_uris_are_locations_and_validate_key_refuses_them(tmp_path: Path) -> None:
    """A key with a scheme names another location on purpose (s3://other-bucket/x.json); code
    that takes keys from untrusted input checks them with validate_key, which refuses URIs."""
    for key in ("s3://bucket/x.json", "file:///etc/passwd", "memory://b/k", "minio://b/k"):
        with pytest.raises(InvalidKey):
            validate_key(key)
        TRIED["total"] += 1


# -- AutoPath and the command line ---------------------------------------------------------------------
@pytest.mark.parametrize("base", ["s3://bucket/data", "memory://bucket/data"])
def test_autopath_bad_input(base: str) -> None:
    from autostore import AutoPath

    root = AutoPath(base)
    attempts: list[Callable[[], Any]] = [
        lambda: AutoPath(base + "/a\x00b"),
        lambda: AutoPath(base + "/" + "k" * 2000),
        lambda: AutoPath(base + "/a//b/c\x1b"),
        lambda: root / "a\nb",
        lambda: root / "~root/x",
        lambda: root / "a\\b",
        lambda: root / ("s" * 300),
        lambda: root.with_name("bad\x01"),
    ]
    for attempt in attempts:
        with pytest.raises(InvalidKey):
            attempt()
        TRIED["autopath"] += 1
        TRIED["total"] += 1
    # ".." is path arithmetic (as in pathlib) and never climbs out of the bucket.
    assert str(root / "../../../etc/passwd") == base.rsplit("/", 1)[0] + "/etc/passwd"
    assert str(AutoPath(base.rsplit("/", 1)[0]) / ".." / "x") == base.rsplit("/", 1)[0] + "/x"


def test_cli_bad_input(s3_server: Any, tmp_path: Path) -> None:
    from test_cli import base_env, run

    env = base_env(**s3_server.env())
    src = tmp_path / "f.json"
    src.write_text("{}")
    for args in (
        ("cat", "s3://bucket/a\x1bb"),
        ("cat", "s3://bucket/../x"),
        ("ls", "s3://"),
        ("rm", "s3://bucket/a//b"),
        ("cp", str(src), "s3://bucket/~x/y.json"),
        ("info", "s3://bucket/" + "k" * 2000),
    ):
        proc = run(*args, env=env, check=9)  # 9: InvalidKey
        assert "error" in proc.stderr and ("Key" in proc.stderr or "URI" in proc.stderr), proc.stderr
        TRIED["cli"] += 1
        TRIED["total"] += 1


# -- symlinks out of a local store --------------------------------------------------------------
def test_symlinks_out_of_a_local_store_are_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.json").write_text('{"secret": 1}')
    root = tmp_path / "data"
    (root / "inside").mkdir(parents=True)
    (root / "inside" / "ok.json").write_text('{"ok": 1}')
    (root / "file_link.json").symlink_to(outside / "secret.json")  # a symlinked file
    (root / "dir_link").symlink_to(outside)  # a symlinked folder
    (root / "inner_link.json").symlink_to(root / "inside" / "ok.json")  # stays inside: fine
    store = AutoStore(root)

    attempts: list[Callable[[], Any]] = [
        lambda: store["file_link.json"],
        lambda: store.read("file_link.json", format="txt"),
        lambda: store["dir_link/secret"],
        lambda: store["dir_link/secret.json"],
        lambda: store.__setitem__("file_link.json", {"overwritten": True}),
        lambda: store.__setitem__("dir_link/planted", {"planted": True}),
        lambda: store.__setitem__("dir_link/planted.json", {"planted": True}),
        lambda: store.__delitem__("file_link.json"),
        lambda: store.__delitem__("dir_link/secret.json"),
        lambda: store.get_metadata("file_link.json"),
        lambda: store.copy("file_link.json", "copied"),
        lambda: store.copy("inside/ok", "dir_link/copied"),
        lambda: store.move("inside/ok", "dir_link/moved"),
        lambda: store.move("file_link.json", "moved"),
    ]
    for attempt in attempts:
        with pytest.raises(InvalidKey) as info:
            attempt()
        assert "outside the store root" in str(info.value) and "symlink" in str(info.value)
        TRIED["symlink"] += 1
        TRIED["total"] += 1
    # Invisible in listings, absent for `in` and extensionless lookups...
    assert store.keys() == ["inner_link", "inside/ok"]
    assert "file_link" not in store
    with pytest.raises(NotFound):
        store["file_link"]
    # ...and nothing outside changed.
    assert sorted(p.name for p in outside.iterdir()) == ["secret.json"]
    assert json.loads((outside / "secret.json").read_text()) == {"secret": 1}
    assert store["inner_link"] == {"ok": 1} and store["inside/ok"] == {"ok": 1}


# -- pickle disabled --------------------------------------------------------------------------
class OnlyPickle:
    def __init__(self, x: int) -> None:
        self.x = x

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OnlyPickle) and other.x == self.x


@pytest.mark.parametrize("how", ["option", "env"])
def test_pickle_disabled(store: AutoStore, raw: Raw, how: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """allow_pickle=False: a value only pickle can store is refused on write when pickling would
    be implicit (an extensionless key); an explicit .pkl key is written (writing runs no code)
    but never loaded."""
    if how == "option":
        safe = AutoStore(store.uri, options=store.options.replace(allow_pickle=False))
    else:
        monkeypatch.setenv("AUTOSTORE_ALLOW_PICKLE", "0")
        safe = AutoStore(store.uri, options=store.options)
    with pytest.raises(UnsupportedFormat) as info:
        safe["obj"] = OnlyPickle(1)
    assert "obj" in str(info.value) and "allow_pickle" in str(info.value) and "obj.pkl" in str(info.value)
    assert raw.keys() == []
    safe["obj.pkl"] = OnlyPickle(2)
    assert raw.keys() == ["obj.pkl"]
    for read in (lambda: safe["obj"], lambda: safe["obj.pkl"], lambda: safe.read("obj.pkl", format="pickle")):
        with pytest.raises(UnsafeLoad) as refused:
            read()
        assert "obj.pkl" in str(refused.value) and "allow_pickle" in str(refused.value)
        TRIED["total"] += 1
    safe["plain"] = {"json": "is fine"}
    assert safe["plain"] == {"json": "is fine"}
    monkeypatch.delenv("AUTOSTORE_ALLOW_PICKLE", raising=False)
    trusting = AutoStore(store.uri, options=store.options.replace(allow_pickle=True))
    assert trusting["obj"] == OnlyPickle(2)
    TRIED["total"] += 2


# -- corrupt stored data ----------------------------------------------------------------------------
def _parquet_bytes() -> bytes:
    buf = io.BytesIO()
    pl.DataFrame({"a": list(range(1000)), "b": ["x" * 10] * 1000}).write_parquet(buf)
    return buf.getvalue()


CORRUPT: dict[str, bytes] = {
    "truncated.parquet": _parquet_bytes()[:1500],
    "not-really.parquet": b"PAR1 this is text, not parquet PAR1",
    "empty.parquet": b"",
    "invalid.json": b'{"a": [1, 2',
    "text-as.json": b"hello world",
    "truncated.pkl": b"\x80\x05\x95\x10\x00\x00",
    "binary.txt": b"\xff\xfe\xfa\x00\x01",
    "broken-line.jsonl": b'{"a": 1}\n{"a": \n',
}


@pytest.mark.parametrize("name", sorted(CORRUPT))
def test_corrupt_files_are_typed_errors_naming_the_file(store: AutoStore, raw: Raw, name: str) -> None:
    raw.write(name, CORRUPT[name])
    stem = name.rsplit(".", 1)[0]
    for read in (lambda: store[name], lambda: store[stem]):
        with pytest.raises(CorruptData) as info:
            read()
        assert name in str(info.value), str(info.value)
        TRIED["total"] += 1
    assert raw.read(name) == CORRUPT[name]  # reading never "repairs" or removes the file


def test_png_holding_text(store: AutoStore, raw: Raw) -> None:
    assert store._handlers.for_extension_or_none(".png") is not None  # built in; Pillow is in the test extra
    raw.write("picture.png", b"this is not an image")
    with pytest.raises(CorruptData) as info:
        store["picture"]
    assert "picture.png" in str(info.value)
    TRIED["total"] += 1


# -- invalid options and locations -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("make", "error", "fragment"),
    [
        (lambda p: AutoStore(p, cache_expiry_hours=-1), ConfigError, "cache_expiry_hours"),
        (lambda p: AutoStore(p, timeout=0), ConfigError, "timeout"),
        (lambda p: AutoStore(p, max_retries=-1), ConfigError, "max_retries"),
        (lambda p: AutoStore(p, retry_delay=-1), ConfigError, "retry_delay"),
        (lambda p: AutoStore(p, not_an_option=1), ConfigError, "not_an_option"),
        (lambda p: AutoStore(p, options="s3"), ConfigError, "Options"),
        (lambda p: AutoStore(p, options=Options(), config=Options()), ConfigError, "config"),
        (lambda p: AutoStore("unknownscheme://bucket/x"), ConfigError, "unknownscheme"),
        (lambda p: AutoStore("s3://"), InvalidKey, "bucket"),
        (lambda p: AutoStore(""), InvalidKey, "Empty location"),
        (lambda p: AutoStore("s3://bucket/../up"), InvalidKey, ".."),
        (lambda p: AutoStore("s3://b/", endpoint_url="not a url"), ConfigError, "endpoint_url"),
        (lambda p: AutoStore("s3://b/", endpoint_url="http://user:pw@host:9000"), ConfigError, "endpoint_url"),
        (lambda p: AutoStore("s3://b/", endpoint_url="http://host:99999"), ConfigError, "port"),
        (lambda p: AutoStore("s3://b/", multipart_chunksize=0), ConfigError, "multipart_chunksize"),
        (lambda p: AutoStore("s3://b/", multipart_threshold=0), ConfigError, "multipart_threshold"),
        (lambda p: AutoStore("s3://b/", max_concurrency=0), ConfigError, "max_concurrency"),
        (lambda p: AutoStore("s3://b/", aws_access_key_id="only-id"), ConfigError, "aws_secret_access_key"),
        (lambda p: AutoStore("s3://b/", cache_max_size="a lot"), ConfigError, "cache_max_size"),
        (lambda p: S3Options(scheme="bad scheme!"), ConfigError, "scheme"),
    ],
)
def test_invalid_options_and_locations(tmp_path: Path, make: Callable[[Path], Any], error: type, fragment: str) -> None:
    with pytest.raises(error) as info:
        make(tmp_path / "data")
    assert fragment in str(info.value)
    assert not (tmp_path / "data").exists()
    TRIED["options"] += 1
    TRIED["total"] += 1


# -- properties (hypothesis) ----------------------------------------------------------------------------
# Key material: letters and digits from any script, combining marks, punctuation S3 allows,
# separators, dots, and a few characters that must be refused.
KEY_CHARS = st.characters(
    categories=("L", "N", "M", "Pd", "Pc", "Po", "Sm", "Sc", "Zs", "Cc"),
    include_characters="/._-~ \\%+=&@!'()[]{},;",
    exclude_characters="\u2028\u2029",
)
keys = st.text(KEY_CHARS, min_size=0, max_size=40)
plain_segments = st.text(
    st.characters(categories=("L", "N", "M", "Pd", "Pc", "So", "Sc"), include_characters=" _-.()+=@!,;%'~#?&*$:[]"),
    min_size=1,
    max_size=20,
).filter(lambda s: s not in (".", "..") and not s.startswith("~") and not s.startswith(TEMP_MARKER))
# (a name starting with the temp-file marker is refused: writers' temporary files use it)
good_keys = st.lists(plain_segments, min_size=1, max_size=4).map("/".join)


@settings(max_examples=400, deadline=None, database=None)
@given(keys)
def test_validate_key_is_idempotent_and_safe(key: str) -> None:
    TRIED["hypothesis.keys"] += 1
    try:
        clean = validate_key(key)
    except InvalidKey as exc:
        assert str(exc)  # refused with a message
        TRIED["hypothesis.refused"] += 1
        return
    assert validate_key(clean) == clean
    assert clean == unicodedata.normalize("NFC", clean)
    body = clean.rstrip("/")
    assert body and not clean.startswith(("/", "~")) and "//" not in clean
    assert all(part not in ("", ".", "..") for part in body.split("/"))
    assert not any(ord(c) < 32 or ord(c) == 127 for c in clean) and "\\" not in clean
    assert len(clean.encode()) <= MAX_KEY_BYTES


def _round_trip(store: AutoStore, raw: Raw, key: str) -> None:
    clean = validate_key(key)
    value = f"value of {key!r}"
    store.write(clean, value, format="txt")
    stored = raw.keys()
    assert len(stored) == 1 and stored[0].startswith(clean), (key, stored)
    assert store.read(clean, format="txt") == value
    assert store.read(key, format="txt") == value  # the unnormalized spelling finds it too
    store.delete(stored[0])
    assert raw.keys() == []


@settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(good_keys)
def test_accepted_keys_round_trip_locally(tmp_path: Path, key: str) -> None:
    store = AutoStore(tmp_path / uuid.uuid4().hex)
    _round_trip(store, Raw(store, None), key)


@settings(max_examples=30, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(good_keys)
def test_accepted_keys_round_trip_on_s3(s3_server: Any, shared_bucket: str, s3_options: S3Options, key: str) -> None:
    store = AutoStore(f"s3://{shared_bucket}/prop-{uuid.uuid4().hex[:10]}/", options=s3_options)
    _round_trip(store, Raw(store, s3_server), key)
