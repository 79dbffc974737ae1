"""Authentication shared by the Chainlit chat and DEERIn's own media routes.

Configuration (read from the environment when :meth:`AuthConfig.from_env` is called, never at
import):

``DEERIN_AUTH``
    Accounts allowed to use the app, as ``user:password`` pairs separated by commas, e.g.
    ``DEERIN_AUTH="archivist:correct horse,guest:s3cret"``. The password is everything after the
    first colon, so it may itself contain colons; it may not contain a comma. Whitespace around
    each pair is ignored. A malformed value raises :class:`ValueError` rather than silently
    leaving the app open.

``CHAINLIT_AUTH_SECRET``
    The HS256 key Chainlit signs its session JWTs with. Chainlit refuses to start password auth
    without it; :func:`ensure_chainlit_secret` generates a per-process one when only
    ``DEERIN_AUTH`` is set.

``CHAINLIT_AUTH_COOKIE_NAME``
    The cookie Chainlit stores that JWT in (Chainlit's default: ``access_token``).

A request to a media, IIIF or API route is let through when auth is configured and it carries
either a token that verifies against ``CHAINLIT_AUTH_SECRET`` (Chainlit's session token in the
``access_token`` cookie or its ``access_token_0``, ``access_token_1``, ... chunks for long
tokens, or any such token in an ``Authorization: Bearer`` header) or HTTP Basic credentials
matching ``DEERIN_AUTH``. A token names its account (``identifier``); while ``DEERIN_AUTH``
lists accounts, a token of an account no longer listed is refused.

API tokens (:meth:`AuthConfig.issue_token`, ``POST /api/token``) are the same HS256 JWTs with an
audience of their own (:data:`API_AUDIENCE`): they open the media, IIIF and API routes, while
Chainlit, which checks no audience, refuses them as chat sessions.

Chainlit's own ``chainlit.auth.decode_jwt`` is not called: importing ``chainlit`` writes a
``.chainlit/`` config directory into the working directory, and the helper reads the secret
from ``os.environ`` rather than from the configuration this module was given. The check below
does what it does (PyJWT, HS256, signature and expiry verified) so tokens minted by Chainlit's
``create_jwt`` are accepted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import os
import secrets
import time
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Protocol

import jwt
from starlette.requests import Request

from config import BY_KEY, Config

AUTH_ENV = BY_KEY["chat.auth"].env
SECRET_ENV = "CHAINLIT_AUTH_SECRET"
COOKIE_NAME_ENV = "CHAINLIT_AUTH_COOKIE_NAME"
DEFAULT_COOKIE_NAME = "access_token"
REALM = "DEERIn"
VOUCHED = "deerin.user"
"""The ASGI scope key where ``deerin serve``'s router records whom it identified (a server-side
key no client can set), so the routes behind it need not check the same request again."""
API_AUDIENCE = "deerin-api"
"""The ``aud`` claim of API tokens: what tells them from chat sessions."""

# Chainlit splits long tokens into numbered cookies; a bound keeps a hostile request with
# thousands of cookies from costing more than a few lookups.
_MAX_COOKIE_CHUNKS = 32


class AuthCheck(Protocol):
    """What the media routes need from an authentication configuration."""

    def check_request(self, request: Request) -> bool:
        """Whether ``request`` may be served."""
        ...

    def challenge(self) -> str | None:
        """The ``WWW-Authenticate`` value sent with a 401, if any."""
        ...


class Accounts(Protocol):
    """Accounts kept elsewhere than ``DEERIN_AUTH`` (a file of password hashes, see
    :class:`assistant.web.users.UserBook`)."""

    def verify(self, user: str, password: str) -> bool:
        """Whether ``password`` is ``user``'s."""
        ...

    def exists(self, user: str) -> bool:
        """Whether ``user`` has an account now."""
        ...


