"""``deerin serve`` as a process: three collections, three accounts, and every route of a
collection refusing those who may not see it (404, the same as for an id that does not exist).

anna (group filmarchiv) sees ``a`` and ``broken``; ben (group tv) sees ``b``; root (admin) sees
all. The ids and keyframe names are read from the real indexes, so each user is also tried with
the other's real ids: what an attacker who guessed them would send.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from indexing.stores.lance import open_reader
from tests.support.chat import ChatServer, serving
from tests.support.serve import PASSWORDS, Workshop, start_serve


def auth(user: str) -> tuple[str, str]:
    return (user, PASSWORDS[user])


@pytest.fixture(scope="module")
def server(workshop_files: Workshop, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[str, ChatServer]]:
    proc = start_serve(workshop_files, tmp_path_factory.mktemp("serve"))
    with serving(proc) as url:
        yield url, proc


def ids(index: Path) -> tuple[str, str | None]:
    reader = open_reader(index)
    media = next(iter(reader.media()))
    keyframe = next((Path(s.keyframe).stem for s in reader.shots_of(media.media_id)
                     if s.keyframe), None)
    return media.media_id, keyframe


def test_each_user_sees_only_their_collections(server: tuple[str, ChatServer],
                                               workshop_files: Workshop) -> None:
    url, _ = server
    a_id, _ = ids(workshop_files.index_a)
    b_id, b_frame = ids(workshop_files.index_b)
    assert b_frame is not None
    with httpx.Client(base_url=url, timeout=60) as c:
        # No account: nothing at all, with a Basic challenge for API clients.
        r = c.get("/api/files", params={"collection": "a"})
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic")
        assert c.get(f"/media/{a_id}").status_code == 401
        assert c.get("/api/files", params={"collection": "a"},
                     auth=("anna", "wrong")).status_code == 401
        for user, mine, theirs in (("anna", ("a", a_id, None), ("b", b_id, b_frame)),
                                   ("ben", ("b", b_id, b_frame), ("a", a_id, None))):
            name, media_id, frame = mine
            other, other_id, other_frame = theirs
            files = c.get("/api/files", params={"collection": name}, auth=auth(user))
            assert files.status_code == 200, files.text
            assert [f["media_id"] for f in files.json()["files"]] == [media_id]
            assert c.get(f"/c/{name}/api/files", auth=auth(user)).status_code == 200
            ranged = c.get(f"/media/{media_id}", auth=auth(user), headers={"Range": "bytes=0-9"})
            assert ranged.status_code == 206 and len(ranged.content) == 10
            if frame:
                kf = c.get(f"/keyframes/{frame}.jpg", auth=auth(user))
                assert kf.status_code == 200 and kf.headers["content-type"] == "image/jpeg"
            assert c.get(f"/iiif/{name}/manifest.json", auth=auth(user)).status_code == 200
            assert c.get("/map", params={"collection": name}, auth=auth(user)).status_code == 200
            # The other archive: its name, its real ids, every route: 404, as for no such thing.
            refused = [
                ("GET", "/api/files", {"collection": other}),
                ("GET", f"/api/files/{other_id}", {"collection": other}),
                ("GET", f"/api/files/{other_id}", {"collection": name}),
                ("GET", "/api/search", {"collection": other, "q": "hello"}),
                ("POST", "/api/ask", {"collection": other}),
                ("GET", f"/c/{other}/api/files", {}),
                ("GET", f"/c/{other}/media/{other_id}", {}),
                ("GET", f"/c/{name}/media/{other_id}", {}),
                ("GET", f"/media/{other_id}", {}),
                ("GET", f"/iiif/{other}/manifest.json", {}),
                ("GET", f"/iiif/{other}/{other_id}/manifest.json", {}),
                ("GET", f"/iiif/{name}/{other_id}/manifest.json", {}),
                ("GET", "/map", {"collection": other}),
                ("GET", "/v1/models", {"collection": other}),
                ("GET", "/api/files", {"collection": "no-such"}),
            ]
            if other_frame:
                refused.append(("GET", f"/keyframes/{other_frame}.jpg", {}))
            for method, path, params in refused:
                r = c.request(method, path, params=params, auth=auth(user),
                              json={"question": "hello"} if method == "POST" else None)
                assert r.status_code == 404, (user, path, params, r.status_code, r.text)
        # The admin sees both, and must say which collection an API call is about.
        assert c.get("/api/files", params={"collection": "b"}, auth=auth("root")).status_code \
            == 200
        r = c.get("/api/files", auth=auth("root"))
        assert r.status_code == 400 and "a, b, broken" in r.json()["detail"]


def test_tokens_carry_the_same_rights(server: tuple[str, ChatServer]) -> None:
    url, _ = server
    with httpx.Client(base_url=url, timeout=60) as c:
        issued = c.post("/api/token", params={"collection": "b"}, auth=auth("ben"))
        assert issued.status_code == 200, issued.text
        bearer = {"Authorization": f"Bearer {issued.json()['access_token']}"}
        assert c.get("/api/files", params={"collection": "b"}, headers=bearer).status_code \
            == 200
        assert c.get("/api/files", params={"collection": "a"}, headers=bearer).status_code \
            == 404


def test_a_broken_collection_is_reported_while_the_others_serve(
        server: tuple[str, ChatServer]) -> None:
    url, proc = server
    with httpx.Client(base_url=url, timeout=60) as c:
        r = c.get("/api/files", params={"collection": "broken"}, auth=auth("anna"))
        assert r.status_code == 503 and "deerin.json" in r.json()["detail"]
        assert c.get("/api/files", params={"collection": "broken"},
                     auth=auth("ben")).status_code == 404  # not ben's: not even its state
        assert c.get("/api/files", params={"collection": "a"},
                     auth=auth("anna")).status_code == 200
    # Passwords never reach the log.
    assert not any(p in proc.output() for p in PASSWORDS.values())


def test_a_collection_added_while_serving_appears(server: tuple[str, ChatServer],
                                                  workshop_files: Workshop) -> None:
    from config.collections import Collection, add_collection, remove_collection

    url, _ = server
    with httpx.Client(base_url=url, timeout=60) as c:
        assert c.get("/api/files", params={"collection": "late"},
                     auth=auth("ben")).status_code == 404
        add_collection(workshop_files.config,
                       Collection("late", str(workshop_files.index_a), "", ("tv",)))
        try:
            r = c.get("/api/files", params={"collection": "late"}, auth=auth("ben"))
            assert r.status_code == 200 and r.json()["collection"] == "late"
        finally:
            remove_collection(workshop_files.config, "late")
        assert c.get("/api/files", params={"collection": "late"},
                     auth=auth("ben")).status_code == 404


def test_single_sign_on_by_a_proxy_header(workshop_files: Workshop, tmp_path: Path) -> None:
    """Behind a proxy that names the user and their groups in headers (no users file)."""
    env = {"DEERIN_USER_HEADER": "X-Remote-User", "DEERIN_GROUPS_HEADER": "X-Remote-Groups",
           "DEERIN_USERS_FILE": str(tmp_path / "none.toml")}
    proc = start_serve(workshop_files, tmp_path / "sso", extra_env=env)
    carla = {"X-Remote-User": "carla", "X-Remote-Groups": "tv, guests"}
    with serving(proc) as url, httpx.Client(base_url=url, timeout=60) as c:
        assert c.get("/api/files", params={"collection": "b"}).status_code == 401
        assert c.get("/api/files", params={"collection": "b"}, headers=carla).status_code \
            == 200
        assert c.get("/api/files", params={"collection": "a"}, headers=carla).status_code \
            == 404
        b_id, _ = ids(workshop_files.index_b)
        assert c.get(f"/media/{b_id}", headers={**carla, "Range": "bytes=0-9"}).status_code \
            == 206
        # Chainlit's own header login gives the chat a session for the same user.
        login = c.post("/auth/header", headers=carla)
        assert login.status_code == 200, login.text
        assert c.cookies.get("access_token")


def test_oauth_users_of_a_configured_provider(workshop_files: Workshop, tmp_path: Path) -> None:
    """With GitHub's OAuth variables set, the login page offers it beside passwords, and a
    session Chainlit signs for an OAuth user opens what their groups allow: the users file's
    entry without a password (``anna@archiv.example``: filmarchiv), or an allowed domain's
    groups (``uni.example``: tv). The provider's round trip is a true system edge that cannot
    run here (a registered client, the network): the session is signed with the same key, as
    Chainlit signs it once the callback has named the user."""
    import time

    import jwt

    from assistant.web.users import set_user

    users = tmp_path / "users.toml"
    set_user(users, "anna@archiv.example", None, ["filmarchiv"])
    set_user(users, "ben", PASSWORDS["ben"], ["tv"])
    secret = "s" * 48
    env = {"OAUTH_GITHUB_CLIENT_ID": "id", "OAUTH_GITHUB_CLIENT_SECRET": "not-a-secret",
           "CHAINLIT_AUTH_SECRET": secret, "DEERIN_USERS_FILE": str(users),
           "DEERIN_OAUTH_DOMAINS": "uni.example=tv"}
    proc = start_serve(workshop_files, tmp_path / "oauth", extra_env=env)

    def session(user: str) -> dict[str, str]:
        token = jwt.encode({"identifier": user, "metadata": {"provider": "github"},
                            "exp": int(time.time()) + 600}, secret, algorithm="HS256")
        return {"Authorization": f"Bearer {token}"}

    with serving(proc) as url, httpx.Client(base_url=url, timeout=60) as c:
        shown = c.get("/auth/config").json()
        assert shown["requireLogin"] and shown["passwordAuth"]
        assert shown["oauthProviders"] == ["github"]
        files = "/api/files"
        assert c.get(files, params={"collection": "a"}).status_code == 401
        anna, carl = session("anna@archiv.example"), session("carl@uni.example")
        assert c.get(files, params={"collection": "a"}, headers=anna).status_code == 200
        assert c.get(files, params={"collection": "b"}, headers=anna).status_code == 404
        assert c.get(files, params={"collection": "b"}, headers=carl).status_code == 200
        assert c.get(files, params={"collection": "a"}, headers=carl).status_code == 404
        assert c.get(files, params={"collection": "a"},
                     headers=session("eve@else.example")).status_code == 401
        # The entry without a password never logs in with one; ben's password still does.
        assert c.get(files, params={"collection": "a"},
                     auth=("anna@archiv.example", "")).status_code == 401
        assert c.get(files, params={"collection": "b"}, auth=auth("ben")).status_code == 200
