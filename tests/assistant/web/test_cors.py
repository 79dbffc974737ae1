"""Cross-origin reads of IIIF documents and media (assistant/web/cors.py) and the settings that
name the origins (assistant/web/settings.py), on a real Starlette app through its test client."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from assistant.web.cors import CorsPolicy, PathCors
from assistant.web.settings import WebSettings

VIEWER = "https://viewer.example.org"


def client(policy: CorsPolicy) -> TestClient:
    def ok(request: object) -> PlainTextResponse:
        return PlainTextResponse("manifest", headers={"Content-Range": "bytes 0-7/8"})

    def refused(request: object) -> PlainTextResponse:
        return PlainTextResponse("login", status_code=401,
                                 headers={"WWW-Authenticate": 'Basic realm="DEERIn"'})

    app = Starlette(routes=[Route("/iiif/c/manifest.json", ok, methods=["GET", "HEAD"]),
                            Route("/iiif/c/secret.json", refused),
                            Route("/api/files", ok)])
    return TestClient(PathCors(app, policy, ("/iiif/",)))


def test_any_origin_without_accounts() -> None:
    c = client(CorsPolicy(("*",)))
    r = c.get("/iiif/c/manifest.json", headers={"Origin": VIEWER})
    assert r.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in r.headers
    assert "Content-Range" in r.headers["access-control-expose-headers"]
    # No Origin: a same-site or non-browser request gets nothing extra.
    assert "access-control-allow-origin" not in c.get("/iiif/c/manifest.json").headers
    # Outside the prefixes nothing changes: the API stays same-origin.
    assert "access-control-allow-origin" not in c.get(
        "/api/files", headers={"Origin": VIEWER}).headers
    # A refusal is readable too, so a viewer can say "log in".
    r = c.get("/iiif/c/secret.json", headers={"Origin": VIEWER})
    assert r.status_code == 401 and r.headers["access-control-allow-origin"] == "*"


def test_any_origin_with_accounts_never_allows_credentials() -> None:
    c = client(CorsPolicy(("*",), accounts=True))
    r = c.get("/iiif/c/manifest.json", headers={"Origin": VIEWER})
    assert r.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in r.headers
    pre = c.options("/iiif/c/manifest.json", headers={
        "Origin": VIEWER, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization, range"})
    assert pre.status_code == 204
    assert pre.headers["access-control-allow-origin"] == "*"
    assert "authorization" in pre.headers["access-control-allow-headers"]
    assert "access-control-allow-credentials" not in pre.headers


def test_listed_origins_may_send_the_cookie_others_may_not_read() -> None:
    c = client(CorsPolicy((VIEWER,), accounts=True))
    r = c.get("/iiif/c/manifest.json", headers={"Origin": VIEWER})
    assert r.headers["access-control-allow-origin"] == VIEWER
    assert r.headers["access-control-allow-credentials"] == "true"
    assert "Origin" in r.headers["vary"]
    other = c.get("/iiif/c/manifest.json", headers={"Origin": "https://evil.example"})
    assert other.status_code == 200 and "access-control-allow-origin" not in other.headers
    pre = c.options("/iiif/c/manifest.json", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
    assert pre.status_code == 403 and "access-control-allow-origin" not in pre.headers


def test_preflight_allows_reads_only() -> None:
    c = client(CorsPolicy(("*",)))
    for method, headers in (("DELETE", ""), ("POST", ""), ("GET", "x-custom")):
        pre = c.options("/iiif/c/manifest.json", headers={
            "Origin": VIEWER, "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers})
        assert pre.status_code == 403, method
    assert c.post("/iiif/c/manifest.json", headers={"Origin": VIEWER}).status_code == 405


def test_no_origins_means_same_site_only() -> None:
    c = client(CorsPolicy(()))
    r = c.get("/iiif/c/manifest.json", headers={"Origin": VIEWER})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers


def test_web_settings_are_read_and_checked() -> None:
    web = WebSettings.from_env({"DEERIN_COLLECTION": "newsreels",
                                "DEERIN_PUBLIC_URL": "https://deerin.example.org/archive/",
                                "DEERIN_CORS_ORIGINS": " https://Viewer.Example.org , *"})
    assert web.collection == "newsreels"
    assert web.public_url == "https://deerin.example.org/archive"
    assert web.cors_origins == ("https://viewer.example.org", "*")
    assert WebSettings.from_env({}) == WebSettings("default", "", ("*",))
    assert WebSettings.from_env({"DEERIN_CORS_ORIGINS": "none"}).cors_origins == ()
    for env, named in (({"DEERIN_COLLECTION": "../x"}, "DEERIN_COLLECTION"),
                       ({"DEERIN_PUBLIC_URL": "deerin.example.org"}, "DEERIN_PUBLIC_URL"),
                       ({"DEERIN_PUBLIC_URL": "ftp://x"}, "DEERIN_PUBLIC_URL"),
                       ({"DEERIN_CORS_ORIGINS": "https://v.org/path"}, "DEERIN_CORS_ORIGINS"),
                       ({"DEERIN_CORS_ORIGINS": "viewer.org"}, "DEERIN_CORS_ORIGINS")):
        with pytest.raises(ValueError, match=named):
            WebSettings.from_env(env)
