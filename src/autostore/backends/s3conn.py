"""How autostore connects to S3: the object_store settings that pin endpoint, region and
signing (so no ``AWS_*`` variable can change them), and the credentials for resolved
:class:`~autostore.options.S3Options` (explicit keys, an AWS profile, or the default chain).

One job: S3 connection settings. Every S3 client autostore makes (obstore, boto3, and the option
dicts handed to polars/fsspec/deltalake) derives them from here.
"""

from __future__ import annotations

from typing import Any

from ..errors import MissingDependency
from ..options import S3Options

__all__ = ["StaticCredentials", "s3_credentials", "s3_settings"]


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


def s3_credentials(s3: S3Options) -> tuple[Any, str | None, str]:
    """(credential provider or None, endpoint, region) for resolved options: explicit keys, else
    the AWS profile's credentials, endpoint and region; None leaves obstore its credential chain
    (instance/container/web-identity credentials), which only runs when no credentials are set."""
    endpoint, region = s3.endpoint_url, s3.region_name
    if s3.aws_access_key_id is not None:
        provider: Any = StaticCredentials(s3.aws_access_key_id, s3.aws_secret_access_key or "", s3.aws_session_token)
        return provider, endpoint, region or "us-east-1"
    if s3.profile_name is not None:
        return _profile_credentials(s3)
    return None, endpoint, region or "us-east-1"


def _profile_credentials(s3: S3Options) -> tuple[Any, str | None, str]:
    """Credential provider, endpoint and region for resolved options naming an AWS profile (boto3
    is used only here, through a session that reads no AWS_* variable)."""
    from .aws_session import isolated_session

    try:
        session, endpoint, region = isolated_session(s3)
        from obstore.auth.boto3 import Boto3CredentialProvider
    except MissingDependency as exc:
        raise MissingDependency(
            f'profile_name={s3.profile_name!r} needs boto3 to read AWS profiles: pip install "autostore[s3]".'
        ) from exc
    return Boto3CredentialProvider(session), endpoint, region
