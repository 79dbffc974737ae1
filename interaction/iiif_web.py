"""IIIF served by the chat app, so an AV viewer (Universal Viewer, Ramp, Aviary) can load the
collection from its URL:

- ``/iiif/<collection>/manifest.json``: a Presentation 3 Collection of every indexed file;
- ``/iiif/<collection>/<media id>/manifest.json``: the file's Manifest (:mod:`interaction.iiif`),
  its canvas painted with the media route (HTTP Range) and its annotation pages embedded;
- ``/iiif/<collection>/<media id>/page/<kind>``: one of those pages alone (transcript, shots,
  entities, ocr), so every id in a manifest can be fetched.

The routes sit behind the chat's login when it has one, and answer cross-origin reads as the
setting ``chat.cors_origins`` says (:mod:`assistant.web.cors`). Ids are made under the setting
``chat.public_url`` when set, else under the address the request came to. An unknown
collection, file or page is a 404 with a JSON error. A manifest costs a probe of the file and a
read of its clips, shots and entities: it is built once per index version and kept (the last
:data:`CACHED` of them).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Request
from starlette.responses import JSONResponse

from indexing.types import ClipKind
from interaction.iiif import (
    PAGE_KINDS,
    Entity,
    FileFacts,
    annotation_pages,
    collection_document,
    manifest,
)

if TYPE_CHECKING:
    from assistant.web.extensions import ChatHost
    from indexing.stores.base import MediaRecord

log = logging.getLogger("deerin.iiif")

PREFIX = "/iiif"
CACHED = 64
MEDIA_TYPE = 'application/ld+json;profile="http://iiif.io/api/presentation/3/context.json"'
_ID = re.compile(r"[0-9a-f]{8,128}")


class _Parts:
    """What a file's manifest and pages are made of, read once per index version."""

    def __init__(self, facts: FileFacts, clips: list[Any], shots: list[Any],
                 entities: list[Entity]) -> None:
        from interaction.transcript import transcripts

        self.facts = facts
        self.clips = clips
        self.shots = shots
        self.entities = entities
        self.transcripts = transcripts(clips)


class IiifRoutes:
    """The IIIF routes over one chat's collection, with the cache of what they read."""

    def __init__(self, service: ChatHost) -> None:
        self.service = service
        self._lock = threading.Lock()
        self._parts: OrderedDict[tuple[object, ...], _Parts] = OrderedDict()
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
            parts = self._parts_of(media_id)
            return _ld(manifest(parts.facts, parts.transcripts, parts.shots, parts.clips,
                                parts.entities, base_url=service.web.base_for(request),
                                collection=collection,
                                keyframe_url=self._keyframes(request)))

        @router.api_route("/{collection}/{media_id}/page/{kind}", methods=["GET", "HEAD"],
                          include_in_schema=False)
        def page(collection: str, media_id: str, kind: str, request: Request) -> JSONResponse:
            self._check(collection)
            if kind not in PAGE_KINDS:
                raise HTTPException(404, f"no annotation page {kind!r} (one of "
                                         f"{', '.join(PAGE_KINDS)})")
            parts = self._parts_of(media_id)
            pages = annotation_pages(
                parts.facts, parts.transcripts, parts.shots, parts.entities,
                [c for c in parts.clips if c.kind is ClipKind.OCR],
                base_url=service.web.base_for(request), collection=collection,
                keyframe_url=self._keyframes(request))
            found = pages.get(kind)
            if found is None:
                raise HTTPException(404, f"{media_id} has no {kind} annotations")
            return _ld(json.loads(found.jsonld()))

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

    def _parts_of(self, media_id: str) -> _Parts:
        record = self._record(media_id)
        key = (record.media_id, record.path, record.indexed_at)
        with self._lock:
            found = self._parts.get(key)
            if found is not None:
                self._parts.move_to_end(key)
                return found
        parts = self._read(record)
        with self._lock:
            self._parts[key] = parts
            while len(self._parts) > CACHED:
                self._parts.popitem(last=False)
        return parts

    def _read(self, record: MediaRecord) -> _Parts:
        from assistant.web.media import content_type
        from indexing.media import MediaError, probe
        from indexing.stores.base import StoreError

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
        return _Parts(facts, clips, shots, self._entities_of(record.media_id))

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

    def _keyframes(self, request: Request) -> Any:
        base = self.service.web.base_for(request)

        def url(shot: Any) -> str | None:
            found = self.service.keyframe_url_of(str(shot.keyframe) if shot.keyframe else None)
            return base + found if found else None

        return url


def iiif_router(service: ChatHost) -> APIRouter:
    """The ``/iiif`` routes over ``service``'s collection (a chat extension's route)."""
    return IiifRoutes(service).router()


def _label(record: MediaRecord) -> str:
    from indexing.types import media_title

    return media_title(record.path) or record.name


def _ld(data: dict[str, Any]) -> JSONResponse:
    return JSONResponse(data, media_type=MEDIA_TYPE,
                        headers={"Cache-Control": "private, max-age=60"})
