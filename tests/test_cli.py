"""The ``autostore`` console script, run as a real subprocess against the S3 fixture (and Azurite,
fake-gcs-server and a local HTTP server for the other schemes). Assertions read the server with
boto3 or the disk with os, not the CLI's own output alone."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import select
import subprocess
import sys
import sysconfig
import time
import uuid
from pathlib import Path

import polars as pl
import pytest

import autostore
from autostore import AutoStore, S3Options
from autostore.testing import S3Server
from helpers import base_env
from servers import Azurite, FakeGCS, HTTPServer

SRC = str(Path(autostore.__file__).resolve().parent.parent)
_SCRIPT = Path(sysconfig.get_path("scripts"), "autostore")
# The real console script; PYTHONPATH makes it import the package under test.
COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "autostore"]
def run(
    *args: str, env: dict[str, str], cwd: Path | None = None, check: int | None = 0
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [*COMMAND, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )
    if check is not None:
        assert proc.returncode == check, f"exit {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
    return proc


@pytest.fixture
def env(s3_server: S3Server) -> dict[str, str]:
    return base_env(**s3_server.env())


@pytest.fixture
def bucket(s3_bucket: str) -> str:
    return s3_bucket


@pytest.fixture
def s3(s3_server: S3Server, bucket: str) -> AutoStore:
    return AutoStore(f"s3://{bucket}/", options=S3Options(**s3_server.options_kwargs()))  # type: ignore[arg-type]


@pytest.fixture
def boto(s3_server: S3Server):  # type: ignore[no-untyped-def]
    client = s3_server.client()
    yield client
    client.close()


def keys(boto, bucket: str, prefix: str = "") -> list[str]:  # type: ignore[no-untyped-def]
    pages = boto.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


# -- help and version ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "command",
    [
        [],
        ["ls"],
        ["cat"],
        ["cp"],
        ["mv"],
        ["rm"],
        ["info"],
        ["cache"],
        ["cache", "info"],
        ["cache", "clear"],
        ["cache", "cleanup"],
    ],
    ids=lambda c: " ".join(c) or "main",
)
def test_help_of_every_command(command: list[str]) -> None:
    proc = run(*command, "--help", env=base_env())
    assert f"Usage: autostore {' '.join(command)}".strip() in " ".join(proc.stdout.split())
    assert "--help" in proc.stdout


def test_version_and_python_m() -> None:
    assert run("--version", env=base_env()).stdout.strip() == f"autostore {autostore.__version__}"
    proc = subprocess.run(
        [sys.executable, "-m", "autostore", "--version"], env=base_env(), capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0 and proc.stdout.strip() == f"autostore {autostore.__version__}"


def test_no_arguments_shows_usage() -> None:
    proc = run(env=base_env(), check=None)
    assert proc.returncode in (0, 2)
    assert "Usage: autostore" in proc.stdout + proc.stderr


# -- ls ------------------------------------------------------------------------------------------
def test_ls_plain_long_recursive_json(env: dict[str, str], s3: AutoStore, bucket: str, boto) -> None:  # type: ignore[no-untyped-def]
    s3["data/a"] = {"x": 1}
    s3["data/b"] = "text"
    s3["data/sub/c"] = [1, 2, 3]
    assert run("ls", f"s3://{bucket}/data/", env=env).stdout.splitlines() == ["a.json", "b.txt", "sub/"]
    # without the trailing slash a folder lists the same
    assert run("ls", f"s3://{bucket}/data", env=env).stdout.splitlines() == ["a.json", "b.txt", "sub/"]
    assert run("ls", "-r", f"s3://{bucket}/data", env=env).stdout.splitlines() == ["a.json", "b.txt", "sub/c.json"]

    long = run("ls", "-l", f"s3://{bucket}/data/", env=env).stdout.splitlines()
    head = boto.head_object(Bucket=bucket, Key="data/a.json")
    assert re.fullmatch(rf"\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d\s+{head['ContentLength']}\s+a\.json", long[0])
    assert long[2].split() == ["DIR", "sub/"]

    rows = json.loads(run("--json", "ls", "-r", f"s3://{bucket}/data/", env=env).stdout)
    assert [r["name"] for r in rows] == ["a.json", "b.txt", "sub/c.json"]
    assert rows[0]["size"] == head["ContentLength"] and rows[0]["etag"] == head["ETag"]
    assert rows[2]["uri"] == f"s3://{bucket}/data/sub/c.json"
    # --json also works after the command name; a single file lists itself
    one = json.loads(run("ls", "--json", f"s3://{bucket}/data/a.json", env=env).stdout)
    assert [(r["name"], r["type"]) for r in one] == [("a.json", "file")]


def test_ls_local_folder_and_missing(tmp_path: Path) -> None:
    (tmp_path / "d" / "e").mkdir(parents=True)
    (tmp_path / "d" / "x.csv").write_text("a\n1\n")
    assert run("ls", str(tmp_path / "d"), env=base_env()).stdout.splitlines() == ["e/", "x.csv"]
    proc = run("ls", str(tmp_path / "nope"), env=base_env(), check=3)
    assert proc.stderr.startswith("autostore: error:") and "nope" in proc.stderr


# -- cat -----------------------------------------------------------------------------------------
def test_cat_previews_by_format(env: dict[str, str], s3: AutoStore, bucket: str) -> None:
    s3["t/frame"] = pl.DataFrame({"city": ["Oslo", "Lima"], "temp": [3.5, 19.0]})
    s3["t/table.csv"] = pl.DataFrame({"n": list(range(30))})
    s3["t/config"] = {"model": "resnet", "layers": [1, 2]}
    s3["t/notes"] = "line one\nline two\n"
    s3["t/events"] = [{"e": i} for i in range(15)]

    out = run("cat", f"s3://{bucket}/t/frame", env=env).stdout
    assert "Oslo" in out and "19.0" in out and "2 rows" in out
    assert "schema: city: String, temp: Float64" in out

    out = run("cat", "-n", "3", f"s3://{bucket}/t/table.csv", env=env).stdout
    cells = re.findall(r"^\s*(\d+)\s*$", out, re.M)
    assert cells == ["0", "1", "2"] and "30 rows" in out

    assert json.loads(run("cat", f"s3://{bucket}/t/config.json", env=env).stdout) == {
        "model": "resnet",
        "layers": [1, 2],
    }
    assert run("cat", f"s3://{bucket}/t/notes", env=env).stdout == "line one\nline two\n"
    out = run("cat", "-n", "2", f"s3://{bucket}/t/events", env=env).stdout
    assert json.loads(out.split("...")[0]) == [{"e": 0}, {"e": 1}] and "13 more" in out

    frame = json.loads(run("cat", "--json", "-n", "1", f"s3://{bucket}/t/frame", env=env).stdout)
    assert frame["schema"] == {"city": "String", "temp": "Float64"}
    assert frame["rows"] == 2 and frame["head"] == [{"city": "Oslo", "temp": 3.5}]
    raw = run("cat", "--raw", f"s3://{bucket}/t/config.json", env=env).stdout
    assert json.loads(raw) == {"model": "resnet", "layers": [1, 2]}


def test_cat_image_and_unknown_binary(env: dict[str, str], bucket: str, boto) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 32), "red").save(buf, format="PNG")
    boto.put_object(Bucket=bucket, Key="img/red.png", Body=buf.getvalue())
    boto.put_object(Bucket=bucket, Key="img/blob.bin", Body=bytes(range(256)))
    out = run("cat", f"s3://{bucket}/img/red.png", env=env).stdout
    assert out == f"s3://{bucket}/img/red.png: png image, 64x32, mode RGB\n"
    shown = json.loads(run("cat", "--json", f"s3://{bucket}/img/red.png", env=env).stdout)
    assert (shown["width"], shown["height"], shown["mode"]) == (64, 32, "RGB")
    out = run("cat", f"s3://{bucket}/img/blob.bin", env=env).stdout
    assert "binary data, 256 bytes" in out


# -- info ----------------------------------------------------------------------------------------
def test_info_file_and_folder(env: dict[str, str], s3: AutoStore, bucket: str, boto) -> None:  # type: ignore[no-untyped-def]
    s3["i/frame"] = pl.DataFrame({"a": [1, 2, 3]})
    s3["i/more"] = {"k": 1}
    head = boto.head_object(Bucket=bucket, Key="i/frame.parquet")
    info = json.loads(run("info", "--json", f"s3://{bucket}/i/frame", env=env).stdout)
    assert info["uri"] == f"s3://{bucket}/i/frame.parquet"
    assert info["size"] == head["ContentLength"] and info["etag"] == head["ETag"]
    assert info["format"] == "parquet" and info["type"] == "file"
    assert info["modified"].startswith(head["LastModified"].strftime("%Y-%m-%dT%H:%M"))
    text = run("info", f"s3://{bucket}/i/frame.parquet", env=env).stdout
    assert re.search(rf"^size\s+{head['ContentLength']}$", text, re.M) and re.search(r"^format\s+parquet$", text, re.M)
    folder = json.loads(run("--json", "info", f"s3://{bucket}/i/", env=env).stdout)
    total = sum(boto.head_object(Bucket=bucket, Key=k)["ContentLength"] for k in keys(boto, bucket, "i/"))
    assert folder["type"] == "dir" and folder["files"] == 2 and folder["size"] == total


# -- cp / mv / rm --------------------------------------------------------------------------------
def test_cp_local_s3_roundtrip_and_server_side(  # type: ignore[no-untyped-def]
    env: dict[str, str], bucket: str, boto, tmp_path: Path, s3_server: S3Server
) -> None:
    payload = os.urandom(300_000)
    (tmp_path / "blob.bin").write_bytes(payload)
    out = run("cp", str(tmp_path / "blob.bin"), f"s3://{bucket}/in/", env=env).stdout
    assert f"s3://{bucket}/in/blob.bin" in out
    assert boto.get_object(Bucket=bucket, Key="in/blob.bin")["Body"].read() == payload

    run("cp", f"s3://{bucket}/in/blob.bin", f"s3://{bucket}/copy/b.bin", env=env)  # same bucket: server-side
    assert boto.get_object(Bucket=bucket, Key="copy/b.bin")["Body"].read() == payload

    other = "cli-" + uuid.uuid4().hex[:10]
    s3_server.create_bucket(other)
    run("cp", f"s3://{bucket}/copy/b.bin", f"s3://{other}/x/b.bin", env=env)  # across buckets
    assert boto.get_object(Bucket=other, Key="x/b.bin")["Body"].read() == payload

    run("cp", f"s3://{other}/x/b.bin", str(tmp_path / "back" / "b.bin"), env=env)
    assert (tmp_path / "back" / "b.bin").read_bytes() == payload
    assert sorted(p.name for p in (tmp_path / "back").iterdir()) == ["b.bin"]  # no temporary left over

    # an extensionless source keeps its extension
    boto.put_object(Bucket=bucket, Key="cfg/settings.json", Body=b'{"a": 1}')
    run("cp", f"s3://{bucket}/cfg/settings", f"s3://{bucket}/cfg/backup", env=env)
    assert keys(boto, bucket, "cfg/") == ["cfg/backup.json", "cfg/settings.json"]


def test_cp_recursive_both_ways(env: dict[str, str], bucket: str, boto, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "tree"
    for rel in ("a.txt", "sub/b.json", "sub/deep/c.csv"):
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(rel)
    out = json.loads(run("cp", "-r", "--json", str(src), f"s3://{bucket}/up", env=env).stdout)
    assert sorted(d["dst"] for d in out) == [f"s3://{bucket}/up/{r}" for r in ("a.txt", "sub/b.json", "sub/deep/c.csv")]
    assert keys(boto, bucket, "up/") == ["up/a.txt", "up/sub/b.json", "up/sub/deep/c.csv"]
    assert boto.get_object(Bucket=bucket, Key="up/sub/deep/c.csv")["Body"].read() == b"sub/deep/c.csv"

    run("cp", "-r", f"s3://{bucket}/up/sub/", str(tmp_path / "down"), env=env)
    got = sorted(p.relative_to(tmp_path / "down").as_posix() for p in (tmp_path / "down").rglob("*") if p.is_file())
    assert got == ["b.json", "deep/c.csv"]
    assert (tmp_path / "down" / "deep" / "c.csv").read_text() == "sub/deep/c.csv"

    proc = run("cp", f"s3://{bucket}/up/", str(tmp_path / "x"), env=env, check=3)
    assert "folder" in proc.stderr and "-r" in proc.stderr


def test_mv_and_rm(env: dict[str, str], bucket: str, boto, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for k in ("m/a.txt", "m/b/c.txt", "m/b/d.txt"):
        boto.put_object(Bucket=bucket, Key=k, Body=k.encode())
    run("mv", f"s3://{bucket}/m/a.txt", f"s3://{bucket}/moved/a.txt", env=env)
    assert keys(boto, bucket) == ["m/b/c.txt", "m/b/d.txt", "moved/a.txt"]
    run("mv", "-r", f"s3://{bucket}/m/b/", str(tmp_path / "local"), env=env)
    assert keys(boto, bucket) == ["moved/a.txt"]
    assert (tmp_path / "local" / "d.txt").read_bytes() == b"m/b/d.txt"
    run("mv", str(tmp_path / "local" / "c.txt"), str(tmp_path / "c2.txt"), env=env)
    assert (tmp_path / "c2.txt").read_bytes() == b"m/b/c.txt" and not (tmp_path / "local" / "c.txt").exists()

    proc = run("rm", f"s3://{bucket}/moved/", env=env, check=3)
    assert "folder" in proc.stderr
    assert run("rm", f"s3://{bucket}/moved/a.txt", env=env).stdout == f"removed: s3://{bucket}/moved/a.txt\n"
    assert keys(boto, bucket) == []
    run("rm", f"s3://{bucket}/moved/a.txt", env=env, check=3)

    run("rm", "-r", str(tmp_path / "local"), env=env)
    assert not (tmp_path / "local").exists()
    for k in ("r/1.txt", "r/2/3.txt"):
        boto.put_object(Bucket=bucket, Key=k, Body=b"x")
    removed = json.loads(run("rm", "-r", "--json", f"s3://{bucket}/r", env=env).stdout)
    assert sorted(removed) == [f"s3://{bucket}/r/1.txt", f"s3://{bucket}/r/2/3.txt"]
    assert keys(boto, bucket) == []


# -- errors and exit codes -----------------------------------------------------------------------
def test_errors_are_one_line_with_distinct_exit_codes(  # type: ignore[no-untyped-def]
    env: dict[str, str], s3_server: S3Server, bucket: str, boto
) -> None:
    boto.put_object(Bucket=bucket, Key="e/a.json", Body=b"{}")
    boto.put_object(Bucket=bucket, Key="e/a.parquet", Body=b"not parquet")
    cases = [
        (["cat", f"s3://{bucket}/e/missing.json"], 3, "missing.json"),
        (["cat", f"s3://{bucket}/e/a"], 4, "ambiguous"),
        (["cat", f"s3://{bucket}/e/a.parquet"], 11, "a.parquet"),
        (["ls", "s3://no-such-bucket-here/"], 7, "no-such-bucket-here"),
        (["ls", "nosuchscheme://b/x"], 10, "nosuchscheme"),
        (["cat", f"s3://{bucket}/a//b.json"], 9, "a//b.json"),
    ]
    for args, code, fragment in cases:
        proc = run(*args, env=env, check=code)
        assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("autostore: error:"), proc.stderr
        assert fragment in proc.stderr.lower() or fragment in proc.stderr
        assert "Traceback" not in proc.stderr

    bad = dict(env, AWS_SECRET_ACCESS_KEY="wrong-secret-value")
    proc = run("ls", f"s3://{bucket}/", env=bad, check=6)
    assert "wrong-secret-value" not in proc.stderr and "credentials" in proc.stderr

    proc = run("--debug", "cat", f"s3://{bucket}/e/missing.json", env=env, check=3)
    assert "Traceback" in proc.stderr and "NotFound" in proc.stderr

    proc = run("cp", "--bogus", "a", "b", env=env, check=2)  # usage errors: click's code 2
    assert "bogus" in proc.stderr


# -- progress bar --------------------------------------------------------------------------------
def run_in_terminal(args: list[str], env: dict[str, str], timeout: float = 120) -> tuple[int, str]:
    """Run the CLI with stdout/stderr on a pseudo-terminal, as a user's shell would."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([*COMMAND, *args], env=env, stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    return code, b"".join(chunks).decode("utf-8", "replace")


