"""The users file of ``deerin serve``: argon2 hashes, groups, re-read when it changes, and
``deerin users add`` reading the password from standard input."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.web.auth import AuthConfig
from assistant.web.users import (
    UserBook,
    UsersFileError,
    read_users,
    remove_user,
    set_user,
    users_path,
)
from tests.support import REPO


def test_set_user_stores_an_argon2_hash_owner_only(tmp_path: Path) -> None:
    file = tmp_path / "users.toml"
    assert set_user(file, "anna", "correct horse", ["filmarchiv"]) is False
    assert set_user(file, "ben", "battery staple", ["tv", "tv"]) is False
    text = file.read_text()
    assert "correct horse" not in text and "$argon2id$" in text
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    users = read_users(file)
    assert users["anna"].groups == ("filmarchiv",) and users["ben"].groups == ("tv",)
    assert set_user(file, "anna", "new one", ["filmarchiv", "admin"]) is True
    remove_user(file, "ben")
    assert set(read_users(file)) == {"anna"}
    with pytest.raises(UsersFileError, match="no user named ben"):
        remove_user(file, "ben")
    with pytest.raises(UsersFileError, match="not a user name"):
        set_user(file, "no spaces", "pw", [])
    with pytest.raises(UsersFileError, match="empty password"):
        set_user(file, "carl", "", [])


def test_a_malformed_file_is_one_line_naming_it(tmp_path: Path) -> None:
    file = tmp_path / "users.toml"
    file.write_text('[users.anna]\npassword = "plain text"\n')
    with pytest.raises(UsersFileError, match="must be an argon2 hash") as caught:
        read_users(file)
    assert str(caught.value).startswith(str(file))


def test_the_book_verifies_and_follows_the_file(tmp_path: Path) -> None:
    file = tmp_path / "users.toml"
    set_user(file, "anna", "correct horse", ["fa"])
    book = UserBook(file)
    auth = AuthConfig(jwt_secret="k" * 48, accounts=book)
    assert auth.check_password("anna", "correct horse")
    assert auth.check_password("anna", "correct horse")  # remembered: no second argon2 check
    assert not auth.check_password("anna", "wrong")
    assert not auth.check_password("nobody", "correct horse")
    token = auth.issue_token("anna", 60)
    assert auth.token_user(token) == "anna"
    set_user(file, "ben", "battery", ["tv"])
    os.utime(file, ns=(file.stat().st_atime_ns, file.stat().st_mtime_ns + 10**9))
    assert book.groups("ben") == ("tv",) and auth.check_password("ben", "battery")
    remove_user(file, "anna")
    os.utime(file, ns=(file.stat().st_atime_ns, file.stat().st_mtime_ns + 2 * 10**9))
    # Removed: the password and the token it was issued are refused at once.
    assert not auth.check_password("anna", "correct horse")
    assert auth.token_user(token) is None
    # A file broken while serving keeps the last good accounts and says why.
    file.write_text("[users.ben\n")
    assert book.exists("ben") and book.problem and str(file) in book.problem


def test_an_entry_without_a_password_names_groups_but_never_logs_in(tmp_path: Path) -> None:
    file = tmp_path / "users.toml"
    assert set_user(file, "anna@archiv.example", None, ["filmarchiv"]) is False
    assert "password" not in file.read_text("utf-8")
    book = UserBook(file)
    assert book.exists("anna@archiv.example")
    assert book.groups("anna@archiv.example") == ("filmarchiv",)
    assert not book.verify("anna@archiv.example", "")
    assert not book.verify("anna@archiv.example", "anything")


def test_users_path_is_beside_the_configuration(tmp_path: Path) -> None:
    conf = tmp_path / "deerin.toml"
    assert users_path({"DEERIN_CONFIG": str(conf)}) == tmp_path / "users.toml"
    assert users_path({"DEERIN_USERS_FILE": "/srv/u.toml"}) == Path("/srv/u.toml")


def test_users_add_reads_the_password_from_stdin(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEERIN_")}
    env |= {"DEERIN_CONFIG": str(tmp_path / "deerin.toml"), "PYTHONPATH": str(REPO)}
    run = subprocess.run([sys.executable, "-m", "deerin", "users", "add", "anna", "--groups",
                          "fa,org"], input="s3cret pass\n", capture_output=True, text=True,
                         env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "s3cret" not in run.stderr + run.stdout
    assert UserBook(tmp_path / "users.toml").verify("anna", "s3cret pass")
    listed = subprocess.run([sys.executable, "-m", "deerin", "users", "list"],
                            capture_output=True, text=True, env=env, timeout=300)
    assert listed.stdout == "anna\tfa,org\n" and "argon2" not in listed.stdout


@pytest.mark.parametrize(("spec", "anyone"), [
    ("default", True), ("tiny", True), ("llamacpp", True), ("ollama:llama3.2", True),
    ("llamacpp:/srv/models/big.gguf", False), ("/srv/models/big.gguf", False),
])
def test_only_an_admin_loads_a_model_file_on_a_shared_server(spec: str, anyone: bool) -> None:
    from assistant.web.deployment import may_pick_llm

    assert may_pick_llm(spec, admin=False) is anyone
    assert may_pick_llm(spec, admin=True)
