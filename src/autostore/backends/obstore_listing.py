"""Listing and folders on obstore: keys below a prefix (resuming a listing that broke off),
one folder level, the files of a stem, and removing folders with the markers other tools leave.

One job: the listing side of :class:`~.obstore_transport.ObstoreTransport` (its base class).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..errors import BackendError, MissingDependency, NotFound
from ..metrics import DELETE, LIST
from .base import ObjectMeta
from .builders import obstore_module
from .errormap import NotRetried
from .obstore_io import object_meta
from .retry import AttemptingBackend

__all__ = ["ObstoreListing"]


class ObstoreListing(AttemptingBackend):
    """Listing and folder calls of an obstore transport (see :class:`~.obstore_transport.ObstoreTransport`)."""

    @property
    def store(self) -> Any:
        """The obstore store for single requests (built by the transport)."""
        raise NotImplementedError

    # -- listing --------------------------------------------------------------------------
    def list_objects(self, prefix: str = "") -> Iterator[ObjectMeta]:
        for m in self._list_entries(prefix):
            yield object_meta(m)

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        for m in self._list_entries(prefix):
            yield m["path"]

    def _list_entries(self, prefix: str) -> Iterator[dict[str, Any]]:
        """obstore's entries below ``prefix``, in key order, resuming a listing that broke off."""
        ob = obstore_module()
        p = prefix.rstrip("/") or None
        last: str | None = None  # a broken-off listing resumes after the last key it gave
        used = 0
        while True:
            try:
                stream = iter(ob.list(self.store, prefix=p, offset=last, chunk_size=1000))
                for batch in self._listed(prefix, stream):
                    for m in batch:
                        path = m["path"]
                        if last is not None and path <= last:
                            continue  # a server that ignores the list offset
                        last = path
                        yield m
                return
            except NotRetried as exc:
                used = self._before_retry(exc, used)
                self.stats.retried()

    def list_dir(self, prefix: str = "") -> tuple[list[ObjectMeta], list[str]]:
        ob = obstore_module()
        p = prefix.rstrip("/") or None
        store = self.store
        result = self._call(LIST, prefix, "list", lambda: ob.list_with_delimiter(store, prefix=p))
        files = [object_meta(m) for m in result["objects"]]
        dirs = [d.rstrip("/") + "/" for d in result["common_prefixes"]]
        for _ in range(self._pages(len(files) + len(dirs)) - 1):
            self.stats.request(LIST)  # the further pages object_store fetched inside the call
        return files, dirs

    def list_stem(self, stem: str) -> list[str]:
        ob = obstore_module()
        folder = stem.rpartition("/")[0]
        want = stem + "."
        used = 0
        while True:
            found: list[str] = []
            try:
                stream = iter(ob.list(self.store, prefix=folder or None, offset=want, chunk_size=100))
                for batch in self._listed(stem, stream):
                    for m in batch:
                        path = m["path"]
                        if path < want:  # a server that ignores the list offset (fake-gcs-server)
                            continue
                        if not path.startswith(want):
                            return found
                        if "/" not in path[len(want) :]:
                            found.append(path)
                return found
            except NotRetried as exc:
                used = self._before_retry(exc, used)
                self.stats.retried()

    def is_dir(self, prefix: str) -> bool:
        if self.kind == "http":  # no listing over plain HTTP: a URL is a file or nothing
            return False
        return super().is_dir(prefix)

    # -- folders --------------------------------------------------------------------------
    def remove_dir(self, prefix: str, *, recursive: bool = False) -> None:
        """Remove an empty folder (its ``name/`` marker object, if another tool made one), or
        with ``recursive`` every object below it."""
        name = prefix.rstrip("/")
        if recursive:
            # Reverse order puts children before the markers of their folders.
            keys = sorted((m.key for m in self.list_objects(name + "/")), reverse=True)
            if keys:
                self.delete_many(keys)
        if name:
            self._delete_folder_entry(name)
        left = [m.key for m in self.list_objects(name + "/")]
        markers = left if recursive else [k for k in left if k == name]
        if markers:
            self.delete_markers([k + "/" for k in markers])

    def _delete_folder_entry(self, name: str) -> None:
        # obstore strips the "/" of "name/", so a marker can only be addressed as "name". Filer-based
        # servers (SeaweedFS) then drop the folder entry and its marker; on AWS it deletes a missing
        # key, a no-op. Skipped when a file "name" exists: that would delete the file.
        ob = obstore_module()
        try:
            self.head(name)
            return
        except NotFound:
            pass
        store = self.store
        self._call(DELETE, name, "delete", lambda: ob.delete(store, name))

    def delete_markers(self, keys: list[str]) -> None:
        """Delete keys ending with "/" (folder markers made by consoles and other tools), which
        obstore cannot address; boto3 (part of autostore[s3]) sends the request."""
        if self.kind != "s3":
            raise BackendError(
                f"Cannot delete folder marker(s) {', '.join(self.uri(k) for k in keys[:5])}: only S3 "
                "services support it here; delete them with the service's own tools."
            )
        from .boto3_transport import Boto3Backend

        transport = Boto3Backend(self.scheme, self.bucket, self.options)
        transport.stats = self.stats
        try:
            transport.delete_many(keys)
        except MissingDependency as exc:
            raise MissingDependency(
                f'Deleting folder marker {self.uri(keys[0])} needs boto3: pip install "autostore[s3]".'
            ) from exc
        finally:
            transport.close()
