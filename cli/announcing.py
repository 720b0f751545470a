"""A uvicorn server that says when it serves: once it accepts connections, not before.

``provenance demo`` prints "serving on ..." for a newcomer to open the stories' URLs.
Printed before ``uvicorn.run``, it came while the app was still starting (its database
opened, its log checked): a request sent on reading it found no one listening.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

import uvicorn


class AnnouncingServer(uvicorn.Server):
    """`uvicorn.Server` calling ``announce`` once, when it has started: the app's
    start-up done and its socket listening. A start that fails announces nothing."""

    def __init__(self, config: uvicorn.Config, announce: Callable[[], None]) -> None:
        super().__init__(config)
        self._announce = announce

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's start-up, then the announcement if it left the server serving."""
        await super().startup(sockets)
        if self.started and not self.should_exit:
            self._announce()
