"""The boto3 transport (used in forked children) keeps the Backend contract of the obstore
backend: the same bodies run against both, on the real S3 server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from autostore import BackendError, NotFound, S3Options
from autostore.backends.base import Backend
from autostore.backends.boto3_transport import Boto3Backend
from autostore.backends.objectstore import ObjectStoreBackend
from autostore.testing import S3Server
from helpers import boto_client

MIB = 1024 * 1024


@pytest.fixture(params=["obstore", "boto3"])
def backend(request: pytest.FixtureRequest, shared_bucket: str, s3_options: S3Options) -> Iterator[Backend]:
    opts = s3_options.replace(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB, max_concurrency=2)
    if request.param == "obstore":
        b: Backend = ObjectStoreBackend("s3", "s3", shared_bucket, opts)
    else:
        b = Boto3Backend("s3", shared_bucket, opts)
    yield b
    b.close()


@pytest.fixture
def prefix() -> str:
    return f"contract-{uuid.uuid4().hex[:8]}/"


def test_reads_and_writes(backend: Backend, prefix: str, s3_server: S3Server, shared_bucket: str) -> None:
    meta = backend.put_bytes(prefix + "a.bin", b"0123456789")
    assert meta.size == 10 and meta.etag
    head = backend.head(prefix + "a.bin")
    assert (head.key, head.size, head.etag) == (prefix + "a.bin", 10, meta.etag)
    assert head.modified_time is not None
    assert backend.get_bytes(prefix + "a.bin") == b"0123456789"
    assert backend.get_range(prefix + "a.bin", 2, 5) == b"234"
    assert backend.get_range(prefix + "a.bin", 8, 50) == b"89"  # shorter at the end
    assert backend.get_range(prefix + "a.bin", 3, 3) == b""
    raw = boto_client(s3_server).get_object(Bucket=shared_bucket, Key=prefix + "a.bin")["Body"].read()
    assert raw == b"0123456789"
    for missing in (backend.head, backend.get_bytes, backend.delete):
        with pytest.raises(NotFound) as info:
            missing(prefix + "none.bin")
        assert f"s3://{shared_bucket}/{prefix}none.bin" in str(info.value)


def test_download_upload_and_multipart(backend: Backend, prefix: str, tmp_path: Path) -> None:
    big = bytes(range(256)) * (12 * MIB // 256)  # 12 MiB: three 5 MiB parts
    src = tmp_path / "src.bin"
    src.write_bytes(big)
    seen: list[tuple[int, int]] = []
    meta = backend.upload(prefix + "big.bin", src, progress=lambda done, total: seen.append((done, total)))
    assert meta.size == len(big) and seen[-1] == (len(big), len(big))
    assert backend.head(prefix + "big.bin").etag.strip('"').endswith("-3")  # type: ignore[union-attr]
    dest = tmp_path / "dest.bin"
    got = backend.download(prefix + "big.bin", dest)
    assert got is not None and dest.read_bytes() == big
    assert backend.download(prefix + "big.bin", tmp_path / "again.bin", if_none_match=got.etag) is None
    assert not (tmp_path / "again.bin").exists()
    asked: list[Path] = []

    def spill() -> Path:  # asked for only when the object is over the limit
        asked.append(tmp_path / "f.bin")
        return asked[-1]

    assert backend.fetch(prefix + "big.bin", spill, limit=len(big)) == big and asked == []
    assert backend.fetch(prefix + "big.bin", spill, limit=10) is None and asked == [tmp_path / "f.bin"]
    assert (tmp_path / "f.bin").read_bytes() == big
    backend.put_bytes(prefix + "big2.bin", big)  # above the threshold: multipart from memory
    assert backend.get_bytes(prefix + "big2.bin") == big
    reader = backend.open_read(prefix + "big.bin")  # (obstore's reader is no context manager)
    reader.seek(5 * MIB)
    assert reader.read(10) == big[5 * MIB : 5 * MIB + 10]
    reader.close()
    with backend.open_write(prefix + "streamed.bin") as w:
        w.write(b"abc")
        w.write(b"def")
    assert backend.get_bytes(prefix + "streamed.bin") == b"abcdef"


def test_listing_copy_delete(backend: Backend, prefix: str) -> None:
    for key in ("a.json", "a.txt", "ab.json", "sub/x.json", "sub/deeper/y.json"):
        backend.put_bytes(prefix + key, b"{}")
    listed = sorted(m.key for m in backend.list_objects(prefix))
    assert listed == [prefix + k for k in ("a.json", "a.txt", "ab.json", "sub/deeper/y.json", "sub/x.json")]
    files, dirs = backend.list_dir(prefix)
    assert sorted(m.key for m in files) == [prefix + k for k in ("a.json", "a.txt", "ab.json")]
    assert dirs == [prefix + "sub/"]
    assert sorted(backend.list_stem(prefix + "a")) == [prefix + "a.json", prefix + "a.txt"]
    assert backend.is_dir(prefix + "sub") and not backend.is_dir(prefix + "su")
    backend.copy(prefix + "a.json", prefix + "copy.json")
    assert backend.get_bytes(prefix + "copy.json") == b"{}"
    backend.delete(prefix + "copy.json")
    backend.delete_many([prefix + "a.json", prefix + "a.txt"])
    assert sorted(m.key for m in backend.list_objects(prefix + "sub/")) == [
        prefix + "sub/deeper/y.json",
        prefix + "sub/x.json",
    ]
    assert backend.list_stem(prefix + "a") == []


def test_unreachable_endpoint_is_a_backend_error(prefix: str) -> None:
    opts = S3Options(
        endpoint_url="http://127.0.0.1:9",  # discard port: nothing listens
        aws_access_key_id="x",
        aws_secret_access_key="y",
        timeout=1,
        max_retries=0,
    )
    for backend in (ObjectStoreBackend("s3", "s3", "bucket", opts), Boto3Backend("s3", "bucket", opts)):
        with pytest.raises(BackendError) as info:
            backend.get_bytes(prefix + "x")
        assert f"s3://bucket/{prefix}x" in str(info.value) and "max_retries=0" in str(info.value)


def test_writer_dropped_without_close_publishes_nothing(
    backend: Backend, prefix: str, s3_server: S3Server, shared_bucket: str
) -> None:
    import gc

    key = prefix + "abandoned.bin"
    writer = backend.open_write(key)
    writer.write(b"half of a value")
    del writer  # e.g. an exception escaped before close(), outside a with-block
    gc.collect()
    with pytest.raises(NotFound):
        backend.head(key)
    listed = boto_client(s3_server).list_objects_v2(Bucket=shared_bucket, Prefix=prefix)
    assert listed.get("KeyCount", 0) == 0


def test_read_stream_is_one_version(backend: Backend, prefix: str) -> None:
    """read_stream (what cross-backend copies and moves pipe) gives the bytes and the ETag of
    one GET: an overwrite after the stream started changes neither."""
    big = bytes(range(256)) * (12 * MIB // 256)
    first = backend.put_bytes(prefix + "v.bin", big)
    meta, chunks = backend.read_stream(prefix + "v.bin", chunk_size=MIB)
    got = [next(chunks)]
    second = backend.put_bytes(prefix + "v.bin", b"x" * len(big))  # same size, new content
    got.extend(chunks)
    assert b"".join(got) == big
    assert (meta.size, meta.etag.strip('"')) == (len(big), first.etag.strip('"'))  # type: ignore[union-attr]
    assert backend.head(prefix + "v.bin").etag.strip('"') == second.etag.strip('"')  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        backend.read_stream(prefix + "missing.bin")
