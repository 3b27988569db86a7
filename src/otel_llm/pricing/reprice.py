"""Recompute the cost of stored rows that came in unpriced or were priced by older data.

A model priced next week is not lost to this week's totals: ``otel-llm reprice --since 30d`` (or
:func:`reprice`) reads the rows of the window whose ``pricing_version`` is not the current one or
whose cost is NULL (never those whose provider said what it charged), prices each with
:func:`~otel_llm.pricing.price_call` (at the row's own time, service tier and speed, for its
provider), and writes back those whose cost or version changed.

Writing back is a re-insert done by the server (``INSERT ... SELECT`` joined with the new costs):
payloads never leave the database, and ``llm_traces`` being a ReplacingMergeTree keyed by the row
id, the new copy (newer ``inserted_at``) replaces the old one, as a retried insert would.  Running
it twice changes nothing the second time: rows then carry the current version and their cost.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Callable

from ..attributes import COST_UNPRICED_REASON
from ..storage.base import Store, insert_target
from ..storage.columns import COLUMN_NAMES
from ..storage.schema import quote_identifier
from ..usage import Usage
from .catalog import current
from .cost import price_call, usd_text

BATCH_ROWS = 2_000

_CANDIDATES = """
SELECT id, timestamp, provider, request_model, response_model, prompt_tokens, completion_tokens,
       cached_input_tokens, cache_write_tokens, reasoning_tokens, usage_details, service_tier,
       toString(cost_usd), pricing_version, span_attributes['anthropic.usage.speed']
FROM {db:Identifier}.llm_traces FINAL
WHERE timestamp >= {since:DateTime64(6, 'UTC')} AND timestamp < {until:DateTime64(6, 'UTC')}
  AND (cost_usd IS NULL OR pricing_version != {version:String})
  AND NOT startsWith(pricing_version, 'charged by ')
  AND (prompt_tokens IS NOT NULL OR completion_tokens IS NOT NULL)
  AND (timestamp, id) > ({after_time:DateTime64(6, 'UTC')}, {after_id:UUID})
ORDER BY timestamp, id
LIMIT {limit:UInt32}
"""

# Column -> its value in the re-inserted copy; the others are copied as they are.
_REPLACED = {
    "cost_usd": "n.cost",
    "cost_details": "n.details",
    "pricing_version": "n.version",
    "span_attributes": (
        f"if(n.cost IS NULL, mapUpdate(t.span_attributes, map('{COST_UNPRICED_REASON}', n.reason)), "
        f"mapFilter((k, v) -> k != '{COST_UNPRICED_REASON}', t.span_attributes))"
    ),
}
_REINSERT = """
INSERT INTO {target}
SELECT {select}
FROM {db}.llm_traces AS t FINAL
INNER JOIN (
    SELECT toUUID(u.1) AS id, toDecimal64OrNull(u.2, 9) AS cost,
           mapApply((k, v) -> (k, toDecimal64(v, 9)), u.3) AS details, u.4 AS version, u.5 AS reason
    FROM (SELECT arrayJoin(JSONExtract({{updates:String}}, 'Array(Tuple(String, String, Map(String, String), String, String))')) AS u)
) AS n ON t.id = n.id
WHERE t.timestamp >= {{first:DateTime64(6, 'UTC')}} AND t.timestamp <= {{last:DateTime64(6, 'UTC')}}
"""


@dataclass
class RepriceResult:
    scanned: int = 0  # rows unpriced or priced by other data, in the window
    updated: int = 0  # rows whose cost or pricing version changed
    priced: int = 0  # of those, rows that have a cost now
    pricing_version: str = ""


def reprice(
    store: Store,
    since: datetime,
    until: datetime | None = None,
    progress: Callable[[RepriceResult], None] | None = None,
) -> RepriceResult:
    """Reprice the rows of ``store`` from ``since`` to ``until`` (now); ``progress`` is called
    after each batch of up to :data:`BATCH_ROWS` rows."""
    version = current().version
    result = RepriceResult(pricing_version=version)
    until = until or datetime.now(timezone.utc)
    after_time, after_id = _text(datetime(1970, 1, 1, tzinfo=timezone.utc)), "00000000-0000-0000-0000-000000000000"
    db = quote_identifier(store.database, "database")
    reinsert = _REINSERT.format(target=insert_target(store.database), db=db, select=_select_list())
    while True:
        _, rows = store.query(_CANDIDATES, {
            "db": store.database, "since": _text(since), "until": _text(until), "version": version,
            "after_time": after_time, "after_id": after_id, "limit": BATCH_ROWS,
        })
        if not rows:
            return result
        updates = [update for row in rows if (update := _repriced(row, version)) is not None]
        result.scanned += len(rows)
        if updates:
            store.command(reinsert, {
                "updates": json.dumps([u[0] for u in updates]),
                "first": _text(rows[0][1]), "last": _text(rows[-1][1]),
            })
            result.updated += len(updates)
            result.priced += sum(1 for u in updates if u[1])
        after_time, after_id = _text(rows[-1][1]), str(rows[-1][0])
        if progress is not None:
            progress(result)


def _repriced(row: tuple[Any, ...], version: str) -> tuple[list[Any], bool] | None:
    """(the row's new values for the re-insert, whether it is priced), or None when unchanged."""
    (row_id, when, provider, request_model, response_model, prompt, completion, cache_read, cache_write,
     reasoning, details, tier, old_cost, old_version, speed) = row
    usage = Usage(prompt, completion, cache_read, cache_write, reasoning, dict(details or {}), speed=speed or None)
    at = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    cost = price_call(provider or None, response_model or None, request_model or None, usage, at, tier or None)
    new_cost = cost.usd_text() or ""
    if old_version == cost.pricing_version and (Decimal(old_cost) if old_cost else None) == cost.usd:
        return None
    details = {name: usd_text(n) for name, n in cost.components.items()}
    return [str(row_id), new_cost, details, cost.pricing_version, cost.unpriced_reason or ""], cost.total is not None


def _select_list() -> str:
    return ", ".join(_REPLACED.get(name, f"t.{name}") for name in COLUMN_NAMES)


def _text(when: datetime) -> str:
    when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
