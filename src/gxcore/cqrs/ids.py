"""Time-ordered UUIDs (the version 7 layout) for the rows the projector appends in bulk.

A random key (uuid4) lands anywhere in its primary-key index, so every insert into a large
`Transaction` or `EventLog` touches a random index page; keys that grow with time append at the
index's right edge. The text form is an ordinary UUID, as the reference's `uuid()` default gives.
"""

from __future__ import annotations

import os
import time


def ordered_uuids(count: int) -> list[str]:
    """`count` ids for one statement, increasing: one draw of time and randomness, then a
    counter in the low bits (RFC 9562's monotonic random method). A batch of rows needs no
    randomness per row, and formatting is the only cost per id.

    Layout: 48 bits of Unix time in ms, version 7, 12 random bits, the variant, 14 random
    bits, then 48 bits starting at a random value below 2**47 and counting up.
    """
    ms = time.time_ns() // 1_000_000
    r = int.from_bytes(os.urandom(10))
    prefix = f"{ms >> 16:08x}-{ms & 0xFFFF:04x}-7{r >> 68:03x}-{0x8000 | (r >> 54) & 0x3FFF:04x}-"
    start = r & (2**47 - 1)
    return [f"{prefix}{start + i:012x}" for i in range(count)]
