"""One error mapper for both object-store transports: an exception raised by obstore or by
boto3/botocore becomes autostore's error (:mod:`autostore.errors`), naming the URI and a way out,
never a secret.

Two steps. :func:`describe` reads what failed into a :class:`Failure` - the exception's type,
the HTTP status, the service's error code, how many retries the client made - from typed
attributes where the library has them (obstore's exception classes; botocore's ``ClientError``
response and exception classes). obstore gives status, code and retry count only in its message
(its exceptions carry no attributes), so those are parsed from the message's fixed parts
(``status code: NNN``, the service's ``<Code>`` element, ``retries: N``); plain substring tests
are a last resort, each commented. :func:`map_error` then turns a Failure into the error, the same
way for both transports.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import AlreadyExists, AuthError, AutoStoreError, BackendError, BucketNotFound, NotFound
from ..options import Options, S3Options

__all__ = ["Failure", "NotRetried", "PreconditionFailed", "describe", "is_credential_failure", "map_error"]

_STATUS_RE = re.compile(r"status code: (\d{3})")  # obstore: "Server returned non-2xx status code: 503 ..."
_CODE_RE = re.compile(r"<Code>([^<]{1,100})</Code>")  # the service's XML error body (S3, Azure)
_RETRIES_RE = re.compile(r"after (\d+) retries")  # obstore: "Error performing GET ..., after 2 retries, ..."
_MISSING_BUCKET = frozenset({"NoSuchBucket", "ContainerNotFound"})
_MISSING_KEY = frozenset({"NoSuchKey", "404", "NotFound"})
_AUTH_CODES = frozenset(
    {
        "AccessDenied",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "TokenRefreshRequired",
        "AllAccessDisabled",
        "403",
    }
)
# botocore exceptions raised before any request is sent: no credentials could be found or loaded.
_CREDENTIAL_ERRORS = frozenset(
    {
        "NoCredentialsError",
        "PartialCredentialsError",
        "CredentialRetrievalError",
        "UnknownCredentialError",
        "ProfileNotFound",
        "InvalidConfigError",
        "ConfigNotFound",
        "SSOTokenLoadError",
        "TokenRetrievalError",
        "UnauthorizedSSOTokenError",
    }
)
_CREDENTIAL_HINTS = {
    "s3": "aws_access_key_id / aws_secret_access_key / profile_name",
    "gs": "service_account_path / service_account_key / GOOGLE_APPLICATION_CREDENTIALS",
    "az": "account_name / account_key / sas_token / connection_string",
}


class NotRetried(BackendError):
    """A transport failure of an idempotent call that obstore gave up on before max_retries (it
    never retries a list response whose body broke off, nor the POST of a bulk delete, nor some
    broken responses); we retry those ourselves. ``attempts``: requests obstore already made."""

    attempts = 1


class PreconditionFailed(BackendError):
    """A conditional request was refused (HTTP 412): the object is not the version asked for."""


@dataclass(frozen=True)
class Failure:
    """What a failed request says, read from the exception (see :func:`describe`)."""

    kind: str
    """"missing" (no such object), "auth" (refused), "exists" (a create found an object),
    "precondition" (412), "credentials" (none could be loaded, nothing was sent) or "other"."""
    status: int | None
    """HTTP status of the answer; None when there was no answer."""
    code: str
    """The service's error code (``NoSuchBucket``, ``SlowDown``, ...); "" when none."""
    retries: int
    """Retries the client made before giving up."""
    transient: bool
    """Worth retrying: no (complete) answer, a 5xx or a 429."""
    detail: str
    """One line saying what happened, for the message (not yet scrubbed of secrets)."""


def describe(exc: BaseException, client: str) -> Failure:
    """Classify an exception raised by a request through ``client`` ("obstore" or "boto3")."""
    botocore = type(exc).__module__.startswith("botocore")
    if client == "obstore" and botocore:
        # boto3 runs inside obstore only as a profile's credential provider, before any request
        # is sent: whatever it raises means no usable credentials.
        return Failure("credentials", None, "", 0, False, _first_line(exc))
    if botocore or hasattr(exc, "response"):
        return _describe_botocore(exc)
    return _describe_obstore(exc)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _describe_obstore(exc: BaseException) -> Failure:
    from obstore import exceptions as oe

    text = str(exc)
    first = _first_line(exc)
    found = _STATUS_RE.search(first)
    status = int(found.group(1)) if found else None
    code_found = _CODE_RE.search(text)
    code = code_found.group(1) if code_found else ""
    retried = _RETRIES_RE.search(first)
    retries = int(retried.group(1)) if retried else 0
    if "get_credentials" in text:
        # a profile's credential provider (boto3, called inside obstore) failed before any request
        # was sent, and obstore re-raised it as a GenericError naming the provider's method.
        kind = "credentials"
    elif isinstance(exc, (FileNotFoundError, oe.NotFoundError)):
        kind = "missing"
    elif isinstance(exc, (oe.PermissionDeniedError, oe.UnauthenticatedError)) or status == 403 or code in _AUTH_CODES:
        kind = "auth"
    elif isinstance(exc, oe.AlreadyExistsError):
        kind = "exists"
    elif isinstance(exc, oe.PreconditionError) or status == 412:
        kind = "precondition"
    else:
        kind = "other"
    # obstore's messages tell how it failed: "Error performing GET ... [after N retries] - HTTP
    # error" (no answer), "... - Server returned non-2xx status code: 503" (a server error),
    # "Error getting list response body: HTTP error" or a bare "HTTP error" (a body broke off).
    # The no-answer cases have neither an exception type nor a status: "HTTP error" is the only
    # sign, so it is matched as text. (Checked by tests/test_faults.py.)
    transient = (status is not None and (status >= 500 or status == 429)) or "HTTP error" in first
    return Failure(kind, status, code, retries, transient, first)


