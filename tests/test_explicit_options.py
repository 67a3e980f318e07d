"""Issue 13, configuration points 2 and 3: "explicit" means *passed by the caller* (not "differs
from the default"), and every Options field is type-checked at construction."""

from __future__ import annotations

import copy
import os
import pickle
import uuid
from pathlib import Path
from typing import Any

import pytest

from autostore import AutoStore, ConfigError, Options, S3Options
from autostore.config import settle, use_profile
from autostore.options import AzureOptions, GCSOptions
from autostore.testing import S3Server
from helpers import env_test


def no_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """No AUTOSTORE_* variable and no config file; the tests that change the environment run in
    spawned children (helpers.env_test), where this is set up."""
    for name in list(os.environ):
        if name.startswith("AUTOSTORE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AUTOSTORE_CONFIG", "")
    use_profile(None)


def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    path = tmp_path / f"config-{uuid.uuid4().hex[:6]}.toml"
    path.write_text(text)
    monkeypatch.setenv("AUTOSTORE_CONFIG", str(path))


# -- point 2: explicit = passed -------------------------------------------------------------------
@env_test(no_config)
def test_point2_explicit_cache_off_beats_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOSTORE_CACHE_ENABLED", "1")
    with AutoStore(tmp_path / "a", cache_enabled=False) as store:
        assert store.options.cache_enabled is False
        store["x.json"] = {"a": 1}
        assert store["x.json"] == {"a": 1}
        assert store._cache_for(store.primary_backend) is None  # no cache was built
    with AutoStore(tmp_path / "b") as store:  # nothing passed: the environment applies
        assert store.options.cache_enabled is True


@env_test(no_config)
def test_point2_explicit_default_number_beats_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOSTORE_MAX_RETRIES", "9")
    monkeypatch.setenv("AUTOSTORE_TIMEOUT", "7")
    with AutoStore(tmp_path / "a", max_retries=3, timeout=30.0) as store:
        assert (store.options.max_retries, store.options.timeout) == (3, 30.0)
    with AutoStore(tmp_path / "b", options=Options(max_retries=3)) as store:
        assert (store.options.max_retries, store.options.timeout) == (3, 7.0)
    with AutoStore(tmp_path / "c") as store:
        assert (store.options.max_retries, store.options.timeout) == (9, 7.0)


