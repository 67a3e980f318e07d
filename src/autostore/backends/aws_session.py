"""boto3 sessions that take their settings from autostore's resolved options only.

botocore reads dozens of ``AWS_*`` variables on its own (``AWS_ENDPOINT_URL_S3``,
``AWS_CA_BUNDLE``, ``AWS_MAX_ATTEMPTS``, ``AWS_RETRY_MODE``, ``AWS_PROFILE``, ``AWS_CONFIG_FILE``,
``AWS_USE_FIPS_ENDPOINT``, ...), and ``~/.aws/config`` can carry an endpoint, a CA bundle or retry
settings. A session built here has every one of those variables unhooked (botocore's documented
``session_vars`` override, with no variable names), reads a config file only for a named profile
(the files :func:`autostore.options.aws_shared_files` names), and ignores configured endpoint
URLs: endpoint, region, credentials, retries and timeouts are exactly what the options say.

When no credentials are configured anywhere autostore looks, botocore's credential chain still
runs (web identity token, ECS/EKS container credentials, EC2 instance metadata) and reads its own
variables for that; it can only supply credentials, never change where requests go.

boto3 is imported only inside these functions. :func:`redact_in_botocore_logs` keeps the secrets
of those sessions out of botocore's DEBUG request logs.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from ..errors import AuthError, MissingDependency
from ..options import S3Options, aws_shared_files

__all__ = ["isolated_session", "redact_in_botocore_logs"]


def _modules() -> tuple[Any, Any, Any]:
    try:
        import boto3
        import botocore.configprovider
        import botocore.session
    except ImportError as exc:
        raise MissingDependency('This needs boto3: pip install "autostore[s3]".') from exc
    return boto3, botocore.session, botocore.configprovider


def isolated_session(s3: S3Options) -> tuple[Any, str | None, str]:
    """(boto3 Session, endpoint or None for AWS, region) for *resolved* S3 options.

    Explicit keys win; else ``profile_name`` (its config/credentials files, its endpoint and
    region); else botocore's credential chain. Raises :class:`AuthError` for a profile that
    cannot be loaded.
    """
    boto3, bsession, provider = _modules()
    defaults = provider.BOTOCORE_DEFAUT_SESSION_VARIABLES  # (sic: botocore's spelling)
    # Same names, config-file keys, defaults and conversions; no environment variable names.
    session_vars = {name: (spec[0], None, *spec[2:]) for name, spec in defaults.items()}
    bs = bsession.Session(session_vars=session_vars)
    bs.set_config_variable("ignore_configured_endpoint_urls", True)
    use_profile = s3.aws_access_key_id is None and s3.profile_name is not None
    if use_profile:
        config_file, credentials_file = aws_shared_files()
    else:  # no file may add an endpoint, CA bundle or retry setting to explicit options
        config_file = credentials_file = os.devnull
    bs.set_config_variable("config_file", config_file)
    bs.set_config_variable("credentials_file", credentials_file)
    endpoint, region = s3.endpoint_url, s3.region_name
    if use_profile:
        assert s3.profile_name is not None
        try:
            bs.set_config_variable("profile", s3.profile_name)
            scoped = bs.get_scoped_config()  # raises for a profile that is not in the files
            session = boto3.session.Session(botocore_session=bs)
        except Exception as exc:  # botocore.exceptions.ProfileNotFound and friends
            raise AuthError(
                f"AWS profile {s3.profile_name!r} cannot be loaded ({type(exc).__name__}); check ~/.aws/config "
                f"(read from {config_file}; AWS_CONFIG_FILE names another) or pass "
                "aws_access_key_id/aws_secret_access_key."
            ) from None
        endpoint = endpoint or scoped.get("endpoint_url") or (scoped.get("s3") or {}).get("endpoint_url")
        region = region or scoped.get("region")
    else:
        session = boto3.session.Session(
            botocore_session=bs,
            aws_access_key_id=s3.aws_access_key_id,
            aws_secret_access_key=s3.aws_secret_access_key,
            aws_session_token=s3.aws_session_token,
        )
    return session, endpoint, region or "us-east-1"


class _Redact(logging.Filter):
    """botocore logs each request's headers at DEBUG, a session token included: blank our
    secrets out of those records (on the two botocore loggers that print headers)."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()
        self.installed = False

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if any(secret in text for secret in self.secrets):
            for secret in self.secrets:
                text = text.replace(secret, "***")
            record.msg, record.args = text, None
        return True


_REDACT = _Redact()


def redact_in_botocore_logs(secrets: list[str]) -> None:
    """Blank ``secrets`` out of botocore's DEBUG request logs in this process."""
    _REDACT.secrets.update(s for s in secrets if s)
    if not _REDACT.installed:
        _REDACT.installed = True
        for name in ("botocore.endpoint", "botocore.auth"):
            logging.getLogger(name).addFilter(_REDACT)
