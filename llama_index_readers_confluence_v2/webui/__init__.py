"""The connector's browse-and-pick screen, served locally (`confluence-v2 ui`)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..credential_store import CredentialStore

INSTALL_HINT = (
    "the screen needs starlette and uvicorn: pip install 'llama-index-readers-confluence-v2[ui]'"
)


@contextmanager
def running(
    store: CredentialStore,
    collection: str | Path,
    *,
    port: int = 0,
    reader_options: dict[str, Any] | None = None,
    address: str = "",
) -> Iterator[str]:
    """Serve the screen on 127.0.0.1 (a free port unless `port`) in a background thread; gives
    the address to open, with this run's token in it."""
    try:
        from ..serving import serve_app
        from .app import Settings, create_app, host_guard, secured
    except ImportError as error:
        raise ImportError(INSTALL_HINT) from error
    settings = Settings(
        store,
        secrets.token_urlsafe(24),
        Path(collection).expanduser().absolute(),
        session=secrets.token_urlsafe(24),
        reader_options=dict(reader_options or {}),
        address=address,
    )
    hosts: set[str] = set()
    app = secured(host_guard(create_app(settings), hosts))
    with serve_app(app, 1, port=port) as (origin,):
        bound = origin.rsplit(":", 1)[1]
        settings.origins |= {f"http://127.0.0.1:{bound}", f"http://localhost:{bound}"}
        hosts |= {f"127.0.0.1:{bound}", f"localhost:{bound}"}
        yield f"{origin}/?token={settings.token}"


__all__ = ["INSTALL_HINT", "running"]
