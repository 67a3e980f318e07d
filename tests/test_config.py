"""config.toml and AUTOSTORE_* variables: tables per scheme, bucket and profile, secrets read from
other variables, precedence arguments > environment > file, and errors naming the file."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from autostore import AutoStore, ConfigError, Options, S3Options
from autostore.config import active_profile, config_path, load, settle, use_profile
from autostore.testing import S3Server
from helpers import env_test


def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """What every test here starts from: no AWS_*/AUTOSTORE_* variable, no active profile. The
    tests run in spawned children (helpers.env_test): clearing and refilling ~80 variables in the
    test process while native threads call getenv can crash it (glibc's environ is not
    thread-safe)."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "AUTOSTORE_")):
            monkeypatch.delenv(name)
    use_profile(None)


def write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> Path:
    path = tmp_path / f"config-{uuid.uuid4().hex[:6]}.toml"
    path.write_text(text)
    monkeypatch.setenv("AUTOSTORE_CONFIG", str(path))
    return path


@env_test(clean_env)
def test_default_location_is_the_platform_config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert config_path() == tmp_path / "autostore" / "config.toml"
    (tmp_path / "autostore").mkdir()
    (tmp_path / "autostore" / "config.toml").write_text("[defaults]\ntimeout = 12.5\n")
    assert AutoStore(tmp_path / "data").options.timeout == 12.5
    monkeypatch.setenv("AUTOSTORE_CONFIG", "")  # empty: no file at all
    assert config_path() is None and AutoStore(tmp_path / "data").options.timeout == 30.0


@env_test(clean_env)
def test_layers_and_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(
        tmp_path,
        monkeypatch,
        """
[defaults]
cache_enabled = true
cache_dir = "~/from-file"
timeout = 11
max_retries = 1

[schemes.s3]
region = "eu-west-1"
endpoint_url = "https://s3.scheme.example.com"

[buckets."s3://special"]
endpoint = "https://special.example.com"
timeout = 22

[profiles.slow]
timeout = 99
""",
    )
    o = settle(S3Options(), "s3", "plain")
    assert (o.cache_enabled, o.timeout, o.max_retries) == (True, 11, 1)
    assert o.cache_dir == os.path.expanduser("~/from-file")
    assert isinstance(o, S3Options) and o.region_name == "eu-west-1"
    assert o.endpoint_url == "https://s3.scheme.example.com"
    special = settle(S3Options(), "s3", "special")
    assert isinstance(special, S3Options) and special.endpoint_url == "https://special.example.com"
    assert special.timeout == 22 and special.region_name == "eu-west-1"  # bucket over scheme over defaults

    monkeypatch.setenv("AUTOSTORE_PROFILE", "slow")  # profile over bucket
    assert active_profile() == "slow" and settle(S3Options(), "s3", "special").timeout == 99
    monkeypatch.setenv("AUTOSTORE_TIMEOUT", "5")  # environment over file
    monkeypatch.setenv("AUTOSTORE_CACHE_DIR", "/env/cache")
    o = settle(S3Options(), "s3", "special")
    assert (o.timeout, o.cache_dir) == (5.0, "/env/cache")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")  # the service's own variables too
    assert settle(S3Options(), "s3", "special").endpoint_url is None  # left for the environment
    explicit = settle(S3Options(timeout=7, endpoint_url="https://mine.example.com"), "s3", "special")
    assert (explicit.timeout, explicit.endpoint_url) == (7, "https://mine.example.com")  # arguments win

    # the store: shared options from the file, per-bucket ones on that bucket's backend
    monkeypatch.delenv("AUTOSTORE_PROFILE")
    monkeypatch.delenv("AUTOSTORE_TIMEOUT")
    store = AutoStore("s3://special/", timeout=3)
    assert store.options.timeout == 3 and store.options.max_retries == 1
    assert AutoStore(tmp_path / "local").options.cache_enabled is True


