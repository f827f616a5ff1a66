"""The document vault: store, keys and scanner together, as the API and the jobs use them.

    vault = Vault.from_settings(settings)          # built once per app or job, then injected
    intake = vault.intake(tenant_id, document_id)  # seal an upload as it streams in
    for chunk in vault.plaintext(ref): ...         # read one back, checked end to end

Reading checks three things: the blob against its content address, the seal (AES-GCM tag,
bound to the tenant and document), and the plaintext against the document's `fileHash`. Any
failure is DocumentIntegrityFailed; `verified` drains a document first so nothing unchecked is
ever sent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

from gxcore.config import Settings
from gxcore.errors import DocumentIntegrityFailed
from gxcore.kyc.scanner import Scanner, Verdict, scanner_for
from gxcore.kyc.sealing import DocumentKeys, Sealer, binding, new_document_key, unseal
from gxcore.kyc.storage import BlobWriter, DocumentStore, LocalDocumentStore

#: How much of a file's start is kept to detect its type from.
HEAD_BYTES = 8192


@dataclass(frozen=True)
class StoredRef:
    """What reading a stored document needs (ids and strings, no ORM object)."""

    tenant_id: str
    document_id: str
    storage_url: str
    encryption_key: str
    file_hash: str


class Intake:
    """One upload being sealed into the store: hashes, counts and keeps the head as it goes."""

    def __init__(self, vault: Vault, tenant_id: str, document_id: str) -> None:
        self.document_id = document_id
        key = new_document_key()
        bound = binding(tenant_id, document_id)
        self.wrapped_key = vault.keys.wrap(key, binding=bound)
        self._sealer = Sealer(key, binding=bound)
        self._store = vault.store
        self._blob: BlobWriter = vault.store.writer()
        self._blob.write(self._sealer.header())
        self._hash = hashlib.sha256()
        self.size = 0
        self.head = b""
        self.address: str | None = None

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        self._hash.update(chunk)
        if len(self.head) < HEAD_BYTES:
            self.head += chunk[: HEAD_BYTES - len(self.head)]
        self._blob.write(self._sealer.update(chunk))

    @property
    def file_hash(self) -> str:
        return self._hash.hexdigest()

    def commit(self) -> str:
        self._blob.write(self._sealer.finish())
        self.address = self._blob.commit()
        return self.address

    def discard(self) -> None:
        """Remove what was written, in place or not."""
        if self.address is not None:
            self._store.delete(self.address)
        else:
            self._blob.discard()


@dataclass(frozen=True)
class Vault:
    store: DocumentStore
    keys: DocumentKeys
    scanner: Scanner
    max_bytes: int
    max_files: int
    url_ttl_seconds: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Vault:
        return cls(
            store=LocalDocumentStore(settings.kyc_storage_path),
            keys=DocumentKeys.from_settings(settings),
            scanner=scanner_for(settings),
            max_bytes=settings.kyc_max_document_bytes,
            max_files=settings.kyc_max_documents_per_upload,
            url_ttl_seconds=settings.kyc_url_ttl_seconds,
        )

    def intake(self, tenant_id: str, document_id: str) -> Intake:
        return Intake(self, tenant_id, document_id)

    def plaintext(self, ref: StoredRef) -> Iterator[bytes]:
        """The document's bytes; DocumentIntegrityFailed (at the end at the latest) when the blob,
        its seal or its hash do not hold."""
        bound = binding(ref.tenant_id, ref.document_id)
        key = self.keys.unwrap(ref.encryption_key, binding=bound)
        file, size = self.store.open(ref.storage_url)
        with file:
            digest = hashlib.sha256()
            for chunk in unseal(file, size, key, binding=bound):
                digest.update(chunk)
                yield chunk
            if digest.hexdigest() != ref.file_hash:
                raise DocumentIntegrityFailed("the stored document does not match its fileHash")

    def verified(self, ref: StoredRef) -> Iterator[bytes]:
        """Check the whole document first, then give its bytes: what a download sends.

        The second pass checks again, so a file changed in between ends the stream with an error
        instead of finishing it."""
        for _ in self.plaintext(ref):
            pass
        return self.plaintext(ref)

    async def scan(self, ref: StoredRef) -> Verdict:
        return await self.scanner.scan(self.plaintext(ref))
