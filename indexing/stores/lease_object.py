"""The lease object itself, read and written conditionally when the store client allows it.

Two implementations of one small interface (see :mod:`indexing.stores.lease` for why):
:class:`ConditionalObject` (botocore: ``If-None-Match`` / ``If-Match`` on the ETag) and
:class:`PlainObject` (pyarrow through :class:`~indexing.stores.location.IndexLocation`, no
conditions: its ``atomic`` is false and the lease verifies by reading back).
"""

from __future__ import annotations

from typing import Any, Protocol

from indexing.stores.base import StoreError
from indexing.stores.location import IndexLocation

_LOST = {"PreconditionFailed", "ConditionalRequestConflict", "412", "409"}


class LeaseObject(Protocol):
    """One object of the index, with optional compare-and-swap."""

    atomic: bool  # whether create/replace are conditional

    def read(self) -> tuple[bytes | None, str | None]:
        """The bytes and a version tag (ETag), (None, None) when absent."""
        ...

    def create(self, data: bytes) -> str | None:
        """Write ``data`` only if there is no object; its tag, None if one exists."""
        ...

    def replace(self, data: bytes, tag: str | None) -> str | None:
        """Write ``data`` only over the version ``tag``; its new tag, None if it changed."""
        ...

    def delete(self) -> None:
        """Delete the object (nothing if absent)."""
        ...


def lease_object(location: IndexLocation, name: str,
                 conditional: bool | None = None) -> LeaseObject:
    """The object ``name`` of ``location``: conditional if botocore is installed (or as
    ``conditional`` says)."""
    if conditional is None:
        try:
            import botocore  # noqa: F401  (an optional dependency: is it there?)
        except ImportError:
            conditional = False
        else:
            conditional = True
    return ConditionalObject(location, name) if conditional else PlainObject(location, name)


class PlainObject:
    """Unconditional reads and writes through pyarrow (``atomic`` is false)."""

    atomic = False

    def __init__(self, location: IndexLocation, name: str) -> None:
        self.location = location
        self.name = name

    def read(self) -> tuple[bytes | None, str | None]:
        return self.location.read_bytes(self.name), None

    def create(self, data: bytes) -> str | None:
        self.location.write_bytes(self.name, data)
        return ""

    def replace(self, data: bytes, tag: str | None) -> str | None:
        self.location.write_bytes(self.name, data)
        return ""

    def delete(self) -> None:
        self.location.delete(self.name)


class ConditionalObject:
    """Compare-and-swap writes with botocore (S3 ``If-None-Match`` / ``If-Match``)."""

    atomic = True

    def __init__(self, location: IndexLocation, name: str) -> None:
        import botocore.session
        from botocore.config import Config

        env = location.env
        bucket, _, prefix = location.uri.split("://", 1)[1].partition("/")
        self.bucket = bucket
        self.key = f"{prefix}/{name}" if prefix else name
        self.where = f"{location}/{name}"
        endpoint = location.storage_options().get("aws_endpoint")
        self.client: Any = botocore.session.get_session().create_client(
            "s3", endpoint_url=endpoint, region_name=location.storage_options()["aws_region"],
            aws_access_key_id=env.get("AWS_ACCESS_KEY_ID") or None,
            aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY") or None,
            aws_session_token=env.get("AWS_SESSION_TOKEN") or None,
            # S3-compatible servers on a host name or IP rarely resolve bucket subdomains.
            config=Config(s3={"addressing_style": "path"} if endpoint else {}))

    def read(self) -> tuple[bytes | None, str | None]:
        try:
            reply = self.client.get_object(Bucket=self.bucket, Key=self.key)
        except Exception as exc:
            if _code(exc) in {"NoSuchKey", "404"}:
                return None, None
            raise StoreError(f"cannot read {self.where}: {exc}") from exc
        return bytes(reply["Body"].read()), str(reply["ETag"])

    def create(self, data: bytes) -> str | None:
        return self._put(data, IfNoneMatch="*")

    def replace(self, data: bytes, tag: str | None) -> str | None:
        return self._put(data, IfMatch=tag) if tag else self.create(data)

    def delete(self) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.key)
        except Exception as exc:
            raise StoreError(f"cannot delete {self.where}: {exc}") from exc

    def _put(self, data: bytes, **condition: str) -> str | None:
        try:
            reply = self.client.put_object(Bucket=self.bucket, Key=self.key, Body=data,
                                           **condition)
        except Exception as exc:
            if _code(exc) in _LOST:
                return None
            raise StoreError(f"cannot write {self.where}: {exc}") from exc
        return str(reply["ETag"])


def _code(exc: Exception) -> str:
    """The S3 error code of a botocore ``ClientError`` ("" for anything else)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code", ""))
