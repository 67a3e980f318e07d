"""How autostore connects to S3: one frozen :class:`S3Connection` per set of options, resolved
in one place (:func:`resolve_s3`), from which every S3 client autostore makes takes its settings:
the obstore client (:mod:`.builders`), the boto3 transport (:mod:`.boto3_transport`, also used for
object versions and folder markers) and the option dicts handed to polars, fsspec and deltalake
(:mod:`.engines`). So they all talk to the same endpoint and region, with the same credentials,
addressing style, timeouts and retries.

Resolution: explicit options win; unset ones come from the environment
(:meth:`S3Options.resolved`); a named AWS profile adds its credentials, endpoint and region
(read through an isolated boto3 session, :mod:`.aws_session`); no endpoint means AWS itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import MissingDependency
from ..options import Options, S3Options

__all__ = ["S3Connection", "StaticCredentials", "resolve_s3", "s3_client", "s3_settings"]

_DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class S3Connection:
    """Where and how to reach one S3 service: every client autostore builds for it derives its
    settings from this value. Secrets never appear in its repr."""

    endpoint: str | None
    """The service's URL; None means AWS itself (``url`` then names the regional endpoint)."""
    region: str
    addressing_style: str
    """"path" (``endpoint/bucket/key``), as object_store sends requests; the same for boto3/s3fs."""
    allow_http: bool
    """Plain http is allowed only to an ``http://`` endpoint."""
    key_id: str | None = field(repr=False)
    secret: str | None = field(repr=False)
    token: str | None = field(repr=False)
    """Explicit keys (options or ``AWS_ACCESS_KEY_ID``...); None with a profile or no credentials."""
    profile: str | None
    """The AWS profile that supplies credentials (when no keys are given)."""
    timeout: float
    """Stall timeout of a request (no byte for that long fails it)."""
    connect_timeout: float
    max_retries: int
    retry_delay: float
    options: S3Options = field(repr=False, compare=False)
    """The resolved options this was made from."""
    session: Any = field(default=None, repr=False, compare=False)
    """The profile's isolated boto3 session (None without a profile)."""

    @property
    def url(self) -> str:
        """The endpoint requests go to (AWS's regional one when no endpoint is set)."""
        return (self.endpoint or f"https://s3.{self.region}.amazonaws.com").rstrip("/")

    @property
    def secrets(self) -> list[str]:
        """Values to keep out of messages and logs."""
        return [s for s in (self.secret, self.token) if s]

    def object_store_settings(self) -> dict[str, Any]:
        """object_store (obstore, polars, deltalake) S3 settings for this connection."""
        return s3_settings(self.endpoint, self.region)

    def credential_provider(self) -> Any:
        """An obstore credential provider: fixed keys, the profile's (through boto3), or None
        to leave obstore its credential chain (instance/container/web-identity credentials)."""
        if self.key_id is not None:
            return StaticCredentials(self.key_id, self.secret or "", self.token)
        if self.session is None:
            return None
        try:
            from obstore.auth.boto3 import Boto3CredentialProvider
        except ImportError as exc:  # pragma: no cover - boto3 was importable for the session
            raise MissingDependency(
                f'profile_name={self.profile!r} needs boto3 to read AWS profiles: pip install "autostore[s3]".'
            ) from exc
        return Boto3CredentialProvider(self.session)

    def boto3_session(self) -> Any:
        """A boto3 Session with these credentials that reads no ``AWS_*`` variable."""
        if self.session is not None:
            return self.session
        from .aws_session import isolated_session

        return isolated_session(self.options)[0]

    def botocore_settings(self, **extra: Any) -> dict[str, Any]:
        """``botocore.config.Config`` keyword arguments (boto3 clients, s3fs' ``config_kwargs``):
        timeouts, ``max_retries + 1`` attempts in botocore's standard mode, addressing style;
        ``extra`` adds or replaces settings."""
        settings: dict[str, Any] = {
            "connect_timeout": self.connect_timeout,
            "read_timeout": self.timeout,
            "retries": {"total_max_attempts": self.max_retries + 1, "mode": "standard"},
            "signature_version": "s3v4",
            "s3": {"addressing_style": self.addressing_style},
        }
        settings.update(extra)
        return settings

    def boto3_client(self, session: Any = None, **config: Any) -> Any:
        """A boto3 S3 client for this connection, from ``session`` (default:
        :meth:`boto3_session`); ``config``: see :meth:`botocore_settings`."""
        from botocore.config import Config

        session = session or self.boto3_session()
        settings = Config(**self.botocore_settings(**config))
        return session.client("s3", endpoint_url=self.url, region_name=self.region, config=settings)


