"""Serving an ASGI app on loopback in a background thread: the emulator, the h2oGPTe stand-in
and the browse-and-pick screen (uvicorn, an optional dependency, imported when used)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def serve_app(
    app: Any, sockets: int, tls: tuple[str, str] | None = None, *, port: int = 0
) -> Iterator[list[str]]:
    """Run an ASGI app with uvicorn in a thread, on `sockets` loopback ports (free ones, or
    `port` for the first), and give their origins."""
    import uvicorn

    bound = [_bound_socket(port if n == 0 else 0) for n in range(sockets)]
    config = uvicorn.Config(
        app,
        interface="asgi3",
        lifespan="off",
        log_level="critical",
        access_log=False,
        timeout_keep_alive=30,
        ssl_certfile=tls[0] if tls else None,
        ssl_keyfile=tls[1] if tls else None,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": bound}, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the server failed to start")
            thread.join(0.01)
        scheme = "https" if tls else "http"
        yield [f"{scheme}://127.0.0.1:{sock.getsockname()[1]}" for sock in bound]
    finally:
        server.should_exit = True
        thread.join(10)
        for sock in bound:
            sock.close()


def _bound_socket(port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.set_inheritable(True)
    return sock
