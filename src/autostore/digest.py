"""A canonical, stable encoding of Python values, and its digest: the arguments part of a
memoize key (:mod:`autostore.memoize`).

Equal values give equal bytes in every process, on every machine and in every Python run: no
``hash()``, no ``id()``, no ``repr()`` of sets. Each value is a type tag plus a self-delimiting
payload, so ``[1, "2"]`` and ``["1", 2]`` (or ``1``, ``1.0``, ``True`` and ``"1"``) never
collide. Dicts and sets are sorted by their elements' encodings (insertion order is irrelevant).

Supported: None, bool, int, float, complex, str, bytes, bytearray, list, tuple (and named tuples),
dict, set, frozenset, range, Decimal, Fraction, UUID, enums, dates, times, datetimes, timedeltas,
``pathlib`` paths (by their text), classes (by qualified name), dataclass instances, pydantic
models, numpy arrays (dtype + shape + bytes), numpy scalars and dtypes, polars DataFrames and
Series (schema + content), and :class:`~autostore.AutoPath` (URI + ETag of the file, or of every
file below a folder: a changed input means a new digest). Anything else raises
:class:`Unencodable` naming where in the value it sits.
"""

from __future__ import annotations

import ast
import dataclasses
import datetime as dt
import decimal
import enum
import fractions
import functools
import hashlib
import inspect
import textwrap
import types
import uuid
from collections.abc import Callable
from pathlib import PurePath, PureWindowsPath
from typing import Any

from .errors import NotFound
from .formats.base import might_be
from .uri import folder_key

__all__ = ["Unencodable", "autopath_state", "backend_state", "code_fingerprint", "digest", "encode"]

#: Buffers larger than this are replaced by their SHA-256 in the encoding (no copy of big arrays).
_BIG = 64 * 1024


class Unencodable(TypeError):
    """A value with no stable encoding. ``path`` locates it inside the encoded value
    (``["[2]", ".model"]``); ``type_name`` and ``reason`` say what it was and why."""

    def __init__(self, value: Any, reason: str = "") -> None:
        cls = type(value)
        self.type_name = f"{cls.__module__}.{cls.__qualname__}"
        self.reason = reason
        self.path: list[str] = []
        super().__init__(f"no stable encoding for a {self.type_name}{': ' + reason if reason else ''}")

    def where(self) -> str:
        """``columns[2]``: the parameter, then the place inside its value."""
        return "".join(self.path)


def _blob(tag: bytes, data: bytes | memoryview) -> bytes:
    if len(data) > _BIG:
        return tag + b"#" + hashlib.sha256(data).digest()
    return tag + str(len(data)).encode() + b":" + bytes(data)


def _name(cls: type) -> bytes:
    return f"{cls.__module__}.{cls.__qualname__}".encode()