@env_test(clean_env)
def test_bucket_credentials_from_named_variables_on_a_real_server(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(
        tmp_path,
        monkeypatch,
        f"""
[buckets."s3://{s3_bucket}"]
endpoint_url = "{s3_server.endpoint_url}"
region = "{s3_server.region}"
access_key_id_env = "LAB_KEY"
secret_access_key_env = "LAB_SECRET"
""",
    )
    monkeypatch.setenv("LAB_KEY", s3_server.access_key_id)
    monkeypatch.setenv("LAB_SECRET", s3_server.secret_access_key)
    store = AutoStore(f"s3://{s3_bucket}/cfg/")
    store["x"] = {"configured": "by file"}
    assert AutoStore(f"s3://{s3_bucket}/")["cfg/x"] == {"configured": "by file"}
    # a cross-bucket URI from a local store finds the same table
    assert AutoStore(tmp_path / "local")[f"s3://{s3_bucket}/cfg/x.json"] == {"configured": "by file"}
    assert s3_server.secret_access_key not in repr(store)

    monkeypatch.delenv("LAB_SECRET")
    with pytest.raises(ConfigError, match="LAB_SECRET") as info:
        AutoStore(f"s3://{s3_bucket}/")
    assert s3_server.secret_access_key not in str(info.value)


@env_test(clean_env)
def test_scheme_table_registers_an_s3_compatible_scheme(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = "lab" + uuid.uuid4().hex[:6]
    write(
        tmp_path,
        monkeypatch,
        f"""
[schemes.{name}]
kind = "s3"
endpoint_url = "{s3_server.endpoint_url}"
access_key_id_env = "K"
secret_access_key_env = "S"
""",
    )
    monkeypatch.setenv("K", s3_server.access_key_id)
    monkeypatch.setenv("S", s3_server.secret_access_key)
    store = AutoStore(f"{name}://{s3_bucket}/")
    store["via-scheme"] = [1, 2]
    assert AutoStore(f"s3://{s3_bucket}/", options=S3Options(**s3_server.options_kwargs()))["via-scheme"] == [1, 2]  # type: ignore[arg-type]


@env_test(clean_env)
def test_environment_credentials_win_over_the_file(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(
        tmp_path,
        monkeypatch,
        f"""
[schemes.s3]
endpoint_url = "{s3_server.endpoint_url}"
aws_access_key_id = "WRONGKEY"
aws_secret_access_key = "wrong-secret"
""",
    )
    for k, v in s3_server.env().items():
        if k != "AWS_ENDPOINT_URL":
            monkeypatch.setenv(k, v)
    store = AutoStore(f"s3://{s3_bucket}/")  # endpoint from the file, credentials from the environment
    store["k"] = "env credentials"
    assert store["k"] == "env credentials"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[defaults]\nregin = 'x'\n", "regin"),
        ("[defaults\n", "not valid TOML"),
        ("[nonsense]\n", "unknown table"),
        ("[buckets.plain]\ntimeout = 1\n", 'buckets."s3://plain"'),
        ("[defaults]\ntimeout = -1\n", "timeout"),
        ("[schemes.s3]\nendpoint_url = 'not a url'\n", "endpoint_url"),
        ("[schemes.x1]\nkind = 'ftp'\n", "x1"),
    ],
)
@env_test(clean_env)
def test_bad_files_name_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, fragment: str) -> None:
    path = write(tmp_path, monkeypatch, text)
    with pytest.raises(ConfigError) as info:
        AutoStore("s3://bucket/")
    assert fragment in str(info.value) and str(path) in str(info.value)


@env_test(clean_env)
def test_bad_environment_and_missing_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOSTORE_MAX_RETRIES", "many")
    with pytest.raises(ConfigError, match="AUTOSTORE_MAX_RETRIES"):
        AutoStore(tmp_path)
    monkeypatch.delenv("AUTOSTORE_MAX_RETRIES")
    monkeypatch.setenv("AUTOSTORE_CACHE_ENABLED", "yes")
    assert AutoStore(tmp_path).options.cache_enabled is True
    monkeypatch.setenv("AUTOSTORE_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match=r"missing\.toml"):
        AutoStore(tmp_path)
    write(tmp_path, monkeypatch, "[profiles.a]\ntimeout = 1\n")
    monkeypatch.setenv("AUTOSTORE_PROFILE", "b")
    with pytest.raises(ConfigError, match=r"profiles\.b"):
        AutoStore(tmp_path)


@env_test(clean_env)
def test_file_is_reread_when_it_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, monkeypatch, "[defaults]\ntimeout = 1\n")
    assert load().defaults["timeout"][0] == 1
    path.write_text("[defaults]\ntimeout = 2.5  # changed\n")
    assert AutoStore(tmp_path).options.timeout == 2.5
    assert settle(Options(), "file").timeout == 2.5
