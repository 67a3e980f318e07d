"""Options: everything a user can set, validated at construction, secrets masked in repr. The
per-service classes live here (:class:`S3Options`, :class:`GCSOptions`, :class:`AzureOptions`)
with how each fills unset fields from its service's standard environment variables; the shared
base :class:`Options` and the field checks are in :mod:`autostore.options_base` (re-exported).

This module and :mod:`autostore.options_base` are the only ones that read environment variables
(``AUTOSTORE_*`` and the standard ``AWS_*``/``AZURE_*``/``GOOGLE_*`` ones), so behaviour never
depends on where an option was read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from .errors import ConfigError
from .options_base import (
    AZURITE_ACCOUNT,
    AZURITE_KEY,
    SHARED_FIELDS,
    Options,
    aws_shared_files,
    check_bool,
    check_endpoint,
    check_size,
    check_text,
    env_flag,
    env_is_set,
    parse_connection_string,
    parse_size,
    read_env,
    records_given,
)

__all__ = [
    "AZURITE_ACCOUNT",
    "AZURITE_KEY",
    "MIB",
    "SHARED_FIELDS",
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

MIB = 1024 * 1024


@records_given
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
            check_text(self, name)
        if self.endpoint_url is not None:
            check_endpoint(self.endpoint_url)
        check_size(self, "multipart_threshold", 1)
        check_size(self, "multipart_chunksize", 5 * MIB, " (S3 parts must be at least 5 MiB)")
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


@records_given
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
            check_text(self, name)
        if self.endpoint_url is not None:
            check_endpoint(self.endpoint_url)
        check_bool(self, "anonymous")

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


@records_given
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
            check_text(self, name)
        if self.endpoint_url is not None:
            check_endpoint(self.endpoint_url)
        for name in ("use_emulator", "use_azure_cli", "anonymous"):
            check_bool(self, name)
        if self.connection_string is not None:
            parse_connection_string(self.connection_string)

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
            for name, value in parse_connection_string(conn).items():
                if current.get(name) is None:
                    current[name] = value
        credentials_set = own_credentials or any(current[n] is not None for n in _AZURE_SECRETS)
        for name, var in _AZURE_ENV:
            if current[name] is None and env.get(var) and not (credentials_set and name in _AZURE_SECRETS):
                current[name] = env[var]
        if current["account_key"] is None and not credentials_set and env.get("AZURE_STORAGE_ACCESS_KEY"):
            current["account_key"] = env["AZURE_STORAGE_ACCESS_KEY"]
        if "use_emulator" not in self.explicit_fields:
            current["use_emulator"] = self.use_emulator or env_flag("AZURE_STORAGE_USE_EMULATOR") or False
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


def options_class_for_kind(kind: str) -> type[Options]:
    """The options class a backend kind is configured with."""
    return _KIND_OPTIONS.get(kind, Options)


_KIND_OPTIONS: dict[str, type[Options]] = {"s3": S3Options, "gs": GCSOptions, "az": AzureOptions}
