"""``otel-llm report --html FILE``: one self-contained page (inline CSS and SVG, no scripts, no
network) with the charts and tables of a time window."""

from __future__ import annotations

import html
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from otel_llm.analytics import charts, queries, render, savings, stats
from otel_llm.analytics.stats import run_query
from otel_llm.analytics.window import Window
from otel_llm.storage.base import Store

TOP_MODELS = 6  # the rest of the cost chart is one "other" band, so colours stay tellable apart
TOP_RANKED = 10

# Chart ids: the tests look each one up in the rendered DOM.
CHART_IDS = (
    "chart-cost-by-model",
    "chart-tokens-by-type",
    "chart-top-customers",
    "chart-top-agents",
    "chart-latency",
    "chart-error-rate",
    "chart-cache-savings",
)


@dataclass(frozen=True)
class Section:
    chart_id: str
    caption: str
    svg: str


def bucket_seconds(window: Window) -> int:
    """About 10-100 bars whatever the window: from 10-second buckets (a demo run) to weekly."""
    if window.seconds <= 600:
        return 10
    if window.seconds <= 2 * 3_600:
        return 60
    if window.seconds <= 2 * 86_400:
        return 3_600
    if window.seconds <= 92 * 86_400:
        return 86_400
    return 7 * 86_400


def build(store: Store, window: Window, progress: Callable[[str], None] = lambda _: None) -> str:
    steps = 6
    progress(f"[1/{steps}] totals and groups")
    overall = stats.compute_many(store, window, ("model", "customer", "agent", "provider"))
    bucket_s = bucket_seconds(window)
    params = {**window.parameters, "bucket_s": bucket_s}
    progress(f"[2/{steps}] cost and tokens over time")
    series = run_query(store, queries.TIMESERIES_BY_MODEL, params)
    progress(f"[3/{steps}] latency percentiles over time")
    latency = run_query(store, queries.LATENCY_TIMESERIES, params)
    progress(f"[4/{steps}] cache savings at list prices")
    saved = savings.compute(store, window)
    progress(f"[5/{steps}] errors")
    errors = run_query(store, queries.ERRORS, window.parameters)
    progress(f"[6/{steps}] drawing charts")
    sections = _sections(window, overall, series, latency, saved, bucket_s)
    return _page(window, overall, sections, saved, errors)


def all_buckets(window: Window, bucket_s: int) -> list[datetime]:
    """Every bucket of the window, aligned as toStartOfInterval aligns them (to the epoch), so
    quiet hours show as zero bars and gaps in lines instead of being skipped."""
    first = int(window.since.timestamp()) // bucket_s * bucket_s
    last = int(window.until.timestamp())
    return [datetime.fromtimestamp(t, timezone.utc) for t in range(first, last, bucket_s)]


def _utc(when: datetime) -> datetime:
    # clickhouse-connect may return naive datetimes (UTC); chDB returns aware ones.
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)


def _sections(window, overall, series, latency, saved, bucket_s) -> list[Section]:
    x = all_buckets(window, bucket_s)
    index = {bucket: i for i, bucket in enumerate(x)}

    # Cost per bucket, one band per top model (by cost over the window) and one for the rest.
    top = [g["key"] for g in overall["model"].groups[:TOP_MODELS] if g["cost_usd"]]
    cost: dict[str, list[float]] = defaultdict(lambda: [0.0] * len(x))
    tokens: dict[str, list[float]] = defaultdict(lambda: [0.0] * len(x))
    calls, errors = [0] * len(x), [0] * len(x)
    for row in series:
        i = index[_utc(row["bucket"])]
        band = row["model"] if row["model"] in top else "other"
        cost[band][i] += float(row["cost"] or 0)
        cached, written = row["cached_input"] or 0, row["cache_write"] or 0
        reasoning = row["reasoning"] or 0
        tokens["input (uncached)"][i] += max((row["input"] or 0) - cached - written, 0)
        tokens["cache read"][i] += cached
        tokens["cache write"][i] += written
        tokens["output (excl. reasoning)"][i] += max((row["output"] or 0) - reasoning, 0)
        tokens["reasoning"][i] += reasoning
        calls[i] += row["calls"]
        errors[i] += row["errors"]
    cost_bands = {name: cost[name] for name in [*top, "other"] if any(cost.get(name, ()))}

    by_bucket = {_utc(row["bucket"]): row for row in latency}

    def percentile(name: str, i: int) -> list[float | None]:
        # None/NaN: no value in that bucket (no calls, or no streams for TTFT): a gap in the line.
        values = [(by_bucket[b][name] or [None, None])[i] if b in by_bucket else None for b in x]
        return [None if v is None or v != v else v for v in values]

    customers = overall["customer"].groups[:TOP_RANKED]
    agents = overall["agent"].groups[:TOP_RANKED]
    by_saving = sorted(saved.by_model.items(), key=lambda kv: kv[1], reverse=True)[:TOP_RANKED]
    return [
        Section("chart-cost-by-model", "Cost over time, stacked by model (USD)",
                charts.stacked_bars("chart-cost-by-model", "Cost by model", "USD", x, cost_bands, bucket_s)),
        Section("chart-tokens-by-type", "Tokens by type over time",
                charts.stacked_bars("chart-tokens-by-type", "Tokens by type", "tokens", x, dict(tokens), bucket_s)),
        Section("chart-top-customers", f"Top {TOP_RANKED} customers by cost",
                charts.ranking("chart-top-customers", "Top customers", "USD",
                               [g["key"] for g in customers], [float(g["cost_usd"] or 0) for g in customers])),
        Section("chart-top-agents", f"Top {TOP_RANKED} agents by cost",
                charts.ranking("chart-top-agents", "Top agents", "USD",
                               [g["key"] for g in agents], [float(g["cost_usd"] or 0) for g in agents])),
        Section("chart-latency", "Latency and time to first token, p50 / p95 (ms)",
                charts.lines("chart-latency", "Latency percentiles", "ms", x, {
                    "latency p50": percentile("latency", 0),
                    "latency p95": percentile("latency", 1),
                    "TTFT p50": percentile("ttft", 0),
                    "TTFT p95": percentile("ttft", 1),
                }, bucket_s)),
        Section("chart-error-rate", "Error rate (% of calls)",
                charts.lines("chart-error-rate", "Error rate", "%", x,
                             {"errors": [100 * e / c if c else None for e, c in zip(errors, calls)]}, bucket_s)),
        Section("chart-cache-savings", "Saved by cache reads at list prices (USD)",
                charts.ranking("chart-cache-savings", "Cache savings by model", "USD",
                               [model for model, _ in by_saving], [float(v) for _, v in by_saving])),
    ]


