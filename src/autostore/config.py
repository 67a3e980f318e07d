"""The configuration file (``config.toml``) and ``AUTOSTORE_*`` environment variables.

The file lives in ``platformdirs.user_config_dir("autostore")`` (``~/.config/autostore/config.toml``
on Linux); ``AUTOSTORE_CONFIG`` names another file (empty: no file). Every table is optional::

    [defaults]                    # every scheme
    cache_enabled = true

    [schemes.s3]                  # every s3:// URI
    region = "eu-west-1"

    [schemes.minio]               # a new scheme: kind = "s3" registers it as S3-compatible
    kind = "s3"
    endpoint_url = "https://minio.example.com"
    access_key_id_env = "MINIO_KEY"          # the value is read from $MINIO_KEY
    secret_access_key_env = "MINIO_SECRET"

    [buckets."s3://raw-data"]     # one bucket (connection settings; cache settings apply to
    aws_profile = "prod"          # stores rooted in that bucket)

    [profiles.prod]               # chosen with AUTOSTORE_PROFILE=prod or `autostore --profile prod`
    aws_profile = "prod"

Names are option names (``endpoint_url``, ``region_name``, ``cache_dir`` ...) or the short
aliases below; ``<name>_env = "VAR"`` reads a value (typically a secret) from an environment
variable, so secrets never have to be written in the file.

Precedence, highest first: explicit arguments (``Options``/keyword arguments, CLI flags) >
environment (``AUTOSTORE_<OPTION>`` for the shared options such as ``AUTOSTORE_CACHE_DIR``, and
each service's standard variables such as ``AWS_ENDPOINT_URL``) > file (profile > bucket >
scheme > defaults). Credentials are taken as a whole from one level, never mixed.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .options import AzureOptions, GCSOptions, Options, S3Options, read_env

__all__ = [
    "ConfigFile",
    "active_profile",
    "config_path",
    "load",
    "register_config_schemes",
    "settle",
    "use_profile",
]

log = logging.getLogger("autostore")

ALIASES = {
    "region": "region_name",
    "aws_profile": "profile_name",
    "endpoint": "endpoint_url",
    "access_key_id": "aws_access_key_id",
    "secret_access_key": "aws_secret_access_key",
    "session_token": "aws_session_token",
}
_OPTION_CLASSES: tuple[type[Options], ...] = (Options, S3Options, GCSOptions, AzureOptions)
_KNOWN = frozenset(f.name for cls in _OPTION_CLASSES for f in fields(cls)) - {"scheme"}
_SHARED = tuple(f for f in fields(Options) if f.name != "scheme")
_PATH_FIELDS = frozenset({"cache_dir", "service_account_path", "application_credentials"})
# Credentials come from one level only: a key id from the file and a secret from the
# environment would be a pair nobody configured.
_CREDENTIAL_GROUPS = (
    frozenset({"aws_access_key_id", "aws_secret_access_key", "aws_session_token", "profile_name"}),
    frozenset({"service_account_path", "service_account_key", "application_credentials", "anonymous"}),
    frozenset(
        {"account_key", "sas_token", "client_id", "client_secret", "tenant_id", "connection_string", "use_azure_cli"}
    ),
)


@dataclass(frozen=True)
class ConfigFile:
    """The parsed file: each table maps option names to (value, where it came from)."""

    path: Path | None = None
    defaults: dict[str, Any] = field(default_factory=dict)
    schemes: dict[str, dict[str, Any]] = field(default_factory=dict)
    buckets: dict[str, dict[str, Any]] = field(default_factory=dict)
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)


_EMPTY = ConfigFile()
_cache: dict[tuple[str, int, int], ConfigFile] = {}
_lock = threading.Lock()
_selected_profile: str | None = None


def config_path() -> Path | None:
    """The configuration file in use: ``AUTOSTORE_CONFIG``, else the platform config dir."""
    override = read_env("AUTOSTORE_CONFIG")
    if override is not None:
        return Path(override).expanduser() if override.strip() else None
    from platformdirs import user_config_dir

    return Path(user_config_dir("autostore")) / "config.toml"


def load(path: Path | None = None) -> ConfigFile:
    """Parse the configuration file (cached until it changes); a missing file is empty."""
    path = path if path is not None else config_path()
    if path is None:
        return _EMPTY
    try:
        st = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        if read_env("AUTOSTORE_CONFIG"):
            raise ConfigError(f"AUTOSTORE_CONFIG names {str(path)!r}, which does not exist; fix or unset it.") from None
        return _EMPTY
    key = (str(path), st.st_mtime_ns, st.st_size)
    with _lock:
        found = _cache.get(key)
        if found is None:
            found = _parse(path)
            _cache.clear()
            _cache[key] = found
    return found


def _parse(path: Path) -> ConfigFile:
    import tomllib  # only when a file exists: keeps `import autostore` light

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}; fix the file or set AUTOSTORE_CONFIG.") from None
    except OSError as exc:
        raise ConfigError(f"Cannot read the configuration file {path}: {exc.strerror}.") from None
    unknown = sorted(set(data) - {"defaults", "schemes", "buckets", "profiles"})
    if unknown:
        raise ConfigError(
            f"{path}: unknown table(s) {', '.join(unknown)}; use [defaults], [schemes.NAME], "
            '[buckets."scheme://bucket"] or [profiles.NAME].'
        )

    def table(value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: [{where}] must be a table of option = value lines.")
        return value

    def section(value: Any, where: str, *, allow_kind: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, item in table(value, where).items():
            if allow_kind and name == "kind":
                out["kind"] = (item, where)
                continue
            env_ref = name.endswith("_env")
            base = ALIASES.get(name[:-4] if env_ref else name, name[:-4] if env_ref else name)
            if base not in _KNOWN:
                raise ConfigError(
                    f"{path}: [{where}] has an unknown option {name!r}; valid options: "
                    f"{', '.join(sorted(_KNOWN | set(ALIASES)))} (or NAME_env = 'ENV_VAR')."
                )
            if env_ref and not isinstance(item, str):
                raise ConfigError(f"{path}: [{where}] {name} must name an environment variable (a string).")
            out[base] = (_EnvRef(item) if env_ref else item, where)
        return out

    def named(key: str) -> dict[str, dict[str, Any]]:
        schemes = key == "schemes"
        return {
            str(name).lower() if schemes else str(name): section(v, f"{key}.{name}", allow_kind=schemes)
            for name, v in table(data.get(key, {}), key).items()
        }

    buckets = named("buckets")
    for name in buckets:
        if "://" not in name:
            raise ConfigError(f'{path}: [buckets.{name}] must be named like [buckets."s3://{name}"].')
    return ConfigFile(
        path=path,
        defaults=section(data.get("defaults", {}), "defaults"),
        schemes=named("schemes"),
        buckets={_bucket_key(n): v for n, v in buckets.items()},
        profiles=named("profiles"),
    )


@dataclass(frozen=True)
class _EnvRef:
    var: str


def _bucket_key(name: str) -> str:
    scheme, _, rest = name.partition("://")
    return f"{scheme.lower()}://{rest.strip('/')}"


def use_profile(name: str | None) -> None:
    """Select a ``[profiles.NAME]`` table for this process (the CLI's ``--profile``);
    None goes back to ``AUTOSTORE_PROFILE``."""
    global _selected_profile
    _selected_profile = name


def active_profile() -> str | None:
    """The selected profile: :func:`use_profile`, else ``AUTOSTORE_PROFILE``."""
    return _selected_profile or read_env("AUTOSTORE_PROFILE") or None


def has_profile(name: str) -> bool:
    return name in load().profiles


def register_config_schemes() -> None:
    """Register the schemes that ``[schemes.NAME] kind = "s3"`` tables declare."""
    cfg = load()
    if not cfg.schemes:
        return
    from .uri import register_scheme, supported_schemes

    for scheme, table in cfg.schemes.items():
        kind = table.get("kind")
        if kind is not None and supported_schemes().get(scheme) != kind[0]:
            try:
                register_scheme(scheme, str(kind[0]))
            except ConfigError as exc:
                raise ConfigError(f"{cfg.path}: [schemes.{scheme}] {exc}") from None


def settle(options: Options, scheme: str, bucket: str | None = None) -> Options:
    """``options`` with every field the caller did not pass (``Options.explicit_fields``) filled
    from the environment (``AUTOSTORE_*``) or, failing that, from the configuration file's tables
    for ``scheme`` (and ``bucket``). Fields the service's own environment variables will supply
    are left alone."""
    cfg = load()
    env = _autostore_env()
    profile = active_profile()
    if profile is not None and profile not in cfg.profiles:
        raise ConfigError(f"No [profiles.{profile}] in {cfg.path or 'the configuration file (none in use)'}.")
    if not env and cfg is _EMPTY:
        return options
    layers = [cfg.defaults, cfg.schemes.get(scheme, {})]
    if bucket:
        layers.append(cfg.buckets.get(f"{scheme}://{bucket}", {}))
    if profile is not None:
        layers.append(cfg.profiles.get(profile, {}))
    from_file: dict[str, tuple[Any, str]] = {}
    for layer in layers:
        from_file.update((k, v) for k, v in layer.items() if k != "kind")
    if not env and not from_file:
        return options

    own = [f.name for f in fields(options) if f.name != "scheme"]
    explicit = options.explicit_fields  # passed by the caller, even when equal to the default
    supplied = options.env_supplied()
    # A credential the caller gave (or the service's variables supply) shuts the file's
    # credentials out; use_azure_cli=False / anonymous=False give none.
    blocked = {n for n in explicit if getattr(options, n) is not False} | set(supplied)
    for group in _CREDENTIAL_GROUPS:
        if group & blocked:
            blocked |= group
    changes: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for name in own:
        if name in explicit:
            continue
        if name in env:
            changes[name], origin[name] = env[name], "AUTOSTORE_" + name.upper()
        elif name in from_file and name not in blocked:
            value, where = from_file[name]
            changes[name] = _file_value(name, value, where, cfg.path)
            origin[name] = f"{cfg.path} [{where}]"
    if not changes:
        return options
    try:
        return options._evolve(options._given, **changes)  # filled values do not become explicit
    except (ConfigError, TypeError) as exc:
        sources = ", ".join(sorted(set(origin.values())))
        raise ConfigError(f"{exc} (set in {sources})") from None


def _file_value(name: str, value: Any, where: str, path: Path | None) -> Any:
    if isinstance(value, _EnvRef):
        found = read_env(value.var)
        if found is None:
            raise ConfigError(
                f"{path} [{where}] reads {name} from ${value.var}, which is not set; export it or edit the file."
            )
        return found
    if name in _PATH_FIELDS and isinstance(value, str):
        return os.path.expanduser(value)
    return value


def _autostore_env() -> dict[str, Any]:
    """``AUTOSTORE_<OPTION>`` values for the shared options, converted and validated."""
    out: dict[str, Any] = {}
    for f in _SHARED:
        var = "AUTOSTORE_" + f.name.upper()
        raw = read_env(var)
        if raw is None or raw.strip() == "":
            continue
        raw = raw.strip()
        try:
            if isinstance(f.default, bool) or f.name == "allow_pickle":
                lowered = raw.lower()
                if lowered not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                    raise ValueError(raw)
                out[f.name] = lowered in ("1", "true", "yes", "on")
            elif isinstance(f.default, int):
                out[f.name] = int(raw)
            elif isinstance(f.default, float):
                out[f.name] = float(raw)
            else:
                out[f.name] = os.path.expanduser(raw) if f.name in _PATH_FIELDS else raw
        except ValueError:
            kind = "true/false" if isinstance(f.default, bool) else type(f.default).__name__
            raise ConfigError(f"{var}={raw!r} is not a valid {kind}; fix or unset it.") from None
    return out