def test_progress_bar_in_a_terminal_only(env: dict[str, str], bucket: str, boto, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(6 * 1024 * 1024))
    term_env = {k: v for k, v in env.items() if k != "NO_COLOR"}
    term_env["TERM"] = "xterm"
    code, screen = run_in_terminal(["cp", str(big), f"s3://{bucket}/big.bin"], term_env)
    assert code == 0, screen
    assert "6.0/6.0 MiB" in screen  # rich's DownloadColumn at the end of the transfer
    assert boto.head_object(Bucket=bucket, Key="big.bin")["ContentLength"] == 6 * 1024 * 1024

    proc = run("cp", f"s3://{bucket}/big.bin", str(tmp_path / "again.bin"), env=env)  # pipes: no bar
    assert "MiB" not in proc.stderr and proc.stderr == ""
    assert (tmp_path / "again.bin").read_bytes() == big.read_bytes()

    code, screen = run_in_terminal(["cp", "--no-progress", str(big), f"s3://{bucket}/big2.bin"], term_env)
    assert code == 0 and "MiB" not in screen


# -- credentials: --endpoint-url, --profile, config file -------------------------------------------
def test_endpoint_url_flag_and_aws_profile(s3_server: S3Server, bucket: str, boto, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    boto.put_object(Bucket=bucket, Key="p/x.json", Body=b'{"v": 7}')
    creds = {
        "AWS_ACCESS_KEY_ID": s3_server.access_key_id,
        "AWS_SECRET_ACCESS_KEY": s3_server.secret_access_key,
        "AWS_REGION": s3_server.region,
    }
    out = run("--endpoint-url", s3_server.endpoint_url, "cat", f"s3://{bucket}/p/x", env=base_env(**creds)).stdout
    assert json.loads(out) == {"v": 7}

    aws_config = tmp_path / "aws-config"
    aws_config.write_text(
        f"[profile fixture]\nregion = {s3_server.region}\nendpoint_url = {s3_server.endpoint_url}\n"
        f"aws_access_key_id = {s3_server.access_key_id}\naws_secret_access_key = {s3_server.secret_access_key}\n"
    )
    profile_env = base_env(AWS_CONFIG_FILE=str(aws_config), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))
    assert json.loads(run("cat", "--profile", "fixture", f"s3://{bucket}/p/x", env=profile_env).stdout) == {"v": 7}


