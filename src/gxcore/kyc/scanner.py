"""The virus-scanner port: clamd over its INSTREAM protocol, or the development EICAR scanner.

A document's `virusScanStatus` is `pending` until a scanner answers, then `clean` or
`infected`; an infected document is never served and blocks its verification's approval. A
scanner that cannot be reached raises ScannerUnavailable and the document stays `pending`
(`gx jobs kyc-scan` tries again).
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from gxcore.config import Settings
from gxcore.errors import ScannerUnavailable

#: The EICAR anti-virus test file: every scanner must flag it.
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
CLAMD_CHUNK = 64 * 1024
CLAMD_TIMEOUT = 60.0


class ScanStatus(StrEnum):
    PENDING = "pending"
    CLEAN = "clean"
    INFECTED = "infected"


@dataclass(frozen=True)
class Verdict:
    status: ScanStatus
    #: The signature found, when infected.
    signature: str | None = None


class Scanner(Protocol):
    name: str

    async def scan(self, chunks: Iterable[bytes]) -> Verdict: ...


class EicarScanner:
    """Development stand-in: flags the EICAR test string anywhere in a file, nothing else."""

    name = "eicar"

    async def scan(self, chunks: Iterable[bytes]) -> Verdict:
        tail = b""
        for chunk in chunks:
            window = tail + chunk
            if EICAR in window:
                return Verdict(ScanStatus.INFECTED, "Eicar-Test-Signature")
            tail = window[-(len(EICAR) - 1) :]
        return Verdict(ScanStatus.CLEAN)


class ClamdScanner:
    """clamd's INSTREAM: `zINSTREAM\\0`, chunks each prefixed by its length (4 bytes, network
    order), a zero length to end; the answer is `stream: OK` or `stream: <name> FOUND`."""

    name = "clamd"

    def __init__(self, address: str, *, timeout: float = CLAMD_TIMEOUT) -> None:
        self.address = address
        self.timeout = timeout

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.address.startswith("/"):
            return await asyncio.open_unix_connection(self.address)
        host, _, port = self.address.rpartition(":")
        return await asyncio.open_connection(host.strip("[]") or "localhost", int(port))

    async def scan(self, chunks: Iterable[bytes]) -> Verdict:
        try:
            async with asyncio.timeout(self.timeout):
                reader, writer = await self._connect()
                try:
                    answer = await self._instream(reader, writer, chunks)
                finally:
                    writer.close()
        except (OSError, TimeoutError, ValueError) as e:
            raise ScannerUnavailable(f"clamd at {self.address} did not answer: {e}") from e
        return parse_answer(answer)

    @staticmethod
    async def _instream(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, chunks: Iterable[bytes]
    ) -> str:
        writer.write(b"zINSTREAM\0")
        for chunk in _rechunk(chunks):
            writer.write(struct.pack("!L", len(chunk)) + chunk)
            await writer.drain()
        writer.write(struct.pack("!L", 0))
        await writer.drain()
        return (await reader.readuntil(b"\0")).rstrip(b"\0").decode(errors="replace")


def parse_answer(answer: str) -> Verdict:
    _, _, result = answer.partition(": ")
    if result == "OK":
        return Verdict(ScanStatus.CLEAN)
    if result.endswith(" FOUND"):
        return Verdict(ScanStatus.INFECTED, result.removesuffix(" FOUND"))
    # "INSTREAM size limit exceeded. ERROR" and the like: no verdict.
    raise ScannerUnavailable(f"clamd gave no verdict: {answer!r}")


def _rechunk(chunks: Iterable[bytes]) -> Iterable[bytes]:
    for chunk in chunks:
        for start in range(0, len(chunk), CLAMD_CHUNK):
            yield chunk[start : start + CLAMD_CHUNK]


def scanner_for(settings: Settings) -> Scanner:
    """clamd when GX_CLAMD is set; else the development scanner (production requires GX_CLAMD,
    see Settings.require_production_settings)."""
    return ClamdScanner(settings.clamd) if settings.clamd else EicarScanner()
