"""How the chat app presents itself to other systems: the collection's name in URLs, the public
address links are made under, and which web origins may read its IIIF documents and media.

Read from the configuration when built (:meth:`WebSettings.from_env`), never at import; a bad
value raises :class:`ValueError` naming the variable, which ``deerin chat`` turns into exit 2.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from config import BY_KEY, Config

if TYPE_CHECKING:
    from starlette.requests import Request

DEFAULT_COLLECTION = "default"
ANY_ORIGIN = "*"
NO_ORIGIN = "none"
# A collection name is a URL path segment that needs no escaping.
_COLLECTION = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


@dataclass(frozen=True)
class WebSettings:
    """``collection`` is the served collection's name (``/iiif/<collection>/...``);
    ``public_url`` the base of every absolute link (empty: the address a request came to);
    ``cors_origins`` the web origins allowed to read IIIF documents and media from another
    site (``*``: any)."""

    collection: str = DEFAULT_COLLECTION
    public_url: str = ""
    cors_origins: tuple[str, ...] = (ANY_ORIGIN,)

    def __post_init__(self) -> None:
        if not _COLLECTION.fullmatch(self.collection):
            raise ValueError(f"{BY_KEY['chat.collection'].env}: {self.collection!r} is not a "
                             "collection name (letters, digits, - and _, at most 64)")
        if self.public_url:
            object.__setattr__(self, "public_url", _base_url(self.public_url))
        object.__setattr__(self, "cors_origins",
                           tuple(_origin(o) for o in self.cors_origins if o.strip()))

    def base_for(self, request: Request) -> str:
        """Where absolute links are made under: :attr:`public_url`, else the address
        ``request`` came to (with the app's root path)."""
        return self.public_url or str(request.base_url).rstrip("/")

    @classmethod
    def from_config(cls, config: Config) -> WebSettings:
        """The settings ``chat.collection``, ``chat.public_url`` and ``chat.cors_origins``."""
        origins = str(config["chat.cors_origins"]).split(",")
        if [o.strip().lower() for o in origins] == [NO_ORIGIN]:
            origins = []
        return cls(collection=str(config["chat.collection"]).strip(),
                   public_url=str(config["chat.public_url"]).strip(),
                   cors_origins=tuple(o.strip() for o in origins))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WebSettings:
        """The settings from ``DEERIN_*`` variables (the process environment when omitted)."""
        return cls.from_config(Config.from_env(env))


def _base_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query \
            or parts.fragment:
        raise ValueError(f"{BY_KEY['chat.public_url'].env}: {url!r} is not an http(s) address "
                         "such as https://deerin.example.org")
    return url.strip().rstrip("/")


def _origin(value: str) -> str:
    value = value.strip()
    if value == ANY_ORIGIN:
        return value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path.strip("/") \
            or parts.query or parts.fragment:
        raise ValueError(f"{BY_KEY['chat.cors_origins'].env}: {value!r} is not a web origin "
                         "such as https://viewer.example.org (scheme, host and port only)")
    # Browsers send origins lower-case, without a trailing slash.
    return f"{parts.scheme}://{parts.netloc.lower()}"
