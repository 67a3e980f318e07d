"""Every data type of the seed, on a local folder and on S3: written by type (no extension) and
by explicit extension, checking the value read back AND the bytes really stored."""

from __future__ import annotations

import csv
import dataclasses
import datetime
import enum
import io
import json
import pickle
import uuid
import zipfile
from collections import OrderedDict
from decimal import Decimal
from pathlib import PurePosixPath
from typing import Any

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp
import torch
import yaml
from PIL import Image
from polars.testing import assert_frame_equal
from pydantic import BaseModel

from autostore import AutoStore
from conftest import Raw

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# -- value types used below (module level, so the classes are importable when read back) ------
class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclasses.dataclass
class Point:
    x: float
    y: float


@dataclasses.dataclass
class Run:
    name: str
    started: datetime.datetime
    color: Color
    points: list[Point]
    best: Point | None = None
    tags: set[str] = dataclasses.field(default_factory=set)
    loss_by_epoch: dict[int, float] = dataclasses.field(default_factory=dict)
    run_id: uuid.UUID = dataclasses.field(default_factory=lambda: uuid.UUID(int=7))
    budget: Decimal = dataclasses.field(default_factory=lambda: Decimal("1.50"))
    out: PurePosixPath = dataclasses.field(default_factory=lambda: PurePosixPath("runs/a"))
    shape: tuple[int, int] = (1, 2)


class User(BaseModel):
    name: str
    age: int
    joined: datetime.date
    tags: list[str] = []
    friend: User | None = None


class Opaque:
    def __init__(self, v: int) -> None:
        self.v = v

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Opaque) and other.v == self.v


def sample_run() -> Run:
    return Run(
        name="démo",
        started=datetime.datetime(2024, 5, 1, 12, 30, tzinfo=datetime.UTC),
        color=Color.BLUE,
        points=[Point(0.0, 1.5), Point(2.0, -1.0)],
        best=Point(2.0, -1.0),
        tags={"a", "b"},
        loss_by_epoch={1: 0.5, 2: 0.25},
    )


def image_rgb() -> Any:
    img = Image.new("RGB", (5, 4), (10, 20, 30))
    img.putpixel((1, 2), (200, 100, 50))
    return img


def pixels_equal(a: Any, b: Any) -> bool:
    return bool(a.size == b.size and a.mode == b.mode and a.tobytes() == b.tobytes())


def assert_sparse_equal(got: Any, want: Any) -> None:
    assert type(got) is type(want), (type(got), type(want))
    assert got.format == want.format
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_array_equal(got.toarray(), want.toarray())


# -- writing by type: one test per row of the table ---------------------------------------------
def test_row_dataframe_and_lazyframe_to_parquet(store: AutoStore, raw: Raw) -> None:
    df = pl.DataFrame({"a": [1, 2, 3], "b": ["x", "y", None], "c": [0.5, None, 2.0]})
    store["frame"] = df
    store["lazy"] = df.lazy().filter(pl.col("a") > 1)
    assert raw.keys() == ["frame.parquet", "lazy.parquet"]
    data = raw.read("frame.parquet")
    assert data[:4] == b"PAR1" and data[-4:] == b"PAR1"
    assert_frame_equal(pl.read_parquet(io.BytesIO(data)), df)
    got = store["frame"]
    assert isinstance(got, pl.DataFrame)
    assert_frame_equal(got, df)
    assert_frame_equal(store["lazy"], df.filter(pl.col("a") > 1))


def test_row_dict_and_plain_list_to_json(store: AutoStore, raw: Raw) -> None:
    store["config"] = {"key": "value", "n": [1, 2.5, None, True], "ünï": {"x": "é"}}
    store["numbers"] = [1, 2, 3]
    store["empty"] = []
    assert raw.keys() == ["config.json", "empty.json", "numbers.json"]
    assert json.loads(raw.read("config.json")) == {"key": "value", "n": [1, 2.5, None, True], "ünï": {"x": "é"}}
    assert json.loads(raw.read("numbers.json")) == [1, 2, 3]
    assert store["config"]["ünï"] == {"x": "é"}
    assert store["numbers"] == [1, 2, 3]
    assert store["empty"] == []


