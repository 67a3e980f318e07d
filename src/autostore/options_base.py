"""The base of every options class: :class:`Options` (the settings shared by every backend),
how a class records which fields the caller passed, the checks and conversions fields go through
(sizes like ``"64MiB"``, paths, numbers, endpoints, Azure connection strings), and the one door
to environment variables (:func:`read_env`).

One job: validate option values. The per-service classes (S3, GCS, Azure) are in
:mod:`autostore.options`, which re-exports everything public here.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Literal, TypeVar
from urllib.parse import urlparse

from .errors import ConfigError

__all__ = [
    "AZURITE_ACCOUNT",
    "AZURITE_KEY",
    "SHARED_FIELDS",
    "GivenFields",
    "Options",
    "aws_shared_files",
    "check_bool",
    "check_endpoint",
    "check_number",
    "check_size",
    "check_text",
    "env_flag",
    "env_is_set",
    "parse_connection_string",
    "parse_size",
    "read_env",
    "records_given",
]

_C = TypeVar("_C", bound=type)
_O = TypeVar("_O", bound="Options")

# Azurite's well-known development account (public, documented by Microsoft; not a secret).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
_POWERS = {"k": 1, "m": 2, "g": 3, "t": 4}


def parse_size(value: int | str | None, name: str = "size") -> int | None:
    """``10_000``, ``"10GB"``, ``"512MiB"`` -> bytes; None stays None."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ConfigError(f"{name} must be a number of bytes or a string like '10GB', not {value!r}.")
    if isinstance(value, int):
        if value < 0:
            raise ConfigError(f"{name} must not be negative (got {value}).")
        return value
    m = _SIZE_RE.match(str(value))
    if not m:
        raise ConfigError(f"{name}={value!r} is not a size; use bytes or a string like '10GB' or '512MiB'.")
    unit = (m.group(2) or "").lower()
    base = 1024 if "i" in unit else 1000
    power = _POWERS.get(unit[:1], 0)
    return int(float(m.group(1)) * base**power)


def read_env(name: str) -> str | None:
    """The one door to environment variables for all of autostore (config.py reads its
    ``AUTOSTORE_*`` settings through it too), so where settings come from stays in one module."""
    return os.environ.get(name)


def env_is_set(*names: str) -> list[str]:
    """Which of ``names`` are set (to a non-empty value) in the environment."""
    return [n for n in names if os.environ.get(n)]


def aws_shared_files() -> tuple[str, str]:
    """The AWS config and credentials files a named profile is read from: ``AWS_CONFIG_FILE`` and
    ``AWS_SHARED_CREDENTIALS_FILE``, else ``~/.aws/config`` and ``~/.aws/credentials`` (autostore
    reads these two variables itself and hands the paths to boto3)."""
    config = os.environ.get("AWS_CONFIG_FILE") or "~/.aws/config"
    credentials = os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials"
    return os.path.expanduser(config), os.path.expanduser(credentials)


def env_flag(name: str) -> bool | None:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return None
    return raw.strip().lower() not in ("0", "false", "no", "off")


def records_given(cls: _C) -> _C:
    """Wrap a dataclass ``__init__`` so the instance remembers which fields the caller passed:
    "explicit" means passed, not "differs from the default", so ``cache_enabled=False`` beats
    ``AUTOSTORE_CACHE_ENABLED=1``. (Each dataclass gets its own ``__init__``, so every options
    class is decorated.)"""
    init: Callable[..., None] = cls.__init__  # type: ignore[misc]
    names = [f.name for f in fields(cls) if f.init]

    @functools.wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        self._given = frozenset(names[: len(args)]) | frozenset(kwargs)
        init(self, *args, **kwargs)

    cls.__init__ = __init__  # type: ignore[misc]
    return cls


class GivenFields:
    """Holds the names of the fields a caller passed (a plain base class, so dataclasses do not
    see it as a field: it stays out of ``fields()``, ``astuple()``, equality and repr)."""

    _given: frozenset[str] = frozenset()


def check_bool(obj: Any, name: str, expected: str = "True or False") -> None:
    value = getattr(obj, name)
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be {expected} (got {value!r}); strings such as 'false' are not booleans.")


def check_text(obj: Any, name: str) -> None:
    """A string option (None: not set); path options also take an ``os.PathLike``."""
    value = getattr(obj, name)
    if value is None or isinstance(value, str):
        return
    if name in obj._path_fields and isinstance(value, os.PathLike):
        setattr(obj, name, os.fspath(value))
        if isinstance(getattr(obj, name), str):
            return
    kind = "a path (str or os.PathLike)" if name in obj._path_fields else "a string"
    raise ConfigError(f"{name} must be {kind} or None (got {type(value).__name__} {shown_value(obj, name)}).")