def test_profile_from_config_file(s3_server: S3Server, bucket: str, boto, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    boto.put_object(Bucket=bucket, Key="c/x.txt", Body=b"from config")
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'[profiles.lab]\nendpoint_url = "{s3_server.endpoint_url}"\nregion = "{s3_server.region}"\n'
        'access_key_id_env = "LAB_KEY"\nsecret_access_key_env = "LAB_SECRET"\n'
    )
    env = base_env(AUTOSTORE_CONFIG=str(cfg), LAB_KEY=s3_server.access_key_id, LAB_SECRET=s3_server.secret_access_key)
    assert run("--profile", "lab", "cat", f"s3://{bucket}/c/x.txt", env=env).stdout == "from config\n"
    env["AUTOSTORE_PROFILE"] = "lab"
    assert run("cat", f"s3://{bucket}/c/x.txt", env=env).stdout == "from config\n"
    proc = run("--profile", "nope", "ls", "gs://b/", env=env, check=10)
    assert "nope" in proc.stderr


# -- other schemes through the CLI ---------------------------------------------------------------
def test_azure_through_the_cli(azurite: Azurite, tmp_path: Path) -> None:
    container = "cli" + uuid.uuid4().hex[:8]
    azurite.create_container(container)
    env = base_env(**azurite.env())
    (tmp_path / "t.csv").write_text("a,b\n1,x\n2,y\n")
    run("cp", str(tmp_path / "t.csv"), f"az://{container}/d/", env=env)
    assert run("ls", f"az://{container}/d/", env=env).stdout == "t.csv\n"
    out = run("cat", f"az://{container}/d/t", env=env).stdout
    assert "schema: a: Int64, b: String" in out
    run("mv", f"az://{container}/d/t.csv", f"abfs://{container}/e/t.csv", env=env)
    assert run("ls", "-r", f"az://{container}/", env=env).stdout == "e/t.csv\n"
    run("rm", "-r", f"az://{container}/e", env=env)
    assert run("ls", f"az://{container}/", env=env).stdout == ""
    run("ls", "az://missing-container/", env=env, check=7)


