"""Browser-playable access copies: what a browser cannot play gets an H.264/AAC copy once, at
index time, in the index's own folder; the master is never modified; a run that lost a copy
makes it again; ``index.proxies = no`` makes none."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from indexing.media import MediaError, probe
from indexing.pipeline import Indexer
from indexing.proxies import PROXY_DIR, make_proxy, proxy_of, proxy_reason
from indexing.settings import Settings
from indexing.stores.lance import LanceStore
from tests.support.media import make_video

SRT = "1\n00:00:01,000 --> 00:00:03,000\nThe lighthouse at Zanzibar\n"


def _streams(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format",
                          "-show_streams", str(path)], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out)


def _digest(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def test_what_a_browser_cannot_play(tmp_path: Path) -> None:
    pcm = ("-c:a", "pcm_s16le")
    cases = {
        "master.mxf": ({"video": ("-c:v", "mpeg2video"), "audio": pcm}, "mxf container"),
        "prores.mov": ({"video": ("-c:v", "prores_ks"), "audio": pcm}, "prores video"),
        "camera.mov": ({"audio": pcm}, "pcm_s16le audio"),
        "tenbit.mp4": ({"video": ("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt",
                                  "yuv422p10le")}, "yuv422p10le pictures"),
        "hevc.mkv": ({"video": ("-c:v", "libx265", "-preset", "ultrafast", "-x265-params",
                                "log-level=error")}, "hevc video"),
        "access.mp4": ({}, ""),
        "web.webm": ({"video": ("-c:v", "libvpx", "-deadline", "realtime"),
                      "audio": ("-c:a", "libopus")}, ""),
    }
    for name, (options, reason) in cases.items():
        path = make_video(tmp_path / name, seconds=1.0, **options)
        assert proxy_reason(probe(path, "x")) == reason, name
    wav = tmp_path / "tone.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=duration=1", str(wav)],
                   check=True)
    assert proxy_reason(probe(wav, "x")) == ""


def test_an_mxf_master_gets_one_proxy_and_is_never_touched(tmp_path: Path) -> None:
    films = tmp_path / "films"
    films.mkdir()
    mxf = make_video(films / "reel.mxf", seconds=4.0, size="320x240",
                     video=("-c:v", "mpeg2video", "-flags", "+ilme+ildct", "-top", "1"),
                     audio=("-c:a", "pcm_s16le"))
    (films / "reel.srt").write_text(SRT, encoding="utf-8")
    before = _digest(mxf)
    db = tmp_path / "index"
    settings = Settings.from_env({}, db_dir=db, shots=False, ocr=False, faces=False)
    store = LanceStore(db)
    report = Indexer(store, settings).index([films])
    assert not report.failures, report.failures
    media_id = store.media()[0].media_id
    proxy = proxy_of(db, media_id)
    assert proxy == db / PROXY_DIR / f"{media_id}.mp4"
    info = _streams(proxy)
    assert "mp4" in info["format"]["format_name"]
    assert [(s["codec_type"], s["codec_name"]) for s in info["streams"]
            if s["codec_type"] != "data"] == [("video", "h264"), ("audio", "aac")]
    assert info["streams"][0]["pix_fmt"] == "yuv420p"
    assert info["streams"][0].get("field_order", "progressive") == "progressive"
    assert abs(float(info["format"]["duration"]) - 4.0) < 0.1
    # faststart: the index (moov) comes before the media data, so a player can seek at once
    head = proxy.read_bytes()[:4096]
    assert head.find(b"moov") != -1 and (head.find(b"mdat") == -1 or
                                         head.find(b"moov") < head.find(b"mdat"))
    assert _digest(mxf) == before and sorted(p.name for p in films.iterdir()) == [
        "reel.mxf", "reel.srt"]
    assert [p.name for p in (db / PROXY_DIR).iterdir()] == [proxy.name]

    # Unchanged: nothing is transcoded again. A lost copy (a killed run) is made again.
    made_at = proxy.stat().st_mtime_ns
    again = Indexer(store, settings).index([films])
    assert again.results[0].status == "unchanged" and proxy.stat().st_mtime_ns == made_at
    proxy.unlink()
    again = Indexer(store, settings).index([films])
    assert again.results[0].status == "unchanged" and proxy_of(db, media_id) == proxy
    assert _digest(mxf) == before


def test_playable_files_get_none_and_the_setting_turns_proxies_off(tmp_path: Path) -> None:
    films = tmp_path / "films"
    films.mkdir()
    make_video(films / "access.mp4", seconds=2.0)
    make_video(films / "master.mxf", seconds=2.0, video=("-c:v", "mpeg2video"),
               audio=("-c:a", "pcm_s16le"))
    for name in ("access.srt", "master.srt"):
        (films / name).write_text(SRT, encoding="utf-8")
    db = tmp_path / "off"
    off = Settings.from_env({"DEERIN_PROXIES": "no"}, db_dir=db, shots=False, ocr=False,
                            faces=False)
    assert not off.proxies
    Indexer(LanceStore(db), off).index([films])
    assert not (db / PROXY_DIR).exists()
    db = tmp_path / "on"
    on = Settings.from_env({}, db_dir=db, shots=False, ocr=False, faces=False)
    store = LanceStore(db)
    Indexer(store, on).index([films])
    ids = {m.name: m.media_id for m in store.media()}
    assert sorted(p.name for p in (db / PROXY_DIR).iterdir()) == sorted(
        [f"{ids['access.mp4']}.none", f"{ids['master.mxf']}.mp4"])


def test_a_failed_transcode_leaves_no_half_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.mxf"
    good = make_video(tmp_path / "good.mxf", seconds=1.0, video=("-c:v", "mpeg2video"),
                      audio=("-c:a", "pcm_s16le"))
    media = probe(good, "c0ffee")
    broken.write_bytes(good.read_bytes()[:2000])
    folder = tmp_path / "proxies"
    folder.mkdir()
    from dataclasses import replace

    with pytest.raises(MediaError, match="ffmpeg failed"):
        make_proxy(replace(media, path=broken), folder)
    assert list(folder.iterdir()) == []
