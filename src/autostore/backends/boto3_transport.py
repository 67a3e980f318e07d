"""S3 through boto3, for processes where obstore must not run (a child forked after the parent
used obstore; see :mod:`autostore.backends.forksafe`).

It implements the same :class:`Backend` methods as the obstore backend, with the same keys, URIs,
error types and messages, so a store used in a parent keeps working unchanged in a
``multiprocessing`` "fork" child or a torch DataLoader worker. boto3 is imported only here.

Timeouts and retries follow the same options: ``timeout`` is botocore's read timeout (a request
fails when no byte arrives for that long) and caps the connect timeout at 10 s; ``max_retries``
is botocore's standard retry mode with ``max_retries + 1`` attempts (botocore's own jittered
backoff; ``retry_delay`` is not configurable there).
"""

from __future__ import annotations

import contextlib
import io
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from time import perf_counter
from typing import IO, Any

from ..errors import AlreadyExists, AutoStoreError, BackendError, MissingDependency
from ..metrics import GET, RANGE
from ..options import Options, S3Options
from . import ranged
from .aws_session import redact_in_botocore_logs
from .base import Backend, ObjectMeta, ProgressCallback, stream_into
from .boto3_io import SpoolWriter, list_meta, object_meta, request_kind
from .errormap import describe, map_error
from .s3conn import resolve_s3

__all__ = ["Boto3Backend"]

_CHUNK = 1024 * 1024
_READ_BUFFER = 8 * 1024 * 1024


def _boto3() -> Any:
    try:
        import boto3
    except ImportError as exc:
        raise MissingDependency(
            "This process was forked after obstore was used, so S3 goes through boto3, which is not installed: "
            'pip install "autostore[s3]" (or start workers with the "spawn" method).'
        ) from exc
    return boto3


