"""Helpers of the HTTP API tests: the account of the guarded servers, credentials, and what
every error answer must look like."""

from __future__ import annotations

import base64

import httpx

USER, PASSWORD = "archivist", "correct horse:battery"
SECRET = "s" * 48  # the guarded servers' signing key: tokens say nothing of a restart


def basic(user: str, password: str) -> dict[str, str]:
    """An HTTP Basic ``Authorization`` header."""
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def assert_error(r: httpx.Response, status: int, *words: str) -> None:
    """``r`` is a JSON error answer with ``status`` whose message holds every one of ``words``."""
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json"), r.headers
    error = r.json()["error"]
    assert error["status"] == status and error["message"], error
    for word in words:
        assert word in error["message"], (word, error)
