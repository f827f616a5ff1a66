"""Receiving a multipart upload of documents: streamed, capped, sealed, typed from its bytes.

The body is parsed as it arrives (python-multipart's streaming parser over the request stream):
each file part is sealed into the store chunk by chunk (gxcore.kyc.vault), so a document is
never held whole in memory, and the size cap is enforced while streaming: the first byte over
it stops the reading, and every blob begun is discarded (DOCUMENT_TOO_LARGE, nothing stored).
The type of each file is detected from its first bytes by puremagic; the client's declared
type is never trusted, and a declared type the bytes disagree with is refused.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import puremagic
from python_multipart.multipart import MultipartParser, parse_options_header

from gxcore.db.base import new_uuid
from gxcore.errors import (
    DocumentRejected,
    DocumentTooLarge,
    DocumentTypeMismatch,
    ValidationFailed,
)
from gxcore.kyc.vault import Intake, Vault

#: What a KYC document may be (detected from its bytes).
ALLOWED_TYPES = ("application/pdf", "image/jpeg", "image/png", "image/webp")
#: Declared types that declare nothing; the bytes decide alone.
UNDECLARED = frozenset({"", "application/octet-stream"})
#: Other names clients use for an allowed type.
ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "application/x-pdf": "application/pdf",
}
MAX_FIELD_CHARS = 1000
MAX_FIELDS = 50
#: Room for the form fields and part headers beside the files, in the whole body's cap.
BODY_OVERHEAD = 256 * 1024


class UploadMalformed(ValidationFailed):
    code = "UPLOAD_MALFORMED"


class TooManyDocuments(ValidationFailed):
    code = "TOO_MANY_DOCUMENTS"


@dataclass
class ReceivedFile:
    intake: Intake
    filename: str | None
    mime_type: str = ""


@dataclass
class Received:
    files: list[ReceivedFile] = field(default_factory=list)
    fields: dict[str, list[str]] = field(default_factory=dict)

    def discard(self) -> None:
        """Remove every blob this upload wrote (committed or not)."""
        for f in self.files:
            f.intake.discard()


def detect(head: bytes) -> str | None:
    try:
        found = puremagic.from_string(head, mime=True) if head else ""
    except puremagic.PureError:
        return None
    return found or None


def checked_type(received: ReceivedFile, declared: str | None) -> str:
    """The file's type from its bytes: allowed, and the declared one if one was declared."""
    name = received.filename or "the file"
    found = detect(received.intake.head)
    found = ALIASES.get(found or "", found)
    if found not in ALLOWED_TYPES:
        raise DocumentRejected(
            f"{name}: a {found or 'file of unknown type'} is not accepted; send one of "
            + ", ".join(ALLOWED_TYPES),
            field="files",
            detectedType=found,
        )
    claimed = (declared or "").split(";")[0].strip().lower()
    claimed = ALIASES.get(claimed, claimed)
    if claimed not in UNDECLARED and claimed != found:
        raise DocumentTypeMismatch(
            f"{name} was declared {claimed} but its bytes are {found}",
            field="files",
            declaredType=claimed,
            detectedType=found,
        )
    return found


class _Parser:
    """python-multipart's callbacks, building a `Received` as the parts go by."""

    def __init__(self, vault: Vault, tenant_id: str, out: Received) -> None:
        self.vault, self.tenant_id, self.out = vault, tenant_id, out
        self.headers: dict[bytes, bytes] = {}
        self._name = self._value = b""
        self.file: ReceivedFile | None = None
        self.declared: str | None = None
        self.field_name: str | None = None
        self.field_value = bytearray()

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self.part_begin,
            "on_header_field": self.header_field,
            "on_header_value": self.header_value,
            "on_header_end": self.header_end,
            "on_headers_finished": self.headers_finished,
            "on_part_data": self.part_data,
            "on_part_end": self.part_end,
        }

    def part_begin(self) -> None:
        self.headers, self.file, self.field_name = {}, None, None
        self.field_value = bytearray()

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self._name += data[start:end]

    def header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def header_end(self) -> None:
        self.headers[self._name.strip().lower()] = self._value.strip()
        self._name = self._value = b""

    def headers_finished(self) -> None:
        kind, options = parse_options_header(self.headers.get(b"content-disposition"))
        if kind != b"form-data" or b"name" not in options:
            raise UploadMalformed("each part needs `Content-Disposition: form-data; name=...`")
        name = options[b"name"].decode("utf-8", "replace")
        if b"filename" in options:
            if name != "files":
                raise UploadMalformed(f"files go in parts named `files`, not {name!r}")
            if len(self.out.files) >= self.vault.max_files:
                raise TooManyDocuments(
                    f"at most {self.vault.max_files} documents per upload", field="files"
                )
            filename = options[b"filename"].decode("utf-8", "replace")[:255] or None
            self.file = ReceivedFile(
                self.vault.intake(self.tenant_id, new_uuid()), filename=filename
            )
            self.out.files.append(self.file)
            self.declared = self.headers.get(b"content-type", b"").decode("latin-1")
        else:
            if sum(len(v) for v in self.out.fields.values()) >= MAX_FIELDS:
                raise UploadMalformed(f"at most {MAX_FIELDS} form fields")
            self.field_name = name

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if self.file is not None:
            if self.file.intake.size + (end - start) > self.vault.max_bytes:
                raise DocumentTooLarge(
                    f"{self.file.filename or 'a file'} is over the limit of "
                    f"{self.vault.max_bytes} bytes",
                    field="files",
                    maxBytes=self.vault.max_bytes,
                )
            self.file.intake.write(data[start:end])
        else:
            self.field_value += data[start:end]
            if len(self.field_value) > MAX_FIELD_CHARS * 4:
                raise UploadMalformed(f"form field {self.field_name!r} is too long")

    def part_end(self) -> None:
        if self.file is not None:
            # Refused here, before the next part is read.
            self.file.mime_type = checked_type(self.file, self.declared)
            self.file.intake.commit()
        elif self.field_name is not None:
            try:
                value = self.field_value.decode("utf-8")
            except UnicodeDecodeError as e:
                raise UploadMalformed(f"form field {self.field_name!r} is not UTF-8") from e
            if len(value) > MAX_FIELD_CHARS:
                raise UploadMalformed(f"form field {self.field_name!r} is too long")
            self.out.fields.setdefault(self.field_name, []).append(value)


async def receive(
    stream: AsyncIterator[bytes], content_type: str | None, *, vault: Vault, tenant_id: str
) -> Received:
    """Parse a `multipart/form-data` body: file parts named `files`, and form fields.

    On any refusal every blob written is removed before the error is raised.
    """
    kind, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise UploadMalformed("send the documents as multipart/form-data", field="body")
    out = Received()
    parser = _Parser(vault, tenant_id, out)
    limit = vault.max_files * vault.max_bytes + BODY_OVERHEAD
    seen = 0
    try:
        multipart = MultipartParser(boundary, parser.callbacks())  # type: ignore[arg-type]
        async for chunk in stream:
            seen += len(chunk)
            if seen > limit:
                raise DocumentTooLarge(f"the upload is over {limit} bytes", maxBytes=limit)
            multipart.write(chunk)
        multipart.finalize()
        if not out.files:
            raise UploadMalformed("no document: send each file in a part named `files`")
        if any(f.intake.address is None for f in out.files):
            raise UploadMalformed("the body ends inside a file")
    except Exception as e:
        out.discard()
        if isinstance(e, (ValidationFailed, DocumentTooLarge)):
            raise
        raise UploadMalformed(f"the multipart body cannot be read: {e}", field="body") from e
    return out
