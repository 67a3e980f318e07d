"""A writer killed with SIGKILL in the middle of a write leaves the previous value readable and
nothing partial visible: local files (temp file + rename) and S3 multipart uploads (parts are
invisible until the upload completes). The writers run in subprocesses that the test kills."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

import autostore
from autostore import AutoStore, S3Options
from autostore.backends.local import TEMP_MARKER, remove_stale_temp_files
from autostore.testing import S3Server
from faultproxy import FaultProxy, first
from helpers import SlowBytes, boto_client

MIB = 1024 * 1024

# The child writes a 64 MiB value slowly, in 1 MiB steps: through a format handler that fills a
# file (the path parquet/numpy/torch files take: temp file + rename), or through the streaming
# writer (AtomicWriter, the path of put_bytes). It prints "started" once the write is under way.
LOCAL_WRITER = r"""
import sys, time
from autostore import AutoStore
from helpers import SlowBytes

root, mode = sys.argv[1], sys.argv[2]
store = AutoStore(root)
store.register_handler(SlowBytes(pause=0.05))
new = b"N" * (64 << 20)
if mode == "handler":
    store["big.slow"] = new
else:
    with store.primary_backend.open_write("big.slow") as f:
        for i in range(0, len(new), 1 << 20):
            f.write(new[i : i + (1 << 20)])
            f.flush()
            if i == 2 << 20:
                print("started", flush=True)
            time.sleep(0.05)
print("finished", flush=True)
"""


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    src = str(Path(autostore.__file__).resolve().parents[1])  # the autostore under test
    tests = str(Path(__file__).resolve().parent)  # for `helpers`
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, tests, env.get("PYTHONPATH")) if p)
    return env


def _kill_when(proc: subprocess.Popen[Any], ready: Any, timeout: float = 60) -> None:
    """SIGKILL ``proc`` as soon as ``ready()`` is true (bounded wait)."""
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            assert proc.poll() is None, f"writer ended before it could be killed: {proc.communicate()}"
            assert time.monotonic() < deadline, "writer never reached the kill point"
            time.sleep(0.005)
    finally:
        proc.kill()
        proc.wait(30)


@pytest.mark.parametrize("mode", ["handler", "stream"])
def test_sigkill_mid_local_write_keeps_old_value(tmp_path: Path, mode: str) -> None:
    root = tmp_path / "data"
    store = AutoStore(root)
    store.register_handler(SlowBytes())
    old = b"O" * (3 * MIB)
    store["big.slow"] = old
    store["other"] = {"untouched": True}
    proc = subprocess.Popen(
        [sys.executable, "-c", LOCAL_WRITER, str(root), mode],
        env=_child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "started"

    def temp_is_growing() -> bool:
        return any(p.stat().st_size >= 4 * MIB for p in root.glob(TEMP_MARKER + "*"))

    _kill_when(proc, temp_is_growing)
    assert proc.returncode == -9
    # The old value is intact and nothing partial is listed or readable.
    assert store["big.slow"] == old
    assert store["big"] == old
    assert store.keys() == ["big", "other"]
    assert sorted(p.name for p in root.iterdir() if not p.name.startswith(TEMP_MARKER)) == ["big.slow", "other.json"]
    leftovers = list(root.glob(TEMP_MARKER + "*"))
    assert len(leftovers) == 1 and leftovers[0].stat().st_size >= 4 * MIB  # the killed writer's temp file
    # Stale temp files can be removed; young ones are left (a write may still be running).
    assert remove_stale_temp_files(root, older_than=3600) == []
    assert remove_stale_temp_files(root, older_than=0) == [str(leftovers[0])]
    assert not list(root.glob(TEMP_MARKER + "*"))
    assert store["big.slow"] == old


S3_WRITER = r"""
import os, sys
from autostore import AutoStore, S3Options
opts = S3Options(
    endpoint_url=os.environ["T_ENDPOINT"], aws_access_key_id=os.environ["T_KEY"],
    aws_secret_access_key=os.environ["T_SECRET"], region_name="us-east-1",
    multipart_threshold=5 << 20, multipart_chunksize=5 << 20, max_concurrency=1,
)
store = AutoStore(os.environ["T_URI"], options=opts)
print("started", flush=True)
store["big.txt"] = "N" * (40 << 20)
print("finished", flush=True)
"""


def test_sigkill_mid_s3_multipart_upload_keeps_old_object(
    s3_server: S3Server, shared_bucket: str, fault_proxy: FaultProxy, s3_options: S3Options
) -> None:
    prefix = f"atomic-{uuid.uuid4().hex[:8]}/"
    store = AutoStore(f"s3://{shared_bucket}/{prefix}", options=s3_options)
    old = "O" * (6 * MIB)
    store["big.txt"] = old
    client = boto_client(s3_server)
    env = _child_env()
    env.update(
        T_ENDPOINT=fault_proxy.endpoint_url,
        T_KEY=s3_server.access_key_id,
        T_SECRET=s3_server.secret_access_key,
        T_URI=f"s3://{shared_bucket}/{prefix}",
    )
    fault_proxy.delay_seconds = 0.4  # a slow link: each 5 MiB part takes a while
    fault_proxy.plan = first(100, "delay", lambda req: "partNumber=" in req.path)
    proc = subprocess.Popen([sys.executable, "-c", S3_WRITER], env=env, stdout=subprocess.PIPE, text=True)

    def parts_done() -> bool:
        return sum(1 for entry in fault_proxy.log if "partNumber=" in entry[2]) >= 2

    _kill_when(proc, parts_done)
    assert proc.returncode == -9
    posts = [entry[2] for entry in fault_proxy.log if entry[1] == "POST"]
    assert any("?uploads" in path for path in posts), posts  # it was a multipart upload...
    assert not any("uploadId=" in path for path in posts), posts  # ...that was never completed
    body = client.get_object(Bucket=shared_bucket, Key=prefix + "big.txt")["Body"].read()
    assert hashlib.sha256(body).digest() == hashlib.sha256(old.encode()).digest()
    assert store["big.txt"] == old
    assert store.keys() == ["big"]
    # The parts sit in an unfinished upload, invisible to readers; S3 lifecycle rules (or
    # abort_multipart_upload) clean those up.
    uploads = client.list_multipart_uploads(Bucket=shared_bucket, Prefix=prefix).get("Uploads", [])
    assert [u["Key"] for u in uploads] == [prefix + "big.txt"]
    for u in uploads:
        client.abort_multipart_upload(Bucket=shared_bucket, Key=u["Key"], UploadId=u["UploadId"])


def test_local_writer_dropped_without_close_publishes_nothing(tmp_path: Path) -> None:
    import gc

    from autostore.backends.local import LocalBackend

    backend = LocalBackend(tmp_path)
    backend.put_bytes("k.bin", b"old")
    writer = backend.open_write("k.bin")
    writer.write(b"half of a new value")
    del writer
    gc.collect()
    assert (tmp_path / "k.bin").read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.bin"]  # no temporary file left


def _descriptors_of(st: os.stat_result) -> int:
    """How many of this process's file descriptors refer to the file ``st`` describes."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            now = os.stat(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        count += (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino)
    return count