def test_http_and_gcs_reads_through_the_cli(http_site: HTTPServer, fake_gcs: FakeGCS, tmp_path: Path) -> None:
    name = uuid.uuid4().hex[:8]
    (http_site.root / f"{name}.json").write_text('{"served": true}')
    host = http_site.url.removeprefix("http://")
    env = base_env()
    assert json.loads(run("cat", f"http://{host}/{name}.json", env=env).stdout) == {"served": True}
    info = json.loads(run("info", "--json", f"http://{host}/{name}.json", env=env).stdout)
    assert info["size"] == len('{"served": true}') and info["format"] == "json"
    run("cp", f"http://{host}/{name}.json", str(tmp_path / "got.json"), env=env)
    assert (tmp_path / "got.json").read_text() == '{"served": true}'
    proc = run("cp", str(tmp_path / "got.json"), f"http://{host}/up.json", env=env, check=8)
    assert "read-only" in proc.stderr
    run("cat", f"http://{host}/missing.json", env=env, check=3)

    gcs_bucket = "g" + uuid.uuid4().hex[:8]
    fake_gcs.create_bucket(gcs_bucket)
    fake_gcs.upload(gcs_bucket, "d/p.json", b'{"gcs": 1}')
    genv = base_env(STORAGE_EMULATOR_HOST=fake_gcs.url)
    cfg = tmp_path / "config.toml"
    cfg.write_text("[schemes.gs]\nanonymous = true\n")  # the emulator needs no credentials
    genv["AUTOSTORE_CONFIG"] = str(cfg)
    assert run("ls", "-r", f"gs://{gcs_bucket}/", env=genv).stdout == "d/p.json\n"
    assert json.loads(run("cat", f"gs://{gcs_bucket}/d/p", env=genv).stdout) == {"gcs": 1}


