"""Small helpers shared by the reliability tests."""

from __future__ import annotations

import importlib
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from autostore import DataHandler
from autostore.testing import S3Server


def require(module: str) -> ModuleType:
    """Import ``module``, a library of the ``test`` extra. A missing one FAILS the test (never
    skips it): CI installs ``.[test]``, so a skip would hide a broken install or a dropped pin."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        pytest.fail(
            f"{module} is needed by this test and is part of the 'test' extra ({exc}); "
            "install it with: pip install -e '.[test]'",
            pytrace=False,
        )


def boto_client(server: S3Server) -> Any:
    """A boto3 client straight to the server (no proxy): what is really stored."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=server.endpoint_url,
        aws_access_key_id=server.access_key_id,
        aws_secret_access_key=server.secret_access_key,
        region_name=server.region,
        config=Config(s3={"addressing_style": "path"}),
    )


class SlowBytes(DataHandler):
    """bytes <-> ``.slow`` files, written in 1 MiB steps with a pause after each (when ``pause``),
    the way a file-based format (parquet, numpy, torch) fills its file. Prints "started" once
    2 MiB are written, so a test knows when to kill the writer."""

    def __init__(self, pause: float = 0.0) -> None:
        self.pause = pause

    @property
    def extensions(self) -> list[str]:
        return [".slow"]

    def can_handle_extension(self, extension: str) -> bool:
        return extension == ".slow"

    def can_handle_data(self, data: Any) -> bool:
        return isinstance(data, bytes)

    def read_from_file(self, file_path: Path, file_extension: str) -> Any:
        return Path(file_path).read_bytes()

    def write_to_file(self, data: Any, file_path: Path, file_extension: str) -> None:
        step = 1 << 20
        with open(file_path, "wb") as f:
            for i in range(0, len(data), step):
                f.write(data[i : i + step])
                f.flush()
                if self.pause:
                    if i == 2 * step:
                        print("started", flush=True)
                    time.sleep(self.pause)
