"""What the chat sessions share: the :class:`ChatService`, and the starter questions it offers.

One :class:`ChatService` holds a view of the index (refreshed when the collection changes), one
retriever (one loaded embedder), one :class:`~assistant.answer.Assistant` per LLM spec (one loaded
model, from an :class:`~assistant.llm.LLMCache` the service owns) and the authentication
configuration. :func:`assistant.web.server.create_app` builds it and serves its media and
keyframes; the Chainlit module (``assistant/web/chainlit_app.py``) asks it for answers and
starters.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.web.auth import AuthConfig
from assistant.web.media import MediaFile, keyframe_url, media_url
from assistant.web.settings import WebSettings
from assistant.web.snapshot import IndexSnapshot
from assistant.web.starters import suggest_questions as suggest_questions
from assistant.web.starters import title_of as title_of
from assistant.web.starters import varied
from indexing.stores.keyframes import pull_keyframes

if TYPE_CHECKING:
    from assistant.answer import Assistant
    from assistant.llm import LLMCache
    from assistant.retrieval import Retriever
    from assistant.web.extensions import ChatCommand, ChatHost
    from indexing.protocols import Embedder
    from indexing.settings import Settings
    from indexing.stores.base import ClipReader
    from indexing.types import Clip

log = logging.getLogger("deerin.chat")

MAX_K = 10
# Keyframe names in URLs must match the media router's pattern: letters, digits, "_.-".
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass
class _Generation:
    """Everything built from one version of the index; replaced whole when the index changes."""

    snapshot: IndexSnapshot
    store: ClipReader | None = None
    retriever: Retriever | None = None
    assistants: dict[str, Assistant] = field(default_factory=dict)
    keyframes: dict[str, Path] = field(default_factory=dict)  # URL name -> file
    keyframe_names: dict[str, str] = field(default_factory=dict)  # str(file) -> URL name
    starters: list[tuple[str, str]] | None = None


class ChatService:
    """What every chat session shares. Thread-safe: sessions call it from worker threads.

    ``llm_spec`` is the default backend (see :func:`assistant.llm.parse_llm_spec`); sessions may
    choose another in their settings. ``k`` (clips per answer) and ``max_tokens`` (answer length)
    default to the :class:`~assistant.answer.Assistant`'s own defaults. ``commands`` are the
    extra slash commands the chat offers; ``web`` how the collection is named and linked to
    (default: from the environment).
    """

    def __init__(
        self,
        settings: Settings,
        llm_spec: str | None = None,
        *,
        k: int | None = None,
        auth: AuthConfig | None = None,
        cache: LLMCache | None = None,
        max_tokens: int | None = None,
        commands: Sequence[ChatCommand] = (),
        web: WebSettings | None = None,
    ) -> None:
        from assistant.llm import LLMCache
        from assistant.rerank import RerankerSlot
        from assistant.settings import AssistantSettings

        self.settings = settings
        self.web = web if web is not None else WebSettings.from_env()
        self.llm_spec = (llm_spec or "").strip() or "llamacpp"
        self.k = max(1, min(MAX_K, k if k is not None else _assistant_default("k")))
        self.auth = auth or AuthConfig()
        self.cache = cache if cache is not None else LLMCache()
        self.max_tokens = max_tokens
        # Slash commands added by the layers above (see assistant.web.extensions), by name.
        self.commands: dict[str, ChatCommand] = {c.name: c for c in commands}
        self._lock = threading.RLock()
        self._gen = _Generation(IndexSnapshot(Path(settings.db_dir), exists=False))
        # Loading the embedder takes seconds; its own lock keeps the index lock free meanwhile.
        self._embedder_lock = threading.Lock()
        self._embedder: Embedder | None = None
        assistant_settings = AssistantSettings.from_env()
        # One reranker for every index version, loaded on the first question.
        self._rerank = RerankerSlot(assistant_settings.rerank, threads=settings.threads,
                                    contexts=assistant_settings.rerank_contexts)
        # Sessions answer at once: the embedded model batches this many replies together.
        self.parallel = assistant_settings.parallel
        self.shared_passes = assistant_settings.shared_passes
        self.rerank_depth = assistant_settings.rerank_depth

    @property
    def db_dir(self) -> Path:
        """Where the index lives."""
        return Path(self.settings.db_dir)

    @property
    def login_required(self) -> bool:
        """Whether the chat (and so the media) asks for a password.

        Only ``DEERIN_AUTH`` accounts turn the login page on; a bare ``CHAINLIT_AUTH_SECRET``
        gives the chat no way to log in, so guarding the media with it would only break players.
        """
        return self.auth.has_accounts

    # -- index ---------------------------------------------------------------------------------
    def snapshot(self) -> IndexSnapshot:
        """Read the collection afresh; when it changed, later questions use the new index.

        Each call opens the store anew (LanceDB handles do not see other processes' writes),
        so a chat started after ``deerin index`` finished sees the new files.
        """
        from indexing.stores.base import StoreError

        try:
            store = self.open_reader()
            media = tuple(store.media())
        except StoreError:
            store, snap = None, IndexSnapshot(self.db_dir, exists=False)
        else:
            snap = IndexSnapshot(self.db_dir, exists=True, media=media)
        with self._lock:
            if snap.signature != self._gen.snapshot.signature or (
                snap.exists != self._gen.snapshot.exists
            ):
                self._gen = _Generation(snap, store=store)
                if store is not None:
                    try:  # an object-store index: this host's copy of its keyframes
                        pull_keyframes(store.location)
                    except StoreError as exc:  # answers still work, without thumbnails
                        log.warning("cannot copy the keyframes of %s: %s", store.location, exc)
                    self._index_keyframes(self._gen)
            return self._gen.snapshot

    def open_reader(self) -> ClipReader:
        """A reader of the index as it is now, opened afresh (raise
        :class:`~indexing.stores.base.StoreError` when there is none)."""
        from indexing.stores.lance import open_reader

        return open_reader(self.db_dir)

    def reader(self) -> ClipReader:
        """The reader of the current index, shared (see :meth:`open_reader` for a fresh one);
        raise :class:`~indexing.stores.base.StoreError` when there is no index."""
        from indexing.stores.base import StoreError

        store = self._current().store
        if store is None:
            raise StoreError(f"no DEERIn index at {self.db_dir} (run `deerin index PATH`)")
        return store

    def _current(self) -> _Generation:
        """The current generation, opening the index first if it was missing so far."""
        with self._lock:
            gen = self._gen
        if gen.store is None:
            self.snapshot()
            with self._lock:
                gen = self._gen
        return gen

    def embedder(self, built_with: str | None = None) -> Embedder:
        """The text embedder, loaded once and kept across index versions; ``built_with`` is the
        embedder the index records (followed when the settings ask for the default)."""
        with self._embedder_lock:
            if self._embedder is None:
                from indexing.stages.embed import embedder_from_settings

                self._embedder = embedder_from_settings(self.settings, built_with)
            return self._embedder

    @property
    def rerank_problem(self) -> str | None:
        """Why the configured reranker is not in use (known once a retriever was built)."""
        return self._rerank.problem

    def _index_keyframes(self, gen: _Generation) -> None:
        """Map URL names to the keyframes of indexed video files that lie in <db>/keyframes."""
        base = (self.db_dir / "keyframes").resolve()
        store = gen.store
        for m in gen.snapshot.media:
            if not m.has_video or store is None:
                continue
            try:
                shots = store.shots_of(m.media_id)
            except Exception as exc:  # one unreadable table must not hide the others' frames
                log.warning("cannot read the shots of %s: %s", m.path, exc)
                continue
            for shot in shots:
                if shot.keyframe is None:
                    continue
                recorded = Path(shot.keyframe)
                # An index built with a relative --db records relative paths; the keyframe
                # folder is flat, so the file name finds it from any working directory.
                # So does a remote index's (recorded in its writer's local folder).
                path = (recorded if recorded.is_absolute() and not store.location.remote
                        else base / recorded.name)
                try:
                    real = path.resolve(strict=True)
                    rel = real.relative_to(base)
                except (OSError, ValueError):
                    continue  # only files inside the index's own keyframe folder are served
                name = _UNSAFE_NAME.sub("-", "-".join(rel.with_suffix("").parts)).strip("-.")
                if not name:
                    continue
                if gen.keyframes.get(name, real) != real:
                    name = f"{m.media_id[:8]}-{name}"
                gen.keyframes[name] = real
                gen.keyframe_names[str(recorded)] = name

    def retriever(self) -> Retriever:
        """The shared retriever over the current index; raise StoreError when there is none."""
        from assistant.rerank import RerankPolicy
        from assistant.retrieval import Retriever
        from indexing.stores.base import StoreError

        gen = self._current()
        if gen.store is None:
            raise StoreError(f"no DEERIn index at {self.db_dir} (run `deerin index PATH`)")
        built_with = gen.store.embedder()
        embedder = self.embedder(built_with[0] if built_with else None)
        self._rerank.get()  # load now, so a problem is known before the first answer
        with self._lock:
            if gen.retriever is None:
                gen.retriever = Retriever(gen.store, self.settings, embedder=embedder,
                                          reranker=self._rerank,
                                          policy=RerankPolicy(depth=self.rerank_depth))
            return gen.retriever

    def assistant(self, llm_spec: str | None = None) -> tuple[Assistant, str | None]:
        """The shared assistant for ``llm_spec`` (default: the server's), loading it once.

        When the model cannot be used, an assistant without LLM is returned (it answers with
        the best passage, quoted) together with the reason, one line for the user.
        """
        from assistant.answer import Assistant
        from assistant.llm import LLMUnavailable, load_llm

        spec = (llm_spec or "").strip() or self.llm_spec
        retriever = self.retriever()
        problem: str | None = None
        try:
            # Chat answers are not compared run to run, so llama.cpp may keep the evaluated
            # prompt prefix (system prompt) between questions: a faster first token.
            llm = load_llm(spec, cache=self.cache, parallel=self.parallel,
                           shared_passes=self.shared_passes)
        except LLMUnavailable as exc:
            llm, problem = None, str(exc)
        key = spec if llm is not None else ""
        with self._lock:
            gen = self._gen
            cached = gen.assistants if gen.retriever is retriever else {}
            found = cached.get(key)
            if found is None:
                found = Assistant(retriever, llm, k=self.k)
                if self.max_tokens is not None:
                    found.max_tokens = self.max_tokens
                cached[key] = found
            return found, problem

    def warm_up(self) -> None:
        """Load the embedder and the default LLM now, so the first question does not wait."""
        try:
            snap = self.snapshot()
            if not snap.clips:
                return
            self.retriever().embed_query("warm up")
            _, problem = self.assistant(None)
            if problem:
                log.warning("LLM unavailable, answers will quote the best clip: %s", problem)
            log.info("models loaded")
        except Exception as exc:  # warming is an optimisation: questions retry and report
            log.warning("warm-up failed: %s", exc)

    # -- media routes --------------------------------------------------------------------------
    def resolve_media(self, media_id: str) -> MediaFile | None:
        """The indexed file with this content id, or its browser-playable access copy when it
        has one (``None`` for anything else)."""
        gen = self._current()
        record = gen.snapshot.by_id(media_id)
        if record is None and gen.store is not None:
            # Indexed after the last snapshot: ask the store before saying no.
            record = self.snapshot().by_id(media_id)
        if record is None:
            return None
        # A master no browser plays (MXF, ProRes, DV...) is served as the access copy indexing
        # made of it; the seconds are the same, so #t=start,end lands on the cited words.
        from indexing.proxies import proxy_of

        proxy = proxy_of(self.db_dir, media_id)
        if proxy is not None:
            return MediaFile(proxy.resolve(), audio_only=not record.has_video,
                             media_type="video/mp4" if record.has_video else "audio/mp4")
        return MediaFile(Path(record.path), audio_only=not record.has_video)

    def resolve_keyframe(self, name: str) -> Path | None:
        """The keyframe file behind a URL name, if it belongs to an indexed file."""
        return self._current().keyframes.get(name)

    def media_url(self, clip: Clip, *, start: float | None = None,
                  end: float | None = None) -> str:
        """Where a player loads ``clip``: the media route plus ``#t=start,end``.

        ``start``/``end`` narrow the span (a citation's supporting words); default the clip's.
        """
        return media_url(clip.media_id, Path(clip.media_path).name,
                         start=clip.start if start is None else start,
                         end=clip.end if end is None else end)

    def keyframe_url(self, clip: Clip) -> str | None:
        """The thumbnail URL of ``clip``'s keyframe, when the index has one for it."""
        return self.keyframe_url_of(clip.keyframe)

    def keyframe_url_of(self, keyframe: str | None) -> str | None:
        """The URL of a keyframe file recorded in the index (a clip's or a shot's), if served."""
        if not keyframe:
            return None
        gen = self._current()
        name = gen.keyframe_names.get(str(Path(keyframe)))
        if name is None and Path(keyframe).stem in gen.keyframes:
            name = Path(keyframe).stem  # recorded differently, but the same indexed frame
        return keyframe_url(name) if name else None

    def is_audio_only(self, clip: Clip) -> bool:
        """Whether ``clip`` comes from a file without a picture."""
        record = self._current().snapshot.by_id(clip.media_id)
        if record is not None:
            return not record.has_video
        from assistant.web.media import content_type

        return content_type(Path(clip.media_path)).startswith("audio/")

    # -- starters ------------------------------------------------------------------------------
    def starters(self, limit: int = 3) -> list[tuple[str, str]]:
        """Up to ``limit`` (label, question) pairs built from what the collection says."""
        snap = self.snapshot()
        with self._lock:
            gen = self._gen
            if gen.starters is not None:
                return gen.starters
            store = gen.store
        texts: dict[str, list[str]] = {}
        if store is not None:
            for m in varied(snap.media, limit * 3):
                if m.clips:
                    try:
                        clips = store.clips_of(m.media_id)
                    except Exception as exc:
                        log.warning("cannot read the clips of %s: %s", m.path, exc)
                        continue
                    texts[m.media_id] = [c.text for c in clips]
        found = suggest_questions(snap.media, texts, limit=limit)
        with self._lock:
            if self._gen is gen:
                gen.starters = found
        return found



# mypy checks here that the service offers commands and routes all that ChatHost promises.
_: type[ChatHost] = ChatService

def _assistant_default(name: str) -> int:
    """A keyword default of :class:`~assistant.answer.Assistant` (one source of truth)."""
    import inspect

    from assistant.answer import Assistant

    return int(inspect.signature(Assistant).parameters[name].default)


def short_name(name: str, limit: int = 18) -> str:
    """A file name cut at a word boundary: ``gwb_columbia_address_2003.ogg`` → ``gwb_columbia…``.

    Names whose stem fits in ``limit`` characters are kept whole, extension included.
    """
    stem = name.rsplit(".", 1)[0] if "." in name else name
    if len(stem) <= limit:
        return name
    cut = stem[: limit + 1]
    boundary = max(cut.rfind(c) for c in "_- .")
    head = stem[:boundary] if boundary > 3 else stem[:limit]
    return head.rstrip("_- .") + "…"