_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 1200px; color: #222; padding: 0 1rem; }
h1 { margin-bottom: 0.2rem; } .muted { color: #666; }
.cards { display: flex; gap: 1rem; flex-wrap: wrap; margin: 1.2rem 0; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 0.6rem 1rem; min-width: 9rem; }
.card b { display: block; font-size: 1.4rem; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(540px, 1fr)); gap: 1.5rem; }
figure { margin: 0; } figure svg { width: 100%; height: auto; }
figcaption { color: #666; font-size: 0.9rem; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-variant-numeric: tabular-nums; }
th, td { padding: 0.25rem 0.6rem; border-bottom: 1px solid #eee; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
tr.total td { font-weight: 600; border-top: 2px solid #bbb; }
"""


def _esc(value: Any) -> str:
    return html.escape(str(value))


def _stats_table(result: stats.Stats) -> str:
    head = "".join(f"<th>{_esc(title)}</th>" for _, title, _ in render.COLUMNS)
    rows = []
    for row in [*result.groups, result.total]:
        css = ' class="total"' if row is result.total else ""
        cells = "".join(f"<td>{_esc(fmt(row[name]))}</td>" for name, _, fmt in render.COLUMNS)
        rows.append(f"<tr{css}><td>{_esc(row['key'])}</td>{cells}</tr>")
    return (
        f'<div class="scroll"><table id="table-by-{result.by}"><thead><tr><th>{_esc(result.by)}</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _errors_table(errors: list[dict[str, Any]]) -> str:
    if not errors:
        return '<p class="muted">No failed calls in this window.</p>'
    rows = []
    for error in errors:
        cells = [
            error["provider"],
            error["error_type"] or "(unknown)",
            f"{error['calls']:,}",
            f"{error['last_seen']:%Y-%m-%d %H:%M}",
        ]
        message = _esc(error["last_message"][:200])
        rows.append(
            "<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in cells)
            + f'<td style="text-align:left">{message}</td></tr>'
        )
    return (
        '<table id="table-errors"><thead><tr><th>provider</th><th>error type</th><th>calls</th>'
        f"<th>last seen (UTC)</th><th>last message</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _page(window: Window, overall, sections: list[Section], saved, errors) -> str:
    total = overall["model"].total
    cards = [
        ("calls", render.count(total["calls"])),
        ("cost", render.usd(total["cost_usd"])),
        ("error rate", render.percent(total["error_rate"])),
        ("cache hit", render.percent(total["cache_hit_ratio"])),
        ("saved by cache", render.usd(saved.total)),
        ("p95 latency", f"{render.ms(total['latency_p95_ms'])} ms"),
    ]
    unpriced = (
        f" Models without a price are left out: {_esc(', '.join(sorted(saved.unpriced_models)))}."
        if saved.unpriced_models else ""
    )
    figures = "".join(
        f'<figure id="{s.chart_id}">{s.svg}<figcaption>{_esc(s.caption)}</figcaption></figure>'
        for s in sections
    )
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>otel-llm report — {_esc(window.describe())}</title>
<style>{_CSS}</style></head>
<body>
<h1>LLM usage and cost</h1>
<p class="muted">{_esc(window.describe())} · generated {generated} by otel-llm</p>
<div class="cards">{"".join(f"<div class='card'>{_esc(k)}<b>{_esc(v)}</b></div>" for k, v in cards)}</div>
<div class="charts">{figures}</div>
<p class="muted">Cache savings: cache-read tokens × (input price − cache-read price), at the list
prices in force each day (otel_llm.pricing); long-context calls are priced at the base tier, so
their saving is understated.{unpriced}</p>
<h2>By model</h2>{_stats_table(overall["model"])}
<h2>By customer</h2>{_stats_table(overall["customer"])}
<h2>By agent</h2>{_stats_table(overall["agent"])}
<h2>By provider</h2>{_stats_table(overall["provider"])}
<h2>Errors</h2>{_errors_table(errors)}
</body></html>
"""
