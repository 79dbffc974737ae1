"""Where an index lives: a local folder, or a prefix in an S3-compatible object store.

Every part of an index that is not a LanceDB table (``deerin.json``, the published versions,
the writer lease, keyframe images) is a small object read and written through
:class:`IndexLocation`, so the stores do not care which of the two they are in. LanceDB itself
connects to :meth:`IndexLocation.lance_uri` with :meth:`IndexLocation.storage_options`.

An object-store index also has a *local folder* on each machine that uses it
(``$DEERIN_CACHE_DIR/indexes/...``, default ``~/.cache/deerin``): a copy of the keyframes (the
chat app serves files), and what DEERIn derives per machine (graph JSON, caption cache). The
folder holds ``deerin.remote.json`` naming the URI, so code handed that folder as ``db_dir``
(every ``LanceStore(settings.db_dir)``) opens the remote index. Credentials are never written
there: they come from the standard ``AWS_*`` variables each time an index is opened.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config import Config
from indexing.stores.errors import StoreError

REMOTE_FILE = "deerin.remote.json"
SCHEMES = ("s3",)
# `Path("s3://b/p")` (what typer and Settings make of a --db value) collapses `//` to `/`; both
# spellings name the same URI.
_URI = re.compile(r"^(?P<scheme>[a-z][a-z0-9+.-]*):/{1,2}(?P<rest>.*)$")


def is_uri(value: str | Path) -> bool:
    """Whether ``value`` names an object-store location (``s3://bucket/prefix``)."""
    m = _URI.match(str(value))
    return m is not None and len(m.group("scheme")) > 1  # "C:/..." is a Windows drive, not a scheme


@dataclass(frozen=True)
class IndexLocation:
    """A local index folder (``uri`` empty) or an object-store prefix with its local folder."""

    local_dir: Path  # the index itself (local), or this machine's folder for a remote index
    uri: str = ""  # "s3://bucket/prefix" for a remote index
    env: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    # -- building ------------------------------------------------------------------------------
    @classmethod
    def parse(cls, value: str | Path | IndexLocation,
              env: dict[str, str] | None = None) -> IndexLocation:
        """The location ``value`` names: an ``s3://`` URI, a local folder, or a local folder
        that points at a remote index (see the module docstring). ``env`` defaults to
        ``os.environ`` (endpoint and credentials)."""
        if isinstance(value, IndexLocation):
            return value
        env = dict(os.environ if env is None else env)
        if is_uri(value):
            uri = _normal_uri(str(value))
            return cls(cache_dir_of(uri, env), uri, env)
        local = Path(value).expanduser()
        pointer = local / REMOTE_FILE
        if pointer.is_file():
            try:
                uri = _normal_uri(str(json.loads(pointer.read_text())["uri"]))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise StoreError(f"{pointer} is unreadable: {exc}") from exc
            return cls(local, uri, env)
        return cls(local)

    def bind(self) -> IndexLocation:
        """Create the local folder (and, for a remote index, its pointer file); return self."""
        self.local_dir.mkdir(parents=True, exist_ok=True)
        if self.uri:
            pointer = self.local_dir / REMOTE_FILE
            text = json.dumps({"uri": self.uri})
            if not pointer.is_file() or pointer.read_text() != text:
                _write_local(pointer, text.encode())
        return self

    @property
    def remote(self) -> bool:
        return bool(self.uri)

    def __str__(self) -> str:
        return self.uri or str(self.local_dir)

    # -- LanceDB -------------------------------------------------------------------------------
    def lance_uri(self) -> str:
        """What ``lancedb.connect`` is given."""
        return self.uri or str(self.local_dir)

    def storage_options(self) -> dict[str, str]:
        """LanceDB's object-store options from ``AWS_*`` / ``DEERIN_S3_ENDPOINT``."""
        if not self.uri:
            return {}
        e = self.env
        opts = {
            "aws_access_key_id": e.get("AWS_ACCESS_KEY_ID", ""),
            "aws_secret_access_key": e.get("AWS_SECRET_ACCESS_KEY", ""),
            "aws_session_token": e.get("AWS_SESSION_TOKEN", ""),
            "aws_region": _region(e),
        }
        endpoint = _endpoint(e)
        if endpoint:
            opts["aws_endpoint"] = endpoint
            if endpoint.startswith("http://"):
                opts["allow_http"] = "true"
        return {k: v for k, v in opts.items() if v}

    def connect(self) -> Any:
        """A LanceDB connection to the index's tables."""
        import lancedb  # lazy: keeps `deerin --help` fast

        if not self.uri:
            return lancedb.connect(str(self.local_dir))
        return lancedb.connect(self.uri, storage_options=self.storage_options())

    # -- small objects -------------------------------------------------------------------------
    def _fs(self) -> tuple[Any, str]:
        """The pyarrow filesystem and the base path of the index in it (remote only)."""
        return self._s3

    @functools.cached_property
    def _s3(self) -> tuple[Any, str]:
        # Built once per location: resolving credentials costs more than a small GET.
        from pyarrow import fs

        endpoint = _endpoint(self.env)
        kwargs: dict[str, Any] = {"region": _region(self.env)}
        if endpoint:
            scheme, _, host = endpoint.partition("://")
            kwargs.update(endpoint_override=host or scheme,
                          scheme=scheme if host else "https")
        if self.env.get("AWS_ACCESS_KEY_ID"):
            kwargs.update(access_key=self.env["AWS_ACCESS_KEY_ID"],
                          secret_key=self.env.get("AWS_SECRET_ACCESS_KEY", ""),
                          session_token=self.env.get("AWS_SESSION_TOKEN") or None)
        return fs.S3FileSystem(**kwargs), self.uri.split("://", 1)[1].rstrip("/")

    def _where(self, name: str) -> str:
        return str(self) + "/" + name

    def read_bytes(self, name: str) -> bytes | None:
        """The object ``name`` (a path relative to the index), None when it does not exist."""
        if not self.uri:
            try:
                return (self.local_dir / name).read_bytes()
            except FileNotFoundError:
                return None
        fs, base = self._fs()
        try:
            with fs.open_input_stream(f"{base}/{name}") as f:
                return bytes(f.read())
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"cannot read {self._where(name)}: {exc}") from exc

    def read_text(self, name: str) -> str | None:
        data = self.read_bytes(name)
        return None if data is None else data.decode()

    def write_bytes(self, name: str, data: bytes) -> None:
        """Replace the object ``name`` atomically: readers see the old bytes or the new ones
        (a local file goes through a renamed temporary; an object PUT is atomic)."""
        if not self.uri:
            _write_local(self.local_dir / name, data)
            return
        fs, base = self._fs()
        try:
            with fs.open_output_stream(f"{base}/{name}") as f:
                f.write(data)
        except OSError as exc:
            raise StoreError(f"cannot write {self._where(name)}: {exc}") from exc

    def write_text(self, name: str, text: str) -> None:
        self.write_bytes(name, text.encode())

    def exists(self, name: str) -> bool:
        """Whether the object (or local file) ``name`` exists."""
        if not self.uri:
            return (self.local_dir / name).exists()
        from pyarrow import fs as pafs

        fs, base = self._fs()
        try:
            return bool(fs.get_file_info(f"{base}/{name}").type != pafs.FileType.NotFound)
        except OSError as exc:
            raise StoreError(f"cannot reach {self._where(name)}: {exc}") from exc

    def delete(self, name: str) -> None:
        """Delete the object or folder ``name`` (nothing when it does not exist)."""
        if not self.uri:
            import shutil

            target = self.local_dir / name
            if target.is_dir():
                shutil.rmtree(target)
            else:
                target.unlink(missing_ok=True)
            return
        from pyarrow import fs as pafs

        fs, base = self._fs()
        info = fs.get_file_info(f"{base}/{name}")
        if info.type == pafs.FileType.Directory:
            fs.delete_dir(f"{base}/{name}")
        elif info.type == pafs.FileType.File:
            fs.delete_file(f"{base}/{name}")

    def delete_local(self, name: str) -> None:
        """Delete ``name`` from this machine's folder of a remote index (a local copy)."""
        import shutil

        shutil.rmtree(self.local_dir / name, ignore_errors=True)

    def list(self, folder: str = "") -> list[str]:
        """The names directly in ``folder`` (relative to the index; "" = its root)."""
        if not self.uri:
            where = self.local_dir / folder
            return sorted(p.name for p in where.iterdir()) if where.is_dir() else []
        from pyarrow import fs as pafs

        fs, base = self._fs()
        path = f"{base}/{folder}".rstrip("/")
        try:
            infos = fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))
        except OSError as exc:
            raise StoreError(f"cannot list {self._where(folder)}: {exc}") from exc
        return sorted(i.base_name for i in infos)


