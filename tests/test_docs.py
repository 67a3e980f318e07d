"""Every ```python block of README.md and docs/*.md runs, so the docs cannot rot.

Each file's blocks run in order, in one fresh interpreter (blocks share a namespace, like a
reader's session), in an empty temporary working directory, with:

- the S3 fixture's credentials and endpoint in ``AWS_*`` and Azurite's connection string in
  ``AZURE_STORAGE_CONNECTION_STRING``; no user configuration file (``AUTOSTORE_CONFIG=""``);
- every bucket a block names (``s3://my-bucket/...``, ``minio://x/...``) created on SeaweedFS and
  every ``az://``/``abfs://`` container created on Azurite;
- every ``endpoint_url="..."`` literal pointed at the local S3 server (no docs example may reach
  the internet), placeholder credentials (``"..."``, ``"minioadmin"``) replaced by the
  fixture's, and every ``profile_name="X"`` defined as an AWS profile for the fixture.

A block preceded by ``<!-- skip-test -->`` is not run; keep those for examples that need real
cloud accounts, and list them in the README.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import autostore
from autostore.testing import S3Server
from servers import Azurite

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SRC = str(Path(autostore.__file__).resolve().parent.parent)

_SKIP = "<!-- skip-test -->"
_URI = re.compile(r"\b([a-z][a-z0-9+.-]*)://([a-z0-9][a-z0-9._-]{1,61}[a-z0-9])(?=[/\"'@])")
_NOT_S3 = {"az", "abfs", "abfss", "azure", "gs", "gcs", "http", "https", "file", "memory"}
_AZ = {"az", "abfs", "abfss", "azure"}
_PLACEHOLDER_SECRETS = ("...", "minioadmin", "your-key", "your-secret")


def blocks(path: Path) -> list[tuple[int, str]]:
    """(line number, code) of each python block that is not marked skip-test."""
    lines = path.read_text(encoding="utf-8").splitlines()
    out: list[tuple[int, str]] = []
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```python":
            j = i + 1
            while j < len(lines) and lines[j].strip() != "```":
                j += 1
            previous = next((line.strip() for line in reversed(lines[:i]) if line.strip()), "")
            if previous != _SKIP:
                out.append((i + 2, "\n".join(lines[i + 1 : j]) + "\n"))
            i = j
        i += 1
    return out


def substitute(code: str, server: S3Server) -> str:
    code = re.sub(r"endpoint_url=([\"'])[^\"']*\1", f'endpoint_url="{server.endpoint_url}"', code)
    for name, value in (
        ("aws_access_key_id", server.access_key_id),
        ("aws_secret_access_key", server.secret_access_key),
    ):
        for placeholder in _PLACEHOLDER_SECRETS:
            code = code.replace(f'{name}="{placeholder}"', f'{name}="{value}"')
    return code


RUNNER = textwrap.dedent(
    """
    import json, sys, traceback
    blocks = json.load(open(sys.argv[1]))
    namespace = {"__name__": "__main__"}
    for line, code in blocks:
        try:
            exec(compile(code, f"{sys.argv[2]}:{line}", "exec"), namespace)
        except BaseException:
            traceback.print_exc()
            print(f"DOC BLOCK FAILED: {sys.argv[2]} line {line}", file=sys.stderr)
            sys.exit(1)
    """
)


def test_docs_exist() -> None:
    names = {p.name for p in DOCS}
    assert {"guide.md", "formats.md", "caching.md", "guarantees.md", "cli.md", "performance.md"} <= names
    assert sum(len(blocks(p)) for p in DOCS) >= 10


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_python_blocks_run(path: Path, s3_server: S3Server, azurite: Azurite, tmp_path: Path) -> None:
    found = blocks(path)
    if not found:
        pytest.skip(f"{path.name} has no python blocks")
    code_blocks = [(line, substitute(code, s3_server)) for line, code in found]
    everything = "\n".join(code for _, code in code_blocks)

    client = s3_server.client()
    try:
        existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
        for scheme, bucket in set(_URI.findall(everything)):
            if scheme in _AZ:
                if (azurite.port, bucket) not in _created_containers:
                    azurite.create_container(bucket)
                    _created_containers.add((azurite.port, bucket))
            elif scheme not in _NOT_S3 and bucket not in existing:
                client.create_bucket(Bucket=bucket)
                existing.add(bucket)
    finally:
        client.close()

    profiles = sorted(set(re.findall(r"profile_name=[\"']([\w.-]+)[\"']", everything)))
    aws_config = tmp_path / "aws-config"
    aws_config.write_text(
        "".join(
            f"[profile {name}]\nregion = {s3_server.region}\nendpoint_url = {s3_server.endpoint_url}\n"
            f"aws_access_key_id = {s3_server.access_key_id}\naws_secret_access_key = {s3_server.secret_access_key}\n"
            for name in profiles
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AUTOSTORE_", "AZURE_", "GOOGLE_"))}
    env.update(s3_server.env())
    env.update(azurite.env())
    env.update(
        PYTHONPATH=SRC,
        AUTOSTORE_CONFIG="",
        AWS_CONFIG_FILE=str(aws_config),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"),
    )
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    (tmp_path / "blocks.json").write_text(json.dumps(code_blocks))
    (tmp_path / "runner.py").write_text(RUNNER)
    proc = subprocess.run(
        [sys.executable, str(tmp_path / "runner.py"), str(tmp_path / "blocks.json"), path.name],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"{path.name}:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"


_created_containers: set[tuple[int, str]] = set()  # Azurite has no "create if missing"
