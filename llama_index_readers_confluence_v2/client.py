"""The only module that sends HTTP requests: base URLs, auth, pagination, retries, downloads.

One `httpx.AsyncClient` per run, keep-alive, a bounded number of requests in flight. Every
request goes through one retry loop (`_retrying`): 429/5xx, dropped connections and unreadable
bodies are retried with `Retry-After` honoured (and clamped) and a shared pause after a 429, so
concurrent requests do not hammer the site. Every request made with a credential follows one
rule: an OAuth token refused with 401 (or 403/404 when our clock says it expired) is refreshed
once (single flight) and the request sent again; only then is the refusal reported. Credentials
go only to the origin they belong to (the site, or the API gateway), never across a redirect or
to a URL found in a response.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import json
import logging
import os
import random
import ssl
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx

from .credentials import (
    SIGN_IN_AGAIN,
    ConfluenceCredential,
    Credential,
    OAuthCredential,
    choose_site,
)
from .errors import (
    AuthError,
    BadArgumentError,
    ConfluenceError,
    InvalidRequestError,
    NotFoundError,
    OversizedError,
    PermissionDeniedError,
    RateLimitError,
    RequestRefusedError,
    TransportError,
)
from .pacing import Pacer
from .quota import PointsCount, QuotaSignal, cost_of, objects_in, quota_signal
from .urls import check_scheme, origin_of, redact_url, site_origin

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
LONGEST_WAIT = 3600.0  # the quota resets every hour: no Retry-After means more
CONNECT_ATTEMPTS = 3
MAX_IDS = 250  # the most ids (and the largest `limit`) one v2 request may carry
MAX_OFFSET_PAGES = 10_000  # a v1 offset listing that never ends is a server fault
USER_AGENT = "llama-index-readers-confluence-v2"
DEFAULT_GATEWAY_URL = "https://api.atlassian.com"
DEFAULT_AUTH_SERVER_URL = "https://auth.atlassian.com"
Params = Mapping[str, Any]
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: attempts per request, backoff, the longest wait, and the clamp on a
    `Retry-After` that is waited out.

    A 429 asking for a wait longer than `max_wait` (the hour's quota spent: up to an hour) stops
    the run at once with `RateLimitError.retry_at`; shorter ones are waited out. `retry_after_max`
    (default: `max_wait`) caps the wait taken for one `Retry-After`.
    """

    max_attempts: int = 6
    backoff_base: float = 1.0
    backoff_max: float = 30.0
    retry_after_max: float | None = None
    max_wait: float = 300.0

    def backoff(self, attempt: int) -> float:
        delay = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
        return float(delay * random.uniform(0.7, 1.3))

    def wait_for(self, response: httpx.Response, attempt: int) -> float:
        retry_after = believable_retry_after(response)
        if retry_after is None:
            return self.backoff(attempt)
        # never sooner than asked; a little later at random, so that requests refused together
        # (concurrent ones, or other clients) do not come back in lockstep
        delay = max(retry_after, self.backoff_base / 10) * random.uniform(1.0, 1.25)
        return min(delay, self.max_wait if self.retry_after_max is None else self.retry_after_max)


@dataclass(frozen=True)
class HttpSettings:
    """How requests are sent, whatever the site: Atlassian's endpoints (the emulator's in tests),
    the transport, concurrency, the points budget, retries, timeout and TLS verification.
    Checked where it is built from a user's arguments (settings.py)."""

    gateway_url: str = DEFAULT_GATEWAY_URL
    auth_server_url: str = DEFAULT_AUTH_SERVER_URL
    transport: httpx.AsyncBaseTransport | None = field(default=None, repr=False, compare=False)
    max_concurrency: int = 8
    max_points_per_hour: float | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: float = 30.0
    verify: bool | str = True


@dataclass(frozen=True)
class Connection:
    """One site reached with one credential: everything a `ConfluenceClient` is opened with."""

    base_url: str
    credential: Credential
    http: HttpSettings = field(default_factory=HttpSettings)
    cloud_id: str | None = None

    def __repr__(self) -> str:  # the credential's kind, never its secret
        return f"Connection({self.base_url!r}, auth={self.credential.kind!r})"


