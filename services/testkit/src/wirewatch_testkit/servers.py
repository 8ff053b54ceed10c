"""Serve an ASGI app over real HTTP inside a test, for what a test client cannot show."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from wirewatch_common.broker import free_port


@contextmanager
def serving(app: Any) -> Iterator[tuple[str, int]]:
    """Run an ASGI app under a real uvicorn on a free loopback port until the block ends.

    For what a test client cannot show: how real HTTP clients see early answers and unread bodies.
    """
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield "127.0.0.1", port
    finally:
        server.should_exit = True
        thread.join(30)