def _int(v: int) -> bytes:
    return _blob(b"i", v.to_bytes((v.bit_length() + 8) // 8, "little", signed=True))


class _Encoder:
    """Appends the encoding of values to ``out``."""

    def __init__(self) -> None:
        self.out: list[bytes] = []
        self._active: set[int] = set()  # containers being encoded: a cycle has no encoding

    def bytes_of(self, value: Any) -> bytes:
        """The encoding of ``value`` alone (for sorting dict items and set elements)."""
        saved, self.out = self.out, []
        try:
            self.value(value)
            return b"".join(self.out)
        finally:
            self.out = saved

    def value(self, v: Any) -> None:
        handler = _EXACT.get(type(v))
        if handler is not None:
            handler(self, v)
        else:
            self._other(v)

    # -- containers -----------------------------------------------------------------------------
    def _enter(self, v: Any) -> None:
        if id(v) in self._active:
            raise Unencodable(v, "it contains itself")
        self._active.add(id(v))

    def seq(self, tag: bytes, items: Any) -> None:
        self._enter(items)
        try:
            self.out.append(tag + str(len(items)).encode() + b":")
            for i, item in enumerate(items):
                try:
                    self.value(item)
                except Unencodable as exc:
                    exc.path.insert(0, f"[{i}]")
                    raise
        finally:
            self._active.discard(id(items))

    def mapping(self, tag: bytes, d: Any) -> None:
        self._enter(d)
        try:
            pairs = []
            for k, val in d.items():
                try:
                    pairs.append((self.bytes_of(k), self.bytes_of(val)))
                except Unencodable as exc:
                    exc.path.insert(0, f"[{k!r}]"[:60])
                    raise
            pairs.sort()
            self.out.append(tag + str(len(pairs)).encode() + b":")
            for kb, vb in pairs:
                self.out.append(kb)
                self.out.append(vb)
        finally:
            self._active.discard(id(d))

    def unordered(self, tag: bytes, s: Any) -> None:
        self._enter(s)
        try:
            encoded = sorted(self.bytes_of(x) for x in s)
        finally:
            self._active.discard(id(s))
        self.out.append(tag + str(len(encoded)).encode() + b":")
        self.out.extend(encoded)

    def fields(self, tag: bytes, cls: type, items: list[tuple[str, Any]]) -> None:
        self.out.append(_blob(tag, _name(cls)) + str(len(items)).encode() + b":")
        for name, val in items:
            self.out.append(_blob(b"s", name.encode()))
            try:
                self.value(val)
            except Unencodable as exc:
                exc.path.insert(0, f".{name}")
                raise

    # -- everything that is not an exact builtin type -------------------------------------------
    def _other(self, v: Any) -> None:
        out = self.out
        if isinstance(v, enum.Enum):
            out.append(_blob(b"e", _name(type(v))) + _blob(b"s", v.name.encode()))
        elif isinstance(v, type):
            out.append(_blob(b"k", _name(v)))
        elif might_be(v, "numpy"):
            self._numpy(v)
        elif might_be(v, "polars"):
            self._polars(v)
        elif might_be(v, "autostore") and _is_autopath(v):
            out.append(_blob(b"A", str(v).encode()))
            out.append(autopath_state(v))
        elif isinstance(v, PurePath):
            flavour = b"w:" if isinstance(v, PureWindowsPath) else b"p:"
            out.append(_blob(b"p", flavour + str(v).encode("utf-8", "surrogatepass")))
        elif dataclasses.is_dataclass(v):
            self.fields(b"c", type(v), [(f.name, getattr(v, f.name)) for f in dataclasses.fields(v)])
        elif might_be(v, "pydantic") and hasattr(type(v), "model_fields"):
            self.fields(b"P", type(v), list(v))  # iterating a model gives (field, value), extras too
        elif isinstance(v, tuple) and hasattr(type(v), "_fields"):  # a named tuple
            self.fields(b"n", type(v), list(zip(type(v)._fields, v, strict=True)))  # type: ignore[attr-defined]
        elif isinstance(v, (bool, int, float, complex, str, bytes, bytearray, list, tuple, dict, set, frozenset)):
            # A subclass of a builtin (OrderedDict, a str subclass): its class name, then the value.
            out.append(_blob(b"x", _name(type(v))))
            base = next(b for b in _EXACT if isinstance(v, b) and b is not type(None))
            _EXACT[base](self, v)
        elif isinstance(v, (dt.date, dt.time, dt.timedelta)):  # subclasses (pandas.Timestamp, ...)
            out.append(_blob(b"x", _name(type(v))))
            base = dt.datetime if isinstance(v, dt.datetime) else type(v).__mro__[-2]
            _EXACT[base](self, v)
        elif v is Ellipsis:
            out.append(b".")
        elif isinstance(v, types.CodeType):
            out.append(_blob(b"C", _code_bytes(v)))
        else:
            raise Unencodable(v, _HINTS.get(type(v).__name__, ""))

    def _numpy(self, v: Any) -> None:
        import numpy as np

        if isinstance(v, np.ndarray):
            shape = ",".join(map(str, v.shape)).encode()
            if v.dtype.hasobject:
                self.out.append(_blob(b"O", shape))
                self.seq(b"l", v.ravel().tolist())
                return
            dtype = str(v.dtype.descr) if v.dtype.fields is not None else v.dtype.str
            self.out.append(_blob(b"a", f"{dtype}|{type(v).__name__}".encode()) + _blob(b"", shape))
            self.out.append(_blob(b"", np.ascontiguousarray(v).view(np.uint8).data))
        elif isinstance(v, np.generic) and not v.dtype.hasobject:
            self.out.append(_blob(b"g", v.dtype.str.encode()) + _blob(b"", v.tobytes()))
        elif isinstance(v, np.dtype):
            self.out.append(_blob(b"t", str(v.descr if v.fields is not None else v.str).encode()))
        else:
            raise Unencodable(v)

    def _polars(self, v: Any) -> None:
        import polars as pl

        if isinstance(v, pl.DataFrame):
            self.out.append(_blob(b"F", _schema(v.schema)) + _int(v.height))
            if v.width:
                self.out.append(_blob(b"", _frame_rows(v)))
        elif isinstance(v, pl.Series):
            self.out.append(_blob(b"G", _schema({v.name: v.dtype})) + _int(len(v)))
            self.out.append(_blob(b"", _frame_rows(v.to_frame())))
        elif isinstance(v, pl.LazyFrame):
            raise Unencodable(v, "a LazyFrame is a query, not data; collect() it or pass what it reads")
        else:
            raise Unencodable(v)


def _schema(schema: Any) -> bytes:
    return "\x00".join(f"{name}\x01{dtype}" for name, dtype in schema.items()).encode("utf-8", "surrogatepass")


def _frame_rows(frame: Any) -> memoryview:
    """A 64-bit hash per row (polars' hash_rows, fixed seed: equal across processes for one polars
    version; another version can only give another digest, i.e. a recomputation)."""
    import polars as pl

    # Categoricals hash by their physical codes, which depend on the order strings were seen in.
    cats = [n for n, t in frame.schema.items() if isinstance(t, (pl.Categorical, pl.Enum))]
    if cats:
        frame = frame.with_columns(pl.col(cats).cast(pl.String))
    try:
        hashes = frame.hash_rows(seed=0)
    except Exception as exc:
        raise Unencodable(frame, f"polars cannot hash its rows ({type(exc).__name__})") from None
    return memoryview(hashes.to_numpy().tobytes())


def _is_autopath(v: Any) -> bool:
    from .path import AutoPath

    return isinstance(v, AutoPath)


def autopath_state(path: Any) -> bytes:
    """What identifies the content behind an AutoPath (see :func:`backend_state`)."""
    return backend_state(*path._io())


def backend_state(backend: Any, key: str) -> bytes:
    """What identifies the content at ``key``: its ETag (local files: mtime + size), the sorted
    (key, ETag) of every file below it when it is a folder, or "missing". One HEAD (or listing)."""
    try:
        meta = backend.head(key) if key else None
    except NotFound:
        meta = None
    if meta is not None:
        return _blob(b"1", f"{meta.etag}|{meta.size}".encode())
    prefix = folder_key(key)
    listed = sorted(f"{m.key[len(prefix) :]}\x01{m.etag}\x01{m.size}" for m in backend.list_objects(prefix))
    if not listed:
        return b"0"
    return _blob(b"L", "\x00".join(listed).encode("utf-8", "surrogatepass"))


_HINTS = {
    "function": "functions are not hashed by their code",
    "builtin_function_or_method": "functions are not hashed by their code",
    "method": "bound methods carry their object",
    "generator": "a generator can be consumed only once",
}


def _date(e: _Encoder, v: Any) -> None:
    e.out.append(_blob(b"D", v.isoformat().encode()))


def _tz(v: dt.datetime | dt.time) -> str:
    tz = v.tzinfo
    return "" if tz is None else str(getattr(tz, "key", None) or tz)


def _datetime(e: _Encoder, v: Any) -> None:
    e.out.append(_blob(b"W", f"{v.isoformat()}|{_tz(v)}".encode()))


def _time(e: _Encoder, v: Any) -> None:
    e.out.append(_blob(b"h", f"{v.isoformat()}|{_tz(v)}".encode()))


def _timedelta(e: _Encoder, v: Any) -> None:
    e.out.append(_blob(b"g", f"{v.days},{v.seconds},{v.microseconds}".encode()))


_EXACT: dict[type, Callable[[_Encoder, Any], None]] = {
    type(None): lambda e, v: e.out.append(b"N"),
    bool: lambda e, v: e.out.append(b"T" if v else b"F"),
    int: lambda e, v: e.out.append(_int(int(v))),
    float: lambda e, v: e.out.append(_blob(b"f", repr(float(v)).encode())),
    complex: lambda e, v: e.out.append(_blob(b"j", repr(complex(v)).encode())),
    str: lambda e, v: e.out.append(_blob(b"s", str.encode(v, "utf-8", "surrogatepass"))),
    bytes: lambda e, v: e.out.append(_blob(b"b", v)),
    bytearray: lambda e, v: e.out.append(_blob(b"y", bytes(v))),
    list: lambda e, v: e.seq(b"l", v),
    tuple: lambda e, v: e.seq(b"t", v),
    dict: lambda e, v: e.mapping(b"d", v),
    set: lambda e, v: e.unordered(b"S", v),
    frozenset: lambda e, v: e.unordered(b"Z", v),
    range: lambda e, v: e.out.append(b"r" + _int(v.start) + _int(v.stop) + _int(v.step)),
    dt.date: _date,
    dt.datetime: _datetime,
    dt.time: _time,
    dt.timedelta: _timedelta,
    decimal.Decimal: lambda e, v: e.out.append(_blob(b"m", str(v).encode())),
    fractions.Fraction: lambda e, v: e.out.append(b"q" + _int(v.numerator) + _int(v.denominator)),
    uuid.UUID: lambda e, v: e.out.append(_blob(b"u", v.bytes)),
}


def encode(value: Any) -> bytes:
    """The canonical encoding of ``value`` (Unencodable when it has none)."""
    e = _Encoder()
    e.value(value)
    return b"".join(e.out)


@functools.lru_cache(maxsize=1024)
def _name_blob(name: str) -> bytes:
    return _blob(b"s", name.encode())


def digest(items: list[tuple[str, Any]], salt: bytes = b"") -> str:
    """Hex SHA-256 (32 digits) of named values, e.g. a function's bound arguments. Unencodable
    carries the name in its ``path`` (``columns[2]``)."""
    e = _Encoder()
    e.out.append(salt)
    for name, value in items:
        e.out.append(_name_blob(name))
        try:
            e.value(value)
        except Unencodable as exc:
            exc.path.insert(0, name)
            raise
    return hashlib.sha256(b"".join(e.out)).hexdigest()[:32]


# -- code -------------------------------------------------------------------------------------------
def code_fingerprint(func: Callable[..., Any]) -> str:
    """What identifies a function's code: its normalized source (the syntax tree without
    decorators, docstring, comments and formatting), else its bytecode (no source: a REPL,
    ``exec``); ``"src:"``/``"code:"`` + 16 hex digits."""
    func = inspect.unwrap(func)
    code = getattr(func, "__code__", None)
    if func.__name__ != "<lambda>":
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
            node = tree.body[0]
        except (OSError, TypeError, SyntaxError, IndexError):
            node = None
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            node.decorator_list = []
            body = node.body
            first = body[0].value if body and isinstance(body[0], ast.Expr) else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str) and len(body) > 1:
                node.body = body[1:]  # the docstring
            text = ast.dump(node, annotate_fields=False, include_attributes=False)
            return "src:" + hashlib.sha256(text.encode()).hexdigest()[:16]
    if code is None:
        raise Unencodable(func, "no source and no bytecode; give version=")
    return "code:" + hashlib.sha256(_code_bytes(code, func.__doc__)).hexdigest()[:16]


def _code_bytes(code: types.CodeType, doc: str | None = None) -> bytes:
    """Bytecode, constants (nested functions included) and names: not line numbers, file names
    or the docstring ``doc``."""
    consts = code.co_consts
    if doc is not None and consts[:1] == (doc,):
        consts = consts[1:]
    e = _Encoder()
    e.value(code.co_code)
    e.value(consts)
    e.value(code.co_names)
    e.value(code.co_varnames)
    e.value(code.co_freevars)
    e.value((code.co_argcount, code.co_kwonlyargcount, code.co_posonlyargcount, code.co_flags))
    return b"".join(e.out)
