"""Every setting of DEERIn, in one table: its key in ``deerin.toml``, its environment variable,
its type, its default and what it does.

This table is the only list. The code reads settings through it (:mod:`config.load`), the
configuration reference in the docs is generated from it, and a test fails when a ``DEERIN_*``
name appears in the code without an entry here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Kind:
    """A setting's type: how its text (from the environment) or TOML value is read."""

    name: str  # "text", "whole number", "number", "yes/no", "path", "choice"
    low: float | None = None  # numbers: the smallest accepted value
    high: float | None = None  # numbers: the largest
    choices: tuple[str, ...] = ()  # "choice": the accepted words

    def describe(self) -> str:
        """The type as the docs and error messages say it."""
        if self.choices:
            return "one of: " + ", ".join(self.choices)
        if self.low is not None and self.high is not None:
            return f"{self.name}, {self.low:g} to {self.high:g}"
        if self.low is not None:
            return f"{self.name}, at least {self.low:g}"
        return self.name


TEXT = Kind("text")
PATH = Kind("path")
YES_NO = Kind("yes/no")


def whole(low: int, high: int) -> Kind:
    """A whole number from ``low`` to ``high``."""
    return Kind("whole number", low, high)


def number(low: float) -> Kind:
    """A number of at least ``low``."""
    return Kind("number", low)