@env_test(no_config)
def test_point2_s3options_in_a_list_keep_their_explicit_defaults(
    s3_server: S3Server, shared_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTOSTORE_MAX_RETRIES", "9")
    monkeypatch.setenv("AUTOSTORE_CACHE_ENABLED", "true")
    opts = S3Options(max_retries=3, cache_enabled=False, **s3_server.options_kwargs())  # type: ignore[arg-type]
    with AutoStore(f"s3://{shared_bucket}/explicit-{uuid.uuid4().hex[:6]}/", options=[opts]) as store:
        assert (store.options.max_retries, store.options.cache_enabled) == (3, False)
        store["k.txt"] = "v"
        assert store["k.txt"] == "v"
        backend = store.primary_backend
        assert backend.options.max_retries == 3 and store._cache_for(backend) is None
    # A plain Options next to the S3Options passes its explicit fields on, defaults included.
    base = Options(cache_enabled=False)
    s3 = S3Options(**s3_server.options_kwargs())  # type: ignore[arg-type]
    with AutoStore(f"s3://{shared_bucket}/explicit2/", options=[s3, base]) as store:
        assert (store.options.max_retries, store.options.cache_enabled) == (9, False)


@env_test(no_config)
def test_point2_explicit_default_beats_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config_file(
        tmp_path,
        monkeypatch,
        '[defaults]\ncache_enabled = true\nmax_retries = 9\ncache_validation = "always"\n'
        "[schemes.s3]\nmax_retries = 3\n",
    )
    with AutoStore(tmp_path / "a", cache_enabled=False, cache_validation="expiry") as store:
        assert store.options.cache_enabled is False and store.options.cache_validation == "expiry"
        assert store.options.max_retries == 9  # not passed: the file's [defaults] applies
    settled = settle(S3Options(), "s3")
    assert settled.max_retries == 3  # a scheme table value equal to the default still beats [defaults]
    assert settle(S3Options(max_retries=9), "s3").max_retries == 9
    assert settle(S3Options(cache_enabled=False), "s3").cache_enabled is False


@env_test(no_config)
def test_point2_filled_values_do_not_become_explicit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOSTORE_MAX_RETRIES", "9")
    settled = settle(Options(timeout=5.0), "file")
    assert settled.max_retries == 9 and settled.explicit_fields == {"timeout"}
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    resolved = S3Options(max_retries=3).resolved()
    assert resolved.region_name == "eu-west-3" and resolved.explicit_fields == {"max_retries"}


def test_point2_replace_inherit_copy_and_pickle_keep_the_explicit_set() -> None:
    o = S3Options(max_retries=3, endpoint_url="http://127.0.0.1:9000")
    assert o.explicit_fields == {"max_retries", "endpoint_url"}
    assert o.replace(cache_enabled=False).explicit_fields == {"max_retries", "endpoint_url", "cache_enabled"}
    assert o.replace(endpoint_url=None).explicit_fields == {"max_retries"}  # None = not set
    for clone in (pickle.loads(pickle.dumps(o)), copy.copy(o), copy.deepcopy(o)):
        assert clone == o and clone.explicit_fields == o.explicit_fields
    inherited = S3Options(timeout=5.0).inherit(Options(cache_enabled=False, timeout=9.0))
    assert inherited.explicit_fields == {"timeout", "cache_enabled"}
    assert (inherited.timeout, inherited.cache_enabled) == (5.0, False)
    assert Options().explicit_fields == frozenset() and S3Options(scheme="minio").explicit_fields == frozenset()
    assert repr(Options(cache_enabled=False)) == "Options(cache_enabled=False)"
    with pytest.raises(ConfigError, match="no option"):
        o.replace(cache_enable=True)


@env_test(no_config)
def test_point2_pickled_store_keeps_explicit_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOSTORE_CACHE_ENABLED", "1")
    monkeypatch.setenv("AUTOSTORE_MAX_RETRIES", "9")
    store = AutoStore(tmp_path / "a", options=Options(max_retries=3), cache_enabled=False)
    clone = pickle.loads(pickle.dumps(store))
    try:
        assert (clone.options.cache_enabled, clone.options.max_retries) == (False, 3)
        assert clone.options.explicit_fields == {"cache_enabled", "max_retries"}
    finally:
        clone.close()
        store.close()


@env_test(no_config)
def test_point2_explicit_use_emulator_false_beats_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_STORAGE_USE_EMULATOR", "true")
    assert AzureOptions(use_emulator=False).resolved().use_emulator is False
    assert AzureOptions().resolved().use_emulator is True


# -- point 3: types checked at construction --------------------------------------------------------
_BAD: list[tuple[type[Options], dict[str, Any], str]] = [
    (Options, {"cache_enabled": "false"}, "cache_enabled"),
    (Options, {"cache_enabled": 1}, "cache_enabled"),
    (Options, {"cache_dir": 3}, "cache_dir"),
    (Options, {"cache_expiry_hours": "24"}, "cache_expiry_hours"),
    (Options, {"cache_validation": 1}, "cache_validation"),
    (Options, {"cache_max_size": "huge"}, "cache_max_size"),
    (Options, {"cache_max_size": True}, "cache_max_size"),
    (Options, {"timeout": "30"}, "timeout"),
    (Options, {"max_retries": "3"}, "max_retries"),
    (Options, {"max_retries": 2.0}, "max_retries"),
    (Options, {"retry_delay": None}, "retry_delay"),
    (Options, {"allow_pickle": "no"}, "allow_pickle"),
    (Options, {"allow_pickle": 0}, "allow_pickle"),
    (S3Options, {"aws_access_key_id": 123, "aws_secret_access_key": "s"}, "aws_access_key_id"),
    (S3Options, {"aws_access_key_id": "k", "aws_secret_access_key": b"s"}, "aws_secret_access_key"),
    (S3Options, {"aws_session_token": 5}, "aws_session_token"),
    (S3Options, {"profile_name": ["prod"]}, "profile_name"),
    (S3Options, {"region_name": 1}, "region_name"),
    (S3Options, {"endpoint_url": 8080}, "endpoint_url"),
    (S3Options, {"multipart_threshold": "big"}, "multipart_threshold"),
    (S3Options, {"multipart_chunksize": "1MiB"}, "multipart_chunksize"),
    (S3Options, {"max_concurrency": "10"}, "max_concurrency"),
    (GCSOptions, {"service_account_path": 1}, "service_account_path"),
    (GCSOptions, {"service_account_key": {"type": "service_account"}}, "service_account_key"),
    (GCSOptions, {"application_credentials": 2.5}, "application_credentials"),
    (GCSOptions, {"anonymous": "yes"}, "anonymous"),
    (AzureOptions, {"account_name": 1}, "account_name"),
    (AzureOptions, {"account_key": 1}, "account_key"),
    (AzureOptions, {"sas_token": 1}, "sas_token"),
    (AzureOptions, {"client_id": 1}, "client_id"),
    (AzureOptions, {"client_secret": 1}, "client_secret"),
    (AzureOptions, {"tenant_id": 1}, "tenant_id"),
    (AzureOptions, {"connection_string": 1}, "connection_string"),
    (AzureOptions, {"use_emulator": "true"}, "use_emulator"),
    (AzureOptions, {"use_azure_cli": 1}, "use_azure_cli"),
    (AzureOptions, {"anonymous": "false"}, "anonymous"),
]


@pytest.mark.parametrize(
    ("cls", "kwargs", "field"), _BAD, ids=[f"{c.__name__}-{f}-{i}" for i, (c, _, f) in enumerate(_BAD)]
)
def test_point3_wrong_types_raise_config_error_naming_the_field(
    cls: type[Options], kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(ConfigError) as info:
        cls(**kwargs)
    assert field in str(info.value)
    with pytest.raises(ConfigError):  # replace() validates the same way
        cls().replace(**kwargs)


def test_point3_secrets_stay_out_of_type_errors() -> None:
    with pytest.raises(ConfigError) as info:
        S3Options(aws_access_key_id="AKID", aws_secret_access_key=12345678901)  # type: ignore[arg-type]
    assert "12345678901" not in str(info.value) and "aws_secret_access_key" in str(info.value)


def test_point3_sizes_and_paths_are_parsed(tmp_path: Path) -> None:
    o = S3Options(multipart_threshold="128MiB", multipart_chunksize="8MiB", cache_max_size="1GB")  # type: ignore[arg-type]
    assert (o.multipart_threshold, o.multipart_chunksize, o.cache_max_bytes) == (128 * 2**20, 8 * 2**20, 10**9)
    assert Options(cache_dir=tmp_path).cache_dir == str(tmp_path)  # type: ignore[arg-type]
    assert GCSOptions(service_account_path=tmp_path / "k.json").service_account_path == str(tmp_path / "k.json")  # type: ignore[arg-type]
    assert Options(cache_expiry_hours=6, timeout=5, retry_delay=0).timeout == 5
    assert Options(allow_pickle=False).pickle_allowed is False


def test_point3_store_keyword_arguments_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cache_enabled"):
        AutoStore(tmp_path / "a", cache_enabled="false")
    assert not (tmp_path / "a").exists()