def test_row_list_of_dicts_to_jsonl(store: AutoStore, raw: Raw) -> None:
    records = [{"event": "start", "t": 1}, {"event": "stop", "t": 2, "extra": None}]
    store["logs"] = records
    assert raw.keys() == ["logs.jsonl"]
    lines = raw.read("logs.jsonl").decode().splitlines()
    assert [json.loads(line) for line in lines] == records
    assert store["logs"] == records


def test_row_pydantic_model(store: AutoStore, raw: Raw) -> None:
    user = User(
        name="ada",
        age=36,
        joined=datetime.date(2020, 1, 2),
        tags=["x"],
        friend=User(name="bob", age=40, joined=datetime.date(2021, 3, 4)),
    )
    store["user"] = user
    assert raw.keys() == ["user.pydantic.json"]
    payload = json.loads(raw.read("user.pydantic.json"))
    assert payload["class"] == f"{User.__module__}:User"
    assert payload["data"]["joined"] == "2020-01-02"
    assert payload["data"]["friend"]["name"] == "bob"
    got = store["user"]
    assert type(got) is User
    assert got == user


def test_row_dataclass(store: AutoStore, raw: Raw) -> None:
    run = sample_run()
    store["run"] = run
    assert raw.keys() == ["run.dataclass.json"]
    payload = json.loads(raw.read("run.dataclass.json"))
    assert payload["class"] == f"{Run.__module__}:Run"
    assert payload["data"]["points"] == [{"x": 0.0, "y": 1.5}, {"x": 2.0, "y": -1.0}]
    assert payload["data"]["color"] == "blue"
    assert payload["data"]["started"] == "2024-05-01T12:30:00+00:00"
    got = store["run"]
    assert type(got) is Run
    assert got == run
    assert type(got.points[0]) is Point and got.loss_by_epoch == {1: 0.5, 2: 0.25}


def test_row_str_to_txt(store: AutoStore, raw: Raw) -> None:
    text = 'line "one"\nlíne two\n<b>not json</b>'
    store["notes"] = text
    assert raw.keys() == ["notes.txt"]
    assert raw.read("notes.txt") == text.encode()  # as written, never JSON-quoted
    assert store["notes"] == text


@pytest.mark.parametrize(
    "array",
    [
        np.arange(24, dtype=np.float32).reshape(2, 3, 4),
        np.array([[1, -2], [3, 4]], dtype=np.int16),
        np.array([True, False]),
        np.array([1 + 2j, 3j], dtype=np.complex64),
        np.array(["ab", "cdé"]),
        np.array(["2024-01-01", "2024-02-29"], dtype="datetime64[D]"),
        np.asfortranarray(np.arange(6, dtype=np.uint8).reshape(2, 3)),
        np.zeros((0, 3)),
    ],
    ids=["f32-3d", "i16", "bool", "c64", "str", "datetime", "fortran", "empty"],
)
def test_row_ndarray_to_npy(store: AutoStore, raw: Raw, array: Any) -> None:
    store["arr"] = array
    assert raw.keys() == ["arr.npy"]
    on_disk = np.load(io.BytesIO(raw.read("arr.npy")), allow_pickle=False)
    got = store["arr"]
    for a in (on_disk, got):
        assert type(a) is np.ndarray
        assert a.dtype == array.dtype and a.shape == array.shape
        np.testing.assert_array_equal(a, array)


