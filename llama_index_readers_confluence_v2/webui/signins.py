"""OAuth 2.0 sign-ins started from the screen: the existing browser flow (signin.login), its
authorization address handed to the page to open, the credential stored when it completes."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
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
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    thread: threading.Thread | None = field(default=None, repr=False)


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
        self._replace_waiting()
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
                    cancel=run.cancel,
                    **self.endpoints,
                )
                self.store.save(credential_id, credential, site=credential.site_url or "")
            except (ConfluenceError, OSError) as error:
                with self._lock:
                    run.state, run.error = "failed", " ".join(str(error).split())
                return
            with self._lock:
                run.state = "done"

        run.thread = threading.Thread(target=flow, name=f"sign-in-{ticket}", daemon=True)
        run.thread.start()
        return ticket

    def _replace_waiting(self) -> None:
        """A new sign-in replaces one still waiting for its answer (a wrong client id never
        gets one): that one stops and frees the callback address first."""
        with self._lock:
            waiting = [r for r in self._runs.values() if r.state in ("starting", "open")]
        for run in waiting:
            run.cancel.set()
            if run.thread is not None:
                run.thread.join(5)

    def status(self, ticket: str) -> dict[str, str] | None:
        with self._lock:
            run = self._runs.get(ticket)
            if run is None:
                return None
            return {
                "state": run.state,
                "url": run.url,
                "error": run.error,
                "credential_id": run.credential_id,
            }
