"""HTTP-level tests of the media routes and their authentication, over real files."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from assistant.web import AuthConfig, MediaFile, media_router, media_url, warn_if_exposed
from assistant.web.auth import ensure_chainlit_secret, parse_users

SECRET = "test-secret-" + "x" * 40  # PyJWT warns about HMAC keys under 32 bytes


def media_id(path: Path) -> str:
    """A stand-in for the indexer's content hash: hex, stable, unique per test file."""
    return hashlib.sha256(str(path).encode()).hexdigest()[:24]


class Index:
    """A resolver over a fixed set of files that records every id it was asked about."""

    def __init__(self, *files: Path | MediaFile) -> None:
        self.entries: dict[str, Path | MediaFile] = {}
        self.asked: list[str] = []
        for f in files:
            self.add(f)

    def add(self, f: Path | MediaFile) -> str:
        key = media_id(f.path if isinstance(f, MediaFile) else f)
        self.entries[key] = f
        return key

    def __call__(self, key: str) -> Path | MediaFile | None:
        self.asked.append(key)
        return self.entries.get(key)


def make_client(
    index: Index,
    auth: AuthConfig | None = None,
    keyframes: Callable[[str], Path | None] | None = None,
) -> TestClient:
    app = FastAPI()
    app.include_router(media_router(index, auth, resolve_keyframe=keyframes))
    return TestClient(app)


@pytest.fixture()
def steel(tears_of_steel: Path) -> tuple[TestClient, str, bytes]:
    index = Index(tears_of_steel)
    return make_client(index), media_id(tears_of_steel), tears_of_steel.read_bytes()


# --- Range requests on a real file -------------------------------------------------------------


def test_range_request_returns_206_with_exact_bytes(steel: tuple[TestClient, str, bytes]) -> None:
    client, key, data = steel
    r = client.get(f"/media/{key}", headers={"Range": "bytes=100-1099"})
    assert r.status_code == 206
    assert r.headers["content-range"] == f"bytes 100-1099/{len(data)}"
    assert r.headers["content-length"] == "1000"
    assert r.headers["accept-ranges"] == "bytes"
    assert r.headers["content-type"] == "video/webm"
    assert r.content == data[100:1100]


def test_open_ended_range(steel: tuple[TestClient, str, bytes]) -> None:
    client, key, data = steel
    r = client.get(f"/media/{key}", headers={"Range": "bytes=1000-"})
    assert r.status_code == 206
    assert r.headers["content-range"] == f"bytes 1000-{len(data) - 1}/{len(data)}"
    assert r.content == data[1000:]


def test_suffix_range(steel: tuple[TestClient, str, bytes]) -> None:
    client, key, data = steel
    r = client.get(f"/media/{key}", headers={"Range": "bytes=-500"})
    assert r.status_code == 206
    assert r.headers["content-range"] == f"bytes {len(data) - 500}-{len(data) - 1}/{len(data)}"
    assert r.content == data[-500:]


def test_range_past_the_end_is_clamped(steel: tuple[TestClient, str, bytes]) -> None:
    client, key, data = steel
    r = client.get(f"/media/{key}", headers={"Range": f"bytes=10-{len(data) + 5000}"})
    assert r.status_code == 206
    assert r.headers["content-range"] == f"bytes 10-{len(data) - 1}/{len(data)}"
    assert r.content == data[10:]


def test_unsatisfiable_range_is_416(steel: tuple[TestClient, str, bytes]) -> None:
    client, key, data = steel
    r = client.get(f"/media/{key}", headers={"Range": f"bytes={len(data)}-"})
    assert r.status_code == 416
    assert r.headers["content-range"] == f"bytes */{len(data)}"


def test_multi_range_is_answered(steel: tuple[TestClient, str, bytes]) -> None:
    client, key, data = steel
    r = client.get(f"/media/{key}", headers={"Range": "bytes=0-9,5000-5009"})
    assert r.status_code in (200, 206)
    if r.status_code == 206:
        assert data[0:10] in r.content and data[5000:5010] in r.content


def test_full_get(steel: tuple[TestClient, str, bytes]) -> None:
    client, key, data = steel
    r = client.get(f"/media/{key}")
    assert r.status_code == 200
    assert r.headers["accept-ranges"] == "bytes"
    assert r.headers["content-length"] == str(len(data))
    assert r.headers["etag"] and r.headers["last-modified"]
    assert r.headers["content-disposition"].startswith("inline")
    assert r.content == data


