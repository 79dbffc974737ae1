"""Accounts of a ``deerin serve`` deployment: a TOML file of argon2id password hashes and groups.

::

    [users.anna]
    password = "$argon2id$v=19$m=65536,t=3,p=4$..."
    groups = ["filmarchiv"]

``deerin users add NAME --groups G`` writes an entry (the password read from standard input,
hashed with argon2-cffi's defaults, RFC 9106's second recommended profile); ``--no-password``
writes an entry without one, for a user who only logs in by OAuth (it names their groups and can
never pass a password check). The file is replaced
atomically and kept readable by its owner only. :class:`UserBook` is what the server checks
against: it reads the file again when it changes, so an account added while serving can log in
at once, and one removed is refused at once. Passwords are never logged, and neither are hashes.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import threading
import time
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TABLE = "users"
ADMIN_GROUP = "admin"
"""Members of this group see every collection."""
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}")
_GROUP = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
# Verifying an argon2 hash takes tens of milliseconds by design; an API client sending Basic
# credentials with every request would pay that each time. A verified pair is remembered (as a
# keyed digest, never the password) for this long.
_REMEMBER_SECONDS = 300.0
_REMEMBER_MAX = 1024


class UsersFileError(ValueError):
    """The users file cannot be used: one line that names it."""


@dataclass(frozen=True, slots=True)
class Account:
    """One account: its name, its argon2 hash (empty: no password, an OAuth-only entry) and the
    groups it belongs to."""

    name: str
    password_hash: str
    groups: tuple[str, ...] = ()


def users_path(env: Mapping[str, str] | None = None) -> Path:
    """Where the accounts are kept: the setting ``serve.users_file``, else ``users.toml``
    beside the user's configuration file."""
    from config import load_config, user_file

    chosen = load_config(env)["serve.users_file"]
    return Path(chosen).expanduser() if chosen else user_file(env).parent / "users.toml"