def test_dict_of_arrays_goes_to_npz(store: AutoStore, raw: Raw) -> None:
    # Our choice: a dict whose values are all numpy arrays is what np.savez stores.
    arrays = {"weights": np.ones((2, 3)), "bias": np.arange(3, dtype=np.int64), "file": np.zeros(1)}
    store["arrays"] = arrays
    assert raw.keys() == ["arrays.npz"]
    with np.load(io.BytesIO(raw.read("arrays.npz")), allow_pickle=False) as z:
        assert sorted(z.files) == ["bias", "file", "weights"]
        np.testing.assert_array_equal(z["bias"], arrays["bias"])
    got = store["arrays"]
    assert sorted(got) == ["bias", "file", "weights"]
    for k, v in arrays.items():
        assert got[k].dtype == v.dtype
        np.testing.assert_array_equal(got[k], v)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo", "bsr", "dia", "lil", "dok"])
def test_row_sparse_to_sparse(store: AutoStore, raw: Raw, fmt: str) -> None:
    matrix = sp.random(6, 8, density=0.3, format=fmt, random_state=1, dtype=np.float64)
    array = sp.random_array((4, 4), density=0.5, format=fmt, rng=2, dtype=np.float32)
    store["m"] = matrix
    store["a"] = array
    assert raw.keys() == ["a.sparse", "m.sparse"]
    # The bytes are scipy.sparse.save_npz content: scipy reads them without autostore.
    on_disk = sp.load_npz(io.BytesIO(raw.read("m.sparse")))
    np.testing.assert_array_equal(on_disk.toarray(), matrix.toarray())
    assert sp.issparse(on_disk) and not isinstance(on_disk, sp.sparray)
    assert isinstance(sp.load_npz(io.BytesIO(raw.read("a.sparse"))), sp.sparray)
    assert_sparse_equal(store["m"], matrix)
    assert_sparse_equal(store["a"], array)


def test_row_torch_tensor_to_pt(store: AutoStore, raw: Raw) -> None:
    tensor = torch.arange(12, dtype=torch.float16).reshape(3, 4)
    store["t"] = tensor
    assert raw.keys() == ["t.pt"]
    on_disk = torch.load(io.BytesIO(raw.read("t.pt")), weights_only=True)
    got = store["t"]
    for t in (on_disk, got):
        assert isinstance(t, torch.Tensor) and t.dtype == torch.float16
        assert torch.equal(t, tensor)


def test_row_state_dicts_to_pt_not_json(store: AutoStore, raw: Raw) -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.ones(2, 3)).sum().backward()
    optimizer.step()
    store["plain"] = OrderedDict(a=1)  # an OrderedDict of plain values first: still JSON
    store["weights"] = model.state_dict()  # an OrderedDict of tensors
    store["opt"] = optimizer.state_dict()  # nested dicts/lists with tensors and ints
    store["mixed"] = {"epoch": 3, "model": model.state_dict()}
    assert raw.keys() == ["mixed.pt", "opt.pt", "plain.json", "weights.pt"]
    assert json.loads(raw.read("plain.json")) == {"a": 1}
    on_disk = torch.load(io.BytesIO(raw.read("weights.pt")), weights_only=True)
    assert list(on_disk) == list(model.state_dict())
    got = store["weights"]
    assert list(got) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    fresh = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    fresh.load_state_dict(got)
    assert torch.equal(fresh(torch.ones(1, 3)), model(torch.ones(1, 3)))
    assert store["opt"]["param_groups"] == optimizer.state_dict()["param_groups"]
    assert torch.equal(store["opt"]["state"][0]["exp_avg"], optimizer.state_dict()["state"][0]["exp_avg"])
    assert store["mixed"]["epoch"] == 3


def test_row_torch_module_to_pt(store: AutoStore, raw: Raw) -> None:
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh())
    store["model"] = model
    assert raw.keys() == ["model.pt"]
    on_disk = torch.load(io.BytesIO(raw.read("model.pt")), weights_only=False)
    assert isinstance(on_disk, torch.nn.Sequential)
    got = store["model"]  # allowed by default (seed behaviour); see test_format_errors for the gate
    assert isinstance(got, torch.nn.Sequential)
    x = torch.ones(1, 2)
    assert torch.equal(got(x), model(x))


