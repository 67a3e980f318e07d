"""Options: validation at construction, secrets masked, kwargs routed to the right class."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from autostore import AutoStore, ConfigError, Options, S3Options
from autostore.options import parse_size
from helpers import env_test, in_child


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"cache_expiry_hours": -1}, "cache_expiry_hours"),
        ({"timeout": 0}, "timeout"),
        ({"max_retries": -2}, "max_retries"),
        ({"max_retries": 1.5}, "max_retries"),
        ({"retry_delay": -0.1}, "retry_delay"),
        ({"cache_validation": "sometimes"}, "cache_validation"),
        ({"cache_max_size": "lots"}, "cache_max_size"),
        ({"scheme": "not a scheme"}, "scheme"),
    ],
)
def test_invalid_base_options(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        Options(**kwargs)  # type: ignore[arg-type]
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"endpoint_url": "minio.example.com"}, "endpoint_url"),
        ({"endpoint_url": "ftp://host"}, "endpoint_url"),
        ({"endpoint_url": "http://user:pw@host"}, "endpoint_url"),
        ({"endpoint_url": "http://host:99999"}, "port"),
        ({"multipart_chunksize": 0}, "multipart_chunksize"),
        ({"multipart_chunksize": 1024}, "5 MiB"),
        ({"multipart_threshold": 0}, "multipart_threshold"),
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"aws_access_key_id": "only-the-id"}, "aws_secret_access_key"),
    ],
)
def test_invalid_s3_options(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        S3Options(**kwargs)  # type: ignore[arg-type]
    assert fragment in str(info.value)


def test_seed_fields_and_defaults() -> None:
    o = S3Options(
        scheme="s3",
        aws_access_key_id="your-key",
        aws_secret_access_key="your-secret",
        profile_name="my-profile",
        region_name="us-east-1",
        endpoint_url="https://custom-endpoint.example.com",
        multipart_threshold=64 * 1024 * 1024,
        multipart_chunksize=16 * 1024 * 1024,
        max_concurrency=10,
        cache_enabled=True,
        cache_expiry_hours=6,
    )
    assert o.cache_expiry_hours == 6 and o.max_concurrency == 10
    base = Options(
        cache_enabled=True, cache_dir="./cache", cache_expiry_hours=12, timeout=30, max_retries=3, retry_delay=1.0
    )
    assert base.cache_dir == "./cache"
    assert Options().cache_enabled is False


def test_secrets_never_in_repr_or_store_repr(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    secret = "s3cr3t-VALUE-123"
    o = S3Options(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key=secret, aws_session_token="tok-SECRET-9")
    assert secret not in repr(o) and "tok-SECRET-9" not in repr(o)
    assert "***" in repr(o) and "AKIDEXAMPLE" in repr(o)
    assert secret not in str(o)
    with caplog.at_level(logging.DEBUG, logger="autostore"):
        store = AutoStore(str(tmp_path), options=[o])
        assert secret not in repr(store)
    assert secret not in caplog.text


def test_unknown_kwarg_and_scheme(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        AutoStore(str(tmp_path), cache_enabeld=True)
    assert "cache_enabeld" in str(info.value)
    with pytest.raises(ConfigError) as info:
        AutoStore("nosuchscheme://bucket/x")
    assert "register_scheme" in str(info.value)
    with pytest.raises(ConfigError):
        AutoStore(str(tmp_path), options="not options")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        AutoStore(str(tmp_path), options=Options(), config=Options())


def test_config_alias_and_kwargs_on_local(tmp_path: Path) -> None:
    with AutoStore(str(tmp_path / "d"), config=Options(cache_expiry_hours=3)) as store:
        assert store.options.cache_expiry_hours == 3
        store["data"] = [1, 2]
        assert store["data"] == [1, 2]
    store = AutoStore(str(tmp_path), cache_enabled=True)
    assert store.options.cache_enabled is True
    # shared fields are inherited by schemes without explicit options
    assert store.options_for("s3").cache_enabled is True
    assert isinstance(store.options_for("s3"), S3Options)


def test_env_defaults() -> None:
    env = {
        "AWS_ACCESS_KEY_ID": "AKENV",
        "AWS_SECRET_ACCESS_KEY": "secret-env",
        "AWS_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    }
    in_child(env, _env_defaults)  # a child: see helpers.in_child


def _env_defaults() -> None:
    r = S3Options().resolved()
    assert (r.aws_access_key_id, r.region_name, r.endpoint_url) == ("AKENV", "eu-west-1", "http://127.0.0.1:9")
    explicit = S3Options(aws_access_key_id="A", aws_secret_access_key="B", region_name="us-east-2").resolved()
    assert (explicit.aws_access_key_id, explicit.region_name) == ("A", "us-east-2")


def _no_pickle_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTOSTORE_ALLOW_PICKLE", raising=False)


@env_test(_no_pickle_env)  # in a spawned child: the test process's environment never changes
def test_allow_pickle_argument_wins_over_env(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Options().pickle_allowed is True
    monkeypatch.setenv("AUTOSTORE_ALLOW_PICKLE", "0")
    assert Options().pickle_allowed is False
    assert Options(allow_pickle=True).pickle_allowed is True


@pytest.mark.parametrize(
    ("value", "expected"), [(10, 10), ("10GB", 10 * 1000**3), ("512MiB", 512 * 1024**2), ("1.5k", 1500), (None, None)]
)
def test_parse_size(value: int | str | None, expected: int | None) -> None:
    assert parse_size(value) == expected
