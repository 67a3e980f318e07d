"""DataHandler (the format protocol of 0.1.x) and the handler registry.

A handler converts between Python values and files; it never knows where the bytes live.
Handlers whose values are small and cheap to encode in memory (JSON, text) also implement
``read_from_bytes``/``write_to_bytes`` so object stores skip the temporary file.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from ..errors import ConfigError, MissingDependency, UnsafeLoad, UnsupportedFormat

__all__ = [
    "DataHandler",
    "HandlerRegistry",
    "check_read_options",
    "first_line",
    "is_os_error",
    "might_be",
    "os_error",
    "read_option",
    "reading_with",
    "refuse_unsafe",
    "require",
    "unsafe_loads",
    "unsafe_loads_allowed",
]

# Set by the store around every read, from Options.allow_pickle, so handlers whose files are
# only sometimes unsafe (a torch checkpoint holding a whole nn.Module, an object .npy) can ask.
UNSAFE_ALLOWED: ContextVar[bool | None] = ContextVar("autostore_unsafe_allowed", default=None)
# Keyword options of the current ``store.read(key, mmap=True, sheet=...)``, set by the store
# around the handler call (the handler protocol keeps its 0.1.x two-argument signature).
_READ_OPTIONS: ContextVar[dict[str, Any] | None] = ContextVar("autostore_read_options", default=None)


_MIGHT_BE: dict[tuple[type, str], bool] = {}


def might_be(value: object, module: str) -> bool:
    """True when ``value``'s type comes from ``module`` (without importing ``module``)."""
    cls = type(value)
    try:
        return _MIGHT_BE[cls, module]  # asked for every value written: remembered per type
    except KeyError:
        found = _MIGHT_BE[cls, module] = any(c.__module__.split(".", 1)[0] == module for c in cls.__mro__)
        return found


def require(module: str, extra: str | None, what: str) -> Any:
    """Import an optional ``module`` or raise MissingDependency naming the extra to install."""
    top = module.split(".")[0]
    hint = f'pip install "autostore[{extra}]"' if extra else f"pip install {top}"
    try:
        found = importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):  # an import hook refusing it, or sys.modules[top] = None
        found = False
    if not found:
        raise MissingDependency(f"{what} needs {top}: {hint}.")
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.split(".")[0] != top:
            raise  # the library is there but one of *its* dependencies is missing: show that
        raise MissingDependency(f"{what} needs {top}: {hint}.") from None


_OS_ERROR_RE = re.compile(r"\(os error (\d+)\)")


def _errno_of(exc: BaseException) -> int | None:
    """The errno of an operating-system error: ``exc.errno``, or the "(os error N)" that polars
    (Rust) puts in its messages."""
    code = getattr(exc, "errno", None)
    if isinstance(code, int):
        return code
    found = _OS_ERROR_RE.search(str(exc))
    return int(found.group(1)) if found else None


def is_os_error(exc: BaseException) -> bool:
    """True when ``exc`` reports the operating system failing (no such file, permission denied,
    disk full), not bad data: an OSError with an errno, a builtin OSError subclass such as
    FileNotFoundError, or a library error wrapping "(os error N)". Handlers catching OSError for
    format problems (Pillow, torch) re-raise these untouched."""
    if isinstance(exc, OSError) and type(exc) is not OSError and type(exc).__module__ == "builtins":
        return True
    return _errno_of(exc) is not None


def os_error(exc: BaseException, doing: str) -> OSError:
    """An OSError of the matching builtin class (PermissionError for EACCES, ...) saying what
    failed: ``"[Errno 28] Cannot write /x/a.json: No space left on device"``."""
    code = _errno_of(exc)
    if code is not None:
        reason = getattr(exc, "strerror", None) or os.strerror(code)
        return OSError(code, f"{doing}: {reason}")  # OSError(errno, ...) picks the subclass
    cls = type(exc) if isinstance(exc, OSError) and type(exc).__module__ == "builtins" else OSError
    return cls(f"{doing}: {exc}")


def unsafe_loads_allowed() -> bool:
    """May the current read execute code (pickle)? The store's ``allow_pickle``; outside a store
    read, ``AUTOSTORE_ALLOW_PICKLE`` (default: allowed, as in 0.1.x)."""
    allowed = UNSAFE_ALLOWED.get()
    if allowed is None:
        from ..options import Options

        return Options().pickle_allowed
    return allowed


