"""DEERIn's own web layer: media streaming and authentication shared with the Chainlit chat.

Nothing here imports Chainlit, so the routes can be mounted, tested and reasoned about without
the chat app (importing ``chainlit`` writes config files into the working directory).
"""

from assistant.web.auth import AuthCheck, AuthConfig, ensure_chainlit_secret, warn_if_exposed
from assistant.web.media import MediaFile, content_type, keyframe_url, media_router, media_url

__all__ = [
    "AuthCheck",
    "AuthConfig",
    "MediaFile",
    "content_type",
    "ensure_chainlit_secret",
    "keyframe_url",
    "media_router",
    "media_url",
    "warn_if_exposed",
]