@dataclass(frozen=True, slots=True)
class AuthConfig:
    """Who may use the app, and how their requests prove it.

    ``users`` holds ``(user, password)`` pairs from ``DEERIN_AUTH``; ``accounts`` a book of
    hashed passwords (``deerin serve``'s users file), checked instead when given;
    ``jwt_secret`` is Chainlit's signing key (also of API tokens). Auth is enabled when any of
    them is set.
    """

    users: tuple[tuple[str, str], ...] = ()
    jwt_secret: str | None = None
    cookie_name: str = DEFAULT_COOKIE_NAME
    # The key was made at start-up (:func:`ensure_chainlit_secret`): tokens die with the process.
    ephemeral_secret: bool = False
    accounts: Accounts | None = None

    @property
    def has_accounts(self) -> bool:
        """Whether there are accounts to log in with (so a login is required)."""
        return bool(self.users) or self.accounts is not None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AuthConfig:
        """Build the configuration from ``env`` (``os.environ`` when omitted), read now.

        Raises :class:`ValueError` when ``DEERIN_AUTH`` is set but malformed.
        """
        source = os.environ if env is None else env
        return cls(
            users=parse_users(Config.from_env(source)["chat.auth"]),
            jwt_secret=source.get(SECRET_ENV) or None,
            cookie_name=source.get(COOKIE_NAME_ENV) or DEFAULT_COOKIE_NAME,
        )

    @property
    def enabled(self) -> bool:
        """Whether requests must authenticate at all."""
        return self.has_accounts or bool(self.jwt_secret)

    def check_password(self, user: str, password: str) -> bool:
        """Whether ``user``/``password`` is one of the ``DEERIN_AUTH`` accounts.

        Meant for Chainlit's ``@cl.password_auth_callback``. Every account is compared, each
        through fixed-length digests, so the time taken says nothing about which user names
        exist or how much of a password was right.
        """
        if self.accounts is not None:
            return self.accounts.verify(user, password)
        given_user = _digest(user)
        given_password = _digest(password)
        found = False
        for known_user, known_password in self.users:
            same_user = hmac.compare_digest(given_user, _digest(known_user))
            same_password = hmac.compare_digest(given_password, _digest(known_password))
            # Non-short-circuit `&` / `|` keep every iteration doing the same work.
            found |= same_user & same_password
        return found

    def check_token(self, token: str) -> bool:
        """Whether ``token`` is a valid, unexpired session or API token of an account."""
        return self.token_user(token) is not None

    def token_user(self, token: str) -> str | None:
        """The account a valid, unexpired token (a Chainlit session JWT or an API token) names,
        else ``None``."""
        if not self.jwt_secret or not token:
            return None
        try:
            claims = jwt.decode(
                token, self.jwt_secret, algorithms=["HS256"],
                options={"require": ["exp"], "verify_aud": False},
            )
        except jwt.PyJWTError:
            return None
        if claims.get("aud") not in (None, API_AUDIENCE):
            return None
        # Chainlit builds a cl.User from the claims; a token without an identifier is not one.
        user = claims.get("identifier")
        if not isinstance(user, str) or not user:
            return None
        if self.accounts is not None and not self.accounts.exists(user):
            return None  # an account since removed from the users file
        if self.users and not any(hmac.compare_digest(_digest(user), _digest(known))
                                  for known, _ in self.users):
            return None  # an account since removed from DEERIN_AUTH
        return user

    def issue_token(self, user: str, lifetime: float) -> str:
        """An API token for ``user``, valid for ``lifetime`` seconds (see :data:`API_AUDIENCE`).

        Raises :class:`ValueError` when there is no signing key.
        """
        if not self.jwt_secret:
            raise ValueError(f"no signing key to issue tokens with: set {SECRET_ENV}")
        now = int(time.time())
        claims = {"identifier": user, "metadata": {"provider": "api-token"},
                  "aud": API_AUDIENCE, "iat": now, "exp": now + max(1, int(lifetime))}
        return jwt.encode(claims, self.jwt_secret, algorithm="HS256")

    def check_request(self, request: Request) -> bool:
        """Whether ``request`` may be served: always when auth is off, else with valid proof."""
        return not self.enabled or self.identify(request) is not None

    def identify(self, request: Request) -> str | None:
        """The account ``request`` proves it acts for (a token, else Basic credentials), or
        ``None``; says nothing about whether auth is on."""
        vouched = request.scope.get(VOUCHED)
        if isinstance(vouched, str) and vouched:
            return vouched
        for token in self._tokens(request):
            user = self.token_user(token)
            if user is not None:
                return user
        return self.password_user(request)

    def password_user(self, request: Request) -> str | None:
        """The account whose HTTP Basic credentials ``request`` carries, if they are right."""
        credentials = _basic_credentials(request.headers.get("authorization"))
        if credentials is not None and self.check_password(*credentials):
            return credentials[0]
        return None

    def challenge(self) -> str | None:
        """``Basic`` when passwords are accepted, so a browser opening a media URL directly
        offers a login box; ``None`` when only Chainlit sessions can get in."""
        if self.has_accounts:
            return f'Basic realm="{REALM}", charset="UTF-8"'
        return None

    def _tokens(self, request: Request) -> list[str]:
        tokens: list[str] = []
        cookies = request.cookies
        if whole := cookies.get(self.cookie_name):
            tokens.append(whole)
        else:
            chunks: list[str] = []
            for i in range(_MAX_COOKIE_CHUNKS):
                part = cookies.get(f"{self.cookie_name}_{i}")
                if part is None:
                    break
                chunks.append(part)
            if chunks:
                tokens.append("".join(chunks))
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            tokens.append(value.strip())
        return tokens


