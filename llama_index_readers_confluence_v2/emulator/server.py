"""The emulator as users and tests hold it: in-process transport or loopback servers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from ..serving import serve_app
from .api import Origins
from .app import EmulatorApp
from .faults import Faults, LoggedRequest
from .generator import generate_site
from .model import Account, Site
from .oauth import OAuthServer
from .quota import PointsQuota

IN_PROCESS_ORIGINS = {
    "site": "https://acme.confluence.test",
    "gateway": "https://api.confluence.test",
    "media": "https://media.confluence.test",
    "auth": "https://auth.confluence.test",
}


class Emulator:
    """A Confluence Cloud site with its API gateway, media and auth origins.

    In-process: pass `emulator.transport()` to an httpx client (or the reader) and use
    `emulator.base_url`. Over loopback: `with emulator.serve(): ...` binds one free port per
    origin on 127.0.0.1 and switches every URL to those ports until the block ends.
    """

    def __init__(self, site: Site | None = None, *, pages: int = 60, seed: int = 7) -> None:
        self.site = site if site is not None else generate_site(pages, seed)
        self.origins = Origins(**IN_PROCESS_ORIGINS)
        self.app = EmulatorApp(self.site, self.origins)

    # ---- what tests read ----------------------------------------------------------------------

    @property
    def faults(self) -> Faults:
        return self.app.faults

    @property
    def log(self) -> list[LoggedRequest]:
        return list(self.app.log)

    @property
    def base_url(self) -> str:
        """The site's base URL, as users write it: `https://SITE/wiki`."""
        return f"{self.origins.site}/wiki"

    @property
    def gateway_url(self) -> str:
        return self.origins.gateway

    @property
    def auth_url(self) -> str:
        return self.origins.auth

    @property
    def cloud_id(self) -> str:
        return self.site.cloud_id

    @property
    def oauth(self) -> OAuthServer:
        return self.app.oauth

    def advance(self, seconds: float) -> None:
        """Move the emulator's clock forward (access tokens and codes expire by it)."""
        self.app.clock_offset += seconds

    def points_quota(
        self,
        limit: int = 65_000,
        *,
        pool: str = "global",
        per_object: bool = True,
        enforced: bool = True,
    ) -> PointsQuota:
        """Count every API answer's points and refuse OAuth requests once the hour's `limit`
        is spent, in windows on the emulator's clock (`advance` moves to the next hour). Not
        `enforced`: announced in the `Beta-` headers only."""
        self.app.quota = PointsQuota(limit, pool, per_object, enforced, clock=self.app.now)
        return self.app.quota

    def user(self, email: str = "alice@example.com") -> Account:
        for account in self.site.accounts.values():
            if account.email == email:
                return account
        raise KeyError(f"no emulated account {email!r}")

    def requests(self, origin: str | None = None, path: str = "") -> list[LoggedRequest]:
        return [
            entry
            for entry in self.app.log
            if (origin is None or entry.origin == origin) and path in entry.path
        ]

    def clear_log(self) -> None:
        self.app.log.clear()

    # ---- how clients reach it -----------------------------------------------------------------

    def transport(self) -> httpx.ASGITransport:
        return httpx.ASGITransport(app=self.app)

    @contextmanager
    def serve(self, tls: tuple[str, str] | None = None) -> Iterator[Emulator]:
        """Serve every origin on 127.0.0.1 (one free port each) in a background thread;
        `tls=(certfile, keyfile)` serves https instead of http."""
        saved = Origins(**vars(self.origins))
        roles = ("site", "gateway", "media", "auth")
        try:
            with serve_app(self.app, len(roles), tls) as origins:
                for role, origin in zip(roles, origins, strict=True):
                    setattr(self.origins, role, origin)
                yield self
        finally:
            for role in roles:
                setattr(self.origins, role, getattr(saved, role))
