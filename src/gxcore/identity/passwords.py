"""Password hashing: argon2id, and a check that costs the same whether or not the account exists.

argon2id with RFC 9106's second recommended option (64 MiB, 3 passes, 4 lanes), a 16-byte salt
and a 32-byte hash: about 0.1-0.2 s per hash on one core, deliberately. Hashing and checking
run in a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import functools

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

PASSWORD_HASHER = PasswordHasher(
    time_cost=3, memory_cost=64 * 1024, parallelism=4, hash_len=32, salt_len=16, type=Type.ID
)


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(PASSWORD_HASHER.hash, password)


@functools.cache
def _decoy_hash() -> str:
    return PASSWORD_HASHER.hash("gx decoy password, never anybody's")


async def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches; with no hash (no such account) a decoy is checked instead,
    so the answer takes as long either way."""
    try:
        if password_hash is None:
            await asyncio.to_thread(PASSWORD_HASHER.verify, _decoy_hash(), password)
            return False
        return await asyncio.to_thread(PASSWORD_HASHER.verify, password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
