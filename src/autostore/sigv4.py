"""AWS Signature V4 for one empty-body request, with the standard library only: how the test
server helpers (:mod:`autostore.testing`) create buckets and probe readiness before any S3 client
library is imported."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import http.client
from urllib.parse import urlsplit

__all__ = ["signed_request"]


def _sign(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def signed_request(
    endpoint_url: str,
    region: str,
    access_key_id: str,
    secret_access_key: str,
    method: str,
    path: str,
    *,
    timeout: float = 10.0,
) -> tuple[int, bytes]:
    """Send an AWS SigV4-signed request with an empty body (stdlib only)."""
    url = urlsplit(endpoint_url)
    host = url.netloc
    now = datetime.datetime.now(datetime.UTC)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = now.strftime("%Y%m%d")
    payload_hash = hashlib.sha256(b"").hexdigest()
    headers = {
        "host": host,
        "x-amz-content-sha256": payload_hash,
        "x-amz-date": amz_date,
    }
    signed_headers = ";".join(sorted(headers))
    canonical = "\n".join(
        [
            method,
            path,
            "",
            "".join(f"{k}:{headers[k]}\n" for k in sorted(headers)),
            signed_headers,
            payload_hash,
        ]
    )
    scope = f"{day}/{region}/s3/aws4_request"
    to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            amz_date,
            scope,
            hashlib.sha256(canonical.encode()).hexdigest(),
        ]
    )
    key = ("AWS4" + secret_access_key).encode()
    for part in (day, region, "s3", "aws4_request"):
        key = _sign(key, part)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={access_key_id}/{scope}, SignedHeaders={signed_headers}, Signature={signature}"
    )
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=timeout)
    try:
        conn.request(method, path, body=b"", headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()
