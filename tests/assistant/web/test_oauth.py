"""OAuth logins of ``deerin serve``: who an identity is, their groups, and when the callback
exists at all.

The OAuth provider itself (GitHub, Google, an organisation's identity provider) is a true system
edge that cannot run here: no network, no client registration. These tests start where the
provider's answer reaches DEERIn, with the raw user data Chainlit hands the callback, shaped as
each provider sends it; the login round trip through a real provider is not tested.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.web.api_ask import AskGate
from assistant.web.auth import AuthConfig
from assistant.web.deployment import Deployment
from assistant.web.oauth import (
    OAuthLogin,
    WithOAuth,
    map_identity,
    oauth_email,
    parse_domains,
)
from assistant.web.users import Account, UserBook, set_user
from config.collections import Collection, add_collection

REPO = Path(__file__).resolve().parents[3]
ACCOUNTS = {
    "Anna@Archiv.example": Account("Anna@Archiv.example", "", ("filmarchiv",)),
    "ben": Account("ben", "$argon2id$v=19$m=65536,t=3,p=4$x$y", ("tv",)),
}
DOMAINS = {"uni.example": ("research", "guests"), "open.example": ()}


@pytest.mark.parametrize(("provider", "raw", "identifier", "expected"), [
    ("github", {"login": "anna", "emails": [
        {"email": "old@x.example", "primary": False, "verified": True},
        {"email": "Anna@Archiv.example", "primary": True, "verified": True}]},
     "anna", "anna@archiv.example"),
    ("github", {"emails": [{"email": "anna@archiv.example", "primary": True,
                            "verified": False}]}, "anna", None),
    ("github", {"login": "ben@archiv.example"}, "ben@archiv.example", None),
    ("google", {"email": "anna@archiv.example", "email_verified": True},
     "anna@archiv.example", "anna@archiv.example"),
    ("google", {"email": "anna@archiv.example", "email_verified": False},
     "anna@archiv.example", None),
    ("azure-ad", {"userPrincipalName": "Anna@Archiv.example"}, "Anna@Archiv.example",
     "anna@archiv.example"),
    ("generic", {"sub": "42", "email": "ben@uni.example"}, "42", "ben@uni.example"),
    ("generic", {"sub": "42"}, "42", None),
    ("okta", {}, "not an address@", None),
])
def test_the_address_a_provider_vouches_for(provider: str, raw: dict[str, object],
                                            identifier: str, expected: str | None) -> None:
    assert oauth_email(provider, raw, identifier) == expected


def test_the_users_file_entry_gives_the_name_and_groups() -> None:
    assert map_identity("anna@archiv.example", ACCOUNTS, {}) == (
        "Anna@Archiv.example", ("filmarchiv",))
    # A file entry wins over its domain's groups.
    assert map_identity("anna@archiv.example", ACCOUNTS, {"archiv.example": ("admin",)}) == (
        "Anna@Archiv.example", ("filmarchiv",))


def test_an_allowed_domain_logs_in_with_its_groups() -> None:
    assert map_identity("carl@uni.example", ACCOUNTS, DOMAINS) == (
        "carl@uni.example", ("research", "guests"))
    assert map_identity("dora@open.example", ACCOUNTS, DOMAINS) == ("dora@open.example", ())


def test_anyone_else_is_refused() -> None:
    assert map_identity("eve@elsewhere.example", ACCOUNTS, DOMAINS) is None
    assert map_identity("eve@sub.uni.example", ACCOUNTS, DOMAINS) is None
    assert map_identity("carl@uni.example", ACCOUNTS, {}) is None  # empty: the file only
    assert map_identity(None, ACCOUNTS, DOMAINS) is None


def test_the_domains_setting() -> None:
    assert parse_domains("") == {}
    assert parse_domains(" Archiv.example=filmarchiv+guests , @uni.example,") == {
        "archiv.example": ("filmarchiv", "guests"), "uni.example": ()}
    with pytest.raises(ValueError, match="not an e-mail domain"):
        parse_domains("localhost")
    with pytest.raises(ValueError, match="not a group name"):
        parse_domains("uni.example=bad group")


def test_oauth_users_see_what_their_groups_allow(tmp_path: Path) -> None:
    users = tmp_path / "users.toml"
    set_user(users, "anna@archiv.example", None, ["filmarchiv"])
    set_user(users, "ben", "battery staple", ["tv"])
    config = tmp_path / "deerin.toml"
    add_collection(config, Collection("fa", str(tmp_path / "fa"), groups=("filmarchiv",)))
    add_collection(config, Collection("tv", str(tmp_path / "tv"), groups=("tv",)))
    add_collection(config, Collection("uni", str(tmp_path / "uni"), groups=("research",)))
    book = UserBook(users)
    oauth = OAuthLogin(parse_domains("uni.example=research"))
    auth = AuthConfig(jwt_secret="k" * 48, accounts=WithOAuth(book, oauth))
    from assistant.llm import LLMCache

    deployment = Deployment(config, auth, book=book, gate=AskGate(1, 1), cache=LLMCache(),
                            warm_up=False, oauth=oauth)
    assert deployment.login_required
    github = {"emails": [{"email": "anna@archiv.example", "primary": True, "verified": True}]}
    assert deployment.from_oauth("github", github, "anna-gh") == "anna@archiv.example"
    assert deployment.from_oauth("google", {"email": "carl@uni.example",
                                            "email_verified": True}, "x") == "carl@uni.example"
    assert deployment.from_oauth("google", {"email": "eve@else.example",
                                            "email_verified": True}, "x") is None
    seen = {u: [c.name for c in deployment.visible(u)]
            for u in ("anna@archiv.example", "carl@uni.example", "ben", "eve@else.example")}
    assert seen == {"anna@archiv.example": ["fa"], "carl@uni.example": ["uni"], "ben": ["tv"],
                    "eve@else.example": []}
    # The chat's session token of a domain user is honoured; a password is only the file's.
    assert auth.token_user(auth.issue_token("carl@uni.example", 60)) == "carl@uni.example"
    assert auth.token_user(auth.issue_token("eve@else.example", 60)) is None
    assert not auth.check_password("anna@archiv.example", "")
    assert auth.check_password("ben", "battery staple")


def test_without_oauth_nobody_logs_in_by_it(tmp_path: Path) -> None:
    from assistant.llm import LLMCache

    deployment = Deployment(tmp_path / "deerin.toml", AuthConfig(), book=None,
                            gate=AskGate(1, 1), cache=LLMCache(), warm_up=False)
    assert not deployment.login_required
    assert deployment.from_oauth("google", {"email": "a@b.example",
                                            "email_verified": True}, "x") is None


_REGISTER = """
import asyncio, json, types
import chainlit as cl
from chainlit.config import config
from assistant.web.chainlit_serve import register
from assistant.web.oauth import OAuthLogin

