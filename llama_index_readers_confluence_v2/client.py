"""The async Confluence Cloud client: base URLs, auth, pagination, retries, downloads.

The only module that talks HTTP. One `httpx.AsyncClient` per import run, keep-alive, a bounded
number of requests in flight, retries for 429/5xx/connection errors with `Retry-After` honoured
(and clamped), and a shared pause after a 429 so concurrent requests do not hammer the site.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import os
import random
import ssl
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx

from .auth import ConfluenceCredential, origin_of
from .errors import (
    AuthError,
    ConfluenceError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    TransportError,
)
from .oauth import OAuthCredential, cloud_id_for
from .urls import check_scheme, redact_url, site_origin

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
CONNECT_ATTEMPTS = 3
USER_AGENT = "llama-index-readers-confluence-v2"
Params = Mapping[str, Any]


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: attempts per request, backoff, and the clamp on `Retry-After`."""

    max_attempts: int = 6
    backoff_base: float = 1.0
    backoff_max: float = 30.0
    retry_after_max: float = 60.0

    def backoff(self, attempt: int) -> float:
        delay = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
        return float(delay * random.uniform(0.7, 1.3))

    def wait_for(self, response: httpx.Response, attempt: int) -> float:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        if retry_after is None:
            return self.backoff(attempt)
        return min(max(retry_after, self.backoff_base / 10), self.retry_after_max)