INCUMBENT_CLIENT_ARGS = {
    "timeout": "timeout",
    "verify_ssl": "verify",
    "backoff_and_retry": "retry (on by default here; False: one attempt)",
    "max_backoff_retries": "RetryPolicy.max_attempts (retries + 1)",
    "max_backoff_seconds": "RetryPolicy.backoff_max",
    "backoff_factor": "RetryPolicy.backoff_base",
    "retry_with_header": "Retry-After (always honoured here)",
}


def incumbent_client_args(
    client_args: Mapping[str, Any] | None,
    timeout: float,
    verify: bool | str,
    retry: RetryPolicy | None,
) -> tuple[float, bool | str, RetryPolicy | None]:
    """llama-index-readers-confluence's `client_args` (options of atlassian-python-api) as this
    reader's timeout, TLS verification and retry policy; an option with no counterpart here is
    refused with the list of those that have one."""
    if not client_args:
        return timeout, verify, retry
    unknown = sorted(set(client_args) - INCUMBENT_CLIENT_ARGS.keys())
    if unknown:
        known = ", ".join(f"{key} ({meaning})" for key, meaning in INCUMBENT_CLIENT_ARGS.items())
        raise BadArgumentError(f"client_args {unknown} have no counterpart here; it takes {known}")
    policy = retry or RetryPolicy()
    if client_args.get("backoff_and_retry") is False:
        policy = dataclasses.replace(policy, max_attempts=1)
    if "max_backoff_retries" in client_args:
        retries = _whole(client_args["max_backoff_retries"], "max_backoff_retries")
        policy = dataclasses.replace(policy, max_attempts=retries + 1)
    if "max_backoff_seconds" in client_args:
        policy = dataclasses.replace(policy, backoff_max=float(client_args["max_backoff_seconds"]))
    if "backoff_factor" in client_args:
        policy = dataclasses.replace(policy, backoff_base=float(client_args["backoff_factor"]))
    verify = client_args.get("verify_ssl", verify)
    return float(client_args.get("timeout", timeout)), verify, policy


