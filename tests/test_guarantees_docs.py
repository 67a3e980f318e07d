"""The durability limits written in the guarantees stay true to the code: local writes are
atomic but not fsynced unless ``durable=True`` asks for it (README "Guarantees",
docs/guarantees.md). Changing the default must come with new words in both."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from autostore import AutoStore, Options, S3Options

ROOT = Path(__file__).resolve().parents[1]


def _words(path: Path) -> str:
    return " ".join(path.read_text(encoding="utf-8").split())


def test_durable_is_the_only_fsync_option_and_off_by_default() -> None:
    fields = {f.name for cls in (Options, S3Options) for f in dataclasses.fields(cls)}
    assert [name for name in sorted(fields) if "sync" in name or "durab" in name] == ["durable"]
    assert Options().durable is None or Options().durable is False


def test_a_default_local_store_does_not_fsync(tmp_path: Path) -> None:
    store = AutoStore(tmp_path)
    try:
        assert store._primary.durable is False  # type: ignore[attr-defined]
    finally:
        store.close()
    durable = AutoStore(tmp_path, durable=True)
    try:
        assert durable._primary.durable is True  # type: ignore[attr-defined]
    finally:
        durable.close()


def test_the_docs_state_the_limit_and_the_option() -> None:
    readme = _words(ROOT / "README.md")
    assert "*Limit — atomic is not durable by default:*" in readme
    assert "`Options(durable=True)`" in readme
    docs = _words(ROOT / "docs" / "guarantees.md")
    assert "By default autostore does not `fsync` local writes" in docs
    assert "`durable=True`" in docs