def test_cache_commands(s3_server: S3Server, bucket: str, tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    opts = S3Options(**s3_server.options_kwargs())  # type: ignore[arg-type]
    writer = AutoStore(f"s3://{bucket}/c/", options=opts)
    writer["a"] = {"v": 1}
    writer["b"] = "two"
    reader = AutoStore(f"s3://{bucket}/c/", options=opts, cache_enabled=True, cache_dir=str(cache_dir))
    assert reader["a"] == {"v": 1} and reader["b"] == "two"  # two cold reads fill two entries
    env = base_env()

    info = json.loads(run("cache", "info", "--json", "--cache-dir", str(cache_dir), env=env).stdout)
    assert info["directory"] == str(cache_dir) and info["entries"] == 2 and info["bytes"] > 0
    # the environment names the folder as well; text output for people
    text = run("cache", "info", env=dict(env, AUTOSTORE_CACHE_DIR=str(cache_dir))).stdout
    assert re.search(r"^\s+entries\s+2$", text, re.M) and str(cache_dir) in text

    cleaned = json.loads(run("cache", "cleanup", "--verify", "--json", "--cache-dir", str(cache_dir), env=env).stdout)
    assert cleaned["removed"] == 0 and cleaned["entries"] == 2  # nothing expired or damaged
    cleared = json.loads(run("--json", "cache", "clear", "--cache-dir", str(cache_dir), env=env).stdout)
    assert cleared["removed"] == 2 and cleared["entries"] == 0
    assert reader.cache_info().entries == 0
