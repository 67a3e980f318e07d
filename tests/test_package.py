"""Package hygiene: light import, exported names, compat modules, py.typed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import autostore

HEAVY = (
    "polars",
    "obstore",
    "boto3",
    "botocore",
    "numpy",
    "scipy",
    "torch",
    "PIL",
    "yaml",
    "pydantic",
    "filelock",
    "rich",
    "typer",
    # formats of issue 19
    "safetensors",
    "zstandard",
    "fastexcel",
    "xlsxwriter",
    "openpyxl",
    "pyarrow",
    "deltalake",
)


def test_import_is_light() -> None:
    code = "import sys, autostore; print(','.join(sorted(m for m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = set(out.strip().split(","))
    assert not [m for m in HEAVY if m in loaded], [m for m in HEAVY if m in loaded]


def test_exported_members() -> None:
    public = {name for name in dir(autostore) if not name.startswith("_")} - {"annotations"}
    expected = set(autostore.__all__) - {"__version__"}
    # modules that come along with importing submodules are not API
    modules = {name for name in public if type(getattr(autostore, name)).__name__ == "module"}
    assert public - modules == expected
    for name in autostore.__all__:
        assert hasattr(autostore, name)


def test_compat_modules() -> None:
    from autostore.autostore import DataHandler
    from autostore.s3 import S3Options

    assert DataHandler is autostore.DataHandler
    assert S3Options is autostore.S3Options


def test_py_typed() -> None:
    assert (Path(autostore.__file__).parent / "py.typed").exists()


def test_errors_are_builtin_compatible() -> None:
    assert issubclass(autostore.NotFound, KeyError) and issubclass(autostore.NotFound, FileNotFoundError)
    assert issubclass(autostore.AuthError, PermissionError)
    assert issubclass(autostore.InvalidKey, ValueError)
    assert str(autostore.NotFound("no key 'x'")) == "no key 'x'"