def _wait_for_free_threads(timeout: float = 10.0) -> None:
    import threading

    deadline = time.monotonic() + timeout
    while any(t.name == "autostore-free" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the replaced file was never released"
        time.sleep(0.01)


def _replace(how: str, store: AutoStore, key: str, data: bytes, s3_server: S3Server) -> None:
    """Replace the local file ``key`` of ``store`` with ``data``: by ``put_bytes``, or by
    ``download_to`` from an object on the S3 server."""
    if how == "put_bytes":
        store.core.target(key)[0].put_bytes(key, data)
        return
    bucket = "replace-" + uuid.uuid4().hex[:6]
    s3_server.create_bucket(bucket)
    remote = AutoStore(f"s3://{bucket}/", options=S3Options(**s3_server.options_kwargs()))  # type: ignore[arg-type]
    path = autostore.AutoPath(f"s3://{bucket}/{key}", store=remote)
    path.write_bytes(data)
    path.download_to(Path(store.uri) / key)


@pytest.mark.parametrize("how", ["put_bytes", "download_to"])
def test_replacing_a_large_file_frees_the_old_one_later_and_keeps_nothing_open(
    tmp_path: Path, s3_server: S3Server, how: str
) -> None:
    from autostore.backends.atomic import FREE_LATER

    big = FREE_LATER + 1
    store = AutoStore(tmp_path / "root")
    target = tmp_path / "root" / "big.bin"
    store.core.target("big.bin")[0].put_bytes("big.bin", b"o" * big)
    old = os.stat(target)
    # A reader holding the old file keeps reading the old bytes (what the rename promises).
    with open(target, "rb") as reader:
        _replace(how, store, "big.bin", b"n" * big, s3_server)
        _wait_for_free_threads()
        assert _descriptors_of(old) == 1  # the reader's: the one held for freeing was closed
        assert reader.read(3) == b"ooo"
    new = os.stat(target)
    assert new.st_ino != old.st_ino and new.st_size == big
    with open(target, "rb") as f:
        assert f.read(3) == b"nnn"
    assert not [n for n in os.listdir(tmp_path / "root") if n.startswith(TEMP_MARKER)]


def _cached_pages(fd: int) -> tuple[int, int]:
    """(cached pages, dirty pages) of the open file ``fd``."""
    from autostore.backends.pagecache import _cachestat

    state = _cachestat(fd)
    assert state is not None, "this test needs the cachestat system call (Linux 6.5+)"
    return state.nr_cache, state.nr_dirty


@pytest.mark.parametrize("how", ["put_bytes", "download_to"])
@pytest.mark.parametrize(
    ("size", "clean", "dropped"), [("large", True, True), ("large", False, False), ("small", True, False)]
)
def test_a_large_clean_replaced_file_gives_its_cached_pages_to_the_new_copy(
    tmp_path: Path, s3_server: S3Server, how: str, size: str, clean: bool, dropped: bool
) -> None:
    from autostore.backends.atomic import RECYCLE_MIN

    n = RECYCLE_MIN + 4096 if size == "large" else RECYCLE_MIN // 4
    store = AutoStore(tmp_path / "root")
    target = tmp_path / "root" / "f.bin"
    target.parent.mkdir()
    target.write_bytes(b"o" * n)
    if clean:
        with open(target, "rb") as f:
            os.fsync(f.fileno())
    with open(target, "rb") as reader:
        cached, dirty = _cached_pages(reader.fileno())
        assert cached == -(-n // 4096) and (dirty == 0) == clean
        _replace(how, store, "f.bin", b"n" * n, s3_server)
        after, dirty_after = _cached_pages(reader.fileno())
        # Dropped only when large and clean: a dirty file would be written back just to be deleted.
        assert (after == 0) == dropped, (cached, after)
        if not clean:
            assert dirty_after == dirty, "no writeback was started for the replaced file"
        assert reader.read(3) == b"ooo"  # a reader of the old file still reads it (from disk)
    assert target.read_bytes() == b"n" * n