def parse_users(spec: str) -> tuple[tuple[str, str], ...]:
    """Parse a ``DEERIN_AUTH`` value (``user:password[,user:password...]``).

    An empty or blank value means no accounts. Raises :class:`ValueError` for a pair without a
    colon, an empty user or an empty password, naming the position but not the secret.
    """
    users: list[tuple[str, str]] = []
    if not spec.strip():
        return ()
    for position, entry in enumerate(spec.split(","), start=1):
        entry = entry.strip()
        if not entry:
            continue
        user, sep, password = entry.partition(":")
        if not sep or not user or not password:
            raise ValueError(
                f"{AUTH_ENV}: entry {position} is not of the form user:password "
                "(several are separated by commas)"
            )
        users.append((user, password))
    return tuple(users)


def ensure_chainlit_secret(env: MutableMapping[str, str]) -> bool:
    """Put a random ``CHAINLIT_AUTH_SECRET`` into ``env`` when ``DEERIN_AUTH`` needs one.

    Chainlit will not run password auth without a signing key. A generated key lives only as long
    as the process, so sessions end on restart; set ``CHAINLIT_AUTH_SECRET`` to keep them.
    Returns whether a key was generated.
    """
    if Config.from_env(env)["chat.auth"] and not env.get(SECRET_ENV):
        env[SECRET_ENV] = secrets.token_urlsafe(48)
        return True
    return False


def is_loopback(host: str) -> bool:
    """Whether binding to ``host`` keeps the server reachable from this machine only.

    ``localhost``, 127.0.0.0/8 and ``::1`` (also bracketed or IPv4-mapped) count; any other
    name counts as exposed because what it resolves to is not ours to know.
    """
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def warn_if_exposed(host: str, auth_enabled: bool) -> str | None:
    """A loud warning when serving on a non-loopback ``host`` without auth, else ``None``."""
    if auth_enabled or is_loopback(host):
        return None
    shown = host or "all interfaces"
    bar = "!" * 78
    return (
        f"{bar}\n"
        f"WARNING: DEERIn is listening on {shown} WITHOUT AUTHENTICATION.\n"
        "Anyone who can reach this address can chat with your archive and stream every\n"
        "indexed file. Either bind to 127.0.0.1, or set accounts before starting, e.g.\n"
        f'  {AUTH_ENV}="archivist:a-long-password"   (several: user:pw,user2:pw2)\n'
        f"{bar}"
    )


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None
