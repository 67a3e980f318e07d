"""Keys, URIs and the scheme registry."""

from __future__ import annotations

import os

import pytest

from autostore import ConfigError, InvalidKey
from autostore.uri import backend_kind, parse_location, register_scheme, validate_key


@pytest.mark.parametrize(
    "key", ["..", "../a", "a/..", "a/./b", "/abs", "~", "~user/x", "a\\b", "a\x00", "a\x1fb", "a//b", "", "x" * 1100]
)
def test_invalid_keys(key: str) -> None:
    with pytest.raises(InvalidKey):
        validate_key(key)


@pytest.mark.parametrize(
    ("key", "expected"),
    [("a/b.json", "a/b.json"), ("./a", "a"), ("folder/", "folder/"), ("cafe\u0301", "caf\u00e9"), ("a~b", "a~b")],
)
def test_valid_keys(key: str, expected: str) -> None:
    assert validate_key(key) == expected


def test_parse_locations(tmp_path: os.PathLike[str]) -> None:
    loc = parse_location("s3://bucket/a/b.json")
    assert (loc.scheme, loc.bucket, loc.key, loc.kind) == ("s3", "bucket", "a/b.json", "s3")
    assert parse_location("s3://bucket").key == ""
    local = parse_location("./data")
    assert local.is_local and local.uri() == os.path.abspath("data")
    assert parse_location("file:///tmp/x").uri() == "/tmp/x"
    with pytest.raises(InvalidKey):
        parse_location("s3:///key-without-bucket")
    with pytest.raises(InvalidKey):
        parse_location("s3://bucket/../x")
    with pytest.raises(ConfigError):
        parse_location("unknown://b/k")


def test_register_scheme_rules() -> None:
    register_scheme("digitalocean", "autostore.s3")
    assert backend_kind("digitalocean") == "s3"
    with pytest.raises(ConfigError):
        register_scheme("s3", "autostore.memory")
    with pytest.raises(ConfigError):
        register_scheme("x", "autostore.nope")
    with pytest.raises(ConfigError):
        register_scheme("bad scheme", "autostore.s3")