def shown(db_dir: Path | str) -> str:
    """The index at ``db_dir`` as users name it in ``--db``: its URI when the folder points
    at a remote index, else the folder's absolute path."""
    try:
        location = IndexLocation.parse(db_dir)
    except StoreError:
        return str(db_dir)
    return location.uri or str(location.local_dir.resolve())


def cache_dir_of(uri: str, env: dict[str, str] | None = None) -> Path:
    """This machine's local folder for the remote index at ``uri``."""
    env = dict(os.environ if env is None else env)
    root = Config.from_env(env)["storage.cache_dir"] or str(
        Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "deerin")
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", uri.split("://", 1)[1]).strip("-")[:60]
    digest = hashlib.sha256(uri.encode()).hexdigest()[:10]
    return Path(root).expanduser() / "indexes" / f"{slug}-{digest}"


def _normal_uri(value: str) -> str:
    m = _URI.match(value)
    if not m:
        raise StoreError(f"not an index URI: {value}")
    scheme, rest = m.group("scheme"), m.group("rest").strip("/")
    if scheme not in SCHEMES:
        raise StoreError(f"unsupported index location {value}: DEERIn stores indexes in a local "
                         f"folder or at {' or '.join(s + '://BUCKET/PREFIX' for s in SCHEMES)}")
    if not rest:
        raise StoreError(f"index URI {value} names no bucket")
    return f"{scheme}://{rest}"


def _endpoint(env: dict[str, str]) -> str:
    return Config.from_env(env)["storage.s3_endpoint"] or env.get("AWS_ENDPOINT_URL") or ""


def _region(env: dict[str, str]) -> str:
    return env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"


def _write_local(path: Path, data: bytes) -> None:
    """Write ``path`` through a temporary renamed over it (never half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