class Boto3Backend(Backend):
    """One S3 bucket spoken to through a boto3 client created in this process."""

    def __init__(self, scheme: str, bucket: str, options: Options) -> None:
        self.scheme = scheme
        self.bucket = bucket
        s3 = options if isinstance(options, S3Options) else S3Options(scheme=options.scheme).inherit(options)
        assert isinstance(s3, S3Options)
        self.options = s3
        self._threshold = s3.multipart_threshold
        self._chunk = s3.multipart_chunksize
        self._concurrency = s3.max_concurrency
        self._secrets = [s for s in (s3.aws_secret_access_key, s3.aws_session_token) if s]
        self._client: Any = None
        self._lock = threading.Lock()
        self._endpoint = s3.resolved().endpoint_url
        self.identity = f"s3|{self._endpoint or 'aws'}|{bucket}"

    # -- client ---------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._make_client()
        return self._client

    def settled_identity(self) -> str:
        # Only a profile can add an endpoint the options do not name; reading it builds the client.
        if self.options.resolved().aws_access_key_id is None and self.options.resolved().profile_name is not None:
            self.client  # noqa: B018
        return self.identity

    def _make_client(self) -> Any:
        _boto3()
        # Endpoint, region, credentials, retries and timeouts: the connection the obstore client
        # uses too, through a session that reads no AWS_* variable (see s3conn, aws_session).
        conn = resolve_s3(self.options)
        session = conn.boto3_session()
        self._secrets = conn.secrets
        self._endpoint = conn.endpoint
        self.identity = f"s3|{conn.endpoint or 'aws'}|{self.bucket}"
        frozen = session.get_credentials()
        if frozen is not None:  # a profile's secrets too, not only explicit ones
            with contextlib.suppress(Exception):
                creds = frozen.get_frozen_credentials()
                self._secrets = list({*self._secrets, *(s for s in (creds.secret_key, creds.token) if s)})
        redact_in_botocore_logs(self._secrets)
        client = conn.boto3_client(session, max_pool_connections=max(10, self._concurrency))
        client.meta.events.register("before-send.s3", self._sending)
        client.meta.events.register("response-received.s3", self._received)
        return client

    # -- counting (store.stats()) --------------------------------------------------------------
    def _sending(self, request: Any, **_: Any) -> None:
        """botocore is about to send ``request`` (each attempt, retries included)."""
        context = request.context
        if context.get("retries", {}).get("attempt", 1) > 1:
            self.stats.retried()
        context["autostore_kind"] = request_kind(request.method, request.url, request.headers)
        context["autostore_up"] = int(request.headers.get("Content-Length") or 0) if request.method == "PUT" else 0
        context["autostore_start"] = perf_counter()

    def _received(self, context: Any, response_dict: Any = None, exception: Any = None, **_: Any) -> None:
        """One attempt ended: an answer (``response_dict``) or a transport ``exception``."""
        kind = context.get("autostore_kind")
        if kind is None:
            return
        seconds = perf_counter() - context.get("autostore_start", perf_counter())
        status = int(response_dict["status_code"]) if response_dict is not None else None
        if exception is not None or status is None or (status >= 400 and status not in (404, 412)):
            self.stats.failure(kind, seconds, retried=False)
            return
        down = 0
        if kind in (GET, RANGE) and status in (200, 206):
            down = int(response_dict["headers"].get("content-length") or 0)
        self.stats.request(kind, seconds, down, context.get("autostore_up", 0))

    def _transfer_config(self) -> Any:
        from boto3.s3.transfer import TransferConfig

        return TransferConfig(
            multipart_threshold=self._threshold,
            multipart_chunksize=self._chunk,
            max_concurrency=self._concurrency,
        )

    # -- errors -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def _errors(self, key: str, action: str) -> Iterator[None]:
        """Map boto3's exceptions onto ours (see :mod:`autostore.backends.errormap`)."""
        try:
            yield
        except AutoStoreError:
            raise
        except Exception as exc:
            raise self._translate(exc, key, action) from None

    def _translate(self, exc: Exception, key: str, action: str) -> Exception:
        return map_error(
            exc,
            uri=self.uri(key),
            bucket=self.bucket,
            kind="s3",
            action=action,
            options=self.options,
            secrets=self._secrets,
            client="boto3",
        )

    # -- reads ----------------------------------------------------------------------------
    def head(self, key: str) -> ObjectMeta:
        with self._errors(key, "read"):
            r = self.client.head_object(Bucket=self.bucket, Key=key)
        return object_meta(key, r)

    def get_bytes(self, key: str) -> bytes:
        return self.get_with_meta(key)[0]

    def get_with_meta(self, key: str) -> tuple[bytes, ObjectMeta]:
        """The object and its metadata from one request."""
        with self._errors(key, "read"):
            r = self.client.get_object(Bucket=self.bucket, Key=key)
            data = r["Body"].read()
        meta = object_meta(key, r)
        if len(data) != meta.size:
            raise BackendError(f"Read of {self.uri(key)} was cut short ({len(data)} of {meta.size} bytes); retry.")
        return data, meta

    def get_range(self, key: str, start: int, end: int) -> bytes:
        if end <= start:
            return b""
        with self._errors(key, "read"):
            r = self.client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes={start}-{end - 1}")
            return r["Body"].read()  # type: ignore[no-any-return]

    def download(
        self,
        key: str,
        dest: Path,
        *,
        if_none_match: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> ObjectMeta | None:
        extra = {"IfNoneMatch": if_none_match} if if_none_match else {}
        with self._errors(key, "download"):
            try:
                r = self.client.get_object(Bucket=self.bucket, Key=key, **extra)
            except Exception as exc:
                if describe(exc, "boto3").status == 304:
                    return None
                raise
        return self._stream_to(r, key, dest, progress)

    def fetch(self, key: str, dest: Callable[[], Path], *, limit: int) -> bytes | None:
        with self._errors(key, "read"):
            r = self.client.get_object(Bucket=self.bucket, Key=key)
            size = int(r["ContentLength"])
            if size <= limit:
                data: bytes = r["Body"].read()
                if len(data) != size:
                    raise BackendError(f"Read of {self.uri(key)} was cut short ({len(data)} of {size} bytes); retry.")
                return data
        self._stream_to(r, key, dest(), None)
        return None

    def _stream_to(self, r: dict[str, Any], key: str, dest: Path, progress: ProgressCallback | None) -> ObjectMeta:
        meta = object_meta(key, r)
        chunks = iter(r["Body"].iter_chunks(chunk_size=_CHUNK))
        stream_into(dest, chunks, meta.size, self.uri(key), lambda: self._errors(key, "download"), progress)
        return meta

    # -- writes ---------------------------------------------------------------------------
    def put_bytes(self, key: str, data: bytes | bytearray | memoryview) -> ObjectMeta:
        size = len(data)
        with self._errors(key, "write"):
            if size <= self._threshold:
                r = self.client.put_object(Bucket=self.bucket, Key=key, Body=bytes(data))
                return ObjectMeta(key=key, size=size, etag=r.get("ETag"))
            self.client.upload_fileobj(io.BytesIO(data), self.bucket, key, Config=self._transfer_config())
        return self.head(key)

    def create_bytes(self, key: str, data: bytes | bytearray | memoryview) -> ObjectMeta:
        with self._errors(key, "create"):
            try:
                r = self.client.put_object(Bucket=self.bucket, Key=key, Body=bytes(data), IfNoneMatch="*")
            except Exception as exc:
                if describe(exc, "boto3").kind == "precondition":  # If-None-Match: * found an object
                    raise AlreadyExists(f"{self.uri(key)} already exists.") from None
                raise
        return ObjectMeta(key=key, size=len(data), etag=r.get("ETag"))

    def upload(self, key: str, src: Path, *, progress: ProgressCallback | None = None) -> ObjectMeta:
        size = os.path.getsize(src)
        with self._errors(key, "upload"):
            if size <= self._threshold:
                with open(src, "rb") as f:
                    r = self.client.put_object(Bucket=self.bucket, Key=key, Body=f.read())
                meta = ObjectMeta(key=key, size=size, etag=r.get("ETag"))
            else:
                done = [0]

                def callback(n: int) -> None:
                    done[0] += n
                    if progress is not None:
                        progress(done[0], size)

                self.client.upload_file(
                    os.fspath(src), self.bucket, key, Config=self._transfer_config(), Callback=callback
                )
                meta = self.head(key)
        if progress is not None:
            progress(size, size)
        return meta

    def delete(self, key: str) -> None:
        self.head(key)  # S3 deletes of missing keys succeed silently; pathlib raises.
        with self._errors(key, "delete"):
            self.client.delete_object(Bucket=self.bucket, Key=key)

    def delete_many(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):
            batch = keys[start : start + 1000]
            with self._errors(batch[0] if batch else "", "delete"):
                r = self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True}
                )
            errors = r.get("Errors") or []
            if errors:
                first = errors[0]
                raise BackendError(
                    f"Could not delete {len(errors)} object(s), e.g. {self.uri(first.get('Key', ''))}: "
                    f"{first.get('Code')}; check permissions and retry."
                )

    def copy(self, src: str, dst: str) -> None:
        with self._errors(src, "copy"):
            self.client.copy({"Bucket": self.bucket, "Key": src}, self.bucket, dst, Config=self._transfer_config())

    # -- listing --------------------------------------------------------------------------
    def list_objects(self, prefix: str = "") -> Iterator[ObjectMeta]:
        p = prefix.rstrip("/")
        kwargs = {"Prefix": p + "/"} if p else {}
        with self._errors(prefix, "list"):
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, **kwargs):
                for obj in page.get("Contents", []):
                    yield list_meta(obj)

    def list_dir(self, prefix: str = "") -> tuple[list[ObjectMeta], list[str]]:
        p = prefix.rstrip("/")
        kwargs = {"Prefix": p + "/"} if p else {}
        files: list[ObjectMeta] = []
        dirs: list[str] = []
        with self._errors(prefix, "list"):
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Delimiter="/", **kwargs)
            for page in pages:
                files.extend(list_meta(obj) for obj in page.get("Contents", []))
                dirs.extend(d["Prefix"].rstrip("/") + "/" for d in page.get("CommonPrefixes", []))
        return files, dirs

    def list_stem(self, stem: str) -> list[str]:
        found: list[str] = []
        with self._errors(stem, "list"):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=stem + ".", Delimiter="/"
            )
            for page in pages:
                found.extend(obj["Key"] for obj in page.get("Contents", []))
        return sorted(found)

    # -- streams --------------------------------------------------------------------------
    def _pinned_fetch(self, key: str, etag: str | None) -> Callable[[int, int], bytes]:
        """Fetch bytes [start, end) of ``key`` pinned to ``etag``, so a concurrent overwrite fails
        the read (HTTP 412) instead of mixing two versions."""
        extra = {"IfMatch": etag} if etag else {}

        def fetch(start: int, end: int) -> bytes:
            with self._errors(key, "read"):
                r = self.client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes={start}-{end - 1}", **extra)
                return r["Body"].read()  # type: ignore[no-any-return]

        return fetch

    def open_read(self, key: str) -> IO[bytes]:
        meta = self.head(key)
        reader: Any = ranged.RangeReader(self._pinned_fetch(key, meta.etag), meta.size, self.uri(key), _READ_BUFFER)
        return reader  # type: ignore[no-any-return]

    def read_stream(self, key: str, chunk_size: int = _READ_BUFFER) -> tuple[ObjectMeta, Iterator[bytes]]:
        with self._errors(key, "read"):
            r = self.client.get_object(Bucket=self.bucket, Key=key)
        meta = object_meta(key, r)
        body = r["Body"]

        def chunks() -> Iterator[bytes]:
            done = 0
            try:
                while True:
                    with self._errors(key, "read"):
                        chunk = body.read(chunk_size)
                    if not chunk:
                        break
                    done += len(chunk)
                    yield chunk
            finally:
                body.close()
            if done != meta.size:
                raise BackendError(f"Read of {self.uri(key)} was cut short ({done} of {meta.size} bytes); retry.")

        return meta, chunks()

    def open_write(self, key: str) -> IO[bytes]:
        return SpoolWriter(lambda path: self.upload(key, path))  # type: ignore[return-value]

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()