@contextlib.contextmanager
def unsafe_loads(allowed: bool) -> Iterator[None]:
    """Within the block, :func:`unsafe_loads_allowed` returns ``allowed``."""
    token = UNSAFE_ALLOWED.set(allowed)
    try:
        yield
    finally:
        UNSAFE_ALLOWED.reset(token)


def first_line(exc: BaseException, limit: int = 300) -> str:
    """The first line of an exception's message (its type name when empty), for error texts."""
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:limit]


def read_option(name: str, default: Any = None) -> Any:
    """A keyword option of the current ``store.read(...)`` (``mmap``, ``sheet``, ...); only
    options named in the handler's ``read_options`` ever reach it."""
    options = _READ_OPTIONS.get()
    return default if options is None else options.get(name, default)


@contextlib.contextmanager
def reading_with(options: dict[str, Any]) -> Iterator[None]:
    """Within the block, :func:`read_option` answers from ``options``."""
    token = _READ_OPTIONS.set(options)
    try:
        yield
    finally:
        _READ_OPTIONS.reset(token)


def check_read_options(
    registry: HandlerRegistry, handler: DataHandler, ext: str, options: dict[str, Any], *, uri: str = ""
) -> None:
    """ConfigError when ``options`` holds a keyword the handler for ``ext`` does not take,
    naming the file (``uri``) and the extensions that do take it."""
    unknown = [name for name in options if name not in handler.read_options]
    if not unknown:
        return
    name = unknown[0]
    takers = sorted({e for h in registry.handlers if name in h.read_options for e in h.extensions})
    spelled = "mmap=True" if name == "mmap" else f"{name}="
    where = f"it applies to {', '.join(takers)} files" if takers else "no format takes it"
    raise ConfigError(f"Cannot read {uri} ({ext or 'no extension'}) with {spelled}: {where}.")


def refuse_unsafe(what: str) -> UnsafeLoad:
    """The error for a file whose loading would run code while ``allow_pickle`` is off."""
    return UnsafeLoad(
        f"{what}; loading it can run code and allow_pickle is off "
        "(Options(allow_pickle=True) or AUTOSTORE_ALLOW_PICKLE=1 allows it for trusted data)."
    )


class DataHandler(ABC):
    """Reads and writes one family of formats.

    Subclass it and give ``extensions`` plus the four methods below; ``priority`` decides
    between handlers for the same extension or value (higher wins; built-ins use 0-10).
    """

    #: True when ``read_from_bytes``/``write_to_bytes`` are implemented (no temp file needed).
    supports_bytes: bool = False
    #: True when ``read_from_file`` also accepts a binary file object (remote reads of small
    #: objects then skip the temporary file).
    reads_buffers: bool = False
    #: True when reading always may execute code (pickle): the store refuses it before reading
    #: when ``allow_pickle`` is off. Handlers whose files are only sometimes unsafe keep False
    #: and call :func:`unsafe_loads_allowed` / :func:`refuse_unsafe` themselves.
    unsafe: bool = False
    #: Keyword options of ``store.read``/``AutoPath.load`` this handler understands (read
    #: them with :func:`read_option`), e.g. ``("mmap",)``; any other keyword is refused.
    read_options: tuple[str, ...] = ()

    @abstractmethod
    def can_handle_extension(self, extension: str) -> bool:
        """True when files with ``extension`` (lower case, with the dot) are this format."""

    @abstractmethod
    def can_handle_data(self, data: Any) -> bool:
        """True when ``data`` can be written by this handler."""

    @abstractmethod
    def read_from_file(self, file_path: Path, file_extension: str) -> Any:
        """Decode the file at ``file_path``."""

    @abstractmethod
    def write_to_file(self, data: Any, file_path: Path, file_extension: str) -> None:
        """Encode ``data`` into ``file_path``."""

    @property
    @abstractmethod
    def extensions(self) -> list[str]:
        """Extensions this handler reads; the first is used when writing."""

    @property
    def priority(self) -> int:
        return 10

    def extension_for(self, data: Any) -> str:
        """Extension to write ``data`` with when the key names none."""
        return self.extensions[0]

    def read_from_bytes(self, data: bytes, file_extension: str) -> Any:
        raise NotImplementedError

    def write_to_bytes(self, data: Any, file_extension: str) -> bytes:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(extensions={self.extensions!r}, priority={self.priority})"