def _whole(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadArgumentError(f"client_args {name} must be a whole number of at least 0")
    return value


@dataclass(frozen=True)
class _Again:
    """One attempt's verdict: try again after `delay`, or give up with `error` when out of tries."""

    delay: float
    error: ConfluenceError
    pause_everyone: bool = False


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


def believable_retry_after(response: httpx.Response) -> float | None:
    """`Retry-After` in seconds; one beyond the next quota reset (Long.MAX has been seen) is
    not believed, and the request is backed off as if it had none."""
    wait = parse_retry_after(response.headers.get("retry-after"))
    return None if wait is None or wait > LONGEST_WAIT else wait


def seconds_to_next_hour() -> float:
    """The points quota resets at the top of each UTC hour."""
    return LONGEST_WAIT - time.time() % LONGEST_WAIT


def check_query(path: str, params: Params) -> None:
    """Refuse what must never be sent: a blank filter value, or more than 250 ids or items.

    What real Confluence does with a blank `id=` is unknown (it may mean "no filter", that is
    every page of the site), so a blank value is a bug in the caller, reported at once.
    """
    for name, value in params.items():
        text = ",".join(str(v) for v in value) if isinstance(value, (list, tuple)) else str(value)
        if value is None or not text.strip() or any(not part.strip() for part in text.split(",")):
            raise InvalidRequestError(f"refused to send {path} with a blank {name!r} value")
        if name in ("id", "limit") and _count(name, text) > MAX_IDS:
            raise InvalidRequestError(f"refused to send {path} with more than {MAX_IDS} {name}")


def _count(name: str, text: str) -> int:
    return len(text.split(",")) if name == "id" else int(text) if text.isdigit() else 0


class HttpSession:
    """Requests with retries, a shared pause after 429s, and OAuth token requests."""

    def __init__(self, http: HttpSettings | None = None) -> None:
        http = http or HttpSettings()
        max_concurrency = http.max_concurrency
        self.auth_server_url = http.auth_server_url.rstrip("/")
        self.gateway_url = http.gateway_url.rstrip("/")
        self.retry = http.retry
        self.requests_made = 0
        self.points = PointsCount()
        self.pacer = Pacer(
            max_concurrency,
            max_points_per_hour=http.max_points_per_hour,
            max_wait=self.retry.max_wait,
        )
        self._http = httpx.AsyncClient(
            transport=http.transport,
            timeout=httpx.Timeout(http.timeout),
            verify=tls_verification(http.verify),
            follow_redirects=False,
            headers={"Accept": "application/json", "User-Agent": USER_AGENT},
            # a download is two hosts (the API, then the media host); each keeps its own warm
            # connections, and bodies are read after the semaphore is given back
            limits=httpx.Limits(
                max_connections=4 * max(1, max_concurrency),
                max_keepalive_connections=4 * max(1, max_concurrency),
            ),
        )

    async def __aenter__(self: SessionT) -> SessionT:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._http.aclose()

    # ---- the one retry loop -------------------------------------------------------------------

    async def _retrying(self, attempt_once: Callable[[int], Awaitable[T | _Again]]) -> T:
        for attempt in range(1, self.retry.max_attempts + 1):
            outcome = await attempt_once(attempt)
            if not isinstance(outcome, _Again):
                return outcome
            if attempt == self.retry.max_attempts:
                raise outcome.error
            if outcome.pause_everyone:
                self.pacer.hold(outcome.delay, "rate limited by Confluence")
            logger.warning("%s; retrying in %.1fs", outcome.error, outcome.delay)
            await self.pacer.sleep(outcome.delay, "rate limited by Confluence")
        raise AssertionError("unreachable")

    async def _send_once(
        self, request: httpx.Request, attempt: int, *, stream: bool = False
    ) -> httpx.Response | _Again:
        """One send; a transport failure or a retryable status becomes a verdict to retry."""
        try:
            async with self.pacer.slot(retry=attempt > 1):
                self.requests_made += 1
                response = await self._http.send(request, stream=stream)
                if not stream:
                    await response.aread()
        except (httpx.TransportError, ConnectionError) as exc:
            return self._transport_verdict(request, exc, attempt)
        signal = quota_signal(response.headers, time.time())
        self._note_coming_limits(response)
        if response.status_code not in RETRY_STATUSES:
            self.pacer.observe(signal)
            self.pacer.succeeded()
            return response
        if stream:
            await response.aclose()
        delay = self.retry.wait_for(response, attempt)
        if response.status_code == 429:
            self.points.refused += 1
            delay = max(delay, self._stop_if_long(response, signal))
        return _Again(
            delay,
            _exhausted(response, request, attempt),
            pause_everyone=response.status_code == 429,
        )

    def _stop_if_long(self, response: httpx.Response, signal: QuotaSignal | None) -> float:
        """A 429 whose wait is longer than max_wait stops the run now (and every request that
        would follow it into the closed window); a burst 429 halves the requests in flight.
        Returns the wait the answer asks for (0 when it does not say)."""
        quota_spent = signal is not None and signal.quota_reason is not None
        wait = believable_retry_after(response)
        if wait is None and quota_spent:
            wait = signal.reset_in if signal and signal.reset_in else seconds_to_next_hour()
        if not quota_spent:
            self.pacer.throttled(signal.limit if signal is not None else None)
        if wait is not None and wait > self.retry.max_wait:
            why = "the hour's API points quota is spent" if quota_spent else "rate limited"
            self.pacer.hold(wait, why)
            raise self.pacer.stopped(wait, why)
        return wait or 0.0

    def charge(self, method: str, path: str, objects: int) -> None:
        """Count an answered API request's points (see quota.py) and spend them from the
        pacing budgets."""
        cost = cost_of(method, path, objects)
        self.points.add(cost)
        self.pacer.spent(cost.each)

    def _note_coming_limits(self, response: httpx.Response) -> None:
        """Atlassian's `Beta-` headers: this request would have breached a limit not enforced
        yet. Counted (`last_report.rate_limit_warnings`) and logged once a run."""
        coming = quota_signal(response.headers, time.time(), beta=True)
        if coming is None or not (coming.near or coming.quota_reason or coming.remaining == 0):
            return
        if not self.points.warned:
            logger.warning(
                "Confluence warns that this run would exceed a rate limit it will enforce "
                "(%s%s left); max_points_per_hour=... keeps a run under it",
                "" if coming.remaining is None else f"{coming.remaining:.0f} points ",
                "little" if coming.remaining is None else "",
            )
        self.points.warned += 1

    def _transport_verdict(self, request: httpx.Request, exc: Exception, attempt: int) -> _Again:
        where = f"{request.url.scheme}://{request.url.netloc.decode()}"
        if "CERTIFICATE_VERIFY_FAILED" in str(exc):
            error = TransportError(
                f"the TLS certificate of {where} could not be verified; if it is signed by your "
                "own certificate authority, pass verify='/path/to/ca-bundle.pem'"
            )
        else:
            error = TransportError(
                f"could not reach {where} ({type(exc).__name__}: {exc}); check the address and "
                "your network"
            )
        if isinstance(exc, httpx.ConnectError) and attempt >= CONNECT_ATTEMPTS:
            raise error  # nothing answers at that address: say so soon
        return _Again(self.retry.backoff(attempt), error)

    # ---- OAuth token endpoint and sites (no site needed) ---------------------------------------

    async def token_request(self, grant: dict[str, Any]) -> dict[str, Any]:
        """POST a grant to the authorization server's `/oauth/token`; the tokens, or AuthError."""
        url = f"{self.auth_server_url}/oauth/token"
        response = await self._retrying(
            lambda attempt: self._send_once(
                self._http.build_request("POST", url, json=grant), attempt
            )
        )
        return _tokens_from(response)

    async def accessible_resources(self, authorization: str) -> list[dict[str, Any]]:
        """The sites an OAuth access token covers (`/oauth/token/accessible-resources`)."""
        url = f"{self.gateway_url}/oauth/token/accessible-resources"

        async def once(attempt: int) -> httpx.Response | _Again:
            request = self._http.build_request("GET", url)
            request.headers["Authorization"] = authorization
            return await self._send_once(request, attempt)

        response = await self._retrying(once)
        if response.status_code == 401:
            raise AuthError(f"the OAuth access token was refused; {SIGN_IN_AGAIN}")
        if response.status_code != 200:
            raise AuthError(f"accessible-resources answered HTTP {response.status_code}")
        sites = _json_of(response)
        return [s for s in sites if isinstance(s, dict)] if isinstance(sites, list) else []


SessionT = TypeVar("SessionT", bound=HttpSession)


class ConfluenceClient(HttpSession):
    """Async access to one site's v2 API, through the site or through the API gateway."""

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection.http)
        credential = connection.credential
        self.base_url = connection.base_url
        self.site = site_origin(connection.base_url)
        self.credential = credential
        self.cloud_id = connection.cloud_id or credential.cloud_id
        self._oauth = credential if isinstance(credential, OAuthCredential) else None
        self._use_gateway = self._oauth is not None or bool(getattr(credential, "scoped", False))
        # routes the token lacks the scope for: refused again at once, without a request
        self._out_of_scope: dict[str, AuthError] = {}

    def __repr__(self) -> str:
        return (
            f"ConfluenceClient({self.base_url!r}, via={'gateway' if self._use_gateway else 'site'})"
        )

    async def __aenter__(self) -> ConfluenceClient:
        if self._oauth is not None and not self.cloud_id:
            self.cloud_id = await self._oauth_cloud_id()
        if self._use_gateway and not self.cloud_id:
            self.cloud_id = await self.fetch_cloud_id()
        return self

    # ---- base URLs and credentials -------------------------------------------------------------

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

    async def authorization(self) -> str:
        """The Authorization header value; an OAuth token about to expire is refreshed first."""
        if self._oauth is not None and self._oauth.expired() and self._oauth.can_refresh:
            await self._refresh(self._oauth.access_token)
        return self.credential.authorization()

    async def _refresh(self, stale: str) -> None:
        """Refresh once for everyone who saw `stale`; later callers find it already done."""
        oauth = self._oauth
        assert oauth is not None
        async with oauth.refresh_lock():
            if oauth.access_token != stale:
                return  # another request refreshed while this one waited
            oauth.refreshed(await self.token_request(oauth.refresh_grant()))

    def _token_refused(self, response: httpx.Response) -> bool:
        """401, or the 403/404 the gateway also answers for an expired token (per the reference)."""
        if self._oauth is None or origin_of(response.request.url) != self.credential_origin:
            return False
        if response.status_code == 401:
            return True  # "scope does not match" too: an expired token's body is not known
        return response.status_code in (403, 404) and self._oauth.expired(margin=0)

    async def _oauth_cloud_id(self) -> str:
        """The cloud id of this site among the consent's accessible resources."""
        for refreshed in (False, True):
            header = await self.authorization()
            try:
                return str(
                    choose_site(await self.accessible_resources(header), self.base_url)["id"]
                )
            except AuthError:
                assert self._oauth is not None
                if refreshed or not self._oauth.can_refresh:
                    raise
                await self._refresh(header[len("Bearer ") :])
        raise AssertionError("unreachable")

    async def fetch_cloud_id(self) -> str:
        """The site's cloud id from the public `/_edge/tenant_info` (sent without credentials)."""
        response = await self.send("GET", f"{self.site}/_edge/tenant_info", authorize=False)
        data = _json_of(response)
        cloud_id = data.get("cloudId") if isinstance(data, dict) else None
        if response.status_code != 200 or not isinstance(cloud_id, str):
            raise ConfluenceError(
                f"could not read the cloud id of {self.site} (HTTP {response.status_code}); "
                "pass cloud_id=... to the reader"
            )
        return cloud_id

    # ---- sending --------------------------------------------------------------------------------

    async def send(
        self,
        method: str,
        url: str,
        *,
        params: Params | None = None,
        json_body: Any = None,
        authorize: bool = True,
        stream: bool = False,
    ) -> httpx.Response:
        """One request with retries; credentials only to their own origin; an OAuth refusal
        refreshes the token once and sends again. The status is not checked here."""
        refreshed = False

        async def once(attempt: int) -> httpx.Response | _Again:
            nonlocal refreshed
            request = self._http.build_request(method, url, params=params, json=json_body)
            if authorize and origin_of(url) == self.credential_origin:
                request.headers["Authorization"] = await self.authorization()
            outcome = await self._send_once(request, attempt, stream=stream)
            if isinstance(outcome, _Again) or refreshed or not self._token_refused(outcome):
                return outcome
            refreshed = True
            stale = request.headers["Authorization"][len("Bearer ") :]
            await outcome.aclose()
            await self._refresh(stale)
            return await once(attempt)

        return await self._retrying(once)

    async def _api(self, method: str, target: str, params: Params, body: Any = None) -> Any:
        """An API call (`/wiki/...`, maybe with a query as Confluence wrote it): checked, sent,
        status mapped to errors, JSON decoded."""
        path, _, query = target.partition("?")
        if path in self._out_of_scope:
            raise self._out_of_scope[path]
        check_query(path, {**params, **{k: ",".join(v) for k, v in parse_qs(query).items()}})
        if query and not parse_qs(query, keep_blank_values=True).keys() <= parse_qs(query).keys():
            raise InvalidRequestError(f"refused to send {path} with a blank value in {query!r}")

        async def once(attempt: int) -> Any:
            url = self.api_root + target
            response = await self.send(method, url, params=params or None, json_body=body)
            if response.status_code == 401 and await self._switch_to_scoped_token():
                url = self.api_root + target
                response = await self.send(method, url, params=params or None, json_body=body)
            if response.status_code >= 400:
                self.charge(method, path, 0)
            self._raise_for_status(response, path)
            try:
                data = response.json()
            except (json.JSONDecodeError, UnicodeDecodeError):
                return _Again(
                    self.retry.backoff(attempt),
                    TransportError(
                        f"Confluence sent an unreadable (truncated?) body for {path} "
                        f"{self.retry.max_attempts} times; try again later"
                    ),
                )
            self.charge(method, path, objects_in(data))
            return data, response.headers

        return await self._retrying(once)

    async def get_json(self, path: str, params: Params | None = None) -> Any:
        """GET an API path (`/wiki/api/v2/...`)."""
        data, _ = await self._api("GET", path, params or {})
        return data

    async def post_json(self, path: str, body: Any) -> Any:
        """POST a read-only query (e.g. `/users-bulk`); retried like a GET, since it changes nothing."""
        data, _ = await self._api("POST", path, {}, body)
        return data

    async def _switch_to_scoped_token(self) -> bool:
        """The site said 401 to an API token of unknown kind: does the gateway take it (scoped)?"""
        credential = self.credential
        if not isinstance(credential, ConfluenceCredential) or credential.scoped is not None:
            return False
        if self._use_gateway:
            return False
        try:
            cloud_id = self.cloud_id or await self.fetch_cloud_id()
        except ConfluenceError:
            return False
        probe = f"{self.gateway_url}/ex/confluence/{cloud_id}/wiki/api/v2/spaces"

        async def once(attempt: int) -> httpx.Response | _Again:
            request = self._http.build_request("GET", probe, params={"limit": 1})
            request.headers["Authorization"] = credential.authorization()
            return await self._send_once(request, attempt)

        if (await self._retrying(once)).status_code != 200:
            return False
        logger.info("the site refused the token and the gateway took it: a scoped API token")
        self.cloud_id, self._use_gateway = cloud_id, True
        return True

    def _raise_for_status(self, response: httpx.Response, path: str) -> None:
        status = response.status_code
        if status < 400:
            return
        where = f"{redact_url(str(response.request.url))}"
        if status == 401 and self._oauth is not None and _scope_missing(response):
            self._out_of_scope[path] = AuthError(
                f"the token may not call {path}: a refreshed token was refused too, so it lacks a "
                f"scope this call needs (HTTP 401, 'scope does not match'); {SIGN_IN_AGAIN} to "
                "grant the default scopes"
            )
            raise self._out_of_scope[path]
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
        if status == 400:
            raise RequestRefusedError(f"Confluence answered HTTP 400 to {where}: {detail}", detail)
        raise ConfluenceError(f"Confluence answered HTTP {status} to {where}: {detail}")

    # ---- pagination ---------------------------------------------------------------------------

    async def paginate(self, path: str, params: Params | None = None) -> AsyncIterator[Any]:
        """Every item of a cursor-paginated list; a cursor seen twice stops with an error."""
        async for batch in self.paginate_batches(path, params):
            for item in batch:
                yield item

    async def paginate_batches(
        self, path: str, params: Params | None = None, *, read_ahead: bool = True
    ) -> AsyncGenerator[list[Any], None]:
        """The list one response at a time, following each `next` link as given; the next
        response is already on its way while the caller works on this one (unless not
        `read_ahead`: for a caller that may stop early, a response it never reads costs points)."""
        seen: set[str] = set()
        pending = asyncio.ensure_future(self._api("GET", path, dict(params or {})))
        try:
            while True:
                data, headers = await pending
                results = data.get("results", []) if isinstance(data, dict) else []
                following = self._next_link(data, headers, path)
                if following is not None:
                    if following in seen:
                        raise ConfluenceError(
                            f"Confluence returned the same pagination cursor twice for {path}; "
                            "stopped to avoid an endless loop (nothing after this point was listed)"
                        )
                    seen.add(following)
                if following is not None and read_ahead:
                    pending = asyncio.ensure_future(self._api("GET", following, {}))
                yield [item for item in results if isinstance(item, dict)]
                if following is None or not results:
                    return
                if not read_ahead:
                    pending = asyncio.ensure_future(self._api("GET", following, {}))
        finally:
            if not pending.done():
                pending.cancel()
            elif not pending.cancelled():
                pending.exception()  # a read-ahead the caller stopped before: its error is moot

    async def paginate_offset(
        self,
        path: str,
        params: Params,
        limit: int,
        size_of: Callable[[Any], int] = lambda data: len(data.get("results") or []),
    ) -> AsyncIterator[Any]:
        """A v1 list paged by `start`/`limit` (groups, members, restrictions): each response,
        until one holds fewer than `limit` items (`size_of` counts them)."""
        start = 0
        for _ in range(MAX_OFFSET_PAGES):
            data = await self.get_json(path, {**params, "start": start, "limit": limit})
            yield data
            got = size_of(data) if isinstance(data, dict) else 0
            if got < limit:
                return
            start += got
        raise ConfluenceError(f"{path} kept answering full pages; stopped after {start} items")

    def _next_link(self, data: Any, headers: httpx.Headers, path: str) -> str | None:
        """The next page's `/wiki/...?query`, from `_links.next` or the `Link` header."""
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
        next_path = parts.path
        if next_path.startswith("/ex/confluence/"):
            next_path = next_path[next_path.index("/wiki/") :]
        if next_path.startswith("/rest/"):  # v1 links are relative to /wiki
            next_path = "/wiki" + next_path
        if not next_path.startswith("/wiki/") or not parse_qs(parts.query).get("cursor"):
            raise ConfluenceError(f"the next-page link of {path} is not an API path: {next_path}")
        return f"{next_path}?{parts.query}"

    # ---- downloads ----------------------------------------------------------------------------

    async def download(self, container_id: str, attachment_id: str, max_bytes: int) -> bytes:
        """An attachment's bytes through the v1 download route, redirects followed.

        Credentials go only to the API origin; the media origin authenticates by the token in
        the redirect URL. Reading stops as soon as `max_bytes` is exceeded.
        """
        url = f"{self.api_root}/wiki/rest/api/content/{container_id}/child/attachment/{attachment_id}/download"

        async def once(attempt: int) -> bytes | _Again:
            try:
                return await self._download_once(url, max_bytes)
            except httpx.TransportError as exc:
                error = TransportError(f"download of attachment {attachment_id} failed: {exc}")
                return _Again(self.retry.backoff(attempt), error)

        return await self._retrying(once)

    async def _download_once(self, url: str, max_bytes: int) -> bytes:
        for _ in range(6):
            response = await self.send("GET", url, stream=True)
            try:
                if response.is_redirect:
                    url = self._redirect_target(url, response)
                    continue
                self.charge("GET", urlsplit(url).path, 0 if response.status_code >= 400 else 1)
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