def s3_client(s3: S3Options, **config: Any) -> Any:
    """A boto3 S3 client for ``s3`` (see :func:`resolve_s3` and :meth:`S3Connection.boto3_client`)."""
    return resolve_s3(s3).boto3_client(**config)


def resolve_s3(opts: Options) -> S3Connection:
    """The connection ``opts`` (S3Options, or plain Options for their shared fields) describes,
    with the environment and an AWS profile applied. Raises AuthError for a profile that cannot
    be loaded, MissingDependency when a profile is named without boto3."""
    s3 = (opts if isinstance(opts, S3Options) else S3Options(scheme=opts.scheme).inherit(opts)).resolved()
    endpoint, region, session = s3.endpoint_url, s3.region_name, None
    if s3.aws_access_key_id is None and s3.profile_name is not None:
        from .aws_session import isolated_session

        try:
            session, endpoint, region = isolated_session(s3)  # the profile's endpoint and region
        except MissingDependency as exc:
            raise MissingDependency(
                f'profile_name={s3.profile_name!r} needs boto3 to read AWS profiles: pip install "autostore[s3]".'
            ) from exc
    use_keys = s3.aws_access_key_id is not None
    return S3Connection(
        endpoint=endpoint,
        region=region or _DEFAULT_REGION,
        addressing_style="path",
        allow_http=bool(endpoint and endpoint.startswith("http://")),
        key_id=s3.aws_access_key_id,
        secret=s3.aws_secret_access_key if use_keys else None,
        token=s3.aws_session_token if use_keys else None,
        profile=None if use_keys else s3.profile_name,
        timeout=s3.timeout,
        connect_timeout=min(s3.timeout, 10.0),
        max_retries=s3.max_retries,
        retry_delay=s3.retry_delay,
        options=s3,
        session=session,
    )


def s3_settings(endpoint: str | None, region: str) -> dict[str, Any]:
    """object_store S3 settings given explicitly so no `AWS_*` variable can supply them (the
    endpoint twice: `aws_endpoint_url_s3` beats `endpoint`, and the variable of that name would
    beat an `endpoint` alone). No endpoint means AWS itself, path-style as object_store does."""
    url = (endpoint or f"https://s3.{region}.amazonaws.com").rstrip("/")
    return {
        "endpoint": url,
        "aws_endpoint_url_s3": url,
        "region": region,
        "virtual_hosted_style_request": False,
        "s3_express": False,
        "skip_signature": False,
        "unsigned_payload": False,
        "request_payer": False,
        "disable_tagging": False,
        "disable_bulk_delete": False,
        "conditional_put": "etag",
        "copy_if_not_exists": "multipart",
    }


class StaticCredentials:
    """A credential provider for fixed keys (for obstore and polars). Given as a provider, the
    keys outrank every credential object_store would read from the environment, a stray
    `AWS_SESSION_TOKEN` included; obstore calls it once (no expiry)."""

    def __init__(self, key_id: str, secret: str, token: str | None) -> None:
        self._creds = (key_id, secret, token)

    def __call__(self) -> dict[str, Any]:
        key_id, secret, token = self._creds
        return {"access_key_id": key_id, "secret_access_key": secret, "token": token, "expires_at": None}

    def __repr__(self) -> str:
        return f"StaticCredentials({self._creds[0]!r}, '***')"
