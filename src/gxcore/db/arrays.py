"""Array parameters sent as one string each and split by the server: the batch writers' fast path.

asyncpg encodes a list parameter element by element and checks each element's type on the way
through Python-level `isinstance` calls against abstract base classes: about 0.33 µs of the
client's CPU per element, which made up a quarter of the projector's CPU at batch sizes. One
string per column, joined here and split by `string_to_array` on the server, costs the client
0.4-0.6 times that, str() of each value included, and the server no more (`bench/arrays.py`).

All array columns of one statement share a separator and a NULL marker: two characters that
none of its values hold, chosen when the statement is packed, so any text round-trips (NULLs,
empty strings, control characters included). Each packed column starts with the separator and
the server drops the first element, so a lone empty string is not read as an empty array.
Values are text or None; callers pass numbers and timestamps as their text forms or as lists.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

#: Tried first: control characters that text from users and JSON practically never hold.
_PAIRS = (("\x1f", "\x1e"), ("\x1d", "\x1c"), ("\x1b", "\x1a"))

Column = Sequence[str | None]


def split_sql(value: str, sep: str, nul: str, sql_type: str = "text") -> str:
    """SQL reading a packed column: `value`, `sep` and `nul` are parameter references."""
    array = (
        f"(string_to_array(CAST({value} AS text), CAST({sep} AS text), CAST({nul} AS text)))[2:]"
    )
    return array if sql_type == "text" else f"CAST({array} AS {sql_type}[])"


def unpack(name: str, sql_type: str = "text") -> str:
    """SQL reading the column that `packed` sent as the named parameter `name`."""
    return split_sql(f":{name}", ":sep", ":nul", sql_type)


def packed(**columns: Column) -> dict[str, str]:
    """Named parameters for `unpack`: every column as one string, with `sep` and `nul`."""
    sep, nul, strings = pack(list(columns.values()))
    return {"sep": sep, "nul": nul, **dict(zip(columns, strings, strict=True))}


def as_text(value: object) -> str | None:
    """A number's (or any value's) text form for a packed column; None stays NULL."""
    return None if value is None else str(value)


def pack(columns: Sequence[Column]) -> tuple[str, str, list[str]]:
    """(separator, NULL marker, each column packed) for the columns of one statement."""
    for sep, nul in _candidates(columns):
        strings = [_join(column, sep, nul) for column in columns]
        if None not in strings:
            return sep, nul, strings  # type: ignore[return-value]
    raise AssertionError("unreachable: the last candidates come from characters no value holds")


def _join(column: Column, sep: str, nul: str) -> str | None:
    """The column packed, or None when a value holds `sep` or is `nul` (checked at C speed)."""
    if not column:
        return ""  # the server reads an empty string as an empty array
    if nul in column:
        return None
    values = [nul if v is None else v for v in column] if None in column else column
    joined = sep + sep.join(values)  # type: ignore[arg-type]
    return joined if joined.count(sep) == len(values) else None


def _candidates(columns: Sequence[Column]) -> Iterator[tuple[str, str]]:
    yield from _PAIRS
    used = set().union(*(set(v) for column in columns for v in column if v is not None))
    free = (chr(c) for c in range(1, 0x110000) if chr(c) not in used and not 0xD800 <= c <= 0xDFFF)
    yield next(free), next(free)
