"""What the writer queues between ``submit`` and the sink: encoded rows and their count."""

from __future__ import annotations

from collections.abc import Iterator, Sequence


class Chunk:
    """Rows encoded by a sink (pickled for the embedded store's spool, JSON for a server): bytes,
    which the garbage collector never walks, however many rows wait."""

    __slots__ = ("data", "num_rows")

    def __init__(self, data: bytes, num_rows: int):
        self.data = data
        self.num_rows = num_rows


def slices(rows: Sequence[tuple | dict], size: int) -> Iterator[Sequence[tuple | dict]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def joined(chunks: list[Chunk]) -> bytes:
    """One payload of ``chunks``, which it empties."""
    payload = b"".join(chunk.data for chunk in chunks)
    chunks.clear()
    return payload