def tls_verification(verify: bool | str) -> bool | ssl.SSLContext:
    """`verify=True` (system trust), `False`, or the path of a CA bundle (file or directory)."""
    if isinstance(verify, str):
        if os.path.isdir(verify):
            return ssl.create_default_context(capath=verify)
        return ssl.create_default_context(cafile=verify)
    return verify


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` of seconds or an HTTP date; None when absent or garbage."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class ConfluenceClient:
    """Async access to one site's v2 API, through the site or through the API gateway."""

    def __init__(
        self,
        base_url: str,
        credential: ConfluenceCredential | OAuthCredential,
        *,
        gateway_url: str,
        auth_server_url: str = "https://auth.atlassian.com",
        cloud_id: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        max_concurrency: int = 8,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        verify: bool | str = True,
    ) -> None:
        self.base_url = base_url
        self.site = site_origin(base_url)
        self.gateway_url = gateway_url.rstrip("/")
        self.auth_server_url = auth_server_url.rstrip("/")
        self.credential = credential
        self.cloud_id = cloud_id or (
            credential.cloud_id if isinstance(credential, OAuthCredential) else None
        )
        self.retry = retry or RetryPolicy()
        self.requests_made = 0
        self._oauth = credential if isinstance(credential, OAuthCredential) else None
        self._use_gateway = self._oauth is not None or bool(getattr(credential, "scoped", False))
        self._semaphore = asyncio.Semaphore(max(1, max_concurrency))
        self._paused_until = 0.0
        self._http = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(timeout),
            verify=tls_verification(verify),
            follow_redirects=False,
            headers={"Accept": "application/json", "User-Agent": USER_AGENT},
            limits=httpx.Limits(max_connections=max(1, max_concurrency) + 2),
        )

    def __repr__(self) -> str:
        return (
            f"ConfluenceClient({self.base_url!r}, via={'gateway' if self._use_gateway else 'site'})"
        )

    async def __aenter__(self) -> ConfluenceClient:
        if self._oauth is not None and not self.cloud_id:
            self.cloud_id = await cloud_id_for(
                self._http, self.gateway_url, self._oauth, self.auth_server_url, self.base_url
            )
        if self._use_gateway:
            await self._enter_gateway()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._http.aclose()

    # ---- base URLs ----------------------------------------------------------------------------

    @property
    def api_root(self) -> str:
        """Where `/wiki/...` paths are sent: the site, or the gateway's per-site prefix."""
        if self._use_gateway:
            return f"{self.gateway_url}/ex/confluence/{self.cloud_id}"
        return self.site

    @property
    def credential_origin(self) -> str:
        """The one origin that receives the credentials."""
        return origin_of(self.gateway_url if self._use_gateway else self.site)

    async def _enter_gateway(self) -> None:
        if not self.cloud_id:
            self.cloud_id = await self.fetch_cloud_id()
        self._use_gateway = True

    async def _authorization(self) -> str:
        if self._oauth is not None:
            return await self._oauth.authorization(self._http, self.auth_server_url)
        assert isinstance(self.credential, ConfluenceCredential)
        return self.credential.authorization()

    async def fetch_cloud_id(self) -> str:
        """The site's cloud id from the public `/_edge/tenant_info` (sent without credentials)."""
        response = await self._send("GET", f"{self.site}/_edge/tenant_info", send_auth=False)
        data = _json_of(response)
        cloud_id = data.get("cloudId") if isinstance(data, dict) else None
        if response.status_code != 200 or not isinstance(cloud_id, str):
            raise ConfluenceError(
                f"could not read the cloud id of {self.site} (HTTP {response.status_code}); "
                "pass cloud_id=... to the reader"
            )
        return cloud_id

    # ---- JSON requests ------------------------------------------------------------------------

    async def get_json(self, path: str, params: Params | None = None) -> Any:
        """GET an API path (`/wiki/api/v2/...`); retried on rate limits, 5xx and bad bodies."""
        data, _ = await self._get_json_with_headers(path, params or {})
        return data

    async def post_json(self, path: str, body: Any) -> Any:
        """POST a read-only query (e.g. `/users-bulk`); retried like a GET, since it changes nothing."""
        request = self._http.build_request("POST", self.api_root + path, json=body)
        response = await self._send_request(request, authorize=True, stream=False)
        self._raise_for_status(response, path)
        return _json_of(response)

    async def _get_json_with_headers(self, path: str, params: Params) -> tuple[Any, httpx.Headers]:
        for attempt in range(1, self.retry.max_attempts + 1):
            response = await self._api_get(path, params)
            try:
                return response.json(), response.headers
            except (json.JSONDecodeError, UnicodeDecodeError):
                if attempt == self.retry.max_attempts:
                    raise TransportError(
                        f"Confluence sent an unreadable (truncated?) body for {path} "
                        f"{self.retry.max_attempts} times; try again later"
                    ) from None
                logger.warning("unreadable JSON body from %s; retrying", path)
                await asyncio.sleep(self.retry.backoff(attempt))
        raise AssertionError("unreachable")

    async def _api_get(self, path: str, params: Params) -> httpx.Response:
        response = await self._send("GET", self.api_root + path, params=params)
        may_be_scoped = (
            isinstance(self.credential, ConfluenceCredential)
            and self.credential.scoped is None
            and not self._use_gateway
        )
        if response.status_code == 401 and may_be_scoped and await self._gateway_accepts():
            logger.info("the site refused the token and the gateway took it: a scoped API token")
            response = await self._send("GET", self.api_root + path, params=params)
        if self._oauth is not None and self._token_refused(response):
            stale = response.request.headers.get("authorization", "")[len("Bearer ") :]
            await self._oauth.refresh(self._http, self.auth_server_url, stale=stale)
            response = await self._send("GET", self.api_root + path, params=params)
        self._raise_for_status(response, path)
        return response

    def _token_refused(self, response: httpx.Response) -> bool:
        """401, or the 403/404 the gateway also answers for an expired token (per the reference)."""
        assert self._oauth is not None
        if response.status_code == 401:
            return True
        return response.status_code in (403, 404) and self._oauth.expired(margin=0)

    async def _gateway_accepts(self) -> bool:
        """Detect a scoped token: the site said 401; does the gateway take the same token?"""
        try:
            cloud_id = self.cloud_id or await self.fetch_cloud_id()
        except ConfluenceError:
            return False
        probe = f"{self.gateway_url}/ex/confluence/{cloud_id}/wiki/api/v2/spaces"
        request = self._http.build_request("GET", probe, params={"limit": 1})
        request.headers["Authorization"] = await self._authorization()
        response = await self._send_request(request, authorize=False, stream=False)
        if response.status_code != 200:
            return False
        self.cloud_id = cloud_id
        await self._enter_gateway()
        return True

    def _raise_for_status(self, response: httpx.Response, path: str) -> None:
        status = response.status_code
        if status < 400:
            return
        where = f"{redact_url(str(response.request.url))}"
        if status == 401:
            raise AuthError(
                f"Confluence refused the credentials of {self.credential.username!r} (HTTP 401 "
                f"from {where}). Check user_name and the API token; a scoped API token needs "
                "scoped_token=True or the API gateway"
            )
        if status == 403:
            raise PermissionDeniedError(
                f"{self.credential.username!r} may not read {path} (HTTP 403); ask a space "
                "admin for access or use a token with the read scopes"
            )
        if status == 404:
            raise NotFoundError(f"{path} was not found, or this user may not see it (HTTP 404)")
        detail = _error_detail(response)
        raise ConfluenceError(f"Confluence answered HTTP {status} to {where}: {detail}")

    # ---- pagination ---------------------------------------------------------------------------

    async def paginate(self, path: str, params: Params | None = None) -> AsyncIterator[Any]:
        """Every item of a cursor-paginated list; a cursor seen twice stops with an error."""
        async for batch in self.paginate_batches(path, params):
            for item in batch:
                yield item

    async def paginate_batches(
        self, path: str, params: Params | None = None
    ) -> AsyncIterator[list[Any]]:
        """The list one response at a time; the next response is already on its way while the
        caller works on this one. A cursor seen twice stops with an error."""
        params = dict(params or {})
        seen: set[str] = set()
        pending = asyncio.ensure_future(self._get_json_with_headers(path, dict(params)))
        try:
            while True:
                data, headers = await pending
                results = data.get("results", []) if isinstance(data, dict) else []
                cursor = self._next_cursor(data, headers, path)
                if cursor is not None:
                    if cursor in seen:
                        raise ConfluenceError(
                            f"Confluence returned the same pagination cursor twice for {path}; stopped "
                            "to avoid an endless loop (nothing after this point was listed)"
                        )
                    seen.add(cursor)
                    params["cursor"] = cursor
                    pending = asyncio.ensure_future(self._get_json_with_headers(path, dict(params)))
                yield [item for item in results if isinstance(item, dict)]
                if cursor is None:
                    return
        finally:
            if not pending.done():
                pending.cancel()

    def _next_cursor(self, data: Any, headers: httpx.Headers, path: str) -> str | None:
        links = data.get("_links", {}) if isinstance(data, dict) else {}
        next_url = links.get("next") if isinstance(links, dict) else None
        if not next_url:
            next_url = _link_header_next(headers.get("link", ""))
        if not next_url:
            return None
        parts = urlsplit(next_url)
        if parts.netloc and origin_of(next_url) not in {
            origin_of(self.site),
            origin_of(self.api_root),
        }:
            raise ConfluenceError(
                f"the next-page link of {path} points to another host ({parts.hostname}); refused"
            )
        cursors = parse_qs(parts.query).get("cursor")
        return cursors[0] if cursors else None

    # ---- downloads ----------------------------------------------------------------------------

    async def download(self, container_id: str, attachment_id: str, max_bytes: int) -> bytes:
        """An attachment's bytes through the v1 download route, redirects followed.

        Credentials go only to the API origin; the media origin authenticates by the token in
        the redirect URL. Reading stops as soon as `max_bytes` is exceeded.
        """
        url = f"{self.api_root}/wiki/rest/api/content/{container_id}/child/attachment/{attachment_id}/download"
        for attempt in range(1, self.retry.max_attempts + 1):
            try:
                return await self._download_once(url, max_bytes)
            except httpx.TransportError as exc:
                if attempt == self.retry.max_attempts:
                    raise TransportError(
                        f"download of attachment {attachment_id} failed: {exc}"
                    ) from exc
                await asyncio.sleep(self.retry.backoff(attempt))
        raise AssertionError("unreachable")

    async def _download_once(self, url: str, max_bytes: int) -> bytes:
        for _ in range(6):
            request = self._http.build_request("GET", url)
            authorize = origin_of(url) == self.credential_origin
            response = await self._send_request(request, authorize=authorize, stream=True)
            try:
                if response.is_redirect:
                    url = self._redirect_target(url, response)
                    continue
                self._raise_for_status(response, redact_url(url))
                return await _read_capped(response, max_bytes)
            finally:
                await response.aclose()
        raise ConfluenceError("too many redirects while downloading an attachment")

    def _redirect_target(self, url: str, response: httpx.Response) -> str:
        location = str(response.headers.get("location", ""))
        if not location:
            raise ConfluenceError("a download redirect had no Location header")
        target = urljoin(url, location)
        check_scheme(target, "a download redirect")
        return target

    # ---- sending with retries -----------------------------------------------------------------

    async def _send(
        self,
        method: str,
        url: str,
        *,
        params: Params | None = None,
        send_auth: bool = True,
    ) -> httpx.Response:
        request = self._http.build_request(method, url, params=params)
        authorize = send_auth and origin_of(url) == self.credential_origin
        return await self._send_request(request, authorize=authorize, stream=False)

    async def _send_request(
        self, request: httpx.Request, *, authorize: bool, stream: bool
    ) -> httpx.Response:
        last_error: Exception | None = None
        for attempt in range(1, self.retry.max_attempts + 1):
            await self._respect_pause()
            if authorize:
                request.headers["Authorization"] = await self._authorization()
            try:
                async with self._semaphore:
                    self.requests_made += 1
                    response = await self._http.send(request, stream=stream)
                    if not stream:
                        await response.aread()
            except (httpx.TransportError, ConnectionError) as exc:
                last_error = exc
                if isinstance(exc, httpx.ConnectError) and attempt >= CONNECT_ATTEMPTS:
                    break  # nothing answers at that address: say so soon
                delay = self.retry.backoff(attempt)
                logger.warning(
                    "%s on %s; retrying in %.1fs", type(exc).__name__, _path(request), delay
                )
            else:
                if response.status_code not in RETRY_STATUSES:
                    return response
                last_error = None
                delay = self.retry.wait_for(response, attempt)
                if stream:
                    await response.aclose()
                if response.status_code == 429:
                    self._paused_until = max(self._paused_until, time.monotonic() + delay)
                logger.warning(
                    "HTTP %s on %s; retrying in %.1fs", response.status_code, _path(request), delay
                )
                if attempt == self.retry.max_attempts:
                    raise _exhausted(response, request, attempt)
            if attempt < self.retry.max_attempts:
                await asyncio.sleep(delay)
        where = f"{request.url.scheme}://{request.url.netloc.decode()}"
        if "CERTIFICATE_VERIFY_FAILED" in str(last_error):
            raise TransportError(
                f"the TLS certificate of {where} could not be verified; if it is signed by your own "
                "certificate authority, pass verify='/path/to/ca-bundle.pem'"
            )
        raise TransportError(
            f"could not reach {where} ({type(last_error).__name__}: {last_error}); "
            "check the address and your network"
        )

    async def _respect_pause(self) -> None:
        wait = self._paused_until - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)


def _exhausted(response: httpx.Response, request: httpx.Request, attempts: int) -> ConfluenceError:
    if response.status_code in (429, 503):
        return RateLimitError(
            f"Confluence kept answering HTTP {response.status_code} to {_path(request)} after "
            f"{attempts} attempts; wait and re-run (already imported pages are kept) or lower "
            "max_concurrency"
        )
    return TransportError(
        f"Confluence kept answering HTTP {response.status_code} to {_path(request)} after {attempts} attempts"
    )


def _path(request: httpx.Request) -> str:
    return request.url.path


def _json_of(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def _error_detail(response: httpx.Response) -> str:
    data = _json_of(response)
    if isinstance(data, dict):
        errors = data.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return str(errors[0].get("title") or errors[0].get("detail") or errors[0])[:300]
        if "message" in data:
            return str(data["message"])[:300]
    return response.text[:300]


def _link_header_next(header: str) -> str | None:
    for part in header.split(","):
        if 'rel="next"' in part or "rel=next" in part:
            start, end = part.find("<"), part.find(">")
            if 0 <= start < end:
                return part[start + 1 : end]
    return None


async def _read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise OversizedError(int(declared), max_bytes)
    chunks: list[bytes] = []
    total = 0
    async for chunk in response.aiter_bytes():
        total += len(chunk)
        if total > max_bytes:
            raise OversizedError(total, max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


class OversizedError(ConfluenceError):
    """A download larger than the byte cap (reading stopped at the cap)."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"larger than the {limit:,}-byte cap (at least {size:,} bytes)")
        self.size = size
        self.limit = limit
