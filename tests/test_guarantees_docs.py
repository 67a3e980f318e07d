"""The durability limits written in the guarantees stay true to the code: autostore has no fsync
option and never fsyncs local writes (README "Guarantees", docs/guarantees.md). Adding one must
come with new words in both."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import autostore.backends.local as local
from autostore import Options, S3Options

ROOT = Path(__file__).resolve().parents[1]


def test_no_fsync_option_and_the_docs_say_so() -> None:
    fields = {f.name for cls in (Options, S3Options) for f in dataclasses.fields(cls)}
    assert not [name for name in fields if "sync" in name or "durab" in name]
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert "has **no fsync option** today" in readme
    docs = " ".join((ROOT / "docs" / "guarantees.md").read_text(encoding="utf-8").split())
    assert "does not `fsync` local writes and has no option to" in docs


def test_local_writes_do_not_fsync() -> None:
    assert "fsync" not in inspect.getsource(local)
