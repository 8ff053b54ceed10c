"""Refuse an upload so that every client reads the refusal: answer at once, then drop the rest of the body.

A server that answers early and closes while the client is still sending leaves unread bytes in
its socket, so the kernel resets the connection; a client that writes its whole body before
reading (Python's urllib, many HTTP libraries) then gets ECONNRESET instead of the answer. Here
the refusal is sent at once (a client that reads while it sends, like curl, stops early), then
what remains of the body is read and dropped up to a bound in bytes and in time, and only then
is the connection closed (`Connection: close`). Beyond the bound the client is reset, as before.
"""

from __future__ import annotations

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

DRAIN_MIN_BYTES = 64 * 1024 * 1024
"""Whole bodies up to this size (or four times the limit, if larger) are read to the end."""
DRAIN_SECONDS = 15.0
"""Longest a refused client may keep sending: a slow one is cut off, not waited for."""


def drain_bound(limit: int) -> int:
    """Largest body read to its end after being refused for exceeding `limit`."""
    return max(4 * limit, DRAIN_MIN_BYTES)


async def drain(receive: Receive, allowance: int, seconds: float) -> int:
    """Read and drop request body messages until the body ends, `allowance` bytes pass or time runs out."""
    dropped = 0
    with anyio.move_on_after(seconds):
        while dropped <= allowance:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client went away
            dropped += len(message.get("body", b""))
            if not message.get("more_body", False):
                break
    return dropped


class DrainingResponse(Response):
    """`refusal`, sent whole before the unread request body is dropped (within bounds); then close.

    `allowance` is how many more body bytes may be read; `drain=False` answers and closes at once
    (the body is known to be too large to read, or the client waits for `100 Continue` and will
    not send it).
    """

    def __init__(
        self, refusal: Response, *, allowance: int, seconds: float = DRAIN_SECONDS, drain: bool = True
    ):
        super().__init__(content=refusal.body, status_code=refusal.status_code)
        self.raw_headers = [*refusal.raw_headers, (b"connection", b"close")]
        self.allowance = allowance
        self.seconds = seconds
        self.drain = drain and allowance > 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the refusal, keep the response open while the body is dropped, then finish it."""
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": self.body, "more_body": self.drain})
        if self.drain:
            await drain(receive, self.allowance, self.seconds)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
