"""What a value becomes in its column, in pure Python: the coercion rules of ``llm_traces``.

Kept apart from ``arrow`` (which builds Arrow arrays) so that processes that only build or
spool rows, such as an app's workers, never import pyarrow or numpy (about 40 MiB of private
memory a process). ``arrow`` applies these rules to a column only when pyarrow refuses it. The
rules are made from the column types parsed once (``types``).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from otel_llm.storage.columns import COLUMN_NAMES, COLUMN_TYPES, Row
from otel_llm.storage.types import ZERO_UUID, ColumnType

# Surrogate code points: a Python str may hold them (json.loads('"\\ud800"'), surrogateescape-
# decoded names), UTF-8 cannot.
_SURROGATE = re.compile("[\ud800-\udfff]")


def text(value: Any) -> str:
    if type(value) is not str:
        if value is None:
            return ""
        value = str(value)
    return _SURROGATE.sub("\ufffd", value) if _SURROGATE.search(value) else value


# Counts outside UInt64 (or a status outside UInt16) would fail the column's conversion: NULL.
MAX_COUNT = 2**64 - 1
MAX_STATUS = 2**16 - 1


def count(value: Any, maximum: int = MAX_COUNT) -> int | None:
    """A non-negative integer up to ``maximum``: ints, integral floats and digit strings."""
    if type(value) is not int:  # a plain int (nearly always) takes one check
        if value is None:
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        elif isinstance(value, str) and value.isdigit():
            value = int(value)
        elif not isinstance(value, int) or isinstance(value, bool):
            return None
    return value if 0 <= value <= maximum else None


def _status(value: Any) -> int | None:
    return count(value, MAX_STATUS)


_USD_SCALE = Decimal("1e-9")  # Decimal(18, 9)
_USD_LIMIT = Decimal("1e9")  # Decimal(18, 9) holds nine integer digits


def usd(value: Any) -> Decimal | None:
    """A Decimal(18, 9): numbers and numeric text, rounded to nine places; else None."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = Decimal(value if isinstance(value, (str, Decimal, int)) else str(value))
        if not number.is_finite():
            return None
        # Checked after rounding: 999999999.9999999999 rounds up to ten integer digits.
        number = number.quantize(_USD_SCALE)
    except (InvalidOperation, ValueError, TypeError):  # not a number
        return None
    return number if abs(number) < _USD_LIMIT else None


def _float(value: Any) -> float | None:
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _bool(value: Any) -> bool:
    return value.lower() == "true" if type(value) is str else bool(value)


def _timestamp(value: Any) -> Any:
    return 0 if value is None else value




def _uuid(value: Any) -> bytes:
    if isinstance(value, uuid.UUID):
        return value.bytes
    if isinstance(value, bytes) and len(value) == 16:
        return value
    try:
        return uuid.UUID(str(value)).bytes
    except ValueError:
        return ZERO_UUID


def map_from_text(value: str) -> Mapping:
    """A map given as JSON object text, as instrumentors write cost details; anything but an
    object, malformed text included, is empty (a foreign span's odd attribute must not cost its
    row). Values as given: the column's rule converts them."""
    if value.startswith('{"') and value.endswith('"}') and "\\" not in value:
        # A flat object of strings (what our instrumentors write), split without a parser: with
        # no escapes, and 4 quotes per member, every quote is structural, so '","' and '":"' can
        # only separate.
        members = value[2:-2].split('","')
        if value.count('"') == 4 * len(members):
            try:
                return dict(member.split('":"') for member in members)
            except ValueError:  # a member that is not one key and one value
                pass
    try:
        parsed = json.loads(value) if value else None
    except (ValueError, RecursionError):
        return {}
    return {str(k): v for k, v in parsed.items()} if isinstance(parsed, dict) else {}


def rule(typ: ColumnType) -> Callable[[Any], Any]:
    """The value-by-value coercion of a column type (its NULL-free default for ``None``)."""
    if typ.base == "Array":
        item = rule(typ.item)
        return lambda value: () if not value else (text(value),) if isinstance(value, str) else tuple(map(item, value))
    if typ.base == "Map":
        # Entries whose value cannot be stored are left out, not stored as the default.
        key, item = rule(typ.key), _SCALAR_RULES[typ.item.base]

        def entries_rule(value: Any) -> dict:
            if isinstance(value, str):
                value = map_from_text(value)
            if not isinstance(value, Mapping):
                return {}
            return {key(k): v for k, v in zip(value, map(item, value.values())) if v is not None}

        return entries_rule
    scalar = _SCALAR_RULES[typ.base]
    if typ.nullable or scalar is _bool or scalar is text:
        return scalar
    default = {"UInt64": 0, "UInt16": 0, "Float64": 0.0}.get(typ.base)
    return lambda value: default if (coerced := scalar(value)) is None else coerced


_SCALAR_RULES: dict[str, Callable[[Any], Any]] = {
    "String": text,
    "UInt64": count,
    "UInt16": _status,
    "Decimal(18, 9)": usd,
    "Float64": _float,
    "Bool": _bool,
    "DateTime64(6, 'UTC')": _timestamp,
    "UUID": _uuid,
}
_DEFAULTS = tuple(typ.default for typ in COLUMN_TYPES)
RULES = tuple(map(rule, COLUMN_TYPES))
_new_row = tuple.__new__


def coerce_row(row: Sequence[Any]) -> Row:
    """A row's values as the batch stores them (what the fast path gives too)."""
    return _new_row(Row, [coerce(value) for coerce, value in zip(RULES, row)])


def as_row(row: Mapping[str, Any]) -> Row:
    """A dict row (missing keys: the column's default) as a ``Row``."""
    return _new_row(Row, map(row.get, COLUMN_NAMES, _DEFAULTS))