def test_head(steel: tuple[TestClient, str, bytes]) -> None:
    client, key, data = steel
    r = client.head(f"/media/{key}")
    assert r.status_code == 200
    assert r.headers["content-length"] == str(len(data))
    assert r.headers["accept-ranges"] == "bytes"
    assert r.content == b""
    ranged = client.head(f"/media/{key}", headers={"Range": "bytes=0-99"})
    assert ranged.status_code == 206
    assert ranged.headers["content-range"] == f"bytes 0-99/{len(data)}"
    assert ranged.content == b""


def test_pretty_filename_only_names_the_download(steel: tuple[TestClient, str, bytes]) -> None:
    client, key, data = steel
    r = client.get(f"/media/{key}/Tears%20of%20Steel.webm", headers={"Range": "bytes=0-9"})
    assert r.status_code == 206
    assert r.content == data[:10]
    assert "Tears%20of%20Steel.webm" in r.headers["content-disposition"]


def test_conditional_get_gives_304(steel: tuple[TestClient, str, bytes]) -> None:
    client, key, _ = steel
    first = client.get(f"/media/{key}", headers={"Range": "bytes=0-0"})
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert client.get(f"/media/{key}", headers={"If-None-Match": etag}).status_code == 304
    assert client.get(f"/media/{key}", headers={"If-None-Match": f"W/{etag}"}).status_code == 304
    assert client.get(f"/media/{key}", headers={"If-Modified-Since": modified}).status_code == 304
    assert client.get(f"/media/{key}", headers={"If-None-Match": '"other"'}).status_code == 200
    # If-Range with the current ETag keeps the range; with a stale one the whole file comes back.
    assert client.get(f"/media/{key}", headers={"Range": "bytes=0-9", "If-Range": etag}
                      ).status_code == 206
    assert client.get(f"/media/{key}", headers={"Range": "bytes=0-9", "If-Range": '"stale"'}
                      ).status_code == 200


@pytest.mark.parametrize(
    ("name", "audio_only", "expected"),
    [
        ("jfk_inaugural_1961.flac", None, "audio/flac"),
        ("gwb_columbia_address_2003.ogg", None, "audio/ogg"),
        ("his_girl_friday_1940_clip.mp4", None, "video/mp4"),
        ("popeye_sinbad_1936_part1.mkv", None, "video/x-matroska"),
        ("mdn_bear_transcript_demo.mp3", None, "audio/mpeg"),
        ("picovoice_leopard_test_en.wav", None, "audio/wav"),
        ("big_buck_bunny_0_30.webm", None, "video/webm"),
        ("lewin_physicsworks_lecture_audio.webm", True, "audio/webm"),
    ],
)
def test_content_type_by_extension(
    media_dir: Path, name: str, audio_only: bool | None, expected: str
) -> None:
    path = media_dir / name
    index = Index(MediaFile(path, audio_only=audio_only))
    r = make_client(index).get(f"/media/{media_id(path)}", headers={"Range": "bytes=0-15"})
    assert r.status_code == 206
    assert r.headers["content-type"] == expected
    assert r.content == path.read_bytes()[:16]


# --- refusals ----------------------------------------------------------------------------------


def test_unknown_id_is_404(steel: tuple[TestClient, str, bytes]) -> None:
    client, key, _ = steel
    other = "0" * 24
    assert other != key
    assert client.get(f"/media/{other}").status_code == 404
    assert client.head(f"/media/{other}").status_code == 404
    assert client.get(f"/media/{other}/x.webm").status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "/media/..%2F..%2Fetc%2Fpasswd",
        "/media/..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd/passwd",
        "/media/%2Fetc%2Fpasswd",
        "/media/%2e%2e",
        "/media/..",
        "/media/etc%5Cpasswd",
        "/media/%2Fwork%2Fshared%2Fmedia%2Fjfk_inaugural_1961.flac",
        "/media/jfk_inaugural_1961.flac",
        "/media/ABCDEF0123456789ABCDEF01",
        "/keyframes/..%2F..%2Fetc%2Fpasswd.jpg",
        "/keyframes/%2Fetc%2Fpasswd.jpg",
        "/keyframes/...jpg",
    ],
)
def test_traversal_and_non_ids_are_refused(url: str, jfk: Path, tmp_path: Path) -> None:
    index = Index(jfk)
    keyframes_asked: list[str] = []

    def keyframes(name: str) -> Path | None:
        keyframes_asked.append(name)
        return None

    r = make_client(index, keyframes=keyframes).get(url)
    assert r.status_code in (403, 404)
    assert b"root:" not in r.content
    # Nothing that is not a content hash ever reaches the index lookup.
    assert all(a.isalnum() for a in index.asked)
    assert all("/" not in a and ".." not in a for a in keyframes_asked)


