"""The AutoPath examples of the 0.1.x README (the seed), run as written.

Only the bucket names change: each seed bucket ("my-bucket", "data", ...) becomes a fresh bucket on
the test S3 server, or, in the `local` run, a folder on disk, so every example runs on both. Files
an example reads are created first; what it writes is checked on the server or disk afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from autostore import AutoPath, AutoStore, S3Options
from autostore.testing import S3Server
from helpers import in_child

SEED_BUCKETS = (
    "my-bucket", "backup-bucket", "data-bucket", "reports", "data", "config",
    "experiments", "datasets", "bucket", "logs", "app", "raw-data", "processed",
)  # fmt: skip


class Seed:
    """Where the seed's buckets live in this run, and a view of them that bypasses AutoPath."""

    def __init__(self, kind: str, base: Path, server: S3Server | None) -> None:
        self.kind = kind
        self.server = server
        self.names = {b: f"{b}-{uuid.uuid4().hex[:8]}" for b in SEED_BUCKETS}
        self.base = base
        if server is not None:
            self.client = server.client()
            for real in self.names.values():
                server.create_bucket(real)

    def __getstate__(self) -> dict[str, Any]:  # for a child process: the client is made anew there
        return {k: v for k, v in self.__dict__.items() if k != "client"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if self.server is not None:
            self.client = self.server.client()

    def uri(self, bucket: str, key: str = "") -> str:
        """The seed's ``s3://bucket/key`` in this run."""
        if self.server is None:
            return str(self.base / self.names[bucket] / key) + ("/" if key.endswith("/") else "")
        return f"s3://{self.names[bucket]}/{key}" if key else f"s3://{self.names[bucket]}"

    def put(self, bucket: str, key: str, data: bytes) -> None:
        if self.server is None:
            path = self.base / self.names[bucket] / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        else:
            self.client.put_object(Bucket=self.names[bucket], Key=key, Body=data)

    def get(self, bucket: str, key: str) -> bytes:
        if self.server is None:
            return (self.base / self.names[bucket] / key).read_bytes()
        return self.client.get_object(Bucket=self.names[bucket], Key=key)["Body"].read()  # type: ignore[no-any-return]

    def keys(self, bucket: str) -> list[str]:
        if self.server is None:
            root = self.base / self.names[bucket]
            return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
        got = self.client.list_objects_v2(Bucket=self.names[bucket]).get("Contents", [])
        return sorted(o["Key"] for o in got)

    def empty_folder(self, bucket: str, key: str) -> None:
        """An empty folder as a console makes it: a `key/` marker on S3, a directory on disk."""
        if self.server is None:
            (self.base / self.names[bucket] / key).mkdir(parents=True)
        else:
            self.client.put_object(Bucket=self.names[bucket], Key=key + "/", Body=b"")


@pytest.fixture(params=["local", "s3"])
def seed(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Seed:
    monkeypatch.chdir(tmp_path)  # the seed's "./local-data", "./data", ... land here
    server = request.getfixturevalue("s3_server") if request.param == "s3" else None
    return Seed(request.param, tmp_path / "buckets", server)


@pytest.fixture
def seed_store(seed: Seed, request: pytest.FixtureRequest) -> AutoStore:
    """The seed's store: ``AutoStore("./local-data", options=[S3Options(scheme="s3", ...)])`` with
    the test server's endpoint and credentials in place of ``profile_name="aws-prod"``."""
    extra = request.getfixturevalue("s3_server").options_kwargs() if seed.server is not None else {}
    return AutoStore(
        "./local-data",
        options=[S3Options(scheme="s3", cache_enabled=True, cache_expiry_hours=6, **extra)],  # type: ignore[arg-type]
    )


def lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().out.splitlines()


def test_basic_autopath_usage(seed: Seed, seed_store: AutoStore) -> None:
    store = seed_store
    Path("local-data").mkdir()
    Path("local-data/config.json").write_text('{"old": true}')
    seed.put("my-bucket", "data/results.parquet", b"PAR1...")

    # Create AutoPath instances
    local_path = AutoPath("./local-data/config.json", store=store)
    s3_path = AutoPath(seed.uri("my-bucket", "data/results.parquet"), store=store)

    # Path operations work the same for local and cloud storage
    config_exists = local_path.exists()  # True/False
    results_exists = s3_path.exists()  # True/False

    # Read files as text or bytes
    config_text = local_path.read_text()  # Read as string
    results_bytes = s3_path.read_bytes()  # Read as bytes

    # Write files
    local_path.write_text('{"key": "value"}')  # Write string
    s3_path.write_bytes(b"binary data")  # Write bytes

    assert config_exists and results_exists
    assert config_text == '{"old": true}' and results_bytes == b"PAR1..."
    assert Path("local-data/config.json").read_text() == '{"key": "value"}'
    assert seed.get("my-bucket", "data/results.parquet") == b"binary data"
    assert store["config"] == {"key": "value"}  # the store sees the file AutoPath wrote


def test_path_manipulation_and_navigation(
    seed: Seed, seed_store: AutoStore, capsys: pytest.CaptureFixture[str]
) -> None:
    store = seed_store
    # Path joining works like pathlib.Path
    data_dir = AutoPath(seed.uri("my-bucket", "datasets"), store=store)
    experiment_dir = data_dir / "experiment_1"
    results_file = experiment_dir / "results.parquet"
    print(results_file)  # s3://my-bucket/datasets/experiment_1/results.parquet

    # Path properties
    print(results_file.name)  # results.parquet
    print(results_file.stem)  # results
    print(results_file.suffix)  # .parquet
    print(results_file.parent)  # s3://my-bucket/datasets/experiment_1

    # Navigate parent directories
    parent = results_file.parent
    grandparent = parent.parent
    all_parents = results_file.parents  # List of all parent directories

    assert lines(capsys) == [
        seed.uri("my-bucket", "datasets/experiment_1/results.parquet"),
        "results.parquet",
        "results",
        ".parquet",
        seed.uri("my-bucket", "datasets/experiment_1"),
    ]
    assert grandparent == data_dir
    assert list(all_parents[:3]) == [experiment_dir, data_dir, AutoPath(seed.uri("my-bucket"))]


def test_file_and_directory_operations(seed: Seed, seed_store: AutoStore, capsys: pytest.CaptureFixture[str]) -> None:
    store = seed_store
    seed.put("my-bucket", "datasets/experiment_1/results.parquet", b"12345")
    seed.put("my-bucket", "datasets/experiment_1/metrics.csv", b"a\n1\n")
    seed.put("my-bucket", "datasets/summary.parquet", b"123")
    data_dir = AutoPath(seed.uri("my-bucket", "datasets"), store=store)
    experiment_dir = data_dir / "experiment_1"
    results_file = experiment_dir / "results.parquet"

    # File operations
    if results_file.exists():
        print("File exists")
    if results_file.is_file():
        print("It's a file")
    if data_dir.is_dir():
        print("It's a directory")

    # Directory listing
    for item in data_dir.iterdir():
        print(f"Found: {item}")
        if item.is_file():
            print(f" File size: {item.stat().size}")

    # Glob patterns
    for parquet_file in data_dir.glob("**/*.parquet"):
        print(f"Parquet file: {parquet_file}")

    for csv_file in experiment_dir.glob("*.csv"):
        print(f"CSV file: {csv_file}")

    out = lines(capsys)
    assert out[:3] == ["File exists", "It's a file", "It's a directory"]
    assert out[3:6] == [f"Found: {experiment_dir}", f"Found: {data_dir / 'summary.parquet'}", " File size: 3"]
    # pathlib's order: a folder's own matches, then those of its subfolders
    assert out[6:8] == [f"Parquet file: {data_dir / 'summary.parquet'}", f"Parquet file: {results_file}"]
    assert out[8:] == [f"CSV file: {experiment_dir / 'metrics.csv'}"]


def test_directory_management(seed: Seed, seed_store: AutoStore) -> None:
    store = seed_store
    seed.empty_folder("my-bucket", "empty-folder")
    seed.put("my-bucket", "old-experiment/run/a.json", b"{}")
    seed.put("my-bucket", "old-experiment/b.json", b"{}")
    seed.put("my-bucket", "old-experiment-keep.json", b"{}")

    # For local paths, this creates real directories
    local_dir = AutoPath("./data/analysis", store=store)
    local_dir.mkdir(parents=True, exist_ok=True)

    # Remove directories
    empty_dir = AutoPath(seed.uri("my-bucket", "empty-folder"), store=store)
    empty_dir.rmdir()  # Remove empty directory

    # Delete files or directories with contents
    old_experiment = AutoPath(seed.uri("my-bucket", "old-experiment"), store=store)
    old_experiment.delete()  # Recursively deletes all contents

    assert Path("data/analysis").is_dir()
    assert seed.keys("my-bucket") == ["old-experiment-keep.json"]
    assert not empty_dir.exists() and not old_experiment.exists()


def test_file_transfer_operations(seed: Seed, seed_store: AutoStore) -> None:
    store = seed_store
    for name, data in (("data/model.pt", b"weights"), ("temp/processing.csv", b"a,b\n1,2\n"),
                       ("analysis/results.xlsx", b"xlsx")):  # fmt: skip
        Path(name).parent.mkdir(parents=True, exist_ok=True)
        Path(name).write_bytes(data)
    seed.put("data", "large_dataset.parquet", b"PAR1 big")

    # Copy files between any backends
    local_file = AutoPath("./data/model.pt", store=store)
    s3_backup = AutoPath(seed.uri("backup-bucket", "models/model.pt"), store=store)

    # Copy local file to S3
    local_file.copy_to(s3_backup)

    # Move files
    temp_file = AutoPath("./temp/processing.csv", store=store)
    final_location = AutoPath(seed.uri("data-bucket", "processed/final.csv"), store=store)
    temp_file.move_to(final_location)

    # Upload from local filesystem
    local_source = "./analysis/results.xlsx"
    s3_destination = AutoPath(seed.uri("reports", "analysis/results.xlsx"), store=store)
    s3_destination.upload_from(local_source)

    # Download to local filesystem
    s3_source = AutoPath(seed.uri("data", "large_dataset.parquet"), store=store)
    local_destination = "./downloads/dataset.parquet"
    s3_source.download_to(local_destination)

    assert seed.get("backup-bucket", "models/model.pt") == b"weights" and Path("data/model.pt").exists()
    assert seed.get("data-bucket", "processed/final.csv") == b"a,b\n1,2\n" and not Path("temp/processing.csv").exists()
    assert seed.get("reports", "analysis/results.xlsx") == b"xlsx"
    assert Path("downloads/dataset.parquet").read_bytes() == b"PAR1 big"


def test_data_loading_with_format_detection(seed: Seed, seed_store: AutoStore) -> None:
    import io
    import json

    store = seed_store
    sales = pl.DataFrame({"region": ["eu", "us"], "sales": [1.5, 2.5]})
    buf = io.BytesIO()
    sales.write_parquet(buf)
    seed.put("data", "sales.parquet", buf.getvalue())
    seed.put("config", "settings.json", b'{"debug": false}')
    seed.put("data", "data.csv", buf.getvalue())  # parquet bytes under a .csv name: "force parquet"

    # Load data with automatic format detection
    parquet_path = AutoPath(seed.uri("data", "sales.parquet"), store=store)
    df = parquet_path.load()  # Returns Polars DataFrame

    json_path = AutoPath(seed.uri("config", "settings.json"), store=store)
    settings = json_path.load()  # Returns dict
    assert_frame_equal(df, sales)
    assert settings == {"debug": False}

    # Force specific format
    csv_as_parquet = AutoPath(seed.uri("data", "data.csv"), store=store)
    df = csv_as_parquet.load(format="parquet")  # Force parquet parsing
    assert_frame_equal(df, sales)

    # Bypass cache
    fresh_data = parquet_path.load(ignore_cache=True)
    assert_frame_equal(fresh_data, sales)

    # Save data with automatic format detection
    results = {"accuracy": 0.95, "model": "transformer"}
    results_path = AutoPath(seed.uri("experiments", "run_001/results.json"), store=store)
    results_path.save(results)  # Automatically saves as JSON

    # Save DataFrame
    # (the seed's `import polars as pl` is at the top of this module)
    df = pl.DataFrame({"a": [1, 2, 3], "b": [4, 5, 6]})
    data_path = AutoPath(seed.uri("datasets", "processed.parquet"), store=store)
    data_path.save(df)  # Automatically saves as Parquet

    assert json.loads(seed.get("experiments", "run_001/results.json")) == results
    assert_frame_equal(pl.read_parquet(io.BytesIO(seed.get("datasets", "processed.parquet"))), df)


def test_autopath_without_explicit_store(seed: Seed) -> None:
    if seed.server is None:
        _autopath_without_explicit_store(seed)
    else:  # "default options": the environment names the server (set in a child: helpers.in_child)
        in_child(seed.server.env(), _autopath_without_explicit_store, seed)


def _autopath_without_explicit_store(seed: Seed) -> None:
    Path("data").mkdir()
    Path("data/file.json").write_text('{"local": 1}')
    seed.put("bucket", "file.json", b'{"remote": 1}')

    # For local paths
    local_path = AutoPath("./data/file.json")  # Creates local store automatically

    # For S3 URIs
    s3_path = AutoPath(seed.uri("bucket", "file.json"))  # Creates S3 store with default options

    # Path operations work the same
    data = s3_path.load()
    s3_path.save({"new": "data"})

    assert local_path.load() == {"local": 1}
    assert data == {"remote": 1}
    assert seed.get("bucket", "file.json") == b'{"new": "data"}'
    assert local_path.store is AutoPath("./elsewhere.json").store


def test_advanced_path_operations(seed: Seed, seed_store: AutoStore, capsys: pytest.CaptureFixture[str]) -> None:
    store = seed_store
    local_path = AutoPath("./data/file.json")
    s3_path = AutoPath(seed.uri("bucket", "file.json"))

    # Path pattern matching
    log_path = AutoPath(seed.uri("logs", "app.2024-01-15.log"), store=store)
    if log_path.match("*.log"):
        print("It's a log file")

    # Relative paths
    base_path = AutoPath(seed.uri("data", "experiments"), store=store)
    result_path = AutoPath(seed.uri("data", "experiments/run_1/results.json"), store=store)
    relative = result_path.relative_to(base_path)  # "run_1/results.json"

    # Path transformations
    config_path = AutoPath(seed.uri("app", "config.yaml"), store=store)
    backup_path = config_path.with_suffix(".yaml.bak")  # config.yaml.bak
    renamed_path = config_path.with_name("new_config.yaml")  # new_config.yaml
    stemmed_path = config_path.with_stem("production")  # production.yaml

    # Absolute and URI representations
    print(local_path.as_posix())  # Forward slashes
    print(local_path.as_uri())  # file:// URI
    print(s3_path.as_uri())  # s3:// URI
    print(s3_path.is_absolute())  # True for URIs

    cwd = Path.cwd()
    assert lines(capsys) == [
        "It's a log file",
        str(cwd / "data" / "file.json"),
        (cwd / "data" / "file.json").as_uri(),
        seed.uri("bucket", "file.json") if seed.server else Path(seed.uri("bucket", "file.json")).as_uri(),
        "True",
    ]
    assert str(relative) == "run_1/results.json"
    assert (backup_path.name, renamed_path.name, stemmed_path.name) == (
        "config.yaml.bak",
        "new_config.yaml",
        "production.yaml",
    )


def test_integration_example(seed: Seed, seed_store: AutoStore, capsys: pytest.CaptureFixture[str]) -> None:
    store = seed_store
    for month, rows in (("january", [("eu", 1.0), ("us", 2.0)]), ("february", [("eu", 3.0)])):
        frame = pl.DataFrame({"region": [r for r, _ in rows], "sales": [s for _, s in rows]})
        AutoPath(seed.uri("raw-data", f"sales/2024/{month}.parquet"), store=store).save(frame)

    # Define paths
    raw_data = AutoPath(seed.uri("raw-data", "sales/2024/"), store=store)
    processed_data = AutoPath(seed.uri("processed", "sales_summary.parquet"), store=store)
    local_backup = AutoPath("./backups/sales_summary.parquet", store=store)

    run: Callable[[], None]

    def run() -> None:
        # Process data using path-like interface
        if raw_data.is_dir():
            # Load all files in directory as dataset
            df = raw_data.load()  # Loads entire directory as LazyFrame

            # Process data
            summary = df.group_by("region").agg(
                [pl.col("sales").sum().alias("total_sales"), pl.col("sales").count().alias("transaction_count")]
            )

            # Save processed data
            processed_data.save(summary.collect())

            # Create local backup
            processed_data.copy_to(local_backup)

            # The seed prints summary.height, but summary is a LazyFrame (no .height): collect it.
            print(f"Processed {summary.collect().height} regions")
            print(f"Backup created at: {local_backup}")

    run()
    backup = Path.cwd() / "backups" / "sales_summary.parquet"
    assert lines(capsys) == ["Processed 2 regions", f"Backup created at: {backup}"]
    got = pl.read_parquet("backups/sales_summary.parquet").sort("region")
    assert got["total_sales"].to_list() == [4.0, 2.0] and got["transaction_count"].to_list() == [2, 1]
