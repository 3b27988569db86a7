"""``otel-llm trace ID``: every column of one call (by row id) or of every call in a trace."""

from __future__ import annotations

import json
import re
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from otel_llm.analytics import queries
from otel_llm.analytics.stats import run_query
from otel_llm.storage.base import Store

PAYLOAD_COLUMNS = ("llm_config_json", "request_json", "response_json")
_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")


class NotFound(LookupError):
    """No row has this id and no trace this trace id; the message says what to try."""


def find(store: Store, ident: str) -> list[dict[str, Any]]:
    text = ident.strip().lower()
    if _is_uuid(text):
        rows = run_query(store, queries.ROW_BY_ID, {"id": text})
    elif _TRACE_ID.match(text):
        rows = run_query(store, queries.ROWS_BY_TRACE, {"trace_id": text})
    else:
        raise NotFound(
            f"{ident!r} is neither a row id (a UUID such as 0b6f0c52-...-4e1d) nor a trace id "
            "(32 hex digits); copy one from `otel-llm stats`, the report, or your tracing backend"
        )
    if not rows:
        raise NotFound(
            f"nothing recorded under {ident!r} — check --url points at the store your app writes "
            "to; recent calls may still be in the exporter's batch or spool (flush the app)"
        )
    return rows


def _is_uuid(text: str) -> bool:
    # Only the dashed form: 32 bare hex digits are what OpenTelemetry trace ids look like.
    if len(text) != 36:
        return False
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")  # str() writes small costs as 1.00E-7
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _pretty_payload(text: str) -> str:
    if not text:
        return "(empty)"
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text  # not JSON (e.g. a truncated payload): show it as it is


def as_text(rows: list[dict[str, Any]]) -> str:
    out: list[str] = []
    for number, row in enumerate(rows, 1):
        out.append(f"=== call {number} of {len(rows)}: {row['span_name'] or row['id']} ===")
        scalars = {name: value for name, value in row.items() if name not in PAYLOAD_COLUMNS}
        width = max(map(len, scalars))
        for name, value in scalars.items():
            plain = _plain(value)
            shown = json.dumps(plain, ensure_ascii=False) if isinstance(plain, (dict, list)) else plain
            out.append(f"{name.ljust(width)}  {'NULL' if shown is None else shown}")
        for name in PAYLOAD_COLUMNS:
            out += ["", f"--- {name} ---", _pretty_payload(row.get(name, ""))]
        out.append("")
    return "\n".join(out)


def as_json(rows: list[dict[str, Any]]) -> str:
    """Payload columns parsed (when they are JSON), so a script gets objects, not strings."""
    plain = []
    for row in rows:
        item = {name: _plain(value) for name, value in row.items()}
        for name in PAYLOAD_COLUMNS:
            try:
                item[name] = json.loads(row[name]) if row.get(name) else None
            except ValueError:
                pass
        plain.append(item)
    return json.dumps(plain, indent=2, ensure_ascii=False) + "\n"