def shown_value(obj: Any, name: str) -> str:
    return "'***'" if name in obj._secret_fields else repr(getattr(obj, name))


def check_size(obj: Any, name: str, minimum: int, hint: str = "") -> None:
    """A byte count: an int or a size string like '64MiB' (stored as int)."""
    value = getattr(obj, name)
    if isinstance(value, str):
        parsed = parse_size(value, name)
        assert parsed is not None
        setattr(obj, name, parsed)
        value = parsed
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(
            f"{name} must be a whole number of bytes >= {minimum} or a size like '64MiB' (got {value!r}){hint}."
        )


def check_number(obj: Any, name: str, *, minimum: float, strict: bool = False) -> None:
    value = getattr(obj, name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be a number (got {value!r}).")
    if value < minimum or (strict and value == minimum):
        op = ">" if strict else ">="
        raise ConfigError(f"{name} must be {op} {minimum:g} (got {value!r}).")


_CONNECTION_KEYS = {
    "accountname": "account_name",
    "accountkey": "account_key",
    "sharedaccesssignature": "sas_token",
    "blobendpoint": "endpoint_url",
}


def parse_connection_string(text: str) -> dict[str, str]:
    """``AccountName=...;AccountKey=...;BlobEndpoint=...`` -> AzureOptions field values."""
    if not isinstance(text, str):
        raise ConfigError("connection_string must be a string like 'AccountName=...;AccountKey=...'.")
    out: dict[str, str] = {}
    for part in text.strip().strip(";").split(";"):
        name, sep, value = part.partition("=")
        if not sep:
            raise ConfigError(
                "connection_string is not of the form 'AccountName=...;AccountKey=...;BlobEndpoint=...' "
                "(copy it from the Azure portal, 'Access keys')."
            )
        field_name = _CONNECTION_KEYS.get(name.strip().lower())
        if field_name is not None:
            out[field_name] = value.strip()
    if "UseDevelopmentStorage=true" in text.replace(" ", ""):
        out.setdefault("account_name", AZURITE_ACCOUNT)
        out.setdefault("account_key", AZURITE_KEY)
        out.setdefault("endpoint_url", f"http://127.0.0.1:10000/{AZURITE_ACCOUNT}")
    return out


def check_endpoint(url: str) -> None:
    if not isinstance(url, str):
        raise ConfigError(f"endpoint_url must be a string like 'https://minio.example.com' (got {url!r}).")
    parsed = urlparse(url)
    # A password in the URL must not reach the message: show the URL without its user info.
    shown = url if "@" not in parsed.netloc else url.replace(parsed.netloc, "***@" + parsed.netloc.rpartition("@")[2])
    if parsed.scheme not in ("http", "https") or not parsed.netloc or parsed.username or parsed.password:
        raise ConfigError(
            f"endpoint_url={shown!r} is not a valid endpoint; write it as 'https://host[:port]' "
            "without credentials in it."
        )
    try:
        parsed.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ConfigError(f"endpoint_url={shown!r} has an invalid port.") from None


@records_given
@dataclass(repr=False)
class Options(GivenFields):
    """Settings shared by every backend.

    ``cache_expiry_hours=0`` means cached entries never expire. ``cache_validation="always"``
    revalidates every cached read with the server (one cheap conditional request).
    ``allow_pickle=None`` reads ``AUTOSTORE_ALLOW_PICKLE`` (default: allowed, as in 0.1.x).

    A field passed to the constructor (or to :meth:`replace`) is *explicit* and wins over the
    ``AUTOSTORE_*`` environment and the configuration file, even when it equals the default;
    passing ``None`` is the same as not passing the field.

    ``durable=True`` makes local writes survive a power loss once they return (fsync of the file
    and of its folder); object stores acknowledge a write only once it is durable anyway.
    """

    scheme: str | None = None
    cache_enabled: bool = False
    cache_dir: str | None = None
    cache_expiry_hours: float = 24.0
    cache_validation: Literal["expiry", "always"] = "expiry"
    cache_max_size: int | str | None = None
    timeout: float = 30.0
    max_retries: int = 3
    retry_delay: float = 1.0
    allow_pickle: bool | None = None
    durable: bool = False

    _secret_fields: ClassVar[frozenset[str]] = frozenset()
    _path_fields: ClassVar[frozenset[str]] = frozenset({"cache_dir"})

    def __post_init__(self) -> None:
        self._validate()

    def _validate(self) -> None:
        if self.scheme is not None:
            if not isinstance(self.scheme, str) or not re.fullmatch(r"[a-z][a-z0-9+.-]*", self.scheme.lower()):
                raise ConfigError(f"scheme={self.scheme!r} is not a valid URI scheme name (e.g. 's3', 'minio').")
            self.scheme = self.scheme.lower()
        check_bool(self, "cache_enabled")
        check_text(self, "cache_dir")
        check_number(self, "cache_expiry_hours", minimum=0.0)
        check_number(self, "timeout", minimum=0.0, strict=True)
        check_number(self, "retry_delay", minimum=0.0)
        if not isinstance(self.durable, bool):
            raise ConfigError(f"durable must be True or False (got {self.durable!r}).")
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int) or self.max_retries < 0:
            raise ConfigError(f"max_retries must be a whole number >= 0 (got {self.max_retries!r}).")
        if not isinstance(self.cache_validation, str) or self.cache_validation not in ("expiry", "always"):
            raise ConfigError(
                f"cache_validation={self.cache_validation!r}; use 'expiry' (revalidate after "
                "cache_expiry_hours) or 'always' (revalidate on every read)."
            )
        parse_size(self.cache_max_size, "cache_max_size")
        if self.allow_pickle is not None:
            check_bool(self, "allow_pickle", "True, False or None (None reads AUTOSTORE_ALLOW_PICKLE)")

    # -- which fields the caller gave -------------------------------------------------------
    @property
    def explicit_fields(self) -> frozenset[str]:
        """Fields the caller passed (to the constructor or :meth:`replace`) with a value other
        than None: they win over the ``AUTOSTORE_*`` environment and the configuration file."""
        return frozenset(n for n in self._given if n != "scheme" and getattr(self, n, None) is not None)

    def _evolve(self: _O, given: Iterable[str], **changes: Any) -> _O:
        """A validated copy with ``changes`` whose explicit fields are ``given``
        (``dataclasses.replace`` would mark every field as passed)."""
        new = dataclasses.replace(self, **changes) if changes else dataclasses.replace(self)
        new._given = frozenset(given)
        return new

    # -- derived values -------------------------------------------------------------------
    @property
    def pickle_allowed(self) -> bool:
        """The argument wins; else ``AUTOSTORE_ALLOW_PICKLE``; else True (0.1.x behaviour)."""
        if self.allow_pickle is not None:
            return bool(self.allow_pickle)
        env = env_flag("AUTOSTORE_ALLOW_PICKLE")
        return True if env is None else env

    def env_supplied(self) -> frozenset[str]:
        """Fields the service's standard environment variables will fill at connect time
        (the configuration file does not override them: arguments > environment > file)."""
        return frozenset()

    @property
    def cache_max_bytes(self) -> int | None:
        return parse_size(self.cache_max_size, "cache_max_size")

    def replace(self: _O, **changes: Any) -> _O:
        """A copy with ``changes`` applied and validated (they count as passed by the caller);
        unknown names raise ConfigError."""
        names = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise ConfigError(
                f"{type(self).__name__} has no option(s) {', '.join(unknown)}; "
                f"valid options: {', '.join(sorted(names))}."
            )
        return self._evolve(self._given | set(changes), **changes)

    def inherit(self: _O, base: Options) -> _O:
        """Take the shared (base Options) fields from ``base`` where this one was not given them:
        those ``base`` was given (they stay explicit here) or holds at a non-default value."""
        changes: dict[str, Any] = {}
        taken: set[str] = set()
        mine, theirs = self.explicit_fields, base.explicit_fields
        for f in SHARED_FIELDS:
            if f.name in mine:
                continue
            value = getattr(base, f.name)
            if f.name in theirs:
                taken.add(f.name)
            elif value == f.default:
                continue
            if value != getattr(self, f.name):
                changes[f.name] = value
        if not changes and not taken:
            return self
        return self._evolve(self._given | taken, **changes)

    def __repr__(self) -> str:
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            if value == f.default and f.name not in self.explicit_fields:
                continue
            shown = "'***'" if f.name in self._secret_fields and value else repr(value)
            parts.append(f"{f.name}={shown}")
        return f"{type(self).__name__}({', '.join(parts)})"

    __str__ = __repr__


SHARED_FIELDS = tuple(f for f in fields(Options) if f.name != "scheme")
"""The fields every options class shares (all of :class:`Options` but ``scheme``)."""
