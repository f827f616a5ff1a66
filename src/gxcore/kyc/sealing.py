"""Encryption at rest of KYC documents, and their signed download links.

Each document has a key of its own (AES-256-GCM), generated at upload and stored in
`KYCDocument.encryptionKey` wrapped (AES-GCM) by a key-encryption key derived from the master
key (`GX_KYC_MASTER_KEY`, or outside production a generated one kept in the data dir). The
wrapped key and the sealed file are both bound to `<tenant>:<documentId>`, so neither can be
moved to another document or tenant and still open.

A sealed file is `GXD1 | nonce (12) | ciphertext | tag (16)`, written and read in chunks: a
document is never held whole in memory.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from gxcore.config import Settings
from gxcore.errors import DocumentIntegrityFailed
from gxcore.keys import server_key

MAGIC = b"GXD1"
NONCE = 12
TAG = 16
CHUNK = 64 * 1024
KEY_FORMAT = "v1"


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret)


@dataclass(frozen=True)
class DocumentKeys:
    """The two keys derived from the master key: one wraps document keys, one signs links."""

    wrapping: bytes
    links: bytes

    @classmethod
    def from_secret(cls, secret: bytes) -> DocumentKeys:
        return cls(
            wrapping=_derive(secret, b"gx-kyc-key-wrapping-v1"),
            links=_derive(secret, b"gx-kyc-download-links-v1"),
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> DocumentKeys:
        secret = server_key(
            settings, settings.kyc_master_key, variable="GX_KYC_MASTER_KEY", file="kyc_master_key"
        )
        return cls.from_secret(secret)

    @property
    def key_id(self) -> str:
        """Names the master key a document key was wrapped by (for rotation), revealing nothing."""
        return hmac.new(self.wrapping, b"key-id", hashlib.sha256).hexdigest()[:16]

    # ----------------------------------------------------------------------------------------
    # Document keys
    # ----------------------------------------------------------------------------------------

    def wrap(self, document_key: bytes, *, binding: str) -> str:
        nonce = os.urandom(NONCE)
        wrapped = AESGCM(self.wrapping).encrypt(nonce, document_key, binding.encode())
        return f"{KEY_FORMAT}:{self.key_id}:{base64.b64encode(nonce + wrapped).decode()}"

    def unwrap(self, stored: str, *, binding: str) -> bytes:
        try:
            version, key_id, blob = stored.split(":", 2)
            raw = base64.b64decode(blob, validate=True)
            if version != KEY_FORMAT or key_id != self.key_id:
                raise ValueError("wrapped by another master key")
            return AESGCM(self.wrapping).decrypt(raw[:NONCE], raw[NONCE:], binding.encode())
        except (ValueError, InvalidTag) as e:
            raise DocumentIntegrityFailed("the document's key cannot be opened") from e

    # ----------------------------------------------------------------------------------------
    # Download links
    # ----------------------------------------------------------------------------------------

    def sign(self, tenant_id: str, document_id: str, expires: int) -> str:
        message = f"{tenant_id}\n{document_id}\n{expires}".encode()
        return hmac.new(self.links, message, hashlib.sha256).hexdigest()

    def signed(self, tenant_id: str, document_id: str, expires: int, signature: str) -> bool:
        # As bytes: compare_digest refuses a str with non-ASCII characters, which a client
        # may put in the link.
        expected = self.sign(tenant_id, document_id, expires).encode()
        return hmac.compare_digest(expected, signature.encode("utf-8", "surrogateescape"))


def new_document_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def binding(tenant_id: str, document_id: str) -> str:
    return f"gx-kyc:{tenant_id}:{document_id}"


class Sealer:
    """Seals a document chunk by chunk: `header()`, `update(chunk)` each, then `finish()`."""

    def __init__(self, key: bytes, *, binding: str) -> None:
        self.nonce = os.urandom(NONCE)
        self._enc: CipherContext = Cipher(algorithms.AES(key), modes.GCM(self.nonce)).encryptor()
        self._enc.authenticate_additional_data(binding.encode())

    def header(self) -> bytes:
        return MAGIC + self.nonce

    def update(self, chunk: bytes) -> bytes:
        return self._enc.update(chunk)

    def finish(self) -> bytes:
        return self._enc.finalize() + self._enc.tag  # type: ignore[attr-defined]


def unseal(file: BinaryIO, size: int, key: bytes, *, binding: str) -> Iterator[bytes]:
    """The plaintext of a sealed file of `size` bytes, chunk by chunk.

    A file whose seal does not hold (changed, truncated, another document's) raises
    DocumentIntegrityFailed when the last chunk has been read: the caller must drain the
    iterator before trusting what it yielded (gxcore.kyc.vault does).
    """
    head = file.read(len(MAGIC) + NONCE)
    if size < len(head) + TAG or head[: len(MAGIC)] != MAGIC:
        raise DocumentIntegrityFailed("the stored document is not a sealed document")
    file.seek(size - TAG)
    tag = file.read(TAG)
    file.seek(len(head))
    cipher = Cipher(algorithms.AES(key), modes.GCM(head[len(MAGIC) :], tag))
    dec = cipher.decryptor()
    dec.authenticate_additional_data(binding.encode())
    left = size - len(head) - TAG
    while left > 0:
        chunk = file.read(min(CHUNK, left))
        if not chunk:
            raise DocumentIntegrityFailed("the stored document is truncated")
        left -= len(chunk)
        yield dec.update(chunk)
    try:
        yield dec.finalize()
    except InvalidTag as e:
        raise DocumentIntegrityFailed("the stored document was altered") from e
