"""Custom data handlers: the seed's "Custom Data Handlers" example as written, priorities for the
same extension or value type, the README's XML example, and what a handler is given."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, ClassVar

import pytest

import autostore
from autostore import AutoStore
from autostore.autostore import DataHandler
from conftest import Raw


# ---- the seed's example, unchanged except for `import json` above (the seed forgot it) ----------
class CustomLogHandler(DataHandler):
    def can_handle_extension(self, extension: str) -> bool:
        return extension.lower() == ".log"

    def can_handle_data(self, data) -> bool:  # type: ignore[no-untyped-def]
        return isinstance(data, list) and all(isinstance(item, dict) and "timestamp" in item for item in data)

    def read_from_file(self, file_path: Path, file_extension: str):  # type: ignore[no-untyped-def]
        logs = []
        with open(file_path, "r") as f:  # noqa: UP015 - as in the seed
            for line in f:
                if line.strip():
                    logs.append(json.loads(line))
        return logs

    def write_to_file(self, data, file_path: Path, file_extension: str):  # type: ignore[no-untyped-def]
        file_path.parent.mkdir(parents=True, exist_ok=True)
        with open(file_path, "w") as f:
            for entry in data:
                f.write(json.dumps(entry) + "\n")

    @property
    def extensions(self):  # type: ignore[no-untyped-def]
        return [".log"]

    @property
    def priority(self):  # type: ignore[no-untyped-def]
        return 15


# -------------------------------------------------------------------------------------------------


# ---- the README's XML example ---------------------------------------------------------------------
class XMLHandler(DataHandler):
    """xml.etree Elements <-> .xml files."""

    @property
    def extensions(self) -> list[str]:
        return [".xml"]

    @property
    def priority(self) -> int:
        return 20  # above the built-in text handler, which also reads .xml as str

    def can_handle_extension(self, extension: str) -> bool:
        return extension == ".xml"

    def can_handle_data(self, data: Any) -> bool:
        return isinstance(data, ET.Element)

    def read_from_file(self, file_path: Path, file_extension: str) -> Any:
        return ET.parse(file_path).getroot()

    def write_to_file(self, data: Any, file_path: Path, file_extension: str) -> None:
        ET.ElementTree(data).write(file_path, encoding="utf-8", xml_declaration=True)


# -------------------------------------------------------------------------------------------------


EVENTS = [{"timestamp": "2024-01-01T00:00:00", "msg": "start"}, {"timestamp": "2024-01-01T00:01:00", "msg": "stop"}]


def test_seed_custom_log_handler(store: AutoStore, raw: Raw) -> None:
    store.register_handler(CustomLogHandler())
    store["events"] = EVENTS  # a list of dicts with timestamps: .log (15) beats .jsonl (6)
    store["app.log"] = EVENTS[:1]
    store["records"] = [{"no": "timestamp"}]  # still JSON Lines
    assert raw.keys() == ["app.log", "events.log", "records.jsonl"]
    assert [json.loads(line) for line in raw.read("events.log").decode().splitlines()] == EVENTS
    assert store["events"] == EVENTS
    assert store["app"] == EVENTS[:1]
    assert store["records"] == [{"no": "timestamp"}]


def test_handlers_are_per_store(store: AutoStore, raw: Raw) -> None:
    store.register_handler(CustomLogHandler())
    other = AutoStore(store.uri, options=store.options)
    other["plain.log"] = "a text log line\n"  # the built-in text handler owns .log here
    assert raw.read("plain.log") == b"a text log line\n"
    other["events"] = EVENTS
    assert raw.keys() == ["events.jsonl", "plain.log"]
    store.write("x.log", EVENTS)
    assert other["x.log"] == raw.read("x.log").decode()  # read as text by the other store
    assert store["x.log"] == EVENTS


def test_higher_priority_wins_for_extension(store: AutoStore, raw: Raw) -> None:
    class Low(CustomLogHandler):
        @property
        def priority(self) -> int:
            return 1  # below the built-in text handler (5)

    store.register_handler(Low())
    store["low.log"] = "plain text"
    assert raw.read("low.log") == b"plain text"
    assert store["low.log"] == "plain text"
    store.register_handler(CustomLogHandler())
    store["high.log"] = EVENTS
    assert store["high.log"] == EVENTS


def test_equal_priority_newest_registration_wins(store: AutoStore) -> None:
    class Upper(DataHandler):
        def __init__(self, tag: str) -> None:
            self.tag = tag

        extensions: ClassVar[list[str]] = [".up"]  # a class attribute works as well as a property
        priority = 12

        def can_handle_extension(self, extension: str) -> bool:
            return extension == ".up"

        def can_handle_data(self, data: Any) -> bool:
            return isinstance(data, str) and data.isupper()

        def read_from_file(self, file_path: Path, file_extension: str) -> Any:
            return self.tag + ":" + file_path.read_text()

        def write_to_file(self, data: Any, file_path: Path, file_extension: str) -> None:
            file_path.write_text(data)

    store.register_handler(Upper("first"))
    store.register_handler(Upper("second"))
    store["shout"] = "HELLO"  # by type: beats the text handler
    assert store["shout"] == "second:HELLO"
    store["quiet"] = "hello"
    assert store["quiet"] == "hello"


def test_higher_priority_wins_for_type(store: AutoStore, raw: Raw) -> None:
    class SortedJSON(DataHandler):
        extensions: ClassVar[list[str]] = [".sorted.json"]
        priority = 6  # above the built-in JSON handler (5)
        supports_bytes = True

        def can_handle_extension(self, extension: str) -> bool:
            return extension == ".sorted.json"

        def can_handle_data(self, data: Any) -> bool:
            return isinstance(data, dict)

        def read_from_bytes(self, data: bytes, file_extension: str) -> Any:
            return json.loads(data)

        def write_to_bytes(self, data: Any, file_extension: str) -> bytes:
            return json.dumps(data, sort_keys=True).encode()

        def read_from_file(self, file_path: Path, file_extension: str) -> Any:
            return json.loads(file_path.read_bytes())

        def write_to_file(self, data: Any, file_path: Path, file_extension: str) -> None:
            file_path.write_bytes(self.write_to_bytes(data, file_extension))

    store.register_handler(SortedJSON())
    store["cfg"] = {"b": 1, "a": 2}
    assert raw.keys() == ["cfg.sorted.json"]
    assert raw.read("cfg.sorted.json") == b'{"a": 2, "b": 1}'
    assert store["cfg"] == {"a": 2, "b": 1}
    assert store.keys() == ["cfg"]


def test_readme_xml_handler(store: AutoStore, raw: Raw) -> None:
    store.register_handler(XMLHandler())
    root = ET.Element("config", version="2")
    ET.SubElement(root, "item", name="a").text = "1"
    store["settings"] = root
    assert raw.keys() == ["settings.xml"]
    assert raw.read("settings.xml").startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    got = store["settings"]
    assert got.tag == "config" and got.get("version") == "2"
    assert got.find("item").text == "1"  # type: ignore[union-attr]
    assert store.read("settings.xml", format="txt").endswith("</config>")  # override: plain text


def test_handler_gets_a_local_path(store: AutoStore, raw: Raw) -> None:
    seen: dict[str, Path] = {}

    class Recorder(CustomLogHandler):
        def read_from_file(self, file_path: Path, file_extension: str):  # type: ignore[no-untyped-def]
            seen["read"] = file_path
            return super().read_from_file(file_path, file_extension)

        def write_to_file(self, data, file_path: Path, file_extension: str):  # type: ignore[no-untyped-def]
            seen["write"] = file_path
            return super().write_to_file(data, file_path, file_extension)

    store.register_handler(Recorder())
    store["deep/events"] = EVENTS
    assert store["deep/events"] == EVENTS
    assert seen["write"].name.endswith("events.log")  # a temporary file named like the key
    if store.uri.startswith("s3://"):
        assert not seen["read"].exists()  # a temporary download, removed after reading
    else:
        assert seen["read"] == Path(store.uri) / "deep" / "events.log"  # the file itself, no copy
    assert raw.keys() == ["deep/events.log"]


def test_register_handler_rejects_non_handlers(store: AutoStore) -> None:
    with pytest.raises(TypeError, match="DataHandler"):
        store.register_handler(object())  # type: ignore[arg-type]


def test_datahandler_exported() -> None:
    assert autostore.DataHandler is DataHandler
    with pytest.raises(TypeError):
        DataHandler()  # type: ignore[abstract]
