"""The reader's settings: its constructor's arguments checked once, as one frozen value.

A `ReaderSettings` holds the `Connection` every client of the reader is opened with (site,
credential, endpoints, concurrency, retries, TLS) and the options of a run (images, files,
failures, callbacks). The builders here check each part of what `ConfluenceReader(...)` was
given (then the environment); bad values fail before anything is sent, saying what to pass.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from .attachments import FileSettings, ImageSettings
from .client import (
    DEFAULT_AUTH_SERVER_URL,
    DEFAULT_GATEWAY_URL,
    Connection,
    HttpSettings,
    RetryPolicy,
    incumbent_client_args,
)
from .credential_store import CredentialStore
from .credentials import (
    ConfluenceCredential,
    Credential,
    OAuthCredential,
    credential_from_arguments,
)
from .errors import BadArgumentError
from .files import AttachmentInfo, parsers_of
from .selection import attachment_filter as checked_attachment_filter
from .selection import file_extractor as checked_file_extractor
from .urls import check_scheme, normalize_base_url


@dataclass(frozen=True)
class ReaderSettings:
    connection: Connection
    images: ImageSettings
    files: FileSettings
    parse_timeout: float
    fail_on_error: bool = False
    process_document_callback: Callable[[str], bool] | None = None
    logger: logging.Logger | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        timeout = self.parse_timeout
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise BadArgumentError("parse_timeout must be a positive number of seconds")
        callback = self.process_document_callback
        if callback is not None and not callable(callback):
            raise BadArgumentError("process_document_callback takes a function of a page id")

    @property
    def base_url(self) -> str:
        return self.connection.base_url

    def files_for(
        self,
        attachment_filter: Callable[[AttachmentInfo], bool] | None,
        file_extractor: Mapping[str, Any] | None,
        originals: frozenset[str],
    ) -> FileSettings:
        """The constructor's attachment options, with a load call's own winning."""
        return replace(
            self.files,
            attachment_filter=attachment_filter or self.files.attachment_filter,
            file_extractor={**self.files.file_extractor, **(file_extractor or {})},
            originals=originals,
        )


def site_of(base_url: str | None, stored: str = "") -> str:
    """The site's address (the argument, then a stored credential's site, then
    CONFLUENCE_BASE_URL), normalised and checked."""
    return normalize_base_url(base_url or stored or os.environ.get("CONFLUENCE_BASE_URL", ""))


def chosen_credential(
    *,
    user_name: str | None,
    api_token: str | None,
    password: str | None,
    credentials: ConfluenceCredential | OAuthCredential | None,
    credential_id: str | None,
    credential_store: CredentialStore | None,
    oauth2: dict[str, Any] | None,
    scoped_token: bool | None,
) -> Credential:
    """The one credential the arguments name: a stored one, the incumbent's `oauth2`, an
    OAuth credential, or an API token (arguments, then the environment)."""
    if credential_id is not None:
        return (credential_store or CredentialStore()).load(credential_id)
    if oauth2 is not None:
        return OAuthCredential.from_incumbent(oauth2)
    if isinstance(credentials, OAuthCredential):
        return credentials
    return credential_from_arguments(user_name, api_token, password, credentials, scoped_token)


def http_settings(
    *,
    api_gateway_url: str | None,
    auth_server_url: str | None,
    transport: httpx.AsyncBaseTransport | None,
    max_concurrency: int,
    max_points_per_hour: float | None,
    timeout: float,
    retry: RetryPolicy | None,
    verify: bool | str,
    client_args: Mapping[str, Any] | None,
) -> HttpSettings:
    """How requests go; the endpoints, like the site, can come from the environment (a proxy,
    or the emulator)."""
    gateway = api_gateway_url or os.environ.get("CONFLUENCE_API_GATEWAY_URL", DEFAULT_GATEWAY_URL)
    auth = auth_server_url or os.environ.get("CONFLUENCE_AUTH_SERVER_URL", DEFAULT_AUTH_SERVER_URL)
    check_scheme(gateway, "api_gateway_url")
    check_scheme(auth, "auth_server_url")
    if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int):
        raise BadArgumentError("max_concurrency must be a whole number of at least 1")
    if max_concurrency < 1:
        raise BadArgumentError("max_concurrency must be a whole number of at least 1")
    if max_points_per_hour is not None and (
        isinstance(max_points_per_hour, bool)
        or not isinstance(max_points_per_hour, (int, float))
        or max_points_per_hour < 100
    ):
        raise BadArgumentError(
            "max_points_per_hour must be a number of at least 100 (the default quota is "
            "65,000 points an hour), or None for no budget"
        )
    timeout, verify, retry = incumbent_client_args(client_args, timeout, verify, retry)
    if isinstance(verify, str) and not os.path.exists(verify):
        raise BadArgumentError(f"verify= names a CA bundle that does not exist: {verify!r}")
    return HttpSettings(
        gateway.rstrip("/"),
        auth.rstrip("/"),
        transport,
        max_concurrency,
        max_points_per_hour,
        retry or RetryPolicy(),
        timeout,
        verify,
    )


def image_settings(max_bytes: int, max_pixels: int, include_svg: bool) -> ImageSettings:
    for value, name in ((max_bytes, "image_max_bytes"), (max_pixels, "image_max_pixels")):
        _positive_whole(value, name)
    return ImageSettings(max_bytes, max_pixels, bool(include_svg))


def file_settings(
    *,
    max_file_bytes: int,
    attachment_filter: Callable[[AttachmentInfo], bool] | None,
    file_extractor: Mapping[str, Any] | None,
    custom_parsers: Mapping[Any, Any] | None,
    process_attachment_callback: Callable[..., Any] | None,
    custom_folder: str | None,
) -> FileSettings:
    _positive_whole(max_file_bytes, "max_file_bytes")
    if custom_folder is not None and not os.path.isdir(custom_folder):
        raise BadArgumentError(f"custom_folder is not a folder: {custom_folder!r}")
    return FileSettings(
        max_file_bytes,
        checked_attachment_filter(attachment_filter),
        {**parsers_of(custom_parsers), **(checked_file_extractor(file_extractor) or {})},
        process_attachment_callback,
        temp_folder=custom_folder,
    )


def _positive_whole(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadArgumentError(f"{name} must be a positive whole number")