def test_row_pil_image_to_png(store: AutoStore, raw: Raw) -> None:
    img = image_rgb()
    store["picture"] = img
    assert raw.keys() == ["picture.png"]
    data = raw.read("picture.png")
    assert data.startswith(PNG_SIGNATURE)
    assert pixels_equal(Image.open(io.BytesIO(data)), img)
    got = store["picture"]
    assert isinstance(got, Image.Image) and got.format == "PNG"
    assert pixels_equal(got, img)


@pytest.mark.parametrize(
    "value",
    [Opaque(3), {1, 2, 3}, datetime.datetime(2024, 1, 1), b"raw bytes", 42, None],
    ids=["object", "set", "datetime", "bytes", "int", "none"],
)
def test_row_anything_else_to_pickle(store: AutoStore, raw: Raw, value: Any) -> None:
    store["thing"] = value
    assert raw.keys() == ["thing.pkl"]
    assert pickle.loads(raw.read("thing.pkl")) == value
    assert store["thing"] == value


# -- explicit extension decides the format ----------------------------------------------------
def test_ext_csv_is_real_csv_text(store: AutoStore, raw: Raw) -> None:
    df = pl.DataFrame({"name": ["a", "b,c", 'd"e'], "n": [1, 2, 3]})
    store["table.csv"] = df
    assert raw.keys() == ["table.csv"]
    rows = list(csv.reader(io.StringIO(raw.read("table.csv").decode())))
    assert rows == [["name", "n"], ["a", "1"], ["b,c", "2"], ['d"e', "3"]]
    assert_frame_equal(store["table.csv"], df)
    assert_frame_equal(store["table"], df)


@pytest.mark.parametrize("ext", [".parquet", ".pq"])
def test_ext_parquet(store: AutoStore, raw: Raw, ext: str) -> None:
    df = pl.DataFrame({"x": [1.0, 2.0]})
    store["t" + ext] = df.lazy()
    assert raw.read("t" + ext)[:4] == b"PAR1"
    assert_frame_equal(pl.read_parquet(io.BytesIO(raw.read("t" + ext))), df)
    assert_frame_equal(store["t" + ext], df)


def test_ext_json_and_jsonl(store: AutoStore, raw: Raw) -> None:
    records = [{"a": 1}, {"a": 2}]
    store["as_json.json"] = records  # a list of dicts, but the key says JSON
    store["as_jsonl.jsonl"] = records
    assert json.loads(raw.read("as_json.json")) == records
    assert raw.read("as_jsonl.jsonl") == b'{"a": 1}\n{"a": 2}\n'
    assert store["as_json"] == records
    assert store["as_jsonl"] == records


@pytest.mark.parametrize("ext", [".txt", ".html", ".md"])
def test_ext_text_written_as_is(store: AutoStore, raw: Raw, ext: str) -> None:
    text = '<h1>Title "quoted"</h1>\n# not json\n'
    store["page" + ext] = text
    assert raw.read("page" + ext) == text.encode()
    assert store["page"] == text


def test_ext_npy_and_npz(store: AutoStore, raw: Raw) -> None:
    arr = np.linspace(0, 1, 5)
    store["one.npy"] = arr
    store["many.npz"] = {"a": arr, "b": np.array([1, 2])}
    np.testing.assert_array_equal(np.load(io.BytesIO(raw.read("one.npy"))), arr)
    with np.load(io.BytesIO(raw.read("many.npz"))) as z:
        np.testing.assert_array_equal(z["b"], [1, 2])
    np.testing.assert_array_equal(store["one"], arr)
    many = store["many"]
    assert isinstance(many, dict) and sorted(many) == ["a", "b"]
    np.testing.assert_array_equal(many["a"], arr)