def read_users(path: Path) -> dict[str, Account]:
    """The accounts of the file at ``path`` (none when it does not exist). Raises
    :class:`UsersFileError` naming the file for anything malformed."""
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise UsersFileError(f"{path}: cannot read it ({exc.strerror or exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise UsersFileError(f"{path}: not valid TOML ({exc})") from exc
    table = data.get(TABLE, {})
    if not isinstance(table, Mapping) or set(data) - {TABLE}:
        raise UsersFileError(f"{path}: holds only [{TABLE}.NAME] tables")
    found: dict[str, Account] = {}
    for name, entry in table.items():
        at = f"{path}: [{TABLE}.{name}]"
        if not _NAME.fullmatch(name):
            raise UsersFileError(f"{at}: not a user name (letters, digits, - _ . @)")
        if not isinstance(entry, Mapping) or set(entry) - {"password", "groups"}:
            raise UsersFileError(f"{at}: takes password and groups only")
        hashed, groups = entry.get("password", ""), entry.get("groups", [])
        if not isinstance(hashed, str) or (hashed and not hashed.startswith("$argon2")):
            raise UsersFileError(f"{at}: password must be an argon2 hash (set it with "
                                 "`deerin users add`)")
        if not isinstance(groups, list) or not all(
                isinstance(g, str) and _GROUP.fullmatch(g) for g in groups):
            raise UsersFileError(f"{at}: groups must be a list of group names")
        found[name] = Account(name, hashed, tuple(groups))
    return found


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (argon2-cffi's default parameters)."""
    from argon2 import PasswordHasher

    return PasswordHasher().hash(password)


def set_user(path: Path, name: str, password: str | None, groups: Sequence[str]) -> bool:
    """Write the account ``name`` (created or replaced) into the file at ``path``, keeping the
    other accounts; returns whether it existed. ``password`` ``None``: an entry without one
    (its user logs in by OAuth only). Raises :class:`UsersFileError`."""
    import tomlkit

    if not _NAME.fullmatch(name):
        raise UsersFileError(f"{name!r} is not a user name (letters, digits, - _ . @)")
    bad = [g for g in groups if not _GROUP.fullmatch(g)]
    if bad:
        raise UsersFileError(f"{bad[0]!r} is not a group name (letters, digits, - _ . @)")
    if password is not None and not password:
        raise UsersFileError("an empty password is not a password")
    known = read_users(path)  # refuse to rewrite a file that is malformed already
    document: Any = tomlkit.parse(path.read_text("utf-8")) if path.exists() else tomlkit.document()
    table = document.get(TABLE)
    if table is None:
        table = tomlkit.table(is_super_table=True)
        document[TABLE] = table
    entry = tomlkit.table()
    if password is not None:
        entry["password"] = hash_password(password)
    entry["groups"] = list(dict.fromkeys(groups))
    table[name] = entry
    _write_private(path, tomlkit.dumps(document))
    return name in known


def remove_user(path: Path, name: str) -> None:
    """Take the account ``name`` out of the file; raise :class:`UsersFileError` when absent."""
    import tomlkit

    if name not in read_users(path):
        raise UsersFileError(f"{path}: no user named {name}")
    document: Any = tomlkit.parse(path.read_text("utf-8"))
    del document[TABLE][name]
    _write_private(path, tomlkit.dumps(document))


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        # Created owner-only before anything is written into it: hashes are still secrets.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UsersFileError(f"{path}: cannot write it ({exc.strerror or exc})") from exc


@dataclass
class UserBook:
    """The accounts of a users file, as the server checks them. Thread-safe; re-reads the file
    when its modification time or size changes. A file that turns malformed while serving keeps
    the last good accounts (and says why in :attr:`problem`) rather than locking everyone out
    or letting everyone in."""

    path: Path
    problem: str | None = None
    _accounts: dict[str, Account] = field(default_factory=dict)
    _stamp: tuple[int, int] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _remembered: dict[bytes, float] = field(default_factory=dict)
    _key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    _dummy: str = ""

    def __post_init__(self) -> None:
        self._accounts = read_users(self.path)  # a bad file at start-up is an error
        self._stamp = file_stamp(self.path)

    def accounts(self) -> dict[str, Account]:
        """The accounts as the file holds them now."""
        stamp = file_stamp(self.path)
        with self._lock:
            if stamp != self._stamp:
                try:
                    self._accounts = read_users(self.path)
                    self.problem = None
                except UsersFileError as exc:
                    self.problem = str(exc)
                self._stamp = stamp
                self._remembered.clear()  # a changed password must not stay remembered
            return self._accounts

    def exists(self, user: str) -> bool:
        """Whether ``user`` has an account."""
        return user in self.accounts()

    def groups(self, user: str) -> tuple[str, ...]:
        """The groups of ``user`` (none for an unknown name)."""
        account = self.accounts().get(user)
        return account.groups if account is not None else ()

    def verify(self, user: str, password: str) -> bool:
        """Whether ``password`` is ``user``'s. An unknown name costs a hash check too, so the
        time taken does not tell which names exist."""
        from argon2 import PasswordHasher
        from argon2.exceptions import InvalidHashError, VerificationError

        account = self.accounts().get(user)
        if account is not None and not account.password_hash:
            account = None  # an OAuth-only entry: no password is its password
        hashed = account.password_hash if account is not None else self._dummy_hash()
        memo = hmac.new(self._key, b"\0".join(
            (user.encode(), password.encode(), hashed.encode())), hashlib.sha256).digest()
        now = time.monotonic()
        with self._lock:
            seen = self._remembered.get(memo)
        if seen is not None and now - seen < _REMEMBER_SECONDS and account is not None:
            return True
        try:
            PasswordHasher().verify(hashed, password)
        except (VerificationError, InvalidHashError):
            return False
        if account is None:
            return False
        with self._lock:
            if len(self._remembered) >= _REMEMBER_MAX:
                self._remembered.clear()
            self._remembered[memo] = now
        return True

    def _dummy_hash(self) -> str:
        if not self._dummy:
            self._dummy = hash_password(secrets.token_urlsafe(16))
        return self._dummy


def file_stamp(path: Path) -> tuple[int, int] | None:
    """The modification time and size of ``path`` (None when it cannot be read): a file
    re-read when this changes is re-read only when it changed."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)
