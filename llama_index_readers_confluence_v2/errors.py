"""One rooted exception tree: every exception class of the package is defined here.

::

    ConfluenceError
    ├── BadArgumentError       arguments that cannot work (also a ValueError)
    │   ├── BadURLError        a URL that is not a Confluence URL of this site
    │   ├── UnknownArgumentError  a keyword the call does not take (also a TypeError)
    │   ├── BodyTooLarge       a request to the import screen over its size limit
    │   └── ImportRunning      the screen: an import into that collection is running already
    ├── AuthError              credentials missing, wrong, expired or revoked
    ├── PermissionDeniedError  the credentials work but may not read this
    ├── NotFoundError          a page, folder or space that does not exist (or is hidden)
    ├── RateLimitError         retries exhausted on 429/503, or a wait over max_wait (retry_at)
    ├── TransportError         the network failed after every retry, or a protocol fault
    ├── OversizedError         a download over its byte cap (reading stopped at the cap)
    ├── ImageRejected          an attachment that is not an acceptable image (also a ValueError)
    ├── FileRejected           an attached file that cannot be parsed (the message is the reason)
    ├── H2OGPTeIngestError     h2oGPTe did not ingest what was sent
    ├── AudienceUnknown        who may read a page cannot be learnt (it is marked restricted)
    ├── RequestRefusedError    Confluence answered 400 (the message carries its reason)
    ├── InvalidRequestError    a request this package must never send (a bug: reported at once)
    └── ImportCancelled        the screen: its user cancelled an import (it stops the run)

Messages say what was asked and what to do; they never contain a secret.
"""

from __future__ import annotations

from datetime import datetime


class ConfluenceError(Exception):
    """Base class of every error this package raises."""


class BadArgumentError(ConfluenceError, ValueError):
    """An argument that cannot work; the message says what to pass instead."""


class BadURLError(BadArgumentError):
    """A URL that is not a Confluence Cloud URL of the configured site."""


class UnknownArgumentError(BadArgumentError, TypeError):
    """A keyword the call does not take; the message names the nearest one it does."""


class AuthError(ConfluenceError):
    """Credentials are missing, wrong, expired or revoked."""


class PermissionDeniedError(ConfluenceError):
    """The credentials are valid but may not read what was asked."""


class NotFoundError(ConfluenceError):
    """A page, folder or space that does not exist or is not visible to this user."""


class RateLimitError(ConfluenceError):
    """Confluence kept answering 429 or 503 after every retry, or asked for a wait longer than
    `RetryPolicy.max_wait`; `retry_at` (UTC) says when requests may go again, when known."""

    def __init__(self, message: str, retry_at: datetime | None = None) -> None:
        super().__init__(message)
        self.retry_at = retry_at


def stops_the_run(error: BaseException) -> bool:
    """An error no single page or file may absorb: the next request may not go for longer than
    `RetryPolicy.max_wait` (the hour's quota spent)."""
    return isinstance(error, RateLimitError) and error.retry_at is not None


class TransportError(ConfluenceError):
    """The network or the server failed in a way retries did not cure."""


class OversizedError(ConfluenceError):
    """A download larger than the byte cap (reading stopped at the cap)."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"larger than the {limit:,}-byte cap (at least {size:,} bytes)")
        self.size = size
        self.limit = limit


class ImageRejected(ConfluenceError, ValueError):
    """Why an attachment did not become an ImageDocument (the message is the reason)."""


class FileRejected(ConfluenceError, ValueError):
    """Why an attached file did not become a Document (the message is the reason)."""


class H2OGPTeIngestError(ConfluenceError):
    """h2oGPTe did not ingest what was sent (the job failed or reported errors)."""


class InvalidRequestError(ConfluenceError):
    """A request the client refuses to send (a blank filter, too many ids): a bug in the caller."""


class RequestRefusedError(ConfluenceError):
    """Confluence refused a request as invalid (HTTP 400); `detail` is Confluence's reason."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


class AudienceUnknown(ConfluenceError):
    """Who may read a page cannot be learnt (an ancestor or a space whose grants cannot be
    read); the page is imported marked restricted with nobody named, and reported."""


class BodyTooLarge(BadArgumentError):
    """A request to the import screen (`confluence-v2 ui`) larger than it takes."""


class ImportRunning(BadArgumentError):
    """The import screen: an import into that collection is running already."""


class ImportCancelled(ConfluenceError):
    """The import screen: its user cancelled the import; the run stops before its next write."""