def test_resolver_pointing_at_a_directory_or_missing_file_is_404(tmp_path: Path) -> None:
    gone = tmp_path / "gone.webm"
    index = Index(tmp_path, gone)
    client = make_client(index)
    assert client.get(f"/media/{media_id(tmp_path)}").status_code == 404
    assert client.get(f"/media/{media_id(gone)}").status_code == 404


def test_symlink_swapped_in_for_an_indexed_file_is_403(tmp_path: Path, bear: Path) -> None:
    collection = tmp_path / "collection"
    collection.mkdir()
    clip = collection / "clip.mp3"
    clip.write_bytes(bear.read_bytes())
    outside = tmp_path / "secret.txt"
    outside.write_text("not for the archive\n")
    index = Index(clip.resolve())
    client = make_client(index)
    key = media_id(clip.resolve())
    assert client.get(f"/media/{key}", headers={"Range": "bytes=0-3"}).status_code == 206

    clip.unlink()
    clip.symlink_to(outside)
    r = client.get(f"/media/{key}")
    assert r.status_code == 403
    assert b"not for the archive" not in r.content


def test_symlinks_out_of_the_collection_are_403(tmp_path: Path, bear: Path) -> None:
    collection = tmp_path / "collection"
    collection.mkdir()
    (collection / "link.mp3").symlink_to(bear)  # the file itself is a symlink
    (collection / "sub").symlink_to(bear.parent, target_is_directory=True)  # a symlinked dir
    index = Index(collection / "link.mp3", collection / "sub" / bear.name)
    client = make_client(index)
    assert client.get(f"/media/{media_id(collection / 'link.mp3')}").status_code == 403
    assert client.get(f"/media/{media_id(collection / 'sub' / bear.name)}").status_code == 403


def test_keyframes(tmp_path: Path) -> None:
    jpeg = tmp_path / "frames" / "abc123_0007.jpg"
    jpeg.parent.mkdir()
    jpeg.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 200 + b"\xff\xd9")
    known = {"abc123_0007": jpeg}
    client = make_client(Index(), keyframes=known.get)
    r = client.get("/keyframes/abc123_0007.jpg")
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/jpeg"
    assert r.content == jpeg.read_bytes()
    assert client.get("/keyframes/abc123_0008.jpg").status_code == 404


def test_media_url() -> None:
    assert media_url("ab12", "gwb columbia.ogg", start=9, end=17.5) == (
        "/media/ab12/gwb%20columbia.ogg#t=9,17.5"
    )
    assert media_url("ab12", start=0.25, prefix="/app/") == "/app/media/ab12#t=0.25"
    assert media_url("ab12") == "/media/ab12"


# --- authentication ----------------------------------------------------------------------------

AUTH_ENV = {"DEERIN_AUTH": "alice:pa:ss:word, bob:hunter2", "CHAINLIT_AUTH_SECRET": SECRET}


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def session_token(secret: str = SECRET, expires_in: float = 3600, **claims: object) -> str:
    payload: dict[str, object] = {"identifier": "alice", "metadata": {}}
    payload.update(claims)
    payload["exp"] = int(time.time() + expires_in)
    return jwt.encode(payload, secret, algorithm="HS256")


@pytest.fixture()
def guarded(jfk: Path) -> tuple[TestClient, str]:
    client = make_client(Index(jfk), AuthConfig.from_env(AUTH_ENV))
    return client, f"/media/{media_id(jfk)}"


def test_auth_required(guarded: tuple[TestClient, str]) -> None:
    client, url = guarded
    r = client.get(url, headers={"Range": "bytes=0-99"})
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Basic")
    # Unknown ids answer 401 too: no probing for what is indexed.
    assert client.get("/media/" + "0" * 24).status_code == 401
    assert client.head(url).status_code == 401


@pytest.mark.parametrize(
    "headers",
    [
        basic("alice", "wrong"),
        basic("alice", "pa"),
        basic("mallory", "hunter2"),
        basic("bob", "hunter2 "),
        {"Authorization": "Basic !!!not-base64"},
        {"Authorization": "Bearer " + session_token(secret="another-secret-" + "y" * 40)},
        {"Authorization": "Bearer " + session_token(expires_in=-60)},
        {"Authorization": "Bearer not-a-jwt"},
    ],
)
def test_wrong_credentials_are_401(
    guarded: tuple[TestClient, str], headers: dict[str, str]
) -> None:
    client, url = guarded
    assert client.get(url, headers={**headers, "Range": "bytes=0-99"}).status_code == 401