def _describe_botocore(exc: BaseException) -> Failure:
    name = type(exc).__name__
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        kind = "credentials" if name in _CREDENTIAL_ERRORS or "Credential" in name else "other"
        # botocore's connection errors (EndpointConnectionError, ConnectionClosedError,
        # ReadTimeoutError, ...) have no answer; botocore already retried them.
        return Failure(kind, None, "", 0, True, f"{name}: {exc}")
    error = response.get("Error") or {}
    code = str(error.get("Code", ""))
    status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
    retries = int((response.get("ResponseMetadata") or {}).get("RetryAttempts") or 0)
    if code in _MISSING_KEY:
        kind = "missing"
    elif code in _AUTH_CODES or status == 403:
        kind = "auth"
    elif code == "PreconditionFailed" or status == 412:
        kind = "precondition"
    else:
        kind = "other"
    transient = status is not None and (status >= 500 or status == 429)
    detail = f"{code or 'error'} (HTTP {status}): {error.get('Message', '')}"
    return Failure(kind, status, code, retries, transient, detail)


def _scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def map_error(
    exc: BaseException,
    *,
    uri: str,
    bucket: str,
    kind: str,
    action: str,
    options: Options,
    secrets: Iterable[str],
    client: str,
    idempotent: bool = False,
) -> Exception:
    """autostore's error for ``exc``, raised by a request to ``action`` ``uri`` on a backend of
    ``kind`` (its bucket or container ``bucket``, configured by ``options``) through ``client``
    ("obstore" or "boto3"); ``secrets`` never appear in the message. With ``idempotent``,
    a transient failure the client gave up on before ``max_retries`` becomes :class:`NotRetried`
    (the caller retries it)."""
    if isinstance(exc, AutoStoreError):
        return exc
    secrets = list(secrets)
    failure = describe(exc, client)
    detail = _scrub(failure.detail, secrets)
    if failure.kind == "credentials":
        return AuthError(
            f"No usable credentials from {_credential_source(options)} to {action} {uri} ({detail[:200]}); fix "
            "the profile in ~/.aws/config and ~/.aws/credentials, or pass aws_access_key_id/aws_secret_access_key."
        )
    # The last test reads a message: GCS names a missing bucket only in its text.
    if failure.code in _MISSING_BUCKET or "bucket does not exist" in str(exc).lower():
        what = "Container" if kind == "az" else "Bucket"
        return BucketNotFound(f"{what} {bucket!r} does not exist ({action} {uri}); create it or fix the URI/endpoint.")
    if failure.kind == "missing":
        return NotFound(f"No object at {uri}.")
    if failure.kind == "auth":
        hint = _CREDENTIAL_HINTS.get(kind, "credentials")
        return AuthError(
            f"Access denied to {action} {uri}: check the credentials ({hint}) and their "
            f"permissions{_credential_hint(options)}."
        )
    if failure.kind == "exists":
        return AlreadyExists(f"{uri} already exists.")
    if kind == "http" and action == "list":
        return BackendError(
            f"Cannot list {uri}: plain HTTP servers have no listing (only WebDAV servers do); "
            f"name the file with its extension. ({detail[:200]})"
        )
    message = (
        f"Could not {action} {uri}: {detail[:300]} (timeout={options.timeout}s, "
        f"max_retries={options.max_retries}; check the endpoint and network)."
    )
    if failure.kind == "precondition":
        return PreconditionFailed(message)
    if not (idempotent and failure.transient and failure.retries < options.max_retries):
        return BackendError(message)
    err = NotRetried(message)
    err.attempts = failure.retries + 1
    return err


def _credential_source(options: Options) -> str:
    settled = options.resolved() if isinstance(options, S3Options) else options
    profile = getattr(settled, "profile_name", None)
    return f"AWS profile {profile!r}" if profile else "the AWS credential chain"


def _credential_hint(options: Options) -> str:
    if not isinstance(options, S3Options):
        return ""
    s3 = options.resolved()
    if s3.aws_access_key_id is None and s3.profile_name is None:
        return (
            "; none were configured (no aws_access_key_id/profile_name, AWS_ACCESS_KEY_ID or AWS_PROFILE), "
            "so only instance/container credentials were tried"
        )
    return f" (profile {s3.profile_name!r})" if s3.aws_access_key_id is None else ""


def is_credential_failure(exc: BaseException, client: str) -> bool:
    """Whether ``exc`` says no usable credentials could be loaded (no request was sent)."""
    return describe(exc, client).kind == "credentials"
