"""Options: everything a user can set, validated at construction, secrets masked in repr.

This is the only module that reads environment variables (``AUTOSTORE_*`` and the standard
``AWS_*`` ones), so behaviour never depends on where an option was read.
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
    "AzureOptions",
    "GCSOptions",
    "Options",
    "S3Options",
    "aws_shared_files",
    "env_is_set",
    "options_class_for_kind",
    "parse_size",
    "read_env",
]

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


def _env_flag(name: str) -> bool | None:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return None
    return raw.strip().lower() not in ("0", "false", "no", "off")


_O = TypeVar("_O", bound="Options")
_C = TypeVar("_C", bound=type)


def _records_given(cls: _C) -> _C:
    """Wrap a dataclass ``__init__`` so the instance remembers which fields the caller passed:
    "explicit" means passed, not "differs from the default", so ``cache_enabled=False`` beats
    ``AUTOSTORE_CACHE_ENABLED=1``. (Each dataclass gets its own ``__init__``, so every options
    class is decorated.)"""
    init: Callable[..., None] = cls.__init__  # type: ignore[misc]
    names = [f.name for f in fields(cls) if f.init]

    @functools.wraps(init)
    def __init__(self: Options, *args: Any, **kwargs: Any) -> None:
        self._given = frozenset(names[: len(args)]) | frozenset(kwargs)
        init(self, *args, **kwargs)

    cls.__init__ = __init__  # type: ignore[misc]
    return cls


class _GivenFields:
    """Holds the names of the fields a caller passed (a plain base class, so dataclasses do not
    see it as a field: it stays out of ``fields()``, ``astuple()``, equality and repr)."""

    _given: frozenset[str] = frozenset()


@_records_given
@dataclass(repr=False)
class Options(_GivenFields):
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
        _check_bool(self, "cache_enabled")
        _check_text(self, "cache_dir")
        _check_number(self, "cache_expiry_hours", minimum=0.0)
        _check_number(self, "timeout", minimum=0.0, strict=True)
        _check_number(self, "retry_delay", minimum=0.0)
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
            _check_bool(self, "allow_pickle", "True, False or None (None reads AUTOSTORE_ALLOW_PICKLE)")

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
        env = _env_flag("AUTOSTORE_ALLOW_PICKLE")
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
        for f in _SHARED_FIELDS:
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


def _check_bool(obj: Options, name: str, expected: str = "True or False") -> None:
    value = getattr(obj, name)
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be {expected} (got {value!r}); strings such as 'false' are not booleans.")


def _check_text(obj: Options, name: str) -> None:
    """A string option (None: not set); path options also take an ``os.PathLike``."""
    value = getattr(obj, name)
    if value is None or isinstance(value, str):
        return
    if name in obj._path_fields and isinstance(value, os.PathLike):
        setattr(obj, name, os.fspath(value))
        if isinstance(getattr(obj, name), str):
            return
    kind = "a path (str or os.PathLike)" if name in obj._path_fields else "a string"
    raise ConfigError(f"{name} must be {kind} or None (got {type(value).__name__} {_shown_value(obj, name)}).")


def _shown_value(obj: Options, name: str) -> str:
    return "'***'" if name in obj._secret_fields else repr(getattr(obj, name))


def _check_size(obj: Options, name: str, minimum: int, hint: str = "") -> None:
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


def _check_number(obj: Options, name: str, *, minimum: float, strict: bool = False) -> None:
    value = getattr(obj, name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be a number (got {value!r}).")
    if value < minimum or (strict and value == minimum):
        op = ">" if strict else ">="
        raise ConfigError(f"{name} must be {op} {minimum:g} (got {value!r}).")


MIB = 1024 * 1024
_SHARED_FIELDS = tuple(f for f in fields(Options) if f.name != "scheme")


@_records_given
@dataclass(repr=False)
class S3Options(Options):
    """Options for S3 and S3-compatible services (MinIO, SeaweedFS, DigitalOcean, R2, ...).

    Unset credentials, region and endpoint come from the environment (``AWS_ACCESS_KEY_ID``,
    ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_REGION``/``AWS_DEFAULT_REGION``,
    ``AWS_ENDPOINT_URL_S3``/``AWS_ENDPOINT_URL``, ``AWS_PROFILE``) at the time a store connects.
    Objects larger than ``multipart_threshold`` are uploaded in ``multipart_chunksize`` parts,
    ``max_concurrency`` at a time.
    """

    scheme: str | None = "s3"
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    aws_session_token: str | None = None
    profile_name: str | None = None
    region_name: str | None = None
    endpoint_url: str | None = None
    multipart_threshold: int = 64 * MIB
    multipart_chunksize: int = 16 * MIB
    max_concurrency: int = 10

    _secret_fields: ClassVar[frozenset[str]] = frozenset({"aws_secret_access_key", "aws_session_token"})

    def _validate(self) -> None:
        super()._validate()
        for name in ("aws_access_key_id", "aws_secret_access_key", "aws_session_token", "profile_name", "region_name"):
            _check_text(self, name)
        if self.endpoint_url is not None:
            _check_endpoint(self.endpoint_url)
        _check_size(self, "multipart_threshold", 1)
        _check_size(self, "multipart_chunksize", 5 * MIB, " (S3 parts must be at least 5 MiB)")
        if (
            isinstance(self.max_concurrency, bool)
            or not isinstance(self.max_concurrency, int)
            or self.max_concurrency < 1
        ):
            raise ConfigError(f"max_concurrency must be a whole number >= 1 (got {self.max_concurrency!r}).")
        if (self.aws_access_key_id is None) != (self.aws_secret_access_key is None):
            raise ConfigError(
                "Give both aws_access_key_id and aws_secret_access_key, or neither "
                "(then the environment or profile_name supplies them)."
            )

    def resolved(self) -> S3Options:
        """A copy with unset fields filled from the environment (explicit values win)."""
        env = os.environ
        changes: dict[str, Any] = {}
        explicit_keys = self.aws_access_key_id is not None
        profile = self.profile_name or (None if explicit_keys else env.get("AWS_PROFILE"))
        if profile is not None:
            changes["profile_name"] = profile
        if not explicit_keys and profile is None and env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
            changes["aws_access_key_id"] = env["AWS_ACCESS_KEY_ID"]
            changes["aws_secret_access_key"] = env["AWS_SECRET_ACCESS_KEY"]
            if env.get("AWS_SESSION_TOKEN"):
                changes["aws_session_token"] = env["AWS_SESSION_TOKEN"]
        if self.region_name is None:
            region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
            if region:
                changes["region_name"] = region
        if self.endpoint_url is None:
            endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
            if endpoint:
                changes["endpoint_url"] = endpoint
        return self._evolve(self._given, **changes) if changes else self

    def env_supplied(self) -> frozenset[str]:
        env = os.environ
        out: set[str] = set()
        if env.get("AWS_PROFILE") or (env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY")):
            out |= _S3_CREDENTIALS
        if env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION"):
            out.add("region_name")
        if env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL"):
            out.add("endpoint_url")
        return frozenset(out)


_S3_CREDENTIALS = frozenset({"aws_access_key_id", "aws_secret_access_key", "aws_session_token", "profile_name"})


@_records_given
@dataclass(repr=False)
class GCSOptions(Options):
    """Options for Google Cloud Storage (``gs://`` and ``gcs://``).

    Credentials: ``service_account_path`` (a service-account JSON file), ``service_account_key``
    (its JSON text), ``application_credentials`` (an application-default-credentials file), or
    ``anonymous=True`` for public buckets and emulators. Unset ones come from
    ``GOOGLE_SERVICE_ACCOUNT``/``GOOGLE_SERVICE_ACCOUNT_PATH``, ``GOOGLE_SERVICE_ACCOUNT_KEY`` and
    ``GOOGLE_APPLICATION_CREDENTIALS``. ``endpoint_url`` (or ``STORAGE_EMULATOR_HOST``) points at
    another server, e.g. a local emulator.
    """

    scheme: str | None = "gs"
    service_account_path: str | None = None
    service_account_key: str | None = None
    application_credentials: str | None = None
    endpoint_url: str | None = None
    anonymous: bool = False

    _secret_fields: ClassVar[frozenset[str]] = frozenset({"service_account_key"})
    _path_fields: ClassVar[frozenset[str]] = frozenset({"cache_dir", "service_account_path", "application_credentials"})

    def _validate(self) -> None:
        super()._validate()
        for name in ("service_account_path", "service_account_key", "application_credentials"):
            _check_text(self, name)
        if self.endpoint_url is not None:
            _check_endpoint(self.endpoint_url)
        _check_bool(self, "anonymous")

    def resolved(self) -> GCSOptions:
        """A copy with unset fields filled from the environment (explicit values win)."""
        env = os.environ
        changes: dict[str, Any] = {}
        if not self.anonymous and not (
            self.service_account_path or self.service_account_key or self.application_credentials
        ):
            path = env.get("GOOGLE_SERVICE_ACCOUNT") or env.get("GOOGLE_SERVICE_ACCOUNT_PATH")
            if path:
                changes["service_account_path"] = path
            elif env.get("GOOGLE_SERVICE_ACCOUNT_KEY"):
                changes["service_account_key"] = env["GOOGLE_SERVICE_ACCOUNT_KEY"]
            elif env.get("GOOGLE_APPLICATION_CREDENTIALS"):
                changes["application_credentials"] = env["GOOGLE_APPLICATION_CREDENTIALS"]
        if self.endpoint_url is None and env.get("STORAGE_EMULATOR_HOST"):
            host = env["STORAGE_EMULATOR_HOST"]
            changes["endpoint_url"] = host if "://" in host else "http://" + host
        return self._evolve(self._given, **changes) if changes else self

    def env_supplied(self) -> frozenset[str]:
        env = os.environ
        out: set[str] = set()
        if any(env.get(n) for n in _GCS_CREDENTIAL_ENV):
            out |= {"service_account_path", "service_account_key", "application_credentials", "anonymous"}
        if env.get("STORAGE_EMULATOR_HOST"):
            out.add("endpoint_url")
        return frozenset(out)


_GCS_CREDENTIAL_ENV = (
    "GOOGLE_SERVICE_ACCOUNT",
    "GOOGLE_SERVICE_ACCOUNT_PATH",
    "GOOGLE_SERVICE_ACCOUNT_KEY",
    "GOOGLE_APPLICATION_CREDENTIALS",
)

# Azurite's well-known development account (public, documented by Microsoft; not a secret).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


@_records_given
@dataclass(repr=False)
class AzureOptions(Options):
    """Options for Azure Blob Storage / ADLS Gen2 (``az://container/key``,
    ``abfs://container@account.dfs.core.windows.net/key``).

    Credentials, first match wins: ``account_key``; ``sas_token``; a service principal
    (``client_id``, ``client_secret``, ``tenant_id``); ``use_azure_cli=True``; ``anonymous=True``
    (public containers). ``connection_string`` (as shown in the Azure portal, or Azurite's) fills
    account, key and endpoint. ``use_emulator=True`` targets Azurite on 127.0.0.1:10000.
    Unset values come from ``AZURE_STORAGE_CONNECTION_STRING``, ``AZURE_STORAGE_ACCOUNT_NAME``,
    ``AZURE_STORAGE_ACCOUNT_KEY``, ``AZURE_STORAGE_SAS_TOKEN``, ``AZURE_CLIENT_ID``,
    ``AZURE_CLIENT_SECRET``, ``AZURE_TENANT_ID``, ``AZURE_STORAGE_ENDPOINT`` and
    ``AZURE_STORAGE_USE_EMULATOR``.
    """

    scheme: str | None = "az"
    account_name: str | None = None
    account_key: str | None = None
    sas_token: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    tenant_id: str | None = None
    connection_string: str | None = None
    endpoint_url: str | None = None
    use_emulator: bool = False
    use_azure_cli: bool = False
    anonymous: bool = False

    _secret_fields: ClassVar[frozenset[str]] = frozenset(
        {"account_key", "sas_token", "client_secret", "connection_string"}
    )

    def _validate(self) -> None:
        super()._validate()
        for name in ("account_name", "account_key", "sas_token", "client_id", "client_secret", "tenant_id"):
            _check_text(self, name)
        if self.endpoint_url is not None:
            _check_endpoint(self.endpoint_url)
        for name in ("use_emulator", "use_azure_cli", "anonymous"):
            _check_bool(self, name)
        if self.connection_string is not None:
            _parse_connection_string(self.connection_string)

    def _has_credentials(self) -> bool:
        return self.use_azure_cli or self.anonymous or any(getattr(self, n) is not None for n in _AZURE_SECRETS)

    def resolved(self) -> AzureOptions:
        """A copy with the connection string expanded and unset fields filled from the
        environment (explicit values win; credentials come whole from one level: given ones
        shut out every credential variable)."""
        env = os.environ
        current = {f.name: getattr(self, f.name) for f in fields(self)}
        own_credentials = self._has_credentials()
        conn = self.connection_string or (None if own_credentials else env.get("AZURE_STORAGE_CONNECTION_STRING"))
        if conn:
            for name, value in _parse_connection_string(conn).items():
                if current.get(name) is None:
                    current[name] = value
        credentials_set = own_credentials or any(current[n] is not None for n in _AZURE_SECRETS)
        for name, var in _AZURE_ENV:
            if current[name] is None and env.get(var) and not (credentials_set and name in _AZURE_SECRETS):
                current[name] = env[var]
        if current["account_key"] is None and not credentials_set and env.get("AZURE_STORAGE_ACCESS_KEY"):
            current["account_key"] = env["AZURE_STORAGE_ACCESS_KEY"]
        if "use_emulator" not in self.explicit_fields:
            current["use_emulator"] = self.use_emulator or _env_flag("AZURE_STORAGE_USE_EMULATOR") or False
        current["connection_string"] = None
        changes = {k: v for k, v in current.items() if v != getattr(self, k)}
        return self._evolve(self._given, **changes) if changes else self

    def env_supplied(self) -> frozenset[str]:
        env = os.environ
        out: set[str] = set()
        for name, var in _AZURE_ENV:
            if env.get(var):
                out.add(name)
        if env.get("AZURE_STORAGE_CONNECTION_STRING"):
            out |= {"account_name", "account_key", "sas_token", "endpoint_url", "connection_string"}
        if env.get("AZURE_STORAGE_USE_EMULATOR"):
            out.add("use_emulator")
        return frozenset(out)


_AZURE_SECRETS = ("account_key", "sas_token", "client_id", "client_secret", "tenant_id", "connection_string")
_AZURE_ENV = (
    ("account_name", "AZURE_STORAGE_ACCOUNT_NAME"),
    ("account_key", "AZURE_STORAGE_ACCOUNT_KEY"),
    ("sas_token", "AZURE_STORAGE_SAS_TOKEN"),
    ("client_id", "AZURE_CLIENT_ID"),
    ("client_secret", "AZURE_CLIENT_SECRET"),
    ("tenant_id", "AZURE_TENANT_ID"),
    ("endpoint_url", "AZURE_STORAGE_ENDPOINT"),
)
_CONNECTION_KEYS = {
    "accountname": "account_name",
    "accountkey": "account_key",
    "sharedaccesssignature": "sas_token",
    "blobendpoint": "endpoint_url",
}


def _parse_connection_string(text: str) -> dict[str, str]:
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


def _check_endpoint(url: str) -> None:
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


def options_class_for_kind(kind: str) -> type[Options]:
    """The options class a backend kind is configured with."""
    return _KIND_OPTIONS.get(kind, Options)


_KIND_OPTIONS: dict[str, type[Options]] = {"s3": S3Options, "gs": GCSOptions, "az": AzureOptions}
