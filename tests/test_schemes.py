"""The same store API on every scheme obstore speaks: memory:// (fully), az:// and abfs:// against
Azurite (fully), http(s):// reads against a local http.server, gs:// reads against
fake-gcs-server plus config-level checks of how GCSOptions/AzureOptions map to obstore."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from autostore import (
    AuthError,
    AutoStore,
    AzureOptions,
    BackendError,
    BucketNotFound,
    ConfigError,
    GCSOptions,
    NotFound,
    Options,
)
from autostore.backends.objectstore import ObjectStoreBackend
from autostore.options import AZURITE_ACCOUNT, AZURITE_KEY, options_class_for_kind
from helpers import env_test
from servers import Azurite, FakeGCS, HTTPServer


def _exercise(store: AutoStore) -> None:
    """One body for every writable scheme: dict API, metadata, copy/move, listing, delete."""
    df = pl.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    store["frame"] = df
    store["nested/config"] = {"k": [1, 2]}
    store["notes"] = "hello"
    store["events"] = [{"e": 1}, {"e": 2}]
    assert_frame_equal(store["frame"], df)
    assert store["nested/config"] == {"k": [1, 2]}
    assert store["notes"] == "hello"
    assert store["events"] == [{"e": 1}, {"e": 2}]
    assert store.keys() == ["events", "frame", "nested/config", "notes"]
    assert "nested/config" in store and "nope" not in store
    meta = store.get_metadata("nested/config")
    assert meta.size == len(json.dumps({"k": [1, 2]}).encode()) or meta.size > 0
    assert meta.etag and meta.modified_time is not None
    store.copy("nested/config", "backup/config")
    store.move("backup/config", "archive/config")
    assert store["archive/config"] == {"k": [1, 2]} and "backup/config" not in store
    assert sorted(store.list_files("**/*.json")) == ["archive/config.json", "nested/config.json"]
    del store["archive/config"]
    with pytest.raises(NotFound):
        store["archive/config"]
    store["nested/config"] = {"k": "replaced"}  # overwrite
    assert store["nested/config"] == {"k": "replaced"}


# -- memory:// -------------------------------------------------------------------------------------
def test_memory_store_full_api() -> None:
    bucket = "mem-" + uuid.uuid4().hex[:8]
    store = AutoStore(f"memory://{bucket}/p/")
    _exercise(store)
    # one process-wide bucket per name: a second store sees the same objects
    assert AutoStore(f"memory://{bucket}/p/")["notes"] == "hello"
    assert AutoStore(f"memory://{bucket}/")["p/notes"] == "hello"
    assert AutoStore(f"memory://other-{bucket}/").keys() == []


# -- az:// against Azurite --------------------------------------------------------------------------
@pytest.fixture
def container(azurite: Azurite) -> str:
    name = "c" + uuid.uuid4().hex[:12]
    azurite.create_container(name)
    return name


def test_azure_full_api(azurite: Azurite, container: str) -> None:
    store = AutoStore(f"az://{container}/data/", options=AzureOptions(**azurite.options_kwargs()))  # type: ignore[arg-type]
    _exercise(store)
    # what is on the server, read with a separate obstore client
    import obstore
    from obstore.store import AzureStore

    # obstore reads every AZURE_* variable itself (the suite sets decoys for them): everything
    # that decides the account, URL and credential is given explicitly.
    raw = AzureStore(
        container,
        account_name=AZURITE_ACCOUNT,
        account_key=AZURITE_KEY,
        endpoint=azurite.endpoint,
        credential_type="access_key",
        use_emulator=False,
        use_fabric_endpoint=False,
        skip_signature=False,
        client_options={"allow_http": True},
    )
    paths = sorted(m["path"] for batch in obstore.list(raw, prefix="data") for m in batch)
    assert paths == ["data/events.jsonl", "data/frame.parquet", "data/nested/config.json", "data/notes.txt"]
    assert json.loads(bytes(obstore.get(raw, "data/nested/config.json").bytes())) == {"k": "replaced"}


def _env_as_is(monkeypatch: pytest.MonkeyPatch) -> None:
    """Setup of the tests below that set cloud variables on purpose: they run in a spawned child
    (helpers.env_test), never changing the environment of the test process."""


@env_test(_env_as_is)
def test_azure_connection_string_env_and_abfs(
    azurite: Azurite, container: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    store = AutoStore(f"abfs://{container}/x/")
    store["a"] = {"via": "abfs"}
    assert AutoStore(f"az://{container}/x/")["a"] == {"via": "abfs"}
    account_uri = f"abfs://{container}@{AZURITE_ACCOUNT}.dfs.core.windows.net/x/"
    assert AutoStore(account_uri)["a"] == {"via": "abfs"}
    with pytest.raises(ConfigError, match="account"):
        AutoStore(f"abfs://{container}@other.dfs.core.windows.net/x/")["a"]


def test_azure_errors(azurite: Azurite, container: str) -> None:
    good = AzureOptions(**azurite.options_kwargs())  # type: ignore[arg-type]
    with pytest.raises(BucketNotFound, match="missing-container"):
        AutoStore("az://missing-container/", options=good)["x.json"]
    with pytest.raises(BucketNotFound):
        AutoStore("az://missing-container/", options=good)["x.json"] = {"a": 1}
    secret = "d3JvbmcgYnV0IHZhbGlkIGJhc2U2NA=="
    bad = AzureOptions(account_name=AZURITE_ACCOUNT, account_key=secret, endpoint_url=azurite.endpoint)
    with pytest.raises(AuthError) as info:
        AutoStore(f"az://{container}/", options=bad)["x.json"] = {"a": 1}
    assert secret not in str(info.value) and "account_key" in str(info.value)
    assert secret not in repr(bad) and "***" in repr(bad)


# -- http(s):// --------------------------------------------------------------------------------------
def test_http_reads_and_refuses_writes(http_site: HTTPServer) -> None:
    name = uuid.uuid4().hex[:8]
    folder = http_site.root / name
    folder.mkdir()
    pl.DataFrame({"v": [1.5, 2.5]}).write_parquet(folder / "t.parquet")
    (folder / "c.json").write_text('{"ok": true}')
    store = AutoStore(f"{http_site.url}/{name}/", options=Options(max_retries=0))
    assert store["c.json"] == {"ok": True}
    assert_frame_equal(store["t.parquet"], pl.DataFrame({"v": [1.5, 2.5]}))
    assert store.get_metadata("c.json").size == len('{"ok": true}')
    assert store[f"{http_site.url}/{name}/c.json"] == {"ok": True}
    with pytest.raises(NotFound):
        store["missing.json"]
    for action in (lambda: store.__setitem__("new.json", {"a": 1}), lambda: store.__delitem__("c.json")):
        with pytest.raises(BackendError, match="read-only"):
            action()
    assert (folder / "c.json").read_text() == '{"ok": true}'  # untouched


# -- gs:// ---------------------------------------------------------------------------------------------
@pytest.fixture
def gcs_bucket(fake_gcs: FakeGCS) -> str:
    name = "g" + uuid.uuid4().hex[:12]
    fake_gcs.create_bucket(name)
    return name


def test_gcs_reads_against_fake_gcs_server(fake_gcs: FakeGCS, gcs_bucket: str) -> None:
    fake_gcs.upload(gcs_bucket, "data/config.json", b'{"cloud": "gcs"}')
    buf = pl.DataFrame({"a": [1, 2]})
    path = Path(__file__).parent / f".tmp-{uuid.uuid4().hex[:6]}.parquet"
    try:
        buf.write_parquet(path)
        fake_gcs.upload(gcs_bucket, "data/frame.parquet", path.read_bytes())
    finally:
        path.unlink(missing_ok=True)
    options = GCSOptions(endpoint_url=fake_gcs.url, anonymous=True)
    store = AutoStore(f"gs://{gcs_bucket}/data/", options=options)
    assert store["config"] == {"cloud": "gcs"}
    assert_frame_equal(store["frame"], buf)
    assert store.keys() == ["config", "frame"]
    assert store.get_metadata("config").size == len(b'{"cloud": "gcs"}')
    assert AutoStore(
        f"gcs://{gcs_bucket}/", options=GCSOptions(scheme="gcs", endpoint_url=fake_gcs.url, anonymous=True)
    )["data/config"] == {"cloud": "gcs"}
    with pytest.raises(NotFound):
        store["missing"]
    # fake-gcs-server does not implement obstore's upload call: a write fails with a clear error
    with pytest.raises(BackendError, match=f"gs://{gcs_bucket}/data/new.json"):
        store["new"] = {"a": 1}


@env_test(_env_as_is)
def test_gcs_emulator_from_environment(fake_gcs: FakeGCS, gcs_bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_gcs.upload(gcs_bucket, "x.txt", b"env")
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", fake_gcs.url.removeprefix("http://"))
    assert AutoStore(f"gs://{gcs_bucket}/", anonymous=True)["x"] == "env"


def _built(uri: str, options: Options) -> ObjectStoreBackend:
    store = AutoStore(uri, options=options)
    backend = store.primary_backend
    assert isinstance(backend, ObjectStoreBackend)
    backend.store  # noqa: B018 - builds the obstore client (no request is sent)
    return backend


@env_test(_env_as_is)
def test_gcs_options_map_to_obstore_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (
        "GOOGLE_SERVICE_ACCOUNT",
        "GOOGLE_SERVICE_ACCOUNT_PATH",
        "GOOGLE_SERVICE_ACCOUNT_KEY",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "STORAGE_EMULATOR_HOST",
    ):
        monkeypatch.delenv(var, raising=False)
    key = {
        "type": "service_account",
        "client_email": "x@p.iam.gserviceaccount.com",
        "private_key_id": "k1",
        "private_key": "-----BEGIN PRIVATE KEY-----\nMII\n-----END PRIVATE KEY-----\n",
    }
    sa = tmp_path / "sa.json"  # a key file obstore accepts without a real RSA key
    sa.write_text(json.dumps({"disable_oauth": True, "client_email": "", "private_key": "", "private_key_id": ""}))
    b = _built("gs://bkt/", GCSOptions(service_account_path=str(sa), endpoint_url="https://gcs.example.com"))
    assert b.store.config["service_account"] == str(sa)
    assert b.store.config["base_url"] == "https://gcs.example.com"
    assert b.store.config["bucket"] == "bkt"

    secret_text = json.dumps(
        {
            "gcs_base_url": "https://gcs.example.com",
            "disable_oauth": True,
            "client_email": "",
            "private_key": "",
            "private_key_id": "",
        }
    )
    b = _built("gs://bkt/", GCSOptions(service_account_key=secret_text))
    assert b.store.config["service_account_key"] == secret_text
    assert secret_text not in repr(GCSOptions(service_account_key=secret_text))

    b = _built("gs://bkt/", GCSOptions(anonymous=True, endpoint_url="http://127.0.0.1:9"))
    fake = json.loads(b.store.config["service_account_key"])
    assert fake["disable_oauth"] is True and fake["gcs_base_url"] == "http://127.0.0.1:9"
    assert str(b.store.client_options["allow_http"]).lower() == "true"

    with pytest.raises(ConfigError, match="gs://bkt/"):
        _built("gs://bkt/", GCSOptions(service_account_key=json.dumps(key)))  # not a valid RSA key
    monkeypatch.setenv("GOOGLE_SERVICE_ACCOUNT", str(sa))
    assert _built("gs://bkt/", GCSOptions()).store.config["service_account"] == str(sa)
    assert options_class_for_kind("gs") is GCSOptions
    with pytest.raises(ConfigError, match="endpoint_url"):
        GCSOptions(endpoint_url="gcs.example.com")


@env_test(_env_as_is)
def test_azure_options_map_to_obstore_config(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (
        "AZURE_STORAGE_CONNECTION_STRING",
        "AZURE_STORAGE_ACCOUNT_NAME",
        "AZURE_STORAGE_ACCOUNT_KEY",
        "AZURE_STORAGE_SAS_TOKEN",
        "AZURE_CLIENT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_TENANT_ID",
        "AZURE_STORAGE_ENDPOINT",
        "AZURE_STORAGE_USE_EMULATOR",
    ):
        monkeypatch.delenv(var, raising=False)
    b = _built("az://cont/", AzureOptions(account_name="acct", sas_token="?sv=2024&sig=abc"))
    assert b.store.config["account_name"] == "acct" and b.store.config["sas_key"] == "sv=2024&sig=abc"
    b = _built("az://cont/", AzureOptions(account_name="acct", client_id="id", client_secret="s", tenant_id="t"))
    assert (b.store.config["client_id"], b.store.config["tenant_id"]) == ("id", "t")
    b = _built("az://cont/", AzureOptions(use_emulator=True))
    assert b.store.config["account_name"] == AZURITE_ACCOUNT
    assert b.store.config["endpoint"] == f"http://127.0.0.1:10000/{AZURITE_ACCOUNT}"
    opts = AzureOptions(connection_string="AccountName=a1;AccountKey=a2V5;BlobEndpoint=https://a1.example.com")
    resolved = opts.resolved()
    assert (resolved.account_name, resolved.account_key, resolved.endpoint_url) == (
        "a1",
        "a2V5",
        "https://a1.example.com",
    )
    assert "a2V5" not in repr(opts) and "a2V5" not in repr(resolved)
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_NAME", "fromenv")
    assert _built("az://cont/", AzureOptions(account_key="a2V5")).store.config["account_name"] == "fromenv"
    assert options_class_for_kind("az") is AzureOptions
    with pytest.raises(ConfigError, match="connection_string"):
        AzureOptions(connection_string="not a connection string")