def test_right_basic_credentials(guarded: tuple[TestClient, str], jfk: Path) -> None:
    client, url = guarded
    for user, password in (("alice", "pa:ss:word"), ("bob", "hunter2")):
        r = client.get(url, headers={**basic(user, password), "Range": "bytes=0-99"})
        assert r.status_code == 206
        assert r.content == jfk.read_bytes()[:100]


def test_chainlit_session_cookie_and_bearer(guarded: tuple[TestClient, str]) -> None:
    client, url = guarded
    token = session_token()
    client.cookies.set("access_token", token)
    assert client.get(url, headers={"Range": "bytes=0-99"}).status_code == 206
    client.cookies.clear()
    # Chainlit splits tokens over 3000 characters into numbered cookies.
    long_token = session_token(metadata={"pad": "z" * 4000})
    for i in range(0, len(long_token), 3000):
        client.cookies.set(f"access_token_{i // 3000}", long_token[i:i + 3000])
    assert client.get(url, headers={"Range": "bytes=0-99"}).status_code == 206
    client.cookies.clear()
    bearer = {"Authorization": f"Bearer {token}", "Range": "bytes=0-99"}
    assert client.get(url, headers=bearer).status_code == 206


def test_token_minted_by_chainlit_is_accepted(tmp_path: Path) -> None:
    # Chainlit's own create_jwt, in a child process: importing chainlit writes .chainlit/ into
    # the working directory, which must be a scratch one.
    env = {**os.environ, "CHAINLIT_AUTH_SECRET": SECRET}
    code = (
        "from chainlit.auth import create_jwt\n"
        "from chainlit.user import User\n"
        "print(create_jwt(User(identifier='alice', metadata={'role': 'archivist'})))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120, check=True)
    token = done.stdout.strip().splitlines()[-1]
    config = AuthConfig.from_env(AUTH_ENV)
    assert config.check_token(token)
    assert not AuthConfig.from_env({"CHAINLIT_AUTH_SECRET": "z" * 48}).check_token(token)


def test_check_password() -> None:
    config = AuthConfig.from_env(AUTH_ENV)
    assert config.check_password("alice", "pa:ss:word")
    assert config.check_password("bob", "hunter2")
    assert not config.check_password("bob", "pa:ss:word")
    assert not config.check_password("alice", "")
    assert not config.check_password("", "")
    assert not AuthConfig().check_password("alice", "pa:ss:word")


def test_from_env_reads_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEERIN_AUTH", raising=False)
    monkeypatch.delenv("CHAINLIT_AUTH_SECRET", raising=False)
    assert not AuthConfig.from_env().enabled
    monkeypatch.setenv("DEERIN_AUTH", "carol:pw")
    config = AuthConfig.from_env()
    assert config.enabled and config.check_password("carol", "pw")
    assert AuthConfig.from_env({"CHAINLIT_AUTH_SECRET": SECRET}).enabled


@pytest.mark.parametrize("spec", ["alice", "alice:", ":pw", "alice:pw,bob"])
def test_malformed_deerin_auth_fails_loudly(spec: str) -> None:
    with pytest.raises(ValueError, match="DEERIN_AUTH"):
        parse_users(spec)
    assert parse_users("  ") == ()


def test_disabled_auth_lets_everything_through(jfk: Path) -> None:
    client = make_client(Index(jfk), AuthConfig.from_env({}))
    assert client.get(f"/media/{media_id(jfk)}", headers={"Range": "bytes=0-9"}).status_code == 206


def test_ensure_chainlit_secret() -> None:
    env = {"DEERIN_AUTH": "a:b"}
    assert ensure_chainlit_secret(env)
    assert len(env["CHAINLIT_AUTH_SECRET"]) >= 32
    assert not ensure_chainlit_secret(env)
    assert not ensure_chainlit_secret({})


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.4.5.6", "::1", "[::1]", "localhost", "LOCALHOST", "::ffff:127.0.0.1"]
)
def test_loopback_hosts_do_not_warn(host: str) -> None:
    assert warn_if_exposed(host, auth_enabled=False) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "archive.example.org", ""])
def test_exposed_hosts_warn_without_auth(host: str) -> None:
    message = warn_if_exposed(host, auth_enabled=False)
    assert message is not None
    assert "WARNING" in message and "DEERIN_AUTH" in message
    assert warn_if_exposed(host, auth_enabled=True) is None