def choice(*words: str) -> Kind:
    """One word of ``words``."""
    return Kind("choice", choices=words)


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting. ``key`` is dotted (``section.name``) as written in ``deerin.toml``; ``env``
    the environment variable that overrides it. ``default`` is the typed value used when neither
    says anything (``None``: the value is derived at run time, as ``default_text`` says).
    ``secret`` values are never printed. ``scope`` says where the setting may be given:
    ``any`` (the user file, the index's file, the environment), ``user`` (not in an index's own
    file: where the index is) or ``env`` (only the environment: which file to read)."""

    key: str
    env: str
    kind: Kind
    default: object
    help: str
    default_text: str = ""
    secret: bool = False
    scope: str = "any"

    @property
    def section(self) -> str:
        """The TOML table the key lives in."""
        return self.key.split(".", 1)[0]

    @property
    def name(self) -> str:
        """The key inside its table."""
        return self.key.split(".", 1)[1]

    def shown_default(self) -> str:
        """The default as the docs and ``deerin config show`` print it."""
        if self.default_text:
            return self.default_text
        if isinstance(self.default, bool):
            return "yes" if self.default else "no"
        return "" if self.default is None else str(self.default)


SETTINGS: tuple[Setting, ...] = (
    # -- where things live --------------------------------------------------------------------
    Setting("index.db", "DEERIN_DB", PATH, "deerin-index",
            "The index: a folder, or s3://BUCKET/PREFIX for an index on an object store. "
            "`--db` overrides it.", scope="user"),
    Setting("config.file", "DEERIN_CONFIG", PATH, None,
            "The user configuration file to read instead of the default one (`--config` "
            "overrides it).", default_text="$XDG_CONFIG_HOME/deerin/deerin.toml", scope="env"),
    # -- how footage is indexed ---------------------------------------------------------------
    Setting("index.language", "DEERIN_LANGUAGE", TEXT, "",
            "Spoken language code (en, de, ...) for speech recognition; empty: detect it.",
            default_text="(detect)"),
    Setting("index.shots", "DEERIN_SHOTS", YES_NO, True,
            "Detect shots and write one keyframe per shot."),
    Setting("index.ocr", "DEERIN_OCR", YES_NO, True,
            "Read on-screen text (RapidOCR) from keyframes and sampled frames."),
    Setting("index.faces", "DEERIN_FACES", YES_NO, True,
            "Count faces on shot keyframes (MTCNN)."),
    Setting("index.proxies", "DEERIN_PROXIES", YES_NO, True,
            "Make, once, an H.264/AAC access copy in the index's folder of each file a browser "
            "cannot play (MXF, ProRes, DV, MPEG-2, HEVC, 10-bit...), which the chat's players "
            "and the media route serve; the master is only read. `no`: such files index but do "
            "not play in the chat."),
    # -- models -------------------------------------------------------------------------------
    Setting("models.asr", "DEERIN_ASR_MODEL", TEXT, "default",
            "Speech recognition: `default` (shipped tiny.en, other languages re-checked with "
            "the shipped multilingual base), `base`, or any faster-whisper name or folder."),
    Setting("models.embedder", "DEERIN_EMBED_MODEL", TEXT, "default",
            "Text embedder: `default` (the index's own, else MiniLM), `minilm`, `e5`, `a+b` "
            "(an ensemble), or a sentence-transformers name or folder."),
    Setting("models.llm", "DEERIN_LLM", TEXT, "",
            "The answering LLM: `tiny`, `fast`, `default` (shipped GGUF tiers), "
            "`llamacpp:PATH.gguf` or `ollama[:MODEL]`. `--llm` overrides it.",
            default_text="default"),
    Setting("models.rerank", "DEERIN_RERANK", TEXT, "default",
            "Second-stage rerank: `default` (query likelihood under the shipped tiny tier), "
            "`off`, or the path of another GGUF model."),
    Setting("models.ollama", "DEERIN_OLLAMA_MODEL", TEXT, "llama3.2",
            "The Ollama model a bare `--llm ollama` uses."),
    Setting("models.clip", "DEERIN_CLIP_MODEL", TEXT, "",
            "Picture search (open_clip, the `visual` extra): a model folder, NAME@TAG, "
            "NAME@CHECKPOINT or hf-hub:ORG/REPO; empty: off (no CLIP weights ship offline).",
            default_text="(off)"),
    Setting("models.caption", "DEERIN_CAPTION_MODEL", TEXT, "",
            "Keyframe captions for `deerin enrich --captions`: a transformers image-to-text "
            "model name or folder; empty: off.", default_text="(off)"),
    Setting("models.weights_dir", "DEERIN_CACHE", PATH, None,
            "Where split model weights are assembled once.",
            default_text="$XDG_CACHE_HOME/deerin/models"),
    # -- the answering LLM under load ---------------------------------------------------------
    Setting("llm.parallel", "DEERIN_LLM_PARALLEL", whole(1, 64), 4,
            "Chat sessions the embedded llama.cpp model answers at once (continuous batching; "
            "1: one at a time)."),
    Setting("llm.batch", "DEERIN_LLM_BATCH", choice("exact", "shared"), "exact",
            "`exact`: each reply's token in a pass of its own (the same reply as alone); "
            "`shared`: one forward pass for all replies (faster, replies may differ slightly)."),
    Setting("llm.rerank_contexts", "DEERIN_RERANK_CONTEXTS", whole(1, 16), 2,
            "Chat sessions that rerank at once (a llama.cpp context each, ~120 MB)."),
    Setting("llm.rerank_depth", "DEERIN_RERANK_DEPTH", whole(2, 40), 16,
            "Candidates the rerank rescores per question: deeper finds more among many "
            "similar clips and costs rerank time in proportion (8 halves it; see the archive "
            "scale docs)."),
    # -- the chat -----------------------------------------------------------------------------
    Setting("chat.auth", "DEERIN_AUTH", TEXT, "",
            "Accounts of the chat, `user:password[,user2:password2]`; required when it listens "
            "beyond loopback.", default_text="(none)", secret=True),
    Setting("chat.compare", "DEERIN_COMPARE", TEXT, "default | fast",
            "The two configurations `/compare` answers with, `A | B`, each an LLM spec "
            "optionally with `rerank=on|off`."),
    Setting("chat.collection", "DEERIN_COLLECTION", TEXT, "default",
            "The name the served collection goes by in IIIF and API URLs "
            "(`/iiif/NAME/manifest.json`, `?collection=NAME`): letters, digits, `-`, `_`."),
    Setting("chat.public_url", "DEERIN_PUBLIC_URL", TEXT, "",
            "The address clients reach the chat at, e.g. `https://deerin.example.org` behind a "
            "proxy: the base of IIIF ids and of the links the API returns; empty: the address "
            "each request came to.", default_text="(the request's)"),
    Setting("chat.cors_origins", "DEERIN_CORS_ORIGINS", TEXT, "*",
            "Web origins that may read IIIF documents, media and keyframes from another site "
            "(a IIIF viewer), comma-separated; `*` any, `none` none. With accounts, `*` "
            "requests must carry a token or Basic credentials (never the chat's cookie); "
            "listed origins may also send the cookie."),
    # -- the workshop sandbox (`deerin serve`) ------------------------------------------------
    Setting("serve.users_file", "DEERIN_USERS_FILE", PATH, None,
            "The accounts of `deerin serve`: a TOML file of argon2 password hashes and groups "
            "that `deerin users add` writes. Members of the group `admin` see every "
            "collection.", default_text="users.toml beside the configuration file",
            scope="user"),
    Setting("serve.user_header", "DEERIN_USER_HEADER", TEXT, "",
            "Single sign-on through a reverse proxy: the request header naming the logged-in "
            "user (e.g. `X-Forwarded-User`). Only behind a proxy that sets it and strips it "
            "from clients' requests; empty: off.", default_text="(off)", scope="user"),
    Setting("serve.groups_header", "DEERIN_GROUPS_HEADER", TEXT, "",
            "With `serve.user_header`: the header listing the user's groups, comma-separated; "
            "empty: their groups in the users file.", default_text="(the users file)",
            scope="user"),
    Setting("serve.oauth_domains", "DEERIN_OAUTH_DOMAINS", TEXT, "",
            "With a Chainlit OAuth provider configured (e.g. `OAUTH_GITHUB_CLIENT_ID` and "
            "`OAUTH_GITHUB_CLIENT_SECRET`): e-mail domains whose users may log in without a "
            "users file entry, comma-separated, each with the groups it gives "
            "(`archiv.example=filmarchiv+guests, uni.example`); empty: only the users file's "
            "addresses may log in.", default_text="(the users file only)", scope="user"),
    Setting("serve.database", "DEERIN_DATABASE", TEXT, "",
            "Where `deerin serve` keeps conversations, answers and verdicts: an SQLAlchemy URL "
            "(`postgresql+asyncpg://USER:PASSWORD@HOST/DB` with the `postgres` extra); empty: "
            "SQLite in deerin-workshop.db beside the configuration file.",
            default_text="(SQLite beside the configuration file)", secret=True, scope="user"),
    # -- the knowledge graph ------------------------------------------------------------------
    Setting("graph.enabled", "DEERIN_GRAPH", YES_NO, True,
            "Keep the knowledge graph in step when indexing (`no`: leave it alone)."),
    Setting("graph.evidence_lists", "DEERIN_EVIDENCE_LISTS", YES_NO, True,
            "Answer a question that asks for every moment or recording naming something "
            "(\"which recordings mention Cuba?\") with the graph's whole list of them, counted "
            "and paged, instead of an LLM answer from the top clips."),
    Setting("graph.neo4j_uri", "DEERIN_NEO4J_URI", TEXT, "",
            "A Neo4j server (bolt://HOST:7687, the `neo4j` extra); empty: the embedded store "
            "beside the index.", default_text="(embedded)"),
    Setting("graph.neo4j_user", "DEERIN_NEO4J_USER", TEXT, "neo4j", "The Neo4j user."),
    Setting("graph.neo4j_password", "DEERIN_NEO4J_PASSWORD", TEXT, "",
            "The Neo4j password.", default_text="(none)", secret=True),
    Setting("graph.neo4j_database", "DEERIN_NEO4J_DATABASE", TEXT, "",
            "The Neo4j database; empty: the server's default.", default_text="(server default)"),
    # -- the run ------------------------------------------------------------------------------
    Setting("runtime.kernels", "DEERIN_KERNELS", choice("portable", "native"), "portable",
            "`portable`: pin the CPU kernels of CTranslate2, oneDNN, MKL, torch and OpenBLAS to "
            "AVX2, so another CPU gives the same transcripts, vectors and answers; `native`: "
            "let each library pick the fastest kernels of this CPU. Read when `deerin` starts, "
            "so not from an index's own file.", scope="user"),
    # -- storage ------------------------------------------------------------------------------
    Setting("storage.cache_dir", "DEERIN_CACHE_DIR", PATH, None,
            "This machine's folders for indexes on an object store (keyframe copies, pointer "
            "files).", default_text="$XDG_CACHE_HOME/deerin"),
    Setting("storage.s3_endpoint", "DEERIN_S3_ENDPOINT", TEXT, "",
            "An S3-compatible server (MinIO, Ceph, ...) for s3:// indexes; empty: AWS (or "
            "AWS_ENDPOINT_URL).", default_text="(AWS)"),
    Setting("storage.lease_seconds", "DEERIN_LEASE_SECONDS", number(1), 60.0,
            "How long the writer lease of an object-store index lasts unless renewed."),
)
"""Every setting, in the order the docs list them."""

BY_KEY = {s.key: s for s in SETTINGS}
BY_ENV = {s.env: s for s in SETTINGS}