def _exhausted(response: httpx.Response, request: httpx.Request, attempts: int) -> ConfluenceError:
    path = request.url.path
    if response.status_code in (429, 503):
        return RateLimitError(
            f"Confluence kept answering HTTP {response.status_code} to {path} after "
            f"{attempts} attempts; wait and re-run (already imported pages are kept) or lower "
            "max_concurrency"
        )
    return TransportError(
        f"Confluence kept answering HTTP {response.status_code} to {path} after {attempts} attempts"
    )


def _scope_missing(response: httpx.Response) -> bool:
    """The gateway's 401 for a token without the scope a route needs (real-api-observations)."""
    try:
        return b"scope does not match" in response.content
    except httpx.ResponseNotRead:
        return False


def _json_of(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def _tokens_from(response: httpx.Response) -> dict[str, Any]:
    data = _json_of(response)
    if response.status_code == 200 and isinstance(data, dict) and data.get("access_token"):
        return data
    error = data.get("error", "") if isinstance(data, dict) else ""
    if response.status_code == 401:
        raise AuthError(
            "the OAuth app's client id or secret was refused; check them in the developer console"
        )
    if response.status_code in (400, 403) and error in ("invalid_grant", "unauthorized_client"):
        raise AuthError(f"the OAuth sign-in has expired or was revoked ({error}); {SIGN_IN_AGAIN}")
    raise AuthError(
        f"the token endpoint answered HTTP {response.status_code} ({error or 'no error code'})"
    )


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