class BytesHandler(DataHandler):
    """A handler whose format is encoded in memory (JSON, text, YAML, pickle): implement
    ``read_from_bytes``/``write_to_bytes``; the file methods are derived from them."""

    supports_bytes = True

    @abstractmethod
    def read_from_bytes(self, data: bytes, file_extension: str) -> Any:
        """Decode ``data``."""

    @abstractmethod
    def write_to_bytes(self, data: Any, file_extension: str) -> bytes:
        """Encode ``data``."""

    def read_from_file(self, file_path: Path, file_extension: str) -> Any:
        with open(file_path, "rb") as f:
            return self.read_from_bytes(f.read(), file_extension)

    def write_to_file(self, data: Any, file_path: Path, file_extension: str) -> None:
        payload = self.write_to_bytes(data, file_extension)
        with open(file_path, "wb") as f:
            f.write(payload)


class HandlerRegistry:
    """Handlers ordered by priority; a later registration wins over an equal priority."""

    def __init__(self, handlers: list[DataHandler] | None = None) -> None:
        self._handlers: list[DataHandler] = []
        self._by_ext: dict[str, DataHandler | None] = {}
        for h in handlers or []:
            self.register(h)

    def copy(self) -> HandlerRegistry:
        return HandlerRegistry(list(reversed(self._handlers)))

    def register(self, handler: DataHandler) -> None:
        if not isinstance(handler, DataHandler):
            raise TypeError(f"{handler!r} is not a DataHandler; subclass autostore.DataHandler.")
        self._handlers.insert(0, handler)
        self._handlers.sort(key=lambda h: -h.priority)  # stable: newest first among equals
        self._by_ext.clear()

    @property
    def handlers(self) -> list[DataHandler]:
        return list(self._handlers)

    def extensions(self) -> list[str]:
        seen: dict[str, None] = {}
        for h in self._handlers:
            for ext in h.extensions:
                seen.setdefault(ext.lower(), None)
        return sorted(seen)

    def known_extension(self, name: str) -> str | None:
        """The longest registered extension ``name`` ends with (``.pydantic.json`` over ``.json``)."""
        lower = name.lower()
        dot = lower.find(".", 1 if lower.startswith(".") else 0)
        while dot != -1:
            ext = lower[dot:]
            if self.for_extension_or_none(ext) is not None:
                return ext
            dot = lower.find(".", dot + 1)
        return None

    def for_extension_or_none(self, ext: str) -> DataHandler | None:
        ext = ext.lower()
        try:
            return self._by_ext[ext]
        except KeyError:
            pass
        found = self._direct(ext)
        if found is None:
            # "x.json.gz": the last suffix names a codec, the one before it a format.
            from .compression import compressed_handler

            found = compressed_handler(ext, self._direct)
        self._by_ext[ext] = found
        return found

    def _direct(self, ext: str) -> DataHandler | None:
        return next((h for h in self._handlers if h.can_handle_extension(ext)), None)

    def for_extension(self, ext: str, *, key: str = "") -> DataHandler:
        handler = self.for_extension_or_none(ext)
        if handler is None:
            where = f" for {key!r}" if key else ""
            named = f"extension {ext!r}" if ext else "files without an extension"
            raise UnsupportedFormat(
                f"No handler for {named}{where}. Supported: {', '.join(self.extensions())}. "
                "Add one with store.register_handler(MyHandler()) (subclass autostore.DataHandler)."
            )
        return handler

    def for_value(self, value: Any, *, key: str = "") -> DataHandler:
        # Not cached by type: handlers may look at the value itself (a list of dicts, an object
        # ndarray, a custom handler's own test), and asking every handler costs ~5 us.
        cls = type(value)
        for h in self._handlers:
            if h.can_handle_data(value):
                return h
        raise UnsupportedFormat(
            f"No handler can store a {cls.__module__}.{cls.__qualname__} value"
            f"{f' at {key!r}' if key else ''}; give the key an extension or register a handler."
        )
