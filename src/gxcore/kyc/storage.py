"""The storage port for KYC documents, and its local-directory implementation.

A store keeps opaque blobs (sealed documents, see gxcore.kyc.sealing) under content addresses
`sha256:<hex of the blob>`: a blob is written to a temporary file beside the store, then moved
into place under its address, so a half-written blob is never found at an address. Reading
checks the blob against its address, so a file changed on disk is caught even before its seal
is checked.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Protocol

from gxcore.errors import DocumentIntegrityFailed

_ADDRESS = re.compile(r"sha256:([0-9a-f]{64})")


class BlobWriter(Protocol):
    size: int

    def write(self, chunk: bytes) -> None: ...
    def commit(self) -> str:
        """Put the blob in place; its address."""
        ...

    def discard(self) -> None: ...


class DocumentStore(Protocol):
    def writer(self) -> BlobWriter: ...
    def open(self, address: str) -> tuple[BinaryIO, int]:
        """The blob at `address` (its file, at 0, and its size); DocumentIntegrityFailed when
        it is missing or its bytes no longer hash to its address."""
        ...

    def delete(self, address: str) -> None: ...
    def blobs(self) -> Iterator[tuple[str, datetime]]:
        """Every blob's address and when it was written."""
        ...

    def remove_abandoned_uploads(self, before: datetime) -> int:
        """Remove uploads begun before `before` and never put in place; how many."""
        ...


class _LocalWriter:
    def __init__(self, root: Path) -> None:
        self._root = root
        fd, name = tempfile.mkstemp(dir=root / "tmp", prefix="upload-")
        self._path = Path(name)
        self._file = os.fdopen(fd, "wb")
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)
        self._hash.update(chunk)
        self.size += len(chunk)

    def commit(self) -> str:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        digest = self._hash.hexdigest()
        target = LocalDocumentStore.path_in(self._root, digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self._path, target)
        return f"sha256:{digest}"

    def discard(self) -> None:
        self._file.close()
        self._path.unlink(missing_ok=True)


class LocalDocumentStore:
    """Blobs in a local directory: `<root>/sha256/ab/cd/<hex>`, uploads in `<root>/tmp`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "tmp").mkdir(parents=True, exist_ok=True, mode=0o700)

    @staticmethod
    def path_in(root: Path, digest: str) -> Path:
        return root / "sha256" / digest[:2] / digest[2:4] / digest

    def _path(self, address: str) -> Path:
        m = _ADDRESS.fullmatch(address)
        if m is None:
            raise DocumentIntegrityFailed(f"not a storage address: {address!r}")
        return self.path_in(self.root, m.group(1))

    def writer(self) -> BlobWriter:
        return _LocalWriter(self.root)

    def open(self, address: str) -> tuple[BinaryIO, int]:
        path = self._path(address)
        try:
            file = path.open("rb")
        except FileNotFoundError as e:
            raise DocumentIntegrityFailed("the stored document is missing") from e
        digest = hashlib.sha256()
        with _closing_on_error(file):
            while chunk := file.read(1 << 16):
                digest.update(chunk)
            if f"sha256:{digest.hexdigest()}" != address:
                raise DocumentIntegrityFailed("the stored document was altered")
            size = file.tell()
            file.seek(0)
        return file, size

    def delete(self, address: str) -> None:
        self._path(address).unlink(missing_ok=True)

    def blobs(self) -> Iterator[tuple[str, datetime]]:
        for path in (self.root / "sha256").glob("*/*/*"):
            yield f"sha256:{path.name}", _modified(path)

    def remove_abandoned_uploads(self, before: datetime) -> int:
        removed = 0
        for path in (self.root / "tmp").glob("upload-*"):
            if _modified(path) < before:
                path.unlink(missing_ok=True)
                removed += 1
        return removed


def _modified(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


@contextmanager
def _closing_on_error(file: BinaryIO) -> Iterator[None]:
    try:
        yield
    except BaseException:
        file.close()
        raise