@pytest.mark.parametrize("kind", ["matrix", "array"])
def test_ext_npz_holding_sparse_reads_back_sparse(store: AutoStore, raw: Raw, kind: str) -> None:
    m = sp.csr_matrix(np.eye(4)) if kind == "matrix" else sp.csc_array(np.eye(3) * 2)
    store["m.npz"] = m
    with zipfile.ZipFile(io.BytesIO(raw.read("m.npz"))) as z:
        assert {"format.npy", "shape.npy", "data.npy"} <= set(z.namelist())
    assert_sparse_equal(sp.load_npz(io.BytesIO(raw.read("m.npz"))), m)
    assert_sparse_equal(store["m"], m)


@pytest.mark.parametrize("ext", [".sparse", ".sparse.npz"])
def test_ext_sparse(store: AutoStore, raw: Raw, ext: str) -> None:
    m = sp.lil_array((3, 5), dtype=np.int32)
    m[0, 1] = 7
    m[2, 4] = -1
    store["m" + ext] = m
    assert raw.keys() == ["m" + ext]
    np.testing.assert_array_equal(sp.load_npz(io.BytesIO(raw.read("m" + ext))).toarray(), m.toarray())
    assert_sparse_equal(store["m"], m)


@pytest.mark.parametrize("ext", [".pt", ".pth"])
def test_ext_torch(store: AutoStore, raw: Raw, ext: str) -> None:
    checkpoint = {"epoch": 2, "weights": torch.ones(2, 2), "name": "run-1", "sizes": [1, 2]}
    store["ckpt" + ext] = checkpoint
    on_disk = torch.load(io.BytesIO(raw.read("ckpt" + ext)), weights_only=True)
    got = store["ckpt"]
    for c in (on_disk, got):
        assert c["epoch"] == 2 and c["name"] == "run-1" and c["sizes"] == [1, 2]
        assert torch.equal(c["weights"], torch.ones(2, 2))


IMAGE_MAGIC = {
    ".png": lambda b: b.startswith(PNG_SIGNATURE),
    ".jpg": lambda b: b.startswith(b"\xff\xd8\xff"),
    ".jpeg": lambda b: b.startswith(b"\xff\xd8\xff"),
    ".webp": lambda b: b[:4] == b"RIFF" and b[8:12] == b"WEBP",
    ".bmp": lambda b: b.startswith(b"BM"),
    ".tiff": lambda b: b[:4] in (b"II*\x00", b"MM\x00*"),
    ".tif": lambda b: b[:4] in (b"II*\x00", b"MM\x00*"),
}


@pytest.mark.parametrize("ext", list(IMAGE_MAGIC))
def test_ext_images(store: AutoStore, raw: Raw, ext: str) -> None:
    img = Image.new("RGB", (16, 8), (120, 60, 30))
    store["pic" + ext] = img
    data = raw.read("pic" + ext)
    assert IMAGE_MAGIC[ext](data), data[:12]
    got = store["pic"]
    assert isinstance(got, Image.Image) and got.size == (16, 8) and got.mode == "RGB"
    assert Image.open(io.BytesIO(data)).size == (16, 8)
    if ext in (".jpg", ".jpeg", ".webp"):  # lossy with Pillow's defaults
        diff = np.abs(np.asarray(got, dtype=int) - np.asarray(img, dtype=int))
        assert diff.max() <= 8
    else:
        assert pixels_equal(got, img)


def test_ext_gif_palette_image(store: AutoStore, raw: Raw) -> None:
    img = Image.new("P", (6, 6), 3)
    img.putpalette([i % 256 for i in range(768)])
    store["anim.gif"] = img
    assert raw.read("anim.gif")[:6] in (b"GIF87a", b"GIF89a")
    got = store["anim"]
    assert got.mode == "P" and got.size == (6, 6)
    assert got.convert("RGB").tobytes() == img.convert("RGB").tobytes()  # Pillow may renumber the palette


