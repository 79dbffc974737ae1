"""Helpers shared by the chat tests: free loopback ports and Chainlit's web-client handshake."""

from __future__ import annotations

import socket
import uuid
from typing import Any


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def connect_webapp(client: Any, url: str) -> None:
    """Connect a socketio.AsyncClient to a Chainlit app as its web client does, and start the
    chat (``connection_successful`` runs ``on_chat_start``)."""
    auth = {"clientType": "webapp", "sessionId": str(uuid.uuid4()), "threadId": "",
            "userEnv": "{}", "chatProfile": ""}
    await client.connect(url, socketio_path="/ws/socket.io", transports=["websocket"],
                         auth=auth, wait_timeout=30)
    await client.emit("connection_successful")
