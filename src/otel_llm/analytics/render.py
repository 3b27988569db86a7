"""``stats`` output: an aligned terminal table for people, JSON and CSV for scripts."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from typing import Any, Callable

from otel_llm.analytics.stats import FIELDS, Stats

Format = Callable[[Any], str]


def count(value: Any) -> str:
    return "-" if value is None else f"{value:,}"


def percent(value: Any) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def ms(value: Any) -> str:
    return "-" if value is None else f"{value:,.0f}"


def usd(value: Any) -> str:
    # Four decimals: single calls often cost fractions of a cent.
    return "-" if value is None else f"${value:,.4f}"


# (field, header, formatter) for the terminal table; every field of FIELDS but the unpriced count,
# which becomes a footnote.
COLUMNS: list[tuple[str, str, Format]] = [
    ("calls", "CALLS", count),
    ("error_rate", "ERROR %", percent),
    ("input_tokens", "INPUT", count),
    ("cached_input_tokens", "CACHED", count),
    ("output_tokens", "OUTPUT", count),
    ("reasoning_tokens", "REASONING", count),
    ("cost_usd", "COST", usd),
    ("latency_p50_ms", "P50 MS", ms),
    ("latency_p95_ms", "P95 MS", ms),
    ("ttft_p50_ms", "TTFT P50", ms),
    ("ttft_p95_ms", "TTFT P95", ms),
    ("cache_hit_ratio", "CACHE HIT", percent),
]


def table(stats: Stats) -> str:
    header = [stats.by.upper(), *(title for _, title, _ in COLUMNS)]
    body = [
        [str(row["key"]), *(fmt(row[field]) for field, _, fmt in COLUMNS)]
        for row in [*stats.groups, stats.total]
    ]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (cell.rjust(width) for cell, width in zip(cells[1:], widths[1:]))
        return "  ".join([first, *rest]).rstrip()

    rule = "  ".join("-" * width for width in widths)
    lines = [
        f"LLM calls {stats.window.describe()}, by {stats.by}",
        "",
        line(header),
        rule,
        *(line(cells) for cells in body[:-1]),
        rule,
        line(body[-1]),
    ]
    unpriced = stats.total["unpriced_calls"]
    if unpriced:
        lines += [
            "",
            f"{unpriced:,} call(s) have no cost (errors, or models without a price) and add "
            "nothing to COST; add prices via OTEL_LLM_PRICES_FILE.",
        ]
    return "\n".join(lines) + "\n"


def _plain(row: dict[str, Any], by: str) -> dict[str, Any]:
    out = {by: row["key"]}
    for field in FIELDS[1:]:
        value = row[field]
        out[field] = float(value) if isinstance(value, Decimal) else value
    return out


def as_json(stats: Stats) -> str:
    document = {
        "since": stats.window.since.isoformat(),
        "until": stats.window.until.isoformat(),
        "by": stats.by,
        "groups": [_plain(row, stats.by) for row in stats.groups],
        "total": _plain(stats.total, stats.by),
    }
    return json.dumps(document, indent=2) + "\n"


def as_csv(stats: Stats) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([stats.by, *FIELDS[1:]])
    for row in [*stats.groups, stats.total]:
        plain = _plain(row, stats.by)
        writer.writerow(["" if value is None else value for value in plain.values()])
    return buffer.getvalue()


RENDERERS = {"table": table, "json": as_json, "csv": as_csv}
