"""IIIF served by the chat app, so an AV viewer (Universal Viewer, Ramp, Aviary) can load the
collection from its URL:

- ``/iiif/<collection>/manifest.json``: a Presentation 3 Collection of every indexed file;
- ``/iiif/<collection>/<media id>/manifest.json``: the file's Manifest (:mod:`interaction.iiif`),
  its canvas painted with the media route (HTTP Range) and its annotation pages embedded;
- ``/iiif/<collection>/<media id>/page/<kind>``: one of those pages alone (captions,
  transcript, shots, entities, ocr), so every id in a manifest can be fetched;
- ``/iiif/<collection>/<media id>/captions/<speech|subtitle>.vtt``: the file's captions as
  WebVTT, which the captions page names and AV viewers show under the picture.

The routes sit behind the chat's login when it has one, and answer cross-origin reads as the
setting ``chat.cors_origins`` says (:mod:`assistant.web.cors`). Ids are made under the setting
``chat.public_url`` when set, else under the address the request came to. An unknown
collection, file or page is a 404 with a JSON error. A manifest costs a probe of the file, a
read of its clips, shots and entities, and cutting its transcript into captions (seconds for a
long film): it is built once per index version and kept (the last :data:`CACHED` of them); a
page is served from its manifest.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Request
from starlette.responses import JSONResponse, Response

from interaction.iiif import PAGE_KINDS, Entity, FileFacts, collection_document, manifest

if TYPE_CHECKING:
    from assistant.web.extensions import ChatHost
    from indexing.stores.base import MediaRecord
    from indexing.types import Clip, Shot

log = logging.getLogger("deerin.iiif")

PREFIX = "/iiif"
CACHED = 64
MEDIA_TYPE = 'application/ld+json;profile="http://iiif.io/api/presentation/3/context.json"'
VTT_TYPE = "text/vtt; charset=utf-8"
CAPTION_KINDS = ("speech", "subtitle")
_ID = re.compile(r"[0-9a-f]{8,128}")


class IiifRoutes:
    """The IIIF routes over one chat's collection, with the cache of what they built."""

    def __init__(self, service: ChatHost) -> None:
        self.service = service
        self._lock = threading.Lock()
        self._manifests: OrderedDict[tuple[object, ...], dict[str, Any]] = OrderedDict()
        self._captions_made: OrderedDict[tuple[object, ...], str] = OrderedDict()
        self._entities: tuple[object, dict[str, list[Entity]]] | None = None

    def router(self) -> APIRouter:
        """The ``/iiif`` routes."""
        router = APIRouter(prefix=PREFIX)
        service = self.service

        # Plain `def` routes: FastAPI runs them in its thread pool (probing, reading the index).
        @router.api_route("/{collection}/manifest.json", methods=["GET", "HEAD"],
                          include_in_schema=False)
        def collection(collection: str, request: Request) -> JSONResponse:
            self._check(collection)
            snapshot = service.snapshot()
            files = [(m.media_id, _label(m)) for m in sorted(snapshot.media, key=lambda m: m.path)]
            return _ld(collection_document(collection, files,
                                           base_url=service.web.base_for(request)))

        @router.api_route("/{collection}/{media_id}/manifest.json", methods=["GET", "HEAD"],
                          include_in_schema=False)
        def file_manifest(collection: str, media_id: str, request: Request) -> JSONResponse:
            self._check(collection)
            return _ld(self._manifest(media_id, collection, request))

        @router.api_route("/{collection}/{media_id}/page/{kind}", methods=["GET", "HEAD"],
                          include_in_schema=False)
        def page(collection: str, media_id: str, kind: str, request: Request) -> JSONResponse:
            self._check(collection)
            if kind not in PAGE_KINDS:
                raise HTTPException(404, f"no annotation page {kind!r} (one of "
                                         f"{', '.join(PAGE_KINDS)})")
            # The page as the manifest embeds it: one build, the same annotations.
            doc = self._manifest(media_id, collection, request)
            found = [p for p in doc["items"][0].get("annotations", [])
                     if p["id"].endswith(f"/page/{kind}")]
            if not found:
                raise HTTPException(404, f"{media_id} has no {kind} annotations")
            return _ld({"@context": doc["@context"], **found[0]})

        @router.api_route("/{collection}/{media_id}/captions/{kind}.vtt",
                          methods=["GET", "HEAD"], include_in_schema=False)
        def captions(collection: str, media_id: str, kind: str) -> Response:
            self._check(collection)
            return Response(self._captions(media_id, kind), media_type=VTT_TYPE,
                            headers={"Cache-Control": "private, max-age=60"})

        @router.api_route("/{rest:path}", methods=["GET", "HEAD"], include_in_schema=False)
        def unknown(rest: str) -> None:
            raise HTTPException(404, f"no IIIF resource {PREFIX}/{rest}")

        return router

    # -- reading ---------------------------------------------------------------------------------
    def _check(self, collection: str) -> None:
        if collection != self.service.web.collection:
            raise HTTPException(404, f"no collection {collection!r} here (this server serves "
                                     f"{self.service.web.collection!r})")

    def _record(self, media_id: str) -> MediaRecord:
        # The one place a file is let out: per-user visibility belongs here.
        record = self.service.snapshot().by_id(media_id) if _ID.fullmatch(media_id) else None
        if record is None:
            raise HTTPException(404, f"no file {media_id!r} in this collection")
        return record

    def _manifest(self, media_id: str, collection: str, request: Request) -> dict[str, Any]:
        """The file's manifest, built once per index version (and address it is named under):
        a long file's transcript takes seconds to cut into captions."""
        record = self._record(media_id)
        base = self.service.web.base_for(request)
        key = (record.media_id, record.path, record.indexed_at, base, collection)
        with self._lock:
            found = self._manifests.get(key)
            if found is not None:
                self._manifests.move_to_end(key)
                return found
        doc = self._build(record, base, collection)
        with self._lock:
            self._manifests[key] = doc
            while len(self._manifests) > CACHED:
                self._manifests.popitem(last=False)
        return doc

    def _captions(self, media_id: str, kind: str) -> str:
        """The WebVTT captions of one transcript kind of the file, made once per index
        version."""
        from interaction.exports import captions, transcript_cues
        from interaction.transcript import transcripts

        if kind not in CAPTION_KINDS:
            raise HTTPException(404, f"no captions {kind!r} (one of {', '.join(CAPTION_KINDS)})")
        record = self._record(media_id)
        key = (record.media_id, record.path, record.indexed_at, "vtt", kind)
        with self._lock:
            found = self._captions_made.get(key)
            if found is not None:
                self._captions_made.move_to_end(key)
                return found
        clips = [c for c in self._clips(record) if c.kind.value == kind]
        timed = [tr for tr in transcripts(clips) if tr.times]
        if not timed:
            raise HTTPException(404, f"{media_id} has no {kind} captions")
        text = captions(transcript_cues(timed[0]), "vtt")
        with self._lock:
            self._captions_made[key] = text
            while len(self._captions_made) > CACHED:
                self._captions_made.popitem(last=False)
        return text

    def _clips(self, record: MediaRecord) -> list[Clip]:
        from indexing.stores.base import StoreError

        try:
            return self.service.reader().clips_of(record.media_id)
        except StoreError as exc:
            raise HTTPException(503, str(exc)) from exc

    def _build(self, record: MediaRecord, base: str, collection: str) -> dict[str, Any]:
        from assistant.web.media import content_type
        from indexing.media import MediaError, probe
        from indexing.stores.base import StoreError
        from interaction.transcript import transcripts

        try:
            probed = probe(Path(record.path), media_id=record.media_id)
        except (MediaError, OSError) as exc:
            raise HTTPException(404, f"{record.name} is no longer readable where it was "
                                     f"indexed: {exc}") from exc
        try:
            reader = self.service.reader()
            clips, shots = reader.clips_of(record.media_id), reader.shots_of(record.media_id)
        except StoreError as exc:
            raise HTTPException(503, str(exc)) from exc
        facts = FileFacts(record.media_id, record.path, record.duration, record.has_video,
                          probed.width, probed.height,
                          content_type(Path(record.path), not record.has_video))

        def keyframe(shot: Shot) -> str | None:
            found = self.service.keyframe_url_of(str(shot.keyframe) if shot.keyframe else None)
            return base + found if found else None

        return manifest(facts, transcripts(clips), shots, clips,
                        self._entities_of(record.media_id), base_url=base,
                        collection=collection, keyframe_url=keyframe)

    def _entities_of(self, media_id: str) -> list[Entity]:
        """The file's named entities from the knowledge graph as it is (never synced here: a
        GET writes nothing); none when there is no graph."""
        signature = self.service.snapshot().signature
        with self._lock:
            if self._entities is not None and self._entities[0] == signature:
                return self._entities[1].get(media_id, [])
        from indexing.graph.settings import GraphSettings
        from indexing.graph.store import GraphError
        from indexing.graph.sync import load_graph, open_graph_store
        from interaction.entities import entities_by_file

        by_file: dict[str, list[Entity]] = {}
        try:
            store = open_graph_store(self.service.db_dir, GraphSettings.from_env())
            try:
                by_file = entities_by_file(load_graph(store))
            finally:
                store.close()
        except GraphError as exc:
            log.warning("IIIF manifests without entities: %s", exc)
        with self._lock:
            self._entities = (signature, by_file)
        return by_file.get(media_id, [])

def iiif_router(service: ChatHost) -> APIRouter:
    """The ``/iiif`` routes over ``service``'s collection (a chat extension's route)."""
    return IiifRoutes(service).router()


def _label(record: MediaRecord) -> str:
    from indexing.types import media_title

    return media_title(record.path) or record.name


def _ld(data: dict[str, Any]) -> JSONResponse:
    return JSONResponse(data, media_type=MEDIA_TYPE,
                        headers={"Cache-Control": "private, max-age=60"})
