"""Time-ordered UUIDs (the version 7 layout) for the rows the projector appends in bulk.

A random key (uuid4) lands anywhere in its primary-key index, so every insert into a large
`Transaction` or `EventLog` touches a random index page; keys that grow with time append at the
index's right edge. The text form is an ordinary UUID, as the reference's `uuid()` default gives.
"""

from __future__ import annotations

import os
import time


def ordered_uuid() -> str:
    """48 bits of Unix time in ms, version 7, then 74 random bits."""
    h = f"{time.time_ns() // 1_000_000:012x}{os.urandom(10).hex()}"
    variant = "89ab"[int(h[16], 16) & 3]
    return f"{h[:8]}-{h[8:12]}-7{h[13:16]}-{variant}{h[17:20]}-{h[20:32]}"