found = types.SimpleNamespace(
    header=None, database_url=None, oauth=OAuthLogin({}),
    from_oauth=lambda provider, raw, ident: "anna@archiv.example" if raw.get("ok") else None)
register(lambda: found, lambda: None, lambda: None)
callback = config.code.oauth_callback
users = [] if callback is None else [
    getattr(asyncio.run(callback("github", "token", raw, cl.User(identifier="anna"), None)),
            "identifier", None) for raw in ({"ok": True}, {})]
print(json.dumps([callback is not None, users]))
"""


@pytest.mark.parametrize(("extra", "registered"), [
    ({}, False),
    ({"OAUTH_GITHUB_CLIENT_ID": "id"}, False),  # half a provider is none
    ({"OAUTH_GITHUB_CLIENT_ID": "id", "OAUTH_GITHUB_CLIENT_SECRET": "secret"}, True),
])
def test_the_callback_exists_only_with_a_configured_provider(
        tmp_path: Path, extra: dict[str, str], registered: bool) -> None:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OAUTH_", "DEERIN_", "CHAINLIT_"))}
    env |= {"PYTHONPATH": str(REPO), "CHAINLIT_AUTH_SECRET": "s" * 48,
            "CHAINLIT_APP_ROOT": str(tmp_path)} | extra
    run = subprocess.run([sys.executable, "-c", _REGISTER], capture_output=True, text=True,
                         env=env, cwd=tmp_path, timeout=300)
    assert run.returncode == 0, run.stderr
    exists, users = json.loads(run.stdout.strip().splitlines()[-1])
    assert exists is registered
    assert users == (["anna@archiv.example", None] if registered else [])
