"""Issue 13, points 5 and 7: copy and move, wherever they start (``AutoStore.copy/move``,
``AutoPath.copy_to/move_to``, the ``autostore cp/mv/rm`` commands), go through one implementation
(:func:`autostore.transfer.transfer_object`) that

- reads the source fresh, never from a cache entry another writer has made stale (point 5);
- deletes a moved source only if it is still exactly what was copied, else raises
  ``SourceChanged`` and keeps it (point 5);
- keeps every cache sharing the directory honest, the CLI's included (point 7).

Another writer is plain boto3 (or the file system) changing the object at the worst moment: a
fault-proxy plan runs the change when the move's check request arrives, after the copy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import autostore
from autostore import AutoPath, AutoStore, NotFound, S3Options, SourceChanged
from autostore.testing import S3Server
from faultproxy import FaultProxy, Request
from helpers import boto_client

SRC = str(Path(autostore.__file__).resolve().parent.parent)


@pytest.fixture
def boto(s3_server: S3Server) -> Iterator[Any]:
    client = boto_client(s3_server)  # reads no AWS_* variable (the decoys)
    yield client
    client.close()


@pytest.fixture
def prefix() -> str:
    return f"seams-{uuid.uuid4().hex[:8]}/"


def _store(server: S3Server, bucket: str, prefix: str, endpoint: str, cache_dir: Path, **kw: Any) -> AutoStore:
    kwargs: dict[str, Any] = dict(server.options_kwargs(), endpoint_url=endpoint)
    kwargs.update(cache_enabled=True, cache_dir=str(cache_dir), **kw)
    return AutoStore(f"s3://{bucket}/{prefix}", options=S3Options(**kwargs))


def _get(boto: Any, bucket: str, key: str) -> bytes:
    return boto.get_object(Bucket=bucket, Key=key)["Body"].read()  # type: ignore[no-any-return]


def _exists(boto: Any, bucket: str, key: str) -> bool:
    return bool(boto.list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount"))


def _after_first(
    trigger: Callable[[Request], bool], then: Callable[[Request], bool], action: Callable[[], None]
) -> Callable[[Request], str | None]:
    """A plan that runs ``action`` (another writer) just before forwarding the first request
    matching ``then`` that arrives after one matching ``trigger``; it injects no fault."""
    state = {"armed": False, "done": False}

    def plan(req: Request) -> str | None:
        if not state["armed"]:
            state["armed"] = trigger(req)
        elif not state["done"] and then(req):
            state["done"] = True
            action()
        return None

    return plan


def _is(method: str, path_end: str, *, copy: bool | None = None) -> Callable[[Request], bool]:
    def match(req: Request) -> bool:
        if req.method != method or not req.path.split("?")[0].endswith(path_end):
            return False
        return copy is None or ("x-amz-copy-source" in req.headers) == copy

    return match


# -- point 5: the cache never feeds a move; a changed source is never deleted --------------------
def test_cross_backend_move_reads_the_source_fresh_not_the_stale_cache(
    s3_server: S3Server, shared_bucket: str, prefix: str, tmp_path: Path, boto: Any
) -> None:
    store = _store(s3_server, shared_bucket, prefix, s3_server.endpoint_url, tmp_path / "cache")
    store["a.json"] = {"v": 1}
    assert store["a.json"] == {"v": 1}  # cached and confirmed: trusted for 24 h
    boto.put_object(Bucket=shared_bucket, Key=prefix + "a.json", Body=b'{"v": 2}')  # another writer
    assert store["a.json"] == {"v": 1}  # the documented staleness of a read
    backup = tmp_path / "backup"
    assert store.move("a.json", f"file://{backup}/a.json") == f"{backup}/a.json"
    assert json.loads((backup / "a.json").read_text()) == {"v": 2}  # the server's bytes, not the cache's
    assert not _exists(boto, shared_bucket, prefix + "a.json")
    with pytest.raises(NotFound):
        store["a.json"]  # and the entry went with the source
    # copy too
    boto.put_object(Bucket=shared_bucket, Key=prefix + "b.json", Body=b'{"v": 1}')
    assert store["b.json"] == {"v": 1}
    boto.put_object(Bucket=shared_bucket, Key=prefix + "b.json", Body=b'{"v": 2}')
    store.copy("b.json", f"file://{backup}/b.json")
    assert json.loads((backup / "b.json").read_text()) == {"v": 2}
    store.close()


def test_move_to_local_keeps_a_source_changed_after_the_copy(
    s3_server: S3Server, shared_bucket: str, prefix: str, tmp_path: Path, boto: Any, fault_proxy: FaultProxy
) -> None:
    store = _store(s3_server, shared_bucket, prefix, fault_proxy.endpoint_url, tmp_path / "cache")
    store["a.json"] = {"v": 1}
    assert store["a.json"] == {"v": 1}
    fault_proxy.plan = _after_first(
        _is("GET", "/a.json"),
        _is("HEAD", "/a.json"),
        lambda: boto.put_object(Bucket=shared_bucket, Key=prefix + "a.json", Body=b'{"v": 3}'),
    )
    backup = tmp_path / "backup"
    with pytest.raises(SourceChanged) as info:
        store.move("a.json", f"file://{backup}/a.json")
    message = str(info.value)
    assert f"s3://{shared_bucket}/{prefix}a.json" in message and "kept" in message
    assert json.loads((backup / "a.json").read_text()) == {"v": 1}  # the copy is what was read
    assert _get(boto, shared_bucket, prefix + "a.json") == b'{"v": 3}'  # the newer source is kept
    fault_proxy.plan = None
    assert store.read("a.json", ignore_cache=True) == {"v": 3}
    assert isinstance(info.value, OSError)
    store.close()


def test_server_side_move_keeps_a_source_changed_after_the_copy(
    s3_server: S3Server, shared_bucket: str, prefix: str, tmp_path: Path, boto: Any, fault_proxy: FaultProxy
) -> None:
    store = _store(s3_server, shared_bucket, prefix, fault_proxy.endpoint_url, tmp_path / "cache")
    store["a.json"] = {"v": 1}
    fault_proxy.plan = _after_first(
        _is("PUT", "/b.json", copy=True),
        _is("HEAD", "/a.json"),
        lambda: boto.put_object(Bucket=shared_bucket, Key=prefix + "a.json", Body=b'{"v": 3}'),
    )
    with pytest.raises(SourceChanged):
        store.move("a.json", "b.json")
    assert _get(boto, shared_bucket, prefix + "b.json") == b'{"v": 1}'
    assert _get(boto, shared_bucket, prefix + "a.json") == b'{"v": 3}'
    fault_proxy.plan = None
    assert store["a.json"] == {"v": 3} and store["b.json"] == {"v": 1}  # no stale entry on either side
    store.close()


def test_move_of_a_local_file_changed_during_the_upload_keeps_it(
    s3_server: S3Server, shared_bucket: str, prefix: str, tmp_path: Path, boto: Any, fault_proxy: FaultProxy
) -> None:
    source = tmp_path / "local" / "a.json"
    source.parent.mkdir()
    source.write_text('{"v": 1}')
    store = _store(s3_server, shared_bucket, prefix, fault_proxy.endpoint_url, tmp_path / "cache")

    def rewrite_when_uploaded(req: Request) -> None:
        if _is("PUT", "/a.json")(req):  # the client has read the file: change it now
            source.write_text('{"v": 22}')  # in place: same inode, new size and mtime
        return None

    fault_proxy.plan = rewrite_when_uploaded
    with pytest.raises(SourceChanged):
        store.move(f"file://{source}", "a.json")
    assert source.read_text() == '{"v": 22}'
    assert _get(boto, shared_bucket, prefix + "a.json") == b'{"v": 1}'
    store.close()


def test_autopath_move_uses_the_same_checks(
    s3_server: S3Server, shared_bucket: str, prefix: str, tmp_path: Path, boto: Any, fault_proxy: FaultProxy
) -> None:
    store = _store(s3_server, shared_bucket, prefix, fault_proxy.endpoint_url, tmp_path / "cache")
    store["a.json"] = {"v": 1}
    assert store["a.json"] == {"v": 1}
    src = AutoPath("a.json", store=store)
    fault_proxy.plan = _after_first(
        _is("GET", "/a.json"),
        _is("HEAD", "/a.json"),
        lambda: boto.put_object(Bucket=shared_bucket, Key=prefix + "a.json", Body=b'{"v": 3}'),
    )
    with pytest.raises(SourceChanged):
        src.move_to(tmp_path / "out" / "a.json")
    assert (tmp_path / "out" / "a.json").read_text() == '{"v": 1}'
    assert _get(boto, shared_bucket, prefix + "a.json") == b'{"v": 3}'
    fault_proxy.plan = None
    # Unchanged, a move goes through and leaves no entry behind.
    src.move_to(tmp_path / "out" / "a.json")
    assert (tmp_path / "out" / "a.json").read_text() == '{"v": 3}'
    assert not _exists(boto, shared_bucket, prefix + "a.json")
    with pytest.raises(NotFound):
        store["a.json"]
    store.close()


# -- point 7: the CLI goes through the store, so a shared cache follows it ------------------------
def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AUTOSTORE_"))}
    clean.update(env, PYTHONPATH=SRC, AUTOSTORE_CONFIG="")
    return subprocess.run(
        [sys.executable, "-m", "autostore", *args],
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_cli_cp_mv_rm_keep_a_shared_cache_honest(
    s3_server: S3Server, shared_bucket: str, prefix: str, tmp_path: Path, boto: Any
) -> None:
    cache_dir = tmp_path / "cache"
    store = _store(s3_server, shared_bucket, prefix, s3_server.endpoint_url, cache_dir)
    for name in ("x", "y", "z"):
        store[f"{name}.json"] = {"v": name}
        assert store[f"{name}.json"] == {"v": name}  # cached and confirmed: no request for 24 h
    env = dict(s3_server.env(), AUTOSTORE_CACHE_ENABLED="1", AUTOSTORE_CACHE_DIR=str(cache_dir))
    base = f"s3://{shared_bucket}/{prefix}"

    local = tmp_path / "new.json"
    local.write_text('{"v": "from cp"}')
    done = _cli("cp", str(local), base + "x.json", env=env)
    assert done.returncode == 0, done.stderr
    assert store["x.json"] == {"v": "from cp"}

    done = _cli("mv", base + "y.json", base + "x.json", env=env)
    assert done.returncode == 0, done.stderr
    assert store["x.json"] == {"v": "y"}
    with pytest.raises(NotFound):
        store["y.json"]

    done = _cli("rm", base + "z.json", env=env)
    assert done.returncode == 0, done.stderr
    with pytest.raises(NotFound):
        store["z.json"]

    store["w/a.json"] = {"v": "a"}
    assert store["w/a.json"] == {"v": "a"}
    done = _cli("rm", "-r", base + "w/", env=env)
    assert done.returncode == 0, done.stderr
    with pytest.raises(NotFound):
        store["w/a.json"]
    store.close()


def test_cli_mv_keeps_a_changed_source(
    s3_server: S3Server, shared_bucket: str, prefix: str, tmp_path: Path, boto: Any, fault_proxy: FaultProxy
) -> None:
    boto.put_object(Bucket=shared_bucket, Key=prefix + "a.json", Body=b'{"v": 1}')
    fault_proxy.plan = _after_first(
        _is("GET", "/a.json"),
        _is("HEAD", "/a.json"),
        lambda: boto.put_object(Bucket=shared_bucket, Key=prefix + "a.json", Body=b'{"v": 3}'),
    )
    env = dict(s3_server.env(), AWS_ENDPOINT_URL=fault_proxy.endpoint_url)
    done = _cli("mv", f"s3://{shared_bucket}/{prefix}a.json", str(tmp_path / "a.json"), env=env)
    assert done.returncode != 0
    assert "changed" in done.stderr and f"s3://{shared_bucket}/{prefix}a.json" in done.stderr
    assert (tmp_path / "a.json").read_text() == '{"v": 1}'
    assert _get(boto, shared_bucket, prefix + "a.json") == b'{"v": 3}'
