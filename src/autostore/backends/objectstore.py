"""Object-store backend on obstore (Rust object_store): S3 and S3-compatible services, memory,
GCS, Azure and (read-only) HTTP, through one class. A new cloud is a new entry in ``_BUILDERS``.

obstore is imported lazily, on the first request, so ``import autostore`` stays light.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

from ..errors import (
    AlreadyExists,
    AuthError,
    AutoStoreError,
    BackendError,
    BucketNotFound,
    ConfigError,
    MissingDependency,
    NotFound,
)
from ..options import AZURITE_ACCOUNT, AZURITE_KEY, AzureOptions, GCSOptions, Options, S3Options
from .base import Backend, ObjectMeta, ProgressCallback

__all__ = ["ObjectStoreBackend", "register_builder"]

_STREAM_CHUNK = 8 * 1024 * 1024
# Each part of a streamed upload in flight is a chunk in memory; cap their total so uploading a
# file or stream of any size keeps memory bounded (max_concurrency is lowered to fit).
_STREAM_MEMORY = 64 * 1024 * 1024

StoreBuilder = Callable[[str, Options], tuple[Any, str, list[str]]]
"""(bucket, options) -> (obstore store, identity text, secrets to scrub from messages)."""

_BUILDERS: dict[str, StoreBuilder] = {}
_READ_ONLY_KINDS = frozenset({"http"})
_CREDENTIAL_HINTS = {
    "s3": "aws_access_key_id / aws_secret_access_key / profile_name",
    "gs": "service_account_path / service_account_key / GOOGLE_APPLICATION_CREDENTIALS",
    "az": "account_name / account_key / sas_token / connection_string",
}
_MEMORY_STORES: dict[str, Any] = {}
_MEMORY_LOCK = threading.Lock()


def register_builder(kind: str, builder: StoreBuilder) -> None:
    """Teach the object-store backend a new backend kind."""
    _BUILDERS[kind] = builder


def _obstore() -> Any:
    try:
        import obstore
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise MissingDependency('Object stores need obstore: pip install "autostore[s3]".') from exc
    return obstore


def _client_options(opts: Options, *, allow_http: bool) -> dict[str, Any]:
    client: dict[str, Any] = {
        "timeout": timedelta(seconds=opts.timeout),
        "connect_timeout": timedelta(seconds=min(opts.timeout, 10.0)),
    }
    if allow_http:
        client["allow_http"] = True
    return client


def _retry_config(opts: Options) -> dict[str, Any]:
    delay = max(opts.retry_delay, 0.001)
    return {
        "max_retries": opts.max_retries,
        "retry_timeout": timedelta(seconds=max(opts.timeout * (opts.max_retries + 1), 1.0)),
        "backoff": {
            "init_backoff": timedelta(seconds=delay),
            "max_backoff": timedelta(seconds=max(delay * 8, delay)),
            "base": 2.0,
        },
    }


def _s3_builder(bucket: str, opts: Options) -> tuple[Any, str, list[str]]:
    from obstore.store import S3Store

    s3 = opts if isinstance(opts, S3Options) else S3Options(scheme=opts.scheme).inherit(opts)
    assert isinstance(s3, S3Options)
    s3 = s3.resolved()
    kwargs: dict[str, Any] = {}
    secrets: list[str] = []
    endpoint = s3.endpoint_url
    region = s3.region_name
    if s3.aws_access_key_id is not None:
        kwargs["access_key_id"] = s3.aws_access_key_id
        kwargs["secret_access_key"] = s3.aws_secret_access_key
        secrets.append(s3.aws_secret_access_key or "")
        if s3.aws_session_token:
            kwargs["token"] = s3.aws_session_token
            secrets.append(s3.aws_session_token)
    elif s3.profile_name is not None:
        provider, profile_endpoint, profile_region = _profile_credentials(s3.profile_name)
        kwargs["credential_provider"] = provider
        endpoint = endpoint or profile_endpoint
        region = region or profile_region
    if endpoint:
        kwargs["endpoint"] = endpoint
    kwargs["region"] = region or "us-east-1"
    kwargs["client_options"] = _client_options(s3, allow_http=bool(endpoint and endpoint.startswith("http://")))
    kwargs["retry_config"] = _retry_config(s3)
    store = S3Store(bucket, **kwargs)
    identity = f"s3|{endpoint or 'aws'}|{bucket}"
    return store, identity, [s for s in secrets if s]


def _profile_credentials(profile: str) -> tuple[Any, str | None, str | None]:
    """Credentials, endpoint and region of an AWS config profile (boto3 is used only here)."""
    try:
        import boto3
        from obstore.auth.boto3 import Boto3CredentialProvider
    except ImportError as exc:
        raise MissingDependency(
            f'profile_name={profile!r} needs boto3 to read AWS profiles: pip install "autostore[s3]".'
        ) from exc
    try:
        session = boto3.Session(profile_name=profile)
    except Exception as exc:  # botocore.exceptions.ProfileNotFound and friends
        raise AuthError(
            f"AWS profile {profile!r} cannot be loaded ({type(exc).__name__}); check ~/.aws/config "
            "or pass aws_access_key_id/aws_secret_access_key."
        ) from None
    scoped = session._session.get_scoped_config()  # the profile's own settings
    endpoint = scoped.get("endpoint_url") or (scoped.get("s3") or {}).get("endpoint_url")
    return Boto3CredentialProvider(session), endpoint, session.region_name


def _memory_builder(bucket: str, opts: Options) -> tuple[Any, str, list[str]]:
    from obstore.store import MemoryStore

    with _MEMORY_LOCK:
        store = _MEMORY_STORES.get(bucket)
        if store is None:
            store = _MEMORY_STORES[bucket] = MemoryStore()
    return store, f"memory|{os.getpid()}|{bucket}", []


_GCS_DEFAULT_URL = "https://storage.googleapis.com"


def _gcs_builder(bucket: str, opts: Options) -> tuple[Any, str, list[str]]:
    from obstore.store import GCSStore

    g = opts if isinstance(opts, GCSOptions) else GCSOptions(scheme=opts.scheme).inherit(opts)
    assert isinstance(g, GCSOptions)
    g = g.resolved()
    config: dict[str, Any] = {}
    secrets: list[str] = []
    endpoint = g.endpoint_url
    if g.anonymous:
        # An OAuth-less service account: never asks a metadata server for a token (skip_signature
        # still does before writes), so public buckets and emulators need no credentials.
        fake = {"gcs_base_url": endpoint or _GCS_DEFAULT_URL, "disable_oauth": True}
        fake.update(client_email="", private_key="", private_key_id="")
        config["service_account_key"] = json.dumps(fake)
    else:
        if g.service_account_path:
            config["service_account"] = g.service_account_path
        elif g.service_account_key:
            config["service_account_key"] = g.service_account_key
            secrets.append(g.service_account_key)
        elif g.application_credentials:
            config["application_credentials"] = g.application_credentials
        if endpoint:
            config["base_url"] = endpoint.rstrip("/")
    kwargs: dict[str, Any] = {
        "client_options": _client_options(g, allow_http=bool(endpoint and endpoint.startswith("http://"))),
        "retry_config": _retry_config(g),
    }
    kwargs["config"] = config
    store = GCSStore(bucket, **kwargs)
    return store, f"gs|{endpoint or 'gcs'}|{bucket}", secrets


def _azure_builder(bucket: str, opts: Options) -> tuple[Any, str, list[str]]:
    from obstore.store import AzureStore

    a = opts if isinstance(opts, AzureOptions) else AzureOptions(scheme=opts.scheme).inherit(opts)
    assert isinstance(a, AzureOptions)
    a = a.resolved()
    container, _, host = bucket.partition("@")  # abfs://container@account.dfs.core.windows.net/
    account = a.account_name
    if host:
        from_uri = host.split(".", 1)[0]
        if account and account != from_uri:
            raise ConfigError(
                f"The URI names storage account {from_uri!r} but the options say account_name={account!r}; "
                "drop one of them."
            )
        account = from_uri
    endpoint, key = a.endpoint_url, a.account_key
    if a.use_emulator:
        account = account or AZURITE_ACCOUNT
        key = key or (AZURITE_KEY if account == AZURITE_ACCOUNT else None)
        endpoint = endpoint or f"http://127.0.0.1:10000/{account}"
    config: dict[str, Any] = {}
    secrets: list[str] = []
    if account:
        config["account_name"] = account
    if a.anonymous:
        config["skip_signature"] = True
    elif key:
        config["account_key"] = key
        secrets.append(key)
    elif a.sas_token:
        config["sas_key"] = a.sas_token.lstrip("?")
        secrets.append(a.sas_token)
    elif a.client_id and a.client_secret and a.tenant_id:
        config.update(client_id=a.client_id, client_secret=a.client_secret, tenant_id=a.tenant_id)
        secrets.append(a.client_secret)
    elif a.use_azure_cli:
        config["use_azure_cli"] = True
    if endpoint:
        config["endpoint"] = endpoint.rstrip("/")
    kwargs: dict[str, Any] = {
        "client_options": _client_options(a, allow_http=bool(endpoint and endpoint.startswith("http://"))),
        "retry_config": _retry_config(a),
    }
    kwargs["config"] = config
    store = AzureStore(container, **kwargs)
    return store, f"az|{endpoint or account or 'azure'}|{container}", secrets


def _http_builder(bucket: str, opts: Options) -> tuple[Any, str, list[str]]:
    from obstore.store import HTTPStore

    scheme = "https" if opts.scheme == "https" else "http"
    url = f"{scheme}://{bucket}/"
    kwargs: dict[str, Any] = {
        "client_options": _client_options(opts, allow_http=scheme == "http"),
        "retry_config": _retry_config(opts),
    }
    store = HTTPStore(url, **kwargs)
    return store, f"http|{url}", []


register_builder("s3", _s3_builder)
register_builder("memory", _memory_builder)
register_builder("gs", _gcs_builder)
register_builder("az", _azure_builder)
register_builder("http", _http_builder)


class ObjectStoreBackend(Backend):
    """One bucket of an object store, spoken to through obstore."""

    def __init__(self, scheme: str, kind: str, bucket: str, options: Options) -> None:
        if kind not in _BUILDERS:
            raise ConfigError(f"No object-store support for {scheme}:// (backend kind {kind!r}).")
        if options.scheme != scheme:  # builders read the scheme (http vs https) from the options
            options = dataclasses.replace(options, scheme=scheme)
        self.scheme = scheme
        self.kind = kind
        self.bucket = bucket
        self.options = options
        self._store: Any = None
        self._secrets: list[str] = []
        self._lock = threading.Lock()
        self.identity = f"{kind}|{bucket}"
        self._threshold = getattr(options, "multipart_threshold", 64 * 1024 * 1024)
        self._chunk = getattr(options, "multipart_chunksize", 16 * 1024 * 1024)
        self._concurrency = getattr(options, "max_concurrency", 10)

    @property
    def _stream_concurrency(self) -> int:
        return max(1, min(self._concurrency, _STREAM_MEMORY // self._chunk))

    # -- client ---------------------------------------------------------------------------
    @property
    def store(self) -> Any:
        """The obstore store, built on first use (one per backend, shared by threads)."""
        if self._store is None:
            with self._lock:
                if self._store is None:
                    _obstore()
                    try:
                        store, identity, secrets = _BUILDERS[self.kind](self.bucket, self.options)
                    except AutoStoreError:
                        raise
                    except Exception as exc:  # obstore rejects the configuration (bad key file, ...)
                        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                        raise ConfigError(
                            f"Cannot configure {self.scheme}://{self.bucket}/: {first[:300]}; check the options "
                            f"({type(self.options).__name__}) and the environment."
                        ) from None
                    self.identity, self._secrets = identity, secrets
                    self._store = store
        return self._store

    @contextlib.contextmanager
    def _errors(self, key: str, action: str) -> Iterator[None]:
        """Map obstore's exceptions onto ours, naming the URI and never a secret."""
        try:
            yield
        except AutoStoreError:
            raise
        except Exception as exc:
            raise self._translate(exc, key, action) from None

    def _translate(self, exc: Exception, key: str, action: str) -> Exception:
        from obstore import exceptions as oe

        uri = self.uri(key)
        text = self._scrub(str(exc))
        missing = ("NoSuchBucket", "ContainerNotFound")
        if any(code in text for code in missing) or "bucket does not exist" in text.lower():
            what = "Container" if self.kind == "az" else "Bucket"
            return BucketNotFound(
                f"{what} {self.bucket!r} does not exist ({action} {uri}); create it or fix the URI/endpoint."
            )
        if isinstance(exc, (FileNotFoundError, oe.NotFoundError)):
            return NotFound(f"No object at {uri}.")
        if isinstance(exc, (oe.PermissionDeniedError, oe.UnauthenticatedError)) or any(
            code in text for code in ("SignatureDoesNotMatch", "InvalidAccessKeyId", "AccessDenied", "403 Forbidden")
        ):
            hint = _CREDENTIAL_HINTS.get(self.kind, "credentials")
            return AuthError(f"Access denied to {action} {uri}: check the credentials ({hint}) and their permissions.")
        if isinstance(exc, oe.AlreadyExistsError):
            return AlreadyExists(f"{uri} already exists.")
        first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
        if self.kind == "http" and action == "list":
            return BackendError(
                f"Cannot list {uri}: plain HTTP servers have no listing (only WebDAV servers do); "
                f"name the file with its extension. ({first[:200]})"
            )
        return BackendError(
            f"Could not {action} {uri}: {first[:300]} (timeout={self.options.timeout}s, "
            f"max_retries={self.options.max_retries}; check the endpoint and network)."
        )

    def _writable(self, key: str) -> None:
        if self.kind in _READ_ONLY_KINDS:
            raise BackendError(
                f"{self.uri(key)} is read-only: autostore reads {self.scheme}:// URLs but cannot write or "
                "delete them; write to a local path or an object store (s3://, gs://, az://) instead."
            )

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    # -- reads ----------------------------------------------------------------------------
    def head(self, key: str) -> ObjectMeta:
        ob = _obstore()
        with self._errors(key, "read"):
            m = ob.head(self.store, key)
        return _meta(m)

    def get_bytes(self, key: str) -> bytes:
        ob = _obstore()
        with self._errors(key, "read"):
            result = ob.get(self.store, key)
            return bytes(result.bytes())

    def get_with_meta(self, key: str) -> tuple[bytes, ObjectMeta]:
        """The object and its metadata from one request."""
        ob = _obstore()
        with self._errors(key, "read"):
            result = ob.get(self.store, key)
            data = bytes(result.bytes())
            return data, _meta(result.meta)

    def get_range(self, key: str, start: int, end: int) -> bytes:
        ob = _obstore()
        if end <= start:
            return b""
        with self._errors(key, "read"):
            return bytes(ob.get_range(self.store, key, start=start, end=end))

    def download(
        self,
        key: str,
        dest: Path,
        *,
        if_none_match: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> ObjectMeta | None:
        ob = _obstore()
        from obstore.exceptions import NotModifiedError

        options = {"if_none_match": if_none_match} if if_none_match else None
        with self._errors(key, "download"):
            try:
                result = ob.get(self.store, key, options=options)
            except NotModifiedError:
                return None
        return self._stream_to(result, key, dest, progress)

    def fetch(self, key: str, dest: Path, *, limit: int) -> bytes | None:
        ob = _obstore()
        with self._errors(key, "read"):
            result = ob.get(self.store, key)
            size = int(result.meta["size"])
            if size <= limit:
                data = bytes(result.bytes())
                if len(data) != size:
                    raise BackendError(f"Read of {self.uri(key)} was cut short ({len(data)} of {size} bytes); retry.")
                return data
        self._stream_to(result, key, dest, None)
        return None

    def _stream_to(self, result: Any, key: str, dest: Path, progress: ProgressCallback | None) -> ObjectMeta:
        meta = _meta(result.meta)
        done = 0
        # Network errors are mapped; a full local disk stays an OSError about the local file.
        with open(dest, "wb") as f:
            with self._errors(key, "download"):
                stream = iter(result.stream(min_chunk_size=_STREAM_CHUNK))
            while True:
                with self._errors(key, "download"):
                    chunk = next(stream, None)
                if chunk is None:
                    break
                f.write(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, meta.size)
        if done != meta.size:
            raise BackendError(f"Download of {self.uri(key)} was cut short ({done} of {meta.size} bytes); retry.")
        if progress is not None and meta.size == 0:
            progress(0, 0)
        return meta

    # -- writes ---------------------------------------------------------------------------
    def put_bytes(self, key: str, data: bytes | bytearray | memoryview) -> ObjectMeta:
        self._writable(key)
        ob = _obstore()
        size = len(data)
        multipart = size > self._threshold
        with self._errors(key, "write"):
            if multipart:
                result = ob.put(
                    self.store,
                    key,
                    data,
                    use_multipart=True,
                    chunk_size=self._chunk,
                    max_concurrency=self._concurrency,
                )
            else:
                result = ob.put(self.store, key, data, use_multipart=False)
        return ObjectMeta(key=key, size=size, etag=result.get("e_tag"))

    def upload(self, key: str, src: Path, *, progress: ProgressCallback | None = None) -> ObjectMeta:
        self._writable(key)
        ob = _obstore()
        size = os.path.getsize(src)
        with self._errors(key, "upload"):
            if size <= self._threshold:
                with open(src, "rb") as f:
                    result = ob.put(self.store, key, f.read(), use_multipart=False)
            else:
                result = ob.put(
                    self.store,
                    key,
                    _file_chunks(src, self._chunk, size, progress),
                    use_multipart=True,
                    chunk_size=self._chunk,
                    max_concurrency=self._stream_concurrency,
                )
        if progress is not None:
            progress(size, size)
        return ObjectMeta(key=key, size=size, etag=result.get("e_tag"))

    def delete(self, key: str) -> None:
        self._writable(key)
        ob = _obstore()
        self.head(key)  # S3 deletes of missing keys succeed silently; pathlib raises.
        with self._errors(key, "delete"):
            ob.delete(self.store, key)

    def delete_many(self, keys: list[str]) -> None:
        self._writable(keys[0] if keys else "")
        ob = _obstore()
        for start in range(0, len(keys), 1000):
            batch = keys[start : start + 1000]
            with self._errors(batch[0] if batch else "", "delete"):
                ob.delete(self.store, batch)

    def copy(self, src: str, dst: str) -> None:
        self._writable(src)
        ob = _obstore()
        with self._errors(src, "copy"):
            ob.copy(self.store, src, dst)

    # -- listing --------------------------------------------------------------------------
    def list_objects(self, prefix: str = "") -> Iterator[ObjectMeta]:
        ob = _obstore()
        p = prefix.rstrip("/") or None
        with self._errors(prefix, "list"):
            for batch in ob.list(self.store, prefix=p, chunk_size=1000):
                for m in batch:
                    yield _meta(m)

    def list_dir(self, prefix: str = "") -> tuple[list[ObjectMeta], list[str]]:
        ob = _obstore()
        p = prefix.rstrip("/") or None
        with self._errors(prefix, "list"):
            result = ob.list_with_delimiter(self.store, prefix=p)
        files = [_meta(m) for m in result["objects"]]
        dirs = [d.rstrip("/") + "/" for d in result["common_prefixes"]]
        return files, dirs

    def list_stem(self, stem: str) -> list[str]:
        ob = _obstore()
        folder = stem.rpartition("/")[0]
        want = stem + "."
        found: list[str] = []
        with self._errors(stem, "list"):
            stream = ob.list(self.store, prefix=folder or None, offset=want, chunk_size=100)
            for batch in stream:
                for m in batch:
                    path = m["path"]
                    if path < want:  # a server that ignores the list offset (fake-gcs-server)
                        continue
                    if not path.startswith(want):
                        return found
                    if "/" not in path[len(want) :]:
                        found.append(path)
        return found

    def is_dir(self, prefix: str) -> bool:
        if self.kind == "http":  # no listing over plain HTTP: a URL is a file or nothing
            return False
        return super().is_dir(prefix)

    # -- streams --------------------------------------------------------------------------
    def open_read(self, key: str) -> IO[bytes]:
        ob = _obstore()
        with self._errors(key, "open"):
            reader: Any = ob.open_reader(self.store, key, buffer_size=_STREAM_CHUNK)
        return reader  # type: ignore[no-any-return]

    def open_write(self, key: str) -> IO[bytes]:
        self._writable(key)
        ob = _obstore()
        with self._errors(key, "open"):
            writer: Any = ob.open_writer(
                self.store, key, buffer_size=self._chunk, max_concurrency=self._stream_concurrency
            )
        return writer  # type: ignore[no-any-return]

    def storage_options(self, engine: str = "polars") -> dict[str, Any]:
        from .engines import engine_options

        return engine_options(self.options, self.kind, engine)

    # -- folders --------------------------------------------------------------------------
    def remove_dir(self, prefix: str, *, recursive: bool = False) -> None:
        """Remove an empty folder (its ``name/`` marker object, if another tool made one), or
        with ``recursive`` every object below it."""
        name = prefix.rstrip("/")
        if recursive:
            # Reverse order puts children before the markers of their folders.
            keys = sorted((m.key for m in self.list_objects(name + "/")), reverse=True)
            if keys:
                self.delete_many(keys)
        if name:
            self._delete_folder_entry(name)
        left = [m.key for m in self.list_objects(name + "/")]
        markers = left if recursive else [k for k in left if k == name]
        if markers:
            self._delete_markers([k + "/" for k in markers])

    def _delete_folder_entry(self, name: str) -> None:
        # obstore strips the "/" of "name/", so a marker can only be addressed as "name". Filer-based
        # servers (SeaweedFS) then drop the folder entry and its marker; on AWS it deletes a missing
        # key, a no-op. Skipped when a file "name" exists: that would delete the file.
        ob = _obstore()
        try:
            self.head(name)
            return
        except NotFound:
            pass
        with self._errors(name, "delete"):
            ob.delete(self.store, name)

    def _delete_markers(self, keys: list[str]) -> None:
        """Delete keys ending with "/" (folder markers made by consoles and other tools), which
        obstore cannot address; boto3 (part of autostore[s3]) sends the request."""
        if self.kind != "s3":
            raise BackendError(
                f"Cannot delete folder marker(s) {', '.join(self.uri(k) for k in keys[:5])}: only S3 "
                "services support it here; delete them with the service's own tools."
            )
        try:
            import boto3
            from botocore.config import Config
        except ImportError as exc:
            raise MissingDependency(
                f'Deleting folder marker {self.uri(keys[0])} needs boto3: pip install "autostore[s3]".'
            ) from exc
        opts = self.options
        s3 = opts if isinstance(opts, S3Options) else S3Options(scheme=self.scheme).inherit(opts)
        assert isinstance(s3, S3Options)
        s3 = s3.resolved()
        use_profile = s3.aws_access_key_id is None and s3.profile_name is not None
        session = boto3.Session(profile_name=s3.profile_name) if use_profile else boto3.Session()
        client = session.client(
            "s3",
            endpoint_url=s3.endpoint_url,
            aws_access_key_id=s3.aws_access_key_id,
            aws_secret_access_key=s3.aws_secret_access_key,
            aws_session_token=s3.aws_session_token,
            region_name=s3.region_name or "us-east-1",
            config=Config(
                connect_timeout=min(s3.timeout, 10.0),
                read_timeout=s3.timeout,
                retries={"max_attempts": s3.max_retries + 1},
                s3={"addressing_style": "path"} if s3.endpoint_url else {},
            ),
        )
        try:
            with self._errors(keys[0], "delete"):
                for start in range(0, len(keys), 1000):
                    batch = [{"Key": k} for k in keys[start : start + 1000]]
                    result = client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
                    if result.get("Errors"):
                        err = result["Errors"][0]
                        raise BackendError(
                            f"Could not delete {self.uri(err.get('Key', ''))}: {err.get('Code')} {err.get('Message')}."
                        )
        finally:
            client.close()

    def close(self) -> None:
        self._store = None


def _meta(m: Any) -> ObjectMeta:
    return ObjectMeta(key=m["path"], size=int(m["size"]), etag=m.get("e_tag"), modified_time=m.get("last_modified"))


def _file_chunks(path: Path, chunk: int, total: int, progress: ProgressCallback | None) -> Iterator[bytes]:
    done = 0
    with open(path, "rb", buffering=0) as f:
        while True:
            data = f.read(chunk)
            if not data:
                return
            done += len(data)
            if progress is not None:
                progress(done, total)
            yield data
