"""OAuth logins of ``deerin serve``: who an identity vouched for by Chainlit's OAuth providers
(GitHub, Google, Azure AD, Okta, Auth0, Keycloak, generic...) is to DEERIn, and their groups.

Chainlit turns a provider on when its environment variables are set (see
:func:`configured_providers`, which reads Chainlit's own list). A user is named by the e-mail
address the provider vouches for, never by a bare login name another site hands out: a GitHub
account called ``anna`` is not the users file's ``anna``.

- The users file entry of that address (compared without case) gives the groups; an entry
  written with ``deerin users add ADDRESS --groups G --no-password`` exists for exactly this.
- Otherwise the address's domain may be in the setting ``serve.oauth_domains``
  (``archiv.example=filmarchiv+guests, uni.example``): such users log in with the groups listed
  there (none: they see nothing until given some).
- Anyone else is refused. With ``serve.oauth_domains`` empty, only the users file's addresses
  may log in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from assistant.web.users import Account

_DOMAIN = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}\.)+[a-z0-9-]{1,63}")
_GROUP = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
# Providers whose identifier is not an address they vouch for: their verified e-mail is read.
_GITHUB = "github"
_GOOGLE = "google"


def configured_providers() -> list[str]:
    """The ids of the OAuth providers Chainlit has turned on (their environment variables are
    set), read from Chainlit's own list."""
    from chainlit.oauth_providers import get_configured_oauth_providers

    return list(get_configured_oauth_providers())


def parse_domains(spec: str) -> dict[str, tuple[str, ...]]:
    """The allowed e-mail domains of ``serve.oauth_domains`` and the groups each gives:
    ``DOMAIN[=GROUP+GROUP...]``, comma-separated. Raises :class:`ValueError` (one line)."""
    found: dict[str, tuple[str, ...]] = {}
    for part in spec.split(","):
        if not part.strip():
            continue
        domain, _, groups = part.partition("=")
        domain = domain.strip().lower().lstrip("@")
        if not _DOMAIN.fullmatch(domain):
            raise ValueError(f"serve.oauth_domains: {domain!r} is not an e-mail domain")
        names = tuple(g.strip() for g in groups.split("+") if g.strip())
        bad = [g for g in names if not _GROUP.fullmatch(g)]
        if bad:
            raise ValueError(f"serve.oauth_domains: {bad[0]!r} is not a group name")
        found[domain] = tuple(dict.fromkeys(found.get(domain, ()) + names))
    return found


def oauth_email(provider: str, raw: Mapping[str, Any], identifier: str) -> str | None:
    """The e-mail address (lower case) the provider ``provider`` vouches for, from its raw user
    data and Chainlit's identifier of the user; ``None`` when it vouches for none.

    GitHub: the primary, verified address of its list. Google: the address when it says it is
    verified. The organisation providers (Azure AD, Okta, Auth0, Keycloak, a generic one...):
    their identifier when it is an address (Chainlit takes it from the e-mail or principal
    name the organisation manages), else the ``email`` they send."""
    if provider == _GITHUB:
        emails = raw.get("emails")
        chosen = next((e.get("email") for e in emails if isinstance(e, Mapping)
                       and e.get("primary") and e.get("verified")),
                      None) if isinstance(emails, list) else None
    elif provider == _GOOGLE:
        chosen = raw.get("email") if raw.get("email_verified") is True else None
    else:
        chosen = identifier if "@" in identifier else raw.get("email")
    if not isinstance(chosen, str):
        return None
    chosen = chosen.strip().lower()
    local, at, domain = chosen.rpartition("@")
    return chosen if at and local and _DOMAIN.fullmatch(domain) else None


def map_identity(email: str | None, accounts: Mapping[str, Account],
                 domains: Mapping[str, tuple[str, ...]]) -> tuple[str, tuple[str, ...]] | None:
    """The DEERIn user and groups of the OAuth identity ``email`` (see :func:`oauth_email`):
    the users file entry of that address (``accounts``, names compared without case), else the
    address with its domain's groups when ``domains`` allows the domain; ``None``: refused."""
    if not email:
        return None
    for name, account in accounts.items():
        if name.lower() == email:
            return name, account.groups
    domain = email.rpartition("@")[2]
    if domain in domains:
        return email, domains[domain]
    return None


@dataclass(frozen=True, slots=True)
class OAuthLogin:
    """OAuth is on: the e-mail domains whose users may log in without a users file entry, and
    the groups each gives (``serve.oauth_domains``)."""

    domains: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def domain_groups(self, user: str) -> tuple[str, ...] | None:
        """The groups the domain of ``user`` (an address) gives; ``None``: not allowed."""
        local, at, domain = user.lower().rpartition("@")
        return self.domains.get(domain) if at and local else None


@dataclass(frozen=True, slots=True)
class WithOAuth:
    """The users file's accounts as the signed-token check sees them: an address whose domain
    :class:`OAuthLogin` allows holds an account too (its session token stays valid while the
    domain is allowed), but passwords are only ever the file's."""

    book: Any  # assistant.web.auth.Accounts
    oauth: OAuthLogin

    def verify(self, user: str, password: str) -> bool:
        """Whether ``password`` is ``user``'s in the users file."""
        return bool(self.book.verify(user, password))

    def exists(self, user: str) -> bool:
        """Whether ``user`` is in the users file or an address of an allowed domain."""
        return bool(self.book.exists(user)) or self.oauth.domain_groups(user) is not None
