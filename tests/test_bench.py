"""bench/run.py --check: a missed target is a non-zero exit (checked on synthetic results, no
timing), and the performance docs show the rows that miss, not only those that win."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_run"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def _workload(bench: ModuleType, name: str, ours: float, reference: float, target: float | None) -> Any:
    return bench.Workload(
        name=name,
        ours="autostore",
        reference="boto3",
        target=target,
        variants={},
        times={"autostore": [ours, ours * 1.1, ours * 0.9], "boto3": [reference] * 3},
    )


def test_check_exits_non_zero_when_a_target_is_missed(capsys: pytest.CaptureFixture[str]) -> None:
    bench = _bench()
    done = [
        _workload(bench, "fast reads", ours=0.4, reference=1.0, target=0.5),
        _workload(bench, "slow writes", ours=1.3, reference=1.0, target=1.05),
        _workload(bench, "import", ours=2.0, reference=1.0, target=None),  # no target: not checked
    ]
    assert bench.missed(done) == ["slow writes: 1.30 > target 1.05 (autostore vs boto3)"]
    assert bench.finish(done, check=True) == 1
    out = capsys.readouterr().out
    assert "1 target(s) missed" in out and "MISSED slow writes: 1.30 > target 1.05" in out
    assert "fast reads" not in out
    assert bench.finish(done, check=False) == 0  # without --check: reported, exit 0
    assert "MISSED slow writes" in capsys.readouterr().out
    assert "| slow writes | **autostore** | 1300.0 ms | 1.30 | ≤ 1.05 | NO |" in bench.report(done)


def test_check_exits_zero_when_every_target_is_met(capsys: pytest.CaptureFixture[str]) -> None:
    bench = _bench()
    done = [_workload(bench, "fast reads", ours=0.4, reference=1.0, target=0.5)]
    assert bench.finish(done, check=True) == 0
    assert "every workload met its target" in capsys.readouterr().out


def test_a_missing_measurement_counts_as_missed() -> None:
    bench = _bench()
    broken = _workload(bench, "zero reference", ours=1.0, reference=0.0, target=1.0)
    assert bench.missed([broken]) == ["zero reference: nan > target 1.00 (autostore vs boto3)"]


class _Clock:
    """``time`` for bench/run.py: each variant advances it by its cost, so rounds are counted
    without timing anything."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("cost", "max_rounds", "expected"),
    [
        (0.1, 48, 48),  # 12 rounds take 2.4 s: four blocks fit in 15 s
        (0.25, 48, 24),  # 0.5 s a round: 36 rounds would take 18 s
        (1.0, 48, 12),  # 2 s a round: 24 rounds would take 48 s
        (0.1, None, 12),  # no extra rounds asked for (--quick)
        (0.1, 30, 24),  # whole blocks only: a third block would pass 30
    ],
)
def test_a_cheap_workload_runs_more_rounds_in_whole_blocks(
    monkeypatch: pytest.MonkeyPatch, cost: float, max_rounds: int | None, expected: int
) -> None:
    bench = _bench()
    clock = _Clock()
    monkeypatch.setattr(bench, "time", clock)
    order: list[str] = []

    def variant(name: str) -> Any:
        def run() -> None:
            clock.now += cost
            order.append(name)

        return run

    workload = bench.Workload("w", "autostore", "boto3", 1.0, {"autostore": variant("a"), "boto3": variant("b")})
    bench.run_rounds(workload, 12, max_rounds=max_rounds, budget_s=15.0)
    assert workload.rounds == expected
    assert len(workload.times["autostore"]) == len(workload.times["boto3"]) == expected
    assert workload.times["autostore"] == pytest.approx([cost] * expected)
    timed = order[2:]  # after the untimed checking round
    firsts = [timed[i] for i in range(0, len(timed), 2)]
    assert firsts.count("a") == firsts.count("b") == expected // 2  # each variant first equally often
    row = f"| w | **autostore** | {cost * 1e3:.1f} ms | 1.00 | ≤ 1.00 | yes |  | {expected} |"
    assert row in bench.report([workload])


def test_check_is_a_command_line_flag() -> None:
    bench = _bench()
    assert bench.parser().parse_args(["--quick", "--check"]).check is True
    assert bench.parser().parse_args([]).check is False


def _performance_rows() -> list[dict[str, str]]:
    """Rows of the results table in docs/performance.md that have a target."""
    text = (ROOT / "docs" / "performance.md").read_text(encoding="utf-8")
    all_lines = text.splitlines()
    start = next(i for i, line in enumerate(all_lines) if line.startswith("|"))
    lines = []  # the first table is the results table; later tables are history
    for line in all_lines[start:]:
        if not line.startswith("|"):
            break
        lines.append(line)
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = []
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        row = dict(zip(header, cells, strict=False))
        if row.get("target", "").startswith("≤"):
            rows.append(row)
    return rows


def test_performance_docs_mark_every_missed_target() -> None:
    rows = _performance_rows()
    assert len(rows) >= 10
    for row in rows:
        target = float(row["target"].lstrip("≤ "))
        runs = {"run 1": float(row["run 1"]), "run 2": float(row["run 2"])}
        missed = [name for name, value in runs.items() if value > target]
        expected = "yes" if not missed else "no (" + ", ".join(missed) + ")"
        assert row["met"] == expected, row


def test_readme_performance_summary_lists_every_missed_row() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## Performance\n(.*?)^## ", readme, re.S | re.M)
    assert section is not None
    missed = [row for row in _performance_rows() if row["met"] != "yes"]
    if not missed:  # the README says so, and shows no stale table of misses
        assert "Every targeted row met its target in both of the two latest full runs" in section.group(1)
        assert "| workload | run 1 | run 2 | target |" not in section.group(1)
        return
    for row in missed:
        line = f"| {row['workload']} | {row['run 1']} | {row['run 2']} | {row['target']} |"
        assert line in section.group(1), f"README 'Performance' must show the missed row: {line}"
