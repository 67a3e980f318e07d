"""Credentials: every way of getting them wrong is a typed error that says what to do, and no
secret ever appears in a log record (DEBUG, autostore's logger and the root logger), an error
message, a repr or an exception chain. (Wrong secret / key id, missing bucket and missing or
broken profiles basics are in test_s3.py; these scenarios add the rest and check the leaks.)"""

from __future__ import annotations

import logging
import os
import pickle
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from autostore import (
    AuthError,
    AutoStore,
    AutoStoreError,
    BackendError,
    BucketNotFound,
    ConfigError,
    NotFound,
    S3Options,
)
from autostore.backends.boto3_transport import Boto3Backend
from autostore.testing import S3Server
from faultproxy import FaultProxy, first, only
from helpers import in_child


class _Records(logging.Handler):
    """Log records of every logger at DEBUG, for a child process (where there is no caplog)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        root = logging.getLogger()
        root.addHandler(self)
        root.setLevel(logging.DEBUG)

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    @property
    def text(self) -> str:
        return "\n".join(self.format(r) for r in self.records)


class Leaks:
    """Everything a user could see: exceptions (whole chains), reprs, and log records."""

    def __init__(self, caplog: pytest.LogCaptureFixture | _Records) -> None:
        self.caplog = caplog
        self.texts: list[str] = []
        self.errors: list[BaseException] = []

    def corpus(self) -> str:
        logs = [self.caplog.text, *(r.getMessage() for r in self.caplog.records)]
        return "\n".join(self.texts + logs)

    def expect(self, error: type[BaseException], call: Callable[[], Any]) -> BaseException:
        with pytest.raises(error) as info:
            call()
        self.add_error(info.value)
        return info.value

    def add_error(self, exc: BaseException) -> None:
        self.errors.append(exc)
        seen: set[int] = set()
        current: BaseException | None = exc
        while current is not None and id(current) not in seen:  # __cause__ and __context__ chains
            seen.add(id(current))
            self.texts += [str(current), repr(current), *map(str, current.args)]
            current = current.__cause__ or current.__context__

    def see(self, *objects: Any) -> None:
        for obj in objects:
            self.texts += [repr(obj), str(obj)]


@pytest.fixture
def leaks(caplog: pytest.LogCaptureFixture) -> Iterator[Leaks]:
    caplog.set_level(logging.DEBUG)  # the root logger: also botocore, urllib3, filelock...
    caplog.set_level(logging.DEBUG, logger="autostore")
    yield Leaks(caplog)


def _options(server: S3Server, **changes: Any) -> S3Options:
    kwargs: dict[str, Any] = dict(server.options_kwargs())
    kwargs.update(changes)
    return S3Options(**kwargs)


def _profiles(tmp_path: Path, server: S3Server, profile_secret: str) -> dict[str, str]:
    """Write AWS config and credentials files with broken profiles; returns the environment that
    points at them (profiles come from these files only, not from the decoys)."""
    config = tmp_path / "config"
    endpoint = f"endpoint_url = {server.endpoint_url}\nregion = us-east-1\n"
    config.write_text(
        f"[profile no-credentials]\n{endpoint}"
        f"[profile broken-source]\nsource_profile = nowhere\nrole_arn = arn:aws:iam::123456789012:role/x\n{endpoint}"
        f"[profile failing-process]\ncredential_process = /bin/false\n{endpoint}"
        f"[profile wrong-secret]\n{endpoint}"
    )
    credentials = tmp_path / "credentials"
    credentials.write_text(
        f"[wrong-secret]\naws_access_key_id = {server.access_key_id}\naws_secret_access_key = {profile_secret}\n"
    )
    return {
        "AWS_CONFIG_FILE": str(config),
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
        "AWS_EC2_METADATA_DISABLED": "true",  # no instance metadata lookups here
    }


def _profiles_leak_nothing(uri: str, shared_bucket: str, secrets: list[str]) -> None:
    """Step 6 of the test below, in a child whose cloud variables are only the profile files'
    (helpers.in_child): missing, credential-less, broken, failing and wrong-secret profiles."""
    leaks = Leaks(_Records())
    err = leaks.expect(AuthError, lambda: AutoStore(uri, profile_name="does-not-exist")["a.json"])
    assert "does-not-exist" in str(err) and "~/.aws/config" in str(err)
    for profile in ("no-credentials", "broken-source", "failing-process"):
        err = leaks.expect(AuthError, lambda p=profile: AutoStore(uri, profile_name=p)["a.json"])
        assert f"AWS profile {profile!r}" in str(err) and "fix the profile" in str(err), str(err)
        leaks.expect(
            AuthError, lambda p=profile: Boto3Backend("s3", shared_bucket, S3Options(profile_name=p)).head("x")
        )
    err = leaks.expect(AuthError, lambda: AutoStore(uri, profile_name="wrong-secret")["a.json"])
    assert "'wrong-secret'" in str(err)
    os.environ["AWS_PROFILE"] = "wrong-secret"
    leaks.expect(AuthError, lambda: AutoStore(uri)["a.json"])  # the profile from the environment
    assert all(isinstance(e, AutoStoreError) for e in leaks.errors) and len(leaks.errors) == 9
    corpus = leaks.corpus()
    assert "Looking for credentials via" in corpus  # botocore's DEBUG records are captured too
    for secret in secrets:
        assert secret not in corpus, f"a secret leaked: {secret[:8]}..."


def test_no_secret_reaches_logs_messages_or_reprs(
    s3_server: S3Server,
    shared_bucket: str,
    fault_proxy: FaultProxy,
    tmp_path: Path,
    leaks: Leaks,
) -> None:
    tag = uuid.uuid4().hex[:12]
    wrong_secret = f"wrong-secret-{tag}"
    token = f"session-token-{tag}"
    profile_secret = f"profile-secret-{tag}"
    url_password = f"url-password-{tag}"
    secrets = [s3_server.secret_access_key, wrong_secret, token, profile_secret, url_password]
    uri = f"s3://{shared_bucket}/secrets-{tag}/"

    # 1. Normal work, with the server's real secret.
    good = AutoStore(uri, options=_options(s3_server))
    good["a"] = {"v": 1}
    good["a.txt"] = "text"  # an ambiguous key now
    assert good["a.json"] == {"v": 1}
    good["b"] = {"v": 2}
    good["b"] = [1, 2, 3]  # replaces b.json by b.json (same type), logged at DEBUG when siblings change
    good["b"] = "now text"  # replaces b.json with b.txt (logged)
    good.copy("b", "c")
    assert good.keys() == ["a", "b", "c"]
    leaks.expect(NotFound, lambda: good["missing"])
    leaks.expect(KeyError, lambda: AutoStore(uri, options=_options(s3_server))["a"])  # AmbiguousKey
    leaks.see(good, good.options, good.primary_backend, good.list_active_backends(), good.options_for("s3"))
    leaks.see(pickle.loads(pickle.dumps(good)))  # (a pickle carries credentials: it is not logged)

    # 2. Wrong secret, wrong key id, a session token: AuthError that names the URI and says what to do.
    for bad in (
        _options(s3_server, aws_secret_access_key=wrong_secret),
        _options(s3_server, aws_access_key_id="AKIDWRONG" + tag.upper(), aws_secret_access_key=wrong_secret),
        _options(s3_server, aws_secret_access_key=wrong_secret, aws_session_token=token),
    ):
        store = AutoStore(uri, options=bad)
        leaks.see(store, bad, store.primary_backend)
        for action in (lambda s=store: s["a.json"], lambda s=store: s.write("x.json", {}), lambda s=store: s.keys()):
            err = leaks.expect(AuthError, action)
            assert uri in str(err) and "credentials" in str(err) and "aws_secret_access_key" in str(err)

    # 3. A bucket that does not exist.
    missing = AutoStore(f"s3://no-bucket-{tag}/p/", options=_options(s3_server))
    err = leaks.expect(BucketNotFound, lambda: missing["x.json"])
    assert "create it" in str(err)

    # 4. Retries exhausted and our own retries (logged at DEBUG), through the fault proxy.
    proxied = AutoStore(
        uri, options=_options(s3_server, endpoint_url=fault_proxy.endpoint_url, max_retries=1, retry_delay=0.01)
    )
    fault_proxy.plan = first(2, "503")
    leaks.expect(BackendError, lambda: proxied["a.json"])
    fault_proxy.plan = first(1, "truncate", only("GET"))
    assert proxied.keys() == ["a", "b", "c"]  # a broken list body, retried by autostore (DEBUG log)
    fault_proxy.plan = None

    # 5. The boto3 transport (what forked children use) makes the same errors.
    transport = Boto3Backend("s3", shared_bucket, _options(s3_server, aws_secret_access_key=wrong_secret))
    leaks.see(transport)
    leaks.expect(AuthError, lambda: transport.get_bytes(f"secrets-{tag}/a.json"))
    leaks.expect(AuthError, lambda: transport.put_bytes(f"secrets-{tag}/x.json", b"{}"))
    with_token = Boto3Backend("s3", shared_bucket, _options(s3_server, aws_session_token=token))
    leaks.expect(AuthError, lambda: with_token.head(f"secrets-{tag}/a.json"))  # botocore logs the token header
    ok = Boto3Backend("s3", shared_bucket, _options(s3_server))
    assert ok.get_bytes(f"secrets-{tag}/a.json") == b'{"v": 1}'
    leaks.expect(NotFound, lambda: ok.get_bytes(f"secrets-{tag}/none.json"))
    leaks.expect(BucketNotFound, lambda: Boto3Backend("s3", f"no-bucket-{tag}", _options(s3_server)).list_dir(""))

    # 6. Profiles: missing, without credentials, broken, failing, with a wrong secret. In a child,
    # whose environment holds only the profile files (helpers.in_child).
    in_child(_profiles(tmp_path, s3_server, profile_secret), _profiles_leak_nothing, uri, shared_bucket, secrets)

    # 7. Options that would echo a secret.
    leaks.expect(ConfigError, lambda: S3Options(endpoint_url=f"https://user:{url_password}@minio.example.com"))
    leaks.expect(ConfigError, lambda: S3Options(endpoint_url=f"http://user:{url_password}@host:99999"))
    leaks.expect(ConfigError, lambda: S3Options(aws_secret_access_key=wrong_secret))  # id missing

    # Every exception is ours (typed), and no text anywhere holds a secret.
    assert all(isinstance(e, AutoStoreError) for e in leaks.errors)
    assert len(leaks.errors) >= 20  # (and the 9 of step 6 in its child)
    corpus = leaks.corpus()
    assert "retry 1 of 1" in corpus  # the DEBUG capture works (our retry was logged)...
    assert "replacing" in corpus  # ...and so do autostore's other DEBUG messages
    for secret in secrets:
        assert secret not in corpus, f"a secret leaked: {secret[:8]}..."
