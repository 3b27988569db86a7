"""ClickHouse column types, parsed once into a spec that the value rules (``values``), the Arrow
conversion (``arrow``) and the JSON encoding (``jsonrows``) read, instead of each taking type
strings apart. Pure Python: app processes import it without pyarrow.

Only the types ``llm_traces`` uses are known; any other is a ``ValueError`` at import time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SCALARS = frozenset({"String", "Bool", "UInt16", "UInt64", "Float64", "Decimal(18, 9)", "DateTime64(6, 'UTC')", "UUID"})


@dataclass(frozen=True)
class ColumnType:
    spelling: str  # as ClickHouse writes it, e.g. "Nullable(UInt64)"
    base: str  # one of SCALARS, or "Array" / "Map"
    nullable: bool = False
    item: ColumnType | None = None  # an Array's items, a Map's values
    key: ColumnType | None = None  # a Map's keys

    @property
    def default(self) -> Any:
        """What a missing value is stored as (ClickHouse's default for the type)."""
        if self.nullable:
            return None
        return _DEFAULTS.get(self.base, 0)


ZERO_UUID = bytes(16)  # ClickHouse's default UUID
_DEFAULTS: dict[str, Any] = {"String": "", "Bool": False, "UUID": ZERO_UUID, "Array": (), "Map": {}}


def parse(spelling: str) -> ColumnType:
    """The spec of a ClickHouse type; ``LowCardinality`` changes storage only, so it is dropped."""
    inner = _unwrap(spelling, "Nullable")
    if inner is not None:
        return _replace_spelling(parse(inner), spelling, nullable=True)
    inner = _unwrap(spelling, "LowCardinality")
    if inner is not None:
        return _replace_spelling(parse(inner), spelling)
    inner = _unwrap(spelling, "Array")
    if inner is not None:
        return ColumnType(spelling, "Array", item=parse(inner))
    inner = _unwrap(spelling, "Map")
    if inner is not None:
        key, value = inner.split(", ", 1)
        return ColumnType(spelling, "Map", key=parse(key), item=parse(value))
    if spelling not in SCALARS:
        raise ValueError(f"unknown column type {spelling!r}")
    return ColumnType(spelling, spelling)


def _unwrap(spelling: str, wrapper: str) -> str | None:
    prefix = wrapper + "("
    return spelling[len(prefix) : -1] if spelling.startswith(prefix) else None


def _replace_spelling(typ: ColumnType, spelling: str, nullable: bool = False) -> ColumnType:
    return ColumnType(spelling, typ.base, nullable or typ.nullable, typ.item, typ.key)
