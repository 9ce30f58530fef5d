"""One rooted exception tree.

::

    ConfluenceError
    ├── BadArgumentError      arguments that cannot work (also a ValueError)
    │   └── BadURLError       a URL that is not a Confluence URL of this site
    ├── AuthError             credentials missing, wrong, expired or revoked
    ├── PermissionDeniedError the credentials work but may not read this
    ├── NotFoundError         a page, folder or space that does not exist (or is hidden)
    ├── RateLimitError        retries exhausted on 429/503
    └── TransportError        the network failed after every retry, or a protocol fault

Messages say what was asked and what to do; they never contain a secret.
"""

from __future__ import annotations


class ConfluenceError(Exception):
    """Base class of every error this package raises."""


class BadArgumentError(ConfluenceError, ValueError):
    """An argument that cannot work; the message says what to pass instead."""


class BadURLError(BadArgumentError):
    """A URL that is not a Confluence Cloud URL of the configured site."""


class AuthError(ConfluenceError):
    """Credentials are missing, wrong, expired or revoked."""


class PermissionDeniedError(ConfluenceError):
    """The credentials are valid but may not read what was asked."""


class NotFoundError(ConfluenceError):
    """A page, folder or space that does not exist or is not visible to this user."""


class RateLimitError(ConfluenceError):
    """Confluence kept answering 429 or 503 after every retry."""


class TransportError(ConfluenceError):
    """The network or the server failed in a way retries did not cure."""
