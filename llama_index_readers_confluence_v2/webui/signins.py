"""OAuth 2.0 sign-ins started from the screen: the existing browser flow (signin.login), its
authorization address handed to the page to open, the credential stored when it completes."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from typing import Any

from ..credential_store import CredentialStore
from ..errors import ConfluenceError
from ..signin import login


@dataclass
class SignIn:
    state: str = "starting"  # "starting" | "open" (the page opens `url`) | "done" | "failed"
    url: str = ""
    error: str = ""
    credential_id: str = ""


class SignIns:
    def __init__(self, store: CredentialStore, endpoints: dict[str, Any]) -> None:
        self.store = store
        self.endpoints = {
            key: endpoints[key]
            for key in ("auth_server_url", "api_gateway_url")
            if key in endpoints
        }
        self._lock = threading.Lock()
        self._runs: dict[str, SignIn] = {}

    def start(
        self,
        credential_id: str,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        site: str | None,
    ) -> str:
        ticket = uuid.uuid4().hex[:12]
        run = SignIn(credential_id=credential_id)
        with self._lock:
            self._runs[ticket] = run

        def opened(url: str) -> None:
            with self._lock:
                run.state, run.url = "open", url

        def flow() -> None:
            try:
                credential = login(
                    client_id,
                    client_secret,
                    site_url=site or None,
                    redirect_uri=redirect_uri,
                    open_browser=opened,
                    timeout=300.0,
                    **self.endpoints,
                )
                self.store.save(credential_id, credential, site=credential.site_url or "")
            except (ConfluenceError, OSError) as error:
                with self._lock:
                    run.state, run.error = "failed", " ".join(str(error).split())
                return
            with self._lock:
                run.state = "done"

        threading.Thread(target=flow, name=f"sign-in-{ticket}", daemon=True).start()
        return ticket

    def status(self, ticket: str) -> dict[str, str] | None:
        with self._lock:
            run = self._runs.get(ticket)
            return None if run is None else dict(run.__dict__)
