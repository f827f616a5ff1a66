"""Packed array parameters (`gxcore.db.arrays`) round-trip any text through the real server."""

from __future__ import annotations

import itertools
import random

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.db import arrays
from gxcore.db.server import libpq_url

# Every separator and marker the packer tries first, so the last resort gets exercised too.
_MARKS = "".join(sep + nul for sep, nul in arrays._PAIRS)

NASTY: list[list[str | None]] = [
    [],
    [""],
    ["", ""],
    [None],
    [None, ""],
    ["a", None, "b"],
    ["\x1f"],
    ["a\x1fb", "\x1e", "c\x1e"],
    [_MARKS, "x"],
    [_MARKS, None, ""],
    ['quote " and \\ backslash', "{braces}", "comma,", "NULL", "  spaced  "],
    ["é ✓ 𝄞"],
]


def _random_columns(rng: random.Random, count: int) -> list[list[str | None]]:
    alphabet = ["a", "Z", " ", ",", '"', "\\", "\x01", "é", "𝄞", *_MARKS]
    columns: list[list[str | None]] = []
    for _ in range(count):
        column: list[str | None] = []
        for _ in range(rng.randint(0, 6)):
            if rng.random() < 0.15:
                column.append(None)
            else:
                column.append("".join(rng.choices(alphabet, k=rng.randint(0, 5))))
        columns.append(column)
    return columns


CASES = NASTY + _random_columns(random.Random(7), 200)


async def test_positional_columns_round_trip(migrated_url: str) -> None:
    conn = await asyncpg.connect(libpq_url(migrated_url))
    try:
        for first, second in itertools.pairwise(CASES):
            sep, nul, (a, b) = arrays.pack([first, second])
            assert len(sep) == len(nul) == 1 and sep != nul
            row = await conn.fetchrow(
                f"SELECT {arrays.split_sql('$1', '$3', '$4')} AS a, "
                f"{arrays.split_sql('$2', '$3', '$4')} AS b",
                a, b, sep, nul,
            )  # fmt: skip
            assert (row["a"], row["b"]) == (first, second)
    finally:
        await conn.close()


async def test_named_columns_round_trip_with_types(session: AsyncSession) -> None:
    amounts = ["0.000000001", "123456789012345678901234567.123456789", None]
    row = (
        await session.execute(
            text(
                f"SELECT {arrays.unpack('words')} AS words, "
                f"{arrays.unpack('amounts', 'numeric')}::text[] AS amounts"
            ),
            arrays.packed(words=["x", "", None, "\x1f"], amounts=amounts),
        )
    ).one()
    assert row.words == ["x", "", None, "\x1f"]
    assert row.amounts == amounts


def test_the_marks_are_held_by_no_value() -> None:
    sep, nul, _ = arrays.pack([[_MARKS, "\x02"], ["\x03"]])
    assert {sep, nul}.isdisjoint(set(_MARKS) | {"\x02", "\x03"})
    assert sep != nul


def test_values_must_be_text() -> None:
    with pytest.raises(TypeError):
        arrays.pack([[1, 2]])  # type: ignore[list-item]
