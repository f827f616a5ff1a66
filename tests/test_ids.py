"""Time-ordered ids for the projector's bulk inserts."""

from __future__ import annotations

import time
import uuid

from gxcore.cqrs.ids import ordered_uuids


def test_ordered_uuids_are_version_7_unique_increasing_and_carry_the_time() -> None:
    before = time.time_ns() // 1_000_000
    ids = ordered_uuids(1_500) + ordered_uuids(1_500)
    after = time.time_ns() // 1_000_000
    parsed = [uuid.UUID(i) for i in ids]
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in parsed)
    assert len(set(ids)) == len(ids)
    first = parsed[:1_500]
    assert first == sorted(first)  # one statement's ids grow, so they append to the index
    assert all(before <= u.int >> 80 <= after for u in parsed)  # 48 bits of Unix ms
