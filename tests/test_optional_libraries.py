"""Tests that need a library of the ``test`` extra FAIL when it is missing, never skip (CI installs
``.[test]``: a skip would hide a broken install). They import it with ``helpers.require``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from helpers import require

TESTS = Path(__file__).resolve().parent
# Spelled in pieces so this file does not match itself.
_SKIPPING = re.compile("|".join([r"import" + r"orskip\(", r"except\s+(ImportError|ModuleNotFoundError)\b"]))


def test_no_test_skips_on_a_missing_library() -> None:
    offenders = [
        f"{path.name}:{n}: {line.strip()}"
        for path in sorted(TESTS.glob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if _SKIPPING.search(line) and path.name != "helpers.py"
    ]
    assert offenders == [], "use helpers.require(module) so a missing test-extra library fails:\n" + "\n".join(
        offenders
    )


def test_require_fails_with_the_install_command() -> None:
    with pytest.raises(pytest.fail.Exception) as info:
        require("autostore_no_such_library_xyz")
    message = str(info.value)
    assert "autostore_no_such_library_xyz is needed by this test" in message
    assert "pip install -e '.[test]'" in message


def test_require_returns_the_module() -> None:
    assert require("json").dumps({"a": 1}) == '{"a": 1}'