@pytest.mark.parametrize("ext", [".yaml", ".yml"])
def test_ext_yaml_is_yaml_text(store: AutoStore, raw: Raw, ext: str) -> None:
    config = {
        "name": "démo",
        "layers": [64, 32],
        "nested": {"lr": 0.001, "on": True},
        "when": datetime.date(2024, 1, 2),
    }
    store["config" + ext] = config
    text = raw.read("config" + ext).decode()
    assert text == "name: démo\nlayers:\n- 64\n- 32\nnested:\n  lr: 0.001\n  'on': true\nwhen: 2024-01-02\n"
    assert yaml.safe_load(text) == config
    assert store["config"] == config


@pytest.mark.parametrize("ext", [".pkl", ".pickle"])
def test_ext_pickle(store: AutoStore, raw: Raw, ext: str) -> None:
    value = {"any": Opaque(5), "frame": pl.DataFrame({"a": [1]})}
    store["obj" + ext] = value
    assert pickle.loads(raw.read("obj" + ext))["any"] == Opaque(5)
    got = store["obj"]
    assert got["any"] == Opaque(5)
    assert_frame_equal(got["frame"], value["frame"])


def test_explicit_extension_beats_type(store: AutoStore, raw: Raw) -> None:
    store["arr.pkl"] = np.arange(3)
    store["d.yaml"] = {"a": 1}
    store["s.json"] = "a string"
    store["t.pkl"] = torch.ones(1)
    assert raw.keys() == ["arr.pkl", "d.yaml", "s.json", "t.pkl"]
    assert raw.read("s.json") == b'"a string"'
    np.testing.assert_array_equal(store["arr"], np.arange(3))
    assert store["s"] == "a string"


# -- format override ----------------------------------------------------------------------------
def test_format_override_on_read(store: AutoStore, raw: Raw) -> None:
    raw.write("data.txt", b"a,b\n1,2\n3,4\n")
    df = store.read("data.txt", format="csv")
    assert_frame_equal(df, pl.DataFrame({"a": [1, 3], "b": [2, 4]}))
    assert store.read("data", format=".CSV").height == 2
    assert store["data.txt"] == "a,b\n1,2\n3,4\n"  # without the override: the extension decides
    raw.write("export.dat", b'{"k": [1]}')  # an extension no handler knows
    assert store.read("export.dat", format="json") == {"k": [1]}
    store["frame.parquet"] = pl.DataFrame({"v": [1]})
    assert store.read("frame.parquet", format="parquet").height == 1


def test_format_override_on_write(store: AutoStore, raw: Raw) -> None:
    df = pl.DataFrame({"a": [1, 2]})
    assert store.write("report", df, format="csv") == "report.csv"
    assert store.write("settings", {"debug": False}, format=".yaml") == "settings.yaml"
    assert store.write("notes.txt", {"a": [1]}, format="yaml") == "notes.txt"  # the key keeps its name
    assert store.write("user", User(name="x", age=1, joined=datetime.date(2024, 1, 1)), format="pydantic.json") == (
        "user.pydantic.json"
    )
    assert raw.keys() == ["notes.txt", "report.csv", "settings.yaml", "user.pydantic.json"]
    assert raw.read("report.csv") == b"a\n1\n2\n"
    assert yaml.safe_load(raw.read("settings.yaml")) == {"debug": False}
    assert raw.read("notes.txt") == b"a:\n- 1\n"
    assert_frame_equal(store["report"], df)
    assert store["settings"] == {"debug": False}
    assert store.read("notes.txt", format="yaml") == {"a": [1]}
    assert store["user"].name == "x"


def test_choice_follows_each_value_not_its_type(store: AutoStore, raw: Raw) -> None:
    # An object array is a pickle inside: by type it goes to .pkl, while the next numeric
    # array of the same Python type still goes to .npy (the choice is never cached by type).
    store["objs"] = np.array([{"a": 1}, None], dtype=object)
    store["nums"] = np.arange(3)
    assert raw.keys() == ["nums.npy", "objs.pkl"]
    assert store["objs"][0] == {"a": 1}
